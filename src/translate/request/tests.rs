//! Unit tests of the request translator: table-driven rules, errors with paths, reasoning
//! placement, and a strictness check run on every output.

use serde_json::{json, Value};

use super::*;
use crate::translate::reasoning::ReasoningKey;
use crate::translate::tools::{ToolKind, CUSTOM_INPUT_PARAM};

/// Every assistant message with `tool_calls` is immediately followed by exactly one tool
/// message per id (and nothing else in between); no tool message stands anywhere else; no
/// message carries an `id`.
fn assert_strict(messages: &[Value]) {
    let mut i = 0;
    while i < messages.len() {
        let m = &messages[i];
        assert!(m.get("id").is_none(), "message {i} carries an id: {m}");
        let role = m["role"].as_str().unwrap_or_default();
        let calls = m.get("tool_calls").and_then(Value::as_array);
        match (role, calls) {
            ("assistant", Some(calls)) => {
                assert!(!calls.is_empty(), "empty tool_calls at {i}");
                let mut ids: Vec<&str> = calls.iter().map(|c| c["id"].as_str().unwrap()).collect();
                let mut answered = Vec::new();
                for k in 0..ids.len() {
                    let t = messages
                        .get(i + 1 + k)
                        .unwrap_or_else(|| panic!("missing tool message after {i}"));
                    assert_eq!(
                        t["role"],
                        "tool",
                        "message {} should answer a call: {t}",
                        i + 1 + k
                    );
                    answered.push(t["tool_call_id"].as_str().unwrap());
                }
                ids.sort_unstable();
                answered.sort_unstable();
                let before = ids.len();
                ids.dedup();
                assert_eq!(before, ids.len(), "duplicate call ids at {i}");
                assert_eq!(
                    ids, answered,
                    "tool messages at {i} do not answer its calls"
                );
                i += 1 + before;
            }
            ("tool", _) => panic!("tool message {i} does not follow its calls: {messages:#?}"),
            _ => i += 1,
        }
    }
}

fn plan_with(body: &Value, opts: &RequestOptions) -> (Value, ChatPlan) {
    let bytes = serde_json::to_vec(body).unwrap();
    let plan = request_to_chat(&bytes, opts).unwrap_or_else(|e| panic!("{e}"));
    let chat: Value = serde_json::from_slice(&plan.body).expect("chat body is JSON");
    assert_strict(chat["messages"].as_array().expect("messages"));
    assert_eq!(chat["stream"], false);
    (chat, plan)
}

fn plan(body: &Value) -> (Value, ChatPlan) {
    plan_with(body, &RequestOptions::default())
}

fn chat(body: Value) -> Value {
    plan(&body).0
}

/// The Chat messages for an `input` array.
fn messages(input: Value) -> Value {
    chat(json!({"model": "m", "input": input}))["messages"].clone()
}

fn error(body: &str) -> RequestError {
    match request_to_chat(body.as_bytes(), &RequestOptions::default()) {
        Ok(plan) => panic!(
            "expected an error, got {}",
            String::from_utf8_lossy(&plan.body)
        ),
        Err(e) => e,
    }
}

fn user(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
}

fn call(id: &str, name: &str) -> Value {
    json!({"type": "function_call", "id": format!("fc_{id}"), "call_id": id, "name": name, "arguments": "{}"})
}

fn output(id: &str, text: &str) -> Value {
    json!({"type": "function_call_output", "id": format!("fco_{id}"), "call_id": id, "output": text})
}

fn tool_msg(id: &str, text: &str) -> Value {
    json!({"role": "tool", "tool_call_id": id, "content": text})
}

fn chat_call(id: &str, name: &str) -> Value {
    json!({"id": id, "type": "function", "function": {"name": name, "arguments": "{}"}})
}

