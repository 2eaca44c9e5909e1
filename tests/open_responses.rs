//! The Open Responses compliance suite's HTTP tests (project `openresponses`, its
//! `compliance-tests.ts`), rebuilt here: the same request bodies, sent through the real bridge
//! to the strict mock, and the answers checked against the fields the suite's
//! `ResponseResource` schema requires and the checks each test makes (output present, status
//! `completed`, a `function_call` item; for streams, events present, each valid against its
//! event schema as the suite's SSE parser checks them, and the function-call event sequence).
//! Written from the suite's tests and schemas, not copied from them.
//!
//! Its WebSocket tests too (`websocket-*`): the same checks on each turn's events (one JSON
//! message per event), plus what each test asks of `previous_response_id`. Not rebuilt:
//! `websocket-compact-new-chain`, which needs `/responses/compact` (not served by the bridge).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::bridge::BridgeGuard;
use common::client::post_json;
use common::mock_upstream::{ChatCall, MockUpstream, Reply};
use common::ws::{connect, Turn};
use serde_json::{json, Value};

const MODEL: &str = "gpt-4o-mini";

const WEATHER_TOOL: &str = r#"{"type":"function","name":"get_weather",
  "description":"Get the current weather for a location",
  "parameters":{"type":"object","properties":{"location":{"type":"string",
  "description":"The city and state, e.g. San Francisco, CA"}},"required":["location"]}}"#;

/// A 32×32 PNG, as the suite's image test sends it (any valid data URL will do here).
const PNG: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

fn user(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": text})
}

/// The suite's tests: (id, request body without `stream`, streaming, expects a function call).
fn suite() -> Vec<(&'static str, Value, bool, bool)> {
    let weather: Value = serde_json::from_str(WEATHER_TOOL).unwrap();
    vec![
        (
            "basic-response",
            json!({"model": MODEL, "input": [user("Say hello in exactly 3 words.")]}),
            false,
            false,
        ),
        (
            "streaming-response",
            json!({"model": MODEL, "input": [user("Count from 1 to 5.")]}),
            true,
            false,
        ),
        (
            "system-prompt",
            json!({"model": MODEL, "input": [
                {"type": "message", "role": "system",
                 "content": "You are a pirate. Always respond in pirate speak."},
                user("Say hello.")]}),
            false,
            false,
        ),
        (
            "tool-calling",
            json!({"model": MODEL, "input": [user("What's the weather like in San Francisco?")],
                   "tools": [weather.clone()]}),
            false,
            true,
        ),
        (
            "tool-calling-streaming",
            json!({"model": MODEL, "input": [user("What's the weather like in San Francisco?")],
                   "tools": [weather]}),
            true,
            true,
        ),
        (
            "image-input",
            json!({"model": MODEL, "input": [{"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "What do you see in this image? Answer in one sentence."},
                {"type": "input_image", "image_url": PNG}]}]}),
            false,
            false,
        ),
        (
            "multi-turn",
            json!({"model": MODEL, "input": [
                user("My name is Alice."),
                {"type": "message", "role": "assistant",
                 "content": "Hello Alice! Nice to meet you. How can I help you today?"},
                user("What is my name?")]}),
            false,
            false,
        ),
    ]
}

/// A model that calls `get_weather` when offered it, else answers text.
fn model(call: &ChatCall) -> Reply {
    if call.tool("get_weather").is_some() {
        Reply::tool_calls(vec![(
            "get_weather",
            json!({"location": "San Francisco, CA"}),
        )])
    } else {
        Reply::text("Ahoy, hello there!")
    }
}

