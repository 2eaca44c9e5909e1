//! Tests of the mock BlockRun (tests/common/mock_upstream/blockrun.rs), driven with a plain HTTP
//! client and real payments: headers made by the crate's own payer and Solana transfer, and
//! authorizations signed by viem. Each test can fail: the mock must refuse what BlockRun
//! would refuse, and accept only what it would accept.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "support/node.rs"]
mod node;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use clawrouter_codex::admin::wallet::SecretKey;
use clawrouter_codex::keys::solana::{Mnemonic, SolanaKeypair};
use clawrouter_codex::payments::ledger::Ledger;
use clawrouter_codex::payments::policy::{Caps, Payee, Policy, Usdc};
use clawrouter_codex::payments::svm::{self, Transfer};
use clawrouter_codex::payments::x402;
use clawrouter_codex::payments::{Payer, PaymentContext};
use common::client::{get, post, Answer};
use common::mock_upstream::blockrun::{
    BASE_PAY_TO, BASE_USDC, FEE_PAYER, SOLANA_PAY_TO, SOLANA_USDC,
};
use common::mock_upstream::{Chain, MockUpstream, PaymentOutcome, Paywall, Reply};
use serde_json::{json, Value};

/// Hardhat's first account (a published test key) and its address.
const HARDHAT_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const HARDHAT_ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
/// The published BIP-39 vector and its Solana address (m/44'/501'/0'/0').
const ABANDON: &str = "abandon abandon abandon abandon abandon abandon abandon abandon \
                       abandon abandon abandon about";
const ABANDON_SOLANA: &str = "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn mock(paywall: Paywall) -> MockUpstream {
    MockUpstream::builder()
        .blockrun(paywall)
        .start(|call| Reply::text(format!("paid answer from {}", call.model())))
}

fn chat_body(model: &str, max_tokens: Option<u64>) -> Value {
    let mut body = json!({"model": model, "messages": [{"role": "user", "content": "Say hi."}]});
    if let Some(n) = max_tokens {
        body["max_tokens"] = json!(n);
    }
    body
}

fn chat(mock: &MockUpstream, body: &Value, headers: &[(&str, &str)]) -> Answer {
    let url = format!("{}/v1/chat/completions", mock.api_base());
    post(&url, body.to_string().as_bytes(), headers)
}

/// The crate's Base payer (Hardhat's key, a $1 cap, a fresh ledger).
fn payer() -> (Payer, tempfile::TempDir) {
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
    let payer = Payer::new(SecretKey::parse(HARDHAT_KEY).unwrap(), policy, ledger).unwrap();
    (payer, dir)
}

/// The `PAYMENT-SIGNATURE` the crate's payer makes for a 402 answer.
fn pay(payer: &Payer, answer: &Answer, model: &str) -> String {
    assert_eq!(answer.status, 402, "{}", answer.body);
    let context = PaymentContext {
        model,
        request_id: None,
        thread_id: None,
    };
    let attempt = payer
        .pay(answer.header("payment-required"), &context, now())
        .unwrap();
    attempt.header_value().to_owned()
}

