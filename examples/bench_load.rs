//! Load generator and streaming probe for `scripts/bench.sh`: a raw HTTP/1.1 keep-alive client
//! (tokio, one thread) that talks only to 127.0.0.1.
//!
//! `bench_load load --addr HOST:PORT --target bridge|direct --body small|10kb|1mb --conc C
//!  --secs S --max N [--warmup-ms W] [--pid PID] [--reset-hwm] [--clk-tck 100]`
//!   C connections, each sending requests back to back (keep-alive) for a warm-up, then for
//!   S seconds or N requests in all, whichever comes first. `bridge` sends the Responses body
//!   (`stream:false`) to `/v1/responses`; `direct` sends the Chat body the bridge would send
//!   upstream for it (`request_to_chat`, byte for byte) to `/v1/chat/completions`. Prints one
//!   JSON line: requests, errors, rps, p50/p99/mean latency (request written → whole answer
//!   read), and with `--pid` that process's CPU (utime+stime) per request over the measured
//!   window and its VmHWM/VmRSS afterwards (`--reset-hwm` clears the peak first).
//!
//! `bench_load report --file RESULTS.jsonl`
//!   The markdown table of `scripts/bench.sh` from the JSON lines above, with the issue's
//!   targets and PASS/MISS.
//!
//! `bench_load stream --addr HOST:PORT --target bridge|direct --count K --chunks N
//!  --interval-ms M [--model M] [--label L]`
//!   K sequential streamed requests (after one unmeasured warm-up) on one connection, the
//!   ~10 KB Codex body with `stream:true` and model `bench-stream-NxM` (the mock paces its
//!   answer by it; `--model` names another, paced by the mock's defaults). Per request: time
//!   to the first response byte, to the first and to the last text delta (bridge:
//!   `response.output_text.delta`; direct: a chunk's `delta.content`), and the spread
//!   between them; per text delta: receive time − the mock's write time stamped in it
//!   (`tick <unix µs>`), and whether any relayed delta carried more than one upstream delta.
//!   The warm-up's own figures are printed too (`warmup`: a direct-mode bridge's first call
//!   for a model goes through the 402). `--label` names the result line (default: target).
//!
//! `bench_load soak --addr HOST:PORT --secs S --conc C --pid PID [--inject-percent 5]
//!  [--large-percent 25] [--stream-percent 50] [--sample-secs 5] [--warmup-secs 60]
//!  [--settle-secs 8] [--mock-stats FILE] [--samples-file FILE]`
//!   `scripts/soak.sh`: C keep-alive connections send `/v1/responses` requests back to back
//!   for S seconds, each drawn at random: the small or the 200 KB Codex body, streaming or
//!   not, and `--inject-percent` of them with a failure the mock injects (`bench-inject-*`
//!   models: a 503, a reset before the answer, an answer cut off). A request succeeds with
//!   200 and, streaming, `response.completed`; an injected one must fail (HTTP error or
//!   `response.failed`); everything else is an error, by class. Every `--sample-secs` the
//!   bridge process's RSS and open file descriptors (and the mock's connection counts) are
//!   sampled; after the load, `--settle-secs` more (idle pooled connections close). Prints a
//!   markdown summary; the samples go to `--samples-file` as JSON lines.
//!
//! `bench_load flood --addr HOST:PORT --pid PID [--conns 10000] [--bursts 5]
//!  [--settle-secs 5] [--idle-secs 2]`
//!   `scripts/flood.sh`: B bursts of N connections opened at once, each sending `GET /health`
//!   (keep-alive) and held open until every one of the burst has its answer or failed; then
//!   all are closed together. Past `server.max_connections` the bridge refuses them (503).
//!   After each burst, and again `--settle-secs` later, the bridge's RSS is read. Prints a
//!   markdown table (answers by status, RSS idle / after the burst / settled) and one JSON
//!   line with the figures.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use clawrouter_codex::translate::request::{request_to_chat, RequestOptions};

#[path = "../benches/support/codex_body.rs"]
mod codex_body;

type Io = std::io::Result<()>;

fn io_err(what: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.into())
}

struct Args(Vec<(String, String)>);

