//! Direct mode (`upstream.kind: direct`): the bridge calls BlockRun's API itself and pays each
//! call — no ClawRouter in between, answers streamed as they are generated, hard caps, a
//! ledger. `docs/ARCHITECTURE.md` ("Direct mode") walks the money path; `docs/SECURITY.md`
//! lists its rules and the test that proves each.
//!
//! - [`catalog`]: BlockRun's live `/v1/models` (prices, context, output limits, capabilities).
//! - [`pricing`]: BlockRun's quote and the output budget (`max_tokens`) that fits the cap.
//! - [`routing`]: `blockrun/auto|eco|premium` → the cheapest fitting candidate, then fallbacks.
//! - [`body`]: the Chat body's `model` and `max_tokens`, set on its bytes.
//! - [`balance`]: the wallet's USDC balance on Base over JSON-RPC.
//! - [`exchange`]: one paid call — 402 → pay → resend, signing ahead, reuse of an unsettled
//!   payment by a retry, fallbacks before any payment was accepted.
//! - [`solana_rpc`]: on Solana, the recent blockhash a payment needs and the USDC balance.
//!
//! The signing, the policy and the ledger are `crate::payments` (no Pingora types); this
//! module drives them over the bridge's upstream client. `proxy/` only asks [`Direct::route`]
//! before answering and [`Direct::open`] instead of the plain client's `open`.

pub mod balance;
pub mod body;
pub mod catalog;
pub mod exchange;
pub mod pricing;
pub mod routing;
pub mod solana_rpc;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::admin::wallet::{self, SecretKey, WalletSource};
use crate::config::direct::{DirectAuth, DirectSettings};
use crate::config::Config;
use crate::funding::Chain;
use crate::keys::solana::{Mnemonic, SolanaKeypair};
use crate::payments::ledger::{self, Ledger, LedgerError};
use crate::payments::policy::{Policy, Usdc};
use crate::payments::x402::PaymentRequired;
use crate::payments::{PaidAttempt, Payer};
use crate::translate::request::ChatPlan;
use crate::upstream_client::UpstreamClient;
use catalog::Catalog;
use k256::elliptic_curve::zeroize::Zeroizing;
use routing::{NoFit, Pick, Profiles};
use solana_rpc::SolanaRpc;

/// How long the requirements of a model's last 402 are used to sign ahead (BlockRun's SDK: 1 h).
const SIGN_AHEAD_TTL: Duration = Duration::from_secs(3600);
/// A payment whose call failed without being settled is reused by a retry of the same request
/// until this long before it expires.
const REUSE_MARGIN_SECS: u64 = 30;
/// After BlockRun refused a payment signed ahead for a model, how long none is signed ahead
/// for it.
const AHEAD_PAUSE: Duration = Duration::from_secs(600);

/// Why direct mode cannot start. Each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum DirectInitError {
    /// No key was found.
    #[error("direct mode needs a wallet key and none was found: set BLOCKRUN_WALLET_KEY (0x + 64 hex digits), WALLET_KEY_FILE, or create ClawRouter's wallet (~/.openclaw/blockrun/wallet.key); or use a BlockRun API key (direct.auth: api_key)")]
    NoKey,
    /// The key settings are wrong.
    #[error("direct mode's wallet key: {0}")]
    Key(String),
    /// Paying on Solana, and no Solana key was found.
    #[error("direct mode pays on Solana ({0}) and needs a Solana key, and none was found: set SOLANA_WALLET_KEY (a base58 secret key), direct.solana_key_file (a base58 secret key, a solana-keygen JSON key file or a mnemonic), or create ClawRouter's wallet (~/.openclaw/blockrun/mnemonic); or set direct.chain: base (env DIRECT_CHAIN=base)")]
    NoSolanaKey(String),
    /// The Solana key settings are wrong.
    #[error("direct mode's Solana key: {0}")]
    SolanaKey(String),
    /// The ledger cannot be used.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The routing file is wrong.
    #[error("direct.routing: {0}")]
    Routing(String),
}

/// How calls are paid.
enum Billing {
    /// x402, signed by the bridge.
    Wallet(Payer),
    /// A BlockRun API key; the ledger records estimated costs for the caps.
    ApiKey(Mutex<Ledger>),
}

