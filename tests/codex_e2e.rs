//! The real Codex CLI (the pinned releases, see scripts/install-deps.sh) through the real bridge against the scripted strict mock
//! upstream: whole agent turns with tools, and the failures a user must see handled right.
//! The only stand-in is the paid upstream.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::bridge::BridgeGuard;
use common::codex::{run_codex, CodexHome, CodexOptions, CodexRun};
use common::mock_upstream::{ChatCall, FreeFallback, MockUpstream, Reply};
use serde_json::{json, Value};

const TURN_TIMEOUT: Duration = Duration::from_secs(120);

/// Replies with `first` to the first call of a turn, and `last` once tool results came back.
fn two_step(first: Reply, last: &'static str) -> impl Fn(&ChatCall) -> Reply + Send + Sync {
    move |call: &ChatCall| {
        let answered = call.last_message().is_some_and(|m| m["role"] == "tool");
        if answered {
            Reply::text(last)
        } else {
            first.clone()
        }
    }
}

/// A Codex home with Codex's own retry defaults, so any retry shows up as an upstream call.
fn home_with_codex_default_retries(bridge: &BridgeGuard) -> CodexHome {
    CodexHome::with_options(
        &bridge.base_url(),
        CodexOptions {
            request_max_retries: 4,
            stream_max_retries: 5,
            ..CodexOptions::default()
        },
    )
}

fn everything_said(run: &CodexRun) -> String {
    format!(
        "{}\n{}\n{}",
        run.errors().join("\n"),
        run.stdout,
        run.stderr
    )
}

/// The tool messages that follow the last assistant `tool_calls` message of a call.
fn tool_results(call: &ChatCall) -> Vec<Value> {
    let messages = call.messages();
    let start = messages
        .iter()
        .rposition(|m| m.get("tool_calls").is_some())
        .expect("an assistant tool_calls message");
    messages[start + 1..]
        .iter()
        .take_while(|m| m["role"] == "tool")
        .cloned()
        .collect()
}

#[test]
fn plain_text_turn_streams_the_answer() {
    let mock = MockUpstream::start(|_| Reply::text("Hello from the model."));
    let bridge = BridgeGuard::start(&mock.base_url());
    let home = CodexHome::new(&bridge.base_url());
    let work = tempfile::tempdir().unwrap();
    let run = run_codex(&home, work.path(), "Say hello", TURN_TIMEOUT);
    run.assert_success();
    assert_eq!(run.final_message.as_deref(), Some("Hello from the model."));
    assert_eq!(mock.chat_calls().len(), 1);
    mock.assert_no_rejections();
}

#[test]
fn shell_tool_call_creates_a_file() {
    let mock = MockUpstream::start(two_step(
        Reply::tool_calls(vec![(
            "exec_command",
            json!({"cmd": "echo hello-from-shell > made-by-shell.txt"}),
        )]),
        "Created made-by-shell.txt.",
    ));
    let bridge = BridgeGuard::start(&mock.base_url());
    let home = CodexHome::new(&bridge.base_url());
    let work = tempfile::tempdir().unwrap();
    let run = run_codex(
        &home,
        work.path(),
        "Create made-by-shell.txt containing hello-from-shell",
        TURN_TIMEOUT,
    );
    run.assert_success();
    let made = std::fs::read_to_string(work.path().join("made-by-shell.txt"))
        .expect("file created by the shell tool");
    assert_eq!(made.trim(), "hello-from-shell");
    assert_eq!(
        run.final_message.as_deref(),
        Some("Created made-by-shell.txt.")
    );
    mock.assert_no_rejections();
    let calls = mock.chat_calls();
    assert_eq!(calls.len(), 2, "one call for the tool, one for the answer");
    let results = tool_results(&calls[1]);
    assert_eq!(results.len(), 1);
    assert!(
        results[0]["content"]
            .as_str()
            .is_some_and(|c| c.contains("exited with code 0")),
        "{results:?}"
    );
}

