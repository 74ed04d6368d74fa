//! Generated trees are deterministic, sized as asked, mixed, and generated once.

use dockyard_bench::fixture::{ensure_tree, tree_size, TreeSpec};

fn digest(root: &std::path::Path) -> String {
    dockyard_context::pack_tree(
        root,
        &dockyard_context::PackOptions::default(),
        std::io::sink(),
    )
    .unwrap()
    .sha256
}

#[test]
fn same_spec_same_tree() {
    let spec = TreeSpec {
        n_files: 250,
        total_bytes: 2_000_000,
        incompressible_one_in: 4,
        seed: 7,
    };
    let (first, second) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    ensure_tree(first.path(), &spec).unwrap();
    ensure_tree(second.path(), &spec).unwrap();
    let (n_files, n_bytes) = tree_size(first.path());
    assert_eq!(n_files, 250);
    assert!((1_500_000..2_500_000).contains(&n_bytes), "{n_bytes}");
    assert_eq!(digest(first.path()), digest(second.path()));
    let folders = std::fs::read_dir(first.path())
        .unwrap()
        .filter(|entry| entry.as_ref().unwrap().path().is_dir())
        .count();
    assert_eq!(folders, 3);
    let binaries = walk_count(first.path(), "bin");
    assert_eq!(binaries, 63);

    // Generated once: a file changed by hand stays until the spec changes.
    let planted = first.path().join("d000/f00001.txt");
    std::fs::write(&planted, "planted").unwrap();
    ensure_tree(first.path(), &spec).unwrap();
    assert_eq!(std::fs::read_to_string(&planted).unwrap(), "planted");
    ensure_tree(first.path(), &TreeSpec { seed: 8, ..spec }).unwrap();
    assert_ne!(std::fs::read_to_string(&planted).unwrap(), "planted");
}

fn walk_count(root: &std::path::Path, extension: &str) -> usize {
    let mut count = 0;
    for folder in std::fs::read_dir(root).unwrap() {
        let folder = folder.unwrap().path();
        if folder.is_dir() {
            count += std::fs::read_dir(&folder)
                .unwrap()
                .filter(|entry| {
                    entry
                        .as_ref()
                        .unwrap()
                        .path()
                        .extension()
                        .is_some_and(|ext| ext == extension)
                })
                .count();
        }
    }
    count
}
