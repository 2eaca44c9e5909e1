//! Helpers shared by the integration and end-to-end test binaries.
//!
//! - [`mock_upstream`]: a strict mock ClawRouter / OpenAI-compatible Chat Completions server.
//! - [`codex`]: drives the real Codex CLI against a bridge.
//! - [`bridge`]: runs the bridge in-process; [`direct`]: one in direct mode.
//! - [`cli`]: the binary with a clean environment.
//! - [`ws`]: a WebSocket client for `/v1/responses`.
//!
//! Each test binary uses only some of them, hence the `dead_code` allowances.
#![allow(dead_code)]

pub mod bridge;
pub mod cli;
pub mod client;
pub mod codex;
pub mod direct;
pub mod mock_upstream;
pub mod ws;

/// Sends `body` to the bridge's `/v1/responses`, waits until the upstream got the chat call
/// (reading the first answer bytes first when `read_first`), hangs up, and asserts the bridge
/// closes the upstream request within 2 s — no paid tokens wasted on an absent client.
pub fn assert_hang_up_drops_upstream(
    bridge: &bridge::BridgeGuard,
    mock: &mock_upstream::MockUpstream,
    body: &str,
    read_first: bool,
) {
    use std::io::{Read, Write};
    use std::time::{Duration, Instant};
    {
        let mut stream = std::net::TcpStream::connect(bridge.addr()).expect("connect");
        write!(
            stream,
            "POST /v1/responses HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            bridge.addr(),
            body.len()
        )
        .expect("send");
        if read_first {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).expect("first bytes");
        }
        assert!(
            mock.wait_for_chat_calls(1, Duration::from_secs(5)),
            "the upstream was called"
        );
    } // the client goes away here
    let gone = Instant::now();
    let closed = mock.wait_until(Duration::from_secs(5), |requests| {
        requests
            .iter()
            .any(|r| r.is_chat() && r.client_disconnected)
    });
    assert!(closed, "the upstream request was not dropped");
    assert!(
        gone.elapsed() < Duration::from_secs(2),
        "dropped only after {:?}",
        gone.elapsed()
    );
}
