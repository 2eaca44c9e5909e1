//! Tool calls assembled from the fragments a stream carries: which call a fragment continues
//! (by `index`, by id, or the last one when it has neither), and what it adds (the id and
//! name when still unknown, the next piece of the arguments). Opening the call's item and
//! passing its arguments on is the translator's part (`super`).

use crate::translate::chat_in::CallFragment;
use crate::translate::events::OpenToolCall;

/// How a function call's arguments are passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Args {
    /// Nothing but blanks yet.
    Undecided,
    /// Streamed as they arrive.
    Stream,
    /// Buffered and normalized at the end (custom tools, double-encoded arguments).
    Buffer,
}

/// One tool call of the model call.
#[derive(Debug)]
pub(super) struct CallSlot {
    /// The upstream's `index` of the call, when it sends one.
    pub(super) index: Option<u64>,
    /// The upstream's call id, once a fragment carried one.
    pub(super) upstream_id: Option<String>,
    /// The Chat function name (empty until a fragment names it).
    pub(super) chat_name: String,
    /// The call's item, once opened.
    pub(super) open: Option<OpenToolCall>,
    pub(super) args: Args,
    /// Arguments not yet passed on.
    pub(super) pending: String,
    /// Held until the model call ends (web search on): no item is opened for it.
    pub(super) held: bool,
}

/// Adds `fragment` to the call it continues, or to a new one; the position of that call.
///
/// A fragment with an `index` continues the last call with that index unless both carry
/// different ids (an upstream that reuses index 0 for every call); one without an index
/// continues the call with its id, or, with no id either, the last call.
pub(super) fn absorb(calls: &mut Vec<CallSlot>, fragment: CallFragment<'_>) -> usize {
    let CallFragment {
        index,
        id,
        name,
        arguments,
    } = fragment;
    let id = id.as_deref();
    let found = match (index, id) {
        (Some(index), _) => calls.iter().rposition(|slot| {
            slot.index == Some(index)
                && (id.is_none() || slot.upstream_id.is_none() || slot.upstream_id.as_deref() == id)
        }),
        (None, Some(id)) => calls
            .iter()
            .rposition(|slot| slot.upstream_id.as_deref() == Some(id)),
        (None, None) => calls.len().checked_sub(1),
    };
    let at = found.unwrap_or_else(|| {
        calls.push(CallSlot {
            index,
            upstream_id: None,
            chat_name: String::new(),
            open: None,
            args: Args::Undecided,
            pending: String::new(),
            held: false,
        });
        calls.len() - 1
    });
    let slot = &mut calls[at];
    if let Some(id) = id {
        slot.upstream_id.get_or_insert_with(|| id.to_owned());
    }
    // The name of an opened call is the one Codex saw.
    if let Some(name) = name.filter(|_| slot.open.is_none()) {
        slot.chat_name = name.into_owned();
    }
    if let Some(arguments) = arguments {
        slot.pending.push_str(&arguments);
    }
    at
}
