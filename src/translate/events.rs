//! The Responses event writer: turns "an item starts / grows / ends, the response ends" into the
//! Server-Sent Events Codex and the Open Responses specification expect.
//!
//! [`ResponseEventWriter`] owns everything that must stay consistent over one response:
//! - `sequence_number` on every event, from 0, strictly increasing;
//! - one `output_index` per output item (0, 1, 2… in the order items are *started*) and a unique
//!   item id (`msg_…`, `fc_…`, `ctc_…`, `rs_…`) used by the item's `added`, delta, `done` events alike;
//! - the finished items, so the terminal event's `response.output` lists them all, in
//!   `output_index` order;
//! - the complete Response object (every spec field, nullable ones as `null`, the request's
//!   echoed settings or the spec's defaults), rendered for `created`, `in_progress` and the
//!   terminal event, and for `stream:false` clients by [`ResponseEventWriter::response_json`].
//!
//! Every method appends whole events (`event: <type>\ndata: <json>\n\n`) to a caller-owned
//! `Vec<u8>`: one call never leaves half an event behind, so the caller can flush the buffer
//! whenever it likes. Nothing here reads the clock: the caller passes `created_at` (in
//! [`ResponseMeta`]) and `completed_at`.
//!
//! Built for both paths:
//! - buffered: the whole `chat.completion` is known; `super::response::write_output` starts and
//!   finishes each item at once;
//! - streaming (chat.completion.chunk deltas arriving one by one): start an item when its first
//!   delta arrives, feed deltas as they come ([`ResponseEventWriter::text_delta`],
//!   [`ResponseEventWriter::tool_call_delta`], [`ResponseEventWriter::reasoning_delta`]), finish
//!   items when `finish_reason` arrives. Several items may be open at once (Chat interleaves
//!   text and tool-call fragments); each handle ([`OpenMessage`], [`OpenToolCall`],
//!   [`OpenReasoning`]) is owned by the caller and consumed when finished, so an item cannot be
//!   finished twice. [`ResponseEventWriter::in_progress`] may be repeated as a
//!   keep-alive data event (SSE comments do not reset Codex's idle timer).
//!
//! After a terminal event (`completed`, `incomplete`, `failed`) the writer is closed: further
//! calls write nothing. No method panics.

use serde::ser::Error as _;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use super::ids::new_id;
use super::request::ResponseEcho;

/// Identity of one response, chosen by the caller (who owns the clock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseMeta {
    /// The response id, `resp_…` (see [`ResponseMeta::new`]).
    pub id: String,
    /// Unix seconds when the request was accepted.
    pub created_at: u64,
    /// The model reported in the Response object: the model the client asked for.
    pub model: String,
}

impl ResponseMeta {
    /// Meta with a fresh `resp_…` id.
    pub fn new(model: impl Into<String>, created_at: u64) -> Self {
        Self {
            id: new_id("resp"),
            created_at,
            model: model.into(),
        }
    }
}

/// Token usage in Responses terms. Serialized as
/// `{input_tokens, input_tokens_details:{cached_tokens}, output_tokens,
/// output_tokens_details:{reasoning_tokens}, total_tokens}` — details are always objects with
/// integers, never `{}` (Codex rejects an empty details object and retries).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens (`prompt_tokens`).
    pub input_tokens: u64,
    /// Prompt tokens served from the provider's cache (`input_tokens_details.cached_tokens`).
    pub cached_tokens: u64,
    /// Completion tokens (`completion_tokens`), reasoning included.
    pub output_tokens: u64,
    /// Completion tokens spent thinking (`output_tokens_details.reasoning_tokens`).
    pub reasoning_tokens: u64,
    /// All tokens (`total_tokens`, or input + output when the upstream omits it).
    pub total_tokens: u64,
}

impl Usage {
    /// The usage of two upstream calls made for one response, added up (`None` + `None` stays
    /// `None`).
    pub fn sum(a: Option<Usage>, b: Option<Usage>) -> Option<Usage> {
        match (a, b) {
            (Some(a), Some(b)) => Some(Usage {
                input_tokens: a.input_tokens.saturating_add(b.input_tokens),
                cached_tokens: a.cached_tokens.saturating_add(b.cached_tokens),
                output_tokens: a.output_tokens.saturating_add(b.output_tokens),
                reasoning_tokens: a.reasoning_tokens.saturating_add(b.reasoning_tokens),
                total_tokens: a.total_tokens.saturating_add(b.total_tokens),
            }),
            (a, b) => a.or(b),
        }
    }
}

impl Serialize for Usage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Input {
            cached_tokens: u64,
        }
        #[derive(Serialize)]
        struct Output {
            reasoning_tokens: u64,
        }
        #[derive(Serialize)]
        struct Wire {
            input_tokens: u64,
            input_tokens_details: Input,
            output_tokens: u64,
            output_tokens_details: Output,
            total_tokens: u64,
        }
        Wire {
            input_tokens: self.input_tokens,
            input_tokens_details: Input {
                cached_tokens: self.cached_tokens,
            },
            output_tokens: self.output_tokens,
            output_tokens_details: Output {
                reasoning_tokens: self.reasoning_tokens,
            },
            total_tokens: self.total_tokens,
        }
        .serialize(serializer)
    }
}

