//! Codex's WebSocket transport of the Responses API: `GET /v1/responses` with
//! `Upgrade: websocket`, answered by the bridge itself (routed here by `proxy/`).
//!
//! After the handshake ([`framing`]) each client message is one JSON text frame:
//! - `{"type":"response.create", …the Responses request fields…}` with the full `input`, or with
//!   `previous_response_id` and only the new items: the full request is rebuilt from the
//!   connection's [`store`] and goes through the same path as `POST /v1/responses`
//!   ([`crate::proxy::responses::respond`]: translation, upstream, [`StreamTranslator`]), so the
//!   upstream receives the same Chat body whichever transport Codex used. Each Responses event is
//!   sent as one text frame (the SSE `data:` payload), ending with `response.completed`,
//!   `response.failed` or `response.incomplete` as on HTTP.
//!   `generate: false` (a prewarm) is answered at once, without an upstream call, and its id can
//!   be chained from.
//! - `{"type":"response.processed"}`: accepted, nothing to do.
//!
//! A request refused before its stream starts (what HTTP answers with a 4xx/5xx status) is an
//! error frame in the shape Codex parses, `{"type":"error","status":N,"error":{…},"headers":{}}`,
//! carrying the HTTP path's status and body, so it means the same to Codex (400 fatal, others
//! retried). An unknown or evicted `previous_response_id` gets status 400 with code
//! `previous_response_not_found`.
//!
//! Bounds ([`settings`]): message size, conversation bytes per connection and in total, an idle
//! limit (the connection closes; Codex reconnects and sends the full input) and a lifetime
//! (a request after it gets `websocket_connection_limit_reached`, which Codex retries on a new
//! connection). Team mode: a connection keeps the upstream its first request chose.
//!
//! [`StreamTranslator`]: crate::translate::stream::StreamTranslator

pub mod framing;
pub mod settings;
pub mod store;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tungstenite::protocol::frame::coding::CloseCode;

use crate::access_log;
use crate::clock::unix_now;
use crate::error::BridgeError;
use crate::metrics;
use crate::outcome::Outcome;
use crate::proxy::ctx::RequestCtx;
use crate::proxy::responses::{respond, EventSink, Responded, Turn};
use crate::proxy::upstreams::thread_id;
use crate::proxy::Bridge;
use crate::session_io::send_error;
use crate::translate::events::{ResponseEventWriter, ResponseMeta};
use crate::translate::ids::new_id;
use crate::translate::request::ResponseEcho;
use framing::{Connection, Incoming};
use store::{Budget, Conversation, History, Items, Segment};

/// What all WebSocket connections share: the conversation memory budget.
#[derive(Debug, Default)]
pub struct Shared {
    /// Bytes of conversation all connections keep.
    pub budget: Arc<Budget>,
}

