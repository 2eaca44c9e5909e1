//! Codex sessions against a running bridge, over HTTP (the whole input every turn) or over
//! WebSocket (`previous_response_id` and only the new item), for `scripts/bench-ws.sh`.
//!
//! A session is `--turns` turns (default 100); each adds one ~10 KB user item (code-like text
//! with quotes, backslashes and newlines) and the model's answer, so the input reaches about
//! 1 MiB at turn 100. Every request streams (`stream: true`), as Codex's do.
//!
//! - `--mode cpu`: `--sessions` sessions one after the other; around each turn the bridge's
//!   CPU time is read from `/proc/<pid>/task/*/schedstat` (nanoseconds, all threads), and the
//!   turn's wall time is taken on the client. Prints one JSON line per turn index asked for
//!   (`--report 1,10,50,100`): median CPU µs and p50/p90 turn time over the sessions.
//! - `--mode load`: `--concurrency` sessions at once (threads); prints the wall time, then
//!   keeps the sessions open and idle for 4 s (for the bridge's steady-state RSS).
//!
//! Usage: `bench_ws --port P --pid PID --transport http|websocket [--mode cpu|load]
//! [--sessions N] [--turns N] [--concurrency N] [--report LIST]`. Talks to 127.0.0.1 only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// Bridge CPU time so far, all threads, in nanoseconds.
fn cpu_ns(pid: u32) -> u64 {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("the bridge's tasks") {
        let path = task.expect("task").path().join("schedstat");
        if let Ok(text) = std::fs::read_to_string(path) {
            total += text
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

/// About 10 KB of code-like text, different per (session, turn).
fn item_text(session: usize, turn: usize) -> String {
    let mut text = String::with_capacity(10_400);
    let mut line = 0;
    while text.len() < 10_000 {
        text.push_str(&format!(
            "    let value_{session}_{turn}_{line} = parse(\"field \\\"{line}\\\"\", &config)?; // step {line}\n"
        ));
        line += 1;
    }
    text
}

fn user(text: String) -> Value {
    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
}

fn request(input: &[Value]) -> Value {
    json!({
        "model": "bench-model",
        "input": input,
        "tools": [{"type": "function", "name": "exec_command", "strict": false,
                   "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}},
                                  "required": ["cmd"]}}],
        "tool_choice": "auto", "parallel_tool_calls": true, "reasoning": {},
        "store": false, "include": [], "prompt_cache_key": "bench",
    })
}

enum Transport {
    Http(ureq::Agent, String),
    Ws(Box<WebSocket<MaybeTlsStream<TcpStream>>>),
}

/// One session's client state.
struct Session {
    transport: Transport,
    history: Vec<Value>,
    previous: Option<String>,
}

impl Session {
    fn open(port: u16, websocket: bool) -> Session {
        let transport = if websocket {
            let (socket, _) =
                tungstenite::connect(format!("ws://127.0.0.1:{port}/v1/responses")).expect("ws");
            Transport::Ws(Box::new(socket))
        } else {
            let agent = ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(60))
                .build();
            Transport::Http(agent, format!("http://127.0.0.1:{port}/v1/responses"))
        };
        Session {
            transport,
            history: Vec::new(),
            previous: None,
        }
    }

    /// One turn: sends the new item, returns when `response.completed` arrived.
    fn turn(&mut self, item: Value) {
        self.history.push(item.clone());
        let response = match &mut self.transport {
            Transport::Http(agent, url) => {
                let mut body = request(&self.history);
                body["stream"] = json!(true);
                let text = agent
                    .post(url)
                    .set("content-type", "application/json")
                    .send_string(&body.to_string())
                    .expect("POST")
                    .into_string()
                    .expect("body");
                let data = text
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: "))
                    .find(|d| d.contains("\"type\":\"response.completed\""))
                    .expect("response.completed");
                serde_json::from_str::<Value>(data).expect("JSON")["response"].take()
            }
            Transport::Ws(socket) => {
                let mut body = request(&[item]);
                body["type"] = json!("response.create");
                if let Some(id) = &self.previous {
                    body["previous_response_id"] = json!(id);
                }
                socket.send(Message::text(body.to_string())).expect("send");
                loop {
                    match socket.read().expect("read") {
                        Message::Text(text) => {
                            let text = text.as_str();
                            if text.contains("\"type\":\"response.completed\"") {
                                break serde_json::from_str::<Value>(text).expect("JSON")
                                    ["response"]
                                    .take();
                            }
                            assert!(
                                !text.starts_with("{\"type\":\"error\"")
                                    && !text.contains("\"type\":\"response.failed\""),
                                "{text}"
                            );
                        }
                        Message::Close(_) => panic!("closed"),
                        _ => {}
                    }
                }
            }
        };
        self.previous = response["id"].as_str().map(str::to_owned);
        if let Some(output) = response["output"].as_array() {
            self.history.extend(output.iter().cloned());
        }
    }
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let at = ((values.len() as f64 - 1.0) * p).round() as usize;
    values[at]
}

fn main() {
    let mut port = 0u16;
    let mut pid = 0u32;
    let mut websocket = false;
    let mut mode = "cpu".to_owned();
    let mut sessions = 10usize;
    let mut turns = 100usize;
    let mut concurrency = 64usize;
    let mut report = vec![1usize, 10, 50, 100];
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("option needs a value");
        match arg.as_str() {
            "--port" => port = value().parse().expect("--port"),
            "--pid" => pid = value().parse().expect("--pid"),
            "--transport" => websocket = value() == "websocket",
            "--mode" => mode = value(),
            "--sessions" => sessions = value().parse().expect("--sessions"),
            "--turns" => turns = value().parse().expect("--turns"),
            "--concurrency" => concurrency = value().parse().expect("--concurrency"),
            "--report" => {
                report = value()
                    .split(',')
                    .map(|n| n.parse().expect("--report"))
                    .collect()
            }
            other => panic!("unknown option {other}"),
        }
    }
    let transport = if websocket { "websocket" } else { "http" };
    if mode == "load" {
        let started = Instant::now();
        let threads: Vec<_> = (0..concurrency)
            .map(|s| {
                std::thread::spawn(move || {
                    let mut session = Session::open(port, websocket);
                    for t in 1..=turns {
                        session.turn(user(item_text(s, t)));
                    }
                    // Held open until every session is done: all conversations at once.
                    session
                })
            })
            .collect();
        let open: Vec<Session> = threads
            .into_iter()
            .map(|t| t.join().expect("session"))
            .collect();
        println!(
            "{}",
            json!({"transport": transport, "concurrency": concurrency, "turns": turns,
                   "secs": started.elapsed().as_secs_f64(),
                   "input_bytes": serde_json::to_vec(&open[0].history).map(|v| v.len()).unwrap_or(0)})
        );
        // The sessions stay open a while, idle, for the steady-state RSS.
        use std::io::Write;
        let _ = std::io::stdout().flush();
        std::thread::sleep(Duration::from_secs(4));
        drop(open);
        return;
    }
    // cpu[t] and wall[t]: one value per session.
    let mut cpu = vec![Vec::new(); turns + 1];
    let mut wall = vec![Vec::new(); turns + 1];
    let mut input_bytes = vec![0usize; turns + 1];
    for s in 0..sessions {
        let mut session = Session::open(port, websocket);
        for t in 1..=turns {
            let item = user(item_text(s, t));
            let before = cpu_ns(pid);
            let started = Instant::now();
            session.turn(item);
            let elapsed = started.elapsed();
            let after = cpu_ns(pid);
            cpu[t].push((after - before) as f64 / 1000.0);
            wall[t].push(elapsed.as_secs_f64() * 1000.0);
            input_bytes[t] = serde_json::to_vec(&session.history).map_or(0, |v| v.len());
        }
    }
    for t in report.into_iter().filter(|t| *t <= turns) {
        println!(
            "{}",
            json!({"transport": transport, "turn": t,
                   "cpu_us_median": percentile(&mut cpu[t], 0.5),
                   "wall_ms_p50": percentile(&mut wall[t], 0.5),
                   "wall_ms_p90": percentile(&mut wall[t], 0.9),
                   "input_bytes": input_bytes[t]})
        );
    }
}
