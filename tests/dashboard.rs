//! The dashboard in Debian's headless Chromium (driven by tests/browser/dashboard.mjs through
//! playwright-core) against the real bridge and the mock ClawRouter, with every request to
//! anything but the bridge cut off: what it shows, that its switches change the Codex files
//! exactly as the CLI does (the CLI's golden files, and a twin home the CLI itself edits), its
//! states (proxy down, empty wallet, balance unavailable, no catalog, invalid TOML), and, over
//! plain HTTP, every refusal of a change that did not come from the page itself.
//!
//! Screenshots land in `target/tmp/dashboard*.png` (light and dark, one per state);
//! `docs/dashboard.png` is a copy of `target/tmp/dashboard.png`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Lines, Write};
use std::net::{IpAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use clawrouter_codex::config::{FileCodex, FileDashboard};
use common::bridge::{free_port, BridgeGuard};
use common::client::{get, post};
use common::codex::{default_catalog_entry, CodexHome, CodexOptions};
use common::mock_upstream::{MockUpstream, Reply, Usage};
use serde_json::{json, Value};

const WALLET: &str = common::mock_upstream::WALLET;
const SOLANA_WALLET: &str = common::mock_upstream::SOLANA_WALLET;
const OPUS: &str = "anthropic/claude-opus-4.7";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/toml");

// ---- the proxy ------------------------------------------------------------------------------

/// A week of ClawRouter use (one log file a day), and one provider that was rate limited.
fn week_of_use() -> Vec<Usage> {
    let mut log = Vec::new();
    for day in 1..=7u32 {
        let date = format!("2026-11-{:02}", 20 + day);
        for i in 0..day * 3 {
            let model = if i % 3 == 0 {
                "anthropic/claude-sonnet-4.6"
            } else {
                "deepseek/deepseek-v4-pro"
            };
            log.push(Usage::routed(&date, model, 0.005));
        }
    }
    log
}

/// The mock ClawRouter with `balance` (`None`: the balance cannot be read).
fn proxy(balance: Option<f64>) -> MockUpstream {
    MockUpstream::builder()
        .balance_usd(balance)
        .usage(week_of_use())
        .provider_error("deepseek/deepseek-v4-pro", "rate_limited", 2)
        .start(|_| Reply::text("ok"))
}

/// Where a proxy that is down would be.
fn proxy_down() -> String {
    format!("http://127.0.0.1:{}/v1", free_port())
}

// ---- the Codex home and the bridge ------------------------------------------------------------

/// A catalog of three families, the default first (what `gen-catalog` writes, abridged).
fn catalog_models() -> Vec<Value> {
    let entry = |slug: &str, name: &str| {
        let mut e = default_catalog_entry();
        e["slug"] = json!(slug);
        e["display_name"] = json!(name);
        e
    };
    vec![
        default_catalog_entry(),
        entry(OPUS, "Claude Opus 4.7"),
        entry("deepseek/deepseek-v4-flash", "DeepSeek V4 Flash"),
    ]
}

/// A golden file of tests/fixtures/toml (written for a bridge on 127.0.0.1:8403).
fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(FIXTURES).join(name)).unwrap()
}

/// A Codex home as a user has it: their own `config.toml` (the CLI tests' fixture), a profile
/// `setup` wrote and they tweaked, and a catalog; for a bridge on `port`.
fn user_home(port: u16) -> CodexHome {
    let home = CodexHome::with_options(
        &format!("http://127.0.0.1:{port}/v1"),
        CodexOptions {
            catalog_models: catalog_models(),
            ..CodexOptions::default()
        },
    );
    let install = |name: &str, to: PathBuf| {
        let text = fixture(name)
            .replace("@CODEX_HOME@", &home.path().to_string_lossy())
            .replace("127.0.0.1:8403", &format!("127.0.0.1:{port}"));
        std::fs::write(to, text).unwrap();
    };
    install("config.toml", home.config_path());
    install("profile-user.after-setup.toml", home.profile_path());
    home
}

