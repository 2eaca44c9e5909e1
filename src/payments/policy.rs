//! `policy`: what direct mode agrees to pay. One accepted offer: scheme `exact`, network Base
//! (`eip155:8453`), asset Base's USDC (compared case-insensitively), the EIP-712 domain of that
//! contract (`USD Coin`, version `2`), the payee when `direct.pay_to` pins one, and an amount
//! no larger than `direct.max_per_request_usd`. The daily and per-thread caps ([`Caps`]) are
//! enforced by the ledger ([`super::ledger::Ledger::reserve`]), inside the transaction that
//! records the payment.
//!
//! On Solana, when a Solana payer is configured ([`Policy::solana`]): scheme `exact`, network
//! mainnet ([`SOLANA_NETWORK`]), asset the USDC mint ([`SOLANA_USDC`], exactly), `payTo` and
//! `extra.feePayer` base58 addresses, the pinned payee when there is one, and the same
//! per-request cap; any other `solana:` network or mint is refused.
//!
//! Every refusal is a [`Refusal`] whose message says what BlockRun asked for, which rule said
//! no, and what the user can change.

use std::fmt;

use super::svm::{SOLANA_NETWORK, SOLANA_USDC};
use super::x402::Offer;
use crate::excerpt::quoted;

/// Base mainnet in CAIP-2 form, the only network direct mode pays on.
pub const BASE_NETWORK: &str = "eip155:8453";
/// Base's chain id (the EIP-712 domain's `chainId`).
pub const BASE_CHAIN_ID: u64 = 8453;
/// USDC on Base (the EIP-712 domain's `verifyingContract`).
pub const BASE_USDC: &str = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
/// The USDC contract's EIP-712 domain name.
pub const USDC_DOMAIN_NAME: &str = "USD Coin";
/// The USDC contract's EIP-712 domain version.
pub const USDC_DOMAIN_VERSION: &str = "2";
/// The only x402 scheme direct mode pays with.
pub const SCHEME_EXACT: &str = "exact";
/// Longest validity asked of an authorization, whatever `maxTimeoutSeconds` allows.
pub const MAX_VALIDITY_SECS: u64 = 300;
/// USDC base units per dollar (6 decimals).
pub const BASE_UNITS_PER_USD: u64 = 1_000_000;

/// An amount of USDC in base units (millionths of a dollar). Displays as dollars: `$0.42`,
/// `$0.001`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Usdc(pub u64);

impl Usdc {
    /// Whole dollars and cents from a setting such as `direct.max_per_request_usd: 0.25`,
    /// rounded down to a base unit. `None` for a negative, non-finite or absurd (≥ $1e12)
    /// value.
    pub fn from_usd(usd: f64) -> Option<Usdc> {
        if !usd.is_finite() || !(0.0..1e12).contains(&usd) {
            return None;
        }
        // In range: the product is below 2^63, so the cast neither saturates nor wraps.
        Some(Usdc((usd * BASE_UNITS_PER_USD as f64).floor() as u64))
    }

    /// The amount in dollars, for the cost log.
    pub fn as_usd(self) -> f64 {
        self.0 as f64 / BASE_UNITS_PER_USD as f64
    }
}

impl fmt::Display for Usdc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dollars = self.0 / BASE_UNITS_PER_USD;
        let micros = self.0 % BASE_UNITS_PER_USD;
        let fraction = format!("{micros:06}");
        let trimmed = fraction.trim_end_matches('0');
        let shown = if trimmed.len() < 2 {
            &fraction[..2]
        } else {
            trimmed
        };
        write!(f, "${dollars}.{shown}")
    }
}

/// The spending caps. The per-request cap is always set; the others are optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// `direct.max_per_request_usd`: the most one request may cost.
    pub per_request: Usdc,
    /// `direct.max_per_day_usd`: the most all payments of one UTC day may add up to.
    pub per_day: Option<Usdc>,
    /// `direct.max_per_thread_usd`: the most the payments of one Codex thread may add up to
    /// (a request without a thread id is held to the other caps only).
    pub per_thread: Option<Usdc>,
}

