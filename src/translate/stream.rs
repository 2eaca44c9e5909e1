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
//! Model notice ([`StreamTranslator::watch_model`]): when the answer's `model` (a chunk's or
//! the completion's) is free and the requested one is not, the message starts with the line of
//! [`super::model_notice`] (a message of its own when the answer has no text) — unless its text
//! starts with ClawRouter's own notice. Once per response; the model is sent back its own text.
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
    CallKind, ItemStatus, OpenMessage, OpenReasoning, OpenWebSearch, ResponseEventWriter,
    ResponseMeta, Usage,
};
use super::leaked::LeakHold;
use super::model_notice::{has_clawrouter_notice, ModelNotice};
use super::reasoning::ReasoningKey;
use super::request::ResponseEcho;
use super::response::{
    completion_to_output, custom_input, finish_status, normalize_argument_string, snippet,
    write_calls, write_items_sealed, write_terminal, ChatOutput, CompletionError, Finish,
    ToolCallOut,
};
use super::sse::{SseFrame, SseParser};
use super::tools::{ToolKind, ToolMap};
use super::upstream_error::{self, ClientFailure, ErrorHeaders};
use super::web_search::{RecordedSearch, SearchRecord};
use crate::outcome::Outcome;
use calls::{Args, CallSlot};
use think::{ThinkPiece, ThinkSplitter};

mod calls;
mod think;

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
    /// Chat messages to append to the previous request (see
    /// [`follow_up_body`](super::web_search::follow_up_body)): the assistant message first, then
    /// the tool messages in the order of the calls.
    pub messages: Vec<Value>,
}

/// Where a response stands with the line saying a free model answered (see
/// [`super::model_notice`]).
#[derive(Debug)]
enum Notice {
    /// Not watched, or decided: no line (more).
    Off,
    /// The answering model is not known yet.
    Watching(ModelNotice),
    /// A free model answered: this line goes before the first text.
    Due(String),
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
    think: ThinkSplitter,
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
    /// The line saying a free model answered, once per response.
    notice: Notice,
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
            think: ThinkSplitter::default(),
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
            notice: Notice::Off,
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

    /// Watches the answer's model: when it is free and not the requested one, the message
    /// starts with the line of [`ModelNotice::line_for`] — unless the text already starts with
    /// ClawRouter's own notice (never two). Call before the first upstream bytes.
    pub fn watch_model(&mut self, notice: ModelNotice) {
        self.notice = Notice::Watching(notice);
    }

    /// The upstream named the model that answers.
    fn answered_by(&mut self, model: &str) {
        if let Notice::Watching(watch) = &self.notice {
            self.notice = match watch.line_for(model) {
                Some(line) => Notice::Due(line),
                None => Notice::Off,
            };
        }
    }

    /// The due line, if any, for a message whose text starts with `text` (nothing when that
    /// text carries ClawRouter's own notice). The line is given once.
    fn take_notice(&mut self, text: &str) -> Option<String> {
        match std::mem::replace(&mut self.notice, Notice::Off) {
            Notice::Due(line) if !has_clawrouter_notice(text) => Some(line),
            Notice::Due(_) | Notice::Off => None,
            watching @ Notice::Watching(_) => {
                self.notice = watching;
                None
            }
        }
    }

    /// An answer without text (calls only, or nothing): the due line as a message of its own,
    /// left open for the caller to finish.
    fn notice_alone(&mut self, out: &mut Vec<u8>) {
        if self.message.is_some() {
            return;
        }
        if let Some(line) = self.take_notice("") {
            self.close_reasoning(ItemStatus::Completed, out);
            let mut message = self.writer.start_message(out);
            self.writer.text_delta(&mut message, line.trim_end(), out);
            self.message = Some(message);
        }
    }

    /// A whole answer's text with the due line before it (see [`Self::watch_model`]).
    fn with_notice(&mut self, output: &mut ChatOutput) {
        if let Some(model) = output.model.as_deref() {
            self.answered_by(model);
        }
        let text = output.text.as_deref().unwrap_or("");
        let Some(line) = self.take_notice(text) else {
            return;
        };
        output.text = Some(if text.trim().is_empty() {
            line.trim_end().to_owned()
        } else {
            line + text
        });
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
                // The model is sent its own text back, without the bridge's line.
                let round_text = output.text.clone().unwrap_or_default();
                self.with_notice(&mut output);
                write_items_sealed(&mut self.writer, &output, &self.tools, key.as_deref(), out);
                self.round_text = round_text;
                self.round_reasoning = output.reasoning.unwrap_or_default();
                self.usage = output.usage;
                self.finish = Some(output.finish);
                self.end_model_call(completed_at, out);
            }
            Ok(mut output) => {
                let key = self.key.clone();
                self.with_notice(&mut output);
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
    /// — completed when a finish_reason or `[DONE]` was seen, otherwise the failure
    /// [`upstream_error::cut_short`] (`response.failed`, code `server_error`, after what was
    /// already sent; an HTTP 502 for a `stream:false` client, as for a dropped connection).
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
            let failure = upstream_error::cut_short(&self.upstream_url);
            log::debug!("{}", failure.message);
            self.fail(&failure, out);
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
        self.think = ThinkSplitter::default();
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
        if let (Notice::Watching(_), Some(model)) = (&self.notice, chunk.model()) {
            self.answered_by(&model);
        }
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

    /// Content text: through the `<think>` splitter to the reasoning or the visible text.
    fn on_content(&mut self, text: &str, out: &mut Vec<u8>) {
        let mut think = std::mem::take(&mut self.think);
        think.push(text, &mut |piece| self.on_think_piece(piece, out));
        self.think = think;
    }

    /// Ends the `<think>` handling: a held prefix is text, a held span end is reasoning.
    fn flush_think(&mut self, out: &mut Vec<u8>) {
        let mut think = std::mem::take(&mut self.think);
        think.flush(&mut |piece| self.on_think_piece(piece, out));
        self.think = think;
    }

    fn on_think_piece(&mut self, piece: ThinkPiece<'_>, out: &mut Vec<u8>) {
        match piece {
            ThinkPiece::Text(text) => self.on_visible(text, out),
            ThinkPiece::Reasoning(text) => self.on_reasoning(text, out),
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
        let notice = self.take_notice(text);
        if self.lead_blank.is_empty() && notice.is_none() {
            self.writer.text_delta(&mut message, text, out);
        } else {
            let mut joined = notice.unwrap_or_default();
            joined.push_str(&std::mem::take(&mut self.lead_blank));
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
            self.notice_alone(out);
            if let Some(message) = self.message.take() {
                self.writer
                    .finish_message(message, ItemStatus::Completed, out);
            }
            self.close_reasoning(ItemStatus::Completed, out);
        }
        let at = calls::absorb(&mut self.calls, call);
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
        self.notice_alone(out);
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
mod tests;
