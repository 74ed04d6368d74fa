//! The failing proxy of the registry test support: forwards requests to the local registry byte for byte, but
//! answers the first N writes of a push itself with an injected error.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::registry::*;

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
    pub(crate) shared: Arc<ProxyShared>,
    pub(crate) accept_thread: Option<JoinHandle<()>>,
}

pub(crate) struct ProxyShared {
    pub(crate) upstream: String,
    pub(crate) fail_first: usize,
    pub(crate) status: u16,
    pub(crate) stop: AtomicBool,
    pub(crate) n_writes: AtomicUsize,
    pub(crate) n_failed: AtomicUsize,
    pub(crate) n_forwarded: AtomicUsize,
    pub(crate) next_connection: AtomicU64,
    /// `METHOD /path STATUS`, in the order the answers went out.
    pub(crate) requests: Mutex<Vec<String>>,
    /// Open client connections, to shut down on drop.
    pub(crate) clients: Mutex<HashMap<u64, TcpStream>>,
}

pub(crate) fn reason_phrase(status: u16) -> &'static str {
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

pub(crate) fn accept_loop(listener: &TcpListener, shared: &Arc<ProxyShared>) {
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
    pub(crate) fn fail_this_write(&self) -> bool {
        self.n_writes.fetch_add(1, Ordering::SeqCst) < self.fail_first
    }

    pub(crate) fn record(&self, request_head: &Head, status: u16, injected: bool) {
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

    pub(crate) fn failure_response(&self) -> Vec<u8> {
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
pub(crate) fn serve_client(shared: &ProxyShared, client: TcpStream) -> io::Result<()> {
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
pub(crate) fn close_gently(client: &TcpStream, reader: &mut impl Read) {
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
pub(crate) fn forward(
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
