//! What Codex must be told when the upstream fails.
//!
//! Codex (0.169 and 0.171 alike) decides between "stop at once", "retry after a delay" and
//! "retry with backoff" from the *shape* of a failure, not from its text (docs/codex-wire.md §4, §5,
//! §9). This module maps every way the upstream can fail — an HTTP error status with a JSON or
//! plain-text body, a refused or reset connection, a time-out, a body that is not a chat
//! completion — to a [`ClientFailure`]: a kind, a message for the user, and the code or status
//! that carries it.
//! The proxy layer only writes what this decides. A streaming answer has already started when
//! the upstream fails (the bridge commits the stream at once so it can send keep-alives), so
//! streaming clients always get `response.failed`; `stream:false` clients get an HTTP error.
//!
//! | upstream | kind | streaming client (Codex): `response.failed` code | `stream:false` client |
//! |---|---|---|---|
//! | 402 (after a payment or the balance check before it), x402 payment errors | `Payment` | `invalid_prompt` (fatal, message shown) | 402 JSON |
//! | spending cap (ClawRouter's 429 `cost_cap_exceeded` / `budget_exhausted`, header `X-ClawRouter-Cost-Cap-Exceeded: 1`) | `SpendingCap` | `invalid_prompt` (fatal, message shown; never retried) | 402 JSON (a 429 would be retried by SDKs) |
//! | 429 | `RateLimited` | `rate_limit_exceeded`, message says "try again in Ns" (Codex waits that long, then retries) | 429 + `retry-after` |
//! | context length exceeded | `ContextLength` | `context_length_exceeded` (fatal, Codex's own context-window error) | 400 JSON |
//! | other 4xx | `Rejected` | `invalid_prompt` (fatal, message shown) | same status, JSON |
//! | 5xx, refused, reset, garbage, a stream cut short (body ended or connection dropped) | `Unavailable` | `server_error` (Codex retries a bounded number of times, then shows the message) | 502 JSON |
//! | time-out | `TimedOut` | `server_error` | 504 JSON |

use serde_json::{json, Value};

use crate::funding::Chain;
use crate::outcome::Outcome;

/// Retry delay suggested to Codex for a 429 that came without `Retry-After`
/// (Codex treats a 429 without one as fatal).
pub const DEFAULT_RETRY_AFTER_SECS: u64 = 2;

/// How much of an upstream body a message quotes.
const BODY_EXCERPT_CHARS: usize = 300;

/// The hint appended to payment failures. ClawRouter pays on Base or on Solana, from a
/// different address on each (`crate::funding`); the hint names the chain when the
/// upstream's answer does (`chain`), and otherwise sends the user to `clawrouter-codex wallet`,
/// which knows it. On Solana it warns that a `0x` address in the answer is not the one to fund.
pub fn funding_hint(chain: Option<Chain>, names_evm_address: bool) -> String {
    let what = match chain {
        Some(chain) => format!(
            "Fund the wallet ClawRouter pays from with {} (its address: `clawrouter-codex wallet`)",
            chain.usdc()
        ),
        None => "Fund the wallet ClawRouter pays from with USDC on the chain it pays on \
                 (address and chain: `clawrouter-codex wallet`)"
            .to_owned(),
    };
    let not_evm = if chain == Some(Chain::Solana) && names_evm_address {
        " On Solana that is its base58 Solana address, not a 0x address."
    } else {
        ""
    };
    format!(
        "{what} or pick a free model; `clawrouter-codex doctor` checks the whole setup.{not_evm}"
    )
}

/// What the headers of an upstream error answer add to its body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorHeaders {
    /// `Retry-After`, if any.
    pub retry_after: Option<String>,
    /// ClawRouter's `X-ClawRouter-Cost-Cap-Exceeded: 1`: a spending cap, not a rate limit.
    pub spending_cap: bool,
}

/// The class of a failure, which decides what Codex does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Wallet empty, payment rejected: stop at once, show the upstream's message and a hint.
    Payment,
    /// A spending cap of the upstream (ClawRouter's per-session cost cap or budget) was
    /// reached: stop at once with its message; retrying cannot help.
    SpendingCap,
    /// Rate limited: retry after a delay.
    RateLimited,
    /// The conversation no longer fits the model: Codex's context-window error.
    ContextLength,
    /// The upstream refused the request (400, 401, 403, 404, …): stop at once.
    Rejected,
    /// The upstream is down, failing or answered garbage: bounded retries, then the message.
    Unavailable,
    /// The upstream did not answer in time.
    TimedOut,
}

