//! `gen-catalog`: the Codex model catalog (`$CODEX_HOME/clawrouter-catalog.json`) built from
//! the upstream's live model list (docs/ARCHITECTURE.md, Model catalog).
//!
//! # Steps
//!
//! 1. **Model list.** `GET /v1/models` through the bridge when it is up
//!    (`http://<listen>/v1/models`), else straight from the upstream (`<upstream.url>/models`).
//!    Both go through [`http::get`] (the bridge's own client, so an `https` upstream is read
//!    directly too).
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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use super::http;
use crate::config::Config;
use crate::fsutil::{Mode, StagedFile};

pub use super::codex_config::CATALOG_FILE;
/// How many versions of one model series stay in the picker.
pub const DEFAULT_PER_SERIES: usize = 3;
/// Context window assumed when the model list does not say.
pub const DEFAULT_CONTEXT_WINDOW: i64 = 128_000;
/// ClawRouter's routing profiles that stay in the picker (see the module docs).
pub const KEPT_PROFILES: &[&str] = &["auto", "eco", "premium"];

/// Timeout for one HTTP exchange with the bridge or the upstream.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// Timeout for one run of the Codex CLI.
const CODEX_TIMEOUT: Duration = Duration::from_secs(30);

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
    #[error("could not get the model list: {0}")]
    ModelList(String),
    #[error("the model list from {url} has no models Codex can use ({listed} listed)")]
    NoModels { url: String, listed: usize },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
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

// ---------------------------------------------------------------------------------------------
// The model list
// ---------------------------------------------------------------------------------------------

/// One entry of the upstream's `/v1/models`, with the per-model facts some upstreams carry.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedModel {
    pub id: String,
    pub owned_by: Option<String>,
    /// `context_length` / `context_window` / `max_model_len` / OpenRouter's `top_provider`.
    pub context_window: Option<i64>,
    /// `Some(false)` when the list says the model takes no images.
    pub image_input: Option<bool>,
}

impl ListedModel {
    /// A bare entry (id and owner only), as ClawRouter lists them.
    pub fn new(id: &str, owned_by: &str) -> Self {
        ListedModel {
            id: id.to_owned(),
            owned_by: Some(owned_by.to_owned()),
            context_window: None,
            image_input: None,
        }
    }
}

/// The bridge's own address for a local client (`0.0.0.0` → `127.0.0.1`).
pub(crate) fn bridge_origin(config: &Config) -> String {
    let mut addr = config.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    format!("http://{addr}")
}

fn fetch_model_list(config: &Config) -> Result<(Vec<ListedModel>, String), CatalogError> {
    let bridge_url = format!("{}/v1/models", bridge_origin(config));
    let bridge_err = match http::get(&bridge_url, config.auth_token.as_deref(), HTTP_TIMEOUT) {
        Ok(reply) if reply.status == 200 => {
            return parse_model_list(reply.body.as_bytes())
                .map(|m| (m, bridge_url.clone()))
                .map_err(|e| CatalogError::ModelList(format!("{bridge_url}: {e}")));
        }
        Ok(reply) => format!("{bridge_url} answered HTTP {}", reply.status),
        Err(e) => format!("{bridge_url}: {e}"),
    };
    let up = &config.upstream;
    let direct_url = format!("{}/models", up.url.trim_end_matches('/'));
    match http::get(&direct_url, up.api_key.as_deref(), HTTP_TIMEOUT) {
        Ok(reply) if reply.status == 200 => parse_model_list(reply.body.as_bytes())
            .map(|m| (m, direct_url.clone()))
            .map_err(|e| CatalogError::ModelList(format!("{direct_url}: {e}"))),
        Ok(reply) => Err(CatalogError::ModelList(format!(
            "{bridge_err}; {direct_url} answered HTTP {}{}",
            reply.status,
            snippet(&reply.body)
        ))),
        Err(e) => Err(CatalogError::ModelList(format!(
            "{bridge_err}; {direct_url}: {e}. Is the proxy running? Start it with \
             `clawrouter-codex start`, then run gen-catalog again"
        ))),
    }
}

fn snippet(body: &str) -> String {
    let text = body.trim();
    if text.is_empty() {
        String::new()
    } else {
        format!(": {}", text.chars().take(200).collect::<String>())
    }
}

/// Parses an OpenAI-style `{"data":[{"id",…}]}` list (also a bare array, or Ollama-ish
/// `{"models":[{"name"|"id"}]}`).
pub fn parse_model_list(body: &[u8]) -> Result<Vec<ListedModel>, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| format!("the model list is not JSON ({e})"))?;
    let items = v
        .get("data")
        .or_else(|| v.get("models"))
        .unwrap_or(&v)
        .as_array()
        .ok_or("the model list has no `data` array")?;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let id = item
            .get("id")
            .or_else(|| item.get("name"))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let Some(id) = id else { continue };
        let int = |v: Option<&Value>| v.and_then(Value::as_i64).filter(|n| *n > 0);
        let context_window = int(item.get("context_length"))
            .or_else(|| int(item.get("context_window")))
            .or_else(|| int(item.get("max_model_len")))
            .or_else(|| int(item.get("max_context_length")))
            .or_else(|| int(item.pointer("/top_provider/context_length")));
        let image_input = match item.pointer("/architecture/input_modalities") {
            Some(Value::Array(mods)) => Some(mods.iter().any(|m| m == "image")),
            _ => match item
                .pointer("/architecture/modality")
                .and_then(Value::as_str)
            {
                Some(m) => m.split("->").next().map(|input| input.contains("image")),
                None => item
                    .get("input_modalities")
                    .and_then(Value::as_array)
                    .map(|mods| mods.iter().any(|m| m == "image")),
            },
        };
        out.push(ListedModel {
            id: id.to_owned(),
            owned_by: item
                .get("owned_by")
                .and_then(Value::as_str)
                .map(str::to_owned),
            context_window,
            image_input,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Selection and naming
// ---------------------------------------------------------------------------------------------

/// One picker entry before it becomes a Codex `ModelInfo`.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    pub slug: String,
    pub display_name: String,
    pub description: String,
    pub context_window: i64,
    pub image_input: bool,
}

/// A model id taken apart for collapsing and newest-N selection.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Parsed {
    /// `provider` prefix (or the owner of a bare id).
    family: String,
    /// family + normalized tail: equal for spelling duplicates.
    key: String,
    /// family + tail with the version replaced by `#` and dates dropped.
    series: String,
    /// Numeric version components (empty: no version).
    version: Vec<u32>,
    /// A date-like token (`0709`, `20241022`), for ties.
    date: String,
    /// Normalized tail tokens, for display names.
    tokens: Vec<String>,
    /// `:tag` suffix (`:free`, `:8b`) without the colon.
    tag: Option<String>,
}