#[test]
fn freeform_apply_patch_adds_a_file() {
    let patch =
        "*** Begin Patch\n*** Add File: patched.txt\n+patched by apply_patch\n*** End Patch\n";
    let mock = MockUpstream::start(two_step(
        Reply::tool_calls(vec![("apply_patch", json!({"input": patch}))]),
        "Patched.",
    ));
    let bridge = BridgeGuard::start(&mock.base_url());
    let home = CodexHome::new(&bridge.base_url());
    let work = tempfile::tempdir().unwrap();
    let run = run_codex(&home, work.path(), "Add patched.txt", TURN_TIMEOUT);
    run.assert_success();
    let patched = std::fs::read_to_string(work.path().join("patched.txt"))
        .expect("file added by apply_patch");
    assert_eq!(patched, "patched by apply_patch\n");
    assert_eq!(run.final_message.as_deref(), Some("Patched."));
    mock.assert_no_rejections();
    let calls = mock.chat_calls();
    let offered = calls[0]
        .tool("apply_patch")
        .expect("apply_patch offered to the model");
    assert_eq!(
        offered["function"]["parameters"]["required"],
        json!(["input"])
    );
    // The history Codex sends back carries the patch as the call's single string argument.
    let history_call = calls[1]
        .messages()
        .iter()
        .filter_map(|m| m["tool_calls"].as_array())
        .flatten()
        .find(|c| c["function"]["name"] == "apply_patch")
        .cloned()
        .expect("apply_patch call in history");
    let args: Value =
        serde_json::from_str(history_call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args["input"], patch);
}

#[test]
fn two_tool_calls_in_one_turn_both_run() {
    let mock = MockUpstream::start(two_step(
        Reply::tool_calls(vec![
            ("exec_command", json!({"cmd": "echo one > first.txt"})),
            ("exec_command", json!({"cmd": "echo two > second.txt"})),
        ]),
        "Both files exist.",
    ));
    let bridge = BridgeGuard::start(&mock.base_url());
    let home = CodexHome::new(&bridge.base_url());
    let work = tempfile::tempdir().unwrap();
    let run = run_codex(
        &home,
        work.path(),
        "Create first.txt and second.txt",
        TURN_TIMEOUT,
    );
    run.assert_success();
    assert_eq!(
        std::fs::read_to_string(work.path().join("first.txt"))
            .unwrap()
            .trim(),
        "one"
    );
    assert_eq!(
        std::fs::read_to_string(work.path().join("second.txt"))
            .unwrap()
            .trim(),
        "two"
    );
    assert_eq!(run.final_message.as_deref(), Some("Both files exist."));
    mock.assert_no_rejections();
    let calls = mock.chat_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        tool_results(&calls[1]).len(),
        2,
        "both outputs answer the one assistant message"
    );
}

#[test]
fn empty_wallet_ends_the_run_at_once_with_the_wallet_message() {
    let mock = MockUpstream::start(|_| Reply::insufficient_funds());
    let bridge = BridgeGuard::start(&mock.base_url());
    let home = home_with_codex_default_retries(&bridge);
    let work = tempfile::tempdir().unwrap();
    let run = run_codex(&home, work.path(), "Say hello", TURN_TIMEOUT);
    assert!(!run.success(), "{}", run.describe());
    let said = everything_said(&run);
    assert!(said.contains("Insufficient USDC balance"), "{said}");
    assert!(said.contains("clawrouter-codex doctor"), "{said}");
    assert_eq!(
        mock.chat_calls().len(),
        1,
        "no retry storm against a payment failure"
    );
    assert!(
        run.elapsed < Duration::from_secs(20),
        "took {:?}",
        run.elapsed
    );
}

#[test]
fn balance_check_402_ends_the_run_at_once_with_the_funding_message() {
    for chain in ["Base", "Solana"] {
        let mock = MockUpstream::start(move |_| Reply::insufficient_balance(chain));
        let bridge = BridgeGuard::start(&mock.base_url());
        let home = home_with_codex_default_retries(&bridge);
        let work = tempfile::tempdir().unwrap();
        let run = run_codex(&home, work.path(), "Say hello", TURN_TIMEOUT);
        assert!(!run.success(), "{}", run.describe());
        let said = everything_said(&run);
        assert!(
            said.contains(&format!("Insufficient {chain} USDC balance.")),
            "{said}"
        );
        assert!(said.contains("clawrouter-codex doctor"), "{said}");
        assert_eq!(mock.chat_calls().len(), 1, "not retried");
    }
}

