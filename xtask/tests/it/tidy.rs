//! Tidy checks of the repository itself (being written).