/// Applies the catalog rules (docs/ARCHITECTURE.md, Model catalog) to the upstream's list (see the module docs for every rule).
pub fn select(listed: &[ListedModel], default_model: &str, per_series: usize) -> Vec<Selected> {
    let per_series = per_series.max(1);
    let is_clawrouter = listed
        .iter()
        .any(|m| m.owned_by.as_deref() == Some("blockrun"));
    let default_bare = default_model
        .strip_prefix("blockrun/")
        .unwrap_or(default_model);

    let mut first: Option<Selected> = None;
    let mut profiles: Vec<Selected> = Vec::new();
    let mut seen_keys: HashMap<String, usize> = HashMap::new();
    let mut models: Vec<(Parsed, &ListedModel)> = Vec::new();
    let mut seen_ids = HashSet::new();
    // Spelling duplicates of the default model collapse into it.
    if let Some(m) = listed
        .iter()
        .find(|m| m.id.contains('/') && (m.id == default_model || m.id == default_bare))
    {
        seen_keys.insert(parse_id(&m.id, m.owned_by.as_deref()).key, usize::MAX);
    }

    for m in listed {
        if !seen_ids.insert(m.id.as_str()) {
            continue;
        }
        let is_default = m.id == default_model || m.id == default_bare;
        let bare = !m.id.contains('/');
        let blockrun = m.owned_by.as_deref() == Some("blockrun") || m.id.starts_with("blockrun/");
        let short = m.id.strip_prefix("blockrun/").unwrap_or(&m.id);
        if is_default {
            first = Some(Selected {
                slug: default_model.to_owned(),
                display_name: profile_name(short).unwrap_or_else(|| model_display_name(m)),
                description: profile_description(short)
                    .unwrap_or_else(|| model_description(&m.id, is_clawrouter)),
                context_window: m.context_window.unwrap_or(DEFAULT_CONTEXT_WINDOW),
                image_input: m.image_input.unwrap_or(true),
            });
            continue;
        }
        if blockrun && (bare || m.id.starts_with("blockrun/")) {
            if KEPT_PROFILES.contains(&short) {
                profiles.push(Selected {
                    slug: m.id.clone(),
                    display_name: profile_name(short).unwrap_or_else(|| short.to_owned()),
                    description: profile_description(short).unwrap_or_default(),
                    context_window: m.context_window.unwrap_or(DEFAULT_CONTEXT_WINDOW),
                    image_input: m.image_input.unwrap_or(true),
                });
            }
            continue;
        }
        if is_media(&m.id) {
            continue;
        }
        let parsed = parse_id(&m.id, m.owned_by.as_deref());
        match seen_keys.get(&parsed.key) {
            Some(&usize::MAX) => {}
            Some(&at) => {
                // Spelling duplicate: the dotted (already normalized) spelling wins.
                if at < models.len() && is_normalized(&m.id) && !is_normalized(&models[at].1.id) {
                    models[at] = (parsed, m);
                }
            }
            None => {
                seen_keys.insert(parsed.key.clone(), models.len());
                models.push((parsed, m));
            }
        }
    }
    profiles.sort_by_key(|p| {
        let short = p.slug.strip_prefix("blockrun/").unwrap_or(&p.slug);
        KEPT_PROFILES.iter().position(|k| *k == short)
    });

    // Newest N per series.
    let mut series: BTreeMap<(String, String), Vec<(Parsed, &ListedModel)>> = BTreeMap::new();
    for (p, m) in models {
        series
            .entry((p.family.clone(), p.series.clone()))
            .or_default()
            .push((p, m));
    }
    let mut groups: Vec<(String, Vec<(Parsed, &ListedModel)>)> = Vec::new();
    for ((family, _), mut members) in series {
        members.sort_by(|a, b| {
            b.0.version
                .cmp(&a.0.version)
                .then_with(|| b.0.date.cmp(&a.0.date))
                .then_with(|| a.1.id.cmp(&b.1.id))
        });
        members.truncate(per_series);
        groups.push((family, members));
    }
    // Families alphabetically (`free` last), series newest first, then by name.
    groups.sort_by(|a, b| {
        family_rank(&a.0)
            .cmp(&family_rank(&b.0))
            .then_with(|| a.0.cmp(&b.0))
            .then_with(|| newest(&b.1).cmp(&newest(&a.1)))
            .then_with(|| series_name(&a.1).cmp(series_name(&b.1)))
    });

    let mut out: Vec<Selected> = Vec::new();
    out.extend(first);
    out.extend(profiles);
    for (_, members) in groups {
        for (p, m) in members {
            out.push(Selected {
                slug: m.id.clone(),
                display_name: display_name(&p),
                description: model_description(&m.id, is_clawrouter),
                context_window: m.context_window.unwrap_or(DEFAULT_CONTEXT_WINDOW),
                image_input: m.image_input.unwrap_or(true),
            });
        }
    }
    dedupe_display_names(&mut out);
    out
}

/// The newest version of a (sorted) series group.
fn newest<'a>(members: &'a [(Parsed, &ListedModel)]) -> Option<&'a [u32]> {
    members.first().map(|(p, _)| p.version.as_slice())
}

fn series_name<'a>(members: &'a [(Parsed, &ListedModel)]) -> &'a str {
    members.first().map_or("", |(p, _)| p.series.as_str())
}

fn model_description(id: &str, is_clawrouter: bool) -> String {
    if is_clawrouter {
        format!("{id} through ClawRouter")
    } else {
        id.to_owned()
    }
}

fn family_rank(family: &str) -> u8 {
    u8::from(family == "free")
}

fn profile_name(short: &str) -> Option<String> {
    match short {
        "auto" => Some("ClawRouter Auto".to_owned()),
        "eco" => Some("ClawRouter Eco".to_owned()),
        "premium" => Some("ClawRouter Premium".to_owned()),
        _ => None,
    }
}

