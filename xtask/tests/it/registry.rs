//! Test support for pushes: a throwaway local registry (Debian's `docker-registry`, distribution 2.8) and the minimal
//! blocking HTTP/1.1 client and framing it and the failing proxy in front of it (`registry_proxy.rs`) need.
//! Everything listens on, and talks to, 127.0.0.1 only; every loop is bounded in time and count.
//!
//! The registry is the host's `docker-registry` binary when there is one, else a container of an image bootstrapped
//! from the same Debian package (`registry_container.rs`); the self-tests (`registry_tests.rs`) need one of the two.
#![allow(
    clippy::disallowed_methods,
    reason = "the test support starts Debian's `docker-registry` as a child it kills on drop, and polls it from synchronous code"
)]

use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What `manifest_digest` and `manifest` accept: a single-platform image in either format, or an index.
pub const MANIFEST_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";

/// The body of an injected failure.
pub const INJECTED_ERROR_BODY: &str =
    r#"{"errors":[{"code":"UNAVAILABLE","message":"injected by the dockyard test suite"}]}"#;

pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// One read or write on a socket.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// One request of the client, from connect to the last byte of the response.
pub(crate) const REQUEST_DEADLINE: Duration = Duration::from_secs(120);
/// How long the proxy waits for the next request on a keep-alive connection.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// The proxy takes no new request on a connection older than this (the client reconnects)...
pub(crate) const CONNECTION_REUSE: Duration = Duration::from_secs(10 * 60);
/// ... and gives up on one older than this.
pub(crate) const CONNECTION_DEADLINE: Duration = Duration::from_secs(30 * 60);
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;
pub(crate) const MAX_LINE_BYTES: u64 = 8 * 1024;
pub(crate) const MAX_CHUNKS: usize = 16 * 1024 * 1024;
pub(crate) const MAX_TRAILER_LINES: usize = 1000;
pub(crate) const MAX_INTERIM_RESPONSES: usize = 10;
pub(crate) const MAX_REQUESTS_PER_CONNECTION: usize = 100_000;
pub(crate) const MAX_CONNECTIONS: usize = 1_000_000;
pub(crate) const MAX_RECORDED_REQUESTS: usize = 100_000;
/// The first byte of a TLS handshake, and what Go's HTTP server answers to one on a plain-HTTP port.
pub(crate) const TLS_HANDSHAKE_RECORD: u8 = 0x16;
pub(crate) const TLS_REFUSAL: &[u8] =
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
pub(crate) const REGISTRY_READY_DEADLINE: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------------------------------
// Addresses

