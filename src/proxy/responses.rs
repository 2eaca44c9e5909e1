//! `POST /v1/responses`: the translation, answered from `request_filter`.
//!
//! Why not Pingora's proxy path here: the request header goes upstream before the body is read,
//! so a malformed body would already have reached the (paid) upstream, and its length would
//! not be known. This handler reads and validates the whole body first, translates it, and
//! calls the upstream with our own pooled client ([`super::upstream`]) and an exact length.
//! The same path carries keep-alive events, and will carry multi-call loops (web search).
//!
//! Flow: checks → read + decode body → `translate::request` (whitespace protected for
//! ClawRouter, see [`super::upstream_profile`]; a retry of a recent failure nudged, see
//! [`super::replay_guard`]) → upstream → `translate::response` (or `translate::upstream_error`
//! for failures) → SSE for `stream:true`, JSON otherwise.
//! A streaming answer is committed (status 200, first events) before the upstream is called,
//! so the client sees its first byte at once and keep-alive events while the model works.

use std::time::{Duration, Instant};

use bytes::Bytes;
use pingora::proxy::Session;

use super::ctx::{Measures, RequestCtx};
use super::hygiene::require_json_content_type;
use super::replay_guard::{Ticket, REPLAY_WINDOW};
use super::upstreams::{thread_id, Member};
use super::web_search;
use super::Bridge;
use crate::clock::unix_now;
use crate::decode::{decode_body, DecodeError, StreamDecoder};
use crate::direct::exchange::{Call, CallFailure};
use crate::direct::Routed;
use crate::error::BridgeError;
use crate::outcome::Outcome;
use crate::session_io::{
    read_body, send_error, send_json, send_sse_bytes, start_sse, ReadBodyError,
};
use crate::translate::ids::new_id;
use crate::translate::request::{
    request_to_chat, ChatPlan, RequestError, RequestOptions, WebSearchOffer,
};
use crate::translate::response::ResponseMeta;
use crate::translate::stream::StreamTranslator;
use crate::translate::upstream_error::{self, ClientFailure};
use crate::translate::web_search::{follow_up_body, SearchCall};
use crate::upstream_client::{OpenResponse, TransportError, UpstreamClient};

/// The response header naming the model direct mode's router chose.
pub const ROUTED_MODEL_HEADER: &str = "x-clawrouter-codex-model";

/// Largest decoded size of an upstream answer that came compressed.
const MAX_UPSTREAM_DECODED: usize = 64 * 1024 * 1024;

/// Handles one `/v1/responses` request completely.
pub async fn handle(
    bridge: &Bridge,
    session: &mut Session,
    ctx: &mut RequestCtx,
) -> pingora::Result<()> {
    let body = match read_request(bridge, session).await {
        Ok(body) => body,
        Err(PlanError::Refused(error)) => {
            ctx.outcome = error.outcome();
            return send_error(session, &error).await;
        }
        Err(PlanError::ClientGone(e)) => {
            ctx.outcome = Outcome::ClientGone;
            return Err(e);
        }
    };
    let headers = session.req_header().headers.clone();
    let thread = thread_id(session.req_header());
    let turn = Turn {
        thread,
        headers: &headers,
        body,
        id: new_id("resp_"),
        member: None,
    };
    match respond(bridge, turn, session, ctx).await? {
        Responded::Refused(error) => send_error(session, &error).await,
        Responded::Answered { .. } => Ok(()),
    }
}

/// One response to make: a decoded Responses request body and where it came from.
pub struct Turn<'h> {
    /// Codex's thread id: the upstream affinity key, also forwarded upstream.
    pub thread: Option<String>,
    /// The client's request headers (the WebSocket handshake's, on that transport).
    pub headers: &'h http::HeaderMap,
    /// The whole Responses request body (JSON).
    pub body: Vec<u8>,
    /// The response id to give the answer.
    pub id: String,
    /// The upstream to use (team mode: a WebSocket connection keeps one); `None`: the thread's.
    pub member: Option<usize>,
}

/// How [`respond`] ended.
pub enum Responded {
    /// The request was refused before anything was sent to the client (nothing upstream
    /// either): the caller answers with `error`.
    Refused(BridgeError),
    /// The answer was sent (an event stream for streaming clients); `member`: the upstream
    /// that served it.
    Answered {
        /// Index of the upstream that served it (team mode).
        member: usize,
    },
}

