//! The bridge's own pooled client to the upstream, for requests the bridge makes itself
//! (the `/v1/responses` translation, `/health?full=true`, `/api/tags`) rather than proxies.
//!
//! It uses Pingora's `Connector`, so connections are pooled and kept alive like the proxied
//! ones, and it sends an exact `Content-Length` (the body is translated before any byte goes
//! upstream, so a malformed request never reaches the upstream at all).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use pingora::prelude::HttpPeer;
use pingora::protocols::http::client::HttpSession;
use pingora::{Error, ErrorType};

use crate::config::Upstream;

/// How long an idle pooled upstream connection is kept.
const POOL_IDLE: Duration = Duration::from_secs(60);
/// Longest a single write to the upstream may block.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest upstream answer the bridge buffers (a chat completion is far smaller).
const MAX_REPLY_BYTES: usize = 64 * 1024 * 1024;

/// A whole upstream answer.
#[derive(Debug)]
pub struct UpstreamReply {
    pub status: u16,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
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

/// Pooled HTTP client for the configured upstream.
pub struct UpstreamClient {
    connector: Connector,
    peer: HttpPeer,
    upstream: Upstream,
}

impl UpstreamClient {
    pub fn new(upstream: &Upstream) -> Self {
        UpstreamClient {
            connector: Connector::new(None),
            peer: build_peer(upstream),
            upstream: upstream.clone(),
        }
    }

    /// The upstream as configured.
    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// Sends one request and reads the whole answer. A pooled connection that turns out to be
    /// dead before anything was read is retried once on a fresh connection.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Bytes>,
    ) -> Result<UpstreamReply, TransportError> {
        let (session, reused) = self
            .connector
            .get_http_session(&self.peer)
            .await
            .map_err(|e| map_error(&e))?;
        match self
            .exchange(session, method, path, headers, body.clone())
            .await
        {
            Err(Attempt::BeforeAnswer(e)) if reused => {
                log::debug!(
                    "pooled upstream connection was dead ({}), retrying on a fresh one",
                    e.etype().as_str()
                );
                let (session, _) = self
                    .connector
                    .get_http_session(&self.peer)
                    .await
                    .map_err(|e| map_error(&e))?;
                self.exchange(session, method, path, headers, body)
                    .await
                    .map_err(Attempt::into_transport)
            }
            other => other.map_err(Attempt::into_transport),
        }
    }

    async fn exchange(
        &self,
        mut session: HttpSession,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Bytes>,
    ) -> Result<UpstreamReply, Attempt> {
        // The connector does not apply the peer's I/O time-outs to a client session: set them.
        session.set_read_timeout(Some(self.upstream.read_timeout));
        session.set_write_timeout(Some(WRITE_TIMEOUT));
        let request = self.request_header(method, path, headers, body.as_ref().map(Bytes::len))?;
        session
            .write_request_header(Box::new(request))
            .await
            .map_err(Attempt::BeforeAnswer)?;
        if let Some(body) = body {
            session
                .write_request_body(body, true)
                .await
                .map_err(Attempt::BeforeAnswer)?;
        }
        session
            .finish_request_body()
            .await
            .map_err(Attempt::BeforeAnswer)?;
        session
            .read_response_header()
            .await
            .map_err(Attempt::BeforeAnswer)?;
        let (status, retry_after) = match session.response_header() {
            Some(h) => (
                h.status.as_u16(),
                h.headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
            ),
            None => {
                return Err(Attempt::AfterAnswer(Error::explain(
                    ErrorType::H1Error,
                    "no response header",
                )))
            }
        };
        let mut buf = BytesMut::new();
        while let Some(chunk) = session
            .read_response_body()
            .await
            .map_err(Attempt::AfterAnswer)?
        {
            if buf.len() + chunk.len() > MAX_REPLY_BYTES {
                return Err(Attempt::TooLarge);
            }
            buf.extend_from_slice(&chunk);
        }
        self.connector
            .release_http_session(session, &self.peer, Some(POOL_IDLE))
            .await;
        Ok(UpstreamReply {
            status,
            retry_after,
            body: buf.freeze(),
        })
    }

    fn request_header(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body_len: Option<usize>,
    ) -> Result<RequestHeader, Attempt> {
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
        build().map_err(Attempt::BeforeAnswer)
    }
}

/// The peer for the configured upstream, with time-outs that allow minutes of model thinking.
pub fn build_peer(upstream: &Upstream) -> HttpPeer {
    let mut peer = HttpPeer::new(upstream.addr, upstream.tls, upstream.host.clone());
    peer.options.connection_timeout = Some(upstream.connect_timeout);
    peer.options.total_connection_timeout = Some(upstream.connect_timeout * 2);
    peer.options.read_timeout = Some(upstream.read_timeout);
    peer.options.write_timeout = Some(WRITE_TIMEOUT);
    peer.options.idle_timeout = Some(POOL_IDLE);
    peer
}

/// Where in the exchange an attempt failed: only failures before any answer may be retried.
enum Attempt {
    BeforeAnswer(Box<Error>),
    AfterAnswer(Box<Error>),
    TooLarge,
}

impl Attempt {
    fn into_transport(self) -> TransportError {
        match self {
            Attempt::BeforeAnswer(e) | Attempt::AfterAnswer(e) => map_error(&e),
            Attempt::TooLarge => TransportError::TooLarge,
        }
    }
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
