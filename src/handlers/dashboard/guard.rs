//! What a request to the dashboard must show before it may change anything.
//!
//! The dashboard edits Codex's config and reads wallet state, from a page that any tab of the
//! user's browser could try to reach. Every request has already passed the bridge-wide gate
//! (`proxy::hygiene`: the `Host` names the bridge — no DNS rebinding —, no foreign `Origin`, no
//! `Sec-Fetch-Site: cross-site`, the bearer token beyond loopback). A state-changing call must
//! also:
//!
//! 1. be a `POST` (a `GET` never changes anything);
//! 2. come from a loopback peer (the bridge's own machine), whatever address it listens on;
//! 3. be same-origin: `Origin` equal to the bridge's own origin (`http://` + the `Host` it was
//!    sent to), or no `Origin` and `Sec-Fetch-Site: same-origin` — a request with neither is
//!    not from the page and is refused;
//! 4. carry the per-process CSRF token (embedded in the page, never in a URL) in the
//!    `x-csrf-token` header — a token of another bridge process does not match;
//! 5. have a JSON content type (a cross-origin HTML form cannot send one without a preflight).
//!
//! Reads (the page, its state) change nothing; a browser may still not fetch them for a page of
//! another site, not even a same-site one such as another local server (`Sec-Fetch-Site` must
//! be absent, `none` — the user opened the URL — or `same-origin`).

use std::net::IpAddr;

use http::HeaderMap;

use crate::secrets::{random_hex, RandomUnavailable};

/// The header the page sends the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Why a dashboard request was refused (each says what was missing); the dashboard answers
/// it with a `403` carrying this text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A change came from another machine (or an unknown peer); holds the peer address.
    #[error(
        "dashboard changes come only from this machine (loopback); this request came from {0}"
    )]
    NotLoopback(String),
    /// A change's `Origin` is not the bridge's own, or it has neither `Origin` nor
    /// `Sec-Fetch-Site: same-origin`; holds which.
    #[error("dashboard changes must come from the dashboard page itself (same origin); {0}")]
    NotSameOrigin(String),
    /// A change's `x-csrf-token` header is missing or is not this process's token.
    #[error("the dashboard's CSRF token is missing or wrong: reload the dashboard page")]
    BadToken,
    /// A change's `Content-Type` is not `application/json`.
    #[error("dashboard changes are JSON POSTs (Content-Type: application/json)")]
    NotJson,
    /// A read was fetched for another site's page; holds its `Sec-Fetch-Site` value
    /// (`cross-site`, `same-site`).
    #[error(
        "the dashboard is not served to another site's page (Sec-Fetch-Site: {0}); open its \
         address directly"
    )]
    ForeignSite(String),
}

/// The per-process secret the page must send back with every change.
#[derive(Clone)]
pub struct CsrfToken(String);

impl std::fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfToken(…)")
    }
}

/// Checks a read of the page or its state (see the module docs).
pub fn check_read(headers: &HeaderMap) -> Result<(), Refusal> {
    match header(headers, "sec-fetch-site") {
        None => Ok(()),
        Some(site)
            if site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none") =>
        {
            Ok(())
        }
        Some(site) => Err(Refusal::ForeignSite(site.to_owned())),
    }
}

impl CsrfToken {
    /// A fresh random token (32 bytes, hex).
    pub fn new() -> Result<Self, RandomUnavailable> {
        Ok(CsrfToken(random_hex(32)?))
    }

    /// The token, to embed in the page.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks a state-changing request (see the module docs).
    pub fn check_change(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> Result<(), Refusal> {
        match peer {
            Some(ip) if ip.is_loopback() || ipv4_mapped_loopback(ip) => {}
            Some(ip) => return Err(Refusal::NotLoopback(ip.to_string())),
            None => return Err(Refusal::NotLoopback("an unknown address".to_owned())),
        }
        same_origin(headers)?;
        let sent = header(headers, CSRF_HEADER).unwrap_or("");
        if !constant_time_eq(sent.as_bytes(), self.0.as_bytes()) {
            return Err(Refusal::BadToken);
        }
        let content_type = header(headers, "content-type").unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/json") {
            return Err(Refusal::NotJson);
        }
        Ok(())
    }
}

