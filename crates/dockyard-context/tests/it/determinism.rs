//! Determinism: the digest depends only on relative paths, file bytes and normalised modes.

use std::fs::{self, File};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use dockyard_context::{pack_source_tree, pack_tree, PackOptions, SourceRules};
use sha2::Digest;

use crate::support::{
    entry_paths, list_entries, make_dir, make_symlink, pack_source_digest, pack_source_to_bytes,
    set_mode, temp_dir, write_executable, write_file, write_standard_project,
};

#[test]
fn same_tree_in_two_folders_gives_same_digest_and_bytes() {
    let first = temp_dir();
    let second = temp_dir();
    write_standard_project(first.path());
    write_standard_project(second.path());
    let (first_summary, first_bytes) =
        pack_source_to_bytes(first.path(), &SourceRules::default()).unwrap();
    let (second_summary, second_bytes) =
        pack_source_to_bytes(second.path(), &SourceRules::default()).unwrap();
    assert_eq!(first_summary, second_summary);
    assert_eq!(first_bytes, second_bytes);
}

#[test]
fn summary_digest_is_the_sha256_of_the_bytes_written() {
    let root = temp_dir();
    write_standard_project(root.path());
    let (summary, bytes) = pack_source_to_bytes(root.path(), &SourceRules::default()).unwrap();
    assert_eq!(summary.sha256, hex::encode(sha2::Sha256::digest(&bytes)));
    assert_eq!(summary.sha256.len(), 64);
}

#[test]
fn packing_twice_gives_the_same_digest() {
    let root = temp_dir();
    write_standard_project(root.path());
    assert_eq!(
        pack_source_digest(root.path()),
        pack_source_digest(root.path())
    );
}

#[test]
fn touching_mtimes_does_not_change_digest() {
    let root = temp_dir();
    write_standard_project(root.path());
    let before = pack_source_digest(root.path());
    let long_ago = SystemTime::UNIX_EPOCH + Duration::from_secs(86_400 * 365 * 20);
    for relative in ["manage.py", "app/settings.py", "requirements.txt"] {
        File::options()
            .write(true)
            .open(root.path().join(relative))
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
    }
    for folder in ["app", "static", ""] {
        File::open(root.path().join(folder))
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
    }
    assert_eq!(before, pack_source_digest(root.path()));
}

#[test]
fn changing_one_byte_changes_digest() {
    let root = temp_dir();
    write_standard_project(root.path());
    let before = pack_source_digest(root.path());
    write_file(root.path(), "app/settings.py", b"DEBUG = True\n");
    let after_flip = pack_source_digest(root.path());
    assert_ne!(before, after_flip);
    write_file(root.path(), "app/settings.py", b"DEBUG = False\n");
    assert_eq!(before, pack_source_digest(root.path()));
}

#[test]
fn renaming_a_file_changes_digest() {
    let root = temp_dir();
    write_standard_project(root.path());
    let before = pack_source_digest(root.path());
    fs::rename(
        root.path().join("requirements.txt"),
        root.path().join("requirements.in"),
    )
    .unwrap();
    assert_ne!(before, pack_source_digest(root.path()));
}

#[test]
fn creation_order_does_not_change_digest() {
    let names: Vec<String> = (0..40)
        .map(|index| format!("d{}/f{index:02}.py", index % 5))
        .collect();
    let forwards = temp_dir();
    let backwards = temp_dir();
    for name in &names {
        write_file(forwards.path(), name, name.as_bytes());
    }
    for name in names.iter().rev() {
        write_file(backwards.path(), name, name.as_bytes());
    }
    assert_eq!(
        pack_source_digest(forwards.path()),
        pack_source_digest(backwards.path())
    );
}

#[test]
fn chmod_plus_x_changes_digest_but_other_mode_bits_do_not() {
    let root = temp_dir();
    write_standard_project(root.path());
    let before = pack_source_digest(root.path());

    set_mode(root.path(), "requirements.txt", 0o600);
    assert_eq!(
        before,
        pack_source_digest(root.path()),
        "0o600 normalises to 0o644"
    );
    set_mode(root.path(), "requirements.txt", 0o664);
    assert_eq!(
        before,
        pack_source_digest(root.path()),
        "0o664 normalises to 0o644"
    );

    set_mode(root.path(), "requirements.txt", 0o744);
    let executable = pack_source_digest(root.path());
    assert_ne!(before, executable, "any execute bit makes it 0o755");
    set_mode(root.path(), "requirements.txt", 0o701);
    assert_eq!(executable, pack_source_digest(root.path()));

    set_mode(root.path(), "app", 0o700);
    assert_eq!(
        executable,
        pack_source_digest(root.path()),
        "folders are always 0o755"
    );
}

#[test]
fn mtime_option_is_stored_in_every_entry_and_changes_digest() {
    let root = temp_dir();
    write_standard_project(root.path());
    let mut zero = Vec::new();
    let mut epoch = Vec::new();
    let rules = SourceRules::default();
    let zero_summary =
        pack_source_tree(root.path(), &rules, &PackOptions { mtime: 0 }, &mut zero).unwrap();
    let epoch_summary = pack_source_tree(
        root.path(),
        &rules,
        &PackOptions {
            mtime: 1_700_000_000,
        },
        &mut epoch,
    )
    .unwrap();
    assert_ne!(zero_summary.sha256, epoch_summary.sha256);
    for line in list_entries(&epoch).lines() {
        assert!(line.contains(" 0:0 1700000000 "), "{line}");
    }
}