fn decode(header: &str) -> Value {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(header)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn encode(value: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(value.to_string())
}

/// The `error` of a 402's `PAYMENT-REQUIRED`, read by the crate's parser.
fn refusal(answer: &Answer) -> String {
    assert_eq!(answer.status, 402, "{}", answer.body);
    x402::parse_payment_required(answer.header("payment-required").unwrap())
        .unwrap()
        .error
        .unwrap()
}

/// What BlockRun charges, worked out here from the published rule: characters / 4 (rounded
/// up) input tokens, the output reservation, at prices given in millionths of a base unit per
/// token (= USD per million tokens × 10⁶), rounded up, $0.001 on top.
fn expected_price(body: &Value, input: u64, output: u64, max_tokens: u64) -> u64 {
    let tokens = body.to_string().chars().count().div_ceil(4) as u64;
    (tokens * input + max_tokens * output).div_ceil(1_000_000) + 1000
}

// ---- Base ------------------------------------------------------------------

#[test]
fn an_unpaid_chat_gets_a_402_that_the_crate_parses() {
    let mock = mock(Paywall::base());
    let body = chat_body("anthropic/claude-sonnet-4.6", None);
    let answer = chat(&mock, &body, &[]);
    assert_eq!(answer.status, 402);
    assert_eq!(answer.json()["error"], "Payment required");
    let raw = decode(answer.header("payment-required").unwrap());
    assert_eq!(raw["x402Version"], 2);
    assert_eq!(raw["resource"]["mimeType"], "application/json");
    assert!(raw["resource"]["url"]
        .as_str()
        .unwrap()
        .ends_with("/api/v1/chat/completions"));
    let required = x402::parse_payment_required(answer.header("payment-required").unwrap())
        .expect("the crate reads the mock's 402");
    assert_eq!(required.error.as_deref(), Some("\"Payment required\""));
    assert_eq!(required.offers.len(), 1);
    let offer = &required.offers[0];
    assert_eq!(offer.scheme, "exact");
    assert_eq!(offer.network, "eip155:8453");
    assert_eq!(offer.asset, BASE_USDC);
    assert_eq!(offer.pay_to, BASE_PAY_TO);
    assert_eq!(offer.max_timeout_seconds, 300);
    let extra = offer.extra.as_ref().unwrap();
    assert_eq!(extra.name.as_deref(), Some("USD Coin"));
    assert_eq!(extra.version.as_deref(), Some("2"));
    // No max_tokens: 4096 are reserved, at $15 per million output tokens.
    let amount: u64 = offer.amount.parse().unwrap();
    assert_eq!(amount, expected_price(&body, 3_000_000, 15_000_000, 4096));
    assert!(amount > 4096 * 15, "{amount}");

    let small = chat_body("anthropic/claude-sonnet-4.6", Some(100));
    let answer = chat(&mock, &small, &[]);
    let offer = x402::parse_payment_required(answer.header("payment-required").unwrap())
        .unwrap()
        .offers
        .remove(0);
    assert_eq!(
        offer.amount.parse::<u64>().unwrap(),
        expected_price(&small, 3_000_000, 15_000_000, 100)
    );
    let quotes = mock.quotes();
    assert_eq!(quotes.len(), 2);
    assert_eq!(
        quotes[0].max_tokens, None,
        "the absent max_tokens is recorded"
    );
    assert_eq!(quotes[1].max_tokens, Some(100));
    assert!(mock.chat_calls().is_empty(), "nothing reached the model");
    assert!(mock.payments().is_empty());
}

#[test]
fn a_good_base_payment_is_accepted_once() {
    let mock = mock(Paywall::base());
    let (payer, _dir) = payer();
    let body = chat_body("deepseek/deepseek-chat", Some(256));
    let header = pay(&payer, &chat(&mock, &body, &[]), "deepseek/deepseek-chat");
    let answer = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &header)]);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.json()["choices"][0]["message"]["content"],
        "paid answer from deepseek/deepseek-chat"
    );
    let payments = mock.payments();
    assert_eq!(payments.len(), 1);
    let p = &payments[0];
    assert_eq!(p.chain, Chain::Base);
    assert_eq!(
        p.from.as_deref(),
        Some(HARDHAT_ADDRESS),
        "viem recovered us"
    );
    assert!(p.verified);
    assert_eq!(p.outcome, PaymentOutcome::Settled);
    assert_eq!(p.payee.as_deref(), Some(BASE_PAY_TO));
    assert_eq!(p.model, "deepseek/deepseek-chat");
    assert_eq!(p.max_tokens, Some(256));
    assert_eq!(p.amount, Some(p.quoted));
    assert_eq!(
        p.nonce.as_deref(),
        Some(
            decode(&header)["payload"]["authorization"]["nonce"]
                .as_str()
                .unwrap()
        )
    );

    let receipt = decode(answer.header("payment-response").expect("PAYMENT-RESPONSE"));
    assert_eq!(receipt["success"], true);
    assert_eq!(receipt["network"], "eip155:8453");
    assert_eq!(receipt["payer"], HARDHAT_ADDRESS);
    assert_eq!(receipt["transaction"].as_str().unwrap().len(), 66);

    // The very same header after settlement: the nonce is spent.
    let again = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &header)]);
    assert_eq!(refusal(&again), "\"nonce already used\"");
    assert_eq!(
        mock.payments()[1].outcome,
        PaymentOutcome::Rejected("nonce already used".into())
    );
    assert_eq!(mock.chat_calls().len(), 1, "the replay reached no model");
    mock.assert_no_rejections();
}

#[test]
fn x_payment_is_read_like_payment_signature() {
    let mock = mock(Paywall::base());
    let (payer, _dir) = payer();
    let body = chat_body("google/gemini-3-flash", Some(64));
    let header = pay(&payer, &chat(&mock, &body, &[]), "google/gemini-3-flash");
    let answer = chat(&mock, &body, &[("X-PAYMENT", &header)]);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(mock.payments()[0].outcome, PaymentOutcome::Settled);
}

#[test]
fn a_paid_stream_is_streamed() {
    let mock = mock(Paywall::base());
    let (payer, _dir) = payer();
    let mut body = chat_body("openai/gpt-5.4", Some(64));
    body["stream"] = json!(true);
    let header = pay(&payer, &chat(&mock, &body, &[]), "openai/gpt-5.4");
    let answer = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &header)]);
    assert_eq!(answer.status, 200);
    assert!(answer
        .header("content-type")
        .unwrap()
        .starts_with("text/event-stream"));
    assert!(answer.body.contains("paid answer from openai/gpt-5.4"));
    assert!(answer.body.contains("data: [DONE]"));
    assert_eq!(mock.payments()[0].outcome, PaymentOutcome::Settled);
}

