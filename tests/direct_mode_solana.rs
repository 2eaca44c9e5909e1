//! Direct mode paying on Solana (issue #17) end to end, against the strict mock BlockRun: every
//! transaction the bridge signs is decoded and signature-checked there by an independent
//! implementation (@solana/web3.js and tweetnacl, `tests/support/x402-verify.mjs`), and the
//! money rules are proved by what the mock received — what was signed, how often, on which
//! blockhash, and what was never signed. Mirrors `tests/direct_mode.rs` (Base).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use clawrouter_codex::config::direct::FileDirect;
use clawrouter_codex::config::EnvOverrides;
use clawrouter_codex::direct::solana_rpc::{self, SolanaRpc};
use clawrouter_codex::payments::policy::Usdc;
use common::bridge::BridgeGuard;
use common::client::{post_json, Answer};
use common::mock_upstream::blockrun::{
    FEE_PAYER, SOLANA_NETWORK, SOLANA_PAY_TO, SOLANA_USDC, TOKEN_PROGRAM,
};
use common::mock_upstream::{Chain, MockUpstream, PaymentOutcome, Paywall, Reply};
use serde_json::{json, Value};
use tempfile::TempDir;

/// The published BIP-39 test mnemonic and the Solana address SLIP-10 `m/44'/501'/0'/0'` gives.
const ABANDON: &str = "abandon abandon abandon abandon abandon abandon abandon abandon \
                       abandon abandon abandon about";
const ADDRESS: &str = "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk";

/// A bridge in direct mode paying on Solana from the ABANDON mnemonic (a key file).
struct Direct {
    dir: TempDir,
    bridge: BridgeGuard,
}

impl Direct {
    fn start(mock: &MockUpstream, tweak: impl FnOnce(&mut FileDirect)) -> Direct {
        let dir = tempfile::tempdir().unwrap();
        let bridge = start_in(dir.path(), mock, tweak, &EnvOverrides::default()).unwrap();
        Direct { dir, bridge }
    }

    fn turn(&self, model: &str, text: &str) -> Answer {
        post_json(
            &self.bridge.url("/v1/responses"),
            &json!({"model": model, "input": text, "stream": true}),
        )
    }

    /// The ledger's rows: (nonce, chain, payee, outcome), oldest first.
    fn ledger(&self) -> Vec<(String, String, String, String)> {
        ledger_rows(&self.dir.path().join("payments.sqlite"))
    }
}

fn ledger_rows(path: &Path) -> Vec<(String, String, String, String)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT nonce, chain, payee, outcome FROM payments ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn start_in(
    dir: &Path,
    mock: &MockUpstream,
    tweak: impl FnOnce(&mut FileDirect),
    env: &EnvOverrides,
) -> Result<BridgeGuard, String> {
    let key_file = dir.join("solana.key");
    if !key_file.exists() {
        std::fs::write(&key_file, format!("{ABANDON}\n")).unwrap();
    }
    let rpc = mock.solana_rpc_url();
    common::direct::start_in(
        dir,
        mock,
        |d| {
            d.chain = Some("solana".to_owned());
            d.solana_rpc_url = Some(rpc);
            d.solana_key_file = Some(key_file);
            tweak(d);
        },
        env,
    )
}

fn mock(paywall: Paywall) -> MockUpstream {
    MockUpstream::builder()
        .blockrun(paywall)
        .start(|call| Reply::text(format!("answer from {}", call.model())))
}

/// The text the answer streamed, and its terminal event.
fn streamed(answer: &Answer) -> (String, Option<Value>) {
    let events = answer.events();
    let text: String = events
        .iter()
        .filter(|e| e["type"] == "response.output_text.delta")
        .map(|e| e["delta"].as_str().unwrap().to_owned())
        .collect();
    let end = events
        .iter()
        .find(|e| e["type"] == "response.completed" || e["type"] == "response.failed")
        .cloned();
    (text, end)
}

fn completed(answer: &Answer) -> bool {
    streamed(answer)
        .1
        .is_some_and(|e| e["type"] == "response.completed")
}

