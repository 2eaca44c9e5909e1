//! A Responses API request body → a Chat Completions request body ([`request_to_chat`]).
//!
//! Pure and allocation-lean: the body is parsed once into borrowed structs, the big strings
//! (tool outputs, message texts, data-URL images, call arguments, JSON Schemas) are copied into
//! the Chat body in their escaped form without being decoded, and the Chat body is serialized
//! once. The README's "How the translation behaves" is the contract; the rules below are how this module keeps it.
//!
//! # History (`instructions` and `input`)
//!
//! - `instructions`, a string or an array of messages, becomes the leading system message (the
//!   texts of an array joined with a blank line, whatever their roles). `input` as a string is
//!   one user message.
//! - `message` items, or items without `type` that have a `role` (the EasyInputMessage form):
//!   `developer` and `system` → `system`; `user`; `assistant`. [`SystemRole::MergeLeading`]
//!   instead merges every system text (instructions first) into one leading system message,
//!   blank line between them.
//! - Content: a string, or parts. `input_text` / `output_text` / `refusal` are text;
//!   `input_image` with `image_url` (URL or data URL) is a Chat `image_url` part (`detail` kept
//!   when `low`/`high`/`auto`; Codex's `original` becomes `high`); an image given only as
//!   `file_id`, and `input_file`, become short text notes (`[image file: …]`, `[file: …]`);
//!   unknown part types are skipped. **Adjacent text parts of one message are concatenated with
//!   nothing in between**: that is how a Responses model reads them and what Codex's own (since
//!   removed) Chat Completions client did; Codex writes its parts to stand alone (its second
//!   developer message is `<skills_instructions>…</skills_instructions>` +
//!   `<permissions instructions>…`, an image comes as `<image …>`, the image, `</image>`), so a
//!   separator would only add characters the model never saw. Content that is all text is sent as
//!   one string; a user message with images is sent as parts (adjacent texts still merged).
//!   System and assistant messages cannot carry images in Chat: their images are dropped.
//!   `phase` and the item ids Codex adds (`msg_…`, `fc_…`) are not sent.
//! - `function_call` → an entry of an assistant message's `tool_calls`: `id` = `call_id`,
//!   name = [`chat_tool_name`](super::tools::chat_tool_name)`(namespace, name)`, `arguments`
//!   exactly as sent. `custom_tool_call` → the same with `arguments` = the JSON text
//!   `{"input": <input>}` ([`CUSTOM_INPUT_PARAM`](super::tools::CUSTOM_INPUT_PARAM)), which is
//!   how the freeform tool is offered.
//! - **Grouping.** Consecutive calls, and an assistant text message right before them, make
//!   ONE assistant message (`content` = that text, or `null`). Reasoning items and skipped
//!   items do not separate them; any other message or a tool output does.
//! - **Answers.** Right after that assistant message comes one `tool` message per call, in call
//!   order, whatever the position of the outputs in `input`; items that Codex put between a
//!   call and its output (a developer message, a user message) therefore come after the tool
//!   messages. Output content: a string as sent; an array's text items joined with `"\n"`. Images
//!   in outputs cannot go in a tool message: they follow all the tool messages of the group as
//!   ONE user message, each output's images after a text part `Image output of tool call <id>:`
//!   (a tool message whose output was only images reads `(image output: see the next user
//!   message)`).
//! - A call without an output anywhere in `input` is answered `"aborted"` (what Codex itself
//!   does). An output whose `call_id` matches no call is dropped, as is a second output for the
//!   same call and a second call reusing a `call_id` (debug log each). The result satisfies
//!   strict servers: every assistant `tool_calls` message is followed by exactly one tool
//!   message per id before anything else.
//! - `reasoning` items (docs/ARCHITECTURE.md, Decisions: stateless): when [`RequestOptions::reasoning_key`] opens the
//!   item's `encrypted_content` ([`ReasoningKey::open`]), the text sealed there becomes the
//!   `reasoning_content` of the assistant message that the next assistant text or call goes
//!   into (Codex writes a turn as reasoning, then the message and/or calls). Several reasoning
//!   items before that message are joined with a blank line. Reasoning that no assistant text
//!   or call follows before the turn ends (a user or system message, a tool output, the end of
//!   `input`) is dropped. A blob that does not open (no key, tampered, foreign such as
//!   OpenAI's `gAAAA…`, not a string, missing) or opens to an empty text adds nothing (debug
//!   log), never an error; `reasoning_content` is only sent when there is some, since strict
//!   servers reject unknown message fields. Blobs are opened only when they will be used.
//! - A reasoning item whose `encrypted_content` is a sealed record of the bridge's web searches
//!   ([`super::web_search::SearchRecord`]) puts those searches back where they happened: their
//!   calls join the assistant message being assembled and their results follow it as tool
//!   messages, exactly what the model saw.
//! - `web_search_call`, `image_generation_call`, `compaction`, `tool_search_call`,
//!   `tool_search_output`, `additional_tools`, `item_reference` and any unknown type are
//!   skipped with a debug log, never an error.
//!
//! # Tools
//!
//! - `function` → `{"type":"function","function":{name, description, parameters, strict}}`,
//!   the schema copied verbatim, `strict` only when sent, a missing schema → an empty object
//!   schema. `custom` (freeform, e.g. `apply_patch`) → a function with one required string
//!   parameter `input`, its description carrying the tool's description, how to pass raw text,
//!   and the grammar. `namespace` → each nested function/custom tool flattened to
//!   `chat_tool_name(namespace, name)`, its description prefixed with the namespace's.
//! - `web_search*` becomes the bridge's own `web_search` function when
//!   [`RequestOptions::web_search`] is set (the bridge runs those calls, see
//!   [`super::web_search`]).
//! - Hosted-only tools (`web_search*`, `tool_search`, `image_generation`, `file_search`,
//!   `code_interpreter`, `computer_use_preview`, `local_shell`, `mcp`) and unknown types are
//!   dropped; a second tool with the same Chat name too. Every offered tool is declared in the
//!   [`ToolMap`]. With no tool left, `tools`, `tool_choice` and `parallel_tool_calls` are not sent.
//! - `tool_choice`: `auto`/`none`/`required` pass (other strings → `auto`); `{"type":"function"
//!   |"custom","name"}` → `{"type":"function","function":{"name": <chat name>}}` when that tool is
//!   offered, else `auto`; `allowed_tools` → its `mode` (`auto` or `required`); hosted forms →
//!   `auto`.
//!
//! # Other fields
//!
//! `max_output_tokens` → `max_tokens`; `temperature`, `top_p` pass; `reasoning.effort` →
//! `reasoning_effort` (`none|minimal|low|medium|high|xhigh`; other values are not sent);
//! `text.format` `json_schema` → `response_format` `json_schema`, `json_object` → `json_object`,
//! `text` → nothing; `user`, else `safety_identifier`, → `user`; `model` as sent; `stream` is
//! `false`, until [`ChatPlan::ask_upstream_to_stream`] turns it on (with
//! `stream_options.include_usage`) for a streaming client. Responses-only fields are not sent; the ones the
//! Response object must echo are returned in [`ResponseEcho`]. Unknown top-level fields are
//! ignored. Wrong types for known fields are errors naming the JSON path ([`RequestError`]).
//!
//! Nesting: every typed part of the body has a fixed shape a few levels deep, and everything
//! else is skipped or captured by serde_json without recursion, so no body can overflow the
//! stack. JSON that is sent on verbatim (schemas, object `arguments`, echoed fields) and nests
//! deeper than [`MAX_DEPTH`] levels is refused.

