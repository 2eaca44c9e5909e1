//! `GET /health`: is the bridge up, where does it forward, and (`?full=true`) is the upstream
//! reachable and what does the ClawRouter proxy say about its wallet.

use pingora::proxy::Session;
use serde_json::{json, Map, Value};

use crate::session_io::send_json;
use crate::upstream_client::{UpstreamClient, UpstreamReply};

/// Answers `GET /health`: [`basic`], or with `?full=true` (or `full=1`) [`full`] through the
/// primary upstream's `client`; in team mode `team` adds the members' status as `upstreams`.
pub async fn answer(
    session: &mut Session,
    upstream_url: &str,
    client: &UpstreamClient,
    team: impl FnOnce() -> Option<Value>,
) -> pingora::Result<()> {
    let full_asked = session
        .req_header()
        .uri
        .query()
        .is_some_and(|q| q.split('&').any(|p| p == "full=true" || p == "full=1"));
    let mut answer = if full_asked {
        full(client).await
    } else {
        basic(upstream_url)
    };
    if let (Some(team), Some(fields)) = (team(), answer.as_object_mut()) {
        fields.insert("upstreams".into(), team);
    }
    send_json(session, 200, answer.to_string().into_bytes(), &[]).await
}

/// Wallet fields copied from ClawRouter's `/health?full=true` (never a key: it has none).
const PROXY_WALLET_FIELDS: &[&str] = &[
    "wallet",
    "paymentChain",
    "solana",
    "balance",
    "isLow",
    "isEmpty",
    "balanceError",
];

/// The plain health answer.
pub fn basic(upstream_url: &str) -> Value {
    json!({
        "status": "ok",
        "service": "clawrouter-codex",
        "version": env!("CARGO_PKG_VERSION"),
        "upstream": upstream_url,
    })
}

/// The full answer: the plain one plus upstream reachability and the proxy's wallet fields.
/// Always `status: ok` for the bridge itself; the upstream's state is in its own fields.
pub async fn full(client: &UpstreamClient) -> Value {
    let upstream = client.upstream();
    let mut answer = basic(&upstream.url);
    let health_path = upstream.root_path("/health?full=true");
    let probe = client
        .send("GET", &health_path, &[("accept", "application/json")], None)
        .await;
    let fields = answer.as_object_mut();
    let Some(fields) = fields else { return answer };
    match probe {
        Ok(reply) if reply.status == 200 => {
            fields.insert("upstream_reachable".into(), Value::Bool(true));
            merge_wallet_fields(fields, &reply);
        }
        _ => {
            // Not ClawRouter (no /health), or down: the model list says whether it answers.
            let models = client
                .send(
                    "GET",
                    &upstream.path_for("/v1/models"),
                    &[("accept", "application/json")],
                    None,
                )
                .await;
            let (reachable, detail) = match models {
                Ok(reply) => (reply.status < 500, format!("HTTP {}", reply.status)),
                Err(e) => (false, e.to_string()),
            };
            fields.insert("upstream_reachable".into(), Value::Bool(reachable));
            if !reachable {
                fields.insert("upstream_error".into(), Value::String(detail));
            }
        }
    }
    answer
}

fn merge_wallet_fields(fields: &mut Map<String, Value>, reply: &UpstreamReply) {
    let Ok(Value::Object(proxy)) = serde_json::from_slice::<Value>(&reply.body) else {
        return;
    };
    for key in PROXY_WALLET_FIELDS {
        if let Some(value) = proxy.get(*key) {
            fields.insert((*key).to_owned(), value.clone());
        }
    }
}
