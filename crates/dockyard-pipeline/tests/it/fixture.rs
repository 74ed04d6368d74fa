//! Copies of the real project in temporary folders, a fixed provenance, hand-made state files, and redaction.

use std::path::{Path, PathBuf};

use dockyard_config::DeployConfig;
use dockyard_pipeline::digest::sha256_hex;
use dockyard_pipeline::plan::{self, Plan, Prepared};
use dockyard_pipeline::provenance::Provenance;
use dockyard_pipeline::state::{BaseRecord, ExportRecord, ImageRecord, State};
use dockyard_pipeline::PipelineError;

/// The folder holding the repository's deploy.toml.
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fixed provenance, so that labels and digests never depend on git or the environment.
pub fn provenance() -> Provenance {
    Provenance {
        revision: "0123456789abcdef0123456789abcdef01234567".into(),
        created_epoch: 1_700_000_000,
        source_date_epoch: 0,
        explicit_source_date_epoch: None,
    }
}

/// A copy of the repository's `deploy.toml`, `app/` and `docker/` that a test may change freely.
pub struct Project {
    _folder: tempfile::TempDir,
    /// The canonical path of the copy, as `dockyard_config::load` resolves it.
    pub root: PathBuf,
}

impl Project {
    /// Copies the real project, less generated files (`__pycache__`, `staticfiles`, `*.sqlite3`).
    pub fn copy_of_repository() -> Project {
        Project::copy_with("deploy.toml")
    }

    /// Copies the real project with the repository's `deploy_file` (`deploy.matrix.toml`) as its deploy.toml.
    pub fn copy_with(deploy_file: &str) -> Project {
        let folder = tempfile::Builder::new()
            .prefix("dockyard-plan-")
            .tempdir()
            .expect("create a temporary folder");
        let root = folder
            .path()
            .canonicalize()
            .expect("canonicalize the temporary folder");
        let source = repository_root();
        std::fs::copy(source.join(deploy_file), root.join("deploy.toml"))
            .expect("copy the deploy file");
        for name in ["app", "docker"] {
            copy_folder(&source.join(name), &root.join(name));
        }
        Project {
            _folder: folder,
            root,
        }
    }

    /// Names the copy's `docker/production.Dockerfile` and `docker/nginx.Dockerfile` in its deploy.toml, as a
    /// project with its own templates does (the sample uses the built-in ones, assembled).
    pub fn with_own_templates(self) -> Project {
        let file = self.path("deploy.toml");
        let text = std::fs::read_to_string(&file).expect("read deploy.toml");
        let text = text
            .replacen(
                "[production]\n",
                "[production]\ndockerfile = \"docker/production.Dockerfile\"\n",
                1,
            )
            .replacen(
                "[nginx]\n",
                "[nginx]\ndockerfile = \"docker/nginx.Dockerfile\"\n",
                1,
            );
        std::fs::write(&file, text).expect("write deploy.toml");
        self
    }

    /// `relative` inside the copy.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// Loads the copy's deploy.toml.
    pub fn config(&self) -> DeployConfig {
        dockyard_config::load(&self.path("deploy.toml"))
            .unwrap_or_else(|error| panic!("the copied deploy.toml does not load:\n{error}"))
    }

    /// Prepares the copy with the fixed provenance.
    pub fn try_prepare(&self) -> Result<Prepared, PipelineError> {
        plan::prepare(self.config(), provenance())
    }

    /// Prepares the copy with the fixed provenance; it must succeed.
    pub fn prepare(&self) -> Prepared {
        self.try_prepare()
            .unwrap_or_else(|error| panic!("prepare failed: {error}"))
    }

    /// `text` with the copy's folder shown as `[ROOT]`.
    pub fn redact_root(&self, text: &str) -> String {
        text.replace(&self.root.display().to_string(), "[ROOT]")
    }
}

fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|error| panic!("create {}: {error}", to.display()));
    let entries =
        std::fs::read_dir(from).unwrap_or_else(|error| panic!("read {}: {error}", from.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|error| panic!("read {}: {error}", from.display()));
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == "__pycache__" || name == "staticfiles" || name.ends_with(".sqlite3") {
            continue;
        }
        let (source, destination) = (entry.path(), to.join(&*name));
        if source.is_dir() {
            copy_folder(&source, &destination);
        } else {
            // std::fs::copy keeps the permissions, so executable scripts stay executable.
            std::fs::copy(&source, &destination)
                .unwrap_or_else(|error| panic!("copy {}: {error}", source.display()));
        }
    }
}

/// A made-up image id, stable per name.
pub fn fake_id(name: &str) -> String {
    format!("sha256:{}", sha256_hex(name.as_bytes()))
}