/// Longest a write to a client may take: a client that stops reading is dropped then.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves one WebSocket connection on `/v1/responses`, from the handshake to the close.
pub async fn handle(
    bridge: &Bridge,
    session: &mut pingora::proxy::Session,
    ctx: &mut RequestCtx,
) -> pingora::Result<()> {
    let settings = bridge.config.websocket;
    let method = session.req_header().method.as_str().to_owned();
    let accept = match framing::accept_key(&method, &session.req_header().headers) {
        Ok(accept) => accept,
        Err(error) => {
            ctx.outcome = error.outcome();
            return send_error(session, &error).await;
        }
    };
    let headers = session.req_header().headers.clone();
    let thread = thread_id(session.req_header());
    // Team mode: the connection stays on one upstream (its conversation's).
    let member = bridge.upstreams.choose(thread.as_deref()).index;
    framing::switch_protocols(session, &accept).await?;
    // The idle and lifetime limits below replace the body read time-out.
    session.set_read_timeout(None);
    session.set_write_timeout(Some(WRITE_TIMEOUT));
    let mut conn = Connection::new(session, settings.max_message_bytes);
    let mut store = Conversation::new(
        bridge.websocket.budget.clone(),
        settings.max_conversation_bytes,
        settings.max_total_bytes,
    );
    let opened = Instant::now();
    let peer = Peer {
        headers: &headers,
        thread,
        member,
    };
    let mut turns = 0u64;
    loop {
        let next = tokio::time::timeout(settings.idle_timeout, conn.next()).await;
        let text = match next {
            Err(_) => {
                conn.close(CloseCode::Normal, "idle").await;
                break;
            }
            Ok(Incoming::Closed) => break,
            Ok(Incoming::Text(text)) => text,
        };
        if opened.elapsed() >= settings.max_lifetime {
            let error = error_frame(
                400,
                "websocket_connection_limit_reached",
                &format!(
                    "Responses websocket connection limit reached ({} minutes). Create a new \
                     websocket connection to continue.",
                    settings.max_lifetime.as_secs() / 60
                ),
                None,
            );
            let _ = conn.send_text(error).await;
            conn.close(CloseCode::Normal, "lifetime").await;
            break;
        }
        turns += 1;
        if !turn(bridge, &mut conn, &mut store, &peer, text).await? {
            break;
        }
    }
    ctx.outcome = Outcome::Ok;
    log::debug!(
        "WebSocket connection closed after {turns} request(s) and {:.1} s",
        opened.elapsed().as_secs_f64()
    );
    Ok(())
}

/// What a connection's requests share.
struct Peer<'h> {
    headers: &'h http::HeaderMap,
    thread: Option<String>,
    member: usize,
}

/// A client message: its fields in order, raw.
struct Fields(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Ordered;
        impl<'de> Visitor<'de> for Ordered {
            type Value = Fields;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                    fields.push(entry);
                }
                Ok(Fields(fields))
            }
        }
        deserializer.deserialize_map(Ordered)
    }
}

impl Fields {
    fn take(&mut self, name: &str) -> Option<Box<RawValue>> {
        let at = self.0.iter().position(|(key, _)| key == name)?;
        Some(self.0.remove(at).1)
    }
}

/// A `response.create` message, split.
struct Create {
    previous_response_id: Option<String>,
    generate: bool,
    /// The new items (all of them without `previous_response_id`).
    input: Items,
    model: String,
    /// Every other field, raw, for the rebuilt request.
    rest: Fields,
}

/// Reads a client message: `Ok(None)` for a message with nothing to answer.
fn parse(text: &str) -> Result<Option<Create>, BridgeError> {
    let invalid = |message: String, param: Option<&str>| {
        BridgeError::InvalidRequest(message, param.map(str::to_owned))
    };
    let mut fields: Fields = serde_json::from_str(text)
        .map_err(|e| invalid(format!("the message is not a JSON object: {e}"), None))?;
    let kind = fields
        .take("type")
        .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
        .unwrap_or_default();
    match kind.as_str() {
        "response.create" => {}
        "response.processed" => return Ok(None),
        other => {
            return Err(invalid(
                format!(
                    "unknown message type {}: send \"response.create\"",
                    crate::excerpt::quoted(other)
                ),
                Some("type"),
            ))
        }
    }
    let previous_response_id = match fields.take("previous_response_id") {
        None => None,
        Some(raw) if raw.get() == "null" => None,
        Some(raw) => Some(serde_json::from_str::<String>(raw.get()).map_err(|_| {
            invalid(
                "previous_response_id must be a string".to_owned(),
                Some("previous_response_id"),
            )
        })?),
    };
    let generate = match fields.take("generate") {
        None => true,
        Some(raw) => serde_json::from_str::<Option<bool>>(raw.get())
            .map_err(|_| invalid("generate must be a boolean".to_owned(), Some("generate")))?
            .unwrap_or(true),
    };
    let input = match fields.take("input") {
        None => Vec::new(),
        Some(raw) if raw.get().starts_with('"') => {
            // `input` as a string is one user message.
            let text: String = serde_json::from_str(raw.get())
                .map_err(|e| invalid(format!("input: {e}"), Some("input")))?;
            let item = json!({"type":"message","role":"user","content":[{"type":"input_text","text":text}]});
            vec![RawValue::from_string(item.to_string())
                .map_err(|e| BridgeError::Internal(e.to_string()))?]
        }
        Some(raw) => serde_json::from_str::<Items>(raw.get()).map_err(|_| {
            invalid(
                "input must be a list of items (or a string)".to_owned(),
                Some("input"),
            )
        })?,
    };
    fields.take("stream");
    let model = fields
        .0
        .iter()
        .find(|(key, _)| key == "model")
        .and_then(|(_, raw)| serde_json::from_str::<String>(raw.get()).ok())
        .unwrap_or_default();
    Ok(Some(Create {
        previous_response_id,
        generate,
        input,
        model,
        rest: fields,
    }))
}

