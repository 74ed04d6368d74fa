//! A minimal async HTTP/1.0 client over a plain TCP stream: one request, read to the end, parse.
//!
//! HTTP/1.0 with `Connection: close` keeps the client small: servers answer with a
//! `Content-Length` or by closing the connection, never with chunked encoding, so reading to EOF
//! delimits the response. The request is written while the response is read, so a server that
//! answers early (nginx's 413 for a body over `client_max_body_size`) is still heard.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::SmokeError;

/// The largest response [`send`] accepts, head and body together (16 MiB).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Headers [`send`] writes itself; a request that sets them in [`HttpRequest::headers`] is
/// rejected with [`SmokeError::InvalidRequest`].
pub const HEADERS_SET_BY_THE_CLIENT: &[&str] = &["host", "connection", "content-length"];

/// One request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The request target, starting with `/` (query string included).
    pub path: String,
    /// The `Host` header; empty means the request carries no `Host` header at all.
    pub host: String,
    /// Extra request headers, written in order after `Host` and `Connection`.
    pub headers: Vec<(String, String)>,
    /// The body; when non-empty, a `Content-Length` header is added.
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A `GET` of `path` with `Host: host`, no extra headers and no body.
    pub fn get(path: &str, host: &str) -> HttpRequest {
        HttpRequest {
            method: "GET".to_string(),
            path: path.to_string(),
            host: host.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code, e.g. `200`.
    pub status: u16,
    /// The headers as received, names lowercased, values trimmed, in order (repeats kept).
    pub headers: Vec<(String, String)>,
    /// The body, cut to `Content-Length` when the server sent one.
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

/// Sends `request` to `address` and reads the whole response, all within `timeout`.
///
/// Errors: [`SmokeError::ConnectionRefused`] when nothing listens, [`SmokeError::NoResponse`]
/// when the server closes (or resets) the connection before sending a byte,
/// [`SmokeError::Timeout`] when the exchange is not over in time,
/// [`SmokeError::MalformedResponse`] when the bytes are not an HTTP/1.x response, and
/// [`SmokeError::InvalidRequest`] before anything is sent when the request cannot be written.
pub async fn send(
    address: SocketAddr,
    request: &HttpRequest,
    timeout: Duration,
) -> Result<HttpResponse, SmokeError> {
    let request_bytes = encode_request(request)?;
    match tokio::time::timeout(timeout, exchange(address, request, &request_bytes)).await {
        Ok(result) => result,
        Err(_elapsed) => Err(SmokeError::Timeout {
            address,
            path: request.path.clone(),
            timeout,
        }),
    }
}

/// The exact bytes [`send`] writes for `request`, after checking that it can be written as
/// HTTP/1.0 (token method and header names, a path starting with `/`, no line breaks anywhere,
/// none of [`HEADERS_SET_BY_THE_CLIENT`] among the extra headers).
pub fn encode_request(request: &HttpRequest) -> Result<Vec<u8>, SmokeError> {
    let invalid = |reason: String| SmokeError::InvalidRequest { reason };
    if request.method.is_empty() || !request.method.chars().all(is_token_character) {
        return Err(invalid(format!(
            "method {:?} is not an HTTP token",
            request.method
        )));
    }
    if !request.path.starts_with('/') {
        return Err(invalid(format!(
            "path {:?} does not start with `/`",
            request.path
        )));
    }
    if request
        .path
        .chars()
        .any(|character| character.is_whitespace() || character.is_control())
    {
        return Err(invalid(format!(
            "path {:?} contains whitespace or control characters",
            request.path
        )));
    }
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
    for (name, value) in &request.headers {
        if name.is_empty() || !name.chars().all(is_token_character) {
            return Err(invalid(format!(
                "header name {name:?} is not an HTTP token"
            )));
        }
        if HEADERS_SET_BY_THE_CLIENT
            .iter()
            .any(|reserved| reserved.eq_ignore_ascii_case(name))
        {
            return Err(invalid(format!(
                "header {name:?} is set by the client itself"
            )));
        }
        if value
            .chars()
            .any(|character| character.is_control() && character != '\t')
        {
            return Err(invalid(format!(
                "value of header {name:?} contains control characters"
            )));
        }
    }

    let mut head = format!("{} {} HTTP/1.0\r\n", request.method, request.path);
    if !request.host.is_empty() {
        head.push_str(&format!("Host: {}\r\n", request.host));
    }
    head.push_str("Connection: close\r\n");
    for (name, value) in &request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !request.body.is_empty() {
        head.push_str(&format!("Content-Length: {}\r\n", request.body.len()));
    }
    head.push_str("\r\n");

    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&request.body);
    Ok(bytes)
}

/// `tchar` from RFC 9110: the characters allowed in methods and header names.
fn is_token_character(character: char) -> bool {
    character.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(character)
}

/// Connect, write and read concurrently, then decide what the bytes mean.
async fn exchange(
    address: SocketAddr,
    request: &HttpRequest,
    request_bytes: &[u8],
) -> Result<HttpResponse, SmokeError> {
    let mut stream = TcpStream::connect(address)
        .await
        .map_err(|source| match source.kind() {
            ErrorKind::ConnectionRefused => SmokeError::ConnectionRefused { address },
            _ => SmokeError::Connect { address, source },
        })?;
    let (mut reader, mut writer) = stream.split();

    let mut write_future = pin!(write_request(&mut writer, request_bytes));
    let mut read_future = pin!(read_to_end_with_limit(&mut reader, MAX_RESPONSE_BYTES));
    let mut write_outcome: Option<std::io::Result<()>> = None;
    // The response decides; the write only matters when nothing came back. A write still in
    // progress when the server has finished answering is abandoned.
    let read_outcome = loop {
        tokio::select! {
            read_outcome = &mut read_future => break read_outcome,
            written = &mut write_future, if write_outcome.is_none() => write_outcome = Some(written),
        }
    };

    let path = request.path.clone();
    let ReadOutcome {
        bytes,
        error: read_error,
        hit_limit,
    } = read_outcome;
    if hit_limit {
        return Err(SmokeError::ResponseTooLarge {
            address,
            path,
            limit_bytes: MAX_RESPONSE_BYTES,
        });
    }
    if bytes.is_empty() {
        if let Some(source) = read_error.filter(|error| !is_peer_closed(error)) {
            return Err(SmokeError::Receive {
                address,
                path,
                source,
            });
        }
        if let Some(Err(source)) = write_outcome.filter(|outcome| match outcome {
            Ok(()) => false,
            Err(error) => !is_peer_closed(error),
        }) {
            return Err(SmokeError::Send {
                address,
                path,
                source,
            });
        }
        return Err(SmokeError::NoResponse { address, path });
    }
    match parse_response(&bytes, &request.method) {
        Ok(response) => Ok(response),
        Err(reason) => match read_error {
            Some(source) => Err(SmokeError::Receive {
                address,
                path,
                source,
            }),
            None => Err(SmokeError::MalformedResponse {
                address,
                path,
                reason,
            }),
        },
    }
}

/// Errors that mean "the other side closed or reset the connection".
fn is_peer_closed(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::BrokenPipe | ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
    )
}