fn failure_message(answer: &Answer) -> String {
    let (_, end) = streamed(answer);
    let end = end.expect("a terminal event");
    assert_eq!(end["type"], "response.failed", "{end}");
    end["response"]["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn chat_requests(mock: &MockUpstream) -> usize {
    mock.requests().iter().filter(|r| r.is_chat()).count()
}

fn blockhash_calls(mock: &MockUpstream) -> usize {
    mock.rpc_calls()
        .iter()
        .filter(|c| c.chain == Chain::Solana && c.method == "getLatestBlockhash")
        .count()
}

#[test]
fn a_turn_is_paid_on_solana_with_a_transaction_web3_verifies() {
    let mock = mock(Paywall::solana());
    let direct = Direct::start(&mock, |_| {});
    let answer = direct.turn("blockrun/auto", "Say hi.");
    assert_eq!(answer.status, 200);
    let (text, end) = streamed(&answer);
    assert_eq!(end.unwrap()["type"], "response.completed");
    assert_eq!(text, "answer from deepseek/deepseek-chat");
    let payments = mock.payments();
    assert_eq!(payments.len(), 1, "{payments:?}");
    let paid = &payments[0];
    assert_eq!(paid.chain, Chain::Solana);
    assert!(paid.verified, "{paid:?}");
    assert_eq!(paid.outcome, PaymentOutcome::Settled);
    assert_eq!(
        paid.from.as_deref(),
        Some(ADDRESS),
        "web3.js: our key signed"
    );
    assert_eq!(paid.payee.as_deref(), Some(SOLANA_PAY_TO));
    assert_eq!(paid.amount, Some(paid.quoted), "pays what was asked");
    // What web3.js decoded.
    let report = &paid.report;
    assert_eq!(report["feePayer"], FEE_PAYER, "{report}");
    assert_eq!(report["version"], 0);
    assert_eq!(report["lookups"], 0);
    let transfer = &report["transfers"][0];
    assert_eq!(transfer["program"], TOKEN_PROGRAM);
    assert_eq!(transfer["mint"], SOLANA_USDC);
    assert_eq!(transfer["decimals"], 6);
    assert_eq!(transfer["authority"], ADDRESS);
    assert_eq!(
        transfer["destination"],
        report["expectedDestination"][format!("{SOLANA_USDC}/{SOLANA_PAY_TO}")],
        "to the payee's USDC token account"
    );
    assert_eq!(
        transfer["source"], "5N3f1tj9v1vc5TUZ8S7mCAnVmjVKrfnzXWhxLaxyZAgt",
        "from our USDC token account (published)"
    );
    let memos = report["memos"].as_array().unwrap();
    assert_eq!(memos.len(), 1, "{report}");
    assert_eq!(memos[0].as_str().unwrap().len(), 32);
    let signatures = report["signatures"].as_array().unwrap();
    assert_eq!(signatures[0]["zero"], true, "the fee payer's, left for it");
    assert_eq!(signatures[1]["signer"], ADDRESS);
    assert_eq!(signatures[1]["valid"], true);
    // The blockhash came from the configured RPC; the ledger has the chain and the signature.
    assert!(mock
        .blockhashes()
        .contains(&report["blockhash"].as_str().unwrap().to_owned()));
    assert_eq!(blockhash_calls(&mock), 1);
    let rows = direct.ledger();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0].0, paid.tx_signature.as_ref().unwrap());
    assert_eq!(rows[0].1, SOLANA_NETWORK);
    assert_eq!(rows[0].2, SOLANA_PAY_TO);
    assert_eq!(rows[0].3, "answered");
}

#[test]
fn the_configured_chains_offer_is_taken_whichever_comes_first() {
    // Base is listed first; direct.chain: solana still pays the Solana entry.
    let mock_both = mock(Paywall::both());
    let direct = Direct::start(&mock_both, |_| {});
    assert!(completed(&direct.turn("premium", "Say hi.")));
    let payments = mock_both.payments();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].chain, Chain::Solana);
    assert!(payments[0].verified);
    // Solana listed first; direct.chain: base pays the Base entry.
    let mock_both = mock(Paywall::both().offers(&[Chain::Solana, Chain::Base]));
    let dir = tempfile::tempdir().unwrap();
    // The common direct-mode bridge: Base, with an EVM key (and the Solana RPC, to see it unused).
    let rpc = mock_both.solana_rpc_url();
    let bridge = common::direct::start_in(
        dir.path(),
        &mock_both,
        |d| d.solana_rpc_url = Some(rpc),
        &EnvOverrides::default(),
    )
    .unwrap();
    let answer = post_json(
        &bridge.url("/v1/responses"),
        &json!({"model": "premium", "input": "Say hi.", "stream": true}),
    );
    assert!(completed(&answer));
    let payments = mock_both.payments();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].chain, Chain::Base);
    assert!(payments[0].verified);
    assert!(
        mock_both.rpc_calls().is_empty(),
        "no Solana RPC call on Base"
    );
}

