//! Direct mode's Solana payments (src/payments/svm.rs, encoded by hand) against an independent
//! implementation: @solana/web3.js (tests/support/svm-web3.mjs, pinned in
//! scripts/install-deps.sh --solana-web3) decodes the PAYMENT-SIGNATURE headers we build for
//! Solana offers (fresh memos and blockhashes on every run), and tweetnacl verifies our ed25519
//! signature over web3.js's own serialization of the message. web3.js derives the associated
//! token accounts itself (findProgramAddressSync); nothing here compares with our own output.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/node.rs"]
mod node;

use std::path::Path;

use base64::Engine;
use clawrouter_codex::keys::solana::{Mnemonic, SolanaKeypair};
use clawrouter_codex::payments::policy::{Caps, Payee, Policy, Usdc};
use clawrouter_codex::payments::svm::{self, Transfer, SOLANA_NETWORK, SOLANA_USDC};
use clawrouter_codex::payments::x402;
use serde_json::{json, Value};

const ABANDON: &str = "abandon abandon abandon abandon abandon abandon abandon abandon \
                       abandon abandon abandon about";
const FEE_PAYER: &str = "2wmVCSfPxGPjrnMMn7rchp4uaeoTqN39mXFC2zhPdri9";
const PAY_TO: &str = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM";

/// What web3.js says about `headers`: (its version, one result per header).
fn web3(headers: &[String]) -> (String, Vec<Value>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join(".tools/solana-web3/node_modules/@solana/web3.js")
            .is_dir()
            && root.join(".tools/solana/node_modules/tweetnacl").is_dir(),
        "the independent Solana check needs @solana/web3.js and tweetnacl: run \
         scripts/install-deps.sh --solana --solana-web3"
    );
    let cases: Vec<Value> = headers.iter().map(|h| json!({ "header": h })).collect();
    let v = node::run(
        "svm-web3.mjs",
        &[
            ("NODE_PATH", ".tools/solana-web3/node_modules"),
            ("NACL_PATH", ".tools/solana/node_modules"),
        ],
        &json!({ "cases": cases }),
    );
    (
        v["web3"].as_str().unwrap().to_owned(),
        v["results"].as_array().unwrap().clone(),
    )
}

/// The PAYMENT-SIGNATURE header paying a Solana offer of `amount`, through the policy, and
/// the blockhash used (base58).
fn pay(keypair: &SolanaKeypair, amount: u64) -> (String, String) {
    let offer = json!({
        "scheme": "exact",
        "network": SOLANA_NETWORK,
        "amount": amount.to_string(),
        "asset": SOLANA_USDC,
        "payTo": PAY_TO,
        "maxTimeoutSeconds": 60,
        "extra": {"feePayer": FEE_PAYER},
    });
    let required = json!({
        "x402Version": 2,
        "resource": {"url": "https://blockrun.ai/api/v1/chat/completions"},
        "accepts": [offer],
    });
    let required = x402::parse_payment_required(
        &base64::engine::general_purpose::STANDARD.encode(required.to_string()),
    )
    .unwrap();
    let policy = Policy {
        caps: Caps {
            per_request: Usdc(1_000_000),
            per_day: None,
            per_thread: None,
        },
        pay_to: None,
        solana: true,
    };
    let accepted = policy.choose(&required.offers).unwrap();
    let Payee::Solana { pay_to, fee_payer } = accepted.payee else {
        panic!("a Solana payee: {accepted:?}");
    };
    let mut blockhash = [0u8; 32];
    blockhash[..16].copy_from_slice(&svm::random_memo().unwrap());
    blockhash[16..].copy_from_slice(&svm::random_memo().unwrap());
    let transfer = Transfer {
        fee_payer,
        owner: keypair.public_key(),
        pay_to,
        amount: accepted.amount.0,
        recent_blockhash: blockhash,
        memo: svm::random_memo().unwrap(),
    };
    let transaction = transfer.sign(keypair).unwrap();
    (
        x402::svm_payment_signature(&required, accepted.offer, &transaction),
        bs58::encode(blockhash).into_string(),
    )
}

fn account(key: &str, signer: bool, writable: bool) -> Value {
    json!({"key": key, "signer": signer, "writable": writable})
}

