//! `GET /metrics`: the bridge's counters in the Prometheus text format, on the bridge's own port
//! (behind the same gate as every request: the `Host` check, and the token beyond loopback).
//! One registry per bridge service, so bridges in one process (tests) count apart.
//!
//! Every request is counted once, when it ends (Pingora's `logging` hook, which runs for
//! answered, failed and abandoned requests alike), from what the request's context gathered:
//! route and outcome, durations, the upstream's status and latency, tokens, bytes, keep-alive
//! events and web searches. Labels are closed sets (routes, outcomes, token kinds): no model
//! names, no thread ids, no paths.

use std::sync::Arc;
use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use crate::outcome::Outcome;
use crate::translate::events::Usage;

/// Seconds buckets for whole requests and first bytes: sub-millisecond bridge answers up to
/// minutes of model thinking.
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 120.0, 300.0, 600.0,
];

/// What one finished request adds.
#[derive(Debug, Clone)]
pub struct Finished<'a> {
    /// The route's label (`responses`, `passthrough`, `health`, …).
    pub route: &'a str,
    /// How the request ended.
    pub outcome: Outcome,
    /// From the request's arrival to the end of the answer.
    pub duration: Duration,
    /// Request body bytes read from the client.
    pub bytes_in: u64,
    /// Answer body bytes sent to the client.
    pub bytes_out: u64,
    /// What the request measured on its way.
    pub measures: &'a Measures,
}

/// What one request measured on its way (all optional: not every route calls the upstream),
/// gathered by the hooks in the request's context, for the access log line and the metrics.
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
    /// Keep-alive events sent while the upstream was silent.
    pub keepalives: u64,
    /// Web searches that returned results.
    pub searches_ok: u64,
    /// Web searches that failed.
    pub searches_failed: u64,
    /// Upstream stream data lines that were not JSON (skipped).
    pub skipped_frames: u64,
    /// Request content parts of an unknown type, not sent upstream.
    pub unknown_parts: u64,
    /// Which upstream served the request (`upstreams[i]`; team mode).
    pub upstream: Option<usize>,
    /// Upstreams that refused the connection before one took the request.
    pub failovers: u64,
    /// Direct mode: the model the router sent the request to.
    pub routed_model: Option<String>,
    /// Direct mode: what the request paid (signed payments BlockRun answered, or the
    /// estimated cost with an API key).
    pub paid: Option<crate::payments::policy::Usdc>,
}

impl Measures {
    /// Direct mode: adds `amount` to what the request paid.
    pub fn add_paid(&mut self, amount: crate::payments::policy::Usdc) {
        let before = self.paid.map_or(0, |paid| paid.0);
        self.paid = Some(crate::payments::policy::Usdc(
            before.saturating_add(amount.0),
        ));
    }
}

