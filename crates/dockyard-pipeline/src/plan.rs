//! Plan before acting: everything computed from deploy.toml, the source tree and the state file, without the engine.
//!
//! [`prepare`] renders the templates and hashes the inputs; [`plan`] compares them with the state file and says which
//! steps would run and which are cached. The run reuses the same [`Prepared`] so the plan and the run cannot disagree.

use std::collections::BTreeMap;
use std::path::Path;

use dockyard_config::{DeployConfig, Template};
use dockyard_context::{Member, PackOptions, PackSummary, SourceRules};
use serde::Serialize;

pub use crate::decide::Action;
use crate::decide::{decide, Evidence};
use crate::digest::Inputs;
use crate::locked::LockedSet;
use crate::provenance::{rfc3339, Provenance};
use crate::state::{ExportRecord, State};
pub use crate::step::Step;
use crate::{template, PipelineError};

mod builder;
mod platforms;
mod python;
mod render;
pub use builder::{BuilderContext, PreparedMatrix};
pub use dockyard_config::Paths;

/// Label holding the digest of an image's inputs; an image whose label matches is not rebuilt.
pub const INPUTS_LABEL: &str = "dev.dockyard.inputs";
/// Label holding the sha256 of the build context an image was built from.
pub const CONTEXT_LABEL: &str = "dev.dockyard.context.sha256";
/// Label holding the sha256 of `staticfiles.json`.
pub const STATIC_MANIFEST_LABEL: &str = "dev.dockyard.static-manifest.sha256";
/// Label on the nginx image: the digest of the static files it serves (names and bytes).
pub const STATIC_LABEL: &str = "dev.dockyard.static.sha256";

/// Everything a run needs that can be computed without an engine.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The validated configuration.
    pub config: DeployConfig,
    /// Revision and times for labels.
    pub provenance: Provenance,
    /// Output locations.
    pub paths: Paths,
    /// The app source as it will be uploaded.
    pub source: PackSummary,
    /// Files of the builder image's context (rendered Dockerfile included).
    pub builder_context: Vec<Member>,
    /// sha256 of the builder image's context tarball.
    pub builder_context_sha256: String,
    /// The builder image of each other Python of `[matrix] python`.
    pub matrix: Vec<PreparedMatrix>,
    /// Files uploaded to the builder's /kit (the rendered production Dockerfile).
    pub kit: Vec<Member>,
    /// sha256 of the kit tarball.
    pub kit_sha256: String,
    /// Tag of the builder image.
    pub builder_tag: String,
    /// Tag of the production image.
    pub production_tag: String,
    /// The nginx image, when deploy.toml has an [nginx] table.
    pub nginx: Option<PreparedNginx>,
    /// What the builder installs: uploaded to its dependencies folder.
    pub locked: LockedSet,
    /// The lock file and asset sources, when deploy.toml has an [assets] table.
    pub assets: Option<crate::assets::PreparedAssets>,
}

/// The nginx image's rendered files and tag.
#[derive(Debug, Clone)]
pub struct PreparedNginx {
    /// Tag of the nginx image.
    pub tag: String,
    /// The rendered Dockerfile.
    pub dockerfile: Vec<u8>,
    /// The rendered nginx.conf.
    pub config: Vec<u8>,
}

/// The URL prefix of static files, as Django's STATIC_URL and nginx's static location agree on it.
pub const STATIC_URL: &str = "/static/";

/// One step of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedStep {
    /// The step (serialised as its name, for example `builder image`).
    #[serde(rename = "name")]
    pub step: Step,
    /// Run or cached.
    pub action: Action,
    /// Why, in a few words.
    pub reason: String,
    /// The digest of its inputs, when it can be known before earlier steps run.
    pub inputs: Option<String>,
}

/// The whole plan.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The resolved configuration.
    pub config: DeployConfig,
    /// Revision and times.
    pub provenance: Provenance,
    /// Output locations.
    pub paths: Paths,
    /// The source context.
    pub source: SourceSummary,
    /// The locked set the builder installs.
    pub dependencies: DependencySummary,
    /// Steps in order.
    pub steps: Vec<PlannedStep>,
}