#[test]
fn auto_follows_clawrouters_payment_chain_file_and_pays_from_its_mnemonic() {
    let mock = mock(Paywall::both());
    let home = tempfile::tempdir().unwrap();
    let wallet_dir = home.path().join(".openclaw").join("blockrun");
    std::fs::create_dir_all(&wallet_dir).unwrap();
    std::fs::write(wallet_dir.join("mnemonic"), format!("{ABANDON}\n")).unwrap();
    std::fs::write(wallet_dir.join("payment-chain"), "solana\n").unwrap();
    let env = EnvOverrides {
        home: Some(home.path().to_string_lossy().into_owned()),
        ..EnvOverrides::default()
    };
    let bridge = start_in(
        home.path(),
        &mock,
        |d| {
            d.chain = Some("auto".to_owned());
            d.solana_key_file = None;
        },
        &env,
    )
    .unwrap();
    let answer = post_json(
        &bridge.url("/v1/responses"),
        &json!({"model": "premium", "input": "Say hi.", "stream": true}),
    );
    assert!(completed(&answer), "{:?}", streamed(&answer));
    let payments = mock.payments();
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0].chain, Chain::Solana);
    assert_eq!(payments[0].from.as_deref(), Some(ADDRESS));
    assert!(payments[0].verified);
    drop(bridge);
    // Without a Solana key, paying on Solana refuses to start, saying where keys go.
    std::fs::remove_file(wallet_dir.join("mnemonic")).unwrap();
    let err = start_in(
        home.path(),
        &mock,
        |d| {
            d.chain = Some("auto".to_owned());
            d.solana_key_file = None;
        },
        &env,
    )
    .err()
    .expect("no Solana key");
    assert!(err.contains("SOLANA_WALLET_KEY"), "{err}");
    assert!(err.contains("payment-chain"), "the reason is given: {err}");
}

#[test]
fn a_base58_secret_key_file_pays_and_a_bad_one_is_described_not_shown() {
    let mock = mock(Paywall::solana());
    let dir = tempfile::tempdir().unwrap();
    // The secret of a fresh keypair, in the base58 form wallets export.
    let seed = [42u8; 32];
    let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
    use ring::signature::KeyPair;
    let mut secret = seed.to_vec();
    secret.extend_from_slice(pair.public_key().as_ref());
    let secret = bs58::encode(&secret).into_string();
    let address = bs58::encode(pair.public_key().as_ref()).into_string();
    std::fs::write(dir.path().join("solana.key"), &secret).unwrap();
    let bridge = start_in(dir.path(), &mock, |_| {}, &EnvOverrides::default()).unwrap();
    let answer = post_json(
        &bridge.url("/v1/responses"),
        &json!({"model": "premium", "input": "Say hi.", "stream": true}),
    );
    assert!(completed(&answer));
    assert_eq!(mock.payments()[0].from.as_deref(), Some(address.as_str()));
    assert!(mock.payments()[0].verified);
    drop(bridge);
    // One character changed: the public half no longer matches; the error never quotes it.
    let mut broken = secret.clone().into_bytes();
    broken[80] = if broken[80] == b'2' { b'3' } else { b'2' };
    let broken = String::from_utf8(broken).unwrap();
    std::fs::write(dir.path().join("solana.key"), &broken).unwrap();
    let err = start_in(dir.path(), &mock, |_| {}, &EnvOverrides::default())
        .err()
        .expect("a damaged key refuses to start");
    assert!(err.contains("direct.solana_key_file"), "{err}");
    assert!(
        !err.contains(&broken[..12]),
        "the key is never shown: {err}"
    );
    assert!(
        !err.contains(&broken[60..]),
        "the key is never shown: {err}"
    );
}