#[test]
fn a_failure_after_accepting_leaves_the_nonce_unsettled() {
    let mock = mock(Paywall::base().fail_after_accepting(502, 1));
    let (payer, _dir) = payer();
    let body = chat_body("moonshot/kimi-k2.5", Some(128));
    let header = pay(&payer, &chat(&mock, &body, &[]), "moonshot/kimi-k2.5");
    let failed = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &header)]);
    assert_eq!(failed.status, 502);
    assert!(
        failed.header("payment-response").is_none(),
        "nothing settled"
    );
    assert_eq!(mock.payments()[0].outcome, PaymentOutcome::Accepted);
    assert!(mock.payments()[0].verified);
    assert!(mock.chat_calls().is_empty());
    // Resending the very same authorization is how a client recovers: it is collected once.
    let resent = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &header)]);
    assert_eq!(resent.status, 200, "{}", resent.body);
    let payments = mock.payments();
    assert_eq!(payments[1].outcome, PaymentOutcome::Settled);
    assert_eq!(payments[0].nonce, payments[1].nonce);
    let third = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &header)]);
    assert_eq!(refusal(&third), "\"nonce already used\"");
}

#[test]
fn an_error_from_the_model_settles_nothing() {
    let mock = MockUpstream::builder()
        .blockrun(Paywall::base())
        .start(|_| Reply::rate_limited());
    let (payer, _dir) = payer();
    let body = chat_body("openai/gpt-5.4", Some(64));
    let header = pay(&payer, &chat(&mock, &body, &[]), "openai/gpt-5.4");
    let answer = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &header)]);
    assert_eq!(answer.status, 429);
    assert_eq!(mock.payments()[0].outcome, PaymentOutcome::Accepted);
}

#[test]
fn tampered_payments_are_refused_by_the_verifier() {
    let mock = mock(Paywall::base());
    let (payer, _dir) = payer();
    let body = chat_body("deepseek/deepseek-chat", Some(64));
    let header = pay(&payer, &chat(&mock, &body, &[]), "deepseek/deepseek-chat");
    let good = decode(&header);
    for (field, change) in [("value", 1i64), ("validBefore", -1), ("validAfter", 1)] {
        let mut bad = good.clone();
        let old: i64 = bad["payload"]["authorization"][field]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        bad["payload"]["authorization"][field] = json!((old + change).to_string());
        let answer = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &encode(&bad))]);
        assert_eq!(refusal(&answer), "\"invalid signature\"", "{field}");
        let seen = mock.payments().pop().unwrap();
        assert!(!seen.verified, "{field}");
        assert_ne!(seen.from.as_deref(), Some(HARDHAT_ADDRESS), "{field}");
    }
    // Someone else's address as `from`: viem's recovery does not give it.
    let mut bad = good.clone();
    bad["payload"]["authorization"]["from"] = json!(BASE_PAY_TO);
    let answer = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &encode(&bad))]);
    assert_eq!(refusal(&answer), "\"invalid signature\"");
    // A changed offer (signed correctly, but not what was offered).
    let mut bad = good.clone();
    bad["accepted"]["maxTimeoutSeconds"] = json!(301);
    let answer = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &encode(&bad))]);
    assert_eq!(
        refusal(&answer),
        "\"accepted does not match any offer made\""
    );
    let answer = chat(&mock, &body, &[("PAYMENT-SIGNATURE", "not base64!")]);
    assert_eq!(
        refusal(&answer),
        "\"invalid payment header: not base64 JSON\""
    );
    let mut v1 = good.clone();
    v1["x402Version"] = json!(1);
    let answer = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &encode(&v1))]);
    assert_eq!(refusal(&answer), "\"unsupported x402Version\"");
    // After all that, the untouched header still pays.
    let answer = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &header)]);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(mock.chat_calls().len(), 1);
}

#[test]
fn a_cheap_quote_does_not_pay_a_dearer_request() {
    let mock = mock(Paywall::base());
    let (payer, _dir) = payer();
    let cheap = chat_body("anthropic/claude-sonnet-4.6", Some(10));
    let header = pay(
        &payer,
        &chat(&mock, &cheap, &[]),
        "anthropic/claude-sonnet-4.6",
    );
    let dear = chat_body("anthropic/claude-sonnet-4.6", Some(8000));
    let answer = chat(&mock, &dear, &[("PAYMENT-SIGNATURE", &header)]);
    assert_eq!(refusal(&answer), "\"amount too low\"");
    // The refused attempt claimed nothing: the header still pays the request it was quoted for.
    let answer = chat(&mock, &cheap, &[("PAYMENT-SIGNATURE", &header)]);
    assert_eq!(answer.status, 200, "{}", answer.body);
}

/// Signs `authorization` with viem (tests/support/eip3009-sign.mjs) as Hardhat's account.
fn viem_sign(authorization: &Value) -> String {
    let v = node::run(
        "eip3009-sign.mjs",
        &[("NODE_PATH", ".tools/viem/node_modules")],
        &json!({"key": HARDHAT_KEY, "authorization": authorization}),
    );
    v["signature"].as_str().unwrap().to_owned()
}