/// The full Responses request body: the message's other fields, `stream: true` (every
/// WebSocket response streams) and the whole input.
fn request_body(rest: &Fields, input: &History) -> Vec<u8> {
    let mut body = Vec::with_capacity(input.bytes() + 4096);
    body.push(b'{');
    for (key, raw) in &rest.0 {
        // Keys came out of a JSON string: re-encoding cannot fail.
        let _ = serde_json::to_writer(&mut body, key);
        body.push(b':');
        body.extend_from_slice(raw.get().as_bytes());
        body.push(b',');
    }
    body.extend_from_slice(b"\"stream\":true,\"input\":[");
    for (i, item) in input.items().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item.get().as_bytes());
    }
    body.extend_from_slice(b"]}");
    body
}

/// An error message in the shape Codex's WebSocket client parses.
fn error_frame(status: u16, code: &str, message: &str, param: Option<&str>) -> String {
    let error_type = if status >= 500 {
        "server_error"
    } else {
        "invalid_request_error"
    };
    json!({
        "type": "error",
        "status": status,
        "error": {"type": error_type, "code": code, "message": message, "param": param},
        "headers": {},
    })
    .to_string()
}

/// The error frame for a request the HTTP path would have refused with `status` and `body`
/// (an OpenAI-style error object), carrying both.
fn refusal_frame(status: u16, body: &[u8]) -> String {
    let error = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|mut v| v.get_mut("error").map(Value::take))
        .unwrap_or(Value::Null);
    json!({"type": "error", "status": status, "error": error, "headers": {}}).to_string()
}

