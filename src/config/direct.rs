//! `upstream.kind: direct` and the `direct:` section: the bridge pays BlockRun's API itself
//! (see `docs/ARCHITECTURE.md`, "Direct mode"), so the upstream is BlockRun's API base, and
//! the caps, the chain, the key and the RPC endpoints are settled here, once.
//!
//! Every setting has an environment variable that outranks the file; their names are fixed
//! (harnesses outside the repository set them): `UPSTREAM_KIND`, `BLOCKRUN_API_URL`,
//! `DIRECT_MAX_PER_REQUEST_USD`, `DIRECT_MAX_PER_DAY_USD`, `DIRECT_CHAIN`, `SOLANA_RPC_URL`,
//! `BASE_RPC_URL`, `SOLANA_WALLET_KEY` (read by `direct`), and the key variables of
//! `admin::wallet`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ConfigError;
use crate::funding::Chain;
use crate::payments::policy::{Caps, Usdc};

/// BlockRun's API base for payments on Base: `/v1/…` is appended.
pub const BASE_API_URL: &str = "https://blockrun.ai/api";
/// BlockRun's API base for payments on Solana.
pub const SOLANA_API_URL: &str = "https://sol.blockrun.ai/api";
/// Base's public JSON-RPC endpoint (USDC balance).
pub const BASE_RPC_URL: &str = "https://mainnet.base.org";
/// BlockRun's Solana JSON-RPC endpoint (blockhash, USDC balance), as its SDK uses.
pub const SOLANA_RPC_URL: &str = "https://sol.blockrun.ai/api/v1/solana/rpc";
/// Default `direct.max_per_request_usd`.
pub const DEFAULT_MAX_PER_REQUEST_USD: f64 = 0.50;
/// Default `direct.max_per_day_usd`.
pub const DEFAULT_MAX_PER_DAY_USD: f64 = 20.0;
/// Default `direct.min_output_tokens`: answers shorter than this are cut too often for a
/// coding agent (a file rewrite is several thousand tokens).
pub const DEFAULT_MIN_OUTPUT_TOKENS: u64 = 4096;

/// `upstream.kind`: what the upstream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpstreamKind {
    /// A Chat Completions server that needs no payment from us (ClawRouter, any provider).
    #[default]
    ChatCompletions,
    /// BlockRun's API, paid by the bridge (x402) or with a BlockRun API key.
    Direct,
}

impl UpstreamKind {
    /// Parses `clawrouter` / `openai` / `direct`.
    pub fn parse(text: &str) -> Option<UpstreamKind> {
        match text.trim().to_ascii_lowercase().as_str() {
            "clawrouter" | "openai" | "chat" | "proxy" => Some(UpstreamKind::ChatCompletions),
            "direct" | "blockrun" => Some(UpstreamKind::Direct),
            _ => None,
        }
    }
}

/// `direct:` in the YAML. Every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDirect {
    /// BlockRun's API base (env `BLOCKRUN_API_URL`); default by chain.
    pub api_url: Option<String>,
    /// `wallet` (x402 payments, the default) or `api_key` (a BlockRun API key, no signing).
    pub auth: Option<String>,
    /// Environment variable holding the BlockRun API key (default `BLOCKRUN_API_KEY`).
    pub api_key_env: Option<String>,
    /// `base`, `solana` or `auto` (env `DIRECT_CHAIN`; `auto` follows ClawRouter's
    /// `payment-chain` file, else Base).
    pub chain: Option<String>,
    /// Most one request may cost, in USD (env `DIRECT_MAX_PER_REQUEST_USD`).
    pub max_per_request_usd: Option<f64>,
    /// Most one UTC day may cost, in USD (env `DIRECT_MAX_PER_DAY_USD`); 0 = no daily cap.
    pub max_per_day_usd: Option<f64>,
    /// Most one Codex thread may cost, in USD; absent = no thread cap.
    pub max_per_thread_usd: Option<f64>,
    /// The only payee accepted (an address); absent = whatever BlockRun names.
    pub pay_to: Option<String>,
    /// Base JSON-RPC URL for the USDC balance (env `BASE_RPC_URL`).
    pub base_rpc_url: Option<String>,
    /// Solana JSON-RPC URL for blockhashes and the balance (env `SOLANA_RPC_URL`).
    pub solana_rpc_url: Option<String>,
    /// A file holding the Solana key to pay from: a base58 64-byte secret key, a
    /// `solana-keygen` JSON array, or a BIP-39 mnemonic (env `SOLANA_WALLET_KEY`, a base58
    /// secret, outranks it); absent = ClawRouter's `mnemonic` file.
    pub solana_key_file: Option<PathBuf>,
    /// The fewest output tokens an answer may be allowed (default 4096): a model whose price
    /// at that length is above the per-request cap is not used.
    pub min_output_tokens: Option<u64>,
    /// The payment ledger (SQLite); default `~/.clawrouter-codex/payments.sqlite`.
    pub ledger: Option<PathBuf>,
    /// The routing profiles' candidates (default `conf/direct-routing.yaml`, built in).
    pub routing: Option<PathBuf>,
}