#[test]
fn a_retry_after_a_5xx_resends_the_same_transaction_and_never_signs_a_second() {
    let mock = mock(Paywall::solana().fail_after_accepting(502, 1));
    let direct = Direct::start(&mock, |_| {});
    let first = direct.turn("premium", "Say hi.");
    assert_eq!(streamed(&first).1.unwrap()["type"], "response.failed");
    // Codex retries a failed turn with the same body.
    let second = direct.turn("premium", "Say hi.");
    let (text, end) = streamed(&second);
    assert_eq!(end.unwrap()["type"], "response.completed");
    assert_eq!(text, "answer from openai/gpt-5.4");
    let payments = mock.payments();
    assert_eq!(payments.len(), 2, "{payments:?}");
    assert!(payments[0].tx_signature.is_some());
    assert_eq!(
        payments[0].tx_signature, payments[1].tx_signature,
        "the same signed transaction"
    );
    assert_eq!(payments[0].outcome, PaymentOutcome::Accepted);
    assert_eq!(payments[1].outcome, PaymentOutcome::Settled);
    let rows = direct.ledger();
    assert_eq!(rows.len(), 1, "one payment in the ledger: {rows:?}");
    assert_eq!(rows[0].3, "answered");
}

#[test]
fn a_402_after_paying_stops_with_a_clear_error_and_nothing_more_is_signed() {
    let mock = mock(Paywall::solana().refuse_payments());
    let direct = Direct::start(&mock, |_| {});
    let message = failure_message(&direct.turn("premium", "Say hi."));
    assert!(
        message.contains("BlockRun refused the payment"),
        "{message}"
    );
    assert!(message.contains(ADDRESS), "{message}");
    assert!(message.contains("insufficient"), "{message}");
    assert!(message.contains("on Solana"), "{message}");
    assert_eq!(mock.payments().len(), 1, "one signature, never a second");
}

#[test]
fn an_offer_for_another_mint_network_payee_or_fee_payer_is_refused_unsigned() {
    let cases = [
        (
            Paywall::solana().asset(
                Chain::Solana,
                "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB",
            ),
            "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB",
        ),
        (
            Paywall::solana().network(Chain::Solana, "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1"),
            "solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1",
        ),
        (
            Paywall::solana().pay_to(Chain::Solana, FEE_PAYER),
            "direct.pay_to",
        ),
        (
            Paywall::solana().extra(Chain::Solana, json!({"feePayer": ADDRESS})),
            "feePayer",
        ),
        (
            Paywall::solana().extra(Chain::Solana, json!({})),
            "feePayer",
        ),
        // Base only, while the user chose Solana: not paid from the Base key either.
        (Paywall::base(), "eip155:8453"),
    ];
    for (paywall, named) in cases {
        let mock = mock(paywall);
        let direct = Direct::start(&mock, |d| d.pay_to = Some(SOLANA_PAY_TO.to_owned()));
        let message = failure_message(&direct.turn("premium", "Say hi."));
        assert!(message.contains(named), "{named}: {message}");
        assert!(mock.payments().is_empty(), "{named}: nothing signed");
        assert!(direct.ledger().is_empty(), "{named}: nothing reserved");
    }
}

#[test]
fn a_price_over_the_per_request_cap_is_refused_before_signing() {
    let mock = mock(Paywall::solana().amount(600_000));
    let direct = Direct::start(&mock, |d| d.max_per_request_usd = Some(0.5));
    let message = failure_message(&direct.turn("premium", "Say hi."));
    assert!(message.contains("max_per_request_usd"), "{message}");
    assert!(mock.payments().is_empty());
    assert!(direct.ledger().is_empty());
}

#[test]
fn the_daily_cap_holds_on_solana_across_requests() {
    let mock = mock(Paywall::solana().amount(30_000));
    let direct = Direct::start(&mock, |d| d.max_per_day_usd = Some(0.05));
    assert!(completed(&direct.turn("premium", "one")));
    let message = failure_message(&direct.turn("premium", "two"));
    assert!(message.contains("max_per_day_usd"), "{message}");
    assert_eq!(mock.payments().len(), 1, "only the first turn was signed");
}