/// The `ResponseResource` fields the suite's schema requires, with their types.
fn schema_errors(response: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let mut check = |field: &str, ok: bool| {
        if !ok {
            errors.push(format!("{field}: {}", response[field]));
        }
    };
    let is_int = |v: &Value| v.is_i64() || v.is_u64();
    let int_or_null = |v: &Value| is_int(v) || v.is_null();
    let str_or_null = |v: &Value| v.is_string() || v.is_null();
    let obj_or_null = |v: &Value| v.is_object() || v.is_null();
    check("id", response["id"].is_string());
    check("object", response["object"] == "response");
    check("created_at", is_int(&response["created_at"]));
    check("completed_at", int_or_null(&response["completed_at"]));
    check("status", response["status"].is_string());
    check(
        "incomplete_details",
        obj_or_null(&response["incomplete_details"]),
    );
    check("model", response["model"].is_string());
    check(
        "previous_response_id",
        str_or_null(&response["previous_response_id"]),
    );
    check("instructions", str_or_null(&response["instructions"]));
    check("output", response["output"].is_array());
    check("error", obj_or_null(&response["error"]));
    check(
        "tools",
        response["tools"].as_array().is_some_and(|tools| {
            tools.iter().all(|t| {
                t["type"] == "function"
                    && t["name"].is_string()
                    && str_or_null(&t["description"])
                    && t.get("description").is_some()
                    && t.get("parameters").is_some_and(obj_or_null)
                    && t.get("strict")
                        .is_some_and(|s| s.is_boolean() || s.is_null())
            })
        }),
    );
    check(
        "tool_choice",
        response["tool_choice"].is_string() || response["tool_choice"].is_object(),
    );
    check(
        "truncation",
        matches!(response["truncation"].as_str(), Some("auto" | "disabled")),
    );
    check(
        "parallel_tool_calls",
        response["parallel_tool_calls"].is_boolean(),
    );
    check("text", response["text"].is_object());
    for number in [
        "top_p",
        "presence_penalty",
        "frequency_penalty",
        "temperature",
    ] {
        check(number, response[number].is_number());
    }
    check("top_logprobs", is_int(&response["top_logprobs"]));
    check("reasoning", obj_or_null(&response["reasoning"]));
    check(
        "usage",
        response["usage"].is_null()
            || ["input_tokens", "output_tokens", "total_tokens"]
                .iter()
                .all(|k| is_int(&response["usage"][k]))
                && is_int(&response["usage"]["input_tokens_details"]["cached_tokens"])
                && is_int(&response["usage"]["output_tokens_details"]["reasoning_tokens"]),
    );
    check(
        "max_output_tokens",
        int_or_null(&response["max_output_tokens"]),
    );
    check("max_tool_calls", int_or_null(&response["max_tool_calls"]));
    check("store", response["store"].is_boolean());
    check("background", response["background"].is_boolean());
    check("service_tier", response["service_tier"].is_string());
    check("metadata", response.get("metadata").is_some());
    check(
        "safety_identifier",
        str_or_null(&response["safety_identifier"]),
    );
    check(
        "prompt_cache_key",
        str_or_null(&response["prompt_cache_key"]),
    );
    for (i, item) in response["output"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        if !item_ok(item) {
            errors.push(format!("output[{i}]: {item}"));
        }
    }
    errors
}

/// An output item as the suite's `Message` / `FunctionCall` schemas require it (with
/// `OutputTextContent` parts: `text`, `annotations`, `logprobs`).
fn item_ok(item: &Value) -> bool {
    let status = matches!(
        item["status"].as_str(),
        Some("in_progress" | "completed" | "incomplete")
    );
    item["id"].is_string()
        && status
        && match item["type"].as_str() {
            Some("message") => {
                matches!(
                    item["role"].as_str(),
                    Some("user" | "assistant" | "system" | "developer")
                ) && item["content"].as_array().is_some_and(|parts| {
                    parts.iter().all(|p| {
                        p["type"] == "output_text"
                            && p["text"].is_string()
                            && p["annotations"].is_array()
                            && p["logprobs"].is_array()
                    })
                })
            }
            Some("function_call") => {
                item["call_id"].is_string()
                    && item["name"].is_string()
                    && item["arguments"].is_string()
            }
            _ => false,
        }
}

