//! `/v1/responses` through the real bridge against the strict mock upstream: translation of
//! real Codex requests, the event stream, tool calls, and every upstream failure shape.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::bridge::{free_port, BridgeGuard};
use common::client::{fixture, get, post, post_json, Answer};
use common::mock_upstream::{content_text, MockUpstream, Reply};
use serde_json::{json, Value};

fn responses_url(bridge: &BridgeGuard) -> String {
    bridge.url("/v1/responses")
}

fn event_types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("?"))
        .collect()
}

fn terminal(events: &[Value]) -> &Value {
    events.last().expect("at least one event")
}

/// The output items Codex records: those of `response.output_item.done`.
fn done_items(events: &[Value]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e["type"] == "response.output_item.done")
        .map(|e| &e["item"])
        .collect()
}

/// Checks the invariants every Responses stream must keep.
fn assert_well_formed(events: &[Value]) {
    let types = event_types(events);
    assert_eq!(types.first(), Some(&"response.created"), "{types:?}");
    assert_eq!(types.get(1), Some(&"response.in_progress"), "{types:?}");
    for (i, event) in events.iter().enumerate() {
        assert_eq!(
            event["sequence_number"],
            json!(i),
            "sequence_number of {}",
            event["type"]
        );
    }
    let id = &events[0]["response"]["id"];
    assert!(id.as_str().is_some_and(|s| s.starts_with("resp_")), "{id}");
    assert_eq!(
        &terminal(events)["response"]["id"],
        id,
        "one response id throughout"
    );
    let mut item_ids = std::collections::HashSet::new();
    for (index, item) in done_items(events).iter().enumerate() {
        assert!(
            item_ids.insert(item["id"].as_str().expect("item id").to_owned()),
            "unique item ids"
        );
        let done = events
            .iter()
            .find(|e| e["type"] == "response.output_item.done" && e["item"]["id"] == item["id"])
            .expect("done event");
        assert_eq!(done["output_index"], json!(index));
        let added = events
            .iter()
            .find(|e| e["type"] == "response.output_item.added" && e["item"]["id"] == item["id"])
            .expect("every done item was added first");
        assert_eq!(added["output_index"], json!(index));
    }
}

#[test]
fn codex_first_turn_becomes_a_strict_chat_request_and_a_complete_stream() {
    let mock = MockUpstream::replies(vec![Reply::text("Hello from the model.")
        .usage(120, 30)
        .usage_details(64, 0)]);
    let bridge = BridgeGuard::start(&mock.base_url());
    let body = fixture("first_turn");
    let answer = post(
        &responses_url(&bridge),
        body.to_string().as_bytes(),
        &[
            ("session-id", "019a-thread-1"),
            ("authorization", "Bearer sk-chatgpt-token"),
            ("chatgpt-account-id", "acct-1"),
            ("cookie", "session=1"),
        ],
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/event-stream")));
    assert!(answer.header("openai-model").is_none());
    let events = answer.events();
    assert_well_formed(&events);
    let types = event_types(&events);
    assert!(types.contains(&"response.output_text.delta"), "{types:?}");
    assert_eq!(types.last(), Some(&"response.completed"));
    let items = done_items(&events);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["type"], "message");
    assert_eq!(items[0]["content"][0]["text"], "Hello from the model.");
    let usage = &terminal(&events)["response"]["usage"];
    assert_eq!(usage["input_tokens"], 120);
    assert_eq!(usage["output_tokens"], 30);
    assert_eq!(usage["total_tokens"], 150);
    assert_eq!(usage["input_tokens_details"]["cached_tokens"], 64);
    assert_eq!(usage["output_tokens_details"]["reasoning_tokens"], 0);

    mock.assert_no_rejections();
    let calls = mock.chat_calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    for field in [
        "input",
        "include",
        "store",
        "reasoning",
        "prompt_cache_key",
        "client_metadata",
        "text",
    ] {
        assert!(
            call.body.get(field).is_none(),
            "{field} must not reach the upstream"
        );
    }
    assert_eq!(
        call.messages()[0]["role"],
        "system",
        "Codex's developer prompt leads as system"
    );
    assert_eq!(call.header("x-session-id"), Some("019a-thread-1"));
    assert_eq!(call.header("cache-control"), Some("no-cache"));
    for header in ["authorization", "chatgpt-account-id", "cookie"] {
        assert!(
            call.header(header).is_none(),
            "{header} must never be forwarded"
        );
    }
    assert!(call.tool_names().contains(&"exec_command".to_owned()));
    assert!(
        call.tool_names().contains(&"apply_patch".to_owned()),
        "freeform tool offered as a function"
    );
}

