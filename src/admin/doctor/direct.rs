//! `doctor` in direct mode (`upstream.kind: direct`): no proxy to check. Instead BlockRun's API
//! (its model list answers), and the wallet: the key found, the chain that pays and why, the
//! USDC balance on that chain, the caps and today's spend from the ledger.

use std::time::Duration;

use super::{get_json, Check};
use crate::admin::spend;
use crate::admin::wallet::address_from_key;
use crate::config::direct::{DirectAuth, DirectSettings};
use crate::config::Config;
use crate::direct::{balance, find_key, solana_address, solana_rpc};
use crate::funding::Chain;

const API_TIMEOUT: Duration = Duration::from_secs(10);

/// The direct-mode checks: `blockrun` (the API) and `wallet`.
pub fn checks(config: &Config, settings: &DirectSettings) -> Vec<Check> {
    vec![check_api(settings), check_wallet(config, settings)]
}

fn check_api(settings: &DirectSettings) -> Check {
    let url = format!("{}/v1/models", settings.api_url);
    match get_json(&url, None, API_TIMEOUT) {
        Ok(list) => {
            let count = list["data"].as_array().map_or(0, Vec::len);
            Check::pass(
                "blockrun",
                format!(
                    "{} answers ({count} models); the bridge pays it directly",
                    settings.api_url
                ),
            )
        }
        Err(why) => Check::fail(
            "blockrun",
            format!("BlockRun's API cannot be read: {why}"),
            "check the network, or direct.api_url / BLOCKRUN_API_URL",
        ),
    }
}

fn check_wallet(config: &Config, settings: &DirectSettings) -> Check {
    let caps = &settings.caps;
    let now = crate::clock::unix_now_i64();
    let spent = match spend::read(config, now) {
        Ok(Some(report)) => report.today.to_string(),
        Ok(None) => "$0.00".to_owned(),
        Err(why) => {
            return Check::fail(
                "wallet",
                format!("the payment ledger cannot be read: {why}"),
                "move the damaged file aside (nothing will be paid until the ledger works)",
            )
        }
    };
    let day = caps
        .per_day
        .map_or_else(|| "no daily cap".to_owned(), |cap| format!("{cap} a day"));
    let limits = format!(
        "caps {} a request, {day}; spent today {spent}",
        caps.per_request
    );
    if let DirectAuth::ApiKey(_) = settings.auth {
        return Check::pass(
            "wallet",
            format!("a BlockRun API key pays (no wallet, nothing signed); {limits}"),
        );
    }
    let env = |name: &str| std::env::var(name).ok();
    let chain = &settings.chain;
    let found = match chain.chain {
        Chain::Base => find_key(config, settings, &env)
            .map_err(|e| e.to_string())
            .and_then(|key| address_from_key(&key).map_err(|e| e.to_string())),
        Chain::Solana => solana_address(settings, &env).map_err(|e| e.to_string()),
    };
    let address = match found {
        Ok(address) => address,
        Err(why) => {
            let fix = match chain.chain {
                Chain::Base => "set BLOCKRUN_WALLET_KEY or WALLET_KEY_FILE, or run ClawRouter once to create its wallet",
                Chain::Solana => "set SOLANA_WALLET_KEY or direct.solana_key_file, or run ClawRouter once to create its wallet (its mnemonic)",
            };
            return Check::fail("wallet", why, fix);
        }
    };
    let pays = format!(
        "{address} pays on {} ({})",
        chain.chain.name(),
        chain.reason
    );
    let read = match chain.chain {
        Chain::Base => balance::read_blocking(&settings.base_rpc_url, &address),
        Chain::Solana => solana_rpc::usdc_balance_blocking(
            &settings.solana_rpc_url,
            &address,
            balance::RPC_TIMEOUT,
        ),
    };
    let rpc_key = match chain.chain {
        Chain::Base => "direct.base_rpc_url / BASE_RPC_URL",
        Chain::Solana => "direct.solana_rpc_url / SOLANA_RPC_URL",
    };
    match read {
        Ok(balance) if balance.0 == 0 => Check::fail(
            "wallet",
            format!("{pays}; its USDC balance is $0.00; {limits}"),
            format!("send USDC on {} to {address}", chain.chain.name()),
        ),
        Ok(balance) => Check::pass(
            "wallet",
            format!("{pays}; balance {balance} USDC; {limits}"),
        ),
        Err(why) => Check::fail(
            "wallet",
            format!("{pays}; the balance could not be read ({why}); {limits}"),
            format!("check {rpc_key}"),
        ),
    }
}