#[test]
fn two_identical_turns_on_one_blockhash_sign_two_different_transactions() {
    let mock = mock(Paywall::solana().blockhash_every(Duration::from_secs(60)));
    let direct = Direct::start(&mock, |_| {});
    assert!(completed(&direct.turn("premium", "Say hi.")));
    let before = chat_requests(&mock);
    assert!(completed(&direct.turn("premium", "Say hi.")));
    // The second was signed ahead: one round trip, on the cached blockhash.
    assert_eq!(chat_requests(&mock) - before, 1, "signed ahead");
    let payments = mock.payments();
    assert_eq!(payments.len(), 2, "{payments:?}");
    assert_eq!(
        payments[0].report["blockhash"],
        payments[1].report["blockhash"]
    );
    assert_eq!(payments[0].amount, payments[1].amount);
    assert_ne!(payments[0].tx_signature, payments[1].tx_signature);
    assert_ne!(payments[0].report["memos"], payments[1].report["memos"]);
    assert!(payments
        .iter()
        .all(|p| p.outcome == PaymentOutcome::Settled));
    assert_eq!(blockhash_calls(&mock), 1, "cached between the two turns");
}

#[test]
fn the_usdc_balance_is_read_over_rpc_and_cached() {
    let mock = mock(Paywall::solana().balance_atomic(1_234_500));
    let rpc = SolanaRpc::new(&mock.solana_rpc_url(), ADDRESS);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let balance = runtime.block_on(rpc.usdc_balance()).unwrap();
    assert_eq!(balance, Usdc(1_234_500));
    assert_eq!(runtime.block_on(rpc.usdc_balance()).unwrap(), balance);
    let calls: Vec<_> = mock
        .rpc_calls()
        .into_iter()
        .filter(|c| c.method == "getTokenAccountsByOwner")
        .collect();
    assert_eq!(calls.len(), 1, "cached");
    assert_eq!(calls[0].params[0], ADDRESS);
    assert_eq!(calls[0].params[1]["mint"], SOLANA_USDC);
    assert_eq!(calls[0].params[2]["encoding"], "jsonParsed");
    // The blocking form, for doctor and wallet.
    let blocking =
        solana_rpc::usdc_balance_blocking(&mock.solana_rpc_url(), ADDRESS, Duration::from_secs(5))
            .unwrap();
    assert_eq!(blocking, Usdc(1_234_500));
    // Nothing listening: an error naming the host and the setting.
    let e = solana_rpc::usdc_balance_blocking(
        "http://127.0.0.1:9/secret-token",
        ADDRESS,
        Duration::from_secs(2),
    )
    .unwrap_err();
    assert!(e.contains("SOLANA_RPC_URL"), "{e}");
    assert!(!e.contains("secret-token"), "{e}");
}

#[test]
fn spend_reads_the_solana_payments_like_any_other() {
    let mock = mock(Paywall::solana().amount(12_345));
    let direct = Direct::start(&mock, |_| {});
    assert!(completed(&direct.turn("premium", "hi")));
    let dir = direct.dir.path();
    let conf = dir.join("bridge.yaml");
    std::fs::write(
        &conf,
        format!(
            "upstream:\n  kind: direct\ndirect:\n  api_url: {}\n  chain: solana\n  ledger: {}\n",
            mock.api_base(),
            dir.join("payments.sqlite").display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clawrouter-codex"))
        .args(["-c", conf.to_str().unwrap(), "spend", "--json"])
        .env("HOME", dir)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["data"]["today_usd"], 0.012345);
    assert_eq!(
        report["data"]["per_model"][0],
        json!({"model": "openai/gpt-5.4", "usd": 0.012345})
    );
}

#[test]
fn a_seller_memo_is_paid_verbatim_and_never_signed_ahead() {
    let extra = json!({"feePayer": FEE_PAYER, "memo": "blockrun:request-42"});
    let mock = mock(Paywall::solana().extra(Chain::Solana, extra));
    let direct = Direct::start(&mock, |_| {});
    assert!(completed(&direct.turn("premium", "one")));
    let before = chat_requests(&mock);
    // (A longer turn: another price. The mock's memo is fixed, where BlockRun would issue one
    // per request; the same memo, amount and blockhash would make the same transaction.)
    let two = direct.turn("premium", "two, a good deal longer than the first one");
    assert!(completed(&two), "{:?}", streamed(&two));
    assert_eq!(
        chat_requests(&mock) - before,
        2,
        "the 402 again: a memo bound to one request is not reused ahead"
    );
    let payments = mock.payments();
    assert_eq!(payments.len(), 2);
    for paid in &payments {
        assert!(paid.verified, "{paid:?}");
        assert_eq!(paid.report["memos"], json!(["blockrun:request-42"]));
    }
    // Nothing was signed ahead (it would have been the first payment's very transaction).
    let rows = direct.ledger();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows.iter().all(|r| r.3 == "answered"), "{rows:?}");
}

