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
mod tests;
