//! Edits of a translated Chat body for direct mode, done on its bytes: the model the router
//! chose and the output budget (`max_tokens`) the price was planned for. The translator writes
//! `model` first and `stream` last (`translate::request::ChatPlan`), so both edits are splices
//! of a few bytes, not a re-serialization of a body that may be megabytes long.

/// The body for one pick of the router: `model` and `max_tokens` set. The translator's own
/// bodies are spliced; others (a web-search follow-up, rebuilt from JSON) are edited as JSON.
/// `requested` is the model the body names now, `asked` the client's own output limit.
pub fn for_pick(
    body: &[u8],
    requested: &str,
    asked: Option<u64>,
    model: &str,
    max_tokens: u64,
) -> Result<Vec<u8>, String> {
    if let Some(spliced) = splice(body, requested, asked, model, max_tokens) {
        return Ok(spliced);
    }
    let mut value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| format!("the Chat body to send is not JSON ({e})"))?;
    let fields = value
        .as_object_mut()
        .ok_or("the Chat body to send is not a JSON object")?;
    fields.insert("model".to_owned(), model.into());
    let limit = match fields.get("max_tokens").and_then(serde_json::Value::as_u64) {
        Some(asked) => asked.min(max_tokens),
        None => max_tokens,
    };
    fields.insert("max_tokens".to_owned(), limit.into());
    serde_json::to_vec(&value).map_err(|e| e.to_string())
}

/// The translator's body with `model` replaced (its prefix `{"model":<requested>,`) and
/// `"max_tokens":N` inserted before the last field (`stream`), or the client's own limit
/// lowered in place (the top-level one is the last `"max_tokens":N` of the body: only scalar
/// fields follow it), in one copy; `None` when the body is not what the translator writes.
fn splice(
    body: &[u8],
    requested: &str,
    asked: Option<u64>,
    model: &str,
    max_tokens: u64,
) -> Option<Vec<u8>> {
    let old_prefix = prefix(requested)?;
    let rest = body.strip_prefix(old_prefix.as_bytes())?;
    let new_prefix = prefix(model)?;
    let (at, replaced) = match asked {
        Some(asked) if asked <= max_tokens => (rest.len(), 0),
        Some(asked) => {
            let old = format!("\"max_tokens\":{asked},");
            (rfind(rest, old.as_bytes())?, old.len())
        }
        None => (rfind(rest, b"\"stream\":")?, 0),
    };
    let field = if replaced == 0 && asked.is_some() {
        String::new()
    } else {
        format!("\"max_tokens\":{max_tokens},")
    };
    let mut out = Vec::with_capacity(new_prefix.len() + rest.len() + field.len());
    out.extend_from_slice(new_prefix.as_bytes());
    out.extend_from_slice(&rest[..at]);
    out.extend_from_slice(field.as_bytes());
    out.extend_from_slice(&rest[at + replaced..]);
    Some(out)
}

/// Whether the body sends an image (a `image_url` content part; inside a string the quotes
/// would be escaped, so text that mentions one does not count).
pub fn has_images(body: &[u8]) -> bool {
    find(body, br#""type":"image_url""#).is_some()
}

fn prefix(model: &str) -> Option<String> {
    Some(format!(
        "{{\"model\":{},",
        serde_json::to_string(model).ok()?
    ))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::rfind(haystack, needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const BODY: &[u8] =
        br#"{"model":"blockrun/auto","messages":[{"role":"user","content":"say \"stream\":"}],"stream":true,"stream_options":{"include_usage":true}}"#;

    #[test]
    fn the_model_and_the_budget_are_spliced_and_nothing_else_changes() {
        let out = for_pick(BODY, "blockrun/auto", None, "moonshot/kimi-k2.6", 8192).unwrap();
        assert!(out.starts_with(br#"{"model":"moonshot/kimi-k2.6","#));
        let mut want: Value = serde_json::from_slice(BODY).unwrap();
        want["model"] = json!("moonshot/kimi-k2.6");
        want["max_tokens"] = json!(8192);
        assert_eq!(serde_json::from_slice::<Value>(&out).unwrap(), want);
        let tail = br#""max_tokens":8192,"stream":true,"stream_options":{"include_usage":true}}"#;
        assert!(out.ends_with(tail));
        let quoted = for_pick(BODY, "blockrun/auto", None, "a\"b", 1).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&quoted).unwrap()["model"],
            "a\"b"
        );
    }

    #[test]
    fn the_clients_own_limit_is_kept_when_smaller_else_lowered_in_place() {
        let asked = br#"{"model":"m","messages":[],"tools":[{"type":"function","function":{"name":"f","parameters":{"properties":{"max_tokens":{"type":"integer"}}}}}],"max_tokens":100,"stream":false}"#;
        let kept = for_pick(asked, "m", Some(100), "m", 500).unwrap();
        assert_eq!(kept, asked.to_vec());
        let lowered = for_pick(asked, "m", Some(100), "x", 50).unwrap();
        assert!(lowered.ends_with(br#""max_tokens":50,"stream":false}"#));
        let lowered: Value = serde_json::from_slice(&lowered).unwrap();
        let schema = &lowered["tools"][0]["function"]["parameters"]["properties"];
        assert_eq!(schema["max_tokens"], json!({"type": "integer"}));
    }

    #[test]
    fn a_body_rebuilt_from_json_is_edited_as_json() {
        let rebuilt = br#"{"messages":[],"model":"blockrun/auto","stream":true}"#;
        let out = for_pick(rebuilt, "blockrun/auto", None, "x/y", 900).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            (v["model"].as_str(), v["max_tokens"].as_u64()),
            (Some("x/y"), Some(900))
        );
        let spliced = for_pick(BODY, "blockrun/auto", None, "x/y", 900).unwrap();
        assert!(spliced.starts_with(br#"{"model":"x/y","#));
        assert!(for_pick(b"[1]", "m", None, "x", 1).is_err());
    }

    #[test]
    fn images_are_seen_only_as_content_parts() {
        assert!(has_images(
            br#"{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:"}}]}]}"#
        ));
        assert!(!has_images(
            br#"{"messages":[{"role":"user","content":"{\"type\":\"image_url\"}"}]}"#
        ));
    }
}
