//! Tool calls a model wrote into its text instead of the structured `tool_calls` field.
//!
//! Some models (and some servers' chat templates) answer a tool turn with the call as text.
//! When the upstream returned **no** structured `tool_calls`, [`recover_leaked_calls`] finds
//! calls of these shapes, naming a **declared** tool ([`ToolMap::resolve`] is `Some`):
//! - bare JSON `{"name":N,"arguments":{…}|"…"}` (or `"parameters"` instead of `"arguments"`);
//! - OpenAI-nested `{"type":"function","function":{"name":N,"arguments":…}}`, alone or in
//!   `{"tool_calls":[…]}`;
//! - `{"tool_name":N,"tool_args":{…}}`;
//! - a JSON array of such objects;
//! - `<tool_call>{json}</tool_call>` tags, one or several (a missing closing tag is tolerated;
//!   inside a tag `arguments` may be absent);
//! - any of these inside a Markdown code fence (the fence is cut too).
//!
//! Recovered calls are cut from the visible text; pieces around a cut are trimmed and joined by
//! a blank line (or a space when the call sat inside a line). JSON that is not call-shaped, names
//! an undeclared tool, or has extra keys (`{"name":"pkg","version":…}`) is left alone, and so is
//! call-shaped JSON nested inside other JSON (that is data, not a call). All calls of one
//! container (`tool_calls` list, array, tag) must be declared, or the container is left alone.
//!
//! Cost: a text without `<tool_call>`, or without a `{` and one of the keys `"name"`,
//! `"tool_name"`, `"function"`, `"tool_calls"`, is returned after a few substring scans
//! ([`may_contain_leak`]; ~1 ms for 1 MB). Otherwise JSON is parsed only at `{` followed by `"`
//! and at `[` followed by `{`; a parsed value is skipped as a whole, and serde_json's 128-level
//! nesting limit bounds the work of a failed candidate, so real texts scan in linear time (a
//! contrived 90 kB text of 10 000 unclosed nested objects takes ~0.15 s in release builds).
//!
//! **Streaming (issue 3).** The same recognisers work on a growing text if the stream holds back
//! only the *suspect* span and forwards everything before it:
//! - from a `<tool_call>` (or a prefix of it, `<`, `<tool`, … at the very end of the text) until
//!   its `</tool_call>` arrives;
//! - from a ```` ``` ```` fence opening until the fence's first non-blank character shows it
//!   does not start with `{` / `[` (or until the fence closes);
//! - from a `{` followed (after blanks) by `"`, or a `[` followed by `{`, until the JSON value
//!   is complete (then decide: call → cut, else release) or proves not to be JSON (release).
//!
//! Text before the earliest suspect offset can always be sent. A streaming caller would run the
//! same `scan` on `held + new delta`, release the prefix before the first unfinished candidate,
//! and call [`recover_leaked_calls`] on the rest at the end of the stream.

use serde_json::{Map, Value};

use super::tools::ToolMap;

const CLOSE_TAG: &str = "</tool_call>";

/// A tool call recovered from the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakedCall {
    /// The Chat function name the model used (a declared tool's Chat name).
    pub chat_name: String,
    /// The arguments as a string: JSON objects re-serialized compactly, strings kept as written.
    pub arguments: String,
}

/// Quick test: can `text` contain a leaked call at all? False means [`recover_leaked_calls`]
/// would return the text unchanged.
pub fn may_contain_leak(text: &str) -> bool {
    if text.contains("<tool_call>") {
        return true;
    }
    text.contains('{')
        && (text.contains("\"name\"")
            || text.contains("\"tool_name\"")
            || text.contains("\"function\"")
            || text.contains("\"tool_calls\""))
}

