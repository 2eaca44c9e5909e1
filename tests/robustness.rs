//! Regression tests for the defects a hostile run found (one test each): bodies that must be
//! refused before any upstream call, encodings that must decode, parts that must be counted,
//! and clients that must get a clear answer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use clawrouter_codex::config::{FileLimits, FileServer};
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
    // The request is counted when it is logged, just after its answer went out.
    let counted = "clawrouter_codex_unknown_content_parts_total 1";
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut metrics = get(&bridge.url("/metrics"), &[]).body;
    while !metrics.contains(counted) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        metrics = get(&bridge.url("/metrics"), &[]).body;
    }
    assert!(metrics.contains(counted), "{metrics}");
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
    let (mock, bridge) = closing_reused_connections();
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
    assert_never_sent_twice(|bridge| ask(bridge, "hi"));
}

/// A fresh connection that closes after reading the request, and a reused one that closes
/// after the first bytes of an answer: either may have been paid for, so `send` (one chat
/// request through the bridge) gets a 502 and the upstream is not called again.
fn assert_never_sent_twice(send: impl Fn(&BridgeGuard) -> common::client::Answer) {
    let mock = MockUpstream::replies(vec![
        Reply::text("first"),
        Reply::garbage(b"HTTP/1.1 200 OK\r\ncontent-ty".to_vec()),
    ]);
    let bridge = BridgeGuard::start(&mock.base_url());
    assert_eq!(send(&bridge).status, 200);
    let answer = send(&bridge);
    assert_eq!(answer.status, 502, "{}", answer.body);
    assert_eq!(
        mock.chat_calls().len(),
        2,
        "the broken call was not repeated"
    );

    let mock = MockUpstream::replies(vec![Reply::hang_up()]);
    let bridge = BridgeGuard::start(&mock.base_url());
    let answer = send(&bridge);
    assert_eq!(answer.status, 502, "{}", answer.body);
    assert_eq!(
        mock.chat_calls().len(),
        1,
        "a fresh connection is never retried"
    );
}

#[test]
fn idle_upstream_connections_are_dropped_before_the_upstream_drops_them() {
    // The upstream closes idle connections after 5 s, like Node; with pool_idle_secs 1 the
    // bridge lets go of its idle connection first, so it never reuses one being closed.
    let mock = MockUpstream::builder()
        .keep_alive_timeout(Duration::from_secs(5))
        .start(|_| Reply::text("ok"));
    let bridge = BridgeGuard::start_with(&mock.base_url(), |file| {
        if let Some(upstream) = file.upstream.as_mut() {
            upstream.pool_idle_secs = Some(1);
        }
    });
    assert_eq!(ask(&bridge, "one").status, 200);
    assert!(
        mock.wait_for_idle_close(Duration::from_secs(30)),
        "the idle connection was never closed"
    );
    assert_eq!(
        mock.idle_closes(),
        (1, 0),
        "closed by the bridge, not the upstream"
    );
    assert_eq!(ask(&bridge, "two").status, 200);
    assert_eq!(
        mock.connections_accepted(),
        2,
        "the next turn opened a new one"
    );
}

// ---- client connections: bounds (src/connection_guard.rs) ---------------------------------

/// A bridge whose `server:` section is set by `tweak`.
fn bridge_with_server(mock: &MockUpstream, tweak: impl FnOnce(&mut FileServer)) -> BridgeGuard {
    BridgeGuard::start_with(&mock.base_url(), |file| {
        let mut server = FileServer::default();
        tweak(&mut server);
        file.server = Some(server);
    })
}

fn connect(bridge: &BridgeGuard) -> TcpStream {
    let stream = TcpStream::connect(bridge.addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("read timeout");
    stream
}

/// Reads one whole answer with a Content-Length body: (head, body). Reads nothing past its end,
/// so a pipelined answer that follows in the same segment is left for the next call.
fn read_answer(stream: &mut TcpStream) -> (String, String) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("the answer arrives");
        assert!(
            n > 0,
            "closed before a whole answer: {:?}",
            String::from_utf8_lossy(&head)
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head[..head.len() - 4]).into_owned();
    let length = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream
        .read_exact(&mut body)
        .expect("the whole body arrives");
    (head, String::from_utf8_lossy(&body).into_owned())
}

