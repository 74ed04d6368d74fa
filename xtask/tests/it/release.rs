//! `cargo xtask release` against a real registry on 127.0.0.1: images pushed, digests read back, pulled back by
//! digest into a clean state and smoke-tested; a failed gate pushes nothing; transient registry errors are retried,
//! persistent ones end with a clear error and no moving tag moved; release.json matches its schema; each image's SBOM
//! is pushed beside it and read back by digest.
#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the tools a user would check a release with (git, sha256sum, trivy, check-jsonschema, openssl)"
)]

use dockyard_engine::Engine;

use crate::registry::LocalRegistry;
use crate::registry_proxy::FailingProxy;
use crate::smoke::{cleanup_images, edit, without_app_tests};
use crate::support::{engine_or_skip, runtime, stderr, stdout, workspace_root, Project};

/// Releases accept the missing vulnerability database of these machines, loudly (recorded in release.json).
const RELEASE: &[&str] = &["release", "--allow-missing-vulnerability-db", "--version"];

pub(crate) fn release(project: &Project, registry: &str, version: &str) -> std::process::Output {
    let args: Vec<&str> = RELEASE.iter().copied().chain([version]).collect();
    project.xtask_with_env(&args, &[("DOCKYARD_REGISTRY", registry)])
}

pub(crate) fn release_json(project: &Project) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(project.path("target/dockyard/release.json")).unwrap(),
    )
    .unwrap()
}

