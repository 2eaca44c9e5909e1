//! Tests of the mock upstream itself (tests/common/mock_upstream): it must be
//! as strict as a real OpenAI-compatible server and reply exactly as scripted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::mock_upstream::{MockUpstream, Reply, Usage};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

// ---- helpers ----------------------------------------------------------------

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build()
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn into_resp(r: Result<ureq::Response, ureq::Error>) -> Resp {
    let r = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = r.status();
    let headers = r
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = r.header(&n).unwrap_or("").to_string();
            (n, v)
        })
        .collect();
    let body = r.into_string().expect("body");
    Resp {
        status,
        headers,
        body,
    }
}

fn post(url: &str, body: &Value) -> Resp {
    into_resp(
        agent()
            .post(url)
            .set("content-type", "application/json")
            .send_string(&body.to_string()),
    )
}

fn chat(mock: &MockUpstream, body: &Value) -> Resp {
    post(&format!("{}/chat/completions", mock.base_url()), body)
}

fn get(url: &str) -> Resp {
    into_resp(agent().get(url).call())
}

fn user(text: &str) -> Value {
    json!({"role": "user", "content": text})
}

fn good_request() -> Value {
    json!({
        "model": "blockrun/auto",
        "messages": [
            {"role": "system", "content": "You are Codex."},
            user("hello"),
        ],
    })
}

fn exec_tool() -> Value {
    json!({"type": "function", "function": {
        "name": "exec_command",
        "description": "Runs a command",
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]},
    }})
}

/// `data:` payloads and `: comment` lines of an SSE body, in order.
fn sse_lines(body: &str) -> Vec<String> {
    body.split("\n\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn sse_data(body: &str) -> Vec<Value> {
    sse_lines(body)
        .iter()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).expect("data is JSON"))
        .collect()
}

/// Sends raw bytes on a fresh connection and reads until EOF (or error).
fn raw_exchange(mock: &MockUpstream, bytes: &[u8]) -> (Vec<u8>, Option<std::io::Error>) {
    let mut s = TcpStream::connect(mock.addr()).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).expect("write");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, Some(e)),
        }
    }
}

fn post_bytes(body: &str) -> Vec<u8> {
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

// ---- strictness ---------------------------------------------------------------

#[test]
fn accepts_a_good_request_and_answers_as_scripted() {
    let mock = MockUpstream::start(|_| Reply::text("Hi there"));
    let r = chat(&mock, &good_request());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.header("x-context-used-kb").is_some());
    assert_eq!(r.header("x-context-limit-kb"), Some("5120"));
    assert_eq!(
        r.header("x-clawrouter-model"),
        Some("deepseek/deepseek-v4-pro")
    );
    let v = r.json();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "deepseek/deepseek-v4-pro");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["message"]["content"], "Hi there");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert!(v["usage"]["cost"]["total"].is_number());

    let calls = mock.chat_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].index, 0);
    assert_eq!(calls[0].model(), "blockrun/auto");
    assert_eq!(calls[0].header("content-type"), Some("application/json"));
    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].status, Some(200));
    assert!(reqs[0].rejected.is_none());
    // `finished` is set after the last byte is written: the client may be faster
    assert!(mock.wait_until(Duration::from_secs(2), |r| r[0].finished));
    mock.assert_no_rejections();
}

#[test]
fn explicit_model_is_echoed_without_the_blockrun_prefix() {
    let mock = MockUpstream::start(|_| Reply::text("ok"));
    let mut body = good_request();
    body["model"] = json!("blockrun/openai/gpt-5.2");
    let r = chat(&mock, &body);
    assert_eq!(r.json()["model"], "openai/gpt-5.2");
    assert!(r.header("x-clawrouter-model").is_none());
}

#[test]
fn accepts_a_full_tool_history() {
    let mock = MockUpstream::start(|_| Reply::text("ok"));
    let body = json!({
        "model": "auto",
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "developer", "content": [{"type": "text", "text": "dev"}]},
            {"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "high"}},
            ]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "mcp__demo__add_numbers", "arguments": "{}"}},
            ]},
            {"role": "tool", "tool_call_id": "call_2", "content": "5"},
            {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "a.txt"}]},
            {"role": "assistant", "content": "done"},
            user("thanks"),
        ],
        "tools": [exec_tool(), {"type": "function", "function": {"name": "mcp__demo__add_numbers", "parameters": {"type": "object"}}}],
        "tool_choice": "auto",
        "parallel_tool_calls": true,
        "stream": true,
        "stream_options": {"include_usage": true},
        "max_tokens": 100,
        "temperature": 0.2,
        "top_p": 1,
        "reasoning_effort": "low",
        "response_format": {"type": "text"},
        "user": "u",
    });
    let r = chat(&mock, &body);
    assert_eq!(r.status, 200, "{}", r.body);
    mock.assert_no_rejections();
    assert_eq!(
        mock.chat_calls()[0].tool_names(),
        ["exec_command", "mcp__demo__add_numbers"]
    );
}

