//! ClawRouter's own wallet files, read offline so `wallet` can say where to send USDC while
//! the proxy is down. They live in `.openclaw/blockrun/` under the HOME the proxy runs with
//! ([`super::WalletDiscovery::proxy_home_dir`]):
//!
//! - `wallet.key`: the EVM key (`0x` + 64 hex), the Base address;
//! - `mnemonic`: the BIP-39 mnemonic, the Solana address ([`crate::keys::solana`]);
//! - `payment-chain`: `solana` or `base`.
//!
//! The chain, as ClawRouter resolves it: `CLAWROUTER_PAYMENT_CHAIN` when it is exactly
//! `solana` or `base`; else the file, Solana when it says `solana`, else Base; no file: Base.
//! Solana without a mnemonic falls back to Base (there is no Solana key to pay with).
//!
//! A file that is present but unusable is reported (by path, never its content), not skipped.

use std::io::Read;
use std::path::{Path, PathBuf};

use k256::elliptic_curve::zeroize::Zeroizing;

use super::{address_from_key, read_key_file, WalletError};
use crate::funding::{Chain, Funding};
use crate::keys::solana::{Mnemonic, SolanaKeypair};

/// The environment variable that overrides the `payment-chain` file.
pub const ENV_PAYMENT_CHAIN: &str = "CLAWROUTER_PAYMENT_CHAIN";
/// Largest mnemonic file read (24 words are under 300 bytes).
const MAX_MNEMONIC_BYTES: u64 = 4 * 1024;

/// What ClawRouter's files say.
#[derive(Debug)]
pub struct SavedWallet {
    /// The folder read (`…/.openclaw/blockrun`).
    pub dir: PathBuf,
    /// The chain ClawRouter pays on.
    pub chain: Chain,
    /// Why that chain, for people (`payment-chain file /…/payment-chain`).
    pub why: String,
    /// The EVM address of `wallet.key`, when it is there.
    pub evm: Option<String>,
    /// The Solana address of `mnemonic`, when it is there.
    pub solana: Option<String>,
    /// The files that are there but could not be used (by path, never their content).
    pub problems: Vec<WalletError>,
}

impl SavedWallet {
    /// The path of one of the files.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Where to send USDC according to the files. On Base ClawRouter prefers its saved
    /// `wallet.key`; `key` (the address of the key this bridge hands the proxy) stands in when
    /// there is none.
    pub fn funding(&self, key: Option<&str>) -> Option<Funding> {
        let address = match self.chain {
            Chain::Solana => self.solana.clone(),
            Chain::Base => self.evm.clone().or_else(|| key.map(str::to_owned)),
        }?;
        Some(Funding {
            chain: self.chain,
            address,
        })
    }
}

/// Reads ClawRouter's files in `dir`; `env_chain` is `CLAWROUTER_PAYMENT_CHAIN`.
pub fn read(dir: &Path, env_chain: Option<&str>) -> SavedWallet {
    let mut problems = Vec::new();
    // A file that is there but unusable is a problem, not an absence.
    let mut address_in = |name: &str, derive: &dyn Fn(&Path) -> Result<String, WalletError>| {
        let path = dir.join(name);
        if !path.exists() {
            return None;
        }
        derive(&path).map_err(|e| problems.push(e)).ok()
    };
    let evm = address_in("wallet.key", &|path| {
        read_key_file(path, "ClawRouter's saved wallet").and_then(|k| address_from_key(&k))
    });
    let solana = address_in("mnemonic", &solana_address);
    let mnemonic_path = dir.join("mnemonic");
    let chain_path = dir.join("payment-chain");
    let (chosen, mut why) = match env_chain {
        Some("solana") => (Chain::Solana, format!("{ENV_PAYMENT_CHAIN}=solana")),
        Some("base") => (Chain::Base, format!("{ENV_PAYMENT_CHAIN}=base")),
        _ => match std::fs::read_to_string(&chain_path) {
            Ok(text) if text.trim() == "solana" => (
                Chain::Solana,
                format!("payment-chain file {}", chain_path.display()),
            ),
            Ok(_) => (
                Chain::Base,
                format!("payment-chain file {}", chain_path.display()),
            ),
            Err(_) => (
                Chain::Base,
                format!("no payment-chain file in {}", dir.display()),
            ),
        },
    };
    let chain = if chosen == Chain::Solana && !mnemonic_path.exists() {
        why.push_str(&format!(
            ", but no mnemonic in {}, so it falls back to Base",
            dir.display()
        ));
        Chain::Base
    } else {
        chosen
    };
    SavedWallet {
        dir: dir.to_path_buf(),
        chain,
        why,
        evm,
        solana,
        problems,
    }
}

/// The Solana address of a mnemonic file.
fn solana_address(path: &Path) -> Result<String, WalletError> {
    let read_err = |source| WalletError::ReadMnemonic {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    // Room for the whole read up front: a growing buffer would leave copies behind.
    let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_MNEMONIC_BYTES as usize + 1));
    file.take(MAX_MNEMONIC_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    let bad = |problem: String| WalletError::BadMnemonic {
        path: path.to_path_buf(),
        problem,
    };
    if bytes.len() as u64 > MAX_MNEMONIC_BYTES {
        return Err(bad(format!(
            "is over {MAX_MNEMONIC_BYTES} bytes, too large"
        )));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| bad("is not UTF-8 text".to_owned()))?;
    let mnemonic = Mnemonic::parse(text).map_err(|p| bad(p.to_string()))?;
    let pair =
        SolanaKeypair::from_mnemonic(&mnemonic).map_err(|e| WalletError::Derive(e.to_string()))?;
    Ok(pair.address())
}
