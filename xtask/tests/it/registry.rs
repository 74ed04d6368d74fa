//! Test support for pushes: a throwaway local registry (Debian's `docker-registry`, distribution 2.8), a proxy in
//! front of it that fails the first N writes of a push, and the minimal blocking HTTP/1.1 client both need.
//! Everything listens on, and talks to, 127.0.0.1 only; every loop is bounded in time and count.
//!
//! The self-tests at the end need no engine, only the `docker-registry` binary.
#![allow(
    clippy::disallowed_methods,
    reason = "the test support starts Debian's `docker-registry` as a child it kills on drop, and polls it from synchronous code"
)]

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What `manifest_digest` and `manifest` accept: a single-platform image in either format, or an index.
pub const MANIFEST_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";

/// The body of an injected failure.
pub const INJECTED_ERROR_BODY: &str =
    r#"{"errors":[{"code":"UNAVAILABLE","message":"injected by the dockyard test suite"}]}"#;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// One read or write on a socket.
const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// One request of the client, from connect to the last byte of the response.
const REQUEST_DEADLINE: Duration = Duration::from_secs(120);
/// How long the proxy waits for the next request on a keep-alive connection.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// The proxy takes no new request on a connection older than this (the client reconnects)...
const CONNECTION_REUSE: Duration = Duration::from_secs(10 * 60);
/// ... and gives up on one older than this.
const CONNECTION_DEADLINE: Duration = Duration::from_secs(30 * 60);
const MAX_HEAD_BYTES: usize = 64 * 1024;
const MAX_LINE_BYTES: u64 = 8 * 1024;
const MAX_CHUNKS: usize = 16 * 1024 * 1024;
const MAX_TRAILER_LINES: usize = 1000;
const MAX_INTERIM_RESPONSES: usize = 10;
const MAX_REQUESTS_PER_CONNECTION: usize = 100_000;
const MAX_CONNECTIONS: usize = 1_000_000;
const MAX_RECORDED_REQUESTS: usize = 100_000;
/// The first byte of a TLS handshake, and what Go's HTTP server answers to one on a plain-HTTP port.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;
const TLS_REFUSAL: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
const REGISTRY_READY_DEADLINE: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------------------------
// Addresses

/// Parses `127.0.0.1:PORT`; anything else (another host, a name, IPv6) is a bug in the test.
fn loopback(address: &str) -> SocketAddr {
    let parsed: SocketAddr = address
        .parse()
        .unwrap_or_else(|error| panic!("`{address}` is not IP:PORT: {error}"));
    assert!(
        parsed.ip() == Ipv4Addr::LOCALHOST,
        "the registry test support only talks to 127.0.0.1, not {address}"
    );
    parsed
}

/// A port nobody listens on right now (the caller retries if someone takes it before it is used).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("binding 127.0.0.1:0 for a free port")
}

/// Splits a `Location` (absolute `http://127.0.0.1:PORT/path?query` or relative `/path?query`) into the address
/// to connect to and the request target; relative ones resolve against `base_address`.
pub fn resolve_location(base_address: &str, location: &str) -> (String, String) {
    if let Some(rest) = location.strip_prefix("http://") {
        let (address, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, "/"),
        };
        loopback(address);
        (address.to_owned(), path.to_owned())
    } else {
        assert!(
            location.starts_with('/'),
            "unexpected Location `{location}`"
        );
        (base_address.to_owned(), location.to_owned())
    }
}

/// Appends `key=value` to a request target that may already have a query.
pub fn with_query(target: &str, key_value: &str) -> String {
    let separator = if target.contains('?') { '&' } else { '?' };
    format!("{target}{separator}{key_value}")
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP/1.1 messages: heads and bodies, shared by the client and the proxy

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

fn eof(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, message.to_owned())
}

/// A reader that refuses to read past a deadline (the socket's read timeout bounds each read; this bounds them all).
struct Deadlined<R> {
    inner: R,
    deadline: Instant,
}

impl<R: Read> Read for Deadlined<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if Instant::now() >= self.deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the connection's deadline passed",
            ));
        }
        self.inner.read(buf)
    }
}

fn is_quiet_end(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock
            | io::ErrorKind::TimedOut
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Reads one line (through `\n`), at most `MAX_LINE_BYTES`; an empty vector at the end of the stream.
fn read_line(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    reader
        .by_ref()
        .take(MAX_LINE_BYTES)
        .read_until(b'\n', &mut line)?;
    if !line.is_empty() && !line.ends_with(b"\n") {
        if line.len() as u64 >= MAX_LINE_BYTES {
            return Err(invalid("a line over 8 KiB in a message"));
        }
        return Err(eof("the stream ended inside a line"));
    }
    Ok(line)
}

/// Reads a message head, start line through the blank line, as raw bytes.
/// `Ok(None)` when the stream ends (or times out, or is reset) before its first byte: the peer is done.
fn read_head(reader: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    // Each round reads at least one byte, and the head is bounded: so is the loop.
    while head.len() <= MAX_HEAD_BYTES {
        let line = match read_line(reader) {
            Ok(line) => line,
            Err(error) if head.is_empty() && is_quiet_end(&error) => return Ok(None),
            Err(error) => return Err(error),
        };
        if line.is_empty() {
            if head.is_empty() {
                return Ok(None);
            }
            return Err(eof("the stream ended inside a message head"));
        }
        let blank = line == b"\r\n" || line == b"\n";
        head.extend_from_slice(&line);
        if blank {
            return Ok(Some(head));
        }
    }
    Err(invalid("a message head over 64 KiB"))
}

/// A parsed message head.
struct Head {
    start: String,
    headers: Vec<(String, String)>,
}

fn parse_head(raw: &[u8]) -> io::Result<Head> {
    let text = std::str::from_utf8(raw).map_err(|_| invalid("a message head that is not UTF-8"))?;
    let mut lines = text.split('\n').map(|line| line.trim_end_matches('\r'));
    let start = lines
        .next()
        .filter(|line| !line.is_empty())
        .ok_or_else(|| invalid("an empty start line"))?
        .to_owned();
    let headers = lines
        .filter(|line| !line.is_empty())
        .map(|line| {
            line.split_once(':')
                .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
                .ok_or_else(|| invalid(format!("a header line without a colon: `{line}`")))
        })
        .collect::<io::Result<Vec<_>>>()?;
    Ok(Head { start, headers })
}

fn find_header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|value| {
        value
            .split(',')
            .any(|item| item.trim().eq_ignore_ascii_case(token))
    })
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The request method (first word of a request line).
    fn method(&self) -> &str {
        self.start.split(' ').next().unwrap_or_default()
    }

    /// The status code of a response line.
    fn status(&self) -> io::Result<u16> {
        self.start
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| invalid(format!("not a status line: `{}`", self.start)))
    }

    fn is_http_1_0(&self) -> bool {
        self.start.starts_with("HTTP/1.0") || self.start.ends_with("HTTP/1.0")
    }

    /// Whether the connection ends after this message.
    fn closes(&self) -> bool {
        let connection = self.header("connection");
        has_token(connection, "close")
            || (self.is_http_1_0() && !has_token(connection, "keep-alive"))
    }

    fn chunked(&self) -> bool {
        self.header("transfer-encoding").is_some_and(|value| {
            value
                .rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
        })
    }

    fn content_length(&self) -> io::Result<Option<u64>> {
        self.header("content-length")
            .map(|value| {
                value
                    .parse()
                    .map_err(|_| invalid(format!("a bad Content-Length `{value}`")))
            })
            .transpose()
    }
}

