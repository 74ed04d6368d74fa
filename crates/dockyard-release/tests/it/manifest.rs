//! release.json's shape and its Markdown summary, and the retry policy's waits: everything of a publication that
//! needs no engine (the engine tests in xtask/tests/it/release.rs push to a real registry).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use dockyard_release::attachments::{
    AttachmentKind, Pushed, ReleasedProvenance, ReleasedSbom, SbomFile,
};
use dockyard_release::manifest::{
    Archive, BaseSummary, ContextSummary, GitState, ImageKind, ManifestKind, NotScanned,
    ReleaseManifest, ReleasedImage, ReleasedPlatform, ScanSummaryRecord, SmokeSummaryRecord,
    RELEASE_SCHEMA_VERSION,
};
use dockyard_release::provenance::{statement, BuildFacts, LockedPackage, Material};
use dockyard_release::{RetryPolicy, Version};

#[test]
fn backoff_doubles_after_each_failure() {
    let check = |backoff_ms: u64, expected: &[u128]| {
        let retry = RetryPolicy {
            attempts: 4,
            backoff: Duration::from_millis(backoff_ms),
        };
        let waits: Vec<u128> = (1..=expected.len() as u32)
            .map(|attempt| retry.wait_after(attempt).as_millis())
            .collect();
        assert_eq!(waits, expected, "backoff {backoff_ms} ms");
    };
    check(500, &[500, 1000, 2000]);
    check(0, &[0, 0, 0]);
    check(60_000, &[60_000, 120_000, 240_000, 480_000]);
}

#[test]
fn the_doubling_stops_after_ten_failures() {
    let retry = RetryPolicy {
        attempts: 20,
        backoff: Duration::from_millis(1),
    };
    assert_eq!(retry.wait_after(11), Duration::from_millis(1024));
    assert_eq!(retry.wait_after(20), Duration::from_millis(1024));
}

/// Where an attachment of the image `name` pushed as `digest` went.
fn pushed(name: ImageKind, digest: Option<&str>, kind: AttachmentKind) -> Pushed {
    Pushed {
        reference: digest.map(|digest| format!("127.0.0.1:5000/demo-{name}:{}", kind.tag(digest))),
        digest: digest.map(|_| format!("sha256:{}", "5".repeat(64))),
    }
}

fn image(name: ImageKind, digest: Option<&str>, archive: Option<Archive>) -> ReleasedImage {
    ReleasedImage {
        name,
        image_id: "sha256:1111111111111111".to_owned(),
        repository: format!("127.0.0.1:5000/demo-{name}"),
        tags: vec!["1.2.3".to_owned(), "sha-0123456789ab".to_owned()],
        moving_tags: vec!["latest".to_owned()],
        digest: digest.map(str::to_owned),
        pushed: digest.is_some(),
        archive,
        sbom: Some(ReleasedSbom {
            file: SbomFile {
                path: format!("target/dockyard/scan/{name}.cdx.json").into(),
                sha256: "ab".repeat(32),
                spec_version: "1.7".to_owned(),
                components: 133,
            },
            pushed: pushed(name, digest, AttachmentKind::Sbom),
        }),
        provenance: digest.map(|_| ReleasedProvenance {
            path: format!("target/dockyard/{name}-provenance.intoto.json").into(),
            sha256: "cd".repeat(32),
            signed_by: Some("ef".repeat(32)),
            pushed: pushed(name, digest, AttachmentKind::SignedProvenance),
        }),
        platforms: Vec::new(),
    }
}

fn manifest(
    kind: ManifestKind,
    images: Vec<ReleasedImage>,
    scan: ScanSummaryRecord,
) -> ReleaseManifest {
    ReleaseManifest {
        schema_version: RELEASE_SCHEMA_VERSION,
        kind,
        project: "demo".to_owned(),
        version: Version::parse("1.2.3").expect("valid version"),
        git: GitState {
            revision: "0123456789abcdef".to_owned(),
            dirty: false,
        },
        created: "2026-12-03T08:00:00Z".parse().expect("an RFC 3339 instant"),
        registry: Some("127.0.0.1:5000".to_owned()),
        images,
        context: ContextSummary {
            path: PathBuf::from("target/dockyard/context.tar.gz"),
            sha256: "c0ffee".to_owned(),
        },
        bases: BTreeMap::from([(
            "runtime".to_owned(),
            BaseSummary {
                image: "dockyard/runtime:bookworm".to_owned(),
                id: "sha256:2222".to_owned(),
                origin: "bootstrapped".to_owned(),
            },
        )]),
        static_manifest_sha256: Some("5eed".to_owned()),
        scan,
        smoke: SmokeSummaryRecord {
            passed: true,
            checks: 4,
            failed: 0,
            start_to_healthy_ms: Some(850),
            report: PathBuf::from("target/dockyard/smoke.json"),
        },
        tools: BTreeMap::from([("dockyard".to_owned(), "0.0.0".to_owned())]),
    }
}

fn scanned_with_a_gap() -> ScanSummaryRecord {
    ScanSummaryRecord {
        passed: true,
        findings_over_policy: 0,
        suppressed: 2,
        not_scanned: vec![NotScanned {
            image: "nginx".to_owned(),
            scanner: "vuln".to_owned(),
            reason: "the vulnerability database is unavailable".to_owned(),
        }],
        report: Some(PathBuf::from("target/dockyard/scan.json")),
    }
}

