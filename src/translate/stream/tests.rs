use super::*;
use crate::translate::events::tests::{
    assert_response_object, assert_stream_invariants, parse_sse,
};
use serde_json::json;
use std::collections::HashMap;

const URL: &str = "http://127.0.0.1:8402/v1";
const DONE_AT: u64 = 1_700_000_009;

fn tools() -> ToolMap {
    let mut map = ToolMap::default();
    map.declare(ToolKind::Function, None, "exec_command");
    map.declare(ToolKind::Custom, None, "apply_patch");
    map.declare(ToolKind::Function, Some("mcp__demo"), "add_numbers");
    map
}

fn key() -> Arc<ReasoningKey> {
    Arc::new(ReasoningKey::from_secret(&[7; 32]))
}

fn translator() -> StreamTranslator {
    StreamTranslator::new(
        ResponseMeta {
            id: "resp_test".to_owned(),
            created_at: 1_700_000_000,
            model: "auto".to_owned(),
        },
        &ResponseEcho::default(),
        tools(),
        Some(key()),
        URL.to_owned(),
    )
}

/// Feeds `pieces`, then EOF; returns the bytes written.
fn run(pieces: &[&[u8]]) -> Vec<u8> {
    let mut t = translator();
    let mut out = Vec::new();
    t.start(&mut out);
    for piece in pieces {
        t.feed(piece, DONE_AT, &mut out);
    }
    t.upstream_ended(DONE_AT, &mut out);
    assert!(t.is_finished());
    out
}

/// Parses the SSE output and checks every invariant.
fn checked(bytes: &[u8]) -> Vec<(String, Value)> {
    let events = parse_sse(bytes);
    assert_stream_invariants(&events);
    for (_, data) in &events {
        if let Some(response) = data.get("response") {
            assert_response_object(response);
        }
    }
    let terminals = events
        .iter()
        .filter(|(n, _)| {
            matches!(
                n.as_str(),
                "response.completed" | "response.incomplete" | "response.failed"
            )
        })
        .count();
    assert_eq!(terminals, 1, "exactly one terminal event");
    events
}

/// The text of the `output_text.delta` events written so far.
fn sent_text(out: &[u8]) -> String {
    parse_sse(out)
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().expect("delta").to_owned())
        .collect()
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(n, _)| n.as_str()).collect()
}

fn done_items(events: &[(String, Value)]) -> Vec<Value> {
    events
        .iter()
        .filter(|(n, _)| n == "response.output_item.done")
        .map(|(_, d)| d["item"].clone())
        .collect()
}

fn terminal(events: &[(String, Value)]) -> &(String, Value) {
    events.last().expect("terminal")
}

/// Replaces generated ids (item ids, fresh call ids) by their order of appearance.
fn normalize(value: &mut Value, ids: &mut HashMap<String, String>) {
    match value {
        Value::Object(obj) => {
            for (k, v) in obj.iter_mut() {
                if matches!(k.as_str(), "id" | "item_id" | "call_id") {
                    if let Value::String(s) = v {
                        if !s.starts_with("resp_") {
                            let n = ids.len();
                            *s = ids.entry(s.clone()).or_insert(format!("id{n}")).clone();
                        }
                    }
                } else {
                    normalize(v, ids);
                }
            }
        }
        Value::Array(list) => list.iter_mut().for_each(|v| normalize(v, ids)),
        _ => {}
    }
}

fn normalized(events: &[(String, Value)]) -> Vec<Value> {
    let mut ids = HashMap::new();
    events
        .iter()
        .map(|(_, data)| {
            let mut data = data.clone();
            normalize(&mut data, &mut ids);
            data
        })
        .collect()
}

fn frame(value: &Value) -> String {
    format!("data: {value}\n\n")
}

fn chunk(delta: Value, finish: Value) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
           "model": "deepseek/deepseek-v4-pro", "system_fingerprint": null,
           "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
}

fn usage_chunk() -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
           "model": "deepseek/deepseek-v4-pro", "choices": [],
           "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19,
                     "cost": {"total": 0.001, "input": 3e-5, "output": 1.05e-4,
                              "baseline": 2.35e-4, "savings_pct": 0, "model": "x"}}})
}

/// A stream shaped like ClawRouter's (docs/ARCHITECTURE.md, Living with ClawRouter).
fn clawrouter_stream(content: &str, tool_calls: Value, finish: &str) -> Vec<u8> {
    let mut s = String::from(": heartbeat\n\n: heartbeat\n\n: x-clawrouter-debug profile=auto\n\n");
    s += &frame(&chunk(json!({"role": "assistant"}), Value::Null));
    if !content.is_empty() {
        s += &frame(&chunk(json!({"content": content}), Value::Null));
    }
    if tool_calls.as_array().is_some_and(|c| !c.is_empty()) {
        s += &frame(&chunk(json!({"tool_calls": tool_calls}), Value::Null));
    }
    s += &frame(&chunk(json!({}), json!(finish)));
    s += &frame(&usage_chunk());
    s += ": cost=$0.0036 savings=97% model=x tier=SIMPLE\n\n";
    s += "data: [DONE]\n\n";
    s.into_bytes()
}

/// An OpenAI-shaped incremental stream: one chunk per delta, then finish, usage, [DONE].
fn openai_stream(deltas: &[Value], finish: &str) -> Vec<u8> {
    let mut s = frame(&chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    ));
    for delta in deltas {
        s += &frame(&chunk(delta.clone(), Value::Null));
    }
    s += &frame(&chunk(json!({}), json!(finish)));
    s += &frame(&usage_chunk());
    s += "data: [DONE]\n\n";
    s.into_bytes()
}

