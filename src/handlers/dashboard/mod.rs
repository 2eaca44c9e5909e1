//! The loopback dashboard at `/dashboard`: one page, served from the binary, that shows whether
//! the link works and lets the user switch Codex between their subscription and ClawRouter,
//! fund the wallet, watch spend, switch web search and pick the default model.
//!
//! - `GET /dashboard` → the page ([`page`]): no outside resource of any kind (inline style and
//!   script allowed by a per-response CSP nonce, the QR code inline SVG), the CSRF token inside.
//! - `GET /dashboard/api/state` → everything the page shows ([`state`]). Neither read may be
//!   fetched by a browser for another site's page ([`guard::check_read`]).
//! - `POST /dashboard/api/{desktop,websearch,model,update-models}` → a change ([`actions`]),
//!   after every check of [`guard`] (loopback peer, same origin, CSRF token, JSON).
//!
//! The page never shows or accepts the wallet key: it shows the address the proxy reports.
//! Beyond loopback the dashboard is off unless `dashboard.enabled: true`, and then the bridge
//! token guards it too (the browser asks for it: user name anything, password the token); its
//! changes still come only from the bridge's own machine.

pub mod actions;
pub mod guard;
pub mod page;
pub mod qr;
pub mod state;

use std::sync::Arc;

use pingora::proxy::Session;

use crate::config::Config;
use crate::direct::Direct;
use crate::error::BridgeError;
use crate::outcome::Outcome;
use crate::secrets::RandomUnavailable;
use crate::session_io::{read_body, send_error, send_json, ReadBodyError};
use crate::upstream_client::UpstreamClient;
use actions::Action;
use guard::CsrfToken;

/// Where the dashboard is, when it is served (`doctor` and `up` print it).
pub fn url(config: &Config) -> Option<String> {
    let base = crate::admin::codex_config::bridge_base_url(config);
    config
        .dashboard
        .then(|| format!("{}/dashboard", base.trim_end_matches("/v1")))
}

/// Refuses a dashboard request that lacks the bridge token with a Basic challenge, so the
/// browser asks for it (any user name, the token as password).
pub async fn ask_for_token(session: &mut Session, error: &BridgeError) -> pingora::Result<()> {
    let challenge = (
        "www-authenticate",
        r#"Basic realm="clawrouter-codex""#.into(),
    );
    send_json(session, error.status(), error.body(), &[challenge]).await
}

/// Largest body a dashboard change may send.
const MAX_ACTION_BODY: usize = 16 * 1024;

/// The dashboard of one bridge process.
#[derive(Debug)]
pub struct Dashboard {
    token: CsrfToken,
}

impl Dashboard {
    /// A dashboard with a fresh CSRF token.
    pub fn new() -> Result<Self, RandomUnavailable> {
        Ok(Dashboard {
            token: CsrfToken::new()?,
        })
    }

    /// Answers a request under `/dashboard`; how it ended, for the access log.
    pub async fn handle(
        &self,
        session: &mut Session,
        config: &Arc<Config>,
        client: &UpstreamClient,
        direct: Option<&Direct>,
    ) -> pingora::Result<Outcome> {
        let method = session.req_header().method.as_str().to_owned();
        let path = session
            .req_header()
            .uri
            .path()
            .trim_end_matches('/')
            .to_owned();
        let reading = matches!(method.as_str(), "GET" | "HEAD");
        if reading {
            if let Err(refusal) = guard::check_read(&session.req_header().headers) {
                return refuse(session, BridgeError::Forbidden(refusal.to_string())).await;
            }
        }
        match path.as_str() {
            "/dashboard" if reading => {
                let Ok(nonce) = crate::secrets::random_hex(16) else {
                    return refuse(session, BridgeError::Internal("no random nonce".into())).await;
                };
                page::send(session, &nonce, self.token.as_str()).await?;
                Ok(Outcome::Ok)
            }
            "/dashboard/api/state" if reading => {
                let state = state::gather(config, client, direct).await;
                send_json(session, 200, state.to_string().into_bytes(), &[]).await?;
                Ok(Outcome::Ok)
            }
            _ if path.starts_with("/dashboard/api/") && path != "/dashboard/api/state" => {
                let name = path.trim_start_matches("/dashboard/api/").to_owned();
                self.change(session, config, &method, &name).await
            }
            "/dashboard" | "/dashboard/api/state" => {
                refuse(session, BridgeError::MethodNotAllowed { method, path }).await
            }
            _ => refuse(session, BridgeError::NotFound { method, path }).await,
        }
    }

    /// A `POST /dashboard/api/<name>`: checked, then run.
    async fn change(
        &self,
        session: &mut Session,
        config: &Arc<Config>,
        method: &str,
        name: &str,
    ) -> pingora::Result<Outcome> {
        if method != "POST" {
            let error = BridgeError::MethodNotAllowed {
                method: method.to_owned(),
                path: format!("/dashboard/api/{name} (changes are POSTs; nothing was changed)"),
            };
            return refuse(session, error).await;
        }
        let peer = session
            .client_addr()
            .and_then(|addr| addr.as_inet())
            .map(|addr| addr.ip());
        if let Err(refusal) = self.token.check_change(&session.req_header().headers, peer) {
            log::warn!("dashboard change refused: {refusal}");
            return refuse(session, BridgeError::Forbidden(refusal.to_string())).await;
        }
        let body = match read_body(session, MAX_ACTION_BODY).await {
            Ok(body) => body,
            Err(ReadBodyError::Refused(e)) => return refuse(session, e).await,
            Err(ReadBodyError::Client(e)) => return Err(e),
        };
        let action = match Action::parse(name, &body) {
            Ok(action) => action,
            Err(why) => return refuse(session, BridgeError::InvalidRequest(why, None)).await,
        };
        log::info!("dashboard: {action:?}");
        let answer = action.run(config.clone()).await;
        send_json(session, 200, answer.to_string().into_bytes(), &[]).await?;
        Ok(Outcome::Ok)
    }
}

async fn refuse(session: &mut Session, error: BridgeError) -> pingora::Result<Outcome> {
    send_error(session, &error).await?;
    Ok(error.outcome())
}
