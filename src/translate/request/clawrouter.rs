//! Keeping ClawRouter's own request rewriting from changing what the model sees.
//!
//! ClawRouter (the default upstream) rewrites some requests before it forwards them, and the
//! bridge shapes its Chat body so that the rewriting changes nothing that matters (the README's
//! "ClawRouter specifics"):
//!
//! - **Compression of big bodies.** A request body over 180 KB has its messages "compressed"
//!   (ClawRouter v0.12.246, `src/proxy.ts` "Auto-compression", `src/compression/`): every
//!   string `content` gets its whitespace normalized — CRLF → LF, three or more newlines → two,
//!   trailing spaces and tabs cut, runs of spaces after a character → one (so every indent of
//!   three or more spaces shrinks), tabs → two spaces, the whole text trimmed — and a tool
//!   message whose string looks like JSON is re-serialized compactly. File contents, diffs and
//!   pasted code would reach the model altered, and its next `apply_patch` would not match the
//!   file. Every one of those layers (and the ones ClawRouter ships switched off) skips a
//!   content that is an array of parts. [`protect_whitespace`] therefore sends every non-empty
//!   string content as one text part (`[{"type":"text","text":…}]`), which OpenAI-compatible
//!   servers read as the same text. All of them, not only those the rules would change: the
//!   rules run in JavaScript (its `trim` and `^`/`$` know characters Rust's do not), the JSON
//!   layer has rules of its own, and a later ClawRouter may switch more layers on.
//!
//!   All but one: the first system message (the model's instructions) stays a string, because
//!   ClawRouter's router reads it only as a string. It classifies a request (`auto`, `eco`,
//!   `premium`) on that message and the last user message; without the instructions a long
//!   session's short follow-up would score as a simple request, and a pinned session would
//!   switch to a cheap model for it. Instructions are prose, which the whitespace rules do not
//!   hurt.
//!
//!   What else in ClawRouter reads message contents, checked with text parts: the role mapping,
//!   the 200-message cap, tool-id sanitizing and the empty `reasoning_content` it adds for
//!   thinking models work per message, whatever the content's form; its router joins the text
//!   parts of the last user message (the same text); cost estimates use the body's length (a
//!   part adds [`TEXT_PART_OVERHEAD`] bytes). The session key it derives from the first user
//!   message when a request has no `x-session-id` header differs between the two forms; the
//!   proxy sends Codex's thread id as that header.
//! - **Replayed errors.** ClawRouter answers an identical request body (hashed as canonical
//!   JSON, so key order and spacing do not count) from a 30-second memory, errors included, so
//!   Codex's retries of a failed turn would all get the first error back. [`nudge`] makes a
//!   retry's body differ: it appends newlines to the end of the last user or tool message (sent
//!   as parts, so the whitespace rules cannot trim them away). The proxy asks for it only when
//!   the same body failed in the last 30 s.

use std::borrow::Cow;

use serde_json::value::RawValue;

use super::chat::{Content, Message, Part};
use super::text::OutText;

/// Bytes that sending one string content as a text part adds to the Chat body: the
/// `[{"type":"text","text":` before the string and the `}]` after it.
pub(super) const TEXT_PART_OVERHEAD: usize = r#"[{"type":"text","text":}]"#.len();

/// Sends every non-empty string content but the first system message's as one text part.
/// Returns the indices of the messages whose content changed form (for
/// [`unprotect_whitespace`]).
pub(super) fn protect_whitespace(messages: &mut [Message<'_>]) -> Vec<usize> {
    let mut changed = Vec::new();
    let first_system = messages
        .iter()
        .position(|m| matches!(m, Message::System { .. }));
    for (i, message) in messages.iter_mut().enumerate() {
        if Some(i) == first_system {
            continue;
        }
        let Some(content) = message.content_mut() else {
            continue;
        };
        // ClawRouter leaves empty strings alone, and some providers refuse empty text parts.
        if matches!(content, Content::Text(text) if !text.is_empty()) {
            content.make_parts();
            changed.push(i);
        }
    }
    changed
}

/// Undoes [`protect_whitespace`] for the messages it `changed`.
pub(super) fn unprotect_whitespace(messages: &mut [Message<'_>], changed: &[usize]) {
    for &i in changed {
        if let Some(content) = messages.get_mut(i).and_then(Message::content_mut) {
            content.make_text();
        }
    }
}

/// Appends `count` newlines to the end of the last user or tool message (never an assistant
/// message, whose trailing whitespace some providers reject, nor the instructions, which
/// ClawRouter's router reads only as a string), turning its content into parts so that
/// ClawRouter keeps them.
pub(super) fn nudge(messages: &mut [Message<'_>], count: u32) {
    if count == 0 {
        return;
    }
    let Some(content) = messages
        .iter_mut()
        .rev()
        .filter(|m| matches!(m, Message::User { .. } | Message::Tool { .. }))
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
    use super::*;

    #[test]
    fn the_overhead_is_what_serde_writes_around_a_string() {
        let text = || OutText::Plain(Cow::Borrowed("a\tb"));
        let plain = serde_json::to_string(&Content::Text(text())).unwrap();
        let parts = serde_json::to_string(&Content::Parts(vec![Part::Text { text: text() }]));
        assert_eq!(parts.unwrap().len() - plain.len(), TEXT_PART_OVERHEAD);
    }
}
