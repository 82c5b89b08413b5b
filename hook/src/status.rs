//! The control command `runscript-status` (registered by shim/stats.cc): per script its
//! parameters, statistics, runs in progress, queue, worker and last error, in Kea's usual answer
//! (`result`, `text`, `arguments`). Arguments: none, or `{"script": N}` (N from 1) for one.

use crate::ffi::bridge::CommandAnswer;
use crate::runtime::{self, guarded, Runner, Runtime};
use crate::stats::{Values, STATISTICS};
use kea_runscript_config::table::HOOK_POINTS;
use kea_runscript_config::Naming;
use serde_json::{json, Map, Value};
use std::time::{Instant, SystemTime};

pub fn command_status_answer(arguments_json: &str) -> CommandAnswer {
    let failed = |text: String| CommandAnswer { result: 1, text, arguments: String::new() };
    guarded(failed("runscript-status: internal error".into()), || {
        let Some(runtime) = runtime::loaded() else { return failed("kea-runscript is not loaded".into()) };
        match selected(arguments_json, runtime.runners().len()) {
            Ok(only) => {
                let arguments = status(&runtime, only);
                let n = runtime.runners().len();
                let text = format!("kea-runscript: {n} script{}", if n == 1 { "" } else { "s" });
                CommandAnswer { result: 0, text, arguments: arguments.to_string() }
            }
            Err(why) => failed(format!("runscript-status: {why}")),
        }
    })
}

/// The script the arguments ask for (from 0), or all (`None`).
fn selected(arguments_json: &str, scripts: usize) -> Result<Option<usize>, String> {
    if arguments_json.trim().is_empty() {
        return Ok(None);
    }
    let value: Value = serde_json::from_str(arguments_json).map_err(|e| format!("arguments are not JSON: {e}"))?;
    let Value::Object(map) = value else { return Err("'arguments' must be a map".into()) };
    if let Some(key) = map.keys().find(|k| *k != "script") {
        return Err(format!("unknown argument '{key}' (known: script)"));
    }
    match map.get("script") {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(i) if (1..=scripts as u64).contains(&i) => Ok(Some(i as usize - 1)),
            _ => Err(format!("argument 'script' must be a script's number, 1 to {scripts}, not {n}")),
        },
        Some(other) => Err(format!("argument 'script' must be an integer (a script's number from 1), not {other}")),
    }
}

fn statistics(values: &Values) -> Value {
    Value::Object(STATISTICS.iter().zip(values).map(|(s, v)| (s.name.to_string(), json!(v))).collect())
}

fn millis_since(t: Instant) -> u64 {
    t.elapsed().as_millis() as u64
}

fn status(runtime: &Runtime, only: Option<usize>) -> Value {
    let (per, sum) = runtime.statistics();
    let scripts: Vec<Value> = runtime
        .runners()
        .iter()
        .enumerate()
        .filter(|(i, _)| only.is_none_or(|o| o == *i))
        .map(|(i, runner)| script_status(runtime, i, runner, &per[i]))
        .collect();
    let mut answer = Map::new();
    answer.insert("server-name".into(), json!(runtime.identity.server_name));
    answer.insert("scripts".into(), Value::Array(scripts));
    answer.insert("statistics".into(), statistics(&sum));
    Value::Object(answer)
}

fn script_status(runtime: &Runtime, index: usize, runner: &Runner, values: &Values) -> Value {
    let script = runner.script();
    let state = &runtime.states[index];
    let hooks: Vec<&str> = script.hooks.iter().filter_map(|&h| HOOK_POINTS.get(h as usize)).map(|h| h.name).collect();
    let mut s = Map::new();
    s.insert("number".into(), json!(index + 1));
    s.insert("script".into(), json!(script.script.to_string_lossy()));
    s.insert("mode".into(), json!(script.mode.name()));
    s.insert("wait".into(), json!(script.wait));
    s.insert("timeout-ms".into(), json!(script.timeout.as_millis() as u64));
    s.insert("variables".into(), json!(if script.naming == Naming::Isc { "isc" } else { "runscript" }));
    s.insert("hook-points".into(), json!(hooks));
    s.insert("uptime-ms".into(), json!(millis_since(state.stats.loaded)));
    if script.naming == Naming::Runscript {
        s.insert("event-stream".into(), json!(state.stream.name()));
        s.insert("events".into(), json!(state.stream.given()));
    }
    s.insert("statistics".into(), statistics(values));
    s.insert("queue-depth".into(), json!(values[crate::stats::Stat::Queued as usize]));
    match runner {
        Runner::Spawn(spawn) => {
            let running: Vec<Value> =
                spawn.running().iter().map(|(pid, at)| json!({"pid": pid, "age-ms": millis_since(*at)})).collect();
            s.insert("running".into(), Value::Array(running));
        }
        Runner::Worker(worker) => {
            let (process, restart_due) = worker.process();
            let now = Instant::now();
            s.insert(
                "worker".into(),
                json!({
                    "pid": process.map(|(pid, _)| pid),
                    "uptime-ms": process.map(|(_, at)| millis_since(at)),
                    "restarts": values[crate::stats::Stat::WorkerRestarts as usize],
                    "next-restart-in-ms": restart_due.map(|t| t.saturating_duration_since(now).as_millis() as u64),
                }),
            );
        }
    }
    let last = state.stats.last_error().map(|e| {
        let age = SystemTime::now().duration_since(e.at).unwrap_or_default();
        let at = e.at.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        json!({"id": e.id, "text": e.text, "age-ms": age.as_millis() as u64, "time": format!("{}.{:06}", at.as_secs(), at.subsec_micros())})
    });
    s.insert("last-error".into(), last.unwrap_or(Value::Null));
    Value::Object(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_checked() {
        assert_eq!(selected("", 2), Ok(None));
        assert_eq!(selected("{}", 2), Ok(None));
        assert_eq!(selected(r#"{"script": 2}"#, 2), Ok(Some(1)));
        assert!(selected(r#"{"script": 3}"#, 2).unwrap_err().contains("1 to 2"));
        assert!(selected(r#"{"script": "1"}"#, 2).unwrap_err().contains("must be an integer"));
        assert!(selected(r#"{"scripts": 1}"#, 2).unwrap_err().contains("unknown argument 'scripts'"));
        assert!(selected("[1]", 2).unwrap_err().contains("must be a map"));
    }
}
