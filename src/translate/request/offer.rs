//! The request's `tools` and `tool_choice` → the Chat `tools` and `tool_choice`.

use std::borrow::Cow;

use serde_json::value::RawValue;

use super::chat::{FunctionDef, Parameters, Tool, ToolChoice};
use super::history::{optional_str, required_str, Loc};
use super::text::{JStr, Obj, Str};
use super::{check_depth, parse, RequestError, WebSearchOffer};
use crate::translate::tools::{chat_tool_name, ToolKind, ToolMap, CUSTOM_INPUT_PARAM};
use crate::translate::web_search;

/// One entry of `tools`, read leniently: hosted tools have shapes of their own.
#[derive(serde::Deserialize)]
struct ToolIn<'a> {
    #[serde(rename = "type", borrow)]
    kind: Str<'a>,
    #[serde(borrow, default)]
    name: Option<&'a RawValue>,
    #[serde(borrow, default)]
    description: Option<&'a RawValue>,
    #[serde(borrow, default)]
    parameters: Option<&'a RawValue>,
    #[serde(borrow, default)]
    strict: Option<&'a RawValue>,
    #[serde(borrow, default)]
    format: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tools: Option<&'a RawValue>,
}

/// A custom tool's `format`: `{"type":"text"}` or `{"type":"grammar","syntax","definition"}`.
#[derive(serde::Deserialize)]
struct FormatIn<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Str<'a>>,
    #[serde(borrow, default)]
    syntax: Option<Str<'a>>,
    #[serde(borrow, default)]
    definition: Option<Str<'a>>,
}

#[derive(serde::Deserialize)]
struct ChoiceIn<'a> {
    #[serde(rename = "type", borrow)]
    kind: Str<'a>,
    #[serde(borrow, default)]
    name: Option<Str<'a>>,
    #[serde(borrow, default)]
    namespace: Option<Str<'a>>,
    #[serde(borrow, default)]
    mode: Option<Str<'a>>,
    /// The Chat form `{"type":"function","function":{"name":…}}`, accepted too.
    #[serde(borrow, default)]
    function: Option<Obj<NamedIn<'a>>>,
}

#[derive(serde::Deserialize)]
struct NamedIn<'a> {
    #[serde(borrow)]
    name: Str<'a>,
}

