//! The one translation core for both upstream modes: Chat Completions chunks (or a whole
//! `chat.completion`) in, Responses events out, as the bytes arrive.
//!
//! [`StreamTranslator`] owns a [`ResponseEventWriter`] and an [`SseParser`]. The proxy calls
//! [`StreamTranslator::start`] when it commits the stream, [`StreamTranslator::keepalive`] on
//! its timer, [`StreamTranslator::feed`] with every upstream read (or
//! [`StreamTranslator::feed_completion`] with a whole JSON body), and
//! [`StreamTranslator::upstream_ended`] at EOF or [`StreamTranslator::fail`] on a transport or
//! HTTP error. Each call appends whole events to the caller's buffer; nothing here does I/O.
//!
//! Mapping of one chunk's `choices[0]`:
//! - `delta.reasoning_content` / `reasoning` / `reasoning_details` (see
//!   [`super::chat_in::Message::reasoning`]), and a `<think>…</think>` span at the start of the
//!   content → one `reasoning` item whose text is its summary (what Codex shows), streamed
//!   with `response.reasoning_summary_text.delta` between `reasoning_summary_part.added` and
//!   `.done`, emitted before the message and the calls and closed when the first of them
//!   starts; its done item carries `encrypted_content` (the text sealed with the
//!   [`ReasoningKey`]) when a key is given. While the content could still be a `<think>`
//!   prefix, only that prefix is held; inside the span, a possible partial `</think>` and
//!   trailing blanks are held (the span is trimmed like [`super::response::split_think`]
//!   trims it).
//! - `delta.content` → a message item; each upstream delta becomes at most one
//!   `output_text.delta`, written in one piece. Blank text before the message opens is held
//!   (a blank answer gives no message, as in the JSON path). With tools declared and no
//!   structured call yet, a span that may be a leaked call is held back ([`LeakHold`]); at
//!   the end it becomes a call (only when the turn has no structured calls) or is released.
//! - `delta.tool_calls`: fragments with `index` are matched by index (a different `id` at the
//!   same index starts a new call); fragments without `index` (ClawRouter sends each call whole
//!   in one fragment) belong to the call with the same `id`, a new `id` starts a new call, and
//!   no `id` continues the last call. The first call closes the message (and the reasoning)
//!   and releases held text. An item starts when the call's name is known; namespaced names
//!   are split back with [`ToolMap::resolve`]. Function arguments stream as
//!   `function_call_arguments.delta` (arguments that start as a JSON string — double-encoded —
//!   are buffered and unwrapped at the end, as the JSON path does). **Freeform (custom) tools
//!   are buffered**: the model streams the JSON wrapper `{"input":"…"}`, and the decoded input
//!   is emitted as one `custom_tool_call_input.delta` when the call ends.
//! - `finish_reason` → recorded, and every open item is closed (status `incomplete` for
//!   `length` and `content_filter`); `usage` (any chunk, e.g. ClawRouter's `choices: []` chunk
//!   with `cost`) → the terminal event's usage. The terminal event follows `[DONE]` (or
//!   [`StreamTranslator::upstream_ended`]), chosen as in [`super::response`]: `length` →
//!   `response.incomplete` (`max_output_tokens`), `content_filter` → `response.failed`
//!   (`invalid_prompt`), `error` → `response.failed` (`upstream_error`), else
//!   `response.completed`.
//! - `data: {"error":…}` (ClawRouter, under HTTP 200) → `response.failed` classified by
//!   [`upstream_error::classify_status`] with `error.status` (or 502).
//! - A data frame that is not JSON is skipped (debug log, counted). A stream that ends before a
//!   `finish_reason` or `[DONE]` fails with `server_error` after what was sent (open items
//!   closed as `incomplete`); if it only ever sent garbage, the failure quotes it.
//! - A body that starts with `{` is a whole `chat.completion` (an upstream that answered JSON
//!   to a streaming request): it is buffered and translated at EOF like
//!   [`StreamTranslator::feed_completion`].
//!
//! Web search (the bridge's `web_search` function offered, see [`super::web_search`]): every
//! tool call of a model call is held until that call ends. Calls to `web_search` then make the
//! response wait ([`StreamTranslator::pending_searches`]) while the proxy runs them
//! ([`StreamTranslator::start_searches`], [`StreamTranslator::searches_done`]: one
//! `web_search_call` item each, and a reasoning item carrying their sealed record); with no
//! Codex call beside them the model is asked again and its next answer continues the same
//! response (usage added up), else Codex's calls follow and the response ends. A model call
//! without searches gives Codex its held calls at once.
//!
//! Memory per stream: the unfinished SSE frame, the open items' text (needed for their `.done`
//! events), the held span, and the buffered arguments of open calls.

use std::sync::Arc;

use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::chat_in::{call_id, CallFragment, ChatAnswer};
use super::events::{
    CallKind, ItemStatus, OpenMessage, OpenReasoning, OpenToolCall, OpenWebSearch,
    ResponseEventWriter, ResponseMeta, Usage,
};
use super::leaked::LeakHold;
use super::reasoning::ReasoningKey;
use super::request::ResponseEcho;
use super::response::{
    completion_to_output, custom_input, finish_status, normalize_argument_string, snippet,
    write_calls, write_items_sealed, write_terminal, CompletionError, Finish, ToolCallOut,
    THINK_CLOSE, THINK_OPEN,
};
use super::sse::{SseFrame, SseParser};
use super::tools::{ToolKind, ToolMap};
use super::upstream_error::{self, ClientFailure, ErrorHeaders};
use super::web_search::{RecordedSearch, SearchRecord};
use crate::outcome::Outcome;

/// The failure message when the upstream stops before a `finish_reason` or `[DONE]`.
pub const EARLY_EOF_MESSAGE: &str = "the upstream closed the stream before it finished";

/// The largest whole JSON body buffered when a streaming request is answered with JSON.
const MAX_JSON_BODY: usize = 64 * 1024 * 1024;

/// What the upstream body turned out to be.
#[derive(Debug)]
enum Body {
    /// Nothing but blanks so far.
    Sniffing,
    /// An event stream.
    Events,
    /// A whole JSON body, buffered until EOF.
    Json(Vec<u8>),
}

/// Where the start of the content stands with respect to a `<think>` span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Think {
    /// Nothing but blanks, or a prefix of `<think>`, so far (held in `think_buf`).
    Start,
    /// Inside the span; `think_buf` holds a possible partial `</think>` and trailing blanks.
    Inside,
    /// Just after `</think>`: leading blanks of the visible text are dropped.
    After,
    /// Plain text.
    Outside,
}

/// How a function call's arguments are passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Args {
    /// Nothing but blanks yet.
    Undecided,
    /// Streamed as they arrive.
    Stream,
    /// Buffered and normalized at the end (custom tools, double-encoded arguments).
    Buffer,
}

/// One tool call of the turn.
#[derive(Debug)]
struct CallSlot {
    index: Option<u64>,
    upstream_id: Option<String>,
    chat_name: String,
    open: Option<OpenToolCall>,
    args: Args,
    /// Arguments not yet passed on.
    pending: String,
    /// Held until the model call ends (web search on): no item is opened for it.
    held: bool,
}

/// A model call that ended asking for web searches: they run before the response goes on.
#[derive(Debug)]
struct SearchRound {
    /// Calls to the bridge's `web_search` function.
    searches: Vec<ToolCallOut>,
    /// Calls to Codex's own tools in the same model call, given to Codex once the searches are
    /// done (the response then ends, as any answer with calls does).
    codex_calls: Vec<ToolCallOut>,
    /// Items of the running searches.
    running: Vec<OpenWebSearch>,
}

/// What the model is sent next after a model call's searches: that call as an assistant
/// message (its text, reasoning and the search calls) and one tool message per search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchFollowUp {
    pub messages: Vec<Value>,
}

/// Translates one upstream answer into one Responses event stream. See the module docs.
#[derive(Debug)]
pub struct StreamTranslator {
    writer: ResponseEventWriter,
    tools: ToolMap,
    key: Option<Arc<ReasoningKey>>,
    upstream_url: String,
    parser: SseParser,
    body: Body,
    reasoning: Option<OpenReasoning>,
    think: Think,
    think_buf: String,
    /// Reasoning text from a `<think>` span has been emitted (its leading blanks are dropped).
    think_started: bool,
    /// Blank text waiting for the message to open.
    lead_blank: String,
    message: Option<OpenMessage>,
    hold: LeakHold,
    calls: Vec<CallSlot>,
    used_call_ids: Vec<String>,
    structured_calls: bool,
    finish: Option<Finish>,
    usage: Option<Usage>,
    valid_frames: u64,
    skipped_frames: u64,
    first_skipped: Option<String>,
    outcome: Outcome,
    /// Web search is offered: every call of a model call is held until it ends, so that the
    /// bridge's searches run first and Codex gets its own calls after them.
    hold_calls: bool,
    /// The held calls of this model call.
    held: Vec<ToolCallOut>,
    /// This model call's visible text and reasoning (web search on), for the next request.
    round_text: String,
    round_reasoning: String,
    /// Usage of the earlier model calls of this response.
    earlier_usage: Option<Usage>,
    /// False for the last model call a search loop allows: its searches are not run.
    searches_allowed: bool,
    /// Set when a model call ended with searches to run.
    search_round: Option<SearchRound>,
    /// The failure [`Self::fail`] wrote, for clients that get it as an HTTP error.
    failure: Option<ClientFailure>,
    /// Totals over the whole response (see [`Self::counters`]).
    counters: Counters,
}

/// What a response counted (for the access log line and the metrics).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Keep-alive events written.
    pub keepalives: u64,
    /// Upstream stream data lines that were not JSON objects (skipped).
    pub skipped_frames: u64,
    /// Tokens the upstream reported, all model calls added up.
    pub usage: Option<Usage>,
}

