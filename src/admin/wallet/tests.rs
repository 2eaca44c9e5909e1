//! Unit tests of the wallet: address derivation on known vectors (EIP-55 checksums), bad keys
//! described and never echoed, key files and where a key is found, the proxy's health answer,
//! and the report.

use super::*;
use crate::config::{resolve, CliOverrides, EnvOverrides, FileConfig};
use std::collections::HashMap;

const KEY_A: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const ADDR_A: &str = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";
const KEY_1: &str = "0x0000000000000000000000000000000000000000000000000000000000000001";
const ADDR_1: &str = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf";
const KEY_B: &str = "0x8da4ef21b864d2cc526dbdb2a120bd2874c36c9d0a1fb7f8c63d7f7a8b41de8f";

fn config_with(file_key: Option<&Path>, isolate: bool) -> Config {
    let mut cfg = resolve(
        FileConfig::default(),
        None,
        &EnvOverrides::default(),
        &CliOverrides::default(),
    )
    .unwrap();
    cfg.proxy.wallet_key_file = file_key.map(Path::to_path_buf);
    cfg.proxy.isolate_home = isolate;
    cfg
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name: &str| map.get(name).cloned()
}

fn addr(key: &str) -> String {
    address_from_key(&SecretKey::parse(key).unwrap()).unwrap()
}

#[test]
fn known_vectors() {
    assert_eq!(addr(KEY_A), ADDR_A);
    assert_eq!(addr(KEY_1), ADDR_1);
    // key 2 → 0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF (well-known)
    assert_eq!(
        addr("0x0000000000000000000000000000000000000000000000000000000000000002"),
        "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF"
    );
    // without 0x and upper case
    assert_eq!(addr(&KEY_A[2..].to_uppercase()), ADDR_A);
}

