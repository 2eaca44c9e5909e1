//! The wall clock in unix seconds, the one way the bridge reads it (response timestamps,
//! payment windows, the ledger's days, backup names).

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the unix epoch (0 for a clock set before it).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// [`unix_now`] as the ledger stores it.
pub fn unix_now_i64() -> i64 {
    i64::try_from(unix_now()).unwrap_or(i64::MAX)
}
