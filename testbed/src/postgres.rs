//! A throw-away PostgreSQL server for Kea's `postgresql` lease backend: a fresh cluster in the
//! namespace pair's scratch directory, its postmaster in the server namespace (Kea reaches it
//! over TCP on that namespace's loopback), Kea's schema made by the running Kea's own
//! `kea-admin`. Binaries come from the running system only: `postgres` on PATH, else the newest
//! `/usr/lib/postgresql/<version>/bin` (Debian does not put the server on PATH; the version
//! differs between Debian 12, 13 and unstable).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::netns::Netns;
use crate::util::{other, read_or_empty, run_ok, wait_until, Proc, DEFAULT_TIMEOUT};

/// Each server namespace has its own loopback, so parallel tests can all use the standard port.
pub const PORT: u16 = 5432;
const DATABASE: &str = "kea";
const USER: &str = "kea";
/// Only reachable on a private namespace's loopback.
const PASSWORD: &str = "kea-testbed";

/// A running PostgreSQL cluster with a `kea` database holding Kea's schema. Stopped (by its
/// PID) and its cluster directory removed on drop, also when the test fails; its log
/// (`postgres.log` in [`Netns::dir`]) stays with the rest of the scratch directory.
#[derive(Debug)]
pub struct Postgres {
    proc: Proc,
    bin: PathBuf,
    /// The cluster (data directory), also the unix socket's directory.
    dir: PathBuf,
    log: PathBuf,
    /// How long [`Postgres::start`] took (initdb, start, role, schema).
    pub startup: Duration,
}

impl Postgres {
    /// Creates a cluster in `<ns dir>/postgres`, starts it in the server namespace (TCP on
    /// 127.0.0.1:[`PORT`], unix socket in the cluster directory), waits until it accepts
    /// connections, creates role and database `kea` (password authentication over TCP) and
    /// runs `kea-admin db-init pgsql` against it from the server namespace.
    pub fn start(ns: &Netns) -> io::Result<Postgres> {
        let t0 = Instant::now();
        let bin = bin_dir()?;
        let dir = ns.dir().join("postgres");
        let log = ns.dir().join("postgres.log");
        // initdb wants an empty directory the server's user owns (postgres refuses to run as root).
        fs::create_dir(&dir)?;
        let (uid, gid) = postgres_user()?;
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
        run_ok(
            as_postgres(&bin.join("initdb"), &dir)
                .args(["--no-sync", "--no-locale", "-E", "UTF8", "-U", "postgres"])
                .args(["--auth-local=trust", "--auth-host=scram-sha-256", "-D"])
                .arg(&dir),
        )?;
        let mut cmd = Netns::exec(&ns.server, "setpriv");
        cmd.args(postgres_setpriv()).arg(bin.join("postgres")).arg("-D").arg(&dir).arg("-k").arg(&dir);
        // Throw-away data: no durability.
        let port = PORT.to_string();
        cmd.args(["-h", "127.0.0.1", "-p", &port, "-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off"])
            .current_dir(&dir)
            .stdout(Stdio::from(fs::File::create(&log)?))
            .stderr(Stdio::from(fs::File::options().append(true).open(&log)?));
        let proc = Proc::spawn("postgres", &mut cmd)?;
        // From here on, drop stops it and removes the cluster.
        let mut pg = Postgres { proc, bin, dir, log, startup: Duration::ZERO };
        pg.wait_ready()?;
        pg.psql_db("postgres", &format!("CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'"))?;
        pg.psql_db("postgres", &format!("CREATE DATABASE {DATABASE} OWNER {USER}"))?;
        // The running Kea's kea-admin, whose schema is the one its servers check for, over TCP
        // as Kea will connect.
        let mut admin = ns.server_cmd("kea-admin");
        admin.args(["db-init", "pgsql", "-u", USER, "-p", PASSWORD, "-n", DATABASE, "-h", "127.0.0.1", "-P", &port]);
        run_ok(&mut admin)?;
        pg.startup = t0.elapsed();
        Ok(pg)
    }