fn completion_body(message: Value, finish: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1,
        "model": "deepseek/deepseek-v4-pro",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}
    }))
    .expect("json")
}

fn run_completion(body: &[u8]) -> Vec<u8> {
    let mut t = translator();
    let mut out = Vec::new();
    t.start(&mut out);
    t.feed_completion(body, DONE_AT, &mut out);
    assert!(t.is_finished());
    out
}

#[test]
fn clawrouter_stream_with_text_and_whole_tool_calls() {
    let calls = json!([
        {"id": "call_a", "type": "function",
         "function": {"name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"}},
        {"id": "call_b", "type": "function",
         "function": {"name": "apply_patch",
                      "arguments": "{\"input\":\"*** Begin Patch\\n*** End Patch\\n\"}"}},
        {"id": "call_c", "type": "function",
         "function": {"name": "mcp__demo__add_numbers", "arguments": "{\"a\":2}"}}
    ]);
    let stream = clawrouter_stream("I'll look.", calls, "tool_calls");
    let events = checked(&run(&[&stream]));
    let text_deltas: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| &d["delta"])
        .collect();
    assert_eq!(
        text_deltas,
        [&json!("I'll look.")],
        "one delta, in one piece"
    );
    let items = done_items(&events);
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["content"][0]["text"], "I'll look.");
    assert_eq!(items[1]["type"], "function_call");
    assert_eq!(items[1]["call_id"], "call_a");
    assert_eq!(items[1]["arguments"], "{\"cmd\":\"ls\"}");
    assert_eq!(items[2]["type"], "custom_tool_call");
    assert_eq!(items[2]["input"], "*** Begin Patch\n*** End Patch\n");
    assert_eq!(items[3]["namespace"], "mcp__demo");
    assert_eq!(items[3]["name"], "add_numbers");
    let input_deltas: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "response.custom_tool_call_input.delta")
        .map(|(_, d)| &d["delta"])
        .collect();
    assert_eq!(input_deltas, [&json!("*** Begin Patch\n*** End Patch\n")]);
    let (name, data) = terminal(&events);
    assert_eq!(name, "response.completed");
    assert_eq!(data["response"]["usage"]["total_tokens"], 19);
    assert_eq!(data["response"]["completed_at"], DONE_AT);
    // The message is closed before the first call starts.
    let n = names(&events);
    let message_done = n
        .iter()
        .position(|e| *e == "response.output_item.done")
        .expect("done");
    let call_added = n
        .iter()
        .enumerate()
        .filter(|(_, e)| **e == "response.output_item.added")
        .nth(1)
        .expect("call added")
        .0;
    assert!(message_done < call_added);
}

#[test]
fn openai_stream_with_interleaved_tool_call_indexes() {
    let deltas = [
        json!({"content": "Running "}),
        json!({"content": "two things."}),
        json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                               "function": {"name": "exec_command", "arguments": ""}}]}),
        json!({"tool_calls": [{"index": 1, "id": "call_2", "type": "function",
                               "function": {"name": "mcp__demo__add_numbers", "arguments": "{\"a\""}}]}),
        json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"cmd\":"}}]}),
        json!({"tool_calls": [{"index": 1, "function": {"arguments": ":2}"}}]}),
        json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"ls\"}"}}]}),
    ];
    let events = checked(&run(&[&openai_stream(&deltas, "tool_calls")]));
    let items = done_items(&events);
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["content"][0]["text"], "Running two things.");
    assert_eq!(items[1]["call_id"], "call_1");
    assert_eq!(items[1]["arguments"], "{\"cmd\":\"ls\"}");
    assert_eq!(items[2]["call_id"], "call_2");
    assert_eq!(items[2]["namespace"], "mcp__demo");
    assert_eq!(items[2]["arguments"], "{\"a\":2}");
    let arg_deltas: Vec<(u64, String)> = events
        .iter()
        .filter(|(n, _)| n == "response.function_call_arguments.delta")
        .map(|(_, d)| {
            (
                d["output_index"].as_u64().expect("index"),
                d["delta"].as_str().expect("delta").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        arg_deltas,
        [
            (2, "{\"a\"".to_owned()),
            (1, "{\"cmd\":".to_owned()),
            (2, ":2}".to_owned()),
            (1, "\"ls\"}".to_owned())
        ],
        "arguments stream as they arrive"
    );
    let text_deltas = names(&events)
        .iter()
        .filter(|n| **n == "response.output_text.delta")
        .count();
    assert_eq!(text_deltas, 2, "one event per upstream delta");
    assert_eq!(terminal(&events).0, "response.completed");
}

#[test]
fn error_frame_under_200_fails_with_the_classified_error() {
    let payment = json!({"error": {"message": "Insufficient USDC balance. Current: $0.000251, Required: ~$0.011463",
        "type": "insufficient_funds", "wallet": "0xabc",
        "help": "Fund wallet 0x2c75...5c23 with USDC on Base, or use free model: /model free"}});
    let stream = format!(": heartbeat\n\n{}data: [DONE]\n\n", frame(&payment));
    let mut t = translator();
    let mut out = Vec::new();
    t.start(&mut out);
    t.feed(stream.as_bytes(), DONE_AT, &mut out);
    assert!(t.is_finished());
    assert_eq!(t.outcome(), Outcome::Payment);
    t.upstream_ended(DONE_AT, &mut out);
    let events = checked(&out);
    let (name, data) = terminal(&events);
    assert_eq!(name, "response.failed");
    assert_eq!(data["response"]["error"]["code"], "invalid_prompt");
    let message = data["response"]["error"]["message"]
        .as_str()
        .expect("message");
    assert!(message.contains("Insufficient USDC balance"), "{message}");
    assert!(message.contains("Fund wallet 0x2c75"), "{message}");

    let wrapped =
        json!({"error": {"message": "fetch failed", "type": "provider_error", "status": 500}});
    let events = checked(&run(&[frame(&wrapped).as_bytes(), b"data: [DONE]\n\n"]));
    let response = &terminal(&events).1["response"];
    assert_eq!(response["error"]["code"], "server_error");
    assert!(response["error"]["message"]
        .as_str()
        .expect("message")
        .contains("fetch failed"));
}

#[test]
fn early_eof_fails_after_the_sent_deltas() {
    let stream = [
        frame(&chunk(json!({"role": "assistant"}), Value::Null)),
        frame(&chunk(json!({"reasoning_content": "Thinking"}), Value::Null)),
        frame(&chunk(json!({"content": "Partial ans"}), Value::Null)),
        frame(&chunk(
            json!({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "exec_command", "arguments": "{\"cmd\""}}]}),
            Value::Null,
        )),
    ]
    .concat();
    let mut t = translator();
    let mut out = Vec::new();
    t.start(&mut out);
    t.feed(stream.as_bytes(), DONE_AT, &mut out);
    t.feed(
        b"data: {\"choices\":[{\"delta\":{\"content\":\"cut",
        DONE_AT,
        &mut out,
    );
    t.upstream_ended(DONE_AT, &mut out);
    assert_eq!(t.outcome(), Outcome::UpstreamClosed);
    let events = checked(&out);
    let items = done_items(&events);
    assert_eq!(items.len(), 3, "every started item is closed");
    assert_eq!(
        items[0]["status"], "completed",
        "reasoning ended when text began"
    );
    assert_eq!(
        items[1]["status"], "completed",
        "text ended when the call began"
    );
    assert_eq!(items[2]["status"], "incomplete");
    assert_eq!(items[2]["arguments"], "{\"cmd\"");
    assert_eq!(items[1]["content"][0]["text"], "Partial ans");
    let (name, data) = terminal(&events);
    assert_eq!(name, "response.failed");
    assert_eq!(data["response"]["error"]["code"], "server_error");
    let message = data["response"]["error"]["message"].as_str().unwrap();
    assert!(message.contains(upstream_error::EARLY_EOF), "{message}");
    assert_eq!(
        t.failure().map(ClientFailure::http_status),
        Some(502),
        "a stream:false client gets the failure as an HTTP error"
    );
    // Nothing at all: the same failure.
    let events = checked(&run(&[b": heartbeat\n\n"]));
    assert_eq!(
        terminal(&events).1["response"]["error"]["code"],
        "server_error"
    );
}

