//! Errors the bridge itself answers with (bad client input, refused requests, limits), as
//! opposed to upstream failures (`translate::upstream_error`). Each has an HTTP status and an
//! OpenAI-style JSON body whose message says what is wrong and how to fix it.

use serde_json::json;

use crate::excerpt;
use crate::outcome::Outcome;

/// A request the bridge refuses before (or instead of) calling the upstream.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The body is not a valid request: the message, and the field it names (`param`).
    #[error("{0}")]
    InvalidRequest(String, Option<String>),
    /// The request is not well-formed HTTP/1.1 (400, the connection closes): what is wrong
    /// with its framing or header, with at most an excerpt of the offending text.
    #[error("malformed HTTP request: {0}")]
    BadFraming(String),
    /// The body is over `limits.max_body_bytes` (413).
    #[error("request body is {size} bytes, over the limit of {limit} bytes (limits.max_body_bytes in the bridge config)")]
    BodyTooLarge {
        /// Bytes the body has (declared, or read so far), after decoding.
        size: usize,
        /// `limits.max_body_bytes`.
        limit: usize,
    },
    /// A `Content-Encoding` other than identity, gzip or zstd (415).
    #[error("unsupported Content-Encoding {}: send identity, gzip or zstd", excerpt::quoted(.0))]
    UnsupportedEncoding(String),
    /// The body does not decode with its declared encoding (400).
    #[error("request body could not be decoded as {encoding}: {detail}")]
    BadEncoding {
        /// `gzip` or `zstd`.
        encoding: &'static str,
        /// What the decoder said.
        detail: String,
    },
    /// A body that is not JSON where JSON is required (415).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A foreign `Origin`, or a dashboard change that does not prove where it comes from (403).
    #[error("{0}")]
    Forbidden(String),
    /// The bearer token is missing or wrong beyond loopback (401).
    #[error("missing or wrong bearer token: this bridge listens beyond loopback and requires the auth_token from its config")]
    Unauthorized,
    /// `Host` names a server other than the bridge (DNS rebinding) (421).
    #[error("{0}")]
    MisdirectedHost(String),
    /// No endpoint at this path (404).
    #[error("no such endpoint: {method} {path} (the bridge serves /v1/responses, /v1/*, /health, /api/tags, /api/version)")]
    NotFound {
        /// The request's method.
        method: String,
        /// The request's path.
        path: String,
    },
    /// A WebSocket upgrade on `/v1/responses` while the bridge's WebSocket transport is off
    /// (`websocket.enabled: false`), or a POST asking to upgrade (426): Codex then falls back to
    /// HTTP at once.
    #[error("WebSocket is turned off on /v1/responses (websocket.enabled: false in the bridge config): Codex uses HTTP; `clawrouter-codex setup` sets supports_websockets = false on the provider")]
    WebSocketUnsupported,
    /// Something inside the bridge failed (no random number for a nonce, a bug) (500).
    #[error("internal error in the bridge: {0}")]
    Internal(String),
    /// A method the endpoint does not take (405).
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed {
        /// The request's method.
        method: String,
        /// The request's path.
        path: String,
    },
    /// The body went silent for `server.body_timeout_secs` (408).
    #[error("the request body stopped arriving: {received} bytes came{expected}, then nothing for {secs} s (server.body_timeout_secs); send the whole body the request announces")]
    BodyTimeout {
        /// Body bytes received before the silence.
        received: usize,
        /// ` of the N announced` when the request declared its length.
        expected: String,
        /// `server.body_timeout_secs`.
        secs: u64,
    },
    /// The request header was not complete in time (408).
    #[error("the request header was not complete within {secs} s (server.header_timeout_secs); send the whole header at once")]
    HeaderTimeout {
        /// `server.header_timeout_secs`.
        secs: u64,
    },
    /// The request header is over the size or line limit (431).
    #[error("the request header is too large (over {} bytes or {} lines); send fewer or smaller headers", crate::connection_guard::MAX_HEADER_BYTES, crate::connection_guard::MAX_HEADER_LINES)]
    HeaderTooLarge,
    /// The client connection limit is reached (503).
    #[error("the bridge has {max} client connections open, its limit (server.max_connections); close idle connections or raise the limit")]
    TooManyConnections {
        /// `server.max_connections`.
        max: usize,
    },
}