/// A payment whose call failed before BlockRun settled it, kept for the retry of that request:
/// the retry resends this body with this payment.
struct Unsettled {
    attempt: Arc<PaidAttempt>,
    /// The request as translated (what [`exchange::RequestKey`] names).
    original: bytes::Bytes,
    /// The body sent with the payment (the pick's `model` and `max_tokens` set).
    body: bytes::Bytes,
    valid_until: u64,
}

/// Direct mode's state: how it pays, the catalog and profiles, and what it remembers between
/// calls (requirements to sign ahead with, payments a retry may reuse).
pub struct Direct {
    settings: DirectSettings,
    billing: Billing,
    catalog: Catalog,
    profiles: Profiles,
    /// Per model: the last 402's requirements (signed ahead from, with this call's price).
    sign_ahead: Mutex<HashMap<String, (PaymentRequired, Instant)>>,
    /// Per request (fingerprint of body and model): a payment not settled yet (5xx or no
    /// answer after paying).
    unsettled: Mutex<HashMap<u64, Unsettled>>,
    /// The random key of the request fingerprints.
    hasher: std::hash::RandomState,
    /// Per model: signing ahead is off until then (BlockRun refused a payment signed ahead).
    ahead_off: Mutex<HashMap<String, Instant>>,
    /// The wallet's balance as the dashboard last read it.
    balance: balance::BalanceCache,
    /// The router's last choice (requested → chosen), for the dashboard.
    last_route: Mutex<Option<(String, String)>>,
    /// Paying on Solana: the RPC for blockhashes and the balance.
    solana_rpc: Option<SolanaRpc>,
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direct")
            .field("api_url", &self.settings.api_url)
            .finish_non_exhaustive()
    }
}

/// The router's decision for one request.
#[derive(Debug, Clone)]
pub struct Routed {
    /// The model the request named (`blockrun/auto`, or a model id).
    pub requested: String,
    /// The client's own `max_output_tokens`, if any.
    pub asked_max: Option<u64>,
    /// The picks, cheapest first, or why none fits.
    pub picks: Result<Vec<Pick>, NoFit>,
}

impl Routed {
    /// The model the request goes to first.
    pub fn chosen(&self) -> Option<&str> {
        self.picks
            .as_ref()
            .ok()
            .and_then(|picks| picks.first())
            .map(|pick| pick.model.as_str())
    }
}

impl Direct {
    /// Direct mode for `config` (whose `direct` is `settings`): finds the key (wallet
    /// billing), opens the ledger, reads the routing profiles.
    pub fn new(config: &Config, settings: &DirectSettings) -> Result<Direct, DirectInitError> {
        let env = |name: &str| std::env::var(name).ok();
        Direct::with_env(config, settings, &env)
    }