/// How direct mode is billed.
#[derive(Clone, PartialEq, Eq)]
pub enum DirectAuth {
    /// x402: the bridge signs a USDC payment for each call.
    Wallet,
    /// A BlockRun API key (`Authorization: Bearer brk_…`): no signing; the ledger records the
    /// estimated cost so the caps still hold.
    ApiKey(String),
}

impl std::fmt::Debug for DirectAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DirectAuth::Wallet => f.write_str("Wallet"),
            DirectAuth::ApiKey(_) => f.write_str("ApiKey(<redacted>)"),
        }
    }
}

/// `direct.chain` as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainChoice {
    /// Always Base.
    Base,
    /// Always Solana.
    Solana,
    /// ClawRouter's `payment-chain` file when it exists, else Base.
    Auto,
}

/// The chain that pays, and why (for `doctor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenChain {
    /// The chain.
    pub chain: Chain,
    /// Why: `direct.chain: base`, "ClawRouter's payment-chain file …", "the default".
    pub reason: String,
}

/// Direct mode's settings, validated.
#[derive(Debug, Clone)]
pub struct DirectSettings {
    /// BlockRun's API base the upstream URL was made from (`…/api`).
    pub api_url: String,
    /// Wallet payments or an API key.
    pub auth: DirectAuth,
    /// The chain that pays, and why.
    pub chain: ChosenChain,
    /// The spending caps.
    pub caps: Caps,
    /// The only payee accepted, when set.
    pub pay_to: Option<String>,
    /// Base JSON-RPC URL.
    pub base_rpc_url: String,
    /// Solana JSON-RPC URL.
    pub solana_rpc_url: String,
    /// `direct.solana_key_file`, `~` expanded.
    pub solana_key_file: Option<PathBuf>,
    /// The fewest output tokens an answer may be allowed.
    pub min_output_tokens: u64,
    /// The payment ledger.
    pub ledger: PathBuf,
    /// A routing file replacing the built-in candidates.
    pub routing: Option<PathBuf>,
    /// ClawRouter's wallet folder (`~/.openclaw/blockrun`), where its key files are.
    pub clawrouter_wallet_dir: Option<PathBuf>,
    /// `$BLOCKRUN_HOME` (default `~/.blockrun`): each paid call is appended to its
    /// `cost_log.jsonl`, as BlockRun's own tools do. `None` when HOME is unknown.
    pub blockrun_home: Option<PathBuf>,
}

/// The environment variables of direct mode (blank counts as unset).
#[derive(Debug, Default, Clone)]
pub struct DirectEnv {
    /// `UPSTREAM_KIND`.
    pub upstream_kind: Option<String>,
    /// `BLOCKRUN_API_URL`.
    pub api_url: Option<String>,
    /// `DIRECT_MAX_PER_REQUEST_USD`.
    pub max_per_request_usd: Option<String>,
    /// `DIRECT_MAX_PER_DAY_USD`.
    pub max_per_day_usd: Option<String>,
    /// `DIRECT_CHAIN`.
    pub chain: Option<String>,
    /// `SOLANA_RPC_URL`.
    pub solana_rpc_url: Option<String>,
    /// `BASE_RPC_URL`.
    pub base_rpc_url: Option<String>,
    /// `BLOCKRUN_HOME`: where BlockRun's tools keep `cost_log.jsonl` (default `~/.blockrun`).
    pub blockrun_home: Option<String>,
}