/// Validates release.json against docs/release.schema.json with the provisioned check-jsonschema; skips loudly
/// without it (fails under CI=true).
pub(crate) fn assert_matches_schema(project: &Project) {
    let schema = workspace_root().join("docs/release.schema.json");
    let Some(tools) = crate::support::tools_or_skip("the release.json schema check") else {
        return;
    };
    let output = std::process::Command::new(tools.path(dockyard_tools::Tool::CheckJsonschema))
        .arg("--schemafile")
        .arg(&schema)
        .arg(project.path("target/dockyard/release.json"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "release.json does not match docs/release.schema.json:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Removes the local tags a release created (`REPOSITORY:TAG` for every repository and tag).
fn remove_release_tags(engine: &Engine, repositories: &[String], tags: &[&str]) {
    runtime().block_on(async {
        for repository in repositories {
            for tag in tags {
                let _ = engine.remove_image(&format!("{repository}:{tag}")).await;
            }
        }
    });
}

/// The repositories of a project's images, behind `registry` when there is one.
fn repositories(project: &Project, registry: Option<&str>) -> Vec<String> {
    [project.name.clone(), format!("{}-nginx", project.name)]
        .into_iter()
        .map(|repository| match registry {
            Some(registry) => format!("{registry}/{repository}"),
            None => repository,
        })
        .collect()
}

fn project_images_absent(engine: &Engine, project: &Project) -> bool {
    runtime().block_on(async {
        for suffix in ["", "-nginx"] {
            if engine
                .image(&format!("{}{suffix}:latest", project.name))
                .await
                .unwrap()
                .is_some()
            {
                return false;
            }
        }
        true
    })
}

/// Runs the commands of README's "Verifying a signed provenance" block with `ENVELOPE` and `PUBLIC_KEY` set.
fn verify_with_readme_commands(
    envelope: &std::path::Path,
    public_key: &std::path::Path,
) -> std::process::Output {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let mut lines = readme.lines().skip_while(|line| {
        !(line.starts_with('#') && line.contains("Verifying a signed provenance"))
    });
    assert!(
        lines.next().is_some(),
        "README.md has no \"Verifying a signed provenance\" heading"
    );
    let script: Vec<&str> = lines
        .skip_while(|line| !line.trim_start().starts_with("```"))
        .skip(1)
        .take_while(|line| !line.trim_start().starts_with("```"))
        .collect();
    assert!(
        !script.is_empty(),
        "no code block under README.md's \"Verifying a signed provenance\""
    );
    std::process::Command::new("bash")
        .arg("-euo")
        .arg("pipefail")
        .arg("-c")
        .arg(script.join("\n"))
        .env("ENVELOPE", envelope)
        .env("PUBLIC_KEY", public_key)
        .output()
        .unwrap()
}

/// `bytes` (written to `name` under the project's target folder) is valid against `schema` (check-jsonschema, offline:
/// the schema's relative references resolve beside it); skips loudly when the tools cannot be provisioned, fails under
/// `CI=true`.
fn assert_valid(project: &Project, bytes: &[u8], name: &str, schema: &std::path::Path) {
    let document = project.path(&format!("target/{name}"));
    std::fs::write(&document, bytes).unwrap();
    let Some(tools) = crate::support::tools_or_skip(&format!("validating {name}")) else {
        return;
    };
    let output = std::process::Command::new(tools.path(dockyard_tools::Tool::CheckJsonschema))
        .arg("--schemafile")
        .arg(schema)
        .arg("--base-uri")
        .arg(format!("file://{}", schema.display()))
        .arg(&document)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{name} does not match {}:\n{}{}",
        schema.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The one file of the attachment image `kind` pushed beside the image pushed as `digest`, fetched by the digest
/// release.json lists for it (`attachment`): its config is labelled with the image's digest and the kind, its one layer
/// holds the file with the bytes of the file on disk.
fn pushed_attachment(
    registry: &LocalRegistry,
    repository: &str,
    digest: &str,
    kind: &str,
    file_name: &str,
    attachment: &serde_json::Value,
) -> Vec<u8> {
    let pushed = attachment["digest"]
        .as_str()
        .unwrap_or_else(|| panic!("no pushed {kind}: {attachment}"));
    assert!(
        attachment["reference"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{}.{kind}", digest.replace(':', "-"))),
        "{attachment}"
    );
    let manifest = registry
        .manifest(repository, pushed)
        .unwrap_or_else(|| panic!("the {kind}'s manifest"));
    let config = registry
        .blob(repository, manifest["config"]["digest"].as_str().unwrap())
        .unwrap_or_else(|| panic!("the {kind} image's config"));
    let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(
        config["config"]["Labels"]["dev.dockyard.subject"], digest,
        "{config}"
    );
    assert_eq!(
        config["config"]["Labels"]["dev.dockyard.attachment"], kind,
        "{config}"
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{manifest}");
    let layer = registry
        .blob(repository, layers[0]["digest"].as_str().unwrap())
        .unwrap_or_else(|| panic!("the {kind} layer"));
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(layer.as_slice()));
    let mut files = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        files.push((entry.path().unwrap().display().to_string(), bytes));
    }
    assert_eq!(files.len(), 1, "one file in the {kind} image");
    let (name, bytes) = files.remove(0);
    assert_eq!(name, file_name);
    assert_eq!(
        crate::registry::digest_of(&bytes),
        format!("sha256:{}", attachment["sha256"].as_str().unwrap()),
        "the pushed {kind} is the file release.json lists"
    );
    bytes
}

/// The SBOM pushed beside the image: valid against the CycloneDX 1.7 schema (docs/schemas/cyclonedx), listing, for the app image, the Python packages at the
/// versions app/requirements.txt pins, and for the nginx image its Debian packages.
fn assert_sbom_pushed_beside(
    project: &Project,
    registry: &LocalRegistry,
    repository: &str,
    digest: &str,
    sbom: &serde_json::Value,
) {
    let bytes = pushed_attachment(registry, repository, digest, "sbom", "sbom.cdx.json", sbom);
    assert_valid(
        project,
        &bytes,
        &format!("{}.cdx.json", repository.replace('/', "_")),
        &workspace_root().join("docs/schemas/cyclonedx/bom-1.7.SNAPSHOT.schema.json"),
    );
    let document: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(document["bomFormat"], "CycloneDX");
    assert_eq!(document["specVersion"], sbom["spec_version"]);
    let components = document["components"].as_array().unwrap();
    assert_eq!(
        components.len() as u64,
        sbom["components"].as_u64().unwrap()
    );
    if repository.ends_with("-nginx") {
        assert!(
            components
                .iter()
                .any(|component| component["name"] == "nginx-light"),
            "the nginx image's SBOM lists its Debian packages"
        );
        return;
    }
    let requirements =
        std::fs::read_to_string(workspace_root().join("app/requirements.txt")).unwrap();
    for pin in requirements.lines().filter(|line| line.contains("==")) {
        let (name, version) = pin.split_once("==").unwrap();
        let purl = format!("pkg:pypi/{}@{}", name.to_lowercase(), version.trim());
        assert!(
            components
                .iter()
                .any(|component| component["purl"] == purl.as_str()),
            "the app image's SBOM lists {purl} (app/requirements.txt pins {pin})"
        );
    }
}

/// The provenance pushed beside the image: a DSSE envelope whose signature README's commands verify with the public
/// half of `key` (and refuse once the payload changes), whose statement is valid against docs/provenance.schema.json,
/// its subject the pushed digest, and among what it was built from deploy.toml and app/requirements.txt with their
/// sha256.
fn assert_provenance_pushed_beside(
    project: &Project,
    registry: &LocalRegistry,
    repository: &str,
    digest: &str,
    provenance: &serde_json::Value,
    key: &std::path::Path,
) {
    let envelope = pushed_attachment(
        registry,
        repository,
        digest,
        "provenance",
        "provenance.dsse.json",
        provenance,
    );
    let name = repository.replace('/', "_");
    let envelope_path = project.path(&format!("target/{name}.dsse.json"));
    std::fs::write(&envelope_path, &envelope).unwrap();
    let public = project.path("target/signing-key.pub.pem");
    let derived = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(key)
        .arg("-out")
        .arg(&public)
        .output()
        .unwrap();
    assert!(
        derived.status.success(),
        "{}",
        String::from_utf8_lossy(&derived.stderr)
    );
    let verified = verify_with_readme_commands(&envelope_path, &public);
    assert!(
        verified.status.success() && stdout(&verified).contains("Signature Verified Successfully"),
        "README's commands should verify the envelope:\n{}{}",
        stdout(&verified),
        stderr(&verified)
    );
    let envelope: serde_json::Value = serde_json::from_slice(&envelope).unwrap();
    assert_eq!(envelope["payloadType"], "application/vnd.in-toto+json");
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(envelope["payload"].as_str().unwrap())
        .unwrap();
    let mut tampered = envelope.clone();
    tampered["payload"] = serde_json::Value::String(
        base64::engine::general_purpose::STANDARD
            .encode(String::from_utf8_lossy(&bytes).replace("1.2.3", "6.6.6")),
    );
    let tampered_path = project.path(&format!("target/{name}.tampered.dsse.json"));
    std::fs::write(&tampered_path, serde_json::to_vec(&tampered).unwrap()).unwrap();
    assert!(
        !verify_with_readme_commands(&tampered_path, &public)
            .status
            .success(),
        "a changed payload must not verify"
    );
    assert_eq!(
        provenance["signed_by"].as_str().unwrap(),
        envelope["signatures"][0]["keyid"].as_str().unwrap()
    );
    assert_valid(
        project,
        &bytes,
        &format!("{name}.provenance.json"),
        &workspace_root().join("docs/provenance.schema.json"),
    );
    let statement: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        statement["subject"][0]["digest"]["sha256"],
        digest.trim_start_matches("sha256:")
    );
    let dependencies = statement["predicate"]["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    for file in ["deploy.toml", "app/requirements.txt"] {
        let sha256 = crate::registry::digest_of(&std::fs::read(project.path(file)).unwrap());
        assert!(
            dependencies
                .iter()
                .any(|dependency| dependency["name"] == file
                    && format!(
                        "sha256:{}",
                        dependency["digest"]["sha256"].as_str().unwrap_or_default()
                    ) == sha256),
            "the provenance names {file} with its sha256 {sha256}: {dependencies:#?}"
        );
    }
}

#[test]
fn release_pushes_verified_digests_and_the_images_pulled_back_by_digest_pass_smoke() {
    let test = "release_pushes_verified_digests_and_the_images_pulled_back_by_digest_pass_smoke";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let Some(registry) = LocalRegistry::start() else {
        return;
    };
    let project = Project::copy("dockyard-it-release");
    // The provenance is signed with a key made here, as a maintainer would (`openssl genpkey`).
    let key = project.path("target/signing-key.pem");
    std::fs::create_dir_all(project.path("target")).unwrap();
    let made = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&key)
        .output()
        .expect("openssl makes the signing key");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let key_pem = std::fs::read_to_string(&key).unwrap();
    edit(
        &project,
        "deploy.toml",
        "[release]\n",
        "[release]\nsigning_key_env = \"DOCKYARD_IT_SIGNING_KEY\"\n",
    );
    let args: Vec<&str> = RELEASE.iter().copied().chain(["1.2.3"]).collect();
    let output = project.xtask_with_env(
        &args,
        &[
            ("DOCKYARD_REGISTRY", registry.address.as_str()),
            ("DOCKYARD_IT_SIGNING_KEY", key_pem.as_str()),
        ],
    );
    let key_body = key_pem.lines().nth(1).unwrap();
    assert!(
        !stdout(&output).contains(key_body) && !stderr(&output).contains(key_body),
        "the signing key must never be shown"
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );

    let manifest = release_json(&project);
    assert_matches_schema(&project);
    assert_eq!(manifest["kind"], "release");
    assert_eq!(manifest["version"], "1.2.3");
    assert_eq!(manifest["smoke"]["passed"], true);
    let not_scanned = manifest["scan"]["not_scanned"].as_array().unwrap();
    if stderr(&output).contains("VULNERABILITY SCAN NOT RUN") {
        assert!(
            !not_scanned.is_empty(),
            "a vulnerability scan that did not run must be recorded: {manifest}"
        );
    }
    let mut catalog = registry.catalog();
    catalog.sort();
    assert_eq!(
        catalog,
        [project.name.clone(), format!("{}-nginx", project.name)]
    );
    let mut pulled = Vec::new();
    for image in manifest["images"].as_array().unwrap() {
        let repository_path = image["repository"]
            .as_str()
            .unwrap()
            .trim_start_matches(&format!("{}/", registry.address))
            .to_owned();
        let digest = image["digest"].as_str().unwrap().to_owned();
        let attachment_tag = |kind: &str| format!("{}.{kind}", digest.replace(':', "-"));
        let mut tags = registry.tags(&repository_path);
        tags.sort();
        assert_eq!(
            tags,
            [
                "1.2.3".to_owned(),
                "latest".to_owned(),
                "sha-unknown".to_owned(),
                attachment_tag("provenance"),
                attachment_tag("sbom"),
            ],
            "{repository_path}"
        );
        assert_sbom_pushed_beside(
            &project,
            &registry,
            &repository_path,
            &digest,
            &image["sbom"],
        );
        assert_provenance_pushed_beside(
            &project,
            &registry,
            &repository_path,
            &digest,
            &image["provenance"],
            &key,
        );
        for tag in ["1.2.3", "latest"] {
            assert_eq!(
                registry.manifest_digest(&repository_path, tag).as_deref(),
                Some(digest.as_str()),
                "{repository_path}:{tag}"
            );
        }
        pulled.push((image["repository"].as_str().unwrap().to_owned(), digest));
    }

    // A clean state: no local image of the project, then the images pulled back by digest.
    cleanup_images(&engine, &project);
    runtime().block_on(async {
        for (repository, _) in &pulled {
            for tag in ["1.2.3", "latest", "sha-unknown"] {
                engine
                    .remove_image(&format!("{repository}:{tag}"))
                    .await
                    .unwrap();
            }
        }
    });
    assert!(project_images_absent(&engine, &project));
    runtime().block_on(async {
        for ((repository, digest), suffix) in pulled.iter().zip(["", "-nginx"]) {
            let by_digest = format!("{repository}@{digest}");
            engine
                .pull_image_with_credentials(&by_digest, None, &mut |_| {})
                .await
                .unwrap();
            let image = engine
                .image(&by_digest)
                .await
                .unwrap()
                .expect("the pulled image");
            engine
                .tag_image(&image.id, &format!("{}{suffix}:latest", project.name))
                .await
                .unwrap();
        }
    });
    // The pulled images carry the same input labels: smoke builds nothing and tests them.
    let smoke = project.xtask(&["smoke"]);
    assert_eq!(
        smoke.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&smoke),
        stderr(&smoke)
    );
    for step in ["production image: skipped", "nginx image: skipped"] {
        assert!(
            stderr(&smoke).contains(step),
            "smoke should test the pulled images, not rebuild them:\n{}",
            stderr(&smoke)
        );
    }
    cleanup_images(&engine, &project);
}

#[test]
fn a_release_whose_smoke_or_scan_fails_leaves_the_registry_unchanged() {
    let test = "a_release_whose_smoke_or_scan_fails_leaves_the_registry_unchanged";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let Some(registry) = LocalRegistry::start() else {
        return;
    };
    let smoke_fails = Project::copy("dockyard-it-release-smoke-fails");
    without_app_tests(&smoke_fails);
    edit(
        &smoke_fails,
        "app/sample/health.py",
        "cursor.execute(\"SELECT 1\")",
        "cursor.execute(\"SELECT * FROM planted_missing_table\")",
    );
    let output = release(&smoke_fails, &registry.address, "1.0.0");
    assert_eq!(
        output.status.code(),
        Some(9),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        registry.catalog().is_empty(),
        "a release whose smoke failed pushed something: {:?}",
        registry.catalog()
    );
    cleanup_images(&engine, &smoke_fails);

    // The scan runs the pinned trivy the tests provision (as the pipeline does), not whatever is on PATH.
    if crate::support::tool_or_skip(dockyard_tools::Tool::Trivy, "--version", test).is_some() {
        let scan_fails = Project::copy("dockyard-it-release-scan-fails");
        let planted = "aws_access_key_id = \"AKIAQ7Z3LK5N2XW4TR6M\"\naws_secret_access_key = \"Zq8vN3xR5tW7yB2mK4pL6sD9fH1gJ3kQ5wE7rT9u\"\n";
        std::fs::write(
            scan_fails.path("app/sample/planted_credentials.py"),
            planted,
        )
        .unwrap();
        let output = release(&scan_fails, &registry.address, "1.0.0");
        assert_eq!(
            output.status.code(),
            Some(7),
            "{}\n{}",
            stdout(&output),
            stderr(&output)
        );
        assert!(
            registry.catalog().is_empty(),
            "a release whose scan failed pushed something: {:?}",
            registry.catalog()
        );
        cleanup_images(&engine, &scan_fails);
    }
}

#[test]
fn transient_registry_errors_are_retried_and_persistent_ones_move_no_moving_tag() {
    let test = "transient_registry_errors_are_retried_and_persistent_ones_move_no_moving_tag";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let Some(registry) = LocalRegistry::start() else {
        return;
    };
    let project = Project::copy("dockyard-it-release-retries");
    edit(
        &project,
        "deploy.toml",
        "push_backoff_ms = 500",
        "push_backoff_ms = 50",
    );
    // A first release straight to the registry: the layers are there, so later pushes only put manifests.
    let first = release(&project, &registry.address, "1.0.0");
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let latest_before: Vec<Option<String>> =
        [project.name.clone(), format!("{}-nginx", project.name)]
            .iter()
            .map(|repository| registry.manifest_digest(repository, "latest"))
            .collect();

    // The first two writes fail with 503: the release retries and succeeds.
    let flaky = FailingProxy::start(&registry.address, 2, 503);
    let second = release(&project, &flaky.address, "1.0.1");
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    assert_eq!(
        flaky.n_failed(),
        2,
        "the proxy should have failed exactly two writes"
    );
    assert!(
        stderr(&second).contains("failed (transient, attempt 1 of 4)"),
        "{}",
        stderr(&second)
    );
    assert!(registry.tags(&project.name).contains(&"1.0.1".to_owned()));

    // Every write fails: a clear error after the last attempt, and `latest` still points where it did.
    let latest_after_second: Vec<Option<String>> =
        [project.name.clone(), format!("{}-nginx", project.name)]
            .iter()
            .map(|repository| registry.manifest_digest(repository, "latest"))
            .collect();
    assert_eq!(
        latest_after_second, latest_before,
        "the same images: latest moves to the same digests"
    );
    let broken = FailingProxy::start(&registry.address, usize::MAX, 503);
    edit(
        &project,
        "app/notes/static/notes/app.css",
        "}",
        "} /* a change, so the images differ */",
    );
    let third = release(&project, &broken.address, "1.0.2");
    let log = stderr(&third);
    assert_eq!(third.status.code(), Some(10), "{log}");
    assert!(
        log.contains("failed after 4 attempts: still failing"),
        "{log}"
    );
    assert!(log.contains("hint: no moving tag was moved"), "{log}");
    assert!(!registry.tags(&project.name).contains(&"1.0.2".to_owned()));
    let latest_after_third: Vec<Option<String>> =
        [project.name.clone(), format!("{}-nginx", project.name)]
            .iter()
            .map(|repository| registry.manifest_digest(repository, "latest"))
            .collect();
    assert_eq!(
        latest_after_third, latest_before,
        "a failed release moved a moving tag"
    );
    let tags = ["1.0.0", "1.0.1", "1.0.2", "sha-unknown", "latest"];
    for address in [&registry.address, &flaky.address, &broken.address] {
        remove_release_tags(&engine, &repositories(&project, Some(address)), &tags);
    }
    cleanup_images(&engine, &project);
}

#[test]
fn a_release_refuses_a_dirty_git_tree_and_a_bad_version() {
    let project = Project::copy("dockyard-it-release-refused");
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(project.dir.path())
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t.invalid",
        "commit",
        "-qm",
        "fixture",
    ]);
    std::fs::write(project.path("app/manage.py"), "# an uncommitted change\n").unwrap();
    let dirty = project.xtask(&["release", "--version", "1.0.0"]);
    assert_eq!(dirty.status.code(), Some(11), "{}", stderr(&dirty));
    assert!(
        stderr(&dirty).contains("error: release refused: the git tree has uncommitted changes"),
        "{}",
        stderr(&dirty)
    );
    assert!(
        stderr(&dirty).contains("hint: commit them, or pass --allow-dirty"),
        "{}",
        stderr(&dirty)
    );
    assert!(
        !stderr(&dirty).contains("==> base"),
        "nothing may be built before the preflight passes"
    );
    let bad_version = project.xtask(&["release", "--allow-dirty", "--version", "1.0/evil"]);
    assert_eq!(
        bad_version.status.code(),
        Some(11),
        "{}",
        stderr(&bad_version)
    );
    assert!(
        stderr(&bad_version).contains("`1.0/evil` is not a valid image tag"),
        "{}",
        stderr(&bad_version)
    );

    // A provenance signing key that is missing or not a key: refused before anything is built, the variable named,
    // its value never shown.
    edit(
        &project,
        "deploy.toml",
        "[release]\n",
        "[release]\nsigning_key_env = \"DOCKYARD_IT_SIGNING_KEY\"\n",
    );
    let args = ["release", "--allow-dirty", "--version", "1.0.0"];
    let missing = project.xtask(&args);
    let log = stderr(&missing);
    assert_eq!(missing.status.code(), Some(11), "{log}");
    let message = "error: release refused: the provenance signing key variable DOCKYARD_IT_SIGNING_KEY is not set";
    assert!(log.contains(message), "{log}");
    assert!(
        log.contains("hint: export DOCKYARD_IT_SIGNING_KEY"),
        "{log}"
    );
    assert!(!log.contains("==> base"), "nothing may be built: {log}");
    let not_a_key =
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ1dC1ub3QtYS1rZXk=\n-----END PRIVATE KEY-----\n";
    let invalid = project.xtask_with_env(&args, &[("DOCKYARD_IT_SIGNING_KEY", not_a_key)]);
    let log = stderr(&invalid);
    assert_eq!(invalid.status.code(), Some(11), "{log}");
    assert!(
        log.contains("error: release refused: DOCKYARD_IT_SIGNING_KEY does not hold an Ed25519 private key in PKCS#8 PEM"),
        "{log}"
    );
    assert!(
        !log.contains("c2VjcmV0LWJ1dC1ub3QtYS1rZXk")
            && !stdout(&invalid).contains("c2VjcmV0LWJ1dC1ub3QtYS1rZXk"),
        "the variable's value must never be shown: {log}"
    );
    assert!(!log.contains("==> base"), "nothing may be built: {log}");
    dockyard_reliability::record(
        dockyard_reliability::Category::BadConfig,
        "provenance_signing_key_missing_or_invalid",
        "[release] signing_key_env = \"DOCKYARD_IT_SIGNING_KEY\" with the variable unset, then holding a PEM block that is no key",
        &format!("exit 11 before anything is built: `{message}` with a hint to export it; then `... does not hold an Ed25519 private key in PKCS#8 PEM (reason)`, the value never shown"),
        "xtask::release::a_release_refuses_a_dirty_git_tree_and_a_bad_version",
    );
}

