//! Shared test helpers: fixture trees, packing to memory, tarball listings and error rendering.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use dockyard_context::{pack_source_tree, ContextError, PackOptions, PackSummary, SourceRules};
use flate2::read::GzDecoder;

/// Writes `bytes` at `root/relative`, creating parent folders, mode 0o644.
pub fn write_file(root: &Path, relative: &str, bytes: &[u8]) {
    let path = root.join(relative);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(&path, bytes).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
}

/// Like [`write_file`] but mode 0o755.
pub fn write_executable(root: &Path, relative: &str, bytes: &[u8]) {
    write_file(root, relative, bytes);
    set_mode(root, relative, 0o755);
}

pub fn set_mode(root: &Path, relative: &str, mode: u32) {
    fs::set_permissions(root.join(relative), fs::Permissions::from_mode(mode)).unwrap();
}

pub fn make_dir(root: &Path, relative: &str) {
    fs::create_dir_all(root.join(relative)).unwrap();
}

pub fn make_symlink(root: &Path, relative: &str, target: &str) {
    let path = root.join(relative);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    std::os::unix::fs::symlink(target, path).unwrap();
}

/// A small Django-ish project used by several tests.
pub fn write_standard_project(root: &Path) {
    write_file(
        root,
        "manage.py",
        b"#!/usr/bin/env python\nprint('manage')\n",
    );
    set_mode(root, "manage.py", 0o755);
    write_file(root, "app/__init__.py", b"");
    write_file(root, "app/settings.py", b"DEBUG = False\n");
    write_file(root, "app/urls.py", b"urlpatterns = []\n");
    write_file(root, "requirements.txt", b"django==5.2\n");
    make_dir(root, "static");
    make_symlink(root, "app/conf.py", "settings.py");
}

pub fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Packs a source tree into memory.
pub fn pack_source_to_bytes(
    root: &Path,
    rules: &SourceRules,
) -> Result<(PackSummary, Vec<u8>), ContextError> {
    let mut bytes = Vec::new();
    let summary = pack_source_tree(root, rules, &PackOptions::default(), &mut bytes)?;
    Ok((summary, bytes))
}

pub fn pack_source_digest(root: &Path) -> String {
    pack_source_to_bytes(root, &SourceRules::default())
        .unwrap()
        .0
        .sha256
}

pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

/// One line per tar entry: `type mode uid:gid mtime size path [-> target]`.
pub fn list_entries(tar_gz: &[u8]) -> String {
    let tar_bytes = gunzip(tar_gz);
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let mut lines = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let header = entry.header();
        assert_eq!(
            header.username_bytes(),
            Some(&b""[..]),
            "user name must be empty"
        );
        assert_eq!(
            header.groupname_bytes(),
            Some(&b""[..]),
            "group name must be empty"
        );
        let kind = match header.entry_type() {
            tar::EntryType::Directory => "dir ",
            tar::EntryType::Regular => "file",
            tar::EntryType::Symlink => "link",
            other => panic!("unexpected entry type {other:?}"),
        };
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let target = entry
            .link_name_bytes()
            .map(|bytes| format!(" -> {}", String::from_utf8_lossy(&bytes)))
            .unwrap_or_default();
        lines.push(format!(
            "{kind} {:04o} {}:{} {} {:>4} {path}{target}",
            header.mode().unwrap(),
            header.uid().unwrap(),
            header.gid().unwrap(),
            header.mtime().unwrap(),
            header.size().unwrap(),
        ));
    }
    lines.join("\n")
}

/// Just the stored paths, in archive order (folders keep their trailing `/`).
pub fn entry_paths(tar_gz: &[u8]) -> Vec<String> {
    let tar_bytes = gunzip(tar_gz);
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    archive
        .entries()
        .unwrap()
        .map(|entry| String::from_utf8_lossy(&entry.unwrap().path_bytes()).into_owned())
        .collect()
}

/// `error: …` plus `hint: …` when there is one, with temp paths replaced by stable names.
pub fn render_error(error: &ContextError, replacements: &[(&Path, &str)]) -> String {
    let mut text = format!("error: {error}");
    if let Some(hint) = error.hint() {
        text.push_str(&format!("\nhint: {hint}"));
    }
    for (path, name) in replacements {
        text = text.replace(&path.display().to_string(), name);
    }
    text
}

/// Lists every path below `root` (relative, sorted), without following symlinks.
pub fn list_disk_tree(root: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .min_depth(1)
        .follow_links(false)
        .into_iter()
        .map(|entry| {
            entry
                .unwrap()
                .path()
                .strip_prefix(root)
                .unwrap()
                .to_path_buf()
        })
        .collect();
    paths.sort();
    paths
}
