//! One paid call to BlockRun, over the bridge's pooled upstream client.
//!
//! For each pick of the router (cheapest first):
//! 1. **A payment to start with**, if one is safe. The unsettled payment of this very request
//!    (same translated body, same model) whose call failed earlier: Codex retries a failed
//!    turn with the same body, and the retry resends the same body with the same signed
//!    authorization (same nonce, collectable once), never a second one. Else, when an earlier
//!    402 for this model is known, a payment signed ahead for the amount it asked, the output
//!    budget lowered just enough for this call's quote to stay within it (as BlockRun's SDK
//!    does, signing from the cached requirements), so a turn costs one round trip. The body
//!    then gets its `model` and `max_tokens`.
//! 2. **Send.** A 402 to an unpaid call: pay what it asks (the policy and the caps decide,
//!    `crate::payments`), resend. A 402 to a payment signed ahead: that payment was not taken;
//!    ask again unpaid for the canonical requirements (the refusal is not a fresh challenge),
//!    and sign nothing ahead for that model for a while. A 402 to any other payment: stop,
//!    with BlockRun's reason — nothing is signed again.
//! 3. **The answer.** 2xx: the payment went through (ledger `answered`, cost log). Any other
//!    answer or none after paying: the payment may not have been settled; it is kept for the
//!    request's retry and counts as `unknown` against the caps. A payment is kept for the retry
//!    from the moment it is sent, so a request dropped on the way (Codex hung up) leaves it too.
//!
//! A pick that failed before any payment was accepted (connection refused, an error answer to
//! the unpaid call, a quote above the per-request cap) passes to the next pick; once a payment
//! was made, the request never goes to another model.

use std::sync::Arc;

use bytes::Bytes;

use super::routing::Pick;
use super::{body, Billing, Direct, Routed};
use crate::clock::unix_now;
use crate::metrics::Measures;
use crate::payments::ledger::{NewPayment, Outcome};
use crate::payments::policy::{Refusal, Usdc};
use crate::payments::x402::{self, PAYMENT_SIGNATURE};
use crate::payments::{PaidAnswer, PaidAttempt, PayError, PaymentContext};
use crate::translate::ids::new_id;
use crate::translate::upstream_error::{self, ClientFailure, FailureKind};
use crate::upstream_client::{OpenResponse, TransportError, UpstreamClient, UpstreamReply};

/// Most unpaid sends of one pick (the first, and one more after a signed-ahead payment was
/// refused).
const MAX_UNPAID_SENDS: u32 = 2;

/// Bytes the body may grow by when its `model` and `max_tokens` are set (priced in).
const EDIT_ALLOWANCE: usize = 32;

/// Which request a payment is for: the fingerprint it is found by, and the translated body
/// (before the pick's edits) it must equal — a retry of the request sends the same body.
#[derive(Debug, Clone)]
pub struct RequestKey {
    /// The fingerprint of the body and the model (or endpoint).
    pub fingerprint: u64,
    /// The translated body (a reference, not a copy).
    pub original: Bytes,
}

/// Why a call gave no answer to relay.
#[derive(Debug)]
pub enum CallFailure {
    /// No answer from BlockRun (as for any upstream).
    Transport(TransportError),
    /// Refused by the bridge (caps, an offer it does not accept) or by BlockRun's payment
    /// check: the message Codex shows.
    Refused(ClientFailure),
}

/// What a call is for: the router's decision and Codex's thread.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The router's picks for this request.
    pub routed: &'a Routed,
    /// Codex's thread id (`direct.max_per_thread_usd`, the ledger).
    pub thread: Option<&'a str>,
}

/// How a payment came to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Paid for the 402 this call got.
    Asked,
    /// Signed ahead from an earlier 402's requirements.
    Ahead,
    /// The unsettled payment of this request's earlier, failed call.
    Reused,
}

/// The outcome of one pick.
struct Attempted {
    result: Result<OpenResponse, CallFailure>,
    /// A payment was sent: the request stays with this model.
    paid: bool,
}

