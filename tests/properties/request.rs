//! The request translator: a Responses body → a Chat body (`request_to_chat`).
//!
//! Input: [`super::Input`]; flag bit 7 set → the body is built from the rest with
//! [`generate`] (a Responses request with the item and tool shapes Codex sends, plus wrong
//! types and junk), else the rest is the body as it is. Bits 0–5 pick the options (system
//! role, reasoning key, whitespace protection, retry nudge, web search).
//!
//! Properties: never panics; an error has a message; a translated body is a JSON object whose
//! last field is `"stream":false` (and stays JSON once asked to stream) with a non-empty
//! `messages` list of Chat roles, in which every assistant `tool_calls` message is followed at
//! once by exactly one `tool` message per call, in call order, no `tool` message stands
//! anywhere else and no call id is used twice; every tool and call name is a valid Chat
//! function name; a forced `tool_choice` names an offered tool; every offered tool resolves
//! in the plan's tool map; and for generated bodies, every message text sent is found, as
//! text, in the Chat messages.

use std::collections::HashSet;
use std::sync::Arc;

use clawrouter_codex::translate::reasoning::ReasoningKey;
use clawrouter_codex::translate::request::{
    request_to_chat, RequestOptions, SystemRole, WebSearchOffer,
};
use serde_json::{json, Map, Value};

use super::{key, Gen, Input};

/// Checks one fuzz input (see the module documentation).
pub fn check(data: &[u8]) {
    let input = Input::parse(data);
    if input.flag(7) {
        let (body, texts) = generate(input.rest);
        check_body(&body, input.flags, &texts);
    } else {
        check_body(input.rest, input.flags, &[]);
    }
}

/// The options `flags` selects.
pub fn options(flags: u8) -> RequestOptions {
    RequestOptions {
        system_role: if flags & 1 != 0 {
            SystemRole::MergeLeading
        } else {
            SystemRole::System
        },
        reasoning_key: (flags & 2 != 0).then(key),
        preserve_whitespace_above: match (flags >> 2) & 3 {
            0 => None,
            1 => Some(0),
            2 => Some(200),
            _ => Some(usize::MAX),
        },
        retry_nudge: if flags & 16 != 0 { 3 } else { 0 },
        web_search: (flags & 32 != 0).then_some(WebSearchOffer { max_results: 5 }),
    }
}