/// How a message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

fn request_framing(head: &Head) -> io::Result<Framing> {
    if head.chunked() {
        return Ok(Framing::Chunked);
    }
    if head.header("transfer-encoding").is_some() {
        return Err(invalid(
            "a request body with a transfer coding other than chunked",
        ));
    }
    Ok(match head.content_length()? {
        Some(0) | None => Framing::Empty,
        Some(length) => Framing::Length(length),
    })
}

fn response_framing(head: &Head, request_method: &str, status: u16) -> io::Result<Framing> {
    if request_method.eq_ignore_ascii_case("HEAD")
        || (100..200).contains(&status)
        || status == 204
        || status == 304
    {
        return Ok(Framing::Empty);
    }
    if head.chunked() {
        return Ok(Framing::Chunked);
    }
    if head.header("transfer-encoding").is_some() {
        return Ok(Framing::UntilClose);
    }
    Ok(match head.content_length()? {
        Some(0) => Framing::Empty,
        Some(length) => Framing::Length(length),
        None => Framing::UntilClose,
    })
}

fn copy_exactly(reader: &mut impl BufRead, n_bytes: u64, out: &mut impl Write) -> io::Result<()> {
    let copied = io::copy(&mut reader.by_ref().take(n_bytes), out)?;
    if copied == n_bytes {
        Ok(())
    } else {
        Err(eof("the stream ended inside a message body"))
    }
}

/// Moves one body from `reader` to `out`. `raw` keeps the chunked framing (what the proxy relays);
/// otherwise only the data is written (what the client returns).
fn transfer_body(
    reader: &mut impl BufRead,
    framing: Framing,
    out: &mut impl Write,
    raw: bool,
) -> io::Result<()> {
    match framing {
        Framing::Empty => Ok(()),
        Framing::Length(n_bytes) => copy_exactly(reader, n_bytes, out),
        Framing::UntilClose => io::copy(reader, out).map(|_| ()),
        Framing::Chunked => {
            for _ in 0..MAX_CHUNKS {
                let line = read_line(reader)?;
                if line.is_empty() {
                    return Err(eof("the stream ended before the last chunk"));
                }
                if raw {
                    out.write_all(&line)?;
                }
                let text = String::from_utf8_lossy(&line);
                let size_text = text.split(';').next().unwrap_or_default().trim();
                let size = u64::from_str_radix(size_text, 16)
                    .map_err(|_| invalid(format!("a bad chunk size `{size_text}`")))?;
                if size == 0 {
                    for _ in 0..MAX_TRAILER_LINES {
                        let trailer = read_line(reader)?;
                        if trailer.is_empty() {
                            return Err(eof("the stream ended inside the trailers"));
                        }
                        if raw {
                            out.write_all(&trailer)?;
                        }
                        if trailer == b"\r\n" || trailer == b"\n" {
                            return Ok(());
                        }
                    }
                    return Err(invalid("too many trailer lines"));
                }
                copy_exactly(reader, size, out)?;
                let end = read_line(reader)?;
                if end != b"\r\n" && end != b"\n" {
                    return Err(invalid("a chunk not followed by CRLF"));
                }
                if raw {
                    out.write_all(&end)?;
                }
            }
            Err(invalid("too many chunks"))
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The client

/// A whole response: status, headers in order, and the body (chunked framing removed).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header of that name, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics (with the body) when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "HTTP {} body is not JSON ({error}): {}",
                self.status,
                self.text()
            )
        })
    }
}

/// Reads one response (skipping interim 1xx ones) to a request made with `method`.
fn read_response(reader: &mut impl BufRead, method: &str) -> io::Result<Response> {
    for _ in 0..MAX_INTERIM_RESPONSES {
        let raw = read_head(reader)?
            .ok_or_else(|| eof("the server closed the connection without a response"))?;
        let head = parse_head(&raw)?;
        let status = head.status()?;
        if (100..200).contains(&status) {
            continue;
        }
        let mut body = Vec::new();
        transfer_body(
            reader,
            response_framing(&head, method, status)?,
            &mut body,
            false,
        )?;
        return Ok(Response {
            status,
            headers: head.headers,
            body,
        });
    }
    Err(invalid("too many interim responses"))
}

/// One HTTP/1.1 request on a fresh connection to `address` (127.0.0.1:PORT), with `Connection: close`.
/// `target` is the path and query; `Host` is `address`; a `Content-Length` is sent for any body and for
/// POST, PUT and PATCH.
pub fn http(
    address: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Response> {
    http_with_timeout(address, method, target, headers, body, REQUEST_DEADLINE)
}

fn http_with_timeout(
    address: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    deadline: Duration,
) -> io::Result<Response> {
    let socket = loopback(address);
    let deadline = Instant::now() + deadline;
    let remaining = || {
        deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(10))
    };
    let stream = TcpStream::connect_timeout(&socket, CONNECT_TIMEOUT.min(remaining()))?;
    let io_timeout = IO_TIMEOUT.min(remaining());
    stream.set_read_timeout(Some(io_timeout))?;
    stream.set_write_timeout(Some(io_timeout))?;
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {address}\r\nUser-Agent: dockyard-tests\r\nConnection: close\r\n"
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut writer = BufWriter::new(stream.try_clone()?);
    writer.write_all(head.as_bytes())?;
    writer.write_all(body)?;
    writer.flush()?;
    let mut reader = BufReader::new(Deadlined {
        inner: stream,
        deadline,
    });
    read_response(&mut reader, method)
}