impl Direct {
    /// Sends a Chat request (`body` as translated, naming `call.routed.requested`) to the
    /// router's picks in turn, paying as the module docs say. `Ok` is BlockRun's answer (any
    /// status but 402), to be relayed like any upstream's.
    pub async fn open(
        &self,
        client: &UpstreamClient,
        headers: &[(&str, &str)],
        body: &Bytes,
        call: &Call<'_>,
        measures: &mut Measures,
    ) -> Result<OpenResponse, CallFailure> {
        let picks = match &call.routed.picks {
            Ok(picks) => picks,
            Err(no_fit) => {
                return Err(CallFailure::Refused(refusal(
                    FailureKind::SpendingCap,
                    format!(
                        "{no_fit}. Nothing was paid. Raise direct.max_per_request_usd \
                         (env DIRECT_MAX_PER_REQUEST_USD, now {}) or pick another model.",
                        self.settings.caps.per_request
                    ),
                )))
            }
        };
        let request_id = new_id("pay_");
        let path = client.upstream().chat_path();
        let mut first_refusal = None;
        for (index, pick) in picks.iter().enumerate() {
            let last = index + 1 == picks.len();
            let context = PaymentContext {
                model: &pick.model,
                request_id: Some(&request_id),
                thread_id: call.thread,
            };
            // The request as translated (before this pick's edits) and the model identify it:
            // a retry of it finds its unsettled payment, and the body that payment was for.
            let key = self.request_key(&pick.model, body);
            let (body, first) = match self.take_unsettled(&key) {
                Some((payment, sent)) => {
                    log::info!(
                        "direct: resending the unsettled payment {} (nonce {}) with this retry",
                        payment.amount(),
                        payment.nonce()
                    );
                    (sent, Some((payment, Origin::Reused)))
                }
                None => {
                    let blockhash = self.ahead_blockhash(&pick.model).await;
                    let ahead = self.sign_ahead_for(pick, body.len(), &context, blockhash);
                    let max_tokens = ahead.as_ref().map_or(pick.max_tokens, |(m, _)| *m);
                    let edited = body::for_pick(
                        body,
                        &call.routed.requested,
                        call.routed.asked_max,
                        &pick.model,
                        max_tokens,
                    );
                    match edited {
                        Ok(edited) => (
                            Bytes::from(edited),
                            ahead.map(|(_, payment)| (payment, Origin::Ahead)),
                        ),
                        Err(detail) => {
                            return Err(CallFailure::Refused(upstream_error::bridge_bug(&detail)))
                        }
                    }
                }
            };
            measures.routed_model = Some(pick.model.clone());
            let attempted = self
                .call_pick(
                    client, &path, headers, body, &key, first, pick, &context, measures,
                )
                .await;
            let failed_unpaid = !attempted.paid
                && match &attempted.result {
                    Ok(open) => open.status >= 400,
                    Err(CallFailure::Transport(_)) => true,
                    Err(CallFailure::Refused(failure)) => failure.kind == FailureKind::SpendingCap,
                };
            if failed_unpaid && !last {
                log::warn!(
                    "direct: {} failed before any payment ({}); trying {}",
                    pick.model,
                    describe(&attempted.result),
                    picks[index + 1].model
                );
                match attempted.result {
                    Ok(open) => client.drain_and_release(open).await,
                    Err(CallFailure::Refused(failure)) if first_refusal.is_none() => {
                        first_refusal = Some(failure);
                    }
                    Err(_) => {}
                }
                continue;
            }
            // Every pick refused by a cap: the cheapest one's reason is the one to show.
            if let (true, Err(CallFailure::Refused(_)), Some(first)) =
                (failed_unpaid, &attempted.result, first_refusal)
            {
                return Err(CallFailure::Refused(first));
            }
            return attempted.result;
        }
        Err(CallFailure::Refused(upstream_error::bridge_bug(
            "the router gave no model to call",
        )))
    }

    /// A paid request whose whole answer is read (web search: `POST {api}/v1/exa/search`):
    /// the same payment loop, under the ledger name `label`. Returns the answer and what
    /// was paid for it.
    pub async fn send(
        &self,
        client: &UpstreamClient,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        label: &str,
        thread: Option<&str>,
    ) -> Result<(UpstreamReply, Option<Usdc>), CallFailure> {
        let request_id = new_id("pay_");
        let context = PaymentContext {
            model: label,
            request_id: Some(&request_id),
            thread_id: thread,
        };
        let pick = Pick {
            model: label.to_owned(),
            max_tokens: 0,
            quote: None,
        };
        let mut measures = Measures::default();
        let key = self.request_key(label, &body);
        let first = self
            .take_unsettled(&key)
            .map(|(payment, _)| (payment, Origin::Reused));
        let attempted = self
            .call_pick(
                client,
                path,
                headers,
                body,
                &key,
                first,
                &pick,
                &context,
                &mut measures,
            )
            .await;
        let open = attempted.result?;
        let status = open.status;
        let error_headers = open.error_headers.clone();
        let body = client
            .read_all(open)
            .await
            .map_err(CallFailure::Transport)?;
        let reply = UpstreamReply {
            status,
            error_headers,
            body,
        };
        Ok((reply, measures.paid))
    }

