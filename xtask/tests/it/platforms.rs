//! Another platform on this machine: the sample with `[platforms]` linux/amd64 + linux/arm64, its arm64 bases
//! bootstrapped under qemu's user-mode emulation and recorded as arm64 (the engine's import records its own), their
//! containers running under emulation, the arm64 images assembled from the same context and the arm64 app healthy.

use std::collections::BTreeMap;

use crate::registry::LocalRegistry;
use crate::release::{assert_matches_schema, release, release_json};
use crate::support::{assert_no_leftovers, engine_or_skip, runtime, stderr, Project};

/// The sample's bases for arm64, written beside its own (deploy.toml writes its runtime and nginx bases itself).
pub(crate) const ARM64_BASES: &str = r#"
[platforms]
targets = ["linux/amd64", "linux/arm64"]

[base.runtime-arm64]
image = "dockyard/python-runtime:bookworm-arm64"

[base.runtime-arm64.bootstrap]
suite = "bookworm"
packages = ["python3", "python3-venv", "ca-certificates"]
env = { PYTHON_VERSION = "3.11.2" }
architecture = "arm64"

[base.nginx-arm64]
image = "dockyard/nginx:bookworm-arm64"

[base.nginx-arm64.bootstrap]
suite = "bookworm"
packages = ["nginx-light"]
architecture = "arm64"

[base.builder-arm64]
image = "dockyard/python-builder:bookworm-arm64"

[base.builder-arm64.bootstrap]
suite = "bookworm"
packages = ["python3", "python3-venv", "python3-dev", "gcc", "libc6-dev", "ca-certificates"]
env = { PYTHON_VERSION = "3.11.2" }
architecture = "arm64"
"#;

