//! The configured upstreams: one, or several in team mode (`upstreams:` in the YAML; e.g. one
//! ClawRouter per wallet, or ClawRouter plus another OpenAI-compatible provider).
//!
//! With several, the choice is Pingora's load balancer (`pingora::lb`): Ketama consistent
//! hashing on Codex's thread id, so a conversation stays on one upstream — ClawRouter pins its
//! model per session and its caches are per process — while new conversations spread by
//! weight. Each upstream's health is checked in the background (a TCP connect every
//! `upstream.health_check_secs`), and an unhealthy one is skipped. When the chosen upstream
//! refuses the connection — nothing was sent, nothing can have been paid — the request goes to
//! the next healthy one ([`Upstreams::failover`]); once an upstream has the request, it is
//! never sent elsewhere.
//!
//! Each member has its own pooled client and its own profile (is it ClawRouter?), so the
//! streaming and whitespace decisions are made per upstream.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use pingora::http::RequestHeader;
use pingora::lb::discovery::Static;
use pingora::lb::health_check::TcpHealthCheck;
use pingora::lb::selection::consistent::KetamaHashing;
use pingora::lb::{Backend, Backends, LoadBalancer};
use pingora::protocols::l4::socket::SocketAddr as PingoraAddr;
use serde_json::{json, Value};

use super::upstream_profile::UpstreamProfile;
use crate::config::Config;
use crate::upstream_client::UpstreamClient;

/// Client headers whose value identifies the Codex thread (newest spelling first).
const THREAD_HEADERS: &[&str] = &["x-session-id", "session-id", "thread-id", "session_id"];

/// How far the consistent-hash ring is walked for a healthy, untried upstream.
const MAX_RING_STEPS: usize = 256;

/// One upstream: its client and what the bridge knows about it.
pub struct Member {
    /// Its place in the configuration (`upstreams[index]`), also its metrics label.
    pub index: usize,
    /// Its own pooled HTTP client (address, TLS, time-outs, API key).
    pub client: UpstreamClient,
    /// Whether it is ClawRouter, learned on first use, and the streaming and whitespace
    /// choices that follow.
    pub profile: UpstreamProfile,
}

/// Every upstream, and in team mode the balancer that chooses among them.
pub struct Upstreams {
    members: Vec<Member>,
    balancer: Option<Arc<LoadBalancer<KetamaHashing>>>,
    /// Spreads requests without a thread id over the ring.
    anonymous: AtomicU64,
}

impl Upstreams {
    /// One member per entry of `config.upstreams` (never empty: `upstream:` alone makes one),
    /// and the balancer when there are several. Nothing is connected yet, and the balancer's
    /// health checks run only once [`Upstreams::balancer`] is added as a background service.
    pub fn new(config: &Config) -> Self {
        let members: Vec<Member> = config
            .upstreams
            .iter()
            .enumerate()
            .map(|(index, upstream)| Member {
                index,
                client: UpstreamClient::new(upstream),
                profile: match config.direct {
                    Some(_) => UpstreamProfile::not_clawrouter(
                        config.stream_mode,
                        config.preserve_whitespace,
                    ),
                    None => UpstreamProfile::new(config.stream_mode, config.preserve_whitespace),
                },
            })
            .collect();
        let balancer = (members.len() > 1).then(|| Arc::new(balancer(config)));
        Upstreams {
            members,
            balancer,
            anonymous: AtomicU64::new(0),
        }
    }

    /// The first upstream: the one `/health`, `/api/tags` and the dashboard talk to.
    pub fn primary(&self) -> &Member {
        &self.members[0]
    }

    /// Every upstream, in configuration order (`members()[i].index == i`); one outside team
    /// mode.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The balancer, to run its health checks as a background service (team mode only).
    pub fn balancer(&self) -> Option<Arc<LoadBalancer<KetamaHashing>>> {
        self.balancer.clone()
    }

    /// The upstream for a request of Codex thread `thread`: the same one for every turn of a
    /// thread while it is healthy.
    pub fn choose(&self, thread: Option<&str>) -> &Member {
        self.pick(thread, &[]).unwrap_or(&self.members[0])
    }