/// A failure as Codex (or another Responses client) will receive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFailure {
    /// What Codex should do about it (stop, retry, or see a full context window); decides the
    /// error code, the HTTP status and the logged outcome.
    pub kind: FailureKind,
    /// The upstream's HTTP status, if it answered at all.
    pub upstream_status: Option<u16>,
    /// One readable message: what failed, the upstream's own words, and a hint where useful.
    pub message: String,
    /// Seconds Codex should wait before retrying (rate limits only).
    pub retry_after_secs: Option<u64>,
}

impl ClientFailure {
    /// The `error.code` of a `response.failed` event (docs/codex-wire.md §4 lists which are fatal).
    pub fn responses_code(&self) -> &'static str {
        match self.kind {
            FailureKind::Payment | FailureKind::SpendingCap | FailureKind::Rejected => {
                "invalid_prompt"
            }
            FailureKind::ContextLength => "context_length_exceeded",
            FailureKind::RateLimited => "rate_limit_exceeded",
            FailureKind::Unavailable | FailureKind::TimedOut => "server_error",
        }
    }

    /// The HTTP status for a non-streaming client (and for streaming rate limits).
    pub fn http_status(&self) -> u16 {
        match self.kind {
            // Not 429: clients (OpenAI's SDKs among them) retry a 429 on their own.
            FailureKind::Payment | FailureKind::SpendingCap => 402,
            FailureKind::RateLimited => 429,
            FailureKind::ContextLength => 400,
            FailureKind::Rejected => self
                .upstream_status
                .filter(|status| (400..500).contains(status))
                .unwrap_or(400),
            FailureKind::Unavailable => 502,
            FailureKind::TimedOut => 504,
        }
    }

    /// A short label for logs and metrics.
    pub fn outcome(&self) -> Outcome {
        match self.kind {
            FailureKind::Payment => Outcome::Payment,
            FailureKind::SpendingCap => Outcome::SpendingCap,
            FailureKind::RateLimited => Outcome::RateLimited,
            FailureKind::ContextLength => Outcome::ContextLength,
            FailureKind::Rejected => Outcome::UpstreamRejected,
            FailureKind::Unavailable => Outcome::UpstreamUnavailable,
            FailureKind::TimedOut => Outcome::UpstreamTimeout,
        }
    }

    /// An OpenAI-style error body: `{"error":{"message","type","param","code"}}`.
    pub fn error_body(&self) -> Vec<u8> {
        let error_type = match self.kind {
            FailureKind::Payment => "insufficient_funds",
            FailureKind::SpendingCap => "cost_cap_exceeded",
            FailureKind::RateLimited => "rate_limit_error",
            FailureKind::ContextLength | FailureKind::Rejected => "invalid_request_error",
            FailureKind::Unavailable | FailureKind::TimedOut => "upstream_error",
        };
        let code = match self.kind {
            FailureKind::ContextLength => Value::from("context_length_exceeded"),
            FailureKind::RateLimited => Value::from("rate_limit_exceeded"),
            _ => Value::Null,
        };
        json!({"error": {"message": self.message, "type": error_type, "param": null, "code": code}})
            .to_string()
            .into_bytes()
    }
}