#[test]
fn length_is_incomplete_and_content_filter_fails() {
    let events = checked(&run(&[&clawrouter_stream("cut sho", json!([]), "length")]));
    let (name, data) = terminal(&events);
    assert_eq!(name, "response.incomplete");
    assert_eq!(
        data["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );
    assert_eq!(data["response"]["usage"]["total_tokens"], 19);
    assert_eq!(done_items(&events)[0]["status"], "incomplete");

    let mut t = translator();
    let mut out = Vec::new();
    t.feed(
        &clawrouter_stream("no", json!([]), "content_filter"),
        DONE_AT,
        &mut out,
    );
    assert_eq!(t.outcome(), Outcome::ContentFilter);
    let events = checked(&out);
    let (name, data) = terminal(&events);
    assert_eq!(name, "response.failed");
    assert_eq!(data["response"]["error"]["code"], "invalid_prompt");
    assert_eq!(
        data["response"]["error"]["message"],
        super::super::response::CONTENT_FILTER_MESSAGE
    );
}

#[test]
fn reasoning_deltas_become_a_sealed_reasoning_item_before_the_message() {
    let deltas = [
        json!({"reasoning_content": "The user wants "}),
        json!({"reasoning_content": "a listing."}),
        json!({"content": "Listing now."}),
    ];
    let events = checked(&run(&[&openai_stream(&deltas, "stop")]));
    let n = names(&events);
    assert_eq!(
        &n[2..10],
        [
            "response.output_item.added",
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
            "response.output_item.done",
            "response.output_item.added",
        ]
    );
    let delta = &events[4].1;
    assert_eq!(delta["summary_index"], 0);
    assert_eq!(delta["output_index"], 0);
    assert_eq!(delta["delta"], "The user wants ");
    assert_eq!(events[6].1["text"], "The user wants a listing.");
    let items = done_items(&events);
    let reasoning = &items[0];
    assert_eq!(reasoning["type"], "reasoning");
    assert_eq!(
        reasoning["summary"],
        json!([{"type": "summary_text", "text": "The user wants a listing."}])
    );
    assert_eq!(
        reasoning["content"],
        json!([]),
        "the text is not sent twice"
    );
    let blob = reasoning["encrypted_content"].as_str().expect("sealed");
    assert_eq!(
        key().open(blob).as_deref(),
        Some("The user wants a listing.")
    );
    assert_eq!(items[1]["content"][0]["text"], "Listing now.");

    // Without a key the field is omitted; OpenRouter's shapes are read too.
    let mut t = StreamTranslator::new(
        ResponseMeta::new("m", 1),
        &ResponseEcho::default(),
        ToolMap::default(),
        None,
        URL.to_owned(),
    );
    let mut out = Vec::new();
    let stream = openai_stream(
        &[
            json!({"reasoning": "a", "reasoning_details": [{"type": "reasoning.text", "text": "a"}]}),
            json!({"reasoning_details": [{"type": "reasoning.text", "text": "b"},
                                         {"type": "reasoning.encrypted", "data": "zz"}]}),
            json!({"content": "ok"}),
        ],
        "stop",
    );
    t.feed(&stream, DONE_AT, &mut out);
    let items = done_items(&checked(&out));
    assert_eq!(items[0]["summary"][0]["text"], "ab");
    assert!(items[0].get("encrypted_content").is_none());
}

#[test]
fn think_span_split_across_deltas() {
    let pieces = [
        "\n<thi",
        "nk>\nplan",
        " more  </th",
        "ink>\n",
        "\nAnswer",
        " here",
    ];
    let deltas: Vec<Value> = pieces.iter().map(|p| json!({"content": p})).collect();
    let events = checked(&run(&[&openai_stream(&deltas, "stop")]));
    let items = done_items(&events);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["summary"][0]["text"], "plan more");
    assert_eq!(
        key()
            .open(items[0]["encrypted_content"].as_str().expect("blob"))
            .as_deref(),
        Some("plan more")
    );
    assert_eq!(items[1]["content"][0]["text"], "Answer here");
    let visible: String = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().expect("delta").to_owned())
        .collect();
    assert_eq!(visible, "Answer here", "no tag reaches the text");

    // Not a think span: the held prefix is released as text.
    let events = checked(&run(&[&openai_stream(
        &[json!({"content": "<th"}), json!({"content": "ree>"})],
        "stop",
    )]));
    assert_eq!(done_items(&events)[0]["content"][0]["text"], "<three>");
}