/// Each case: (description, request body, expected `param`).
fn violations() -> Vec<(&'static str, Value, Option<&'static str>)> {
    let mut v: Vec<(&'static str, Value, Option<&'static str>)> = Vec::new();
    for param in [
        "input",
        "instructions",
        "reasoning",
        "include",
        "text",
        "prompt_cache_key",
        "client_metadata",
        "previous_response_id",
        "max_output_tokens",
        "store",
        "made_up",
    ] {
        let mut b = good_request();
        b[param] = json!("x");
        v.push(("unknown top-level parameter", b, Some(param)));
    }
    v.push((
        "missing model",
        json!({"messages": [user("hi")]}),
        Some("model"),
    ));
    v.push((
        "empty model",
        json!({"model": "", "messages": [user("hi")]}),
        Some("model"),
    ));
    v.push((
        "missing messages",
        json!({"model": "auto"}),
        Some("messages"),
    ));
    v.push((
        "empty messages",
        json!({"model": "auto", "messages": []}),
        Some("messages"),
    ));
    v.push(("not an object", json!([1, 2]), None));
    for role in ["function", "model", "bogus"] {
        v.push((
            "invalid role",
            json!({"model": "auto", "messages": [{"role": role, "content": "x"}]}),
            Some("messages[0].role"),
        ));
    }
    v.push((
        "missing role",
        json!({"model": "auto", "messages": [{"content": "x"}]}),
        Some("messages[0].role"),
    ));
    v.push((
        "Responses content part",
        json!({"model": "auto", "messages": [{"role": "user", "content": [{"type": "input_text", "text": "x"}]}]}),
        Some("messages[0].content[0].type"),
    ));
    v.push((
        "image in a system message",
        json!({"model": "auto", "messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "data:x"}}]}, user("x")]}),
        Some("messages[0].content[0].type"),
    ));
    v.push((
        "text part without text",
        json!({"model": "auto", "messages": [{"role": "user", "content": [{"type": "text"}]}]}),
        Some("messages[0].content[0]"),
    ));
    v.push((
        "user message without content",
        json!({"model": "auto", "messages": [{"role": "user"}]}),
        Some("messages[0].content"),
    ));
    for name in ["mcp__demo.add", "has space", "ünïcode", ""] {
        let mut b = good_request();
        b["tools"] = json!([{"type": "function", "function": {"name": name}}]);
        v.push(("bad tool name in tools", b, Some("tools[0].function.name")));
    }
    let mut b = good_request();
    b["tools"] = json!([{"type": "function", "function": {"name": "a".repeat(65)}}]);
    v.push(("65-char tool name", b, Some("tools[0].function.name")));
    let mut b = good_request();
    b["tools"] = json!([exec_tool(), {"type": "custom", "name": "apply_patch"}]);
    v.push(("custom tool type", b, Some("tools[1].type")));
    let mut b = good_request();
    b["tools"] = json!([{"type": "web_search"}]);
    v.push(("hosted tool type", b, Some("tools[0].type")));
    let mut b = good_request();
    b["tools"] = json!([{"type": "function", "name": "flat_responses_style", "parameters": {}}]);
    v.push(("tool without function", b, Some("tools[0].function")));
    let mut b = good_request();
    b["tools"] = json!([{"type": "function", "function": {"description": "nameless"}}]);
    v.push((
        "tool without function.name",
        b,
        Some("tools[0].function.name"),
    ));

    let call = |id: &str, name: &str, args: Value| json!({"id": id, "type": "function", "function": {"name": name, "arguments": args}});
    let assistant_calls =
        |calls: Vec<Value>| json!({"role": "assistant", "content": "", "tool_calls": calls});
    v.push((
        "bad tool name in assistant tool_calls",
        json!({"model": "auto", "messages": [user("x"),
            assistant_calls(vec![call("c1", "mcp__demo/add", json!("{}"))]),
            {"role": "tool", "tool_call_id": "c1", "content": "ok"}]}),
        Some("messages[1].tool_calls[0].function.name"),
    ));
    v.push((
        "tool_call arguments not a string",
        json!({"model": "auto", "messages": [user("x"),
            assistant_calls(vec![call("c1", "exec_command", json!({"cmd": "ls"}))]),
            {"role": "tool", "tool_call_id": "c1", "content": "ok"}]}),
        Some("messages[1].tool_calls[0].function.arguments"),
    ));
    v.push((
        "tool_calls followed by a user message",
        json!({"model": "auto", "messages": [user("x"),
            assistant_calls(vec![call("c1", "exec_command", json!("{}"))]),
            user("y")]}),
        Some("messages"),
    ));
    v.push((
        "one of two calls unanswered before the next assistant message",
        json!({"model": "auto", "messages": [user("x"),
            assistant_calls(vec![call("c1", "exec_command", json!("{}")), call("c2", "exec_command", json!("{}"))]),
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
            {"role": "assistant", "content": "done"}]}),
        Some("messages"),
    ));
    v.push((
        "tool_calls unanswered at the end",
        json!({"model": "auto", "messages": [user("x"),
            assistant_calls(vec![call("c1", "exec_command", json!("{}"))])]}),
        Some("messages"),
    ));
    v.push((
        "tool message answering no pending call",
        json!({"model": "auto", "messages": [user("x"),
            assistant_calls(vec![call("c1", "exec_command", json!("{}"))]),
            {"role": "tool", "tool_call_id": "c9", "content": "ok"}]}),
        Some("messages[2].tool_call_id"),
    ));
    v.push((
        "tool message without any tool_calls",
        json!({"model": "auto", "messages": [user("x"),
            {"role": "tool", "tool_call_id": "c1", "content": "ok"}]}),
        Some("messages[1].tool_call_id"),
    ));
    v.push((
        "tool message answering the same call twice",
        json!({"model": "auto", "messages": [user("x"),
            assistant_calls(vec![call("c1", "exec_command", json!("{}"))]),
            {"role": "tool", "tool_call_id": "c1", "content": "ok"},
            {"role": "tool", "tool_call_id": "c1", "content": "again"}]}),
        Some("messages[3].tool_call_id"),
    ));
    v.push((
        "image in a tool message",
        json!({"model": "auto", "messages": [user("x"),
            assistant_calls(vec![call("c1", "view_image", json!("{}"))]),
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "image_url", "image_url": {"url": "data:x"}}]}]}),
        Some("messages[2].content[0].type"),
    ));
    let mut b = good_request();
    b["stream_options"] = json!({"include_usage": true});
    v.push((
        "stream_options without stream",
        b.clone(),
        Some("stream_options"),
    ));
    b["stream"] = json!(false);
    v.push((
        "stream_options with stream false",
        b,
        Some("stream_options"),
    ));
    let mut b = good_request();
    b["tool_choice"] = json!("auto");
    v.push(("tool_choice without tools", b, Some("tool_choice")));
    let mut b = good_request();
    b["parallel_tool_calls"] = json!(true);
    v.push((
        "parallel_tool_calls without tools",
        b,
        Some("parallel_tool_calls"),
    ));
    let mut b = good_request();
    b["tools"] = json!([exec_tool()]);
    b["tool_choice"] = json!({"type": "function", "function": {"name": "apply_patch"}});
    v.push(("tool_choice naming an absent tool", b, Some("tool_choice")));
    v
}

