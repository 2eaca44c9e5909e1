//! `payments`: direct mode's payment core (issue #16): the bridge pays BlockRun itself, in USDC
//! on Base, through x402 version 2, instead of going through ClawRouter. No Pingora types and
//! no I/O besides the ledger; not wired into the proxy yet (`upstream.kind: direct` will).
//!
//! - [`x402`]: the `PAYMENT-REQUIRED` / `PAYMENT-SIGNATURE` headers.
//! - [`policy`]: which offers are accepted and the per-request cap.
//! - [`evm`]: the EIP-3009 authorization, its EIP-712 digest and signature.
//! - [`ledger`]: every payment in SQLite; the daily and per-thread caps, enforced atomically.

pub mod evm;
pub mod ledger;
pub mod policy;
pub mod x402;
