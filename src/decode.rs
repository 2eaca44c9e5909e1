//! Request body decoding: `Content-Encoding: gzip` and `zstd` (Codex compresses request bodies
//! when it believes it talks to ChatGPT, which `desktop on` makes it believe). The decoded size
//! is capped so a small compressed body cannot expand without bound.

use std::io::Read;

use crate::error::BridgeError;

/// Decodes `body` according to a `Content-Encoding` header value, enforcing `limit` on the
/// decoded size. Identity (absent or `identity`) returns the body unchanged.
pub fn decode_body(
    encoding: Option<&str>,
    body: Vec<u8>,
    limit: usize,
) -> Result<Vec<u8>, BridgeError> {
    let encoding = encoding.map(|e| e.trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("") | Some("identity") => Ok(body),
        Some("gzip") | Some("x-gzip") => {
            // Every member: a gzip file may be several concatenated streams (RFC 1952).
            read_limited(flate2::read::MultiGzDecoder::new(&body[..]), "gzip", limit)
        }
        Some("zstd") => {
            let decoder = zstd::stream::read::Decoder::new(&body[..]).map_err(|e| {
                BridgeError::BadEncoding {
                    encoding: "zstd",
                    detail: e.to_string(),
                }
            })?;
            read_limited(decoder, "zstd", limit)
        }
        Some(other) => Err(BridgeError::UnsupportedEncoding(other.to_owned())),
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