#[test]
fn leaked_tool_call_is_held_and_becomes_a_call() {
    let mut t = translator();
    let mut out = Vec::new();
    t.start(&mut out);
    let first = frame(&chunk(json!({"content": "Let me check."}), Value::Null));
    t.feed(first.as_bytes(), DONE_AT, &mut out);
    let sent = String::from_utf8(out.clone()).expect("utf-8");
    assert!(
        sent.contains("\"delta\":\"Let me check.\""),
        "ordinary text is sent at once"
    );
    let rest = [
        frame(&chunk(
            json!({"content": "\n<tool_call>{\"name\":\"exec_command\","}),
            Value::Null,
        )),
        frame(&chunk(
            json!({"content": "\"arguments\":{\"cmd\":\"ls\"}}</tool_call>"}),
            Value::Null,
        )),
    ]
    .concat();
    let before = out.len();
    t.feed(rest.as_bytes(), DONE_AT, &mut out);
    assert!(
        !String::from_utf8_lossy(&out[before..]).contains("tool_call"),
        "the suspect span is held back"
    );
    let tail = [
        frame(&chunk(json!({}), json!("stop"))),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat();
    t.feed(tail.as_bytes(), DONE_AT, &mut out);
    let events = checked(&out);
    let items = done_items(&events);
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["content"][0]["text"], "Let me check.");
    assert_eq!(items[1]["type"], "function_call");
    assert_eq!(items[1]["name"], "exec_command");
    assert_eq!(items[1]["arguments"], "{\"cmd\":\"ls\"}");
    assert!(items[1]["call_id"]
        .as_str()
        .expect("id")
        .starts_with("call_"));
    assert_eq!(terminal(&events).0, "response.completed");
}

#[test]
fn text_that_is_not_a_call_is_released() {
    let mut t = translator();
    let mut out = Vec::new();
    let piece = |text: &str| frame(&chunk(json!({"content": text}), Value::Null));
    t.feed(piece("fn f() {").as_bytes(), DONE_AT, &mut out);
    assert_eq!(
        sent_text(&out),
        "fn f()",
        "only the undecided brace is held"
    );
    t.feed(piece(" x }").as_bytes(), DONE_AT, &mut out);
    assert_eq!(
        sent_text(&out),
        "fn f() { x }",
        "a brace before code is released"
    );
    t.feed(piece(" Config: {\"port\": ").as_bytes(), DONE_AT, &mut out);
    assert_eq!(
        sent_text(&out),
        "fn f() { x } Config: {\"port\": ",
        "a key no call has releases the object at once"
    );
    t.feed(
        piece("80, \"name\": \"exec_command\"}").as_bytes(),
        DONE_AT,
        &mut out,
    );
    t.feed(
        piece(" and {\"name\": \"nope\", \"arguments\": {}}").as_bytes(),
        DONE_AT,
        &mut out,
    );
    t.feed(b"data: [DONE]\n\n", DONE_AT, &mut out);
    let items = done_items(&checked(&out));
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0]["content"][0]["text"],
        "fn f() { x } Config: {\"port\": 80, \"name\": \"exec_command\"} and {\"name\": \"nope\", \"arguments\": {}}"
    );
}

