//! Planted secrets on a real engine: a random sentinel in excluded source files, the xtask's environment, the builder's environment and command line, and the CA bundle; after `build`, every artefact is searched and none holds it.
//!
//! Searched: the source tarball sent to the builder, the exported context, the nginx context (all
//! decompressed), every layer of the production and nginx images (decompressed, names and bytes),
//! their history (`created_by`), `Env` and `Labels`, and every file under `target/dockyard/`.
//! Dockyard has no build arguments (the Dockerfile templates are rendered before the build), so the
//! nearest real paths are tried instead: the builder container's command line and environment.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use dockyard_engine::Engine;
use dockyard_reliability::{record, Category};

use crate::support::{engine_or_skip, runtime, stderr, Project};

/// `DOCKYARD_SENTINEL_<16 hex>`, fresh per run.
fn random_sentinel() -> String {
    let mut bytes = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut bytes)
        .unwrap();
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("DOCKYARD_SENTINEL_{hex}")
}

/// Whether the stream holds `needle`, read in 1 MiB chunks (a gzip stream is decompressed first).
fn stream_contains(reader: impl Read, needle: &[u8]) -> bool {
    let mut reader = BufReader::with_capacity(1 << 20, reader);
    let gzip = reader.fill_buf().unwrap().starts_with(&[0x1f, 0x8b]);
    let mut reader: Box<dyn Read> = if gzip {
        Box::new(flate2::read::GzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    let mut window: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        let read = reader.read(&mut chunk).unwrap();
        if read == 0 {
            return false;
        }
        window.extend_from_slice(&chunk[..read]);
        if window.windows(needle.len()).any(|part| part == needle) {
            return true;
        }
        let keep = needle.len().saturating_sub(1).min(window.len());
        window.drain(..window.len() - keep);
    }
}

fn file_contains(path: &Path, needle: &str) -> bool {
    stream_contains(std::fs::File::open(path).unwrap(), needle.as_bytes())
}

/// What one image's search covered.
struct ImageSearch {
    layers: usize,
    layer_hits: Vec<String>,
    control_found: bool,
}

/// Searches every layer of a `docker save` archive for `needle`, and for `control` (a string
/// the image must hold, so a search that cannot see inside layers fails).
fn search_image_layers(archive: &Path, needle: &str, control: &str) -> ImageSearch {
    let mut archive_reader = tar::Archive::new(std::fs::File::open(archive).unwrap());
    let mut search = ImageSearch {
        layers: 0,
        layer_hits: Vec::new(),
        control_found: false,
    };
    let mut layer_entries = Vec::new();
    for entry in archive_reader.entries().unwrap() {
        let entry = entry.unwrap();
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if name.ends_with("/layer.tar") || name.ends_with(".tar.gz") {
            layer_entries.push(name);
        }
    }
    for layer in layer_entries {
        let mut archive_reader = tar::Archive::new(std::fs::File::open(archive).unwrap());
        let entry = archive_reader
            .entries()
            .unwrap()
            .map(|entry| entry.unwrap())
            .find(|entry| String::from_utf8_lossy(&entry.path_bytes()) == layer)
            .unwrap();
        let mut bytes = Vec::new();
        let mut entry = entry;
        entry.read_to_end(&mut bytes).unwrap();
        search.layers += 1;
        if stream_contains(&bytes[..], needle.as_bytes()) {
            search.layer_hits.push(layer.clone());
        }
        if stream_contains(&bytes[..], control.as_bytes()) {
            search.control_found = true;
        }
    }
    search
}

/// A channel a sentinel was planted in: its name, what was tried, and its distinct marker.
struct Channel {
    case: &'static str,
    tried: String,
    marker: String,
}

#[test]
fn a_planted_sentinel_reaches_no_context_layer_history_env_or_label() {
    let Some((engine, _lock)) =
        engine_or_skip("a_planted_sentinel_reaches_no_context_layer_history_env_or_label")
    else {
        return;
    };
    let project = Project::copy("dockyard-it-secrets");
    let _images = ProjectImages::removed_now_and_on_drop(&engine, &project);
    let sentinel = random_sentinel();
    let marker = |channel: &str| format!("{sentinel}-{channel}");
    let channels = [
        Channel {
            case: "source: .env",
            tried: "app/.env holding the sentinel".to_owned(),
            marker: marker("dotenv"),
        },
        Channel {
            case: "source: .env.production",
            tried: "app/sample/.env.production holding the sentinel".to_owned(),
            marker: marker("dotenv-production"),
        },
        Channel {
            case: "source: id_rsa and *.key",
            tried: "app/deploy/id_rsa and app/tls/server.key holding the sentinel".to_owned(),
            marker: marker("private-key"),
        },
        Channel {
            case: "source: [context] exclude",
            tried: "app/secrets.txt, listed in deploy.toml's [context] exclude".to_owned(),
            marker: marker("context-exclude"),
        },
        Channel {
            case: "source: .dockerignore",
            tried: "app/private/notes.txt, listed in app/.dockerignore".to_owned(),
            marker: marker("dockerignore"),
        },
        Channel {
            case: "xtask environment",
            tried: "DOCKYARD_SENTINEL=<sentinel> in the environment of cargo xtask build"
                .to_owned(),
            marker: marker("xtask-env"),
        },
        Channel {
            case: "builder environment (app.env)",
            tried: "[app.env] DOCKYARD_CANARY = <sentinel>, which the builder container receives as environment".to_owned(),
            marker: marker("app-env"),
        },
        Channel {
            case: "builder command line (no build args exist)",
            tried: "the sentinel as a test_command argument (--exclude-tag=<sentinel>), the builder container's command line; Dockyard passes no build args".to_owned(),
            marker: marker("test-command"),
        },
        Channel {
            case: "CA bundle given to the builder",
            tried: "DOCKYARD_CA_BUNDLE pointing at the host bundle plus a line holding the sentinel".to_owned(),
            marker: marker("ca-bundle"),
        },
    ];

    // Plant every channel.
    let secret = |relative: &str, channel: &str| {
        let path = project.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("SECRET={}\n", marker(channel))).unwrap();
    };
    secret("app/.env", "dotenv");
    secret("app/sample/.env.production", "dotenv-production");
    secret("app/deploy/id_rsa", "private-key");
    secret("app/tls/server.key", "private-key");
    secret("app/secrets.txt", "context-exclude");
    secret("app/private/notes.txt", "dockerignore");
    let mut dockerignore = std::fs::read_to_string(project.path("app/.dockerignore")).unwrap();
    dockerignore.push_str("private/\n");
    std::fs::write(project.path("app/.dockerignore"), dockerignore).unwrap();
    let deploy = std::fs::read_to_string(project.path("deploy.toml")).unwrap();
    let edits = [
        (
            "exclude = [\"*.sqlite3\", \"staticfiles/\"]",
            "exclude = [\"*.sqlite3\", \"staticfiles/\", \"secrets.txt\"]".to_owned(),
        ),
        (
            "DJANGO_SECURE_SSL_REDIRECT = \"false\"",
            format!("DJANGO_SECURE_SSL_REDIRECT = \"false\"\nDOCKYARD_CANARY = \"{}\"", marker("app-env")),
        ),
        (
            "test_command = [\"python\", \"manage.py\", \"test\", \"--noinput\", \"-v\", \"2\"]",
            format!(
                "test_command = [\"python\", \"manage.py\", \"test\", \"--noinput\", \"-v\", \"2\", \"--exclude-tag={}\"]",
                marker("test-command")
            ),
        ),
    ];
    let mut deploy = deploy;
    for (old, new) in edits {
        assert!(deploy.contains(old), "deploy.toml has `{old}`");
        deploy = deploy.replace(old, &new);
    }
    std::fs::write(project.path("deploy.toml"), deploy).unwrap();
    let host_bundle = std::fs::read_to_string("/etc/ssl/certs/ca-certificates.crt").unwrap();
    let bundle_path = project.dir.path().join("ca-bundle-for-the-builder.pem");
    std::fs::write(
        &bundle_path,
        format!("# {}\n{host_bundle}", marker("ca-bundle")),
    )
    .unwrap();

    let output = project.xtask_with_env(
        &["build"],
        &[
            ("DOCKYARD_SENTINEL", &marker("xtask-env")),
            ("DOCKYARD_CA_BUNDLE", bundle_path.to_str().unwrap()),
        ],
    );
    let log = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "build failed:\n{log}");
    let bundle_line = format!(
        "CA bundle {} uploaded into the builder container only",
        bundle_path.display()
    );
    let all_output = format!("{}{log}", String::from_utf8_lossy(&output.stdout));
    assert!(
        all_output.contains(&bundle_line),
        "the builder did not get the planted bundle"
    );

    // Search every artefact.
    let target = project.path("target/dockyard");
    let tarballs = [
        format!("{}-source.tar.gz", project.name),
        format!("{}-context.tar.gz", project.name),
        format!("{}-nginx-context.tar.gz", project.name),
    ];
    for tarball in &tarballs {
        let path = target.join(tarball);
        assert!(
            file_contains(&path, "manage.py") || file_contains(&path, "nginx.conf"),
            "control: {tarball} can be searched"
        );
    }
    let mut target_files = 0;
    let logs = target.join("logs");
    let mut hits: Vec<String> = Vec::new();
    for entry in walkdir::WalkDir::new(&target) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            target_files += 1;
            let hit = if entry.path().starts_with(&logs) {
                // The step logs transcribe the run's output, where the app's own test runner echoes its
                // arguments ("Excluding test tag(s): ..."): that one channel may appear there, no other.
                let text = String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap())
                    .replace(&marker("test-command"), "");
                text.contains(&sentinel)
            } else {
                file_contains(entry.path(), &sentinel)
            };
            if hit {
                hits.push(entry.path().display().to_string());
            }
        }
    }

    let images = [
        (format!("{}:latest", project.name), "Welcome to Dockyard"),
        (
            format!("{}-nginx:latest", project.name),
            "server_tokens off",
        ),
    ];
    let saves = tempfile::tempdir().unwrap();
    let mut n_layers = 0;
    let mut n_history = 0;
    let mut n_env = 0;
    let mut n_labels = 0;
    for (tag, control) in &images {
        let (info, history) = runtime().block_on(async {
            (
                engine.image(tag).await.unwrap().unwrap(),
                engine.image_history(tag).await.unwrap(),
            )
        });
        assert!(!history.is_empty() && !info.env.is_empty() && !info.labels.is_empty());
        n_history += history.len();
        n_env += info.env.len();
        n_labels += info.labels.len();
        for line in &history {
            if line.contains(&sentinel) {
                hits.push(format!("{tag} history: {line}"));
            }
        }
        for variable in &info.env {
            if variable.contains(&sentinel) {
                hits.push(format!("{tag} Env: {variable}"));
            }
        }
        for (key, value) in &info.labels {
            if key.contains(&sentinel) || value.contains(&sentinel) {
                hits.push(format!("{tag} label {key}={value}"));
            }
        }
        let archive = saves.path().join("image.tar");
        export_image(&engine, tag, &archive);
        let search = search_image_layers(&archive, &sentinel, control);
        assert!(search.layers > 0, "{tag} has layers");
        assert!(
            search.control_found,
            "control: `{control}` found in the layers of {tag}"
        );
        n_layers += search.layers;
        hits.extend(
            search
                .layer_hits
                .iter()
                .map(|layer| format!("{tag} layer {layer}")),
        );
        if file_contains(&archive, &sentinel) {
            hits.push(format!("{tag} save archive (config or manifest)"));
        }
        std::fs::remove_file(&archive).unwrap();
    }

    let leaked: Vec<&Channel> = channels
        .iter()
        .filter(|channel| hits.iter().any(|hit| hit.contains(&channel.marker)))
        .collect();
    assert!(
        hits.is_empty(),
        "the sentinel {sentinel} leaked: {hits:#?} (channels: {:?})",
        leaked
            .iter()
            .map(|channel| channel.case)
            .collect::<Vec<_>>()
    );

    let searched = format!(
        "absent from the source, context and nginx-context tarballs (decompressed), {target_files} files under target/dockyard, {n_layers} image layers (decompressed, names and bytes), {n_history} history entries, {n_env} Env entries and {n_labels} labels of the app and nginx images"
    );
    for channel in &channels {
        record(
            Category::Secret,
            channel.case,
            &channel.tried,
            &searched,
            "xtask::secrets::a_planted_sentinel_reaches_no_context_layer_history_env_or_label",
        );
    }
}

/// Removes the project's images when created and when dropped (pass or fail), so every run builds afresh.
struct ProjectImages {
    engine: Engine,
    tags: Vec<String>,
}

impl ProjectImages {
    fn removed_now_and_on_drop(engine: &Engine, project: &Project) -> ProjectImages {
        let images = ProjectImages {
            engine: engine.clone(),
            tags: vec![
                format!("{}:latest", project.name),
                format!("{}-builder:latest", project.name),
                format!("{}-nginx:latest", project.name),
            ],
        };
        images.remove();
        images
    }

    fn remove(&self) {
        runtime().block_on(async {
            for tag in &self.tags {
                let _ = self.engine.remove_image(tag).await;
            }
        });
    }
}

impl Drop for ProjectImages {
    fn drop(&mut self) {
        self.remove();
    }
}

fn export_image(engine: &Engine, tag: &str, destination: &Path) {
    runtime()
        .block_on(engine.export_image_to_file(tag, destination))
        .unwrap();
}
