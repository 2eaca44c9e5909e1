//! The upstream's Chat answers, read once and typed: a whole `chat.completion` (a buffered
//! answer, [`super::response`]) and a `chat.completion.chunk` (one streamed event,
//! [`super::stream`]) are read by the same views, so both translations accept the same
//! shapes with the same rules, including the one rule for tool-call ids ([`call_id`]).
//!
//! The views borrow from the answer's bytes. Each object is read field by field: the fields
//! the bridge uses are captured as raw JSON (a scan, no allocation) and read only when asked
//! for; the others are skipped. Upstreams differ, so nothing here is strict: a field of an
//! unexpected type reads as absent, a repeated key keeps its last value (as a JSON object
//! read whole would), and only bytes that are not a JSON object at all are refused
//! ([`NotAnAnswer`]), which the stream counts as a skipped frame, never a failure by itself.
//!
//! Accepted variants (upstreams seen: ClawRouter, OpenAI, vLLM, Ollama, LM Studio, OpenRouter,
//! DeepSeek): `delta` or `message`;
//! `content` as a string, null, or an array of text parts (strings or `{"text": …}`);
//! `refusal`; legacy `choices[0].text`; reasoning as `reasoning_content`, `reasoning` (a
//! string) or OpenRouter's `reasoning_details`; `tool_calls` with or without `index`, with
//! `arguments` as a string or a JSON value, `function` fields at the call's top level, or the
//! legacy `function_call`; usage with OpenAI's, DeepSeek's or Responses-style field names,
//! counts as integers, floats or numeric strings.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

use super::events::Usage;
use super::ids::new_id;
use super::request::text::JStr;

/// Bytes that are not one Chat answer object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAnAnswer {
    /// Nothing but whitespace (or a byte-order mark).
    Empty,
    /// Not JSON.
    NotJson,
    /// JSON, but not an object.
    NotAnObject,
}

/// One answer object: a `chat.completion`, a `chat.completion.chunk` or an error body.
#[derive(Debug, Clone, Copy)]
pub struct ChatAnswer<'a> {
    choices: Option<&'a RawValue>,
    error: Option<&'a RawValue>,
    usage: Option<&'a RawValue>,
    model: Option<&'a RawValue>,
}

impl<'a> ChatAnswer<'a> {
    /// Reads `bytes` (a byte-order mark and whitespace around the object are allowed).
    pub fn read(bytes: &'a [u8]) -> Result<Self, NotAnAnswer> {
        let bytes = trim_answer(bytes);
        if bytes.is_empty() {
            return Err(NotAnAnswer::Empty);
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            return Err(NotAnAnswer::NotJson);
        };
        if !text.starts_with('{') {
            return Err(match serde_json::from_str::<IgnoredAny>(text) {
                Ok(_) => NotAnAnswer::NotAnObject,
                Err(_) => NotAnAnswer::NotJson,
            });
        }
        let [choices, error, usage, model] =
            read_fields(text, ["choices", "error", "usage", "model"])
                .map_err(|_| NotAnAnswer::NotJson)?;
        Ok(ChatAnswer {
            choices,
            error,
            usage,
            model,
        })
    }

    /// `error`, when present and not null (an error body, or an error frame in a stream).
    pub fn error(&self) -> Option<&'a RawValue> {
        self.error
    }

    /// The first choice, when it is an object.
    pub fn choice(&self) -> Option<Choice<'a>> {
        let first = first_element(self.choices?)?;
        let [delta, message, text, finish_reason] =
            object_fields(first, ["delta", "message", "text", "finish_reason"])?;
        Some(Choice {
            delta,
            message,
            text,
            finish_reason,
        })
    }

    /// The token counts, when `usage` carries any ([`read_usage`]).
    pub fn usage(&self) -> Option<Usage> {
        read_usage(self.usage?)
    }

    /// The model that answered, as the upstream names it.
    pub fn model(&self) -> Option<Cow<'a, str>> {
        string(self.model?)
    }
}

/// One choice of an answer.
#[derive(Debug, Clone, Copy)]
pub struct Choice<'a> {
    delta: Option<&'a RawValue>,
    message: Option<&'a RawValue>,
    text: Option<&'a RawValue>,
    finish_reason: Option<&'a RawValue>,
}

