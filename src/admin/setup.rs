//! `setup`: the Codex profile and the model catalog (PRODUCT.md §2).
//!
//! Writes `$CODEX_HOME/<profile>.config.toml` (default `~/.codex/clawrouter.config.toml`):
//! the root `model`, `model_provider = "clawrouter"` and `model_catalog_json`, and the
//! `[model_providers.clawrouter]` table pointing at this bridge (`wire_api = "responses"`,
//! `requires_openai_auth = false`, `supports_websockets = false`, and
//! `experimental_bearer_token` when the bridge has an `auth_token`). An existing profile is
//! edited in place through [`super::codex_config`]: every key the user added stays, and a
//! second run writes nothing.
//!
//! The base `config.toml` is never written: plain `codex` keeps the user's default. It is read
//! only to warn about an obsolete `[profiles.<profile>]` table.
//!
//! Then the catalog is generated. That needs the bridge and the upstream; when they are down
//! the profile is still written, `setup` exits 0 and says how to make the catalog later.

use std::process::ExitCode;

use super::codex_config::{self, CodexFile, Saved};
use crate::config::Config;

/// Runs `setup`.
pub fn run(config: &Config) -> ExitCode {
    let profile_name = &config.codex.profile;
    if !valid_profile_name(profile_name) {
        eprintln!(
            "clawrouter-codex: codex.profile {profile_name:?} (from {}) is not a usable profile name; \
             use letters, digits, '-', '_' or '.' (default: clawrouter)",
            source_name(config)
        );
        return super::bad_usage();
    }
    let path = codex_config::profile_path(config);
    let mut profile = match CodexFile::load(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("clawrouter-codex: {e}");
            return e.exit_code();
        }
    };
    let new_file = !profile.exists();
    if let Err(e) = codex_config::apply_clawrouter(&mut profile, config, false) {
        eprintln!("clawrouter-codex: {e}");
        return e.exit_code();
    }
    if new_file {
        // A note for whoever opens the file; only on creation, so a user's edits stay theirs.
        if let Some(mut key) = profile.document_mut().as_table_mut().key_mut("model") {
            key.leaf_decor_mut().set_prefix(format!(
                "# Codex profile for ClawRouter, written by `clawrouter-codex setup`.\n\
                 # Use it with: codex --profile {profile_name}\n\
                 # Keys you add here are kept when setup runs again.\n\n"
            ));
        }
    }
    match profile.save() {
        Ok(Saved::Created) => println!("✅ Wrote the Codex profile {}", path.display()),
        Ok(Saved::Changed { backup }) => println!(
            "✅ Updated the Codex profile {} (previous version saved as {})",
            path.display(),
            backup.display()
        ),
        Ok(Saved::Unchanged) => println!(
            "✅ The Codex profile {} is already up to date",
            path.display()
        ),
        Err(e) => {
            eprintln!("clawrouter-codex: {e}");
            return e.exit_code();
        }
    }
    println!(
        "   model {}, provider clawrouter at {}",
        config.codex.default_model,
        codex_config::bridge_base_url(config)
    );

    warn_about_base_config(config);

    let catalog = codex_config::catalog_path(config);
    match generate_catalog(config) {
        Ok(summary) => println!("✅ {summary}"),
        Err(why) => {
            println!("⚠️  The model catalog was not generated: {why}");
            if catalog.is_file() {
                println!(
                    "   Keeping the existing catalog {}. To refresh it, start the bridge \
                     (`clawrouter-codex start`) and run `clawrouter-codex gen-catalog`.",
                    catalog.display()
                );
            } else {
                println!(
                    "   Codex cannot start with this profile until {} exists: start the bridge \
                     (`clawrouter-codex start`), then run `clawrouter-codex gen-catalog`.",
                    catalog.display()
                );
            }
        }
    }
    println!();
    println!("Next: codex --profile {profile_name}");
    ExitCode::SUCCESS
}

/// Warns (never writes) about the base `config.toml`: an obsolete `[profiles.<profile>]`
/// table, or a file Codex will refuse to load.
fn warn_about_base_config(config: &Config) {
    let base = codex_config::config_toml_path(config);
    match CodexFile::load(&base) {
        Ok(file) => {
            if codex_config::has_legacy_profile(&file, &config.codex.profile) {
                let name = &config.codex.profile;
                println!(
                    "⚠️  {} still has a [profiles.{name}] table. Codex now reads profiles from \
                     {}; remove the [profiles.{name}] table (and its sub-tables) from {} so the \
                     two cannot disagree. setup did not change {}.",
                    base.display(),
                    codex_config::profile_path(config).display(),
                    base.display(),
                    base.display()
                );
            }
        }
        Err(e) => println!("⚠️  Codex will not start until its base config is fixed: {e}"),
    }
}

/// Generates the catalog and returns a one-line summary.
fn generate_catalog(config: &Config) -> Result<String, String> {
    crate::admin::catalog::generate(config)
        .map(|summary| format!("{} models in {}", summary.models, summary.path.display()))
        .map_err(|e| e.to_string())
}

/// A profile name that is one plain file-name component (no path tricks).
fn valid_profile_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn source_name(config: &Config) -> String {
    config
        .source
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "built-in defaults".to_owned())
}

#[cfg(test)]
mod tests {
    use super::valid_profile_name;

    #[test]
    fn profile_names() {
        assert!(valid_profile_name("clawrouter"));
        assert!(valid_profile_name("claw-router_2.x"));
        for bad in ["", ".", "..", "a/b", "../x", "a b", "ä"] {
            assert!(!valid_profile_name(bad), "{bad}");
        }
    }
}
