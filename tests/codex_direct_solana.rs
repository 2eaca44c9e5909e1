//! The real Codex CLI (the pinned release, `CODEX_BIN` or `.tools/codex`) through the real
//! bridge in direct mode paying on Solana, against the strict mock BlockRun: a plain text turn
//! is paid with a Solana transaction the mock's independent verifier (@solana/web3.js +
//! tweetnacl) checks, and streamed back to Codex. Kept apart from the Base direct-mode CLI tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use clawrouter_codex::config::direct::FileDirect;
use clawrouter_codex::config::{EnvOverrides, FileConfig, FileUpstream};
use common::bridge::BridgeGuard;
use common::codex::{run_codex, CodexHome};
use common::mock_upstream::blockrun::{FEE_PAYER, SOLANA_PAY_TO};
use common::mock_upstream::{Chain, MockUpstream, PaymentOutcome, Paywall, Reply};

const ABANDON: &str = "abandon abandon abandon abandon abandon abandon abandon abandon \
                       abandon abandon abandon about";
const ADDRESS: &str = "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk";
const ROUTING: &str = "profiles:
  auto: [anthropic/claude-sonnet-4.6, google/gemini-3-flash, deepseek/deepseek-chat]
";

#[test]
fn a_codex_text_turn_is_paid_on_solana() {
    let mock = MockUpstream::builder()
        .blockrun(Paywall::solana())
        .start(|call| Reply::text(format!("answer from {}", call.model())));
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("solana.key");
    std::fs::write(&key_file, format!("{ABANDON}\n")).unwrap();
    let routing = dir.path().join("routing.yaml");
    std::fs::write(&routing, ROUTING).unwrap();
    let mut file = FileConfig {
        upstream: Some(FileUpstream {
            kind: Some("direct".to_owned()),
            ..FileUpstream::default()
        }),
        direct: Some(FileDirect {
            api_url: Some(mock.api_base()),
            chain: Some("solana".to_owned()),
            solana_rpc_url: Some(mock.solana_rpc_url()),
            solana_key_file: Some(key_file),
            ledger: Some(dir.path().join("payments.sqlite")),
            routing: Some(routing),
            max_per_request_usd: Some(0.5),
            ..FileDirect::default()
        }),
        ..FileConfig::default()
    };
    let bridge = BridgeGuard::try_start_file(&mut file, &EnvOverrides::default()).unwrap();
    let home = CodexHome::new(&bridge.base_url());
    let work = tempfile::tempdir().unwrap();
    let run = run_codex(&home, work.path(), "Say hello", Duration::from_secs(120));
    run.assert_success();
    let said = run.final_message.clone().unwrap_or_default();
    assert!(said.starts_with("answer from "), "{said:?}");
    let payments = mock.payments();
    assert!(!payments.is_empty(), "the turn was paid");
    for paid in &payments {
        assert_eq!(paid.chain, Chain::Solana);
        assert!(paid.verified, "{paid:?}");
        assert_eq!(paid.outcome, PaymentOutcome::Settled);
        assert_eq!(paid.from.as_deref(), Some(ADDRESS));
        assert_eq!(paid.payee.as_deref(), Some(SOLANA_PAY_TO));
        assert_eq!(paid.report["feePayer"], FEE_PAYER);
    }
    let model = said.trim_start_matches("answer from ");
    assert!(
        payments.iter().any(|p| p.model == model),
        "the answering model was paid for: {payments:?}"
    );
}
