//! Figure 7: the edit loop. What a developer does all day (change nothing, one line of a view, a template, a
//! stylesheet, add a requirement, start cold with the bases present), then both images again: Dockyard's `cargo
//! xtask build` against the multi-stage Dockerfiles of `peers/` built by BuildKit (Debian's docker.io CLI, the CA as
//! a build secret, pip's cache in a cache mount) and by the classic builder, each side on its own copy of the sample
//! with the same edit, a different side first each round. The peers' docker commands are in `scripts/baseline.sh`.
//! The floor is the app's own tests and collectstatic in a warm container of the BuildKit peer's test stage: every
//! side runs them.

use std::path::{Path, PathBuf};

use crate::baseline;
use crate::error::{io, BenchError};
use crate::figures::{xtask, Options, Outcome};
use crate::stats::Summary;
use crate::verdict::{Row, Statistic, Target, Unit};
use dockyard_pipeline::progress::parse_done_line;

/// The figure's number in BENCHMARKS.md.
const FIGURE: u8 = 7;
/// The Dockyard side's project.
const PROJECT: &str = "dockyard-bench-edit";
/// The Debian docker.io CLI the baseline script builds the peers with (it drives the engine's built-in BuildKit).
const DEBIAN_DOCKER: &str = "/usr/bin/docker";
/// How far above the floor (the app's own tests and collectstatic) a source edit may take, in seconds.
const FLOOR_MARGIN_SECONDS: f64 = 1.5;

/// One of the hand-written peers.
#[derive(Debug, Clone, Copy)]
struct Peer {
    /// Its name in the figure.
    name: &'static str,
    /// Its Dockerfile in `peers/`.
    dockerfile: &'static str,
    /// BuildKit (the CA as a secret) or the classic builder.
    buildkit: bool,
}

const BUILDKIT: Peer = Peer {
    name: "buildkit",
    dockerfile: "Dockerfile.buildkit",
    buildkit: true,
};
const CLASSIC: Peer = Peer {
    name: "classic",
    dockerfile: "Dockerfile.classic",
    buildkit: false,
};

fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

impl Peer {
    fn folder(self, options: &Options) -> PathBuf {
        options.work.join(format!("peer-{}", self.name))
    }

    fn prefix(self) -> String {
        format!("dockyard-bench-peer-{}", self.name)
    }

    fn tag(self, target: &str) -> String {
        format!("{}:{target}", self.prefix())
    }

    /// Writes the Dockerfile with `nonce` (a new nonce makes every stage cold).
    fn set_nonce(self, options: &Options, nonce: &str) -> Result<(), BenchError> {
        let dockerfile = path_str(&peers_folder().join(self.dockerfile));
        baseline::run(&[
            "peer-nonce",
            &dockerfile,
            nonce,
            &path_str(&self.folder(options)),
        ])?;
        Ok(())
    }

    /// Builds `targets` in turn; returns the wall time.
    fn build_targets(
        self,
        options: &Options,
        ca: &Path,
        targets: &[&str],
    ) -> Result<f64, BenchError> {
        let mut args = vec![
            "peer-build".to_owned(),
            path_str(&self.folder(options)),
            if self.buildkit { "1" } else { "0" }.to_owned(),
            path_str(ca),
            self.prefix(),
        ];
        args.extend(targets.iter().map(|target| (*target).to_owned()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(baseline::run(&args)?.0)
    }

    /// Builds both images; returns the wall time.
    fn build(self, options: &Options, ca: &Path) -> Result<f64, BenchError> {
        self.build_targets(options, ca, &["production", "nginx"])
    }
}

/// The peers' Dockerfiles, shipped with this crate.
fn peers_folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peers")
}

/// The CA bundle the builds use to reach PyPI through an intercepting proxy.
fn ca_bundle() -> PathBuf {
    std::env::var_os("DOCKYARD_CA_BUNDLE").map_or_else(
        || PathBuf::from("/etc/ssl/certs/ca-certificates.crt"),
        PathBuf::from,
    )
}

/// What a round changes before every side builds again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Nothing,
    ViewLine,
    Stylesheet,
    Template,
    Requirement,
    Cold,
}

impl Change {
    const ALL: [Change; 6] = [
        Change::Nothing,
        Change::ViewLine,
        Change::Template,
        Change::Stylesheet,
        Change::Requirement,
        Change::Cold,
    ];

