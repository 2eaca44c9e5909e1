//! A Chat Completions answer (`chat.completion` JSON) → Responses output: the output items, the
//! terminal status, the full SSE event sequence, and the Response object for `stream:false`.
//!
//! Two steps, both pure:
//! 1. [`completion_to_output`] parses the upstream body leniently (ClawRouter, vLLM, Ollama,
//!    LM Studio, OpenRouter, DeepSeek variants) into a [`ChatOutput`]: text, tool calls (with
//!    leaked-in-text calls recovered when there are no structured ones, see [`super::leaked`]),
//!    finish reason, usage. An error object or a body that is not a completion is a
//!    [`CompletionError`] quoting the start of the body.
//! 2. [`write_output`] drives a [`ResponseEventWriter`]: the reasoning item (if the upstream
//!    reasoned: `reasoning_content`, `reasoning`, `reasoning_details`, or a `<think>` span at
//!    the start of the text; its text is the item's `summary`, which Codex shows; sealed into
//!    `encrypted_content` by [`write_output_sealed`]), the message item (if there is visible
//!    text), then one item per tool call — `custom_tool_call` for freeform tools,
//!    `function_call` otherwise, with `namespace` + `name` restored from the [`ToolMap`] —
//!    then the terminal event chosen by the finish reason:
//!
//! | `finish_reason` | terminal event | why |
//! |---|---|---|
//! | `stop`, `tool_calls`, `function_call`, missing, other | `response.completed` | |
//! | `length` | `response.incomplete`, reason `max_output_tokens` | Codex stops (fatal), items marked `incomplete` |
//! | `content_filter` | `response.failed`, code `invalid_prompt` | Codex shows the message and does not retry; an `incomplete` with reason `content_filter` would be retried 5× (docs/codex-wire.md §4) |
//! | `error` (OpenRouter) | `response.failed`, code `upstream_error` | a stream error: Codex retries |
//!
//! The Response object reports the model the client asked for ([`ResponseMeta::model`]), also
//! when the upstream names another one (ClawRouter's `auto` → `deepseek/…`): the `created`
//! event, sent before the upstream answers, can only carry the requested model, and the
//! terminal event must agree with it. The upstream's model is in [`ChatOutput::model`].
//!
//! Streams go through `super::stream::StreamTranslator`, which emits exactly the items this
//! module emits for the same content (tested there); [`completion_to_response_json`] (or
//! [`completion_to_response_json_sealed`]) is the whole `stream:false` answer. The
//! whole-stream wrappers `completion_to_sse` and `failure_sse` exist for tests.

use std::borrow::Cow;

use serde_json::value::RawValue;
use serde_json::Value;

use super::chat_in::{call_id, trim_answer, ChatAnswer, Message, NotAnAnswer};
use super::events::{ItemStatus, ResponseEventWriter, Usage};
use super::ids::new_id;
use super::leaked::recover_leaked_calls;
use super::reasoning::ReasoningKey;
use super::request::ResponseEcho;
use super::tools::{ToolKind, ToolMap, CUSTOM_INPUT_PARAM};

pub use super::events::ResponseMeta;

/// Message shown by Codex when the upstream's content filter stopped the answer
/// (sent as `response.failed` with code `invalid_prompt`, which Codex does not retry).
pub const CONTENT_FILTER_MESSAGE: &str = "The upstream model's content filter stopped this answer \
     (finish_reason: content_filter). Rephrase the request or choose another model.";

/// How many characters of an unusable body an error message quotes.
pub const SNIPPET_CHARS: usize = 200;

/// Why the upstream stopped (`choices[0].finish_reason`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// `stop`: a normal end.
    Stop,
    /// `length`: the token limit cut the answer.
    Length,
    /// `tool_calls` or legacy `function_call` (also set when calls were recovered from text).
    ToolCalls,
    /// `content_filter`: the provider's filter stopped the answer.
    ContentFilter,
    /// `error`: the provider failed mid-answer (OpenRouter).
    Error,
    /// No `finish_reason` (null or absent).
    Missing,
    /// Any other value (`eos`, `end_turn`…), treated as a normal end.
    Other(String),
}

impl Finish {
    /// Classifies a Chat `finish_reason`.
    pub fn from_chat(reason: Option<&str>) -> Self {
        match reason {
            None => Finish::Missing,
            Some("stop") => Finish::Stop,
            Some("length") => Finish::Length,
            Some("tool_calls" | "function_call") => Finish::ToolCalls,
            Some("content_filter") => Finish::ContentFilter,
            Some("error") => Finish::Error,
            Some(other) => Finish::Other(other.to_owned()),
        }
    }
}

