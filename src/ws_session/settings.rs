//! `websocket:` in `conf/bridge.yaml`: whether Codex's WebSocket transport is served on
//! `/v1/responses`, and its bounds (message size, conversation memory, idle and lifetime).

use std::time::Duration;

use serde::Deserialize;

use crate::config::ConfigError;

/// `websocket:` as written in the YAML; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWebSocket {
    /// Serve the WebSocket transport (default `true`); `false` answers an upgrade with 426 and
    /// Codex uses HTTP at once.
    pub enabled: Option<bool>,
    /// Largest message a client may send (default: `limits.max_body_bytes`).
    pub max_message_bytes: Option<usize>,
    /// Most bytes of conversation one connection keeps for `previous_response_id` (default
    /// 16 MiB); a bigger conversation is not kept, and Codex sends its whole input again.
    pub max_conversation_bytes: Option<usize>,
    /// Most bytes of conversation all connections keep together (default 256 MiB).
    pub max_total_bytes: Option<usize>,
    /// A connection with no request for this long is closed (default 300 s; Codex reconnects).
    pub idle_timeout_secs: Option<u64>,
    /// A connection is closed after this long, between responses (default 3600 s; Codex knows
    /// `websocket_connection_limit_reached` and reconnects).
    pub max_lifetime_secs: Option<u64>,
}

/// The validated `websocket:` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebSocketSettings {
    /// Whether an upgrade on `/v1/responses` is accepted.
    pub enabled: bool,
    /// Largest client message (and frame), in bytes.
    pub max_message_bytes: usize,
    /// Most conversation bytes kept per connection.
    pub max_conversation_bytes: usize,
    /// Most conversation bytes kept by all connections together.
    pub max_total_bytes: usize,
    /// Longest wait for the next request on an open connection.
    pub idle_timeout: Duration,
    /// Longest life of one connection.
    pub max_lifetime: Duration,
}

impl WebSocketSettings {
    /// The defaults, with messages as large as request bodies may be.
    pub fn defaults(max_body_bytes: usize) -> Self {
        WebSocketSettings {
            enabled: true,
            max_message_bytes: max_body_bytes,
            max_conversation_bytes: 16 * 1024 * 1024,
            max_total_bytes: 256 * 1024 * 1024,
            idle_timeout: Duration::from_secs(300),
            max_lifetime: Duration::from_secs(3600),
        }
    }

    /// `file` checked against the ranges and applied over the defaults.
    pub fn from_file(
        file: Option<FileWebSocket>,
        max_body_bytes: usize,
        origin: &str,
    ) -> Result<Self, ConfigError> {
        let file = file.unwrap_or_default();
        let defaults = Self::defaults(max_body_bytes);
        let invalid = |key: &'static str, message: String| ConfigError::Invalid {
            key,
            origin: origin.to_owned(),
            message,
        };
        let bytes = |value: Option<usize>, default: usize, key: &'static str| match value {
            None => Ok(default),
            Some(n) if n >= 1024 => Ok(n),
            Some(n) => Err(invalid(key, format!("{n} is too small; use at least 1024"))),
        };
        let secs = |value: Option<u64>, default: Duration, key: &'static str| match value {
            None => Ok(default),
            Some(s) if (1..=86_400).contains(&s) => Ok(Duration::from_secs(s)),
            Some(s) => Err(invalid(
                key,
                format!("{s} is out of range; use 1 to 86400 seconds"),
            )),
        };
        let settings = WebSocketSettings {
            enabled: file.enabled.unwrap_or(defaults.enabled),
            max_message_bytes: bytes(
                file.max_message_bytes,
                defaults.max_message_bytes,
                "websocket.max_message_bytes",
            )?,
            max_conversation_bytes: bytes(
                file.max_conversation_bytes,
                defaults.max_conversation_bytes,
                "websocket.max_conversation_bytes",
            )?,
            max_total_bytes: bytes(
                file.max_total_bytes,
                defaults.max_total_bytes,
                "websocket.max_total_bytes",
            )?,
            idle_timeout: secs(
                file.idle_timeout_secs,
                defaults.idle_timeout,
                "websocket.idle_timeout_secs",
            )?,
            max_lifetime: secs(
                file.max_lifetime_secs,
                defaults.max_lifetime,
                "websocket.max_lifetime_secs",
            )?,
        };
        if settings.max_conversation_bytes > settings.max_total_bytes {
            return Err(invalid(
                "websocket.max_conversation_bytes",
                "must not exceed websocket.max_total_bytes".to_owned(),
            ));
        }
        Ok(settings)
    }
}
