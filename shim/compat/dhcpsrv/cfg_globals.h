// Stand-in for <dhcpsrv/cfg_globals.h>, which Debian's kea-dev 2.2.0 does not ship although
// <dhcpsrv/network.h> includes it. It is found through `-idirafter`, so a real header wins
// wherever one is installed. It declares only what the inline members of network.h and
// srv_config.h (through dhcpsrv/cfgmgr.h, for a replayed lease's subnet) name; this hook never
// calls them, so no definition is needed at link or load time.
#ifndef KEA_RUNSCRIPT_COMPAT_CFG_GLOBALS_H
#define KEA_RUNSCRIPT_COMPAT_CFG_GLOBALS_H

#include <cc/data.h>
#include <boost/shared_ptr.hpp>

namespace isc {
namespace dhcp {

class CfgGlobals {
public:
    enum Index : int {
        AUTHORITATIVE, BOOT_FILE_NAME, CACHE_MAX_AGE, CACHE_THRESHOLD, CALCULATE_TEE_TIMES,
        DDNS_GENERATED_PREFIX, DDNS_OVERRIDE_CLIENT_UPDATE, DDNS_OVERRIDE_NO_UPDATE,
        DDNS_QUALIFYING_SUFFIX, DDNS_REPLACE_CLIENT_NAME, DDNS_SEND_UPDATES, DDNS_UPDATE_ON_RENEW,
        DDNS_USE_CONFLICT_RESOLUTION, HOSTNAME_CHAR_REPLACEMENT, HOSTNAME_CHAR_SET, MATCH_CLIENT_ID,
        MAX_PREFERRED_LIFETIME, MAX_VALID_LIFETIME, MIN_PREFERRED_LIFETIME, MIN_VALID_LIFETIME,
        NEXT_SERVER, PREFERRED_LIFETIME, REBIND_TIMER, RENEW_TIMER, RESERVATIONS_GLOBAL,
        RESERVATIONS_IN_SUBNET, RESERVATIONS_OUT_OF_POOL, SERVER_HOSTNAME, STORE_EXTENDED_INFO,
        T1_PERCENT, T2_PERCENT, VALID_LIFETIME, SIZE
    };
    isc::data::ConstElementPtr get(int index) const;
    isc::data::ConstElementPtr get(const std::string& name) const;
    void set(int index, isc::data::ConstElementPtr value);
    void set(const std::string& name, isc::data::ConstElementPtr value);
    void clear();
};

typedef boost::shared_ptr<CfgGlobals> CfgGlobalsPtr;
typedef boost::shared_ptr<const CfgGlobals> ConstCfgGlobalsPtr;

} // namespace dhcp
} // namespace isc

#endif