/// One tool call the model made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCallOut {
    /// The upstream's tool call id (a fresh `call_…` when missing or repeated).
    pub call_id: String,
    /// The Chat function name (resolve it with [`ToolMap::resolve`]).
    pub chat_name: String,
    /// The arguments as a string (objects serialized; empty → `{}`).
    pub arguments: String,
}

/// What the upstream answered, in neutral terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatOutput {
    /// Visible text (leaked tool calls already cut out); `None` when the upstream sent none.
    pub text: Option<String>,
    /// The model's reasoning: `reasoning_content`, `reasoning` or `reasoning_details` (see
    /// [`Message::reasoning`]), followed by a `<think>…</think>` span cut from the start of the text
    /// (see [`split_think`]); emitted as a `reasoning` item before the other items.
    pub reasoning: Option<String>,
    /// Tool calls, structured or recovered from the text, in order.
    pub tool_calls: Vec<ToolCallOut>,
    /// Why the upstream stopped.
    pub finish: Finish,
    /// Token usage in Responses terms; `None` when the upstream gave none.
    pub usage: Option<Usage>,
    /// The model the upstream says answered.
    pub model: Option<String>,
}

/// A body that cannot be turned into output. The message quotes the start of the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompletionError {
    /// The body is an error object (`{"error": …}`) — e.g. ClawRouter's errors under HTTP 200.
    #[error("upstream error: {message} (body: {snippet})")]
    Upstream {
        /// `error.message` (or the error string).
        message: String,
        /// `error.code`, if any (string or number as text).
        code: Option<String>,
        /// `error.type`, if any (e.g. `insufficient_funds`).
        error_type: Option<String>,
        /// The first [`SNIPPET_CHARS`] characters of the body.
        snippet: String,
    },
    /// The body is not a chat completion (not JSON, no choices…).
    #[error("upstream answer is not a chat completion ({reason}): {snippet}")]
    Malformed {
        /// What is wrong.
        reason: &'static str,
        /// The first [`SNIPPET_CHARS`] characters of the body.
        snippet: String,
    },
}

impl CompletionError {
    /// The quoted start of the body.
    pub fn snippet(&self) -> &str {
        match self {
            CompletionError::Upstream { snippet, .. }
            | CompletionError::Malformed { snippet, .. } => snippet,
        }
    }
}

/// Parses a `chat.completion` body leniently with the shared reader ([`super::chat_in`],
/// which lists the accepted variants): the text (`refusal` when there is no content), the
/// reasoning (plus a leading `<think>` span cut from the text), the tool calls (ids by
/// [`call_id`]) and usage. When there are no structured tool calls and tools were declared,
/// calls leaked into the text are recovered.
pub fn completion_to_output(body: &[u8], tools: &ToolMap) -> Result<ChatOutput, CompletionError> {
    let answer = match ChatAnswer::read(body) {
        Ok(answer) => answer,
        Err(not) => {
            let trimmed = trim_answer(body);
            let reason = match not {
                NotAnAnswer::Empty => "empty body",
                _ if trimmed.starts_with(b"data:") || trimmed.starts_with(b":") => {
                    "an event stream, not JSON"
                }
                NotAnAnswer::NotAnObject => "not a JSON object",
                NotAnAnswer::NotJson => "not JSON",
            };
            return Err(malformed(reason, body));
        }
    };
    let choice = match (answer.choice(), answer.error()) {
        (Some(choice), _) => choice,
        (None, Some(error)) => return Err(upstream_error(error, body)),
        (None, None) => return Err(malformed("no choices", body)),
    };

    let message = choice.message();
    let mut text = message
        .as_ref()
        .and_then(Message::content)
        .or_else(|| choice.legacy_text())
        .map(Cow::into_owned);
    if text.as_deref().is_none_or(str::is_empty) {
        if let Some(refusal) = message
            .as_ref()
            .and_then(Message::refusal)
            .filter(|r| !r.is_empty())
        {
            text = Some(refusal.into_owned());
        }
    }
    let mut reasoning = message
        .as_ref()
        .and_then(Message::reasoning)
        .map(Cow::into_owned);
    if let Some((thought, visible)) = text.as_deref().and_then(split_think) {
        let thought = thought.to_owned();
        text = Some(visible.to_owned());
        if !thought.is_empty() {
            reasoning.get_or_insert_with(String::new).push_str(&thought);
        }
    }

    let mut tool_calls = message.as_ref().map(structured_calls).unwrap_or_default();
    let mut finish = Finish::from_chat(choice.finish_reason().as_deref());

    if tool_calls.is_empty() && !tools.is_empty() {
        if let Some(original) = text.as_deref() {
            let (visible, leaked) = recover_leaked_calls(original, tools);
            if !leaked.is_empty() {
                log::debug!(
                    "recovered {} tool call(s) leaked into the text",
                    leaked.len()
                );
                tool_calls = leaked
                    .into_iter()
                    .map(|call| ToolCallOut {
                        call_id: new_id("call"),
                        chat_name: call.chat_name,
                        arguments: normalize_argument_string(call.arguments),
                    })
                    .collect();
                text = Some(visible);
                if matches!(finish, Finish::Stop | Finish::Missing) {
                    finish = Finish::ToolCalls;
                }
            }
        }
    }

    Ok(ChatOutput {
        text,
        reasoning,
        tool_calls,
        finish,
        usage: answer.usage(),
        model: answer.model().map(Cow::into_owned),
    })
}

