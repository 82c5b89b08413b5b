//! Checks the test bed itself against ISC's own run_script hook (shipped with
//! Kea), independently of kea-runscript: namespaces, Kea start/stop, the
//! recorder, every client runner. Needs root.

use std::time::Duration;

use kea_runscript_testbed::*;

fn isc(cfg: KeaConfig, rec: &EventLog) -> KeaConfig {
    cfg.hook(hook_library(std::path::Path::new(ISC_RUN_SCRIPT), isc_run_script_params(rec.script(), true)))
}

#[test]
fn netns_pair_is_usable_and_cleaned_up() {
    let names;
    {
        let ns = Netns::new().unwrap();
        names = (ns.server.clone(), ns.client.clone());
        let mac = ns.client_mac().unwrap();
        assert_eq!(mac.len(), 17, "{mac}");
        assert!(ns.client_link_local().unwrap().starts_with("fe80:"));
        assert!(ns.server_link_local().unwrap().starts_with("fe80:"));
        assert_ne!(ns.client_mac().unwrap(), ns.server_mac().unwrap());
        // A private resolv.conf is mounted in the namespace.
        let out = ns.client_cmd("cat").arg("/etc/resolv.conf").output().unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("kea-runscript testbed"));
    }
    let list = std::process::Command::new("ip").args(["netns", "list"]).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(!list.contains(&names.0) && !list.contains(&names.1), "{list}");
    assert!(!std::path::Path::new(&format!("/etc/netns/{}", names.1)).exists());
}

#[test]
fn v4_clients_with_isc_run_script() {
    let ns = Netns::new().unwrap();
    let rec = EventLog::new(ns.dir()).unwrap();
    let kea = Kea::start(&ns, &isc(KeaConfig::v4(), &rec)).unwrap();

    let r = Perfdhcp::v4().option("60,6b65612d74657374").run(&ns).unwrap();
    assert!(r.leases.iter().any(|l| l.exchange == "REQUEST-ACK"), "{}", r.stdout);
    rec.wait_for_hooks(&["lease4_renew", "lease4_release", "leases4_committed"]);

    let mut dh = Dhclient::v4(&ns).unwrap();
    let lease = dh.obtain().unwrap();
    let addr = lease.address.clone().unwrap();
    dh.release().unwrap();
    let evs = rec.wait_for("release of the dhclient lease", |evs| {
        evs.iter().any(|e| e.hook == "lease4_release" && e.get("LEASE4_ADDRESS") == Some(addr.as_str()))
    });
    let rel =
        evs.iter().find(|e| e.hook == "lease4_release" && e.get("LEASE4_ADDRESS") == Some(addr.as_str())).unwrap();
    assert_eq!(rel.var("QUERY4_HWADDR"), lease.mac);

    let mut u = Udhcpc::new(&ns).unwrap();
    let l = u.start().unwrap();
    let ua = l.address.unwrap();
    u.renew().unwrap();
    u.release().unwrap();
    rec.wait_for("udhcpc release", |evs| {
        evs.iter().any(|e| e.hook == "lease4_release" && e.get("LEASE4_ADDRESS") == Some(ua.as_str()))
    });
    assert!(kea.exited().is_none(), "{}", kea.log());
}

#[test]
fn v6_clients_with_isc_run_script() {
    let ns = Netns::new().unwrap();
    let rec = EventLog::new(ns.dir()).unwrap();
    let _kea = Kea::start(&ns, &isc(KeaConfig::v6(), &rec)).unwrap();

    let r = Perfdhcp::v6().run(&ns).unwrap();
    assert!(r.leases.iter().any(|l| !l.prefix.is_empty()), "{}", r.stdout);
    rec.wait_for_hooks(&["lease6_renew", "lease6_release"]);

    let mut dh = Dhclient::v6_pd(&ns).unwrap();
    let lease = dh.obtain().unwrap();
    let duid = lease.duid.clone().expect("DUID in the lease file");
    assert!(lease.prefix.as_deref().unwrap().ends_with("/56"), "{lease:?}");
    dh.release().unwrap();
    let evs = rec.wait_for("release of both dhclient leases", |evs| {
        evs.iter().filter(|e| e.hook == "lease6_release" && e.get("LEASE6_DUID") == Some(duid.as_str())).count() >= 2
    });
    let addr = lease.address.unwrap();
    assert!(evs.iter().any(|e| e.hook == "lease6_release" && e.get("LEASE6_ADDRESS") == Some(addr.as_str())));
}

