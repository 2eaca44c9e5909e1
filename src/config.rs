//! Bridge configuration: the YAML file (`conf/bridge.yaml`), environment overrides and
//! built-in defaults, merged in that order (flags > environment > file > defaults) and
//! validated once into a [`Config`] the rest of the program trusts.
//!
//! The file format ([`FileConfig`]) rejects unknown keys so a typo is an error naming the key
//! and the file, never a silently ignored setting. Pingora's own `ServerConf` is built from
//! the validated config in `server.rs`; the user never writes Pingora keys.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub mod direct;

pub use direct::{DirectSettings, UpstreamKind};

/// Default listen address: loopback only (README, Security).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8403";
/// Default upstream: the local ClawRouter proxy.
pub const DEFAULT_UPSTREAM_URL: &str = "http://127.0.0.1:8404/v1";
/// Default seconds between keep-alive events to a client while the upstream is silent.
pub const DEFAULT_KEEPALIVE_SECS: u64 = 15;
/// Default port of the ClawRouter proxy that `start` launches.
pub const DEFAULT_PROXY_PORT: u16 = 8404;
/// The npm package of the ClawRouter proxy.
pub const PROXY_PACKAGE: &str = "@blockrun/clawrouter";
/// The ClawRouter version `start` runs unless `proxy.version` / `CLAWROUTER_VERSION` names
/// another: the one the tests and docs are written against (README, Quick start).
pub const DEFAULT_PROXY_VERSION: &str = "0.12.246";
/// Default request body limit. Codex re-sends the whole history every turn, so this is generous.
pub const DEFAULT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Default seconds an idle pooled upstream connection is kept: below the 5 s after which Node
/// servers (ClawRouter is one) close idle keep-alive connections, so the bridge never reuses a
/// connection the upstream is closing.
pub const DEFAULT_POOL_IDLE_SECS: u64 = 4;

/// Why a configuration could not be loaded. Each message says what, where and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file exists (or was named) but could not be read.
    #[error("cannot read config file {path}: {source} (check the path given with -c)")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is not valid YAML, or not the shape [`FileConfig`] expects.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong and where (line, column, key), from the parser.
        message: String,
    },
    /// A setting is out of range or malformed.
    #[error("invalid setting {key} (from {origin}): {message}")]
    Invalid {
        /// The setting's YAML path, e.g. `upstream.url`.
        key: &'static str,
        /// Where the value came from: the file, an environment variable or a flag.
        origin: String,
        /// What is wrong and what would be accepted.
        message: String,
    },
}

/// `conf/bridge.yaml` as written by the user. Every field is optional; unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Address the bridge listens on, e.g. `127.0.0.1:8403`.
    pub listen: Option<String>,
    /// Bearer token clients must send; required when `listen` is not a loopback address.
    pub auth_token: Option<String>,
    /// A key file shared by replicas behind a load balancer (0600, at least 32 bytes), so a
    /// reasoning blob sealed by one opens on another. Default: `~/.clawrouter-codex/reasoning.key`.
    pub reasoning_key_file: Option<PathBuf>,
    /// `upstream:`: the Chat Completions upstream and how to talk to it.
    pub upstream: Option<FileUpstream>,
    /// Team mode: several upstreams (e.g. one ClawRouter per wallet), load-balanced with a
    /// conversation pinned to one of them; they share the `upstream:` settings.
    pub upstreams: Option<Vec<FileTeamUpstream>>,
    /// `proxy:`: how `start` launches the ClawRouter proxy.
    pub proxy: Option<FileProxy>,
    /// `codex:`: where Codex's configuration lives and what the profile selects.
    pub codex: Option<FileCodex>,
    /// Seconds between keep-alive events while the upstream is silent (Codex's idle timer
    /// counts only data events).
    pub keepalive_secs: Option<u64>,
    /// `limits:`: request size limits.
    pub limits: Option<FileLimits>,
    /// `web_search:`: searches the bridge runs for the model.
    pub web_search: Option<FileWebSearch>,
    /// `dashboard:`: the page at `/dashboard`.
    pub dashboard: Option<FileDashboard>,
    /// `server:`: worker threads, shutdown, client connection bounds.
    pub server: Option<FileServer>,
    /// `log:`: log verbosity.
    pub log: Option<FileLog>,
    /// `direct:`: direct mode (`upstream.kind: direct`): caps, chain, key, RPC endpoints.
    pub direct: Option<direct::FileDirect>,
    /// `websocket:`: Codex's WebSocket transport on `/v1/responses`.
    pub websocket: Option<crate::ws_session::settings::FileWebSocket>,
}

/// `upstream:` in the YAML. Every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileUpstream {
    /// `clawrouter` (default: any Chat Completions server) or `direct` (the bridge pays
    /// BlockRun's API itself; env `UPSTREAM_KIND`).
    pub kind: Option<String>,
    /// Chat Completions base URL, ending where `/chat/completions` is appended (e.g. `…/v1`).
    pub url: Option<String>,
    /// Name of an environment variable holding a bearer key for the upstream.
    pub api_key_env: Option<String>,
    /// Seconds to wait for a TCP (and TLS) connection to the upstream (default 10).
    pub connect_timeout_secs: Option<u64>,
    /// Longest silence allowed between two reads from the upstream (model thinking time).
    pub read_timeout_secs: Option<u64>,
    /// Seconds an idle pooled connection to the upstream is kept; keep it below the upstream's
    /// own keep-alive time-out (Node: 5 s). 0: no reuse.
    pub pool_idle_secs: Option<u64>,
    /// Team mode: seconds between health checks (a TCP connect) of each upstream.
    pub health_check_secs: Option<u64>,
    /// `system` (each developer/system message stays a system message where it stands) or
    /// `merge` (all merged into one leading system message, for strict chat templates).
    pub system_role: Option<String>,
    /// `auto` | `always` | `never`: whether the upstream is asked to stream.
    pub stream: Option<String>,
    /// `auto` | `always` | `never`: whether string message contents are sent as text parts,
    /// which ClawRouter's rewriting of big bodies leaves alone (`auto`: to ClawRouter, big
    /// bodies only).
    pub preserve_whitespace: Option<String>,
}

/// One entry of `upstreams:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileTeamUpstream {
    /// Chat Completions base URL, like `upstream.url`.
    pub url: String,
    /// Name of an environment variable holding this upstream's bearer key.
    pub api_key_env: Option<String>,
    /// Share of new conversations, relative to the others (default 1).
    pub weight: Option<usize>,
}

/// `proxy:` in the YAML: the ClawRouter proxy `start` launches.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileProxy {
    /// Port `start` launches the ClawRouter proxy on (env `PROXY_PORT`).
    pub port: Option<u16>,
    /// Command `start` launches the proxy with; `--port PORT` is appended (env `CLAWROUTER_CMD`).
    pub command: Option<String>,
    /// The ClawRouter version `start` runs with npx (env `CLAWROUTER_VERSION`).
    pub version: Option<String>,
    /// File holding the x402 wallet key handed to the proxy (env `WALLET_KEY_FILE`).
    pub wallet_key_file: Option<PathBuf>,
    /// Run the proxy under a fresh HOME so a saved wallet can't shadow the key (env `ISOLATE_HOME=1`).
    pub isolate_home: Option<bool>,
}