/// Parses `127.0.0.1:PORT`; anything else (another host, a name, IPv6) is a bug in the test.
pub(crate) fn loopback(address: &str) -> SocketAddr {
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
pub(crate) fn free_port() -> u16 {
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

pub(crate) fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

pub(crate) fn eof(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, message.to_owned())
}

/// A reader that refuses to read past a deadline (the socket's read timeout bounds each read; this bounds them all).
pub(crate) struct Deadlined<R> {
    pub(crate) inner: R,
    pub(crate) deadline: Instant,
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

pub(crate) fn is_quiet_end(error: &io::Error) -> bool {
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
pub(crate) fn read_line(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
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
pub(crate) fn read_head(reader: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
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
pub(crate) struct Head {
    pub(crate) start: String,
    pub(crate) headers: Vec<(String, String)>,
}

pub(crate) fn parse_head(raw: &[u8]) -> io::Result<Head> {
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

pub(crate) fn find_header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(candidate, _)| candidate.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

pub(crate) fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|value| {
        value
            .split(',')
            .any(|item| item.trim().eq_ignore_ascii_case(token))
    })
}

impl Head {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The request method (first word of a request line).
    pub(crate) fn method(&self) -> &str {
        self.start.split(' ').next().unwrap_or_default()
    }

    /// The status code of a response line.
    pub(crate) fn status(&self) -> io::Result<u16> {
        self.start
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| invalid(format!("not a status line: `{}`", self.start)))
    }

    pub(crate) fn is_http_1_0(&self) -> bool {
        self.start.starts_with("HTTP/1.0") || self.start.ends_with("HTTP/1.0")
    }

    /// Whether the connection ends after this message.
    pub(crate) fn closes(&self) -> bool {
        let connection = self.header("connection");
        has_token(connection, "close")
            || (self.is_http_1_0() && !has_token(connection, "keep-alive"))
    }

    pub(crate) fn chunked(&self) -> bool {
        self.header("transfer-encoding").is_some_and(|value| {
            value
                .rsplit(',')
                .next()
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"))
        })
    }

    pub(crate) fn content_length(&self) -> io::Result<Option<u64>> {
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
pub(crate) enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

pub(crate) fn request_framing(head: &Head) -> io::Result<Framing> {
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

pub(crate) fn response_framing(
    head: &Head,
    request_method: &str,
    status: u16,
) -> io::Result<Framing> {
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

pub(crate) fn copy_exactly(
    reader: &mut impl BufRead,
    n_bytes: u64,
    out: &mut impl Write,
) -> io::Result<()> {
    let copied = io::copy(&mut reader.by_ref().take(n_bytes), out)?;
    if copied == n_bytes {
        Ok(())
    } else {
        Err(eof("the stream ended inside a message body"))
    }
}

/// Moves one body from `reader` to `out`. `raw` keeps the chunked framing (what the proxy relays);
/// otherwise only the data is written (what the client returns).
pub(crate) fn transfer_body(
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
pub(crate) fn read_response(reader: &mut impl BufRead, method: &str) -> io::Result<Response> {
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

pub(crate) fn http_with_timeout(
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
    pub(crate) backend: Backend,
    pub(crate) dir: tempfile::TempDir,
}

/// What runs the registry.
pub(crate) enum Backend {
    /// The host's `docker-registry` binary, its storage in [`LocalRegistry::dir`].
    Process(Child),
    /// A container of the image bootstrapped from Debian's package, its storage inside it.
    Container(crate::registry_container::RegistryContainer),
}

/// The registry's config: plain HTTP on `address`, storage in `storage`, deletes on, requests logged.
fn config_yaml(storage: &str, address: &str) -> String {
    // JSON strings are valid YAML scalars: paths with odd characters stay paths.
    let storage_yaml = serde_json::Value::from(storage);
    format!(
        "version: 0.1\n\
         log:\n  level: info\n  formatter: text\n\
         storage:\n  filesystem:\n    rootdirectory: {storage_yaml}\n  delete:\n    enabled: true\n  \
         maintenance:\n    uploadpurging:\n      enabled: false\n\
         http:\n  addr: {address}\n  secret: dockyard-tests-only\n"
    )
}

pub(crate) enum Launch {
    Started(Box<LocalRegistry>),
    Missing,
    /// Exited before answering (most likely: someone took the port); the log.
    Exited(String),
}

impl LocalRegistry {
    /// Starts a registry and waits (up to 20 s) until `GET /v2/` answers 200.
    /// `None`, after a loud line, when there is neither a `docker-registry` binary nor an engine to run the registry
    /// container on; under `CI=true` that panics.
    pub fn start() -> Option<LocalRegistry> {
        let mut last_log = String::new();
        for _attempt in 0..3 {
            match Self::launch() {
                Launch::Started(registry) => return Some(*registry),
                Launch::Missing => {
                    let test = std::thread::current()
                        .name()
                        .unwrap_or("a registry test")
                        .to_owned();
                    if std::env::var("CI").is_ok_and(|value| value == "true") {
                        panic!(
                            "{test}: CI=true but there is neither a `docker-registry` binary nor an engine for the \
                             registry container"
                        );
                    }
                    eprintln!(
                        "SKIPPED {test}: neither a `docker-registry` binary (apt-get install -y docker-registry) \
                         nor an engine for the registry container; these tests run in CI (`bash .ci/run`)"
                    );
                    return None;
                }
                Launch::Exited(log) => last_log = log,
            }
        }
        panic!("docker-registry exited before answering, three times; its last log:\n{last_log}");
    }

    pub(crate) fn launch() -> Launch {
        let dir = tempfile::Builder::new()
            .prefix("dockyard-registry-")
            .tempdir()
            .expect("creating the registry's temp folder");
        let storage = dir.path().join("storage");
        std::fs::create_dir_all(&storage).expect("creating the registry's storage folder");
        let address = format!("127.0.0.1:{}", free_port());
        let config = dir.path().join("config.yml");
        std::fs::write(&config, config_yaml(&storage.to_string_lossy(), &address))
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
        let (backend, address) = match command.spawn() {
            Ok(child) => (Backend::Process(child), address),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                let Some((runtime, engine)) = crate::registry_container::engine() else {
                    return Launch::Missing;
                };
                let config = config_yaml(crate::registry_container::STORAGE, "0.0.0.0:5000");
                let (container, address) =
                    crate::registry_container::RegistryContainer::start(runtime, engine, &config);
                (Backend::Container(container), address)
            }
            Err(error) => panic!("starting docker-registry: {error}"),
        };
        let mut registry = LocalRegistry {
            address,
            backend,
            dir,
        };
        let deadline = Instant::now() + REGISTRY_READY_DEADLINE;
        let mut last_error = String::from("no answer yet");
        for _ in 0..2_000 {
            if let Some(ended) = registry.exited() {
                return Launch::Exited(ended);
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
                Ok(response) if response.status == 200 => {
                    return Launch::Started(Box::new(registry))
                }
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
        match &self.backend {
            Backend::Process(_) => {
                std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
            }
            Backend::Container(container) => container.log(),
        }
    }

    /// How the registry ended with its log, when it has; `None` while it runs.
    fn exited(&mut self) -> Option<String> {
        match &mut self.backend {
            Backend::Process(child) => match child.try_wait() {
                Ok(Some(status)) => Some(format!("({status})\n{}", self.log_tail())),
                _ => None,
            },
            Backend::Container(container) => container.ended(),
        }
    }

    /// The last 40 lines of the log.
    pub fn log_tail(&self) -> String {
        crate::support::tail(&self.log(), 40)
    }

    /// Kills the registry process at once (a registry that goes away); its storage stays for [`Self::tag_on_disk`].
    pub fn kill(&mut self) {
        match &mut self.backend {
            Backend::Process(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Backend::Container(container) => container.kill(),
        }
    }

    /// Whether the registry's storage holds `repository:tag` (readable after [`Self::kill`] too).
    pub fn tag_on_disk(&self, repository: &str, tag: &str) -> bool {
        let relative =
            format!("docker/registry/v2/repositories/{repository}/_manifests/tags/{tag}");
        match &self.backend {
            Backend::Process(_) => self.dir.path().join("storage").join(relative).exists(),
            Backend::Container(container) => container.storage_has(&relative),
        }
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

    pub(crate) fn expect_status(&self, what: &str, response: &Response, expected: &[u16]) {
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

pub(crate) fn sorted_strings(value: &serde_json::Value) -> Vec<String> {
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
        self.kill();
        // The container is removed, and `dir` (config, log, storage) deleted, when the fields drop, after this.
    }
}