/// Final status of an output item (`status` in its `output_item.done`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemStatus {
    /// The item is whole.
    Completed,
    /// The item was cut short (the upstream hit its token limit).
    Incomplete,
}

impl ItemStatus {
    fn as_str(self) -> &'static str {
        match self {
            ItemStatus::Completed => "completed",
            ItemStatus::Incomplete => "incomplete",
        }
    }
}

/// An assistant message that has been started (`output_item.added` and `content_part.added`
/// sent) and not yet finished. Owned by the caller; give it back to
/// [`ResponseEventWriter::finish_message`].
#[derive(Debug)]
pub struct OpenMessage {
    item_id: String,
    output_index: usize,
    text: String,
}

impl OpenMessage {
    /// The item id used by all of this message's events.
    pub fn item_id(&self) -> &str {
        &self.item_id
    }
    /// The message's `output_index`.
    pub fn output_index(&self) -> usize {
        self.output_index
    }
    /// The text sent so far.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// Which item type a tool call becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    /// `function_call` with JSON-string `arguments`.
    Function,
    /// `custom_tool_call` (freeform tools such as `apply_patch`) with raw `input`.
    Custom,
}

/// A tool call that has been started (`output_item.added` sent) and not yet finished. Owned by
/// the caller; give it back to [`ResponseEventWriter::finish_tool_call`].
#[derive(Debug)]
pub struct OpenToolCall {
    kind: CallKind,
    item_id: String,
    output_index: usize,
    call_id: String,
    name: String,
    namespace: Option<String>,
    /// `arguments` (function) or `input` (custom) so far.
    payload: String,
}

impl OpenToolCall {
    /// Function or custom call.
    pub fn kind(&self) -> CallKind {
        self.kind
    }
    /// The item id used by all of this call's events.
    pub fn item_id(&self) -> &str {
        &self.item_id
    }
    /// The call's `output_index`.
    pub fn output_index(&self) -> usize {
        self.output_index
    }
    /// The `call_id` Codex answers with.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }
    /// `arguments` (function) or `input` (custom) sent so far.
    pub fn payload(&self) -> &str {
        &self.payload
    }
}

/// A `web_search_call` item that has been started (the bridge is searching).
#[derive(Debug)]
pub struct OpenWebSearch {
    item_id: String,
    output_index: usize,
    query: String,
}

impl OpenWebSearch {
    /// The item's id (`ws_…`).
    pub fn item_id(&self) -> &str {
        &self.item_id
    }
}

/// A reasoning item that has been started (`output_item.added` sent) and not yet finished.
/// Owned by the caller; give it back to [`ResponseEventWriter::finish_reasoning`].
#[derive(Debug)]
pub struct OpenReasoning {
    item_id: String,
    output_index: usize,
    text: String,
}

impl OpenReasoning {
    /// The item id used by all of this item's events.
    pub fn item_id(&self) -> &str {
        &self.item_id
    }
    /// The item's `output_index`.
    pub fn output_index(&self) -> usize {
        self.output_index
    }
    /// The reasoning text sent so far.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// A JSON value echoed from the request, or the spec's default when the request had none.
#[derive(Debug)]
enum Json {
    Raw(Box<RawValue>),
    Lit(&'static str),
}

impl Json {
    fn echo(value: Option<&RawValue>, default: &'static str) -> Self {
        match value {
            Some(raw) if raw.get().trim() != "null" => Json::Raw(raw.to_owned()),
            _ => Json::Lit(default),
        }
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Raw(raw) => raw.serialize(serializer),
            Json::Lit(lit) => {
                let raw: &RawValue = serde_json::from_str(lit).map_err(S::Error::custom)?;
                raw.serialize(serializer)
            }
        }
    }
}

/// The request's settings as the Response object reports them, defaults applied once.
#[derive(Debug)]
struct Echoed {
    instructions: Json,
    tools: Json,
    tool_choice: Json,
    reasoning: Json,
    text: Json,
    metadata: Json,
    parallel_tool_calls: bool,
    temperature: f64,
    top_p: f64,
    max_output_tokens: Option<u64>,
    store: bool,
    previous_response_id: Option<String>,
    prompt_cache_key: Option<String>,
    service_tier: String,
    user: Option<String>,
    safety_identifier: Option<String>,
    truncation: String,
}

impl Echoed {
    fn from_echo(echo: &ResponseEcho) -> Self {
        Self {
            instructions: Json::echo(echo.instructions.as_deref(), "null"),
            tools: Json::echo(echo.tools.as_deref(), "[]"),
            tool_choice: Json::echo(echo.tool_choice.as_deref(), "\"auto\""),
            reasoning: Json::echo(echo.reasoning.as_deref(), "null"),
            text: Json::echo(echo.text.as_deref(), r#"{"format":{"type":"text"}}"#),
            metadata: Json::echo(echo.metadata.as_deref(), "{}"),
            parallel_tool_calls: echo.parallel_tool_calls.unwrap_or(true),
            temperature: finite_or(echo.temperature, 1.0),
            top_p: finite_or(echo.top_p, 1.0),
            max_output_tokens: echo.max_output_tokens,
            // The bridge stores nothing, so absent means false (the request's value is echoed).
            store: echo.store.unwrap_or(false),
            previous_response_id: echo.previous_response_id.clone(),
            prompt_cache_key: echo.prompt_cache_key.clone(),
            service_tier: echo
                .service_tier
                .clone()
                .unwrap_or_else(|| "default".to_owned()),
            user: echo.user.clone(),
            safety_identifier: echo.safety_identifier.clone(),
            truncation: echo
                .truncation
                .clone()
                .unwrap_or_else(|| "disabled".to_owned()),
        }
    }
}

fn finite_or(value: Option<f64>, default: f64) -> f64 {
    match value {
        Some(v) if v.is_finite() => v,
        _ => default,
    }
}

/// Where the response stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    InProgress,
    Completed,
    Incomplete { reason: String },
    Failed { code: String, message: String },
}

/// Writes one response's SSE events in order. See the module documentation.
#[derive(Debug)]
pub struct ResponseEventWriter {
    meta: ResponseMeta,
    echo: Echoed,
    /// When false, events are not encoded (used to build only the final Response object).
    emit: bool,
    next_sequence: u64,
    next_output_index: usize,
    /// Finished items as JSON, sorted by output_index.
    done_items: Vec<(usize, Box<RawValue>)>,
    state: State,
    usage: Option<Usage>,
    completed_at: Option<u64>,
}

impl ResponseEventWriter {
    /// A writer for one response; the echo's values (or the spec's defaults) are rendered now.
    pub fn new(meta: ResponseMeta, echo: &ResponseEcho) -> Self {
        Self {
            meta,
            echo: Echoed::from_echo(echo),
            emit: true,
            next_sequence: 0,
            next_output_index: 0,
            done_items: Vec::new(),
            state: State::InProgress,
            usage: None,
            completed_at: None,
        }
    }

