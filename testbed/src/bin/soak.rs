//! Soak: kea-dhcp4 and kea-dhcp6 with kea-runscript at every hook point in each way a script runs
//! (spawned and waited for, spawned in the background, an answering worker, a background worker),
//! under continuous perfdhcp traffic, for `--minutes` (default 60). Every minute: Kea's RSS,
//! threads, descriptors and children (from /proc/PID) are printed, then a `config-reload`; every
//! fifth minute (`--kill-every`) both workers are SIGKILLed (by pid) and must be restarted. At the end: whether the
//! figures stayed flat, and the exit status says it (0 flat, 1 not, 2 the run itself failed).
//!
//! Flat: over the samples after the warm-up (the first sixth of the run, at least one minute),
//! the Theil–Sen trend (median of the pairwise slopes, robust to a sample taken in a burst) times
//! the span gives the growth; RSS may grow by at most max(4 MiB, 5 % of its first sample after the
//! warm-up), threads, descriptors and children by less than 2. Also required: every reload
//! answered 0, every killed worker came back, every minute served traffic, no zombie child twice
//! in a row, and Kea still running at the end, then stopping cleanly on SIGTERM.
//!
//! Usage (as root): soak [--minutes N] [--family v4|v6|both] [--mt on|off] [--rate R] [--kill-every M] [HOOK.so]

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use kea_runscript_testbed::longrun::{self, Figures, Scripts, Tally};
use kea_runscript_testbed::*;

struct Args {
    minutes: u32,
    families: Vec<Family>,
    mt: Option<bool>,
    rate: u32,
    kill_every: u32,
    so: std::path::PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        minutes: 60,
        families: vec![Family::V4, Family::V6],
        mt: None,
        rate: 5,
        kill_every: 5,
        so: hook_so_path(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--minutes" => a.minutes = val("--minutes")?.parse().map_err(|e| format!("--minutes: {e}"))?,
            "--kill-every" => a.kill_every = val("--kill-every")?.parse().map_err(|e| format!("--kill-every: {e}"))?,
            "--rate" => a.rate = val("--rate")?.parse().map_err(|e| format!("--rate: {e}"))?,
            "--family" => {
                a.families = match val("--family")?.as_str() {
                    "v4" => vec![Family::V4],
                    "v6" => vec![Family::V6],
                    "both" => vec![Family::V4, Family::V6],
                    f => return Err(format!("--family: {f}: v4, v6 or both")),
                }
            }
            "--mt" => {
                a.mt = match val("--mt")?.as_str() {
                    "on" => Some(true),
                    "off" => Some(false),
                    m => return Err(format!("--mt: {m}: on or off")),
                }
            }
            "-h" | "--help" => {
                println!("usage: soak [--minutes N] [--family v4|v6|both] [--mt on|off] [--rate R] [--kill-every M] [HOOK.so]   (as root)");
                std::process::exit(0);
            }
            p if !p.starts_with('-') => a.so = p.into(),
            o => return Err(format!("unknown option {o}")),
        }
    }
    if a.minutes == 0 || a.rate == 0 || a.kill_every == 0 {
        return Err("--minutes, --rate and --kill-every must be at least 1".into());
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("soak: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("soak: FAILED: {e}");
            ExitCode::from(2)
        }
    }
}

struct Server<'a> {
    kea: Kea<'a>,
    scripts: Scripts,
    samples: Vec<Figures>,
    answers: Vec<i64>,
    problems: Vec<String>,
}

fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    if !is_root() {
        return Err("needs root (network namespaces, raw sockets)".into());
    }
    let so = std::fs::canonicalize(&args.so)
        .map_err(|e| format!("{}: {e} (build it: cargo build -p kea-runscript)", args.so.display()))?;
    let version = kea_version();
    let ns = Netns::new()?;
    println!(
        "soak: Kea {version:?}, {} minute(s), hook {}, multi-threading {}, perfdhcp {} new exchanges/s per family",
        args.minutes,
        so.display(),
        args.mt.map_or("Kea's default", |m| if m { "on" } else { "off" }),
        args.rate
    );
    let mut servers = Vec::new();
    for &f in &args.families {
        let scripts = Scripts::write(&ns.dir().join(format!("scripts-{}", f.binary())))?;
        let cfg = longrun::config(f, &so, &scripts, 30, args.mt, 5000);
        let kea = Kea::start(&ns, &cfg)?;
        println!("{} pid {}, directory {}", f.binary(), kea.pid(), kea.dir().display());
        servers.push(Server { kea, scripts, samples: Vec::new(), answers: Vec::new(), problems: Vec::new() });
    }

    let stop = AtomicBool::new(false);
    let tallies: Vec<Tally> = args.families.iter().map(|_| Tally::default()).collect();
    let result = std::thread::scope(|s| {
        for (f, t) in args.families.iter().zip(&tallies) {
            let perf = match f {
                Family::V4 => Perfdhcp::v4(),
                Family::V6 => Perfdhcp::v6(),
            };
            // 100 clients, renews and releases at a fifth of the new-exchange rate each; 30 s runs.
            let perf = Perfdhcp {
                rate: args.rate,
                clients: 100,
                period: 30,
                renew_rate: (args.rate / 5).max(1),
                release_rate: (args.rate / 5).max(1),
                print_leases: false,
                ..perf
            };
            let (ns, stop) = (&ns, &stop);
            s.spawn(move || longrun::traffic(ns, &perf, stop, t));
        }
        let r = drive(args, &mut servers);
        stop.store(true, Ordering::SeqCst);
        r
    });
    result?;

    let mut flat = true;
    println!("\n---- verdict ----");
    for (srv, t) in servers.iter_mut().zip(&tallies) {
        let name = srv.kea.family().binary();
        println!(
            "{name}: {} perfdhcp runs, {} failed",
            t.runs.load(Ordering::SeqCst),
            t.failures.load(Ordering::SeqCst)
        );
        if srv.kea.exited().is_some() {
            srv.problems.push("Kea exited during the run".into());
        } else {
            srv.kea.signal(libc::SIGTERM);
            match wait_until(Duration::from_secs(60), || srv.kea.exited()) {
                Ok(st) if st.success() => println!("{name}: stopped cleanly on SIGTERM"),
                Ok(st) => srv.problems.push(format!("exited {st} on SIGTERM")),
                Err(e) => srv.problems.push(format!("did not stop on SIGTERM: {e}")),
            }
        }
        let warm = (srv.samples.len() / 6).max(1);
        let after = &srv.samples[warm.min(srv.samples.len())..];
        if after.len() < 2 {
            println!("{name}: too few samples after the warm-up ({warm} minute(s)) for a trend");
        } else {
            let span = (after.len() - 1) as f64;
            let trend = |get: fn(&Figures) -> f64| longrun::theil_sen(&after.iter().map(get).collect::<Vec<_>>()) * span;
            let rss0 = after[0].rss_kb as f64;
            let rss_bound = (4096.0f64).max(rss0 * 0.05);
            let checks: [(&str, f64, f64); 4] = [
                ("RSS kB", trend(|f| f.rss_kb as f64), rss_bound),
                ("threads", trend(|f| f.threads as f64), 2.0),
                ("descriptors", trend(|f| f.fds as f64), 2.0),
                ("children", trend(|f| f.children as f64), 2.0),
            ];
            for (what, growth, bound) in checks {
                let ok = growth < bound || (what == "RSS kB" && growth <= bound);
                println!(
                    "{name}: {what}: trend {growth:+.1} over minutes {}..{} (bound {bound:.0}): {}",
                    warm + 1,
                    srv.samples.len(),
                    if ok { "flat" } else { "GROWS" }
                );
                if !ok {
                    srv.problems.push(format!("{what} grows by {growth:.1}"));
                }
            }
        }
        for p in &srv.problems {
            println!("{name}: PROBLEM: {p}");
        }
        flat &= srv.problems.is_empty();
    }
    println!("soak: {}", if flat { "PASS (flat)" } else { "FAIL" });
    Ok(flat)
}

/// The minute-by-minute schedule: sample, reload, every fifth minute kill the workers.
fn drive(args: &Args, servers: &mut [Server]) -> Result<(), String> {
    let start = Instant::now();
    println!(
        "{:>4} {:<9} {:>9} {:>7} {:>4} {:>8} {:>7} {:>9}  events",
        "min", "server", "rss_kB", "threads", "fds", "children", "zombies", "answers"
    );
    for minute in 1..=args.minutes {
        let due = start + Duration::from_secs(60 * minute as u64);
        // The schedule's own clock; leaves early if a server exits.
        let _ = wait_until(due.saturating_duration_since(Instant::now()) + Duration::from_millis(50), || {
            (Instant::now() >= due || servers.iter().any(|s| s.kea.exited().is_some())).then_some(())
        });
        for srv in servers.iter_mut() {
            let name = srv.kea.family().binary();
            if let Some(st) = srv.kea.exited() {
                return Err(format!("{name} exited ({st}) at minute {minute}:\n{}", tail(&srv.kea.log(), 40)));
            }
            let fig = Figures::take(srv.kea.pid()).map_err(|e| format!("{name}: /proc: {e}"))?;
            let answers = srv.kea.statistics().ok().and_then(|m| m.get(longrun::answers_statistic(srv.kea.family())).copied()).unwrap_or(-1);
            let mut events = Vec::new();
            match longrun::reload(&srv.kea, Duration::from_secs(60)) {
                Ok(()) => events.push("reload".to_string()),
                Err(e) => {
                    events.push("RELOAD FAILED".into());
                    srv.problems.push(format!("minute {minute}: {e}"));
                }
            }
            if minute % args.kill_every == 0 {
                match longrun::kill_workers(&srv.kea, &srv.scripts, Duration::from_secs(60)) {
                    Ok(v) => events.push(format!(
                        "workers killed {} restarted {}",
                        v.iter().map(|p| p.0.to_string()).collect::<Vec<_>>().join(","),
                        v.iter().map(|p| p.1.to_string()).collect::<Vec<_>>().join(",")
                    )),
                    Err(e) => {
                        events.push("WORKER RESTART FAILED".into());
                        srv.problems.push(format!("minute {minute}: {e}"));
                    }
                }
            }
            if fig.zombies > 0 && srv.samples.last().is_some_and(|p| p.zombies > 0) {
                srv.problems.push(format!("minute {minute}: zombie children in two samples in a row"));
            }
            // Kea may reset its statistics at a reload: a minute served traffic when the counter
            // is above zero and not what it was a minute before.
            if answers <= 0 || srv.answers.last() == Some(&answers) {
                srv.problems.push(format!("minute {minute}: {} did not move", longrun::answers_statistic(srv.kea.family())));
            }
            println!(
                "{minute:>4} {name:<9} {:>9} {:>7} {:>4} {:>8} {:>7} {answers:>9}  {}",
                fig.rss_kb,
                fig.threads,
                fig.fds,
                fig.children,
                fig.zombies,
                events.join("; ")
            );
            srv.samples.push(fig);
            srv.answers.push(answers);
        }
    }
    Ok(())
}

fn tail(s: &str, n: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(n)..].join("\n")
}