#[test]
fn rejects_every_strictness_violation_with_an_openai_400() {
    let mock = MockUpstream::start(|_| panic!("script must not see invalid requests"));
    let cases = violations();
    for (what, body, param) in &cases {
        let r = chat(&mock, body);
        assert_eq!(
            r.status, 400,
            "{what}: expected 400, got {} {}",
            r.status, r.body
        );
        let v = r.json();
        let err = &v["error"];
        assert_eq!(err["type"], "invalid_request_error", "{what}: {v}");
        assert!(
            err["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {v}"
        );
        assert!(err.get("code").is_some(), "{what}: code key present");
        assert_eq!(err["param"].as_str(), *param, "{what}: {v}");
    }
    assert!(mock.chat_calls().is_empty());
    let reqs = mock.requests();
    assert_eq!(reqs.len(), cases.len());
    assert!(reqs
        .iter()
        .all(|r| r.status == Some(400) && r.rejected.is_some() && r.chat_index.is_none()));
    assert_eq!(mock.rejections().len(), cases.len());
}

#[test]
fn rejects_invalid_json_and_content_encoding() {
    let mock = MockUpstream::start(|_| Reply::text("ok"));
    let url = format!("{}/chat/completions", mock.base_url());
    let r = into_resp(
        agent()
            .post(&url)
            .set("content-type", "application/json")
            .send_string("{not json"),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    let r = into_resp(
        agent()
            .post(&url)
            .set("content-type", "application/json")
            .set("content-encoding", "zstd")
            .send_string(&good_request().to_string()),
    );
    assert_eq!(r.status, 400);
    assert!(r.body.contains("content-encoding"), "{}", r.body);
    assert_eq!(mock.rejections().len(), 2);
    assert!(mock.chat_calls().is_empty());
}

#[test]
fn builder_relaxations_work() {
    let mock = MockUpstream::builder()
        .allow_param("cache")
        .images_in_tool_messages()
        .start(|_| Reply::text("ok"));
    let mut b = good_request();
    b["cache"] = json!(false);
    assert_eq!(chat(&mock, &b).status, 200);
    let b = json!({"model": "auto", "messages": [user("x"),
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "view_image", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": [{"type": "image_url", "image_url": {"url": "data:x"}}]}]});
    assert_eq!(chat(&mock, &b).status, 200);
}

// ---- scripted replies -------------------------------------------------------------

#[test]
fn replies_follow_the_script_by_index() {
    let mock = MockUpstream::start(|call| Reply::text(format!("answer {}", call.index)));
    for i in 0..3 {
        let v = chat(&mock, &good_request()).json();
        assert_eq!(v["choices"][0]["message"]["content"], format!("answer {i}"));
    }
    let idx: Vec<usize> = mock.chat_calls().iter().map(|c| c.index).collect();
    assert_eq!(idx, [0, 1, 2]);
}

#[test]
fn tool_calls_are_clawrouter_shaped() {
    let mock = MockUpstream::start(|_| {
        Reply::tool_calls(vec![
            ("exec_command", json!({"cmd": "echo hi > a.txt"})),
            (
                "apply_patch",
                json!({"input": "*** Begin Patch\n*** End Patch\n"}),
            ),
        ])
        .usage(1200, 40)
    });
    let mut body = good_request();
    body["tools"] = json!([exec_tool()]);
    let v = chat(&mock, &body).json();
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], "");
    let calls = choice["message"]["tool_calls"].as_array().unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["type"], "function");
    assert_eq!(calls[0]["function"]["name"], "exec_command");
    let args = calls[0]["function"]["arguments"]
        .as_str()
        .expect("string arguments");
    assert_eq!(
        serde_json::from_str::<Value>(args).unwrap(),
        json!({"cmd": "echo hi > a.txt"})
    );
    let id = calls[0]["id"].as_str().unwrap();
    assert!(id.starts_with("call_") && id.len() == 21, "{id}");
    assert_ne!(calls[0]["id"], calls[1]["id"]);
    assert_eq!(v["usage"]["prompt_tokens"], 1200);
    assert_eq!(v["usage"]["completion_tokens"], 40);
    assert_eq!(v["usage"]["total_tokens"], 1240);
}

#[test]
fn text_and_tool_calls_keep_the_text() {
    let mock = MockUpstream::start(|_| {
        Reply::text_and_tool_calls("Let me look.", vec![("exec_command", json!({"cmd": "ls"}))])
            .reasoning("thinking…")
            .usage_details(64, 12)
    });
    let v = chat(&mock, &good_request()).json();
    let msg = &v["choices"][0]["message"];
    assert_eq!(msg["content"], "Let me look.");
    assert_eq!(msg["tool_calls"][0]["function"]["name"], "exec_command");
    assert_eq!(msg["reasoning_content"], "thinking…");
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 64);
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"],
        12
    );
}

