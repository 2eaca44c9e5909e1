//! The one line that tells the user a free model answered instead of the model they chose.
//!
//! ClawRouter answers from a free model when its wallet cannot pay: after its balance
//! pre-check it says so at the start of the text (`> **⚠️ Wallet empty** — using free
//! model…`, `> **⚠️ Insufficient balance** …`); after a refused payment its fallback chain
//! ends in a free model and it says nothing. Either way the answer's `model` names the free
//! model. This module decides, from that model and facts the proxy gathered beforehand, which
//! line (if any) goes before the model's text:
//!
//! - [`FreeModels`]: which models cost nothing, read from the upstream's `/v1/models`
//!   ([`FreeModels::from_model_list`]): ids under `free/` and entries `owned_by: "free"`
//!   (ClawRouter), entries whose listed prices are all 0 (OpenRouter's `pricing`, `inputPrice` /
//!   `outputPrice`, …), and `nvidia/X` for a listed `free/X` (ClawRouter asks BlockRun for its
//!   `free/…` models under that name, and the answer carries it).
//! - [`ModelNotice`]: for one request that named a model that is not free, the line to show
//!   when the answer comes from a free one ([`ModelNotice::line_for`]).
//! - [`has_clawrouter_notice`]: the text already starts with ClawRouter's own notice, which is
//!   kept instead (never two).
//! - [`without_line`]: Codex sends the line back in its history; the request translator cuts it
//!   (the model reads its own text) and shows it once per turn (not again while an answer
//!   since the user's last message carries it).

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Value;

/// How the line starts.
const LINE_START: &str = "Note: ClawRouter answered with the free model ";
/// The start of [`LINE_START`] (no character JSON escapes), for a cheap first check.
pub const LINE_HINT: &str = "Note: ";

/// `text` without the line [`ModelNotice::line_for`] put at its start (and the blank line after
/// it); `None` when `text` does not start with one. Codex sends the line back in the history:
/// the model is given its own text.
pub fn without_line(text: &str) -> Option<&str> {
    let rest = text.strip_prefix(LINE_START)?;
    Some(rest.split_once("\n\n").map_or("", |(_, after)| after))
}

/// The prefix of every notice ClawRouter puts at the start of an answer's text (wallet empty,
/// insufficient balance, budget low).
pub const CLAWROUTER_NOTICE_PREFIX: &str = "> **⚠️";

/// Which models the upstream serves for free (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FreeModels {
    /// Ids known to be free from the list (beyond the `free/…` rule).
    ids: HashSet<String>,
}

impl FreeModels {
    /// The free models of an OpenAI-style model list (`{"data":[…]}`, `{"models":[…]}` or a bare
    /// array); `None` when the body is not such a list.
    pub fn from_model_list(body: &[u8]) -> Option<Self> {
        let list: Value = serde_json::from_slice(body).ok()?;
        let entries = list
            .get("data")
            .or_else(|| list.get("models"))
            .unwrap_or(&list)
            .as_array()?;
        let mut ids = HashSet::new();
        for entry in entries {
            let Some(id) = entry.get("id").and_then(Value::as_str) else {
                continue;
            };
            if entry.get("owned_by").and_then(Value::as_str) == Some("free") || costs_nothing(entry)
            {
                ids.insert(id.to_owned());
            }
            if let Some(name) = id.strip_prefix("free/") {
                ids.insert(format!("nvidia/{name}"));
            }
        }
        Some(FreeModels { ids })
    }

    /// True when `model` costs nothing: ClawRouter's `free` profile and `free/…` ids, or a
    /// model the list says is free. A `blockrun/` prefix (ClawRouter's own) is ignored.
    pub fn is_free(&self, model: &str) -> bool {
        let model = model.strip_prefix("blockrun/").unwrap_or(model);
        model == "free" || model.starts_with("free/") || self.ids.contains(model)
    }
}

/// True when the entry lists prices and every one of them is 0.
fn costs_nothing(entry: &Value) -> bool {
    let mut prices = Vec::new();
    if let Some(Value::Object(pricing)) = entry.get("pricing") {
        for key in ["prompt", "completion", "input", "output"] {
            prices.extend(pricing.get(key).map(price));
        }
    }
    for key in ["inputPrice", "outputPrice", "input_price", "output_price"] {
        prices.extend(entry.get(key).map(price));
    }
    !prices.is_empty() && prices.iter().all(|p| *p == Some(0.0))
}

/// A price as a number (OpenRouter writes them as strings).
fn price(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// True when `text` starts (after blanks) with ClawRouter's own notice.
pub fn has_clawrouter_notice(text: &str) -> bool {
    text.trim_start().starts_with(CLAWROUTER_NOTICE_PREFIX)
}

/// Watches one response for an answer from a free model (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelNotice {
    requested: String,
    free: Arc<FreeModels>,
}

