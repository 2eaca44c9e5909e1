//! The Pingora service: [`Bridge`] implements `ProxyHttp` and only delegates.
//!
//! Which path a request takes (decided once, in [`routes`]):
//! - `/v1/responses` → answered inside `request_filter` by [`responses`], which reads the body,
//!   translates it and calls the upstream with the bridge's own pooled client ([`crate::upstream_client`]);
//!   in direct mode through [`crate::direct`], which routes and pays. A WebSocket upgrade there
//!   goes to [`crate::ws_session`], which drives the same `responses::respond` per message.
//! - `/health`, `/api/tags`, `/api/version`, `/metrics`, `/dashboard[/api/*]` → answered
//!   locally by [`crate::handlers`]; the hooks here only pick the handler (and refuse what
//!   has no endpoint or the wrong method).
//! - every other `/v1/*` → Pingora's proxy path, rewritten by [`passthrough`].
//!
//! Every request first passes [`hygiene`] (Host, Origin, token), before any upstream call.
//! [`upstream_profile`] knows whether the upstream is ClawRouter and decides from that whether
//! it is asked to stream and whether whitespace is protected; [`replay_guard`] makes retries of
//! a failed turn differ from it (ClawRouter replays failures); [`crate::session_io`] writes
//! the answers the bridge makes itself; [`ctx`] is the per-request state.

pub mod ctx;
pub mod free_models;
pub mod hygiene;
pub mod passthrough;
pub mod replay_guard;
pub mod responses;
pub mod routes;
pub mod upstream_profile;
pub mod upstreams;
pub mod web_search;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use pingora::http::RequestHeader;
use pingora::prelude::HttpPeer;
use pingora::proxy::{FailToProxy, ProxyHttp, ProxyWarnLogContext, Session};
use pingora::{Error, ErrorType};

use crate::access_log;
use crate::config::Config;
use crate::direct::{Direct, DirectInitError};
use crate::error::BridgeError;
use crate::handlers::dashboard::{self, Dashboard};
use crate::handlers::{self, health, ollama};
use crate::metrics::{self, Metrics};
use crate::outcome::Outcome;
use crate::secrets::{RandomUnavailable, SharedKeyError};
use crate::session_io;
use crate::translate::reasoning::ReasoningKey;
use crate::translate::request::RequestOptions;
use ctx::RequestCtx;
use hygiene::Gate;
use routes::Route;
use upstreams::Upstreams;

/// The bridge service: configuration, the request gate and the upstream client.
pub struct Bridge {
    /// The loaded configuration, shared with the handlers and the dashboard's actions.
    pub config: Arc<Config>,
    /// The checks every request passes first (`Host`, `Origin`, token).
    pub gate: Gate,
    /// The upstream, or the team of upstreams, each with its client and profile (whether it is
    /// ClawRouter, and what follows: streaming, whitespace).
    pub upstreams: Upstreams,
    /// The translation options every request starts from (system role, reasoning key); each
    /// request's copy then gets web search and whitespace protection as they apply to it.
    pub request_options: RequestOptions,
    /// Recently failed requests, whose retries are nudged past ClawRouter's replay.
    pub replay_guard: replay_guard::ReplayGuard,
    /// The loopback dashboard (its per-process CSRF token).
    pub dashboard: Dashboard,
    /// `/metrics`, counted once per request in `logging`.
    pub metrics: Arc<Metrics>,
    /// Seals reasoning into `encrypted_content` (responses) and opens it (requests).
    pub reasoning_key: Arc<ReasoningKey>,
    /// Direct mode (`upstream.kind: direct`): routing and payments for BlockRun's API.
    pub direct: Option<Arc<Direct>>,
    /// What the WebSocket connections on `/v1/responses` share (their memory budget).
    pub websocket: crate::ws_session::Shared,
}

