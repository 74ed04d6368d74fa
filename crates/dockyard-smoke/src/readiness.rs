//! Readiness: the wait from starting the containers until the health endpoint answers 200 straight from the app,
//! then through nginx (straight only without nginx), probing every [`READY_POLL_INTERVAL`].
//!
//! The decisions are a pure state machine, [`step`] from one [`Readiness`] and an [`Event`] to the next; the
//! async loop ([`wait_until_ready`]) only reads the engine and the network and feeds what it saw in. An app or
//! nginx container that exited fails at once; past the startup timeout the wait gives up with the app's log tail.
//! The engine's own health status is awaited alongside the checks ([`wait_for_engine_health`]), not here.

use std::time::Duration;

use dockyard_engine::{ContainerState, HealthStatus};

use crate::http;
use crate::lifecycle::{self, Running};
use crate::report::Failure;
use crate::{CheckResult, RunContext, SmokeError};

/// How often readiness is probed over HTTP: the wait adds at most this (plus one request) after the app answers.
pub const READY_POLL_INTERVAL: Duration = Duration::from_millis(10);
/// How often a container's state is read while waiting (exits and engine health).
pub const STATE_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How often the engine's health status is read while the checks run.
const ENGINE_HEALTH_POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How long one readiness probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// The check that fails when the app never becomes healthy.
const HEALTHY_CHECK: &str = "app becomes healthy (engine health and HTTP)";

/// Where the next probe goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Straight to the app's published port.
    App,
    /// Through nginx's published port.
    Nginx,
}

/// Where the wait is. Times are counted from the start of the app container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// Still probing.
    Waiting(Waiting),
    /// The health endpoint answered 200 where it had to, `after` the start; `added_wait` is how much the wait
    /// itself added (from the last probe that found the app not ready, or the held answer, or the first probe).
    Ready {
        /// From the start to the answer that made it ready.
        after: Duration,
        /// The part of `after` the polling may have added.
        added_wait: Duration,
    },
    /// The app container exited (or died) before it answered.
    AppExited {
        /// Its exit code.
        exit_code: i64,
    },
    /// The nginx container exited (or died) while waiting.
    NginxExited {
        /// Its exit code.
        exit_code: i64,
    },
    /// A probe was refused with a 4xx other than 404: the app is up but will never accept the request as smoke
    /// sends it (`ALLOWED_HOSTS` without smoke's host answers 400), so the wait gives up at once.
    Refused {
        /// Where the probe went.
        target: Target,
        /// The status.
        status: u16,
        /// The body's first lines.
        body: String,
    },
    /// The startup timeout passed.
    TimedOut {
        /// The app's engine health last read.
        health: HealthStatus,
        /// The last answer to a probe (`HTTP 503`, or the error).
        last_answer: String,
    },
}

/// What the wait knows while still probing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// Where the next probe goes.
    pub target: Target,
    has_nginx: bool,
    deadline: Duration,
    health: HealthStatus,
    last_answer: String,
    first_probe: Option<Duration>,
    last_failed_probe: Option<Duration>,
    held_app_answer: Option<Duration>,
    app_state_read: Option<Duration>,
    nginx_state_read: Option<Duration>,
}

impl Waiting {
    /// Whether the app container's state should be read before the next probe (only until the app answered).
    pub fn app_state_due(&self, now: Duration) -> bool {
        self.target == Target::App && due(self.app_state_read, now)
    }

    /// Whether nginx's state should be read after a probe that failed.
    pub fn nginx_state_due(&self, now: Duration) -> bool {
        self.has_nginx && due(self.nginx_state_read, now)
    }
}

fn due(last_read: Option<Duration>, now: Duration) -> bool {
    last_read.is_none_or(|read| now.saturating_sub(read) >= STATE_POLL_INTERVAL)
}

