//! `wallet` and `daemon` as a user runs them: the real binary with a temp HOME, a clean
//! environment, and a fake ClawRouter `/health?full=true` for the balance. The wallet key must
//! appear nowhere in the output or in the service files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

const KEY_A: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const ADDR_A: &str = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";
const KEY_1: &str = "0x0000000000000000000000000000000000000000000000000000000000000001";
const ADDR_1: &str = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf";

/// Every setting the environment could carry, removed.
const CLEARED: &[&str] = common::cli::SETTINGS;

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        std::fs::create_dir_all(dir.path().join("emptybin")).unwrap();
        Env { dir }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// The binary with HOME/CODEX_HOME in the temp dir, settings cleared, and the bridge and
    /// proxy ports pointed at closed ports (unless `proxy_port` is given).
    fn cmd(&self, args: &[&str], proxy_port: Option<u16>) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_clawrouter-codex"));
        for var in CLEARED {
            cmd.env_remove(var);
        }
        cmd.env("HOME", self.home())
            .env("CODEX_HOME", self.home().join(".codex"))
            .env("PORT", closed_port().to_string())
            .env(
                "PROXY_PORT",
                proxy_port.unwrap_or_else(closed_port).to_string(),
            )
            .current_dir(self.dir.path().join("work"))
            .args(args);
        cmd
    }

    fn no_tools(&self) -> String {
        self.dir
            .path()
            .join("emptybin")
            .to_string_lossy()
            .into_owned()
    }
}

fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_no_key(texts: &[&str], key: &str) {
    let hex = key.trim_start_matches("0x").to_lowercase();
    for text in texts {
        let lower = text.to_lowercase();
        assert!(!lower.contains(&hex), "key leaked in: {text}");
        assert!(
            !lower.contains(&hex[..24]),
            "part of the key leaked in: {text}"
        );
    }
}

/// A fake ClawRouter answering every request with `body` as JSON.
fn fake_proxy(body: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&req);
            let (status, body) = if head.starts_with("GET /health") {
                ("200 OK", body)
            } else {
                ("404 Not Found", r#"{"error":"Not found"}"#)
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

fn write_key_file(path: &Path, key: &str) {
    std::fs::write(path, format!("{key}\n")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

#[test]
fn wallet_from_env_key_prints_address_not_key() {
    let env = Env::new();
    let (code, out, err) = run(env.cmd(&["wallet"], None).env("BLOCKRUN_WALLET_KEY", KEY_A));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("Address: {ADDR_A}")), "{out}");
    assert!(
        out.contains("BLOCKRUN_WALLET_KEY environment variable"),
        "{out}"
    );
    assert!(out.contains("Proxy: not running"), "{out}");
    assert_no_key(&[&out, &err], KEY_A);
}

#[test]
fn wallet_from_key_file_prints_address_not_key() {
    let env = Env::new();
    let file = env.dir.path().join("wallet.key");
    write_key_file(&file, KEY_1);
    let (code, out, err) = run(env.cmd(&["wallet"], None).env("WALLET_KEY_FILE", &file));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(ADDR_1), "{out}");
    assert!(
        out.contains(&format!("the key file {}", file.display())),
        "{out}"
    );
    assert!(!err.contains("readable by other users"), "{err}");
    assert_no_key(&[&out, &err], KEY_1);
}

#[test]
fn wallet_from_blockrun_session_isolates_home() {
    let env = Env::new();
    std::fs::create_dir_all(env.home().join(".blockrun")).unwrap();
    write_key_file(&env.home().join(".blockrun/.session"), KEY_A);
    let (code, out, err) = run(&mut env.cmd(&["wallet"], None));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(ADDR_A), "{out}");
    assert!(out.contains("BlockRun session"), "{out}");
    assert!(out.contains("proxy-home"), "{out}");
    assert_no_key(&[&out, &err], KEY_A);
}