#[test]
fn spending_cap_ends_the_run_at_once_and_is_never_retried() {
    for code in ["cost_cap_exceeded", "budget_exhausted"] {
        let mock = MockUpstream::start(move |_| Reply::spending_cap(code));
        let bridge = BridgeGuard::start(&mock.base_url());
        let home = home_with_codex_default_retries(&bridge);
        let work = tempfile::tempdir().unwrap();
        let run = run_codex(&home, work.path(), "Say hello", TURN_TIMEOUT);
        assert!(!run.success(), "{}", run.describe());
        let said = everything_said(&run);
        assert!(said.contains("Spending cap reached"), "{said}");
        assert!(said.contains("cost cap exceeded"), "{said}");
        assert_eq!(
            mock.chat_calls().len(),
            1,
            "a cap is not a rate limit: no retry"
        );
    }
}

#[test]
fn rate_limit_is_retried_after_the_delay_and_succeeds() {
    let mock = MockUpstream::start(|call| {
        if call.index == 0 {
            Reply::rate_limited()
        } else {
            Reply::text("Made it after the rate limit.")
        }
    });
    let bridge = BridgeGuard::start(&mock.base_url());
    let home = CodexHome::with_options(
        &bridge.base_url(),
        CodexOptions {
            stream_max_retries: 3,
            ..CodexOptions::default()
        },
    );
    let work = tempfile::tempdir().unwrap();
    let run = run_codex(&home, work.path(), "Say hello", TURN_TIMEOUT);
    run.assert_success();
    assert_eq!(
        run.final_message.as_deref(),
        Some("Made it after the rate limit.")
    );
    let calls = mock
        .requests()
        .into_iter()
        .filter(|r| r.is_chat())
        .collect::<Vec<_>>();
    assert_eq!(calls.len(), 2);
    let waited = calls[1].received_at - calls[0].received_at;
    assert!(
        waited >= Duration::from_millis(1500),
        "Codex retried after only {waited:?}"
    );
}

#[test]
fn context_overflow_reaches_codex_as_its_context_window_error() {
    let mock = MockUpstream::start(|_| Reply::context_length_exceeded());
    let bridge = BridgeGuard::start(&mock.base_url());
    let home = CodexHome::new(&bridge.base_url());
    let work = tempfile::tempdir().unwrap();
    let run = run_codex(&home, work.path(), "Say hello", TURN_TIMEOUT);
    assert!(!run.success());
    let said = everything_said(&run);
    assert!(said.contains("context window"), "{said}");
    assert_eq!(mock.chat_calls().len(), 1);
}

#[test]
fn upstream_rejection_stops_at_once_with_its_message() {
    let mock = MockUpstream::start(|_| {
        Reply::json(
            404,
            json!({"error": {"message": "Unknown model: blockrun/nope", "type": "invalid_request_error"}}),
        )
    });
    let bridge = BridgeGuard::start(&mock.base_url());
    let home = home_with_codex_default_retries(&bridge);
    let work = tempfile::tempdir().unwrap();
    let run = run_codex(&home, work.path(), "Say hello", TURN_TIMEOUT);
    assert!(!run.success());
    assert!(everything_said(&run).contains("Unknown model: blockrun/nope"));
    assert_eq!(mock.chat_calls().len(), 1);
}

#[test]
fn failing_upstream_is_retried_a_bounded_number_of_times_then_explained() {
    let mock = MockUpstream::start(|_| Reply::fetch_failed(500));
    let bridge = BridgeGuard::start(&mock.base_url());
    let home = CodexHome::with_options(
        &bridge.base_url(),
        CodexOptions {
            stream_max_retries: 2,
            ..CodexOptions::default()
        },
    );
    let work = tempfile::tempdir().unwrap();
    // Over WebSocket Codex retries, then falls back to HTTP and retries there too.
    let websocket = home.options().websocket;
    let opts = common::codex::RunOptions {
        allow_http: websocket,
        ..Default::default()
    };
    let run = common::codex::run_codex_with(&home, work.path(), "Say hello", TURN_TIMEOUT, &opts);
    assert!(!run.success());
    let said = everything_said(&run);
    assert!(said.contains("fetch failed"), "{said}");
    let calls = mock.chat_calls().len();
    let expected = if websocket { 4..=6 } else { 2..=3 };
    assert!(
        expected.contains(&calls),
        "{calls} upstream calls for stream_max_retries = 2 (websocket: {websocket})"
    );
}

