use super::*;
use crate::payments::x402::parse_payment_required;
use crate::payments::x402::tests::{base_offer, header, PAYEE};
use serde_json::{json, Value};

fn policy(cap: u64, pay_to: Option<&str>) -> Policy {
    Policy {
        caps: Caps {
            per_request: Usdc(cap),
            per_day: None,
            per_thread: None,
        },
        pay_to: pay_to.map(str::to_owned),
        solana: false,
    }
}

fn offers(list: Vec<Value>) -> Vec<Offer> {
    parse_payment_required(&header(list)).unwrap().offers
}

fn with(field: &str, value: Value) -> Vec<Offer> {
    let mut offer = base_offer("1000");
    offer[field] = value;
    offers(vec![offer])
}

#[test]
fn accepts_base_usdc_within_the_cap() {
    let list = offers(vec![base_offer("1000")]);
    let accepted = policy(250_000, None).choose(&list).unwrap();
    assert_eq!(accepted.amount, Usdc(1000));
    assert_eq!(accepted.payee, Payee::Base([0x11; 20]));
    assert_eq!(accepted.validity_secs, 300);
    // The cap itself is allowed; the asset is compared case-insensitively.
    let list = with("asset", json!(BASE_USDC.to_ascii_lowercase()));
    assert!(policy(1000, None).choose(&list).is_ok());
}

#[test]
fn never_above_the_per_request_cap() {
    let list = offers(vec![base_offer("420000")]);
    let err = policy(250_000, None).choose(&list).unwrap_err();
    assert_eq!(
        err,
        Refusal::OverRequestCap {
            asked: Usdc(420_000),
            cap: Usdc(250_000)
        }
    );
    assert_eq!(
        err.to_string(),
        "BlockRun asked for $0.42, over direct.max_per_request_usd = $0.25; raise the cap or pick a cheaper model"
    );
    let list = offers(vec![base_offer("1001")]);
    assert!(
        policy(1000, None).choose(&list).is_err(),
        "one base unit over"
    );
}

#[test]
fn refuses_a_foreign_asset_network_scheme_or_domain() {
    let p = policy(1_000_000, None);
    let refusal = |list: Vec<Offer>| p.choose(&list).unwrap_err();
    assert!(matches!(
        refusal(with(
            "asset",
            json!("0x0000000000000000000000000000000000000001")
        )),
        Refusal::Asset(_)
    ));
    assert!(matches!(
        refusal(with("network", json!("eip155:1"))),
        Refusal::Network(_)
    ));
    assert!(matches!(
        refusal(with("network", json!("base"))),
        Refusal::Network(_)
    ));
    let solana = refusal(with(
        "network",
        json!("solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp"),
    ));
    assert!(matches!(solana, Refusal::SolanaNotEnabled(_)));
    assert!(
        solana.to_string().contains("direct.chain: solana"),
        "{solana}"
    );
    assert!(matches!(
        refusal(with("scheme", json!("upto"))),
        Refusal::Scheme(_)
    ));
    let domain = refusal(with("extra", json!({"name": "USDC", "version": "2"})));
    assert!(matches!(domain, Refusal::Domain { .. }), "{domain}");
    assert!(matches!(
        refusal(with("extra", json!({"name": "USD Coin", "version": "1"}))),
        Refusal::Domain { .. }
    ));
    assert!(matches!(
        refusal(with("payTo", json!("0x12"))),
        Refusal::BadPayee(_)
    ));
    assert!(matches!(
        refusal(with("maxTimeoutSeconds", json!(0))),
        Refusal::NoTime
    ));
    for amount in ["", "1.5", "-1", "1e3", "0x10", "1234567890123456789", " 1"] {
        assert!(
            matches!(
                refusal(with("amount", json!(amount))),
                Refusal::BadAmount(_)
            ),
            "{amount:?}"
        );
    }
}

#[test]
fn a_pinned_payee_is_enforced() {
    let other = "0x2222222222222222222222222222222222222222";
    let list = offers(vec![base_offer("1000")]);
    let err = policy(1_000_000, Some(other)).choose(&list).unwrap_err();
    assert!(matches!(err, Refusal::Payee { .. }));
    assert!(err.to_string().contains("direct.pay_to pins"), "{err}");
    assert!(policy(
        1_000_000,
        Some(&PAYEE.to_ascii_uppercase().replace("0X", "0x"))
    )
    .choose(&list)
    .is_ok());
}

#[test]
fn validity_is_at_most_five_minutes() {
    let list = with("maxTimeoutSeconds", json!(3600));
    assert_eq!(
        policy(1_000_000, None).choose(&list).unwrap().validity_secs,
        300
    );
    let list = with("maxTimeoutSeconds", json!(60));
    assert_eq!(
        policy(1_000_000, None).choose(&list).unwrap().validity_secs,
        60
    );
}

#[test]
fn chooses_the_first_acceptable_offer_and_reports_the_base_refusal() {
    let mut solana = base_offer("5");
    solana["network"] = json!("solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp");
    let list = offers(vec![solana.clone(), base_offer("9")]);
    assert_eq!(policy(1000, None).choose(&list).unwrap().amount, Usdc(9));
    let list = offers(vec![solana, base_offer("5000")]);
    assert!(matches!(
        policy(1000, None).choose(&list).unwrap_err(),
        Refusal::OverRequestCap { .. }
    ));
    assert_eq!(
        policy(1000, None).choose(&[]).unwrap_err(),
        Refusal::NoOffer
    );
}

#[test]
fn dollars_display_and_parse() {
    assert_eq!(Usdc(420_000).to_string(), "$0.42");
    assert_eq!(Usdc(1000).to_string(), "$0.001");
    assert_eq!(Usdc(0).to_string(), "$0.00");
    assert_eq!(Usdc(1_500_000).to_string(), "$1.50");
    assert_eq!(Usdc(123_456_789).to_string(), "$123.456789");
    assert_eq!(Usdc::from_usd(0.25), Some(Usdc(250_000)));
    assert_eq!(Usdc::from_usd(0.0), Some(Usdc(0)));
    assert_eq!(Usdc::from_usd(-1.0), None);
    assert_eq!(Usdc::from_usd(f64::NAN), None);
    assert_eq!(Usdc::from_usd(f64::INFINITY), None);
    assert_eq!(Usdc(250_000).as_usd(), 0.25);
}
