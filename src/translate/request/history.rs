//! `instructions` and `input` items → Chat messages. The rules are in the module doc of
//! [`super`] ("History").

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::chat::{Content, FunctionCall, ImageUrl, Message, Part, ToolCall};
use super::text::{JStr, Obj, OutText, Str, TextJoin};
use super::{check_depth, parse, RequestError, RequestOptions, SystemRole};
use crate::translate::model_notice::{without_line, LINE_HINT};
use crate::translate::reasoning::ReasoningKey;
use crate::translate::tools::{chat_tool_name, CUSTOM_INPUT_PARAM};
use crate::translate::web_search::{self, SearchRecord};

/// Separator between system texts merged into one message, and between messages of an
/// `instructions` array.
const BLOCK_SEP: &str = "\n\n";
/// Separator between the text parts of one tool output.
const OUTPUT_SEP: &str = "\n";
/// Content of the tool message answering a call that has no output in the input.
const ABORTED: &str = "aborted";
/// Separator between the texts of several reasoning items restored on one assistant message.
const REASONING_SEP: &str = "\n\n";

/// The request's `input`: a string (one user message) or a list of items.
pub(super) enum Input<'a> {
    Text(Str<'a>),
    Items(Vec<Item<'a>>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Input<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Input<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or an array of input items")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Input<'de>, E> {
                Ok(Input::Text(Str(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Input<'de>, E> {
                Ok(Input::Text(Str(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Input<'de>, E> {
                Ok(Input::Text(Str(Cow::Owned(v))))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Input<'de>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(16).min(4096));
                while let Some(Obj(item)) = seq.next_element::<Obj<Item<'de>>>()? {
                    items.push(item);
                }
                Ok(Input::Items(items))
            }
        }
        d.deserialize_any(V)
    }
}

/// One input item, read leniently: only `type` is typed here. The other fields stay raw until
/// the type says what they must be, so an unknown item type whose fields have other shapes is
/// skipped instead of failing the request.
#[derive(serde::Deserialize)]
pub(super) struct Item<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Str<'a>>,
    #[serde(borrow, default)]
    role: Option<&'a RawValue>,
    #[serde(borrow, default)]
    content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    call_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    namespace: Option<&'a RawValue>,
    #[serde(borrow, default)]
    arguments: Option<&'a RawValue>,
    #[serde(borrow, default)]
    input: Option<&'a RawValue>,
    #[serde(borrow, default)]
    output: Option<&'a RawValue>,
    #[serde(borrow, default)]
    encrypted_content: Option<&'a RawValue>,
}

/// A content part (of a message, or of an array tool output), read leniently like [`Item`].
#[derive(serde::Deserialize)]
struct PartIn<'a> {
    #[serde(rename = "type", borrow)]
    kind: Str<'a>,
    #[serde(borrow, default)]
    text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    refusal: Option<&'a RawValue>,
    #[serde(borrow, default)]
    image_url: Option<&'a RawValue>,
    #[serde(borrow, default)]
    detail: Option<&'a RawValue>,
    #[serde(borrow, default)]
    file_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    filename: Option<&'a RawValue>,
    #[serde(borrow, default)]
    file_url: Option<&'a RawValue>,
}

/// A Chat-style `image_url` object, accepted in place of the Responses string form.
#[derive(serde::Deserialize)]
struct ImageUrlObject<'a> {
    #[serde(borrow)]
    url: JStr<'a>,
    #[serde(borrow, default)]
    detail: Option<Str<'a>>,
}

expecting!(Item<'_>, "an input item object");
expecting!(PartIn<'_>, "a content part object");
expecting!(ImageUrlObject<'_>, "an image_url object");

/// Where an item sits, for error paths (`input[3]`, `instructions[0]`).
#[derive(Clone, Copy)]
pub(super) struct Loc<'p> {
    pub(super) base: &'p str,
    pub(super) index: usize,
}

impl Loc<'_> {
    pub(super) fn path(self) -> String {
        format!("{}[{}]", self.base, self.index)
    }
    pub(super) fn field(self, field: &str) -> String {
        format!("{}[{}].{field}", self.base, self.index)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    /// `system` or `developer`.
    System,
    User,
    Assistant,
}

/// One segment of message content.
enum Seg<'a> {
    Text(TextJoin<'a>),
    Image(ImageUrl<'a>),
}

/// The text and images of one tool output.
struct ToolOutput<'a> {
    text: TextJoin<'a>,
    images: Vec<ImageUrl<'a>>,
}

/// An input item, classified and validated.
enum Entry<'a> {
    Message {
        role: Role,
        content: Vec<Seg<'a>>,
    },
    Call(ToolCall<'a>),
    /// A tool output's place in the input. The output itself waits in [`Builder::outputs`] and
    /// is written right after its call.
    OutputMark,
    /// A reasoning item's `encrypted_content` (`None` when missing or not a string), opened
    /// only if an assistant text or call follows it in its turn.
    Reasoning(Option<JStr<'a>>),
    Skip,
}

/// `instructions` → the text of the leading system message.
pub(super) fn instructions<'a>(raw: &'a RawValue) -> Result<Option<TextJoin<'a>>, RequestError> {
    if let Some(s) = JStr::from_raw(raw) {
        let mut text = TextJoin::default();
        text.push_json(s);
        return Ok(Some(text));
    }
    if !raw.get().starts_with('[') {
        return Err(RequestError::invalid_type(
            "instructions",
            "a string or an array of messages",
            raw,
        ));
    }
    let items: Vec<Obj<Item<'a>>> = parse(raw.get(), "instructions")?;
    let mut text = TextJoin::default();
    for (index, Obj(item)) in items.iter().enumerate() {
        let loc = Loc {
            base: "instructions",
            index,
        };
        match classify(item, loc)? {
            Entry::Message { content, .. } => {
                let body = text_only(content);
                if !text.is_empty() {
                    text.push_plain(BLOCK_SEP);
                }
                text.append(body);
            }
            _ => log::debug!("instructions[{index}]: not a message, skipped"),
        }
    }
    Ok((!text.is_empty()).then_some(text))
}

/// The Chat `messages` of a request, and what the history says beyond them.
pub(super) struct History<'a> {
    /// The messages.
    pub(super) messages: Vec<Message<'a>>,
    /// The bridge's free-model line was shown in this turn (in an assistant message after the
    /// last user message); it is cut from every assistant message sent upstream.
    pub(super) free_model_line: bool,
}

/// The Chat `messages` for the request.
pub(super) fn messages<'a>(
    instructions: Option<TextJoin<'a>>,
    input: Option<Input<'a>>,
    opts: &RequestOptions,
) -> Result<History<'a>, RequestError> {
    let mut b = Builder {
        mode: opts.system_role,
        key: opts.reasoning_key.as_deref(),
        messages: Vec::new(),
        leading: TextJoin::default(),
        group: None,
        pending_reasoning: Vec::new(),
        outputs: HashMap::new(),
        seen_calls: HashSet::new(),
        free_model_line: false,
    };
    if let Some(text) = instructions {
        b.system(text);
    }
    match input {
        None => {}
        Some(Input::Text(s)) => b.messages.push(Message::User {
            content: Content::Text(OutText::Plain(s.0)),
        }),
        Some(Input::Items(items)) => {
            b.messages.reserve(items.len());
            let mut entries = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let loc = Loc {
                    base: "input",
                    index,
                };
                if let Some((call_id, output)) = tool_output(item, loc)? {
                    match b.outputs.entry(call_id) {
                        std::collections::hash_map::Entry::Vacant(slot) => {
                            slot.insert(output);
                        }
                        std::collections::hash_map::Entry::Occupied(slot) => {
                            log::debug!(
                                "input[{index}]: second output for call {}, dropped",
                                slot.key()
                            );
                        }
                    }
                    entries.push(Entry::OutputMark);
                } else {
                    entries.push(classify(item, loc)?);
                }
            }
            for entry in entries {
                b.entry(entry);
            }
            b.end_turn();
        }
    }
    for call_id in b.outputs.keys() {
        log::debug!("output for call {call_id} matches no call in the input, dropped");
    }
    let mut messages = b.messages;
    if b.mode == SystemRole::MergeLeading && !b.leading.is_empty() {
        messages.insert(
            0,
            Message::System {
                content: Content::Text(b.leading.finish("")),
            },
        );
    }
    Ok(History {
        messages,
        free_model_line: b.free_model_line,
    })
}

