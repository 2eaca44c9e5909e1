//! Fuzz target: the SSE parser and the stream translator: upstream bytes, raw or built
//! from the input, fed whole and split at arbitrary points.
//! The input layout and the properties checked are in `tests/properties/stream.rs`.

#![no_main]

#[path = "../../tests/properties/mod.rs"]
mod properties;

libfuzzer_sys::fuzz_target!(|data: &[u8]| properties::stream::check(data));
