//! The YAML config loader (`config::parse_file` + `config::resolve`): the text of a
//! `bridge.yaml` and environment overrides in, a validated `Config` or an error out.
//!
//! Input: [`super::Input`]; flag bit 7 set → the YAML text is assembled from valid and
//! invalid lines ([`generate`]) chosen by the rest, else the rest is the text (lossy UTF-8).
//! Flag bits 0–6 set the
//! environment overrides `PORT`, `CLAWROUTER_PROXY_URL`, `PROXY_PORT`, `CLAWROUTER_CMD`,
//! `WEB_SEARCH`, `CODEX_HOME` + `WALLET_KEY_FILE`, `HOME`; the seed bytes pick each one's value
//! from a list of valid and invalid ones.
//!
//! **No DNS.** `resolve` resolves host names (the listen address and the upstream URL), and
//! a resolver query would leave this machine: before resolving, [`no_dns`] keeps only listen
//! addresses and URLs that never reach a resolver (IP literals, or values refused before
//! any lookup) and drops the others (the defaults apply then).
//!
//! Properties: never panics; an error has a message; a loaded config keeps every documented
//! bound (keep-alive 1–240 s, threads 1–256, body limit ≥ 1024, grace ≤ 60 s, web-search
//! rounds and results 1–10, time-out 1–300 s, a known log level, an auth token beyond
//! loopback, an upstream URL without credentials or query whose address has its port);
//! loading the same text twice gives the same config.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clawrouter_codex::config::{
    parse_file, resolve, CliOverrides, Config, ConfigError, EnvOverrides, FileConfig,
};

use super::Input;

/// Checks one fuzz input (see the module documentation).
pub fn check(data: &[u8]) {
    let input = Input::parse(data);
    let text = if input.flag(7) {
        generate(input.rest)
    } else {
        String::from_utf8_lossy(input.rest).into_owned()
    };
    check_text(&text, input.flags, input.seed);
}

/// Loads `text` with the environment `flags` and `seed` select, and checks the result.
pub fn check_text(text: &str, flags: u8, seed: u64) {
    let first = load(text, flags, seed);
    match &first {
        Ok(config) => check_config(config),
        Err(err) => assert!(!err.to_string().is_empty(), "an error without a message"),
    }
    let again = load(text, flags, seed);
    assert_eq!(
        format!("{first:?}"),
        format!("{again:?}"),
        "the same text loads differently"
    );
}

fn load(text: &str, flags: u8, seed: u64) -> Result<Config, ConfigError> {
    let path = Path::new("fuzz.yaml");
    let mut file = parse_file(text, path)?;
    let mut env = env(flags, seed);
    no_dns(&mut file, &mut env);
    resolve(
        file,
        Some(PathBuf::from(path)),
        &env,
        &CliOverrides::default(),
    )
}

/// The environment overrides `flags` and `seed` select.
fn env(flags: u8, seed: u64) -> EnvOverrides {
    let bytes = seed.to_le_bytes();
    let pick = |bit: u8, options: &[&str]| -> Option<String> {
        (flags & (1 << bit) != 0)
            .then(|| options[bytes[bit as usize] as usize % options.len()].to_owned())
    };
    EnvOverrides {
        port: pick(0, &["8403", " 9 ", "0", "65536", "x", "-1"]),
        proxy_url: pick(
            1,
            &[
                "http://127.0.0.1:1/v1",
                " https://[::1]:443/api/v1/ ",
                "ftp://127.0.0.1/",
                "http://user:pw@127.0.0.1/",
                "http://127.0.0.1/v1?q=1",
                "http://127.0.0.1:99999/",
                "not a url",
                "http://example.invalid/v1",
            ],
        ),
        proxy_port: pick(2, &["8404", "0", "99999", " 1 ", "1@x", "1/x"]),
        proxy_command: pick(3, &["npx -y x", "", "'unclosed"]),
        proxy_version: pick(4, &["0.12.246", "latest", "1.2.3-rc.1", "1;x"]),
        web_search: pick(4, &["1", "true", "0", "on"]),
        codex_home: pick(5, &["~/c", "/c", ""]),
        wallet_key_file: pick(5, &["~/key", "/key"]),
        isolate_home: pick(5, &["1", "no"]),
        home: pick(6, &["/home/fuzz", "relative"]),
        direct: Default::default(),
    }
}

/// Drops every listen address and upstream URL that `resolve` would send to a resolver.
pub fn no_dns(file: &mut FileConfig, env: &mut EnvOverrides) {
    if file
        .listen
        .as_deref()
        .is_some_and(|l| !listen_needs_no_dns(l))
    {
        file.listen = None;
    }
    if let Some(upstream) = &mut file.upstream {
        if upstream
            .url
            .as_deref()
            .is_some_and(|u| !url_needs_no_dns(u))
        {
            upstream.url = None;
        }
        // Direct mode's upstream is BlockRun's API, by default a host name.
        let api_url = file.direct.as_ref().and_then(|d| d.api_url.as_deref());
        if upstream.kind.is_some() && !api_url.is_some_and(url_needs_no_dns) {
            upstream.kind = None;
        }
    }
    if env
        .proxy_url
        .as_deref()
        .is_some_and(|u| !url_needs_no_dns(u.trim()))
    {
        env.proxy_url = None;
    }
    if env
        .proxy_port
        .as_deref()
        .is_some_and(|p| !url_needs_no_dns(&format!("http://127.0.0.1:{}/v1", p.trim())))
    {
        env.proxy_port = None;
    }
}

