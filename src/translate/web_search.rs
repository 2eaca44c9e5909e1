//! Web search run by the bridge: the pure parts (no I/O).
//!
//! Codex's own `web_search` is a hosted tool that only OpenAI's backend runs. When web search is
//! on, the bridge offers the model a `web_search` *function* instead ([`tool_definition`]), runs
//! each call itself through the upstream's search endpoint (ClawRouter: `POST /v1/exa/search`,
//! wallet-paid), feeds the results back ([`results_text`], [`failure_text`]) and calls the model
//! again; Codex sees each search as a `web_search_call` item. The proxy drives that loop
//! (`proxy::web_search`); this module holds the shapes:
//!
//! - [`SearchCall`]: the model's call, its arguments read leniently (`query`, optional
//!   `num_results`).
//! - [`request_body`]: what the search endpoint gets (`{"query","numResults"}`).
//! - [`read_results`]: what it answered — results under `results`, `data.results` or
//!   `response.results`; each hit's text from `summary`, `description`, `snippet`, `excerpt`,
//!   `highlights` or `text` (the fields ClawRouter's own reader accepts).
//! - [`SearchRecord`]: the searches of one model call with their results, sealed into the
//!   `encrypted_content` of a reasoning item so that the next turn — Codex resends its history,
//!   the bridge keeps nothing — can show the model the same calls and results again.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::reasoning::ReasoningKey;

/// The Chat function the model calls to search.
pub const TOOL_NAME: &str = "web_search";

/// Most results one search returns.
pub const MAX_RESULTS: u32 = 10;

/// How much of one hit's text the model gets.
const HIT_TEXT_CHARS: usize = 600;

/// Prefix of sealed search records (the reasoning key authenticates them).
const RECORD_PREFIX: &str = "ccs1.";

/// The description of the `web_search` function offered to the model.
pub const TOOL_DESCRIPTION: &str = "Search the web for current information: news, \
documentation, releases, prices, anything after your training data or that you are not sure \
of. Returns the top results with title, URL, date and an excerpt. Cite the URLs you use.";

/// The parameters of the `web_search` function offered to the model.
pub fn tool_parameters(max_results: u32) -> Value {
    json!({
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "What to search for."},
            "num_results": {
                "type": "integer",
                "minimum": 1,
                "maximum": max_results,
                "description": format!("How many results (1-{max_results}, default {max_results})."),
            }
        },
        "required": ["query"],
        "additionalProperties": false
    })
}

/// One search the model asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchCall {
    /// The Chat tool call id (also the `web_search_call` item's identity).
    pub call_id: String,
    /// The arguments exactly as the model wrote them (sent back in the next request).
    pub arguments: String,
    /// The query; empty when the arguments held none (the search then fails as such).
    pub query: String,
    /// Results wanted, within 1..=the configured maximum.
    pub num_results: u32,
}

impl SearchCall {
    /// Reads a call's arguments: a JSON object with `query` (or `q`) and optional
    /// `num_results` (or `numResults`, `count`); a bare string is the query itself.
    pub fn new(call_id: String, arguments: String, max_results: u32) -> Self {
        let value: Option<Value> = serde_json::from_str(&arguments).ok();
        let query = match &value {
            Some(Value::Object(args)) => ["query", "q"]
                .iter()
                .find_map(|k| args.get(*k).and_then(Value::as_str))
                .unwrap_or(""),
            Some(Value::String(query)) => query,
            _ => "",
        }
        .trim()
        .to_owned();
        let wanted = value.as_ref().and_then(|v| {
            ["num_results", "numResults", "count"]
                .iter()
                .find_map(|k| v.get(*k).and_then(Value::as_u64))
        });
        let max = max_results.clamp(1, MAX_RESULTS);
        let num_results = wanted.map_or(max, |n| n.clamp(1, u64::from(max)) as u32);
        SearchCall {
            call_id,
            arguments,
            query,
            num_results,
        }
    }
}

/// The search endpoint's request body.
pub fn request_body(call: &SearchCall) -> Vec<u8> {
    json!({"query": call.query, "numResults": call.num_results})
        .to_string()
        .into_bytes()
}

/// One result of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The page title; the URL when the result has none.
    pub title: String,
    /// The page address (`url`, else `link`); results without one are skipped.
    pub url: String,
    /// The publication date as the endpoint wrote it (`publishedDate`); `None` when absent.
    pub date: Option<String>,
    /// The excerpt (summary, description, snippet, highlights…); empty when there is none.
    pub text: String,
}

