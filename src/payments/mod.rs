//! `payments`: direct mode's payment core (issue #16): the bridge pays BlockRun itself, in USDC
//! on Base, through x402 version 2, instead of going through ClawRouter. No Pingora types and
//! no I/O besides the ledger; not wired into the proxy yet (`upstream.kind: direct` will).
//!
//! - [`x402`]: the `PAYMENT-REQUIRED` / `PAYMENT-SIGNATURE` headers.
//! - [`policy`]: which offers are accepted and the per-request cap.
//! - [`evm`]: the EIP-3009 authorization, its EIP-712 digest and signature.
//! - [`svm`]: the Solana USDC transfer transaction (not used by [`Payer`] yet: it signs on Base).
//! - [`ledger`]: every payment in SQLite; the daily and per-thread caps, enforced atomically.
//!
//! [`Payer`] ties them together: a 402's header and the request's model and ids become a
//! [`PaidAttempt`] (a signed header value, reserved in the ledger) or a typed refusal. The
//! attempt can only be resent as it is, never signed again: a retry after a lost connection
//! resends the same authorization (same nonce, so it can be collected at most once), and a
//! second 402 after paying is [`PayError::PaymentRefused`], never a new signature.

pub mod evm;
pub mod ledger;
pub mod policy;
pub mod svm;
pub mod x402;

use std::sync::Mutex;

use crate::admin::wallet::{address_from_key, to_checksum_address, SecretKey};
use evm::{hex, Authorization, EvmError};
use ledger::{Ledger, LedgerError, NewPayment, Outcome};
use policy::{Payee, Policy, Refusal, Usdc};
use x402::X402Error;

/// How far back `validAfter` is set, against clock skew between us and the chain.
pub const VALID_AFTER_SLACK_SECS: u64 = 600;

/// Why no payment was made (or why a made one was not taken).
#[derive(Debug, thiserror::Error)]
pub enum PayError {
    /// The 402's payment request could not be read.
    #[error(transparent)]
    Request(#[from] X402Error),
    /// A rule said no (offer, per-request, daily or thread cap).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The ledger could not record the payment.
    #[error(transparent)]
    Ledger(LedgerError),
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] EvmError),
    /// The key gives no address (not expected for a valid key).
    #[error("cannot derive the wallet address of direct mode's key (the key is not shown)")]
    Address,
    /// The ledger's lock was poisoned by a panic elsewhere.
    #[error("the payment ledger is unavailable after an internal error; restart the bridge; nothing was paid")]
    Poisoned,
    /// BlockRun answered 402 to the paid request.
    #[error("BlockRun refused the payment of {amount} for {model} from {from} (it answered 402 Payment Required again{reason}); nothing more is paid for this request; check that address's USDC balance on Base")]
    PaymentRefused {
        /// The amount offered.
        amount: Usdc,
        /// The model paid for.
        model: String,
        /// Our address.
        from: String,
        /// `: <BlockRun's reason>` when it gave one, else empty.
        reason: String,
    },
}

impl From<LedgerError> for PayError {
    fn from(e: LedgerError) -> PayError {
        match e {
            LedgerError::Cap(refusal) => PayError::Refused(refusal),
            other => PayError::Ledger(other),
        }
    }
}

/// What is being paid for: the request's model and ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentContext<'a> {
    /// The model the request asks for.
    pub model: &'a str,
    /// The bridge's id of the request: a request id is paid at most once.
    pub request_id: Option<&'a str>,
    /// Codex's thread id, for `direct.max_per_thread_usd`.
    pub thread_id: Option<&'a str>,
}

/// A signed payment for one request. It can only be resent as it is: there is no way to sign
/// it again or change it.
#[derive(Debug, PartialEq, Eq)]
pub struct PaidAttempt {
    header: String,
    id: i64,
    amount: Usdc,
    nonce: String,
    model: String,
    valid_before: u64,
}

impl PaidAttempt {
    /// Unix seconds after which the authorization can no longer be collected.
    pub fn valid_before(&self) -> u64 {
        self.valid_before
    }

    /// The `PAYMENT-SIGNATURE` value, the same on every resend.
    pub fn header_value(&self) -> &str {
        &self.header
    }

    /// The ledger row reserved for it.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// The amount signed for.
    pub fn amount(&self) -> Usdc {
        self.amount
    }

    /// The authorization's nonce (`0x` + 64 hex digits).
    pub fn nonce(&self) -> &str {
        &self.nonce
    }
}

/// How BlockRun answered a paid request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaidAnswer<'a> {
    /// Any answer but 402: the payment went through.
    Answered,
    /// 402 again, with its `PAYMENT-REQUIRED` value when present.
    PaymentRequired(Option<&'a str>),
    /// No answer (connection lost, timeout): the payment may have been taken.
    NoAnswer,
}

/// Direct mode's payer: the key, the policy and the ledger.
#[derive(Debug)]
pub struct Payer {
    key: SecretKey,
    from: [u8; 20],
    policy: Policy,
    ledger: Mutex<Ledger>,
}

