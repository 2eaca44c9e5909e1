//! `doctor`: the end-to-end check (README, Commands). Read-only: it sends `GET`s to loopback
//! services, reads Codex's files and runs `codex --version`; it writes nothing anywhere.
//!
//! In direct mode (`upstream.kind: direct`) the proxy checks give way to BlockRun's API and
//! the wallet that pays it ([`direct`]).
//!
//! Checks, in order: the bridge (`/health`), the ClawRouter proxy (`/health`), the ClawRouter
//! version that runs against the pinned one (`proxy version`, from what `start` recorded:
//! [`proxy_version`]), wallet and balance (`/health?full=true`), the catalog file, the Codex profile, desktop mode
//! (informational when off), web-search mode (informational), a legacy `[profiles.<name>]`
//! table or `profile = "<name>"` in `config.toml` (it stops `codex --profile` from starting),
//! and the Codex CLI. Each prints `✅ name — detail` or `❌ name — detail` with an indented `fix:` line;
//! `--json` prints the BlockRun envelope ([`envelope`]): `{"ok":true,"data":{"checks":[…],
//! "dashboard"}}`, or `{"ok":false,"error":{"code":"checks_failed","message","checks":[…],
//! "dashboard"}}`, each check `{"name","ok","detail","fix"}`. Exit 0 only when all pass, else 1.
//!
//! The proxy checked is where the bridge forwards when that is plain http (with the defaults,
//! ClawRouter on `127.0.0.1:<proxy.port>`), else the local ClawRouter on `proxy.port`. An
//! upstream that answers `/v1/models` but has no ClawRouter `/health` (vLLM, Ollama, a team
//! gateway) passes as "not ClawRouter", and the wallet check then says it is not used.
//!
//! Codex's files are read through [`codex_config`] (the readers `status`, the toggles and the
//! dashboard use too), so doctor and they agree. The profile must select provider
//! `clawrouter`, whose `base_url` is exactly this bridge's and whose `wire_api` is `responses`,
//! and name this `CODEX_HOME`'s catalog (`model_catalog_json`, which must exist): without it
//! Codex would treat ClawRouter models with generic metadata (no `apply_patch`). Desktop mode,
//! when on, must be complete too (provider table with `requires_openai_auth`, this bridge, an
//! existing catalog). A failure lists every problem found, and the fix line each distinct fix
//! once, in order.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{json, Value};

use super::catalog;
use super::codex_config::{self, CodexConfigError, CodexFile, DesktopMode};
use super::envelope;
use super::http;
use super::legacy_profile;
use super::proxy_version;
use super::wallet::ProxyHealth;
use crate::config::Config;

/// Timeout for the plain health checks.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);
/// ClawRouter's balance lookup can take seconds (4.5 s on Solana when offline).
const BALANCE_TIMEOUT: Duration = Duration::from_secs(10);

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked, one short word (`bridge`, `proxy`, `wallet`, `catalog`, …); the
    /// `name` of the `--json` output.
    pub name: &'static str,
    /// Whether the check passed (✅) or failed (❌).
    pub ok: bool,
    /// What was found, in one line: the state when it passed, the problem when it failed.
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
        let report = to_json(&checks, crate::handlers::dashboard::url(config));
        return envelope::print(&mut std::io::stdout(), &report);
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
        if let Some(url) = crate::handlers::dashboard::url(config) {
            println!("dashboard: {url}");
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        super::problem()
    }
}

/// The checks' JSON form, in the BlockRun envelope (see the module docs).
pub fn to_json(checks: &[Check], dashboard: Option<String>) -> Value {
    let list: Vec<Value> = checks
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "ok": c.ok,
                "detail": c.detail,
                "fix": c.fix,
            })
        })
        .collect();
    let failed: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
    let mut fields = serde_json::Map::new();
    fields.insert("checks".to_owned(), Value::Array(list));
    fields.insert("dashboard".to_owned(), json!(dashboard));
    if failed.is_empty() {
        return envelope::success(Value::Object(fields));
    }
    let message = format!(
        "{} of {} checks failed: {} (each failed check has its fix)",
        failed.len(),
        checks.len(),
        failed.join(", ")
    );
    envelope::failure("checks_failed", &message, fields)
}