// ---------------------------------------------------------------------------------------------------------------
// SHA-256, for digests (the registry's content addresses)

/// `sha256:<hex>` of `data`, as a registry names a blob or manifest.
pub fn digest_of(data: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

// ---------------------------------------------------------------------------------------------------------------
// The local registry

/// Debian's `docker-registry` (distribution 2.8) on 127.0.0.1:<free port>, plain HTTP, no auth, deletes enabled,
/// storage in a temp folder. Docker 20.10 pushes to it without extra settings (127.0.0.0/8 is an insecure registry
/// by default). Killed, and its storage removed, on drop.
pub struct LocalRegistry {
    /// `127.0.0.1:PORT`: what goes in front of an image reference (`{address}/name:tag`).
    pub address: String,
    child: Child,
    dir: tempfile::TempDir,
}

enum Launch {
    Started(LocalRegistry),
    Missing,
    /// Exited before answering (most likely: someone took the port); the log.
    Exited(String),
}

impl LocalRegistry {
    /// Starts a registry and waits (up to 20 s) until `GET /v2/` answers 200.
    /// `None`, after a loud line, when the `docker-registry` binary is missing; under `CI=true` that panics.
    pub fn start() -> Option<LocalRegistry> {
        let mut last_log = String::new();
        for _attempt in 0..3 {
            match Self::launch() {
                Launch::Started(registry) => return Some(registry),
                Launch::Missing => {
                    let test = std::thread::current()
                        .name()
                        .unwrap_or("a registry test")
                        .to_owned();
                    if std::env::var("CI").is_ok_and(|value| value == "true") {
                        panic!(
                            "{test}: CI=true but the `docker-registry` binary is missing: \
                             apt-get install -y docker-registry (.ci/run installs it)"
                        );
                    }
                    eprintln!(
                        "SKIPPED {test}: no `docker-registry` binary (apt-get install -y docker-registry); \
                         these tests run in CI (`bash .ci/run`)"
                    );
                    return None;
                }
                Launch::Exited(log) => last_log = log,
            }
        }
        panic!("docker-registry exited before answering, three times; its last log:\n{last_log}");
    }

    fn launch() -> Launch {
        let dir = tempfile::Builder::new()
            .prefix("dockyard-registry-")
            .tempdir()
            .expect("creating the registry's temp folder");
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).expect("creating the registry's storage folder");
        let address = format!("127.0.0.1:{}", free_port());
        let config = dir.path().join("config.yml");
        // JSON strings are valid YAML scalars: paths with odd characters stay paths.
        let storage_yaml = serde_json::Value::from(storage.to_string_lossy().into_owned());
        std::fs::write(
            &config,
            format!(
                "version: 0.1\n\
                 log:\n  level: info\n  formatter: text\n\
                 storage:\n  filesystem:\n    rootdirectory: {storage_yaml}\n  delete:\n    enabled: true\n  \
                 maintenance:\n    uploadpurging:\n      enabled: false\n\
                 http:\n  addr: {address}\n  secret: dockyard-tests-only\n"
            ),
        )
        .expect("writing the registry's config");
        let log_path = dir.path().join("registry.log");
        let log = std::fs::File::create(&log_path).expect("creating the registry's log");
        let mut command = Command::new("docker-registry");
        command
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("cloning the log's handle"))
            .stderr(log);
        // Environment variables override the config file: none of the caller's may leak in.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("REGISTRY_") {
                command.env_remove(name);
            }
        }
        let child = match command.spawn() {
            Ok(child) => child,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Launch::Missing,
            Err(error) => panic!("starting docker-registry: {error}"),
        };
        let mut registry = LocalRegistry {
            address,
            child,
            dir,
        };
        let deadline = Instant::now() + REGISTRY_READY_DEADLINE;
        let mut last_error = String::from("no answer yet");
        for _ in 0..2_000 {
            if let Ok(Some(status)) = registry.child.try_wait() {
                return Launch::Exited(format!("({status})\n{}", registry.log_tail()));
            }
            if Instant::now() >= deadline {
                break;
            }
            match http_with_timeout(
                &registry.address,
                "GET",
                "/v2/",
                &[],
                b"",
                Duration::from_secs(2),
            ) {
                Ok(response) if response.status == 200 => return Launch::Started(registry),
                Ok(response) => {
                    last_error = format!("HTTP {}: {}", response.status, response.text())
                }
                Err(error) => last_error = error.to_string(),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "docker-registry on {} did not answer GET /v2/ with 200 within {REGISTRY_READY_DEADLINE:?} \
             (last: {last_error}); its log:\n{}",
            registry.address,
            registry.log_tail()
        );
    }

    /// What the registry logged so far (one line per request at level info): for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// The last 40 lines of the log.
    pub fn log_tail(&self) -> String {
        crate::support::tail(&self.log(), 40)
    }

    /// Kills the registry process at once (a registry that goes away); its storage stays for [`Self::tag_on_disk`].
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the registry's storage holds `repository:tag` (readable after [`Self::kill`] too).
    pub fn tag_on_disk(&self, repository: &str, tag: &str) -> bool {
        self.dir
            .path()
            .join("storage/docker/registry/v2/repositories")
            .join(repository)
            .join("_manifests/tags")
            .join(tag)
            .exists()
    }

    /// `{address}/{repository}:{tag}`, the reference to tag and push.
    pub fn reference(&self, repository: &str, tag: &str) -> String {
        format!("{}/{repository}:{tag}", self.address)
    }

    /// A request straight to the registry; panics when it cannot be made.
    pub fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Response {
        http(&self.address, method, target, headers, body).unwrap_or_else(|error| {
            panic!(
                "{method} http://{}{target}: {error}; registry log:\n{}",
                self.address,
                self.log_tail()
            )
        })
    }

    fn expect_status(&self, what: &str, response: &Response, expected: &[u16]) {
        assert!(
            expected.contains(&response.status),
            "{what}: HTTP {} {}; registry log:\n{}",
            response.status,
            response.text(),
            self.log_tail()
        );
    }

    /// The repositories, sorted (`GET /v2/_catalog`).
    pub fn catalog(&self) -> Vec<String> {
        let response = self.request("GET", "/v2/_catalog?n=1000", &[], b"");
        self.expect_status("GET /v2/_catalog", &response, &[200]);
        sorted_strings(&response.json()["repositories"])
    }

    /// The tags of `repository`, sorted (`GET /v2/<repository>/tags/list`); empty when it has none or does not exist.
    pub fn tags(&self, repository: &str) -> Vec<String> {
        let target = format!("/v2/{repository}/tags/list");
        let response = self.request("GET", &target, &[], b"");
        self.expect_status(&format!("GET {target}"), &response, &[200, 404]);
        if response.status == 404 {
            return Vec::new();
        }
        sorted_strings(&response.json()["tags"])
    }

    /// The digest (`sha256:...`) `repository:tag` points at, as `Docker-Content-Digest` of a HEAD; `None` when absent.
    pub fn manifest_digest(&self, repository: &str, tag: &str) -> Option<String> {
        let target = format!("/v2/{repository}/manifests/{tag}");
        let response = self.request("HEAD", &target, &[("Accept", MANIFEST_ACCEPT)], b"");
        self.expect_status(&format!("HEAD {target}"), &response, &[200, 404]);
        if response.status == 404 {
            return None;
        }
        let digest = response
            .header("docker-content-digest")
            .unwrap_or_else(|| panic!("HEAD {target}: no Docker-Content-Digest in {response:?}"));
        Some(digest.to_owned())
    }

    /// The manifest `repository:reference` (a tag or a digest) as JSON; `None` when absent.
    pub fn manifest(&self, repository: &str, reference: &str) -> Option<serde_json::Value> {
        let target = format!("/v2/{repository}/manifests/{reference}");
        let response = self.request("GET", &target, &[("Accept", MANIFEST_ACCEPT)], b"");
        self.expect_status(&format!("GET {target}"), &response, &[200, 404]);
        (response.status == 200).then(|| response.json())
    }

    /// The bytes of a blob (an image config, a layer); `None` when absent.
    pub fn blob(&self, repository: &str, digest: &str) -> Option<Vec<u8>> {
        let target = format!("/v2/{repository}/blobs/{digest}");
        let response = self.request("GET", &target, &[], b"");
        self.expect_status(&format!("GET {target}"), &response, &[200, 404]);
        (response.status == 200).then_some(response.body)
    }
}

