//! Minimal HTTP/1.1 server plumbing: request parsing with `httparse`
//! (Content-Length and chunked bodies, keep-alive) and response writing.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

const MAX_HEAD: usize = 1 << 20;
const MAX_BODY: usize = 64 << 20;

/// One parsed request as it came off the wire.
pub struct RawRequest {
    pub method: String,
    /// Path including any query string, as sent.
    pub target: String,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// HTTP/1.1 keep-alive unless the client said `Connection: close`.
    pub fn wants_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.to_ascii_lowercase().contains("close"))
    }
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// What went wrong while reading a request.
pub enum ReadError {
    /// The peer closed the connection (cleanly, between requests) or it broke.
    Closed,
    /// Not parseable HTTP; answer 400 and close.
    Bad(String),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Closed
    }
}

/// What [`Conn::wait_readable`] saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// A request's bytes are waiting.
    Data,
    /// The client closed the connection (or it broke).
    Closed,
    /// Nothing arrived in time.
    Quiet,
}

/// A server-side connection with a read buffer (bytes past the current
/// request stay there for the next one).
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Self {
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    fn fill(&mut self) -> Result<(), ReadError> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(ReadError::Closed);
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<Vec<u8>, ReadError> {
        while self.buf.len() < n {
            self.fill()?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    fn line(&mut self) -> Result<String, ReadError> {
        loop {
            if let Some(pos) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..pos + 2).collect();
                return String::from_utf8(line[..pos].to_vec())
                    .map_err(|_| ReadError::Bad("non-UTF-8 chunk line".into()));
            }
            if self.buf.len() > MAX_HEAD {
                return Err(ReadError::Bad("chunk line too long".into()));
            }
            self.fill()?;
        }
    }

    /// Waits up to `idle` (forever for `None`) for the next request's first byte, without
    /// reading it.
    pub fn wait_readable(&mut self, idle: Option<Duration>) -> Readiness {
        if !self.buf.is_empty() {
            return Readiness::Data;
        }
        if self.stream.set_read_timeout(idle).is_err() {
            return Readiness::Closed;
        }
        let mut byte = [0u8; 1];
        let peeked = loop {
            match self.stream.peek(&mut byte) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let _ = self.stream.set_read_timeout(None);
        match peeked {
            Ok(0) => Readiness::Closed,
            Ok(_) => Readiness::Data,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Readiness::Quiet
            }
            Err(_) => Readiness::Closed,
        }
    }

    /// Reads the next request. `Err(Closed)` when the client went away.
    pub fn read_request(&mut self) -> Result<RawRequest, ReadError> {
        let (method, target, headers, head_len) = loop {
            if !self.buf.is_empty() {
                let mut slots = [httparse::EMPTY_HEADER; 128];
                let mut req = httparse::Request::new(&mut slots);
                match req.parse(&self.buf) {
                    Ok(httparse::Status::Complete(n)) => {
                        let headers = req
                            .headers
                            .iter()
                            .map(|h| {
                                (
                                    h.name.to_ascii_lowercase(),
                                    String::from_utf8_lossy(h.value).into_owned(),
                                )
                            })
                            .collect::<Vec<_>>();
                        break (
                            req.method.unwrap_or("").to_string(),
                            req.path.unwrap_or("").to_string(),
                            headers,
                            n,
                        );
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(e) => return Err(ReadError::Bad(format!("malformed request: {e}"))),
                }
                if self.buf.len() > MAX_HEAD {
                    return Err(ReadError::Bad("request head too large".into()));
                }
            }
            self.fill()?;
        };
        self.buf.drain(..head_len);
        if header(&headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
            self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let chunked = header(&headers, "transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let body = if chunked {
            self.read_chunked()?
        } else if let Some(len) = header(&headers, "content-length") {
            let len: usize = len
                .trim()
                .parse()
                .map_err(|_| ReadError::Bad(format!("bad content-length {len:?}")))?;
            if len > MAX_BODY {
                return Err(ReadError::Bad("body too large".into()));
            }
            self.take(len)?
        } else {
            Vec::new()
        };
        Ok(RawRequest {
            method,
            target,
            headers,
            body,
        })
    }

    fn read_chunked(&mut self) -> Result<Vec<u8>, ReadError> {
        let mut body = Vec::new();
        loop {
            let line = self.line()?;
            let size_str = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_str, 16)
                .map_err(|_| ReadError::Bad(format!("bad chunk size {line:?}")))?;
            if size == 0 {
                // trailers, up to the empty line
                while !self.line()?.is_empty() {}
                return Ok(body);
            }
            if body.len() + size > MAX_BODY {
                return Err(ReadError::Bad("body too large".into()));
            }
            body.extend(self.take(size)?);
            if !self.line()?.is_empty() {
                return Err(ReadError::Bad("missing CRLF after chunk".into()));
            }
        }
    }

    /// Sleeps for `d`, returning early with `false` if the client closes the
    /// connection meanwhile (EOF or error on a peek).
    pub fn wait_alive(&mut self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            if self.stream.set_read_timeout(Some(deadline - now)).is_err() {
                std::thread::sleep(deadline - now);
                return true;
            }
            let mut b = [0u8; 1];
            let r = self.stream.peek(&mut b);
            let _ = self.stream.set_read_timeout(None);
            match r {
                Ok(0) => return false,
                // Pipelined bytes: the client is alive; just sleep the rest.
                Ok(_) => {
                    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
                    return true;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    }

    /// True once the client has closed its side (non-blocking check).
    pub fn client_gone(&mut self) -> bool {
        !self.wait_alive(Duration::from_millis(1))
    }

    pub fn write_head(&mut self, status: u16, headers: &[(String, String)]) -> io::Result<()> {
        let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        self.stream.write_all(head.as_bytes())
    }

    /// A complete response with Content-Length.
    pub fn write_full(
        &mut self,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
        close: bool,
    ) -> io::Result<()> {
        let mut all = headers.to_vec();
        all.push(("content-length".into(), body.len().to_string()));
        if close {
            all.push(("connection".into(), "close".into()));
        }
        self.write_head(status, &all)?;
        self.stream.write_all(body)?;
        self.stream.flush()
    }

    /// One chunk of a `Transfer-Encoding: chunked` body.
    pub fn write_chunk(&mut self, data: &[u8]) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.stream
            .write_all(format!("{:x}\r\n", data.len()).as_bytes())?;
        self.stream.write_all(data)?;
        self.stream.write_all(b"\r\n")?;
        self.stream.flush()
    }

    pub fn end_chunks(&mut self) -> io::Result<()> {
        self.stream.write_all(b"0\r\n\r\n")?;
        self.stream.flush()
    }

    /// Closes with a TCP RST instead of a FIN (SO_LINGER 0), where supported.
    pub fn reset(self) {
        set_linger_zero(&self.stream);
        drop(self.stream);
    }

    pub fn close(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

#[cfg(any(target_os = "linux", target_os = "android", target_os = "macos"))]
fn set_linger_zero(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    #[repr(C)]
    struct Linger {
        l_onoff: i32,
        l_linger: i32,
    }
    extern "C" {
        fn setsockopt(fd: i32, level: i32, name: i32, value: *const Linger, len: u32) -> i32;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const LEVEL_NAME: (i32, i32) = (1, 13); // SOL_SOCKET, SO_LINGER
    #[cfg(target_os = "macos")]
    const LEVEL_NAME: (i32, i32) = (0xffff, 0x80);
    let l = Linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid fd owned by `stream`, a properly sized, live struct.
    unsafe {
        setsockopt(
            stream.as_raw_fd(),
            LEVEL_NAME.0,
            LEVEL_NAME.1,
            &l,
            std::mem::size_of::<Linger>() as u32,
        );
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "macos")))]
fn set_linger_zero(_stream: &TcpStream) {}

pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}