/// One streaming event against the suite's event schemas: the fields each type requires, the
/// items and content parts it carries, and the whole response in lifecycle events.
fn event_errors(event: &Value) -> Vec<String> {
    let is_int = |k: &str| event[k].is_i64() || event[k].is_u64();
    let is_str = |k: &str| event[k].is_string();
    let ok = is_int("sequence_number")
        && match event["type"].as_str().unwrap_or_default() {
            "response.created" | "response.in_progress" | "response.completed" => {
                return schema_errors(&event["response"])
                    .into_iter()
                    .map(|e| format!("{}: response.{e}", event["type"]))
                    .collect();
            }
            "response.output_item.added" | "response.output_item.done" => {
                is_int("output_index") && item_ok(&event["item"])
            }
            "response.content_part.added" | "response.content_part.done" => {
                is_str("item_id")
                    && is_int("output_index")
                    && is_int("content_index")
                    && event["part"]["type"] == "output_text"
                    && event["part"]["text"].is_string()
            }
            "response.output_text.delta" => {
                is_str("item_id")
                    && is_int("output_index")
                    && is_int("content_index")
                    && is_str("delta")
                    && event["logprobs"].is_array()
            }
            "response.output_text.done" => {
                is_str("item_id")
                    && is_int("output_index")
                    && is_int("content_index")
                    && is_str("text")
                    && event["logprobs"].is_array()
            }
            "response.function_call_arguments.delta" => {
                is_str("item_id") && is_int("output_index") && is_str("delta")
            }
            "response.function_call_arguments.done" => {
                is_str("item_id") && is_int("output_index") && is_str("arguments")
            }
            _ => false,
        };
    if ok {
        Vec::new()
    } else {
        vec![format!("event: {event}")]
    }
}

#[test]
fn every_test_of_the_open_responses_suite_passes() {
    let mock = MockUpstream::start(model);
    let bridge = BridgeGuard::start(&mock.base_url());
    let url = bridge.url("/v1/responses");
    let mut failures = Vec::new();
    for (id, mut body, streaming, calls_a_tool) in suite() {
        body["stream"] = json!(streaming);
        let answer = post_json(&url, &body);
        if answer.status != 200 {
            failures.push(format!("{id}: HTTP {}: {}", answer.status, answer.body));
            continue;
        }
        let (response, events) = if streaming {
            let events = answer.events();
            let last = events.last().cloned().unwrap_or(Value::Null);
            (last["response"].clone(), events)
        } else {
            (answer.json(), Vec::new())
        };
        let mut errors = schema_errors(&response);
        if response["output"].as_array().is_none_or(Vec::is_empty) {
            errors.push("no output items".to_owned());
        }
        if response["status"] != "completed" {
            errors.push(format!("status {}", response["status"]));
        }
        if calls_a_tool
            && !response["output"]
                .as_array()
                .is_some_and(|o| o.iter().any(|i| i["type"] == "function_call"))
        {
            errors.push("no function_call item".to_owned());
        }
        if streaming {
            if events.is_empty() {
                errors.push("no streaming events".to_owned());
            }
            for (i, event) in events.iter().enumerate() {
                if event["sequence_number"] != json!(i) {
                    errors.push(format!("event {i} out of sequence: {event}"));
                }
                errors.extend(event_errors(event));
            }
            let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
            if calls_a_tool {
                let item_event = |ty: &str| {
                    events
                        .iter()
                        .any(|e| e["type"] == ty && e["item"]["type"] == "function_call")
                };
                for (ok, what) in [
                    (
                        item_event("response.output_item.added"),
                        "output_item.added",
                    ),
                    (
                        types.contains(&"response.function_call_arguments.delta"),
                        "function_call_arguments.delta",
                    ),
                    (
                        types.contains(&"response.function_call_arguments.done"),
                        "function_call_arguments.done",
                    ),
                    (item_event("response.output_item.done"), "output_item.done"),
                ] {
                    if !ok {
                        errors.push(format!("missing {what} for the function call"));
                    }
                }
            }
        }
        if !errors.is_empty() {
            failures.push(format!("{id}: {}", errors.join("; ")));
        }
    }
    mock.assert_no_rejections();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(mock.chat_calls().len(), suite().len());
}