    /// [`Direct::new`] with the environment read through `env`.
    pub fn with_env(
        config: &Config,
        settings: &DirectSettings,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Direct, DirectInitError> {
        let profiles = match &settings.routing {
            Some(path) => Profiles::read(path).map_err(DirectInitError::Routing)?,
            None => Profiles::builtin(),
        };
        let ledger = Ledger::open(&settings.ledger)?;
        let policy = Policy {
            caps: settings.caps,
            pay_to: settings.pay_to.clone(),
            solana: false,
        };
        let mut solana_rpc = None;
        let billing = match &settings.auth {
            DirectAuth::ApiKey(_) => Billing::ApiKey(Mutex::new(ledger)),
            DirectAuth::Wallet if settings.chain.chain == Chain::Solana => {
                let keypair = find_solana_key(settings, env)?;
                log::info!(
                    "direct mode pays on Solana ({}) from {}",
                    settings.chain.reason,
                    keypair.address()
                );
                solana_rpc = Some(SolanaRpc::new(&settings.solana_rpc_url, &keypair.address()));
                Billing::Wallet(Payer::solana(keypair, policy, ledger))
            }
            DirectAuth::Wallet => {
                let key = find_key(config, settings, env)?;
                Billing::Wallet(
                    Payer::new(key, policy, ledger)
                        .map_err(|e| DirectInitError::Key(e.to_string()))?,
                )
            }
        };
        Ok(Direct {
            settings: settings.clone(),
            billing,
            catalog: Catalog::default(),
            profiles,
            sign_ahead: Mutex::new(HashMap::new()),
            unsettled: Mutex::new(HashMap::new()),
            hasher: std::hash::RandomState::new(),
            ahead_off: Mutex::new(HashMap::new()),
            balance: balance::BalanceCache::default(),
            last_route: Mutex::new(None),
            solana_rpc,
        })
    }

    /// The chain payments are signed on (wallet billing).
    pub fn chain(&self) -> Option<Chain> {
        match &self.billing {
            Billing::Wallet(payer) => Some(payer.chain()),
            Billing::ApiKey(_) => None,
        }
    }

    /// Paying on Solana: the RPC it reads blockhashes and the balance from.
    pub fn solana_rpc(&self) -> Option<&SolanaRpc> {
        self.solana_rpc.as_ref()
    }

    /// The paying wallet's USDC balance on Solana (RPC `getTokenAccountsByOwner`, cached
    /// 30 s); an error when direct mode does not pay on Solana.
    pub async fn usdc_balance(&self) -> Result<Usdc, String> {
        match &self.solana_rpc {
            Some(rpc) => rpc.usdc_balance().await,
            None => Err(
                "direct mode does not pay on Solana here, so it reads no Solana balance".to_owned(),
            ),
        }
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &DirectSettings {
        &self.settings
    }

    /// The address paid from (wallet billing).
    pub fn address(&self) -> Option<String> {
        match &self.billing {
            Billing::Wallet(payer) => Some(payer.address()),
            Billing::ApiKey(_) => None,
        }
    }

    /// The router's last choice: the model asked for and the one it went to.
    pub fn last_route(&self) -> Option<(String, String)> {
        self.last_route.lock().ok().and_then(|last| last.clone())
    }

    /// The paying wallet's USDC balance on the chain it pays on (cached for the dashboard);
    /// `None` with an API key.
    pub async fn balance(&self) -> Option<Result<Usdc, String>> {
        let address = self.address()?;
        Some(match self.chain()? {
            Chain::Solana => self.usdc_balance().await,
            Chain::Base => {
                self.balance
                    .get(&self.settings.base_rpc_url, &address)
                    .await
            }
        })
    }

    /// Runs `f` on the ledger (reports: `spend`, the dashboard).
    pub fn with_ledger<T>(
        &self,
        f: impl FnOnce(&mut Ledger) -> Result<T, LedgerError>,
    ) -> Result<T, String> {
        match &self.billing {
            Billing::Wallet(payer) => payer.with_ledger(f).map_err(|e| e.to_string()),
            Billing::ApiKey(ledger) => {
                let mut ledger = ledger
                    .lock()
                    .map_err(|_| "the payment ledger is unavailable".to_owned())?;
                f(&mut ledger).map_err(|e| e.to_string())
            }
        }
    }

    /// Decides where a translated request goes: the profile's (or the named model's) cheapest
    /// fitting model first, then the fallbacks, each with its output budget. Fetches the
    /// catalog when it is stale.
    pub async fn route(&self, client: &UpstreamClient, plan: &ChatPlan) -> Routed {
        let catalog = self.catalog.models(client).await;
        let named = [plan.model.clone()];
        let candidates = match self.profiles.profile(&plan.model) {
            Some((_, candidates)) => candidates,
            None => &named[..],
        };
        let need = routing::Need {
            body_len: plan.body.len(),
            tools: !plan.tools.is_empty(),
            images: body::has_images(&plan.body),
            min_output: self.settings.min_output_tokens,
            cap: self.settings.caps.per_request,
        };
        let picks = routing::plan(&plan.model, candidates, catalog.as_deref(), &need);
        if let (Ok(picks), Ok(mut last)) = (&picks, self.last_route.lock()) {
            if let Some(first) = picks.first() {
                *last = Some((plan.model.clone(), first.model.clone()));
            }
        }
        if let Ok(picks) = &picks {
            let rest: Vec<&str> = picks.iter().skip(1).map(|p| p.model.as_str()).collect();
            if let Some(first) = picks.first() {
                log::info!(
                    "direct: {} → {} (max_tokens {}, quote {}){}",
                    plan.model,
                    first.model,
                    first.max_tokens,
                    first.quote.map_or("unknown".to_owned(), |q| q.to_string()),
                    if rest.is_empty() {
                        String::new()
                    } else {
                        format!("; fallbacks {}", rest.join(", "))
                    }
                );
            }
        }
        Routed {
            requested: plan.model.clone(),
            asked_max: plan.echo.max_output_tokens,
            picks,
        }
    }

    fn remember_requirements(&self, model: &str, required: PaymentRequired) {
        if let Ok(mut cache) = self.sign_ahead.lock() {
            cache.insert(model.to_owned(), (required, Instant::now()));
        }
    }

    /// A payment signed ahead for `model` was refused: its requirements are dropped, and no
    /// payment is signed ahead for it for [`AHEAD_PAUSE`] (BlockRun prices differently from
    /// our estimate; each refusal costs a round trip).
    fn ahead_refused(&self, model: &str) {
        if let Ok(mut cache) = self.sign_ahead.lock() {
            cache.remove(model);
        }
        if let Ok(mut off) = self.ahead_off.lock() {
            off.insert(model.to_owned(), Instant::now() + AHEAD_PAUSE);
        }
    }

    fn requirements(&self, model: &str) -> Option<PaymentRequired> {
        let paused = self
            .ahead_off
            .lock()
            .ok()
            .and_then(|off| off.get(model).copied())
            .is_some_and(|until| Instant::now() < until);
        if paused {
            return None;
        }
        let cache = self.sign_ahead.lock().ok()?;
        let (required, at) = cache.get(model)?;
        (at.elapsed() < SIGN_AHEAD_TTL).then(|| required.clone())
    }

    /// Which request this is, for the unsettled payments: a fingerprint of the translated
    /// body ([`crate::fingerprint`]) and the model, and the body itself to be sure.
    fn request_key(&self, model: &str, original: &bytes::Bytes) -> exchange::RequestKey {
        let body = crate::fingerprint::of(&self.hasher, original);
        exchange::RequestKey {
            fingerprint: std::hash::BuildHasher::hash_one(&self.hasher, (model, body)),
            original: original.clone(),
        }
    }

    fn keep_unsettled(
        &self,
        key: &exchange::RequestKey,
        attempt: Arc<PaidAttempt>,
        body: bytes::Bytes,
    ) {
        if let Ok(mut map) = self.unsettled.lock() {
            let now = crate::clock::unix_now();
            map.retain(|_, u| u.valid_until > now);
            let valid_until = attempt.valid_before();
            map.insert(
                key.fingerprint,
                Unsettled {
                    attempt,
                    original: key.original.clone(),
                    body,
                    valid_until,
                },
            );
        }
    }

    /// The unsettled payment of this very request (the whole translated body compared), and
    /// the body it was sent with.
    fn take_unsettled(
        &self,
        key: &exchange::RequestKey,
    ) -> Option<(Arc<PaidAttempt>, bytes::Bytes)> {
        let mut map = self.unsettled.lock().ok()?;
        if map.get(&key.fingerprint)?.original != key.original {
            return None;
        }
        let kept = map.remove(&key.fingerprint)?;
        (kept.valid_until > crate::clock::unix_now() + REUSE_MARGIN_SECS)
            .then_some((kept.attempt, kept.body))
    }

    fn forget_unsettled(&self, key: &exchange::RequestKey) {
        if let Ok(mut map) = self.unsettled.lock() {
            if map
                .get(&key.fingerprint)
                .is_some_and(|kept| kept.original == key.original)
            {
                map.remove(&key.fingerprint);
            }
        }
    }

    fn record_cost(&self, model: &str, amount: Usdc) {
        if let Some(dir) = &self.settings.blockrun_home {
            let ts = i64::try_from(crate::clock::unix_now()).unwrap_or(i64::MAX);
            if let Err(e) = ledger::append_cost_log(dir, ts, model, amount) {
                log::warn!(
                    "could not append to {}: {e}",
                    dir.join("cost_log.jsonl").display()
                );
            }
        }
    }
}

/// The wallet key, found as for ClawRouter (`BLOCKRUN_WALLET_KEY`, `BASE_CHAIN_WALLET_KEY`,
/// `WALLET_KEY_FILE` / `proxy.wallet_key_file`, `$BLOCKRUN_HOME/.session`), then ClawRouter's
/// own `~/.openclaw/blockrun/wallet.key`.
pub fn find_key(
    config: &Config,
    settings: &DirectSettings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SecretKey, DirectInitError> {
    let found = wallet::discover(config, env).map_err(|e| DirectInitError::Key(e.to_string()))?;
    if let (Some(key), source) = (found.key, &found.source) {
        if !matches!(source, WalletSource::ClawRouterOwn) {
            log::info!("direct mode signs with the key from {}", source.describe());
        }
        return Ok(key);
    }
    let file = settings
        .clawrouter_wallet_dir
        .as_ref()
        .map(|dir| dir.join("wallet.key"))
        .filter(|file| file.exists())
        .ok_or(DirectInitError::NoKey)?;
    let key = wallet::read_key_file(&file, "ClawRouter's wallet")
        .map_err(|e| DirectInitError::Key(e.to_string()))?;
    log::info!(
        "direct mode signs with ClawRouter's wallet key {}",
        file.display()
    );
    Ok(key)
}

/// The Solana address direct mode pays from with `settings` (found as [`Direct::new`] finds
/// its key), for the management commands (`doctor`, `wallet`), with
/// [`solana_rpc::usdc_balance_blocking`] for its balance. The key itself stays here.
pub fn solana_address(
    settings: &DirectSettings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, DirectInitError> {
    find_solana_key(settings, env).map(|pair| pair.address())
}

/// The Solana key, first found of: `SOLANA_WALLET_KEY` (a base58 secret key),
/// `direct.solana_key_file` (a base58 secret key, a `solana-keygen` JSON array or a mnemonic),
/// ClawRouter's `~/.openclaw/blockrun/mnemonic` (SLIP-10 `m/44'/501'/0'/0'`). Errors name the
/// source, never its content.
fn find_solana_key(
    settings: &DirectSettings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SolanaKeypair, DirectInitError> {
    if let Some(text) = env("SOLANA_WALLET_KEY").map(Zeroizing::new) {
        if !text.trim().is_empty() {
            let pair = SolanaKeypair::from_secret(&text).map_err(|problem| {
                DirectInitError::SolanaKey(format!(
                    "the environment variable SOLANA_WALLET_KEY {problem} (its value is not \
                     shown); export the base58 secret key your wallet exports"
                ))
            })?;
            log::info!("direct mode signs on Solana with the key from SOLANA_WALLET_KEY");
            return Ok(pair);
        }
    }
    if let Some(file) = &settings.solana_key_file {
        let pair = solana_key_from_file(file, "direct.solana_key_file")?;
        log::info!(
            "direct mode signs on Solana with the key from {}",
            file.display()
        );
        return Ok(pair);
    }
    let file = settings
        .clawrouter_wallet_dir
        .as_ref()
        .map(|dir| dir.join("mnemonic"))
        .filter(|file| file.exists())
        .ok_or_else(|| DirectInitError::NoSolanaKey(settings.chain.reason.clone()))?;
    let pair = solana_key_from_file(&file, "ClawRouter's mnemonic")?;
    log::info!(
        "direct mode signs on Solana with the key derived from ClawRouter's mnemonic {}",
        file.display()
    );
    Ok(pair)
}

/// A Solana key file: a mnemonic (words), else a 64-byte secret key (base58 or JSON).
fn solana_key_from_file(
    file: &std::path::Path,
    what: &str,
) -> Result<SolanaKeypair, DirectInitError> {
    let bad = |problem: String| {
        DirectInitError::SolanaKey(format!(
            "{what} {} {problem} (the content is not shown)",
            file.display()
        ))
    };
    let meta = std::fs::metadata(file).map_err(|e| bad(format!("cannot be read ({e})")))?;
    if meta.len() > 64 * 1024 {
        return Err(bad(format!("is {} bytes, too large for a key", meta.len())));
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(file).map_err(|e| bad(format!("cannot be read ({e})")))?,
    );
    let words = text.split_whitespace().count();
    if words > 1 {
        let mnemonic = Mnemonic::parse(&text).map_err(|p| bad(format!("{p}")))?;
        return SolanaKeypair::from_mnemonic(&mnemonic).map_err(|e| bad(e.to_string()));
    }
    SolanaKeypair::from_secret(&text).map_err(|p| bad(p.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::direct::{resolve, DirectEnv, FileDirect};
    use std::path::{Path, PathBuf};

    const ABANDON: &str = "abandon abandon abandon abandon abandon abandon abandon abandon \
                           abandon abandon abandon about";
    const ABANDON_ADDRESS: &str = "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk";

    fn settings(home: &Path, key_file: Option<PathBuf>) -> DirectSettings {
        let file = FileDirect {
            chain: Some("solana".to_owned()),
            solana_key_file: key_file,
            ledger: Some(home.join("payments.sqlite")),
            ..FileDirect::default()
        };
        resolve(
            file,
            &DirectEnv::default(),
            Some(home),
            Some(home),
            "bridge.yaml",
            &|_| None,
        )
        .unwrap()
    }

    /// The base58 secret key of the seed `[n; 32]`, and its address.
    fn secret(n: u8) -> (String, String) {
        let seed = [n; 32];
        let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
        let public = ring::signature::KeyPair::public_key(&pair)
            .as_ref()
            .to_vec();
        let mut bytes = seed.to_vec();
        bytes.extend_from_slice(&public);
        (
            bs58::encode(bytes).into_string(),
            bs58::encode(public).into_string(),
        )
    }

    #[test]
    fn the_solana_key_is_found_env_first_then_the_setting_then_clawrouters_mnemonic() {
        let home = tempfile::tempdir().unwrap();
        let wallet = home.path().join(".openclaw/blockrun");
        std::fs::create_dir_all(&wallet).unwrap();
        std::fs::write(wallet.join("mnemonic"), ABANDON).unwrap();
        let (env_secret, env_address) = secret(1);
        let (file_secret, file_address) = secret(2);
        let key_file = home.path().join("solana.key");
        std::fs::write(&key_file, &file_secret).unwrap();

        let with_file = settings(home.path(), Some(key_file.clone()));
        let env = |name: &str| (name == "SOLANA_WALLET_KEY").then(|| env_secret.clone());
        assert_eq!(
            find_solana_key(&with_file, &env).unwrap().address(),
            env_address
        );
        assert_eq!(
            find_solana_key(&with_file, &|_| None).unwrap().address(),
            file_address
        );
        let without = settings(home.path(), None);
        assert_eq!(
            find_solana_key(&without, &|_| None).unwrap().address(),
            ABANDON_ADDRESS
        );
        assert_eq!(
            solana_address(&without, &|_| None).unwrap(),
            ABANDON_ADDRESS
        );
        // A mnemonic in the setting's file works too.
        std::fs::write(&key_file, format!("{ABANDON}\n")).unwrap();
        assert_eq!(
            find_solana_key(&with_file, &|_| None).unwrap().address(),
            ABANDON_ADDRESS
        );
        std::fs::remove_file(wallet.join("mnemonic")).unwrap();
        let e = find_solana_key(&without, &|_| None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("SOLANA_WALLET_KEY"), "{e}");
        assert!(e.contains("direct.solana_key_file"), "{e}");
        assert!(e.contains("direct.chain is solana"), "the reason: {e}");
    }

    #[test]
    fn a_bad_solana_key_is_named_by_its_source_never_shown() {
        let home = tempfile::tempdir().unwrap();
        let (good, _) = secret(3);
        let bad = format!("{}x", &good[..good.len() - 1]);
        let without = settings(home.path(), None);
        let env = |name: &str| (name == "SOLANA_WALLET_KEY").then(|| bad.clone());
        let e = find_solana_key(&without, &env).unwrap_err().to_string();
        assert!(e.contains("SOLANA_WALLET_KEY"), "{e}");
        assert!(!e.contains(&bad[..10]), "never shown: {e}");
        let key_file = home.path().join("solana.key");
        std::fs::write(&key_file, "ABANDON abandon").unwrap();
        let e = find_solana_key(&settings(home.path(), Some(key_file.clone())), &|_| None)
            .unwrap_err()
            .to_string();
        assert!(e.contains(&key_file.display().to_string()), "{e}");
        assert!(!e.to_lowercase().contains("abandon"), "never shown: {e}");
    }
}