#[test]
fn slow_upstream_is_kept_alive_past_codexs_idle_timeout() {
    // ClawRouter sends only SSE comments while it pays and waits; Codex gives up after
    // `stream_idle_timeout_ms` without a data event. Here: 2 s idle limit, 5 s of thinking.
    let mock =
        MockUpstream::start(|_| Reply::text("Worth the wait.").delayed(Duration::from_secs(5)));
    let bridge = BridgeGuard::start_with(&mock.base_url(), |file| file.keepalive_secs = Some(1));
    let home = CodexHome::with_options(
        &bridge.base_url(),
        CodexOptions {
            stream_idle_timeout_ms: Some(2000),
            ..CodexOptions::default()
        },
    );
    let work = tempfile::tempdir().unwrap();
    let run = run_codex(
        &home,
        work.path(),
        "Think hard, then say something",
        TURN_TIMEOUT,
    );
    run.assert_success();
    assert_eq!(run.final_message.as_deref(), Some("Worth the wait."));
    assert_eq!(mock.chat_calls().len(), 1, "no idle-timeout retry");
}

#[test]
fn streaming_upstream_runs_a_tool_turn() {
    let mock = MockUpstream::start(|call| {
        let answered = call.last_message().is_some_and(|m| m["role"] == "tool");
        let reply = if answered {
            Reply::text("Streamed and done.")
        } else {
            Reply::tool_calls(vec![(
                "exec_command",
                json!({"cmd": "echo streamed > streamed.txt"}),
            )])
        };
        reply.incremental(6).chunk_delay(Duration::from_millis(20))
    });
    let bridge = BridgeGuard::start_with(&mock.base_url(), |file| {
        file.upstream.get_or_insert_with(Default::default).stream = Some("always".into());
    });
    let home = CodexHome::new(&bridge.base_url());
    let work = tempfile::tempdir().unwrap();
    let run = run_codex(&home, work.path(), "Create streamed.txt", TURN_TIMEOUT);
    run.assert_success();
    assert_eq!(
        std::fs::read_to_string(work.path().join("streamed.txt"))
            .unwrap()
            .trim(),
        "streamed"
    );
    assert_eq!(run.final_message.as_deref(), Some("Streamed and done."));
    assert!(mock.chat_calls().iter().all(|c| c.is_stream()));
    mock.assert_no_rejections();
}

#[test]
fn thinking_model_gets_its_reasoning_back_on_the_tool_turn() {
    const THOUGHT: &str = "The user wants proof; I will write a file first.";
    // Like DeepSeek: the tool turn is refused unless the assistant message carries its
    // reasoning_content.
    let mock = MockUpstream::start(|call| {
        let assistant = call
            .messages()
            .iter()
            .rev()
            .find(|m| m["role"] == "assistant")
            .cloned();
        match assistant {
            None => Reply::tool_calls(vec![(
                "exec_command",
                json!({"cmd": "echo thought > thought.txt"}),
            )])
            .reasoning(THOUGHT),
            Some(message) if message["reasoning_content"] == THOUGHT => {
                Reply::text("Thought it through.")
            }
            Some(_) => Reply::json(
                400,
                json!({"error": {"message": "The reasoning_content in the thinking mode must be passed back to the API.", "type": "invalid_request_error"}}),
            ),
        }
    });
    let bridge = BridgeGuard::start(&mock.base_url());
    let home = CodexHome::new(&bridge.base_url());
    let work = tempfile::tempdir().unwrap();
    let run = run_codex(
        &home,
        work.path(),
        "Think, then create thought.txt",
        TURN_TIMEOUT,
    );
    run.assert_success();
    assert_eq!(run.final_message.as_deref(), Some("Thought it through."));
    assert!(work.path().join("thought.txt").exists());
    assert_eq!(mock.chat_calls().len(), 2);
    // Codex shows the reasoning (as a summary: raw reasoning content is hidden by default).
    let shown = run.items("reasoning");
    assert!(
        !shown.is_empty(),
        "Codex showed the reasoning: {}",
        run.describe()
    );
    assert_eq!(
        shown[0]["text"].as_str().map(str::trim),
        Some(THOUGHT),
        "{}",
        run.describe()
    );
}