/// The hits of a search endpoint's answer; `Err` says why there are none to read.
pub fn read_results(body: &[u8]) -> Result<Vec<Hit>, String> {
    let value: Value = serde_json::from_slice(body).map_err(|_| "the answer is not JSON")?;
    let results = [
        value.get("results"),
        value.pointer("/data/results"),
        value.pointer("/response/results"),
    ]
    .into_iter()
    .flatten()
    .find_map(Value::as_array)
    .ok_or("the answer has no results list")?;
    let text_of = |hit: &Value| -> String {
        for key in [
            "summary",
            "description",
            "snippet",
            "excerpt",
            "highlights",
            "text",
        ] {
            match hit.get(key) {
                Some(Value::String(s)) if !s.trim().is_empty() => return s.trim().to_owned(),
                Some(Value::Array(parts)) if !parts.is_empty() => {
                    let joined: Vec<&str> = parts.iter().filter_map(Value::as_str).collect();
                    if !joined.is_empty() {
                        return joined.join(" … ");
                    }
                }
                _ => {}
            }
        }
        String::new()
    };
    let field = |hit: &Value, key: &str| {
        hit.get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let hits: Vec<Hit> = results
        .iter()
        .filter_map(|hit| {
            let url = field(hit, "url").or_else(|| field(hit, "link"))?;
            Some(Hit {
                title: field(hit, "title").unwrap_or_else(|| url.clone()),
                date: field(hit, "publishedDate").or_else(|| field(hit, "published_date")),
                text: text_of(hit),
                url,
            })
        })
        .collect();
    if hits.is_empty() {
        return Err("the search found nothing".to_owned());
    }
    Ok(hits)
}

/// The tool result for a search that worked: one block per hit, text cut to ~600 characters.
pub fn results_text(query: &str, hits: &[Hit]) -> String {
    let mut out = format!("Web search results for \"{query}\":\n");
    for (i, hit) in hits.iter().enumerate() {
        out.push_str(&format!("\n{}. {}\n   {}", i + 1, hit.title, hit.url));
        if let Some(date) = &hit.date {
            out.push_str(&format!(" ({date})"));
        }
        out.push('\n');
        if !hit.text.is_empty() {
            let text = match hit.text.char_indices().nth(HIT_TEXT_CHARS) {
                Some((cut, _)) => format!("{}…", &hit.text[..cut]),
                None => hit.text.clone(),
            };
            out.push_str(&format!("   {}\n", text.replace('\n', " ")));
        }
    }
    out
}

/// The tool result for a search that failed: the model is told so and can answer without it.
pub fn failure_text(query: &str, reason: &str) -> String {
    format!(
        "The web search for \"{query}\" failed: {reason}. Answer from what you know and say \
         that the search did not work, or try a different query."
    )
}

/// What the model is told when it may not search any more.
pub const NO_MORE_SEARCHES: &str =
    "No more web searches are available for this answer. Answer now with what you found.";

/// The Chat request for the next model call of a search loop: `previous` (the last request)
/// with `messages` (the assistant's search calls and their results) appended; with
/// `answer_now`, `tool_choice` becomes `none` so the model answers instead of searching again.
pub fn follow_up_body(
    previous: &[u8],
    messages: Vec<Value>,
    answer_now: bool,
) -> Result<Vec<u8>, String> {
    let mut body: Value = serde_json::from_slice(previous)
        .map_err(|e| format!("the previous request is not JSON: {e}"))?;
    let list = body
        .get_mut("messages")
        .and_then(Value::as_array_mut)
        .ok_or("the previous request has no messages")?;
    list.extend(messages);
    if answer_now {
        if let Some(fields) = body.as_object_mut() {
            if fields.contains_key("tools") {
                fields.insert("tool_choice".to_owned(), Value::from("none"));
                fields.remove("parallel_tool_calls");
            }
        }
    }
    serde_json::to_vec(&body).map_err(|e| e.to_string())
}

/// One search of a model call, as the model saw it: the call and the tool result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedSearch {
    /// Chat tool call id.
    pub id: String,
    /// The call's arguments as the model wrote them.
    pub arguments: String,
    /// The tool result the model got.
    pub result: String,
}

/// The searches of one model call, carried to the next turn in a reasoning item.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SearchRecord {
    /// In the order the model called them.
    pub searches: Vec<RecordedSearch>,
}

impl SearchRecord {
    /// Seals the record into an `encrypted_content` value.
    pub fn seal(&self, key: &ReasoningKey) -> String {
        let json = serde_json::to_string(self).unwrap_or_default();
        key.seal_tagged(RECORD_PREFIX, &json)
    }

    /// The record sealed in `blob`; `None` when it is not one of ours (or was tampered with).
    pub fn open(key: &ReasoningKey, blob: &str) -> Option<SearchRecord> {
        let json = key.open_tagged(RECORD_PREFIX, blob)?;
        serde_json::from_str(&json).ok()
    }

