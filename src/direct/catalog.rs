//! BlockRun's model catalog (`GET {api}/v1/models`): prices, context windows, output limits
//! and capabilities, read live (prices change more often than releases) and cached for
//! [`CATALOG_TTL`]. The fields are read the way BlockRun's own SDK reads them, with the
//! spellings it accepts (`inputPrice` / `input_price` / `pricing.input`, …).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::upstream_client::UpstreamClient;

/// How long a fetched catalog is used before it is fetched again.
pub const CATALOG_TTL: Duration = Duration::from_secs(600);
/// After a failed fetch, how long before the next try (the stale catalog, if any, is used).
const RETRY_AFTER: Duration = Duration::from_secs(15);

/// One model of the catalog. Prices are USD per million tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// BlockRun's id, e.g. `anthropic/claude-sonnet-4.6`.
    pub id: String,
    /// USD per million input tokens.
    pub input_price: f64,
    /// USD per million output tokens.
    pub output_price: f64,
    /// A flat price per call (`billingMode: flat`), instead of the token prices.
    pub flat_price: Option<f64>,
    /// Tokens of context, when known.
    pub context_window: Option<u64>,
    /// Most output tokens, when known.
    pub max_output: Option<u64>,
    /// Whether it takes tools (unknown counts as yes: nearly every model does).
    pub tools: bool,
    /// Whether it takes images (unknown counts as no).
    pub vision: bool,
}

impl ModelInfo {
    /// True when calls cost nothing.
    pub fn is_free(&self) -> bool {
        match self.flat_price {
            Some(price) => price <= 0.0,
            None => self.input_price <= 0.0 && self.output_price <= 0.0,
        }
    }
}

/// Reads a `/v1/models` answer (`{"data":[…]}` or a bare list).
pub fn parse(body: &[u8]) -> Result<Vec<ModelInfo>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("the model list is not JSON ({e})"))?;
    let list = value
        .get("data")
        .or_else(|| value.get("models"))
        .unwrap_or(&value)
        .as_array()
        .ok_or("the model list has no data array")?;
    Ok(list.iter().filter_map(model).collect())
}

fn model(entry: &Value) -> Option<ModelInfo> {
    let id = entry.get("id")?.as_str()?.to_owned();
    let number = |names: &[&str]| {
        names.iter().find_map(|name| {
            let mut at = entry;
            for part in name.split('.') {
                at = at.get(part)?;
            }
            at.as_f64()
                .or_else(|| at.as_str().and_then(|s| s.parse().ok()))
        })
    };
    let flag = |names: &[&str]| names.iter().find_map(|n| entry.get(*n)?.as_bool());
    let categories: Vec<&str> = entry
        .get("categories")
        .and_then(Value::as_array)
        .map(|c| c.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let in_category = |names: &[&str]| categories.iter().any(|c| names.contains(c));
    let flat = entry.get("billingMode").and_then(Value::as_str) == Some("flat");
    let count = |names: &[&str]| number(names).filter(|n| *n >= 1.0).map(|n| n as u64);
    Some(ModelInfo {
        input_price: number(&["inputPrice", "input_price", "pricing.input"]).unwrap_or(0.0),
        output_price: number(&["outputPrice", "output_price", "pricing.output"]).unwrap_or(0.0),
        flat_price: flat.then(|| number(&["flatPrice", "flat_price"])).flatten(),
        context_window: count(&["contextWindow", "context_window", "context_length"]),
        max_output: count(&["maxOutput", "max_output", "max_output_tokens"]),
        tools: flag(&["toolCalling", "tool_calling", "supports_tools"])
            .unwrap_or_else(|| categories.is_empty() || !in_category(&["no-tools"])),
        vision: flag(&["vision", "supports_vision"])
            .unwrap_or_else(|| in_category(&["vision", "multimodal"])),
        id,
    })
}

/// The catalog, fetched on demand and cached.
#[derive(Default)]
pub struct Catalog {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    models: Option<std::sync::Arc<HashMap<String, ModelInfo>>>,
    fetched: Option<Instant>,
    failed: Option<Instant>,
}

impl Catalog {
    /// The models, fetched from `client` when the cache is empty or stale; the stale list
    /// when the fetch fails; `None` when there never was one.
    pub async fn models(
        &self,
        client: &UpstreamClient,
    ) -> Option<std::sync::Arc<HashMap<String, ModelInfo>>> {
        let (cached, due) = self.cached();
        if !due {
            return cached;
        }
        let path = client.upstream().path_for("/v1/models");
        let headers = [("accept", "application/json")];
        let fetched = match client.send("GET", &path, &headers, None).await {
            Ok(reply) if reply.status == 200 => parse(&reply.body),
            Ok(reply) => Err(format!("it answered HTTP {}", reply.status)),
            Err(e) => Err(e.to_string()),
        };
        match fetched {
            Ok(models) if !models.is_empty() => {
                log::info!("BlockRun's catalog: {} models", models.len());
                self.store(models);
                self.cached().0
            }
            Ok(_) | Err(_) => {
                if let Err(why) = &fetched {
                    log::warn!("BlockRun's model list could not be read: {why}");
                }
                if let Ok(mut state) = self.state.lock() {
                    state.failed = Some(Instant::now());
                }
                cached
            }
        }
    }

    /// `id`'s entry in the catalog as last fetched, without fetching.
    pub fn cached_model(&self, id: &str) -> Option<ModelInfo> {
        let state = self.state.lock().ok()?;
        state.models.as_ref()?.get(id).cloned()
    }

    fn cached(&self) -> (Option<std::sync::Arc<HashMap<String, ModelInfo>>>, bool) {
        let Ok(state) = self.state.lock() else {
            return (None, true);
        };
        let fresh = state.fetched.is_some_and(|t| t.elapsed() < CATALOG_TTL);
        let resting = state.failed.is_some_and(|t| t.elapsed() < RETRY_AFTER);
        (state.models.clone(), !fresh && !resting)
    }

    fn store(&self, models: Vec<ModelInfo>) {
        let map = models.into_iter().map(|m| (m.id.clone(), m)).collect();
        if let Ok(mut state) = self.state.lock() {
            state.models = Some(std::sync::Arc::new(map));
            state.fetched = Some(Instant::now());
            state.failed = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_blockruns_sdk_accepts_is_read() {
        let body = br#"{"object":"list","data":[
          {"id":"anthropic/claude-sonnet-4.6","inputPrice":3,"outputPrice":15,"contextWindow":200000,"maxOutput":64000,"vision":true,"toolCalling":true},
          {"id":"x/y","pricing":{"input":"0.5","output":"1.5"},"context_window":1000,"max_output":10,"categories":["vision"]},
          {"id":"free/z","inputPrice":0,"outputPrice":0},
          {"id":"flat/f","billingMode":"flat","flatPrice":0.002},
          {"name":"no id"}
        ]}"#;
        let models = parse(body).unwrap();
        assert_eq!(models.len(), 4);
        assert_eq!(models[0].max_output, Some(64000));
        assert!(models[0].vision && models[0].tools);
        assert_eq!(models[1].input_price, 0.5);
        assert_eq!(models[1].context_window, Some(1000));
        assert!(models[1].vision);
        assert!(models[2].is_free());
        assert_eq!(models[3].flat_price, Some(0.002));
        assert!(!models[3].is_free());
        assert!(parse(b"<html>").is_err());
    }
}
