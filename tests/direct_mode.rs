//! Direct mode (`upstream.kind: direct`) end to end, against the strict mock BlockRun: every
//! payment the bridge signs is checked there by an independent implementation (viem), and the
//! money rules are proved by what the mock received — what was signed, how often, and what
//! was never signed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use clawrouter_codex::config::direct::FileDirect;
use std::path::Path;
use std::time::Duration;

use clawrouter_codex::config::EnvOverrides;
use common::bridge::BridgeGuard;
use common::client::{get, post_json, Answer};
use common::direct::{start_in, DirectBridge, ADDRESS, KEY};
use common::mock_upstream::blockrun::BASE_PAY_TO;
use common::mock_upstream::{Chain, MockUpstream, PaymentOutcome, Paywall, Reply};
use serde_json::{json, Value};

/// A direct-mode bridge, and one turn through it.
struct Direct {
    files: DirectBridge,
}

impl Direct {
    fn start(mock: &MockUpstream, tweak: impl FnOnce(&mut FileDirect)) -> Direct {
        Direct {
            files: DirectBridge::start(mock, tweak),
        }
    }

    fn bridge(&self) -> &BridgeGuard {
        &self.files.bridge
    }

    fn turn(&self, model: &str, text: &str) -> Answer {
        post_json(
            &self.bridge().url("/v1/responses"),
            &json!({"model": model, "input": text, "stream": true}),
        )
    }
}

fn mock(paywall: Paywall) -> MockUpstream {
    MockUpstream::builder()
        .blockrun(paywall)
        .start(|call| Reply::text(format!("answer from {}", call.model())))
}

/// The text the answer streamed, and whether it completed.
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

#[test]
fn a_turn_is_paid_once_by_the_bridges_own_signature_and_streamed_with_a_full_output_budget() {
    let mock = mock(Paywall::base());
    let direct = Direct::start(&mock, |_| {});
    let answer = direct.turn("blockrun/auto", "Say hi.");
    assert_eq!(answer.status, 200);
    let (text, end) = streamed(&answer);
    let end = end.unwrap();
    assert_eq!(end["type"], "response.completed", "{end}");
    // The cheapest candidate that fits: deepseek-chat (tools not needed, 8192 output).
    assert_eq!(text, "answer from deepseek/deepseek-chat");
    assert_eq!(
        answer.header("x-clawrouter-codex-model"),
        Some("deepseek/deepseek-chat")
    );
    let payments = mock.payments();
    assert_eq!(payments.len(), 1, "{payments:?}");
    let paid = &payments[0];
    assert!(paid.verified, "{paid:?}");
    assert_eq!(paid.outcome, PaymentOutcome::Settled);
    assert_eq!(paid.from.as_deref(), Some(ADDRESS));
    assert_eq!(paid.payee.as_deref(), Some(BASE_PAY_TO));
    assert_eq!(paid.amount, Some(paid.quoted), "pays what was asked");
    // BlockRun was asked to stream, with the model's whole output as the budget.
    let calls = mock.chat_calls();
    let paid_call = calls.last().unwrap();
    assert!(paid_call.is_stream());
    assert_eq!(paid_call.body["max_tokens"], 8192);
    assert_eq!(paid.max_tokens, Some(8192));
}

#[test]
fn later_turns_sign_ahead_and_cost_one_round_trip() {
    let mock = mock(Paywall::base());
    let direct = Direct::start(&mock, |_| {});
    assert_eq!(direct.turn("premium", "first").status, 200);
    let before = chat_requests(&mock);
    assert_eq!(before, 2, "the first turn: the 402, then the paid request");
    let (text, _) = streamed(&direct.turn("premium", "second, a little longer"));
    assert_eq!(text, "answer from openai/gpt-5.4");
    assert_eq!(chat_requests(&mock) - before, 1, "no 402 round trip");
    let payments = mock.payments();
    assert_eq!(payments.len(), 2);
    assert!(payments
        .iter()
        .all(|p| p.outcome == PaymentOutcome::Settled));
    assert_ne!(payments[0].nonce, payments[1].nonce);
}

