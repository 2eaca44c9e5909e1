use super::*;
use std::sync::{Arc, Barrier};

/// 2026-12-07 12:00:00 UTC.
const NOON: i64 = 1_796_644_800;

fn payment(amount: u64, ts: i64, request: Option<&str>, thread: Option<&str>) -> NewPayment {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    NewPayment {
        ts,
        model: "anthropic/claude-sonnet-4.6".to_owned(),
        amount: Usdc(amount),
        nonce: format!("0x{n:064x}"),
        chain: "eip155:8453".to_owned(),
        payee: "0x1111111111111111111111111111111111111111".to_owned(),
        request_id: request.map(str::to_owned),
        thread_id: thread.map(str::to_owned),
    }
}

fn caps(day: Option<u64>, thread: Option<u64>) -> Caps {
    Caps {
        per_request: Usdc(u64::MAX),
        per_day: day.map(Usdc),
        per_thread: thread.map(Usdc),
    }
}

fn open() -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("payments.sqlite")).unwrap();
    (dir, ledger)
}

#[test]
fn never_exceeds_the_daily_cap() {
    let (_dir, mut ledger) = open();
    let caps = caps(Some(1000), None);
    let first = ledger
        .reserve(&payment(600, NOON, None, None), &caps)
        .unwrap();
    assert_eq!(ledger.outcome(first).unwrap().as_deref(), Some("signed"));
    let err = ledger
        .reserve(&payment(401, NOON + 60, None, None), &caps)
        .unwrap_err();
    assert!(
        matches!(
            err,
            LedgerError::Cap(Refusal::OverDayCap {
                asked: Usdc(401),
                spent: Usdc(600),
                cap: Usdc(1000)
            })
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("already spent today (UTC)"),
        "{err}"
    );
    // Exactly the room left fits.
    ledger
        .reserve(&payment(400, NOON + 61, None, None), &caps)
        .unwrap();
    assert_eq!(ledger.spent_today(NOON).unwrap(), Usdc(1000));
    // Yesterday's payments do not count today; tomorrow starts afresh at 00:00 UTC.
    let tomorrow = NOON + 12 * 3600;
    ledger
        .reserve(&payment(1000, tomorrow, None, None), &caps)
        .unwrap();
    assert_eq!(ledger.spent_today(tomorrow).unwrap(), Usdc(1000));
}

#[test]
fn refused_payments_free_their_room_and_unknown_ones_do_not() {
    let (_dir, mut ledger) = open();
    let caps = caps(Some(1000), None);
    let a = ledger
        .reserve(&payment(1000, NOON, None, None), &caps)
        .unwrap();
    ledger.mark(a, Outcome::Unknown).unwrap();
    assert!(ledger
        .reserve(&payment(1, NOON, None, None), &caps)
        .is_err());
    ledger.mark(a, Outcome::Refused).unwrap();
    let b = ledger
        .reserve(&payment(1000, NOON, None, None), &caps)
        .unwrap();
    ledger.mark(b, Outcome::Answered).unwrap();
    assert!(ledger
        .reserve(&payment(1, NOON, None, None), &caps)
        .is_err());
    assert!(matches!(
        ledger.mark(9999, Outcome::Answered),
        Err(LedgerError::NoSuchPayment { id: 9999, .. })
    ));
}

#[test]
fn never_exceeds_the_thread_cap() {
    let (_dir, mut ledger) = open();
    let caps = caps(None, Some(500));
    ledger
        .reserve(&payment(300, NOON, None, Some("t1")), &caps)
        .unwrap();
    let err = ledger
        .reserve(&payment(201, NOON, None, Some("t1")), &caps)
        .unwrap_err();
    assert!(
        matches!(err, LedgerError::Cap(Refusal::OverThreadCap { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("start a new thread"), "{err}");
    // Another thread has its own room.
    ledger
        .reserve(&payment(500, NOON, None, Some("t2")), &caps)
        .unwrap();
}

#[test]
fn a_request_is_paid_once() {
    let (_dir, mut ledger) = open();
    let caps = caps(None, None);
    ledger
        .reserve(&payment(1, NOON, Some("req-1"), None), &caps)
        .unwrap();
    let err = ledger
        .reserve(&payment(1, NOON, Some("req-1"), None), &caps)
        .unwrap_err();
    assert!(matches!(err, LedgerError::AlreadyPaid(_)), "{err}");
    assert_eq!(ledger.spent_today(NOON).unwrap(), Usdc(1));
}

/// `threads` ledgers on one file race for a daily cap with room for `room` payments.
fn race(threads: usize, room: u64) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payments.sqlite");
    drop(Ledger::open(&path).unwrap());
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (path, barrier) = (path.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut ledger = Ledger::open(&path).unwrap();
                barrier.wait();
                match ledger.reserve(
                    &payment(100, NOON, None, None),
                    &caps(Some(100 * room), None),
                ) {
                    Ok(_) => true,
                    Err(LedgerError::Cap(_)) => false,
                    Err(other) => panic!("{other}"),
                }
            })
        })
        .collect();
    let passed = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|ok| *ok)
        .count();
    let ledger = Ledger::open(&path).unwrap();
    assert_eq!(ledger.spent_today(NOON).unwrap(), Usdc(100 * passed as u64));
    passed
}

