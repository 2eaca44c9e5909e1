//! The Chat Completions request body, as typed structs serialized once.

use std::borrow::Cow;

use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use super::text::OutText;

#[derive(Serialize, Debug)]
pub(super) struct ChatRequest<'a> {
    pub model: &'a str,
    pub messages: Vec<Message<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Cow<'a, str>>,
    /// Always the last field: `ChatPlan::ask_upstream_to_stream` rewrites it in place.
    pub stream: bool,
}

#[derive(Serialize, Debug)]
#[serde(tag = "role", rename_all = "lowercase")]
pub(super) enum Message<'a> {
    System {
        content: Content<'a>,
    },
    User {
        content: Content<'a>,
    },
    Assistant {
        /// `null` when the message only calls tools.
        content: Option<Content<'a>>,
        /// The reasoning this message was produced with (thinking models want it back).
        #[serde(skip_serializing_if = "Option::is_none")]
        reasoning_content: Option<String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<ToolCall<'a>>,
    },
    Tool {
        tool_call_id: Cow<'a, str>,
        content: Content<'a>,
    },
}

impl<'a> Message<'a> {
    /// The message's content, if it has any (`None` for an assistant message that only calls
    /// tools).
    pub(super) fn content_mut(&mut self) -> Option<&mut Content<'a>> {
        match self {
            Message::System { content } | Message::User { content } => Some(content),
            Message::Tool { content, .. } => Some(content),
            Message::Assistant { content, .. } => content.as_mut(),
        }
    }
}

/// Message content: a plain string, or parts (images, or text kept from ClawRouter's
/// whitespace rewriting, see [`super::clawrouter`]).
#[derive(Serialize, Debug)]
#[serde(untagged)]
pub(super) enum Content<'a> {
    Text(OutText<'a>),
    Parts(Vec<Part<'a>>),
}

impl Content<'_> {
    /// Turns a string content into one text part (parts stay as they are).
    pub(super) fn make_parts(&mut self) {
        if let Content::Text(text) = self {
            let text = std::mem::replace(text, OutText::empty());
            *self = Content::Parts(vec![Part::Text { text }]);
        }
    }

    /// Undoes [`Self::make_parts`]: one text part becomes a string again (other contents stay
    /// as they are).
    pub(super) fn make_text(&mut self) {
        if let Content::Parts(parts) = self {
            if let [Part::Text { text }] = parts.as_mut_slice() {
                let text = std::mem::replace(text, OutText::empty());
                *self = Content::Text(text);
            }
        }
    }
}

#[derive(Serialize, Debug)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Part<'a> {
    Text { text: OutText<'a> },
    ImageUrl { image_url: ImageUrl<'a> },
}

#[derive(Serialize, Debug)]
pub(super) struct ImageUrl<'a> {
    pub url: OutText<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'static str>,
}

#[derive(Serialize, Debug)]
pub(super) struct ToolCall<'a> {
    pub id: Cow<'a, str>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionCall<'a>,
}

#[derive(Serialize, Debug)]
pub(super) struct FunctionCall<'a> {
    pub name: String,
    pub arguments: OutText<'a>,
}

#[derive(Serialize, Debug)]
pub(super) struct Tool<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub function: FunctionDef<'a>,
}

#[derive(Serialize, Debug)]
pub(super) struct FunctionDef<'a> {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Cow<'a, str>>,
    pub parameters: Parameters<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

#[derive(Serialize, Debug)]
#[serde(untagged)]
pub(super) enum Parameters<'a> {
    /// The request's JSON Schema, copied verbatim.
    Raw(&'a RawValue),
    /// A schema we wrote (freeform tools, tools without parameters).
    Built(serde_json::Value),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ToolChoice {
    /// `auto`, `none` or `required`.
    Mode(&'static str),
    /// Force this Chat function.
    Function(String),
}

impl Serialize for ToolChoice {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Named<'n> {
            name: &'n str,
        }
        #[derive(Serialize)]
        struct Forced<'n> {
            #[serde(rename = "type")]
            kind: &'static str,
            function: Named<'n>,
        }
        match self {
            ToolChoice::Mode(mode) => s.serialize_str(mode),
            ToolChoice::Function(name) => Forced {
                kind: "function",
                function: Named { name },
            }
            .serialize(s),
        }
    }
}

#[derive(Serialize, Debug)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ResponseFormat<'a> {
    JsonSchema { json_schema: JsonSchema<'a> },
    JsonObject,
}

#[derive(Serialize, Debug)]
pub(super) struct JsonSchema<'a> {
    pub name: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}
