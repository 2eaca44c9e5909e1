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
//! **Streaming.** [`LeakHold`] runs the same recognisers on a growing text: it holds back only
//! the *suspect* span and releases everything before it at once:
//! - from a `<tool_call>` (or a prefix of it, `<`, `<tool`, … at the very end of the text) until
//!   its `</tool_call>` arrives;
//! - from a ```` ``` ```` fence opening until the fence's first non-blank character shows it
//!   does not start with `{"` / `[{` / `<tool_call>`;
//! - from a `{` followed (after blanks) by `"`, or a `[` followed by `{`, until a top-level key
//!   no call shape has shows it is data (released at once, and the rest of that value streams
//!   through unheld), or the value is complete (call → held to the end; else released);
//! - blanks before a candidate, and trailing blanks, go with it (so a cut call leaves no
//!   dangling blank line).
//!
//! A recognised call holds the rest of the text; at the end [`LeakHold::finish`] runs
//! [`recover_leaked_calls`] once on the held span (only when the turn has no structured calls).
//!
//! Both give the same result, whatever the pieces (`tests/properties/leaked.rs` checks it under
//! fuzzing): so the whole-text scan also passes over an object that is not JSON from the
//! top-level key that shows it is data, and over a closed `<tool_call>` with no call in it,
//! exactly as the stream releases them.

use serde_json::{Map, Value};

use super::tools::ToolMap;

const OPEN_TAG: &str = "<tool_call>";
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
    recover(text, tools, false)
}

/// [`recover_leaked_calls`] on a text that follows text already shown (`after_text`): the
/// visible text is then what follows the shown text in the whole text's result, separator
/// included.
fn recover(text: &str, tools: &ToolMap, after_text: bool) -> (String, Vec<LeakedCall>) {
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
    let mut previous_end = 0;
    let spans: Vec<(usize, usize)> = spans
        .into_iter()
        .map(|(start, end)| {
            let wide = extend_over_fence(text, start, end);
            // A fence that closed the previous call's block does not open this one's.
            let span = if wide.0 < previous_end {
                (start, end)
            } else {
                wide
            };
            previous_end = span.1;
            span
        })
        .collect();
    (cut(text, &spans, after_text), calls)
}

/// Every recoverable call group with its byte span, in text order, spans not overlapping.
fn scan(text: &str, tools: &ToolMap) -> Vec<(usize, usize, Vec<LeakedCall>)> {
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
        match step(text, at, &closes, tools) {
            Step::Found(end, calls) => {
                found.push((at, end, calls));
                i = end;
            }
            Step::Skip(end) => i = end,
            Step::Next => {
                // A closed tag that is not a call is passed over whole when nothing in it
                // (cut at its closing tag) is a call either: that is how [`LeakHold`]
                // streams it, so a candidate that starts inside it is not one here either.
                i = match closed_tag_end(text, at, &closes) {
                    Some(end) if !finds_call(&text[..end], at + 1, &closes, tools) => end,
                    _ => at + 1,
                };
            }
        }
    }
    found
}

/// What the candidate at `at` is.
enum Step {
    /// A call group ending at this offset.
    Found(usize, Vec<LeakedCall>),
    /// Data (JSON that is not a call): go on at this offset.
    Skip(usize),
    /// Nothing: go on at the next byte.
    Next,
}

fn step(text: &str, at: usize, closes: &[usize], tools: &ToolMap) -> Step {
    match text.as_bytes()[at] {
        b'<' if text[at..].starts_with(OPEN_TAG) => {
            if let Some((end, calls)) = parse_tag(text, at, closes, tools) {
                return Step::Found(end, calls);
            }
        }
        b'{' | b'[' => {
            if let Some((end, value)) = json_at(text, at) {
                // A parsed value is skipped whole: JSON nested in it is data.
                return match calls_from_value(&value, tools, false) {
                    Some(calls) => Step::Found(end, calls),
                    None => Step::Skip(end),
                };
            }
            if let Some(end) = data_end(text, at) {
                return Step::Skip(end);
            }
        }
        _ => {}
    }
    Step::Next
}