#[test]
fn wallet_with_nothing_exits_1() {
    let env = Env::new();
    let (code, out, err) = run(&mut env.cmd(&["wallet"], None));
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("no wallet address to show"), "{err}");
    assert!(
        out.contains("ClawRouter uses the wallet it finds or creates itself"),
        "{out}"
    );
}

#[test]
fn wallet_with_bad_key_names_the_variable_only() {
    let env = Env::new();
    let almost = &KEY_A[..60];
    let (code, out, err) = run(env
        .cmd(&["wallet"], None)
        .env("BLOCKRUN_WALLET_KEY", almost));
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("BLOCKRUN_WALLET_KEY"), "{err}");
    assert!(err.contains("58 hex digits"), "{err}");
    assert!(!err.contains(&almost[2..20]), "{err}");
}

#[test]
fn wallet_shows_balance_from_the_proxy() {
    let env = Env::new();
    let port = fake_proxy(
        r#"{"status":"ok","wallet":"0x2c7536E3605D9C16a7a3D7b1898e529396a65c23","paymentChain":"base","balance":"$5.00","isLow":false,"isEmpty":false}"#,
    );
    let (code, out, err) = run(env
        .cmd(&["wallet"], Some(port))
        .env("BLOCKRUN_WALLET_KEY", KEY_A));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("Proxy: up on 127.0.0.1:{port}")),
        "{out}"
    );
    assert!(out.contains("Chain: Base"), "{out}");
    assert!(
        out.starts_with(&format!(
            "ClawRouter pays on Base (its /health at 127.0.0.1:{port}): fund {ADDR_A} with USDC on Base\n"
        )),
        "{out}"
    );
    assert!(out.contains("Balance: $5.00 USDC"), "{out}");
    assert!(!out.contains("Hint"), "{out}");
    assert!(!err.contains("warning"), "{err}");
    assert_no_key(&[&out, &err], KEY_A);
}

fn envelope(out: &str) -> serde_json::Value {
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[test]
fn wallet_json_is_the_blockrun_envelope_with_address_chain_source_and_balance() {
    let env = Env::new();
    let port = fake_proxy(
        r#"{"status":"ok","wallet":"0x2c7536E3605D9C16a7a3D7b1898e529396a65c23","paymentChain":"base","balance":"$5.00","isLow":false,"isEmpty":false}"#,
    );
    let (code, out, err) = run(env
        .cmd(&["wallet", "--json"], Some(port))
        .env("BASE_CHAIN_WALLET_KEY", KEY_A));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.lines().count(), 1, "one JSON line: {out}");
    let v = envelope(&out);
    assert_eq!(v["ok"], true, "{v}");
    assert!(v.get("error").is_none(), "{v}");
    let data = &v["data"];
    assert_eq!(data["address"], ADDR_A);
    assert_eq!(data["chain"], "base");
    assert_eq!(data["asset"], "USDC on Base");
    assert_eq!(data["evmAddress"], ADDR_A);
    assert_eq!(data["solanaAddress"], serde_json::Value::Null);
    assert_eq!(
        data["keySource"],
        "the BASE_CHAIN_WALLET_KEY environment variable"
    );
    assert_eq!(data["proxy"]["up"], true);
    assert_eq!(data["balance"], "$5.00");
    assert_eq!(data["isEmpty"], false);
    assert_no_key(&[&out, &err], KEY_A);

    // proxy down: the address from the key, no balance
    let (code, out, _) = run(env
        .cmd(&["wallet", "--json"], None)
        .env("BLOCKRUN_WALLET_KEY", KEY_1));
    assert_eq!(code, 0, "{out}");
    let v = envelope(&out);
    assert_eq!(v["data"]["address"], ADDR_1);
    assert_eq!(v["data"]["proxy"]["up"], false);
    assert_eq!(v["data"]["balance"], serde_json::Value::Null);
}

