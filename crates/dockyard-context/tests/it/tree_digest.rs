//! The digest of a folder and of an archive of it agree: the nginx image's static label is checked in smoke against
//! the static files downloaded from both running images.

use dockyard_context::{archive_tree_sha256, tree_sha256};

use crate::support::write_file;

/// One entry of a test archive.
enum Entry<'a> {
    Folder(&'a str),
    File(&'a str, &'a [u8]),
    Link(&'a str, &'a str),
}

/// A tar of `entries`, written in the given order.
fn archive(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        match entry {
            Entry::File(path, bytes) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(bytes.len() as u64);
                header.set_mode(0o644);
                header.set_cksum();
                builder.append_data(&mut header, path, *bytes).unwrap();
            }
            Entry::Link(path, target) => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                header.set_cksum();
                builder.append_link(&mut header, path, target).unwrap();
            }
            Entry::Folder(path) => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                header.set_mode(0o755);
                header.set_cksum();
                builder
                    .append_data(&mut header, path, std::io::empty())
                    .unwrap();
            }
        }
    }
    builder.into_inner().unwrap()
}

#[test]
fn an_archive_of_a_folder_digests_like_the_folder_in_any_entry_order() {
    let folder = tempfile::tempdir().unwrap();
    // `a.css` sorts before `a/b.css` as a string, after it as a path: the walk's order is the path's.
    write_file(folder.path(), "a.css", b"a");
    write_file(folder.path(), "a/b.css", b"b");
    write_file(folder.path(), "staticfiles.json", b"{}");
    std::os::unix::fs::symlink("a.css", folder.path().join("latest.css")).unwrap();
    let expected = tree_sha256(folder.path()).unwrap();

    let stream = archive(&[
        Entry::Folder("./"),
        Entry::File("./staticfiles.json", b"{}"),
        Entry::Link("./latest.css", "a.css"),
        Entry::Folder("./a/"),
        Entry::File("./a/b.css", b"b"),
        Entry::File("./a.css", b"a"),
    ]);
    assert_eq!(
        archive_tree_sha256(stream.as_slice()).unwrap(),
        (expected.clone(), 4)
    );

    let changed = archive(&[
        Entry::File("./staticfiles.json", b"{}"),
        Entry::Link("./latest.css", "a.css"),
        Entry::File("./a/b.css", b"B"),
        Entry::File("./a.css", b"a"),
    ]);
    assert_ne!(archive_tree_sha256(changed.as_slice()).unwrap().0, expected);
}

#[test]
fn an_empty_archive_digests_like_a_missing_folder() {
    let missing = tempfile::tempdir().unwrap().path().join("missing");
    let stream = archive(&[Entry::Folder("./")]);
    assert_eq!(
        archive_tree_sha256(stream.as_slice()).unwrap(),
        (tree_sha256(&missing).unwrap(), 0)
    );
}
