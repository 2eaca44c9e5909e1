//! Golden tests for the request translation on real Codex 0.169 requests.
//!
//! Each `tests/fixtures/codex/<name>.json` (a raw Responses request body Codex sent) is
//! translated and compared with `tests/fixtures/codex/<name>.chat.json` (the Chat body, pretty
//! JSON). Regenerate after an intended change with
//! `UPDATE_GOLDEN=1 cargo test --test translate_golden`, then review the diff by eye.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clawrouter_codex::translate::reasoning::ReasoningKey;
use clawrouter_codex::translate::request::{request_to_chat, RequestOptions};
use serde_json::{json, Value};

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

/// With a reasoning key every capture translates byte for byte as without one (no capture
/// holds a blob of ours: `reasoning_followup` has `"opaque"`); the same capture with its blob
/// sealed by us gets the reasoning text back as the call message's `reasoning_content`, and
/// nothing else changes.
#[test]
fn reasoning_key_restores_only_our_blobs() {
    let key = Arc::new(ReasoningKey::from_secret(&[9; 32]));
    let opts = RequestOptions {
        reasoning_key: Some(key.clone()),
        ..RequestOptions::default()
    };
    for name in captures() {
        let body = fs::read(fixtures().join(format!("{name}.json"))).expect("read capture");
        let plain = request_to_chat(&body, &RequestOptions::default()).expect("translates");
        let keyed = request_to_chat(&body, &opts).expect("translates with a key");
        assert!(
            plain.body == keyed.body,
            "{name}: a key changed the translation"
        );
    }

    let bytes = fs::read(fixtures().join("reasoning_followup.json")).expect("read capture");
    let mut body: Value = serde_json::from_slice(&bytes).expect("capture is JSON");
    let item = body["input"]
        .as_array_mut()
        .and_then(|items| items.iter_mut().find(|i| i["type"] == "reasoning"))
        .expect("a reasoning item");
    let text = item["content"][0]["text"]
        .as_str()
        .expect("reasoning text")
        .to_owned();
    item["encrypted_content"] = json!(key.seal(&text));
    let plan = request_to_chat(&serde_json::to_vec(&body).expect("JSON"), &opts)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut chat: Value = serde_json::from_slice(&plan.body).expect("chat body is JSON");
    let messages = chat["messages"].as_array_mut().expect("messages");
    assert_strict("reasoning_followup (sealed)", messages);
    let carriers: Vec<usize> = (0..messages.len())
        .filter(|&i| messages[i].get("reasoning_content").is_some())
        .collect();
    assert_eq!(carriers.len(), 1, "one message carries the reasoning");
    let carrier = &mut messages[carriers[0]];
    assert_eq!(carrier["tool_calls"][0]["function"]["name"], "exec_command");
    assert_eq!(carrier["reasoning_content"], json!(text));
    carrier
        .as_object_mut()
        .expect("message object")
        .remove("reasoning_content");
    let golden: Value = serde_json::from_slice(
        &fs::read(fixtures().join("reasoning_followup.chat.json")).expect("read golden"),
    )
    .expect("golden is JSON");
    assert!(
        golden == chat,
        "only reasoning_content differs from the golden"
    );
}