/// What the loop saw. Times are counted from the start of the app container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The app container's state, read `at`.
    AppState {
        /// When it was read.
        at: Duration,
        /// What the engine said.
        state: ContainerState,
    },
    /// The nginx container's state, read `at`.
    NginxState {
        /// When it was read.
        at: Duration,
        /// What the engine said.
        state: ContainerState,
    },
    /// A probe sent at `sent` to [`Waiting::target`] came back at `answered`.
    Probed {
        /// When it was sent.
        sent: Duration,
        /// When its answer (or error) came.
        answered: Duration,
        /// What it found.
        outcome: Probe,
    },
    /// Time passed without an answer that decides: the deadline is checked.
    Tick {
        /// Now.
        now: Duration,
    },
}

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// The health endpoint answered 200.
    Healthy,
    /// A 4xx other than 404 (see [`is_refusal`]), with the body's first lines.
    Refused {
        /// The status.
        status: u16,
        /// The body's first lines.
        body: String,
    },
    /// Anything else: another status, or no answer (the text says which).
    NotReady(String),
}

/// How many lines of a refusal's body the failure shows.
const REFUSAL_BODY_LINES: usize = 5;

/// Whether `status` says the app is up and refuses the request itself: a 4xx other than 404 (a health route not
/// loaded yet) and 408/429 (transient). 5xx and nginx's 502/504 mean not up yet.
pub fn is_refusal(status: u16) -> bool {
    (400..500).contains(&status) && !matches!(status, 404 | 408 | 429)
}

impl Readiness {
    /// The start: probing the app, nothing read yet.
    pub fn start(has_nginx: bool, deadline: Duration) -> Readiness {
        Readiness::Waiting(Waiting {
            target: Target::App,
            has_nginx,
            deadline,
            health: HealthStatus::NoHealthcheck,
            last_answer: "none yet".to_owned(),
            first_probe: None,
            last_failed_probe: None,
            held_app_answer: None,
            app_state_read: None,
            nginx_state_read: None,
        })
    }

    /// The wait's facts while it is still probing.
    pub fn waiting(&self) -> Option<&Waiting> {
        match self {
            Readiness::Waiting(waiting) => Some(waiting),
            _ => None,
        }
    }
}

/// The next state after `event`. A decided state (ready, exited, timed out) stays as it is.
pub fn step(state: Readiness, event: Event) -> Readiness {
    let Readiness::Waiting(mut waiting) = state else {
        return state;
    };
    match event {
        Event::AppState { at, state } => {
            waiting.app_state_read = Some(at);
            if state.status.has_ended() {
                return Readiness::AppExited {
                    exit_code: state.exit_code,
                };
            }
            waiting.health = state.health;
        }
        Event::NginxState { at, state } => {
            waiting.nginx_state_read = Some(at);
            if state.status.has_ended() {
                return Readiness::NginxExited {
                    exit_code: state.exit_code,
                };
            }
        }
        Event::Probed {
            sent,
            answered,
            outcome,
        } => {
            waiting.first_probe.get_or_insert(sent);
            match outcome {
                Probe::Healthy if waiting.target == Target::Nginx || !waiting.has_nginx => {
                    let counted_from = waiting
                        .held_app_answer
                        .or(waiting.last_failed_probe)
                        .or(waiting.first_probe)
                        .unwrap_or_default();
                    return Readiness::Ready {
                        after: answered,
                        added_wait: answered.saturating_sub(counted_from),
                    };
                }
                Probe::Healthy => {
                    // Straight from the app: now through nginx. When the app held its 200 until it could answer
                    // (a slow probe), it answered as soon as it was ready: the added wait counts from that answer.
                    waiting.target = Target::Nginx;
                    if answered.saturating_sub(sent) > 2 * READY_POLL_INTERVAL {
                        waiting.held_app_answer = Some(answered);
                    }
                }
                Probe::Refused { status, body } => {
                    return Readiness::Refused {
                        target: waiting.target,
                        status,
                        body,
                    };
                }
                Probe::NotReady(answer) => {
                    waiting.last_answer = answer;
                    if waiting.target == Target::App {
                        waiting.last_failed_probe = Some(answered);
                    }
                }
            }
        }
        Event::Tick { now } => {
            if now > waiting.deadline {
                return Readiness::TimedOut {
                    health: waiting.health,
                    last_answer: waiting.last_answer,
                };
            }
        }
    }
    Readiness::Waiting(waiting)
}