impl StreamTranslator {
    /// A translator for one response. `reasoning_key` seals reasoning into `encrypted_content`
    /// (omitted without a key); `upstream_url` names the upstream in failure messages.
    pub fn new(
        meta: ResponseMeta,
        echo: &ResponseEcho,
        tools: ToolMap,
        reasoning_key: Option<Arc<ReasoningKey>>,
        upstream_url: String,
    ) -> Self {
        StreamTranslator {
            writer: ResponseEventWriter::new(meta, echo),
            tools,
            key: reasoning_key,
            upstream_url,
            parser: SseParser::new(),
            body: Body::Sniffing,
            reasoning: None,
            think: Think::Start,
            think_buf: String::new(),
            think_started: false,
            lead_blank: String::new(),
            message: None,
            hold: LeakHold::new(),
            calls: Vec::new(),
            used_call_ids: Vec::new(),
            structured_calls: false,
            finish: None,
            usage: None,
            valid_frames: 0,
            skipped_frames: 0,
            first_skipped: None,
            outcome: Outcome::InProgress,
            hold_calls: false,
            held: Vec::new(),
            round_text: String::new(),
            round_reasoning: String::new(),
            earlier_usage: None,
            searches_allowed: true,
            search_round: None,
            failure: None,
            counters: Counters::default(),
        }
        .with_web_search()
    }

    /// A translator for a `stream:false` client: the same translation, no events encoded; the
    /// client gets [`Self::response_json`] (or an HTTP error from [`Self::failure`]) at the end.
    pub fn without_events(
        meta: ResponseMeta,
        echo: &ResponseEcho,
        tools: ToolMap,
        reasoning_key: Option<Arc<ReasoningKey>>,
        upstream_url: String,
    ) -> Self {
        let mut translator = Self::new(meta, echo, tools, reasoning_key, upstream_url);
        translator.writer.stop_events();
        translator
    }

    /// The Response object as it stands (complete once the response is finished).
    pub fn response_json(&self) -> Vec<u8> {
        self.writer.response_json()
    }

    /// The upstream failure that ended the response, if one did.
    pub fn failure(&self) -> Option<&ClientFailure> {
        self.failure.as_ref()
    }

    fn with_web_search(mut self) -> Self {
        self.hold_calls = self.tools.offers_web_search();
        self
    }

    /// `response.created` + `response.in_progress`.
    pub fn start(&mut self, out: &mut Vec<u8>) {
        self.writer.created(out);
        self.writer.in_progress(out);
    }

    /// A keep-alive `response.in_progress`; nothing once finished.
    pub fn keepalive(&mut self, out: &mut Vec<u8>) {
        if !self.is_finished() {
            self.counters.keepalives += 1;
        }
        self.writer.in_progress(out);
    }

    /// What this response counted so far: keep-alive events, skipped upstream frames, and the
    /// tokens of all its model calls.
    pub fn counters(&self) -> Counters {
        Counters {
            usage: Usage::sum(self.earlier_usage, self.usage),
            ..self.counters
        }
    }

