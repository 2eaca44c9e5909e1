//! Bounds on client connections, enforced below HTTP, around Pingora's HTTP service
//! (docs/ARCHITECTURE.md, "Client connections"):
//!
//! - **a cap**: at most `server.max_connections` client connections at once; one more gets a
//!   `503` JSON answer and is closed before anything else is read;
//! - **a whole-header deadline**: a request header must be complete `server.header_timeout_secs`
//!   after the connection opened (first request) or after its first byte (later requests),
//!   however slowly it trickles in — Pingora's own time-out restarts on every byte;
//! - **a header size bound**: a header over 64 KiB or 200 lines gets `431` with a JSON error
//!   (Pingora would answer `400` with an empty body);
//! - **strict framing** ([`framing`]): a complete header that is not well-formed HTTP/1.1, or
//!   frames its body ambiguously (`Transfer-Encoding` with `Content-Length`, bad or differing
//!   lengths, unknown codings), gets `400` with a JSON error saying what, and the connection
//!   closes.
//!
//! Idle keep-alive connections are closed by Pingora after `server.idle_timeout_secs`, a body
//! that stops arriving gets `408` after `server.body_timeout_secs`, and pipelined requests are
//! answered in order: [`apply_to_session`] sets these on each request. Every refusal is
//! counted in `/metrics` (`clawrouter_codex_refused_connections_total{reason}`).
//!
//! The deadline and the bounds live in [`GuardedStream`], which wraps each accepted connection
//! and watches the bytes it reads: it only needs to find where a header ends (`\r\n\r\n`), and
//! it knows a request was answered when a response byte is written.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::tls::{SslDigest, TlsRef};
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl, Stream,
    TimingDigest, UniqueID, UniqueIDType, ALPN,
};
use pingora::proxy::Session;
use pingora::server::ShutdownWatch;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::config::ConnectionLimits;
use crate::error::BridgeError;
use crate::metrics::Metrics;

mod framing;

/// Largest request header accepted (Codex sends about 1 KiB).
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Most header lines accepted (request line included).
pub const MAX_HEADER_LINES: usize = 200;
/// How long a refused connection is read (and its bytes discarded) after its `503`, so the
/// client's request does not turn the close into a reset that loses the answer.
const REFUSAL_LINGER: Duration = Duration::from_millis(500);
/// Most refused connections lingering at once; past that, a refused connection is closed as
/// soon as its `503` is written, so a flood of connections holds no memory for the linger.
const MAX_LINGERING_REFUSALS: usize = 64;

/// Pingora's HTTP service (`A`), with the connection bounds in front.
pub struct ConnectionGuard<A> {
    app: Arc<A>,
    limits: ConnectionLimits,
    open: Arc<AtomicUsize>,
    /// Refused connections being read before their close ([`MAX_LINGERING_REFUSALS`]).
    lingering: Arc<AtomicUsize>,
    metrics: Arc<Metrics>,
}

impl<A> ConnectionGuard<A> {
    /// Wraps `app` (Pingora's HTTP service) so every connection it is handed is first held to
    /// `limits`; refusals are counted in `metrics`. No connection is open yet.
    pub fn new(app: A, limits: ConnectionLimits, metrics: Arc<Metrics>) -> Self {
        ConnectionGuard {
            app: Arc::new(app),
            limits,
            open: Arc::new(AtomicUsize::new(0)),
            lingering: Arc::new(AtomicUsize::new(0)),
            metrics,
        }
    }
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for ConnectionGuard<A> {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        // A connection handed back for reuse is already guarded (and counted).
        if stream.as_any().is::<GuardedStream>() {
            return self.app.process_new(stream, shutdown).await;
        }
        let Some(slot) = Slot::take(&self.open, self.limits.max_connections) else {
            self.metrics.refused_connection("connection_cap");
            let linger = Slot::take(&self.lingering, MAX_LINGERING_REFUSALS);
            refuse_over_cap(stream, self.limits.max_connections, linger).await;
            return None;
        };
        let guarded = GuardedStream::new(stream, slot, self.limits, self.metrics.clone());
        self.app.process_new(Box::new(guarded), shutdown).await
    }

