//! The wallet's USDC balance on Base, for `doctor`, `wallet` and the dashboard in direct mode:
//! one JSON-RPC `eth_call` of USDC's `balanceOf(address)` on the configured RPC
//! (`direct.base_rpc_url`, env `BASE_RPC_URL`), as BlockRun's SDK reads it. The dashboard's
//! reads are cached for [`BALANCE_TTL`]; the one-shot commands read it once.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{json, Value};

use crate::config::Upstream;
use crate::payments::policy::{Usdc, BASE_USDC};
use crate::upstream_client::UpstreamClient;

/// How long a balance read is reused by the dashboard.
pub const BALANCE_TTL: Duration = Duration::from_secs(30);
/// Longest wait for the RPC.
pub const RPC_TIMEOUT: Duration = Duration::from_secs(10);

/// The JSON-RPC body asking USDC's `balanceOf(address)` at the latest block.
pub fn balance_of_request(address: &str) -> Result<String, String> {
    let hex = address
        .strip_prefix("0x")
        .filter(|h| h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| format!("{address} is not an address (0x + 40 hex digits)"))?;
    let data = format!("0x70a08231{:0>64}", hex.to_ascii_lowercase());
    Ok(json!({
        "jsonrpc": "2.0", "id": 1, "method": "eth_call",
        "params": [{"to": BASE_USDC, "data": data}, "latest"],
    })
    .to_string())
}

/// Reads the balance from the RPC's answer (`result`: a 32-byte hex number of base units).
pub fn parse_balance(body: &[u8]) -> Result<Usdc, String> {
    let answer: Value =
        serde_json::from_slice(body).map_err(|_| "the RPC did not answer JSON".to_owned())?;
    if let Some(error) = answer.get("error") {
        let message = error["message"].as_str().unwrap_or("no message");
        return Err(format!(
            "the RPC refused the call: {}",
            crate::excerpt::bounded(message, 160)
        ));
    }
    let result = answer["result"]
        .as_str()
        .and_then(|r| r.strip_prefix("0x"))
        .ok_or("the RPC's answer has no result")?;
    let digits = result.trim_start_matches('0');
    if digits.len() > 16 {
        return Err("the balance is larger than any USDC supply".to_owned());
    }
    let units = if digits.is_empty() {
        0
    } else {
        u64::from_str_radix(digits, 16).map_err(|_| "the RPC's result is not hex".to_owned())?
    };
    Ok(Usdc(units))
}

/// The balance of `address`, read once (async: the dashboard, inside the server).
pub async fn read(rpc_url: &str, address: &str) -> Result<Usdc, String> {
    let body = balance_of_request(address)?;
    let upstream = Upstream::for_url(rpc_url, RPC_TIMEOUT)?;
    let path = if upstream.base_path.is_empty() {
        "/".to_owned()
    } else {
        upstream.base_path.clone()
    };
    let client = UpstreamClient::new(&upstream);
    let headers = [
        ("content-type", "application/json"),
        ("accept", "application/json"),
    ];
    let sent = client.send("POST", &path, &headers, Some(Bytes::from(body)));
    let reply = tokio::time::timeout(RPC_TIMEOUT * 2, sent)
        .await
        .map_err(|_| format!("{rpc_url} did not answer in time"))?
        .map_err(|e| format!("{rpc_url}: {e}"))?;
    if reply.status != 200 {
        return Err(format!("{rpc_url} answered HTTP {}", reply.status));
    }
    parse_balance(&reply.body)
}

/// The balance of `address`, read once (blocking: `doctor`, `wallet`).
pub fn read_blocking(rpc_url: &str, address: &str) -> Result<Usdc, String> {
    let body = balance_of_request(address)?;
    let reply = crate::admin::http::post_json(rpc_url, &body, RPC_TIMEOUT)
        .map_err(|e| format!("{rpc_url}: {e}"))?;
    if reply.status != 200 {
        return Err(format!("{rpc_url} answered HTTP {}", reply.status));
    }
    parse_balance(reply.body.as_bytes())
}

/// The dashboard's cached reads.
#[derive(Default)]
pub struct BalanceCache {
    last: Mutex<Option<(Instant, Result<Usdc, String>)>>,
}

impl BalanceCache {
    /// The balance, read again when the last read is older than [`BALANCE_TTL`].
    pub async fn get(&self, rpc_url: &str, address: &str) -> Result<Usdc, String> {
        if let Ok(last) = self.last.lock() {
            if let Some((at, value)) = last.as_ref() {
                if at.elapsed() < BALANCE_TTL {
                    return value.clone();
                }
            }
        }
        let value = read(rpc_url, address).await;
        if let Ok(mut last) = self.last.lock() {
            *last = Some((Instant::now(), value.clone()));
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_call_and_its_answer() {
        let body = balance_of_request("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266").unwrap();
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v["params"][0]["data"],
            "0x70a08231000000000000000000000000f39fd6e51aad88f6f4ce6ab8827279cfffb92266"
        );
        assert_eq!(v["params"][0]["to"], BASE_USDC);
        assert!(balance_of_request("0x12").is_err());
        let answer = br#"{"jsonrpc":"2.0","id":1,"result":"0x00000000000000000000000000000000000000000000000000000000004c4b40"}"#;
        assert_eq!(parse_balance(answer), Ok(Usdc(5_000_000)));
        assert_eq!(parse_balance(br#"{"result":"0x"}"#), Ok(Usdc(0)));
        let refused = parse_balance(br#"{"error":{"code":-32000,"message":"rate limited"}}"#);
        assert!(refused.unwrap_err().contains("rate limited"));
        assert!(parse_balance(b"<html>").is_err());
    }
}
