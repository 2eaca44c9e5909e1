//! `solana_rpc`: the two Solana JSON-RPC calls direct mode makes when it pays on Solana, over
//! the bridge's own upstream client (`SOLANA_RPC_URL` / `direct.solana_rpc_url`, BlockRun's
//! `https://sol.blockrun.ai/api/v1/solana/rpc` by default):
//!
//! - `getLatestBlockhash` (commitment `confirmed`), cached [`BLOCKHASH_TTL`] as BlockRun's SDK
//!   does: a blockhash stays usable for about 150 slots (60–90 s), so a 10-second-old one still
//!   leaves a payment most of a minute. Two payments on one cached blockhash stay distinct
//!   because each carries a fresh random memo (`payments::svm`).
//! - `getTokenAccountsByOwner` (the USDC mint, `jsonParsed`): the wallet's USDC balance, the
//!   sum of its USDC token accounts (none = $0.00), cached [`BALANCE_TTL`], as ClawRouter reads
//!   it. [`SolanaRpc::usdc_balance`] inside the proxy; [`usdc_balance_blocking`] for the
//!   management commands (`doctor`, `wallet`), over `admin::http::post_json`.
//!
//! Errors name the RPC by its host only: a provider URL may carry an API key in its path or
//! query.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{json, Value};

use crate::config::Upstream;
use crate::excerpt::bounded;
use crate::payments::policy::Usdc;
use crate::payments::svm::{parse_address, SOLANA_USDC};
use crate::upstream_client::UpstreamClient;

/// How long a fetched blockhash is reused.
pub const BLOCKHASH_TTL: Duration = Duration::from_secs(10);
/// How long a read balance is reused.
pub const BALANCE_TTL: Duration = Duration::from_secs(30);
/// Connect and read time-out of one RPC call.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest RPC answer read (a balance with a few token accounts is well under 4 KiB).
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// A Solana JSON-RPC endpoint and the wallet whose balance it reads, with the caches.
pub struct SolanaRpc {
    url: String,
    owner: String,
    client: Mutex<Option<(Arc<UpstreamClient>, String)>>,
    blockhash: Mutex<Option<([u8; 32], Instant)>>,
    balance: Mutex<Option<(Usdc, Instant)>>,
}

impl std::fmt::Debug for SolanaRpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SolanaRpc")
            .field("rpc", &host_of(&self.url))
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

impl SolanaRpc {
    /// The RPC at `url` for the wallet `owner` (base58). Nothing is connected (nor resolved)
    /// until the first call.
    pub fn new(url: &str, owner: &str) -> SolanaRpc {
        SolanaRpc {
            url: url.trim().to_owned(),
            owner: owner.to_owned(),
            client: Mutex::new(None),
            blockhash: Mutex::new(None),
            balance: Mutex::new(None),
        }
    }

    /// The RPC's host, for messages.
    pub fn host(&self) -> String {
        host_of(&self.url)
    }

    /// A recent blockhash: the cached one when younger than [`BLOCKHASH_TTL`], else a fresh
    /// `getLatestBlockhash`.
    pub async fn latest_blockhash(&self) -> Result<[u8; 32], String> {
        if let Some(hash) = fresh(&self.blockhash, BLOCKHASH_TTL) {
            return Ok(hash);
        }
        let result = self
            .call("getLatestBlockhash", json!([{"commitment": "confirmed"}]))
            .await?;
        let hash = parse_blockhash(&result).map_err(|e| self.problem("getLatestBlockhash", &e))?;
        if let Ok(mut cached) = self.blockhash.lock() {
            *cached = Some((hash, Instant::now()));
        }
        Ok(hash)
    }

    /// The wallet's USDC balance on Solana, cached [`BALANCE_TTL`].
    pub async fn usdc_balance(&self) -> Result<Usdc, String> {
        if let Some(balance) = fresh(&self.balance, BALANCE_TTL) {
            return Ok(balance);
        }
        let result = self
            .call("getTokenAccountsByOwner", balance_params(&self.owner))
            .await?;
        let balance =
            parse_usdc_balance(&result).map_err(|e| self.problem("getTokenAccountsByOwner", &e))?;
        if let Ok(mut cached) = self.balance.lock() {
            *cached = Some((balance, Instant::now()));
        }
        Ok(balance)
    }

