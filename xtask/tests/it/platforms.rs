//! Foreign architectures on this machine: a base bootstrapped for arm64 under qemu's user-mode emulation, recorded as
//! arm64 in its configuration (the engine's import records its own), and a container of it running under emulation.

use std::collections::BTreeMap;

use crate::support::{engine_or_skip, runtime, stderr, Project};

/// The probe base: Debian's essential set for arm64 (dpkg and a shell; the point is the architecture, not packages).
const PROBE: &str = "dockyard/it-arm64-probe:bookworm";

#[test]
fn an_arm64_base_is_bootstrapped_under_emulation_and_recorded_as_arm64() {
    let test = "an_arm64_base_is_bootstrapped_under_emulation_and_recorded_as_arm64";
    let Some((engine, _lock)) = engine_or_skip(test) else {
        return;
    };
    if dockyard_base::native_architecture() == "arm64" {
        eprintln!("SKIPPED {test}: this machine is arm64 itself");
        return;
    }
    if let Err(error) = dockyard_base::check_emulation(
        PROBE,
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
    let project = Project::copy("dockyard-it-arm64");
    let path = project.path("deploy.toml");
    let deploy = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        format!("{deploy}\n[base.arm64-probe]\nimage = \"{PROBE}\"\n\n[base.arm64-probe.bootstrap]\nsuite = \"bookworm\"\nvariant = \"essential\"\narchitecture = \"arm64\"\n"),
    )
    .unwrap();
    runtime().block_on(async {
        let _ = engine.remove_image(PROBE).await;
    });
    let doctor = project.xtask(&["doctor"]);
    assert!(
        String::from_utf8_lossy(&doctor.stdout)
            .contains("qemu-aarch64 enabled in binfmt_misc (bases arm64-probe)")
            || stderr(&doctor).contains("qemu-aarch64 enabled in binfmt_misc (bases arm64-probe)"),
        "doctor did not report the emulation:\n{}{}",
        String::from_utf8_lossy(&doctor.stdout),
        stderr(&doctor)
    );
    let base = project.xtask(&["base"]);
    let log = stderr(&base);
    assert_eq!(base.status.code(), Some(0), "{log}");
    assert!(log.contains("arm64: qemu-aarch64"), "{log}");
    assert!(log.contains(&format!("{PROBE} recorded as arm64")), "{log}");
    let image = runtime()
        .block_on(engine.image(PROBE))
        .unwrap()
        .expect("the probe base is in the engine");
    assert_eq!(image.architecture, "arm64");
    // The recipe label survives the rewrite, so the next run finds the base present.
    let again = project.xtask(&["base"]);
    assert!(
        stderr(&again).contains(&format!("==> base arm64-probe: {PROBE} present")),
        "{}",
        stderr(&again)
    );
    // Its binaries are arm64's, run by qemu.
    let output = runtime().block_on(async {
        let spec = dockyard_engine::ContainerSpec {
            image: PROBE.to_owned(),
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
        let _ = engine.remove_image(PROBE).await;
        (code, lines)
    });
    assert_eq!(output.0, 0, "{:?}", output.1);
    let lines: Vec<&str> = output.1.iter().map(|line| line.trim()).collect();
    assert_eq!(lines, ["aarch64", "arm64"]);
}
