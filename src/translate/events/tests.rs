use super::*;
use serde_json::{json, Value};

/// Splits an SSE byte stream into `(event name, data JSON)` pairs, checking the framing:
/// every event is exactly `event: X\ndata: {json}\n\n` and the JSON's `type` is X.
pub(crate) fn parse_sse(bytes: &[u8]) -> Vec<(String, Value)> {
    let text = std::str::from_utf8(bytes).expect("utf-8");
    assert!(
        text.is_empty() || text.ends_with("\n\n"),
        "stream ends mid-event"
    );
    let mut events = Vec::new();
    for block in text.split_terminator("\n\n") {
        let mut lines = block.split('\n');
        let event = lines
            .next()
            .and_then(|l| l.strip_prefix("event: "))
            .expect("event line");
        let data = lines
            .next()
            .and_then(|l| l.strip_prefix("data: "))
            .expect("data line");
        assert!(lines.next().is_none(), "extra line in {block:?}");
        let value: Value = serde_json::from_str(data).expect("data is JSON");
        assert_eq!(value["type"], event, "type matches event name");
        events.push((event.to_owned(), value));
    }
    events
}

/// Every field the Open Responses `ResponseResource` schema requires.
pub(crate) const RESPONSE_FIELDS: &[&str] = &[
    "id",
    "object",
    "created_at",
    "completed_at",
    "status",
    "incomplete_details",
    "model",
    "previous_response_id",
    "instructions",
    "output",
    "error",
    "tools",
    "tool_choice",
    "truncation",
    "parallel_tool_calls",
    "text",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "top_logprobs",
    "temperature",
    "reasoning",
    "user",
    "usage",
    "max_output_tokens",
    "max_tool_calls",
    "store",
    "background",
    "service_tier",
    "metadata",
    "safety_identifier",
    "prompt_cache_key",
];

/// Checks a Response object against the schema's types (the compliance runner's zod rules).
pub(crate) fn assert_response_object(response: &Value) {
    let obj = response.as_object().expect("response is an object");
    for field in RESPONSE_FIELDS {
        assert!(obj.contains_key(*field), "missing {field}");
    }
    assert!(response["id"].as_str().expect("id").starts_with("resp_"));
    assert_eq!(response["object"], "response");
    assert!(response["created_at"].is_u64());
    assert!(response["completed_at"].is_u64() || response["completed_at"].is_null());
    assert!(response["output"].is_array());
    assert!(response["tools"].is_array());
    for number in [
        "top_p",
        "temperature",
        "presence_penalty",
        "frequency_penalty",
    ] {
        assert!(response[number].is_number(), "{number}");
    }
    assert!(response["top_logprobs"].is_u64());
    for boolean in ["parallel_tool_calls", "store", "background"] {
        assert!(response[boolean].is_boolean(), "{boolean}");
    }
    assert!(response["service_tier"].is_string());
    assert!(matches!(
        response["truncation"].as_str(),
        Some("auto" | "disabled")
    ));
    assert!(response["text"].is_object());
    assert!(response["metadata"].is_object());
    assert!(response["max_tool_calls"].is_null());
    assert!(response.get("end_turn").is_none(), "never send end_turn");
    for nullable in [
        "previous_response_id",
        "user",
        "safety_identifier",
        "prompt_cache_key",
    ] {
        assert!(
            response[nullable].is_null() || response[nullable].is_string(),
            "{nullable}"
        );
    }
    let usage = &response["usage"];
    if !usage.is_null() {
        for field in ["input_tokens", "output_tokens", "total_tokens"] {
            assert!(usage[field].is_u64(), "usage.{field}");
        }
        assert!(usage["input_tokens_details"]["cached_tokens"].is_u64());
        assert!(usage["output_tokens_details"]["reasoning_tokens"].is_u64());
    }
}