#[test]
fn modifiers_change_model_finish_reason_usage_and_headers() {
    let mock = MockUpstream::start(|_| {
        Reply::text("cut")
            .model("anthropic/claude-sonnet-4.6")
            .finish_reason("length")
            .no_usage()
            .header("x-extra", "1")
    });
    let r = chat(&mock, &good_request());
    assert_eq!(r.header("x-extra"), Some("1"));
    let v = r.json();
    assert_eq!(v["model"], "anthropic/claude-sonnet-4.6");
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    assert!(v.get("usage").is_none());
}

#[test]
fn wallet_empty_notice_prefixes_the_content() {
    let mock = MockUpstream::start(|_| Reply::text("hello").wallet_empty());
    let v = chat(&mock, &good_request()).json();
    let content = v["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(content.starts_with("> **⚠️ Wallet empty**"), "{content}");
    assert!(content.ends_with("hello"));
    assert_eq!(v["model"], "free/gpt-oss-120b");
}

#[test]
fn replies_list_and_script_panics_fail_the_test_on_drop() {
    let mock = MockUpstream::replies(vec![Reply::text("one")]);
    assert_eq!(chat(&mock, &good_request()).status, 200);
    let r = chat(&mock, &good_request());
    assert_eq!(r.status, 500);
    assert!(
        r.body.contains("no scripted reply for chat call #1"),
        "{}",
        r.body
    );
    assert_eq!(mock.rejections().len(), 1);
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(mock)));
    assert!(
        dropped.is_err(),
        "dropping a mock whose script panicked must panic"
    );
}

// ---- streaming --------------------------------------------------------------------

fn stream_request() -> Value {
    let mut b = good_request();
    b["stream"] = json!(true);
    b["stream_options"] = json!({"include_usage": true});
    b
}

