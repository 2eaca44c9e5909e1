//! What the real ClawRouter (v0.12.246) does to a chat request before any model sees it, ported
//! from its source so tests can show the bridge living with it:
//!
//! - **Auto-compression** (`src/proxy.ts` "Auto-compression", `src/compression/index.ts`): a
//!   request body over 180 KB whose messages hold over 5,000 characters goes through the layers
//!   ClawRouter switches on, in its order — duplicate assistant messages removed
//!   (`layers/deduplication.ts`), the whitespace of every *string* `content` normalized
//!   (`layers/whitespace.ts`), tool-call arguments and JSON-looking string tool contents
//!   compacted (`layers/json-compact.ts`). Contents that are arrays of parts are skipped by all.
//! - **30 s replay** (`src/dedup.ts`): an identical body (canonical JSON: key order does not
//!   count), prefixed `sse:`/`json:` by the client's `stream`, is answered from memory for 30 s,
//!   failures included, whatever `Cache-Control` says.
//!
//! The rules run in JavaScript there; they are ported with its semantics (`String.trim`'s set
//! of whitespace, `^`/`$` at U+2028/U+2029 as well as at `\n`, lengths in UTF-16 units). Not
//! reproduced: `JSON.stringify`'s rewriting of numbers and escapes when it compacts JSON (the
//! port only drops the whitespace between tokens, which is all a test needs to see).

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use regex::{Captures, Regex};
use serde_json::Value;

use super::reply::Reply;

/// ClawRouter's `compressionThresholdKB` (compared with the body size rounded up to KB).
pub const COMPRESSION_THRESHOLD_KB: usize = 180;
/// `shouldCompress`: only when the messages hold more characters than this.
const MIN_CHARS: usize = 5000;

/// Compresses `body.messages` in place when ClawRouter would; returns how many message
/// contents it rewrote (whitespace or JSON), not counting removed duplicates.
pub fn compress(body: &mut Value, request_len: usize) -> usize {
    if request_len.div_ceil(1024) <= COMPRESSION_THRESHOLD_KB {
        return 0;
    }
    let Some(messages) = body.get_mut("messages").and_then(Value::as_array_mut) else {
        return 0;
    };
    if messages.is_empty() || messages.iter().map(total_chars).sum::<usize>() <= MIN_CHARS {
        return 0;
    }
    remove_duplicates(messages);
    let mut rewritten = 0;
    for message in messages.iter_mut() {
        let tool = message.get("role").and_then(Value::as_str) == Some("tool");
        if let Some(Value::String(text)) = message.get_mut("content") {
            // `!message.content` skips the empty string.
            if text.is_empty() {
                continue;
            }
            let mut new = normalize_whitespace(text);
            if tool && looks_like_json(&new) {
                new = compact_json(&new);
            }
            if new != *text {
                *text = new;
                rewritten += 1;
            }
        }
        if let Some(Value::Array(calls)) = message.get_mut("tool_calls") {
            for call in calls {
                if let Some(Value::String(args)) = call.pointer_mut("/function/arguments") {
                    *args = compact_json(args);
                }
            }
        }
    }
    rewritten
}

/// `calculateTotalChars`: a string content's length, an array content's `JSON.stringify`
/// length, plus that of `tool_calls` (JavaScript lengths: UTF-16 units).
fn total_chars(message: &Value) -> usize {
    let js_len = |s: &str| s.encode_utf16().count();
    let content = match message.get("content") {
        Some(Value::String(s)) => js_len(s),
        Some(parts @ Value::Array(_)) => js_len(&parts.to_string()),
        _ => 0,
    };
    let calls = match message.get("tool_calls") {
        None | Some(Value::Null) => 0,
        Some(calls) => js_len(&calls.to_string()),
    };
    content + calls
}

