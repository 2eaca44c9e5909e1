//! `doctor`: the end-to-end check (PRODUCT.md §2). Read-only: it sends `GET`s to loopback
//! services, reads Codex's files and runs `codex --version`; it writes nothing anywhere.
//!
//! Checks, in order: the bridge (`/health`), the ClawRouter proxy (`/health`), wallet and
//! balance (`/health?full=true`), the catalog file, the Codex profile, desktop mode and
//! web-search mode (informational), a legacy `[profiles.<name>]` table in `config.toml`, and the
//! Codex CLI. Each prints `✅ name — detail` or `❌ name — detail` with an indented `fix:` line;
//! `--json` prints `{"ok":bool,"checks":[{"name","ok","detail","fix"}]}`. Exit 0 only when all
//! pass, else 1.
//!
//! The proxy checked is where the bridge forwards when that is plain http (with the defaults,
//! ClawRouter on `127.0.0.1:<proxy.port>`), else the local ClawRouter on `proxy.port`. An
//! upstream that answers `/v1/models` but has no ClawRouter `/health` (vLLM, Ollama, a team
//! gateway) passes as "not ClawRouter", and the wallet check then says it is not used.
//! The profile must select provider `clawrouter`, point its `base_url` at this bridge and use
//! this catalog (`model_catalog_json`): without it Codex would treat ClawRouter models with
//! generic metadata (no `apply_patch`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{json, Value};
use toml_edit::{DocumentMut, Item};

use super::catalog::{self, http_get};
use crate::config::Config;

/// Timeout for the plain health checks.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);
/// ClawRouter's balance lookup can take seconds (4.5 s on Solana when offline).
const BALANCE_TIMEOUT: Duration = Duration::from_secs(10);