impl Args {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn req(&self, name: &str) -> &str {
        self.get(name).unwrap_or_else(|| panic!("missing --{name}"))
    }
    fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        self.get(name)
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("--{name}: not a number"))
            })
            .unwrap_or(default)
    }
    fn flag(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

fn parse_args() -> (String, Args) {
    let mut it = std::env::args().skip(1);
    let mode = it.next().expect("mode: load | stream");
    let mut pairs = Vec::new();
    let rest: Vec<String> = it.collect();
    let mut i = 0;
    while i < rest.len() {
        let key = rest[i]
            .strip_prefix("--")
            .expect("options are --name value")
            .to_owned();
        if key == "reset-hwm" {
            pairs.push((key, "1".to_owned()));
            i += 1;
        } else {
            pairs.push((key, rest.get(i + 1).expect("option needs a value").clone()));
            i += 2;
        }
    }
    (mode, Args(pairs))
}

fn main() {
    let (mode, args) = parse_args();
    if mode == "report" {
        report(args.req("file"));
        return;
    }
    let addr = args.req("addr").to_owned();
    assert!(
        addr.starts_with("127.0.0.1:"),
        "bench_load only talks to 127.0.0.1"
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match mode.as_str() {
        "load" => runtime.block_on(load(&addr, &args)),
        "soak" => runtime.block_on(soak(&addr, &args)),
        "stream" => runtime.block_on(stream(&addr, &args)),
        "flood" => runtime.block_on(flood(&addr, &args)),
        "report" => unreachable!("handled above"),
        other => panic!("unknown mode {other}"),
    }
}

/// The request bytes (head + body) for the target.
fn build_request(target: &str, responses_body: Vec<u8>, streaming: bool) -> Vec<u8> {
    let (path, body) = match target {
        "bridge" => ("/v1/responses", responses_body),
        // `passthrough`: the same Chat body, sent to the bridge (Pingora's proxy path).
        "direct" | "passthrough" => {
            let mut plan = request_to_chat(&responses_body, &RequestOptions::default())
                .expect("the generated body translates");
            if streaming {
                assert!(plan.ask_upstream_to_stream());
            }
            ("/v1/chat/completions", plan.body)
        }
        other => panic!("--target bridge|direct|passthrough, not {other}"),
    };
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\naccept: */*\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    req
}

fn body_for(name: &str, stream: bool) -> Vec<u8> {
    match name {
        "small" => codex_body::small_responses_body(stream),
        "10kb" => codex_body::responses_body(10_000, stream),
        "200kb" => codex_body::responses_body(200_000, stream),
        "1mb" => codex_body::responses_body(1_000_000, stream),
        other => panic!("--body small|10kb|200kb|1mb, not {other}"),
    }
}

// ---------------------------------------------------------------- HTTP/1.1 response reading

/// A connection with its unread bytes.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: &str) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Reads more bytes; error at EOF.
    async fn fill(&mut self) -> Io {
        let mut chunk = [0u8; 64 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io_err("connection closed"));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

enum Framing {
    Length(usize),
    Chunked,
}

/// Parses the response head once it is complete: (status, framing, head length).
fn parse_head(buf: &[u8]) -> std::io::Result<Option<(u16, Framing, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(buf).map_err(|e| io_err(e.to_string()))? {
        httparse::Status::Partial => Ok(None),
        httparse::Status::Complete(len) => {
            let status = resp.code.unwrap_or(0);
            let mut framing = Framing::Length(0);
            for h in resp.headers.iter() {
                if h.name.eq_ignore_ascii_case("content-length") {
                    let n = std::str::from_utf8(h.value)
                        .ok()
                        .and_then(|v| v.trim().parse().ok())
                        .ok_or_else(|| io_err("bad content-length"))?;
                    framing = Framing::Length(n);
                } else if h.name.eq_ignore_ascii_case("transfer-encoding")
                    && h.value.eq_ignore_ascii_case(b"chunked")
                {
                    framing = Framing::Chunked;
                }
            }
            Ok(Some((status, framing, len)))
        }
    }
}

/// Decodes the complete chunks at the front of `raw` into `out`; returns (consumed, done).
fn decode_chunks(raw: &[u8], out: &mut Vec<u8>) -> std::io::Result<(usize, bool)> {
    let mut pos = 0;
    loop {
        let Some(eol) = raw[pos..].windows(2).position(|w| w == b"\r\n") else {
            return Ok((pos, false));
        };
        let line = std::str::from_utf8(&raw[pos..pos + eol]).map_err(|_| io_err("chunk size"))?;
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| io_err("chunk size"))?;
        let data_start = pos + eol + 2;
        if size == 0 {
            // No trailers expected: the final CRLF.
            if raw.len() >= data_start + 2 {
                return Ok((data_start + 2, true));
            }
            return Ok((pos, false));
        }
        if raw.len() < data_start + size + 2 {
            return Ok((pos, false));
        }
        out.extend_from_slice(&raw[data_start..data_start + size]);
        pos = data_start + size + 2;
    }
}

/// Reads one whole response, discarding the body; returns the status.
async fn read_response(conn: &mut Conn) -> std::io::Result<u16> {
    read_whole_response(conn, false)
        .await
        .map(|answer| answer.status)
}

/// A whole response: status, body (when kept), and whether the server closes the connection.
struct Answer {
    status: u16,
    body: Vec<u8>,
    closes: bool,
}

/// Reads one whole response (`Content-Length` or chunked), keeping its body if `keep`.
async fn read_whole_response(conn: &mut Conn, keep: bool) -> std::io::Result<Answer> {
    let (status, framing, head) = loop {
        if let Some(parsed) = parse_head(&conn.buf)? {
            break parsed;
        }
        conn.fill().await?;
    };
    let closes = String::from_utf8_lossy(&conn.buf[..head])
        .to_ascii_lowercase()
        .contains("connection: close");
    conn.buf.drain(..head);
    let mut body = Vec::new();
    match framing {
        Framing::Length(n) => {
            while conn.buf.len() < n {
                conn.fill().await?;
            }
            if keep {
                body.extend_from_slice(&conn.buf[..n]);
            }
            conn.buf.drain(..n);
        }
        Framing::Chunked => loop {
            let before = body.len();
            let (used, done) = decode_chunks(&conn.buf, &mut body)?;
            conn.buf.drain(..used);
            if !keep {
                body.truncate(before);
            }
            if done {
                break;
            }
            conn.fill().await?;
        },
    }
    Ok(Answer {
        status,
        body,
        closes,
    })
}

// ---------------------------------------------------------------- load

fn proc_cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the `comm` field.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn proc_status_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

struct Phase {
    deadline: Instant,
    max: usize,
    issued: AtomicUsize,
}

/// One connection's loop for one phase: (connection, latencies ns, errors).
async fn worker(
    addr: Arc<String>,
    conn: Option<Conn>,
    request: Arc<Vec<u8>>,
    phase: Arc<Phase>,
) -> (Option<Conn>, Vec<u64>, usize) {
    let mut conn = conn;
    let mut latencies = Vec::new();
    let mut errors = 0;
    while Instant::now() < phase.deadline
        && phase.issued.fetch_add(1, Ordering::Relaxed) < phase.max
    {
        let mut c = match conn.take() {
            Some(c) => c,
            None => match Conn::open(&addr).await {
                Ok(c) => c,
                Err(_) => {
                    errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let start = Instant::now();
        let result = async {
            c.stream.write_all(&request).await?;
            read_response(&mut c).await
        }
        .await;
        match result {
            Ok(200) => {
                latencies.push(start.elapsed().as_nanos() as u64);
                conn = Some(c);
            }
            Ok(_) => {
                errors += 1;
                conn = Some(c);
            }
            Err(_) => errors += 1,
        }
    }
    (conn, latencies, errors)
}

async fn run_phase(
    addr: &Arc<String>,
    conns: Vec<Option<Conn>>,
    request: &Arc<Vec<u8>>,
    duration: Duration,
    max: usize,
) -> (Vec<Option<Conn>>, Vec<u64>, usize) {
    let phase = Arc::new(Phase {
        deadline: Instant::now() + duration,
        max,
        issued: AtomicUsize::new(0),
    });
    let handles: Vec<_> = conns
        .into_iter()
        .map(|c| tokio::spawn(worker(addr.clone(), c, request.clone(), phase.clone())))
        .collect();
    let mut conns = Vec::new();
    let mut all = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (c, lat, err) = h.await.expect("worker task");
        conns.push(c);
        all.extend(lat);
        errors += err;
    }
    (conns, all, errors)
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)] as f64
}

async fn load(addr: &str, args: &Args) {
    let target = args.req("target");
    let body = args.req("body");
    let conc: usize = args.num("conc", 1);
    let secs: f64 = args.num("secs", 3.0);
    let max: usize = args.num("max", 100_000);
    let warmup_ms: u64 = args.num("warmup-ms", 300);
    let clk_tck: f64 = args.num("clk-tck", 100.0);
    let pid: Option<u32> = args.get("pid").map(|p| p.parse().expect("--pid: a number"));
    let request = Arc::new(build_request(target, body_for(body, false), false));
    let addr = Arc::new(addr.to_owned());

    let conns: Vec<Option<Conn>> = (0..conc).map(|_| None).collect();
    let (conns, _, _) = run_phase(
        &addr,
        conns,
        &request,
        Duration::from_millis(warmup_ms),
        conc * 20,
    )
    .await;
    if let (Some(pid), true) = (pid, args.flag("reset-hwm")) {
        // Resets VmHWM to the current RSS (Linux ≥ 4.0).
        let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    }
    let cpu_before = pid.and_then(proc_cpu_ticks);
    let start = Instant::now();
    let (_conns, mut lat, errors) =
        run_phase(&addr, conns, &request, Duration::from_secs_f64(secs), max).await;
    let elapsed = start.elapsed().as_secs_f64();
    let cpu_after = pid.and_then(proc_cpu_ticks);
    lat.sort_unstable();
    let n = lat.len();
    let mean = if n > 0 {
        lat.iter().sum::<u64>() as f64 / n as f64
    } else {
        f64::NAN
    };
    let cpu_ms_per_req = match (cpu_before, cpu_after) {
        (Some(b), Some(a)) if n > 0 => {
            format!("{:.4}", (a - b) as f64 * 1000.0 / clk_tck / n as f64)
        }
        _ => "null".to_owned(),
    };
    let kib = |key| {
        pid.and_then(|p| proc_status_kib(p, key))
            .map(|v| v.to_string())
            .unwrap_or_else(|| "null".to_owned())
    };
    println!(
        "{{\"target\":\"{target}\",\"body\":\"{body}\",\"request_bytes\":{},\"conc\":{conc},\"requests\":{n},\"errors\":{errors},\"secs\":{elapsed:.3},\"rps\":{:.1},\"p50_ms\":{:.4},\"p99_ms\":{:.4},\"mean_ms\":{:.4},\"cpu_ms_per_req\":{cpu_ms_per_req},\"vm_hwm_kib\":{},\"vm_rss_kib\":{}}}",
        request.len(),
        n as f64 / elapsed,
        percentile(&lat, 0.50) / 1e6,
        percentile(&lat, 0.99) / 1e6,
        mean / 1e6,
        kib("VmHWM:"),
        kib("VmRSS:"),
    );
}

// ---------------------------------------------------------------- stream

fn unix_micros() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i128)
        .unwrap_or(0)
}

/// What one streamed request measured.
#[derive(Default)]
struct StreamSample {
    ttfb_us: f64,
    first_delta_us: f64,
    last_delta_us: f64,
    /// Receive time − mock write time, per upstream delta.
    gaps_us: Vec<f64>,
    deltas: usize,
    /// Relayed deltas that carried more than one upstream delta.
    merged: usize,
}

/// The `tick <µs>` stamps in a text.
fn ticks(text: &str) -> Vec<i128> {
    text.match_indices("tick ")
        .filter_map(|(at, _)| {
            let rest = &text[at + 5..];
            let end = rest.find(' ').unwrap_or(rest.len());
            rest[..end].parse().ok()
        })
        .collect()
}

/// One event (frame) of the SSE body: (event name, data).
fn split_event(frame: &str) -> (Option<&str>, String) {
    let mut name = None;
    let mut data = String::new();
    for line in frame.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            name = Some(v.trim());
        } else if let Some(v) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    (name, data)
}

fn delta_text(bridge: bool, name: Option<&str>, data: &str) -> Option<String> {
    if data == "[DONE]" || data.is_empty() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(data).ok()?;
    if bridge {
        let kind = name
            .map(str::to_owned)
            .or_else(|| v["type"].as_str().map(str::to_owned))?;
        (kind == "response.output_text.delta").then(|| v["delta"].as_str().map(str::to_owned))?
    } else {
        v["choices"][0]["delta"]["content"]
            .as_str()
            .map(str::to_owned)
    }
}

async fn one_stream(
    conn: &mut Conn,
    request: &[u8],
    bridge: bool,
) -> std::io::Result<StreamSample> {
    let mut sample = StreamSample::default();
    let start = Instant::now();
    conn.stream.write_all(request).await?;
    if conn.buf.is_empty() {
        conn.fill().await?;
    }
    let first_byte = start.elapsed();
    let (status, framing, head) = loop {
        if let Some(parsed) = parse_head(&conn.buf)? {
            break parsed;
        }
        conn.fill().await?;
    };
    if status != 200 {
        return Err(io_err(format!("status {status}")));
    }
    conn.buf.drain(..head);
    let mut body = Vec::new();
    let mut consumed_events = 0;
    let mut length_left = match framing {
        Framing::Length(n) => Some(n),
        Framing::Chunked => None,
    };
    loop {
        let now_us = unix_micros();
        let now = start.elapsed();
        let done = match &mut length_left {
            Some(left) => {
                let take = (*left).min(conn.buf.len());
                body.extend_from_slice(&conn.buf[..take]);
                conn.buf.drain(..take);
                *left -= take;
                *left == 0
            }
            None => {
                let (used, done) = decode_chunks(&conn.buf, &mut body)?;
                conn.buf.drain(..used);
                done
            }
        };
        // Whole events decoded so far.
        while let Some(end) = body[consumed_events..]
            .windows(2)
            .position(|w| w == b"\n\n")
        {
            let frame = String::from_utf8_lossy(&body[consumed_events..consumed_events + end])
                .replace('\r', "");
            consumed_events += end + 2;
            let (name, data) = split_event(&frame);
            if let Some(text) = delta_text(bridge, name, &data) {
                let stamps = ticks(&text);
                if stamps.is_empty() {
                    continue;
                }
                if sample.deltas == 0 {
                    sample.first_delta_us = now.as_secs_f64() * 1e6;
                }
                sample.last_delta_us = now.as_secs_f64() * 1e6;
                sample.deltas += stamps.len();
                if stamps.len() > 1 {
                    sample.merged += 1;
                }
                for sent in stamps {
                    sample.gaps_us.push((now_us - sent) as f64);
                }
            }
        }
        if done {
            break;
        }
        conn.fill().await?;
    }
    sample.ttfb_us = first_byte.as_secs_f64() * 1e6;
    Ok(sample)
}

fn stats(values: &mut [f64]) -> String {
    values.sort_by(|a, b| a.total_cmp(b));
    let p = |q: f64| {
        if values.is_empty() {
            f64::NAN
        } else {
            values[((values.len() as f64 - 1.0) * q).round() as usize]
        }
    };
    format!(
        "{{\"n\":{},\"min\":{:.1},\"p50\":{:.1},\"p95\":{:.1},\"p99\":{:.1},\"max\":{:.1}}}",
        values.len(),
        p(0.0),
        p(0.5),
        p(0.95),
        p(0.99),
        p(1.0)
    )
}

async fn stream(addr: &str, args: &Args) {
    let target = args.req("target");
    let count: usize = args.num("count", 5);
    let chunks: usize = args.num("chunks", 40);
    let interval: u64 = args.num("interval-ms", 25);
    let label = args.get("label").unwrap_or(target);
    let model = args.get("model").map_or_else(
        || format!("bench-stream-{chunks}x{interval}"),
        str::to_owned,
    );
    let mut body: serde_json::Value =
        serde_json::from_slice(&codex_body::responses_body(10_000, true)).expect("JSON");
    body["model"] = serde_json::json!(model);
    let request = build_request(
        target,
        serde_json::to_vec(&body).expect("serializable"),
        true,
    );
    let bridge = target == "bridge";
    let mut conn = Conn::open(addr).await.expect("connect");
    // Warm-up (the bridge's first request also probes the upstream's /health).
    let warmup = one_stream(&mut conn, &request, bridge)
        .await
        .expect("warm-up stream");
    let mut ttfb = Vec::new();
    let mut first = Vec::new();
    let mut last = Vec::new();
    let mut spread = Vec::new();
    let mut gaps = Vec::new();
    let (mut deltas, mut merged, mut errors) = (0, 0, 0);
    for _ in 0..count {
        match one_stream(&mut conn, &request, bridge).await {
            Ok(s) => {
                ttfb.push(s.ttfb_us);
                first.push(s.first_delta_us);
                last.push(s.last_delta_us);
                spread.push(s.last_delta_us - s.first_delta_us);
                gaps.extend(s.gaps_us);
                deltas += s.deltas;
                merged += s.merged;
            }
            Err(e) => {
                eprintln!("stream error: {e}");
                errors += 1;
                conn = Conn::open(addr).await.expect("reconnect");
            }
        }
    }
    println!(
        "{{\"target\":\"{label}\",\"requests\":{count},\"errors\":{errors},\"chunks\":{chunks},\"interval_ms\":{interval},\"deltas\":{deltas},\"expected_deltas\":{},\"merged\":{merged},\"ttfb_us\":{},\"first_delta_us\":{},\"last_delta_us\":{},\"spread_us\":{},\"gap_us\":{},\"warmup\":{{\"ttfb_us\":{:.1},\"first_delta_us\":{:.1},\"last_delta_us\":{:.1},\"deltas\":{}}}}}",
        (count - errors) * chunks,
        stats(&mut ttfb),
        stats(&mut first),
        stats(&mut last),
        stats(&mut spread),
        stats(&mut gaps),
        warmup.ttfb_us,
        warmup.first_delta_us,
        warmup.last_delta_us,
        warmup.deltas
    );
}

// ---------------------------------------------------------------- report

fn report(file: &str) {
    let text = std::fs::read_to_string(file).expect("results file");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("a JSON result line"))
        .collect();
    let cell = |target: &str, body: &str, conc: u64| {
        lines.iter().find(|v| {
            v["target"] == target && v["body"] == body && v["conc"].as_u64() == Some(conc)
        })
    };
    let stream = |target: &str| {
        lines
            .iter()
            .find(|v| v["target"] == target && v.get("chunks").is_some())
    };
    let f = |v: Option<&serde_json::Value>, key: &str| -> f64 {
        v.and_then(|v| v[key].as_f64()).unwrap_or(f64::NAN)
    };
    let verdict = |ok: bool| if ok { "PASS" } else { "MISS" };
    println!("| measure | direct-to-mock | bridge | bridge vs direct | target | result |");
    println!("|---|---|---|---|---|---|");
    for body in ["small", "1mb"] {
        for conc in [1u64, 16, 64] {
            let (d, b) = (cell("direct", body, conc), cell("bridge", body, conc));
            let label = format!(
                "{body} ({} B → {} B) c={conc}",
                b.and_then(|v| v["request_bytes"].as_u64()).unwrap_or(0),
                d.and_then(|v| v["request_bytes"].as_u64()).unwrap_or(0)
            );
            let (drps, brps) = (f(d, "rps"), f(b, "rps"));
            let ratio = brps / drps;
            let target = "";
            let result = "";
            let errors = f(d, "errors") + f(b, "errors");
            let note = if errors > 0.0 {
                format!(" ({errors} errors)")
            } else {
                String::new()
            };
            println!(
                "| {label} req/s{note} | {drps:.0} | {brps:.0} | {ratio:.2}× | {target} | {result} |"
            );
            let (d50, b50) = (f(d, "p50_ms"), f(b, "p50_ms"));
            let added = b50 - d50;
            let (target, result) = match (body, conc) {
                ("small", 1) => ("added ≤ 0.06 ms", verdict(added <= 0.06)),
                ("1mb", 1) => ("added ≤ 3 ms", verdict(added <= 3.0)),
                _ => ("", ""),
            };
            println!(
                "| {label} p50 ms | {d50:.3} | {b50:.3} | +{added:.3} ms | {target} | {result} |"
            );
            let (d99, b99) = (f(d, "p99_ms"), f(b, "p99_ms"));
            println!(
                "| {label} p99 ms | {d99:.3} | {b99:.3} | +{:.3} ms | | |",
                b99 - d99
            );
            let (dcpu, bcpu) = (f(d, "cpu_ms_per_req"), f(b, "cpu_ms_per_req"));
            let (target, result) = match (body, conc) {
                ("small", 1) => ("bridge ≤ 0.08 ms", verdict(bcpu <= 0.08)),
                ("1mb", 1) => ("bridge ≤ 0.8 ms", verdict(bcpu <= 0.8)),
                _ => ("", ""),
            };
            println!(
                "| {label} CPU ms/req (mock \\| bridge process) | {dcpu:.3} | {bcpu:.3} | | {target} | {result} |"
            );
        }
    }
    for conc in [1u64, 64] {
        let (p, b) = (
            cell("passthrough", "small", conc),
            cell("bridge", "small", conc),
        );
        let (prps, brps) = (f(p, "rps"), f(b, "rps"));
        let ratio = brps / prps;
        let (target, result) = if conc == 64 {
            ("≥ 0.5", verdict(ratio >= 0.5))
        } else {
            ("", "")
        };
        println!(
            "| small c={conc}: translate ÷ Pingora pass-through of the Chat body, req/s | {prps:.0} (pass-through) | {brps:.0} | {ratio:.2}× | {target} | {result} |"
        );
    }
    let hwm = f(cell("bridge", "1mb", 64), "vm_hwm_kib") / 1024.0;
    println!(
        "| bridge peak RSS (VmHWM) under 1mb c=64 | | {hwm:.1} MiB | | ≤ 64 MiB | {} |",
        verdict(hwm <= 64.0)
    );
    let (ds, bs) = (stream("direct"), stream("bridge"));
    let s = |v: Option<&serde_json::Value>, key: &str, q: &str| -> f64 {
        v.and_then(|v| v[key][q].as_f64()).unwrap_or(f64::NAN) / 1000.0
    };
    let (dt50, bt50, dtmax, btmax) = (
        s(ds, "ttfb_us", "p50"),
        s(bs, "ttfb_us", "p50"),
        s(ds, "ttfb_us", "max"),
        s(bs, "ttfb_us", "max"),
    );
    println!(
        "| stream: first byte ms p50 / max | {dt50:.3} / {dtmax:.3} | {bt50:.3} / {btmax:.3} | +{:.3} ms (p50) | ≤ 2 ms (max) | {} |",
        bt50 - dt50,
        verdict(btmax <= 2.0)
    );
    println!(
        "| stream: first text delta ms p50 / max | {:.3} / {:.3} | {:.3} / {:.3} | +{:.3} ms (p50) | | |",
        s(ds, "first_delta_us", "p50"),
        s(ds, "first_delta_us", "max"),
        s(bs, "first_delta_us", "p50"),
        s(bs, "first_delta_us", "max"),
        s(bs, "first_delta_us", "p50") - s(ds, "first_delta_us", "p50"),
    );
    let (bg99, bgmax) = (s(bs, "gap_us", "p99"), s(bs, "gap_us", "max"));
    println!(
        "| stream: upstream write → client receipt per delta, ms p50 / p99 / max | {:.3} / {:.3} / {:.3} | {:.3} / {bg99:.3} / {bgmax:.3} | +{:.3} ms (p50) | ≤ 1 ms (max) | {} |",
        s(ds, "gap_us", "p50"),
        s(ds, "gap_us", "p99"),
        s(ds, "gap_us", "max"),
        s(bs, "gap_us", "p50"),
        s(bs, "gap_us", "p50") - s(ds, "gap_us", "p50"),
        verdict(bgmax <= 1.0)
    );
    let count =
        |v: Option<&serde_json::Value>, key: &str| v.and_then(|v| v[key].as_u64()).unwrap_or(0);
    let (bd, be, bm) = (
        count(bs, "deltas"),
        count(bs, "expected_deltas"),
        count(bs, "merged"),
    );
    println!(
        "| stream: upstream deltas seen / expected (merged) | {} / {} ({}) | {bd} / {be} ({bm}) | | each relayed as its own delta | {} |",
        count(ds, "deltas"),
        count(ds, "expected_deltas"),
        count(ds, "merged"),
        verdict(bd == be && bm == 0 && be > 0)
    );
    direct_mode_report(&lines);
}

/// The direct-mode streaming section of `scripts/bench.sh` (its lines are labelled
/// `stream-baseline`, `stream-direct-mode`, `stream-via-clawrouter` and `rss`), when it ran.
fn direct_mode_report(lines: &[serde_json::Value]) {
    let find = |target: &str| lines.iter().find(|v| v["target"] == target);
    let cells = [
        find("stream-baseline"),
        find("stream-direct-mode"),
        find("stream-via-clawrouter"),
    ];
    let Some(any) = cells.iter().flatten().next() else {
        return;
    };
    let ms = |v: Option<&serde_json::Value>, key: &str, q: &str| -> f64 {
        v.and_then(|v| v[key][q].as_f64()).unwrap_or(f64::NAN) / 1000.0
    };
    let row = |label: &str, cell: &dyn Fn(Option<&serde_json::Value>) -> String| {
        let [a, b, c] = cells.map(cell);
        println!("| {label} | {a} | {b} | {c} |");
    };
    println!();
    println!(
        "Direct-mode streaming: the ~10 KB Codex body, `stream:true`, {} text chunks {} ms apart, {} requests per path after one warm-up request (its figures: last rows).",
        any["chunks"], any["interval_ms"], any["requests"]
    );
    println!();
    println!("| measure | baseline: paced mock, no bridge | bridge direct mode → BlockRun stand-in (x402, streams) | bridge → ClawRouter stand-in (today's default) |");
    println!("|---|---|---|---|");
    let p50_max = |key: &'static str| {
        move |v: Option<&serde_json::Value>| {
            format!("{:.1} / {:.1}", ms(v, key, "p50"), ms(v, key, "max"))
        }
    };
    row("first byte ms p50 / max", &p50_max("ttfb_us"));
    row("first text delta ms p50 / max", &p50_max("first_delta_us"));
    row("last text delta ms p50 / max", &p50_max("last_delta_us"));
    row(
        "delta spread (first → last text delta received) ms p50 / min",
        &|v| {
            format!(
                "{:.1} / {:.1}",
                ms(v, "spread_us", "p50"),
                ms(v, "spread_us", "min")
            )
        },
    );
    row(
        "upstream generation → client receipt per delta ms p50 / p95 / max",
        &|v| {
            format!(
                "{:.2} / {:.2} / {:.2}",
                ms(v, "gap_us", "p50"),
                ms(v, "gap_us", "p95"),
                ms(v, "gap_us", "max")
            )
        },
    );
    row("text deltas seen / expected (merged)", &|v| {
        let n = |k: &str| v.and_then(|v| v[k].as_u64()).unwrap_or(0);
        format!(
            "{} / {} ({})",
            n("deltas"),
            n("expected_deltas"),
            n("merged")
        )
    });
    row("errors", &|v| {
        v.and_then(|v| v["errors"].as_u64())
            .map_or("—".to_owned(), |n| n.to_string())
    });
    row(
        "warm-up (first) request: first byte / first delta / last delta ms",
        &|v| {
            let w = |k: &str| v.and_then(|v| v["warmup"][k].as_f64()).unwrap_or(f64::NAN) / 1000.0;
            format!(
                "{:.1} / {:.1} / {:.1}",
                w("ttfb_us"),
                w("first_delta_us"),
                w("last_delta_us")
            )
        },
    );
    let Some(rss) = find("rss") else {
        return;
    };
    let kib = |k: &str| rss[k].as_f64().map(|v| v / 1024.0);
    let mib = |k: &str| kib(k).map_or("—".to_owned(), |v| format!("{v:.1}"));
    println!();
    println!(
        "x402 at the BlockRun stand-in: {} calls answered 402, {} paid calls answered (the warm-up request paid through the 402; the rest signed ahead). The direct-mode bridge's payment ledger was on {} (`BENCH_LEDGER_DIR`).",
        rss["x402_required"],
        rss["x402_paid"],
        rss["ledger_fs"].as_str().unwrap_or("?")
    );
    println!();
    println!("| process(es), after the streaming cells | VmRSS MiB | VmHWM MiB |");
    println!("|---|---|---|");
    println!(
        "| bridge, direct mode (the one process) | {} | {} |",
        mib("direct_rss_kib"),
        mib("direct_hwm_kib")
    );
    println!(
        "| bridge, proxy mode (→ ClawRouter stand-in) | {} | {} |",
        mib("proxy_rss_kib"),
        mib("proxy_hwm_kib")
    );
    let note = rss["clawrouter_note"].as_str().unwrap_or("");
    match (kib("clawrouter_rss_kib"), kib("proxy_rss_kib")) {
        (Some(claw), Some(proxy)) => {
            println!(
                "| real ClawRouter v0.12.246 (Node), {note} | {claw:.1} | {} |",
                mib("clawrouter_hwm_kib")
            );
            let hwm = kib("clawrouter_hwm_kib")
                .zip(kib("proxy_hwm_kib"))
                .map_or("—".to_owned(), |(a, b)| format!("{:.1}", a + b));
            println!(
                "| bridge + ClawRouter (the two processes) | {:.1} | {hwm} |",
                claw + proxy
            );
        }
        _ => println!("| real ClawRouter v0.12.246 | not measured: {note} | |"),
    }
}

// ---------------------------------------------------------------- soak

/// A failure the mock injects (its model name), or none.
const INJECTED: [&str; 3] = [
    "bench-inject-status",
    "bench-inject-reset",
    "bench-inject-cut",
];

/// The request kinds of the soak: (200 KB body, streaming, injected failure index).
type Kind = (bool, bool, Option<usize>);

fn soak_request(kind: Kind) -> Vec<u8> {
    let (large, streaming, injected) = kind;
    let body = body_for(if large { "200kb" } else { "small" }, streaming);
    let mut body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    body["model"] = serde_json::json!(match injected {
        Some(i) => INJECTED[i],
        // A short paced stream (8 chunks 5 ms apart), or the fixed completion.
        None if streaming => "bench-stream-8x5",
        None => "bench-soak",
    });
    build_request(
        "bridge",
        serde_json::to_vec(&body).expect("JSON"),
        streaming,
    )
}

/// What the soak counted.
#[derive(Default)]
struct Tally {
    requests: AtomicUsize,
    ok: AtomicUsize,
    injected: AtomicUsize,
    injected_failed: AtomicUsize,
    /// Errors that were not injected, by class.
    other: std::sync::Mutex<std::collections::BTreeMap<String, usize>>,
}

impl Tally {
    fn other(&self, class: String) {
        if let Ok(mut other) = self.other.lock() {
            *other.entry(class).or_default() += 1;
        }
    }

    fn other_total(&self) -> usize {
        self.other.lock().map(|o| o.values().sum()).unwrap_or(0)
    }
}

/// Small xorshift generator: the soak's draws, reproducible per worker.
struct Draw(u64);

impl Draw {
    fn percent(&mut self, p: u64) -> bool {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % 100 < p
    }

    fn below(&mut self, n: usize) -> usize {
        self.percent(0);
        (self.0 % n as u64) as usize
    }
}

/// Whether a soak answer succeeded; its error class when not.
fn classify(answer: &Answer, streaming: bool) -> Result<(), String> {
    let text = String::from_utf8_lossy(&answer.body);
    if answer.status != 200 {
        return Err(format!("http_{}", answer.status));
    }
    if !streaming {
        return Ok(());
    }
    if text.contains("\"type\":\"response.completed\"") {
        Ok(())
    } else if text.contains("\"type\":\"response.failed\"") {
        Err("response_failed".to_owned())
    } else {
        Err("stream_without_end".to_owned())
    }
}

async fn soak_worker(
    addr: Arc<String>,
    seed: u64,
    requests: Arc<Vec<(Kind, Vec<u8>)>>,
    mix: (u64, u64, u64),
    deadline: Instant,
    tally: Arc<Tally>,
) {
    let (inject_pct, large_pct, stream_pct) = mix;
    let mut draw = Draw(seed | 1);
    let mut conn: Option<Conn> = None;
    while Instant::now() < deadline {
        let large = draw.percent(large_pct);
        let streaming = draw.percent(stream_pct);
        let injected = draw.percent(inject_pct).then(|| draw.below(INJECTED.len()));
        let kind = (large, streaming, injected);
        let Some((_, request)) = requests.iter().find(|(k, _)| *k == kind) else {
            continue;
        };
        let mut c = match conn.take() {
            Some(c) => c,
            None => match Conn::open(&addr).await {
                Ok(c) => c,
                Err(e) => {
                    tally.other(format!("connect: {}", e.kind()));
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        tally.requests.fetch_add(1, Ordering::Relaxed);
        if injected.is_some() {
            tally.injected.fetch_add(1, Ordering::Relaxed);
        }
        let exchange = async {
            c.stream.write_all(request).await?;
            read_whole_response(&mut c, true).await
        };
        let answer = match tokio::time::timeout(Duration::from_secs(120), exchange).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(e)) => {
                tally.other(format!("io: {}", e.kind()));
                continue;
            }
            Err(_) => {
                tally.other("no answer within 120 s".to_owned());
                continue;
            }
        };
        match (classify(&answer, streaming), injected) {
            (Ok(()), None) => {
                tally.ok.fetch_add(1, Ordering::Relaxed);
            }
            (Err(_), Some(_)) => {
                tally.injected_failed.fetch_add(1, Ordering::Relaxed);
            }
            (Ok(()), Some(i)) => tally.other(format!("{} answered", INJECTED[i])),
            (Err(class), None) => tally.other(class),
        }
        if !answer.closes {
            conn = Some(c);
        }
    }
}

/// One sample of the bridge and the mock.
#[derive(Clone)]
struct Sample {
    secs: f64,
    rss_kib: u64,
    fds: usize,
    requests: usize,
    mock: serde_json::Value,
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| dir.count())
        .unwrap_or(0)
}

fn take_sample(pid: u32, start: Instant, tally: &Tally, mock_stats: Option<&str>) -> Sample {
    let mock = mock_stats
        .and_then(|file| std::fs::read_to_string(file).ok())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or(serde_json::Value::Null);
    Sample {
        secs: start.elapsed().as_secs_f64(),
        rss_kib: proc_status_kib(pid, "VmRSS:").unwrap_or(0),
        fds: open_fds(pid),
        requests: tally.requests.load(Ordering::Relaxed),
        mock,
    }
}

async fn soak(addr: &str, args: &Args) {
    let secs: f64 = args.num("secs", 600.0);
    let conc: usize = args.num("conc", 16);
    let pid: u32 = args.num("pid", 0);
    assert!(pid > 0, "--pid: the bridge's process id");
    let mix = (
        args.num("inject-percent", 5u64),
        args.num("large-percent", 25u64),
        args.num("stream-percent", 50u64),
    );
    let sample_every = Duration::from_secs_f64(args.num("sample-secs", 5.0));
    let warmup = args.num("warmup-secs", (secs / 10.0).clamp(5.0, 60.0));
    let settle = Duration::from_secs_f64(args.num("settle-secs", 8.0));
    let mock_stats = args.get("mock-stats").map(str::to_owned);
    let samples_file = args.get("samples-file").map(str::to_owned);

    let mut kinds = Vec::new();
    for large in [false, true] {
        for streaming in [false, true] {
            kinds.push((large, streaming, None));
            for i in 0..INJECTED.len() {
                kinds.push((large, streaming, Some(i)));
            }
        }
    }
    let requests: Arc<Vec<(Kind, Vec<u8>)>> =
        Arc::new(kinds.into_iter().map(|k| (k, soak_request(k))).collect());
    let tally = Arc::new(Tally::default());
    let addr = Arc::new(addr.to_owned());
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let mut samples = vec![take_sample(pid, start, &tally, mock_stats.as_deref())];
    let workers: Vec<_> = (0..conc)
        .map(|i| {
            tokio::spawn(soak_worker(
                addr.clone(),
                0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1),
                requests.clone(),
                mix,
                deadline,
                tally.clone(),
            ))
        })
        .collect();
    let mut ticks =
        tokio::time::interval_at(tokio::time::Instant::now() + sample_every, sample_every);
    while Instant::now() < deadline {
        ticks.tick().await;
        let sample = take_sample(pid, start, &tally, mock_stats.as_deref());
        eprintln!(
            "soak {:>5.0} s: {} requests, RSS {} KiB, {} fds, upstream {}",
            sample.secs, sample.requests, sample.rss_kib, sample.fds, sample.mock
        );
        samples.push(sample);
    }
    for worker in workers {
        let _ = worker.await;
    }
    let under_load = samples.len();
    samples.push(take_sample(pid, start, &tally, mock_stats.as_deref()));
    // The load has stopped: idle pooled connections are closed, client connections gone.
    tokio::time::sleep(settle).await;
    let settled = take_sample(pid, start, &tally, mock_stats.as_deref());
    samples.push(settled.clone());
    if let Some(file) = &samples_file {
        let lines: String = samples
            .iter()
            .map(|s| {
                format!(
                    "{{\"secs\":{:.1},\"rss_kib\":{},\"fds\":{},\"requests\":{},\"mock\":{}}}\n",
                    s.secs, s.rss_kib, s.fds, s.requests, s.mock
                )
            })
            .collect();
        let _ = std::fs::write(file, lines);
    }
    if !soak_summary(&samples, under_load, warmup, &tally, secs, conc, mix) {
        std::process::exit(1);
    }
}

fn soak_summary(
    samples: &[Sample],
    under_load: usize,
    warmup: f64,
    tally: &Tally,
    secs: f64,
    conc: usize,
    mix: (u64, u64, u64),
) -> bool {
    let start = &samples[0];
    let warm = samples[..under_load]
        .iter()
        .find(|s| s.secs >= warmup)
        .unwrap_or(&samples[under_load - 1]);
    let end = &samples[under_load];
    let settled = &samples[samples.len() - 1];
    let after_warmup = || {
        samples[..=under_load]
            .iter()
            .filter(|s| s.secs >= warm.secs)
    };
    let rss_max = after_warmup().map(|s| s.rss_kib).max().unwrap_or(0);
    let rss_min = after_warmup().map(|s| s.rss_kib).min().unwrap_or(0);
    let fds_max = after_warmup().map(|s| s.fds).max().unwrap_or(0);
    let mock = |s: &Sample, key: &str| {
        s.mock[key]
            .as_u64()
            .map_or("?".to_owned(), |n| n.to_string())
    };
    let requests = tally.requests.load(Ordering::Relaxed);
    let injected = tally.injected.load(Ordering::Relaxed);
    let other = tally.other_total();
    println!(
        "Soak: {secs:.0} s, c={conc}, {}% injected failures, {}% 200 KB bodies, {}% streaming.",
        mix.0, mix.1, mix.2
    );
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| requests | {requests} ({:.0}/s) |",
        requests as f64 / end.secs.max(1.0)
    );
    println!(
        "| answered as expected | {} |",
        tally.ok.load(Ordering::Relaxed)
    );
    println!(
        "| injected failures: asked / failed as injected | {injected} / {} |",
        tally.injected_failed.load(Ordering::Relaxed)
    );
    let classes = tally
        .other
        .lock()
        .map(|o| {
            o.iter()
                .map(|(class, n)| format!("{class}: {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    println!(
        "| other errors | {other}{} |",
        if classes.is_empty() {
            String::new()
        } else {
            format!(" ({classes})")
        }
    );
    println!(
        "| bridge RSS: start / after warm-up ({:.0} s) / end / after the load | {} / {} / {} / {} KiB |",
        warm.secs, start.rss_kib, warm.rss_kib, end.rss_kib, settled.rss_kib
    );
    println!("| bridge RSS after warm-up: min / max | {rss_min} / {rss_max} KiB |");
    println!(
        "| bridge open fds: start / after warm-up / end / after the load (max after warm-up) | {} / {} / {} / {} ({fds_max}) |",
        start.fds, warm.fds, end.fds, settled.fds
    );
    println!(
        "| upstream connections opened (mock: accepted) | {} |",
        mock(settled, "connections_accepted")
    );
    println!(
        "| upstream connections open: end of load / after the load | {} / {} |",
        mock(end, "connections_open"),
        mock(settled, "connections_open")
    );
    println!(
        "| upstream chat calls / injected by the mock | {} / {} |",
        mock(settled, "chat_calls"),
        mock(settled, "injected")
    );
    println!(
        "| samples | {} every {:.0} s |",
        samples.len(),
        samples.get(1).map_or(0.0, |s| s.secs - start.secs)
    );
    let leaked = settled.mock["connections_open"].as_u64().unwrap_or(1);
    println!();
    println!(
        "Errors other than the injected ones: {other}. Upstream connections left open after \
         the load: {leaked}. RSS from warm-up to end: {:+} KiB.",
        end.rss_kib as i64 - warm.rss_kib as i64
    );
    other == 0 && leaked == 0
}

/// One flood connection: connects, asks `GET /health`, reads the status line; returns the
/// status (0 when the connection failed or closed without an answer) and the open stream.
async fn flood_one(addr: Arc<String>) -> (u16, Option<TcpStream>) {
    let attempt = async {
        let mut stream = TcpStream::connect(addr.as_str()).await.ok()?;
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .ok()?;
        let mut head = Vec::new();
        let mut chunk = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            head.extend_from_slice(&chunk[..n]);
        }
        let status = std::str::from_utf8(head.get(9..12)?).ok()?.parse().ok()?;
        Some((status, stream))
    };
    match tokio::time::timeout(Duration::from_secs(60), attempt).await {
        Ok(Some((status, stream))) => (status, Some(stream)),
        _ => (0, None),
    }
}

async fn flood(addr: &str, args: &Args) {
    let pid: u32 = args.num("pid", 0);
    assert!(pid > 0, "--pid: the bridge's process id");
    let conns: usize = args.num("conns", 10_000);
    let bursts: usize = args.num("bursts", 5);
    let settle = Duration::from_secs_f64(args.num("settle-secs", 5.0));
    tokio::time::sleep(Duration::from_secs_f64(args.num("idle-secs", 2.0))).await;
    let mib = |kib: Option<u64>| kib.map_or(f64::NAN, |k| k as f64 / 1024.0);
    let idle = mib(proc_status_kib(pid, "VmRSS:"));
    let addr = Arc::new(addr.to_owned());
    println!("| burst | 200 | 503 | other | failed | RSS after the burst (MiB) | RSS {:.0} s later (MiB) |", settle.as_secs_f64());
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let mut settled = Vec::new();
    for burst in 1..=bursts {
        let tasks: Vec<_> = (0..conns)
            .map(|_| tokio::spawn(flood_one(addr.clone())))
            .collect();
        let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
        let mut open = Vec::with_capacity(conns);
        for task in tasks {
            let (status, stream) = task.await.unwrap_or((0, None));
            *by_status.entry(status).or_default() += 1;
            open.extend(stream);
        }
        drop(open);
        let after = mib(proc_status_kib(pid, "VmRSS:"));
        tokio::time::sleep(settle).await;
        let later = mib(proc_status_kib(pid, "VmRSS:"));
        settled.push(later);
        let count = |s: u16| by_status.get(&s).copied().unwrap_or(0);
        let other: usize = by_status
            .iter()
            .filter(|(s, _)| ![0, 200, 503].contains(*s))
            .map(|(_, n)| n)
            .sum();
        println!(
            "| {burst} | {} | {} | {other} | {} | {after:.1} | {later:.1} |",
            count(200),
            count(503),
            count(0)
        );
    }
    println!("idle RSS before the bursts: {idle:.1} MiB");
    println!(
        "{}",
        serde_json::json!({"conns": conns, "bursts": bursts, "idle_rss_mib": idle, "settled_rss_mib": settled})
    );
}
