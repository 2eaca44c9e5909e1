//! A `<think>…</think>` span at the start of a streamed answer (some models write their
//! reasoning that way) split from the visible text as the pieces arrive.
//!
//! Only a span at the very start counts (after blanks). While the start is undecided (blanks,
//! or a prefix of `<think>`), the text is held; inside the span, a possible partial
//! `</think>` and trailing blanks are held until more text shows what they are. Reasoning
//! loses its leading and trailing blanks, and the visible text after the span its leading
//! blanks, as the buffered path does with `response::split_think`.

use crate::translate::response::{THINK_CLOSE, THINK_OPEN};

/// A piece of the answer, as the splitter releases it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ThinkPiece<'a> {
    /// Visible text.
    Text(&'a str),
    /// Text inside the span: reasoning.
    Reasoning(&'a str),
}

/// Where the start of the content stands with respect to a `<think>` span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Stage {
    /// Nothing but blanks, or a prefix of `<think>`, so far (held).
    #[default]
    Start,
    /// Inside the span; a possible partial `</think>` and trailing blanks are held.
    Inside,
    /// Just after `</think>`: leading blanks of the visible text are dropped.
    After,
    /// Plain text.
    Outside,
}

/// The splitter of one model call's content.
#[derive(Debug, Default)]
pub(super) struct ThinkSplitter {
    stage: Stage,
    held: String,
    /// Some reasoning was released (its leading blanks are gone already).
    reasoning_started: bool,
}

impl ThinkSplitter {
    /// The next piece of content; what is ready goes to `emit`, in order.
    pub(super) fn push(&mut self, text: &str, emit: &mut impl FnMut(ThinkPiece<'_>)) {
        match self.stage {
            Stage::Outside => emit(ThinkPiece::Text(text)),
            Stage::After => {
                let text = text.trim_start();
                if !text.is_empty() {
                    self.stage = Stage::Outside;
                    emit(ThinkPiece::Text(text));
                }
            }
            Stage::Inside => self.push_inside(text, emit),
            Stage::Start => {
                self.held.push_str(text);
                let trimmed = self.held.trim_start();
                if let Some(after) = trimmed.strip_prefix(THINK_OPEN) {
                    let after = after.to_owned();
                    self.held.clear();
                    self.stage = Stage::Inside;
                    self.push_inside(&after, emit);
                } else if !THINK_OPEN.starts_with(trimmed) {
                    let held = std::mem::take(&mut self.held);
                    self.stage = Stage::Outside;
                    emit(ThinkPiece::Text(&held));
                }
            }
        }
    }

    /// The content ended (or a tool call came): a held prefix is text, a held span end is
    /// reasoning.
    pub(super) fn flush(&mut self, emit: &mut impl FnMut(ThinkPiece<'_>)) {
        let held = std::mem::take(&mut self.held);
        match self.stage {
            Stage::Start => {
                self.stage = Stage::Outside;
                emit(ThinkPiece::Text(&held));
            }
            Stage::Inside => {
                self.emit_reasoning(held.trim_end(), emit);
                self.stage = Stage::After;
            }
            Stage::After | Stage::Outside => {}
        }
    }

    /// Text inside the span.
    fn push_inside(&mut self, text: &str, emit: &mut impl FnMut(ThinkPiece<'_>)) {
        self.held.push_str(text);
        if let Some(close) = self.held.find(THINK_CLOSE) {
            let after = self.held[close + THINK_CLOSE.len()..].to_owned();
            self.held.truncate(close);
            let inner = std::mem::take(&mut self.held);
            self.emit_reasoning(inner.trim_end(), emit);
            self.stage = Stage::After;
            self.push(&after, emit);
            return;
        }
        let partial = (1..THINK_CLOSE.len())
            .rev()
            .find(|&k| self.held.ends_with(&THINK_CLOSE[..k]))
            .unwrap_or(0);
        let keep_from = self.held[..self.held.len() - partial].trim_end().len();
        let ready: String = self.held.drain(..keep_from).collect();
        self.emit_reasoning(&ready, emit);
    }

    fn emit_reasoning(&mut self, text: &str, emit: &mut impl FnMut(ThinkPiece<'_>)) {
        let text = if self.reasoning_started {
            text
        } else {
            text.trim_start()
        };
        if !text.is_empty() {
            self.reasoning_started = true;
            emit(ThinkPiece::Reasoning(text));
        }
    }
}