/// Translates `body` and checks the result; `texts` must each be found in the messages.
pub fn check_body(body: &[u8], flags: u8, texts: &[String]) {
    let mut plan = match request_to_chat(body, &options(flags)) {
        Ok(plan) => plan,
        Err(err) => {
            assert!(!err.to_string().is_empty(), "an error without a message");
            return;
        }
    };
    assert!(
        plan.body.ends_with(br#""stream":false}"#),
        "stream:false is not the last field"
    );
    let chat: Value = match serde_json::from_slice(&plan.body) {
        Ok(chat) => chat,
        // Raw parts (tools, schemas) are forwarded byte for byte, and serde_json reads a raw
        // value without pairing `\uD800`-style surrogate escapes: a lone one passes through
        // to the upstream as the client wrote it. Only a body that was strict JSON must give one.
        Err(_) if serde_json::from_slice::<Value>(body).is_err() => return,
        Err(e) => panic!(
            "the Chat body is not JSON ({e}): {}",
            String::from_utf8_lossy(&plan.body)
        ),
    };
    let chat = chat.as_object().expect("the Chat body is an object");
    assert_eq!(chat["model"], plan.model.as_str(), "model as requested");
    let messages = chat["messages"].as_array().expect("messages is a list");
    assert!(!messages.is_empty(), "a translated body has messages");
    check_messages(messages);
    check_tools(chat, &plan.tools);
    if !texts.is_empty() {
        let all = message_texts(messages);
        for text in texts.iter().filter(|t| !t.trim().is_empty()) {
            assert!(all.contains(text.as_str()), "text {text:?} lost");
        }
    }
    if plan.ask_upstream_to_stream() {
        let streaming: Value =
            serde_json::from_slice(&plan.body).expect("the streaming Chat body is JSON");
        assert_eq!(streaming["stream"], true);
        assert_eq!(streaming["stream_options"]["include_usage"], true);
    }
}

fn valid_chat_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Roles, contents, and the strict servers' rule for tool calls and their answers.
fn check_messages(messages: &[Value]) {
    let mut call_ids = HashSet::new();
    let mut i = 0;
    while i < messages.len() {
        let message = &messages[i];
        let role = message["role"].as_str().expect("a message has a role");
        let calls = message
            .get("tool_calls")
            .and_then(Value::as_array)
            .filter(|calls| !calls.is_empty());
        match (role, calls) {
            ("assistant", Some(calls)) => {
                for (k, call) in calls.iter().enumerate() {
                    let id = call["id"].as_str().expect("a call has an id");
                    assert!(call_ids.insert(id.to_owned()), "call id {id:?} used twice");
                    assert_eq!(call["type"], "function");
                    let name = call["function"]["name"].as_str().expect("call name");
                    assert!(valid_chat_name(name), "call name {name:?}");
                    assert!(call["function"]["arguments"].is_string(), "arguments");
                    let answer = messages
                        .get(i + 1 + k)
                        .unwrap_or_else(|| panic!("call {id:?} has no answer"));
                    assert_eq!(answer["role"], "tool", "call {id:?} answered at once");
                    assert_eq!(answer["tool_call_id"], id, "answers in call order");
                    check_content(&answer["content"], "tool");
                }
                i += 1 + calls.len();
                continue;
            }
            ("assistant", None) => {
                assert!(
                    !message["content"].is_null(),
                    "an assistant message without calls has content"
                );
                check_content(&message["content"], role);
            }
            ("system" | "user", None) => check_content(&message["content"], role),
            ("tool", None) => panic!("tool message {i} answers no call"),
            (other, _) => panic!("message {i}: role {other:?} with calls {calls:?}"),
        }
        i += 1;
    }
}

fn check_content(content: &Value, role: &str) {
    match content {
        Value::String(_) => {}
        Value::Array(parts) => {
            for part in parts {
                match part["type"].as_str() {
                    Some("text") => assert!(part["text"].is_string()),
                    Some("image_url") => {
                        assert_eq!(role, "user", "only user messages carry images");
                        assert!(part["image_url"]["url"].is_string());
                    }
                    other => panic!("part type {other:?}"),
                }
            }
        }
        other => panic!("{role} content {other}"),
    }
}

/// Every text of the messages (contents and parts), concatenated.
fn message_texts(messages: &[Value]) -> String {
    let mut all = String::new();
    for message in messages {
        match &message["content"] {
            Value::String(s) => all.push_str(s),
            Value::Array(parts) => {
                for part in parts {
                    if let Some(text) = part["text"].as_str() {
                        all.push_str(text);
                    }
                }
            }
            _ => {}
        }
        all.push('\u{1}');
    }
    all
}

fn check_tools(chat: &Map<String, Value>, map: &clawrouter_codex::translate::tools::ToolMap) {
    let offered: Vec<&str> = match chat.get("tools") {
        None => Vec::new(),
        Some(tools) => tools
            .as_array()
            .expect("tools is a list")
            .iter()
            .map(|tool| {
                assert_eq!(tool["type"], "function");
                let name = tool["function"]["name"].as_str().expect("tool name");
                assert!(valid_chat_name(name), "tool name {name:?}");
                assert!(
                    map.resolve(name).is_some(),
                    "offered {name:?} not in the map"
                );
                name
            })
            .collect(),
    };
    if let Some(choice) = chat.get("tool_choice") {
        assert!(!offered.is_empty(), "tool_choice without tools");
        match choice {
            Value::String(mode) => assert!(["auto", "none", "required"].contains(&mode.as_str())),
            forced => {
                let name = forced["function"]["name"].as_str().expect("forced name");
                assert!(
                    offered.contains(&name),
                    "tool_choice names {name:?}, not offered"
                );
            }
        }
    }
}

// ------------------------------------------------------------------ structured requests

const CALL_IDS: &[&str] = &["c1", "c2", "c3", "", "c\u{e9}"];
const TOOL_NAMES: &[&str] = &[
    "exec_command",
    "apply_patch",
    "add_numbers",
    "web_search",
    "",
    "bad name!",
    "a_tool_name_that_is_much_longer_than_the_sixty_four_characters_chat_allows",
];
const NAMESPACES: &[Option<&str>] = &[
    None,
    Some("mcp__demo"),
    Some("mcp__demo__"),
    Some("ns."),
    Some(""),
];

/// A Responses request built from `data`, and the message texts it carries (each must reach
/// the Chat body).
pub fn generate(data: &[u8]) -> (Vec<u8>, Vec<String>) {
    let mut g = RequestGen {
        g: Gen::new(data),
        texts: Vec::new(),
        key: key(),
    };
    let body = g.request();
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    (bytes, g.texts)
}

struct RequestGen<'a> {
    g: Gen<'a>,
    texts: Vec<String>,
    key: Arc<ReasoningKey>,
}

