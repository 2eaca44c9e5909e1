//! The mock's paywall mode: a strict stand-in for BlockRun's API, which direct mode pays with
//! x402 version 2 (`MockUpstream::builder().blockrun(Paywall::base()).start(script)`).
//!
//! Routes (everything else is 404, so a bridge that forgets the `/api` prefix fails loudly):
//! - `POST /api/v1/chat/completions`: priced like BlockRun quotes ([`price_atomic`]); without
//!   payment 402 with `PAYMENT-REQUIRED` (base64 JSON, [`Paywall`]'s offers). With a
//!   `PAYMENT-SIGNATURE` (or `X-PAYMENT`) that passes every check, the request goes on through
//!   the usual strict validation and script, and the payment is settled only if the answer's
//!   status is below 400 (the x402 reference middleware's rule). A free model needs no
//!   payment; `Authorization: Bearer <api key>` pays with a BlockRun API key.
//! - `GET /api/v1/models`: a BlockRun-shaped catalog with prices ([`default_catalog`]).
//! - `POST /api/v1/exa/search`: paid like chat, a fixed amount ([`EXA_PRICE_ATOMIC`]).
//! - `POST /api/v1/solana/rpc` and `POST /rpc/base`: the JSON-RPC calls BlockRun's clients
//!   make for blockhashes and balances.
//!
//! ```ignore
//! let mock = MockUpstream::builder()
//!     .blockrun(Paywall::base().fail_after_accepting(502, 1))
//!     .start(|_| Reply::text("hi"));
//! // point the bridge at mock.api_base() (and BASE_RPC_URL at mock.base_rpc_url()) …
//! assert_eq!(mock.payments()[0].outcome, PaymentOutcome::Accepted); // the 502
//! assert_eq!(mock.payments()[1].outcome, PaymentOutcome::Settled); // the resend
//! ```
//!
//! A settled answer carries `PAYMENT-RESPONSE` (base64 JSON `{success, transaction, network,
//! payer}`). A refused payment gets 402 again, its `PAYMENT-REQUIRED`'s `error` saying why
//! (`invalid signature`, `nonce already used`, `transaction already used`, `amount too low`,
//! `authorization expired`, `unknown blockhash`, `insufficient funds`, …). The same
//! authorization sent twice at once is served once: the second waits for the first to end.
//!
//! Signatures are never checked by the crate under test: a Node process
//! (`tests/support/x402-verify.mjs`, viem for EIP-3009, @solana/web3.js and tweetnacl for
//! Solana, found through `VIEM_PATH`, `WEB3_PATH` and `NACL_PATH`: `.tools/viem`,
//! `.tools/solana-web3` and `.tools/solana`'s `node_modules`) does it, one JSON line in and out
//! per payment, started on the first paid request and killed when the mock is dropped.
//! If it cannot run, the paid request is answered 500 and the mock panics on drop: a missing
//! verifier must never pass for a bad signature.

use super::http::{Conn, RawRequest};
use super::validate::Rejection;
use super::{handle_chat, reject, run_reply, After, RecordedRequest, Reply, Shared};
use base64::Engine;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Base mainnet (CAIP-2).
pub const BASE_NETWORK: &str = "eip155:8453";
/// USDC on Base.
pub const BASE_USDC: &str = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
/// Solana mainnet (CAIP-2).
pub const SOLANA_NETWORK: &str = "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp";
/// USDC's mint on Solana.
pub const SOLANA_USDC: &str = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";
/// The mock's payee on Base (Hardhat's second published account, a valid EIP-55 address).
pub const BASE_PAY_TO: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
/// The mock's payee on Solana.
pub const SOLANA_PAY_TO: &str = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM";
/// The mock facilitator, the fee payer of Solana payments.
pub const FEE_PAYER: &str = "2wmVCSfPxGPjrnMMn7rchp4uaeoTqN39mXFC2zhPdri9";
/// The SPL Token program (classic; USDC's).
pub const TOKEN_PROGRAM: &str = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
/// BlockRun's flat charge on top of the tokens, in USDC base units ($0.001); also the minimum.
pub const FLAT_FEE_ATOMIC: u64 = 1_000;
/// The output reservation BlockRun prices when a request names no `max_tokens`.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;
/// What one web search costs ($0.005).
pub const EXA_PRICE_ATOMIC: u64 = 5_000;
/// The spec's ceiling on a Solana payment's priority fee (micro-lamports per compute unit).
pub const MAX_COMPUTE_UNIT_PRICE: u64 = 5_000_000;

/// A way to pay. Offers are made on [`Chain::Base`] and [`Chain::Solana`]; a payment recorded
/// with [`Chain::ApiKey`] was paid with a BlockRun API key instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Chain {
    Base,
    Solana,
    ApiKey,
}

/// What became of a payment the mock saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// Verified; the request went on but its answer was an error (or is still running), so
    /// nothing was collected: the same payment can be sent again.
    Accepted,
    /// Verified and collected: its nonce (or transaction) can never be used again.
    Settled,
    /// Refused with 402; the reason is the `error` of that 402's `PAYMENT-REQUIRED`.
    Rejected(String),
}

/// One payment the mock received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaymentSeen {
    pub chain: Chain,
    /// The payer according to the independent verifier: the signer viem recovered (Base), the
    /// TransferChecked authority web3.js decoded (Solana); `None` when nothing was recovered.
    pub from: Option<String>,
    /// `payTo` of the offer the payment names.
    pub payee: Option<String>,
    /// The amount the payment names (base units).
    pub amount: Option<u64>,
    /// What this request costs (base units).
    pub quoted: u64,
    /// The authorization's nonce (Base).
    pub nonce: Option<String>,
    /// The payer's transaction signature, base58 (Solana).
    pub tx_signature: Option<String>,
    /// The model paid for (`exa/search` for a web search).
    pub model: String,
    /// `max_tokens` as the request gave it (`None`: absent, priced as [`DEFAULT_MAX_TOKENS`]).
    pub max_tokens: Option<u64>,
    /// Whether the verifier accepted the signature.
    pub verified: bool,
    /// What the verifier reported (`null` when it was not asked): on Base `{recovered,
    /// valid}`; on Solana the decoded transaction (fee payer, signatures, blockhash,
    /// instructions, transfers, memos, compute-unit limit and price; see x402-verify.mjs).
    pub report: Value,
    pub outcome: PaymentOutcome,
    /// Index of the request in `MockUpstream::requests()`.
    pub request: usize,
}

/// One JSON-RPC call to the mock's RPC endpoints.
#[derive(Clone, Debug, PartialEq)]
pub struct RpcCall {
    /// [`Chain::Base`] for `/rpc/base`, [`Chain::Solana`] for `/api/v1/solana/rpc`.
    pub chain: Chain,
    pub method: String,
    pub params: Value,
}