struct Builder<'a, 'k> {
    mode: SystemRole,
    /// Opens reasoning blobs; without it reasoning items are dropped at once.
    key: Option<&'k ReasoningKey>,
    messages: Vec<Message<'a>>,
    /// [`SystemRole::MergeLeading`]: every system text, joined into the first message at the end.
    leading: TextJoin<'a>,
    /// The assistant message being assembled: optional text, then tool calls.
    group: Option<Group<'a>>,
    /// Reasoning blobs waiting for the assistant text or call that follows them.
    pending_reasoning: Vec<JStr<'a>>,
    /// Tool outputs by `call_id`, taken out as their calls are written.
    outputs: HashMap<Cow<'a, str>, ToolOutput<'a>>,
    seen_calls: HashSet<Cow<'a, str>>,
    /// An assistant message since the last user message started with the bridge's free-model
    /// line (cut from what goes upstream).
    free_model_line: bool,
}

struct Group<'a> {
    text: Option<TextJoin<'a>>,
    calls: Vec<ToolCall<'a>>,
    /// Blobs of the reasoning items that came before this message's text or calls.
    reasoning: Vec<JStr<'a>>,
}

impl<'a> Builder<'a, '_> {
    fn entry(&mut self, entry: Entry<'a>) {
        match entry {
            Entry::Message {
                role: Role::System,
                content,
            } => {
                self.end_turn();
                self.system(text_only(content));
            }
            Entry::Message {
                role: Role::User,
                content,
            } => {
                self.end_turn();
                self.free_model_line = false;
                self.messages.push(Message::User {
                    content: user_content(content),
                });
            }
            Entry::Message {
                role: Role::Assistant,
                content,
            } => {
                self.flush();
                let mut text = text_only(content);
                if text.strip_start(LINE_HINT, without_line) {
                    self.free_model_line = true;
                }
                self.group = Some(Group {
                    text: Some(text),
                    calls: Vec::new(),
                    reasoning: std::mem::take(&mut self.pending_reasoning),
                });
            }
            Entry::Call(call) => {
                if !self.seen_calls.insert(call.id.clone()) {
                    log::debug!("second call with call_id {}, dropped", call.id);
                    return;
                }
                let group = self.group.get_or_insert_with(|| Group {
                    text: None,
                    calls: Vec::new(),
                    reasoning: Vec::new(),
                });
                group.calls.push(call);
                group.reasoning.append(&mut self.pending_reasoning);
            }
            Entry::OutputMark => self.end_turn(),
            Entry::Reasoning(Some(blob)) if SearchRecord::is_record(blob.escaped()) => {
                self.searches(blob)
            }
            Entry::Reasoning(blob) => match (self.key, blob) {
                (Some(_), Some(blob)) => self.pending_reasoning.push(blob),
                (None, _) => log::debug!("reasoning item dropped: no reasoning key configured"),
                (Some(_), None) => {
                    log::debug!("reasoning item without a string encrypted_content, dropped")
                }
            },
            Entry::Skip => {}
        }
    }

    /// A sealed record of the bridge's web searches (written after a model call that searched):
    /// its calls join the assistant message being assembled, and their results are answered
    /// right after it, as the model saw them. A record that does not open is dropped.
    fn searches(&mut self, blob: JStr<'a>) {
        let Some(record) = self
            .key
            .and_then(|key| SearchRecord::open(key, &blob.value()))
        else {
            log::debug!("web search record does not open (foreign or tampered), dropped");
            return;
        };
        let group = self.group.get_or_insert_with(|| Group {
            text: None,
            calls: Vec::new(),
            reasoning: Vec::new(),
        });
        group.reasoning.append(&mut self.pending_reasoning);
        for search in record.searches {
            if !self.seen_calls.insert(Cow::Owned(search.id.clone())) {
                continue;
            }
            let mut text = TextJoin::default();
            text.push_plain(search.result);
            self.outputs.insert(
                Cow::Owned(search.id.clone()),
                ToolOutput {
                    text,
                    images: Vec::new(),
                },
            );
            group.calls.push(ToolCall {
                id: Cow::Owned(search.id),
                kind: "function",
                function: FunctionCall {
                    name: web_search::TOOL_NAME.to_owned(),
                    arguments: OutText::Plain(Cow::Owned(search.arguments)),
                },
            });
        }
    }

    /// A user or system message, a tool output or the end of the input: the pending assistant
    /// message is written, and reasoning that no assistant text or call followed is dropped.
    fn end_turn(&mut self) {
        self.flush();
        if !self.pending_reasoning.is_empty() {
            log::debug!(
                "{} reasoning item(s) not followed by an assistant message in their turn, dropped",
                self.pending_reasoning.len()
            );
            self.pending_reasoning.clear();
        }
    }

    fn system(&mut self, text: TextJoin<'a>) {
        match self.mode {
            SystemRole::System => self.messages.push(Message::System {
                content: Content::Text(text.finish("")),
            }),
            SystemRole::MergeLeading => {
                if !self.leading.is_empty() {
                    self.leading.push_plain(BLOCK_SEP);
                }
                self.leading.append(text);
            }
        }
    }

    /// Writes the pending assistant message, then one tool message per call (its output, or
    /// "aborted"), then one user message with the images of those outputs.
    fn flush(&mut self) {
        let Some(group) = self.group.take() else {
            return;
        };
        let reasoning_content = open_reasoning(self.key, &group.reasoning);
        if group.calls.is_empty() {
            self.messages.push(Message::Assistant {
                content: Some(Content::Text(group.text.unwrap_or_default().finish(""))),
                reasoning_content,
                tool_calls: Vec::new(),
            });
            return;
        }
        let ids: Vec<Cow<'a, str>> = group.calls.iter().map(|c| c.id.clone()).collect();
        self.messages.push(Message::Assistant {
            content: group
                .text
                .filter(|t| !t.is_blank())
                .map(|t| Content::Text(t.finish(""))),
            reasoning_content,
            tool_calls: group.calls,
        });
        let mut image_parts = Vec::new();
        for id in ids {
            let content = match self.outputs.remove(id.as_ref()) {
                None => OutText::Plain(Cow::Borrowed(ABORTED)),
                Some(output) => {
                    let text = if output.text.is_blank() && !output.images.is_empty() {
                        OutText::Plain(Cow::Borrowed("(image output: see the next user message)"))
                    } else {
                        output.text.finish(OUTPUT_SEP)
                    };
                    if !output.images.is_empty() {
                        image_parts.push(Part::Text {
                            text: OutText::Plain(Cow::Owned(format!(
                                "Image output of tool call {id}:"
                            ))),
                        });
                        image_parts.extend(
                            output
                                .images
                                .into_iter()
                                .map(|image_url| Part::ImageUrl { image_url }),
                        );
                    }
                    text
                }
            };
            self.messages.push(Message::Tool {
                tool_call_id: id,
                content: Content::Text(content),
            });
        }
        if !image_parts.is_empty() {
            self.messages.push(Message::User {
                content: Content::Parts(image_parts),
            });
        }
    }
}