/// Sequence numbers 0, 1, 2…; per item: one added, one done, consistent ids and indexes.
pub(crate) fn assert_stream_invariants(events: &[(String, Value)]) {
    for (i, (_, data)) in events.iter().enumerate() {
        assert_eq!(data["sequence_number"], i as u64, "sequence at {i}");
    }
    let mut added: Vec<(u64, String)> = Vec::new();
    let mut done: Vec<u64> = Vec::new();
    let mut summaries: Vec<SummaryParts> = Vec::new();
    for (name, data) in events {
        match name.as_str() {
            "response.output_item.added" => {
                let index = data["output_index"].as_u64().expect("output_index");
                assert_eq!(index, added.len() as u64, "indexes in start order");
                let id = data["item"]["id"].as_str().expect("item id").to_owned();
                assert!(added.iter().all(|(_, other)| *other != id), "unique id");
                assert_eq!(data["item"]["status"], "in_progress");
                added.push((index, id));
            }
            "response.output_item.done" => {
                let index = data["output_index"].as_u64().expect("output_index");
                let (_, id) = added
                    .iter()
                    .find(|(i, _)| *i == index)
                    .expect("done after added");
                assert_eq!(data["item"]["id"], id.as_str());
                assert!(!done.contains(&index), "done twice");
                if data["item"]["type"] == "reasoning" {
                    check_reasoning_done(&summaries, index, &data["item"]);
                }
                done.push(index);
            }
            n if n.starts_with("response.output_text.")
                || n.starts_with("response.content_part.")
                || n.starts_with("response.function_call_arguments.")
                || n.starts_with("response.custom_tool_call_input.")
                || n.starts_with("response.reasoning_text.")
                || n.starts_with("response.reasoning_summary_") =>
            {
                let index = data["output_index"].as_u64().expect("output_index");
                let (_, id) = added
                    .iter()
                    .find(|(i, _)| *i == index)
                    .expect("delta after added");
                assert_eq!(data["item_id"], id.as_str(), "{n}");
                assert!(!done.contains(&index), "{n} after done");
                if n.starts_with("response.reasoning_summary_") {
                    check_summary_event(&mut summaries, index, n, data);
                }
            }
            _ => {}
        }
    }
    let Some((last, terminal)) = events.last() else {
        return;
    };
    if matches!(
        last.as_str(),
        "response.completed" | "response.incomplete" | "response.failed"
    ) {
        let output = terminal["response"]["output"].as_array().expect("output");
        assert_eq!(output.len(), done.len(), "terminal output lists done items");
        for (item, (_, id)) in output
            .iter()
            .zip(added.iter().filter(|(i, _)| done.contains(i)))
        {
            assert_eq!(item["id"], id.as_str());
        }
    }
}

/// What the summary events of one reasoning item said: per summary_index, the streamed
/// text and whether its part was closed.
struct SummaryParts {
    output_index: u64,
    parts: Vec<(String, bool)>,
}

/// One `response.reasoning_summary_*` event: parts open in order (summary_index 0, 1…),
/// deltas and `done`s go to the open part, `text.done` and `part.done` carry the text the
/// deltas built, and nothing follows a part's `part.done`.
fn check_summary_event(summaries: &mut Vec<SummaryParts>, index: u64, name: &str, data: &Value) {
    let summary_index = data["summary_index"]
        .as_u64()
        .unwrap_or_else(|| panic!("{name} without summary_index")) as usize;
    assert!(
        data.get("content_index").is_none(),
        "{name} has content_index"
    );
    let at = match summaries.iter().position(|s| s.output_index == index) {
        Some(at) => at,
        None => {
            summaries.push(SummaryParts {
                output_index: index,
                parts: Vec::new(),
            });
            summaries.len() - 1
        }
    };
    let parts = &mut summaries[at].parts;
    if name == "response.reasoning_summary_part.added" {
        assert_eq!(summary_index, parts.len(), "summary parts open in order");
        assert!(
            parts.iter().all(|(_, closed)| *closed),
            "a summary part opens while another is open"
        );
        assert_eq!(data["part"], json!({"type": "summary_text", "text": ""}));
        parts.push((String::new(), false));
        return;
    }
    let (text, closed) = parts
        .get_mut(summary_index)
        .unwrap_or_else(|| panic!("{name} before its part was added"));
    assert!(!*closed, "{name} after its part was done");
    match name {
        "response.reasoning_summary_text.delta" => {
            text.push_str(data["delta"].as_str().expect("delta"));
        }
        "response.reasoning_summary_text.done" => {
            assert_eq!(data["text"], text.as_str(), "summary text.done");
        }
        "response.reasoning_summary_part.done" => {
            assert_eq!(
                data["part"],
                json!({"type": "summary_text", "text": text.as_str()}),
                "summary part.done"
            );
            *closed = true;
        }
        other => panic!("unknown summary event {other}"),
    }
}

