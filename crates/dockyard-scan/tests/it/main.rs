//! Integration tests for dockyard-scan: trivy reports (golden and real), the policy gate, the four renderings, trivy itself, and SBOMs.

mod policy;
mod render;
mod report;
mod runner;
mod sbom;
mod support;
