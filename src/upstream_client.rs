//! The bridge's own pooled client to the upstream, for requests the bridge makes itself
//! (the `/v1/responses` translation, `/health?full=true`, `/api/tags`) rather than proxies.
//!
//! It uses Pingora's `Connector`, so connections are pooled and kept alive like the proxied
//! ones, and it sends an exact `Content-Length` (the body is translated before any byte goes
//! upstream, so a malformed request never reaches the upstream at all).
//!
//! Pooled connections stay idle for less than the upstream's own keep-alive time-out
//! (`upstream.pool_idle_secs`, 4 s: Node servers close theirs after 5 s). Should one still die
//! just as it is reused, the request is sent again, once, on a fresh connection — a POST too,
//! but only when the failure proves the upstream never read it (the write failed, or the
//! connection closed before a single byte of answer): a model call the upstream may have
//! processed may have been paid for, and is never sent twice.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use pingora::connectors::http::Connector;
use pingora::connectors::TransportConnector;
use pingora::http::RequestHeader;
use pingora::prelude::HttpPeer;
use pingora::protocols::http::client::HttpSession;
use pingora::protocols::http::v1::client::HttpSession as Http1Session;
use pingora::{Error, ErrorType};

use crate::config::Upstream;
use crate::translate::upstream_error::ErrorHeaders;

/// A connection that closes without a byte of answer this soon after the request was written
/// was closing already (an idle time-out racing the request); one that closes later may have
/// processed — and paid for — the request, so it is not sent again.
const UNREAD_CLOSE_WINDOW: Duration = Duration::from_secs(1);
/// Longest a single write to the upstream may block.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest upstream answer the bridge buffers (a chat completion is far smaller).
const MAX_REPLY_BYTES: usize = 64 * 1024 * 1024;
/// After the last event the bridge needs, at most this much of a body is still read so the
/// connection can be reused (the rest of a stream is `[DONE]` and the chunked end).
const DRAIN_LIMIT: usize = 64 * 1024;
/// ... and for at most this long.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// A whole upstream answer.
#[derive(Debug)]
pub struct UpstreamReply {
    /// The HTTP status, whatever it is (an error answer is a reply, not a [`TransportError`]).
    pub status: u16,
    /// What the headers say about an error answer (`Retry-After`, spending cap).
    pub error_headers: ErrorHeaders,
    /// The whole body as received (not decompressed), at most 64 MiB.
    pub body: Bytes,
}

/// Why no answer came back. Messages name no internal detail beyond the error class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The connection could not be made (refused, no route, TLS failure, connect time-out).
    Connect(String),
    /// Connected, but the upstream went silent for longer than the read time-out.
    TimedOut,
    /// The connection broke before a whole answer arrived.
    Broken(String),
    /// The answer was larger than the bridge buffers.
    TooLarge,
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransportError::Connect(why) | TransportError::Broken(why) => f.write_str(why),
            TransportError::TimedOut => f.write_str("no answer within the read time-out"),
            TransportError::TooLarge => f.write_str("the answer was too large"),
        }
    }
}

/// An upstream answer whose header has arrived and whose body is still to be read.
pub struct OpenResponse {
    /// The HTTP status of the answer's header (a `200` stream may still fail inside).
    pub status: u16,
    /// What the headers say about an error answer (`Retry-After`, spending cap).
    pub error_headers: ErrorHeaders,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The `Content-Encoding` header, if any (the bridge asks for none; error pages come
    /// compressed anyway from some servers).
    pub content_encoding: Option<String>,
    /// A 402's `PAYMENT-REQUIRED` header (x402: what to pay), for direct mode.
    pub payment_required: Option<String>,
    received: usize,
    session: HttpSession,
}

impl OpenResponse {
    /// True when the upstream answered a Server-Sent Events stream.
    pub fn is_event_stream(&self) -> bool {
        self.content_type.as_deref().is_some_and(|c| {
            c.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/event-stream")
        })
    }
}

/// Pooled HTTP client for the configured upstream.
pub struct UpstreamClient {
    connector: Connector,
    /// Makes the fresh connection a request is sent again on (never from the pool).
    fresh: TransportConnector,
    peer: HttpPeer,
    upstream: Upstream,
}

/// Why an exchange failed, and whether the upstream can have read the request.
struct ExchangeFailure {
    error: Box<Error>,
    /// The write failed, or the connection closed before any byte of answer: the upstream
    /// never read the request (or, on a reused connection, was closing it as it came).
    unread: bool,
}

impl UpstreamClient {
    /// A client for `upstream` with its own connection pool; connects on the first request,
    /// with the upstream's connect and read time-outs and pooled-idle limit.
    pub fn new(upstream: &Upstream) -> Self {
        UpstreamClient {
            connector: Connector::new(None),
            fresh: TransportConnector::new(None),
            peer: build_peer(upstream),
            upstream: upstream.clone(),
        }
    }