    /// The next upstream for a request whose upstreams in `tried` refused the connection;
    /// `None` when every upstream was tried.
    pub fn failover(&self, thread: Option<&str>, tried: &[usize]) -> Option<&Member> {
        self.pick(thread, tried)
    }

    /// Whether upstream `index` passed its last health check (always true for one upstream).
    pub fn is_healthy(&self, index: usize) -> bool {
        match &self.balancer {
            None => true,
            Some(balancer) => balancer
                .backends()
                .get_backend()
                .iter()
                .find(|backend| member_index(backend) == Some(index))
                .is_some_and(|backend| balancer.backends().ready(backend)),
        }
    }

    /// Team mode, for `/health`: each upstream's URL, weight and last health check.
    pub fn team_status(&self) -> Option<Value> {
        self.balancer.as_ref()?;
        let members = self.members.iter().map(|member| {
            let upstream = member.client.upstream();
            json!({"url": upstream.url, "weight": upstream.weight,
                   "healthy": self.is_healthy(member.index)})
        });
        Some(Value::Array(members.collect()))
    }

    fn pick(&self, thread: Option<&str>, tried: &[usize]) -> Option<&Member> {
        let Some(balancer) = &self.balancer else {
            return (!tried.contains(&0)).then(|| &self.members[0]);
        };
        let anonymous;
        let key = match thread {
            Some(thread) => thread.as_bytes(),
            None => {
                anonymous = self.anonymous.fetch_add(1, Ordering::Relaxed).to_le_bytes();
                &anonymous[..]
            }
        };
        let untried =
            |backend: &Backend| member_index(backend).is_some_and(|i| !tried.contains(&i));
        // A healthy upstream first; if none is left, an unchecked or failing one is still
        // better than certain failure (health checks lag behind).
        let chosen = balancer
            .select_with(key, MAX_RING_STEPS, |backend, healthy| {
                healthy && untried(backend)
            })
            .or_else(|| balancer.select_with(key, MAX_RING_STEPS, |backend, _| untried(backend)))?;
        member_index(&chosen).and_then(|i| self.members.get(i))
    }
}

/// Which member a backend stands for (stored in its extensions).
fn member_index(backend: &Backend) -> Option<usize> {
    backend.ext.get::<MemberIndex>().map(|index| index.0)
}

#[derive(Clone, Copy)]
struct MemberIndex(usize);

/// Pingora's load balancer over the configured upstreams, with TCP health checks.
fn balancer(config: &Config) -> LoadBalancer<KetamaHashing> {
    let backends: BTreeSet<Backend> = config
        .upstreams
        .iter()
        .enumerate()
        .map(|(index, upstream)| {
            let mut backend = Backend {
                addr: PingoraAddr::Inet(upstream.addr),
                weight: upstream.weight,
                ext: Default::default(),
            };
            backend.ext.insert(MemberIndex(index));
            backend
        })
        .collect();
    let mut backends = Backends::new(Static::new(backends));
    let mut check = TcpHealthCheck::new();
    check.peer_template.options.connection_timeout = Some(config.upstream.connect_timeout);
    backends.set_health_check(check);
    let mut balancer = LoadBalancer::from_backends(backends);
    balancer.health_check_frequency = Some(config.health_check_interval);
    balancer.parallel_health_check = true;
    // The static list is read at once (its discovery never waits), so the balancer can choose
    // before its background service first runs.
    let loaded = {
        let mut update = std::pin::pin!(balancer.update());
        let mut context = Context::from_waker(Waker::noop());
        matches!(update.as_mut().poll(&mut context), Poll::Ready(Ok(())))
    };
    if !loaded {
        log::warn!("the upstream list is not loaded yet; the first upstream serves until it is");
    }
    balancer
}

/// Codex's thread id, from the first thread header that holds a sane value: the affinity key
/// (and what the upstream is told, for its own per-session choices).
pub fn thread_id(request: &RequestHeader) -> Option<String> {
    THREAD_HEADERS.iter().find_map(|name| {
        let value = request.headers.get(*name)?.to_str().ok()?.trim();
        let sane = !value.is_empty()
            && value.len() <= 128
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b':');
        sane.then(|| value.to_owned())
    })
}