/// Translates `turn.body`, calls the upstream and sends the answer to `sink`: the shared path
/// of both transports (HTTP and WebSocket), so the upstream gets the same Chat body for the
/// same request whichever way it came.
pub async fn respond(
    bridge: &Bridge,
    turn: Turn<'_>,
    sink: &mut dyn EventSink,
    ctx: &mut RequestCtx,
) -> pingora::Result<Responded> {
    let member = match turn.member {
        Some(index) => &bridge.upstreams.members()[index],
        None => bridge.upstreams.choose(turn.thread.as_deref()),
    };
    let mut target = Target {
        member,
        thread: turn.thread,
        tried: Vec::new(),
        routed: None,
    };
    let prepared = match prepare(bridge, target.member, turn.headers, turn.body).await {
        Ok(prepared) => prepared,
        Err(error) => {
            ctx.outcome = error.outcome();
            return Ok(Responded::Refused(error));
        }
    };
    let Prepared {
        plan,
        chat_body,
        ticket,
        routed,
    } = prepared;
    target.routed = routed;
    ctx.model = Some(plan.model.clone());
    ctx.measures.unknown_parts = plan.skipped_parts;
    let meta = ResponseMeta {
        id: turn.id,
        created_at: unix_now(),
        model: plan.model.clone(),
    };
    let answered = answer(bridge, &mut target, sink, ctx, plan, chat_body, meta).await;
    ctx.measures.upstream = Some(target.member.index);
    ctx.measures.failovers = target.tried.len() as u64;
    if ctx.outcome.is_upstream_failure() {
        bridge.replay_guard.failed(&ticket);
    }
    answered.map(|()| Responded::Answered {
        member: target.member.index,
    })
}

/// Where a response goes: an SSE body or a JSON answer on HTTP ([`Session`]), or one
/// WebSocket message per event ([`crate::ws_session`]).
#[async_trait::async_trait]
pub trait EventSink: Send {
    /// Starts the event stream with its first events (whole SSE events, as the translator
    /// writes them) and, where the transport has them, extra response headers.
    async fn start(
        &mut self,
        first_events: Vec<u8>,
        extra_headers: &[(&str, String)],
    ) -> pingora::Result<()>;
    /// Sends more whole events; `end` ends the stream (the events hold the terminal one).
    async fn send(&mut self, events: Vec<u8>, end: bool) -> pingora::Result<()>;
    /// A `stream:false` client's whole answer: `status`, a JSON body and extra headers.
    async fn send_whole(
        &mut self,
        status: u16,
        body: Vec<u8>,
        extra_headers: &[(&str, String)],
    ) -> pingora::Result<()>;
    /// Resolves when the client has gone away; must be cancel-safe (it is raced against the
    /// upstream's progress).
    async fn gone(&mut self);
}

#[async_trait::async_trait]
impl EventSink for Session {
    async fn start(
        &mut self,
        first_events: Vec<u8>,
        extra_headers: &[(&str, String)],
    ) -> pingora::Result<()> {
        start_sse(self, first_events, extra_headers).await
    }

    async fn send(&mut self, events: Vec<u8>, end: bool) -> pingora::Result<()> {
        send_sse_bytes(self, events, end).await
    }

    async fn send_whole(
        &mut self,
        status: u16,
        body: Vec<u8>,
        extra_headers: &[(&str, String)],
    ) -> pingora::Result<()> {
        send_json(self, status, body, extra_headers).await
    }

    async fn gone(&mut self) {
        let _ = self.read_body_or_idle(true).await;
    }
}

/// The upstream a request goes to: its thread's, or after refused connections the next one.
struct Target<'a> {
    member: &'a Member,
    /// Codex's thread id: the affinity key, also forwarded upstream.
    thread: Option<String>,
    /// Upstreams that refused the connection, in order.
    tried: Vec<usize>,
    /// Direct mode: the router's picks for this request.
    routed: Option<Routed>,
}

