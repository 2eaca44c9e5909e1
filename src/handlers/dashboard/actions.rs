//! The dashboard's changes (`POST /dashboard/api/<action>`), each the very code the CLI runs:
//! the desktop and web-search switches (`admin::toggles`), the profile's default model
//! (`admin::codex_config`, format-preserving with one backup), and Update models
//! (`admin::catalog::generate`, as `gen-catalog`).

use std::sync::Arc;

use serde_json::{json, Value};

use crate::admin::codex_config::{self, CodexFile, Saved};
use crate::admin::{catalog, toggles};
use crate::config::Config;

/// A change the page asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `desktop {"on": bool}`: Codex Desktop (and plain `codex`) on ClawRouter or the
    /// subscription.
    Desktop(bool),
    /// `websearch {"on": bool}`.
    WebSearch(bool),
    /// `model {"slug": …}`: the profile's default model.
    Model(String),
    /// `update-models {}`: regenerate the catalog.
    UpdateModels,
}

impl Action {
    /// The action named by the last path segment, with its JSON body.
    pub fn parse(name: &str, body: &[u8]) -> Result<Action, String> {
        let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?
        };
        let on = || {
            body["on"]
                .as_bool()
                .ok_or_else(|| "send {\"on\": true} or {\"on\": false}".to_owned())
        };
        match name {
            "desktop" => Ok(Action::Desktop(on()?)),
            "websearch" => Ok(Action::WebSearch(on()?)),
            "model" => match body["slug"].as_str() {
                Some(slug) if !slug.trim().is_empty() => Ok(Action::Model(slug.trim().to_owned())),
                _ => Err("send {\"slug\": \"<model id>\"}".to_owned()),
            },
            "update-models" => Ok(Action::UpdateModels),
            other => Err(format!("there is no dashboard action {other:?}")),
        }
    }

    /// Runs the change (file edits and the catalog's HTTP and `codex` calls block, so this
    /// runs on a blocking thread). `{"ok": bool, "message": …}` for the page.
    pub async fn run(self, config: Arc<Config>) -> Value {
        let done = tokio::task::spawn_blocking(move || self.run_blocking(&config)).await;
        match done {
            Ok(Ok(message)) => json!({"ok": true, "message": message}),
            Ok(Err(message)) => json!({"ok": false, "message": message}),
            Err(e) => json!({"ok": false, "message": format!("the change did not finish: {e}")}),
        }
    }

    fn run_blocking(self, config: &Config) -> Result<String, String> {
        match self {
            Action::Desktop(on) => report(toggles::set_desktop(config, on)),
            Action::WebSearch(on) => report(toggles::set_websearch(config, on)),
            Action::Model(slug) => set_default_model(config, &slug),
            Action::UpdateModels => catalog::generate(config)
                .map(|summary| format!("{} models in {}", summary.models, summary.path.display()))
                .map_err(|e| e.to_string()),
        }
    }
}

fn report(
    result: Result<toggles::SwitchReport, codex_config::CodexConfigError>,
) -> Result<String, String> {
    match result {
        Ok(report) => {
            let text = report
                .lines
                .iter()
                .map(|l| l.trim())
                .collect::<Vec<_>>()
                .join("\n");
            if report.problem {
                Err(text)
            } else {
                Ok(text)
            }
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Makes `slug` (a model of the catalog) the default of `codex --profile`.
fn set_default_model(config: &Config, slug: &str) -> Result<String, String> {
    let catalog_path = codex_config::catalog_path(config);
    let listed = std::fs::read(&catalog_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|catalog| {
            catalog["models"]
                .as_array()
                .map(|models| models.iter().any(|m| m["slug"] == slug))
        });
    match listed {
        Some(true) => {}
        Some(false) => return Err(format!("{slug} is not in the model catalog; Update models")),
        None => return Err("there is no model catalog yet: Update models".to_owned()),
    }
    let path = codex_config::profile_path(config);
    let mut profile = CodexFile::load(&path).map_err(|e| e.to_string())?;
    if !profile.exists() {
        return Err(format!(
            "there is no Codex profile {} yet: run `clawrouter-codex setup`",
            path.display()
        ));
    }
    profile.set_root_str("model", slug);
    let saved = profile.save().map_err(|e| e.to_string())?;
    let written = match saved {
        Saved::Unchanged => "already the default".to_owned(),
        Saved::Created | Saved::Changed { .. } => format!("written to {}", path.display()),
    };
    Ok(format!(
        "{slug} is the default model of `codex --profile {}` ({written}); new Codex sessions use it",
        config.codex.profile
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_read_from_name_and_body() {
        assert_eq!(
            Action::parse("desktop", br#"{"on":true}"#),
            Ok(Action::Desktop(true))
        );
        assert_eq!(
            Action::parse("websearch", br#"{"on":false}"#),
            Ok(Action::WebSearch(false))
        );
        assert_eq!(
            Action::parse("model", br#"{"slug":"anthropic/claude-opus-4.7"}"#),
            Ok(Action::Model("anthropic/claude-opus-4.7".into()))
        );
        assert_eq!(
            Action::parse("update-models", b""),
            Ok(Action::UpdateModels)
        );
        assert!(Action::parse("desktop", br#"{"on":"yes"}"#).is_err());
        assert!(Action::parse("model", br#"{}"#).is_err());
        assert!(Action::parse("rm-rf", b"{}").is_err());
        assert!(Action::parse("desktop", b"<html>").is_err());
    }
}