    /// One pick: the payment loop of the module docs.
    #[allow(clippy::too_many_arguments)]
    async fn call_pick(
        &self,
        client: &UpstreamClient,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        key: &RequestKey,
        mut attempt: Option<(Arc<PaidAttempt>, Origin)>,
        pick: &Pick,
        context: &PaymentContext<'_>,
        measures: &mut Measures,
    ) -> Attempted {
        let key_row = match self.reserve_for_api_key(pick, context) {
            Ok(row) => row,
            Err(failure) => {
                return Attempted {
                    result: Err(CallFailure::Refused(failure)),
                    paid: false,
                }
            }
        };
        let mut paid = attempt.is_some();
        let mut unpaid_sends = 0;
        loop {
            let mut all_headers: Vec<(&str, &str)> = headers.to_vec();
            if let Some((payment, _)) = &attempt {
                all_headers.push((PAYMENT_SIGNATURE, payment.header_value()));
                // Kept before it is sent: should this request be dropped on the way (Codex
                // hung up, its retry comes), the retry finds the payment and resends it.
                self.keep_unsettled(key, payment.clone(), body.clone());
            } else {
                unpaid_sends += 1;
            }
            let opened = client
                .open("POST", path, &all_headers, Some(body.clone()))
                .await;
            let open = match opened {
                Ok(open) => open,
                Err(error) => {
                    if let Some((payment, _)) = attempt {
                        self.settle(&payment, PaidAnswer::NoAnswer);
                    }
                    self.mark_api_key(key_row, Outcome::Unknown);
                    return Attempted {
                        result: Err(CallFailure::Transport(error)),
                        paid,
                    };
                }
            };
            if open.status != 402 {
                if let Some((payment, _)) = &attempt {
                    if (200..300).contains(&open.status) {
                        self.forget_unsettled(key);
                        self.settle(payment, PaidAnswer::Answered);
                        self.paid(&pick.model, payment.amount(), measures);
                    } else {
                        // x402 settles only a successful answer; not knowing, count it and
                        // keep it for the retry (which must not pay again).
                        self.settle(payment, PaidAnswer::NoAnswer);
                    }
                }
                if let Some(row) = key_row {
                    let (outcome, cost) = if (200..300).contains(&open.status) {
                        (Outcome::Answered, pick.quote)
                    } else {
                        (Outcome::Refused, None)
                    };
                    self.mark_api_key(Some(row), outcome);
                    if let Some(cost) = cost {
                        self.paid(&pick.model, cost, measures);
                    }
                }
                return Attempted {
                    result: Ok(open),
                    paid,
                };
            }
            let required_header = open.payment_required.clone();
            client.drain_and_release(open).await;
            // Refused: not collected, and never to be resent.
            self.forget_unsettled(key);
            let refused = |failure| Attempted {
                result: Err(CallFailure::Refused(failure)),
                paid,
            };
            if key_row.is_some() {
                self.mark_api_key(key_row, Outcome::Refused);
                return refused(refusal(
                    FailureKind::Payment,
                    "BlockRun answered 402 Payment Required to the request made with the \
                     BlockRun API key (direct.auth: api_key): the key is not accepted or its \
                     balance is used up; check it at blockrun.ai. Nothing was signed."
                        .to_owned(),
                ));
            }
            let Billing::Wallet(payer) = &self.billing else {
                return refused(upstream_error::bridge_bug("no payer for a wallet call"));
            };
            match attempt.take() {
                Some((payment, Origin::Ahead)) => {
                    // Not taken: BlockRun refused it. Ask again without a payment for the
                    // canonical requirements.
                    log::info!(
                        "direct: BlockRun refused the payment signed ahead for {} ({}); asking \
                         for this call's price",
                        pick.model,
                        payment.amount()
                    );
                    let _ = payer.settle(&payment, PaidAnswer::PaymentRequired(None));
                    self.ahead_refused(&pick.model);
                    paid = false;
                }
                Some((payment, _)) => {
                    let failure = match payer.settle(
                        &payment,
                        PaidAnswer::PaymentRequired(required_header.as_deref()),
                    ) {
                        Err(e) => pay_failure(&e),
                        Ok(()) => upstream_error::bridge_bug("a refused payment was accepted"),
                    };
                    return refused(failure);
                }
                None if unpaid_sends > MAX_UNPAID_SENDS => {
                    return refused(upstream_error::garbage(
                        &client.upstream().url,
                        "it kept answering 402 Payment Required",
                    ));
                }
                None => {
                    let parsed = required_header
                        .as_deref()
                        .map(x402::parse_payment_required)
                        .transpose();
                    let required = match parsed {
                        Ok(Some(required)) => required,
                        Ok(None) => {
                            return refused(pay_failure(&PayError::Request(
                                x402::X402Error::Missing,
                            )))
                        }
                        Err(e) => return refused(pay_failure(&PayError::Request(e))),
                    };
                    // Refusals first (no RPC call for an offer that will not be paid).
                    if let Err(e) = payer.amount_for(&required) {
                        return refused(pay_failure(&e));
                    }
                    let blockhash = match self.payment_blockhash().await {
                        Ok(blockhash) => blockhash,
                        Err(e) => {
                            return refused(refusal(
                                FailureKind::Payment,
                                format!("direct mode: {e}; nothing was paid"),
                            ))
                        }
                    };
                    match payer.pay_required_with(&required, context, unix_now(), blockhash) {
                        Ok(payment) => {
                            log::info!(
                                "direct: paying {} for {} (nonce {})",
                                payment.amount(),
                                pick.model,
                                payment.nonce()
                            );
                            self.remember_requirements(&pick.model, required);
                            attempt = Some((Arc::new(payment), Origin::Asked));
                            paid = true;
                        }
                        Err(e) => return refused(pay_failure(&e)),
                    }
                }
            }
        }
    }

