use super::*;
use crate::keys::solana::Mnemonic;
use crate::payments::policy::{Caps, Payee, Policy, Refusal, Usdc};
use crate::payments::x402::parse_payment_required;
use serde_json::{json, Value};

const ABANDON: &str = "abandon abandon abandon abandon abandon abandon abandon abandon \
                       abandon abandon abandon about";
/// A facilitator and a payee (arbitrary valid addresses; ABANDON's is HAgk14…).
const FEE_PAYER: &str = "2wmVCSfPxGPjrnMMn7rchp4uaeoTqN39mXFC2zhPdri9";
const PAY_TO: &str = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM";

fn keypair() -> SolanaKeypair {
    SolanaKeypair::from_mnemonic(&Mnemonic::parse(ABANDON).unwrap()).unwrap()
}

fn transfer(memo: [u8; 16]) -> Transfer {
    Transfer {
        fee_payer: parse_address(FEE_PAYER).unwrap(),
        owner: keypair().public_key(),
        pay_to: parse_address(PAY_TO).unwrap(),
        amount: 1234,
        recent_blockhash: [7; 32],
        memo,
    }
}

#[test]
fn the_constants_are_the_published_addresses() {
    for (bytes, text) in [
        (USDC_MINT, SOLANA_USDC),
        (
            COMPUTE_BUDGET_PROGRAM,
            "ComputeBudget111111111111111111111111111111",
        ),
        (TOKEN_PROGRAM, "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"),
        (
            ASSOCIATED_TOKEN_PROGRAM,
            "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL",
        ),
        (MEMO_PROGRAM, "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr"),
    ] {
        assert_eq!(bs58::encode(bytes).into_string(), text);
    }
}

#[test]
fn the_usdc_token_account_of_a_known_owner() {
    let owner = parse_address("HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk").unwrap();
    let ata = associated_token_address(&owner, &USDC_MINT).unwrap();
    assert_eq!(
        bs58::encode(ata).into_string(),
        "5N3f1tj9v1vc5TUZ8S7mCAnVmjVKrfnzXWhxLaxyZAgt"
    );
}

#[test]
fn addresses_are_read_strictly() {
    assert!(parse_address(PAY_TO).is_some());
    for bad in [
        "",
        "0x1234",
        "1111111111111111111111111111111",
        "I0Ol",
        &"1".repeat(100),
    ] {
        assert_eq!(parse_address(bad), None, "{bad}");
    }
}

#[test]
fn instruction_data() {
    assert_eq!(compute_unit_limit_data(8000), [2, 0x40, 0x1f, 0, 0]);
    assert_eq!(compute_unit_price_data(1), [3, 1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        transfer_checked_data(1_000_001, 6),
        [12, 0x41, 0x42, 0x0f, 0, 0, 0, 0, 0, 6]
    );
}

#[test]
fn compact_u16() {
    for (value, bytes) in [
        (0u16, &[0u8][..]),
        (0x7f, &[0x7f]),
        (0x80, &[0x80, 0x01]),
        (0x3fff, &[0xff, 0x7f]),
        (0x4000, &[0x80, 0x80, 0x01]),
        (0xffff, &[0xff, 0xff, 0x03]),
    ] {
        let mut out = Vec::new();
        push_compact_u16(&mut out, value);
        assert_eq!(out, bytes, "{value}");
    }
}

#[test]
fn the_message_layout() {
    let message = transfer([0xab; 16]).message().unwrap();
    assert_eq!(&message[..5], &[0x80, 2, 1, 4, 8]);
    let key = |i: usize| &message[5 + 32 * i..5 + 32 * (i + 1)];
    assert_eq!(key(0), parse_address(FEE_PAYER).unwrap());
    assert_eq!(key(1), keypair().public_key());
    assert_eq!(key(4), COMPUTE_BUDGET_PROGRAM);
    assert_eq!(key(7), MEMO_PROGRAM);
    assert_eq!(&message[5 + 256..5 + 288], &[7; 32]);
    let memo = "ab".repeat(16);
    assert!(message.ends_with(&[&[7, 0, 32][..], memo.as_bytes(), &[0]].concat()));
}

#[test]
fn the_signature_is_ours_over_the_message() {
    let t = transfer([1; 16]);
    let tx = base64::engine::general_purpose::STANDARD
        .decode(t.sign(&keypair()).unwrap())
        .unwrap();
    assert_eq!(tx[0], 2);
    assert_eq!(&tx[1..65], &[0; 64]);
    let message = t.message().unwrap();
    assert_eq!(&tx[129..], &message[..]);
    let public =
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, keypair().public_key());
    public.verify(&message, &tx[65..129]).unwrap();
}