/// A translated request, ready to go upstream.
struct Prepared {
    /// What the response side needs (tools, echo, model); its `body` has moved to `chat_body`.
    plan: ChatPlan,
    /// The Chat body to send.
    chat_body: Bytes,
    /// What the replay guard knows of this body.
    ticket: Ticket,
    /// Direct mode: where the router sends it.
    routed: Option<Routed>,
}

/// Reads, checks and translates the request, and decides how the upstream is asked: streaming
/// or not, whitespace protected or not, nudged past ClawRouter's replay of a recent failure or
/// not. Nothing has been sent upstream yet (the ClawRouter probe aside).
async fn prepare(
    bridge: &Bridge,
    member: &Member,
    headers: &http::HeaderMap,
    body: Vec<u8>,
) -> Result<Prepared, BridgeError> {
    let mut options = bridge.request_options.clone();
    if web_search::is_on(&bridge.config, headers) {
        options.web_search = Some(WebSearchOffer {
            max_results: bridge.config.web_search.max_results,
        });
    }
    options.preserve_whitespace_above = member
        .profile
        .protect_whitespace_above(&member.client, body.len())
        .await;
    let mut plan = translate(&body, &options)?;
    let upstream_streams =
        plan.client_stream && member.profile.upstream_streams(&member.client).await;
    if upstream_streams {
        plan.ask_upstream_to_stream();
    }
    let ticket = bridge.replay_guard.check(&plan.body);
    if ticket.nudge > 0 && member.profile.known_clawrouter() != Some(false) {
        log::info!(
            "this request failed {} time(s) in the last {} s: nudging its body so that \
             ClawRouter does not replay the failure",
            ticket.nudge,
            REPLAY_WINDOW.as_secs()
        );
        options.retry_nudge = ticket.nudge;
        plan = translate(&body, &options)?;
        if upstream_streams {
            plan.ask_upstream_to_stream();
        }
    }
    let routed = match &bridge.direct {
        Some(direct) => Some(direct.route(&member.client, &plan).await),
        None => None,
    };
    let chat_body = Bytes::from(std::mem::take(&mut plan.body));
    Ok(Prepared {
        plan,
        chat_body,
        ticket,
        routed,
    })
}

/// The answer. `stream:true`: the event stream starts at once (`response.created`,
/// `response.in_progress`), before the upstream is called; while the upstream is silent a
/// `response.in_progress` event goes out every `keepalive_secs` — Codex's idle timer counts only
/// data events, and ClawRouter sends nothing but comments while it pays and waits; upstream
/// bytes are translated as they arrive ([`StreamTranslator`]), whether the upstream streams or
/// answers one JSON body; every failure arrives as `response.failed` with the code that makes
/// Codex stop, wait or retry (`translate::upstream_error`). `stream:false`: the same model calls
/// and translation, no events; then one Response object, or an HTTP error with an OpenAI-style
/// body. Either way a client that goes away ends the upstream request at once.
async fn answer<'b>(
    bridge: &'b Bridge,
    target: &mut Target<'b>,
    session: &mut dyn EventSink,
    ctx: &mut RequestCtx,
    plan: ChatPlan,
    chat_body: Bytes,
    meta: ResponseMeta,
) -> pingora::Result<()> {
    let streaming = plan.client_stream;
    let requested = meta.model.clone();
    let key = Some(bridge.reasoning_key.clone());
    let upstream_url = target.member.client.upstream().url.clone();
    let mut translator = if streaming {
        StreamTranslator::new(meta, &plan.echo, plan.tools, key, upstream_url)
    } else {
        StreamTranslator::without_events(meta, &plan.echo, plan.tools, key, upstream_url)
    };
    let mut out = Vec::with_capacity(if streaming { 8 * 1024 } else { 0 });
    let _in_flight = streaming.then(|| bridge.metrics.stream_opened());
    let routed_header: Vec<(&str, String)> = target
        .routed
        .as_ref()
        .and_then(Routed::chosen)
        .map(|model| (ROUTED_MODEL_HEADER, model.to_owned()))
        .into_iter()
        .collect();
    if streaming {
        translator.start(&mut out);
        session
            .start(std::mem::take(&mut out), &routed_header)
            .await?;
        ctx.measures.first_byte = Some(ctx.started.elapsed());
    }
    // Once per turn: not when an answer since the user last spoke carried the line.
    let member = target.member;
    if !plan.free_model_line_shown {
        let notice = member.profile.model_notice(&member.client, &requested);
        if let Some(notice) = notice.await {
            translator.watch_model(notice);
        }
    }
    let mut pump = Pump {
        session,
        ticks: keepalive_ticks(bridge.config.keepalive),
        streaming,
    };
    let called = converse(
        bridge,
        target,
        &mut pump,
        &mut translator,
        chat_body,
        &mut out,
        &mut ctx.measures,
    )
    .await?;
    let counters = translator.counters();
    ctx.measures.usage = counters.usage;
    ctx.measures.keepalives = counters.keepalives;
    ctx.measures.skipped_frames = counters.skipped_frames;
    let rest = match called {
        Called::ClientGone => return client_gone(ctx),
        Called::Answered { rest } => rest,
    };
    ctx.outcome = translator.outcome();
    let sent = if streaming {
        pump.session.send(out, true).await
    } else {
        ctx.measures.first_byte = Some(ctx.started.elapsed());
        match translator.failure() {
            Some(failure) => send_failure(pump.session, failure).await,
            None => {
                let body = translator.response_json();
                pump.session.send_whole(200, body, &routed_header).await
            }
        }
    };
    if let Some(open) = rest {
        target.member.client.drain_and_release(*open).await;
    }
    sent
}

