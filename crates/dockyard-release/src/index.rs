//! Images of several platforms in a registry: one image index (a manifest list) per tag, written by Dockyard over
//! the registry's HTTP API (the engine pushes single-platform images only), its entries the manifests the engine
//! pushed for each platform, its digest read back.
//!
//! The registry client is `oci-client` (the OCI distribution protocol with token authentication, over rustls with
//! the system's trust store). Registries on a loopback address are spoken to in plain HTTP, as the engine does.

use std::collections::BTreeMap;
use std::sync::Once;
use std::time::{Duration, Instant};

use dockyard_engine::{Engine, RegistryCredentials};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use serde::Serialize;

use crate::manifest::ReleasedImage;
use crate::publish::{Pusher, RetryPolicy};
use crate::{Progress, ReleaseError};

/// A single-platform image manifest in Docker's format (what the engine pushes).
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// A single-platform image manifest in the OCI format.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker's manifest list: the index of Docker-format manifests (what `docker manifest push` writes).
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// The OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// One platform's manifest in the registry, as an index entry names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformManifest {
    /// The OCI platform, `linux/arm64` (`os/architecture[/variant]`).
    pub platform: String,
    /// Its manifest digest, `sha256:...`.
    pub digest: String,
    /// Its manifest's media type.
    pub media_type: String,
    /// Its manifest's size in bytes.
    pub size: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IndexDocument<'a> {
    schema_version: u32,
    media_type: &'a str,
    manifests: Vec<IndexEntry<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IndexEntry<'a> {
    media_type: &'a str,
    size: u64,
    digest: &'a str,
    platform: EntryPlatform<'a>,
}

#[derive(Serialize)]
struct EntryPlatform<'a> {
    architecture: &'a str,
    os: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'a str>,
}

/// The index of `manifests`, in their order, and its media type: Docker's manifest list when every entry is a
/// Docker-format manifest (what engines and registries have read the longest), else an OCI index.
pub fn index_document(manifests: &[PlatformManifest]) -> (Vec<u8>, &'static str) {
    let media_type = if manifests
        .iter()
        .all(|manifest| manifest.media_type == DOCKER_MANIFEST)
    {
        DOCKER_MANIFEST_LIST
    } else {
        OCI_INDEX
    };
    let document = IndexDocument {
        schema_version: 2,
        media_type,
        manifests: manifests
            .iter()
            .map(|manifest| {
                let mut parts = manifest.platform.splitn(3, '/');
                let os = parts.next().unwrap_or_default();
                let architecture = parts.next().unwrap_or_default();
                IndexEntry {
                    media_type: &manifest.media_type,
                    size: manifest.size,
                    digest: &manifest.digest,
                    platform: EntryPlatform {
                        architecture,
                        os,
                        variant: parts.next(),
                    },
                }
            })
            .collect(),
    };
    let body = serde_json::to_vec_pretty(&document).expect("an index serializes");
    (body, media_type)
}