/// The texts sealed in `blobs` that open with `key`, joined; `None` when none has any text.
fn open_reasoning(key: Option<&ReasoningKey>, blobs: &[JStr<'_>]) -> Option<String> {
    let key = key?;
    let mut joined: Option<String> = None;
    for blob in blobs {
        match key.open(&blob.value()) {
            Some(text) if text.is_empty() => log::debug!("reasoning item with empty text, skipped"),
            Some(text) => match &mut joined {
                Some(all) => {
                    all.push_str(REASONING_SEP);
                    all.push_str(&text);
                }
                None => joined = Some(text),
            },
            None => log::debug!(
                "reasoning encrypted_content does not open (foreign or tampered), dropped"
            ),
        }
    }
    joined
}

/// Text of system and assistant messages: images cannot go there and are dropped.
fn text_only(content: Vec<Seg<'_>>) -> TextJoin<'_> {
    let mut text = TextJoin::default();
    for seg in content {
        match seg {
            Seg::Text(t) => text.append(t),
            Seg::Image(_) => log::debug!("image in a system or assistant message, dropped"),
        }
    }
    text
}

/// User content: a plain string when it is all text; else parts, adjacent texts merged.
fn user_content(content: Vec<Seg<'_>>) -> Content<'_> {
    if !content.iter().any(|s| matches!(s, Seg::Image(_))) {
        return Content::Text(text_only(content).finish(""));
    }
    let mut parts = Vec::with_capacity(content.len());
    let mut text: Option<TextJoin> = None;
    for seg in content {
        match seg {
            Seg::Text(t) => text.get_or_insert_with(TextJoin::default).append(t),
            Seg::Image(image_url) => {
                if let Some(t) = text.take() {
                    parts.push(Part::Text { text: t.finish("") });
                }
                parts.push(Part::ImageUrl { image_url });
            }
        }
    }
    if let Some(t) = text.take() {
        parts.push(Part::Text { text: t.finish("") });
    }
    Content::Parts(parts)
}

/// `Some((call_id, output))` when the item is a tool output.
fn tool_output<'a>(
    item: &Item<'a>,
    loc: Loc,
) -> Result<Option<(Cow<'a, str>, ToolOutput<'a>)>, RequestError> {
    match item.kind.as_deref() {
        Some("function_call_output" | "custom_tool_call_output") => {}
        _ => return Ok(None),
    }
    let call_id = required_str(item.call_id, loc, "call_id")?;
    let Some(raw) = item.output else {
        return Err(RequestError::missing(&loc.path(), "output"));
    };
    let mut output = ToolOutput {
        text: TextJoin::default(),
        images: Vec::new(),
    };
    if let Some(s) = JStr::from_raw(raw) {
        output.text.push_json(s);
    } else if raw.get().starts_with('[') {
        let path = loc.field("output");
        for seg in segments(raw, &path)? {
            match seg {
                Seg::Text(t) => output.text.append(t),
                Seg::Image(image) => output.images.push(image),
            }
        }
    } else {
        return Err(RequestError::invalid_type(
            loc.field("output"),
            "a string or an array of content items",
            raw,
        ));
    }
    Ok(Some((call_id, output)))
}

/// Validates an item that is not a tool output.
fn classify<'a>(item: &Item<'a>, loc: Loc) -> Result<Entry<'a>, RequestError> {
    let kind = match item.kind.as_deref() {
        Some(kind) => kind,
        // EasyInputMessage: `{"role": …, "content": …}` without a type.
        None if item.role.is_some() => "message",
        None => return Err(RequestError::missing(&loc.path(), "type")),
    };
    match kind {
        "message" => message(item, loc),
        "function_call" | "custom_tool_call" => call(item, loc, kind == "custom_tool_call"),
        "reasoning" => Ok(Entry::Reasoning(
            item.encrypted_content.and_then(JStr::from_raw),
        )),
        other => {
            log::debug!(
                "{}: item type {other:?} has no Chat form, skipped",
                loc.path()
            );
            Ok(Entry::Skip)
        }
    }
}

