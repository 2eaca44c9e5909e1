//! The blocking `GET` of the management commands (`wallet`, `gen-catalog`, `doctor`,
//! `start`/`up`, `daemon status`), and a blocking JSON `POST` ([`post_json`], for JSON-RPC
//! such as the Solana balance of direct mode): the bridge's own pooled client
//! ([`UpstreamClient`](crate::upstream_client::UpstreamClient), Pingora's connector) run on a
//! throw-away current-thread Tokio runtime. Pingora does the HTTP (`Content-Length`, chunked
//! and close-delimited bodies, time-outs) and TLS, so `https://` URLs work as well as
//! `http://` ones.
//!
//! Errors come in two kinds, because callers act differently on them: [`GetError::Down`]
//! (nothing could be connected to: the service is not running) and [`GetError::Failed`]
//! (something is there but gave no usable HTTP answer, or the URL is bad).

use std::fmt;
use std::time::Duration;

use crate::config::Upstream;
use crate::upstream_client::{TransportError, UpstreamClient};

/// A whole answer: its status and its body (invalid UTF-8 replaced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status code, whatever it is (a non-2xx answer is a `Reply`, not an error).
    pub status: u16,
    /// The whole body, decoded as UTF-8 with invalid bytes replaced.
    pub body: String,
}

/// Why no answer came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetError {
    /// No connection could be made: nothing listening, refused, no route, connect time-out,
    /// TLS handshake failure.
    Down(String),
    /// Connected, but no whole HTTP answer (silent, closed early, not HTTP, too large), or the
    /// URL itself is unusable.
    Failed(String),
}

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetError::Down(why) => write!(f, "cannot connect ({why})"),
            GetError::Failed(why) => f.write_str(why),
        }
    }
}

/// `GET url` (`http://` or `https://`) with `Accept: application/json`, and
/// `Authorization: Bearer <bearer>` when given. `timeout` bounds the connect and each read;
/// the whole exchange gets at most twice that, so a trickling answer cannot hold a caller.
pub fn get(url: &str, bearer: Option<&str>, timeout: Duration) -> Result<Reply, GetError> {
    blocking(url, bearer, None, timeout)
}

/// `POST url` with the JSON `body` (`Content-Type: application/json`), otherwise as [`get`].
pub fn post_json(url: &str, body: &str, timeout: Duration) -> Result<Reply, GetError> {
    blocking(url, None, Some(body), timeout)
}

fn blocking(
    url: &str,
    bearer: Option<&str>,
    body: Option<&str>,
    timeout: Duration,
) -> Result<Reply, GetError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| GetError::Failed(format!("{url:?} is not a URL ({e})")))?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(GetError::Failed(format!(
            "{url:?} must start with http:// or https://"
        )));
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let path = if path.is_empty() { "/" } else { path };
    let upstream =
        Upstream::for_url(&format!("{scheme}://{authority}"), timeout).map_err(GetError::Failed)?;
    let exchange = || -> Result<Reply, GetError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| GetError::Failed(format!("cannot start the HTTP client ({e})")))?;
        runtime.block_on(send(&upstream, path, bearer, body, timeout))
    };
    // `block_on` inside a running runtime would panic: then the exchange gets a thread of its own.
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|scope| {
            scope.spawn(exchange).join().unwrap_or_else(|_| {
                Err(GetError::Failed("the HTTP client thread failed".to_owned()))
            })
        })
    } else {
        exchange()
    }
}

async fn send(
    upstream: &Upstream,
    path: &str,
    bearer: Option<&str>,
    body: Option<&str>,
    timeout: Duration,
) -> Result<Reply, GetError> {
    let client = UpstreamClient::new(upstream);
    let auth = bearer.map(|token| format!("Bearer {token}"));
    let user_agent = concat!("clawrouter-codex/", env!("CARGO_PKG_VERSION"));
    let mut headers = vec![
        ("accept", "application/json"),
        ("user-agent", user_agent),
        ("connection", "close"),
    ];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth.as_str()));
    }
    let (method, body) = match body {
        Some(body) => {
            headers.push(("content-type", "application/json"));
            ("POST", Some(bytes::Bytes::copy_from_slice(body.as_bytes())))
        }
        None => ("GET", None),
    };
    let within = describe(timeout);
    let reply = tokio::time::timeout(timeout * 2, client.send(method, path, &headers, body))
        .await
        .map_err(|_| GetError::Failed(format!("no whole answer within {}", describe(timeout * 2))))?
        .map_err(|e| match e {
            TransportError::Connect(why) => GetError::Down(why),
            TransportError::TimedOut => GetError::Failed(format!("did not answer within {within}")),
            TransportError::Broken(why) => GetError::Failed(why),
            TransportError::TooLarge => GetError::Failed("the answer is too large".to_owned()),
        })?;
    Ok(Reply {
        status: reply.status,
        body: String::from_utf8_lossy(&reply.body).into_owned(),
    })
}

