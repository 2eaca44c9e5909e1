//! `svm`: the x402 `exact` scheme on Solana (issue #17, the pure part): a USDC transfer to the
//! offer's `payTo`, as a v0 transaction that the facilitator (`extra.feePayer`) pays the fee of,
//! signs second and submits.
//!
//! The message holds, in order (coinbase/x402 `scheme_exact_svm.md`, as `@x402/svm` builds it):
//!
//! 1. ComputeBudget `SetComputeUnitLimit` (`[2, u32 LE]`, [`COMPUTE_UNIT_LIMIT`]);
//! 2. ComputeBudget `SetComputeUnitPrice` (`[3, u64 LE]` micro-lamports,
//!    [`COMPUTE_UNIT_PRICE_MICROLAMPORTS`]);
//! 3. SPL Token `TransferChecked` (`[12, u64 LE amount, 6]`; accounts: our USDC associated
//!    token account (writable), the mint, the payee's associated token account (writable), us
//!    (signer));
//! 4. a Memo of 16 random bytes as 32 hex digits, so two payments of the same amount to the
//!    same payee in the same block are two transactions, not one that could be collected once;
//!    or, when the offer sets one, the seller's `extra.memo` verbatim (at most
//!    [`MAX_SELLER_MEMO_BYTES`]), which binds the payment to the seller's request.
//!
//! Accounts are ordered as `@solana/web3.js`'s `compileToV0Message` orders them: the fee payer
//! (writable signer), us (read-only signer), then the writable and the read-only non-signers;
//! there are no address-table lookups. The transaction carries two signatures: the fee
//! payer's, left zero for the facilitator, and ours, ed25519 over the message
//! ([`SolanaKeypair::sign`]). Associated token accounts are program-derived addresses
//! ([`find_program_address`]: SHA-256, and the first bump from 255 down whose hash is off the
//! ed25519 curve, checked with `curve25519-dalek`'s point decompression).
//!
//! The recent blockhash is an input: fetching it (RPC) is not done here. Checked independently
//! with `@solana/web3.js` in `tests/payments_svm.rs`.

use base64::Engine;

use super::evm::hex;
use crate::keys::solana::SolanaKeypair;

/// Solana mainnet in CAIP-2 form (the genesis hash's prefix).
pub const SOLANA_NETWORK: &str = "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp";
/// USDC's mint on Solana, base58.
pub const SOLANA_USDC: &str = "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v";
/// USDC's decimals (`TransferChecked` states them).
pub const USDC_DECIMALS: u8 = 6;
/// The compute units asked for (a `TransferChecked` and a short memo use well under it).
pub const COMPUTE_UNIT_LIMIT: u32 = 20_000;
/// The priority fee, micro-lamports per compute unit (facilitators accept at most 5,000,000).
pub const COMPUTE_UNIT_PRICE_MICROLAMPORTS: u64 = 1;

/// The addresses below, decoded from their published base58 when the crate is compiled (a
/// typo fails the build).
const fn address(base58: &str) -> [u8; 32] {
    bs58::decode(base58.as_bytes()).into_array_const_unwrap()
}

/// `SOLANA_USDC` in bytes.
pub const USDC_MINT: [u8; 32] = address(SOLANA_USDC);
/// `ComputeBudget111111111111111111111111111111`.
pub const COMPUTE_BUDGET_PROGRAM: [u8; 32] = address("ComputeBudget111111111111111111111111111111");
/// `TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA`, the SPL Token program.
pub const TOKEN_PROGRAM: [u8; 32] = address("TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA");
/// `ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL`, the Associated Token Account program.
pub const ASSOCIATED_TOKEN_PROGRAM: [u8; 32] =
    address("ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL");
/// `MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr`, the SPL Memo program (v2).
pub const MEMO_PROGRAM: [u8; 32] = address("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr");

/// `SetComputeUnitLimit`'s instruction tag.
const SET_COMPUTE_UNIT_LIMIT: u8 = 2;
/// `SetComputeUnitPrice`'s instruction tag.
const SET_COMPUTE_UNIT_PRICE: u8 = 3;
/// SPL Token's `TransferChecked` tag.
const TRANSFER_CHECKED: u8 = 12;
/// The v0 message prefix (the high bit marks a versioned message, version 0).
const V0_PREFIX: u8 = 0x80;

/// Why a Solana payment could not be built. Nothing was signed or sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SvmError {
    /// Two accounts of the transaction are the same (for example `extra.feePayer` or `payTo` is
    /// our own address): such an offer is refused rather than signed.
    #[error("BlockRun's Solana offer makes {0} the same account as another one of the payment (is feePayer or payTo our own address?); nothing was paid")]
    SharedAccount(&'static str),
    /// No program-derived address (not expected: each bump has about even odds).
    #[error("no associated token account address could be derived for a Solana payment; nothing was paid")]
    NoAddress,
    /// The system's random generator failed.
    #[error("the system's random number generator failed while making a Solana payment's memo; nothing was paid")]
    Random,
    /// Signing failed.
    #[error("signing the Solana payment failed ({0}); nothing was paid")]
    Sign(String),
}