impl ModelNotice {
    /// For a request that named `requested`; `None` when that model is itself free (then no
    /// line is ever due). The upstream is ClawRouter: the line names it and how to fund its
    /// wallet.
    pub fn new(requested: &str, free: Arc<FreeModels>) -> Option<Self> {
        (!free.is_free(requested)).then(|| ModelNotice {
            requested: requested.to_owned(),
            free,
        })
    }

    /// The line to put before the text of an answer from `answered`, ending with a blank line;
    /// `None` unless `answered` is free and not the requested model.
    pub fn line_for(&self, answered: &str) -> Option<String> {
        if answered == self.requested || !self.free.is_free(answered) {
            return None;
        }
        let requested = &self.requested;
        Some(format!(
            "{LINE_START}{answered} instead of {requested} — the wallet could not pay. Fund it: \
             `clawrouter-codex wallet`.\n\n"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clawrouter_list() -> Arc<FreeModels> {
        FreeModels::from_model_list(
            br#"{"object":"list","data":[
                {"id":"auto","owned_by":"blockrun"},
                {"id":"free","owned_by":"blockrun"},
                {"id":"anthropic/claude-sonnet-4.6","owned_by":"anthropic"},
                {"id":"free/gpt-oss-120b","owned_by":"free"}]}"#,
        )
        .map(Arc::new)
        .unwrap()
    }

    #[test]
    fn clawrouter_free_models_and_their_upstream_names_are_free() {
        let free = clawrouter_list();
        assert!(free.is_free("free/gpt-oss-120b"));
        assert!(free.is_free("nvidia/gpt-oss-120b"));
        assert!(free.is_free("free"));
        assert!(free.is_free("blockrun/free"));
        assert!(!free.is_free("auto"));
        assert!(!free.is_free("blockrun/auto"));
        assert!(!free.is_free("anthropic/claude-sonnet-4.6"));
        assert!(!free.is_free("nvidia/kimi-k2.5"));
    }

    #[test]
    fn listed_prices_of_zero_make_a_model_free() {
        let free = FreeModels::from_model_list(
            br#"{"data":[
                {"id":"meta/llama:free","pricing":{"prompt":"0","completion":"0"}},
                {"id":"openai/gpt-5.2","pricing":{"prompt":"0.00000125","completion":"0.00001"}},
                {"id":"qwen/q","inputPrice":0,"outputPrice":0},
                {"id":"half","inputPrice":0,"outputPrice":2.5},
                {"id":"unpriced"}]}"#,
        )
        .unwrap();
        assert!(free.is_free("meta/llama:free"));
        assert!(free.is_free("qwen/q"));
        assert!(!free.is_free("openai/gpt-5.2"));
        assert!(!free.is_free("half"));
        assert!(!free.is_free("unpriced"));
        assert!(FreeModels::from_model_list(b"<html>").is_none());
    }

    #[test]
    fn the_line_names_both_models_once_a_free_one_answered_a_paid_request() {
        let notice = ModelNotice::new("anthropic/claude-sonnet-4.6", clawrouter_list()).unwrap();
        let line = notice.line_for("nvidia/gpt-oss-120b").unwrap();
        assert_eq!(
            line,
            "Note: ClawRouter answered with the free model nvidia/gpt-oss-120b instead of \
             anthropic/claude-sonnet-4.6 — the wallet could not pay. Fund it: \
             `clawrouter-codex wallet`.\n\n"
        );
        assert_eq!(notice.line_for("anthropic/claude-sonnet-4.6"), None);
        assert_eq!(notice.line_for("deepseek/deepseek-v4-pro"), None);
    }

    #[test]
    fn no_line_when_a_free_model_was_asked_for() {
        assert_eq!(
            ModelNotice::new("free/gpt-oss-120b", clawrouter_list()),
            None
        );
        assert_eq!(ModelNotice::new("free", clawrouter_list()), None);
        assert_eq!(
            ModelNotice::new("nvidia/gpt-oss-120b", clawrouter_list()),
            None
        );
    }

    #[test]
    fn the_line_is_recognised_and_only_the_line_is_cut() {
        let notice = ModelNotice::new("auto", clawrouter_list()).unwrap();
        let line = notice.line_for("free/gpt-oss-120b").unwrap();
        let text = format!("{line}  Hi!\n\n\tthere");
        assert_eq!(without_line(&text), Some("  Hi!\n\n\tthere"));
        assert_eq!(without_line(line.trim_end()), Some(""));
        assert_eq!(without_line("Note: something else.\n\nHi!"), None);
        assert_eq!(without_line("Hi!"), None);
        assert!(line.starts_with(LINE_HINT));
    }

    #[test]
    fn clawrouter_notices_are_recognised() {
        assert!(has_clawrouter_notice(
            "> **⚠️ Insufficient balance** ($0.00) — using free model instead of auto.\n\nHi"
        ));
        assert!(has_clawrouter_notice(
            "\n> **⚠️ Wallet empty** — using free model."
        ));
        assert!(!has_clawrouter_notice("Hi > **⚠️"));
    }
}
