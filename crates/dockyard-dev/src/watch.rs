//! [`Watcher`]: file changes under the project, from the operating system's notifications (inotify through the
//! `notify` crate), delivered in debounced batches.

use std::path::PathBuf;
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

/// How long the tree must stay quiet before a batch is handed over: an editor's save (write, rename, chmod) and a
/// `git checkout` arrive as one batch, and a single save costs no more than this.
pub const QUIET_PERIOD: Duration = Duration::from_millis(30);
/// The longest a batch waits for quiet: a tree that keeps changing is still synced.
const LONGEST_BATCH: Duration = Duration::from_millis(500);

/// What can go wrong watching.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The operating system refused a watch.
    #[error("cannot watch {path} for changes: {source}")]
    Watch {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: notify::Error,
    },
}

impl WatchError {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        "Linux limits inotify watches per user: raise fs.inotify.max_user_watches \
         (`sysctl fs.inotify.max_user_watches=524288`), or leave big folders out with .dockerignore"
            .to_owned()
    }
}

/// Watches folders and hands over changed paths in batches.
pub struct Watcher {
    // Kept alive: dropping it stops the notifications.
    _inner: notify::RecommendedWatcher,
    events: mpsc::UnboundedReceiver<Vec<PathBuf>>,
}

impl Watcher {
    /// Watches `recursive` folders with everything below them, and `flat` folders without their subfolders.
    pub fn new(recursive: &[PathBuf], flat: &[PathBuf]) -> Result<Watcher, WatchError> {
        let (sender, events) = mpsc::unbounded_channel();
        let handler = move |event: notify::Result<notify::Event>| {
            let Ok(event) = event else { return };
            if matches!(event.kind, EventKind::Access(_)) {
                return;
            }
            let _ = sender.send(event.paths);
        };
        let mut inner =
            notify::recommended_watcher(handler).map_err(|source| WatchError::Watch {
                path: recursive.first().cloned().unwrap_or_default(),
                source,
            })?;
        let folders = recursive
            .iter()
            .map(|folder| (folder, RecursiveMode::Recursive))
            .chain(
                flat.iter()
                    .map(|folder| (folder, RecursiveMode::NonRecursive)),
            );
        for (folder, mode) in folders {
            inner
                .watch(folder, mode)
                .map_err(|source| WatchError::Watch {
                    path: folder.clone(),
                    source,
                })?;
        }
        Ok(Watcher {
            _inner: inner,
            events,
        })
    }

    /// Waits for a change, then gathers every path changed until the tree is quiet for [`QUIET_PERIOD`] (or
    /// [`LONGEST_BATCH`] passed); absolute, sorted, each once. `None` when watching stopped.
    pub async fn next_batch(&mut self) -> Option<Vec<PathBuf>> {
        let mut paths = self.events.recv().await?;
        let deadline = tokio::time::Instant::now() + LONGEST_BATCH;
        loop {
            let quiet_until = (tokio::time::Instant::now() + QUIET_PERIOD).min(deadline);
            match tokio::time::timeout_at(quiet_until, self.events.recv()).await {
                Ok(Some(more)) => paths.extend(more),
                Ok(None) | Err(_) => break,
            }
            if tokio::time::Instant::now() >= deadline {
                break;
            }
        }
        paths.sort();
        paths.dedup();
        Some(paths)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_save_a_new_file_and_a_deletion_arrive_as_batches() {
        let folder = tempfile::tempdir().unwrap();
        let root = folder.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("notes")).unwrap();
        std::fs::write(root.join("notes/views.py"), "a = 1\n").unwrap();
        let mut watcher = Watcher::new(std::slice::from_ref(&root), &[]).unwrap();

        std::fs::write(root.join("notes/views.py"), "a = 2\n").unwrap();
        std::fs::write(root.join("notes/new.py"), "b = 1\n").unwrap();
        let batch = tokio::time::timeout(Duration::from_secs(5), watcher.next_batch())
            .await
            .unwrap()
            .unwrap();
        assert!(batch.contains(&root.join("notes/views.py")), "{batch:?}");
        assert!(batch.contains(&root.join("notes/new.py")), "{batch:?}");

        std::fs::remove_file(root.join("notes/new.py")).unwrap();
        let batch = tokio::time::timeout(Duration::from_secs(5), watcher.next_batch())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(batch, vec![root.join("notes/new.py")]);
    }
}
