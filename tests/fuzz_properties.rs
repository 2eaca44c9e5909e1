//! The fuzz targets' properties (`tests/properties/`, also run by `fuzz/` under libFuzzer) as
//! ordinary tests on stable: proptest feeds each property a bounded number of inputs (random
//! bytes, structured inputs built from random bytes as the fuzz targets build them, and real
//! Codex captures or the documented config with random byte edits), so `cargo test` checks
//! them in a few seconds. Then every fuzz finding, kept as a regression test with the input
//! that found it.
//!
//! Run longer: `PROPTEST_CASES=10000 cargo test --release --test fuzz_properties`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod properties;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Real Codex request bodies (tests/fixtures/codex).
const FIXTURES: &[&str] = &[
    include_str!("fixtures/codex/first_turn.json"),
    include_str!("fixtures/codex/shell_call_followup.json"),
    include_str!("fixtures/codex/apply_patch_followup.json"),
    include_str!("fixtures/codex/two_calls_followup.json"),
    include_str!("fixtures/codex/image_input.json"),
    include_str!("fixtures/codex/mcp_namespace.json"),
    include_str!("fixtures/codex/reasoning_followup.json"),
];
const CONFIG: &str = include_str!("../conf/bridge.yaml");

/// The cases of one property (`PROPTEST_CASES` overrides).
fn cases(n: u32) -> Config {
    let n = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n);
    Config {
        cases: n,
        failure_persistence: None,
        ..Config::default()
    }
}

/// The control bytes ([`properties::Input`]) then `rest`.
fn input(flags: u8, seed: u64, rest: &[u8]) -> Vec<u8> {
    let mut data = vec![flags];
    data.extend_from_slice(&seed.to_le_bytes());
    data.extend_from_slice(rest);
    data
}

/// `text` with byte edits: (position, kind, byte) replaces, inserts or deletes one byte.
fn edited(text: &[u8], edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut out = text.to_vec();
    for &(at, kind, byte) in edits {
        if out.is_empty() {
            out.push(byte);
            continue;
        }
        let at = at % out.len();
        match kind % 3 {
            0 => out[at] = byte,
            1 => out.insert(at, byte),
            _ => {
                out.remove(at);
            }
        }
    }
    out
}

/// Edits biased towards JSON's and YAML's own characters.
fn edits() -> impl Strategy<Value = Vec<(usize, u8, u8)>> {
    let byte = prop_oneof![
        any::<u8>(),
        prop::sample::select(b"{}[]\":,\\ \n-#&*!'".to_vec()),
    ];
    vec((any::<usize>(), any::<u8>(), byte), 0..8)
}

proptest! {
    #![proptest_config(cases(64))]

    #[test]
    fn request_raw_bytes(flags in 0u8..0x80, rest in vec(any::<u8>(), 0..512)) {
        properties::request::check(&input(flags, 0, &rest));
    }

    #[test]
    fn request_codex_captures_edited(flags in 0u8..0x80, which in 0..FIXTURES.len(), edits in edits()) {
        let body = edited(FIXTURES[which].as_bytes(), &edits);
        properties::request::check(&input(flags, 0, &body));
    }

    #[test]
    fn stream_raw_bytes(flags in 0u8..0x80, seed in any::<u64>(), rest in vec(any::<u8>(), 0..512)) {
        properties::stream::check(&input(flags, seed, &rest));
    }

    #[test]
    fn leaked_raw_text(flags in 0u8..0x80, seed in any::<u64>(), rest in vec(any::<u8>(), 0..512)) {
        properties::leaked::check(&input(flags, seed, &rest));
    }

    #[test]
    fn config_documented_file_edited(flags in 0u8..0x80, seed in any::<u64>(), edits in edits()) {
        let text = edited(CONFIG.as_bytes(), &edits);
        properties::config::check(&input(flags, seed, &text));
    }
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn request_structured(flags in any::<u8>(), rest in vec(any::<u8>(), 0..1024)) {
        properties::request::check(&input(flags | 0x80, 0, &rest));
    }

    #[test]
    fn stream_structured(flags in any::<u8>(), seed in any::<u64>(), rest in vec(any::<u8>(), 0..1024)) {
        properties::stream::check(&input(flags | 0x80, seed, &rest));
    }

    #[test]
    fn leaked_structured(flags in any::<u8>(), seed in any::<u64>(), rest in vec(any::<u8>(), 0..256)) {
        properties::leaked::check(&input(flags | 0x80, seed, &rest));
    }

    #[test]
    fn config_structured(flags in any::<u8>(), seed in any::<u64>(), rest in vec(any::<u8>(), 0..256)) {
        properties::config::check(&input(flags | 0x80, seed, &rest));
    }
}

