//! The upstream's model list: fetched through the bridge when it is up, else straight from the
//! upstream, and read from the shapes OpenAI-style, OpenRouter-style and Ollama-style servers
//! answer with (including the per-model context window and image input some of them carry).

use std::time::Duration;

use serde_json::Value;

use super::{snippet, CatalogError};
use crate::admin::http;
use crate::config::Config;

/// Timeout for one HTTP exchange with the bridge or the upstream.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// One entry of the upstream's `/v1/models`, with the per-model facts some upstreams carry.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedModel {
    /// The model id the upstream expects in requests (`openai/gpt-5.2`, `qwen3:8b`).
    pub id: String,
    /// The entry's `owned_by`, when it has one; ClawRouter's bare aliases say `blockrun`.
    pub owned_by: Option<String>,
    /// `context_length` / `context_window` / `max_model_len` / OpenRouter's `top_provider`.
    pub context_window: Option<i64>,
    /// `Some(false)` when the list says the model takes no images.
    pub image_input: Option<bool>,
}

impl ListedModel {
    /// A bare entry (id and owner only), as ClawRouter lists them.
    pub fn new(id: &str, owned_by: &str) -> Self {
        ListedModel {
            id: id.to_owned(),
            owned_by: Some(owned_by.to_owned()),
            context_window: None,
            image_input: None,
        }
    }
}

/// The bridge's own address for a local client (`0.0.0.0` → `127.0.0.1`).
pub(crate) fn bridge_origin(config: &Config) -> String {
    let mut addr = config.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    format!("http://{addr}")
}

pub(super) fn fetch_model_list(
    config: &Config,
) -> Result<(Vec<ListedModel>, String), CatalogError> {
    let bridge_url = format!("{}/v1/models", bridge_origin(config));
    let bridge_err = match http::get(&bridge_url, config.auth_token.as_deref(), HTTP_TIMEOUT) {
        Ok(reply) if reply.status == 200 => {
            return parse_model_list(reply.body.as_bytes())
                .map(|m| (m, bridge_url.clone()))
                .map_err(|e| CatalogError::ModelList(format!("{bridge_url}: {e}")));
        }
        Ok(reply) => format!("{bridge_url} answered HTTP {}", reply.status),
        Err(e) => format!("{bridge_url}: {e}"),
    };
    let up = &config.upstream;
    let direct_url = format!("{}/models", up.url.trim_end_matches('/'));
    match http::get(&direct_url, up.api_key.as_deref(), HTTP_TIMEOUT) {
        Ok(reply) if reply.status == 200 => parse_model_list(reply.body.as_bytes())
            .map(|m| (m, direct_url.clone()))
            .map_err(|e| CatalogError::ModelList(format!("{direct_url}: {e}"))),
        Ok(reply) => Err(CatalogError::ModelList(format!(
            "{bridge_err}; {direct_url} answered HTTP {}{}",
            reply.status,
            snippet(&reply.body)
        ))),
        Err(e) => Err(CatalogError::ModelList(format!(
            "{bridge_err}; {direct_url}: {e}. Is the proxy running? Start it with \
             `clawrouter-codex start`, then run gen-catalog again"
        ))),
    }
}

/// Parses an OpenAI-style `{"data":[{"id",…}]}` list (also a bare array, or Ollama-ish
/// `{"models":[{"name"|"id"}]}`).
pub fn parse_model_list(body: &[u8]) -> Result<Vec<ListedModel>, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("the model list is not JSON ({e})"))?;
    let items = v
        .get("data")
        .or_else(|| v.get("models"))
        .unwrap_or(&v)
        .as_array()
        .ok_or("the model list has no `data` array")?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let id = item
            .get("id")
            .or_else(|| item.get("name"))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let Some(id) = id else { continue };
        let int = |v: Option<&Value>| v.and_then(Value::as_i64).filter(|n| *n > 0);
        let context_window = int(item.get("context_length"))
            .or_else(|| int(item.get("context_window")))
            .or_else(|| int(item.get("max_model_len")))
            .or_else(|| int(item.get("max_context_length")))
            .or_else(|| int(item.pointer("/top_provider/context_length")));
        let image_input = match item.pointer("/architecture/input_modalities") {
            Some(Value::Array(mods)) => Some(mods.iter().any(|m| m == "image")),
            _ => match item
                .pointer("/architecture/modality")
                .and_then(Value::as_str)
            {
                Some(m) => m.split("->").next().map(|input| input.contains("image")),
                None => item
                    .get("input_modalities")
                    .and_then(Value::as_array)
                    .map(|mods| mods.iter().any(|m| m == "image")),
            },
        };
        out.push(ListedModel {
            id: id.to_owned(),
            owned_by: item
                .get("owned_by")
                .and_then(Value::as_str)
                .map(str::to_owned),
            context_window,
            image_input,
        });
    }
    Ok(out)
}
