// Kea entry points' C++ side and this library's log catalogue. Hand-written: nothing here
// depends on the spec; the per-hook-point callouts are generated from spec/spec.toml.
#include "shim/entry.h"
#include "shim/glue.h"

#include <config.h>

#include <hooks/server_hooks.h>
#include <log/logger.h>
#include <log/macros.h>
#include <log/message_initializer.h>

namespace kea_runscript {
namespace {

extern const isc::log::MessageID KRS_LOADED = "KRS_LOADED";
extern const isc::log::MessageID KRS_LOAD_FAILED = "KRS_LOAD_FAILED";
extern const isc::log::MessageID KRS_UNLOADED = "KRS_UNLOADED";
extern const isc::log::MessageID KRS_CALLOUT_FAILED = "KRS_CALLOUT_FAILED";
extern const isc::log::MessageID KRS_SPAWN_FAILED = "KRS_SPAWN_FAILED";
extern const isc::log::MessageID KRS_SCRIPT_EXIT = "KRS_SCRIPT_EXIT";
extern const isc::log::MessageID KRS_SCRIPT_SIGNALED = "KRS_SCRIPT_SIGNALED";
extern const isc::log::MessageID KRS_STATUS_LOST = "KRS_STATUS_LOST";
extern const isc::log::MessageID KRS_INTERNAL_ERROR = "KRS_INTERNAL_ERROR";
extern const isc::log::MessageID KRS_SCRIPT_TIMEOUT = "KRS_SCRIPT_TIMEOUT";
extern const isc::log::MessageID KRS_SCRIPT_KILLED = "KRS_SCRIPT_KILLED";
extern const isc::log::MessageID KRS_SCRIPT_STDOUT = "KRS_SCRIPT_STDOUT";
extern const isc::log::MessageID KRS_SCRIPT_STDERR = "KRS_SCRIPT_STDERR";
extern const isc::log::MessageID KRS_OUTPUT_SUPPRESSED = "KRS_OUTPUT_SUPPRESSED";
extern const isc::log::MessageID KRS_QUEUE_FULL = "KRS_QUEUE_FULL";
extern const isc::log::MessageID KRS_EXIT_STATUS_ACTION = "KRS_EXIT_STATUS_ACTION";
extern const isc::log::MessageID KRS_UNLOAD_DISCARDED = "KRS_UNLOAD_DISCARDED";
extern const isc::log::MessageID KRS_WORKER_STARTED = "KRS_WORKER_STARTED";
extern const isc::log::MessageID KRS_WORKER_EXITED = "KRS_WORKER_EXITED";
extern const isc::log::MessageID KRS_WORKER_RESTARTED = "KRS_WORKER_RESTARTED";
extern const isc::log::MessageID KRS_WORKER_STOPPED = "KRS_WORKER_STOPPED";
extern const isc::log::MessageID KRS_WORKER_QUEUE_FULL = "KRS_WORKER_QUEUE_FULL";
extern const isc::log::MessageID KRS_WORKER_NO_REPLY = "KRS_WORKER_NO_REPLY";
extern const isc::log::MessageID KRS_WORKER_ACTION = "KRS_WORKER_ACTION";

const char* catalogue[] = {
    "KRS_LOADED", "kea-runscript loaded: %1",
    "KRS_LOAD_FAILED", "kea-runscript refused its configuration: %1",
    "KRS_UNLOADED", "kea-runscript unloaded: %1",
    "KRS_CALLOUT_FAILED", "callout %1 failed, the packet is processed as if the hook were absent: %2",
    "KRS_SPAWN_FAILED", "%1: cannot start the script: %2",
    "KRS_SCRIPT_EXIT", "%1: the script exited with a non-zero status: %2",
    "KRS_SCRIPT_SIGNALED", "%1: the script was killed by a signal: %2",
    "KRS_STATUS_LOST", "%1: the exit status of the script (pid %2) was collected elsewhere in the process",
    "KRS_INTERNAL_ERROR", "internal error: %1 %2",
    "KRS_SCRIPT_TIMEOUT", "%1: the script ran past timeout-ms, SIGTERM sent to its process group (%2)",
    "KRS_SCRIPT_KILLED", "%1: the script outlived SIGTERM, SIGKILL sent to its process group (%2)",
    "KRS_SCRIPT_STDOUT", "%1 stdout: %2",
    "KRS_SCRIPT_STDERR", "%1 stderr: %2",
    "KRS_OUTPUT_SUPPRESSED", "%1: %2 output lines not logged (at most 100 lines per run and 200 lines per second are logged)",
    "KRS_QUEUE_FULL", "%1 background events dropped: max-running scripts were running and max-queued events waiting (%2 since load)",
    "KRS_EXIT_STATUS_ACTION", "%1: %2",
    "KRS_UNLOAD_DISCARDED", "unload: %1 queued background events were not run",
    "KRS_WORKER_STARTED", "worker %1 started: %2",
    "KRS_WORKER_EXITED", "worker %1 ended: %2",
    "KRS_WORKER_RESTARTED", "worker %1 restarted: %2",
    "KRS_WORKER_STOPPED", "worker %1 stopped at unload: %2",
    "KRS_WORKER_QUEUE_FULL", "worker %1: events dropped, it reads its stdin too slowly and max-queued events were waiting: %2",
    "KRS_WORKER_NO_REPLY", "worker %1: events went on (continue) without a valid reply: %2",
    "KRS_WORKER_ACTION", "%1: the worker's reply set Kea's next step: %2",
    NULL,
};
const isc::log::MessageInitializer initializer(catalogue);
isc::log::Logger logger("kea-runscript");

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

/// Debug level of per-run messages (Kea's DBGLVL_TRACE_BASIC is 40).
const int DBG_SCRIPT = 40;

} // namespace

int kea_hooks_version() noexcept {
    return KEA_HOOKS_VERSION;
}

void log(LogMsg msg, rust::Str arg1, rust::Str arg2) noexcept {
    try {
        const std::string a(arg1), b(arg2);
        switch (msg) {
        case LogMsg::Loaded: LOG_INFO(logger, KRS_LOADED).arg(a); break;
        case LogMsg::LoadFailed: LOG_ERROR(logger, KRS_LOAD_FAILED).arg(a); break;
        case LogMsg::Unloaded: LOG_INFO(logger, KRS_UNLOADED).arg(a); break;
        case LogMsg::CalloutFailed: LOG_ERROR(logger, KRS_CALLOUT_FAILED).arg(a).arg(b); break;
        case LogMsg::SpawnFailed: LOG_ERROR(logger, KRS_SPAWN_FAILED).arg(a).arg(b); break;
        case LogMsg::ScriptExit: LOG_DEBUG(logger, DBG_SCRIPT, KRS_SCRIPT_EXIT).arg(a).arg(b); break;
        case LogMsg::ScriptSignaled: LOG_WARN(logger, KRS_SCRIPT_SIGNALED).arg(a).arg(b); break;
        case LogMsg::StatusLost: LOG_WARN(logger, KRS_STATUS_LOST).arg(a).arg(b); break;
        case LogMsg::ScriptTimeout: LOG_WARN(logger, KRS_SCRIPT_TIMEOUT).arg(a).arg(b); break;
        case LogMsg::ScriptKilled: LOG_WARN(logger, KRS_SCRIPT_KILLED).arg(a).arg(b); break;
        case LogMsg::ScriptStdout: LOG_INFO(logger, KRS_SCRIPT_STDOUT).arg(a).arg(b); break;
        case LogMsg::ScriptStderr: LOG_WARN(logger, KRS_SCRIPT_STDERR).arg(a).arg(b); break;
        case LogMsg::OutputSuppressed: LOG_WARN(logger, KRS_OUTPUT_SUPPRESSED).arg(a).arg(b); break;
        case LogMsg::QueueFull: LOG_WARN(logger, KRS_QUEUE_FULL).arg(a).arg(b); break;
        case LogMsg::ExitStatusAction: LOG_DEBUG(logger, DBG_SCRIPT, KRS_EXIT_STATUS_ACTION).arg(a).arg(b); break;
        case LogMsg::UnloadDiscarded: LOG_WARN(logger, KRS_UNLOAD_DISCARDED).arg(a); break;
        case LogMsg::WorkerStarted: LOG_INFO(logger, KRS_WORKER_STARTED).arg(a).arg(b); break;
        case LogMsg::WorkerExited: LOG_WARN(logger, KRS_WORKER_EXITED).arg(a).arg(b); break;
        case LogMsg::WorkerRestarted: LOG_INFO(logger, KRS_WORKER_RESTARTED).arg(a).arg(b); break;
        case LogMsg::WorkerStopped: LOG_INFO(logger, KRS_WORKER_STOPPED).arg(a).arg(b); break;
        case LogMsg::WorkerQueueFull: LOG_WARN(logger, KRS_WORKER_QUEUE_FULL).arg(a).arg(b); break;
        case LogMsg::WorkerNoReply: LOG_WARN(logger, KRS_WORKER_NO_REPLY).arg(a).arg(b); break;
        case LogMsg::WorkerAction: LOG_DEBUG(logger, DBG_SCRIPT, KRS_WORKER_ACTION).arg(a).arg(b); break;
        default: LOG_ERROR(logger, KRS_INTERNAL_ERROR).arg(a).arg(b); break;
        }
    } catch (...) {
        // Logging must never take Kea down; there is nowhere left to report this.
    }
}

void log_callout_failure(std::uint16_t hook, const char* what) noexcept {
    const char* name = "?";
    for (std::size_t i = 0; i < generated::CALLOUT_COUNT; ++i) {
        if (generated::CALLOUTS[i].id == hook) {
            name = generated::CALLOUTS[i].hook_point;
        }
    }
    log(LogMsg::CalloutFailed, name, what);
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
        log(LogMsg::CalloutFailed, name, e.what());
    } catch (...) {
        log(LogMsg::CalloutFailed, name, "unknown exception");
    }
}

int loaded_family = 0;

} // namespace

void shim_unload() noexcept {
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
        log(LogMsg::Loaded, std::string(summary), "");
        loaded_family = family;
        run_library_hook("load", family);
        return 0;
    } catch (const std::exception& e) {
        log(LogMsg::LoadFailed, e.what(), "");
    } catch (...) {
        log(LogMsg::LoadFailed, "unknown exception", "");
    }
    // Kea does not call unload() after a failed load(): release what configure() started.
    shutdown();
    return 1;
}

} // namespace kea_runscript
