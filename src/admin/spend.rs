//! `spend`: what direct mode paid, from its ledger — today (UTC), the last 7 days, and per
//! model over those 7 days — beside the caps. Reads the ledger only (it is never created or
//! changed here); a ledger that cannot be read is an error saying why, never a zero.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{json, Map};

use super::envelope;
use crate::config::Config;
use crate::payments::ledger::Ledger;
use crate::payments::policy::Usdc;

/// What `spend` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Spend {
    /// The ledger read.
    pub ledger: PathBuf,
    /// Spent in the current UTC day.
    pub today: Usdc,
    /// Spent in the last 7 × 24 h.
    pub last_7_days: Usdc,
    /// Per model (web searches as `exa/search`), most first, last 7 days.
    pub per_model: Vec<(String, Usdc)>,
}

/// The ledger `spend` reads: direct mode's, else where it would be by default.
pub fn ledger_path(config: &Config) -> Option<PathBuf> {
    match &config.direct {
        Some(direct) => Some(direct.ledger.clone()),
        None => config
            .state_dir
            .as_ref()
            .map(|dir| dir.join("payments.sqlite")),
    }
}

/// Reads the report at `now` (unix seconds); `Ok(None)` when there is no ledger yet.
pub fn read(config: &Config, now: i64) -> Result<Option<Spend>, String> {
    let Some(path) = ledger_path(config) else {
        return Err(
            "HOME is not set, so the payment ledger cannot be found; set direct.ledger".to_owned(),
        );
    };
    if !path.exists() {
        return Ok(None);
    }
    let ledger = Ledger::open(&path).map_err(|e| e.to_string())?;
    let week = now - 7 * 24 * 3600;
    Ok(Some(Spend {
        today: ledger.spent_today(now).map_err(|e| e.to_string())?,
        last_7_days: ledger.spent_last_7_days(now).map_err(|e| e.to_string())?,
        per_model: ledger.spent_per_model(week).map_err(|e| e.to_string())?,
        ledger: path,
    }))
}

/// `clawrouter-codex spend [--json]`.
pub fn run(config: &Config, json: bool) -> ExitCode {
    let now = crate::clock::unix_now_i64();
    let report = read(config, now);
    let mut out = std::io::stdout();
    if json {
        let envelope = match &report {
            Ok(spend) => envelope::success(to_json(config, spend.as_ref())),
            Err(message) => envelope::failure("ledger_unreadable", message, Map::new()),
        };
        return envelope::print(&mut out, &envelope);
    }
    match report {
        Err(message) => {
            eprintln!("clawrouter-codex spend: {message}");
            super::problem()
        }
        Ok(spend) => {
            let _ = out.write_all(text(config, spend.as_ref()).as_bytes());
            ExitCode::SUCCESS
        }
    }
}

/// The report for people.
pub fn text(config: &Config, spend: Option<&Spend>) -> String {
    let mut lines = Vec::new();
    let caps = config.direct.as_ref().map(|d| d.caps);
    match spend {
        None => {
            lines.push(
                "No payments recorded yet (direct mode has not paid for anything).".to_owned(),
            );
            if config.direct.is_none() {
                lines.push(
                    "Direct mode is off (upstream.kind: clawrouter): ClawRouter pays, and \
                     `doctor` shows its spending."
                        .to_owned(),
                );
            }
        }
        Some(spend) => {
            lines.push(format!("Direct-mode spending ({})", spend.ledger.display()));
            let day_cap = caps
                .and_then(|c| c.per_day)
                .map(|cap| format!("  (cap {cap} a day)"))
                .unwrap_or_default();
            lines.push(format!("  today (UTC)   {}{day_cap}", spend.today));
            lines.push(format!("  last 7 days   {}", spend.last_7_days));
            if !spend.per_model.is_empty() {
                lines.push("  per model, last 7 days:".to_owned());
                let width = spend
                    .per_model
                    .iter()
                    .map(|(m, _)| m.len())
                    .max()
                    .unwrap_or(0);
                for (model, usd) in &spend.per_model {
                    lines.push(format!("    {model:<width$}  {usd}"));
                }
            }
        }
    }
    if let Some(caps) = caps {
        lines.push(format!("  cap per request {}", caps.per_request));
    }
    lines.push(String::new());
    lines.join("\n")
}

fn to_json(config: &Config, spend: Option<&Spend>) -> serde_json::Value {
    let caps = config.direct.as_ref().map(|d| {
        json!({
            "per_request_usd": d.caps.per_request.as_usd(),
            "per_day_usd": d.caps.per_day.map(Usdc::as_usd),
            "per_thread_usd": d.caps.per_thread.map(Usdc::as_usd),
        })
    });
    match spend {
        None => {
            json!({"ledger": null, "today_usd": 0.0, "last_7_days_usd": 0.0, "per_model": [], "caps": caps})
        }
        Some(spend) => json!({
            "ledger": spend.ledger.display().to_string(),
            "today_usd": spend.today.as_usd(),
            "last_7_days_usd": spend.last_7_days.as_usd(),
            "per_model": spend.per_model.iter()
                .map(|(model, usd)| json!({"model": model, "usd": usd.as_usd()}))
                .collect::<Vec<_>>(),
            "caps": caps,
        }),
    }
}
