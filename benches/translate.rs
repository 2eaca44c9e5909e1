//! Translation benchmarks (criterion): Codex-like Responses request bodies of ~10 KB, ~200 KB
//! and ~1 MB → Chat Completions (the big ones also with ClawRouter's whitespace protection); a
//! `chat.completion` → Response JSON; streamed answers (OpenAI-style incremental, and
//! ClawRouter-shaped) through `StreamTranslator::feed`.
//!
//! `cargo bench --bench translate`; under `cargo test --all-targets` each benchmark runs once.

#![allow(clippy::unwrap_used, clippy::expect_used)]
// `criterion_main!` generates an undocumented `pub fn main`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use clawrouter_codex::translate::request::{request_to_chat, ChatPlan, RequestOptions};
use clawrouter_codex::translate::response::{completion_to_response_json, ResponseMeta};
use clawrouter_codex::translate::stream::StreamTranslator;

#[path = "support/codex_body.rs"]
mod codex_body;

const SIZES: &[(&str, usize)] = &[("10KB", 10_000), ("200KB", 200_000), ("1MB", 1_000_000)];

fn plan(body: &[u8]) -> ChatPlan {
    request_to_chat(body, &RequestOptions::default()).expect("generated body translates")
}

fn meta() -> ResponseMeta {
    ResponseMeta {
        id: "resp_bench".to_owned(),
        created_at: 1_795_528_920,
        model: "test-model".to_owned(),
    }
}

fn request(c: &mut Criterion) {
    let mut group = c.benchmark_group("request_to_chat");
    let opts = RequestOptions::default();
    for &(name, size) in SIZES {
        let body = codex_body::responses_body(size, true);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| request_to_chat(black_box(&body), &opts).expect("translates"))
        });
    }
    group.finish();

    // Bodies sent to ClawRouter above 150 KB go out with their string contents as text parts
    // (`upstream.preserve_whitespace`): the cost of that, on the sizes where it applies.
    let mut group = c.benchmark_group("request_to_chat_preserve_whitespace");
    let opts = RequestOptions {
        preserve_whitespace_above: Some(150 * 1024),
        ..RequestOptions::default()
    };
    for &(name, size) in &SIZES[1..] {
        let body = codex_body::responses_body(size, true);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| request_to_chat(black_box(&body), &opts).expect("translates"))
        });
    }
    group.finish();
}

fn response(c: &mut Criterion) {
    // The tools (and echoed fields) of a real Codex turn: apply_patch is a custom tool.
    let plan = plan(&codex_body::responses_body(200_000, false));
    let completion = codex_body::chat_completion_json();
    let mut group = c.benchmark_group("response");
    group.throughput(Throughput::Bytes(completion.len() as u64));
    group.bench_function("completion_to_response_json", |b| {
        b.iter(|| {
            completion_to_response_json(black_box(&completion), &meta(), &plan.echo, &plan.tools, 1)
                .expect("translates")
        })
    });

    let streams = [
        ("openai_400_chunks", codex_body::openai_stream_frames(400)),
        ("clawrouter_shaped", codex_body::clawrouter_stream_frames(5)),
    ];
    for (name, frames) in streams {
        let total: usize = frames.iter().map(Vec::len).sum();
        group.throughput(Throughput::Bytes(total as u64));
        group.bench_function(format!("stream_feed/{name}"), |b| {
            b.iter_batched(
                || {
                    StreamTranslator::new(
                        meta(),
                        &plan.echo,
                        plan.tools.clone(),
                        None,
                        "http://127.0.0.1:1/v1".to_owned(),
                    )
                },
                |mut translator| {
                    let mut out = Vec::with_capacity(64 * 1024);
                    translator.start(&mut out);
                    for frame in &frames {
                        translator.feed(black_box(frame), 1, &mut out);
                        // The proxy sends and clears the buffer after every read.
                        black_box(&out);
                        out.clear();
                    }
                    translator.upstream_ended(1, &mut out);
                    assert!(translator.is_finished());
                    out
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = request, response
}
criterion_main!(benches);
