//! kea-runscript: a Kea hook library that runs an operator's program at Kea's hook points, with
//! everything Kea knows there as `KEA_*` environment variables (spawn mode) or as JSON lines to
//! one long-running program (worker mode).
//!
//! Kea finds `version`, `load`, `unload` and `multi_threading_compatible` here by name; the
//! callouts themselves are generated C++ (from spec/spec.toml), registered in `load()`.

mod environ;
mod event;
#[cfg(test)]
mod event_bench;
mod ffi;
mod identity;
mod limits;
mod log;
mod output;
mod process;
mod queue;
mod replay;
mod runtime;
mod spawn_mode;
mod stats;
mod text;
mod status;
mod thread;
mod worker_mode;

use log::{log, msg};
use std::os::raw::c_int;
use std::panic::catch_unwind;

/// Kea checks this against its own hooks ABI version before anything else.
#[no_mangle]
pub extern "C" fn version() -> c_int {
    ffi::bridge::kea_hooks_version()
}

/// Callouts only read their arguments and spawn; all shared state is behind locks.
#[no_mangle]
pub extern "C" fn multi_threading_compatible() -> c_int {
    1
}

/// # Safety
/// Kea passes a valid `LibraryHandle&` (a pointer at the ABI level).
#[no_mangle]
pub unsafe extern "C" fn load(handle: *mut ffi::bridge::LibraryHandle) -> c_int {
    catch_unwind(|| unsafe { ffi::bridge::shim_load(handle) }).unwrap_or(1)
}

#[no_mangle]
pub extern "C" fn unload() -> c_int {
    // The `unload` scripts, then the runtime stopped (shim/entry.cc).
    ffi::bridge::shim_unload();
    log(msg::UNLOADED, ["no script, thread or descriptor of the library left"]);
    0
}
