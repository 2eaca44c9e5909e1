//! Regression tests for the defects a hostile run found (one test each): bodies that must be
//! refused before any upstream call, encodings that must decode, parts that must be counted,
//! and clients that must get a clear answer.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::bridge::BridgeGuard;
use common::client::{get, post};
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

/// Sends raw bytes, reads until the server closes or `timeout`; the whole answer.
fn raw(addr: &str, request: &[u8], timeout: Duration) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(timeout)).unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
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
    let answer = raw(&bridge.addr(), request.as_bytes(), Duration::from_secs(20));
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