    fn describe(self) -> &'static str {
        match self {
            Change::Nothing => "nothing changed",
            Change::ViewLine => "one line in a view",
            Change::Stylesheet => "a CSS file",
            Change::Template => "a template",
            Change::Requirement => "one requirement added",
            Change::Cold => "cold, bases present",
        }
    }

    /// The target: Dockyard's median over the BuildKit peer's.
    fn ratio_target(self) -> f64 {
        match self {
            Change::Nothing => 0.1,
            Change::ViewLine | Change::Stylesheet | Change::Template => 0.6,
            Change::Requirement => 0.7,
            Change::Cold => 0.8,
        }
    }

    /// What was tried to meet the ratio target, and what is left of Dockyard's time, from the measurements below.
    fn tried(self) -> &'static str {
        match self {
            Change::Nothing => "what is left: reading the state file and one image lookup per image through the Engine API",
            Change::ViewLine | Change::Stylesheet | Change::Template => "tried: no pip on a source edit (a dependencies volume per locked set), uv's --compile-bytecode so the tests import compiled packages, the images assembled and loaded through /images/load instead of docker build, the nginx image kept when no static file changed; what is left: the builder container's start, the app's tests then collectstatic (the floor) and the context's download",
            Change::Requirement => "tried: uv instead of pip (its binary kept in the pip cache volume), the production dependencies layer made beside the builder's tests from the same wheels, venvs without pip or setuptools; what is left: the same wheels installed and byte-compiled twice (the builder's test venv and the production venv, on the same cores), then the tests",
            Change::Cold => "tried: uv, the dependencies layer beside the tests, the images assembled; what is left: the export's dependencies step from an empty pip cache (uv itself fetched again, then every wheel built and installed) before the tests, where the BuildKit peer's pip comes with its base",
        }
    }

    /// The notes BENCHMARKS.md gives this change: where Dockyard's time went (`steps`), and, when the ratio target is
    /// missed, whether the floor alone rules it out and what was tried.
    fn notes(
        self,
        dockyard: &Summary,
        buildkit: &Summary,
        floor: Option<f64>,
        steps: &str,
    ) -> Vec<String> {
        let what = self.describe();
        let mut notes = vec![format!(
            "figure 7, {what}: Dockyard's median {:.2} s went to {steps}",
            dockyard.median
        )];
        let target = self.ratio_target();
        if dockyard.median <= target * buildkit.median {
            return notes;
        }
        if let (Some(floor), Change::ViewLine | Change::Stylesheet | Change::Template) =
            (floor, self)
        {
            let reachable = target * buildkit.median;
            if reachable < floor {
                notes.push(format!(
                    "figure 7, {what}: the ratio target is under the floor measured in this run ({target} x the BuildKit peer's {:.2} s = {reachable:.2} s < the app's own tests and collectstatic, {floor:.2} s): no build that runs the tests can meet it; above the floor, Dockyard took {:.2} s and BuildKit {:.2} s",
                    buildkit.median,
                    dockyard.median - floor,
                    buildkit.median - floor
                ));
            }
        }
        notes.push(format!(
            "figure 7, {what}: ratio target {target} not met; {}",
            self.tried()
        ));
        notes
    }

    /// Applies round `round`'s edit to the sample copy in `root`: each round's edit differs from the last, so every
    /// side must rebuild.
    fn apply(self, root: &Path, round: usize) -> Result<(), BenchError> {
        let append = |relative: &str, text: String| -> Result<(), BenchError> {
            let path = root.join(relative);
            let mut contents = std::fs::read_to_string(&path).map_err(io("reading", &path))?;
            contents.push_str(&text);
            std::fs::write(&path, contents).map_err(io("writing", &path))
        };
        match self {
            Change::Nothing | Change::Cold => Ok(()),
            Change::ViewLine => append("app/notes/views.py", format!("# bench edit {round}\n")),
            Change::Stylesheet => append(
                "app/notes/static/notes/app.css",
                format!(".bench-edit-{round} {{ color: #{:06x}; }}\n", round * 4099),
            ),
            Change::Template => append(
                "app/notes/templates/notes/index.html",
                format!("{{# bench edit {round} #}}\n"),
            ),
            Change::Requirement => {
                // A small pure-Python package, another release each round; none is in the sample's requirements.
                const SIX: [&str; 4] = ["1.14.0", "1.15.0", "1.16.0", "1.17.0"];
                let path = root.join("app/requirements.txt");
                let original = root.join("requirements.txt.orig");
                if !original.exists() {
                    std::fs::copy(&path, &original).map_err(io("copying", &path))?;
                }
                let mut text =
                    std::fs::read_to_string(&original).map_err(io("reading", &original))?;
                text.push_str(&format!("six=={}\n", SIX[round % SIX.len()]));
                std::fs::write(&path, text).map_err(io("writing", &path))
            }
        }
    }
}