/// True when the peer has closed the connection (a read returns end of file).
fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.read(&mut byte), Ok(0))
}

fn refusals(bridge: &BridgeGuard, reason: &str) -> String {
    let metrics = get(&bridge.url("/metrics"), &[]).body;
    let needle = format!("clawrouter_codex_refused_connections_total{{reason=\"{reason}\"}}");
    metrics
        .lines()
        .find(|l| l.starts_with(&needle))
        .map(|l| l[needle.len()..].trim().to_owned())
        .unwrap_or_else(|| "0".to_owned())
}

#[test]
fn a_header_trickled_byte_by_byte_is_cut_off_at_the_deadline() {
    let mock = MockUpstream::start(|_| Reply::text("never"));
    let bridge = bridge_with_server(&mock, |s| s.header_timeout_secs = Some(1));
    let mut stream = connect(&bridge);
    stream.write_all(b"GET /health HTTP/1.1\r\n").unwrap();
    // One byte every 200 ms: each read comes well within any per-read time-out.
    let mut answer = String::new();
    for byte in b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter()
    {
        if stream.write_all(&[*byte]).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        stream.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 4096];
        if let Ok(n) = stream.read(&mut buf) {
            answer.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        stream.set_nonblocking(false).unwrap();
        if !answer.is_empty() {
            break;
        }
    }
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer:?}");
    assert!(answer.contains("header_timeout_secs"), "{answer}");
    assert!(closed_by_peer(&mut stream), "the connection is closed");
    assert_eq!(refusals(&bridge, "header_timeout"), "1");
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let mock = MockUpstream::start(|_| Reply::text("never"));
    let bridge = bridge_with_server(&mock, |s| s.idle_timeout_secs = Some(1));
    let mut stream = connect(&bridge);
    for _ in 0..2 {
        let request = format!("GET /health HTTP/1.1\r\nHost: {}\r\n\r\n", bridge.addr());
        stream.write_all(request.as_bytes()).unwrap();
        let (head, _) = read_answer(&mut stream);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    }
    // Nothing more is sent: the bridge closes the connection (the read would otherwise wait
    // for the 20 s read time-out and fail).
    assert!(
        closed_by_peer(&mut stream),
        "the idle connection was closed"
    );
}

