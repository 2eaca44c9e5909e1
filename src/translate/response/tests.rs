use super::*;
use crate::translate::events::tests::{
    assert_response_object, assert_stream_invariants, parse_sse,
};
use crate::translate::tools::ToolKind;
use serde_json::json;

fn tools() -> ToolMap {
    let mut map = ToolMap::default();
    map.declare(ToolKind::Function, None, "exec_command");
    map.declare(ToolKind::Custom, None, "apply_patch");
    map.declare(ToolKind::Function, Some("mcp__demo"), "add_numbers");
    map
}

fn meta() -> ResponseMeta {
    ResponseMeta::new("blockrun/auto", 1_700_000_000)
}

fn completion(message: Value, finish: Value, usage: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "deepseek/deepseek-v4-pro",
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": null}],
        "usage": usage,
    }))
    .expect("json")
}

/// Runs the whole buffered path and returns the parsed events (framing checked).
fn sse(body: &[u8]) -> Vec<(String, Value)> {
    let bytes = completion_to_sse(
        body,
        &meta(),
        &ResponseEcho::default(),
        &tools(),
        1_700_000_009,
    )
    .expect("completion");
    let events = parse_sse(&bytes);
    assert_stream_invariants(&events);
    for (name, data) in &events {
        if let Some(response) = data.get("response") {
            assert_response_object(response);
        }
        if name == "response.output_item.done" && data["item"]["type"] == "function_call" {
            assert!(data["item"]["arguments"].is_string());
            assert!(data["item"]["call_id"].is_string());
        }
    }
    events
}

fn done_items(events: &[(String, Value)]) -> Vec<Value> {
    events
        .iter()
        .filter(|(n, _)| n == "response.output_item.done")
        .map(|(_, d)| d["item"].clone())
        .collect()
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(n, _)| n.as_str()).collect()
}

#[test]
fn text_answer_becomes_a_message_and_completed() {
    let body = completion(
        json!({"role": "assistant", "content": "Hello there"}),
        json!("stop"),
        json!({"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}),
    );
    let events = sse(&body);
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let response = &events[8].1["response"];
    assert_eq!(response["status"], "completed");
    assert_eq!(response["output"][0]["content"][0]["text"], "Hello there");
    assert_eq!(
        response["usage"],
        json!({
            "input_tokens": 12, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 7, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 19
        })
    );
    assert_eq!(response["id"], events[0].1["response"]["id"]);
    assert_eq!(response["completed_at"], 1_700_000_009);
}

#[test]
fn text_and_two_tool_calls_become_three_items_in_order() {
    let body = completion(
        json!({
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [
                {"id": "call_a", "type": "function",
                 "function": {"name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"}},
                {"id": "call_b", "type": "function",
                 "function": {"name": "mcp__demo__add_numbers", "arguments": "{\"a\":2,\"b\":3}"}}
            ]
        }),
        json!("tool_calls"),
        json!(null),
    );
    let events = sse(&body);
    let items = done_items(&events);
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["type"], "message");
    assert_eq!(items[1]["type"], "function_call");
    assert_eq!(items[1]["call_id"], "call_a");
    assert_eq!(items[1]["name"], "exec_command");
    assert_eq!(items[1]["arguments"], "{\"cmd\":\"ls\"}");
    assert!(items[1].get("namespace").is_none());
    assert_eq!(items[2]["call_id"], "call_b");
    assert_eq!(items[2]["namespace"], "mcp__demo");
    assert_eq!(items[2]["name"], "add_numbers");
    let terminal = &events.last().expect("terminal").1["response"];
    assert_eq!(terminal["output"].as_array().map(Vec::len), Some(3));
    assert!(terminal["usage"].is_null());
    for (index, item) in items.iter().enumerate() {
        assert_eq!(terminal["output"][index], *item);
    }
}

#[test]
fn clawrouter_shaped_tool_answer() {
    // ClawRouter forces content "" with tool_calls, adds `cost` to usage, names the model used.
    let body = completion(
        json!({
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "call_Ab12Cd34Ef56Gh78", "type": "function",
                "function": {"name": "apply_patch",
                             "arguments": "{\"input\":\"*** Begin Patch\\n*** Add File: a.txt\\n+hi\\n*** End Patch\\n\"}"}}]
        }),
        json!("tool_calls"),
        json!({"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120,
               "cost": {"total": 0.001, "input": 3e-5, "output": 1.05e-4, "baseline": 2.35e-4,
                        "savings_pct": 0, "model": "deepseek/deepseek-v4-pro"}}),
    );
    let output = completion_to_output(&body, &tools()).expect("parse");
    assert_eq!(output.model.as_deref(), Some("deepseek/deepseek-v4-pro"));
    assert_eq!(output.usage.map(|u| u.total_tokens), Some(120));
    let events = sse(&body);
    let items = done_items(&events);
    assert_eq!(items.len(), 1, "empty content gives no message item");
    assert_eq!(items[0]["type"], "custom_tool_call");
    assert_eq!(items[0]["call_id"], "call_Ab12Cd34Ef56Gh78");
    assert_eq!(items[0]["name"], "apply_patch");
    assert_eq!(
        items[0]["input"],
        "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch\n"
    );
    assert!(items[0].get("arguments").is_none());
    let names = names(&events);
    assert!(names.contains(&"response.custom_tool_call_input.delta"));
    assert!(names.contains(&"response.custom_tool_call_input.done"));
    let terminal = &events.last().expect("terminal").1["response"];
    assert_eq!(
        terminal["model"], "blockrun/auto",
        "the requested model is reported"
    );
    assert_eq!(terminal["usage"]["input_tokens"], 100);
}

