//! What a test script answers a chat call with, and how each answer is
//! written on the wire (ClawRouter's shapes by default).

use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One scripted answer to a `POST /v1/chat/completions`.
///
/// Completions adapt to the request: `stream:true` gets ClawRouter-style SSE,
/// otherwise a `chat.completion` JSON. The ClawRouter error builders
/// ([`Reply::insufficient_funds`], [`Reply::rate_limited`],
/// [`Reply::context_length_exceeded`], [`Reply::fetch_failed`],
/// [`Reply::clawrouter_error`]) adapt too: a streaming request gets HTTP 200
/// with `data: {"error":…}` then `data: [DONE]`, exactly like ClawRouter.
/// [`Reply::status`], [`Reply::json`] and [`Reply::plain`] are sent as given.
#[derive(Clone, Debug)]
pub struct Reply {
    pub(crate) kind: Kind,
    /// Wait this long (after reading the request) before writing anything.
    pub(crate) delay: Duration,
}

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Completion(Box<Completion>),
    /// Sent verbatim whatever the request's `stream`.
    Http {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// ClawRouter error: status + body, or SSE error under 200 when streaming.
    ClawError {
        status: u16,
        /// Extra headers of the error answer (not of the SSE form).
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// SSE error under HTTP 200 regardless of `stream`.
    SseError(Value),
    /// Headers and part of the body, then the connection is dropped.
    CloseMidBody,
    /// Close the connection without answering (FIN).
    HangUp,
    /// Reset the connection without answering (RST).
    Reset,
    /// These bytes, then close.
    Raw(Vec<u8>),
}

/// How ClawRouter answers a request for a paid model (or profile) when its wallet cannot pay
/// (v0.12.246, `src/proxy.ts`): from a free model, whose upstream name (`nvidia/…`, ClawRouter
/// asks BlockRun for `free/X` as `nvidia/X`) is the answer's `model`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FreeFallback {
    /// A payment was refused: the fallback chain ends in the free model, and nothing is said.
    Silent,
    /// The balance pre-check found the wallet short: the answer starts with
    /// `> **⚠️ Insufficient balance** ($0.00) — using free model instead of {requested}. Send
    /// USDC to `{wallet}`.` and a blank line.
    PreCheck,
}

/// The free model's name in ClawRouter's answers.
pub const FREE_UPSTREAM_MODEL: &str = "nvidia/gpt-oss-120b";

impl FreeFallback {
    /// `reply` as it comes when the wallet cannot pay for `call`'s model (free models and
    /// answers that are not completions are left alone).
    pub(crate) fn apply(self, reply: Reply, call: &super::ChatCall) -> Reply {
        let requested = requested_model(&call.body);
        let free = requested == "free" || requested.starts_with("free/");
        if free || !matches!(reply.kind, Kind::Completion(_)) {
            return reply;
        }
        let reply = reply.model(FREE_UPSTREAM_MODEL);
        match self {
            FreeFallback::Silent => reply,
            FreeFallback::PreCheck => reply.notice(&format!(
                "> **⚠️ Insufficient balance** ($0.00) — using free model instead of \
                 {requested}. Send USDC to `{}`.\n\n",
                super::WALLET
            )),
        }
    }
}

/// How a streamed completion is chunked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamStyle {
    /// ClawRouter: role delta, one content delta with all the text, one
    /// tool_calls delta WITHOUT `index`, finish chunk, usage chunk
    /// (`choices: []`) always, `[DONE]`. `reasoning_content` is dropped.
    ClawRouter,
    /// OpenAI-like incremental stream: content (and reasoning_content) in
    /// pieces of `chunk_chars` characters, each tool call opened with
    /// `index`, `id`, `name` and its arguments in pieces; the usage chunk only
    /// with `stream_options.include_usage`.
    Incremental { chunk_chars: usize },
}

#[derive(Clone, Debug)]
pub(crate) struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

#[derive(Clone, Debug)]
pub(crate) struct Completion {
    pub content: Option<String>,
    pub reasoning: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub model: Option<String>,
    pub finish_reason: Option<String>,
    pub usage: UsageSpec,
    pub notice: Option<String>,
    pub headers: Vec<(String, String)>,
    pub style: StreamStyle,
    /// Streaming: how long to send only `: heartbeat` comments before the answer.
    pub stream_wait: Duration,
    pub heartbeat_interval: Duration,
    /// Streaming: pause between answer chunks.
    pub chunk_delay: Duration,
}