#[test]
fn history_table() {
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "user text parts join with nothing in between; ids dropped",
            json!([{"type": "message", "id": "msg_1", "role": "user", "content": [
                {"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}]}]),
            json!([{"role": "user", "content": "ab"}]),
        ),
        (
            "string content; EasyInputMessage without type",
            json!([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]),
            json!([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]),
        ),
        (
            "developer and system roles become system where they stand",
            json!([{"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "d"}]},
                   user("u"),
                   {"type": "message", "role": "system", "content": "s"}]),
            json!([{"role": "system", "content": "d"}, {"role": "user", "content": "u"},
                   {"role": "system", "content": "s"}]),
        ),
        (
            "assistant output_text and refusal to a string; phase ignored",
            json!([{"type": "message", "role": "assistant", "phase": "commentary", "status": "completed",
                    "content": [{"type": "output_text", "text": "x", "annotations": []},
                                {"type": "refusal", "refusal": "no"}]}]),
            json!([{"role": "assistant", "content": "xno"}]),
        ),
        (
            "image between wrapper texts keeps parts; detail original becomes high",
            json!([{"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "<image name=[Image #1]>"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "original"},
                {"type": "input_text", "text": "</image>"},
                {"type": "input_text", "text": "Describe it."}]}]),
            json!([{"role": "user", "content": [
                {"type": "text", "text": "<image name=[Image #1]>"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "high"}},
                {"type": "text", "text": "</image>Describe it."}]}]),
        ),
        (
            "image detail low/auto kept, unknown dropped; Chat-style image object accepted",
            json!([{"type": "message", "role": "user", "content": [
                {"type": "input_image", "image_url": "http://a/1.png", "detail": "low"},
                {"type": "input_image", "image_url": "http://a/2.png", "detail": "auto"},
                {"type": "input_image", "image_url": "http://a/3.png", "detail": "weird"},
                {"type": "input_image", "image_url": {"url": "http://a/4.png", "detail": "high"}}]}]),
            json!([{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "http://a/1.png", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "http://a/2.png", "detail": "auto"}},
                {"type": "image_url", "image_url": {"url": "http://a/3.png"}},
                {"type": "image_url", "image_url": {"url": "http://a/4.png", "detail": "high"}}]}]),
        ),
        (
            "file-id image and files become notes; unknown parts skipped",
            json!([{"type": "message", "role": "user", "content": [
                {"type": "input_image", "file_id": "file_1"},
                {"type": "input_file", "filename": "a.pdf", "file_data": "..."},
                {"type": "input_file", "file_id": "file_2"},
                {"type": "input_audio", "input_audio": {"data": 1}},
                {"type": "input_text", "text": "!"}]}]),
            json!([{"role": "user", "content": "[image file: file_1][file: a.pdf][file: file_2]!"}]),
        ),
        (
            "consecutive calls and the preceding assistant text merge into one message",
            json!([user("go"),
                   {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Running."}]},
                   call("c1", "exec_command"), call("c2", "exec_command"),
                   output("c1", "one"), output("c2", "two")]),
            json!([{"role": "user", "content": "go"},
                   {"role": "assistant", "content": "Running.",
                    "tool_calls": [chat_call("c1", "exec_command"), chat_call("c2", "exec_command")]},
                   tool_msg("c1", "one"), tool_msg("c2", "two")]),
        ),
        (
            "calls alone: content null; a reasoning item does not split the group",
            json!([call("c1", "a"), {"type": "reasoning", "summary": [], "encrypted_content": "x"}, call("c2", "b"),
                   output("c2", "B"), output("c1", "A")]),
            json!([{"role": "assistant", "content": null, "tool_calls": [chat_call("c1", "a"), chat_call("c2", "b")]},
                   tool_msg("c1", "A"), tool_msg("c2", "B")]),
        ),
        (
            "an output ends the group: later calls form a new assistant message",
            json!([
                call("c1", "a"),
                output("c1", "A"),
                call("c2", "b"),
                output("c2", "B")
            ]),
            json!([{"role": "assistant", "content": null, "tool_calls": [chat_call("c1", "a")]}, tool_msg("c1", "A"),
                   {"role": "assistant", "content": null, "tool_calls": [chat_call("c2", "b")]}, tool_msg("c2", "B")]),
        ),
        (
            "items between a call and its output move after the tool messages",
            json!([call("c1", "a"),
                   {"type": "message", "role": "developer", "content": "note"},
                   {"type": "reasoning", "summary": []},
                   user("later"),
                   output("c1", "A")]),
            json!([{"role": "assistant", "content": null, "tool_calls": [chat_call("c1", "a")]}, tool_msg("c1", "A"),
                   {"role": "system", "content": "note"}, {"role": "user", "content": "later"}]),
        ),
        (
            "assistant text after calls starts a new message",
            json!([call("c1", "a"), {"role": "assistant", "content": "done"}, output("c1", "A")]),
            json!([{"role": "assistant", "content": null, "tool_calls": [chat_call("c1", "a")]}, tool_msg("c1", "A"),
                   {"role": "assistant", "content": "done"}]),
        ),
        (
            "a call without output is answered \"aborted\"",
            json!([
                call("c1", "a"),
                call("c2", "b"),
                output("c2", "B"),
                user("next")
            ]),
            json!([{"role": "assistant", "content": null, "tool_calls": [chat_call("c1", "a"), chat_call("c2", "b")]},
                   tool_msg("c1", "aborted"), tool_msg("c2", "B"), {"role": "user", "content": "next"}]),
        ),
        (
            "orphan, duplicate outputs and a reused call id are dropped",
            json!([
                output("ghost", "boo"),
                call("c1", "a"),
                output("c1", "A"),
                output("c1", "again"),
                call("c1", "a")
            ]),
            json!([{"role": "assistant", "content": null, "tool_calls": [chat_call("c1", "a")]}, tool_msg("c1", "A")]),
        ),
        (
            "an output before its call still follows the call",
            json!([output("c1", "A"), user("u"), call("c1", "a")]),
            json!([{"role": "user", "content": "u"},
                   {"role": "assistant", "content": null, "tool_calls": [chat_call("c1", "a")]}, tool_msg("c1", "A")]),
        ),
        (
            "array outputs: text items joined with a newline",
            json!([call("c1", "mcp"),
                   {"type": "function_call_output", "call_id": "c1", "output": [
                       {"type": "input_text", "text": "Wall time: 0.0019 seconds\nOutput:"},
                       {"type": "input_text", "text": "5"}]}]),
            json!([{"role": "assistant", "content": null, "tool_calls": [chat_call("c1", "mcp")]},
                   tool_msg("c1", "Wall time: 0.0019 seconds\nOutput:\n5")]),
        ),
        (
            "images in outputs follow all tool messages of the group as one user message",
            json!([call("c1", "view_image"), call("c2", "view_image"), call("c3", "x"),
                   {"type": "function_call_output", "call_id": "c1", "output": [
                       {"type": "input_image", "image_url": "data:image/png;base64,AA", "detail": "high"}]},
                   {"type": "function_call_output", "call_id": "c2", "output": [
                       {"type": "input_text", "text": "see"},
                       {"type": "input_image", "image_url": "http://b.png"}]},
                   output("c3", "plain")]),
            json!([{"role": "assistant", "content": null, "tool_calls": [
                        chat_call("c1", "view_image"), chat_call("c2", "view_image"), chat_call("c3", "x")]},
                   tool_msg("c1", "(image output: see the next user message)"),
                   tool_msg("c2", "see"),
                   tool_msg("c3", "plain"),
                   {"role": "user", "content": [
                       {"type": "text", "text": "Image output of tool call c1:"},
                       {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA", "detail": "high"}},
                       {"type": "text", "text": "Image output of tool call c2:"},
                       {"type": "image_url", "image_url": {"url": "http://b.png"}}]}]),
        ),
        (
            "namespaced calls in history carry the flattened name",
            json!([{"type": "function_call", "name": "add_numbers", "namespace": "mcp__demo",
                    "arguments": "{\"a\":2}", "call_id": "c1"},
                   output("c1", "5")]),
            json!([{"role": "assistant", "content": null, "tool_calls": [
                        {"id": "c1", "type": "function",
                         "function": {"name": "mcp__demo__add_numbers", "arguments": "{\"a\":2}"}}]},
                   tool_msg("c1", "5")]),
        ),
        (
            "custom tool call and output",
            json!([{"type": "custom_tool_call", "id": "ctc_1", "status": "completed", "call_id": "p1",
                    "name": "apply_patch", "input": "*** Begin Patch\n*** End Patch\n"},
                   {"type": "custom_tool_call_output", "call_id": "p1", "output": "Exit code: 0"}]),
            json!([{"role": "assistant", "content": null, "tool_calls": [
                        {"id": "p1", "type": "function", "function": {"name": "apply_patch",
                         "arguments": "{\"input\":\"*** Begin Patch\\n*** End Patch\\n\"}"}}]},
                   tool_msg("p1", "Exit code: 0")]),
        ),
        (
            "object arguments are sent as their JSON text",
            json!([{"type": "function_call", "name": "f", "arguments": {"a": [1, 2]}, "call_id": "c1"}, output("c1", "ok")]),
            json!([{"role": "assistant", "content": null, "tool_calls": [
                        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":[1,2]}"}}]},
                   tool_msg("c1", "ok")]),
        ),
        (
            "unmappable and unknown item types are skipped, whatever their fields",
            json!([user("u"),
                   {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "q"}},
                   {"type": "image_generation_call", "id": "ig", "result": "AAA"},
                   {"type": "compaction", "encrypted_content": "zzz"},
                   {"type": "tool_search_call", "call_id": 5, "arguments": {"query": "x"}},
                   {"type": "tool_search_output", "tools": [{"type": "function"}], "output": {"weird": true}},
                   {"type": "additional_tools", "tools": []},
                   {"type": "item_reference", "id": "msg_1"},
                   {"type": "computer_call_output", "call_id": "cc", "output": {"type": "computer_screenshot"}},
                   {"type": "future_thing", "content": 42, "role": 7},
                   {"type": "reasoning", "summary": [{"type": "summary_text", "text": "s"}],
                    "content": [{"type": "reasoning_text", "text": "r"}], "encrypted_content": "e"},
                   {"role": "assistant", "content": "a"}]),
            json!([{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]),
        ),
        (
            "escapes, unicode and quotes survive byte for byte",
            json!([
                user("tab\t \"q\" \\ é 😀 \u{1}"),
                call("c1", "a"),
                output("c1", "line1\nline2 \"x\" \u{7f} \u{2028}")
            ]),
            json!([{"role": "user", "content": "tab\t \"q\" \\ é 😀 \u{1}"},
                   {"role": "assistant", "content": null, "tool_calls": [chat_call("c1", "a")]},
                   tool_msg("c1", "line1\nline2 \"x\" \u{7f} \u{2028}")]),
        ),
        (
            "empty content and empty history",
            json!([{"role": "user", "content": []}, {"role": "user", "content": ""}]),
            json!([{"role": "user", "content": ""}, {"role": "user", "content": ""}]),
        ),
        (
            "images in system and assistant messages are dropped",
            json!([{"role": "developer", "content": [{"type": "input_text", "text": "a"},
                                                      {"type": "input_image", "image_url": "http://x"}]},
                   {"role": "assistant", "content": [{"type": "input_image", "image_url": "http://x"},
                                                      {"type": "output_text", "text": "b"}]}]),
            json!([{"role": "system", "content": "a"}, {"role": "assistant", "content": "b"}]),
        ),
    ];
    for (name, input, expected) in cases {
        let got = messages(input);
        assert_eq!(got, expected, "case: {name}\n got: {got:#}");
    }
}

#[test]
fn input_string_instructions_and_options() {
    let (chat, plan) = plan(&json!({
        "model": "blockrun/auto", "input": "Say \"hello\".", "instructions": "Be brief.", "stream": true
    }));
    assert_eq!(
        chat["messages"],
        json!([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say \"hello\"."}])
    );
    assert_eq!(chat["model"], "blockrun/auto");
    assert_eq!(plan.model, "blockrun/auto");
    assert!(plan.client_stream);
    assert!(plan.tools.is_empty());

    let (_, plan) = self::plan(&json!({"model": "m", "input": "x"}));
    assert!(!plan.client_stream);

    // Instructions as an array of messages: texts joined with a blank line.
    let chat = self::chat(json!({"model": "m", "input": [user("u")], "instructions": [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "one"}]},
        {"role": "system", "content": "two"},
        {"type": "reasoning", "summary": []}]}));
    assert_eq!(
        chat["messages"],
        json!([{"role": "system", "content": "one\n\ntwo"}, {"role": "user", "content": "u"}])
    );

    // An empty instructions array adds no system message.
    let chat = self::chat(json!({"model": "m", "input": "u", "instructions": []}));
    assert_eq!(chat["messages"], json!([{"role": "user", "content": "u"}]));

    // No input at all, or an empty one: refused before anything goes upstream.
    for body in [
        json!({"model": "m", "instructions": "sys", "input": null}),
        json!({"model": "m", "input": []}),
        json!({"model": "m", "input": "  "}),
        json!({"model": "m"}),
        // Found by fuzzing: items that all have no Chat form left `messages: []`.
        json!({"model": "m", "input": [{"type": "local_shell_call", "id": "ls_1"}]}),
        json!({"model": "m", "input": [{"type": "reasoning", "summary": [], "encrypted_content": "x"}]}),
    ] {
        let err = error(&body.to_string());
        assert_eq!(err.param(), Some("input"), "{body}");
        assert!(err.to_string().contains("missing or empty input"), "{body}");
    }
}