async fn write_request(
    writer: &mut (impl AsyncWrite + Unpin),
    request_bytes: &[u8],
) -> std::io::Result<()> {
    writer.write_all(request_bytes).await?;
    writer.flush().await
}

/// What reading to EOF produced: the bytes so far, and the error that ended it early, if any.
struct ReadOutcome {
    bytes: Vec<u8>,
    error: Option<std::io::Error>,
    hit_limit: bool,
}

async fn read_to_end_with_limit(
    reader: &mut (impl AsyncRead + Unpin),
    limit_bytes: usize,
) -> ReadOutcome {
    let mut bytes = Vec::new();
    let mut chunk = vec![0_u8; 16 * 1024];
    loop {
        match reader.read(&mut chunk).await {
            Ok(0) => {
                return ReadOutcome {
                    bytes,
                    error: None,
                    hit_limit: false,
                }
            }
            Ok(n_read) => {
                bytes.extend_from_slice(&chunk[..n_read]);
                if bytes.len() > limit_bytes {
                    return ReadOutcome {
                        bytes,
                        error: None,
                        hit_limit: true,
                    };
                }
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => {
                return ReadOutcome {
                    bytes,
                    error: Some(error),
                    hit_limit: false,
                }
            }
        }
    }
}

/// Parses a complete HTTP/1.x response; the error is a lowercase reason.
fn parse_response(bytes: &[u8], method: &str) -> Result<HttpResponse, String> {
    let (head, body) = split_head_and_body(bytes)
        .ok_or_else(|| "the connection closed inside the response head".to_string())?;
    let head = String::from_utf8_lossy(head);
    let mut lines = head
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line));

    let status_line = lines.next().unwrap_or_default();
    let status = parse_status_line(status_line).ok_or_else(|| {
        format!(
            "status line {:?} is not `HTTP/1.x NNN reason`",
            truncate_chars(status_line, 80)
        )
    })?;

    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            // Obsolete line folding: a continuation of the previous header's value.
            match headers.last_mut() {
                Some((_, value)) => {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                None => return Err("the first header line is a continuation line".to_string()),
            }
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("header line {:?} has no `:`", truncate_chars(line, 80)))?;
        let name = name.trim();
        if name.is_empty() || !name.chars().all(is_token_character) {
            return Err(format!(
                "header name {:?} is not an HTTP token",
                truncate_chars(name, 80)
            ));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }

    let mut response = HttpResponse {
        status,
        headers,
        body: body.to_vec(),
    };
    if response
        .header("transfer-encoding")
        .is_some_and(|value| value.to_ascii_lowercase().contains("chunked"))
    {
        return Err("chunked transfer encoding in the answer to an HTTP/1.0 request".to_string());
    }
    let body_is_absent_by_definition = method.eq_ignore_ascii_case("HEAD")
        || (100..200).contains(&status)
        || status == 204
        || status == 304;
    if body_is_absent_by_definition {
        return Ok(response);
    }
    if let Some(content_length) = response.header("content-length") {
        let expected_length: usize = content_length
            .parse()
            .map_err(|_| format!("content-length {content_length:?} is not a number"))?;
        if response.body.len() < expected_length {
            return Err(format!(
                "the body ended after {} of {expected_length} bytes",
                response.body.len()
            ));
        }
        response.body.truncate(expected_length);
    }
    Ok(response)
}

