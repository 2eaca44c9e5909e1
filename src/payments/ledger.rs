//! `ledger`: every payment direct mode signs, in SQLite (`rusqlite`, SQLite bundled), and the
//! daily and per-thread caps enforced against it.
//!
//! - One `payments` row per signed authorization: time, model, amount (USDC base units),
//!   nonce, chain, payee, request and thread ids, and an [`Outcome`]: `signed` (reserved,
//!   about to be sent), `answered` (BlockRun answered the paid request), `refused` (BlockRun
//!   answered 402 again: the payment was not taken) or `unknown` (sent, no answer seen).
//! - [`Ledger::reserve`] checks the caps and inserts the row inside one `BEGIN IMMEDIATE`
//!   transaction, so two reservations racing for the last room of a cap (other threads, other
//!   processes) cannot both pass: the second waits for the first's write lock, then sees its
//!   row. Everything but `refused` counts against the caps. The same request id is never
//!   paid twice.
//! - A database that is corrupt, not a database, from a newer bridge, or locked past the
//!   busy timeout is a [`LedgerError`] and no payment: it is never reset or recreated.
//! - [`append_cost_log`] adds the line ClawRouter writes per payment to
//!   `$BLOCKRUN_HOME/cost_log.jsonl` (default `~/.blockrun`), so BlockRun's tools see
//!   direct-mode spending too.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::policy::{Caps, Refusal, Usdc};

/// The schema version this bridge writes (`PRAGMA user_version`).
const SCHEMA_VERSION: i64 = 1;
/// How long a reservation waits for another writer before giving up (and not paying).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Seconds per day: UTC days start at multiples of this.
const DAY_SECS: i64 = 86_400;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS payments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts INTEGER NOT NULL,
    model TEXT NOT NULL,
    amount INTEGER NOT NULL CHECK (amount >= 0),
    nonce TEXT NOT NULL UNIQUE,
    chain TEXT NOT NULL,
    payee TEXT NOT NULL,
    request_id TEXT,
    thread_id TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('signed', 'answered', 'refused', 'unknown'))
);
CREATE INDEX IF NOT EXISTS payments_ts ON payments (ts);
CREATE INDEX IF NOT EXISTS payments_thread ON payments (thread_id);
CREATE INDEX IF NOT EXISTS payments_request ON payments (request_id);
";

/// What became of a signed payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Reserved and signed; not yet answered.
    Signed,
    /// BlockRun answered the paid request.
    Answered,
    /// BlockRun answered 402 again: it did not take the payment.
    Refused,
    /// Sent, but no answer was seen (the payment may have been taken).
    Unknown,
}

impl Outcome {
    /// The name stored in the `outcome` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Signed => "signed",
            Outcome::Answered => "answered",
            Outcome::Refused => "refused",
            Outcome::Unknown => "unknown",
        }
    }
}

/// A payment about to be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    /// Unix seconds.
    pub ts: i64,
    /// The model paid for.
    pub model: String,
    /// USDC base units.
    pub amount: Usdc,
    /// The authorization's nonce, `0x` + 64 hex digits.
    pub nonce: String,
    /// CAIP-2 network.
    pub chain: String,
    /// The payee's address.
    pub payee: String,
    /// The bridge's id of the request, when known.
    pub request_id: Option<String>,
    /// Codex's thread (conversation) id, when known.
    pub thread_id: Option<String>,
}

/// Why the ledger could not record a payment. Nothing was paid.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The file could not be opened or read as this bridge's ledger.
    #[error("the payment ledger {path} cannot be used ({problem}), so no payment is made; if the file is damaged, move it aside (it is never reset automatically) and restart")]
    Unusable {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        problem: String,
    },
    /// Another writer held the lock past the busy timeout.
    #[error("the payment ledger {path} is locked by another process, so no payment is made; retry, or stop the other bridge using it")]
    Locked {
        /// The database file.
        path: PathBuf,
    },
    /// A query failed.
    #[error("the payment ledger {path} failed while {doing} ({problem}), so no payment is made")]
    Query {
        /// The database file.
        path: PathBuf,
        /// What the ledger was doing.
        doing: &'static str,
        /// What SQLite said.
        problem: String,
    },
    /// A cap would be exceeded.
    #[error(transparent)]
    Cap(#[from] Refusal),
    /// This request id was already paid.
    #[error("request {0} was already paid once; a second payment for it is refused (BlockRun refused the payment)")]
    AlreadyPaid(String),
    /// No such payment row.
    #[error("the payment ledger {path} has no payment {id}")]
    NoSuchPayment {
        /// The database file.
        path: PathBuf,
        /// The row id.
        id: i64,
    },
}

