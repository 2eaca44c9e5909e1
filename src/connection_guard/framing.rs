//! Strict checks of a complete request header, made by the connection guard before Pingora
//! parses it (docs/ARCHITECTURE.md, "Client connections"). Pingora refuses most malformed
//! headers itself, but with an empty `400` that tells the client nothing, and it keeps a
//! connection open after a request that carries both `Transfer-Encoding` and `Content-Length`
//! (RFC 9112 §6.1: the server must close it — the classic request-smuggling shape behind a
//! front proxy). Each rule here turns one such request into a `400` whose message says what is
//! wrong, quoting at most an excerpt; the connection then closes.
//!
//! The rules: the header parses as HTTP/1.x (no NUL or other control byte in a value, no
//! obsolete line folding, no HTTP/2 preface); `Content-Length` is digits only and, when
//! repeated, the same; `Transfer-Encoding` is `chunked` alone; never both; one `Host`; an
//! absolute-form target names the same host as `Host`.

use crate::excerpt::quoted;

/// Most header lines parsed (the guard refuses more lines before this is reached).
const MAX_LINES: usize = super::MAX_HEADER_LINES;

/// Checks a complete request header (request line through the blank line). `Err` is the
/// sentence for the client: what is wrong and how to send it instead.
pub fn check(header: &[u8]) -> Result<(), String> {
    if header.starts_with(b"PRI * HTTP/2.0") {
        return Err(
            "this is the HTTP/2 connection preface; the bridge speaks HTTP/1.1 \
                    (connect with http:// and no prior-knowledge HTTP/2)"
                .to_owned(),
        );
    }
    let mut slots = [httparse::EMPTY_HEADER; MAX_LINES];
    let mut request = httparse::Request::new(&mut slots);
    match request.parse(header) {
        Ok(httparse::Status::Complete(_)) => {}
        // The guard only calls this once the blank line has been seen.
        Ok(httparse::Status::Partial) => return Ok(()),
        Err(e) => return Err(describe_parse_error(e)),
    }
    // Values are borrowed from the header: nothing is allocated unless the request is refused.
    // A value that is not UTF-8 reads as U+FFFD, which no rule below accepts.
    let named = |name: &'static str| {
        request
            .headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| std::str::from_utf8(h.value).unwrap_or("\u{fffd}").trim())
    };
    let lengths = || named("content-length").flat_map(|v| v.split(',').map(str::trim));
    let codings = || named("transfer-encoding").flat_map(|v| v.split(',').map(str::trim));
    if codings().next().is_some() && lengths().next().is_some() {
        return Err(
            "the request has both Transfer-Encoding and Content-Length, which \
                    front proxies may read differently (request smuggling); send one of them"
                .to_owned(),
        );
    }
    check_lengths(lengths())?;
    let mut all_codings = codings();
    if let Some(first) = all_codings.next() {
        if !first.eq_ignore_ascii_case("chunked") || all_codings.next().is_some() {
            return Err(format!(
                "Transfer-Encoding {} is not supported: send the body with Content-Length, or \
                 with Transfer-Encoding: chunked alone",
                quoted(&codings().collect::<Vec<_>>().join(", "))
            ));
        }
    }
    let mut hosts = named("host");
    let host = hosts.next();
    let more_hosts = hosts.count();
    if more_hosts > 0 {
        return Err(format!(
            "the request has {} Host headers; send exactly one",
            more_hosts + 1
        ));
    }
    if let (Some(target), Some(host)) = (request.path, host) {
        check_absolute_target(target, host)?;
    }
    Ok(())
}

/// Whether `header` starts with a request line (`METHOD target HTTP/1.x`, after any empty
/// lines) or the HTTP/2 preface, rather than in the middle of a request.
pub fn starts_a_request(header: &[u8]) -> bool {
    let start = header
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(header.len());
    let rest = header.get(start..).unwrap_or_default();
    let line = rest.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let is_method = |word: &[u8]| !word.is_empty() && word.iter().all(u8::is_ascii_uppercase);
    match line.split(|&b| b == b' ').collect::<Vec<_>>().as_slice() {
        [method, _target, version] => is_method(method) && version.starts_with(b"HTTP/"),
        _ => false,
    }
}

/// Every `Content-Length` value is digits only (no sign, no space inside) and all are equal.
fn check_lengths<'a>(lengths: impl Iterator<Item = &'a str>) -> Result<(), String> {
    let mut seen: Option<u64> = None;
    for value in lengths {
        let number = value
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| value.parse::<u64>().ok())
            .flatten()
            .filter(|_| !value.is_empty())
            .ok_or_else(|| {
                format!(
                    "Content-Length {} is not a number of bytes (digits only); send the body's length",
                    quoted(value)
                )
            })?;
        match seen {
            Some(first) if first != number => {
                return Err(format!(
                    "the request has two different Content-Length values ({first} and {number}); send one"
                ))
            }
            _ => seen = Some(number),
        }
    }
    Ok(())
}

