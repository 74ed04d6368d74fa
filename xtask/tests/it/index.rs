//! The image index a multi-platform release writes, against a real registry and the failing proxy: written through
//! transient errors with the release's retries, and a registry that keeps failing ends it naming the reference.
//! Two one-file images (amd64 and arm64 configurations) stand in for a project's platforms: the index is the part
//! under test, and the platforms test (`platforms.rs`) releases real ones.

use std::time::{Duration, Instant};

use dockyard_release::attachments::{write_attachment_image, AttachmentKind};
use dockyard_release::index::{index_document, RegistryClient, DOCKER_MANIFEST_LIST};
use dockyard_release::{Progress, ReleaseError, RetryPolicy};

use crate::registry::LocalRegistry;
use crate::registry_proxy::FailingProxy;
use crate::support::{engine_or_skip, runtime};

/// Progress that keeps the warnings, to see the retries.
#[derive(Default)]
struct Warnings(std::sync::Mutex<Vec<String>>);

impl Progress for Warnings {
    fn step(&self, _: &str, _: &str) {}
    fn detail(&self, _: &str) {}
    fn output(&self, _: &str, _: &str) {}
    fn warning(&self, message: &str) {
        self.0.lock().unwrap().push(message.to_owned());
    }
    fn done(&self, _: &str, _: Instant, _: &str) {}
    fn step_summary(&self, _: &str) {}
}

#[test]
fn an_index_is_written_through_transient_errors_and_a_registry_that_keeps_failing_ends_it_with_its_name(
) {
    let test = "an_index_is_written_through_transient_errors_and_a_registry_that_keeps_failing_ends_it_with_its_name";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let Some(registry) = LocalRegistry::start() else {
        return;
    };
    let repository = "dockyard-it-index";
    let folder = tempfile::tempdir().unwrap();
    // Each platform's image pushed straight to the registry, as the release's engine push does.
    let mut pushed = Vec::new();
    for architecture in ["amd64", "arm64"] {
        let reference = format!("{}/{repository}:1.0.0-{architecture}", registry.address);
        let archive = write_attachment_image(
            AttachmentKind::Sbom,
            format!("{{\"platform\": \"{architecture}\"}}").into_bytes(),
            &format!("sha256:{}", "0".repeat(64)),
            &reference,
            architecture,
            "2026-01-01T00:00:00Z",
            &folder.path().join(architecture),
        )
        .unwrap();
        let digest = runtime().block_on(async {
            engine
                .load_image_archive(&archive, &reference)
                .await
                .unwrap();
            let digest = engine
                .push_image(&reference, None, &mut |_| {})
                .await
                .unwrap();
            let _ = engine.remove_image(&reference).await;
            digest
        });
        pushed.push((format!("linux/{architecture}"), digest));
    }
    let retry = RetryPolicy {
        attempts: 3,
        backoff: Duration::from_millis(50),
    };

    // Two writes fail with 503: the index is written on the third attempt, its digest read back.
    let flaky = FailingProxy::start(&registry.address, 2, 503);
    let client = RegistryClient::new(&flaky.address, None);
    let manifests: Vec<_> = pushed
        .iter()
        .map(|(platform, digest)| {
            runtime()
                .block_on(client.manifest(
                    &format!("{}/{repository}", flaky.address),
                    digest,
                    platform,
                ))
                .unwrap()
        })
        .collect();
    let (body, media_type) = index_document(&manifests);
    assert_eq!(media_type, DOCKER_MANIFEST_LIST);
    let warnings = Warnings::default();
    let reference = format!("{}/{repository}:1.0.0", flaky.address);
    let digest = runtime()
        .block_on(client.put_index(&reference, &body, media_type, retry, &warnings))
        .unwrap();
    assert_eq!(flaky.n_failed(), 2);
    assert_eq!(warnings.0.lock().unwrap().len(), 2, "{:?}", warnings.0);
    assert_eq!(
        registry.manifest_digest(repository, "1.0.0").as_deref(),
        Some(digest.as_str())
    );
    let index = registry.manifest(repository, "1.0.0").unwrap();
    let entries: Vec<(String, String)> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                format!(
                    "linux/{}",
                    entry["platform"]["architecture"].as_str().unwrap()
                ),
                entry["digest"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(entries, pushed);
    dockyard_reliability::record(
        dockyard_reliability::Category::Fault,
        "index_write_transient_errors",
        "the registry answers the first two writes of an image index with 503",
        "the index is written on the third attempt (a warning per retry), its digest read back and its entries the platforms' manifests",
        "xtask::index::an_index_is_written_through_transient_errors_and_a_registry_that_keeps_failing_ends_it_with_its_name",
    );

    // Every write fails: the release's error names the reference and the attempts, and `latest` is never written.
    let broken = FailingProxy::start(&registry.address, usize::MAX, 503);
    let client = RegistryClient::new(&broken.address, None);
    let reference = format!("{}/{repository}:latest", broken.address);
    let error = runtime()
        .block_on(client.put_index(&reference, &body, media_type, retry, &Warnings::default()))
        .unwrap_err();
    let ReleaseError::PushFailed {
        reference: named,
        attempts,
        message,
    } = &error
    else {
        panic!("not a push failure: {error:?}");
    };
    assert_eq!(named, &reference);
    assert_eq!(*attempts, 3);
    assert!(
        message.contains("503") || message.contains("UNAVAILABLE"),
        "{message}"
    );
    assert_eq!(registry.manifest_digest(repository, "latest"), None);
    dockyard_reliability::record(
        dockyard_reliability::Category::Fault,
        "index_write_keeps_failing",
        "the registry answers every write of an image index with 503",
        "ReleaseError::PushFailed (exit 10) naming REPOSITORY:TAG after the policy's attempts; the tag is never written",
        "xtask::index::an_index_is_written_through_transient_errors_and_a_registry_that_keeps_failing_ends_it_with_its_name",
    );
}