/// Drives [`step`] against the running containers. Returns the time from container start to ready, or `None`
/// after recording the failure in `results`.
pub(crate) async fn wait_until_ready(
    run: &RunContext<'_>,
    running: &Running,
    results: &mut Vec<CheckResult>,
) -> Result<Option<Duration>, SmokeError> {
    let engine = run.engine;
    let config = run.config;
    let deadline = Duration::from_secs(config.smoke.startup_timeout_seconds);
    let request = crate::checks::smoke_get(&config.smoke, &config.app.health_path);
    let elapsed = || running.started.elapsed();
    let mut state = Readiness::start(running.nginx.is_some(), deadline);
    while let Some(waiting) = state.waiting() {
        if waiting.app_state_due(elapsed()) {
            let read = engine.container_state(&running.app).await?;
            state = step(
                state,
                Event::AppState {
                    at: elapsed(),
                    state: read,
                },
            );
            continue;
        }
        let address = match waiting.target {
            Target::App => running.app_address,
            Target::Nginx => running.front_address(),
        };
        let sent = elapsed();
        let outcome = match http::send(address, &request, PROBE_TIMEOUT).await {
            Ok(response) if response.status == 200 => Probe::Healthy,
            Ok(response) if is_refusal(response.status) => Probe::Refused {
                status: response.status,
                body: response
                    .body_text()
                    .lines()
                    .filter(|line| !line.trim().is_empty())
                    .take(REFUSAL_BODY_LINES)
                    .collect::<Vec<_>>()
                    .join("\n"),
            },
            Ok(response) => Probe::NotReady(format!("HTTP {}", response.status)),
            Err(error) => Probe::NotReady(error.to_string()),
        };
        let healthy = outcome == Probe::Healthy;
        state = step(
            state,
            Event::Probed {
                sent,
                answered: elapsed(),
                outcome,
            },
        );
        if healthy {
            // Ready, or on to nginx at once.
            continue;
        }
        // nginx with an invalid config exits at once, maybe only after its port was published: say so now, not
        // after the startup deadline. Read only after a probe that failed, so never on the ready path.
        if let (Some(nginx), Some(waiting)) = (&running.nginx, state.waiting()) {
            if waiting.nginx_state_due(elapsed()) {
                let read = engine.container_state(nginx).await?;
                state = step(
                    state,
                    Event::NginxState {
                        at: elapsed(),
                        state: read,
                    },
                );
            }
        }
        state = step(state, Event::Tick { now: elapsed() });
        if state.waiting().is_some() {
            tokio::time::sleep(READY_POLL_INTERVAL).await;
        }
    }
    let (name, container, failure) = match state {
        Readiness::Ready { after, added_wait } => {
            run.progress.detail(&format!(
                "ready: {} answered 200 after {} ms, {} ms after the previous probe that found it not ready (or the held answer; probing every {} ms)",
                config.app.health_path,
                after.as_millis(),
                added_wait.as_millis(),
                READY_POLL_INTERVAL.as_millis()
            ));
            return Ok(Some(after));
        }
        Readiness::AppExited { exit_code } => (
            "app starts and stays up",
            &running.app,
            Failure::new(
                "a running app container",
                format!("exited with code {exit_code}"),
            ),
        ),
        Readiness::NginxExited { exit_code } => (
            "nginx starts",
            running.nginx.as_ref().unwrap_or(&running.app),
            Failure::new(
                "a running nginx",
                format!("nginx exited with code {exit_code}"),
            ),
        ),
        Readiness::Refused {
            target,
            status,
            body,
        } => (
            HEALTHY_CHECK,
            &running.app,
            Failure::new(
                format!("{} answering 200", config.app.health_path),
                format!(
                    "HTTP {status} {} for Host `{}`: refused, not starting; gave up at once",
                    match target {
                        Target::App => "straight from the app",
                        Target::Nginx => "through nginx",
                    },
                    config.smoke.host
                ),
            )
            .with_detail(format!(
                "{body}\nhint: a 400 is Django refusing the Host (ALLOWED_HOSTS must accept `[smoke] host`, through \
                 `[app.env]`); a 403 or 401 means the health path needs no login and no CSRF; `[app] health_path` \
                 names another page"
            )),
        ),
        Readiness::TimedOut {
            health,
            last_answer,
        } => (
            HEALTHY_CHECK,
            &running.app,
            Failure::new(
                format!(
                    "healthy and {} answering 200 within {} s",
                    config.app.health_path,
                    deadline.as_secs()
                ),
                format!("engine health `{health}`, last answer: {last_answer}"),
            ),
        ),
        Readiness::Waiting(_) => unreachable!("the loop ends only on a decided state"),
    };
    let tail = lifecycle::log_tail_text(engine, container).await;
    // A refusal's detail (the body and a hint) comes before the log tail.
    let detail = if failure.detail.is_empty() {
        tail
    } else {
        format!("{}\n{tail}", failure.detail)
    };
    results.push(CheckResult::timed(
        lifecycle::GROUP,
        name,
        running.started,
        Some(failure.with_detail(detail)),
    ));
    Ok(None)
}

