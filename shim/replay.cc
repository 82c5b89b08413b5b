// Replays' Kea side (the Rust side: hook/src/replay.rs). The held leases are read on Kea's own
// thread, a page at a time, through the IO service Kea hands hook libraries at
// dhcp4_srv_configured/dhcp6_srv_configured: the lease manager is never read from the library's
// threads (memfile is not thread-safe when Kea runs single-threaded). Also the control command
// `runscript-replay`.
// Kea 3.0's asiolink headers (through dhcpsrv/cfgmgr.h) need its config.h first.
#include <config.h>

#include "shim/replay.h"
#include "shim/entry.h"
#include "shim/glue.h"
#include "generated/messages.h"

#include <asiolink/io_service.h>
#include <cc/data.h>
#include <dhcpsrv/cfgmgr.h>
#include <dhcpsrv/lease_mgr_factory.h>
#include <dhcp/iface_mgr.h>

#include <chrono>
#include <mutex>
#include <sys/eventfd.h>
#include <unistd.h>

namespace kea_runscript {
namespace {

/// Guards what follows: set on Kea's thread, read by the replay's thread when it posts a page.
std::mutex mutex;
isc::asiolink::IOServicePtr io_service;
int family = 0;
/// The replay being read, and the address its next page starts after (a page holds the leases
/// with greater addresses).
std::uint64_t reading = 0;
isc::asiolink::IOAddress cursor = isc::asiolink::IOAddress::IPV4_ZERO_ADDRESS();
/// Written when a page is posted: an external socket of Kea's IfaceMgr, so that an idle Kea
/// leaves its select() (which it otherwise does once a second) and runs its IO service.
int wake_fd = -1;

void open_wake() {
    if (wake_fd >= 0) {
        return;
    }
    const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) {
        return;
    }
    isc::dhcp::IfaceMgr::instance().addExternalSocket(fd, [](int ready) {
        std::uint64_t count;
        const ssize_t got = ::read(ready, &count, sizeof count);
        static_cast<void>(got);
    });
    wake_fd = fd;
}

void close_wake() {
    if (wake_fd < 0) {
        return;
    }
    try {
        isc::dhcp::IfaceMgr::instance().deleteExternalSocket(wake_fd);
    } catch (...) {
    }
    ::close(wake_fd);
    wake_fd = -1;
}

const ReplayHookEntry* entry_of_family(int fam) {
    for (std::size_t i = 0; i < generated::REPLAY_HOOK_COUNT; ++i) {
        if (generated::REPLAY_HOOKS[i].family == fam) {
            return &generated::REPLAY_HOOKS[i];
        }
    }
    return nullptr;
}

const ReplayHookEntry* entry_of_id(std::uint16_t id) {
    for (std::size_t i = 0; i < generated::REPLAY_HOOK_COUNT; ++i) {
        if (generated::REPLAY_HOOKS[i].id == id) {
            return &generated::REPLAY_HOOKS[i];
        }
    }
    return nullptr;
}

/// A lease a client holds: not expired, not declined or reclaimed.
bool held(const isc::dhcp::Lease& lease) {
    return lease.state_ == isc::dhcp::Lease::STATE_DEFAULT && !lease.expired();
}

template <typename Collection, typename Fill>
std::size_t deliver_page(std::uint64_t generation, std::uint16_t hook, const Collection& page, Fill fill,
                         isc::asiolink::IOAddress& last) {
    for (const auto& lease : page) {
        last = lease->addr_;
        if (held(*lease)) {
            rust::Box<Event> event = new_event(hook);
            fill(*event, ReplayMark{"lease", {}, {}}, lease);
            replay_push(generation, std::move(event));
        }
    }
    return page.size();
}

/// Kea's thread: read replay `generation`'s next page and hand its held leases to Rust.
void read_page(std::uint64_t generation) noexcept {
    try {
        if (!replay_wants_page(generation)) {
            return;
        }
        int fam;
        isc::asiolink::IOAddress from = isc::asiolink::IOAddress::IPV4_ZERO_ADDRESS();
        {
            std::lock_guard<std::mutex> lock(mutex);
            if (reading != generation) {
                return;
            }
            fam = family;
            from = cursor;
        }
        const ReplayHookEntry* entry = entry_of_family(fam);
        if (!entry) {
            return;
        }
        const auto began = std::chrono::steady_clock::now();
        const std::size_t size = replay_page_size();
        const isc::dhcp::LeasePageSize page_size(size);
        isc::asiolink::IOAddress last = from;
        std::size_t got = 0;
        isc::dhcp::LeaseMgr& leases = isc::dhcp::LeaseMgrFactory::instance();
        if (fam == 4) {
            got = deliver_page(generation, entry->id, leases.getLeases4(from, page_size), entry->fill4, last);
        } else {
            got = deliver_page(generation, entry->id, leases.getLeases6(from, page_size), entry->fill6, last);
        }
        {
            std::lock_guard<std::mutex> lock(mutex);
            cursor = last;
        }
        const auto took = std::chrono::steady_clock::now() - began;
        const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(took).count();
        replay_page_read(generation, got == size, "", static_cast<std::uint64_t>(micros));
    } catch (const std::exception& e) {
        replay_page_read(generation, false, e.what(), 0);
    } catch (...) {
        replay_page_read(generation, false, "unknown exception", 0);
    }
}

/// Start a replay of this server's replay hook point (Kea's thread).
ReplayStart start(const char* why) {
    const ReplayHookEntry* entry = entry_of_family(family);
    if (!entry) {
        return ReplayStart{0, 1, "this Kea has no replay hook point", "{}"};
    }
    if (!hook_enabled(entry->id)) {
        return replay_begin(entry->id, why); // refused, saying that no script selected it
    }
    {
        std::lock_guard<std::mutex> lock(mutex);
        if (!io_service) {
            return ReplayStart{0, 1, "Kea has not configured the server yet (no dhcp_srv_configured)", "{}"};
        }
    }
    ReplayStart started = replay_begin(entry->id, why);
    if (started.generation != 0) {
        {
            std::lock_guard<std::mutex> lock(mutex);
            reading = started.generation;
            cursor = family == 4 ? isc::asiolink::IOAddress::IPV4_ZERO_ADDRESS()
                                 : isc::asiolink::IOAddress::IPV6_ZERO_ADDRESS();
        }
        if (!replay_post_page(started.generation)) {
            replay_page_read(started.generation, false, "Kea's IO service is gone", 0);
        }
    }
    return started;
}

/// dhcp4_srv_configured / dhcp6_srv_configured: the lease database is open; replay.
int srv_configured(isc::hooks::CalloutHandle& handle) noexcept {
    try {
        isc::asiolink::IOServicePtr io;
        handle.getArgument("io_context", io);
        {
            std::lock_guard<std::mutex> lock(mutex);
            io_service = io;
            open_wake();
        }
        start("Kea configured the server");
    } catch (const std::exception& e) {
        log(msg::CALLOUT_FAILED, {"dhcp_srv_configured", e.what()});
    } catch (...) {
        log(msg::CALLOUT_FAILED, {"dhcp_srv_configured", "unknown exception"});
    }
    return 0;
}

/// The control command `runscript-replay`: Kea's usual answer, at once (the replay goes on).
int command_replay(isc::hooks::CalloutHandle& handle) noexcept {
    using isc::data::Element;
    try {
        ReplayStart started = start("command runscript-replay");
        isc::data::ElementPtr answer = Element::createMap();
        answer->set("result", Element::create(started.result));
        answer->set("text", Element::create(std::string(started.text)));
        answer->set("arguments", Element::fromJSON(std::string(started.arguments)));
        handle.setArgument("response", isc::data::ConstElementPtr(answer));
    } catch (const std::exception& e) {
        isc::data::ElementPtr answer = Element::createMap();
        answer->set("result", Element::create(1));
        answer->set("text", Element::create(std::string("runscript-replay failed: ") + e.what()));
        handle.setArgument("response", isc::data::ConstElementPtr(answer));
    } catch (...) {
    }
    return 0;
}

} // namespace