    /// A writer that tracks items and status but encodes no events: for `stream:false`
    /// clients, which only need [`ResponseEventWriter::response_json`] at the end.
    pub fn without_events(meta: ResponseMeta, echo: &ResponseEcho) -> Self {
        Self {
            emit: false,
            ..Self::new(meta, echo)
        }
    }

    /// Stops encoding events from now on (see [`Self::without_events`]).
    pub fn stop_events(&mut self) {
        self.emit = false;
    }

    /// The response's identity.
    pub fn meta(&self) -> &ResponseMeta {
        &self.meta
    }

    /// The `sequence_number` the next event will carry (= events written so far).
    pub fn next_sequence_number(&self) -> u64 {
        self.next_sequence
    }

    /// Output items started so far.
    pub fn items_started(&self) -> usize {
        self.next_output_index
    }

    /// True once `completed`, `incomplete` or `failed` has been written.
    pub fn is_finished(&self) -> bool {
        self.state != State::InProgress
    }

    /// The Response object's `status`: `in_progress`, `completed`, `incomplete` or `failed`.
    pub fn status(&self) -> &'static str {
        match self.state {
            State::InProgress => "in_progress",
            State::Completed => "completed",
            State::Incomplete { .. } => "incomplete",
            State::Failed { .. } => "failed",
        }
    }

    /// `response.created` (status `in_progress`, no output yet).
    pub fn created(&mut self, out: &mut Vec<u8>) {
        self.response_event("response.created", out);
    }

    /// `response.in_progress`. May be sent again as a keep-alive while the upstream is silent.
    pub fn in_progress(&mut self, out: &mut Vec<u8>) {
        self.response_event("response.in_progress", out);
    }

    /// Starts an assistant message: `output_item.added` (status `in_progress`, empty content),
    /// then `content_part.added` (an empty `output_text` part at content_index 0).
    pub fn start_message(&mut self, out: &mut Vec<u8>) -> OpenMessage {
        let message = OpenMessage {
            item_id: new_id("msg"),
            output_index: self.take_output_index(),
            text: String::new(),
        };
        if self.writable() {
            let item = MessageItem {
                kind: "message",
                id: &message.item_id,
                status: "in_progress",
                role: "assistant",
                content: &[],
            };
            self.encode_item_event(
                "response.output_item.added",
                message.output_index,
                &item,
                out,
            );
            let part = OutputText::new("");
            let seq = self.take_sequence();
            self.encode(
                "response.content_part.added",
                &PartEvent {
                    kind: "response.content_part.added",
                    sequence_number: seq,
                    item_id: &message.item_id,
                    output_index: message.output_index,
                    content_index: 0,
                    part: &part,
                },
                out,
            );
        }
        message
    }

    /// `response.output_text.delta` for an open message. Empty deltas are skipped.
    pub fn text_delta(&mut self, message: &mut OpenMessage, delta: &str, out: &mut Vec<u8>) {
        if delta.is_empty() || !self.writable() {
            return;
        }
        message.text.push_str(delta);
        let seq = self.take_sequence();
        self.encode(
            "response.output_text.delta",
            &TextDeltaEvent {
                kind: "response.output_text.delta",
                sequence_number: seq,
                item_id: &message.item_id,
                output_index: message.output_index,
                content_index: 0,
                delta,
                logprobs: EmptyList,
            },
            out,
        );
    }

