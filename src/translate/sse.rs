//! An incremental Server-Sent Events parser for upstream `text/event-stream` bodies.
//!
//! [`SseParser::feed`] takes the body bytes as they arrive, split anywhere (inside a line, a
//! CRLF pair, a multi-byte UTF-8 character), and calls back once per complete frame:
//! - lines end with `\r\n`, `\n` or `\r` (a CRLF split across two reads counts once);
//! - comment lines (`: heartbeat`, `: x-clawrouter-debug …`) are ignored;
//! - several `data:` lines of one frame are joined with `\n`; one space after the colon is
//!   dropped; `event:`, `id:`, `retry:` and unknown fields are tolerated and ignored;
//! - a blank line ends the frame; a frame without `data` lines produces nothing;
//! - `data: [DONE]` is [`SseFrame::Done`];
//! - a UTF-8 byte-order mark at the very start is skipped.
//!
//! [`SseParser::finish`] delivers a trailing frame the upstream did not end with a blank line.
//!
//! Memory: only the unfinished line and the unfinished frame's data are buffered, in two
//! buffers reused from frame to frame (no allocation per frame once they have grown). A frame
//! larger than [`MAX_FRAME_BYTES`] is dropped and reported as [`SseFrame::TooLarge`].

/// The largest frame (all its data lines together) the parser buffers.
pub const MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;

const BOM: &[u8] = b"\xef\xbb\xbf";

/// One complete frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SseFrame<'a> {
    /// The frame's data (lines joined with `\n`), as bytes: not checked for UTF-8 here.
    Data(&'a [u8]),
    /// `data: [DONE]`: the OpenAI end-of-stream marker.
    Done,
    /// A frame over [`MAX_FRAME_BYTES`], dropped.
    TooLarge,
}