#[derive(Clone, Debug)]
pub(crate) enum UsageSpec {
    /// Estimated from the request and answer sizes.
    Auto,
    Tokens {
        prompt: u64,
        completion: u64,
        cached: Option<u64>,
        reasoning: Option<u64>,
    },
    None,
}

static CALL_SEQ: AtomicU64 = AtomicU64::new(1);

fn next_call_id() -> String {
    // ClawRouter's ids look like `call_<16 chars>`.
    format!(
        "call_{:016x}",
        CALL_SEQ.fetch_add(1, Ordering::Relaxed) * 0x9e37_79b9
    )
}

impl Reply {
    fn new(kind: Kind) -> Self {
        Reply {
            kind,
            delay: Duration::ZERO,
        }
    }

    fn completion(content: Option<String>, tool_calls: Vec<ToolCall>) -> Self {
        Reply::new(Kind::Completion(Box::new(Completion {
            content,
            reasoning: None,
            tool_calls,
            model: None,
            finish_reason: None,
            usage: UsageSpec::Auto,
            notice: None,
            headers: Vec::new(),
            style: StreamStyle::ClawRouter,
            stream_wait: Duration::ZERO,
            heartbeat_interval: Duration::from_secs(2),
            chunk_delay: Duration::ZERO,
        })))
    }

    /// An assistant text answer (`finish_reason: "stop"`).
    pub fn text(text: impl Into<String>) -> Self {
        Reply::completion(Some(text.into()), Vec::new())
    }

    /// Tool calls as ClawRouter returns them: `content: ""`,
    /// `finish_reason: "tool_calls"`, ids `call_<16 hex>`. The arguments are
    /// serialized to the JSON *string* Chat Completions uses.
    pub fn tool_calls(calls: Vec<(&str, Value)>) -> Self {
        Reply::text_and_tool_calls("", calls)
    }

    /// Text and tool calls in one message, as a generic OpenAI-compatible
    /// server may send (ClawRouter itself blanks the text).
    pub fn text_and_tool_calls(text: impl Into<String>, calls: Vec<(&str, Value)>) -> Self {
        let calls = calls
            .into_iter()
            .map(|(name, args)| ToolCall {
                id: next_call_id(),
                name: name.to_string(),
                arguments: args.to_string(),
            })
            .collect();
        Reply::completion(Some(text.into()), calls)
    }

    /// Tool calls with explicit ids and raw argument strings (which need not
    /// be valid JSON): `(id, name, arguments)`.
    pub fn tool_calls_raw(calls: Vec<(&str, &str, &str)>) -> Self {
        let calls = calls
            .into_iter()
            .map(|(id, name, arguments)| ToolCall {
                id: id.to_string(),
                name: name.to_string(),
                arguments: arguments.to_string(),
            })
            .collect();
        Reply::completion(Some(String::new()), calls)
    }

    /// Any status with a JSON body, sent as is (also to streaming requests).
    pub fn json(status: u16, body: Value) -> Self {
        Reply::status(status, "application/json", body.to_string())
    }

    /// Any status, content type and body, sent as is.
    pub fn status(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Reply::new(Kind::Http {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        })
    }

    /// A plain-text body labelled `application/json`, as ClawRouter sends
    /// upstream failures (`Reply::plain(500, "fetch failed")`). Sent as is.
    pub fn plain(status: u16, text: &str) -> Self {
        Reply::status(status, "application/json", text)
    }

    /// A ClawRouter error: `status` + `body` for non-streaming requests; for
    /// streaming ones HTTP 200, a heartbeat, `data: <body>` (a non-JSON body
    /// or one without `error` is wrapped as
    /// `{"error":{"message":"fetch failed","type":"provider_error","status":500}}`)
    /// and `data: [DONE]`.
    pub fn clawrouter_error(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Reply::new(Kind::ClawError {
            status,
            headers: Vec::new(),
            body: body.into(),
        })
    }

    /// ClawRouter's 402 after a failed x402 payment.
    pub fn insufficient_funds() -> Self {
        Reply::clawrouter_error(
            402,
            json!({"error": {
                "message": "Insufficient USDC balance. Current: $0.000251, Required: ~$0.011463",
                "type": "insufficient_funds",
                "wallet": "0x2c75a0E2C5Bb3a1c0dD0e2f8B7aC4D1e5F6a5c23",
                "current_balance_usd": "0.000251",
                "required_usd": "0.011463",
                "help": "Fund wallet 0x2c75...5c23 with USDC on Base, or use free model: /model free"
            }})
            .to_string(),
        )
    }