/// What became of the model calls of one response.
enum Called {
    /// The translator has the whole answer; `rest` is the unread end of the last upstream
    /// body (to read before its connection goes back to the pool).
    Answered {
        rest: Option<Box<OpenResponse>>,
    },
    ClientGone,
}

/// The model calls of one response: the first with `chat_body`, then, while the model asks for
/// web searches (and may still), the searches — shown to the client as `web_search_call`
/// items, keep-alive events going on — and the next call with their results. Events the
/// translator writes reach a streaming client as soon as they are ready.
async fn converse<'b>(
    bridge: &'b Bridge,
    target: &mut Target<'b>,
    pump: &mut Pump<'_>,
    translator: &mut StreamTranslator,
    chat_body: Bytes,
    out: &mut Vec<u8>,
    measures: &mut Measures,
) -> pingora::Result<Called> {
    let settings = bridge.config.web_search;
    let mut body = chat_body;
    let mut search_rounds = 0;
    loop {
        // Kept only while a follow-up may need it: otherwise the body is freed once sent.
        let previous = translator.may_search().then(|| body.clone());
        let called = call_model(bridge, target, pump, translator, body, out, measures);
        let rest = match called.await? {
            Called::Answered { rest } => rest,
            Called::ClientGone => return Ok(Called::ClientGone),
        };
        let Some(pending) = translator.pending_searches() else {
            return Ok(Called::Answered { rest });
        };
        let calls: Vec<SearchCall> = pending
            .iter()
            .map(|call| {
                SearchCall::new(
                    call.call_id.clone(),
                    call.arguments.clone(),
                    settings.max_results,
                )
            })
            .collect();
        if let Some(open) = rest {
            target.member.client.drain_and_release(*open).await;
        }
        let queries: Vec<String> = calls.iter().map(|call| call.query.clone()).collect();
        translator.start_searches(&queries, out);
        pump.flush(out).await?;
        let payment = web_search::Payment {
            direct: bridge.direct.as_deref(),
            thread: target.thread.as_deref(),
        };
        let searching = web_search::run(&target.member.client, &calls, settings.timeout, payment);
        let Some((outcomes, paid)) = pump.wait(searching, translator).await? else {
            return Ok(Called::ClientGone);
        };
        if let Some(paid) = paid {
            measures.add_paid(paid);
        }
        let worked = outcomes.iter().filter(|(ok, _)| *ok).count() as u64;
        measures.searches_ok += worked;
        measures.searches_failed += outcomes.len() as u64 - worked;
        let follow_up = translator.searches_done(outcomes, unix_now(), out);
        pump.flush(out).await?;
        let Some(follow_up) = follow_up else {
            return Ok(Called::Answered { rest: None });
        };
        search_rounds += 1;
        let answer_now = search_rounds >= settings.max_rounds;
        translator.allow_searches(!answer_now);
        let previous = previous.unwrap_or_default();
        body = match follow_up_body(&previous, follow_up.messages, answer_now) {
            Ok(next) => Bytes::from(next),
            Err(detail) => {
                translator.fail(&upstream_error::bridge_bug(&detail), out);
                return Ok(Called::Answered { rest: None });
            }
        };
    }
}