#[test]
fn connections_over_the_cap_get_503_and_the_others_keep_working() {
    let mock = MockUpstream::start(|_| Reply::text("never"));
    let bridge = bridge_with_server(&mock, |s| s.max_connections = Some(2));
    let health = format!("GET /health HTTP/1.1\r\nHost: {}\r\n\r\n", bridge.addr());
    let metrics = format!("GET /metrics HTTP/1.1\r\nHost: {}\r\n\r\n", bridge.addr());
    let ask = |stream: &mut TcpStream, request: &str| {
        // A refused connection may be answered and closed before the request is written.
        let _ = stream.write_all(request.as_bytes());
        read_answer(stream)
    };
    // A closed connection holds its place until the bridge has seen it close (the start-up
    // probe's, a dropped one's): a new one is refused until then. Refusals are counted.
    let mut refused = 0;
    let mut take_a_place = |request: &str| {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut stream = connect(&bridge);
            let (head, body) = ask(&mut stream, request);
            if head.starts_with("HTTP/1.1 200") {
                return (stream, body);
            }
            assert!(head.starts_with("HTTP/1.1 503"), "{head}");
            refused += 1;
            assert!(Instant::now() < deadline, "no place became free");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    // Two kept-alive connections, answered: they hold both places.
    let (mut first, _) = take_a_place(&health);
    let (_second, _) = take_a_place(&health);
    let mut third = connect(&bridge);
    let (head, body) = ask(&mut third, &health);
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    assert!(body.contains("server.max_connections"), "{body}");
    assert!(closed_by_peer(&mut third));
    // The connections within the cap are still served.
    let (head, _) = ask(&mut first, &health);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // A closed connection's place is taken again.
    drop(first);
    let (_fourth, body) = take_a_place(&metrics);
    let counted = format!(
        "clawrouter_codex_refused_connections_total{{reason=\"connection_cap\"}} {}",
        refused + 1
    );
    assert!(body.contains(&counted), "{counted} missing:\n{body}");
}

#[test]
fn a_body_that_stops_arriving_gets_408_not_an_upstream_error() {
    let mock = MockUpstream::start(|_| Reply::text("never"));
    let bridge = bridge_with_server(&mock, |s| s.body_timeout_secs = Some(1));
    let mut stream = connect(&bridge);
    let request = format!(
        "POST /v1/responses HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{\"model\":",
        bridge.addr()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let (head, body) = read_answer(&mut stream);
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    assert!(body.contains("9 bytes came of the 100 announced"), "{body}");
    assert!(closed_by_peer(&mut stream));
    assert!(mock.requests().is_empty(), "the upstream was never called");
}

#[test]
fn oversized_headers_get_431_with_a_json_error() {
    let mock = MockUpstream::start(|_| Reply::text("never"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let many = "X-Many: y\r\n".repeat(1000);
    let huge = format!("X-Huge: {}\r\n", "a".repeat(4 << 20));
    for extra in [many, huge] {
        let request = format!(
            "GET /health HTTP/1.1\r\nHost: {}\r\n{extra}\r\n",
            bridge.addr()
        );
        let mut stream = connect(&bridge);
        // The bridge may answer and close before the whole header is sent.
        let _ = stream.write_all(request.as_bytes());
        let (head, body) = read_answer(&mut stream);
        assert!(head.starts_with("HTTP/1.1 431"), "{head}");
        let json: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
        assert!(json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too large"));
    }
    assert_eq!(refusals(&bridge, "header_too_large"), "2");
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let mock = MockUpstream::start(|_| Reply::text("pipelined answer"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let body = json!({"model": "m", "stream": false, "input": "hi"}).to_string();
    let host = bridge.addr();
    let requests = format!(
        "GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n\
         POST /v1/responses HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}\
         GET /api/version HTTP/1.1\r\nHost: {host}\r\n\r\n",
        body.len()
    );
    let mut stream = connect(&bridge);
    stream.write_all(requests.as_bytes()).unwrap();
    let (_, health) = read_answer(&mut stream);
    assert!(health.contains("\"status\""), "{health}");
    let (_, response) = read_answer(&mut stream);
    assert!(response.contains("pipelined answer"), "{response}");
    let (_, version) = read_answer(&mut stream);
    assert!(version.contains("version"), "{version}");
}

// ---- malformed requests: a clear 4xx, and the connection closed where it must be ------------

/// Sends `request` on a new connection; the whole answer (head, body) and whether the bridge
/// closed the connection after it.
fn exchange_once(bridge: &BridgeGuard, request: &[u8]) -> (String, String, bool) {
    let mut stream = connect(bridge);
    // The bridge may answer and close before everything is written.
    let _ = stream.write_all(request);
    let (head, body) = read_answer(&mut stream);
    let closed = closed_by_peer(&mut stream);
    (head, body, closed)
}

fn error_message(body: &str) -> String {
    let json: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("a JSON error body: {body:?}"));
    json["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_body_with_a_broken_chunk_size_gets_400_saying_so() {
    let mock = MockUpstream::start(|_| Reply::text("never"));
    let bridge = BridgeGuard::start(&mock.base_url());
    for chunked in [
        "zz\r\n{}\r\n0\r\n\r\n",
        "-1\r\n{}\r\n0\r\n\r\n",
        "10000000000000000\r\n{}\r\n0\r\n\r\n",
        "1\r\n{\"model\":\"m\"}\r\n0\r\n\r\n",
    ] {
        let request = format!(
            "POST /v1/responses HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\n\r\n{chunked}",
            bridge.addr()
        );
        let (head, body, closed) = exchange_once(&bridge, request.as_bytes());
        assert!(head.starts_with("HTTP/1.1 400"), "{chunked:?}: {head}");
        let message = error_message(&body);
        assert!(message.contains("chunked encoding"), "{message}");
        assert!(
            closed,
            "{chunked:?}: the connection stays open after a broken body"
        );
    }
    assert!(mock.requests().is_empty(), "the upstream was called");
}

#[test]
fn error_answers_quote_only_an_excerpt_of_what_was_wrong() {
    let mock = MockUpstream::start(|_| Reply::text("never"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let huge = "x".repeat(5_000_000);
    let body = json!({"model": "m", "input": [{"role": huge, "content": "hi"}]}).to_string();
    let answer = post(&bridge.url("/v1/responses"), body.as_bytes(), &[]);
    assert_eq!(answer.status, 400);
    assert!(answer.body.len() < 1_000, "{} bytes", answer.body.len());
    assert!(answer.body.contains("5000000 bytes"), "{}", answer.body);
    let body = json!({"model": "m", "input": "hi", "max_output_tokens": huge}).to_string();
    let answer = post(&bridge.url("/v1/responses"), body.as_bytes(), &[]);
    assert_eq!(answer.status, 400);
    assert!(answer.body.len() < 1_000, "{} bytes", answer.body.len());

    let host = "h".repeat(60_000);
    let request = format!("GET /v1/models HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let (head, body, _) = exchange_once(&bridge, request.as_bytes());
    assert!(head.starts_with("HTTP/1.1 421"), "{head}");
    assert!(body.len() < 1_000, "{} bytes: {body}", body.len());
}

#[test]
fn an_http_1_0_request_without_keep_alive_is_answered_then_closed() {
    let mock = MockUpstream::start(|_| Reply::text("never"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let request = format!("GET /health HTTP/1.0\r\nHost: {}\r\n\r\n", bridge.addr());
    let (head, body, closed) = exchange_once(&bridge, request.as_bytes());
    assert!(head.contains(" 200 "), "{head}");
    assert!(body.contains("\"status\""), "{body}");
    assert!(!head.to_ascii_lowercase().contains("keep-alive"), "{head}");
    assert!(closed, "the connection stays open");
    // An HTTP/1.0 client that asks for keep-alive keeps it.
    let request = format!(
        "GET /health HTTP/1.0\r\nHost: {}\r\nConnection: keep-alive\r\n\r\n",
        bridge.addr()
    );
    let mut stream = connect(&bridge);
    stream.write_all(request.as_bytes()).unwrap();
    let (head, _) = read_answer(&mut stream);
    assert!(head.to_ascii_lowercase().contains("keep-alive"), "{head}");
    stream.write_all(request.as_bytes()).unwrap();
    let (head, _) = read_answer(&mut stream);
    assert!(head.contains(" 200 "), "{head}");
}

#[test]
fn transfer_encoding_with_content_length_is_refused_and_nothing_more_is_read() {
    let mock = MockUpstream::start(|_| Reply::text("smuggled"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let host = bridge.addr();
    let hidden = format!("GET /v1/models HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{hidden}",
        5 + hidden.len()
    );
    let (head, body, closed) = exchange_once(&bridge, request.as_bytes());
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert!(
        error_message(&body).contains("both Transfer-Encoding and Content-Length"),
        "{body}"
    );
    assert!(closed, "the connection stays open for the smuggled request");
    assert!(mock.requests().is_empty(), "the upstream was called");
    assert_eq!(refusals(&bridge, "bad_framing"), "1");
}

#[test]
fn malformed_framing_gets_400_with_a_message_that_says_what() {
    let mock = MockUpstream::start(|_| Reply::text("never"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let host = bridge.addr();
    let post = |extra: &str| {
        format!("POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n{{}}")
    };
    let cases = [
        (
            post("Content-Length: 2\r\nContent-Length: 3\r\n"),
            "two different Content-Length",
        ),
        (post("Content-Length: +2\r\n"), "\"+2\" is not a number"),
        (post("Content-Length: -1\r\n"), "\"-1\" is not a number"),
        (post("Content-Length: abc\r\n"), "\"abc\" is not a number"),
        (
            post("Transfer-Encoding: gzip\r\n"),
            "\"gzip\" is not supported",
        ),
        (
            post("Content-Length: 2\r\nX-Folded: a\r\n b\r\n"),
            "folding",
        ),
        (
            post("Content-Length: 2\r\nX-Nul: a\0b\r\n"),
            "control character",
        ),
        (
            post(&format!("Content-Length: 2\r\nHost: {host}\r\n")),
            "2 Host headers",
        ),
        (
            format!("GET http://evil.example/v1/models HTTP/1.1\r\nHost: {host}\r\n\r\n"),
            "\"evil.example\"",
        ),
        ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_owned(), "HTTP/2"),
    ];
    for (request, expected) in &cases {
        let (head, body, closed) = exchange_once(&bridge, request.as_bytes());
        assert!(head.starts_with("HTTP/1.1 400"), "{request:?}: {head}");
        let message = error_message(&body);
        assert!(message.contains(expected), "{request:?}: {message}");
        assert!(closed, "{request:?}: the connection stays open");
    }
    assert!(mock.requests().is_empty(), "the upstream was called");
    assert_eq!(refusals(&bridge, "bad_framing"), cases.len().to_string());
}

#[test]
fn a_declared_body_over_the_limit_is_refused_without_waiting_for_it() {
    let mock = MockUpstream::start(|_| Reply::text("never"));
    let bridge = BridgeGuard::start_with(&mock.base_url(), |file| {
        file.limits = Some(FileLimits {
            max_body_bytes: Some(2_048),
        });
    });
    for path in ["/v1/responses", "/v1/chat/completions"] {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: 5000\r\n\r\n",
            bridge.addr()
        );
        // The body never comes: the answer must not wait for it (the read time-out of
        // `connect` is far shorter than the bridge's body time-out).
        let mut stream = connect(&bridge);
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let (head, body) = read_answer(&mut stream);
        assert!(head.starts_with("HTTP/1.1 413"), "{path}: {head}");
        assert!(body.contains("max_body_bytes"), "{path}: {body}");
    }
}

/// The release of memory after floods is a property of the binary (its allocator), so this
/// runs the built `clawrouter-codex`, not the in-process bridge.
#[test]
fn floods_of_refused_connections_leave_no_memory_behind() {
    let mock = MockUpstream::start(|_| Reply::text("never"));
    let dir = tempfile::tempdir().unwrap();
    let port = common::bridge::free_port();
    let config = dir.path().join("bridge.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:{port}\nupstream:\n  url: {}\nserver:\n  max_connections: 16\n",
            mock.base_url()
        ),
    )
    .unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_clawrouter-codex"))
        .args(["-c", config.to_str().unwrap(), "bridge"])
        .env_remove("CLAWROUTER_PROXY_URL")
        .env_remove("PORT")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let bridge = KillOnDrop(child);
    let addr = format!("127.0.0.1:{port}");
    let started = Instant::now();
    while TcpStream::connect(&addr).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the bridge did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let rss = || rss_kib(bridge.0.id());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(flood(&addr, 200));
    std::thread::sleep(Duration::from_secs(2));
    let idle = rss();
    // Each burst stays within the test's open-file limit; before the fix each refused
    // connection took 64 KiB, and glibc kept what they freed.
    let burst = open_file_limit().saturating_sub(256).clamp(200, 3_000);
    for _ in 0..3 {
        let refused = runtime.block_on(flood(&addr, burst));
        assert!(
            refused > burst / 2,
            "only {refused} of {burst} were refused"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut now = rss();
    while now > 2 * idle && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(250));
        now = rss();
    }
    assert!(
        now <= 2 * idle,
        "RSS {now} KiB after three floods of {burst} connections, idle {idle} KiB"
    );
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn open_file_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
            line.split_whitespace().nth(3)?.parse().ok()
        })
        .unwrap_or(1024)
}

/// Opens `count` connections at once, each asking `GET /health`, holds them until all have an
/// answer, then closes them all; returns how many were refused (503).
async fn flood(addr: &str, count: usize) -> usize {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let addr = addr.to_owned();
            tokio::spawn(async move {
                let mut stream = tokio::net::TcpStream::connect(&addr).await.ok()?;
                let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\n\r\n");
                stream.write_all(request.as_bytes()).await.ok()?;
                let mut head = [0u8; 12];
                tokio::time::timeout(Duration::from_secs(30), stream.read_exact(&mut head))
                    .await
                    .ok()?
                    .ok()?;
                Some((head.ends_with(b"503"), stream))
            })
        })
        .collect();
    let mut open = Vec::new();
    for task in tasks {
        if let Ok(Some(answer)) = task.await {
            open.push(answer);
        }
    }
    open.iter().filter(|(refused, _)| *refused).count()
}

#[test]
fn a_pipelined_request_whose_header_began_behind_a_body_is_answered() {
    let mock = MockUpstream::start(|_| Reply::text("pipelined answer"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let host = bridge.addr();
    let body = json!({"model": "m", "stream": false, "input": "hi"}).to_string();
    // The next request's first bytes come with this one's body; the rest in a later read.
    let first = format!(
        "POST /v1/responses HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}GET /api/ver",
        body.len()
    );
    let rest = format!("sion HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let mut stream = connect(&bridge);
    stream.write_all(first.as_bytes()).unwrap();
    let (_, response) = read_answer(&mut stream);
    assert!(response.contains("pipelined answer"), "{response}");
    stream.write_all(rest.as_bytes()).unwrap();
    let (head, version) = read_answer(&mut stream);
    assert!(head.contains(" 200 "), "{head}: {version}");
    assert!(version.contains("version"), "{version}");
}

// ---- upstream failures, worded for the user -------------------------------------------------

#[test]
fn a_compressed_upstream_error_page_is_read_or_described_never_quoted() {
    let page =
        json!({"error": {"message": "upstream provider overloaded", "type": "server_error"}});
    let mock = MockUpstream::replies(vec![
        Reply::status(502, "application/json", gzip(page.to_string().as_bytes()))
            .header("content-encoding", "gzip"),
        Reply::status(
            502,
            "application/json",
            vec![0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, 0x01],
        )
        .header("content-encoding", "br"),
    ]);
    let bridge = BridgeGuard::start(&mock.base_url());
    let decoded = ask(&bridge, "one").json()["error"]["message"].to_string();
    assert!(
        decoded.contains("upstream provider overloaded"),
        "{decoded}"
    );
    let opaque = ask(&bridge, "two").json()["error"]["message"].to_string();
    assert!(
        opaque.contains("a binary (compressed?) answer of 7 bytes"),
        "{opaque}"
    );
    assert!(!opaque.contains('\u{fffd}'), "raw bytes leaked: {opaque}");
}

// ---- the rest of the fault table (docs/SECURITY.md) -------------------------------------------

#[test]
fn an_upstream_that_stalls_mid_answer_times_out() {
    let mock = MockUpstream::start(|_| {
        Reply::text("first words, then silence")
            .incremental(11)
            .chunk_delay(Duration::from_secs(4))
    });
    let bridge = BridgeGuard::start_with(&mock.base_url(), |file| {
        let upstream = file.upstream.get_or_insert_with(Default::default);
        upstream.read_timeout_secs = Some(1);
        upstream.stream = Some("always".into());
    });
    let body = json!({"model": "m", "stream": true, "input": "hi"});
    let answer = post(
        &bridge.url("/v1/responses"),
        body.to_string().as_bytes(),
        &[],
    );
    // The upstream's header and first chunk came, then nothing: the stream fails with the
    // time-out, it does not hang.
    assert_eq!(mock.chat_calls().len(), 1);
    let events = answer.events();
    let last = events.last().expect("events");
    assert_eq!(last["type"], "response.failed", "{}", answer.body);
    let message = last["response"]["error"]["message"].as_str().unwrap();
    assert!(message.contains("sent nothing for 1 s"), "{message}");
}

#[test]
fn html_pages_redirects_and_wrong_content_types_are_explained() {
    let mock = MockUpstream::replies(vec![
        Reply::status(
            502,
            "text/html",
            "<html><body><h1>502 Bad Gateway</h1>nginx</body></html>",
        ),
        Reply::status(302, "text/html", "").header("location", "https://login.example/"),
        Reply::status(200, "text/html", "<html>captive portal</html>"),
    ]);
    let bridge = BridgeGuard::start(&mock.base_url());
    let cases = [
        (502, "failed with HTTP 502"),
        (502, "HTTP 302"),
        (502, "not a chat completion"),
    ];
    for (i, (status, needle)) in cases.into_iter().enumerate() {
        let answer = ask(&bridge, &format!("turn {i}"));
        let message = answer.json()["error"]["message"].to_string();
        assert_eq!(answer.status, status, "case {i}: {message}");
        assert!(message.contains(needle), "case {i}: {message}");
    }
}

#[test]
fn an_oversized_upstream_answer_is_refused_not_buffered() {
    let huge = format!(
        "{{\"id\":\"x\",\"object\":\"chat.completion\",\"pad\":\"{}\"}}",
        "a".repeat(65 << 20)
    );
    let mock = MockUpstream::replies(vec![Reply::status(200, "application/json", huge)]);
    let bridge = BridgeGuard::start(&mock.base_url());
    let answer = ask(&bridge, "hi");
    let message = answer.json()["error"]["message"].to_string();
    assert_eq!(answer.status, 502, "{message}");
    assert!(message.contains("the answer was too large"), "{message}");
}

#[test]
fn clients_that_leave_before_or_during_a_request_leave_nothing_behind() {
    let mock = MockUpstream::start(|_| Reply::text("still here"));
    let bridge = BridgeGuard::start(&mock.base_url());
    let host = bridge.addr();
    let body = json!({"model": "m", "stream": true, "input": "hi"}).to_string();
    let leavers = [
        String::new(),
        "POST /v1/responses HTTP/1.1\r\nHost: ".to_owned(),
        format!(
            "POST /v1/responses HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{}",
            body.len(),
            &body[..body.len() / 2]
        ),
    ];
    for partial in &leavers {
        let mut stream = connect(&bridge);
        stream.write_all(partial.as_bytes()).unwrap();
        drop(stream);
    }
    // Nothing reached the upstream, nothing is left in flight, and the bridge still answers.
    let answer = ask(&bridge, "and you?");
    assert_eq!(answer.status, 200);
    assert_eq!(
        mock.chat_calls().len(),
        1,
        "only the whole request reached the upstream"
    );
    let metrics = get(&bridge.url("/metrics"), &[]).body;
    assert!(
        metrics.contains("clawrouter_codex_streams_in_flight 0"),
        "{metrics}"
    );
}

// --- upstream side (issue #19 items 2, 4, 10) ---

/// A bridge to an upstream that closes every kept-alive connection, unread, as the next request
/// arrives on it, and answers chat call N with "answer N".
fn closing_reused_connections() -> (MockUpstream, BridgeGuard) {
    let mock = MockUpstream::builder()
        .close_reused_connections()
        .start(|call| Reply::text(format!("answer {}", call.index)));
    let bridge = BridgeGuard::start(&mock.base_url());
    (mock, bridge)
}

#[test]
fn a_pooled_connection_closed_as_it_is_reused_is_replaced_on_the_pass_through_path_too() {
    // The upstream closes each kept-alive connection as the next request arrives, unread
    // (Node's idle time-out racing the reuse): `/v1/models` and `/v1/chat/completions`,
    // proxied unchanged, are sent again on another connection and reach the upstream once.
    let (mock, bridge) = closing_reused_connections();
    let chat = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    for turn in 0..3 {
        let models = get(&bridge.url("/v1/models"), &[]);
        assert_eq!(models.status, 200, "turn {turn}: {}", models.body);
        let answer = post(
            &bridge.url("/v1/chat/completions"),
            chat.to_string().as_bytes(),
            &[],
        );
        assert_eq!(answer.status, 200, "turn {turn}: {}", answer.body);
        assert_eq!(
            answer.json()["choices"][0]["message"]["content"],
            format!("answer {turn}")
        );
    }
    assert_eq!(
        mock.dropped_on_reuse(),
        5,
        "every request but the first met a closing connection"
    );
    assert_eq!(
        mock.chat_calls().len(),
        3,
        "each chat request reached the model once"
    );
}

#[test]
fn a_pass_through_request_the_upstream_may_have_processed_is_never_sent_twice() {
    // The rule of the translated path, on `/v1/chat/completions` proxied unchanged.
    let chat = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let send = |bridge: &BridgeGuard| {
        post(
            &bridge.url("/v1/chat/completions"),
            chat.to_string().as_bytes(),
            &[],
        )
    };
    assert_never_sent_twice(send);
}

/// A raw HTTP answer: `content-type: text/event-stream`, the extra headers, and `pieces` as
/// chunks of a chunked body, ended with the last chunk when `finished` (then the mock closes).
fn raw_event_stream(headers: &str, pieces: &[Vec<u8>], finished: bool) -> Vec<u8> {
    let mut raw = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n{headers}transfer-encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for piece in pieces {
        raw.extend(format!("{:x}\r\n", piece.len()).into_bytes());
        raw.extend(piece);
        raw.extend(b"\r\n");
    }
    if finished {
        raw.extend(b"0\r\n\r\n");
    }
    raw
}

fn delta_event(text: &str) -> Vec<u8> {
    let chunk = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]});
    format!("data: {chunk}\n\n").into_bytes()
}

#[test]
fn a_stream_cut_before_its_end_is_one_502_for_a_non_streaming_client() {
    // The upstream streams although asked not to, and stops before a finish_reason or
    // `[DONE]`: whether it ends the body cleanly or drops the connection, a `stream:false`
    // client gets an HTTP 502 it can retry — never a 200 it would take for an answer.
    let words = vec![delta_event("the beginning of an answer")];
    let mock = MockUpstream::replies(vec![
        Reply::garbage(raw_event_stream("", &words, true)),
        Reply::garbage(raw_event_stream("", &words, false)),
    ]);
    let bridge = BridgeGuard::start(&mock.base_url());
    for case in ["body ended", "connection dropped"] {
        let answer = ask(&bridge, case);
        assert_eq!(answer.status, 502, "{case}: {}", answer.body);
        let error = &answer.json()["error"];
        assert_eq!(error["type"], "upstream_error", "{case}: {error}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains(&mock.base_url()),
            "{case}: the message names the upstream: {error}"
        );
    }
    assert_eq!(mock.chat_calls().len(), 2);
}

/// `events` gzip-compressed as a server compressing an event stream sends them: one flushed
/// piece per event, so each piece decodes on its own.
fn gzip_pieces(events: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut pieces = Vec::new();
    for event in events {
        enc.write_all(event).unwrap();
        enc.flush().unwrap();
        pieces.push(std::mem::take(enc.get_mut()));
    }
    pieces.push(enc.finish().unwrap());
    pieces
}

#[test]
fn a_gzip_compressed_event_stream_is_relayed_delta_by_delta() {
    let finish = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
    let events = vec![
        delta_event("Hello from "),
        delta_event("a compressed stream"),
        format!("data: {finish}\n\ndata: [DONE]\n\n").into_bytes(),
    ];
    let whole = gzip_pieces(&events);
    // A stream that breaks after its first event: the rest is not gzip data.
    let mut broken = gzip_pieces(&events[..1]);
    broken.truncate(1);
    broken.push(b"\xffthis is not the rest of a gzip stream".to_vec());
    let gzip_header = "content-encoding: gzip\r\n";
    let mock = MockUpstream::replies(vec![
        Reply::garbage(raw_event_stream(gzip_header, &whole, true)),
        Reply::garbage(raw_event_stream(gzip_header, &broken, true)),
    ]);
    let bridge = BridgeGuard::start(&mock.base_url());
    let ask_streaming = || {
        let body = json!({"model": "m", "stream": true, "input": "hi"});
        post(
            &bridge.url("/v1/responses"),
            body.to_string().as_bytes(),
            &[],
        )
        .events()
    };

    let events = ask_streaming();
    let deltas: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, ["Hello from ", "a compressed stream"], "{events:?}");
    assert_eq!(events.last().unwrap()["type"], "response.completed");

    let events = ask_streaming();
    let last = events.last().unwrap();
    assert_eq!(last["type"], "response.failed", "{events:?}");
    let error = &last["response"]["error"];
    assert_eq!(error["code"], "server_error", "retried by Codex: {error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("compressed answer the bridge could not decode")
            && message.contains("gzip data is corrupt or cut off"),
        "{message}"
    );
    assert!(
        events.iter().any(|e| e["delta"] == "Hello from "),
        "what decoded before the break was relayed: {events:?}"
    );
}