/// Runs every check.
pub fn checks(config: &Config) -> Vec<Check> {
    let mut checks = vec![check_bridge(config)];
    match &config.direct {
        Some(settings) => checks.extend(direct::checks(config, settings)),
        None => {
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
            let version_check = check_proxy_version(config, &proxy, proxy_check.ok);
            checks.extend([proxy_check, version_check, wallet_check]);
        }
    }
    checks.extend([
        check_catalog(&codex_config::catalog_path(config)),
        check_profile(config),
        check_desktop(config),
        check_websearch(config),
        check_websocket(config),
        check_legacy(config),
        check_codex(),
    ]);
    checks
}

fn get_json(url: &str, bearer: Option<&str>, timeout: Duration) -> Result<Value, String> {
    let reply = http::get(url, bearer, timeout).map_err(|e| format!("{url}: {e}"))?;
    if reply.status != 200 {
        return Err(format!("{url} answered HTTP {}", reply.status));
    }
    serde_json::from_str(&reply.body).map_err(|_| format!("{url} did not answer JSON"))
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

/// The proxy ([`Config::clawrouter_proxy`]: where the bridge forwards when that is plain
/// http, else the local ClawRouter on `proxy.port`). With the defaults both are `127.0.0.1:8404`.
fn proxy_target(config: &Config) -> ProxyTarget {
    let proxy = config.clawrouter_proxy();
    let up = &config.upstream;
    let health_url = proxy.url("/health");
    let models_url = proxy.api_url("/models");
    let is_clawrouter = match get_json(&health_url, None, HEALTH_TIMEOUT) {
        Ok(v) if v["status"] == "ok" => Some(true),
        // The upstream's key goes to the upstream only, never to the local proxy.
        _ => match http::get(
            &models_url,
            up.api_key.as_deref().filter(|_| proxy.is_upstream),
            HEALTH_TIMEOUT,
        ) {
            Ok(reply) if reply.status == 200 => Some(false),
            _ => None,
        },
    };
    ProxyTarget {
        origin: proxy.origin,
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
            let chain = ProxyHealth::from_value(&v)
                .and_then(|h| h.chain())
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

/// The ClawRouter version that runs ([`proxy_version::running`]) against the pin
/// (`proxy.version`): a different one is a failure (restart to run the pin); a proxy that
/// `start` did not launch, or the user's own command, passes with what is known.
fn check_proxy_version(config: &Config, target: &ProxyTarget, proxy_up: bool) -> Check {
    const NAME: &str = "proxy version";
    let pin = &config.proxy.version;
    let wanted = config.proxy.launch_command();
    if target.is_clawrouter == Some(false) {
        return Check::pass(NAME, "not used: the upstream is not ClawRouter");
    }
    let port = super::supervisor::proxy_port(config);
    let Some(launch) = proxy_version::running(config, port).filter(|_| proxy_up) else {
        let runs = match &config.proxy.command {
            Some(own) => format!("your own command `{own}` (CLAWROUTER_CMD or proxy.command)"),
            None => format!("ClawRouter {pin}, the pinned version"),
        };
        let now = if proxy_up {
            format!("the ClawRouter on port {port} was not started by `clawrouter-codex start`, so its version is unknown (its /health names none)")
        } else {
            "the proxy is not running".to_owned()
        };
        return Check::pass(NAME, format!("{now}; `start` runs {runs}"));
    };
    let version = launch.version.as_deref().unwrap_or("of unknown version");
    let restart = format!(
        "restart the proxy so it runs `{wanted}`: stop `clawrouter-codex start` and run it again (login service: `systemctl --user restart clawrouter-codex`, or on macOS `launchctl kickstart -k gui/$(id -u)/{}`)",
        super::daemon::LABEL
    );
    if launch.command != wanted {
        let should = if config.proxy.command.is_some() {
            format!("your command `{wanted}` (CLAWROUTER_CMD or proxy.command)")
        } else {
            format!("the pinned ClawRouter {pin} (proxy.version)")
        };
        return Check::fail(
            NAME,
            format!(
                "ClawRouter {version} runs (pid {}, `{}`), but the config asks for {should}",
                launch.pid, launch.command
            ),
            restart,
        );
    }
    if launch.pinned {
        Check::pass(
            NAME,
            format!(
                "ClawRouter {version} runs (pid {}), the pinned version",
                launch.pid
            ),
        )
    } else {
        Check::pass(
            NAME,
            format!(
                "ClawRouter {version} runs (pid {}) from your own command `{}`: not pinned (unset CLAWROUTER_CMD / proxy.command to run the pinned {pin})",
                launch.pid, launch.command
            ),
        )
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
    let health = ProxyHealth::from_value(&v).unwrap_or_default();
    // Where to send USDC: the address ClawRouter pays from, on its chain ([`ProxyHealth::funding`]).
    let Some(funding) = health.funding() else {
        return Check::fail(
            "wallet",
            format!(
                "the proxy reports no address to fund (paymentChain {}, wallet {}, solana {})",
                health.payment_chain.as_deref().unwrap_or("absent"),
                health.wallet.as_deref().unwrap_or("absent"),
                health.solana.as_deref().unwrap_or("absent"),
            ),
            "run `clawrouter-codex wallet`: it reads ClawRouter's wallet files and says which \
             address to fund",
        );
    };
    let (address, usdc) = (&funding.address, funding.chain.usdc());
    if let Some(err) = &health.balance_error {
        return Check::fail(
            "wallet",
            format!("{address} ({usdc}): could not fetch the balance ({err})"),
            "check the internet connection of this machine (ClawRouter asks the chain); \
             free models still work",
        );
    }
    let balance = health.balance.as_deref().unwrap_or("unknown");
    if health.is_empty == Some(true) {
        return Check::fail(
            "wallet",
            format!("{address} is empty ({balance} {usdc})"),
            format!(
                "fund the address {address} with {usdc} (`clawrouter-codex wallet` shows it); \
                 free models still work"
            ),
        );
    }
    let low = if health.is_low == Some(true) {
        ", low: top it up soon"
    } else {
        ""
    };
    Check::pass("wallet", format!("{address}: {balance} {usdc}{low}"))
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

/// What doctor says about a Codex config file it could not read. Like
/// [`CodexConfigError`]'s own message, without the advice for commands that edit (doctor
/// changes nothing); the fix goes on the check's `fix:` line.
fn unreadable(e: &CodexConfigError) -> String {
    match e {
        CodexConfigError::Read { path, source } => {
            format!("cannot read {}: {source}", path.display())
        }
        CodexConfigError::Parse {
            path,
            line,
            column,
            message,
        } => format!(
            "{} is not valid TOML: line {line}, column {column}: {message}",
            path.display()
        ),
        CodexConfigError::Shape { path, key, found } => format!(
            "{}: `{key}` is {found}, but Codex expects a table there",
            path.display()
        ),
        other => other.to_string(),
    }
}

/// The file a [`CodexConfigError`] is about.
fn error_path(e: &CodexConfigError) -> &Path {
    match e {
        CodexConfigError::Read { path, .. }
        | CodexConfigError::Parse { path, .. }
        | CodexConfigError::Shape { path, .. }
        | CodexConfigError::Write { path, .. }
        | CodexConfigError::Conflict { path } => path,
    }
}

/// A [`codex_config`] problem, `"<what is wrong>: run `…`"`, split into what is wrong and
/// what to do (`None` when it names no command to run).
fn split_problem(problem: &str) -> (&str, Option<&str>) {
    match problem.rfind(": run `") {
        Some(at) => (&problem[..at], Some(&problem[at + 2..])),
        None => (problem, None),
    }
}

/// A failed check listing every problem (`; ` between them) and each distinct fix once, in
/// order (`, then ` between them); `default_fix` stands in for a problem that names none.
fn failed_with(name: &'static str, prefix: &str, problems: &[String], default_fix: &str) -> Check {
    let mut details = Vec::new();
    let mut fixes: Vec<&str> = Vec::new();
    for problem in problems {
        let (what, fix) = split_problem(problem);
        details.push(what);
        let fix = fix.unwrap_or(default_fix);
        if !fixes.contains(&fix) {
            fixes.push(fix);
        }
    }
    Check::fail(
        name,
        format!("{prefix}{}", details.join("; ")),
        fixes.join(", then "),
    )
}

/// The profile ([`codex_config::profile_state`]: it selects provider `clawrouter`, whose
/// `base_url` is this bridge's exactly and whose `wire_api` is `responses`, and it names an
/// existing `model_catalog_json`). Stricter than that: the catalog must be the one
/// `gen-catalog` writes for this `CODEX_HOME`, or it goes stale.
fn check_profile(config: &Config) -> Check {
    let setup = "run `clawrouter-codex setup`";
    let state = match codex_config::profile_state(config) {
        Ok(state) => state,
        Err(e) => {
            return Check::fail(
                "profile",
                unreadable(&e),
                format!("fix or delete {}, then {setup}", error_path(&e).display()),
            )
        }
    };
    let path = state.path.display();
    if !state.exists {
        return Check::fail(
            "profile",
            format!("{path} does not exist"),
            format!("{setup} to write it"),
        );
    }
    // Loaded again for what `ProfileState` does not carry: the model and the catalog path.
    let file = match CodexFile::load(&state.path) {
        Ok(file) => file,
        Err(e) => return Check::fail("profile", unreadable(&e), setup),
    };
    let mut problems = state.problems;
    let catalog = codex_config::catalog_path(config);
    if let Some(named) = file.root_str("model_catalog_json") {
        if Path::new(named) != catalog {
            problems.push(format!(
                "{path} uses the catalog {named}, not {}: {setup}",
                catalog.display()
            ));
        }
    }
    if !problems.is_empty() {
        return failed_with("profile", "", &problems, setup);
    }
    let model = file.root_str("model").unwrap_or("(Codex's default)");
    let name = &config.codex.profile;
    Check::pass(
        "profile",
        format!("{path} (model {model}; use it with `codex --profile {name}`)"),
    )
}

/// Desktop mode ([`codex_config::desktop_state`]): informational when off; when on, each of
/// its problems (provider table, `requires_openai_auth`, `base_url`, catalog) fails the check,
/// since Codex Desktop and plain `codex` then do not work.
fn check_desktop(config: &Config) -> Check {
    let state = match codex_config::desktop_state(config) {
        Ok(state) => state,
        Err(e) => {
            return Check::fail(
                "desktop",
                unreadable(&e),
                format!(
                    "repair {} (Codex cannot start with it either)",
                    error_path(&e).display()
                ),
            )
        }
    };
    if !state.config_exists {
        return Check::pass(
            "desktop",
            "off (no config.toml: Codex uses its native default)",
        );
    }
    let model = state.model.as_deref().unwrap_or("Codex's default");
    match &state.mode {
        DesktopMode::ClawRouter if state.problems.is_empty() => Check::pass(
            "desktop",
            format!("on: Codex Desktop and plain `codex` use ClawRouter (model {model})"),
        ),
        DesktopMode::ClawRouter => failed_with(
            "desktop",
            "on, but ",
            &state.problems,
            "run `clawrouter-codex desktop on`",
        ),
        DesktopMode::Native => Check::pass(
            "desktop",
            format!("off: Codex Desktop and plain `codex` use the native default (model {model})"),
        ),
        DesktopMode::OtherProvider(provider) => Check::pass(
            "desktop",
            format!(
                "off: Codex Desktop and plain `codex` use the provider `{provider}` (model {model})"
            ),
        ),
    }
}

/// Web search (informational): the `x-web-search` header of the profile's provider table and,
/// in desktop mode, of `config.toml`'s ([`codex_config::websearch_status`]), and the bridge
/// setting (`web_search.enabled`, env `WEB_SEARCH=1`).
fn check_websearch(config: &Config) -> Check {
    let status = match codex_config::websearch_status(config) {
        Ok(status) => status,
        Err(e) => {
            return Check::fail(
                "web search",
                format!("unknown: {}", unreadable(&e)),
                format!("repair {}", error_path(&e).display()),
            )
        }
    };
    let mut on = Vec::new();
    if status.profile == Some(true) {
        on.push("the profile");
    }
    if status.desktop == Some(true) {
        on.push("desktop mode");
    }
    if config.web_search.enabled {
        on.push("the bridge config, for every request");
    }
    if on.is_empty() {
        Check::pass(
            "web search",
            "off (`clawrouter-codex websearch on` enables it)",
        )
    } else {
        Check::pass(
            "web search",
            format!(
                "on ({}); each search is a paid upstream call",
                on.join(", ")
            ),
        )
    }
}

/// Codex's WebSocket transport (informational): the bridge's `websocket.enabled` and the
/// profile provider's `supports_websockets`, which `setup` keeps equal.
fn check_websocket(config: &Config) -> Check {
    let path = codex_config::profile_path(config);
    let in_profile = codex_config::CodexFile::load(&path).and_then(|profile| {
        Ok(profile
            .provider(codex_config::PROVIDER_ID)?
            .and_then(|table| table.get("supports_websockets"))
            .and_then(|item| item.as_bool()))
    });
    let in_profile = match in_profile {
        Ok(value) => value.unwrap_or(false),
        Err(e) => {
            return Check::fail(
                "websocket",
                format!("unknown: {}", unreadable(&e)),
                format!("repair {}", error_path(&e).display()),
            )
        }
    };
    let detail = match (config.websocket.enabled, in_profile) {
        (true, true) => "on: Codex talks to the bridge over a WebSocket and sends only what is \
                         new each turn"
            .to_owned(),
        (true, false) => "served by the bridge, but the profile has supports_websockets = false: \
                          Codex uses HTTP (`clawrouter-codex setup` turns it on)"
            .to_owned(),
        (false, true) => "off in the bridge (websocket.enabled: false): Codex falls back to HTTP \
                          at once; `clawrouter-codex setup` sets supports_websockets = false"
            .to_owned(),
        (false, false) => "off (websocket.enabled: false): Codex uses HTTP".to_owned(),
    };
    Check::pass("websocket", detail)
}

/// A legacy profile in `config.toml` ([`legacy_profile`]): `codex --profile <name>` will not
/// start while it is there. A `config.toml` that cannot be read passes here; the desktop check
/// reports it.
fn check_legacy(config: &Config) -> Check {
    let path = codex_config::config_toml_path(config);
    let profile = &config.codex.profile;
    match legacy_profile::in_config(config) {
        Some(legacy) => Check::fail(
            "legacy profile",
            format!(
                "{} has {}: {} while it is there",
                path.display(),
                legacy.describe(profile),
                legacy.consequence(profile)
            ),
            format!(
                "run `clawrouter-codex setup`: it moves it into {} (keeping a backup of {})",
                codex_config::profile_path(config).display(),
                path.display()
            ),
        ),
        None => Check::pass(
            "legacy profile",
            format!("no [profiles.{profile}] or profile = \"{profile}\" in config.toml"),
        ),
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

mod direct;

#[cfg(test)]
mod tests;