impl RequestGen<'_> {
    fn request(&mut self) -> Value {
        let g = &mut self.g;
        let mut req = Map::new();
        if g.int(15) != 0 {
            let model = g.one(&["gpt-5", "blockrun/auto", "", "m\u{e9}\"l"]);
            req.insert("model".into(), model.into());
        }
        match self.g.int(4) {
            0 | 1 => {}
            2 => {
                let text = self.kept_text();
                req.insert("instructions".into(), text.into());
            }
            3 => {
                let n = self.g.int(3);
                let list: Vec<Value> = (0..n).map(|_| self.message()).collect();
                req.insert("instructions".into(), list.into());
            }
            _ => {
                let junk = self.g.json(2);
                req.insert("instructions".into(), junk);
            }
        }
        match self.g.int(7) {
            0 => {}
            1 => {
                let text = self.kept_text();
                req.insert("input".into(), text.into());
            }
            2 => {
                let junk = self.g.json(2);
                req.insert("input".into(), junk);
            }
            _ => {
                let n = self.g.int(12);
                let items: Vec<Value> = (0..n).map(|_| self.item()).collect();
                req.insert("input".into(), items.into());
            }
        }
        if self.g.bool() {
            let n = self.g.int(6);
            let tools: Vec<Value> = (0..n).map(|_| self.tool(true)).collect();
            req.insert("tools".into(), tools.into());
        }
        if self.g.bool() {
            let choice = self.tool_choice();
            req.insert("tool_choice".into(), choice);
        }
        let g = &mut self.g;
        for (field, value) in [
            ("stream", Value::Bool(g.bool())),
            ("parallel_tool_calls", Value::Bool(g.bool())),
            ("store", Value::Bool(false)),
            ("temperature", json!(g.int(20) as f64 / 10.0)),
            ("top_p", json!(1.0)),
            (
                "max_output_tokens",
                json!(g.u.arbitrary::<u64>().unwrap_or(0)),
            ),
            (
                "reasoning",
                json!({"effort": g.one(&["low", "medium", "high", "minimal", "none", "xhigh", "?"]), "summary": "auto"}),
            ),
            (
                "text",
                match g.int(3) {
                    0 => json!({"verbosity": "low"}),
                    1 => {
                        json!({"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": true}})
                    }
                    2 => json!({"format": {"type": "json_object"}}),
                    _ => json!({"format": {"type": "text"}}),
                },
            ),
            ("prompt_cache_key", json!("thread-1")),
            ("include", json!(["reasoning.encrypted_content"])),
            ("metadata", json!({"k": "v"})),
            ("user", json!("u")),
            ("service_tier", json!("auto")),
            ("truncation", json!("disabled")),
        ] {
            if g.int(3) == 0 {
                req.insert(field.into(), value);
            }
        }
        if g.int(7) == 0 {
            // Deep nesting (the 128-level limit), in a field the translator only checks.
            let depth = g.int(300) as usize;
            let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            req.insert(
                "metadata".into(),
                serde_json::from_str(&deep).unwrap_or(Value::Null),
            );
        }
        if g.int(7) == 0 {
            let junk = g.json(3);
            let field = g.one(&["input", "tools", "tool_choice", "reasoning", "text", "x"]);
            if field == "input" {
                // The texts that were in `input` are gone.
                self.texts.clear();
            }
            req.insert(field.into(), junk);
        }
        Value::Object(req)
    }

    /// A text that the translation must keep.
    fn kept_text(&mut self) -> String {
        let text = self.g.text();
        self.texts.push(text.clone());
        text
    }

    fn content(&mut self, role: &str) -> Value {
        match self.g.int(5) {
            0 => Value::String(self.kept_text()),
            1 => self.g.json(2),
            _ => {
                let n = self.g.int(4);
                let parts: Vec<Value> = (0..n).map(|_| self.part(role)).collect();
                Value::Array(parts)
            }
        }
    }

    fn part(&mut self, role: &str) -> Value {
        let text_kind = if role == "assistant" {
            "output_text"
        } else {
            "input_text"
        };
        match self.g.int(8) {
            0 | 1 => json!({"type": text_kind, "text": self.g.text()}),
            2 => json!({"type": "refusal", "refusal": self.g.text()}),
            3 => {
                json!({"type": "input_image", "image_url": self.g.one(&["data:image/png;base64,iVBORw0KGgo=", "https://example.invalid/a.png", ""]), "detail": self.g.one(&["low", "high", "auto", "original", "x"])})
            }
            4 => json!({"type": "input_image", "file_id": "file-1"}),
            5 => json!({"type": "input_file", "filename": "a.txt", "file_id": "file-2"}),
            6 => json!({"type": "mystery", "text": "x"}),
            7 => json!({"type": "text", "text": self.g.text()}),
            _ => self.g.json(2),
        }
    }

    fn message(&mut self) -> Value {
        let role = self
            .g
            .one(&["user", "assistant", "developer", "system", "tool", ""]);
        let content = if ["user", "assistant", "developer", "system"].contains(&role) {
            self.content(role)
        } else {
            self.g.json(1)
        };
        let mut item = json!({"role": role, "content": content});
        if self.g.int(3) != 0 {
            item["type"] = json!("message");
            item["id"] = json!("msg_1");
        }
        if self.g.int(5) == 0 {
            item["phase"] = json!("final_answer");
        }
        item
    }

    fn item(&mut self) -> Value {
        let call_id = self.g.one(CALL_IDS);
        match self.g.int(10) {
            0..=2 => self.message(),
            3 => {
                let mut item = json!({
                    "type": "function_call",
                    "name": self.g.one(TOOL_NAMES),
                    "arguments": self.g.one(&["{}", "{\"cmd\":\"ls\"}", "not json", "\"{\\\"a\\\":1}\""]),
                    "call_id": call_id,
                });
                if let Some(ns) = self.g.one(NAMESPACES) {
                    item["namespace"] = json!(ns);
                }
                item
            }
            4 => {
                json!({"type": "custom_tool_call", "name": self.g.one(TOOL_NAMES), "input": self.g.text(), "call_id": call_id})
            }
            5 => {
                let output = match self.g.int(3) {
                    0 => self.g.json(2),
                    1 => {
                        json!([{"type": "input_text", "text": self.g.text()}, {"type": "input_image", "image_url": "data:image/png;base64,AA=="}])
                    }
                    _ => Value::String(self.g.text()),
                };
                json!({"type": "function_call_output", "call_id": call_id, "output": output})
            }
            6 => {
                json!({"type": "custom_tool_call_output", "call_id": call_id, "output": self.g.text()})
            }
            7 => {
                let blob = match self.g.int(3) {
                    0 => Value::String(self.key.seal(&self.g.text())),
                    1 => json!("gAAAAopaque"),
                    2 => self.g.json(1),
                    _ => Value::String(
                        clawrouter_codex::translate::web_search::SearchRecord::default()
                            .seal(&self.key),
                    ),
                };
                json!({"type": "reasoning", "summary": [], "encrypted_content": blob})
            }
            8 => {
                json!({"type": self.g.one(&["web_search_call", "local_shell_call", "item_reference", ""]), "id": "ws_1", "status": "completed"})
            }
            9 => {
                json!({"type": "function_call", "name": self.g.json(1), "call_id": self.g.json(1)})
            }
            _ => self.g.json(3),
        }
    }

    fn tool(&mut self, nest: bool) -> Value {
        let name = self.g.one(TOOL_NAMES);
        match self.g.int(7) {
            0 | 1 => {
                let mut tool = json!({"type": "function", "name": name});
                if self.g.bool() {
                    tool["parameters"] = match self.g.int(2) {
                        0 => json!({"type": "object", "properties": {"cmd": {"type": "string"}}}),
                        1 => Value::Null,
                        _ => self.g.json(2),
                    };
                }
                if self.g.bool() {
                    tool["description"] = json!(self.g.text());
                }
                if self.g.bool() {
                    tool["strict"] = json!(self.g.bool());
                }
                tool
            }
            2 => {
                json!({"type": "custom", "name": name, "description": "freeform", "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}})
            }
            3 if nest => {
                let n = self.g.int(3);
                let tools: Vec<Value> = (0..n).map(|_| self.tool(false)).collect();
                json!({"type": "namespace", "name": self.g.one(&["mcp__demo", "ns.", "", "x__"]), "description": "d", "tools": tools})
            }
            4 => {
                json!({"type": self.g.one(&["web_search", "web_search_preview", "local_shell", "image_generation"])})
            }
            _ => self.g.json(2),
        }
    }

    fn tool_choice(&mut self) -> Value {
        let name = self.g.one(TOOL_NAMES);
        match self.g.int(6) {
            0 => json!(self.g.one(&["auto", "none", "required", "bogus"])),
            1 => json!({"type": "function", "name": name}),
            2 => json!({"type": "function", "function": {"name": name}}),
            3 => json!({"type": "custom", "name": name}),
            4 => {
                json!({"type": "allowed_tools", "mode": self.g.one(&["auto", "required"]), "tools": []})
            }
            5 => json!({"type": "function", "name": name, "namespace": "mcp__demo"}),
            _ => self.g.json(2),
        }
    }
}
