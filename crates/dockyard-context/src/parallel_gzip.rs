//! Parallel, deterministic gzip: fixed-size blocks deflated on worker threads, each primed with the previous block's last 32 KiB, written in order as one gzip member.
//!
//! The output is a pure function of the input bytes and the level, never of the thread count or
//! of scheduling:
//!
//! * the stream is cut into blocks of exactly [`BLOCK_SIZE`] input bytes by stream offset (the
//!   sizes of the `write` calls do not matter); only the last block may be shorter (or empty);
//! * block `n` is raw deflate at the given level, primed with the last [`DICTIONARY_SIZE`] bytes of
//!   block `n - 1` as preset dictionary (so matches reach back across the cut, as in one stream),
//!   and ends with a sync flush (byte aligned, not final); the last block ends with a final block;
//! * blocks are written in order behind one fixed gzip header (mtime 0, no name, OS "unknown"),
//!   followed by one trailer: the CRC32 of all input (block CRCs combined) and the length mod 2^32.
//!
//! Which thread compressed a block cannot change its bytes, so 1, 2 or 8 threads write the same
//! file. At most [`in_flight_limit`] blocks are queued or compressed at once, so memory stays
//! bounded however large the input is. Streams that end inside their first block never start a
//! thread.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::num::NonZeroUsize;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::{Compress, Compression, FlushCompress, Status};

/// Input bytes per block; part of the determinism contract (changing it changes every digest).
pub(crate) const BLOCK_SIZE: usize = 256 * 1024;
/// Bytes of the previous block used as preset dictionary: deflate's whole window.
pub(crate) const DICTIONARY_SIZE: usize = 32 * 1024;

/// gzip header: magic, deflate, no flags, mtime 0, no extra flags, OS 255 ("unknown"); the same
/// bytes flate2's `GzBuilder::new().mtime(0)` writes at level 6.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// Blocks queued or being compressed at once for `threads` workers.
pub(crate) fn in_flight_limit(threads: NonZeroUsize) -> usize {
    threads.get() * 2 + 2
}

/// The compression threads used when the caller does not say: the available parallelism, at most 8.
pub fn default_compression_threads() -> NonZeroUsize {
    let available = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    NonZeroUsize::new(available.clamp(1, 8)).unwrap_or(NonZeroUsize::MIN)
}

/// One block handed to a worker.
struct BlockJob {
    index: u64,
    data: Vec<u8>,
    dictionary: Vec<u8>,
    last: bool,
}

/// One block's deflate output and the CRC32 of its input.
struct CompressedBlock {
    deflate: Vec<u8>,
    crc32: u32,
    input_len: u64,
}

/// Worker threads fed through a bounded job queue; dropping the pool closes the queue and joins
/// the workers.
struct WorkerPool {
    jobs: Option<SyncSender<BlockJob>>,
    results: Receiver<(u64, io::Result<CompressedBlock>)>,
    workers: Vec<JoinHandle<()>>,
}

impl WorkerPool {
    fn start(threads: NonZeroUsize, level: u32) -> io::Result<Self> {
        let (job_sender, job_receiver) = mpsc::sync_channel::<BlockJob>(in_flight_limit(threads));
        let job_receiver = Arc::new(Mutex::new(job_receiver));
        let (result_sender, results) = mpsc::channel();
        let mut pool = WorkerPool {
            jobs: Some(job_sender),
            results,
            workers: Vec::with_capacity(threads.get()),
        };
        for worker_index in 0..threads.get() {
            let job_receiver = Arc::clone(&job_receiver);
            let result_sender: Sender<(u64, io::Result<CompressedBlock>)> = result_sender.clone();
            let worker = std::thread::Builder::new()
                .name(format!("dockyard-gzip-{worker_index}"))
                .spawn(move || run_worker(&job_receiver, &result_sender, level))?;
            pool.workers.push(worker);
        }
        Ok(pool)
    }
}

