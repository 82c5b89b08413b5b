// Kea-facing C++ that Rust's exported entry points (hook/src/lib.rs) call through the cxx bridge.
#ifndef KEA_RUNSCRIPT_ENTRY_H
#define KEA_RUNSCRIPT_ENTRY_H

#include <hooks/hooks.h>
#include "rust/cxx.h"
#include "shim/log.h"
#include "shim/replay.h"
#include "shim/stats.h"

namespace kea_runscript {

/// KEA_HOOKS_VERSION of the headers this library was built against.
int kea_hooks_version() noexcept;

/// Whether this Kea accepts hook scripts only from its scripts directory (generated from the
/// spec's `scripts-directory`; false before Kea 3.0, and when Kea runs with `-X`).
bool script_paths_enforced() noexcept;

/// The body of Kea's `load()`: parameters to Rust, callouts registered for this server's family.
int shim_load(isc::hooks::LibraryHandle* handle) noexcept;

/// The body of Kea's `unload()`: the `unload` scripts, then the runtime stopped.
void shim_unload() noexcept;

/// Keep the library mapped after Kea's dlclose: work posted to Kea's IO service (a replay's
/// page, the statistics timer's last call) may still be queued when Kea unloads the library (a
/// reconfiguration) and runs later; it then finds nothing loaded and returns. Kea 2.2 has no IO
/// service of a library's own to drain at unload.
void pin_library();

} // namespace kea_runscript

#endif
