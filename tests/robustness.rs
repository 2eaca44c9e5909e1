//! Regression tests for the defects a hostile run found (one test each): bodies that must be
//! refused before any upstream call, encodings that must decode, parts that must be counted,
//! and clients that must get a clear answer.

mod common;

use std::io::Write;
use std::time::Duration;

use common::bridge::BridgeGuard;
use common::client::{get, post, raw_exchange};
use common::mock_upstream::{MockUpstream, Reply};
use serde_json::json;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[test]
fn missing_or_empty_input_is_refused_before_any_upstream_call() {
    let mock = MockUpstream::start(|_| Reply::text("never"));
    let bridge = BridgeGuard::start(&mock.base_url());
    for body in [
        json!({"model": "m"}),
        json!({"model": "m", "input": []}),
        json!({"model": "m", "input": ""}),
        json!({"model": "m", "input": null, "instructions": "sys"}),
    ] {
        let answer = post(
            &bridge.url("/v1/responses"),
            body.to_string().as_bytes(),
            &[],
        );
        assert_eq!(answer.status, 400, "{body}");
        assert_eq!(answer.json()["error"]["param"], "input", "{}", answer.body);
    }
    assert!(mock.chat_calls().is_empty(), "the upstream was called");
}

#[test]
fn a_multi_member_gzip_body_is_decoded_whole() {
    let mock = MockUpstream::start(|_| Reply::text("ok"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let mut body = gzip(br#"{"model":"m","#);
    body.extend(gzip(br#""input":"from two members"}"#));
    let answer = post(
        &bridge.url("/v1/responses"),
        &body,
        &[("content-encoding", "gzip")],
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        mock.chat_calls()[0].messages()[0]["content"],
        "from two members"
    );
}

#[test]
fn content_parts_of_an_unknown_type_are_counted() {
    let mock = MockUpstream::start(|_| Reply::text("ok"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let body = json!({"model": "m", "input": [{"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "look"},
        {"type": "input_hologram", "data": "…"}]}]});
    let answer = post(
        &bridge.url("/v1/responses"),
        body.to_string().as_bytes(),
        &[],
    );
    assert_eq!(answer.status, 200);
    assert_eq!(mock.chat_calls()[0].messages()[0]["content"], "look");
    let metrics = get(&bridge.url("/metrics"), &[]).body;
    assert!(
        metrics.contains("clawrouter_codex_unknown_content_parts_total 1"),
        "{metrics}"
    );
}

#[test]
fn an_http_1_0_client_gets_a_stream_without_chunked_framing() {
    let mock = MockUpstream::start(|_| Reply::text("hello over HTTP/1.0"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let body = json!({"model": "m", "stream": true, "input": "hi"}).to_string();
    let request = format!(
        "POST /v1/responses HTTP/1.0\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        bridge.addr(),
        body.len()
    );
    let answer = raw_exchange(&bridge.addr(), request.as_bytes(), Duration::from_secs(20));
    let (head, rest) = answer.split_once("\r\n\r\n").expect("a whole answer");
    assert!(head.starts_with("HTTP/1."), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("transfer-encoding"),
        "HTTP/1.0 forbids chunked framing: {head}"
    );
    assert!(rest.contains("response.completed"), "{rest}");
    assert!(rest.contains("hello over HTTP/1.0"));
    assert!(!rest.contains("\r\n0\r\n"), "no chunk framing in the body");
}

fn ask(bridge: &BridgeGuard, text: &str) -> common::client::Answer {
    let body = json!({"model": "m", "stream": false, "input": text});
    post(
        &bridge.url("/v1/responses"),
        body.to_string().as_bytes(),
        &[],
    )
}

#[test]
fn a_pooled_connection_closed_as_it_is_reused_is_replaced_not_reported() {
    // The upstream closes each kept-alive connection as the next request arrives, unread:
    // Node's idle time-out racing the bridge's reuse. The request is sent again on a fresh
    // connection, and the upstream answers it once.
    let mock = MockUpstream::builder()
        .close_reused_connections()
        .start(|call| Reply::text(format!("answer {}", call.index)));
    let bridge = BridgeGuard::start(&mock.base_url());
    for turn in 0..3 {
        let answer = ask(&bridge, "hi");
        assert_eq!(answer.status, 200, "turn {turn}: {}", answer.body);
        assert_eq!(
            answer.json()["output"][0]["content"][0]["text"],
            format!("answer {turn}")
        );
    }
    assert_eq!(
        mock.dropped_on_reuse(),
        2,
        "turns 2 and 3 met a closing connection"
    );
    assert_eq!(
        mock.chat_calls().len(),
        3,
        "each turn reached the model once"
    );
}

#[test]
fn a_request_the_upstream_may_have_processed_is_never_sent_twice() {
    // A fresh connection that closes after reading the request, and a reused one that closes
    // after the first bytes of an answer: either may have been paid for.
    let mock = MockUpstream::replies(vec![
        Reply::text("first"),
        Reply::garbage(b"HTTP/1.1 200 OK\r\ncontent-ty".to_vec()),
    ]);
    let bridge = BridgeGuard::start(&mock.base_url());
    assert_eq!(ask(&bridge, "one").status, 200);
    let answer = ask(&bridge, "two");
    assert_eq!(answer.status, 502, "{}", answer.body);
    assert_eq!(
        mock.chat_calls().len(),
        2,
        "the broken call was not repeated"
    );

    let mock = MockUpstream::replies(vec![Reply::hang_up()]);
    let bridge = BridgeGuard::start(&mock.base_url());
    let answer = ask(&bridge, "fresh");
    assert_eq!(answer.status, 502, "{}", answer.body);
    assert_eq!(
        mock.chat_calls().len(),
        1,
        "a fresh connection is never retried"
    );
}

#[test]
fn idle_upstream_connections_are_dropped_before_the_upstream_drops_them() {
    // The upstream keeps idle connections 3 s; with pool_idle_secs 1 the bridge has let go of
    // its connection when the next turn comes 1.5 s later, so it opens a new one.
    let mock = MockUpstream::builder()
        .keep_alive_timeout(Duration::from_secs(3))
        .start(|_| Reply::text("ok"));
    let bridge = BridgeGuard::start_with(&mock.base_url(), |file| {
        if let Some(upstream) = file.upstream.as_mut() {
            upstream.pool_idle_secs = Some(1);
        }
    });
    assert_eq!(ask(&bridge, "one").status, 200);
    assert_eq!(ask(&bridge, "two").status, 200);
    assert_eq!(
        mock.connections_accepted(),
        1,
        "back-to-back turns share a connection"
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(ask(&bridge, "three").status, 200);
    assert_eq!(
        mock.connections_accepted(),
        2,
        "the idle connection was not kept past 1 s"
    );
}
