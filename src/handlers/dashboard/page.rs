//! The dashboard page: `assets/dashboard.html`, compiled into the binary, with the per-response
//! CSP nonce and the per-process CSRF token filled in.
//!
//! Headers: a Content-Security-Policy that allows nothing from anywhere but this page's own
//! nonce-marked style and script and `fetch` to the bridge itself (`default-src 'none'`), no
//! framing (`frame-ancestors 'none'`, `X-Frame-Options: DENY`), no referrer, no caching, no
//! content sniffing.

use pingora::proxy::Session;

use crate::session_io::send_whole;

const TEMPLATE: &str = include_str!("../../../assets/dashboard.html");

/// The page with `nonce` and `token` in place.
pub fn render(nonce: &str, token: &str) -> String {
    TEMPLATE
        .replace("{{NONCE}}", nonce)
        .replace("{{CSRF_TOKEN}}", token)
}

/// The page's Content-Security-Policy for `nonce`.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; \
         img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    )
}

/// Writes the page.
pub async fn send(session: &mut Session, nonce: &str, token: &str) -> pingora::Result<()> {
    let headers = [
        ("content-security-policy", content_security_policy(nonce)),
        ("x-frame-options", "DENY".to_owned()),
        ("referrer-policy", "no-referrer".to_owned()),
        ("x-content-type-options", "nosniff".to_owned()),
    ];
    let body = render(nonce, token).into_bytes();
    send_whole(session, 200, "text/html; charset=utf-8", body, &headers).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_carries_its_nonce_and_token_and_nothing_from_outside() {
        let page = render("n0nce", "t0ken");
        assert!(page.contains(r#"<meta name="csrf-token" content="t0ken">"#));
        assert!(page.contains(r#"<script nonce="n0nce">"#));
        assert!(page.contains(r#"<style nonce="n0nce">"#));
        assert!(!page.contains("{{"), "every placeholder filled");
        for outside in ["<link", " src=", "@import", "url(", "href=\"http"] {
            assert!(
                !page.contains(outside),
                "the page loads something: {outside}"
            );
        }
    }
}
