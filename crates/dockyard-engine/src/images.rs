//! Images: inspect, pull, import a root filesystem, build from a context tarball, tag, remove.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use bollard::query_parameters::{
    BuildImageOptionsBuilder, CreateImageOptionsBuilder, RemoveImageOptionsBuilder,
    TagImageOptionsBuilder,
};
use futures_util::StreamExt;
use tokio_util::io::ReaderStream;

use crate::{Engine, EngineError};

/// What Dockyard needs to know about an image.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageInfo {
    /// The image id, `sha256:...`.
    pub id: String,
    /// Tags pointing at it.
    pub tags: Vec<String>,
    /// Size in bytes.
    pub size: u64,
    /// `Config.User`, empty when the image runs as root by default.
    pub user: String,
    /// `Config.Env` as `KEY=value`.
    pub env: Vec<String>,
    /// `Config.Cmd`.
    pub cmd: Vec<String>,
    /// `Config.Entrypoint`.
    pub entrypoint: Vec<String>,
    /// `Config.ExposedPorts`, for example `8000/tcp`.
    pub exposed_ports: Vec<String>,
    /// `Config.Healthcheck.Test`, empty when there is none.
    pub healthcheck: Vec<String>,
    /// `Config.WorkingDir`.
    pub working_dir: String,
    /// `Config.Labels`.
    pub labels: BTreeMap<String, String>,
    /// The architecture the image says it runs on (`amd64`, `arm64`).
    pub architecture: String,
    /// `RootFS.Layers`: the diff id of each layer, bottom first.
    pub layers: Vec<String>,
}

/// One image build from a context tarball.
#[derive(Debug, Clone)]
pub struct BuildSpec {
    /// The tag to give the result, for example `dockyard-sample:latest`.
    pub tag: String,
    /// Path of the Dockerfile inside the context.
    pub dockerfile: String,
    /// Labels added to the image.
    pub labels: BTreeMap<String, String>,
}