    fn wait_ready(&self) -> io::Result<()> {
        let r = wait_until(DEFAULT_TIMEOUT, || {
            if let Some(st) = self.proc.try_status() {
                return Some(Err(other(format!("postgres exited ({st}):\n{}", self.log()))));
            }
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-U", "postgres"])
                .arg("-h")
                .arg(&self.dir)
                .args(["-p", &PORT.to_string()])
                .status()
                .is_ok_and(|s| s.success());
            ready.then_some(Ok(()))
        });
        r.map_err(|e| other(format!("postgres not ready: {e}\n{}", self.log())))?
    }

    /// Kea's `lease-database` object for this server. Kea keeps running when the database goes
    /// away (`on-fail: serve-retry-continue`: it serves on, every query needing a lease failing)
    /// and tries to reconnect every second for ten minutes.
    pub fn lease_database(&self) -> Value {
        json!({
            "type": "postgresql",
            "name": DATABASE,
            "host": "127.0.0.1",
            "port": PORT,
            "user": USER,
            "password": PASSWORD,
            "on-fail": "serve-retry-continue",
            "max-reconnect-tries": 600,
            "reconnect-wait-time": 1000,
        })
    }

    /// Runs SQL in Kea's database as the superuser (over the unix socket) and returns psql's
    /// unaligned, tuples-only output (`|` between columns, one line per row).
    pub fn psql(&self, sql: &str) -> io::Result<String> {
        self.psql_db(DATABASE, sql)
    }

    fn psql_db(&self, db: &str, sql: &str) -> io::Result<String> {
        let out = run_ok(
            Command::new(self.bin.join("psql"))
                .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-d", db, "-h"])
                .arg(&self.dir)
                .args(["-p", &PORT.to_string(), "-c", sql]),
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Stops the server at once (immediate shutdown, SIGQUIT to the postmaster by PID: Kea's
    /// connections break); waits until the postmaster, which first reaps its backends, is gone.
    /// Idempotent.
    pub fn stop(&self) {
        self.proc.signal(libc::SIGQUIT);
        if self.proc.wait_timeout(Duration::from_secs(10)).is_err() {
            self.proc.kill();
        }
    }

    /// Whether the postmaster is still running.
    pub fn running(&self) -> bool {
        self.proc.try_status().is_none()
    }

    /// The postmaster's log.
    pub fn log(&self) -> String {
        read_or_empty(&self.log)
    }

    /// The cluster directory (removed on drop).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            eprintln!("testbed: removing {}: {e}", self.dir.display());
        }
    }
}

/// The directory of the PostgreSQL server binaries: that of `postgres` on PATH (resolved: a link
/// into `/usr/lib/postgresql/<version>/bin` names its version), else the newest
/// `/usr/lib/postgresql/<version>/bin` holding `postgres`.
fn bin_dir() -> io::Result<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("postgres"))
        .find(|p| p.is_file())
        .and_then(|p| fs::canonicalize(p).ok())
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .filter(|d| d.join("initdb").is_file());
    if let Some(d) = on_path {
        return Ok(d);
    }
    let mut found: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin): &(u32, PathBuf)| bin.join("postgres").is_file())
        .collect();
    found.sort();
    found.pop().map(|(_, d)| d).ok_or_else(|| other("no PostgreSQL server: install the postgresql package"))
}

fn postgres_user() -> io::Result<(u32, u32)> {
    let pw = unsafe { libc::getpwnam(c"postgres".as_ptr()) };
    if pw.is_null() {
        return Err(other("no postgres user: install the postgresql package"));
    }
    Ok(unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

/// setpriv to the postgres user, exec'ing the program (so the PID we hold is the postmaster's)
/// and keeping our parent-death signal, which a change of user would clear.
fn postgres_setpriv() -> [&'static str; 6] {
    ["--reuid=postgres", "--regid=postgres", "--init-groups", "--pdeathsig", "keep", "--"]
}

/// `program` run as the postgres user, in `cwd` (it may not be able to enter ours).
fn as_postgres(program: &Path, cwd: &Path) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(postgres_setpriv()).arg(program).current_dir(cwd);
    cmd
}