/// `deduplicateMessages`: a later copy of an assistant message is dropped (same content, name
/// and calls), unless its tool calls are answered by tool messages. Every other role is kept.
fn remove_duplicates(messages: &mut Vec<Value>) {
    let answered: HashSet<String> = messages
        .iter()
        .filter(|m| m["role"] == "tool")
        .filter_map(|m| m["tool_call_id"].as_str().map(str::to_owned))
        .collect();
    let mut seen = HashSet::new();
    messages.retain(|m| {
        let role = m["role"].as_str().unwrap_or_default();
        if matches!(role, "system" | "user" | "tool") {
            return true;
        }
        if let Some(calls) = m.get("tool_calls").and_then(Value::as_array) {
            if calls
                .iter()
                .any(|c| c["id"].as_str().is_some_and(|id| answered.contains(id)))
            {
                return true;
            }
        }
        let content = match &m["content"] {
            Value::String(s) => s.clone(),
            parts @ Value::Array(_) => parts.to_string(),
            _ => String::new(),
        };
        let calls = m.get("tool_calls").and_then(Value::as_array).map(|calls| {
            calls
                .iter()
                .map(|c| {
                    (
                        c["function"]["name"].to_string(),
                        c["function"]["arguments"].to_string(),
                    )
                })
                .collect::<Vec<_>>()
        });
        seen.insert((
            role.to_owned(),
            content,
            m["tool_call_id"].as_str().unwrap_or_default().to_owned(),
            m["name"].as_str().unwrap_or_default().to_owned(),
            calls,
        ))
    });
}

/// JavaScript's `String.prototype.trim` set: WhiteSpace and LineTerminator (it has U+FEFF,
/// which Rust's `char::is_whitespace` has not, and lacks U+0085, which Rust's has).
fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// `normalizeWhitespace` of `whitespace.ts`, rule for rule. With the `m` flag, JavaScript's `^`
/// and `$` also match at U+2028 and U+2029 (`\r` is gone by then).
pub fn normalize_whitespace(text: &str) -> String {
    static NEWLINES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\n{3,}").unwrap());
    // /[ \t]+$/gm
    static TRAILING: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"[ \t]+([\n\u{2028}\u{2029}]|\z)").unwrap());
    // /([^\n]) {2,}/g
    static SPACES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"([^\n]) {2,}").unwrap());
    // /^[ ]{8,}/gm
    static INDENT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(\A|[\n\u{2028}\u{2029}]) {8,}").unwrap());
    let s = text.replace("\r\n", "\n").replace('\r', "\n");
    let s = NEWLINES.replace_all(&s, "\n\n");
    let s = TRAILING.replace_all(&s, "$1");
    let s = SPACES.replace_all(&s, "$1 ");
    let s = INDENT.replace_all(&s, |c: &Captures| {
        let spaces = c[0].len() - c[1].len();
        format!("{}{}", &c[1], "  ".repeat(spaces.div_ceil(4)))
    });
    let s = s.replace('\t', "  ");
    s.trim_matches(is_js_whitespace).to_owned()
}

/// `looksLikeJson`: trimmed, it starts with `{` and ends with `}`, or `[` and `]`.
fn looks_like_json(text: &str) -> bool {
    let t = text.trim_matches(is_js_whitespace);
    (t.starts_with('{') && t.ends_with('}')) || (t.starts_with('[') && t.ends_with(']'))
}

/// `compactJson`: valid JSON without the whitespace between its tokens; anything else as is.
fn compact_json(text: &str) -> String {
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
}

/// ClawRouter's 30 s memory of finished requests.
pub struct Replay {
    window: Duration,
    finished: HashMap<u64, (Instant, Reply)>,
}

impl Replay {
    pub fn new(window: Duration) -> Self {
        Replay {
            window,
            finished: HashMap::new(),
        }
    }

    /// The dedup key of a request body (`dedup.ts`: canonical JSON, stream prefix).
    pub fn key(body: &Value) -> u64 {
        let stream = body.get("stream").and_then(Value::as_bool) == Some(true);
        let mut hasher = DefaultHasher::new();
        // serde_json's map is sorted by key, so this is the canonical form.
        (if stream { "sse" } else { "json" }, body.to_string()).hash(&mut hasher);
        hasher.finish()
    }

    /// The reply to replay for `key`, if one finished within the window.
    pub fn replay(&mut self, key: u64) -> Option<Reply> {
        let window = self.window;
        self.finished.retain(|_, (at, _)| at.elapsed() < window);
        self.finished.get(&key).map(|(_, reply)| reply.clone())
    }

    pub fn remember(&mut self, key: u64, reply: &Reply) {
        self.finished.insert(key, (Instant::now(), reply.clone()));
    }
}