/// One model call: sends `body`, then feeds the answer to `translator` as it arrives, until
/// the model call's answer is complete ([`StreamTranslator::round_over`]) or has failed.
async fn call_model<'b>(
    bridge: &'b Bridge,
    target: &mut Target<'b>,
    pump: &mut Pump<'_>,
    translator: &mut StreamTranslator,
    mut body: Bytes,
    out: &mut Vec<u8>,
    measures: &mut Measures,
) -> pingora::Result<Called> {
    let answered = |rest| Ok(Called::Answered { rest });
    let headers = upstream_headers(target.thread.as_deref());
    let team = bridge.upstreams.members().len() > 1;
    let (mut open, sent_at) = loop {
        let client = &target.member.client;
        // Team mode: a reference to the body for the next upstream, should this one refuse.
        let spare = team.then(|| body.clone());
        let sent_at = Instant::now();
        let opening = open_upstream(bridge, target, &headers, body, measures);
        let Some(opened) = pump.wait(opening, translator).await? else {
            return Ok(Called::ClientGone);
        };
        let error = match opened {
            Ok(open) => break (open, sent_at),
            Err(CallFailure::Refused(failure)) => {
                translator.fail(&failure, out);
                return answered(None);
            }
            Err(CallFailure::Transport(error)) => error,
        };
        if let (TransportError::Connect(what), Some(spare)) = (&error, spare) {
            target.tried.push(target.member.index);
            if let Some(next) = bridge
                .upstreams
                .failover(target.thread.as_deref(), &target.tried)
            {
                log::warn!(
                    "upstream {} refused the connection ({what}); sending the request to {}",
                    client.upstream().url,
                    next.client.upstream().url
                );
                target.member = next;
                body = spare;
                continue;
            }
        }
        translator.fail(&transport_failure(client, error, false), out);
        return answered(None);
    };
    let client = &target.member.client;
    let upstream_url = &client.upstream().url;
    measures.upstream_status = Some(open.status);
    measures.upstream_latency = Some(sent_at.elapsed());
    if !(200..300).contains(&open.status) {
        let (status, headers) = (open.status, std::mem::take(&mut open.error_headers));
        let encoding = open.content_encoding.take();
        let failure = match pump.wait(client.read_all(open), translator).await? {
            None => return Ok(Called::ClientGone),
            Some(Ok(body)) => {
                let body = decoded(body, encoding.as_deref());
                upstream_error::classify_status(status, &headers, &body, upstream_url)
            }
            Some(Err(e)) => transport_failure(client, e, true),
        };
        translator.fail(&failure, out);
        return answered(None);
    }
    if !open.is_event_stream() {
        // A JSON answer: the non-streaming upstream call, or an upstream that ignored `stream`.
        let encoding = open.content_encoding.take();
        match pump.wait(client.read_all(open), translator).await? {
            None => return Ok(Called::ClientGone),
            Some(Ok(body)) => {
                let body = decoded(body, encoding.as_deref());
                translator.feed_completion(&body, unix_now(), out);
            }
            Some(Err(e)) => translator.fail(&transport_failure(client, e, true), out),
        }
        return answered(None);
    }
    // A compressed stream is decoded as it arrives, and translated delta by delta.
    let encoding = open.content_encoding.as_deref();
    let mut decoder = match StreamDecoder::new(encoding, MAX_UPSTREAM_DECODED) {
        Ok(decoder) => decoder,
        Err(e) => {
            translator.fail(&undecodable(client, &e), out);
            return answered(None);
        }
    };
    loop {
        match pump.wait(client.next_chunk(&mut open), translator).await? {
            None => return Ok(Called::ClientGone),
            Some(Ok(Some(bytes))) => match plain(decoder.as_mut(), bytes) {
                Ok(bytes) => translator.feed(&bytes, unix_now(), out),
                Err(e) => {
                    translator.fail(&undecodable(client, &e), out);
                    return answered(None);
                }
            },
            Some(Ok(None)) => {
                match decoder.map_or(Ok(Vec::new()), StreamDecoder::finish) {
                    Ok(rest) => {
                        translator.feed(&rest, unix_now(), out);
                        translator.upstream_ended(unix_now(), out);
                    }
                    Err(e) => translator.fail(&undecodable(client, &e), out),
                }
                client.release(open).await;
                return answered(None);
            }
            Some(Err(e)) => {
                translator.fail(&transport_failure(client, e, true), out);
                return answered(None);
            }
        }
        if translator.round_over() {
            // `[DONE]` or the terminal event: what follows is not needed for the answer.
            return answered(Some(Box::new(open)));
        }
        pump.flush(out).await?;
    }
}

