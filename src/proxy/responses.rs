//! `POST /v1/responses`: the translation, answered from `request_filter`.
//!
//! Why not Pingora's proxy path here: the request header goes upstream before the body is read,
//! so a malformed body would already have reached the (paid) upstream, and its length would
//! not be known. This handler reads and validates the whole body first, translates it, and
//! calls the upstream with our own pooled client ([`super::upstream`]) and an exact length.
//! The same path will carry keep-alive events and multi-call loops (web search) later.
//!
//! Flow: checks → read + decode body → `translate::request` → upstream → `translate::response`
//! (or `translate::upstream_error` for failures) → SSE for `stream:true`, JSON otherwise.
//! A streaming answer is committed (status 200, first events) before the upstream is called,
//! so the client sees its first byte at once and keep-alive events while the model works.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use pingora::proxy::Session;

use super::ctx::RequestCtx;
use super::hygiene::require_json_content_type;
use super::local::{read_body, send_error, send_json, send_sse_bytes, start_sse, ReadBodyError};
use super::upstream::TransportError;
use super::Bridge;
use crate::decode::decode_body;
use crate::error::BridgeError;
use crate::translate::events::ResponseEventWriter;
use crate::translate::ids::new_id;
use crate::translate::request::{request_to_chat, ChatPlan, RequestError};
use crate::translate::response::{
    completion_to_output, completion_to_response_json, write_output, ChatOutput, CompletionError,
    ResponseMeta,
};
use crate::translate::upstream_error::{self, ClientFailure};

/// Client headers whose value identifies the Codex thread (newest spelling first).
const SESSION_HEADERS: &[&str] = &["x-session-id", "session-id", "thread-id", "session_id"];

/// Handles one `/v1/responses` request completely.
pub async fn handle(
    bridge: &Bridge,
    session: &mut Session,
    ctx: &mut RequestCtx,
) -> pingora::Result<()> {
    let plan = match read_plan(bridge, session).await {
        Ok(plan) => plan,
        Err(PlanError::Refused(error)) => {
            ctx.outcome = error.label();
            return send_error(session, &error).await;
        }
        Err(PlanError::ClientGone(e)) => {
            ctx.outcome = "client_gone";
            return Err(e);
        }
    };
    ctx.model = Some(plan.model.clone());
    let meta = ResponseMeta {
        id: new_id("resp_"),
        created_at: unix_now(),
        model: plan.model.clone(),
    };
    let session_id = thread_id(session);
    if plan.client_stream {
        stream_answer(bridge, session, ctx, &plan, meta, session_id.as_deref()).await
    } else {
        json_answer(bridge, session, ctx, &plan, meta, session_id.as_deref()).await
    }
}

/// `stream:true`: the event stream starts at once (`response.created`, `response.in_progress`),
/// and while the upstream works a `response.in_progress` event goes out every
/// `keepalive_secs` — Codex's idle timer counts only data events, and ClawRouter sends nothing
/// but comments while it pays and waits. Every failure then arrives as `response.failed`
/// with the code that makes Codex stop, wait or retry (see `translate::upstream_error`).
async fn stream_answer(
    bridge: &Bridge,
    session: &mut Session,
    ctx: &mut RequestCtx,
    plan: &ChatPlan,
    meta: ResponseMeta,
    session_id: Option<&str>,
) -> pingora::Result<()> {
    let mut writer = ResponseEventWriter::new(meta, &plan.echo);
    let mut out = Vec::new();
    writer.created(&mut out);
    writer.in_progress(&mut out);
    start_sse(session).await?;
    send_sse_bytes(session, std::mem::take(&mut out), false).await?;

    let keepalive = bridge.config.keepalive;
    let upstream = call_upstream(bridge, plan, session_id);
    tokio::pin!(upstream);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + keepalive, keepalive);
    let result = loop {
        tokio::select! {
            result = &mut upstream => break result,
            _ = ticks.tick() => {
                writer.in_progress(&mut out);
                if let Err(e) = send_sse_bytes(session, std::mem::take(&mut out), false).await {
                    // The client is gone: returning drops the upstream request at once.
                    ctx.outcome = "client_gone";
                    return Err(e);
                }
            }
        }
    };
    let output = result.and_then(|body| translate_completion(bridge, &body, plan));
    match output {
        Ok(output) => {
            ctx.outcome = "ok";
            write_output(&mut writer, &output, &plan.tools, unix_now(), &mut out);
        }
        Err(failure) => {
            log::warn!(
                "/v1/responses failed ({:?}): {}",
                failure.kind,
                failure.message
            );
            ctx.outcome = outcome_label(&failure);
            writer.failed(failure.responses_code(), &failure.message, &mut out);
        }
    }
    send_sse_bytes(session, out, true).await
}