/// One 402 quote the mock made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    pub model: String,
    pub max_tokens: Option<u64>,
    pub amount: u64,
    /// The `error` of the `PAYMENT-REQUIRED` (`Payment required`, or why a payment was refused).
    pub error: String,
    pub request: usize,
}

/// How the paywall behaves; see the module docs. Start with [`Paywall::base`],
/// [`Paywall::solana`] or [`Paywall::both`].
#[derive(Clone, Debug)]
pub struct Paywall {
    offers: Vec<Chain>,
    base_network: String,
    solana_network: String,
    base_asset: String,
    solana_asset: String,
    base_pay_to: String,
    solana_pay_to: String,
    base_extra: Value,
    solana_extra: Value,
    max_timeout_seconds: u64,
    amount: Option<u64>,
    exa_amount: u64,
    refuse: bool,
    refuse_nth: Option<usize>,
    fail_after: Option<(u16, u32)>,
    stall_after: Option<(Duration, u32)>,
    api_key: Option<String>,
    catalog: Value,
    exa_results: Option<Value>,
    balance_atomic: u64,
    blockhash_every: Option<Duration>,
}

impl Paywall {
    /// Offers Base only.
    pub fn base() -> Self {
        Paywall {
            offers: vec![Chain::Base],
            base_network: BASE_NETWORK.into(),
            solana_network: SOLANA_NETWORK.into(),
            base_asset: BASE_USDC.into(),
            solana_asset: SOLANA_USDC.into(),
            base_pay_to: BASE_PAY_TO.into(),
            solana_pay_to: SOLANA_PAY_TO.into(),
            base_extra: json!({"name": "USD Coin", "version": "2"}),
            solana_extra: json!({"feePayer": FEE_PAYER}),
            max_timeout_seconds: 300,
            amount: None,
            exa_amount: EXA_PRICE_ATOMIC,
            refuse: false,
            refuse_nth: None,
            fail_after: None,
            stall_after: None,
            api_key: None,
            catalog: default_catalog(),
            exa_results: None,
            balance_atomic: 5_000_000,
            blockhash_every: None,
        }
    }

    /// Offers Solana only.
    pub fn solana() -> Self {
        Paywall::base().offers(&[Chain::Solana])
    }

    /// Offers Base, then Solana.
    pub fn both() -> Self {
        Paywall::base().offers(&[Chain::Base, Chain::Solana])
    }

    /// The `accepts` entries, in this order.
    pub fn offers(mut self, chains: &[Chain]) -> Self {
        assert!(
            !chains.contains(&Chain::ApiKey),
            "an API key is not an x402 offer"
        );
        self.offers = chains.to_vec();
        self
    }

    /// Every request costs `atomic` base units (chat and search), whatever it asks.
    pub fn amount(mut self, atomic: u64) -> Self {
        self.amount = Some(atomic);
        self
    }

    /// What a web search costs (default [`EXA_PRICE_ATOMIC`]).
    pub fn exa_amount(mut self, atomic: u64) -> Self {
        self.exa_amount = atomic;
        self
    }

    /// Every payment that passes verification is refused anyway: 402 "insufficient funds".
    pub fn refuse_payments(mut self) -> Self {
        self.refuse = true;
        self
    }

    /// The `n`-th payment the mock receives (1-based), if it passes verification, is refused
    /// anyway like [`Paywall::refuse_payments`] (e.g. a payment signed ahead that BlockRun
    /// prices differently).
    pub fn refuse_payment_number(mut self, n: usize) -> Self {
        self.refuse_nth = Some(n);
        self
    }

    /// The next `times` verified payments are answered `status` without calling the script or
    /// settling (an upstream failure behind the paywall).
    pub fn fail_after_accepting(mut self, status: u16, times: u32) -> Self {
        self.fail_after = Some((status, times));
        self
    }

    /// After the next `times` verified payments, say nothing for `duration` before going on
    /// (a slow upstream; a client that gives up meanwhile leaves the payment unsettled).
    pub fn stall_after_accepting(mut self, duration: Duration, times: u32) -> Self {
        self.stall_after = Some((duration, times));
        self
    }

    /// The asset offered on `chain` (to check the bridge refuses a foreign token).
    pub fn asset(mut self, chain: Chain, asset: &str) -> Self {
        match chain {
            Chain::Base => self.base_asset = asset.into(),
            Chain::Solana => self.solana_asset = asset.into(),
            Chain::ApiKey => panic!("an API key has no asset"),
        }
        self
    }

    /// The network named by `chain`'s offer (to check the bridge refuses a foreign chain).
    pub fn network(mut self, chain: Chain, network: &str) -> Self {
        match chain {
            Chain::Base => self.base_network = network.into(),
            Chain::Solana => self.solana_network = network.into(),
            Chain::ApiKey => panic!("an API key has no network"),
        }
        self
    }

    /// The payee of `chain`'s offer.
    pub fn pay_to(mut self, chain: Chain, pay_to: &str) -> Self {
        match chain {
            Chain::Base => self.base_pay_to = pay_to.into(),
            Chain::Solana => self.solana_pay_to = pay_to.into(),
            Chain::ApiKey => panic!("an API key has no payee"),
        }
        self
    }

    /// The `extra` of `chain`'s offer (Base: the EIP-712 domain; Solana: `feePayer`).
    pub fn extra(mut self, chain: Chain, extra: Value) -> Self {
        match chain {
            Chain::Base => self.base_extra = extra,
            Chain::Solana => self.solana_extra = extra,
            Chain::ApiKey => panic!("an API key has no extra"),
        }
        self
    }

    /// `maxTimeoutSeconds` of every offer (default 300).
    pub fn max_timeout_seconds(mut self, seconds: u64) -> Self {
        self.max_timeout_seconds = seconds;
        self
    }

    /// `Authorization: Bearer <key>` is served without x402. Any other `Authorization` is 401.
    pub fn api_key(mut self, key: &str) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// The catalog `GET /api/v1/models` serves and prices come from (default
    /// [`default_catalog`]).
    pub fn catalog(mut self, catalog: Value) -> Self {
        self.catalog = catalog;
        self
    }

    /// The body of a paid web search's answer (default: `numResults` made-up hits).
    pub fn exa_results(mut self, body: Value) -> Self {
        self.exa_results = Some(body);
        self
    }

    /// The USDC balance the RPCs report for any address, base units (default $5).
    pub fn balance_atomic(mut self, atomic: u64) -> Self {
        self.balance_atomic = atomic;
        self
    }

    /// `getLatestBlockhash` hands out the same blockhash for `period` (default: a new one on
    /// every call).
    pub fn blockhash_every(mut self, period: Duration) -> Self {
        self.blockhash_every = Some(period);
        self
    }

