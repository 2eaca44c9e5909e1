//! `GET /metrics` after real traffic through the bridge: requests by route and outcome,
//! upstream errors by class, tokens, keep-alive events, bytes, web searches, streams in flight
//! — and labels that never carry a model name or a thread id.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::bridge::BridgeGuard;
use common::client::{get, post};
use common::mock_upstream::{MockUpstream, RecordedRequest, Reply};
use serde_json::json;

/// The value of the sample whose line starts with `series` (name and labels as written).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|line| line.starts_with(series) && line[series.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no sample {series} in\n{text}"))
}

#[test]
fn metrics_count_what_happened() {
    let mock = MockUpstream::builder()
        .route(|req: &RecordedRequest| {
            (req.route() == "/v1/exa/search").then(|| {
                Reply::json(
                    200,
                    json!({"results": [{"title": "T", "url": "https://t.example"}]}),
                )
            })
        })
        .start(|call| match call.index {
            0 => Reply::text("hello")
                .usage(120, 30)
                .delayed(Duration::from_millis(2500)),
            1 => Reply::rate_limited(),
            2 => Reply::tool_calls(vec![("web_search", json!({"query": "q"}))]).usage(10, 1),
            _ => Reply::text("found it").usage(20, 2),
        });
    let bridge = BridgeGuard::start_with(&mock.base_url(), |file| {
        file.keepalive_secs = Some(1);
    });
    let url = bridge.url("/v1/responses");
    let body = |stream: bool| {
        json!({"model": "blockrun/auto", "stream": stream, "input": "hi",
               "tools": [{"type": "web_search"}]})
        .to_string()
    };
    let thread = [
        ("content-type", "application/json"),
        ("session-id", "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
    ];
    assert_eq!(post(&url, body(true).as_bytes(), &thread).status, 200);
    assert_eq!(post(&url, body(false).as_bytes(), &thread).status, 429);
    let searching = [("content-type", "application/json"), ("x-web-search", "1")];
    assert_eq!(post(&url, body(true).as_bytes(), &searching).status, 200);
    assert_eq!(get(&bridge.url("/health"), &[]).status, 200);

    // A request is counted when its logging hook runs, just after its answer is sent: wait
    // until the last one (the health check) is counted.
    let mut answer = get(&bridge.url("/metrics"), &[]);
    for _ in 0..50 {
        if answer.body.contains(r#"outcome="ok",route="health""#) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        answer = get(&bridge.url("/metrics"), &[]);
    }
    assert_eq!(answer.status, 200);
    assert!(answer
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = answer.body;
    let requests = "clawrouter_codex_requests_total";
    assert_eq!(
        sample(
            &text,
            &format!(r#"{requests}{{outcome="ok",route="responses"}}"#)
        ),
        2.0
    );
    assert_eq!(
        sample(
            &text,
            &format!(r#"{requests}{{outcome="rate_limited",route="responses"}}"#)
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            &format!(r#"{requests}{{outcome="ok",route="health"}}"#)
        ),
        1.0
    );
    assert_eq!(
        sample(
            &text,
            r#"clawrouter_codex_upstream_errors_total{class="rate_limited"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(&text, r#"clawrouter_codex_tokens_total{kind="input"}"#),
        150.0
    );
    assert_eq!(
        sample(&text, r#"clawrouter_codex_tokens_total{kind="output"}"#),
        33.0
    );
    assert!(sample(&text, "clawrouter_codex_keepalive_events_total") >= 1.0);
    assert_eq!(
        sample(&text, r#"clawrouter_codex_web_searches_total{result="ok"}"#),
        1.0
    );
    assert!(
        sample(
            &text,
            r#"clawrouter_codex_body_bytes_total{direction="in"}"#
        ) > 0.0
    );
    assert!(
        sample(
            &text,
            r#"clawrouter_codex_body_bytes_total{direction="out"}"#
        ) > 0.0
    );
    assert_eq!(sample(&text, "clawrouter_codex_streams_in_flight"), 0.0);
    assert_eq!(
        sample(
            &text,
            r#"clawrouter_codex_request_duration_seconds_count{route="responses"}"#
        ),
        3.0
    );
    assert!(
        sample(
            &text,
            r#"clawrouter_codex_upstream_latency_seconds_count{route="responses"}"#
        ) >= 3.0
    );
    for secret in ["blockrun", "0199a1b2", "hello"] {
        assert!(!text.contains(secret), "{secret} in a metric");
    }
}