/// Names a derived struct for "invalid type" errors (see [`text::Obj`]).
macro_rules! expecting {
    ($ty:ty, $what:literal) => {
        impl $crate::translate::request::text::Expecting for $ty {
            const WHAT: &'static str = $what;
        }
    };
}

mod chat;
pub mod clawrouter;
mod history;
mod offer;
pub(crate) mod text;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::reasoning::ReasoningKey;
use super::tools::ToolMap;
use crate::excerpt;
use chat::{ChatRequest, JsonSchema, ResponseFormat};
use history::Input;
use text::{kind_name, Obj, Str};

/// Deepest JSON nesting accepted anywhere in the body (serde_json's own limit).
pub const MAX_DEPTH: usize = 128;

/// How the translation adapts to what the upstream accepts.
#[derive(Debug, Clone, Default)]
pub struct RequestOptions {
    /// How `developer`/`system` messages are sent.
    pub system_role: SystemRole,
    /// Opens the `encrypted_content` of reasoning items sent back by Codex, to restore their
    /// text as the assistant message's `reasoning_content`. `None`: reasoning items are dropped.
    pub reasoning_key: Option<Arc<ReasoningKey>>,
    /// A Chat body longer than this many bytes (with its contents as strings) sends every
    /// non-empty string content as a text part, which ClawRouter's rewriting of big bodies
    /// leaves alone ([`clawrouter::protect_whitespace`]); `None`: never.
    pub preserve_whitespace_above: Option<usize>,
    /// Newlines appended to the last user or tool message so that a retry's body differs from
    /// the one that failed ([`clawrouter::nudge`]); 0: none.
    pub retry_nudge: u32,
    /// Web search run by the bridge, when it is on for this request: Codex's hosted
    /// `web_search` tool becomes the bridge's `web_search` function (see
    /// [`super::web_search`]); `None`: the hosted tool is dropped.
    pub web_search: Option<WebSearchOffer>,
}