#[test]
fn a_signed_ahead_payment_that_is_refused_falls_back_to_the_402_and_pays_once() {
    // The second payment (signed ahead, for the second turn) is refused as if BlockRun priced
    // that call above it.
    let mock = mock(Paywall::base().refuse_payment_number(2));
    let direct = Direct::start(&mock, |_| {});
    assert_eq!(direct.turn("premium", "first").status, 200);
    let before = chat_requests(&mock);
    let answer = direct.turn("premium", "second");
    let (_, end) = streamed(&answer);
    assert_eq!(end.unwrap()["type"], "response.completed");
    assert_eq!(
        chat_requests(&mock) - before,
        3,
        "signed ahead (refused), unpaid (402), paid"
    );
    let payments = mock.payments();
    let outcomes: Vec<&PaymentOutcome> = payments.iter().map(|p| &p.outcome).collect();
    assert_eq!(
        outcomes,
        [
            &PaymentOutcome::Settled,
            &PaymentOutcome::Rejected("insufficient funds".into()),
            &PaymentOutcome::Settled
        ]
    );
    // After a refusal nothing is signed ahead for that model for a while: 402 path again.
    let before = chat_requests(&mock);
    assert_eq!(direct.turn("premium", "third").status, 200);
    assert_eq!(chat_requests(&mock) - before, 2);
    assert_eq!(mock.payments().len(), 4);
}

#[test]
fn a_retry_after_a_5xx_resends_the_same_payment_and_never_signs_a_second() {
    let mock = mock(Paywall::base().fail_after_accepting(502, 1));
    let direct = Direct::start(&mock, |_| {});
    let first = direct.turn("premium", "Say hi.");
    let (_, end) = streamed(&first);
    assert_eq!(end.unwrap()["type"], "response.failed");
    // Codex retries a failed turn with the same body.
    let second = direct.turn("premium", "Say hi.");
    let (text, end) = streamed(&second);
    assert_eq!(end.unwrap()["type"], "response.completed");
    assert_eq!(text, "answer from openai/gpt-5.4");
    let payments = one_payment_sent_twice(&mock);
    assert_eq!(payments[0].outcome, PaymentOutcome::Accepted);
}

#[test]
fn a_402_after_paying_stops_with_a_clear_error_and_nothing_more_is_signed() {
    let mock = mock(Paywall::base().refuse_payments());
    let direct = Direct::start(&mock, |_| {});
    let message = failure_message(&direct.turn("premium", "Say hi."));
    assert!(
        message.contains("BlockRun refused the payment"),
        "{message}"
    );
    assert!(message.contains(ADDRESS), "{message}");
    assert!(message.contains("insufficient"), "{message}");
    assert_eq!(mock.payments().len(), 1, "one signature, never a second");
}

#[test]
fn an_offer_for_another_asset_network_or_payee_is_refused_unsigned() {
    let cases = [
        (
            Paywall::base().asset(Chain::Base, "0x0000000000000000000000000000000000000001"),
            "asset",
        ),
        (Paywall::base().network(Chain::Base, "eip155:1"), "eip155:1"),
        (
            Paywall::base().pay_to(Chain::Base, "0x1111111111111111111111111111111111111111"),
            "0x1111111111111111111111111111111111111111",
        ),
    ];
    for (paywall, named) in cases {
        let mock = mock(paywall);
        let direct = Direct::start(&mock, |d| d.pay_to = Some(BASE_PAY_TO.to_owned()));
        let message = failure_message(&direct.turn("premium", "Say hi."));
        assert!(message.contains(named), "{named}: {message}");
        assert!(mock.payments().is_empty(), "{named}: nothing signed");
    }
}

#[test]
fn a_price_over_the_per_request_cap_is_refused_before_signing() {
    let mock = mock(Paywall::base().amount(600_000));
    let direct = Direct::start(&mock, |d| d.max_per_request_usd = Some(0.5));
    let message = failure_message(&direct.turn("premium", "Say hi."));
    assert!(message.contains("max_per_request_usd"), "{message}");
    assert!(mock.payments().is_empty());
}

