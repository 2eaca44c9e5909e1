//! Fuzz target: the leaked-tool-call scanner: `recover_leaked_calls` on a whole text and
//! `LeakHold` on the same text in pieces.
//! The input layout and the properties checked are in `tests/properties/leaked.rs`.

#![no_main]

#[path = "../../tests/properties/mod.rs"]
mod properties;

libfuzzer_sys::fuzz_target!(|data: &[u8]| properties::leaked::check(data));