#[test]
fn clawrouter_wallet_notice_text_is_kept() {
    let text = "> **⚠️ Wallet empty** — using free model. Send USDC to `0xabc`.\n\nHi!";
    let body = completion(
        json!({"role": "assistant", "content": text}),
        json!("stop"),
        json!(null),
    );
    let items = done_items(&sse(&body));
    assert_eq!(items[0]["content"][0]["text"], text);
}

#[test]
fn tool_call_variants_are_normalized() {
    struct Case {
        label: &'static str,
        message: Value,
        want: &'static [(&'static str, &'static str)],
    }
    let cases = [
        Case {
            label: "arguments as an object",
            message: json!({"content": null, "tool_calls": [
                {"id": "c1", "function": {"name": "exec_command", "arguments": {"cmd": "ls"}}}]}),
            want: &[("exec_command", r#"{"cmd":"ls"}"#)],
        },
        Case {
            label: "empty and missing arguments",
            message: json!({"tool_calls": [
                {"id": "c1", "function": {"name": "exec_command", "arguments": ""}},
                {"id": "c2", "function": {"name": "exec_command"}}]}),
            want: &[("exec_command", "{}"), ("exec_command", "{}")],
        },
        Case {
            label: "double-encoded arguments",
            message: json!({"tool_calls": [
                {"id": "c1", "function": {"name": "exec_command",
                                          "arguments": "\"{\\\"cmd\\\":\\\"ls\\\"}\""}}]}),
            want: &[("exec_command", r#"{"cmd":"ls"}"#)],
        },
        Case {
            label: "legacy function_call",
            message: json!({"content": null,
                            "function_call": {"name": "exec_command", "arguments": "{\"cmd\":\"pwd\"}"}}),
            want: &[("exec_command", r#"{"cmd":"pwd"}"#)],
        },
        Case {
            label: "flat call without function wrapper, nameless call skipped",
            message: json!({"tool_calls": [
                {"id": "c1", "name": "exec_command", "arguments": "{}"},
                {"id": "c2", "function": {"arguments": "{}"}}]}),
            want: &[("exec_command", "{}")],
        },
    ];
    for case in cases {
        let body = completion(case.message, json!("tool_calls"), json!(null));
        let output = completion_to_output(&body, &tools()).expect(case.label);
        let got: Vec<(&str, &str)> = output
            .tool_calls
            .iter()
            .map(|c| (c.chat_name.as_str(), c.arguments.as_str()))
            .collect();
        assert_eq!(got, case.want, "{}", case.label);
    }
}

#[test]
fn missing_and_repeated_call_ids_are_replaced() {
    let body = completion(
        json!({"tool_calls": [
            {"function": {"name": "exec_command", "arguments": "{}"}},
            {"id": "", "function": {"name": "exec_command", "arguments": "{}"}},
            {"id": "dup", "function": {"name": "exec_command", "arguments": "{}"}},
            {"id": "dup", "function": {"name": "exec_command", "arguments": "{}"}}]}),
        json!("tool_calls"),
        json!(null),
    );
    let output = completion_to_output(&body, &tools()).expect("parse");
    let ids: Vec<&str> = output
        .tool_calls
        .iter()
        .map(|c| c.call_id.as_str())
        .collect();
    assert_eq!(ids.len(), 4);
    assert!(ids[0].starts_with("call_") && ids[1].starts_with("call_"));
    assert_eq!(ids[2], "dup");
    assert!(ids[3].starts_with("call_"));
    let unique: std::collections::HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), 4);
}

#[test]
fn custom_and_unknown_tools_map_to_the_right_items() {
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        // (chat name, arguments, item type, name, payload)
        (
            "apply_patch",
            r#"{"input":"PATCH"}"#,
            "custom_tool_call",
            "apply_patch",
            "PATCH",
        ),
        (
            "apply_patch",
            r#"{"patch":"PATCH"}"#,
            "custom_tool_call",
            "apply_patch",
            "PATCH",
        ),
        (
            "apply_patch",
            "*** Begin Patch",
            "custom_tool_call",
            "apply_patch",
            "*** Begin Patch",
        ),
        (
            "apply_patch",
            r#"{"a":1,"b":2}"#,
            "custom_tool_call",
            "apply_patch",
            r#"{"a":1,"b":2}"#,
        ),
        (
            "unknown_tool",
            r#"{"x":1}"#,
            "function_call",
            "unknown_tool",
            r#"{"x":1}"#,
        ),
    ];
    for (chat_name, arguments, item_type, name, payload) in cases {
        let body = completion(
            json!({"tool_calls": [{"id": "c1", "function": {"name": chat_name, "arguments": arguments}}]}),
            json!("tool_calls"),
            json!(null),
        );
        let items = done_items(&sse(&body));
        assert_eq!(items[0]["type"], *item_type, "{chat_name} {arguments}");
        assert_eq!(items[0]["name"], *name);
        let field = if *item_type == "custom_tool_call" {
            "input"
        } else {
            "arguments"
        };
        assert_eq!(items[0][field], *payload, "{chat_name} {arguments}");
        assert!(items[0].get("namespace").is_none());
    }
}

#[test]
fn finish_reasons_choose_the_terminal_event() {
    let cases: &[(Value, &str, &str)] = &[
        (json!("stop"), "response.completed", "completed"),
        (json!(null), "response.completed", "completed"),
        (json!("eos"), "response.completed", "completed"),
        (json!("function_call"), "response.completed", "completed"),
        (json!("length"), "response.incomplete", "incomplete"),
        (json!("content_filter"), "response.failed", "incomplete"),
        (json!("error"), "response.failed", "completed"),
    ];
    for (finish, terminal, item_status) in cases {
        let body = completion(
            json!({"content": "partial answer"}),
            finish.clone(),
            json!({"prompt_tokens": 1, "completion_tokens": 2}),
        );
        let events = sse(&body);
        let (name, data) = events.last().expect("terminal");
        assert_eq!(name, terminal, "{finish}");
        assert_eq!(done_items(&events)[0]["status"], *item_status, "{finish}");
        let response = &data["response"];
        match *terminal {
            "response.incomplete" => {
                assert_eq!(response["status"], "incomplete");
                assert_eq!(
                    response["incomplete_details"]["reason"],
                    "max_output_tokens"
                );
                assert_eq!(response["usage"]["total_tokens"], 3);
            }
            "response.failed" => {
                assert_eq!(response["status"], "failed");
                assert!(response["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty()));
                let code = if finish == "content_filter" {
                    "invalid_prompt"
                } else {
                    "upstream_error"
                };
                assert_eq!(response["error"]["code"], code);
            }
            _ => assert_eq!(response["status"], "completed"),
        }
    }
}

#[test]
fn content_variants_are_read() {
    let cases: &[(Value, Option<&str>)] = &[
        (json!({"content": "plain"}), Some("plain")),
        (json!({"content": null}), None),
        (json!({}), None),
        (
            json!({"content": [{"type": "text", "text": "a"}, {"type": "image_url"}, "b",
                               {"type": "output_text", "text": "c"}]}),
            Some("abc"),
        ),
        (
            json!({"content": null, "refusal": "I can't help with that."}),
            Some("I can't help with that."),
        ),
    ];
    for (message, want) in cases {
        let body = completion(message.clone(), json!("stop"), json!(null));
        let output = completion_to_output(&body, &ToolMap::default()).expect("parse");
        assert_eq!(output.text.as_deref(), *want, "{message}");
    }
    let legacy = br#"{"choices":[{"text":"old style","finish_reason":"stop"}]}"#;
    let output = completion_to_output(legacy, &ToolMap::default()).expect("legacy");
    assert_eq!(output.text.as_deref(), Some("old style"));
    let delta = br#"{"choices":[{"delta":{"content":"chunk"},"finish_reason":"stop"}]}"#;
    let output = completion_to_output(delta, &ToolMap::default()).expect("delta");
    assert_eq!(output.text.as_deref(), Some("chunk"));
    let reasoning = completion(
        json!({"content": "x", "reasoning_content": "thinking…"}),
        json!("stop"),
        json!(null),
    );
    let output = completion_to_output(&reasoning, &ToolMap::default()).expect("reasoning");
    assert_eq!(output.reasoning.as_deref(), Some("thinking…"));
}

#[test]
fn reasoning_shapes_and_think_spans_become_a_reasoning_item() {
    let cases: &[(Value, Option<&str>, Option<&str>)] = &[
        (
            json!({"content": "a", "reasoning_content": "rc"}),
            Some("rc"),
            Some("a"),
        ),
        (
            json!({"content": "a", "reasoning": "r"}),
            Some("r"),
            Some("a"),
        ),
        (
            json!({"content": "a", "reasoning_details": [
                {"type": "reasoning.text", "text": "x"},
                {"type": "reasoning.encrypted", "data": "zz"},
                {"type": "reasoning.summary", "summary": "y"}]}),
            Some("xy"),
            Some("a"),
        ),
        (
            json!({"content": "a", "reasoning": "same", "reasoning_details": [
                {"type": "reasoning.text", "text": "same"}]}),
            Some("same"),
            Some("a"),
        ),
        (
            json!({"content": "\n<think>\n plan \n</think>\n\nAnswer"}),
            Some("plan"),
            Some("Answer"),
        ),
        (
            json!({"content": "<think>unclosed"}),
            Some("unclosed"),
            Some(""),
        ),
        (
            json!({"content": "<think>b</think>c", "reasoning_content": "a"}),
            Some("ab"),
            Some("c"),
        ),
        (
            json!({"content": "no <think>here</think>"}),
            None,
            Some("no <think>here</think>"),
        ),
        (
            json!({"content": "x", "reasoning_content": ""}),
            None,
            Some("x"),
        ),
    ];
    for (message, reasoning, text) in cases {
        let body = completion(message.clone(), json!("stop"), json!(null));
        let output = completion_to_output(&body, &tools()).expect("parse");
        assert_eq!(output.reasoning.as_deref(), *reasoning, "{message}");
        assert_eq!(output.text.as_deref(), *text, "{message}");
    }
    let body = completion(
        json!({"content": "<think>why</think>Because.", "tool_calls": [
            {"id": "c1", "function": {"name": "exec_command", "arguments": "{}"}}]}),
        json!("tool_calls"),
        json!(null),
    );
    let items = done_items(&sse(&body));
    assert_eq!(items.len(), 3);
    assert_eq!(
        items[0],
        json!({"type": "reasoning", "id": items[0]["id"], "status": "completed",
               "summary": [{"type": "summary_text", "text": "why"}], "content": []})
    );
    assert_eq!(items[1]["content"][0]["text"], "Because.");
    assert_eq!(items[2]["type"], "function_call");

    let key = ReasoningKey::from_secret(&[3; 32]);
    let json = completion_to_response_json_sealed(
        &body,
        &meta(),
        &ResponseEcho::default(),
        &tools(),
        Some(&key),
        5,
    )
    .expect("json");
    let response: Value = serde_json::from_slice(&json).expect("json");
    let blob = response["output"][0]["encrypted_content"]
        .as_str()
        .expect("sealed");
    assert_eq!(key.open(blob).as_deref(), Some("why"));
}

#[test]
fn usage_variants_map_to_responses_usage() {
    let cases: &[(Value, Option<Usage>)] = &[
        (
            json!({"prompt_tokens": 10, "completion_tokens": 5}),
            Some(Usage {
                input_tokens: 10,
                output_tokens: 5,
                total_tokens: 15,
                ..Usage::default()
            }),
        ),
        (
            json!({"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150,
                   "prompt_tokens_details": {"cached_tokens": 64},
                   "completion_tokens_details": {"reasoning_tokens": 12}}),
            Some(Usage {
                input_tokens: 100,
                cached_tokens: 64,
                output_tokens: 50,
                reasoning_tokens: 12,
                total_tokens: 150,
            }),
        ),
        (
            json!({"prompt_tokens": 100, "completion_tokens": 1, "total_tokens": 101,
                   "prompt_cache_hit_tokens": 80, "prompt_cache_miss_tokens": 20}),
            Some(Usage {
                input_tokens: 100,
                cached_tokens: 80,
                output_tokens: 1,
                total_tokens: 101,
                ..Usage::default()
            }),
        ),
        (
            json!({"prompt_tokens": 7.0, "completion_tokens": "3", "prompt_tokens_details": null}),
            Some(Usage {
                input_tokens: 7,
                output_tokens: 3,
                total_tokens: 10,
                ..Usage::default()
            }),
        ),
        (json!({}), None),
        (json!(null), None),
        (json!("12"), None),
        (json!({"prompt_tokens": -1}), None),
    ];
    for (chat, want) in cases {
        let raw = RawValue::from_string(chat.to_string()).expect("raw");
        assert_eq!(crate::translate::chat_in::read_usage(&raw), *want, "{chat}");
    }
    let body = completion(json!({"content": "x"}), json!("stop"), json!({}));
    let events = sse(&body);
    assert!(events.last().expect("terminal").1["response"]["usage"].is_null());
}

#[test]
fn unusable_bodies_are_errors_quoting_the_body() {
    let long = "x".repeat(1000);
    let cases: &[(&[u8], &str)] = &[
        (b"fetch failed", "fetch failed"),
        (
            b"All models in fallback chain failed",
            "All models in fallback chain failed",
        ),
        (b"This operation was aborted", "This operation was aborted"),
        (b"", ""),
        (
            b"<html><body>502 Bad Gateway</body></html>",
            "<html><body>502 Bad Gateway</body></html>",
        ),
        (b"[]", "[]"),
        (b"{}", "{}"),
        (br#"{"choices":[]}"#, r#"{"choices":[]}"#),
        (br#"{"choices":[1]}"#, r#"{"choices":[1]}"#),
        (b"data: {\"choices\":[]}\n\n", "data: {\"choices\":[]}"),
        (b"\xff\xfe\x00garbage", "garbage"),
        (long.as_bytes(), "xxxxxxxxxx"),
    ];
    for (body, quoted) in cases {
        let err = completion_to_output(body, &tools()).expect_err("must fail");
        assert!(matches!(err, CompletionError::Malformed { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains(quoted), "{message}");
        assert!(err.snippet().chars().count() <= SNIPPET_CHARS + 1);
    }
    assert!(completion_to_output(long.as_bytes(), &tools())
        .expect_err("long")
        .snippet()
        .ends_with('…'));
}

#[test]
fn error_objects_are_upstream_errors() {
    let payment = br#"{"error":{"message":"Insufficient USDC balance. Current: $0.000251, Required: ~$0.011463","type":"insufficient_funds","wallet":"0xabc","help":"Fund wallet"}}"#;
    let err = completion_to_output(payment, &tools()).expect_err("payment");
    match &err {
        CompletionError::Upstream {
            message,
            error_type,
            code,
            ..
        } => {
            assert!(message.starts_with("Insufficient USDC balance"));
            assert_eq!(error_type.as_deref(), Some("insufficient_funds"));
            assert!(code.is_none());
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("Insufficient USDC"));
    let wrapped = br#"{"error":{"message":"fetch failed","type":"provider_error","status":500}}"#;
    let err = completion_to_output(wrapped, &tools()).expect_err("wrapped");
    assert!(err.to_string().contains("fetch failed"));
    let context = br#"{"error":{"message":"maximum context length is 128000 tokens","type":"invalid_request_error","code":"context_length_exceeded"}}"#;
    match completion_to_output(context, &tools()).expect_err("context") {
        CompletionError::Upstream { code, .. } => {
            assert_eq!(code.as_deref(), Some("context_length_exceeded"));
        }
        other => panic!("unexpected {other:?}"),
    }
    let string_error = br#"{"error":"model not found"}"#;
    assert!(completion_to_output(string_error, &tools())
        .expect_err("string")
        .to_string()
        .contains("model not found"));
}

#[test]
fn leaked_calls_in_text_become_real_calls() {
    let text = "I'll list the files.\n<tool_call>{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}}</tool_call>";
    let body = completion(json!({"content": text}), json!("stop"), json!(null));
    let output = completion_to_output(&body, &tools()).expect("parse");
    assert_eq!(output.text.as_deref(), Some("I'll list the files."));
    assert_eq!(output.finish, Finish::ToolCalls);
    assert_eq!(output.tool_calls.len(), 1);
    assert!(output.tool_calls[0].call_id.starts_with("call_"));
    let items = done_items(&sse(&body));
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["content"][0]["text"], "I'll list the files.");
    assert_eq!(items[1]["name"], "exec_command");
    assert_eq!(items[1]["arguments"], r#"{"cmd":"ls"}"#);

    // A leaked apply_patch becomes a custom_tool_call with the raw patch.
    let patch =
        json!({"name": "apply_patch", "arguments": {"input": "*** Begin Patch\n*** End Patch\n"}});
    let body = completion(
        json!({"content": patch.to_string()}),
        json!("stop"),
        json!(null),
    );
    let items = done_items(&sse(&body));
    assert_eq!(items.len(), 1, "the whole text was the call");
    assert_eq!(items[0]["type"], "custom_tool_call");
    assert_eq!(items[0]["input"], "*** Begin Patch\n*** End Patch\n");
}

#[test]
fn leak_recovery_is_skipped_when_structured_calls_exist() {
    let text = "{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"rm\"}}";
    let body = completion(
        json!({"content": text, "tool_calls": [
            {"id": "c1", "function": {"name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"}}]}),
        json!("tool_calls"),
        json!(null),
    );
    let output = completion_to_output(&body, &tools()).expect("parse");
    assert_eq!(output.text.as_deref(), Some(text));
    assert_eq!(output.tool_calls.len(), 1);
    assert_eq!(output.tool_calls[0].arguments, r#"{"cmd":"ls"}"#);
}

#[test]
fn non_streaming_json_has_every_field_and_matches_the_stream() {
    let body = completion(
        json!({"content": "Hi", "tool_calls": [
            {"id": "c1", "function": {"name": "exec_command", "arguments": "{}"}}]}),
        json!("tool_calls"),
        json!({"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}),
    );
    let meta = meta();
    let echo = ResponseEcho::default();
    let json_body = completion_to_response_json(&body, &meta, &echo, &tools(), 5).expect("json");
    let response: Value = serde_json::from_slice(&json_body).expect("valid JSON");
    assert_response_object(&response);
    assert_eq!(response["status"], "completed");
    assert_eq!(response["id"], meta.id.as_str());
    assert_eq!(response["output"].as_array().map(Vec::len), Some(2));
    assert_eq!(response["usage"]["total_tokens"], 7);

    let stream = completion_to_sse(&body, &meta, &echo, &tools(), 5).expect("sse");
    let events = parse_sse(&stream);
    let mut terminal = events.last().expect("terminal").1["response"].clone();
    let mut response = response;
    // Item ids are fresh per run; everything else is identical.
    for value in [&mut terminal, &mut response] {
        for item in value["output"].as_array_mut().expect("output") {
            item["id"] = json!("x");
        }
    }
    assert_eq!(terminal, response);
}

#[test]
fn failures_as_stream_and_json() {
    let meta = meta();
    let echo = ResponseEcho::default();
    let stream = failure_sse(&meta, &echo, "insufficient_quota", "Fund wallet 0xabc");
    let events = parse_sse(&stream);
    assert_stream_invariants(&events);
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.failed"
        ]
    );
    let response = &events[2].1["response"];
    assert_response_object(response);
    assert_eq!(response["status"], "failed");
    assert_eq!(
        response["error"],
        json!({"code": "insufficient_quota", "message": "Fund wallet 0xabc"})
    );
    let body = failure_response_json(&meta, &echo, "invalid_prompt", "blocked");
    let response: Value = serde_json::from_slice(&body).expect("json");
    assert_response_object(&response);
    assert_eq!(response["status"], "failed");
    assert_eq!(response["error"]["code"], "invalid_prompt");
    assert_eq!(response["output"], json!([]));
}

#[test]
fn blank_text_gives_no_message_item() {
    let body = completion(json!({"content": "  \n "}), json!("stop"), json!(null));
    let events = sse(&body);
    assert!(done_items(&events).is_empty());
    assert_eq!(events.last().expect("terminal").0, "response.completed");
}

#[test]
fn body_with_bom_and_whitespace_parses() {
    let mut body = b"\xef\xbb\xbf\n  ".to_vec();
    body.extend(completion(
        json!({"content": "ok"}),
        json!("stop"),
        json!(null),
    ));
    let output = completion_to_output(&body, &ToolMap::default()).expect("parse");
    assert_eq!(output.text.as_deref(), Some("ok"));
}

#[test]
fn snippet_is_one_line_and_bounded() {
    assert_eq!(snippet(b"  a\nb\tc  "), "a b c");
    let long = "é".repeat(500);
    let cut = snippet(long.as_bytes());
    assert_eq!(cut.chars().count(), SNIPPET_CHARS + 1);
    assert!(cut.ends_with('…'));
}
