//! Web search run by the bridge, against the strict mock: the model calls `web_search`, the
//! bridge searches through the upstream's `/v1/exa/search`, feeds the results back and asks
//! again; Codex sees `web_search_call` items and the answer. Failing searches, mixed turns,
//! the rounds limit, the next turn's history, `stream:false`, and a client that leaves.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::bridge::BridgeGuard;
use common::client::{post, post_json};
use common::mock_upstream::{ChatCall, MockUpstream, RecordedRequest, Reply};
use serde_json::{json, Value};

const URL: &str = "https://blog.example.org/rust-1-99";

/// A Codex-like request offering the hosted `web_search` tool and `exec_command`.
fn request(stream: bool) -> Value {
    json!({"model": "blockrun/auto", "stream": stream,
           "input": [{"type": "message", "role": "user",
                      "content": [{"type": "input_text", "text": "What is new in Rust 1.99?"}]}],
           "tools": [{"type": "function", "name": "exec_command", "strict": false,
                      "description": "Runs a command",
                      "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}},
                     {"type": "web_search", "external_web_access": true}]})
}

/// `/v1/exa/search` answered with `body` (one of the shapes ClawRouter's reader accepts).
fn exa(body: Value) -> impl Fn(&RecordedRequest) -> Option<Reply> + Send + Sync {
    move |req: &RecordedRequest| {
        (req.route() == "/v1/exa/search").then(|| Reply::json(200, body.clone()))
    }
}

fn results_shape(n: usize) -> Value {
    let hit = json!({"title": "Rust 1.99 released", "url": URL, "publishedDate": "2026-11-27",
                     "summary": "Rust 1.99 adds async closures in traits."});
    match n {
        0 => json!({"results": [hit]}),
        1 => json!({"data": {"results": [hit]}}),
        _ => json!({"response": {"results": [hit]}}),
    }
}

fn tool_messages(call: &ChatCall) -> Vec<&Value> {
    call.messages()
        .iter()
        .filter(|m| m["role"] == "tool")
        .collect()
}

/// Searches once, then answers citing the first URL it was given.
fn searching_model(call: &ChatCall) -> Reply {
    assert!(call.tool("web_search").is_some(), "web_search offered");
    match tool_messages(call).last() {
        None => Reply::tool_calls(vec![("web_search", json!({"query": "rust 1.99 release"}))])
            .usage(100, 10),
        Some(result) => {
            let text = result["content"].as_str().unwrap_or("");
            let url = text
                .split_whitespace()
                .find(|w| w.starts_with("https://"))
                .unwrap_or("none");
            Reply::text(format!("Rust 1.99 adds async closures in traits ({url}).")).usage(300, 20)
        }
    }
}

/// A bridge with web search on for every request (config), at most 2 search rounds; the
/// mock looks like ClawRouter, so the upstream is called without streaming.
fn bridge_with_search(mock: &MockUpstream) -> BridgeGuard {
    bridge_with_search_streaming(mock, "auto")
}

/// The same, asking the upstream to stream (`always`) or not (`auto` for ClawRouter).
fn bridge_with_search_streaming(mock: &MockUpstream, stream: &str) -> BridgeGuard {
    BridgeGuard::start_with(&mock.base_url(), |file| {
        file.web_search = Some(clawrouter_codex::config::FileWebSearch {
            enabled: Some(true),
            max_rounds: Some(2),
            ..Default::default()
        });
        file.upstream.get_or_insert_with(Default::default).stream = Some(stream.to_owned());
    })
}

fn items_done(events: &[Value]) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["type"] == "response.output_item.done")
        .map(|e| e["item"].clone())
        .collect()
}

fn exa_requests(mock: &MockUpstream) -> Vec<RecordedRequest> {
    mock.requests()
        .into_iter()
        .filter(|r| r.route() == "/v1/exa/search")
        .collect()
}