/// The bridge on `port` for `home`, forwarding to `upstream`.
fn bridge(port: u16, home: &CodexHome, upstream: &str) -> BridgeGuard {
    let codex_home = home.path();
    BridgeGuard::start_with(upstream, |file| {
        file.listen = Some(format!("127.0.0.1:{port}"));
        file.codex = Some(FileCodex {
            home: Some(codex_home),
            ..FileCodex::default()
        });
    })
}

struct Setup {
    bridge: BridgeGuard,
    home: CodexHome,
    port: u16,
    /// Kept alive for the bridge (absent: the proxy is down).
    proxy: Option<MockUpstream>,
}

fn setup_with(proxy: Option<MockUpstream>) -> Setup {
    let port = free_port();
    let home = user_home(port);
    let upstream = proxy
        .as_ref()
        .map(MockUpstream::base_url)
        .unwrap_or_else(proxy_down);
    Setup {
        bridge: bridge(port, &home, &upstream),
        home,
        port,
        proxy,
    }
}

fn setup() -> Setup {
    setup_with(Some(proxy(Some(5.0))))
}

/// Every file of a Codex home but backups, as the goldens write it (`@CODEX_HOME@`, port 8403).
fn files(home: &CodexHome, port: u16) -> BTreeMap<String, String> {
    let root = home.path();
    std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file() && !p.to_string_lossy().contains(".bak-"))
        .map(|p| {
            let text = std::fs::read_to_string(&p)
                .unwrap_or_default()
                .replace(&*root.to_string_lossy(), "@CODEX_HOME@")
                .replace(&format!("127.0.0.1:{port}"), "127.0.0.1:8403");
            (p.file_name().unwrap().to_string_lossy().into_owned(), text)
        })
        .collect()
}

fn backups(home: &CodexHome) -> usize {
    std::fs::read_dir(home.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".bak-"))
        .count()
}