#[test]
fn structured_calls_release_held_text() {
    let deltas = [
        json!({"content": "Plan: {\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"rm\"}}"}),
        json!({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"}}]}),
    ];
    let items = done_items(&checked(&run(&[&openai_stream(&deltas, "tool_calls")])));
    assert_eq!(items.len(), 2);
    assert_eq!(
        items[0]["content"][0]["text"],
        "Plan: {\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"rm\"}}"
    );
    assert_eq!(items[1]["arguments"], "{\"cmd\":\"ls\"}");
}

/// Content pieces → a stream; the same content whole → a completion body.
fn same_items_both_ways(message: Value, pieces: &[Value], finish: &str) {
    let json_events = checked(&run_completion(&completion_body(message.clone(), finish)));
    let stream_events = checked(&run(&[&openai_stream(pieces, finish)]));
    let mut ids = HashMap::new();
    let mut from_json = terminal(&json_events).1["response"].clone();
    normalize(&mut from_json, &mut ids);
    let mut ids = HashMap::new();
    let mut from_stream = terminal(&stream_events).1["response"].clone();
    normalize(&mut from_stream, &mut ids);
    assert_eq!(from_json, from_stream, "{message}");
    assert_eq!(terminal(&json_events).0, terminal(&stream_events).0);
    // The same item events, apart from how the deltas were cut.
    let kinds = |events: &[(String, Value)]| -> Vec<String> {
        let mut kinds: Vec<String> = events
            .iter()
            .map(|(n, _)| n.clone())
            .filter(|n| !n.ends_with(".delta"))
            .collect();
        kinds.sort();
        kinds
    };
    assert_eq!(kinds(&json_events), kinds(&stream_events), "{message}");
}

#[test]
fn json_and_stream_paths_give_the_same_items() {
    same_items_both_ways(
        json!({"content": "Hello there", "reasoning_content": "Greet back."}),
        &[
            json!({"reasoning_content": "Greet "}),
            json!({"reasoning_content": "back."}),
            json!({"content": "Hello "}),
            json!({"content": "there"}),
        ],
        "stop",
    );
    same_items_both_ways(
        json!({"content": "<think>\n hmm \n</think>\n\nDone."}),
        &[
            json!({"content": "<think>\n h"}),
            json!({"content": "mm \n</think>"}),
            json!({"content": "\n\nDone."}),
        ],
        "stop",
    );
    same_items_both_ways(
        json!({"content": "Patching.", "reasoning_content": "r",
               "tool_calls": [
                   {"id": "c1", "type": "function", "function": {"name": "apply_patch",
                    "arguments": "{\"input\":\"*** Begin Patch\\n*** End Patch\\n\"}"}},
                   {"id": "c2", "type": "function", "function": {"name": "exec_command",
                    "arguments": "{\"cmd\":\"ls\"}"}}]}),
        &[
            json!({"reasoning_content": "r"}),
            json!({"content": "Patching."}),
            json!({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "apply_patch", "arguments": "{\"input\":"}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"*** Begin Patch\\n*** End Patch\\n\"}"}}]}),
            json!({"tool_calls": [{"index": 1, "id": "c2", "function": {"name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"}}]}),
        ],
        "tool_calls",
    );
    same_items_both_ways(
        json!({"content": "Let me check.\n<tool_call>{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}}</tool_call>"}),
        &[
            json!({"content": "Let me check.\n<tool_"}),
            json!({"content": "call>{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}}</tool_call>"}),
        ],
        "stop",
    );
    same_items_both_ways(
        json!({"content": "Running {\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}} now"}),
        &[
            json!({"content": "Running {\"na"}),
            json!({"content": "me\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}} now"}),
        ],
        "stop",
    );
    same_items_both_ways(
        json!({"content": "x", "reasoning_content": "long thought"}),
        &[
            json!({"reasoning_content": "long thought"}),
            json!({"content": "x"}),
        ],
        "length",
    );
    same_items_both_ways(
        json!({"content": "  \n", "reasoning_content": "only thinking"}),
        &[
            json!({"reasoning_content": "only thinking"}),
            json!({"content": "  \n"}),
        ],
        "length",
    );
}

#[test]
fn leaked_call_split_at_every_content_offset() {
    let text = "I'll run it.\n```json\n{\"name\": \"exec_command\", \"arguments\": {\"cmd\": \"ls -la\"}}\n```";
    let whole = done_items(&checked(&run_completion(&completion_body(
        json!({"content": text}),
        "stop",
    ))));
    let mut ids = HashMap::new();
    let mut want = Value::Array(whole);
    normalize(&mut want, &mut ids);
    for cut in 1..text.len() {
        if !text.is_char_boundary(cut) {
            continue;
        }
        let (a, b) = text.split_at(cut);
        let stream = openai_stream(&[json!({"content": a}), json!({"content": b})], "stop");
        let mut got = Value::Array(done_items(&checked(&run(&[&stream]))));
        let mut ids = HashMap::new();
        normalize(&mut got, &mut ids);
        assert_eq!(got, want, "cut at {cut}");
    }
}

/// A stream with everything: reasoning, multi-byte text, interleaved calls, CRLF framing.
fn rich_stream() -> Vec<u8> {
    let deltas = [
        json!({"reasoning_content": "Ünïcödé thought 🦀"}),
        json!({"content": "Héllo "}),
        json!({"content": "wörld {\"k\": 1}"}),
        json!({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "exec_command", "arguments": "{\"cmd\""}}]}),
        json!({"tool_calls": [{"index": 1, "id": "c2", "function": {"name": "apply_patch", "arguments": "{\"input\":\"é\"}"}}]}),
        json!({"tool_calls": [{"index": 0, "function": {"arguments": ":\"ls\"}"}}]}),
    ];
    let lf = String::from_utf8(openai_stream(&deltas, "tool_calls")).expect("utf-8");
    format!(": heartbeat\r\n\r\n{}", lf.replace("\n\n", "\r\n\r\n")).into_bytes()
}

#[test]
fn translator_split_at_every_byte_offset_gives_the_same_events() {
    let stream = rich_stream();
    let want = normalized(&checked(&run(&[&stream])));
    assert_eq!(done_items(&checked(&run(&[&stream]))).len(), 4);
    for cut in 0..=stream.len() {
        let (a, b) = stream.split_at(cut);
        assert_eq!(normalized(&checked(&run(&[a, b]))), want, "cut at {cut}");
    }
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..100 {
        let mut pieces: Vec<&[u8]> = Vec::new();
        let mut rest = &stream[..];
        while !rest.is_empty() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let take = (state as usize % 13).min(rest.len());
            let (a, b) = rest.split_at(take);
            pieces.push(a);
            rest = b;
        }
        assert_eq!(normalized(&checked(&run(&pieces))), want);
    }
}