/// The bridge's web search, as offered to the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebSearchOffer {
    /// Most results one search may ask for.
    pub max_results: u32,
}

/// Where `developer`/`system` texts go in the Chat messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SystemRole {
    /// Each becomes a `system` message where it stands (instructions first).
    #[default]
    System,
    /// All are merged into ONE leading system message, for upstreams that accept only one.
    MergeLeading,
}

/// The Chat request to send, and what the response side needs to answer in Responses terms.
#[derive(Debug)]
pub struct ChatPlan {
    /// Serialized Chat Completions request JSON (`"stream": false` last, see
    /// [`ChatPlan::ask_upstream_to_stream`]).
    pub body: Vec<u8>,
    /// Reverse map from offered Chat function names to Codex tools.
    pub tools: ToolMap,
    /// The Responses request's `stream` (false when absent).
    pub client_stream: bool,
    /// The requested model, as sent.
    pub model: String,
    /// The bridge's line saying a free model answered (`super::model_notice`) was already
    /// shown in this turn: not again. The line is never sent upstream.
    pub free_model_line_shown: bool,
    /// Request fields the Response object echoes back.
    pub echo: ResponseEcho,
    /// Content parts of an unknown type that were not sent (logged; counted in the metrics).
    pub skipped_parts: u64,
}

/// The end of a serialized body: `stream` is the last field the translator writes.
const NOT_STREAMING_TAIL: &[u8] = br#""stream":false}"#;
const STREAMING_TAIL: &[u8] = br#""stream":true,"stream_options":{"include_usage":true}}"#;

impl ChatPlan {
    /// Asks the upstream to stream (with usage in the last chunk) when the client streams.
    /// Decided after validation — the decision may need a network probe — and done in place on
    /// the serialized body, whose last field the translator always writes as `"stream":false`.
    /// Returns whether the body now asks for a stream.
    pub fn ask_upstream_to_stream(&mut self) -> bool {
        if !self.client_stream || !self.body.ends_with(NOT_STREAMING_TAIL) {
            return false;
        }
        self.body
            .truncate(self.body.len() - NOT_STREAMING_TAIL.len());
        self.body.extend_from_slice(STREAMING_TAIL);
        true
    }
}

