//! `wallet` in direct mode: the bridge's own wallet — its address (derived offline), where
//! the key came from, the chain that pays and why, the USDC balance read over that chain's
//! RPC, the caps and today's spend. No proxy is asked anything.

use std::io::Write;
use std::process::ExitCode;

use serde_json::json;

use super::{address_from_key, discover};
use crate::admin::{envelope, spend};
use crate::config::direct::{DirectAuth, DirectSettings};
use crate::config::Config;
use crate::direct::{balance, find_key, solana_address, solana_rpc};
use crate::funding::Chain;

/// Prints the report; exit 0 when an address (or an API key) was shown.
pub fn report(
    config: &Config,
    settings: &DirectSettings,
    env: &dyn Fn(&str) -> Option<String>,
    json: bool,
    out: &mut dyn Write,
) -> ExitCode {
    let now = crate::clock::unix_now_i64();
    let spent = spend::read(config, now)
        .ok()
        .flatten()
        .map(|s| s.today)
        .unwrap_or_default();
    let caps = settings.caps;
    let fail = |code: &str, message: String, out: &mut dyn Write| {
        if json {
            return envelope::print(out, &envelope::failure(code, &message, Default::default()));
        }
        let _ = writeln!(out, "clawrouter-codex: wallet: {message}");
        crate::admin::problem()
    };
    if let DirectAuth::ApiKey(_) = settings.auth {
        if json {
            let data =
                json!({"mode": "direct", "auth": "api_key", "spentTodayUsd": spent.as_usd()});
            return envelope::print(out, &envelope::success(data));
        }
        let _ = writeln!(
            out,
            "direct mode pays BlockRun with an API key (direct.auth: api_key): no wallet\n\
             caps     {} a request; spent today {spent}",
            caps.per_request
        );
        return ExitCode::SUCCESS;
    }
    let chain = settings.chain.chain;
    let (address, source) = match chain {
        Chain::Base => {
            let key = match find_key(config, settings, env) {
                Ok(key) => key,
                Err(why) => return fail("wallet_key_missing", why.to_string(), out),
            };
            let address = match address_from_key(&key) {
                Ok(address) => address,
                Err(why) => return fail("wallet_key_unusable", why.to_string(), out),
            };
            let source = discover(config, env)
                .ok()
                .filter(|d| d.key.is_some())
                .map(|d| d.source.describe())
                .unwrap_or_else(|| "ClawRouter's wallet.key".to_owned());
            (address, source)
        }
        Chain::Solana => match solana_address(settings, env) {
            Ok(address) => (
                address,
                "SOLANA_WALLET_KEY, direct.solana_key_file or ClawRouter's mnemonic".to_owned(),
            ),
            Err(why) => return fail("wallet_key_missing", why.to_string(), out),
        },
    };
    let balance = match chain {
        Chain::Base => balance::read_blocking(&settings.base_rpc_url, &address),
        Chain::Solana => solana_rpc::usdc_balance_blocking(
            &settings.solana_rpc_url,
            &address,
            balance::RPC_TIMEOUT,
        ),
    };
    if json {
        let data = json!({
            "mode": "direct",
            "address": address,
            "chain": chain.name(),
            "chainReason": settings.chain.reason,
            "keySource": source,
            "balanceUsd": balance.as_ref().ok().map(|b| b.as_usd()),
            "balanceError": balance.as_ref().err(),
            "spentTodayUsd": spent.as_usd(),
            "capPerRequestUsd": caps.per_request.as_usd(),
            "capPerDayUsd": caps.per_day.map(|c| c.as_usd()),
        });
        return envelope::print(out, &envelope::success(data));
    }
    let balance = match balance {
        Ok(balance) => format!("{balance} USDC"),
        Err(why) => format!("unknown ({why})"),
    };
    let day = caps
        .per_day
        .map_or_else(|| "no daily cap".to_owned(), |c| format!("{c} a day"));
    let _ = writeln!(
        out,
        "direct mode: the bridge pays BlockRun itself\n\
         address  {address}  (fund it with USDC on {chain})\n\
         key      {source}\n\
         chain    {chain} ({})\n\
         balance  {balance}\n\
         caps     {} a request, {day}; spent today {spent}",
        settings.chain.reason, caps.per_request
    );
    ExitCode::SUCCESS
}
