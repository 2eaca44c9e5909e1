//! The WebSocket transport of `/v1/responses`, with a plain WebSocket client: the events a
//! turn streams, `previous_response_id` (the upstream gets the same bytes as over HTTP),
//! prewarm, the errors a client must be able to act on, and the safety rules (Host, Origin,
//! message size, binary frames, idle and lifetime limits).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use clawrouter_codex::ws_session::settings::FileWebSocket;
use common::bridge::BridgeGuard;
use common::client::post_json;
use common::mock_upstream::{ChatCall, MockUpstream, Reply};
use common::ws::{connect, Ending, Ws};
use serde_json::{json, Value};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::Message;

fn user(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
}

fn create(input: Vec<Value>) -> Value {
    json!({"type": "response.create", "model": "m", "input": input, "tools": [{
        "type": "function", "name": "lookup", "strict": false,
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]})
}

fn bridge_with(mock: &MockUpstream, websocket: FileWebSocket) -> BridgeGuard {
    BridgeGuard::start_with(&mock.base_url(), |file| file.websocket = Some(websocket))
}

fn open(bridge: &BridgeGuard) -> Ws {
    connect(&bridge.addr(), &[]).expect("the bridge accepts the upgrade")
}

/// Tool call first, then text once the tool answered; reasoning on both (its round trip).
fn agent(call: &ChatCall) -> Reply {
    if call.last_message().is_some_and(|m| m["role"] == "tool") {
        Reply::text("The answer is 42.").reasoning("Read the tool result.")
    } else {
        Reply::tool_calls(vec![("lookup", json!({"q": "answer"}))]).reasoning("Look it up.")
    }
}

#[test]
fn a_turn_streams_the_same_events_as_the_sse_path_one_message_each() {
    let mock = MockUpstream::start(|_| Reply::text("Hello."));
    let bridge = bridge_with(&mock, FileWebSocket::default());
    let mut request = create(vec![user("hi")]);
    let mut ws = open(&bridge);
    let turn = ws.turn(&request);
    assert_eq!(turn.response()["status"], "completed");
    assert_eq!(turn.response()["output"][0]["content"][0]["text"], "Hello.");
    for (i, event) in turn.events.iter().enumerate() {
        assert_eq!(event["sequence_number"], json!(i), "{event}");
    }
    request.as_object_mut().unwrap().remove("type");
    request["stream"] = json!(true);
    let sse = post_json(&bridge.url("/v1/responses"), &request).events();
    let types = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(types(&turn.events), types(&sse));
    mock.assert_no_rejections();
}

/// One conversation of three model calls (tool call, tool result, follow-up question), sent
/// as Codex does over each transport: over HTTP the whole input every time, over WebSocket
/// `previous_response_id` and only the new items. The upstream receives the same bytes.
#[test]
fn chained_requests_reach_the_upstream_byte_for_byte_as_over_http() {
    let varying = regex::Regex::new(r"call_[0-9a-f]{16}").unwrap();
    let mut sent = Vec::new();
    for websocket in [false, true] {
        let mock = MockUpstream::start(agent);
        let bridge = bridge_with(&mock, FileWebSocket::default());
        let mut ws = websocket.then(|| open(&bridge));
        let mut history: Vec<Value> = Vec::new();
        let mut previous: Option<String> = None;
        let new_items = |output: &[Value]| -> Vec<Value> {
            match output.iter().find(|i| i["type"] == "function_call") {
                Some(call) => vec![json!({"type": "function_call_output",
                    "call_id": call["call_id"], "output": "42"})],
                None => vec![user("And twice that?")],
            }
        };
        let mut new = vec![user("What is the answer?")];
        for _ in 0..3 {
            history.extend(new.iter().cloned());
            let response = match ws.as_mut() {
                Some(ws) => {
                    let mut request = create(new.clone());
                    if let Some(id) = &previous {
                        request["previous_response_id"] = json!(id);
                    }
                    ws.turn(&request).response().clone()
                }
                None => {
                    let mut request = create(history.clone());
                    request.as_object_mut().unwrap().remove("type");
                    request["stream"] = json!(true);
                    let events = post_json(&bridge.url("/v1/responses"), &request).events();
                    events.last().expect("events")["response"].clone()
                }
            };
            assert_eq!(response["status"], "completed", "{response}");
            let output = response["output"].as_array().expect("output").clone();
            history.extend(output.iter().cloned());
            previous = response["id"].as_str().map(str::to_owned);
            new = new_items(&output);
        }
        mock.assert_no_rejections();
        let bodies: Vec<String> = mock
            .requests()
            .iter()
            .filter(|r| r.is_chat())
            .map(|r| varying.replace_all(&r.body_str(), "call_id").into_owned())
            .collect();
        assert_eq!(bodies.len(), 3);
        assert!(
            bodies[2].contains("Read the tool result"),
            "reasoning went back upstream"
        );
        sent.push(bodies);
    }
    assert_eq!(sent[0], sent[1]);
}

#[test]
fn an_unknown_previous_response_id_is_answered_so_the_client_sends_the_full_input() {
    let mock = MockUpstream::start(|_| Reply::text("Fresh start."));
    let bridge = bridge_with(&mock, FileWebSocket::default());
    let mut ws = open(&bridge);
    let mut request = create(vec![user("continue")]);
    request["previous_response_id"] = json!("resp_from_another_connection");
    let turn = ws.turn(&request);
    assert_eq!(turn.events.len(), 1);
    assert_eq!(turn.last()["status"], 400);
    assert_eq!(turn.error_code(), Some("previous_response_not_found"));
    assert!(mock.chat_calls().is_empty(), "nothing went upstream");
    // The same connection then takes the full input.
    let turn = ws.turn(&create(vec![user("start over")]));
    assert_eq!(turn.response()["status"], "completed");
}

#[test]
fn a_prewarm_answers_without_an_upstream_call_and_can_be_chained_from() {
    let mock = MockUpstream::start(|_| Reply::text("Warm."));
    let bridge = bridge_with(&mock, FileWebSocket::default());
    let mut ws = open(&bridge);
    let mut warm = create(vec![user("the prompt")]);
    warm["generate"] = json!(false);
    let turn = ws.turn(&warm);
    assert_eq!(turn.response()["status"], "completed");
    assert_eq!(turn.response()["output"], json!([]));
    assert!(mock.chat_calls().is_empty(), "a prewarm calls no model");
    let mut next = create(vec![]);
    next["previous_response_id"] = turn.response()["id"].clone();
    ws.send(&json!({"type": "response.processed", "response_id": turn.response()["id"]}));
    let turn = ws.turn(&next);
    assert_eq!(turn.response()["status"], "completed");
    let calls = mock.chat_calls();
    assert_eq!(calls.len(), 1);
    assert!(calls[0]
        .messages()
        .iter()
        .any(|m| common::mock_upstream::content_text(m) == "the prompt"));
}

#[test]
fn a_failed_continuation_forgets_what_it_continued() {
    let mock = MockUpstream::start(|call: &ChatCall| {
        // The output of a call never made is dropped by the bridge; the upstream then refuses
        // a conversation that ends with its own answer.
        if call
            .last_message()
            .is_some_and(|m| m["role"] == "assistant")
        {
            Reply::json(
                400,
                json!({"error": {"message": "the last message is the model's"}}),
            )
        } else {
            Reply::text("OK.")
        }
    });
    let bridge = bridge_with(&mock, FileWebSocket::default());
    let mut ws = open(&bridge);
    let first = ws.turn(&create(vec![user("remember ember")]));
    let id = first.response()["id"].clone();
    let mut orphan = create(vec![json!({"type": "function_call_output",
        "call_id": "call_missing", "output": "no such call"})]);
    orphan["previous_response_id"] = id.clone();
    let failed = ws.turn(&orphan);
    assert_eq!(failed.last()["type"], "response.failed");
    let mut again = create(vec![user("stale")]);
    again["previous_response_id"] = id;
    assert_eq!(
        ws.turn(&again).error_code(),
        Some("previous_response_not_found")
    );
}

#[test]
fn a_malformed_message_gets_an_error_and_the_connection_goes_on() {
    let mock = MockUpstream::start(|_| Reply::text("Fine."));
    let bridge = bridge_with(&mock, FileWebSocket::default());
    let mut ws = open(&bridge);
    ws.send_text("{not json");
    let error = ws.next().expect("an error message");
    assert_eq!(error["type"], "error");
    assert_eq!(error["status"], 400);
    ws.send(&json!({"type": "response.cancel"}));
    let error = ws.next().expect("an error message");
    assert_eq!(error["error"]["param"], "type");
    let turn = ws.turn(&create(vec![user("hi")]));
    assert_eq!(turn.response()["status"], "completed");
}

#[test]
fn a_web_page_cannot_open_a_websocket_to_the_bridge() {
    let mock = MockUpstream::start(|_| Reply::text("never"));
    let bridge = bridge_with(&mock, FileWebSocket::default());
    let refused = |headers: &[(&str, &str)]| {
        connect(&bridge.addr(), headers)
            .err()
            .expect("the upgrade is refused")
    };
    // Cross-site WebSocket hijacking: browsers send the page's Origin.
    assert_eq!(refused(&[("origin", "https://evil.example")]).status, 403);
    assert_eq!(refused(&[("origin", "null")]).status, 403);
    assert_eq!(refused(&[("sec-fetch-site", "cross-site")]).status, 403);
    // DNS rebinding: a foreign Host.
    assert_eq!(refused(&[("host", "evil.example")]).status, 421);
    assert!(mock.chat_calls().is_empty());
    // Codex sends no Origin; the bridge's own origin is fine too.
    let own = format!("http://{}", bridge.addr());
    assert!(connect(&bridge.addr(), &[("origin", &own)]).is_ok());
}

#[test]
fn oversized_and_binary_messages_close_the_connection_with_their_code() {
    let mock = MockUpstream::start(|_| Reply::text("never"));
    let limits = FileWebSocket {
        max_message_bytes: Some(4096),
        ..FileWebSocket::default()
    };
    let bridge = bridge_with(&mock, limits);
    let mut ws = open(&bridge);
    ws.send_text(&format!(
        r#"{{"type":"response.create","input":"{}"}}"#,
        "x".repeat(8192)
    ));
    assert_eq!(ws.next().err(), Some(Ending::Closed(CloseCode::Size)));
    let mut ws = open(&bridge);
    ws.send_message(Message::binary(b"{}".to_vec()));
    assert_eq!(
        ws.next().err(),
        Some(Ending::Closed(CloseCode::Unsupported))
    );
    assert!(mock.chat_calls().is_empty());
}

#[test]
fn an_idle_connection_is_closed_and_an_old_one_asks_for_a_new_connection() {
    let mock = MockUpstream::start(|_| Reply::text("late"));
    let idle = FileWebSocket {
        idle_timeout_secs: Some(1),
        ..FileWebSocket::default()
    };
    let bridge = bridge_with(&mock, idle);
    let mut ws = open(&bridge);
    assert_eq!(ws.next().err(), Some(Ending::Closed(CloseCode::Normal)));

    let old = FileWebSocket {
        max_lifetime_secs: Some(1),
        ..FileWebSocket::default()
    };
    let bridge = bridge_with(&mock, old);
    let mut ws = open(&bridge);
    std::thread::sleep(Duration::from_millis(1100));
    let turn = ws.turn(&create(vec![user("hi")]));
    // Codex retries this code on a new connection.
    assert_eq!(
        turn.error_code(),
        Some("websocket_connection_limit_reached")
    );
    assert!(mock.chat_calls().is_empty());
}

#[test]
fn a_bad_handshake_is_refused_with_a_clear_error() {
    let mock = MockUpstream::start(|_| Reply::text("never"));
    let bridge = bridge_with(&mock, FileWebSocket::default());
    let answer = common::client::raw_exchange(
        &bridge.addr(),
        format!(
            "GET /v1/responses HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
            bridge.addr()
        )
        .as_bytes(),
        Duration::from_secs(5),
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("Sec-WebSocket-Key"), "{answer}");
}

/// The connection guard bounds HTTP request headers (size, deadline); after the `101` the
/// bytes are WebSocket frames, which it must let through. Codex sends `response.processed`
/// after each response and may then stay silent for minutes while the user types: the
/// connection must survive that (it did not when the guard took the frames for a header that
/// missed its deadline), and a long session with it.
#[test]
fn an_upgraded_connection_is_not_held_to_http_header_bounds() {
    let mock = MockUpstream::start(|_| Reply::text("ok"));
    let bridge = BridgeGuard::start_with(&mock.base_url(), |file| {
        file.server = Some(clawrouter_codex::config::FileServer {
            header_timeout_secs: Some(1),
            ..Default::default()
        });
    });
    let mut ws = open(&bridge);
    let mut previous: Option<Value> = None;
    for turn in 0..12 {
        let mut request = create(vec![user(&"x".repeat(12_000))]);
        if let Some(id) = &previous {
            request["previous_response_id"] = id.clone();
        }
        let answer = ws.turn(&request);
        assert_eq!(answer.last()["type"], "response.completed", "turn {turn}");
        let id = answer.response()["id"].clone();
        ws.send(&json!({"type": "response.processed", "response_id": id}));
        previous = Some(id);
        if turn == 1 {
            // The user thinks for longer than the HTTP header deadline.
            std::thread::sleep(Duration::from_millis(1500));
        }
    }
}