#[test]
fn the_images_are_made_for_arm64_too_and_the_arm64_app_passes_its_health_check_under_emulation() {
    let test = "the_images_are_made_for_arm64_too_and_the_arm64_app_passes_its_health_check_under_emulation";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    if !emulation_or_skip(test) {
        return;
    }
    let project = Project::copy("dockyard-it-platforms");
    let path = project.path("deploy.toml");
    let deploy = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{deploy}{ARM64_BASES}")).unwrap();

    let doctor = project.xtask(&["doctor"]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&doctor.stdout),
        stderr(&doctor)
    );
    assert!(
        said.contains(
            "qemu-aarch64 enabled in binfmt_misc (bases builder-arm64, nginx-arm64, runtime-arm64)"
        ),
        "doctor did not report the emulation:\n{said}"
    );
    let build = project.xtask(&["build"]);
    let log = stderr(&build);
    assert_eq!(build.status.code(), Some(0), "{log}");
    for base in [
        "dockyard/nginx:bookworm-arm64",
        "dockyard/python-runtime:bookworm-arm64",
    ] {
        assert!(
            log.contains(&format!("{base} recorded as arm64"))
                || log.contains(&format!("{base} present")),
            "{log}"
        );
    }
    let tag = |suffix: &str| format!("{}{suffix}", project.name);
    let image = |reference: String| {
        runtime()
            .block_on(engine.image(&reference))
            .unwrap()
            .unwrap_or_else(|| panic!("no image {reference}:\n{log}"))
    };
    let app = image(tag(":latest"));
    let app_arm64 = image(tag(":latest-arm64"));
    let nginx_arm64 = image(tag("-nginx:latest-arm64"));
    assert_eq!(
        image("dockyard/nginx:bookworm-arm64".to_owned()).architecture,
        "arm64"
    );
    // The base's binaries are arm64's, run by qemu.
    let (code, lines) = run_in(
        &engine,
        &project,
        "dockyard/nginx:bookworm-arm64",
        "uname -m; dpkg --print-architecture",
    );
    assert_eq!(code, 0, "{lines:?}");
    assert_eq!(lines, ["aarch64", "arm64"]);
    assert_eq!(app.architecture, "amd64");
    assert_eq!(app_arm64.architecture, "arm64");
    assert_eq!(nginx_arm64.architecture, "arm64");
    // The same app layer on both: only the bases and the dependencies differ.
    assert_eq!(app.layers.last(), app_arm64.layers.last());
    assert_ne!(app.layers.first(), app_arm64.layers.first());
    let context = |image: &dockyard_engine::ImageInfo| {
        image.labels.get("dev.dockyard.context.sha256").cloned()
    };
    assert_eq!(
        context(&app),
        context(&app_arm64),
        "both from the same exported context"
    );
    assert!(context(&app).is_some());

    // The arm64 app under emulation: its own HEALTHCHECK (Python asking /health/) turns healthy.
    assert_healthy_under_emulation(&engine, &project, &app_arm64.id);

    let again = project.xtask(&["build"]);
    let log = stderr(&again);
    assert_eq!(again.status.code(), Some(0), "{log}");
    // The recipe label survives the rewrite of the configuration: the bases are found present.
    assert!(
        log.contains("==> base runtime-arm64: dockyard/python-runtime:bookworm-arm64 present"),
        "{log}"
    );
    assert!(
        log.contains(&format!(
            "==> images arm64: skipped: {}:latest-arm64",
            project.name
        )),
        "{log}"
    );
    release_one_index_per_tag(&engine, &project, &app_arm64.id);

    // A package with compiled code: the builder makes PyYAML's x86_64 wheel and fetches the index's aarch64 one of the
    // same release, which the arm64 image installs: its C extension loads under emulation.
    let requirements = project.path("app/requirements.txt");
    let pinned = std::fs::read_to_string(&requirements).unwrap();
    std::fs::write(&requirements, format!("{pinned}PyYAML==6.0.2\n")).unwrap();
    let built = project.xtask(&["build"]);
    let log = stderr(&built);
    assert_eq!(built.status.code(), Some(0), "{log}");
    let (code, lines) = run_in(
        &engine,
        &project,
        &tag(":latest-arm64"),
        "/opt/venv/bin/python -c 'import platform, yaml._yaml; print(platform.machine(), yaml.__with_libyaml__)'",
    );
    assert_eq!(
        (code, lines.as_slice()),
        (0, ["aarch64 True".to_owned()].as_slice())
    );

    // A package the index has no aarch64 wheel of (crcmod 1.7: an sdist with a C extension, built here for x86_64):
    // the builder fetches its sdist, and step `images arm64` builds it in the arm64 builder base under emulation,
    // made only now; its C extension loads in the arm64 image.
    std::fs::write(&requirements, format!("{pinned}crcmod==1.7\n")).unwrap();
    let built = project.xtask(&["build"]);
    let log = stderr(&built);
    assert_eq!(built.status.code(), Some(0), "{log}");
    assert!(
        log.contains("no aarch64 wheel of crcmod 1.7 on the index: fetching its sdist"),
        "{log}"
    );
    assert!(
        log.contains("building crcmod 1.7 for arm64 from crcmod-1.7.tar.gz in dockyard/python-builder:bookworm-arm64 (base.builder-arm64)"),
        "{log}"
    );
    let (code, lines) = run_in(
        &engine,
        &project,
        &tag(":latest-arm64"),
        "/opt/venv/bin/python -c 'import platform, crcmod._crcfunext; from crcmod.crcmod import _usingExtension; print(platform.machine(), _usingExtension)'",
    );
    assert_eq!(
        (code, lines.as_slice()),
        (0, ["aarch64 True".to_owned()].as_slice())
    );
    assert_no_leftovers(&engine, &project);
    dockyard_reliability::record(
        dockyard_reliability::Category::Fault,
        "platform_wheel_for_this_machine_only",
        "[platforms] linux/amd64 + linux/arm64 with crcmod==1.7 added: the builder (amd64) builds its sdist into a cp311 x86_64 wheel, and the index has no aarch64 wheel of it",
        "the builder fetches its sdist; step `images arm64` makes the arm64 builder base (only then) and builds the sdist there under emulation; the arm64 image loads crcmod's C extension; nothing left behind (PyYAML, which has aarch64 wheels, takes the index's)",
        "xtask::platforms::the_images_are_made_for_arm64_too_and_the_arm64_app_passes_its_health_check_under_emulation",
    );
    crate::smoke::cleanup_images(&engine, &project);
    runtime().block_on(async {
        for suffix in [":latest-arm64", "-nginx:latest-arm64"] {
            let _ = engine.remove_image(&tag(suffix)).await;
        }
    });
}