#[test]
fn two_identical_payments_differ() {
    let a = transfer(random_memo().unwrap());
    let b = transfer(random_memo().unwrap());
    assert_ne!(a.memo, b.memo);
    assert_ne!(a.sign(&keypair()).unwrap(), b.sign(&keypair()).unwrap());
}

#[test]
fn shared_accounts_and_a_foreign_key_are_refused() {
    let mut t = transfer([0; 16]);
    t.fee_payer = t.owner;
    assert!(matches!(t.message(), Err(SvmError::SharedAccount(_))));
    let mut t = transfer([0; 16]);
    t.pay_to = t.owner;
    assert!(matches!(t.message(), Err(SvmError::SharedAccount(_))));
    let mut t = transfer([0; 16]);
    t.owner = parse_address(PAY_TO).unwrap();
    assert!(matches!(t.sign(&keypair()), Err(SvmError::Sign(_))));
}

fn solana_offer(amount: &str) -> Value {
    json!({
        "scheme": "exact",
        "network": SOLANA_NETWORK,
        "amount": amount,
        "asset": SOLANA_USDC,
        "payTo": PAY_TO,
        "maxTimeoutSeconds": 300,
        "extra": {"feePayer": FEE_PAYER},
    })
}

fn check(offer: Value, solana: bool) -> Result<Payee, Refusal> {
    let header = base64::engine::general_purpose::STANDARD
        .encode(json!({"x402Version": 2, "resource": {}, "accepts": [offer]}).to_string());
    let required = parse_payment_required(&header).unwrap();
    let policy = Policy {
        caps: Caps {
            per_request: Usdc(10_000),
            per_day: None,
            per_thread: None,
        },
        pay_to: None,
        solana,
    };
    policy.check(&required.offers[0]).map(|a| a.payee)
}

#[test]
fn the_policy_accepts_solana_usdc_only_with_a_solana_payer() {
    assert_eq!(
        check(solana_offer("10000"), true),
        Ok(Payee::Solana {
            pay_to: parse_address(PAY_TO).unwrap(),
            fee_payer: parse_address(FEE_PAYER).unwrap(),
        })
    );
    assert!(matches!(
        check(solana_offer("10000"), false),
        Err(Refusal::SolanaNotEnabled(_))
    ));
}

#[test]
fn the_policy_refuses_other_solana_offers() {
    assert!(matches!(
        check(solana_offer("10001"), true),
        Err(Refusal::OverRequestCap { .. })
    ));
    let mut foreign = solana_offer("1");
    foreign["asset"] = json!("Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB");
    assert!(matches!(check(foreign, true), Err(Refusal::SolanaAsset(_))));
    let mut devnet = solana_offer("1");
    devnet["network"] = json!("solana:EtWTRABZaYq6iMfeYKouRu166VU2xqa1");
    assert!(matches!(
        check(devnet, true),
        Err(Refusal::SolanaNetwork(_))
    ));
    let mut no_fee_payer = solana_offer("1");
    no_fee_payer["extra"] = json!({});
    assert_eq!(check(no_fee_payer, true), Err(Refusal::NoFeePayer));
    let mut bad = solana_offer("1");
    bad["payTo"] = json!("0xe9030014F5DAe217d0A152f02A043567b16c1aBf");
    let err = check(bad, true).unwrap_err();
    assert!(matches!(
        err,
        Refusal::BadSolanaAddress { field: "payTo", .. }
    ));
    assert!(err.to_string().contains("base58"), "{err}");
}