#[test]
fn every_captured_codex_history_is_accepted_by_a_strict_upstream() {
    let mock = MockUpstream::start(|_| Reply::text("ok"));
    let bridge = BridgeGuard::start(&mock.base_url());
    for name in [
        "first_turn",
        "shell_call_followup",
        "apply_patch_followup",
        "two_calls_followup",
        "image_input",
        "mcp_namespace",
        "reasoning_followup",
    ] {
        let answer = post_json(&responses_url(&bridge), &fixture(name));
        assert_eq!(answer.status, 200, "{name}: {}", answer.body);
        assert_eq!(
            terminal(&answer.events())["type"],
            "response.completed",
            "{name}"
        );
    }
    mock.assert_no_rejections();
    assert_eq!(mock.chat_calls().len(), 7);
    let image_call = &mock.chat_calls()[4];
    let has_image = image_call.messages().iter().any(|m| {
        m["content"]
            .as_array()
            .is_some_and(|parts| parts.iter().any(|p| p["type"] == "image_url"))
    });
    assert!(
        has_image,
        "the image reaches the upstream as an image_url part"
    );
}

#[test]
fn tool_calls_come_back_as_codex_items() {
    let mock = MockUpstream::replies(vec![Reply::text_and_tool_calls(
        "Let me look.",
        vec![
            ("exec_command", json!({"cmd": "ls"})),
            (
                "apply_patch",
                json!({"input": "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch\n"}),
            ),
            ("mcp__demo__add_numbers", json!({"a": 2, "b": 3})),
        ],
    )]);
    let bridge = BridgeGuard::start(&mock.base_url());
    let answer = post_json(&responses_url(&bridge), &fixture("mcp_namespace"));
    assert_eq!(answer.status, 200, "{}", answer.body);
    let events = answer.events();
    assert_well_formed(&events);
    let items = done_items(&events);
    let kinds: Vec<&str> = items.iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "message",
            "function_call",
            "custom_tool_call",
            "function_call"
        ]
    );
    assert_eq!(items[1]["name"], "exec_command");
    assert!(
        items[1]["arguments"].is_string(),
        "arguments must be a JSON string"
    );
    assert!(items[1]["call_id"].as_str().is_some_and(|c| !c.is_empty()));
    assert_eq!(items[2]["name"], "apply_patch");
    assert_eq!(
        items[2]["input"],
        "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch\n"
    );
    assert_eq!(items[3]["namespace"], "mcp__demo");
    assert_eq!(items[3]["name"], "add_numbers");
    let args: Value = serde_json::from_str(items[3]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"a": 2, "b": 3}));
}

#[test]
fn leaked_tool_calls_in_text_become_real_calls() {
    let leaked =
        "<tool_call>{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"pwd\"}}</tool_call>";
    let mock = MockUpstream::replies(vec![Reply::text(leaked)]);
    let bridge = BridgeGuard::start(&mock.base_url());
    let events = post_json(&responses_url(&bridge), &fixture("first_turn")).events();
    let items = done_items(&events);
    assert!(
        items.iter().all(|i| i["type"] != "message"),
        "the leaked span leaves the visible text"
    );
    let call = items
        .iter()
        .find(|i| i["type"] == "function_call")
        .expect("recovered call");
    assert_eq!(call["name"], "exec_command");
    let args: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args["cmd"], "pwd");
}

