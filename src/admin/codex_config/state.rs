//! Read-only state, for `status`, `doctor` and the dashboard: desktop mode in `config.toml`,
//! the profile `setup` writes, and where web search is switched on. These never write.

use std::path::{Path, PathBuf};

use toml_edit::Item;

use super::{
    bridge_base_url, config_toml_path, profile_path, CodexConfigError, CodexFile, PROVIDER_ID,
    WEB_SEARCH_HEADER, WEB_SEARCH_ON,
};
use crate::config::Config;

/// Which provider plain `codex` and Codex Desktop use, per `config.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DesktopMode {
    /// `model_provider = "clawrouter"`.
    ClawRouter,
    /// No `model_provider` (or `openai`): the ChatGPT-subscription default.
    Native,
    /// Some other custom provider the user chose; we leave it alone.
    OtherProvider(String),
}

/// Desktop mode as `config.toml` has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesktopState {
    /// Which provider `config.toml` selects.
    pub mode: DesktopMode,
    /// The root `model`, if set.
    pub model: Option<String>,
    /// Whether `config.toml` exists.
    pub config_exists: bool,
    /// In ClawRouter mode, what keeps Codex Desktop from working, each with its fix. Empty
    /// when all is well (and always in the other modes).
    pub problems: Vec<String>,
}

impl DesktopState {
    /// True in ClawRouter mode.
    pub fn is_on(&self) -> bool {
        self.mode == DesktopMode::ClawRouter
    }
}

/// Reads desktop mode from `$CODEX_HOME/config.toml` (a missing file is native mode).
pub fn desktop_state(config: &Config) -> Result<DesktopState, CodexConfigError> {
    let file = CodexFile::load(&config_toml_path(config))?;
    desktop_state_of(&file, config)
}

/// [`desktop_state`] of an already loaded `config.toml`.
pub fn desktop_state_of(
    file: &CodexFile,
    config: &Config,
) -> Result<DesktopState, CodexConfigError> {
    let model = file.root_str("model").map(str::to_owned);
    let mode = match file.root_str("model_provider") {
        None | Some("openai") => DesktopMode::Native,
        Some(PROVIDER_ID) => DesktopMode::ClawRouter,
        Some(other) => DesktopMode::OtherProvider(other.to_owned()),
    };
    let mut problems = Vec::new();
    if mode == DesktopMode::ClawRouter {
        let fix = "run `clawrouter-codex desktop on`";
        match file.provider(PROVIDER_ID)? {
            None => problems.push(format!(
                "{} selects provider `clawrouter` but has no [model_providers.clawrouter] table: {fix}",
                file.path().display()
            )),
            Some(p) => {
                if p.get("requires_openai_auth").and_then(Item::as_bool) != Some(true) {
                    problems.push(format!(
                        "[model_providers.clawrouter] in {} lacks requires_openai_auth = true, so \
                         Codex Desktop hides the ClawRouter models: {fix}",
                        file.path().display()
                    ));
                }
                let url = bridge_base_url(config);
                if p.get("base_url").and_then(Item::as_str) != Some(url.as_str()) {
                    problems.push(format!(
                        "[model_providers.clawrouter] in {} does not point at this bridge ({url}): {fix}",
                        file.path().display()
                    ));
                }
            }
        }
        match file.root_str("model_catalog_json") {
            None => problems.push(format!(
                "{} has no model_catalog_json, so the picker lacks the ClawRouter models: {fix}",
                file.path().display()
            )),
            Some(path) if !Path::new(path).is_file() => problems.push(format!(
                "the model catalog {path} does not exist, so Codex will not start: \
                 run `clawrouter-codex gen-catalog` (with the bridge up)"
            )),
            Some(_) => {}
        }
    }
    Ok(DesktopState {
        mode,
        model,
        config_exists: file.exists(),
        problems,
    })
}

/// The profile `setup` writes, as it is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileState {
    /// `$CODEX_HOME/<profile>.config.toml`.
    pub path: PathBuf,
    /// Whether the profile file exists.
    pub exists: bool,
    /// What keeps `codex --profile <profile>` from reaching this bridge, each with its fix.
    /// Empty when all is well.
    pub problems: Vec<String>,
}

