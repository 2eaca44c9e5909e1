//! A fast mock Chat Completions upstream for `scripts/bench.sh` (not the strict test mock):
//! plain tokio on one thread, HTTP/1.1 keep-alive, no JSON parsing.
//!
//! - `GET /health` → `{"status":"ok"}` (no wallet: the bridge's `auto` mode streams).
//! - `POST /v1/chat/completions` → a fixed `chat.completion` (text + two tool calls, or text
//!   only with `--answer text`), `Content-Length` framed. When the body's last 64 bytes hold
//!   `"stream":true` (the bridge writes `stream` last; the bench's direct bodies too): a paced
//!   SSE answer, chunked: a role + first text chunk at once, then a text chunk every
//!   `--interval-ms` until `--chunks` text chunks were sent, a finish chunk, a usage chunk,
//!   `[DONE]`. A model named `bench-stream-<N>x<M>` (first 256 bytes of the body) asks for N
//!   chunks M ms apart instead. Every text delta reads `tick <unix µs> <seq> …`, the time
//!   taken just before its write, so the client can measure relay delays.
//!
//! - Injected failures (`scripts/soak.sh`), chosen by the model name in the body's first 256
//!   bytes, so the client knows which requests were meant to fail: `bench-inject-status` →
//!   `503` with an OpenAI-style error; `bench-inject-reset` → the request is read and the
//!   connection reset without an answer; `bench-inject-cut` → the answer starts (a stream's
//!   first chunks, or half a `Content-Length` body) and the connection is closed.
//! - `--stats-file F`: every second, one JSON object with the connections accepted and open,
//!   chat calls and failures injected so far (what the soak reports as upstream connections).
//!
//! Usage: `bench_upstream [--port P] [--port-file F] [--chunks N] [--interval-ms M]
//! [--answer tools|text] [--stats-file F]`. Port 0 (default) picks a free port, written to
//! `--port-file`. Listens on 127.0.0.1 only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[path = "../benches/support/codex_body.rs"]
mod codex_body;

struct Settings {
    chunks: usize,
    interval_ms: u64,
    answer: Vec<u8>,
    stats: Stats,
}

/// What the mock counted (written to `--stats-file`).
#[derive(Default)]
struct Stats {
    accepted: AtomicU64,
    open: AtomicU64,
    chat_calls: AtomicU64,
    injected: AtomicU64,
}

impl Stats {
    fn json(&self) -> String {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "{{\"connections_accepted\":{},\"connections_open\":{},\"chat_calls\":{},\"injected\":{}}}",
            n(&self.accepted),
            n(&self.open),
            n(&self.chat_calls),
            n(&self.injected)
        )
    }
}

/// A failure the request's model name asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Injected {
    Status,
    Reset,
    Cut,
}

fn injected(body: &[u8]) -> Option<Injected> {
    let head = &body[..body.len().min(256)];
    if contains(head, b"bench-inject-status") {
        Some(Injected::Status)
    } else if contains(head, b"bench-inject-reset") {
        Some(Injected::Reset)
    } else if contains(head, b"bench-inject-cut") {
        Some(Injected::Cut)
    } else {
        None
    }
}

fn main() {
    let mut port: u16 = 0;
    let mut port_file: Option<String> = None;
    let mut chunks = 40;
    let mut interval_ms = 25;
    let mut answer = "tools".to_owned();
    let mut stats_file: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("option needs a value");
        match arg.as_str() {
            "--port" => port = value().parse().expect("--port: a number"),
            "--port-file" => port_file = Some(value()),
            "--chunks" => chunks = value().parse().expect("--chunks: a number"),
            "--interval-ms" => interval_ms = value().parse().expect("--interval-ms: a number"),
            "--answer" => answer = value(),
            "--stats-file" => stats_file = Some(value()),
            other => panic!("unknown option {other}"),
        }
    }
    let answer = match answer.as_str() {
        "text" => codex_body::chat_completion_text_json(),
        _ => codex_body::chat_completion_json(),
    };
    let settings = Arc::new(Settings {
        chunks,
        interval_ms,
        answer,
        stats: Stats::default(),
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        if let Some(file) = port_file {
            std::fs::write(&file, addr.port().to_string()).expect("write port file");
        }
        eprintln!("bench_upstream listening on http://{addr}");
        if let Some(file) = stats_file {
            let settings = settings.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(1));
                loop {
                    every.tick().await;
                    // Written whole, then renamed: a reader never sees half a line.
                    let tmp = format!("{file}.tmp");
                    if std::fs::write(&tmp, settings.stats.json()).is_ok() {
                        let _ = std::fs::rename(&tmp, &file);
                    }
                }
            });
        }
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let settings = settings.clone();
            settings.stats.accepted.fetch_add(1, Ordering::Relaxed);
            settings.stats.open.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let _ = serve(stream, &settings).await;
                settings.stats.open.fetch_sub(1, Ordering::Relaxed);
            });
        }
    });
}

/// One parsed request: method, path, body.
struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