/// Whether a registry host (`127.0.0.1:5000`, `localhost:5000`, `[::1]:5000`) is a loopback address, which the
/// engine speaks to in plain HTTP.
pub fn is_loopback_registry(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

/// A client of one registry, with the release's credentials.
pub struct RegistryClient {
    client: Client,
    auth: RegistryAuth,
}

impl RegistryClient {
    /// A client of `host` (the registry part of the repositories), plain HTTP for a loopback one.
    pub fn new(host: &str, credentials: Option<&RegistryCredentials>) -> RegistryClient {
        static CRYPTO: Once = Once::new();
        // rustls needs one process-wide crypto provider; ring is the one the workspace builds.
        #[allow(
            deprecated,
            reason = "ring lacks post-quantum key exchange, which writing a manifest does not need; aws-lc-rs would add a C build of minutes to every CI run"
        )]
        CRYPTO.call_once(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
        let protocol = if is_loopback_registry(host) {
            ClientProtocol::HttpsExcept(vec![host.to_owned()])
        } else {
            ClientProtocol::Https
        };
        let client = Client::new(ClientConfig {
            protocol,
            connect_timeout: Some(Duration::from_secs(30)),
            read_timeout: Some(Duration::from_secs(120)),
            ..ClientConfig::default()
        });
        let auth = match credentials {
            Some(credentials) => {
                RegistryAuth::Basic(credentials.username.clone(), credentials.password.clone())
            }
            None => RegistryAuth::Anonymous,
        };
        RegistryClient { client, auth }
    }

    /// The media type and size of the manifest `digest` in `repository`, read from the registry.
    pub async fn manifest(
        &self,
        repository: &str,
        digest: &str,
        platform: &str,
    ) -> Result<PlatformManifest, ReleaseError> {
        let reference = parse(&format!("{repository}@{digest}"))?;
        let (body, read) = self
            .client
            .pull_manifest_raw(&reference, &self.auth, &[DOCKER_MANIFEST, OCI_MANIFEST])
            .await
            .map_err(|error| registry_error(&reference, 1, &error))?;
        if read != digest {
            return Err(ReleaseError::PushFailed {
                reference: reference.whole(),
                attempts: 1,
                message: format!("the registry answers {read} for {digest}"),
            });
        }
        let media_type = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|value| value["mediaType"].as_str().map(str::to_owned))
            .unwrap_or_else(|| OCI_MANIFEST.to_owned());
        Ok(PlatformManifest {
            platform: platform.to_owned(),
            digest: digest.to_owned(),
            media_type,
            size: body.len() as u64,
        })
    }

    /// Writes `body` (an index of `media_type`) as `reference`, retrying as pushes do, and checks that the registry
    /// answers its digest for the tag. Returns the digest.
    pub async fn put_index(
        &self,
        reference: &str,
        body: &[u8],
        media_type: &'static str,
        retry: RetryPolicy,
        progress: &dyn Progress,
    ) -> Result<String, ReleaseError> {
        let parsed = parse(reference)?;
        let digest = format!("sha256:{}", dockyard_context::sha256_hex(body));
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            // A token for pushing: the first request asks the registry's token service when it has one.
            let put = async {
                self.client
                    .auth(&parsed, &self.auth, RegistryOperation::Push)
                    .await?;
                self.client
                    .push_manifest_raw(
                        &parsed,
                        body.to_vec(),
                        http::HeaderValue::from_static(media_type),
                    )
                    .await
            };
            let error = match put.await {
                Ok(_) => break,
                Err(error) => error,
            };
            let permanent = matches!(
                error,
                OciDistributionError::AuthenticationFailure(_)
                    | OciDistributionError::UnauthorizedError { .. }
            );
            if permanent || attempt >= retry.attempts {
                return Err(registry_error(&parsed, attempt, &error));
            }
            let wait = retry.wait_after(attempt);
            progress.warning(&format!(
                "writing the index {reference} failed (attempt {attempt} of {}): {error}; retrying in {} ms",
                retry.attempts,
                wait.as_millis()
            ));
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
        let read_back = self
            .client
            .fetch_manifest_digest(&parsed, &self.auth)
            .await
            .map_err(|error| registry_error(&parsed, 1, &error))?;
        if read_back != digest {
            return Err(ReleaseError::PushFailed {
                reference: reference.to_owned(),
                attempts: attempt,
                message: format!(
                    "the index written is {digest}, but the registry answers {read_back}"
                ),
            });
        }
        progress.done(
            "push",
            started,
            &format!(
                "{reference} {digest} (an index, attempt {attempt} of {})",
                retry.attempts
            ),
        );
        Ok(digest)
    }
}

/// An index of one image's platforms, ready to be written under each of its tags.
pub(crate) struct PushedIndex {
    body: Vec<u8>,
    media_type: &'static str,
}

impl PushedIndex {
    /// Writes the index as `reference` (`REPOSITORY:TAG`) and returns its digest, read back.
    pub(crate) async fn put(
        &self,
        client: &RegistryClient,
        pusher: &Pusher<'_>,
        reference: &str,
    ) -> Result<String, ReleaseError> {
        client
            .put_index(
                reference,
                &self.body,
                self.media_type,
                pusher.retry,
                pusher.progress,
            )
            .await
    }
}

/// The tag of a platform's own image beside `tag`: `1.0.0` on `linux/arm64` is `1.0.0-arm64`.
pub fn platform_tag(tag: &str, platform: &str) -> String {
    let architecture: Vec<&str> = platform.split('/').skip(1).collect();
    format!("{tag}-{}", architecture.join("-"))
}