/// Finds tool calls leaked into `text` (see the module documentation), returns the text with
/// them cut out (trimmed) and the calls in text order. Text without a recoverable call is
/// returned unchanged.
pub fn recover_leaked_calls(text: &str, tools: &ToolMap) -> (String, Vec<LeakedCall>) {
    if tools.is_empty() || !may_contain_leak(text) {
        return (text.to_owned(), Vec::new());
    }
    let found = scan(text, tools);
    if found.is_empty() {
        return (text.to_owned(), Vec::new());
    }
    let mut spans: Vec<(usize, usize)> = Vec::with_capacity(found.len());
    let mut calls = Vec::new();
    for (start, end, mut group) in found {
        calls.append(&mut group);
        match spans.last_mut() {
            Some(last) if text[last.1..start].trim().is_empty() => last.1 = end,
            _ => spans.push((start, end)),
        }
    }
    let spans: Vec<(usize, usize)> = spans
        .into_iter()
        .map(|(start, end)| extend_over_fence(text, start, end))
        .collect();
    (cut(text, &spans), calls)
}

/// Every recoverable call group with its byte span, in text order, spans not overlapping.
fn scan(text: &str, tools: &ToolMap) -> Vec<(usize, usize, Vec<LeakedCall>)> {
    const OPEN_TAG: &str = "<tool_call>";
    let bytes = text.as_bytes();
    // Closing tags, found once: each opening tag then looks its closing tag up in O(log n).
    let closes: Vec<usize> = if text.contains(OPEN_TAG) {
        text.match_indices(CLOSE_TAG).map(|(at, _)| at).collect()
    } else {
        Vec::new()
    };
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(offset) = text[i..].find(['{', '[', '<']) {
        let at = i + offset;
        match bytes[at] {
            b'<' if text[at..].starts_with(OPEN_TAG) => {
                if let Some((end, calls)) = parse_tag(text, at, &closes, tools) {
                    found.push((at, end, calls));
                    i = end;
                    continue;
                }
            }
            b'{' | b'[' => {
                if let Some((end, value)) = json_at(text, at) {
                    if let Some(calls) = calls_from_value(&value, tools, false) {
                        found.push((at, end, calls));
                    }
                    // A parsed value is skipped whole: JSON nested in it is data.
                    i = end;
                    continue;
                }
            }
            _ => {}
        }
        i = at + 1;
    }
    found
}

/// Parses one JSON value starting at `at` (a `{` followed by `"`, or a `[` followed by `{`).
/// Returns the byte offset just past it.
fn json_at(text: &str, at: usize) -> Option<(usize, Value)> {
    let rest = &text[at..];
    let after = rest[1..].trim_start();
    let plausible = match rest.as_bytes().first() {
        Some(b'{') => after.starts_with('"'),
        Some(b'[') => after.starts_with('{'),
        _ => false,
    };
    if !plausible {
        return None;
    }
    let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
    match stream.next() {
        Some(Ok(value)) => Some((at + stream.byte_offset(), value)),
        _ => None,
    }
}

/// `<tool_call>…</tool_call>` at `at`: the calls inside and the offset past the closing tag
/// (past the JSON when the closing tag is missing).
/// `closes`: the byte offsets of every `</tool_call>` in `text`, ascending.
fn parse_tag(
    text: &str,
    at: usize,
    closes: &[usize],
    tools: &ToolMap,
) -> Option<(usize, Vec<LeakedCall>)> {
    const OPEN_TAG: &str = "<tool_call>";
    let body_start = at + OPEN_TAG.len();
    let next_close = closes
        .get(closes.partition_point(|&close| close < body_start))
        .copied();
    let (body, closed_end) = match next_close {
        Some(close) => (&text[body_start..close], Some(close + CLOSE_TAG.len())),
        None => (&text[body_start..], None),
    };
    let (inner, inner_offset) = strip_fence(body);
    let mut calls = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(inner).into_iter::<Value>();
    let mut parsed_end = 0;
    loop {
        match stream.next() {
            Some(Ok(value)) => {
                calls.extend(calls_from_value(&value, tools, true)?);
                parsed_end = stream.byte_offset();
            }
            Some(Err(_)) if closed_end.is_none() && !calls.is_empty() => break,
            Some(Err(_)) => return None,
            None => break,
        }
    }
    if calls.is_empty() {
        return None;
    }
    let end = match closed_end {
        Some(end) => end,
        None => {
            let mut end = body_start + inner_offset + parsed_end;
            // An unclosed tag whose JSON sat in a fence: take the closing fence too.
            let after = &text[end..];
            let trimmed = after.trim_start();
            if inner_offset > 0 && trimmed.starts_with("```") {
                end += after.len() - trimmed.len() + 3;
            }
            end
        }
    };
    Some((end, calls))
}

