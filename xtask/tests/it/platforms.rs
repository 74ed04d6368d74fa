//! Another platform on this machine: the sample with `[platforms]` linux/amd64 + linux/arm64, its arm64 bases
//! bootstrapped under qemu's user-mode emulation and recorded as arm64 (the engine's import records its own), their
//! containers running under emulation, the arm64 images assembled from the same context and the arm64 app healthy.

use std::collections::BTreeMap;

use crate::support::{assert_no_leftovers, engine_or_skip, runtime, stderr, Project};

/// The sample's bases for arm64, written beside its own (deploy.toml writes its runtime and nginx bases itself).
const ARM64_BASES: &str = r#"
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
"#;

#[test]
fn the_images_are_made_for_arm64_too_and_the_arm64_app_passes_its_health_check_under_emulation() {
    let test = "the_images_are_made_for_arm64_too_and_the_arm64_app_passes_its_health_check_under_emulation";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    if dockyard_base::native_architecture() != "amd64" {
        eprintln!("SKIPPED {test}: the test makes arm64 images on an amd64 machine");
        return;
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
        said.contains("qemu-aarch64 enabled in binfmt_misc (bases nginx-arm64, runtime-arm64)"),
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
    let (code, lines) = runtime().block_on(async {
        let spec = dockyard_engine::ContainerSpec {
            image: "dockyard/nginx:bookworm-arm64".to_owned(),
            cmd: vec![
                "sh".to_owned(),
                "-c".to_owned(),
                "uname -m; dpkg --print-architecture".to_owned(),
            ],
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
        (code, lines)
    });
    assert_eq!(code, 0, "{lines:?}");
    let lines: Vec<&str> = lines.iter().map(|line| line.trim()).collect();
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
    let health = runtime().block_on(async {
        let spec = dockyard_engine::ContainerSpec {
            image: app_arm64.id.clone(),
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
        "after {:?}:\n{}",
        health.1,
        health.2.join("\n")
    );
    eprintln!(
        "the arm64 app was healthy under emulation after {:?}",
        health.1
    );

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
    let release = project.xtask(&["release", "--dry-run"]);
    assert_eq!(release.status.code(), Some(11), "{}", stderr(&release));
    assert!(
        stderr(&release).contains("release refused: [platforms] lists linux/arm64, and Dockyard does not push an image index of several platforms yet"),
        "{}",
        stderr(&release)
    );
    // A wheel built for this machine alone: the arm64 install refuses it, naming the platform and the package.
    let requirements = project.path("app/requirements.txt");
    let pinned = std::fs::read_to_string(&requirements).unwrap();
    std::fs::write(&requirements, format!("{pinned}PyYAML==6.0.2\n")).unwrap();
    let failed = project.xtask(&["build"]);
    let log = stderr(&failed);
    assert_eq!(failed.status.code(), Some(6), "{log}");
    assert!(log.contains("on arm64 of [platforms]:"), "{log}");
    assert!(
        log.contains("PyYAML-6.0.2-cp311-cp311-manylinux"),
        "the failure does not name the wheel:\n{log}"
    );
    assert!(log.contains("it failed for arm64 only"), "{log}");
    assert_no_leftovers(&engine, &project);
    dockyard_reliability::record(
        dockyard_reliability::Category::Fault,
        "platform_wheel_for_this_machine_only",
        "[platforms] linux/amd64 + linux/arm64 with PyYAML==6.0.2 added: the builder (amd64) makes a cp311 x86_64 wheel",
        "the amd64 images are made; step `images arm64` fails with exit 6 naming arm64 of [platforms] and the wheel pip refused; nothing left behind",
        "xtask::platforms::the_images_are_made_for_arm64_too_and_the_arm64_app_passes_its_health_check_under_emulation",
    );
    crate::smoke::cleanup_images(&engine, &project);
    runtime().block_on(async {
        for suffix in [":latest-arm64", "-nginx:latest-arm64"] {
            let _ = engine.remove_image(&tag(suffix)).await;
        }
    });
}