/// The locked set in a line and a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DependencySummary {
    /// The format, its files and groups.
    pub summary: String,
    /// sha256 of the set: an input of the export.
    pub sha256: String,
}

/// The source context in numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceSummary {
    /// sha256 of the source tarball.
    pub sha256: String,
    /// Files in it.
    pub n_files: usize,
    /// Their bytes.
    pub n_bytes: u64,
    /// Paths the secret deny list kept out.
    pub excluded: Vec<String>,
}

/// Loads nothing: takes a validated config and computes everything the plan and the run share.
pub fn prepare(config: DeployConfig, provenance: Provenance) -> Result<Prepared, PipelineError> {
    python::check_python_requests(&config)?;
    let locked = crate::locked::lock(&config)?;
    let name = &config.project.name;
    let paths = Paths::new(&config.root, name);
    let pack_options = PackOptions {
        mtime: provenance.source_date_epoch,
    };
    let source = dockyard_context::pack_source_tree(
        &config.app.path,
        &source_rules(&config),
        &pack_options,
        std::io::sink(),
    )?;

    let shipped_builder = builder::builder_context(&config, &config.builder.base, &pack_options)?;
    let matrix = builder::matrix(&config, &pack_options)?;

    let values = template::values(&config);
    let mut production_values = values;
    production_values.insert(
        "base_image",
        config.base(&config.production.base).image.to_string(),
    );
    let production_dockerfile = template::render(
        &config.production.dockerfile.origin(),
        &read_template(&config.production.dockerfile)?,
        &production_values,
    )?;
    let kit = vec![Member {
        path: "Dockerfile".to_owned(),
        bytes: production_dockerfile.into_bytes(),
        executable: false,
    }];
    let kit_sha256 = dockyard_context::pack_members(&kit, &pack_options, std::io::sink())?.sha256;

    let nginx = match &config.nginx {
        Some(nginx) => {
            let mut nginx_values = template::values(&config);
            nginx_values.insert("base_image", config.base(&nginx.base).image.to_string());
            nginx_values.insert("nginx_port", nginx.port.to_string());
            nginx_values.insert("nginx_user", nginx.user.to_string());
            nginx_values.insert("app_upstream", format!("app:{}", config.app.port));
            nginx_values.insert("server_names", nginx.server_names.join(" "));
            nginx_values.insert("client_max_body_size", nginx.client_max_body_size.clone());
            nginx_values.insert("static_url", STATIC_URL.to_owned());
            Some(PreparedNginx {
                tag: format!("{name}-nginx:latest"),
                dockerfile: template::render(
                    &nginx.dockerfile.origin(),
                    &read_template(&nginx.dockerfile)?,
                    &nginx_values,
                )?
                .into_bytes(),
                config: template::render(
                    &nginx.config.origin(),
                    &read_template(&nginx.config)?,
                    &nginx_values,
                )?
                .into_bytes(),
            })
        }
        None => None,
    };

    let assets = match &config.assets {
        Some(assets) => Some(crate::assets::prepare(&config, assets, &pack_options)?),
        None => None,
    };

    Ok(Prepared {
        nginx,
        locked,
        assets,
        builder_tag: format!("{name}-builder:latest"),
        production_tag: format!("{name}:latest"),
        provenance,
        paths,
        source,
        builder_context: shipped_builder.members,
        builder_context_sha256: shipped_builder.sha256,
        matrix,
        kit,
        kit_sha256,
        config,
    })
}

/// The ignore rules for the app source, from deploy.toml's [context] table, plus the `target/` folder holding
/// Dockyard's outputs when it lies inside the app folder (`app.path = "."`, as `init` writes for most repositories):
/// the source tarball written there must never be packed into itself, and the folder appearing during a run must not
/// change the source the plan hashed.
pub fn source_rules(config: &DeployConfig) -> SourceRules {
    let mut extra_deny: Vec<String> = config
        .context
        .exclude
        .iter()
        .cloned()
        .chain(crate::assets::app_source_excludes(config.assets.as_ref()))
        .collect();
    extra_deny.extend(dockyard_excludes(config, &config.app.path));
    SourceRules {
        dockerignore: config.context.dockerignore.clone(),
        extra_deny,
        max_file_bytes: None,
    }
}