/// Emits `output` through `writer`: the reasoning item (if any, without `encrypted_content`),
/// the message item (if the text is not blank), one item per tool call, then the terminal event
/// (see the module documentation). Does not emit `created` / `in_progress`: the caller may have
/// sent them already (keep-alive path). [`write_output_sealed`] adds `encrypted_content`.
pub fn write_output(
    writer: &mut ResponseEventWriter,
    output: &ChatOutput,
    tools: &ToolMap,
    completed_at: u64,
    out: &mut Vec<u8>,
) {
    write_output_sealed(writer, output, tools, None, completed_at, out);
}

/// [`write_output`], with the reasoning item's `encrypted_content` sealed by `key` (omitted
/// without a key). The items are exactly those the streaming path
/// (`super::stream::StreamTranslator`) emits for the same content.
pub fn write_output_sealed(
    writer: &mut ResponseEventWriter,
    output: &ChatOutput,
    tools: &ToolMap,
    key: Option<&ReasoningKey>,
    completed_at: u64,
    out: &mut Vec<u8>,
) {
    write_items_sealed(writer, output, tools, key, out);
    write_terminal(writer, &output.finish, output.usage, completed_at, out);
}

/// The items of [`write_output_sealed`] without the terminal event.
pub(crate) fn write_items_sealed(
    writer: &mut ResponseEventWriter,
    output: &ChatOutput,
    tools: &ToolMap,
    key: Option<&ReasoningKey>,
    out: &mut Vec<u8>,
) {
    let status = finish_status(&output.finish);
    let text = output.text.as_deref().filter(|t| !t.trim().is_empty());
    if let Some(reasoning) = output.reasoning.as_deref().filter(|r| !r.is_empty()) {
        // Reasoning followed by output was whole when the output started.
        let reasoning_status = if text.is_some() || !output.tool_calls.is_empty() {
            ItemStatus::Completed
        } else {
            status
        };
        let sealed = key.map(|key| key.seal(reasoning));
        writer.reasoning(reasoning, reasoning_status, sealed.as_deref(), out);
    }
    if let Some(text) = text {
        writer.message(text, status, out);
    }
    write_calls(writer, &output.tool_calls, tools, status, out);
}

/// One whole item per tool call: `custom_tool_call` for freeform tools, `function_call` (with
/// `namespace` when the tool had one) for the rest.
pub(crate) fn write_calls(
    writer: &mut ResponseEventWriter,
    calls: &[ToolCallOut],
    tools: &ToolMap,
    status: ItemStatus,
    out: &mut Vec<u8>,
) {
    for call in calls {
        match tools.resolve(&call.chat_name) {
            Some(target) if target.kind == ToolKind::Custom => writer.custom_tool_call(
                &call.call_id,
                &target.name,
                target.namespace.as_deref(),
                &custom_input(&call.arguments),
                status,
                out,
            ),
            Some(target) => writer.function_call(
                &call.call_id,
                &target.name,
                target.namespace.as_deref(),
                &call.arguments,
                status,
                out,
            ),
            None => writer.function_call(
                &call.call_id,
                &call.chat_name,
                None,
                &call.arguments,
                status,
                out,
            ),
        }
    }
}