/// A state file saying that every step already ran with exactly the inputs `prepared` has now.
/// The export's tarball is written (the plan only trusts a record whose file exists).
pub fn matching_state(prepared: &Prepared) -> State {
    let config = &prepared.config;
    let mut state = State::default();
    for (name, base) in &config.bases {
        let recipe = base
            .bootstrap
            .as_ref()
            .map(|recipe| dockyard_base::recipe_digest(recipe, None));
        let record = BaseRecord {
            image: base.image.to_string(),
            id: fake_id(&format!("base {name}")),
            recipe,
            origin: "bootstrapped".to_owned(),
        };
        state.bases.insert(name.clone(), record);
    }
    let base_id = state.bases[&config.builder.base].id.clone();
    let builder_inputs = prepared.builder_inputs(Some(&base_id));
    let export_inputs = prepared.export_inputs(&builder_inputs.digest(), None);
    state.builder = Some(ImageRecord {
        tag: prepared.builder_tag.clone(),
        id: fake_id("builder"),
        inputs: builder_inputs,
    });

    let context = &prepared.paths.context_tarball;
    std::fs::create_dir_all(context.parent().expect("the context is in a folder"))
        .expect("create target/dockyard");
    std::fs::write(context, b"not really a tarball").expect("write the context tarball");
    let export = ExportRecord {
        path: context.clone(),
        sha256: sha256_hex(b"not really a tarball"),
        static_manifest_sha256: Some(sha256_hex(b"{}")),
        static_sha256: sha256_hex(b"static files"),
        inputs: export_inputs,
    };
    let labels = prepared.production_labels(&export);
    let production_base_id = state.bases[&config.production.base].id.clone();
    let production_inputs = prepared.production_inputs(Some(&production_base_id), &export, &labels);
    state.production = Some(ImageRecord {
        tag: prepared.production_tag.clone(),
        id: fake_id("production"),
        inputs: production_inputs,
    });
    if let (Some(nginx), Some(prepared_nginx)) = (&config.nginx, &prepared.nginx) {
        let base_id = state.bases[&nginx.base].id.clone();
        let labels = prepared.nginx_labels(&export);
        let inputs = prepared
            .nginx_inputs(Some(&base_id), &export, &labels)
            .expect("a prepared nginx image has inputs");
        state.nginx = Some(ImageRecord {
            tag: prepared_nginx.tag.clone(),
            id: fake_id("nginx"),
            inputs,
        });
    }
    for entry in &prepared.matrix {
        let base_id = state.bases[&entry.builder_base].id.clone();
        let builder_inputs = prepared.matrix_builder_inputs(entry, Some(&base_id));
        let inputs = prepared.matrix_tests_inputs(&builder_inputs.digest(), None);
        let builder = ImageRecord {
            tag: entry.builder_tag.clone(),
            id: fake_id(&entry.builder_tag),
            inputs: builder_inputs,
        };
        state.matrix.insert(
            entry.python.to_string(),
            dockyard_pipeline::state::MatrixRecord { builder, inputs },
        );
    }
    state.export = Some(export);
    state
}

/// The plan as text, with the copy's folder as `[ROOT]`, digests as `[SHA256]` and no file or byte counts:
/// what stays the same while the sample app changes.
pub fn redacted_text(project: &Project, plan: &Plan) -> String {
    redact_counts(&redact_digests(&project.redact_root(&plan.render_text())))
}

/// Snapshots a plan's [`redacted_text`]; a macro so that the snapshot is named after the calling test.
macro_rules! check {
    ($project:expr, $plan:expr) => {{
        let plan_text = crate::fixture::redacted_text(&$project, &$plan);
        insta::assert_snapshot!(plan_text);
    }};
}
pub(crate) use check;

/// Replaces `sha256:<hex>` (any length, as in short digests) and bare 64-digit hex words with `[SHA256]`.
pub fn redact_digests(text: &str) -> String {
    const PREFIX: &str = "sha256:";
    let bytes = text.as_bytes();
    let hex_run = |start: usize| {
        bytes[start..]
            .iter()
            .take_while(|byte| byte.is_ascii_hexdigit())
            .count()
    };
    let is_word = |index: Option<&u8>| {
        index.is_some_and(|byte| byte.is_ascii_alphanumeric() || *byte == b'_')
    };
    let mut res = String::with_capacity(text.len());
    let mut index = 0;
    while index < text.len() {
        let starts_word = !is_word(index.checked_sub(1).and_then(|before| bytes.get(before)));
        if text[index..].starts_with(PREFIX) && hex_run(index + PREFIX.len()) > 0 {
            res.push_str("[SHA256]");
            index += PREFIX.len() + hex_run(index + PREFIX.len());
            continue;
        }
        let run = hex_run(index);
        if starts_word && run == 64 && !is_word(bytes.get(index + run)) {
            res.push_str("[SHA256]");
            index += run;
            continue;
        }
        let next = text[index..]
            .chars()
            .next()
            .expect("index is on a char boundary");
        res.push(next);
        index += next.len_utf8();
    }
    res
}

/// Replaces `N files, N bytes` with `[N] files, [N] bytes`.
pub fn redact_counts(text: &str) -> String {
    const MIDDLE: &str = " files, ";
    const END: &str = " bytes";
    let mut res = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find(MIDDLE) {
        let (before, after) = (&rest[..found], &rest[found + MIDDLE.len()..]);
        let files_digits =
            before.len() - before.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let bytes_digits =
            after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if files_digits > 0 && bytes_digits > 0 && after[bytes_digits..].starts_with(END) {
            res.push_str(&before[..before.len() - files_digits]);
            res.push_str("[N] files, [N] bytes");
            rest = &after[bytes_digits + END.len()..];
        } else {
            res.push_str(&rest[..found + MIDDLE.len()]);
            rest = after;
        }
    }
    res.push_str(rest);
    res
}

#[test]
fn redaction_replaces_digests_and_counts_only() {
    let digest = "ab".repeat(32);
    let text = format!(
        "id sha256:0123456789ab, {digest}\nsha256:{digest}\nx{digest} {digest}0 revision 0123456789abcdef\n  source     12 files, 3456 bytes, 2 files, x bytes\n"
    );
    assert_eq!(
        redact_counts(&redact_digests(&text)),
        format!("id [SHA256], [SHA256]\n[SHA256]\nx{digest} {digest}0 revision 0123456789abcdef\n  source     [N] files, [N] bytes, 2 files, x bytes\n")
    );
}