#[test]
fn stream_false_gets_a_response_object() {
    let mock = MockUpstream::replies(vec![Reply::text("plain answer")]);
    let bridge = BridgeGuard::start(&mock.base_url());
    let answer = post_json(
        &responses_url(&bridge),
        &json!({"model": "blockrun/auto", "input": "hi", "stream": false}),
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json")));
    let response = answer.json();
    assert_eq!(response["object"], "response");
    assert_eq!(response["status"], "completed");
    assert_eq!(response["output"][0]["content"][0]["text"], "plain answer");
    for field in ["error", "incomplete_details", "previous_response_id"] {
        assert!(
            response.get(field).is_some_and(Value::is_null),
            "{field} present and null"
        );
    }
    assert_eq!(
        mock.chat_calls()[0].messages(),
        [json!({"role": "user", "content": "hi"})]
    );
}

#[test]
fn length_finish_is_incomplete() {
    let mock = MockUpstream::replies(vec![Reply::text("cut sh").finish_reason("length")]);
    let bridge = BridgeGuard::start(&mock.base_url());
    let events = post_json(&responses_url(&bridge), &fixture("first_turn")).events();
    let last = terminal(&events);
    assert_eq!(last["type"], "response.incomplete");
    assert_eq!(
        last["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );
}

#[test]
fn bodies_over_64_kib_arrive_whole() {
    let mock = MockUpstream::start(|_| Reply::text("ok"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let mut body = fixture("shell_call_followup");
    let big_output = "x".repeat(300 * 1024);
    let items = body["input"].as_array_mut().unwrap();
    for item in items.iter_mut() {
        if item["type"] == "function_call_output" {
            item["output"] = json!(big_output);
        }
    }
    let answer = post_json(&responses_url(&bridge), &body);
    assert_eq!(answer.status, 200, "{}", answer.body);
    mock.assert_no_rejections();
    let tool_message = mock.chat_calls()[0]
        .messages()
        .iter()
        .find(|m| m["role"] == "tool")
        .cloned()
        .expect("tool message");
    assert_eq!(content_text(&tool_message).len(), big_output.len());
}

#[test]
fn gzip_and_zstd_bodies_are_decoded() {
    use std::io::Write;
    let mock = MockUpstream::start(|_| Reply::text("ok"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let raw = fixture("first_turn").to_string().into_bytes();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw).unwrap();
    let gzipped = gz.finish().unwrap();
    let zstded = zstd::encode_all(&raw[..], 3).unwrap();
    for (encoding, body) in [("gzip", gzipped), ("zstd", zstded)] {
        let answer = post(
            &responses_url(&bridge),
            &body,
            &[("content-encoding", encoding)],
        );
        assert_eq!(answer.status, 200, "{encoding}: {}", answer.body);
    }
    mock.assert_no_rejections();
    assert_eq!(mock.chat_calls().len(), 2);
    assert!(mock
        .requests()
        .iter()
        .all(|r| r.header("content-encoding").is_none()));
}

/// A body, extra headers, the expected status, and a word the error message must contain.
type BadBodyCase = (
    Vec<u8>,
    Vec<(&'static str, &'static str)>,
    u16,
    &'static str,
);

#[test]
fn bad_bodies_get_a_clear_4xx_and_never_reach_the_upstream() {
    let mock = MockUpstream::start(|_| Reply::text("should not be called"));
    let bridge = BridgeGuard::start_with(&mock.base_url(), |file| {
        file.limits
            .get_or_insert_with(Default::default)
            .max_body_bytes = Some(64 * 1024);
    });
    let url = responses_url(&bridge);
    let cases: Vec<BadBodyCase> = vec![
        (
            b"{\"model\": \"m\", \"input\": [".to_vec(),
            vec![],
            400,
            "JSON",
        ),
        (
            json!({"model": "m", "input": 42}).to_string().into_bytes(),
            vec![],
            400,
            "input",
        ),
        (
            json!({"input": "hi"}).to_string().into_bytes(),
            vec![],
            400,
            "model",
        ),
        (vec![b' '; 100 * 1024], vec![], 413, "max_body_bytes"),
        (
            b"{}".to_vec(),
            vec![("content-type", "text/plain")],
            415,
            "application/json",
        ),
        (
            b"{}".to_vec(),
            vec![("content-encoding", "br")],
            415,
            "gzip",
        ),
        (
            b"not gzip".to_vec(),
            vec![("content-encoding", "gzip")],
            400,
            "gzip",
        ),
    ];
    for (body, headers, status, needle) in cases {
        let answer = post(&url, &body, &headers);
        assert_eq!(answer.status, status, "{needle}: {}", answer.body);
        let message = answer.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(message.contains(needle), "{needle} not in {message}");
    }
    let wrong_type = post(
        &url,
        json!({"model": "m", "input": 42}).to_string().as_bytes(),
        &[],
    );
    assert_eq!(wrong_type.json()["error"]["param"], "input");
    assert!(mock.requests().is_empty(), "the upstream was called");
}

#[test]
fn unknown_input_items_are_skipped_not_fatal() {
    let mock = MockUpstream::start(|_| Reply::text("ok"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let body = json!({"model": "m", "stream": true, "input": [
        {"type": "future_item_kind", "payload": {"x": 1}},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    ]});
    let answer = post_json(&responses_url(&bridge), &body);
    assert_eq!(answer.status, 200, "{}", answer.body);
    mock.assert_no_rejections();
}

// ---- upstream failures -------------------------------------------------------------------

fn failed_event(answer: &Answer) -> Value {
    assert_eq!(answer.status, 200, "{}", answer.body);
    let events = answer.events();
    assert_well_formed(&events);
    let last = terminal(&events).clone();
    assert_eq!(last["type"], "response.failed", "{}", answer.body);
    last["response"]["error"].clone()
}

#[test]
fn payment_failure_is_fatal_with_the_wallet_message_and_a_hint() {
    let mock = MockUpstream::replies(vec![Reply::insufficient_funds()]);
    let bridge = BridgeGuard::start(&mock.base_url());
    let error = failed_event(&post_json(&responses_url(&bridge), &fixture("first_turn")));
    assert_eq!(
        error["code"], "invalid_prompt",
        "a code Codex does not retry and whose message it shows"
    );
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("Insufficient USDC balance"), "{message}");
    assert!(message.contains("clawrouter-codex doctor"), "{message}");
}

#[test]
fn rate_limit_tells_codex_when_to_retry() {
    let mock = MockUpstream::replies(vec![Reply::rate_limited(), Reply::rate_limited()]);
    let bridge = BridgeGuard::start(&mock.base_url());
    let error = failed_event(&post_json(&responses_url(&bridge), &fixture("first_turn")));
    assert_eq!(error["code"], "rate_limit_exceeded");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("try again in 2s"),
        "{error}"
    );

    let answer = post_json(
        &responses_url(&bridge),
        &json!({"model": "m", "input": "hi", "stream": false}),
    );
    assert_eq!(answer.status, 429, "{}", answer.body);
    let retry_after: u64 = answer
        .header("retry-after")
        .expect("retry-after")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    assert_eq!(answer.json()["error"]["code"], "rate_limit_exceeded");
}

#[test]
fn silent_upstream_gets_keepalive_events() {
    let mock = MockUpstream::replies(vec![
        Reply::text("finally").delayed(Duration::from_millis(3500))
    ]);
    let bridge = BridgeGuard::start_with(&mock.base_url(), |file| file.keepalive_secs = Some(1));
    let answer = post_json(&responses_url(&bridge), &fixture("first_turn"));
    let events = answer.events();
    assert_well_formed(&events);
    let keepalives = events
        .iter()
        .filter(|e| e["type"] == "response.in_progress")
        .count();
    assert!(
        (3..=5).contains(&keepalives),
        "{keepalives} in_progress events over 3.5 s at 1 s"
    );
    assert_eq!(terminal(&events)["type"], "response.completed");
}

#[test]
fn first_byte_arrives_before_the_upstream_answers() {
    use std::io::{Read, Write};
    let mock = MockUpstream::replies(vec![Reply::text("slow").delayed(Duration::from_secs(2))]);
    let bridge = BridgeGuard::start(&mock.base_url());
    let body = fixture("first_turn").to_string();
    let request = format!(
        "POST /v1/responses HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        bridge.addr(),
        body.len(),
        body
    );
    let mut stream = std::net::TcpStream::connect(bridge.addr()).unwrap();
    let sent = Instant::now();
    stream.write_all(request.as_bytes()).unwrap();
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).unwrap();
    assert!(
        sent.elapsed() < Duration::from_millis(1000),
        "first byte after {:?}",
        sent.elapsed()
    );
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}

#[test]
fn context_overflow_becomes_codexs_context_window_error() {
    let mock = MockUpstream::replies(vec![Reply::context_length_exceeded()]);
    let bridge = BridgeGuard::start(&mock.base_url());
    let error = failed_event(&post_json(&responses_url(&bridge), &fixture("first_turn")));
    assert_eq!(error["code"], "context_length_exceeded");
}

#[test]
fn client_errors_stop_with_the_upstream_message() {
    for status in [400, 401, 403, 404] {
        let mock = MockUpstream::replies(vec![Reply::json(
            status,
            json!({"error": {"message": format!("upstream says no ({status})"), "type": "invalid_request_error"}}),
        )]);
        let bridge = BridgeGuard::start(&mock.base_url());
        let error = failed_event(&post_json(&responses_url(&bridge), &fixture("first_turn")));
        assert_eq!(error["code"], "invalid_prompt");
        assert!(error["message"]
            .as_str()
            .unwrap()
            .contains(&format!("upstream says no ({status})")));
    }
}

#[test]
fn server_and_transport_failures_are_retryable_and_say_what_failed() {
    let cases = [
        (Reply::fetch_failed(500), "fetch failed"),
        (
            Reply::plain(502, "All models in fallback chain failed"),
            "All models in fallback chain failed",
        ),
        (
            Reply::garbage(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello".to_vec()),
            "not a chat completion",
        ),
        (Reply::close_mid_body(), "connection"),
        (Reply::hang_up(), "closed the connection before answering"),
        (Reply::reset(), "closed the connection before answering"),
    ];
    for (reply, needle) in cases {
        // The chat call reuses the connection of the bridge's /health probe, and a reused
        // connection that closes without a byte of answer is tried once more on a fresh one
        // (tests/robustness.rs): that attempt fails the same way.
        let mock = MockUpstream::replies(vec![reply.clone(), reply]);
        let bridge = BridgeGuard::start(&mock.base_url());
        let error = failed_event(&post_json(&responses_url(&bridge), &fixture("first_turn")));
        assert_eq!(error["code"], "server_error", "{needle}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(needle), "{needle} not in {message}");
        for internal in ["Peer", "HttpPeer", "Fail to", "ConnectRefused"] {
            assert!(
                !message.contains(internal),
                "internal detail {internal} leaked: {message}"
            );
        }
    }
}

#[test]
fn refused_upstream_still_gets_an_answer() {
    let dead = format!("http://127.0.0.1:{}/v1", free_port());
    let bridge = BridgeGuard::start(&dead);
    let started = Instant::now();
    let error = failed_event(&post_json(&responses_url(&bridge), &fixture("first_turn")));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("connection refused"),
        "{error}"
    );
}

#[test]
fn silent_upstream_times_out_with_a_clear_failure() {
    let mock = MockUpstream::replies(vec![Reply::text("late").delayed(Duration::from_secs(5))]);
    let bridge = BridgeGuard::start_with(&mock.base_url(), |file| {
        file.upstream
            .get_or_insert_with(Default::default)
            .read_timeout_secs = Some(1);
    });
    let error = failed_event(&post_json(&responses_url(&bridge), &fixture("first_turn")));
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("sent nothing for 1 s"),
        "{error}"
    );
}

#[test]
fn stream_false_failures_are_http_errors() {
    let mock = MockUpstream::replies(vec![Reply::insufficient_funds()]);
    let bridge = BridgeGuard::start(&mock.base_url());
    let answer = post_json(
        &responses_url(&bridge),
        &json!({"model": "m", "input": "hi", "stream": false}),
    );
    assert_eq!(answer.status, 402, "{}", answer.body);
    assert!(answer.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Insufficient USDC balance"));
}

#[test]
fn codex_retries_reach_the_upstream_again() {
    // ClawRouter replays identical requests for 30 s unless told not to cache.
    let mock = MockUpstream::replies(vec![Reply::fetch_failed(500), Reply::text("recovered")]);
    let bridge = BridgeGuard::start(&mock.base_url());
    let body = fixture("first_turn");
    let _ = post_json(&responses_url(&bridge), &body);
    let second = post_json(&responses_url(&bridge), &body);
    assert_eq!(terminal(&second.events())["type"], "response.completed");
    assert!(mock
        .chat_calls()
        .iter()
        .all(|c| c.header("cache-control") == Some("no-cache")));
}

#[test]
fn health_endpoints_answer() {
    let mock = MockUpstream::start(|_| Reply::text("unused"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let basic = get(&bridge.url("/health"), &[]);
    assert_eq!(basic.status, 200);
    assert_eq!(basic.json()["status"], "ok");
    assert_eq!(basic.json()["upstream"], mock.base_url());
    let full = get(&bridge.url("/health?full=true"), &[]).json();
    assert_eq!(full["upstream_reachable"], true);
    assert!(full.get("wallet").is_some(), "{full}");
    assert!(full.get("isEmpty").is_some(), "{full}");

    let dead = BridgeGuard::start(&format!("http://127.0.0.1:{}/v1", free_port()));
    let full = get(&dead.url("/health?full=true"), &[]).json();
    assert_eq!(full["status"], "ok");
    assert_eq!(full["upstream_reachable"], false);
}

#[test]
fn stream_false_client_disconnect_drops_the_upstream_request() {
    let mock = MockUpstream::replies(vec![
        Reply::text("never read").delayed(Duration::from_secs(20))
    ]);
    let bridge = BridgeGuard::start(&mock.base_url());
    let body = json!({"model": "m", "input": "hi", "stream": false}).to_string();
    common::assert_hang_up_drops_upstream(&bridge, &mock, &body, false);
}