/// The bridge's metrics.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    upstream_errors: IntCounterVec,
    duration: HistogramVec,
    first_byte: HistogramVec,
    upstream_latency: HistogramVec,
    streams_in_flight: IntGauge,
    keepalives: IntCounter,
    tokens: IntCounterVec,
    bytes: IntCounterVec,
    web_searches: IntCounterVec,
    skipped_frames: IntCounter,
    unknown_parts: IntCounter,
    refused_connections: IntCounterVec,
    upstream_requests: IntCounterVec,
    failovers: IntCounter,
    paid_usd: prometheus::Counter,
    websocket_requests: IntCounterVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// A fresh registry with every metric at zero.
    pub fn new() -> Result<Arc<Self>, prometheus::Error> {
        let registry = Registry::new();
        let counter_vec =
            |name: &str, help: &str, labels: &[&str]| -> prometheus::Result<IntCounterVec> {
                let metric = IntCounterVec::new(Opts::new(name, help), labels)?;
                registry.register(Box::new(metric.clone()))?;
                Ok(metric)
            };
        let counter = |name: &str, help: &str| -> prometheus::Result<IntCounter> {
            let metric = IntCounter::new(name, help)?;
            registry.register(Box::new(metric.clone()))?;
            Ok(metric)
        };
        let histogram =
            |name: &str, help: &str, labels: &[&str]| -> prometheus::Result<HistogramVec> {
                let opts = HistogramOpts::new(name, help).buckets(SECONDS_BUCKETS.to_vec());
                let metric = HistogramVec::new(opts, labels)?;
                registry.register(Box::new(metric.clone()))?;
                Ok(metric)
            };
        let streams_in_flight = IntGauge::new(
            "clawrouter_codex_streams_in_flight",
            "Responses event streams open right now",
        )?;
        registry.register(Box::new(streams_in_flight.clone()))?;
        let metrics = Metrics {
            requests: counter_vec(
                "clawrouter_codex_requests_total",
                "Requests by route and how they ended",
                &["route", "outcome"],
            )?,
            upstream_errors: counter_vec(
                "clawrouter_codex_upstream_errors_total",
                "Requests that ended in an upstream failure, by class",
                &["class"],
            )?,
            duration: histogram(
                "clawrouter_codex_request_duration_seconds",
                "Whole request time, by route",
                &["route"],
            )?,
            first_byte: histogram(
                "clawrouter_codex_first_byte_seconds",
                "Time until the client got the first byte of the answer, by route",
                &["route"],
            )?,
            upstream_latency: histogram(
                "clawrouter_codex_upstream_latency_seconds",
                "Time from sending a request upstream to its answer's header, by route",
                &["route"],
            )?,
            streams_in_flight,
            keepalives: counter(
                "clawrouter_codex_keepalive_events_total",
                "response.in_progress events sent while the upstream was silent",
            )?,
            tokens: counter_vec(
                "clawrouter_codex_tokens_total",
                "Tokens reported by the upstream: input, cached (of input), output, reasoning (of output)",
                &["kind"],
            )?,
            bytes: counter_vec(
                "clawrouter_codex_body_bytes_total",
                "Request and response body bytes between clients and the bridge",
                &["direction"],
            )?,
            web_searches: counter_vec(
                "clawrouter_codex_web_searches_total",
                "Web searches the bridge ran, by result",
                &["result"],
            )?,
            skipped_frames: counter(
                "clawrouter_codex_upstream_frames_skipped_total",
                "Upstream stream data lines that were not JSON (skipped)",
            )?,
            unknown_parts: counter(
                "clawrouter_codex_unknown_content_parts_total",
                "Request content parts of an unknown type (logged, not sent upstream)",
            )?,
            refused_connections: counter_vec(
                "clawrouter_codex_refused_connections_total",
                "Client connections refused or dropped by the bridge's limits, by reason",
                &["reason"],
            )?,
            upstream_requests: counter_vec(
                "clawrouter_codex_upstream_requests_total",
                "Requests sent to each upstream (its place in the upstreams list; one upstream: 0)",
                &["upstream"],
            )?,
            failovers: counter(
                "clawrouter_codex_upstream_failovers_total",
                "Times an upstream refused the connection and the request went to the next one",
            )?,
            paid_usd: {
                let metric = prometheus::Counter::new(
                    "clawrouter_codex_paid_usd_total",
                    "Direct mode: USD paid to BlockRun (payments it answered; with an API key, \
                     the estimated cost)",
                )?;
                registry.register(Box::new(metric.clone()))?;
                metric
            },
            websocket_requests: counter_vec(
                "clawrouter_codex_websocket_requests_total",
                "WebSocket response.create messages by input: full, chained (previous_response_id), \
                 prewarm (generate:false), not_found (an unknown previous_response_id)",
                &["input"],
            )?,
            registry,
        };
        Ok(Arc::new(metrics))
    }

    /// Counts one WebSocket `response.create` by the kind of its input (`full`, `chained`,
    /// `prewarm`, `not_found`).
    pub fn websocket_request(&self, input: &str) {
        self.websocket_requests.with_label_values(&[input]).inc();
    }

    /// Counts one finished request.
    pub fn finished(&self, done: &Finished<'_>) {
        let outcome = done.outcome.as_str();
        let measured = done.measures;
        self.requests
            .with_label_values(&[done.route, outcome])
            .inc();
        if done.outcome.is_upstream_failure() {
            self.upstream_errors.with_label_values(&[outcome]).inc();
        }
        self.duration
            .with_label_values(&[done.route])
            .observe(done.duration.as_secs_f64());
        if let Some(first) = measured.first_byte {
            self.first_byte
                .with_label_values(&[done.route])
                .observe(first.as_secs_f64());
        }
        if let Some(latency) = measured.upstream_latency {
            self.upstream_latency
                .with_label_values(&[done.route])
                .observe(latency.as_secs_f64());
        }
        if let Some(usage) = measured.usage {
            for (kind, count) in [
                ("input", usage.input_tokens),
                ("cached", usage.cached_tokens),
                ("output", usage.output_tokens),
                ("reasoning", usage.reasoning_tokens),
            ] {
                self.tokens.with_label_values(&[kind]).inc_by(count);
            }
        }
        self.bytes.with_label_values(&["in"]).inc_by(done.bytes_in);
        self.bytes
            .with_label_values(&["out"])
            .inc_by(done.bytes_out);
        self.keepalives.inc_by(measured.keepalives);
        self.web_searches
            .with_label_values(&["ok"])
            .inc_by(measured.searches_ok);
        self.web_searches
            .with_label_values(&["failed"])
            .inc_by(measured.searches_failed);
        self.skipped_frames.inc_by(measured.skipped_frames);
        self.unknown_parts.inc_by(measured.unknown_parts);
        if let Some(upstream) = measured.upstream {
            self.upstream_requests
                .with_label_values(&[upstream.to_string().as_str()])
                .inc();
        }
        self.failovers.inc_by(measured.failovers);
        if let Some(paid) = measured.paid {
            self.paid_usd.inc_by(paid.as_usd());
        }
    }

    /// A client connection refused or dropped by a limit (`reason`: a fixed word).
    pub fn refused_connection(&self, reason: &'static str) {
        self.refused_connections.with_label_values(&[reason]).inc();
    }

    /// An event stream opened; it counts as in flight until the guard is dropped.
    pub fn stream_opened(self: &Arc<Self>) -> StreamGuard {
        self.streams_in_flight.inc();
        StreamGuard(self.clone())
    }

    /// Everything, in the Prometheus text format.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 * 1024);
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            log::warn!("cannot encode the metrics: {e}");
        }
        out
    }
}