#[test]
fn streams_like_clawrouter() {
    let mock = MockUpstream::start(|_| {
        Reply::text_and_tool_calls(
            "All the text at once",
            vec![("exec_command", json!({"cmd": "ls"}))],
        )
        .reasoning("dropped when streaming")
    });
    let mut body = stream_request();
    body.as_object_mut().unwrap().remove("stream_options");
    let r = chat(&mock, &body);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    assert!(r.header("x-context-used-kb").is_some());
    let lines = sse_lines(&r.body);
    assert_eq!(lines[0], ": heartbeat");
    assert!(lines[1].starts_with(": x-clawrouter-debug"), "{}", lines[1]);
    assert_eq!(lines.last().unwrap(), "data: [DONE]");
    assert!(lines[lines.len() - 2].starts_with(": cost=$"));
    let data = sse_data(&r.body);
    assert!(data.iter().all(|c| c["object"] == "chat.completion.chunk"));
    assert!(data
        .iter()
        .all(|c| c["model"] == "deepseek/deepseek-v4-pro"));
    assert_eq!(data[0]["choices"][0]["delta"], json!({"role": "assistant"}));
    let contents: Vec<&Value> = data
        .iter()
        .filter_map(|c| c["choices"].get(0)?.get("delta")?.get("content"))
        .collect();
    assert_eq!(
        contents,
        [&json!("All the text at once")],
        "exactly one content delta"
    );
    let tc: Vec<&Value> = data
        .iter()
        .filter_map(|c| c["choices"].get(0)?.get("delta")?.get("tool_calls"))
        .collect();
    assert_eq!(tc.len(), 1);
    assert!(
        tc[0][0].get("index").is_none(),
        "ClawRouter omits index: {}",
        tc[0]
    );
    assert_eq!(tc[0][0]["function"]["name"], "exec_command");
    assert_eq!(tc[0][0]["function"]["arguments"], "{\"cmd\":\"ls\"}");
    assert!(!r.body.contains("reasoning_content"));
    let finish = &data[data.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(finish["choices"][0]["delta"], json!({}));
    let usage = data.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert!(usage["usage"]["cost"]["total"].is_number());
    assert!(mock.wait_until(Duration::from_secs(2), |r| r[0].finished));
}

#[test]
fn stream_pacing_sends_heartbeats_while_waiting() {
    let mock = MockUpstream::start(|_| {
        Reply::text("late")
            .model("openai/gpt-5.2")
            .stream_wait(Duration::from_millis(450), Duration::from_millis(100))
            .chunk_delay(Duration::from_millis(50))
    });
    let mut body = stream_request();
    body["model"] = json!("openai/gpt-5.2");
    let t = Instant::now();
    let r = chat(&mock, &body);
    let elapsed = t.elapsed();
    // 4 answer chunks (role, content, finish, usage): 3 pauses between them
    assert!(
        elapsed >= Duration::from_millis(450 + 3 * 50),
        "{elapsed:?}"
    );
    let beats = sse_lines(&r.body)
        .iter()
        .filter(|l| *l == ": heartbeat")
        .count();
    assert!((3..=7).contains(&beats), "{beats} heartbeats in {}", r.body);
    assert!(
        !r.body.contains("x-clawrouter-debug"),
        "explicit model: no profile comments"
    );
}

#[test]
fn incremental_streams_are_openai_shaped() {
    let mock = MockUpstream::start(|_| {
        Reply::text_and_tool_calls("abcdefgh", vec![("exec_command", json!({"cmd": "ls"}))])
            .reasoning("hmm")
            .incremental(3)
    });
    let r = chat(&mock, &stream_request());
    assert!(
        sse_lines(&r.body)[0].starts_with("data: "),
        "no heartbeat comments"
    );
    let data = sse_data(&r.body);
    let text: String = data
        .iter()
        .filter_map(|c| c["choices"].get(0)?["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "abcdefgh");
    let pieces = data
        .iter()
        .filter(|c| {
            c["choices"].get(0).is_some_and(|ch| {
                ch["delta"]["content"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty())
            })
        })
        .count();
    assert_eq!(pieces, 3);
    let reasoning: String = data
        .iter()
        .filter_map(|c| c["choices"].get(0)?["delta"]["reasoning_content"].as_str())
        .collect();
    assert_eq!(reasoning, "hmm");
    let args: String = data
        .iter()
        .filter_map(|c| c["choices"].get(0)?["delta"]["tool_calls"].get(0))
        .inspect(|t| assert_eq!(t["index"], 0))
        .filter_map(|t| t["function"]["arguments"].as_str())
        .collect();
    assert_eq!(args, "{\"cmd\":\"ls\"}");
    assert_eq!(
        data.last().unwrap()["choices"],
        json!([]),
        "usage requested"
    );

    // without include_usage: no usage chunk
    let mut body = stream_request();
    body.as_object_mut().unwrap().remove("stream_options");
    let data = sse_data(&chat(&mock, &body).body);
    assert!(data.iter().all(|c| c.get("usage").is_none()));
}

// ---- errors -----------------------------------------------------------------------

#[test]
fn clawrouter_errors_as_json_and_in_streams() {
    let mock = MockUpstream::start(|call| match call.index {
        0 | 1 => Reply::insufficient_funds(),
        2 => Reply::rate_limited(),
        3 => Reply::context_length_exceeded(),
        4 | 5 => Reply::fetch_failed(502),
        _ => Reply::text("unused"),
    });
    let r = chat(&mock, &good_request());
    assert_eq!(r.status, 402);
    let v = r.json();
    assert_eq!(v["error"]["type"], "insufficient_funds");
    assert!(v["error"]["help"].as_str().unwrap().contains("Fund wallet"));

    let r = chat(&mock, &stream_request());
    assert_eq!(r.status, 200, "ClawRouter streams errors under 200");
    let data = sse_data(&r.body);
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["error"]["type"], "insufficient_funds");
    assert!(r.body.trim_end().ends_with("data: [DONE]"));

    let r = chat(&mock, &good_request());
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_none());
    assert_eq!(r.json()["error"]["code"], "rate_limit_exceeded");

    let r = chat(&mock, &good_request());
    assert_eq!(r.status, 400);
    let v = r.json();
    assert_eq!(v["error"]["code"], "context_length_exceeded");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("This model's maximum context length is 128000 tokens"));

    let r = chat(&mock, &good_request());
    assert_eq!(r.status, 502);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body, "fetch failed");

    let r = chat(&mock, &stream_request());
    assert_eq!(r.status, 200);
    assert_eq!(
        sse_data(&r.body),
        [json!({"error": {"message": "fetch failed", "type": "provider_error", "status": 500}})]
    );
}

