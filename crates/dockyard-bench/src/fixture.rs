//! Generated fixture trees: deterministic (seeded), mixed compressible text and incompressible bytes, never
//! downloaded. A tree is generated once per spec; a marker file says it is complete.

use std::io::Write;
use std::path::Path;

use crate::error::{io, BenchError};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeSpec {
    /// Number of files.
    pub n_files: usize,
    /// Total bytes over all files (each file gets a seeded size around the mean).
    pub total_bytes: u64,
    /// One file in this many is incompressible (seeded random bytes); the rest is text.
    pub incompressible_one_in: usize,
    /// The seed.
    pub seed: u64,
}

impl TreeSpec {
    /// The description recorded in the marker file; a tree with another description is generated again.
    pub fn describe(&self) -> String {
        format!(
            "{} files, {} bytes, 1 in {} incompressible, seed {}",
            self.n_files, self.total_bytes, self.incompressible_one_in, self.seed
        )
    }
}

const MARKER: &str = ".dockyard-bench-fixture";

/// xorshift64*: small, fast, and the same on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is replaced, xorshift needs a non-zero state).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Fills `buffer` with random bytes.
    pub fn fill(&mut self, buffer: &mut [u8]) {
        for chunk in buffer.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

const WORDS: &[&str] = &[
    "django",
    "static",
    "context",
    "image",
    "layer",
    "builder",
    "wheel",
    "gunicorn",
    "nginx",
    "health",
    "request",
    "response",
    "template",
    "settings",
    "migrate",
    "database",
    "cache",
    "deploy",
    "tarball",
    "digest",
    "sha256",
    "engine",
    "container",
    "network",
    "volume",
    "label",
    "export",
    "smoke",
    "release",
    "registry",
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "is",
    "for",
    "with",
    "def",
    "class",
    "return",
    "import",
    "from",
    "self",
    "None",
    "True",
];

/// One MiB of seeded word salad: the source of every text file (each takes a slice at a seeded offset).
fn text_block(rng: &mut Rng) -> Vec<u8> {
    let mut text = Vec::with_capacity(1 << 20);
    while text.len() < 1 << 20 {
        let word = WORDS[(rng.next_u64() % WORDS.len() as u64) as usize];
        text.extend_from_slice(word.as_bytes());
        text.push(if matches!(rng.next_u64() % 9, 0) {
            b'\n'
        } else {
            b' '
        });
    }
    text.truncate(1 << 20);
    text
}

/// Generates `spec` under `root` unless the marker says it is there already. Files live 100 to a folder.
pub fn ensure_tree(root: &Path, spec: &TreeSpec) -> Result<(), BenchError> {
    let marker = root.join(MARKER);
    if std::fs::read_to_string(&marker).is_ok_and(|text| text == spec.describe()) {
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(root);
    std::fs::create_dir_all(root).map_err(io("creating", root))?;
    let mut rng = Rng::new(spec.seed);
    let text = text_block(&mut rng);
    let mean = spec.total_bytes / spec.n_files.max(1) as u64;
    let mut buffer = vec![0u8; 1 << 16];
    for index in 0..spec.n_files {
        let folder = root.join(format!("d{:03}", index / 100));
        if index % 100 == 0 {
            std::fs::create_dir_all(&folder).map_err(io("creating", &folder))?;
        }
        // Sizes between half and one and a half times the mean, so the total stays near `total_bytes`.
        let size = mean / 2 + rng.next_u64() % (mean.max(1));
        let incompressible =
            spec.incompressible_one_in > 0 && index % spec.incompressible_one_in == 0;
        let path = folder.join(format!(
            "f{index:05}.{}",
            if incompressible { "bin" } else { "txt" }
        ));
        let file = std::fs::File::create(&path).map_err(io("creating", &path))?;
        let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
        let mut left = size;
        while left > 0 {
            let n = left.min(buffer.len() as u64) as usize;
            if incompressible {
                rng.fill(&mut buffer[..n]);
                out.write_all(&buffer[..n]).map_err(io("writing", &path))?;
            } else {
                let offset = (rng.next_u64() % (text.len() - n) as u64) as usize;
                out.write_all(&text[offset..offset + n])
                    .map_err(io("writing", &path))?;
            }
            left -= n as u64;
        }
        out.flush().map_err(io("writing", &path))?;
    }
    std::fs::write(&marker, spec.describe()).map_err(io("writing", &marker))?;
    Ok(())
}

/// Files and bytes under `root` (the marker not counted).
pub fn tree_size(root: &Path) -> (usize, u64) {
    let mut n_files = 0;
    let mut n_bytes = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() && entry.file_name() != MARKER {
                n_files += 1;
                n_bytes += entry.metadata().map_or(0, |metadata| metadata.len());
            }
        }
    }
    (n_files, n_bytes)
}
