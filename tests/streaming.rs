//! Streaming: upstream deltas relayed as they arrive, keep-alive, endings, client disconnects,
//! the `auto` choice per upstream, and the reasoning round trip.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::bridge::BridgeGuard;
use common::client::{fixture, post_json, sse_events};
use common::mock_upstream::{thinking_model, ChatCall, MockUpstream, Reply};
use serde_json::{json, Value};

/// A bridge that always asks the upstream to stream.
fn streaming_bridge(mock: &MockUpstream) -> BridgeGuard {
    BridgeGuard::start_with(&mock.base_url(), |file| {
        file.upstream.get_or_insert_with(Default::default).stream = Some("always".into());
    })
}

fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("?").to_owned())
        .collect()
}

fn done_items(events: &[Value]) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["type"] == "response.output_item.done")
        .map(|e| e["item"].clone())
        .collect()
}

/// Sends a request and returns each SSE event with the time it arrived.
fn timed_events(addr: &str, body: &Value) -> Vec<(Duration, Value)> {
    let body = body.to_string();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "POST /v1/responses HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let started = Instant::now();
    let mut raw = String::new();
    let mut seen = 0;
    let mut events = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let at = started.elapsed();
        raw.push_str(&String::from_utf8_lossy(&buf[..n]));
        // Parse only complete events ("\n\n"-terminated) inside the chunked body.
        let data_lines: Vec<&str> = raw.lines().filter(|l| l.starts_with("data: ")).collect();
        for line in &data_lines[seen..] {
            if let Ok(event) = serde_json::from_str::<Value>(&line["data: ".len()..]) {
                events.push((at, event));
            }
        }
        seen = data_lines.len();
    }
    events
}

#[test]
fn upstream_deltas_are_relayed_as_they_arrive() {
    let text = "The quick brown fox jumps over the lazy dog, twice over.";
    let mock = MockUpstream::start(move |_| {
        Reply::text(text)
            .incremental(8)
            .chunk_delay(Duration::from_millis(60))
    });
    let bridge = streaming_bridge(&mock);
    let events = timed_events(&bridge.addr(), &fixture("first_turn"));
    let deltas: Vec<&(Duration, Value)> = events
        .iter()
        .filter(|(_, e)| e["type"] == "response.output_text.delta")
        .collect();
    assert_eq!(
        deltas.len(),
        text.len().div_ceil(8),
        "one delta per upstream delta"
    );
    let joined: String = deltas
        .iter()
        .map(|(_, e)| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(joined, text);
    let spread = deltas.last().unwrap().0 - deltas.first().unwrap().0;
    assert!(
        spread >= Duration::from_millis(300),
        "deltas arrived together ({spread:?}): not streamed"
    );
    assert_eq!(events.last().unwrap().1["type"], "response.completed");
    let call = &mock.chat_calls()[0];
    assert!(call.is_stream());
    assert_eq!(call.body["stream_options"]["include_usage"], true);
    mock.assert_no_rejections();
}

#[test]
fn clawrouter_shaped_stream_with_tool_calls_without_index() {
    let mock = MockUpstream::start(|_| {
        Reply::tool_calls(vec![
            ("exec_command", json!({"cmd": "ls"})),
            (
                "apply_patch",
                json!({"input": "*** Begin Patch\n*** Add File: x\n+y\n*** End Patch\n"}),
            ),
        ])
        .stream_wait(Duration::from_millis(300), Duration::from_millis(100))
    });
    let bridge = streaming_bridge(&mock);
    let events = post_json(&bridge.url("/v1/responses"), &fixture("first_turn")).events();
    let items = done_items(&events);
    let kinds: Vec<&str> = items.iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["function_call", "custom_tool_call"],
        "{:?}",
        types(&events)
    );
    assert_eq!(
        items[1]["input"],
        "*** Begin Patch\n*** Add File: x\n+y\n*** End Patch\n"
    );
    assert_eq!(events.last().unwrap()["type"], "response.completed");
    let usage = &events.last().unwrap()["response"]["usage"];
    assert!(
        usage["input_tokens"].as_u64().unwrap() > 0,
        "usage from the usage chunk"
    );
}

