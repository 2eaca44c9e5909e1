//! What our commands write: the paths of Codex's files under `$CODEX_HOME`, the bridge's base
//! URL, and our root keys and `[model_providers.clawrouter]` table ([`apply_clawrouter`]).

use std::path::{Path, PathBuf};

use toml_edit::Value;

use super::{CodexConfigError, CodexFile, CATALOG_FILE, PROVIDER_ID, PROVIDER_NAME};
use crate::config::Config;

/// `$CODEX_HOME/config.toml`.
pub fn config_toml_path(config: &Config) -> PathBuf {
    absolute(&config.codex.home).join("config.toml")
}

/// `$CODEX_HOME/<profile>.config.toml`.
pub fn profile_path(config: &Config) -> PathBuf {
    absolute(&config.codex.home).join(format!("{}.config.toml", config.codex.profile))
}

/// `$CODEX_HOME/clawrouter-catalog.json`, absolute (Codex wants an absolute path).
pub fn catalog_path(config: &Config) -> PathBuf {
    absolute(&config.codex.home).join(CATALOG_FILE)
}

/// The bridge's base URL for the provider table: `http://<listen>/v1`, with an unspecified
/// listen address (`0.0.0.0`, `::`) replaced by loopback.
pub fn bridge_base_url(config: &Config) -> String {
    let mut addr = config.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("http://{addr}/v1")
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// True when a `model_catalog_json` value is ours: our catalog path, or any file named
/// `clawrouter-catalog.json` (an older `CODEX_HOME`).
pub fn is_our_catalog(config: &Config, value: &str) -> bool {
    Path::new(value) == catalog_path(config)
        || Path::new(value).file_name() == Some(std::ffi::OsStr::new(CATALOG_FILE))
}

/// Writes our root keys (`model`, `model_provider`, `model_catalog_json`) and the owned keys of
/// `[model_providers.clawrouter]` into `file`. `requires_openai_auth` is false for the profile
/// and true for desktop mode. Keys the user added are kept. Returns true when anything changed.
pub fn apply_clawrouter(
    file: &mut CodexFile,
    config: &Config,
    requires_openai_auth: bool,
) -> Result<bool, CodexConfigError> {
    let catalog = catalog_path(config);
    let mut changed = file.set_root_str("model", &config.codex.default_model);
    changed |= file.set_root_str("model_provider", PROVIDER_ID);
    changed |= file.set_root_str("model_catalog_json", &catalog.to_string_lossy());
    let base_url = bridge_base_url(config);
    let fields = [
        ("name", Value::from(PROVIDER_NAME)),
        ("base_url", Value::from(base_url)),
        ("wire_api", Value::from("responses")),
        ("requires_openai_auth", Value::from(requires_openai_auth)),
        // Codex's WebSocket transport, when the bridge serves it (`websocket.enabled`).
        ("supports_websockets", Value::from(config.websocket.enabled)),
    ];
    for (key, value) in fields {
        changed |= file.set_provider_value(PROVIDER_ID, key, value)?;
    }
    if let Some(token) = &config.auth_token {
        changed |= file.set_provider_value(
            PROVIDER_ID,
            "experimental_bearer_token",
            Value::from(token.as_str()),
        )?;
    }
    Ok(changed)
}
