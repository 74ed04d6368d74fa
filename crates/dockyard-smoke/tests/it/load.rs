//! The bounded load: percentiles by nearest rank, statuses and errors counted, against a tiny local server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dockyard_smoke::load::{percentile_ms, run_load, LoadOptions};
use dockyard_smoke::HttpRequest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::refused_address;

#[test]
fn percentiles_are_nearest_rank_in_milliseconds() {
    let hundred: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
    let cases: &[(&[u64], f64, f64)] = &[
        (&[], 50.0, 0.0),
        (&[7_000], 50.0, 7.0),
        (&[7_000], 99.0, 7.0),
        (&[1_000, 2_000], 50.0, 1.0),
        (&[1_000, 2_000], 90.0, 2.0),
        (&hundred, 50.0, 50.0),
        (&hundred, 90.0, 90.0),
        (&hundred, 99.0, 99.0),
        (&hundred, 100.0, 100.0),
        (&[1_500, 2_500, 3_500], 0.0, 1.5),
    ];
    for (sorted, p, expected) in cases {
        assert_eq!(percentile_ms(sorted, *p), *expected, "p{p} of {sorted:?}");
    }
}

/// A server answering every request with `status` until the test ends: HTTP/1.1 on kept-alive connections, or
/// HTTP/1.0 closing each connection after its answer. Counts the connections it accepted.
async fn serve_forever(status: u16, keep_alive: bool) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let n_connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&n_connections);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buffer = [0u8; 1024];
                loop {
                    let mut head = Vec::new();
                    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let version = if keep_alive { "1.1" } else { "1.0" };
                    let response =
                        format!("HTTP/{version} {status} X\r\nContent-Length: 2\r\n\r\nok");
                    if stream.write_all(response.as_bytes()).await.is_err() || !keep_alive {
                        let _ = stream.shutdown().await;
                        return;
                    }
                }
            });
        }
    });
    (address, n_connections)
}

const OPTIONS: LoadOptions = LoadOptions {
    duration: Duration::from_millis(300),
    connections: 3,
    request_timeout: Duration::from_secs(2),
};

#[tokio::test]
async fn answers_are_counted_by_status_and_5xx_are_counted() {
    for (status, keep_alive, expected_5xx) in [
        (200u16, true, false),
        (200, false, false),
        (503, true, true),
    ] {
        let (address, n_connections) = serve_forever(status, keep_alive).await;
        let measured = run_load(address, &HttpRequest::get("/", "localhost"), OPTIONS).await;
        assert!(measured.n_requests > 0, "{measured:?}");
        assert_eq!(measured.n_errors, 0, "{measured:?}");
        assert_eq!(measured.by_status.get(&status), Some(&measured.n_requests));
        assert_eq!(measured.n_5xx() > 0, expected_5xx, "{measured:?}");
        assert!(measured.elapsed >= OPTIONS.duration, "{measured:?}");
        assert!(measured.p50_ms <= measured.p99_ms && measured.p99_ms <= measured.max_ms);
        assert!(
            measured
                .summary()
                .contains(&format!("statuses {{{status}: {}}}", measured.n_requests)),
            "{}",
            measured.summary()
        );
        // Kept-alive connections are reused; closed ones are opened again, one per request.
        let opened = n_connections.load(Ordering::SeqCst) as u64;
        if keep_alive {
            assert_eq!(opened, OPTIONS.connections as u64, "{measured:?}");
        } else {
            assert_eq!(opened, measured.n_requests, "{measured:?}");
        }
    }
}

#[tokio::test]
async fn requests_without_an_answer_are_errors() {
    let address = refused_address().await;
    let measured = run_load(address, &HttpRequest::get("/", "localhost"), OPTIONS).await;
    assert!(measured.n_errors > 0, "{measured:?}");
    assert_eq!(measured.n_requests, measured.n_errors);
    assert!(measured.by_status.is_empty());
    assert!(measured.first_error.is_some());
    assert_eq!(measured.max_ms, 0.0);
}