#[test]
fn json_bodies_fed_whole_or_as_a_stream_body() {
    let body = completion_body(
        json!({"content": "Hi", "reasoning_content": "think",
               "tool_calls": [{"id": "c1", "function": {"name": "exec_command", "arguments": "{}"}}]}),
        "tool_calls",
    );
    let whole = normalized(&checked(&run_completion(&body)));
    let mut padded = b"\n ".to_vec();
    padded.extend_from_slice(&body);
    let (a, b) = padded.split_at(10);
    assert_eq!(
        normalized(&checked(&run(&[a, b]))),
        whole,
        "JSON to a streaming request"
    );
    let items = done_items(&checked(&run_completion(&body)));
    assert_eq!(items[0]["type"], "reasoning");
    assert_eq!(
        key()
            .open(items[0]["encrypted_content"].as_str().expect("blob"))
            .as_deref(),
        Some("think")
    );

    for (body, code) in [
        (&b"fetch failed"[..], "server_error"),
        (&b"<html>502</html>"[..], "server_error"),
        (
            &br#"{"error":{"message":"maximum context length is 8192 tokens","status":400}}"#[..],
            "context_length_exceeded",
        ),
    ] {
        let events = checked(&run_completion(body));
        let response = &terminal(&events).1["response"];
        assert_eq!(
            response["error"]["code"],
            code,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn garbage_frames_are_skipped_or_fail_the_stream() {
    let mut stream =
        b"data: not json\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"ok\"}}]}\n\n".to_vec();
    stream.extend_from_slice(
        b"data: <html>\n\ndata: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
    );
    let events = checked(&run(&[&stream]));
    assert_eq!(terminal(&events).0, "response.completed");
    assert_eq!(done_items(&events)[0]["content"][0]["text"], "ok");

    let mut t = translator();
    let mut out = Vec::new();
    t.feed(
        b"data: <html>oops</html>\n\ndata: Bad Gateway\n\ndata: [DONE]\n\n",
        DONE_AT,
        &mut out,
    );
    assert!(
        t.is_finished(),
        "[DONE] after nothing but garbage fails at once"
    );
    t.upstream_ended(DONE_AT, &mut out);
    assert_eq!(t.outcome(), Outcome::UpstreamUnavailable);
    let events = checked(&out);
    let response = &terminal(&events).1["response"];
    assert_eq!(response["error"]["code"], "server_error");
    assert!(response["error"]["message"]
        .as_str()
        .expect("message")
        .contains("<html>oops</html>"));
}

#[test]
fn nothing_is_written_after_the_end() {
    let mut t = translator();
    let mut out = Vec::new();
    t.start(&mut out);
    t.keepalive(&mut out);
    t.feed(
        &clawrouter_stream("hi", json!([]), "stop"),
        DONE_AT,
        &mut out,
    );
    assert!(t.is_finished());
    assert_eq!(t.outcome(), Outcome::Ok);
    let len = out.len();
    t.keepalive(&mut out);
    t.feed(
        b"data: {\"choices\":[{\"delta\":{\"content\":\"late\"}}]}\n\n",
        DONE_AT,
        &mut out,
    );
    t.feed_completion(b"{}", DONE_AT, &mut out);
    t.fail(&upstream_error::unreachable(URL, "reset"), &mut out);
    t.upstream_ended(DONE_AT, &mut out);
    assert_eq!(out.len(), len);
    let events = checked(&out);
    assert_eq!(
        names(&events)[2],
        "response.in_progress",
        "keep-alive event"
    );
}

#[test]
fn fail_closes_open_items_first() {
    let mut t = translator();
    let mut out = Vec::new();
    t.start(&mut out);
    t.feed(
        frame(&chunk(json!({"content": "Half"}), Value::Null)).as_bytes(),
        DONE_AT,
        &mut out,
    );
    t.fail(&upstream_error::timed_out(URL, 60), &mut out);
    assert_eq!(t.outcome(), Outcome::UpstreamTimeout);
    let events = checked(&out);
    assert_eq!(done_items(&events)[0]["status"], "incomplete");
    assert_eq!(
        terminal(&events).1["response"]["error"]["code"],
        "server_error"
    );
    // Before anything was sent.
    let mut t = translator();
    let mut out = Vec::new();
    t.start(&mut out);
    let failure = upstream_error::classify_status(429, &ErrorHeaders::default(), b"{}", URL);
    t.fail(&failure, &mut out);
    assert_eq!(t.outcome(), Outcome::RateLimited);
    let events = checked(&out);
    assert_eq!(
        terminal(&events).1["response"]["error"]["code"],
        "rate_limit_exceeded"
    );
}

#[test]
fn call_fragments_without_index_and_odd_arguments() {
    let deltas = [
        // Double-encoded arguments are unwrapped, as in the JSON path.
        json!({"tool_calls": [{"id": "x1", "function": {"name": "exec_command",
               "arguments": "\"{\\\"cmd\\\":\\\"ls\\\"}\""}}]}),
        // Same id again: continues that call (nothing to add here).
        json!({"tool_calls": [{"id": "x1", "function": {"arguments": ""}}]}),
        // A repeated id on a new call gets a fresh call_id; object arguments are serialized.
        json!({"tool_calls": [{"id": "x2", "function": {"name": "exec_command", "arguments": {"cmd": "pwd"}}}]}),
        json!({"tool_calls": [{"id": "x2b", "function": {"name": "unknown_tool", "arguments": ""}}]}),
        json!({"tool_calls": [{"function": {"arguments": "  "}}]}),
    ];
    let items = done_items(&checked(&run(&[&openai_stream(&deltas, "tool_calls")])));
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["arguments"], "{\"cmd\":\"ls\"}");
    assert_eq!(items[1]["arguments"], "{\"cmd\":\"pwd\"}");
    assert_eq!(items[2]["name"], "unknown_tool");
    assert_eq!(items[2]["arguments"], "{}");

    // Legacy `function_call` deltas.
    let deltas = [
        json!({"function_call": {"name": "exec_command", "arguments": "{\"cmd\":"}}),
        json!({"function_call": {"arguments": "\"ls\"}"}}),
    ];
    let items = done_items(&checked(&run(&[&openai_stream(&deltas, "function_call")])));
    assert_eq!(items[0]["arguments"], "{\"cmd\":\"ls\"}");
}

/// Found by fuzzing: a call without arguments said `{}` in its `done` events while no
/// delta had sent it; a client adding up the deltas got no arguments at all.
#[test]
fn calls_without_arguments_stream_an_empty_object() {
    let deltas = [
        json!({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "exec_command"}}]}),
        json!({"tool_calls": [{"index": 1, "id": "c2", "function": {"name": "exec_command", "arguments": "  "}}]}),
    ];
    let events = checked(&run(&[&openai_stream(&deltas, "tool_calls")]));
    let items = done_items(&events);
    assert_eq!(items.len(), 2);
    for item in items {
        let streamed: String = events
            .iter()
            .filter(|(n, d)| {
                n == "response.function_call_arguments.delta" && d["item_id"] == item["id"]
            })
            .map(|(_, d)| d["delta"].as_str().expect("delta").to_owned())
            .collect();
        assert_eq!(streamed, "{}");
        assert_eq!(item["arguments"], "{}");
    }
}

