//! The access log: one line per request, kept off the request's path. A request only appends
//! its line to a buffer (an uncontended lock, no system call); a thread of its own writes what
//! gathered every [`FLUSH_EVERY`] to stderr in one write. Measured on the small-request bench:
//! one system call less per request than logging in place, where a channel that wakes a writer
//! per line would add about three `futex` calls instead.
//!
//! Lines look like the bridge's other log lines (`[<UTC time> INFO  clawrouter_codex::access]
//! …`) and obey the same `RUST_LOG`/`log.level` filter (`clawrouter_codex::access=off` silences
//! them). A process killed outright loses at most the last [`FLUSH_EVERY`] of lines.

use std::io::Write;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

/// The log target of access lines.
pub const TARGET: &str = "clawrouter_codex::access";

/// How often the writer thread writes what gathered.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// Lines waiting for the writer, already formatted (each ends with a newline).
static PENDING: LazyLock<Mutex<String>> = LazyLock::new(|| {
    let started = std::thread::Builder::new()
        .name("access-log".to_owned())
        .spawn(writer);
    if let Err(e) = started {
        log::warn!("no access-log thread ({e}); access lines are written in place");
    }
    Mutex::new(String::new())
});

/// True when access lines are written at all (build them only then).
pub fn enabled() -> bool {
    log::log_enabled!(target: TARGET, log::Level::Info)
}

/// Queues one access line.
pub fn write(line: &str) {
    let stamped = format!("[{} INFO  {TARGET}] {line}\n", utc_now());
    match PENDING.lock() {
        Ok(mut pending) => pending.push_str(&stamped),
        // A writer that panicked holding the lock: write in place.
        Err(_) => {
            let _ = std::io::stderr().write_all(stamped.as_bytes());
        }
    }
}

fn writer() {
    loop {
        std::thread::sleep(FLUSH_EVERY);
        let batch = match PENDING.lock() {
            Ok(mut pending) if !pending.is_empty() => std::mem::take(&mut *pending),
            _ => continue,
        };
        let _ = std::io::stderr().write_all(batch.as_bytes());
    }
}

/// `2026-12-04T03:39:31.798Z`, as the other log lines stamp themselves.
fn utc_now() -> String {
    format!("{:.3}", jiff::Timestamp::now())
}