#[test]
fn eip55_spec_examples() {
    for expected in [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        "0x52908400098527886E0F7030069857D2E4169EE7",
        "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
        "0xde709f2102306220921060314715629080e2fb77",
        "0x27b1fdb04752bbc536007a920d24acb045561c26",
    ] {
        let lower = expected[2..].to_lowercase();
        let bytes: Vec<u8> = (0..20)
            .map(|i| u8::from_str_radix(&lower[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        assert_eq!(to_checksum_address(&bytes), expected);
    }
}

#[test]
fn bad_keys_are_described_not_echoed() {
    let cases = [
        ("", KeyProblem::Empty),
        ("0x12", KeyProblem::WrongLength(2)),
        ("0xzz", KeyProblem::NotHex),
        (
            "0x0000000000000000000000000000000000000000000000000000000000000000",
            KeyProblem::OutOfRange,
        ),
        (
            "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            KeyProblem::OutOfRange,
        ),
    ];
    for (text, problem) in cases {
        assert_eq!(SecretKey::parse(text).unwrap_err(), problem, "{text}");
    }
    let secret = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f36231";
    let err = WalletError::EnvKey {
        var: ENV_KEY,
        problem: SecretKey::parse(secret).unwrap_err(),
    };
    assert!(!err.to_string().contains(&secret[2..20]), "{err}");
}

#[test]
fn key_files_in_several_shapes() {
    let ok = [
        format!("{KEY_A}\n"),
        format!("  {KEY_A}  \r\n"),
        format!("\u{feff}{KEY_A}"),
        KEY_A[2..].to_owned(),
        format!("{{\"privateKey\":\"{KEY_A}\",\"address\":\"{ADDR_A}\"}}"),
        format!("{{\"key\":\"{KEY_A}\"}}"),
        format!("# wallet\nkey = {KEY_A}\n"),
        format!("{KEY_A}\n{KEY_A}\n"),
    ];
    for text in ok {
        let key = key_from_text(&text).unwrap();
        assert_eq!(address_from_key(&key).unwrap(), ADDR_A);
    }
    assert_eq!(key_from_text("\n").unwrap_err(), KeyProblem::Empty);
    assert_eq!(key_from_text("hello").unwrap_err(), KeyProblem::NotHex);
    assert_eq!(
        key_from_text("hello world").unwrap_err(),
        KeyProblem::NoKeyFound
    );
    assert_eq!(
        key_from_text(&format!("{KEY_A}\n{KEY_B}")).unwrap_err(),
        KeyProblem::SeveralKeys
    );
    // a 0x token longer than 64 digits is not a key
    assert_eq!(
        key_from_text(&format!("{KEY_A}00")).unwrap_err(),
        KeyProblem::WrongLength(66)
    );
    assert_eq!(
        key_from_text(&format!("key: {KEY_A}00\n")).unwrap_err(),
        KeyProblem::NoKeyFound
    );
}

#[test]
fn debug_never_shows_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let env = env_of(&[
        ("BLOCKRUN_WALLET_KEY", KEY_A),
        ("HOME", tmp.path().to_str().unwrap()),
    ]);
    let d = discover(&config_with(None, true), &env).unwrap();
    let shown = format!("{d:?} {:?} {:?}", d.proxy_env(), d.key);
    let hex = &KEY_A[2..];
    assert!(!shown.to_lowercase().contains(hex), "{shown}");
    assert!(!shown.contains(&hex[..16]), "{shown}");
    assert!(shown.contains("<redacted>"));
    // the bytes are not in the Debug as a byte list either
    assert!(!shown.contains("76, 8, 131"));
}

#[test]
fn discovery_precedence() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(home.join(".blockrun")).unwrap();
    let session = home.join(".blockrun/.session");
    let file = tmp.path().join("key.txt");
    let conf_file = tmp.path().join("conf-key.txt");
    std::fs::write(&file, format!("{KEY_B}\n")).unwrap();
    std::fs::write(&conf_file, format!("{KEY_1}\n")).unwrap();
    let h = home.to_str().unwrap();
    let f = file.to_str().unwrap();

    // 1. env key beats everything
    std::fs::write(&session, KEY_A).unwrap();
    let d = discover(
        &config_with(Some(&conf_file), false),
        &env_of(&[
            ("HOME", h),
            ("BLOCKRUN_WALLET_KEY", KEY_1),
            ("WALLET_KEY_FILE", f),
        ]),
    )
    .unwrap();
    assert_eq!(d.source, WalletSource::EnvKey("BLOCKRUN_WALLET_KEY"));
    assert!(!d.isolate_home);
    assert_eq!(d.address().unwrap().unwrap(), ADDR_1);

    // 2. WALLET_KEY_FILE beats the config file and the session
    let d = discover(
        &config_with(Some(&conf_file), false),
        &env_of(&[("HOME", h), ("WALLET_KEY_FILE", f)]),
    )
    .unwrap();
    assert_eq!(d.source, WalletSource::KeyFile(file.clone()));
    assert_eq!(d.address().unwrap().unwrap(), addr(KEY_B));

    // 2b. config proxy.wallet_key_file
    let d = discover(
        &config_with(Some(&conf_file), true),
        &env_of(&[("HOME", h)]),
    )
    .unwrap();
    assert_eq!(d.source, WalletSource::KeyFile(conf_file.clone()));
    assert!(d.isolate_home);

    // 3. the session, with isolation forced on
    let d = discover(&config_with(None, false), &env_of(&[("HOME", h)])).unwrap();
    assert_eq!(d.source, WalletSource::BlockrunSession(session.clone()));
    assert!(d.isolate_home);
    assert_eq!(d.address().unwrap().unwrap(), ADDR_A);
    let env: Vec<(&str, String)> = d
        .proxy_env()
        .iter()
        .map(|(k, v)| (k, v.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(
        env,
        vec![
            ("BLOCKRUN_WALLET_KEY", KEY_A.to_owned()),
            (
                "HOME",
                home.join(".clawrouter-codex/proxy-home")
                    .to_string_lossy()
                    .into_owned()
            )
        ]
    );
    d.prepare_proxy_home().unwrap();
    assert!(home.join(".clawrouter-codex/proxy-home").is_dir());

    // 4. nothing: ClawRouter's own; ISOLATE_HOME from env honoured
    std::fs::remove_file(&session).unwrap();
    let d = discover(&config_with(None, false), &env_of(&[("HOME", h)])).unwrap();
    assert_eq!(d.source, WalletSource::ClawRouterOwn);
    assert!(d.key.is_none() && !d.isolate_home);
    assert!(d.proxy_env().names().is_empty());
    let d = discover(
        &config_with(None, false),
        &env_of(&[("HOME", h), ("ISOLATE_HOME", "1")]),
    )
    .unwrap();
    assert_eq!(d.proxy_env().names(), vec!["HOME"]);

    // blank values count as unset
    let d = discover(
        &config_with(None, false),
        &env_of(&[
            ("HOME", h),
            ("BLOCKRUN_WALLET_KEY", "  "),
            ("WALLET_KEY_FILE", ""),
        ]),
    )
    .unwrap();
    assert_eq!(d.source, WalletSource::ClawRouterOwn);
}

#[test]
fn blockrun_sdk_sources_come_in_its_order() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let sdk_home = tmp.path().join("sdk");
    std::fs::create_dir_all(home.join(".blockrun")).unwrap();
    std::fs::create_dir_all(&sdk_home).unwrap();
    std::fs::write(home.join(".blockrun/.session"), KEY_1).unwrap();
    std::fs::write(sdk_home.join(".session"), KEY_B).unwrap();
    let file = tmp.path().join("key.txt");
    std::fs::write(&file, KEY_1).unwrap();
    let (h, s, f) = (
        home.to_str().unwrap(),
        sdk_home.to_str().unwrap(),
        file.to_str().unwrap(),
    );
    let cfg = config_with(None, false);

    // BLOCKRUN_WALLET_KEY before BASE_CHAIN_WALLET_KEY
    let d = discover(
        &cfg,
        &env_of(&[
            ("HOME", h),
            ("BLOCKRUN_WALLET_KEY", KEY_A),
            ("BASE_CHAIN_WALLET_KEY", KEY_B),
        ]),
    )
    .unwrap();
    assert_eq!(d.source, WalletSource::EnvKey("BLOCKRUN_WALLET_KEY"));
    assert_eq!(d.address().unwrap().unwrap(), ADDR_A);

    // BASE_CHAIN_WALLET_KEY before our key file and the session; the proxy gets it as
    // BLOCKRUN_WALLET_KEY
    let d = discover(
        &cfg,
        &env_of(&[
            ("HOME", h),
            ("BASE_CHAIN_WALLET_KEY", KEY_A),
            ("WALLET_KEY_FILE", f),
            ("BLOCKRUN_HOME", s),
        ]),
    )
    .unwrap();
    assert_eq!(d.source, WalletSource::EnvKey("BASE_CHAIN_WALLET_KEY"));
    assert_eq!(
        d.source.describe(),
        "the BASE_CHAIN_WALLET_KEY environment variable"
    );
    assert_eq!(d.proxy_env().names(), vec!["BLOCKRUN_WALLET_KEY"]);
    assert_eq!(d.address().unwrap().unwrap(), ADDR_A);

    // our key file before the session
    let d = discover(
        &cfg,
        &env_of(&[("HOME", h), ("WALLET_KEY_FILE", f), ("BLOCKRUN_HOME", s)]),
    )
    .unwrap();
    assert_eq!(d.source, WalletSource::KeyFile(file.clone()));

    // $BLOCKRUN_HOME/.session instead of ~/.blockrun/.session
    let d = discover(&cfg, &env_of(&[("HOME", h), ("BLOCKRUN_HOME", s)])).unwrap();
    assert_eq!(
        d.source,
        WalletSource::BlockrunSession(sdk_home.join(".session"))
    );
    assert_eq!(d.address().unwrap().unwrap(), addr(KEY_B));
    assert!(d.isolate_home);

    // BLOCKRUN_HOME with ~ is under HOME; without a session there, ClawRouter's own
    let d = discover(
        &cfg,
        &env_of(&[("HOME", h), ("BLOCKRUN_HOME", "~/elsewhere")]),
    )
    .unwrap();
    assert_eq!(d.source, WalletSource::ClawRouterOwn);

    // a bad BASE_CHAIN_WALLET_KEY is an error naming it, not a fall-through
    let e = discover(
        &cfg,
        &env_of(&[("HOME", h), ("BASE_CHAIN_WALLET_KEY", "0xnope")]),
    )
    .unwrap_err();
    assert!(e.to_string().contains("BASE_CHAIN_WALLET_KEY"), "{e}");
    assert!(!e.to_string().contains("nope"), "{e}");
}

#[test]
fn broken_sources_are_errors_not_fallthrough() {
    let tmp = tempfile::tempdir().unwrap();
    let h = tmp.path().to_str().unwrap();
    std::fs::create_dir_all(tmp.path().join(".blockrun")).unwrap();
    let session = tmp.path().join(".blockrun/.session");
    std::fs::write(&session, format!("{}\n", &KEY_A[..40])).unwrap();

    let e = discover(
        &config_with(None, false),
        &env_of(&[("HOME", h), ("BLOCKRUN_WALLET_KEY", "0xnope")]),
    )
    .unwrap_err();
    assert!(e.to_string().contains("BLOCKRUN_WALLET_KEY"), "{e}");
    assert!(!e.to_string().contains("nope"), "{e}");

    let missing = tmp.path().join("missing.key");
    let e = discover(
        &config_with(None, false),
        &env_of(&[("HOME", h), ("WALLET_KEY_FILE", missing.to_str().unwrap())]),
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("missing.key") && msg.contains("WALLET_KEY_FILE"),
        "{msg}"
    );

    let e = discover(&config_with(None, false), &env_of(&[("HOME", h)])).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(".session") && msg.contains("38 hex digits"),
        "{msg}"
    );
    assert!(!msg.contains(&KEY_A[2..12]), "{msg}");

    // ~ in WALLET_KEY_FILE is expanded with HOME
    std::fs::write(tmp.path().join("k"), KEY_1).unwrap();
    let d = discover(
        &config_with(None, false),
        &env_of(&[("HOME", h), ("WALLET_KEY_FILE", "~/k")]),
    )
    .unwrap();
    assert_eq!(d.source, WalletSource::KeyFile(tmp.path().join("k")));

    // isolation without HOME has nowhere to go
    let e = discover(&config_with(None, true), &env_of(&[])).unwrap_err();
    assert!(matches!(e, WalletError::NoHome));
}

#[test]
fn health_parsing() {
    let h = ProxyHealth::from_json(
        r#"{"status":"ok","wallet":"0xabc","paymentChain":"base","balance":"$5.00","isLow":false,"isEmpty":false}"#,
    )
    .unwrap();
    assert_eq!(h.balance.as_deref(), Some("$5.00"));
    assert_eq!(h.is_empty, Some(false));
    let h = ProxyHealth::from_json(
        r#"{"status":"ok","wallet":"0xabc","paymentChain":"base","balanceError":"Could not fetch balance"}"#,
    )
    .unwrap();
    assert!(h.balance.is_none());
    assert_eq!(h.balance_error.as_deref(), Some("Could not fetch balance"));
    assert!(ProxyHealth::from_json("nope").is_none());
}

fn serve_once(body: &'static str) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn report_with_empty_wallet_hints_funding() {
    let tmp = tempfile::tempdir().unwrap();
    let port = serve_once(
        r#"{"status":"ok","wallet":"0x2c7536E3605D9C16a7a3D7b1898e529396a65c23","paymentChain":"base","balance":"$0.00","isLow":true,"isEmpty":true}"#,
    );
    let cfg = config_for_proxy(port);
    let env = env_of(&[
        ("HOME", tmp.path().to_str().unwrap()),
        ("BLOCKRUN_WALLET_KEY", KEY_A),
    ]);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = report(&cfg, &env, false, &mut out, &mut err);
    let (out, err) = (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    );
    assert_eq!(code, ExitCode::SUCCESS, "{out}{err}");
    assert!(out.contains(ADDR_A), "{out}");
    assert!(out.contains("Balance: $0.00 USDC (empty)"), "{out}");
    assert!(out.contains("send USDC on Base"), "{out}");
    assert!(!format!("{out}{err}").contains(&KEY_A[2..]));
}

#[test]
fn report_without_key_or_proxy_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let cfg = config_for_proxy(free.local_addr().unwrap().port());
    drop(free);
    let env = env_of(&[("HOME", tmp.path().to_str().unwrap())]);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = report(&cfg, &env, false, &mut out, &mut err);
    assert_eq!(code, ExitCode::from(1));
    let err = String::from_utf8(err).unwrap();
    assert!(err.contains("no wallet address to show"), "{err}");
}