fn sorted_strings(value: &serde_json::Value) -> Vec<String> {
    let mut strings: Vec<String> = value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    strings.sort();
    strings
}

impl Drop for LocalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // `dir` (config, log, storage) is removed when the field drops, after this.
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The failing proxy

/// A proxy on 127.0.0.1:<free port> in front of `upstream` that forwards requests byte for byte, except the first
/// `fail_first` writes (PUT, PATCH, POST: blob uploads and manifest puts), which it answers itself with `status`
/// and a registry-style JSON error, closing the connection. `fail_first = usize::MAX` fails every write.
/// Keep-alive connections are served request by request; each forwarded request gets its own upstream connection.
/// Point a push at `{proxy.address}/name:tag`: the registry builds upload URLs from `Host`, so they come back
/// through the proxy too. Stops on drop.
pub struct FailingProxy {
    /// `127.0.0.1:PORT`.
    pub address: String,
    shared: Arc<ProxyShared>,
    accept_thread: Option<JoinHandle<()>>,
}

struct ProxyShared {
    upstream: String,
    fail_first: usize,
    status: u16,
    stop: AtomicBool,
    n_writes: AtomicUsize,
    n_failed: AtomicUsize,
    n_forwarded: AtomicUsize,
    next_connection: AtomicU64,
    /// `METHOD /path STATUS`, in the order the answers went out.
    requests: Mutex<Vec<String>>,
    /// Open client connections, to shut down on drop.
    clients: Mutex<HashMap<u64, TcpStream>>,
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Injected Failure",
    }
}

impl FailingProxy {
    pub fn start(upstream: &str, fail_first: usize, status: u16) -> FailingProxy {
        loopback(upstream);
        assert!(
            (200..=599).contains(&status),
            "an injected status must be a final one, not {status}"
        );
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding the proxy");
        let address = listener
            .local_addr()
            .expect("the proxy's address")
            .to_string();
        let shared = Arc::new(ProxyShared {
            upstream: upstream.to_owned(),
            fail_first,
            status,
            stop: AtomicBool::new(false),
            n_writes: AtomicUsize::new(0),
            n_failed: AtomicUsize::new(0),
            n_forwarded: AtomicUsize::new(0),
            next_connection: AtomicU64::new(0),
            requests: Mutex::new(Vec::new()),
            clients: Mutex::new(HashMap::new()),
        });
        let accept_shared = Arc::clone(&shared);
        let accept_thread = std::thread::Builder::new()
            .name("failing-proxy-accept".to_owned())
            .spawn(move || accept_loop(&listener, &accept_shared))
            .expect("spawning the proxy's accept thread");
        FailingProxy {
            address,
            shared,
            accept_thread: Some(accept_thread),
        }
    }

    /// Writes answered with the injected failure so far.
    pub fn n_failed(&self) -> usize {
        self.shared.n_failed.load(Ordering::SeqCst)
    }

    /// Requests (of any method) sent on to the upstream so far.
    pub fn n_forwarded(&self) -> usize {
        self.shared.n_forwarded.load(Ordering::SeqCst)
    }

    /// Every request answered so far, in order, as `METHOD /path STATUS` (query left out), with ` (injected)`
    /// after the failures the proxy made up: `POST /v2/app/blobs/uploads/ 503 (injected)`, `HEAD /v2/app/blobs/sha256:... 404`.
    pub fn requests(&self) -> Vec<String> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Drop for FailingProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop, which then sees the flag.
        let _ = TcpStream::connect_timeout(&loopback(&self.address), Duration::from_secs(1));
        if let Some(thread) = self.accept_thread.take() {
            let _ = thread.join();
        }
        let clients = self
            .shared
            .clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for stream in clients.values() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<ProxyShared>) {
    for incoming in listener.incoming().take(MAX_CONNECTIONS) {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = incoming else {
            continue;
        };
        let id = shared.next_connection.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            shared
                .clients
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(id, clone);
        }
        let connection_shared = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name(format!("failing-proxy-{id}"))
            .spawn(move || {
                if let Err(error) = serve_client(&connection_shared, stream) {
                    if !connection_shared.stop.load(Ordering::SeqCst) {
                        eprintln!("failing proxy: connection {id}: {error}");
                    }
                }
                connection_shared
                    .clients
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .remove(&id);
            });
        if spawned.is_err() {
            shared
                .clients
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .remove(&id);
        }
    }
}

