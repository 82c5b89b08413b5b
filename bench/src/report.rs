//! The table, the targets (reported, never asserted) and the reference lines.

use kea_runscript_testbed::Family;

use crate::measure::Sample;
use crate::replay::{ReplayResult, ReplayRow, Target};
use crate::rows::{Hook, Leases, Points, Row};

/// What was measured for one row.
#[derive(Debug, Clone)]
pub struct RowResult {
    pub row: Row,
    /// The offered rate near the row's capacity (found by the probe runs).
    pub matched_offered: u32,
    pub matched: Vec<Sample>,
    pub overload: Vec<Sample>,
    /// Why the row was not measured.
    pub skipped: Option<String>,
    pub errors: Vec<String>,
}

impl RowResult {
    pub fn new(row: Row) -> RowResult {
        RowResult { row, matched_offered: 0, matched: Vec::new(), overload: Vec::new(), skipped: None, errors: Vec::new() }
    }
    /// Median exchanges per second at the matched rate (every event run), if measured.
    pub fn rate(&self) -> Option<f64> {
        median(self.matched.iter().map(|s| s.effective).collect())
    }
    pub fn overload_rate(&self) -> Option<f64> {
        median(self.overload.iter().map(|s| s.effective).collect())
    }
    fn raw(&self, v: &[Sample]) -> Option<f64> {
        median(v.iter().map(|s| s.raw).collect())
    }
    fn run_fraction(v: &[Sample]) -> Option<f64> {
        median(v.iter().map(Sample::run_fraction).collect())
    }
}

/// The spawn ceiling: spawns per second one at a time and two at a time (medians).
#[derive(Debug, Clone, Copy)]
pub struct Ceiling {
    pub one: f64,
    pub two: f64,
}

pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// `12,345` (rounded); `123.4` below 100.
pub fn thousands(x: f64) -> String {
    if x.abs() < 100.0 && x.fract() != 0.0 {
        return format!("{x:.1}");
    }
    let n = x.round() as i64;
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn opt(x: Option<f64>, f: impl Fn(f64) -> String) -> String {
    x.map(f).unwrap_or_else(|| "–".into())
}

pub fn exchange_name(family: Family) -> &'static str {
    match family {
        Family::V4 => "DORA",
        Family::V6 => "SARR",
    }
}

/// The spawn ceiling that bounds a spawn row: one at a time when Kea waits for each script, two
/// at a time (the two cores) in the background.
fn ceiling_for(row: &Row, c: &Ceiling) -> Option<(f64, &'static str)> {
    match row.hook {
        Hook::Spawn { wait: true, points } => Some((c.one / points.events_per_exchange() as f64, "1")),
        Hook::Spawn { wait: false, points } => Some((c.two / points.events_per_exchange() as f64, "2")),
        _ => None,
    }
}

/// The table of one family.
pub fn table(family: Family, results: &[RowResult], ceiling: Option<&Ceiling>, overload: u32) -> String {
    let x = exchange_name(family);
    let none = results.iter().find(|r| r.row.hook == Hook::None).and_then(RowResult::rate);
    let mut out = String::new();
    let head = [
        "row".to_string(),
        format!("ev/{x}"),
        "offered/s".into(),
        format!("{x}/s"),
        "perfdhcp".into(),
        "run".into(),
        "vs no hook".into(),
        "vs spawn ceiling".into(),
        format!("@{}/s: {x}/s", thousands(overload as f64)),
        "perfdhcp".into(),
        "run".into(),
        "vs matched".into(),
    ];
    let mut lines: Vec<Vec<String>> = vec![head.to_vec()];
    for r in results {
        let mut l = vec![r.row.label()];
        l.push(r.row.hook.events_per_exchange().map(|n| n.to_string()).unwrap_or_else(|| "–".into()));
        if let Some(why) = &r.skipped {
            l.push(format!("skipped: {why}"));
            lines.push(l);
            continue;
        }
        if r.matched.is_empty() {
            l.push(format!("failed: {}", r.errors.first().map(|e| e.lines().next().unwrap_or("")).unwrap_or("")));
            lines.push(l);
            continue;
        }
        let runscript = r.row.hook.is_runscript();
        let rate = r.rate();
        l.push(thousands(r.matched_offered as f64));
        l.push(opt(rate, thousands));
        l.push(opt(r.raw(&r.matched), thousands));
        l.push(if runscript { opt(RowResult::run_fraction(&r.matched), pct_exact) } else { "–".into() });
        l.push(match (rate, none) {
            (Some(e), Some(n)) if n > 0.0 => pct(e / n),
            _ => "–".into(),
        });
        l.push(match (rate, ceiling.and_then(|c| ceiling_for(&r.row, c))) {
            (Some(e), Some((c, how))) => format!("{} of {} (c{how})", pct(e / c), thousands(c)),
            _ => "–".into(),
        });
        let ov = r.overload_rate();
        l.push(opt(ov, thousands));
        l.push(opt(r.raw(&r.overload), thousands));
        l.push(if runscript { opt(RowResult::run_fraction(&r.overload), pct_exact) } else { "–".into() });
        l.push(match (ov, rate) {
            (Some(o), Some(m)) if m > 0.0 => pct(o / m),
            _ => "–".into(),
        });
        lines.push(l);
    }
    out.push_str(&render(&lines));
    out
}

