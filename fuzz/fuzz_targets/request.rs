//! Fuzz target: the request translator (`translate::request::request_to_chat`): a
//! Responses body, raw or built from the input, becomes a Chat body.
//! The input layout and the properties checked are in `tests/properties/request.rs`.

#![no_main]

#[path = "../../tests/properties/mod.rs"]
mod properties;

libfuzzer_sys::fuzz_target!(|data: &[u8]| properties::request::check(data));
