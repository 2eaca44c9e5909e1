//! Fuzz target: the YAML config loader (`config::parse_file` + `config::resolve`) with
//! environment overrides, never resolving a host name through DNS.
//! The input layout and the properties checked are in `tests/properties/config.rs`.

#![no_main]

#[path = "../../tests/properties/mod.rs"]
mod properties;

libfuzzer_sys::fuzz_target!(|data: &[u8]| properties::config::check(data));
