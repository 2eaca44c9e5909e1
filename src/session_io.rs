//! Writing answers the bridge makes itself (errors, JSON, SSE) and reading a request body the
//! bridge consumes itself, over Pingora's `Session` — so handlers never touch framing details.
//!
//! Framing rules verified on Pingora 0.9 (docs/ARCHITECTURE.md, Pingora mechanics): JSON bodies carry an exact
//! `Content-Length`; SSE carries no length and an explicit `Transfer-Encoding: chunked`
//! (without it the body is close-delimited while the header still says keep-alive).

use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;

use crate::error::BridgeError;

/// Writes a complete JSON answer.
pub async fn send_json(
    session: &mut Session,
    status: u16,
    body: Vec<u8>,
    extra_headers: &[(&str, String)],
) -> pingora::Result<()> {
    send_whole(session, status, "application/json", body, extra_headers).await
}

/// Writes a complete answer of `content_type` (never cached).
pub async fn send_whole(
    session: &mut Session,
    status: u16,
    content_type: &str,
    body: Vec<u8>,
    extra_headers: &[(&str, String)],
) -> pingora::Result<()> {
    let mut header = ResponseHeader::build(status, Some(4 + extra_headers.len()))?;
    header.insert_header("content-type", content_type)?;
    header.insert_header("content-length", body.len().to_string())?;
    header.insert_header("cache-control", "no-store")?;
    for (name, value) in extra_headers {
        header.insert_header(name.to_string(), value.as_str())?;
    }
    write_header_and_body(session, header, Bytes::from(body), true).await
}

/// The header, then the first (or only) body bytes. (Two writes: Pingora 0.9's downstream stream
/// has no write buffer, so handing both over together — `write_response_tasks` — was measured to
/// save no system call.)
async fn write_header_and_body(
    session: &mut Session,
    header: ResponseHeader,
    body: Bytes,
    end: bool,
) -> pingora::Result<()> {
    session
        .write_response_header(Box::new(header), false)
        .await?;
    session.write_response_body(Some(body), end).await
}

/// Writes a bridge error as its JSON answer. An unread request body of known length up to
/// [`DRAIN_LIMIT`] is read and dropped first, because closing a socket with unread data resets
/// it and the client would lose the answer. A body over `limits.max_body_bytes`, a body of
/// unknown length or over [`DRAIN_LIMIT`], a body that stopped arriving, a malformed one and a
/// WebSocket upgrade are answered at once instead, without waiting for the body, and the
/// connection closes after [`CLOSE_LINGER`] of discarding what still arrives.
pub async fn send_error(session: &mut Session, error: &BridgeError) -> pingora::Result<()> {
    let declared = declared_length(session);
    let answer_at_once = matches!(
        error,
        BridgeError::BodyTooLarge { .. }
            | BridgeError::BodyTimeout { .. }
            | BridgeError::BadFraming(_)
            | BridgeError::WebSocketUnsupported
    );
    let drainable = !answer_at_once && declared.is_some_and(|len| len <= DRAIN_LIMIT);
    if drainable && session.drain_request_body().await.is_err() {
        session.set_keepalive(None);
    }
    let unread_body = !drainable && declared != Some(0);
    if answer_at_once || unread_body {
        session.set_keepalive(None);
    }
    send_json(session, error.status(), error.body(), &[]).await?;
    if unread_body && !matches!(error, BridgeError::WebSocketUnsupported) {
        // Bytes already on their way would turn the close into a reset that can overtake the
        // answer: read and drop them for a moment first.
        let _ = tokio::time::timeout(CLOSE_LINGER, session.drain_request_body()).await;
    }
    Ok(())
}

/// How long a connection closed under an unread body is still read (and the bytes dropped)
/// after its answer, so the client sees the answer rather than a reset.
const CLOSE_LINGER: std::time::Duration = std::time::Duration::from_millis(500);