/// An absolute-form target (`POST http://host/v1/responses`) must name the `Host` it was sent
/// with: otherwise a front proxy and the bridge would disagree on where the request goes.
fn check_absolute_target(target: &str, host: &str) -> Result<(), String> {
    let Some(rest) = target
        .strip_prefix("http://")
        .or_else(|| target.strip_prefix("https://"))
    else {
        return Ok(());
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(format!(
            "the request target names the host {} but the Host header says {}; send the path \
             alone (POST /v1/responses) with the bridge's address in Host",
            quoted(authority),
            quoted(host)
        ))
    }
}

fn describe_parse_error(error: httparse::Error) -> String {
    let what = match error {
        httparse::Error::HeaderName => {
            "a header name is not a valid token (a line that starts with a space or a tab is \
             obsolete line folding, which is refused: put each header on one line)"
        }
        httparse::Error::HeaderValue => {
            "a header value holds a control character (NUL, or a byte below 0x20 other than tab)"
        }
        httparse::Error::NewLine => "a line ends in a bare CR; end lines with CRLF",
        httparse::Error::Token => {
            "the request line is not `METHOD /path HTTP/1.1` (a method or target holds an invalid character)"
        }
        httparse::Error::Version => "the HTTP version is not HTTP/1.0 or HTTP/1.1",
        httparse::Error::TooManyHeaders => "the request has too many header lines",
        httparse::Error::Status => "the request line is not valid",
    };
    what.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(header: &str) -> String {
        check(header.as_bytes()).expect_err(header)
    }

    #[test]
    fn a_codex_request_passes() {
        let header = "POST /v1/responses HTTP/1.1\r\nhost: 127.0.0.1:8403\r\ncontent-type: application/json\r\ncontent-length: 12\r\n\r\n";
        assert_eq!(check(header.as_bytes()), Ok(()));
        let chunked =
            "POST /v1/responses HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n";
        assert_eq!(check(chunked.as_bytes()), Ok(()));
        let same = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(check(same.as_bytes()), Ok(()));
    }

    #[test]
    fn both_framings_at_once_are_refused() {
        let why = refused(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        assert!(
            why.contains("both Transfer-Encoding and Content-Length"),
            "{why}"
        );
    }

    #[test]
    fn bad_lengths_are_refused_with_an_excerpt() {
        for value in ["+5", "-1", "abc", "1 2", "", "99999999999999999999999"] {
            let why = refused(&format!(
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {value}\r\n\r\n"
            ));
            assert!(why.contains("is not a number of bytes"), "{value}: {why}");
        }
        let why =
            refused("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
        assert!(
            why.contains("two different Content-Length values (5 and 6)"),
            "{why}"
        );
        let why = refused(&format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
            "7".repeat(5_000)
        ));
        assert!(why.len() < 300, "{why}");
    }

    #[test]
    fn unknown_codings_hosts_and_targets_are_refused() {
        let why = refused("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
        assert!(why.contains("\"gzip, chunked\" is not supported"), "{why}");
        let why = refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
        assert!(why.contains("2 Host headers"), "{why}");
        let why =
            refused("GET http://evil.example/v1/models HTTP/1.1\r\nHost: 127.0.0.1:8403\r\n\r\n");
        assert!(why.contains("\"evil.example\""), "{why}");
        assert_eq!(
            check(b"GET http://127.0.0.1:8403/health HTTP/1.1\r\nHost: 127.0.0.1:8403\r\n\r\n"),
            Ok(())
        );
    }

    #[test]
    fn a_request_start_is_told_from_the_middle_of_one() {
        assert!(starts_a_request(
            b"POST /v1/responses HTTP/1.1\r\nHost: x\r\n\r\n"
        ));
        assert!(starts_a_request(b"\r\nGET / HTTP/1.0\r\n\r\n"));
        assert!(starts_a_request(b"PRI * HTTP/2.0\r\n\r\n"));
        assert!(!starts_a_request(
            b"st: 127.0.0.1\r\nContent-Length: 2\r\n\r\n"
        ));
        assert!(!starts_a_request(b"Content-Length: 2\r\n\r\n"));
    }

    #[test]
    fn syntax_errors_say_what_is_wrong() {
        let why = refused("GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n");
        assert!(why.contains("folding"), "{why}");
        let why = refused("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n");
        assert!(why.contains("control character"), "{why}");
        let why = refused("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        assert!(why.contains("HTTP/2"), "{why}");
    }
}
