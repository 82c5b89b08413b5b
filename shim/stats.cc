// Statistics' Kea side: the counts live in Rust (hook/src/stats.rs, an atomic add where a thing
// happens); here they are copied into Kea's statistics manager on Kea's own thread, by a timer
// on the IO service Kea hands hook libraries at dhcp*_srv_configured: StatsMgr takes no lock
// while Kea runs single-threaded, so it is never written from the library's threads. Only
// changed values are set (each set is a sample in Kea's history). Also `runscript-status`.
#include <config.h>

#include "shim/stats.h"
#include "shim/entry.h"
#include "shim/glue.h"
#include "generated/messages.h"

#include <asiolink/interval_timer.h>
#include <asiolink/io_service.h>
#include <cc/data.h>
#include <stats/stats_mgr.h>

#include <memory>
#include <set>
#include <string>
#include <type_traits>

namespace kea_runscript {
namespace {

using isc::asiolink::IntervalTimer;
using isc::asiolink::IOServicePtr;

std::unique_ptr<IntervalTimer> timer;
/// Every name published since load: removed at unload.
std::set<std::string> published;

/// Kea 2.2's timer takes the IO service by reference, later releases its shared pointer.
std::unique_ptr<IntervalTimer> make_timer(const IOServicePtr& io) {
    if constexpr (std::is_constructible_v<IntervalTimer, const IOServicePtr&>) {
        return std::make_unique<IntervalTimer>(io);
    } else {
        return std::make_unique<IntervalTimer>(*io);
    }
}

bool is_ours(const std::string& name) {
    return name.rfind("runscript[", 0) == 0 || name.rfind("runscript.", 0) == 0;
}

/// Copy what changed (everything: `all`) into StatsMgr. Kea's thread only.
void publish(bool all) noexcept {
    try {
        isc::stats::StatsMgr& mgr = isc::stats::StatsMgr::instance();
        for (const StatValue& value : statistics_changed(all)) {
            std::string name(value.name);
            mgr.setValue(name, static_cast<int64_t>(value.value));
            published.insert(std::move(name));
        }
    } catch (const std::exception& e) {
        log(msg::CALLOUT_FAILED, {"statistics", e.what()});
    } catch (...) {
    }
}

void remove_all() noexcept {
    try {
        isc::stats::StatsMgr& mgr = isc::stats::StatsMgr::instance();
        isc::data::ConstElementPtr all = mgr.getAll();
        if (all && all->getType() == isc::data::Element::map) {
            for (const auto& entry : all->mapValue()) {
                if (is_ours(entry.first)) {
                    published.insert(entry.first);
                }
            }
        }
        for (const std::string& name : published) {
            mgr.del(name);
        }
    } catch (...) {
    }
    published.clear();
}

int srv_configured(isc::hooks::CalloutHandle& handle) noexcept {
    try {
        IOServicePtr io;
        handle.getArgument("io_context", io);
        if (io && !timer) {
            pin_library();
            timer = make_timer(io);
            timer->setup([] { publish(false); }, statistics_every_ms(), IntervalTimer::REPEATING);
        }
        publish(true);
    } catch (const std::exception& e) {
        log(msg::CALLOUT_FAILED, {"dhcp_srv_configured (statistics)", e.what()});
    } catch (...) {
    }
    return 0;
}

isc::data::ConstElementPtr answer(int result, const std::string& text, isc::data::ConstElementPtr arguments) {
    using isc::data::Element;
    isc::data::ElementPtr map = Element::createMap();
    map->set("result", Element::create(result));
    map->set("text", Element::create(text));
    if (arguments) {
        map->set("arguments", arguments);
    }
    return map;
}

/// `runscript-status`: what each script is doing, its statistics (published first, so that
/// `statistic-get` agrees).
int command_status(isc::hooks::CalloutHandle& handle) noexcept {
    try {
        isc::data::ConstElementPtr command;
        handle.getArgument("command", command);
        isc::data::ConstElementPtr arguments = command ? command->get("arguments") : isc::data::ConstElementPtr();
        publish(false);
        CommandAnswer status = command_status_answer(arguments ? arguments->str() : "");
        isc::data::ConstElementPtr args =
            status.result == 0 ? isc::data::Element::fromJSON(std::string(status.arguments)) : isc::data::ConstElementPtr();
        handle.setArgument("response", answer(status.result, std::string(status.text), args));
    } catch (const std::exception& e) {
        handle.setArgument("response", answer(1, std::string("runscript-status failed: ") + e.what(), {}));
    } catch (...) {
    }
    return 0;
}

} // namespace

void stats_load(isc::hooks::LibraryHandle& handle, int server_family) {
    timer.reset();
    remove_all();
    handle.registerCommandCallout("runscript-status", command_status);
    handle.registerCallout(server_family == 4 ? "dhcp4_srv_configured" : "dhcp6_srv_configured", srv_configured);
}

void stats_unload() noexcept {
    try {
        if (timer) {
            timer->cancel();
        }
    } catch (...) {
    }
    timer.reset();
    remove_all();
}

} // namespace kea_runscript
