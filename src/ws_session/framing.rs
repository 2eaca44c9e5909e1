//! WebSocket framing over Pingora's upgraded session: the opening handshake (RFC 6455 §4.2),
//! then `tungstenite`'s protocol layer (frame parsing, masking rules, fragmentation, control
//! frames, UTF-8 checks, close handshake, size limits) fed with the bytes Pingora reads and
//! writing into a buffer this module hands back to Pingora.
//!
//! Pingora 0.9 switches a session to pass-through once a `101` is written: the request body
//! reader then returns the raw bytes the client sends until it closes, and the response body
//! writer writes raw bytes. `tungstenite` wants a `Read + Write` stream; [`Wire`] is an
//! in-memory one that says `WouldBlock` when it has no bytes, which `tungstenite` supports as a
//! non-blocking stream. So nothing here blocks, spawns or copies the socket elsewhere.
//!
//! Bounds: a message or frame over `max_message_bytes` is a protocol error (close 1009); the
//! inbound buffer holds at most one read chunk beyond what `tungstenite` buffers for the
//! current message; outbound bytes are handed to Pingora after every message, and the next
//! message waits for that write to finish, so a client that stops reading stops us too (and
//! the session's write time-out then ends the connection).

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use base64::Engine;
use bytes::{Buf, BytesMut};
use http::HeaderMap;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tungstenite::{Message, WebSocket};

use crate::error::BridgeError;

/// `tungstenite`'s read buffer per connection (its default is 128 KiB).
const READ_BUFFER: usize = 16 * 1024;

/// The GUID of RFC 6455 §1.3, appended to the client's key before hashing.
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Checks the opening handshake of a WebSocket client (method, `Upgrade`, `Connection`,
/// `Sec-WebSocket-Version: 13`, a 16-byte `Sec-WebSocket-Key`) and returns the
/// `Sec-WebSocket-Accept` value. (Host, Origin and the token were checked before, as for every
/// request.)
pub fn accept_key(method: &str, headers: &HeaderMap) -> Result<String, BridgeError> {
    let bad = |what: &str| {
        BridgeError::InvalidRequest(format!("not a valid WebSocket handshake: {what}"), None)
    };
    if method != "GET" {
        return Err(bad("the method must be GET"));
    }
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if !value("upgrade").is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket")) {
        return Err(bad("Upgrade must be websocket"));
    }
    let connection_upgrade = headers
        .get_all("connection")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    if !connection_upgrade {
        return Err(bad("Connection must include upgrade"));
    }
    if value("sec-websocket-version").map(str::trim) != Some("13") {
        return Err(bad("Sec-WebSocket-Version must be 13"));
    }
    let key = value("sec-websocket-key")
        .map(str::trim)
        .ok_or_else(|| bad("Sec-WebSocket-Key is missing"))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(key)
        .map_err(|_| bad("Sec-WebSocket-Key is not base64"))?;
    if decoded.len() != 16 {
        return Err(bad("Sec-WebSocket-Key must encode 16 bytes"));
    }
    let digest = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        format!("{key}{ACCEPT_GUID}").as_bytes(),
    );
    Ok(base64::engine::general_purpose::STANDARD.encode(digest.as_ref()))
}

/// Writes the `101 Switching Protocols` answer. No extension is accepted: permessage-deflate,
/// which Codex offers, is declined by leaving `Sec-WebSocket-Extensions` out (RFC 7692 §5), and
/// the client then sends and expects uncompressed frames.
pub async fn switch_protocols(session: &mut Session, accept: &str) -> pingora::Result<()> {
    let mut header = ResponseHeader::build(101, Some(3))?;
    header.insert_header("upgrade", "websocket")?;
    header.insert_header("connection", "Upgrade")?;
    header.insert_header("sec-websocket-accept", accept)?;
    session.write_response_header(Box::new(header), false).await
}

/// An in-memory stream for `tungstenite`: bytes read from the client go in `inbound`, bytes to
/// send collect in `outbound`.
#[derive(Default)]
struct Wire {
    inbound: BytesMut,
    outbound: Vec<u8>,
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.inbound.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.inbound.len());
        buf[..n].copy_from_slice(&self.inbound[..n]);
        self.inbound.advance(n);
        Ok(n)
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outbound.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What arrived from the client.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A complete text message.
    Text(String),
    /// The client closed the connection (a close frame, the end of the stream, or a protocol
    /// error, which has been answered with a close frame where possible).
    Closed,
}

/// One upgraded connection: the session and the protocol state.
pub struct Connection<'s> {
    session: &'s mut Session,
    ws: WebSocket<Wire>,
    /// Text messages that arrived while a response was streaming (read by `gone`).
    pending: VecDeque<String>,
    closed: bool,
    /// Bytes received and sent on the wire (for the access log).
    pub bytes_in: u64,
    /// Bytes sent on the wire.
    pub bytes_out: u64,
}

