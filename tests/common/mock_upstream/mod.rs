//! A mock ClawRouter: a **strict** OpenAI-compatible Chat Completions server on
//! `127.0.0.1:0`, std threads only (one per connection, HTTP/1.1 keep-alive).
//!
//! ```ignore
//! let mock = MockUpstream::start(|call: &ChatCall| match call.index {
//!     0 => Reply::tool_calls(vec![("exec_command", json!({"cmd": "ls"}))]),
//!     _ => Reply::text("done"),
//! });
//! // point the bridge at mock.base_url() (http://127.0.0.1:PORT/v1) …
//! assert_eq!(mock.chat_calls().len(), 2);
//! assert!(mock.rejections().is_empty());
//! ```
//!
//! Routes:
//! - `POST /v1/chat/completions`: validated like OpenAI does (see
//!   [`validate`]); a violation gets 400 with
//!   `{"error":{"message","type":"invalid_request_error","param","code"}}` and
//!   never reaches the script. A valid request is handed to the script as a
//!   [`ChatCall`] and answered with the returned [`Reply`]. A request body with
//!   a `Content-Encoding` other than identity is rejected (the mock never
//!   decodes, so a forwarded header would corrupt the body on a real server).
//! - `GET /v1/models`: a ClawRouter-like list (`auto`, `eco`, …, `provider/model` ids).
//! - `GET /health` (`?full=true` adds `balance`, `isLow`, `isEmpty`, or `balanceError` when
//!   the balance cannot be read: [`Builder::balance_usd`]); Base by default, Solana with
//!   [`Builder::pays_on_solana`] (`paymentChain` `solana` and a `solana` address).
//! - `GET /stats?days=N`: the spend of its usage log, computed like ClawRouter does (see
//!   [`stats`]; empty unless scripted with [`Builder::usage`] and [`Builder::provider_error`]).
//!
//! The proxy states a user can meet: funded (the default, $5.00), a low or empty wallet
//! (`balance_usd(Some(0.5))`, `Some(0.0)`), the balance unavailable (`balance_usd(None)`), and
//! the proxy down (no mock: point the bridge at a port nothing listens on).
//!
//! Optionally it rewrites and replays chat requests like the real ClawRouter does
//! ([`Builder::compress_like_clawrouter`], [`Builder::replay_like_clawrouter`]).
//! - any other `/v1/*`: 200 with a JSON echo `{method, path, headers, body, json}`.
//! - anything else: 404 `{"error":"Not found"}`.
//!
//! With [`Builder::blockrun`] it is BlockRun's API behind an x402 paywall instead (routes under
//! `/api`, payments verified by an independent implementation): see [`blockrun`].
//!
//! A script that panics (e.g. a failed `assert!` on the request) gets its
//! request answered 500, and the panic is re-raised when the mock is dropped,
//! so the test fails.
#![allow(dead_code)]

pub mod blockrun;
pub mod clawrouter;
mod http;
mod reply;
pub mod stats;
pub mod validate;

// Used only by the test binaries that run the mock in paywall mode.
#[allow(unused_imports)]
pub use blockrun::{Chain, PaymentOutcome, PaymentSeen, Paywall, Quote, RpcCall};
pub use reply::{FreeFallback, Reply, StreamStyle};
pub use stats::Usage;
pub use validate::Rejection;

use http::{Conn, RawRequest, ReadError, Readiness};
use reply::{is_profile, now_secs, sse_error_payload, Kind};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use validate::Strictness;

/// A valid chat request as the script sees it.
#[derive(Clone, Debug)]
pub struct ChatCall {
    /// 0-based index among the *accepted* chat calls of this mock.
    pub index: usize,
    /// The parsed request body.
    pub body: Value,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
}

/// The text of a Chat message's content, whether a string or text parts (the bridge sends
/// big bodies' contents as parts to ClawRouter, see `upstream.preserve_whitespace`).
pub fn content_text(message: &Value) -> String {
    match &message["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => String::new(),
    }
}

impl ChatCall {
    pub fn header(&self, name: &str) -> Option<&str> {
        http::header(&self.headers, name)
    }

    pub fn model(&self) -> &str {
        self.body.get("model").and_then(Value::as_str).unwrap_or("")
    }

    pub fn is_stream(&self) -> bool {
        self.body.get("stream").and_then(Value::as_bool) == Some(true)
    }