impl Bridge {
    /// The service for `config`; fails only when no secret key can be made (or a bug keeps the
    /// metrics from registering).
    pub fn new(config: Arc<Config>) -> Result<Self, InitError> {
        let reasoning_key = Arc::new(match &config.reasoning_key_file {
            Some(path) => crate::secrets::shared_reasoning_key(path)?,
            None => crate::secrets::reasoning_key(config.state_dir.as_deref())?,
        });
        let direct = match &config.direct {
            Some(settings) => Some(Arc::new(Direct::new(&config, settings)?)),
            None => None,
        };
        Ok(Bridge {
            direct,
            gate: Gate::new(config.listen, config.auth_token.clone()),
            upstreams: Upstreams::new(&config),
            request_options: RequestOptions {
                system_role: config.system_role,
                reasoning_key: Some(reasoning_key.clone()),
                ..RequestOptions::default()
            },
            reasoning_key,
            websocket: crate::ws_session::Shared::default(),
            replay_guard: replay_guard::ReplayGuard::default(),
            dashboard: Dashboard::new()?,
            metrics: Metrics::new().map_err(|e| InitError::Metrics(e.to_string()))?,
            config,
        })
    }

    /// Sends the request to its endpoint; `Ok(true)` when it was answered here, `Ok(false)`
    /// when it goes on through Pingora's proxy path.
    async fn answer_locally(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<bool> {
        let is_get = matches!(session.req_header().method.as_str(), "GET" | "HEAD");
        let path = session.req_header().uri.path().to_owned();
        let primary = &self.upstreams.primary().client;
        match ctx.route {
            Route::Responses if session.is_upgrade_req() && self.config.websocket.enabled => {
                ctx.route = Route::ResponsesWebSocket;
                crate::ws_session::handle(self, session, ctx)
                    .await
                    .map(|()| true)
            }
            Route::Responses | Route::ResponsesWebSocket => {
                responses::handle(self, session, ctx).await.map(|()| true)
            }
            Route::Passthrough => {
                match passthrough::check_request(session.req_header(), self.config.max_body_bytes) {
                    Ok(()) => Ok(false),
                    Err(error) => self.refuse(session, ctx, error).await,
                }
            }
            Route::Health | Route::OllamaTags | Route::OllamaVersion | Route::Metrics
                if !is_get =>
            {
                let method = session.req_header().method.to_string();
                self.refuse(session, ctx, BridgeError::MethodNotAllowed { method, path })
                    .await
            }
            Route::Health => {
                let team = || self.upstreams.team_status();
                health::answer(session, &self.config.upstream.url, primary, team).await?;
                Ok(true)
            }
            Route::OllamaVersion => {
                ollama::answer_version(session).await?;
                Ok(true)
            }
            Route::OllamaTags => {
                ctx.outcome = ollama::answer_tags(session, &self.config.upstream, primary).await?;
                Ok(true)
            }
            Route::Metrics => {
                handlers::metrics::answer(session, &self.metrics).await?;
                Ok(true)
            }
            Route::Dashboard if self.config.dashboard => {
                ctx.outcome = self
                    .dashboard
                    .handle(session, &self.config, primary, self.direct.as_deref())
                    .await?;
                Ok(true)
            }
            Route::Dashboard | Route::NotFound => {
                let method = session.req_header().method.to_string();
                self.refuse(session, ctx, BridgeError::NotFound { method, path })
                    .await
            }
        }
    }

    async fn refuse(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        error: BridgeError,
    ) -> pingora::Result<bool> {
        ctx.outcome = error.outcome();
        session_io::send_error(session, &error).await?;
        Ok(true)
    }
}

/// Why the service could not be built.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// No random bytes for the reasoning key or the dashboard's CSRF token.
    #[error(transparent)]
    Random(#[from] RandomUnavailable),
    /// The configured `reasoning_key_file` cannot be used (unreadable, readable by other users,
    /// or too short).
    #[error(transparent)]
    SharedKey(#[from] SharedKeyError),
    /// Direct mode cannot run (no key, an unusable ledger or routing file).
    #[error(transparent)]
    Direct(#[from] DirectInitError),
    /// Registering the `/metrics` counters failed (a bug, e.g. a name registered twice).
    #[error("the metrics could not be registered (a bug): {0}")]
    Metrics(String),
}

#[async_trait]
impl ProxyHttp for Bridge {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> RequestCtx {
        RequestCtx::default()
    }

    async fn request_filter(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<bool> {
        crate::connection_guard::apply_to_session(session, &self.config.connections);
        ctx.route = Route::classify(session.req_header().uri.path());
        if let Err(error) = self.gate.check(&session.req_header().headers) {
            if ctx.route == Route::Dashboard && matches!(error, BridgeError::Unauthorized) {
                ctx.outcome = error.outcome();
                dashboard::ask_for_token(session, &error).await?;
                return Ok(true);
            }
            return self.refuse(session, ctx, error).await;
        }
        self.answer_locally(session, ctx).await
    }

    async fn upstream_peer(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<Box<HttpPeer>> {
        // Team mode: the thread's upstream, or after a refused connection the next one; the
        // same one again when a pooled connection closed unread (`error_while_proxy`).
        if std::mem::take(&mut ctx.same_upstream_again) {
            if let Some(member) = ctx.measures.upstream.map(|i| &self.upstreams.members()[i]) {
                return Ok(Box::new(member.client.peer().clone()));
            }
        }
        let thread = upstreams::thread_id(session.req_header());
        let member = if ctx.upstreams_tried.is_empty() {
            self.upstreams.choose(thread.as_deref())
        } else {
            self.upstreams
                .failover(thread.as_deref(), &ctx.upstreams_tried)
                .ok_or_else(|| Error::explain(ErrorType::ConnectRefused, "no upstream left"))?
        };
        ctx.upstreams_tried.push(member.index);
        ctx.measures.upstream = Some(member.index);
        Ok(Box::new(member.client.peer().clone()))
    }

    fn fail_to_connect(
        &self,
        _session: &mut Session,
        _peer: &HttpPeer,
        ctx: &mut RequestCtx,
        mut e: Box<Error>,
    ) -> Box<Error> {
        // Nothing reached this upstream: another one may take the request.
        let untried = ctx.upstreams_tried.len() < self.upstreams.members().len();
        if untried && e.etype() == &ErrorType::ConnectRefused {
            ctx.measures.failovers += 1;
            e.set_retry(true);
        }
        e
    }

    fn error_while_proxy(
        &self,
        _peer: &HttpPeer,
        session: &mut Session,
        mut e: Box<Error>,
        ctx: &mut RequestCtx,
        client_reused: bool,
    ) -> Box<Error> {
        // Pingora's own rule retries idempotent methods only, whatever the upstream read, and
        // one attempt per upstream is all `max_retries` allows: ours (passthrough.rs).
        let attempt = passthrough::Attempt {
            reused: client_reused,
            body_kept: !session.as_ref().retry_buffer_truncated(),
            answered: ctx.measures.upstream_status.is_some()
                || session.response_written().is_some(),
            written_at: ctx.upstream_request_at,
            replaced: ctx.replaced_connections,
        };
        let again = passthrough::may_send_again(&e, &attempt);
        e.set_retry(again);
        if again {
            log::info!(
                "pooled upstream connection closed before it read the request ({}); \
                 sending it again on another connection",
                e.etype().as_str()
            );
            ctx.replaced_connections += 1;
            ctx.same_upstream_again = true;
            // The body goes again from Pingora's retry buffer, through `request_body_filter`.
            ctx.passthrough_body_bytes = 0;
        }
        e
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream_request: &mut RequestHeader,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<()> {
        // The header goes upstream right after this filter.
        ctx.upstream_request_at = Some(std::time::Instant::now());
        let member = ctx.measures.upstream.unwrap_or(0);
        let upstream = self.upstreams.members()[member].client.upstream();
        passthrough::rewrite_request(upstream, upstream_request)
    }

    async fn upstream_response_filter(
        &self,
        _session: &mut Session,
        upstream_response: &mut pingora::http::ResponseHeader,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<()> {
        // Pass-through: the header goes on to the client at once.
        let elapsed = ctx.started.elapsed();
        ctx.measures.upstream_status = Some(upstream_response.status.as_u16());
        ctx.measures.upstream_latency = Some(elapsed);
        ctx.measures.first_byte = Some(elapsed);
        Ok(())
    }

    async fn request_body_filter(
        &self,
        _session: &mut Session,
        body: &mut Option<Bytes>,
        _end_of_stream: bool,
        ctx: &mut RequestCtx,
    ) -> pingora::Result<()> {
        // Chunked pass-through bodies have no declared length: count as they stream by.
        if let Some(chunk) = body {
            ctx.passthrough_body_bytes += chunk.len();
            if ctx.passthrough_body_bytes > self.config.max_body_bytes {
                ctx.local_error = Some(BridgeError::BodyTooLarge {
                    size: ctx.passthrough_body_bytes,
                    limit: self.config.max_body_bytes,
                });
                return Err(Error::explain(
                    ErrorType::HTTPStatus(413),
                    "request body over the limit",
                ));
            }
        }
        Ok(())
    }

    async fn fail_to_proxy(
        &self,
        session: &mut Session,
        e: &Error,
        ctx: &mut RequestCtx,
    ) -> FailToProxy {
        let answer = match ctx.local_error.take() {
            Some(error) => Some((error.status(), error.body())),
            None => passthrough::failure_answer(e, &self.config.upstream.url),
        };
        let Some((status, body)) = answer else {
            ctx.outcome = Outcome::ClientGone;
            return FailToProxy {
                error_code: 0,
                can_reuse_downstream: false,
            };
        };
        if ctx.outcome == Outcome::Ok {
            ctx.outcome = Outcome::ProxyError;
        }
        if session.response_written().is_none() {
            session.set_keepalive(None);
            if let Err(write_error) = session_io::send_json(session, status, body, &[]).await {
                log::debug!(
                    "could not send the error answer: {}",
                    write_error.etype().as_str()
                );
            }
        }
        FailToProxy {
            error_code: status,
            can_reuse_downstream: false,
        }
    }

    async fn logging(&self, session: &mut Session, _e: Option<&Error>, ctx: &mut RequestCtx) {
        let status = session
            .response_written()
            .map(|h| h.status.as_u16())
            .unwrap_or(0);
        let duration = ctx.started.elapsed();
        if status != 0 {
            // An answer the bridge wrote in one go: its first byte went out at the end.
            ctx.measures.first_byte.get_or_insert(duration);
        }
        let m = &ctx.measures;
        // One line per request; never prompt text, keys or tokens of the client.
        if access_log::enabled() {
            let ms = |d: Option<std::time::Duration>| {
                d.map_or_else(
                    || "-".to_owned(),
                    |d| format!("{:.1}", d.as_secs_f64() * 1000.0),
                )
            };
            let tokens = m.usage.map_or_else(
                || "-".to_owned(),
                |u| format!("{}/{}", u.input_tokens, u.output_tokens),
            );
            // Team mode: which upstream (`upstreams[i]`) served it.
            let mut member = match (self.upstreams.members().len(), m.upstream) {
                (2.., Some(i)) => format!(" via=upstreams[{i}]"),
                _ => String::new(),
            };
            // Direct mode: the model the router chose and what the request paid.
            if let Some(routed) = &m.routed_model {
                member.push_str(&format!(" routed={routed}"));
            }
            if let Some(paid) = m.paid {
                member.push_str(&format!(" paid={paid}"));
            }
            access_log::write(&format!(
                "{} {} {} {} {}ms first_byte={}ms upstream={} upstream_ms={} tokens={} model={} outcome={}{member}",
                session.req_header().method,
                session.req_header().uri.path(),
                ctx.route.label(),
                status,
                duration.as_millis(),
                ms(m.first_byte),
                m.upstream_status.map_or_else(|| "-".to_owned(), |s| s.to_string()),
                ms(m.upstream_latency),
                tokens,
                ctx.model.as_deref().unwrap_or("-"),
                ctx.outcome.as_str(),
            ));
        }
        if ctx.route == Route::ResponsesWebSocket && status == 101 {
            // Each of the connection's requests was counted as it ended (ws_session).
            return;
        }
        self.metrics.finished(&metrics::Finished {
            route: ctx.route.label(),
            outcome: ctx.outcome,
            duration,
            bytes_in: session.body_bytes_read() as u64,
            bytes_out: session.body_bytes_sent() as u64,
            measures: m,
        });
    }

    fn suppress_proxy_warn_log(
        &self,
        _session: &Session,
        ctx: &RequestCtx,
        _e: &Error,
        context: ProxyWarnLogContext,
    ) -> bool {
        // A replaced pooled connection is logged (at info) by `error_while_proxy`.
        matches!(context, ProxyWarnLogContext::UpstreamRetry) && ctx.same_upstream_again
    }

    fn suppress_error_log(&self, _session: &Session, ctx: &RequestCtx, _e: &Error) -> bool {
        // The access log line already says how the request ended.
        ctx.route != Route::Passthrough
    }
}
