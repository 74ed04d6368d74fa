//! Parallel gzip: the bytes do not depend on the thread count, and every gzip reader reads them.
#![allow(
    clippy::disallowed_methods,
    reason = "the test reads the output with the system's gzip and tar, the readers users have"
)]

use std::io::{Read, Write};
use std::num::NonZeroUsize;
use std::path::Path;
use std::process::Command;

use dockyard_context::{
    pack_members_with_threads, pack_source_tree_with_threads, pack_tree, pack_tree_with_threads,
    Member, PackOptions, SourceRules,
};
use flate2::read::{GzDecoder, MultiGzDecoder};
use sha2::Digest;

use crate::support::{temp_dir, write_executable, write_file};

/// The block size the packer cuts the tar stream into (see `parallel_gzip::BLOCK_SIZE`).
const BLOCK_SIZE: usize = 256 * 1024;

fn threads(count: usize) -> NonZeroUsize {
    NonZeroUsize::new(count).unwrap()
}

/// Deterministic pseudo-random bytes (xorshift64), incompressible for deflate.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Source-like text: compressible, but not one repeated line.
fn source_text(seed: u64, len: usize) -> Vec<u8> {
    let words = [
        "def", "return", "self", "import", "request", "queryset", "settings", "render", "value",
    ];
    let picks = noise(seed, len / 4 + 16);
    let mut text = Vec::with_capacity(len + 32);
    for (position, pick) in picks.iter().enumerate() {
        if text.len() >= len {
            break;
        }
        text.extend_from_slice(words[usize::from(*pick) % words.len()].as_bytes());
        text.extend_from_slice(if position % 9 == 8 { b"\n" } else { b" " });
    }
    text.truncate(len);
    text
}

/// A tree of several MiB whose files straddle many block boundaries: text, noise, empty files,
/// one file exactly a block long.
fn write_multi_block_tree(root: &Path) {
    for index in 0..24u64 {
        let len = 7_000 + (index as usize * 37_813) % 300_000;
        write_file(
            root,
            &format!("src/module_{index:02}.py"),
            &source_text(index, len),
        );
    }
    for index in 0..6u64 {
        let len = 50_000 + (index as usize * 91_219) % 400_000;
        write_file(
            root,
            &format!("media/blob_{index}.bin"),
            &noise(100 + index, len),
        );
    }
    write_file(root, "empty.txt", b"");
    write_file(root, "exactly_one_block.bin", &noise(7, BLOCK_SIZE));
    write_executable(root, "bin/run.sh", b"#!/bin/sh\nexec python manage.py\n");
}

fn pack_tree_bytes(root: &Path, thread_count: usize) -> (String, Vec<u8>) {
    let mut bytes = Vec::new();
    let summary = pack_tree_with_threads(
        root,
        &PackOptions::default(),
        threads(thread_count),
        &mut bytes,
    )
    .unwrap();
    (summary.sha256, bytes)
}

#[test]
fn one_two_and_four_threads_write_identical_bytes() {
    let root = temp_dir();
    write_multi_block_tree(root.path());
    let (single_sha256, single_bytes) = pack_tree_bytes(root.path(), 1);
    let tar_len = gunzip_one_member(&single_bytes).len();
    assert!(
        tar_len > 8 * BLOCK_SIZE,
        "the tree must span many blocks, got {tar_len} tar bytes"
    );
    assert_eq!(
        single_sha256,
        hex::encode(sha2::Sha256::digest(&single_bytes))
    );
    for thread_count in [2, 4, 4, 3] {
        let (sha256, bytes) = pack_tree_bytes(root.path(), thread_count);
        assert_eq!(sha256, single_sha256, "{thread_count} threads");
        assert!(
            bytes == single_bytes,
            "{thread_count} threads: bytes differ"
        );
    }
    let mut default_threads_bytes = Vec::new();
    let default_summary = pack_tree(
        root.path(),
        &PackOptions::default(),
        &mut default_threads_bytes,
    )
    .unwrap();
    assert_eq!(default_summary.sha256, single_sha256);
    assert!(default_threads_bytes == single_bytes);

    let mut source_digests = Vec::new();
    for thread_count in [1, 2, 4] {
        let mut bytes = Vec::new();
        let summary = pack_source_tree_with_threads(
            root.path(),
            &SourceRules::default(),
            &PackOptions::default(),
            threads(thread_count),
            &mut bytes,
        )
        .unwrap();
        source_digests.push(summary.sha256);
    }
    assert_eq!(source_digests[0], source_digests[1]);
    assert_eq!(source_digests[0], source_digests[2]);
}