/// The payment ledger (one SQLite connection; open one per thread).
#[derive(Debug)]
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
}

impl Ledger {
    /// Opens (creating when absent) the ledger at `path` and checks it is one.
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        let unusable = |e: rusqlite::Error| LedgerError::Unusable {
            path: path.to_owned(),
            problem: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            crate::fsutil::create_private_dir(dir).map_err(|e| LedgerError::Unusable {
                path: path.to_owned(),
                problem: format!("cannot create its folder: {e}"),
            })?;
        }
        let conn = Connection::open(path).map_err(unusable)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(unusable)?;
        let ledger = Ledger {
            conn,
            path: path.to_owned(),
        };
        // Reading the header is what finds a file that is not a database.
        let version: i64 = ledger
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| ledger.classify(e, "reading its version"))?;
        if version > SCHEMA_VERSION {
            return Err(LedgerError::Unusable {
                path: path.to_owned(),
                problem: format!("schema version {version}, written by a newer bridge"),
            });
        }
        let check: String = ledger
            .conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| ledger.classify(e, "checking its integrity"))?;
        if check != "ok" {
            return Err(LedgerError::Unusable {
                path: path.to_owned(),
                problem: format!("integrity check: {}", crate::excerpt::bounded(&check, 120)),
            });
        }
        ledger
            .conn
            .execute_batch(&format!(
                "BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            ))
            .map_err(|e| ledger.classify(e, "creating its table"))?;
        // Write-ahead log, every commit synced: one fsync a commit instead of the rollback
        // journal's several (about 8 per paid call, ~24 ms before its first token on this
        // project's test machine), and still nothing recorded is lost to a power cut.
        ledger
            .conn
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
            .map_err(|e| ledger.classify(e, "choosing its journal"))?;
        Ok(ledger)
    }

    /// How long a reservation waits for another writer (default 5 s) before failing with
    /// [`LedgerError::Locked`].
    pub fn set_busy_timeout(&self, timeout: Duration) -> Result<(), LedgerError> {
        self.conn
            .busy_timeout(timeout)
            .map_err(|e| self.classify(e, "setting its busy timeout"))
    }

    /// [`classify`] for this ledger's file.
    fn classify(&self, e: rusqlite::Error, doing: &'static str) -> LedgerError {
        classify(&self.path, e, doing)
    }

    /// Records `payment` as `signed` if it fits the daily and thread caps of `caps` and its
    /// request id was never paid, all in one `BEGIN IMMEDIATE` transaction; returns the row
    /// id. On any error nothing is recorded and nothing may be paid.
    pub fn reserve(&mut self, payment: &NewPayment, caps: &Caps) -> Result<i64, LedgerError> {
        let path = self.path.clone();
        let fail = |e, doing| classify(&path, e, doing);
        let amount = to_i64(payment.amount);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| fail(e, "starting the reservation"))?;
        if let Some(request) = &payment.request_id {
            let seen: Option<i64> = tx
                .query_row(
                    "SELECT id FROM payments WHERE request_id = ?1 LIMIT 1",
                    params![request],
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| fail(e, "looking up the request"))?;
            if seen.is_some() {
                return Err(LedgerError::AlreadyPaid(crate::excerpt::quoted(request)));
            }
        }
        if let Some(cap) = caps.per_day {
            let start = payment.ts - payment.ts.rem_euclid(DAY_SECS);
            let spent = sum(
                &tx,
                "ts >= ?1 AND ts < ?2",
                params![start, start + DAY_SECS],
            )
            .map_err(|e| fail(e, "summing today's payments"))?;
            let asked = payment.amount;
            fits(spent, asked, cap).ok_or(Refusal::OverDayCap { asked, spent, cap })?;
        }
        if let (Some(cap), Some(thread)) = (caps.per_thread, &payment.thread_id) {
            let spent = sum(&tx, "thread_id = ?1", params![thread])
                .map_err(|e| fail(e, "summing the thread's payments"))?;
            let asked = payment.amount;
            fits(spent, asked, cap).ok_or(Refusal::OverThreadCap { asked, spent, cap })?;
        }
        tx.execute(
            "INSERT INTO payments (ts, model, amount, nonce, chain, payee, request_id, thread_id, outcome)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'signed')",
            params![
                payment.ts,
                payment.model,
                amount,
                payment.nonce,
                payment.chain,
                payment.payee,
                payment.request_id,
                payment.thread_id
            ],
        )
        .map_err(|e| fail(e, "recording the payment"))?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(|e| fail(e, "committing the payment"))?;
        Ok(id)
    }

    /// Sets the outcome of payment `id`.
    pub fn mark(&mut self, id: i64, outcome: Outcome) -> Result<(), LedgerError> {
        let changed = self
            .conn
            .execute(
                "UPDATE payments SET outcome = ?1 WHERE id = ?2",
                params![outcome.as_str(), id],
            )
            .map_err(|e| self.classify(e, "recording the outcome"))?;
        if changed == 0 {
            return Err(LedgerError::NoSuchPayment {
                path: self.path.clone(),
                id,
            });
        }
        Ok(())
    }

    /// Records the nonce of payment `id` once it is known: a Solana payment is reserved
    /// before it is signed (so no cap is ever signed past), and its nonce is its transaction
    /// signature, which exists only after signing.
    pub fn set_nonce(&mut self, id: i64, nonce: &str) -> Result<(), LedgerError> {
        let changed = self
            .conn
            .execute(
                "UPDATE payments SET nonce = ?1 WHERE id = ?2",
                params![nonce, id],
            )
            .map_err(|e| self.classify(e, "recording the payment's signature"))?;
        if changed == 0 {
            return Err(LedgerError::NoSuchPayment {
                path: self.path.clone(),
                id,
            });
        }
        Ok(())
    }

    /// The database, for the payment core's tests.
    #[cfg(test)]
    pub(crate) fn connection(&self) -> &rusqlite::Connection {
        &self.conn
    }

    /// The outcome recorded for payment `id`.
    pub fn outcome(&self, id: i64) -> Result<Option<String>, LedgerError> {
        self.conn
            .query_row(
                "SELECT outcome FROM payments WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.classify(e, "reading an outcome"))
    }

    /// Spent in the UTC day holding `now` (everything but `refused`).
    pub fn spent_today(&self, now: i64) -> Result<Usdc, LedgerError> {
        let start = now - now.rem_euclid(DAY_SECS);
        sum(
            &self.conn,
            "ts >= ?1 AND ts < ?2",
            params![start, start + DAY_SECS],
        )
        .map_err(|e| self.classify(e, "summing today's payments"))
    }

    /// Spent in the 7 days (7 × 24 h) before `now`.
    pub fn spent_last_7_days(&self, now: i64) -> Result<Usdc, LedgerError> {
        sum(
            &self.conn,
            "ts > ?1 AND ts <= ?2",
            params![now - 7 * DAY_SECS, now],
        )
        .map_err(|e| self.classify(e, "summing the week's payments"))
    }

    /// Spent per model since `since` (unix seconds), most expensive first.
    pub fn spent_per_model(&self, since: i64) -> Result<Vec<(String, Usdc)>, LedgerError> {
        let run = || -> rusqlite::Result<Vec<(String, Usdc)>> {
            let mut stmt = self.conn.prepare(
                "SELECT model, SUM(amount) AS total FROM payments
                 WHERE outcome != 'refused' AND ts >= ?1
                 GROUP BY model ORDER BY total DESC, model",
            )?;
            let rows = stmt.query_map(params![since], |r| {
                Ok((r.get::<_, String>(0)?, from_i64(r.get(1)?)))
            })?;
            rows.collect()
        };
        run().map_err(|e| self.classify(e, "summing per model"))
    }
}