    fn chain_of_network(&self, network: &str) -> Option<Chain> {
        if network == self.base_network {
            Some(Chain::Base)
        } else if network == self.solana_network {
            Some(Chain::Solana)
        } else {
            None
        }
    }

    fn offer(&self, chain: Chain, amount: u64) -> Value {
        let (network, asset, pay_to, extra) = match chain {
            Chain::Base => (
                &self.base_network,
                &self.base_asset,
                &self.base_pay_to,
                &self.base_extra,
            ),
            _ => (
                &self.solana_network,
                &self.solana_asset,
                &self.solana_pay_to,
                &self.solana_extra,
            ),
        };
        json!({
            "scheme": "exact",
            "network": network,
            "amount": amount.to_string(),
            "asset": asset,
            "payTo": pay_to,
            "maxTimeoutSeconds": self.max_timeout_seconds,
            "extra": extra,
        })
    }
}

/// A BlockRun-shaped `/v1/models` answer: prices in USD per million tokens.
pub fn default_catalog() -> Value {
    json!({"object": "list", "data": [
        {"id": "anthropic/claude-sonnet-4.6", "object": "model", "name": "Claude Sonnet 4.6",
         "owned_by": "anthropic", "inputPrice": 3.0, "outputPrice": 15.0,
         "contextWindow": 200000, "maxOutput": 64000,
         "categories": ["coding", "tools", "vision", "reasoning"]},
        {"id": "openai/gpt-5.4", "object": "model", "name": "GPT-5.4", "owned_by": "openai",
         "inputPrice": 2.5, "outputPrice": 15.0, "contextWindow": 400000, "maxOutput": 128000,
         "categories": ["reasoning", "coding", "tools", "vision"]},
        {"id": "google/gemini-3-flash", "object": "model", "name": "Gemini 3 Flash",
         "owned_by": "google", "inputPrice": 0.5, "outputPrice": 3.0,
         "contextWindow": 1048576, "maxOutput": 65536,
         "categories": ["vision", "tools", "coding"]},
        {"id": "deepseek/deepseek-chat", "object": "model", "name": "DeepSeek V3.2 Chat",
         "owned_by": "deepseek", "inputPrice": 0.28, "outputPrice": 0.42,
         "contextWindow": 128000, "maxOutput": 8192, "categories": ["coding", "tools"]},
        {"id": "moonshot/kimi-k2.5", "object": "model", "name": "Kimi K2.5",
         "owned_by": "moonshot", "inputPrice": 0.6, "outputPrice": 3.0,
         "contextWindow": 262144, "maxOutput": 65536,
         "categories": ["reasoning", "coding", "tools"]},
        {"id": "nvidia/gpt-oss-120b", "object": "model", "name": "GPT-OSS 120B",
         "owned_by": "nvidia", "inputPrice": 0, "outputPrice": 0, "contextWindow": 128000,
         "maxOutput": 16384, "categories": ["coding", "tools"], "billingMode": "free"},
        {"id": "anthropic/claude-opus-4.5", "object": "model", "name": "Claude Opus 4.5",
         "owned_by": "anthropic", "inputPrice": 5.0, "outputPrice": 25.0,
         "contextWindow": 200000, "maxOutput": 32000,
         "categories": ["reasoning", "coding", "tools", "vision"], "hidden": true},
    ]})
}

/// A price in USD per million tokens as millionths of a base unit per token (exact for the
/// up to six decimals prices have), so sums and rounding are integer.
fn micro_atomic_per_token(price: &Value) -> u128 {
    let usd = price.as_f64().unwrap_or(0.0).max(0.0);
    (usd * 1e6).round() as u128
}

/// What BlockRun charges for a request of `body_chars` characters asking for `max_tokens`
/// (absent: [`DEFAULT_MAX_TOKENS`]) of the catalog `entry`: the estimated input tokens
/// (characters / 4, rounded up) at `inputPrice` plus the output reservation at `outputPrice`,
/// rounded up to a base unit, plus [`FLAT_FEE_ATOMIC`]; a `flat` model costs `flatPrice`
/// dollars; never under [`FLAT_FEE_ATOMIC`]. A model whose prices are both 0 is free (0).
pub fn price_atomic(entry: &Value, body_chars: usize, max_tokens: Option<u64>) -> u64 {
    if entry["billingMode"] == "flat" {
        let flat = micro_atomic_per_token(&entry["flatPrice"]);
        return u64::try_from(flat).unwrap_or(u64::MAX).max(FLAT_FEE_ATOMIC);
    }
    let input = micro_atomic_per_token(&entry["inputPrice"]);
    let output = micro_atomic_per_token(&entry["outputPrice"]);
    if input == 0 && output == 0 {
        return 0;
    }
    let input_tokens = body_chars.div_ceil(4) as u128;
    let output_tokens = u128::from(max_tokens.unwrap_or(DEFAULT_MAX_TOKENS));
    let micro = input_tokens * input + output_tokens * output;
    let atomic = u64::try_from(micro.div_ceil(1_000_000)).unwrap_or(u64::MAX);
    atomic.saturating_add(FLAT_FEE_ATOMIC).max(FLAT_FEE_ATOMIC)
}

/// The paywall's mutable record, kept in the mock's `State` (so the mock's condition variable
/// wakes whoever waits on it).
#[derive(Default)]
pub(super) struct Books {
    payments: Vec<PaymentSeen>,
    quotes: Vec<Quote>,
    /// Every `accepts` entry handed out: a payment must name one of them verbatim.
    offers_made: Vec<Value>,
    /// Nonces (lower-case) and transaction signatures collected.
    settled: HashSet<String>,
    /// Those of requests still running.
    in_flight: HashSet<String>,
    /// Every blockhash `getLatestBlockhash` handed out, when.
    blockhashes: Vec<(String, Instant)>,
    rpc_calls: Vec<RpcCall>,
    /// Paid requests whose answer's status is not known yet: request index → (payment
    /// index, the nonce or transaction claimed).
    pending: HashMap<usize, (usize, Option<String>)>,
    /// The `PAYMENT-RESPONSE` of each settled request, by request index.
    receipts: HashMap<usize, String>,
}

impl Books {
    /// Request `idx`'s answer has `status` (its first byte not written yet): settles its
    /// payment when below 400, so the payment is collected before the client can see the
    /// answer, like x402's reference middleware.
    pub(super) fn status_known(&mut self, idx: usize, status: u16) {
        let Some((payment, key)) = self.pending.remove(&idx) else {
            return;
        };
        if let Some(key) = &key {
            if status < 400 {
                self.settled.insert(key.clone());
            }
            self.in_flight.remove(key);
        }
        if status < 400 {
            if let Some(p) = self.payments.get_mut(payment) {
                p.outcome = PaymentOutcome::Settled;
                if let Some(receipt) = receipt(p) {
                    self.receipts.insert(idx, receipt);
                }
            }
        }
    }