/// `codex:` in the YAML.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCodex {
    /// Codex's config folder (env `CODEX_HOME`, default `~/.codex`).
    pub home: Option<PathBuf>,
    /// Profile name: `setup` writes `<home>/<profile>.config.toml`.
    pub profile: Option<String>,
    /// Model the profile selects.
    pub default_model: Option<String>,
    /// Model `desktop off` restores.
    pub native_model: Option<String>,
}

/// `limits:` in the YAML.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimits {
    /// Largest request body accepted, in bytes after decoding (default 32 MiB, at least 1024);
    /// bigger ones get a 413.
    pub max_body_bytes: Option<usize>,
}

/// `web_search:` in the YAML.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWebSearch {
    /// Run web searches for every request (env `WEB_SEARCH=1`); otherwise only for requests
    /// with the `x-web-search: 1` header (what `websearch on` sets on the Codex provider).
    pub enabled: Option<bool>,
    /// Most model calls that may search in one request; the next one must answer (1..=10).
    pub max_rounds: Option<u32>,
    /// Results per search unless the model asks for fewer (1..=10).
    pub max_results: Option<u32>,
    /// Longest wait for one search.
    pub timeout_secs: Option<u64>,
}

/// `dashboard:` in the YAML.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDashboard {
    /// The page at `/dashboard`: on by default on a loopback listen address; beyond loopback
    /// only when set to `true` (and then behind `auth_token`).
    pub enabled: Option<bool>,
}

/// `server:` in the YAML.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileServer {
    /// Worker threads of the bridge (default 2, 1 to 256).
    pub threads: Option<usize>,
    /// Seconds in-flight requests get to finish after a stop signal (default 1, at most 60).
    pub shutdown_grace_secs: Option<u64>,
    /// Most client connections open at once; one more gets a 503 and is closed.
    pub max_connections: Option<usize>,
    /// A request header must be complete this many seconds after the connection opened (first
    /// request) or after its first byte (later ones), however slowly it trickles in.
    pub header_timeout_secs: Option<u64>,
    /// An idle keep-alive client connection is closed after this many seconds.
    pub idle_timeout_secs: Option<u64>,
    /// Longest silence while a request body is being read (then 408).
    pub body_timeout_secs: Option<u64>,
}

/// `log:` in the YAML.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLog {
    /// `error`, `warn`, `info` (default), `debug`, `trace` or `off`; `-v` means `debug`.
    pub level: Option<String>,
}

/// Where the upstream lives, resolved once at load time.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// The URL as configured, for messages (never carries credentials: they are rejected).
    pub url: String,
    /// `https://`: the connection is TLS (rustls, system roots).
    pub tls: bool,
    /// Host name for the `Host` header and TLS SNI.
    pub host: String,
    /// TCP port (from the URL, else 80 or 443).
    pub port: u16,
    /// The address the host resolved to at load time.
    pub addr: SocketAddr,
    /// Path prefix the `/v1` of client paths is replaced with (e.g. `/v1`, `/api/v1`, or ``).
    pub base_path: String,
    /// Bearer key sent upstream (from `api_key_env`); never the client's credentials.
    pub api_key: Option<String>,
    /// Longest wait for a connection (`connect_timeout_secs`, default 10 s).
    pub connect_timeout: Duration,
    /// Longest silence between two reads of an answer (`read_timeout_secs`, default 600 s).
    pub read_timeout: Duration,
    /// How long an idle pooled connection to it is kept (`Duration::ZERO`: not reused).
    pub pool_idle: Duration,
    /// Its share of new conversations in team mode.
    pub weight: usize,
}

impl Upstream {
    /// `Host` header value for upstream requests.
    pub fn host_header(&self) -> String {
        let default_port = if self.tls { 443 } else { 80 };
        if self.port == default_port {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Upstream path for a client path under `/v1` (`/v1/models` → `{base}/models`).
    pub fn path_for(&self, client_path_and_query: &str) -> String {
        let rest = client_path_and_query
            .strip_prefix("/v1")
            .unwrap_or(client_path_and_query);
        format!("{}{}", self.base_path, rest)
    }

    /// Upstream path of an endpoint outside the API base (`/health` → `{base minus /v1}/health`):
    /// ClawRouter serves `/health` at its root.
    pub fn root_path(&self, path: &str) -> String {
        let root = self
            .base_path
            .strip_suffix("/v1")
            .unwrap_or(&self.base_path);
        format!("{root}{path}")
    }

    /// Upstream path of the Chat Completions endpoint.
    pub fn chat_path(&self) -> String {
        format!("{}/chat/completions", self.base_path)
    }

    /// An upstream for any `http://` or `https://` URL without a query (validated and resolved
    /// like `upstream.url`, no key), with `timeout` for connecting and for each read: the
    /// target of the management commands' one-off requests.
    pub fn for_url(url: &str, timeout: Duration) -> Result<Upstream, String> {
        let mut upstream = parse_upstream(url, None, &FileUpstream::default())?;
        upstream.connect_timeout = timeout;
        upstream.read_timeout = timeout;
        Ok(upstream)
    }
}

/// How Responses `developer`/`system` messages are sent upstream.
pub use crate::translate::request::SystemRole;

/// The validated configuration every other module uses.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address the bridge listens on (default `127.0.0.1:8403`).
    pub listen: SocketAddr,
    /// Bearer token clients must send (required beyond loopback).
    pub auth_token: Option<String>,
    /// The upstream (in team mode the first one, which the management commands use).
    pub upstream: Upstream,
    /// Every upstream: `[upstream]`, or the `upstreams:` list (team mode).
    pub upstreams: Vec<Upstream>,
    /// Team mode: how often each upstream's health is checked.
    pub health_check_interval: Duration,
    /// How `developer`/`system` messages are sent (`upstream.system_role`).
    pub system_role: SystemRole,
    /// Whether the upstream is asked to stream (`upstream.stream`).
    pub stream_mode: AutoSwitch,
    /// Whether code whitespace is protected from ClawRouter's rewriting of big requests.
    pub preserve_whitespace: AutoSwitch,
    /// Interval of `response.in_progress` keep-alive events while the upstream is silent
    /// (`keepalive_secs`, default 15 s).
    pub keepalive: Duration,
    /// Web searches run by the bridge.
    pub web_search: WebSearchSettings,
    /// Whether `/dashboard` is served.
    pub dashboard: bool,
    /// How `start` runs the ClawRouter proxy.
    pub proxy: ProxySettings,
    /// Where Codex's configuration lives and what the profile selects.
    pub codex: CodexSettings,
    /// The bridge's own folder (`~/.clawrouter-codex`): keys, logs, the proxy's isolated HOME.
    /// `None` when HOME is unknown.
    pub state_dir: Option<PathBuf>,
    /// The reasoning key shared by replicas, when configured (checked when the bridge starts).
    pub reasoning_key_file: Option<PathBuf>,
    /// Largest request body accepted, in bytes after decoding (default 32 MiB).
    pub max_body_bytes: usize,
    /// Worker threads (default 2).
    pub threads: usize,
    /// Time in-flight requests get after a stop signal (default 1 s).
    pub shutdown_grace: Duration,
    /// Bounds on client connections (`server.*` in the YAML).
    pub connections: ConnectionLimits,
    /// `env_logger` level: `info` unless `log.level` or `-v` (`debug`) says otherwise.
    pub log_level: String,
    /// Codex's WebSocket transport (`websocket:` in the YAML).
    pub websocket: crate::ws_session::settings::WebSocketSettings,
    /// The file this came from, if any (for messages).
    pub source: Option<PathBuf>,
    /// Direct mode's settings when `upstream.kind` is `direct` (the bridge pays BlockRun).
    pub direct: Option<DirectSettings>,
}

/// An `auto | always | never` setting: `upstream.stream` (ask the upstream to stream; `auto`
/// streams except from ClawRouter, whose streams drop reasoning) and
/// `upstream.preserve_whitespace` (`auto`: only for ClawRouter and big bodies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoSwitch {
    /// Decided per upstream (and, for whitespace, per request size).
    Auto,
    /// Always on.
    Always,
    /// Always off.
    Never,
}

