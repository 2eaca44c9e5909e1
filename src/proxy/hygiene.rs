//! Request hygiene (README, Security): the checks every request passes before anything else
//! happens, and the client headers that never reach the upstream.
//!
//! Any web page the user visits can send requests to `localhost`. So the bridge accepts only
//! `Host` headers that name itself (defeating DNS rebinding), refuses browser cross-origin
//! requests (a foreign `Origin`, `Sec-Fetch-Site: cross-site`), insists on a JSON content type
//! for JSON POSTs (a cross-origin form or `text/plain` "simple request" cannot send one without
//! a preflight, which the bridge never answers), and checks the bearer token when it listens
//! beyond loopback.

use std::net::SocketAddr;

use http::HeaderMap;

use crate::error::BridgeError;

/// Client headers that carry credentials or account identity: never forwarded upstream.
/// (ClawRouter forwards `Authorization` to BlockRun; a ChatGPT token must never go there.)
pub const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "chatgpt-account-id",
    "openai-organization",
    "openai-project",
    "x-api-key",
    "api-key",
    "x-openai-api-key",
];

/// What a request is checked against: the bridge's own address and optional token.
#[derive(Debug, Clone)]
pub struct Gate {
    listen: SocketAddr,
    auth_token: Option<String>,
}

impl Gate {
    /// `listen`: the bridge's address, which the `Host` header must name. `auth_token`: when
    /// set, every request must present it (`Authorization: Bearer`, or as a Basic password);
    /// `None` checks no token.
    pub fn new(listen: SocketAddr, auth_token: Option<String>) -> Self {
        Gate { listen, auth_token }
    }

    /// Runs every check that applies to all endpoints.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), BridgeError> {
        self.check_host(headers)?;
        self.check_origin(headers)?;
        self.check_token(headers)
    }

    fn check_host(&self, headers: &HeaderMap) -> Result<(), BridgeError> {
        // With a token and a wildcard listen address any name may reach us; the token guards.
        if self.auth_token.is_some() && self.listen.ip().is_unspecified() {
            return Ok(());
        }
        let Some(host) = header_str(headers, "host") else {
            return Err(BridgeError::MisdirectedHost(
                "missing Host header: send the bridge's own address, e.g. Host: 127.0.0.1:8403"
                    .to_owned(),
            ));
        };
        if self.names_us(host) {
            Ok(())
        } else {
            Err(BridgeError::MisdirectedHost(format!(
                "Host {} does not name this bridge (expected localhost, 127.0.0.1 or [::1] on port {}); \
                 requests through other host names are refused to stop DNS-rebinding attacks",
                crate::excerpt::quoted(host),
                self.listen.port()
            )))
        }
    }

    /// True when `authority` (`host[:port]`) is one of the bridge's own names and ports.
    fn names_us(&self, authority: &str) -> bool {
        let (host, port) = split_authority(authority);
        if let Some(port) = port {
            if port != self.listen.port() {
                return false;
            }
        }
        let host = host.to_ascii_lowercase();
        let listen_ip = self.listen.ip().to_string();
        matches!(host.as_str(), "localhost" | "127.0.0.1" | "::1") || host == listen_ip
    }

    fn check_origin(&self, headers: &HeaderMap) -> Result<(), BridgeError> {
        if header_str(headers, "sec-fetch-site")
            .is_some_and(|s| s.eq_ignore_ascii_case("cross-site"))
        {
            return Err(BridgeError::Forbidden(
                "cross-site browser requests are refused: the bridge spends wallet funds and edits Codex config"
                    .to_owned(),
            ));
        }
        let Some(origin) = header_str(headers, "origin") else {
            return Ok(());
        };
        let authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .unwrap_or("");
        if !authority.is_empty()
            && !authority.contains('/')
            && self.names_us(authority)
            && split_authority(authority).1.is_some()
        {
            return Ok(());
        }
        Err(BridgeError::Forbidden(format!(
            "requests from web origin {} are refused: only the bridge's own pages may call it from a browser",
            crate::excerpt::quoted(origin)
        )))
    }

    fn check_token(&self, headers: &HeaderMap) -> Result<(), BridgeError> {
        let Some(token) = &self.auth_token else {
            return Ok(());
        };
        let presented = header_str(headers, "authorization").and_then(presented_token);
        match presented {
            Some(p) if constant_time_eq(p.as_bytes(), token.as_bytes()) => Ok(()),
            _ => Err(BridgeError::Unauthorized),
        }
    }
}

