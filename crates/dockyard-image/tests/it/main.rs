//! Layers, configurations and archives: the same inputs give the same bytes, and the engine's format is what is
//! written.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use dockyard_image::{
    read_saved_layers, with_env, write_archive, ArchiveLayer, Healthcheck, ImageConfig,
    LayerBuilder, Owner, RuntimeConfig,
};

/// (path, type, mode, uid, size) of every entry of a tar file, in order.
fn listing(path: &Path) -> Vec<(String, char, u32, u64, u64)> {
    let mut archive = tar::Archive::new(std::fs::File::open(path).unwrap());
    archive
        .entries()
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let header = entry.header();
            let kind = match header.entry_type() {
                tar::EntryType::Directory => 'd',
                tar::EntryType::Symlink => 'l',
                _ => 'f',
            };
            (
                entry.path().unwrap().to_string_lossy().into_owned(),
                kind,
                header.mode().unwrap(),
                header.uid().unwrap(),
                header.size().unwrap(),
            )
        })
        .collect()
}

fn sample_tree(root: &Path) {
    std::fs::create_dir_all(root.join("pkg/sub")).unwrap();
    std::fs::write(root.join("pkg/mod.py"), "x = 1\n").unwrap();
    std::fs::write(root.join("pkg/sub/run.sh"), "#!/bin/sh\n").unwrap();
    std::fs::write(root.join("manage.py"), "print()\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            root.join("pkg/sub/run.sh"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        std::fs::set_permissions(
            root.join("manage.py"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        std::os::unix::fs::symlink("/usr/bin/python3", root.join("python")).unwrap();
    }
}

fn layer(root: &Path, out: &Path, mtime: u64) -> dockyard_image::Layer {
    let mut builder = LayerBuilder::new(mtime);
    builder.directory("data", 0o755, Owner::Id(10001)).unwrap();
    builder.tree("/app/", root).unwrap();
    builder
        .file("app/static/staticfiles.json", b"{}".to_vec(), 0o644)
        .unwrap();
    builder.opaque("etc/nginx/sites-enabled").unwrap();
    builder.write(out).unwrap()
}

#[test]
fn a_layer_lists_parents_first_with_normalised_modes_and_owners() {
    let dir = tempfile::tempdir().unwrap();
    sample_tree(&dir.path().join("src"));
    let written = layer(&dir.path().join("src"), &dir.path().join("layer.tar"), 0);
    let entries = listing(&written.path);
    let expected: Vec<(String, char, u32, u64, u64)> = [
        ("app/", 'd', 0o755, 0, 0),
        ("app/manage.py", 'f', 0o644, 0, 8),
        ("app/pkg/", 'd', 0o755, 0, 0),
        ("app/pkg/mod.py", 'f', 0o644, 0, 6),
        ("app/pkg/sub/", 'd', 0o755, 0, 0),
        ("app/pkg/sub/run.sh", 'f', 0o755, 0, 10),
        ("app/python", 'l', 0o777, 0, 0),
        ("app/static/", 'd', 0o755, 0, 0),
        ("app/static/staticfiles.json", 'f', 0o644, 0, 2),
        ("data/", 'd', 0o755, 10001, 0),
        ("etc/", 'd', 0o755, 0, 0),
        ("etc/nginx/", 'd', 0o755, 0, 0),
        ("etc/nginx/sites-enabled/", 'd', 0o755, 0, 0),
        ("etc/nginx/sites-enabled/.wh..wh..opq", 'f', 0o644, 0, 0),
    ]
    .into_iter()
    .map(|(path, kind, mode, uid, size)| (path.to_owned(), kind, mode, uid, size))
    .collect();
    assert_eq!(entries, expected);
    assert_eq!(
        written.size,
        std::fs::metadata(&written.path).unwrap().len()
    );
}

#[test]
fn the_same_files_give_the_same_diff_id_whatever_their_times_and_a_change_gives_another() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    sample_tree(&one);
    sample_tree(&two);
    // The second tree's files get other times than the first's.
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
    for file in ["pkg/mod.py", "manage.py"] {
        std::fs::File::options()
            .write(true)
            .open(two.join(file))
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let first = layer(&one, &dir.path().join("1.tar"), 1_700_000_000);
    let second = layer(&two, &dir.path().join("2.tar"), 1_700_000_000);
    assert_eq!(first.diff_id, second.diff_id);
    assert_eq!(
        std::fs::read(&first.path).unwrap(),
        std::fs::read(&second.path).unwrap()
    );
    std::fs::write(two.join("pkg/mod.py"), "x = 2\n").unwrap();
    let changed = layer(&two, &dir.path().join("3.tar"), 1_700_000_000);
    assert_ne!(first.diff_id, changed.diff_id);
    let other_time = layer(&one, &dir.path().join("4.tar"), 0);
    assert_ne!(
        first.diff_id, other_time.diff_id,
        "the mtime is part of the bytes"
    );
}

#[test]
fn bad_paths_and_a_file_where_a_folder_is_are_refused() {
    let mut builder = LayerBuilder::new(0);
    for bad in ["", "/", "a/../b", ".."] {
        let error = builder.file(bad, Vec::new(), 0o644).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("is not a path an image may hold"),
            "{bad}: {error}"
        );
    }
    builder.file("etc/passwd", b"root".to_vec(), 0o644).unwrap();
    let error = builder.file("etc/passwd/x", Vec::new(), 0o644).unwrap_err();
    assert_eq!(
        error.to_string(),
        "two entries for /etc/passwd in one layer"
    );
    let error = builder
        .directory("etc/passwd", 0o755, Owner::Root)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "two entries for /etc/passwd in one layer"
    );
    // A later file replaces an earlier one, as a later COPY does.
    builder
        .file("etc/passwd", b"root\napp".to_vec(), 0o644)
        .unwrap();
}