/// Splits at the first empty line (`\r\n\r\n`, or bare `\n\n` from lenient servers).
fn split_head_and_body(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    for (index, byte) in bytes.iter().enumerate() {
        if *byte != b'\n' {
            continue;
        }
        let rest = &bytes[index + 1..];
        let head_end = if index > 0 && bytes[index - 1] == b'\r' {
            index - 1
        } else {
            index
        };
        if rest.starts_with(b"\r\n") {
            return Some((&bytes[..head_end], &rest[2..]));
        }
        if rest.starts_with(b"\n") {
            return Some((&bytes[..head_end], &rest[1..]));
        }
    }
    None
}

/// `HTTP/1.0 200 OK` or `HTTP/1.1 444` to the status code.
fn parse_status_line(line: &str) -> Option<u16> {
    let mut parts = line.splitn(3, ' ');
    let version = parts.next()?;
    let code = parts.next()?;
    if !version.starts_with("HTTP/1.")
        || code.len() != 3
        || !code.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    code.parse().ok()
}

fn truncate_chars(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_split(raw: &str, expected: Option<(&str, &str)>) {
        let actual = split_head_and_body(raw.as_bytes()).map(|(head, body)| {
            (
                String::from_utf8_lossy(head).into_owned(),
                String::from_utf8_lossy(body).into_owned(),
            )
        });
        let expected = expected.map(|(head, body)| (head.to_string(), body.to_string()));
        assert_eq!(actual, expected, "splitting {raw:?}");
    }

    #[test]
    fn head_and_body_split_at_the_first_empty_line() {
        check_split(
            "HTTP/1.0 200 OK\r\nA: b\r\n\r\nbody",
            Some(("HTTP/1.0 200 OK\r\nA: b", "body")),
        );
        check_split(
            "HTTP/1.0 200 OK\n\nbody\r\n\r\nmore",
            Some(("HTTP/1.0 200 OK", "body\r\n\r\nmore")),
        );
        check_split("HTTP/1.0 200 OK\r\n\r\n", Some(("HTTP/1.0 200 OK", "")));
        check_split("HTTP/1.0 200 OK\r\nA: b\r\n", None);
        check_split("", None);
    }

    fn check_status_line(line: &str, expected: Option<u16>) {
        assert_eq!(parse_status_line(line), expected, "status line {line:?}");
    }

    #[test]
    fn status_lines() {
        check_status_line("HTTP/1.0 200 OK", Some(200));
        check_status_line("HTTP/1.1 444", Some(444));
        check_status_line("HTTP/1.1 503 Service Unavailable", Some(503));
        check_status_line("HTTP/2 200", None);
        check_status_line("HTTP/1.1 20 OK", None);
        check_status_line("HTTP/1.1 2000 OK", None);
        check_status_line("HTTP/1.1 +20 OK", None);
        check_status_line("200 OK", None);
    }
}