/// Answers one client message; `Ok(false)` when the connection should close.
async fn turn(
    bridge: &Bridge,
    conn: &mut Connection<'_>,
    store: &mut Conversation,
    peer: &Peer<'_>,
    text: String,
) -> pingora::Result<bool> {
    let mut ctx = RequestCtx {
        route: crate::proxy::routes::Route::ResponsesWebSocket,
        ..RequestCtx::default()
    };
    let bytes_in = text.len() as u64;
    let sent_before = conn.bytes_out;
    let create = match parse(&text) {
        Ok(Some(create)) => create,
        Ok(None) => return Ok(true),
        Err(error) => {
            ctx.outcome = error.outcome();
            conn.send_text(refusal_frame(error.status(), &error.body()))
                .await?;
            finished(
                bridge,
                &ctx,
                "-",
                "-",
                bytes_in,
                conn.bytes_out - sent_before,
            );
            return Ok(true);
        }
    };
    drop(text);
    let kind = match (&create.previous_response_id, create.generate) {
        (_, false) => "prewarm",
        (Some(_), true) => "chained",
        (None, true) => "full",
    };
    let base = match &create.previous_response_id {
        None => History::default(),
        Some(id) => match store.get(id) {
            Some(history) => history.clone(),
            None => {
                bridge.metrics.websocket_request("not_found");
                ctx.outcome = Outcome::InvalidRequest;
                let message = format!(
                    "Previous response with id {} not found on this connection; send the \
                     full input.",
                    crate::excerpt::quoted(id)
                );
                let frame = error_frame(
                    400,
                    "previous_response_not_found",
                    &message,
                    Some("previous_response_id"),
                );
                conn.send_text(frame).await?;
                finished(
                    bridge,
                    &ctx,
                    &create.model,
                    "not_found",
                    bytes_in,
                    conn.bytes_out - sent_before,
                );
                return Ok(true);
            }
        },
    };
    bridge.metrics.websocket_request(kind);
    let new_items = create.input.len();
    let input = base.then(Segment::new(create.input));
    let id = new_id("resp_");
    // The access log's view of the input: how it came, how much was new.
    let detail = match &create.previous_response_id {
        Some(previous) => format!(
            "{kind} previous={previous} new_items={new_items} items={} id={id}",
            input.items().count()
        ),
        None => format!("{kind} items={new_items} id={id}"),
    };
    if !create.generate {
        prewarm(conn, &id, &create.model).await?;
        let _ = store.keep(id, input, Vec::new());
        finished(
            bridge,
            &ctx,
            &create.model,
            &detail,
            bytes_in,
            conn.bytes_out - sent_before,
        );
        return Ok(true);
    }
    let body = request_body(&create.rest, &input);
    let turn = Turn {
        thread: peer.thread.clone(),
        headers: peer.headers,
        body,
        id: id.clone(),
        member: Some(peer.member),
    };
    let mut sink = FrameSink {
        conn: &mut *conn,
        output: None,
    };
    let responded = respond(bridge, turn, &mut sink, &mut ctx).await;
    let output = sink.output.take();
    match responded {
        Err(e) => {
            log::debug!("WebSocket client gone: {}", e.etype().as_str());
            ctx.outcome = Outcome::ClientGone;
            finished(
                bridge,
                &ctx,
                &create.model,
                &detail,
                bytes_in,
                conn.bytes_out - sent_before,
            );
            return Ok(false);
        }
        Ok(Responded::Refused(error)) => {
            conn.send_text(refusal_frame(error.status(), &error.body()))
                .await?;
        }
        Ok(Responded::Answered { .. }) => {}
    }
    match output {
        Some(output) => {
            if let Err(why) = store.keep(id, input, output) {
                log::info!(
                    "WebSocket conversation not kept ({why:?}): the next request must carry \
                     the full input"
                );
            }
        }
        // A continuation that did not complete: what it continued is not trusted again
        // (the client starts over with the full input).
        None => {
            if let Some(previous) = &create.previous_response_id {
                store.forget(previous);
            }
        }
    }
    let model = ctx.model.clone().unwrap_or(create.model);
    let sent = conn.bytes_out - sent_before;
    finished(bridge, &ctx, &model, &detail, bytes_in, sent);
    Ok(ctx.outcome != Outcome::ClientGone)
}

/// A prewarm (`generate: false`): `response.created` and `response.completed` with no output.
async fn prewarm(conn: &mut Connection<'_>, id: &str, model: &str) -> pingora::Result<()> {
    let meta = ResponseMeta {
        id: id.to_owned(),
        created_at: unix_now(),
        model: model.to_owned(),
    };
    let mut writer = ResponseEventWriter::new(meta, &ResponseEcho::default());
    let mut out = Vec::new();
    writer.created(&mut out);
    writer.completed(None, unix_now(), &mut out);
    let mut sink = FrameSink { conn, output: None };
    sink.send(out, true).await
}

/// One access log line and the metrics for one WebSocket request.
fn finished(
    bridge: &Bridge,
    ctx: &RequestCtx,
    model: &str,
    input: &str,
    bytes_in: u64,
    bytes_out: u64,
) {
    let duration = ctx.started.elapsed();
    if access_log::enabled() {
        let m = &ctx.measures;
        let tokens = m.usage.map_or_else(
            || "-".to_owned(),
            |u| format!("{}/{}", u.input_tokens, u.output_tokens),
        );
        access_log::write(&format!(
            "WS /v1/responses responses_websocket 101 {}ms input={input} upstream={} tokens={} \
             model={} outcome={}",
            duration.as_millis(),
            m.upstream_status
                .map_or_else(|| "-".to_owned(), |s| s.to_string()),
            tokens,
            if model.is_empty() { "-" } else { model },
            ctx.outcome.as_str(),
        ));
    }
    bridge.metrics.finished(&metrics::Finished {
        route: ctx.route.label(),
        outcome: ctx.outcome,
        duration,
        bytes_in,
        bytes_out,
        measures: &ctx.measures,
    });
}