#[test]
fn a_search_runs_and_the_answer_cites_its_result_in_every_result_shape() {
    for (shape, stream) in [(0, "auto"), (1, "auto"), (2, "auto"), (0, "always")] {
        let mock = MockUpstream::builder()
            .route(exa(results_shape(shape)))
            .start(|call: &ChatCall| searching_model(call).incremental(7));
        let bridge = bridge_with_search_streaming(&mock, stream);
        let answer = post_json(&bridge.url("/v1/responses"), &request(true));
        assert_eq!(answer.status, 200);
        let events = answer.events();
        let items = items_done(&events);
        let kinds: Vec<&str> = items.iter().map(|i| i["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            ["web_search_call", "reasoning", "message"],
            "shape {shape}"
        );
        assert_eq!(
            items[0],
            json!({"type": "web_search_call", "id": items[0]["id"], "status": "completed",
                   "action": {"type": "search", "query": "rust 1.99 release"}})
        );
        assert!(items[0]["id"].as_str().unwrap().starts_with("ws_"));
        assert_eq!(
            items[1]["summary"],
            json!([]),
            "the record carries no visible text"
        );
        assert!(items[2]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains(URL));
        let last = events.last().unwrap();
        assert_eq!(last["type"], "response.completed");
        assert_eq!(
            last["response"]["usage"]["input_tokens"], 400,
            "usage of both calls"
        );
        assert_eq!(last["response"]["usage"]["output_tokens"], 30);

        let exa = exa_requests(&mock);
        assert_eq!(exa.len(), 1);
        assert_eq!(
            exa[0].json.as_ref().unwrap(),
            &json!({"query": "rust 1.99 release", "numResults": 5})
        );
        let calls = mock.chat_calls();
        assert_eq!(calls.len(), 2, "one model call, one search, one model call");
        let second = calls[1].messages();
        let assistant = &second[second.len() - 2];
        assert_eq!(assistant["role"], "assistant");
        assert_eq!(assistant["tool_calls"][0]["function"]["name"], "web_search");
        let tool = &second[second.len() - 1];
        assert_eq!(tool["tool_call_id"], assistant["tool_calls"][0]["id"]);
        assert!(tool["content"]
            .as_str()
            .unwrap()
            .contains("Rust 1.99 released"));
        mock.assert_no_rejections();
    }
}

#[test]
fn the_hosted_tool_is_dropped_and_nothing_searches_when_off() {
    let mock = MockUpstream::builder()
        .route(exa(results_shape(0)))
        .start(|call: &ChatCall| {
            assert!(call.tool("web_search").is_none(), "no search offered");
            Reply::text("plain answer")
        });
    let bridge = BridgeGuard::start(&mock.base_url());
    let answer = post_json(&bridge.url("/v1/responses"), &request(true));
    assert_eq!(answer.status, 200);
    assert!(exa_requests(&mock).is_empty());
    assert_eq!(mock.chat_calls()[0].tool_names(), ["exec_command"]);
}

#[test]
fn the_x_web_search_header_turns_it_on_for_one_request() {
    let mock = MockUpstream::builder()
        .route(exa(results_shape(0)))
        .start(searching_model);
    let bridge = BridgeGuard::start(&mock.base_url());
    let body = request(true).to_string();
    let answer = post(
        &bridge.url("/v1/responses"),
        body.as_bytes(),
        &[("content-type", "application/json"), ("x-web-search", "1")],
    );
    assert_eq!(answer.status, 200);
    assert_eq!(exa_requests(&mock).len(), 1);
    assert!(answer.body.contains("web_search_call"));
}

#[test]
fn two_searches_in_one_model_call_both_run() {
    let mock = MockUpstream::builder()
        .route(exa(results_shape(0)))
        .start(|call: &ChatCall| match tool_messages(call).len() {
            0 => Reply::tool_calls(vec![
                ("web_search", json!({"query": "rust 1.99"})),
                (
                    "web_search",
                    json!({"query": "rust 1.99 async closures", "num_results": 2}),
                ),
            ]),
            _ => Reply::text("Both searched."),
        });
    let bridge = bridge_with_search(&mock);
    let events = post_json(&bridge.url("/v1/responses"), &request(true)).events();
    let searches: Vec<Value> = items_done(&events)
        .into_iter()
        .filter(|i| i["type"] == "web_search_call")
        .collect();
    assert_eq!(searches.len(), 2);
    assert_eq!(searches[1]["action"]["query"], "rust 1.99 async closures");
    let exa = exa_requests(&mock);
    assert_eq!(exa.len(), 2);
    assert!(exa
        .iter()
        .any(|r| r.json.as_ref().unwrap()["numResults"] == 2));
    assert_eq!(tool_messages(&mock.chat_calls()[1]).len(), 2);
}

#[test]
fn failing_searches_are_reported_to_the_model_and_the_answer_goes_on() {
    let failures: Vec<Reply> = vec![
        Reply::json(500, json!({"error": {"message": "Partner proxy error: fetch failed", "type": "partner_error"}})),
        Reply::clawrouter_error(402, json!({"error": {"message": "Insufficient USDC balance.", "type": "insufficient_funds"}}).to_string()),
        Reply::status(200, "text/html", "<html>oops</html>"),
        Reply::json(200, json!({"results": []})),
    ];
    for failure in failures {
        let reply = failure.clone();
        let mock = MockUpstream::builder()
            .route(move |req: &RecordedRequest| {
                (req.route() == "/v1/exa/search").then(|| reply.clone())
            })
            .start(|call: &ChatCall| match tool_messages(call).last() {
                None => Reply::tool_calls(vec![("web_search", json!({"query": "q"}))]),
                Some(result) => {
                    let said = result["content"].as_str().unwrap_or("");
                    assert!(said.contains("failed"), "{said}");
                    Reply::text("I could not search, but here is what I know.")
                }
            });
        let bridge = bridge_with_search(&mock);
        let events = post_json(&bridge.url("/v1/responses"), &request(true)).events();
        let items = items_done(&events);
        assert_eq!(items[0]["type"], "web_search_call");
        assert_eq!(items[0]["status"], "failed");
        assert_eq!(events.last().unwrap()["type"], "response.completed");
        assert_eq!(mock.chat_calls().len(), 2);
    }
}

#[test]
fn a_search_next_to_a_shell_call_runs_first_and_the_shell_call_goes_to_codex() {
    for stream in ["auto", "always"] {
        search_next_to_a_shell_call(stream);
    }
}

fn search_next_to_a_shell_call(stream: &str) {
    let mock = MockUpstream::builder()
        .route(exa(results_shape(0)))
        .start(|_: &ChatCall| {
            Reply::tool_calls(vec![
                ("web_search", json!({"query": "rust 1.99"})),
                ("exec_command", json!({"cmd": "rustc --version"})),
            ])
        });
    let bridge = bridge_with_search_streaming(&mock, stream);
    let events = post_json(&bridge.url("/v1/responses"), &request(true)).events();
    let items = items_done(&events);
    let kinds: Vec<&str> = items.iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["web_search_call", "reasoning", "function_call"]);
    assert_eq!(items[2]["name"], "exec_command");
    assert_eq!(
        mock.chat_calls().len(),
        1,
        "Codex runs the shell call, then calls again"
    );
    assert!(
        !events.iter().any(|e| e["item"]["name"] == "web_search"),
        "the search is never shown as a function call"
    );

    // The next turn: Codex sends everything back with the shell output. The model sees its
    // search call and result again, next to the shell call and its output.
    let mut input = request(true)["input"].as_array().unwrap().clone();
    input.extend(items.iter().cloned());
    input.push(
        json!({"type": "function_call_output", "call_id": items[2]["call_id"],
                      "output": "rustc 1.99.0"}),
    );
    let mut next = request(true);
    next["input"] = Value::Array(input);
    let answer = post_json(&bridge.url("/v1/responses"), &next);
    assert_eq!(answer.status, 200);
    let calls = mock.chat_calls();
    let messages = calls.last().unwrap().messages();
    let assistant = messages
        .iter()
        .find(|m| m["role"] == "assistant")
        .expect("the assistant turn");
    let names: Vec<&str> = assistant["tool_calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web_search", "exec_command"]);
    let tools: Vec<&Value> = messages.iter().filter(|m| m["role"] == "tool").collect();
    assert!(tools[0]["content"]
        .as_str()
        .unwrap()
        .contains("Rust 1.99 released"));
    assert_eq!(tools[1]["content"], "rustc 1.99.0");
    mock.assert_no_rejections();
}