    /// Finishes a message: `output_text.done` (full text), `content_part.done`,
    /// `output_item.done` (full content, the given status).
    pub fn finish_message(&mut self, message: OpenMessage, status: ItemStatus, out: &mut Vec<u8>) {
        if !self.writable() {
            return;
        }
        let OpenMessage {
            item_id,
            output_index,
            text,
        } = message;
        let seq = self.take_sequence();
        self.encode(
            "response.output_text.done",
            &TextDoneEvent {
                kind: "response.output_text.done",
                sequence_number: seq,
                item_id: &item_id,
                output_index,
                content_index: 0,
                text: &text,
                logprobs: EmptyList,
            },
            out,
        );
        let part = OutputText::new(&text);
        let seq = self.take_sequence();
        self.encode(
            "response.content_part.done",
            &PartEvent {
                kind: "response.content_part.done",
                sequence_number: seq,
                item_id: &item_id,
                output_index,
                content_index: 0,
                part: &part,
            },
            out,
        );
        let content = [part];
        let item = MessageItem {
            kind: "message",
            id: &item_id,
            status: status.as_str(),
            role: "assistant",
            content: &content,
        };
        self.finish_item(output_index, &item, out);
    }

    /// A whole message at once: start, one delta with all the text, finish.
    pub fn message(&mut self, text: &str, status: ItemStatus, out: &mut Vec<u8>) {
        let mut message = self.start_message(out);
        self.text_delta(&mut message, text, out);
        self.finish_message(message, status, out);
    }

    /// Starts a `function_call` item: `output_item.added` with empty `arguments`.
    /// `namespace` is set for tools nested in a `namespace` tool (MCP servers, multi-agent).
    pub fn start_function_call(
        &mut self,
        call_id: &str,
        name: &str,
        namespace: Option<&str>,
        out: &mut Vec<u8>,
    ) -> OpenToolCall {
        self.start_tool_call(CallKind::Function, call_id, name, namespace, out)
    }

    /// Starts a `custom_tool_call` item (freeform tools): `output_item.added` with empty `input`.
    pub fn start_custom_tool_call(
        &mut self,
        call_id: &str,
        name: &str,
        namespace: Option<&str>,
        out: &mut Vec<u8>,
    ) -> OpenToolCall {
        self.start_tool_call(CallKind::Custom, call_id, name, namespace, out)
    }

    /// Starts a tool call of the given kind.
    pub fn start_tool_call(
        &mut self,
        kind: CallKind,
        call_id: &str,
        name: &str,
        namespace: Option<&str>,
        out: &mut Vec<u8>,
    ) -> OpenToolCall {
        let call = OpenToolCall {
            kind,
            item_id: new_id(match kind {
                CallKind::Function => "fc",
                CallKind::Custom => "ctc",
            }),
            output_index: self.take_output_index(),
            call_id: call_id.to_owned(),
            name: name.to_owned(),
            namespace: namespace.filter(|ns| !ns.is_empty()).map(str::to_owned),
            payload: String::new(),
        };
        if self.writable() {
            let item = call.item_view("in_progress");
            self.encode_item_event("response.output_item.added", call.output_index, &item, out);
        }
        call
    }

    /// `response.function_call_arguments.delta` or `response.custom_tool_call_input.delta`,
    /// by the call's kind. Empty deltas are skipped.
    pub fn tool_call_delta(&mut self, call: &mut OpenToolCall, delta: &str, out: &mut Vec<u8>) {
        if delta.is_empty() || !self.writable() {
            return;
        }
        call.payload.push_str(delta);
        let kind = match call.kind {
            CallKind::Function => "response.function_call_arguments.delta",
            CallKind::Custom => "response.custom_tool_call_input.delta",
        };
        let seq = self.take_sequence();
        self.encode(
            kind,
            &CallDeltaEvent {
                kind,
                sequence_number: seq,
                item_id: &call.item_id,
                output_index: call.output_index,
                delta,
            },
            out,
        );
    }

    /// Finishes a tool call: `function_call_arguments.done` (with `name` and `arguments`) or
    /// `custom_tool_call_input.done` (with `input`), then `output_item.done` with the whole
    /// item. A function call whose arguments are empty reports `"{}"`, which Codex can parse,
    /// sent as a last arguments delta too: the deltas add up to the arguments.
    pub fn finish_tool_call(&mut self, call: OpenToolCall, status: ItemStatus, out: &mut Vec<u8>) {
        if !self.writable() {
            return;
        }
        let mut call = call;
        if call.kind == CallKind::Function && call.payload.trim().is_empty() {
            self.tool_call_delta(&mut call, "{}", out);
        }
        let seq = self.take_sequence();
        match call.kind {
            CallKind::Function => self.encode(
                "response.function_call_arguments.done",
                &ArgumentsDoneEvent {
                    kind: "response.function_call_arguments.done",
                    sequence_number: seq,
                    item_id: &call.item_id,
                    output_index: call.output_index,
                    name: &call.name,
                    arguments: &call.payload,
                },
                out,
            ),
            CallKind::Custom => self.encode(
                "response.custom_tool_call_input.done",
                &InputDoneEvent {
                    kind: "response.custom_tool_call_input.done",
                    sequence_number: seq,
                    item_id: &call.item_id,
                    output_index: call.output_index,
                    input: &call.payload,
                },
                out,
            ),
        }
        let item = call.item_view(status.as_str());
        self.finish_item(call.output_index, &item, out);
    }

