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
//! Two stand-ins for the direct-mode streaming cells of `scripts/bench.sh` (a bench, not a
//! test: nothing is verified, prices are fixed):
//!
//! - `--blockrun`: BlockRun's API as the bridge's direct mode calls it, under `/api`.
//!   `GET /api/v1/models` lists [`BLOCKRUN_MODEL`] (prices, `contextWindow`, `maxOutput`,
//!   `toolCalling`); `POST /api/v1/chat/completions` without a `PAYMENT-SIGNATURE` (or
//!   `X-PAYMENT`) header gets x402 v2's 402 (`PAYMENT-REQUIRED`: base64 JSON, one `exact`
//!   offer of Base USDC, the test mock's shape); with one, the answer as above (the paced
//!   stream for `stream:true`) plus a `PAYMENT-RESPONSE`. The signature is not checked. The
//!   unpaid `/v1/chat/completions` stays, so the baseline is measured on the same process.
//!   Each 402 and each paid call is logged to stderr (`x402: …`).
//! - `--clawrouter`: ClawRouter v0.12.246 as the bridge sees it: `/health` names a wallet
//!   (the bridge's `auto` mode then asks it not to stream), and every chat call is answered
//!   as ClawRouter answers after generating with BlockRun non-streaming: the paced generation
//!   runs in full first (the `tick` stamps taken at each chunk's generation time, as the
//!   paced stream writes them), then the whole text comes as one JSON completion, or for
//!   `stream:true` as ClawRouter's SSE: headers and a `: heartbeat` at once (another every
//!   2 s), then a role chunk, one content chunk with all the text, the finish and usage
//!   chunks, `[DONE]`.
//!
//! Usage: `bench_upstream [--port P] [--port-file F] [--chunks N] [--interval-ms M]
//! [--answer tools|text] [--stats-file F] [--blockrun | --clawrouter]`. Port 0 (default)
//! picks a free port, written to `--port-file`. Listens on 127.0.0.1 only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[path = "../benches/support/codex_body.rs"]
mod codex_body;

/// The model `--blockrun`'s catalog lists (what the direct-mode bench cells ask for).
const BLOCKRUN_MODEL: &str = "deepseek/deepseek-chat";
/// `--clawrouter`'s `/health` wallet (Hardhat's first published test account).
const CLAWROUTER_WALLET: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/// What `--blockrun`'s 402 asks per call, in USDC base units ($0.01: within the bridge's
/// default per-request cap, and enough for the bench body and the minimum output).
const BLOCKRUN_AMOUNT: u64 = 10_000;

/// Which upstream the mock stands in for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A Chat Completions provider that streams (the default).
    Plain,
    /// BlockRun's API, x402-paid (`--blockrun`).
    BlockRun,
    /// ClawRouter, which never streams from BlockRun (`--clawrouter`).
    ClawRouter,
}

