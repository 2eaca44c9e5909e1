//! The Open Responses compliance suite's HTTP tests (project `openresponses`, its
//! `compliance-tests.ts`), rebuilt here: the same request bodies, sent through the real bridge
//! to the strict mock, and the answers checked against the fields the suite's
//! `ResponseResource` schema requires and the checks each test makes (output present, status
//! `completed`, a `function_call` item; for streams, events present, each valid against its
//! event schema as the suite's SSE parser checks them, and the function-call event sequence).
//! Written from the suite's tests and schemas, not copied from them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::bridge::BridgeGuard;
use common::client::post_json;
use common::mock_upstream::{ChatCall, MockUpstream, Reply};
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