isc::dhcp::Subnet4Ptr subnet_of(const isc::dhcp::Lease4Ptr& lease) {
    if (!lease) {
        return {};
    }
    return isc::dhcp::CfgMgr::instance().getCurrentCfg()->getCfgSubnets4()->getSubnet(lease->subnet_id_);
}

isc::dhcp::Subnet6Ptr subnet_of(const isc::dhcp::Lease6Ptr& lease) {
    if (!lease) {
        return {};
    }
    return isc::dhcp::CfgMgr::instance().getCurrentCfg()->getCfgSubnets6()->getSubnet(lease->subnet_id_);
}

void replay_load(isc::hooks::LibraryHandle& handle, int server_family) {
    {
        std::lock_guard<std::mutex> lock(mutex);
        family = server_family;
        io_service.reset();
        reading = 0;
    }
    handle.registerCommandCallout("runscript-replay", command_replay);
    const ReplayHookEntry* entry = entry_of_family(server_family);
    if (entry && hook_enabled(entry->id)) {
        pin_library();
        handle.registerCallout(server_family == 4 ? "dhcp4_srv_configured" : "dhcp6_srv_configured", srv_configured);
    }
}

void replay_unload() noexcept {
    std::lock_guard<std::mutex> lock(mutex);
    io_service.reset();
    reading = 0;
    close_wake();
}

bool replay_post_page(std::uint64_t generation) noexcept {
    try {
        std::lock_guard<std::mutex> lock(mutex);
        if (!io_service || reading != generation) {
            return false;
        }
        io_service->post([generation] { read_page(generation); });
        if (wake_fd >= 0) {
            const std::uint64_t one = 1;
            const ssize_t put = ::write(wake_fd, &one, sizeof one);
            static_cast<void>(put);
        }
        return true;
    } catch (...) {
        return false;
    }
}

rust::Box<Event> replay_mark_event(std::uint16_t hook, rust::Str phase, std::int64_t count, std::int64_t failed,
                                   bool counts) noexcept {
    rust::Box<Event> event = new_event(hook);
    try {
        const ReplayHookEntry* entry = entry_of_id(hook);
        const std::string name(phase);
        ReplayMark mark{name.c_str(), {}, {}};
        if (counts) {
            mark.count = count;
            mark.failed = failed;
        }
        if (entry && entry->fill4) {
            entry->fill4(*event, mark, nullptr);
        } else if (entry && entry->fill6) {
            entry->fill6(*event, mark, nullptr);
        }
    } catch (...) {
    }
    return event;
}

} // namespace kea_runscript