impl Drop for WorkerPool {
    fn drop(&mut self) {
        drop(self.jobs.take());
        for worker in self.workers.drain(..) {
            // A worker that panicked already reported an error for its block.
            let _ = worker.join();
        }
    }
}

fn run_worker(
    jobs: &Mutex<Receiver<BlockJob>>,
    results: &Sender<(u64, io::Result<CompressedBlock>)>,
    level: u32,
) {
    loop {
        let job = match jobs.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let index = job.index;
        let result = catch_unwind(AssertUnwindSafe(|| deflate_block(&job, level)))
            .unwrap_or_else(|_| Err(io::Error::other("a gzip worker thread panicked")));
        if results.send((index, result)).is_err() {
            return;
        }
    }
}

/// Deflates one block: raw deflate, primed with the dictionary, ending in a sync flush (or the
/// final block for the last one).
fn deflate_block(job: &BlockJob, level: u32) -> io::Result<CompressedBlock> {
    let mut compress = Compress::new(Compression::new(level), false);
    if !job.dictionary.is_empty() {
        compress
            .set_dictionary(&job.dictionary)
            .map_err(io::Error::other)?;
    }
    let flush = if job.last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut deflate = Vec::with_capacity(job.data.len() + job.data.len() / 8 + 64);
    loop {
        if deflate.capacity() - deflate.len() < 64 {
            deflate.reserve(deflate.capacity().max(4096));
        }
        let consumed = usize::try_from(compress.total_in()).map_err(io::Error::other)?;
        let remaining = job.data.get(consumed..).unwrap_or_default();
        let status = compress
            .compress_vec(remaining, &mut deflate, flush)
            .map_err(io::Error::other)?;
        let all_consumed = compress.total_in() == job.data.len() as u64;
        let room_left = deflate.len() < deflate.capacity();
        match status {
            Status::StreamEnd => break,
            // A sync flush is complete once all input is in and deflate stopped short of the end
            // of the output buffer.
            Status::Ok | Status::BufError if !job.last && all_consumed && room_left => break,
            Status::Ok | Status::BufError => {}
        }
    }
    Ok(CompressedBlock {
        deflate,
        crc32: crc32fast::hash(&job.data),
        input_len: job.data.len() as u64,
    })
}

/// A `Write` adapter that gzips everything written to it into `out`, see the module docs.
pub(crate) struct ParallelGzipWriter<W: Write> {
    out: W,
    level: u32,
    threads: NonZeroUsize,
    /// Started with the first full block when `threads > 1`.
    pool: Option<WorkerPool>,
    block: Vec<u8>,
    dictionary: Vec<u8>,
    next_index_to_send: u64,
    next_index_to_write: u64,
    finished_out_of_order: BTreeMap<u64, CompressedBlock>,
    crc32: crc32fast::Hasher,
    header_written: bool,
}

impl<W: Write> ParallelGzipWriter<W> {
    pub(crate) fn new(out: W, level: u32, threads: NonZeroUsize) -> Self {
        ParallelGzipWriter {
            out,
            level,
            threads,
            pool: None,
            block: Vec::with_capacity(BLOCK_SIZE),
            dictionary: Vec::new(),
            next_index_to_send: 0,
            next_index_to_write: 0,
            finished_out_of_order: BTreeMap::new(),
            crc32: crc32fast::Hasher::new(),
            header_written: false,
        }
    }