/// The end of the closing tag of a `<tool_call>` at `at`, if it has one.
fn closed_tag_end(text: &str, at: usize, closes: &[usize]) -> Option<usize> {
    if !text[at..].starts_with(OPEN_TAG) {
        return None;
    }
    let body_start = at + OPEN_TAG.len();
    closes
        .get(closes.partition_point(|&close| close < body_start))
        .map(|close| close + CLOSE_TAG.len())
}

/// Whether [`scan`] of `text` from `from` on finds a call group, tags that are not calls
/// passed over byte by byte (`text` ends with the closing tag they share).
fn finds_call(text: &str, from: usize, closes: &[usize], tools: &ToolMap) -> bool {
    let closes = &closes[..closes.partition_point(|&close| close + CLOSE_TAG.len() <= text.len())];
    let mut i = from;
    while let Some(offset) = text[i..].find(['{', '[', '<']) {
        let at = i + offset;
        match step(text, at, closes, tools) {
            Step::Found(..) => return true,
            Step::Skip(end) => i = end,
            Step::Next => i = at + 1,
        }
    }
    false
}

/// Where an object at `at` that is not JSON ends, when one of its top-level keys shows it is
/// data (no call has that key): its balanced end, or the end of the text. That is how
/// [`LeakHold`] streams it through, so call-shaped JSON after such a key is data here too.
/// `None` when the keys do not tell.
fn data_end(text: &str, at: usize) -> Option<usize> {
    let Candidate::Json {
        json_start,
        object: true,
    } = json_candidate(text, at)
    else {
        return None;
    };
    let mut scan = JsonScan::new(json_start, true);
    match scan.advance(text) {
        Scanned::NotACall => {
            scan.check_keys = false;
            match scan.advance(text) {
                Scanned::Closed(end) => Some(end),
                Scanned::Open | Scanned::NotACall => Some(text.len()),
            }
        }
        Scanned::Open | Scanned::Closed(_) => None,
    }
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
/// the cut was inside a line). The first piece keeps its leading blanks: a streamed text has
/// shown them before any call is seen. `after_text`: shown text precedes `text`, so a
/// separator goes before the first piece after a cut.
fn cut(text: &str, spans: &[(usize, usize)], after_text: bool) -> String {
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
        let trimmed = if index == 0 {
            piece.trim_end()
        } else {
            piece.trim()
        };
        let leading = &piece[..piece.len() - piece.trim_start().len()];
        if index > 0 && leading.contains('\n') {
            newline_pending = true;
        }
        if !trimmed.is_empty() {
            if !out.is_empty() || (after_text && index > 0) {
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

/// Keys a call-shaped object may have at its top level (every shape [`call_from_object`] and
/// [`calls_from_value`] accept). An object whose first keys include another one is data.
const CALL_KEYS: &[&str] = &[
    "name",
    "arguments",
    "parameters",
    "type",
    "id",
    "call_id",
    "index",
    "tool_name",
    "tool_args",
    "function",
    "tool_calls",
    "role",
    "content",
];

/// What the held span is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Hold {
    /// No candidate open: `held` is trailing blanks or an undecided prefix (`<tool`, `{`, `` ` ``).
    Free,
    /// A JSON value that may be a call starts at `json_start`.
    Json { json_start: usize, scan: JsonScan },
    /// A JSON object that is not a call: released as it arrives until it closes.
    Skip { scan: JsonScan },
    /// `<tool_call>` at `tag_start`, its closing tag searched from `search_from`.
    Tag {
        tag_start: usize,
        search_from: usize,
    },
    /// A call was recognised: everything from here to the end of the text is held.
    Captured,
}

/// An incremental scan of one JSON value: nesting, strings, and the top-level keys of an
/// object. Resumable at any byte, linear in the bytes seen.
#[derive(Debug, Clone, PartialEq, Eq)]
struct JsonScan {
    /// Offset (in `held`) of the next byte to scan.
    at: usize,
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// The value is an object and its top-level keys are checked against [`CALL_KEYS`].
    check_keys: bool,
    /// At depth 1 the next string is a key.
    expect_key: bool,
    /// Start of the key string being read at depth 1.
    key_start: Option<usize>,
}

/// The outcome of scanning further.
enum Scanned {
    /// The value is not finished yet.
    Open,
    /// The value ends just before this offset.
    Closed(usize),
    /// A top-level key shows the object is not a call.
    NotACall,
}

impl JsonScan {
    fn new(json_start: usize, object: bool) -> Self {
        JsonScan {
            at: json_start,
            depth: 0,
            in_string: false,
            escaped: false,
            check_keys: object,
            expect_key: false,
            key_start: None,
        }
    }

    fn advance(&mut self, text: &str) -> Scanned {
        let bytes = text.as_bytes();
        while self.at < bytes.len() {
            let i = self.at;
            let b = bytes[i];
            self.at += 1;
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                    if let Some(start) = self.key_start.take() {
                        if self.check_keys && !CALL_KEYS.contains(&&text[start..i]) {
                            return Scanned::NotACall;
                        }
                    }
                }
                continue;
            }
            match b {
                b'"' => {
                    self.in_string = true;
                    if self.depth == 1 && self.expect_key {
                        self.expect_key = false;
                        self.key_start = Some(i + 1);
                    }
                }
                b'{' | b'[' => {
                    self.depth += 1;
                    if self.depth == 1 {
                        self.expect_key = b == b'{';
                    }
                }
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Scanned::Closed(i + 1);
                    }
                }
                b',' if self.depth == 1 => self.expect_key = true,
                _ => {}
            }
        }
        Scanned::Open
    }
}