/// A PAYMENT-SIGNATURE made by viem (not the crate) for the 402 `answer`.
fn viem_payment(answer: &Answer, valid_after: u64, valid_before: u64, to: &str) -> String {
    let required = decode(answer.header("payment-required").unwrap());
    let offer = required["accepts"][0].clone();
    let authorization = json!({
        "from": HARDHAT_ADDRESS,
        "to": to,
        "value": offer["amount"],
        "validAfter": valid_after.to_string(),
        "validBefore": valid_before.to_string(),
        "nonce": clawrouter_codex::payments::evm::hex(&rand32()),
    });
    let signature = viem_sign(&authorization);
    encode(&json!({
        "x402Version": 2,
        "resource": required["resource"],
        "accepted": offer,
        "payload": {"signature": signature, "authorization": authorization},
    }))
}

fn rand32() -> [u8; 32] {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new().fill(&mut bytes).unwrap();
    bytes
}

#[test]
fn payments_signed_by_viem_are_judged_on_their_window_and_payee() {
    let mock = mock(Paywall::base());
    let body = chat_body("google/gemini-3-flash", Some(32));
    let t = now();
    let quote = chat(&mock, &body, &[]);
    let good = viem_payment(&quote, t - 600, t + 300, BASE_PAY_TO);
    let answer = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &good)]);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(mock.payments()[0].from.as_deref(), Some(HARDHAT_ADDRESS));

    let expired = viem_payment(&quote, t - 600, t - 1, BASE_PAY_TO);
    let answer = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &expired)]);
    assert_eq!(refusal(&answer), "\"authorization expired\"");
    assert!(mock.payments()[1].verified, "well signed, but expired");

    let early = viem_payment(&quote, t + 60, t + 300, BASE_PAY_TO);
    let answer = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &early)]);
    assert_eq!(refusal(&answer), "\"authorization not yet valid\"");

    let elsewhere = viem_payment(&quote, t - 600, t + 300, HARDHAT_ADDRESS);
    let answer = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &elsewhere)]);
    assert_eq!(refusal(&answer), "\"recipient mismatch\"");
    assert_eq!(mock.chat_calls().len(), 1);
}

#[test]
fn refused_payments_and_foreign_offers() {
    let mock = mock(Paywall::base().refuse_payments());
    let (payer, _dir) = payer();
    let body = chat_body("deepseek/deepseek-chat", Some(64));
    let header = pay(&payer, &chat(&mock, &body, &[]), "deepseek/deepseek-chat");
    let answer = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &header)]);
    assert_eq!(refusal(&answer), "\"insufficient funds\"");
    assert!(mock.payments()[0].verified);
    assert!(mock.chat_calls().is_empty());

    // Overrides change the offer, and the crate's policy refuses it.
    let foreign =
        mock_with(Paywall::base().asset(Chain::Base, "0x0000000000000000000000000000000000000bad"));
    let answer = chat(&foreign, &body, &[]);
    assert!(payer
        .pay(
            answer.header("payment-required"),
            &PaymentContext {
                model: "m",
                request_id: None,
                thread_id: None
            },
            now()
        )
        .is_err());
    let other_chain = mock_with(Paywall::base().network(Chain::Base, "eip155:1"));
    let raw = decode(
        chat(&other_chain, &body, &[])
            .header("payment-required")
            .unwrap(),
    );
    assert_eq!(raw["accepts"][0]["network"], "eip155:1");
    let both = mock_with(Paywall::both().pay_to(Chain::Solana, FEE_PAYER));
    let raw = decode(chat(&both, &body, &[]).header("payment-required").unwrap());
    assert_eq!(raw["accepts"][0]["network"], "eip155:8453");
    assert_eq!(raw["accepts"][1]["network"], svm::SOLANA_NETWORK);
    assert_eq!(raw["accepts"][1]["payTo"], FEE_PAYER);
    let solana_first = mock_with(Paywall::base().offers(&[Chain::Solana, Chain::Base]));
    let raw = decode(
        chat(&solana_first, &body, &[])
            .header("payment-required")
            .unwrap(),
    );
    assert_eq!(raw["accepts"][0]["asset"], SOLANA_USDC);
    assert_eq!(raw["accepts"][0]["extra"]["feePayer"], FEE_PAYER);
    assert_eq!(raw["accepts"][1]["asset"], BASE_USDC);
}

fn mock_with(paywall: Paywall) -> MockUpstream {
    mock(paywall)
}

#[test]
fn a_fixed_amount_and_a_stall() {
    let mock = mock(
        Paywall::base()
            .amount(1234)
            .stall_after_accepting(Duration::from_millis(400), 1),
    );
    let (payer, _dir) = payer();
    let body = chat_body("anthropic/claude-sonnet-4.6", None);
    let quote = chat(&mock, &body, &[]);
    let raw = decode(quote.header("payment-required").unwrap());
    assert_eq!(raw["accepts"][0]["amount"], "1234");
    let header = pay(&payer, &quote, "anthropic/claude-sonnet-4.6");
    let start = Instant::now();
    let answer = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &header)]);
    assert_eq!(answer.status, 200);
    assert!(start.elapsed() >= Duration::from_millis(400));
    assert_eq!(mock.payments()[0].amount, Some(1234));
}

