//! The real Codex CLI over the bridge's WebSocket transport (`supports_websockets = true`):
//! turns chain with `previous_response_id`, and with the transport turned off in the bridge
//! Codex falls back to HTTP at once (426). The whole e2e suite also runs over WebSocket
//! (`CODEX_E2E_TRANSPORT=websocket`, scripts/test.sh).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::bridge::BridgeGuard;
use common::codex::{run_codex, run_codex_with, CodexHome, CodexOptions, RunOptions};
use common::mock_upstream::{ChatCall, MockUpstream, Reply};
use serde_json::json;

const TURN_TIMEOUT: Duration = Duration::from_secs(120);

fn websocket_home(bridge: &BridgeGuard) -> CodexHome {
    CodexHome::with_options(
        &bridge.base_url(),
        CodexOptions {
            websocket: true,
            ..CodexOptions::default()
        },
    )
}

/// `clawrouter_codex_websocket_requests_total{input="<kind>"}` (0 when absent).
fn websocket_requests(bridge: &BridgeGuard, kind: &str) -> u64 {
    metric(
        bridge,
        &format!("clawrouter_codex_websocket_requests_total{{input=\"{kind}\"}}"),
    )
}

fn metric(bridge: &BridgeGuard, series: &str) -> u64 {
    let text = ureq::get(&bridge.url("/metrics"))
        .call()
        .expect("metrics")
        .into_string()
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .map_or(0, |v| v.trim().parse().expect("a count"))
}

#[test]
fn tool_turn_over_websocket_chains_with_previous_response_id() {
    let mock = MockUpstream::start(|call: &ChatCall| {
        if call.last_message().is_some_and(|m| m["role"] == "tool") {
            Reply::text("Created ws.txt.")
        } else {
            Reply::tool_calls(vec![(
                "exec_command",
                json!({"cmd": "echo over-websocket > ws.txt"}),
            )])
        }
    });
    let bridge = BridgeGuard::start(&mock.base_url());
    let home = websocket_home(&bridge);
    let work = tempfile::tempdir().unwrap();
    let run = run_codex(&home, work.path(), "Create ws.txt", TURN_TIMEOUT);
    run.assert_success();
    assert_eq!(run.final_message.as_deref(), Some("Created ws.txt."));
    let made = std::fs::read_to_string(work.path().join("ws.txt")).expect("ws.txt");
    assert_eq!(made.trim(), "over-websocket");
    // Codex prewarms the connection (`generate: false`, its first input items, no upstream call),
    // then sends each request with `previous_response_id` and only the new items.
    assert_eq!(websocket_requests(&bridge, "prewarm"), 1);
    assert_eq!(websocket_requests(&bridge, "chained"), 2);
    assert_eq!(websocket_requests(&bridge, "full"), 0);
    assert_eq!(websocket_requests(&bridge, "not_found"), 0);
    assert!(
        websocket_requests(&bridge, "chained") >= 1,
        "the tool result came with previous_response_id and only the new items"
    );
    // The upstream still got the whole conversation on the second call.
    let calls = mock.chat_calls();
    assert_eq!(calls.len(), 2);
    let second = calls[1].messages();
    assert!(second
        .iter()
        .any(|m| m["role"] == "user"
            && common::mock_upstream::content_text(m).contains("Create ws.txt")));
    assert!(second.iter().any(|m| m.get("tool_calls").is_some()));
    mock.assert_no_rejections();
}

#[test]
fn with_websocket_off_in_the_bridge_codex_falls_back_to_http_at_once() {
    let mock = MockUpstream::start(|_| Reply::text("Hello over HTTP."));
    let bridge = BridgeGuard::start_with(&mock.base_url(), |file| {
        file.websocket = Some(clawrouter_codex::ws_session::settings::FileWebSocket {
            enabled: Some(false),
            ..Default::default()
        });
    });
    let home = websocket_home(&bridge);
    let work = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        allow_http: true,
        ..RunOptions::default()
    };
    let run = run_codex_with(&home, work.path(), "Say hello", TURN_TIMEOUT, &opts);
    run.assert_success();
    assert_eq!(run.final_message.as_deref(), Some("Hello over HTTP."));
    assert_eq!(
        metric(
            &bridge,
            "clawrouter_codex_requests_total{outcome=\"websocket\",route=\"responses\"}"
        ),
        1,
        "one upgrade, refused with 426, and Codex switched to HTTP without trying again"
    );
    assert_eq!(
        metric(
            &bridge,
            "clawrouter_codex_requests_total{outcome=\"ok\",route=\"responses\"}"
        ),
        1
    );
}

/// A tool turn of the real Codex, once over HTTP and once over WebSocket, in the same folder:
/// the upstream receives the same Chat bodies, byte for byte, but for the ids Codex makes per
/// thread (its id, its `CODEX_HOME`) and what varies from run to run (tool call ids, the shell
/// tool's timing).
#[test]
fn the_upstream_gets_the_same_chat_bodies_over_http_and_websocket() {
    let script = |call: &ChatCall| {
        if call.last_message().is_some_and(|m| m["role"] == "tool") {
            Reply::text("Listed.")
        } else {
            Reply::tool_calls(vec![(
                "exec_command",
                json!({"cmd": "echo same > same.txt"}),
            )])
        }
    };
    // What differs from run to run whatever the transport: the mock's call ids (a process-wide
    // counter), the shell tool's chunk id and timing.
    let varying =
        regex::Regex::new(r"call_[0-9a-f]{16}|Chunk ID: [0-9a-f]+|Wall time: [0-9.]+").unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut bodies = Vec::new();
    for websocket in [false, true] {
        let mock = MockUpstream::start(script);
        let bridge = BridgeGuard::start(&mock.base_url());
        let home = CodexHome::with_options(
            &bridge.base_url(),
            CodexOptions {
                websocket,
                ..CodexOptions::default()
            },
        );
        let _ = std::fs::remove_file(work.path().join("same.txt"));
        let run = run_codex(&home, work.path(), "Make same.txt", TURN_TIMEOUT);
        run.assert_success();
        let thread = mock.chat_calls()[0]
            .header("x-session-id")
            .unwrap_or_default()
            .to_owned();
        let calls: Vec<String> = mock
            .requests()
            .iter()
            .filter(|r| r.is_chat())
            .map(|r| {
                let body = r
                    .body_str()
                    .replace(&thread, "<thread>")
                    .replace(&*home.path().to_string_lossy(), "<codex-home>");
                varying.replace_all(&body, "<varies>").into_owned()
            })
            .collect();
        bodies.push(calls);
    }
    assert_eq!(bodies[0].len(), 2);
    assert_eq!(bodies[1].len(), 2);
    for (http, ws) in bodies[0].iter().zip(&bodies[1]) {
        if let Some(at) = http.bytes().zip(ws.bytes()).position(|(a, b)| a != b) {
            let around = |s: &str| s[at.saturating_sub(200)..(at + 200).min(s.len())].to_owned();
            panic!(
                "the bodies differ at byte {at}:\nHTTP: {}\nWS:   {}",
                around(http),
                around(ws)
            );
        }
        assert_eq!(http.len(), ws.len());
    }
}