/// The provider id `setup` writes.
const PROVIDER: &str = "clawrouter";

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
    /// What to do about a failure (`None` when it passed).
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Self {
        Check {
            name,
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            name,
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Runs `doctor` (`--json` for machines).
pub fn run(config: &Config, json: bool) -> ExitCode {
    let checks = checks(config);
    let ok = checks.iter().all(|c| c.ok);
    if json {
        println!("{}", to_json(&checks));
    } else {
        for c in &checks {
            let mark = if c.ok { "✅" } else { "❌" };
            println!("{mark} {} — {}", c.name, c.detail);
            if let Some(fix) = &c.fix {
                println!("   fix: {fix}");
            }
        }
        let failed = checks.iter().filter(|c| !c.ok).count();
        if failed == 0 {
            println!("all {} checks passed", checks.len());
        } else {
            println!("{failed} of {} checks failed", checks.len());
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        super::problem()
    }
}

/// The checks' JSON form.
pub fn to_json(checks: &[Check]) -> Value {
    json!({
        "ok": checks.iter().all(|c| c.ok),
        "checks": checks.iter().map(|c| json!({
            "name": c.name,
            "ok": c.ok,
            "detail": c.detail,
            "fix": c.fix,
        })).collect::<Vec<_>>(),
    })
}

/// Runs every check.
pub fn checks(config: &Config) -> Vec<Check> {
    let home = &config.codex.home;
    let config_toml = read_toml(&home.join("config.toml"));
    let profile_path = home.join(format!("{}.config.toml", config.codex.profile));
    let profile_toml = read_toml(&profile_path);
    let proxy = proxy_target(config);
    let proxy_check = check_proxy(&proxy);
    let wallet_check = if proxy.is_clawrouter == Some(false) {
        Check::pass(
            "wallet",
            format!(
                "not used: {} is not ClawRouter (no x402 wallet)",
                proxy.origin
            ),
        )
    } else {
        check_wallet(&proxy.health_url)
    };
    vec![
        check_bridge(config),
        proxy_check,
        wallet_check,
        check_catalog(&catalog::catalog_path(config)),
        check_profile(config, &profile_path, &profile_toml),
        check_desktop(home, &config_toml),
        check_websearch(&profile_toml, &config_toml),
        check_legacy(home, &config.codex.profile, &config_toml),
        check_codex(),
    ]
}

fn get_json(url: &str, bearer: Option<&str>, timeout: Duration) -> Result<Value, String> {
    let reply = http_get(url, bearer, timeout)?;
    if reply.status != 200 {
        return Err(format!("{url} answered HTTP {}", reply.status));
    }
    serde_json::from_slice(&reply.body).map_err(|_| format!("{url} did not answer JSON"))
}

fn check_bridge(config: &Config) -> Check {
    let origin = catalog::bridge_origin(config);
    let url = format!("{origin}/health");
    match get_json(&url, config.auth_token.as_deref(), HEALTH_TIMEOUT) {
        Ok(v) if v["status"] == "ok" => {
            let upstream = v["upstream"].as_str().unwrap_or(&config.upstream.url);
            let version = v["version"]
                .as_str()
                .map(|v| format!(" (clawrouter-codex {v})"))
                .unwrap_or_default();
            Check::pass(
                "bridge",
                format!("{origin} is up{version}, forwarding to {upstream}"),
            )
        }
        Ok(v) => Check::fail(
            "bridge",
            format!("{url} answered without status ok: {v}"),
            "something else listens on that port: stop it or change `listen` / PORT",
        ),
        Err(e) => Check::fail(
            "bridge",
            format!("not reachable: {e}"),
            "start it: `clawrouter-codex start` (or `clawrouter-codex daemon install`)",
        ),
    }
}

/// Where the proxy check looks.
struct ProxyTarget {
    /// `http://host:port` of the proxy.
    origin: String,
    /// Its `/health` URL (no query).
    health_url: String,
    /// Its model list, for upstreams that are not ClawRouter.
    models_url: String,
    /// `Some(false)` when the upstream answered its model list but has no ClawRouter `/health`.
    is_clawrouter: Option<bool>,
}

/// The proxy is where the bridge forwards (when that is plain http), else the local ClawRouter
/// on `proxy.port`. With the defaults both are `127.0.0.1:8404`.
fn proxy_target(config: &Config) -> ProxyTarget {
    let up = &config.upstream;
    let (origin, base) = if up.tls {
        (
            format!("http://127.0.0.1:{}", config.proxy.port),
            String::new(),
        )
    } else {
        let host = if up.host.contains(':') {
            format!("[{}]", up.host)
        } else {
            up.host.clone()
        };
        let base = up
            .base_path
            .strip_suffix("/v1")
            .unwrap_or(&up.base_path)
            .to_owned();
        (format!("http://{host}:{}", up.port), base)
    };
    let health_url = format!("{origin}{base}/health");
    let models_url = if up.tls {
        format!("{origin}/v1/models")
    } else {
        format!("{origin}{}/models", up.base_path)
    };
    let is_clawrouter = match get_json(&health_url, None, HEALTH_TIMEOUT) {
        Ok(v) if v["status"] == "ok" => Some(true),
        _ => match http_get(&models_url, up.api_key.as_deref(), HEALTH_TIMEOUT) {
            Ok(reply) if reply.status == 200 => Some(false),
            _ => None,
        },
    };
    ProxyTarget {
        origin,
        health_url,
        models_url,
        is_clawrouter,
    }
}

fn check_proxy(target: &ProxyTarget) -> Check {
    let origin = &target.origin;
    if target.is_clawrouter == Some(false) {
        return Check::pass(
            "proxy",
            format!(
                "the upstream at {origin} answers {} (not ClawRouter)",
                target.models_url
            ),
        );
    }
    let url = &target.health_url;
    match get_json(url, None, HEALTH_TIMEOUT) {
        Ok(v) if v["status"] == "ok" => {
            let chain = v["paymentChain"]
                .as_str()
                .map(|c| format!(", paying on {c}"))
                .unwrap_or_default();
            Check::pass("proxy", format!("ClawRouter at {origin} is up{chain}"))
        }
        Ok(v) => Check::fail(
            "proxy",
            format!("{url} answered without status ok: {v}"),
            "something else listens on the proxy port: stop it or change PROXY_PORT",
        ),
        Err(e) => Check::fail(
            "proxy",
            format!("ClawRouter is not reachable: {e}"),
            "start it: `clawrouter-codex start` launches the proxy and the bridge",
        ),
    }
}

fn check_wallet(health_url: &str) -> Check {
    let url = format!("{health_url}?full=true");
    let v = match get_json(&url, None, BALANCE_TIMEOUT) {
        Ok(v) => v,
        Err(e) => {
            return Check::fail(
                "wallet",
                format!("unknown, the proxy did not answer: {e}"),
                "start the proxy (`clawrouter-codex start`), then run doctor again",
            )
        }
    };
    let wallet = v["wallet"].as_str().unwrap_or("(no address reported)");
    let chain = v["paymentChain"].as_str().unwrap_or("base");
    if let Some(err) = v["balanceError"].as_str() {
        return Check::fail(
            "wallet",
            format!("{wallet}: could not fetch the balance ({err})"),
            "check the internet connection of this machine (ClawRouter asks the chain); \
             free models still work",
        );
    }
    let balance = v["balance"].as_str().unwrap_or("unknown");
    if v["isEmpty"] == true {
        return Check::fail(
            "wallet",
            format!("{wallet} is empty ({balance} on {chain})"),
            format!(
                "fund the address {wallet} with USDC on {chain} (`clawrouter-codex wallet` \
                 shows it); free models still work"
            ),
        );
    }
    let low = if v["isLow"] == true {
        ", low: top it up soon"
    } else {
        ""
    };
    Check::pass("wallet", format!("{wallet}: {balance} on {chain}{low}"))
}

fn check_catalog(path: &Path) -> Check {
    let fix = "run `clawrouter-codex gen-catalog` (the proxy or the bridge must be running)";
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Check::fail("catalog", format!("{} does not exist", path.display()), fix)
        }
        Err(e) => {
            return Check::fail(
                "catalog",
                format!("cannot read {}: {e}", path.display()),
                fix,
            )
        }
    };
    let parsed: Result<Value, _> = serde_json::from_str(&text);
    match parsed
        .as_ref()
        .map(|v| v.get("models").and_then(Value::as_array))
    {
        Ok(Some(models)) if !models.is_empty() => {
            let first = models[0]["slug"].as_str().unwrap_or("?");
            Check::pass(
                "catalog",
                format!(
                    "{} model{} in {} (first: {first})",
                    models.len(),
                    if models.len() == 1 { "" } else { "s" },
                    path.display()
                ),
            )
        }
        Ok(Some(_)) => Check::fail(
            "catalog",
            format!("{} lists no models", path.display()),
            fix,
        ),
        Ok(None) => Check::fail(
            "catalog",
            format!("{} has no `models` array", path.display()),
            fix,
        ),
        Err(e) => Check::fail(
            "catalog",
            format!("{} is not valid JSON: {e}", path.display()),
            fix,
        ),
    }
}

/// A TOML file: `Ok(None)` when it does not exist.
type TomlFile = Result<Option<DocumentMut>, String>;

fn read_toml(path: &Path) -> TomlFile {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .parse::<DocumentMut>()
            .map(Some)
            .map_err(|e| format!("{} is not valid TOML: {}", path.display(), e.message())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

// lead: replace these readers with codex_config::desktop_state / websearch_state /
// legacy_profile_table once that module is merged.
fn str_at<'a>(item: &'a Item, path: &[&str]) -> Option<&'a str> {
    let mut cur = item;
    for key in path {
        cur = cur.get(key)?;
    }
    cur.as_str()
}

fn doc_str<'a>(doc: &'a DocumentMut, path: &[&str]) -> Option<&'a str> {
    str_at(doc.as_item(), path)
}

