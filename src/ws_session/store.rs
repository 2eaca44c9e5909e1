//! The per-connection conversation store behind `previous_response_id`.
//!
//! On a WebSocket Codex sends, per turn, only the items that are new since its previous
//! request and that request's response, plus `previous_response_id`. The bridge keeps, for the
//! latest responses of the connection, the full input each was made from and the items it
//! answered with, so it can rebuild the full request the upstream needs — the same request the
//! HTTP transport would have received.
//!
//! Items are kept as the JSON text they arrived (or were sent) as, in shared segments: a turn's
//! input is its predecessor's segments, the predecessor's output and the new items, so chaining
//! copies no item and a connection's memory is its conversation's size, not its square.
//!
//! Bounds: [`MAX_ENTRIES`] responses per connection; a conversation over the connection's byte
//! limit, or one that would pass the total over all connections ([`Budget`]), is not kept (the
//! next chained request then gets `previous_response_not_found`, and Codex sends the whole
//! input again). What a connection holds is given back to the budget when it closes.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::value::RawValue;

/// Responses kept per connection: Codex chains from its latest response only; a few more
/// allow a retried or prewarmed one.
pub const MAX_ENTRIES: usize = 4;

/// Items in the order they came, kept as JSON text.
pub type Items = Vec<Box<RawValue>>;

/// One shared run of items and its size in bytes.
#[derive(Debug)]
pub struct Segment {
    items: Items,
    bytes: usize,
}

impl Segment {
    /// A segment of `items`.
    pub fn new(items: Items) -> Arc<Segment> {
        let bytes = items.iter().map(|item| item.get().len() + 1).sum();
        Arc::new(Segment { items, bytes })
    }
}

/// A conversation's items: a list of shared segments.
#[derive(Debug, Clone, Default)]
pub struct History {
    segments: Vec<Arc<Segment>>,
    bytes: usize,
}

impl History {
    /// `self` followed by `segment`.
    pub fn then(&self, segment: Arc<Segment>) -> History {
        let mut next = self.clone();
        next.bytes += segment.bytes;
        next.segments.push(segment);
        next
    }

    /// Every item, in order.
    pub fn items(&self) -> impl Iterator<Item = &RawValue> {
        self.segments
            .iter()
            .flat_map(|segment| segment.items.iter().map(|item| &**item))
    }

    /// The JSON text of the items, about.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// The bytes all connections keep together, against `max_total_bytes`.
#[derive(Debug, Default)]
pub struct Budget {
    used: AtomicUsize,
}

impl Budget {
    /// Bytes held now by all connections.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }

    fn take(&self, bytes: usize, max: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                (used + bytes <= max).then_some(used + bytes)
            })
            .is_ok()
    }

    fn give(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

struct Entry {
    id: String,
    /// The input the response was made from, then its output items.
    history: History,
}

/// One connection's responses.
pub struct Conversation {
    entries: VecDeque<Entry>,
    budget: Arc<Budget>,
    /// What this connection has taken from the budget.
    held: usize,
    max_bytes: usize,
    max_total: usize,
}

/// Why a response was not kept.
#[derive(Debug, PartialEq, Eq)]
pub enum NotKept {
    /// Over the connection's limit.
    TooLarge,
    /// The bridge's total is used up.
    BudgetFull,
}

impl Conversation {
    /// An empty store drawing on `budget`.
    pub fn new(budget: Arc<Budget>, max_bytes: usize, max_total: usize) -> Self {
        Conversation {
            entries: VecDeque::new(),
            budget,
            held: 0,
            max_bytes,
            max_total,
        }
    }

    /// The input and output of response `id`, if kept.
    pub fn get(&self, id: &str) -> Option<&History> {
        self.entries
            .iter()
            .find(|entry| entry.id == id)
            .map(|entry| &entry.history)
    }

    /// Keeps response `id`: made from `input`, it answered `output`.
    pub fn keep(&mut self, id: String, input: History, output: Items) -> Result<(), NotKept> {
        let history = input.then(Segment::new(output));
        let bytes = history.bytes();
        if bytes > self.max_bytes {
            self.clear();
            return Err(NotKept::TooLarge);
        }
        // The entries share most segments; what they hold together is about the largest.
        let held = self
            .entries
            .iter()
            .skip(usize::from(self.entries.len() >= MAX_ENTRIES))
            .map(|entry| entry.history.bytes())
            .chain([bytes])
            .max()
            .unwrap_or(bytes);
        if held > self.held {
            if !self.budget.take(held - self.held, self.max_total) {
                self.clear();
                return Err(NotKept::BudgetFull);
            }
        } else {
            self.budget.give(self.held - held);
        }
        self.held = held;
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.pop_front();
        }
        self.entries.push_back(Entry { id, history });
        Ok(())
    }

    /// Forgets response `id` (a continuation of it failed: its state is suspect).
    pub fn forget(&mut self, id: &str) {
        self.entries.retain(|entry| entry.id != id);
        let held = self
            .entries
            .iter()
            .map(|entry| entry.history.bytes())
            .max()
            .unwrap_or(0);
        if held < self.held {
            self.budget.give(self.held - held);
            self.held = held;
        }
    }

    /// Forgets every response.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.budget.give(self.held);
        self.held = 0;
    }

    /// Bytes this connection holds.
    pub fn held(&self) -> usize {
        self.held
    }
}

impl Drop for Conversation {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(texts: &[&str]) -> Items {
        texts
            .iter()
            .map(|t| RawValue::from_string(format!("{t:?}")).expect("json"))
            .collect()
    }

    #[test]
    fn chained_history_is_input_then_output_and_bounded() {
        let budget = Arc::new(Budget::default());
        let mut store = Conversation::new(budget.clone(), 10_000, 20_000);
        let first = History::default().then(Segment::new(items(&["hi"])));
        store
            .keep("r1".into(), first, items(&["hello"]))
            .expect("kept");
        let next = store
            .get("r1")
            .expect("r1")
            .then(Segment::new(items(&["again"])));
        let all: Vec<&str> = next.items().map(RawValue::get).collect();
        assert_eq!(all, ["\"hi\"", "\"hello\"", "\"again\""]);
        for i in 2..10 {
            let input = store.get(&format!("r{}", i - 1)).expect("kept").clone();
            store
                .keep(format!("r{i}"), input, items(&["x"]))
                .expect("kept");
        }
        assert!(
            store.get("r1").is_none(),
            "only the latest responses are kept"
        );
        assert!(store.get("r9").is_some());
        assert_eq!(budget.used(), store.held());
        drop(store);
        assert_eq!(budget.used(), 0, "a closed connection gives its bytes back");
    }

    #[test]
    fn too_large_or_over_budget_is_not_kept() {
        let budget = Arc::new(Budget::default());
        let big = "x".repeat(600);
        let mut a = Conversation::new(budget.clone(), 1000, 1000);
        let input = History::default().then(Segment::new(items(&[&big])));
        a.keep("a".into(), input.clone(), items(&[])).expect("fits");
        let mut b = Conversation::new(budget.clone(), 1000, 1000);
        assert_eq!(
            b.keep("b".into(), input.clone(), items(&[])),
            Err(NotKept::BudgetFull)
        );
        let twice = input.then(Segment::new(items(&[&big])));
        assert_eq!(
            a.keep("a2".into(), twice, items(&[])),
            Err(NotKept::TooLarge)
        );
        assert!(a.get("a").is_none(), "a store over its limit is emptied");
        assert_eq!(budget.used(), 0);
    }
}