/// Request fields the Response object must echo back, raw where they are only echoed.
#[derive(Debug, Default)]
pub struct ResponseEcho {
    /// `instructions`, a string or an array, as sent.
    pub instructions: Option<Box<RawValue>>,
    /// The request's `tools` array as sent, function tools completed with the fields the
    /// Response object requires.
    pub tools: Option<Box<RawValue>>,
    /// `tool_choice` as sent (`"auto"`, `"required"`, an object); absent: echoed as `"auto"`.
    pub tool_choice: Option<Box<RawValue>>,
    /// `parallel_tool_calls`; absent: echoed as `true`.
    pub parallel_tool_calls: Option<bool>,
    /// `temperature`; absent (or not finite): echoed as `1.0`.
    pub temperature: Option<f64>,
    /// `top_p`; absent (or not finite): echoed as `1.0`.
    pub top_p: Option<f64>,
    /// `max_output_tokens`, in tokens; absent: echoed as `null` (no limit).
    pub max_output_tokens: Option<u64>,
    /// `reasoning` (`{"effort":…,"summary":…}`) as sent; absent: echoed as `null`.
    pub reasoning: Option<Box<RawValue>>,
    /// `text` (output format and verbosity) as sent; absent: echoed as a plain-text format.
    pub text: Option<Box<RawValue>>,
    /// `metadata` as sent; absent: echoed as `{}`.
    pub metadata: Option<Box<RawValue>>,
    /// `store`; absent: echoed as `false` (the bridge stores nothing either way).
    pub store: Option<bool>,
    /// `previous_response_id`, echoed as sent (`null` when absent).
    pub previous_response_id: Option<String>,
    /// `prompt_cache_key` (Codex sends its thread id), echoed as sent (`null` when absent).
    pub prompt_cache_key: Option<String>,
    /// `service_tier`; absent: echoed as `"default"`.
    pub service_tier: Option<String>,
    /// `user`, echoed as sent (`null` when absent).
    pub user: Option<String>,
    /// `safety_identifier`, echoed as sent (`null` when absent).
    pub safety_identifier: Option<String>,
    /// `truncation` (`"auto"` or `"disabled"`); absent: echoed as `"disabled"`.
    pub truncation: Option<String>,
}

/// Why a request body cannot be translated. All but [`RequestError::Internal`] are the
/// client's fault (HTTP 400); the message is one sentence naming what, where and how to fix.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The body is not UTF-8 JSON.
    #[error("request body is not valid JSON: {0}")]
    Syntax(String),
    /// JSON nested deeper than [`MAX_DEPTH`].
    #[error("request body nests JSON deeper than {MAX_DEPTH} levels {at}; flatten it")]
    TooDeep {
        /// `at line L column C`, or `in <path>`.
        at: String,
    },
    /// A field has the wrong type or value, or a required field is missing.
    #[error("{message}")]
    Invalid {
        /// JSON path of the offending field, e.g. `input[3].content[0].type`.
        param: String,
        /// The whole sentence for the client (the error body's `message`): what is wrong, at
        /// `param`, and how to fix it.
        message: String,
    },
    /// The Chat body could not be serialized (a bug, never the client's fault).
    #[error("could not build the upstream request: {0}")]
    Internal(String),
}

impl RequestError {
    /// JSON path of the offending field (for the OpenAI-style error body's `param`).
    pub fn param(&self) -> Option<&str> {
        match self {
            RequestError::Invalid { param, .. } if !param.is_empty() => Some(param),
            _ => None,
        }
    }

    fn invalid_type(path: impl Into<String>, expected: &str, found: &RawValue) -> Self {
        let param = path.into();
        let message = format!(
            "invalid type at {param}: expected {expected}, found {}",
            kind_name(found)
        );
        RequestError::Invalid { param, message }
    }

    fn invalid_value(path: impl Into<String>, expected: &str, found: &str) -> Self {
        let param = path.into();
        let message = format!("invalid value at {param}: expected {expected}, found {found}");
        RequestError::Invalid { param, message }
    }

    /// `field` is missing from the object at `parent` (`""` for the top level).
    fn missing(parent: &str, field: &str) -> Self {
        RequestError::Invalid {
            param: join_path(parent, field),
            message: if parent.is_empty() {
                format!("missing field \"{field}\"")
            } else {
                format!("missing field \"{field}\" in {parent}")
            },
        }
    }