// ---- free models, API keys, catalog, routes --------------------------------------

#[test]
fn the_catalog_prices_models_and_free_ones_need_no_payment() {
    let mock = mock(Paywall::base());
    let catalog = get(&format!("{}/v1/models", mock.api_base()), &[]).json();
    assert_eq!(catalog["object"], "list");
    let models = catalog["data"].as_array().unwrap();
    let by_id = |id: &str| models.iter().find(|m| m["id"] == id).unwrap().clone();
    let sonnet = by_id("anthropic/claude-sonnet-4.6");
    assert_eq!(sonnet["inputPrice"], 3.0);
    assert_eq!(sonnet["outputPrice"], 15.0);
    assert!(sonnet["categories"]
        .as_array()
        .unwrap()
        .contains(&json!("vision")));
    for id in [
        "openai/gpt-5.4",
        "google/gemini-3-flash",
        "deepseek/deepseek-chat",
        "moonshot/kimi-k2.5",
    ] {
        let m = by_id(id);
        assert!(
            m["contextWindow"].as_u64().unwrap() > 0 && m["maxOutput"].as_u64().unwrap() > 0,
            "{id}"
        );
    }
    assert_eq!(by_id("nvidia/gpt-oss-120b")["inputPrice"], 0);
    assert!(models.iter().any(|m| m["hidden"] == true));

    let free = chat(&mock, &chat_body("nvidia/gpt-oss-120b", None), &[]);
    assert_eq!(free.status, 200, "{}", free.body);
    assert!(mock.payments().is_empty() && mock.quotes().is_empty());

    let unknown = chat(&mock, &chat_body("auto", None), &[]);
    assert_eq!(unknown.status, 400);
    assert_eq!(mock.rejections().len(), 1);

    // Another catalog: its prices are the ones charged.
    let custom = mock_with(Paywall::base().catalog(json!({"object": "list", "data": [
        {"id": "x/cheap", "inputPrice": 0.0, "outputPrice": 1.0}]})));
    let quote = chat(&custom, &chat_body("x/cheap", Some(1000)), &[]);
    assert_eq!(
        decode(quote.header("payment-required").unwrap())["accepts"][0]["amount"],
        "2000"
    );
    let cheapest = chat(&custom, &chat_body("x/cheap", Some(1)), &[]);
    assert_eq!(
        decode(cheapest.header("payment-required").unwrap())["accepts"][0]["amount"],
        "1001"
    );
}

#[test]
fn an_api_key_pays_without_x402() {
    let mock = mock(Paywall::base().api_key("brk_test_123"));
    let body = chat_body("openai/gpt-5.4", None);
    let answer = chat(&mock, &body, &[("Authorization", "Bearer brk_test_123")]);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let p = &mock.payments()[0];
    assert_eq!(p.chain, Chain::ApiKey);
    assert_eq!(p.outcome, PaymentOutcome::Settled);
    let wrong = chat(&mock, &body, &[("Authorization", "Bearer sk-openai-key")]);
    assert_eq!(wrong.status, 401);
    assert!(mock.quotes().is_empty(), "no 402 on the API-key path");
    // Without a key configured, any Authorization is refused (no credential leaks through).
    let keyless = mock_with(Paywall::base());
    let answer = chat(&keyless, &body, &[("Authorization", "Bearer brk_test_123")]);
    assert_eq!(answer.status, 401);
}

#[test]
fn only_the_api_routes_exist() {
    let mock = mock(Paywall::base());
    let answer = post(
        &format!("{}/chat/completions", mock.base_url()),
        chat_body("openai/gpt-5.4", None).to_string().as_bytes(),
        &[],
    );
    assert_eq!(answer.status, 404, "/v1 without /api is not BlockRun's");
    assert_eq!(
        get(&format!("{}/v1/models", mock.origin()), &[]).status,
        404
    );
}

#[test]
fn a_web_search_is_paid_like_a_chat() {
    let mock = mock(Paywall::base());
    let (payer, _dir) = payer();
    let url = format!("{}/v1/exa/search", mock.api_base());
    let body = json!({"query": "rust 1.99 release", "numResults": 3}).to_string();
    let quote = post(&url, body.as_bytes(), &[]);
    assert_eq!(
        decode(quote.header("payment-required").unwrap())["accepts"][0]["amount"],
        "5000"
    );
    let header = pay(&payer, &quote, "exa/search");
    let answer = post(&url, body.as_bytes(), &[("PAYMENT-SIGNATURE", &header)]);
    assert_eq!(answer.status, 200);
    let hits =
        clawrouter_codex::translate::web_search::read_results(answer.body.as_bytes()).unwrap();
    assert_eq!(hits.len(), 3);
    assert_eq!(mock.payments()[0].outcome, PaymentOutcome::Settled);
    assert_eq!(post(&url, b"{}", &[]).status, 400);
}