#[track_caller]
fn assert_golden(actual: &BTreeMap<String, String>, file: &str, golden: &str, when: &str) {
    let expected = golden.to_owned();
    let actual = actual.get(file).map(String::as_str).unwrap_or("<missing>");
    assert!(
        actual == expected,
        "{file} {when} differs from the golden\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

/// The CLI, as a user runs it on `home` with the bridge's address (`yaml_extra` appended to
/// its config file).
fn cli(home: &CodexHome, port: u16, upstream: &str, yaml_extra: &str, args: &[&str]) {
    let yaml = home.home_dir().join("bridge.yaml");
    std::fs::write(
        &yaml,
        format!("listen: 127.0.0.1:{port}\nupstream:\n  url: {upstream}\n{yaml_extra}"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_clawrouter-codex"))
        .arg("-c")
        .arg(&yaml)
        .args(args)
        .env("CODEX_HOME", home.path())
        .env("HOME", home.home_dir())
        .env_remove("WEB_SEARCH")
        .current_dir(home.home_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
}

// ---- the browser ------------------------------------------------------------------------------

/// tests/browser/dashboard.mjs running against a bridge; stopped on drop.
struct Browser {
    child: Child,
    events: Lines<BufReader<ChildStdout>>,
    stdin: ChildStdin,
    stderr: PathBuf,
    _stderr_dir: tempfile::TempDir,
}

impl Browser {
    /// Opens the dashboard; `steps` are clicked one by one with [`Browser::step`]. Returns the
    /// browser and its `loaded` event.
    fn open(bridge: &BridgeGuard, steps: &[&str], screenshot: Option<&str>) -> (Browser, Value) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let modules = root.join(".tools/browser/node_modules");
        assert!(
            modules.join("playwright-core").is_dir() && Path::new("/usr/bin/chromium").exists(),
            "the browser tests need Chromium and playwright-core: run scripts/install-deps.sh --browser"
        );
        let dir = tempfile::tempdir().unwrap();
        let stderr = dir.path().join("stderr");
        let mut cmd = Command::new("node");
        cmd.arg(root.join("tests/browser/dashboard.mjs"))
            .env("BRIDGE", bridge.url(""))
            .env("NODE_PATH", &modules)
            .env("STEPS", json!(steps).to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap());
        if let Some(name) = screenshot {
            cmd.env("SCREENSHOT", artifact(name));
        }
        let mut child = cmd.spawn().expect("run node");
        let events = BufReader::new(child.stdout.take().unwrap()).lines();
        let stdin = child.stdin.take().unwrap();
        let mut browser = Browser {
            child,
            events,
            stdin,
            stderr,
            _stderr_dir: dir,
        };
        let loaded = browser.next("loaded");
        (browser, loaded)
    }

    fn next(&mut self, event: &str) -> Value {
        let line = match self.events.next() {
            Some(Ok(line)) => line,
            _ => panic!(
                "the browser script ended before {event:?}:\n{}",
                std::fs::read_to_string(&self.stderr).unwrap_or_default()
            ),
        };
        let value: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert_eq!(value["event"], event, "{value:#}");
        value
    }

    /// The next click's event; the browser waits until [`Browser::step`] is called again.
    fn step(&mut self, expected: &str) -> Value {
        let event = self.next("step");
        assert_eq!(event["step"], expected);
        event
    }

    fn go_on(&mut self) {
        self.stdin.write_all(b"next\n").unwrap();
    }

    /// Ends the run; asserts the page loaded nothing from outside and failed nowhere.
    fn finish(mut self) {
        let done = self.next("done");
        for key in [
            "blocked",
            "failed",
            "badResponses",
            "consoleErrors",
            "pageErrors",
        ] {
            assert_eq!(done[key], json!([]), "{key}: {done:#}");
        }
        assert!(self.child.wait().unwrap().success());
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Where a test artifact goes (`target/tmp/<name>`).
fn artifact(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn text<'v>(view: &'v Value, key: &str) -> &'v str {
    view[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key}: {view:#}"))
}

// ---- what the page shows ----------------------------------------------------------------------

#[test]
fn the_page_shows_the_link_the_wallet_and_the_spend_offline() {
    let s = setup();
    let (mut browser, loaded) = Browser::open(
        &s.bridge,
        &["update-models", "screenshot"],
        Some("dashboard.png"),
    );
    assert_eq!(loaded["status"], 200);
    let view = &loaded["view"];
    assert!(text(view, "proxy").contains("proxy up"), "{view:#}");
    assert_eq!(
        text(view, "version"),
        concat!("bridge v", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        text(view, "upstream"),
        format!("upstream {}", s.proxy.as_ref().unwrap().base_url())
    );
    assert_eq!(text(view, "catalog"), "");
    assert_eq!(text(view, "balance"), "$5.00");
    assert_eq!(text(view, "chain"), "USDC on Base");
    assert_eq!(text(view, "walletState"), "");
    assert_eq!(text(view, "address"), WALLET);
    assert_eq!(text(view, "fundLabel"), "Fund with USDC on Base at");
    assert_eq!(text(view, "evmNote"), "");
    assert_eq!(
        loaded["qr"], WALLET,
        "the QR code reads back as the address"
    );
    // The week: one bar a day, the totals of ClawRouter's /stats, its provider error.
    assert_eq!(view["bars"], 7);
    assert_eq!(text(view, "spendTotal"), "$0.42");
    assert_eq!(text(view, "spendSavings"), "$7.98");
    assert_eq!(text(view, "spendPercent"), "· 95%");
    assert_eq!(text(view, "spendRequests"), "84");
    assert_eq!(
        text(view, "spendState"),
        "Provider errors: deepseek/deepseek-v4-pro rate limited ×2"
    );
    assert_eq!(
        view["families"],
        json!(["ClawRouter", "Anthropic", "DeepSeek"])
    );
    assert_eq!(text(view, "defaultModel"), "blockrun/auto");
    assert_eq!(view["subscriptionOn"], true);
    assert_eq!(view["desktopOn"], false);
    assert_eq!(view["websearch"], "false");
    assert_eq!(text(view, "configState"), "");
    // The screenshot shows the whole catalog.
    browser.step("update-models");
    browser.go_on();
    browser.step("screenshot");
    browser.go_on();
    browser.finish();
    for name in ["dashboard.png", "dashboard-dark.png"] {
        assert!(std::fs::metadata(artifact(name)).unwrap().len() > 10_000);
    }
}

// ---- what its switches do ---------------------------------------------------------------------

#[test]
fn the_switches_write_what_the_cli_writes() {
    let s = setup();
    let upstream = s.proxy.as_ref().unwrap().base_url();
    let model = format!("model:{OPUS}");
    let steps = [
        "clawrouter",
        "websearch",
        model.as_str(),
        "websearch",
        "subscription",
        "update-models",
    ];
    let (mut browser, _) = Browser::open(&s.bridge, &steps, None);
    let catalog_before = std::fs::read_to_string(s.home.catalog_path()).unwrap();
    let with_opus = |golden: &str| {
        fixture(golden).replacen(
            "model = \"blockrun/auto\"",
            &format!("model = \"{OPUS}\""),
            1,
        )
    };
    // Each click: what the page then shows, and config.toml and the profile as the CLI's
    // goldens have them.
    let expected = [
        (
            ("desktopOn", json!(true)),
            fixture("config.desktop-on.toml"),
            fixture("profile-user.after-setup.toml"),
        ),
        (
            ("websearch", json!("true")),
            fixture("config.websearch-on.toml"),
            fixture("profile-user.websearch-on.toml"),
        ),
        (
            ("defaultModel", json!(OPUS)),
            fixture("config.websearch-on.toml"),
            with_opus("profile-user.websearch-on.toml"),
        ),
        (
            ("websearch", json!("false")),
            fixture("config.desktop-on.toml"),
            with_opus("profile-user.after-setup.toml"),
        ),
        (
            ("subscriptionOn", json!(true)),
            fixture("config.desktop-off.toml"),
            with_opus("profile-user.after-setup.toml"),
        ),
    ];
    for (step, ((key, shown), config, profile)) in steps.iter().zip(expected) {
        let clicked = browser.step(step);
        assert_eq!(clicked["noticeBad"], false, "{clicked:#}");
        assert_eq!(clicked["view"][key], shown, "{step}: {clicked:#}");
        let now = files(&s.home, s.port);
        let when = format!("after {step}");
        assert_golden(&now, "config.toml", &config, &when);
        assert_golden(&now, "clawrouter.config.toml", &profile, &when);
        browser.go_on();
    }

    let clicked = browser.step("update-models");
    assert_eq!(clicked["noticeBad"], false, "{clicked:#}");
    assert!(
        text(&clicked, "notice").contains("models in"),
        "{clicked:#}"
    );
    let catalog_after = std::fs::read_to_string(s.home.catalog_path()).unwrap();
    assert_ne!(
        catalog_after, catalog_before,
        "Update models rewrote the catalog"
    );
    let listed = clicked["view"]["models"].as_array().unwrap().len();
    assert!(listed > 3, "the page lists the new catalog: {clicked:#}");
    browser.go_on();
    browser.finish();

    // The same changes through the CLI on a twin home give the same files and backups. The
    // CLI sets the profile's default model with `setup` and `codex.default_model`.
    let twin = user_home(s.port);
    let run = |yaml: &str, args: &[&str]| cli(&twin, s.port, &upstream, yaml, args);
    run("", &["desktop", "on"]);
    run("", &["websearch", "on"]);
    run(&format!("codex:\n  default_model: {OPUS}\n"), &["setup"]);
    run("", &["websearch", "off"]);
    run("", &["desktop", "off"]);
    run("", &["gen-catalog"]);
    let ours = files(&s.home, s.port);
    let theirs = files(&twin, s.port);
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    for (name, text) in &ours {
        assert_eq!(
            text, &theirs[name],
            "{name} differs from what the CLI writes"
        );
    }
    assert_eq!(
        backups(&s.home),
        backups(&twin),
        "one backup per change, like the CLI"
    );
}

// ---- its states ------------------------------------------------------------------------------

#[test]
fn proxy_down_says_how_to_start_it_and_nothing_breaks() {
    let s = setup_with(None);
    let (mut browser, loaded) = Browser::open(
        &s.bridge,
        &["update-models"],
        Some("dashboard-proxy-down.png"),
    );
    let view = &loaded["view"];
    assert!(text(view, "proxy").contains("proxy down"), "{view:#}");
    assert!(
        text(view, "walletState").contains("clawrouter-codex start"),
        "{view:#}"
    );
    assert_eq!(text(view, "balance"), "—");
    assert_eq!(view["fundShown"], false);
    assert!(
        text(view, "spendState").contains("Spend unavailable"),
        "{view:#}"
    );
    // The Codex side still works; Update models says why it cannot.
    assert_eq!(
        view["families"],
        json!(["ClawRouter", "Anthropic", "DeepSeek"])
    );
    let before = files(&s.home, s.port);
    let clicked = browser.step("update-models");
    assert_eq!(clicked["noticeBad"], true, "{clicked:#}");
    assert!(!text(&clicked, "notice").is_empty());
    assert_eq!(files(&s.home, s.port), before);
    browser.go_on();
    browser.finish();
}

#[test]
fn a_new_empty_wallet_says_fund_it() {
    // A fresh ClawRouter: nothing in its usage log yet, nothing in the wallet.
    let fresh = MockUpstream::builder()
        .balance_usd(Some(0.0))
        .start(|_| Reply::text("ok"));
    let s = setup_with(Some(fresh));
    let (browser, loaded) = Browser::open(&s.bridge, &[], Some("dashboard-empty-wallet.png"));
    let view = &loaded["view"];
    assert_eq!(text(view, "balance"), "$0.00");
    assert!(
        text(view, "walletState").starts_with("Wallet empty"),
        "{view:#}"
    );
    assert_eq!(view["fundShown"], true);
    assert_eq!(loaded["qr"], WALLET);
    assert_eq!(view["bars"], 0);
    assert_eq!(text(view, "spendMax"), "no requests yet");
    assert_eq!(text(view, "spendTotal"), "$0.00");
    assert_eq!(text(view, "spendRequests"), "0");
    assert_eq!(text(view, "spendState"), "");
    browser.finish();
}

#[test]
fn a_wallet_paying_on_solana_shows_and_encodes_the_solana_address() {
    // ClawRouter since v0.12.246: a new wallet pays on Solana; `wallet` stays the EVM address.
    let solana = MockUpstream::builder()
        .pays_on_solana()
        .usage(week_of_use())
        .start(|_| Reply::text("ok"));
    let s = setup_with(Some(solana));
    let state = get(&s.bridge.url("/dashboard/api/state"), &[]);
    assert_eq!(state.json()["proxy"]["wallet"], SOLANA_WALLET);
    assert_eq!(state.json()["proxy"]["chain"], "Solana");
    let (browser, loaded) = Browser::open(&s.bridge, &[], Some("dashboard-solana.png"));
    let view = &loaded["view"];
    assert_eq!(text(view, "balance"), "$5.00");
    assert_eq!(text(view, "chain"), "USDC on Solana");
    assert_eq!(text(view, "fundLabel"), "Fund with USDC on Solana at");
    assert_eq!(text(view, "address"), SOLANA_WALLET);
    assert_eq!(
        loaded["qr"], SOLANA_WALLET,
        "the QR code reads back as the Solana address, plain base58"
    );
    assert_eq!(text(view, "qrLabel"), "QR code of the Solana address");
    assert_eq!(
        text(view, "evmNote"),
        format!("Not the EVM address {WALLET}: ClawRouter pays on Solana.")
    );
    browser.finish();
}

#[test]
fn an_unreadable_balance_says_so_and_still_shows_where_to_fund() {
    let s = setup_with(Some(proxy(None)));
    let (browser, loaded) = Browser::open(&s.bridge, &[], Some("dashboard-no-balance.png"));
    let view = &loaded["view"];
    assert_eq!(text(view, "balance"), "—");
    assert!(
        text(view, "walletState").starts_with("Balance unavailable: Could not fetch balance"),
        "{view:#}"
    );
    assert_eq!(view["fundShown"], true);
    assert_eq!(loaded["qr"], WALLET);
    browser.finish();
}

#[test]
fn no_catalog_yet_says_update_models_and_update_models_makes_it() {
    let s = setup();
    std::fs::remove_file(s.home.catalog_path()).unwrap();
    let (mut browser, loaded) = Browser::open(
        &s.bridge,
        &["update-models"],
        Some("dashboard-no-catalog.png"),
    );
    let view = &loaded["view"];
    assert_eq!(text(view, "catalog"), "no catalog yet — Update models");
    assert!(
        text(view, "modelsState").contains("Update models"),
        "{view:#}"
    );
    assert_eq!(view["models"], json!([]));
    let clicked = browser.step("update-models");
    assert_eq!(clicked["noticeBad"], false, "{clicked:#}");
    assert!(s.home.catalog_path().is_file());
    assert_eq!(text(&clicked["view"], "catalog"), "");
    assert!(clicked["view"]["models"].as_array().unwrap().len() > 3);
    browser.go_on();
    browser.finish();
}

#[test]
fn codex_config_that_is_not_toml_is_named_and_the_switches_refuse() {
    let s = setup();
    let broken = "model = \"gpt-5.5\"\n[tui\nnotifications = true\n";
    std::fs::write(s.home.config_path(), broken).unwrap();
    let before = files(&s.home, s.port);
    let (mut browser, loaded) = Browser::open(
        &s.bridge,
        &["websearch", "clawrouter"],
        Some("dashboard-invalid-toml.png"),
    );
    let problem = text(&loaded["view"], "configState");
    let path = s.home.config_path().display().to_string();
    assert!(
        problem.contains(&format!("{path} is not valid TOML: line 2")),
        "{problem}"
    );
    assert!(problem.contains("reload"), "{problem}");
    for step in ["websearch", "clawrouter"] {
        let clicked = browser.step(step);
        assert_eq!(clicked["noticeBad"], true, "{clicked:#}");
        assert!(
            text(&clicked, "notice").contains(&format!("{path} is not valid TOML: line 2")),
            "{clicked:#}"
        );
        assert_eq!(files(&s.home, s.port), before, "{step} changed a file");
        assert_eq!(backups(&s.home), 0);
        browser.go_on();
    }
    browser.finish();
}

// ---- refusals (plain HTTP) --------------------------------------------------------------------

/// The page's CSRF token.
fn token_of(bridge: &BridgeGuard) -> String {
    let page = get(&bridge.url("/dashboard"), &[]).body;
    let start = page.find(r#"name="csrf-token" content=""#).unwrap() + 27;
    page[start..start + 64].to_owned()
}

#[test]
fn the_page_forbids_outside_resources_framing_referrers_and_caching() {
    let s = setup();
    let page = get(&s.bridge.url("/dashboard"), &[]);
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("connect-src 'self'"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    let state = get(&s.bridge.url("/dashboard/api/state"), &[]);
    assert_eq!(state.header("cache-control"), Some("no-store"));
    assert_eq!(state.json()["proxy"]["wallet"], WALLET);
    // Another site's page cannot have a browser fetch them, not even a same-site one.
    for path in ["/dashboard", "/dashboard/api/state"] {
        for site in ["same-site", "cross-site"] {
            let answer = get(&s.bridge.url(path), &[("sec-fetch-site", site)]);
            assert_eq!(answer.status, 403, "{path} {site}: {}", answer.body);
        }
    }
    // Two loads, two nonces; one token per process.
    let again = get(&s.bridge.url("/dashboard"), &[]);
    assert_ne!(
        again.header("content-security-policy"),
        page.header("content-security-policy")
    );
    assert_eq!(token_of(&s.bridge), token_of(&s.bridge));
}

#[test]
fn changes_that_do_not_come_from_the_page_are_refused_and_change_nothing() {
    let s = setup();
    let other = setup();
    let token = token_of(&s.bridge);
    let foreign_token = token_of(&other.bridge);
    let origin = s.bridge.url("");
    let url = s.bridge.url("/dashboard/api/desktop");
    let before = files(&s.home, s.port);
    let body = br#"{"on":true}"#;
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16);
    let cases: Vec<Case> = vec![
        (
            "foreign Origin",
            vec![("origin", "http://evil.example"), ("x-csrf-token", &token)],
            403,
        ),
        (
            "cross-site fetch",
            vec![("sec-fetch-site", "cross-site"), ("x-csrf-token", &token)],
            403,
        ),
        ("no token", vec![("origin", &origin)], 403),
        (
            "another process's token",
            vec![("origin", &origin), ("x-csrf-token", &foreign_token)],
            403,
        ),
        (
            "no Origin, no Sec-Fetch-Site",
            vec![("x-csrf-token", &token)],
            403,
        ),
        (
            "foreign Host",
            vec![
                ("host", "evil.example"),
                ("origin", "http://evil.example"),
                ("x-csrf-token", &token),
            ],
            421,
        ),
        (
            "text/plain POST",
            vec![
                ("content-type", "text/plain"),
                ("origin", &origin),
                ("x-csrf-token", &token),
            ],
            403,
        ),
        (
            "cross-site form POST",
            vec![
                ("content-type", "application/x-www-form-urlencoded"),
                ("origin", "http://evil.example"),
            ],
            403,
        ),
    ];
    for (what, headers, status) in cases {
        let answer = post(&url, body, &headers);
        assert_eq!(answer.status, status, "{what}: {}", answer.body);
        assert_eq!(files(&s.home, s.port), before, "{what} changed a file");
    }
    for url in [url.clone(), format!("{url}?on=true")] {
        let answer = get(&url, &[("x-csrf-token", &token), ("origin", &origin)]);
        assert_eq!(answer.status, 405, "a GET changes nothing: {}", answer.body);
        assert_eq!(files(&s.home, s.port), before);
    }
    assert_eq!(backups(&s.home), 0);

    // The page's own request goes through.
    let answer = post(&url, body, &[("origin", &origin), ("x-csrf-token", &token)]);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["ok"], true, "{}", answer.body);
    assert_ne!(files(&s.home, s.port), before);
}

/// This machine's address on its network, if it has one (no packet is sent: connecting a UDP
/// socket only picks the route).
fn lan_address() -> Option<IpAddr> {
    ["10.254.254.254:9", "192.0.2.1:9", "172.31.254.254:9"]
        .iter()
        .find_map(|target| {
            let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
            socket.connect(target).ok()?;
            Some(socket.local_addr().ok()?.ip())
        })
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
}

#[test]
fn beyond_loopback_the_dashboard_is_off_unless_enabled_then_needs_the_token_and_changes_stay_local()
{
    let upstream = proxy(Some(5.0));
    let start = |enabled: Option<bool>, home: Option<&CodexHome>| {
        let codex_home = home.map(CodexHome::path);
        BridgeGuard::start_with(&upstream.base_url(), |file| {
            file.listen = Some(format!("0.0.0.0:{}", free_port()));
            file.auth_token = Some("s3cret".into());
            file.dashboard = enabled.map(|enabled| FileDashboard {
                enabled: Some(enabled),
            });
            file.codex = Some(FileCodex {
                home: codex_home,
                ..FileCodex::default()
            });
        })
    };
    let off = start(None, None);
    let bearer = [("authorization", "Bearer s3cret")];
    assert_eq!(get(&off.url("/dashboard"), &bearer).status, 404);

    let home = user_home(8403);
    let on = start(Some(true), Some(&home));
    let answer = get(&on.url("/dashboard"), &[]);
    assert_eq!(answer.status, 401);
    assert!(answer
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic"));
    // What a browser sends once the user typed the token as the password (`me:s3cret`).
    let basic = ("authorization", "Basic bWU6czNjcmV0");
    let answer = get(&on.url("/dashboard"), &[basic]);
    assert_eq!(answer.status, 200);
    assert_eq!(
        get(
            &on.url("/dashboard"),
            &[("authorization", "Basic bWU6d3Jvbmc=")]
        )
        .status,
        401
    );

    // From another machine (this one's network address, not loopback): every proof the page
    // can give in place, still refused. (A browser there sends `Sec-Fetch-Site: same-origin`;
    // its `Origin` would not name the bridge's listen address and be refused earlier.)
    let Some(lan) = lan_address() else {
        eprintln!("no network address on this machine: the non-loopback peer is not tried");
        return;
    };
    let port = on.addr().rsplit(':').next().unwrap().to_owned();
    let origin = format!("http://{lan}:{port}");
    let page = get(&format!("{origin}/dashboard"), &[basic]);
    assert_eq!(page.status, 200, "{}", page.body);
    let start = page.body.find(r#"name="csrf-token" content=""#).unwrap() + 27;
    let token = &page.body[start..start + 64];
    let before = files(&home, 8403);
    let answer = post(
        &format!("{origin}/dashboard/api/desktop"),
        br#"{"on":true}"#,
        &[
            basic,
            ("sec-fetch-site", "same-origin"),
            ("x-csrf-token", token),
        ],
    );
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert!(answer.body.contains("loopback"), "{}", answer.body);
    assert_eq!(files(&home, 8403), before);
}

#[test]
fn direct_mode_shows_the_bridges_own_wallet_the_ledgers_spend_and_the_routers_choice() {
    use common::direct::{DirectBridge, ADDRESS};
    use common::mock_upstream::Paywall;
    let mock = MockUpstream::builder()
        .blockrun(Paywall::base().amount(21_000))
        .start(|_| Reply::text("ok"));
    let direct = DirectBridge::start(&mock, |_| {});
    let turn = post(
        &direct.bridge.url("/v1/responses"),
        json!({"model": "premium", "input": "hi", "stream": true})
            .to_string()
            .as_bytes(),
        &[],
    );
    assert_eq!(turn.status, 200);
    let (browser, loaded) = Browser::open(&direct.bridge, &[], Some("dashboard-direct.png"));
    let view = &loaded["view"];
    assert_eq!(text(view, "proxy"), "direct to BlockRun", "{view:#}");
    assert_eq!(text(view, "route"), "routed premium → openai/gpt-5.4");
    assert_eq!(text(view, "balance"), "$5.00");
    assert_eq!(text(view, "chain"), "USDC on Base");
    assert_eq!(text(view, "address"), ADDRESS);
    assert_eq!(loaded["qr"], ADDRESS);
    assert_eq!(text(view, "spendTotal"), "$0.021");
    assert_eq!(text(view, "spendRequests"), "1");
    browser.finish();
}