#[test]
fn web3_decodes_and_verifies_our_solana_payments() {
    let keypair = SolanaKeypair::from_mnemonic(&Mnemonic::parse(ABANDON).unwrap()).unwrap();
    let ours = keypair.address();
    let amounts = [1u64, 1234, 999_999, 1_000_000];
    let (headers, blockhashes): (Vec<String>, Vec<String>) =
        amounts.iter().map(|a| pay(&keypair, *a)).unzip();
    let (version, results) = web3(&headers);
    assert_eq!(version, "1.98.4");
    assert_eq!(results.len(), amounts.len());
    let mut memos = Vec::new();
    for ((result, amount), blockhash) in results.iter().zip(amounts).zip(&blockhashes) {
        assert_eq!(result["x402Version"], 2);
        assert_eq!(result["accepted"]["payTo"], PAY_TO);
        assert_eq!(result["version"], 0, "a v0 transaction");
        assert_eq!(
            result["reserialized"], true,
            "web3.js re-encodes it byte for byte"
        );
        assert_eq!(
            result["header"],
            json!({"numRequiredSignatures": 2, "numReadonlySignedAccounts": 1, "numReadonlyUnsignedAccounts": 4})
        );
        assert_eq!(result["signatures"], 2);
        assert_eq!(result["feePayerSignatureZero"], true);
        assert_eq!(
            result["signatureValid"], true,
            "nacl verifies our signature"
        );
        assert_eq!(
            result["tamperedValid"], false,
            "and not over a changed message"
        );
        assert_eq!(result["feePayer"], FEE_PAYER);
        assert_eq!(result["owner"], ours.as_str());
        assert_eq!(result["blockhash"], blockhash.as_str());
        assert_eq!(result["lookups"], 0);
        let source = result["expectedSource"].as_str().unwrap();
        let destination = result["expectedDestination"].as_str().unwrap();
        let ixs = result["instructions"].as_array().unwrap();
        let programs: Vec<&str> = ixs.iter().map(|i| i["program"].as_str().unwrap()).collect();
        assert_eq!(
            programs,
            [
                "ComputeBudget111111111111111111111111111111",
                "ComputeBudget111111111111111111111111111111",
                "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
                "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr",
            ]
        );
        assert_eq!(ixs[0]["accounts"], json!([]));
        assert_eq!(ixs[1]["accounts"], json!([]));
        assert_eq!(ixs[3]["accounts"], json!([]));
        assert_eq!(
            ixs[2]["accounts"],
            json!([
                account(source, false, true),
                account(SOLANA_USDC, false, false),
                account(destination, false, true),
                account(&ours, true, false),
            ])
        );
        assert_eq!(result["computeUnitLimit"], svm::COMPUTE_UNIT_LIMIT);
        assert_eq!(result["computeUnitPrice"], "1");
        assert_eq!(
            result["transfer"],
            json!({"tag": 12, "amount": amount.to_string(), "decimals": 6, "dataLength": 10})
        );
        let memo = result["memo"].as_str().unwrap();
        assert_eq!(memo.len(), 32);
        assert!(memo.bytes().all(|b| b.is_ascii_hexdigit()), "{memo}");
        memos.push(memo.to_owned());
    }
    // The abandon mnemonic's USDC account, as published.
    assert_eq!(
        results[0]["expectedSource"],
        "5N3f1tj9v1vc5TUZ8S7mCAnVmjVKrfnzXWhxLaxyZAgt"
    );
    memos.sort();
    memos.dedup();
    assert_eq!(memos.len(), amounts.len(), "every payment has its own memo");
}