#[test]
fn wallet_json_failures_are_error_envelopes_with_exit_1() {
    let env = Env::new();
    let (code, out, err) = run(&mut env.cmd(&["wallet", "--json"], None));
    assert_eq!(code, 1, "{out}{err}");
    let v = envelope(&out);
    assert_eq!(v["ok"], false, "{v}");
    assert!(v.get("data").is_none(), "{v}");
    assert_eq!(v["error"]["code"], "no_wallet");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no wallet address to show"),
        "{v}"
    );

    let (code, out, err) = run(env
        .cmd(&["wallet", "--json"], None)
        .env("BLOCKRUN_WALLET_KEY", "0xnot-a-key-at-all"));
    assert_eq!(code, 1, "{out}{err}");
    let v = envelope(&out);
    assert_eq!(v["error"]["code"], "wallet_key_unusable");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("BLOCKRUN_WALLET_KEY"), "{message}");
    assert!(!out.contains("not-a-key"), "{out}");
}

#[test]
fn wallet_finds_the_session_in_blockrun_home() {
    let env = Env::new();
    let sdk = env.dir.path().join("sdk-home");
    std::fs::create_dir_all(&sdk).unwrap();
    write_key_file(&sdk.join(".session"), KEY_1);
    // ~/.blockrun/.session holds another key: BLOCKRUN_HOME wins over the default folder
    std::fs::create_dir_all(env.home().join(".blockrun")).unwrap();
    write_key_file(&env.home().join(".blockrun/.session"), KEY_A);
    let (code, out, err) = run(env.cmd(&["wallet"], None).env("BLOCKRUN_HOME", &sdk));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(ADDR_1), "{out}");
    assert!(
        out.contains(&format!(
            "Key from: the BlockRun session {}",
            sdk.join(".session").display()
        )),
        "{out}"
    );
    assert_no_key(&[&out, &err], KEY_1);
}

#[test]
fn wallet_empty_balance_hints_funding_and_flags_other_wallet() {
    let env = Env::new();
    let port = fake_proxy(
        r#"{"status":"ok","wallet":"0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf","paymentChain":"base","balance":"$0.00","isLow":true,"isEmpty":true}"#,
    );
    let (code, out, err) = run(env
        .cmd(&["wallet"], Some(port))
        .env("BLOCKRUN_WALLET_KEY", KEY_A));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Balance: $0.00 USDC (empty)"), "{out}");
    // The running proxy's answer wins: that is the wallet it spends from now.
    assert!(
        out.contains(&format!("send USDC on Base to {ADDR_1}")),
        "{out}"
    );
    assert!(out.contains(&format!("Key address: {ADDR_A}")), "{out}");
    assert!(out.contains("free models still work"), "{out}");
    assert!(
        err.contains(&format!("the running proxy pays on Base from {ADDR_1}")),
        "{err}"
    );
    assert!(err.contains("clawrouter-codex start"), "{err}");
    assert_no_key(&[&out, &err], KEY_A);
}

#[test]
fn wallet_without_key_shows_the_proxys_own_wallet() {
    let env = Env::new();
    let port = fake_proxy(
        r#"{"status":"ok","wallet":"0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf","paymentChain":"base","balanceError":"Could not fetch balance"}"#,
    );
    let (code, out, err) = run(&mut env.cmd(&["wallet"], Some(port)));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("Address: {ADDR_1} (reported by the proxy)")),
        "{out}"
    );
    assert!(
        out.contains("Balance: unavailable (the proxy says: Could not fetch balance)"),
        "{out}"
    );
}

