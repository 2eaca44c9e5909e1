//! What the real ClawRouter (v0.12.246) does to a chat request before any model sees it, ported
//! from its source so tests can show the bridge living with it:
//!
//! - **Auto-compression** (`proxy.ts` "Auto-compression", `compression/layers/whitespace.ts`):
//!   a request body over 180 KB whose message contents hold over 5,000 characters has the
//!   whitespace of every *string* `content` normalized; arrays of parts are skipped.
//! - **30 s replay** (`dedup.ts`): an identical body (canonical JSON: key order does not count),
//!   prefixed `sse:`/`json:` by the client's `stream`, is answered from memory for 30 s,
//!   failures included, whatever `Cache-Control` says.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::Value;

use super::reply::Reply;

/// ClawRouter's `compressionThresholdKB` (compared with the body size rounded up to KB).
pub const COMPRESSION_THRESHOLD_KB: usize = 180;
/// `shouldCompress`: only when the message contents hold more characters than this.
const MIN_CHARS: usize = 5000;

/// Normalizes the whitespace of `messages[].content` strings in place when ClawRouter would;
/// returns how many contents it changed.
pub fn compress(body: &mut Value, request_len: usize) -> usize {
    if request_len.div_ceil(1024) <= COMPRESSION_THRESHOLD_KB {
        return 0;
    }
    let Some(messages) = body.get_mut("messages").and_then(Value::as_array_mut) else {
        return 0;
    };
    let chars: usize = messages.iter().map(content_chars).sum();
    if chars <= MIN_CHARS {
        return 0;
    }
    let mut changed = 0;
    for message in messages {
        if let Some(Value::String(text)) = message.get_mut("content") {
            if text.is_empty() {
                continue;
            }
            let normalized = normalize_whitespace(text);
            if normalized != *text {
                *text = normalized;
                changed += 1;
            }
        }
    }
    changed
}

/// `calculateTotalChars`: string contents, and the text of text parts.
fn content_chars(message: &Value) -> usize {
    match message.get("content") {
        Some(Value::String(s)) => s.chars().count(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .map(|t| t.chars().count())
            .sum(),
        _ => 0,
    }
}

/// `normalizeWhitespace` of `whitespace.ts`, rule for rule.
pub fn normalize_whitespace(text: &str) -> String {
    static NEWLINES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\n{3,}").unwrap());
    static TRAILING: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?m)[ \t]+$").unwrap());
    static SPACES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"([^\n]) {2,}").unwrap());
    static INDENT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?m)^[ ]{8,}").unwrap());
    let s = text.replace("\r\n", "\n").replace('\r', "\n");
    let s = NEWLINES.replace_all(&s, "\n\n");
    let s = TRAILING.replace_all(&s, "");
    let s = SPACES.replace_all(&s, "$1 ");
    let s = INDENT.replace_all(&s, |c: &regex::Captures| {
        "  ".repeat(c[0].len().div_ceil(4))
    });
    let s = s.replace('\t', "  ");
    s.trim().to_owned()
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