// ---- RPCs ------------------------------------------------------------------

fn rpc(url: &str, method: &str, params: Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
    let answer = post(url, body.to_string().as_bytes(), &[]);
    assert_eq!(answer.status, 200);
    let v = answer.json();
    assert_eq!(v["id"], 7);
    v
}

#[test]
fn the_rpcs_answer_balances_and_blockhashes() {
    let mock = mock(Paywall::both().balance_atomic(1_234_567));
    let base = mock.base_rpc_url();
    assert_eq!(rpc(&base, "eth_chainId", json!([]))["result"], "0x2105");
    let data = format!(
        "0x70a08231{:0>64}",
        HARDHAT_ADDRESS[2..].to_ascii_lowercase()
    );
    let v = rpc(
        &base,
        "eth_call",
        json!([{"to": BASE_USDC, "data": data}, "latest"]),
    );
    assert_eq!(
        u64::from_str_radix(v["result"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap(),
        1_234_567
    );
    let v = rpc(
        &base,
        "eth_call",
        json!([{"to": BASE_PAY_TO, "data": data}, "latest"]),
    );
    assert!(v["error"].is_object(), "not the USDC contract");

    let sol = mock.solana_rpc_url();
    let first = rpc(
        &sol,
        "getLatestBlockhash",
        json!([{"commitment": "confirmed"}]),
    );
    let second = rpc(&sol, "getLatestBlockhash", json!([]));
    let hash = first["result"]["value"]["blockhash"].as_str().unwrap();
    assert_eq!(bs58::decode(hash).into_vec().unwrap().len(), 32);
    assert_ne!(hash, second["result"]["value"]["blockhash"]);
    assert!(first["result"]["value"]["lastValidBlockHeight"].is_u64());
    let v = rpc(
        &sol,
        "getTokenAccountsByOwner",
        json!([ABANDON_SOLANA, {"mint": SOLANA_USDC}, {"encoding": "jsonParsed"}]),
    );
    let account = &v["result"]["value"][0];
    assert_eq!(
        account["pubkey"],
        "5N3f1tj9v1vc5TUZ8S7mCAnVmjVKrfnzXWhxLaxyZAgt"
    );
    let amount = &account["account"]["data"]["parsed"]["info"]["tokenAmount"];
    assert_eq!(amount["amount"], "1234567");
    assert_eq!(amount["decimals"], 6);
    assert_eq!(amount["uiAmountString"], "1.234567");
    let v = rpc(
        &sol,
        "getTokenAccountBalance",
        json!(["5N3f1tj9v1vc5TUZ8S7mCAnVmjVKrfnzXWhxLaxyZAgt"]),
    );
    assert_eq!(v["result"]["value"]["amount"], "1234567");
    let v = rpc(
        &sol,
        "getAccountInfo",
        json!([SOLANA_USDC, {"encoding": "base64"}]),
    );
    assert_eq!(
        v["result"]["value"]["owner"],
        "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
    );
    let data = base64::engine::general_purpose::STANDARD
        .decode(v["result"]["value"]["data"][0].as_str().unwrap())
        .unwrap();
    assert_eq!((data.len(), data[44]), (82, 6), "a mint of 6 decimals");
    assert!(rpc(&sol, "sendTransaction", json!([]))["error"].is_object());

    let calls = mock.rpc_calls();
    let methods: Vec<(Chain, &str)> = calls.iter().map(|c| (c.chain, c.method.as_str())).collect();
    assert_eq!(
        methods,
        [
            (Chain::Base, "eth_chainId"),
            (Chain::Base, "eth_call"),
            (Chain::Base, "eth_call"),
            (Chain::Solana, "getLatestBlockhash"),
            (Chain::Solana, "getLatestBlockhash"),
            (Chain::Solana, "getTokenAccountsByOwner"),
            (Chain::Solana, "getTokenAccountBalance"),
            (Chain::Solana, "getAccountInfo"),
            (Chain::Solana, "sendTransaction"),
        ]
    );
    assert_eq!(mock.blockhashes().len(), 2);
}

// ---- Solana ----------------------------------------------------------------

/// A PAYMENT-SIGNATURE for the 402 `answer`'s Solana offer, built by the crate's svm module
/// with `blockhash` (base58).
fn solana_payment(answer: &Answer, blockhash: &str) -> String {
    let required =
        x402::parse_payment_required(answer.header("payment-required").unwrap()).unwrap();
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
        panic!("a Solana offer: {accepted:?}");
    };
    let keypair = SolanaKeypair::from_mnemonic(&Mnemonic::parse(ABANDON).unwrap()).unwrap();
    let transfer = Transfer {
        fee_payer,
        owner: keypair.public_key(),
        pay_to,
        amount: accepted.amount.0,
        recent_blockhash: bs58::decode(blockhash)
            .into_vec()
            .unwrap()
            .try_into()
            .unwrap(),
        memo: svm::random_memo().unwrap(),
    };
    let transaction = transfer.sign(&keypair).unwrap();
    x402::svm_payment_signature(&required, accepted.offer, &transaction)
}

#[test]
fn a_solana_payment_with_the_mocks_blockhash_is_accepted_once() {
    let mock = mock(Paywall::solana());
    let body = chat_body("deepseek/deepseek-chat", Some(64));
    let quote = chat(&mock, &body, &[]);
    let raw = decode(quote.header("payment-required").unwrap());
    assert_eq!(raw["accepts"][0]["payTo"], SOLANA_PAY_TO);
    let hash = rpc(&mock.solana_rpc_url(), "getLatestBlockhash", json!([]))["result"]["value"]
        ["blockhash"]
        .as_str()
        .unwrap()
        .to_owned();
    let header = solana_payment(&quote, &hash);
    let answer = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &header)]);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let p = &mock.payments()[0];
    assert_eq!(p.chain, Chain::Solana);
    assert_eq!(
        p.from.as_deref(),
        Some(ABANDON_SOLANA),
        "web3.js decoded our authority"
    );
    assert!(p.verified);
    assert_eq!(p.outcome, PaymentOutcome::Settled);
    assert!(p.tx_signature.is_some());
    // What web3.js decoded from the crate's transaction.
    assert_eq!(p.report["feePayer"], FEE_PAYER);
    assert_eq!(p.report["blockhash"], hash.as_str());
    assert_eq!(p.report["transfers"][0]["decimals"], 6);
    assert_eq!(p.report["transfers"][0]["mint"], SOLANA_USDC);
    assert_eq!(p.report["memos"].as_array().unwrap().len(), 1);
    assert_eq!(p.report["computeUnitPrice"], "1");
    let receipt = decode(answer.header("payment-response").unwrap());
    assert_eq!(
        receipt["transaction"],
        p.tx_signature.clone().unwrap().as_str()
    );
    assert_eq!(receipt["payer"], ABANDON_SOLANA);

    let again = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &header)]);
    assert_eq!(refusal(&again), "\"transaction already used\"");

    // A blockhash the mock never handed out.
    let stranger = bs58::encode(rand32()).into_string();
    let answer = chat(
        &mock,
        &body,
        &[("PAYMENT-SIGNATURE", &solana_payment(&quote, &stranger))],
    );
    assert_eq!(refusal(&answer), "\"unknown blockhash\"");
    assert!(mock.payments()[2].verified, "well signed, stale blockhash");

    // A flipped byte in the signed message: the signature no longer verifies.
    let mut bad = decode(&solana_payment(&quote, &hash));
    let mut tx = base64::engine::general_purpose::STANDARD
        .decode(bad["payload"]["transaction"].as_str().unwrap())
        .unwrap();
    let last = tx.len() - 3;
    tx[last] ^= 1;
    bad["payload"]["transaction"] = json!(base64::engine::general_purpose::STANDARD.encode(tx));
    let answer = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &encode(&bad))]);
    assert_eq!(refusal(&answer), "\"invalid signature\"");
    assert_eq!(mock.chat_calls().len(), 1);
}

