// The log catalogue's C++ side, knowing no message by name: the generated catalogue
// (OUT_DIR/messages.cc, from spec/spec.toml's [[message]] tables) fills `generated::MESSAGES`,
// and OUT_DIR/generated/messages.h names each message (`msg::LOADED`, a `Message<1>`).
#ifndef KEA_RUNSCRIPT_LOG_H
#define KEA_RUNSCRIPT_LOG_H

#include <log/message_types.h>

#include <array>
#include <cstddef>
#include <cstdint>

#include "rust/cxx.h"

namespace kea_runscript {

enum class Severity : std::uint8_t { Error, Warn, Info, Debug };

/// One message of the catalogue: its Kea id, severity, debug level and number of arguments.
struct MessageEntry {
    isc::log::MessageID id;
    Severity severity;
    int debug_level;
    std::uint16_t args;
};

namespace generated {
extern const MessageEntry MESSAGES[];
extern const std::size_t MESSAGE_COUNT;
} // namespace generated

/// A message that takes `N` arguments; its id indexes `generated::MESSAGES`.
template <std::size_t N>
struct Message {
    std::uint16_t id;
};

/// Writes message `id` of the catalogue to Kea's log with its arguments (those it does not take
/// are ignored). The bridge's entry point: Rust's typed `log` calls it. Never throws.
void log_message(std::uint16_t id, rust::Str arg1, rust::Str arg2) noexcept;

/// The C++ side's typed call: the compiler checks the number of arguments against the spec's text.
template <std::size_t N>
void log(Message<N> message, const std::array<rust::Str, N>& args) noexcept {
    static_assert(N <= 2, "a message takes at most two arguments (the bridge's log_message)");
    if constexpr (N == 0) {
        log_message(message.id, rust::Str(), rust::Str());
    } else if constexpr (N == 1) {
        log_message(message.id, args[0], rust::Str());
    } else {
        log_message(message.id, args[0], args[1]);
    }
}

} // namespace kea_runscript

#endif