#[test]
fn wallet_shows_clawrouters_saved_wallet_and_warns_when_it_shadows_the_key() {
    let env = Env::new();
    let saved = env.home().join(".openclaw/blockrun");
    std::fs::create_dir_all(&saved).unwrap();
    write_key_file(&saved.join("wallet.key"), KEY_1);

    let (code, out, err) = run(&mut env.cmd(&["wallet"], None));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("Address: {ADDR_1} (ClawRouter's saved wallet")),
        "{out}"
    );
    assert_no_key(&[&out, &err], KEY_1);

    let (code, out, err) = run(env.cmd(&["wallet"], None).env("BLOCKRUN_WALLET_KEY", KEY_A));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(ADDR_A), "{out}");
    assert!(err.contains("ClawRouter prefers its saved wallet"), "{err}");
    let (_, _, err) = run(env
        .cmd(&["wallet"], None)
        .env("BLOCKRUN_WALLET_KEY", KEY_A)
        .env("ISOLATE_HOME", "1"));
    assert!(!err.contains("prefers"), "{err}");
}

#[cfg(target_os = "linux")]
mod daemon_linux {
    use super::*;

    fn unit_path(env: &Env) -> PathBuf {
        env.home()
            .join(".config/systemd/user/clawrouter-codex.service")
    }

    #[test]
    fn install_status_uninstall_without_systemctl() {
        let env = Env::new();
        let key_file = env.dir.path().join("wallet.key");
        write_key_file(&key_file, KEY_A);
        let conf = env.dir.path().join("bridge.yaml");
        std::fs::write(&conf, "").unwrap();

        let (code, out, err) = run(env
            .cmd(&["-c", conf.to_str().unwrap(), "daemon", "install"], None)
            .env("PATH", env.no_tools())
            .env("BLOCKRUN_WALLET_KEY", KEY_A)
            .env("WALLET_KEY_FILE", &key_file)
            .env("CLAWROUTER_CMD", "npx -y @blockrun/clawrouter@latest"));
        // Written but not started: systemctl is missing.
        assert_eq!(code, 1, "{out}{err}");
        assert!(out.contains("can spend USDC unattended"), "{out}");
        assert!(err.contains("systemctl was not found on PATH"), "{err}");
        assert!(
            err.contains("systemctl --user daemon-reload && systemctl --user enable --now clawrouter-codex.service"),
            "{err}"
        );
        assert!(err.contains("BLOCKRUN_WALLET_KEY is not written"), "{err}");
        assert!(err.contains("(the same wallet)"), "{err}");

        let unit = std::fs::read_to_string(unit_path(&env)).unwrap();
        let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_clawrouter-codex")).unwrap();
        let conf_abs = std::fs::canonicalize(&conf).unwrap();
        assert!(
            unit.contains(&format!(
                "ExecStart=\"{}\" \"-c\" \"{}\" \"start\"",
                exe.display(),
                conf_abs.display()
            )),
            "{unit}"
        );
        assert!(unit.contains("Restart=on-failure"), "{unit}");
        assert!(unit.contains("WantedBy=default.target"), "{unit}");
        assert!(
            unit.contains(&format!(
                "Environment=\"WALLET_KEY_FILE={}\"",
                key_file.display()
            )),
            "{unit}"
        );
        assert!(
            unit.contains("Environment=\"CLAWROUTER_CMD=npx -y @blockrun/clawrouter@latest\""),
            "{unit}"
        );
        assert!(unit.contains("Environment=\"PROXY_PORT="), "{unit}");
        assert!(
            unit.contains(&format!("Environment=\"PATH={}\"", env.no_tools())),
            "{unit}"
        );
        assert!(!unit.contains("BLOCKRUN_WALLET_KEY"), "{unit}");
        assert_no_key(&[&out, &err, &unit], KEY_A);

        let (code, out, err) = run(env
            .cmd(&["daemon", "status"], None)
            .env("PATH", env.no_tools()));
        assert_eq!(code, 1, "{out}{err}");
        assert!(
            out.contains(&format!("Installed: yes ({})", unit_path(&env).display())),
            "{out}"
        );
        assert!(
            out.contains("Running: unknown (systemctl was not found on PATH)"),
            "{out}"
        );

        for round in 0..2 {
            let (code, out, err) = run(env
                .cmd(&["daemon", "uninstall"], None)
                .env("PATH", env.no_tools()));
            assert_eq!(code, 0, "round {round}: {out}{err}");
            if round == 0 {
                assert!(out.contains("Removed"), "{out}");
            } else {
                assert!(out.contains("Not installed"), "{out}");
            }
            assert!(!unit_path(&env).exists());
        }

        let (code, out, _) = run(env
            .cmd(&["daemon", "status"], None)
            .env("PATH", env.no_tools()));
        assert_eq!(code, 1);
        assert!(out.contains("Installed: no"), "{out}");
    }