impl AutoSwitch {
    fn parse(value: Option<&str>, key: &'static str, origin: &str) -> Result<Self, ConfigError> {
        match value.unwrap_or("auto") {
            "auto" => Ok(AutoSwitch::Auto),
            "always" => Ok(AutoSwitch::Always),
            "never" => Ok(AutoSwitch::Never),
            other => Err(ConfigError::Invalid {
                key,
                origin: origin.to_owned(),
                message: format!("{other:?} is not one of \"auto\", \"always\", \"never\""),
            }),
        }
    }
}

/// Web search run by the bridge (`web_search` in the YAML).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebSearchSettings {
    /// On for every request, not only those with `x-web-search: 1`.
    pub enabled: bool,
    /// Most model calls in one request that may search; the next must answer (default 4).
    pub max_rounds: u32,
    /// Results per search unless the model asks for fewer (default 5).
    pub max_results: u32,
    /// Longest wait for one search (default 30 s).
    pub timeout: Duration,
}

impl Default for WebSearchSettings {
    fn default() -> Self {
        WebSearchSettings {
            enabled: false,
            max_rounds: 4,
            max_results: 5,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Bounds on client connections: how many, and how long each may take or idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Most client connections open at once (default 512); one more gets a 503.
    pub max_connections: usize,
    /// A request header must be complete within this (default 10 s).
    pub header_timeout: Duration,
    /// An idle keep-alive connection is closed after this (default 75 s).
    pub idle_timeout: Duration,
    /// Longest silence while a body is read, then 408 (default 60 s).
    pub body_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            body_timeout: Duration::from_secs(60),
        }
    }
}

/// How `start` runs the ClawRouter proxy.
#[derive(Debug, Clone)]
pub struct ProxySettings {
    /// Port the proxy is launched on (default 8404).
    pub port: u16,
    /// The user's own launch command (`CLAWROUTER_CMD` or `proxy.command`), which overrides
    /// the pinned version; `None` runs `npx -y @blockrun/clawrouter@<version>`.
    pub command: Option<String>,
    /// The pinned ClawRouter version (`proxy.version`, env `CLAWROUTER_VERSION`).
    pub version: String,
    /// File holding the x402 wallet key handed to the proxy, if any.
    pub wallet_key_file: Option<PathBuf>,
    /// Run the proxy under a fresh HOME so a saved wallet cannot shadow the key.
    pub isolate_home: bool,
}

impl ProxySettings {
    /// The launch command, split like a shell would at launch (`--port PORT` is appended):
    /// the user's own command, else npx running the pinned version.
    pub fn launch_command(&self) -> String {
        match &self.command {
            Some(command) => command.clone(),
            None => pinned_command(&self.version),
        }
    }
}

/// `npx -y @blockrun/clawrouter@<version>`: how `start` runs a pinned ClawRouter.
pub fn pinned_command(version: &str) -> String {
    format!("npx -y {PROXY_PACKAGE}@{version}")
}

/// Checks a ClawRouter version: an exact semver version (`0.12.246`, `1.0.0-beta.2`), nothing a
/// shell or npm would read as more (no tags like `latest`, no ranges, no spaces or quotes).
pub fn check_proxy_version(version: &str) -> Result<(), String> {
    let hint = "use an exact version such as 0.12.246 (`clawrouter-codex proxy upgrade` pins the newest); for a command of your own set CLAWROUTER_CMD";
    let (core, rest) = match version.find(['-', '+']) {
        Some(at) => version.split_at(at),
        None => (version, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let core_ok = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()));
    let rest_ok = rest.len() <= 64
        && rest
            .bytes()
            .skip(1)
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && rest.len() != 1;
    if core_ok && rest_ok {
        Ok(())
    } else {
        Err(format!(
            "{version:?} is not an exact ClawRouter version; {hint}"
        ))
    }
}

/// Where the ClawRouter proxy is: the one answer `wallet`, `doctor`, `start`, `daemon status`
/// and the dashboard share ([`Config::clawrouter_proxy`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClawRouterProxy {
    /// `http://host:port` (IPv6 hosts in brackets).
    pub origin: String,
    /// The path ClawRouter's root endpoints (`/health`, `/stats`) hang under: the upstream's
    /// base path without its `/v1`; empty for the local proxy.
    pub root: String,
    /// The API base its model list hangs under (`/v1`, or the upstream's base path).
    pub api_base: String,
    /// `true`: it is the bridge's upstream (plain http); `false`: the local proxy on
    /// `proxy.port`, because the upstream is https (not a local ClawRouter).
    pub is_upstream: bool,
    /// Its port when it is on this machine (loopback): where `start` runs or adopts it.
    pub loopback_port: Option<u16>,
}

impl ClawRouterProxy {
    /// The URL of a root endpoint (`/health?full=true` → `http://127.0.0.1:8404/health?full=true`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}{path}", self.origin, self.root)
    }

    /// The URL of an API endpoint (`/models` → `http://127.0.0.1:8404/v1/models`).
    pub fn api_url(&self, path: &str) -> String {
        format!("{}{}{path}", self.origin, self.api_base)
    }
}