/// Message shown when the upstream stopped with `finish_reason: error`.
pub const FINISH_ERROR_MESSAGE: &str =
    "The upstream model stopped with an error (finish_reason: error).";

/// The status of the items of an answer that ended with `finish`.
pub(crate) fn finish_status(finish: &Finish) -> ItemStatus {
    match finish {
        Finish::Length | Finish::ContentFilter => ItemStatus::Incomplete,
        _ => ItemStatus::Completed,
    }
}

/// The terminal event for `finish` (see the table in the module documentation).
pub(crate) fn write_terminal(
    writer: &mut ResponseEventWriter,
    finish: &Finish,
    usage: Option<Usage>,
    completed_at: u64,
    out: &mut Vec<u8>,
) {
    match finish {
        Finish::Length => writer.incomplete("max_output_tokens", usage, out),
        Finish::ContentFilter => writer.failed("invalid_prompt", CONTENT_FILTER_MESSAGE, out),
        Finish::Error => writer.failed("upstream_error", FINISH_ERROR_MESSAGE, out),
        Finish::Stop | Finish::ToolCalls | Finish::Missing | Finish::Other(_) => {
            writer.completed(usage, completed_at, out)
        }
    }
}

/// The opening tag of a reasoning span some models write at the start of their text.
pub const THINK_OPEN: &str = "<think>";
/// The closing tag of a reasoning span.
pub const THINK_CLOSE: &str = "</think>";

/// A `<think>…</think>` span at the start of `text` (after blanks): the reasoning inside
/// (trimmed) and the text after it (leading blanks removed). A span without its closing tag is
/// all reasoning. `None` when the text does not start with `<think>`.
pub fn split_think(text: &str) -> Option<(&str, &str)> {
    let inner = text.trim_start().strip_prefix(THINK_OPEN)?;
    Some(match inner.find(THINK_CLOSE) {
        Some(close) => (
            inner[..close].trim(),
            inner[close + THINK_CLOSE.len()..].trim_start(),
        ),
        None => (inner.trim(), ""),
    })
}

/// The `input` of a freeform tool call from the Chat arguments: the `input` string field of
/// the arguments object; else the only field of a one-field object whose value is a string
/// (a misnamed parameter); else a JSON string's content; else the raw arguments string.
pub fn custom_input(arguments: &str) -> String {
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(obj)) => {
            if let Some(Value::String(input)) = obj.get(CUSTOM_INPUT_PARAM) {
                return input.clone();
            }
            match obj.values().next() {
                Some(Value::String(only)) if obj.len() == 1 => only.clone(),
                _ => arguments.to_owned(),
            }
        }
        Ok(Value::String(input)) => input,
        _ => arguments.to_owned(),
    }
}

#[cfg(test)]
/// The whole SSE stream for a buffered upstream answer: `created`, `in_progress`, the items,
/// the terminal event. `completed_at`: Unix seconds when the upstream answer arrived.
pub fn completion_to_sse(
    body: &[u8],
    meta: &ResponseMeta,
    echo: &ResponseEcho,
    tools: &ToolMap,
    completed_at: u64,
) -> Result<Vec<u8>, CompletionError> {
    let output = completion_to_output(body, tools)?;
    let mut writer = ResponseEventWriter::new(meta.clone(), echo);
    let mut out = Vec::with_capacity(4096 + body.len() * 2);
    writer.created(&mut out);
    writer.in_progress(&mut out);
    write_output(&mut writer, &output, tools, completed_at, &mut out);
    Ok(out)
}

/// The final Response object for a `stream:false` client: the same object as the `response`
/// of the terminal event of the stream for the same answer.
pub fn completion_to_response_json(
    body: &[u8],
    meta: &ResponseMeta,
    echo: &ResponseEcho,
    tools: &ToolMap,
    completed_at: u64,
) -> Result<Vec<u8>, CompletionError> {
    completion_to_response_json_sealed(body, meta, echo, tools, None, completed_at)
}