    /// True when `blob` looks like a sealed record (whether or not it opens).
    pub fn is_record(blob: &str) -> bool {
        blob.starts_with(RECORD_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_read_leniently_and_clamped() {
        let call = SearchCall::new(
            "c".into(),
            r#"{"query":" rust 2026 ","num_results":3}"#.into(),
            5,
        );
        assert_eq!((call.query.as_str(), call.num_results), ("rust 2026", 3));
        let call = SearchCall::new("c".into(), r#"{"q":"x","numResults":50}"#.into(), 5);
        assert_eq!((call.query.as_str(), call.num_results), ("x", 5));
        let call = SearchCall::new("c".into(), r#""just a query""#.into(), 4);
        assert_eq!((call.query.as_str(), call.num_results), ("just a query", 4));
        let call = SearchCall::new("c".into(), "not json".into(), 4);
        assert_eq!(call.query, "");
        assert_eq!(
            String::from_utf8(request_body(&SearchCall::new(
                "c".into(),
                r#"{"query":"q","count":0}"#.into(),
                10
            )))
            .unwrap(),
            r#"{"numResults":1,"query":"q"}"#
        );
    }

    #[test]
    fn every_result_shape_clawrouter_reads_is_read() {
        let shapes = [
            json!({"results": [{"title": "A", "url": "https://a.example", "publishedDate": "2026-11-30", "summary": "sum"}]}),
            json!({"data": {"results": [{"title": "A", "url": "https://a.example", "description": "desc"}]}}),
            json!({"response": {"results": [{"url": "https://a.example", "highlights": ["one", "two"]}]}}),
        ];
        let texts: Vec<String> = shapes
            .iter()
            .map(|s| {
                read_results(s.to_string().as_bytes()).unwrap()[0]
                    .text
                    .clone()
            })
            .collect();
        assert_eq!(texts, ["sum", "desc", "one … two"]);
        for key in ["snippet", "excerpt", "text"] {
            let body = json!({"results": [{"url": "https://b.example", key: "found"}]});
            assert_eq!(
                read_results(body.to_string().as_bytes()).unwrap()[0].text,
                "found"
            );
        }
        assert!(read_results(b"<html>").is_err());
        assert!(read_results(br#"{"results": []}"#).is_err());
        assert!(read_results(br#"{"error": "x"}"#).is_err());
    }

    #[test]
    fn results_text_is_compact_and_cut() {
        let hits = vec![Hit {
            title: "Rust 1.99".into(),
            url: "https://blog.rust-lang.org/x".into(),
            date: Some("2026-11-27".into()),
            text: "a".repeat(2000),
        }];
        let text = results_text("rust release", &hits);
        assert!(text.starts_with("Web search results for \"rust release\":"));
        assert!(text.contains("1. Rust 1.99\n   https://blog.rust-lang.org/x (2026-11-27)"));
        assert!(text.len() < 800, "{}", text.len());
    }

    #[test]
    fn follow_up_appends_the_round_and_can_forbid_more_calls() {
        let previous = br#"{"model":"m","messages":[{"role":"user","content":"q"}],"tools":[{"type":"function","function":{"name":"web_search","parameters":{}}}],"tool_choice":"auto","parallel_tool_calls":true,"stream":false}"#;
        let round = vec![
            json!({"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "web_search", "arguments": "{}"}}]}),
            json!({"role": "tool", "tool_call_id": "c1", "content": "results"}),
        ];
        let next: Value =
            serde_json::from_slice(&follow_up_body(previous, round.clone(), false).unwrap())
                .unwrap();
        assert_eq!(next["messages"].as_array().unwrap().len(), 3);
        assert_eq!(next["tool_choice"], "auto");
        let last: Value =
            serde_json::from_slice(&follow_up_body(previous, round, true).unwrap()).unwrap();
        assert_eq!(last["tool_choice"], "none");
        assert!(last.get("parallel_tool_calls").is_none());
        assert!(follow_up_body(b"nope", Vec::new(), false).is_err());
    }

    #[test]
    fn records_round_trip_only_with_the_key() {
        let key = ReasoningKey::from_secret(&[3; 32]);
        let record = SearchRecord {
            searches: vec![RecordedSearch {
                id: "call_1".into(),
                arguments: r#"{"query":"q"}"#.into(),
                result: "Web search results…".into(),
            }],
        };
        let blob = record.seal(&key);
        assert!(SearchRecord::is_record(&blob));
        assert_eq!(SearchRecord::open(&key, &blob), Some(record));
        assert_eq!(
            SearchRecord::open(&ReasoningKey::from_secret(&[4; 32]), &blob),
            None
        );
        // A reasoning blob is not a record, and a record is not reasoning.
        assert_eq!(SearchRecord::open(&key, &key.seal("text")), None);
        assert_eq!(key.open(&blob), None);
    }
}