#[test]
fn without_a_blockhash_nothing_is_signed_and_the_rpc_is_named() {
    let mock = mock(Paywall::solana());
    let direct = Direct::start(&mock, |d| {
        d.solana_rpc_url = Some("http://127.0.0.1:9/secret-token".to_owned());
    });
    let message = failure_message(&direct.turn("premium", "Say hi."));
    assert!(
        message.contains("Solana RPC at http://127.0.0.1:9"),
        "{message}"
    );
    assert!(message.contains("SOLANA_RPC_URL"), "{message}");
    assert!(message.contains("nothing was paid"), "{message}");
    assert!(!message.contains("secret-token"), "{message}");
    assert!(mock.payments().is_empty());
    assert!(direct.ledger().is_empty());
}

#[test]
fn wallet_doctor_and_the_dashboard_show_the_solana_address_its_chain_and_balance() {
    let mock = MockUpstream::builder()
        .blockrun(Paywall::solana().balance_atomic(1_250_000))
        .start(|_| Reply::text("ok"));
    let direct = Direct::start(&mock, |_| {});
    // The dashboard's state, through the running bridge.
    let state = common::client::get(&direct.bridge.url("/dashboard/api/state"), &[]).json();
    assert_eq!(state["proxy"]["wallet"], ADDRESS, "{state}");
    assert_eq!(state["proxy"]["chain"], "Solana");
    assert_eq!(state["proxy"]["balance"], "$1.25");
    // The commands, with a config file naming the same key and RPC.
    let dir = direct.dir.path();
    let conf = dir.join("bridge.yaml");
    std::fs::write(
        &conf,
        format!(
            "upstream:\n  kind: direct\ndirect:\n  api_url: {}\n  chain: solana\n  solana_rpc_url: {}\n  \
             solana_key_file: {}\n  ledger: {}\n",
            mock.api_base(),
            mock.solana_rpc_url(),
            dir.join("solana.key").display(),
            dir.join("payments.sqlite").display()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| -> Value {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_clawrouter-codex"))
            .arg("-c")
            .arg(&conf)
            .args(args)
            .env("HOME", dir)
            .env("CODEX_HOME", dir.join(".codex"))
            .env_remove("SOLANA_WALLET_KEY")
            .env_remove("UPSTREAM_KIND")
            .env_remove("DIRECT_CHAIN")
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)))
    };
    let wallet = run(&["wallet", "--json"]);
    assert_eq!(wallet["data"]["address"], ADDRESS, "{wallet}");
    assert_eq!(wallet["data"]["chain"], "Solana");
    assert_eq!(wallet["data"]["chainReason"], "direct.chain is solana");
    assert_eq!(wallet["data"]["balanceUsd"], 1.25);
    let doctor = run(&["doctor", "--json"]);
    let checks = doctor["data"]["checks"]
        .as_array()
        .or(doctor["error"]["checks"].as_array())
        .unwrap()
        .clone();
    let wallet = checks.iter().find(|c| c["name"] == "wallet").unwrap();
    assert_eq!(wallet["ok"], true, "{wallet}");
    let detail = wallet["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!(
            "{ADDRESS} pays on Solana (direct.chain is solana)"
        )),
        "{detail}"
    );
    assert!(detail.contains("balance $1.25 USDC"), "{detail}");
}