/// Leak recovery for a text that arrives in pieces: holds back only a span that may be a
/// leaked call and releases everything else at once. See the module documentation.
///
/// Rule: the held span starts at a candidate — `<tool_call>` (or a prefix of it at the end of
/// the text), a `{` followed by `"`, a `[` followed by `{`, a ```` ``` ```` fence whose first
/// non-blank character is one of those (each also while the next character is unknown) — together
/// with the blanks before it, and trailing blanks are held until something follows them.
/// - A JSON candidate is scanned incrementally; it is released as soon as one of its top-level
///   keys cannot belong to a call, or when it closes and is not a declared call.
/// - A `<tool_call>` is held until its closing tag, then released unless it is a declared call.
/// - A recognised call holds everything after it too, until [`LeakHold::finish`] decides: with
///   no structured calls in the turn, [`recover_leaked_calls`] runs once on the held span.
///
/// Work is linear in the text (each byte is scanned once; a candidate is parsed once when it
/// closes), and only the held span is kept.
#[derive(Debug)]
pub struct LeakHold {
    held: String,
    state: Hold,
    /// Offset in `held` where the search for the next candidate resumes (state `Free`).
    scan_from: usize,
}

impl Default for LeakHold {
    fn default() -> Self {
        Self::new()
    }
}

impl LeakHold {
    /// Nothing held.
    pub fn new() -> Self {
        LeakHold {
            held: String::new(),
            state: Hold::Free,
            scan_from: 0,
        }
    }

    /// True when nothing is held back.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// True once a held span was recognised as a call (the rest of the text is held).
    pub fn captured(&self) -> bool {
        self.state == Hold::Captured
    }