/// The exclude rules for Dockyard's own files when they lie inside `folder` (an absolute path): the folder holding
/// its outputs, so a tree packed from `folder` never holds a run's work files, and the deploy file itself, so an edit
/// to deploy.toml (a smoke check, a tag) never rebuilds the images or reruns the asset build.
pub fn dockyard_excludes(config: &DeployConfig, folder: &std::path::Path) -> Vec<String> {
    let mut rules = Vec::new();
    let outputs = config.root.join(dockyard_config::outputs::TARGET_DIR);
    if let Some(top) = outputs
        .strip_prefix(folder)
        .ok()
        .and_then(|inside| inside.components().next())
    {
        rules.push(format!("/{}/", top.as_os_str().to_string_lossy()));
    }
    if let Some(name) = config.file.file_name() {
        if let Ok(inside) = config.root.join(name).strip_prefix(folder) {
            rules.push(format!("/{}", inside.to_string_lossy().replace('\\', "/")));
        }
    }
    rules
}

impl Prepared {
    /// The machine names (`aarch64`) of the other platforms of `[platforms]`, whose wheels the builder fetches.
    pub fn platform_wheel_machines(&self) -> Vec<&str> {
        self.config
            .platforms
            .iter()
            .map(|platform| dockyard_config::wheel_machine(&platform.architecture))
            .collect()
    }

    /// Inputs of the export, given the digest of the builder image's inputs and the sha256 of the assets step's
    /// output (with `[assets] runs_in = "node"`).
    pub fn export_inputs(
        &self,
        builder_inputs_digest: &str,
        assets_sha256: Option<&str>,
    ) -> Inputs {
        let app = &self.config.app;
        let inputs = Inputs::default()
            .with("builder image", builder_inputs_digest)
            .with("source", self.source.sha256.clone())
            .with("production Dockerfile", self.kit_sha256.clone())
            .with("dependencies", self.locked.sha256.clone())
            // Hashed like the app env: the builder's command line is not kept in clear in state.json.
            .with_bytes(
                "test command",
                serde_json::to_string(&app.test_command)
                    .unwrap_or_default()
                    .as_bytes(),
            )
            .with("settings module", app.settings_module.clone())
            .with("static root", app.static_root.to_string())
            .with_bytes(
                "app env",
                serde_json::to_string(&app.env)
                    .unwrap_or_default()
                    .as_bytes(),
            );
        // The other platforms' wheels come out of the export too; named only when there are some.
        let machines = self.platform_wheel_machines();
        let inputs = if machines.is_empty() {
            inputs
        } else {
            inputs.with("platform wheels", machines.join(" "))
        };
        // The tests run against the services: another kind, version, image or variable is another run. Only a
        // config with services hashes them, so the inputs of one without stay what they were.
        // The variables given throwaway secrets change what the tests see; hashed only when named, like services.
        let inputs = if app.secrets.is_empty() {
            inputs
        } else {
            inputs.with("secret variables", app.secrets.join(","))
        };
        // The builder's own settings, environment and step order: hashed only when written, like services.
        let builder = &self.config.builder;
        let inputs = match &builder.settings_module {
            Some(module) => inputs.with("builder settings module", module.clone()),
            None => inputs,
        };
        let inputs = if builder.env.is_empty() {
            inputs
        } else {
            inputs.with_bytes(
                "builder env",
                serde_json::to_string(&builder.env)
                    .unwrap_or_default()
                    .as_bytes(),
            )
        };
        let inputs = if builder.collectstatic_before_tests {
            inputs.with("collectstatic", "before the tests".to_owned())
        } else {
            inputs
        };
        let inputs = if self.config.services.is_empty() {
            inputs
        } else {
            inputs.with_bytes(
                "services",
                serde_json::to_string(&self.config.services)
                    .unwrap_or_default()
                    .as_bytes(),
            )
        };
        self.with_assets_inputs(inputs, assets_sha256)
    }

