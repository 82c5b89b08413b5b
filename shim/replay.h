// Replays' Kea side (shim/replay.cc): what entry.cc and the cxx bridge call.
#ifndef KEA_RUNSCRIPT_REPLAY_H
#define KEA_RUNSCRIPT_REPLAY_H

#include <hooks/hooks.h>
#include <cstdint>
#include "rust/cxx.h"

namespace kea_runscript {

struct Event;

/// At load: register `runscript-replay`, and, when a script selected this server's replay hook
/// point, the dhcp*_srv_configured callout that starts a replay once the lease database is open.
void replay_load(isc::hooks::LibraryHandle& handle, int server_family);

/// At unload: forget Kea's IO service; a page still posted finds no replay.
void replay_unload() noexcept;

/// The bridge's: post the reading of replay `generation`'s next page (false: no IO service, or
/// another replay is being read).
bool replay_post_page(std::uint64_t generation) noexcept;

/// The bridge's: a replay's `begin` or `end` event.
rust::Box<Event> replay_mark_event(std::uint16_t hook, rust::Str phase, std::int64_t count, std::int64_t failed,
                                   bool counts) noexcept;

} // namespace kea_runscript

#endif