impl ProxyShared {
    /// Decides for one write request: fail it or not (counts it either way).
    fn fail_this_write(&self) -> bool {
        self.n_writes.fetch_add(1, Ordering::SeqCst) < self.fail_first
    }

    fn record(&self, request_head: &Head, status: u16, injected: bool) {
        let target = request_head.start.split(' ').nth(1).unwrap_or_default();
        let path = target.split('?').next().unwrap_or_default();
        let mut requests = self
            .requests
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if requests.len() < MAX_RECORDED_REQUESTS {
            let suffix = if injected { " (injected)" } else { "" };
            requests.push(format!("{} {path} {status}{suffix}", request_head.method()));
        }
    }

    fn failure_response(&self) -> Vec<u8> {
        format!(
            "HTTP/1.1 {} {}\r\nContent-Type: application/json; charset=utf-8\r\n\
             Docker-Distribution-Api-Version: registry/2.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            self.status,
            reason_phrase(self.status),
            INJECTED_ERROR_BODY.len(),
            INJECTED_ERROR_BODY
        )
        .into_bytes()
    }
}

/// Serves one client connection, request by request.
fn serve_client(shared: &ProxyShared, client: TcpStream) -> io::Result<()> {
    let opened = Instant::now();
    client.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut reader = BufReader::with_capacity(
        64 * 1024,
        Deadlined {
            inner: client.try_clone()?,
            deadline: opened + CONNECTION_DEADLINE,
        },
    );
    let mut writer = BufWriter::with_capacity(64 * 1024, client.try_clone()?);
    // The engine tries HTTPS first, even on 127.0.0.0/8: answer a TLS handshake as the registry itself would
    // (Go's HTTP server), so that the engine falls back to plain HTTP at once instead of timing out.
    client.set_read_timeout(Some(IDLE_TIMEOUT))?;
    match reader.fill_buf() {
        Ok([]) => return Ok(()),
        Ok([first, ..]) if *first == TLS_HANDSHAKE_RECORD => {
            writer.write_all(TLS_REFUSAL)?;
            writer.flush()?;
            close_gently(&client, &mut reader);
            return Ok(());
        }
        Ok(_) => {}
        Err(error) if is_quiet_end(&error) => return Ok(()),
        Err(error) => return Err(error),
    }
    for _ in 0..MAX_REQUESTS_PER_CONNECTION {
        if shared.stop.load(Ordering::SeqCst) || opened.elapsed() > CONNECTION_REUSE {
            return Ok(());
        }
        client.set_read_timeout(Some(IDLE_TIMEOUT))?;
        let Some(raw_head) = read_head(&mut reader)? else {
            return Ok(());
        };
        client.set_read_timeout(Some(IO_TIMEOUT))?;
        let head = parse_head(&raw_head)?;
        let framing = request_framing(&head)?;
        let method = head.method().to_ascii_uppercase();
        let is_write = matches!(method.as_str(), "PUT" | "PATCH" | "POST");
        if is_write && shared.fail_this_write() {
            // Read the body first (unless the client waits for a go-ahead): closing a socket with unread data
            // resets it, and the client could lose the answer.
            if !has_token(head.header("expect"), "100-continue") {
                transfer_body(&mut reader, framing, &mut io::sink(), false)?;
            }
            shared.n_failed.fetch_add(1, Ordering::SeqCst);
            shared.record(&head, shared.status, true);
            writer.write_all(&shared.failure_response())?;
            writer.flush()?;
            close_gently(&client, &mut reader);
            return Ok(());
        }
        shared.n_forwarded.fetch_add(1, Ordering::SeqCst);
        let upstream_closes = forward(shared, &raw_head, &head, framing, &mut reader, &mut writer)?;
        if upstream_closes || head.closes() {
            return Ok(());
        }
    }
    Ok(())
}

/// Ends the connection after an answer: shut down our side, then read briefly until the client closes too
/// (closing with unread data would reset the connection, and the client could lose the answer).
fn close_gently(client: &TcpStream, reader: &mut impl Read) {
    let _ = client.shutdown(std::net::Shutdown::Write);
    if client
        .set_read_timeout(Some(Duration::from_secs(1)))
        .is_ok()
    {
        let _ = io::copy(&mut reader.take(1024 * 1024), &mut io::sink());
    }
}

/// Forwards one request on a fresh upstream connection and relays the whole response (interim ones too).
/// Returns whether the client connection must close after it (the response was delimited by closing).
fn forward(
    shared: &ProxyShared,
    raw_head: &[u8],
    request_head: &Head,
    framing: Framing,
    client_reader: &mut impl BufRead,
    client_writer: &mut impl Write,
) -> io::Result<bool> {
    let upstream = TcpStream::connect_timeout(&loopback(&shared.upstream), CONNECT_TIMEOUT)?;
    upstream.set_read_timeout(Some(IO_TIMEOUT))?;
    upstream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut upstream_writer = BufWriter::with_capacity(64 * 1024, upstream.try_clone()?);
    upstream_writer.write_all(raw_head)?;
    transfer_body(client_reader, framing, &mut upstream_writer, true)?;
    upstream_writer.flush()?;
    let mut upstream_reader = BufReader::with_capacity(
        64 * 1024,
        Deadlined {
            inner: upstream,
            deadline: Instant::now() + CONNECTION_DEADLINE,
        },
    );
    for _ in 0..MAX_INTERIM_RESPONSES {
        let raw = read_head(&mut upstream_reader)?
            .ok_or_else(|| eof("the upstream closed the connection without a response"))?;
        let head = parse_head(&raw)?;
        let status = head.status()?;
        client_writer.write_all(&raw)?;
        if (100..200).contains(&status) {
            client_writer.flush()?;
            continue;
        }
        let framing = response_framing(&head, request_head.method(), status)?;
        shared.record(request_head, status, false);
        transfer_body(&mut upstream_reader, framing, client_writer, true)?;
        client_writer.flush()?;
        return Ok(framing == Framing::UntilClose || head.closes());
    }
    Err(invalid("too many interim responses from the upstream"))
}

// ---------------------------------------------------------------------------------------------------------------
// Self-tests: no engine, only the docker-registry binary