#[test]
fn the_step_summary_shows_digests_archives_and_scan_gaps() {
    let pushed = manifest(
        ManifestKind::Release,
        vec![
            image(ImageKind::App, Some("sha256:aaaa"), None),
            image(ImageKind::Nginx, Some("sha256:bbbb"), None),
        ],
        scanned_with_a_gap(),
    );
    insta::assert_snapshot!("pushed", pushed.step_summary());
    let archived = manifest(
        ManifestKind::Release,
        vec![image(
            ImageKind::App,
            None,
            Some(Archive {
                path: PathBuf::from("target/dockyard/release/demo-app-1.2.3.tar"),
                sha256: "abcdef".to_owned(),
                size: 1024,
            }),
        )],
        ScanSummaryRecord::unscanned([ImageKind::App]),
    );
    insta::assert_snapshot!("archived_unscanned", archived.step_summary());
    let checked = manifest(
        ManifestKind::Check,
        vec![image(ImageKind::App, None, None)],
        scanned_with_a_gap(),
    );
    insta::assert_snapshot!("checked", checked.step_summary());
}

#[test]
fn an_image_of_several_platforms_lists_each_platform_s_digest_under_the_index_s() {
    let mut app = image(ImageKind::App, Some("sha256:aaaa"), None);
    app.platforms = ["amd64", "arm64"]
        .into_iter()
        .enumerate()
        .map(|(n, architecture)| ReleasedPlatform {
            platform: format!("linux/{architecture}"),
            image_id: format!("sha256:{}", n.to_string().repeat(16)),
            reference: Some(format!("127.0.0.1:5000/demo-app:1.2.3-{architecture}")),
            digest: Some(format!("sha256:{}", (n + 7).to_string().repeat(64))),
            archive: None,
        })
        .collect();
    let manifest = manifest(
        ManifestKind::Release,
        vec![app],
        ScanSummaryRecord::unscanned([ImageKind::App]),
    );
    insta::assert_json_snapshot!(manifest.images);
    insta::assert_snapshot!(manifest.step_summary());
}

#[test]
fn release_json_keeps_its_field_names_and_values() {
    let manifest = manifest(
        ManifestKind::Release,
        vec![image(ImageKind::Nginx, Some("sha256:bbbb"), None)],
        ScanSummaryRecord::unscanned([ImageKind::Nginx]),
    );
    insta::assert_json_snapshot!(manifest);
}

#[test]
fn the_provenance_statement_names_the_pushed_digest_and_what_it_was_built_from() {
    let bases = BTreeMap::from([(
        "runtime".to_owned(),
        BaseSummary {
            image: "dockyard/python-runtime:bookworm".to_owned(),
            id: format!("sha256:{}", "2".repeat(64)),
            origin: "bootstrapped".to_owned(),
        },
    )]);
    let facts = BuildFacts {
        deploy_file: Some(Material {
            path: "deploy.toml".to_owned(),
            sha256: "d".repeat(64),
        }),
        dependency_files: vec![Material {
            path: "app/requirements.txt".to_owned(),
            sha256: "e".repeat(64),
        }],
        locked_packages: vec![LockedPackage {
            lock_file: "poetry.lock".to_owned(),
            name: "django".to_owned(),
            version: "5.2.13".to_owned(),
            sha256: vec!["1".repeat(64), "2".repeat(64)],
        }],
        dockyard_version: "0.3.0".to_owned(),
        run_id: "0123456789ab-42".to_owned(),
    };
    let statement = statement(
        ImageKind::App,
        "127.0.0.1:5000/demo",
        &format!("sha256:{}", "5".repeat(64)),
        "1.2.3",
        &"f".repeat(40),
        &ContextSummary {
            path: PathBuf::from("target/dockyard/demo-context.tar.gz"),
            sha256: "c".repeat(64),
        },
        &bases,
        &facts,
        jiff::Timestamp::from_second(1_767_225_600).unwrap(),
    );
    insta::assert_snapshot!(serde_json::to_string_pretty(&statement).unwrap());
}

#[test]
fn a_signed_provenance_is_a_dsse_envelope_over_its_pre_authentication_encoding() {
    use base64::Engine as _;
    assert_eq!(
        dockyard_release::signing::pae("application/vnd.in-toto+json", b"{}"),
        b"DSSEv1 28 application/vnd.in-toto+json 2 {}"
    );
    // RFC 8032's first test key, in PKCS#8 PEM.
    let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n";
    let key = dockyard_release::signing::SigningKey::from_pem(pem).unwrap();
    assert_eq!(
        key.id,
        dockyard_context::sha256_hex(
            &hex::decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
                .unwrap()
        )
    );
    assert!(
        !format!("{key:?}").contains("9d61b19d"),
        "Debug shows no key material"
    );
    let envelope = key.envelope(b"{}");
    assert_eq!(envelope["payload"], "e30=");
    assert_eq!(envelope["signatures"][0]["keyid"], key.id.as_str());
    let signature = base64::engine::general_purpose::STANDARD
        .decode(envelope["signatures"][0]["sig"].as_str().unwrap())
        .unwrap();
    assert_eq!(signature.len(), 64);
    let refused = dockyard_release::signing::SigningKey::from_pem("not a key").unwrap_err();
    assert!(
        !refused.is_empty() && !refused.contains("not a key"),
        "{refused}"
    );
    assert!(key
        .public_key_pem()
        .starts_with("-----BEGIN PUBLIC KEY-----\n"));
}