    /// Takes the next piece of text; appends to `release` what can be shown now.
    pub fn push(&mut self, piece: &str, tools: &ToolMap, release: &mut String) {
        self.held.push_str(piece);
        loop {
            match &mut self.state {
                Hold::Captured => return,
                Hold::Free => {
                    if !self.find_candidate(release) {
                        return;
                    }
                }
                Hold::Skip { scan } => match scan.advance(&self.held) {
                    Scanned::Closed(end) => {
                        self.release_to(end, release);
                        self.state = Hold::Free;
                    }
                    Scanned::Open | Scanned::NotACall => {
                        let at = scan.at;
                        self.release_to(at, release);
                        return;
                    }
                },
                Hold::Json { json_start, scan } => {
                    let json_start = *json_start;
                    match scan.advance(&self.held) {
                        Scanned::Open => return,
                        Scanned::NotACall => {
                            let mut scan = scan.clone();
                            scan.check_keys = false;
                            self.state = Hold::Skip { scan };
                        }
                        Scanned::Closed(end) => match json_at(&self.held, json_start) {
                            Some((parsed_end, value)) if parsed_end == end => {
                                if calls_from_value(&value, tools, false).is_some() {
                                    self.state = Hold::Captured;
                                    return;
                                }
                                self.release_to(end, release);
                                self.state = Hold::Free;
                            }
                            _ => {
                                // Balanced but not JSON: look again just after its first byte.
                                self.release_to(json_start + 1, release);
                                self.state = Hold::Free;
                            }
                        },
                    }
                }
                Hold::Tag {
                    tag_start,
                    search_from,
                } => {
                    let tag_start = *tag_start;
                    let Some(found) = self.held[*search_from..].find(CLOSE_TAG) else {
                        let mut from = self.held.len().saturating_sub(CLOSE_TAG.len() - 1);
                        while !self.held.is_char_boundary(from) {
                            from -= 1;
                        }
                        *search_from = from.max(*search_from);
                        return;
                    };
                    let end = *search_from + found + CLOSE_TAG.len();
                    let (_, calls) = recover_leaked_calls(&self.held[tag_start..end], tools);
                    if !calls.is_empty() {
                        self.state = Hold::Captured;
                        return;
                    }
                    self.release_to(end, release);
                    self.state = Hold::Free;
                }
            }
        }
    }

    /// Releases everything held (the turn has structured calls, or the caller gives up).
    pub fn flush(&mut self, release: &mut String) {
        release.push_str(&self.held);
        *self = Self::new();
    }

    /// The text ended: the held span is checked once with [`recover_leaked_calls`] (only when
    /// `allow_calls`). Returns the text still to show and the recovered calls. `after_text`:
    /// text was already shown before the held span; the returned text is then what
    /// [`recover_leaked_calls`] on the whole text gives after the shown text (a separator
    /// first when a call was cut right there, the held text's leading blanks when not).
    pub fn finish(
        &mut self,
        tools: &ToolMap,
        allow_calls: bool,
        after_text: bool,
    ) -> (String, Vec<LeakedCall>) {
        let held = std::mem::take(&mut self.held);
        *self = Self::new();
        if !allow_calls || held.is_empty() {
            return (held, Vec::new());
        }
        let (visible, calls) = recover(&held, tools, after_text);
        if calls.is_empty() {
            return (held, calls);
        }
        (visible, calls)
    }

    /// Moves `held[..end]` to `release`; offsets in the state are relative to the new start.
    fn release_to(&mut self, end: usize, release: &mut String) {
        release.push_str(&self.held[..end]);
        self.held.drain(..end);
        self.scan_from = self.scan_from.saturating_sub(end);
        if let Hold::Skip { scan } = &mut self.state {
            scan.at -= end;
            scan.key_start = None;
        }
    }

    /// State `Free`: releases up to the next candidate (or undecided prefix, or trailing
    /// blanks) and enters its state. False when the search must wait for more text.
    fn find_candidate(&mut self, release: &mut String) -> bool {
        let text = self.held.as_str();
        let bytes = text.as_bytes();
        let mut i = self.scan_from;
        while let Some(offset) = text[i..].find(['{', '[', '<', '`']) {
            let at = i + offset;
            let blanks = at - text[..at].trim_end().len();
            let start = at - blanks;
            match classify(text, at, bytes[at]) {
                Candidate::No(skip) => {
                    i = at + skip;
                    continue;
                }
                Candidate::Undecided => {
                    self.release_to(start, release);
                    self.scan_from = at - start;
                    return false;
                }
                Candidate::Json { json_start, object } => {
                    self.release_to(start, release);
                    let json_start = json_start - start;
                    self.state = Hold::Json {
                        json_start,
                        scan: JsonScan::new(json_start, object),
                    };
                    self.scan_from = 0;
                    return true;
                }
                Candidate::Tag { tag_start } => {
                    self.release_to(start, release);
                    let tag_start = tag_start - start;
                    self.state = Hold::Tag {
                        tag_start,
                        search_from: tag_start + "<tool_call>".len(),
                    };
                    self.scan_from = 0;
                    return true;
                }
            }
        }
        // No candidate: hold only the trailing blanks.
        let keep = text.len() - text.trim_end().len();
        let end = text.len() - keep;
        self.release_to(end, release);
        self.scan_from = self.held.len();
        false
    }
}