/// What direct mode agrees to: the caps and, optionally, the one payee accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The spending caps.
    pub caps: Caps,
    /// `direct.pay_to`: when set, the only address payments may go to.
    pub pay_to: Option<String>,
    /// Whether a Solana payer is configured: without one, Solana offers are refused.
    pub solana: bool,
}

/// Why a payment was refused. Nothing was signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// An offer with another scheme than `exact`.
    #[error("BlockRun asked for the x402 scheme {0}; direct mode pays only with \"exact\" (EIP-3009 USDC transfers); use ClawRouter (upstream.kind: clawrouter) for this upstream")]
    Scheme(String),
    /// An offer on Solana to a payer on Base.
    #[error("BlockRun asked for payment on Solana ({0}), and direct mode pays on Base here (direct.chain); to pay from ClawRouter's Solana wallet set direct.chain: solana (env DIRECT_CHAIN=solana)")]
    SolanaNotEnabled(String),
    /// A 402 offering nothing on the chain the payer pays on.
    #[error("BlockRun offered no payment on {chain} (it asked for {offered}), and direct mode pays on {chain} only (direct.chain); nothing was paid; set direct.chain (env DIRECT_CHAIN) to the chain your USDC is on")]
    ChainNotOffered {
        /// The payer's chain (`Solana`).
        chain: &'static str,
        /// The networks offered, quoted.
        offered: String,
    },
    /// An offer on another network than Base.
    #[error("BlockRun asked for payment on the network {0}; direct mode pays only on Base ({BASE_NETWORK}) or Solana mainnet ({SOLANA_NETWORK})")]
    Network(String),
    /// A Solana network other than mainnet.
    #[error("BlockRun asked for payment on the Solana network {0}; direct mode pays on Solana mainnet ({SOLANA_NETWORK}) only")]
    SolanaNetwork(String),
    /// A Solana mint other than USDC's.
    #[error("BlockRun asked for payment on Solana in the token {0}; direct mode pays only USDC on Solana (mint {SOLANA_USDC})")]
    SolanaAsset(String),
    /// A Solana offer's `payTo` or `extra.feePayer` that is not a base58 address.
    #[error("BlockRun's Solana offer has {field} {value}, which is not a Solana address (base58 of 32 bytes); nothing was paid")]
    BadSolanaAddress {
        /// `payTo` or `extra.feePayer`.
        field: &'static str,
        /// The value, quoted.
        value: String,
    },
    /// A Solana offer whose `extra.memo` is longer than the Memo the client may write.
    #[error("BlockRun's Solana offer asks for a memo of {0} bytes (extra.memo), over the {max}-byte limit; nothing was paid", max = super::svm::MAX_SELLER_MEMO_BYTES)]
    SellerMemoTooLong(usize),
    /// A Solana offer without `extra.feePayer`.
    #[error("BlockRun's Solana offer names no fee payer (extra.feePayer), so no transaction can be built for it; nothing was paid")]
    NoFeePayer,
    /// An asset other than Base's USDC.
    #[error("BlockRun asked for payment in the asset {0}; direct mode pays only USDC on Base ({BASE_USDC})")]
    Asset(String),
    /// An EIP-712 domain other than the USDC contract's.
    #[error("BlockRun's offer names the token domain {name} version {version}; USDC on Base signs as \"{USDC_DOMAIN_NAME}\" version \"{USDC_DOMAIN_VERSION}\", so the offer is refused")]
    Domain {
        /// The `extra.name` offered.
        name: String,
        /// The `extra.version` offered.
        version: String,
    },
    /// A payee other than the pinned one.
    #[error("BlockRun asked to pay {asked}, but direct.pay_to pins {pinned}; if BlockRun changed its address, check it on blockrun.ai and update direct.pay_to")]
    Payee {
        /// The `payTo` offered.
        asked: String,
        /// `direct.pay_to`.
        pinned: String,
    },
    /// A `payTo` that is not an address.
    #[error("BlockRun's offer has payTo {0}, which is not an address (0x followed by 40 hex digits); nothing was paid")]
    BadPayee(String),
    /// An amount that is not a whole number of base units.
    #[error("BlockRun's offer has amount {0}, which is not a whole number of USDC base units; nothing was paid")]
    BadAmount(String),
    /// A validity window of zero seconds.
    #[error("BlockRun's offer allows 0 seconds to pay (maxTimeoutSeconds); nothing was paid")]
    NoTime,
    /// Over `direct.max_per_request_usd`.
    #[error("BlockRun asked for {asked}, over direct.max_per_request_usd = {cap}; raise the cap or pick a cheaper model")]
    OverRequestCap {
        /// The amount asked.
        asked: Usdc,
        /// The cap.
        cap: Usdc,
    },
    /// Over `direct.max_per_day_usd` (UTC day).
    #[error("BlockRun asked for {asked}, but {spent} was already spent today (UTC) and direct.max_per_day_usd = {cap}; raise the cap or wait until 00:00 UTC")]
    OverDayCap {
        /// The amount asked.
        asked: Usdc,
        /// Spent so far today.
        spent: Usdc,
        /// The cap.
        cap: Usdc,
    },
    /// Over `direct.max_per_thread_usd`.
    #[error("BlockRun asked for {asked}, but this Codex thread already spent {spent} and direct.max_per_thread_usd = {cap}; raise the cap or start a new thread")]
    OverThreadCap {
        /// The amount asked.
        asked: Usdc,
        /// Spent so far by the thread.
        spent: Usdc,
        /// The cap.
        cap: Usdc,
    },
    /// The 402 offered nothing at all.
    #[error("BlockRun's payment request offers no way to pay (empty accepts); nothing was paid")]
    NoOffer,
}