/// The body of a tag without a surrounding ```` ```json … ``` ```` fence, and the byte offset
/// of the returned slice inside `body`.
fn strip_fence(body: &str) -> (&str, usize) {
    let trimmed = body.trim_start();
    let lead = body.len() - trimmed.len();
    if let Some(after_ticks) = trimmed.strip_prefix("```") {
        let info_len = after_ticks
            .find(|c: char| !is_info_char(c))
            .unwrap_or(after_ticks.len());
        let inner = &after_ticks[info_len..];
        let inner = inner.strip_suffix_trimmed("```");
        return (inner, lead + 3 + info_len);
    }
    (body, 0)
}

trait StripSuffixTrimmed {
    fn strip_suffix_trimmed(&self, suffix: &str) -> &str;
}

impl StripSuffixTrimmed for str {
    /// `self` without a trailing `suffix` (ignoring trailing whitespace), or `self` unchanged.
    fn strip_suffix_trimmed(&self, suffix: &str) -> &str {
        self.trim_end().strip_suffix(suffix).unwrap_or(self)
    }
}

fn is_info_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// The calls a JSON value stands for, if it is call-shaped and every name is declared.
/// `in_tag`: inside `<tool_call>`, where a bare `{"name":N}` without arguments is a call too.
fn calls_from_value(value: &Value, tools: &ToolMap, in_tag: bool) -> Option<Vec<LeakedCall>> {
    let calls = match value {
        Value::Object(obj) => match obj.get("tool_calls") {
            Some(Value::Array(list)) => {
                if !keys_within(obj, &["tool_calls", "role", "content", "type"]) {
                    return None;
                }
                list.iter()
                    .map(|entry| entry.as_object().and_then(|o| call_from_object(o, true)))
                    .collect::<Option<Vec<_>>>()?
            }
            Some(_) => return None,
            None => vec![call_from_object(obj, in_tag)?],
        },
        Value::Array(list) => list
            .iter()
            .map(|entry| entry.as_object().and_then(|o| call_from_object(o, in_tag)))
            .collect::<Option<Vec<_>>>()?,
        _ => return None,
    };
    if calls.is_empty() || calls.iter().any(|c| tools.resolve(&c.chat_name).is_none()) {
        return None;
    }
    Some(calls)
}

/// One call object in any of the recognised shapes. `lenient`: arguments may be absent.
fn call_from_object(obj: &Map<String, Value>, lenient: bool) -> Option<LeakedCall> {
    // OpenAI-nested: {"type":"function","function":{"name":…,"arguments":…}}
    if let Some(Value::Object(function)) = obj.get("function") {
        if !keys_within(obj, &["type", "function", "id", "index", "call_id"]) {
            return None;
        }
        if obj.get("type").is_some_and(|t| t != "function") {
            return None;
        }
        let name = function.get("name")?.as_str()?;
        let arguments = function
            .get("arguments")
            .or_else(|| function.get("parameters"));
        return Some(leaked(name, arguments));
    }
    // {"tool_name":…,"tool_args":{…}}
    if let Some(name) = obj.get("tool_name") {
        if !keys_within(
            obj,
            &[
                "tool_name",
                "tool_args",
                "arguments",
                "parameters",
                "id",
                "type",
            ],
        ) {
            return None;
        }
        let arguments = obj
            .get("tool_args")
            .or_else(|| obj.get("arguments"))
            .or_else(|| obj.get("parameters"));
        return Some(leaked(name.as_str()?, arguments));
    }
    // {"name":…,"arguments"|"parameters":…}
    let name = obj.get("name")?.as_str()?;
    if !keys_within(
        obj,
        &["name", "arguments", "parameters", "type", "id", "call_id"],
    ) {
        return None;
    }
    if obj
        .get("type")
        .is_some_and(|t| t != "function" && t != "tool_call")
    {
        return None;
    }
    let arguments = obj.get("arguments").or_else(|| obj.get("parameters"));
    if arguments.is_none() && !lenient {
        return None;
    }
    Some(leaked(name, arguments))
}

