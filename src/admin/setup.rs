//! `setup`: the Codex profile and the model catalog (README, Commands).
//!
//! Writes `$CODEX_HOME/<profile>.config.toml` (default `~/.codex/clawrouter.config.toml`):
//! the root `model`, `model_provider = "clawrouter"` and `model_catalog_json`, and the
//! `[model_providers.clawrouter]` table pointing at this bridge (`wire_api = "responses"`,
//! `requires_openai_auth = false`, `supports_websockets` as the bridge's `websocket.enabled`
//! (default true: Codex then talks to the bridge over a WebSocket), and
//! `experimental_bearer_token` when the bridge has an `auth_token`). An existing profile is
//! edited in place through [`super::codex_config`]: every key the user added stays, and a
//! second run writes nothing.
//!
//! The base `config.toml` keeps the user's default, so plain `codex` is unchanged. The one edit
//! `setup` makes there: a legacy `[profiles.<profile>]` table or `profile = "<profile>"` stops
//! `codex --profile <profile>` from starting, so `setup` says so and moves it into the profile
//! file ([`super::legacy_profile`]; backup kept) — unless run with `--keep-legacy`.
//!
//! Then the catalog is generated. That needs the bridge and the upstream; when they are down
//! the profile is still written, `setup` exits 0 and says how to make the catalog later.

use std::process::ExitCode;

use super::codex_config::{self, CodexFile, Saved};
use super::legacy_profile;
use crate::config::Config;

/// Runs `setup`; `keep_legacy` leaves a legacy profile in `config.toml`.
pub fn run(config: &Config, keep_legacy: bool) -> ExitCode {
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
    let legacy = move_legacy_profile(config, &mut profile, keep_legacy);
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

    if let Err(code) = save_base_config(legacy, config) {
        return code;
    }

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

/// Finds a legacy profile in `config.toml` and, unless `keep_legacy`, moves it into `profile`
/// (in memory) and returns `config.toml` to save once the profile is saved. Says what it does.
/// `config.toml` that does not parse is reported and left alone.
fn move_legacy_profile(
    config: &Config,
    profile: &mut CodexFile,
    keep_legacy: bool,
) -> Option<CodexFile> {
    let name = &config.codex.profile;
    let path = codex_config::config_toml_path(config);
    let mut base = match CodexFile::load(&path) {
        Ok(base) => base,
        Err(e) => {
            println!("⚠️  Codex will not start until its base config is fixed: {e}");
            return None;
        }
    };
    let legacy = legacy_profile::find(&base, name)?;
    let found = legacy.describe(name);
    if keep_legacy {
        println!(
            "⚠️  {} has {found}: {} while it is there. Left as it is (--keep-legacy); run \
             `clawrouter-codex setup` without it to move it into {}.",
            path.display(),
            legacy.consequence(name),
            profile.path().display()
        );
        return None;
    }
    println!(
        "ℹ️  {} has {found}: {} while it is there. Moving it into {} (a backup of {} is kept).",
        path.display(),
        legacy.consequence(name),
        profile.path().display(),
        path.display()
    );
    let moved = legacy_profile::move_into_profile(&mut base, profile, name);
    if !moved.moved.is_empty() {
        println!("   moved: {}", moved.moved.join(", "));
    }
    if !moved.kept_from_profile.is_empty() {
        println!(
            "   not moved, the profile's own value kept: {}",
            moved.kept_from_profile.join(", ")
        );
    }
    Some(base)
}

/// Saves `config.toml` after its legacy profile was moved out (the profile is saved already).
fn save_base_config(base: Option<CodexFile>, config: &Config) -> Result<(), ExitCode> {
    let Some(base) = base else {
        return Ok(());
    };
    match base.save() {
        Ok(Saved::Changed { backup }) => {
            println!(
                "✅ Removed the legacy profile from {} (previous version saved as {})",
                base.path().display(),
                backup.display()
            );
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) => {
            eprintln!(
                "clawrouter-codex: {e} (the profile {} is written; run setup again to finish)",
                codex_config::profile_path(config).display()
            );
            Err(e.exit_code())
        }
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