impl Config {
    /// Where the ClawRouter proxy is: where the bridge forwards when that is plain http
    /// (`CLAWROUTER_PROXY_URL`, `upstream.url`, or by default `127.0.0.1:<proxy.port>`), else
    /// the local proxy on `127.0.0.1:<proxy.port>`. Every command and page that talks to the
    /// proxy asks this, so they all find the same one.
    pub fn clawrouter_proxy(&self) -> ClawRouterProxy {
        let up = &self.upstream;
        if up.tls {
            return ClawRouterProxy {
                origin: format!("http://127.0.0.1:{}", self.proxy.port),
                root: String::new(),
                api_base: "/v1".to_owned(),
                is_upstream: false,
                loopback_port: Some(self.proxy.port),
            };
        }
        let host = if up.host.contains(':') {
            format!("[{}]", up.host)
        } else {
            up.host.clone()
        };
        ClawRouterProxy {
            origin: format!("http://{host}:{}", up.port),
            root: up
                .base_path
                .strip_suffix("/v1")
                .unwrap_or(&up.base_path)
                .to_owned(),
            api_base: up.base_path.clone(),
            is_upstream: true,
            loopback_port: up.addr.ip().is_loopback().then_some(up.port),
        }
    }
}

/// Where Codex's configuration lives and what the profile selects.
#[derive(Debug, Clone)]
pub struct CodexSettings {
    /// Codex's config folder (`CODEX_HOME`, default `~/.codex`).
    pub home: PathBuf,
    /// Profile name: `setup` writes `<home>/<profile>.config.toml` (default `clawrouter`).
    pub profile: String,
    /// Model the profile selects (default `blockrun/auto`, ClawRouter's router).
    pub default_model: String,
    /// Model `desktop off` restores for plain `codex` (default `gpt-5.5`).
    pub native_model: String,
}

/// Settings given on the command line (highest precedence).
#[derive(Debug, Default, Clone)]
pub struct CliOverrides {
    /// `-v`: log at `debug`.
    pub verbose: bool,
}

/// Environment values that override the file (lowest layer above the file).
#[derive(Debug, Default, Clone)]
pub struct EnvOverrides {
    /// `PORT`: port the bridge listens on.
    pub port: Option<String>,
    /// `CLAWROUTER_PROXY_URL`: the upstream URL.
    pub proxy_url: Option<String>,
    /// `PROXY_PORT`: port `start` launches the proxy on.
    pub proxy_port: Option<String>,
    /// `CLAWROUTER_CMD`: the proxy launch command.
    pub proxy_command: Option<String>,
    /// `CLAWROUTER_VERSION`: the pinned ClawRouter version.
    pub proxy_version: Option<String>,
    /// `WALLET_KEY_FILE`.
    pub wallet_key_file: Option<String>,
    /// `ISOLATE_HOME` (`1`/`true` = on).
    pub isolate_home: Option<String>,
    /// `CODEX_HOME`.
    pub codex_home: Option<String>,
    /// `WEB_SEARCH` (`1`/`true` = on for every request).
    pub web_search: Option<String>,
    /// `HOME`, for `~` defaults.
    pub home: Option<String>,
    /// Direct mode's variables (`UPSTREAM_KIND`, `BLOCKRUN_API_URL`, the caps, the chain, RPCs).
    pub direct: direct::DirectEnv,
}

impl EnvOverrides {
    /// Reads the overrides from the process environment (blank values count as unset).
    pub fn from_process() -> Self {
        let get = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        EnvOverrides {
            port: get("PORT"),
            proxy_url: get("CLAWROUTER_PROXY_URL"),
            proxy_port: get("PROXY_PORT"),
            proxy_command: get("CLAWROUTER_CMD"),
            proxy_version: get("CLAWROUTER_VERSION"),
            wallet_key_file: get("WALLET_KEY_FILE"),
            isolate_home: get("ISOLATE_HOME"),
            codex_home: get("CODEX_HOME"),
            web_search: get("WEB_SEARCH"),
            home: get("HOME"),
            direct: direct::DirectEnv::read(&get),
        }
    }
}

/// Finds the config file: `-c FILE`, else `./conf/bridge.yaml`, else
/// `~/.clawrouter-codex/bridge.yaml`, else none (defaults only).
pub fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    let local = PathBuf::from("conf/bridge.yaml");
    if local.is_file() {
        return Some(local);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from)?;
    let user = home.join(".clawrouter-codex").join("bridge.yaml");
    user.is_file().then_some(user)
}

/// Reads and parses a config file (no validation yet).
pub fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_file(&text, path)
}

/// Parses YAML text; `path` only names the file in errors. An empty file means "all defaults".
pub fn parse_file(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
    if text.trim().is_empty() {
        return Ok(FileConfig::default());
    }
    serde_yaml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_path_buf(),
        message: format!("{e} (see conf/bridge.yaml in the project for every valid key)"),
    })
}

/// Loads the configuration: file (located as in [`locate`]) + environment + flags, validated.
pub fn load(explicit: Option<&Path>, cli: &CliOverrides) -> Result<Config, ConfigError> {
    let path = locate(explicit);
    let file = match &path {
        Some(p) => read_file(p)?,
        None => FileConfig::default(),
    };
    resolve(file, path, &EnvOverrides::from_process(), cli)
}