impl DirectEnv {
    /// Reads the variables through `get`.
    pub fn read(get: &dyn Fn(&str) -> Option<String>) -> DirectEnv {
        DirectEnv {
            upstream_kind: get("UPSTREAM_KIND"),
            api_url: get("BLOCKRUN_API_URL"),
            max_per_request_usd: get("DIRECT_MAX_PER_REQUEST_USD"),
            max_per_day_usd: get("DIRECT_MAX_PER_DAY_USD"),
            chain: get("DIRECT_CHAIN"),
            solana_rpc_url: get("SOLANA_RPC_URL"),
            base_rpc_url: get("BASE_RPC_URL"),
            blockrun_home: get("BLOCKRUN_HOME"),
        }
    }
}

/// The upstream kind from `UPSTREAM_KIND`, else `upstream.kind`, else ClawRouter's.
pub fn kind(
    file: Option<&str>,
    env: &DirectEnv,
    file_origin: &str,
) -> Result<UpstreamKind, ConfigError> {
    let (text, origin) = match (&env.upstream_kind, file) {
        (Some(v), _) => (v.as_str(), "environment variable UPSTREAM_KIND".to_owned()),
        (None, Some(v)) => (v, file_origin.to_owned()),
        (None, None) => return Ok(UpstreamKind::ChatCompletions),
    };
    UpstreamKind::parse(text).ok_or_else(|| ConfigError::Invalid {
        key: "upstream.kind",
        origin,
        message: format!(
            "{} is not one of \"clawrouter\" (a Chat Completions upstream such as ClawRouter) \
             or \"direct\" (the bridge pays BlockRun itself)",
            crate::excerpt::quoted(text)
        ),
    })
}

