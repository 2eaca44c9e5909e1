//! `x402`: the wire format of x402 version 2, as BlockRun speaks it.
//!
//! - A 402 answer carries `PAYMENT-REQUIRED`: base64 of JSON `{x402Version: 2, error?,
//!   resource, accepts: [offer…], extensions?}`. [`parse_payment_required`] reads it into a
//!   [`PaymentRequired`], bounded in size and never panicking on hostile input: every problem
//!   is an [`X402Error`] that says what is wrong, quoting at most a short excerpt. Version 1
//!   (`maxAmountRequired`, `X-PAYMENT`) is refused with its own error.
//! - The paid retry carries `PAYMENT-SIGNATURE`: base64 of JSON `{x402Version: 2, resource,
//!   accepted: <the chosen offer verbatim>, payload: {signature, authorization}, extensions}`,
//!   built by [`payment_signature`] (numbers as decimal strings, addresses EIP-55).
//!
//! Which offer to take is [`super::policy`]'s decision; the signature is [`super::evm`]'s.

use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::evm::{hex, Authorization, Signature};
use crate::admin::wallet::to_checksum_address;
use crate::excerpt::{bounded, quoted};

/// The header of a 402 answer holding the payment request.
pub const PAYMENT_REQUIRED: &str = "PAYMENT-REQUIRED";
/// The header of the paid retry holding the signed payment.
pub const PAYMENT_SIGNATURE: &str = "PAYMENT-SIGNATURE";
/// The largest `PAYMENT-REQUIRED` value read (BlockRun's are well under 2 KiB).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// The only protocol version spoken.
pub const X402_VERSION: u64 = 2;
/// Most offers read from one payment request.
const MAX_OFFERS: usize = 16;

/// Why a `PAYMENT-REQUIRED` header could not be read. Nothing was paid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum X402Error {
    /// The 402 answer has no `PAYMENT-REQUIRED` header.
    #[error("BlockRun answered 402 Payment Required without a PAYMENT-REQUIRED header, so there is nothing to pay; nothing was paid")]
    Missing,
    /// Longer than [`MAX_HEADER_BYTES`].
    #[error("BlockRun's PAYMENT-REQUIRED header is {0} bytes, over the {MAX_HEADER_BYTES}-byte limit; nothing was paid")]
    TooLarge(usize),
    /// Not base64.
    #[error("BlockRun's PAYMENT-REQUIRED header is not base64 ({0}); nothing was paid")]
    NotBase64(String),
    /// Not a JSON object.
    #[error("BlockRun's PAYMENT-REQUIRED header does not hold a JSON payment request: {0}; nothing was paid")]
    NotJson(String),
    /// x402 version 1.
    #[error("BlockRun asked for payment with x402 version 1 (maxAmountRequired, X-PAYMENT), which direct mode does not speak (version 2 only); update the bridge or use ClawRouter (upstream.kind: clawrouter)")]
    Version1,
    /// Another version.
    #[error("BlockRun asked for payment with x402 version {0}; direct mode speaks version 2 only; update the bridge or use ClawRouter (upstream.kind: clawrouter)")]
    Version(String),
    /// No offer could be read.
    #[error("BlockRun's payment request has no usable offer in accepts: {0}; nothing was paid")]
    NoOffer(String),
}

/// An offer's `extra`: the EIP-712 domain on Base, the fee payer on Solana.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Extra {
    /// The token's EIP-712 domain name (`USD Coin`).
    #[serde(default)]
    pub name: Option<String>,
    /// The token's EIP-712 domain version (`2`).
    #[serde(default)]
    pub version: Option<String>,
    /// On Solana: the facilitator's address (base58), who pays the transaction's fee.
    #[serde(default, rename = "feePayer")]
    pub fee_payer: Option<String>,
    /// On Solana: the seller's memo, when it binds the payment (any JSON value is read; only a
    /// non-empty string counts, `svm::seller_memo`).
    #[serde(default)]
    pub memo: Option<Value>,
}

/// One way to pay that the 402 offers (an `accepts` entry), with the entry as sent, to echo
/// in the signed payment.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Offer {
    /// `exact` (an EIP-3009 transfer of exactly `amount`).
    pub scheme: String,
    /// CAIP-2 network, `eip155:8453` for Base.
    pub network: String,
    /// Base units of the asset, a decimal string.
    pub amount: String,
    /// The token contract.
    pub asset: String,
    /// The payee.
    pub pay_to: String,
    /// How long the payee accepts an authorization, in seconds.
    pub max_timeout_seconds: u64,
    /// The token's EIP-712 domain.
    #[serde(default)]
    pub extra: Option<Extra>,
    /// The entry exactly as received.
    #[serde(skip)]
    pub raw: Value,
}

