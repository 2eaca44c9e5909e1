//! Golden tests for the request translation on real Codex 0.169 requests.
//!
//! Each `tests/fixtures/codex/<name>.json` (a raw Responses request body Codex sent) is
//! translated and compared with `tests/fixtures/codex/<name>.chat.json` (the Chat body, pretty
//! JSON). Regenerate after an intended change with
//! `UPDATE_GOLDEN=1 cargo test --test translate_golden`, then review the diff by eye.

use std::fs;
use std::path::{Path, PathBuf};

use clawrouter_codex::translate::request::{request_to_chat, RequestOptions};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/codex")
}

/// Request bodies: `*.json` except our goldens and the captured headers.
fn captures() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(fixtures())
        .expect("tests/fixtures/codex exists")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| {
            name.ends_with(".json")
                && !name.ends_with(".chat.json")
                && !name.ends_with(".headers.json")
        })
        .map(|name| name.trim_end_matches(".json").to_owned())
        .collect();
    names.sort();
    names
}

/// Every assistant `tool_calls` message is followed at once by one tool message per id.
fn assert_strict(name: &str, messages: &[Value]) {
    let mut i = 0;
    while i < messages.len() {
        let m = &messages[i];
        if let Some(calls) = m.get("tool_calls").and_then(Value::as_array) {
            let mut ids: Vec<&str> = calls.iter().filter_map(|c| c["id"].as_str()).collect();
            let mut answered: Vec<&str> = messages[i + 1..]
                .iter()
                .take(ids.len())
                .filter(|t| t["role"] == "tool")
                .filter_map(|t| t["tool_call_id"].as_str())
                .collect();
            ids.sort_unstable();
            answered.sort_unstable();
            assert_eq!(
                ids, answered,
                "{name}: calls at message {i} are not answered right after it"
            );
            i += 1 + ids.len();
        } else {
            assert_ne!(m["role"], "tool", "{name}: stray tool message {i}");
            i += 1;
        }
    }
}

#[test]
fn codex_captures_translate_to_goldens() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let names = captures();
    assert!(!names.is_empty(), "no captures in {}", fixtures().display());
    let mut failures = Vec::new();
    for name in &names {
        let body = fs::read(fixtures().join(format!("{name}.json"))).expect("read capture");
        let plan = request_to_chat(&body, &RequestOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let chat: Value = serde_json::from_slice(&plan.body).expect("chat body is JSON");
        assert_strict(name, chat["messages"].as_array().expect("messages"));
        let golden_path = fixtures().join(format!("{name}.chat.json"));
        if update {
            let pretty = serde_json::to_string_pretty(&chat).expect("pretty JSON") + "\n";
            fs::write(&golden_path, pretty).expect("write golden");
            continue;
        }
        let golden: Value = match fs::read(&golden_path) {
            Ok(bytes) => serde_json::from_slice(&bytes).expect("golden is JSON"),
            Err(_) => {
                failures.push(format!("{name}: no golden (run with UPDATE_GOLDEN=1)"));
                continue;
            }
        };
        if golden != chat {
            failures.push(format!(
                "{name}: translation differs from {name}.chat.json (UPDATE_GOLDEN=1 to regenerate)"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