/// Waits until the engine reports the app container healthy (its HEALTHCHECK at the smoke interval), while the
/// HTTP checks run; records the lifecycle check either way.
pub(crate) async fn wait_for_engine_health(
    run: &RunContext<'_>,
    running: &Running,
) -> Result<CheckResult, SmokeError> {
    let engine = run.engine;
    let deadline = Duration::from_secs(run.config.smoke.startup_timeout_seconds);
    loop {
        let state = engine.container_state(&running.app).await?;
        if matches!(
            state.health,
            HealthStatus::NoHealthcheck | HealthStatus::Healthy
        ) {
            run.progress.detail(&format!(
                "engine health `healthy` after {} ms",
                running.started.elapsed().as_millis()
            ));
            return Ok(CheckResult::timed(
                lifecycle::GROUP,
                HEALTHY_CHECK,
                running.started,
                None,
            ));
        }
        if state.status.has_ended() || running.started.elapsed() > deadline {
            let tail = lifecycle::log_tail_text(engine, &running.app).await;
            let failure = Failure::new(
                format!("engine health `healthy` within {} s", deadline.as_secs()),
                format!("engine health `{}`, status {}", state.health, state.status),
            )
            .with_detail(tail);
            return Ok(CheckResult::timed(
                lifecycle::GROUP,
                HEALTHY_CHECK,
                running.started,
                Some(failure),
            ));
        }
        tokio::time::sleep(ENGINE_HEALTH_POLL_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use dockyard_engine::ContainerStatus;

    use super::*;

    /// A moment in the wait: `ms` after the start.
    fn at(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    fn container(status: ContainerStatus, exit_code: i64, health: HealthStatus) -> ContainerState {
        ContainerState {
            status,
            exit_code,
            health,
        }
    }

    fn probed(sent: u64, answered: u64, outcome: Probe) -> Event {
        Event::Probed {
            sent: at(sent),
            answered: at(answered),
            outcome,
        }
    }

    fn not_ready(answer: &str) -> Probe {
        Probe::NotReady(answer.to_owned())
    }

    /// Feeds `events` from the start (with or without nginx, a 1 s deadline) and compares the end state.
    fn check(has_nginx: bool, events: Vec<Event>, expected: Readiness) {
        let end = events
            .clone()
            .into_iter()
            .fold(Readiness::start(has_nginx, at(1_000)), step);
        assert_eq!(end, expected, "after {events:#?}");
    }

    #[test]
    fn ready_straight_from_the_app_without_nginx() {
        check(
            false,
            vec![
                probed(0, 2, not_ready("connection to ADDR refused")),
                probed(12, 14, not_ready("HTTP 503")),
                probed(24, 27, Probe::Healthy),
            ],
            Readiness::Ready {
                after: at(27),
                added_wait: at(13),
            },
        );
        check(
            false,
            vec![probed(5, 8, Probe::Healthy)],
            Readiness::Ready {
                after: at(8),
                added_wait: at(3),
            },
        );
    }

    #[test]
    fn with_nginx_the_app_answers_first_then_nginx_at_once() {
        let after_app = step(
            Readiness::start(true, at(1_000)),
            probed(0, 3, Probe::Healthy),
        );
        assert_eq!(
            after_app.waiting().map(|waiting| waiting.target),
            Some(Target::Nginx)
        );
        check(
            true,
            vec![
                probed(0, 2, not_ready("HTTP 503")),
                probed(12, 15, Probe::Healthy),
                probed(15, 18, Probe::Healthy),
            ],
            Readiness::Ready {
                after: at(18),
                added_wait: at(16),
            },
        );
        // A failed probe through nginx does not move the point the added wait counts from.
        check(
            true,
            vec![
                probed(0, 2, not_ready("HTTP 503")),
                probed(12, 15, Probe::Healthy),
                probed(15, 16, not_ready("HTTP 502")),
                probed(26, 28, Probe::Healthy),
            ],
            Readiness::Ready {
                after: at(28),
                added_wait: at(26),
            },
        );
    }

    #[test]
    fn a_held_app_answer_counts_the_added_wait_from_that_answer() {
        check(
            true,
            vec![
                probed(0, 2, not_ready("HTTP 503")),
                probed(12, 400, Probe::Healthy),
                probed(400, 404, Probe::Healthy),
            ],
            Readiness::Ready {
                after: at(404),
                added_wait: at(4),
            },
        );
    }

    #[test]
    fn an_exited_container_fails_at_once() {
        let exited =
            |exit_code| container(ContainerStatus::Exited, exit_code, HealthStatus::Starting);
        check(
            true,
            vec![
                Event::AppState {
                    at: at(0),
                    state: container(ContainerStatus::Running, 0, HealthStatus::Starting),
                },
                probed(0, 1, not_ready("connection to ADDR refused")),
                Event::AppState {
                    at: at(100),
                    state: exited(3),
                },
                probed(101, 102, Probe::Healthy),
            ],
            Readiness::AppExited { exit_code: 3 },
        );
        check(
            true,
            vec![
                probed(0, 1, not_ready("HTTP 502")),
                Event::NginxState {
                    at: at(1),
                    state: container(ContainerStatus::Dead, 1, HealthStatus::NoHealthcheck),
                },
            ],
            Readiness::NginxExited { exit_code: 1 },
        );
    }

    #[test]
    fn past_the_deadline_the_wait_gives_up_with_the_last_answer_and_health() {
        check(
            false,
            vec![
                Event::AppState {
                    at: at(0),
                    state: container(ContainerStatus::Running, 0, HealthStatus::Unhealthy),
                },
                probed(0, 5, not_ready("HTTP 503")),
                Event::Tick { now: at(1_000) },
                probed(990, 1_001, not_ready("HTTP 500")),
                Event::Tick { now: at(1_001) },
                probed(1_011, 1_012, Probe::Healthy),
            ],
            Readiness::TimedOut {
                health: HealthStatus::Unhealthy,
                last_answer: "HTTP 500".to_owned(),
            },
        );
    }

    #[test]
    fn container_states_are_read_at_most_every_poll_interval() {
        let mut state = Readiness::start(true, at(1_000));
        let waiting = |state: &Readiness| state.waiting().cloned().unwrap();
        assert!(waiting(&state).app_state_due(at(0)));
        assert!(waiting(&state).nginx_state_due(at(0)));
        let running = container(ContainerStatus::Running, 0, HealthStatus::Starting);
        state = step(
            state,
            Event::AppState {
                at: at(0),
                state: running.clone(),
            },
        );
        state = step(
            state,
            Event::NginxState {
                at: at(0),
                state: running,
            },
        );
        for (now, due) in [(50, false), (99, false), (100, true), (250, true)] {
            assert_eq!(
                waiting(&state).app_state_due(at(now)),
                due,
                "app at {now} ms"
            );
            assert_eq!(
                waiting(&state).nginx_state_due(at(now)),
                due,
                "nginx at {now} ms"
            );
        }
        // Once the app answered, only nginx's state matters.
        state = step(state, probed(150, 151, Probe::Healthy));
        assert!(!waiting(&state).app_state_due(at(500)));
        assert!(!Readiness::start(false, at(1_000))
            .waiting()
            .unwrap()
            .nginx_state_due(at(0)));
    }

    #[test]
    fn a_refusal_gives_up_at_once_and_404_or_5xx_keep_waiting() {
        assert!(is_refusal(400) && is_refusal(403) && is_refusal(401));
        assert!(!is_refusal(404) && !is_refusal(429) && !is_refusal(503) && !is_refusal(502));
        let probed = |outcome: Probe| Event::Probed {
            sent: at(10),
            answered: at(20),
            outcome,
        };
        let state = step(
            Readiness::start(true, at(60_000)),
            probed(Probe::NotReady("HTTP 404".to_owned())),
        );
        assert!(state.waiting().is_some());
        let state = step(
            state,
            probed(Probe::Refused {
                status: 400,
                body: "Bad Request (400)".to_owned(),
            }),
        );
        assert_eq!(
            state,
            Readiness::Refused {
                target: Target::App,
                status: 400,
                body: "Bad Request (400)".to_owned(),
            }
        );
    }
}