/// Validates the `direct:` section with its environment overrides. `home` is `$HOME`;
/// `state_dir` the bridge's own folder.
pub fn resolve(
    file: FileDirect,
    env: &DirectEnv,
    home: Option<&Path>,
    state_dir: Option<&Path>,
    file_origin: &str,
    key_env: &dyn Fn(&str) -> Option<String>,
) -> Result<DirectSettings, ConfigError> {
    let invalid = |key: &'static str, from_env: Option<&str>, message: String| {
        let origin = match from_env {
            Some(var) => format!("environment variable {var}"),
            None => file_origin.to_owned(),
        };
        ConfigError::Invalid {
            key,
            origin,
            message,
        }
    };
    let clawrouter_wallet_dir = home.map(|h| h.join(".openclaw").join("blockrun"));

    let (chain_text, chain_env) = match (&env.chain, &file.chain) {
        (Some(v), _) => (v.clone(), Some("DIRECT_CHAIN")),
        (None, Some(v)) => (v.clone(), None),
        (None, None) => ("auto".to_owned(), None),
    };
    let choice = match chain_text.trim().to_ascii_lowercase().as_str() {
        "base" => ChainChoice::Base,
        "solana" => ChainChoice::Solana,
        "auto" => ChainChoice::Auto,
        _ => {
            return Err(invalid(
                "direct.chain",
                chain_env,
                format!(
                    "{} is not one of \"base\", \"solana\", \"auto\"",
                    crate::excerpt::quoted(&chain_text)
                ),
            ))
        }
    };
    let chain = choose_chain(choice, clawrouter_wallet_dir.as_deref());

    let api_url = match (&env.api_url, &file.api_url) {
        (Some(v), _) => v.trim().trim_end_matches('/').to_owned(),
        (None, Some(v)) => v.trim().trim_end_matches('/').to_owned(),
        (None, None) => match chain.chain {
            Chain::Base => BASE_API_URL.to_owned(),
            Chain::Solana => SOLANA_API_URL.to_owned(),
        },
    };

    let usd = |value: Option<&String>,
               file_value: Option<f64>,
               key: &'static str,
               var: &'static str,
               default: Option<f64>|
     -> Result<Option<f64>, ConfigError> {
        let (number, from_env) = match value {
            Some(text) => (
                text.trim().parse::<f64>().map_err(|_| {
                    invalid(
                        key,
                        Some(var),
                        format!(
                            "{var}={} is not an amount in USD (e.g. 0.50)",
                            crate::excerpt::quoted(text)
                        ),
                    )
                })?,
                Some(var),
            ),
            None => match file_value.or(default) {
                Some(n) => (n, None),
                None => return Ok(None),
            },
        };
        if !number.is_finite() || !(0.0..=1000.0).contains(&number) {
            return Err(invalid(
                key,
                from_env,
                format!("{number} is out of range; use 0 to 1000 (USD)"),
            ));
        }
        Ok(Some(number))
    };
    let per_request = usd(
        env.max_per_request_usd.as_ref(),
        file.max_per_request_usd,
        "direct.max_per_request_usd",
        "DIRECT_MAX_PER_REQUEST_USD",
        Some(DEFAULT_MAX_PER_REQUEST_USD),
    )?
    .unwrap_or(DEFAULT_MAX_PER_REQUEST_USD);
    if per_request <= 0.0 {
        return Err(invalid(
            "direct.max_per_request_usd",
            env.max_per_request_usd
                .as_ref()
                .map(|_| "DIRECT_MAX_PER_REQUEST_USD"),
            "must be above 0: every paid call costs at least $0.001".to_owned(),
        ));
    }
    let per_day = usd(
        env.max_per_day_usd.as_ref(),
        file.max_per_day_usd,
        "direct.max_per_day_usd",
        "DIRECT_MAX_PER_DAY_USD",
        Some(DEFAULT_MAX_PER_DAY_USD),
    )?
    .filter(|usd| *usd > 0.0);
    let per_thread = usd(
        None,
        file.max_per_thread_usd,
        "direct.max_per_thread_usd",
        "",
        None,
    )?
    .filter(|usd| *usd > 0.0);
    let to_usdc = |usd: f64| Usdc::from_usd(usd).unwrap_or(Usdc(0));
    let caps = Caps {
        per_request: to_usdc(per_request),
        per_day: per_day.map(to_usdc),
        per_thread: per_thread.map(to_usdc),
    };

    let auth = match file.auth.as_deref().map(str::trim) {
        None | Some("wallet") => DirectAuth::Wallet,
        Some("api_key") => {
            let var = file
                .api_key_env
                .clone()
                .unwrap_or_else(|| "BLOCKRUN_API_KEY".to_owned());
            let key = key_env(&var).ok_or_else(|| {
                invalid(
                    "direct.api_key_env",
                    None,
                    format!(
                        "direct.auth is api_key but the environment variable {var} is not set; \
                         export your BlockRun API key (brk_…) there"
                    ),
                )
            })?;
            DirectAuth::ApiKey(key.trim().to_owned())
        }
        Some(other) => {
            return Err(invalid(
                "direct.auth",
                None,
                format!(
                    "{} is not one of \"wallet\", \"api_key\"",
                    crate::excerpt::quoted(other)
                ),
            ))
        }
    };

    let rpc = |value: Option<&String>, file_value: Option<&String>, default: &str| {
        value
            .or(file_value)
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| default.to_owned())
    };
    let min_output_tokens = file.min_output_tokens.unwrap_or(DEFAULT_MIN_OUTPUT_TOKENS);
    if !(256..=1_000_000).contains(&min_output_tokens) {
        return Err(invalid(
            "direct.min_output_tokens",
            None,
            format!("{min_output_tokens} is out of range; use 256 to 1000000"),
        ));
    }
    let ledger =
        match (file.ledger, state_dir) {
            (Some(path), _) => expand(&path, home),
            (None, Some(dir)) => dir.join("payments.sqlite"),
            (None, None) => return Err(invalid(
                "direct.ledger",
                None,
                "HOME is not set, so the payment ledger has no default place; set direct.ledger"
                    .to_owned(),
            )),
        };
    Ok(DirectSettings {
        api_url,
        auth,
        chain,
        caps,
        pay_to: file.pay_to.map(|p| p.trim().to_owned()),
        base_rpc_url: rpc(
            env.base_rpc_url.as_ref(),
            file.base_rpc_url.as_ref(),
            BASE_RPC_URL,
        ),
        solana_rpc_url: rpc(
            env.solana_rpc_url.as_ref(),
            file.solana_rpc_url.as_ref(),
            SOLANA_RPC_URL,
        ),
        solana_key_file: file.solana_key_file.map(|p| expand(&p, home)),
        min_output_tokens,
        ledger,
        routing: file.routing.map(|p| expand(&p, home)),
        clawrouter_wallet_dir,
        blockrun_home: match &env.blockrun_home {
            Some(dir) => Some(expand(Path::new(dir.trim()), home)),
            None => home.map(|h| h.join(".blockrun")),
        },
    })
}