#[test]
fn a_solana_payment_to_the_wrong_place_is_refused() {
    let mock = mock(Paywall::both());
    let body = chat_body("deepseek/deepseek-chat", Some(64));
    let quote = chat(&mock, &body, &[]);
    let hash = rpc(&mock.solana_rpc_url(), "getLatestBlockhash", json!([]))["result"]["value"]
        ["blockhash"]
        .as_str()
        .unwrap()
        .to_owned();
    // The crate's policy takes the Base offer first; build from the Solana one alone.
    let mut raw = decode(quote.header("payment-required").unwrap());
    raw["accepts"] = json!([raw["accepts"][1].clone()]);
    let solana_only = Answer {
        status: 402,
        headers: vec![("payment-required".into(), encode(&raw))],
        body: String::new(),
    };
    let header = solana_payment(&solana_only, &hash);
    // Redirect the payment's echo of the offer to another payee: not an offer made.
    let mut bad = decode(&header);
    bad["accepted"]["payTo"] = json!(FEE_PAYER);
    let answer = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &encode(&bad))]);
    assert_ne!(answer.status, 200);
    let answer = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &header)]);
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[test]
fn a_solana_payload_that_is_no_transaction_is_refused() {
    let mock = mock(Paywall::solana());
    let body = chat_body("deepseek/deepseek-chat", Some(64));
    let quote = chat(&mock, &body, &[]);
    let raw = decode(quote.header("payment-required").unwrap());
    let payment = json!({"x402Version": 2, "resource": raw["resource"],
        "accepted": raw["accepts"][0], "payload": {"transaction": "AAAA"}});
    let answer = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &encode(&payment))]);
    assert!(refusal(&answer).starts_with("\"invalid transaction"));
}

