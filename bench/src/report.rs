//! The table, the targets (reported, never asserted) and the reference lines.

use kea_runscript_testbed::Family;

use crate::measure::Sample;
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
    // Widths from the complete lines; a skipped or failed row's last cell runs on unpadded.
    let ncol = lines[0].len();
    let widths: Vec<usize> = (0..ncol)
        .map(|i| lines.iter().filter(|l| l.len() == ncol).map(|l| l[i].chars().count()).max().unwrap_or(0))
        .collect();
    for l in &lines {
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
                            "  note: {}, {what} run at {}/s: the worker received {} of {} events, the hook dropped {} ({})\n",
                            r.row.label(),
                            thousands(s.offered as f64),
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
        &format!("spawn async ≥ 75% of 2-at-a-time ceiling / {epx} ({x}/s)"),
        rate("spawn-async"),
        ceiling.map(|c| c.two / epx),
        0.75,
        true,
    );
    target(
        &mut out,
        &format!("spawn sync ≥ 75% of 1-at-a-time ceiling / {epx} ({x}/s)"),
        rate("spawn-sync"),
        ceiling.map(|c| c.one / epx),
        0.75,
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
    target(&mut out, "worker sync, committed only ≥ 50% of no hook", rate("worker-sync-committed"), rate("none"), 0.50, true);
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