impl BridgeError {
    /// The HTTP status the client gets.
    pub fn status(&self) -> u16 {
        match self {
            BridgeError::InvalidRequest(..)
            | BridgeError::BadEncoding { .. }
            | BridgeError::BadFraming(_) => 400,
            BridgeError::Unauthorized => 401,
            BridgeError::Forbidden(_) => 403,
            BridgeError::NotFound { .. } => 404,
            BridgeError::MethodNotAllowed { .. } => 405,
            BridgeError::BodyTimeout { .. } | BridgeError::HeaderTimeout { .. } => 408,
            BridgeError::BodyTooLarge { .. } => 413,
            BridgeError::UnsupportedEncoding(_) | BridgeError::UnsupportedMediaType(_) => 415,
            BridgeError::MisdirectedHost(_) => 421,
            BridgeError::WebSocketUnsupported => 426,
            BridgeError::HeaderTooLarge => 431,
            BridgeError::Internal(_) => 500,
            BridgeError::TooManyConnections { .. } => 503,
        }
    }

    /// A short label for logs and metrics.
    pub fn outcome(&self) -> Outcome {
        match self {
            BridgeError::InvalidRequest(..) => Outcome::InvalidRequest,
            BridgeError::BadFraming(_) => Outcome::BadFraming,
            BridgeError::BodyTooLarge { .. } => Outcome::BodyTooLarge,
            BridgeError::UnsupportedEncoding(_) | BridgeError::BadEncoding { .. } => {
                Outcome::BadEncoding
            }
            BridgeError::UnsupportedMediaType(_) => Outcome::BadContentType,
            BridgeError::Forbidden(_) => Outcome::Forbidden,
            BridgeError::Unauthorized => Outcome::Unauthorized,
            BridgeError::MisdirectedHost(_) => Outcome::BadHost,
            BridgeError::NotFound { .. } => Outcome::NotFound,
            BridgeError::WebSocketUnsupported => Outcome::WebSocket,
            BridgeError::MethodNotAllowed { .. } => Outcome::MethodNotAllowed,
            BridgeError::BodyTimeout { .. } | BridgeError::HeaderTimeout { .. } => {
                Outcome::ClientTimeout
            }
            BridgeError::HeaderTooLarge => Outcome::HeaderTooLarge,
            BridgeError::TooManyConnections { .. } => Outcome::Overloaded,
            BridgeError::Internal(_) => Outcome::Internal,
        }
    }

    /// `{"error":{"message","type","param","code"}}`, the shape OpenAI clients parse.
    pub fn body(&self) -> Vec<u8> {
        let error_type = match self.status() {
            401 => "authentication_error",
            403 | 421 => "permission_error",
            404 => "not_found_error",
            500 | 503 => "server_error",
            _ => "invalid_request_error",
        };
        // Every message quotes client values as excerpts already; the bounds are a last net.
        let param = match self {
            BridgeError::InvalidRequest(_, param) => param
                .as_deref()
                .map(|p| excerpt::bounded(p, excerpt::VALUE_CHARS * 4)),
            _ => None,
        };
        let message = excerpt::bounded(&self.to_string(), excerpt::MESSAGE_CHARS);
        json!({"error": {"message": message, "type": error_type, "param": param, "code": self.outcome().as_str()}})
            .to_string()
            .into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_openai_shaped_and_name_the_fix() {
        let err = BridgeError::BodyTooLarge { size: 10, limit: 5 };
        assert_eq!(err.status(), 413);
        let body: serde_json::Value = serde_json::from_slice(&err.body()).expect("json");
        assert!(body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("limits.max_body_bytes")));
        let err = BridgeError::InvalidRequest("bad".into(), Some("input[0]".into()));
        let body: serde_json::Value = serde_json::from_slice(&err.body()).expect("json");
        assert_eq!(body["error"]["param"], "input[0]");
    }
}