    pub fn messages(&self) -> &[Value] {
        self.body
            .get("messages")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    pub fn last_message(&self) -> Option<&Value> {
        self.messages().last()
    }

    /// `function.name` of every tool offered.
    pub fn tool_names(&self) -> Vec<String> {
        self.body
            .get("tools")
            .and_then(Value::as_array)
            .map(|tools| {
                tools
                    .iter()
                    .filter_map(|t| t.pointer("/function/name").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The tool definition named `name`, if offered.
    pub fn tool(&self, name: &str) -> Option<&Value> {
        self.body
            .get("tools")?
            .as_array()?
            .iter()
            .find(|t| t.pointer("/function/name").and_then(Value::as_str) == Some(name))
    }
}

/// Everything the mock received, in arrival order.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// Path with query string, as sent.
    pub path: String,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The body parsed as JSON, if it is JSON.
    pub json: Option<Value>,
    /// Why the request was refused (400 validation, script panic, bad HTTP …).
    pub rejected: Option<Rejection>,
    /// The status written, or `None` (hang-up, reset, garbage, still running).
    pub status: Option<u16>,
    /// Set for accepted chat calls.
    pub chat_index: Option<usize>,
    /// The client closed the connection before the reply was complete.
    pub client_disconnected: bool,
    /// The reply was written completely (or the scripted failure carried out).
    pub finished: bool,
    pub received_at: Instant,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        http::header(&self.headers, name)
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Path without the query string.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or("")
    }

    /// A chat completion request (`/api/v1/…` in paywall mode).
    pub fn is_chat(&self) -> bool {
        matches!(
            self.route(),
            "/v1/chat/completions" | "/api/v1/chat/completions"
        )
    }
}

type Script = dyn Fn(&ChatCall) -> Reply + Send + Sync;
type Route = dyn Fn(&RecordedRequest) -> Option<Reply> + Send + Sync;

struct Shared {
    stop: AtomicBool,
    script: Box<Script>,
    route: Option<Box<Route>>,
    strict: Strictness,
    balance_usd: Option<f64>,
    pays_on_solana: bool,
    usage: Vec<Usage>,
    provider_errors: Value,
    compress: bool,
    keep_alive_timeout: Option<Duration>,
    close_reused: bool,
    free_fallback: Option<FreeFallback>,
    /// BlockRun's paywall mode ([`Builder::blockrun`]).
    blockrun: Option<blockrun::Mock>,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    requests: Vec<RecordedRequest>,
    chat_calls: Vec<ChatCall>,
    /// Clones of the open connections, to shut them down on drop.
    conns: HashMap<u64, TcpStream>,
    next_conn: u64,
    panics: Vec<String>,
    /// ClawRouter's replay memory, when the mock behaves like it.
    replay: Option<clawrouter::Replay>,
    /// String contents ClawRouter's compression rewrote.
    rewritten_contents: usize,
    /// Chat requests answered from the replay memory (no model call).
    replayed: usize,
    /// Requests that arrived on a kept-alive connection the mock then closed unread.
    dropped_on_reuse: usize,
    /// Kept-alive connections the client closed while idle.
    idle_closed_by_client: usize,
    /// Kept-alive connections the mock closed after its keep-alive time-out.
    idle_closed_by_mock: usize,
    /// The paywall's payments, quotes and RPC calls (paywall mode only).
    paywall: blockrun::Books,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another connection thread panicked.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, idx: usize, f: impl FnOnce(&mut RecordedRequest)) {
        let mut st = self.state();
        if let Some(r) = st.requests.get_mut(idx) {
            f(r);
        }
        if let Some(status) = st.requests.get(idx).and_then(|r| r.status) {
            st.paywall.status_known(idx, status);
        }
        drop(st);
        self.changed.notify_all();
    }
}

/// Options for [`MockUpstream`]; start with [`MockUpstream::builder`].
pub struct Builder {
    strict: Strictness,
    balance_usd: Option<f64>,
    pays_on_solana: bool,
    usage: Vec<Usage>,
    provider_errors: Vec<(String, String, u64)>,
    route: Option<Box<Route>>,
    compress: bool,
    replay_window: Option<Duration>,
    keep_alive_timeout: Option<Duration>,
    close_reused: bool,
    free_fallback: Option<FreeFallback>,
    blockrun: Option<Paywall>,
}

impl Builder {
    /// Be BlockRun's API behind an x402 paywall (see [`blockrun`]): routes under `/api`
    /// ([`MockUpstream::api_base`]), chat calls validated and scripted as usual once paid.
    pub fn blockrun(mut self, paywall: Paywall) -> Self {
        self.blockrun = Some(paywall);
        self
    }

    /// The wallet cannot pay: every completion for a model that is not free comes from the
    /// free model `nvidia/gpt-oss-120b`, the way `fallback` says (see [`FreeFallback`]).
    pub fn wallet_cannot_pay(mut self, fallback: FreeFallback) -> Self {
        self.free_fallback = Some(fallback);
        self
    }

    /// Close a kept-alive connection that stays idle this long, like Node's
    /// `server.keepAliveTimeout` (ClawRouter: 5 s).
    pub fn keep_alive_timeout(mut self, idle: Duration) -> Self {
        self.keep_alive_timeout = Some(idle);
        self
    }

    /// Close every kept-alive connection as its next request arrives, without reading or
    /// answering it: Node's idle time-out firing just as the client reuses the connection.
    pub fn close_reused_connections(mut self) -> Self {
        self.close_reused = true;
        self
    }

    /// Accept an extra top-level chat parameter (e.g. ClawRouter's `cache`).
    pub fn allow_param(mut self, name: &str) -> Self {
        self.strict.extra_params.push(name.to_string());
        self
    }

    /// Accept `image_url` parts in `tool` messages (OpenAI rejects them).
    pub fn images_in_tool_messages(mut self) -> Self {
        self.strict.images_in_tool_messages = true;
        self
    }

    /// Wallet balance for `/health?full=true`; `None` = `balanceError`. Default $5.00.
    pub fn balance_usd(mut self, usd: Option<f64>) -> Self {
        self.balance_usd = usd;
        self
    }

    /// Report a wallet that pays on Solana, as ClawRouter since v0.12.246 does for a new wallet:
    /// `paymentChain` `solana` and the Solana address [`SOLANA_WALLET`] beside the EVM one.
    pub fn pays_on_solana(mut self) -> Self {
        self.pays_on_solana = true;
        self
    }

    /// The usage log `/stats` aggregates (one entry per chat request; default: empty).
    pub fn usage(mut self, log: Vec<Usage>) -> Self {
        self.usage = log;
        self
    }

    /// `count` upstream failures of `kind` (e.g. `rate_limited`) for `model` in `/stats`'s
    /// `providerErrors`.
    pub fn provider_error(mut self, model: &str, kind: &str, count: u64) -> Self {
        assert!(
            stats::PROVIDER_ERROR_KINDS.contains(&kind),
            "{kind} is not a ClawRouter error kind"
        );
        self.provider_errors
            .push((model.to_owned(), kind.to_owned(), count));
        self
    }

    /// Rewrite big requests' whitespace like ClawRouter's auto-compression does (see
    /// [`clawrouter`]); the script then sees the rewritten body.
    pub fn compress_like_clawrouter(mut self) -> Self {
        self.compress = true;
        self
    }

    /// Replay any identical chat request finished within `window` (ClawRouter: 30 s), failures
    /// included, without calling the script.
    pub fn replay_like_clawrouter(mut self, window: Duration) -> Self {
        self.replay_window = Some(window);
        self
    }

    /// Answer non-chat requests yourself: return `Some(reply)` to override
    /// the built-in `/v1/models`, `/health` and echo routes.
    pub fn route(
        mut self,
        f: impl Fn(&RecordedRequest) -> Option<Reply> + Send + Sync + 'static,
    ) -> Self {
        self.route = Some(Box::new(f));
        self
    }

    pub fn start(
        self,
        script: impl Fn(&ChatCall) -> Reply + Send + Sync + 'static,
    ) -> MockUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            script: Box::new(script),
            route: self.route,
            strict: self.strict,
            balance_usd: self.balance_usd,
            pays_on_solana: self.pays_on_solana,
            usage: self.usage,
            provider_errors: stats::provider_errors(&self.provider_errors),
            compress: self.compress,
            keep_alive_timeout: self.keep_alive_timeout,
            close_reused: self.close_reused,
            free_fallback: self.free_fallback,
            blockrun: self.blockrun.map(blockrun::Mock::new),
            state: Mutex::new(State {
                replay: self.replay_window.map(clawrouter::Replay::new),
                ..State::default()
            }),
            changed: Condvar::new(),
        });
        let sh = shared.clone();
        let accept = std::thread::Builder::new()
            .name(format!("mock-upstream-{}", addr.port()))
            .spawn(move || accept_loop(listener, sh))
            .expect("spawn accept thread");
        MockUpstream {
            addr,
            shared,
            accept: Some(accept),
        }
    }
}