    /// A serde_json error at `path` (already prefixed).
    fn from_json(err: &serde_json::Error, path: String) -> Self {
        let full = err.to_string();
        let message =
            match full.strip_suffix(&format!(" at line {} column {}", err.line(), err.column())) {
                Some(m) => m.to_owned(),
                None => full.clone(),
            };
        if err.classify() != serde_json::error::Category::Data {
            if message.starts_with("recursion limit exceeded") {
                let at = if path.is_empty() {
                    format!("at line {} column {}", err.line(), err.column())
                } else {
                    format!("in {path}")
                };
                return RequestError::TooDeep { at };
            }
            return RequestError::Syntax(full);
        }
        let place = if path.is_empty() {
            "the top level".to_owned()
        } else {
            path.clone()
        };
        for (prefix, what) in [
            ("invalid type: ", "invalid type"),
            ("invalid value: ", "invalid value"),
        ] {
            if let Some(rest) = message.strip_prefix(prefix) {
                if let Some((found, expected)) = rest.split_once(", expected ") {
                    // serde quotes the value whole (`string "…"`): only an excerpt goes back.
                    let found = excerpt::bounded(found, excerpt::VALUE_CHARS);
                    return RequestError::Invalid {
                        message: format!("{what} at {place}: expected {expected}, found {found}"),
                        param: path,
                    };
                }
            }
        }
        for prefix in ["missing field `", "duplicate field `"] {
            if let Some(field) = message
                .strip_prefix(prefix)
                .and_then(|r| r.strip_suffix('`'))
            {
                let what = prefix.trim_end_matches(" `");
                let param = join_path(&path, field);
                let message = if path.is_empty() {
                    format!("{what} \"{field}\"")
                } else {
                    format!("{what} \"{field}\" in {path}")
                };
                return RequestError::Invalid { param, message };
            }
        }
        RequestError::Invalid {
            message: format!(
                "{} at {place}",
                excerpt::bounded(&message, excerpt::MESSAGE_CHARS / 2)
            ),
            param: path,
        }
    }
}

fn join_path(parent: &str, field: &str) -> String {
    if parent.is_empty() {
        field.to_owned()
    } else {
        format!("{parent}.{field}")
    }
}

/// Parses `text` as a `T`. On failure, parses again tracking the path (errors are rare, so the
/// common case pays nothing for it) and reports it prefixed with `prefix`.
fn parse<'a, T: Deserialize<'a>>(text: &'a str, prefix: &str) -> Result<T, RequestError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let first = match T::deserialize(&mut de).and_then(|value| de.end().map(|()| value)) {
        Ok(value) => return Ok(value),
        Err(err) => err,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let (err, inner) = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Err(err) => {
            let inner = err.path().to_string();
            (err.into_inner(), inner)
        }
        // Only trailing characters failed: the path of the whole value.
        Ok(_) => (first, String::new()),
    };
    let inner = if inner == "." { String::new() } else { inner };
    let path = match (prefix.is_empty(), inner.is_empty()) {
        (_, true) => prefix.to_owned(),
        (true, false) => inner,
        (false, false) if inner.starts_with('[') => format!("{prefix}{inner}"),
        (false, false) => format!("{prefix}.{inner}"),
    };
    Err(RequestError::from_json(&err, path))
}

/// Errors when `raw` (a value sent on verbatim) nests deeper than [`MAX_DEPTH`].
fn check_depth(raw: &RawValue, path: &str) -> Result<(), RequestError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in raw.get().as_bytes() {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(RequestError::TooDeep {
                        at: format!("in {path}"),
                    });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// The top level of a Responses request. Unknown fields are ignored.
#[derive(Deserialize)]
struct ResponsesRequest<'a> {
    #[serde(borrow)]
    model: Str<'a>,
    #[serde(borrow, default)]
    input: Option<Input<'a>>,
    #[serde(borrow, default)]
    instructions: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tools: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tool_choice: Option<&'a RawValue>,
    #[serde(default)]
    parallel_tool_calls: Option<bool>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    max_output_tokens: Option<u64>,
    #[serde(borrow, default)]
    reasoning: Option<&'a RawValue>,
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    metadata: Option<&'a RawValue>,
    #[serde(default)]
    store: Option<bool>,
    #[serde(borrow, default)]
    previous_response_id: Option<Str<'a>>,
    #[serde(borrow, default)]
    prompt_cache_key: Option<Str<'a>>,
    #[serde(borrow, default)]
    service_tier: Option<Str<'a>>,
    #[serde(borrow, default)]
    user: Option<Str<'a>>,
    #[serde(borrow, default)]
    safety_identifier: Option<Str<'a>>,
    #[serde(borrow, default)]
    truncation: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct ReasoningIn<'a> {
    #[serde(borrow, default)]
    effort: Option<Str<'a>>,
}