    /// The labels both images carry: title, version, base, project, source and the static manifest's digest.
    fn image_labels(
        &self,
        title: String,
        base: &str,
        export: &ExportRecord,
    ) -> BTreeMap<String, String> {
        let project = &self.config.project;
        let mut labels = BTreeMap::from([
            ("org.opencontainers.image.title".to_owned(), title),
            (
                "org.opencontainers.image.version".to_owned(),
                project.version.clone(),
            ),
            (
                "org.opencontainers.image.base.name".to_owned(),
                self.config.base(base).image.to_string(),
            ),
            (
                dockyard_engine::PROJECT_LABEL.to_owned(),
                project.name.clone(),
            ),
        ]);
        if let Some(source) = &project.source {
            labels.insert("org.opencontainers.image.source".to_owned(), source.clone());
        }
        if let Some(manifest) = &export.static_manifest_sha256 {
            labels.insert(
                STATIC_MANIFEST_LABEL.to_owned(),
                format!("sha256:{manifest}"),
            );
        }
        labels
    }

    /// Labels of the production image (without the inputs label), given the exported context: the shared ones, the
    /// revision, the creation time and the context's digest.
    pub fn production_labels(&self, export: &ExportRecord) -> BTreeMap<String, String> {
        let mut labels = self.image_labels(
            self.config.project.name.clone(),
            &self.config.production.base,
            export,
        );
        labels.extend([
            (
                "org.opencontainers.image.revision".to_owned(),
                self.provenance.revision.clone(),
            ),
            (
                "org.opencontainers.image.created".to_owned(),
                rfc3339(self.provenance.created_epoch),
            ),
            (
                CONTEXT_LABEL.to_owned(),
                format!("sha256:{}", export.sha256),
            ),
        ]);
        labels
    }

    /// Labels of the nginx image (without the inputs label): what it serves and where from, nothing that changes when
    /// only the app's source does (no revision, no creation time, no context digest), so its id stays the same until
    /// a static file, its config or its base changes.
    pub fn nginx_labels(&self, export: &ExportRecord) -> BTreeMap<String, String> {
        let base = self
            .config
            .nginx
            .as_ref()
            .map_or(self.config.production.base.as_str(), |nginx| {
                nginx.base.as_str()
            });
        let mut labels =
            self.image_labels(format!("{}-nginx", self.config.project.name), base, export);
        labels.insert(
            STATIC_LABEL.to_owned(),
            format!("sha256:{}", export.static_sha256),
        );
        labels
    }

    /// Inputs of the nginx image: its base, its rendered files, its static files, how it is made, its labels.
    pub fn nginx_inputs(
        &self,
        base_id: Option<&str>,
        export: &ExportRecord,
        labels: &BTreeMap<String, String>,
    ) -> Option<Inputs> {
        let nginx = self.nginx.as_ref()?;
        let base = self
            .config
            .nginx
            .as_ref()
            .map(|nginx| self.config.base(&nginx.base).image.to_string())
            .unwrap_or_default();
        Some(
            Inputs::default()
                .with(
                    "base image",
                    base_id.map_or_else(|| format!("unresolved {base}"), str::to_owned),
                )
                .with_bytes("nginx Dockerfile", &nginx.dockerfile)
                .with_bytes("nginx.conf", &nginx.config)
                .with("static files", &export.static_sha256)
                .with(
                    "made by",
                    crate::assembly::made_by(&self.config.nginx.as_ref()?.dockerfile),
                )
                .with_bytes(
                    "labels",
                    serde_json::to_string(labels).unwrap_or_default().as_bytes(),
                ),
        )
    }

    /// Inputs of the production image: its base image, the context, how it is made and every label.
    pub fn production_inputs(
        &self,
        base_id: Option<&str>,
        export: &ExportRecord,
        labels: &BTreeMap<String, String>,
    ) -> Inputs {
        let base = self.config.base(&self.config.production.base);
        Inputs::default()
            .with(
                "base image",
                base_id.map_or_else(|| format!("unresolved {}", base.image), str::to_owned),
            )
            .with("context", &export.sha256)
            .with(
                "made by",
                crate::assembly::made_by(&self.config.production.dockerfile),
            )
            .with_bytes(
                "labels",
                serde_json::to_string(labels).unwrap_or_default().as_bytes(),
            )
    }
}

