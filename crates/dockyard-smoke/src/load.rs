//! A bounded load against one address: a fixed number of connections for a fixed time, every answer counted and
//! timed; and [`load_check`], the smoke run's check that holds it through nginx after the other checks passed.
//!
//! Each client keeps one HTTP/1.1 connection alive and sends requests on it back to back until the time is up
//! (requests already sent then finish); when the server closes it, or a request fails, the next request opens a
//! new one, so connection setup is part of that request's latency.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::http::{Connection, HttpRequest, HttpResponse};
use crate::lifecycle::Running;
use crate::report::Failure;
use crate::{CheckResult, HttpError, RunContext};

/// How much load: `connections` clients, each sending requests one after another, for `duration`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// How long new requests are started.
    pub duration: Duration,
    /// How many requests are in flight at once.
    pub connections: usize,
    /// How long one request may take before it counts as an error.
    pub request_timeout: Duration,
}

/// What a load run measured.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadResult {
    /// Requests that got an answer or failed, in all.
    pub n_requests: u64,
    /// Answers by status code.
    pub by_status: BTreeMap<u16, u64>,
    /// Requests that got no HTTP answer (refused, reset, timed out, malformed).
    pub n_errors: u64,
    /// The first such error, for the report.
    pub first_error: Option<String>,
    /// The wall time from the first request to the last answer.
    pub elapsed: Duration,
    /// Latency percentiles of answered requests, in milliseconds: p50, p90, p99 and the maximum.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// The slowest answer.
    pub max_ms: f64,
}

impl LoadResult {
    /// Answers with a 5xx status.
    pub fn n_5xx(&self) -> u64 {
        self.by_status
            .iter()
            .filter(|(status, _)| (500..600).contains(*status))
            .map(|(_, count)| count)
            .sum()
    }

    /// Requests per second over the whole run.
    pub fn requests_per_second(&self) -> f64 {
        self.n_requests as f64 / self.elapsed.as_secs_f64().max(0.001)
    }

    /// One line: `N requests in S s (R/s), statuses {200: N}, X 5xx, Y errors, p50 A ms, p90 B ms, p99 C ms, max D ms`.
    pub fn summary(&self) -> String {
        let statuses: Vec<String> = self
            .by_status
            .iter()
            .map(|(status, count)| format!("{status}: {count}"))
            .collect();
        format!(
            "{} requests in {:.1} s ({:.0}/s), statuses {{{}}}, {} 5xx, {} errors, p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            self.n_requests,
            self.elapsed.as_secs_f64(),
            self.requests_per_second(),
            statuses.join(", "),
            self.n_5xx(),
            self.n_errors,
            self.p50_ms,
            self.p90_ms,
            self.p99_ms,
            self.max_ms
        )
    }
}

/// The nearest-rank percentile `p` (0 to 100) of sorted latencies in microseconds, in milliseconds; 0 when empty.
pub fn percentile_ms(sorted_micros: &[u64], p: f64) -> f64 {
    if sorted_micros.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted_micros.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_micros.len()) - 1;
    sorted_micros[index] as f64 / 1000.0
}