    /// A whole `function_call` at once: added, one arguments delta, done.
    pub fn function_call(
        &mut self,
        call_id: &str,
        name: &str,
        namespace: Option<&str>,
        arguments: &str,
        status: ItemStatus,
        out: &mut Vec<u8>,
    ) {
        let mut call = self.start_function_call(call_id, name, namespace, out);
        let arguments = if arguments.trim().is_empty() {
            "{}"
        } else {
            arguments
        };
        self.tool_call_delta(&mut call, arguments, out);
        self.finish_tool_call(call, status, out);
    }

    /// A whole `custom_tool_call` at once: added, one input delta, done.
    pub fn custom_tool_call(
        &mut self,
        call_id: &str,
        name: &str,
        namespace: Option<&str>,
        input: &str,
        status: ItemStatus,
        out: &mut Vec<u8>,
    ) {
        let mut call = self.start_custom_tool_call(call_id, name, namespace, out);
        self.tool_call_delta(&mut call, input, out);
        self.finish_tool_call(call, status, out);
    }

    /// Starts a `reasoning` item: `output_item.added` with `summary: []` and `content: []`, then
    /// `reasoning_summary_part.added` (an empty `summary_text` part at summary_index 0).
    ///
    /// The reasoning travels as the item's *summary*, not as raw `reasoning_text` content:
    /// Codex shows summaries by default, raw content only with `show_raw_agent_reasoning`, and
    /// it sends the item back every turn, so the text is carried once (`content` stays `[]`,
    /// which Codex then leaves out of the item it sends back).
    pub fn start_reasoning(&mut self, out: &mut Vec<u8>) -> OpenReasoning {
        let reasoning = OpenReasoning {
            item_id: new_id("rs"),
            output_index: self.take_output_index(),
            text: String::new(),
        };
        if self.writable() {
            let item = ReasoningItem {
                kind: "reasoning",
                id: &reasoning.item_id,
                status: "in_progress",
                summary: &[],
                content: EmptyList,
                encrypted_content: None,
            };
            self.encode_item_event(
                "response.output_item.added",
                reasoning.output_index,
                &item,
                out,
            );
            let part = SummaryText::new("");
            let seq = self.take_sequence();
            self.encode(
                "response.reasoning_summary_part.added",
                &SummaryPartEvent {
                    kind: "response.reasoning_summary_part.added",
                    sequence_number: seq,
                    item_id: &reasoning.item_id,
                    output_index: reasoning.output_index,
                    summary_index: 0,
                    part: &part,
                },
                out,
            );
        }
        reasoning
    }

    /// `response.reasoning_summary_text.delta` (summary_index 0) for an open reasoning item.
    /// Empty deltas are skipped.
    pub fn reasoning_delta(
        &mut self,
        reasoning: &mut OpenReasoning,
        delta: &str,
        out: &mut Vec<u8>,
    ) {
        if delta.is_empty() || !self.writable() {
            return;
        }
        reasoning.text.push_str(delta);
        let seq = self.take_sequence();
        self.encode(
            "response.reasoning_summary_text.delta",
            &SummaryDeltaEvent {
                kind: "response.reasoning_summary_text.delta",
                sequence_number: seq,
                item_id: &reasoning.item_id,
                output_index: reasoning.output_index,
                summary_index: 0,
                delta,
            },
            out,
        );
    }

    /// Finishes a reasoning item: `response.reasoning_summary_text.done` (full text),
    /// `response.reasoning_summary_part.done`, then `output_item.done` with
    /// `summary: [{type: summary_text, text}]`, `content: []` and, when given,
    /// `encrypted_content` (the sealed text the bridge reads back next turn; see
    /// `super::reasoning`).
    pub fn finish_reasoning(
        &mut self,
        reasoning: OpenReasoning,
        status: ItemStatus,
        encrypted_content: Option<&str>,
        out: &mut Vec<u8>,
    ) {
        if !self.writable() {
            return;
        }
        let OpenReasoning {
            item_id,
            output_index,
            text,
        } = reasoning;
        let seq = self.take_sequence();
        self.encode(
            "response.reasoning_summary_text.done",
            &SummaryDoneEvent {
                kind: "response.reasoning_summary_text.done",
                sequence_number: seq,
                item_id: &item_id,
                output_index,
                summary_index: 0,
                text: &text,
            },
            out,
        );
        let part = SummaryText::new(&text);
        let seq = self.take_sequence();
        self.encode(
            "response.reasoning_summary_part.done",
            &SummaryPartEvent {
                kind: "response.reasoning_summary_part.done",
                sequence_number: seq,
                item_id: &item_id,
                output_index,
                summary_index: 0,
                part: &part,
            },
            out,
        );
        let summary = [part];
        let item = ReasoningItem {
            kind: "reasoning",
            id: &item_id,
            status: status.as_str(),
            summary: &summary,
            content: EmptyList,
            encrypted_content,
        };
        self.finish_item(output_index, &item, out);
    }