/// Reads a base58 Solana address (exactly 32 bytes); `None` for anything else.
pub fn parse_address(text: &str) -> Option<[u8; 32]> {
    if text.is_empty() || text.len() > 44 {
        return None;
    }
    let bytes = bs58::decode(text).into_vec().ok()?;
    bytes.try_into().ok()
}

/// Whether `bytes` is the compressed form of a point on the ed25519 curve.
fn on_curve(bytes: &[u8; 32]) -> bool {
    curve25519_dalek::edwards::CompressedEdwardsY(*bytes)
        .decompress()
        .is_some()
}

/// Solana's `find_program_address`: the first bump from 255 down for which
/// SHA-256(seeds ‖ bump ‖ program ‖ `"ProgramDerivedAddress"`) is off the ed25519 curve, and
/// that bump.
pub fn find_program_address(seeds: &[&[u8]], program: &[u8; 32]) -> Option<([u8; 32], u8)> {
    use sha2::{Digest, Sha256};
    (1..=u8::MAX).rev().find_map(|bump| {
        let mut hasher = Sha256::new();
        for seed in seeds {
            hasher.update(seed);
        }
        hasher.update([bump]);
        hasher.update(program);
        hasher.update(b"ProgramDerivedAddress");
        let address: [u8; 32] = hasher.finalize().into();
        (!on_curve(&address)).then_some((address, bump))
    })
}

/// The associated token account of `owner` for `mint` (SPL Token program).
pub fn associated_token_address(owner: &[u8; 32], mint: &[u8; 32]) -> Option<[u8; 32]> {
    find_program_address(&[owner, &TOKEN_PROGRAM, mint], &ASSOCIATED_TOKEN_PROGRAM)
        .map(|(address, _)| address)
}

/// Appends `value` as Solana's compact-u16 (7 bits a byte, low first, high bit = more).
pub fn push_compact_u16(out: &mut Vec<u8>, value: u16) {
    let mut rest = value;
    loop {
        let low = (rest & 0x7f) as u8;
        rest >>= 7;
        if rest == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

/// Appends a length as compact-u16 (every length here is far below 2¹⁶).
fn push_len(out: &mut Vec<u8>, len: usize) {
    push_compact_u16(out, u16::try_from(len).unwrap_or(u16::MAX));
}

/// `SetComputeUnitLimit`'s data.
pub fn compute_unit_limit_data(units: u32) -> Vec<u8> {
    let mut data = vec![SET_COMPUTE_UNIT_LIMIT];
    data.extend_from_slice(&units.to_le_bytes());
    data
}

/// `SetComputeUnitPrice`'s data.
pub fn compute_unit_price_data(micro_lamports: u64) -> Vec<u8> {
    let mut data = vec![SET_COMPUTE_UNIT_PRICE];
    data.extend_from_slice(&micro_lamports.to_le_bytes());
    data
}

/// `TransferChecked`'s data.
pub fn transfer_checked_data(amount: u64, decimals: u8) -> Vec<u8> {
    let mut data = vec![TRANSFER_CHECKED];
    data.extend_from_slice(&amount.to_le_bytes());
    data.push(decimals);
    data
}

/// The longest seller memo (`extra.memo`) accepted, in bytes (as `@x402/svm`).
pub const MAX_SELLER_MEMO_BYTES: usize = 256;

/// The seller's memo of an offer's `extra.memo`: a non-empty string binds the payment (the
/// facilitator demands that exact memo); missing, empty or not a string is unset, and a
/// random memo is used (the rule `@x402/svm` follows).
pub fn seller_memo(memo: Option<&serde_json::Value>) -> Option<&str> {
    memo.and_then(serde_json::Value::as_str)
        .filter(|text| !text.is_empty())
}

/// A fresh memo: 16 random bytes.
pub fn random_memo() -> Result<[u8; 16], SvmError> {
    use ring::rand::SecureRandom;
    let mut memo = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut memo)
        .map_err(|_| SvmError::Random)?;
    Ok(memo)
}

/// One USDC transfer to pay an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// `extra.feePayer`: the facilitator, who pays the fee and signs first.
    pub fee_payer: [u8; 32],
    /// Us: the owner of the source token account.
    pub owner: [u8; 32],
    /// `payTo`: the owner of the destination token account.
    pub pay_to: [u8; 32],
    /// USDC base units.
    pub amount: u64,
    /// A recent blockhash (the transaction's lifetime).
    pub recent_blockhash: [u8; 32],
    /// The memo's random bytes (sent as 32 hex digits).
    pub memo: [u8; 16],
}