// ------------------------------------------------------------------ regression inputs
//
// Every input a fuzz target or a property above found a failure with, as it was found.

#[test]
fn request_input_without_a_chat_form_is_refused() {
    // request_structured: every item skipped (a local_shell_call) left `messages: []`.
    let body = br#"{"input":[{"id":"ws_1","status":"completed","type":"local_shell_call"}],"max_output_tokens":10228832330720348911,"metadata":null,"model":"m\u00e9\"l","parallel_tool_calls":true,"reasoning":null,"tool_choice":{"name":"web_search","namespace":"mcp__demo","type":"function"},"top_p":1.0,"truncation":"disabled"}"#;
    properties::request::check_body(body, 189, &[]);
}

#[test]
fn stream_call_without_arguments_streams_an_empty_object() {
    // stream_structured (minimized): `function_call_arguments.done` said "{}", no delta did.
    let body = b"data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"mcp__demo__add_numbers\"}}]},\"finish_reason\":null}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"  \"}}]},\"finish_reason\":\"tool_calls\"}]}\n\ndata: [DONE]\n\n";
    for flags in [0, 1, 2] {
        properties::stream::check_body(body, flags, 11679978591454942736);
    }
}

/// Texts (minimized) on which the streamed leak hold and the whole-text scan disagreed, or
/// the scan panicked.
const LEAK_FINDINGS: &[&str] = &[
    // An object that is not JSON, whose first key is data, before a call.
    "{\"{\"name\":\"view_image\",\"arguments\":{\"\":\"\"}}",
    // A call after text inside the held span: no separator before that text.
    "[[{\"name\":\"exec_command\",\"arguments\":\"\"}",
    // Leading blank lines, shown at once by the stream, were trimmed by the scan.
    "\n\n</tool_call>{\"name\":\"view_image\",\"arguments\":{\"path\":\"a\"}}]",
    // Two calls sharing a fence: overlapping cuts, a slice panic.
    "```{\"name\":\"apply_patch\",\"arguments\":\"\"}```{\"name\":\"apply_patch\",\"arguments\":\"\"}```",
    // A candidate that starts inside a closed tag without a call and ends after it.
    "<tool_call>{\"</tool_call>{\"name\":\"mcp__demo__add_numbers\",\"arguments\":{\"\":1}}",
    // A tag right after a fence opening: the stream released the fence, the scan cut it.
    "```<tool_call>{\"type\":\"function\",\"function\":{\"name\":\"exec_command\",\"\":\"\"}}{\"name\":\"exec_command\",\"arguments\":\"\\\"\\\"\"}```",
];

#[test]
fn leaked_findings_stream_as_the_whole_text_scans() {
    for text in LEAK_FINDINGS {
        for seed in [0, 1, 2, 3, 4, 5, 0x5eed] {
            properties::leaked::check_text(text, 0, seed);
        }
    }
}

#[test]
fn request_lone_surrogate_escape_becomes_a_replacement_character() {
    // fuzz target `request`: a tool description with `\udd80`, a lone surrogate escape (what
    // JavaScript's JSON.stringify writes for half an emoji). serde_json reads it in a raw value
    // but cannot decode it, and the description's every escape was then sent as literal text.
    let body = br#"{"model":"m","input":"hi","tools":[{"type":"function","name":"f","description":"a\n\ud66e\udd80e.","parameters":{"type":"object","properties":{}}}]}"#;
    properties::request::check_body(body, 0, &["hi".to_owned()]);
    let plan = clawrouter_codex::translate::request::request_to_chat(
        body,
        &properties::request::options(0),
    )
    .expect("translated");
    let chat: serde_json::Value = serde_json::from_slice(&plan.body).expect("JSON");
    assert_eq!(
        chat["tools"][0]["function"]["description"],
        "a\n\u{d66e}\u{fffd}e."
    );
}