#[test]
fn without_a_registry_a_release_writes_checksummed_archives_and_a_step_summary() {
    let test = "without_a_registry_a_release_writes_checksummed_archives_and_a_step_summary";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    let project = Project::copy("dockyard-it-release-archives");
    let summary = project.path("step-summary.md");
    let summary_path = summary.display().to_string();
    let args: Vec<&str> = RELEASE.iter().copied().chain(["2.0.0"]).collect();
    let output = project.xtask_with_env(
        &args,
        &[
            ("DOCKYARD_REGISTRY", ""),
            ("GITHUB_STEP_SUMMARY", &summary_path),
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("no registry configured"),
        "{}",
        stderr(&output)
    );
    let manifest = release_json(&project);
    assert_matches_schema(&project);
    assert!(manifest["registry"].is_null(), "{manifest}");
    for image in manifest["images"].as_array().unwrap() {
        assert_eq!(image["pushed"], false);
        let archive = std::path::PathBuf::from(image["archive"]["path"].as_str().unwrap());
        let sidecar = std::fs::read_to_string(format!("{}.sha256", archive.display())).unwrap();
        let recorded = image["archive"]["sha256"].as_str().unwrap();
        assert!(
            sidecar.starts_with(recorded),
            "the sidecar and release.json disagree: {sidecar}"
        );
        // The checksum is the archive's: sha256sum agrees.
        let check = std::process::Command::new("sha256sum")
            .arg("-c")
            .arg(format!("{}.sha256", archive.display()))
            .current_dir(archive.parent().unwrap())
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
    let markdown = std::fs::read_to_string(&summary).unwrap();
    for heading in [
        "### Dockyard smoke",
        "### Dockyard release",
        "| app |",
        "| nginx |",
    ] {
        assert!(
            markdown.contains(heading),
            "the step summary lacks `{heading}`:\n{markdown}"
        );
    }
    remove_release_tags(
        &engine,
        &repositories(&project, None),
        &["2.0.0", "sha-unknown"],
    );
    cleanup_images(&engine, &project);
}