impl<'a> Choice<'a> {
    /// The streamed `delta`, else a `message` (some upstreams send whole messages in chunks).
    pub fn delta(&self) -> Option<Message<'a>> {
        Message::read_first(self.delta, self.message)
    }

    /// The `message` of a whole answer, else a `delta` (some upstreams answer with one).
    pub fn message(&self) -> Option<Message<'a>> {
        Message::read_first(self.message, self.delta)
    }

    /// The legacy completions `text` of the choice.
    pub fn legacy_text(&self) -> Option<Cow<'a, str>> {
        string(self.text?)
    }

    /// `finish_reason`, when it is a string.
    pub fn finish_reason(&self) -> Option<Cow<'a, str>> {
        string(self.finish_reason?)
    }
}

/// A message or a delta.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    content: Option<&'a RawValue>,
    refusal: Option<&'a RawValue>,
    reasoning_content: Option<&'a RawValue>,
    reasoning: Option<&'a RawValue>,
    reasoning_details: Option<&'a RawValue>,
    tool_calls: Option<&'a RawValue>,
    function_call: Option<&'a RawValue>,
}

impl<'a> Message<'a> {
    /// The first of `first`, `second` that is an object.
    fn read_first(first: Option<&'a RawValue>, second: Option<&'a RawValue>) -> Option<Self> {
        first
            .and_then(Message::read)
            .or_else(|| second.and_then(Message::read))
    }

    fn read(raw: &'a RawValue) -> Option<Self> {
        let [content, refusal, reasoning_content, reasoning, reasoning_details, tool_calls, function_call] =
            object_fields(
                raw,
                [
                    "content",
                    "refusal",
                    "reasoning_content",
                    "reasoning",
                    "reasoning_details",
                    "tool_calls",
                    "function_call",
                ],
            )?;
        Some(Message {
            content,
            refusal,
            reasoning_content,
            reasoning,
            reasoning_details,
            tool_calls,
            function_call,
        })
    }

    /// The text of `content`: a string, or the text parts of an array joined (`Some("")` for
    /// an array without text); `None` for null or another type.
    pub fn content(&self) -> Option<Cow<'a, str>> {
        let raw = self.content?;
        if let Some(text) = string(raw) {
            return Some(text);
        }
        let parts = elements(raw)?;
        let mut joined = String::new();
        for part in parts {
            let text = string(part).or_else(|| {
                let [text] = object_fields(part, ["text"])?;
                string(text?)
            });
            if let Some(text) = text {
                joined.push_str(&text);
            }
        }
        Some(Cow::Owned(joined))
    }

    /// `refusal`, when it is a string.
    pub fn refusal(&self) -> Option<Cow<'a, str>> {
        string(self.refusal?)
    }

    /// The reasoning: `reasoning_content` (DeepSeek, Kimi, Qwen), else `reasoning` as a
    /// string (OpenRouter, vLLM), else the texts of `reasoning_details` (OpenRouter:
    /// `reasoning.text` → `text`, `reasoning.summary` → `summary`; encrypted entries skipped).
    /// Only the first source present is read: OpenRouter sends `reasoning` and
    /// `reasoning_details` with the same text. `None` when there is none or it is empty.
    pub fn reasoning(&self) -> Option<Cow<'a, str>> {
        for raw in [self.reasoning_content, self.reasoning]
            .into_iter()
            .flatten()
        {
            if let Some(text) = string(raw).filter(|text| !text.is_empty()) {
                return Some(text);
            }
        }
        let mut joined = String::new();
        for detail in elements(self.reasoning_details?)? {
            let Some([kind, text, summary]) = object_fields(detail, ["type", "text", "summary"])
            else {
                continue;
            };
            let field = match kind.and_then(string).as_deref() {
                Some("reasoning.text") => text,
                Some("reasoning.summary") => summary,
                _ => continue,
            };
            if let Some(text) = field.and_then(string) {
                joined.push_str(&text);
            }
        }
        (!joined.is_empty()).then_some(Cow::Owned(joined))
    }

    /// The tool calls (or call fragments, in a stream): the objects of `tool_calls` when it
    /// is an array, else the legacy `function_call` as the call at index 0.
    pub fn calls(&self) -> Vec<CallFragment<'a>> {
        if let Some(calls) = self.tool_calls.and_then(elements) {
            return calls.into_iter().filter_map(CallFragment::read).collect();
        }
        self.function_call
            .and_then(CallFragment::read)
            .map(|call| CallFragment {
                index: Some(0),
                id: None,
                ..call
            })
            .into_iter()
            .collect()
    }
}