    fn client(&self) -> Result<(Arc<UpstreamClient>, String), String> {
        let mut slot = self.client.lock().map_err(|_| {
            "the Solana RPC client is unavailable after an internal error".to_owned()
        })?;
        if let Some((client, path)) = slot.as_ref() {
            return Ok((client.clone(), path.clone()));
        }
        let (origin, path) = split_url(&self.url)?;
        let upstream = Upstream::for_url(&origin, RPC_TIMEOUT).map_err(|e| {
            format!(
                "the Solana RPC URL (SOLANA_RPC_URL / direct.solana_rpc_url) at {} cannot be \
                 used: {}",
                self.host(),
                bounded(&e, 160)
            )
        })?;
        let client = Arc::new(UpstreamClient::new(&upstream));
        *slot = Some((client.clone(), path.clone()));
        Ok((client, path))
    }

    async fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        let (client, path) = self.client()?;
        let body = Bytes::from(request_body(method, params));
        let headers = [
            ("content-type", "application/json"),
            ("accept", "application/json"),
        ];
        let reply = tokio::time::timeout(
            RPC_TIMEOUT * 2,
            client.send("POST", &path, &headers, Some(body)),
        )
        .await
        .map_err(|_| self.problem(method, "no whole answer in time"))?
        .map_err(|e| self.problem(method, &e.to_string()))?;
        if reply.body.len() > MAX_ANSWER_BYTES {
            return Err(self.problem(method, "the answer is too large"));
        }
        result_of(reply.status, &String::from_utf8_lossy(&reply.body))
            .map_err(|e| self.problem(method, &e))
    }

    fn problem(&self, method: &str, detail: &str) -> String {
        format!(
            "the Solana RPC at {} failed {method} ({detail}); check SOLANA_RPC_URL / \
             direct.solana_rpc_url",
            self.host()
        )
    }
}

/// The cached value when younger than `ttl`.
fn fresh<T: Copy>(cache: &Mutex<Option<(T, Instant)>>, ttl: Duration) -> Option<T> {
    let cached = cache.lock().ok()?;
    cached
        .as_ref()
        .filter(|(_, at)| at.elapsed() < ttl)
        .map(|(value, _)| *value)
}

/// `scheme://host[:port]` of `url`, or a placeholder: what messages show of an RPC URL.
pub fn host_of(url: &str) -> String {
    match url.parse::<http::Uri>() {
        Ok(uri) => match (uri.scheme_str(), uri.authority()) {
            (Some(scheme), Some(authority)) => {
                // An authority may hold `user:password@`; show the host and port only.
                let host = authority.as_str().rsplit('@').next().unwrap_or("");
                format!("{scheme}://{host}")
            }
            _ => "(an invalid URL)".to_owned(),
        },
        Err(_) => "(an invalid URL)".to_owned(),
    }
}

/// `(scheme://authority, path?query)` of an RPC URL.
fn split_url(url: &str) -> Result<(String, String), String> {
    let bad = || {
        format!(
            "the Solana RPC URL (SOLANA_RPC_URL / direct.solana_rpc_url) {} is not an http:// \
             or https:// URL",
            host_of(url)
        )
    };
    let uri: http::Uri = url.parse().map_err(|_| bad())?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(bad());
    };
    if scheme != "http" && scheme != "https" {
        return Err(bad());
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let path = if path.is_empty() { "/" } else { path };
    Ok((format!("{scheme}://{authority}"), path.to_owned()))
}

/// A JSON-RPC 2.0 request.
pub fn request_body(method: &str, params: Value) -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string()
}

/// `getTokenAccountsByOwner`'s params for `owner`'s USDC accounts.
pub fn balance_params(owner: &str) -> Value {
    json!([owner, {"mint": SOLANA_USDC}, {"encoding": "jsonParsed", "commitment": "confirmed"}])
}

/// The `result` of a JSON-RPC answer, or what went wrong.
pub fn result_of(status: u16, body: &str) -> Result<Value, String> {
    let value: Value = serde_json::from_str(body).map_err(|_| {
        format!(
            "HTTP {status}, not a JSON-RPC answer: {}",
            crate::excerpt::quoted(&bounded(body, 120))
        )
    })?;
    if let Some(error) = value.get("error").filter(|e| !e.is_null()) {
        let message = error["message"].as_str().unwrap_or("");
        return Err(format!(
            "error {}: {}",
            error["code"],
            crate::excerpt::quoted(&bounded(message, 160))
        ));
    }
    match value.get("result") {
        Some(result) if (200..300).contains(&status) => Ok(result.clone()),
        _ => Err(format!("HTTP {status} without a result")),
    }
}