    #[test]
    fn install_refuses_when_only_the_raw_key_is_set() {
        let env = Env::new();
        let (code, out, err) = run(env
            .cmd(&["daemon", "install"], None)
            .env("PATH", env.no_tools())
            .env("BLOCKRUN_WALLET_KEY", KEY_A));
        assert_eq!(code, 1, "{out}{err}");
        assert!(err.contains("not installed"), "{err}");
        assert!(err.contains("WALLET_KEY_FILE"), "{err}");
        assert!(!unit_path(&env).exists());
        assert_no_key(&[&out, &err], KEY_A);
    }

    #[test]
    fn install_never_writes_the_base_chain_key() {
        let env = Env::new();
        let (code, out, err) = run(env
            .cmd(&["daemon", "install"], None)
            .env("PATH", env.no_tools())
            .env("BASE_CHAIN_WALLET_KEY", KEY_A));
        assert_eq!(code, 1, "{out}{err}");
        assert!(err.contains("BASE_CHAIN_WALLET_KEY is set"), "{err}");
        assert!(!unit_path(&env).exists());

        let key_file = env.dir.path().join("wallet.key");
        write_key_file(&key_file, KEY_A);
        let (code, out, err) = run(env
            .cmd(&["daemon", "install"], None)
            .env("PATH", env.no_tools())
            .env("BASE_CHAIN_WALLET_KEY", KEY_A)
            .env("WALLET_KEY_FILE", &key_file)
            .env("CLAWROUTER_VERSION", "0.12.250"));
        assert_eq!(code, 1, "written, not started: {out}{err}");
        assert!(
            err.contains("BASE_CHAIN_WALLET_KEY is not written"),
            "{err}"
        );
        let unit = std::fs::read_to_string(unit_path(&env)).unwrap();
        assert!(!unit.contains("BASE_CHAIN_WALLET_KEY"), "{unit}");
        assert!(
            unit.contains("Environment=\"CLAWROUTER_VERSION=0.12.250\""),
            "{unit}"
        );
        assert_no_key(&[&out, &err, &unit], KEY_A);
    }

    #[test]
    fn install_without_conf_uses_the_user_config_when_present() {
        let env = Env::new();
        // no config anywhere: no -c
        let (code, out, err) = run(env
            .cmd(&["daemon", "install"], None)
            .env("PATH", env.no_tools()));
        assert_eq!(code, 1, "{out}{err}");
        let unit = std::fs::read_to_string(unit_path(&env)).unwrap();
        assert!(!unit.contains("\"-c\""), "{unit}");
        assert!(unit.contains("\"start\"\n"), "{unit}");
        assert!(
            out.contains("ClawRouter uses the wallet it finds or creates itself"),
            "{out}"
        );

        // ~/.clawrouter-codex/bridge.yaml is picked up (config::locate finds it too)
        let user_conf = env.home().join(".clawrouter-codex/bridge.yaml");
        std::fs::write(&user_conf, "").unwrap();
        let (_, out, err) = run(env
            .cmd(&["daemon", "install"], None)
            .env("PATH", env.no_tools()));
        let unit = std::fs::read_to_string(unit_path(&env)).unwrap();
        let user_conf = std::fs::canonicalize(user_conf).unwrap();
        assert!(
            unit.contains(&format!("\"-c\" \"{}\"", user_conf.display())),
            "{unit}\n{out}{err}"
        );
    }
}