fn profile_description(short: &str) -> Option<String> {
    match short {
        "auto" => Some("ClawRouter picks the model for each request (balanced)".to_owned()),
        "eco" => Some("ClawRouter picks the cheapest model that fits each request".to_owned()),
        "premium" => Some("ClawRouter picks the strongest model for each request".to_owned()),
        _ => None,
    }
}

fn model_display_name(m: &ListedModel) -> String {
    display_name(&parse_id(&m.id, m.owned_by.as_deref()))
}

/// Two entries with one name get their family appended.
fn dedupe_display_names(out: &mut [Selected]) {
    let mut count: HashMap<String, usize> = HashMap::new();
    for s in out.iter() {
        *count.entry(s.display_name.clone()).or_default() += 1;
    }
    for s in out.iter_mut() {
        if count.get(&s.display_name).copied().unwrap_or(0) > 1 {
            if let Some((family, _)) = s.slug.split_once('/') {
                s.display_name = format!("{} ({family})", s.display_name);
            } else {
                s.display_name = format!("{} ({})", s.display_name, s.slug);
            }
        }
    }
}

/// Tokens (split on `/ - _ . :`) naming a model that cannot chat: media generation, speech,
/// embeddings, moderation, realtime audio.
const MEDIA_TOKENS: &[&str] = &[
    "image",
    "images",
    "imagen",
    "video",
    "audio",
    "speech",
    "tts",
    "whisper",
    "transcribe",
    "transcription",
    "embedding",
    "embeddings",
    "embed",
    "moderation",
    "rerank",
    "reranker",
    "realtime",
    "dalle",
    "sora",
    "veo",
    "flux",
    "kling",
    "seedance",
    "seedream",
    "hailuo",
    "midjourney",
    "sdxl",
    "lyria",
    "musicgen",
    "recraft",
    "ideogram",
];
/// Substrings with the same meaning that span separators.
const MEDIA_SUBSTRINGS: &[&str] = &[
    "dall-e",
    "gpt-image",
    "stable-diffusion",
    "nano-banana",
    "text-embedding",
];

/// Whether an id names an image/video/audio generation (or other non-chat) model.
pub fn is_media(id: &str) -> bool {
    let lower = id.to_ascii_lowercase();
    if MEDIA_SUBSTRINGS.iter().any(|s| lower.contains(s)) {
        return true;
    }
    lower
        .split(['/', '-', '_', '.', ':'])
        .any(|t| MEDIA_TOKENS.contains(&t))
}

/// Lower-cases and joins `4-7` into `4.7` where a dash separates two version numbers: the
/// second has one or two digits and ends the token (so `4-0709` and `3-24b` stay).
pub fn normalize(id: &str) -> String {
    let chars: Vec<char> = id.to_lowercase().chars().collect();
    let mut out = String::with_capacity(chars.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == '-' && i > 0 && chars[i - 1].is_ascii_digit() {
            let digits = chars[i + 1..]
                .iter()
                .take_while(|d| d.is_ascii_digit())
                .count();
            let after = chars.get(i + 1 + digits);
            let ends = matches!(after, None | Some('-' | '/' | '_' | ':' | '.'));
            if (1..=2).contains(&digits) && ends {
                out.push('.');
                continue;
            }
        }
        out.push(c);
    }
    out
}

fn is_normalized(id: &str) -> bool {
    normalize(id) == id
}

#[derive(Debug, PartialEq, Eq)]
enum TokenKind {
    Date,
    Size,
    /// `prefix`, components, `suffix` (e.g. `k`, [2,7], `` or ``, [4], `o`).
    Version(String, Vec<u32>, String),
    Word,
}

fn classify(token: &str) -> TokenKind {
    let all_numeric = |s: &str| {
        !s.is_empty()
            && s.split('.')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    if all_numeric(token) && token.split('.').next().is_some_and(|p| p.len() >= 4) {
        return TokenKind::Date;
    }
    // 120b, 8b, 1.5b, 80m; active-parameter tokens like a3b, a10b.
    let size_body = token
        .strip_suffix('b')
        .or_else(|| token.strip_suffix('m'))
        .or_else(|| token.strip_suffix('k'));
    if let Some(body) = size_body {
        let body = body.strip_prefix('a').unwrap_or(body);
        if all_numeric(body) {
            return TokenKind::Size;
        }
    }
    let prefix_len = token.bytes().take_while(u8::is_ascii_alphabetic).count();
    let rest = &token[prefix_len..];
    let num_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    let (num, suffix) = rest.split_at(num_len);
    let num = num.trim_end_matches('.');
    if prefix_len <= 8
        && all_numeric(num)
        && suffix.len() <= 2
        && suffix.bytes().all(|b| b.is_ascii_alphabetic())
        && rest.len() == num_len + suffix.len()
    {
        let parts = num.split('.').filter_map(|p| p.parse().ok()).collect();
        return TokenKind::Version(token[..prefix_len].to_owned(), parts, suffix.to_owned());
    }
    TokenKind::Word
}

fn parse_id(id: &str, owned_by: Option<&str>) -> Parsed {
    let norm = normalize(id);
    let (family, tail) = match norm.split_once('/') {
        Some((f, t)) => (f.to_owned(), t.to_owned()),
        None => (owned_by.unwrap_or("").to_ascii_lowercase(), norm.clone()),
    };
    let (tail, tag) = match tail.split_once(':') {
        Some((t, tag)) => (t.to_owned(), Some(tag.to_owned())),
        None => (tail, None),
    };
    let tokens: Vec<String> = tail
        .split(['-', '_', '/'])
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    let mut version = Vec::new();
    let mut date = String::new();
    let mut series_tokens = Vec::new();
    let mut found = false;
    for t in &tokens {
        match classify(t) {
            TokenKind::Date => date = t.clone(),
            TokenKind::Version(prefix, parts, suffix) if !found => {
                found = true;
                version = parts;
                series_tokens.push(format!("{prefix}#{suffix}"));
            }
            _ => series_tokens.push(t.clone()),
        }
    }
    let mut series = format!("{family}/{}", series_tokens.join("-"));
    if let Some(tag) = &tag {
        series.push(':');
        series.push_str(tag);
    }
    Parsed {
        key: format!(
            "{family}/{}",
            norm.split_once('/').map_or(norm.as_str(), |(_, t)| t)
        ),
        family,
        series,
        version,
        date,
        tokens,
        tag,
    }
}

/// Brand words with their own spelling.
fn word_case(word: &str) -> Option<&'static str> {
    Some(match word {
        "gpt" => "GPT",
        "glm" => "GLM",
        "oss" => "OSS",
        "deepseek" => "DeepSeek",
        "minimax" => "MiniMax",
        "mimo" => "MiMo",
        "kimi" => "Kimi",
        "qwen" => "Qwen",
        "llama" => "Llama",
        "grok" => "Grok",
        "gemini" => "Gemini",
        "gemma" => "Gemma",
        "claude" => "Claude",
        "mistral" => "Mistral",
        "devstral" => "Devstral",
        "codestral" => "Codestral",
        "nemotron" => "Nemotron",
        "phi" => "Phi",
        "vl" => "VL",
        "hy" => "HY",
        "ai" => "AI",
        "r" => "R",
        _ => return None,
    })
}