impl Ledger {
    /// Per UTC day since `since` (unix seconds): the date (`YYYY-MM-DD`), what was spent and
    /// how many payments, oldest first (the dashboard's chart).
    pub fn daily(&self, since: i64) -> Result<Vec<(String, Usdc, u64)>, LedgerError> {
        let run = || -> rusqlite::Result<Vec<(String, Usdc, u64)>> {
            let mut stmt = self.conn.prepare(
                "SELECT date(ts, 'unixepoch') AS day, SUM(amount), COUNT(*) FROM payments
                 WHERE outcome != 'refused' AND ts >= ?1 GROUP BY day ORDER BY day",
            )?;
            let rows = stmt.query_map(params![since], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    from_i64(r.get(1)?),
                    u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                ))
            })?;
            rows.collect()
        };
        run().map_err(|e| self.classify(e, "summing per day"))
    }
}

/// Maps an SQLite error to a [`LedgerError`]: busy/locked, not a database/corrupt, or a failed
/// query.
fn classify(path: &Path, e: rusqlite::Error, doing: &'static str) -> LedgerError {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => LedgerError::Locked {
            path: path.to_owned(),
        },
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => LedgerError::Unusable {
            path: path.to_owned(),
            problem: e.to_string(),
        },
        _ => LedgerError::Query {
            path: path.to_owned(),
            doing,
            problem: e.to_string(),
        },
    }
}