/// `auto`: ClawRouter's `payment-chain` file says which chain its wallet pays on (new wallets
/// since v0.12.246 say `solana`); without it, Base.
pub fn choose_chain(choice: ChainChoice, clawrouter_dir: Option<&Path>) -> ChosenChain {
    match choice {
        ChainChoice::Base => ChosenChain {
            chain: Chain::Base,
            reason: "direct.chain is base".to_owned(),
        },
        ChainChoice::Solana => ChosenChain {
            chain: Chain::Solana,
            reason: "direct.chain is solana".to_owned(),
        },
        ChainChoice::Auto => {
            let file = clawrouter_dir.map(|d| d.join("payment-chain"));
            let said = file
                .as_ref()
                .and_then(|f| std::fs::read_to_string(f).ok())
                .and_then(|text| Chain::parse(text.trim()));
            match (said, file) {
                (Some(chain), Some(file)) => ChosenChain {
                    chain,
                    reason: format!(
                        "direct.chain is auto and ClawRouter's {} says {}",
                        file.display(),
                        chain.name()
                    ),
                },
                _ => ChosenChain {
                    chain: Chain::Base,
                    reason: "direct.chain is auto and ClawRouter has no payment-chain file"
                        .to_owned(),
                },
            }
        }
    }
}

fn expand(path: &Path, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settle(file: FileDirect, env: DirectEnv) -> Result<DirectSettings, ConfigError> {
        resolve(
            file,
            &env,
            Some(Path::new("/home/u")),
            Some(Path::new("/home/u/.clawrouter-codex")),
            "bridge.yaml",
            &|_| None,
        )
    }

    #[test]
    fn the_environment_outranks_the_file_for_caps_and_api_url() {
        let file = FileDirect {
            max_per_request_usd: Some(0.1),
            api_url: Some("https://example.test/api/".to_owned()),
            chain: Some("base".to_owned()),
            ..FileDirect::default()
        };
        let env = DirectEnv {
            max_per_request_usd: Some("0.02".to_owned()),
            max_per_day_usd: Some("1".to_owned()),
            api_url: Some("http://127.0.0.1:9/api".to_owned()),
            ..DirectEnv::default()
        };
        let s = settle(file, env).unwrap();
        assert_eq!(s.caps.per_request, Usdc(20_000));
        assert_eq!(s.caps.per_day, Some(Usdc(1_000_000)));
        assert_eq!(s.api_url, "http://127.0.0.1:9/api");
        assert_eq!(
            s.ledger,
            Path::new("/home/u/.clawrouter-codex/payments.sqlite")
        );
    }

    #[test]
    fn bad_values_name_the_setting_and_where_it_came_from() {
        let env = DirectEnv {
            max_per_request_usd: Some("lots".to_owned()),
            ..DirectEnv::default()
        };
        let e = settle(FileDirect::default(), env).unwrap_err().to_string();
        assert!(e.contains("direct.max_per_request_usd"), "{e}");
        assert!(e.contains("DIRECT_MAX_PER_REQUEST_USD"), "{e}");
        let env = DirectEnv {
            chain: Some("ethereum".to_owned()),
            ..DirectEnv::default()
        };
        let e = settle(FileDirect::default(), env).unwrap_err().to_string();
        assert!(e.contains("\"base\", \"solana\", \"auto\""), "{e}");
        let file = FileDirect {
            auth: Some("api_key".to_owned()),
            ..FileDirect::default()
        };
        let e = settle(file, DirectEnv::default()).unwrap_err().to_string();
        assert!(e.contains("BLOCKRUN_API_KEY"), "{e}");
    }

    #[test]
    fn auto_follows_clawrouters_payment_chain_file() {
        let dir = std::env::temp_dir().join(format!("direct-chain-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(
            choose_chain(ChainChoice::Auto, Some(&dir)).chain,
            Chain::Base
        );
        std::fs::write(dir.join("payment-chain"), "solana\n").unwrap();
        let chosen = choose_chain(ChainChoice::Auto, Some(&dir));
        assert_eq!(chosen.chain, Chain::Solana);
        assert!(chosen.reason.contains("payment-chain"), "{}", chosen.reason);
        assert_eq!(
            choose_chain(ChainChoice::Base, Some(&dir)).chain,
            Chain::Base
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