struct Settings {
    mode: Mode,
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
    let mut mode = Mode::Plain;
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
            "--blockrun" => mode = Mode::BlockRun,
            "--clawrouter" => mode = Mode::ClawRouter,
            other => panic!("unknown option {other}"),
        }
    }
    let answer = match answer.as_str() {
        "text" => codex_body::chat_completion_text_json(),
        _ => codex_body::chat_completion_json(),
    };
    let settings = Arc::new(Settings {
        mode,
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

/// One parsed request: method, path, body, and whether it carries an x402 payment.
struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
    paid: bool,
}

/// Serves requests on one keep-alive connection until the client closes it.
async fn serve(mut stream: TcpStream, settings: &Settings) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    while let Some(req) = read_request(&mut stream, &mut buf).await? {
        match (settings.mode, req.method.as_str(), req.path.as_str()) {
            (Mode::ClawRouter, "GET", "/health") => {
                let health = format!(
                    r#"{{"status":"ok","wallet":"{CLAWROUTER_WALLET}","paymentChain":"base"}}"#
                );
                write_json(&mut stream, 200, health.as_bytes()).await?;
            }
            (_, "GET", "/health") => {
                write_json(&mut stream, 200, br#"{"status":"ok"}"#).await?;
            }
            (Mode::ClawRouter, "POST", "/v1/chat/completions") => {
                settings.stats.chat_calls.fetch_add(1, Ordering::Relaxed);
                let (chunks, interval) = pacing(&req.body, settings);
                write_whole(&mut stream, is_streaming(&req.body), chunks, interval).await?;
            }
            (Mode::BlockRun, "GET", "/api/v1/models") => {
                write_json(&mut stream, 200, blockrun_catalog().as_bytes()).await?;
            }
            (Mode::BlockRun, "POST", "/api/v1/chat/completions") => {
                settings.stats.chat_calls.fetch_add(1, Ordering::Relaxed);
                if !req.paid {
                    eprintln!("x402: 402 for an unpaid call");
                    write_402(&mut stream, &req.body).await?;
                    continue;
                }
                eprintln!("x402: paid call answered");
                let (chunks, interval) = pacing(&req.body, settings);
                if is_streaming(&req.body) {
                    write_stream_with(&mut stream, chunks, interval, PAID_HEADER).await?;
                } else {
                    write_json_with(&mut stream, 200, &settings.answer, PAID_HEADER).await?;
                }
            }
            (Mode::Plain | Mode::BlockRun, "POST", "/v1/chat/completions") => {
                settings.stats.chat_calls.fetch_add(1, Ordering::Relaxed);
                let streaming = is_streaming(&req.body);
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

/// `"stream":true` in the body's last 64 bytes (the bridge writes `stream` last, and direct
/// mode inserts `max_tokens` before it; the bench's direct bodies too).
fn is_streaming(body: &[u8]) -> bool {
    contains(&body[body.len().saturating_sub(64)..], br#""stream":true"#)
}

// ---------------------------------------------------------------- --blockrun

/// `PAYMENT-RESPONSE` on a paid answer (base64 of a made-up settlement; not checked by the
/// bridge beyond its shape).
const PAID_HEADER: &str = "PAYMENT-RESPONSE: eyJzdWNjZXNzIjp0cnVlLCJ0cmFuc2FjdGlvbiI6IjB4YmViZWJlYmViZWJlYmViZWJlYmViZWJlYmViZWJlYmViZWJlYmViZWJlYmViZWJlYmViZWJlYmViZWJlYmViZSIsIm5ldHdvcmsiOiJlaXAxNTU6ODQ1MyIsInBheWVyIjoiMHhmMzlGZDZlNTFhYWQ4OEY2RjRjZTZhQjg4MjcyNzljZmZGYjkyMjY2In0=\r\n";

/// BlockRun's `/v1/models` shape with the one model the bench asks for.
fn blockrun_catalog() -> String {
    format!(
        r#"{{"object":"list","data":[{{"id":"{BLOCKRUN_MODEL}","object":"model","name":"DeepSeek V3.2 Chat","owned_by":"deepseek","inputPrice":0.28,"outputPrice":0.42,"contextWindow":128000,"maxOutput":8192,"toolCalling":true,"categories":["coding","tools"]}}]}}"#
    )
}

/// x402 v2's 402: `PAYMENT-REQUIRED` is base64 JSON with one `exact` offer of USDC on Base
/// (the shape of the test mock in `tests/common/mock_upstream/blockrun.rs`).
async fn write_402(stream: &mut TcpStream, body: &[u8]) -> std::io::Result<()> {
    use base64::Engine as _;
    let head = String::from_utf8_lossy(&body[..body.len().min(256)]);
    let model = head
        .split_once(r#""model":""#)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or(BLOCKRUN_MODEL, |(model, _)| model);
    let required = format!(
        r#"{{"x402Version":2,"error":"Payment required","resource":{{"url":"http://127.0.0.1/api/v1/chat/completions","description":"BlockRun AI API: {model}","mimeType":"application/json"}},"accepts":[{{"scheme":"exact","network":"eip155:8453","amount":"{BLOCKRUN_AMOUNT}","asset":"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913","payTo":"0x70997970C51812dc3A010C7d01b50e0d17dc79C8","maxTimeoutSeconds":300,"extra":{{"name":"USD Coin","version":"2"}}}}]}}"#
    );
    let header = base64::engine::general_purpose::STANDARD.encode(required);
    let body = br#"{"error":"Payment required","message":"This request needs an x402 payment (see the PAYMENT-REQUIRED header)"}"#;
    let mut out = format!(
        "HTTP/1.1 402 Payment Required\r\ncontent-type: application/json\r\nPAYMENT-REQUIRED: {header}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    stream.write_all(&out).await
}

// ---------------------------------------------------------------- --clawrouter

/// ClawRouter's answer: the whole paced generation first (BlockRun asked `stream:false`),
/// then the text at once — one JSON completion, or ClawRouter's SSE replay for `stream:true`.
async fn write_whole(
    stream: &mut TcpStream,
    streaming: bool,
    chunks: usize,
    interval_ms: u64,
) -> std::io::Result<()> {
    if streaming {
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n";
        let mut out = head.as_bytes().to_vec();
        out.extend_from_slice(&http_chunk(": heartbeat\n\n"));
        stream.write_all(&out).await?;
    }
    // The text as BlockRun generates it, each chunk stamped when it is generated.
    let mut text = String::new();
    let mut ticks = tokio::time::interval(Duration::from_millis(interval_ms.max(1)));
    let mut heartbeat = tokio::time::Instant::now() + Duration::from_secs(2);
    for seq in 0..chunks {
        if interval_ms > 0 {
            ticks.tick().await;
        }
        text.push_str(&format!("tick {} {seq} lorem ipsum dolor ", unix_micros()));
        if streaming && tokio::time::Instant::now() >= heartbeat {
            stream.write_all(&http_chunk(": heartbeat\n\n")).await?;
            heartbeat += Duration::from_secs(2);
        }
    }
    let head = r#"{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1795528920,"model":"m","system_fingerprint":null,"choices":[{"index":0,"delta":"#;
    if !streaming {
        let body = format!(
            r#"{{"id":"chatcmpl-bench","object":"chat.completion","created":1795528920,"model":"m","choices":[{{"index":0,"message":{{"role":"assistant","content":"{text}"}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":30,"completion_tokens":400,"total_tokens":430}}}}"#
        );
        return write_json(stream, 200, body.as_bytes()).await;
    }
    let mut out = sse_chunk(&format!(
        r#"{head}{{"role":"assistant"}},"logprobs":null,"finish_reason":null}}]}}"#
    ));
    out.extend_from_slice(&sse_chunk(&format!(
        r#"{head}{{"content":"{text}"}},"logprobs":null,"finish_reason":null}}]}}"#
    )));
    out.extend_from_slice(&sse_chunk(&format!(
        r#"{head}{{}},"logprobs":null,"finish_reason":"stop"}}]}}"#
    )));
    out.extend_from_slice(&sse_chunk(
        r#"{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1795528920,"model":"m","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":400,"total_tokens":430}}"#,
    ));
    out.extend_from_slice(&sse_chunk("[DONE]"));
    out.extend_from_slice(b"0\r\n\r\n");
    stream.write_all(&out).await
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
            let paid = req.headers.iter().any(|h| {
                h.name.eq_ignore_ascii_case("payment-signature")
                    || h.name.eq_ignore_ascii_case("x-payment")
            });
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
            return Ok(Some(Request {
                method,
                path,
                body,
                paid,
            }));
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
    write_json_with(stream, status, body, "").await
}

/// A JSON answer with `extra` header lines (each ending in CRLF).
async fn write_json_with(
    stream: &mut TcpStream,
    status: u16,
    body: &[u8],
    extra: &str,
) -> std::io::Result<()> {
    let reason = if status == 200 { "OK" } else { "Not Found" };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\n\r\n",
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
    http_chunk(&format!("data: {json}\n\n"))
}

/// Text as one HTTP chunk.
fn http_chunk(text: &str) -> Vec<u8> {
    format!("{:x}\r\n{text}\r\n", text.len()).into_bytes()
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
    write_stream_with(stream, chunks, interval_ms, "").await
}

/// The paced stream with `extra` header lines (each ending in CRLF).
async fn write_stream_with(
    stream: &mut TcpStream,
    chunks: usize,
    interval_ms: u64,
    extra: &str,
) -> std::io::Result<()> {
    let head = format!("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n{extra}transfer-encoding: chunked\r\n\r\n");
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
