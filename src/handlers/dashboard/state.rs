//! What the dashboard shows (`GET /dashboard/api/state`), gathered fresh on every call: the
//! bridge, the proxy's wallet and balance (`/health?full=true`), the last 7 days of spend (the
//! proxy's `/stats?days=7`), the Codex switches and the model catalog. Each part that cannot
//! be read says why and what to do; nothing here fails as a whole. In direct mode the wallet
//! is the bridge's own (balance over the Base RPC), the spend comes from the payment ledger,
//! and `direct` carries the router's last choice and the caps.

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::admin::catalog;
use crate::admin::codex_config::{self, CodexFile};
use crate::config::Config;
use crate::direct::Direct;
use crate::funding::{Chain, ProxyHealth};
use crate::handlers::health;
use crate::payments::policy::{Usdc, BASE_UNITS_PER_USD};
use crate::upstream_client::UpstreamClient;

/// Longest wait for the proxy's answers (ClawRouter takes up to ~5 s for a Solana balance).
const PROXY_TIMEOUT: Duration = Duration::from_secs(8);

/// The whole state as the page reads it.
pub async fn gather(config: &Config, client: &UpstreamClient, direct: Option<&Direct>) -> Value {
    let (proxy, spend, direct) = match direct {
        Some(direct) => {
            let (wallet, spend, route) = direct_parts(direct).await;
            (wallet, spend, route)
        }
        None => {
            let (proxy, spend) = tokio::join!(proxy(client), spend(client));
            (proxy, spend, Value::Null)
        }
    };
    let mut state = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "upstream": config.upstream.url,
        "proxy": proxy,
        "spend": spend,
        "direct": direct,
    });
    if let Some(fields) = state.as_object_mut() {
        codex(config, fields);
    }
    state
}

/// Up or down, and the wallet fields when it is ClawRouter: the address to fund and its chain
/// ([`ProxyHealth::funding`]: the Solana address when it pays on Solana), the balance,
/// empty/low, and the funding address as a QR code.
async fn proxy(client: &UpstreamClient) -> Value {
    let Ok(health) = tokio::time::timeout(PROXY_TIMEOUT, health::full(client)).await else {
        return json!({"up": false, "error": "the proxy did not answer /health in time"});
    };
    let up = health["upstream_reachable"] == true;
    let funding = ProxyHealth::from_value(&health)
        .and_then(|h| h.funding())
        .filter(|f| plausible_address(&f.address));
    let mut proxy = json!({
        "up": up,
        "wallet": funding.as_ref().map(|f| f.address.as_str()),
        "chain": funding.as_ref().map(|f| f.chain.name()),
        "balance": health["balance"],
        "isEmpty": health["isEmpty"],
        "isLow": health["isLow"],
        "balanceError": health["balanceError"],
    });
    if let Some(funding) = &funding {
        proxy["qrSvg"] = Value::from(super::qr::svg(&funding.address));
        if funding.chain == Chain::Solana {
            // The EVM address, shown as not paid from, so a user who funded it knows why.
            proxy["evmWallet"] = health["wallet"]
                .as_str()
                .filter(|w| plausible_address(w))
                .map_or(Value::Null, Value::from);
        }
    }
    if !up {
        proxy["error"] = health
            .get("upstream_error")
            .cloned()
            .unwrap_or_else(|| Value::from("the upstream does not answer"));
    }
    proxy
}

