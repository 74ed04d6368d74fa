//! The built-in service images: for each [`ServiceKind`], the release series Debian packages, the suite and packages
//! that bootstrap them, the entrypoint (`docker/services/`) and the image configuration applied on import.

use crate::choices::ServiceKind;
use crate::image_reference::ImageRef;
use crate::model::{Bootstrap, BootstrapFile};

/// Where each built-in service image keeps its entrypoint.
pub const ENTRYPOINT_PATH: &str = "/usr/local/bin/dockyard-service-entrypoint";

/// One release series Debian packages for a service kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DebianService {
    /// The service.
    pub kind: ServiceKind,
    /// The release series the suite ships (`"15"`, `"7.0"`, `"3.10"`); an asked version must be a prefix of it.
    pub series: &'static str,
    /// The Debian suite.
    pub suite: &'static str,
    /// The packages.
    pub packages: &'static [&'static str],
}

/// Every release series Dockyard can bootstrap, oldest suite first.
pub const DEBIAN_SERVICES: &[DebianService] = &[
    DebianService {
        kind: ServiceKind::Postgres,
        series: "15",
        suite: "bookworm",
        packages: &["postgresql-15", "openssl"],
    },
    DebianService {
        kind: ServiceKind::Postgres,
        series: "17",
        suite: "trixie",
        packages: &["postgresql-17", "openssl"],
    },
    DebianService {
        kind: ServiceKind::Redis,
        series: "7.0",
        suite: "bookworm",
        packages: &["redis-server", "redis-tools"],
    },
    DebianService {
        kind: ServiceKind::Redis,
        series: "8.0",
        suite: "trixie",
        packages: &["redis-server", "redis-tools"],
    },
    DebianService {
        kind: ServiceKind::Rabbitmq,
        series: "3.10",
        suite: "bookworm",
        packages: &["rabbitmq-server"],
    },
    DebianService {
        kind: ServiceKind::Rabbitmq,
        series: "4.0",
        suite: "trixie",
        packages: &["rabbitmq-server"],
    },
];

/// Whether `version` (dot-separated numbers) names `series` or a release of it: `"15"` and `"15"`, `"7"` and
/// `"7.0"`, `"3.10"` and `"3.10"`; never `"3.1"` and `"3.10"`.
pub fn version_matches(version: &str, series: &str) -> bool {
    let asked: Vec<&str> = version.split('.').collect();
    let offered: Vec<&str> = series.split('.').collect();
    asked.len() <= offered.len() && asked.iter().zip(&offered).all(|(a, b)| a == b)
}

/// Whether a server reporting `running` (`"15.14 (Debian 15.14-0+deb12u1)"`, `"7.0.15"`) runs `version`: each
/// component of `version` equals the same component of the server's.
pub fn running_version_matches(version: &str, running: &str) -> bool {
    let running = running
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .find(|part| !part.is_empty())
        .unwrap_or_default();
    let running: Vec<&str> = running.split('.').collect();
    let asked: Vec<&str> = version.split('.').collect();
    asked.len() <= running.len() && asked.iter().zip(&running).all(|(a, b)| a == b)
}

/// The release series Debian packages for `kind` whose series `version` names, if any.
pub fn debian_service(kind: ServiceKind, version: &str) -> Option<&'static DebianService> {
    DEBIAN_SERVICES
        .iter()
        .find(|offer| offer.kind == kind && version_matches(version, offer.series))
}

/// The series Debian packages for `kind`, for hints: `15 (bookworm), 17 (trixie)`.
pub fn offered_series(kind: ServiceKind) -> String {
    DEBIAN_SERVICES
        .iter()
        .filter(|offer| offer.kind == kind)
        .map(|offer| format!("{} ({})", offer.series, offer.suite))
        .collect::<Vec<_>>()
        .join(", ")
}

