//! Strings on their way from the Responses body to the Chat body.
//!
//! The big strings of a Codex request (tool outputs, file contents, data-URL images) are copied
//! into the Chat body in their *escaped* JSON form: [`JStr`] borrows a string exactly as it was
//! written in the request, and [`OutText`] writes it back verbatim. Nothing is unescaped and
//! re-escaped, which keeps multi-megabyte histories cheap. Joining several such strings is a
//! concatenation of their escaped contents, which is again a valid escaped string.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Unexpected, Visitor};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// A JSON string value as written in the request, quotes and escapes included.
#[derive(Clone, Copy, Debug)]
pub(crate) struct JStr<'a>(&'a RawValue);

impl<'a> JStr<'a> {
    /// `Some` when `raw` is a JSON string.
    pub(crate) fn from_raw(raw: &'a RawValue) -> Option<Self> {
        raw.get().starts_with('"').then_some(JStr(raw))
    }

    /// The string as written, quotes included.
    pub(super) fn raw(self) -> &'a RawValue {
        self.0
    }

    /// The escaped text between the quotes.
    pub(super) fn escaped(self) -> &'a str {
        let s = self.0.get();
        s.get(1..s.len().saturating_sub(1)).unwrap_or("")
    }

    pub(super) fn is_empty(self) -> bool {
        self.escaped().is_empty()
    }

    /// The string's value (unescaped; borrowed when it has no escapes).
    pub(crate) fn value(self) -> Cow<'a, str> {
        let escaped = self.escaped();
        if !escaped.contains('\\') {
            return Cow::Borrowed(escaped);
        }
        match serde_json::from_str::<String>(self.0.get()) {
            Ok(s) => Cow::Owned(s),
            // The parser checked every escape when it captured this string but not that
            // surrogate escapes pair up, so a lone one (JavaScript's `JSON.stringify` writes
            // one for half an emoji) has no UTF-8 form: it becomes U+FFFD, the rest decodes.
            Err(_) => Cow::Owned(decode_lossy(self.0.get())),
        }
    }
}

/// Decodes the JSON string `quoted` with every lone surrogate escape as U+FFFD: serde_json
/// reads a string as bytes without pairing surrogates, writing a lone one as its 3-byte
/// WTF-8 form (`ED A0..BF 80..BF`, never valid UTF-8), which is replaced by U+FFFD's 3 bytes.
fn decode_lossy(quoted: &str) -> String {
    struct Bytes;
    impl Visitor<'_> for Bytes {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Vec<u8>, E> {
            Ok(bytes.to_vec())
        }
    }
    let mut reader = serde_json::Deserializer::from_str(quoted);
    let Ok(mut bytes) = reader.deserialize_bytes(Bytes) else {
        // Unreachable for a string the parser captured; its text is the best left.
        return quoted.trim_matches('"').to_owned();
    };
    let mut at = 0;
    while at + 2 < bytes.len() {
        if bytes[at] == 0xED && (0xA0..=0xBF).contains(&bytes[at + 1]) {
            bytes[at..at + 3].copy_from_slice("\u{fffd}".as_bytes());
            at += 3;
        } else {
            at += 1;
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

impl<'de: 'a, 'a> Deserialize<'de> for JStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <&'de RawValue>::deserialize(d)?;
        JStr::from_raw(raw).ok_or_else(|| de::Error::invalid_type(unexpected(raw), &"a string"))
    }
}

/// What a raw JSON value is, for "invalid type" errors.
pub(super) fn unexpected(raw: &RawValue) -> Unexpected<'static> {
    match raw.get().as_bytes().first() {
        Some(b'{') => Unexpected::Map,
        Some(b'[') => Unexpected::Seq,
        Some(b't') => Unexpected::Bool(true),
        Some(b'f') => Unexpected::Bool(false),
        Some(b'n') => Unexpected::Unit,
        Some(b'"') => Unexpected::Other("string"),
        _ => Unexpected::Other("number"),
    }
}

/// The same, as words for messages built by hand.
pub(super) fn kind_name(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        Some(b'"') => "a string",
        _ => "a number",
    }
}

/// A short string (type tags, roles, names, ids): borrowed from the body unless it has escapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Str<'a>(pub(super) Cow<'a, str>);

impl std::ops::Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A string value of the Chat body.
#[derive(Debug)]
pub(super) enum OutText<'a> {
    /// Copied verbatim from the request.
    Raw(&'a RawValue),
    /// Several request strings joined, still escaped.
    Joined(Box<RawValue>),
    /// A plain Rust string, escaped when written.
    Plain(Cow<'a, str>),
}

impl OutText<'_> {
    pub(super) fn empty() -> Self {
        OutText::Plain(Cow::Borrowed(""))
    }

    /// True for the empty string.
    pub(super) fn is_empty(&self) -> bool {
        match self {
            OutText::Raw(raw) => raw.get() == "\"\"",
            OutText::Joined(raw) => raw.get() == "\"\"",
            OutText::Plain(s) => s.is_empty(),
        }
    }
}