impl<'s> Connection<'s> {
    /// The protocol over `session`, which has just sent its `101`; messages and frames over
    /// `max_message_bytes` are refused.
    pub fn new(session: &'s mut Session, max_message_bytes: usize) -> Self {
        // A small read buffer: a connection mostly waits (Codex's messages after the first
        // are a few KB), and 64 idle connections should not hold 128 KiB each.
        let config = WebSocketConfig::default()
            .read_buffer_size(READ_BUFFER)
            .max_message_size(Some(max_message_bytes))
            .max_frame_size(Some(max_message_bytes))
            .write_buffer_size(0)
            .accept_unmasked_frames(false);
        Connection {
            session,
            ws: WebSocket::from_raw_socket(Wire::default(), Role::Server, Some(config)),
            pending: VecDeque::new(),
            closed: false,
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    /// The session (for timeouts).
    pub fn session(&mut self) -> &mut Session {
        self.session
    }

    /// The next text message, or `Closed`. Pings are answered (with the next write, or now
    /// when nothing else is due); a binary message is a protocol error here (close 1003).
    pub async fn next(&mut self) -> Incoming {
        loop {
            if let Some(text) = self.pending.pop_front() {
                return Incoming::Text(text);
            }
            if self.closed {
                return Incoming::Closed;
            }
            self.receive().await;
            // Pongs (and a close reply) queued by tungstenite go out now.
            if self.flush().await.is_err() {
                self.closed = true;
            }
        }
    }

    /// Resolves once the client has closed (or broken) the connection; text messages arriving
    /// meanwhile are kept for [`Self::next`]. Cancel-safe: it only reads.
    pub async fn closed(&mut self) {
        while !self.closed {
            self.receive().await;
        }
    }

    /// Reads one chunk from the client and runs it through the protocol.
    async fn receive(&mut self) {
        let chunk = match self.session.read_request_body().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) | Err(_) => {
                self.closed = true;
                return;
            }
        };
        self.bytes_in += chunk.len() as u64;
        self.ws.get_mut().inbound.extend_from_slice(&chunk);
        loop {
            match self.ws.read() {
                Ok(Message::Text(text)) => self.pending.push_back(text.as_str().to_owned()),
                Ok(Message::Binary(_)) => {
                    self.refuse(CloseCode::Unsupported, "binary messages are not accepted");
                    return;
                }
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
                Ok(Message::Close(_)) => {
                    self.closed = true;
                    return;
                }
                Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(tungstenite::Error::Capacity(_)) => {
                    self.refuse(CloseCode::Size, "message too large");
                    return;
                }
                Err(tungstenite::Error::Protocol(_) | tungstenite::Error::Utf8(_)) => {
                    self.refuse(CloseCode::Protocol, "protocol error");
                    return;
                }
                Err(_) => {
                    self.closed = true;
                    return;
                }
            }
        }
    }

    /// Queues a close frame with `code` and marks the connection closed.
    fn refuse(&mut self, code: CloseCode, reason: &'static str) {
        log::info!("WebSocket client refused: {reason}");
        let _ = self.ws.close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }));
        self.closed = true;
    }

    /// Sends one text message.
    pub async fn send_text(&mut self, text: String) -> pingora::Result<()> {
        if let Err(e) = self.ws.send(Message::text(text)) {
            return Err(pingora::Error::explain(
                pingora::ErrorType::WriteError,
                format!("WebSocket send: {e}"),
            ));
        }
        self.flush().await
    }

    /// Hands the queued bytes to Pingora.
    async fn flush(&mut self) -> pingora::Result<()> {
        let _ = self.ws.flush();
        let out = std::mem::take(&mut self.ws.get_mut().outbound);
        if out.is_empty() {
            return Ok(());
        }
        self.bytes_out += out.len() as u64;
        self.session
            .write_response_body(Some(bytes::Bytes::from(out)), false)
            .await
    }

    /// Closes the connection with `code` and `reason` (the close handshake's first half; the
    /// socket is closed when the handler returns).
    pub async fn close(&mut self, code: CloseCode, reason: &str) {
        let _ = self.ws.close(Some(CloseFrame {
            code,
            reason: reason.to_owned().into(),
        }));
        let _ = self.flush().await;
        self.closed = true;
        let _ = self.session.write_response_body(None, true).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake(key: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("upgrade", "websocket".parse().expect("value"));
        headers.insert("connection", "keep-alive, Upgrade".parse().expect("value"));
        headers.insert("sec-websocket-version", "13".parse().expect("value"));
        headers.insert("sec-websocket-key", key.parse().expect("value"));
        headers
    }

    #[test]
    fn accept_key_is_the_rfc_example() {
        // RFC 6455 §1.3.
        let headers = handshake("dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(
            accept_key("GET", &headers).expect("valid"),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert!(accept_key("POST", &headers).is_err());
        assert!(accept_key("GET", &handshake("c2hvcnQ=")).is_err());
        let mut old = handshake("dGhlIHNhbXBsZSBub25jZQ==");
        old.insert("sec-websocket-version", "8".parse().expect("value"));
        assert!(accept_key("GET", &old).is_err());
    }
}