/// Largest unread body drained before a refusal (bigger ones close the connection instead).
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// The request's `Content-Length`; `Some(0)` for a request without a body.
fn declared_length(session: &Session) -> Option<usize> {
    let headers = &session.req_header().headers;
    match headers.get("content-length") {
        Some(value) => value.to_str().ok()?.trim().parse().ok(),
        None if headers.contains_key("transfer-encoding") => None,
        None => Some(0),
    }
}

/// Starts a `text/event-stream` answer (status 200, chunked) with its first events.
pub async fn start_sse(
    session: &mut Session,
    first_events: Vec<u8>,
    extra_headers: &[(&str, String)],
) -> pingora::Result<()> {
    let mut header = ResponseHeader::build(200, Some(4 + extra_headers.len()))?;
    for (name, value) in extra_headers {
        header.insert_header(name.to_string(), value.as_str())?;
    }
    header.insert_header("content-type", "text/event-stream; charset=utf-8")?;
    header.insert_header("cache-control", "no-cache")?;
    // HTTP/1.0 has no chunked framing: such a client gets a close-delimited
    // stream (Pingora already answers it with `Connection: close`).
    if session.req_header().version != http::Version::HTTP_10 {
        header.insert_header("transfer-encoding", "chunked")?;
    }
    header.insert_header("x-accel-buffering", "no")?;
    write_header_and_body(session, header, Bytes::from(first_events), false).await
}

/// Writes SSE bytes (one or more whole events); `end` finishes the stream.
pub async fn send_sse_bytes(
    session: &mut Session,
    events: Vec<u8>,
    end: bool,
) -> pingora::Result<()> {
    let body = (!events.is_empty()).then(|| Bytes::from(events));
    session.write_response_body(body, end).await
}

/// Why a request body could not be read.
#[derive(Debug)]
pub enum ReadBodyError {
    /// Over the configured limit (413), or it stopped arriving (408): the client is told.
    Refused(BridgeError),
    /// The client went away or sent a broken body.
    Client(Box<pingora::Error>),
}

/// Reads the whole request body, refusing it as soon as it passes `limit` bytes
/// (`Content-Length` is checked before reading anything) or when it stops arriving for the
/// session's read time-out (`server.body_timeout_secs`).
pub async fn read_body(session: &mut Session, limit: usize) -> Result<Vec<u8>, ReadBodyError> {
    let declared = declared_length(session);
    if let Some(size) = declared {
        if size > limit {
            return Err(ReadBodyError::Refused(BridgeError::BodyTooLarge {
                size,
                limit,
            }));
        }
    }
    let mut buf = Vec::with_capacity(declared.unwrap_or(16 * 1024).min(limit));
    loop {
        let chunk = match session.read_request_body().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(e) if e.etype() == &pingora::ErrorType::ReadTimedout => {
                return Err(ReadBodyError::Refused(BridgeError::BodyTimeout {
                    received: buf.len(),
                    expected: declared
                        .map(|size| format!(" of the {size} announced"))
                        .unwrap_or_default(),
                    secs: session
                        .get_read_timeout()
                        .map(|t| t.as_secs())
                        .unwrap_or_default(),
                }));
            }
            Err(e) => return Err(body_read_failure(e)),
        };
        if buf.len() + chunk.len() > limit {
            return Err(ReadBodyError::Refused(BridgeError::BodyTooLarge {
                size: buf.len() + chunk.len(),
                limit,
            }));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// A body read that failed: the client went away (nothing to answer), or its framing is broken
/// — a bad chunk size, a body shorter than announced — which gets a 400 saying so.
fn body_read_failure(error: Box<pingora::Error>) -> ReadBodyError {
    use pingora::ErrorType;
    match error.etype() {
        ErrorType::ReadError | ErrorType::WriteError | ErrorType::ConnectionClosed => {
            ReadBodyError::Client(error)
        }
        kind => ReadBodyError::Refused(BridgeError::BadFraming(format!(
            "the request body could not be read ({}); send a body of exactly Content-Length \
             bytes, or valid chunked encoding (a hex chunk size on its own line)",
            kind.as_str()
        ))),
    }
}
