//! Every other `/v1/*` request (models, `POST /v1/chat/completions`, …) goes to the upstream
//! through Pingora's proxy path unchanged, except: the path is rebased onto the upstream's
//! base path, `Host` names the upstream, client credentials are removed, and the upstream's
//! own key (if configured) is added. Errors never expose Pingora's internal error text.
//!
//! A pooled connection the upstream closes just as it is reused (its idle time-out racing the
//! request) is replaced, the request sent again on another connection, by the same rule as the
//! bridge's own client ([`crate::upstream_client`], docs/ARCHITECTURE.md "Decisions, and why":
//! never pay twice): only when the upstream provably never read it ([`may_send_again`]).

use std::time::Instant;

use pingora::http::RequestHeader;
use pingora::{Error, ErrorSource, ErrorType};
use serde_json::json;

use super::hygiene::{self, CREDENTIAL_HEADERS};
use crate::config::Upstream;
use crate::error::BridgeError;
use crate::upstream_client::closed_unread;

/// At most this many times one pass-through request is sent again after a pooled connection
/// closed unread (the next pooled connection may be closing too).
pub const MAX_REPLACED_CONNECTIONS: usize = 2;

/// Pingora's attempts per pass-through request (`ServerConf::max_retries`): one per upstream
/// of a team (failover on a refused connection), plus the replaced pooled connections.
pub fn max_attempts(upstreams: usize) -> usize {
    upstreams.max(1) + MAX_REPLACED_CONNECTIONS
}

/// What is known of a failed pass-through attempt besides Pingora's error.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    /// The connection came from the pool (a fresh one that fails is a real failure).
    pub reused: bool,
    /// Pingora still holds the whole request body read so far (its retry buffer, 64 KiB, was
    /// not exceeded), so the request can be sent again as it was.
    pub body_kept: bool,
    /// An answer header came from the upstream, or one went to the client.
    pub answered: bool,
    /// When the request header was written upstream.
    pub written_at: Option<Instant>,
    /// How often this request was already sent again.
    pub replaced: usize,
}

/// True when a failed pass-through attempt may be sent again on another connection: a pooled
/// connection that failed while the request was written, or closed before a single byte of
/// answer within a second of it (the upstream never read the request, so it cannot have
/// processed or charged it); nothing answered yet; the body still at hand; bounded. Any other
/// failure — an upstream that may have processed the request — is reported, never repeated.
pub fn may_send_again(error: &Error, attempt: &Attempt) -> bool {
    let unread = match (error.etype(), attempt.written_at) {
        (ErrorType::WriteError, _) => true,
        (_, Some(written)) => closed_unread(error, written),
        (_, None) => false,
    };
    error.esource() == &ErrorSource::Upstream
        && attempt.reused
        && attempt.body_kept
        && !attempt.answered
        && attempt.replaced < MAX_REPLACED_CONNECTIONS
        && unread
}

/// What a pass-through request must be before anything is proxied: a `POST` carries JSON, and
/// a declared body is at most `limit` bytes (a chunked one is counted as it streams by).
pub fn check_request(request: &RequestHeader, limit: usize) -> Result<(), BridgeError> {
    if request.method == "POST" {
        hygiene::require_json_content_type(&request.headers)?;
    }
    match body_too_large(request, limit) {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// A declared pass-through body over the limit, refused before anything is proxied.
fn body_too_large(request: &RequestHeader, limit: usize) -> Option<BridgeError> {
    let size = request
        .headers
        .get("content-length")?
        .to_str()
        .ok()?
        .trim()
        .parse::<usize>()
        .ok()?;
    (size > limit).then_some(BridgeError::BodyTooLarge { size, limit })
}

/// Rewrites the request header that goes upstream.
pub fn rewrite_request(upstream: &Upstream, request: &mut RequestHeader) -> pingora::Result<()> {
    let path_and_query = request
        .uri
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let target = upstream.path_for(&path_and_query);
    let uri = target
        .parse::<http::Uri>()
        .map_err(|_| Error::explain(ErrorType::InvalidHTTPHeader, "bad upstream path"))?;
    request.set_uri(uri);
    request.insert_header("host", upstream.host_header())?;
    for name in CREDENTIAL_HEADERS {
        request.remove_header(*name);
    }
    if let Some(key) = &upstream.api_key {
        request.insert_header("authorization", format!("Bearer {key}"))?;
    }
    Ok(())
}

/// The status and JSON body for a failed pass-through, from Pingora's error — phrased for the
/// user, with the upstream URL as configured and never the internal error chain.
pub fn failure_answer(error: &Error, upstream_url: &str) -> Option<(u16, Vec<u8>)> {
    let (status, message) = match (error.esource(), error.etype()) {
        (_, ErrorType::HTTPStatus(code)) => (*code, format!("request failed with HTTP {code}")),
        (ErrorSource::Downstream, ErrorType::ReadError | ErrorType::WriteError | ErrorType::ConnectionClosed) => {
            return None
        }
        (ErrorSource::Downstream, ErrorType::ReadTimedout) => (
            408,
            "the request body stopped arriving (server.body_timeout_secs); send the whole body the request announces".to_owned(),
        ),
        (ErrorSource::Downstream, _) => (400, "the request could not be read".to_owned()),
        (_, ErrorType::ConnectTimedout | ErrorType::ReadTimedout | ErrorType::WriteTimedout) => (
            504,
            format!("the upstream at {upstream_url} did not answer in time"),
        ),
        (ErrorSource::Upstream, kind) => (
            502,
            format!(
                "cannot reach the upstream at {upstream_url} ({}); is ClawRouter running? (`clawrouter-codex doctor`)",
                kind.as_str()
            ),
        ),
        _ => (500, "internal error in the bridge".to_owned()),
    };
    let body = json!({"error": {"message": message, "type": "upstream_error", "param": null, "code": null}});
    Some((status, body.to_string().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(bytes_read: usize) -> Box<Error> {
        let context = format!("while reading response headers, bytes already read: {bytes_read}");
        let mut e = Error::explain(ErrorType::ConnectionClosed, context);
        e.esource = ErrorSource::Upstream;
        e
    }

    fn reused() -> Attempt {
        Attempt {
            reused: true,
            body_kept: true,
            answered: false,
            written_at: Some(Instant::now()),
            replaced: 0,
        }
    }

    #[test]
    fn only_a_request_the_upstream_never_read_is_sent_again() {
        let mut write_failed = Error::explain(ErrorType::WriteError, "while writing");
        write_failed.esource = ErrorSource::Upstream;
        assert!(may_send_again(&write_failed, &reused()));
        assert!(may_send_again(&closed(0), &reused()));
        // The upstream had begun to answer: it read the request.
        assert!(!may_send_again(&closed(12), &reused()));
        let never = [
            Attempt {
                reused: false,
                ..reused()
            },
            Attempt {
                body_kept: false,
                ..reused()
            },
            Attempt {
                answered: true,
                ..reused()
            },
            Attempt {
                written_at: None,
                ..reused()
            },
            Attempt {
                replaced: MAX_REPLACED_CONNECTIONS,
                ..reused()
            },
        ];
        for attempt in never {
            assert!(!may_send_again(&closed(0), &attempt), "{attempt:?}");
        }
        let mut client_gone = closed(0);
        client_gone.esource = ErrorSource::Downstream;
        assert!(!may_send_again(&client_gone, &reused()));
    }
}