/// Merges the layers and validates them into a [`Config`].
pub fn resolve(
    file: FileConfig,
    source: Option<PathBuf>,
    env: &EnvOverrides,
    cli: &CliOverrides,
) -> Result<Config, ConfigError> {
    let file_origin = source
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "built-in defaults".to_owned());
    let origin = |from_env: bool, var: &str| {
        if from_env {
            format!("environment variable {var}")
        } else {
            file_origin.clone()
        }
    };

    let mut listen =
        parse_listen(file.listen.as_deref().unwrap_or(DEFAULT_LISTEN)).map_err(|message| {
            ConfigError::Invalid {
                key: "listen",
                origin: file_origin.clone(),
                message,
            }
        })?;
    if let Some(port) = &env.port {
        listen.set_port(
            port.trim()
                .parse::<u16>()
                .map_err(|_| ConfigError::Invalid {
                    key: "listen",
                    origin: origin(true, "PORT"),
                    message: format!("PORT={port:?} is not a port number (1-65535)"),
                })?,
        );
    }
    let auth_token = file.auth_token.filter(|t| !t.is_empty());
    if !listen.ip().is_loopback() && auth_token.is_none() {
        return Err(ConfigError::Invalid {
            key: "listen",
            origin: file_origin,
            message: format!(
                "{listen} is reachable from other machines; set auth_token in the config file \
                 (clients must then send it as a bearer token) or listen on 127.0.0.1"
            ),
        });
    }

    let up = file.upstream.unwrap_or_default();
    if let Some(secs) = up.pool_idle_secs.filter(|secs| *secs > 300) {
        return Err(ConfigError::Invalid {
            key: "upstream.pool_idle_secs",
            origin: file_origin,
            message: format!(
                "{secs} is out of range; use 0 to 300, below the upstream's own keep-alive \
                 time-out (Node servers such as ClawRouter: 5 s)"
            ),
        });
    }
    // Without an explicit upstream, the bridge forwards to the proxy `start` launches.
    let proxy_port_setting = file.proxy.as_ref().and_then(|p| p.port);
    let default_upstream = match (&env.proxy_port, proxy_port_setting) {
        (None, None) => DEFAULT_UPSTREAM_URL.to_owned(),
        (Some(port), _) => format!("http://127.0.0.1:{}/v1", port.trim()),
        (None, Some(port)) => format!("http://127.0.0.1:{port}/v1"),
    };
    let kind = direct::kind(up.kind.as_deref(), &env.direct, &file_origin)?;
    let state_dir = env
        .home
        .as_ref()
        .map(|home| PathBuf::from(home).join(".clawrouter-codex"));
    let direct = match kind {
        UpstreamKind::ChatCompletions => None,
        UpstreamKind::Direct => Some(direct::resolve(
            file.direct.unwrap_or_default(),
            &env.direct,
            env.home.as_deref().map(Path::new),
            state_dir.as_deref(),
            &file_origin,
            &|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()),
        )?),
    };
    let (url, url_from_env) = match (&direct, &env.proxy_url) {
        // Direct mode: BlockRun's API base, `/v1/…` appended.
        (Some(direct), _) => (
            format!("{}/v1", direct.api_url),
            env.direct.api_url.is_some(),
        ),
        (None, Some(u)) => (u.trim().to_owned(), true),
        (None, None) => (up.url.clone().unwrap_or(default_upstream), false),
    };
    let url_origin = match &direct {
        Some(_) => origin(url_from_env, "BLOCKRUN_API_URL"),
        None => origin(url_from_env, "CLAWROUTER_PROXY_URL"),
    };
    if direct.is_some() && (up.url.is_some() || file.upstreams.is_some()) {
        return Err(ConfigError::Invalid {
            key: "upstream.url",
            origin: file_origin,
            message: "upstream.kind is direct: the upstream is BlockRun's API (direct.api_url, \
                      env BLOCKRUN_API_URL); remove upstream.url and upstreams"
                .to_owned(),
        });
    }
    let api_key = match (&direct, &up.api_key_env) {
        (Some(settings), _) => match &settings.auth {
            direct::DirectAuth::ApiKey(key) => Some(key.clone()),
            direct::DirectAuth::Wallet => None,
        },
        (None, None) => None,
        (None, Some(var)) => Some(std::env::var(var).map_err(|_| ConfigError::Invalid {
            key: "upstream.api_key_env",
            origin: file_origin.clone(),
            message: format!(
                "environment variable {var} is not set; export it or remove upstream.api_key_env"
            ),
        })?),
    };
    let upstream = parse_upstream(&url, api_key, &up).map_err(|message| ConfigError::Invalid {
        key: "upstream.url",
        origin: url_origin,
        message,
    })?;
    let upstreams = match (file.upstreams, url_from_env) {
        // The environment's URL outranks the file's list, like any file setting.
        (Some(_), true) | (None, _) => vec![upstream],
        (Some(list), false) => {
            if up.url.is_some() {
                return Err(ConfigError::Invalid {
                    key: "upstreams",
                    origin: file_origin,
                    message: "set either upstream.url (one upstream) or upstreams (several), \
                              not both"
                        .to_owned(),
                });
            }
            team_upstreams(list, &up, &file_origin)?
        }
    };
    let upstream = upstreams[0].clone();
    let health_check_secs = up.health_check_secs.unwrap_or(5);
    if !(1..=300).contains(&health_check_secs) {
        return Err(ConfigError::Invalid {
            key: "upstream.health_check_secs",
            origin: file_origin,
            message: format!("{health_check_secs} is out of range; use 1 to 300"),
        });
    }

    let system_role = match up.system_role.as_deref().unwrap_or("system") {
        "system" => SystemRole::System,
        "merge" => SystemRole::MergeLeading,
        other => {
            return Err(ConfigError::Invalid {
                key: "upstream.system_role",
                origin: file_origin,
                message: format!("{other:?} is not one of \"system\", \"merge\""),
            })
        }
    };

    // BlockRun streams (ClawRouter does not) and does not rewrite whitespace.
    let (stream_default, whitespace_default) = match &direct {
        Some(_) => (Some("always"), Some("never")),
        None => (None, None),
    };
    let stream_mode = AutoSwitch::parse(
        up.stream.as_deref().or(stream_default),
        "upstream.stream",
        &file_origin,
    )?;
    let preserve_whitespace = AutoSwitch::parse(
        up.preserve_whitespace.as_deref().or(whitespace_default),
        "upstream.preserve_whitespace",
        &file_origin,
    )?;
    let keepalive_secs = file.keepalive_secs.unwrap_or(DEFAULT_KEEPALIVE_SECS);
    if !(1..=240).contains(&keepalive_secs) {
        return Err(ConfigError::Invalid {
            key: "keepalive_secs",
            origin: file_origin,
            message: format!("{keepalive_secs} is out of range; use 1 to 240 (Codex gives up after 300 s of silence)"),
        });
    }

    let home_dir = env
        .home
        .as_ref()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"));
    let file_proxy = file.proxy.unwrap_or_default();
    let proxy_port = match &env.proxy_port {
        Some(port) => port
            .trim()
            .parse::<u16>()
            .map_err(|_| ConfigError::Invalid {
                key: "proxy.port",
                origin: origin(true, "PROXY_PORT"),
                message: format!("PROXY_PORT={port:?} is not a port number (1-65535)"),
            })?,
        None => file_proxy.port.unwrap_or(DEFAULT_PROXY_PORT),
    };
    let (proxy_version, version_origin) = match (&env.proxy_version, file_proxy.version) {
        (Some(v), _) => (v.trim().to_owned(), origin(true, "CLAWROUTER_VERSION")),
        (None, Some(v)) => (v.trim().to_owned(), file_origin.clone()),
        (None, None) => (DEFAULT_PROXY_VERSION.to_owned(), file_origin.clone()),
    };
    check_proxy_version(&proxy_version).map_err(|message| ConfigError::Invalid {
        key: "proxy.version",
        origin: version_origin,
        message,
    })?;
    let proxy = ProxySettings {
        port: proxy_port,
        command: env.proxy_command.clone().or(file_proxy.command),
        version: proxy_version,
        wallet_key_file: env
            .wallet_key_file
            .as_ref()
            .map(PathBuf::from)
            .or(file_proxy.wallet_key_file)
            .map(|p| expand_home(&p, &home_dir)),
        isolate_home: match &env.isolate_home {
            Some(v) => matches!(v.trim(), "1" | "true" | "yes" | "on"),
            None => file_proxy.isolate_home.unwrap_or(false),
        },
    };
    let file_codex = file.codex.unwrap_or_default();
    let codex = CodexSettings {
        home: env
            .codex_home
            .as_ref()
            .map(PathBuf::from)
            .or(file_codex.home)
            .map(|p| expand_home(&p, &home_dir))
            .unwrap_or_else(|| home_dir.join(".codex")),
        profile: file_codex
            .profile
            .unwrap_or_else(|| "clawrouter".to_owned()),
        default_model: file_codex
            .default_model
            .unwrap_or_else(|| "blockrun/auto".to_owned()),
        native_model: file_codex
            .native_model
            .unwrap_or_else(|| "gpt-5.5".to_owned()),
    };

    let file_search = file.web_search.unwrap_or_default();
    let defaults = WebSearchSettings::default();
    let in_range = |value: Option<u32>, default: u32, key: &'static str| match value {
        None => Ok(default),
        Some(n) if (1..=10).contains(&n) => Ok(n),
        Some(n) => Err(ConfigError::Invalid {
            key,
            origin: file_origin.clone(),
            message: format!("{n} is out of range; use 1 to 10"),
        }),
    };
    let timeout_secs = file_search
        .timeout_secs
        .unwrap_or(defaults.timeout.as_secs());
    if !(1..=300).contains(&timeout_secs) {
        return Err(ConfigError::Invalid {
            key: "web_search.timeout_secs",
            origin: file_origin,
            message: format!("{timeout_secs} is out of range; use 1 to 300"),
        });
    }
    let web_search = WebSearchSettings {
        enabled: match &env.web_search {
            Some(v) => matches!(v.trim(), "1" | "true" | "yes" | "on"),
            None => file_search.enabled.unwrap_or(false),
        },
        max_rounds: in_range(
            file_search.max_rounds,
            defaults.max_rounds,
            "web_search.max_rounds",
        )?,
        max_results: in_range(
            file_search.max_results,
            defaults.max_results,
            "web_search.max_results",
        )?,
        timeout: Duration::from_secs(timeout_secs),
    };

    let dashboard = match file.dashboard.and_then(|d| d.enabled) {
        Some(enabled) => enabled,
        None => listen.ip().is_loopback(),
    };

    let limits = file.limits.unwrap_or_default();
    let max_body_bytes = limits.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
    if max_body_bytes < 1024 {
        return Err(ConfigError::Invalid {
            key: "limits.max_body_bytes",
            origin: file_origin,
            message: format!("{max_body_bytes} is too small; use at least 1024"),
        });
    }
    let server = file.server.unwrap_or_default();
    let threads = server.threads.unwrap_or(2);
    if threads == 0 || threads > 256 {
        return Err(ConfigError::Invalid {
            key: "server.threads",
            origin: file_origin,
            message: format!("{threads} is out of range; use 1 to 256"),
        });
    }
    let shutdown_grace = Duration::from_secs(server.shutdown_grace_secs.unwrap_or(1));
    if shutdown_grace > Duration::from_secs(60) {
        return Err(ConfigError::Invalid {
            key: "server.shutdown_grace_secs",
            origin: file_origin,
            message: "at most 60 seconds".to_owned(),
        });
    }
    let connections = connection_limits(&server, &file_origin)?;
    let websocket = crate::ws_session::settings::WebSocketSettings::from_file(
        file.websocket,
        max_body_bytes,
        &file_origin,
    )?;
    let log_level = match (cli.verbose, file.log.and_then(|l| l.level)) {
        (true, _) => "debug".to_owned(),
        (false, Some(level)) => {
            let valid = ["error", "warn", "info", "debug", "trace", "off"];
            if !valid.contains(&level.as_str()) {
                return Err(ConfigError::Invalid {
                    key: "log.level",
                    origin: file_origin,
                    message: format!("{level:?} is not one of {valid:?}"),
                });
            }
            level
        }
        (false, None) => "info".to_owned(),
    };

    Ok(Config {
        listen,
        auth_token,
        upstream,
        upstreams,
        health_check_interval: Duration::from_secs(health_check_secs),
        system_role,
        stream_mode,
        preserve_whitespace,
        keepalive: Duration::from_secs(keepalive_secs),
        web_search,
        dashboard,
        proxy,
        codex,
        state_dir,
        direct,
        reasoning_key_file: file.reasoning_key_file.map(|path| match &env.home {
            Some(home) => expand_home(&path, Path::new(home)),
            None => path,
        }),
        max_body_bytes,
        threads,
        shutdown_grace,
        connections,
        log_level,
        websocket,
        source,
    })
}