    /// A payment signed ahead for `pick` (wallet billing, an earlier 402 for its model known):
    /// for the amount that 402 asked, with the output budget lowered as far as needed for this
    /// call's quote to stay within it — BlockRun prices each call, and a payment below the
    /// price is refused — and never below `direct.min_output_tokens`. `None`: send unpaid.
    fn sign_ahead_for(
        &self,
        pick: &Pick,
        body_len: usize,
        context: &PaymentContext<'_>,
        blockhash: Option<[u8; 32]>,
    ) -> Option<(u64, Arc<PaidAttempt>)> {
        let Billing::Wallet(payer) = &self.billing else {
            return None;
        };
        let required = self.requirements(&pick.model)?;
        // A seller memo (Solana `extra.memo`) binds the one request it was issued for: a
        // payment for another request cannot reuse it, so nothing is signed ahead with it.
        let bound = required.offers.iter().any(|offer| {
            crate::payments::svm::seller_memo(offer.extra.as_ref().and_then(|e| e.memo.as_ref()))
                .is_some()
        });
        if bound {
            return None;
        }
        let amount = payer.amount_for(&required).ok()?;
        let model = self.catalog.cached_model(&pick.model)?;
        // Priced on the body as it will be sent: with this pick's `model` and `max_tokens`.
        let sent_len = body_len + EDIT_ALLOWANCE + pick.model.len();
        let within = super::pricing::budget_within(&model, sent_len, amount)?;
        let max_tokens = within.min(pick.max_tokens);
        let floor = self
            .settings
            .min_output_tokens
            .min(model.max_output.unwrap_or(u64::MAX));
        if max_tokens < floor {
            return None;
        }
        // Its own request id: should BlockRun refuse it (not taken), the request may still pay
        // once through the 402 — the ledger lets each request id pay once.
        let ahead_id = context.request_id.map(|id| format!("{id}/ahead"));
        let ahead = PaymentContext {
            request_id: ahead_id.as_deref(),
            ..*context
        };
        match payer.pay_required_with(&required, &ahead, unix_now(), blockhash) {
            Ok(payment) => Some((max_tokens, Arc::new(payment))),
            Err(e) => {
                log::debug!("direct: not signing ahead for {}: {e}", pick.model);
                None
            }
        }
    }