/// The running mock; stops on drop.
pub struct MockUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl MockUpstream {
    pub fn builder() -> Builder {
        Builder {
            strict: Strictness::default(),
            balance_usd: Some(5.0),
            pays_on_solana: false,
            usage: Vec::new(),
            provider_errors: Vec::new(),
            route: None,
            compress: false,
            replay_window: None,
            keep_alive_timeout: None,
            close_reused: false,
            free_fallback: None,
            blockrun: None,
        }
    }

    /// Start with default options; `script` answers every valid chat call.
    pub fn start(script: impl Fn(&ChatCall) -> Reply + Send + Sync + 'static) -> Self {
        Self::builder().start(script)
    }

    /// Answer chat call `i` with `replies[i]`; one call too many panics the
    /// script (answered 500, test fails on drop).
    pub fn replies(replies: Vec<Reply>) -> Self {
        Self::start(move |call| match replies.get(call.index) {
            Some(r) => r.clone(),
            None => panic!(
                "mock upstream: no scripted reply for chat call #{} ({} scripted)",
                call.index,
                replies.len()
            ),
        })
    }

    /// Requests that came on a kept-alive connection the mock closed unanswered
    /// ([`Builder::close_reused_connections`]).
    pub fn dropped_on_reuse(&self) -> usize {
        self.shared.state().dropped_on_reuse
    }