/// Direct mode: the paying wallet in the proxy card's shape (no proxy: "up" is the bridge
/// itself), the last 7 days from the ledger in the spend card's shape, and the router's last
/// choice with the caps.
async fn direct_parts(direct: &Direct) -> (Value, Value, Value) {
    let settings = direct.settings();
    let mut wallet = json!({"up": true, "direct": true});
    if let (Some(address), Some(chain)) = (direct.address(), direct.chain()) {
        wallet["wallet"] = Value::from(address.as_str());
        wallet["chain"] = Value::from(chain.name());
        wallet["qrSvg"] = Value::from(super::qr::svg(&address));
        match direct.balance().await {
            Some(Ok(balance)) => {
                wallet["balance"] = Value::from(balance.to_string());
                wallet["isEmpty"] = Value::from(balance.0 == 0);
                wallet["isLow"] = Value::from(balance.0 < BASE_UNITS_PER_USD);
            }
            Some(Err(why)) => wallet["balanceError"] = Value::from(why),
            None => {}
        }
    }
    let now = crate::clock::unix_now_i64();
    let week = now - 6 * 24 * 3600 - now.rem_euclid(24 * 3600);
    let spend = match direct.with_ledger(|ledger| ledger.daily(week)) {
        Ok(days) => {
            let total: u64 = days.iter().map(|(_, usd, _)| usd.0).sum();
            let count: u64 = days.iter().map(|(_, _, n)| n).sum();
            let days: Vec<Value> = days
                .iter()
                .map(|(date, usd, n)| json!({"date": date, "cost": usd.as_usd(), "requests": n}))
                .collect();
            json!({"available": true, "days": days, "totalRequests": count,
                   "totalCost": Usdc(total).as_usd(), "totalSavings": 0.0,
                   "savingsPercentage": 0.0, "providerErrors": []})
        }
        Err(why) => json!({"available": false, "error": why}),
    };
    let route = direct
        .last_route()
        .map(|(requested, chosen)| json!({"requested": requested, "chosen": chosen}));
    let info = json!({
        "lastRoute": route,
        "capPerRequest": settings.caps.per_request.to_string(),
        "capPerDay": settings.caps.per_day.map(|c| c.to_string()),
    });
    (wallet, spend, info)
}

/// An EVM (`0x` + 40 hex) or Solana (base58) address: nothing else is rendered or shown.
fn plausible_address(address: &str) -> bool {
    let evm = address.len() == 42
        && address.starts_with("0x")
        && address[2..].bytes().all(|b| b.is_ascii_hexdigit());
    let base58 = (32..=44).contains(&address.len())
        && address
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() && !matches!(b, b'0' | b'O' | b'I' | b'l'));
    evm || base58
}

/// The proxy's `/stats?days=7`, reduced to what the chart and totals need.
async fn spend(client: &UpstreamClient) -> Value {
    let path = client.upstream().root_path("/stats?days=7");
    let reply = tokio::time::timeout(
        PROXY_TIMEOUT,
        client.send("GET", &path, &[("accept", "application/json")], None),
    )
    .await;
    let stats = match reply {
        Ok(Ok(reply)) if reply.status == 200 => serde_json::from_slice::<Value>(&reply.body).ok(),
        _ => None,
    };
    let Some(stats) = stats.filter(Value::is_object) else {
        return json!({"available": false});
    };
    let days: Vec<Value> = stats["dailyBreakdown"]
        .as_array()
        .map(|days| {
            days.iter()
                .map(|day| {
                    json!({"date": day["date"], "cost": number(&day["totalCost"]),
                           "requests": number(&day["totalRequests"])})
                })
                .collect()
        })
        .unwrap_or_default();
    let mut errors = Vec::new();
    if let Some(by_model) = stats["providerErrors"].as_object() {
        for (model, kinds) in by_model {
            for (kind, count) in kinds.as_object().into_iter().flatten() {
                if number(count) > 0.0 {
                    errors.push(json!({"model": model, "kind": kind, "count": count}));
                }
            }
        }
    }
    json!({
        "available": true,
        "days": days,
        "totalRequests": number(&stats["totalRequests"]),
        "totalCost": number(&stats["totalCost"]),
        "totalSavings": number(&stats["totalSavings"]),
        "savingsPercentage": number(&stats["savingsPercentage"]),
        "providerErrors": errors,
    })
}

fn number(value: &Value) -> f64 {
    value.as_f64().unwrap_or(0.0)
}