/// [`completion_to_response_json`] with the reasoning item's `encrypted_content` sealed by
/// `key` (see [`write_output_sealed`]).
pub fn completion_to_response_json_sealed(
    body: &[u8],
    meta: &ResponseMeta,
    echo: &ResponseEcho,
    tools: &ToolMap,
    key: Option<&ReasoningKey>,
    completed_at: u64,
) -> Result<Vec<u8>, CompletionError> {
    let output = completion_to_output(body, tools)?;
    let mut writer = ResponseEventWriter::without_events(meta.clone(), echo);
    let mut unused = Vec::new();
    write_output_sealed(&mut writer, &output, tools, key, completed_at, &mut unused);
    Ok(writer.response_json())
}

#[cfg(test)]
/// A failed response as a whole SSE stream: `created`, `in_progress`, `failed` with
/// `error:{code,message}`. Codex decides by `code` whether to retry (docs/codex-wire.md §4).
pub fn failure_sse(meta: &ResponseMeta, echo: &ResponseEcho, code: &str, message: &str) -> Vec<u8> {
    let mut writer = ResponseEventWriter::new(meta.clone(), echo);
    let mut out = Vec::with_capacity(4096);
    writer.created(&mut out);
    writer.in_progress(&mut out);
    writer.failed(code, message, &mut out);
    out
}

#[cfg(test)]
/// A failed Response object (status `failed`, `error:{code,message}`) for `stream:false`.
pub fn failure_response_json(
    meta: &ResponseMeta,
    echo: &ResponseEcho,
    code: &str,
    message: &str,
) -> Vec<u8> {
    let mut writer = ResponseEventWriter::without_events(meta.clone(), echo);
    let mut unused = Vec::new();
    writer.failed(code, message, &mut unused);
    writer.response_json()
}

/// The tool calls of a whole answer's message, in order; a call without a name is skipped.
fn structured_calls(message: &Message<'_>) -> Vec<ToolCallOut> {
    let mut calls: Vec<ToolCallOut> = Vec::new();
    for call in message.calls() {
        let Some(name) = call.name else {
            log::debug!("skipping an upstream tool call without a name");
            continue;
        };
        calls.push(ToolCallOut {
            call_id: call_id(call.id.as_deref(), |id| {
                calls.iter().any(|c| c.call_id == id)
            }),
            chat_name: name.into_owned(),
            arguments: normalize_argument_string(
                call.arguments.map(Cow::into_owned).unwrap_or_default(),
            ),
        });
    }
    calls
}

/// Chat `arguments` → the JSON string Codex needs: double-encoded JSON objects unwrapped,
/// blank → `{}`, anything else as it is.
pub(crate) fn normalize_argument_string(arguments: String) -> String {
    if arguments.trim().is_empty() {
        return "{}".to_owned();
    }
    if arguments.trim_start().starts_with('"') {
        if let Ok(Value::String(inner)) = serde_json::from_str::<Value>(&arguments) {
            if matches!(serde_json::from_str::<Value>(&inner), Ok(Value::Object(_))) {
                return inner;
            }
        }
    }
    arguments
}

fn malformed(reason: &'static str, body: &[u8]) -> CompletionError {
    CompletionError::Malformed {
        reason,
        snippet: snippet(body),
    }
}

fn upstream_error(error: &RawValue, body: &[u8]) -> CompletionError {
    let error: Value = serde_json::from_str(error.get()).unwrap_or(Value::Null);
    let error = &error;
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let (message, code, error_type) = match error {
        Value::Object(obj) => (
            text(obj.get("message")).unwrap_or_else(|| error.to_string()),
            text(obj.get("code")),
            text(obj.get("type")),
        ),
        Value::String(s) => (s.clone(), None, None),
        other => (other.to_string(), None, None),
    };
    CompletionError::Upstream {
        message,
        code,
        error_type,
        snippet: snippet(body),
    }
}

/// The first [`SNIPPET_CHARS`] characters of `body` on one line, `…` when cut.
pub fn snippet(body: &[u8]) -> String {
    let head = &body[..body.len().min(SNIPPET_CHARS * 4)];
    let text = String::from_utf8_lossy(head);
    let text = text.trim();
    let mut out: String = text
        .chars()
        .take(SNIPPET_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if body.len() > head.len() || text.chars().nth(SNIPPET_CHARS).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
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
        let wrapped =
            br#"{"error":{"message":"fetch failed","type":"provider_error","status":500}}"#;
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
        let patch = json!({"name": "apply_patch", "arguments": {"input": "*** Begin Patch\n*** End Patch\n"}});
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
        let json_body =
            completion_to_response_json(&body, &meta, &echo, &tools(), 5).expect("json");
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
}