    /// Upstream SSE bytes (chat.completion.chunk frames) as they arrive; appends the translated
    /// events.
    pub fn feed(&mut self, bytes: &[u8], completed_at: u64, out: &mut Vec<u8>) {
        if self.round_over() || bytes.is_empty() {
            return;
        }
        if let Body::Sniffing = self.body {
            match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
                None => {
                    // Blanks still count for an event stream: "  data: x" is a line whose
                    // field is "  data", not "data". The parser keeps them (a JSON body
                    // never reaches it), so the answer does not depend on where reads end.
                    let mut parser = std::mem::take(&mut self.parser);
                    parser.feed(bytes, |_| {});
                    self.parser = parser;
                    return;
                }
                Some(b'{') => self.body = Body::Json(Vec::new()),
                Some(_) => self.body = Body::Events,
            }
        }
        if let Body::Json(buffer) = &mut self.body {
            if buffer.len() + bytes.len() > MAX_JSON_BODY {
                let failure =
                    upstream_error::garbage(&self.upstream_url, "the answer was too large");
                self.body = Body::Events;
                self.fail(&failure, out);
            } else {
                buffer.extend_from_slice(bytes);
            }
            return;
        }
        let mut parser = std::mem::take(&mut self.parser);
        parser.feed(bytes, |frame| self.on_frame(frame, completed_at, out));
        self.parser = parser;
    }

    /// A whole `chat.completion` JSON body (non-streaming upstream call, or an upstream that
    /// answered JSON to a streaming request): all items + terminal event, exactly as the
    /// streaming path would emit them. An error body or garbage → `response.failed`
    /// (classified via [`upstream_error`]).
    pub fn feed_completion(&mut self, body: &[u8], completed_at: u64, out: &mut Vec<u8>) {
        if self.round_over() {
            return;
        }
        match completion_to_output(body, &self.tools) {
            Ok(mut output) if self.hold_calls => {
                let key = self.key.clone();
                self.held = std::mem::take(&mut output.tool_calls);
                write_items_sealed(&mut self.writer, &output, &self.tools, key.as_deref(), out);
                self.round_text = output.text.unwrap_or_default();
                self.round_reasoning = output.reasoning.unwrap_or_default();
                self.usage = output.usage;
                self.finish = Some(output.finish);
                self.end_model_call(completed_at, out);
            }
            Ok(output) => {
                let key = self.key.clone();
                self.usage = output.usage;
                let usage = Usage::sum(self.earlier_usage, output.usage);
                write_items_sealed(&mut self.writer, &output, &self.tools, key.as_deref(), out);
                write_terminal(&mut self.writer, &output.finish, usage, completed_at, out);
                self.outcome = finish_outcome(&output.finish);
            }
            Err(CompletionError::Upstream { .. }) => {
                let status = ChatAnswer::read(body)
                    .ok()
                    .and_then(|answer| answer.error())
                    .and_then(error_status)
                    .unwrap_or(502);
                let failure = upstream_error::classify_status(
                    status,
                    &ErrorHeaders::default(),
                    body,
                    &self.upstream_url,
                );
                self.fail(&failure, out);
            }
            Err(other) => {
                let failure = upstream_error::garbage(&self.upstream_url, &other.to_string());
                self.fail(&failure, out);
            }
        }
    }

    /// The upstream body ended (EOF). If the stream had not finished: close open items and end
    /// — completed when a finish_reason or `[DONE]` was seen, otherwise `response.failed`
    /// (code `server_error`, [`EARLY_EOF_MESSAGE`]) after what was already sent.
    pub fn upstream_ended(&mut self, completed_at: u64, out: &mut Vec<u8>) {
        if self.round_over() {
            return;
        }
        match std::mem::replace(&mut self.body, Body::Events) {
            Body::Json(buffer) => return self.feed_completion(&buffer, completed_at, out),
            Body::Sniffing | Body::Events => {}
        }
        let mut parser = std::mem::take(&mut self.parser);
        parser.finish(|frame| self.on_frame(frame, completed_at, out));
        if self.round_over() {
            return;
        }
        if self.finish.is_some() {
            self.terminal(completed_at, out);
        } else if self.only_garbage() {
            self.fail_garbage(out);
        } else {
            log::debug!("{}: {EARLY_EOF_MESSAGE}", self.upstream_url);
            self.close_open_items(ItemStatus::Incomplete, out);
            self.writer.failed("server_error", EARLY_EOF_MESSAGE, out);
            self.outcome = Outcome::UpstreamClosed;
        }
    }

    /// A failure before or during the answer (transport error, HTTP error status):
    /// `response.failed` with `failure.responses_code()` and its message; open items are
    /// closed first (status `incomplete`) so what was sent stays consistent.
    pub fn fail(&mut self, failure: &ClientFailure, out: &mut Vec<u8>) {
        if self.is_finished() {
            return;
        }
        self.close_open_items(ItemStatus::Incomplete, out);
        self.writer
            .failed(failure.responses_code(), &failure.message, out);
        self.outcome = failure.outcome();
        self.failure = Some(failure.clone());
    }

    /// True once the terminal event has been written.
    pub fn is_finished(&self) -> bool {
        self.writer.is_finished()
    }

    /// True when this response may run web searches (the bridge's `web_search` is offered).
    pub fn may_search(&self) -> bool {
        self.hold_calls
    }

    /// True when the current model call's answer needs no more upstream bytes: the response
    /// is finished, or the call ended with searches to run ([`Self::pending_searches`]).
    pub fn round_over(&self) -> bool {
        self.is_finished() || self.search_round.is_some()
    }

    /// The searches the last model call asked for, once it ended; the response goes on only
    /// after [`Self::start_searches`] and [`Self::searches_done`].
    pub fn pending_searches(&self) -> Option<&[ToolCallOut]> {
        self.search_round
            .as_ref()
            .filter(|_| !self.is_finished())
            .map(|round| round.searches.as_slice())
    }

    /// When false, the searches of the next model call are not run (the last call a search
    /// loop allows): its calls to `web_search` are dropped and the response ends with it.
    pub fn allow_searches(&mut self, allowed: bool) {
        self.searches_allowed = allowed;
    }

    /// Shows the pending searches as running: one `web_search_call` item each (`queries` in
    /// the order of [`Self::pending_searches`]).
    pub fn start_searches(&mut self, queries: &[String], out: &mut Vec<u8>) {
        let Some(round) = self.search_round.as_mut() else {
            return;
        };
        for query in queries {
            round.running.push(self.writer.start_web_search(query, out));
        }
    }

    /// The pending searches are done: `outcomes` holds, in order, whether each worked and the
    /// tool result the model gets. Their items are finished and sealed into a record for the
    /// next turn. When the model call also called Codex's tools, those calls follow and the
    /// response ends (`None`); otherwise the model is asked again with the returned messages,
    /// and the next upstream answer is fed to this translator as usual.
    pub fn searches_done(
        &mut self,
        outcomes: Vec<(bool, String)>,
        completed_at: u64,
        out: &mut Vec<u8>,
    ) -> Option<SearchFollowUp> {
        let round = self.search_round.take()?;
        if self.is_finished() {
            return None;
        }
        let mut record = SearchRecord::default();
        let mut tool_messages = Vec::with_capacity(round.searches.len());
        let mut running = round.running.into_iter();
        for (call, (worked, result)) in round.searches.iter().zip(outcomes) {
            if let Some(item) = running.next() {
                self.writer.finish_web_search(item, worked, out);
            }
            tool_messages
                .push(json!({"role": "tool", "tool_call_id": call.call_id, "content": result}));
            record.searches.push(RecordedSearch {
                id: call.call_id.clone(),
                arguments: call.arguments.clone(),
                result,
            });
        }
        if let Some(key) = &self.key {
            self.writer.opaque_reasoning(&record.seal(key), out);
        }
        if !round.codex_calls.is_empty() {
            write_calls(
                &mut self.writer,
                &round.codex_calls,
                &self.tools,
                ItemStatus::Completed,
                out,
            );
            let usage = Usage::sum(self.earlier_usage, self.usage);
            write_terminal(
                &mut self.writer,
                &Finish::ToolCalls,
                usage,
                completed_at,
                out,
            );
            self.outcome = Outcome::Ok;
            return None;
        }
        let mut assistant = json!({
            "role": "assistant",
            "content": if self.round_text.trim().is_empty() { Value::Null } else { Value::from(std::mem::take(&mut self.round_text)) },
            "tool_calls": round.searches.iter().map(|call| json!({
                "id": call.call_id,
                "type": "function",
                "function": {"name": call.chat_name, "arguments": call.arguments},
            })).collect::<Vec<_>>(),
        });
        if !self.round_reasoning.is_empty() {
            assistant["reasoning_content"] = Value::from(std::mem::take(&mut self.round_reasoning));
        }
        let mut messages = vec![assistant];
        messages.extend(tool_messages);
        self.next_model_call();
        Some(SearchFollowUp { messages })
    }

    /// Clears what belongs to one model call; the response (writer, usage so far) goes on.
    fn next_model_call(&mut self) {
        self.earlier_usage = Usage::sum(self.earlier_usage, self.usage.take());
        self.parser = SseParser::new();
        self.body = Body::Sniffing;
        self.reasoning = None;
        self.think = Think::Start;
        self.think_buf.clear();
        self.think_started = false;
        self.lead_blank.clear();
        self.message = None;
        self.hold = LeakHold::new();
        self.calls.clear();
        self.structured_calls = false;
        self.finish = None;
        self.valid_frames = 0;
        self.skipped_frames = 0;
        self.first_skipped = None;
        self.round_text.clear();
        self.round_reasoning.clear();
        self.held.clear();
    }

    /// How it ended, for the access log: `ok`, `incomplete`, or a failure label
    /// (`content_filter`, `upstream_error`, `upstream_closed`, `payment`, `rate_limited`,
    /// `context_length`, `upstream_rejected`, `upstream_unavailable`, `upstream_timeout`);
    /// `in_progress` before the end.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// Data frames arrived, and none of them was a JSON object.
    fn only_garbage(&self) -> bool {
        self.valid_frames == 0 && self.skipped_frames > 0
    }

    fn fail_garbage(&mut self, out: &mut Vec<u8>) {
        let detail = format!(
            "{} data frame(s) that are not JSON, first: {}",
            self.skipped_frames,
            self.first_skipped.as_deref().unwrap_or("")
        );
        let failure = upstream_error::garbage(&self.upstream_url, &detail);
        self.fail(&failure, out);
    }

    fn on_frame(&mut self, frame: SseFrame<'_>, completed_at: u64, out: &mut Vec<u8>) {
        if self.round_over() {
            return;
        }
        match frame {
            SseFrame::Done if self.only_garbage() => self.fail_garbage(out),
            SseFrame::Done => {
                if self.finish.is_none() {
                    self.finish = Some(Finish::Missing);
                }
                self.terminal(completed_at, out);
            }
            SseFrame::TooLarge => {
                let failure = upstream_error::garbage(
                    &self.upstream_url,
                    "a stream event was larger than the bridge accepts",
                );
                self.fail(&failure, out);
            }
            SseFrame::Data(data) => match ChatAnswer::read(data) {
                Ok(chunk) => self.on_chunk(&chunk, data, out),
                Err(_) => {
                    self.skipped_frames += 1;
                    self.counters.skipped_frames += 1;
                    if self.first_skipped.is_none() {
                        let first = snippet(data);
                        log::warn!(
                            "{}: skipping upstream stream data that is not a JSON object: {first}",
                            self.upstream_url
                        );
                        self.first_skipped = Some(first);
                    }
                }
            },
        }
    }

    fn on_chunk(&mut self, chunk: &ChatAnswer<'_>, raw: &[u8], out: &mut Vec<u8>) {
        if let Some(error) = chunk.error() {
            let status = error_status(error).unwrap_or(502);
            let failure = upstream_error::classify_status(
                status,
                &ErrorHeaders::default(),
                raw,
                &self.upstream_url,
            );
            self.fail(&failure, out);
            return;
        }
        self.valid_frames += 1;
        if let Some(usage) = chunk.usage() {
            self.usage = Some(usage);
        }
        let Some(choice) = chunk.choice() else {
            return;
        };
        if let Some(delta) = choice.delta() {
            if let Some(reasoning) = delta.reasoning() {
                self.on_reasoning(&reasoning, out);
            }
            let content = match delta.content() {
                Some(text) if !text.is_empty() => Some(text),
                _ => delta.refusal(),
            };
            if let Some(text) = content {
                self.on_content(&text, out);
            }
            for call in delta.calls() {
                self.on_tool_call(call, out);
            }
        } else if let Some(text) = choice.legacy_text() {
            self.on_content(&text, out);
        }
        if let Some(reason) = choice.finish_reason() {
            self.finish = Some(Finish::from_chat(Some(&reason)));
            self.close_items(out);
        }
    }

    fn on_reasoning(&mut self, text: &str, out: &mut Vec<u8>) {
        if text.is_empty() {
            return;
        }
        if self.hold_calls {
            self.round_reasoning.push_str(text);
        }
        let reasoning = match &mut self.reasoning {
            Some(open) => open,
            None => self.reasoning.insert(self.writer.start_reasoning(out)),
        };
        self.writer.reasoning_delta(reasoning, text, out);
    }

    fn close_reasoning(&mut self, status: ItemStatus, out: &mut Vec<u8>) {
        if let Some(reasoning) = self.reasoning.take() {
            let sealed = self.key.as_ref().map(|key| key.seal(reasoning.text()));
            self.writer
                .finish_reasoning(reasoning, status, sealed.as_deref(), out);
        }
    }

    fn on_content(&mut self, text: &str, out: &mut Vec<u8>) {
        match self.think {
            Think::Outside => self.on_visible(text, out),
            Think::After => {
                let text = text.trim_start();
                if !text.is_empty() {
                    self.think = Think::Outside;
                    self.on_visible(text, out);
                }
            }
            Think::Inside => self.on_think_text(text, out),
            Think::Start => {
                self.think_buf.push_str(text);
                let trimmed = self.think_buf.trim_start();
                if let Some(after) = trimmed.strip_prefix(THINK_OPEN) {
                    let after = after.to_owned();
                    self.think_buf.clear();
                    self.think = Think::Inside;
                    self.on_think_text(&after, out);
                } else if !THINK_OPEN.starts_with(trimmed) {
                    let buffered = std::mem::take(&mut self.think_buf);
                    self.think = Think::Outside;
                    self.on_visible(&buffered, out);
                }
            }
        }
    }

    /// Text inside `<think>`: reasoning, minus leading blanks, a possible partial closing tag
    /// and trailing blanks (held until more text shows what they are).
    fn on_think_text(&mut self, text: &str, out: &mut Vec<u8>) {
        self.think_buf.push_str(text);
        if let Some(close) = self.think_buf.find(THINK_CLOSE) {
            let after = self.think_buf[close + THINK_CLOSE.len()..].to_owned();
            self.think_buf.truncate(close);
            let inner = std::mem::take(&mut self.think_buf);
            self.emit_think(inner.trim_end(), out);
            self.think = Think::After;
            self.on_content(&after, out);
            return;
        }
        let partial = (1..THINK_CLOSE.len())
            .rev()
            .find(|&k| self.think_buf.ends_with(&THINK_CLOSE[..k]))
            .unwrap_or(0);
        let keep_from = self.think_buf[..self.think_buf.len() - partial]
            .trim_end()
            .len();
        let ready: String = self.think_buf.drain(..keep_from).collect();
        self.emit_think(&ready, out);
    }

    fn emit_think(&mut self, text: &str, out: &mut Vec<u8>) {
        let text = if self.think_started {
            text
        } else {
            text.trim_start()
        };
        if !text.is_empty() {
            self.think_started = true;
            self.on_reasoning(text, out);
        }
    }

    /// Ends the `<think>` handling: a held prefix is text, a held span end is reasoning.
    fn flush_think(&mut self, out: &mut Vec<u8>) {
        let buffered = std::mem::take(&mut self.think_buf);
        match self.think {
            Think::Start => {
                self.think = Think::Outside;
                self.on_visible(&buffered, out);
            }
            Think::Inside => {
                self.emit_think(buffered.trim_end(), out);
                self.think = Think::After;
            }
            Think::After | Think::Outside => {}
        }
    }

    fn leak_check(&self) -> bool {
        !self.tools.is_empty() && !self.structured_calls
    }

    fn on_visible(&mut self, text: &str, out: &mut Vec<u8>) {
        if text.is_empty() {
            return;
        }
        if self.leak_check() {
            let mut release = String::new();
            self.hold.push(text, &self.tools, &mut release);
            self.emit_text(&release, out);
        } else {
            self.emit_text(text, out);
        }
    }

    /// One `output_text.delta` (opening the message first, once the text is not blank).
    fn emit_text(&mut self, text: &str, out: &mut Vec<u8>) {
        if text.is_empty() {
            return;
        }
        if self.hold_calls {
            self.round_text.push_str(text);
        }
        if let Some(message) = &mut self.message {
            self.writer.text_delta(message, text, out);
            return;
        }
        if text.trim().is_empty() {
            self.lead_blank.push_str(text);
            return;
        }
        self.close_reasoning(ItemStatus::Completed, out);
        let mut message = self.writer.start_message(out);
        if self.lead_blank.is_empty() {
            self.writer.text_delta(&mut message, text, out);
        } else {
            let mut joined = std::mem::take(&mut self.lead_blank);
            joined.push_str(text);
            self.writer.text_delta(&mut message, &joined, out);
        }
        self.message = Some(message);
    }

    fn on_tool_call(&mut self, call: CallFragment<'_>, out: &mut Vec<u8>) {
        if !self.structured_calls {
            // The first call: text and reasoning before it are whole.
            self.flush_think(out);
            let mut release = String::new();
            self.hold.flush(&mut release);
            self.structured_calls = true;
            self.emit_text(&release, out);
            self.lead_blank.clear();
            if let Some(message) = self.message.take() {
                self.writer
                    .finish_message(message, ItemStatus::Completed, out);
            }
            self.close_reasoning(ItemStatus::Completed, out);
        }
        let CallFragment {
            index,
            id,
            name,
            arguments,
        } = call;
        let id = id.as_deref();
        let found = match (index, id) {
            (Some(index), _) => self.calls.iter().rposition(|slot| {
                slot.index == Some(index)
                    && (id.is_none()
                        || slot.upstream_id.is_none()
                        || slot.upstream_id.as_deref() == id)
            }),
            (None, Some(id)) => self
                .calls
                .iter()
                .rposition(|slot| slot.upstream_id.as_deref() == Some(id)),
            (None, None) => self.calls.len().checked_sub(1),
        };
        let at = match found {
            Some(at) => at,
            None => {
                self.calls.push(CallSlot {
                    index,
                    upstream_id: None,
                    chat_name: String::new(),
                    open: None,
                    args: Args::Undecided,
                    pending: String::new(),
                    held: false,
                });
                self.calls.len() - 1
            }
        };
        if let Some(id) = id {
            if self.calls[at].upstream_id.is_none() {
                self.calls[at].upstream_id = Some(id.to_owned());
            }
        }
        if let Some(name) = name {
            if self.calls[at].open.is_none() {
                self.calls[at].chat_name = name.into_owned();
            }
        }
        if let Some(arguments) = arguments {
            self.calls[at].pending.push_str(&arguments);
        }
        if self.calls[at].open.is_none()
            && !self.calls[at].held
            && !self.calls[at].chat_name.is_empty()
        {
            if self.hold_calls {
                self.calls[at].held = true;
            } else {
                self.start_call(at, out);
            }
        }
        self.pass_arguments(at, out);
    }

    fn start_call(&mut self, at: usize, out: &mut Vec<u8>) {
        let call_id = self.fresh_call_id(self.calls[at].upstream_id.clone());
        let slot = &mut self.calls[at];
        let (kind, name, namespace) = match self.tools.resolve(&slot.chat_name) {
            Some(target) => (
                match target.kind {
                    ToolKind::Custom => CallKind::Custom,
                    // Web search calls are held (`hold_calls`) and never reach here.
                    ToolKind::Function | ToolKind::WebSearch => CallKind::Function,
                },
                target.name.as_str(),
                target.namespace.as_deref(),
            ),
            None => (CallKind::Function, slot.chat_name.as_str(), None),
        };
        if kind == CallKind::Custom {
            slot.args = Args::Buffer;
        }
        slot.open = Some(
            self.writer
                .start_tool_call(kind, &call_id, name, namespace, out),
        );
    }

    fn pass_arguments(&mut self, at: usize, out: &mut Vec<u8>) {
        let slot = &mut self.calls[at];
        let Some(open) = &mut slot.open else {
            return;
        };
        if slot.args == Args::Undecided {
            match slot.pending.trim_start().as_bytes().first() {
                None => return,
                Some(b'"') => slot.args = Args::Buffer,
                Some(_) => slot.args = Args::Stream,
            }
        }
        if slot.args == Args::Stream && !slot.pending.is_empty() {
            self.writer.tool_call_delta(open, &slot.pending, out);
            slot.pending.clear();
        }
    }

    /// The upstream's call id when it is set and unused, else a fresh `call_…`.
    fn fresh_call_id(&mut self, upstream: Option<String>) -> String {
        let used = &self.used_call_ids;
        let id = call_id(upstream.as_deref(), |id| used.iter().any(|u| u == id));
        self.used_call_ids.push(id.clone());
        id
    }

    fn finish_call(&mut self, slot: CallSlot, status: ItemStatus, out: &mut Vec<u8>) {
        if slot.held {
            let call_id = self.fresh_call_id(slot.upstream_id);
            self.held.push(ToolCallOut {
                call_id,
                chat_name: slot.chat_name,
                arguments: normalize_argument_string(slot.pending),
            });
            return;
        }
        let Some(mut open) = slot.open else {
            log::debug!("skipping an upstream tool call without a name");
            return;
        };
        match (open.kind(), slot.args) {
            (CallKind::Custom, _) => {
                let input = custom_input(&normalize_argument_string(slot.pending));
                self.writer.tool_call_delta(&mut open, &input, out);
            }
            (CallKind::Function, Args::Buffer) => {
                let arguments = normalize_argument_string(slot.pending);
                self.writer.tool_call_delta(&mut open, &arguments, out);
            }
            // Blank arguments: `finish_tool_call` sends `{}` alone.
            (CallKind::Function, Args::Undecided) if slot.pending.trim().is_empty() => {}
            (CallKind::Function, _) => {
                self.writer.tool_call_delta(&mut open, &slot.pending, out);
            }
        }
        self.writer.finish_tool_call(open, status, out);
    }

    /// The finish reason arrived: everything held is decided and every open item closed.
    fn close_items(&mut self, out: &mut Vec<u8>) {
        let status = finish_status(self.finish.as_ref().unwrap_or(&Finish::Missing));
        self.flush_think(out);
        let allow_calls = self.leak_check();
        let (visible, leaked) = self
            .hold
            .finish(&self.tools, allow_calls, self.message.is_some());
        let more_output = !visible.trim().is_empty()
            || !leaked.is_empty()
            || self.calls.iter().any(|slot| slot.open.is_some());
        let reasoning_status = if more_output {
            ItemStatus::Completed
        } else {
            status
        };
        self.close_reasoning(reasoning_status, out);
        self.emit_text(&visible, out);
        self.lead_blank.clear();
        if let Some(message) = self.message.take() {
            self.writer.finish_message(message, status, out);
        }
        if !leaked.is_empty() {
            log::debug!(
                "recovered {} tool call(s) leaked into the text",
                leaked.len()
            );
            if matches!(self.finish, Some(Finish::Stop | Finish::Missing) | None) {
                self.finish = Some(Finish::ToolCalls);
            }
        }
        for call in leaked {
            let arguments = normalize_argument_string(call.arguments);
            let call_id = self.fresh_call_id(None);
            if self.hold_calls {
                self.held.push(ToolCallOut {
                    call_id,
                    chat_name: call.chat_name,
                    arguments,
                });
                continue;
            }
            match self.tools.resolve(&call.chat_name) {
                Some(target) if target.kind == ToolKind::Custom => self.writer.custom_tool_call(
                    &call_id,
                    &target.name,
                    target.namespace.as_deref(),
                    &custom_input(&arguments),
                    status,
                    out,
                ),
                Some(target) => self.writer.function_call(
                    &call_id,
                    &target.name,
                    target.namespace.as_deref(),
                    &arguments,
                    status,
                    out,
                ),
                None => self.writer.function_call(
                    &call_id,
                    &call.chat_name,
                    None,
                    &arguments,
                    status,
                    out,
                ),
            }
        }
        for slot in std::mem::take(&mut self.calls) {
            self.finish_call(slot, status, out);
        }
    }

    /// A failure: open items end as they are (nothing held is released).
    fn close_open_items(&mut self, status: ItemStatus, out: &mut Vec<u8>) {
        self.close_reasoning(status, out);
        if let Some(message) = self.message.take() {
            self.writer.finish_message(message, status, out);
        }
        for slot in std::mem::take(&mut self.calls) {
            self.finish_call(slot, status, out);
        }
    }

    fn terminal(&mut self, completed_at: u64, out: &mut Vec<u8>) {
        self.close_items(out);
        self.end_model_call(completed_at, out);
    }

    /// A model call's answer is complete (its items closed): with searches to run, the
    /// response waits for them ([`Self::pending_searches`]); otherwise held calls are given to
    /// Codex and the terminal event is written.
    fn end_model_call(&mut self, completed_at: u64, out: &mut Vec<u8>) {
        let finish = self.finish.clone().unwrap_or(Finish::Missing);
        let held = std::mem::take(&mut self.held);
        let (searches, codex_calls): (Vec<ToolCallOut>, Vec<ToolCallOut>) = held
            .into_iter()
            .partition(|call| self.tools.is_web_search(&call.chat_name));
        let normal_end = finish_status(&finish) == ItemStatus::Completed && finish != Finish::Error;
        if !searches.is_empty() && self.searches_allowed && normal_end {
            self.search_round = Some(SearchRound {
                searches,
                codex_calls,
                running: Vec::new(),
            });
            return;
        }
        if !searches.is_empty() {
            log::debug!(
                "{} web search call(s) not run: no more searches for this answer",
                searches.len()
            );
        }
        write_calls(
            &mut self.writer,
            &codex_calls,
            &self.tools,
            finish_status(&finish),
            out,
        );
        let usage = Usage::sum(self.earlier_usage, self.usage);
        write_terminal(&mut self.writer, &finish, usage, completed_at, out);
        self.outcome = finish_outcome(&finish);
    }
}