#[test]
fn error_under_http_200_becomes_response_failed() {
    let mock = MockUpstream::start(|_| Reply::insufficient_funds());
    let bridge = streaming_bridge(&mock);
    let events = post_json(&bridge.url("/v1/responses"), &fixture("first_turn")).events();
    let last = events.last().unwrap();
    assert_eq!(last["type"], "response.failed");
    assert_eq!(last["response"]["error"]["code"], "invalid_prompt");
    assert!(last["response"]["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Insufficient USDC balance"));
}

#[test]
fn upstream_dying_mid_stream_ends_with_failed_after_the_text() {
    let chunk = |data: &str| {
        let frame = format!("data: {data}\n\n");
        format!("{:x}\r\n{frame}\r\n", frame.len())
    };
    let delta = json!({"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",
        "choices":[{"index":0,"delta":{"content":"Half an ans"},"finish_reason":null}]});
    let raw = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n{}",
        chunk(&delta.to_string())
    );
    let mock = MockUpstream::start(move |_| Reply::garbage(raw.clone().into_bytes()));
    let bridge = streaming_bridge(&mock);
    let answer = post_json(&bridge.url("/v1/responses"), &fixture("first_turn"));
    assert_eq!(answer.status, 200);
    let events = answer.events();
    let all = types(&events);
    let delta_at = all
        .iter()
        .position(|t| t == "response.output_text.delta")
        .expect("the text was relayed");
    assert_eq!(events[delta_at]["delta"], "Half an ans");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "response.failed", "{all:?}");
    assert_eq!(last["response"]["error"]["code"], "server_error");
    // Worded by phase: the upstream was running and answering when it broke off.
    let message = last["response"]["error"]["message"].as_str().unwrap();
    assert!(message.contains("broke off its answer midway"), "{message}");
    assert!(!message.contains("Is ClawRouter running"), "{message}");
}

#[test]
fn client_disconnect_drops_the_upstream_request_at_once() {
    let mock = MockUpstream::start(|_| {
        Reply::text("never read").stream_wait(Duration::from_secs(20), Duration::from_millis(200))
    });
    let bridge = streaming_bridge(&mock);
    common::assert_hang_up_drops_upstream(&bridge, &mock, &fixture("first_turn").to_string(), true);
}

#[test]
fn silent_streaming_upstream_gets_keepalive_events() {
    let mock = MockUpstream::start(|_| {
        Reply::text("late").stream_wait(Duration::from_millis(3500), Duration::from_millis(500))
    });
    let bridge = BridgeGuard::start_with(&mock.base_url(), |file| {
        file.upstream.get_or_insert_with(Default::default).stream = Some("always".into());
        file.keepalive_secs = Some(1);
    });
    let events = post_json(&bridge.url("/v1/responses"), &fixture("first_turn")).events();
    let keepalives = events
        .iter()
        .filter(|e| e["type"] == "response.in_progress")
        .count();
    assert!(
        (3..=5).contains(&keepalives),
        "{keepalives} in_progress events"
    );
    assert_eq!(events.last().unwrap()["type"], "response.completed");
}

#[test]
fn auto_mode_streams_except_from_clawrouter() {
    // The mock's /health names a wallet, like ClawRouter: no streaming (keeps reasoning).
    let clawrouter = MockUpstream::start(|_| Reply::text("ok"));
    let bridge = BridgeGuard::start(&clawrouter.base_url());
    post_json(&bridge.url("/v1/responses"), &fixture("first_turn"));
    assert!(!clawrouter.chat_calls()[0].is_stream());

    let other = MockUpstream::builder()
        .route(|request| {
            (request.route() == "/health").then(|| Reply::json(404, json!({"error": "Not found"})))
        })
        .start(|_| Reply::text("ok").incremental(4));
    let bridge = BridgeGuard::start(&other.base_url());
    let events = post_json(&bridge.url("/v1/responses"), &fixture("first_turn")).events();
    assert!(other.chat_calls()[0].is_stream());
    assert_eq!(events.last().unwrap()["type"], "response.completed");
}

