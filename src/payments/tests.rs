use super::*;
use crate::payments::evm::tests::KEY;
use crate::payments::x402::tests::{base_offer, encode, header};
use base64::Engine;
use policy::Caps;
use serde_json::{json, Value};

const NOW: u64 = 1_796_644_800;

fn payer(per_request: u64, per_day: Option<u64>) -> (tempfile::TempDir, Payer) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("payments.sqlite")).unwrap();
    let policy = Policy {
        caps: Caps {
            per_request: Usdc(per_request),
            per_day: per_day.map(Usdc),
            per_thread: None,
        },
        pay_to: None,
        solana: false,
    };
    let payer = Payer::new(SecretKey::parse(KEY).unwrap(), policy, ledger).unwrap();
    (dir, payer)
}

fn context(request: &str) -> PaymentContext<'_> {
    PaymentContext {
        model: "openai/gpt-5",
        request_id: Some(request),
        thread_id: Some("thread-1"),
    }
}

fn decode(value: &str) -> Value {
    serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(value)
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn pays_an_acceptable_offer() {
    let (_dir, payer) = payer(250_000, Some(1_000_000));
    let offer = header(vec![base_offer("1000")]);
    let attempt = payer.pay(Some(&offer), &context("r1"), NOW).unwrap();
    let v = decode(attempt.header_value());
    let auth = &v["payload"]["authorization"];
    assert_eq!(auth["from"], "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
    assert_eq!(auth["value"], "1000");
    assert_eq!(auth["validAfter"], (NOW - 600).to_string());
    assert_eq!(auth["validBefore"], (NOW + 300).to_string());
    assert_eq!(auth["nonce"], attempt.nonce());
    assert_eq!(v["accepted"], base_offer("1000"));
    assert_eq!(attempt.amount(), Usdc(1000));
    let outcome = payer.with_ledger(|l| l.outcome(attempt.id())).unwrap();
    assert_eq!(outcome.as_deref(), Some("signed"));
    payer.settle(&attempt, PaidAnswer::Answered).unwrap();
    let outcome = payer.with_ledger(|l| l.outcome(attempt.id())).unwrap();
    assert_eq!(outcome.as_deref(), Some("answered"));
}

#[test]
fn a_retry_resends_the_same_header() {
    let (_dir, payer) = payer(250_000, None);
    let attempt = payer
        .pay(Some(&header(vec![base_offer("1000")])), &context("r1"), NOW)
        .unwrap();
    let first = attempt.header_value().to_owned();
    payer.settle(&attempt, PaidAnswer::NoAnswer).unwrap();
    assert_eq!(attempt.header_value(), first, "same header, same nonce");
    let outcome = payer.with_ledger(|l| l.outcome(attempt.id())).unwrap();
    assert_eq!(outcome.as_deref(), Some("unknown"));
    assert_eq!(
        payer.with_ledger(|l| l.spent_today(NOW as i64)).unwrap(),
        Usdc(1000)
    );
}

#[test]
fn a_402_after_paying_stops_and_signs_nothing_new() {
    let (_dir, payer) = payer(250_000, None);
    let offer = header(vec![base_offer("1000")]);
    let attempt = payer.pay(Some(&offer), &context("r1"), NOW).unwrap();
    let again = encode(&json!({
        "x402Version": 2, "error": "insufficient_funds", "accepts": [base_offer("1000")]
    }));
    let err = payer
        .settle(&attempt, PaidAnswer::PaymentRequired(Some(&again)))
        .unwrap_err();
    assert!(matches!(err, PayError::PaymentRefused { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with("BlockRun refused the payment of $0.001"),
        "{text}"
    );
    assert!(text.contains("insufficient_funds"), "{text}");
    let outcome = payer.with_ledger(|l| l.outcome(attempt.id())).unwrap();
    assert_eq!(outcome.as_deref(), Some("refused"));
    // Asking to pay the same request again is refused before anything is signed.
    let err = payer.pay(Some(&again), &context("r1"), NOW).unwrap_err();
    assert!(
        matches!(err, PayError::Ledger(LedgerError::AlreadyPaid(_))),
        "{err}"
    );
    let next = payer.with_ledger(|l| l.outcome(attempt.id() + 1)).unwrap();
    assert_eq!(next, None, "no new payment row");
}

#[test]
fn refusals_sign_and_record_nothing() {
    let (_dir, payer) = payer(250_000, Some(300_000));
    let over = payer.pay(
        Some(&header(vec![base_offer("420000")])),
        &context("a"),
        NOW,
    );
    assert_eq!(
        over.unwrap_err().to_string(),
        "BlockRun asked for $0.42, over direct.max_per_request_usd = $0.25; raise the cap or pick a cheaper model"
    );
    let missing = payer.pay(None, &context("b"), NOW).unwrap_err();
    assert!(
        matches!(missing, PayError::Request(X402Error::Missing)),
        "{missing}"
    );
    let v1 = encode(&json!({"x402Version": 1, "accepts": [{"maxAmountRequired": "1"}]}));
    let v1 = payer.pay(Some(&v1), &context("c"), NOW).unwrap_err();
    assert!(matches!(v1, PayError::Request(X402Error::Version1)), "{v1}");
    payer
        .pay(
            Some(&header(vec![base_offer("200000")])),
            &context("d"),
            NOW,
        )
        .unwrap();
    let day = payer
        .pay(
            Some(&header(vec![base_offer("200000")])),
            &context("e"),
            NOW,
        )
        .unwrap_err();
    assert!(
        matches!(day, PayError::Refused(Refusal::OverDayCap { .. })),
        "{day}"
    );
    assert_eq!(
        payer.with_ledger(|l| l.spent_today(NOW as i64)).unwrap(),
        Usdc(200_000)
    );
}

#[test]
fn the_key_never_appears() {
    let (_dir, payer) = payer(10, Some(10));
    let hex_key = KEY.trim_start_matches("0x");
    let mut texts = vec![format!("{payer:?}")];
    let attempt = payer
        .pay(Some(&header(vec![base_offer("10")])), &context("a"), NOW)
        .unwrap();
    texts.push(format!("{attempt:?}"));
    texts.push(
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(attempt.header_value())
                .unwrap(),
        )
        .unwrap(),
    );
    for offer in ["5000", "10"] {
        let err = payer
            .pay(Some(&header(vec![base_offer(offer)])), &context("b"), NOW)
            .unwrap_err();
        texts.push(err.to_string());
        texts.push(format!("{err:?}"));
    }
    texts.push(
        payer
            .settle(&attempt, PaidAnswer::PaymentRequired(None))
            .unwrap_err()
            .to_string(),
    );
    for text in texts {
        let lower = text.to_ascii_lowercase();
        assert!(!lower.contains(hex_key), "key leaked: {text}");
        assert!(!lower.contains(&hex_key[..16]), "key leaked: {text}");
    }
    assert!(format!("{payer:?}").contains("<redacted>"));
}

#[test]
fn a_base_payer_refuses_solana_offers_and_pays_the_base_one() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("payments.sqlite")).unwrap();
    let policy = Policy {
        caps: Caps {
            per_request: Usdc(250_000),
            per_day: None,
            per_thread: None,
        },
        pay_to: None,
        solana: true,
    };
    let payer = Payer::new(SecretKey::parse(KEY).unwrap(), policy, ledger).unwrap();
    let solana = json!({
        "scheme": "exact",
        "network": svm::SOLANA_NETWORK,
        "amount": "1000",
        "asset": svm::SOLANA_USDC,
        "payTo": "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM",
        "maxTimeoutSeconds": 60,
        "extra": {"feePayer": "2wmVCSfPxGPjrnMMn7rchp4uaeoTqN39mXFC2zhPdri9"},
    });
    let refused = payer
        .pay(Some(&header(vec![solana.clone()])), &context("s"), NOW)
        .unwrap_err();
    assert!(
        matches!(refused, PayError::Refused(Refusal::SolanaNotEnabled(_))),
        "{refused}"
    );
    // With Base offered too, Base is paid.
    let attempt = payer
        .pay(
            Some(&header(vec![solana, base_offer("1000")])),
            &context("t"),
            NOW,
        )
        .unwrap();
    assert_eq!(
        decode(attempt.header_value())["accepted"],
        base_offer("1000")
    );
}

const ABANDON: &str = "abandon abandon abandon abandon abandon abandon abandon abandon \
                       abandon abandon abandon about";
const BLOCKHASH: [u8; 32] = [7; 32];

fn solana_offer(amount: &str) -> Value {
    json!({
        "scheme": "exact",
        "network": svm::SOLANA_NETWORK,
        "amount": amount,
        "asset": svm::SOLANA_USDC,
        "payTo": "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM",
        "maxTimeoutSeconds": 300,
        "extra": {"feePayer": "2wmVCSfPxGPjrnMMn7rchp4uaeoTqN39mXFC2zhPdri9"},
    })
}

fn solana_payer(per_request: u64, per_day: Option<u64>) -> (tempfile::TempDir, Payer) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("payments.sqlite")).unwrap();
    let policy = Policy {
        caps: Caps {
            per_request: Usdc(per_request),
            per_day: per_day.map(Usdc),
            per_thread: None,
        },
        pay_to: None,
        solana: false,
    };
    let keypair =
        SolanaKeypair::from_mnemonic(&crate::keys::solana::Mnemonic::parse(ABANDON).unwrap())
            .unwrap();
    (dir, Payer::solana(keypair, policy, ledger))
}