    /// The `PAYMENT-RESPONSE` header of request `idx`, when it settled a payment.
    pub(super) fn receipt(&self, idx: usize) -> Option<(String, String)> {
        self.receipts
            .get(&idx)
            .map(|r| ("PAYMENT-RESPONSE".to_owned(), r.clone()))
    }
}

/// The running paywall: its settings, the scripted-failure counters and the verifier.
pub(super) struct Mock {
    paywall: Paywall,
    fails_left: AtomicU32,
    stalls_left: AtomicU32,
    slot: AtomicU64,
    verifier: Mutex<Option<Verifier>>,
}

impl Mock {
    pub(super) fn new(paywall: Paywall) -> Self {
        Mock {
            fails_left: AtomicU32::new(paywall.fail_after.map_or(0, |(_, n)| n)),
            stalls_left: AtomicU32::new(paywall.stall_after.map_or(0, |(_, n)| n)),
            slot: AtomicU64::new(300_000_000),
            verifier: Mutex::new(None),
            paywall,
        }
    }

    /// Stops the verifier process (the mock is being dropped).
    pub(super) fn stop_verifier(&self) {
        let mut guard = self.verifier.lock().unwrap_or_else(|e| e.into_inner());
        guard.take();
    }

    /// Asks the verifier, starting it if needed. An error means it could not answer.
    fn ask(&self, request: &Value) -> Result<Value, String> {
        let mut guard = self.verifier.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Some(Verifier::start()?);
        }
        let answer = guard.as_mut().map(|v| v.ask(request));
        match answer {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => {
                // A broken process is restarted on the next request rather than reused.
                guard.take();
                Err(e)
            }
            None => Err("verifier not started".into()),
        }
    }

    /// The verifier process's id, while it runs.
    pub(super) fn verifier_pid(&self) -> Option<u32> {
        let guard = self.verifier.lock().unwrap_or_else(|e| e.into_inner());
        guard.as_ref().map(|v| v.child.id())
    }

    fn take(counter: &AtomicU32) -> bool {
        counter
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

/// The Node process that checks signatures (`tests/support/x402-verify.mjs`).
struct Verifier {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Verifier {
    fn start() -> Result<Verifier, String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let viem = root.join(".tools/viem/node_modules");
        let web3 = root.join(".tools/solana-web3/node_modules");
        let nacl = root.join(".tools/solana/node_modules");
        if !viem.join("viem").is_dir() {
            return Err(format!(
                "the mock BlockRun verifies payments with viem, not found in {}: run \
                 scripts/install-deps.sh --viem (and --solana --solana-web3 for Solana)",
                viem.display()
            ));
        }
        let mut child = Command::new("node")
            .arg(root.join("tests/support/x402-verify.mjs"))
            .env("VIEM_PATH", &viem)
            .env("WEB3_PATH", &web3)
            .env("NACL_PATH", &nacl)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot run node for the payment verifier: {e}"))?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        Ok(Verifier {
            child,
            stdin,
            stdout,
        })
    }

    fn ask(&mut self, request: &Value) -> Result<Value, String> {
        writeln!(self.stdin, "{request}")
            .and_then(|()| self.stdin.flush())
            .map_err(|e| format!("payment verifier: write: {e}"))?;
        let mut line = String::new();
        let n = self
            .stdout
            .read_line(&mut line)
            .map_err(|e| format!("payment verifier: read: {e}"))?;
        if n == 0 {
            return Err("payment verifier exited".into());
        }
        serde_json::from_str(&line).map_err(|e| format!("payment verifier said {line:?}: {e}"))
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        // Only our own child, by its handle.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What a request is paid for.
struct Charge {
    amount: u64,
    model: String,
    max_tokens: Option<u64>,
    resource: Value,
}

/// Serves one request in paywall mode.
pub(super) fn handle(
    conn: &mut Conn,
    req: &RawRequest,
    json: Option<Value>,
    record: &RecordedRequest,
    idx: usize,
    shared: &Shared,
    mock: &Mock,
) -> After {
    let route = record.route().to_string();
    let origin = format!(
        "http://{}",
        req.header("host").unwrap_or("127.0.0.1").to_owned()
    );
    if route == "/api/v1/chat/completions" {
        return chat(conn, req, json, idx, shared, mock, &origin);
    }
    if let Some(reply) = shared.route.as_ref().and_then(|f| f(record)) {
        return run_reply(
            conn,
            reply,
            &Value::Null,
            req.body.len(),
            false,
            idx,
            shared,
        );
    }
    let reply = match (req.method.as_str(), route.as_str()) {
        ("POST", "/api/v1/exa/search") => return exa(conn, req, json, idx, shared, mock, &origin),
        ("GET", "/api/v1/models") => Reply::json(200, mock.paywall.catalog.clone()),
        ("POST", "/rpc/base") => rpc(shared, mock, Chain::Base, json.as_ref()),
        ("POST", "/api/v1/solana/rpc") => rpc(shared, mock, Chain::Solana, json.as_ref()),
        _ => Reply::json(404, json!({"error": "Not found"})),
    };
    run_reply(
        conn,
        reply,
        &Value::Null,
        req.body.len(),
        false,
        idx,
        shared,
    )
}

fn chat(
    conn: &mut Conn,
    req: &RawRequest,
    json: Option<Value>,
    idx: usize,
    shared: &Shared,
    mock: &Mock,
    origin: &str,
) -> After {
    // What is not a JSON POST naming a model is for the strict validation to refuse.
    let model = json
        .as_ref()
        .and_then(|b| b.get("model"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let (Some(body), Some(model), true) = (json.as_ref(), model, req.method == "POST") else {
        return handle_chat(conn, req, json, idx, shared);
    };
    let entry = mock.paywall.catalog["data"]
        .as_array()
        .and_then(|list| list.iter().find(|m| m["id"] == model.as_str()))
        .cloned();
    let Some(entry) = entry else {
        return reject(
            conn,
            idx,
            shared,
            400,
            Rejection::new(
                format!("Model {model} is not available on BlockRun"),
                Some("model"),
            ),
        );
    };
    let max_tokens = body
        .get("max_tokens")
        .or_else(|| body.get("max_completion_tokens"))
        .and_then(Value::as_u64);
    let chars = String::from_utf8_lossy(&req.body).chars().count();
    let mut amount = price_atomic(&entry, chars, max_tokens);
    if amount > 0 {
        amount = mock.paywall.amount.unwrap_or(amount);
    }
    let charge = Charge {
        amount,
        max_tokens,
        resource: json!({
            "url": format!("{origin}/api/v1/chat/completions"),
            "description": format!("BlockRun AI API: {model}"),
            "mimeType": "application/json",
        }),
        model,
    };
    gate(conn, req, idx, shared, mock, &charge, |conn| {
        handle_chat(conn, req, json.clone(), idx, shared)
    })
}

fn exa(
    conn: &mut Conn,
    req: &RawRequest,
    json: Option<Value>,
    idx: usize,
    shared: &Shared,
    mock: &Mock,
    origin: &str,
) -> After {
    let query = json
        .as_ref()
        .and_then(|b| b.get("query"))
        .and_then(Value::as_str)
        .filter(|q| !q.trim().is_empty())
        .map(str::to_owned);
    let num = json.as_ref().and_then(|b| b.get("numResults"));
    let num_ok = num.is_none_or(|n| n.as_u64().is_some_and(|n| (1..=100).contains(&n)));
    let (Some(query), true) = (query, num_ok) else {
        return reject(
            conn,
            idx,
            shared,
            400,
            Rejection::new(
                "query (a non-empty string) is required; numResults must be 1 to 100",
                Some("query"),
            ),
        );
    };
    let n = num.and_then(Value::as_u64).unwrap_or(10);
    let charge = Charge {
        amount: mock.paywall.amount.unwrap_or(mock.paywall.exa_amount),
        model: "exa/search".into(),
        max_tokens: None,
        resource: json!({
            "url": format!("{origin}/api/v1/exa/search"),
            "description": "BlockRun web search (Exa)",
            "mimeType": "application/json",
        }),
    };
    let body = mock.paywall.exa_results.clone().unwrap_or_else(|| {
        json!({"results": (1..=n).map(|i| json!({
            "title": format!("Result {i} for {query}"),
            "url": format!("https://example.org/search/{i}"),
            "text": format!("Made-up page {i} about {query}."),
        })).collect::<Vec<_>>()})
    });
    gate(conn, req, idx, shared, mock, &charge, |conn| {
        run_reply(
            conn,
            Reply::json(200, body),
            &Value::Null,
            req.body.len(),
            false,
            idx,
            shared,
        )
    })
}

/// Lets the request through `serve` when it is paid for (or free), settling the payment when
/// the answer's status is below 400; answers 402 otherwise.
fn gate(
    conn: &mut Conn,
    req: &RawRequest,
    idx: usize,
    shared: &Shared,
    mock: &Mock,
    charge: &Charge,
    serve: impl FnOnce(&mut Conn) -> After,
) -> After {
    if let Some(auth) = req.header("authorization") {
        let key = auth.strip_prefix("Bearer ").map(str::trim);
        if key.is_none() || key != mock.paywall.api_key.as_deref() {
            // Also catches a bridge forwarding some other credential to BlockRun.
            return reject(
                conn,
                idx,
                shared,
                401,
                Rejection::new("Invalid API key", None),
            );
        }
        let seen = PaymentSeen {
            chain: Chain::ApiKey,
            from: None,
            payee: None,
            amount: Some(charge.amount),
            quoted: charge.amount,
            nonce: None,
            tx_signature: None,
            model: charge.model.clone(),
            max_tokens: charge.max_tokens,
            verified: true,
            report: Value::Null,
            outcome: PaymentOutcome::Accepted,
            request: idx,
        };
        return serve_paid(conn, idx, shared, seen, None, serve);
    }
    if charge.amount == 0 {
        return serve(conn);
    }
    let header = req
        .header("payment-signature")
        .or_else(|| req.header("x-payment"));
    let Some(header) = header else {
        return payment_required(conn, idx, shared, mock, charge, "Payment required");
    };
    let (mut seen, key) = match verify(shared, mock, header, charge, idx) {
        Ok(v) => v,
        Err(Broken(why)) => {
            shared.state().panics.push(why.clone());
            let reply = Reply::json(500, json!({"error": why}));
            return run_reply(conn, reply, &Value::Null, 0, false, idx, shared);
        }
    };
    if let PaymentOutcome::Rejected(why) = &seen.outcome {
        let why = why.clone();
        shared.state().paywall.payments.push(seen);
        return payment_required(conn, idx, shared, mock, charge, &why);
    }
    let nth = shared.state().paywall.payments.len() + 1;
    if mock.paywall.refuse || mock.paywall.refuse_nth == Some(nth) {
        if let Some(key) = &key {
            release(shared, key);
        }
        seen.outcome = PaymentOutcome::Rejected("insufficient funds".into());
        shared.state().paywall.payments.push(seen);
        return payment_required(conn, idx, shared, mock, charge, "insufficient funds");
    }
    if let Some((status, _)) = mock
        .paywall
        .fail_after
        .filter(|_| Mock::take(&mock.fails_left))
    {
        let reply = Reply::json(
            status,
            json!({"error": "Upstream provider error", "message": "the model provider failed"}),
        );
        return serve_paid(conn, idx, shared, seen, key, |conn| {
            run_reply(conn, reply, &Value::Null, 0, false, idx, shared)
        });
    }
    if let Some((pause, _)) = mock
        .paywall
        .stall_after
        .filter(|_| Mock::take(&mock.stalls_left))
    {
        if !conn.wait_alive(pause) {
            shared.state().paywall.payments.push(seen);
            if let Some(key) = &key {
                release(shared, key);
            }
            shared.update(idx, |r| r.client_disconnected = true);
            return After::Close;
        }
    }
    serve_paid(conn, idx, shared, seen, key, serve)
}

/// Serves a verified request; its payment is settled when the answer's status is known and
/// below 400 ([`Books::status_known`]).
fn serve_paid(
    conn: &mut Conn,
    idx: usize,
    shared: &Shared,
    seen: PaymentSeen,
    key: Option<String>,
    serve: impl FnOnce(&mut Conn) -> After,
) -> After {
    {
        let mut st = shared.state();
        st.paywall.payments.push(seen);
        let payment = st.paywall.payments.len() - 1;
        st.paywall.pending.insert(idx, (payment, key));
    }
    shared.changed.notify_all();
    let after = serve(conn);
    // No status was ever written (the client left first): nothing is collected.
    let unanswered = shared.state().paywall.pending.remove(&idx);
    if let Some((_, Some(key))) = unanswered {
        release(shared, &key);
    }
    shared.changed.notify_all();
    after
}

/// x402's settlement response (base64 JSON `{success, transaction, network, payer}`) for a
/// settled payment; none for an API key. The Base transaction hash is made up (nothing goes on
/// chain); on Solana it is the payer's signature.
fn receipt(payment: &PaymentSeen) -> Option<String> {
    let (network, transaction) = match payment.chain {
        Chain::Base => (
            BASE_NETWORK,
            made_up_tx_hash(payment.nonce.as_deref().unwrap_or("").as_bytes()),
        ),
        Chain::Solana => (SOLANA_NETWORK, payment.tx_signature.clone()?),
        Chain::ApiKey => return None,
    };
    let body = json!({"success": true, "transaction": transaction, "network": network,
        "payer": payment.from});
    Some(base64::engine::general_purpose::STANDARD.encode(body.to_string()))
}

/// A made-up but stable transaction hash for `bytes`: `0x` + SHA-256 in hex.
fn made_up_tx_hash(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    let mut out = String::from("0x");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn release(shared: &Shared, key: &str) {
    shared.state().paywall.in_flight.remove(key);
    shared.changed.notify_all();
}

/// Claims a nonce or transaction for this request: refused when collected, and waited for
/// (a little) when another request holding it is still running.
fn claim(shared: &Shared, key: &str) -> Result<(), ()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut st = shared.state();
    loop {
        if st.paywall.settled.contains(key) {
            return Err(());
        }
        if !st.paywall.in_flight.contains(key) {
            st.paywall.in_flight.insert(key.to_owned());
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(());
        }
        st = shared
            .changed
            .wait_timeout(st, deadline - now)
            .map(|(g, _)| g)
            .unwrap_or_else(|e| e.into_inner().0);
    }
}

/// Answers 402 with this request's offers and `error`.
fn payment_required(
    conn: &mut Conn,
    idx: usize,
    shared: &Shared,
    mock: &Mock,
    charge: &Charge,
    error: &str,
) -> After {
    let accepts: Vec<Value> = mock
        .paywall
        .offers
        .iter()
        .map(|chain| mock.paywall.offer(*chain, charge.amount))
        .collect();
    {
        let mut st = shared.state();
        for offer in &accepts {
            if !st.paywall.offers_made.contains(offer) {
                st.paywall.offers_made.push(offer.clone());
            }
        }
        st.paywall.quotes.push(Quote {
            model: charge.model.clone(),
            max_tokens: charge.max_tokens,
            amount: charge.amount,
            error: error.to_owned(),
            request: idx,
        });
    }
    let required = json!({
        "x402Version": 2,
        "error": error,
        "resource": charge.resource,
        "accepts": accepts,
    });
    let header = base64::engine::general_purpose::STANDARD.encode(required.to_string());
    let body = json!({"error": error, "message": "This request needs an x402 payment (see the PAYMENT-REQUIRED header)"});
    let reply = Reply::json(402, body).header("PAYMENT-REQUIRED", &header);
    run_reply(conn, reply, &Value::Null, 0, false, idx, shared)
}

/// The verifier could not answer: not the payment's fault.
struct Broken(String);

/// Checks a payment header: the payment as seen (outcome `Accepted` or `Rejected`) and the
/// nonce or transaction it claimed (held until the request ends).
fn verify(
    shared: &Shared,
    mock: &Mock,
    header: &str,
    charge: &Charge,
    idx: usize,
) -> Result<(PaymentSeen, Option<String>), Broken> {
    let mut seen = PaymentSeen {
        chain: Chain::Base,
        from: None,
        payee: None,
        amount: None,
        quoted: charge.amount,
        nonce: None,
        tx_signature: None,
        model: charge.model.clone(),
        max_tokens: charge.max_tokens,
        verified: false,
        report: Value::Null,
        outcome: PaymentOutcome::Accepted,
        request: idx,
    };
    let rejected = |mut seen: PaymentSeen, why: &str| {
        seen.outcome = PaymentOutcome::Rejected(why.to_owned());
        Ok((seen, None))
    };
    let envelope = base64::engine::general_purpose::STANDARD
        .decode(header.trim())
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
    let Some(envelope) = envelope else {
        return rejected(seen, "invalid payment header: not base64 JSON");
    };
    if envelope["x402Version"] != 2 {
        return rejected(seen, "unsupported x402Version");
    }
    let accepted = &envelope["accepted"];
    seen.payee = accepted["payTo"].as_str().map(str::to_owned);
    seen.amount = accepted["amount"].as_str().and_then(|a| a.parse().ok());
    let chain = accepted["network"]
        .as_str()
        .and_then(|n| mock.paywall.chain_of_network(n));
    if let Some(chain) = chain {
        seen.chain = chain;
    }
    let offered = shared.state().paywall.offers_made.contains(accepted);
    let result = match chain {
        Some(Chain::Base) => verify_base(mock, &envelope, &mut seen)?,
        Some(Chain::Solana) => verify_solana(shared, mock, &envelope, &mut seen)?,
        _ => Err("unsupported network".to_owned()),
    };
    // The signature is judged first (above), then what was signed for.
    let result = result.and_then(|key| {
        if !offered {
            return Err("accepted does not match any offer made".into());
        }
        if seen.amount.is_none_or(|a| a < charge.amount) {
            return Err("amount too low".into());
        }
        Ok(key)
    });
    let key = match result {
        Ok(key) => key,
        Err(why) => return rejected(seen, &why),
    };
    if claim(shared, &key).is_err() {
        let why = match seen.chain {
            Chain::Solana => "transaction already used",
            _ => "nonce already used",
        };
        return rejected(seen, why);
    }
    Ok((seen, Some(key)))
}

/// EIP-3009 on Base; the nonce (lower case) when the payment holds.
fn verify_base(
    mock: &Mock,
    envelope: &Value,
    seen: &mut PaymentSeen,
) -> Result<Result<String, String>, Broken> {
    let accepted = &envelope["accepted"];
    let auth = &envelope["payload"]["authorization"];
    let signature = envelope["payload"]["signature"].as_str();
    let field = |name: &str| auth[name].as_str().map(str::to_owned);
    let fields: Option<Vec<String>> = ["from", "to", "value", "validAfter", "validBefore", "nonce"]
        .iter()
        .map(|n| field(n))
        .collect();
    let (Some(fields), Some(signature)) = (fields, signature) else {
        return Ok(Err(
            "invalid payload: authorization or signature missing".into()
        ));
    };
    let [from, to, value, valid_after, valid_before, nonce] = fields.as_slice() else {
        return Ok(Err("invalid payload".into()));
    };
    seen.nonce = Some(nonce.clone());
    let numbers: Option<Vec<u64>> = [value, valid_after, valid_before]
        .iter()
        .map(|s| s.parse::<u64>().ok())
        .collect();
    let nonce_ok = nonce.len() == 66
        && nonce.starts_with("0x")
        && nonce[2..].bytes().all(|b| b.is_ascii_hexdigit());
    let (Some(numbers), true) = (numbers, nonce_ok) else {
        return Ok(Err("invalid payload: malformed authorization".into()));
    };
    let answer = mock
        .ask(&json!({"kind": "evm", "authorization": auth, "signature": signature}))
        .map_err(Broken)?;
    if let Some(e) = answer.get("error") {
        return Err(Broken(format!("payment verifier failed: {e}")));
    }
    seen.from = answer["recovered"].as_str().map(str::to_owned);
    seen.report = answer.clone();
    seen.verified = answer["valid"] == true
        && seen
            .from
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case(from));
    if !seen.verified {
        return Ok(Err("invalid signature".into()));
    }
    let now = now_secs();
    let pay_to = accepted["payTo"].as_str().unwrap_or("");
    if !to.eq_ignore_ascii_case(pay_to) || !pay_to.eq_ignore_ascii_case(&mock.paywall.base_pay_to) {
        return Ok(Err("recipient mismatch".into()));
    }
    if accepted["amount"].as_str() != Some(value.as_str()) {
        return Ok(Err("value does not match amount".into()));
    }
    if now < numbers[1] {
        return Ok(Err("authorization not yet valid".into()));
    }
    if now >= numbers[2] {
        return Ok(Err("authorization expired".into()));
    }
    Ok(Ok(nonce.to_ascii_lowercase()))
}

/// A partially signed v0 transaction on Solana; the payer's signature (base58) when it holds.
fn verify_solana(
    shared: &Shared,
    mock: &Mock,
    envelope: &Value,
    seen: &mut PaymentSeen,
) -> Result<Result<String, String>, Broken> {
    let accepted = &envelope["accepted"];
    let Some(transaction) = envelope["payload"]["transaction"].as_str() else {
        return Ok(Err("invalid payload: transaction missing".into()));
    };
    let pay_to = accepted["payTo"].as_str().unwrap_or("").to_owned();
    let mint = accepted["asset"].as_str().unwrap_or("").to_owned();
    let answer = mock
        .ask(&json!({"kind": "svm", "transaction": transaction,
            "ataOwners": [{"owner": pay_to, "mint": mint}]}))
        .map_err(Broken)?;
    if let Some(e) = answer.get("error") {
        return Err(Broken(format!("payment verifier failed: {e}")));
    }
    if let Some(e) = answer.get("decodeError") {
        // A transaction web3.js cannot decode is the payment's fault, not the verifier's.
        return Ok(Err(format!(
            "invalid transaction: {}",
            e.as_str().unwrap_or("")
        )));
    }
    seen.tx_signature = answer["txSignature"].as_str().map(str::to_owned);
    seen.report = answer.clone();
    let transfers = answer["transfers"].as_array().cloned().unwrap_or_default();
    let transfer = transfers.first().cloned().unwrap_or(Value::Null);
    seen.from = transfer["authority"].as_str().map(str::to_owned);
    let authority = seen.from.clone().unwrap_or_default();
    let fee_payer = mock.paywall.solana_extra["feePayer"].as_str().unwrap_or("");
    let signatures = answer["signatures"].as_array().cloned().unwrap_or_default();
    // Every signature but the fee payer's (left for the facilitator) must verify.
    seen.verified = !authority.is_empty()
        && signatures
            .iter()
            .any(|s| s["signer"] == authority.as_str() && s["valid"] == true)
        && signatures.iter().skip(1).all(|s| s["valid"] == true);
    if !seen.verified {
        return Ok(Err("invalid signature".into()));
    }
    let instructions = answer["instructions"].as_array().map_or(0, Vec::len);
    let expected_destination = &answer["expectedDestination"][format!("{mint}/{pay_to}")];
    let price: Option<u64> = answer["computeUnitPrice"]
        .as_str()
        .and_then(|p| p.parse().ok());
    let known_blockhash = {
        let st = shared.state();
        let hash = answer["blockhash"].as_str().unwrap_or("");
        st.paywall.blockhashes.iter().any(|(h, _)| h == hash)
    };
    let checks: [(bool, &str); 13] = [
        (answer["version"] == 0, "not a v0 transaction"),
        (
            answer["lookups"] == 0,
            "address lookup tables are not allowed",
        ),
        (answer["feePayer"] == fee_payer, "fee payer mismatch"),
        (
            (3..=6).contains(&instructions),
            "unexpected instruction count",
        ),
        (transfers.len() == 1, "exactly one TransferChecked expected"),
        (
            transfer["program"] == TOKEN_PROGRAM,
            "transfer is not by the SPL Token program",
        ),
        (
            mock.paywall.solana_pay_to == pay_to && transfer["mint"] == mint.as_str(),
            "wrong mint or payee",
        ),
        (transfer["decimals"] == 6, "wrong decimals"),
        (
            transfer["amount"] == accepted["amount"],
            "transfer amount does not match amount",
        ),
        (
            !expected_destination.is_null() && transfer["destination"] == *expected_destination,
            "wrong destination token account",
        ),
        (
            authority != fee_payer && transfer["authoritySigner"] == true,
            "the fee payer must not be the transfer authority",
        ),
        (
            price.is_some_and(|p| p <= MAX_COMPUTE_UNIT_PRICE)
                && answer["computeUnitLimit"].is_u64(),
            "compute budget missing or price too high",
        ),
        (
            answer["memos"].as_array().is_some_and(|m| !m.is_empty()),
            "memo missing",
        ),
    ];
    if let Some((_, why)) = checks.iter().find(|(ok, _)| !ok) {
        return Ok(Err((*why).to_owned()));
    }
    if !known_blockhash {
        return Ok(Err("unknown blockhash".into()));
    }
    match &seen.tx_signature {
        Some(sig) => Ok(Ok(sig.clone())),
        None => Ok(Err("no payer signature".into())),
    }
}

/// A JSON-RPC answer to `request`.
fn rpc(shared: &Shared, mock: &Mock, chain: Chain, request: Option<&Value>) -> Reply {
    let Some(request) = request.filter(|r| r.is_object()) else {
        return Reply::json(
            400,
            json!({"jsonrpc": "2.0", "id": null,
                "error": {"code": -32700, "message": "Parse error (single requests only)"}}),
        );
    };
    let method = request["method"].as_str().unwrap_or("").to_owned();
    let params = request.get("params").cloned().unwrap_or(Value::Null);
    shared.state().paywall.rpc_calls.push(RpcCall {
        chain,
        method: method.clone(),
        params: params.clone(),
    });
    shared.changed.notify_all();
    let result = match chain {
        Chain::Base => base_rpc(mock, &method, &params),
        _ => solana_rpc(shared, mock, &method, &params),
    };
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    Reply::json(
        200,
        match result {
            Ok(result) => json!({"jsonrpc": "2.0", "id": id, "result": result}),
            Err((code, message)) => {
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
            }
        },
    )
}

type RpcResult = Result<Value, (i64, String)>;

fn base_rpc(mock: &Mock, method: &str, params: &Value) -> RpcResult {
    match method {
        "eth_chainId" => Ok(json!("0x2105")),
        "eth_blockNumber" => Ok(json!("0x1500000")),
        "eth_call" => {
            let call = &params[0];
            let to = call["to"].as_str().unwrap_or("");
            let data = call["data"]
                .as_str()
                .or_else(|| call["input"].as_str())
                .unwrap_or("");
            let balance_of = data.len() == 74
                && data.to_ascii_lowercase().starts_with("0x70a08231")
                && data[10..34].bytes().all(|b| b == b'0');
            if !to.eq_ignore_ascii_case(BASE_USDC) || !balance_of {
                return Err((-32000, "execution reverted".into()));
            }
            Ok(json!(format!("0x{:064x}", mock.paywall.balance_atomic)))
        }
        _ => Err((
            -32601,
            format!("the method {method} does not exist/is not available"),
        )),
    }
}

fn random_blockhash() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("random blockhash");
    bs58::encode(bytes).into_string()
}

/// `amount` base units as Solana's `uiAmountString` (no trailing zeros).
fn ui_amount(amount: u64) -> String {
    let whole = amount / 1_000_000;
    let frac = amount % 1_000_000;
    if frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:06}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

fn token_amount(amount: u64) -> Value {
    json!({"amount": amount.to_string(), "decimals": 6,
        "uiAmount": amount as f64 / 1e6, "uiAmountString": ui_amount(amount)})
}

fn solana_rpc(shared: &Shared, mock: &Mock, method: &str, params: &Value) -> RpcResult {
    let slot = mock.slot.fetch_add(1, Ordering::SeqCst);
    let context = json!({"apiVersion": "2.2.7", "slot": slot});
    let address = |v: &Value| {
        v.as_str()
            .and_then(clawrouter_codex::payments::svm::parse_address)
            .ok_or((-32602, "Invalid param: WrongSize".to_owned()))
    };
    match method {
        "getLatestBlockhash" => {
            let mut st = shared.state();
            let reuse = mock.paywall.blockhash_every.and_then(|period| {
                st.paywall
                    .blockhashes
                    .last()
                    .filter(|(_, at)| at.elapsed() < period)
                    .map(|(h, _)| h.clone())
            });
            let hash = reuse.unwrap_or_else(|| {
                let hash = random_blockhash();
                st.paywall.blockhashes.push((hash.clone(), Instant::now()));
                hash
            });
            Ok(json!({"context": context, "value": {
                "blockhash": hash, "lastValidBlockHeight": slot - 1000 + 150}}))
        }
        "getTokenAccountsByOwner" => {
            let owner = address(&params[0])?;
            let mint = params[1]["mint"].as_str();
            let program = params[1]["programId"].as_str();
            let ours =
                mint == Some(SOLANA_USDC) || (mint.is_none() && program == Some(TOKEN_PROGRAM));
            let usdc = clawrouter_codex::payments::svm::USDC_MINT;
            let ata = clawrouter_codex::payments::svm::associated_token_address(&owner, &usdc)
                .map(|a| bs58::encode(a).into_string())
                .unwrap_or_default();
            let accounts = if ours {
                vec![json!({"pubkey": ata, "account": {
                    "data": {"program": "spl-token", "space": 165, "parsed": {"type": "account",
                        "info": {"isNative": false, "mint": SOLANA_USDC,
                            "owner": bs58::encode(owner).into_string(), "state": "initialized",
                            "tokenAmount": token_amount(mock.paywall.balance_atomic)}}},
                    "executable": false, "lamports": 2039280, "owner": TOKEN_PROGRAM,
                    "rentEpoch": 18446744073709551615u64, "space": 165}})]
            } else {
                Vec::new()
            };
            Ok(json!({"context": context, "value": accounts}))
        }
        "getTokenAccountBalance" => {
            address(&params[0])?;
            Ok(json!({"context": context, "value": token_amount(mock.paywall.balance_atomic)}))
        }
        "getAccountInfo" => {
            address(&params[0])?;
            if params[0] != SOLANA_USDC {
                return Ok(json!({"context": context, "value": null}));
            }
            let parsed = params[1]["encoding"] == "jsonParsed";
            // An SPL Mint: no mint authority option set, supply, decimals 6, initialized.
            let mut data = vec![0u8; 82];
            data[36..44].copy_from_slice(&9_000_000_000_000_000u64.to_le_bytes());
            data[44] = 6;
            data[45] = 1;
            let data = if parsed {
                json!({"program": "spl-token", "space": 82, "parsed": {"type": "mint",
                    "info": {"decimals": 6, "isInitialized": true, "supply": "9000000000000000",
                        "mintAuthority": null, "freezeAuthority": null}}})
            } else {
                json!([
                    base64::engine::general_purpose::STANDARD.encode(&data),
                    "base64"
                ])
            };
            Ok(
                json!({"context": context, "value": {"data": data, "executable": false,
                "lamports": 388127047454u64, "owner": TOKEN_PROGRAM,
                "rentEpoch": 18446744073709551615u64, "space": 82}}),
            )
        }
        "getBalance" => {
            address(&params[0])?;
            Ok(json!({"context": context, "value": 0}))
        }
        _ => Err((-32601, "Method not found".into())),
    }
}

impl super::MockUpstream {
    fn paywall_books<T>(&self, f: impl FnOnce(&Books) -> T) -> T {
        f(&self.shared.state().paywall)
    }

    /// `http://127.0.0.1:PORT/api` (the bridge appends `/v1/...`).
    pub fn api_base(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// The Base JSON-RPC endpoint (`BASE_RPC_URL`).
    pub fn base_rpc_url(&self) -> String {
        format!("http://{}/rpc/base", self.addr)
    }

    /// The Solana JSON-RPC endpoint (`SOLANA_RPC_URL`).
    pub fn solana_rpc_url(&self) -> String {
        format!("http://{}/api/v1/solana/rpc", self.addr)
    }

    /// Every payment received, in order.
    pub fn payments(&self) -> Vec<PaymentSeen> {
        self.paywall_books(|b| b.payments.clone())
    }

    /// Every 402 quote made, in order.
    pub fn quotes(&self) -> Vec<Quote> {
        self.paywall_books(|b| b.quotes.clone())
    }

    /// Every JSON-RPC call, in order.
    pub fn rpc_calls(&self) -> Vec<RpcCall> {
        self.paywall_books(|b| b.rpc_calls.clone())
    }

    /// The payment verifier's process id while it runs (started by the first paid request).
    pub fn verifier_pid(&self) -> Option<u32> {
        self.shared.blockrun.as_ref().and_then(Mock::verifier_pid)
    }

    /// Blocks until at least `n` payments were seen and none is waiting for its answer's
    /// status, or `timeout` passes; returns whether that happened.
    pub fn wait_for_payments(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.state();
        loop {
            if st.paywall.payments.len() >= n && st.paywall.pending.is_empty() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// The blockhashes `getLatestBlockhash` handed out, oldest first.
    pub fn blockhashes(&self) -> Vec<String> {
        self.paywall_books(|b| b.blockhashes.iter().map(|(h, _)| h.clone()).collect())
    }
}
