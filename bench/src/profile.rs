//! `--perf DIR`: a measured run recorded by `perf record` (Debian's linux-perf), call graphs
//! from DWARF (neither Kea nor the hook keeps frame pointers), for scripts/profile.sh to read.

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::measure::RunError;

/// Samples per second and thread: enough for a 4 s run, little enough to leave the CPU to Kea.
const FREQUENCY: &str = "499";

/// The directory exists (made) and `perf` runs.
pub fn check(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("--perf {}: {e}", dir.display()))?;
    let ok = Command::new("perf").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
    if !ok {
        return Err("--perf: no perf (Debian's linux-perf: scripts/install-deps.sh installs it)".into());
    }
    Ok(())
}

/// A `perf record` attached to a process and the children it starts from then on.
pub struct Recorder {
    child: Child,
}

impl Recorder {
    /// `KRS_BENCH_PERF_ALL=1`: every CPU instead (perfdhcp, the worker, the kernel's packet
    /// work: where the machine's two cores go), without call graphs.
    pub fn start(pid: u32, file: &Path) -> Result<Recorder, RunError> {
        let _ = fs::remove_file(file);
        let mut perf = Command::new("perf");
        perf.args(["record", "-q", "-F", FREQUENCY]);
        if std::env::var_os("KRS_BENCH_PERF_ALL").is_some() {
            perf.arg("-a");
        } else {
            perf.args(["--call-graph", "dwarf,16384", "-p"]).arg(pid.to_string());
        }
        let child = perf
            .arg("-o")
            .arg(file)
            .stdout(Stdio::null())
            .spawn()?;
        // perf writes its file's header once it has opened its events on every thread.
        kea_runscript_testbed::wait_until(Duration::from_secs(10), || {
            fs::metadata(file).ok().filter(|m| m.len() > 0).map(|_| ())
        })
        .map_err(|_| RunError::Other(format!("perf record did not start: {}", file.display())))?;
        Ok(Recorder { child })
    }

    /// SIGINT, as perf wants to finish its file; waited for.
    pub fn stop(mut self) -> Result<(), RunError> {
        // SAFETY: signals the perf process this recorder started.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGINT) };
        let status = self.child.wait()?;
        // perf ends by the signal it was asked to end by, once its file is complete.
        if !status.success() && status.signal() != Some(libc::SIGINT) {
            return Err(RunError::Other(format!("perf record ended with {status}")));
        }
        Ok(())
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