#[test]
fn merge_leading_puts_every_system_text_first() {
    let opts = RequestOptions {
        system_role: SystemRole::MergeLeading,
        ..RequestOptions::default()
    };
    let body = json!({"model": "m", "instructions": "I", "input": [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "D1"},
                                                             {"type": "input_text", "text": "+"}]},
        user("U"),
        call("c1", "a"),
        {"type": "message", "role": "developer", "content": "D2"},
        output("c1", "A"),
        {"role": "system", "content": "S"}]});
    let (chat, _) = plan_with(&body, &opts);
    assert_eq!(
        chat["messages"],
        json!([{"role": "system", "content": "I\n\nD1+\n\nD2\n\nS"},
               {"role": "user", "content": "U"},
               {"role": "assistant", "content": null, "tool_calls": [chat_call("c1", "a")]},
               tool_msg("c1", "A")])
    );
    // Without any system text there is no system message.
    let (chat, _) = plan_with(&json!({"model": "m", "input": "hi"}), &opts);
    assert_eq!(chat["messages"], json!([{"role": "user", "content": "hi"}]));
    assert_eq!(RequestOptions::default().system_role, SystemRole::System);
}

fn key(byte: u8) -> Arc<ReasoningKey> {
    Arc::new(ReasoningKey::from_secret(&[byte; 32]))
}

fn keyed(byte: u8) -> RequestOptions {
    RequestOptions {
        reasoning_key: Some(key(byte)),
        ..RequestOptions::default()
    }
}

/// A reasoning item as Codex sends it back, `encrypted_content` = `blob`.
fn reasoning(text: &str, blob: Value) -> Value {
    json!({"type": "reasoning", "id": "rs_1", "summary": [],
           "content": [{"type": "reasoning_text", "text": text}], "encrypted_content": blob})
}

fn sealed(text: &str) -> Value {
    reasoning(text, json!(key(7).seal(text)))
}

fn assistant(text: &str) -> Value {
    json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]})
}

/// The Chat messages for an `input` array, translated with `opts`.
fn messages_with(input: Value, opts: &RequestOptions) -> Value {
    plan_with(&json!({"model": "m", "input": input}), opts).0["messages"].clone()
}

#[test]
fn reasoning_is_restored_on_the_assistant_message_it_precedes() {
    let opts = keyed(7);
    let tampered = {
        let mut blob = key(7).seal("plan A").into_bytes();
        let last = blob.len() - 1;
        blob[last] = if blob[last] == b'A' { b'B' } else { b'A' };
        String::from_utf8(blob).unwrap()
    };
    let tool_turn = |reasoning_item: Value| {
        json!([
            user("go"),
            reasoning_item,
            call("c1", "exec_command"),
            output("c1", "ok"),
            assistant("done"),
            user("next")
        ])
    };
    let expected = |reasoning_content: Option<&str>| {
        let mut calls = json!({"role": "assistant", "content": null,
                               "tool_calls": [chat_call("c1", "exec_command")]});
        if let Some(text) = reasoning_content {
            calls["reasoning_content"] = json!(text);
        }
        json!([{"role": "user", "content": "go"}, calls, tool_msg("c1", "ok"),
               {"role": "assistant", "content": "done"}, {"role": "user", "content": "next"}])
    };
    let cases: Vec<(&str, Value, Option<&str>)> = vec![
        ("sealed with our key", sealed("plan A"), Some("plan A")),
        ("tampered", reasoning("plan A", json!(tampered)), None),
        (
            "another bridge's key",
            reasoning("plan A", json!(key(8).seal("plan A"))),
            None,
        ),
        (
            "OpenAI's own blob",
            reasoning("plan A", json!("gAAAAABopaque")),
            None,
        ),
        (
            "the capture's placeholder",
            reasoning("plan A", json!("opaque")),
            None,
        ),
        (
            "missing encrypted_content",
            json!({"type": "reasoning", "summary": []}),
            None,
        ),
        (
            "encrypted_content null",
            reasoning("plan A", Value::Null),
            None,
        ),
        (
            "encrypted_content not a string",
            reasoning("plan A", json!({"a": 1})),
            None,
        ),
        ("sealed empty text", sealed(""), None),
    ];
    for (name, item, content) in cases {
        let got = messages_with(tool_turn(item), &opts);
        assert_eq!(got, expected(content), "case: {name}\n got: {got:#}");
    }
    // Without a key nothing is restored, and a sealed blob is no error.
    let got = messages_with(tool_turn(sealed("plan A")), &RequestOptions::default());
    assert_eq!(got, expected(None));
    // Sent once, never as null or "" on the other messages.
    let body = json!({"model": "m", "input": tool_turn(sealed("plan A"))});
    let text = String::from_utf8(plan_with(&body, &opts).1.body).unwrap();
    assert_eq!(text.matches("reasoning_content").count(), 1, "{text}");
}

#[test]
fn reasoning_placement_table() {
    let r = sealed;
    let with_reasoning = |mut message: Value, text: &str| {
        message["reasoning_content"] = json!(text);
        message
    };
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "before an assistant text message: carried on that message",
            json!([user("u"), r("think"), assistant("hello")]),
            json!([{"role": "user", "content": "u"},
                   {"role": "assistant", "content": "hello", "reasoning_content": "think"}]),
        ),
        (
            "before text and calls of one turn: on the merged message",
            json!([
                user("u"),
                r("think"),
                assistant("Running."),
                call("c1", "a"),
                output("c1", "A")
            ]),
            json!([{"role": "user", "content": "u"},
                   with_reasoning(json!({"role": "assistant", "content": "Running.",
                                         "tool_calls": [chat_call("c1", "a")]}), "think"),
                   tool_msg("c1", "A")]),
        ),
        (
            "several items before one message: joined with a blank line",
            json!([
                r("one"),
                r("two\nlines"),
                call("c1", "a"),
                output("c1", "A")
            ]),
            json!([
                with_reasoning(
                    json!({"role": "assistant", "content": null,
                                         "tool_calls": [chat_call("c1", "a")]}),
                    "one\n\ntwo\nlines"
                ),
                tool_msg("c1", "A")
            ]),
        ),
        (
            "interleaved between calls of one turn: all on that message, a bad blob skipped",
            json!([
                r("first"),
                call("c1", "a"),
                reasoning("x", json!("gAAAA")),
                r("second"),
                call("c2", "b"),
                output("c1", "A"),
                output("c2", "B")
            ]),
            json!([
                with_reasoning(
                    json!({"role": "assistant", "content": null,
                                         "tool_calls": [chat_call("c1", "a"), chat_call("c2", "b")]}),
                    "first\n\nsecond"
                ),
                tool_msg("c1", "A"),
                tool_msg("c2", "B")
            ]),
        ),
        (
            "each turn keeps its own reasoning",
            json!([
                user("u"),
                r("t1"),
                call("c1", "a"),
                output("c1", "A"),
                r("t2"),
                assistant("done")
            ]),
            json!([{"role": "user", "content": "u"},
                   with_reasoning(json!({"role": "assistant", "content": null,
                                         "tool_calls": [chat_call("c1", "a")]}), "t1"),
                   tool_msg("c1", "A"),
                   {"role": "assistant", "content": "done", "reasoning_content": "t2"}]),
        ),
        (
            "followed by a user message: dropped, not carried to a later turn",
            json!([r("lost"), user("u"), assistant("a")]),
            json!([{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]),
        ),
        (
            "followed by a developer message: dropped",
            json!([r("lost"), {"role": "developer", "content": "d"}, assistant("a")]),
            json!([{"role": "system", "content": "d"}, {"role": "assistant", "content": "a"}]),
        ),
        (
            "after the calls, followed by their outputs: dropped",
            json!([
                call("c1", "a"),
                r("late"),
                output("c1", "A"),
                assistant("a")
            ]),
            json!([{"role": "assistant", "content": null, "tool_calls": [chat_call("c1", "a")]},
                   tool_msg("c1", "A"), {"role": "assistant", "content": "a"}]),
        ),
        (
            "after calls, before a new assistant text: on the text's message",
            json!([
                call("c1", "a"),
                r("next"),
                assistant("x"),
                output("c1", "A")
            ]),
            json!([{"role": "assistant", "content": null, "tool_calls": [chat_call("c1", "a")]},
                   tool_msg("c1", "A"),
                   {"role": "assistant", "content": "x", "reasoning_content": "next"}]),
        ),
        (
            "at the end of the input: dropped",
            json!([user("u"), r("trailing")]),
            json!([{"role": "user", "content": "u"}]),
        ),
        (
            "skipped items do not end the turn",
            json!([r("kept"), {"type": "web_search_call", "id": "ws", "status": "completed"},
                   assistant("a")]),
            json!([{"role": "assistant", "content": "a", "reasoning_content": "kept"}]),
        ),
        (
            "escapes and unicode survive",
            json!([r("say \"hi\"\t\\ é 😀 \u{1}"), assistant("a")]),
            json!([{"role": "assistant", "content": "a",
                    "reasoning_content": "say \"hi\"\t\\ é 😀 \u{1}"}]),
        ),
    ];
    let opts = keyed(7);
    for (name, input, expected) in cases {
        let got = messages_with(input, &opts);
        assert_eq!(got, expected, "case: {name}\n got: {got:#}");
    }
}