    /// Kept-alive connections closed while idle: (by the client, by the mock's keep-alive
    /// time-out).
    pub fn idle_closes(&self) -> (usize, usize) {
        let st = self.shared.state();
        (st.idle_closed_by_client, st.idle_closed_by_mock)
    }

    /// Blocks until a kept-alive connection was closed while idle (by either side) or `timeout`
    /// passes; returns whether one was.
    pub fn wait_for_idle_close(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.state();
        while st.idle_closed_by_client + st.idle_closed_by_mock == 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        true
    }

    /// How many TCP connections the mock has accepted.
    pub fn connections_accepted(&self) -> u64 {
        self.shared.state().next_conn
    }

    /// How many string contents the ClawRouter compression rewrote.
    pub fn rewritten_contents(&self) -> usize {
        self.shared.state().rewritten_contents
    }

    /// How many chat requests were answered from the ClawRouter-like replay memory.
    pub fn replayed(&self) -> usize {
        self.shared.state().replayed
    }

    /// `http://127.0.0.1:PORT/v1`
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://127.0.0.1:PORT`
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far (including rejected ones).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.state().requests.clone()
    }

    /// The accepted chat calls, in order (what the script saw).
    pub fn chat_calls(&self) -> Vec<ChatCall> {
        self.shared.state().chat_calls.clone()
    }

    /// Requests refused with a reason (validation 400s, script panics, bad HTTP).
    pub fn rejections(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.rejected.is_some())
            .collect()
    }

    /// Panics with every rejection reason if any request was refused.
    pub fn assert_no_rejections(&self) {
        let rej = self.rejections();
        assert!(
            rej.is_empty(),
            "mock upstream rejected {} request(s):\n{}",
            rej.len(),
            rej.iter()
                .map(|r| format!(
                    "  {} {} -> {}",
                    r.method,
                    r.path,
                    r.rejected.as_ref().map_or("", |x| x.message.as_str())
                ))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    /// Blocks until `pred(requests)` holds or `timeout` passes; returns whether it held.
    pub fn wait_until(&self, timeout: Duration, pred: impl Fn(&[RecordedRequest]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.state();
        loop {
            if pred(&st.requests) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Blocks until at least `n` requests arrived (any route).
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |r| r.len() >= n)
    }

    /// Blocks until at least `n` chat calls were accepted.
    pub fn wait_for_chat_calls(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |r| {
            r.iter().filter(|x| x.chat_index.is_some()).count() >= n
        })
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        let (conns, panics) = {
            let mut st = self.shared.state();
            (std::mem::take(&mut st.conns), st.panics.clone())
        };
        for c in conns.into_values() {
            let _ = c.shutdown(Shutdown::Both);
        }
        if let Some(paywall) = &self.shared.blockrun {
            paywall.stop_verifier();
        }
        if !panics.is_empty() && !std::thread::panicking() {
            panic!("mock upstream script panicked:\n{}", panics.join("\n"));
        }
    }
}

// ---- server ---------------------------------------------------------------

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let _ = stream.set_nodelay(true);
        let id = {
            let mut st = shared.state();
            st.next_conn += 1;
            let id = st.next_conn;
            if let Ok(clone) = stream.try_clone() {
                st.conns.insert(id, clone);
            }
            id
        };
        let sh = shared.clone();
        let _ = std::thread::Builder::new()
            .name("mock-upstream-conn".into())
            .spawn(move || {
                let conn = serve_conn(Conn::new(stream), &sh);
                // Drop our clone first: a reset needs the last descriptor closed.
                sh.state().conns.remove(&id);
                match conn {
                    Some((conn, After::Reset)) => conn.reset(),
                    Some((conn, _)) => conn.close(),
                    None => {}
                }
            });
    }
}

/// What to do with the connection after a reply.
enum After {
    KeepAlive,
    Close,
    Reset,
}

