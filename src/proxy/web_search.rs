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
//! - **Direct mode** pays each search itself (`crate::direct`), under the ledger name
//!   `exa/search`; its caps hold for searches as for model calls.

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use http::HeaderMap;

use crate::config::Config;
use crate::direct::exchange::CallFailure;
use crate::direct::Direct;
use crate::payments::policy::Usdc;
use crate::translate::upstream_error::{self, ErrorHeaders};
use crate::translate::web_search::{self as search, SearchCall};
use crate::upstream_client::{TransportError, UpstreamClient, UpstreamReply};

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

/// How searches are paid: not at all (ClawRouter pays), or by direct mode.
#[derive(Clone, Copy)]
pub struct Payment<'a> {
    /// Direct mode, when on.
    pub direct: Option<&'a Direct>,
    /// Codex's thread (direct mode's thread cap).
    pub thread: Option<&'a str>,
}

/// Runs `calls` concurrently; for each, whether it worked and the tool result for the model;
/// and what direct mode paid for them.
pub async fn run(
    client: &UpstreamClient,
    calls: &[SearchCall],
    timeout: Duration,
    payment: Payment<'_>,
) -> (Vec<(bool, String)>, Option<Usdc>) {
    let done = join_all(
        calls
            .iter()
            .map(|call| run_one(client, call, timeout, payment)),
    )
    .await;
    let paid: u64 = done.iter().filter_map(|(_, paid)| paid.map(|p| p.0)).sum();
    let outcomes = done.into_iter().map(|(outcome, _)| outcome).collect();
    (outcomes, (paid > 0).then_some(Usdc(paid)))
}

async fn run_one(
    client: &UpstreamClient,
    call: &SearchCall,
    timeout: Duration,
    payment: Payment<'_>,
) -> ((bool, String), Option<Usdc>) {
    if call.query.is_empty() {
        return (
            (false, search::failure_text("", "no query was given")),
            None,
        );
    }
    let path = client.upstream().path_for("/v1/exa/search");
    let body = Bytes::from(search::request_body(call));
    let Some(direct) = payment.direct else {
        return (run_unpaid(client, call, timeout, &path, body).await, None);
    };
    let sent = direct.send(client, &path, &HEADERS, body, SEARCH_LABEL, payment.thread);
    let (reason, paid) = match tokio::time::timeout(timeout, sent).await {
        Err(_) => (format!("no answer within {} s", timeout.as_secs()), None),
        Ok(Err(CallFailure::Refused(failure))) => (failure.message, None),
        Ok(Err(CallFailure::Transport(error))) => (transport_reason(error), None),
        Ok(Ok((reply, paid))) => match answered(client, call, reply) {
            Ok(outcome) => return (outcome, paid),
            Err(reason) => (reason, paid),
        },
    };
    log::info!("web search failed: {reason}");
    ((false, search::failure_text(&call.query, &reason)), paid)
}

/// The ledger's name for a paid search.
const SEARCH_LABEL: &str = "exa/search";

const HEADERS: [(&str, &str); 3] = [
    ("content-type", "application/json"),
    ("accept", "application/json"),
    (
        "user-agent",
        concat!("clawrouter-codex/", env!("CARGO_PKG_VERSION")),
    ),
];

fn transport_reason(error: TransportError) -> String {
    match error {
        TransportError::TimedOut => "the search endpoint did not answer in time".to_owned(),
        TransportError::Connect(what) | TransportError::Broken(what) => {
            format!("the search endpoint could not be reached ({what})")
        }
        TransportError::TooLarge => "the answer was too large".to_owned(),
    }
}

/// The results of an answered search, or why there are none.
fn answered(
    client: &UpstreamClient,
    call: &SearchCall,
    reply: UpstreamReply,
) -> Result<(bool, String), String> {
    if (200..300).contains(&reply.status) {
        let hits = search::read_results(&reply.body)?;
        log::debug!("web search: {} result(s)", hits.len());
        return Ok((true, search::results_text(&call.query, &hits)));
    }
    let failure = upstream_error::classify_status(
        reply.status,
        &ErrorHeaders::default(),
        &reply.body,
        &client.upstream().url,
    );
    Err(failure.message)
}

async fn run_unpaid(
    client: &UpstreamClient,
    call: &SearchCall,
    timeout: Duration,
    path: &str,
    body: Bytes,
) -> (bool, String) {
    let sent = tokio::time::timeout(timeout, client.send("POST", path, &HEADERS, Some(body)));
    let reason = match sent.await {
        Err(_) => format!("no answer within {} s", timeout.as_secs()),
        Ok(Err(error)) => transport_reason(error),
        Ok(Ok(reply)) => match answered(client, call, reply) {
            Ok(outcome) => return outcome,
            Err(reason) => reason,
        },
    };
    log::info!("web search failed: {reason}");
    (false, search::failure_text(&call.query, &reason))
}
