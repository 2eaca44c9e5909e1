//! `GET /metrics`: the bridge's counters in the Prometheus text format ([`Metrics::render`]).

use pingora::proxy::Session;

use crate::metrics::Metrics;
use crate::session_io::send_whole;

/// The content type of the Prometheus text format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Answers `GET /metrics` (never cached).
pub async fn answer(session: &mut Session, metrics: &Metrics) -> pingora::Result<()> {
    send_whole(session, 200, CONTENT_TYPE, metrics.render(), &[]).await
}
