//! Lets Codex's retries of a failed turn reach the model through ClawRouter's replay memory.
//!
//! ClawRouter answers a request body identical to one it finished in the last 30 seconds from
//! memory, **errors included**, and no header turns that off (`Cache-Control: no-cache` only
//! skips its 10-minute cache of successes). Codex retries a 429 or a 5xx with the same body
//! within seconds, so without help every retry would get the first error back.
//!
//! The guard remembers, for [`REPLAY_WINDOW`], which Chat bodies failed (a keyed 64-bit
//! fingerprint of the body's length, start and end — where a retry's nudge and every new turn
//! differ —, never the text) and how often. When the same body comes again in that window, the request
//! is translated once more with a *retry nudge* (`translate::request::clawrouter::nudge`):
//! newlines appended to the end of the last user or tool message, so its hash in ClawRouter
//! differs on every retry. Everything else about the body, and every request that did not just
//! fail, stays byte for byte what it would be otherwise.
//!
//! Why newlines there, read from ClawRouter's source (v0.12.246): its key is the SHA-256 of the
//! whole body as canonical JSON (`src/dedup.ts`), taken after its routing and compression, so
//! neither key order, JSON spacing, the `model` spelling (routing rewrites it) nor any header
//! can make a difference; nothing in the body is dropped before it is forwarded, so whatever
//! differs reaches the provider. Message text is the one thing every provider behind BlockRun
//! accepts in any form, and a trailing newline in a text part survives ClawRouter (its leading
//! `[DAY …]` stamp stripping and whitespace rules touch strings only). ClawRouter's other
//! readers of the last user message ignore it (its repeat detector collapses whitespace, the
//! `/debug` check looks at the start). For the model it is the end of a message it has already
//! read; providers' prompt caches, which match prefixes, still hit; no provider rejects it in a
//! user or tool message (Anthropic rejects trailing whitespace only in a final assistant
//! message, which the nudge never touches).
//!
//! Cost: a fingerprint reads at most 68 KiB of the body, so the body itself need not be kept
//! while the answer streams; while nothing failed in the window (the normal case) that is all.

use std::collections::HashMap;
use std::hash::RandomState;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a failure is remembered: ClawRouter's 30 s, plus a margin for the time between its
/// answer and ours.
pub const REPLAY_WINDOW: Duration = Duration::from_secs(35);

/// Most failing bodies remembered at once (the oldest is forgotten first).
const MAX_REMEMBERED: usize = 256;

/// The largest nudge: after this many failures in a row the retry is sent as is.
const MAX_NUDGE: u32 = 32;

/// Remembers recently failed Chat bodies.
pub struct ReplayGuard {
    window: Duration,
    hasher: RandomState,
    failed: Mutex<HashMap<u64, Failures>>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

/// What [`ReplayGuard::check`] found for one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ticket {
    /// The body's fingerprint.
    key: u64,
    /// How many times this body failed in the window: the newlines to nudge it with.
    pub nudge: u32,
}

impl Default for ReplayGuard {
    fn default() -> Self {
        Self::new(REPLAY_WINDOW)
    }
}

impl ReplayGuard {
    /// A guard remembering failures for `window`.
    pub fn new(window: Duration) -> Self {
        ReplayGuard {
            window,
            hasher: RandomState::new(),
            failed: Mutex::new(HashMap::new()),
        }
    }

    /// Before a request: how many times `body` failed within the window.
    pub fn check(&self, body: &[u8]) -> Ticket {
        let key = self.fingerprint(body);
        let nudge = self
            .remembered()
            .get(&key)
            .map_or(0, |f| f.count.min(MAX_NUDGE));
        Ticket { key, nudge }
    }

    /// The body's fingerprint ([`crate::fingerprint`]) under this guard's random key.
    fn fingerprint(&self, body: &[u8]) -> u64 {
        crate::fingerprint::of(&self.hasher, body)
    }

    /// After a failed answer: remembers that the body of `ticket` (the body [`Self::check`]
    /// was given) failed once more. A success changes nothing: the failures stay in ClawRouter's memory for
    /// the rest of the window, so the same request sent again in that time must still differ
    /// from them (it is then sent as the retry that succeeded, which ClawRouter may replay).
    pub fn failed(&self, ticket: &Ticket) {
        let key = ticket.key;
        let now = Instant::now();
        let mut remembered = self.remembered();
        if remembered.len() >= MAX_REMEMBERED && !remembered.contains_key(&key) {
            if let Some(oldest) = remembered
                .iter()
                .min_by_key(|(_, f)| f.last)
                .map(|(k, _)| *k)
            {
                remembered.remove(&oldest);
            }
        }
        let entry = remembered.entry(key).or_insert(Failures {
            count: 0,
            last: now,
        });
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
    }

    /// The remembered failures, the expired ones dropped.
    fn remembered(&self) -> MutexGuard<'_, HashMap<u64, Failures>> {
        // A poisoned lock only means a panic elsewhere while it was held; the map is still valid.
        let mut failed = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        if !failed.is_empty() {
            let window = self.window;
            failed.retain(|_, f| f.last.elapsed() < window);
        }
        failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_that_failed_is_nudged_more_on_every_failed_retry() {
        let guard = ReplayGuard::default();
        let body = br#"{"model":"m","messages":[]}"#;
        let first = guard.check(body);
        assert_eq!(first.nudge, 0);
        guard.failed(&first);
        let retry = guard.check(body);
        assert_eq!(retry.nudge, 1);
        guard.failed(&retry);
        assert_eq!(guard.check(body).nudge, 2);
        assert_eq!(guard.check(b"another body").nudge, 0);
        // A success leaves the count: the same request is sent like the retry that succeeded.
        assert_eq!(guard.check(body).nudge, 2);
    }

    #[test]
    fn bodies_that_differ_at_the_start_or_end_have_different_fingerprints() {
        let guard = ReplayGuard::default();
        let big = vec![b'x'; 300_000];
        let mut end = big.clone();
        end.push(b'\n');
        let mut start = big.clone();
        start[0] = b'y';
        let keys = [&big, &end, &start].map(|b| guard.check(b).key);
        assert_ne!(keys[0], keys[1]);
        assert_ne!(keys[0], keys[2]);
        assert_eq!(guard.check(&big.clone()).key, keys[0]);
    }

    #[test]
    fn failures_are_forgotten_after_the_window() {
        let guard = ReplayGuard::new(Duration::from_millis(1));
        let body = b"body";
        guard.failed(&guard.check(body));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(guard.check(body).nudge, 0);
    }

    #[test]
    fn memory_is_bounded() {
        let guard = ReplayGuard::default();
        for i in 0..(MAX_REMEMBERED + 50) {
            guard.failed(&guard.check(format!("body {i}").as_bytes()));
        }
        assert_eq!(guard.remembered().len(), MAX_REMEMBERED);
        assert_eq!(
            guard
                .check(format!("body {}", MAX_REMEMBERED + 49).as_bytes())
                .nudge,
            1
        );
    }
}
