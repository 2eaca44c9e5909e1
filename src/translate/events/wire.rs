//! The wire shapes of the Responses events and items the writer (`super`) emits: one
//! serializable struct per event or item shape, the event names (each written once, as a
//! constant), and the encoder of one `event:`/`data:` block.

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use super::{Json, Usage};

/// The event names (`type` of each event, and its SSE `event:` line).
pub(super) mod kind {
    pub const COMPLETED: &str = "response.completed";
    pub const CONTENT_PART_ADDED: &str = "response.content_part.added";
    pub const CONTENT_PART_DONE: &str = "response.content_part.done";
    pub const CREATED: &str = "response.created";
    pub const CUSTOM_TOOL_CALL_INPUT_DELTA: &str = "response.custom_tool_call_input.delta";
    pub const CUSTOM_TOOL_CALL_INPUT_DONE: &str = "response.custom_tool_call_input.done";
    pub const FAILED: &str = "response.failed";
    pub const FUNCTION_CALL_ARGUMENTS_DELTA: &str = "response.function_call_arguments.delta";
    pub const FUNCTION_CALL_ARGUMENTS_DONE: &str = "response.function_call_arguments.done";
    pub const IN_PROGRESS: &str = "response.in_progress";
    pub const INCOMPLETE: &str = "response.incomplete";
    pub const OUTPUT_ITEM_ADDED: &str = "response.output_item.added";
    pub const OUTPUT_ITEM_DONE: &str = "response.output_item.done";
    pub const OUTPUT_TEXT_DELTA: &str = "response.output_text.delta";
    pub const OUTPUT_TEXT_DONE: &str = "response.output_text.done";
    pub const REASONING_SUMMARY_PART_ADDED: &str = "response.reasoning_summary_part.added";
    pub const REASONING_SUMMARY_PART_DONE: &str = "response.reasoning_summary_part.done";
    pub const REASONING_SUMMARY_TEXT_DELTA: &str = "response.reasoning_summary_text.delta";
    pub const REASONING_SUMMARY_TEXT_DONE: &str = "response.reasoning_summary_text.done";
    pub const WEB_SEARCH_CALL_COMPLETED: &str = "response.web_search_call.completed";
    pub const WEB_SEARCH_CALL_IN_PROGRESS: &str = "response.web_search_call.in_progress";
    pub const WEB_SEARCH_CALL_SEARCHING: &str = "response.web_search_call.searching";
}

/// An event whose `type` field is also its SSE `event:` name, so the name is written once.
pub(super) trait WireEvent: Serialize {
    /// The event's `type`, one of the constants above.
    fn kind(&self) -> &'static str;
}

/// Appends `event: <kind>\ndata: <json>\n\n`, or nothing if the event cannot be encoded.
pub(super) fn encode_event<E: WireEvent>(event: &E, out: &mut Vec<u8>) {
    let kind = event.kind();
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
pub(super) struct EmptyList;

impl Serialize for EmptyList {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        serializer.serialize_seq(Some(0))?.end()
    }
}

#[derive(Serialize)]
pub(super) struct OutputText<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) text: &'a str,
    pub(super) annotations: EmptyList,
    pub(super) logprobs: EmptyList,
}

impl<'a> OutputText<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self {
            kind: "output_text",
            text,
            annotations: EmptyList,
            logprobs: EmptyList,
        }
    }
}

#[derive(Serialize)]
pub(super) struct MessageItem<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) id: &'a str,
    pub(super) status: &'static str,
    pub(super) role: &'static str,
    pub(super) content: &'a [OutputText<'a>],
}

#[derive(Serialize)]
pub(super) struct ToolCallItem<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) id: &'a str,
    pub(super) call_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) namespace: Option<&'a str>,
    pub(super) name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) arguments: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) input: Option<&'a str>,
    pub(super) status: &'static str,
}

/// One part of a reasoning item's `summary`.
#[derive(Serialize)]
pub(super) struct SummaryText<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) text: &'a str,
}

impl<'a> SummaryText<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Self {
            kind: "summary_text",
            text,
        }
    }
}

#[derive(Serialize)]
pub(super) struct WebSearchItem<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) id: &'a str,
    pub(super) status: &'static str,
    pub(super) action: SearchAction<'a>,
}

#[derive(Serialize)]
pub(super) struct SearchAction<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) query: &'a str,
}

#[derive(Serialize)]
pub(super) struct WebSearchEvent<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) sequence_number: u64,
    pub(super) item_id: &'a str,
    pub(super) output_index: usize,
}

#[derive(Serialize)]
pub(super) struct ReasoningItem<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) id: &'a str,
    pub(super) status: &'static str,
    pub(super) summary: &'a [SummaryText<'a>],
    pub(super) content: EmptyList,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) encrypted_content: Option<&'a str>,
}

#[derive(Serialize)]
pub(super) struct SummaryPartEvent<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) sequence_number: u64,
    pub(super) item_id: &'a str,
    pub(super) output_index: usize,
    pub(super) summary_index: usize,
    pub(super) part: &'a SummaryText<'a>,
}

#[derive(Serialize)]
pub(super) struct SummaryDeltaEvent<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) sequence_number: u64,
    pub(super) item_id: &'a str,
    pub(super) output_index: usize,
    pub(super) summary_index: usize,
    pub(super) delta: &'a str,
}

