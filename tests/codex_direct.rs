//! The real Codex CLI through the real bridge in direct mode (`upstream.kind: direct`): the
//! bridge routes `blockrun/auto`, pays the mock BlockRun on Base (each payment checked there by
//! viem) and relays its stream. A text turn, a tool turn and a web-search turn, as a user runs
//! them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::codex::{run_codex, CodexHome};
use common::direct::{DirectBridge, ADDRESS};
use common::mock_upstream::{ChatCall, MockUpstream, PaymentOutcome, Paywall, Reply};
use serde_json::json;

const TURN_TIMEOUT: Duration = Duration::from_secs(120);

fn settled(mock: &MockUpstream) -> Vec<String> {
    mock.payments()
        .iter()
        .filter(|p| p.outcome == PaymentOutcome::Settled)
        .map(|p| {
            assert!(p.verified, "{p:?}");
            assert_eq!(p.from.as_deref(), Some(ADDRESS));
            p.model.clone()
        })
        .collect()
}

#[test]
fn a_text_turn_is_routed_paid_and_streamed() {
    let mock = MockUpstream::builder()
        .blockrun(Paywall::base())
        .start(|call| Reply::text(format!("Hello from {}.", call.model())));
    let direct = DirectBridge::start(&mock, |_| {});
    let home = CodexHome::new(&direct.bridge.base_url());
    let work = tempfile::tempdir().unwrap();
    let run = run_codex(&home, work.path(), "Say hello", TURN_TIMEOUT);
    run.assert_success();
    // Codex offers tools: the cheapest candidate that takes them (deepseek-chat, 8192 output).
    assert_eq!(
        run.final_message.as_deref(),
        Some("Hello from deepseek/deepseek-chat.")
    );
    assert_eq!(settled(&mock), ["deepseek/deepseek-chat"]);
    let calls = mock.chat_calls();
    let paid = calls.last().unwrap();
    assert!(paid.is_stream(), "BlockRun is asked to stream");
    assert_eq!(paid.body["max_tokens"], 8192, "the model's whole output");
}

#[test]
fn a_tool_turn_pays_each_model_call_once_and_the_second_signs_ahead() {
    let mock = MockUpstream::builder()
        .blockrun(Paywall::base())
        .start(|call: &ChatCall| {
            if call.last_message().is_some_and(|m| m["role"] == "tool") {
                Reply::text("Created made-by-shell.txt.")
            } else {
                Reply::tool_calls(vec![(
                    "exec_command",
                    json!({"cmd": "echo paid-by-the-bridge > made-by-shell.txt"}),
                )])
            }
        });
    let direct = DirectBridge::start(&mock, |_| {});
    let home = CodexHome::new(&direct.bridge.base_url());
    let work = tempfile::tempdir().unwrap();
    let run = run_codex(
        &home,
        work.path(),
        "Create made-by-shell.txt containing paid-by-the-bridge",
        TURN_TIMEOUT,
    );
    run.assert_success();
    let made = std::fs::read_to_string(work.path().join("made-by-shell.txt")).unwrap();
    assert_eq!(made.trim(), "paid-by-the-bridge");
    assert_eq!(
        run.final_message.as_deref(),
        Some("Created made-by-shell.txt.")
    );
    assert_eq!(settled(&mock).len(), 2, "{:?}", mock.payments());
    // The first call: 402, then paid; the second: signed ahead, one round trip.
    let chat_requests = mock.requests().iter().filter(|r| r.is_chat()).count();
    assert_eq!(chat_requests, 3, "{:?}", mock.quotes());
}

#[test]
fn a_web_search_turn_pays_the_search_too() {
    let url = "https://blog.example.org/rust-1-99";
    let mock = MockUpstream::builder()
        .blockrun(Paywall::base().exa_results(json!({"results": [
            {"title": "Rust 1.99 released", "url": url, "text": "Async closures in traits."}
        ]})))
        .start(move |call: &ChatCall| {
            match call.messages().iter().rfind(|m| m["role"] == "tool") {
                None => Reply::tool_calls(vec![("web_search", json!({"query": "rust 1.99"}))]),
                Some(_) => Reply::text(format!("Rust 1.99 has async closures in traits ({url}).")),
            }
        });
    let direct = DirectBridge::start(&mock, |_| {});
    let home = CodexHome::new(&direct.bridge.base_url());
    home.websearch_on();
    let work = tempfile::tempdir().unwrap();
    let run = run_codex(
        &home,
        work.path(),
        "What is new in Rust 1.99?",
        TURN_TIMEOUT,
    );
    run.assert_success();
    assert!(
        run.final_message
            .as_deref()
            .is_some_and(|m| m.contains(url)),
        "{}",
        run.describe()
    );
    assert_eq!(run.items("web_search").len(), 1, "{}", run.describe());
    let paid = settled(&mock);
    assert!(paid.contains(&"exa/search".to_owned()), "{paid:?}");
    assert_eq!(paid.len(), 3, "two model calls and one search: {paid:?}");
}
