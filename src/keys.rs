//! Wallet keys the bridge derives itself, kept out of sight: no `Display`, no `Serialize`,
//! a redacting `Debug`, buffers zeroized on drop.
//!
//! - [`solana`]: the Solana keypair ClawRouter pays from, derived from its BIP-39 `mnemonic`
//!   file (docs/SECURITY.md, "Wallet secrets").
//!
//! The EVM key (`wallet.key`, `BLOCKRUN_WALLET_KEY`) is `admin::wallet::SecretKey`.

pub mod solana;
