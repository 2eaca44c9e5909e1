//! `Content-Encoding` decoding, the decoded size always capped so a small compressed body
//! cannot expand without bound.
//!
//! - [`decode_body`]: a whole request body, `gzip` or `zstd` (Codex compresses request bodies
//!   when it believes it talks to ChatGPT, which `desktop on` makes it believe).
//! - [`StreamDecoder`]: an upstream answer, `gzip`, `deflate` or `zstd`, decoded piece by piece
//!   as it arrives, so a compressed event stream is translated delta by delta like a plain one
//!   (the bridge asks for no encoding; some servers and proxies compress anyway).

use std::io::{self, Read, Write};

use crate::error::BridgeError;

/// A `Content-Encoding` the bridge decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// `gzip` / `x-gzip`, every member of a multi-member stream (RFC 1952).
    Gzip,
    /// `deflate`: zlib-wrapped deflate (RFC 9110 §8.4.1.2).
    Deflate,
    /// `zstd` (RFC 8878).
    Zstd,
}

impl Encoding {
    /// `Ok(None)` for identity (absent, empty or `identity`); `Err` names an unknown encoding.
    fn parse(value: Option<&str>) -> Result<Option<Encoding>, String> {
        let value = value.map(|e| e.trim().to_ascii_lowercase());
        match value.as_deref() {
            None | Some("") | Some("identity") => Ok(None),
            Some("gzip") | Some("x-gzip") => Ok(Some(Encoding::Gzip)),
            Some("deflate") => Ok(Some(Encoding::Deflate)),
            Some("zstd") => Ok(Some(Encoding::Zstd)),
            Some(other) => Err(other.to_owned()),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
            Encoding::Zstd => "zstd",
        }
    }
}

/// Decodes `body` according to a `Content-Encoding` header value, enforcing `limit` on the
/// decoded size. Identity (absent or `identity`) returns the body unchanged.
pub fn decode_body(
    encoding: Option<&str>,
    body: Vec<u8>,
    limit: usize,
) -> Result<Vec<u8>, BridgeError> {
    match Encoding::parse(encoding).map_err(BridgeError::UnsupportedEncoding)? {
        None => Ok(body),
        Some(Encoding::Gzip) => {
            // Every member: a gzip file may be several concatenated streams (RFC 1952).
            read_limited(flate2::read::MultiGzDecoder::new(&body[..]), "gzip", limit)
        }
        Some(Encoding::Zstd) => {
            let decoder = zstd::stream::read::Decoder::new(&body[..]).map_err(|e| {
                BridgeError::BadEncoding {
                    encoding: "zstd",
                    detail: e.to_string(),
                }
            })?;
            read_limited(decoder, "zstd", limit)
        }
        Some(Encoding::Deflate) => Err(BridgeError::UnsupportedEncoding("deflate".to_owned())),
    }
}

/// Why an upstream answer's encoding could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// An encoding the bridge does not decode (`br`, …).
    #[error("it came {0}-encoded, which the bridge does not decode")]
    Unsupported(String),
    /// Not valid data of its encoding, or cut off before its end.
    #[error("its {encoding} data is corrupt or cut off ({detail})")]
    Corrupt {
        /// `gzip`, `deflate` or `zstd`.
        encoding: &'static str,
        /// What the decoder said.
        detail: String,
    },
    /// It decodes to more than the limit.
    #[error("it decodes to more than {0} bytes")]
    TooLarge(usize),
}

/// Decodes an upstream answer piece by piece: each [`StreamDecoder::decode`] returns what the
/// bytes so far decode to (a stream the server flushes, as servers that compress event streams
/// do, decodes event by event); [`StreamDecoder::finish`] checks the data ended where its
/// encoding says it ends. At most `limit` decoded bytes in all.
pub struct StreamDecoder {
    encoding: Encoding,
    inner: Inner,
}

