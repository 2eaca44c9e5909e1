//! The Solana keypair ClawRouter derives from its BIP-39 mnemonic (the `mnemonic` file beside
//! `wallet.key` in `~/.openclaw/blockrun/`), derived here the same way, offline:
//!
//! 1. BIP-39 seed = PBKDF2-HMAC-SHA512(password = the mnemonic, salt = `"mnemonic"`, 2048
//!    rounds, 64 bytes). The mnemonic's words are lowercase ASCII (checked by
//!    [`Mnemonic::parse`]), whose NFKD form is itself, so no normalization is needed.
//! 2. SLIP-10 for ed25519: master = HMAC-SHA512(key `"ed25519 seed"`, seed), the left half the
//!    key, the right half the chain code; each child (hardened only, as ed25519 allows) =
//!    HMAC-SHA512(chain code, `0x00 ‖ key ‖ index + 2³¹`), along [`DERIVATION_PATH`]
//!    (`m/44'/501'/0'/0'`, Phantom's and ClawRouter's).
//! 3. The 32-byte key is the ed25519 private seed; its public key, in base58 (Bitcoin
//!    alphabet), is the address.
//!
//! All of it is `ring` (HMAC, PBKDF2, ed25519) and `bs58`; the result is checked against the
//! published vector in the unit tests and against the npm packages Solana wallets use in
//! `tests/admin_wallet_solana.rs`.
//!
//! Secrets: [`Mnemonic`] and [`SolanaKeypair`] print `<redacted>` in `Debug`, have no
//! `Display` and no `Serialize`; the mnemonic, the BIP-39 seed, the intermediate keys and chain
//! codes and the private seed are zeroized when dropped (`ring`'s own HMAC tags and key schedules are
//! not reachable for that: they live for one call). The private seed never leaves
//! [`SolanaKeypair`]: it signs ([`SolanaKeypair::sign`]) but does not hand the seed out.

use std::fmt;
use std::num::NonZeroU32;

use k256::elliptic_curve::zeroize::{Zeroize, Zeroizing};
use ring::signature::KeyPair;
use ring::{hmac, pbkdf2};

/// The derivation path, every index hardened: `m/44'/501'/0'/0'`.
pub const DERIVATION_PATH: [u32; 4] = [44, 501, 0, 0];
/// Word counts BIP-39 allows.
const WORD_COUNTS: [usize; 5] = [12, 15, 18, 21, 24];
/// BIP-39's PBKDF2 rounds (2048).
const PBKDF2_ROUNDS: NonZeroU32 = NonZeroU32::MIN.saturating_add(2047);
/// The hardened-index offset (2³¹).
const HARDENED: u32 = 0x8000_0000;

/// A BIP-39 mnemonic that has the shape of one: 12, 15, 18, 21 or 24 words of lowercase ASCII
/// letters, single spaces between them. The checksum is not verified (that needs the word
/// list); a wrong word gives another address, which the proxy's `/health` then contradicts.
pub struct Mnemonic(Zeroizing<String>);

impl fmt::Debug for Mnemonic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Mnemonic(<redacted>)")
    }
}

/// What is wrong with a mnemonic's text (the text itself is never shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MnemonicProblem {
    /// Nothing but whitespace.
    Empty,
    /// This many words instead of 12, 15, 18, 21 or 24.
    WordCount(usize),
    /// A word with something other than lowercase ASCII letters.
    NotLowercaseWords,
}

impl fmt::Display for MnemonicProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MnemonicProblem::Empty => f.write_str("is empty"),
            MnemonicProblem::WordCount(n) => {
                write!(f, "has {n} words instead of 12, 15, 18, 21 or 24")
            }
            MnemonicProblem::NotLowercaseWords => f.write_str(
                "holds something other than lowercase English words (a-z) separated by spaces",
            ),
        }
    }
}

impl Mnemonic {
    /// Reads a mnemonic: words separated by any whitespace (a trailing newline, a BOM and
    /// surrounding whitespace are ignored), kept as single-space-separated words.
    pub fn parse(text: &str) -> Result<Mnemonic, MnemonicProblem> {
        let text = text.trim().trim_start_matches('\u{feff}').trim();
        if text.is_empty() {
            return Err(MnemonicProblem::Empty);
        }
        let mut count = 0;
        let mut joined = Zeroizing::new(String::with_capacity(text.len()));
        for word in text.split_whitespace() {
            if !word.bytes().all(|b| b.is_ascii_lowercase()) {
                return Err(MnemonicProblem::NotLowercaseWords);
            }
            if count > 0 {
                joined.push(' ');
            }
            joined.push_str(word);
            count += 1;
        }
        if !WORD_COUNTS.contains(&count) {
            return Err(MnemonicProblem::WordCount(count));
        }
        Ok(Mnemonic(joined))
    }

    /// The BIP-39 seed (no passphrase).
    fn seed(&self) -> Zeroizing<[u8; 64]> {
        let mut seed = Zeroizing::new([0u8; 64]);
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA512,
            PBKDF2_ROUNDS,
            b"mnemonic",
            self.0.as_bytes(),
            &mut seed[..],
        );
        seed
    }
}

