//! A blocking WebSocket client for the bridge's `/v1/responses` (tungstenite's own client).
#![allow(dead_code)]

use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// One open connection.
pub struct Ws {
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
}

/// What the server said instead of switching protocols.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    pub body: String,
}

/// What came back for one request.
#[derive(Debug, Default)]
pub struct Turn {
    /// Every message, parsed.
    pub events: Vec<Value>,
}

impl Turn {
    /// The last message (the terminal event or the error).
    pub fn last(&self) -> &Value {
        self.events.last().unwrap_or(&Value::Null)
    }

    /// `response` of a terminal event.
    pub fn response(&self) -> &Value {
        &self.last()["response"]
    }

    /// `error.code` of an error message.
    pub fn error_code(&self) -> Option<&str> {
        (self.last()["type"] == "error")
            .then(|| self.last()["error"]["code"].as_str())
            .flatten()
    }
}

/// Opens `ws://addr/v1/responses` with `headers` added to the handshake.
pub fn connect(addr: &str, headers: &[(&str, &str)]) -> Result<Ws, Refused> {
    let mut request = format!("ws://{addr}/v1/responses")
        .into_client_request()
        .expect("request");
    for (name, value) in headers {
        request.headers_mut().insert(
            http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            value.parse().expect("value"),
        );
    }
    match tungstenite::connect(request) {
        Ok((socket, _)) => {
            if let MaybeTlsStream::Plain(tcp) = socket.get_ref() {
                tcp.set_read_timeout(Some(Duration::from_secs(30)))
                    .expect("timeout");
            }
            Ok(Ws { socket })
        }
        Err(tungstenite::Error::Http(response)) => Err(Refused {
            status: response.status().as_u16(),
            body: response
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default(),
        }),
        Err(e) => panic!("connect: {e}"),
    }
}

/// How the connection ended when the client read past its end.
#[derive(Debug, PartialEq, Eq)]
pub enum Ending {
    /// A close frame with this code.
    Closed(CloseCode),
    /// The socket ended (or was reset) without one.
    Gone,
}

impl Ws {
    /// Sends one text message.
    pub fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::text(text.to_owned()))
            .expect("send");
    }

    /// Sends `message` as JSON.
    pub fn send(&mut self, message: &Value) {
        self.send_text(&message.to_string());
    }

    /// Sends a raw message (binary, oversized…).
    pub fn send_message(&mut self, message: Message) {
        self.socket.send(message).expect("send");
    }

    /// The next text message, parsed; `Err` when the connection ended instead.
    pub fn next(&mut self) -> Result<Value, Ending> {
        loop {
            match self.socket.read() {
                Ok(Message::Text(text)) => {
                    return Ok(serde_json::from_str(text.as_str()).expect("JSON message"))
                }
                Ok(Message::Close(frame)) => {
                    return Err(Ending::Closed(frame.map_or(CloseCode::Status, |f| f.code)))
                }
                Ok(Message::Binary(_)) => panic!("a binary message from the bridge"),
                Ok(_) => {}
                Err(_) => return Err(Ending::Gone),
            }
        }
    }

    /// Sends `request` and reads until its terminal event (`response.completed`, `.failed`,
    /// `.incomplete`) or an `error` message.
    pub fn turn(&mut self, request: &Value) -> Turn {
        self.send(request);
        self.read_turn()
    }

    /// Reads one turn's messages.
    pub fn read_turn(&mut self) -> Turn {
        let mut turn = Turn::default();
        loop {
            let event = self
                .next()
                .expect("the connection stays open until the terminal event");
            let kind = event["type"].as_str().unwrap_or_default().to_owned();
            turn.events.push(event);
            if matches!(
                kind.as_str(),
                "response.completed" | "response.failed" | "response.incomplete" | "error"
            ) {
                return turn;
            }
        }
    }
}
