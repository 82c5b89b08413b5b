//! The bounds of the library's behaviour, generated from spec/spec.toml's `[[limit]]` tables:
//! the same values the log messages and the docs quote (`<NAME>_TEXT`).

// Every limit has its `_TEXT`; only those quoted at run time are used.
#![allow(dead_code)]

include!(concat!(env!("OUT_DIR"), "/limits.rs"));