    /// ClawRouter's other 402: its balance check before paying failed (no amounts).
    pub fn insufficient_balance(chain: &str) -> Self {
        Reply::clawrouter_error(
            402,
            json!({"error": {
                "message": format!("Insufficient {chain} USDC balance."),
                "type": "insufficient_funds",
                "wallet": "0x2c75a0E2C5Bb3a1c0dD0e2f8B7aC4D1e5F6a5c23",
                "help": format!("Fund wallet 0x2c75...5c23 with USDC on {chain}, or use free model: /model free")
            }})
            .to_string(),
        )
    }

    /// ClawRouter's spending cap (`code` `cost_cap_exceeded` or `budget_exhausted`): a 429
    /// with `X-ClawRouter-Cost-Cap-Exceeded: 1`, and no `Retry-After`.
    pub fn spending_cap(code: &str) -> Self {
        let mut reply = Reply::clawrouter_error(
            429,
            json!({"error": {
                "message": "ClawRouter cost cap exceeded: projected spend $1.0213 (spent $0.9900 + est $0.0313) would exceed limit $1",
                "type": "cost_cap_exceeded",
                "code": code
            }})
            .to_string(),
        );
        if let Kind::ClawError { headers, .. } = &mut reply.kind {
            headers.push(("X-ClawRouter-Cost-Cap-Exceeded".into(), "1".into()));
        }
        reply
    }

    /// An upstream 429 as ClawRouter passes it through: no `Retry-After`.
    pub fn rate_limited() -> Self {
        Reply::clawrouter_error(
            429,
            json!({"error": {
                "message": "Rate limit reached for requests. Please try again later.",
                "type": "rate_limit_error",
                "code": "rate_limit_exceeded"
            }})
            .to_string(),
        )
    }

    /// The upstream context-length 400, passed through unchanged.
    pub fn context_length_exceeded() -> Self {
        Reply::clawrouter_error(
            400,
            json!({"error": {
                "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in 131072 tokens. Please reduce the length of the messages.",
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded"
            }})
            .to_string(),
        )
    }

    /// ClawRouter offline: `status` (500 or 502) with the plain text
    /// `fetch failed` labelled `application/json`; wrapped when streaming.
    pub fn fetch_failed(status: u16) -> Self {
        Reply::clawrouter_error(status, "fetch failed")
    }

    /// `data: {"error": error}` then `data: [DONE]` under HTTP 200, whatever
    /// the request's `stream`. `error` is the inner object.
    pub fn sse_error(error: Value) -> Self {
        Reply::new(Kind::SseError(json!({ "error": error })))
    }

    /// Headers and part of the body, then the connection is dropped: a JSON
    /// completion cut in half (Content-Length promises more), or for a
    /// streaming request the SSE headers, a heartbeat and the role chunk.
    pub fn close_mid_body() -> Self {
        Reply::new(Kind::CloseMidBody)
    }

    /// Read the request, then close the connection without a byte (FIN).
    pub fn hang_up() -> Self {
        Reply::new(Kind::HangUp)
    }

    /// Read the request, then reset the connection (RST).
    pub fn reset() -> Self {
        Reply::new(Kind::Reset)
    }

    /// Write these bytes (not HTTP) and close.
    pub fn garbage(bytes: impl Into<Vec<u8>>) -> Self {
        Reply::new(Kind::Raw(bytes.into()))
    }

    // ---- modifiers -------------------------------------------------------

    /// Wait before answering at all (before the status line).
    pub fn delayed(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }

    fn comp(&mut self, what: &str) -> &mut Completion {
        match &mut self.kind {
            Kind::Completion(c) => c,
            _ => panic!("Reply::{what} only applies to completions (text / tool_calls)"),
        }
    }

    /// The `model` in the answer (default: the routed model: `deepseek/deepseek-v4-pro`
    /// for the profiles auto/eco/premium, else the requested model without `blockrun/`).
    pub fn model(mut self, model: &str) -> Self {
        self.comp("model").model = Some(model.to_string());
        self
    }

    /// Override `finish_reason` (e.g. `"length"`, `"content_filter"`).
    pub fn finish_reason(mut self, reason: &str) -> Self {
        self.comp("finish_reason").finish_reason = Some(reason.to_string());
        self
    }

    /// `reasoning_content` on the message (non-streaming) or as deltas
    /// (Incremental streams); ClawRouter-style streams drop it.
    pub fn reasoning(mut self, text: &str) -> Self {
        self.comp("reasoning").reasoning = Some(text.to_string());
        self
    }

    /// Exact token counts (default: estimated from sizes).
    pub fn usage(mut self, prompt: u64, completion: u64) -> Self {
        let c = self.comp("usage");
        let (cached, reasoning) = match c.usage {
            UsageSpec::Tokens {
                cached, reasoning, ..
            } => (cached, reasoning),
            _ => (None, None),
        };
        c.usage = UsageSpec::Tokens {
            prompt,
            completion,
            cached,
            reasoning,
        };
        self
    }