    /// The peer (address, TLS, time-outs) every upstream connection uses, pass-through included.
    pub fn peer(&self) -> &HttpPeer {
        &self.peer
    }

    /// The upstream as configured.
    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// Sends one request and reads the whole answer.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Bytes>,
    ) -> Result<UpstreamReply, TransportError> {
        let open = self.open(method, path, headers, body).await?;
        let status = open.status;
        let error_headers = open.error_headers.clone();
        let body = self.read_all(open).await?;
        Ok(UpstreamReply {
            status,
            error_headers,
            body,
        })
    }

    /// Sends one request and reads the answer's header; the body is then read with
    /// [`Self::next_chunk`] (streaming) or [`Self::read_all`]. A request on a pooled connection
    /// that died before the upstream read it is sent again, once, on a fresh connection.
    pub async fn open(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        mut body: Option<Bytes>,
    ) -> Result<OpenResponse, TransportError> {
        let (session, reused) = self
            .connector
            .get_http_session(&self.peer)
            .await
            .map_err(|e| map_error(&e))?;
        // A reused connection may be one the upstream is closing: keep the body (a reference,
        // not a copy) until the answer's header proves the request arrived.
        let first_body = if reused { body.clone() } else { body.take() };
        match self
            .start_exchange(session, method, path, headers, first_body)
            .await
        {
            Ok(open) => Ok(open),
            Err(failure) if reused && failure.unread => {
                log::info!(
                    "pooled upstream connection closed before it read the request ({}); \
                     sending it again on a fresh connection",
                    failure.error.etype().as_str()
                );
                let stream = self
                    .fresh
                    .new_stream(&self.peer)
                    .await
                    .map_err(|e| map_error(&e))?;
                let session = HttpSession::H1(Http1Session::new_with_options(stream, &self.peer));
                self.start_exchange(session, method, path, headers, body)
                    .await
                    .map_err(|failure| map_error(&failure.error))
            }
            Err(failure) => Err(map_error(&failure.error)),
        }
    }

    /// The next piece of the answer's body as it arrives; `None` at its end.
    pub async fn next_chunk(
        &self,
        open: &mut OpenResponse,
    ) -> Result<Option<Bytes>, TransportError> {
        let chunk = open
            .session
            .read_response_body()
            .await
            .map_err(|e| map_error(&e))?;
        if let Some(chunk) = &chunk {
            open.received += chunk.len();
            if open.received > MAX_REPLY_BYTES {
                return Err(TransportError::TooLarge);
            }
        }
        Ok(chunk)
    }

    /// Reads the rest of the answer's body and returns the connection to the pool.
    pub async fn read_all(&self, mut open: OpenResponse) -> Result<Bytes, TransportError> {
        let mut buf = BytesMut::new();
        while let Some(chunk) = self.next_chunk(&mut open).await? {
            buf.extend_from_slice(&chunk);
        }
        self.release(open).await;
        Ok(buf.freeze())
    }

    /// Reads what is left of an answer whose content is no longer needed (a stream after its
    /// terminal event) and returns the connection to the pool; an answer with more than
    /// [`DRAIN_LIMIT`] left, or that does not end within [`DRAIN_TIMEOUT`], closes it instead.
    pub async fn drain_and_release(&self, mut open: OpenResponse) {
        let drain = async {
            let mut left = DRAIN_LIMIT;
            while let Some(chunk) = self.next_chunk(&mut open).await.ok()? {
                left = left.checked_sub(chunk.len())?;
            }
            Some(())
        };
        match tokio::time::timeout(DRAIN_TIMEOUT, drain).await {
            Ok(Some(())) => self.release(open).await,
            _ => log::debug!("upstream answer not drained; its connection is closed"),
        }
    }

    /// Returns a connection whose answer was read to its end to the pool (if reusable), for
    /// `upstream.pool_idle_secs` at most.
    pub async fn release(&self, open: OpenResponse) {
        if self.upstream.pool_idle.is_zero() {
            return;
        }
        self.connector
            .release_http_session(open.session, &self.peer, Some(self.upstream.pool_idle))
            .await;
    }