fn message<'a>(item: &Item<'a>, loc: Loc) -> Result<Entry<'a>, RequestError> {
    let Some(role_raw) = item.role else {
        return Err(RequestError::missing(&loc.path(), "role"));
    };
    let role_str = JStr::from_raw(role_raw)
        .ok_or_else(|| RequestError::invalid_type(loc.field("role"), "a string", role_raw))?
        .value();
    let role = match role_str.as_ref() {
        "system" | "developer" => Role::System,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        other => {
            return Err(RequestError::invalid_value(
                loc.field("role"),
                "one of \"user\", \"assistant\", \"system\", \"developer\"",
                &crate::excerpt::quoted(other),
            ))
        }
    };
    let Some(raw) = item.content else {
        return Err(RequestError::missing(&loc.path(), "content"));
    };
    let content = if let Some(s) = JStr::from_raw(raw) {
        let mut text = TextJoin::default();
        text.push_json(s);
        vec![Seg::Text(text)]
    } else if raw.get().starts_with('[') {
        segments(raw, &loc.field("content"))?
    } else {
        return Err(RequestError::invalid_type(
            loc.field("content"),
            "a string or an array of content parts",
            raw,
        ));
    };
    Ok(Entry::Message { role, content })
}

fn call<'a>(item: &Item<'a>, loc: Loc, custom: bool) -> Result<Entry<'a>, RequestError> {
    let call_id = required_str(item.call_id, loc, "call_id")?;
    let name = required_str(item.name, loc, "name")?;
    let namespace = match item.namespace {
        None => None,
        Some(raw) => Some(
            JStr::from_raw(raw)
                .ok_or_else(|| RequestError::invalid_type(loc.field("namespace"), "a string", raw))?
                .value(),
        ),
    };
    let arguments = if custom {
        let Some(raw) = item.input else {
            return Err(RequestError::missing(&loc.path(), "input"));
        };
        if JStr::from_raw(raw).is_none() {
            return Err(RequestError::invalid_type(
                loc.field("input"),
                "a string",
                raw,
            ));
        }
        // `{"input": <the raw text>}`: the escaped string is already valid JSON.
        OutText::Plain(Cow::Owned(format!(
            "{{\"{CUSTOM_INPUT_PARAM}\":{}}}",
            raw.get()
        )))
    } else {
        let Some(raw) = item.arguments else {
            return Err(RequestError::missing(&loc.path(), "arguments"));
        };
        if JStr::from_raw(raw).is_some() {
            OutText::Raw(raw)
        } else if raw.get().starts_with('{') {
            // Not the Responses shape, but unambiguous: the arguments object as JSON text.
            check_depth(raw, &loc.field("arguments"))?;
            OutText::Plain(Cow::Borrowed(raw.get()))
        } else {
            return Err(RequestError::invalid_type(
                loc.field("arguments"),
                "a string of JSON arguments",
                raw,
            ));
        }
    };
    Ok(Entry::Call(ToolCall {
        id: call_id,
        kind: "function",
        function: FunctionCall {
            name: chat_tool_name(namespace.as_deref(), &name),
            arguments,
        },
    }))
}

