//! ClawRouter's `GET /stats?days=N`, as the real proxy computes it (v0.12.246, `src/stats.ts`
//! and `clawrouter-api.md` in the team's notes): its usage log holds one line per chat request,
//! one file per day; the answer aggregates the `N` newest **files** (not calendar days), `days`
//! defaults to 7 and is capped at 30, `dailyBreakdown` runs oldest first and skips empty days,
//! `period` is `"today"` for one day, the JSON is pretty-printed, and `providerErrors` counts
//! upstream failures per model since the proxy started.
//!
//! A mock starts with an empty log, which gives exactly ClawRouter's empty answer; tests script
//! a log with [`super::Builder::usage`] and errors with [`super::Builder::provider_error`].

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

/// One line of ClawRouter's usage log: one chat request.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    /// The day's log file (`usage-<date>.jsonl`), e.g. `2026-11-24`.
    pub date: String,
    pub model: String,
    /// `SIMPLE`, `MEDIUM`, `COMPLEX`, `REASONING` (routed) or `DIRECT` (explicit model).
    pub tier: String,
    /// What the request cost, USD.
    pub cost: f64,
    /// What it would have cost on ClawRouter's baseline model, USD.
    pub baseline_cost: f64,
    pub latency_ms: u64,
}

impl Usage {
    /// A routed request on `date` of `model` costing `cost` (baseline 20× that).
    pub fn routed(date: &str, model: &str, cost: f64) -> Usage {
        Usage {
            date: date.to_owned(),
            model: model.to_owned(),
            tier: "MEDIUM".to_owned(),
            cost,
            baseline_cost: cost * 20.0,
            latency_ms: 900,
        }
    }
}

/// The kinds ClawRouter counts in `providerErrors`, in its order.
pub const PROVIDER_ERROR_KINDS: &[&str] = &[
    "auth_failure",
    "quota_exceeded",
    "rate_limited",
    "overloaded",
    "server_error",
    "payment_error",
    "config_error",
];

/// `providerErrors` for `(model, kind, count)` triples: every kind of a model that failed.
pub fn provider_errors(errors: &[(String, String, u64)]) -> Value {
    let mut by_model: Map<String, Value> = Map::new();
    for (model, kind, count) in errors {
        let counts = by_model.entry(model.clone()).or_insert_with(|| {
            Value::Object(
                PROVIDER_ERROR_KINDS
                    .iter()
                    .map(|k| ((*k).to_owned(), json!(0)))
                    .collect(),
            )
        });
        let old = counts[kind.as_str()].as_u64().unwrap_or(0);
        counts[kind.as_str()] = json!(old + count);
    }
    Value::Object(by_model)
}

/// ClawRouter's `days` parameter: a positive integer, else 7; at most 30.
fn days_of(query: &str) -> usize {
    let raw = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("days="))
        .unwrap_or("");
    // parseInt: the leading digits count, anything else is "no number".
    let digits: String = raw.chars().take_while(char::is_ascii_digit).collect();
    match digits.parse::<usize>() {
        Ok(n) if n > 0 => n.min(30),
        _ => 7,
    }
}

/// A number as JavaScript's `JSON.stringify` writes it (`0`, not `0.0`).
fn js(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9e15 {
        json!(n as i64)
    } else {
        json!(n)
    }
}

#[derive(Default)]
struct Sum {
    count: u64,
    cost: f64,
}

/// The body ClawRouter answers `GET /stats?<query>` with, for its `log` and `errors`.
pub fn stats_body(log: &[Usage], errors: &Value, query: &str) -> String {
    let days = days_of(query);
    let mut files: BTreeMap<&str, Vec<&Usage>> = BTreeMap::new();
    for usage in log {
        files.entry(usage.date.as_str()).or_default().push(usage);
    }
    // The newest `days` files, then oldest first.
    let newest: Vec<(&str, Vec<&Usage>)> = files.into_iter().rev().take(days).collect();
    let mut breakdown = Vec::new();
    let (mut requests, mut cost, mut baseline, mut latency) = (0u64, 0.0, 0.0, 0.0);
    let mut tiers: BTreeMap<String, Sum> = BTreeMap::new();
    let mut models: BTreeMap<String, Sum> = BTreeMap::new();
    let mut with_baseline = 0u64;
    for (date, entries) in newest.into_iter().rev() {
        let mut day_tiers: BTreeMap<String, Sum> = BTreeMap::new();
        let mut day_models: BTreeMap<String, Sum> = BTreeMap::new();
        for e in &entries {
            for (map, key) in [(&mut day_tiers, &e.tier), (&mut day_models, &e.model)] {
                let sum = map.entry(key.clone()).or_default();
                sum.count += 1;
                sum.cost += e.cost;
            }
        }
        let n = entries.len() as u64;
        let day_cost: f64 = entries.iter().map(|e| e.cost).sum();
        let day_baseline: f64 = entries.iter().map(|e| e.baseline_cost).sum();
        let day_latency = entries.iter().map(|e| e.latency_ms as f64).sum::<f64>() / n as f64;
        for (all, day) in [(&mut tiers, &day_tiers), (&mut models, &day_models)] {
            for (key, sum) in day {
                let total = all.entry(key.clone()).or_default();
                total.count += sum.count;
                total.cost += sum.cost;
            }
        }
        requests += n;
        cost += day_cost;
        baseline += day_baseline;
        latency += day_latency * n as f64;
        if day_baseline != day_cost {
            with_baseline += n;
        }
        let sums = |map: &BTreeMap<String, Sum>| -> Value {
            map.iter()
                .map(|(k, s)| (k.clone(), json!({"count": s.count, "cost": js(s.cost)})))
                .collect::<Map<_, _>>()
                .into()
        };
        breakdown.push(json!({
            "date": date,
            "totalRequests": n,
            "totalCost": js(day_cost),
            "totalBaselineCost": js(day_baseline),
            "totalSavings": js(day_baseline - day_cost),
            "avgLatencyMs": js(day_latency),
            "byTier": sums(&day_tiers),
            "byModel": sums(&day_models),
        }));
    }
    let share = |map: &BTreeMap<String, Sum>| -> Value {
        map.iter()
            .map(|(k, s)| {
                let percentage = s.count as f64 * 100.0 / requests as f64;
                (
                    k.clone(),
                    json!({"count": s.count, "cost": js(s.cost), "percentage": js(percentage)}),
                )
            })
            .collect::<Map<_, _>>()
            .into()
    };
    let per_request = |total: f64| {
        if requests > 0 {
            total / requests as f64
        } else {
            0.0
        }
    };
    let savings = baseline - cost;
    let body = json!({
        "period": if days == 1 { "today".to_owned() } else { format!("last {days} days") },
        "totalRequests": requests,
        "totalCost": js(cost),
        "totalBaselineCost": js(baseline),
        "totalSavings": js(savings),
        "savingsPercentage": js(if baseline > 0.0 { savings * 100.0 / baseline } else { 0.0 }),
        "avgLatencyMs": js(per_request(latency)),
        "avgCostPerRequest": js(per_request(cost)),
        "byTier": share(&tiers),
        "byModel": share(&models),
        "dailyBreakdown": breakdown,
        "entriesWithBaseline": with_baseline,
        "providerErrors": errors,
    });
    serde_json::to_string_pretty(&body).unwrap_or_default()
}