#[test]
fn websearch_on_makes_the_model_search_and_codex_shows_the_search() {
    let url = "https://blog.example.org/rust-1-99";
    let mock = MockUpstream::builder()
        .route(move |req| {
            (req.route() == "/v1/exa/search").then(|| {
                Reply::json(
                    200,
                    json!({"results": [{"title": "Rust 1.99 released", "url": url,
                                        "summary": "Async closures in traits."}]}),
                )
            })
        })
        .start(move |call: &ChatCall| {
            assert!(call.tool("web_search").is_some(), "web_search offered");
            match call.messages().iter().rfind(|m| m["role"] == "tool") {
                None => Reply::tool_calls(vec![("web_search", json!({"query": "rust 1.99"}))]),
                Some(_) => Reply::text(format!("Rust 1.99 has async closures in traits ({url}).")),
            }
        });
    let bridge = BridgeGuard::start(&mock.base_url());
    let home = CodexHome::new(&bridge.base_url());
    home.websearch_on();
    let work = tempfile::tempdir().unwrap();
    let run = run_codex(
        &home,
        work.path(),
        "What is new in Rust 1.99?",
        TURN_TIMEOUT,
    );
    run.assert_success();
    assert!(
        run.final_message
            .as_deref()
            .is_some_and(|m| m.contains(url)),
        "{}",
        run.describe()
    );
    let searches = run.items("web_search");
    assert_eq!(searches.len(), 1, "{}", run.describe());
    assert_eq!(searches[0]["query"], "rust 1.99", "{}", run.describe());
    let chat = mock.chat_calls();
    assert_eq!(chat.len(), 2);
    let searched = mock
        .requests()
        .iter()
        .filter(|r| r.route() == "/v1/exa/search")
        .count();
    assert_eq!(searched, 1, "one paid search");
    mock.assert_no_rejections();
}

#[test]
fn codex_shows_the_line_when_a_free_model_answers_for_an_unfunded_wallet() {
    let mock = MockUpstream::builder()
        .wallet_cannot_pay(FreeFallback::Silent)
        .start(two_step(
            Reply::tool_calls(vec![(
                "exec_command",
                json!({"cmd": "echo made-by-a-free-model > free.txt"}),
            )]),
            "Created free.txt.",
        ));
    let bridge = BridgeGuard::start(&mock.base_url());
    let home = CodexHome::new(&bridge.base_url());
    let work = tempfile::tempdir().unwrap();
    let run = run_codex(&home, work.path(), "Create free.txt", TURN_TIMEOUT);
    run.assert_success();
    let line = "Note: ClawRouter answered with the free model nvidia/gpt-oss-120b instead of \
                blockrun/auto — the wallet could not pay. Fund it: `clawrouter-codex wallet`.";
    let messages = run.agent_messages();
    eprintln!("Codex showed: {messages:#?}");
    // The tool call still ran (the line came as a message before it) …
    let made = std::fs::read_to_string(work.path().join("free.txt")).expect("the tool ran");
    assert_eq!(made.trim(), "made-by-a-free-model");
    // … the line was shown once in the turn, before the first answer …
    assert_eq!(messages, [line, "Created free.txt."]);
    assert_eq!(run.final_message.as_deref(), Some("Created free.txt."));
    mock.assert_no_rejections();
    // … and the model never read it back.
    let calls = mock.chat_calls();
    assert_eq!(calls.len(), 2);
    assert!(!calls[1].body.to_string().contains("Note: ClawRouter"));
}
