//! `cargo xtask dev`'s parts that need no engine: watching the project for changes ([`Watcher`], debounced),
//! what a batch of changed paths means ([`Layout::classify`]: source files to sync, dependency files that rebuild
//! the dependencies), the server launcher that restarts the server when Dockyard signals a synced change
//! ([`LAUNCHER`]), the server's command ([`server_command`]), the folders the dev user owns and the launcher ([`setup_tar`]),
//! and the terminal's raw mode for interactive one-off commands ([`RawTerminal`]).
//!
//! The session itself (containers, uploads, signals) is `dockyard-pipeline`'s `dev` module: this crate never talks
//! to the engine.
#![warn(missing_docs)]

mod changes;
mod launcher;
mod terminal;
mod watch;

pub use crate::changes::{Changes, Layout};
pub use crate::launcher::{
    server_command, setup_tar, HostUser, DEV_FOLDER, LAUNCHER, LAUNCHER_PATH, RESTART_SIGNAL,
};
pub use crate::terminal::RawTerminal;
pub use crate::watch::{WatchError, Watcher, QUIET_PERIOD};