/// Prepares a peer's folder: the sample app, nginx.conf, the CA (the classic peer copies it into its builder stage).
fn prepare_peer(options: &Options, peer: Peer, nonce: &str) -> Result<(), BenchError> {
    baseline::run(&[
        "peer-prepare",
        &path_str(&peers_folder()),
        &path_str(&options.workspace.join("app")),
        &path_str(&ca_bundle()),
        &path_str(&peer.folder(options)),
    ])?;
    peer.set_nonce(options, nonce)
}

/// Removes a peer's images (its cache goes with a new nonce) for a cold round.
fn remove_peer_images(peer: Peer) -> Result<(), BenchError> {
    let tags = ["production", "nginx", "test"].map(|target| peer.tag(target));
    baseline::run(&["remove-images", &tags[0], &tags[1], &tags[2]])?;
    Ok(())
}

/// The Dockyard side's cold start: its images, its caches (pip, dependencies) and its target/ removed.
fn dockyard_cold(options: &Options, project: &Path) -> Result<(), BenchError> {
    let config = path_str(&project.join("deploy.toml"));
    xtask(options, &["--config", &config, "clean", "--caches"])?;
    let tags = ["", "-nginx", "-builder"].map(|suffix| format!("{PROJECT}{suffix}:latest"));
    baseline::run(&["remove-images", &tags[0], &tags[1], &tags[2]])?;
    let _ = std::fs::remove_dir_all(project.join("target"));
    Ok(())
}

/// The diff ids of `tag`'s layers, bottom first (none when the engine has no such image).
fn layers(tag: &str) -> Vec<String> {
    baseline::run(&["layers", tag])
        .ok()
        .and_then(|(_, stdout)| serde_json::from_str(&stdout).ok())
        .unwrap_or_default()
}