/// The x402 reference client (`@x402/svm`, tests/support/x402-svm.mjs) builds the payment for
/// the same offer, key and blockhash: every instruction (program, accounts and their roles,
/// data) is the same as ours but the memo's random 32 hex digits; so are the header, the fee
/// payer, the blockhash and the set of accounts (their order may differ: @solana/kit sorts the
/// read-only programs, web3.js keeps their order of first use; both are valid).
#[test]
fn our_instructions_are_those_the_x402_svm_client_builds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join(".tools/x402-svm/node_modules/@x402/svm").is_dir(),
        "the reference comparison needs @x402/svm: run scripts/install-deps.sh --x402-svm"
    );
    // A key given as wallets export it (base58 of seed ‖ public key).
    let seed = [42u8; 32];
    let keypair_ring = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
    let mut secret = seed.to_vec();
    secret.extend_from_slice(ring::signature::KeyPair::public_key(&keypair_ring).as_ref());
    let secret = bs58::encode(&secret).into_string();
    let keypair = SolanaKeypair::from_secret(&secret).unwrap();
    let mut cases = Vec::new();
    // With a seller memo (extra.memo), both write it verbatim.
    let (header, blockhash) = pay(&keypair, 5_000);
    let envelope: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(&header)
            .unwrap(),
    )
    .unwrap();
    let transfer = Transfer {
        fee_payer: svm::parse_address(FEE_PAYER).unwrap(),
        owner: keypair.public_key(),
        pay_to: svm::parse_address(PAY_TO).unwrap(),
        amount: 5_000,
        recent_blockhash: svm::parse_address(&blockhash).unwrap(),
        memo: svm::random_memo().unwrap(),
    };
    let (ours, _) = transfer
        .signed_with(&keypair, Some("blockrun:request-42"))
        .unwrap();
    let mut requirements = envelope["accepted"].clone();
    requirements["extra"]["recentBlockhash"] = json!(blockhash);
    requirements["extra"]["memo"] = json!("blockrun:request-42");
    let memo_case = json!({"secret": secret, "requirements": requirements, "ours": ours});
    for amount in [1u64, 1234, 999_999, 1_000_000] {
        let (header, blockhash) = pay(&keypair, amount);
        let envelope: Value = serde_json::from_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(&header)
                .unwrap(),
        )
        .unwrap();
        let mut requirements = envelope["accepted"].clone();
        requirements["extra"]["recentBlockhash"] = json!(blockhash);
        cases.push(json!({
            "secret": secret,
            "requirements": requirements,
            "ours": envelope["payload"]["transaction"],
        }));
    }
    cases.push(memo_case);
    let out = node::run(
        "x402-svm.mjs",
        &[("NODE_PATH", ".tools/x402-svm/node_modules")],
        &json!({ "cases": cases }),
    );
    assert_eq!(out["x402svm"], "2.27.0");
    let results = out["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    let (memo_result, results) = results.split_last().unwrap();
    assert_eq!(
        memo_result["ours"]["instructions"], memo_result["reference"]["instructions"],
        "with a seller memo the transactions' instructions are identical"
    );
    assert_eq!(
        hex_text(
            memo_result["ours"]["instructions"][3]["data"]
                .as_str()
                .unwrap()
        ),
        "blockrun:request-42"
    );
    for result in results {
        let (reference, ours) = (&result["reference"], &result["ours"]);
        for field in ["version", "header", "feePayer", "blockhash", "signers"] {
            assert_eq!(ours[field], reference[field], "{field}");
        }
        assert_eq!(ours["feePayer"], FEE_PAYER);
        let sorted = |v: &Value| {
            let mut keys: Vec<String> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k.as_str().unwrap().to_owned())
                .collect();
            keys.sort();
            keys
        };
        assert_eq!(
            sorted(&ours["staticAccounts"]),
            sorted(&reference["staticAccounts"])
        );
        let (ix, reference_ix) = (
            ours["instructions"].as_array().unwrap(),
            reference["instructions"].as_array().unwrap(),
        );
        assert_eq!(ix.len(), 4);
        assert_eq!(ix.len(), reference_ix.len());
        // Compute limit, compute price, TransferChecked: identical.
        assert_eq!(ix[..3], reference_ix[..3]);
        // The memo: same program, no accounts, 32 hex digits (random on both sides).
        assert_eq!(ix[3]["program"], reference_ix[3]["program"]);
        assert_eq!(ix[3]["accounts"], json!([]));
        for memo in [&ix[3]["data"], &reference_ix[3]["data"]] {
            let text = hex_text(memo.as_str().unwrap());
            assert_eq!(text.len(), 32, "{text}");
            assert!(text.bytes().all(|b| b.is_ascii_hexdigit()), "{text}");
        }
        assert_ne!(ix[3]["data"], reference_ix[3]["data"]);
    }
}

/// The text whose UTF-8 bytes `hex` spells.
fn hex_text(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    String::from_utf8(bytes).unwrap()
}
