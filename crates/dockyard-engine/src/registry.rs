//! Registries, through the engine: push a tag, ask the registry which manifest a tag names, pull with credentials,
//! and classify push failures for retries.
//!
//! The engine talks to the registry; Dockyard only hands it the credentials (bollard never reads
//! `~/.docker/config.json`, so the pipeline resolves them and passes them here).

use std::fmt;

use bollard::auth::DockerCredentials;
use bollard::query_parameters::{CreateImageOptionsBuilder, PushImageOptionsBuilder};
use futures_util::StreamExt;

use crate::images::split_reference;
use crate::{Engine, EngineError};

/// Credentials for one registry, as Dockyard resolved them (never logged).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RegistryCredentials {
    /// The user name (for some registries a fixed name such as `AWS` or `oauth2accesstoken`).
    pub username: String,
    /// The password or access token.
    pub password: String,
    /// The registry the credentials are for: a host (`ghcr.io`, `127.0.0.1:5000`) or, for Docker Hub,
    /// `https://index.docker.io/v1/`.
    pub server_address: String,
}

impl fmt::Debug for RegistryCredentials {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("RegistryCredentials")
            .field("username", &self.username)
            .field(
                "password",
                &if self.password.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .field("server_address", &self.server_address)
            .finish()
    }
}

impl RegistryCredentials {
    fn to_docker(&self) -> DockerCredentials {
        DockerCredentials {
            username: Some(self.username.clone()),
            password: Some(self.password.clone()),
            serveraddress: (!self.server_address.is_empty()).then(|| self.server_address.clone()),
            ..DockerCredentials::default()
        }
    }
}

/// Why a push failed, classified for retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushFailureKind {
    /// Worth retrying: the registry answered 5xx or 429 (`toomanyrequests`), or the connection to it was
    /// refused, reset or timed out.
    Transient,
    /// Retrying will not help: denied or unauthorized, unknown name, invalid manifest, unknown host, a failure
    /// of the engine itself, and anything not known to be transient.
    Permanent,
}

impl Engine {
    /// Pushes `reference` (`host[:port]/repository:tag`) once; returns the pushed manifest digest (`sha256:...`),
    /// read from the push stream's final status line (`TAG: digest: sha256:... size: N`).
    ///
    /// `credentials` go to the engine as `X-Registry-Auth`; `None` pushes anonymously.
    /// Registry failures arrive inside the stream and become [`EngineError::Stream`] naming the reference;
    /// [`EngineError::push_failure_kind`] says whether a retry may help.
    pub async fn push_image(
        &self,
        reference: &str,
        credentials: Option<&RegistryCredentials>,
        on_line: &mut (dyn FnMut(&str) + Send),
    ) -> Result<String, EngineError> {
        let operation = format!("pushing {reference}");
        if reference.contains('@') {
            return Err(EngineError::Other {
                operation,
                message: "a push needs a tag, not a digest".to_owned(),
            });
        }
        let (repository, tag) = split_reference(reference);
        let options = PushImageOptionsBuilder::default().tag(tag).build();
        let mut stream = self.docker.push_image(
            repository,
            Some(options),
            credentials.map(RegistryCredentials::to_docker),
        );
        let mut digest = None;
        let mut last_retry_seconds = None;
        while let Some(item) = stream.next().await {
            let info = match item {
                Ok(info) => info,
                // bollard 0.21 can report a spurious JSON error at the very end of a stream (#560):
                // once the registry has acknowledged the manifest, the push is done.
                Err(bollard::errors::Error::JsonDataError { .. }) if digest.is_some() => break,
                Err(error) => return Err(self.engine_error(operation, error)),
            };
            if let Some(status) = info.status {
                if let Some(found) = digest_from_push_status(&status) {
                    digest = Some(found);
                }
                // The engine retries failed layer uploads itself, counting down once a second: show each wait once.
                let retry_seconds = retry_countdown(&status);
                let repeated_countdown = matches!(
                    (retry_seconds, last_retry_seconds),
                    (Some(now), Some(before)) if now < before
                );
                last_retry_seconds = retry_seconds;
                if is_summary_line(info.progress_detail.as_ref()) && !repeated_countdown {
                    on_line(&status);
                }
            }
        }
        digest.ok_or_else(|| EngineError::Other {
            operation,
            message: "the push finished without the registry reporting a manifest digest"
                .to_owned(),
        })
    }