    /// On Solana, the recent blockhash a payment is built on (cached 10 s by the RPC
    /// client); `None` on Base, which needs none.
    async fn payment_blockhash(&self) -> Result<Option<[u8; 32]>, String> {
        match &self.solana_rpc {
            Some(rpc) => rpc.latest_blockhash().await.map(Some),
            None => Ok(None),
        }
    }

    /// Signing ahead on Solana: a blockhash when there are requirements to sign ahead with
    /// (no RPC call otherwise). A failed fetch only means sending unpaid first.
    ///
    /// Signing ahead is as safe on Solana as on Base: the blockhash is at most
    /// [`super::solana_rpc::BLOCKHASH_TTL`] old, so the transaction has most of a minute to
    /// be collected, and one BlockRun refuses (an expired blockhash included) is settled as
    /// refused and followed by the 402 path, exactly as an underpriced one on Base.
    async fn ahead_blockhash(&self, model: &str) -> Option<[u8; 32]> {
        let rpc = self.solana_rpc.as_ref()?;
        self.requirements(model)?;
        match rpc.latest_blockhash().await {
            Ok(hash) => Some(hash),
            Err(e) => {
                log::debug!("direct: not signing ahead for {model}: {e}");
                None
            }
        }
    }

    fn settle(&self, payment: &PaidAttempt, answer: PaidAnswer<'_>) {
        if let Billing::Wallet(payer) = &self.billing {
            if let Err(e) = payer.settle(payment, answer) {
                log::error!("direct: the ledger could not record a payment's outcome: {e}");
            }
        }
    }

    /// API-key billing: the pick's estimated cost reserved against the caps before the call.
    fn reserve_for_api_key(
        &self,
        pick: &Pick,
        context: &PaymentContext<'_>,
    ) -> Result<Option<i64>, ClientFailure> {
        let Billing::ApiKey(ledger) = &self.billing else {
            return Ok(None);
        };
        let amount = pick.quote.unwrap_or(Usdc(super::pricing::MIN_CHARGE));
        if amount.0 > self.settings.caps.per_request.0 {
            return Err(pay_failure(&PayError::Refused(Refusal::OverRequestCap {
                asked: amount,
                cap: self.settings.caps.per_request,
            })));
        }
        let payment = NewPayment {
            ts: crate::clock::unix_now_i64(),
            model: context.model.to_owned(),
            amount,
            nonce: new_id("apikey_"),
            chain: "api-key".to_owned(),
            payee: "BlockRun".to_owned(),
            request_id: context.request_id.map(str::to_owned),
            thread_id: context.thread_id.map(str::to_owned),
        };
        let mut ledger = ledger
            .lock()
            .map_err(|_| pay_failure(&PayError::Poisoned))?;
        ledger
            .reserve(&payment, &self.settings.caps)
            .map(Some)
            .map_err(|e| pay_failure(&PayError::from(e)))
    }

    fn mark_api_key(&self, row: Option<i64>, outcome: Outcome) {
        if let (Some(row), Billing::ApiKey(ledger)) = (row, &self.billing) {
            if let Ok(mut ledger) = ledger.lock() {
                if let Err(e) = ledger.mark(row, outcome) {
                    log::error!("direct: the ledger could not record a call's outcome: {e}");
                }
            }
        }
    }

    fn paid(&self, model: &str, amount: Usdc, measures: &mut Measures) {
        measures.add_paid(amount);
        self.record_cost(model, amount);
    }
}

/// What Codex is told when a payment was refused or failed (fatal: retrying cannot help).
fn pay_failure(error: &PayError) -> ClientFailure {
    let kind = match error {
        PayError::Refused(
            Refusal::OverRequestCap { .. }
            | Refusal::OverDayCap { .. }
            | Refusal::OverThreadCap { .. },
        ) => FailureKind::SpendingCap,
        _ => FailureKind::Payment,
    };
    refusal(kind, format!("direct mode: {error}"))
}

fn refusal(kind: FailureKind, message: String) -> ClientFailure {
    ClientFailure {
        kind,
        upstream_status: None,
        message,
        retry_after_secs: None,
    }
}

fn describe(result: &Result<OpenResponse, CallFailure>) -> String {
    match result {
        Ok(open) => format!("HTTP {}", open.status),
        Err(CallFailure::Transport(e)) => e.to_string(),
        Err(CallFailure::Refused(failure)) => failure.message.clone(),
    }
}
