//! What the bridge knows about its upstream, and the per-request choices that follow from it:
//! whether the upstream is asked to stream (`upstream.stream`), and whether code whitespace is
//! protected from ClawRouter's rewriting (`upstream.preserve_whitespace`).
//!
//! Both hang on one fact: is the upstream ClawRouter? Its `/health` names a wallet. The bridge
//! asks once, caches the answer once the upstream has answered, and asks again on a later
//! request while the upstream is unreachable.
//!
//! - **Streaming.** ClawRouter cannot stream from BlockRun: asked to stream it sends heartbeat
//!   comments, then the whole answer at once — and drops `reasoning_content`, which thinking
//!   models need back on their next tool turn. So `auto` makes non-streaming calls to ClawRouter
//!   (reasoning kept; nothing is lost, the answer arrives in one piece either way) with keep-alive
//!   events to Codex while it waits, and streaming calls to any other upstream.
//! - **Whitespace.** ClawRouter normalizes the whitespace of string contents in request bodies
//!   over 180 KB (see `translate::request::clawrouter`). `auto` protects contents in Chat bodies
//!   over [`PROTECT_WHITESPACE_ABOVE`] bytes sent to ClawRouter; `always` protects every body,
//!   `never` none.
//! - **Free models.** ClawRouter answers from a free model when its wallet cannot pay; its free
//!   models ([`super::free_models`]) tell a response when to say so
//!   ([`UpstreamProfile::model_notice`]).

use std::sync::Mutex;

use serde_json::Value;

use super::free_models::FreeModelList;
use crate::config::AutoSwitch;
use crate::translate::model_notice::{FreeModels, ModelNotice};
use crate::upstream_client::UpstreamClient;

/// Chat bodies above this size sent to ClawRouter have their whitespace protected: ClawRouter
/// rewrites bodies above 180 KB (its own count, after its own edits of the body), so this
/// leaves a margin.
pub const PROTECT_WHITESPACE_ABOVE: usize = 150 * 1024;

/// A Chat body is never much larger than the Responses body it is built from, so a request
/// below this size cannot need protection and never waits for the probe.
const WHITESPACE_PROBE_FLOOR: usize = PROTECT_WHITESPACE_ABOVE / 2;

/// The bridge's knowledge of its upstream and the settings that depend on it.
pub struct UpstreamProfile {
    stream: AutoSwitch,
    whitespace: AutoSwitch,
    /// `Some(true)` once the upstream answered like ClawRouter, `Some(false)` like anything else.
    is_clawrouter: Mutex<Option<bool>>,
    /// ClawRouter's free models.
    free_models: FreeModelList,
}

impl UpstreamProfile {
    /// `stream` and `whitespace` are the configured `upstream.stream` and
    /// `upstream.preserve_whitespace`; whether the upstream is ClawRouter is not known yet (it is
    /// asked on the first request that needs it, only when a setting is `auto`).
    pub fn new(stream: AutoSwitch, whitespace: AutoSwitch) -> Self {
        UpstreamProfile {
            stream,
            whitespace,
            is_clawrouter: Mutex::new(None),
            free_models: FreeModelList::default(),
        }
    }

    /// A profile for an upstream known not to be ClawRouter (direct mode: BlockRun's API), so
    /// nothing is probed and no ClawRouter workaround applies.
    pub fn not_clawrouter(stream: AutoSwitch, whitespace: AutoSwitch) -> Self {
        let profile = UpstreamProfile::new(stream, whitespace);
        if let Ok(mut known) = profile.is_clawrouter.lock() {
            *known = Some(false);
        }
        profile
    }

    /// True when the upstream should be asked to stream.
    pub async fn upstream_streams(&self, client: &UpstreamClient) -> bool {
        match self.stream {
            AutoSwitch::Always => true,
            AutoSwitch::Never => false,
            // Unknown for now (unreachable): the non-streaming call keeps reasoning either way.
            AutoSwitch::Auto => !self.is_clawrouter(client).await.unwrap_or(true),
        }
    }

    /// The Chat body size above which whitespace is protected, for a request whose (decoded)
    /// Responses body is `request_len` bytes long; `None`: not protected.
    pub async fn protect_whitespace_above(
        &self,
        client: &UpstreamClient,
        request_len: usize,
    ) -> Option<usize> {
        match self.whitespace {
            AutoSwitch::Always => Some(0),
            AutoSwitch::Never => None,
            AutoSwitch::Auto if request_len < WHITESPACE_PROBE_FLOOR => None,
            AutoSwitch::Auto => self
                .is_clawrouter(client)
                .await
                // Unknown (unreachable): the default upstream is ClawRouter.
                .unwrap_or(true)
                .then_some(PROTECT_WHITESPACE_ABOVE),
        }
    }

    /// What is known without asking: `Some(false)` only once the upstream answered unlike
    /// ClawRouter.
    pub fn known_clawrouter(&self) -> Option<bool> {
        self.is_clawrouter.lock().ok().and_then(|known| *known)
    }

    /// What a response to a request for `requested` watches for: an answer from one of
    /// ClawRouter's free models. `None` when the upstream is not known to be ClawRouter (this
    /// asks nothing more: every streaming request, and so every Codex turn, has had it asked
    /// already), or `requested` is free itself.
    pub async fn model_notice(
        &self,
        client: &UpstreamClient,
        requested: &str,
    ) -> Option<ModelNotice> {
        if self.known_clawrouter() != Some(true) || FreeModels::default().is_free(requested) {
            return None;
        }
        ModelNotice::new(requested, self.free_models.get(client).await)
    }

    /// Whether the upstream is ClawRouter, asking it once; `None` while it does not answer.
    async fn is_clawrouter(&self, client: &UpstreamClient) -> Option<bool> {
        if let Some(known) = self.known_clawrouter() {
            return Some(known);
        }
        let answer = probe_is_clawrouter(client).await?;
        if let Ok(mut known) = self.is_clawrouter.lock() {
            *known = Some(answer);
        }
        log::info!(
            "upstream {} {}",
            client.upstream().url,
            if answer {
                "is ClawRouter: non-streaming calls (they keep reasoning), whitespace of big \
                 bodies protected"
            } else {
                "is not ClawRouter: streaming calls"
            },
        );
        Some(answer)
    }
}

/// Asks the upstream's `/health`; `None` when it did not answer at all.
async fn probe_is_clawrouter(client: &UpstreamClient) -> Option<bool> {
    let path = client.upstream().root_path("/health");
    let reply = client
        .send("GET", &path, &[("accept", "application/json")], None)
        .await
        .ok()?;
    Some(reply.status == 200 && names_a_wallet(&reply.body))
}

/// ClawRouter's `/health` carries its wallet (`{"status":"ok","wallet":"0x…","paymentChain":…}`).
fn names_a_wallet(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .is_some_and(|health| {
            health.get("wallet").is_some() || health.get("paymentChain").is_some()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clawrouter_health_is_recognised() {
        assert!(names_a_wallet(
            br#"{"status":"ok","wallet":"0x2c75","paymentChain":"base"}"#
        ));
        assert!(!names_a_wallet(br#"{"status":"ok"}"#));
        assert!(!names_a_wallet(b"<html>not found</html>"));
    }
}