#[test]
fn the_blockhash_can_be_kept_for_a_while() {
    let mock = mock(Paywall::solana().blockhash_every(Duration::from_secs(60)));
    let sol = mock.solana_rpc_url();
    let first = rpc(&sol, "getLatestBlockhash", json!([]));
    let second = rpc(&sol, "getLatestBlockhash", json!([]));
    assert_eq!(
        first["result"]["value"]["blockhash"],
        second["result"]["value"]["blockhash"]
    );
    assert_eq!(mock.blockhashes().len(), 1);
}

// ---- the verifier process, stalls and races ------------------------------------------

#[test]
fn the_verifier_process_ends_with_the_mock() {
    let mock = mock(Paywall::base());
    assert_eq!(mock.verifier_pid(), None, "started lazily");
    let (payer, _dir) = payer();
    let body = chat_body("google/gemini-3-flash", Some(16));
    let header = pay(&payer, &chat(&mock, &body, &[]), "google/gemini-3-flash");
    assert_eq!(mock.verifier_pid(), None, "a 402 needs no verifier");
    assert_eq!(
        chat(&mock, &body, &[("PAYMENT-SIGNATURE", &header)]).status,
        200
    );
    let pid = mock.verifier_pid().expect("started by the first payment");
    let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
    assert!(proc_dir.exists());
    drop(mock);
    // Killed and reaped: the process is gone, not a zombie.
    assert!(
        !proc_dir.exists(),
        "verifier {pid} still there after the mock was dropped"
    );
}

/// Sends a paid chat request on a raw connection and hangs up after `wait`.
fn send_and_hang_up(mock: &MockUpstream, body: &Value, header: &str, wait: Duration) {
    use std::io::Write;
    let body = body.to_string();
    let mut stream = std::net::TcpStream::connect(mock.addr()).unwrap();
    write!(
        stream,
        "POST /api/v1/chat/completions HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         PAYMENT-SIGNATURE: {header}\r\nContent-Length: {}\r\n\r\n{body}",
        mock.addr(),
        body.len()
    )
    .unwrap();
    std::thread::sleep(wait);
}

#[test]
fn a_client_that_gives_up_during_a_stall_has_paid_nothing() {
    let mock = mock(Paywall::base().stall_after_accepting(Duration::from_secs(3), 1));
    let (payer, _dir) = payer();
    let body = chat_body("openai/gpt-5.4", Some(64));
    let header = pay(&payer, &chat(&mock, &body, &[]), "openai/gpt-5.4");
    send_and_hang_up(&mock, &body, &header, Duration::from_millis(300));
    assert!(mock.wait_until(Duration::from_secs(2), |r| r
        .iter()
        .any(|r| r.client_disconnected)));
    assert_eq!(mock.payments()[0].outcome, PaymentOutcome::Accepted);
    assert!(mock.chat_calls().is_empty());
    // The same authorization, resent, pays the answer.
    let answer = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &header)]);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(mock.wait_for_payments(2, Duration::from_secs(2)));
    assert_eq!(mock.payments()[1].outcome, PaymentOutcome::Settled);
}

#[test]
fn one_authorization_sent_twice_at_once_is_collected_once() {
    let mock = mock(Paywall::base().stall_after_accepting(Duration::from_millis(500), 1));
    let (payer, _dir) = payer();
    let body = chat_body("openai/gpt-5.4", Some(64));
    let header = pay(&payer, &chat(&mock, &body, &[]), "openai/gpt-5.4");
    // Both at once: whichever claims the nonce first is served (after the stall); the other
    // waits for it to end, then finds the nonce collected.
    let answers: Vec<Answer> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..2)
            .map(|_| s.spawn(|| chat(&mock, &body, &[("PAYMENT-SIGNATURE", &header)])))
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 402]);
    let refused = answers.iter().find(|a| a.status == 402).unwrap();
    assert_eq!(refusal(refused), "\"nonce already used\"");
    assert_eq!(mock.chat_calls().len(), 1);
    let settled = mock
        .payments()
        .iter()
        .filter(|p| p.outcome == PaymentOutcome::Settled)
        .count();
    assert_eq!(settled, 1);
}

#[test]
fn a_paid_request_is_still_validated_strictly_and_then_not_settled() {
    let mock = mock(Paywall::base());
    let (payer, _dir) = payer();
    let mut body = chat_body("openai/gpt-5.4", Some(64));
    // A Responses-only field: OpenAI's Chat Completions refuses it, so the mock does too.
    body["instructions"] = json!("Be brief.");
    let header = pay(&payer, &chat(&mock, &body, &[]), "openai/gpt-5.4");
    let answer = chat(&mock, &body, &[("PAYMENT-SIGNATURE", &header)]);
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(mock.rejections().len(), 1);
    assert_eq!(mock.payments()[0].outcome, PaymentOutcome::Accepted);
    assert!(mock.chat_calls().is_empty());
}