/// Maps an upstream HTTP error answer (status ≥ 400) to what the client gets. `headers` are
/// what its headers said; `upstream` names the upstream in messages (its configured URL).
pub fn classify_status(
    status: u16,
    headers: &ErrorHeaders,
    body: &[u8],
    upstream: &str,
) -> ClientFailure {
    let parsed = ErrorBody::parse(body);
    let upstream_words = parsed.message.clone();
    let looks_like = |needles: &[&str]| {
        let haystack = format!(
            "{} {} {}",
            parsed.message.to_ascii_lowercase(),
            parsed.error_type.to_ascii_lowercase(),
            parsed.code.to_ascii_lowercase()
        );
        needles.iter().any(|n| haystack.contains(n))
    };
    let payment_types = [
        "insufficient_funds",
        "invalid_payload",
        "transaction_simulation_failed",
        "payment_invalid",
        "settlement_failed",
        "payment_required",
    ];
    if status == 402 || payment_types.contains(&parsed.error_type.as_str()) {
        let mut message = format!("Payment failed: {upstream_words}");
        if let Some(help) = parsed.help.as_deref().filter(|h| !h.is_empty()) {
            message.push_str(&format!(" ({help})"));
        }
        message.push_str(". ");
        let said = format!("{upstream_words} {}", parsed.help.as_deref().unwrap_or(""));
        message.push_str(&funding_hint(Chain::named_in(&said), said.contains("0x")));
        return ClientFailure {
            kind: FailureKind::Payment,
            upstream_status: Some(status),
            message,
            retry_after_secs: None,
        };
    }
    if headers.spending_cap
        || parsed.error_type == "cost_cap_exceeded"
        || ["cost_cap_exceeded", "budget_exhausted"].contains(&parsed.code.as_str())
    {
        return ClientFailure {
            kind: FailureKind::SpendingCap,
            upstream_status: Some(status),
            message: format!(
                "Spending cap reached: {upstream_words}. Nothing was retried. Raise the cap in \
                 ClawRouter's settings, or start a new Codex session (the cap counts per session)."
            ),
            retry_after_secs: None,
        };
    }
    if status == 429 {
        let retry_after_secs = headers
            .retry_after
            .as_deref()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| s.ceil() as u64)
            .unwrap_or(DEFAULT_RETRY_AFTER_SECS);
        return ClientFailure {
            kind: FailureKind::RateLimited,
            upstream_status: Some(status),
            // Codex reads the delay of a `rate_limit_exceeded` failure from "try again in Ns".
            message: format!(
                "Rate limited by the upstream ({upstream}): {upstream_words}. Please try again in {retry_after_secs}s."
            ),
            retry_after_secs: Some(retry_after_secs),
        };
    }
    if (400..500).contains(&status)
        && looks_like(&[
            "context_length_exceeded",
            "context_capacity_exceeded",
            "maximum context length",
            "context window",
            "context length",
            "too many tokens",
            "prompt is too long",
        ])
    {
        return ClientFailure {
            kind: FailureKind::ContextLength,
            upstream_status: Some(status),
            message: format!(
                "The conversation no longer fits the model's context window: {upstream_words}"
            ),
            retry_after_secs: None,
        };
    }
    if (400..500).contains(&status) {
        let hint = match status {
            401 | 403 => {
                " Check the upstream's API key (upstream.api_key_env in the bridge config)."
            }
            404 => {
                " Check the model name (`codex --profile clawrouter` with a model from the picker)."
            }
            _ => "",
        };
        return ClientFailure {
            kind: FailureKind::Rejected,
            upstream_status: Some(status),
            message: format!("The upstream ({upstream}) rejected the request with HTTP {status}: {upstream_words}{hint}"),
            retry_after_secs: None,
        };
    }
    ClientFailure {
        kind: FailureKind::Unavailable,
        upstream_status: Some(status),
        message: format!("The upstream ({upstream}) failed with HTTP {status}: {upstream_words}"),
        retry_after_secs: None,
    }
}

/// The upstream could not be reached: no connection could be made.
pub fn unreachable(upstream: &str, what: &str) -> ClientFailure {
    ClientFailure {
        kind: FailureKind::Unavailable,
        upstream_status: None,
        message: format!(
            "Cannot reach the upstream at {upstream}: {what}. Is ClawRouter running? \
             (`clawrouter-codex start`, then `clawrouter-codex doctor`)"
        ),
        retry_after_secs: None,
    }
}

/// The upstream was reached but broke the connection: before any answer (`answering` false),
/// or in the middle of it (what came before is kept by the caller).
pub fn broken(upstream: &str, what: &str, answering: bool) -> ClientFailure {
    let message = if answering {
        format!("The upstream ({upstream}) broke off its answer midway: {what}")
    } else {
        format!(
            "The upstream ({upstream}) was reached but closed the connection before answering \
             ({what}); it may have failed on this request: see its log (`clawrouter-codex doctor`)"
        )
    };
    ClientFailure {
        kind: FailureKind::Unavailable,
        upstream_status: None,
        message,
        retry_after_secs: None,
    }
}

