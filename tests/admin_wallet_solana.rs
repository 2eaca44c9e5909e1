//! Our Solana derivation against an independent one: for the published BIP-39 vector and for
//! freshly generated mnemonics, the address `clawrouter-codex wallet` says to fund (read
//! offline from ClawRouter's files, the proxy down) equals the one the npm packages Solana
//! wallets use derive (tests/support/solana-derive.mjs: bip39, ed25519-hd-key, tweetnacl,
//! bs58, pinned in scripts/install-deps.sh --solana). The mnemonic never appears in the output.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

const ABANDON: &str = "abandon abandon abandon abandon abandon abandon abandon abandon abandon \
                       abandon abandon about";
const ABANDON_SOLANA: &str = "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk";

/// The independent derivation: (mnemonics, addresses) for `given` mnemonics, or for `count`
/// fresh ones when `given` is empty.
fn node_derive(given: &[&str], count: usize) -> (Vec<String>, Vec<String>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let modules = root.join(".tools/solana/node_modules");
    assert!(
        modules.join("ed25519-hd-key").is_dir(),
        "the independent Solana derivation needs its npm packages: run scripts/install-deps.sh --solana"
    );
    let out = Command::new("node")
        .arg(root.join("tests/support/solana-derive.mjs"))
        .args(given)
        .env("NODE_PATH", &modules)
        .env("COUNT", count.to_string())
        .output()
        .expect("run node");
    assert!(out.status.success(), "{out:?}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = |key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    (list("mnemonics"), list("addresses"))
}

/// What `wallet` says to fund for ClawRouter's files holding `mnemonic` and `payment-chain`
/// `solana`, with no proxy running.
fn ours(mnemonic: &str) -> String {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".openclaw/blockrun");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("mnemonic"), format!("{mnemonic}\n")).unwrap();
    std::fs::write(dir.join("payment-chain"), "solana\n").unwrap();
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = common::cli::clean_command()
        .arg("wallet")
        .env("HOME", home.path())
        .env("PROXY_PORT", closed.to_string())
        .env("PORT", "1")
        .current_dir(home.path())
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    let first_word = mnemonic.split(' ').next().unwrap();
    let words: Vec<&str> = mnemonic.split(' ').collect();
    assert!(
        !stdout.contains(&words[..3].join(" ")) && !stderr.contains(&words[..3].join(" ")),
        "the mnemonic leaked ({first_word} …): {stdout}{stderr}"
    );
    let line = stdout.lines().next().unwrap_or_default();
    let rest = line
        .split_once("): fund ")
        .unwrap_or_else(|| panic!("no funding line: {stdout}"))
        .1;
    let address = rest
        .strip_suffix(" with USDC on Solana")
        .unwrap_or_else(|| panic!("not Solana: {line}"));
    assert!(
        line.starts_with("ClawRouter pays on Solana (payment-chain file "),
        "{line}"
    );
    address.to_owned()
}

#[test]
fn the_published_vector_agrees_with_the_npm_packages() {
    let (_, addresses) = node_derive(&[ABANDON], 0);
    assert_eq!(addresses, [ABANDON_SOLANA]);
    assert_eq!(ours(ABANDON), ABANDON_SOLANA);
}

#[test]
fn fresh_mnemonics_agree_with_the_npm_packages() {
    // 12- and 24-word mnemonics, new on every run.
    let (mnemonics, addresses) = node_derive(&[], 4);
    assert_eq!(mnemonics.len(), 4);
    assert!(mnemonics.iter().any(|m| m.split(' ').count() == 24));
    for (mnemonic, expected) in mnemonics.iter().zip(&addresses) {
        assert_eq!(
            &ours(mnemonic),
            expected,
            "{} words",
            mnemonic.split(' ').count()
        );
    }
}