fn capitalize(word: &str) -> String {
    if let Some(w) = word_case(word) {
        return w.to_owned();
    }
    let mut c = word.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn display_token(token: &str) -> String {
    match classify(token) {
        TokenKind::Size => token.to_ascii_uppercase(),
        TokenKind::Date | TokenKind::Word => capitalize(token),
        TokenKind::Version(prefix, _, suffix) => {
            let number = &token[prefix.len()..token.len() - suffix.len()];
            let prefix = match prefix.as_str() {
                // OpenAI's o-series stays lower case (o3, o4 Mini).
                "o" => "o".to_owned(),
                "" => String::new(),
                p => capitalize(p),
            };
            format!("{prefix}{number}{suffix}")
        }
    }
}

/// `claude-opus-4.7` → `Claude Opus 4.7`; `gpt-5.4-mini` → `GPT-5.4 Mini`; `free/…` → `… (free)`.
fn display_name(p: &Parsed) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut join_next = false;
    for t in &p.tokens {
        let shown = display_token(t);
        if join_next {
            if let Some(last) = words.last_mut() {
                last.push('-');
                last.push_str(&shown);
            }
            join_next = false;
        } else {
            words.push(shown);
            // GPT joins its next word: GPT-5.4, GPT-4o, GPT-OSS.
            join_next = t == "gpt";
        }
    }
    let mut name = words.join(" ");
    if let Some(tag) = &p.tag {
        name.push_str(&format!(" ({tag})"));
    }
    match p.family.as_str() {
        "free" => name.push_str(" (free)"),
        "nvidia" => name.push_str(" (NVIDIA)"),
        _ => {}
    }
    name
}

// ---------------------------------------------------------------------------------------------
// Entries
// ---------------------------------------------------------------------------------------------

/// Keys of a bundled entry that only mean something on OpenAI's hosted backend.
const HOSTED_ONLY_KEYS: &[&str] = &[
    "tool_mode",
    "multi_agent_reasoning_effort",
    "additional_speed_tiers",
    "service_tiers",
    "default_service_tier",
    "comp_hash",
    "model_specialty",
    "auto_review_model_override",
    "auto_compact_token_limit",
    "default_reasoning_level",
    "default_verbosity",
];

/// Our reasoning levels: what the bridge maps to Chat `reasoning_effort`.
fn reasoning_levels() -> Value {
    json!([
        {"effort": "low", "description": "Fast answers with light reasoning"},
        {"effort": "medium", "description": "Balanced speed and reasoning depth"},
        {"effort": "high", "description": "Deepest reasoning for hard problems"},
    ])
}

/// One catalog entry: the template with everything model- and bridge-specific overridden.
pub fn build_entry(template: &Value, sel: &Selected, priority: i64) -> Value {
    let mut e: Map<String, Value> = template.as_object().cloned().unwrap_or_default();
    for key in HOSTED_ONLY_KEYS {
        e.remove(*key);
    }
    let mut set = |k: &str, v: Value| {
        e.insert(k.to_owned(), v);
    };
    set("slug", json!(sel.slug));
    set("display_name", json!(sel.display_name));
    set("description", json!(sel.description));
    set("priority", json!(priority));
    set("visibility", json!("list"));
    set("supported_in_api", json!(true));
    set("apply_patch_tool_type", json!("freeform"));
    set("shell_type", json!("unified_exec"));
    set("supports_search_tool", json!(false));
    set("use_responses_lite", json!(false));
    set("multi_agent_version", json!("disabled"));
    set("supported_reasoning_levels", reasoning_levels());
    set("default_reasoning_summary", json!("none"));
    set("support_verbosity", json!(false));
    set("web_search_tool_type", json!("text"));
    set("context_window", json!(sel.context_window));
    set("max_context_window", json!(sel.context_window));
    set(
        "input_modalities",
        if sel.image_input {
            json!(["text", "image"])
        } else {
            json!(["text"])
        },
    );
    set("supports_image_detail_original", json!(false));
    set("experimental_supported_tools", json!([]));
    set("supports_experimental_context", json!(false));
    set("supports_reasoning_effort_updates", json!(false));
    set("node_repl_auto_review_required", json!(false));
    set("include_apps_usage_instructions", json!(false));
    set("availability_nux", Value::Null);
    set("upgrade", Value::Null);
    if !e.contains_key("truncation_policy") {
        e.insert(
            "truncation_policy".to_owned(),
            json!({"mode": "tokens", "limit": 10000}),
        );
    }
    Value::Object(e)
}

/// Our own instructions, used when Codex's bundled catalog is not available.
const BUILTIN_INSTRUCTIONS: &str = "\
You are Codex, a coding agent working in the user's terminal on their machine, through a \
ClawRouter model. You and the user share one workspace.

How you work:
- Understand the request, inspect the relevant files before changing them, then act. Prefer \
small, focused changes that follow the project's existing style.
- Run shell commands with the shell tool (exec_command). Use `rg` or `rg --files` to search \
when available. Read files in reasonable chunks.
- Edit files with apply_patch, never by writing files through the shell. Keep patches minimal.
- After a change, build or test it when that is cheap, and fix what you broke.
- Do not run destructive commands (deleting data, force pushes, resetting history) unless the \
user asked for it. Never print or copy secrets.
- If something is ambiguous and a wrong guess would be costly, ask one short question; \
otherwise make a sensible choice and say which.