/// Whether `base_url` names this bridge (same port; a loopback host when we listen on one).
fn points_at_bridge(base_url: &str, config: &Config) -> bool {
    let Some(rest) = base_url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let Some((host, port)) = authority.rsplit_once(':') else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port_ok = port.parse::<u16>().ok() == Some(config.listen.port());
    let loopback_host = matches!(host, "127.0.0.1" | "localhost" | "::1");
    let ip = config.listen.ip();
    let host_ok = if ip.is_loopback() || ip.is_unspecified() {
        loopback_host || host == ip.to_string()
    } else {
        host == ip.to_string()
    };
    port_ok && host_ok
}

fn check_profile(config: &Config, path: &Path, profile: &TomlFile) -> Check {
    let fix = "run `clawrouter-codex setup` to write it";
    let doc = match profile {
        Ok(Some(doc)) => doc,
        Ok(None) => {
            return Check::fail("profile", format!("{} does not exist", path.display()), fix)
        }
        Err(e) => {
            return Check::fail(
                "profile",
                e.clone(),
                format!(
                    "fix or delete {}, then run `clawrouter-codex setup`",
                    path.display()
                ),
            )
        }
    };
    let provider = doc_str(doc, &["model_provider"]);
    if provider != Some(PROVIDER) {
        return Check::fail(
            "profile",
            format!(
                "{} selects model_provider {:?}, not \"{PROVIDER}\"",
                path.display(),
                provider.unwrap_or("(none)")
            ),
            fix,
        );
    }
    let base_url = doc_str(doc, &["model_providers", PROVIDER, "base_url"]);
    let bridge = catalog::bridge_origin(config);
    match base_url {
        Some(url) if points_at_bridge(url, config) => {}
        Some(url) => {
            return Check::fail(
                "profile",
                format!("its provider base_url {url} is not this bridge ({bridge}/v1)"),
                fix,
            )
        }
        None => {
            return Check::fail(
                "profile",
                format!(
                    "{} has no [model_providers.{PROVIDER}] base_url",
                    path.display()
                ),
                fix,
            )
        }
    }
    let catalog = catalog::catalog_path(config);
    match doc_str(doc, &["model_catalog_json"]) {
        Some(p) if Path::new(p) == catalog => {}
        Some(p) => {
            return Check::fail(
                "profile",
                format!(
                    "{} uses the catalog {p}, not {}",
                    path.display(),
                    catalog.display()
                ),
                fix,
            )
        }
        None => {
            return Check::fail(
                "profile",
                format!(
                    "{} sets no model_catalog_json: Codex would use generic metadata for \
                     ClawRouter models (no apply_patch)",
                    path.display()
                ),
                fix,
            )
        }
    }
    let model = doc_str(doc, &["model"]).unwrap_or("(Codex's default)");
    let name = &config.codex.profile;
    Check::pass(
        "profile",
        format!(
            "{} (model {model}; use it with `codex --profile {name}`)",
            path.display()
        ),
    )
}