#[test]
fn fragments_after_the_finish_reason_are_still_closed() {
    let stream = [
        frame(&chunk(json!({"content": "a"}), json!("stop"))),
        frame(&chunk(
            json!({"tool_calls": [{"id": "late", "function": {"name": "exec_command", "arguments": "{}"}}]}),
            Value::Null,
        )),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat();
    let items = done_items(&checked(&run(&[stream.as_bytes()])));
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["call_id"], "late");
}

#[test]
fn blank_text_before_calls_gives_no_message() {
    let deltas = [
        json!({"content": "\n\n"}),
        json!({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "exec_command", "arguments": "{}"}}]}),
    ];
    let items = done_items(&checked(&run(&[&openai_stream(&deltas, "tool_calls")])));
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["type"], "function_call");
}

#[test]
fn blanks_read_alone_still_belong_to_the_first_line() {
    // Found by the `stream` fuzz target: a read of nothing but blanks was dropped, so
    // "  data: {error…}" (a line whose field is "  data", ignored) became an error frame
    // when the upstream's first read ended after the blanks.
    let body = b"  data: {\"error\":{\"message\":\"insufficient funds\",\"status\":402}}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    let whole = run(&[body]);
    assert_eq!(sent_text(&whole), "hi");
    for at in 1..4 {
        let split = run(&[&body[..at], &body[at..]]);
        assert_eq!(
            normalized(&checked(&split)),
            normalized(&checked(&whole)),
            "split at {at}"
        );
    }
}

// ---- the line saying a free model answered (translate/model_notice.rs) --------------------

const PAID: &str = "anthropic/claude-sonnet-4.6";
const FREE_UPSTREAM: &str = "nvidia/gpt-oss-120b";
const LINE: &str = "Note: ClawRouter answered with the free model nvidia/gpt-oss-120b instead of \
     anthropic/claude-sonnet-4.6 — the wallet could not pay. Fund it: `clawrouter-codex wallet`.";

fn free_models() -> Arc<crate::translate::model_notice::FreeModels> {
    crate::translate::model_notice::FreeModels::from_model_list(
        br#"{"data":[{"id":"auto","owned_by":"blockrun"},
                     {"id":"free/gpt-oss-120b","owned_by":"free"}]}"#,
    )
    .map(Arc::new)
    .expect("list")
}

/// A translator for a request that named `requested`, watching the answer's model.
fn watching(requested: &str) -> StreamTranslator {
    let mut t = translator();
    if let Some(notice) = ModelNotice::new(requested, free_models()) {
        t.watch_model(notice);
    }
    t
}

/// `bytes` (made by the helpers above) as answered by `model`.
fn answered_by(bytes: &[u8], model: &str) -> Vec<u8> {
    String::from_utf8_lossy(bytes)
        .replace("deepseek/deepseek-v4-pro", model)
        .into_bytes()
}

/// Feeds a stream or a whole body to a translator for `requested`; returns the checked events.
fn watched(requested: &str, body: &[u8], whole: bool) -> Vec<(String, Value)> {
    let mut t = watching(requested);
    let mut out = Vec::new();
    t.start(&mut out);
    if whole {
        t.feed_completion(body, DONE_AT, &mut out);
    } else {
        t.feed(body, DONE_AT, &mut out);
        t.upstream_ended(DONE_AT, &mut out);
    }
    assert!(t.is_finished());
    checked(&out)
}

/// The text of the message items of the final Response object, which must equal the deltas'.
fn final_text(events: &[(String, Value)]) -> String {
    let deltas: String = events
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().expect("delta").to_owned())
        .collect();
    let output: String = terminal(events).1["response"]["output"]
        .as_array()
        .expect("output")
        .iter()
        .filter(|item| item["type"] == "message")
        .map(|item| {
            item["content"][0]["text"]
                .as_str()
                .expect("text")
                .to_owned()
        })
        .collect();
    assert_eq!(
        deltas, output,
        "the final output carries what the deltas carried"
    );
    output
}