/// Reads the profile and checks it selects our provider, points at this bridge and names an
/// existing catalog.
pub fn profile_state(config: &Config) -> Result<ProfileState, CodexConfigError> {
    let path = profile_path(config);
    let file = CodexFile::load(&path)?;
    let shown = path.display();
    let fix = "run `clawrouter-codex setup`";
    let mut problems = Vec::new();
    if !file.exists() {
        problems.push(format!("there is no profile {shown}: {fix}"));
    } else {
        if file.root_str("model_provider") != Some(PROVIDER_ID) {
            problems.push(format!(
                "{shown} does not select model_provider = \"clawrouter\": {fix}"
            ));
        }
        match file.provider(PROVIDER_ID)? {
            None => problems.push(format!(
                "{shown} has no [model_providers.clawrouter] table: {fix}"
            )),
            Some(p) => {
                let url = bridge_base_url(config);
                if p.get("base_url").and_then(Item::as_str) != Some(url.as_str()) {
                    problems.push(format!(
                        "[model_providers.clawrouter] in {shown} does not point at this bridge ({url}): {fix}"
                    ));
                }
                if p.get("wire_api").and_then(Item::as_str) != Some("responses") {
                    problems.push(format!(
                        "[model_providers.clawrouter] in {shown} needs wire_api = \"responses\": {fix}"
                    ));
                }
            }
        }
        match file.root_str("model_catalog_json") {
            None => problems.push(format!(
                "{shown} has no model_catalog_json, so Codex lacks the ClawRouter models: {fix}"
            )),
            Some(catalog) if !Path::new(catalog).is_file() => problems.push(format!(
                "the model catalog {catalog} named in {shown} does not exist, so Codex will not \
                 start with this profile: run `clawrouter-codex gen-catalog` (with the bridge up)"
            )),
            Some(_) => {}
        }
    }
    Ok(ProfileState {
        exists: file.exists(),
        path,
        problems,
    })
}

/// Where web search is switched on by the `x-web-search` provider header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebSearchStatus {
    /// The profile's provider table; `None` when there is no profile or no provider table in it.
    pub profile: Option<bool>,
    /// `config.toml`'s provider table, only reported in desktop mode (`None` otherwise).
    pub desktop: Option<bool>,
}

impl WebSearchStatus {
    /// On for at least one way of running Codex with ClawRouter.
    pub fn any_on(&self) -> bool {
        self.profile == Some(true) || self.desktop == Some(true)
    }
}

/// Web search per place (profile, and `config.toml` when desktop mode is on).
pub fn websearch_status(config: &Config) -> Result<WebSearchStatus, CodexConfigError> {
    let profile = CodexFile::load(&profile_path(config))?;
    let base = CodexFile::load(&config_toml_path(config))?;
    websearch_status_of(&profile, &base)
}

/// [`websearch_status`] of already loaded files.
pub fn websearch_status_of(
    profile: &CodexFile,
    base: &CodexFile,
) -> Result<WebSearchStatus, CodexConfigError> {
    let in_profile = match profile.provider(PROVIDER_ID)? {
        None => None,
        Some(_) => {
            Some(profile.provider_header_is(PROVIDER_ID, WEB_SEARCH_HEADER, WEB_SEARCH_ON)?)
        }
    };
    let desktop = if base.root_str("model_provider") == Some(PROVIDER_ID) {
        Some(base.provider_header_is(PROVIDER_ID, WEB_SEARCH_HEADER, WEB_SEARCH_ON)?)
    } else {
        None
    };
    Ok(WebSearchStatus {
        profile: in_profile,
        desktop,
    })
}

/// True when web search is switched on by the provider header in the profile or, in desktop
/// mode, in `config.toml` (the bridge may also have it on for every request by its own config).
pub fn websearch_state(config: &Config) -> Result<bool, CodexConfigError> {
    Ok(websearch_status(config)?.any_on())
}
