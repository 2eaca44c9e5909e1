//! Per-request state shared by the hooks of one request.

use std::time::Instant;

use std::time::Duration;

use super::routes::Route;
use crate::outcome::Outcome;
use crate::translate::events::Usage;

/// What the hooks of one request know about it.
#[derive(Debug)]
pub struct RequestCtx {
    /// The endpoint, from the path (set first thing in `request_filter`; `Passthrough` before).
    pub route: Route,
    /// When the request's header had been read (Pingora makes the context then): the start of
    /// every duration logged and measured.
    pub started: Instant,
    /// The model the client asked for (translated requests only), for the access log.
    pub model: Option<String>,
    /// A short label of how the request ended (`ok`, `payment`, `invalid_request`, …).
    pub outcome: Outcome,
    /// Bytes of a passed-through request body seen so far (for the size limit).
    pub passthrough_body_bytes: usize,
    /// Status of an error the bridge decided on during proxying (e.g. 413 mid-body).
    pub local_error: Option<crate::error::BridgeError>,
    /// What the handlers measured, for the access log line and the metrics.
    pub measures: Measures,
    /// Pass-through in team mode: the upstreams tried so far, in order.
    pub upstreams_tried: Vec<usize>,
}

/// What one request measured on its way (all optional: not every route calls the upstream).
#[derive(Debug, Default, Clone)]
pub struct Measures {
    /// The upstream's HTTP status (the last one, for several calls).
    pub upstream_status: Option<u16>,
    /// Time from sending the (last) upstream request to its answer's header.
    pub upstream_latency: Option<Duration>,
    /// Time from the request's start until the client's first response byte went out.
    pub first_byte: Option<Duration>,
    /// Tokens the upstream reported (all model calls of the answer).
    pub usage: Option<Usage>,
    /// Keep-alive events sent.
    pub keepalives: u64,
    /// Web searches run, by result.
    pub searches_ok: u64,
    /// Web searches that failed.
    pub searches_failed: u64,
    /// Upstream stream data lines that were not JSON.
    pub skipped_frames: u64,
    /// Request content parts of an unknown type, not sent upstream.
    pub unknown_parts: u64,
    /// Which upstream served the request (`upstreams[i]`; team mode).
    pub upstream: Option<usize>,
    /// Upstreams that refused the connection before one took the request.
    pub failovers: u64,
}

impl Default for RequestCtx {
    fn default() -> Self {
        RequestCtx {
            route: Route::default(),
            started: Instant::now(),
            model: None,
            outcome: Outcome::Ok,
            passthrough_body_bytes: 0,
            local_error: None,
            measures: Measures::default(),
            upstreams_tried: Vec::new(),
        }
    }
}