/// Sends `request` to `address` from `options.connections` concurrent clients for `options.duration`.
pub async fn run_load(
    address: SocketAddr,
    request: &HttpRequest,
    options: LoadOptions,
) -> LoadResult {
    let started = Instant::now();
    let stop_at = started + options.duration;
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..options.connections.max(1) {
        let request = request.clone();
        let timeout = options.request_timeout;
        clients.spawn(async move {
            let mut latencies = Vec::new();
            let mut by_status: BTreeMap<u16, u64> = BTreeMap::new();
            let mut n_errors = 0u64;
            let mut first_error = None;
            let mut connection = None;
            while Instant::now() < stop_at {
                let sent = Instant::now();
                match exchange(&mut connection, address, &request, timeout).await {
                    Ok(response) => {
                        latencies.push(sent.elapsed().as_micros() as u64);
                        *by_status.entry(response.status).or_default() += 1;
                    }
                    Err(error) => {
                        n_errors += 1;
                        first_error.get_or_insert_with(|| error.to_string());
                    }
                }
            }
            (latencies, by_status, n_errors, first_error)
        });
    }
    let mut latencies = Vec::new();
    let mut by_status: BTreeMap<u16, u64> = BTreeMap::new();
    let mut n_errors = 0;
    let mut first_error = None;
    while let Some(joined) = clients.join_next().await {
        match joined {
            Ok((client_latencies, client_statuses, client_errors, client_first_error)) => {
                latencies.extend(client_latencies);
                for (status, count) in client_statuses {
                    *by_status.entry(status).or_default() += count;
                }
                n_errors += client_errors;
                if first_error.is_none() {
                    first_error = client_first_error;
                }
            }
            Err(error) => {
                n_errors += 1;
                first_error.get_or_insert_with(|| format!("a load client failed: {error}"));
            }
        }
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let n_answered: u64 = by_status.values().sum();
    LoadResult {
        n_requests: n_answered + n_errors,
        by_status,
        n_errors,
        first_error,
        elapsed,
        p50_ms: percentile_ms(&latencies, 50.0),
        p90_ms: percentile_ms(&latencies, 90.0),
        p99_ms: percentile_ms(&latencies, 99.0),
        max_ms: percentile_ms(&latencies, 100.0),
    }
}

/// One request on the client's kept-alive connection, opening a new one when there is none or the server closed
/// it; a failed request drops the connection. Connecting counts towards `timeout`.
async fn exchange(
    connection: &mut Option<Connection>,
    address: SocketAddr,
    request: &HttpRequest,
    timeout: Duration,
) -> Result<HttpResponse, HttpError> {
    let deadline = Instant::now() + timeout;
    if let Some(open) = connection.as_mut() {
        if !open.is_reusable().await {
            *connection = None;
        }
    }
    let open = match connection {
        Some(open) => open,
        None => {
            let opened = tokio::time::timeout(timeout, Connection::open(address))
                .await
                .unwrap_or_else(|_elapsed| {
                    Err(HttpError::Timeout {
                        address,
                        path: request.path.clone(),
                        timeout,
                    })
                })?;
            connection.insert(opened)
        }
    };
    let remaining = deadline.saturating_duration_since(Instant::now());
    let outcome = open.send(request, remaining).await;
    if outcome.is_err() {
        *connection = None;
    }
    outcome
}

/// Holds a bounded load of `GET /` through nginx (straight to the app without nginx) after the checks passed.
/// Returns one check, failed on any 5xx answer or any request without an answer, and the report's note.
pub(crate) async fn load_check(
    run: &RunContext<'_>,
    running: &Running,
    options: LoadOptions,
) -> (CheckResult, String) {
    let through = if running.nginx_address.is_some() {
        "nginx"
    } else {
        "the app"
    };
    let page = &run.config.smoke.page;
    let name = format!(
        "GET {page} through {through}, {} connections for {} s: no 5xx, no errors",
        options.connections,
        options.duration.as_secs()
    );
    run.progress.detail(&format!("load: {name}"));
    let started = Instant::now();
    let request = crate::checks::smoke_get(&run.config.smoke, page);
    let measured = run_load(running.front_address(), &request, options).await;
    let summary = measured.summary();
    run.progress.detail(&format!("load: {summary}"));
    let failure = (measured.n_5xx() > 0 || measured.n_errors > 0).then(|| {
        Failure::new("no 5xx answers and no failed requests", summary.clone())
            .with_detail(measured.first_error.clone().unwrap_or_default())
    });
    let note = format!(
        "load: GET {page} through {through}, {} connections, {} s: {summary}",
        options.connections,
        options.duration.as_secs()
    );
    (CheckResult::timed("load", &name, started, failure), note)
}