#[test]
fn two_threads_racing_for_the_last_room_cannot_both_pass() {
    for _ in 0..10 {
        assert_eq!(race(2, 1), 1);
    }
    assert_eq!(race(8, 3), 3);
}

#[test]
fn a_garbage_file_is_an_error_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payments.sqlite");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &garbage).unwrap();
    let err = Ledger::open(&path).unwrap_err();
    assert!(matches!(err, LedgerError::Unusable { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("payments.sqlite") && text.contains("no payment"),
        "{text}"
    );
    assert!(text.contains("never reset"), "{text}");
    assert_eq!(std::fs::read(&path).unwrap(), garbage, "never reset");
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payments.sqlite");
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 9;")
        .unwrap();
    let err = Ledger::open(&path).unwrap_err();
    assert!(err.to_string().contains("newer bridge"), "{err}");
}

#[test]
fn a_locked_database_is_an_error_and_no_payment() {
    let (dir, mut ledger) = open();
    let other = Connection::open(dir.path().join("payments.sqlite")).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE;").unwrap();
    ledger.set_busy_timeout(Duration::from_millis(50)).unwrap();
    let err = ledger
        .reserve(&payment(1, NOON, None, None), &caps(Some(10), None))
        .unwrap_err();
    assert!(matches!(err, LedgerError::Locked { .. }), "{err}");
    other.execute_batch("ROLLBACK;").unwrap();
    assert_eq!(ledger.spent_today(NOON).unwrap(), Usdc(0));
}

#[test]
fn sums_today_the_week_and_per_model() {
    let (_dir, mut ledger) = open();
    let none = caps(None, None);
    let mut other_model = payment(5, NOON, None, None);
    other_model.model = "openai/gpt-5".to_owned();
    ledger.reserve(&other_model, &none).unwrap();
    ledger
        .reserve(&payment(10, NOON, None, None), &none)
        .unwrap();
    ledger
        .reserve(&payment(20, NOON - 3 * DAY_SECS, None, None), &none)
        .unwrap();
    ledger
        .reserve(&payment(40, NOON - 8 * DAY_SECS, None, None), &none)
        .unwrap();
    let refused = ledger
        .reserve(&payment(80, NOON, None, None), &none)
        .unwrap();
    ledger.mark(refused, Outcome::Refused).unwrap();
    assert_eq!(ledger.spent_today(NOON).unwrap(), Usdc(15));
    assert_eq!(ledger.spent_last_7_days(NOON).unwrap(), Usdc(35));
    assert_eq!(
        ledger.spent_per_model(0).unwrap(),
        vec![
            ("anthropic/claude-sonnet-4.6".to_owned(), Usdc(70)),
            ("openai/gpt-5".to_owned(), Usdc(5))
        ]
    );
}

#[test]
fn the_cost_log_gets_one_line_per_payment() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("blockrun");
    append_cost_log(&home, NOON, "openai/gpt-5", Usdc(1000)).unwrap();
    append_cost_log(&home, NOON + 1, "x\"y", Usdc(250_000)).unwrap();
    let text = std::fs::read_to_string(home.join("cost_log.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        serde_json::json!({"ts": NOON, "endpoint": "/v1/chat/completions", "model": "openai/gpt-5", "cost_usd": 0.001})
    );
    assert_eq!(lines[1]["cost_usd"], 0.25);
    assert_eq!(lines[1]["model"], "x\"y");
}

#[test]
fn blockrun_home_defaults_to_the_home_folder() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    assert_eq!(
        blockrun_home(&env(&[("HOME", "/h"), ("BLOCKRUN_HOME", "/b")])),
        Some(PathBuf::from("/b"))
    );
    assert_eq!(
        blockrun_home(&env(&[("HOME", "/h"), ("BLOCKRUN_HOME", " ")])),
        Some(PathBuf::from("/h/.blockrun"))
    );
    assert_eq!(blockrun_home(&env(&[])), None);
}