/// Whether this machine (amd64) runs arm64 binaries through qemu; `false` after a loud skip line where it does not,
/// a failure under CI (`.ci/run` enables it).
pub(crate) fn emulation_or_skip(test: &str) -> bool {
    if dockyard_base::native_architecture() != "amd64" {
        eprintln!("SKIPPED {test}: the test makes arm64 images on an amd64 machine");
        return false;
    }
    if let Err(error) = dockyard_base::check_emulation(
        "dockyard/python-runtime:bookworm-arm64",
        "arm64",
        std::path::Path::new(dockyard_base::BINFMT_DIR),
    ) {
        assert!(
            std::env::var_os("CI").is_none(),
            "{error} (.ci/run enables it)"
        );
        eprintln!("SKIPPED {test}: {error}");
        return false;
    }
    true
}

/// Runs `image` (an arm64 app image) under emulation until its own HEALTHCHECK (Python asking /health/) says healthy.
fn assert_healthy_under_emulation(
    engine: &dockyard_engine::Engine,
    project: &Project,
    image: &str,
) {
    let health = runtime().block_on(async {
        let spec = dockyard_engine::ContainerSpec {
            image: image.to_owned(),
            env: vec![
                "DJANGO_SECRET_KEY=platform-test-only-not-a-secret-0123456789abcdef".to_owned(),
                "DJANGO_ALLOWED_HOSTS=localhost,127.0.0.1".to_owned(),
                "DATABASE_URL=sqlite:////data/platform.sqlite3".to_owned(),
                "DJANGO_SECURE_SSL_REDIRECT=false".to_owned(),
            ],
            labels: BTreeMap::from([(
                dockyard_engine::PROJECT_LABEL.to_owned(),
                project.name.clone(),
            )]),
            health_interval: Some(std::time::Duration::from_secs(2)),
            ..dockyard_engine::ContainerSpec::default()
        };
        let container = engine.create_container(&spec).await.unwrap();
        engine.start_container(&container).await.unwrap();
        let started = std::time::Instant::now();
        let mut state = engine.container_state(&container).await.unwrap();
        while state.health == dockyard_engine::HealthStatus::Starting
            && !state.status.has_ended()
            && started.elapsed() < std::time::Duration::from_secs(300)
        {
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            state = engine.container_state(&container).await.unwrap();
        }
        let logs = engine.logs_tail(&container, 30).await.unwrap_or_default();
        let _ = engine.remove_container(&container).await;
        (state.health, started.elapsed(), logs)
    });
    assert_eq!(
        health.0,
        dockyard_engine::HealthStatus::Healthy,
        "{image} after {:?}:\n{}",
        health.1,
        health.2.join("\n")
    );
    eprintln!("{image} was healthy under emulation after {:?}", health.1);
}