impl Payer {
    /// A payer signing with `key`, agreeing to `policy`, recording into `ledger`.
    /// It pays on Base only: `policy.solana` is cleared (the Solana payer is not wired yet).
    pub fn new(key: SecretKey, mut policy: Policy, ledger: Ledger) -> Result<Payer, PayError> {
        policy.solana = false;
        let address = address_from_key(&key).map_err(|_| PayError::Address)?;
        let from = evm::parse_address(&address).ok_or(PayError::Address)?;
        Ok(Payer {
            key,
            from,
            policy,
            ledger: Mutex::new(ledger),
        })
    }

    /// The address paid from (EIP-55).
    pub fn address(&self) -> String {
        to_checksum_address(&self.from)
    }

    /// Pays for the request a 402 answered: reads `payment_required` (the header's value,
    /// `None` when absent), picks the offer the policy accepts, reserves it in the ledger
    /// against the caps, and signs it. `now` is unix seconds.
    pub fn pay(
        &self,
        payment_required: Option<&str>,
        context: &PaymentContext<'_>,
        now: u64,
    ) -> Result<PaidAttempt, PayError> {
        let required = x402::parse_payment_required(payment_required.ok_or(X402Error::Missing)?)?;
        self.pay_required(&required, context, now)
    }

    /// Pays `required` (a parsed `PAYMENT-REQUIRED`: a 402's, or one kept from an earlier 402
    /// to sign ahead with), as [`Payer::pay`] does.
    pub fn pay_required(
        &self,
        required: &x402::PaymentRequired,
        context: &PaymentContext<'_>,
        now: u64,
    ) -> Result<PaidAttempt, PayError> {
        let accepted = self.policy.choose(&required.offers)?;
        let Payee::Base(pay_to) = accepted.payee else {
            // Not reached: `new` clears `policy.solana`.
            return Err(
                Refusal::SolanaNotEnabled(crate::excerpt::quoted(&accepted.offer.network)).into(),
            );
        };
        let authorization = Authorization {
            from: self.from,
            to: pay_to,
            value: accepted.amount.0,
            valid_after: now.saturating_sub(VALID_AFTER_SLACK_SECS),
            valid_before: now.saturating_add(accepted.validity_secs),
            nonce: evm::random_nonce()?,
        };
        let nonce = hex(&authorization.nonce);
        let payment = NewPayment {
            ts: i64::try_from(now).unwrap_or(i64::MAX),
            model: context.model.to_owned(),
            amount: accepted.amount,
            nonce: nonce.clone(),
            chain: accepted.offer.network.clone(),
            payee: to_checksum_address(&pay_to),
            request_id: context.request_id.map(str::to_owned),
            thread_id: context.thread_id.map(str::to_owned),
        };
        let mut ledger = self.ledger.lock().map_err(|_| PayError::Poisoned)?;
        let id = ledger.reserve(&payment, &self.policy.caps)?;
        let signature = match authorization.sign(&self.key) {
            Ok(signature) => signature,
            Err(e) => {
                // Never sent: it does not count against the caps.
                let _ = ledger.mark(id, Outcome::Refused);
                return Err(e.into());
            }
        };
        Ok(PaidAttempt {
            header: x402::payment_signature(required, accepted.offer, &authorization, &signature),
            id,
            amount: accepted.amount,
            nonce,
            model: context.model.to_owned(),
            valid_before: authorization.valid_before,
        })
    }

    /// The amount paying `required` would sign for (the offer the policy accepts), or why it
    /// would be refused. Nothing is signed or recorded.
    pub fn amount_for(&self, required: &x402::PaymentRequired) -> Result<Usdc, PayError> {
        Ok(self.policy.choose(&required.offers)?.amount)
    }

    /// Records how BlockRun answered `attempt`. A 402 marks it `refused` and is
    /// [`PayError::PaymentRefused`]: the request stops there, nothing is signed again. No
    /// answer marks it `unknown` (it still counts against the caps); the attempt may be resent.
    pub fn settle(&self, attempt: &PaidAttempt, answer: PaidAnswer<'_>) -> Result<(), PayError> {
        let mut ledger = self.ledger.lock().map_err(|_| PayError::Poisoned)?;
        match answer {
            PaidAnswer::Answered => Ok(ledger.mark(attempt.id, Outcome::Answered)?),
            PaidAnswer::NoAnswer => Ok(ledger.mark(attempt.id, Outcome::Unknown)?),
            PaidAnswer::PaymentRequired(header) => {
                ledger.mark(attempt.id, Outcome::Refused)?;
                let reason = header
                    .and_then(|h| x402::parse_payment_required(h).ok())
                    .and_then(|r| r.error)
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default();
                Err(PayError::PaymentRefused {
                    amount: attempt.amount,
                    model: crate::excerpt::quoted(&attempt.model),
                    from: self.address(),
                    reason,
                })
            }
        }
    }

    /// Runs `f` on the ledger (sums, reports).
    pub fn with_ledger<T>(
        &self,
        f: impl FnOnce(&mut Ledger) -> Result<T, LedgerError>,
    ) -> Result<T, PayError> {
        let mut ledger = self.ledger.lock().map_err(|_| PayError::Poisoned)?;
        Ok(f(&mut ledger)?)
    }
}

#[cfg(test)]
mod tests;