    async fn start_exchange(
        &self,
        mut session: HttpSession,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Bytes>,
    ) -> Result<OpenResponse, ExchangeFailure> {
        let unread = |error: Box<Error>| ExchangeFailure {
            error,
            unread: true,
        };
        // The connector does not apply the peer's I/O time-outs to a client session: set them.
        session.set_read_timeout(Some(self.upstream.read_timeout));
        session.set_write_timeout(Some(WRITE_TIMEOUT));
        let request = self
            .request_header(method, path, headers, body.as_ref().map(Bytes::len))
            .map_err(unread)?;
        session
            .write_request_header(Box::new(request))
            .await
            .map_err(unread)?;
        if let Some(body) = body {
            session
                .write_request_body(body, true)
                .await
                .map_err(unread)?;
        }
        session.finish_request_body().await.map_err(unread)?;
        let written = Instant::now();
        if let Err(error) = session.read_response_header().await {
            let unread = closed_unread(&error, written);
            return Err(ExchangeFailure { error, unread });
        }
        let header = session.response_header().ok_or_else(|| ExchangeFailure {
            error: Error::explain(ErrorType::H1Error, "no response header"),
            unread: false,
        })?;
        let text = |name: &str| {
            header
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Ok(OpenResponse {
            status: header.status.as_u16(),
            error_headers: ErrorHeaders {
                retry_after: text("retry-after"),
                spending_cap: text("x-clawrouter-cost-cap-exceeded").as_deref() == Some("1"),
            },
            content_type: text("content-type"),
            content_encoding: text("content-encoding").filter(|e| e != "identity"),
            payment_required: (header.status.as_u16() == 402)
                .then(|| text("payment-required"))
                .flatten(),
            received: 0,
            session,
        })
    }

    fn request_header(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body_len: Option<usize>,
    ) -> pingora::Result<RequestHeader> {
        let build = || -> pingora::Result<RequestHeader> {
            let mut req = RequestHeader::build(method, path.as_bytes(), None)?;
            req.insert_header("host", self.upstream.host_header())?;
            if let Some(len) = body_len {
                req.insert_header("content-length", len.to_string())?;
            }
            for (name, value) in headers {
                req.insert_header(name.to_string(), *value)?;
            }
            if let Some(key) = &self.upstream.api_key {
                req.insert_header("authorization", format!("Bearer {key}"))?;
            }
            Ok(req)
        };
        build()
    }
}

/// The peer for the configured upstream, with time-outs that allow minutes of model thinking.
fn build_peer(upstream: &Upstream) -> HttpPeer {
    let mut peer = HttpPeer::new(upstream.addr, upstream.tls, upstream.host.clone());
    peer.options.connection_timeout = Some(upstream.connect_timeout);
    peer.options.total_connection_timeout = Some(upstream.connect_timeout * 2);
    peer.options.read_timeout = Some(upstream.read_timeout);
    peer.options.write_timeout = Some(WRITE_TIMEOUT);
    peer.options.idle_timeout = Some(upstream.pool_idle);
    peer
}

/// True when reading an answer's header failed in a way that proves the upstream never read the
/// request written at `written`: the connection closed (or was reset) with no byte of answer,
/// within [`UNREAD_CLOSE_WINDOW`]. The rule for every retry on another connection, here and on
/// the pass-through path (`proxy::passthrough::may_send_again`).
pub fn closed_unread(error: &Error, written: Instant) -> bool {
    closed_before_any_answer(error) && written.elapsed() < UNREAD_CLOSE_WINDOW
}

/// True when reading the answer's header failed because the connection closed (or was reset)
/// before a single byte of it arrived. Pingora says how many bytes it had read in the error's
/// context; partial bytes mean the upstream was answering, so the request was processed.
fn closed_before_any_answer(error: &Error) -> bool {
    matches!(
        error.etype(),
        ErrorType::ConnectionClosed | ErrorType::ReadError
    ) && error
        .context
        .as_ref()
        .is_some_and(|context| context.as_str().ends_with("bytes already read: 0"))
}

fn map_error(e: &Error) -> TransportError {
    match e.etype() {
        ErrorType::ConnectRefused => TransportError::Connect("connection refused".to_owned()),
        ErrorType::ConnectTimedout => TransportError::Connect("connect timed out".to_owned()),
        ErrorType::ConnectNoRoute => TransportError::Connect("no route to host".to_owned()),
        ErrorType::TLSHandshakeFailure
        | ErrorType::TLSHandshakeTimedout
        | ErrorType::InvalidCert => {
            TransportError::Connect(format!("TLS failure ({})", e.etype().as_str()))
        }
        ErrorType::ConnectError | ErrorType::SocketError | ErrorType::BindError => {
            TransportError::Connect(format!("connect failed ({})", e.etype().as_str()))
        }
        ErrorType::ReadTimedout | ErrorType::WriteTimedout => TransportError::TimedOut,
        ErrorType::ConnectionClosed => {
            TransportError::Broken("connection closed before a whole answer".to_owned())
        }
        ErrorType::InvalidHTTPHeader | ErrorType::H1Error => {
            TransportError::Broken("not a valid HTTP answer".to_owned())
        }
        other => TransportError::Broken(format!("connection failed ({})", other.as_str())),
    }
}