// ---- ClawRouter paying on Solana or Base ------------------------------------------------------

/// The published BIP-39 vector: its Solana address (m/44'/501'/0'/0'), and its EVM key and
/// address (m/44'/60'/0'/0/0), as ClawRouter saves them.
const ABANDON: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon \
                       abandon abandon about";
const ABANDON_SOLANA: &str = "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk";
const ABANDON_EVM_KEY: &str = "0x1ab42cc412b618bdea3a599e3c9bae199ebf030895b039e9db1e30dafb12b727";
const ABANDON_EVM: &str = "0x9858EfFD232B4033E47d90003D41EC34EcaEda94";

/// The defaults, with the proxy (the upstream) on `port`, as `CLAWROUTER_PROXY_URL` sets it.
fn config_for_proxy(port: u16) -> Config {
    let env = EnvOverrides {
        proxy_url: Some(format!("http://127.0.0.1:{port}/v1")),
        ..EnvOverrides::default()
    };
    resolve(FileConfig::default(), None, &env, &CliOverrides::default()).unwrap()
}

fn closed_port() -> u16 {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    free.local_addr().unwrap().port()
}

/// ClawRouter's files under `home`: `wallet.key`, `mnemonic`, `payment-chain` (each optional).
fn clawrouter_files(home: &Path, mnemonic: Option<&str>, chain: Option<&str>) -> PathBuf {
    let dir = home.join(".openclaw/blockrun");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("wallet.key"), format!("{ABANDON_EVM_KEY}\n")).unwrap();
    if let Some(words) = mnemonic {
        std::fs::write(dir.join("mnemonic"), format!("{words}\n")).unwrap();
    }
    if let Some(chain) = chain {
        std::fs::write(dir.join("payment-chain"), format!("{chain}\n")).unwrap();
    }
    dir
}