/// What a `{`, `[`, `<` or `` ` `` at `at` starts.
enum Candidate {
    /// Nothing: continue the search this many bytes further.
    No(usize),
    /// Cannot tell until more text arrives.
    Undecided,
    /// A JSON value that may be a call starts at `json_start`.
    Json { json_start: usize, object: bool },
    /// `<tool_call>` at `tag_start` (after a fence opening, or right at the candidate).
    Tag { tag_start: usize },
}

fn classify(text: &str, at: usize, byte: u8) -> Candidate {
    let rest = &text[at..];
    match byte {
        b'<' if rest.starts_with(OPEN_TAG) => Candidate::Tag { tag_start: at },
        b'<' if OPEN_TAG.starts_with(rest) => Candidate::Undecided,
        b'{' | b'[' => json_candidate(text, at),
        // A longer run of backticks: the whole-text scan takes its last three as the fence
        // ([`extend_over_fence`] looks back for the last "```"), so the stream does too.
        b'`' if rest.starts_with("````") => Candidate::No(1),
        b'`' if rest.starts_with("```") => {
            let after = &rest[3..];
            let info = after
                .find(|c: char| !is_info_char(c))
                .unwrap_or(after.len());
            let body = &after[info..];
            let inner = body.trim_start();
            if inner.is_empty() {
                return Candidate::Undecided;
            }
            let brace = at + 3 + info + (body.len() - inner.len());
            match inner.as_bytes()[0] {
                b'{' | b'[' => match json_candidate(text, brace) {
                    Candidate::No(_) => Candidate::No(3),
                    other => other,
                },
                // A tag in a fence: the fence is cut with it.
                b'<' => match classify(text, brace, b'<') {
                    Candidate::No(_) => Candidate::No(3),
                    other => other,
                },
                _ => Candidate::No(3),
            }
        }
        b'`' if "```".starts_with(rest) => Candidate::Undecided,
        _ => Candidate::No(1),
    }
}

