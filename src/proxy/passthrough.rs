//! Every other `/v1/*` request (models, `POST /v1/chat/completions`, …) goes to the upstream
//! through Pingora's proxy path unchanged, except: the path is rebased onto the upstream's
//! base path, `Host` names the upstream, client credentials are removed, and the upstream's
//! own key (if configured) is added. Errors never expose Pingora's internal error text.

use pingora::http::RequestHeader;
use pingora::{Error, ErrorSource, ErrorType};
use serde_json::json;

use super::hygiene::{self, CREDENTIAL_HEADERS};
use crate::config::Upstream;
use crate::error::BridgeError;

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
