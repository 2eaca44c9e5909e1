//! A small HTTP client for tests (ureq, plus raw sockets where framing is under test) and an
//! SSE reader for Responses streams.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

/// A whole HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The `data:` payloads of an SSE body, parsed.
    pub fn events(&self) -> Vec<Value> {
        sse_events(&self.body)
    }
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build()
}

fn finish(result: Result<ureq::Response, ureq::Error>) -> Answer {
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("request failed: {e}"),
    };
    let status = response.status();
    let headers = response
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = response.header(&n).unwrap_or("").to_owned();
            (n, v)
        })
        .collect();
    let mut body = String::new();
    response
        .into_reader()
        .read_to_string(&mut body)
        .expect("read body");
    Answer {
        status,
        headers,
        body,
    }
}

/// POST with a JSON content type and the given extra headers.
pub fn post(url: &str, body: &[u8], headers: &[(&str, &str)]) -> Answer {
    let mut request = agent().post(url).set("content-type", "application/json");
    for (k, v) in headers {
        request = request.set(k, v);
    }
    finish(request.send_bytes(body))
}

/// POST a JSON value.
pub fn post_json(url: &str, body: &Value) -> Answer {
    post(url, body.to_string().as_bytes(), &[])
}

/// GET with extra headers.
pub fn get(url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = agent().get(url);
    for (k, v) in headers {
        request = request.set(k, v);
    }
    finish(request.call())
}

/// Splits an SSE body into its `data:` JSON payloads (skipping comments and `[DONE]`),
/// checking each event's `event:` line names the payload's `type`.
pub fn sse_events(body: &str) -> Vec<Value> {
    let normalized = body.replace("\r\n", "\n");
    normalized
        .split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .filter_map(|block| {
            let mut event_name = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event:") {
                    event_name = Some(name.trim().to_owned());
                } else if let Some(d) = line.strip_prefix("data:") {
                    data.push_str(d.trim_start());
                }
            }
            if data.is_empty() || data == "[DONE]" {
                return None;
            }
            let value: Value = serde_json::from_str(&data)
                .unwrap_or_else(|e| panic!("bad SSE data ({e}): {data}"));
            if let Some(name) = event_name {
                assert_eq!(
                    Some(name.as_str()),
                    value["type"].as_str(),
                    "event: line must match type"
                );
            }
            Some(value)
        })
        .collect()
}

/// Sends raw bytes on a fresh connection and reads until the peer closes or `timeout`.
pub fn raw_exchange(addr: &str, request: &[u8], timeout: Duration) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(timeout)).expect("timeout");
    stream.write_all(request).expect("write");
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A real Codex request body from `tests/fixtures/codex/`.
pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/codex/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("fixture is JSON")
}