#[derive(Deserialize)]
struct TextIn<'a> {
    #[serde(borrow, default)]
    format: Option<Obj<FormatIn<'a>>>,
}

#[derive(Deserialize)]
struct FormatIn<'a> {
    #[serde(rename = "type", borrow)]
    kind: Str<'a>,
    #[serde(borrow, default)]
    name: Option<Str<'a>>,
    #[serde(borrow, default)]
    description: Option<Str<'a>>,
    #[serde(borrow, default)]
    schema: Option<&'a RawValue>,
    #[serde(default)]
    strict: Option<bool>,
}

expecting!(
    ResponsesRequest<'_>,
    "a JSON object (a Responses API request)"
);
expecting!(ReasoningIn<'_>, "a reasoning object");
expecting!(TextIn<'_>, "a text object");
expecting!(FormatIn<'_>, "a format object");

/// Translates a Responses API request body into a Chat Completions request.
pub fn request_to_chat(body: &[u8], opts: &RequestOptions) -> Result<ChatPlan, RequestError> {
    let (plan, skipped) = history::counting_skipped_parts(|| translate(body, opts));
    plan.map(|plan| ChatPlan {
        skipped_parts: skipped,
        ..plan
    })
}

fn translate(body: &[u8], opts: &RequestOptions) -> Result<ChatPlan, RequestError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| RequestError::Syntax(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
    let Obj(req) = parse::<Obj<ResponsesRequest>>(text, "")?;
    for (raw, path) in [
        (req.tool_choice, "tool_choice"),
        (req.reasoning, "reasoning"),
        (req.text, "text"),
        (req.metadata, "metadata"),
        (req.instructions, "instructions"),
    ] {
        if let Some(raw) = raw {
            check_depth(raw, path)?;
        }
    }

    let mut tool_map = ToolMap::default();
    let (tools, tools_echo) = match req.tools {
        Some(raw) => offer::tools(raw, opts.web_search, &mut tool_map)?,
        None => (Vec::new(), None),
    };
    let tool_choice = match req.tool_choice {
        Some(raw) => Some(offer::tool_choice(raw, &tool_map)?),
        None => None,
    };
    let (tool_choice, parallel_tool_calls) = if tools.is_empty() {
        (None, None)
    } else {
        (tool_choice, req.parallel_tool_calls)
    };

    let instructions = match req.instructions {
        Some(raw) => history::instructions(raw)?,
        None => None,
    };
    let input_is_empty = match &req.input {
        None => true,
        Some(history::Input::Text(text)) => text.0.trim().is_empty(),
        Some(history::Input::Items(items)) => items.is_empty(),
    };
    let history = history::messages(instructions, req.input, opts)?;
    let mut messages = history.messages;
    clawrouter::nudge(&mut messages, opts.retry_nudge);

    let reasoning_effort = match req.reasoning {
        Some(raw) => {
            let Obj(reasoning) = parse::<Obj<ReasoningIn>>(raw.get(), "reasoning")?;
            reasoning.effort.as_deref().and_then(effort)
        }
        None => None,
    };
    let response_format = match req.text {
        Some(raw) => {
            let Obj(text) = parse::<Obj<TextIn>>(raw.get(), "text")?;
            text.format.and_then(|f| response_format(f.0))
        }
        None => None,
    };
    // Items that all have no Chat form (reasoning alone, hosted tool calls) leave no message
    // either: the upstream would refuse an empty `messages`.
    if input_is_empty || messages.is_empty() {
        return Err(RequestError::Invalid {
            param: "input".to_owned(),
            message: "missing or empty input: send the conversation as `input` (a string, or a \
                      list of message and tool items); nothing was sent upstream"
                .to_owned(),
        });
    }
    let user = req
        .user
        .as_ref()
        .or(req.safety_identifier.as_ref())
        .map(|s| Cow::Borrowed(&*s.0));

    let mut chat = ChatRequest {
        model: &req.model.0,
        messages,
        tools,
        tool_choice,
        parallel_tool_calls,
        max_tokens: req.max_output_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        reasoning_effort,
        response_format,
        user,
        stream: false,
    };
    let mut out = Vec::with_capacity(body.len() + 512);
    match opts.preserve_whitespace_above {
        None => write_chat(&chat, &mut out)?,
        Some(limit) => write_chat_protected(&mut chat, limit, body.len(), &mut out)?,
    }
    drop(chat);

    let owned = |s: Option<Str>| s.map(|s| s.0.into_owned());
    Ok(ChatPlan {
        body: out,
        tools: tool_map,
        client_stream: req.stream.unwrap_or(false),
        model: req.model.0.into_owned(),
        free_model_line_shown: history.free_model_line,
        skipped_parts: 0,
        echo: ResponseEcho {
            instructions: req.instructions.map(ToOwned::to_owned),
            tools: tools_echo.or_else(|| req.tools.map(ToOwned::to_owned)),
            tool_choice: req.tool_choice.map(ToOwned::to_owned),
            parallel_tool_calls: req.parallel_tool_calls,
            temperature: req.temperature,
            top_p: req.top_p,
            max_output_tokens: req.max_output_tokens,
            reasoning: req.reasoning.map(ToOwned::to_owned),
            text: req.text.map(ToOwned::to_owned),
            metadata: req.metadata.map(ToOwned::to_owned),
            store: req.store,
            previous_response_id: owned(req.previous_response_id),
            prompt_cache_key: owned(req.prompt_cache_key),
            service_tier: owned(req.service_tier),
            user: owned(req.user),
            safety_identifier: owned(req.safety_identifier),
            truncation: owned(req.truncation),
        },
    })
}

/// Serializes `chat` into `out` (emptied first).
fn write_chat(chat: &ChatRequest, out: &mut Vec<u8>) -> Result<(), RequestError> {
    out.clear();
    serde_json::to_writer(out, chat).map_err(|e| RequestError::Internal(e.to_string()))
}

/// Serializes `chat` into `out` with its string contents as text parts when the body, with
/// them as strings, is longer than `limit` bytes ([`clawrouter::protect_whitespace`]).
///
/// Serialized once in the usual case: a Chat body is about as long as the Responses body it is
/// built from (`request_len`), so the form is guessed from that, and the guess is checked
/// exactly (each text part adds [`clawrouter::TEXT_PART_OVERHEAD`] bytes). Only a body near the
/// limit whose guess was wrong is written twice.
fn write_chat_protected(
    chat: &mut ChatRequest,
    limit: usize,
    request_len: usize,
    out: &mut Vec<u8>,
) -> Result<(), RequestError> {
    let guessed_over = request_len > limit;
    let protected = if guessed_over {
        clawrouter::protect_whitespace(&mut chat.messages)
    } else {
        Vec::new()
    };
    write_chat(chat, out)?;
    let plain_len = out.len() - protected.len() * clawrouter::TEXT_PART_OVERHEAD;
    if plain_len > limit && !guessed_over {
        if !clawrouter::protect_whitespace(&mut chat.messages).is_empty() {
            write_chat(chat, out)?;
        }
    } else if plain_len <= limit && !protected.is_empty() {
        clawrouter::unprotect_whitespace(&mut chat.messages, &protected);
        write_chat(chat, out)?;
    }
    Ok(())
}

/// `reasoning.effort` values Chat servers know.
fn effort(value: &str) -> Option<&'static str> {
    Some(match value {
        "none" => "none",
        "minimal" => "minimal",
        "low" => "low",
        "medium" => "medium",
        "high" => "high",
        "xhigh" => "xhigh",
        other => {
            log::debug!("reasoning.effort {other:?} has no Chat value, not sent");
            return None;
        }
    })
}

fn response_format(format: FormatIn<'_>) -> Option<ResponseFormat<'_>> {
    match &*format.kind {
        "json_schema" => Some(ResponseFormat::JsonSchema {
            json_schema: JsonSchema {
                name: format
                    .name
                    .map(|n| n.0)
                    .unwrap_or(Cow::Borrowed("response")),
                description: format.description.map(|d| d.0),
                schema: format.schema,
                strict: format.strict,
            },
        }),
        "json_object" => Some(ResponseFormat::JsonObject),
        _ => None,
    }
}