fn json_candidate(text: &str, at: usize) -> Candidate {
    let after = text[at + 1..].trim_start();
    let Some(next) = after.as_bytes().first() else {
        return Candidate::Undecided;
    };
    match (text.as_bytes()[at], next) {
        (b'{', b'"') => Candidate::Json {
            json_start: at,
            object: true,
        },
        (b'[', b'{') => Candidate::Json {
            json_start: at,
            object: false,
        },
        _ => Candidate::No(1),
    }
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

    /// Streams `pieces` through a [`LeakHold`]: (text shown, calls).
    fn stream(pieces: &[&str], tools: &ToolMap) -> (String, Vec<LeakedCall>) {
        let mut hold = LeakHold::new();
        let mut shown = String::new();
        for piece in pieces {
            hold.push(piece, tools, &mut shown);
        }
        let (rest, calls) = hold.finish(tools, true, !shown.is_empty());
        shown.push_str(&rest);
        (shown, calls)
    }

    #[test]
    fn streaming_hold_matches_the_whole_text_at_every_split() {
        let tools = tools();
        let texts = [
            "I'll list the files.\n<tool_call>{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}}</tool_call>",
            "Running {\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}} now",
            "Step one.\n\n```json\n{\"name\": \"exec_command\", \"arguments\": {\"cmd\": \"ls\"}}\n```\nThen more.",
            "[{\"name\":\"exec_command\",\"arguments\":{}},{\"name\":\"view_image\",\"arguments\":{\"path\":\"a\"}}]",
            "{\"tool_calls\":[{\"type\":\"function\",\"function\":{\"name\":\"exec_command\",\"arguments\":\"{}\"}}]}",
            "fn main() { let x = {\"name\"}; } and [1, 2] and <b>bold</b> `code` ``` plain ```",
            "Use {\"name\": \"rm_rf\", \"arguments\": {}} to delete everything.",
            "The config {\"result\": {\"name\": \"exec_command\", \"arguments\": {}}} is data.",
            "<tool_call>{\"name\":\"undeclared\",\"arguments\":{}}</tool_call> after",
            "Ünïcödé 🦀\n{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"échö\"}}\n終わり",
            "unclosed <tool_call>{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}}",
            "text ending in blanks  \n",
            "almost <tool_ca",
            "{\"name\": \"exec_command\", \"arguments\": {\"cmd\": \"ls\"",
        ];
        for text in texts {
            let want = recover_leaked_calls(text, &tools);
            assert_eq!(stream(&[text], &tools), want, "{text}");
            for cut in 1..text.len() {
                if !text.is_char_boundary(cut) {
                    continue;
                }
                let (a, b) = text.split_at(cut);
                assert_eq!(stream(&[a, b], &tools), want, "{text} cut at {cut}");
            }
            let chars: Vec<String> = text.chars().map(String::from).collect();
            let pieces: Vec<&str> = chars.iter().map(String::as_str).collect();
            assert_eq!(stream(&pieces, &tools), want, "{text} char by char");
        }
    }

    /// Texts the leak fuzz target found (minimized, `tests/fuzz_properties.rs`): the stream
    /// and the whole-text scan disagreed on each, and the fourth made the scan panic.
    #[test]
    fn fuzz_findings_stream_as_the_whole_text_scans() {
        let tools = tools();
        let cases: &[(&str, &str, usize)] = &[
            // Not JSON, and its first key is data: passed over whole, the call in it too.
            (
                "{\"{\"name\":\"view_image\",\"arguments\":{\"\":\"\"}}",
                "{\"{\"name\":\"view_image\",\"arguments\":{\"\":\"\"}}",
                0,
            ),
            // Held text before the call: no separator between it and the text shown.
            ("[[{\"name\":\"exec_command\",\"arguments\":\"\"}", "[[", 1),
            // Leading blanks are kept (the stream shows them before any call is seen).
            (
                "\n\nSee {\"name\":\"view_image\",\"arguments\":{\"path\":\"a\"}} now",
                "\n\nSee now",
                1,
            ),
            // Two calls sharing a fence: the second is not widened over the first's fence.
            (
                "```{\"name\":\"apply_patch\",\"arguments\":\"\"}```{\"name\":\"apply_patch\",\"arguments\":\"\"}```",
                "```",
                2,
            ),
            // A closed tag without a call is passed over whole.
            (
                "<tool_call>{\"</tool_call>{\"name\":\"mcp__demo__add_numbers\",\"arguments\":{\"\":1}}",
                "<tool_call>{\"</tool_call>",
                1,
            ),
            // A fence opened by the last three of a longer run of backticks (here right after
            // inline code): cut from those three, as the whole-text scan does.
            (
                "}`code````json\n{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}}\n```",
                "}`code`",
                1,
            ),
            // A tag right after a fence opening: the fence is held, and cut with it.
            (
                "```<tool_call>{\"name\":\"exec_command\",\"arguments\":{}}</tool_call>```",
                "",
                1,
            ),
        ];
        for &(text, visible, calls) in cases {
            let whole = recover_leaked_calls(text, &tools);
            assert_eq!(
                (whole.0.as_str(), whole.1.len()),
                (visible, calls),
                "{text}"
            );
            for cut in 0..=text.len() {
                if text.is_char_boundary(cut) {
                    let (a, b) = text.split_at(cut);
                    assert_eq!(stream(&[a, b], &tools), whole, "{text} cut at {cut}");
                }
            }
        }
    }

    #[test]
    fn streaming_hold_releases_ordinary_text_at_once() {
        let tools = tools();
        let mut hold = LeakHold::new();
        let mut shown = String::new();
        hold.push("Hello world.", &tools, &mut shown);
        assert_eq!(shown, "Hello world.");
        hold.push(" Next <", &tools, &mut shown);
        assert_eq!(
            shown, "Hello world. Next",
            "blanks and a possible tag are held"
        );
        hold.push("b> {x} [1] ", &tools, &mut shown);
        assert_eq!(shown, "Hello world. Next <b> {x} [1]");
        hold.push("{\"path\": \"a\", ", &tools, &mut shown);
        assert_eq!(shown, "Hello world. Next <b> {x} [1] {\"path\": \"a\", ");
        hold.push("\"name\": \"exec_command\"}", &tools, &mut shown);
        assert!(
            shown.ends_with("\"exec_command\"}"),
            "data, not a call: {shown}"
        );
        assert!(hold.is_empty());
        hold.push(
            " {\"name\": \"exec_command\", \"arguments\": {}}",
            &tools,
            &mut shown,
        );
        assert!(hold.captured());
        hold.push(" trailing", &tools, &mut shown);
        assert!(
            shown.ends_with("\"exec_command\"}"),
            "held after a call: {shown}"
        );
        let (rest, calls) = hold.finish(&tools, false, true);
        assert!(calls.is_empty(), "calls not allowed");
        assert_eq!(
            rest,
            " {\"name\": \"exec_command\", \"arguments\": {}} trailing"
        );
        let mut hold = LeakHold::new();
        let mut shown = String::new();
        hold.push("a <tool_call>{", &tools, &mut shown);
        hold.flush(&mut shown);
        assert_eq!(shown, "a <tool_call>{");
    }

    #[test]
    fn streaming_hold_passes_long_and_adversarial_texts_through() {
        // (Its cost on such texts is measured by `cargo bench`, not asserted here.)
        let tools = tools();
        let text =
            "fn f() { if a { b } }\n\"name\" [x] {\"k\": [1, {\"a\": 2}]} <i>\n".repeat(4000);
        let mut hold = LeakHold::new();
        let mut shown = String::new();
        for piece in text.as_bytes().chunks(7) {
            hold.push(
                std::str::from_utf8(piece).expect("ascii"),
                &tools,
                &mut shown,
            );
        }
        let (rest, calls) = hold.finish(&tools, true, true);
        shown.push_str(&rest);
        assert!(calls.is_empty());
        assert_eq!(shown, text);
        let deep = "[{\"name\":".repeat(5_000);
        let mut hold = LeakHold::new();
        let mut shown = String::new();
        for piece in deep.as_bytes().chunks(5) {
            hold.push(
                std::str::from_utf8(piece).expect("ascii"),
                &tools,
                &mut shown,
            );
        }
        let (rest, calls) = hold.finish(&tools, true, false);
        shown.push_str(&rest);
        assert!(calls.is_empty());
        assert_eq!(shown, deep);
    }

    #[test]
    fn nothing_to_do_without_candidates() {
        assert!(!may_contain_leak("hello world"));
        assert!(!may_contain_leak("fn f() { x }"));
        assert!(may_contain_leak("{\"name\":1}"));
        assert!(may_contain_leak("<tool_call>"));
    }

    #[test]
    fn long_text_is_safe() {
        let tools = tools();
        let mut text =
            "fn f() { if a { b } }\n\"name\" [x] {\"k\": [1, {\"a\": 2}]}\n".repeat(5000);
        text.push_str("{\"name\":\"exec_command\",\"arguments\":{\"cmd\":\"ls\"}}");
        let (visible, calls) = recover_leaked_calls(&text, &tools);
        assert_eq!(calls.len(), 1);
        assert!(visible.len() < text.len());

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
