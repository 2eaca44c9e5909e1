//! The reasoning round trip, without server-side state.
//!
//! Thinking models (DeepSeek, Kimi, …) reject a tool turn whose assistant message lacks the
//! `reasoning_content` it was produced with. Codex keeps reasoning items in its history and
//! sends them back next turn with their `encrypted_content` untouched, so the bridge puts the
//! reasoning text there, **authenticated** with a key only this bridge (or bridges sharing its
//! key file) holds: a tampered blob, or a foreign one (OpenAI's real encrypted reasoning after a
//! provider switch), fails the check and is ignored — the history is then sent without it,
//! exactly as if the model had not reasoned.
//!
//! Format: `ccr1.` + base64url(HMAC-SHA256(key, payload) ‖ payload), payload = the UTF-8
//! reasoning text. The text is not secret (Codex shows it), only its origin matters.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::hmac;

/// Prefix of blobs this bridge writes (the version of the format).
const PREFIX: &str = "ccr1.";
/// Length of an HMAC-SHA256 tag.
const TAG_LEN: usize = 32;

/// The secret that authenticates reasoning blobs.
pub struct ReasoningKey {
    key: hmac::Key,
}

impl std::fmt::Debug for ReasoningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReasoningKey(…)")
    }
}

impl ReasoningKey {
    /// A key from secret bytes (at least 32 of them should be random).
    pub fn from_secret(secret: &[u8]) -> Self {
        ReasoningKey {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    /// Seals reasoning text into an `encrypted_content` value.
    pub fn seal(&self, text: &str) -> String {
        let tag = hmac::sign(&self.key, text.as_bytes());
        Self::encode(PREFIX, tag.as_ref(), text)
    }

    /// The reasoning text sealed in `blob`, or `None` when the blob is not ours, was tampered
    /// with, or is malformed. Never panics.
    pub fn open(&self, blob: &str) -> Option<String> {
        let (tag, payload) = Self::decode(PREFIX, blob)?;
        hmac::verify(&self.key, &payload, &tag).ok()?;
        String::from_utf8(payload).ok()
    }

    /// Seals another kind of text (e.g. a web-search record) under its own `prefix`. The prefix
    /// is authenticated with the text, so a blob of one kind never opens as another.
    pub fn seal_tagged(&self, prefix: &str, text: &str) -> String {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(prefix.as_bytes());
        context.update(text.as_bytes());
        Self::encode(prefix, context.sign().as_ref(), text)
    }

    /// The text [`Self::seal_tagged`] sealed under `prefix`, if `blob` is that and authentic.
    pub fn open_tagged(&self, prefix: &str, blob: &str) -> Option<String> {
        let (tag, payload) = Self::decode(prefix, blob)?;
        let mut signed = Vec::with_capacity(prefix.len() + payload.len());
        signed.extend_from_slice(prefix.as_bytes());
        signed.extend_from_slice(&payload);
        hmac::verify(&self.key, &signed, &tag).ok()?;
        String::from_utf8(payload).ok()
    }

    fn encode(prefix: &str, tag: &[u8], text: &str) -> String {
        let mut raw = Vec::with_capacity(TAG_LEN + text.len());
        raw.extend_from_slice(tag);
        raw.extend_from_slice(text.as_bytes());
        format!("{prefix}{}", URL_SAFE_NO_PAD.encode(raw))
    }

    /// `(tag, payload)` of a blob with `prefix`.
    fn decode(prefix: &str, blob: &str) -> Option<(Vec<u8>, Vec<u8>)> {
        let mut raw = URL_SAFE_NO_PAD.decode(blob.strip_prefix(prefix)?).ok()?;
        if raw.len() < TAG_LEN {
            return None;
        }
        let payload = raw.split_off(TAG_LEN);
        Some((raw, payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> ReasoningKey {
        ReasoningKey::from_secret(&[byte; 32])
    }

    #[test]
    fn sealed_text_opens_with_the_same_key() {
        let text = "The user wants a file; first list the folder. ünïcödé ✓";
        let blob = key(1).seal(text);
        assert!(blob.starts_with(PREFIX));
        assert_eq!(key(1).open(&blob).as_deref(), Some(text));
        assert_eq!(key(1).open(&key(1).seal("")).as_deref(), Some(""));
    }

    #[test]
    fn foreign_tampered_and_garbage_blobs_are_ignored() {
        let blob = key(1).seal("secret plan");
        assert_eq!(key(2).open(&blob), None, "another bridge's key");
        let mut tampered = blob.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(key(1).open(&String::from_utf8(tampered).unwrap()), None);
        for garbage in [
            "",
            "gAAAAABopaque-openai-blob",
            "ccr1.",
            "ccr1.!!!!",
            "ccr1.AAAA",
            "opaque",
        ] {
            assert_eq!(key(1).open(garbage), None, "{garbage}");
        }
    }
}