/// Serves requests until the connection should end; returns it with how to end it.
fn serve_conn(mut conn: Conn, shared: &Shared) -> Option<(Conn, After)> {
    let mut served = 0usize;
    loop {
        if served > 0 {
            match conn.wait_readable(shared.keep_alive_timeout) {
                Readiness::Data => {}
                Readiness::Closed => {
                    count(shared, |st| st.idle_closed_by_client += 1);
                    return None;
                }
                Readiness::Quiet => {
                    count(shared, |st| st.idle_closed_by_mock += 1);
                    return Some((conn, After::Close));
                }
            }
            if shared.close_reused {
                count(shared, |st| st.dropped_on_reuse += 1);
                return Some((conn, After::Close));
            }
        }
        served += 1;
        let req = match conn.read_request() {
            Ok(r) => r,
            Err(ReadError::Closed) => return None,
            Err(ReadError::Bad(why)) => {
                record_bad_http(shared, &why);
                let body = json!({"error": {"message": why, "type": "invalid_request_error",
                    "param": null, "code": null}});
                let _ = conn.write_full(400, &json_ct(), body.to_string().as_bytes(), true);
                return Some((conn, After::Close));
            }
        };
        let close = req.wants_close();
        match handle(&mut conn, req, shared) {
            After::KeepAlive if !close => {}
            After::KeepAlive => return Some((conn, After::Close)),
            after => return Some((conn, after)),
        }
    }
}

fn count(shared: &Shared, change: impl FnOnce(&mut State)) {
    change(&mut shared.state());
    shared.changed.notify_all();
}

fn record_bad_http(shared: &Shared, why: &str) {
    shared.state().requests.push(RecordedRequest {
        method: String::new(),
        path: String::new(),
        headers: Vec::new(),
        body: Vec::new(),
        json: None,
        rejected: Some(Rejection::new(why, None)),
        status: Some(400),
        chat_index: None,
        client_disconnected: false,
        finished: true,
        received_at: Instant::now(),
    });
    shared.changed.notify_all();
}

fn json_ct() -> Vec<(String, String)> {
    vec![("content-type".into(), "application/json".into())]
}

fn handle(conn: &mut Conn, req: RawRequest, shared: &Shared) -> After {
    let json = if req.body.is_empty() {
        None
    } else {
        serde_json::from_slice::<Value>(&req.body).ok()
    };
    let record = RecordedRequest {
        method: req.method.clone(),
        path: req.target.clone(),
        headers: req.headers.clone(),
        body: req.body.clone(),
        json: json.clone(),
        rejected: None,
        status: None,
        chat_index: None,
        client_disconnected: false,
        finished: false,
        received_at: Instant::now(),
    };
    let idx = {
        let mut st = shared.state();
        st.requests.push(record.clone());
        st.requests.len() - 1
    };
    shared.changed.notify_all();

    if let Some(paywall) = &shared.blockrun {
        return blockrun::handle(conn, &req, json, &record, idx, shared, paywall);
    }
    let route = record.route().to_string();
    if route == "/v1/chat/completions" {
        return handle_chat(conn, &req, json, idx, shared);
    }
    let reply = shared.route.as_ref().and_then(|f| f(&record));
    let reply = match reply {
        Some(r) => r,
        None => match (req.method.as_str(), route.as_str()) {
            ("GET", "/v1/models") => Reply::json(200, models_list()),
            ("GET", "/health") => Reply::json(200, health(shared, &record.path)),
            ("GET", "/stats") => {
                let query = record.path.split_once('?').map_or("", |(_, q)| q);
                let body = stats::stats_body(&shared.usage, &shared.provider_errors, query);
                Reply::status(200, "application/json", body)
            }
            (_, r) if r.starts_with("/v1/") => Reply::json(200, echo(&record)),
            _ => Reply::json(404, json!({"error": "Not found"})),
        },
    };
    run_reply(
        conn,
        reply,
        &Value::Null,
        req.body.len(),
        false,
        idx,
        shared,
    )
}

fn reject(conn: &mut Conn, idx: usize, shared: &Shared, status: u16, r: Rejection) -> After {
    let body = r.body().to_string();
    shared.update(idx, |rec| {
        rec.rejected = Some(r);
        rec.status = Some(status);
    });
    let ok = conn
        .write_full(status, &json_ct(), body.as_bytes(), false)
        .is_ok();
    shared.update(idx, |rec| {
        rec.finished = ok;
        rec.client_disconnected = !ok;
    });
    if ok {
        After::KeepAlive
    } else {
        After::Close
    }
}