/// Lines of cells as a table, the first column left-aligned, the others right-aligned; a line
/// shorter than the header runs its last cell on unpadded.
fn render(lines: &[Vec<String>]) -> String {
    let ncol = lines[0].len();
    let widths: Vec<usize> = (0..ncol)
        .map(|i| lines.iter().filter(|l| l.len() == ncol).map(|l| l[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for l in lines {
        let short = l.len() < ncol;
        let cells: Vec<String> = l
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if short && i + 1 == l.len() {
                    c.to_string()
                } else if i == 0 {
                    format!("{c:<w$}", w = widths[i])
                } else {
                    format!("{c:>w$}", w = widths[i])
                }
            })
            .collect();
        out.push_str("  ");
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Replays to a worker: at least this many leases per second (500,000 in 10 s).
pub const REPLAY_WORKER_TARGET: f64 = 50_000.0;
/// Kea's memory during a replay: at most this much above before, kB (64 MB).
pub const REPLAY_RSS_TARGET_KB: u64 = 64 * 1024;

fn mb(kb: Option<u64>) -> String {
    opt(kb.map(|k| k as f64 / 1024.0), |m| format!("{m:.1}"))
}

fn secs(d: Option<std::time::Duration>) -> String {
    opt(d.map(|d| d.as_secs_f64()), |s| format!("{s:.2} s"))
}

/// One line of progress for a replay run.
pub fn replay_summary(row: &ReplayRow, r: &ReplayResult) -> String {
    if let Some(e) = &r.error {
        return format!("failed: {e}");
    }
    format!(
        "{} of {} delivered{}, {} failed, {} ms by Kea's clock ({}/s), {} from started to end; Kea started in {:.1} s; RSS MB no replay {}, before {}, peak {}, after {}{}",
        opt(r.delivered.map(|d| d as f64), thousands),
        thousands(row.leases as f64),
        r.worker_lines.map(|w| format!(" (the worker read {})", thousands(w as f64))).unwrap_or_default(),
        opt(r.failed.map(|d| d as f64), thousands),
        opt(r.kea_ms.map(|d| d as f64), thousands),
        opt(r.rate(), thousands),
        secs(r.own),
        r.startup.as_secs_f64(),
        mb(r.rss_no_replay),
        mb(r.rss_before),
        mb(r.rss_peak),
        mb(r.rss_after),
        if r.stalled {
            "; STALLED (no new lease for a while; Kea's time: until the last one)"
        } else if r.timed_out {
            "; TIMED OUT (--replay-limit)"
        } else {
            ""
        }
    )
}

/// The replay rows' table and their targets.
pub fn replay_table(results: &[(ReplayRow, ReplayResult)], ceiling: Option<&Ceiling>) -> String {
    let mut out = String::from(
        "Replays of held leases at Kea's start (memfile lease file written before Kea starts; one run each; idle Kea)\n",
    );
    let head: Vec<String> = [
        "row", "delivered", "failed", "worker read", "Kea's time", "leases/s", "started→end", "leases/s",
        "RSS MB: no replay", "before", "peak", "after", "peak−base",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut lines = vec![head];
    for (row, r) in results {
        let mut l = vec![row.label()];
        if let Some(e) = &r.error {
            l.push(format!("failed: {}", e.lines().next().unwrap_or("")));
            lines.push(l);
            continue;
        }
        l.push(
            opt(r.delivered.map(|d| d as f64), thousands)
                + if r.stalled {
                    " (stalled)"
                } else if r.timed_out {
                    " (timed out)"
                } else {
                    ""
                },
        );
        l.push(opt(r.failed.map(|d| d as f64), thousands));
        l.push(opt(r.worker_lines.map(|d| d as f64), thousands));
        l.push(opt(r.kea_ms.map(|ms| ms as f64 / 1000.0), |s| format!("{s:.2} s")));
        l.push(opt(r.rate(), thousands));
        l.push(secs(r.own));
        l.push(opt(r.own_rate(row.leases), thousands));
        l.push(mb(r.rss_no_replay));
        l.push(mb(r.rss_before));
        l.push(mb(r.rss_peak));
        l.push(mb(r.rss_after));
        l.push(match (r.rss_peak, r.rss_base()) {
            (Some(p), Some(b)) => format!("{:+.1}", (p as f64 - b as f64) / 1024.0),
            _ => "–".into(),
        });
        lines.push(l);
    }
    out.push_str(&render(&lines));
    out.push_str(
        "  delivered, failed, Kea's time: from Kea's KRS_REPLAY_DONE (its clock: from the replay's start at Kea's \
         configuration to its end); worker read: the replayed leases' lines the worker got; started→end: our clock, from \
         Kea logging that it started to the `end` (worker: when it read it). RSS: Kea's VmRSS; no replay: the same Kea \
         with the hook at leases*_committed instead, once started; before: as this Kea logged that it started; peak: \
         sampled every 10 ms until the end; after: 0.5 s after it; base: the lower of no replay and before (the \
         replay may be well on by the time Kea logs that it started).\n",
    );
    out.push_str("  targets (computed, never asserted):\n");
    let mut t: Vec<(String, String)> = Vec::new();
    let verdict = |ok: bool| if ok { "met" } else { "NOT MET" };
    for (row, r) in results {
        if r.error.is_some() {
            t.push((row.label(), "not measured".into()));
            continue;
        }
        let all = r.all_delivered(row.leases);
        let all_word = if all { "every lease delivered" } else { "NOT every lease delivered" };
        match row.target {
            Target::Worker => {
                let line = match r.rate() {
                    Some(rate) => format!(
                        "{:>9}/s ({:.2} s for {}) vs ≥ {}/s (500,000 in ≤ 10 s), {all_word}  {}",
                        thousands(rate),
                        r.kea_ms.unwrap_or(0) as f64 / 1000.0,
                        thousands(r.delivered.unwrap_or(0) as f64),
                        thousands(REPLAY_WORKER_TARGET),
                        verdict(all && rate >= REPLAY_WORKER_TARGET)
                    ),
                    None => "not measured".into(),
                };
                t.push((format!("{}: ≥ {}/s, all delivered", row.label(), thousands(REPLAY_WORKER_TARGET)), line));
            }
            Target::Spawn => {
                let line = match (r.rate(), ceiling) {
                    (Some(rate), Some(c)) => format!(
                        "{:>9}/s vs {:>9}/s: {:>6.1}% (target ≥ 75% of the 2-at-a-time spawn ceiling), {all_word}  {}",
                        thousands(rate),
                        thousands(c.two),
                        rate / c.two * 100.0,
                        verdict(all && rate >= 0.75 * c.two)
                    ),
                    _ => "not measured".into(),
                };
                t.push((format!("{}: ≥ 75% of the spawn ceiling, all delivered", row.label()), line));
            }
        }
        let line = match (r.rss_peak, r.rss_base()) {
            (Some(p), Some(b)) => {
                let d = p.saturating_sub(b);
                format!(
                    "{:+.1} MB above {:.1} MB (target ≤ +64 MB)  {}",
                    d as f64 / 1024.0,
                    b as f64 / 1024.0,
                    verdict(d <= REPLAY_RSS_TARGET_KB)
                )
            }
            _ => "not measured".into(),
        };
        t.push((format!("{}: Kea's peak RSS ≤ 64 MB above base", row.label()), line));
    }
    let w = t.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0);
    for (l, v) in &t {
        out.push_str(&format!("    {l:<w$}  {v}\n"));
    }
    out
}

/// The `replay-dora` pair: DORA/s without and with a replay, and the target.
pub fn dora_table(results: &[RowResult]) -> String {
    let mut out = String::from(
        "DHCPv4 with a replay running (DORA/s, the worker at the default hook points; the same offered rate, runs taken in turn)\n",
    );
    let head: Vec<String> =
        ["row", "offered/s", "DORA/s", "perfdhcp", "run", "replays started", "leases replayed/s", "longest stall", "vs no replay"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut lines = vec![head];
    let base = results.iter().find(|r| !r.row.replay).and_then(RowResult::rate);
    for r in results {
        let mut l = vec![r.row.label()];
        if let Some(why) = &r.skipped {
            l.push(format!("skipped: {why}"));
            lines.push(l);
            continue;
        }
        if r.matched.is_empty() {
            l.push(format!("failed: {}", r.errors.first().map(|e| e.lines().next().unwrap_or("")).unwrap_or("")));
            lines.push(l);
            continue;
        }
        let rate = r.rate();
        l.push(thousands(r.matched_offered as f64));
        l.push(opt(rate, thousands));
        l.push(opt(r.raw(&r.matched), thousands));
        l.push(opt(RowResult::run_fraction(&r.matched), pct_exact));
        if r.row.replay {
            l.push(opt(median(r.matched.iter().map(|s| s.replays as f64).collect()), thousands));
            l.push(opt(
                median(r.matched.iter().map(|s| s.replayed as f64 / s.period.max(1) as f64).collect()),
                thousands,
            ));
            l.push(opt(r.matched.iter().map(|s| s.replay_gap.as_secs_f64()).reduce(f64::max), |g| format!("{g:.2} s")));
        } else {
            l.push("–".into());
            l.push("–".into());
            l.push("–".into());
        }
        l.push(match (rate, base) {
            (Some(e), Some(b)) if b > 0.0 => pct(e / b),
            _ => "–".into(),
        });
        lines.push(l);
    }
    out.push_str(&render(&lines));
    out.push_str(
        "  DORA/s: perfdhcp's rate × the share of the exchanges' events the worker got (run); no drain time counted \
         (the replay keeps the worker busy after perfdhcp). replays started: runscript-replay answered 0 during the run \
         (sent every 50 ms, refused while one runs), besides the one at Kea's start; leases replayed/s: replayed leases \
         the worker read from Kea's start to its stop ÷ the run's length (medians); longest stall: the longest time in \
         a run in which the replay made no progress (no lease more delivered, no new replay), from the command's \
         answers (the most over the runs).\n",
    );
    out.push_str("  targets (computed, never asserted):\n");
    let mut t = Vec::new();
    let with_row = results.iter().find(|r| r.row.replay);
    let with = with_row.and_then(RowResult::rate);
    // The replay must have run all along: no stall of a quarter of the run or more.
    let ran = with_row.is_some_and(|r| {
        !r.matched.is_empty() && r.matched.iter().all(|s| s.replay_gap.as_secs_f64() < 0.25 * s.period as f64)
    });
    let what = format!(
        "DORA/s with a replay running ≥ 80% of without ({})",
        if ran { "it ran all along" } else { "NOT running all along: it stalled" }
    );
    target(&mut t, &what, with, base, 0.80, ran);
    for (l, v) in &t {
        out.push_str(&format!("    {l}  {v}\n"));
    }
    out
}

/// `100%`, or `99.93%` when not all ran.
fn pct_exact(x: f64) -> String {
    if x >= 0.99995 {
        "100%".into()
    } else {
        format!("{:.2}%", x * 100.0)
    }
}

/// Notes under a table: worker deliveries, exhausted pools, errors.
pub fn notes(results: &[RowResult]) -> String {
    let mut out = String::new();
    for r in results {
        for (what, v) in [("matched", &r.matched), ("overload", &r.overload)] {
            let exhausted = v.iter().filter(|s| s.exhausted).count();
            if exhausted > 0 {
                out.push_str(&format!(
                    "  note: {}: {exhausted} {what} run(s) ran out of addresses (shorter --secs)\n",
                    r.row.label()
                ));
            }
            for s in v {
                if let Some(d) = s.leases_delivered {
                    out.push_str(&format!(
                        "{}the worker got {} of the {} leases Kea granted ({})\n",
                        run_note(r, what, s),
                        thousands(d as f64),
                        thousands(s.leases_granted as f64),
                        pct_exact(d as f64 / (s.leases_granted as f64).max(1.0))
                    ));
                }
            }
            if r.row.hook.is_worker() {
                for s in v {
                    let Some(d) = s.delivered else { continue };
                    if d != s.expected || s.dropped > 0 {
                        let per: Vec<String> = s
                            .per_hook
                            .iter()
                            .filter(|(_, (g, e))| g != e)
                            .map(|(h, (g, e))| format!("{h} {g}/{e}"))
                            .collect();
                        out.push_str(&format!(
                            "{}the worker received {} of {} events, the hook dropped {} ({})\n",
                            run_note(r, what, s),
                            thousands(d as f64),
                            thousands(s.expected as f64),
                            thousands(s.dropped as f64),
                            per.join(", ")
                        ));
                    }
                }
            }
        }
        if let (Some(ov), Some(_)) = (r.overload_rate(), r.rate()) {
            if ov > 1.1 * r.matched_offered as f64 {
                out.push_str(&format!(
                    "  note: {}: more under overload ({}/s) than the matched rate offered ({}/s): the probe \
                     underestimated its capacity (a disturbed probe run?); rerun for a matched figure\n",
                    r.row.label(),
                    thousands(ov),
                    thousands(r.matched_offered as f64)
                ));
            }
        }
        for e in &r.errors {
            out.push_str(&format!("  error: {}: {}\n", r.row.label(), e.replace('\n', "\n    ")));
        }
    }
    out
}

/// `  note: <row>, <matched|overload> run at <rate>/s: ` (a note on one run).
fn run_note(r: &RowResult, what: &str, s: &Sample) -> String {
    format!("  note: {}, {what} run at {}/s: ", r.row.label(), thousands(s.offered as f64))
}

/// One target line: `value` against `reference × factor` (label, verdict).
fn target(out: &mut Vec<(String, String)>, what: &str, value: Option<f64>, reference: Option<f64>, factor: f64, extra_ok: bool) {
    let line = match (value, reference) {
        (Some(v), Some(r)) if r > 0.0 => {
            let ratio = v / r;
            let ok = ratio >= factor && extra_ok;
            format!(
                "{:>9} vs {:>9}: {:>6.1}% (target ≥ {:.0}%)  {}",
                thousands(v),
                thousands(r),
                ratio * 100.0,
                factor * 100.0,
                if ok { "met" } else { "NOT MET" }
            )
        }
        _ => "not measured".into(),
    };
    out.push((what.to_string(), line));
}

/// The targets of issue 6, computed and printed (never asserted).
pub fn targets(family: Family, results: &[RowResult], ceiling: Option<&Ceiling>) -> String {
    let x = exchange_name(family);
    let find = |id: &str| results.iter().find(|r| r.row.id == id && r.skipped.is_none());
    let rate = |id: &str| find(id).and_then(RowResult::rate);
    let mut out = Vec::new();
    let epx = Points::Default.events_per_exchange() as f64;
    target(
        &mut out,
        &format!("spawn async ≥ 80% of 2-at-a-time ceiling / {epx} ({x}/s)"),
        rate("spawn-async"),
        ceiling.map(|c| c.two / epx),
        0.80,
        true,
    );
    target(
        &mut out,
        &format!("spawn sync ≥ 80% of 1-at-a-time ceiling / {epx} ({x}/s)"),
        rate("spawn-sync"),
        ceiling.map(|c| c.one / epx),
        0.80,
        true,
    );
    target(
        &mut out,
        "spawn sync (script trust checked before each run) ≥ 97% of the same unchecked",
        rate("spawn-sync"),
        rate("spawn-sync-unchecked"),
        0.97,
        true,
    );
    target(&mut out, "spawn sync, committed only ≥ ISC run_script async", rate("spawn-sync-committed"), rate("isc-async"), 1.0, true);
    target(&mut out, "kea-runscript in ISC's form, async ≥ ISC run_script async", rate("runscript-isc-async"), rate("isc-async"), 1.0, true);
    let all_delivered = find("worker-async-all")
        .map(|r| r.matched.iter().chain(&r.overload).all(|s| s.delivered == Some(s.expected) && s.dropped == 0))
        .unwrap_or(false);
    target(
        &mut out,
        &format!(
            "worker async, all hook points ≥ 70% of no hook, every event delivered ({})",
            if all_delivered { "all were" } else { "NOT all" }
        ),
        rate("worker-async-all"),
        rate("none"),
        0.70,
        all_delivered,
    );
    target(
        &mut out,
        "worker async, all hook points, under overload ≥ 70% of its matched rate",
        find("worker-async-all").and_then(RowResult::overload_rate),
        rate("worker-async-all"),
        0.70,
        true,
    );
    target(
        &mut out,
        "worker async, all hook points, chosen variables ≥ 70% of no hook",
        rate("worker-async-all-chosen"),
        rate("none"),
        0.70,
        true,
    );
    let cat_all = find("worker-cat-async")
        .map(|r| !r.overload.is_empty() && r.overload.iter().all(|s| s.leases_delivered.is_some_and(|d| d >= s.leases_granted)))
        .unwrap_or(false);
    target(
        &mut out,
        &format!(
            "cat worker under overload ≥ 70% of no hook's, every granted lease delivered ({})",
            if cat_all { "all were" } else { "NOT all" }
        ),
        find("worker-cat-async").and_then(RowResult::overload_rate),
        find("none").and_then(RowResult::overload_rate),
        0.70,
        cat_all,
    );
    target(&mut out, "worker sync, committed only ≥ 50% of no hook", rate("worker-sync-committed"), rate("none"), 0.50, true);
    let nats_once = find("nats-sync-committed")
        .map(|r| !r.matched.is_empty() && r.matched.iter().chain(&r.overload).all(|s| s.delivered == Some(s.expected)))
        .unwrap_or(false);
    target(
        &mut out,
        &format!(
            "NATS worker, sync, committed ≥ 40% of no hook, every lease stored once ({})",
            if nats_once { "all were" } else { "NOT all" }
        ),
        rate("nats-sync-committed"),
        rate("none"),
        0.40,
        nats_once,
    );
    let held = find("spawn-async-held");
    let held_what = match held.map(|r| r.row.leases) {
        Some(Leases::PersistHeld(n)) => format!("spawn async with {} leases held ≥ 90% of empty (both persist)", thousands(n as f64)),
        _ => "spawn async with leases held ≥ 90% of empty".into(),
    };
    target(&mut out, &held_what, held.and_then(RowResult::rate), rate("spawn-async-persist"), 0.90, true);
    for r in results.iter().filter(|r| r.skipped.is_none()) {
        if let (Some(o), Some(m)) = (r.overload_rate(), r.rate()) {
            target(&mut out, &format!("overload ≥ 90% of matched: {}", r.row.label()), Some(o), Some(m), 0.90, true);
        }
    }
    let w = out.iter().map(|(l, _)| l.chars().count()).max().unwrap_or(0);
    out.iter().map(|(l, v)| format!("    {l:<w$}  {v}\n")).collect()
}

/// The C++ hook this project replaces cannot be built here: its figures from shared/README.md.
pub const SEED_REFERENCE: &str = "\
  Reference, not measured in this run (shared/README.md, same machine class, Kea 2.2, DHCPv4):
    the C++ kea-hook-runscript, no-op script, 8 calls per DORA:
      wait: true,  offered 120–200/s:  ~84–99 DORA/s
      wait: false, offered 200–500/s:  ~116–165 DORA/s
      wait: false, offered 30,000/s:   ~54–59 DORA/s (collapses under overload)
";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_numbers() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(12.25), "12.2");
        assert_eq!(pct_exact(1.0), "100%");
        assert_eq!(pct_exact(0.5), "50.00%");
    }
}