#[test]
fn reasoning_with_merge_leading() {
    let opts = RequestOptions {
        system_role: SystemRole::MergeLeading,
        reasoning_key: Some(key(7)),
        ..RequestOptions::default()
    };
    let input = json!([{"role": "developer", "content": "D"}, user("U"), sealed("plan A"),
                       call("c1", "a"), output("c1", "A"), {"role": "developer", "content": "D2"},
                       sealed("plan B"), assistant("done")]);
    assert_eq!(
        messages_with(input, &opts),
        json!([{"role": "system", "content": "D\n\nD2"},
               {"role": "user", "content": "U"},
               {"role": "assistant", "content": null, "reasoning_content": "plan A",
                "tool_calls": [chat_call("c1", "a")]},
               tool_msg("c1", "A"),
               {"role": "assistant", "content": "done", "reasoning_content": "plan B"}])
    );
}

#[test]
fn options_debug_hides_the_key() {
    let text = format!("{:?}", keyed(7));
    assert!(
        text.contains("reasoning_key: Some(ReasoningKey(…))"),
        "{text}"
    );
    assert!(!text.contains("[7, 7"), "{text}");
}

#[test]
fn custom_tool_input_round_trips_exactly() {
    let inputs = [
        "*** Begin Patch\n*** Add File: a.txt\n+\"quoted\" \\ back\tslash\n*** End Patch\n",
        "",
        "unicode é 😀 \u{0} \u{1f}",
        "{\"looks\": \"like json\"}",
    ];
    for input in inputs {
        let chat = messages(json!([
            {"type": "custom_tool_call", "call_id": "p", "name": "apply_patch", "input": input},
            {"type": "custom_tool_call_output", "call_id": "p", "output": "ok"}]));
        let arguments = chat[0]["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap();
        let parsed: Value = serde_json::from_str(arguments).unwrap();
        assert_eq!(parsed, json!({ CUSTOM_INPUT_PARAM: input }));
    }
}

fn tools_of(tools: Value) -> (Value, ChatPlan) {
    plan(
        &json!({"model": "m", "input": "x", "tools": tools, "tool_choice": "auto",
                 "parallel_tool_calls": true}),
    )
}

#[test]
fn function_tools_nest_and_keep_schema_verbatim() {
    let (chat, plan) = tools_of(json!([
        {"type": "function", "name": "exec_command", "description": "Runs.", "strict": false,
         "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"],
                        "additionalProperties": false}},
        {"type": "function", "name": "no_params"},
        {"type": "function", "name": "strict_one", "strict": true, "parameters": {"type": "object"}},
        {"type": "function", "name": "exec_command", "parameters": {}}]));
    assert_eq!(
        chat["tools"],
        json!([
            {"type": "function", "function": {"name": "exec_command", "description": "Runs.", "strict": false,
             "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"],
                            "additionalProperties": false}}},
            {"type": "function", "function": {"name": "no_params",
             "parameters": {"type": "object", "properties": {}}}},
            {"type": "function", "function": {"name": "strict_one", "strict": true,
             "parameters": {"type": "object"}}}])
    );
    assert_eq!(chat["tool_choice"], "auto");
    assert_eq!(chat["parallel_tool_calls"], true);
    assert_eq!(
        plan.tools.resolve("exec_command").map(|t| t.kind),
        Some(ToolKind::Function)
    );

    // The schema text is copied byte for byte (key order, spacing, numbers).
    let body = r#"{"model":"m","input":"x","tools":[{"type":"function","name":"f","parameters":{"z":1, "a":1.50,"type":"object"}}]}"#;
    let plan = request_to_chat(body.as_bytes(), &RequestOptions::default()).unwrap();
    let text = String::from_utf8(plan.body).unwrap();
    assert!(
        text.contains(r#""parameters":{"z":1, "a":1.50,"type":"object"}"#),
        "{text}"
    );
}

#[test]
fn custom_tools_become_functions_with_one_string_parameter() {
    let (chat, plan) = tools_of(json!([{"type": "custom", "name": "apply_patch",
        "description": "Use the `apply_patch` tool to edit files. This is a FREEFORM tool.",
        "format": {"type": "grammar", "syntax": "lark", "definition": "start: begin_patch hunk+ end_patch"}}]));
    let f = &chat["tools"][0]["function"];
    assert_eq!(chat["tools"][0]["type"], "function");
    assert_eq!(f["name"], "apply_patch");
    assert_eq!(
        f["parameters"],
        json!({"type": "object", "properties": {"input": {"type": "string",
               "description": "The raw freeform input text (not JSON), as the tool description defines it."}},
               "required": ["input"], "additionalProperties": false})
    );
    let description = f["description"].as_str().unwrap();
    assert!(description.starts_with("Use the `apply_patch` tool to edit files."));
    assert!(description.contains("`input`"));
    assert!(description.contains("Do not wrap that text in JSON"));
    assert!(description.contains("lark"));
    assert!(description.contains("start: begin_patch hunk+ end_patch"));
    assert!(f.get("strict").is_none());
    let target = plan.tools.resolve("apply_patch").unwrap();
    assert_eq!(target.kind, ToolKind::Custom);
    assert_eq!(target.namespace, None);

    // A text-format custom tool has no grammar section.
    let (chat, _) =
        tools_of(json!([{"type": "custom", "name": "exec", "format": {"type": "text"}}]));
    let description = chat["tools"][0]["function"]["description"]
        .as_str()
        .unwrap();
    assert!(!description.contains("grammar"), "{description}");
}

#[test]
fn namespaces_flatten_and_hosted_tools_drop() {
    let (chat, plan) = tools_of(json!([
        {"type": "web_search", "external_web_access": true},
        {"type": "web_search_preview"},
        {"type": "tool_search", "execution": "client", "parameters": {"type": "object"}},
        {"type": "image_generation"}, {"type": "file_search", "vector_store_ids": []},
        {"type": "code_interpreter", "container": {"type": "auto"}},
        {"type": "computer_use_preview", "display_width": 1}, {"type": "local_shell"},
        {"type": "mcp", "server_label": "x", "server_url": "http://x"},
        {"type": "something_new", "name": 5},
        {"type": "namespace", "name": "mcp__demo", "description": "Tools in the mcp__demo namespace.",
         "tools": [{"type": "function", "name": "add_numbers", "description": "Adds.", "strict": false,
                    "parameters": {"type": "object"}},
                   {"type": "custom", "name": "raw"},
                   {"type": "web_search"}]},
        {"type": "namespace", "name": "bare", "tools": [{"type": "function", "name": "f"}]}]));
    let tools = chat["tools"].as_array().unwrap();
    let names: Vec<&str> = tools
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["mcp__demo__add_numbers", "mcp__demo__raw", "bare__f"]
    );
    assert_eq!(
        tools[0]["function"]["description"],
        "Tools in the mcp__demo namespace.\n\nAdds."
    );
    assert!(tools[2]["function"].get("description").is_none());
    let target = plan.tools.resolve("mcp__demo__add_numbers").unwrap();
    assert_eq!(target.namespace.as_deref(), Some("mcp__demo"));
    assert_eq!(target.name, "add_numbers");
    assert_eq!(target.kind, ToolKind::Function);
    assert_eq!(
        plan.tools.resolve("mcp__demo__raw").unwrap().kind,
        ToolKind::Custom
    );
    assert!(plan.tools.resolve("web_search").is_none());
}