pub(super) fn required_str<'a>(
    raw: Option<&'a RawValue>,
    loc: Loc,
    field: &str,
) -> Result<Cow<'a, str>, RequestError> {
    let Some(raw) = raw else {
        return Err(RequestError::missing(&loc.path(), field));
    };
    match JStr::from_raw(raw) {
        Some(s) => Ok(s.value()),
        None => Err(RequestError::invalid_type(
            loc.field(field),
            "a string",
            raw,
        )),
    }
}

std::thread_local! {
    /// Content parts of an unknown type skipped by the translation running on this thread
    /// (see [`skipped_parts`]).
    static SKIPPED_PARTS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Runs `f` (one translation, which never awaits) and returns how many content parts of an
/// unknown type it skipped.
pub(super) fn counting_skipped_parts<T>(f: impl FnOnce() -> T) -> (T, u64) {
    SKIPPED_PARTS.with(|n| n.set(0));
    let value = f();
    (value, SKIPPED_PARTS.with(std::cell::Cell::get))
}

/// A content array → text and image segments. Unknown part types are skipped (and counted).
fn segments<'a>(raw: &'a RawValue, path: &str) -> Result<Vec<Seg<'a>>, RequestError> {
    let parts: Vec<Obj<PartIn<'a>>> = parse(raw.get(), path)?;
    let mut segs = Vec::with_capacity(parts.len());
    for (index, Obj(part)) in parts.into_iter().enumerate() {
        let loc = Loc { base: path, index };
        let mut text = TextJoin::default();
        match &*part.kind {
            "input_text" | "output_text" | "text" => {
                text.push_json(string_field(part.text, loc, "text")?);
            }
            "refusal" => text.push_json(string_field(part.refusal, loc, "refusal")?),
            "input_image" => match image(&part, loc)? {
                Some(image) => {
                    segs.push(Seg::Image(image));
                    continue;
                }
                None => match optional_str(part.file_id, loc, "file_id")? {
                    Some(file_id) => text.push_plain(format!("[image file: {file_id}]")),
                    None => {
                        log::debug!(
                            "{}: image without image_url or file_id, skipped",
                            loc.path()
                        );
                        continue;
                    }
                },
            },
            "input_file" => {
                let label = match optional_str(part.filename, loc, "filename")? {
                    Some(name) => name,
                    None => match optional_str(part.file_id, loc, "file_id")? {
                        Some(id) => id,
                        None => optional_str(part.file_url, loc, "file_url")?
                            .unwrap_or(Cow::Borrowed("attachment")),
                    },
                };
                text.push_plain(format!("[file: {label}]"));
            }
            other => {
                log::warn!(
                    "{}: content part type {other:?} has no Chat form, not sent",
                    loc.path()
                );
                SKIPPED_PARTS.with(|n| n.set(n.get() + 1));
                continue;
            }
        }
        segs.push(Seg::Text(text));
    }
    Ok(segs)
}