enum Inner {
    Gzip(flate2::write::MultiGzDecoder<Capped>),
    Deflate(flate2::write::ZlibDecoder<Capped>),
    Zstd(Box<zstd::stream::write::Decoder<'static, Capped>>),
}

impl StreamDecoder {
    /// A decoder for a `Content-Encoding` header value; `Ok(None)` for identity.
    pub fn new(encoding: Option<&str>, limit: usize) -> Result<Option<Self>, DecodeError> {
        let Some(encoding) = Encoding::parse(encoding).map_err(DecodeError::Unsupported)? else {
            return Ok(None);
        };
        let sink = Capped {
            out: Vec::new(),
            left: limit,
            limit,
            over: false,
        };
        let inner = match encoding {
            Encoding::Gzip => Inner::Gzip(flate2::write::MultiGzDecoder::new(sink)),
            Encoding::Deflate => Inner::Deflate(flate2::write::ZlibDecoder::new(sink)),
            Encoding::Zstd => Inner::Zstd(Box::new(
                zstd::stream::write::Decoder::new(sink).map_err(|e| corrupt(encoding, &e))?,
            )),
        };
        Ok(Some(StreamDecoder { encoding, inner }))
    }

    /// What `input`, the next piece of the answer, adds to the decoded answer (may be empty:
    /// a piece can end inside a compressed block).
    pub fn decode(&mut self, input: &[u8]) -> Result<Vec<u8>, DecodeError> {
        let written = match &mut self.inner {
            Inner::Gzip(d) => d.write_all(input).and_then(|()| d.flush()),
            Inner::Deflate(d) => d.write_all(input).and_then(|()| d.flush()),
            Inner::Zstd(d) => d.write_all(input).and_then(|()| d.flush()),
        };
        self.take(written)
    }

    /// The end of the answer: the rest of the decoded data, or an error when the compressed
    /// data stopped before its end.
    pub fn finish(mut self) -> Result<Vec<u8>, DecodeError> {
        let finished = match &mut self.inner {
            Inner::Gzip(d) => d.try_finish(),
            Inner::Deflate(d) => d.try_finish(),
            Inner::Zstd(d) => d.do_finish(),
        };
        self.take(finished)
    }

    /// [`Self::decode`] of the last piece, then [`Self::finish`]: a whole answer decoded.
    pub fn decode_last(mut self, input: &[u8]) -> Result<Vec<u8>, DecodeError> {
        let mut out = self.decode(input)?;
        out.extend(self.finish()?);
        Ok(out)
    }