impl Transfer {
    /// The v0 message's bytes (what is signed), see the module docs.
    pub fn message(&self) -> Result<Vec<u8>, SvmError> {
        self.message_with(None)
    }

    /// [`Transfer::message`] with the seller's memo (`extra.memo`, [`seller_memo`]) as the
    /// Memo's text instead of the random one, when the offer sets one: the seller binds the
    /// payment to it and the facilitator demands that exact memo (as `@x402/svm` does).
    pub fn message_with(&self, seller_memo: Option<&str>) -> Result<Vec<u8>, SvmError> {
        let source =
            associated_token_address(&self.owner, &USDC_MINT).ok_or(SvmError::NoAddress)?;
        let destination =
            associated_token_address(&self.pay_to, &USDC_MINT).ok_or(SvmError::NoAddress)?;
        // 0 fee payer, 1 us, 2 source, 3 destination, then the read-only non-signers.
        let keys: [(&[u8; 32], &'static str); 8] = [
            (&self.fee_payer, "extra.feePayer"),
            (&self.owner, "our address"),
            (&source, "our USDC token account"),
            (&destination, "payTo's USDC token account"),
            (&COMPUTE_BUDGET_PROGRAM, "the ComputeBudget program"),
            (&TOKEN_PROGRAM, "the Token program"),
            (&USDC_MINT, "the USDC mint"),
            (&MEMO_PROGRAM, "the Memo program"),
        ];
        for (i, (key, name)) in keys.iter().enumerate() {
            if keys[..i].iter().any(|(other, _)| other == key) {
                return Err(SvmError::SharedAccount(name));
            }
        }
        let random = hex(&self.memo);
        let memo = seller_memo.unwrap_or(random.trim_start_matches("0x"));
        let instructions: [(u8, &[u8], Vec<u8>); 4] = [
            (4, &[], compute_unit_limit_data(COMPUTE_UNIT_LIMIT)),
            (
                4,
                &[],
                compute_unit_price_data(COMPUTE_UNIT_PRICE_MICROLAMPORTS),
            ),
            (
                5,
                &[2, 6, 3, 1],
                transfer_checked_data(self.amount, USDC_DECIMALS),
            ),
            (7, &[], memo.as_bytes().to_vec()),
        ];
        let mut out = Vec::with_capacity(512);
        out.push(V0_PREFIX);
        // Signatures required (fee payer, us), read-only signed (us), read-only unsigned.
        out.extend_from_slice(&[2, 1, 4]);
        push_len(&mut out, keys.len());
        for (key, _) in &keys {
            out.extend_from_slice(*key);
        }
        out.extend_from_slice(&self.recent_blockhash);
        push_len(&mut out, instructions.len());
        for (program, accounts, data) in &instructions {
            out.push(*program);
            push_len(&mut out, accounts.len());
            out.extend_from_slice(accounts);
            push_len(&mut out, data.len());
            out.extend_from_slice(data);
        }
        push_len(&mut out, 0); // No address-table lookups.
        Ok(out)
    }

    /// The transaction signed by `keypair` (whose public key must be [`Transfer::owner`]),
    /// the fee payer's signature left zero, in base64: the payload's `transaction`.
    pub fn sign(&self, keypair: &SolanaKeypair) -> Result<String, SvmError> {
        self.signed(keypair).map(|(transaction, _)| transaction)
    }

    /// [`Transfer::sign`], and our signature in base58: what identifies the payment (the
    /// transaction's id is the fee payer's signature, made later by the facilitator).
    pub fn signed(&self, keypair: &SolanaKeypair) -> Result<(String, String), SvmError> {
        self.signed_with(keypair, None)
    }

    /// [`Transfer::signed`] with the seller's memo, as [`Transfer::message_with`].
    pub fn signed_with(
        &self,
        keypair: &SolanaKeypair,
        seller_memo: Option<&str>,
    ) -> Result<(String, String), SvmError> {
        if keypair.public_key() != self.owner {
            return Err(SvmError::Sign(
                "the key is not the transfer's owner".to_owned(),
            ));
        }
        let message = self.message_with(seller_memo)?;
        let signature = keypair
            .sign(&message)
            .map_err(|e| SvmError::Sign(e.to_string()))?;
        let mut out = Vec::with_capacity(1 + 128 + message.len());
        push_len(&mut out, 2);
        out.extend_from_slice(&[0u8; 64]);
        out.extend_from_slice(&signature);
        out.extend_from_slice(&message);
        Ok((
            base64::engine::general_purpose::STANDARD.encode(out),
            bs58::encode(signature).into_string(),
        ))
    }
}

#[cfg(test)]
mod tests;
