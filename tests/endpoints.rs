//! Everything besides the translation: pass-through, local endpoints, request hygiene, and
//! the Pingora framing pitfalls (docs/ARCHITECTURE.md, Pingora mechanics) as regression tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::bridge::{free_port, BridgeGuard};
use common::client::{fixture, get, post, raw_exchange};
use common::mock_upstream::{MockUpstream, Reply};
use serde_json::{json, Value};

#[test]
fn models_and_chat_completions_pass_through_unchanged() {
    let mock = MockUpstream::start(|_| Reply::text("direct"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let models = get(&bridge.url("/v1/models"), &[]);
    assert_eq!(models.status, 200);
    let ids: Vec<String> = models.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(ids.contains(&"auto".to_owned()), "{ids:?}");

    let chat = json!({"model": "auto", "messages": [{"role": "user", "content": "hi"}]});
    let answer = post(
        &bridge.url("/v1/chat/completions"),
        chat.to_string().as_bytes(),
        &[
            ("authorization", "Bearer leaked-token"),
            ("x-custom", "kept"),
        ],
    );
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["choices"][0]["message"]["content"], "direct");
    mock.assert_no_rejections();
    let request = mock
        .requests()
        .into_iter()
        .find(|r| r.is_chat())
        .expect("chat request");
    assert_eq!(request.json.as_ref(), Some(&chat), "body unchanged");
    assert!(
        request.header("authorization").is_none(),
        "client credentials never forwarded"
    );
    assert_eq!(request.header("x-custom"), Some("kept"));
}

#[test]
fn passthrough_rejections_from_the_strict_upstream_reach_the_client() {
    let mock = MockUpstream::start(|_| Reply::text("unused"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let bad = json!({"model": "auto", "input": "responses-style", "messages": []});
    let answer = post(
        &bridge.url("/v1/chat/completions"),
        bad.to_string().as_bytes(),
        &[],
    );
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["error"]["type"], "invalid_request_error");
}

#[test]
fn chunked_passthrough_body_arrives_whole() {
    // Non-final chunks must not end the upstream body (docs/ARCHITECTURE.md, Pingora mechanics).
    let mock = MockUpstream::start(|_| Reply::text("unused"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let payload = json!({"input": "x".repeat(200_000)}).to_string();
    let mut request = format!(
        "POST /v1/embeddings HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        bridge.addr()
    )
    .into_bytes();
    for piece in payload.as_bytes().chunks(7_000) {
        request.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        request.extend_from_slice(piece);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let answer = raw_exchange(&bridge.addr(), &request, Duration::from_secs(10));
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "{}",
        &answer[..answer.len().min(300)]
    );
    let echoed = mock
        .requests()
        .into_iter()
        .find(|r| r.path == "/v1/embeddings")
        .expect("echo request");
    assert_eq!(echoed.body.len(), payload.len());
}

#[test]
fn local_sse_is_chunked_and_the_connection_is_reused() {
    let mock = MockUpstream::start(|_| Reply::text("hi"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let body = fixture("first_turn").to_string();
    let request = format!(
        "POST /v1/responses HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}",
        bridge.addr(),
        body.len(),
        body
    );
    let mut stream = TcpStream::connect(bridge.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    for round in 0..2 {
        stream.write_all(request.as_bytes()).unwrap();
        let text = read_chunked_response(&mut stream);
        assert!(text.starts_with("HTTP/1.1 200"), "round {round}: {text}");
        assert!(
            text.to_ascii_lowercase()
                .contains("transfer-encoding: chunked"),
            "round {round}"
        );
        assert!(text.contains("response.completed"), "round {round}");
    }
    assert_eq!(mock.chat_calls().len(), 2);
}

/// Reads one chunked HTTP response (headers + body up to the terminating chunk).
fn read_chunked_response(stream: &mut TcpStream) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 16384];
    while !data.ends_with(b"\r\n0\r\n\r\n") {
        let n = stream
            .read(&mut buf)
            .expect("read before the terminating chunk");
        assert!(n > 0, "connection closed before the terminating chunk");
        data.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&data).into_owned()
}

#[test]
fn passthrough_to_a_dead_upstream_is_a_clean_502() {
    let dead_port = free_port();
    let bridge = BridgeGuard::start(&format!("http://127.0.0.1:{dead_port}/v1"));
    let answer = get(&bridge.url("/v1/models"), &[]);
    assert_eq!(answer.status, 502);
    let message = answer.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("cannot reach the upstream"), "{message}");
    for internal in ["Peer", "HttpPeer", "Fail to", "addr:", "context:"] {
        assert!(
            !message.contains(internal),
            "internal detail {internal} leaked: {message}"
        );
    }
}

#[test]
fn ollama_style_endpoints() {
    let mock = MockUpstream::start(|_| Reply::text("unused"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let version = get(&bridge.url("/api/version"), &[]).json();
    assert!(version["version"].as_str().is_some());
    let tags = get(&bridge.url("/api/tags"), &[]).json();
    let names: Vec<&str> = tags["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"auto"), "{names:?}");
}

#[test]
fn websocket_upgrade_is_refused_at_once_when_turned_off() {
    let mock = MockUpstream::start(|_| Reply::text("unused"));
    let bridge = BridgeGuard::start_with(&mock.base_url(), |file| {
        file.websocket = Some(clawrouter_codex::ws_session::settings::FileWebSocket {
            enabled: Some(false),
            ..Default::default()
        });
    });
    let request = format!(
        "GET /v1/responses HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        bridge.addr()
    );
    let answer = raw_exchange(&bridge.addr(), request.as_bytes(), Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 426"), "{answer}");
    assert!(answer.contains("supports_websockets"), "{answer}");
    assert!(mock.requests().is_empty());
}

#[test]
fn unknown_paths_are_404_json() {
    let mock = MockUpstream::start(|_| Reply::text("unused"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let answer = get(&bridge.url("/admin"), &[]);
    assert_eq!(answer.status, 404);
    assert!(answer.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("/v1/responses"));
}

#[test]
fn browser_and_rebinding_attacks_are_refused_before_any_upstream_call() {
    let mock = MockUpstream::start(|_| Reply::text("must not run"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let body = fixture("first_turn").to_string();
    let cases: [(&[(&str, &str)], u16); 5] = [
        (&[("origin", "https://evil.example")], 403),
        (&[("origin", "null")], 403),
        (&[("sec-fetch-site", "cross-site")], 403),
        (&[("content-type", "text/plain")], 415),
        (&[("host", "rebind.evil.example:8403")], 421),
    ];
    for (headers, status) in cases {
        for path in ["/v1/responses", "/v1/chat/completions"] {
            let answer = post(&bridge.url(path), body.as_bytes(), headers);
            assert_eq!(answer.status, status, "{path} {headers:?}: {}", answer.body);
            let parsed: Value = answer.json();
            assert!(parsed["error"]["message"].is_string());
        }
    }
    let answer = get(
        &bridge.url("/v1/models"),
        &[("origin", "https://evil.example")],
    );
    assert_eq!(answer.status, 403);
    assert!(mock.requests().is_empty(), "the upstream was called");
}

#[test]
fn non_loopback_listen_requires_the_token() {
    let mock = MockUpstream::start(|_| Reply::text("ok"));
    let bridge = BridgeGuard::start_with(&mock.base_url(), |file| {
        file.listen = Some(format!("0.0.0.0:{}", free_port()));
        file.auth_token = Some("t0ken".into());
    });
    let url = format!(
        "http://127.0.0.1:{}/health",
        bridge.addr().rsplit(':').next().unwrap()
    );
    assert_eq!(get(&url, &[]).status, 401);
    assert_eq!(get(&url, &[("authorization", "Bearer t0ken")]).status, 200);
    let chat = json!({"model": "auto", "messages": [{"role": "user", "content": "hi"}]});
    let answer = post(
        &url.replace("/health", "/v1/chat/completions"),
        chat.to_string().as_bytes(),
        &[("authorization", "Bearer t0ken")],
    );
    assert_eq!(answer.status, 200);
    let request = mock.requests().into_iter().find(|r| r.is_chat()).unwrap();
    assert!(
        request.header("authorization").is_none(),
        "our token is not the upstream's"
    );
}