/// Keeps a stream counted in `clawrouter_codex_streams_in_flight` while alive.
pub struct StreamGuard(Arc<Metrics>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.streams_in_flight.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_counted_with_closed_labels() {
        let metrics = Metrics::new().unwrap();
        let measured = Measures {
            first_byte: Some(Duration::from_millis(1)),
            usage: Some(Usage {
                input_tokens: 100,
                cached_tokens: 40,
                output_tokens: 7,
                reasoning_tokens: 2,
                total_tokens: 107,
            }),
            keepalives: 3,
            searches_ok: 1,
            ..Measures::default()
        };
        metrics.finished(&Finished {
            route: "responses",
            outcome: Outcome::RateLimited,
            duration: Duration::from_millis(12),
            bytes_in: 0,
            bytes_out: 0,
            measures: &measured,
        });
        let guard = metrics.stream_opened();
        let text = String::from_utf8(metrics.render()).unwrap();
        for line in [
            r#"clawrouter_codex_requests_total{outcome="rate_limited",route="responses"} 1"#,
            r#"clawrouter_codex_upstream_errors_total{class="rate_limited"} 1"#,
            r#"clawrouter_codex_tokens_total{kind="cached"} 40"#,
            r#"clawrouter_codex_web_searches_total{result="ok"} 1"#,
            "clawrouter_codex_keepalive_events_total 3",
            "clawrouter_codex_streams_in_flight 1",
        ] {
            assert!(text.contains(line), "{line} missing:\n{text}");
        }
        drop(guard);
        let text = String::from_utf8(metrics.render()).unwrap();
        assert!(text.contains("clawrouter_codex_streams_in_flight 0"));
    }
}
