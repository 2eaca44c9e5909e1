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
//!
//! The serialized shapes of the events and items, and the event names, live in `wire`.

use serde::ser::Error as _;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use super::ids::new_id;
use super::request::ResponseEcho;

mod wire;

use wire::{
    encode_event, kind, ArgumentsDoneEvent, CallDeltaEvent, EmptyList, ErrorView, IncompleteView,
    InputDoneEvent, ItemEvent, MessageItem, OutputText, OutputView, PartEvent, ReasoningItem,
    ResponseEvent, ResponseView, SearchAction, SummaryDeltaEvent, SummaryDoneEvent,
    SummaryPartEvent, SummaryText, TextDeltaEvent, TextDoneEvent, ToolCallItem, WebSearchEvent,
    WebSearchItem, WireEvent,
};

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
        self.response_event(kind::CREATED, out);
    }

    /// `response.in_progress`. May be sent again as a keep-alive while the upstream is silent.
    pub fn in_progress(&mut self, out: &mut Vec<u8>) {
        self.response_event(kind::IN_PROGRESS, out);
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
            self.encode_item_event(kind::OUTPUT_ITEM_ADDED, message.output_index, &item, out);
            let part = OutputText::new("");
            let seq = self.take_sequence();
            self.encode(
                &PartEvent {
                    kind: kind::CONTENT_PART_ADDED,
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
            &TextDeltaEvent {
                kind: kind::OUTPUT_TEXT_DELTA,
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
            &TextDoneEvent {
                kind: kind::OUTPUT_TEXT_DONE,
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
            &PartEvent {
                kind: kind::CONTENT_PART_DONE,
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
            self.encode_item_event(kind::OUTPUT_ITEM_ADDED, call.output_index, &item, out);
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
            CallKind::Function => kind::FUNCTION_CALL_ARGUMENTS_DELTA,
            CallKind::Custom => kind::CUSTOM_TOOL_CALL_INPUT_DELTA,
        };
        let seq = self.take_sequence();
        self.encode(
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
                &ArgumentsDoneEvent {
                    kind: kind::FUNCTION_CALL_ARGUMENTS_DONE,
                    sequence_number: seq,
                    item_id: &call.item_id,
                    output_index: call.output_index,
                    name: &call.name,
                    arguments: &call.payload,
                },
                out,
            ),
            CallKind::Custom => self.encode(
                &InputDoneEvent {
                    kind: kind::CUSTOM_TOOL_CALL_INPUT_DONE,
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
            self.encode_item_event(kind::OUTPUT_ITEM_ADDED, reasoning.output_index, &item, out);
            let part = SummaryText::new("");
            let seq = self.take_sequence();
            self.encode(
                &SummaryPartEvent {
                    kind: kind::REASONING_SUMMARY_PART_ADDED,
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
            &SummaryDeltaEvent {
                kind: kind::REASONING_SUMMARY_TEXT_DELTA,
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
            &SummaryDoneEvent {
                kind: kind::REASONING_SUMMARY_TEXT_DONE,
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
            &SummaryPartEvent {
                kind: kind::REASONING_SUMMARY_PART_DONE,
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
            self.encode_item_event(kind::OUTPUT_ITEM_ADDED, search.output_index, &item, out);
            for kind in [
                kind::WEB_SEARCH_CALL_IN_PROGRESS,
                kind::WEB_SEARCH_CALL_SEARCHING,
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
            self.web_search_event(kind::WEB_SEARCH_CALL_COMPLETED, &search, out);
        }
        let item = search.item_view(if worked { "completed" } else { "failed" });
        self.finish_item(search.output_index, &item, out);
    }

    fn web_search_event(&mut self, kind: &'static str, search: &OpenWebSearch, out: &mut Vec<u8>) {
        let seq = self.take_sequence();
        self.encode(
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
        self.encode_item_event(kind::OUTPUT_ITEM_ADDED, output_index, &item, out);
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
        self.response_event_unchecked(kind::COMPLETED, out);
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
        self.response_event_unchecked(kind::INCOMPLETE, out);
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
        self.response_event_unchecked(kind::FAILED, out);
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
        encode_event(&event, out);
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
        self.encode_item_event(kind::OUTPUT_ITEM_DONE, output_index, &*raw, out);
        let at = self
            .done_items
            .partition_point(|(index, _)| *index < output_index);
        self.done_items.insert(at, (output_index, raw));
    }

    fn encode<E: WireEvent>(&self, event: &E, out: &mut Vec<u8>) {
        if self.emit {
            encode_event(event, out);
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

#[cfg(test)]
pub(crate) mod tests;