/// Pushes each platform's image of `image` as `REPOSITORY:TAG-ARCH` (its first tag), reads back each manifest
/// digest into `image.platforms`, and returns the index listing them, which is not written yet.
pub(crate) async fn push_platforms(
    pusher: &Pusher<'_>,
    platform_engines: &BTreeMap<String, Engine>,
    client: &RegistryClient,
    image: &mut ReleasedImage,
) -> Result<PushedIndex, ReleaseError> {
    let tag = image
        .tags
        .first()
        .cloned()
        .unwrap_or_else(|| "latest".to_owned());
    let mut manifests = Vec::with_capacity(image.platforms.len());
    for platform in &mut image.platforms {
        let reference = format!(
            "{}:{}",
            image.repository,
            platform_tag(&tag, &platform.platform)
        );
        // A platform with its own engine pushes from there, into the same repository.
        let pusher = match platform_engines.get(&platform.platform) {
            Some(engine) => pusher.on(engine),
            None => pusher.on(pusher.engine),
        };
        pusher
            .engine
            .tag_image(&platform.image_id, &reference)
            .await?;
        let digest = pusher.push_and_verify(&reference).await?;
        manifests.push(
            client
                .manifest(&image.repository, &digest, &platform.platform)
                .await?,
        );
        platform.reference = Some(reference);
        platform.digest = Some(digest);
    }
    let (body, media_type) = index_document(&manifests);
    Ok(PushedIndex { body, media_type })
}

fn parse(reference: &str) -> Result<Reference, ReleaseError> {
    reference
        .parse::<Reference>()
        .map_err(|error| ReleaseError::PushFailed {
            reference: reference.to_owned(),
            attempts: 1,
            message: format!("not an image reference: {error}"),
        })
}

fn registry_error(
    reference: &Reference,
    attempts: u32,
    error: &OciDistributionError,
) -> ReleaseError {
    ReleaseError::PushFailed {
        reference: reference.whole(),
        attempts,
        message: format!("the registry's API: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(platform: &str, media_type: &str) -> PlatformManifest {
        PlatformManifest {
            platform: platform.to_owned(),
            digest: format!("sha256:{}", "ab".repeat(32)),
            media_type: media_type.to_owned(),
            size: 1234,
        }
    }

    #[test]
    fn docker_manifests_make_a_manifest_list_with_their_platforms() {
        let (body, media_type) = index_document(&[
            manifest("linux/amd64", DOCKER_MANIFEST),
            manifest("linux/arm64", DOCKER_MANIFEST),
        ]);
        assert_eq!(media_type, DOCKER_MANIFEST_LIST);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["schemaVersion"], 2);
        assert_eq!(value["mediaType"], DOCKER_MANIFEST_LIST);
        assert_eq!(value["manifests"][1]["platform"]["architecture"], "arm64");
        assert_eq!(value["manifests"][1]["platform"]["os"], "linux");
        assert!(value["manifests"][1]["platform"].get("variant").is_none());
        assert_eq!(value["manifests"][0]["size"], 1234);
    }

    #[test]
    fn an_oci_manifest_among_them_makes_an_oci_index_and_variants_are_kept() {
        let (body, media_type) = index_document(&[
            manifest("linux/amd64", DOCKER_MANIFEST),
            manifest("linux/arm/v7", OCI_MANIFEST),
        ]);
        assert_eq!(media_type, OCI_INDEX);
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["manifests"][1]["platform"]["variant"], "v7");
        assert_eq!(value["manifests"][1]["mediaType"], OCI_MANIFEST);
    }

    #[test]
    fn a_platform_s_tag_names_its_architecture_and_variant() {
        assert_eq!(platform_tag("1.0.0", "linux/arm64"), "1.0.0-arm64");
        assert_eq!(platform_tag("latest", "linux/arm/v7"), "latest-arm-v7");
    }

    #[test]
    fn loopback_registries_are_recognised() {
        for host in [
            "127.0.0.1:5000",
            "localhost:5000",
            "[::1]:5000",
            "127.0.0.2",
        ] {
            assert!(is_loopback_registry(host), "{host}");
        }
        for host in [
            "ghcr.io",
            "10.0.0.1:5000",
            "registry.example.com:443",
            "localhost.example.com",
        ] {
            assert!(!is_loopback_registry(host), "{host}");
        }
    }
}