/// `stream:false`: one Response object, or an HTTP error with an OpenAI-style body.
async fn json_answer(
    bridge: &Bridge,
    session: &mut Session,
    ctx: &mut RequestCtx,
    plan: &ChatPlan,
    meta: ResponseMeta,
    session_id: Option<&str>,
) -> pingora::Result<()> {
    let result = call_upstream(bridge, plan, session_id).await;
    let translated = result.and_then(|body| {
        completion_to_response_json(&body, &meta, &plan.echo, &plan.tools, unix_now())
            .map_err(|e| completion_failure(bridge, &body, e))
    });
    match translated {
        Ok(json) => {
            ctx.outcome = "ok";
            send_json(session, 200, json, &[]).await
        }
        Err(failure) => {
            log::warn!(
                "/v1/responses failed ({:?}): {}",
                failure.kind,
                failure.message
            );
            ctx.outcome = outcome_label(&failure);
            let mut extra = Vec::new();
            if let Some(secs) = failure.retry_after_secs {
                extra.push(("retry-after", secs.to_string()));
            }
            send_json(session, failure.http_status(), failure.error_body(), &extra).await
        }
    }
}

/// Sends the translated request upstream; a 2xx body, or what the client must be told.
async fn call_upstream(
    bridge: &Bridge,
    plan: &ChatPlan,
    session_id: Option<&str>,
) -> Result<Bytes, ClientFailure> {
    let mut headers: Vec<(&str, &str)> = vec![
        ("content-type", "application/json"),
        ("accept", "application/json"),
        // ClawRouter replays identical requests for 30 s (errors included): Codex's retries
        // must reach the upstream.
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
    let upstream = bridge.upstream.upstream();
    let reply = bridge
        .upstream
        .send(
            "POST",
            &upstream.chat_path(),
            &headers,
            Some(Bytes::from(plan.body.clone())),
        )
        .await;
    match reply {
        Ok(reply) if (200..300).contains(&reply.status) => Ok(reply.body),
        Ok(reply) => Err(upstream_error::classify_status(
            reply.status,
            reply.retry_after.as_deref(),
            &reply.body,
            &upstream.url,
        )),
        Err(TransportError::TimedOut) => Err(upstream_error::timed_out(
            &upstream.url,
            upstream.read_timeout.as_secs(),
        )),
        Err(TransportError::Connect(what)) | Err(TransportError::Broken(what)) => {
            Err(upstream_error::unreachable(&upstream.url, &what))
        }
        Err(TransportError::TooLarge) => Err(upstream_error::garbage(
            &upstream.url,
            "the answer was too large",
        )),
    }
}

/// Parses a 2xx upstream body into output items, or says why it is not usable.
fn translate_completion(
    bridge: &Bridge,
    body: &[u8],
    plan: &ChatPlan,
) -> Result<ChatOutput, ClientFailure> {
    completion_to_output(body, &plan.tools).map_err(|e| completion_failure(bridge, body, e))
}

/// A 2xx body that is not a completion: an error object (ClawRouter sends some under 200) is
/// classified like an error status; anything else is garbage.
fn completion_failure(bridge: &Bridge, body: &[u8], error: CompletionError) -> ClientFailure {
    let url = &bridge.upstream.upstream().url;
    match error {
        CompletionError::Upstream { .. } => upstream_error::classify_status(502, None, body, url),
        other => upstream_error::garbage(url, &other.to_string()),
    }
}

/// Everything that can stop a request before the upstream is called.
enum PlanError {
    Refused(BridgeError),
    ClientGone(Box<pingora::Error>),
}

async fn read_plan(bridge: &Bridge, session: &mut Session) -> Result<ChatPlan, PlanError> {
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
        Err(ReadBodyError::TooLarge(e)) => return Err(PlanError::Refused(e)),
        Err(ReadBodyError::Client(e)) => return Err(PlanError::ClientGone(e)),
    };
    let encoding = session
        .req_header()
        .headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = decode_body(encoding.as_deref(), raw, limit).map_err(PlanError::Refused)?;
    request_to_chat(&body, &bridge.request_options).map_err(|e| match e {
        RequestError::Internal(detail) => PlanError::Refused(BridgeError::Internal(detail)),
        e => PlanError::Refused(BridgeError::InvalidRequest(
            e.to_string(),
            e.param().map(str::to_owned),
        )),
    })
}

fn outcome_label(failure: &ClientFailure) -> &'static str {
    use crate::translate::upstream_error::FailureKind::*;
    match failure.kind {
        Payment => "payment",
        RateLimited => "rate_limited",
        ContextLength => "context_length",
        Rejected => "upstream_rejected",
        Unavailable => "upstream_unavailable",
        TimedOut => "upstream_timeout",
    }
}

/// Codex's thread id, from the first session header that holds a sane value.
fn thread_id(session: &Session) -> Option<String> {
    let headers = &session.req_header().headers;
    SESSION_HEADERS.iter().find_map(|name| {
        let value = headers.get(*name)?.to_str().ok()?.trim();
        let sane = !value.is_empty()
            && value.len() <= 128
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b':');
        sane.then(|| value.to_owned())
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