    async fn cleanup(&self) {
        self.app.cleanup().await;
    }
}

/// The bounds Pingora enforces itself, set on each request's session (from the
/// `request_filter` hook): the idle keep-alive time-out, the longest silence while a body is
/// read (then 408), and pipelined requests answered in order rather than dropped.
///
/// The idle time-out only applies where the client asked for keep-alive: Pingora's
/// `set_keepalive` honours `Connection: close` but not HTTP/1.0's default of closing, so a
/// 1.0 request without `Connection: keep-alive` (whose keep-alive Pingora has already turned
/// off when it read the header) is left to close after its answer.
pub fn apply_to_session(session: &mut Session, limits: &ConnectionLimits) {
    if session.get_keepalive().is_some() {
        session.set_keepalive(Some(limits.idle_timeout.as_secs()));
    }
    session.set_read_timeout(Some(limits.body_timeout));
    session.set_pipelining_enabled(true);
}

/// One of a bounded number of places (a connection under `max_connections`, a lingering
/// refusal); freed when dropped.
#[derive(Debug)]
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(open: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
        open.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < max).then_some(n + 1)
        })
        .ok()
        .map(|_| Slot(open.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Writes the `503` to a connection over the cap and closes it — after a short linger when a
/// lingering place (`linger`) was free.
async fn refuse_over_cap(mut stream: Stream, max: usize, linger: Option<Slot>) {
    let error = BridgeError::TooManyConnections { max };
    let _ = stream.write_all(&raw_answer(&error)).await;
    let _ = stream.flush().await;
    if linger.is_some() {
        // Read what the client sent meanwhile, so closing does not reset the connection under
        // the answer; then close.
        let mut sink = [0u8; 1024];
        let _ = tokio::time::timeout(REFUSAL_LINGER, async {
            while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
    }
    Shutdown::shutdown(stream.as_mut()).await;
}

/// A whole HTTP/1.1 answer carrying `error`, for writing below Pingora (the connection closes).
fn raw_answer(error: &BridgeError) -> Vec<u8> {
    let body = error.body();
    let status = error.status();
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
        .unwrap_or("Error");
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

/// Where the connection is in its request/response cycle, as seen from its bytes.
enum Phase {
    /// Reading a request header, which must be complete by the deadline.
    Header(HeaderProgress),
    /// The header is complete; the request is being handled (body, upstream, answer).
    Request,
    /// A response was written; the next request has not started.
    Idle,
    /// A `101 Switching Protocols` was written (the WebSocket of `/v1/responses`): the bytes
    /// that follow are no longer HTTP, and their own protocol bounds them (`ws_session`).
    Upgraded,
}

/// What is known about the header being read.
struct HeaderProgress {
    deadline: Pin<Box<Sleep>>,
    /// The header's bytes so far (at most [`MAX_HEADER_BYTES`]), checked by [`framing`] once
    /// complete.
    header: Vec<u8>,
    /// The last bytes seen, to find `\r\n\r\n` across reads.
    tail: u32,
    lines: usize,
}

impl HeaderProgress {
    fn new(timeout: Duration) -> Self {
        HeaderProgress {
            deadline: Box::pin(tokio::time::sleep_until(Instant::now() + timeout)),
            header: Vec::new(),
            tail: 0,
            lines: 0,
        }
    }

    /// Scans newly read bytes, keeping those that belong to the header.
    fn scan(&mut self, data: &[u8]) -> HeaderScan {
        for (at, &byte) in data.iter().enumerate() {
            self.tail = (self.tail << 8) | u32::from(byte);
            if byte == b'\n' {
                if self.tail == u32::from_be_bytes(*b"\r\n\r\n")
                    || self.tail & 0xFFFF == u32::from(u16::from_be_bytes(*b"\n\n"))
                {
                    self.header.extend_from_slice(&data[..=at]);
                    return HeaderScan::Complete;
                }
                self.lines += 1;
            }
            if self.header.len() + at >= MAX_HEADER_BYTES || self.lines > MAX_HEADER_LINES {
                return HeaderScan::TooLarge;
            }
        }
        self.header.extend_from_slice(data);
        HeaderScan::Partial
    }
}

enum HeaderScan {
    Partial,
    Complete,
    TooLarge,
}

/// A client connection under the header deadline and size bounds (see the module doc).
pub struct GuardedStream {
    inner: Stream,
    phase: Phase,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
    /// An answer being written below Pingora before the connection fails (408, 431).
    refusal: Option<(Vec<u8>, usize)>,
    /// The header being read is the connection's first, so its bytes start at a read.
    first_request: bool,
    _slot: Slot,
}

impl std::fmt::Debug for GuardedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedStream")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl GuardedStream {
    fn new(inner: Stream, slot: Slot, limits: ConnectionLimits, metrics: Arc<Metrics>) -> Self {
        GuardedStream {
            inner,
            phase: Phase::Header(HeaderProgress::new(limits.header_timeout)),
            limits,
            metrics,
            refusal: None,
            first_request: true,
            _slot: slot,
        }
    }

    /// A response is being written: the request is answered and the next one has not begun —
    /// unless this is an informational `1xx` (`100 Continue`), after which the body follows.
    fn answered(&mut self, data: &[u8]) {
        if matches!(self.phase, Phase::Upgraded) {
            return;
        }
        let status = (data.len() > 12 && data.starts_with(b"HTTP/1.")).then(|| &data[9..12]);
        if status == Some(b"101") {
            self.phase = Phase::Upgraded;
            return;
        }
        let informational = status.is_some_and(|s| s[0] == b'1');
        if !(informational && matches!(self.phase, Phase::Request)) {
            self.phase = Phase::Idle;
        }
    }

    /// Starts refusing the request with `error`: the answer is written (best effort, the
    /// connection is being given up) and every later read fails with `kind`.
    fn refuse(&mut self, error: &BridgeError, reason: &'static str) {
        if self.refusal.is_none() {
            self.metrics.refused_connection(reason);
            self.refusal = Some((raw_answer(error), 0));
        }
    }

    /// Writes what is left of a refusal; `Ready` once it is written or cannot be.
    fn poll_refusal(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some((answer, written)) = self.refusal.as_mut() else {
            return Poll::Ready(());
        };
        while *written < answer.len() {
            match Pin::new(&mut self.inner).poll_write(cx, &answer[*written..]) {
                Poll::Ready(Ok(n)) if n > 0 => *written += n,
                Poll::Ready(_) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
        let _ = Pin::new(&mut self.inner).poll_flush(cx);
        Poll::Ready(())
    }
}

fn refused(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, what.to_owned())
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.refusal.is_some() {
            return match this.poll_refusal(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(()) => Poll::Ready(Err(refused("request refused by the bridge"))),
            };
        }
        if let Phase::Header(progress) = &mut this.phase {
            if progress.deadline.as_mut().poll(cx).is_ready() {
                let timeout = this.limits.header_timeout.as_secs();
                this.refuse(
                    &BridgeError::HeaderTimeout { secs: timeout },
                    "header_timeout",
                );
                return Pin::new(this).poll_read(cx, buf);
            }
        }
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &result {
            let new = &buf.filled()[before..];
            if new.is_empty() {
                return result;
            }
            if matches!(this.phase, Phase::Idle) {
                this.phase = Phase::Header(HeaderProgress::new(this.limits.header_timeout));
                this.first_request = false;
            }
            if let Phase::Header(progress) = &mut this.phase {
                match progress.scan(new) {
                    HeaderScan::Partial => {}
                    HeaderScan::Complete => match framing::check(&progress.header) {
                        Ok(()) => this.phase = Phase::Request,
                        // A later request whose bytes began before this read (pipelined behind
                        // a body, so Pingora already holds its start): what was seen here is
                        // not a whole header, and Pingora parses the real one.
                        Err(_)
                            if !this.first_request
                                && !framing::starts_a_request(&progress.header) =>
                        {
                            this.phase = Phase::Request;
                        }
                        Err(why) => {
                            buf.set_filled(before);
                            this.refuse(&BridgeError::BadFraming(why), "bad_framing");
                            return Pin::new(this).poll_read(cx, buf);
                        }
                    },
                    HeaderScan::TooLarge => {
                        buf.set_filled(before);
                        this.refuse(&BridgeError::HeaderTooLarge, "header_too_large");
                        return Pin::new(this).poll_read(cx, buf);
                    }
                }
            }
        }
        result
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.answered(data);
        Pin::new(&mut this.inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
            this.answered(first);
        }
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

// Everything Pingora asks of a connection, answered by the connection itself.

#[async_trait]
impl Shutdown for GuardedStream {
    async fn shutdown(&mut self) {
        Shutdown::shutdown(self.inner.as_mut()).await;
    }
}

impl UniqueID for GuardedStream {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for GuardedStream {
    fn get_ssl(&self) -> Option<&TlsRef> {
        self.inner.get_ssl()
    }

    fn get_ssl_digest(&self) -> Option<Arc<SslDigest>> {
        self.inner.get_ssl_digest()
    }

    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for GuardedStream {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }

    fn get_read_pending_time(&self) -> Duration {
        self.inner.get_read_pending_time()
    }

    fn get_write_pending_time(&self) -> Duration {
        self.inner.get_write_pending_time()
    }
}

impl GetProxyDigest for GuardedStream {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }

    fn set_proxy_digest(&mut self, digest: ProxyDigest) {
        self.inner.set_proxy_digest(digest);
    }
}

impl GetSocketDigest for GuardedStream {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }

    fn set_socket_digest(&mut self, digest: SocketDigest) {
        self.inner.set_socket_digest(digest);
    }
}

#[async_trait]
impl Peek for GuardedStream {
    async fn try_peek(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        self.inner.try_peek(buf).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_all(chunks: &[&[u8]]) -> Vec<&'static str> {
        let mut progress = HeaderProgress::new(Duration::from_secs(10));
        chunks
            .iter()
            .map(|chunk| match progress.scan(chunk) {
                HeaderScan::Partial => "partial",
                HeaderScan::Complete => "complete",
                HeaderScan::TooLarge => "too large",
            })
            .collect()
    }

    #[tokio::test]
    async fn a_header_end_is_found_across_reads() {
        assert_eq!(
            scan_all(&[b"GET / HTTP/1.1\r\nHost: x\r", b"\n\r", b"\nbody"]),
            ["partial", "partial", "complete"]
        );
        assert_eq!(scan_all(&[b"GET / HTTP/1.1\nHost: x\n\n"]), ["complete"]);
    }

    #[tokio::test]
    async fn a_header_over_the_bounds_is_too_large() {
        let long = vec![b'a'; MAX_HEADER_BYTES + 1];
        assert_eq!(
            scan_all(&[b"GET / HTTP/1.1\r\n", &long]),
            ["partial", "too large"]
        );
        let many = b"x: y\r\n".repeat(MAX_HEADER_LINES + 1);
        assert_eq!(
            scan_all(&[b"GET / HTTP/1.1\r\n", &many]),
            ["partial", "too large"]
        );
    }

    #[test]
    fn slots_are_capped_and_freed() {
        let open = Arc::new(AtomicUsize::new(0));
        let first = Slot::take(&open, 2).expect("first");
        let _second = Slot::take(&open, 2).expect("second");
        assert!(Slot::take(&open, 2).is_none());
        drop(first);
        assert!(Slot::take(&open, 2).is_some());
    }

    #[test]
    fn a_raw_answer_is_a_whole_http_response() {
        let answer = raw_answer(&BridgeError::HeaderTooLarge);
        let text = String::from_utf8(answer).expect("utf-8");
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert!(json["error"]["message"].as_str().is_some());
    }
}