/// A tool call, or the part of one a stream chunk carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFragment<'a> {
    /// `index`, which ties a stream's fragments together (absent from some upstreams).
    pub index: Option<u64>,
    /// The upstream's call id, trimmed; `None` when missing or blank.
    pub id: Option<Cow<'a, str>>,
    /// The function name; `None` when missing or empty.
    pub name: Option<Cow<'a, str>>,
    /// The arguments (or their next piece): a string as sent, any other JSON value
    /// serialized; `None` when missing or null.
    pub arguments: Option<Cow<'a, str>>,
}

impl<'a> CallFragment<'a> {
    fn read(raw: &'a RawValue) -> Option<Self> {
        let [index, id, function, name, arguments] =
            object_fields(raw, ["index", "id", "function", "name", "arguments"])?;
        // The call's name and arguments live in `function`, or at its top level.
        let [name, arguments] = function
            .and_then(|function| object_fields(function, ["name", "arguments"]))
            .unwrap_or([name, arguments]);
        Some(CallFragment {
            index: index.and_then(|raw| serde_json::from_str::<u64>(raw.get()).ok()),
            id: id.and_then(string).and_then(trimmed),
            name: name.and_then(string).filter(|name| !name.is_empty()),
            arguments: arguments.map(|raw| {
                string(raw).unwrap_or_else(|| {
                    // Compact, as a serializer would write it.
                    Cow::Owned(match serde_json::from_str::<Value>(raw.get()) {
                        Ok(value) => value.to_string(),
                        Err(_) => raw.get().to_owned(),
                    })
                })
            }),
        })
    }
}

/// The one rule for the call ids Codex sees: the upstream's id (trimmed) when it is set and
/// no earlier call of this answer has it (`used`), else a fresh `call_…`. Codex matches each
/// tool output to its call by this id, so two calls must never share one.
pub fn call_id(upstream: Option<&str>, used: impl Fn(&str) -> bool) -> String {
    match upstream.map(str::trim) {
        Some(id) if !id.is_empty() && !used(id) => id.to_owned(),
        _ => new_id("call"),
    }
}

/// Chat usage → Responses usage. Reads `prompt_tokens` (or `input_tokens`),
/// `completion_tokens` (or `output_tokens`), `total_tokens` (computed when absent),
/// `prompt_tokens_details.cached_tokens` (or DeepSeek's `prompt_cache_hit_tokens`, or
/// `input_tokens_details.cached_tokens`; 0 when absent) and
/// `completion_tokens_details.reasoning_tokens` (or `output_tokens_details…`; 0 when absent).
/// Extra fields (ClawRouter's `cost`) are ignored. `None` when no token count is present.
pub fn read_usage(raw: &RawValue) -> Option<Usage> {
    let [prompt, input, completion, output, total, prompt_details, cache_hit, input_details, completion_details, output_details] =
        object_fields(
            raw,
            [
                "prompt_tokens",
                "input_tokens",
                "completion_tokens",
                "output_tokens",
                "total_tokens",
                "prompt_tokens_details",
                "prompt_cache_hit_tokens",
                "input_tokens_details",
                "completion_tokens_details",
                "output_tokens_details",
            ],
        )?;
    let input = count(prompt).or_else(|| count(input));
    let output = count(completion).or_else(|| count(output));
    let total = count(total);
    if input.is_none() && output.is_none() && total.is_none() {
        return None;
    }
    let detail = |details: Option<&RawValue>, field: &'static str| {
        let [value] = object_fields(details?, [field])?;
        count(value)
    };
    let input_tokens = input.unwrap_or(0);
    let output_tokens = output.unwrap_or(0);
    Some(Usage {
        input_tokens,
        cached_tokens: detail(prompt_details, "cached_tokens")
            .or_else(|| count(cache_hit))
            .or_else(|| detail(input_details, "cached_tokens"))
            .unwrap_or(0),
        output_tokens,
        reasoning_tokens: detail(completion_details, "reasoning_tokens")
            .or_else(|| detail(output_details, "reasoning_tokens"))
            .unwrap_or(0),
        total_tokens: total.unwrap_or(input_tokens.saturating_add(output_tokens)),
    })
}