/// A thinking model: its tool turn must carry back the reasoning it produced. When streaming it
/// streams like DeepSeek (reasoning deltas first), not like ClawRouter (which drops them).
fn streaming_thinking_model(call: &ChatCall) -> Reply {
    let reply = thinking_model(call);
    if call.is_stream() {
        reply.incremental(12)
    } else {
        reply
    }
}

#[test]
fn reasoning_round_trip_satisfies_a_thinking_model() {
    for stream_mode in ["never", "always"] {
        let mock = MockUpstream::start(streaming_thinking_model);
        let bridge = BridgeGuard::start_with(&mock.base_url(), |file| {
            file.upstream.get_or_insert_with(Default::default).stream = Some(stream_mode.into());
        });
        let first_request = json!({"model": "deepseek/deepseek-v4", "stream": true, "input": "list files",
            "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}}]});
        let first = post_json(&bridge.url("/v1/responses"), &first_request).events();
        let items = done_items(&first);
        assert_eq!(
            items[0]["type"],
            "reasoning",
            "{stream_mode}: {:?}",
            types(&first)
        );
        assert_eq!(
            items[0]["summary"][0]["text"],
            "I should list the files first."
        );
        assert!(items[0]["encrypted_content"].is_string());
        let call = items
            .iter()
            .find(|i| i["type"] == "function_call")
            .expect("tool call");

        // Codex's next request: the history with the items it received plus the tool output.
        let mut input = vec![json!({"type": "message", "role": "user", "content": "list files"})];
        input.extend(items.iter().cloned());
        input.push(
            json!({"type": "function_call_output", "call_id": call["call_id"], "output": "a.txt"}),
        );
        let mut second_request = first_request.clone();
        second_request["input"] = Value::Array(input.clone());
        let second = post_json(&bridge.url("/v1/responses"), &second_request).events();
        assert_eq!(
            second.last().unwrap()["type"],
            "response.completed",
            "{stream_mode}: {:?}",
            second.last()
        );

        // A tampered blob is ignored safely: the model then refuses, as it would without it.
        input[1]["encrypted_content"] = json!("ccr1.tampered");
        second_request["input"] = Value::Array(input);
        let third = post_json(&bridge.url("/v1/responses"), &second_request).events();
        assert_eq!(third.last().unwrap()["type"], "response.failed");
    }
}

#[test]
fn sse_fixture_helper_parses_our_framing() {
    // Guards the test helper itself: CRLF framing and comments.
    let events =
        sse_events("event: a\r\ndata: {\"type\":\"a\"}\r\n\r\n: comment\n\ndata: [DONE]\n\n");
    assert_eq!(events.len(), 1);
}

#[test]
fn streaming_upstream_connections_are_reused() {
    let mock = MockUpstream::start(|_| Reply::text("pooled").incremental(2));
    let bridge = streaming_bridge(&mock);
    let url = bridge.url("/v1/responses");
    let body = json!({"model": "m", "stream": true, "input": "hi"});
    for _ in 0..100 {
        let answer = post_json(&url, &body);
        assert_eq!(answer.status, 200);
        assert_eq!(
            answer.events().last().unwrap()["type"],
            "response.completed"
        );
    }
    assert_eq!(mock.chat_calls().len(), 100);
    assert!(mock.chat_calls().iter().all(ChatCall::is_stream));
    let connections = mock.connections_accepted();
    assert!(
        connections <= 2,
        "{connections} upstream connections for 100 streaming requests"
    );
}
