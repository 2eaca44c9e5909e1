//! Direct mode's payment signatures (src/payments/evm.rs, hashed by hand) against an
//! independent EIP-712 implementation: viem (tests/support/eip3009-viem.mjs, pinned in
//! scripts/install-deps.sh --viem). For the PAYMENT-SIGNATURE headers the Payer builds (fresh
//! keys and random nonces on every run) and for a fixed authorization: viem recovers our
//! address from our signature, `verifyTypedData` accepts it and rejects it for a changed
//! value, and viem's own `signTypedData` with the same key, nonce and times equals our
//! signature byte for byte (both RFC 6979). Nothing here compares with our own output.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/node.rs"]
mod node;

use std::path::Path;

use base64::Engine;
use clawrouter_codex::admin::wallet::SecretKey;
use clawrouter_codex::payments::evm::{self, Authorization};
use clawrouter_codex::payments::ledger::Ledger;
use clawrouter_codex::payments::policy::{Caps, Policy, Usdc};
use clawrouter_codex::payments::{Payer, PaymentContext};
use serde_json::{json, Value};

/// Hardhat's first account (a published test key).
const HARDHAT_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// What viem says about `cases` signed with `key`: (viem's version, one result per case).
fn viem(key: &str, cases: &[Value]) -> (String, Vec<Value>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join(".tools/viem/node_modules/viem").is_dir(),
        "the independent EIP-712 check needs viem: run scripts/install-deps.sh --viem"
    );
    let v = node::run(
        "eip3009-viem.mjs",
        &[("NODE_PATH", ".tools/viem/node_modules")],
        &json!({"key": key, "cases": cases}),
    );
    (
        v["viem"].as_str().unwrap().to_owned(),
        v["results"].as_array().unwrap().clone(),
    )
}

/// A fresh random key, `0x` + 64 hex digits.
fn fresh_key() -> String {
    evm::hex(&evm::random_nonce().unwrap())
}

/// The Payer's PAYMENT-SIGNATURE headers for offers of `amounts`, as viem cases
/// ({authorization, signature}), and the payer's address.
fn payer_cases(key: &str, amounts: &[u64]) -> (String, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("payments.sqlite")).unwrap();
    let policy = Policy {
        caps: Caps {
            per_request: Usdc(1_000_000),
            per_day: None,
            per_thread: None,
        },
        pay_to: None,
        solana: false,
    };
    let payer = Payer::new(SecretKey::parse(key).unwrap(), policy, ledger).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let cases = amounts
        .iter()
        .enumerate()
        .map(|(i, amount)| {
            let required = json!({
                "x402Version": 2,
                "resource": {"url": "https://blockrun.ai/api/v1/chat/completions", "description": "", "mimeType": "application/json"},
                "accepts": [{
                    "scheme": "exact",
                    "network": "eip155:8453",
                    "amount": amount.to_string(),
                    "asset": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
                    "payTo": "0xe9030014F5DAe217d0A152f02A043567b16c1aBf",
                    "maxTimeoutSeconds": 300,
                    "extra": {"name": "USD Coin", "version": "2"},
                }],
            });
            let header = base64::engine::general_purpose::STANDARD.encode(required.to_string());
            let request = format!("req-{i}");
            let context = PaymentContext {
                model: "openai/gpt-5",
                request_id: Some(&request),
                thread_id: None,
            };
            let attempt = payer.pay(Some(&header), &context, now).unwrap();
            let sent: Value = serde_json::from_slice(
                &base64::engine::general_purpose::STANDARD
                    .decode(attempt.header_value())
                    .unwrap(),
            )
            .unwrap();
            json!({
                "authorization": sent["payload"]["authorization"],
                "signature": sent["payload"]["signature"],
            })
        })
        .collect();
    (payer.address(), cases)
}

fn check(address: &str, cases: &[Value], results: &[Value]) {
    assert_eq!(results.len(), cases.len());
    for (case, result) in cases.iter().zip(results) {
        assert_eq!(result["recovered"], address, "viem recovers our address");
        assert_eq!(result["valid"], true, "viem verifies our signature");
        assert_eq!(
            result["tamperedValid"], false,
            "viem rejects a changed value"
        );
        assert_eq!(
            result["viemSignature"], case["signature"],
            "viem's RFC 6979 signature equals ours byte for byte"
        );
    }
}

#[test]
fn viem_verifies_the_payers_headers() {
    for key in [HARDHAT_KEY.to_owned(), fresh_key(), fresh_key()] {
        let (address, cases) = payer_cases(&key, &[1, 1000, 999_999]);
        let (version, results) = viem(&key, &cases);
        assert_eq!(version, "2.58.8");
        check(&address, &cases, &results);
    }
}

#[test]
fn viem_signs_a_fixed_authorization_as_we_do() {
    let key = SecretKey::parse(HARDHAT_KEY).unwrap();
    let authorization = Authorization {
        from: evm::parse_address("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266").unwrap(),
        to: evm::parse_address("0xe9030014F5DAe217d0A152f02A043567b16c1aBf").unwrap(),
        value: 1000,
        valid_after: 1_765_000_000,
        valid_before: 1_765_000_900,
        nonce: [0x5a; 32],
    };
    let signature = authorization.sign(&key).unwrap();
    let case = json!({
        "authorization": {
            "from": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
            "to": "0xe9030014F5DAe217d0A152f02A043567b16c1aBf",
            "value": "1000",
            "validAfter": "1765000000",
            "validBefore": "1765000900",
            "nonce": evm::hex(&[0x5a; 32]),
        },
        "signature": signature.to_hex(),
    });
    let (_, results) = viem(HARDHAT_KEY, std::slice::from_ref(&case));
    check(
        "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        &[case],
        &results,
    );
}