When you finish, reply briefly: what you changed (with file paths), how you checked it, and \
anything the user still has to do. Use plain Markdown, no long preambles.";

/// The built-in template: a complete, minimal `ModelInfo` with our own instructions.
pub fn builtin_template() -> Value {
    json!({
        "slug": "template",
        "display_name": "template",
        "description": null,
        "supported_reasoning_levels": [],
        "shell_type": "unified_exec",
        "visibility": "list",
        "supported_in_api": true,
        "priority": 1,
        "support_verbosity": false,
        "truncation_policy": {"mode": "tokens", "limit": 10000},
        "experimental_supported_tools": [],
        "apply_patch_tool_type": "freeform",
        "default_reasoning_summary": "none",
        "supports_search_tool": false,
        "use_responses_lite": false,
        "multi_agent_version": "disabled",
        "effective_context_window_percent": 95,
        "context_window": DEFAULT_CONTEXT_WINDOW,
        "input_modalities": ["text", "image"],
        "base_instructions": BUILTIN_INSTRUCTIONS,
    })
}

/// Picks the template among a bundled catalog's entries: listed, with instructions; prefers
/// no code mode and no Responses-lite (the plainest tool set), then the best priority.
pub fn pick_template(bundled: &Value) -> Option<Value> {
    let models = bundled.get("models")?.as_array()?;
    let has_instructions = |m: &Value| {
        m.get("base_instructions")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty())
            || m.pointer("/model_messages/instructions_template")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.trim().is_empty())
    };
    models
        .iter()
        .filter(|m| m.get("slug").and_then(Value::as_str).is_some())
        .filter(|m| m.get("display_name").is_some())
        .filter(|m| has_instructions(m))
        .min_by_key(|m| {
            let hidden = m.get("visibility").and_then(Value::as_str) != Some("list");
            let code_mode = !matches!(
                m.get("tool_mode").and_then(Value::as_str),
                None | Some("direct")
            );
            let lite = m.get("use_responses_lite") == Some(&Value::Bool(true));
            let priority = m
                .get("priority")
                .and_then(Value::as_i64)
                .unwrap_or(i64::MAX);
            (hidden, code_mode, lite, priority)
        })
        .cloned()
}

// ---------------------------------------------------------------------------------------------
// The Codex CLI
// ---------------------------------------------------------------------------------------------

/// The Codex CLI to run: `CODEX_BIN`, else `codex` from `PATH`.
pub(crate) fn codex_program() -> PathBuf {
    std::env::var_os("CODEX_BIN")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(if cfg!(windows) { "codex.cmd" } else { "codex" }))
}

/// `codex --version` → `0.169.0` (the last word of its first line).
pub(crate) fn codex_version(codex: &Path) -> Result<String, String> {
    let out = run_codex(codex, &["--version"], None, Duration::from_secs(15))?;
    if !out.success {
        return Err(format!(
            "`{} --version` failed{}",
            codex.display(),
            snippet(&out.stderr)
        ));
    }
    out.stdout
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().last())
        .map(str::to_owned)
        .ok_or_else(|| format!("`{} --version` printed nothing", codex.display()))
}

/// Runs Codex's bundled-catalog dump and picks the template from it.
fn bundled_template(codex: &Path) -> Result<Value, String> {
    let out = run_codex(
        codex,
        &["debug", "models", "--bundled"],
        None,
        CODEX_TIMEOUT,
    )?;
    if !out.success {
        return Err(format!(
            "`codex debug models --bundled` failed{}",
            snippet(&out.stderr)
        ));
    }
    let bundled: Value = serde_json::from_str(&out.stdout)
        .map_err(|e| format!("`codex debug models --bundled` did not print JSON ({e})"))?;
    pick_template(&bundled).ok_or_else(|| "Codex's bundled catalog has no usable entry".to_owned())
}

/// Asks Codex to load `catalog` (`codex -c model_catalog_json=… debug models`).
fn verify_with_codex(codex: &Path, catalog: &Path) -> Result<(), String> {
    let value = Value::String(catalog.to_string_lossy().into_owned()).to_string();
    let arg = format!("model_catalog_json={value}");
    let out = run_codex(codex, &["-c", &arg, "debug", "models"], None, CODEX_TIMEOUT)?;
    if out.success {
        Ok(())
    } else {
        let err = out
            .stderr
            .lines()
            .filter(|l| !l.starts_with("WARNING"))
            .collect::<Vec<_>>()
            .join(" ");
        Err(err.chars().take(300).collect())
    }
}

