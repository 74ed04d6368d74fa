//! Integration tests for dockyard-scan: trivy reports (golden and real), the policy gate, the four renderings, and trivy itself.

mod policy;
mod render;
mod report;
mod runner;
mod support;
