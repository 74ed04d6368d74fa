//! `unpack_archive_safely`: round trips, hostile archives, permission stripping and destination checks.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use dockyard_context::{
    pack_tree, unpack_archive_safely, ContextError, PackOptions, UnpackSummary,
};
use tar::{EntryType, Header};

use dockyard_reliability::{record, Category};

use crate::support::{
    gunzip, list_disk_tree, list_entries, make_symlink, render_error, temp_dir, write_file,
    write_standard_project,
};

/// Builds raw tar streams byte by byte, so tests can store paths the `tar` crate's builder
/// refuses (absolute, `..`).
#[derive(Default)]
struct RawArchive {
    bytes: Vec<u8>,
}

impl RawArchive {
    fn entry(
        mut self,
        path: &str,
        entry_type: EntryType,
        mode: u32,
        link: &str,
        data: &[u8],
    ) -> Self {
        let mut header = Header::new_gnu();
        {
            let old = header.as_old_mut();
            old.name[..path.len()].copy_from_slice(path.as_bytes());
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_entry_type(entry_type);
        header.set_mode(mode);
        header.set_size(data.len() as u64);
        header.set_mtime(0);
        header.set_cksum();
        self.bytes.extend_from_slice(header.as_bytes());
        self.bytes.extend_from_slice(data);
        let padding = (512 - data.len() % 512) % 512;
        self.bytes.extend(std::iter::repeat_n(0u8, padding));
        self
    }

    fn file(self, path: &str, mode: u32, data: &[u8]) -> Self {
        self.entry(path, EntryType::Regular, mode, "", data)
    }

    fn dir(self, path: &str, mode: u32) -> Self {
        self.entry(path, EntryType::Directory, mode, "", b"")
    }

    fn symlink(self, path: &str, target: &str) -> Self {
        self.entry(path, EntryType::Symlink, 0o777, target, b"")
    }

    fn gnu_long_name(self, path: &str) -> Self {
        let mut data = path.as_bytes().to_vec();
        data.push(0);
        self.entry("././@LongLink", EntryType::GNULongName, 0o644, "", &data)
    }

    fn pax_path(self, path: &str) -> Self {
        let body_without_length = format!(" path={path}\n");
        let mut length = body_without_length.len() + 1;
        while format!("{length}{body_without_length}").len() != length {
            length += 1;
        }
        let record = format!("{length}{body_without_length}");
        self.entry(
            "PaxHeaders/x",
            EntryType::XHeader,
            0o644,
            "",
            record.as_bytes(),
        )
    }

    fn finish(mut self) -> Vec<u8> {
        self.bytes.extend(std::iter::repeat_n(0u8, 1024));
        self.bytes
    }
}

fn mode_of(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn packed_tree_round_trips_through_unpack() {
    let project = temp_dir();
    write_standard_project(project.path());
    let long_name = format!("app/{}/{}.py", "deep".repeat(30), "module".repeat(20));
    write_file(project.path(), &long_name, b"LONG = True\n");
    make_symlink(project.path(), "link_to_long.py", &long_name);
    let mut packed = Vec::new();
    let packed_summary = pack_tree(project.path(), &PackOptions::default(), &mut packed).unwrap();

    let parent = temp_dir();
    let dest = parent.path().join("dest");
    let unpacked = unpack_archive_safely(&gunzip(&packed)[..], &dest).unwrap();
    assert_eq!(
        unpacked,
        UnpackSummary {
            n_files: packed_summary.n_files,
            n_dirs: packed_summary.n_dirs,
            n_symlinks: packed_summary.n_symlinks,
            n_bytes: packed_summary.n_bytes,
        }
    );
    let mut repacked = Vec::new();
    let repacked_summary = pack_tree(&dest, &PackOptions::default(), &mut repacked).unwrap();
    assert_eq!(packed_summary.sha256, repacked_summary.sha256);
    assert_eq!(mode_of(&dest.join("manage.py")), 0o755);
    assert_eq!(mode_of(&dest.join("requirements.txt")), 0o644);
    assert_eq!(
        fs::read_link(dest.join("app/conf.py")).unwrap(),
        PathBuf::from("settings.py")
    );
}

#[test]
fn docker_style_archive_with_dot_entries_and_pax_paths() {
    let long_path = format!("./app/{}/views.py", "nested".repeat(25));
    let archive = RawArchive::default()
        .dir("./", 0o755)
        .dir(".", 0o755)
        .dir("./app/", 0o755)
        .file("./app/x.py", 0o644, b"x = 1\n")
        .pax_path(&long_path)
        .file("./app/truncated-name", 0o644, b"views\n")
        .finish();
    let parent = temp_dir();
    let dest = parent.path().join("dest");
    let summary = unpack_archive_safely(&archive[..], &dest).unwrap();
    assert_eq!(
        summary,
        UnpackSummary {
            n_files: 2,
            n_dirs: 1,
            n_symlinks: 0,
            n_bytes: 12,
        }
    );
    assert_eq!(fs::read(dest.join("app/x.py")).unwrap(), b"x = 1\n");
    assert_eq!(
        fs::read(dest.join(long_path.trim_start_matches("./"))).unwrap(),
        b"views\n"
    );
}

#[test]
fn setuid_setgid_and_sticky_bits_are_stripped() {
    let archive = RawArchive::default()
        .dir("shared/", 0o1777)
        .file("shared/suid", 0o4755, b"#!/bin/sh\n")
        .file("shared/sgid", 0o2644, b"data\n")
        .dir("locked/", 0o3750)
        .finish();
    let parent = temp_dir();
    let dest = parent.path().join("dest");
    unpack_archive_safely(&archive[..], &dest).unwrap();
    assert_eq!(mode_of(&dest.join("shared")), 0o777);
    assert_eq!(mode_of(&dest.join("shared/suid")), 0o755);
    assert_eq!(mode_of(&dest.join("shared/sgid")), 0o644);
    assert_eq!(mode_of(&dest.join("locked")), 0o750);
}

#[test]
fn read_only_folders_are_restricted_only_after_their_contents_exist() {
    let archive = RawArchive::default()
        .dir("ro/", 0o555)
        .file("ro/inner/x.txt", 0o444, b"x")
        .finish();
    let parent = temp_dir();
    let dest = parent.path().join("dest");
    unpack_archive_safely(&archive[..], &dest).unwrap();
    assert_eq!(mode_of(&dest.join("ro")), 0o555);
    assert_eq!(fs::read(dest.join("ro/inner/x.txt")).unwrap(), b"x");
    fs::set_permissions(dest.join("ro"), fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_later_entry_replaces_a_symlink_instead_of_writing_through_it() {
    let archive = RawArchive::default()
        .file("target.txt", 0o644, b"original")
        .symlink("alias", "target.txt")
        .file("alias", 0o644, b"replacement")
        .finish();
    let parent = temp_dir();
    let dest = parent.path().join("dest");
    unpack_archive_safely(&archive[..], &dest).unwrap();
    assert_eq!(fs::read(dest.join("target.txt")).unwrap(), b"original");
    assert_eq!(fs::read(dest.join("alias")).unwrap(), b"replacement");
    assert!(!fs::symlink_metadata(dest.join("alias"))
        .unwrap()
        .file_type()
        .is_symlink());
}

/// Every hostile archive starts with a harmless file, so a partial extraction is visible.
fn starts_fine() -> RawArchive {
    RawArchive::default().file("ok.txt", 0o644, b"fine")
}

/// Builds a hostile archive from the temp folder holding `dest/` and `sentinel/`.
type HostileArchive = fn(&Path) -> RawArchive;

/// The folder beside `dest` that hostile archives aim at, and its one file.
const SENTINEL_FILE: &str = "sentinel/victim.txt";
const SENTINEL_BYTES: &[u8] = b"untouched";

/// Every path below `parent` outside `dest/`, with the bytes of each file.
fn outside_dest(parent: &Path) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    list_disk_tree(parent)
        .into_iter()
        .filter(|path| !path.starts_with("dest"))
        .map(|path| {
            let full = parent.join(&path);
            let bytes = fs::symlink_metadata(&full)
                .unwrap()
                .is_file()
                .then(|| fs::read(&full).unwrap());
            (path, bytes)
        })
        .collect()
}

/// `text`, with a run of one repeated character longer than 16 shown as `c×N` (long names stay readable in records).
fn shortened(text: &str) -> String {
    let mut out = String::new();
    let characters: Vec<char> = text.chars().collect();
    let mut index = 0;
    while index < characters.len() {
        let character = characters[index];
        let run = characters[index..]
            .iter()
            .take_while(|next| **next == character)
            .count();
        if run > 16 {
            out.push_str(&format!("{character}×{run}"));
        } else {
            out.extend(std::iter::repeat_n(character, run));
        }
        index += run;
    }
    out
}

#[test]
fn hostile_archives_are_rejected_and_never_write_outside_dest() {
    let cases: Vec<(&str, HostileArchive)> = vec![
        ("dot-dot", |_| {
            starts_fine().file("../sentinel/victim.txt", 0o644, b"pwned")
        }),
        ("nested dot-dot", |_| {
            starts_fine().file("app/../../sentinel/victim.txt", 0o644, b"pwned")
        }),
        ("dot-dot in a PAX path", |_| {
            starts_fine()
                .pax_path("../sentinel/victim.txt")
                .file("innocent.txt", 0o644, b"pwned")
        }),
        ("dot-dot in a GNU long name", |_| {
            let long = format!("{}/../../../sentinel/victim.txt", "d".repeat(120));
            starts_fine()
                .gnu_long_name(&long)
                .file("innocent.txt", 0o644, b"pwned")
        }),
        ("absolute", |parent| {
            let absolute = parent.join(SENTINEL_FILE);
            starts_fine().file(absolute.to_str().unwrap(), 0o644, b"pwned")
        }),
        ("absolute folder", |parent| {
            let absolute = parent.join("sentinel/new");
            starts_fine().dir(&format!("{}/", absolute.to_str().unwrap()), 0o755)
        }),
        ("hard link outside", |parent| {
            let absolute = parent.join(SENTINEL_FILE);
            starts_fine().entry(
                "hl",
                EntryType::Link,
                0o644,
                absolute.to_str().unwrap(),
                b"",
            )
        }),
        ("hard link to /etc/passwd", |_| {
            starts_fine().entry("hl", EntryType::Link, 0o644, "/etc/passwd", b"")
        }),
        ("hard link inside", |_| {
            starts_fine().entry("hl", EntryType::Link, 0o644, "ok.txt", b"")
        }),
        ("symlink to /etc/passwd", |_| {
            starts_fine().symlink("passwd", "/etc/passwd")
        }),
        ("symlink up and out", |_| {
            starts_fine().symlink("sub/up", "../../sentinel")
        }),
        ("symlink outside then a file written through it", |_| {
            starts_fine()
                .symlink("out", "../sentinel")
                .file("out/victim.txt", 0o644, b"pwned")
        }),
        ("character device", |_| {
            starts_fine().entry("null", EntryType::Char, 0o666, "", b"")
        }),
        ("block device", |_| {
            starts_fine().entry("sda", EntryType::Block, 0o660, "", b"")
        }),
        ("fifo", |_| {
            starts_fine().entry("pipe", EntryType::Fifo, 0o644, "", b"")
        }),
        ("write through a symlink to the root", |_| {
            starts_fine()
                .symlink("here", ".")
                .symlink("here/parent", "..")
                .file("here/parent/sentinel/victim.txt", 0o644, b"pwned")
        }),
        ("write through a symlinked folder", |_| {
            starts_fine()
                .dir("real/", 0o755)
                .symlink("alias", "real")
                .file("alias/x", 0o644, b"pwned")
        }),
        ("file as root", |_| {
            starts_fine().file("./", 0o644, b"pwned")
        }),
        ("a file where a folder was", |_| {
            starts_fine()
                .dir("app/", 0o755)
                .file("app", 0o644, b"pwned")
        }),
        ("name longer than the file system allows", |_| {
            starts_fine()
                .pax_path(&format!("app/{}.py", "n".repeat(300)))
                .file("app/short.py", 0o644, b"pwned")
        }),
        ("path longer than PATH_MAX", |_| {
            let deep = vec!["d".repeat(200); 25].join("/");
            starts_fine()
                .pax_path(&format!("{deep}/x.py"))
                .file("short.py", 0o644, b"pwned")
        }),
    ];

    let mut rendered = Vec::new();
    for (name, build_archive) in cases {
        let parent = temp_dir();
        write_file(parent.path(), SENTINEL_FILE, SENTINEL_BYTES);
        let before = outside_dest(parent.path());
        let dest = parent.path().join("dest");
        let archive = build_archive(parent.path()).finish();
        let error = unpack_archive_safely(&archive[..], &dest).unwrap_err();
        assert_eq!(
            outside_dest(parent.path()),
            before,
            "{name}: something changed outside dest"
        );
        assert_eq!(
            fs::read(parent.path().join(SENTINEL_FILE)).unwrap(),
            SENTINEL_BYTES
        );
        assert!(error.hint().is_some(), "{name}: no hint for {error}");
        let message = render_error(&error, &[(parent.path(), "[PARENT]")]);
        let first_line = shortened(message.lines().next().unwrap_or_default());
        record(
            Category::HostileBuilder,
            &format!("archive: {name}"),
            &format!("an exported archive with {name}"),
            &format!(
                "refused: {}; nothing outside the destination changed (sentinel folder compared byte for byte)",
                first_line.trim_start_matches("error: ")
            ),
            "dockyard-context::unpack::hostile_archives_are_rejected_and_never_write_outside_dest",
        );
        rendered.push(format!("# {name}\n{message}"));
    }
    insta::assert_snapshot!("hostile_archive_errors", rendered.join("\n\n"));
}

/// Mode bits a hostile builder might set, and what the unpacked file and the re-packed context get.
#[test]
fn dangerous_mode_bits_are_neutralised_in_the_unpacked_tree_and_the_context() {
    let cases: [(&str, &str, EntryType, u32, u32, &str); 6] = [
        (
            "setuid file",
            "bin/suid",
            EntryType::Regular,
            0o4755,
            0o755,
            "0755",
        ),
        (
            "setgid file",
            "bin/sgid",
            EntryType::Regular,
            0o2755,
            0o755,
            "0755",
        ),
        (
            "setuid and setgid, not executable",
            "data/both",
            EntryType::Regular,
            0o6644,
            0o644,
            "0644",
        ),
        (
            "world-writable file",
            "data/open",
            EntryType::Regular,
            0o666,
            0o666,
            "0644",
        ),
        (
            "world-writable executable",
            "bin/open",
            EntryType::Regular,
            0o777,
            0o777,
            "0755",
        ),
        (
            "sticky world-writable folder",
            "shared",
            EntryType::Directory,
            0o1777,
            0o777,
            "0755",
        ),
    ];
    for (name, path, entry_type, mode, unpacked_mode, packed_mode) in cases {
        let archive = if entry_type == EntryType::Directory {
            RawArchive::default().dir(&format!("{path}/"), mode)
        } else {
            RawArchive::default().file(path, mode, b"#!/bin/sh\n")
        }
        .finish();
        let parent = temp_dir();
        let dest = parent.path().join("dest");
        unpack_archive_safely(&archive[..], &dest).unwrap();
        assert_eq!(mode_of(&dest.join(path)), unpacked_mode, "{name}");
        let mut packed = Vec::new();
        pack_tree(&dest, &PackOptions::default(), &mut packed).unwrap();
        let listing = list_entries(&packed);
        let line = listing
            .lines()
            .find(|line| line.trim_end().trim_end_matches('/').ends_with(path))
            .unwrap_or_else(|| panic!("{name}: {path} not in {listing}"));
        assert_eq!(
            line.split_whitespace().nth(1),
            Some(packed_mode),
            "{name}: {line}"
        );
        record(
            Category::HostileBuilder,
            &format!("mode: {name}"),
            &format!("an exported archive with {path} of mode {mode:04o}"),
            &format!(
                "neutralised: unpacked as {unpacked_mode:04o}, packed into the context as {packed_mode}, uid:gid 0:0"
            ),
            "dockyard-context::unpack::dangerous_mode_bits_are_neutralised_in_the_unpacked_tree_and_the_context",
        );
    }
}

#[test]
fn destination_must_be_an_empty_folder() {
    let parent = temp_dir();
    let archive = starts_fine().finish();

    let not_empty = parent.path().join("not-empty");
    write_file(&not_empty, "leftover.txt", b"");
    let not_empty_error = unpack_archive_safely(&archive[..], &not_empty).unwrap_err();

    let a_file = parent.path().join("a-file");
    fs::write(&a_file, b"").unwrap();
    let file_error = unpack_archive_safely(&archive[..], &a_file).unwrap_err();

    insta::assert_snapshot!(
        "destination_errors",
        [
            render_error(&not_empty_error, &[(parent.path(), "[PARENT]")]),
            render_error(&file_error, &[(parent.path(), "[PARENT]")]),
        ]
        .join("\n\n")
    );

    let created = parent.path().join("created/on/demand");
    let summary = unpack_archive_safely(&archive[..], &created).unwrap();
    assert_eq!(summary.n_files, 1);
}

#[test]
fn truncated_archives_are_errors() {
    let mut archive = starts_fine().file("big.bin", 0o644, &[1u8; 4096]).finish();
    archive.truncate(512 + 512 + 512 + 100);
    let parent = temp_dir();
    let error = unpack_archive_safely(&archive[..], &parent.path().join("dest")).unwrap_err();
    assert!(
        matches!(
            error,
            ContextError::ReadArchive { .. } | ContextError::ReadArchiveEntry { .. }
        ),
        "{error:?}"
    );
}
