//! A hostile builder on a real engine: a builder script that leaves links, devices and special mode bits in `/out`; each export is refused naming the entry (exit 6) or neutralised, nothing is written outside the project's `target/`, and nothing is left behind.
//!
//! A `..` or absolute entry cannot come from a builder: the engine's archive endpoint names entries
//! after real files below `/out`, so those are tried engine-free in dockyard-context's `unpack` tests.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use dockyard_engine::Engine;
use dockyard_reliability::{record, Category};

use crate::support::{engine_or_skip, runtime, stderr, Project};

/// A builder script that makes a minimal `/out` and then runs `hostile` (bash) in it.
fn hostile_builder_script(hostile: &str) -> String {
    format!(
        "#!/bin/bash\nset -euo pipefail\nprintf '==> dockyard step: %s\\n' hostile\n\
         mkdir -p /out/app /out/wheels /out/staticfiles\n\
         echo fine > /out/app/ok.txt\ncd /out/app\n{hostile}\n\
         printf '==> dockyard step: %s\\n' done\n"
    )
}

/// Every file below the project folder outside `target/`, with its bytes (symlinks by target).
fn project_outside_target(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(|entry| entry.file_name() != "target" || entry.depth() != 1)
        .map(|entry| entry.unwrap())
        .map(|entry| {
            let relative = entry.path().strip_prefix(root).unwrap().to_path_buf();
            let bytes = if entry.file_type().is_symlink() {
                std::fs::read_link(entry.path())
                    .unwrap()
                    .into_os_string()
                    .into_encoded_bytes()
            } else if entry.file_type().is_file() {
                std::fs::read(entry.path()).unwrap()
            } else {
                Vec::new()
            };
            (relative, bytes)
        })
        .collect()
}

fn work_folders(project: &Project) -> Vec<String> {
    std::fs::read_dir(project.path("target/dockyard"))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with("work-"))
                .collect()
        })
        .unwrap_or_default()
}

fn assert_nothing_left(engine: &Engine, project: &Project) {
    crate::support::assert_no_leftovers(engine, project);
    assert!(
        work_folders(project).is_empty(),
        "a work folder is left in target/dockyard: {:?}",
        work_folders(project)
    );
}

/// `type mode path [-> link]` for every entry of the context tarball.
fn context_entries(project: &Project) -> Vec<String> {
    let path = project.path(&format!("target/dockyard/{}-context.tar.gz", project.name));
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_end(&mut tar_bytes)
        .unwrap();
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let header = entry.header();
            format!(
                "{:?} {:04o} {}{}",
                header.entry_type(),
                header.mode().unwrap(),
                String::from_utf8_lossy(&entry.path_bytes()),
                entry
                    .link_name_bytes()
                    .map(|link| format!(" -> {}", String::from_utf8_lossy(&link)))
                    .unwrap_or_default()
            )
        })
        .collect()
}

#[test]
fn a_hostile_builder_export_is_refused_or_neutralised_and_nothing_escapes_target() {
    let Some((engine, _lock)) = engine_or_skip(
        "a_hostile_builder_export_is_refused_or_neutralised_and_nothing_escapes_target",
    ) else {
        return;
    };
    let project = Project::copy("dockyard-it-hostile-builder");
    let script_path = project.path("docker/builder/dockyard-build");

    // Refused: the export stops with BUILD_FAILED and a message naming the entry.
    let refused = [
        (
            "symlink to /etc/passwd",
            "ln -s /etc/passwd passwd",
            "app/passwd is a symlink pointing outside the extraction folder: /etc/passwd",
        ),
        (
            "symlink climbing out of /out",
            "ln -s ../../../etc/shadow shadow",
            "app/shadow is a symlink pointing outside the extraction folder: ../../../etc/shadow",
        ),
        (
            "character device",
            "mknod null c 1 3",
            "app/null is a character device, which is not allowed",
        ),
        (
            "fifo",
            "mkfifo pipe",
            "app/pipe is a fifo, which is not allowed",
        ),
        (
            "hard link inside /out",
            "ln ok.txt ok-again.txt",
            "is a hard link to",
        ),
    ];
    for (name, hostile, expected) in refused {
        std::fs::write(&script_path, hostile_builder_script(hostile)).unwrap();
        let before = project_outside_target(project.dir.path());
        let output = project.xtask(&["export"]);
        let log = stderr(&output);
        assert_eq!(output.status.code(), Some(6), "{name}: {log}");
        assert!(
            log.contains(expected),
            "{name}: `{expected}` not in:\n{log}"
        );
        assert!(
            log.contains("hint: the exported archive was refused"),
            "{name}: no hint in:\n{log}"
        );
        assert!(
            !project
                .path(&format!("target/dockyard/{}-context.tar.gz", project.name))
                .exists(),
            "{name}: a context was written from a refused export"
        );
        assert_eq!(
            project_outside_target(project.dir.path()),
            before,
            "{name}: the project changed outside target/"
        );
        assert_nothing_left(&engine, &project);
        let error_line = log
            .lines()
            .find(|line| line.starts_with("error: "))
            .unwrap_or_default()
            .to_owned();
        record(
            Category::HostileBuilder,
            &format!("engine: {name}"),
            &format!("a builder script running `{hostile}` in /out/app"),
            &format!(
                "exit 6, `{}`, hint shown, no context written, project unchanged outside target/, no work folder or labelled resource left",
                error_line.trim_start_matches("error: ")
            ),
            "xtask::hostile_builder::a_hostile_builder_export_is_refused_or_neutralised_and_nothing_escapes_target",
        );
    }

    // Neutralised: special mode bits and a hard link to a file outside /out.
    std::fs::write(
        &script_path,
        hostile_builder_script(
            "printf '#!/bin/sh\\n' > suid && chmod 4755 suid\n\
             echo data > sgid && chmod 2666 sgid\n\
             mkdir shared && chmod 1777 shared\n\
             echo open > open && chmod 0777 open\n\
             ln /etc/passwd passwd-hardlink",
        ),
    )
    .unwrap();
    let before = project_outside_target(project.dir.path());
    let output = project.xtask(&["export"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(project_outside_target(project.dir.path()), before);
    assert_nothing_left(&engine, &project);
    let entries = context_entries(&project);
    for expected in [
        "Regular 0755 app/suid",
        "Regular 0644 app/sgid",
        "Directory 0755 app/shared/",
        "Regular 0755 app/open",
        "Regular 0644 app/passwd-hardlink",
    ] {
        assert!(
            entries.iter().any(|entry| entry == expected),
            "`{expected}` not in {entries:#?}"
        );
    }
    assert!(
        !entries.iter().any(|entry| entry.starts_with("Link ")),
        "{entries:#?}"
    );
    record(
        Category::HostileBuilder,
        "engine: setuid, setgid, sticky, world-writable and a hard link to /etc/passwd",
        "a builder script leaving app/suid 4755, app/sgid 2666, app/shared 1777, app/open 0777 and a hard link to the container's /etc/passwd in /out",
        "exit 0; the context holds app/suid 0755, app/sgid 0644, app/shared/ 0755, app/open 0755, and the hard link as a plain 0644 copy of the container's own file (the engine stores a link whose target is outside /out as a file); no link entry",
        "xtask::hostile_builder::a_hostile_builder_export_is_refused_or_neutralised_and_nothing_escapes_target",
    );

    runtime().block_on(async {
        let _ = engine
            .remove_image(&format!("{}-builder:latest", project.name))
            .await;
    });
}