/// A parsed `PAYMENT-REQUIRED` header.
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentRequired {
    /// BlockRun's reason, when it gave one (a short excerpt).
    pub error: Option<String>,
    /// What is paid for, echoed in the payment.
    pub resource: Value,
    /// The offers that could be read.
    pub offers: Vec<Offer>,
}

/// Reads a `PAYMENT-REQUIRED` value (see the module docs).
pub fn parse_payment_required(header: &str) -> Result<PaymentRequired, X402Error> {
    if header.len() > MAX_HEADER_BYTES {
        return Err(X402Error::TooLarge(header.len()));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(header.trim())
        .map_err(|e| X402Error::NotBase64(bounded(&e.to_string(), 120)))?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| X402Error::NotJson(bounded(&e.to_string(), 120)))?;
    let Value::Object(map) = value else {
        return Err(X402Error::NotJson("not a JSON object".to_owned()));
    };
    let accepts = map.get("accepts").and_then(Value::as_array);
    let v1_shape = accepts.is_some_and(|list| {
        list.iter()
            .any(|o| o.get("maxAmountRequired").is_some() && o.get("amount").is_none())
    });
    match map.get("x402Version") {
        Some(v) if v.as_u64() == Some(X402_VERSION) && !v1_shape => {}
        Some(v) if v.as_u64() == Some(1) => return Err(X402Error::Version1),
        _ if v1_shape => return Err(X402Error::Version1),
        Some(other) => return Err(X402Error::Version(bounded(&other.to_string(), 40))),
        None => return Err(X402Error::Version("(none given)".to_owned())),
    }
    let accepts = accepts.ok_or_else(|| X402Error::NoOffer("accepts is missing".to_owned()))?;
    let mut offers = Vec::new();
    let mut first_problem = None;
    for (i, raw) in accepts.iter().take(MAX_OFFERS).enumerate() {
        match Offer::deserialize(raw) {
            Ok(mut offer) => {
                offer.raw = raw.clone();
                offers.push(offer);
            }
            Err(e) => {
                first_problem.get_or_insert_with(|| {
                    format!("accepts[{i}]: {}", bounded(&e.to_string(), 120))
                });
            }
        }
    }
    if offers.is_empty() {
        return Err(X402Error::NoOffer(
            first_problem.unwrap_or_else(|| "accepts is empty".to_owned()),
        ));
    }
    Ok(PaymentRequired {
        error: map
            .get("error")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(quoted),
        resource: map.get("resource").cloned().unwrap_or(Value::Null),
        offers,
    })
}

/// The `PAYMENT-SIGNATURE` value paying `offer` of `required` with `authorization` signed as
/// `signature` (see the module docs).
pub fn payment_signature(
    required: &PaymentRequired,
    offer: &Offer,
    authorization: &Authorization,
    signature: &Signature,
) -> String {
    signed_payload(
        required,
        offer,
        json!({
            "signature": signature.to_hex(),
            "authorization": {
                "from": to_checksum_address(&authorization.from),
                "to": to_checksum_address(&authorization.to),
                "value": authorization.value.to_string(),
                "validAfter": authorization.valid_after.to_string(),
                "validBefore": authorization.valid_before.to_string(),
                "nonce": hex(&authorization.nonce),
            },
        }),
    )
}

/// The `PAYMENT-SIGNATURE` value paying a Solana `offer` of `required` with `transaction` (the
/// partially signed transaction in base64, [`super::svm::Transfer::sign`]).
pub fn svm_payment_signature(
    required: &PaymentRequired,
    offer: &Offer,
    transaction: &str,
) -> String {
    signed_payload(required, offer, json!({ "transaction": transaction }))
}

/// The `PAYMENT-SIGNATURE` envelope around a scheme's `payload`.
fn signed_payload(required: &PaymentRequired, offer: &Offer, payload: Value) -> String {
    let payload = json!({
        "x402Version": X402_VERSION,
        "resource": required.resource,
        "accepted": offer.raw,
        "payload": payload,
        "extensions": {"builder-code": {"info": {"s": ["blockrun"]}}},
    });
    base64::engine::general_purpose::STANDARD.encode(payload.to_string())
}

#[cfg(test)]
pub(crate) mod tests;
