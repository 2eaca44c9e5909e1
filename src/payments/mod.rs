//! `payments`: direct mode's payment core (issues #16, #17): the bridge pays BlockRun itself, in
//! USDC on Base or on Solana, through x402 version 2, instead of going through ClawRouter. No
//! Pingora types and no I/O besides the ledger: a Solana payment's recent blockhash is fetched
//! by the caller (`direct::solana_rpc`) and passed in.
//!
//! - [`x402`]: the `PAYMENT-REQUIRED` / `PAYMENT-SIGNATURE` headers.
//! - [`policy`]: which offers are accepted and the per-request cap.
//! - [`evm`]: the EIP-3009 authorization, its EIP-712 digest and signature.
//! - [`svm`]: the Solana USDC transfer transaction (issue #17: [`Payer::solana`]).
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
use crate::funding::Chain;
use crate::keys::solana::SolanaKeypair;
use evm::{hex, Authorization, EvmError};
use ledger::{Ledger, LedgerError, NewPayment, Outcome};
use policy::{Accepted, Payee, Policy, Refusal, Usdc};
use svm::SvmError;
use x402::X402Error;

/// How far back `validAfter` is set, against clock skew between us and the chain.
pub const VALID_AFTER_SLACK_SECS: u64 = 600;
/// How long a Solana payment is taken to stay collectable: its blockhash expires about 150
/// slots (60–90 s) after it was produced, and it may be up to 10 s old when fetched.
pub const SOLANA_VALIDITY_SECS: u64 = 60;

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
    #[error("BlockRun refused the payment of {amount} for {model} from {from} (it answered 402 Payment Required again{reason}); nothing more is paid for this request; check that address's USDC balance on {chain}")]
    PaymentRefused {
        /// The amount offered.
        amount: Usdc,
        /// The model paid for.
        model: String,
        /// Our address.
        from: String,
        /// `: <BlockRun's reason>` when it gave one, else empty.
        reason: String,
        /// The chain paid on (`Base`, `Solana`).
        chain: &'static str,
    },
    /// A Solana payment was asked for without a recent blockhash (a bug of the caller).
    #[error("a Solana payment needs a recent blockhash and none was fetched; nothing was paid")]
    NoBlockhash,
    /// The Solana transaction could not be built or signed.
    #[error(transparent)]
    Svm(#[from] SvmError),
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

    /// The authorization's nonce (`0x` + 64 hex digits) on Base; the transaction signature
    /// (base58) on Solana.
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

/// The key a payer signs with, which fixes the chain it pays on.
#[derive(Debug)]
enum Signer {
    /// EIP-3009 on Base: the EVM key and its address.
    Base { key: SecretKey, from: [u8; 20] },
    /// The `exact` SVM transaction on Solana.
    Solana(SolanaKeypair),
}

/// Direct mode's payer: the key (one chain), the policy and the ledger.
#[derive(Debug)]
pub struct Payer {
    signer: Signer,
    policy: Policy,
    ledger: Mutex<Ledger>,
}

impl Payer {
    /// A payer on Base signing with `key`, agreeing to `policy`, recording into `ledger`.
    /// Solana offers are refused (`policy.solana` is cleared).
    pub fn new(key: SecretKey, mut policy: Policy, ledger: Ledger) -> Result<Payer, PayError> {
        policy.solana = false;
        let address = address_from_key(&key).map_err(|_| PayError::Address)?;
        let from = evm::parse_address(&address).ok_or(PayError::Address)?;
        Ok(Payer {
            signer: Signer::Base { key, from },
            policy,
            ledger: Mutex::new(ledger),
        })
    }

    /// A payer on Solana signing with `keypair` (`policy.solana` is set). It pays Solana offers
    /// only: a 402 offering only Base is refused ([`Refusal::ChainNotOffered`]), since the
    /// user chose to pay from the Solana wallet.
    pub fn solana(keypair: SolanaKeypair, mut policy: Policy, ledger: Ledger) -> Payer {
        policy.solana = true;
        Payer {
            signer: Signer::Solana(keypair),
            policy,
            ledger: Mutex::new(ledger),
        }
    }

    /// The chain paid on.
    pub fn chain(&self) -> Chain {
        match self.signer {
            Signer::Base { .. } => Chain::Base,
            Signer::Solana(_) => Chain::Solana,
        }
    }

    /// The address paid from (EIP-55 on Base, base58 on Solana).
    pub fn address(&self) -> String {
        match &self.signer {
            Signer::Base { from, .. } => to_checksum_address(from),
            Signer::Solana(keypair) => keypair.address(),
        }
    }

    /// Pays for the request a 402 answered: reads `payment_required` (the header's value,
    /// `None` when absent), picks the offer the policy accepts, reserves it in the ledger
    /// against the caps, and signs it. `now` is unix seconds. On Solana use
    /// [`Payer::pay_required_with`], which takes the recent blockhash.
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
    /// to sign ahead with), as [`Payer::pay`] does, without a recent blockhash (Base).
    pub fn pay_required(
        &self,
        required: &x402::PaymentRequired,
        context: &PaymentContext<'_>,
        now: u64,
    ) -> Result<PaidAttempt, PayError> {
        self.pay_required_with(required, context, now, None)
    }

    /// [`Payer::pay_required`] with, on Solana, the `recent_blockhash` the transaction lives
    /// by (the caller fetched it: this core does no network I/O). Each Solana payment carries
    /// a fresh random memo, so two identical payments within one blockhash differ.
    pub fn pay_required_with(
        &self,
        required: &x402::PaymentRequired,
        context: &PaymentContext<'_>,
        now: u64,
        recent_blockhash: Option<[u8; 32]>,
    ) -> Result<PaidAttempt, PayError> {
        let accepted = self.choose(&required.offers)?;
        match (&self.signer, accepted.payee) {
            (Signer::Base { key, from }, Payee::Base(pay_to)) => {
                self.pay_base(required, &accepted, context, now, key, *from, pay_to)
            }
            (Signer::Solana(keypair), Payee::Solana { pay_to, fee_payer }) => {
                let recent_blockhash = recent_blockhash.ok_or(PayError::NoBlockhash)?;
                let transfer = svm::Transfer {
                    fee_payer,
                    owner: keypair.public_key(),
                    pay_to,
                    amount: accepted.amount.0,
                    recent_blockhash,
                    memo: svm::random_memo()?,
                };
                self.pay_solana(required, &accepted, context, now, keypair, &transfer)
            }
            // Not reached: `choose` keeps to the signer's chain.
            _ => Err(Refusal::ChainNotOffered {
                chain: self.chain().name(),
                offered: crate::excerpt::quoted(&accepted.offer.network),
            }
            .into()),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn pay_base(
        &self,
        required: &x402::PaymentRequired,
        accepted: &Accepted<'_>,
        context: &PaymentContext<'_>,
        now: u64,
        key: &SecretKey,
        from: [u8; 20],
        pay_to: [u8; 20],
    ) -> Result<PaidAttempt, PayError> {
        let authorization = Authorization {
            from,
            to: pay_to,
            value: accepted.amount.0,
            valid_after: now.saturating_sub(VALID_AFTER_SLACK_SECS),
            valid_before: now.saturating_add(accepted.validity_secs),
            nonce: evm::random_nonce()?,
        };
        let nonce = hex(&authorization.nonce);
        let payment = self.new_payment(
            accepted,
            context,
            now,
            nonce.clone(),
            to_checksum_address(&pay_to),
        );
        let mut ledger = self.ledger.lock().map_err(|_| PayError::Poisoned)?;
        let id = ledger.reserve(&payment, &self.policy.caps)?;
        let signature = match authorization.sign(key) {
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

    /// Reserves, then signs: the ledger row holds the memo until the transaction signature,
    /// which only signing gives, replaces it.
    fn pay_solana(
        &self,
        required: &x402::PaymentRequired,
        accepted: &Accepted<'_>,
        context: &PaymentContext<'_>,
        now: u64,
        keypair: &SolanaKeypair,
        transfer: &svm::Transfer,
    ) -> Result<PaidAttempt, PayError> {
        let seller_memo =
            svm::seller_memo(accepted.offer.extra.as_ref().and_then(|e| e.memo.as_ref()));
        // Checked before anything is recorded: an offer naming our own address as payee or
        // fee payer is refused, not reserved.
        transfer.message_with(seller_memo)?;
        let pending = format!("solana-pending:{}", hex(&transfer.memo));
        let payment = self.new_payment(
            accepted,
            context,
            now,
            pending,
            accepted.offer.pay_to.clone(),
        );
        let mut ledger = self.ledger.lock().map_err(|_| PayError::Poisoned)?;
        let id = ledger.reserve(&payment, &self.policy.caps)?;
        let (transaction, signature) = match transfer.signed_with(keypair, seller_memo) {
            Ok(signed) => signed,
            Err(e) => {
                let _ = ledger.mark(id, Outcome::Refused);
                return Err(e.into());
            }
        };
        if let Err(e) = ledger.set_nonce(id, &signature) {
            // Not sent (for example the very transaction of an earlier payment, which the
            // ledger's unique nonce refuses): it does not count against the caps.
            let _ = ledger.mark(id, Outcome::Refused);
            return Err(e.into());
        }
        Ok(PaidAttempt {
            header: x402::svm_payment_signature(required, accepted.offer, &transaction),
            id,
            amount: accepted.amount,
            nonce: signature,
            model: context.model.to_owned(),
            // A blockhash stays usable for about 150 slots (60–90 s) after it was produced.
            valid_before: now.saturating_add(accepted.validity_secs.min(SOLANA_VALIDITY_SECS)),
        })
    }

    fn new_payment(
        &self,
        accepted: &Accepted<'_>,
        context: &PaymentContext<'_>,
        now: u64,
        nonce: String,
        payee: String,
    ) -> NewPayment {
        NewPayment {
            ts: i64::try_from(now).unwrap_or(i64::MAX),
            model: context.model.to_owned(),
            amount: accepted.amount,
            nonce,
            chain: accepted.offer.network.clone(),
            payee,
            request_id: context.request_id.map(str::to_owned),
            thread_id: context.thread_id.map(str::to_owned),
        }
    }

    /// The offer this payer takes: on Base the policy's choice among all offers (Solana ones
    /// are refused); on Solana the first acceptable `solana:` offer, whatever comes before it.
    fn choose<'a>(&self, offers: &'a [x402::Offer]) -> Result<Accepted<'a>, Refusal> {
        if let Signer::Base { .. } = self.signer {
            return self.policy.choose(offers);
        }
        let mut first_refusal = None;
        for offer in offers.iter().filter(|o| o.network.starts_with("solana:")) {
            match self.policy.check(offer) {
                Ok(accepted) => return Ok(accepted),
                Err(refusal) => {
                    first_refusal.get_or_insert(refusal);
                }
            }
        }
        Err(first_refusal.unwrap_or_else(|| Refusal::ChainNotOffered {
            chain: Chain::Solana.name(),
            offered: offers
                .iter()
                .map(|o| crate::excerpt::quoted(&o.network))
                .collect::<Vec<_>>()
                .join(", "),
        }))
    }

    /// The amount paying `required` would sign for (the offer this payer takes), or why it
    /// would be refused. Nothing is signed or recorded.
    pub fn amount_for(&self, required: &x402::PaymentRequired) -> Result<Usdc, PayError> {
        Ok(self.choose(&required.offers)?.amount)
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
                    chain: self.chain().name(),
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