fn image<'a>(part: &PartIn<'a>, loc: Loc) -> Result<Option<ImageUrl<'a>>, RequestError> {
    let Some(raw) = part.image_url else {
        return Ok(None);
    };
    let detail = optional_str(part.detail, loc, "detail")?;
    if let Some(url) = JStr::from_raw(raw) {
        return Ok(Some(ImageUrl {
            url: OutText::Raw(url.raw()),
            detail: detail.as_deref().and_then(chat_detail),
        }));
    }
    if raw.get().starts_with('{') {
        let Obj(object) = parse::<Obj<ImageUrlObject<'a>>>(raw.get(), &loc.field("image_url"))?;
        return Ok(Some(ImageUrl {
            url: OutText::Raw(object.url.raw()),
            detail: object
                .detail
                .as_deref()
                .or(detail.as_deref())
                .and_then(chat_detail),
        }));
    }
    Err(RequestError::invalid_type(
        loc.field("image_url"),
        "a string (URL or data URL)",
        raw,
    ))
}

/// Chat knows `low`, `high` and `auto`. Codex's `original` (full resolution) is closest to `high`.
fn chat_detail(detail: &str) -> Option<&'static str> {
    match detail {
        "low" => Some("low"),
        "high" | "original" => Some("high"),
        "auto" => Some("auto"),
        _ => None,
    }
}

fn string_field<'a>(
    raw: Option<&'a RawValue>,
    loc: Loc,
    field: &str,
) -> Result<JStr<'a>, RequestError> {
    let Some(raw) = raw else {
        return Err(RequestError::missing(&loc.path(), field));
    };
    JStr::from_raw(raw).ok_or_else(|| RequestError::invalid_type(loc.field(field), "a string", raw))
}

pub(super) fn optional_str<'a>(
    raw: Option<&'a RawValue>,
    loc: Loc,
    field: &str,
) -> Result<Option<Cow<'a, str>>, RequestError> {
    match raw {
        None => Ok(None),
        Some(raw) => match JStr::from_raw(raw) {
            Some(s) => Ok(Some(s.value())),
            None => Err(RequestError::invalid_type(
                loc.field(field),
                "a string",
                raw,
            )),
        },
    }
}
