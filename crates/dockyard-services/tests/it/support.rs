//! Test support: the engine gate, Dockyard's service images (bootstrapped once, exactly as the pipeline's base step
//! does, so later runs find them present), images derived from them for faults, and a run's network and labels.

use std::collections::BTreeMap;
use std::path::Path;

use dockyard_config::service_images::DebianService;
use dockyard_config::{Service, ServiceKind, ServiceValue};
use dockyard_engine::{BuildSpec, Engine, PROJECT_LABEL, RUN_LABEL};

/// The project label of every test run here.
pub const PROJECT: &str = "dockyard-it-services-crate";

/// The engine, or `None` (and a loud line) without one; under `CI=true` a missing engine fails the test.
pub async fn engine_or_skip(test: &str) -> Option<Engine> {
    match Engine::connect().await {
        Ok(engine) => Some(engine),
        Err(error) => {
            if std::env::var("CI").is_ok_and(|value| value == "true") {
                panic!("{test}: CI=true but no docker engine is reachable: {error}");
            }
            eprintln!("SKIPPED {test}: no docker engine ({error}); these tests run in CI (`bash .ci/run`)");
            None
        }
    }
}

/// Serialises bootstraps: two tests needing the same image bootstrap it once.
static BOOTSTRAP: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Makes sure Dockyard's image of `kind` `series` is in the engine (bootstrapping it as the base step does) and
/// returns its reference.
pub async fn service_image(engine: &Engine, kind: ServiceKind, series: &str) -> String {
    let offer: &DebianService = dockyard_config::service_images::DEBIAN_SERVICES
        .iter()
        .find(|offer| offer.kind == kind && offer.series == series)
        .unwrap();
    let reference = offer.image().to_string();
    let recipe = offer.bootstrap();
    let digest = dockyard_base::recipe_digest(&recipe, None);
    let _guard = BOOTSTRAP.lock().await;
    if let Some(image) = engine.image(&reference).await.unwrap() {
        if image.labels.get(dockyard_base::RECIPE_LABEL) == Some(&digest) {
            return reference;
        }
    }
    let folder = tempfile::tempdir().unwrap();
    let rootfs = folder.path().join("rootfs.tar");
    let started = std::time::Instant::now();
    let (image, output, bootstrap) = (reference.clone(), rootfs.clone(), recipe.clone());
    tokio::task::spawn_blocking(move || {
        dockyard_base::bootstrap_rootfs(&image, &bootstrap, None, &output, &mut |_| {})
    })
    .await
    .unwrap()
    .unwrap();
    let mut changes = vec![
        format!("LABEL {}={digest}", dockyard_base::RECIPE_LABEL),
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
        "CMD [\"/bin/bash\"]".to_owned(),
    ];
    changes.extend(recipe.changes.iter().cloned());
    engine
        .import_rootfs(&rootfs, &reference, &changes)
        .await
        .unwrap();
    eprintln!(
        "bootstrapped {reference} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    reference
}

/// Builds `tag` from `dockerfile` (an empty context besides it).
pub async fn build_image(engine: &Engine, tag: &str, dockerfile: &str) {
    let folder = tempfile::tempdir().unwrap();
    let context = folder.path().join("context.tar");
    write_context(&context, dockerfile);
    let spec = BuildSpec {
        tag: tag.to_owned(),
        dockerfile: "Dockerfile".to_owned(),
        labels: BTreeMap::new(),
    };
    engine
        .build_image(&spec, &context, &mut |_| {})
        .await
        .unwrap();
}

fn write_context(path: &Path, dockerfile: &str) {
    let mut tar = tar::Builder::new(std::fs::File::create(path).unwrap());
    let mut header = tar::Header::new_gnu();
    header.set_size(dockerfile.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "Dockerfile", dockerfile.as_bytes())
        .unwrap();
    tar.finish().unwrap();
}

/// A service as deploy.toml would resolve it.
pub fn service(
    name: &str,
    kind: ServiceKind,
    version: &str,
    ready_timeout_seconds: u64,
    env: &[(&str, ServiceValue)],
) -> Service {
    Service {
        name: name.to_owned(),
        kind,
        version: version.to_owned(),
        base: format!("service-{name}"),
        ready_timeout_seconds,
        env: env
            .iter()
            .map(|(variable, part)| ((*variable).to_owned(), *part))
            .collect(),
    }
}

/// One test run: its id, labels and network.
pub struct Run {
    pub id: String,
    pub labels: BTreeMap<String, String>,
    pub network: String,
}

impl Run {
    /// Creates the run's network.
    pub async fn create(engine: &Engine, id: &str) -> Run {
        let labels = BTreeMap::from([
            (RUN_LABEL.to_owned(), id.to_owned()),
            (PROJECT_LABEL.to_owned(), PROJECT.to_owned()),
        ]);
        let network = format!("{PROJECT}-{id}");
        engine.create_network(&network, &labels).await.unwrap();
        Run {
            id: id.to_owned(),
            labels,
            network,
        }
    }

    /// Removes the network; then nothing carrying the run's label may be left.
    pub async fn finish(self, engine: &Engine) {
        let label = format!("{RUN_LABEL}={}", self.id);
        let left = engine.find_labelled(&[&label]).await.unwrap();
        assert!(
            left.containers.is_empty() && left.volumes.is_empty(),
            "the services left containers or volumes behind: {left:?}"
        );
        engine.remove_leftovers(&left).await;
        let left = engine.find_labelled(&[&label]).await.unwrap();
        assert!(left.is_empty(), "{left:?}");
    }
}

/// A unique run id.
pub fn run_id(test: &str) -> String {
    format!(
        "{test}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}