/// Sum of the amounts that count against caps (all but `refused`) where `filter` holds.
fn sum(conn: &Connection, filter: &str, args: impl rusqlite::Params) -> rusqlite::Result<Usdc> {
    let total: i64 = conn.query_row(
        &format!(
            "SELECT COALESCE(SUM(amount), 0) FROM payments WHERE outcome != 'refused' AND {filter}"
        ),
        args,
        |r| r.get(0),
    )?;
    Ok(from_i64(total))
}

/// `Some` when `asked` on top of `spent` stays within `cap`.
fn fits(spent: Usdc, asked: Usdc, cap: Usdc) -> Option<()> {
    (spent.0.saturating_add(asked.0) <= cap.0).then_some(())
}

/// Base units to an SQLite integer (amounts are capped far below `i64::MAX`; saturates).
fn to_i64(amount: Usdc) -> i64 {
    i64::try_from(amount.0).unwrap_or(i64::MAX)
}

/// An SQLite integer back to base units (negative never stored: `CHECK`).
fn from_i64(value: i64) -> Usdc {
    Usdc(u64::try_from(value).unwrap_or(0))
}

/// `$BLOCKRUN_HOME`, else `~/.blockrun` (`env` reads a variable; blank is unset).
pub fn blockrun_home(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let get = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    get(crate::admin::wallet::ENV_BLOCKRUN_HOME)
        .map(PathBuf::from)
        .or_else(|| get("HOME").map(|h| PathBuf::from(h).join(".blockrun")))
}

/// Appends `{"ts": <unix seconds>, "endpoint": "/v1/chat/completions", "model": …,
/// "cost_usd": <number>}` to `dir/cost_log.jsonl` (creating `dir`, mode 0700, when absent).
pub fn append_cost_log(dir: &Path, ts: i64, model: &str, cost: Usdc) -> std::io::Result<()> {
    crate::fsutil::create_private_dir(dir)?;
    let line = serde_json::json!({
        "ts": ts,
        "endpoint": "/v1/chat/completions",
        "model": model,
        "cost_usd": cost.as_usd(),
    });
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("cost_log.jsonl"))?;
    file.write_all(format!("{line}\n").as_bytes())
}

#[cfg(test)]
mod tests;