/// Sends a Chat body to the target's upstream: through direct mode's router and payments when
/// it is on, else as it is.
async fn open_upstream(
    bridge: &Bridge,
    target: &Target<'_>,
    headers: &[(&str, &str)],
    body: Bytes,
    measures: &mut Measures,
) -> Result<OpenResponse, CallFailure> {
    let client = &target.member.client;
    match (&bridge.direct, &target.routed) {
        (Some(direct), Some(routed)) => {
            let thread = target.thread.as_deref();
            let call = Call { routed, thread };
            direct.open(client, headers, &body, &call, measures).await
        }
        _ => {
            let chat_path = client.upstream().chat_path();
            let opening = client.open("POST", &chat_path, headers, Some(body));
            opening.await.map_err(CallFailure::Transport)
        }
    }
}

/// Waits for upstream progress while keeping the client alive and watching for its departure.
struct Pump<'a> {
    session: &'a mut dyn EventSink,
    ticks: tokio::time::Interval,
    /// The client gets events (keep-alive, and what [`Pump::flush`] sends).
    streaming: bool,
}

impl Pump<'_> {
    /// Sends the events ready in `out` to a streaming client (nothing otherwise). The next
    /// keep-alive is then due a full interval later.
    async fn flush(&mut self, out: &mut Vec<u8>) -> pingora::Result<()> {
        if self.streaming && !out.is_empty() {
            self.session.send(std::mem::take(out), false).await?;
            self.ticks.reset();
        }
        Ok(())
    }

    /// Runs `work` to completion, writing a keep-alive event at every tick. `None` when the
    /// client went away (then `work` is dropped: an upstream request ends with it).
    async fn wait<T>(
        &mut self,
        work: impl std::future::Future<Output = T>,
        translator: &mut StreamTranslator,
    ) -> pingora::Result<Option<T>> {
        tokio::pin!(work);
        loop {
            let wake = tokio::select! {
                result = &mut work => Wake::Done(result),
                _ = self.ticks.tick() => Wake::Tick,
                () = self.session.gone() => Wake::ClientGone,
            };
            match wake {
                Wake::Done(result) => return Ok(Some(result)),
                Wake::ClientGone => return Ok(None),
                Wake::Tick if !self.streaming => {}
                Wake::Tick => {
                    let mut out = Vec::new();
                    translator.keepalive(&mut out);
                    if self.session.send(out, false).await.is_err() {
                        return Ok(None);
                    }
                }
            }
        }
    }
}

enum Wake<T> {
    Done(T),
    Tick,
    ClientGone,
}

fn keepalive_ticks(every: Duration) -> tokio::time::Interval {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks
}

fn client_gone(ctx: &mut RequestCtx) -> pingora::Result<()> {
    ctx.outcome = Outcome::ClientGone;
    Ok(())
}

/// An upstream failure as an HTTP error with an OpenAI-style body (and `retry-after` for rate
/// limits), for `stream:false` clients.
async fn send_failure(session: &mut dyn EventSink, failure: &ClientFailure) -> pingora::Result<()> {
    log::warn!(
        "/v1/responses failed ({:?}): {}",
        failure.kind,
        failure.message
    );
    let mut extra = Vec::new();
    if let Some(secs) = failure.retry_after_secs {
        extra.push(("retry-after", secs.to_string()));
    }
    let (status, body) = (failure.http_status(), failure.error_body());
    session.send_whole(status, body, &extra).await
}