/// Most upstreams in a team.
const MAX_TEAM_UPSTREAMS: usize = 32;

/// The `upstreams:` list, each entry checked (URL, key, weight) and every address distinct.
fn team_upstreams(
    list: Vec<FileTeamUpstream>,
    shared: &FileUpstream,
    origin: &str,
) -> Result<Vec<Upstream>, ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        key: "upstreams",
        origin: origin.to_owned(),
        message,
    };
    if list.is_empty() || list.len() > MAX_TEAM_UPSTREAMS {
        return Err(invalid(format!(
            "{} entries; list 1 to {MAX_TEAM_UPSTREAMS} upstreams",
            list.len()
        )));
    }
    let mut upstreams: Vec<Upstream> = Vec::with_capacity(list.len());
    for (i, entry) in list.into_iter().enumerate() {
        let api_key = match &entry.api_key_env {
            Some(var) => Some(std::env::var(var).map_err(|_| {
                invalid(format!(
                    "upstreams[{i}].api_key_env: environment variable {var} is not set"
                ))
            })?),
            None => None,
        };
        let mut upstream = parse_upstream(entry.url.trim(), api_key, shared)
            .map_err(|message| invalid(format!("upstreams[{i}].url: {message}")))?;
        upstream.weight = match entry.weight {
            None => 1,
            Some(weight) if (1..=100).contains(&weight) => weight,
            Some(weight) => {
                return Err(invalid(format!(
                    "upstreams[{i}].weight: {weight} is out of range; use 1 to 100"
                )))
            }
        };
        if let Some(twin) = upstreams.iter().position(|u| u.addr == upstream.addr) {
            return Err(invalid(format!(
                "upstreams[{i}] ({}) has the same address as upstreams[{twin}] ({}); each \
                 upstream needs its own host and port",
                upstream.url, upstreams[twin].url
            )));
        }
        upstreams.push(upstream);
    }
    Ok(upstreams)
}

/// `server.max_connections` and the client time-outs, each checked against its range.
fn connection_limits(server: &FileServer, origin: &str) -> Result<ConnectionLimits, ConfigError> {
    let defaults = ConnectionLimits::default();
    let out_of_range = |key: &'static str, value: u64, range: &str| ConfigError::Invalid {
        key,
        origin: origin.to_owned(),
        message: format!("{value} is out of range; use {range}"),
    };
    let max_connections = server.max_connections.unwrap_or(defaults.max_connections);
    if !(1..=100_000).contains(&max_connections) {
        return Err(out_of_range(
            "server.max_connections",
            max_connections as u64,
            "1 to 100000",
        ));
    }
    let seconds = |value: Option<u64>, default: Duration, key: &'static str| match value {
        None => Ok(default),
        Some(secs) if (1..=3600).contains(&secs) => Ok(Duration::from_secs(secs)),
        Some(secs) => Err(out_of_range(key, secs, "1 to 3600 seconds")),
    };
    Ok(ConnectionLimits {
        max_connections,
        header_timeout: seconds(
            server.header_timeout_secs,
            defaults.header_timeout,
            "server.header_timeout_secs",
        )?,
        idle_timeout: seconds(
            server.idle_timeout_secs,
            defaults.idle_timeout,
            "server.idle_timeout_secs",
        )?,
        body_timeout: seconds(
            server.body_timeout_secs,
            defaults.body_timeout,
            "server.body_timeout_secs",
        )?,
    })
}

