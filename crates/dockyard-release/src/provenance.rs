//! The provenance of a pushed image: an in-toto Statement v1 whose subject is the image's manifest digest, with a SLSA
//! v1 provenance predicate saying what it was built from (the git revision, deploy.toml, the dependency and lock files,
//! every package a lock pins with the hashes it accepts, the base images, the build context) and how (Dockyard's version, the run). `docs/provenance.schema.json` documents
//! the shape a test holds every statement to.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::manifest::{BaseSummary, ContextSummary, ImageKind};

/// The in-toto statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The SLSA provenance predicate type.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// The build type: a Dockyard pipeline run, its external parameters documented in docs/provenance.schema.json.
pub const BUILD_TYPE: &str =
    "https://github.com/dockyard-dev/dockyard/docs/provenance.schema.json#build-v1";
/// The builder's id, Dockyard's `cargo xtask`, with its version appended as `@VERSION`.
pub const BUILDER_ID: &str = "https://github.com/dockyard-dev/dockyard/xtask";

/// A file the build read, by its path relative to deploy.toml's folder and its sha256 (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Material {
    /// The path relative to deploy.toml's folder.
    pub path: String,
    /// Its sha256 (hex).
    pub sha256: String,
}

/// A package a lock file pins, as the provenance records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedPackage {
    /// The lock file, relative to deploy.toml's folder.
    pub lock_file: String,
    /// The normalized name.
    pub name: String,
    /// The pinned version.
    pub version: String,
    /// The sha256 (hex) of every artifact the lock accepts for it, sorted.
    pub sha256: Vec<String>,
}

/// What the caller knows of the build that a release does not: the files it read and the run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildFacts {
    /// deploy.toml.
    pub deploy_file: Option<Material>,
    /// The dependency and lock files the builder installed from (requirements files, uv.lock, poetry.lock, ...).
    pub dependency_files: Vec<Material>,
    /// The packages the lock files pin, with the sha256 of every artifact the lock accepts (what pip and uv
    /// check with `--require-hashes`); empty when the requirements carry no hashes.
    pub locked_packages: Vec<LockedPackage>,
    /// Dockyard's version.
    pub dockyard_version: String,
    /// The run's id (its labels carry it).
    pub run_id: String,
}

/// The statement for the image `kind` pushed to `repository` as `digest`.
#[allow(
    clippy::too_many_arguments,
    reason = "each is one fact of the statement, named at the call"
)]
pub fn statement(
    kind: ImageKind,
    repository: &str,
    digest: &str,
    version: &str,
    revision: &str,
    context: &ContextSummary,
    bases: &BTreeMap<String, BaseSummary>,
    facts: &BuildFacts,
    finished: jiff::Timestamp,
) -> Value {
    let hex = |digest: &str| digest.trim_start_matches("sha256:").to_owned();
    let mut dependencies = Vec::new();
    if revision != "unknown" {
        dependencies.push(json!({
            "name": "source",
            "uri": format!("git+commit:{revision}"),
            "digest": { "gitCommit": revision },
        }));
    }
    for material in facts.deploy_file.iter().chain(&facts.dependency_files) {
        dependencies.push(json!({
            "name": material.path,
            "uri": format!("file:{}", material.path),
            "digest": { "sha256": material.sha256 },
        }));
    }
    for package in &facts.locked_packages {
        dependencies.push(json!({
            "name": format!("pypi {}", package.name),
            "uri": format!("pkg:pypi/{}@{}", package.name, package.version),
            "annotations": { "lock_file": package.lock_file, "accepted_sha256": package.sha256 },
        }));
    }
    for (name, base) in bases {
        dependencies.push(json!({
            "name": format!("base {name}"),
            "uri": format!("docker-image:{}", base.image),
            "digest": { "sha256": hex(&base.id) },
            "annotations": { "origin": base.origin, "digest_of": "image configuration (image id)" },
        }));
    }
    dependencies.push(json!({
        "name": "build context",
        "uri": format!("file:{}", context.path.display()),
        "digest": { "sha256": context.sha256 },
    }));
    let mut external = json!({ "image": kind.to_string(), "version": version });
    if let Some(deploy_file) = &facts.deploy_file {
        external["deploy_file"] = json!({ "path": deploy_file.path, "sha256": deploy_file.sha256 });
    }
    json!({
        "_type": STATEMENT_TYPE,
        "subject": [{ "name": repository, "digest": { "sha256": hex(digest) } }],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": external,
                "internalParameters": { "dockyard_version": facts.dockyard_version },
                "resolvedDependencies": dependencies,
            },
            "runDetails": {
                "builder": {
                    "id": format!("{BUILDER_ID}@{}", facts.dockyard_version),
                    "version": { "dockyard": facts.dockyard_version },
                },
                "metadata": {
                    "invocationId": facts.run_id,
                    "finishedOn": finished.to_string(),
                },
            },
        },
    })
}