#[derive(Serialize)]
pub(super) struct SummaryDoneEvent<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) sequence_number: u64,
    pub(super) item_id: &'a str,
    pub(super) output_index: usize,
    pub(super) summary_index: usize,
    pub(super) text: &'a str,
}

#[derive(Serialize)]
pub(super) struct ItemEvent<'a, T: Serialize + ?Sized> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) sequence_number: u64,
    pub(super) output_index: usize,
    pub(super) item: &'a T,
}

#[derive(Serialize)]
pub(super) struct PartEvent<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) sequence_number: u64,
    pub(super) item_id: &'a str,
    pub(super) output_index: usize,
    pub(super) content_index: usize,
    pub(super) part: &'a OutputText<'a>,
}

#[derive(Serialize)]
pub(super) struct TextDeltaEvent<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) sequence_number: u64,
    pub(super) item_id: &'a str,
    pub(super) output_index: usize,
    pub(super) content_index: usize,
    pub(super) delta: &'a str,
    pub(super) logprobs: EmptyList,
}

#[derive(Serialize)]
pub(super) struct TextDoneEvent<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) sequence_number: u64,
    pub(super) item_id: &'a str,
    pub(super) output_index: usize,
    pub(super) content_index: usize,
    pub(super) text: &'a str,
    pub(super) logprobs: EmptyList,
}

#[derive(Serialize)]
pub(super) struct CallDeltaEvent<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) sequence_number: u64,
    pub(super) item_id: &'a str,
    pub(super) output_index: usize,
    pub(super) delta: &'a str,
}

#[derive(Serialize)]
pub(super) struct ArgumentsDoneEvent<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) sequence_number: u64,
    pub(super) item_id: &'a str,
    pub(super) output_index: usize,
    pub(super) name: &'a str,
    pub(super) arguments: &'a str,
}

#[derive(Serialize)]
pub(super) struct InputDoneEvent<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) sequence_number: u64,
    pub(super) item_id: &'a str,
    pub(super) output_index: usize,
    pub(super) input: &'a str,
}

#[derive(Serialize)]
pub(super) struct ResponseEvent<'a> {
    #[serde(rename = "type")]
    pub(super) kind: &'static str,
    pub(super) sequence_number: u64,
    pub(super) response: ResponseView<'a>,
}

#[derive(Serialize)]
pub(super) struct ErrorView<'a> {
    pub(super) code: &'a str,
    pub(super) message: &'a str,
}

#[derive(Serialize)]
pub(super) struct IncompleteView<'a> {
    pub(super) reason: &'a str,
}

/// The finished items, in output_index order.
pub(super) struct OutputView<'a>(pub(super) &'a [(usize, Box<RawValue>)]);

impl Serialize for OutputView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|(_, raw)| &**raw))
    }
}

/// The complete Response object (Open Responses `ResponseResource`): every required field.
#[derive(Serialize)]
pub(super) struct ResponseView<'a> {
    pub(super) id: &'a str,
    pub(super) object: &'static str,
    pub(super) created_at: u64,
    pub(super) completed_at: Option<u64>,
    pub(super) status: &'static str,
    pub(super) error: Option<ErrorView<'a>>,
    pub(super) incomplete_details: Option<IncompleteView<'a>>,
    pub(super) instructions: &'a Json,
    pub(super) model: &'a str,
    pub(super) output: OutputView<'a>,
    pub(super) parallel_tool_calls: bool,
    pub(super) previous_response_id: Option<&'a str>,
    pub(super) reasoning: &'a Json,
    pub(super) store: bool,
    pub(super) temperature: f64,
    pub(super) text: &'a Json,
    pub(super) tool_choice: &'a Json,
    pub(super) tools: &'a Json,
    pub(super) top_p: f64,
    pub(super) truncation: &'a str,
    pub(super) max_output_tokens: Option<u64>,
    pub(super) max_tool_calls: Option<u64>,
    pub(super) metadata: &'a Json,
    pub(super) service_tier: &'a str,
    pub(super) user: Option<&'a str>,
    pub(super) safety_identifier: Option<&'a str>,
    pub(super) prompt_cache_key: Option<&'a str>,
    pub(super) background: bool,
    pub(super) top_logprobs: u32,
    pub(super) presence_penalty: f64,
    pub(super) frequency_penalty: f64,
    pub(super) usage: Option<&'a Usage>,
}

/// `WireEvent` for event structs whose `kind` field holds their name.
macro_rules! wire_events {
    ($($event:ident),* $(,)?) => {
        $(impl WireEvent for $event<'_> {
            fn kind(&self) -> &'static str {
                self.kind
            }
        })*
    };
}

wire_events!(
    WebSearchEvent,
    SummaryPartEvent,
    SummaryDeltaEvent,
    SummaryDoneEvent,
    PartEvent,
    TextDeltaEvent,
    TextDoneEvent,
    CallDeltaEvent,
    ArgumentsDoneEvent,
    InputDoneEvent,
    ResponseEvent,
);

impl<T: Serialize + ?Sized> WireEvent for ItemEvent<'_, T> {
    fn kind(&self) -> &'static str {
        self.kind
    }
}