/// The upstream's stream ended (its body complete, or its connection closed) before a
/// `finish_reason` or `[DONE]`: an answer cut short, whatever the framing said. One failure for
/// both, so a `stream:false` client gets the same retryable 502 either way (never a 200 it would
/// take for an answer), and Codex the same retried `server_error` (docs/codex-wire.md §4).
pub fn cut_short(upstream: &str) -> ClientFailure {
    ClientFailure {
        kind: FailureKind::Unavailable,
        upstream_status: None,
        message: format!("The upstream ({upstream}) {EARLY_EOF} (no finish_reason, no [DONE])"),
        retry_after_secs: None,
    }
}

/// What [`cut_short`] says happened.
pub const EARLY_EOF: &str = "closed the stream before it finished";

/// The upstream accepted the connection but did not answer within the read time-out.
pub fn timed_out(upstream: &str, secs: u64) -> ClientFailure {
    ClientFailure {
        kind: FailureKind::TimedOut,
        upstream_status: None,
        message: format!("The upstream ({upstream}) sent nothing for {secs} s and was given up on"),
        retry_after_secs: None,
    }
}

/// The upstream answered 2xx with a body that is not a usable chat completion.
pub fn garbage(upstream: &str, detail: &str) -> ClientFailure {
    ClientFailure {
        kind: FailureKind::Unavailable,
        upstream_status: None,
        message: format!("The upstream ({upstream}) answered with something that is not a chat completion: {detail}"),
        retry_after_secs: None,
    }
}

/// The upstream's answer came compressed (the bridge asks for none) and does not decode:
/// corrupt, cut off, too large, or an encoding the bridge does not know.
pub fn undecodable(upstream: &str, detail: &str) -> ClientFailure {
    ClientFailure {
        kind: FailureKind::Unavailable,
        upstream_status: None,
        message: format!(
            "The upstream ({upstream}) sent a compressed answer the bridge could not decode: \
             {detail}"
        ),
        retry_after_secs: None,
    }
}

/// The bridge itself could not go on (a bug, never the upstream's or the user's fault).
pub fn bridge_bug(detail: &str) -> ClientFailure {
    ClientFailure {
        kind: FailureKind::Unavailable,
        upstream_status: None,
        message: format!(
            "The bridge could not build its next upstream request ({detail}); this is a bug \
             in clawrouter-codex, please report it"
        ),
        retry_after_secs: None,
    }
}

/// The readable parts of an upstream error body, which may be OpenAI-style JSON, a bare
/// `{"error":"…"}`, or plain text labelled as JSON (ClawRouter does that).
#[derive(Debug, Default)]
struct ErrorBody {
    message: String,
    error_type: String,
    code: String,
    help: Option<String>,
}

impl ErrorBody {
    fn parse(body: &[u8]) -> ErrorBody {
        let text = String::from_utf8_lossy(body);
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            let message = if is_binary(body) {
                // A compressed or binary body: its bytes mean nothing to the user.
                format!("a binary (compressed?) answer of {} bytes", body.len())
            } else {
                excerpt(text.trim())
            };
            return ErrorBody {
                message,
                ..ErrorBody::default()
            };
        };
        let error = value.get("error").unwrap_or(&value);
        let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let message = match error {
            Value::String(s) => Some(s.clone()),
            _ => field(error, "message")
                .or_else(|| field(&value, "message"))
                .or_else(|| field(error, "detail")),
        };
        ErrorBody {
            message: excerpt(message.as_deref().unwrap_or(text.trim())),
            error_type: field(error, "type").unwrap_or_default(),
            code: match error.get("code") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            },
            help: field(error, "help"),
        }
    }
}

/// The first few hundred characters of a text, cut on a character boundary.
/// Not text: invalid UTF-8, or control characters other than whitespace.
fn is_binary(body: &[u8]) -> bool {
    std::str::from_utf8(body).map_or(true, |text| {
        text.chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
    })
}