fn handle_chat(
    conn: &mut Conn,
    req: &RawRequest,
    json: Option<Value>,
    idx: usize,
    shared: &Shared,
) -> After {
    if req.method != "POST" {
        return reject(
            conn,
            idx,
            shared,
            405,
            Rejection::new(
                format!("Method {} not allowed; use POST.", req.method),
                None,
            ),
        );
    }
    if let Some(enc) = req
        .header("content-encoding")
        .filter(|e| !e.trim().eq_ignore_ascii_case("identity"))
    {
        return reject(
            conn,
            idx,
            shared,
            400,
            Rejection::new(format!("Unsupported content-encoding: {enc}"), None),
        );
    }
    let Some(body) = json else {
        return reject(
            conn,
            idx,
            shared,
            400,
            Rejection::new(
                "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
                None,
            ),
        );
    };
    if let Err(r) = validate::validate_chat(&body, &shared.strict) {
        return reject(conn, idx, shared, 400, r);
    }
    let mut body = body;
    if shared.compress {
        let rewritten = clawrouter::compress(&mut body, req.body.len());
        shared.state().rewritten_contents += rewritten;
    }
    let replay_key = clawrouter::Replay::key(&body);
    let replayed = {
        let mut st = shared.state();
        let reply = st.replay.as_mut().and_then(|r| r.replay(replay_key));
        if reply.is_some() {
            st.replayed += 1;
        }
        reply
    };
    if let Some(reply) = replayed {
        let stream = body.get("stream").and_then(Value::as_bool) == Some(true);
        return run_reply(conn, reply, &body, req.body.len(), stream, idx, shared);
    }
    let call = {
        let mut st = shared.state();
        let call = ChatCall {
            index: st.chat_calls.len(),
            body: body.clone(),
            headers: req.headers.clone(),
        };
        st.chat_calls.push(call.clone());
        if let Some(r) = st.requests.get_mut(idx) {
            r.chat_index = Some(call.index);
        }
        call
    };
    shared.changed.notify_all();
    let reply = match catch_unwind(AssertUnwindSafe(|| (shared.script)(&call))) {
        Ok(r) => match shared.free_fallback {
            Some(fallback) => fallback.apply(r, &call),
            None => r,
        },
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "non-string panic".into());
            let msg = format!("chat call #{}: {msg}", call.index);
            shared.state().panics.push(msg.clone());
            let r = Rejection::new(format!("mock script panicked: {msg}"), None);
            let body = json!({"error": {"message": r.message, "type": "mock_script_panic",
                "param": null, "code": null}});
            shared.update(idx, |rec| rec.rejected = Some(r));
            return run_reply(
                conn,
                Reply::json(500, body),
                &Value::Null,
                0,
                false,
                idx,
                shared,
            );
        }
    };
    let stream = call.is_stream();
    if let Some(replay) = shared.state().replay.as_mut() {
        replay.remember(replay_key, &reply);
    }
    run_reply(conn, reply, &body, req.body.len(), stream, idx, shared)
}