fn config() -> ImageConfig {
    let runtime = RuntimeConfig {
        user: "10001:10001".to_owned(),
        exposed_ports: vec!["8000/tcp".to_owned()],
        env: with_env(
            &[
                "PATH=/usr/bin:/bin".to_owned(),
                "PYTHON_VERSION=3.11.2".to_owned(),
            ],
            &[
                ("PATH", "/opt/venv/bin:/usr/bin:/bin".to_owned()),
                ("PORT", "8000".to_owned()),
            ],
        ),
        cmd: vec![
            "/opt/venv/bin/gunicorn".to_owned(),
            "sample.wsgi".to_owned(),
        ],
        healthcheck: Some(Healthcheck {
            test: vec!["CMD".to_owned(), "true".to_owned()],
            interval: 10_000_000_000,
            timeout: 5_000_000_000,
            start_period: 30_000_000_000,
            retries: 3,
        }),
        working_dir: "/app".to_owned(),
        labels: BTreeMap::from([(
            "org.opencontainers.image.title".to_owned(),
            "sample".to_owned(),
        )]),
        stop_signal: "SIGTERM".to_owned(),
    };
    ImageConfig::new(
        "amd64",
        "2026-12-04T00:00:00Z",
        runtime,
        &[
            ("sha256:aa".to_owned(), "base image".to_owned()),
            ("sha256:bb".to_owned(), "the app".to_owned()),
        ],
    )
}

#[test]
fn the_configuration_is_the_engines_json_and_its_sha256_is_the_image_id() {
    let config = config();
    let bytes = config.to_bytes();
    insta::assert_snapshot!(String::from_utf8(bytes.clone()).unwrap());
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        value["config"]["Env"][0], "PATH=/opt/venv/bin:/usr/bin:/bin",
        "ENV replaces in place"
    );
    assert_eq!(
        value["config"]["Env"][2], "PORT=8000",
        "and appends new keys"
    );
    use sha2::Digest;
    assert_eq!(
        config.image_id(),
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&bytes)))
    );
    assert_eq!(config.image_id(), self::config().image_id());
}