struct CodexOutput {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs Codex with a throw-away `CODEX_HOME` (so nothing of the user's is read or written),
/// killed after `timeout`.
fn run_codex(
    codex: &Path,
    args: &[&str],
    codex_home: Option<&Path>,
    timeout: Duration,
) -> Result<CodexOutput, String> {
    let scratch = match codex_home {
        Some(_) => None,
        None => Some(ScratchDir::new()?),
    };
    let home = codex_home
        .map(Path::to_path_buf)
        .or_else(|| scratch.as_ref().map(|s| s.0.clone()))
        .unwrap_or_default();
    let mut child = Command::new(codex)
        .args(args)
        .env("CODEX_HOME", &home)
        // Nothing that could make Codex talk to OpenAI while it only prints its catalog.
        .env_remove("OPENAI_API_KEY")
        .env_remove("CODEX_API_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "Codex CLI `{}` not found (install it: npm install -g @openai/codex, or set CODEX_BIN)",
                codex.display()
            ),
            _ => format!("cannot run `{}`: {e}", codex.display()),
        })?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for `{}`: {e}", codex.display())),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    match status {
        Some(s) => Ok(CodexOutput {
            success: s.success(),
            stdout,
            stderr,
        }),
        None => Err(format!(
            "`{} {}` did not finish within {} s",
            codex.display(),
            args.join(" "),
            timeout.as_secs()
        )),
    }
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// A private temporary directory, removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> Result<Self, String> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "clawrouter-codex-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create temp dir {}: {e}", dir.display()))?;
        Ok(ScratchDir(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClawRouter-like list (docs/ARCHITECTURE.md, Living with ClawRouter: 95 `provider/model` ids, bare aliases owned
    /// by `blockrun`), plus a dashed spelling duplicate and media models other upstreams list.
    pub(super) fn clawrouter_like() -> Vec<ListedModel> {
        let ids = [
            "auto",
            "free",
            "eco",
            "premium",
            "claude",
            "opus",
            "sonnet",
            "flash",
            "gpt",
            "kimi",
            "deepseek",
            "reasoner",
            "nano",
            "mini",
            "codex",
            "openai/gpt-5.2",
            "openai/gpt-5-mini",
            "openai/gpt-5-nano",
            "openai/gpt-5.2-pro",
            "openai/gpt-5.6-sol",
            "openai/gpt-5.6-terra",
            "openai/gpt-5.6-luna",
            "openai/gpt-5.5",
            "openai/gpt-5.5-pro",
            "openai/chat-latest",
            "openai/gpt-5.4",
            "openai/gpt-5.4-mini",
            "openai/gpt-5.4-pro",
            "openai/gpt-5.4-nano",
            "openai/gpt-5.3",
            "openai/gpt-5.3-codex",
            "openai/gpt-4.1",
            "openai/gpt-4.1-mini",
            "openai/gpt-4o",
            "openai/gpt-4o-mini",
            "openai/o1",
            "openai/o3",
            "openai/o3-mini",
            "openai/o4-mini",
            "anthropic/claude-haiku-4.5",
            "anthropic/claude-sonnet-4.5",
            "anthropic/claude-sonnet-4.6",
            "anthropic/claude-sonnet-5",
            "anthropic/claude-opus-4.5",
            "anthropic/claude-opus-4.6",
            "anthropic/claude-opus-4-7",
            "anthropic/claude-opus-4.7",
            "anthropic/claude-opus-4.8",
            "anthropic/claude-opus-5",
            "google/gemini-3.1-pro",
            "google/gemini-3-pro-preview",
            "google/gemini-3.6-flash",
            "google/gemini-3.5-flash",
            "google/gemini-3.5-flash-lite",
            "google/gemini-2.5-pro",
            "google/gemini-2.5-flash",
            "google/gemini-2.5-flash-lite",
            "google/gemini-3.1-flash-lite",
            "google/gemini-2.5-flash-image",
            "deepseek/deepseek-chat",
            "deepseek/deepseek-reasoner",
            "deepseek/deepseek-v4-pro",
            "moonshot/kimi-k3",
            "moonshot/kimi-k2.7",
            "moonshot/kimi-k2.6",
            "moonshot/kimi-k2.5",
            "nvidia/kimi-k2.5",
            "qwen/qwen3.7-max",
            "xai/grok-3",
            "xai/grok-3-mini",
            "xai/grok-4-fast-reasoning",
            "xai/grok-4-1-fast-reasoning",
            "xai/grok-4-0709",
            "xai/grok-4.5",
            "xai/grok-4.3",
            "xai/grok-4.20-reasoning",
            "xai/grok-2-vision",
            "minimax/minimax-m3",
            "minimax/minimax-m2.7",
            "minimax/minimax-m2.5",
            "free/gpt-oss-120b",
            "free/gpt-oss-20b",
            "free/deepseek-v4-flash",
            "free/qwen3-coder-480b",
            "free/glm-4.7",
            "free/nemotron-nano-9b-v2",
            "zai/glm-5.2",
            "zai/glm-5.1",
            "zai/glm-5",
            "zai/glm-5-turbo",
            "openai/dall-e-3",
            "openai/gpt-image-1",
            "google/imagen-4",
            "google/veo-3",
            "openai/tts-1",
            "openai/whisper-1",
            "openai/gpt-4o-transcribe",
            "openai/text-embedding-3-large",
            "openai/sora-2",
            "bfl/flux-1.1-pro",
        ];
        ids.iter()
            .map(|id| match id.split_once('/') {
                Some((owner, _)) => ListedModel::new(id, owner),
                None => ListedModel::new(id, "blockrun"),
            })
            .collect()
    }

    fn slugs(sel: &[Selected]) -> Vec<&str> {
        sel.iter().map(|s| s.slug.as_str()).collect()
    }

    fn name_of<'a>(sel: &'a [Selected], slug: &str) -> &'a str {
        sel.iter()
            .find(|s| s.slug == slug)
            .map(|s| s.display_name.as_str())
            .unwrap_or_else(|| panic!("{slug} not selected: {:?}", slugs(sel)))
    }

    #[test]
    fn profiles_first_and_aliases_hidden() {
        let sel = select(&clawrouter_like(), "blockrun/auto", 3);
        assert_eq!(&slugs(&sel)[..3], ["blockrun/auto", "eco", "premium"]);
        assert_eq!(sel[0].display_name, "ClawRouter Auto");
        for alias in [
            "free", "claude", "opus", "flash", "gpt", "kimi", "codex", "mini",
        ] {
            assert!(!slugs(&sel).contains(&alias), "{alias} should be hidden");
        }
    }

    #[test]
    fn media_models_hidden() {
        let sel = select(&clawrouter_like(), "blockrun/auto", 3);
        for s in &sel {
            assert!(!is_media(&s.slug), "{} is media", s.slug);
        }
        for id in [
            "openai/dall-e-3",
            "openai/gpt-image-1",
            "google/imagen-4",
            "google/veo-3",
            "openai/tts-1",
            "openai/whisper-1",
            "openai/gpt-4o-transcribe",
            "openai/text-embedding-3-large",
            "openai/sora-2",
            "bfl/flux-1.1-pro",
            "google/gemini-2.5-flash-image",
        ] {
            assert!(is_media(id), "{id}");
            assert!(!slugs(&sel).contains(&id));
        }
        for id in [
            "openai/gpt-5.4",
            "xai/grok-2-vision",
            "free/nemotron-nano-12b-v2-vl",
        ] {
            assert!(!is_media(id), "{id}");
        }
    }

    #[test]
    fn dashed_and_dotted_spellings_collapse_to_dotted() {
        let sel = select(&clawrouter_like(), "blockrun/auto", 3);
        let s = slugs(&sel);
        assert!(s.contains(&"anthropic/claude-opus-4.7"));
        assert!(!s.contains(&"anthropic/claude-opus-4-7"));
        assert_eq!(
            name_of(&sel, "anthropic/claude-opus-4.7"),
            "Claude Opus 4.7"
        );
        // Dashed only: kept with its original id as the slug, named like the dotted one.
        let only = select(
            &[ListedModel::new("xai/grok-4-1-fast-reasoning", "xai")],
            "blockrun/auto",
            3,
        );
        assert_eq!(slugs(&only), ["xai/grok-4-1-fast-reasoning"]);
        assert_eq!(only[0].display_name, "Grok 4.1 Fast Reasoning");
    }

    #[test]
    fn normalize_keeps_dates_and_sizes() {
        assert_eq!(normalize("claude-opus-4-7"), "claude-opus-4.7");
        assert_eq!(normalize("grok-4-0709"), "grok-4-0709");
        assert_eq!(normalize("mistral-small-3-24b"), "mistral-small-3-24b");
        assert_eq!(
            normalize("claude-3-5-sonnet-20241022"),
            "claude-3.5-sonnet-20241022"
        );
    }

    #[test]
    fn newest_three_per_series() {
        let sel = select(&clawrouter_like(), "blockrun/auto", 3);
        let s = slugs(&sel);
        // claude-opus: 5, 4.8, 4.7 stay; 4.6, 4.5 go.
        for kept in [
            "anthropic/claude-opus-5",
            "anthropic/claude-opus-4.8",
            "anthropic/claude-opus-4.7",
        ] {
            assert!(s.contains(&kept), "{kept}");
        }
        for gone in ["anthropic/claude-opus-4.6", "anthropic/claude-opus-4.5"] {
            assert!(!s.contains(&gone), "{gone}");
        }
        // gpt-#: 5.5, 5.4, 5.3 stay; 5.2 and 4.1 go. Mini/pro/nano are their own series.
        for kept in [
            "openai/gpt-5.5",
            "openai/gpt-5.4",
            "openai/gpt-5.3",
            "openai/gpt-5.4-mini",
            "openai/gpt-5-mini",
        ] {
            assert!(s.contains(&kept), "{kept}");
        }
        assert!(!s.contains(&"openai/gpt-5.2"));
        assert!(!s.contains(&"openai/gpt-4.1"));
        // kimi-k#: k3, k2.7, k2.6 (k2.5 goes); the NVIDIA mirror is its own family.
        assert!(s.contains(&"moonshot/kimi-k3"));
        assert!(!s.contains(&"moonshot/kimi-k2.5"));
        assert!(s.contains(&"nvidia/kimi-k2.5"));
        // grok-#: 4.5 > 4.3 > 4 (0709) numerically; 3 goes. 4.20-reasoning is another series.
        assert!(s.contains(&"xai/grok-4.5"));
        assert!(s.contains(&"xai/grok-4.3"));
        assert!(s.contains(&"xai/grok-4-0709"));
        assert!(!s.contains(&"xai/grok-3"));
        assert!(s.contains(&"xai/grok-4.20-reasoning"));
        // No-version models stay.
        assert!(s.contains(&"openai/chat-latest"));
        assert!(s.contains(&"deepseek/deepseek-chat"));
        // N = 1.
        let one = select(&clawrouter_like(), "blockrun/auto", 1);
        assert!(slugs(&one).contains(&"anthropic/claude-opus-5"));
        assert!(!slugs(&one).contains(&"anthropic/claude-opus-4.8"));
    }

    #[test]
    fn sorted_by_family_free_last() {
        let sel = select(&clawrouter_like(), "blockrun/auto", 3);
        let families: Vec<&str> = sel[3..]
            .iter()
            .map(|s| s.slug.split('/').next().unwrap_or(""))
            .collect();
        let mut dedup = families.clone();
        dedup.dedup();
        let mut sorted = dedup.clone();
        sorted.sort_by_key(|f| (*f == "free", f.to_string()));
        assert_eq!(dedup, sorted, "families contiguous and sorted");
        assert_eq!(families.last(), Some(&"free"));
        // Inside anthropic: opus series newest first.
        let opus: Vec<&str> = slugs(&sel)
            .into_iter()
            .filter(|s| s.starts_with("anthropic/claude-opus"))
            .collect();
        assert_eq!(
            opus,
            [
                "anthropic/claude-opus-5",
                "anthropic/claude-opus-4.8",
                "anthropic/claude-opus-4.7"
            ]
        );
    }

    #[test]
    fn readable_names() {
        let sel = select(&clawrouter_like(), "blockrun/auto", 3);
        assert_eq!(
            name_of(&sel, "free/deepseek-v4-flash"),
            "DeepSeek V4 Flash (free)"
        );
        assert_eq!(name_of(&sel, "openai/gpt-5.4-mini"), "GPT-5.4 Mini");
        assert_eq!(name_of(&sel, "openai/gpt-4o"), "GPT-4o");
        assert_eq!(name_of(&sel, "free/gpt-oss-120b"), "GPT-OSS 120B (free)");
        assert_eq!(name_of(&sel, "moonshot/kimi-k2.7"), "Kimi K2.7");
        assert_eq!(name_of(&sel, "nvidia/kimi-k2.5"), "Kimi K2.5 (NVIDIA)");
        assert_eq!(name_of(&sel, "openai/o4-mini"), "o4 Mini");
        assert_eq!(name_of(&sel, "qwen/qwen3.7-max"), "Qwen3.7 Max");
        assert_eq!(name_of(&sel, "zai/glm-5.2"), "GLM 5.2");
        assert_eq!(name_of(&sel, "minimax/minimax-m3"), "MiniMax M3");
        assert_eq!(name_of(&sel, "eco"), "ClawRouter Eco");
        let names: HashSet<&str> = sel.iter().map(|s| s.display_name.as_str()).collect();
        assert_eq!(names.len(), sel.len(), "display names are unique");
    }

    #[test]
    fn other_upstreams_keep_bare_ids_and_metadata() {
        let body = br#"{"object":"list","data":[
            {"id":"qwen3:8b","object":"model","owned_by":"library"},
            {"id":"meta/llama-3.1-8b","owned_by":"vllm","max_model_len":32768},
            {"id":"x/vision-less","context_length":64000,
             "architecture":{"modality":"text->text"}},
            {"id":"x/seer-2","architecture":{"input_modalities":["text","image"]}}]}"#;
        let listed = parse_model_list(body).expect("parses");
        let sel = select(&listed, "blockrun/auto", 3);
        assert_eq!(sel.len(), 4);
        let find = |slug: &str| sel.iter().find(|s| s.slug == slug).expect(slug);
        assert_eq!(find("qwen3:8b").context_window, DEFAULT_CONTEXT_WINDOW);
        assert_eq!(find("meta/llama-3.1-8b").context_window, 32768);
        assert_eq!(find("x/vision-less").context_window, 64000);
        assert!(!find("x/vision-less").image_input);
        assert!(find("x/seer-2").image_input);
        assert_eq!(find("meta/llama-3.1-8b").description, "meta/llama-3.1-8b");
    }

    #[test]
    fn default_model_other_than_auto_goes_first() {
        let sel = select(&clawrouter_like(), "anthropic/claude-opus-4.7", 3);
        assert_eq!(sel[0].slug, "anthropic/claude-opus-4.7");
        assert_eq!(sel[0].display_name, "Claude Opus 4.7");
        assert_eq!(&slugs(&sel)[1..4], ["auto", "eco", "premium"]);
        assert!(!slugs(&sel).contains(&"anthropic/claude-opus-4-7"));
        assert_eq!(
            slugs(&sel)
                .iter()
                .filter(|s| s.contains("opus-4.7"))
                .count(),
            1
        );
    }

    #[test]
    fn parses_model_lists() {
        assert!(parse_model_list(b"not json").is_err());
        assert!(parse_model_list(b"{\"x\":1}").is_err());
        let l = parse_model_list(br#"{"data":[{"id":"a"},{"nope":1},{"id":""}]}"#).expect("ok");
        assert_eq!(l.len(), 1);
    }

    fn bundled_like() -> Value {
        json!({"models": [
            {"slug": "gpt-code", "display_name": "Code", "visibility": "list", "priority": 1,
             "tool_mode": "code_mode_only", "use_responses_lite": true,
             "base_instructions": "code mode prompt"},
            {"slug": "gpt-hidden", "display_name": "Hidden", "visibility": "hide", "priority": 0,
             "base_instructions": "hidden prompt"},
            {"slug": "gpt-plain", "display_name": "Plain", "visibility": "list", "priority": 13,
             "base_instructions": "plain prompt",
             "model_messages": {"instructions_template": "plain prompt", "approvals": null},
             "truncation_policy": {"mode": "bytes", "limit": 12345},
             "service_tiers": [{"id": "priority", "name": "Fast", "description": "x"}],
             "additional_speed_tiers": ["fast"], "default_reasoning_level": "medium",
             "comp_hash": "1", "supports_search_tool": true, "multi_agent_version": "v2",
             "include_skills_usage_instructions": true, "some_future_field": 7}
        ]})
    }

    #[test]
    fn template_prefers_plain_listed_entry() {
        let t = pick_template(&bundled_like()).expect("a template");
        assert_eq!(t["slug"], "gpt-plain");
        let only_code = json!({"models": [bundled_like()["models"][0].clone()]});
        assert_eq!(pick_template(&only_code).expect("t")["slug"], "gpt-code");
        assert!(pick_template(&json!({"models": [{"slug": "x"}]})).is_none());
        assert!(pick_template(&json!({})).is_none());
    }

    #[test]
    fn entry_merges_template_and_overrides() {
        let t = pick_template(&bundled_like()).expect("a template");
        let sel = Selected {
            slug: "anthropic/claude-opus-4.7".into(),
            display_name: "Claude Opus 4.7".into(),
            description: "d".into(),
            context_window: 200_000,
            image_input: false,
        };
        let e = build_entry(&t, &sel, 4);
        assert_eq!(e["slug"], "anthropic/claude-opus-4.7");
        assert_eq!(e["display_name"], "Claude Opus 4.7");
        assert_eq!(e["priority"], 4);
        assert_eq!(e["apply_patch_tool_type"], "freeform");
        assert_eq!(e["shell_type"], "unified_exec");
        assert_eq!(e["supports_search_tool"], false);
        assert_eq!(e["use_responses_lite"], false);
        assert_eq!(e["multi_agent_version"], "disabled");
        assert_eq!(e["default_reasoning_summary"], "none");
        assert_eq!(e["context_window"], 200_000);
        assert_eq!(e["input_modalities"], json!(["text"]));
        assert_eq!(e["visibility"], "list");
        // Prompt and schema fields come from the template.
        assert_eq!(e["base_instructions"], "plain prompt");
        assert_eq!(e["model_messages"]["instructions_template"], "plain prompt");
        assert_eq!(e["truncation_policy"]["limit"], 12345);
        assert_eq!(e["include_skills_usage_instructions"], true);
        assert_eq!(e["some_future_field"], 7);
        // Hosted-only things are gone.
        for k in [
            "tool_mode",
            "service_tiers",
            "additional_speed_tiers",
            "comp_hash",
            "default_reasoning_level",
        ] {
            assert!(e.get(k).is_none(), "{k}");
        }
        let levels: Vec<&str> = e["supported_reasoning_levels"]
            .as_array()
            .expect("levels")
            .iter()
            .filter_map(|l| l["effort"].as_str())
            .collect();
        assert_eq!(levels, ["low", "medium", "high"]);
    }

    #[test]
    fn builtin_entry_is_complete_and_ours() {
        let sel = select(&clawrouter_like(), "blockrun/auto", 3);
        let e = build_entry(&builtin_template(), &sel[0], 1);
        for key in [
            "slug",
            "display_name",
            "supported_reasoning_levels",
            "shell_type",
            "visibility",
            "supported_in_api",
            "priority",
            "support_verbosity",
            "truncation_policy",
            "experimental_supported_tools",
            "base_instructions",
        ] {
            assert!(e.get(key).is_some(), "{key} missing");
        }
        assert_eq!(e["slug"], "blockrun/auto");
        let instructions = e["base_instructions"].as_str().expect("instructions");
        assert!(instructions.contains("ClawRouter"));
        assert!(e.get("model_messages").is_none());
    }
}