    /// Compresses what is left as the last block, writes the trailer, flushes and returns `out`.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        let data = std::mem::take(&mut self.block);
        self.submit(data, true)?;
        while self.next_index_to_write < self.next_index_to_send {
            self.wait_for_one_block()?;
        }
        self.write_header_once()?;
        let total_len = self.crc32.total_len();
        let crc32 = self.crc32.clone().finalize();
        let mut trailer = [0u8; 8];
        trailer[..4].copy_from_slice(&crc32.to_le_bytes());
        // ISIZE is the input length modulo 2^32 (RFC 1952).
        trailer[4..].copy_from_slice(&((total_len & 0xffff_ffff) as u32).to_le_bytes());
        self.out.write_all(&trailer)?;
        self.out.flush()?;
        drop(self.pool.take());
        Ok(self.out)
    }

    fn write_header_once(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.out.write_all(&GZIP_HEADER)?;
            self.header_written = true;
        }
        Ok(())
    }

    /// Hands a block to the workers (or compresses it here when single-threaded or when it is
    /// the only block), writing finished blocks in order and waiting while too many are in flight.
    fn submit(&mut self, data: Vec<u8>, last: bool) -> io::Result<()> {
        let dictionary = if last {
            std::mem::take(&mut self.dictionary)
        } else {
            let start = data.len().saturating_sub(DICTIONARY_SIZE);
            std::mem::replace(&mut self.dictionary, data[start..].to_vec())
        };
        let job = BlockJob {
            index: self.next_index_to_send,
            data,
            dictionary,
            last,
        };
        self.next_index_to_send += 1;
        let single_block = last && job.index == 0;
        if self.threads.get() == 1 || single_block {
            let block = deflate_block(&job, self.level)?;
            return self.write_block(block);
        }
        if self.pool.is_none() {
            self.pool = Some(WorkerPool::start(self.threads, self.level)?);
        }
        while self.next_index_to_send - 1 - self.next_index_to_write
            >= in_flight_limit(self.threads) as u64
        {
            self.wait_for_one_block()?;
        }
        let sent = self
            .pool
            .as_ref()
            .and_then(|pool| pool.jobs.as_ref())
            .map(|jobs| jobs.send(job));
        if !matches!(sent, Some(Ok(()))) {
            return Err(io::Error::other("the gzip worker threads stopped"));
        }
        self.write_blocks_already_finished()
    }

    /// Writes whatever the workers finished without waiting, so output keeps flowing to `out`.
    fn write_blocks_already_finished(&mut self) -> io::Result<()> {
        loop {
            let received = match &self.pool {
                Some(pool) => pool.results.try_recv().ok(),
                None => None,
            };
            let Some((index, result)) = received else {
                return Ok(());
            };
            self.write_in_order(index, result?)?;
        }
    }

    /// Receives one compressed block from the workers and writes every block now in order.
    fn wait_for_one_block(&mut self) -> io::Result<()> {
        let received = match &self.pool {
            Some(pool) => pool.results.recv().ok(),
            None => None,
        };
        let Some((index, result)) = received else {
            return Err(io::Error::other("the gzip worker threads stopped"));
        };
        self.write_in_order(index, result?)
    }

    /// Keeps a finished block until every block before it is written, then writes all that are ready.
    fn write_in_order(&mut self, index: u64, block: CompressedBlock) -> io::Result<()> {
        self.finished_out_of_order.insert(index, block);
        while let Some(block) = self.finished_out_of_order.remove(&self.next_index_to_write) {
            self.write_block(block)?;
        }
        Ok(())
    }

    /// Writes the block that is next in order.
    fn write_block(&mut self, block: CompressedBlock) -> io::Result<()> {
        self.write_header_once()?;
        self.out.write_all(&block.deflate)?;
        self.crc32.combine(&crc32fast::Hasher::new_with_initial_len(
            block.crc32,
            block.input_len,
        ));
        self.next_index_to_write += 1;
        Ok(())
    }
}

impl<W: Write> Write for ParallelGzipWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = BLOCK_SIZE - self.block.len();
        let taken = buf.len().min(room);
        self.block.extend_from_slice(&buf[..taken]);
        if self.block.len() == BLOCK_SIZE {
            let data = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK_SIZE));
            self.submit(data, false)?;
        }
        Ok(taken)
    }

    /// Passes on to `out` only: a gzip stream cannot be flushed mid-block without changing its
    /// bytes, and determinism wins.
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
