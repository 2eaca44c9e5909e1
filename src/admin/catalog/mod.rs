//! `gen-catalog`: the Codex model catalog (`$CODEX_HOME/clawrouter-catalog.json`) built from
//! the upstream's live model list (docs/ARCHITECTURE.md, Model catalog).
//!
//! # Steps
//!
//! 1. **Model list.** `GET /v1/models` through the bridge when it is up
//!    (`http://<listen>/v1/models`), else straight from the upstream (`<upstream.url>/models`).
//!    Both go through [`http::get`](crate::admin::http::get) (the bridge's own client, so an
//!    `https` upstream is read directly too).
//! 2. **Selection and naming** ([`select`]):
//!    - ClawRouter's `auto` (or an id equal to `codex.default_model`) comes first, with
//!      `codex.default_model` (`blockrun/auto`) as its slug: ClawRouter strips the `blockrun/`
//!      prefix, and the profile `setup` writes selects that slug.
//!    - Bare ClawRouter aliases (`owned_by: "blockrun"`, no `/`) are hidden except the routing
//!      profiles `auto`, `eco` and `premium`. The others (`claude`, `opus`, `flash`, `free`, …)
//!      each redirect to one model that is already listed under its real `provider/model` id,
//!      so showing them would only duplicate entries (`free` is GPT-OSS 120B, not a profile).
//!      Bare ids of other upstreams (vLLM, Ollama, LM Studio: `qwen3:8b`) are real models and kept.
//!    - Image/video/audio generation, speech, embedding, moderation and realtime models are
//!      hidden (id tokens such as `dall-e`, `gpt-image`, `imagen`, `flux`, `sora`, `veo`, `tts`,
//!      `whisper`, `transcribe`, `embedding`).
//!    - Dashed and dotted spellings of one model collapse (`claude-opus-4-7` = `claude-opus-4.7`;
//!      the dotted spelling wins); a dash joins two version numbers only when the second has one
//!      or two digits, so dates (`grok-4-0709`) and sizes (`mistral-small-3-24b`) stay apart.
//!    - Per model series (the id with its version number replaced, e.g. `anthropic/claude-opus-#`,
//!      `openai/gpt-#-mini`, `moonshot/kimi-k#`) the newest `N` versions stay (default 3);
//!      versions compare numerically (`4.20` > `4.5`), dates only break ties.
//!    - Order: the profiles, then families (the `provider/` prefix) alphabetically with `free/`
//!      last; inside a family, series newest first, versions newest first.
//!    - Readable names (`Claude Opus 4.7`, `GPT-5.4 Mini`, `DeepSeek V4 Flash (free)`,
//!      `Kimi K2.5 (NVIDIA)`); the slug is always the upstream's original id.
//! 3. **Entries** ([`build_entry`]): the installed Codex prints its own bundled catalog
//!    (`codex debug models --bundled`, run with a throw-away `CODEX_HOME`); one of its listed
//!    entries — preferring one without code mode and without Responses-lite — is the template,
//!    so the schema and prompt fields (`base_instructions`, `model_messages`, truncation policy)
//!    match the user's Codex version. Overridden per model: slug, names, priority, `visibility:
//!    list`, freeform `apply_patch`, `unified_exec` shell, hosted-only features off
//!    (`supports_search_tool`, `use_responses_lite`, `tool_mode` removed, multi-agent disabled,
//!    service tiers removed), reasoning levels low/medium/high with no default effort (so nothing
//!    is sent to models that reject it until the user picks one), `default_reasoning_summary:
//!    none`, verbosity off, text-only web search, context window and image input from the model
//!    list when it carries them (`context_length`, `context_window`, `max_model_len`,
//!    OpenRouter's `architecture`), else 128000 tokens and text+image. Codex is found through
//!    `CODEX_BIN`, else `PATH`. When it is missing or fails, a built-in entry of our own (our own
//!    short instructions) is used instead. When Codex is available the finished file is checked
//!    with `codex -c model_catalog_json=… debug models` before it replaces the old one; entries
//!    Codex rejects are rebuilt from the built-in template.
//! 4. The file is written atomically (temp file + rename) and printed as a summary.
//!
//! # File or live URL (`model_catalog_url`)?
//!
//! Codex can fetch the catalog from a provider's `model_catalog_url` (`GET url?client_version=…`)
//! at every start and cache it in `models_cache.json`. Served by the bridge that would keep the
//! picker current without re-running `gen-catalog`, but it loses on the points that matter:
//! - The entries must match the *user's* Codex version (schema and prompt fields). The bridge
//!   would have to run `codex debug models --bundled` itself (or trust `client_version`) on every
//!   start of Codex; the file is built once, by the Codex that will read it, and verified by it.
//! - Codex Desktop only shows custom models from `model_catalog_json` for a provider that claims
//!   ChatGPT auth (`desktop on`); the URL path is unverified there.
//! - When the bridge is down at Codex start, the URL fails and Codex falls back to a stale cache
//!   or fallback metadata (no `apply_patch`); the file always works.
//! - A fresh upstream list is only a `gen-catalog` (or dashboard ↻ Update models) away, and
//!   ClawRouter's list changes with ClawRouter releases, not per request.
//!
//! So the file is the source of truth. A live endpoint (e.g. `GET /codex/catalog`) could later
//! return exactly this file's JSON (`{"models":[…]}`) read from disk, so both agree; it is not
//! needed for the picker to work.
//!
//! # Files
//!
//! - this file: the command (`run`, [`generate`]) and what it reports;
//! - `models.rs`: getting the upstream's model list and reading it ([`parse_model_list`]);
//! - `select.rs`: which models the picker shows, in which order, under which names ([`select`]);
//! - `entry.rs`: one catalog entry from a template ([`build_entry`], [`pick_template`],
//!   [`builtin_template`]);
//! - `codex.rs`: running the installed `codex` program (its version, its bundled catalog, the
//!   check of the finished file).