fn keys_within(obj: &Map<String, Value>, allowed: &[&str]) -> bool {
    obj.keys().all(|k| allowed.contains(&k.as_str()))
}

fn leaked(name: &str, arguments: Option<&Value>) -> LeakedCall {
    let arguments = match arguments {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    LeakedCall {
        chat_name: name.to_owned(),
        arguments,
    }
}

/// Widens `[start, end)` over a Markdown fence that holds nothing but the call.
fn extend_over_fence(text: &str, start: usize, end: usize) -> (usize, usize) {
    let before = text[..start].trim_end();
    let Some(ticks) = before.rfind("```") else {
        return (start, end);
    };
    if !before[ticks + 3..].chars().all(is_info_char) {
        return (start, end);
    }
    let after = &text[end..];
    let trimmed = after.trim_start();
    let Some(rest) = trimmed.strip_prefix("```") else {
        return (start, end);
    };
    if rest.chars().next().is_some_and(is_info_char) {
        return (start, end); // the opening fence of another block
    }
    (ticks, end + (after.len() - trimmed.len()) + 3)
}

/// `text` without the spans; the pieces trimmed and joined by a blank line (or a space when
/// the cut was inside a line).
fn cut(text: &str, spans: &[(usize, usize)]) -> String {
    let mut pieces: Vec<&str> = Vec::with_capacity(spans.len() + 1);
    let mut cursor = 0;
    for &(start, end) in spans {
        pieces.push(&text[cursor..start]);
        cursor = end;
    }
    pieces.push(&text[cursor..]);

    let mut out = String::with_capacity(text.len());
    let mut newline_pending = false;
    for (index, piece) in pieces.iter().enumerate() {
        let trimmed = piece.trim();
        let leading = &piece[..piece.len() - piece.trim_start().len()];
        if index > 0 && leading.contains('\n') {
            newline_pending = true;
        }
        if !trimmed.is_empty() {
            if !out.is_empty() {
                out.push_str(if newline_pending { "\n\n" } else { " " });
            }
            out.push_str(trimmed);
            newline_pending = false;
        }
        let trailing = &piece[piece.trim_end().len()..];
        if trailing.contains('\n') {
            newline_pending = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::translate::tools::ToolKind;

    fn tools() -> ToolMap {
        let mut map = ToolMap::default();
        map.declare(ToolKind::Function, None, "exec_command");
        map.declare(ToolKind::Function, None, "view_image");
        map.declare(ToolKind::Custom, None, "apply_patch");
        map.declare(ToolKind::Function, Some("mcp__demo"), "add_numbers");
        map
    }

    fn call(name: &str, arguments: &str) -> LeakedCall {
        LeakedCall {
            chat_name: name.to_owned(),
            arguments: arguments.to_owned(),
        }
    }

    #[test]
    fn each_leak_shape_is_recovered() {
        type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
        let cases: &[Case] = &[
            (
                "bare arguments object",
                r#"{"name": "exec_command", "arguments": {"cmd": "ls"}}"#,
                &[("exec_command", r#"{"cmd":"ls"}"#)],
            ),
            (
                "bare arguments string",
                r#"{"name":"exec_command","arguments":"{\"cmd\":\"ls\"}"}"#,
                &[("exec_command", r#"{"cmd":"ls"}"#)],
            ),
            (
                "parameters key",
                r#"{"name":"exec_command","parameters":{"cmd":"pwd"}}"#,
                &[("exec_command", r#"{"cmd":"pwd"}"#)],
            ),
            (
                "openai nested",
                r#"{"type":"function","function":{"name":"exec_command","arguments":"{\"cmd\":\"ls\"}"}}"#,
                &[("exec_command", r#"{"cmd":"ls"}"#)],
            ),
            (
                "tool_calls list",
                r#"{"tool_calls":[{"id":"x","type":"function","function":{"name":"exec_command","arguments":{"cmd":"a"}}},{"type":"function","function":{"name":"mcp__demo__add_numbers","arguments":{"a":1}}}]}"#,
                &[
                    ("exec_command", r#"{"cmd":"a"}"#),
                    ("mcp__demo__add_numbers", r#"{"a":1}"#),
                ],
            ),
            (
                "tool_name / tool_args",
                r#"{"tool_name":"exec_command","tool_args":{"cmd":"ls"}}"#,
                &[("exec_command", r#"{"cmd":"ls"}"#)],
            ),
            (
                "array of calls",
                r#"[{"name":"exec_command","arguments":{"cmd":"a"}},{"name":"view_image","arguments":{"path":"b.png"}}]"#,
                &[
                    ("exec_command", r#"{"cmd":"a"}"#),
                    ("view_image", r#"{"path":"b.png"}"#),
                ],
            ),
            (
                "tool_call tag",
                "<tool_call>\n{\"name\": \"exec_command\", \"arguments\": {\"cmd\": \"ls\"}}\n</tool_call>",
                &[("exec_command", r#"{"cmd":"ls"}"#)],
            ),
            (
                "several tags",
                "<tool_call>{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"a\"}}</tool_call>\n<tool_call>{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"b\"}}</tool_call>",
                &[
                    ("exec_command", r#"{"cmd":"a"}"#),
                    ("exec_command", r#"{"cmd":"b"}"#),
                ],
            ),
            (
                "tag without arguments",
                "<tool_call>{\"name\":\"view_image\"}</tool_call>",
                &[("view_image", "{}")],
            ),
            (
                "unclosed tag",
                "<tool_call>\n{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}}",
                &[("exec_command", r#"{"cmd":"ls"}"#)],
            ),
            (
                "fenced tag body",
                "<tool_call>\n```json\n{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}}\n```\n</tool_call>",
                &[("exec_command", r#"{"cmd":"ls"}"#)],
            ),
            (
                "json fence",
                "```json\n{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}}\n```",
                &[("exec_command", r#"{"cmd":"ls"}"#)],
            ),
            (
                "custom tool with raw patch",
                "{\"name\":\"apply_patch\",\"arguments\":\"*** Begin Patch\\n*** End Patch\\n\"}",
                &[("apply_patch", "*** Begin Patch\n*** End Patch\n")],
            ),
        ];
        let tools = tools();
        for (label, text, want) in cases {
            let (visible, calls) = recover_leaked_calls(text, &tools);
            let want: Vec<LeakedCall> = want.iter().map(|(n, a)| call(n, a)).collect();
            assert_eq!(calls, want, "{label}");
            assert_eq!(visible, "", "{label}: the call is cut from the text");
        }
    }

    #[test]
    fn text_around_a_leak_is_kept() {
        let tools = tools();
        let text = "I'll list the files.\n\n```json\n{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}}\n```\n\nThen I'll read them.";
        let (visible, calls) = recover_leaked_calls(text, &tools);
        assert_eq!(calls, [call("exec_command", r#"{"cmd":"ls"}"#)]);
        assert_eq!(visible, "I'll list the files.\n\nThen I'll read them.");

        let inline = "Running {\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}} now";
        let (visible, calls) = recover_leaked_calls(inline, &tools);
        assert_eq!(calls.len(), 1);
        assert_eq!(visible, "Running now");

        let tagged = "Let me check.\n<tool_call>{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}}</tool_call>";
        let (visible, calls) = recover_leaked_calls(tagged, &tools);
        assert_eq!(calls.len(), 1);
        assert_eq!(visible, "Let me check.");
    }

    #[test]
    fn text_that_is_not_a_declared_call_is_untouched() {
        let tools = tools();
        let cases = [
            "plain text without braces",
            "Use {\"name\": \"rm_rf\", \"arguments\": {}} to delete everything.",
            "<tool_call>{\"name\":\"undeclared\",\"arguments\":{}}</tool_call>",
            "{\"name\": \"exec_command\", \"version\": \"1.0.0\"}",
            "{\"name\": \"exec_command\"}",
            "The config {\"result\": {\"name\": \"exec_command\", \"arguments\": {}}} is data.",
            "[{\"name\":\"exec_command\",\"arguments\":{}},{\"name\":\"nope\",\"arguments\":{}}]",
            "{\"tool_calls\":[{\"type\":\"function\",\"function\":{\"name\":\"nope\",\"arguments\":\"{}\"}}]}",
            "fn main() { let x = {\"name\"}; }",
            "<tool_call>exec_command<arg_key>cmd</arg_key></tool_call>",
            "{\"name\": \"exec_command\", \"arguments\": {\"cmd\": \"ls\"",
            "a { \"function\": 1 } b",
        ];
        for text in cases {
            let (visible, calls) = recover_leaked_calls(text, &tools);
            assert!(calls.is_empty(), "{text}");
            assert_eq!(visible, text);
        }
        let (visible, calls) = recover_leaked_calls(
            "{\"name\":\"exec_command\",\"arguments\":{}}",
            &ToolMap::default(),
        );
        assert!(calls.is_empty(), "no declared tools, nothing recovered");
        assert!(!visible.is_empty());
    }

    #[test]
    fn nothing_to_do_without_candidates() {
        assert!(!may_contain_leak("hello world"));
        assert!(!may_contain_leak("fn f() { x }"));
        assert!(may_contain_leak("{\"name\":1}"));
        assert!(may_contain_leak("<tool_call>"));
    }

    #[test]
    fn long_text_is_fast_and_safe() {
        let tools = tools();
        let mut text =
            "fn f() { if a { b } }\n\"name\" [x] {\"k\": [1, {\"a\": 2}]}\n".repeat(5000);
        text.push_str("{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}}");
        let started = std::time::Instant::now();
        let (visible, calls) = recover_leaked_calls(&text, &tools);
        assert_eq!(calls.len(), 1);
        assert!(visible.len() < text.len());
        assert!(started.elapsed().as_secs() < 2, "scan stays fast");

        let deep = "[".repeat(2_000) + &"{\"name\":".repeat(2_000);
        let (visible, calls) = recover_leaked_calls(&deep, &tools);
        assert!(calls.is_empty());
        assert_eq!(visible, deep);
        let unclosed = "<tool_call>".repeat(2000);
        let (visible, _) = recover_leaked_calls(&unclosed, &tools);
        assert_eq!(visible, unclosed);
    }

    #[test]
    fn multibyte_text_is_cut_on_char_boundaries() {
        let tools = tools();
        let text =
            "Ünïcödé 🦀\n{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"échö\"}}\n終わり";
        let (visible, calls) = recover_leaked_calls(text, &tools);
        assert_eq!(calls, [call("exec_command", r#"{"cmd":"échö"}"#)]);
        assert_eq!(visible, "Ünïcödé 🦀\n\n終わり");
    }
}