#[test]
fn no_tools_left_means_no_tool_fields() {
    for tools in [json!([{"type": "web_search"}]), json!([])] {
        let (chat, plan) = tools_of(tools);
        assert!(chat.get("tools").is_none());
        assert!(chat.get("tool_choice").is_none());
        assert!(chat.get("parallel_tool_calls").is_none());
        assert!(plan.tools.is_empty());
        // The request's tools are echoed as sent anyway.
        assert!(plan.echo.tools.is_some());
    }
    let chat = chat(
        json!({"model": "m", "input": "x", "tool_choice": "required", "parallel_tool_calls": false}),
    );
    assert!(chat.get("tool_choice").is_none());
    assert!(chat.get("parallel_tool_calls").is_none());
}

#[test]
fn tool_choice_table() {
    let tools = json!([
        {"type": "function", "name": "exec_command"},
        {"type": "custom", "name": "apply_patch"},
        {"type": "namespace", "name": "mcp__demo", "tools": [{"type": "function", "name": "add"}]}]);
    let cases = [
        (json!("auto"), json!("auto")),
        (json!("none"), json!("none")),
        (json!("required"), json!("required")),
        (json!("sometimes"), json!("auto")),
        (
            json!({"type": "function", "name": "exec_command"}),
            json!({"type": "function", "function": {"name": "exec_command"}}),
        ),
        (
            json!({"type": "custom", "name": "apply_patch"}),
            json!({"type": "function", "function": {"name": "apply_patch"}}),
        ),
        (
            json!({"type": "function", "name": "add", "namespace": "mcp__demo"}),
            json!({"type": "function", "function": {"name": "mcp__demo__add"}}),
        ),
        (
            json!({"type": "function", "name": "mcp__demo__add"}),
            json!({"type": "function", "function": {"name": "mcp__demo__add"}}),
        ),
        (
            json!({"type": "function", "function": {"name": "exec_command"}}),
            json!({"type": "function", "function": {"name": "exec_command"}}),
        ),
        (
            json!({"type": "function", "name": "not_offered"}),
            json!("auto"),
        ),
        (
            json!({"type": "allowed_tools", "mode": "required", "tools": []}),
            json!("required"),
        ),
        (
            json!({"type": "allowed_tools", "mode": "auto", "tools": []}),
            json!("auto"),
        ),
        (json!({"type": "web_search_preview"}), json!("auto")),
        (json!({"type": "mcp", "server_label": "x"}), json!("auto")),
        (json!({"type": "image_generation"}), json!("auto")),
    ];
    for (choice, expected) in cases {
        let (chat, plan) =
            plan(&json!({"model": "m", "input": "x", "tools": tools, "tool_choice": choice}));
        assert_eq!(chat["tool_choice"], expected, "tool_choice {choice}");
        assert_eq!(
            plan.echo.tool_choice.as_ref().map(|r| r.get().to_owned()),
            Some(choice.to_string())
        );
    }
}

