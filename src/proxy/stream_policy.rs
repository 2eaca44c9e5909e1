//! Whether the upstream is asked to stream (`upstream.stream: auto | always | never`).
//!
//! Streaming gives Codex tokens as they are made, but ClawRouter cannot stream from BlockRun:
//! asked to stream it sends heartbeat comments, then the whole answer at once — and drops
//! `reasoning_content`, which thinking models need back on their next tool turn. So `auto`
//! asks once whether the upstream is ClawRouter (its `/health` names a wallet) and then:
//! ClawRouter → non-streaming calls (reasoning kept; nothing is lost, the answer arrives in
//! one piece either way) with keep-alive events to Codex while it waits; any other upstream →
//! streaming. The answer is cached once the upstream has answered the probe; an unreachable
//! upstream is asked again on the next request.

use std::sync::Mutex;

use serde_json::Value;

use super::upstream::UpstreamClient;
use crate::config::StreamMode;

/// The per-bridge streaming decision.
pub struct StreamPolicy {
    mode: StreamMode,
    /// `Some(true)` once the upstream answered like ClawRouter, `Some(false)` like anything else.
    upstream_buffers: Mutex<Option<bool>>,
}

impl StreamPolicy {
    pub fn new(mode: StreamMode) -> Self {
        StreamPolicy {
            mode,
            upstream_buffers: Mutex::new(None),
        }
    }

    /// True when the upstream should be asked to stream.
    pub async fn upstream_streams(&self, client: &UpstreamClient) -> bool {
        match self.mode {
            StreamMode::Always => true,
            StreamMode::Never => false,
            StreamMode::Auto => {
                let known = self.upstream_buffers.lock().ok().and_then(|known| *known);
                let buffers = match known {
                    Some(buffers) => buffers,
                    None => match probe_buffers(client).await {
                        Some(buffers) => {
                            if let Ok(mut known) = self.upstream_buffers.lock() {
                                *known = Some(buffers);
                            }
                            log::info!(
                                "upstream {} {}: asking it to stream: {}",
                                client.upstream().url,
                                if buffers {
                                    "is ClawRouter (buffers answers)"
                                } else {
                                    "is not ClawRouter"
                                },
                                !buffers
                            );
                            buffers
                        }
                        // Unknown for now: the non-streaming call keeps reasoning either way.
                        None => true,
                    },
                };
                !buffers
            }
        }
    }
}

/// Asks the upstream's `/health`; `None` when it did not answer at all.
async fn probe_buffers(client: &UpstreamClient) -> Option<bool> {
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
