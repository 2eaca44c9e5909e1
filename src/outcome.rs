//! How a request ended, as one closed set of labels: the `outcome=` of the access log line and
//! the label metrics count by. Set by whichever part of the bridge decided the ending.

use std::fmt;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outcome {
    /// Answered in full.
    #[default]
    Ok,
    /// Still streaming (never logged unless the request ends abruptly).
    InProgress,
    /// The model stopped at its output limit (`response.incomplete`).
    Incomplete,
    /// The provider's content filter stopped the answer.
    ContentFilter,
    /// The upstream finished its answer with an error.
    UpstreamError,
    /// The upstream's stream ended without a finish.
    UpstreamClosed,
    /// Wallet empty or payment rejected.
    Payment,
    /// A spending cap of the upstream was reached.
    SpendingCap,
    /// Rate limited by the upstream.
    RateLimited,
    /// The conversation no longer fits the model.
    ContextLength,
    /// The upstream refused the request (other 4xx).
    UpstreamRejected,
    /// The upstream is down, failing or answered garbage.
    UpstreamUnavailable,
    /// The upstream did not answer in time.
    UpstreamTimeout,
    /// The client went away before the answer was complete.
    ClientGone,
    /// A pass-through request failed while being proxied.
    ProxyError,
    /// The request body or its fields are malformed (400).
    InvalidRequest,
    /// The request is not well-formed HTTP/1.1: broken framing or header syntax (400).
    BadFraming,
    /// The request body is over the size limit (413).
    BodyTooLarge,
    /// The request body's `Content-Encoding` is unknown or does not decode.
    BadEncoding,
    /// A JSON endpoint got another content type (415).
    BadContentType,
    /// A browser cross-origin request was refused (403).
    Forbidden,
    /// The auth token was missing or wrong (401).
    Unauthorized,
    /// The `Host` header does not name the bridge (421).
    BadHost,
    /// No such endpoint (404).
    NotFound,
    /// A WebSocket upgrade was refused (426).
    WebSocket,
    /// The endpoint does not take this method (405).
    MethodNotAllowed,
    /// The client was too slow sending its request (408).
    ClientTimeout,
    /// The request header was over the bounds (431).
    HeaderTooLarge,
    /// The bridge was at its connection limit (503).
    Overloaded,
    /// A bug in the bridge (500).
    Internal,
}

impl Outcome {
    /// The label, as written in the log line.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::InProgress => "in_progress",
            Outcome::Incomplete => "incomplete",
            Outcome::ContentFilter => "content_filter",
            Outcome::UpstreamError => "upstream_error",
            Outcome::UpstreamClosed => "upstream_closed",
            Outcome::Payment => "payment",
            Outcome::SpendingCap => "spending_cap",
            Outcome::RateLimited => "rate_limited",
            Outcome::ContextLength => "context_length",
            Outcome::UpstreamRejected => "upstream_rejected",
            Outcome::UpstreamUnavailable => "upstream_unavailable",
            Outcome::UpstreamTimeout => "upstream_timeout",
            Outcome::ClientGone => "client_gone",
            Outcome::ProxyError => "proxy_error",
            Outcome::InvalidRequest => "invalid_request",
            Outcome::BadFraming => "bad_framing",
            Outcome::BodyTooLarge => "body_too_large",
            Outcome::BadEncoding => "bad_encoding",
            Outcome::BadContentType => "bad_content_type",
            Outcome::Forbidden => "forbidden",
            Outcome::Unauthorized => "unauthorized",
            Outcome::BadHost => "bad_host",
            Outcome::NotFound => "not_found",
            Outcome::WebSocket => "websocket",
            Outcome::MethodNotAllowed => "method_not_allowed",
            Outcome::ClientTimeout => "client_timeout",
            Outcome::HeaderTooLarge => "header_too_large",
            Outcome::Overloaded => "overloaded",
            Outcome::Internal => "internal",
        }
    }

    /// True when the upstream answered with a failure (or gave none) after it was called: the
    /// endings a client will retry or report, as opposed to the client's own mistakes.
    pub fn is_upstream_failure(self) -> bool {
        matches!(
            self,
            Outcome::ContentFilter
                | Outcome::UpstreamError
                | Outcome::UpstreamClosed
                | Outcome::Payment
                | Outcome::SpendingCap
                | Outcome::RateLimited
                | Outcome::ContextLength
                | Outcome::UpstreamRejected
                | Outcome::UpstreamUnavailable
                | Outcome::UpstreamTimeout
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
