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
use crate::translate::ids::new_id;
use crate::translate::request::{request_to_chat, ChatPlan, RequestError};
use crate::translate::response::{
    completion_to_response_json, completion_to_sse, failure_sse, ResponseMeta,
};
use crate::translate::upstream_error::{self, ClientFailure, StreamDelivery};

/// Client headers whose value identifies the Codex thread (newest spelling first).
const SESSION_HEADERS: &[&str] = &["x-session-id", "session-id", "thread-id", "session_id"];

/// Handles one `/v1/responses` request completely.
pub async fn handle(
    bridge: &Bridge,
    session: &mut Session,
    ctx: &mut RequestCtx,
) -> pingora::Result<()> {
    let plan_or_error = read_plan(bridge, session).await;
    let plan = match plan_or_error {
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

    let session_id = thread_id(session);
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
    if let Some(id) = session_id.as_deref() {
        // ClawRouter pins a model per session; without this it keys on the first user message,
        // which Codex makes identical for every thread in a folder.
        headers.push(("x-session-id", id));
    }

    let meta = ResponseMeta {
        id: new_id("resp_"),
        created_at: unix_now(),
        model: plan.model.clone(),
    };
    let upstream_url = bridge.upstream.upstream().url.clone();
    let chat_path = bridge.upstream.upstream().chat_path();
    let reply = bridge
        .upstream
        .send(
            "POST",
            &chat_path,
            &headers,
            Some(Bytes::from(plan.body.clone())),
        )
        .await;

    let failure = match reply {
        Ok(reply) if (200..300).contains(&reply.status) => {
            let translated = if plan.client_stream {
                completion_to_sse(&reply.body, &meta, &plan.echo, &plan.tools, unix_now())
            } else {
                completion_to_response_json(&reply.body, &meta, &plan.echo, &plan.tools, unix_now())
            };
            match translated {
                Ok(bytes) => {
                    ctx.outcome = "ok";
                    return if plan.client_stream {
                        start_sse(session).await?;
                        send_sse_bytes(session, bytes, true).await
                    } else {
                        send_json(session, 200, bytes, &[]).await
                    };
                }
                Err(e) => upstream_error::garbage(&upstream_url, &e.to_string()),
            }
        }
        Ok(reply) => upstream_error::classify_status(
            reply.status,
            reply.retry_after.as_deref(),
            &reply.body,
            &upstream_url,
        ),
        Err(TransportError::TimedOut) => upstream_error::timed_out(
            &upstream_url,
            bridge.upstream.upstream().read_timeout.as_secs(),
        ),
        Err(TransportError::Connect(what)) | Err(TransportError::Broken(what)) => {
            upstream_error::unreachable(&upstream_url, &what)
        }
        Err(TransportError::TooLarge) => {
            upstream_error::garbage(&upstream_url, "the answer was too large")
        }
    };
    log::warn!(
        "/v1/responses failed ({:?}): {}",
        failure.kind,
        failure.message
    );
    ctx.outcome = outcome_label(&failure);
    send_failure(session, &plan, &meta, &failure).await
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

/// Delivers an upstream failure the way Codex needs it (see `translate::upstream_error`).
async fn send_failure(
    session: &mut Session,
    plan: &ChatPlan,
    meta: &ResponseMeta,
    failure: &ClientFailure,
) -> pingora::Result<()> {
    if plan.client_stream && failure.stream_delivery() == StreamDelivery::FailedEvent {
        let events = failure_sse(meta, &plan.echo, failure.responses_code(), &failure.message);
        start_sse(session).await?;
        return send_sse_bytes(session, events, true).await;
    }
    let mut extra = Vec::new();
    if let Some(secs) = failure.retry_after_secs {
        extra.push(("retry-after", secs.to_string()));
    }
    let body = failure.error_body();
    send_json(session, failure.http_status(), body, &extra).await
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
