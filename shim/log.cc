// Writes a message of the generated catalogue to Kea's log: one logger, the severity and debug
// level from the catalogue's table.
#include "shim/log.h"
#include "generated/messages.h"

#include <log/logger.h>

#include <string>

namespace kea_runscript {
namespace {

isc::log::Logger logger("kea-runscript");

bool enabled(const MessageEntry& m) {
    switch (m.severity) {
    case Severity::Error: return logger.isErrorEnabled();
    case Severity::Warn: return logger.isWarnEnabled();
    case Severity::Info: return logger.isInfoEnabled();
    case Severity::Debug: return logger.isDebugEnabled(m.debug_level);
    }
    return false;
}

isc::log::Logger::Formatter start(const MessageEntry& m) {
    switch (m.severity) {
    case Severity::Error: return logger.error(m.id);
    case Severity::Warn: return logger.warn(m.id);
    case Severity::Info: return logger.info(m.id);
    case Severity::Debug: break;
    }
    return logger.debug(m.debug_level, m.id);
}

} // namespace

void log_message(std::uint16_t id, rust::Str arg1, rust::Str arg2) noexcept {
    try {
        if (id >= generated::MESSAGE_COUNT) {
            // An id the catalogue lacks is a bug of ours; still say what was to be said.
            const std::string what = "unknown message id " + std::to_string(id);
            log(msg::INTERNAL_ERROR, {what, arg1});
            return;
        }
        const MessageEntry& m = generated::MESSAGES[id];
        if (!enabled(m)) {
            return;
        }
        isc::log::Logger::Formatter f = start(m);
        if (m.args > 0) {
            f.arg(std::string(arg1));
        }
        if (m.args > 1) {
            f.arg(std::string(arg2));
        }
    } catch (...) {
        // Logging must never take Kea down; there is nowhere left to report this.
    }
}

} // namespace kea_runscript