impl Engine {
    /// Inspects an image; `Ok(None)` when the engine does not have it.
    pub async fn image(&self, reference: &str) -> Result<Option<ImageInfo>, EngineError> {
        match self.docker.inspect_image(reference).await {
            Ok(inspect) => {
                let config = inspect.config.unwrap_or_default();
                Ok(Some(ImageInfo {
                    id: inspect.id.unwrap_or_default(),
                    tags: inspect.repo_tags.unwrap_or_default(),
                    size: inspect.size.unwrap_or_default().max(0) as u64,
                    user: config.user.unwrap_or_default(),
                    env: config.env.unwrap_or_default(),
                    cmd: config.cmd.unwrap_or_default(),
                    entrypoint: config.entrypoint.unwrap_or_default(),
                    exposed_ports: config.exposed_ports.unwrap_or_default(),
                    healthcheck: config
                        .healthcheck
                        .and_then(|health| health.test)
                        .unwrap_or_default(),
                    working_dir: config.working_dir.unwrap_or_default(),
                    labels: config.labels.unwrap_or_default().into_iter().collect(),
                    architecture: inspect.architecture.unwrap_or_default(),
                    layers: inspect
                        .root_fs
                        .and_then(|root_fs| root_fs.layers)
                        .unwrap_or_default(),
                }))
            }
            Err(error) => {
                let error = self.engine_error(format!("inspecting image {reference}"), error);
                if error.is_not_found() {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    /// Pulls an image (`repo:tag` or `repo@sha256:...`) from its registry anonymously, reporting progress lines.
    pub async fn pull_image(
        &self,
        reference: &str,
        on_line: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), EngineError> {
        self.pull_image_with_credentials(reference, None, on_line)
            .await
    }

    /// Imports a root filesystem tarball as an image (what `docker import` does), streaming the file.
    /// `changes` are Dockerfile instructions applied to the image config (`LABEL k=v`, `ENV k=v`, ...).
    pub async fn import_rootfs(
        &self,
        rootfs_tar: &Path,
        reference: &str,
        changes: &[String],
    ) -> Result<String, EngineError> {
        let (repository, tag) = split_reference(reference);
        let mut options = CreateImageOptionsBuilder::default()
            .from_src("-")
            .repo(repository)
            .tag(tag)
            .build();
        options.changes = changes.to_vec();
        let file = tokio::fs::File::open(rootfs_tar)
            .await
            .map_err(|error| EngineError::io(format!("opening {}", rootfs_tar.display()), error))?;
        let body = bollard::body_try_stream(ReaderStream::with_capacity(file, 256 * 1024));
        let operation = format!("importing {} as {reference}", rootfs_tar.display());
        let mut stream = self.docker.create_image(Some(options), Some(body), None);
        while let Some(item) = stream.next().await {
            item.map_err(|error| self.engine_error(operation.clone(), error))?;
        }
        self.image_id_after(reference, operation).await
    }

    /// The id of `reference` after `operation` made it; an error when the engine says it made it but has none.
    async fn image_id_after(
        &self,
        reference: &str,
        operation: String,
    ) -> Result<String, EngineError> {
        let image = self
            .image(reference)
            .await?
            .ok_or_else(|| EngineError::Other {
                operation,
                message: "the engine reported success but has no such image".to_owned(),
            })?;
        Ok(image.id)
    }

    /// Loads a `docker save` archive (what `docker load` does), streamed from disk, and returns the id of the image
    /// tagged `reference` afterwards. An archive may leave out the files of layers the engine holds.
    pub async fn load_image_archive(
        &self,
        archive: &Path,
        reference: &str,
    ) -> Result<String, EngineError> {
        let operation = format!("loading {} as {reference}", archive.display());
        let file = tokio::fs::File::open(archive)
            .await
            .map_err(|error| EngineError::io(operation.clone(), error))?;
        let options = bollard::query_parameters::ImportImageOptionsBuilder::default()
            .quiet(true)
            .build();
        let mut stream = self.docker.import_image_stream(
            options,
            ReaderStream::with_capacity(file, 256 * 1024),
            None,
        );
        while let Some(item) = stream.next().await {
            item.map_err(|error| self.engine_error(operation.clone(), error))?;
        }
        self.image_id_after(reference, operation).await
    }

    /// Builds an image from a (gzip) context tarball streamed from disk with the classic builder,
    /// as `docker build - < context.tar.gz` does. Returns the image id.
    pub async fn build_image(
        &self,
        spec: &BuildSpec,
        context_tarball: &Path,
        on_line: &mut (dyn FnMut(&str) + Send),
    ) -> Result<String, EngineError> {
        let labels: HashMap<&str, &str> = spec
            .labels
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        let options = BuildImageOptionsBuilder::default()
            .dockerfile(&spec.dockerfile)
            .t(&spec.tag)
            .labels(&labels)
            .rm(true)
            .forcerm(true)
            .build();
        let file = tokio::fs::File::open(context_tarball)
            .await
            .map_err(|error| {
                EngineError::io(format!("opening {}", context_tarball.display()), error)
            })?;
        let body = bollard::body_try_stream(ReaderStream::with_capacity(file, 256 * 1024));
        let operation = format!("building {}", spec.tag);
        let mut stream = self.docker.build_image(options, None, Some(body));
        let mut pending = String::new();
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(text) = info.stream {
                        pending.push_str(&text);
                        while let Some(newline) = pending.find('\n') {
                            let line: String = pending.drain(..=newline).collect();
                            let line = line.trim_end();
                            if !line.is_empty() {
                                on_line(line);
                            }
                        }
                    }
                }
                Err(error) => {
                    // bollard 0.21 can report a spurious JSON error at the very end of a stream; trust the image if it exists.
                    if matches!(error, bollard::errors::Error::JsonDataError { .. }) {
                        if let Some(image) = self.image(&spec.tag).await? {
                            return Ok(image.id);
                        }
                    }
                    return Err(self.engine_error(operation, error));
                }
            }
        }
        if !pending.trim().is_empty() {
            on_line(pending.trim_end());
        }
        let image = self
            .image(&spec.tag)
            .await?
            .ok_or_else(|| EngineError::Other {
                operation,
                message: "the build finished but the engine has no such image".to_owned(),
            })?;
        Ok(image.id)
    }

    /// The `created_by` line of every layer in an image's history, oldest first.
    pub async fn image_history(&self, reference: &str) -> Result<Vec<String>, EngineError> {
        let mut history = self
            .docker
            .image_history(reference)
            .await
            .map_err(|error| {
                self.engine_error(format!("reading the history of {reference}"), error)
            })?
            .into_iter()
            .map(|item| item.created_by)
            .collect::<Vec<_>>();
        history.reverse();
        Ok(history)
    }

    /// Writes an image as a `docker save` archive to `destination`, streamed (scanners read it without an engine).
    pub async fn export_image_to_file(
        &self,
        reference: &str,
        destination: &Path,
    ) -> Result<u64, EngineError> {
        use tokio::io::AsyncWriteExt;
        let operation = format!("exporting {reference} to {}", destination.display());
        let mut file = tokio::fs::File::create(destination)
            .await
            .map_err(|error| EngineError::io(operation.clone(), error))?;
        let mut stream = self.docker.export_image(reference);
        let mut n_bytes = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|error| self.engine_error(operation.clone(), error))?;
            n_bytes += chunk.len() as u64;
            file.write_all(&chunk)
                .await
                .map_err(|error| EngineError::io(operation.clone(), error))?;
        }
        file.flush()
            .await
            .map_err(|error| EngineError::io(operation.clone(), error))?;
        Ok(n_bytes)
    }

    /// Points `reference` at an existing image.
    pub async fn tag_image(&self, image: &str, reference: &str) -> Result<(), EngineError> {
        let (repository, tag) = split_reference(reference);
        let options = TagImageOptionsBuilder::default()
            .repo(repository)
            .tag(tag)
            .build();
        self.docker
            .tag_image(image, Some(options))
            .await
            .map_err(|error| self.engine_error(format!("tagging {image} as {reference}"), error))
    }

    /// Removes an image (by id or reference), forcing untag; a missing image is not an error.
    pub async fn remove_image(&self, reference: &str) -> Result<(), EngineError> {
        let options = RemoveImageOptionsBuilder::default().force(true).build();
        match self
            .docker
            .remove_image(reference, Some(options), None)
            .await
        {
            Ok(_) => Ok(()),
            Err(error) => {
                let error = self.engine_error(format!("removing image {reference}"), error);
                if error.is_not_found() {
                    Ok(())
                } else {
                    Err(error)
                }
            }
        }
    }
}

/// Splits `repo/name:tag` into `("repo/name", "tag")`, defaulting the tag to `latest`.
/// A `:` inside the registry host (`localhost:5000/x`) is not a tag separator.
pub(crate) fn split_reference(reference: &str) -> (&str, &str) {
    let last_slash = reference.rfind('/').map_or(0, |index| index + 1);
    match reference[last_slash..].rfind(':') {
        Some(colon) => (
            &reference[..last_slash + colon],
            &reference[last_slash + colon + 1..],
        ),
        None => (reference, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::split_reference;

    #[test]
    fn references_split_into_repository_and_tag() {
        assert_eq!(split_reference("python:3.11"), ("python", "3.11"));
        assert_eq!(
            split_reference("dockyard/python-runtime:bookworm"),
            ("dockyard/python-runtime", "bookworm")
        );
        assert_eq!(
            split_reference("localhost:5000/app"),
            ("localhost:5000/app", "latest")
        );
        assert_eq!(
            split_reference("localhost:5000/app:v1"),
            ("localhost:5000/app", "v1")
        );
    }
}
