//! Edits of a translated Chat body for direct mode, done on its bytes: the model the router
//! chose and the output budget (`max_tokens`) the price was planned for. The translator writes
//! `model` first and `stream` last (`translate::request::ChatPlan`), so both edits are splices
//! of a few bytes, not a re-serialization of a body that may be megabytes long.

/// The body with `"model"` set to `to` (it was `from`, as the translator wrote it); `None`
/// when the body does not start the way the translator writes it (a bug upstream of this).
pub fn with_model(body: &[u8], from: &str, to: &str) -> Option<Vec<u8>> {
    let old = prefix(from)?;
    let rest = body.strip_prefix(old.as_bytes())?;
    let new = prefix(to)?;
    let mut out = Vec::with_capacity(new.len() + rest.len() + 16);
    out.extend_from_slice(new.as_bytes());
    out.extend_from_slice(rest);
    Some(out)
}

/// The body with `"max_tokens":limit`: inserted before the last field (`stream`) when the
/// request set none (`asked`, the client's `max_output_tokens`); when it set one, the smaller
/// of the two is kept. The top-level field is the last `"max_tokens":N` of the body: only
/// scalar fields follow it. `None` when the body is not what the translator writes.
pub fn with_max_tokens(body: &[u8], asked: Option<u64>, limit: u64) -> Option<Vec<u8>> {
    let field = format!("\"max_tokens\":{limit},");
    let (at, replaced) = match asked {
        Some(asked) if asked <= limit => return Some(body.to_vec()),
        Some(asked) => {
            let old = format!("\"max_tokens\":{asked},");
            (rfind(body, old.as_bytes())?, old.len())
        }
        None => (rfind(body, b"\"stream\":")?, 0),
    };
    let mut out = Vec::with_capacity(body.len() + field.len());
    out.extend_from_slice(&body[..at]);
    out.extend_from_slice(field.as_bytes());
    out.extend_from_slice(&body[at + replaced..]);
    Some(out)
}

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
    if let Some(spliced) =
        with_model(body, requested, model).and_then(|b| with_max_tokens(&b, asked, max_tokens))
    {
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
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const BODY: &[u8] =
        br#"{"model":"blockrun/auto","messages":[{"role":"user","content":"say \"stream\":"}],"stream":true,"stream_options":{"include_usage":true}}"#;

    #[test]
    fn the_model_is_replaced_and_nothing_else_changes() {
        let out = with_model(BODY, "blockrun/auto", "moonshot/kimi-k2.6").unwrap();
        let mut want: Value = serde_json::from_slice(BODY).unwrap();
        want["model"] = json!("moonshot/kimi-k2.6");
        assert_eq!(serde_json::from_slice::<Value>(&out).unwrap(), want);
        assert!(with_model(BODY, "other", "x").is_none());
        let quoted = with_model(BODY, "blockrun/auto", "a\"b").unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&quoted).unwrap()["model"],
            "a\"b"
        );
    }

    #[test]
    fn max_tokens_goes_before_the_stream_field_or_lowers_the_clients() {
        let out = with_max_tokens(BODY, None, 8192).unwrap();
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["max_tokens"], 8192);
        assert_eq!(v["stream"], true);
        assert_eq!(v["messages"][0]["content"], "say \"stream\":");
        let asked = br#"{"model":"m","messages":[],"tools":[{"type":"function","function":{"name":"f","parameters":{"properties":{"max_tokens":{"type":"integer"}}}}}],"max_tokens":100,"stream":false}"#;
        let kept = with_max_tokens(asked, Some(100), 500).unwrap();
        assert_eq!(kept, asked.to_vec());
        let lowered: Value =
            serde_json::from_slice(&with_max_tokens(asked, Some(100), 50).unwrap()).unwrap();
        assert_eq!(lowered["max_tokens"], 50);
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