    /// A whole reasoning item at once: start, one delta with all the text, finish.
    pub fn reasoning(
        &mut self,
        text: &str,
        status: ItemStatus,
        encrypted_content: Option<&str>,
        out: &mut Vec<u8>,
    ) {
        let mut reasoning = self.start_reasoning(out);
        self.reasoning_delta(&mut reasoning, text, out);
        self.finish_reasoning(reasoning, status, encrypted_content, out);
    }

    /// Starts a `web_search_call` item for a search the bridge runs: `output_item.added`
    /// (status `in_progress`, `action: {type: search, query}`), then
    /// `response.web_search_call.in_progress` and `.searching`.
    pub fn start_web_search(&mut self, query: &str, out: &mut Vec<u8>) -> OpenWebSearch {
        let search = OpenWebSearch {
            item_id: new_id("ws"),
            output_index: self.take_output_index(),
            query: query.to_owned(),
        };
        if self.writable() {
            let item = search.item_view("in_progress");
            self.encode_item_event(
                "response.output_item.added",
                search.output_index,
                &item,
                out,
            );
            for kind in [
                "response.web_search_call.in_progress",
                "response.web_search_call.searching",
            ] {
                self.web_search_event(kind, &search, out);
            }
        }
        search
    }

    /// Finishes a `web_search_call` item: `response.web_search_call.completed` (when it
    /// worked), then `output_item.done` with status `completed` or `failed`.
    pub fn finish_web_search(&mut self, search: OpenWebSearch, worked: bool, out: &mut Vec<u8>) {
        if !self.writable() {
            return;
        }
        if worked {
            self.web_search_event("response.web_search_call.completed", &search, out);
        }
        let item = search.item_view(if worked { "completed" } else { "failed" });
        self.finish_item(search.output_index, &item, out);
    }

    fn web_search_event(&mut self, kind: &'static str, search: &OpenWebSearch, out: &mut Vec<u8>) {
        let seq = self.take_sequence();
        self.encode(
            kind,
            &WebSearchEvent {
                kind,
                sequence_number: seq,
                item_id: &search.item_id,
                output_index: search.output_index,
            },
            out,
        );
    }

    /// A reasoning item with no text that only carries `encrypted_content` for the bridge
    /// itself (a sealed record of web searches): `output_item.added` and `.done`, `summary: []`.
    pub fn opaque_reasoning(&mut self, encrypted_content: &str, out: &mut Vec<u8>) {
        let output_index = self.take_output_index();
        if !self.writable() {
            return;
        }
        let item_id = new_id("rs");
        let mut item = ReasoningItem {
            kind: "reasoning",
            id: &item_id,
            status: "in_progress",
            summary: &[],
            content: EmptyList,
            encrypted_content: None,
        };
        self.encode_item_event("response.output_item.added", output_index, &item, out);
        item.status = ItemStatus::Completed.as_str();
        item.encrypted_content = Some(encrypted_content);
        self.finish_item(output_index, &item, out);
    }

    /// `response.completed`: status `completed`, all finished items, `usage` (null when the
    /// upstream gave none), `completed_at` (Unix seconds, from the caller).
    pub fn completed(&mut self, usage: Option<Usage>, completed_at: u64, out: &mut Vec<u8>) {
        if !self.writable() {
            return;
        }
        self.state = State::Completed;
        self.usage = usage;
        self.completed_at = Some(completed_at);
        self.response_event_unchecked("response.completed", out);
    }

    /// `response.incomplete`: status `incomplete`, `incomplete_details:{reason}`.
    /// Codex treats reason `max_output_tokens` as final (no retry).
    pub fn incomplete(&mut self, reason: &str, usage: Option<Usage>, out: &mut Vec<u8>) {
        if !self.writable() {
            return;
        }
        self.state = State::Incomplete {
            reason: reason.to_owned(),
        };
        self.usage = usage;
        self.response_event_unchecked("response.incomplete", out);
    }

    /// `response.failed`: status `failed`, `error:{code,message}`. Codex decides by `code`
    /// whether to retry (docs/codex-wire.md §4): e.g. `invalid_prompt` is final and shows `message`.
    pub fn failed(&mut self, code: &str, message: &str, out: &mut Vec<u8>) {
        if !self.writable() {
            return;
        }
        self.state = State::Failed {
            code: code.to_owned(),
            message: message.to_owned(),
        };
        self.response_event_unchecked("response.failed", out);
    }

    /// The Response object as it stands (after a terminal event: the final one, identical to
    /// the terminal event's `response`). This is the body for `stream:false` clients.
    pub fn response_json(&self) -> Vec<u8> {
        match serde_json::to_vec(&self.response_view()) {
            Ok(body) => body,
            Err(err) => {
                log::error!("cannot encode response {}: {err}", self.meta.id);
                format!(
                    r#"{{"id":{},"object":"response","status":"failed","error":{{"code":"server_error","message":"bridge could not encode the response"}},"output":[]}}"#,
                    serde_json::Value::String(self.meta.id.clone())
                )
                .into_bytes()
            }
        }
    }