expecting!(ToolIn<'_>, "a tool object");
expecting!(FormatIn<'_>, "a format object");
expecting!(ChoiceIn<'_>, "a tool_choice object");
expecting!(NamedIn<'_>, "an object with a name");

/// The Chat tools for the request's `tools`; every offered tool is declared in `map`.
/// Hosted-only tools (and unknown types) are dropped. Also returns the `tools` the Response
/// object must echo when they differ from the request's: a function tool there carries every
/// field the Responses schema requires (`description` and `parameters`, `null` when not sent,
/// and `strict`, `true` when not sent, as OpenAI reports it). `None`: echo the request's as is.
pub(super) fn tools<'a>(
    raw: &'a RawValue,
    web_search: Option<WebSearchOffer>,
    map: &mut ToolMap,
) -> Result<(Vec<Tool<'a>>, Option<Box<RawValue>>), RequestError> {
    if !raw.get().starts_with('[') {
        return Err(RequestError::invalid_type(
            "tools",
            "an array of tools",
            raw,
        ));
    }
    check_depth(raw, "tools")?;
    let list: Vec<Obj<ToolIn<'a>>> = parse(raw.get(), "tools")?;
    let echo = if list.iter().any(|Obj(tool)| lacks_echo_fields(tool)) {
        echo_with_defaults(raw)
    } else {
        None
    };
    let mut out = Vec::with_capacity(list.len());
    for (index, Obj(tool)) in list.iter().enumerate() {
        let loc = Loc {
            base: "tools",
            index,
        };
        match &*tool.kind {
            "function" | "custom" => offer(tool, loc, None, None, map, &mut out)?,
            "namespace" => {
                let namespace = required_str(tool.name, loc, "name")?;
                let description = optional_str(tool.description, loc, "description")?;
                let Some(nested) = tool.tools else {
                    return Err(RequestError::missing(&loc.path(), "tools"));
                };
                let path = loc.field("tools");
                if !nested.get().starts_with('[') {
                    return Err(RequestError::invalid_type(
                        path,
                        "an array of tools",
                        nested,
                    ));
                }
                let nested: Vec<Obj<ToolIn<'a>>> = parse(nested.get(), &path)?;
                for (index, Obj(tool)) in nested.iter().enumerate() {
                    let loc = Loc { base: &path, index };
                    match &*tool.kind {
                        "function" | "custom" => offer(
                            tool,
                            loc,
                            Some(&namespace),
                            description.as_deref(),
                            map,
                            &mut out,
                        )?,
                        other => log::debug!("{}: tool type {other:?} dropped", loc.path()),
                    }
                }
            }
            hosted if hosted.starts_with("web_search") && web_search.is_some() => {
                if let Some(offer) = web_search {
                    offer_web_search(offer, map, &mut out);
                }
            }
            other => log::debug!("{}: hosted tool type {other:?} dropped", loc.path()),
        }
    }
    Ok((out, echo))
}

/// The bridge's `web_search` function, for Codex's hosted `web_search` (once, and not when a
/// tool of that name is already offered).
fn offer_web_search(offer: WebSearchOffer, map: &mut ToolMap, out: &mut Vec<Tool<'_>>) {
    if map.resolve(web_search::TOOL_NAME).is_some() {
        log::debug!("a tool named web_search is already offered; the bridge's search is not");
        return;
    }
    let name = map.declare(ToolKind::WebSearch, None, web_search::TOOL_NAME);
    out.push(Tool {
        kind: "function",
        function: FunctionDef {
            name,
            description: Some(Cow::Borrowed(web_search::TOOL_DESCRIPTION)),
            parameters: Parameters::Built(web_search::tool_parameters(offer.max_results)),
            strict: None,
        },
    });
}

/// A function tool without one of the fields the Response object must report.
fn lacks_echo_fields(tool: &ToolIn<'_>) -> bool {
    &*tool.kind == "function"
        && (tool.description.is_none() || tool.parameters.is_none() || tool.strict.is_none())
}

/// `raw` (the request's `tools`) with the missing fields of function tools filled in.
fn echo_with_defaults(raw: &RawValue) -> Option<Box<RawValue>> {
    let mut tools: Vec<serde_json::Value> = serde_json::from_str(raw.get()).ok()?;
    for tool in &mut tools {
        if let Some(fields) = tool.as_object_mut() {
            if fields.get("type").and_then(|t| t.as_str()) == Some("function") {
                for (key, default) in [
                    ("description", serde_json::Value::Null),
                    ("parameters", serde_json::Value::Null),
                    ("strict", serde_json::Value::Bool(true)),
                ] {
                    fields.entry(key).or_insert(default);
                }
            }
        }
    }
    serde_json::value::to_raw_value(&tools).ok()
}

/// A `function` or `custom` tool, possibly nested in a namespace, → one Chat function.
fn offer<'a>(
    tool: &ToolIn<'a>,
    loc: Loc,
    namespace: Option<&str>,
    namespace_description: Option<&str>,
    map: &mut ToolMap,
    out: &mut Vec<Tool<'a>>,
) -> Result<(), RequestError> {
    let name = required_str(tool.name, loc, "name")?;
    let description = optional_str(tool.description, loc, "description")?;
    let custom = &*tool.kind == "custom";
    let (description, parameters, strict) = if custom {
        let format = match tool.format {
            None => None,
            Some(raw) => Some(parse::<Obj<FormatIn>>(raw.get(), &loc.field("format"))?.0),
        };
        (
            Some(Cow::Owned(custom_description(
                description.as_deref(),
                format.as_ref(),
            ))),
            Parameters::Built(custom_parameters()),
            None,
        )
    } else {
        let parameters = match tool.parameters {
            None => Parameters::Built(serde_json::json!({"type": "object", "properties": {}})),
            Some(raw) if raw.get().starts_with('{') => Parameters::Raw(raw),
            Some(raw) => {
                return Err(RequestError::invalid_type(
                    loc.field("parameters"),
                    "a JSON Schema object",
                    raw,
                ))
            }
        };
        let strict = match tool.strict {
            None => None,
            Some(raw) => match raw.get() {
                "true" => Some(true),
                "false" => Some(false),
                _ => {
                    return Err(RequestError::invalid_type(
                        loc.field("strict"),
                        "a boolean",
                        raw,
                    ))
                }
            },
        };
        (description, parameters, strict)
    };
    let description = match namespace_description.map(str::trim) {
        Some(prefix) if !prefix.is_empty() => Some(Cow::Owned(match description {
            Some(own) if !own.trim().is_empty() => format!("{prefix}\n\n{}", own.trim()),
            _ => prefix.to_owned(),
        })),
        _ => description,
    };
    let chat_name = chat_tool_name(namespace, &name);
    if map.resolve(&chat_name).is_some() {
        log::debug!(
            "{}: a tool named {chat_name} is already offered, dropped",
            loc.path()
        );
        return Ok(());
    }
    let kind = if custom {
        ToolKind::Custom
    } else {
        ToolKind::Function
    };
    let chat_name = map.declare(kind, namespace, &name);
    out.push(Tool {
        kind: "function",
        function: FunctionDef {
            name: chat_name,
            description,
            parameters,
            strict,
        },
    });
    Ok(())
}

/// The description of a freeform tool offered as a function: its own description, how to
/// pass the raw text, and its grammar.
fn custom_description(own: Option<&str>, format: Option<&FormatIn>) -> String {
    let mut text = String::new();
    if let Some(own) = own.map(str::trim).filter(|s| !s.is_empty()) {
        text.push_str(own);
        text.push_str("\n\n");
    }
    text.push_str(
        "This is a freeform tool. Call it with the single argument `input`: a string holding \
         the raw input text itself (for example the whole patch), exactly as written for the \
         tool. Do not wrap that text in JSON, another object, or extra quotes.",
    );
    if let Some(format) = format {
        if let Some(definition) = format
            .definition
            .as_deref()
            .map(str::trim_end)
            .filter(|d| !d.is_empty())
        {
            let syntax = format.syntax.as_deref().unwrap_or("grammar");
            let kind = format.kind.as_deref().unwrap_or("grammar");
            text.push_str(&format!(
                "\n\nThe input must match this {kind} ({syntax} syntax):\n```\n{definition}\n```"
            ));
        }
    }
    text
}

fn custom_parameters() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            CUSTOM_INPUT_PARAM: {
                "type": "string",
                "description": "The raw freeform input text (not JSON), as the tool description defines it."
            }
        },
        "required": [CUSTOM_INPUT_PARAM],
        "additionalProperties": false
    })
}