#[test]
fn raw_status_replies_are_sent_as_given() {
    let mock = MockUpstream::start(|call| match call.index {
        0 => Reply::json(503, json!({"error": {"message": "busy"}})),
        1 => Reply::plain(500, "This operation was aborted"),
        2 => Reply::status(401, "text/plain", "nope"),
        _ => Reply::sse_error(json!({"message": "boom", "type": "provider_error"})),
    });
    let r = chat(&mock, &stream_request());
    assert_eq!(
        (r.status, r.json()["error"]["message"].as_str()),
        (503, Some("busy"))
    );
    let r = chat(&mock, &good_request());
    assert_eq!(
        (r.status, r.body.as_str()),
        (500, "This operation was aborted")
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    let r = chat(&mock, &good_request());
    assert_eq!(
        (r.status, r.header("content-type")),
        (401, Some("text/plain"))
    );
    let r = chat(&mock, &good_request());
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert_eq!(sse_data(&r.body)[0]["error"]["message"], "boom");
    assert!(r.body.contains("data: [DONE]"));
}

#[test]
fn delayed_replies_wait() {
    let mock = MockUpstream::start(|_| Reply::text("slow").delayed(Duration::from_millis(300)));
    let t = Instant::now();
    assert_eq!(chat(&mock, &good_request()).status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
}

#[test]
fn close_mid_body_truncates_json_and_streams() {
    let mock = MockUpstream::start(|_| Reply::close_mid_body());
    let (out, _) = raw_exchange(&mock, &post_bytes(&good_request().to_string()));
    let text = String::from_utf8_lossy(&out);
    let (head, body) = text.split_once("\r\n\r\n").expect("headers arrive");
    assert!(head.starts_with("HTTP/1.1 200"));
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .expect("content-length")
        .parse()
        .unwrap();
    assert!(
        !body.is_empty() && body.len() < len,
        "{} of {len}",
        body.len()
    );

    let (out, _) = raw_exchange(&mock, &post_bytes(&stream_request().to_string()));
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("text/event-stream") && text.contains(": heartbeat"));
    assert!(text.contains("\"role\":\"assistant\""));
    assert!(!text.contains("[DONE]") && !text.ends_with("0\r\n\r\n"));
}

#[test]
fn hang_up_reset_and_garbage() {
    let mock = MockUpstream::start(|call| match call.index {
        0 => Reply::hang_up(),
        1 => Reply::reset(),
        _ => Reply::garbage(b"\x00\xffthis is not HTTP\r\n".to_vec()),
    });
    let req = post_bytes(&good_request().to_string());
    let (out, err) = raw_exchange(&mock, &req);
    assert!(out.is_empty() && err.is_none(), "clean EOF without a byte");
    let (out, err) = raw_exchange(&mock, &req);
    assert!(out.is_empty());
    assert_eq!(
        err.map(|e| e.kind()),
        Some(std::io::ErrorKind::ConnectionReset),
        "RST"
    );
    let (out, _) = raw_exchange(&mock, &req);
    assert_eq!(out, b"\x00\xffthis is not HTTP\r\n");
    assert!(mock.wait_until(Duration::from_secs(2), |r| r.len() == 3
        && r.iter().all(|r| r.status.is_none() && r.finished)));
}

#[test]
fn detects_a_client_that_goes_away_mid_stream() {
    let mock = MockUpstream::start(|_| {
        Reply::text("never delivered")
            .stream_wait(Duration::from_secs(5), Duration::from_millis(50))
    });
    let mut s = TcpStream::connect(mock.addr()).unwrap();
    s.write_all(&post_bytes(&stream_request().to_string()))
        .unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let t = Instant::now();
    drop(s);
    assert!(mock.wait_until(Duration::from_secs(2), |r| r
        .first()
        .is_some_and(|r| r.client_disconnected)));
    assert!(t.elapsed() < Duration::from_secs(2));
    assert!(!mock.requests()[0].finished);
}

// ---- HTTP plumbing ----------------------------------------------------------------

#[test]
fn accepts_chunked_request_bodies() {
    let mock = MockUpstream::start(|_| Reply::text("ok"));
    let body = good_request().to_string();
    let (a, b) = body.split_at(10);
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\n\r\n",
        a.len(),
        b.len()
    );
    let (out, _) = raw_exchange(&mock, req.as_bytes());
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 200"));
    assert_eq!(mock.requests()[0].body, body.as_bytes());
    assert_eq!(mock.chat_calls()[0].body, good_request());

    // ureq sends a reader without a known length chunked, too
    let r = into_resp(
        agent()
            .post(&format!("{}/chat/completions", mock.base_url()))
            .set("content-type", "application/json")
            .set("transfer-encoding", "chunked")
            .send(body.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        mock.requests()[1].header("transfer-encoding"),
        Some("chunked")
    );
}

#[test]
fn keeps_connections_alive() {
    let mock = MockUpstream::start(|call| Reply::text(format!("n{}", call.index)));
    let mut s = TcpStream::connect(mock.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let body = good_request().to_string();
    for i in 0..3 {
        s.write_all(&post_bytes(&body)).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let (head_len, len) = loop {
            let n = s.read(&mut chunk).unwrap();
            assert!(n > 0, "connection closed after {i} responses");
            buf.extend_from_slice(&chunk[..n]);
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut resp = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(h) = resp.parse(&buf).unwrap() {
                assert_eq!(resp.code, Some(200));
                let len = resp
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .map(|h| {
                        std::str::from_utf8(h.value)
                            .unwrap()
                            .parse::<usize>()
                            .unwrap()
                    })
                    .unwrap();
                break (h, len);
            }
        };
        while buf.len() < head_len + len {
            let n = s.read(&mut chunk).unwrap();
            buf.extend_from_slice(&chunk[..n]);
        }
        let v: Value = serde_json::from_slice(&buf[head_len..head_len + len]).unwrap();
        assert_eq!(v["choices"][0]["message"]["content"], format!("n{i}"));
    }
}

#[test]
fn answers_malformed_http_with_400() {
    let mock = MockUpstream::start(|_| Reply::text("ok"));
    let (out, _) = raw_exchange(&mock, b"NOT A REQUEST LINE\x01\r\n\r\n");
    assert!(String::from_utf8_lossy(&out).starts_with("HTTP/1.1 400"));
    assert_eq!(mock.rejections().len(), 1);
}

// ---- other routes -------------------------------------------------------------------

#[test]
fn models_health_and_echo() {
    let mock = MockUpstream::builder()
        .balance_usd(Some(0.0))
        .start(|_| Reply::text("ok"));
    let v = get(&format!("{}/models", mock.base_url())).json();
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"auto") && ids.iter().any(|i| i.contains('/')));
    assert!(!ids.contains(&"blockrun/auto"));
    let first = v["data"][0].as_object().unwrap();
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["created", "id", "object", "owned_by"]);

    let h = get(&format!("{}/health", mock.origin())).json();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["paymentChain"], "base");
    assert!(h["wallet"].as_str().unwrap().starts_with("0x"));
    assert!(h.get("balance").is_none());
    let h = get(&format!("{}/health?full=true", mock.origin())).json();
    assert_eq!(h["balance"], "$0.00");
    assert_eq!(h["isLow"], true);
    assert_eq!(h["isEmpty"], true);

    let r = into_resp(
        agent()
            .post(&format!("{}/exa/search?x=1", mock.base_url()))
            .set("x-test", "yes")
            .send_string("{\"query\":\"rust\"}"),
    );
    assert_eq!(r.status, 200);
    let e = r.json();
    assert_eq!(e["method"], "POST");
    assert_eq!(e["path"], "/v1/exa/search?x=1");
    assert_eq!(e["headers"]["x-test"], "yes");
    assert_eq!(e["body"], "{\"query\":\"rust\"}");
    assert_eq!(e["json"]["query"], "rust");

    let r = get(&format!("{}/nowhere", mock.origin()));
    assert_eq!((r.status, r.json()), (404, json!({"error": "Not found"})));

    let no_balance = MockUpstream::builder()
        .balance_usd(None)
        .start(|_| Reply::text("ok"));
    let h = get(&format!("{}/health?full=true", no_balance.origin())).json();
    assert_eq!(h["balanceError"], "Could not fetch balance");
    assert!(h.get("balance").is_none());

    // A new ClawRouter wallet pays on Solana; `wallet` stays the EVM address.
    let solana = MockUpstream::builder()
        .pays_on_solana()
        .start(|_| Reply::text("ok"));
    let h = get(&format!("{}/health", solana.origin())).json();
    assert_eq!(h["paymentChain"], "solana");
    assert_eq!(h["solana"], common::mock_upstream::SOLANA_WALLET);
    assert!(h["wallet"].as_str().unwrap().starts_with("0x"));
}