impl DebianService {
    /// The name Dockyard gives the image it bootstraps: `dockyard/postgres:15-bookworm`.
    pub fn image(&self) -> ImageRef {
        ImageRef {
            registry: None,
            repository: format!("dockyard/{}", self.kind.as_str()),
            tag: Some(format!("{}-{}", self.series, self.suite)),
            digest: None,
        }
    }

    /// The mmdebstrap recipe: the packages, the entrypoint, and the image configuration.
    pub fn bootstrap(&self) -> Bootstrap {
        let entrypoint = match self.kind {
            ServiceKind::Postgres => include_str!("../../../docker/services/postgres-entrypoint"),
            ServiceKind::Redis => include_str!("../../../docker/services/redis-entrypoint"),
            ServiceKind::Rabbitmq => include_str!("../../../docker/services/rabbitmq-entrypoint"),
        };
        let mut changes = vec![
            format!("ENTRYPOINT [\"{ENTRYPOINT_PATH}\"]"),
            format!("EXPOSE {}", self.kind.port()),
        ];
        match self.kind {
            ServiceKind::Postgres => changes.extend([
                format!(
                    "ENV PATH=/usr/lib/postgresql/{}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    self.series
                ),
                format!("ENV PGDATA={}", self.kind.data_dir()),
                "CMD [\"postgres\", \"-c\", \"listen_addresses=*\"]".to_owned(),
            ]),
            ServiceKind::Redis => changes.push(
                "CMD [\"redis-server\", \"--dir\", \"/data\", \"--protected-mode\", \"no\"]".to_owned(),
            ),
            ServiceKind::Rabbitmq => {
                changes.extend([
                    format!("ENV HOME={}", self.kind.data_dir()),
                    "CMD [\"rabbitmq-server\"]".to_owned(),
                ]);
            }
        }
        Bootstrap {
            suite: self.suite.to_owned(),
            variant: "minbase".to_owned(),
            packages: self
                .packages
                .iter()
                .map(|package| (*package).to_owned())
                .collect(),
            mirror: None,
            files: vec![BootstrapFile {
                path: ENTRYPOINT_PATH.to_owned(),
                content: entrypoint.to_owned(),
            }],
            changes,
            architecture: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_name_a_series_component_by_component() {
        assert!(version_matches("15", "15"));
        assert!(version_matches("7", "7.0"));
        assert!(version_matches("7.0", "7.0"));
        assert!(!version_matches("3.1", "3.10"));
        assert!(!version_matches("16", "15"));
        assert!(!version_matches("7.0.15", "7.0"));
        assert_eq!(
            debian_service(ServiceKind::Postgres, "17").map(|offer| offer.suite),
            Some("trixie")
        );
        assert_eq!(debian_service(ServiceKind::Postgres, "16"), None);
        assert_eq!(
            offered_series(ServiceKind::Redis),
            "7.0 (bookworm), 8.0 (trixie)"
        );
    }

    #[test]
    fn running_versions_are_compared_by_component() {
        assert!(running_version_matches(
            "15",
            "15.14 (Debian 15.14-0+deb12u1)"
        ));
        assert!(running_version_matches("7.0", "7.0.15"));
        assert!(running_version_matches("3.10", "3.10.8"));
        assert!(!running_version_matches(
            "16",
            "15.14 (Debian 15.14-0+deb12u1)"
        ));
        assert!(!running_version_matches("3.1", "3.10.8"));
        assert!(!running_version_matches("7", ""));
    }

    #[test]
    fn every_image_has_an_entrypoint_and_a_command() {
        for offer in DEBIAN_SERVICES {
            let recipe = offer.bootstrap();
            assert_eq!(recipe.files.len(), 1);
            assert!(recipe.files[0].content.starts_with("#!/bin/sh"));
            assert!(recipe
                .changes
                .iter()
                .any(|change| change.starts_with("CMD ")));
            assert!(recipe
                .changes
                .iter()
                .any(|change| change.starts_with("ENTRYPOINT ")));
        }
    }
}