/// `release` against a local registry: each image's platforms pushed as `TAG-ARCH`, one index per tag naming both
/// (its digest the image's in release.json, which holds each platform's digest and matches its schema), and the arm64
/// app pulled back by its digest into an engine without it, healthy under emulation.
fn release_one_index_per_tag(
    engine: &dockyard_engine::Engine,
    project: &Project,
    app_arm64_id: &str,
) {
    let Some(registry) = LocalRegistry::start() else {
        return;
    };
    let output = release(project, &registry.address, "1.0.0");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_matches_schema(project);
    // The gates covered arm64 too: its own smoke run under emulation, its images in the scan.
    let smoke: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project.path(&format!(
            "target/dockyard/{}-smoke-arm64.json",
            project.name
        )))
        .expect("the arm64 smoke report"),
    )
    .unwrap();
    assert_eq!(smoke["passed"], true, "{smoke}");
    assert!(smoke["n_passed"].as_u64().unwrap() > 5, "{smoke}");
    assert!(
        smoke["notes"].as_array().unwrap().iter().any(|note| note
            .as_str()
            .unwrap()
            .starts_with("linux/arm64 under emulation: start-up timeout")),
        "{smoke}"
    );
    let scan = std::fs::read_to_string(
        project.path(&format!("target/dockyard/{}-scan.json", project.name)),
    )
    .expect("the scan report");
    for image in ["\"app linux/arm64\"", "\"nginx linux/arm64\""] {
        assert!(scan.contains(image), "{image} not scanned:\n{scan}");
    }
    let manifest = release_json(project);
    let images = manifest["images"].as_array().unwrap();
    assert_eq!(images.len(), 2, "{manifest}");
    let mut app_arm64_digest = None;
    for image in images {
        let repository = image["repository"].as_str().unwrap();
        let path = repository.trim_start_matches(&format!("{}/", registry.address));
        let digest = image["digest"].as_str().unwrap();
        let platforms: Vec<(&str, &str)> = image["platforms"]
            .as_array()
            .unwrap_or_else(|| panic!("no platforms in {image}"))
            .iter()
            .map(|entry| {
                (
                    entry["platform"].as_str().unwrap(),
                    entry["digest"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            platforms
                .iter()
                .map(|(platform, _)| *platform)
                .collect::<Vec<_>>(),
            ["linux/amd64", "linux/arm64"],
            "{image}"
        );
        for tag in ["1.0.0", "latest"] {
            assert_eq!(
                registry.manifest_digest(path, tag).as_deref(),
                Some(digest),
                "{path}:{tag}"
            );
        }
        let index = registry.manifest(path, "1.0.0").expect("the index");
        assert_eq!(
            index["mediaType"], "application/vnd.docker.distribution.manifest.list.v2+json",
            "{index}"
        );
        let entries: Vec<(String, &str)> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| {
                let platform = &entry["platform"];
                (
                    format!(
                        "{}/{}",
                        platform["os"].as_str().unwrap(),
                        platform["architecture"].as_str().unwrap()
                    ),
                    entry["digest"].as_str().unwrap(),
                )
            })
            .collect();
        let expected: Vec<(String, &str)> = platforms
            .iter()
            .map(|(platform, digest)| ((*platform).to_owned(), *digest))
            .collect();
        assert_eq!(entries, expected, "{index}");
        for (platform, platform_digest) in &platforms {
            let architecture = platform.trim_start_matches("linux/");
            assert_eq!(
                registry
                    .manifest_digest(path, &format!("1.0.0-{architecture}"))
                    .as_deref(),
                Some(*platform_digest),
                "{path}:1.0.0-{architecture}"
            );
        }
        if image["name"] == "app" {
            app_arm64_digest = Some(format!("{repository}@{}", platforms[1].1));
        }
    }
    // The arm64 app, from the registry into an engine that no longer holds it.
    let by_digest = app_arm64_digest.expect("the app image");
    runtime().block_on(async {
        for reference in [
            format!("{}:latest-arm64", project.name),
            format!("{}/{}:1.0.0-arm64", registry.address, project.name),
        ] {
            let _ = engine.remove_image(&reference).await;
        }
        assert!(
            engine.image(app_arm64_id).await.unwrap().is_none(),
            "the local arm64 image is gone before the pull"
        );
        engine
            .pull_image_with_credentials(&by_digest, None, &mut |_| {})
            .await
            .unwrap();
    });
    let pulled = runtime()
        .block_on(engine.image(&by_digest))
        .unwrap()
        .expect("the pulled arm64 image");
    assert_eq!(pulled.architecture, "arm64");
    assert_eq!(pulled.id, app_arm64_id, "the image pulled is the one made");
    assert_healthy_under_emulation(engine, project, &by_digest);
    let repositories = [project.name.clone(), format!("{}-nginx", project.name)];
    runtime().block_on(async {
        for repository in &repositories {
            for tag in [
                "1.0.0",
                "latest",
                "sha-unknown",
                "1.0.0-amd64",
                "1.0.0-arm64",
            ] {
                let _ = engine
                    .remove_image(&format!("{}/{repository}:{tag}", registry.address))
                    .await;
            }
        }
        let _ = engine.remove_image(&by_digest).await;
    });
}

/// Runs `script` with `sh -c` in a container of `image` (labelled with the project); its exit code and output lines.
fn run_in(
    engine: &dockyard_engine::Engine,
    project: &Project,
    image: &str,
    script: &str,
) -> (i64, Vec<String>) {
    runtime().block_on(async {
        let spec = dockyard_engine::ContainerSpec {
            image: image.to_owned(),
            cmd: vec!["sh".to_owned(), "-c".to_owned(), script.to_owned()],
            labels: BTreeMap::from([(
                dockyard_engine::PROJECT_LABEL.to_owned(),
                project.name.clone(),
            )]),
            ..dockyard_engine::ContainerSpec::default()
        };
        let container = engine.create_container(&spec).await.unwrap();
        engine.start_container(&container).await.unwrap();
        let code = engine.wait_container(&container).await.unwrap();
        let lines = engine.logs_tail(&container, 10).await.unwrap();
        let _ = engine.remove_container(&container).await;
        (
            code,
            lines.iter().map(|line| line.trim().to_owned()).collect(),
        )
    })
}