/// `parse_listen`: a socket address parses without a lookup; `host:port` is looked up.
fn listen_needs_no_dns(text: &str) -> bool {
    let text = text.trim();
    if text.parse::<SocketAddr>().is_ok() {
        return true;
    }
    match text.rsplit_once(':') {
        None => true,
        Some((host, port)) => port.parse::<u16>().is_err() || host.parse::<IpAddr>().is_ok(),
    }
}

/// `parse_upstream`: the URL is refused before the lookup, or its host is an IP literal.
fn url_needs_no_dns(url: &str) -> bool {
    let Ok(uri) = url.parse::<http::Uri>() else {
        return true;
    };
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.query().is_some() {
        return true;
    }
    let Some(authority) = uri.authority() else {
        return true;
    };
    if authority.as_str().contains('@') {
        return true;
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    host.parse::<IpAddr>().is_ok()
}

fn check_config(config: &Config) {
    assert!(
        (Duration::from_secs(1)..=Duration::from_secs(240)).contains(&config.keepalive),
        "keepalive {:?}",
        config.keepalive
    );
    assert!(
        (1..=256).contains(&config.threads),
        "threads {}",
        config.threads
    );
    assert!(config.max_body_bytes >= 1024, "max_body_bytes");
    assert!(config.shutdown_grace <= Duration::from_secs(60), "grace");
    let search = &config.web_search;
    assert!((1..=10).contains(&search.max_rounds), "max_rounds");
    assert!((1..=10).contains(&search.max_results), "max_results");
    assert!(
        (Duration::from_secs(1)..=Duration::from_secs(300)).contains(&search.timeout),
        "search timeout"
    );
    assert!(
        ["error", "warn", "info", "debug", "trace", "off"].contains(&config.log_level.as_str()),
        "log level {:?}",
        config.log_level
    );
    if !config.listen.ip().is_loopback() {
        assert!(
            config.auth_token.as_deref().is_some_and(|t| !t.is_empty()),
            "{} without an auth token",
            config.listen
        );
    }
    assert!(
        clawrouter_codex::config::check_proxy_version(&config.proxy.version).is_ok(),
        "a loaded pin that is not an exact version: {:?}",
        config.proxy.version
    );
    let upstream = &config.upstream;
    assert!(
        !upstream.url.contains('@'),
        "credentials in {}",
        upstream.url
    );
    assert!(!upstream.url.contains('?'), "query in {}", upstream.url);
    assert_eq!(upstream.addr.port(), upstream.port, "upstream port");
    assert!(
        upstream.chat_path().starts_with('/'),
        "chat path {:?}",
        upstream.chat_path()
    );
}

/// Top-level keys with valid and invalid values, nested sections, and YAML's own features.
const LINES: &[&str] = &[
    "listen: 127.0.0.1:8403",
    "listen: 0.0.0.0:8403",
    "listen: '[::1]:0'",
    "listen: 8403",
    "listen: localhost:8403",
    "auth_token: secret",
    "auth_token: ''",
    "keepalive_secs: 0",
    "keepalive_secs: 240",
    "keepalive_secs: 18446744073709551616",
    "keepalive_secs: -1",
    "keepalive_secs: 1.5",
    "upstream:\n  url: http://127.0.0.1:8404/v1\n  stream: never",
    "upstream:\n  url: https://[::1]/api/v1/\n  system_role: merge\n  preserve_whitespace: always",
    "upstream:\n  url: http://user:pw@127.0.0.1/\n",
    "upstream:\n  url: http://127.0.0.1:8404/v1?x=1",
    "upstream:\n  url: unix:/tmp/sock",
    "upstream:\n  stream: sometimes",
    "upstream:\n  api_key_env: FUZZ_UNSET_KEY_VAR",
    "upstream:\n  api_key_env: 'A=B'",
    "upstream:\n  connect_timeout_secs: 18446744073709551615\n  read_timeout_secs: 0",
    "upstream: null",
    "upstream: []",
    "proxy:\n  port: 70000",
    "proxy:\n  port: 0\n  command: ''\n  isolate_home: yes",
    "proxy:\n  wallet_key_file: ~/k",
    "proxy:\n  version: 0.12.246",
    "proxy:\n  version: '1.0.0-rc.1; x'",
    "codex:\n  home: ~\n  profile: ''",
    "web_search:\n  enabled: true\n  max_rounds: 0",
    "web_search:\n  max_results: 11\n  timeout_secs: 301",
    "web_search:\n  timeout_secs: 18446744073709551615",
    "dashboard:\n  enabled: false",
    "limits:\n  max_body_bytes: 1023",
    "limits:\n  max_body_bytes: 18446744073709551615",
    "server:\n  threads: 0\n  shutdown_grace_secs: 61",
    "server:\n  threads: 256\n  shutdown_grace_secs: 18446744073709551615",
    "log:\n  level: chatty",
    "log:\n  level: trace",
    "unknown_key: 1",
    "base: &b\n  threads: 2\nserver: *b",
    "listen: !!str 127.0.0.1:1",
    "{listen: 127.0.0.1:2, keepalive_secs: 5}",
    "---",
    "...",
    "# a comment",
    "- a list",
    "'",
    "listen: 127.0.0.1:8403\nlisten: 127.0.0.1:8404",
];

/// A YAML text assembled from [`LINES`] (and arbitrary text) chosen by `data`.
pub fn generate(data: &[u8]) -> String {
    let mut g = super::Gen::new(data);
    let n = g.int(8);
    let mut text = String::new();
    for _ in 0..n {
        if g.int(9) == 0 {
            text.push_str(&g.any_string(24));
        } else {
            text.push_str(g.one(LINES));
        }
        text.push('\n');
    }
    text
}