fn excerpt(text: &str) -> String {
    if text.is_empty() {
        return "(empty body)".to_owned();
    }
    match text.char_indices().nth(BODY_EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP: &str = "http://127.0.0.1:8404/v1";

    fn retry_after(value: &str) -> ErrorHeaders {
        ErrorHeaders {
            retry_after: Some(value.to_owned()),
            ..ErrorHeaders::default()
        }
    }

    #[test]
    fn the_balance_check_402_is_the_same_fatal_funding_failure() {
        for chain in ["Base", "Solana"] {
            let body = format!(
                r#"{{"error":{{"message":"Insufficient {chain} USDC balance.","type":"insufficient_funds","wallet":"0xabc","help":"Fund wallet 0xab...c with USDC on {chain}"}}}}"#
            );
            let failure = classify_status(402, &ErrorHeaders::default(), body.as_bytes(), UP);
            assert_eq!(failure.kind, FailureKind::Payment);
            assert_eq!(failure.responses_code(), "invalid_prompt");
            assert!(failure
                .message
                .contains(&format!("Insufficient {chain} USDC balance.")));
            assert!(failure.message.contains(&format!("with USDC on {chain}")));
            assert!(failure.message.contains("clawrouter-codex doctor"));
            assert!(
                failure.message.contains(&format!(
                    "Fund the wallet ClawRouter pays from with USDC on {chain} (its address: `clawrouter-codex wallet`)"
                )),
                "{}",
                failure.message
            );
            // ClawRouter names its EVM wallet even when it pays on Solana: say it is not the one.
            assert_eq!(
                failure.message.contains("not a 0x address"),
                chain == "Solana",
                "{}",
                failure.message
            );
        }
    }

    #[test]
    fn a_402_that_names_no_chain_sends_the_user_to_the_wallet_command_for_it() {
        let body = br#"{"error":{"message":"Payment required","type":"payment_required"}}"#;
        let failure = classify_status(402, &ErrorHeaders::default(), body, UP);
        assert!(
            failure.message.contains(
                "with USDC on the chain it pays on (address and chain: `clawrouter-codex wallet`)"
            ),
            "{}",
            failure.message
        );
        assert!(
            !failure.message.contains("USDC on Base"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn a_spending_cap_429_is_fatal_not_a_rate_limit() {
        let cap = br#"{"error":{"message":"ClawRouter cost cap exceeded: projected spend $1.0200 would exceed limit $1","type":"cost_cap_exceeded","code":"cost_cap_exceeded"}}"#;
        let budget = br#"{"error":{"message":"ClawRouter budget exhausted: remaining budget cannot support a complex/tool request.","type":"cost_cap_exceeded","code":"budget_exhausted"}}"#;
        let by_header = ErrorHeaders {
            spending_cap: true,
            ..ErrorHeaders::default()
        };
        for (headers, body) in [
            (&ErrorHeaders::default(), &cap[..]),
            (&ErrorHeaders::default(), &budget[..]),
            (&by_header, &br#"{"error":{"message":"over the cap"}}"#[..]),
        ] {
            let failure = classify_status(429, headers, body, UP);
            assert_eq!(failure.kind, FailureKind::SpendingCap, "{failure:?}");
            assert_eq!(failure.responses_code(), "invalid_prompt");
            assert_eq!(failure.retry_after_secs, None);
            assert_eq!(failure.http_status(), 402);
            assert!(failure.message.contains("Spending cap reached"));
        }
        // In a stream ClawRouter sends the same object under HTTP 200.
        let failure = classify_status(502, &ErrorHeaders::default(), budget, UP);
        assert_eq!(failure.kind, FailureKind::SpendingCap);
    }

    #[test]
    fn clawrouter_402_is_a_payment_failure_with_message_and_hint() {
        let body = br#"{"error":{"message":"Insufficient USDC balance. Current: $0.000251, Required: ~$0.011463","type":"insufficient_funds","wallet":"0xabc","help":"Fund wallet 0x2c75...5c23 with USDC on Base, or use free model: /model free"}}"#;
        let failure = classify_status(402, &ErrorHeaders::default(), body, UP);
        assert_eq!(failure.kind, FailureKind::Payment);
        assert!(failure.message.contains("Insufficient USDC balance"));
        assert!(failure.message.contains("Fund wallet 0x2c75"));
        assert!(failure.message.contains("clawrouter-codex doctor"));
        assert_eq!(failure.responses_code(), "invalid_prompt");
        assert_eq!(failure.http_status(), 402);
    }

    #[test]
    fn payment_types_under_other_statuses_are_payment_failures() {
        let body = br#"{"error":{"message":"settlement failed","type":"settlement_failed","help":"retry later"}}"#;
        assert_eq!(
            classify_status(500, &ErrorHeaders::default(), body, UP).kind,
            FailureKind::Payment
        );
    }

    #[test]
    fn rate_limit_gets_a_retry_after_even_when_upstream_gave_none() {
        let failure = classify_status(
            429,
            &ErrorHeaders::default(),
            br#"{"error":{"message":"slow down"}}"#,
            UP,
        );
        assert_eq!(failure.kind, FailureKind::RateLimited);
        assert_eq!(failure.retry_after_secs, Some(DEFAULT_RETRY_AFTER_SECS));
        assert!(
            failure.message.ends_with("Please try again in 2s."),
            "{}",
            failure.message
        );
        assert_eq!(failure.responses_code(), "rate_limit_exceeded");
        let failure = classify_status(429, &retry_after("7"), b"", UP);
        assert_eq!(failure.retry_after_secs, Some(7));
        let failure = classify_status(429, &retry_after("0.5"), b"", UP);
        assert_eq!(failure.retry_after_secs, Some(1));
    }

    #[test]
    fn context_overflow_is_recognised_in_its_common_shapes() {
        let bodies: [&[u8]; 3] = [
            br#"{"error":{"message":"This model's maximum context length is 128000 tokens.","type":"invalid_request_error","code":"context_length_exceeded"}}"#,
            br#"{"error":{"message":"No routed model can satisfy the request","type":"invalid_request_error","code":"context_capacity_exceeded"}}"#,
            b"prompt is too long: 210000 tokens > 200000 maximum",
        ];
        for body in bodies {
            let failure = classify_status(400, &ErrorHeaders::default(), body, UP);
            assert_eq!(
                failure.kind,
                FailureKind::ContextLength,
                "{}",
                String::from_utf8_lossy(body)
            );
            assert_eq!(failure.responses_code(), "context_length_exceeded");
        }
    }

    #[test]
    fn a_binary_error_body_is_described_not_quoted() {
        let gzip_magic = [
            0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xab, 0x56,
        ];
        let failure = classify_status(502, &ErrorHeaders::default(), &gzip_magic, UP);
        assert!(
            failure
                .message
                .ends_with("a binary (compressed?) answer of 12 bytes"),
            "{}",
            failure.message
        );
        assert!(!failure.message.contains('\u{fffd}'));
    }

    #[test]
    fn a_broken_connection_is_worded_by_phase() {
        let before = broken(UP, "connection closed before a whole answer", false);
        assert!(before
            .message
            .contains("closed the connection before answering"));
        let midway = broken(UP, "connection closed before a whole answer", true);
        assert!(midway.message.contains("broke off its answer midway"));
        for failure in [before, midway] {
            assert!(!failure.message.contains("Is ClawRouter running"));
            assert_eq!(failure.kind, FailureKind::Unavailable);
        }
    }

    #[test]
    fn other_client_errors_stop_with_the_upstream_message() {
        for status in [400, 401, 403, 404] {
            let failure = classify_status(
                status,
                &ErrorHeaders::default(),
                br#"{"error":{"message":"model foo/bar not found"}}"#,
                UP,
            );
            assert_eq!(failure.kind, FailureKind::Rejected);
            assert!(failure.message.contains("model foo/bar not found"));
            assert_eq!(failure.http_status(), status);
        }
    }

    #[test]
    fn plain_text_5xx_bodies_are_quoted() {
        let failure = classify_status(500, &ErrorHeaders::default(), b"fetch failed", UP);
        assert_eq!(failure.kind, FailureKind::Unavailable);
        assert!(
            failure.message.contains("HTTP 500: fetch failed"),
            "{}",
            failure.message
        );
        assert_eq!(failure.http_status(), 502);
        assert_eq!(failure.responses_code(), "server_error");
    }

    #[test]
    fn long_bodies_are_cut() {
        let body = "x".repeat(5000);
        let failure = classify_status(502, &ErrorHeaders::default(), body.as_bytes(), UP);
        assert!(failure.message.len() < 600);
        assert!(failure.message.ends_with('…'));
    }

    #[test]
    fn error_body_is_openai_shaped() {
        let failure = classify_status(429, &ErrorHeaders::default(), b"{}", UP);
        let body: Value = serde_json::from_slice(&failure.error_body()).expect("json");
        assert_eq!(body["error"]["code"], "rate_limit_exceeded");
        assert!(body["error"]["message"].is_string());
    }
}