#[test]
fn v4_expiry_with_isc_run_script() {
    let ns = Netns::new().unwrap();
    let rec = EventLog::new(ns.dir()).unwrap();
    let _kea = Kea::start(&ns, &isc(KeaConfig::v4().valid_lifetime(4).fast_reclaim(), &rec)).unwrap();
    let mut u = Udhcpc::new(&ns).unwrap();
    let addr = u.start().unwrap().address.unwrap();
    u.vanish();
    rec.wait_for_timeout("lease4_expire", Duration::from_secs(30), |evs| {
        evs.iter().any(|e| e.hook == "lease4_expire" && e.get("LEASE4_ADDRESS") == Some(addr.as_str()))
    });
}

#[test]
fn load_failure_is_reported() {
    let ns = Netns::with_options(NetnsOptions { ipv6: false, client_v4: false }).unwrap();
    // ISC's run_script requires "name".
    let cfg = KeaConfig::v4().hook(hook_library(std::path::Path::new(ISC_RUN_SCRIPT), "{}"));
    let log = Kea::expect_load_failure(&ns, &cfg).unwrap();
    assert!(log.contains("HOOKS_LOAD_ERROR") || log.contains("DHCP4_INIT_FAIL"), "{log}");
}

/// Kea with a real PostgreSQL lease database ([`Postgres`], in the server namespace): a real
/// client's lease is in the `lease4`/`lease6` table; when the database goes away Kea notices at
/// its next query, logs the lost connection and keeps running (`on-fail: serve-retry-continue`).
fn postgres_lease_database(family: Family) {
    let ns = Netns::new().unwrap();
    let pg = Postgres::start(&ns).unwrap();
    eprintln!("postgres: up with Kea's schema in {:?}", pg.startup);
    let cfg = KeaConfig::new(family).extra(serde_json::json!({"lease-database": pg.lease_database()}));
    let kea = Kea::start(&ns, &cfg).unwrap();

    let mut dh = match family {
        Family::V4 => Dhclient::v4(&ns),
        Family::V6 => Dhclient::v6(&ns),
    }
    .unwrap();
    let addr = dh.obtain().unwrap().address.unwrap();
    // lease4.address is an integer; lease6.address text (Kea 2.2) or inet (later schemas).
    let sql = match family {
        Family::V4 => "SELECT host('0.0.0.0'::inet + address) FROM lease4",
        Family::V6 => "SELECT host(address::inet) FROM lease6",
    };
    let rows = pg.psql(sql).unwrap();
    assert!(rows.lines().any(|l| l == addr), "{addr} not in the database: {rows:?}\n{}", kea.log());

    pg.stop();
    // A query that needs the lease database makes Kea find the connection broken.
    let lost = match family {
        Family::V4 => "DHCP4_DB_RECONNECT_LOST_CONNECTION",
        Family::V6 => "DHCP6_DB_RECONNECT_LOST_CONNECTION",
    };
    let perf = match family {
        Family::V4 => Perfdhcp::v4(),
        Family::V6 => Perfdhcp::v6(),
    };
    Perfdhcp { period: 2, ..perf }.run(&ns).unwrap();
    kea.wait_log(lost, DEFAULT_TIMEOUT).unwrap();
    assert!(kea.exited().is_none(), "Kea exited without its database:\n{}", kea.log());
}

#[test]
fn postgres_lease_database_v4() {
    postgres_lease_database(Family::V4);
}

#[test]
fn postgres_lease_database_v6() {
    postgres_lease_database(Family::V6);
}