    fn take(&mut self, result: io::Result<()>) -> Result<Vec<u8>, DecodeError> {
        let sink = match &mut self.inner {
            Inner::Gzip(d) => d.get_mut(),
            Inner::Deflate(d) => d.get_mut(),
            Inner::Zstd(d) => d.get_mut(),
        };
        if sink.over {
            return Err(DecodeError::TooLarge(sink.limit));
        }
        result.map_err(|e| corrupt(self.encoding, &e))?;
        Ok(std::mem::take(&mut sink.out))
    }
}

fn corrupt(encoding: Encoding, error: &io::Error) -> DecodeError {
    DecodeError::Corrupt {
        encoding: encoding.name(),
        detail: error.to_string(),
    }
}

/// Where a [`StreamDecoder`] writes: refuses to take more than `limit` bytes in all.
struct Capped {
    out: Vec<u8>,
    left: usize,
    limit: usize,
    over: bool,
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() > self.left {
            self.over = true;
            return Err(io::Error::other("decoded size over the limit"));
        }
        self.left -= buf.len();
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn read_limited(
    reader: impl Read,
    encoding: &'static str,
    limit: usize,
) -> Result<Vec<u8>, BridgeError> {
    let mut out = Vec::new();
    // Read one byte past the limit to tell "exactly at the limit" from "over it".
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| BridgeError::BadEncoding {
            encoding,
            detail: e.to_string(),
        })?;
    if out.len() > limit {
        return Err(BridgeError::BodyTooLarge {
            size: out.len(),
            limit,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn identity_gzip_and_zstd_decode() {
        let data = br#"{"model":"m","input":"hi"}"#.to_vec();
        assert_eq!(decode_body(None, data.clone(), 1000).unwrap(), data);
        assert_eq!(decode_body(Some("gzip"), gzip(&data), 1000).unwrap(), data);
        let z = zstd::encode_all(&data[..], 3).unwrap();
        assert_eq!(decode_body(Some("zstd"), z, 1000).unwrap(), data);
    }

    #[test]
    fn every_member_of_a_multi_member_gzip_is_decoded() {
        let mut body = gzip(br#"{"model":"m","#);
        body.extend(gzip(br#""input":"hi"}"#));
        assert_eq!(
            decode_body(Some("gzip"), body, 1000).unwrap(),
            br#"{"model":"m","input":"hi"}"#
        );
    }

    /// `data` gzip-compressed in two flushed pieces, as a server compressing a stream sends
    /// it: the first piece decodes on its own.
    fn flushed_gzip(first: &[u8], second: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(first).unwrap();
        enc.flush().unwrap();
        let head = std::mem::take(enc.get_mut());
        enc.write_all(second).unwrap();
        (head, enc.finish().unwrap())
    }

    fn decode_all(encoding: &str, pieces: &[&[u8]], limit: usize) -> Result<Vec<u8>, DecodeError> {
        let mut decoder = StreamDecoder::new(Some(encoding), limit)?.unwrap();
        let mut out = Vec::new();
        for piece in pieces {
            out.extend(decoder.decode(piece)?);
        }
        out.extend(decoder.finish()?);
        Ok(out)
    }

    #[test]
    fn a_compressed_stream_decodes_piece_by_piece() {
        let (head, tail) = flushed_gzip(b"data: one\n\n", b"data: two\n\n");
        let mut decoder = StreamDecoder::new(Some("gzip"), 1000).unwrap().unwrap();
        // The first event is there before the rest of the stream arrives.
        assert_eq!(decoder.decode(&head).unwrap(), b"data: one\n\n");
        let mut rest = Vec::new();
        for byte in &tail {
            rest.extend(decoder.decode(std::slice::from_ref(byte)).unwrap());
        }
        rest.extend(decoder.finish().unwrap());
        assert_eq!(rest, b"data: two\n\n");

        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        zlib.write_all(b"deflated").unwrap();
        let zlib = zlib.finish().unwrap();
        assert_eq!(decode_all("deflate", &[&zlib], 100).unwrap(), b"deflated");
        let z = zstd::encode_all(&b"zstd piece"[..], 3).unwrap();
        let (a, b) = z.split_at(z.len() / 2);
        assert_eq!(decode_all("zstd", &[a, b], 100).unwrap(), b"zstd piece");
        assert!(StreamDecoder::new(Some("identity"), 100).unwrap().is_none());
    }

    #[test]
    fn a_broken_cut_or_oversized_stream_is_an_error() {
        let whole = gzip(b"data: all of it\n\n");
        let cut = &whole[..whole.len() - 4];
        assert!(matches!(
            decode_all("gzip", &[cut], 1000),
            Err(DecodeError::Corrupt {
                encoding: "gzip",
                ..
            })
        ));
        assert!(matches!(
            decode_all("gzip", &[b"not gzip at all"], 1000),
            Err(DecodeError::Corrupt { .. })
        ));
        let z = zstd::encode_all(&b"zstd piece"[..], 3).unwrap();
        assert!(matches!(
            decode_all("zstd", &[&z[..z.len() - 3]], 1000),
            Err(DecodeError::Corrupt {
                encoding: "zstd",
                ..
            })
        ));
        assert_eq!(
            decode_all("gzip", &[&gzip(&[b'a'; 100_000])], 1000),
            Err(DecodeError::TooLarge(1000))
        );
        assert!(matches!(
            StreamDecoder::new(Some("br"), 1000),
            Err(DecodeError::Unsupported(e)) if e == "br"
        ));
    }

    #[test]
    fn bombs_and_garbage_are_refused() {
        let big = vec![b'a'; 100_000];
        assert!(matches!(
            decode_body(Some("gzip"), gzip(&big), 1000),
            Err(BridgeError::BodyTooLarge { .. })
        ));
        assert!(matches!(
            decode_body(Some("zstd"), b"not zstd".to_vec(), 1000),
            Err(BridgeError::BadEncoding { .. })
        ));
        assert!(matches!(
            decode_body(Some("br"), b"x".to_vec(), 1000),
            Err(BridgeError::UnsupportedEncoding(_))
        ));
    }
}