/// An HTTP status carried in an error object (`status`, or a numeric `code`), if plausible.
fn error_status(error: &RawValue) -> Option<u16> {
    let value: Value = serde_json::from_str(error.get()).ok()?;
    let error = value.get("error").unwrap_or(&value);
    ["status", "code"].iter().find_map(|field| {
        let status = match error.get(*field)? {
            Value::Number(n) => n.as_u64()?,
            Value::String(s) => s.trim().parse().ok()?,
            _ => return None,
        };
        u16::try_from(status)
            .ok()
            .filter(|s| (400..600).contains(s))
    })
}

fn finish_outcome(finish: &Finish) -> Outcome {
    match finish {
        Finish::Length => Outcome::Incomplete,
        Finish::ContentFilter => Outcome::ContentFilter,
        Finish::Error => Outcome::UpstreamError,
        Finish::Stop | Finish::ToolCalls | Finish::Missing | Finish::Other(_) => Outcome::Ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::events::tests::{
        assert_response_object, assert_stream_invariants, parse_sse,
    };
    use serde_json::json;
    use std::collections::HashMap;

    const URL: &str = "http://127.0.0.1:8402/v1";
    const DONE_AT: u64 = 1_700_000_009;

    fn tools() -> ToolMap {
        let mut map = ToolMap::default();
        map.declare(ToolKind::Function, None, "exec_command");
        map.declare(ToolKind::Custom, None, "apply_patch");
        map.declare(ToolKind::Function, Some("mcp__demo"), "add_numbers");
        map
    }

    fn key() -> Arc<ReasoningKey> {
        Arc::new(ReasoningKey::from_secret(&[7; 32]))
    }

    fn translator() -> StreamTranslator {
        StreamTranslator::new(
            ResponseMeta {
                id: "resp_test".to_owned(),
                created_at: 1_700_000_000,
                model: "auto".to_owned(),
            },
            &ResponseEcho::default(),
            tools(),
            Some(key()),
            URL.to_owned(),
        )
    }

    /// Feeds `pieces`, then EOF; returns the bytes written.
    fn run(pieces: &[&[u8]]) -> Vec<u8> {
        let mut t = translator();
        let mut out = Vec::new();
        t.start(&mut out);
        for piece in pieces {
            t.feed(piece, DONE_AT, &mut out);
        }
        t.upstream_ended(DONE_AT, &mut out);
        assert!(t.is_finished());
        out
    }

    /// Parses the SSE output and checks every invariant.
    fn checked(bytes: &[u8]) -> Vec<(String, Value)> {
        let events = parse_sse(bytes);
        assert_stream_invariants(&events);
        for (_, data) in &events {
            if let Some(response) = data.get("response") {
                assert_response_object(response);
            }
        }
        let terminals = events
            .iter()
            .filter(|(n, _)| {
                matches!(
                    n.as_str(),
                    "response.completed" | "response.incomplete" | "response.failed"
                )
            })
            .count();
        assert_eq!(terminals, 1, "exactly one terminal event");
        events
    }

    /// The text of the `output_text.delta` events written so far.
    fn sent_text(out: &[u8]) -> String {
        parse_sse(out)
            .iter()
            .filter(|(n, _)| n == "response.output_text.delta")
            .map(|(_, d)| d["delta"].as_str().expect("delta").to_owned())
            .collect()
    }

    fn names(events: &[(String, Value)]) -> Vec<&str> {
        events.iter().map(|(n, _)| n.as_str()).collect()
    }

    fn done_items(events: &[(String, Value)]) -> Vec<Value> {
        events
            .iter()
            .filter(|(n, _)| n == "response.output_item.done")
            .map(|(_, d)| d["item"].clone())
            .collect()
    }

    fn terminal(events: &[(String, Value)]) -> &(String, Value) {
        events.last().expect("terminal")
    }

    /// Replaces generated ids (item ids, fresh call ids) by their order of appearance.
    fn normalize(value: &mut Value, ids: &mut HashMap<String, String>) {
        match value {
            Value::Object(obj) => {
                for (k, v) in obj.iter_mut() {
                    if matches!(k.as_str(), "id" | "item_id" | "call_id") {
                        if let Value::String(s) = v {
                            if !s.starts_with("resp_") {
                                let n = ids.len();
                                *s = ids.entry(s.clone()).or_insert(format!("id{n}")).clone();
                            }
                        }
                    } else {
                        normalize(v, ids);
                    }
                }
            }
            Value::Array(list) => list.iter_mut().for_each(|v| normalize(v, ids)),
            _ => {}
        }
    }

    fn normalized(events: &[(String, Value)]) -> Vec<Value> {
        let mut ids = HashMap::new();
        events
            .iter()
            .map(|(_, data)| {
                let mut data = data.clone();
                normalize(&mut data, &mut ids);
                data
            })
            .collect()
    }

    fn frame(value: &Value) -> String {
        format!("data: {value}\n\n")
    }

    fn chunk(delta: Value, finish: Value) -> Value {
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
               "model": "deepseek/deepseek-v4-pro", "system_fingerprint": null,
               "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
    }

    fn usage_chunk() -> Value {
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
               "model": "deepseek/deepseek-v4-pro", "choices": [],
               "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19,
                         "cost": {"total": 0.001, "input": 3e-5, "output": 1.05e-4,
                                  "baseline": 2.35e-4, "savings_pct": 0, "model": "x"}}})
    }

    /// A stream shaped like ClawRouter's (docs/ARCHITECTURE.md, Living with ClawRouter).
    fn clawrouter_stream(content: &str, tool_calls: Value, finish: &str) -> Vec<u8> {
        let mut s =
            String::from(": heartbeat\n\n: heartbeat\n\n: x-clawrouter-debug profile=auto\n\n");
        s += &frame(&chunk(json!({"role": "assistant"}), Value::Null));
        if !content.is_empty() {
            s += &frame(&chunk(json!({"content": content}), Value::Null));
        }
        if tool_calls.as_array().is_some_and(|c| !c.is_empty()) {
            s += &frame(&chunk(json!({"tool_calls": tool_calls}), Value::Null));
        }
        s += &frame(&chunk(json!({}), json!(finish)));
        s += &frame(&usage_chunk());
        s += ": cost=$0.0036 savings=97% model=x tier=SIMPLE\n\n";
        s += "data: [DONE]\n\n";
        s.into_bytes()
    }

    /// An OpenAI-shaped incremental stream: one chunk per delta, then finish, usage, [DONE].
    fn openai_stream(deltas: &[Value], finish: &str) -> Vec<u8> {
        let mut s = frame(&chunk(
            json!({"role": "assistant", "content": ""}),
            Value::Null,
        ));
        for delta in deltas {
            s += &frame(&chunk(delta.clone(), Value::Null));
        }
        s += &frame(&chunk(json!({}), json!(finish)));
        s += &frame(&usage_chunk());
        s += "data: [DONE]\n\n";
        s.into_bytes()
    }

    fn completion_body(message: Value, finish: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1,
            "model": "deepseek/deepseek-v4-pro",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}
        }))
        .expect("json")
    }

    fn run_completion(body: &[u8]) -> Vec<u8> {
        let mut t = translator();
        let mut out = Vec::new();
        t.start(&mut out);
        t.feed_completion(body, DONE_AT, &mut out);
        assert!(t.is_finished());
        out
    }

    #[test]
    fn clawrouter_stream_with_text_and_whole_tool_calls() {
        let calls = json!([
            {"id": "call_a", "type": "function",
             "function": {"name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"}},
            {"id": "call_b", "type": "function",
             "function": {"name": "apply_patch",
                          "arguments": "{\"input\":\"*** Begin Patch\\n*** End Patch\\n\"}"}},
            {"id": "call_c", "type": "function",
             "function": {"name": "mcp__demo__add_numbers", "arguments": "{\"a\":2}"}}
        ]);
        let stream = clawrouter_stream("I'll look.", calls, "tool_calls");
        let events = checked(&run(&[&stream]));
        let text_deltas: Vec<&Value> = events
            .iter()
            .filter(|(n, _)| n == "response.output_text.delta")
            .map(|(_, d)| &d["delta"])
            .collect();
        assert_eq!(
            text_deltas,
            [&json!("I'll look.")],
            "one delta, in one piece"
        );
        let items = done_items(&events);
        assert_eq!(items.len(), 4);
        assert_eq!(items[0]["content"][0]["text"], "I'll look.");
        assert_eq!(items[1]["type"], "function_call");
        assert_eq!(items[1]["call_id"], "call_a");
        assert_eq!(items[1]["arguments"], "{\"cmd\":\"ls\"}");
        assert_eq!(items[2]["type"], "custom_tool_call");
        assert_eq!(items[2]["input"], "*** Begin Patch\n*** End Patch\n");
        assert_eq!(items[3]["namespace"], "mcp__demo");
        assert_eq!(items[3]["name"], "add_numbers");
        let input_deltas: Vec<&Value> = events
            .iter()
            .filter(|(n, _)| n == "response.custom_tool_call_input.delta")
            .map(|(_, d)| &d["delta"])
            .collect();
        assert_eq!(input_deltas, [&json!("*** Begin Patch\n*** End Patch\n")]);
        let (name, data) = terminal(&events);
        assert_eq!(name, "response.completed");
        assert_eq!(data["response"]["usage"]["total_tokens"], 19);
        assert_eq!(data["response"]["completed_at"], DONE_AT);
        // The message is closed before the first call starts.
        let n = names(&events);
        let message_done = n
            .iter()
            .position(|e| *e == "response.output_item.done")
            .expect("done");
        let call_added = n
            .iter()
            .enumerate()
            .filter(|(_, e)| **e == "response.output_item.added")
            .nth(1)
            .expect("call added")
            .0;
        assert!(message_done < call_added);
    }

    #[test]
    fn openai_stream_with_interleaved_tool_call_indexes() {
        let deltas = [
            json!({"content": "Running "}),
            json!({"content": "two things."}),
            json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                   "function": {"name": "exec_command", "arguments": ""}}]}),
            json!({"tool_calls": [{"index": 1, "id": "call_2", "type": "function",
                                   "function": {"name": "mcp__demo__add_numbers", "arguments": "{\"a\""}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"cmd\":"}}]}),
            json!({"tool_calls": [{"index": 1, "function": {"arguments": ":2}"}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"ls\"}"}}]}),
        ];
        let events = checked(&run(&[&openai_stream(&deltas, "tool_calls")]));
        let items = done_items(&events);
        assert_eq!(items.len(), 3);
        assert_eq!(items[0]["content"][0]["text"], "Running two things.");
        assert_eq!(items[1]["call_id"], "call_1");
        assert_eq!(items[1]["arguments"], "{\"cmd\":\"ls\"}");
        assert_eq!(items[2]["call_id"], "call_2");
        assert_eq!(items[2]["namespace"], "mcp__demo");
        assert_eq!(items[2]["arguments"], "{\"a\":2}");
        let arg_deltas: Vec<(u64, String)> = events
            .iter()
            .filter(|(n, _)| n == "response.function_call_arguments.delta")
            .map(|(_, d)| {
                (
                    d["output_index"].as_u64().expect("index"),
                    d["delta"].as_str().expect("delta").to_owned(),
                )
            })
            .collect();
        assert_eq!(
            arg_deltas,
            [
                (2, "{\"a\"".to_owned()),
                (1, "{\"cmd\":".to_owned()),
                (2, ":2}".to_owned()),
                (1, "\"ls\"}".to_owned())
            ],
            "arguments stream as they arrive"
        );
        let text_deltas = names(&events)
            .iter()
            .filter(|n| **n == "response.output_text.delta")
            .count();
        assert_eq!(text_deltas, 2, "one event per upstream delta");
        assert_eq!(terminal(&events).0, "response.completed");
    }

    #[test]
    fn error_frame_under_200_fails_with_the_classified_error() {
        let payment = json!({"error": {"message": "Insufficient USDC balance. Current: $0.000251, Required: ~$0.011463",
            "type": "insufficient_funds", "wallet": "0xabc",
            "help": "Fund wallet 0x2c75...5c23 with USDC on Base, or use free model: /model free"}});
        let stream = format!(": heartbeat\n\n{}data: [DONE]\n\n", frame(&payment));
        let mut t = translator();
        let mut out = Vec::new();
        t.start(&mut out);
        t.feed(stream.as_bytes(), DONE_AT, &mut out);
        assert!(t.is_finished());
        assert_eq!(t.outcome(), Outcome::Payment);
        t.upstream_ended(DONE_AT, &mut out);
        let events = checked(&out);
        let (name, data) = terminal(&events);
        assert_eq!(name, "response.failed");
        assert_eq!(data["response"]["error"]["code"], "invalid_prompt");
        let message = data["response"]["error"]["message"]
            .as_str()
            .expect("message");
        assert!(message.contains("Insufficient USDC balance"), "{message}");
        assert!(message.contains("Fund wallet 0x2c75"), "{message}");

        let wrapped =
            json!({"error": {"message": "fetch failed", "type": "provider_error", "status": 500}});
        let events = checked(&run(&[frame(&wrapped).as_bytes(), b"data: [DONE]\n\n"]));
        let response = &terminal(&events).1["response"];
        assert_eq!(response["error"]["code"], "server_error");
        assert!(response["error"]["message"]
            .as_str()
            .expect("message")
            .contains("fetch failed"));
    }

    #[test]
    fn early_eof_fails_after_the_sent_deltas() {
        let stream = [
            frame(&chunk(json!({"role": "assistant"}), Value::Null)),
            frame(&chunk(json!({"reasoning_content": "Thinking"}), Value::Null)),
            frame(&chunk(json!({"content": "Partial ans"}), Value::Null)),
            frame(&chunk(
                json!({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "exec_command", "arguments": "{\"cmd\""}}]}),
                Value::Null,
            )),
        ]
        .concat();
        let mut t = translator();
        let mut out = Vec::new();
        t.start(&mut out);
        t.feed(stream.as_bytes(), DONE_AT, &mut out);
        t.feed(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"cut",
            DONE_AT,
            &mut out,
        );
        t.upstream_ended(DONE_AT, &mut out);
        assert_eq!(t.outcome(), Outcome::UpstreamClosed);
        let events = checked(&out);
        let items = done_items(&events);
        assert_eq!(items.len(), 3, "every started item is closed");
        assert_eq!(
            items[0]["status"], "completed",
            "reasoning ended when text began"
        );
        assert_eq!(
            items[1]["status"], "completed",
            "text ended when the call began"
        );
        assert_eq!(items[2]["status"], "incomplete");
        assert_eq!(items[2]["arguments"], "{\"cmd\"");
        assert_eq!(items[1]["content"][0]["text"], "Partial ans");
        let (name, data) = terminal(&events);
        assert_eq!(name, "response.failed");
        assert_eq!(data["response"]["error"]["code"], "server_error");
        assert_eq!(data["response"]["error"]["message"], EARLY_EOF_MESSAGE);
        // Nothing at all: the same failure.
        let events = checked(&run(&[b": heartbeat\n\n"]));
        assert_eq!(
            terminal(&events).1["response"]["error"]["code"],
            "server_error"
        );
    }

    #[test]
    fn length_is_incomplete_and_content_filter_fails() {
        let events = checked(&run(&[&clawrouter_stream("cut sho", json!([]), "length")]));
        let (name, data) = terminal(&events);
        assert_eq!(name, "response.incomplete");
        assert_eq!(
            data["response"]["incomplete_details"]["reason"],
            "max_output_tokens"
        );
        assert_eq!(data["response"]["usage"]["total_tokens"], 19);
        assert_eq!(done_items(&events)[0]["status"], "incomplete");

        let mut t = translator();
        let mut out = Vec::new();
        t.feed(
            &clawrouter_stream("no", json!([]), "content_filter"),
            DONE_AT,
            &mut out,
        );
        assert_eq!(t.outcome(), Outcome::ContentFilter);
        let events = checked(&out);
        let (name, data) = terminal(&events);
        assert_eq!(name, "response.failed");
        assert_eq!(data["response"]["error"]["code"], "invalid_prompt");
        assert_eq!(
            data["response"]["error"]["message"],
            super::super::response::CONTENT_FILTER_MESSAGE
        );
    }

    #[test]
    fn reasoning_deltas_become_a_sealed_reasoning_item_before_the_message() {
        let deltas = [
            json!({"reasoning_content": "The user wants "}),
            json!({"reasoning_content": "a listing."}),
            json!({"content": "Listing now."}),
        ];
        let events = checked(&run(&[&openai_stream(&deltas, "stop")]));
        let n = names(&events);
        assert_eq!(
            &n[2..10],
            [
                "response.output_item.added",
                "response.reasoning_summary_part.added",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done",
                "response.output_item.done",
                "response.output_item.added",
            ]
        );
        let delta = &events[4].1;
        assert_eq!(delta["summary_index"], 0);
        assert_eq!(delta["output_index"], 0);
        assert_eq!(delta["delta"], "The user wants ");
        assert_eq!(events[6].1["text"], "The user wants a listing.");
        let items = done_items(&events);
        let reasoning = &items[0];
        assert_eq!(reasoning["type"], "reasoning");
        assert_eq!(
            reasoning["summary"],
            json!([{"type": "summary_text", "text": "The user wants a listing."}])
        );
        assert_eq!(
            reasoning["content"],
            json!([]),
            "the text is not sent twice"
        );
        let blob = reasoning["encrypted_content"].as_str().expect("sealed");
        assert_eq!(
            key().open(blob).as_deref(),
            Some("The user wants a listing.")
        );
        assert_eq!(items[1]["content"][0]["text"], "Listing now.");

        // Without a key the field is omitted; OpenRouter's shapes are read too.
        let mut t = StreamTranslator::new(
            ResponseMeta::new("m", 1),
            &ResponseEcho::default(),
            ToolMap::default(),
            None,
            URL.to_owned(),
        );
        let mut out = Vec::new();
        let stream = openai_stream(
            &[
                json!({"reasoning": "a", "reasoning_details": [{"type": "reasoning.text", "text": "a"}]}),
                json!({"reasoning_details": [{"type": "reasoning.text", "text": "b"},
                                             {"type": "reasoning.encrypted", "data": "zz"}]}),
                json!({"content": "ok"}),
            ],
            "stop",
        );
        t.feed(&stream, DONE_AT, &mut out);
        let items = done_items(&checked(&out));
        assert_eq!(items[0]["summary"][0]["text"], "ab");
        assert!(items[0].get("encrypted_content").is_none());
    }

    #[test]
    fn think_span_split_across_deltas() {
        let pieces = [
            "\n<thi",
            "nk>\nplan",
            " more  </th",
            "ink>\n",
            "\nAnswer",
            " here",
        ];
        let deltas: Vec<Value> = pieces.iter().map(|p| json!({"content": p})).collect();
        let events = checked(&run(&[&openai_stream(&deltas, "stop")]));
        let items = done_items(&events);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["summary"][0]["text"], "plan more");
        assert_eq!(
            key()
                .open(items[0]["encrypted_content"].as_str().expect("blob"))
                .as_deref(),
            Some("plan more")
        );
        assert_eq!(items[1]["content"][0]["text"], "Answer here");
        let visible: String = events
            .iter()
            .filter(|(n, _)| n == "response.output_text.delta")
            .map(|(_, d)| d["delta"].as_str().expect("delta").to_owned())
            .collect();
        assert_eq!(visible, "Answer here", "no tag reaches the text");

        // Not a think span: the held prefix is released as text.
        let events = checked(&run(&[&openai_stream(
            &[json!({"content": "<th"}), json!({"content": "ree>"})],
            "stop",
        )]));
        assert_eq!(done_items(&events)[0]["content"][0]["text"], "<three>");
    }

    #[test]
    fn leaked_tool_call_is_held_and_becomes_a_call() {
        let mut t = translator();
        let mut out = Vec::new();
        t.start(&mut out);
        let first = frame(&chunk(json!({"content": "Let me check."}), Value::Null));
        t.feed(first.as_bytes(), DONE_AT, &mut out);
        let sent = String::from_utf8(out.clone()).expect("utf-8");
        assert!(
            sent.contains("\"delta\":\"Let me check.\""),
            "ordinary text is sent at once"
        );
        let rest = [
            frame(&chunk(
                json!({"content": "\n<tool_call>{\"name\":\"exec_command\","}),
                Value::Null,
            )),
            frame(&chunk(
                json!({"content": "\"arguments\":{\"cmd\":\"ls\"}}</tool_call>"}),
                Value::Null,
            )),
        ]
        .concat();
        let before = out.len();
        t.feed(rest.as_bytes(), DONE_AT, &mut out);
        assert!(
            !String::from_utf8_lossy(&out[before..]).contains("tool_call"),
            "the suspect span is held back"
        );
        let tail = [
            frame(&chunk(json!({}), json!("stop"))),
            "data: [DONE]\n\n".to_owned(),
        ]
        .concat();
        t.feed(tail.as_bytes(), DONE_AT, &mut out);
        let events = checked(&out);
        let items = done_items(&events);
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["content"][0]["text"], "Let me check.");
        assert_eq!(items[1]["type"], "function_call");
        assert_eq!(items[1]["name"], "exec_command");
        assert_eq!(items[1]["arguments"], "{\"cmd\":\"ls\"}");
        assert!(items[1]["call_id"]
            .as_str()
            .expect("id")
            .starts_with("call_"));
        assert_eq!(terminal(&events).0, "response.completed");
    }

    #[test]
    fn text_that_is_not_a_call_is_released() {
        let mut t = translator();
        let mut out = Vec::new();
        let piece = |text: &str| frame(&chunk(json!({"content": text}), Value::Null));
        t.feed(piece("fn f() {").as_bytes(), DONE_AT, &mut out);
        assert_eq!(
            sent_text(&out),
            "fn f()",
            "only the undecided brace is held"
        );
        t.feed(piece(" x }").as_bytes(), DONE_AT, &mut out);
        assert_eq!(
            sent_text(&out),
            "fn f() { x }",
            "a brace before code is released"
        );
        t.feed(piece(" Config: {\"port\": ").as_bytes(), DONE_AT, &mut out);
        assert_eq!(
            sent_text(&out),
            "fn f() { x } Config: {\"port\": ",
            "a key no call has releases the object at once"
        );
        t.feed(
            piece("80, \"name\": \"exec_command\"}").as_bytes(),
            DONE_AT,
            &mut out,
        );
        t.feed(
            piece(" and {\"name\": \"nope\", \"arguments\": {}}").as_bytes(),
            DONE_AT,
            &mut out,
        );
        t.feed(b"data: [DONE]\n\n", DONE_AT, &mut out);
        let items = done_items(&checked(&out));
        assert_eq!(items.len(), 1);
        assert_eq!(
            items[0]["content"][0]["text"],
            "fn f() { x } Config: {\"port\": 80, \"name\": \"exec_command\"} and {\"name\": \"nope\", \"arguments\": {}}"
        );
    }

    #[test]
    fn structured_calls_release_held_text() {
        let deltas = [
            json!({"content": "Plan: {\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"rm\"}}"}),
            json!({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"}}]}),
        ];
        let items = done_items(&checked(&run(&[&openai_stream(&deltas, "tool_calls")])));
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0]["content"][0]["text"],
            "Plan: {\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"rm\"}}"
        );
        assert_eq!(items[1]["arguments"], "{\"cmd\":\"ls\"}");
    }

    /// Content pieces → a stream; the same content whole → a completion body.
    fn same_items_both_ways(message: Value, pieces: &[Value], finish: &str) {
        let json_events = checked(&run_completion(&completion_body(message.clone(), finish)));
        let stream_events = checked(&run(&[&openai_stream(pieces, finish)]));
        let mut ids = HashMap::new();
        let mut from_json = terminal(&json_events).1["response"].clone();
        normalize(&mut from_json, &mut ids);
        let mut ids = HashMap::new();
        let mut from_stream = terminal(&stream_events).1["response"].clone();
        normalize(&mut from_stream, &mut ids);
        assert_eq!(from_json, from_stream, "{message}");
        assert_eq!(terminal(&json_events).0, terminal(&stream_events).0);
        // The same item events, apart from how the deltas were cut.
        let kinds = |events: &[(String, Value)]| -> Vec<String> {
            let mut kinds: Vec<String> = events
                .iter()
                .map(|(n, _)| n.clone())
                .filter(|n| !n.ends_with(".delta"))
                .collect();
            kinds.sort();
            kinds
        };
        assert_eq!(kinds(&json_events), kinds(&stream_events), "{message}");
    }

    #[test]
    fn json_and_stream_paths_give_the_same_items() {
        same_items_both_ways(
            json!({"content": "Hello there", "reasoning_content": "Greet back."}),
            &[
                json!({"reasoning_content": "Greet "}),
                json!({"reasoning_content": "back."}),
                json!({"content": "Hello "}),
                json!({"content": "there"}),
            ],
            "stop",
        );
        same_items_both_ways(
            json!({"content": "<think>\n hmm \n</think>\n\nDone."}),
            &[
                json!({"content": "<think>\n h"}),
                json!({"content": "mm \n</think>"}),
                json!({"content": "\n\nDone."}),
            ],
            "stop",
        );
        same_items_both_ways(
            json!({"content": "Patching.", "reasoning_content": "r",
                   "tool_calls": [
                       {"id": "c1", "type": "function", "function": {"name": "apply_patch",
                        "arguments": "{\"input\":\"*** Begin Patch\\n*** End Patch\\n\"}"}},
                       {"id": "c2", "type": "function", "function": {"name": "exec_command",
                        "arguments": "{\"cmd\":\"ls\"}"}}]}),
            &[
                json!({"reasoning_content": "r"}),
                json!({"content": "Patching."}),
                json!({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "apply_patch", "arguments": "{\"input\":"}}]}),
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"*** Begin Patch\\n*** End Patch\\n\"}"}}]}),
                json!({"tool_calls": [{"index": 1, "id": "c2", "function": {"name": "exec_command", "arguments": "{\"cmd\":\"ls\"}"}}]}),
            ],
            "tool_calls",
        );
        same_items_both_ways(
            json!({"content": "Let me check.\n<tool_call>{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}}</tool_call>"}),
            &[
                json!({"content": "Let me check.\n<tool_"}),
                json!({"content": "call>{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}}</tool_call>"}),
            ],
            "stop",
        );
        same_items_both_ways(
            json!({"content": "Running {\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}} now"}),
            &[
                json!({"content": "Running {\"na"}),
                json!({"content": "me\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}} now"}),
            ],
            "stop",
        );
        same_items_both_ways(
            json!({"content": "x", "reasoning_content": "long thought"}),
            &[
                json!({"reasoning_content": "long thought"}),
                json!({"content": "x"}),
            ],
            "length",
        );
        same_items_both_ways(
            json!({"content": "  \n", "reasoning_content": "only thinking"}),
            &[
                json!({"reasoning_content": "only thinking"}),
                json!({"content": "  \n"}),
            ],
            "length",
        );
    }

    #[test]
    fn leaked_call_split_at_every_content_offset() {
        let text = "I'll run it.\n```json\n{\"name\": \"exec_command\", \"arguments\": {\"cmd\": \"ls -la\"}}\n```";
        let whole = done_items(&checked(&run_completion(&completion_body(
            json!({"content": text}),
            "stop",
        ))));
        let mut ids = HashMap::new();
        let mut want = Value::Array(whole);
        normalize(&mut want, &mut ids);
        for cut in 1..text.len() {
            if !text.is_char_boundary(cut) {
                continue;
            }
            let (a, b) = text.split_at(cut);
            let stream = openai_stream(&[json!({"content": a}), json!({"content": b})], "stop");
            let mut got = Value::Array(done_items(&checked(&run(&[&stream]))));
            let mut ids = HashMap::new();
            normalize(&mut got, &mut ids);
            assert_eq!(got, want, "cut at {cut}");
        }
    }

    /// A stream with everything: reasoning, multi-byte text, interleaved calls, CRLF framing.
    fn rich_stream() -> Vec<u8> {
        let deltas = [
            json!({"reasoning_content": "Ünïcödé thought 🦀"}),
            json!({"content": "Héllo "}),
            json!({"content": "wörld {\"k\": 1}"}),
            json!({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "exec_command", "arguments": "{\"cmd\""}}]}),
            json!({"tool_calls": [{"index": 1, "id": "c2", "function": {"name": "apply_patch", "arguments": "{\"input\":\"é\"}"}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": ":\"ls\"}"}}]}),
        ];
        let lf = String::from_utf8(openai_stream(&deltas, "tool_calls")).expect("utf-8");
        format!(": heartbeat\r\n\r\n{}", lf.replace("\n\n", "\r\n\r\n")).into_bytes()
    }

    #[test]
    fn translator_split_at_every_byte_offset_gives_the_same_events() {
        let stream = rich_stream();
        let want = normalized(&checked(&run(&[&stream])));
        assert_eq!(done_items(&checked(&run(&[&stream]))).len(), 4);
        for cut in 0..=stream.len() {
            let (a, b) = stream.split_at(cut);
            assert_eq!(normalized(&checked(&run(&[a, b]))), want, "cut at {cut}");
        }
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..100 {
            let mut pieces: Vec<&[u8]> = Vec::new();
            let mut rest = &stream[..];
            while !rest.is_empty() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let take = (state as usize % 13).min(rest.len());
                let (a, b) = rest.split_at(take);
                pieces.push(a);
                rest = b;
            }
            assert_eq!(normalized(&checked(&run(&pieces))), want);
        }
    }

    #[test]
    fn json_bodies_fed_whole_or_as_a_stream_body() {
        let body = completion_body(
            json!({"content": "Hi", "reasoning_content": "think",
                   "tool_calls": [{"id": "c1", "function": {"name": "exec_command", "arguments": "{}"}}]}),
            "tool_calls",
        );
        let whole = normalized(&checked(&run_completion(&body)));
        let mut padded = b"\n ".to_vec();
        padded.extend_from_slice(&body);
        let (a, b) = padded.split_at(10);
        assert_eq!(
            normalized(&checked(&run(&[a, b]))),
            whole,
            "JSON to a streaming request"
        );
        let items = done_items(&checked(&run_completion(&body)));
        assert_eq!(items[0]["type"], "reasoning");
        assert_eq!(
            key()
                .open(items[0]["encrypted_content"].as_str().expect("blob"))
                .as_deref(),
            Some("think")
        );

        for (body, code) in [
            (&b"fetch failed"[..], "server_error"),
            (&b"<html>502</html>"[..], "server_error"),
            (
                &br#"{"error":{"message":"maximum context length is 8192 tokens","status":400}}"#[..],
                "context_length_exceeded",
            ),
        ] {
            let events = checked(&run_completion(body));
            let response = &terminal(&events).1["response"];
            assert_eq!(
                response["error"]["code"],
                code,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn garbage_frames_are_skipped_or_fail_the_stream() {
        let mut stream =
            b"data: not json\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"ok\"}}]}\n\n"
                .to_vec();
        stream.extend_from_slice(
            b"data: <html>\n\ndata: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        );
        let events = checked(&run(&[&stream]));
        assert_eq!(terminal(&events).0, "response.completed");
        assert_eq!(done_items(&events)[0]["content"][0]["text"], "ok");

        let mut t = translator();
        let mut out = Vec::new();
        t.feed(
            b"data: <html>oops</html>\n\ndata: Bad Gateway\n\ndata: [DONE]\n\n",
            DONE_AT,
            &mut out,
        );
        assert!(
            t.is_finished(),
            "[DONE] after nothing but garbage fails at once"
        );
        t.upstream_ended(DONE_AT, &mut out);
        assert_eq!(t.outcome(), Outcome::UpstreamUnavailable);
        let events = checked(&out);
        let response = &terminal(&events).1["response"];
        assert_eq!(response["error"]["code"], "server_error");
        assert!(response["error"]["message"]
            .as_str()
            .expect("message")
            .contains("<html>oops</html>"));
    }

    #[test]
    fn nothing_is_written_after_the_end() {
        let mut t = translator();
        let mut out = Vec::new();
        t.start(&mut out);
        t.keepalive(&mut out);
        t.feed(
            &clawrouter_stream("hi", json!([]), "stop"),
            DONE_AT,
            &mut out,
        );
        assert!(t.is_finished());
        assert_eq!(t.outcome(), Outcome::Ok);
        let len = out.len();
        t.keepalive(&mut out);
        t.feed(
            b"data: {\"choices\":[{\"delta\":{\"content\":\"late\"}}]}\n\n",
            DONE_AT,
            &mut out,
        );
        t.feed_completion(b"{}", DONE_AT, &mut out);
        t.fail(&upstream_error::unreachable(URL, "reset"), &mut out);
        t.upstream_ended(DONE_AT, &mut out);
        assert_eq!(out.len(), len);
        let events = checked(&out);
        assert_eq!(
            names(&events)[2],
            "response.in_progress",
            "keep-alive event"
        );
    }

    #[test]
    fn fail_closes_open_items_first() {
        let mut t = translator();
        let mut out = Vec::new();
        t.start(&mut out);
        t.feed(
            frame(&chunk(json!({"content": "Half"}), Value::Null)).as_bytes(),
            DONE_AT,
            &mut out,
        );
        t.fail(&upstream_error::timed_out(URL, 60), &mut out);
        assert_eq!(t.outcome(), Outcome::UpstreamTimeout);
        let events = checked(&out);
        assert_eq!(done_items(&events)[0]["status"], "incomplete");
        assert_eq!(
            terminal(&events).1["response"]["error"]["code"],
            "server_error"
        );
        // Before anything was sent.
        let mut t = translator();
        let mut out = Vec::new();
        t.start(&mut out);
        let failure = upstream_error::classify_status(429, &ErrorHeaders::default(), b"{}", URL);
        t.fail(&failure, &mut out);
        assert_eq!(t.outcome(), Outcome::RateLimited);
        let events = checked(&out);
        assert_eq!(
            terminal(&events).1["response"]["error"]["code"],
            "rate_limit_exceeded"
        );
    }

    #[test]
    fn call_fragments_without_index_and_odd_arguments() {
        let deltas = [
            // Double-encoded arguments are unwrapped, as in the JSON path.
            json!({"tool_calls": [{"id": "x1", "function": {"name": "exec_command",
                   "arguments": "\"{\\\"cmd\\\":\\\"ls\\\"}\""}}]}),
            // Same id again: continues that call (nothing to add here).
            json!({"tool_calls": [{"id": "x1", "function": {"arguments": ""}}]}),
            // A repeated id on a new call gets a fresh call_id; object arguments are serialized.
            json!({"tool_calls": [{"id": "x2", "function": {"name": "exec_command", "arguments": {"cmd": "pwd"}}}]}),
            json!({"tool_calls": [{"id": "x2b", "function": {"name": "unknown_tool", "arguments": ""}}]}),
            json!({"tool_calls": [{"function": {"arguments": "  "}}]}),
        ];
        let items = done_items(&checked(&run(&[&openai_stream(&deltas, "tool_calls")])));
        assert_eq!(items.len(), 3);
        assert_eq!(items[0]["arguments"], "{\"cmd\":\"ls\"}");
        assert_eq!(items[1]["arguments"], "{\"cmd\":\"pwd\"}");
        assert_eq!(items[2]["name"], "unknown_tool");
        assert_eq!(items[2]["arguments"], "{}");

        // Legacy `function_call` deltas.
        let deltas = [
            json!({"function_call": {"name": "exec_command", "arguments": "{\"cmd\":"}}),
            json!({"function_call": {"arguments": "\"ls\"}"}}),
        ];
        let items = done_items(&checked(&run(&[&openai_stream(&deltas, "function_call")])));
        assert_eq!(items[0]["arguments"], "{\"cmd\":\"ls\"}");
    }

    /// Found by fuzzing: a call without arguments said `{}` in its `done` events while no
    /// delta had sent it; a client adding up the deltas got no arguments at all.
    #[test]
    fn calls_without_arguments_stream_an_empty_object() {
        let deltas = [
            json!({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "exec_command"}}]}),
            json!({"tool_calls": [{"index": 1, "id": "c2", "function": {"name": "exec_command", "arguments": "  "}}]}),
        ];
        let events = checked(&run(&[&openai_stream(&deltas, "tool_calls")]));
        let items = done_items(&events);
        assert_eq!(items.len(), 2);
        for item in items {
            let streamed: String = events
                .iter()
                .filter(|(n, d)| {
                    n == "response.function_call_arguments.delta" && d["item_id"] == item["id"]
                })
                .map(|(_, d)| d["delta"].as_str().expect("delta").to_owned())
                .collect();
            assert_eq!(streamed, "{}");
            assert_eq!(item["arguments"], "{}");
        }
    }

    #[test]
    fn fragments_after_the_finish_reason_are_still_closed() {
        let stream = [
            frame(&chunk(json!({"content": "a"}), json!("stop"))),
            frame(&chunk(
                json!({"tool_calls": [{"id": "late", "function": {"name": "exec_command", "arguments": "{}"}}]}),
                Value::Null,
            )),
            "data: [DONE]\n\n".to_owned(),
        ]
        .concat();
        let items = done_items(&checked(&run(&[stream.as_bytes()])));
        assert_eq!(items.len(), 2);
        assert_eq!(items[1]["call_id"], "late");
    }

    #[test]
    fn blank_text_before_calls_gives_no_message() {
        let deltas = [
            json!({"content": "\n\n"}),
            json!({"tool_calls": [{"index": 0, "id": "c", "function": {"name": "exec_command", "arguments": "{}"}}]}),
        ];
        let items = done_items(&checked(&run(&[&openai_stream(&deltas, "tool_calls")])));
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["type"], "function_call");
    }

    #[test]
    fn blanks_read_alone_still_belong_to_the_first_line() {
        // Found by the `stream` fuzz target: a read of nothing but blanks was dropped, so
        // "  data: {error…}" (a line whose field is "  data", ignored) became an error frame
        // when the upstream's first read ended after the blanks.
        let body = b"  data: {\"error\":{\"message\":\"insufficient funds\",\"status\":402}}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
        let whole = run(&[body]);
        assert_eq!(sent_text(&whole), "hi");
        for at in 1..4 {
            let split = run(&[&body[..at], &body[at..]]);
            assert_eq!(
                normalized(&checked(&split)),
                normalized(&checked(&whole)),
                "split at {at}"
            );
        }
    }
}
