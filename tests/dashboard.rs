//! The dashboard in Debian's headless Chromium (driven by tests/browser/dashboard.mjs through
//! playwright-core) against the real bridge and the mock ClawRouter, with everything but the
//! bridge cut off: what it shows, that its switches change the Codex files exactly as the CLI
//! does, its states (proxy down, empty wallet, no catalog, invalid TOML), and every refusal of a
//! change that did not come from the page itself.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use clawrouter_codex::config::{FileCodex, FileDashboard};
use common::bridge::{free_port, BridgeGuard};
use common::client::{get, post};
use common::codex::{default_catalog_entry, CodexHome, CodexOptions};
use common::mock_upstream::{MockUpstream, RecordedRequest, Reply};
use serde_json::{json, Value};

const WALLET: &str = "0x2c75a0E2C5Bb3a1c0dD0e2f8B7aC4D1e5F6a5c23";
const OPUS: &str = "anthropic/claude-opus-4.7";

/// The proxy's `/stats?days=7`: a week of spend, one provider error.
fn stats() -> Value {
    let days: Vec<Value> = (1..=7)
        .map(|d| {
            json!({"date": format!("2026-11-{:02}", 20 + d), "totalRequests": d * 3,
                   "totalCost": 0.01 * d as f64, "totalBaselineCost": 0.2 * d as f64,
                   "totalSavings": 0.19 * d as f64, "avgLatencyMs": 900,
                   "byTier": {}, "byModel": {}})
        })
        .collect();
    json!({"period": "last 7 days", "totalRequests": 84, "totalCost": 0.28,
           "totalBaselineCost": 5.6, "totalSavings": 5.32, "savingsPercentage": 95,
           "avgLatencyMs": 900, "avgCostPerRequest": 0.0033, "byTier": {}, "byModel": {},
           "dailyBreakdown": days, "entriesWithBaseline": 84,
           "providerErrors": {"deepseek/deepseek-v4-pro": {"rate_limited": 2, "server_error": 0}}})
}

fn mock(balance: Option<f64>) -> MockUpstream {
    MockUpstream::builder()
        .balance_usd(balance)
        .route(|req: &RecordedRequest| (req.route() == "/stats").then(|| Reply::json(200, stats())))
        .start(|_| Reply::text("ok"))
}

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

/// A bridge on a known port whose Codex home is `home`.
struct Setup {
    mock: MockUpstream,
    bridge: BridgeGuard,
    home: CodexHome,
    port: u16,
}

fn setup_with(mock: MockUpstream, upstream: Option<String>) -> Setup {
    let port = free_port();
    let home = CodexHome::with_options(
        &format!("http://127.0.0.1:{port}/v1"),
        CodexOptions {
            catalog_models: catalog_models(),
            ..CodexOptions::default()
        },
    );
    let codex_home = home.path();
    let upstream = upstream.unwrap_or_else(|| mock.base_url());
    let bridge = BridgeGuard::start_with(&upstream, |file| {
        file.listen = Some(format!("127.0.0.1:{port}"));
        file.codex = Some(FileCodex {
            home: Some(codex_home),
            ..FileCodex::default()
        });
    });
    Setup {
        mock,
        bridge,
        home,
        port,
    }
}

fn setup() -> Setup {
    setup_with(mock(Some(5.0)), None)
}

/// Runs the browser script; its JSON report.
fn browse(bridge: &BridgeGuard, mode: &str, screenshot: Option<&Path>) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let modules = root.join(".tools/browser/node_modules");
    assert!(
        modules.join("playwright-core").is_dir() && Path::new("/usr/bin/chromium").exists(),
        "the browser test needs Chromium and playwright-core: run scripts/install-deps.sh --browser"
    );
    let mut cmd = Command::new("node");
    cmd.arg(root.join("tests/browser/dashboard.mjs"))
        .env("BRIDGE", bridge.url(""))
        .env("NODE_PATH", &modules)
        .env("MODE", mode)
        .env("MODEL_SLUG", OPUS);
    if let Some(path) = screenshot {
        cmd.env("SCREENSHOT", path);
    }
    let out = cmd.output().expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser script failed\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn assert_offline_and_clean(report: &Value) {
    for key in ["blocked", "failed", "consoleErrors", "pageErrors"] {
        assert_eq!(report[key], json!([]), "{key}: {report:#}");
    }
}