    /// Adds `prompt_tokens_details.cached_tokens` and
    /// `completion_tokens_details.reasoning_tokens`.
    pub fn usage_details(mut self, cached: u64, reasoning: u64) -> Self {
        let c = self.comp("usage_details");
        let (prompt, completion) = match c.usage {
            UsageSpec::Tokens {
                prompt, completion, ..
            } => (prompt, completion),
            _ => (1000, 50),
        };
        c.usage = UsageSpec::Tokens {
            prompt,
            completion,
            cached: Some(cached),
            reasoning: Some(reasoning),
        };
        self
    }

    /// No `usage` at all (and no usage chunk when streaming).
    pub fn no_usage(mut self) -> Self {
        self.comp("no_usage").usage = UsageSpec::None;
        self
    }

    /// A wallet/budget notice: prefixed to the content, or its own delta when
    /// streaming. See [`Reply::wallet_empty`].
    pub fn notice(mut self, text: &str) -> Self {
        self.comp("notice").notice = Some(text.to_string());
        self
    }

    /// ClawRouter's "Wallet empty — using free model" notice, model `free/gpt-oss-120b`.
    pub fn wallet_empty(self) -> Self {
        self.notice("> **⚠️ Wallet empty** — using free model. Send USDC to `0x2c75a0E2C5Bb3a1c0dD0e2f8B7aC4D1e5F6a5c23`.\n\n")
            .model("free/gpt-oss-120b")
    }

    /// An extra response header (completions and verbatim answers).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let header = (name.to_ascii_lowercase(), value.to_string());
        match &mut self.kind {
            Kind::Http { headers, .. } => headers.push(header),
            _ => self.comp("header").headers.push(header),
        }
        self
    }

    /// Streaming: send `: heartbeat` at once and then every `interval` for
    /// `wait` before the answer (ClawRouter: every 2 s while it pays and waits).
    pub fn stream_wait(mut self, wait: Duration, interval: Duration) -> Self {
        let c = self.comp("stream_wait");
        c.stream_wait = wait;
        c.heartbeat_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Streaming: pause between the answer's chunks.
    pub fn chunk_delay(mut self, d: Duration) -> Self {
        self.comp("chunk_delay").chunk_delay = d;
        self
    }

    /// Streaming: chunk like OpenAI instead of ClawRouter.
    pub fn incremental(mut self, chunk_chars: usize) -> Self {
        self.comp("incremental").style = StreamStyle::Incremental {
            chunk_chars: chunk_chars.max(1),
        };
        self
    }
}

// ---- rendering ------------------------------------------------------------

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) const PROFILES: &[&str] = &["auto", "eco", "premium"];

/// The requested model as ClawRouter normalises it.
pub(crate) fn requested_model(body: &Value) -> String {
    let m = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("auto")
        .trim()
        .to_ascii_lowercase();
    m.strip_prefix("blockrun/").unwrap_or(&m).to_string()
}

pub(crate) fn is_profile(body: &Value) -> bool {
    PROFILES.contains(&requested_model(body).as_str())
}

impl Completion {
    pub fn routed_model(&self, body: &Value) -> String {
        if let Some(m) = &self.model {
            return m.clone();
        }
        if is_profile(body) {
            "deepseek/deepseek-v4-pro".into()
        } else {
            requested_model(body)
        }
    }

    pub fn finish(&self) -> String {
        self.finish_reason.clone().unwrap_or_else(|| {
            if self.tool_calls.is_empty() {
                "stop".into()
            } else {
                "tool_calls".into()
            }
        })
    }

    /// Content as sent: notice + text; `""` for a tool-call-only answer.
    pub fn full_content(&self) -> String {
        format!(
            "{}{}",
            self.notice.as_deref().unwrap_or(""),
            self.content.as_deref().unwrap_or("")
        )
    }

