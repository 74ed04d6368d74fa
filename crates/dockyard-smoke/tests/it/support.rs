//! Shared test helpers: one-connection TCP servers with canned behaviours, and error rendering.

use std::net::SocketAddr;
use std::time::Duration;

use dockyard_smoke::HttpError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the server does with the one connection it accepts.
pub enum Behaviour {
    /// Reads the request (head and `Content-Length` body), writes these bytes, closes.
    Answer(Vec<u8>),
    /// Reads only the request head, writes these bytes, closes its side, then drains the rest of
    /// the request until the client closes (nginx's lingering close after an early 413).
    AnswerEarlyThenDrain(Vec<u8>),
    /// Reads the request, then closes without a byte (nginx's `return 444`).
    CloseAfterReading,
    /// Closes as soon as the connection is accepted, without reading.
    CloseImmediately,
    /// Reads the request and holds the connection open without answering.
    NeverAnswer,
    /// Answers this many requests on the one connection, each `200` with its number as the body.
    KeepAlive(usize),
}

/// Starts a server for one connection; the handle yields the request bytes it read.
pub async fn serve_once(behaviour: Behaviour) -> (SocketAddr, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let handle = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        match behaviour {
            Behaviour::Answer(response) => {
                let request = read_request(&mut stream, true).await;
                stream.write_all(&response).await.unwrap();
                stream.shutdown().await.unwrap();
                request
            }
            Behaviour::AnswerEarlyThenDrain(response) => {
                let request = read_request(&mut stream, false).await;
                stream.write_all(&response).await.unwrap();
                stream.shutdown().await.unwrap();
                let mut rest = Vec::new();
                let _ = stream.read_to_end(&mut rest).await;
                request
            }
            Behaviour::CloseAfterReading => read_request(&mut stream, true).await,
            Behaviour::CloseImmediately => Vec::new(),
            Behaviour::KeepAlive(n_requests) => {
                let mut received = Vec::new();
                for number in 1..=n_requests {
                    let request = read_request(&mut stream, true).await;
                    received.extend_from_slice(&request);
                    let body = number.to_string();
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    stream.write_all(response.as_bytes()).await.unwrap();
                }
                received
            }
            Behaviour::NeverAnswer => {
                let request = read_request(&mut stream, true).await;
                tokio::time::sleep(Duration::from_secs(30)).await;
                request
            }
        }
    });
    (address, handle)
}

/// An address nothing listens on (a listener was bound there and dropped).
pub async fn refused_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    address
}

/// Reads up to the end of the head, and the `Content-Length` body too when `with_body`.
async fn read_request(stream: &mut TcpStream, with_body: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut chunk = [0_u8; 4096];
    loop {
        if let Some(head_end) = find(&bytes, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..head_end]).to_ascii_lowercase();
            let content_length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map(|value| value.trim().parse().unwrap())
                .unwrap_or(0);
            if !with_body {
                bytes.truncate(head_end + 4);
                return bytes;
            }
            if bytes.len() >= head_end + 4 + content_length {
                return bytes;
            }
        }
        let n_read = stream.read(&mut chunk).await.unwrap();
        if n_read == 0 {
            return bytes;
        }
        bytes.extend_from_slice(&chunk[..n_read]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// `VariantName: message`, with the server's address replaced by `ADDR` so snapshots are stable.
pub fn render_error(error: &HttpError, address: SocketAddr) -> String {
    let variant = format!("{error:?}");
    let variant = variant
        .split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_string();
    format!("{variant}: {error}").replace(&address.to_string(), "ADDR")
}