#[test]
fn stats_start_empty_like_a_fresh_clawrouter() {
    let mock = MockUpstream::start(|_| Reply::text("ok"));
    let r = get(&format!("{}/stats?days=7", mock.origin()));
    assert_eq!(r.status, 200);
    assert!(
        r.body.contains("\n  \"period\""),
        "pretty-printed: {}",
        r.body
    );
    assert_eq!(
        r.json(),
        json!({"period":"last 7 days","totalRequests":0,"totalCost":0,"totalBaselineCost":0,
               "totalSavings":0,"savingsPercentage":0,"avgLatencyMs":0,"avgCostPerRequest":0,
               "byTier":{},"byModel":{},"dailyBreakdown":[],"entriesWithBaseline":0,
               "providerErrors":{}})
    );
}

#[test]
fn stats_aggregate_the_newest_log_files_oldest_first() {
    let model = "deepseek/deepseek-v4-pro";
    let mock = MockUpstream::builder()
        .usage(
            ["2026-11-01", "2026-11-03", "2026-11-02", "2026-11-03"]
                .iter()
                .map(|day| Usage::routed(day, model, 0.25))
                .collect(),
        )
        .provider_error(model, "rate_limited", 2)
        .start(|_| Reply::text("ok"));
    let stats = |query: &str| get(&format!("{}/stats{query}", mock.origin())).json();
    let two = stats("?days=2");
    assert_eq!(two["period"], "last 2 days");
    let dates: Vec<&str> = two["dailyBreakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap())
        .collect();
    assert_eq!(
        dates,
        ["2026-11-02", "2026-11-03"],
        "newest files, oldest first"
    );
    assert_eq!(two["totalRequests"], 3);
    assert_eq!(two["totalCost"], 0.75);
    assert_eq!(two["totalSavings"], 14.25);
    assert_eq!(two["savingsPercentage"], 95);
    assert_eq!(two["dailyBreakdown"][1]["totalRequests"], 2);
    assert_eq!(
        two["dailyBreakdown"][1]["byModel"][model],
        json!({"count": 2, "cost": 0.5})
    );
    assert_eq!(two["byModel"][model]["percentage"], 100);
    assert_eq!(two["providerErrors"][model]["rate_limited"], 2);
    assert_eq!(two["providerErrors"][model]["server_error"], 0);
    assert_eq!(stats("?days=1")["period"], "today");
    // ClawRouter's reading of `days`: not a positive number → 7; at most 30.
    assert_eq!(stats("")["period"], "last 7 days");
    assert_eq!(stats("?days=-1")["period"], "last 7 days");
    assert_eq!(stats("?days=abc")["totalRequests"], 4);
    assert_eq!(stats("?days=90")["period"], "last 30 days");
}

#[test]
fn custom_routes_override_the_defaults() {
    let mock = MockUpstream::builder()
        .route(|r| {
            (r.route() == "/v1/models")
                .then(|| Reply::plain(502, "All models in fallback chain failed"))
        })
        .start(|_| Reply::text("ok"));
    let r = get(&format!("{}/models", mock.base_url()));
    assert_eq!(
        (r.status, r.body.as_str()),
        (502, "All models in fallback chain failed")
    );
    assert_eq!(get(&format!("{}/health", mock.origin())).status, 200);
}

#[test]
fn stops_on_drop() {
    let mock = MockUpstream::start(|_| Reply::text("ok"));
    let addr = mock.addr();
    // an idle keep-alive connection must not keep the mock alive
    let _idle = TcpStream::connect(addr).unwrap();
    assert_eq!(chat(&mock, &good_request()).status, 200);
    drop(mock);
    std::thread::sleep(Duration::from_millis(50));
    assert!(TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_err());
}

#[test]
fn clawrouter_whitespace_rules_as_clawrouter_applies_them() {
    use common::mock_upstream::clawrouter::normalize_whitespace as n;
    assert_eq!(n("all:\n\tcc main.c\n"), "all:\n  cc main.c");
    assert_eq!(n("a\r\nb\rc"), "a\nb\nc");
    assert_eq!(n("a\n\n\n\nb"), "a\n\nb");
    assert_eq!(n("x = 1   \ny"), "x = 1\ny");
    assert_eq!(n("x  =  1"), "x = 1");
    assert_eq!(n("if x:\n    y()"), "if x:\n  y()");
    assert_eq!(n("fn a() {\n  b();\n}"), "fn a() {\n  b();\n}");
    // JavaScript's notions of whitespace and of a line, not Rust's.
    assert_eq!(n("\u{feff}bom first"), "bom first");
    assert_eq!(n("next line\u{85}"), "next line\u{85}");
    assert_eq!(n("a \u{2028}b\t"), "a\u{2028}b");
}

#[test]
fn clawrouter_compression_runs_its_layers_on_big_bodies_only() {
    use common::mock_upstream::clawrouter::compress;
    let pretty = "{\n  \"name\": \"app\",\n  \"tags\": [ \"a b\" ]\n}";
    let filler = "x".repeat(6000);
    let body = || {
        json!({"model": "m", "messages": [
            {"role": "system", "content": filler},
            {"role": "assistant", "content": "Done."},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
             "function": {"name": "f", "arguments": "{\"a\": 1}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": pretty},
            {"role": "assistant", "content": "Done."},
            {"role": "user", "content": [{"type": "text", "text": "keep\tme "}]}]})
    };
    let mut small = body();
    assert_eq!(compress(&mut small, 180 * 1024), 0);
    assert_eq!(small, body());

    let mut big = body();
    assert_eq!(compress(&mut big, 180 * 1024 + 1), 1, "{big:#}");
    let messages = big["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 5, "the second \"Done.\" is gone");
    assert_eq!(
        messages[2]["tool_calls"][0]["function"]["arguments"],
        "{\"a\":1}"
    );
    assert_eq!(
        messages[3]["content"],
        "{\"name\":\"app\",\"tags\":[\"a b\"]}"
    );
    assert_eq!(
        messages[4]["content"][0]["text"], "keep\tme ",
        "parts are left alone"
    );
}
