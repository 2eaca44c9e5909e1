//! Per-request state shared by the hooks of one request.

use std::time::Instant;

use super::routes::Route;
use crate::outcome::Outcome;

pub use crate::metrics::Measures;

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
    /// Pass-through: when the request header of the latest attempt went upstream.
    pub upstream_request_at: Option<Instant>,
    /// Pass-through: how often the request was sent again after a pooled connection closed
    /// before the upstream read it.
    pub replaced_connections: usize,
    /// Pass-through: the next attempt goes to the same upstream (a replaced connection, not a
    /// failover).
    pub same_upstream_again: bool,
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
            upstream_request_at: None,
            replaced_connections: 0,
            same_upstream_again: false,
        }
    }
}