fn run_report(cfg: &Config, pairs: &[(&str, &str)]) -> (ExitCode, String, String) {
    let env = env_of(pairs);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = report(cfg, &env, false, &mut out, &mut err);
    let (out, err) = (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    );
    for secret in [&ABANDON[..30], &ABANDON_EVM_KEY[2..30]] {
        assert!(!out.contains(secret) && !err.contains(secret), "{out}{err}");
    }
    (code, out, err)
}

#[test]
fn the_saved_evm_key_of_the_published_vector() {
    assert_eq!(addr(ABANDON_EVM_KEY), ABANDON_EVM);
}

#[test]
fn offline_on_solana_it_says_to_fund_the_mnemonics_address() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = clawrouter_files(tmp.path(), Some(ABANDON), Some("solana"));
    let cfg = config_for_proxy(closed_port());
    let (code, out, err) = run_report(&cfg, &[("HOME", tmp.path().to_str().unwrap())]);
    assert_eq!(code, ExitCode::SUCCESS, "{out}{err}");
    assert!(
        out.starts_with(&format!(
            "ClawRouter pays on Solana (payment-chain file {}): fund {ABANDON_SOLANA} with USDC on Solana\n",
            dir.join("payment-chain").display()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Address: {ABANDON_SOLANA} (Solana, from ClawRouter's mnemonic {})",
            dir.join("mnemonic").display()
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("EVM address: {ABANDON_EVM} (Base: not paid from")),
        "{out}"
    );
    assert!(out.contains("Proxy: not running on 127.0.0.1:"), "{out}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn offline_the_environment_beats_the_file_and_solana_needs_a_mnemonic() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().to_str().unwrap();
    let dir = clawrouter_files(tmp.path(), Some(ABANDON), Some("solana"));
    let cfg = config_for_proxy(closed_port());
    let (_, out, _) = run_report(
        &cfg,
        &[("HOME", home), ("CLAWROUTER_PAYMENT_CHAIN", "base")],
    );
    assert!(
        out.starts_with(&format!(
            "ClawRouter pays on Base (CLAWROUTER_PAYMENT_CHAIN=base): fund {ABANDON_EVM} with USDC on Base"
        )),
        "{out}"
    );
    assert!(!out.contains(ABANDON_SOLANA), "{out}");

    std::fs::remove_file(dir.join("mnemonic")).unwrap();
    let (code, out, _) = run_report(
        &cfg,
        &[("HOME", home), ("CLAWROUTER_PAYMENT_CHAIN", "solana")],
    );
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
    assert!(
        out.starts_with(&format!(
            "ClawRouter pays on Base (CLAWROUTER_PAYMENT_CHAIN=solana, but no mnemonic in {}, so it falls back to Base): fund {ABANDON_EVM} with USDC on Base",
            dir.display()
        )),
        "{out}"
    );

    // No payment-chain file: Base, from the saved wallet.
    std::fs::remove_file(dir.join("payment-chain")).unwrap();
    let (_, out, _) = run_report(&cfg, &[("HOME", home)]);
    assert!(
        out.starts_with(&format!(
            "ClawRouter pays on Base (no payment-chain file in {}): fund {ABANDON_EVM} with USDC on Base",
            dir.display()
        )),
        "{out}"
    );
}

#[test]
fn a_bad_mnemonic_is_named_by_its_file_never_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let words = ABANDON.replace(" about", "");
    let dir = clawrouter_files(tmp.path(), Some(&words), Some("solana"));
    let cfg = config_for_proxy(closed_port());
    let (code, out, err) = run_report(&cfg, &[("HOME", tmp.path().to_str().unwrap())]);
    assert_eq!(code, ExitCode::from(1), "{out}{err}");
    assert!(
        err.contains(&format!(
            "ClawRouter's mnemonic file {} has 11 words instead of 12, 15, 18, 21 or 24",
            dir.join("mnemonic").display()
        )),
        "{err}"
    );
    assert!(!err.contains("abandon"), "{err}");
}

#[test]
fn online_the_proxys_solana_address_wins_and_a_mismatch_is_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    // The files say Base (no payment-chain file); the running proxy pays on Solana.
    clawrouter_files(tmp.path(), Some(ABANDON), None);
    let port = serve_once(
        r#"{"status":"ok","wallet":"0x9858EfFD232B4033E47d90003D41EC34EcaEda94","paymentChain":"solana","solana":"HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk","balance":"$0.00","isLow":true,"isEmpty":true}"#,
    );
    let (code, out, err) = run_report(
        &config_for_proxy(port),
        &[("HOME", tmp.path().to_str().unwrap())],
    );
    assert_eq!(code, ExitCode::SUCCESS, "{out}{err}");
    assert!(
        out.starts_with(&format!(
            "ClawRouter pays on Solana (its /health at 127.0.0.1:{port}): fund {ABANDON_SOLANA} with USDC on Solana\n"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Address: {ABANDON_SOLANA} (reported by the proxy)"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("Proxy: up on 127.0.0.1:{port}")),
        "{out}"
    );
    assert!(out.contains("Chain: Solana"), "{out}");
    assert!(
        out.contains(&format!("Hint: send USDC on Solana to {ABANDON_SOLANA}")),
        "{out}"
    );
    assert!(
        err.contains(&format!(
            "warning: the running proxy pays on Solana from {ABANDON_SOLANA}, but no payment-chain file in"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("says Base from {ABANDON_EVM}")),
        "{err}"
    );
}