#[test]
fn a_free_models_answer_starts_with_the_line_once_streamed_or_whole() {
    let whole = answered_by(
        &completion_body(
            json!({"role": "assistant", "content": "  Hi!\n\tdone "}),
            "stop",
        ),
        FREE_UPSTREAM,
    );
    let clawrouter = answered_by(
        &clawrouter_stream("  Hi!\n\tdone ", json!([]), "stop"),
        FREE_UPSTREAM,
    );
    let pieces = [
        json!({"content": "  Hi"}),
        json!({"content": "!\n\t"}),
        json!({"content": "done "}),
    ];
    let incremental = answered_by(&openai_stream(&pieces, "stop"), FREE_UPSTREAM);
    for (body, whole) in [(&whole, true), (&clawrouter, false), (&incremental, false)] {
        let events = watched(PAID, body, whole);
        assert_eq!(final_text(&events), format!("{LINE}\n\n  Hi!\n\tdone "));
        assert_eq!(terminal(&events).0, "response.completed");
        assert_eq!(terminal(&events).1["response"]["model"], "auto");
    }
}

#[test]
fn clawrouters_own_notice_is_kept_and_not_doubled() {
    let notice = "> **⚠️ Insufficient balance** ($0.00) — using free model instead of \
                  anthropic/claude-sonnet-4.6. Send USDC to `0xabc`.\n\n";
    let whole = answered_by(
        &completion_body(
            json!({"role": "assistant", "content": format!("{notice}Hi!")}),
            "stop",
        ),
        "free/gpt-oss-120b",
    );
    let stream = answered_by(
        &openai_stream(
            &[json!({"content": notice}), json!({"content": "Hi!"})],
            "stop",
        ),
        "free/gpt-oss-120b",
    );
    for (body, whole) in [(&whole, true), (&stream, false)] {
        let events = watched(PAID, body, whole);
        assert_eq!(final_text(&events), format!("{notice}Hi!"));
    }
}

#[test]
fn no_line_for_a_free_request_the_requested_model_or_a_paid_model() {
    let free_answer = answered_by(&clawrouter_stream("Hi!", json!([]), "stop"), FREE_UPSTREAM);
    let paid_answer = clawrouter_stream("Hi!", json!([]), "stop");
    for (requested, body) in [
        ("free/gpt-oss-120b", &free_answer),
        ("free", &free_answer),
        (FREE_UPSTREAM, &free_answer),
        (PAID, &paid_answer),
        ("auto", &paid_answer),
    ] {
        assert_eq!(
            final_text(&watched(requested, body, false)),
            "Hi!",
            "{requested}"
        );
    }
    // An upstream that names the requested (paid) model: nothing to say.
    let same = answered_by(&clawrouter_stream("Hi!", json!([]), "stop"), PAID);
    assert_eq!(final_text(&watched(PAID, &same, false)), "Hi!");
}

#[test]
fn a_free_models_tool_calls_follow_the_line_and_keep_their_reasoning() {
    let calls = json!([{"id": "call_a", "type": "function",
                        "function": {"name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"}}]);
    let whole = answered_by(
        &completion_body(
            json!({"role": "assistant", "content": null, "reasoning_content": "List first.",
                   "tool_calls": calls}),
            "tool_calls",
        ),
        FREE_UPSTREAM,
    );
    let stream = answered_by(
        &openai_stream(
            &[
                json!({"reasoning_content": "List first."}),
                json!({"tool_calls": [{
                "index": 0, "id": "call_a", "type": "function",
                "function": {"name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"}}]}),
            ],
            "tool_calls",
        ),
        FREE_UPSTREAM,
    );
    for (body, whole) in [(&whole, true), (&stream, false)] {
        let events = watched(PAID, body, whole);
        let items = done_items(&events);
        let kinds: Vec<&str> = items.iter().map(|i| i["type"].as_str().unwrap()).collect();
        assert_eq!(
            kinds,
            ["reasoning", "message", "function_call"],
            "whole: {whole}"
        );
        assert_eq!(items[0]["summary"][0]["text"], "List first.");
        let sealed = items[0]["encrypted_content"].as_str().expect("sealed");
        assert_eq!(key().open(sealed).as_deref(), Some("List first."));
        assert_eq!(items[1]["content"][0]["text"], LINE);
        assert_eq!(items[2]["call_id"], "call_a");
        assert_eq!(items[2]["arguments"], "{\"cmd\":\"ls\"}");
        assert_eq!(final_text(&events), LINE);
    }
}

#[test]
fn a_free_models_leaked_call_is_still_recovered_after_the_line() {
    let text = "Let me check.\n<tool_call>{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}}</tool_call>";
    let whole = answered_by(
        &completion_body(json!({"role": "assistant", "content": text}), "stop"),
        FREE_UPSTREAM,
    );
    let stream = answered_by(&clawrouter_stream(text, json!([]), "stop"), FREE_UPSTREAM);
    for (body, whole) in [(&whole, true), (&stream, false)] {
        let events = watched(PAID, body, whole);
        let items = done_items(&events);
        assert_eq!(items.len(), 2, "whole: {whole}");
        assert_eq!(items[1]["type"], "function_call");
        assert_eq!(items[1]["arguments"], "{\"cmd\":\"ls\"}");
        assert!(final_text(&events).starts_with(&format!("{LINE}\n\nLet me check.")));
    }
}