/// The headers of the translated request.
fn upstream_headers(session_id: Option<&str>) -> Vec<(&str, &str)> {
    let mut headers: Vec<(&str, &str)> = vec![
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        // ClawRouter serves identical successful requests from a 10-minute cache unless told
        // not to. (Its 30 s replay of any identical body, failures included, ignores this
        // header: the replay guard makes retries differ instead.)
        ("cache-control", "no-cache"),
        (
            "user-agent",
            concat!("clawrouter-codex/", env!("CARGO_PKG_VERSION")),
        ),
    ];
    if let Some(id) = session_id {
        // ClawRouter pins a model per session; without this it keys on the first user message,
        // which Codex makes identical for every thread in a folder.
        headers.push(("x-session-id", id));
    }
    headers
}

/// A whole upstream body compressed although the bridge asked for no encoding (some servers
/// compress error pages anyway): decoded when it decodes; otherwise as it came (the error
/// message then describes it, never quotes its bytes).
fn decoded(body: Bytes, encoding: Option<&str>) -> Bytes {
    match StreamDecoder::new(encoding, MAX_UPSTREAM_DECODED) {
        Ok(Some(decoder)) => decoder.decode_last(&body).map(Bytes::from).unwrap_or(body),
        Ok(None) | Err(_) => body,
    }
}

/// A piece of an upstream stream as the translator reads it: decoded when it came compressed.
fn plain(decoder: Option<&mut StreamDecoder>, bytes: Bytes) -> Result<Bytes, DecodeError> {
    match decoder {
        Some(decoder) => decoder.decode(&bytes).map(Bytes::from),
        None => Ok(bytes),
    }
}

fn undecodable(client: &UpstreamClient, error: &DecodeError) -> ClientFailure {
    upstream_error::undecodable(&client.upstream().url, &error.to_string())
}

/// What the client is told about a failed exchange; `answering`: the upstream's answer had
/// begun (its header arrived).
fn transport_failure(
    client: &UpstreamClient,
    error: TransportError,
    answering: bool,
) -> ClientFailure {
    let upstream = client.upstream();
    match error {
        TransportError::TimedOut => {
            upstream_error::timed_out(&upstream.url, upstream.read_timeout.as_secs())
        }
        TransportError::Connect(what) => upstream_error::unreachable(&upstream.url, &what),
        TransportError::Broken(what) => upstream_error::broken(&upstream.url, &what, answering),
        TransportError::TooLarge => {
            upstream_error::garbage(&upstream.url, "the answer was too large")
        }
    }
}

/// Everything that can stop a request before the upstream is called.
enum PlanError {
    Refused(BridgeError),
    ClientGone(Box<pingora::Error>),
}

/// Checks the request line and headers, reads the whole body and decodes it.
async fn read_request(bridge: &Bridge, session: &mut Session) -> Result<Vec<u8>, PlanError> {
    if session.is_upgrade_req() {
        return Err(PlanError::Refused(BridgeError::WebSocketUnsupported));
    }
    let method = session.req_header().method.as_str().to_owned();
    if method != "POST" {
        return Err(PlanError::Refused(BridgeError::MethodNotAllowed {
            method,
            path: "/v1/responses".to_owned(),
        }));
    }
    require_json_content_type(&session.req_header().headers).map_err(PlanError::Refused)?;
    let limit = bridge.config.max_body_bytes;
    let raw = match read_body(session, limit).await {
        Ok(raw) => raw,
        Err(ReadBodyError::Refused(e)) => return Err(PlanError::Refused(e)),
        Err(ReadBodyError::Client(e)) => return Err(PlanError::ClientGone(e)),
    };
    let encoding = session
        .req_header()
        .headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    decode_body(encoding.as_deref(), raw, limit).map_err(PlanError::Refused)
}

/// The Responses body → the Chat request; a body that does not translate is the client's
/// mistake (400), except for the bridge's own bugs (500).
fn translate(body: &[u8], options: &RequestOptions) -> Result<ChatPlan, BridgeError> {
    request_to_chat(body, options).map_err(|e| match e {
        RequestError::Internal(detail) => BridgeError::Internal(detail),
        e => BridgeError::InvalidRequest(e.to_string(), e.param().map(str::to_owned)),
    })
}