/// The token in an `Authorization` value: `Bearer <token>`, or `Basic` with the token as the
/// password (what a browser sends for the dashboard once the user typed it).
fn presented_token(value: &str) -> Option<String> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(rest.trim().to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        let pair = String::from_utf8(decoded).ok()?;
        return pair
            .split_once(':')
            .map(|(_, password)| password.to_owned());
    }
    None
}

/// For POST endpoints that take JSON: the content type must be JSON.
pub fn require_json_content_type(headers: &HeaderMap) -> Result<(), BridgeError> {
    let content_type = header_str(headers, "content-type").unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(())
    } else {
        Err(BridgeError::UnsupportedMediaType(format!(
            "Content-Type {} is not JSON: send Content-Type: application/json",
            crate::excerpt::quoted(content_type)
        )))
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Splits `host:port`, `[v6]:port`, `host` into host and optional port.
fn split_authority(authority: &str) -> (&str, Option<u16>) {
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']').unwrap_or((rest, ""));
        return (host, after.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => match port.parse() {
            Ok(port) => (host, Some(port)),
            Err(_) => (authority, Some(0)),
        },
        _ => (authority, None),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        map
    }

    fn gate() -> Gate {
        Gate::new("127.0.0.1:8403".parse().unwrap(), None)
    }

    #[test]
    fn own_host_names_pass() {
        for host in [
            "127.0.0.1:8403",
            "localhost:8403",
            "[::1]:8403",
            "localhost",
            "LOCALHOST:8403",
        ] {
            assert!(gate().check(&headers(&[("host", host)])).is_ok(), "{host}");
        }
    }

    #[test]
    fn foreign_hosts_and_ports_are_refused() {
        for host in [
            "evil.example:8403",
            "127.0.0.1:9999",
            "attacker.com",
            "127.0.0.1:abc",
        ] {
            let err = gate().check(&headers(&[("host", host)])).unwrap_err();
            assert_eq!(err.status(), 421, "{host}");
        }
        assert_eq!(gate().check(&headers(&[])).unwrap_err().status(), 421);
    }

    #[test]
    fn cross_origin_browser_requests_are_refused() {
        let cases: [&[(&str, &str)]; 4] = [
            &[
                ("host", "127.0.0.1:8403"),
                ("origin", "https://evil.example"),
            ],
            &[("host", "127.0.0.1:8403"), ("origin", "null")],
            &[
                ("host", "127.0.0.1:8403"),
                ("origin", "http://localhost:3000"),
            ],
            &[("host", "127.0.0.1:8403"), ("sec-fetch-site", "cross-site")],
        ];
        for case in cases {
            assert_eq!(
                gate().check(&headers(case)).unwrap_err().status(),
                403,
                "{case:?}"
            );
        }
        assert!(gate()
            .check(&headers(&[
                ("host", "localhost:8403"),
                ("origin", "http://localhost:8403")
            ]))
            .is_ok());
    }

    #[test]
    fn token_is_required_beyond_loopback() {
        let gate = Gate::new("0.0.0.0:8403".parse().unwrap(), Some("s3cret".into()));
        assert_eq!(
            gate.check(&headers(&[("host", "box:8403")]))
                .unwrap_err()
                .status(),
            401
        );
        assert!(gate
            .check(&headers(&[
                ("host", "box:8403"),
                ("authorization", "Bearer s3cret")
            ]))
            .is_ok());
        assert!(gate
            .check(&headers(&[
                ("host", "box:8403"),
                ("authorization", "Bearer wrong")
            ]))
            .is_err());
        // A browser's Basic credentials, the token as the password (`any:s3cret`).
        assert!(gate
            .check(&headers(&[
                ("host", "box:8403"),
                ("authorization", "Basic YW55OnMzY3JldA==")
            ]))
            .is_ok());
        assert!(gate
            .check(&headers(&[
                ("host", "box:8403"),
                ("authorization", "Basic czNjcmV0Ondyb25n")
            ]))
            .is_err());
    }

    #[test]
    fn json_content_type_is_required() {
        assert!(require_json_content_type(&headers(&[(
            "content-type",
            "application/json; charset=utf-8"
        )]))
        .is_ok());
        for ct in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ] {
            assert_eq!(
                require_json_content_type(&headers(&[("content-type", ct)]))
                    .unwrap_err()
                    .status(),
                415
            );
        }
        assert!(require_json_content_type(&headers(&[])).is_err());
    }
}
