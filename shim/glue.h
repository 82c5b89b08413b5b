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
#include <dhcp/option4_client_fqdn.h>
#include <dhcp/option6_ia.h>
#include <dhcp/option6_client_fqdn.h>
#include <dhcp/pkt4.h>
#include <dhcp/pkt6.h>
#include <dhcpsrv/lease.h>
#include <dhcpsrv/subnet.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "kea-runscript/src/ffi.rs.h"

namespace kea_runscript {

/// What the library hook points (`load`, `unload`) read.
struct LibraryInfo {
    std::int64_t family;
    std::string kea_version;
    std::int64_t hooks_version;
};

/// What a replay's events (`lease4_replay`, `lease6_replay`) read besides the lease: the phase
/// (`begin`, `lease`, `end`), and at `end` what this script was delivered and failed on.
struct ReplayMark {
    const char* phase;
    std::optional<std::int64_t> count;
    std::optional<std::int64_t> failed;
};

/// The value a callout argument's variable starts with, before `getArgument` sets it: empty for
/// pointers and most types; `IOAddress` (addr6_register's `address6`) has no default constructor.
template <typename T>
T default_argument() {
    return T{};
}
template <>
inline isc::asiolink::IOAddress default_argument<isc::asiolink::IOAddress>() {
    return isc::asiolink::IOAddress::IPV6_ZERO_ADDRESS();
}

/// `getArgument` under the first of `names` Kea passes (e.g. `ia_na` or `ia_pd`: Kea sets one,
/// by the lease's type); `value` stays as it is when Kea passes none of them.
template <typename T>
void get_first_argument(isc::hooks::CalloutHandle& handle, std::initializer_list<const char*> names, T& value) {
    const std::vector<std::string> passed = handle.getArgumentNames();
    for (const char* name : names) {
        if (std::find(passed.begin(), passed.end(), name) != passed.end()) {
            handle.getArgument(name, value);
            return;
        }
    }
}

/// One row of the generated callout table.
struct CalloutEntry {
    const char* hook_point;
    std::uint16_t id;
    int family;
    isc::hooks::CalloutPtr callout;
};

/// One row of the generated library hook point table.
struct LibraryHookEntry {
    const char* hook_point;
    std::uint16_t id;
    void (*fill)(Event&, const LibraryInfo&);
};

/// One row of the generated replay hook point table: the fill of its family's lease (the other null).
struct ReplayHookEntry {
    const char* hook_point;
    std::uint16_t id;
    int family;
    void (*fill4)(Event&, const ReplayMark&, const isc::dhcp::Lease4Ptr&);
    void (*fill6)(Event&, const ReplayMark&, const isc::dhcp::Lease6Ptr&);
};

namespace generated {
extern const ReplayHookEntry REPLAY_HOOKS[];
extern const std::size_t REPLAY_HOOK_COUNT;
extern const CalloutEntry CALLOUTS[];
extern const std::size_t CALLOUT_COUNT;
extern const LibraryHookEntry LIBRARY_HOOKS[];
extern const std::size_t LIBRARY_HOOK_COUNT;
} // namespace generated

/// Logs a callout that failed; defined in entry.cc.
void log_callout_failure(std::uint16_t hook, const char* what) noexcept;

/// Logs a value a callout could not read from Kea's objects (it is left empty); defined in entry.cc.
void log_unreadable(const char* variable, const char* what) noexcept;

/// The barrier every callout goes through. `body(emit)` reads the callout's arguments and calls
/// `emit(fill)` once per event (once, or once per lease with `each`); each event is filled, handed
/// to Rust, and the strongest next step its scripts asked for (`NextStep`: drop over skip over
/// continue) is set. No exception gets out: a failure is logged and the packet goes on as if
/// this library were absent (the callout returns 0 and sets no status).
template <typename Body>
int run_callout_each(isc::hooks::CalloutHandle& handle, std::uint16_t hook, Body&& body) noexcept {
    try {
        NextStep next = NextStep::Continue;
        auto emit = [&](auto&& fill) {
            rust::Box<Event> event = new_event(hook);
            fill(*event);
            next = std::max(next, dispatch(std::move(event)));
        };
        body(emit);
        switch (next) {
        case NextStep::Skip: handle.setStatus(isc::hooks::CalloutHandle::NEXT_STEP_SKIP); break;
        case NextStep::Drop: handle.setStatus(isc::hooks::CalloutHandle::NEXT_STEP_DROP); break;
        case NextStep::Continue: break;
        }
    } catch (const std::exception& e) {
        log_callout_failure(hook, e.what());
    } catch (...) {
        log_callout_failure(hook, "unknown exception");
    }
    return 0;
}

/// An identifier's bytes (hardware address, DUID, client id), null for none: the library writes
/// them as Kea's `toText()` does (hook/src/text.rs), without Kea's `std::stringstream`.
struct ColonHex {
    const std::vector<std::uint8_t>* bytes;
};

// ---- put_*: one per spec value type; absent optionals leave the variable empty ----

inline rust::Slice<const std::uint8_t> bytes(const std::string& s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline rust::Slice<const std::uint8_t> bytes(const std::vector<std::uint8_t>& v) {
    return {v.data(), v.size()};
}
/// No bytes for none.
inline rust::Slice<const std::uint8_t> bytes(const std::vector<std::uint8_t>* v) {
    return v ? bytes(*v) : rust::Slice<const std::uint8_t>{};
}

inline void put_string(Event& e, std::uint16_t var, const std::string& value) {
    e.put_string(var, bytes(value));
}
inline void put_string(Event& e, std::uint16_t var, const char* value) {
    put_string(e, var, std::string(value ? value : ""));
}
/// A DHCPv6 packet's label, as `Pkt6::getLabel()` writes it, from the packet's DUID (read as
/// Kea reads it) and transaction id; Kea builds it with two `std::stringstream`s, the largest
/// single cost of a DHCPv6 event in Kea's thread (docs/benchmark.md, "Profiles").
struct Label6 {
    const isc::dhcp::Pkt6* pkt;
};
inline Label6 label6(const isc::dhcp::Pkt6Ptr& pkt) {
    return {pkt.get()};
}
inline void put_string(Event& e, std::uint16_t var, const Label6& label) {
    const isc::dhcp::DuidPtr duid = label.pkt->getClientId();
    // From Kea 2.6 on the label names the (absent) hardware address too.
    constexpr bool hwaddr_info = KEA_HOOKS_VERSION >= 20600;
    e.put_label6(var, bytes(duid ? &duid->getDuid() : nullptr), static_cast<bool>(duid), label.pkt->getTransid(),
                 hwaddr_info);
}
/// An identifier (empty when there is none, as Kea's text of no identifier).
inline void put_string(Event& e, std::uint16_t var, const ColonHex& id) {
    e.put_colon_hex(var, bytes(id.bytes));
}
/// An address, and `/prefix_len` when not negative, written by the library (hook/src/text.rs)
/// instead of boost's `inet_ntop` and a std::string per address.
inline void put_address(Event& e, std::uint16_t var, const isc::asiolink::IOAddress& a, int prefix_len) {
    if (a.isV4()) {
        const std::uint32_t v = a.toUint32();
        const std::uint8_t b[4] = {std::uint8_t(v >> 24), std::uint8_t(v >> 16), std::uint8_t(v >> 8), std::uint8_t(v)};
        e.put_address(var, {b, 4}, prefix_len);
    } else {
        e.put_address(var, bytes(a.toBytes()), prefix_len);
    }
}
// A template of exactly IOAddress: IOAddress converts implicitly from an integer and from a
// string, which would let a `read` of the wrong type compile as an address.
template <typename Address, typename = std::enable_if_t<std::is_same_v<Address, isc::asiolink::IOAddress>>>
void put_string(Event& e, std::uint16_t var, const Address& a) {
    put_address(e, var, a, -1);
}
/// A prefix as `Subnet::get()` gives it: `Subnet::toText()`'s `prefix/len`.
inline void put_string(Event& e, std::uint16_t var, const std::pair<isc::asiolink::IOAddress, std::uint8_t>& prefix) {
    put_address(e, var, prefix.first, prefix.second);
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
    e.put_hex(var, bytes(value));
}
template <typename T>
void put_hex(Event& e, std::uint16_t var, const std::optional<T>& value) {
    if (value) {
        put_hex(e, var, *value);
    }
}
/// The options the `options` parameter asks for, as `<prefix><code>`, when the packet has them.
inline void put_options(Event& e, const isc::dhcp::PktPtr& pkt, const char* prefix) {
    for (std::uint16_t code : e.wanted_options()) {
        isc::dhcp::OptionPtr opt = pkt->getOption(code);
        if (opt) {
            const std::vector<std::uint8_t> payload = opt->toBinary(false);
            e.put_option(prefix, code, bytes(payload));
        }
    }
}

// ---- Readers named by `read` expressions in spec/spec.toml ----

inline ColonHex hwaddr_text(const isc::dhcp::HWAddrPtr& hw) {
    return {hw ? &hw->hwaddr_ : nullptr};
}
inline std::optional<std::int64_t> hwaddr_type(const isc::dhcp::HWAddrPtr& hw) {
    return hw ? std::optional<std::int64_t>(hw->htype_) : std::nullopt;
}
inline std::optional<std::int64_t> hwaddr_source(const isc::dhcp::HWAddrPtr& hw) {
    return hw ? std::optional<std::int64_t>(hw->source_) : std::nullopt;
}
/// The type of a hardware address as text, empty when there is none: a value that is present
/// (and empty) whenever its object is, as ISC's run_script writes it.
inline std::string hwaddr_type_text(const isc::dhcp::HWAddrPtr& hw) {
    return hw ? std::to_string(hw->htype_) : std::string();
}
template <typename Id>
ColonHex duid_text(const boost::shared_ptr<Id>& id) {
    return {id ? &id->getDuid() : nullptr};
}
inline ColonHex client_id_text(const isc::dhcp::ClientIdPtr& id) {
    return {id ? &id->getClientId() : nullptr};
}

/// The packet's option `code`, or null (also for a null packet).
inline isc::dhcp::OptionPtr find_option(const isc::dhcp::PktPtr& pkt, std::uint16_t code) {
    return pkt ? pkt->getOption(code) : isc::dhcp::OptionPtr();
}

/// An option's payload as the client sent it (empty when absent).
inline std::string option_data(const isc::dhcp::PktPtr& pkt, std::uint16_t code) {
    isc::dhcp::OptionPtr opt = find_option(pkt, code);
    if (!opt) {
        return std::string();
    }
    const isc::dhcp::OptionBuffer& data = opt->getData();
    return std::string(data.begin(), data.end());
}
/// An option's payload (sub-options included) as bytes, or nullopt when absent: `payload(opt)`.
inline std::optional<std::vector<std::uint8_t>> payload(const isc::dhcp::OptionPtr& opt) {
    return opt ? std::optional<std::vector<std::uint8_t>>(opt->toBinary(false)) : std::nullopt;
}
/// An option's payload, or nullopt when the packet does not carry it (ISC's names leave such a
/// variable out).
inline std::optional<std::vector<std::uint8_t>> option_hex_if(const isc::dhcp::PktPtr& pkt, std::uint16_t code) {
    return payload(find_option(pkt, code));
}
/// A sub-option's payload, or nullopt when the option or the sub-option is absent.
inline std::optional<std::vector<std::uint8_t>> sub_option_hex_if(const isc::dhcp::PktPtr& pkt, std::uint16_t code,
                                                                  std::uint16_t sub) {
    isc::dhcp::OptionPtr opt = find_option(pkt, code);
    return payload(opt ? opt->getOption(sub) : isc::dhcp::OptionPtr());
}
/// An option's payload as bytes (empty when absent).
inline std::vector<std::uint8_t> option_hex(const isc::dhcp::PktPtr& pkt, std::uint16_t code) {
    return option_hex_if(pkt, code).value_or(std::vector<std::uint8_t>());
}
/// A sub-option's payload as bytes (empty when the option or the sub-option is absent).
inline std::vector<std::uint8_t> sub_option_hex(const isc::dhcp::PktPtr& pkt, std::uint16_t code,
                                                std::uint16_t sub) {
    return sub_option_hex_if(pkt, code, sub).value_or(std::vector<std::uint8_t>());
}

/// A sub-option holding an IPv4 address (e.g. RAI link selection), as text (empty when the
/// option or the sub-option is absent, or its payload is not 4 bytes long).
inline std::string sub_option_ipv4(const isc::dhcp::PktPtr& pkt, std::uint16_t code,
                                   std::uint16_t sub) {
    std::vector<std::uint8_t> data = sub_option_hex(pkt, code, sub);
    if (data.size() != 4) {
        return std::string();
    }
    return isc::asiolink::IOAddress::fromBytes(AF_INET, data.data()).toText();
}
/// The first byte of an option's payload, e.g. the flags of a client FQDN option (nullopt when
/// the option is absent or empty).
inline std::optional<std::int64_t> option_first_byte(const isc::dhcp::PktPtr& pkt,
                                                     std::uint16_t code) {
    isc::dhcp::OptionPtr opt = find_option(pkt, code);
    if (!opt) {
        return std::nullopt;
    }
    std::vector<std::uint8_t> data = opt->toBinary(false);
    return data.empty() ? std::nullopt : std::optional<std::int64_t>(data[0]);
}
/// An option's payload bytes in decimal, comma-separated, e.g. a parameter request list
/// `1,3,6,15` (empty when absent).
inline std::string option_byte_list(const isc::dhcp::PktPtr& pkt, std::uint16_t code) {
    isc::dhcp::OptionPtr opt = find_option(pkt, code);
    if (!opt) {
        return std::string();
    }
    std::string out;
    for (std::uint8_t b : opt->toBinary(false)) {
        if (!out.empty()) {
            out += ',';
        }
        out += std::to_string(b);
    }
    return out;
}
/// The domain name of a DHCPv4 client FQDN option (81), as Kea decoded it (empty when absent).
inline std::string fqdn4_name(const isc::dhcp::Pkt4Ptr& pkt) {
    isc::dhcp::OptionPtr opt = find_option(pkt, isc::dhcp::DHO_FQDN);
    auto fqdn = boost::dynamic_pointer_cast<isc::dhcp::Option4ClientFqdn>(opt);
    return fqdn ? fqdn->getDomainName() : std::string();
}
/// The domain name of a DHCPv6 client FQDN option (39), as Kea decoded it (empty when absent).
inline std::string fqdn6_name(const isc::dhcp::Pkt6Ptr& pkt) {
    isc::dhcp::OptionPtr opt = find_option(pkt, D6O_CLIENT_FQDN);
    auto fqdn = boost::dynamic_pointer_cast<isc::dhcp::Option6ClientFqdn>(opt);
    return fqdn ? fqdn->getDomainName() : std::string();
}

// DHCPv6 relays: Pkt6::relay_info_ holds one RelayInfo per RELAY-FORW encapsulation, the
// outermost (the relay that sent the message to Kea) at index 0, the relay next to the client
// last (Pkt6::unpackRelayMsg parses from the outside in and appends). The readers below give
// the outermost relay's data.

/// Number of relay encapsulations (0 when the client's message came directly).
inline std::int64_t relay6_count(const isc::dhcp::Pkt6Ptr& pkt) {
    return pkt ? static_cast<std::int64_t>(pkt->relay_info_.size()) : 0;
}
/// The outermost relay, or null when the query was not relayed.
inline const isc::dhcp::Pkt6::RelayInfo* relay6_outermost(const isc::dhcp::Pkt6Ptr& pkt) {
    return pkt && !pkt->relay_info_.empty() ? &pkt->relay_info_.front() : nullptr;
}
inline std::string relay6_link_address(const isc::dhcp::Pkt6Ptr& pkt) {
    const isc::dhcp::Pkt6::RelayInfo* relay = relay6_outermost(pkt);
    return relay ? relay->linkaddr_.toText() : std::string();
}
inline std::string relay6_peer_address(const isc::dhcp::Pkt6Ptr& pkt) {
    const isc::dhcp::Pkt6::RelayInfo* relay = relay6_outermost(pkt);
    return relay ? relay->peeraddr_.toText() : std::string();
}
inline std::optional<std::int64_t> relay6_hop_count(const isc::dhcp::Pkt6Ptr& pkt) {
    const isc::dhcp::Pkt6::RelayInfo* relay = relay6_outermost(pkt);
    return relay ? std::optional<std::int64_t>(relay->hop_count_) : std::nullopt;
}
/// The payload of an option the outermost relay added (empty when not relayed or absent).
inline std::vector<std::uint8_t> relay6_option_hex(const isc::dhcp::Pkt6Ptr& pkt,
                                                   std::uint16_t code) {
    const isc::dhcp::Pkt6::RelayInfo* relay = relay6_outermost(pkt);
    if (!relay) {
        return std::vector<std::uint8_t>();
    }
    auto it = relay->options_.find(code);
    return it != relay->options_.end() && it->second ? it->second->toBinary(false)
                                                     : std::vector<std::uint8_t>();
}

/// An option a relay added, searched from the relay nearest the client outwards (as ISC's
/// run_script does), or nullopt when no relay added it.
inline std::optional<std::vector<std::uint8_t>> relay6_any_option_hex(const isc::dhcp::Pkt6Ptr& pkt,
                                                                      std::uint16_t code) {
    return payload(pkt->getAnyRelayOption(code, isc::dhcp::Pkt6::RELAY_SEARCH_FROM_CLIENT));
}
/// The packet's transport as ISC's run_script names it.
inline std::string pkt6_proto(const isc::dhcp::Pkt6Ptr& pkt) {
    return pkt->getProto() == isc::dhcp::Pkt6::UDP ? "UDP" : "TCP";
}

// ---- KEA_LEASE_EVENT ----

/// A committed lease no client holds: of the deleted list, or a DECLINE's (Kea commits it in
/// the committed list, in state `declined`).
inline bool committed_given_up(const isc::dhcp::LeasePtr& lease, bool deleted) {
    return deleted || (lease && lease->state_ == isc::dhcp::Lease::STATE_DECLINED);
}

/// At leases4_committed: a DHCPREQUEST from a renewing or rebinding client names the address it
/// holds in `ciaddr` (RFC 2131 4.3.2); a selecting or rebooting one leaves it zero.
inline const char* committed_lease_event4(const isc::dhcp::Pkt4Ptr& query, const isc::dhcp::Lease4Ptr& lease,
                                          bool deleted) {
    if (committed_given_up(lease, deleted)) {
        return "del";
    }
    if (query && lease && query->getType() == isc::dhcp::DHCPREQUEST && !query->getCiaddr().isV4Zero() &&
        query->getCiaddr() == lease->addr_) {
        return "renew";
    }
    return "add";
}

/// At leases6_committed: a RENEW or REBIND extends what the client holds.
inline const char* committed_lease_event6(const isc::dhcp::Pkt6Ptr& query, const isc::dhcp::Lease6Ptr& lease,
                                          bool deleted) {
    if (committed_given_up(lease, deleted)) {
        return "del";
    }
    if (query && (query->getType() == DHCPV6_RENEW || query->getType() == DHCPV6_REBIND)) {
        return "renew";
    }
    return "add";
}

/// A replayed lease's subnet in the configuration Kea runs (null when it has none any more).
/// Non-const: the callouts' argument type before Kea 3.0, and it converts to 3.0's const one.
isc::dhcp::Subnet4Ptr subnet_of(const isc::dhcp::Lease4Ptr& lease);
isc::dhcp::Subnet6Ptr subnet_of(const isc::dhcp::Lease6Ptr& lease);

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