/// `~/x` → `<home>/x`; other paths unchanged.
fn expand_home(path: &Path, home: &Path) -> PathBuf {
    match path.strip_prefix("~") {
        Ok(rest) => home.join(rest),
        Err(_) => path.to_path_buf(),
    }
}

fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    // `localhost:8403` and the like.
    text.to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.find(|a| a.is_ipv4()))
        .ok_or_else(|| format!("{text:?} is not an address like 127.0.0.1:8403"))
}

fn parse_upstream(
    url: &str,
    api_key: Option<String>,
    file: &FileUpstream,
) -> Result<Upstream, String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("{url:?} is not a URL ({e}); use e.g. {DEFAULT_UPSTREAM_URL}"))?;
    let tls = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(format!("{url:?} must start with http:// or https://")),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| format!("{url:?} has no host"))?;
    if authority.as_str().contains('@') {
        return Err(format!(
            "{url:?} carries credentials; put the key in an environment variable and name it in upstream.api_key_env"
        ));
    }
    if uri.query().is_some() {
        return Err(format!("{url:?} must not have a query string"));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let addrs: Vec<SocketAddr> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve host {host:?}: {e}"))?
        .collect();
    // IPv4 first: `localhost` often lists ::1 first while local servers listen on 127.0.0.1.
    let addr = addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| format!("host {host:?} resolved to no address"))?;
    let base_path = uri.path().trim_end_matches('/').to_owned();
    Ok(Upstream {
        url: url.to_owned(),
        tls,
        host,
        port,
        addr,
        base_path,
        api_key,
        connect_timeout: Duration::from_secs(file.connect_timeout_secs.unwrap_or(10)),
        read_timeout: Duration::from_secs(file.read_timeout_secs.unwrap_or(600)),
        pool_idle: Duration::from_secs(file.pool_idle_secs.unwrap_or(DEFAULT_POOL_IDLE_SECS)),
        weight: 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_text(yaml: &str, env: EnvOverrides) -> Result<Config, ConfigError> {
        let path = PathBuf::from("test.yaml");
        let file = parse_file(yaml, &path)?;
        resolve(file, Some(path), &env, &CliOverrides::default())
    }

    #[test]
    fn defaults_listen_on_loopback_and_forward_to_clawrouter() {
        let cfg = resolve_text("", EnvOverrides::default()).expect("defaults");
        assert_eq!(cfg.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(cfg.upstream.addr.to_string(), "127.0.0.1:8404");
        assert_eq!(cfg.upstream.chat_path(), "/v1/chat/completions");
        assert_eq!(cfg.upstream.path_for("/v1/models?x=1"), "/v1/models?x=1");
        assert!(!cfg.upstream.tls);
        assert!(cfg.upstream.read_timeout >= Duration::from_secs(300));
    }

    #[test]
    fn the_clawrouter_proxy_is_the_plain_http_upstream_else_the_local_proxy_port() {
        let proxy = |url: &str, proxy_port: &str| {
            let env = EnvOverrides {
                proxy_url: (!url.is_empty()).then(|| url.to_owned()),
                proxy_port: Some(proxy_port.to_owned()),
                ..EnvOverrides::default()
            };
            resolve_text("", env).expect("valid").clawrouter_proxy()
        };
        // CLAWROUTER_PROXY_URL on another port: that one, not PROXY_PORT.
        let p = proxy("http://127.0.0.1:9999/v1", "8404");
        assert_eq!(
            p.url("/health?full=true"),
            "http://127.0.0.1:9999/health?full=true"
        );
        assert_eq!(p.api_url("/models"), "http://127.0.0.1:9999/v1/models");
        assert_eq!((p.is_upstream, p.loopback_port), (true, Some(9999)));
        // No URL: the default follows PROXY_PORT.
        let p = proxy("", "8500");
        assert_eq!(p.url("/health"), "http://127.0.0.1:8500/health");
        assert_eq!(p.loopback_port, Some(8500));
        // A base path: ClawRouter's /health is at its root.
        let p = proxy("http://[::1]:8600/claw/v1", "8404");
        assert_eq!(p.url("/health"), "http://[::1]:8600/claw/health");
        assert_eq!(p.api_url("/models"), "http://[::1]:8600/claw/v1/models");
        // https is not a local ClawRouter: the proxy `start` runs on PROXY_PORT.
        let p = proxy("https://127.0.0.1:9443/v1", "8700");
        assert_eq!(p.url("/health"), "http://127.0.0.1:8700/health");
        assert_eq!((p.is_upstream, p.loopback_port), (false, Some(8700)));
    }

    #[test]
    fn env_overrides_file() {
        let env = EnvOverrides {
            port: Some("9000".into()),
            proxy_url: Some("https://127.0.0.1:9443/api/v1/".into()),
            ..EnvOverrides::default()
        };
        let cfg = resolve_text(
            "listen: 127.0.0.1:7000\nupstream:\n  url: http://127.0.0.1:1/v1\n",
            env,
        )
        .expect("valid");
        assert_eq!(cfg.listen.port(), 9000);
        assert!(cfg.upstream.tls);
        assert_eq!(cfg.upstream.chat_path(), "/api/v1/chat/completions");
        assert_eq!(cfg.upstream.host_header(), "127.0.0.1:9443");
    }

    #[test]
    fn unknown_key_names_the_key_and_file() {
        let err = resolve_text("upstream:\n  urll: x\n", EnvOverrides::default()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("test.yaml"), "{text}");
        assert!(text.contains("urll"), "{text}");
    }

    #[test]
    fn bad_values_are_clear_errors() {
        let cases = [
            ("listen: nowhere\n", "listen"),
            ("upstream:\n  url: ftp://x/v1\n", "http://"),
            (
                "upstream:\n  url: http://user:pw@127.0.0.1/v1\n",
                "credentials",
            ),
            ("upstream:\n  system_role: first\n", "system_role"),
            ("limits:\n  max_body_bytes: 10\n", "max_body_bytes"),
            ("log:\n  level: loud\n", "log.level"),
            ("listen: 0.0.0.0:8403\n", "auth_token"),
        ];
        for (yaml, needle) in cases {
            let err = resolve_text(yaml, EnvOverrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{yaml:?} gave {err}");
        }
    }

    #[test]
    fn bad_port_env_is_an_error() {
        let env = EnvOverrides {
            port: Some("eighty".into()),
            ..EnvOverrides::default()
        };
        let err = resolve_text("", env).unwrap_err().to_string();
        assert!(err.contains("PORT"), "{err}");
    }

    #[test]
    fn proxy_and_codex_settings_layer_env_over_file() {
        let env = EnvOverrides {
            proxy_port: Some("9404".into()),
            codex_home: Some("/tmp/ch".into()),
            home: Some("/home/u".into()),
            isolate_home: Some("1".into()),
            ..EnvOverrides::default()
        };
        let cfg = resolve_text(
            "proxy:\n  port: 1234\n  command: clawrouter --x\n  wallet_key_file: ~/key\ncodex:\n  native_model: gpt-x\n",
            env,
        )
        .expect("valid");
        assert_eq!(cfg.proxy.port, 9404);
        assert_eq!(cfg.proxy.command.as_deref(), Some("clawrouter --x"));
        assert_eq!(cfg.proxy.launch_command(), "clawrouter --x");
        assert_eq!(
            cfg.proxy.wallet_key_file,
            Some(PathBuf::from("/home/u/key"))
        );
        assert!(cfg.proxy.isolate_home);
        assert_eq!(cfg.codex.home, PathBuf::from("/tmp/ch"));
        assert_eq!(cfg.codex.profile, "clawrouter");
        assert_eq!(cfg.codex.native_model, "gpt-x");
        let defaults = resolve_text(
            "",
            EnvOverrides {
                home: Some("/home/u".into()),
                ..EnvOverrides::default()
            },
        )
        .unwrap();
        assert_eq!(defaults.codex.home, PathBuf::from("/home/u/.codex"));
        assert_eq!(defaults.proxy.port, DEFAULT_PROXY_PORT);
        assert_eq!(defaults.stream_mode, AutoSwitch::Auto);
        assert_eq!(
            defaults.keepalive,
            Duration::from_secs(DEFAULT_KEEPALIVE_SECS)
        );
    }

    #[test]
    fn default_upstream_follows_the_proxy_port() {
        let env = EnvOverrides {
            proxy_port: Some("9404".into()),
            ..EnvOverrides::default()
        };
        let cfg = resolve_text("", env).expect("valid");
        assert_eq!(cfg.upstream.url, "http://127.0.0.1:9404/v1");
        let cfg = resolve_text("proxy:\n  port: 9405\n", EnvOverrides::default()).expect("valid");
        assert_eq!(cfg.upstream.addr.port(), 9405);
        let cfg = resolve_text(
            "proxy:\n  port: 9405\nupstream:\n  url: http://127.0.0.1:1/v1\n",
            EnvOverrides::default(),
        )
        .expect("valid");
        assert_eq!(cfg.upstream.addr.port(), 1, "an explicit upstream wins");
    }

    #[test]
    fn the_shipped_config_file_is_valid_and_matches_the_defaults() {
        let shipped = include_str!("../conf/bridge.yaml");
        let cfg =
            resolve_text(shipped, EnvOverrides::default()).expect("conf/bridge.yaml is valid");
        let defaults = resolve_text("", EnvOverrides::default()).expect("defaults");
        assert_eq!(cfg.listen, defaults.listen);
        assert_eq!(cfg.upstream.url, defaults.upstream.url);
        assert_eq!(cfg.max_body_bytes, defaults.max_body_bytes);
        assert_eq!(cfg.keepalive, defaults.keepalive);
        assert_eq!(cfg.proxy.command, defaults.proxy.command);
        assert_eq!(cfg.proxy.version, defaults.proxy.version);
        assert_eq!(cfg.codex.native_model, defaults.codex.native_model);
    }

    #[test]
    fn the_proxy_runs_the_pinned_version_unless_a_command_is_given() {
        let cfg = resolve_text("", EnvOverrides::default()).expect("defaults");
        assert_eq!(cfg.proxy.version, DEFAULT_PROXY_VERSION);
        assert_eq!(
            cfg.proxy.launch_command(),
            "npx -y @blockrun/clawrouter@0.12.246"
        );
        let cfg =
            resolve_text("proxy:\n  version: 0.12.250\n", EnvOverrides::default()).expect("valid");
        assert_eq!(
            cfg.proxy.launch_command(),
            "npx -y @blockrun/clawrouter@0.12.250"
        );
        let env = EnvOverrides {
            proxy_version: Some(" 0.13.0-beta.1 ".into()),
            ..EnvOverrides::default()
        };
        let cfg = resolve_text("proxy:\n  version: 0.12.250\n", env).expect("valid");
        assert_eq!(cfg.proxy.version, "0.13.0-beta.1");
        // A command of the user's own (even with @latest) wins over the pin.
        let env = EnvOverrides {
            proxy_command: Some("npx -y @blockrun/clawrouter@latest".into()),
            ..EnvOverrides::default()
        };
        let cfg = resolve_text("proxy:\n  version: 0.12.250\n", env).expect("valid");
        assert_eq!(
            cfg.proxy.launch_command(),
            "npx -y @blockrun/clawrouter@latest"
        );
    }

    #[test]
    fn a_proxy_version_that_is_not_exact_is_a_config_error() {
        for bad in [
            "latest",
            "^0.12.0",
            "0.12",
            "0.12.246; rm -rf ~",
            "v0.12.246",
            "0.12.x",
            "0.12.246-",
            "1.2.3 4",
            "$(id)",
        ] {
            let env = EnvOverrides {
                proxy_version: Some(bad.into()),
                ..EnvOverrides::default()
            };
            let err = resolve_text("", env).unwrap_err().to_string();
            assert!(err.contains("proxy.version"), "{bad}: {err}");
            assert!(err.contains("CLAWROUTER_VERSION"), "{bad}: {err}");
            assert!(err.contains("such as 0.12.246"), "{bad}: {err}");
        }
        let err = resolve_text("proxy:\n  version: latest\n", EnvOverrides::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("proxy.version") && err.contains("\"latest\""),
            "{err}"
        );
        for good in ["0.12.246", "1.0.0-beta.2", "10.20.30+build.5"] {
            assert!(check_proxy_version(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn an_upstream_for_a_url_takes_the_given_timeout() {
        let up = Upstream::for_url("https://127.0.0.1:9443/api/v1/", Duration::from_millis(700))
            .expect("valid");
        assert!(up.tls);
        assert_eq!(up.addr.to_string(), "127.0.0.1:9443");
        assert_eq!(up.base_path, "/api/v1");
        assert_eq!(up.api_key, None);
        assert_eq!(up.connect_timeout, Duration::from_millis(700));
        assert_eq!(up.read_timeout, Duration::from_millis(700));
        let up = Upstream::for_url("http://127.0.0.1", Duration::from_secs(1)).expect("valid");
        assert_eq!((up.tls, up.port, up.base_path.as_str()), (false, 80, ""));
        for bad in ["ftp://127.0.0.1/", "127.0.0.1:80", "http://127.0.0.1/x?y=1"] {
            assert!(
                Upstream::for_url(bad, Duration::from_secs(1)).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn non_loopback_listen_is_allowed_with_a_token() {
        let cfg = resolve_text(
            "listen: 0.0.0.0:8403\nauth_token: s3cret\n",
            EnvOverrides::default(),
        )
        .expect("valid");
        assert_eq!(cfg.auth_token.as_deref(), Some("s3cret"));
    }
}