/// Sends the translator's events as WebSocket messages, and keeps the output items of a
/// completed response for the store.
struct FrameSink<'c, 's> {
    conn: &'c mut Connection<'s>,
    /// `response.output` of the `response.completed` event, once sent.
    output: Option<Items>,
}

/// The part of a terminal event the store needs.
#[derive(Deserialize)]
struct Completed {
    response: CompletedResponse,
}

#[derive(Deserialize)]
struct CompletedResponse {
    #[serde(default)]
    output: Items,
}

impl FrameSink<'_, '_> {
    /// Each SSE event (`event: <type>\ndata: <json>\n\n`, as the event writer makes them) as
    /// one text message with its JSON.
    async fn frames(&mut self, events: Vec<u8>) -> pingora::Result<()> {
        let text = String::from_utf8_lossy(&events);
        for event in text.split("\n\n") {
            let mut name = "";
            let mut data = None;
            for line in event.lines() {
                if let Some(rest) = line.strip_prefix("event: ") {
                    name = rest;
                } else if let Some(rest) = line.strip_prefix("data: ") {
                    data = Some(rest);
                }
            }
            let Some(data) = data else { continue };
            if name == "response.completed" {
                self.output = serde_json::from_str::<Completed>(data)
                    .ok()
                    .map(|c| c.response.output);
            }
            self.conn.send_text(data.to_owned()).await?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl EventSink for FrameSink<'_, '_> {
    /// A WebSocket has no headers after its handshake: the events are the whole answer.
    async fn start(
        &mut self,
        first_events: Vec<u8>,
        _extra_headers: &[(&str, String)],
    ) -> pingora::Result<()> {
        self.frames(first_events).await
    }

    async fn send(&mut self, events: Vec<u8>, _end: bool) -> pingora::Result<()> {
        self.frames(events).await
    }

    async fn send_whole(
        &mut self,
        status: u16,
        body: Vec<u8>,
        _extra_headers: &[(&str, String)],
    ) -> pingora::Result<()> {
        // Not reached: every WebSocket request streams. Said as an error, should it be.
        self.conn.send_text(refusal_frame(status, &body)).await
    }

    async fn gone(&mut self) {
        self.conn.closed().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chained_message_rebuilds_the_full_request() {
        let create = parse(
            r#"{"type":"response.create","model":"m","previous_response_id":"resp_1","input":[{"type":"message","role":"user","content":"b"}],"tools":[],"stream":true}"#,
        )
        .expect("valid")
        .expect("a create");
        assert_eq!(create.previous_response_id.as_deref(), Some("resp_1"));
        let earlier = History::default().then(Segment::new(vec![RawValue::from_string(
            r#"{"type":"message","role":"user","content":"a"}"#.to_owned(),
        )
        .expect("json")]));
        let input = earlier.then(Segment::new(create.input));
        let body: Value =
            serde_json::from_slice(&request_body(&create.rest, &input)).expect("json");
        assert_eq!(
            body,
            json!({"model":"m","tools":[],"stream":true,"input":[
                {"type":"message","role":"user","content":"a"},
                {"type":"message","role":"user","content":"b"}]})
        );
    }

    #[test]
    fn messages_other_than_create_are_told_apart() {
        assert!(parse(r#"{"type":"response.processed","response_id":"r"}"#)
            .expect("accepted")
            .is_none());
        assert!(matches!(
            parse(r#"{"type":"response.cancel"}"#),
            Err(BridgeError::InvalidRequest(..))
        ));
        assert!(parse("[1]").is_err());
        assert!(parse(r#"{"type":"response.create","generate":"no"}"#).is_err());
    }
}
