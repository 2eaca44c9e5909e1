//! A cheap fingerprint of a request body: its length, first 4 KiB and last 64 KiB, hashed
//! with a per-process random key. Codex's bodies grow at their end, so two different turns
//! differ in the part hashed, while a 1 MiB body costs a hash of 68 KiB, not of all of it.
//! Used to find a body again (the replay guard's failures, direct mode's unsettled payments);
//! where being wrong would cost money, the caller compares the whole body once found.

use std::hash::BuildHasher;

/// Bytes hashed from the start of a body.
const HEAD: usize = 4 * 1024;
/// Bytes hashed from its end.
const TAIL: usize = 64 * 1024;

/// The fingerprint of `body` under `hasher` (a `RandomState` the caller keeps).
pub fn of(hasher: &impl BuildHasher, body: &[u8]) -> u64 {
    let head = &body[..body.len().min(HEAD)];
    let tail = &body[body.len().saturating_sub(TAIL)..];
    hasher.hash_one((body.len(), head, tail))
}