/// A finished reasoning item lists, as its `summary`, exactly the parts its events
/// streamed and closed.
fn check_reasoning_done(summaries: &[SummaryParts], index: u64, item: &Value) {
    let streamed: Vec<Value> = summaries
        .iter()
        .find(|s| s.output_index == index)
        .map(|s| {
            s.parts
                .iter()
                .map(|(text, closed)| {
                    assert!(*closed, "reasoning done with a summary part open");
                    json!({"type": "summary_text", "text": text})
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(item["summary"], Value::Array(streamed), "reasoning summary");
}

fn meta() -> ResponseMeta {
    ResponseMeta::new("blockrun/auto", 1_700_000_000)
}

fn raw(text: &str) -> Option<Box<RawValue>> {
    Some(RawValue::from_string(text.to_owned()).expect("raw"))
}

#[test]
fn empty_response_completes_with_every_field() {
    let mut writer = ResponseEventWriter::new(meta(), &ResponseEcho::default());
    let mut out = Vec::new();
    writer.created(&mut out);
    writer.in_progress(&mut out);
    writer.completed(None, 1_700_000_005, &mut out);
    let events = parse_sse(&out);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.completed"
        ]
    );
    assert_stream_invariants(&events);
    for (_, data) in &events {
        assert_response_object(&data["response"]);
    }
    let created = &events[0].1["response"];
    assert_eq!(created["status"], "in_progress");
    assert!(created["completed_at"].is_null());
    let done = &events[2].1["response"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["completed_at"], 1_700_000_005);
    assert!(done["usage"].is_null());
    // Spec defaults.
    assert_eq!(done["tools"], json!([]));
    assert_eq!(done["tool_choice"], "auto");
    assert_eq!(done["text"], json!({"format": {"type": "text"}}));
    assert_eq!(done["truncation"], "disabled");
    assert_eq!(done["parallel_tool_calls"], true);
    assert_eq!(done["temperature"], 1.0);
    assert_eq!(done["top_p"], 1.0);
    assert_eq!(done["metadata"], json!({}));
    assert_eq!(done["service_tier"], "default");
    assert_eq!(done["store"], false);
    assert_eq!(done["background"], false);
    assert_eq!(done["model"], "blockrun/auto");
    assert_eq!(done["created_at"], 1_700_000_000);
    assert_eq!(done["id"], writer.meta().id.as_str());
}

#[test]
#[allow(clippy::field_reassign_with_default)] // survives fields added to ResponseEcho
fn echoed_request_settings_appear_in_the_response() {
    let mut echo = ResponseEcho::default();
    echo.instructions = raw(r#""be brief""#);
    echo.tools = raw(r#"[{"type":"function","name":"exec_command"}]"#);
    echo.tool_choice = raw(r#"{"type":"function","name":"exec_command"}"#);
    echo.reasoning = raw(r#"{"effort":"high"}"#);
    echo.text = raw(r#"{"verbosity":"low"}"#);
    echo.metadata = raw("null");
    echo.parallel_tool_calls = Some(false);
    echo.temperature = Some(0.2);
    echo.top_p = Some(0.9);
    echo.max_output_tokens = Some(500);
    echo.store = Some(true);
    echo.previous_response_id = Some("resp_prev".into());
    echo.prompt_cache_key = Some("thread-1".into());
    echo.service_tier = Some("priority".into());
    echo.user = Some("u1".into());
    echo.safety_identifier = Some("s1".into());
    echo.truncation = Some("auto".into());
    let mut writer = ResponseEventWriter::new(meta(), &echo);
    let mut out = Vec::new();
    writer.completed(None, 1, &mut out);
    let events = parse_sse(&out);
    let r = &events[0].1["response"];
    assert_response_object(r);
    assert_eq!(r["instructions"], "be brief");
    assert_eq!(r["tools"][0]["name"], "exec_command");
    assert_eq!(r["tool_choice"]["type"], "function");
    assert_eq!(r["reasoning"]["effort"], "high");
    assert_eq!(r["text"]["verbosity"], "low");
    assert_eq!(r["metadata"], json!({}), "null metadata becomes {{}}");
    assert_eq!(r["parallel_tool_calls"], false);
    assert_eq!(r["temperature"], 0.2);
    assert_eq!(r["top_p"], 0.9);
    assert_eq!(r["max_output_tokens"], 500);
    assert_eq!(r["store"], true);
    assert_eq!(r["previous_response_id"], "resp_prev");
    assert_eq!(r["prompt_cache_key"], "thread-1");
    assert_eq!(r["service_tier"], "priority");
    assert_eq!(r["user"], "u1");
    assert_eq!(r["safety_identifier"], "s1");
    assert_eq!(r["truncation"], "auto");
}

#[test]
fn message_events_have_the_required_shapes() {
    let mut writer = ResponseEventWriter::new(meta(), &ResponseEcho::default());
    let mut out = Vec::new();
    writer.created(&mut out);
    let mut message = writer.start_message(&mut out);
    writer.text_delta(&mut message, "Hel", &mut out);
    writer.text_delta(&mut message, "", &mut out);
    writer.text_delta(&mut message, "lo", &mut out);
    assert_eq!(message.text(), "Hello");
    writer.finish_message(message, ItemStatus::Completed, &mut out);
    writer.completed(None, 2, &mut out);
    let events = parse_sse(&out);
    assert_stream_invariants(&events);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let added = &events[1].1;
    assert_eq!(added["output_index"], 0);
    assert_eq!(added["item"]["type"], "message");
    assert_eq!(added["item"]["role"], "assistant");
    assert_eq!(added["item"]["content"], json!([]));
    assert!(added["item"]["id"]
        .as_str()
        .expect("id")
        .starts_with("msg_"));
    let part_added = &events[2].1;
    assert_eq!(
        part_added["part"],
        json!({"type": "output_text", "text": "", "annotations": [], "logprobs": []})
    );
    assert_eq!(part_added["content_index"], 0);
    let delta = &events[3].1;
    assert_eq!(delta["delta"], "Hel");
    assert_eq!(delta["content_index"], 0);
    assert_eq!(delta["logprobs"], json!([]));
    assert_eq!(events[5].1["text"], "Hello");
    assert_eq!(events[5].1["logprobs"], json!([]));
    assert_eq!(events[6].1["part"]["text"], "Hello");
    let done = &events[7].1["item"];
    assert_eq!(done["status"], "completed");
    assert_eq!(
        done["content"],
        json!([{"type": "output_text", "text": "Hello", "annotations": [], "logprobs": []}])
    );
    let response = &events[8].1["response"];
    assert_eq!(response["output"][0], *done);
}

#[test]
fn tool_call_events_have_the_required_shapes() {
    struct Case {
        kind: CallKind,
        namespace: Option<&'static str>,
        payload: &'static str,
        item_type: &'static str,
        id_prefix: &'static str,
        delta_event: &'static str,
        done_event: &'static str,
        payload_field: &'static str,
    }
    let cases = [
        Case {
            kind: CallKind::Function,
            namespace: None,
            payload: r#"{"cmd":"ls"}"#,
            item_type: "function_call",
            id_prefix: "fc_",
            delta_event: "response.function_call_arguments.delta",
            done_event: "response.function_call_arguments.done",
            payload_field: "arguments",
        },
        Case {
            kind: CallKind::Function,
            namespace: Some("mcp__demo"),
            payload: r#"{"a":2}"#,
            item_type: "function_call",
            id_prefix: "fc_",
            delta_event: "response.function_call_arguments.delta",
            done_event: "response.function_call_arguments.done",
            payload_field: "arguments",
        },
        Case {
            kind: CallKind::Custom,
            namespace: None,
            payload: "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch\n",
            item_type: "custom_tool_call",
            id_prefix: "ctc_",
            delta_event: "response.custom_tool_call_input.delta",
            done_event: "response.custom_tool_call_input.done",
            payload_field: "input",
        },
        Case {
            kind: CallKind::Custom,
            namespace: Some("tools_ns"),
            payload: "raw text",
            item_type: "custom_tool_call",
            id_prefix: "ctc_",
            delta_event: "response.custom_tool_call_input.delta",
            done_event: "response.custom_tool_call_input.done",
            payload_field: "input",
        },
    ];
    for case in cases {
        let mut writer = ResponseEventWriter::new(meta(), &ResponseEcho::default());
        let mut out = Vec::new();
        let mut call =
            writer.start_tool_call(case.kind, "call_9", "tool", case.namespace, &mut out);
        let (a, b) = case.payload.split_at(case.payload.len() / 2);
        writer.tool_call_delta(&mut call, a, &mut out);
        writer.tool_call_delta(&mut call, b, &mut out);
        writer.finish_tool_call(call, ItemStatus::Completed, &mut out);
        writer.completed(None, 3, &mut out);
        let events = parse_sse(&out);
        assert_stream_invariants(&events);
        let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "response.output_item.added",
                case.delta_event,
                case.delta_event,
                case.done_event,
                "response.output_item.done",
                "response.completed"
            ]
        );
        let added = &events[0].1["item"];
        assert_eq!(added["type"], case.item_type);
        assert_eq!(added[case.payload_field], "");
        assert_eq!(added["call_id"], "call_9");
        assert!(added["id"]
            .as_str()
            .expect("id")
            .starts_with(case.id_prefix));
        assert_eq!(events[1].1["delta"], a);
        assert_eq!(events[3].1[case.payload_field], case.payload);
        let done = &events[4].1["item"];
        assert_eq!(done["type"], case.item_type);
        assert_eq!(done["call_id"], "call_9");
        assert_eq!(done["name"], "tool");
        assert_eq!(done["status"], "completed");
        assert!(done[case.payload_field].is_string(), "payload is a string");
        assert_eq!(done[case.payload_field], case.payload);
        match case.namespace {
            Some(ns) => assert_eq!(done["namespace"], ns),
            None => assert!(done.get("namespace").is_none()),
        }
        if case.kind == CallKind::Function {
            assert_eq!(events[3].1["name"], "tool");
            assert!(done.get("input").is_none());
        } else {
            assert!(done.get("arguments").is_none());
        }
        assert_eq!(events[5].1["response"]["output"][0], *done);
    }
}

#[test]
fn empty_function_arguments_become_an_empty_object() {
    let mut writer = ResponseEventWriter::new(meta(), &ResponseEcho::default());
    let mut out = Vec::new();
    writer.function_call(
        "call_1",
        "get_goal",
        None,
        "",
        ItemStatus::Completed,
        &mut out,
    );
    let call = writer.start_function_call("call_2", "get_goal", None, &mut out);
    writer.finish_tool_call(call, ItemStatus::Completed, &mut out);
    let events = parse_sse(&out);
    let dones: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "response.output_item.done")
        .map(|(_, d)| &d["item"])
        .collect();
    assert_eq!(dones.len(), 2);
    for done in dones {
        assert_eq!(done["arguments"], "{}");
    }
}

#[test]
fn interleaved_items_keep_their_indexes_and_output_order() {
    let mut writer = ResponseEventWriter::new(meta(), &ResponseEcho::default());
    let mut out = Vec::new();
    let mut message = writer.start_message(&mut out);
    let mut call = writer.start_function_call("call_a", "exec_command", None, &mut out);
    writer.tool_call_delta(&mut call, "{\"cmd\":", &mut out);
    writer.text_delta(&mut message, "Running", &mut out);
    writer.tool_call_delta(&mut call, "\"ls\"}", &mut out);
    // Finished in the opposite order from started.
    writer.finish_tool_call(call, ItemStatus::Completed, &mut out);
    writer.finish_message(message, ItemStatus::Completed, &mut out);
    writer.completed(None, 4, &mut out);
    let events = parse_sse(&out);
    assert_stream_invariants(&events);
    let output = &events.last().expect("terminal").1["response"]["output"];
    assert_eq!(output[0]["type"], "message");
    assert_eq!(output[1]["type"], "function_call");
    assert_eq!(output[1]["arguments"], r#"{"cmd":"ls"}"#);
}

#[test]
fn reasoning_events_have_the_required_shapes() {
    let mut writer = ResponseEventWriter::new(meta(), &ResponseEcho::default());
    let mut out = Vec::new();
    let mut reasoning = writer.start_reasoning(&mut out);
    writer.reasoning_delta(&mut reasoning, "Think", &mut out);
    writer.reasoning_delta(&mut reasoning, "", &mut out);
    writer.reasoning_delta(&mut reasoning, "ing.", &mut out);
    assert_eq!(reasoning.text(), "Thinking.");
    writer.finish_reasoning(
        reasoning,
        ItemStatus::Completed,
        Some("ccr1.blob"),
        &mut out,
    );
    writer.reasoning("bare", ItemStatus::Incomplete, None, &mut out);
    writer.completed(None, 3, &mut out);
    let events = parse_sse(&out);
    assert_stream_invariants(&events);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        &names[..7],
        [
            "response.output_item.added",
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
            "response.output_item.done",
        ]
    );
    let added = &events[0].1["item"];
    assert_eq!(
        *added,
        json!({"type": "reasoning", "id": added["id"], "status": "in_progress",
               "summary": [], "content": []})
    );
    assert!(added["id"].as_str().expect("id").starts_with("rs_"));
    let part_added = &events[1].1;
    assert_eq!(part_added["item_id"], added["id"]);
    assert_eq!(part_added["output_index"], 0);
    assert_eq!(part_added["summary_index"], 0);
    assert_eq!(
        part_added["part"],
        json!({"type": "summary_text", "text": ""})
    );
    let delta = &events[2].1;
    assert_eq!(delta["item_id"], added["id"]);
    assert_eq!(delta["summary_index"], 0);
    assert_eq!(delta["delta"], "Think");
    assert!(delta.get("content_index").is_none());
    assert_eq!(events[4].1["text"], "Thinking.");
    assert_eq!(events[4].1["summary_index"], 0);
    assert_eq!(
        events[5].1["part"],
        json!({"type": "summary_text", "text": "Thinking."})
    );
    let done = &events[6].1["item"];
    assert_eq!(
        *done,
        json!({"type": "reasoning", "id": added["id"], "status": "completed",
               "summary": [{"type": "summary_text", "text": "Thinking."}],
               "content": [], "encrypted_content": "ccr1.blob"})
    );
    let bare = &events[12].1["item"];
    assert_eq!(bare["status"], "incomplete");
    assert_eq!(
        bare["summary"],
        json!([{"type": "summary_text", "text": "bare"}])
    );
    assert!(bare.get("encrypted_content").is_none());
    let output = &events.last().expect("terminal").1["response"]["output"];
    assert_eq!(output[0], *done);
}

#[test]
fn usage_serializes_with_integer_details() {
    let usage = Usage {
        input_tokens: 120,
        cached_tokens: 64,
        output_tokens: 30,
        reasoning_tokens: 12,
        total_tokens: 150,
    };
    assert_eq!(
        serde_json::to_value(usage).expect("usage"),
        json!({
            "input_tokens": 120,
            "input_tokens_details": {"cached_tokens": 64},
            "output_tokens": 30,
            "output_tokens_details": {"reasoning_tokens": 12},
            "total_tokens": 150
        })
    );
    let mut writer = ResponseEventWriter::new(meta(), &ResponseEcho::default());
    let mut out = Vec::new();
    writer.completed(Some(usage), 5, &mut out);
    let events = parse_sse(&out);
    assert_eq!(events[0].1["response"]["usage"]["total_tokens"], 150);
    assert_response_object(&events[0].1["response"]);
}

#[test]
fn terminal_events_carry_status_and_details() {
    let mut out = Vec::new();
    let mut writer = ResponseEventWriter::new(meta(), &ResponseEcho::default());
    writer.incomplete("max_output_tokens", None, &mut out);
    let mut failing = ResponseEventWriter::new(meta(), &ResponseEcho::default());
    let mut failed_out = Vec::new();
    failing.failed("invalid_prompt", "blocked", &mut failed_out);

    let incomplete = &parse_sse(&out)[0];
    assert_eq!(incomplete.0, "response.incomplete");
    let r = &incomplete.1["response"];
    assert_response_object(r);
    assert_eq!(r["status"], "incomplete");
    assert_eq!(
        r["incomplete_details"],
        json!({"reason": "max_output_tokens"})
    );
    assert!(r["error"].is_null());
    assert!(r["completed_at"].is_null());

    let failed = &parse_sse(&failed_out)[0];
    assert_eq!(failed.0, "response.failed");
    let r = &failed.1["response"];
    assert_response_object(r);
    assert_eq!(r["status"], "failed");
    assert_eq!(
        r["error"],
        json!({"code": "invalid_prompt", "message": "blocked"})
    );
    assert!(r["incomplete_details"].is_null());
}

#[test]
fn nothing_is_written_after_the_terminal_event() {
    let mut writer = ResponseEventWriter::new(meta(), &ResponseEcho::default());
    let mut out = Vec::new();
    writer.completed(None, 1, &mut out);
    let len = out.len();
    writer.failed("server_error", "late", &mut out);
    writer.in_progress(&mut out);
    writer.message("late text", ItemStatus::Completed, &mut out);
    writer.completed(None, 2, &mut out);
    assert_eq!(out.len(), len);
    assert!(writer.is_finished());
    assert_eq!(writer.status(), "completed");
}

#[test]
fn keepalive_in_progress_can_repeat() {
    let mut writer = ResponseEventWriter::new(meta(), &ResponseEcho::default());
    let mut out = Vec::new();
    writer.created(&mut out);
    for _ in 0..3 {
        writer.in_progress(&mut out);
    }
    writer.message("hi", ItemStatus::Completed, &mut out);
    writer.completed(None, 1, &mut out);
    let events = parse_sse(&out);
    assert_stream_invariants(&events);
    assert_eq!(events.len(), 1 + 3 + 6 + 1);
}

#[test]
fn without_events_builds_only_the_response_object() {
    let mut writer = ResponseEventWriter::without_events(meta(), &ResponseEcho::default());
    let mut out = Vec::new();
    writer.created(&mut out);
    writer.message("hi", ItemStatus::Completed, &mut out);
    writer.completed(None, 9, &mut out);
    assert!(out.is_empty());
    let response: Value = serde_json::from_slice(&writer.response_json()).expect("json");
    assert_response_object(&response);
    assert_eq!(response["status"], "completed");
    assert_eq!(response["output"][0]["content"][0]["text"], "hi");
}

#[test]
fn response_json_equals_the_terminal_event_response() {
    let mut writer = ResponseEventWriter::new(meta(), &ResponseEcho::default());
    let mut out = Vec::new();
    writer.message("x", ItemStatus::Completed, &mut out);
    writer.function_call(
        "call_1",
        "f",
        Some("ns"),
        "{}",
        ItemStatus::Completed,
        &mut out,
    );
    writer.completed(None, 9, &mut out);
    let events = parse_sse(&out);
    let from_json: Value = serde_json::from_slice(&writer.response_json()).expect("json");
    assert_eq!(events.last().expect("terminal").1["response"], from_json);
}

#[test]
fn text_with_special_characters_round_trips() {
    let text = "line1\nline2\r\n\"quoted\" \\ \u{0} emoji 🦀 </tool_call>\n\ndata: fake";
    let mut writer = ResponseEventWriter::new(meta(), &ResponseEcho::default());
    let mut out = Vec::new();
    writer.message(text, ItemStatus::Completed, &mut out);
    let events = parse_sse(&out);
    assert_eq!(events.len(), 6, "newlines in text never split an event");
    assert_eq!(events[5].1["item"]["content"][0]["text"], text);
}
