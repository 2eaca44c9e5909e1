//! Unique ids for responses, output items and tool calls (`resp_…`, `msg_…`, `fc_…`, `ctc_…`,
//! `call_…`), without a random-number crate.
//!
//! Each id is a prefix, `_`, and 32 lowercase hex digits made of two 64-bit words. Both words are
//! splitmix64 outputs of a per-process seed and a process-wide counter:
//! - within one process the first word alone is unique: the splitmix64 finalizer is a bijection
//!   and `seed + n·γ` (γ odd) never repeats for 2^64 counter values;
//! - across processes (several bridges behind a load balancer, restarts) the seed differs: it
//!   mixes the process id, the start time in nanoseconds, a stack address (ASLR) and the
//!   thread id, so two processes share a seed only by a 2^-64 accident.
//!
//! The ids are unguessable enough for correlation, not for security: nothing here is a secret.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The splitmix64 increment (an odd constant, the golden ratio in 64 bits).
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

static COUNTER: AtomicU64 = AtomicU64::new(0);
static SEED: OnceLock<(u64, u64)> = OnceLock::new();

/// A new id `<prefix>_<32 hex digits>`, unique across threads and processes.
///
/// `prefix` is given without the underscore (`"resp"` → `resp_…`); a prefix that already ends in
/// `_` is used as it is (`"resp_"` → `resp_…`). An empty prefix gives just the hex digits.
pub fn new_id(prefix: &str) -> String {
    let (seed_a, seed_b) = *SEED.get_or_init(process_seed);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let a = splitmix64(seed_a.wrapping_add(n.wrapping_mul(GAMMA)));
    let b = splitmix64(seed_b ^ a.rotate_left(29) ^ n);
    let mut id = String::with_capacity(prefix.len() + 33);
    id.push_str(prefix);
    if !prefix.is_empty() && !prefix.ends_with('_') {
        id.push('_');
    }
    push_hex(&mut id, a);
    push_hex(&mut id, b);
    id
}

/// The splitmix64 output function: a fast, well-distributed bijection on 64-bit words.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Two seed words from what distinguishes this process from every other one.
fn process_seed() -> (u64, u64) {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let pid = u64::from(std::process::id());
    let stack_marker = 0u8;
    let address = std::ptr::addr_of!(stack_marker) as usize as u64;
    let mut hasher = DefaultHasher::new();
    std::thread::current().id().hash(&mut hasher);
    let thread = hasher.finish();

    let low = nanos as u64;
    let high = (nanos >> 64) as u64;
    let a = splitmix64(low ^ splitmix64(pid ^ splitmix64(address)));
    let b =
        splitmix64(a ^ high ^ splitmix64(thread ^ pid.rotate_left(32)) ^ address.rotate_left(17));
    (a, b)
}

fn push_hex(out: &mut String, word: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..16).rev() {
        let nibble = ((word >> (shift * 4)) & 0xf) as usize;
        out.push(char::from(DIGITS[nibble]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_have_prefix_and_32_hex_digits() {
        for (prefix, want) in [("resp", "resp_"), ("msg_", "msg_"), ("call", "call_")] {
            let id = new_id(prefix);
            let hex = id.strip_prefix(want).expect("prefix");
            assert_eq!(hex.len(), 32, "{id}");
            assert!(hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        }
        assert_eq!(new_id("").len(), 32);
    }

    #[test]
    fn hundred_thousand_ids_are_unique() {
        let ids: HashSet<String> = (0..100_000).map(|_| new_id("fc")).collect();
        assert_eq!(ids.len(), 100_000);
    }

    #[test]
    fn ids_are_unique_across_threads() {
        let handles: Vec<_> = (0..8)
            .map(|_| std::thread::spawn(|| (0..20_000).map(|_| new_id("x")).collect::<Vec<_>>()))
            .collect();
        let mut all = HashSet::new();
        for handle in handles {
            for id in handle.join().expect("thread") {
                assert!(all.insert(id));
            }
        }
        assert_eq!(all.len(), 160_000);
    }

    #[test]
    fn different_seeds_give_different_ids_for_the_same_counter() {
        // Stands in for two processes: same counter value, different seeds.
        let a = splitmix64(1u64.wrapping_add(5u64.wrapping_mul(GAMMA)));
        let b = splitmix64(2u64.wrapping_add(5u64.wrapping_mul(GAMMA)));
        assert_ne!(a, b);
    }
}