/// Compares the prepared inputs with the state file: which steps run, which are cached, and why.
pub fn plan(prepared: &Prepared, state: &State) -> Plan {
    let config = &prepared.config;
    let mut steps = Vec::new();
    let mut base_ids: BTreeMap<&str, Option<String>> = BTreeMap::new();
    for (name, base) in &config.bases {
        if config.is_made_on_demand(name) {
            continue;
        }
        let recipe = base.bootstrap.as_ref().map(|recipe| {
            dockyard_base::recipe_digest(recipe, prepared.provenance.explicit_source_date_epoch)
        });
        let record = state
            .bases
            .get(name)
            .filter(|record| record.image == base.image.to_string());
        let (action, reason, id) = match record {
            Some(record) if record.recipe.is_none() || record.recipe == recipe => (
                Action::Cached,
                format!("{} {} ({})", base.image, short(&record.id), record.origin),
                Some(record.id.clone()),
            ),
            Some(_) => (
                Action::Run,
                format!("{}: bootstrap recipe changed", base.image),
                None,
            ),
            None => (
                Action::Run,
                format!("{}: use if present, else pull, else bootstrap", base.image),
                None,
            ),
        };
        base_ids.insert(name.as_str(), id);
        steps.push(PlannedStep {
            step: Step::Base(name.clone()),
            action,
            reason,
            inputs: recipe,
        });
    }

    let builder_base_id = base_ids
        .get(config.builder.base.as_str())
        .cloned()
        .flatten();
    let builder_inputs = prepared.builder_inputs(builder_base_id.as_deref());
    let builder_known = builder_base_id.is_some();
    steps.push(compare_step(
        Step::BuilderImage,
        &builder_inputs,
        state.builder.as_ref().map(|record| &record.inputs),
        builder_known,
        "its base image is resolved first",
    ));

    // The assets step: its output's sha256 is an input of the export, known when the step is cached.
    let (assets_step, assets_known, assets_sha256) =
        crate::assets::plan_step(prepared, state, &base_ids);
    steps.extend(assets_step);

    let export_inputs = prepared.export_inputs(&builder_inputs.digest(), assets_sha256.as_deref());
    let export_record = state.export.as_ref().filter(|record| record.path.is_file());
    steps.push(compare_step(
        Step::Export,
        &export_inputs,
        export_record.map(|record| &record.inputs),
        builder_known && assets_known,
        if builder_known {
            "the assets step runs first"
        } else {
            "the builder image is resolved first"
        },
    ));

    for entry in &prepared.matrix {
        let base_id = base_ids.get(entry.builder_base.as_str()).cloned().flatten();
        let builder_inputs = prepared.matrix_builder_inputs(entry, base_id.as_deref());
        let inputs =
            prepared.matrix_tests_inputs(&builder_inputs.digest(), assets_sha256.as_deref());
        steps.push(compare_step(
            Step::MatrixTests(entry.python),
            &inputs,
            state
                .matrix
                .get(entry.python.as_str())
                .map(|record| &record.inputs),
            base_id.is_some() && assets_known,
            if base_id.is_some() {
                "the assets step runs first"
            } else {
                "its builder's base image is resolved first"
            },
        ));
    }

    let export_cached = builder_known
        && assets_known
        && export_record.is_some_and(|record| record.inputs == export_inputs);
    let production_base_id = base_ids
        .get(config.production.base.as_str())
        .cloned()
        .flatten();
    let production_inputs = export_record.filter(|_| export_cached).map(|record| {
        let labels = prepared.production_labels(record);
        prepared.production_inputs(production_base_id.as_deref(), record, &labels)
    });
    match production_inputs {
        Some(inputs) => steps.push(compare_step(
            Step::ProductionImage,
            &inputs,
            state.production.as_ref().map(|record| &record.inputs),
            production_base_id.is_some(),
            "its base image is resolved first",
        )),
        None => steps.push(PlannedStep {
            step: Step::ProductionImage,
            action: Action::Run,
            reason: "built from the context the export makes".to_owned(),
            inputs: None,
        }),
    }
    if let Some(nginx) = &config.nginx {
        let nginx_base_id = base_ids.get(nginx.base.as_str()).cloned().flatten();
        let nginx_inputs = export_record.filter(|_| export_cached).and_then(|record| {
            let labels = prepared.nginx_labels(record);
            prepared.nginx_inputs(nginx_base_id.as_deref(), record, &labels)
        });
        match nginx_inputs {
            Some(inputs) => steps.push(compare_step(
                Step::NginxImage,
                &inputs,
                state.nginx.as_ref().map(|record| &record.inputs),
                nginx_base_id.is_some(),
                "its base image is resolved first",
            )),
            None => steps.push(PlannedStep {
                step: Step::NginxImage,
                action: Action::Run,
                reason: "built from the static files the export makes".to_owned(),
                inputs: None,
            }),
        }
    }
    steps.extend(platforms::plan_platforms(
        prepared,
        state,
        &base_ids,
        export_record.filter(|_| export_cached),
    ));

    Plan {
        config: config.clone(),
        provenance: prepared.provenance.clone(),
        paths: prepared.paths.clone(),
        dependencies: DependencySummary {
            summary: prepared.locked.summary.clone(),
            sha256: prepared.locked.sha256.clone(),
        },
        source: SourceSummary {
            sha256: prepared.source.sha256.clone(),
            n_files: prepared.source.n_files,
            n_bytes: prepared.source.n_bytes,
            excluded: prepared
                .source
                .excluded
                .iter()
                .map(|excluded| format!("{} ({})", excluded.path.display(), excluded.pattern))
                .collect(),
        },
        steps,
    }
}

