//! `evm`: the EIP-3009 `TransferWithAuthorization` that pays USDC on Base, its EIP-712 digest
//! and its signature.
//!
//! The one typed-data structure direct mode signs is hashed by hand over `tiny-keccak` and
//! signed with `k256` (both already in the tree) instead of pulling in a general EIP-712 /
//! Ethereum crate: a documented decision, since the type never changes, the word packing is
//! some twenty lines, and an independent implementation (viem, `tests/payments_signature.rs`)
//! checks it byte for byte. The domain is pinned: `{name: "USD Coin", version: "2", chainId:
//! 8453, verifyingContract: USDC on Base}`; [`super::policy`] refuses offers naming another.
//!
//! Signing is RFC 6979 (deterministic, low S) through [`SecretKey`], which keeps the key: no
//! key bytes pass through this module, and nothing here prints one.

use std::fmt;

use ring::rand::{SecureRandom, SystemRandom};

use super::policy::{BASE_CHAIN_ID, BASE_USDC, USDC_DOMAIN_NAME, USDC_DOMAIN_VERSION};
use crate::admin::wallet::{keccak256, SecretKey};

/// The EIP-712 domain type (its hash is the first word of the domain separator).
const DOMAIN_TYPE: &str =
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
/// The EIP-3009 type (its hash is the first word of the struct hash).
const TRANSFER_TYPE: &str = "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)";

/// An EIP-3009 transfer authorization: `from` lets `to` collect `value` USDC base units between
/// `valid_after` and `valid_before` (unix seconds), once (`nonce`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The payer (our address).
    pub from: [u8; 20],
    /// The payee.
    pub to: [u8; 20],
    /// USDC base units.
    pub value: u64,
    /// Valid strictly after this time (unix seconds).
    pub valid_after: u64,
    /// Valid strictly before this time (unix seconds).
    pub valid_before: u64,
    /// 32 random bytes: each authorization can be used once.
    pub nonce: [u8; 32],
}

/// A 65-byte signature `r ‖ s ‖ v` with `v` = 27 or 28.
#[derive(Clone, PartialEq, Eq)]
pub struct Signature(pub [u8; 65]);

impl Signature {
    /// `0x` + 130 hex digits.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

/// Why signing failed. Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvmError {
    /// The system's random source failed.
    #[error("the system's random number generator failed, so no payment nonce could be made; nothing was paid")]
    Random,
    /// The signing library refused (not expected for a valid key).
    #[error("signing the USDC payment failed in the signing library; nothing was paid")]
    Sign,
}

/// `0x` + lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 + 2 * bytes.len());
    out.push_str("0x");
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// `0x` + 40 hex digits (any case; the checksum is not enforced) as bytes.
pub fn parse_address(text: &str) -> Option<[u8; 20]> {
    let digits = text.strip_prefix("0x")?;
    if digits.len() != 40 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 20];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(digits.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// 32 bytes from the system's random source, for a nonce.
pub fn random_nonce() -> Result<[u8; 32], EvmError> {
    let mut nonce = [0u8; 32];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| EvmError::Random)?;
    Ok(nonce)
}

/// A 32-byte big-endian word holding `value`.
fn word_u64(value: u64) -> [u8; 32] {
    let mut word = [0u8; 32];
    word[24..].copy_from_slice(&value.to_be_bytes());
    word
}

/// A 32-byte word holding an address (left-padded with zeros).
fn word_address(address: &[u8; 20]) -> [u8; 32] {
    let mut word = [0u8; 32];
    word[12..].copy_from_slice(address);
    word
}

/// Keccak-256 of 32-byte words laid end to end (EIP-712's `encodeData`).
fn hash_words(words: &[[u8; 32]]) -> [u8; 32] {
    keccak256(&words.concat())
}

/// The USDC-on-Base EIP-712 domain separator.
pub fn domain_separator() -> [u8; 32] {
    // BASE_USDC is a constant address; a parse failure would be caught by the unit tests.
    let contract = parse_address(BASE_USDC).unwrap_or_default();
    hash_words(&[
        keccak256(DOMAIN_TYPE.as_bytes()),
        keccak256(USDC_DOMAIN_NAME.as_bytes()),
        keccak256(USDC_DOMAIN_VERSION.as_bytes()),
        word_u64(BASE_CHAIN_ID),
        word_address(&contract),
    ])
}

impl Authorization {
    /// EIP-712's `hashStruct` of the authorization.
    pub fn struct_hash(&self) -> [u8; 32] {
        hash_words(&[
            keccak256(TRANSFER_TYPE.as_bytes()),
            word_address(&self.from),
            word_address(&self.to),
            word_u64(self.value),
            word_u64(self.valid_after),
            word_u64(self.valid_before),
            self.nonce,
        ])
    }

    /// The digest signed: `keccak256(0x19 ‖ 0x01 ‖ domainSeparator ‖ hashStruct)`.
    pub fn digest(&self) -> [u8; 32] {
        let mut message = Vec::with_capacity(66);
        message.extend_from_slice(&[0x19, 0x01]);
        message.extend_from_slice(&domain_separator());
        message.extend_from_slice(&self.struct_hash());
        keccak256(&message)
    }

    /// Signs the digest with `key` (RFC 6979): `r ‖ s ‖ v`, `v` = recovery id + 27.
    pub fn sign(&self, key: &SecretKey) -> Result<Signature, EvmError> {
        let (signature, recovery) = key
            .sign_prehash_recoverable(&self.digest())
            .map_err(|_| EvmError::Sign)?;
        let mut out = [0u8; 65];
        out[..64].copy_from_slice(&signature.to_bytes());
        out[64] = recovery.to_byte() + 27;
        Ok(Signature(out))
    }
}

#[cfg(test)]
pub(crate) mod tests;