/// The suite's checks on one WebSocket turn that should complete: events present, in
/// sequence, each valid; a terminal `response.completed` whose response passes the schema.
fn completed_turn_errors(turn: &Turn) -> Vec<String> {
    let mut errors = Vec::new();
    if turn.events.is_empty() {
        errors.push("no streaming events".to_owned());
    }
    for (i, event) in turn.events.iter().enumerate() {
        if event["sequence_number"] != json!(i) {
            errors.push(format!("event {i} out of sequence: {event}"));
        }
        errors.extend(event_errors(event));
    }
    if turn.last()["type"] != "response.completed" {
        errors.push(format!("terminal event: {}", turn.last()));
    }
    errors.extend(schema_errors(turn.response()));
    if turn.response()["status"] != "completed" {
        errors.push(format!("status {}", turn.response()["status"]));
    }
    errors
}

fn ws_create(input: Value) -> Value {
    json!({"type": "response.create", "model": MODEL, "store": false, "input": input})
}

fn ws_continue(previous: &Value, input: Value) -> Value {
    let mut request = ws_create(input);
    request["previous_response_id"] = previous.clone();
    request
}

/// The suite opens its connections with a bearer key and a JSON content type.
const SUITE_HEADERS: &[(&str, &str)] = &[
    ("authorization", "Bearer test-key"),
    ("content-type", "application/json"),
];

#[test]
fn websocket_response() {
    let mock = MockUpstream::start(model);
    let bridge = BridgeGuard::start(&mock.base_url());
    let mut ws = connect(&bridge.addr(), SUITE_HEADERS).expect("upgrade");
    let turn = ws.turn(&ws_create(json!([user("Count from 1 to 3.")])));
    assert_eq!(completed_turn_errors(&turn), Vec::<String>::new());
    mock.assert_no_rejections();
}

#[test]
fn websocket_sequential_responses() {
    let mock = MockUpstream::start(model);
    let bridge = BridgeGuard::start(&mock.base_url());
    let mut ws = connect(&bridge.addr(), SUITE_HEADERS).expect("upgrade");
    for text in ["Reply with exactly: first", "Reply with exactly: second"] {
        let turn = ws.turn(&ws_create(json!(text)));
        assert_eq!(completed_turn_errors(&turn), Vec::<String>::new(), "{text}");
    }
    assert_eq!(mock.chat_calls().len(), 2);
}

#[test]
fn websocket_continuation() {
    let mock = MockUpstream::start(model);
    let bridge = BridgeGuard::start(&mock.base_url());
    let mut ws = connect(&bridge.addr(), SUITE_HEADERS).expect("upgrade");
    let first = ws.turn(&ws_create(json!(
        "Remember the code word: cobalt. Reply with OK."
    )));
    assert_eq!(completed_turn_errors(&first), Vec::<String>::new());
    let second = ws.turn(&ws_continue(
        &first.response()["id"],
        json!("What is the code word? Reply with only the code word."),
    ));
    assert_eq!(completed_turn_errors(&second), Vec::<String>::new());
    // The model saw the whole conversation.
    let texts: Vec<String> = mock.chat_calls()[1]
        .messages()
        .iter()
        .map(common::mock_upstream::content_text)
        .collect();
    assert!(texts.iter().any(|t| t.contains("cobalt")), "{texts:?}");
    assert!(texts.iter().any(|t| t.contains("Ahoy")), "{texts:?}");
}

