// The library's statistics in Kea's statistics manager, and the command `runscript-status`
// (shim/stats.cc; the counting and the answer: hook/src/stats.rs, hook/src/status.rs).
#ifndef KEA_RUNSCRIPT_STATS_H
#define KEA_RUNSCRIPT_STATS_H

#include <hooks/hooks.h>

namespace kea_runscript {

/// At load: remove statistics an earlier load left, register `runscript-status` and the
/// dhcp*_srv_configured callout that starts publishing (on Kea's IO service, every
/// `STATS_EVERY`).
void stats_load(isc::hooks::LibraryHandle& handle, int server_family);

/// At unload (Kea's thread): stop publishing, remove every statistic published.
void stats_unload() noexcept;

} // namespace kea_runscript

#endif
