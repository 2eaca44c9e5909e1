//! One proxy address: `wallet`, `doctor`, the dashboard, `start` and `daemon status` all find
//! the ClawRouter proxy where the configuration says it is (`Config::clawrouter_proxy`), here a
//! mock ClawRouter paying on Solana on a random port named by `CLAWROUTER_PROXY_URL`, while
//! `PROXY_PORT` names a port nothing listens on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::bridge::{free_port, BridgeGuard};
use common::cli::clean_command;
use common::client::get;
use common::mock_upstream::{MockUpstream, Reply, SOLANA_WALLET, WALLET};
use serde_json::Value;

/// A temp HOME, and the binary with a clean environment, the proxy at `proxy_url`, PROXY_PORT
/// closed.
struct World {
    dir: tempfile::TempDir,
    proxy_url: String,
}

impl World {
    fn new(mock: &MockUpstream) -> World {
        World {
            dir: tempfile::tempdir().unwrap(),
            proxy_url: mock.base_url(),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = clean_command();
        cmd.env("HOME", self.dir.path())
            .env("CODEX_HOME", self.dir.path().join(".codex"))
            .env("PORT", free_port().to_string())
            .env("PROXY_PORT", free_port().to_string())
            .env("CLAWROUTER_PROXY_URL", &self.proxy_url)
            .current_dir(self.dir.path())
            .args(args);
        cmd
    }

    fn run(&self, args: &[&str], path: Option<&str>) -> (Option<i32>, String, String) {
        let mut cmd = self.cmd(args);
        if let Some(path) = path {
            cmd.env("PATH", path);
        }
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn solana_proxy() -> MockUpstream {
    MockUpstream::builder()
        .pays_on_solana()
        .start(|_| Reply::text("ok"))
}

fn port_of(mock: &MockUpstream) -> u16 {
    mock.addr().port()
}

#[test]
fn wallet_finds_the_proxy_at_clawrouter_proxy_url_and_funds_its_solana_address() {
    let mock = solana_proxy();
    let world = World::new(&mock);
    let (code, out, err) = world.run(&["wallet"], None);
    assert_eq!(code, Some(0), "{out}{err}");
    let port = port_of(&mock);
    assert!(
        out.starts_with(&format!(
            "ClawRouter pays on Solana (its /health at 127.0.0.1:{port}): fund {SOLANA_WALLET} with USDC on Solana\n"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("Proxy: up on 127.0.0.1:{port}")),
        "{out}"
    );
    assert!(
        out.contains(&format!("EVM address: {WALLET} (Base: not paid from")),
        "{out}"
    );
    assert!(out.contains("Balance: $5.00 USDC"), "{out}");
}

#[test]
fn doctor_finds_it_and_names_the_solana_address_to_fund() {
    let mock = solana_proxy();
    let world = World::new(&mock);
    let (_, out, err) = world.run(&["doctor", "--json"], None);
    let report: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    let check = |name: &str| {
        report[if report["ok"] == true {
            "data"
        } else {
            "error"
        }]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    let port = port_of(&mock);
    assert_eq!(check("proxy")["ok"], true, "{report:#}");
    assert_eq!(
        check("proxy")["detail"],
        format!("ClawRouter at http://127.0.0.1:{port} is up, paying on Solana")
    );
    assert_eq!(check("wallet")["ok"], true, "{report:#}");
    assert_eq!(
        check("wallet")["detail"],
        format!("{SOLANA_WALLET}: $5.00 USDC on Solana")
    );
}

#[test]
fn doctor_says_to_fund_an_empty_solana_wallet_at_its_solana_address() {
    let mock = MockUpstream::builder()
        .pays_on_solana()
        .balance_usd(Some(0.0))
        .start(|_| Reply::text("ok"));
    let world = World::new(&mock);
    let (code, out, err) = world.run(&["doctor"], None);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(
        out.contains(&format!(
            "❌ wallet — {SOLANA_WALLET} is empty ($0.00 USDC on Solana)\n   fix: fund the address {SOLANA_WALLET} with USDC on Solana"
        )),
        "{out}"
    );
    assert!(
        !out.contains(&format!("fund the address {WALLET}")),
        "{out}"
    );
}

#[test]
fn the_dashboard_state_and_the_bridges_health_read_it_through_the_bridge() {
    let mock = solana_proxy();
    let bridge = BridgeGuard::start(&mock.base_url());
    let state = get(&bridge.url("/dashboard/api/state"), &[]).json();
    assert_eq!(state["proxy"]["up"], true, "{state:#}");
    assert_eq!(state["proxy"]["wallet"], SOLANA_WALLET, "{state:#}");
    assert_eq!(state["proxy"]["chain"], "Solana", "{state:#}");
    // The bridge's own /health?full=true passes ClawRouter's wallet fields on, `solana` too.
    let health = get(&bridge.url("/health?full=true"), &[]).json();
    assert_eq!(health["paymentChain"], "solana", "{health:#}");
    assert_eq!(health["solana"], SOLANA_WALLET, "{health:#}");
    assert_eq!(health["wallet"], WALLET, "{health:#}");
}

#[test]
fn start_adopts_it_instead_of_launching_another_on_proxy_port() {
    let mock = solana_proxy();
    let world = World::new(&mock);
    let mut child = world
        .cmd(&["start"])
        // Would fail at once if launched: only adopting the running proxy passes.
        .env("CLAWROUTER_CMD", "/nonexistent/clawrouter")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(String::new()));
    let stderr = child.stderr.take().unwrap();
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    let wanted = format!(
        "a proxy already answers on http://127.0.0.1:{}/health; not starting another",
        port_of(&mock)
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log.lock().unwrap().contains(&wanted) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let log = log.lock().unwrap().clone();
    assert!(log.contains(&wanted), "{log}");
    assert!(!log.contains("/nonexistent/clawrouter"), "{log}");
}

#[cfg(target_os = "linux")]
#[test]
fn daemon_status_asks_it_whether_it_answers() {
    let mock = solana_proxy();
    let world = World::new(&mock);
    let empty = world.dir.path().join("emptybin");
    std::fs::create_dir_all(&empty).unwrap();
    let (_, out, err) = world.run(&["daemon", "status"], Some(empty.to_str().unwrap()));
    assert!(
        out.contains(&format!("Proxy on 127.0.0.1:{}: answering", port_of(&mock))),
        "{out}{err}"
    );
}
