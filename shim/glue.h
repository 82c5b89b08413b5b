// What the generated callouts (OUT_DIR/callouts.cc, from spec/spec.toml) are written against:
// Kea's headers, the Rust event API, the callout barrier and the small readers that `read`
// expressions in the spec call. Nothing here knows a hook point or a variable by name.
#ifndef KEA_RUNSCRIPT_GLUE_H
#define KEA_RUNSCRIPT_GLUE_H

#include <hooks/hooks.h>
#include <dhcp/dhcp4.h>
#include <dhcp/dhcp6.h>
#include <dhcp/duid.h>
#include <dhcp/hwaddr.h>
#include <dhcp/pkt4.h>
#include <dhcp/pkt6.h>
#include <dhcpsrv/lease.h>
#include <dhcpsrv/subnet.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kea-runscript/src/ffi.rs.h"

namespace kea_runscript {

/// One row of the generated callout table.
struct CalloutEntry {
    const char* hook_point;
    int family;
    isc::hooks::CalloutPtr callout;
};

namespace generated {
extern const CalloutEntry CALLOUTS[];
extern const std::size_t CALLOUT_COUNT;
} // namespace generated

/// Logs a callout that failed; defined in entry.cc.
void log_callout_failure(std::uint16_t hook, const char* what) noexcept;

/// The barrier every callout goes through: read the values into a fresh event, hand it to
/// Rust, apply the next step the script's exit status asked for (`exit-status`), and let no
/// exception out. A failure is logged and the packet goes on as if this library were absent
/// (the callout returns 0 and sets no status).
template <typename Fill>
int run_callout(isc::hooks::CalloutHandle& handle, std::uint16_t hook, Fill&& fill) noexcept {
    try {
        rust::Box<Event> event = new_event(hook);
        fill(*event);
        switch (dispatch(std::move(event))) {
        case 1: handle.setStatus(isc::hooks::CalloutHandle::NEXT_STEP_SKIP); break;
        case 2: handle.setStatus(isc::hooks::CalloutHandle::NEXT_STEP_DROP); break;
        default: break;
        }
    } catch (const std::exception& e) {
        log_callout_failure(hook, e.what());
    } catch (...) {
        log_callout_failure(hook, "unknown exception");
    }
    return 0;
}

// ---- put_*: one per spec value type; absent optionals leave the variable empty ----

inline rust::Slice<const std::uint8_t> bytes(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

inline void put_string(Event& e, std::uint16_t var, const std::string& value) {
    e.put_string(var, bytes(value));
}
inline void put_string(Event& e, std::uint16_t var, const char* value) {
    put_string(e, var, std::string(value ? value : ""));
}
template <typename T>
void put_int(Event& e, std::uint16_t var, T value) {
    e.put_int(var, static_cast<std::int64_t>(value));
}
template <typename T>
void put_int(Event& e, std::uint16_t var, const std::optional<T>& value) {
    if (value) {
        put_int(e, var, *value);
    }
}
inline void put_bool(Event& e, std::uint16_t var, bool value) {
    e.put_bool(var, value);
}
inline void put_hex(Event& e, std::uint16_t var, const std::vector<std::uint8_t>& value) {
    e.put_hex(var, {value.data(), value.size()});
}

// ---- Readers named by `read` expressions in spec/spec.toml ----

inline std::string hwaddr_text(const isc::dhcp::HWAddrPtr& hw) {
    return hw ? hw->toText(false) : std::string();
}
inline std::optional<std::int64_t> hwaddr_type(const isc::dhcp::HWAddrPtr& hw) {
    return hw ? std::optional<std::int64_t>(hw->htype_) : std::nullopt;
}
inline std::optional<std::int64_t> hwaddr_source(const isc::dhcp::HWAddrPtr& hw) {
    return hw ? std::optional<std::int64_t>(hw->source_) : std::nullopt;
}
template <typename Id>
std::string duid_text(const boost::shared_ptr<Id>& id) {
    return id ? id->toText() : std::string();
}
inline std::string client_id_text(const isc::dhcp::ClientIdPtr& id) {
    return duid_text(id);
}

/// An option's payload as the client sent it (empty when absent).
inline std::string option_data(const isc::dhcp::PktPtr& pkt, std::uint16_t code) {
    isc::dhcp::OptionPtr opt = pkt->getOption(code);
    if (!opt) {
        return std::string();
    }
    const isc::dhcp::OptionBuffer& data = opt->getData();
    return std::string(data.begin(), data.end());
}
/// An option's payload, sub-options included, as bytes (empty when absent).
inline std::vector<std::uint8_t> option_hex(const isc::dhcp::PktPtr& pkt, std::uint16_t code) {
    isc::dhcp::OptionPtr opt = pkt->getOption(code);
    return opt ? opt->toBinary(false) : std::vector<std::uint8_t>();
}
/// A sub-option's payload as bytes (empty when the option or the sub-option is absent).
inline std::vector<std::uint8_t> sub_option_hex(const isc::dhcp::PktPtr& pkt, std::uint16_t code,
                                                std::uint16_t sub) {
    isc::dhcp::OptionPtr opt = pkt->getOption(code);
    isc::dhcp::OptionPtr subopt = opt ? opt->getOption(sub) : isc::dhcp::OptionPtr();
    return subopt ? subopt->toBinary(false) : std::vector<std::uint8_t>();
}

inline std::string lease4_type(const isc::dhcp::Lease4Ptr&) {
    return "V4";
}
inline std::string delegated_prefix(const isc::dhcp::Lease6Ptr& lease) {
    if (lease->type_ != isc::dhcp::Lease::TYPE_PD) {
        return std::string();
    }
    return lease->addr_.toText() + "/" + std::to_string(lease->prefixlen_);
}
inline std::optional<std::int64_t> delegated_prefixlen(const isc::dhcp::Lease6Ptr& lease) {
    return lease->type_ == isc::dhcp::Lease::TYPE_PD ? std::optional<std::int64_t>(lease->prefixlen_)
                                                       : std::nullopt;
}

} // namespace kea_runscript

#endif