#[test]
fn when_rounds_run_out_the_model_must_answer() {
    let mock = MockUpstream::builder()
        .route(exa(results_shape(0)))
        .start(|call: &ChatCall| {
            if call.body["tool_choice"] == "none" {
                Reply::text("Enough searching: here is the answer.")
            } else {
                Reply::tool_calls(vec![("web_search", json!({"query": "more"}))])
            }
        });
    let bridge = bridge_with_search(&mock); // max_rounds: 2
    let events = post_json(&bridge.url("/v1/responses"), &request(true)).events();
    assert_eq!(
        mock.chat_calls().len(),
        3,
        "two searching calls, then one that must answer"
    );
    assert_eq!(exa_requests(&mock).len(), 2);
    assert_eq!(mock.chat_calls()[2].body["tool_choice"], "none");
    assert_eq!(events.last().unwrap()["type"], "response.completed");
    let items = items_done(&events);
    assert!(items.last().unwrap()["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("here is the answer"));
}

#[test]
fn a_thinking_models_reasoning_is_kept_across_rounds() {
    let mock = MockUpstream::builder()
        .route(exa(results_shape(0)))
        .start(|call: &ChatCall| match tool_messages(call).len() {
            0 => Reply::tool_calls(vec![("web_search", json!({"query": "q"}))])
                .reasoning("I should look this up."),
            _ => {
                let assistant = call
                    .messages()
                    .iter()
                    .find(|m| m["role"] == "assistant")
                    .unwrap();
                assert_eq!(assistant["reasoning_content"], "I should look this up.");
                Reply::text("Done.").reasoning("Now I know.")
            }
        });
    let bridge = bridge_with_search(&mock);
    let events = post_json(&bridge.url("/v1/responses"), &request(true)).events();
    let reasoning: Vec<Value> = items_done(&events)
        .into_iter()
        .filter(|i| i["type"] == "reasoning" && i["summary"] != json!([]))
        .collect();
    assert_eq!(reasoning.len(), 2, "each model call's reasoning is shown");
    mock.assert_no_rejections();
}

#[test]
fn stream_false_clients_get_the_searches_in_the_response_object() {
    let mock = MockUpstream::builder()
        .route(exa(results_shape(1)))
        .start(searching_model);
    let bridge = bridge_with_search(&mock);
    let answer = post_json(&bridge.url("/v1/responses"), &request(false));
    assert_eq!(answer.status, 200, "{}", answer.body);
    let response = answer.json();
    assert_eq!(response["status"], "completed");
    let kinds: Vec<&str> = response["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["web_search_call", "reasoning", "message"]);
    assert_eq!(response["usage"]["input_tokens"], 400);
}

#[test]
fn a_client_that_leaves_mid_search_ends_the_search_at_once() {
    let searches = Arc::new(AtomicUsize::new(0));
    let counted = searches.clone();
    let mock = MockUpstream::builder()
        .route(move |req: &RecordedRequest| {
            (req.route() == "/v1/exa/search").then(|| {
                counted.fetch_add(1, Ordering::SeqCst);
                Reply::json(200, results_shape(0)).delayed(Duration::from_secs(20))
            })
        })
        .start(searching_model);
    let bridge = bridge_with_search(&mock);
    let body = request(true).to_string();
    {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(bridge.addr()).unwrap();
        write!(
            stream,
            "POST /v1/responses HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            bridge.addr(),
            body.len()
        )
        .unwrap();
        let mut buf = [0u8; 4096];
        let _ = stream.read(&mut buf).unwrap();
        assert!(
            mock.wait_until(Duration::from_secs(10), |reqs| reqs
                .iter()
                .any(|r| r.route() == "/v1/exa/search")),
            "the search started"
        );
    } // the client goes away here
    let dropped = mock.wait_until(Duration::from_secs(5), |reqs| {
        reqs.iter()
            .any(|r| r.route() == "/v1/exa/search" && r.client_disconnected)
    });
    assert!(dropped, "the bridge ended the search request");
    assert_eq!(mock.chat_calls().len(), 1, "no further model call");
    assert_eq!(searches.load(Ordering::SeqCst), 1);
}