    fn writable(&self) -> bool {
        self.state == State::InProgress
    }

    fn take_sequence(&mut self) -> u64 {
        let seq = self.next_sequence;
        self.next_sequence += 1;
        seq
    }

    fn take_output_index(&mut self) -> usize {
        let index = self.next_output_index;
        self.next_output_index += 1;
        index
    }

    fn response_event(&mut self, kind: &'static str, out: &mut Vec<u8>) {
        if self.writable() {
            self.response_event_unchecked(kind, out);
        }
    }

    fn response_event_unchecked(&mut self, kind: &'static str, out: &mut Vec<u8>) {
        let seq = self.take_sequence();
        if !self.emit {
            return;
        }
        let event = ResponseEvent {
            kind,
            sequence_number: seq,
            response: self.response_view(),
        };
        encode_event(kind, &event, out);
    }

    fn encode_item_event<T: Serialize + ?Sized>(
        &mut self,
        kind: &'static str,
        output_index: usize,
        item: &T,
        out: &mut Vec<u8>,
    ) {
        let seq = self.take_sequence();
        self.encode(
            kind,
            &ItemEvent {
                kind,
                sequence_number: seq,
                output_index,
                item,
            },
            out,
        );
    }

    /// Records a finished item and writes its `output_item.done`.
    fn finish_item<T: Serialize>(&mut self, output_index: usize, item: &T, out: &mut Vec<u8>) {
        let raw = match serde_json::value::to_raw_value(item) {
            Ok(raw) => raw,
            Err(err) => {
                log::error!("cannot encode output item {output_index}: {err}");
                return;
            }
        };
        self.encode_item_event("response.output_item.done", output_index, &*raw, out);
        let at = self
            .done_items
            .partition_point(|(index, _)| *index < output_index);
        self.done_items.insert(at, (output_index, raw));
    }

    fn encode<T: Serialize>(&self, kind: &str, event: &T, out: &mut Vec<u8>) {
        if self.emit {
            encode_event(kind, event, out);
        }
    }

    fn response_view(&self) -> ResponseView<'_> {
        let echo = &self.echo;
        let (error, incomplete_details) = match &self.state {
            State::Failed { code, message } => (Some(ErrorView { code, message }), None),
            State::Incomplete { reason } => (None, Some(IncompleteView { reason })),
            State::InProgress | State::Completed => (None, None),
        };
        ResponseView {
            id: &self.meta.id,
            object: "response",
            created_at: self.meta.created_at,
            completed_at: self.completed_at,
            status: self.status(),
            error,
            incomplete_details,
            instructions: &echo.instructions,
            model: &self.meta.model,
            output: OutputView(&self.done_items),
            parallel_tool_calls: echo.parallel_tool_calls,
            previous_response_id: echo.previous_response_id.as_deref(),
            reasoning: &echo.reasoning,
            store: echo.store,
            temperature: echo.temperature,
            text: &echo.text,
            tool_choice: &echo.tool_choice,
            tools: &echo.tools,
            top_p: echo.top_p,
            truncation: &echo.truncation,
            max_output_tokens: echo.max_output_tokens,
            max_tool_calls: None,
            metadata: &echo.metadata,
            service_tier: &echo.service_tier,
            user: echo.user.as_deref(),
            safety_identifier: echo.safety_identifier.as_deref(),
            prompt_cache_key: echo.prompt_cache_key.as_deref(),
            background: false,
            top_logprobs: 0,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            usage: self.usage.as_ref(),
        }
    }
}

impl OpenWebSearch {
    fn item_view(&self, status: &'static str) -> WebSearchItem<'_> {
        WebSearchItem {
            kind: "web_search_call",
            id: &self.item_id,
            status,
            action: SearchAction {
                kind: "search",
                query: &self.query,
            },
        }
    }
}

impl OpenToolCall {
    fn item_view<'a>(&'a self, status: &'static str) -> ToolCallItem<'a> {
        let (kind, arguments, input) = match self.kind {
            CallKind::Function => ("function_call", Some(self.payload.as_str()), None),
            CallKind::Custom => ("custom_tool_call", None, Some(self.payload.as_str())),
        };
        ToolCallItem {
            kind,
            id: &self.item_id,
            call_id: &self.call_id,
            namespace: self.namespace.as_deref(),
            name: &self.name,
            arguments,
            input,
            status,
        }
    }
}

/// Appends `event: <kind>\ndata: <json>\n\n`, or nothing if the event cannot be encoded.
fn encode_event<T: Serialize>(kind: &str, event: &T, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    if let Err(err) = serde_json::to_writer(&mut *out, event) {
        log::error!("cannot encode {kind} event: {err}");
        out.truncate(start);
        return;
    }
    out.extend_from_slice(b"\n\n");
}

/// Serializes as `[]` (annotations, logprobs, a reasoning item's `content`).
#[derive(Debug, Clone, Copy)]
struct EmptyList;

impl Serialize for EmptyList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        serializer.serialize_seq(Some(0))?.end()
    }
}

