//! The builder images' contexts: the builder Dockerfile rendered on a base (the shipped Python's, and each other
//! Python's of `[matrix] python`) with the builder's files, and what each image and the matrix's tests are made from.

use dockyard_config::{DeployConfig, PythonVersion, TemplateFolder};
use dockyard_context::{Member, PackOptions};

use super::{read_folder_members, read_template, Prepared};
use crate::digest::Inputs;
use crate::{template, PipelineError};

/// A builder image's context: its files, the rendered Dockerfile among them, and their tarball's sha256.
#[derive(Debug, Clone)]
pub struct BuilderContext {
    /// The files.
    pub members: Vec<Member>,
    /// sha256 of their tarball.
    pub sha256: String,
}

/// Another Python of `[matrix] python`: the builder image its tests run in.
#[derive(Debug, Clone)]
pub struct PreparedMatrix {
    /// The version.
    pub python: PythonVersion,
    /// The base its builder starts from.
    pub builder_base: String,
    /// Tag of its builder image.
    pub builder_tag: String,
    /// Its builder image's context.
    pub builder_context: BuilderContext,
}

/// The builder's context on the base `base_name`: `[builder] dockerfile` rendered with that base's image.
pub(super) fn builder_context(
    config: &DeployConfig,
    base_name: &str,
    pack_options: &PackOptions,
) -> Result<BuilderContext, PipelineError> {
    let mut values = template::values(config);
    values.extend(crate::builder_protocol::template_values());
    values.insert("base_image", config.base(base_name).image.to_string());
    let dockerfile = template::render(
        &config.builder.dockerfile.origin(),
        &read_template(&config.builder.dockerfile)?,
        &values,
    )?;
    let mut members: Vec<Member> = match &config.builder.context {
        TemplateFolder::BuiltIn(_, files) => files
            .iter()
            .map(|file| Member {
                path: file.path.to_owned(),
                bytes: file.bytes.to_vec(),
                executable: file.executable,
            })
            .collect(),
        TemplateFolder::Folder(folder) => read_folder_members(folder)?,
    };
    members.retain(|member| member.path != "Dockerfile");
    members.push(Member {
        path: "Dockerfile".to_owned(),
        bytes: dockerfile.into_bytes(),
        executable: false,
    });
    let sha256 = dockyard_context::pack_members(&members, pack_options, std::io::sink())?.sha256;
    Ok(BuilderContext { members, sha256 })
}

/// The builder image of each other Python of `[matrix] python`, tagged `<project>-builder-py<XY>:latest`.
pub(super) fn matrix(
    config: &DeployConfig,
    pack_options: &PackOptions,
) -> Result<Vec<PreparedMatrix>, PipelineError> {
    config
        .matrix
        .iter()
        .map(|entry| {
            Ok(PreparedMatrix {
                python: entry.python,
                builder_base: entry.builder_base.clone(),
                builder_tag: format!(
                    "{}-builder-{}:latest",
                    config.project.name,
                    entry.python.short_name()
                ),
                builder_context: builder_context(config, &entry.builder_base, pack_options)?,
            })
        })
        .collect()
}

/// Inputs of a builder image: its base (the id once the base step ran) and its context.
fn builder_image_inputs(
    config: &DeployConfig,
    base_name: &str,
    base_id: Option<&str>,
    context_sha256: &str,
) -> Inputs {
    let base = config.base(base_name);
    Inputs::default()
        .with(
            "base image",
            base_id.map_or_else(|| format!("unresolved {}", base.image), str::to_owned),
        )
        .with("builder context", context_sha256)
}

impl Prepared {
    /// Inputs of the builder image, given the id of its base image (unknown before the base step ran).
    pub fn builder_inputs(&self, base_id: Option<&str>) -> Inputs {
        builder_image_inputs(
            &self.config,
            &self.config.builder.base,
            base_id,
            &self.builder_context_sha256,
        )
    }

    /// The prepared builder of `python`, another Python of `[matrix] python`.
    pub fn matrix_entry(&self, python: PythonVersion) -> Result<&PreparedMatrix, PipelineError> {
        self.matrix
            .iter()
            .find(|entry| entry.python == python)
            .ok_or_else(|| {
                PipelineError::Internal(format!("Python {python} is not in [matrix] python"))
            })
    }

    /// Inputs of a matrix Python's builder image, given its base's id.
    pub fn matrix_builder_inputs(&self, entry: &PreparedMatrix, base_id: Option<&str>) -> Inputs {
        builder_image_inputs(
            &self.config,
            &entry.builder_base,
            base_id,
            &entry.builder_context.sha256,
        )
    }

    /// Inputs of a matrix Python's tests: the export's inputs with that Python's builder image (the same source,
    /// dependencies, test command, settings and services).
    pub fn matrix_tests_inputs(
        &self,
        builder_inputs_digest: &str,
        assets_sha256: Option<&str>,
    ) -> Inputs {
        self.export_inputs(builder_inputs_digest, assets_sha256)
    }
}
