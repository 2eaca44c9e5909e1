//! Ollama-style endpoints (`/api/tags`, `/api/version`) so tools that probe for an Ollama
//! server — Codex's `--oss` mode among them — find the bridge's models.

use pingora::proxy::Session;
use serde_json::{json, Value};

use crate::config::Upstream;
use crate::outcome::Outcome;
use crate::session_io::send_json;
use crate::upstream_client::UpstreamClient;

/// Answers `GET /api/version`.
pub async fn answer_version(session: &mut Session) -> pingora::Result<()> {
    send_json(session, 200, version().to_string().into_bytes(), &[]).await
}

/// Answers `GET /api/tags` from the upstream's `/v1/models` (asked through `client`); a 502
/// naming the upstream when it gives no model list, and then the outcome says so.
pub async fn answer_tags(
    session: &mut Session,
    upstream: &Upstream,
    client: &UpstreamClient,
) -> pingora::Result<Outcome> {
    let models_path = upstream.path_for("/v1/models");
    let reply = client
        .send("GET", &models_path, &[("accept", "application/json")], None)
        .await;
    match reply
        .ok()
        .filter(|r| r.status == 200)
        .and_then(|r| tags_from_models(&r.body))
    {
        Some(tags) => {
            send_json(session, 200, tags.to_string().into_bytes(), &[]).await?;
            Ok(Outcome::Ok)
        }
        None => {
            let body = json!({"error": format!(
                "the upstream at {} did not return a model list", upstream.url)});
            send_json(session, 502, body.to_string().into_bytes(), &[]).await?;
            Ok(Outcome::UpstreamUnavailable)
        }
    }
}

/// The version `/api/version` reports: Codex refuses Ollama older than 0.13.4.
pub const OLLAMA_COMPAT_VERSION: &str = "0.14.0";

/// `GET /api/version`.
pub fn version() -> Value {
    json!({ "version": OLLAMA_COMPAT_VERSION })
}

/// `GET /api/tags`, built from the upstream's `/v1/models` answer. `None` when that answer is
/// not an OpenAI model list.
pub fn tags_from_models(models_body: &[u8]) -> Option<Value> {
    let list: Value = serde_json::from_slice(models_body).ok()?;
    let data = list.get("data")?.as_array()?;
    let models: Vec<Value> = data
        .iter()
        .filter_map(|m| m.get("id")?.as_str())
        .map(|id| {
            json!({
                "name": id,
                "model": id,
                "modified_at": "1970-01-01T00:00:00Z",
                "size": 0,
                "digest": "",
                "details": {"format": "", "family": "", "families": null, "parameter_size": "", "quantization_level": ""}
            })
        })
        .collect();
    Some(json!({ "models": models }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_list_every_model_id() {
        let body = br#"{"object":"list","data":[{"id":"auto","object":"model"},{"id":"anthropic/claude-opus-4.7"}]}"#;
        let tags = tags_from_models(body).expect("list");
        let names: Vec<&str> = tags["models"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["auto", "anthropic/claude-opus-4.7"]);
        assert!(tags_from_models(b"fetch failed").is_none());
    }

    #[test]
    fn version_is_new_enough_for_codex() {
        let parts: Vec<u32> = OLLAMA_COMPAT_VERSION
            .split('.')
            .map(|p| p.parse().unwrap())
            .collect();
        assert!(parts >= vec![0, 13, 4]);
    }
}