#[derive(Serialize)]
struct OutputText<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
    annotations: EmptyList,
    logprobs: EmptyList,
}

impl<'a> OutputText<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            kind: "output_text",
            text,
            annotations: EmptyList,
            logprobs: EmptyList,
        }
    }
}

#[derive(Serialize)]
struct MessageItem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    status: &'static str,
    role: &'static str,
    content: &'a [OutputText<'a>],
}

#[derive(Serialize)]
struct ToolCallItem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    call_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'a str>,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    arguments: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<&'a str>,
    status: &'static str,
}

/// One part of a reasoning item's `summary`.
#[derive(Serialize)]
struct SummaryText<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
}

impl<'a> SummaryText<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            kind: "summary_text",
            text,
        }
    }
}

#[derive(Serialize)]
struct WebSearchItem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    status: &'static str,
    action: SearchAction<'a>,
}

#[derive(Serialize)]
struct SearchAction<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    query: &'a str,
}

#[derive(Serialize)]
struct WebSearchEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u64,
    item_id: &'a str,
    output_index: usize,
}

#[derive(Serialize)]
struct ReasoningItem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    status: &'static str,
    summary: &'a [SummaryText<'a>],
    content: EmptyList,
    #[serde(skip_serializing_if = "Option::is_none")]
    encrypted_content: Option<&'a str>,
}

#[derive(Serialize)]
struct SummaryPartEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u64,
    item_id: &'a str,
    output_index: usize,
    summary_index: usize,
    part: &'a SummaryText<'a>,
}

#[derive(Serialize)]
struct SummaryDeltaEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u64,
    item_id: &'a str,
    output_index: usize,
    summary_index: usize,
    delta: &'a str,
}

#[derive(Serialize)]
struct SummaryDoneEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u64,
    item_id: &'a str,
    output_index: usize,
    summary_index: usize,
    text: &'a str,
}

#[derive(Serialize)]
struct ItemEvent<'a, T: Serialize + ?Sized> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u64,
    output_index: usize,
    item: &'a T,
}

#[derive(Serialize)]
struct PartEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u64,
    item_id: &'a str,
    output_index: usize,
    content_index: usize,
    part: &'a OutputText<'a>,
}

#[derive(Serialize)]
struct TextDeltaEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u64,
    item_id: &'a str,
    output_index: usize,
    content_index: usize,
    delta: &'a str,
    logprobs: EmptyList,
}

#[derive(Serialize)]
struct TextDoneEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u64,
    item_id: &'a str,
    output_index: usize,
    content_index: usize,
    text: &'a str,
    logprobs: EmptyList,
}

#[derive(Serialize)]
struct CallDeltaEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u64,
    item_id: &'a str,
    output_index: usize,
    delta: &'a str,
}

#[derive(Serialize)]
struct ArgumentsDoneEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u64,
    item_id: &'a str,
    output_index: usize,
    name: &'a str,
    arguments: &'a str,
}

#[derive(Serialize)]
struct InputDoneEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u64,
    item_id: &'a str,
    output_index: usize,
    input: &'a str,
}

#[derive(Serialize)]
struct ResponseEvent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence_number: u64,
    response: ResponseView<'a>,
}

#[derive(Serialize)]
struct ErrorView<'a> {
    code: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct IncompleteView<'a> {
    reason: &'a str,
}

/// The finished items, in output_index order.
struct OutputView<'a>(&'a [(usize, Box<RawValue>)]);

impl Serialize for OutputView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|(_, raw)| &**raw))
    }
}

/// The complete Response object (Open Responses `ResponseResource`): every required field.
#[derive(Serialize)]
struct ResponseView<'a> {
    id: &'a str,
    object: &'static str,
    created_at: u64,
    completed_at: Option<u64>,
    status: &'static str,
    error: Option<ErrorView<'a>>,
    incomplete_details: Option<IncompleteView<'a>>,
    instructions: &'a Json,
    model: &'a str,
    output: OutputView<'a>,
    parallel_tool_calls: bool,
    previous_response_id: Option<&'a str>,
    reasoning: &'a Json,
    store: bool,
    temperature: f64,
    text: &'a Json,
    tool_choice: &'a Json,
    tools: &'a Json,
    top_p: f64,
    truncation: &'a str,
    max_output_tokens: Option<u64>,
    max_tool_calls: Option<u64>,
    metadata: &'a Json,
    service_tier: &'a str,
    user: Option<&'a str>,
    safety_identifier: Option<&'a str>,
    prompt_cache_key: Option<&'a str>,
    background: bool,
    top_logprobs: u32,
    presence_penalty: f64,
    frequency_penalty: f64,
    usage: Option<&'a Usage>,
}

#[cfg(test)]
pub(crate) mod tests {
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
    fn check_summary_event(
        summaries: &mut Vec<SummaryParts>,
        index: u64,
        name: &str,
        data: &Value,
    ) {
        let summary_index = data["summary_index"]
            .as_u64()
            .unwrap_or_else(|| panic!("{name} without summary_index"))
            as usize;
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
}