/// The parser's state between reads. See the module documentation.
#[derive(Debug, Default)]
pub struct SseParser {
    /// The unfinished line (only when a line spans reads).
    line: Vec<u8>,
    /// The unfinished frame's data.
    data: Vec<u8>,
    /// The frame has at least one `data` field (possibly empty).
    has_data: bool,
    /// The last byte seen was `\r`: a `\n` right after it is part of the same line ending.
    pending_cr: bool,
    /// The frame grew over the limit: the rest of it is dropped.
    oversized: bool,
    /// The first line has been seen (a BOM may only precede it).
    started: bool,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses the next bytes of the body, calling `on_frame` for every frame they complete.
    pub fn feed(&mut self, bytes: &[u8], mut on_frame: impl FnMut(SseFrame<'_>)) {
        let mut rest = bytes;
        if self.pending_cr && !rest.is_empty() {
            self.pending_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while let Some(pos) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            let terminator = rest[pos];
            if self.line.is_empty() {
                self.line_done(&rest[..pos], &mut on_frame);
            } else {
                self.push_line(&rest[..pos]);
                let line = std::mem::take(&mut self.line);
                self.line_done(&line, &mut on_frame);
                self.line = line;
                self.line.clear();
            }
            rest = &rest[pos + 1..];
            if terminator == b'\r' {
                match rest.first() {
                    None => self.pending_cr = true,
                    Some(b'\n') => rest = &rest[1..],
                    Some(_) => {}
                }
            }
        }
        self.push_line(rest);
    }

    /// The body ended: a last line without its line ending, and a last frame without its blank
    /// line, are delivered. The parser is then back at the start of a stream.
    pub fn finish(&mut self, mut on_frame: impl FnMut(SseFrame<'_>)) {
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            self.line_done(&line, &mut on_frame);
        }
        self.dispatch(&mut on_frame);
        *self = Self::default();
    }

    fn push_line(&mut self, bytes: &[u8]) {
        if self.oversized {
            return;
        }
        if self.line.len() + self.data.len() + bytes.len() > MAX_FRAME_BYTES {
            self.drop_frame();
            return;
        }
        self.line.extend_from_slice(bytes);
    }

    fn drop_frame(&mut self) {
        self.oversized = true;
        self.line = Vec::new();
        self.data = Vec::new();
    }

    fn line_done(&mut self, line: &[u8], on_frame: &mut impl FnMut(SseFrame<'_>)) {
        let mut line = line;
        if !self.started {
            self.started = true;
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        if line.is_empty() {
            self.dispatch(on_frame);
            return;
        }
        if self.oversized || line[0] == b':' {
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        if field != b"data" {
            return; // event, id, retry and unknown fields are ignored
        }
        if self.data.len() + value.len() + 1 > MAX_FRAME_BYTES {
            self.drop_frame();
            return;
        }
        if self.has_data {
            self.data.push(b'\n');
        }
        self.data.extend_from_slice(value);
        self.has_data = true;
    }

    fn dispatch(&mut self, on_frame: &mut impl FnMut(SseFrame<'_>)) {
        if self.oversized {
            self.oversized = false;
            self.has_data = false;
            self.data.clear();
            on_frame(SseFrame::TooLarge);
            return;
        }
        if !self.has_data {
            return;
        }
        if self.data.trim_ascii() == b"[DONE]" {
            on_frame(SseFrame::Done);
        } else {
            on_frame(SseFrame::Data(&self.data));
        }
        self.has_data = false;
        self.data.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Owned {
        Data(String),
        Done,
        TooLarge,
    }

    fn collect(parser: &mut SseParser, bytes: &[u8], frames: &mut Vec<Owned>) {
        parser.feed(bytes, |frame| frames.push(own(frame)));
    }

    fn own(frame: SseFrame<'_>) -> Owned {
        match frame {
            SseFrame::Data(d) => Owned::Data(String::from_utf8(d.to_vec()).expect("utf-8")),
            SseFrame::Done => Owned::Done,
            SseFrame::TooLarge => Owned::TooLarge,
        }
    }

    fn parse_pieces(pieces: &[&[u8]]) -> Vec<Owned> {
        let mut parser = SseParser::new();
        let mut frames = Vec::new();
        for piece in pieces {
            collect(&mut parser, piece, &mut frames);
        }
        parser.finish(|frame| frames.push(own(frame)));
        frames
    }

    /// Fixtures: ClawRouter's shape, OpenAI's, CRLF, CR-only, multi-line data, fields,
    /// multi-byte text, a trailing frame without a blank line.
    fn fixtures() -> Vec<(Vec<u8>, Vec<Owned>)> {
        let d = |s: &str| Owned::Data(s.to_owned());
        vec![
            (
                b": heartbeat\n\n: heartbeat\n\ndata: {\"a\":1}\n\n: cost=$0.0036\n\ndata: [DONE]\n\n"
                    .to_vec(),
                vec![d("{\"a\":1}"), Owned::Done],
            ),
            (
                b"data: {\"x\":\"caf\xc3\xa9 \xf0\x9f\xa6\x80\"}\r\n\r\ndata:{\"y\":2}\r\n\r\ndata: [DONE]\r\n\r\n".to_vec(),
                vec![d("{\"x\":\"café 🦀\"}"), d("{\"y\":2}"), Owned::Done],
            ),
            (
                b"data: one\rdata: two\r\rdata:  three\r\r".to_vec(),
                vec![d("one\ntwo"), d(" three")],
            ),
            (
                b"event: message\nid: 7\nretry: 100\ndata: first\ndata\ndata: last\nunknown: x\n\n"
                    .to_vec(),
                vec![d("first\n\nlast")],
            ),
            (
                b"\xef\xbb\xbfdata: bom\n\nevent: ping\n\n\n\ndata: tail".to_vec(),
                vec![d("bom"), d("tail")],
            ),
            (
                b"data: [DONE] \n\ndata: {\"choices\":[]}\n\r\n: c\r\ndata: x\n".to_vec(),
                vec![Owned::Done, d("{\"choices\":[]}"), d("x")],
            ),
        ]
    }

    #[test]
    fn fixtures_parse_whole() {
        for (bytes, want) in fixtures() {
            assert_eq!(
                parse_pieces(&[&bytes]),
                want,
                "{:?}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }

    #[test]
    fn every_split_offset_gives_the_same_frames() {
        for (bytes, want) in fixtures() {
            for cut in 0..=bytes.len() {
                let (a, b) = bytes.split_at(cut);
                assert_eq!(parse_pieces(&[a, b]), want, "cut at {cut}");
            }
            // Byte by byte.
            let singles: Vec<&[u8]> = bytes.chunks(1).collect();
            assert_eq!(parse_pieces(&singles), want);
        }
    }

    #[test]
    fn random_multi_splits_give_the_same_frames() {
        let mut state = 0x1234_5678_9abc_def0_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for (bytes, want) in fixtures() {
            for _ in 0..200 {
                let mut pieces: Vec<&[u8]> = Vec::new();
                let mut rest = &bytes[..];
                while !rest.is_empty() {
                    let take = (next() as usize % 7).min(rest.len());
                    let (a, b) = rest.split_at(take);
                    pieces.push(a);
                    rest = b;
                }
                assert_eq!(parse_pieces(&pieces), want);
            }
        }
    }

    #[test]
    fn empty_reads_keep_a_pending_cr() {
        let frames = parse_pieces(&[b"data: a\r", b"", b"\n", b"\r\n"]);
        assert_eq!(frames, [Owned::Data("a".to_owned())]);
    }

    #[test]
    fn only_the_unfinished_frame_is_buffered() {
        let mut parser = SseParser::new();
        let mut frames = Vec::new();
        let frame = format!("data: {}\n\n", "x".repeat(1000));
        for _ in 0..1000 {
            collect(&mut parser, frame.as_bytes(), &mut frames);
        }
        assert_eq!(frames.len(), 1000);
        assert!(parser.data.capacity() < 4096, "buffers are reused");
        assert!(parser.line.is_empty());
    }

    #[test]
    fn oversized_frames_are_dropped_and_reported() {
        let mut parser = SseParser::new();
        let mut frames = Vec::new();
        let chunk = vec![b'x'; 1024 * 1024];
        collect(&mut parser, b"data: ", &mut frames);
        for _ in 0..(MAX_FRAME_BYTES / chunk.len() + 1) {
            collect(&mut parser, &chunk, &mut frames);
        }
        collect(&mut parser, b"\n\ndata: ok\n\n", &mut frames);
        assert_eq!(frames, [Owned::TooLarge, Owned::Data("ok".to_owned())]);
        assert!(parser.data.capacity() < 1024 * 1024);
    }
}