/// Uploads `bytes` as a blob of `repository` through `address` (the registry or a proxy in front of it), in one
/// POST and one PUT; returns the two responses.
fn upload_blob(address: &str, repository: &str, bytes: &[u8]) -> (Response, Option<Response>) {
    let started = http(
        address,
        "POST",
        &format!("/v2/{repository}/blobs/uploads/"),
        &[],
        b"",
    )
    .unwrap();
    if started.status != 202 {
        return (started, None);
    }
    let location = started
        .header("location")
        .expect("a Location for the upload");
    let (upload_address, target) = resolve_location(address, location);
    let finished = http(
        &upload_address,
        "PUT",
        &with_query(&target, &format!("digest={}", digest_of(bytes))),
        &[("Content-Type", "application/octet-stream")],
        bytes,
    )
    .unwrap();
    (started, Some(finished))
}

fn assert_injected(response: &Response) {
    assert_eq!(response.status, 503, "{response:?}");
    assert_eq!(response.text(), INJECTED_ERROR_BODY);
    assert_eq!(response.header("connection"), Some("close"));
}

#[test]
fn digests_are_sha256_as_registries_write_them() {
    let cases: [(&[u8], &str); 3] = [
        (
            b"",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        (
            b"abc",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        ),
        (
            &[b'a'; 1000],
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3",
        ),
    ];
    for (data, hex) in cases {
        assert_eq!(digest_of(data), format!("sha256:{hex}"));
    }
}

#[test]
fn locations_resolve_on_loopback_only() {
    assert_eq!(
        resolve_location(
            "127.0.0.1:1",
            "http://127.0.0.1:5000/v2/a/blobs/uploads/x?_state=y"
        ),
        (
            "127.0.0.1:5000".to_owned(),
            "/v2/a/blobs/uploads/x?_state=y".to_owned()
        )
    );
    assert_eq!(
        resolve_location("127.0.0.1:1", "/v2/a/blobs/uploads/x"),
        ("127.0.0.1:1".to_owned(), "/v2/a/blobs/uploads/x".to_owned())
    );
    assert_eq!(with_query("/x?a=1", "b=2"), "/x?a=1&b=2");
    assert_eq!(with_query("/x", "b=2"), "/x?b=2");
    let elsewhere =
        std::panic::catch_unwind(|| resolve_location("127.0.0.1:1", "http://10.0.0.1:80/v2/"));
    assert!(
        elsewhere.is_err(),
        "a non-loopback Location must be refused"
    );
}

#[test]
fn local_registry_reports_catalog_tags_and_digest_of_a_manifest_put_by_hand() {
    let Some(registry) = LocalRegistry::start() else {
        return;
    };
    assert_eq!(registry.catalog(), Vec::<String>::new());
    assert_eq!(registry.tags("selftest/hand"), Vec::<String>::new());
    assert_eq!(registry.manifest_digest("selftest/hand", "1"), None);
    assert_eq!(registry.manifest("selftest/hand", "1"), None);

    let layer = b"not really a gzipped tar: the registry does not look inside layers\n".to_vec();
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"dockyard.selftest": "yes"}},
        "rootfs": {"type": "layers", "diff_ids": [digest_of(&layer)]},
    })
    .to_string()
    .into_bytes();
    for blob in [&layer, &config] {
        let (started, finished) = upload_blob(&registry.address, "selftest/hand", blob);
        assert_eq!(started.status, 202, "{}", started.text());
        let finished = finished.unwrap();
        assert_eq!(finished.status, 201, "{}", finished.text());
        assert_eq!(
            finished.header("docker-content-digest"),
            Some(digest_of(blob).as_str())
        );
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": config.len(),
            "digest": digest_of(&config),
        },
        "layers": [{
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "size": layer.len(),
            "digest": digest_of(&layer),
        }],
    })
    .to_string()
    .into_bytes();
    let manifest_digest = digest_of(&manifest);
    for tag in ["1", "latest"] {
        let put = registry.request(
            "PUT",
            &format!("/v2/selftest/hand/manifests/{tag}"),
            &[(
                "Content-Type",
                "application/vnd.docker.distribution.manifest.v2+json",
            )],
            &manifest,
        );
        assert_eq!(put.status, 201, "{}\n{}", put.text(), registry.log_tail());
        assert_eq!(
            put.header("docker-content-digest"),
            Some(manifest_digest.as_str())
        );
    }

    assert_eq!(registry.catalog(), vec!["selftest/hand".to_owned()]);
    assert_eq!(
        registry.tags("selftest/hand"),
        vec!["1".to_owned(), "latest".to_owned()]
    );
    assert_eq!(registry.tags("selftest/other"), Vec::<String>::new());
    assert_eq!(
        registry.manifest_digest("selftest/hand", "1"),
        Some(manifest_digest.clone())
    );
    assert_eq!(
        registry.manifest_digest("selftest/hand", "latest"),
        Some(manifest_digest.clone())
    );
    assert_eq!(registry.manifest_digest("selftest/hand", "2"), None);
    let fetched = registry
        .manifest("selftest/hand", &manifest_digest)
        .unwrap();
    assert_eq!(fetched["layers"][0]["digest"], digest_of(&layer).as_str());
    assert_eq!(
        registry.blob("selftest/hand", &digest_of(&config)),
        Some(config.clone())
    );
    assert_eq!(registry.blob("selftest/hand", &digest_of(b"absent")), None);
    assert_eq!(
        registry.reference("selftest/hand", "1"),
        format!("{}/selftest/hand:1", registry.address)
    );
    assert!(
        registry.log().contains("/v2/selftest/hand/manifests/1"),
        "the registry logs its requests:\n{}",
        registry.log_tail()
    );

    // Drop kills the process and removes the storage.
    let address = registry.address.clone();
    let storage = registry.dir.path().to_path_buf();
    drop(registry);
    assert!(!storage.exists(), "{} is left behind", storage.display());
    assert!(
        http_with_timeout(&address, "GET", "/v2/", &[], b"", Duration::from_secs(2)).is_err(),
        "the registry still answers after drop"
    );
}

