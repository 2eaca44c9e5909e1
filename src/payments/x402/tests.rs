use super::*;
use serde_json::json;

/// A test payment payee.
pub(crate) const PAYEE: &str = "0x1111111111111111111111111111111111111111";

/// One Base USDC offer of `amount` base units (extra fields included, to check they are
/// echoed verbatim).
pub(crate) fn base_offer(amount: &str) -> Value {
    json!({
        "scheme": "exact",
        "network": "eip155:8453",
        "amount": amount,
        "asset": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
        "payTo": PAYEE,
        "maxTimeoutSeconds": 300,
        "extra": {"name": "USD Coin", "version": "2"},
        "futureField": {"kept": true},
    })
}

/// The base64 header for a JSON payment request.
pub(crate) fn encode(value: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(value.to_string())
}

/// A v2 `PAYMENT-REQUIRED` value offering `offers`.
pub(crate) fn header(offers: Vec<Value>) -> String {
    encode(&json!({
        "x402Version": 2,
        "error": "payment required",
        "resource": {"url": "https://blockrun.ai/api/v1/chat/completions", "description": "chat", "mimeType": "application/json"},
        "accepts": offers,
    }))
}

#[test]
fn reads_a_v2_payment_request() {
    let required = parse_payment_required(&header(vec![base_offer("1000")])).unwrap();
    assert_eq!(required.offers.len(), 1);
    let offer = &required.offers[0];
    assert_eq!(offer.scheme, "exact");
    assert_eq!(offer.network, "eip155:8453");
    assert_eq!(offer.amount, "1000");
    assert_eq!(offer.pay_to, PAYEE);
    assert_eq!(offer.max_timeout_seconds, 300);
    assert_eq!(
        offer.extra.as_ref().unwrap().name.as_deref(),
        Some("USD Coin")
    );
    assert_eq!(offer.raw, base_offer("1000"));
    assert_eq!(required.error.as_deref(), Some("\"payment required\""));
    assert_eq!(required.resource["mimeType"], "application/json");
}

#[test]
fn refuses_version_1() {
    let v1 = encode(&json!({
        "x402Version": 1,
        "accepts": [{"scheme": "exact", "network": "base", "maxAmountRequired": "1000"}],
    }));
    assert_eq!(parse_payment_required(&v1), Err(X402Error::Version1));
    // A v1-shaped offer under a v2 number is still v1.
    let mixed = encode(&json!({
        "x402Version": 2,
        "accepts": [{"scheme": "exact", "network": "base", "maxAmountRequired": "1000"}],
    }));
    assert_eq!(parse_payment_required(&mixed), Err(X402Error::Version1));
    assert!(X402Error::Version1.to_string().contains("version 1"));
}

#[test]
fn clear_errors_for_broken_headers() {
    let cases: Vec<(String, &str)> = vec![
        ("%%%".to_owned(), "not base64"),
        (encode(&json!([1, 2])), "not a JSON object"),
        (
            base64::engine::general_purpose::STANDARD.encode("{"),
            "does not hold a JSON",
        ),
        (
            encode(&json!({"x402Version": 3, "accepts": []})),
            "version 3",
        ),
        (encode(&json!({"accepts": []})), "(none given)"),
        (encode(&json!({"x402Version": 2})), "accepts is missing"),
        (
            encode(&json!({"x402Version": 2, "accepts": []})),
            "accepts is empty",
        ),
        (
            encode(&json!({"x402Version": 2, "accepts": [{"scheme": "exact"}]})),
            "accepts[0]: missing field",
        ),
        (
            "A".repeat(MAX_HEADER_BYTES + 1),
            "over the 16384-byte limit",
        ),
    ];
    for (value, expected) in cases {
        let err = parse_payment_required(&value).unwrap_err().to_string();
        assert!(err.contains(expected), "{expected}: {err}");
        assert!(err.contains("BlockRun"), "{err}");
    }
}

#[test]
fn a_malformed_offer_does_not_hide_a_good_one() {
    let required =
        parse_payment_required(&header(vec![json!({"scheme": 5}), base_offer("7")])).unwrap();
    assert_eq!(required.offers.len(), 1);
    assert_eq!(required.offers[0].amount, "7");
}

#[test]
fn long_hostile_values_are_quoted_short() {
    let mut offer = base_offer("1");
    let long = "x".repeat(5000);
    offer["scheme"] = json!(long);
    let required = parse_payment_required(&encode(&json!({
        "x402Version": 2, "error": long, "accepts": [offer]
    })))
    .unwrap();
    assert!(required.error.unwrap().len() < 200);
}

#[test]
fn builds_the_payment_signature_header() {
    let required = parse_payment_required(&header(vec![base_offer("1000")])).unwrap();
    let authorization = Authorization {
        from: [0xab; 20],
        to: [0x11; 20],
        value: 1000,
        valid_after: 1_700_000_000,
        valid_before: 1_700_000_900,
        nonce: [0x5a; 32],
    };
    let signature = Signature([7; 65]);
    let value = payment_signature(&required, &required.offers[0], &authorization, &signature);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value)
        .unwrap();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["x402Version"], 2);
    assert_eq!(v["resource"], required.resource);
    assert_eq!(
        v["accepted"],
        base_offer("1000"),
        "the offer is echoed verbatim"
    );
    let auth = &v["payload"]["authorization"];
    assert_eq!(auth["from"], to_checksum_address(&[0xab; 20]));
    assert_eq!(auth["to"], PAYEE);
    assert_eq!(auth["value"], "1000");
    assert_eq!(auth["validAfter"], "1700000000");
    assert_eq!(auth["validBefore"], "1700000900");
    assert_eq!(auth["nonce"], format!("0x{}", "5a".repeat(32)));
    assert_eq!(v["payload"]["signature"], format!("0x{}", "07".repeat(65)));
    assert_eq!(
        v["extensions"],
        json!({"builder-code": {"info": {"s": ["blockrun"]}}})
    );
}

proptest::proptest! {
    #[test]
    fn never_panics_on_text(text in ".{0,300}") {
        let _ = parse_payment_required(&text);
    }

    #[test]
    fn never_panics_on_base64_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
        let _ = parse_payment_required(&base64::engine::general_purpose::STANDARD.encode(&bytes));
    }

    #[test]
    fn never_panics_on_odd_json(amount in ".{0,30}", timeout in proptest::num::i64::ANY, network in ".{0,20}") {
        let mut offer = base_offer("1");
        offer["amount"] = json!(amount);
        offer["maxTimeoutSeconds"] = json!(timeout);
        offer["network"] = json!(network);
        if let Ok(required) = parse_payment_required(&header(vec![offer])) {
            let policy = crate::payments::policy::Policy {
                caps: crate::payments::policy::Caps {
                    per_request: crate::payments::policy::Usdc(u64::MAX),
                    per_day: None,
                    per_thread: None,
                },
                pay_to: None,
                solana: false,
            };
            let _ = policy.choose(&required.offers);
        }
    }
}
