//! Which models the upstream serves for free, learned from its `GET /v1/models` and kept for a
//! while, so that a response can say when a free model answered instead of the chosen one
//! ([`crate::translate::model_notice`]).
//!
//! Only ClawRouter swaps a free model in for the one asked for (when its wallet cannot pay), so
//! only a ClawRouter upstream is asked (as [`super::upstream_profile`] found out), and only
//! for a request that named a model that is not free. The list is asked for at most once per
//! [`FRESH_FOR`] (concurrent requests wait for the one fetch), within [`FETCH_TIMEOUT`]; an
//! upstream that does not give it is asked again after [`RETRY_AFTER`], and meanwhile only the
//! rules that need no list apply (`free`, `free/…`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::translate::model_notice::FreeModels;
use crate::upstream_client::UpstreamClient;

/// How long a fetched list is used before it is asked for again.
pub const FRESH_FOR: Duration = Duration::from_secs(300);

/// How long an upstream that did not give its list is left alone.
pub const RETRY_AFTER: Duration = Duration::from_secs(30);

/// The longest the list is waited for (ClawRouter answers it from memory).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(2);

/// The free models of one upstream, cached.
#[derive(Default)]
pub struct FreeModelList {
    /// The list and until when it is used.
    cached: Mutex<Option<(Instant, Arc<FreeModels>)>>,
}

impl FreeModelList {
    /// The upstream's free models: the cached list while fresh, else asked for now.
    pub async fn get(&self, client: &UpstreamClient) -> Arc<FreeModels> {
        let mut cached = self.cached.lock().await;
        if let Some((until, list)) = cached.as_ref() {
            if Instant::now() < *until {
                return list.clone();
            }
        }
        let (list, keep) = match fetch(client).await {
            Some(list) => (Arc::new(list), FRESH_FOR),
            None => (Arc::new(FreeModels::default()), RETRY_AFTER),
        };
        *cached = Some((Instant::now() + keep, list.clone()));
        list
    }
}

/// Asks the upstream for its model list; `None` when it gave none.
async fn fetch(client: &UpstreamClient) -> Option<FreeModels> {
    let path = client.upstream().path_for("/v1/models");
    let asked = client.send("GET", &path, &[("accept", "application/json")], None);
    let reply = match tokio::time::timeout(FETCH_TIMEOUT, asked).await {
        Ok(Ok(reply)) if reply.status == 200 => reply,
        Ok(Ok(reply)) => {
            log::debug!("{path}: HTTP {}, no list of free models", reply.status);
            return None;
        }
        Ok(Err(e)) => {
            log::debug!("{path}: {e:?}, no list of free models");
            return None;
        }
        Err(_) => {
            log::debug!("{path}: no answer within {FETCH_TIMEOUT:?}, no list of free models");
            return None;
        }
    };
    let list = FreeModels::from_model_list(&reply.body);
    if list.is_none() {
        log::debug!("{path}: not a model list, no list of free models");
    }
    list
}