    /// The manifest digest (`sha256:...`) the registry holds for `reference` right now, asked through the engine
    /// (`GET /distribution/{name}/json`); `Ok(None)` when the registry says the tag or repository does not exist.
    pub async fn registry_digest(
        &self,
        reference: &str,
        credentials: Option<&RegistryCredentials>,
    ) -> Result<Option<String>, EngineError> {
        let operation = format!("asking the registry for {reference}");
        match self
            .docker
            .inspect_registry_image(reference, credentials.map(RegistryCredentials::to_docker))
            .await
        {
            Ok(inspect) => match inspect.descriptor.digest {
                Some(digest) if digest.starts_with("sha256:") => Ok(Some(digest)),
                other => Err(EngineError::Other {
                    operation,
                    message: format!(
                        "the registry answered without a sha256 manifest digest ({})",
                        other.as_deref().unwrap_or("none")
                    ),
                }),
            },
            Err(error) => {
                let error = self.engine_error(operation, error);
                if is_unknown_manifest(&error) {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    /// Pulls `reference` (`repo:tag` or `repo@sha256:...`) from its registry with `credentials`
    /// (`None`: anonymously), reporting progress lines.
    pub async fn pull_image_with_credentials(
        &self,
        reference: &str,
        credentials: Option<&RegistryCredentials>,
        on_line: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), EngineError> {
        let (repository, tag_or_digest) = split_pull_reference(reference);
        let options = CreateImageOptionsBuilder::default()
            .from_image(repository)
            .tag(tag_or_digest)
            .build();
        let operation = format!("pulling {reference}");
        let mut stream = self.docker.create_image(
            Some(options),
            None,
            credentials.map(RegistryCredentials::to_docker),
        );
        while let Some(item) = stream.next().await {
            let info = match item {
                Ok(info) => info,
                // The spurious end-of-stream JSON error of bollard 0.21 (#560): trust the image if it is there.
                Err(error @ bollard::errors::Error::JsonDataError { .. }) => {
                    if self.image(reference).await?.is_some() {
                        return Ok(());
                    }
                    return Err(self.engine_error(operation, error));
                }
                Err(error) => return Err(self.engine_error(operation, error)),
            };
            if let Some(status) = info.status {
                if info.progress_detail.is_none() || info.id.is_none() {
                    on_line(&status);
                }
            }
        }
        Ok(())
    }
}

impl EngineError {
    /// Whether retrying the push (or the registry query) that failed with this error may help.
    ///
    /// A failure of the engine itself ([`EngineError::Unreachable`], [`EngineError::ConnectionLost`]) is not a push
    /// failure: it is [`PushFailureKind::Permanent`] here, and [`EngineError::is_unreachable`] tells it apart.
    /// The engine answers 500 for most registry failures, so for [`EngineError::Api`] the message decides first;
    /// 429, 502, 503 and 504 are transient whatever the message.
    pub fn push_failure_kind(&self) -> PushFailureKind {
        match self {
            EngineError::Unreachable { .. }
            | EngineError::ConnectionLost { .. }
            | EngineError::Io { .. } => PushFailureKind::Permanent,
            EngineError::Api {
                status, message, ..
            } => classify_registry_message(message).unwrap_or(
                if matches!(status, 429 | 502 | 503 | 504) {
                    PushFailureKind::Transient
                } else {
                    PushFailureKind::Permanent
                },
            ),
            EngineError::Stream { message, .. } | EngineError::Other { message, .. } => {
                classify_registry_message(message).unwrap_or(PushFailureKind::Permanent)
            }
        }
    }
}

/// Fragments of registry and transport messages (lowercase) that say retrying will not help. Checked first.
const PERMANENT_MARKERS: &[&str] = &[
    "no such host",
    "unauthorized",
    "authentication required",
    "no basic auth credentials",
    "denied",
    "forbidden",
    "name unknown",
    "name_unknown",
    "manifest invalid",
    "manifest_invalid",
    "blob unknown to registry",
    "does not exist locally",
    "invalid reference format",
    "server gave http response to https client",
    "x509:",
    "certificate",
];

/// Fragments that say the registry or the network to it failed for now.
const TRANSIENT_MARKERS: &[&str] = &[
    "toomanyrequests",
    "too many requests",
    "received unexpected http status: 5",
    "internal server error",
    "bad gateway",
    "service unavailable",
    "gateway timeout",
    "connection refused",
    "connection reset",
    "broken pipe",
    "timeout",
    "timed out",
    "deadline exceeded",
    "unexpected eof",
    "network is unreachable",
    "no route to host",
    "temporary failure in name resolution",
];

/// Classifies a registry failure by its message; `None` when the message says nothing known.
fn classify_registry_message(message: &str) -> Option<PushFailureKind> {
    let message = message.to_ascii_lowercase();
    if PERMANENT_MARKERS
        .iter()
        .any(|marker| message.contains(marker))
    {
        Some(PushFailureKind::Permanent)
    } else if TRANSIENT_MARKERS
        .iter()
        .any(|marker| message.contains(marker))
    {
        Some(PushFailureKind::Transient)
    } else {
        None
    }
}

/// True when the engine reports that the registry has no such tag or repository.
fn is_unknown_manifest(error: &EngineError) -> bool {
    match error {
        EngineError::Api {
            status, message, ..
        } => {
            let message = message.to_ascii_lowercase();
            *status == 404
                || message.contains("manifest unknown")
                || message.contains("name unknown")
                || message.contains("not found")
        }
        _ => false,
    }
}

/// Reads the manifest digest from a push status line: `1: digest: sha256:<64 hex> size: 528`.
fn digest_from_push_status(status: &str) -> Option<String> {
    let (_, rest) = status.split_once("digest: ")?;
    let digest = rest.split_whitespace().next()?;
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|byte| byte.is_ascii_hexdigit())).then(|| digest.to_owned())
}

/// The `N` of the engine's `Retrying in N seconds` status lines.
fn retry_countdown(status: &str) -> Option<u64> {
    status
        .strip_prefix("Retrying in ")?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

/// True for status lines worth showing: not the byte counts of a layer in flight.
fn is_summary_line(detail: Option<&bollard::models::ProgressDetail>) -> bool {
    detail.is_none_or(|detail| detail.current.is_none() && detail.total.is_none())
}

/// Splits `repo@sha256:...` into `("repo", "sha256:...")` and `repo:tag` like [`split_reference`].
fn split_pull_reference(reference: &str) -> (&str, &str) {
    match reference.split_once('@') {
        Some((repository, digest)) => (repository, digest),
        None => split_reference(reference),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:3b1c0cbd5e06c0ea7a1c7f5d3d3b66dd2c8e1f0b4b2f5a9e6f7d8c9b0a1b2c3d";

    #[test]
    fn the_digest_is_read_from_the_final_push_status() {
        assert_eq!(
            digest_from_push_status(&format!("1: digest: {DIGEST} size: 528")).as_deref(),
            Some(DIGEST)
        );
        assert_eq!(
            digest_from_push_status(&format!("latest: digest: {DIGEST} size: 1570")).as_deref(),
            Some(DIGEST)
        );
        for status in [
            "The push refers to repository [127.0.0.1:5055/probe]",
            "Preparing",
            "Pushed",
            "Layer already exists",
            "1: digest: sha256:abc size: 528",
            "1: digest: sha512:0000 size: 528",
            "digest: ",
        ] {
            assert_eq!(digest_from_push_status(status), None, "{status}");
        }
    }

    #[test]
    fn retry_countdowns_are_recognised() {
        assert_eq!(retry_countdown("Retrying in 5 seconds"), Some(5));
        assert_eq!(retry_countdown("Retrying in 1 second"), Some(1));
        assert_eq!(retry_countdown("Pushed"), None);
    }

    fn stream(message: &str) -> EngineError {
        EngineError::Stream {
            operation: "pushing 127.0.0.1:5055/probe:1".to_owned(),
            message: message.to_owned(),
        }
    }

    fn api(status: u16, message: &str) -> EngineError {
        EngineError::Api {
            operation: "asking the registry for 127.0.0.1:5055/probe:1".to_owned(),
            status,
            message: message.to_owned(),
        }
    }

    #[test]
    fn registry_failures_are_classified_for_retries() {
        use PushFailureKind::{Permanent, Transient};
        let cases = [
            (stream("Put \"http://127.0.0.1:5055/v2/probe/manifests/1\": dial tcp 127.0.0.1:5055: connect: connection refused"), Transient),
            (stream("read tcp 10.0.0.2:40000->10.0.0.1:443: read: connection reset by peer"), Transient),
            (stream("received unexpected HTTP status: 502 Bad Gateway"), Transient),
            (stream("received unexpected HTTP status: 500 Internal Server Error"), Transient),
            (stream("toomanyrequests: You have reached your pull rate limit."), Transient),
            (stream("net/http: TLS handshake timeout"), Transient),
            (stream("Get \"https://ghcr.io/v2/\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)"), Transient),
            (stream("unexpected EOF"), Transient),
            (stream("unauthorized: authentication required"), Permanent),
            (stream("denied: requested access to the resource is denied"), Permanent),
            (stream("no basic auth credentials"), Permanent),
            (stream("tag does not exist: 127.0.0.1:5056/probe:3"), Permanent),
            (stream("received unexpected HTTP status: 503 Service Unavailable"), Transient),
            (api(429, "toomanyrequests: slow down"), Transient),
            (api(500, "received unexpected HTTP status: 503 Service Unavailable"), Transient),
            (api(500, "Head \"http://127.0.0.1:5056/v2/probe/manifests/1\": no basic auth credentials"), Permanent),
            (stream("name unknown: repository name not known to registry"), Permanent),
            (stream("manifest invalid: manifest invalid"), Permanent),
            (stream("Get \"https://nonexistent.invalid/v2/\": dial tcp: lookup nonexistent.invalid on 127.0.0.53:53: no such host"), Permanent),
            (stream("An image does not exist locally with the tag: 127.0.0.1:5055/probe"), Permanent),
            (stream("something nobody has seen before"), Permanent),
            (api(500, "Get \"http://127.0.0.1:5055/v2/\": dial tcp 127.0.0.1:5055: connect: connection refused"), Transient),
            (api(500, "errors:\ndenied: requested access to the resource is denied\n"), Permanent),
            (api(503, "registry is down"), Transient),
            (api(429, "slow down"), Transient),
            (api(500, "something else"), Permanent),
            (api(401, "unauthorized"), Permanent),
            (
                EngineError::Unreachable {
                    host: "unix:///var/run/docker.sock".to_owned(),
                    reason: "connection refused".to_owned(),
                },
                Permanent,
            ),
            (
                EngineError::ConnectionLost {
                    operation: "pushing x".to_owned(),
                    host: "unix:///var/run/docker.sock".to_owned(),
                    reason: "timed out".to_owned(),
                },
                Permanent,
            ),
        ];
        for (error, kind) in cases {
            assert_eq!(error.push_failure_kind(), kind, "{error}");
        }
    }

    #[test]
    fn unknown_tags_and_repositories_are_not_errors() {
        assert!(is_unknown_manifest(&api(404, "manifest unknown")));
        assert!(is_unknown_manifest(&api(
            500,
            "errors:\nmanifest unknown: manifest unknown\n"
        )));
        assert!(!is_unknown_manifest(&api(500, "connection refused")));
        assert!(!is_unknown_manifest(&stream("manifest unknown")));
    }

    #[test]
    fn pull_references_split_at_the_digest_or_the_tag() {
        assert_eq!(
            split_pull_reference(&format!("127.0.0.1:5055/probe@{DIGEST}")),
            ("127.0.0.1:5055/probe", DIGEST)
        );
        assert_eq!(
            split_pull_reference("127.0.0.1:5055/probe:1"),
            ("127.0.0.1:5055/probe", "1")
        );
    }

    #[test]
    fn debug_redacts_the_password() {
        let credentials = RegistryCredentials {
            username: "ci".to_owned(),
            password: "hunter2".to_owned(),
            server_address: "ghcr.io".to_owned(),
        };
        let debug = format!("{credentials:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("<redacted>") && debug.contains("ci") && debug.contains("ghcr.io"));
    }
}
