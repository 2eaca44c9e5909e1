//! The properties the fuzz targets check, shared by the two drivers that run them:
//!
//! - `fuzz/fuzz_targets/*.rs` (cargo-fuzz, libFuzzer: coverage-guided, minutes to hours);
//! - `tests/fuzz_properties.rs` (proptest, on stable, a bounded number of cases in every
//!   `cargo test`).
//!
//! Both include this directory with `#[path]`, so there is one definition of every
//! invariant. Each `check` takes the raw input bytes, builds the inputs from them
//! ([`Input`]: leading control bytes, then either raw bytes or a structured input built with
//! `arbitrary` from the rest) and panics when a property does not hold:
//!
//! - [`request::check`]: the request translator (`request_to_chat`);
//! - [`stream::check`]: the SSE parser and the stream translator, under arbitrary chunking;
//! - [`leaked::check`]: the leaked-tool-call scanner, whole and streaming;
//! - [`config::check`]: the YAML config loader (never resolving a name through DNS).
//!
//! A panic in the code under test is a finding like a broken property.

#![allow(dead_code)]

pub mod config;
pub mod leaked;
pub mod request;
pub mod stream;

use arbitrary::Unstructured;
use serde_json::{Map, Value};

/// The control bytes every input starts with, and what follows them.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// Option bits (what each means is up to the property).
    pub flags: u8,
    /// Seed of the split points ([`pieces`]).
    pub seed: u64,
    /// The rest of the input.
    pub rest: &'a [u8],
}

impl<'a> Input<'a> {
    /// Bytes 0 (flags) and 1..9 (split seed, little-endian) are control bytes; a shorter input
    /// reads as zeros there.
    pub fn parse(data: &'a [u8]) -> Self {
        let flags = data.first().copied().unwrap_or(0);
        let mut seed = [0u8; 8];
        let head = data.get(1..).unwrap_or(&[]);
        let n = head.len().min(8);
        seed[..n].copy_from_slice(&head[..n]);
        Input {
            flags,
            seed: u64::from_le_bytes(seed),
            rest: data.get(9..).unwrap_or(&[]),
        }
    }

    pub fn flag(&self, bit: u8) -> bool {
        self.flags & (1 << bit) != 0
    }
}

/// A deterministic split of `len` bytes into pieces from `seed`: lengths drawn from 0 (an
/// empty read) up to a maximum that the seed picks too (1, 2, 7, 64 or 4096 bytes), so inputs
/// are cut byte by byte, in small pieces or in big ones. Returns the end offset of every piece.
pub fn pieces(len: usize, seed: u64) -> Vec<usize> {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let max = [1usize, 2, 7, 64, 4096][(next() % 5) as usize];
    let mut ends = Vec::new();
    let mut at = 0;
    while at < len {
        at = (at + (next() as usize % (max + 1))).min(len);
        ends.push(at);
    }
    ends
}

/// [`pieces`] moved forward onto UTF-8 character boundaries of `text`.
pub fn char_pieces(text: &str, seed: u64) -> Vec<usize> {
    pieces(text.len(), seed)
        .into_iter()
        .map(|mut end| {
            while !text.is_char_boundary(end) {
                end += 1;
            }
            end
        })
        .collect()
}

/// Builds structured values from the input bytes; every method returns a value even when the
/// bytes run out (then the first choice, zero, false, empty).
pub struct Gen<'a> {
    pub u: Unstructured<'a>,
}

impl<'a> Gen<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Gen {
            u: Unstructured::new(data),
        }
    }

    /// 0..=max.
    pub fn int(&mut self, max: u32) -> u32 {
        self.u.int_in_range(0..=max).unwrap_or(0)
    }

    pub fn bool(&mut self) -> bool {
        self.u.arbitrary().unwrap_or(false)
    }

    /// One of `options` (not empty).
    pub fn one<T: Clone>(&mut self, options: &[T]) -> T {
        options[self.int(options.len() as u32 - 1) as usize].clone()
    }

    /// Any string (arbitrary UTF-8), at most `max` bytes.
    pub fn any_string(&mut self, max: usize) -> String {
        let mut s: String = self.u.arbitrary().unwrap_or_default();
        if s.len() > max {
            let mut end = max;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
        }
        s
    }

    /// A text: empty, words, characters that need escaping, arbitrary UTF-8, or a repeat.
    pub fn text(&mut self) -> String {
        match self.int(6) {
            0 => String::new(),
            1 => self
                .one(&["hello", "Say hello.", "ls -la", "fn main() {}", " ", "\n\n"])
                .to_owned(),
            2 => self
                .one(&[
                    "é🦀\u{2028}\u{0}\"\\\t\r\n",
                    "\u{feff}bom",
                    "<think>why</think>answer",
                    "```json\n{\"a\":1}\n```",
                    "\\ud83e\\udd80 not an escape",
                ])
                .to_owned(),
            3 => {
                let n = self.int(40) as usize;
                self.one(&["ab ", "é", "{\"k\":", "\n", "  "]).repeat(n)
            }
            _ => self.any_string(256),
        }
    }

    /// Any JSON value, at most `depth` levels deep.
    pub fn json(&mut self, depth: u32) -> Value {
        let kinds = if depth == 0 { 4 } else { 6 };
        match self.int(kinds) {
            0 => Value::Null,
            1 => Value::Bool(self.bool()),
            2 => Value::from(self.u.arbitrary::<i64>().unwrap_or(0)),
            3 => {
                let f = self.u.arbitrary::<f64>().unwrap_or(0.5);
                serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
            }
            4 => Value::String(self.text()),
            5 => {
                let n = self.int(4);
                Value::Array((0..n).map(|_| self.json(depth - 1)).collect())
            }
            _ => {
                let n = self.int(4);
                let mut map = Map::new();
                for _ in 0..n {
                    let key = self.one(&["type", "name", "content", "text", "id", "x", ""]);
                    let value = self.json(depth - 1);
                    map.insert(key.to_owned(), value);
                }
                Value::Object(map)
            }
        }
    }
}

/// The key the properties seal and open reasoning and search records with.
pub fn key() -> std::sync::Arc<clawrouter_codex::translate::reasoning::ReasoningKey> {
    std::sync::Arc::new(clawrouter_codex::translate::reasoning::ReasoningKey::from_secret(&[7; 32]))
}

/// Replaces generated ids (item ids, fresh call ids) by their order of appearance, so two
/// translations of the same answer compare equal. A sealed web-search record (which holds
/// call ids) is opened into its JSON first.
pub fn normalize_ids(value: &mut Value, ids: &mut std::collections::HashMap<String, String>) {
    match value {
        Value::Object(obj) => {
            for (k, v) in obj.iter_mut() {
                if k == "encrypted_content" {
                    let record = v
                        .as_str()
                        .and_then(|blob| key().open_tagged("ccs1.", blob))
                        .and_then(|json| serde_json::from_str::<Value>(&json).ok());
                    if let Some(record) = record {
                        *v = record;
                    }
                }
                if matches!(k.as_str(), "id" | "item_id" | "call_id") {
                    if let Value::String(s) = v {
                        let n = ids.len();
                        *s = ids.entry(s.clone()).or_insert(format!("id{n}")).clone();
                    }
                } else {
                    normalize_ids(v, ids);
                }
            }
        }
        Value::Array(list) => list.iter_mut().for_each(|v| normalize_ids(v, ids)),
        _ => {}
    }
}