#[test]
fn websocket_reconnect_store_false_recovery() {
    let mock = MockUpstream::start(model);
    let bridge = BridgeGuard::start(&mock.base_url());
    let mut ws = connect(&bridge.addr(), SUITE_HEADERS).expect("upgrade");
    let first = ws.turn(&ws_create(json!(
        "Remember the code word: copper. Reply with OK."
    )));
    assert_eq!(completed_turn_errors(&first), Vec::<String>::new());
    drop(ws);
    let mut ws = connect(&bridge.addr(), SUITE_HEADERS).expect("upgrade");
    let reconnect = ws.turn(&ws_continue(
        &first.response()["id"],
        json!("Try to continue after reconnect. Reply with exactly: reconnected"),
    ));
    assert_eq!(reconnect.error_code(), Some("previous_response_not_found"));
    let recovery = ws.turn(&ws_create(json!([user(
        "The previous store:false chain could not continue after reconnect. Start a new \
         response and reply with exactly: recovered"
    )])));
    assert_eq!(completed_turn_errors(&recovery), Vec::<String>::new());
}

#[test]
fn websocket_generate_false() {
    let mock = MockUpstream::start(model);
    let bridge = BridgeGuard::start(&mock.base_url());
    let mut ws = connect(&bridge.addr(), SUITE_HEADERS).expect("upgrade");
    let mut warm = ws_create(json!("Warm up with this context: the code word is basalt."));
    warm["generate"] = json!(false);
    let warm = ws.turn(&warm);
    assert_eq!(warm.last()["type"], "response.completed");
    assert_eq!(schema_errors(warm.response()), Vec::<String>::new());
    assert!(
        mock.chat_calls().is_empty(),
        "generate:false calls no model"
    );
    let next = ws.turn(&ws_continue(
        &warm.response()["id"],
        json!("What is the code word?"),
    ));
    assert_eq!(completed_turn_errors(&next), Vec::<String>::new());
    let calls = mock.chat_calls();
    assert_eq!(calls.len(), 1);
    assert!(calls[0]
        .messages()
        .iter()
        .any(|m| common::mock_upstream::content_text(m).contains("basalt")));
}

#[test]
fn websocket_previous_response_not_found() {
    let mock = MockUpstream::start(model);
    let bridge = BridgeGuard::start(&mock.base_url());
    let mut ws = connect(&bridge.addr(), SUITE_HEADERS).expect("upgrade");
    let turn = ws.turn(&ws_continue(
        &json!("resp_openresponses_missing_1"),
        json!("This should fail because the previous response is missing."),
    ));
    assert_eq!(turn.error_code(), Some("previous_response_not_found"));
    assert!(mock.chat_calls().is_empty());
}

#[test]
fn websocket_failed_continuation_evicts_cache() {
    // The bridge drops the output of a call that was never made; a model then refuses a
    // conversation that ends with its own answer.
    let mock = MockUpstream::start(|call: &ChatCall| {
        if call
            .last_message()
            .is_some_and(|m| m["role"] == "assistant")
        {
            Reply::json(
                400,
                json!({"error": {"message": "last message is the assistant's"}}),
            )
        } else {
            model(call)
        }
    });
    let bridge = BridgeGuard::start(&mock.base_url());
    let mut ws = connect(&bridge.addr(), SUITE_HEADERS).expect("upgrade");
    let first = ws.turn(&ws_create(json!(
        "Remember the code word: ember. Reply with OK."
    )));
    assert_eq!(completed_turn_errors(&first), Vec::<String>::new());
    let id = &first.response()["id"];
    let failed = ws.turn(&ws_continue(
        id,
        json!([{"type": "function_call_output", "call_id": "call_openresponses_missing",
                "output": "No matching tool call exists in the previous response."}]),
    ));
    assert_eq!(failed.last()["type"], "response.failed");
    assert_eq!(failed.response()["status"], "failed");
    let retry = ws.turn(&ws_continue(
        id,
        json!("Try to continue after the failed turn. Reply with exactly: stale"),
    ));
    assert_eq!(retry.error_code(), Some("previous_response_not_found"));
}
