//! Keeping ClawRouter's own request rewriting from changing what the model sees.
//!
//! ClawRouter (the default upstream) rewrites some requests before it forwards them, and the
//! bridge shapes its Chat body so that the rewriting changes nothing that matters
//! (`docs/ARCHITECTURE.md`, "Living with ClawRouter"):
//!
//! - **Whitespace.** A request body over 180 KB has the `content` of every message normalized
//!   when it is a plain string — CRLF → LF, three or more newlines → two, trailing spaces and
//!   tabs cut, runs of spaces after a character → one, tabs → two spaces, the whole text trimmed
//!   — but contents sent as an array of parts are left alone. File contents, diffs and pasted
//!   code would reach the model altered, and its next `apply_patch` would not match the file.
//!   [`protect_whitespace`] sends exactly the string contents those rules would change as one
//!   text part (`[{"type":"text","text":…}]`), which every OpenAI-compatible server reads as the
//!   same text.
//! - **Replayed errors.** ClawRouter answers an identical request body (hashed as canonical
//!   JSON, so key order and spacing do not count) from a 30-second memory, errors included, so
//!   Codex's retries of a failed turn would all get the first error back. [`nudge`] makes a
//!   retry's body differ: it appends newlines to the end of the last non-assistant message (sent
//!   as parts, so the whitespace rules cannot trim them away). The proxy asks for it only when
//!   the same body failed in the last 30 s.

use std::borrow::Cow;

use serde_json::value::RawValue;

use super::chat::{Content, Message, Part};
use super::text::OutText;

/// Sends every string content that ClawRouter's whitespace rules would change as one text
/// part. Returns whether any content changed form.
pub(super) fn protect_whitespace(messages: &mut [Message<'_>]) -> bool {
    let mut changed = false;
    for message in messages {
        let Some(content) = message.content_mut() else {
            continue;
        };
        if let Content::Text(text) = content {
            if rewritten_by_clawrouter(&decoded(text)) {
                content.make_parts();
                changed = true;
            }
        }
    }
    changed
}

/// True when ClawRouter's whitespace normalization would change `text` (checked without
/// building the normalized text). Its rules, in its order: `\r\n`/`\r` → `\n`; `\n{3,}` →
/// `\n\n`; `[ \t]+$` per line removed; `([^\n]) {2,}` → `$1 `; `^ {8,}` per line shortened;
/// `\t` → two spaces; trim. Empty strings are skipped by ClawRouter.
pub fn rewritten_by_clawrouter(text: &str) -> bool {
    let (Some(first), Some(last)) = (text.chars().next(), text.chars().next_back()) else {
        return false;
    };
    if first.is_whitespace() || last.is_whitespace() {
        return true;
    }
    let bytes = text.as_bytes();
    bytes.iter().enumerate().any(|(i, &b)| match b {
        b'\r' | b'\t' => true,
        // Trailing spaces on a line.
        b' ' if bytes.get(i + 1) == Some(&b'\n') => true,
        // Two spaces after any character but a newline (this also catches every indent of
        // three or more spaces, and so every indent of eight).
        b' ' if i > 0 && bytes[i - 1] != b'\n' && bytes.get(i + 1) == Some(&b' ') => true,
        b'\n' => bytes.get(i + 1) == Some(&b'\n') && bytes.get(i + 2) == Some(&b'\n'),
        _ => false,
    })
}

/// Appends `count` newlines to the end of the last message that is not the assistant's (the
/// user's request or a tool's output: never an assistant message, whose trailing whitespace
/// some providers reject), turning its content into parts so that ClawRouter keeps them.
pub(super) fn nudge(messages: &mut [Message<'_>], count: u32) {
    if count == 0 {
        return;
    }
    let Some(content) = messages
        .iter_mut()
        .rev()
        .filter(|m| !m.is_assistant())
        .find_map(Message::content_mut)
    else {
        return;
    };
    let suffix = "\n".repeat(count as usize);
    content.make_parts();
    let Content::Parts(parts) = content else {
        return;
    };
    match parts.last_mut() {
        Some(Part::Text { text }) => {
            let old = std::mem::replace(text, OutText::empty());
            *text = with_suffix(old, &suffix);
        }
        _ => parts.push(Part::Text {
            text: OutText::Plain(Cow::Owned(suffix)),
        }),
    }
}

/// The text of `text`, unescaped.
fn decoded<'t>(text: &'t OutText<'_>) -> Cow<'t, str> {
    match text {
        OutText::Plain(s) => Cow::Borrowed(s),
        OutText::Raw(raw) => unescape(raw),
        OutText::Joined(raw) => unescape(raw),
    }
}

fn unescape(raw: &RawValue) -> Cow<'_, str> {
    let quoted = raw.get();
    let inner = quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or("");
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    // The parser validated this string when it captured it; a failure would leave it as is.
    serde_json::from_str::<String>(quoted).map_or(Cow::Borrowed(inner), Cow::Owned)
}

/// `text` followed by `suffix` (newlines only).
fn with_suffix<'a>(text: OutText<'a>, suffix: &str) -> OutText<'a> {
    let raw = match text {
        OutText::Plain(s) => return OutText::Plain(Cow::Owned(format!("{s}{suffix}"))),
        OutText::Raw(raw) => raw.get().to_owned(),
        OutText::Joined(raw) => raw.get().to_owned(),
    };
    let mut escaped = raw;
    escaped.pop(); // the closing quote
    escaped.push_str(&suffix.replace('\n', "\\n"));
    escaped.push('"');
    match RawValue::from_string(escaped) {
        Ok(raw) => OutText::Joined(raw),
        // Unreachable: a valid JSON string with `\n` escapes appended is a valid JSON string.
        Err(_) => OutText::Plain(Cow::Owned(suffix.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::rewritten_by_clawrouter as rewritten;

    #[test]
    fn text_the_rules_leave_alone_stays_a_string() {
        for text in [
            "",
            "hello world",
            "line one\nline two\n\nparagraph",
            "fn main() {\n  two_space_indent();\n}",
            "a b c",
            "naïve — unicode · text",
        ] {
            assert!(!rewritten(text), "{text:?}");
        }
    }

    #[test]
    fn every_rule_is_detected() {
        for text in [
            "\tindented with a tab",
            "all:\n\tmake build",
            "windows\r\nline",
            "three\n\n\nnewlines",
            "trailing space \nnext",
            "double  space",
            "code\n    four_space_indent",
            "x\n        eight",
            " leading space",
            "trailing newline\n",
            "\nleading newline",
        ] {
            assert!(rewritten(text), "{text:?}");
        }
    }
}