fn check_desktop(home: &Path, config_toml: &TomlFile) -> Check {
    let path = home.join("config.toml");
    match config_toml {
        Ok(None) => Check::pass(
            "desktop",
            "off (no config.toml: Codex uses its native default)",
        ),
        Ok(Some(doc)) => {
            let model = doc_str(doc, &["model"]).unwrap_or("Codex's default");
            if doc_str(doc, &["model_provider"]) == Some(PROVIDER) {
                Check::pass(
                    "desktop",
                    format!("on: Codex Desktop and plain `codex` use ClawRouter (model {model})"),
                )
            } else {
                Check::pass(
                    "desktop",
                    format!("off: Codex Desktop and plain `codex` use the native default (model {model})"),
                )
            }
        }
        Err(e) => Check::fail(
            "desktop",
            e.clone(),
            format!(
                "repair {} (Codex cannot start with it either)",
                path.display()
            ),
        ),
    }
}

/// Whether a provider table sends `x-web-search: 1`.
fn websearch_header(doc: &DocumentMut) -> bool {
    doc.get("model_providers")
        .and_then(|p| p.get(PROVIDER))
        .and_then(|p| p.get("http_headers"))
        .and_then(|h| h.get("x-web-search"))
        .and_then(Item::as_str)
        .is_some_and(|v| v.trim() == "1")
}

fn check_websearch(profile: &TomlFile, config_toml: &TomlFile) -> Check {
    let in_profile = matches!(profile, Ok(Some(doc)) if websearch_header(doc));
    let in_config = matches!(config_toml, Ok(Some(doc)) if websearch_header(doc));
    let env = std::env::var("WEB_SEARCH").is_ok_and(|v| v.trim() == "1");
    let mut on = Vec::new();
    if in_profile {
        on.push("the profile");
    }
    if in_config {
        on.push("desktop mode");
    }
    if env {
        on.push("WEB_SEARCH=1");
    }
    if on.is_empty() {
        Check::pass(
            "web search",
            "off (`clawrouter-codex websearch on` enables it)",
        )
    } else {
        Check::pass("web search", format!("on ({})", on.join(", ")))
    }
}

fn check_legacy(home: &Path, profile: &str, config_toml: &TomlFile) -> Check {
    let path: PathBuf = home.join("config.toml");
    let has_legacy = matches!(
        config_toml,
        Ok(Some(doc)) if doc.get("profiles").and_then(|p| p.get(profile)).is_some()
    );
    if has_legacy {
        Check::fail(
            "legacy profile",
            format!(
                "{} has a [profiles.{profile}] table (obsolete since Codex 0.134, ignored)",
                path.display()
            ),
            format!(
                "remove the [profiles.{profile}] table from {}; `clawrouter-codex setup` writes \
                 {}/{profile}.config.toml instead",
                path.display(),
                home.display()
            ),
        )
    } else {
        Check::pass(
            "legacy profile",
            format!("no [profiles.{profile}] table in config.toml"),
        )
    }
}

