//! Web searches run by the bridge (the loop lives in [`super::responses`]; the shapes in
//! `translate::web_search`).
//!
//! - **When it is on:** per request, the `x-web-search: 1` header (what `websearch on` puts on
//!   the Codex provider), or `web_search.enabled` in the config (env `WEB_SEARCH=1`); a header
//!   `x-web-search: 0` turns it off for that request. It also needs Codex to have offered its
//!   hosted `web_search` tool (Codex's own `web_search = "disabled"` is respected).
//! - **How a search runs:** `POST {upstream}/exa/search` with `{"query","numResults"}` on the
//!   bridge's pooled upstream client — on ClawRouter a wallet-paid pass-through to BlockRun's
//!   Exa. The searches of one model call run concurrently, each bounded by
//!   `web_search.timeout_secs`. A search that fails (error status, 402, time-out, not JSON,
//!   nothing found) becomes a tool result saying so, and the answer goes on.

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use http::HeaderMap;

use crate::config::Config;
use crate::translate::upstream_error::{self, ErrorHeaders};
use crate::translate::web_search::{self as search, SearchCall};
use crate::upstream_client::{TransportError, UpstreamClient};

/// The request header that turns web search on (`1`) or off (`0`) for one request.
pub const HEADER: &str = "x-web-search";

/// Whether the bridge runs web searches for a request with these headers.
pub fn is_on(config: &Config, headers: &HeaderMap) -> bool {
    match headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
    {
        Some("1" | "true" | "on" | "yes") => true,
        Some("0" | "false" | "off" | "no") => false,
        _ => config.web_search.enabled,
    }
}

/// Runs `calls` concurrently; for each, whether it worked and the tool result for the model.
pub async fn run(
    client: &UpstreamClient,
    calls: &[SearchCall],
    timeout: Duration,
) -> Vec<(bool, String)> {
    join_all(calls.iter().map(|call| run_one(client, call, timeout))).await
}

async fn run_one(client: &UpstreamClient, call: &SearchCall, timeout: Duration) -> (bool, String) {
    if call.query.is_empty() {
        return (false, search::failure_text("", "no query was given"));
    }
    let path = client.upstream().path_for("/v1/exa/search");
    let headers = [
        ("content-type", "application/json"),
        ("accept", "application/json"),
        (
            "user-agent",
            concat!("clawrouter-codex/", env!("CARGO_PKG_VERSION")),
        ),
    ];
    let body = Bytes::from(search::request_body(call));
    let sent = tokio::time::timeout(timeout, client.send("POST", &path, &headers, Some(body)));
    let reason = match sent.await {
        Err(_) => format!("no answer within {} s", timeout.as_secs()),
        Ok(Err(TransportError::TimedOut)) => {
            "the search endpoint did not answer in time".to_owned()
        }
        Ok(Err(TransportError::Connect(what) | TransportError::Broken(what))) => {
            format!("the search endpoint could not be reached ({what})")
        }
        Ok(Err(TransportError::TooLarge)) => "the answer was too large".to_owned(),
        Ok(Ok(reply)) if (200..300).contains(&reply.status) => {
            match search::read_results(&reply.body) {
                Ok(hits) => {
                    log::debug!("web search: {} result(s)", hits.len());
                    return (true, search::results_text(&call.query, &hits));
                }
                Err(why) => why,
            }
        }
        Ok(Ok(reply)) => {
            let failure = upstream_error::classify_status(
                reply.status,
                &ErrorHeaders::default(),
                &reply.body,
                &client.upstream().url,
            );
            failure.message
        }
    };
    log::info!("web search failed: {reason}");
    (false, search::failure_text(&call.query, &reason))
}
