//! Per-request state shared by the hooks of one request.

use std::time::Instant;

use super::routes::Route;
use crate::outcome::Outcome;

/// What the hooks of one request know about it.
#[derive(Debug)]
pub struct RequestCtx {
    pub route: Route,
    pub started: Instant,
    /// The model the client asked for (translated requests only), for the access log.
    pub model: Option<String>,
    /// A short label of how the request ended (`ok`, `payment`, `invalid_request`, …).
    pub outcome: Outcome,
    /// Bytes of a passed-through request body seen so far (for the size limit).
    pub passthrough_body_bytes: usize,
    /// Status of an error the bridge decided on during proxying (e.g. 413 mid-body).
    pub local_error: Option<crate::error::BridgeError>,
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
        }
    }
}