#[test]
fn members_packed_with_one_two_and_four_threads_are_identical() {
    let members = vec![
        Member::regular_file("Dockerfile", "FROM scratch\n"),
        Member::regular_file("data/noise.bin", noise(3, 3 * BLOCK_SIZE + 12_345)),
        Member::regular_file("data/text.txt", source_text(4, 2 * BLOCK_SIZE)),
    ];
    let digests: Vec<(String, Vec<u8>)> = [1, 2, 4]
        .into_iter()
        .map(|thread_count| {
            let mut bytes = Vec::new();
            let summary = pack_members_with_threads(
                &members,
                &PackOptions::default(),
                threads(thread_count),
                &mut bytes,
            )
            .unwrap();
            (summary.sha256, bytes)
        })
        .collect();
    assert_eq!(digests[0], digests[1]);
    assert_eq!(digests[0], digests[2]);
}

/// The tar crate ends an archive with 1024 zero bytes; one header plus this many data bytes plus
/// that end makes a tar stream of exactly two blocks, so the last gzip block is empty.
#[test]
fn a_tar_stream_of_exactly_two_blocks_still_decodes_and_matches_across_threads() {
    let data_len = 2 * BLOCK_SIZE - 512 - 1024;
    let members = vec![Member::regular_file("two_blocks.bin", noise(9, data_len))];
    let mut single = Vec::new();
    let mut parallel = Vec::new();
    pack_members_with_threads(&members, &PackOptions::default(), threads(1), &mut single).unwrap();
    pack_members_with_threads(&members, &PackOptions::default(), threads(2), &mut parallel)
        .unwrap();
    assert!(single == parallel);
    let tar_bytes = gunzip_one_member(&single);
    assert_eq!(tar_bytes.len(), 2 * BLOCK_SIZE);
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let mut entry = archive.entries().unwrap().next().unwrap().unwrap();
    let mut contents = Vec::new();
    entry.read_to_end(&mut contents).unwrap();
    assert!(contents == noise(9, data_len));

    let mut empty = Vec::new();
    pack_members_with_threads(&[], &PackOptions::default(), threads(4), &mut empty).unwrap();
    assert_eq!(gunzip_one_member(&empty), vec![0u8; 1024]);
}

#[test]
fn output_is_one_gzip_member_that_gzip_and_tar_read() {
    let root = temp_dir();
    write_multi_block_tree(root.path());
    let (_, bytes) = pack_tree_bytes(root.path(), 2);

    // Header: magic, deflate, no flags, mtime 0, XFL 0, OS unknown.
    assert_eq!(&bytes[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
    let tar_bytes = gunzip_one_member(&bytes);
    let mut all_members = Vec::new();
    MultiGzDecoder::new(&bytes[..])
        .read_to_end(&mut all_members)
        .unwrap();
    assert!(
        all_members == tar_bytes,
        "a single-member reader must see the whole stream"
    );
    // Trailer: CRC32 and length of the whole tar stream.
    let trailer = &bytes[bytes.len() - 8..];
    assert_eq!(
        u32::from_le_bytes(trailer[..4].try_into().unwrap()),
        crc32fast::hash(&tar_bytes)
    );
    assert_eq!(
        u32::from_le_bytes(trailer[4..].try_into().unwrap()),
        tar_bytes.len() as u32
    );

    let archive_path = root.path().join("context.tar.gz");
    std::fs::File::create(&archive_path)
        .unwrap()
        .write_all(&bytes)
        .unwrap();
    let gzip_test = Command::new("gzip")
        .arg("-t")
        .arg(&archive_path)
        .output()
        .unwrap();
    assert!(gzip_test.status.success(), "gzip -t: {gzip_test:?}");
    let listing = Command::new("tar")
        .arg("-tvzf")
        .arg(&archive_path)
        .output()
        .unwrap();
    assert!(listing.status.success(), "tar -tvzf: {listing:?}");
    let listing = String::from_utf8(listing.stdout).unwrap();
    // tar lists every entry: 24 + 6 + 2 files, 1 script and 3 folders.
    assert_eq!(listing.lines().count(), 36, "{listing}");
    assert!(listing.contains("exactly_one_block.bin"), "{listing}");
}

/// Cutting the stream into blocks must not cost real compression: level 6 stays level 6.
#[test]
fn parallel_output_is_within_one_percent_of_a_single_deflate_stream() {
    let root = temp_dir();
    write_multi_block_tree(root.path());
    let (_, bytes) = pack_tree_bytes(root.path(), 2);
    let tar_bytes = gunzip_one_member(&bytes);
    let mut single_stream = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    single_stream.write_all(&tar_bytes).unwrap();
    let single_stream = single_stream.finish().unwrap();
    let limit = single_stream.len() + single_stream.len() / 100;
    assert!(
        bytes.len() <= limit,
        "parallel {} bytes, single stream {} bytes",
        bytes.len(),
        single_stream.len()
    );
}

fn gunzip_one_member(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}
