//! `desktop` and `websearch` switches (README, Commands and Web search).
//!
//! **desktop on** edits only the root `model` (`codex.default_model`), `model_provider =
//! "clawrouter"` and `model_catalog_json` of `$CODEX_HOME/config.toml`, and ensures
//! `[model_providers.clawrouter]` like the profile's but with `requires_openai_auth = true`
//! (Codex Desktop lists custom models only for providers that claim ChatGPT auth; the bridge
//! never forwards that token). When web search is on in the profile, the header is set here
//! too, so Desktop behaves like `codex --profile clawrouter`.
//!
//! **desktop off** restores the native default:
//! - when `model_provider` is `clawrouter`, it is removed and `model` becomes
//!   `codex.native_model` (default `gpt-5.5`); a leftover `model = <our default model>` with no
//!   provider is reset the same way;
//! - `model_catalog_json` is removed only when it is ours (a `clawrouter-catalog.json`);
//! - `[model_providers.clawrouter]` stays: unused unless selected, it keeps any keys the user
//!   added (retries, headers) for the next `desktop on`;
//! - a config that selects another custom provider is left alone (that is not our mode).
//!
//! **websearch on|off** sets or removes `x-web-search = "1"` in the `http_headers` of
//! `[model_providers.clawrouter]` in the profile and, when desktop mode is on, in
//! `config.toml`. `off` removes it from both files whatever the mode, so no stale header
//! turns search back on later. Both files are parsed before either is written.
//!
//! Every change is made through [`super::codex_config`] (format-preserving, atomic, one backup
//! per change); when nothing changes, nothing is written and the command says so. Codex reads
//! its config at start, so after a change the user is told to restart it.

use std::process::ExitCode;

use super::codex_config::{
    self, CodexConfigError, CodexFile, DesktopMode, Saved, PROVIDER_ID, WEB_SEARCH_HEADER,
    WEB_SEARCH_ON,
};
use crate::cli::Switch;
use crate::config::Config;

const RESTART: &str =
    "Restart Codex to apply: quit and reopen Codex Desktop (Cmd+Q on macOS), and start \
     running `codex` sessions again.";

/// What a switch did, in the words the user reads (printed by the CLI, shown by the
/// dashboard), and whether it succeeded.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SwitchReport {
    /// One entry per line.
    pub lines: Vec<String>,
    /// True unless the switch could not be made (a precondition failed).
    pub problem: bool,
}

impl SwitchReport {
    fn failed(mut self) -> Self {
        self.problem = true;
        self
    }

    /// A line naming a file the switch wrote (nothing when it was unchanged).
    fn saved(&mut self, path: &std::path::Path, saved: &Saved) {
        match saved {
            Saved::Unchanged => {}
            Saved::Created => self.lines.push(format!("   Created {}", path.display())),
            Saved::Changed { backup } => self.lines.push(format!(
                "   Edited {} (previous version saved as {})",
                path.display(),
                backup.display()
            )),
        }
    }
}

/// Adds a formatted line to a [`SwitchReport`].
macro_rules! say {
    ($report:expr, $($arg:tt)*) => {
        $report.lines.push(format!($($arg)*))
    };
}

/// `desktop on` (`on`) or `desktop off`: the same change the CLI and the dashboard make.
pub fn set_desktop(config: &Config, on: bool) -> Result<SwitchReport, CodexConfigError> {
    if on {
        desktop_on(config)
    } else {
        desktop_off(config)
    }
}

/// `websearch on` (`on`) or `websearch off`: the same change the CLI and the dashboard make.
pub fn set_websearch(config: &Config, on: bool) -> Result<SwitchReport, CodexConfigError> {
    websearch_switch(config, on)
}

/// Runs `desktop on|off|status`.
pub fn desktop(config: &Config, action: Switch) -> ExitCode {
    let result = match action {
        Switch::On => set_desktop(config, true).map(print_report),
        Switch::Off => set_desktop(config, false).map(print_report),
        Switch::Status => desktop_status(config),
    };
    finish(result)
}

