//! Short excerpts of what a client sent, for error messages: an error says what was wrong and
//! where, and quotes the offending value only as far as a person needs to recognise it. A
//! 5 MB string in the wrong field, or 64 KiB of `Host`, must not come back whole in the
//! answer (nor land in a log line).
//!
//! [`quoted`] escapes a raw value (quotes, control characters) and cuts it; [`bounded`] cuts
//! text that is already escaped (a serde message naming the value). Both cut at a character
//! boundary and say how long the whole was.

/// Characters of a client's value an error quotes at most.
pub const VALUE_CHARS: usize = 64;

/// Characters of a whole error message at most (the what, the where and the fix fit well
/// within it; only a quoted value can make a message longer).
pub const MESSAGE_CHARS: usize = 1024;

/// `text` in double quotes with quotes, backslashes and control characters escaped, cut after
/// [`VALUE_CHARS`] characters: `"abc"`, or `"abcd…" (5000000 bytes)`.
pub fn quoted(text: &str) -> String {
    let cut = cut_point(text, VALUE_CHARS);
    let head = text.get(..cut).unwrap_or_default();
    let mut out = format!("{head:?}");
    if cut < text.len() {
        out.pop();
        out.push_str(&format!("…\" ({} bytes)", text.len()));
    }
    out
}

/// `text` cut after `max_chars` characters, with `… (N bytes in all)` when it was longer.
/// For text that is already escaped (such as a serde error message quoting a value).
pub fn bounded(text: &str, max_chars: usize) -> String {
    let cut = cut_point(text, max_chars);
    match text.get(..cut) {
        Some(head) if cut < text.len() => format!("{head}… ({} bytes in all)", text.len()),
        _ => text.to_owned(),
    }
}

/// The byte offset after `max_chars` characters of `text` (its length when shorter).
fn cut_point(text: &str, max_chars: usize) -> usize {
    text.char_indices()
        .nth(max_chars)
        .map_or(text.len(), |(at, _)| at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_quoted_whole_and_escaped() {
        assert_eq!(quoted("gpt-5"), "\"gpt-5\"");
        assert_eq!(quoted("a\"b\n"), "\"a\\\"b\\n\"");
    }

    #[test]
    fn long_values_are_cut_at_a_character_and_say_their_size() {
        let long = "é".repeat(5_000);
        let q = quoted(&long);
        assert!(q.starts_with(&format!("\"{}", "é".repeat(VALUE_CHARS))));
        assert!(q.ends_with("…\" (10000 bytes)"), "{q}");
        assert!(q.chars().count() < VALUE_CHARS + 30);
    }

    #[test]
    fn bounded_keeps_short_text_and_cuts_long_text() {
        assert_eq!(bounded("fine", 10), "fine");
        let cut = bounded(&"x".repeat(5_000_000), 100);
        assert_eq!(cut.len(), 100 + "… (5000000 bytes in all)".len());
    }
}