/// Every file of a Codex home (backups excepted), its home path replaced by `@HOME@`.
fn files(home: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(home)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file() && !p.to_string_lossy().contains(".bak-"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                text.replace(&*home.to_string_lossy(), "@HOME@"),
            )
        })
        .collect()
}

/// The CLI, as a user runs it, on `home` with the bridge's own address.
fn cli(home: &CodexHome, port: u16, upstream: &str, args: &[&str]) {
    let yaml = home.home_dir().join("bridge.yaml");
    std::fs::write(
        &yaml,
        format!("listen: 127.0.0.1:{port}\nupstream:\n  url: {upstream}\n"),
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

#[test]
fn the_page_shows_everything_and_its_switches_do_what_the_cli_does() {
    let s = setup();
    let screenshot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    let report = browse(&s.bridge, "act", Some(&screenshot));
    assert_offline_and_clean(&report);
    assert_eq!(report["status"], 200);
    assert!(report["csp"]
        .as_str()
        .unwrap()
        .contains("default-src 'none'"));
    let before = &report["before"];
    assert_eq!(before["balance"], "$5.00");
    assert_eq!(before["address"], WALLET);
    assert_eq!(
        report["qr"], WALLET,
        "the QR code reads back as the address"
    );
    assert_eq!(before["bars"], 7, "one bar per day of spend");
    assert_eq!(before["spendTotal"], "$0.2800");
    assert!(before["spendState"]
        .as_str()
        .unwrap()
        .contains("rate limited ×2"));
    assert_eq!(
        before["families"],
        json!(["ClawRouter", "Anthropic", "DeepSeek"])
    );
    assert_eq!(before["defaultModel"], "blockrun/auto");
    assert_eq!(before["subscriptionOn"], true);
    assert!(before["proxy"].as_str().unwrap().contains("proxy up"));
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 10_000);

    let after = &report["after"];
    assert_eq!(after["websearch"], "On");
    assert_eq!(after["desktopOn"], true);
    assert_eq!(after["defaultModel"], OPUS);
    let notices = report["notices"].as_array().unwrap();
    assert!(
        notices[3].as_str().unwrap().contains("models in"),
        "{notices:?}"
    );

    // The same changes through the CLI on a twin home give the same files.
    let twin = CodexHome::with_options(
        &format!("http://127.0.0.1:{}/v1", s.port),
        CodexOptions {
            catalog_models: catalog_models(),
            ..CodexOptions::default()
        },
    );
    let upstream = s.mock.base_url();
    cli(&twin, s.port, &upstream, &["websearch", "on"]);
    cli(&twin, s.port, &upstream, &["desktop", "on"]);
    let profile = twin.profile_path();
    let text = std::fs::read_to_string(&profile).unwrap();
    std::fs::write(
        &profile,
        text.replacen(
            "model = \"blockrun/auto\"",
            &format!("model = \"{OPUS}\""),
            1,
        ),
    )
    .unwrap();
    cli(&twin, s.port, &upstream, &["gen-catalog"]);
    let ours = files(&s.home.path());
    let theirs = files(&twin.path());
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
}

#[test]
fn the_page_states_what_is_wrong_and_what_to_do() {
    // The proxy is down.
    let dead = format!("http://127.0.0.1:{}/v1", free_port());
    let s = setup_with(mock(Some(5.0)), Some(dead));
    let report = browse(&s.bridge, "look", None);
    assert_offline_and_clean(&report);
    let seen = &report["before"];
    assert!(seen["proxy"].as_str().unwrap().contains("proxy down"));
    assert!(seen["walletState"]
        .as_str()
        .unwrap()
        .contains("clawrouter-codex start"));
    assert!(seen["spendState"].as_str().unwrap().contains("unavailable"));

    // The wallet is empty.
    let s = setup_with(mock(Some(0.0)), None);
    let seen = &browse(&s.bridge, "look", None)["before"];
    assert_eq!(seen["balance"], "$0.00");
    assert!(seen["walletState"]
        .as_str()
        .unwrap()
        .contains("Wallet empty"));
    assert_eq!(seen["fundShown"], true);

    // The balance cannot be read.
    let s = setup_with(mock(None), None);
    let seen = &browse(&s.bridge, "look", None)["before"];
    assert!(seen["walletState"]
        .as_str()
        .unwrap()
        .contains("Balance unavailable"));

    // No catalog yet.
    let s = setup();
    std::fs::remove_file(s.home.catalog_path()).unwrap();
    let seen = &browse(&s.bridge, "look", None)["before"];
    assert!(seen["catalog"].as_str().unwrap().contains("no catalog yet"));
    assert!(seen["modelsState"]
        .as_str()
        .unwrap()
        .contains("Update models"));

    // Codex's config is not valid TOML.
    let s = setup();
    std::fs::write(s.home.config_path(), "[oops\n").unwrap();
    let report = browse(&s.bridge, "look", None);
    assert_offline_and_clean(&report);
    let seen = &report["before"];
    assert!(seen["configState"]
        .as_str()
        .unwrap()
        .contains("not valid TOML"));
    assert_eq!(
        std::fs::read_to_string(s.home.config_path()).unwrap(),
        "[oops\n"
    );
}

/// The page's CSRF token.
fn token_of(bridge: &BridgeGuard) -> String {
    let page = get(&bridge.url("/dashboard"), &[]).body;
    let start = page.find(r#"name="csrf-token" content=""#).unwrap() + 27;
    page[start..start + 64].to_owned()
}

#[test]
fn changes_that_do_not_come_from_the_page_are_refused_and_change_nothing() {
    let s = setup();
    let other = setup();
    let token = token_of(&s.bridge);
    let foreign_token = token_of(&other.bridge);
    let origin = s.bridge.url("");
    let url = s.bridge.url("/dashboard/api/desktop");
    let before = files(&s.home.path());
    let body = br#"{"on":true}"#;
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16);
    let cases: Vec<Case> = vec![
        (
            "foreign Origin",
            vec![("origin", "http://evil.example"), ("x-csrf-token", &token)],
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
                ("origin", &origin),
                ("x-csrf-token", &token),
            ],
            421,
        ),
        (
            "text/plain form",
            vec![
                ("content-type", "text/plain"),
                ("origin", &origin),
                ("x-csrf-token", &token),
            ],
            403,
        ),
    ];
    for (what, headers, status) in cases {
        let answer = post(&url, body, &headers);
        assert_eq!(answer.status, status, "{what}: {}", answer.body);
        assert_eq!(files(&s.home.path()), before, "{what} changed a file");
    }
    let answer = get(&url, &[("x-csrf-token", &token)]);
    assert_eq!(answer.status, 405, "a GET changes nothing");
    assert_eq!(files(&s.home.path()), before);

    // The page's own request goes through.
    let answer = post(&url, body, &[("origin", &origin), ("x-csrf-token", &token)]);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.json()["ok"], true, "{}", answer.body);
    assert_ne!(files(&s.home.path()), before);
}

#[test]
fn beyond_loopback_the_dashboard_is_off_unless_enabled_and_then_needs_the_token() {
    let upstream = mock(Some(5.0));
    let start = |enabled: Option<bool>| {
        BridgeGuard::start_with(&upstream.base_url(), |file| {
            file.listen = Some(format!("0.0.0.0:{}", free_port()));
            file.auth_token = Some("s3cret".into());
            file.dashboard = enabled.map(|enabled| FileDashboard {
                enabled: Some(enabled),
            });
        })
    };
    let off = start(None);
    let bearer = [("authorization", "Bearer s3cret")];
    assert_eq!(get(&off.url("/dashboard"), &bearer).status, 404);

    let on = start(Some(true));
    let answer = get(&on.url("/dashboard"), &[]);
    assert_eq!(answer.status, 401);
    assert!(answer
        .header("www-authenticate")
        .unwrap()
        .starts_with("Basic"));
    // A browser's Basic credentials with the token as password (`me:s3cret`).
    let answer = get(
        &on.url("/dashboard"),
        &[("authorization", "Basic bWU6czNjcmV0")],
    );
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("ClawRouter"));
}