/// `3 s`, `800 ms`.
fn describe(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::thread::JoinHandle;

    const T: Duration = Duration::from_secs(5);

    /// Serves one connection: reads the request head, writes `answer` (if any), then closes.
    /// Returns the port and the request head as received.
    fn serve_once(answer: Option<&'static [u8]>) -> (u16, JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().expect("accept");
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            match answer {
                Some(a) => s.write_all(a).expect("write"),
                // Accept but stay silent until the client gives up.
                None => {
                    let _ = s.read(&mut buf);
                }
            }
            String::from_utf8_lossy(&head).into_owned()
        });
        (port, server)
    }

    #[test]
    fn chunked_answer_with_path_query_and_bearer() {
        let (port, server) = serve_once(Some(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        ));
        let reply = get(
            &format!("http://127.0.0.1:{port}/health?full=true"),
            Some("tok"),
            T,
        )
        .expect("reply");
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, "hello world");
        let head = server.join().expect("server").to_ascii_lowercase();
        assert!(
            head.starts_with("get /health?full=true http/1.1\r\n"),
            "{head}"
        );
        assert!(head.contains("authorization: bearer tok\r\n"), "{head}");
        assert!(
            head.contains(&format!("host: 127.0.0.1:{port}\r\n")),
            "{head}"
        );
    }

    #[test]
    fn length_and_close_delimited_answers_and_a_bare_origin() {
        let (port, server) = serve_once(Some(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope",
        ));
        let reply = get(&format!("http://127.0.0.1:{port}"), None, T).expect("reply");
        assert_eq!((reply.status, reply.body.as_str()), (404, "nope"));
        let head = server.join().expect("server").to_ascii_lowercase();
        assert!(head.starts_with("get / http/1.1\r\n"), "{head}");
        assert!(!head.contains("authorization"), "{head}");

        let (port, server) = serve_once(Some(b"HTTP/1.1 200 OK\r\n\r\n{\"ok\":1}"));
        let reply = get(&format!("http://127.0.0.1:{port}/v1/models"), None, T).expect("reply");
        assert_eq!((reply.status, reply.body.as_str()), (200, "{\"ok\":1}"));
        server.join().expect("server");
    }

    #[test]
    fn nothing_listening_is_down() {
        let free = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = free.local_addr().expect("addr").port();
        drop(free);
        let err = get(&format!("http://127.0.0.1:{port}/health"), None, T).unwrap_err();
        assert!(matches!(err, GetError::Down(_)), "{err:?}");
    }

    #[test]
    fn mute_garbage_and_early_close_are_failures() {
        let (port, server) = serve_once(None);
        let err = get(
            &format!("http://127.0.0.1:{port}/health"),
            None,
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(matches!(err, GetError::Failed(_)), "{err:?}");
        server.join().expect("server");

        let (port, server) = serve_once(Some(b"SSH-2.0-OpenSSH_9.6\r\n\r\n"));
        let err = get(&format!("http://127.0.0.1:{port}/health"), None, T).unwrap_err();
        assert!(matches!(err, GetError::Failed(_)), "{err:?}");
        server.join().expect("server");

        let (port, server) = serve_once(Some(b""));
        let err = get(&format!("http://127.0.0.1:{port}/health"), None, T).unwrap_err();
        assert!(matches!(err, GetError::Failed(_)), "{err:?}");
        server.join().expect("server");
    }

    #[test]
    fn bad_urls_are_failures() {
        for url in ["", "127.0.0.1:80/health", "ftp://127.0.0.1/", "http://"] {
            let err = get(url, None, T).unwrap_err();
            assert!(matches!(err, GetError::Failed(_)), "{url}: {err:?}");
        }
    }

    #[test]
    fn works_inside_a_runtime_too() {
        let (port, server) = serve_once(Some(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let reply = runtime
            .block_on(async { get(&format!("http://127.0.0.1:{port}/"), None, T) })
            .expect("reply");
        assert_eq!(reply.body, "{}");
        server.join().expect("server");
    }
}