mod codex;
mod entry;
mod models;
mod select;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{json, Value};

use crate::config::Config;
use crate::fsutil::{Mode, StagedFile};
use codex::{bundled_template, verify_with_codex};
use models::fetch_model_list;

pub use super::codex_config::CATALOG_FILE;
pub(crate) use codex::{codex_program, codex_version};
pub use entry::{build_entry, builtin_template, pick_template};
pub(crate) use models::bridge_origin;
pub use models::{parse_model_list, ListedModel};
pub use select::{is_media, normalize, select, Selected};

/// How many versions of one model series stay in the picker.
pub const DEFAULT_PER_SERIES: usize = 3;
/// Context window assumed when the model list does not say.
pub const DEFAULT_CONTEXT_WINDOW: i64 = 128_000;
/// ClawRouter's routing profiles that stay in the picker (see the module docs).
pub const KEPT_PROFILES: &[&str] = &["auto", "eco", "premium"];

/// Where the catalog entries' schema and prompt came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntrySource {
    /// Built from the installed Codex's bundled catalog (`codex debug models --bundled`).
    BundledFromCodex {
        /// `codex --version`, e.g. `0.169.0`.
        version: String,
    },
    /// Our own built-in entry (Codex not found, or its bundled catalog was unusable).
    BuiltIn,
}

/// What [`generate`] wrote.
#[derive(Debug, Clone)]
pub struct CatalogSummary {
    /// The catalog file (`$CODEX_HOME/clawrouter-catalog.json`).
    pub path: PathBuf,
    /// Number of models in it.
    pub models: usize,
    /// Whether the entries were built from the installed Codex's bundled catalog or from ours.
    pub source_of_entries: EntrySource,
    /// The URL the model list came from.
    pub model_list_url: String,
    /// Why the built-in entry was used, when it was.
    pub builtin_reason: Option<String>,
    /// Whether the installed Codex parsed the finished file (`false` when Codex is absent).
    pub verified_by_codex: bool,
    /// Whether `codex.default_model` (or ClawRouter's `auto` for `blockrun/auto`) is listed:
    /// when not, the profile's model has no catalog entry.
    pub default_model_listed: bool,
}

/// Why the catalog could not be generated. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Neither the bridge's `/v1/models` nor the upstream's `/models` gave a usable list; the
    /// text names each URL tried and what went wrong there (and suggests `start` when the
    /// upstream did not answer at all).
    #[error("could not get the model list: {0}")]
    ModelList(String),
    /// The list was read, but the selection rules hid every model in it (only aliases or media
    /// models, say).
    #[error("the model list from {url} has no models Codex can use ({listed} listed)")]
    NoModels {
        /// The URL the list came from.
        url: String,
        /// How many models the list had before selection.
        listed: usize,
    },
    /// Creating `$CODEX_HOME` or writing the catalog file (or its staged copy) failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The directory or file that could not be written.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Runs `gen-catalog`.