/// Prints a switch's report; its exit code.
fn print_report(report: SwitchReport) -> ExitCode {
    for line in &report.lines {
        println!("{line}");
    }
    if report.problem {
        super::problem()
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs `websearch on|off|status`.
pub fn websearch(config: &Config, action: Switch) -> ExitCode {
    let result = match action {
        Switch::On => set_websearch(config, true).map(print_report),
        Switch::Off => set_websearch(config, false).map(print_report),
        Switch::Status => websearch_status(config),
    };
    finish(result)
}

fn finish(result: Result<ExitCode, CodexConfigError>) -> ExitCode {
    result.unwrap_or_else(|e| {
        eprintln!("clawrouter-codex: {e}");
        e.exit_code()
    })
}

fn desktop_on(config: &Config) -> Result<SwitchReport, CodexConfigError> {
    let mut said = SwitchReport::default();
    let path = codex_config::config_toml_path(config);
    let mut base = CodexFile::load(&path)?;
    let before = codex_config::desktop_state_of(&base, config)?;
    // Plain `codex` and Desktop refuse to start when model_catalog_json names a missing file:
    // never switch the user's default onto a catalog that is not there.
    let catalog = codex_config::catalog_path(config);
    if !catalog.is_file() {
        let what = if before.is_on() {
            "Desktop mode is on, but"
        } else {
            "Desktop mode not switched on:"
        };
        say!(
                said,
            "❌ {what} the model catalog {} does not exist yet, and Codex \
             would not start without it. Start the bridge (`clawrouter-codex start`), run \
             `clawrouter-codex gen-catalog`, then `clawrouter-codex desktop on` again. {} is unchanged.",
            catalog.display(),
            path.display()
        );
        return Ok(said.failed());
    }
    codex_config::apply_clawrouter(&mut base, config, true)?;
    // Keep Desktop's web search in step with the profile's.
    match CodexFile::load(&codex_config::profile_path(config)) {
        Ok(profile) => {
            if profile.provider_header_is(PROVIDER_ID, WEB_SEARCH_HEADER, WEB_SEARCH_ON)? {
                base.set_provider_header(PROVIDER_ID, WEB_SEARCH_HEADER, WEB_SEARCH_ON)?;
            }
        }
        Err(e) => say!(
            said,
            "⚠️  Could not read the profile to copy its web-search setting: {e}"
        ),
    }
    let saved = base.save()?;
    let model = &config.codex.default_model;
    match &saved {
        Saved::Unchanged => {
            say!(
                said,
                "Desktop mode is already on: Codex Desktop and plain `codex` use ClawRouter \
                 (model {model}). {} is unchanged.",
                path.display()
            );
        }
        _ => {
            say!(
                said,
                "✅ Desktop mode on: Codex Desktop and plain `codex` now use ClawRouter (model {model})."
            );
            said.saved(&path, &saved);
            if let DesktopMode::OtherProvider(other) = &before.mode {
                say!(said, "   (config.toml selected the provider `{other}` before; its table is untouched.)");
            }
            say!(
                said,
                "   The ClawRouter provider claims ChatGPT auth (requires_openai_auth = true) \
                 because Codex Desktop lists custom models only for such providers; stay signed \
                 in to Codex as usual. The bridge never forwards that token: requests are paid \
                 from the wallet."
            );
            say!(said, "   {RESTART}");
        }
    }
    Ok(said)
}

fn desktop_off(config: &Config) -> Result<SwitchReport, CodexConfigError> {
    let mut said = SwitchReport::default();
    let path = codex_config::config_toml_path(config);
    let mut base = CodexFile::load(&path)?;
    if !base.exists() {
        say!(
            said,
            "Desktop mode is already off: there is no {} (Codex uses its native default).",
            path.display()
        );
        return Ok(said);
    }
    let state = codex_config::desktop_state_of(&base, config)?;
    match &state.mode {
        DesktopMode::OtherProvider(other) => {
            say!(
                said,
                "Desktop mode is already off: {} selects the provider `{other}`, which is not \
                 ClawRouter's; left unchanged.",
                path.display()
            );
            return Ok(said);
        }
        DesktopMode::ClawRouter => {
            base.remove_root("model_provider");
            base.set_root_str("model", &config.codex.native_model);
        }
        DesktopMode::Native => {
            if state.model.as_deref() == Some(config.codex.default_model.as_str()) {
                base.set_root_str("model", &config.codex.native_model);
            }
        }
    }
    if base
        .root_str("model_catalog_json")
        .is_some_and(|v| codex_config::is_our_catalog(config, v))
    {
        base.remove_root("model_catalog_json");
    }
    let saved = base.save()?;
    if saved == Saved::Unchanged {
        say!(
            said,
            "Desktop mode is already off: Codex Desktop and plain `codex` use the native \
             default{}. {} is unchanged.",
            state
                .model
                .as_deref()
                .map(|m| format!(" (model {m})"))
                .unwrap_or_default(),
            path.display()
        );
        return Ok(said);
    }
    say!(
        said,
        "✅ Desktop mode off: Codex Desktop and plain `codex` are back on the native ChatGPT \
         default (model {}).",
        config.codex.native_model
    );
    said.saved(&path, &saved);
    say!(
        said,
        "   [model_providers.clawrouter] stays in {} (unused unless selected); \
         `codex --profile {}` still uses ClawRouter.",
        path.display(),
        config.codex.profile
    );
    say!(said, "   {RESTART}");
    Ok(said)
}

fn desktop_status(config: &Config) -> Result<ExitCode, CodexConfigError> {
    let path = codex_config::config_toml_path(config);
    let state = codex_config::desktop_state(config)?;
    let model = state
        .model
        .as_deref()
        .map(|m| format!(", model {m}"))
        .unwrap_or_default();
    match &state.mode {
        DesktopMode::ClawRouter => {
            println!("Desktop mode: on (ClawRouter{model}) in {}", path.display())
        }
        DesktopMode::Native if !state.config_exists => println!(
            "Desktop mode: off (no {}; Codex uses its native default)",
            path.display()
        ),
        DesktopMode::Native => println!(
            "Desktop mode: off (native ChatGPT default{model}) in {}",
            path.display()
        ),
        DesktopMode::OtherProvider(other) => println!(
            "Desktop mode: off ({} selects the provider `{other}`{model})",
            path.display()
        ),
    }
    for problem in &state.problems {
        println!("❌ {problem}");
    }
    Ok(if state.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        super::problem()
    })
}

fn websearch_switch(config: &Config, on: bool) -> Result<SwitchReport, CodexConfigError> {
    let mut said = SwitchReport::default();
    let profile_path = codex_config::profile_path(config);
    let base_path = codex_config::config_toml_path(config);
    // Parse both before writing either.
    let mut profile = CodexFile::load(&profile_path)?;
    let mut base = CodexFile::load(&base_path)?;
    let desktop_on = base.root_str("model_provider") == Some(PROVIDER_ID);
    let profile_ready = profile.provider(PROVIDER_ID)?.is_some();
    let word = if on { "on" } else { "off" };

    let mut missing = Vec::new();
    if on {
        if !profile_ready {
            missing.push(format!(
                "{} has no [model_providers.clawrouter] table: run `clawrouter-codex setup`, then \
                 `clawrouter-codex websearch on` again",
                profile_path.display()
            ));
        }
        if desktop_on && base.provider(PROVIDER_ID)?.is_none() {
            missing.push(format!(
                "{} selects ClawRouter but has no [model_providers.clawrouter] table: run \
                 `clawrouter-codex desktop on`, then `clawrouter-codex websearch on` again",
                base_path.display()
            ));
        }
        if !profile_ready && !desktop_on {
            say!(
                said,
                "❌ Web search not switched on: {}",
                missing.join("; ")
            );
            return Ok(said.failed());
        }
        profile.set_provider_header(PROVIDER_ID, WEB_SEARCH_HEADER, WEB_SEARCH_ON)?;
        if desktop_on {
            base.set_provider_header(PROVIDER_ID, WEB_SEARCH_HEADER, WEB_SEARCH_ON)?;
        }
    } else {
        profile.remove_provider_header(PROVIDER_ID, WEB_SEARCH_HEADER)?;
        base.remove_provider_header(PROVIDER_ID, WEB_SEARCH_HEADER)?;
    }

    let profile_saved = profile.save()?;
    let base_saved = match base.save() {
        Ok(s) => s,
        Err(e) => {
            if profile_saved.changed() {
                eprintln!(
                    "clawrouter-codex: {} was updated, but {} was not; run the command again",
                    profile_path.display(),
                    base_path.display()
                );
            }
            return Err(e);
        }
    };

    let places = if desktop_on {
        "`codex --profile` and Codex Desktop"
    } else {
        "`codex --profile`"
    };
    if !profile_saved.changed() && !base_saved.changed() {
        say!(
            said,
            "Web search is already {word} for {places}; nothing changed."
        );
    } else {
        if on {
            say!(
                said,
                "✅ Web search on for {places}: models can search the web through the bridge \
                 (BlockRun Exa, paid from the wallet)."
            );
        } else {
            say!(said, "✅ Web search off for {places}.");
        }
        said.saved(&profile_path, &profile_saved);
        said.saved(&base_path, &base_saved);
        if desktop_on || base_saved.changed() {
            say!(said, "   {RESTART}");
        } else {
            say!(
                said,
                "   Codex reads its config at start: start running `codex --profile {}` \
                 sessions again to apply.",
                config.codex.profile
            );
        }
    }
    for m in &missing {
        say!(said, "⚠️  {m}");
    }
    if !on && config.web_search.enabled {
        say!(
            said,
            "   (The bridge config turns web search on for every request: web_search.enabled \
             or WEB_SEARCH=1.)"
        );
    }
    Ok(if missing.is_empty() {
        said
    } else {
        said.failed()
    })
}

fn websearch_status(config: &Config) -> Result<ExitCode, CodexConfigError> {
    let status = codex_config::websearch_status(config)?;
    let show = |v: Option<bool>| match v {
        Some(true) => "on",
        Some(false) => "off",
        None => "not set up",
    };
    println!("Web search: {}", if status.any_on() { "on" } else { "off" });
    println!(
        "   codex --profile {}: {} ({})",
        config.codex.profile,
        show(status.profile),
        codex_config::profile_path(config).display()
    );
    match status.desktop {
        Some(v) => println!(
            "   Codex Desktop / plain codex: {} ({})",
            show(Some(v)),
            codex_config::config_toml_path(config).display()
        ),
        None => println!("   Codex Desktop / plain codex: desktop mode is off"),
    }
    let search = config.web_search;
    println!(
        "   bridge: {} (web_search.enabled in {}, or WEB_SEARCH=1)",
        if search.enabled {
            "on for every request"
        } else {
            "on for requests whose provider sends x-web-search: 1"
        },
        config.source.as_ref().map_or_else(
            || "the bridge config".to_owned(),
            |p| p.display().to_string()
        )
    );
    println!(
        "   Each search is a paid call to the upstream's /v1/exa/search (BlockRun Exa, from the \
         wallet): at most {} search rounds and {} results per search for one answer.",
        search.max_rounds, search.max_results
    );
    Ok(ExitCode::SUCCESS)
}