/// The plan's side of the cache decision: the state file's record is the evidence.
pub(crate) fn compare_step(
    step: Step,
    inputs: &Inputs,
    previous: Option<&Inputs>,
    known: bool,
    unknown_reason: &'static str,
) -> PlannedStep {
    let previous_digest = previous.map(Inputs::digest);
    let evidence = match (known, previous, &previous_digest) {
        (false, _, _) => Evidence::Unresolved(unknown_reason),
        (true, Some(previous), Some(digest)) => Evidence::Earlier {
            digest,
            inputs: Some(previous),
        },
        (true, _, _) => Evidence::Nothing,
    };
    let decision = decide(inputs, evidence, false);
    PlannedStep {
        step,
        action: decision.action,
        reason: decision.reason,
        inputs: known.then(|| inputs.digest()),
    }
}

/// `sha256:0123456789ab` from a full digest, for humans.
pub fn short(digest: &str) -> String {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    format!("sha256:{}", &hex[..hex.len().min(12)])
}

/// The text of a built-in template, or of the project's template file.
fn read_template(template: &Template) -> Result<String, PipelineError> {
    match template {
        Template::BuiltIn(_, text) => Ok((*text).to_owned()),
        Template::File(path) => read_text(path),
    }
}

fn read_text(path: &Path) -> Result<String, PipelineError> {
    std::fs::read_to_string(path).map_err(|source| PipelineError::Io {
        operation: "reading",
        path: path.to_path_buf(),
        source,
    })
}

/// Reads every file below `folder` as a context member, sorted by path.
fn read_folder_members(folder: &Path) -> Result<Vec<Member>, PipelineError> {
    let mut members = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current).map_err(|source| PipelineError::Io {
            operation: "reading",
            path: current.clone(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| PipelineError::Io {
                operation: "reading",
                path: current.clone(),
                source,
            })?;
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let bytes = std::fs::read(&path).map_err(|source| PipelineError::Io {
                operation: "reading",
                path: path.clone(),
                source,
            })?;
            let executable = is_executable(&path);
            let relative = path
                .strip_prefix(folder)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            members.push(Member {
                path: relative,
                bytes,
                executable,
            });
        }
    }
    members.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(members)
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|metadata| metadata.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_path: &Path) -> bool {
    false
}
