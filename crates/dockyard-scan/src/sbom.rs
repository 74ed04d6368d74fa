//! Software bills of materials: trivy's CycloneDX JSON of an image archive, which needs no vulnerability database, and
//! what the rest of Dockyard reads from one (its format version and the packages it lists).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::runner::{isolated_args, run_for_output};
use crate::ScanError;

/// One SBOM run over one image archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbomInvocation {
    /// The trivy program.
    pub program: PathBuf,
    /// The `docker save` archive of the image.
    pub image_archive: PathBuf,
    /// The image's reference, written as the SBOM's subject (trivy would name the archive's temporary path).
    pub reference: String,
    /// trivy's cache folder.
    pub cache_dir: PathBuf,
    /// trivy's own `--timeout`, in seconds.
    pub timeout_seconds: u64,
    /// Where the CycloneDX JSON goes (an older file there is removed first).
    pub output: PathBuf,
}

/// What an SBOM says, in numbers and names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SbomSummary {
    /// The CycloneDX specification version, `1.7`.
    pub spec_version: String,
    /// How many components it lists.
    pub components: usize,
    /// The Python packages among them (`pkg:pypi/...`), as `(name, version)`, sorted.
    pub python_packages: Vec<(String, String)>,
}

/// trivy's command line for an SBOM (without the program name): `image --input ARCHIVE --format cyclonedx --output
/// OUT` and the isolation every trivy run gets. No scanner runs, so no database is needed.
pub fn sbom_args(invocation: &SbomInvocation) -> Vec<String> {
    let mut args: Vec<String> = [
        "image",
        "--input",
        &invocation.image_archive.display().to_string(),
        "--format",
        "cyclonedx",
        "--output",
        &invocation.output.display().to_string(),
    ]
    .map(str::to_owned)
    .to_vec();
    args.extend(isolated_args(
        invocation.timeout_seconds,
        &invocation.cache_dir,
    ));
    args
}

/// Writes the CycloneDX SBOM of the image archive to `invocation.output`, its subject named by the image reference,
/// and summarises it. Fails like a scan does ([`crate::run_trivy`]), or with [`ScanError::InvalidReport`] when trivy
/// wrote something that is not CycloneDX JSON.
pub fn write_sbom(invocation: &SbomInvocation) -> Result<SbomSummary, ScanError> {
    let text = run_for_output(
        &invocation.program,
        sbom_args(invocation),
        &invocation.image_archive,
        &invocation.reference,
        &invocation.output,
        invocation.timeout_seconds,
    )?;
    let invalid = |reason: String| ScanError::InvalidReport {
        path: Some(invocation.output.clone()),
        line: 0,
        column: 0,
        reason,
    };
    let mut document: serde_json::Value =
        serde_json::from_str(&text).map_err(|error| invalid(error.to_string()))?;
    if let Some(subject) = document.pointer_mut("/metadata/component/name") {
        *subject = serde_json::Value::String(invocation.reference.clone());
    }
    let summary = summarize(&document).map_err(invalid)?;
    let mut written =
        serde_json::to_string_pretty(&document).map_err(|error| invalid(error.to_string()))?;
    written.push('\n');
    std::fs::write(&invocation.output, written).map_err(|source| ScanError::PrepareOutput {
        path: invocation.output.clone(),
        source,
    })?;
    Ok(summary)
}

/// The summary of a CycloneDX JSON document; an error saying what is missing when it is not one.
pub fn summarize(document: &serde_json::Value) -> Result<SbomSummary, String> {
    if document
        .get("bomFormat")
        .and_then(serde_json::Value::as_str)
        != Some("CycloneDX")
    {
        return Err("not a CycloneDX document (no `bomFormat: CycloneDX`)".to_owned());
    }
    let spec_version = document
        .get("specVersion")
        .and_then(serde_json::Value::as_str)
        .ok_or("no `specVersion`")?
        .to_owned();
    let components = document
        .get("components")
        .and_then(serde_json::Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut python_packages: Vec<(String, String)> = components
        .iter()
        .filter(|component| {
            component
                .get("purl")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|purl| purl.starts_with("pkg:pypi/"))
        })
        .filter_map(|component| {
            let text = |key: &str| component.get(key)?.as_str().map(str::to_owned);
            Some((text("name")?, text("version")?))
        })
        .collect();
    python_packages.sort();
    Ok(SbomSummary {
        spec_version,
        components: components.len(),
        python_packages,
    })
}

/// Where the SBOM of the image `name` (`app`, `nginx`) goes in `folder`: `NAME.cdx.json`.
pub fn sbom_path(folder: &Path, name: &str) -> PathBuf {
    folder.join(format!("{name}.cdx.json"))
}