/// The blockhash of a `getLatestBlockhash` result.
pub fn parse_blockhash(result: &Value) -> Result<[u8; 32], String> {
    let text = result["value"]["blockhash"]
        .as_str()
        .ok_or("the answer has no value.blockhash")?;
    parse_address(text).ok_or_else(|| {
        format!(
            "the blockhash {} is not 32 bytes of base58",
            crate::excerpt::quoted(&bounded(text, 60))
        )
    })
}

/// The USDC balance a `getTokenAccountsByOwner` (jsonParsed) result holds: the sum of the
/// `tokenAmount.amount` of its USDC accounts; none is $0.00.
pub fn parse_usdc_balance(result: &Value) -> Result<Usdc, String> {
    let accounts = result["value"]
        .as_array()
        .ok_or("the answer has no value list")?;
    let mut total: u64 = 0;
    for account in accounts {
        let info = &account["account"]["data"]["parsed"]["info"];
        if info["mint"] != SOLANA_USDC {
            continue;
        }
        let amount = info["tokenAmount"]["amount"]
            .as_str()
            .and_then(|a| a.parse::<u64>().ok())
            .ok_or("a token account has no readable tokenAmount.amount")?;
        total = total.saturating_add(amount);
    }
    Ok(Usdc(total))
}

/// [`SolanaRpc::usdc_balance`] for the management commands (blocking, no cache): the USDC
/// balance of `owner` at the RPC `url`.
pub fn usdc_balance_blocking(url: &str, owner: &str, timeout: Duration) -> Result<Usdc, String> {
    let problem = |detail: &str| {
        format!(
            "the Solana RPC at {} failed getTokenAccountsByOwner ({detail}); check \
             SOLANA_RPC_URL / direct.solana_rpc_url",
            host_of(url)
        )
    };
    let body = request_body("getTokenAccountsByOwner", balance_params(owner));
    let reply = crate::admin::http::post_json(url.trim(), &body, timeout).map_err(|e| {
        // The error may quote the URL: show the host only.
        match e {
            crate::admin::http::GetError::Down(_) => problem("cannot connect"),
            crate::admin::http::GetError::Failed(_) => problem("no usable HTTP answer"),
        }
    })?;
    let result = result_of(reply.status, &reply.body).map_err(|e| problem(&e))?;
    parse_usdc_balance(&result).map_err(|e| problem(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_show_the_host_only() {
        assert_eq!(
            host_of("https://user:pw@rpc.example.com:8899/secret-token/?api-key=k"),
            "https://rpc.example.com:8899"
        );
        let (origin, path) = split_url("https://rpc.example.com/?api-key=k").unwrap();
        assert_eq!(origin, "https://rpc.example.com");
        assert_eq!(path, "/?api-key=k");
        let e = split_url("ftp://x/secret").unwrap_err();
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn answers_are_read_or_explained() {
        let ok = result_of(200, r#"{"jsonrpc":"2.0","id":1,"result":{"value":[]}}"#).unwrap();
        assert_eq!(parse_usdc_balance(&ok).unwrap(), Usdc(0));
        let e = result_of(
            200,
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}"#,
        )
        .unwrap_err();
        assert!(
            e.contains("-32601") && e.contains("Method not found"),
            "{e}"
        );
        assert!(result_of(502, "<html>bad gateway</html>")
            .unwrap_err()
            .contains("HTTP 502"));
        let two = json!({"value": [
            {"account": {"data": {"parsed": {"info": {"mint": SOLANA_USDC,
                "tokenAmount": {"amount": "1500000"}}}}}},
            {"account": {"data": {"parsed": {"info": {"mint": SOLANA_USDC,
                "tokenAmount": {"amount": "250"}}}}}},
            {"account": {"data": {"parsed": {"info": {"mint": "other",
                "tokenAmount": {"amount": "9"}}}}}},
        ]});
        assert_eq!(parse_usdc_balance(&two).unwrap(), Usdc(1_500_250));
        let hash = bs58::encode([9u8; 32]).into_string();
        assert_eq!(
            parse_blockhash(&json!({"value": {"blockhash": hash}})).unwrap(),
            [9u8; 32]
        );
        assert!(parse_blockhash(&json!({"value": {"blockhash": "xyz"}})).is_err());
    }
}
