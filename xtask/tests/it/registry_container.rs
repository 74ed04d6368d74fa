//! The local registry as a container, for a machine without Debian's `docker-registry` binary: an image bootstrapped
//! from Debian's `docker-registry` package by Dockyard's own base step (`[base.registry]` in a throwaway copy of the
//! sample's deploy.toml, once per engine), its port 5000 published on 127.0.0.1, its config uploaded through the
//! API. Labelled, and removed on drop.
#![allow(
    clippy::disallowed_methods,
    reason = "the registry support is synchronous test code that polls"
)]

use std::collections::BTreeMap;
use std::sync::Mutex;

use dockyard_engine::{ContainerSpec, Engine};

/// The image, bootstrapped when the engine has none.
pub(crate) const IMAGE: &str = "dockyard/test-registry:bookworm";

/// The label every registry container carries, so a crashed run's is recognisable.
pub(crate) const LABEL: &str = "dev.dockyard.test";

/// Where the registry keeps its storage inside the container.
pub(crate) const STORAGE: &str = "/var/lib/docker-registry";

/// One bootstrap at a time.
static BOOTSTRAP: Mutex<()> = Mutex::new(());

/// A running registry container.
pub(crate) struct RegistryContainer {
    runtime: tokio::runtime::Runtime,
    engine: Engine,
    pub(crate) id: String,
}

/// The engine, or `None` when none is reachable.
pub(crate) fn engine() -> Option<(tokio::runtime::Runtime, Engine)> {
    let runtime = crate::support::runtime();
    let engine = runtime.block_on(Engine::connect()).ok()?;
    Some((runtime, engine))
}

/// Bootstraps [`IMAGE`] with Dockyard's base step when the engine does not have it.
fn ensure_image(runtime: &tokio::runtime::Runtime, engine: &Engine) {
    let _guard = BOOTSTRAP
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if runtime
        .block_on(engine.image(IMAGE))
        .ok()
        .flatten()
        .is_some()
    {
        return;
    }
    let project = crate::support::Project::copy("dockyard-it-registry-image");
    let deploy = project.path("deploy.toml");
    let mut text = std::fs::read_to_string(&deploy).unwrap();
    text.push_str(&format!(
        "\n[base.registry]\nimage = \"{IMAGE}\"\n\n[base.registry.bootstrap]\nsuite = \"bookworm\"\npackages = [\"docker-registry\"]\n"
    ));
    std::fs::write(&deploy, text).unwrap();
    let output = project.xtask(&["base"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "bootstrapping {IMAGE} from Debian's docker-registry failed:\n{}",
        crate::support::stderr(&output)
    );
}

impl RegistryContainer {
    /// Creates and starts a registry container with `config` (YAML) as its config file; returns it with the
    /// address its port 5000 is published on.
    pub(crate) fn start(
        runtime: tokio::runtime::Runtime,
        engine: Engine,
        config: &str,
    ) -> (RegistryContainer, String) {
        ensure_image(&runtime, &engine);
        let spec = ContainerSpec {
            image: IMAGE.to_owned(),
            cmd: [
                "docker-registry",
                "serve",
                "/etc/docker/registry/config.yml",
            ]
            .map(str::to_owned)
            .to_vec(),
            labels: BTreeMap::from([(LABEL.to_owned(), "registry".to_owned())]),
            publish: vec![5000],
            ..ContainerSpec::default()
        };
        let id = runtime
            .block_on(engine.create_container(&spec))
            .unwrap_or_else(|error| panic!("creating the registry container: {error}"));
        let container = RegistryContainer {
            runtime,
            engine,
            id,
        };
        let tar = crate::registry_tests::tar_with_one_file("config.yml", config.as_bytes());
        container
            .runtime
            .block_on(async {
                container
                    .engine
                    .upload_tar_bytes(&container.id, "/etc/docker/registry", tar)
                    .await?;
                container.engine.start_container(&container.id).await
            })
            .unwrap_or_else(|error| panic!("starting the registry container: {error}"));
        let address = container
            .runtime
            .block_on(container.engine.published_address(&container.id, 5000))
            .unwrap_or_else(|error| panic!("the registry container's published port: {error}"));
        (container, address.to_string())
    }

    /// The container's log so far, when it has ended; `None` while it runs.
    pub(crate) fn ended(&self) -> Option<String> {
        let state = self
            .runtime
            .block_on(self.engine.container_state(&self.id))
            .ok()?;
        state
            .status
            .has_ended()
            .then(|| format!("(exit {})\n{}", state.exit_code, self.log()))
    }

    /// Everything the registry logged.
    pub(crate) fn log(&self) -> String {
        self.runtime
            .block_on(self.engine.logs_tail(&self.id, 100_000))
            .map(|lines| lines.join("\n"))
            .unwrap_or_default()
    }

    /// Stops the registry at once; the container (and its storage) stays until drop.
    pub(crate) fn kill(&self) {
        let _ = self
            .runtime
            .block_on(self.engine.stop_container(&self.id, 0));
    }

    /// Whether `path` (relative to the storage folder) exists in the container, running or stopped.
    pub(crate) fn storage_has(&self, relative: &str) -> bool {
        let destination = tempfile::NamedTempFile::new().unwrap();
        self.runtime
            .block_on(self.engine.download_to_file(
                &self.id,
                &format!("{STORAGE}/{relative}"),
                destination.path(),
            ))
            .is_ok()
    }
}

impl Drop for RegistryContainer {
    fn drop(&mut self) {
        let _ = self
            .runtime
            .block_on(self.engine.remove_container(&self.id));
    }
}