#[test]
fn the_daily_cap_holds_across_requests_and_restarts() {
    let mock = mock(Paywall::base().amount(30_000));
    let dir = tempfile::tempdir().unwrap();
    let env = EnvOverrides::default();
    let cap = |d: &mut FileDirect| d.max_per_day_usd = Some(0.05);
    let bridge = start_in(dir.path(), &mock, cap, &env).unwrap();
    let url = bridge.url("/v1/responses");
    let turn = |text: &str| {
        post_json(
            &url,
            &json!({"model": "premium", "input": text, "stream": true}),
        )
    };
    assert_eq!(
        streamed(&turn("one")).1.unwrap()["type"],
        "response.completed"
    );
    let message = failure_message(&turn("two"));
    assert!(message.contains("max_per_day_usd"), "{message}");
    drop(bridge);
    let bridge = start_in(dir.path(), &mock, cap, &env).unwrap();
    let url = bridge.url("/v1/responses");
    let again = post_json(
        &url,
        &json!({"model": "premium", "input": "three", "stream": true}),
    );
    assert!(failure_message(&again).contains("max_per_day_usd"));
    assert_eq!(mock.payments().len(), 1, "only the first turn was signed");
}

#[test]
fn concurrent_turns_cannot_both_pass_a_cap_only_one_fits() {
    let mock = mock(Paywall::base().amount(30_000));
    let direct = Direct::start(&mock, |d| d.max_per_day_usd = Some(0.05));
    let url = direct.bridge().url("/v1/responses");
    let answers: Vec<Answer> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let url = url.clone();
                scope.spawn(move || {
                    post_json(
                        &url,
                        &json!({"model": "premium", "input": format!("turn {i}"), "stream": true}),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let completed = answers
        .iter()
        .filter(|a| {
            streamed(a)
                .1
                .is_some_and(|e| e["type"] == "response.completed")
        })
        .count();
    assert_eq!(completed, 1);
    let signed = mock.payments().len();
    assert_eq!(signed, 1, "{:?}", mock.payments());
}

#[test]
fn a_blockrun_api_key_pays_without_signing_and_the_caps_still_hold() {
    let var = "CLAWROUTER_CODEX_TEST_DIRECT_API_KEY";
    std::env::set_var(var, "brk_test_key_123");
    let mock = mock(Paywall::base().api_key("brk_test_key_123"));
    let direct = Direct::start(&mock, |d| {
        d.auth = Some("api_key".to_owned());
        d.api_key_env = Some(var.to_owned());
        d.max_per_day_usd = Some(0.006);
    });
    let answer = direct.turn("blockrun/auto", "Say hi.");
    let (text, end) = streamed(&answer);
    assert_eq!(text, "answer from deepseek/deepseek-chat", "{end:?}");
    assert!(mock.quotes().is_empty(), "no 402 with a key");
    let calls = mock.chat_calls();
    assert_eq!(
        calls[0].header("authorization"),
        Some("Bearer brk_test_key_123")
    );
    assert!(calls[0].header("payment-signature").is_none());
    // The estimate (~$0.0045 for 8192 tokens of deepseek) was recorded: the next one is over
    // the day's $0.006, and so is every other candidate.
    let message = failure_message(&direct.turn("blockrun/auto", "Again."));
    assert!(message.contains("max_per_day_usd"), "{message}");
    assert!(
        message.contains("$0.00445"),
        "the cheapest candidate's price: {message}"
    );
    assert_eq!(mock.chat_calls().len(), 1);
}

#[test]
fn spend_cost_log_access_and_metrics_show_what_was_paid() {
    let mock = mock(Paywall::base().amount(12_345));
    let dir = tempfile::tempdir().unwrap();
    let blockrun_home = dir.path().join("blockrun-home");
    let mut env = EnvOverrides::default();
    env.direct.blockrun_home = Some(blockrun_home.to_string_lossy().into_owned());
    let bridge = start_in(dir.path(), &mock, |_| {}, &env).unwrap();
    let answer = post_json(
        &bridge.url("/v1/responses"),
        &json!({"model": "premium", "input": "hi", "stream": true}),
    );
    assert_eq!(streamed(&answer).1.unwrap()["type"], "response.completed");
    let log = std::fs::read_to_string(blockrun_home.join("cost_log.jsonl")).unwrap();
    let entry: Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(entry["model"], "openai/gpt-5.4");
    assert_eq!(entry["cost_usd"], 0.012345);
    assert_eq!(entry["endpoint"], "/v1/chat/completions");
    let metrics = get(&bridge.url("/metrics"), &[]).body;
    assert!(
        metrics.contains("clawrouter_codex_paid_usd_total 0.012345"),
        "{metrics}"
    );
    // `spend` reads the same ledger.
    let conf = dir.path().join("bridge.yaml");
    std::fs::write(
        &conf,
        format!(
            "upstream:\n  kind: direct\ndirect:\n  api_url: {}\n  chain: base\n  ledger: {}\n",
            mock.api_base(),
            dir.path().join("payments.sqlite").display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clawrouter-codex"))
        .args(["-c", conf.to_str().unwrap(), "spend", "--json"])
        .env("HOME", dir.path())
        .env("BLOCKRUN_WALLET_KEY", KEY)
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
fn a_corrupt_ledger_stops_the_bridge_with_a_clear_error_and_nothing_is_paid() {
    let mock = mock(Paywall::base());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("payments.sqlite"),
        b"not a database at all, really",
    )
    .unwrap();
    let err = start_in(dir.path(), &mock, |_| {}, &EnvOverrides::default())
        .err()
        .expect("refuses to start");
    assert!(err.contains("payments.sqlite"), "{err}");
    assert_eq!(
        std::fs::read(dir.path().join("payments.sqlite")).unwrap(),
        b"not a database at all, really",
        "never reset"
    );
    assert!(mock.payments().is_empty());
}

#[test]
fn images_go_to_a_model_that_takes_them() {
    let mock = mock(Paywall::base());
    let direct = Direct::start(&mock, |_| {});
    let png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
    let answer = post_json(
        &direct.bridge().url("/v1/responses"),
        &json!({"model": "blockrun/auto", "stream": true, "input": [{"type": "message", "role": "user",
            "content": [{"type": "input_text", "text": "What is this?"},
                        {"type": "input_image", "image_url": png}]}]}),
    );
    let (text, _) = streamed(&answer);
    // deepseek-chat takes no images; gemini-3-flash is the cheapest that does.
    assert_eq!(text, "answer from google/gemini-3-flash");
}

/// A config file for the management commands in direct mode against `mock`.
fn command_conf(dir: &Path, mock: &MockUpstream, bridge_port: u16) -> std::path::PathBuf {
    let key_file = dir.join("wallet.key");
    std::fs::write(&key_file, KEY).unwrap();
    let conf = dir.join("bridge.yaml");
    std::fs::write(
        &conf,
        format!(
            "listen: 127.0.0.1:{bridge_port}\nupstream:\n  kind: direct\nproxy:\n  wallet_key_file: {}\n\
             direct:\n  api_url: {}\n  chain: base\n  base_rpc_url: {}\n  ledger: {}\n",
            key_file.display(),
            mock.api_base(),
            mock.base_rpc_url(),
            dir.join("payments.sqlite").display()
        ),
    )
    .unwrap();
    conf
}

fn command(conf: &Path, home: &Path, args: &[&str]) -> Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clawrouter-codex"))
        .arg("-c")
        .arg(conf)
        .args(args)
        .env("HOME", home)
        .env("CODEX_HOME", home.join(".codex"))
        .env_remove("BLOCKRUN_WALLET_KEY")
        .env_remove("BASE_CHAIN_WALLET_KEY")
        .env_remove("WALLET_KEY_FILE")
        .env_remove("UPSTREAM_KIND")
        .env_remove("BLOCKRUN_API_URL")
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn wallet_and_doctor_report_the_key_the_chain_the_balance_and_todays_spend_without_a_proxy() {
    let mock = mock(Paywall::base().amount(10_000).balance_atomic(2_500_000));
    let dir = tempfile::tempdir().unwrap();
    let conf = command_conf(dir.path(), &mock, common::bridge::free_port());
    let wallet = command(&conf, dir.path(), &["wallet", "--json"]);
    assert_eq!(wallet["ok"], true, "{wallet}");
    let data = &wallet["data"];
    assert_eq!(data["mode"], "direct");
    assert_eq!(data["address"], ADDRESS);
    assert_eq!(data["chain"], "Base");
    assert_eq!(data["chainReason"], "direct.chain is base");
    assert_eq!(data["balanceUsd"], 2.5);
    let doctor = command(&conf, dir.path(), &["doctor", "--json"]);
    let checks = doctor["data"]["checks"]
        .as_array()
        .or(doctor["error"]["checks"].as_array())
        .unwrap()
        .clone();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(!names.contains(&"proxy"), "no proxy checks: {names:?}");
    let check = |name: &str| checks.iter().find(|c| c["name"] == name).unwrap().clone();
    let wallet = check("wallet");
    assert_eq!(wallet["ok"], true, "{wallet}");
    let detail = wallet["detail"].as_str().unwrap();
    assert!(detail.contains(ADDRESS), "{detail}");
    assert!(
        detail.contains("pays on Base (direct.chain is base)"),
        "{detail}"
    );
    assert!(detail.contains("balance $2.50 USDC"), "{detail}");
    assert!(
        detail.contains("caps $0.50 a request, $20.00 a day"),
        "{detail}"
    );
    assert_eq!(check("blockrun")["ok"], true);
    // An empty wallet is a failed check that says what to fund.
    let empty = mock_with_balance(0);
    let conf = command_conf(dir.path(), &empty, common::bridge::free_port());
    let doctor = command(&conf, dir.path(), &["doctor", "--json"]);
    let checks = doctor["error"]["checks"].as_array().unwrap();
    let wallet = checks.iter().find(|c| c["name"] == "wallet").unwrap();
    assert_eq!(wallet["ok"], false);
    assert_eq!(
        wallet["fix"],
        format!("send USDC on Base to {ADDRESS}"),
        "{wallet}"
    );
}

fn mock_with_balance(atomic: u64) -> MockUpstream {
    mock(Paywall::base().balance_atomic(atomic))
}

#[test]
fn the_thread_cap_stops_one_codex_thread_and_not_another() {
    let mock = mock(Paywall::base().amount(30_000));
    let direct = Direct::start(&mock, |d| d.max_per_thread_usd = Some(0.05));
    let url = direct.bridge().url("/v1/responses");
    let turn = |thread: &str, text: &str| {
        common::client::post(
            &url,
            json!({"model": "premium", "input": text, "stream": true})
                .to_string()
                .as_bytes(),
            &[("session_id", thread)],
        )
    };
    let done = |answer: &Answer| streamed(answer).1.unwrap()["type"].clone();
    assert_eq!(done(&turn("thread-a", "one")), "response.completed");
    let message = failure_message(&turn("thread-a", "two"));
    assert!(message.contains("max_per_thread_usd"), "{message}");
    assert_eq!(done(&turn("thread-b", "one")), "response.completed");
    assert_eq!(mock.payments().len(), 2);
}

#[test]
fn codex_hanging_up_while_a_paid_call_runs_leaves_the_payment_to_its_retry() {
    let mock = mock(Paywall::base().stall_after_accepting(Duration::from_secs(3), 1));
    let direct = Direct::start(&mock, |_| {});
    let body = json!({"model": "premium", "input": "Say hi.", "stream": true}).to_string();
    let request = format!(
        "POST /v1/responses HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        direct.bridge().addr(),
        body.len()
    );
    // Codex gives up while BlockRun, paid, is still working.
    common::client::raw_exchange(
        &direct.bridge().addr(),
        request.as_bytes(),
        Duration::from_millis(1500),
    );
    assert!(mock.wait_for_payments(1, Duration::from_secs(5)));
    // Its retry: the same body.
    let (text, end) = streamed(&direct.turn("premium", "Say hi."));
    assert_eq!(end.unwrap()["type"], "response.completed");
    assert_eq!(text, "answer from openai/gpt-5.4");
    one_payment_sent_twice(&mock);
}

/// The mock got two payments, the same authorization twice, the second settled.
fn one_payment_sent_twice(mock: &MockUpstream) -> Vec<common::mock_upstream::PaymentSeen> {
    let payments = mock.payments();
    assert_eq!(payments.len(), 2, "{payments:?}");
    assert_eq!(
        payments[0].nonce, payments[1].nonce,
        "the same authorization"
    );
    assert_eq!(payments[1].outcome, PaymentOutcome::Settled);
    payments
}