/// Serves requests on one keep-alive connection until the client closes it.
async fn serve(mut stream: TcpStream, settings: &Settings) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    while let Some(req) = read_request(&mut stream, &mut buf).await? {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/health") => {
                write_json(&mut stream, 200, br#"{"status":"ok"}"#).await?;
            }
            ("POST", "/v1/chat/completions") => {
                settings.stats.chat_calls.fetch_add(1, Ordering::Relaxed);
                let tail = &req.body[req.body.len().saturating_sub(64)..];
                let streaming = contains(tail, br#""stream":true"#);
                if let Some(failure) = injected(&req.body) {
                    settings.stats.injected.fetch_add(1, Ordering::Relaxed);
                    inject(stream, failure, streaming, &settings.answer).await?;
                    return Ok(());
                }
                if streaming {
                    let (chunks, interval) = pacing(&req.body, settings);
                    write_stream(&mut stream, chunks, interval).await?;
                } else {
                    write_json(&mut stream, 200, &settings.answer).await?;
                }
            }
            _ => {
                write_json(&mut stream, 404, br#"{"error":{"message":"not found"}}"#).await?;
            }
        }
    }
    Ok(())
}

/// Fails the request as asked; the connection ends with it.
async fn inject(
    mut stream: TcpStream,
    failure: Injected,
    streaming: bool,
    answer: &[u8],
) -> std::io::Result<()> {
    match failure {
        Injected::Status => {
            let body = br#"{"error":{"message":"injected failure (bench)","type":"server_error","param":null,"code":null}}"#;
            let mut out = format!(
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            out.extend_from_slice(body);
            stream.write_all(&out).await
        }
        Injected::Reset => {
            // SO_LINGER 0: the close is a reset.
            stream.set_zero_linger()?;
            drop(stream);
            Ok(())
        }
        Injected::Cut if streaming => {
            let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
            let mut out = head.as_bytes().to_vec();
            out.extend_from_slice(&text_chunk(0, true));
            out.extend_from_slice(&text_chunk(1, false));
            stream.write_all(&out).await
        }
        Injected::Cut => {
            let mut out = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                answer.len()
            )
            .into_bytes();
            out.extend_from_slice(&answer[..answer.len() / 2]);
            stream.write_all(&out).await
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// `bench-stream-<N>x<M>` in the model name, else the defaults.
fn pacing(body: &[u8], settings: &Settings) -> (usize, u64) {
    let head = String::from_utf8_lossy(&body[..body.len().min(256)]);
    let parsed = head.find("bench-stream-").and_then(|at| {
        let rest = &head[at + "bench-stream-".len()..];
        let end = rest.find('"')?;
        let (n, m) = rest[..end].split_once('x')?;
        Some((n.parse().ok()?, m.parse().ok()?))
    });
    parsed.unwrap_or((settings.chunks, settings.interval_ms))
}

/// Reads one request (Content-Length bodies only); `None` at a clean close.
async fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<Request>> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        let status = req
            .parse(buf)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        if let httparse::Status::Complete(head_len) = status {
            let length = req
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| {
                    std::str::from_utf8(h.value)
                        .ok()?
                        .trim()
                        .parse::<usize>()
                        .ok()
                })
                .unwrap_or(0);
            let method = req.method.unwrap_or("").to_owned();
            let path = req.path.unwrap_or("").to_owned();
            let mut body = Vec::with_capacity(length);
            let have = (buf.len() - head_len).min(length);
            body.extend_from_slice(&buf[head_len..head_len + have]);
            buf.drain(..head_len + have);
            if body.len() < length {
                let start = body.len();
                body.resize(length, 0);
                stream.read_exact(&mut body[start..]).await?;
            }
            return Ok(Some(Request { method, path, body }));
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn write_json(stream: &mut TcpStream, status: u16, body: &[u8]) -> std::io::Result<()> {
    let reason = if status == 200 { "OK" } else { "Not Found" };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    stream.write_all(&out).await
}

fn unix_micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}

/// One SSE frame as one HTTP chunk.
fn sse_chunk(json: &str) -> Vec<u8> {
    let frame = format!("data: {json}\n\n");
    format!("{:x}\r\n{frame}\r\n", frame.len()).into_bytes()
}

fn text_chunk(seq: usize, first: bool) -> Vec<u8> {
    let role = if first { r#""role":"assistant","# } else { "" };
    sse_chunk(&format!(
        r#"{{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1795528920,"model":"m","choices":[{{"index":0,"delta":{{{role}"content":"tick {} {seq} lorem ipsum dolor "}},"finish_reason":null}}]}}"#,
        unix_micros()
    ))
}

async fn write_stream(
    stream: &mut TcpStream,
    chunks: usize,
    interval_ms: u64,
) -> std::io::Result<()> {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n";
    let mut first = head.as_bytes().to_vec();
    first.extend_from_slice(&text_chunk(0, true));
    stream.write_all(&first).await?;
    let mut ticks = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_millis(interval_ms),
        Duration::from_millis(interval_ms.max(1)),
    );
    for seq in 1..chunks {
        if interval_ms > 0 {
            ticks.tick().await;
        }
        stream.write_all(&text_chunk(seq, false)).await?;
    }
    let mut end = sse_chunk(
        r#"{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1795528920,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
    );
    end.extend_from_slice(&sse_chunk(
        r#"{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1795528920,"model":"m","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":400,"total_tokens":430}}"#,
    ));
    end.extend_from_slice(&sse_chunk("[DONE]"));
    end.extend_from_slice(b"0\r\n\r\n");
    stream.write_all(&end).await
}