#[test]
fn failing_proxy_fails_the_first_two_writes_then_forwards_everything() {
    let Some(registry) = LocalRegistry::start() else {
        return;
    };
    let proxy = FailingProxy::start(&registry.address, 2, 503);
    let v2 = http(&proxy.address, "GET", "/v2/", &[], b"").unwrap();
    assert_eq!(v2.status, 200, "{v2:?}");
    assert_eq!(
        v2.header("docker-distribution-api-version"),
        Some("registry/2.0"),
        "the registry's own answer comes through"
    );
    assert_eq!((proxy.n_failed(), proxy.n_forwarded()), (0, 1));

    let blob = b"dockyard registry self-test blob\n";
    for n_failed in 1..=2 {
        let (started, finished) = upload_blob(&proxy.address, "selftest/proxy", blob);
        assert_injected(&started);
        assert!(finished.is_none());
        assert_eq!((proxy.n_failed(), proxy.n_forwarded()), (n_failed, 1));
    }
    let (started, finished) = upload_blob(&proxy.address, "selftest/proxy", blob);
    assert_eq!(started.status, 202, "{started:?}");
    let location = started.header("location").unwrap();
    assert!(
        location.starts_with(&format!("http://{}/", proxy.address)),
        "the registry builds upload URLs from Host, so the upload stays on the proxy: {location}"
    );
    let finished = finished.unwrap();
    assert_eq!(finished.status, 201, "{finished:?}");
    assert_eq!(
        finished.header("docker-content-digest"),
        Some(digest_of(blob).as_str())
    );
    assert_eq!((proxy.n_failed(), proxy.n_forwarded()), (2, 3));
    assert_eq!(
        registry.blob("selftest/proxy", &digest_of(blob)),
        Some(blob.to_vec())
    );

    // Reads never fail, before or after.
    let head = http(
        &proxy.address,
        "HEAD",
        &format!("/v2/selftest/proxy/blobs/{}", digest_of(blob)),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(blob.len().to_string().as_str())
    );
    assert!(head.body.is_empty());
    assert_eq!((proxy.n_failed(), proxy.n_forwarded()), (2, 4));
    let blob_path = format!("/v2/selftest/proxy/blobs/{}", digest_of(blob));
    assert_eq!(
        proxy.requests(),
        [
            "GET /v2/ 200".to_owned(),
            "POST /v2/selftest/proxy/blobs/uploads/ 503 (injected)".to_owned(),
            "POST /v2/selftest/proxy/blobs/uploads/ 503 (injected)".to_owned(),
            "POST /v2/selftest/proxy/blobs/uploads/ 202".to_owned(),
            format!(
                "PUT {} 201",
                resolve_location(&proxy.address, location)
                    .1
                    .split('?')
                    .next()
                    .unwrap()
            ),
            format!("HEAD {blob_path} 200"),
        ]
    );
}

#[test]
fn failing_proxy_with_usize_max_fails_every_write_with_its_body_and_status() {
    let Some(registry) = LocalRegistry::start() else {
        return;
    };
    let proxy = FailingProxy::start(&registry.address, usize::MAX, 500);
    let blob = vec![b'x'; 300 * 1024];
    for n_failed in 1..=3 {
        // A monolithic upload: a POST with a body, which the proxy reads before answering.
        let response = http(
            &proxy.address,
            "POST",
            &format!(
                "/v2/selftest/never/blobs/uploads/?digest={}",
                digest_of(&blob)
            ),
            &[("Content-Type", "application/octet-stream")],
            &blob,
        )
        .unwrap();
        assert_eq!(response.status, 500, "{response:?}");
        assert_eq!(response.json()["errors"][0]["code"], "UNAVAILABLE");
        assert_eq!((proxy.n_failed(), proxy.n_forwarded()), (n_failed, 0));
    }
    let catalog = http(&proxy.address, "GET", "/v2/_catalog", &[], b"").unwrap();
    assert_eq!(catalog.status, 200);
    assert_eq!((proxy.n_failed(), proxy.n_forwarded()), (3, 1));
    assert_eq!(
        registry.catalog(),
        Vec::<String>::new(),
        "nothing reached the registry"
    );
}

/// Sends raw requests on one keep-alive connection and reads their responses, as the engine may.
struct KeepAlive {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    address: String,
}

impl KeepAlive {
    fn open(address: &str) -> KeepAlive {
        let stream = TcpStream::connect_timeout(&loopback(address), CONNECT_TIMEOUT).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        KeepAlive {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
            address: address.to_owned(),
        }
    }