/// Writes `reply`, records status / completion / disconnect, and says what
/// to do with the connection.
fn run_reply(
    conn: &mut Conn,
    reply: Reply,
    body: &Value,
    request_len: usize,
    stream: bool,
    idx: usize,
    shared: &Shared,
) -> After {
    let gone = |shared: &Shared| {
        shared.update(idx, |r| r.client_disconnected = true);
        After::Close
    };
    if !reply.delay.is_zero() && !conn.wait_alive(reply.delay) {
        return gone(shared);
    }
    let set_status = |s: u16| shared.update(idx, |r| r.status = Some(s));
    let done = |after: After| {
        shared.update(idx, |r| r.finished = true);
        after
    };
    let ctx_headers = || {
        vec![
            (
                "x-context-used-kb".to_string(),
                request_len.div_ceil(1024).to_string(),
            ),
            ("x-context-limit-kb".to_string(), "5120".to_string()),
        ]
        .into_iter()
        .chain(shared.state().paywall.receipt(idx))
        .collect::<Vec<_>>()
    };
    let chat_id = format!("chatcmpl-mock{idx:06}");
    match reply.kind {
        Kind::Completion(c) => {
            set_status(200);
            let model = c.routed_model(body);
            let profile = is_profile(body);
            if !stream {
                let mut headers = json_ct();
                headers.extend(ctx_headers());
                if profile {
                    headers.extend(profile_headers(body, &model));
                }
                headers.extend(c.headers.iter().cloned());
                let out = c.json_body(&chat_id, body, request_len).to_string();
                return match conn.write_full(200, &headers, out.as_bytes(), false) {
                    Ok(()) => done(After::KeepAlive),
                    Err(_) => gone(shared),
                };
            }
            let mut headers = sse_headers();
            headers.extend(ctx_headers());
            headers.extend(c.headers.iter().cloned());
            let claw = c.style == StreamStyle::ClawRouter;
            let mut sse = Sse { conn };
            let mut ok = sse.head(&headers);
            if claw {
                ok = ok && sse.comment("heartbeat");
                if profile {
                    ok = ok
                        && sse.comment(&format!(
                            "x-clawrouter-debug profile={} tier=MEDIUM model={model}",
                            reply::requested_model(body)
                        ));
                }
            }
            let start = Instant::now();
            while ok && start.elapsed() < c.stream_wait {
                let left = c.stream_wait.saturating_sub(start.elapsed());
                ok = sse.conn.wait_alive(left.min(c.heartbeat_interval))
                    && (start.elapsed() >= c.stream_wait || sse.comment("heartbeat"));
            }
            for (i, chunk) in c
                .stream_chunks(&chat_id, body, request_len)
                .iter()
                .enumerate()
            {
                if !ok {
                    break;
                }
                if i > 0 && !c.chunk_delay.is_zero() {
                    ok = sse.conn.wait_alive(c.chunk_delay);
                }
                ok = ok && sse.data(&chunk.to_string());
            }
            if ok && claw && profile {
                ok = sse.comment(&format!(
                    "cost=$0.0036 savings=97% model={model} tier=MEDIUM"
                ));
            }
            ok = ok && sse.data("[DONE]") && sse.end();
            if ok {
                done(After::KeepAlive)
            } else {
                gone(shared)
            }
        }
        Kind::Http {
            status,
            mut headers,
            body: out,
        } => {
            set_status(status);
            headers.extend(shared.state().paywall.receipt(idx));
            match conn.write_full(status, &headers, &out, false) {
                Ok(()) => done(After::KeepAlive),
                Err(_) => gone(shared),
            }
        }
        Kind::ClawError {
            status,
            headers: extra,
            body: out,
        } if !stream => {
            set_status(status);
            let mut headers = json_ct();
            headers.extend(ctx_headers());
            headers.extend(extra);
            match conn.write_full(status, &headers, &out, false) {
                Ok(()) => done(After::KeepAlive),
                Err(_) => gone(shared),
            }
        }
        Kind::ClawError { body: out, .. } => {
            set_status(200);
            sse_error(conn, &sse_error_payload(&out), shared, idx)
        }
        Kind::SseError(payload) => {
            set_status(200);
            sse_error(conn, &payload, shared, idx)
        }
        Kind::CloseMidBody => {
            set_status(200);
            if stream {
                let mut sse = Sse { conn };
                let mut headers = sse_headers();
                headers.extend(ctx_headers());
                let role = json!({"id": chat_id, "object": "chat.completion.chunk",
                    "created": now_secs(), "model": reply::requested_model(body),
                    "system_fingerprint": null,
                    "choices": [{"index": 0, "delta": {"role": "assistant"},
                        "logprobs": null, "finish_reason": null}]});
                let _ =
                    sse.head(&headers) && sse.comment("heartbeat") && sse.data(&role.to_string());
            } else {
                let full = json!({"id": chat_id, "object": "chat.completion",
                    "created": now_secs(), "model": reply::requested_model(body),
                    "choices": [{"index": 0, "message": {"role": "assistant",
                        "content": "This answer is cut off in the middle of the body."},
                        "logprobs": null, "finish_reason": "stop"}]})
                .to_string();
                let mut headers = json_ct();
                headers.push(("content-length".into(), full.len().to_string()));
                let _ = conn.write_head(200, &headers).and_then(|_| {
                    use std::io::Write;
                    conn.stream.write_all(&full.as_bytes()[..full.len() / 2])?;
                    conn.stream.flush()
                });
            }
            done(After::Close)
        }
        Kind::HangUp => done(After::Close),
        Kind::Reset => done(After::Reset),
        Kind::Raw(bytes) => {
            use std::io::Write;
            let _ = conn
                .stream
                .write_all(&bytes)
                .and_then(|_| conn.stream.flush());
            done(After::Close)
        }
    }
}

fn sse_headers() -> Vec<(String, String)> {
    vec![
        ("content-type".into(), "text/event-stream".into()),
        ("cache-control".into(), "no-cache".into()),
        ("connection".into(), "keep-alive".into()),
        ("transfer-encoding".into(), "chunked".into()),
    ]
}

fn sse_error(conn: &mut Conn, payload: &Value, shared: &Shared, idx: usize) -> After {
    let mut sse = Sse { conn };
    let ok = sse.head(&sse_headers())
        && sse.comment("heartbeat")
        && sse.data(&payload.to_string())
        && sse.data("[DONE]")
        && sse.end();
    shared.update(idx, |r| {
        r.finished = ok;
        r.client_disconnected = !ok;
    });
    if ok {
        After::KeepAlive
    } else {
        After::Close
    }
}