impl Serialize for OutText<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            OutText::Raw(raw) => raw.serialize(s),
            OutText::Joined(raw) => raw.serialize(s),
            OutText::Plain(text) => s.serialize_str(text),
        }
    }
}

/// One piece of a text being assembled.
#[derive(Debug)]
pub(super) enum Piece<'a> {
    Json(JStr<'a>),
    Plain(Cow<'a, str>),
}

/// Text pieces joined into one [`OutText`] with a separator.
#[derive(Debug, Default)]
pub(super) struct TextJoin<'a> {
    pieces: Vec<Piece<'a>>,
}

impl<'a> TextJoin<'a> {
    pub(super) fn push_json(&mut self, s: JStr<'a>) {
        self.pieces.push(Piece::Json(s));
    }

    pub(super) fn push_plain(&mut self, s: impl Into<Cow<'a, str>>) {
        self.pieces.push(Piece::Plain(s.into()));
    }

    pub(super) fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// True when no piece has any characters.
    pub(super) fn is_blank(&self) -> bool {
        self.pieces.iter().all(|p| match p {
            Piece::Json(s) => s.is_empty(),
            Piece::Plain(s) => s.is_empty(),
        })
    }

    /// Cuts the start of the text that `strip` recognises (`strip` gets the first piece's text
    /// and returns what remains of it); true when it did. Only a first piece whose escaped text
    /// starts with `hint` (which has no character JSON escapes) is looked at, so other texts
    /// are never unescaped.
    pub(super) fn strip_start(&mut self, hint: &str, strip: impl Fn(&str) -> Option<&str>) -> bool {
        let rest = match self.pieces.first() {
            Some(Piece::Json(s)) if s.escaped().starts_with(hint) => {
                strip(&s.value()).map(str::to_owned)
            }
            Some(Piece::Plain(s)) if s.starts_with(hint) => strip(s).map(str::to_owned),
            _ => None,
        };
        match rest {
            Some(rest) => {
                self.pieces[0] = Piece::Plain(Cow::Owned(rest));
                true
            }
            None => false,
        }
    }

    pub(super) fn append(&mut self, other: TextJoin<'a>) {
        self.pieces.extend(other.pieces);
    }

    /// The pieces joined with `sep` between them.
    pub(super) fn finish(mut self, sep: &str) -> OutText<'a> {
        match self.pieces.len() {
            0 => return OutText::empty(),
            1 => {
                return match self.pieces.pop() {
                    Some(Piece::Json(s)) => OutText::Raw(s.0),
                    Some(Piece::Plain(s)) => OutText::Plain(s),
                    None => OutText::empty(),
                }
            }
            _ => {}
        }
        if self.pieces.iter().all(|p| matches!(p, Piece::Plain(_))) {
            return OutText::Plain(Cow::Owned(self.plain(sep)));
        }
        let len: usize = self
            .pieces
            .iter()
            .map(|p| match p {
                Piece::Json(s) => s.escaped().len(),
                Piece::Plain(s) => s.len() + 8,
            })
            .sum();
        let mut out = String::with_capacity(len + 2 + sep.len() * 2 * self.pieces.len());
        out.push('"');
        for (i, piece) in self.pieces.iter().enumerate() {
            if i > 0 {
                push_escaped(&mut out, sep);
            }
            match piece {
                Piece::Json(s) => out.push_str(s.escaped()),
                Piece::Plain(s) => push_escaped(&mut out, s),
            }
        }
        out.push('"');
        match RawValue::from_string(out) {
            Ok(raw) => OutText::Joined(raw),
            // Unreachable (every piece is a valid escaped string); fall back to unescaping.
            Err(_) => OutText::Plain(Cow::Owned(self.plain(sep))),
        }
    }

    fn plain(&self, sep: &str) -> String {
        let mut out = String::new();
        for (i, piece) in self.pieces.iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            match piece {
                Piece::Json(s) => out.push_str(&s.value()),
                Piece::Plain(s) => out.push_str(s),
            }
        }
        out
    }
}

/// Appends `s` escaped for the inside of a JSON string.
fn push_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
}

/// What a derived struct is called in "invalid type" errors.
pub(super) trait Expecting {
    const WHAT: &'static str;
}

/// A derived struct read from a JSON object only. (Derived structs also accept an array of
/// their fields by position, which no client means.)
pub(super) struct Obj<T>(pub(super) T);

impl<'de, T: Deserialize<'de> + Expecting> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Expecting> Visitor<'de> for V<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(T::WHAT)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData)).map(Obj)
    }
}