    /// `extra_headers` are whole lines without CRLF; `body` is sent as is (already framed).
    fn send(
        &mut self,
        method: &str,
        target: &str,
        extra_headers: &[&str],
        body: &[u8],
    ) -> Response {
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {}\r\n", self.address);
        for line in extra_headers {
            head.push_str(line);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        self.writer.write_all(head.as_bytes()).unwrap();
        self.writer.write_all(body).unwrap();
        self.writer.flush().unwrap();
        read_response(&mut self.reader, method).unwrap()
    }

    fn is_closed(&mut self) -> bool {
        matches!(read_head(&mut self.reader), Ok(None))
    }
}

#[test]
fn failing_proxy_serves_keep_alive_connections_and_chunked_bodies() {
    let Some(registry) = LocalRegistry::start() else {
        return;
    };
    let proxy = FailingProxy::start(&registry.address, 0, 503);
    let mut connection = KeepAlive::open(&proxy.address);
    assert_eq!(connection.send("GET", "/v2/", &[], b"").status, 200);

    // The upload the way the engine streams a layer: POST, a chunked PATCH, then PUT with the digest.
    let started = connection.send(
        "POST",
        "/v2/selftest/chunked/blobs/uploads/",
        &["Content-Length: 0"],
        b"",
    );
    assert_eq!(started.status, 202, "{started:?}");
    let (address, target) = resolve_location(&proxy.address, started.header("location").unwrap());
    assert_eq!(address, proxy.address);
    let blob = b"first chunk, second chunk\n";
    let chunked = b"d\r\nfirst chunk, \r\nd;ext=1\r\nsecond chunk\n\r\n0\r\n\r\n";
    let patched = connection.send(
        "PATCH",
        &target,
        &[
            "Transfer-Encoding: chunked",
            "Content-Type: application/octet-stream",
        ],
        chunked,
    );
    assert_eq!(patched.status, 202, "{patched:?}");
    assert_eq!(patched.header("range"), Some("0-25"));
    let (_, target) = resolve_location(&proxy.address, patched.header("location").unwrap());
    let put = connection.send(
        "PUT",
        &with_query(&target, &format!("digest={}", digest_of(blob))),
        &["Content-Length: 0"],
        b"",
    );
    assert_eq!(put.status, 201, "{put:?}\n{}", registry.log_tail());

    // HEAD carries a Content-Length but no body: the next response must still parse.
    let blob_path = format!("/v2/selftest/chunked/blobs/{}", digest_of(blob));
    let head = connection.send("HEAD", &blob_path, &[], b"");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    let get = connection.send("GET", &blob_path, &[], b"");
    assert_eq!(get.status, 200);
    assert_eq!(get.body, blob);
    assert_eq!((proxy.n_failed(), proxy.n_forwarded()), (0, 6));

    // An injected failure ends its connection, after the answer.
    let proxy = FailingProxy::start(&registry.address, 1, 503);
    let mut connection = KeepAlive::open(&proxy.address);
    assert_eq!(connection.send("GET", "/v2/", &[], b"").status, 200);
    let failed = connection.send("PATCH", &target, &["Transfer-Encoding: chunked"], chunked);
    assert_injected(&failed);
    assert!(connection.is_closed());
    assert_eq!((proxy.n_failed(), proxy.n_forwarded()), (1, 1));
}

#[test]
fn failing_proxy_stops_on_drop() {
    let proxy = FailingProxy::start("127.0.0.1:9", 0, 503);
    let address = proxy.address.clone();
    let mut idle = KeepAlive::open(&address);
    let started = Instant::now();
    drop(proxy);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "drop took {:?}",
        started.elapsed()
    );
    assert!(
        idle.is_closed(),
        "an idle client connection is shut down on drop"
    );
    assert!(
        TcpStream::connect_timeout(&loopback(&address), Duration::from_secs(1)).is_err(),
        "the proxy still listens after drop"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// With the engine

/// A tar holding one regular file, for a tiny image (`Engine::import_rootfs`).
fn tar_with_one_file(name: &str, content: &[u8]) -> Vec<u8> {
    assert!(name.len() < 100, "ustar names are short");
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    header[100..108].copy_from_slice(b"0000644\0");
    header[108..116].copy_from_slice(b"0000000\0");
    header[116..124].copy_from_slice(b"0000000\0");
    header[124..136].copy_from_slice(format!("{:011o}\0", content.len()).as_bytes());
    header[136..148].copy_from_slice(b"00000000000\0");
    header[148..156].copy_from_slice(b"        ");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    let checksum: u32 = header.iter().map(|byte| u32::from(*byte)).sum();
    header[148..156].copy_from_slice(format!("{checksum:06o}\0 ").as_bytes());
    let mut tar = header.to_vec();
    tar.extend_from_slice(content);
    tar.resize(tar.len().div_ceil(512) * 512 + 1024, 0);
    tar
}

/// Removes the listed images when the test ends, passed or not.
struct ImagesToRemove<'e> {
    engine: &'e dockyard_engine::Engine,
    references: Vec<String>,
}

impl Drop for ImagesToRemove<'_> {
    fn drop(&mut self) {
        let runtime = crate::support::runtime();
        for reference in &self.references {
            let _ = runtime.block_on(self.engine.remove_image(reference));
        }
    }
}

/// The engine pushes to the local registry, and through the proxy: a push whose only write (the manifest PUT: the
/// layers are already there) is failed with 503 fails as a transient push failure; the next push of it succeeds.
#[test]
fn the_engine_pushes_to_the_local_registry_and_through_the_failing_proxy() {
    let Some((engine, _lock)) = crate::support::engine_or_skip(
        "the_engine_pushes_to_the_local_registry_and_through_the_failing_proxy",
    ) else {
        return;
    };
    let Some(registry) = LocalRegistry::start() else {
        return;
    };
    let runtime = crate::support::runtime();
    let mut cleanup = ImagesToRemove {
        engine: &engine,
        references: Vec::new(),
    };
    let runtime_image = "dockyard/python-runtime:bookworm";
    let source = if runtime
        .block_on(engine.image(runtime_image))
        .unwrap()
        .is_some()
    {
        runtime_image.to_owned()
    } else {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs.tar");
        std::fs::write(
            &rootfs,
            tar_with_one_file(
                "dockyard-selftest.txt",
                b"pushed by the registry self-test\n",
            ),
        )
        .unwrap();
        let imported = "dockyard-it-registry-selftest:rootfs".to_owned();
        cleanup.references.push(imported.clone());
        runtime
            .block_on(engine.import_rootfs(&rootfs, &imported, &[]))
            .unwrap();
        imported
    };
    let mut push = |reference: &str| {
        if !cleanup.references.iter().any(|known| known == reference) {
            cleanup.references.push(reference.to_owned());
        }
        runtime
            .block_on(engine.tag_image(&source, reference))
            .unwrap();
        let mut lines = Vec::new();
        let started = Instant::now();
        let pushed = runtime.block_on(engine.push_image(reference, None, &mut |line: &str| {
            lines.push(line.to_owned());
        }));
        eprintln!(
            "push of {source} as {reference} in {:.1} s: {pushed:?}\n  {}",
            started.elapsed().as_secs_f64(),
            lines.join("\n  ")
        );
        pushed
    };

    let digest = push(&registry.reference("selftest", "1"))
        .unwrap_or_else(|error| panic!("{error}\nregistry log:\n{}", registry.log_tail()));
    assert_eq!(registry.catalog(), ["selftest".to_owned()]);
    assert_eq!(registry.tags("selftest"), ["1".to_owned()]);
    assert_eq!(
        registry.manifest_digest("selftest", "1"),
        Some(digest.clone())
    );

    let proxy = FailingProxy::start(&registry.address, 1, 503);
    let through_proxy = format!("{}/selftest:2", proxy.address);
    let failed = push(&through_proxy);
    let requests = proxy.requests();
    let Err(error) = failed else {
        panic!("the push should fail on the injected 503; the proxy saw {requests:#?}");
    };
    assert_eq!(
        error.push_failure_kind(),
        dockyard_engine::PushFailureKind::Transient,
        "{error}"
    );
    assert!(error.to_string().contains("503"), "{error}");
    assert_eq!(proxy.n_failed(), 1, "{requests:#?}");
    assert!(
        requests.contains(&"PUT /v2/selftest/manifests/2 503 (injected)".to_owned()),
        "the layers are there already: the one write is the manifest; the proxy saw {requests:#?}"
    );
    assert_eq!(registry.tags("selftest"), ["1".to_owned()]);

    let again = push(&through_proxy)
        .unwrap_or_else(|error| panic!("{error}; the proxy saw {:#?}", proxy.requests()));
    assert_eq!(again, digest);
    assert_eq!(proxy.n_failed(), 1);
    assert!(proxy.n_forwarded() > 0);
    assert_eq!(registry.tags("selftest"), ["1".to_owned(), "2".to_owned()]);
    assert_eq!(registry.manifest_digest("selftest", "2"), Some(digest));
}
