// Kea entry points' C++ side. Hand-written: the per-hook-point callouts and the log catalogue
// are generated from spec/spec.toml (OUT_DIR/callouts.cc, messages.cc).
#include "shim/entry.h"
#include "shim/glue.h"
#include "generated/messages.h"

#include <config.h>

#include <hooks/server_hooks.h>

#include <dlfcn.h>

namespace kea_runscript {
namespace {

/// The DHCP family of the server that loads us: the one whose every hook point in the table the
/// server has registered (kea-dhcp6 also knows lease4_expire and lease4_recover, but not pkt4_receive).
int server_family() {
    const isc::hooks::ServerHooks& hooks = isc::hooks::ServerHooks::getServerHooks();
    int found = 0;
    for (int family : {4, 6}) {
        bool all = true;
        for (std::size_t i = 0; i < generated::CALLOUT_COUNT; ++i) {
            const CalloutEntry& entry = generated::CALLOUTS[i];
            if (entry.family == family && hooks.findIndex(entry.hook_point) < 0) {
                all = false;
            }
        }
        if (all) {
            if (found) {
                isc_throw(isc::Unexpected, "this server has the hook points of both DHCPv4 and DHCPv6");
            }
            found = family;
        }
    }
    if (!found) {
        isc_throw(isc::Unexpected, "this server is neither kea-dhcp4 nor kea-dhcp6 (its hook points do not match)");
    }
    return found;
}

} // namespace

void pin_library() {
    static bool pinned = false;
    if (pinned) {
        return;
    }
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&pin_library), &info) != 0 && info.dli_fname) {
        pinned = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != nullptr;
    }
}

int kea_hooks_version() noexcept {
    return KEA_HOOKS_VERSION;
}

void log_callout_failure(std::uint16_t hook, const char* what) noexcept {
    const char* name = "?";
    for (std::size_t i = 0; i < generated::CALLOUT_COUNT; ++i) {
        if (generated::CALLOUTS[i].id == hook) {
            name = generated::CALLOUTS[i].hook_point;
        }
    }
    log(msg::CALLOUT_FAILED, {name, what});
}

void log_unreadable(const char* variable, const char* what) noexcept {
    log(msg::VALUE_UNREADABLE, {variable, what});
}

namespace {

// VERSION, not PACKAGE_VERSION: Kea 3.0's config.h (meson) defines PACKAGE_VERSION unquoted (3.0.4).
LibraryInfo library_info(int family) {
    return LibraryInfo{family, VERSION, KEA_HOOKS_VERSION};
}

/// Run the scripts of a library hook point (`load`, `unload`) if any script asked for it.
void run_library_hook(const char* name, int family) noexcept {
    try {
        for (std::size_t i = 0; i < generated::LIBRARY_HOOK_COUNT; ++i) {
            const LibraryHookEntry& entry = generated::LIBRARY_HOOKS[i];
            if (std::string(entry.hook_point) == name && hook_enabled(entry.id)) {
                rust::Box<Event> event = new_event(entry.id);
                entry.fill(*event, library_info(family));
                dispatch(std::move(event));
            }
        }
    } catch (const std::exception& e) {
        log(msg::CALLOUT_FAILED, {name, e.what()});
    } catch (...) {
        log(msg::CALLOUT_FAILED, {name, "unknown exception"});
    }
}

int loaded_family = 0;

} // namespace

void shim_unload() noexcept {
    replay_unload();
    stats_unload();
    if (loaded_family != 0) {
        run_library_hook("unload", loaded_family);
    }
    loaded_family = 0;
    shutdown();
}

int shim_load(isc::hooks::LibraryHandle* handle) noexcept {
    try {
        isc::data::ConstElementPtr params = handle->getParameters();
        const std::string json = params ? params->str() : "{}";
        const int family = server_family();
        rust::String summary = configure(json, family);
        // Only where a script runs: the other hook points cost Kea nothing.
        for (std::size_t i = 0; i < generated::CALLOUT_COUNT; ++i) {
            const CalloutEntry& entry = generated::CALLOUTS[i];
            if (entry.family == family && hook_enabled(entry.id)) {
                handle->registerCallout(entry.hook_point, entry.callout);
            }
        }
        replay_load(*handle, family);
        stats_load(*handle, family);
        log(msg::LOADED, {summary});
        loaded_family = family;
        run_library_hook("load", family);
        return 0;
    } catch (const std::exception& e) {
        log(msg::LOAD_FAILED, {e.what()});
    } catch (...) {
        log(msg::LOAD_FAILED, {"unknown exception"});
    }
    // Kea does not call unload() after a failed load(): release what configure() started.
    shutdown();
    return 1;
}

} // namespace kea_runscript