/// Why a keypair could not be made from a derived seed (`ring` refused it; not expected).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot make an ed25519 key from the derived seed: {0}")]
pub struct DeriveError(String);

/// The ed25519 keypair at [`DERIVATION_PATH`] of a mnemonic. `Debug` shows the address only.
pub struct SolanaKeypair {
    /// The private seed (never leaves this type).
    seed: Zeroizing<[u8; 32]>,
    public: [u8; 32],
}

impl fmt::Debug for SolanaKeypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SolanaKeypair")
            .field("address", &self.address())
            .field("seed", &"<redacted>")
            .finish()
    }
}

impl SolanaKeypair {
    /// Derives the keypair ClawRouter pays from on Solana (see the module docs).
    pub fn from_mnemonic(mnemonic: &Mnemonic) -> Result<SolanaKeypair, DeriveError> {
        let seed = mnemonic.seed();
        let (mut key, mut chain) = split(hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA512, b"ed25519 seed"),
            &seed[..],
        ));
        for index in DERIVATION_PATH {
            let mut data = Zeroizing::new([0u8; 37]);
            data[1..33].copy_from_slice(&key[..]);
            data[33..].copy_from_slice(&(index | HARDENED).to_be_bytes());
            let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA512, &chain[..]), &data[..]);
            (key, chain) = split(tag);
        }
        chain.zeroize();
        let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&key[..])
            .map_err(|e| DeriveError(e.to_string()))?;
        let mut public = [0u8; 32];
        public.copy_from_slice(pair.public_key().as_ref());
        Ok(SolanaKeypair { seed: key, public })
    }

    /// The 32-byte ed25519 public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }

    /// The address: the public key in base58 (Bitcoin alphabet).
    pub fn address(&self) -> String {
        bs58::encode(self.public).into_string()
    }

    /// An ed25519 signature of `message` by this key (for paying directly on Solana; the
    /// private seed stays inside).
    pub fn sign(&self, message: &[u8]) -> Result<[u8; 64], DeriveError> {
        let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&self.seed[..])
            .map_err(|e| DeriveError(e.to_string()))?;
        let mut signature = [0u8; 64];
        signature.copy_from_slice(pair.sign(message).as_ref());
        Ok(signature)
    }
}

/// What is wrong with a Solana secret key's text (the text itself is never shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretProblem {
    /// Nothing but whitespace.
    Empty,
    /// Neither base58 nor a JSON array of numbers 0–255.
    NotBase58,
    /// This many bytes instead of 64 (32 of private seed, then the 32 of the public key).
    Length(usize),
    /// The last 32 bytes are not the public key of the first 32: a damaged or mixed-up key.
    PublicKeyMismatch,
}

impl fmt::Display for SecretProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretProblem::Empty => f.write_str("is empty"),
            SecretProblem::NotBase58 => f.write_str(
                "is neither a base58 secret key (as Phantom or `solana-keygen` export it) nor a \
                 JSON array of 64 numbers (a `solana-keygen` key file) nor a mnemonic",
            ),
            SecretProblem::Length(n) => write!(
                f,
                "decodes to {n} bytes instead of 64 (a Solana secret key is the 32-byte seed \
                 followed by the 32-byte public key)"
            ),
            SecretProblem::PublicKeyMismatch => f.write_str(
                "holds a public key that does not belong to its private half (the key is damaged)",
            ),
        }
    }
}

impl SolanaKeypair {
    /// A keypair from a 64-byte Solana secret key: base58 (Phantom's export, `SOLANA_WALLET_KEY`)
    /// or a JSON array of 64 numbers (`solana-keygen`'s key file). The public half must match.
    pub fn from_secret(text: &str) -> Result<SolanaKeypair, SecretProblem> {
        let text = text.trim().trim_start_matches('\u{feff}').trim();
        if text.is_empty() {
            return Err(SecretProblem::Empty);
        }
        let bytes: Zeroizing<Vec<u8>> = if text.starts_with('[') {
            let numbers: Zeroizing<Vec<u8>> = Zeroizing::new(
                serde_json::from_str::<Vec<u8>>(text).map_err(|_| SecretProblem::NotBase58)?,
            );
            numbers
        } else {
            Zeroizing::new(
                bs58::decode(text)
                    .into_vec()
                    .map_err(|_| SecretProblem::NotBase58)?,
            )
        };
        if bytes.len() != 64 {
            return Err(SecretProblem::Length(bytes.len()));
        }
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(&bytes[..32]);
        let pair = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed[..])
            .map_err(|_| SecretProblem::PublicKeyMismatch)?;
        if pair.public_key().as_ref() != &bytes[32..] {
            return Err(SecretProblem::PublicKeyMismatch);
        }
        let mut public = [0u8; 32];
        public.copy_from_slice(&bytes[32..]);
        Ok(SolanaKeypair { seed, public })
    }
}