fn ipv4_mapped_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        IpAddr::V4(_) => false,
    }
}

fn same_origin(headers: &HeaderMap) -> Result<(), Refusal> {
    let host = header(headers, "host").unwrap_or("");
    match header(headers, "origin") {
        Some(origin) => {
            let own = format!("http://{host}");
            if !host.is_empty() && origin.eq_ignore_ascii_case(&own) {
                Ok(())
            } else {
                Err(Refusal::NotSameOrigin(format!(
                    "Origin {origin:?} is not {own:?}"
                )))
            }
        }
        None => match header(headers, "sec-fetch-site") {
            Some(site) if site.eq_ignore_ascii_case("same-origin") => Ok(()),
            _ => Err(Refusal::NotSameOrigin(
                "the request has no Origin and no Sec-Fetch-Site: same-origin".to_owned(),
            )),
        },
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    const LOOPBACK: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

    #[test]
    fn the_page_s_own_requests_pass() {
        let token = CsrfToken::new().unwrap();
        let t = token.as_str().to_owned();
        let from_page = headers(&[
            ("host", "127.0.0.1:8403"),
            ("origin", "http://127.0.0.1:8403"),
            ("x-csrf-token", &t),
            ("content-type", "application/json"),
        ]);
        assert_eq!(token.check_change(&from_page, LOOPBACK), Ok(()));
        let no_origin = headers(&[
            ("host", "localhost:8403"),
            ("sec-fetch-site", "same-origin"),
            ("x-csrf-token", &t),
            ("content-type", "application/json; charset=utf-8"),
        ]);
        assert_eq!(token.check_change(&no_origin, LOOPBACK), Ok(()));
    }

    #[test]
    fn reads_come_from_the_page_or_the_address_bar() {
        assert_eq!(check_read(&headers(&[])), Ok(()));
        assert_eq!(check_read(&headers(&[("sec-fetch-site", "none")])), Ok(()));
        assert_eq!(
            check_read(&headers(&[("sec-fetch-site", "same-origin")])),
            Ok(())
        );
        assert!(check_read(&headers(&[("sec-fetch-site", "same-site")])).is_err());
    }

    #[test]
    fn every_missing_proof_is_refused() {
        let token = CsrfToken::new().unwrap();
        let t = token.as_str().to_owned();
        let other = CsrfToken::new().unwrap();
        let base = |extra: &[(&'static str, &str)]| {
            let mut all = vec![
                ("host", "127.0.0.1:8403"),
                ("origin", "http://127.0.0.1:8403"),
                ("content-type", "application/json"),
            ];
            all.extend_from_slice(extra);
            headers(&all)
        };
        assert_eq!(
            token.check_change(&base(&[]), LOOPBACK),
            Err(Refusal::BadToken)
        );
        assert_eq!(
            token.check_change(&base(&[("x-csrf-token", other.as_str())]), LOOPBACK),
            Err(Refusal::BadToken),
            "another process's token"
        );
        let lan = Some("192.168.1.20".parse().unwrap());
        assert!(matches!(
            token.check_change(&base(&[("x-csrf-token", &t)]), lan),
            Err(Refusal::NotLoopback(_))
        ));
        let foreign = headers(&[
            ("host", "127.0.0.1:8403"),
            ("origin", "http://evil.example"),
            ("x-csrf-token", &t),
            ("content-type", "application/json"),
        ]);
        assert!(matches!(
            token.check_change(&foreign, LOOPBACK),
            Err(Refusal::NotSameOrigin(_))
        ));
        let curl = headers(&[
            ("host", "127.0.0.1:8403"),
            ("x-csrf-token", &t),
            ("content-type", "application/json"),
        ]);
        assert!(matches!(
            token.check_change(&curl, LOOPBACK),
            Err(Refusal::NotSameOrigin(_))
        ));
        let form = headers(&[
            ("host", "127.0.0.1:8403"),
            ("origin", "http://127.0.0.1:8403"),
            ("x-csrf-token", &t),
            ("content-type", "text/plain"),
        ]);
        assert_eq!(token.check_change(&form, LOOPBACK), Err(Refusal::NotJson));
    }
}