/// A `Write` that counts and drops.
#[derive(Default)]
struct Counter(u64);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a push of `tags` sends after a build, given the layers they had before it: the gzip size (level 6, as the
/// engine compresses for a registry) of every layer that is new, in KiB. Read from `docker save` of each image.
fn push_kib(options: &Options, tags: &[String], before: &[String]) -> Result<f64, BenchError> {
    use sha2::Digest;
    let mut bytes = 0u64;
    let mut counted: Vec<String> = Vec::new();
    for tag in tags {
        let new: Vec<String> = layers(tag)
            .into_iter()
            .filter(|layer| !before.contains(layer) && !counted.contains(layer))
            .collect();
        if new.is_empty() {
            continue;
        }
        let archive = options.work.join("push-bytes.tar");
        baseline::run(&["save", tag, &path_str(&archive)])?;
        let file = std::fs::File::open(&archive).map_err(io("opening", &archive))?;
        let mut saved = tar::Archive::new(std::io::BufReader::new(file));
        for entry in saved.entries().map_err(io("reading", &archive))? {
            let mut entry = entry.map_err(io("reading", &archive))?;
            let is_layer = entry
                .path()
                .map(|path| path.to_string_lossy().ends_with("layer.tar"))
                .unwrap_or(false);
            if !is_layer {
                continue;
            }
            let mut hasher = sha2::Sha256::new();
            let mut gzip =
                flate2::write::GzEncoder::new(Counter::default(), flate2::Compression::new(6));
            let mut buffer = vec![0u8; 256 * 1024];
            loop {
                let n = std::io::Read::read(&mut entry, &mut buffer)
                    .map_err(io("reading", &archive))?;
                if n == 0 {
                    break;
                }
                hasher.update(&buffer[..n]);
                std::io::Write::write_all(&mut gzip, &buffer[..n])
                    .map_err(io("compressing", &archive))?;
            }
            let diff_id = format!("sha256:{:x}", hasher.finalize());
            let compressed = gzip.finish().map_err(io("compressing", &archive))?.0;
            if new.contains(&diff_id) && !counted.contains(&diff_id) {
                bytes += compressed;
                counted.push(diff_id);
            }
        }
        let _ = std::fs::remove_file(&archive);
    }
    Ok(bytes as f64 / 1024.0)
}

/// The steps a Dockyard build reports as done in its plain log, with their seconds.
fn steps(log: &str) -> Vec<(String, f64)> {
    log.lines()
        .filter_map(parse_done_line)
        .map(|(name, seconds)| (name.to_owned(), seconds))
        .collect()
}

/// Each step's median over the runs, in the order the steps first finished: "export 2.31 s, production image
/// 0.12 s"; steps under 0.05 s are counted, not listed.
fn breakdown(runs: &[Vec<(String, f64)>]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for (name, _) in runs.iter().flatten() {
        if !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    let mut listed = Vec::new();
    let mut quick = 0;
    for name in names {
        let samples: Vec<f64> = runs
            .iter()
            .map(|run| {
                run.iter()
                    .filter(|(step, _)| step == name)
                    .map(|(_, seconds)| seconds)
                    .sum()
            })
            .collect();
        match Summary::of(&samples) {
            Some(summary) if summary.median >= 0.05 => {
                listed.push(format!("{name} {:.2} s", summary.median));
            }
            _ => quick += 1,
        }
    }
    if quick > 0 {
        listed.push(format!("{quick} more steps under 0.05 s each"));
    }
    listed.join(", ")
}

/// The floor: the app's own tests then collectstatic, in a warm container of the BuildKit peer's test stage.
fn floor(options: &Options, ca: &Path) -> Result<f64, BenchError> {
    BUILDKIT.build_targets(options, ca, &["test"])?;
    Ok(baseline::run(&["peer-floor", &BUILDKIT.tag("test")])?.0)
}

/// Figure 7.
pub(crate) fn figure_edit_loop(
    options: &Options,
    outcome: &mut Outcome,
    progress: &mut dyn FnMut(&str),
) -> Result<(), BenchError> {
    if !Path::new(DEBIAN_DOCKER).is_file() {
        return Err(BenchError::Command {
            what: "figure 7".to_owned(),
            message: format!(
                "{DEBIAN_DOCKER} (Debian's docker.io CLI, which drives BuildKit) is not installed"
            ),
        });
    }
    let ca = ca_bundle();
    let project = crate::services::project(options, PROJECT, "deploy.toml")?;
    let config = project.join("deploy.toml").display().to_string();
    // Its own pip cache, so a cold round empties it as the peers' cold builds start without theirs.
    let deploy = std::fs::read_to_string(&config).map_err(io("reading", &project))?;
    let deploy = deploy.replace(
        "pip_cache_volume = \"dockyard-sample-pip-cache\"",
        &format!("pip_cache_volume = \"{PROJECT}-pip-cache\""),
    );
    std::fs::write(&config, deploy).map_err(io("writing", &project))?;
    let mut nonce = 0u32;
    let nonce_text = |nonce: u32| format!("edit-loop-{}-{nonce}", std::process::id());
    for peer in [BUILDKIT, CLASSIC] {
        prepare_peer(options, peer, &nonce_text(nonce))?;
    }
    progress("figure 7: first builds of the three sides");
    xtask(options, &["--config", &config, "build"])?;
    for peer in [BUILDKIT, CLASSIC] {
        peer.build(options, &ca)?;
    }
    let runs = options.runs.max(1);
    // The floor first: every source edit's value target is measured from it.
    progress("figure 7: the floor (the app's own tests and collectstatic)");
    let mut floors = Vec::new();
    for _ in 0..runs {
        floors.push(floor(options, &ca)?);
    }
    let floor_median = Summary::of(&floors).map(|summary| summary.median);
    if let Some(floor) = Summary::of(&floors) {
        outcome.rows.push(Row {
            figure: FIGURE,
            name: "edit loop floor: the app's own tests and collectstatic, in a warm container of the test stage".to_owned(),
            unit: Unit::Seconds,
            dockyard: floor,
            baseline: None,
            targets: Vec::new(),
        });
    }
    let tags: [Vec<String>; 3] = [
        vec![
            format!("{PROJECT}:latest"),
            format!("{PROJECT}-nginx:latest"),
        ],
        vec![BUILDKIT.tag("production"), BUILDKIT.tag("nginx")],
        vec![CLASSIC.tag("production"), CLASSIC.tag("nginx")],
    ];
    let all_layers =
        |side: &Vec<String>| -> Vec<String> { side.iter().flat_map(|tag| layers(tag)).collect() };
    for change in Change::ALL {
        let (mut dockyard, mut buildkit, mut classic) = (Vec::new(), Vec::new(), Vec::new());
        let mut dockyard_steps = Vec::new();
        let mut pushed: [Vec<f64>; 3] = Default::default();
        for round in 0..runs {
            progress(&format!(
                "figure 7: {}, run {}",
                change.describe(),
                round + 1
            ));
            let edit = round + 1;
            change.apply(&project, edit)?;
            for peer in [BUILDKIT, CLASSIC] {
                change.apply(&peer.folder(options), edit)?;
            }
            if change == Change::Cold {
                nonce += 1;
                dockyard_cold(options, &project)?;
                for peer in [BUILDKIT, CLASSIC] {
                    remove_peer_images(peer)?;
                    peer.set_nonce(options, &nonce_text(nonce))?;
                }
            }
            let before: Vec<Vec<String>> = tags.iter().map(all_layers).collect();
            // The sides take turns to go first.
            for side in 0..3 {
                match (side + round) % 3 {
                    0 => {
                        let (seconds, _, log) = xtask(options, &["--config", &config, "build"])?;
                        dockyard.push(seconds);
                        dockyard_steps.push(steps(&log));
                    }
                    1 => buildkit.push(BUILDKIT.build(options, &ca)?),
                    _ => classic.push(CLASSIC.build(options, &ca)?),
                }
            }
            // What a push would send, measured after the timed builds.
            for (side, side_tags) in tags.iter().enumerate() {
                pushed[side].push(push_kib(options, side_tags, &before[side])?);
            }
        }
        let mut targets = vec![Target::RatioAtMost(change.ratio_target())];
        if let (Some(floor), Change::ViewLine | Change::Template | Change::Stylesheet) =
            (floor_median, change)
        {
            targets.push(Target::ValueAtMost(
                floor + FLOOR_MARGIN_SECONDS,
                Statistic::Median,
            ));
        }
        let (Some(dockyard), Some(buildkit), Some(classic)) = (
            Summary::of(&dockyard),
            Summary::of(&buildkit),
            Summary::of(&classic),
        ) else {
            continue;
        };
        outcome.notes.extend(change.notes(
            &dockyard,
            &buildkit,
            floor_median,
            &breakdown(&dockyard_steps),
        ));
        outcome.rows.push(Row {
            figure: FIGURE,
            name: format!(
                "edit loop, {}, both images, against the BuildKit peer",
                change.describe()
            ),
            unit: Unit::Seconds,
            dockyard,
            baseline: Some(buildkit),
            targets,
        });
        outcome.rows.push(Row {
            figure: FIGURE,
            name: format!(
                "edit loop, {}, both images, against the classic peer",
                change.describe()
            ),
            unit: Unit::Seconds,
            dockyard,
            baseline: Some(classic),
            targets: Vec::new(),
        });
        if let (Some(dockyard), Some(buildkit), Some(classic)) = (
            Summary::of(&pushed[0]),
            Summary::of(&pushed[1]),
            Summary::of(&pushed[2]),
        ) {
            for (peer, baseline) in [("BuildKit", buildkit), ("classic", classic)] {
                outcome.rows.push(Row {
                    figure: FIGURE,
                    name: format!(
                        "edit loop, {}, bytes a push sends, against the {peer} peer",
                        change.describe()
                    ),
                    unit: Unit::Kibibytes,
                    dockyard,
                    baseline: Some(baseline),
                    targets: Vec::new(),
                });
            }
        }
    }
    for peer in [BUILDKIT, CLASSIC] {
        remove_peer_images(peer)?;
    }
    outcome.commands.push((FIGURE, format!("cargo xtask --config target/bench/{PROJECT}/deploy.toml build (a copy of the sample; cold: `clean --caches`, its images and target/ removed)")));
    outcome.commands.push((FIGURE, "bash crates/dockyard-bench/scripts/baseline.sh peer-build FOLDER 1 CA dockyard-bench-peer-buildkit production nginx (DOCKER_BUILDKIT=1 /usr/bin/docker build -q --secret id=pipca,src=CA --target TARGET; crates/dockyard-bench/peers/Dockerfile.buildkit in a copy of the sample; cold: a new nonce, its images removed)".to_owned()));
    outcome.commands.push((FIGURE, "bash crates/dockyard-bench/scripts/baseline.sh peer-build FOLDER 0 CA dockyard-bench-peer-classic production nginx (DOCKER_BUILDKIT=0; crates/dockyard-bench/peers/Dockerfile.classic)".to_owned()));
    outcome.commands.push((FIGURE, "the floor: bash crates/dockyard-bench/scripts/baseline.sh peer-floor dockyard-bench-peer-buildkit:test (docker run --rm of the BuildKit peer's test stage: manage.py test, then collectstatic)".to_owned()));
    outcome.commands.push((FIGURE, "bytes a push sends: the gzip size (level 6) of each layer of both images that the images before the change lacked, read from `baseline.sh save` (docker save) after the timed builds".to_owned()));
    outcome.notes.push(format!("figure 7 ran {runs} rounds per change; each round applies the same edit to the three copies, then builds them in turn, a different side first each round; a source edit's value target is the floor measured in the same run plus {FLOOR_MARGIN_SECONDS} s"));
    Ok(())
}
