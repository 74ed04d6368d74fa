//! The smoke tests' HTTP client, on hyper's HTTP/1.1 client connection: one request with a `Host` override and a
//! timeout ([`send`]), or many over one kept-alive connection ([`Connection`], for the bounded load).
//!
//! No redirect is followed and no header is added but `Host` (when set) and `Content-Length` (for a body): the
//! checks see exactly what the server answered. hyper reads the response while the body is still being written,
//! so a server that answers early (nginx's 413 for a body over `client_max_body_size`) is still heard.

use std::error::Error as _;
use std::future::Future;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1;
use hyper::header::{HeaderName, HeaderValue, HOST};
pub use hyper::Method;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::HttpError;

/// The largest response body accepted (16 MiB).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Headers the client writes itself; a request that sets them in [`HttpRequest::headers`] is
/// rejected with [`HttpError::InvalidRequest`].
pub const HEADERS_SET_BY_THE_CLIENT: &[&str] =
    &["host", "connection", "content-length", "transfer-encoding"];

/// One request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method, e.g. [`Method::GET`].
    pub method: Method,
    /// The request target, starting with `/` (query string included).
    pub path: String,
    /// The `Host` header; empty means the request carries no `Host` header at all.
    pub host: String,
    /// Extra request headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body; when non-empty, a `Content-Length` header is added.
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A `GET` of `path` with `Host: host`, no extra headers and no body.
    pub fn get(path: &str, host: &str) -> HttpRequest {
        HttpRequest {
            method: Method::GET,
            path: path.to_owned(),
            host: host.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

/// A response, read to the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code, e.g. `200`.
    pub status: u16,
    /// The headers, names lowercased, values trimmed, grouped by name in the order names first appeared.
    pub headers: Vec<(String, String)>,
    /// The body (empty for `HEAD`).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The value of the first header called `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header_name, _)| header_name.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as text, invalid UTF-8 replaced by U+FFFD.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `request` to `address` on a fresh connection and reads the whole response, all within `timeout`.
///
/// Errors: [`HttpError::InvalidRequest`] before connecting when the request cannot be written,
/// [`HttpError::ConnectionRefused`] when nothing listens, [`HttpError::NoResponse`] when the server
/// closes (or resets) the connection without answering, [`HttpError::Timeout`] when the exchange is
/// not over in time, [`HttpError::MalformedResponse`] when the bytes are not an HTTP/1.x response.
pub async fn send(
    address: SocketAddr,
    request: &HttpRequest,
    timeout: Duration,
) -> Result<HttpResponse, HttpError> {
    let built = build(request)?;
    within(address, request, timeout, async {
        let mut connection = Connection::open(address).await?;
        connection.exchange(request, built).await
    })
    .await
}

/// One HTTP/1.1 connection kept alive across requests (the bounded load's clients each hold one).
pub struct Connection {
    address: SocketAddr,
    sender: http1::SendRequest<Full<Bytes>>,
}

impl Connection {
    /// Connects to `address`.
    pub async fn open(address: SocketAddr) -> Result<Connection, HttpError> {
        let stream = TcpStream::connect(address)
            .await
            .map_err(|source| match source.kind() {
                ErrorKind::ConnectionRefused => HttpError::ConnectionRefused { address },
                _ => HttpError::Connect { address, source },
            })?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::Builder::new()
            .allow_obsolete_multiline_headers_in_responses(true)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|error| HttpError::Exchange {
                address,
                path: String::new(),
                reason: describe(&error),
            })?;
        // The connection task ends when the server closes or the sender is dropped; its error, if any, also
        // reaches the request in flight, which reports it.
        tokio::spawn(connection);
        Ok(Connection { address, sender })
    }

    /// Waits until the connection can take the next request; `false` when the server closed it (after an answer
    /// without keep-alive, or idle) or it broke: the next request needs a new one.
    pub async fn is_reusable(&mut self) -> bool {
        self.sender.ready().await.is_ok()
    }

    /// Sends `request` on this connection and reads the whole response within `timeout`.
    pub async fn send(
        &mut self,
        request: &HttpRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, HttpError> {
        let built = build(request)?;
        let address = self.address;
        within(address, request, timeout, self.exchange(request, built)).await
    }

    async fn exchange(
        &mut self,
        request: &HttpRequest,
        built: hyper::Request<Full<Bytes>>,
    ) -> Result<HttpResponse, HttpError> {
        let address = self.address;
        let path = || request.path.clone();
        let response = self
            .sender
            .send_request(built)
            .await
            .map_err(|error| response_error(address, path(), &error))?;
        let status = response.status().as_u16();
        let mut headers = Vec::with_capacity(response.headers().len());
        for (name, value) in response.headers() {
            headers.push((
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).trim().to_owned(),
            ));
        }
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|error| {
                if error.is::<http_body_util::LengthLimitError>() {
                    HttpError::ResponseTooLarge {
                        address,
                        path: path(),
                        limit_bytes: MAX_RESPONSE_BYTES,
                    }
                } else {
                    HttpError::MalformedResponse {
                        address,
                        path: path(),
                        reason: format!("the body broke off: {}", describe(&*error)),
                    }
                }
            })?
            .to_bytes()
            .to_vec();
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

/// Runs `exchange` with a deadline, naming the request when it passes.
async fn within(
    address: SocketAddr,
    request: &HttpRequest,
    timeout: Duration,
    exchange: impl Future<Output = Result<HttpResponse, HttpError>>,
) -> Result<HttpResponse, HttpError> {
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or_else(|_elapsed| {
            Err(HttpError::Timeout {
                address,
                path: request.path.clone(),
                timeout,
            })
        })
}

/// The hyper request for `request`, after checking that it can be written: a target starting with `/`, a host
/// without whitespace, valid header names and values, none of [`HEADERS_SET_BY_THE_CLIENT`].
pub fn build(request: &HttpRequest) -> Result<hyper::Request<Full<Bytes>>, HttpError> {
    let invalid = |reason: String| HttpError::InvalidRequest { reason };
    if !request.path.starts_with('/') {
        return Err(invalid(format!(
            "path {:?} does not start with `/`",
            request.path
        )));
    }
    let uri: hyper::Uri = request
        .path
        .parse()
        .map_err(|_| invalid(format!("path {:?} is not a request target", request.path)))?;
    let mut builder = hyper::Request::builder()
        .method(request.method.clone())
        .uri(uri);
    if !request.host.is_empty() {
        if request
            .host
            .chars()
            .any(|character| character.is_whitespace() || character.is_control())
        {
            return Err(invalid(format!(
                "host {:?} contains whitespace or control characters",
                request.host
            )));
        }
        let host = HeaderValue::from_str(&request.host)
            .map_err(|_| invalid(format!("host {:?} is not a header value", request.host)))?;
        builder = builder.header(HOST, host);
    }
    for (name, value) in &request.headers {
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid(format!("header name {name:?} is not an HTTP token")))?;
        if HEADERS_SET_BY_THE_CLIENT.contains(&header_name.as_str()) {
            return Err(invalid(format!(
                "header {name:?} is set by the client itself"
            )));
        }
        let header_value = HeaderValue::from_str(value).map_err(|_| {
            invalid(format!(
                "value of header {name:?} contains control characters"
            ))
        })?;
        builder = builder.header(header_name, header_value);
    }
    builder
        .body(Full::new(Bytes::from(request.body.clone())))
        .map_err(|error| invalid(error.to_string()))
}

/// What a failed `send_request` means: the server never answered, answered garbage, or the exchange broke.
fn response_error(address: SocketAddr, path: String, error: &hyper::Error) -> HttpError {
    if error.is_parse() || error.is_parse_status() || error.is_parse_too_large() {
        return HttpError::MalformedResponse {
            address,
            path,
            reason: describe(error),
        };
    }
    let peer_closed = io_source(error).is_some_and(|source| {
        matches!(
            source.kind(),
            ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof
        )
    });
    if error.is_incomplete_message() || error.is_canceled() || error.is_closed() || peer_closed {
        return HttpError::NoResponse { address, path };
    }
    HttpError::Exchange {
        address,
        path,
        reason: describe(error),
    }
}

/// The first I/O error in `error`'s chain of sources.
fn io_source(error: &hyper::Error) -> Option<&std::io::Error> {
    let mut source = error.source();
    while let Some(current) = source {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        source = current.source();
    }
    None
}

/// An error and its sources as one lowercase fragment: `invalid HTTP version parsed: ...`.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(current) = source {
        text.push_str(": ");
        text.push_str(&current.to_string());
        source = current.source();
    }
    text
}