    pub fn usage_json(&self, request_len: usize, model: &str) -> Option<Value> {
        let (prompt, completion, cached, reasoning) = match self.usage {
            UsageSpec::None => return None,
            UsageSpec::Auto => {
                let out = self.full_content().len()
                    + self
                        .tool_calls
                        .iter()
                        .map(|t| t.arguments.len() + t.name.len())
                        .sum::<usize>();
                (
                    (request_len / 4 + 1) as u64,
                    (out / 4 + 1) as u64,
                    None,
                    None,
                )
            }
            UsageSpec::Tokens {
                prompt,
                completion,
                cached,
                reasoning,
            } => (prompt, completion, cached, reasoning),
        };
        let input = prompt as f64 * 2.5e-7;
        let output = completion as f64 * 1.5e-6;
        let mut usage = json!({
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "cost": {
                "total": input + output,
                "input": input,
                "output": output,
                "baseline": (input + output) * 20.0,
                "savings_pct": 95,
                "model": model,
            }
        });
        if let Some(c) = cached {
            usage["prompt_tokens_details"] = json!({ "cached_tokens": c });
        }
        if let Some(r) = reasoning {
            usage["completion_tokens_details"] = json!({ "reasoning_tokens": r });
        }
        Some(usage)
    }

    fn tool_calls_json(&self, with_index: bool) -> Vec<Value> {
        self.tool_calls
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut v = json!({
                    "id": t.id,
                    "type": "function",
                    "function": {"name": t.name, "arguments": t.arguments},
                });
                if with_index {
                    v["index"] = json!(i);
                }
                v
            })
            .collect()
    }

    /// The non-streaming `chat.completion` body.
    pub fn json_body(&self, id: &str, body: &Value, request_len: usize) -> Value {
        let model = self.routed_model(body);
        let mut message = json!({"role": "assistant", "content": self.full_content()});
        if !self.tool_calls.is_empty() {
            message["tool_calls"] = Value::Array(self.tool_calls_json(false));
        }
        if let Some(r) = &self.reasoning {
            message["reasoning_content"] = json!(r);
        }
        let mut out = json!({
            "id": id,
            "object": "chat.completion",
            "created": now_secs(),
            "model": model,
            "choices": [{
                "index": 0,
                "message": message,
                "logprobs": null,
                "finish_reason": self.finish(),
            }],
            "system_fingerprint": null,
        });
        if let Some(u) = self.usage_json(request_len, &model) {
            out["usage"] = u;
        }
        out
    }

    /// The SSE `data:` payloads of the answer (without heartbeats or `[DONE]`).
    pub fn stream_chunks(&self, id: &str, body: &Value, request_len: usize) -> Vec<Value> {
        let model = self.routed_model(body);
        let created = now_secs();
        let chunk = |delta: Value, finish: Option<String>| {
            json!({
                "id": id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "system_fingerprint": null,
                "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
            })
        };
        let mut out = Vec::new();
        let include_usage;
        match self.style {
            StreamStyle::ClawRouter => {
                include_usage = true;
                out.push(chunk(json!({"role": "assistant"}), None));
                if let Some(n) = &self.notice {
                    out.push(chunk(json!({ "content": n }), None));
                }
                if let Some(c) = self.content.as_deref().filter(|c| !c.is_empty()) {
                    out.push(chunk(json!({ "content": c }), None));
                }
                if !self.tool_calls.is_empty() {
                    out.push(chunk(
                        json!({ "tool_calls": self.tool_calls_json(false) }),
                        None,
                    ));
                }
            }
            StreamStyle::Incremental { chunk_chars } => {
                include_usage = body
                    .pointer("/stream_options/include_usage")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                out.push(chunk(json!({"role": "assistant", "content": ""}), None));
                for piece in split_chars(self.reasoning.as_deref().unwrap_or(""), chunk_chars) {
                    out.push(chunk(json!({ "reasoning_content": piece }), None));
                }
                for piece in split_chars(&self.full_content(), chunk_chars) {
                    out.push(chunk(json!({ "content": piece }), None));
                }
                for (i, t) in self.tool_calls.iter().enumerate() {
                    out.push(chunk(
                        json!({"tool_calls": [{"index": i, "id": t.id, "type": "function",
                            "function": {"name": t.name, "arguments": ""}}]}),
                        None,
                    ));
                    for piece in split_chars(&t.arguments, chunk_chars) {
                        out.push(chunk(
                            json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                            None,
                        ));
                    }
                }
            }
        }
        out.push(chunk(json!({}), Some(self.finish())));
        if include_usage {
            if let Some(u) = self.usage_json(request_len, &model) {
                let mut last = chunk(json!({}), None);
                last["choices"] = json!([]);
                last["usage"] = u;
                out.push(last);
            }
        }
        out
    }
}

fn split_chars(s: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    chars.chunks(n).map(|c| c.iter().collect()).collect()
}

/// The `data:` payload ClawRouter streams for an error body.
pub(crate) fn sse_error_payload(body: &[u8]) -> Value {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.get("error").is_some() => v,
        _ => json!({"error": {"message": "fetch failed", "type": "provider_error", "status": 500}}),
    }
}