/// Chunked SSE writer; every method returns false once the client is gone.
struct Sse<'a> {
    conn: &'a mut Conn,
}

impl Sse<'_> {
    fn head(&mut self, headers: &[(String, String)]) -> bool {
        self.conn.write_head(200, headers).is_ok()
    }
    fn comment(&mut self, text: &str) -> bool {
        self.conn
            .write_chunk(format!(": {text}\n\n").as_bytes())
            .is_ok()
    }
    fn data(&mut self, data: &str) -> bool {
        self.conn
            .write_chunk(format!("data: {data}\n\n").as_bytes())
            .is_ok()
    }
    fn end(&mut self) -> bool {
        self.conn.end_chunks().is_ok()
    }
}

fn profile_headers(body: &Value, model: &str) -> Vec<(String, String)> {
    [
        ("x-clawrouter-profile", reply::requested_model(body)),
        ("x-clawrouter-tier", "MEDIUM".to_string()),
        ("x-clawrouter-model", model.to_string()),
        ("x-clawrouter-confidence", "0.82".to_string()),
        ("x-clawrouter-reasoning", "false".to_string()),
        ("x-clawrouter-agentic-score", "0.61".to_string()),
        ("x-clawrouter-cost", "0.003566".to_string()),
        ("x-clawrouter-savings", "97%".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The ids `GET /v1/models` lists (a small sample of ClawRouter's 252).
pub const MODEL_IDS: &[(&str, &str)] = &[
    ("auto", "blockrun"),
    ("eco", "blockrun"),
    ("premium", "blockrun"),
    ("free", "blockrun"),
    ("claude", "blockrun"),
    ("openai/gpt-5.2", "openai"),
    ("anthropic/claude-sonnet-4.6", "anthropic"),
    ("google/gemini-3-flash", "google"),
    ("deepseek/deepseek-v4-pro", "deepseek"),
    ("xai/grok-4-fast", "xai"),
    ("free/gpt-oss-120b", "free"),
];

fn models_list() -> Value {
    let created = now_secs();
    json!({
        "object": "list",
        "data": MODEL_IDS.iter().map(|(id, owner)| json!({
            "id": id, "object": "model", "created": created, "owned_by": owner,
        })).collect::<Vec<_>>(),
    })
}

/// The wallet `/health` reports (always: the EVM address).
pub const WALLET: &str = "0x2c75a0E2C5Bb3a1c0dD0e2f8B7aC4D1e5F6a5c23";
/// The Solana address `/health` reports with [`Builder::pays_on_solana`] (the published BIP-39
/// vector's, m/44'/501'/0'/0').
pub const SOLANA_WALLET: &str = "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk";

fn health(shared: &Shared, path: &str) -> Value {
    let mut v = json!({"status": "ok", "wallet": WALLET, "paymentChain": "base"});
    if shared.pays_on_solana {
        v["paymentChain"] = json!("solana");
        v["solana"] = json!(SOLANA_WALLET);
    }
    let full = path
        .split_once('?')
        .is_some_and(|(_, q)| q.split('&').any(|kv| kv == "full=true"));
    if full {
        match shared.balance_usd {
            Some(usd) => {
                v["balance"] = json!(format!("${usd:.2}"));
                v["isLow"] = json!(usd < 1.0);
                v["isEmpty"] = json!(usd < 0.0001);
            }
            None => v["balanceError"] = json!("Could not fetch balance"),
        }
    }
    v
}

fn echo(r: &RecordedRequest) -> Value {
    let headers: serde_json::Map<String, Value> = r
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({
        "method": r.method,
        "path": r.path,
        "headers": headers,
        "body": r.body_str(),
        "json": r.json,
    })
}

/// A thinking model (DeepSeek-style) that needs its reasoning back: the first call asks for a
/// tool with reasoning; a later one answers only if the assistant message carries that
/// reasoning as `reasoning_content`, and refuses (content filter) otherwise.
pub fn thinking_model(call: &ChatCall) -> Reply {
    let assistant = call
        .messages()
        .iter()
        .rev()
        .find(|m| m["role"] == "assistant")
        .cloned();
    match assistant {
        None => Reply::tool_calls(vec![("exec_command", json!({"cmd": "ls"}))])
            .reasoning("I should list the files first."),
        Some(message) if message["reasoning_content"] == "I should list the files first." => {
            Reply::text("Listed.")
        }
        Some(_) => Reply::text("Refused: missing reasoning_content in the assistant message.")
            .finish_reason("content_filter"),
    }
}