#[test]
fn entry_listing_of_a_small_tree() {
    let root = temp_dir();
    write_standard_project(root.path());
    write_executable(
        root.path(),
        "bin/entrypoint.sh",
        b"#!/bin/sh\nexec \"$@\"\n",
    );
    write_file(root.path(), "a.txt", b"a\n");
    write_file(root.path(), "a/b.txt", b"b\n");
    write_file(root.path(), "a-b.txt", b"ab\n");
    make_dir(root.path(), "empty/nested");
    let (summary, bytes) = pack_source_to_bytes(root.path(), &SourceRules::default()).unwrap();
    insta::assert_snapshot!("small_tree_listing", list_entries(&bytes));
    assert_eq!(
        (
            summary.n_files,
            summary.n_dirs,
            summary.n_symlinks,
            summary.n_bytes
        ),
        (9, 6, 1, 108)
    );
    assert!(summary.excluded.is_empty());
}

#[test]
fn gzip_header_has_no_mtime_no_file_name_and_unknown_os() {
    let root = temp_dir();
    write_standard_project(root.path());
    let (_, bytes) = pack_source_to_bytes(root.path(), &SourceRules::default()).unwrap();
    assert_eq!(&bytes[..4], &[0x1f, 0x8b, 8, 0], "magic, deflate, no flags");
    assert_eq!(&bytes[4..8], &[0, 0, 0, 0], "mtime 0");
    assert_eq!(bytes[9], 255, "OS unknown");
}

#[test]
fn long_paths_and_long_symlink_targets_are_stored_in_full() {
    let root = temp_dir();
    let long_folder = "a_rather_long_folder_name_for_a_django_app_that_keeps_going".repeat(2);
    let long_file = format!("{long_folder}/{}.py", "m".repeat(120));
    write_file(root.path(), &long_file, b"x = 1\n");
    let long_target = format!("{long_folder}/{}.py", "m".repeat(120));
    make_symlink(root.path(), "shortcut.py", &long_target);
    let (summary, bytes) = pack_source_to_bytes(root.path(), &SourceRules::default()).unwrap();
    assert_eq!(
        entry_paths(&bytes),
        vec![
            format!("{long_folder}/"),
            long_file.clone(),
            "shortcut.py".to_string()
        ]
    );
    assert!(list_entries(&bytes).ends_with(&format!("shortcut.py -> {long_target}")));
    assert_eq!(summary.n_symlinks, 1);
}

#[test]
fn non_utf8_file_names_are_included_and_sorted_by_bytes() {
    let root = temp_dir();
    let latin1_name = std::ffi::OsStr::from_bytes(b"caf\xe9.txt");
    fs::write(root.path().join(latin1_name), b"latin-1 name\n").unwrap();
    write_file(root.path(), "cafe.txt", b"ascii\n");
    write_file(root.path(), "caf~.txt", b"tilde\n");
    let (summary, bytes) = pack_source_to_bytes(root.path(), &SourceRules::default()).unwrap();
    assert_eq!(summary.n_files, 3);
    let tar_bytes = crate::support::gunzip(&bytes);
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let raw_paths: Vec<Vec<u8>> = archive
        .entries()
        .unwrap()
        .map(|entry| entry.unwrap().path_bytes().into_owned())
        .collect();
    assert_eq!(
        raw_paths,
        vec![
            b"cafe.txt".to_vec(),
            b"caf~.txt".to_vec(),
            b"caf\xe9.txt".to_vec()
        ]
    );
}

#[test]
fn pack_tree_takes_everything_including_secrets() {
    let root = temp_dir();
    write_standard_project(root.path());
    write_file(root.path(), ".env", b"SECRET=1\n");
    write_file(root.path(), ".git/HEAD", b"ref: refs/heads/main\n");
    write_file(root.path(), ".gitignore", b"*.pyc\n");
    write_file(root.path(), "cache.pyc", b"\0");
    let mut bytes = Vec::new();
    let summary = pack_tree(root.path(), &PackOptions::default(), &mut bytes).unwrap();
    let paths = entry_paths(&bytes);
    for expected in [
        ".env",
        ".git/",
        ".git/HEAD",
        ".gitignore",
        "cache.pyc",
        "app/conf.py",
    ] {
        assert!(
            paths.contains(&expected.to_string()),
            "{expected} missing from {paths:?}"
        );
    }
    assert!(summary.excluded.is_empty());
}

#[test]
fn pack_tree_and_pack_source_tree_agree_when_no_rule_applies() {
    let root = temp_dir();
    write_standard_project(root.path());
    let mut bytes = Vec::new();
    let summary = pack_tree(root.path(), &PackOptions::default(), &mut bytes).unwrap();
    assert_eq!(summary.sha256, pack_source_digest(root.path()));
}

#[test]
fn absolute_location_does_not_matter_even_for_deep_roots() {
    let outer = temp_dir();
    let deep_root = outer.path().join("x/y/z/project");
    fs::create_dir_all(&deep_root).unwrap();
    let shallow = temp_dir();
    write_standard_project(&deep_root);
    write_standard_project(shallow.path());
    assert_eq!(
        pack_source_digest(Path::new(&deep_root)),
        pack_source_digest(shallow.path())
    );
}