#[test]
fn sampling_and_format_fields() {
    let (chat, _) = plan(&json!({
        "model": "m", "input": "x", "max_output_tokens": 100, "temperature": 0.5, "top_p": 0.9,
        "reasoning": {"effort": "high", "summary": "auto"},
        "text": {"verbosity": "low", "format": {"type": "json_schema", "name": "out", "strict": true,
                 "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}},
        "user": "u1", "safety_identifier": "s1",
        "store": false, "include": ["reasoning.encrypted_content"], "client_metadata": {"a": "b"},
        "prompt_cache_key": "k", "previous_response_id": "resp_1", "truncation": "auto",
        "service_tier": "priority", "background": false, "conversation": "c", "prompt": {"id": "p"},
        "top_logprobs": 2, "stream_options": {"include_usage": true}, "metadata": {"k": "v"},
        "some_future_field": {"deep": [1, 2, 3]}}));
    let mut keys: Vec<&str> = chat
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "max_tokens",
            "messages",
            "model",
            "reasoning_effort",
            "response_format",
            "stream",
            "temperature",
            "top_p",
            "user"
        ]
    );
    assert_eq!(chat["max_tokens"], 100);
    assert_eq!(chat["temperature"], 0.5);
    assert_eq!(chat["top_p"], 0.9);
    assert_eq!(chat["reasoning_effort"], "high");
    assert_eq!(chat["user"], "u1");
    assert_eq!(
        chat["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "out", "strict": true,
               "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}})
    );

    let format = |text: Value| {
        chat_field(
            json!({"model": "m", "input": "x", "text": text}),
            "response_format",
        )
    };
    assert_eq!(
        format(json!({"format": {"type": "json_object"}})),
        json!({"type": "json_object"})
    );
    assert_eq!(format(json!({"format": {"type": "text"}})), Value::Null);
    assert_eq!(format(json!({"verbosity": "high"})), Value::Null);
    assert_eq!(
        format(json!({"format": {"type": "json_schema", "schema": {"type": "object"}}})),
        json!({"type": "json_schema", "json_schema": {"name": "response", "schema": {"type": "object"}}})
    );

    let effort = |reasoning: Value| {
        chat_field(
            json!({"model": "m", "input": "x", "reasoning": reasoning}),
            "reasoning_effort",
        )
    };
    for value in ["none", "minimal", "low", "medium", "high", "xhigh"] {
        assert_eq!(effort(json!({"effort": value})), json!(value));
    }
    for reasoning in [
        json!({"effort": "max"}),
        json!({"effort": "ultra"}),
        json!({}),
        json!({"effort": null}),
        Value::Null,
    ] {
        assert_eq!(effort(reasoning.clone()), Value::Null, "{reasoning}");
    }

    assert_eq!(
        chat_field(
            json!({"model": "m", "input": "x", "safety_identifier": "s"}),
            "user"
        ),
        "s"
    );
}

fn chat_field(body: Value, field: &str) -> Value {
    chat(body).get(field).cloned().unwrap_or(Value::Null)
}

#[test]
fn echo_carries_request_fields() {
    let body = r#"{"model":"m","input":"x","instructions":["a"],"tools":[{"type":"web_search"}],
        "tool_choice":{"type":"function","name":"f"},"parallel_tool_calls":false,"temperature":0.2,
        "top_p":1,"max_output_tokens":7,"reasoning":{"effort":"low"},"text":{"verbosity":"low"},
        "metadata":{"a":"b"},"store":false,"previous_response_id":"resp_0","prompt_cache_key":"k",
        "service_tier":"auto","user":"u","safety_identifier":"s","truncation":"disabled"}"#;
    let body = body.replace(r#"["a"]"#, r#"[{"role":"developer","content":"a"}]"#);
    let plan = request_to_chat(body.as_bytes(), &RequestOptions::default()).unwrap();
    let e = &plan.echo;
    let raw = |r: &Option<Box<RawValue>>| r.as_ref().map(|r| r.get().to_owned());
    assert_eq!(
        raw(&e.instructions).as_deref(),
        Some(r#"[{"role":"developer","content":"a"}]"#)
    );
    assert_eq!(raw(&e.tools).as_deref(), Some(r#"[{"type":"web_search"}]"#));
    assert_eq!(
        raw(&e.tool_choice).as_deref(),
        Some(r#"{"type":"function","name":"f"}"#)
    );
    assert_eq!(e.parallel_tool_calls, Some(false));
    assert_eq!(e.temperature, Some(0.2));
    assert_eq!(e.top_p, Some(1.0));
    assert_eq!(e.max_output_tokens, Some(7));
    assert_eq!(raw(&e.reasoning).as_deref(), Some(r#"{"effort":"low"}"#));
    assert_eq!(raw(&e.text).as_deref(), Some(r#"{"verbosity":"low"}"#));
    assert_eq!(raw(&e.metadata).as_deref(), Some(r#"{"a":"b"}"#));
    assert_eq!(e.store, Some(false));
    assert_eq!(e.previous_response_id.as_deref(), Some("resp_0"));
    assert_eq!(e.prompt_cache_key.as_deref(), Some("k"));
    assert_eq!(e.service_tier.as_deref(), Some("auto"));
    assert_eq!(e.user.as_deref(), Some("u"));
    assert_eq!(e.safety_identifier.as_deref(), Some("s"));
    assert_eq!(e.truncation.as_deref(), Some("disabled"));

    let plan =
        request_to_chat(br#"{"model":"m","input":"x"}"#, &RequestOptions::default()).unwrap();
    assert!(
        plan.echo.tools.is_none() && plan.echo.instructions.is_none() && plan.echo.store.is_none()
    );
}

#[test]
fn errors_name_the_path() {
    let deep_input = format!(
        r#"{{"model":"m","input":[{{"type":"function_call","call_id":"c","name":"f","arguments":{{"a":{}1{}}}}}]}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let deep_schema = format!(
        r#"{{"model":"m","input":"x","tools":[{{"type":"function","name":"f","parameters":{}1{}}}]}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let cases: Vec<(&str, String, Option<&str>, &str)> = vec![
        ("invalid JSON", r#"{"model": }"#.into(), None,
         "request body is not valid JSON: expected value at line 1 column 11"),
        ("empty body", String::new(), None,
         "request body is not valid JSON: EOF while parsing a value at line 1 column 0"),
        ("trailing garbage", r#"{"model":"m"} x"#.into(), None,
         "request body is not valid JSON: trailing characters at line 1 column 15"),
        ("not an object", "[1]".into(), None,
         "invalid type at the top level: expected a JSON object (a Responses API request), found sequence"),
        ("missing model", r#"{"input":"x"}"#.into(), Some("model"), "missing field \"model\""),
        ("model not a string", r#"{"model":5}"#.into(), Some("model"),
         "invalid type at model: expected a string, found integer `5`"),
        ("input a number", r#"{"model":"m","input":3}"#.into(), Some("input"),
         "invalid type at input: expected a string or an array of input items, found integer `3`"),
        ("input item not an object", r#"{"model":"m","input":["hi"]}"#.into(), Some("input[0]"),
         "invalid type at input[0]: expected an input item object, found string \"hi\""),
        ("item type not a string", r#"{"model":"m","input":[{"type":1}]}"#.into(), Some("input[0].type"),
         "invalid type at input[0].type: expected a string, found integer `1`"),
        ("item without type or role", r#"{"model":"m","input":[{"content":"x"}]}"#.into(),
         Some("input[0].type"), "missing field \"type\" in input[0]"),
        ("message without content", r#"{"model":"m","input":[{"type":"message","role":"user"}]}"#.into(),
         Some("input[0].content"), "missing field \"content\" in input[0]"),
        ("message without role", r#"{"model":"m","input":[{"type":"message","content":"x"}]}"#.into(),
         Some("input[0].role"), "missing field \"role\" in input[0]"),
        ("unknown role", r#"{"model":"m","input":[{"role":"tool","content":"x"}]}"#.into(),
         Some("input[0].role"),
         "invalid value at input[0].role: expected one of \"user\", \"assistant\", \"system\", \"developer\", found \"tool\""),
        ("content a number", r#"{"model":"m","input":[{"role":"user","content":1}]}"#.into(),
         Some("input[0].content"),
         "invalid type at input[0].content: expected a string or an array of content parts, found a number"),
        ("content null", r#"{"model":"m","input":[{"role":"user","content":null}]}"#.into(),
         Some("input[0].content"), "missing field \"content\" in input[0]"),
        ("part type wrong", r#"{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"a"},{"type":2}]}]}"#.into(),
         Some("input[0].content[1].type"),
         "invalid type at input[0].content[1].type: expected a string, found integer `2`"),
        ("part without type", r#"{"model":"m","input":[{"role":"user","content":[{"text":"a"}]}]}"#.into(),
         Some("input[0].content[0].type"), "missing field \"type\" in input[0].content[0]"),
        ("text not a string", r#"{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":5}]}]}"#.into(),
         Some("input[0].content[0].text"),
         "invalid type at input[0].content[0].text: expected a string, found a number"),
        ("call without call_id", r#"{"model":"m","input":[{"type":"function_call","name":"f","arguments":"{}"}]}"#.into(),
         Some("input[0].call_id"), "missing field \"call_id\" in input[0]"),
        ("arguments a number", r#"{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":1}]}"#.into(),
         Some("input[0].arguments"),
         "invalid type at input[0].arguments: expected a string of JSON arguments, found a number"),
        ("custom call without input", r#"{"model":"m","input":[{"type":"custom_tool_call","call_id":"c","name":"f"}]}"#.into(),
         Some("input[0].input"), "missing field \"input\" in input[0]"),
        ("output an object", r#"{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":{}}]}"#.into(),
         Some("input[0].output"),
         "invalid type at input[0].output: expected a string or an array of content items, found an object"),
        ("output part type", r#"{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":[{"type":{}}]}]}"#.into(),
         Some("input[0].output[0].type"),
         "invalid type at input[0].output[0].type: expected a string, found map"),
        ("image url a number", r#"{"model":"m","input":[{"role":"user","content":[{"type":"input_image","image_url":1}]}]}"#.into(),
         Some("input[0].content[0].image_url"),
         "invalid type at input[0].content[0].image_url: expected a string (URL or data URL), found a number"),
        ("tools not an array", r#"{"model":"m","tools":{}}"#.into(), Some("tools"),
         "invalid type at tools: expected an array of tools, found an object"),
        ("tool without name", r#"{"model":"m","tools":[{"type":"function"}]}"#.into(), Some("tools[0].name"),
         "missing field \"name\" in tools[0]"),
        ("tool without type", r#"{"model":"m","tools":[{"name":"f"}]}"#.into(), Some("tools[0].type"),
         "missing field \"type\" in tools[0]"),
        ("parameters a string", r#"{"model":"m","tools":[{"type":"function","name":"f","parameters":"x"}]}"#.into(),
         Some("tools[0].parameters"),
         "invalid type at tools[0].parameters: expected a JSON Schema object, found a string"),
        ("strict a string", r#"{"model":"m","tools":[{"type":"function","name":"f","strict":"yes"}]}"#.into(),
         Some("tools[0].strict"), "invalid type at tools[0].strict: expected a boolean, found a string"),
        ("nested tool name", r#"{"model":"m","tools":[{"type":"namespace","name":"n","tools":[{"type":"function","name":3}]}]}"#.into(),
         Some("tools[0].tools[0].name"), "invalid type at tools[0].tools[0].name: expected a string, found a number"),
        ("tool_choice a number", r#"{"model":"m","tools":[{"type":"function","name":"f"}],"tool_choice":1}"#.into(),
         Some("tool_choice"), "invalid type at tool_choice: expected a string or a tool_choice object, found a number"),
        ("temperature a string", r#"{"model":"m","temperature":"hot"}"#.into(), Some("temperature"),
         "invalid type at temperature: expected f64, found string \"hot\""),
        ("max_output_tokens negative", r#"{"model":"m","max_output_tokens":-1}"#.into(), Some("max_output_tokens"),
         "invalid value at max_output_tokens: expected u64, found integer `-1`"),
        ("stream a string", r#"{"model":"m","stream":"yes"}"#.into(), Some("stream"),
         "invalid type at stream: expected a boolean, found string \"yes\""),
        ("instructions a number", r#"{"model":"m","instructions":1}"#.into(), Some("instructions"),
         "invalid type at instructions: expected a string or an array of messages, found a number"),
        ("instructions item", r#"{"model":"m","instructions":[{"role":"developer","content":2}]}"#.into(),
         Some("instructions[0].content"),
         "invalid type at instructions[0].content: expected a string or an array of content parts, found a number"),
        ("reasoning effort a number", r#"{"model":"m","reasoning":{"effort":1}}"#.into(), Some("reasoning.effort"),
         "invalid type at reasoning.effort: expected a string, found integer `1`"),
        ("text format without type", r#"{"model":"m","text":{"format":{}}}"#.into(), Some("text.format.type"),
         "missing field \"type\" in text.format"),
        ("duplicate field", r#"{"model":"m","model":"n"}"#.into(), Some("model"), "duplicate field \"model\""),
        ("deep arguments", deep_input, None,
         "request body nests JSON deeper than 128 levels in input[0].arguments; flatten it"),
        ("array body", "[".repeat(100_000), None,
         "invalid type at the top level: expected a JSON object (a Responses API request), found sequence"),
        ("deep schema", deep_schema, None,
         "request body nests JSON deeper than 128 levels in tools; flatten it"),
    ];
    for (name, body, param, message) in cases {
        let err = error(&body);
        assert_eq!(err.to_string(), message, "case: {name}");
        assert_eq!(err.param(), param, "case: {name}");
    }
    let err = request_to_chat(b"{\"model\":\"\xff\"}", &RequestOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "request body is not valid JSON: invalid UTF-8 at byte 10"
    );
}

#[test]
fn very_deep_nesting_errors_without_overflow() {
    for body in [
        "[".repeat(1_000_000),
        format!(
            r#"{{"model":"m","input":[{{"type":"x","y":{}}}]}}"#,
            "{\"a\":".repeat(500_000)
        ),
        format!(
            r#"{{"model":"m","metadata":{}0{}}}"#,
            "[".repeat(500_000),
            "]".repeat(500_000)
        ),
        format!(
            r#"{{"model":"m","future":{}0{}}}"#,
            "[".repeat(500_000),
            "]".repeat(500_000)
        ),
    ] {
        // Either an error, or (for an ignored field) a translation: never a stack overflow.
        let _ = request_to_chat(body.as_bytes(), &RequestOptions::default());
    }
    let body = format!(
        r#"{{"model":"m","metadata":{}0{}}}"#,
        "[".repeat(500),
        "]".repeat(500)
    );
    assert!(matches!(error(&body), RequestError::TooDeep { .. }));
}

#[test]
fn mangled_bodies_never_panic() {
    let body = serde_json::to_vec(&json!({
        "model": "m", "instructions": [{"role": "developer", "content": "i"}],
        "input": [user("u"), sealed("plan"), {"role": "assistant", "content": "a"}, call("c1", "f"),
                  {"type": "custom_tool_call", "call_id": "p", "name": "apply_patch", "input": "x\ny"},
                  {"type": "function_call_output", "call_id": "c1", "output": [
                      {"type": "input_text", "text": "t"}, {"type": "input_image", "image_url": "http://i"}]},
                  {"type": "reasoning", "summary": []}],
        "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}},
                  {"type": "custom", "name": "apply_patch", "format": {"type": "grammar", "definition": "x"}},
                  {"type": "namespace", "name": "n", "tools": [{"type": "function", "name": "g"}]}],
        "tool_choice": {"type": "function", "name": "f"}, "text": {"format": {"type": "json_object"}},
        "reasoning": {"effort": "low"}}))
    .unwrap();
    let opts = keyed(7);
    let whole = request_to_chat(&body, &opts).unwrap().body;
    assert!(String::from_utf8(whole)
        .unwrap()
        .contains(r#""reasoning_content":"plan""#));
    for cut in 0..body.len() {
        let _ = request_to_chat(&body[..cut], &opts);
        for replacement in [b'"', b'{', b']', b'1', b'\\', 0xff] {
            let mut mangled = body.clone();
            mangled[cut] = replacement;
            if let Ok(plan) = request_to_chat(&mangled, &opts) {
                let chat: Value = serde_json::from_slice(&plan.body).expect("valid JSON out");
                assert_strict(chat["messages"].as_array().expect("messages"));
            }
        }
    }
}

/// A ~1 MB Codex-like history: `cargo test -- --ignored --nocapture timing` (release for real
/// numbers). Prints, asserts nothing about time.
#[test]
#[ignore]
fn timing_one_megabyte() {
    let mut input = vec![json!({"type": "message", "role": "developer",
        "content": [{"type": "input_text", "text": "You are Codex. ".repeat(1500)}]})];
    input.push(user("fix the tests"));
    let line = "src/lib.rs:12:5: warning: unused variable `x` \"quoted\"\tTab\n";
    let mut i = 0;
    while serde_json::to_vec(&input).unwrap().len() < 1_000_000 {
        input.push(
            json!({"type": "reasoning", "summary": [], "encrypted_content": "gAAAA".repeat(100)}),
        );
        input.push(json!({"type": "message", "role": "assistant",
                          "content": [{"type": "output_text", "text": "Running the tests."}]}));
        input.push(call(&format!("c{i}"), "exec_command"));
        input.push(output(
            &format!("c{i}"),
            &format!("Chunk ID: 1\nOutput:\n{}", line.repeat(80)),
        ));
        input.push(
            json!({"type": "function_call", "namespace": "mcp__demo", "name": "add",
                          "arguments": "{}", "call_id": format!("m{i}")}),
        );
        input.push(json!({"type": "function_call_output", "call_id": format!("m{i}"), "output": [
            {"type": "input_text", "text": "Wall time: 0.002 seconds\nOutput:"}, {"type": "input_text", "text": "5"}]}));
        i += 1;
    }
    let body = serde_json::to_vec(&json!({"model": "m", "stream": true, "input": input,
        "tools": [{"type": "function", "name": "exec_command", "parameters": {"type": "object"}}],
        "tool_choice": "auto", "parallel_tool_calls": true, "reasoning": {"effort": "medium"},
        "store": false, "include": ["reasoning.encrypted_content"]}))
    .unwrap();
    for (label, opts) in [("no key", RequestOptions::default()), ("key", keyed(7))] {
        let mut best = f64::MAX;
        for _ in 0..50 {
            let start = std::time::Instant::now();
            let plan = request_to_chat(&body, &opts).unwrap();
            best = best.min(start.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(plan);
        }
        println!(
            "{label}: {} bytes translated in {best:.3} ms (best of 50)",
            body.len()
        );
    }
}

#[test]
fn streaming_is_asked_of_the_upstream_only_for_streaming_clients() {
    let plan = |stream: bool| {
        let body = json!({"model": "m", "input": "hi", "stream": stream, "tools": [
            {"type": "function", "name": "f", "parameters": {"type": "object"}}]});
        request_to_chat(body.to_string().as_bytes(), &RequestOptions::default()).expect("valid")
    };
    let parsed = |plan: &ChatPlan| -> Value { serde_json::from_slice(&plan.body).expect("json") };
    let mut streaming = plan(true);
    assert_eq!(
        parsed(&streaming)["stream"],
        false,
        "not streaming until asked"
    );
    assert!(streaming.ask_upstream_to_stream());
    let body = parsed(&streaming);
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(
        body["tools"][0]["function"]["name"], "f",
        "the rest is untouched"
    );
    assert!(!streaming.ask_upstream_to_stream(), "twice = once");
    let mut plain = plan(false);
    assert!(!plain.ask_upstream_to_stream());
    assert_eq!(parsed(&plain)["stream"], false);
    assert!(parsed(&plain).get("stream_options").is_none());
}

/// A history whose tool output and user text carry code whitespace ClawRouter would rewrite.
fn whitespace_history() -> Value {
    json!({"model": "m", "input": [
        {"type": "message", "role": "developer", "content": "Be brief."},
        user("show the Makefile"),
        call("c1", "exec_command"),
        output("c1", "all:\n\tcc -o app main.c\n"),
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "and this:"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA"}]},
        assistant("x  =  1"),
        user("thanks")]})
}

fn protect_above(limit: usize) -> RequestOptions {
    RequestOptions {
        preserve_whitespace_above: Some(limit),
        ..RequestOptions::default()
    }
}

#[test]
fn above_the_threshold_string_contents_go_as_text_parts() {
    let body = whitespace_history();
    let (plain, _) = plan(&body);
    assert_eq!(
        plan_with(&body, &protect_above(1 << 20)).0,
        plain,
        "small bodies are untouched"
    );

    let (protected, _) = plan_with(&body, &protect_above(0));
    let text_part = |t: &str| json!([{"type": "text", "text": t}]);
    assert_eq!(
        protected["messages"],
        json!([{"role": "system", "content": "Be brief."},
               {"role": "user", "content": text_part("show the Makefile")},
               {"role": "assistant", "content": null, "tool_calls": [chat_call("c1", "exec_command")]},
               {"role": "tool", "tool_call_id": "c1", "content": text_part("all:\n\tcc -o app main.c\n")},
               plain["messages"][4].clone(),
               {"role": "assistant", "content": text_part("x  =  1")},
               {"role": "user", "content": text_part("thanks")}])
    );
    let mut rest = protected.clone();
    rest["messages"] = plain["messages"].clone();
    assert_eq!(rest, plain, "nothing but the contents changes");

    // The instructions stay a string (ClawRouter's router reads them only as one); later
    // system messages are protected like the rest.
    let two_systems = json!({"model": "m", "input": [
        {"type": "message", "role": "developer", "content": "You are Codex."},
        user("hi"),
        {"type": "message", "role": "developer", "content": "<permissions>\n\tsandboxed"}]});
    let (chat, _) = plan_with(&two_systems, &protect_above(0));
    assert_eq!(chat["messages"][0]["content"], "You are Codex.");
    assert_eq!(
        chat["messages"][2]["content"],
        text_part("<permissions>\n\tsandboxed")
    );

    // Empty strings stay strings (ClawRouter leaves them alone; some providers refuse empty
    // text parts).
    let empty = json!({"model": "m", "input": [user(""), assistant("ok")]});
    let (chat, _) = plan_with(&empty, &protect_above(0));
    assert_eq!(chat["messages"][0]["content"], "");
    assert_eq!(chat["messages"][1]["content"], text_part("ok"));
}

#[test]
fn whitespace_protection_follows_the_exact_chat_body_length() {
    // Whatever the Responses body's length suggests, the decision is the Chat body's own (in
    // its plain form): a body of exactly the limit stays plain, one byte more is protected.
    let codex_like = whitespace_history(); // its Chat body is shorter than it
    let short_input = json!({"model": "m", "instructions": "a\tb", "input": "c  d"}); // longer
    for body in [codex_like, short_input] {
        let request_len = serde_json::to_vec(&body).unwrap().len();
        let plain = plan(&body).1.body;
        let chat_len = plain.len();
        let protected = plan_with(&body, &protect_above(0)).1.body;
        assert_ne!(plain, protected);
        for limit in [
            chat_len - 1,
            chat_len,
            request_len - 1,
            request_len,
            request_len + 1,
        ] {
            let got = plan_with(&body, &protect_above(limit)).1.body;
            let want = if chat_len > limit { &protected } else { &plain };
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(want),
                "limit {limit}, chat body {chat_len} bytes, request {request_len} bytes"
            );
        }
    }
}

/// The Chat body of `body` nudged `n` times.
fn nudged(body: &Value, n: u32) -> Value {
    let opts = RequestOptions {
        retry_nudge: n,
        ..RequestOptions::default()
    };
    plan_with(body, &opts).0
}

#[test]
fn a_retry_nudge_appends_newlines_to_the_last_user_or_tool_message() {
    let body = whitespace_history();
    let (plain, _) = plan(&body);
    assert_eq!(nudged(&body, 0), plain);
    let one = nudged(&body, 1);
    assert_eq!(
        one["messages"][6],
        json!({"role": "user", "content": [{"type": "text", "text": "thanks\n"}]})
    );
    let mut rest = one.clone();
    rest["messages"][6] = plain["messages"][6].clone();
    assert_eq!(rest, plain, "nothing else changes");
    assert_eq!(
        nudged(&body, 3)["messages"][6]["content"][0]["text"],
        "thanks\n\n\n"
    );

    // A tool output as the last message; an escaped (verbatim-copied) string gets its suffix too.
    let tool_last = json!({"model": "m", "input": [user("go"), call("c1", "exec_command"),
                                                     output("c1", "a \"quoted\"\tline")]});
    assert_eq!(
        nudged(&tool_last, 2)["messages"][2]["content"],
        json!([{"type": "text", "text": "a \"quoted\"\tline\n\n"}])
    );
    // Neither an assistant message nor a system message after the user's: the user's is nudged.
    let developer = json!({"type": "message", "role": "developer", "content": "be brief"});
    for (last, as_sent) in [
        (assistant("done"), json!("done")),
        (developer, json!("be brief")),
    ] {
        let chat = nudged(&json!({"model": "m", "input": [user("go"), last]}), 1);
        assert_eq!(
            chat["messages"][0]["content"],
            json!([{"type": "text", "text": "go\n"}])
        );
        assert_eq!(chat["messages"][1]["content"], as_sent);
    }
}

#[test]
fn function_tools_are_echoed_with_every_field_the_response_schema_requires() {
    let bare = json!({"model": "m", "input": "hi", "tools": [
        {"type": "function", "name": "get_weather",
         "parameters": {"type": "object", "properties": {}}},
        {"type": "function", "name": "ping"},
        {"type": "web_search"}]});
    let (_, plan) = plan(&bare);
    let echoed: Value = serde_json::from_str(plan.echo.tools.as_ref().unwrap().get()).unwrap();
    assert_eq!(
        echoed,
        json!([{"type": "function", "name": "get_weather", "description": null, "strict": true,
                "parameters": {"type": "object", "properties": {}}},
               {"type": "function", "name": "ping", "description": null, "parameters": null,
                "strict": true},
               {"type": "web_search"}])
    );
    // Complete tools (Codex's) are echoed byte for byte.
    let complete = r#"{"model":"m","input":"hi","tools":[{"type":"function","name":"f","description":"d","strict":false,"parameters":{"type":"object"}}]}"#;
    let plan = request_to_chat(complete.as_bytes(), &RequestOptions::default()).unwrap();
    assert_eq!(
        plan.echo.tools.as_ref().unwrap().get(),
        r#"[{"type":"function","name":"f","description":"d","strict":false,"parameters":{"type":"object"}}]"#
    );
}

#[test]
fn string_values_decode_surrogate_pairs_and_replace_lone_surrogates() {
    let value = |quoted: &str| {
        let raw: &RawValue = serde_json::from_str(quoted).expect("a JSON string");
        text::JStr::from_raw(raw)
            .expect("a string")
            .value()
            .into_owned()
    };
    assert_eq!(value(r#""crab \ud83e\udd80\n""#), "crab 🦀\n");
    assert_eq!(value(r#""half \ud83e, then \n""#), "half \u{fffd}, then \n");
    assert_eq!(value(r#""\udd80\ud83e""#), "\u{fffd}\u{fffd}");
    assert_eq!(value(r#""\\ud83e is text""#), "\\ud83e is text");
}

// ---- the bridge's free-model line in the history (translate/model_notice.rs) ---------------

const LINE: &str = "Note: ClawRouter answered with the free model nvidia/gpt-oss-120b instead of \
     blockrun/auto — the wallet could not pay. Fund it: `clawrouter-codex wallet`.";

#[test]
fn the_free_model_line_is_never_sent_upstream_and_shown_once_per_turn() {
    // Mid-turn: the line came with a call (a message of its own) and before a text.
    let mid_turn = json!({"model": "blockrun/auto", "input": [
        user("Make it."),
        assistant(LINE),
        call("c1", "exec_command"),
        output("c1", "ok"),
        assistant(&format!("{LINE}\n\n  Made it.\n\tDone. ")),
    ]});
    let (chat, translated) = plan(&mid_turn);
    assert!(translated.free_model_line_shown);
    assert_eq!(
        chat["messages"],
        json!([
            {"role": "user", "content": "Make it."},
            {"role": "assistant", "content": null,
             "tool_calls": [chat_call("c1", "exec_command")]},
            tool_msg("c1", "ok"),
            {"role": "assistant", "content": "  Made it.\n\tDone. "},
        ])
    );
    // The user spoke since: the next answer may say it again.
    let next_turn = json!({"model": "blockrun/auto", "input": [
        user("Make it."), assistant(&format!("{LINE}\n\nMade it.")), user("Again."),
    ]});
    let (chat, translated) = plan(&next_turn);
    assert!(!translated.free_model_line_shown);
    assert_eq!(chat["messages"][1]["content"], "Made it.");
    // Other texts are left alone, byte for byte.
    let (chat, translated) = plan(&json!({"model": "m", "input": [
        user("Hi"), assistant("Note: this is the model's own note.\n\nHi"),
    ]}));
    assert!(!translated.free_model_line_shown);
    assert_eq!(
        chat["messages"][1]["content"],
        "Note: this is the model's own note.\n\nHi"
    );
}