/// The Codex side: desktop mode, web search, the models of the catalog and the default.
fn codex(config: &Config, state: &mut Map<String, Value>) {
    let mut problems = Vec::new();
    let desktop = match codex_config::desktop_state(config) {
        Ok(desktop) => json!({"on": desktop.is_on(), "model": desktop.model,
                              "problems": desktop.problems}),
        Err(e) => {
            problems.push(e.to_string());
            json!({"on": null})
        }
    };
    let websearch = match codex_config::websearch_status(config) {
        Ok(status) => json!({"on": status.any_on(), "profile": status.profile,
                             "desktop": status.desktop, "bridge": config.web_search.enabled}),
        Err(e) => {
            problems.push(e.to_string());
            json!({"on": null, "bridge": config.web_search.enabled})
        }
    };
    let default_model = match CodexFile::load(&codex_config::profile_path(config)) {
        Ok(profile) => profile
            .root_str("model")
            .map(str::to_owned)
            .unwrap_or_else(|| config.codex.default_model.clone()),
        Err(e) => {
            problems.push(e.to_string());
            config.codex.default_model.clone()
        }
    };
    problems.dedup();
    state.insert("desktop".into(), desktop);
    state.insert("websearch".into(), websearch);
    state.insert("models".into(), models(config, &default_model));
    state.insert("configProblems".into(), Value::from(problems));
}

/// The catalog's models grouped by family, the default marked.
fn models(config: &Config, default_model: &str) -> Value {
    let path = codex_config::catalog_path(config);
    let catalog = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<Value>(&bytes).ok(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return json!({"available": false, "default": default_model,
                          "problem": "No model catalog yet: ↻ Update models makes it from the \
                                      upstream's model list."});
        }
        Err(_) => None,
    };
    let Some(entries) = catalog.as_ref().and_then(|c| c["models"].as_array()) else {
        return json!({"available": false, "default": default_model,
                      "problem": format!("{} is not a model catalog: ↻ Update models writes a new one.",
                                         path.display())});
    };
    let mut families: Vec<(String, Vec<Value>)> = Vec::new();
    for entry in entries {
        let Some(slug) = entry["slug"].as_str() else {
            continue;
        };
        let family = family_of(slug);
        let model = json!({
            "slug": slug,
            "name": entry["display_name"].as_str().unwrap_or(slug),
            "default": slug == default_model,
        });
        match families.iter_mut().find(|(name, _)| *name == family) {
            Some((_, models)) => models.push(model),
            None => families.push((family, vec![model])),
        }
    }
    let families: Vec<Value> = families
        .into_iter()
        .map(|(name, models)| json!({"name": name, "models": models}))
        .collect();
    json!({"available": true, "default": default_model, "families": families})
}

/// A readable family name from a model id's provider prefix; ClawRouter's routing profiles
/// (`auto`, `eco`, `premium`, listed bare) are one family.
fn family_of(slug: &str) -> String {
    if catalog::KEPT_PROFILES.contains(&slug.strip_prefix("blockrun/").unwrap_or(slug)) {
        return "ClawRouter".to_owned();
    }
    let Some((prefix, _)) = slug.split_once('/') else {
        return "Other".to_owned();
    };
    match prefix {
        "blockrun" => "ClawRouter".to_owned(),
        "openai" => "OpenAI".to_owned(),
        "xai" => "xAI".to_owned(),
        "deepseek" => "DeepSeek".to_owned(),
        "minimax" => "MiniMax".to_owned(),
        "zai" | "z-ai" => "Z.ai".to_owned(),
        other => {
            let mut chars = other.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => "Other".to_owned(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_before_they_are_shown() {
        assert!(plausible_address(
            "0x2c75a0E2C5Bb3a1c0dD0e2f8B7aC4D1e5F6a5c23"
        ));
        assert!(plausible_address(
            "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"
        ));
        assert!(!plausible_address("0x12<script>"));
        assert!(!plausible_address(""));
    }

    #[test]
    fn families_read_well() {
        assert_eq!(family_of("blockrun/auto"), "ClawRouter");
        assert_eq!(family_of("eco"), "ClawRouter");
        assert_eq!(family_of("llama3.1:8b"), "Other");
        assert_eq!(family_of("anthropic/claude-opus-4.7"), "Anthropic");
        assert_eq!(family_of("free/gpt-oss-120b"), "Free");
        assert_eq!(family_of("xai/grok-4"), "xAI");
    }
}