/// `tool_choice` → its Chat form. Forms Chat cannot express (hosted tools, a tool that is not
/// offered) become `auto`; `allowed_tools` keeps its mode.
pub(super) fn tool_choice(raw: &RawValue, map: &ToolMap) -> Result<ToolChoice, RequestError> {
    if let Some(s) = JStr::from_raw(raw) {
        return Ok(match &*s.value() {
            "auto" => ToolChoice::Mode("auto"),
            "none" => ToolChoice::Mode("none"),
            "required" => ToolChoice::Mode("required"),
            other => {
                log::debug!("tool_choice {other:?} unknown, sent as \"auto\"");
                ToolChoice::Mode("auto")
            }
        });
    }
    if !raw.get().starts_with('{') {
        return Err(RequestError::invalid_type(
            "tool_choice",
            "a string or a tool_choice object",
            raw,
        ));
    }
    let Obj(choice) = parse::<Obj<ChoiceIn>>(raw.get(), "tool_choice")?;
    Ok(match &*choice.kind {
        "function" | "custom" => {
            let name = match (&choice.name, &choice.function) {
                (Some(name), _) => name.clone(),
                (None, Some(function)) => function.0.name.clone(),
                (None, None) => return Err(RequestError::missing("tool_choice", "name")),
            };
            let chat_name = chat_tool_name(choice.namespace.as_deref(), &name);
            if map.resolve(&chat_name).is_some() {
                ToolChoice::Function(chat_name)
            } else {
                log::debug!(
                    "tool_choice names {chat_name}, which is not offered: sent as \"auto\""
                );
                ToolChoice::Mode("auto")
            }
        }
        "allowed_tools" if choice.mode.as_deref() == Some("required") => {
            ToolChoice::Mode("required")
        }
        other => {
            log::debug!("tool_choice type {other:?} has no Chat form, sent as \"auto\"");
            ToolChoice::Mode("auto")
        }
    })
}
