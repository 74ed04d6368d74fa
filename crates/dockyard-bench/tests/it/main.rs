//! Tests of the bench crate's pure parts: statistics, verdicts with noise, rendering, fixtures, parsing.

mod fixture;
mod render;
mod stats;
mod verdict;