#[test]
fn an_archive_names_every_layer_holds_those_with_a_file_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut builder = LayerBuilder::new(0);
    builder
        .file("hello.txt", b"hello\n".to_vec(), 0o644)
        .unwrap();
    let top = builder.write(&dir.path().join("top.tar")).unwrap();
    let mut config = config();
    config.rootfs.diff_ids = vec!["sha256:aa".to_owned(), top.diff_id.clone()];
    let layers = [
        ArchiveLayer {
            diff_id: "sha256:aa".to_owned(),
            file: None,
        },
        ArchiveLayer {
            diff_id: top.diff_id.clone(),
            file: Some(top.path.clone()),
        },
    ];
    let archive = dir.path().join("image.tar");
    write_archive(&archive, &config, "sample:latest", &layers).unwrap();
    let names: Vec<String> = listing(&archive).into_iter().map(|entry| entry.0).collect();
    let config_name = format!("{}.json", config.image_id().trim_start_matches("sha256:"));
    let top_name = format!("{}/layer.tar", top.diff_id.trim_start_matches("sha256:"));
    assert_eq!(
        names,
        [
            config_name.clone(),
            top_name.clone(),
            "manifest.json".to_owned()
        ]
    );
    let mut tar = tar::Archive::new(std::fs::File::open(&archive).unwrap());
    let mut manifest = String::new();
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().to_str() == Some("manifest.json") {
            entry.read_to_string(&mut manifest).unwrap();
        }
    }
    assert_eq!(
        manifest,
        format!(
            r#"[{{"Config":"{config_name}","Layers":["aa/layer.tar","{top_name}"],"RepoTags":["sample:latest"]}}]"#
        )
    );

    // An archive holding every layer (what an engine's export writes) reads back bottom first.
    let bottom = {
        let mut builder = LayerBuilder::new(0);
        builder.file("base.txt", b"base\n".to_vec(), 0o644).unwrap();
        builder.write(&dir.path().join("bottom.tar")).unwrap()
    };
    config.rootfs.diff_ids = vec![bottom.diff_id.clone(), top.diff_id.clone()];
    let full = [
        ArchiveLayer {
            diff_id: bottom.diff_id.clone(),
            file: Some(bottom.path.clone()),
        },
        ArchiveLayer {
            diff_id: top.diff_id.clone(),
            file: Some(top.path.clone()),
        },
    ];
    write_archive(&archive, &config, "sample:latest", &full).unwrap();
    let out = dir.path().join("read");
    std::fs::create_dir(&out).unwrap();
    let read = read_saved_layers(&archive, &out).unwrap();
    assert_eq!(
        read.iter()
            .map(|layer| layer.diff_id.clone())
            .collect::<Vec<_>>(),
        config.rootfs.diff_ids
    );
    assert_eq!(
        std::fs::read(read[0].file.as_ref().unwrap()).unwrap(),
        std::fs::read(&bottom.path).unwrap()
    );
}

#[test]
fn a_saved_image_is_retargeted_to_another_architecture_without_its_layer_files() {
    use sha2::Digest;
    let folder = tempfile::tempdir().unwrap();
    // What the engine's export writes for an imported root filesystem: the configuration, one layer, the manifest.
    let saved = folder.path().join("saved.tar");
    let config = br#"{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]}}"#;
    {
        let mut tar = tar::Builder::new(std::fs::File::create(&saved).unwrap());
        let mut append = |name: &str, bytes: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, name, bytes).unwrap();
        };
        append("0123.json", config);
        append("aa/layer.tar", &[0u8; 1024]);
        append("manifest.json", br#"[{"Config":"0123.json","RepoTags":["dockyard/it:bookworm"],"Layers":["aa/layer.tar"]}]"#);
        tar.finish().unwrap();
    }
    let out = folder.path().join("out.tar");
    let id = dockyard_image::retarget_saved_image(
        &saved,
        &out,
        "dockyard/it:bookworm",
        "arm64",
        Some("v8"),
    )
    .unwrap();
    let mut members: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut archive = tar::Archive::new(std::fs::File::open(&out).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        members.insert(name, bytes);
    }
    let config_name = format!("{}.json", id.trim_start_matches("sha256:"));
    assert_eq!(
        members.keys().cloned().collect::<Vec<_>>(),
        [config_name.clone(), "manifest.json".to_owned()],
        "the configuration and the manifest, no layer file"
    );
    let written = &members[&config_name];
    assert_eq!(
        id,
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(written)))
    );
    let written: serde_json::Value = serde_json::from_slice(written).unwrap();
    assert_eq!(written["architecture"], "arm64");
    assert_eq!(written["variant"], "v8");
    assert_eq!(written["rootfs"]["diff_ids"][0], "sha256:aa");
    assert_eq!(written["config"]["Env"][0], "PATH=/usr/bin");
    let manifest: serde_json::Value = serde_json::from_slice(&members["manifest.json"]).unwrap();
    assert_eq!(manifest[0]["Config"], config_name.as_str());
    assert_eq!(manifest[0]["RepoTags"][0], "dockyard/it:bookworm");
    assert_eq!(manifest[0]["Layers"][0], "aa/layer.tar");
    assert_eq!(dockyard_image::oci_architecture("armhf"), "arm");
    assert_eq!(dockyard_image::oci_variant("amd64"), None);
}
