//! Labelled resources: what a run created, found again by label and removed.

use std::collections::HashMap;

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
};

use crate::{Engine, EngineError};

/// Label carried by every container, network and volume a run creates; its value is the run id.
pub const RUN_LABEL: &str = "dev.dockyard.run";
/// Label naming the project (`project.name` in deploy.toml) on everything Dockyard creates.
pub const PROJECT_LABEL: &str = "dev.dockyard.project";

/// Containers, networks and volumes that carry a given label.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leftovers {
    /// Container ids with their names.
    pub containers: Vec<String>,
    /// Network ids (two networks may share a name; an id names one).
    pub networks: Vec<String>,
    /// Volume names.
    pub volumes: Vec<String>,
}

impl Leftovers {
    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.networks.is_empty() && self.volumes.is_empty()
    }

    /// How many resources were found.
    pub fn len(&self) -> usize {
        self.containers.len() + self.networks.len() + self.volumes.len()
    }
}

impl Engine {
    /// Lists every container (running or not), network and volume whose labels match all of `labels` (`key` or `key=value`).
    pub async fn find_labelled(&self, labels: &[&str]) -> Result<Leftovers, EngineError> {
        let filters: HashMap<&str, Vec<&str>> = HashMap::from([("label", labels.to_vec())]);
        let label = labels.join(",");
        let containers = self
            .docker
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(|error| {
                self.engine_error(format!("listing containers labelled {label}"), error)
            })?
            .into_iter()
            .filter_map(|container| container.id)
            .collect();
        let networks = self
            .docker
            .list_networks(Some(
                ListNetworksOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(|error| {
                self.engine_error(format!("listing networks labelled {label}"), error)
            })?
            .into_iter()
            .filter_map(|network| network.id)
            .collect();
        let volumes = self
            .docker
            .list_volumes(Some(
                ListVolumesOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(|error| self.engine_error(format!("listing volumes labelled {label}"), error))?
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|volume| volume.name)
            .collect();
        Ok(Leftovers {
            containers,
            networks,
            volumes,
        })
    }

    /// Creates a bridge network with labels and returns its id.
    pub async fn create_network(
        &self,
        name: &str,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> Result<String, EngineError> {
        let request = bollard::models::NetworkCreateRequest {
            name: name.to_owned(),
            driver: Some("bridge".to_owned()),
            labels: Some(
                labels
                    .iter()
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect(),
            ),
            ..Default::default()
        };
        let response = self
            .docker
            .create_network(request)
            .await
            .map_err(|error| self.engine_error(format!("creating network {name}"), error))?;
        Ok(response.id)
    }

    /// Removes everything in `leftovers`: containers first, then networks and volumes. Returns what could not be removed.
    pub async fn remove_leftovers(&self, leftovers: &Leftovers) -> Vec<EngineError> {
        let mut failures = Vec::new();
        for container in &leftovers.containers {
            if let Err(error) = self.remove_container(container).await {
                failures.push(error);
            }
        }
        for network in &leftovers.networks {
            if let Err(error) = self.docker.remove_network(network).await {
                let error = self.engine_error(format!("removing network {network}"), error);
                if !error.is_not_found() {
                    failures.push(error);
                }
            }
        }
        for volume in &leftovers.volumes {
            if let Err(error) = self
                .docker
                .remove_volume(
                    volume,
                    None::<bollard::query_parameters::RemoveVolumeOptions>,
                )
                .await
            {
                let error = self.engine_error(format!("removing volume {volume}"), error);
                if !error.is_not_found() {
                    failures.push(error);
                }
            }
        }
        failures
    }
}