pub fn run(config: &Config) -> ExitCode {
    match generate(config) {
        Ok(summary) => {
            let source = match &summary.source_of_entries {
                EntrySource::BundledFromCodex { version } => {
                    format!("entries built from Codex {version}'s bundled catalog")
                }
                EntrySource::BuiltIn => "built-in entries".to_owned(),
            };
            println!(
                "wrote {} models to {} ({source}; model list from {})",
                summary.models,
                summary.path.display(),
                summary.model_list_url
            );
            if let Some(reason) = &summary.builtin_reason {
                println!("note: used our built-in entry: {reason}");
            }
            if !summary.default_model_listed {
                println!(
                    "warning: the upstream does not list the default model {:?}; set \
                     codex.default_model in the config to one of the slugs in {}",
                    config.codex.default_model,
                    summary.path.display()
                );
            }
            if !summary.verified_by_codex && summary.builtin_reason.is_none() {
                println!("note: not checked by Codex (install it: npm install -g @openai/codex)");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("clawrouter-codex: gen-catalog: {e}");
            super::problem()
        }
    }
}

/// Fetches the model list, builds the catalog and writes `$CODEX_HOME/clawrouter-catalog.json`
/// atomically. Never leaves a half-written file behind.
pub fn generate(config: &Config) -> Result<CatalogSummary, CatalogError> {
    let (listed, url) = fetch_model_list(config)?;
    let selected = select(&listed, &config.codex.default_model, DEFAULT_PER_SERIES);
    if selected.is_empty() {
        return Err(CatalogError::NoModels {
            url,
            listed: listed.len(),
        });
    }
    let path = catalog_path(config);
    let codex = codex_program();

    let version = codex_version(&codex);
    let codex_ok = version.is_ok();
    let bundled = version.and_then(|v| bundled_template(&codex).map(|t| (t, v)));
    let (mut source, mut builtin_reason, template) = match bundled {
        Ok((template, version)) => (EntrySource::BundledFromCodex { version }, None, template),
        Err(reason) => (EntrySource::BuiltIn, Some(reason), builtin_template()),
    };
    let mut text = render(&template, &selected);
    std::fs::create_dir_all(&config.codex.home).map_err(|e| CatalogError::Write {
        path: config.codex.home.clone(),
        source: e,
    })?;
    let write_error = |source| CatalogError::Write {
        path: path.clone(),
        source,
    };
    // Written beside the catalog, checked by Codex itself, and only then put in place.
    let staged = StagedFile::write(&path, text.as_bytes(), &Mode::Shared).map_err(write_error)?;

    let mut verified = false;
    if codex_ok {
        match verify_with_codex(&codex, staged.path()) {
            Ok(()) => verified = true,
            Err(why) if source != EntrySource::BuiltIn => {
                // The bundled template did not survive the round trip: use ours.
                source = EntrySource::BuiltIn;
                builtin_reason = Some(format!(
                    "Codex rejected entries built from its bundled catalog ({why})"
                ));
                text = render(&builtin_template(), &selected);
                staged.rewrite(text.as_bytes()).map_err(write_error)?;
                verified = verify_with_codex(&codex, staged.path()).is_ok();
            }
            Err(_) => {}
        }
    }
    staged.commit().map_err(write_error)?;
    Ok(CatalogSummary {
        path,
        models: selected.len(),
        source_of_entries: source,
        model_list_url: url,
        builtin_reason,
        verified_by_codex: verified,
        default_model_listed: selected
            .first()
            .is_some_and(|s| s.slug == config.codex.default_model),
    })
}

/// `$CODEX_HOME/clawrouter-catalog.json` (one definition, shared with setup and the toggles).
pub use super::codex_config::catalog_path;

fn render(template: &Value, selected: &[Selected]) -> String {
    let models: Vec<Value> = selected
        .iter()
        .enumerate()
        .map(|(i, s)| build_entry(template, s, i as i64 + 1))
        .collect();
    let mut text = serde_json::to_string_pretty(&json!({ "models": models }))
        .unwrap_or_else(|_| String::from("{\"models\":[]}"));
    text.push('\n');
    text
}

/// The start of an answer body for an error message (`: …`, at most 200 characters; empty for
/// an empty body).
fn snippet(body: &str) -> String {
    let text = body.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {}", text.chars().take(200).collect::<String>())
    }
}