/// Who is paid, parsed, by chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payee {
    /// A Base address (`payTo`).
    Base([u8; 20]),
    /// A Solana payment: `payTo` and the facilitator paying the fee (`extra.feePayer`).
    Solana {
        /// `payTo`.
        pay_to: [u8; 32],
        /// `extra.feePayer`.
        fee_payer: [u8; 32],
    },
}

/// An offer that passed every rule: the amount, payee and validity to sign for.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted<'a> {
    /// The offer, to echo verbatim.
    pub offer: &'a Offer,
    /// The amount, parsed.
    pub amount: Usdc,
    /// The payee, parsed.
    pub payee: Payee,
    /// How long the authorization stays valid: `min(maxTimeoutSeconds, 300)`.
    pub validity_secs: u64,
}

impl Policy {
    /// Checks one offer against every rule (not the daily or thread caps: the ledger's).
    pub fn check<'a>(&self, offer: &'a Offer) -> Result<Accepted<'a>, Refusal> {
        if offer.network.starts_with("solana:") {
            return self.check_solana(offer);
        }
        if offer.network != BASE_NETWORK {
            return Err(Refusal::Network(quoted(&offer.network)));
        }
        if offer.scheme != SCHEME_EXACT {
            return Err(Refusal::Scheme(quoted(&offer.scheme)));
        }
        if !offer.asset.eq_ignore_ascii_case(BASE_USDC) {
            return Err(Refusal::Asset(quoted(&offer.asset)));
        }
        if let Some(extra) = &offer.extra {
            let name = extra.name.as_deref().unwrap_or(USDC_DOMAIN_NAME);
            let version = extra.version.as_deref().unwrap_or(USDC_DOMAIN_VERSION);
            if name != USDC_DOMAIN_NAME || version != USDC_DOMAIN_VERSION {
                return Err(Refusal::Domain {
                    name: quoted(name),
                    version: quoted(version),
                });
            }
        }
        let pay_to = super::evm::parse_address(&offer.pay_to)
            .ok_or_else(|| Refusal::BadPayee(quoted(&offer.pay_to)))?;
        self.check_payee(offer, |pinned| offer.pay_to.eq_ignore_ascii_case(pinned))?;
        self.accept(offer, Payee::Base(pay_to))
    }

    /// The rules of a `solana:` offer (see the module docs).
    fn check_solana<'a>(&self, offer: &'a Offer) -> Result<Accepted<'a>, Refusal> {
        if !self.solana {
            return Err(Refusal::SolanaNotEnabled(quoted(&offer.network)));
        }
        if offer.network != SOLANA_NETWORK {
            return Err(Refusal::SolanaNetwork(quoted(&offer.network)));
        }
        if offer.scheme != SCHEME_EXACT {
            return Err(Refusal::Scheme(quoted(&offer.scheme)));
        }
        if offer.asset != SOLANA_USDC {
            return Err(Refusal::SolanaAsset(quoted(&offer.asset)));
        }
        let solana_address = |field: &'static str, value: &str| {
            super::svm::parse_address(value).ok_or_else(|| Refusal::BadSolanaAddress {
                field,
                value: quoted(value),
            })
        };
        let pay_to = solana_address("payTo", &offer.pay_to)?;
        let fee_payer = offer
            .extra
            .as_ref()
            .and_then(|extra| extra.fee_payer.as_deref())
            .ok_or(Refusal::NoFeePayer)?;
        let fee_payer = solana_address("extra.feePayer", fee_payer)?;
        let memo = super::svm::seller_memo(offer.extra.as_ref().and_then(|e| e.memo.as_ref()));
        if let Some(memo) = memo.filter(|m| m.len() > super::svm::MAX_SELLER_MEMO_BYTES) {
            return Err(Refusal::SellerMemoTooLong(memo.len()));
        }
        // Base58 is case-sensitive: the pin must match exactly.
        self.check_payee(offer, |pinned| offer.pay_to == pinned)?;
        self.accept(offer, Payee::Solana { pay_to, fee_payer })
    }

    /// `direct.pay_to`, when set, must be `offer`'s payee as `same` compares them.
    fn check_payee(&self, offer: &Offer, same: impl Fn(&str) -> bool) -> Result<(), Refusal> {
        match &self.pay_to {
            Some(pinned) if !same(pinned) => Err(Refusal::Payee {
                asked: quoted(&offer.pay_to),
                pinned: pinned.clone(),
            }),
            _ => Ok(()),
        }
    }

    /// The rules every chain shares: the amount and its cap, the validity window.
    fn accept<'a>(&self, offer: &'a Offer, payee: Payee) -> Result<Accepted<'a>, Refusal> {
        let amount = parse_amount(&offer.amount)?;
        if amount > self.caps.per_request {
            return Err(Refusal::OverRequestCap {
                asked: amount,
                cap: self.caps.per_request,
            });
        }
        if offer.max_timeout_seconds == 0 {
            return Err(Refusal::NoTime);
        }
        Ok(Accepted {
            offer,
            amount,
            payee,
            validity_secs: offer.max_timeout_seconds.min(MAX_VALIDITY_SECS),
        })
    }

    /// The first offer that passes, or the refusal of the most relevant one: the first Base
    /// offer's when there is one (its reason is the one the user can act on), else the first.
    pub fn choose<'a>(&self, offers: &'a [Offer]) -> Result<Accepted<'a>, Refusal> {
        let mut first_refusal = None;
        let mut base_refusal = None;
        for offer in offers {
            match self.check(offer) {
                Ok(accepted) => return Ok(accepted),
                Err(refusal) => {
                    if base_refusal.is_none() && offer.network == BASE_NETWORK {
                        base_refusal = Some(refusal.clone());
                    }
                    first_refusal.get_or_insert(refusal);
                }
            }
        }
        Err(base_refusal.or(first_refusal).unwrap_or(Refusal::NoOffer))
    }
}

/// A decimal string of base units, digits only, at most 18 of them.
fn parse_amount(text: &str) -> Result<Usdc, Refusal> {
    let ok = !text.is_empty() && text.len() <= 18 && text.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| text.parse::<u64>().ok())
        .flatten()
        .map(Usdc)
        .ok_or_else(|| Refusal::BadAmount(quoted(text)))
}

#[cfg(test)]
mod tests;
