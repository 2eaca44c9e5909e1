//! The BlockRun CLI's JSON output envelope, which `wallet --json` and `doctor --json` print
//! (README, "JSON output"): `{"ok":true,"data":{…}}` on success, else
//! `{"ok":false,"error":{"code":…,"message":…}}` with any details beside `code` and `message`.
//! The command exits 0 with the first and 1 with the second.

use std::io::Write;
use std::process::ExitCode;

use serde_json::{json, Map, Value};

/// `{"ok":true,"data":data}`.
pub fn success(data: Value) -> Value {
    json!({"ok": true, "data": data})
}

/// `{"ok":false,"error":{"code":code,"message":message, …details}}`. `code` is a stable
/// snake_case word for machines; `message` says what, where and how to fix it, for people.
pub fn failure(code: &str, message: &str, details: Map<String, Value>) -> Value {
    let mut error = Map::new();
    error.insert("code".to_owned(), json!(code));
    error.insert("message".to_owned(), json!(message));
    error.extend(details);
    json!({"ok": false, "error": error})
}

/// Prints the envelope on one line and returns its exit code (0 when `ok`, else 1).
pub fn print(out: &mut dyn Write, envelope: &Value) -> ExitCode {
    // A closed pipe cannot be told anything better.
    let _ = writeln!(out, "{envelope}");
    if envelope["ok"] == Value::Bool(true) {
        ExitCode::SUCCESS
    } else {
        super::problem()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_shapes() {
        assert_eq!(
            success(json!({"a": 1})).to_string(),
            r#"{"data":{"a":1},"ok":true}"#
        );
        let mut details = Map::new();
        details.insert("checks".to_owned(), json!([]));
        let v = failure("checks_failed", "1 of 2 checks failed", details);
        assert_eq!(v["ok"], false);
        assert_eq!(v["error"]["code"], "checks_failed");
        assert_eq!(v["error"]["message"], "1 of 2 checks failed");
        assert_eq!(v["error"]["checks"], json!([]));
        let mut out = Vec::new();
        assert_eq!(print(&mut out, &v), ExitCode::from(1));
        assert_eq!(print(&mut out, &success(json!({}))), ExitCode::SUCCESS);
    }
}