fn required(offers: Vec<Value>) -> x402::PaymentRequired {
    x402::parse_payment_required(&header(offers)).unwrap()
}

#[test]
fn a_solana_payer_takes_the_solana_offer_even_after_a_base_one() {
    let (_dir, payer) = solana_payer(250_000, None);
    assert_eq!(payer.chain(), Chain::Solana);
    assert_eq!(
        payer.address(),
        "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk"
    );
    let both = required(vec![base_offer("1000"), solana_offer("1000")]);
    let attempt = payer
        .pay_required_with(&both, &context("r1"), NOW, Some(BLOCKHASH))
        .unwrap();
    let v = decode(attempt.header_value());
    assert_eq!(v["accepted"], solana_offer("1000"));
    let transaction = base64::engine::general_purpose::STANDARD
        .decode(v["payload"]["transaction"].as_str().unwrap())
        .unwrap();
    // Our signature (the second) is the payment's nonce, in the ledger too, with the chain.
    assert_eq!(
        bs58::encode(&transaction[65..129]).into_string(),
        attempt.nonce()
    );
    let row: (String, String, String) = payer
        .with_ledger(|l| {
            l.connection()
                .query_row(
                    "SELECT nonce, chain, payee FROM payments WHERE id = ?1",
                    [attempt.id()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .map_err(|e| panic!("{e}"))
        })
        .unwrap();
    assert_eq!(row.0, attempt.nonce());
    assert_eq!(row.1, svm::SOLANA_NETWORK);
    assert_eq!(row.2, "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM");
    assert!(attempt.valid_before() <= NOW + SOLANA_VALIDITY_SECS);
}

#[test]
fn a_solana_payer_refuses_a_base_only_offer_and_needs_a_blockhash() {
    let (_dir, payer) = solana_payer(250_000, None);
    let base = required(vec![base_offer("1000")]);
    let refused = payer
        .pay_required_with(&base, &context("r1"), NOW, Some(BLOCKHASH))
        .unwrap_err();
    assert!(
        matches!(refused, PayError::Refused(Refusal::ChainNotOffered { .. })),
        "{refused}"
    );
    assert!(refused.to_string().contains("eip155:8453"), "{refused}");
    let solana = required(vec![solana_offer("1000")]);
    let refused = payer
        .pay_required(&solana, &context("r2"), NOW)
        .unwrap_err();
    assert!(matches!(refused, PayError::NoBlockhash), "{refused}");
    let rows = payer
        .with_ledger(|l| {
            Ok(l.connection()
                .query_row("SELECT COUNT(*) FROM payments", [], |r| r.get::<_, i64>(0))
                .unwrap())
        })
        .unwrap();
    assert_eq!(rows, 0, "nothing reserved");
}

#[test]
fn two_identical_solana_payments_on_one_blockhash_differ() {
    let (_dir, payer) = solana_payer(250_000, None);
    let offer = required(vec![solana_offer("1000")]);
    let a = payer
        .pay_required_with(&offer, &context("a"), NOW, Some(BLOCKHASH))
        .unwrap();
    let b = payer
        .pay_required_with(&offer, &context("b"), NOW, Some(BLOCKHASH))
        .unwrap();
    assert_ne!(a.nonce(), b.nonce());
    assert_ne!(a.header_value(), b.header_value());
}

#[test]
fn a_solana_payment_over_a_cap_is_never_signed() {
    let (_dir, payer) = solana_payer(5_000, Some(6_000));
    let over = required(vec![solana_offer("6000")]);
    let refused = payer
        .pay_required_with(&over, &context("a"), NOW, Some(BLOCKHASH))
        .unwrap_err();
    assert!(
        matches!(refused, PayError::Refused(Refusal::OverRequestCap { .. })),
        "{refused}"
    );
    let offer = required(vec![solana_offer("4000")]);
    payer
        .pay_required_with(&offer, &context("b"), NOW, Some(BLOCKHASH))
        .unwrap();
    let refused = payer
        .pay_required_with(&offer, &context("c"), NOW, Some(BLOCKHASH))
        .unwrap_err();
    assert!(
        matches!(refused, PayError::Refused(Refusal::OverDayCap { .. })),
        "{refused}"
    );
}

#[test]
fn a_seller_memo_is_written_verbatim_and_a_too_long_one_refused() {
    let (_dir, payer) = solana_payer(250_000, None);
    let mut offer = solana_offer("1000");
    offer["extra"]["memo"] = json!("blockrun:req-42");
    let attempt = payer
        .pay_required_with(
            &required(vec![offer.clone()]),
            &context("a"),
            NOW,
            Some(BLOCKHASH),
        )
        .unwrap();
    let v = decode(attempt.header_value());
    let transaction = base64::engine::general_purpose::STANDARD
        .decode(v["payload"]["transaction"].as_str().unwrap())
        .unwrap();
    assert!(
        transaction.ends_with(&[b"blockrun:req-42".len() as u8])
            || transaction
                .windows(b"blockrun:req-42".len())
                .any(|w| w == b"blockrun:req-42"),
        "the memo is the seller's"
    );
    // Not a string, or empty: unset, a random memo is used.
    for unset in [json!(42), json!("")] {
        let mut offer = solana_offer("1000");
        offer["extra"]["memo"] = unset;
        payer
            .pay_required_with(&required(vec![offer]), &context("b"), NOW, Some(BLOCKHASH))
            .map(|_| ())
            .or_else(|e| match e {
                // The same request id is paid once; a fresh one is enough here.
                PayError::Ledger(_) => Ok(()),
                other => Err(other),
            })
            .unwrap();
    }
    offer["extra"]["memo"] = json!("x".repeat(svm::MAX_SELLER_MEMO_BYTES + 1));
    let refused = payer
        .pay_required_with(&required(vec![offer]), &context("c"), NOW, Some(BLOCKHASH))
        .unwrap_err();
    assert!(
        matches!(refused, PayError::Refused(Refusal::SellerMemoTooLong(257))),
        "{refused}"
    );
}

#[test]
fn the_very_transaction_of_an_earlier_payment_is_refused_and_frees_its_room() {
    // A seller memo, one blockhash, one amount: the same transaction twice. The ledger's
    // unique nonce refuses the second; its reserved row is marked refused, not left signed.
    let (_dir, payer) = solana_payer(250_000, Some(2_000));
    let mut offer = solana_offer("1000");
    offer["extra"]["memo"] = json!("bound");
    let offer = required(vec![offer]);
    payer
        .pay_required_with(&offer, &context("a"), NOW, Some(BLOCKHASH))
        .unwrap();
    let again = payer
        .pay_required_with(&offer, &context("b"), NOW, Some(BLOCKHASH))
        .unwrap_err();
    assert!(matches!(again, PayError::Ledger(_)), "{again}");
    // Its room is free again: another payment fits the day's $0.002.
    payer
        .pay_required_with(
            &required(vec![solana_offer("1000")]),
            &context("c"),
            NOW,
            Some(BLOCKHASH),
        )
        .unwrap();
    let outcomes: Vec<String> = payer
        .with_ledger(|l| {
            let conn = l.connection();
            let mut stmt = conn
                .prepare("SELECT outcome FROM payments ORDER BY id")
                .unwrap();
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            Ok(rows)
        })
        .unwrap();
    assert_eq!(outcomes, ["signed", "refused", "signed"]);
}