/// A non-negative token count: an integer, an integral or rounded float, or a numeric string.
fn count(raw: Option<&RawValue>) -> Option<u64> {
    let raw = raw?;
    if let Some(text) = string(raw) {
        return text.trim().parse().ok();
    }
    serde_json::from_str::<u64>(raw.get()).ok().or_else(|| {
        serde_json::from_str::<f64>(raw.get())
            .ok()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f.round() as u64)
    })
}

/// The value of a JSON string (borrowed when it has no escapes); `None` for another type.
fn string(raw: &RawValue) -> Option<Cow<'_, str>> {
    JStr::from_raw(raw).map(JStr::value)
}

/// `text` without surrounding whitespace; `None` when that leaves nothing.
fn trimmed(text: Cow<'_, str>) -> Option<Cow<'_, str>> {
    let text = match text {
        Cow::Borrowed(text) => Cow::Borrowed(text.trim()),
        Cow::Owned(text) if text.trim().len() == text.len() => Cow::Owned(text),
        Cow::Owned(text) => Cow::Owned(text.trim().to_owned()),
    };
    (!text.is_empty()).then_some(text)
}

/// `bytes` without a byte-order mark and surrounding whitespace.
pub fn trim_answer(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |last| last + 1);
    &bytes[start..end.max(start)]
}

// ------------------------------------------------------------------ reading raw JSON

/// The named fields of the object `raw` (`None` when `raw` is not an object); a field that
/// is missing or null is `None`.
fn object_fields<'a, const N: usize>(
    raw: &'a RawValue,
    names: [&'static str; N],
) -> Option<[Option<&'a RawValue>; N]> {
    let text = raw.get();
    if !text.starts_with('{') {
        return None;
    }
    read_fields(text, names).ok()
}

fn read_fields<'a, const N: usize>(
    text: &'a str,
    names: [&'static str; N],
) -> Result<[Option<&'a RawValue>; N], serde_json::Error> {
    let mut reader = serde_json::Deserializer::from_str(text);
    let fields = reader.deserialize_map(FieldsVisitor { names })?;
    reader.end()?;
    Ok(fields)
}

struct FieldsVisitor<const N: usize> {
    names: [&'static str; N],
}

impl<'de, const N: usize> Visitor<'de> for FieldsVisitor<N> {
    type Value = [Option<&'de RawValue>; N];

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values = [None; N];
        while let Some(key) = map.next_key_seed(KeySeed(&self.names))? {
            match key {
                Some(at) => values[at] = map.next_value::<Option<&'de RawValue>>()?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(values)
    }
}

/// Reads an object key as the position of that name in the list, without allocating.
struct KeySeed<'n>(&'n [&'static str]);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|name| *name == key))
    }
}

/// The elements of the array `raw`; `None` when it is not an array.
fn elements(raw: &RawValue) -> Option<Vec<&RawValue>> {
    if !raw.get().starts_with('[') {
        return None;
    }
    serde_json::from_str(raw.get()).ok()
}

/// The first element of the array `raw`, without reading the others into memory.
fn first_element(raw: &RawValue) -> Option<&RawValue> {
    struct First;
    impl<'de> Visitor<'de> for First {
        type Value = Option<&'de RawValue>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let first = seq.next_element::<&'de RawValue>()?;
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(first)
        }
    }
    if !raw.get().starts_with('[') {
        return None;
    }
    serde_json::Deserializer::from_str(raw.get())
        .deserialize_seq(First)
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests;