fn check_codex() -> Check {
    let program = catalog::codex_program();
    match catalog::codex_version(&program) {
        Ok(version) => Check::pass(
            "codex",
            format!("Codex CLI {version} ({})", program.display()),
        ),
        Err(e) => Check::fail(
            "codex",
            e,
            "install it: `npm install -g @openai/codex` (or set CODEX_BIN to its path)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> TomlFile {
        text.parse::<DocumentMut>()
            .map(Some)
            .map_err(|e| e.to_string())
    }

    fn config(home: &Path) -> Config {
        let env = crate::config::EnvOverrides {
            codex_home: Some(home.to_string_lossy().into_owned()),
            home: Some(home.to_string_lossy().into_owned()),
            ..Default::default()
        };
        crate::config::resolve(
            crate::config::FileConfig::default(),
            None,
            &env,
            &crate::config::CliOverrides::default(),
        )
        .expect("config")
    }

    #[test]
    fn base_url_matching() {
        let c = config(Path::new("/nonexistent"));
        assert!(points_at_bridge("http://127.0.0.1:8403/v1", &c));
        assert!(points_at_bridge("http://localhost:8403/v1", &c));
        assert!(!points_at_bridge("http://127.0.0.1:9999/v1", &c));
        assert!(!points_at_bridge("https://api.openai.com/v1", &c));
        assert!(!points_at_bridge("http://example.com:8403/v1", &c));
    }

    #[test]
    fn profile_check() {
        let c = config(Path::new("/nonexistent"));
        let p = Path::new("/x/clawrouter.config.toml");
        let good = doc(
            "model = \"blockrun/auto\"\nmodel_provider = \"clawrouter\"\n\
             model_catalog_json = \"/nonexistent/clawrouter-catalog.json\"\n\
             [model_providers.clawrouter]\nbase_url = \"http://127.0.0.1:8403/v1\"\n",
        );
        let ok = check_profile(&c, p, &good);
        assert!(ok.ok, "{ok:?}");
        let no_catalog = doc("model_provider = \"clawrouter\"\n\
             [model_providers.clawrouter]\nbase_url = \"http://127.0.0.1:8403/v1\"\n");
        let bad = check_profile(&c, p, &no_catalog);
        assert!(
            !bad.ok && bad.detail.contains("model_catalog_json"),
            "{bad:?}"
        );
        let wrong_url = doc("model_provider = \"clawrouter\"\n\
             [model_providers.clawrouter]\nbase_url = \"http://127.0.0.1:1/v1\"\n");
        assert!(!check_profile(&c, p, &wrong_url).ok);
        let wrong_provider = doc("model_provider = \"openai\"\n");
        assert!(!check_profile(&c, p, &wrong_provider).ok);
        assert!(!check_profile(&c, p, &Ok(None)).ok);
        assert!(!check_profile(&c, p, &Err("bad".into())).ok);
    }

    #[test]
    fn desktop_websearch_legacy_readers() {
        let home = Path::new("/h");
        let on = doc(
            "model = \"blockrun/auto\"\nmodel_provider = \"clawrouter\"\n\
             [model_providers.clawrouter]\nhttp_headers = { \"x-web-search\" = \"1\" }\n\
             [profiles.clawrouter]\nmodel = \"x\"\n",
        );
        let d = check_desktop(home, &on);
        assert!(d.ok && d.detail.starts_with("on"), "{d:?}");
        let w = check_websearch(&Ok(None), &on);
        assert!(w.ok && w.detail.starts_with("on"), "{w:?}");
        let l = check_legacy(home, "clawrouter", &on);
        assert!(!l.ok);
        assert!(l.fix.as_deref().is_some_and(|f| f.contains("remove")));
        let off = doc("model = \"gpt-5.5\"\n");
        assert!(check_desktop(home, &off).detail.starts_with("off"));
        assert!(check_legacy(home, "clawrouter", &off).ok);
        assert!(!check_desktop(home, &Err("broken".into())).ok);
    }

    #[test]
    fn catalog_check() {
        let dir = std::env::temp_dir().join(format!("doctor-cat-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let p = dir.join("c.json");
        assert!(!check_catalog(&p).ok);
        std::fs::write(&p, "{\"models\":[{\"slug\":\"blockrun/auto\"}]}").expect("write");
        let c = check_catalog(&p);
        assert!(c.ok && c.detail.starts_with("1 model in"), "{c:?}");
        std::fs::write(&p, "{\"models\":[]}").expect("write");
        assert!(!check_catalog(&p).ok);
        std::fs::write(&p, "nope").expect("write");
        assert!(!check_catalog(&p).ok);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn json_shape() {
        let v = to_json(&[
            Check::pass("a", "fine"),
            Check::fail("b", "broken", "do this"),
        ]);
        assert_eq!(v["ok"], false);
        assert_eq!(v["checks"][0]["fix"], Value::Null);
        assert_eq!(v["checks"][1]["fix"], "do this");
        assert_eq!(v["checks"][1]["name"], "b");
    }
}