/// An HMAC-SHA512 output as (key, chain code), each zeroized on drop.
fn split(tag: hmac::Tag) -> (Zeroizing<[u8; 32]>, Zeroizing<[u8; 32]>) {
    let bytes = tag.as_ref();
    let mut key = Zeroizing::new([0u8; 32]);
    let mut chain = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&bytes[..32]);
    chain.copy_from_slice(&bytes[32..64]);
    (key, chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ABANDON: &str = "abandon abandon abandon abandon abandon abandon abandon abandon \
                           abandon abandon abandon about";

    #[test]
    fn the_published_vector() {
        let pair = SolanaKeypair::from_mnemonic(&Mnemonic::parse(ABANDON).unwrap()).unwrap();
        assert_eq!(
            pair.address(),
            "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk"
        );
        assert_eq!(
            bs58::decode(pair.address()).into_vec().unwrap(),
            pair.public_key()
        );
        // Whitespace around and between the words does not change the seed.
        let messy = format!("\u{feff}  {}\n", ABANDON.replace(' ', " \t "));
        let again = SolanaKeypair::from_mnemonic(&Mnemonic::parse(&messy).unwrap()).unwrap();
        assert_eq!(again.public_key(), pair.public_key());
    }

    #[test]
    fn its_signatures_verify_with_the_address_key() {
        let pair = SolanaKeypair::from_mnemonic(&Mnemonic::parse(ABANDON).unwrap()).unwrap();
        let signature = pair.sign(b"x402").unwrap();
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, pair.public_key())
            .verify(b"x402", &signature)
            .unwrap();
    }

    #[test]
    fn malformed_mnemonics_are_described_not_echoed() {
        assert_eq!(Mnemonic::parse(" \n").unwrap_err(), MnemonicProblem::Empty);
        assert_eq!(
            Mnemonic::parse("abandon about").unwrap_err(),
            MnemonicProblem::WordCount(2)
        );
        let upper = ABANDON.replace("about", "About");
        assert_eq!(
            Mnemonic::parse(&upper).unwrap_err(),
            MnemonicProblem::NotLowercaseWords
        );
        let key = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
        assert_eq!(
            Mnemonic::parse(key).unwrap_err(),
            MnemonicProblem::NotLowercaseWords
        );
        for problem in [
            MnemonicProblem::Empty,
            MnemonicProblem::WordCount(2),
            MnemonicProblem::NotLowercaseWords,
        ] {
            assert!(!problem.to_string().contains("abandon"));
        }
    }

    /// The base58 secret of the ABANDON vector's keypair (seed ‖ public key).
    fn abandon_secret() -> (String, [u8; 64]) {
        let pair = SolanaKeypair::from_mnemonic(&Mnemonic::parse(ABANDON).unwrap()).unwrap();
        let mut bytes = [0u8; 64];
        bytes[..32].copy_from_slice(&pair.seed[..]);
        bytes[32..].copy_from_slice(&pair.public);
        (bs58::encode(bytes).into_string(), bytes)
    }

    #[test]
    fn a_base58_or_json_secret_gives_the_same_keypair() {
        let (text, bytes) = abandon_secret();
        let pair = SolanaKeypair::from_secret(&format!(" {text}\n")).unwrap();
        assert_eq!(
            pair.address(),
            "HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk"
        );
        let json = serde_json::to_string(&bytes.to_vec()).unwrap();
        let again = SolanaKeypair::from_secret(&json).unwrap();
        assert_eq!(again.public_key(), pair.public_key());
        assert_eq!(pair.sign(b"x").unwrap(), again.sign(b"x").unwrap());
    }

    #[test]
    fn bad_secrets_are_described_not_echoed() {
        let (text, mut bytes) = abandon_secret();
        assert_eq!(
            SolanaKeypair::from_secret("").unwrap_err(),
            SecretProblem::Empty
        );
        assert_eq!(
            SolanaKeypair::from_secret("0OIl").unwrap_err(),
            SecretProblem::NotBase58
        );
        assert!(matches!(
            SolanaKeypair::from_secret(&text[..40]).unwrap_err(),
            SecretProblem::Length(n) if n < 64
        ));
        bytes[40] ^= 1;
        assert_eq!(
            SolanaKeypair::from_secret(&bs58::encode(bytes).into_string()).unwrap_err(),
            SecretProblem::PublicKeyMismatch
        );
        for problem in [
            SecretProblem::Empty,
            SecretProblem::NotBase58,
            SecretProblem::Length(29),
            SecretProblem::PublicKeyMismatch,
        ] {
            assert!(!problem.to_string().contains(&text[..8]));
        }
    }

    #[test]
    fn debug_never_shows_the_secrets() {
        let mnemonic = Mnemonic::parse(ABANDON).unwrap();
        let pair = SolanaKeypair::from_mnemonic(&mnemonic).unwrap();
        let shown = format!("{mnemonic:?} {pair:?}");
        assert!(!shown.contains("abandon"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(
            shown.contains("HAgk14JpMQLgt6rVgv7cBQFJWFto5Dqxi472uT3DKpqk"),
            "{shown}"
        );
        let seed_start = format!("{:?}", &pair.seed[..4]);
        assert!(
            !shown.contains(&seed_start[1..seed_start.len() - 1]),
            "{shown}"
        );
    }
}
