//! The export loop: socket → decoder → writer → sink, one direction, no row
//! ever collected.

use crate::config::Config;
use crate::conn::cancel::Canceller;
use crate::conn::{Flow, PacketError, Session};
use crate::error::{Error, StreamError};
use crate::format::RowWriter;
use crate::progress::Meter;
use crate::sink::Sink;
use crate::split::{Cutter, Target};
use gd_protocol::ProtocolError;
use gd_protocol::framing::{Decoded, Framer};
use gd_protocol::resultset::{Event, QueryDecoder};
use gd_protocol::transcode::Transcoder;

/// Output is handed to the sink in whole blocks of this size (or
/// multiples). Each direct write is one request to the device, and on a
/// virtual machine one exit to the host. 1 M-row CSV export to a file,
/// medians of five alternating runs: system time 0.14 s with 1 MiB blocks,
/// 0.12 s with 2 MiB, 0.11 s with 4 MiB; peak RSS 7.0, 8.2 and 10.1 MiB
/// (256 KiB blocks had taken 0.31 s against 0.25 s for 1 MiB).
pub const FLUSH_AT: usize = 2 * 1024 * 1024;

/// Every block handed to the sink starts at an address that is a multiple
/// of this, as well as at a file offset that is one: what `O_DIRECT` asks
/// of a write on any device up to 4 KiB sectors (see `sink`).
pub const BLOCK_ALIGN: usize = 4096;

// Whole blocks then keep every file offset aligned too.
const _: () = assert!(FLUSH_AT.is_multiple_of(BLOCK_ALIGN));

/// What an export did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Rows written.
    pub rows: u64,
    /// Bytes written (before compression).
    pub bytes: u64,
    /// The number of files of a split export (`None`: one output).
    pub parts: Option<u64>,
    /// `Some(affected rows)` when the statement returned no result set: then
    /// nothing was written (with `--allow-empty`; else it is an error).
    pub no_result_set: Option<u64>,
}

/// The server's error for a write in a read-only transaction.
const ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION: u16 = 1792;

/// Where full blocks of output go.
pub trait BlockSink {
    /// Takes one block.
    fn write_block(&mut self, block: &[u8]) -> Result<(), Error>;

    /// Ends the current file at a row boundary, every byte of it handed
    /// over, and starts the next one: split output (see [`crate::split`]).
    /// Only asked of a sink the export loop was given a
    /// [`crate::split::Cutter`] for; one file cannot be split.
    fn next_file(&mut self) -> Result<(), Error> {
        Err(Error::usage("this output is one file and cannot be split"))
    }

    /// Bytes the current file holds so far, as written to it (after
    /// compression), for [`crate::split::Cutter`].
    fn file_bytes(&self) -> u64 {
        0
    }
}

impl BlockSink for Sink {
    #[inline]
    fn write_block(&mut self, block: &[u8]) -> Result<(), Error> {
        self.write_all(block)
    }
}

/// Runs the configured export end to end. The session is registered with
/// `canceller` while its query runs, so that the caller can stop the query
/// on the server when it gives up (a signal); after a read timeout this
/// function does so itself.
pub async fn run(
    config: &Config,
    canceller: &Canceller,
    meter: Option<Meter>,
) -> Result<Summary, Error> {
    // Open the output first: an unwritable path fails before connecting.
    let sink = Target::for_config(config)?;
    let mut session = Session::connect(&config.connect).await?;
    canceller.register(session.connection_id);
    // The table's size is the total only when every row is exported.
    if let (Some(meter), Some(table), None) =
        (&meter, &config.parallel.table, &config.parallel.table_where)
    {
        meter.set_total(crate::parallel::table_rows(&mut session, table).await);
    }
    let result = crate::format::with_writer!(config.format, &config.format_options, |writer| {
        export(&mut session, writer, sink, config, meter).await
    });
    // After an error the connection may be mid-result: just drop it. A
    // server that went silent may still be working on the query, though,
    // and dropping the connection does not stop that: kill it first.
    match &result {
        Ok(_) => {
            canceller.unregister(session.connection_id);
            session.quit().await;
        }
        Err(Error::Stream {
            source: StreamError::ReadTimeout { .. },
            ..
        }) => canceller.cancel().await,
        Err(_) => {}
    }
    result
}

/// Streams the response to the configured query through `writer` into `sink`.
pub async fn export<W: RowWriter>(
    session: &mut Session,
    writer: W,
    mut sink: Target,
    config: &Config,
    meter: Option<Meter>,
) -> Result<Summary, Error> {
    let mut pipeline = Pipeline::new(session.decoder(), writer)
        .first_result_only(config.first_result_only)
        .meter(meter)
        .split(sink.cutter());
    let statement = session
        .start_statement(&config.query, config.protocol)
        .await?;
    pipeline.binary_rows(statement.is_binary());
    session
        .for_each_packet(true, |payload| pipeline.packet(payload, &mut sink))
        .await
        .map_err(|e| match e {
            PacketError::Handler(e) => e,
            PacketError::Protocol(e) => pipeline.protocol_error(e),
            PacketError::Io(e) => Error::Stream {
                rows: pipeline.progress.rows,
                source: StreamError::Io(e),
            },
            PacketError::Timeout(limit) => Error::Stream {
                rows: pipeline.progress.rows,
                source: StreamError::ReadTimeout {
                    seconds: limit.as_secs(),
                },
            },
        })
        .map_err(|e| explain_read_only(e, config.connect.read_only))?;
    let warnings = pipeline.warnings();
    let outcome = pipeline
        .finish(&mut sink, config.allow_empty)
        .and_then(|mut summary| {
            if summary.no_result_set.is_none() {
                summary.parts = sink.commit()?;
            }
            // Else the sink is dropped: no file (the temporary one is removed).
            Ok(summary)
        });
    // The whole response was read: the session is free for SHOW WARNINGS,
    // which shows this statement's warnings.
    if warnings > 0 && !config.quiet {
        report_warnings(session, warnings, config.verbosity > 0).await;
    }
    session.close_statement(statement).await;
    outcome
}

/// How many of the server's warnings are shown without `-v`.
pub const WARNINGS_SHOWN: usize = 5;

/// Shows the server's warnings for the statement just run (`count` of them,
/// from its final OK/EOF packet) on stderr: the first [`WARNINGS_SHOWN`], or
/// all that the server kept with `all`. Never fails the export.
pub(crate) async fn report_warnings(session: &mut Session, count: u16, all: bool) {
    let sql = if all {
        "SHOW WARNINGS".to_string()
    } else {
        format!("SHOW WARNINGS LIMIT {WARNINGS_SHOWN}")
    };
    let plural = if count == 1 { "" } else { "s" };
    let rows = match session.query_rows(&sql).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(
                "the server reported {count} warning{plural} for the query, \
                 which could not be read: {e}"
            );
            return;
        }
    };
    tracing::warn!("the server reported {count} warning{plural} for the query:");
    for row in &rows {
        // Level, Code, Message.
        let field = |i: usize| row.get(i).map_or("", String::as_str);
        tracing::warn!("  {} {}: {}", field(0), field(1), field(2));
    }
    let rest = usize::from(count).saturating_sub(rows.len());
    if rest > 0 {
        if all {
            tracing::warn!("  ... and {rest} more that the server did not keep (max_error_count)");
        } else {
            tracing::warn!("  ... and {rest} more (-v shows all of them)");
        }
    }
}

/// The server's error 1792 in the read-only session becomes
/// [`Error::ReadOnly`], which names `--allow-writes`; decided by the error
/// code, never by the text.
#[cold]
fn explain_read_only(e: Error, read_only: bool) -> Error {
    let server = match &e {
        Error::Query(ProtocolError::Server(s))
        | Error::Stream {
            source: StreamError::Protocol(ProtocolError::Server(s)),
            ..
        } => s,
        _ => return e,
    };
    if read_only && server.code == ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION {
        Error::ReadOnly(server.clone())
    } else {
        e
    }
}

/// Decoder, writer and output buffer of one export: everything between
/// the packet framer and the sink.
#[derive(Debug)]
pub struct Pipeline<W> {
    decoder: QueryDecoder,
    writer: W,
    out: Output,
    progress: Progress,
    /// Export the first result set and discard the others instead of
    /// failing at the second.
    first_only: bool,
    /// The progress display, told at each block written.
    meter: Option<Meter>,
    /// Where a split export cuts its files (`None`: one output).
    cutter: Option<Cutter>,
    /// The current file is full: the next row starts a new one.
    cut_due: bool,
    /// The block size output is handed to the sink in.
    block: usize,
    /// For a prepared statement's response: its binary rows become the
    /// text rows the writers read.
    transcoder: Option<Transcoder>,
}

/// Output not yet handed to the sink: `buf[base..]`. The bytes before
/// `base` are padding that puts `buf[base]` on a [`BLOCK_ALIGN`] boundary,
/// so that whole blocks can go to the disk without a copy. Writers append
/// to `buf` and never look before where they started.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) buf: Vec<u8>,
    base: usize,
}

impl Output {
    pub(crate) fn new(capacity: usize) -> Self {
        let mut out = Self {
            buf: Vec::with_capacity(capacity + BLOCK_ALIGN),
            base: 0,
        };
        out.realign();
        out
    }

    /// Drops the pending output (after it was handed over): the next byte
    /// is written at the aligned start again.
    pub(crate) fn clear(&mut self) {
        self.buf.truncate(self.base);
    }

    #[inline]
    pub(crate) fn pending(&self) -> &[u8] {
        &self.buf[self.base..]
    }

    /// Hands every whole `block`-sized part of the pending output to `sink`
    /// and moves the rest (usually part of a row) to the front. Returns the
    /// bytes handed over.
    #[inline]
    pub(crate) fn flush_whole(
        &mut self,
        block: usize,
        sink: &mut impl BlockSink,
    ) -> Result<usize, Error> {
        let pending = self.buf.len() - self.base;
        if pending < block {
            return Ok(0);
        }
        if padding(self.pending().as_ptr()) != 0 {
            self.realign();
        }
        let whole = pending - pending % block;
        let end = self.base + whole;
        sink.write_block(&self.buf[self.base..end])?;
        self.buf.copy_within(end.., self.base);
        self.buf.truncate(self.buf.len() - whole);
        Ok(whole)
    }

    /// Moves the pending output so that it starts on an aligned address
    /// again: at creation, and after a row wider than the buffer made it
    /// grow and move. Never in steady state.
    #[cold]
    fn realign(&mut self) {
        let pending = self.buf.len() - self.base;
        // Room for the largest shift up front, so that the shift itself
        // cannot move the buffer again.
        self.buf.reserve_exact(BLOCK_ALIGN);
        let base = padding(self.buf.as_ptr());
        if base > self.base {
            self.buf.resize(base + pending, 0);
        }
        self.buf.copy_within(self.base..self.base + pending, base);
        self.buf.truncate(base + pending);
        self.base = base;
    }
}

/// How far an export got, so that errors can say it.
#[derive(Debug, Default)]
struct Progress {
    rows: u64,
    bytes: u64,
    result_sets: u32,
    in_first: bool,
    first_done: bool,
    ignored_rows: u64,
    /// Affected rows of OK packets that answered instead of a result set.
    affected_rows: u64,
    /// The server's warning count, from the OK/EOF packets that end the
    /// response (the largest seen).
    warnings: u16,
}

impl<W: RowWriter> Pipeline<W> {
    /// A pipeline feeding `decoder`'s rows to `writer`.
    pub fn new(decoder: QueryDecoder, writer: W) -> Self {
        Self {
            decoder,
            writer,
            out: Output::new(FLUSH_AT + FLUSH_AT / 4),
            progress: Progress::default(),
            first_only: false,
            meter: None,
            cutter: None,
            cut_due: false,
            block: FLUSH_AT,
            transcoder: None,
        }
    }

    /// Splits the output into files where `cutter` says (see
    /// [`crate::split`]); the sink must then be a split one.
    pub fn split(mut self, cutter: Option<Cutter>) -> Self {
        self.block = cutter.as_ref().map_or(FLUSH_AT, Cutter::block);
        self.cutter = cutter;
        self
    }

    /// Whether the rows arrive in the binary protocol (a prepared
    /// statement's response): each is transcoded into the text row the
    /// server would have sent (see `gd_protocol::transcode`), so the writers
    /// see text rows only.
    pub fn binary_rows(&mut self, binary: bool) {
        self.transcoder = binary.then(Transcoder::new);
    }

    /// Reports progress to `meter` as blocks are written.
    pub fn meter(mut self, meter: Option<Meter>) -> Self {
        self.meter = meter;
        self
    }

    /// Whether a second result set is discarded with a warning (true) or
    /// ends the export with [`StreamError::MoreResults`] (false, the
    /// default): a script that checks only the exit code must not miss it.
    pub fn first_result_only(mut self, yes: bool) -> Self {
        self.first_only = yes;
        self
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.progress.rows
    }

    /// The server's warning count for the statement, once its response
    /// was read.
    pub fn warnings(&self) -> u16 {
        self.progress.warnings
    }

    /// One packet: the hot path of the whole program. Only the first result
    /// set is written; a second one fails the export at its column count,
    /// unless [`Pipeline::first_result_only`], which counts and drops its rows.
    #[inline]
    pub fn packet(&mut self, payload: &[u8], sink: &mut impl BlockSink) -> Result<Flow, Error> {
        if self.transcoder.is_some() && self.decoder.is_row(payload) {
            return self.binary_row(payload, sink);
        }
        self.text_packet(payload, sink)
    }

    /// A binary row, transcoded and then handled as its text row.
    #[inline]
    fn binary_row(&mut self, payload: &[u8], sink: &mut impl BlockSink) -> Result<Flow, Error> {
        // Taken out for the call, so that its buffer can be read while the
        // pipeline is borrowed (an Option of a Vec: no allocation).
        let mut transcoder = self.transcoder.take();
        let result = match &mut transcoder {
            Some(t) => match t.transcode(payload, &self.decoder) {
                Ok(text) => self.text_packet(text, sink),
                Err(e) => Err(self.protocol_error(e)),
            },
            None => self.text_packet(payload, sink),
        };
        self.transcoder = transcoder;
        result
    }

    /// A packet of a text result set, or of the rest of any response.
    #[inline]
    fn text_packet(&mut self, payload: &[u8], sink: &mut impl BlockSink) -> Result<Flow, Error> {
        // Most packets are rows that the writer takes straight from the packet.
        if self.progress.in_first && self.decoder.is_row(payload) {
            if self.cut_due {
                self.next_file(sink)?;
            }
            if self.writer.packet_row(payload, &mut self.out.buf) {
                return self.wrote_row(sink);
            }
        }
        let p = &mut self.progress;
        let event = match self.decoder.feed(payload) {
            Ok(event) => event,
            Err(e) => return Err(protocol_error(e, p)),
        };
        match event {
            Event::Row(row) if p.in_first => {
                self.writer.row(&row, &mut self.out.buf);
                return self.wrote_row(sink);
            }
            Event::Row(_) => p.ignored_rows += 1,
            Event::Columns => {
                p.result_sets += 1;
                if p.first_done && !self.first_only {
                    return Err(Error::Stream {
                        rows: p.rows,
                        source: StreamError::MoreResults,
                    });
                }
                if !p.first_done {
                    p.in_first = true;
                    self.writer.begin(self.decoder.columns(), &mut self.out.buf);
                }
            }
            Event::End(status) if p.in_first => {
                self.writer.finish(&mut self.out.buf);
                p.in_first = false;
                p.first_done = true;
                p.warnings = p.warnings.max(status.warnings);
            }
            Event::Ok(status) => {
                p.affected_rows += status.affected_rows;
                p.warnings = p.warnings.max(status.warnings);
            }
            Event::End(status) => p.warnings = p.warnings.max(status.warnings),
            Event::Continue => {}
        }
        Ok(if self.decoder.is_done() {
            Flow::Stop
        } else {
            Flow::Continue
        })
    }

    /// Counts the row just written and passes on whole blocks.
    #[inline]
    fn wrote_row(&mut self, sink: &mut impl BlockSink) -> Result<Flow, Error> {
        let p = &mut self.progress;
        // Free for the text writers (their default is inlined away).
        if let Some(message) = self.writer.take_error() {
            return Err(value_error(message, p.rows));
        }
        p.rows += 1;
        // Whole blocks only: every write then starts and ends on a block
        // boundary of the file and of memory, which lets the sink bypass
        // the page cache (or, buffered, fill whole pages: `dd` of 250 MiB
        // took 0.10 s system time in 256 KiB blocks, 0.13 s in blocks 3
        // bytes longer).
        let flushed = self.out.flush_whole(self.block, sink)?;
        if flushed > 0 {
            p.bytes += flushed as u64;
            // Once per block, never per row.
            if let Some(meter) = &self.meter {
                meter.update(p.rows, p.bytes);
            }
        }
        if let Some(cutter) = &mut self.cutter {
            self.cut_due = cutter.after_row(flushed > 0, self.out.pending().len(), sink);
        }
        // A row never ends the response.
        Ok(Flow::Continue)
    }

    /// Ends the current file before the next row and starts a new one, a
    /// complete document each (see [`RowWriter`]).
    #[cold]
    #[inline(never)]
    fn next_file(&mut self, sink: &mut impl BlockSink) -> Result<(), Error> {
        self.cut_due = false;
        self.writer.finish(&mut self.out.buf);
        let rest = self.out.pending();
        sink.write_block(rest)?;
        self.progress.bytes += rest.len() as u64;
        self.out.clear();
        sink.next_file()?;
        if let Some(cutter) = &mut self.cutter {
            cutter.reset();
        }
        self.writer.begin(self.decoder.columns(), &mut self.out.buf);
        Ok(())
    }

    /// After the last packet: decides about an empty result and writes the
    /// rest of the output (the caller commits the sink).
    pub fn finish(
        mut self,
        sink: &mut impl BlockSink,
        allow_empty: bool,
    ) -> Result<Summary, Error> {
        let p = &mut self.progress;
        if p.result_sets > 1 {
            tracing::warn!(
                "the query returned {} result sets; only the first was exported \
                 ({} rows of the others were discarded)",
                p.result_sets,
                p.ignored_rows
            );
        }
        if p.result_sets == 0 {
            // A statement without a result set (UPDATE, DO, CALL without a
            // SELECT): there are no columns to write even a header of, so
            // nothing is written, not even with --allow-empty.
            if !allow_empty {
                return Err(Error::NoResultSet {
                    affected_rows: p.affected_rows,
                });
            }
            return Ok(Summary {
                rows: 0,
                bytes: 0,
                parts: None,
                no_result_set: Some(p.affected_rows),
            });
        }
        if p.rows == 0 && !allow_empty {
            return Err(Error::NoRows);
        }
        if let Some(message) = self.writer.take_error() {
            return Err(value_error(message, p.rows));
        }
        let rest = self.out.pending();
        sink.write_block(rest)?;
        p.bytes += rest.len() as u64;
        Ok(Summary {
            rows: p.rows,
            bytes: p.bytes,
            parts: None,
            no_result_set: None,
        })
    }

    fn protocol_error(&self, e: ProtocolError) -> Error {
        protocol_error(e, &self.progress)
    }
}

/// How many bytes from `ptr` to the next [`BLOCK_ALIGN`] boundary.
#[inline]
fn padding(ptr: *const u8) -> usize {
    ptr.addr().wrapping_neg() % BLOCK_ALIGN
}

/// A writer's error: a value its format cannot hold.
#[cold]
pub(crate) fn value_error(message: String, rows: u64) -> Error {
    Error::Stream {
        rows,
        source: StreamError::Value(message),
    }
}

#[cold]
fn protocol_error(e: ProtocolError, p: &Progress) -> Error {
    if p.result_sets == 0 {
        Error::Query(e)
    } else {
        Error::Stream {
            rows: p.rows,
            source: StreamError::Protocol(e),
        }
    }
}

/// Runs `input` (framed server packets, as received) through `framer` and
/// `pipeline`: the export loop without a socket, for benches and tests.
/// Returns the bytes consumed; a trailing partial packet is left over.
pub fn pump<W: RowWriter>(
    framer: &mut Framer,
    pipeline: &mut Pipeline<W>,
    input: &[u8],
    sink: &mut impl BlockSink,
) -> Result<usize, Error> {
    let mut pos = 0;
    loop {
        match framer
            .decode(&input[pos..])
            .map_err(|e| pipeline.protocol_error(e))?
        {
            Decoded::NeedMore(_) => return Ok(pos),
            Decoded::Chunk(n) => pos += n,
            Decoded::Packet { payload, consumed } => {
                pos += consumed;
                if pipeline.packet(payload, sink)? == Flow::Stop {
                    return Ok(pos);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{DelimitedWriter, FormatOptions, JsonWriter, ParquetWriter};
    use crate::synth::{mixed_binary_response, mixed_response};
    use std::cell::Cell;

    /// Counts allocations made by this thread, so tests running in parallel
    /// do not disturb each other.
    struct CountingAlloc;

    thread_local! {
        static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    }

    // SAFETY: delegates every call to the system allocator unchanged; the
    // counter is a thread-local Cell, touched without allocating.
    unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
        unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
            let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
            // SAFETY: same contract as the caller's.
            unsafe { std::alloc::System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
            // SAFETY: same contract as the caller's.
            unsafe { std::alloc::System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(
            &self,
            ptr: *mut u8,
            layout: std::alloc::Layout,
            new_size: usize,
        ) -> *mut u8 {
            let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
            // SAFETY: same contract as the caller's.
            unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static GLOBAL: CountingAlloc = CountingAlloc;

    fn allocations() -> u64 {
        ALLOCATIONS.with(Cell::get)
    }

    /// Discards blocks, counting bytes.
    struct NullSink(u64);
    impl BlockSink for NullSink {
        fn write_block(&mut self, block: &[u8]) -> Result<(), Error> {
            self.0 += block.len() as u64;
            Ok(())
        }
    }

    /// Allocations made while pumping `rows` rows through the pipeline,
    /// after the first 2,000 rows (warm-up: column metadata, buffer growth).
    fn steady_state_allocations<W: RowWriter>(writer: W, rows: u64) -> (u64, u64) {
        steady_state_allocations_of(writer, rows, false)
    }

    /// The same for text rows or, with `binary`, for a prepared statement's
    /// binary rows (transcoded).
    fn steady_state_allocations_of<W: RowWriter>(writer: W, rows: u64, binary: bool) -> (u64, u64) {
        let input = if binary {
            mixed_binary_response(rows, true)
        } else {
            mixed_response(rows, true)
        };
        let mut framer = Framer::new(1 << 30);
        framer.encode(b"\x03q", &mut Vec::new());
        let mut pipeline = Pipeline::new(QueryDecoder::new(true, true), writer);
        pipeline.binary_rows(binary);
        let mut sink = NullSink(0);
        // Split where row 2,000 starts: column packets + 2,000 rows first.
        let warm = {
            let mut f = Framer::new(1 << 30);
            f.encode(b"\x03q", &mut Vec::new());
            let mut pos = 0;
            for _ in 0..(1 + 18 + 2_000) {
                match f.decode(&input[pos..]).unwrap() {
                    Decoded::Packet { consumed, .. } => pos += consumed,
                    other => panic!("{other:?}"),
                }
            }
            pos
        };
        assert_eq!(
            pump(&mut framer, &mut pipeline, &input[..warm], &mut sink).unwrap(),
            warm
        );
        assert_eq!(pipeline.rows(), 2_000);
        let before = allocations();
        let consumed = pump(&mut framer, &mut pipeline, &input[warm..], &mut sink).unwrap();
        let during = allocations() - before;
        assert_eq!(warm + consumed, input.len());
        let rows = pipeline.rows();
        pipeline.finish(&mut sink, false).unwrap();
        (during, rows)
    }

    #[test]
    fn zero_allocations_per_row_in_steady_state() {
        let opts = FormatOptions::default();
        let pretty = FormatOptions {
            pretty: true,
            ..FormatOptions::default()
        };
        let hex = FormatOptions {
            binary: crate::format::BinaryEncoding::Base64,
            ..FormatOptions::default()
        };
        let big = FormatOptions {
            big_numbers: crate::format::BigNumbers::String,
            ..FormatOptions::default()
        };
        let cases = [
            (
                "csv",
                steady_state_allocations(DelimitedWriter::csv(&opts), 20_000),
            ),
            (
                "tsv",
                steady_state_allocations(DelimitedWriter::tsv(&hex), 20_000),
            ),
            (
                "json",
                steady_state_allocations(JsonWriter::new(&opts), 20_000),
            ),
            (
                "json pretty",
                steady_state_allocations(JsonWriter::new(&pretty), 20_000),
            ),
            (
                "ndjson",
                steady_state_allocations(JsonWriter::ndjson(&opts), 20_000),
            ),
            (
                "ndjson big numbers as strings",
                steady_state_allocations(JsonWriter::ndjson(&big), 20_000),
            ),
        ];
        let binary = [
            (
                "binary csv",
                steady_state_allocations_of(DelimitedWriter::csv(&opts), 20_000, true),
            ),
            (
                "binary json",
                steady_state_allocations_of(JsonWriter::new(&opts), 20_000, true),
            ),
            (
                "binary ndjson",
                steady_state_allocations_of(JsonWriter::ndjson(&big), 20_000, true),
            ),
        ];
        for (name, (allocs, rows)) in cases.into_iter().chain(binary) {
            assert_eq!(rows, 20_000, "{name}");
            // 18,000 rows after warm-up; not one allocation among them.
            assert_eq!(
                allocs,
                0,
                "{name}: {allocs} allocations over {} rows",
                rows - 2_000
            );
        }
    }

    /// A split sink in memory: the bytes of each file.
    #[derive(Default)]
    struct Files(Vec<Vec<u8>>);
    impl BlockSink for Files {
        fn write_block(&mut self, block: &[u8]) -> Result<(), Error> {
            if self.0.is_empty() {
                self.0.push(Vec::new());
            }
            if let Some(last) = self.0.last_mut() {
                last.extend_from_slice(block);
            }
            Ok(())
        }
        fn next_file(&mut self) -> Result<(), Error> {
            self.0.push(Vec::new());
            Ok(())
        }
        fn file_bytes(&self) -> u64 {
            self.0.last().map_or(0, |f| f.len() as u64)
        }
    }

    /// `rows` synthetic rows through `writer` into `sink`, cut by `limits`.
    fn split_export<W: RowWriter, S: BlockSink>(
        writer: W,
        rows: u64,
        limits: crate::split::SplitLimits,
        sink: &mut S,
    ) -> Summary {
        let input = mixed_response(rows, true);
        let mut framer = Framer::new(1 << 30);
        framer.encode(b"\x03q", &mut Vec::new());
        let mut pipeline = Pipeline::new(QueryDecoder::new(true, true), writer)
            .split(Some(Cutter::new(limits, false)));
        assert_eq!(
            pump(&mut framer, &mut pipeline, &input, sink).unwrap(),
            input.len()
        );
        pipeline.finish(sink, false).unwrap()
    }

    #[test]
    fn split_files_hold_exact_row_counts_and_are_each_complete() {
        let opts = FormatOptions::default();
        let by_rows = crate::split::SplitLimits {
            max_rows: Some(1_000),
            max_bytes: None,
        };
        let mut csv_files = Files::default();
        split_export(DelimitedWriter::csv(&opts), 4_500, by_rows, &mut csv_files);
        let (whole, _) = csv_export(4_500);
        let parse = |bytes: &[u8]| -> (csv::StringRecord, Vec<csv::StringRecord>) {
            let mut r = csv::Reader::from_reader(bytes);
            let header = r.headers().unwrap().clone();
            (header, r.records().map(Result::unwrap).collect())
        };
        let (header, all) = parse(&whole.bytes);
        let mut joined = Vec::new();
        assert_eq!(csv_files.0.len(), 5);
        for (i, file) in csv_files.0.iter().enumerate() {
            let (h, rows) = parse(file);
            assert_eq!(h, header, "file {i}: the header");
            assert_eq!(rows.len(), if i < 4 { 1_000 } else { 500 }, "file {i}");
            joined.extend(rows);
        }
        assert!(joined == all, "the files' rows are the unsplit export's");

        let mut json_files = Files::default();
        split_export(JsonWriter::new(&opts), 4_500, by_rows, &mut json_files);
        let counts: Vec<usize> = json_files
            .0
            .iter()
            .map(|f| {
                let doc: serde_json::Value = serde_json::from_slice(f).unwrap();
                doc["data"].as_array().unwrap().len()
            })
            .collect();
        assert_eq!(counts, [1_000, 1_000, 1_000, 1_000, 500]);

        // By size: every file but the last reached the limit, none before its last row.
        let limit = 100_000;
        let by_size = crate::split::SplitLimits {
            max_rows: None,
            max_bytes: Some(limit),
        };
        let mut sized = Files::default();
        split_export(DelimitedWriter::csv(&opts), 4_500, by_size, &mut sized);
        let n = sized.0.len();
        assert!(n > 3, "{n} files");
        for (i, file) in sized.0.iter().enumerate() {
            let last_row = file[..file.len() - 1]
                .iter()
                .rposition(|&b| b == b'\n')
                .unwrap();
            assert!(((last_row + 1) as u64) < limit, "file {i}");
            assert!(i + 1 == n || file.len() as u64 >= limit, "file {i}");
        }
    }

    /// Counts files and bytes without allocating.
    struct NullFiles(u64, u64);
    impl BlockSink for NullFiles {
        fn write_block(&mut self, block: &[u8]) -> Result<(), Error> {
            self.1 += block.len() as u64;
            Ok(())
        }
        fn next_file(&mut self) -> Result<(), Error> {
            self.0 += 1;
            self.1 = 0;
            Ok(())
        }
        fn file_bytes(&self) -> u64 {
            self.1
        }
    }

    #[test]
    fn a_split_export_allocates_per_file_never_per_row() {
        let opts = FormatOptions::default();
        let limits = crate::split::SplitLimits {
            max_rows: Some(500),
            max_bytes: Some(1 << 20),
        };
        let mut sink = NullFiles(1, 0);
        let before = allocations();
        split_export(DelimitedWriter::csv(&opts), 20_000, limits, &mut sink);
        let csv = allocations() - before;
        assert_eq!(sink.0, 40);
        let mut sink = NullFiles(1, 0);
        let before = allocations();
        split_export(JsonWriter::ndjson(&opts), 20_000, limits, &mut sink);
        let ndjson = allocations() - before;
        assert_eq!(sink.0, 40);
        // Per file: CSV about one, JSON's begin builds its keys again (about 58 for these 18
        // columns); one per row would be 20,000.
        for (name, n) in [("csv", csv), ("ndjson", ndjson)] {
            assert!(
                n <= 40 * 100,
                "{name}: {n} allocations for 40 files of 500 rows"
            );
        }
    }

    #[test]
    fn parquet_allocates_only_when_it_writes_a_row_group() {
        // Small row groups: many of them in 40,000 rows.
        let options = crate::format::ParquetOptions {
            row_group_bytes: 256 << 10,
            ..crate::format::ParquetOptions::default()
        };
        let input = mixed_response(40_000, true);
        let mut framer = Framer::new(1 << 30);
        framer.encode(b"\x03q", &mut Vec::new());
        let mut pipeline =
            Pipeline::new(QueryDecoder::new(true, true), ParquetWriter::new(&options));
        let mut sink = NullSink(0);
        let (mut pos, mut quiet, mut allocating) = (0, 0u64, Vec::new());
        loop {
            let Decoded::Packet { payload, consumed } = framer.decode(&input[pos..]).unwrap()
            else {
                panic!("the response ends with its OK packet");
            };
            pos += consumed;
            let groups = pipeline.writer.row_groups();
            let before = allocations();
            let flow = pipeline.packet(payload, &mut sink).unwrap();
            let during = allocations() - before;
            // Steady state: after the first row group, rows that end none.
            if groups > 0 && pipeline.writer.row_groups() == groups {
                if during == 0 {
                    quiet += 1;
                } else {
                    allocating.push((pipeline.rows(), during));
                }
            }
            if flow == Flow::Stop {
                break;
            }
        }
        assert_eq!(pipeline.rows(), 40_000);
        let groups = pipeline.writer.row_groups();
        assert!(groups > 10, "{groups} row groups");
        assert!(quiet > 30_000, "{quiet} rows checked");
        assert!(
            allocating.is_empty(),
            "rows that allocated without writing a row group (row, allocations): {allocating:?}"
        );
        pipeline.finish(&mut sink, false).unwrap();
    }

    #[test]
    fn the_counter_counts() {
        // The guard above is only meaningful if allocations are seen.
        let before = allocations();
        let v = std::hint::black_box(vec![1u8; 100]);
        assert!(allocations() > before);
        drop(v);
    }

    /// `rows` synthetic rows pumped through decode + CSV into a [`Collect`].
    fn csv_export(rows: u64) -> (Collect, Summary) {
        let input = mixed_response(rows, true);
        let mut framer = Framer::new(1 << 30);
        framer.encode(b"\x03q", &mut Vec::new());
        let mut pipeline = Pipeline::new(
            QueryDecoder::new(true, true),
            DelimitedWriter::csv(&FormatOptions::default()),
        );
        let mut sink = Collect::default();
        assert_eq!(
            pump(&mut framer, &mut pipeline, &input, &mut sink).unwrap(),
            input.len()
        );
        let summary = pipeline.finish(&mut sink, false).unwrap();
        (sink, summary)
    }

    #[test]
    fn binary_rows_become_the_text_rows_except_float_and_double() {
        let export = |input: Vec<u8>, binary: bool| {
            let mut framer = Framer::new(1 << 30);
            framer.encode(b"\x03q", &mut Vec::new());
            let mut pipeline = Pipeline::new(
                QueryDecoder::new(true, true),
                DelimitedWriter::csv(&FormatOptions::default()),
            );
            pipeline.binary_rows(binary);
            let mut sink = Collect::default();
            assert_eq!(
                pump(&mut framer, &mut pipeline, &input, &mut sink).unwrap(),
                input.len()
            );
            pipeline.finish(&mut sink, false).unwrap();
            csv::Reader::from_reader(&sink.bytes[..])
                .byte_records()
                .collect::<Result<Vec<_>, _>>()
                .unwrap()
        };
        let text = export(mixed_response(3_000, true), false);
        let binary = export(mixed_binary_response(3_000, true), true);
        assert_eq!(text.len(), 3_000);
        assert_eq!(binary.len(), 3_000);
        let mut float_text_differs = 0;
        for (t, b) in text.iter().zip(&binary) {
            assert_eq!(t.len(), 18);
            for (i, (tf, bf)) in t.iter().zip(b).enumerate() {
                let number = |f: &[u8]| std::str::from_utf8(f).unwrap().parse::<f64>().unwrap();
                match i {
                    // ratio (DOUBLE), score (FLOAT): the same value, maybe other text.
                    4 => assert_eq!(number(tf).to_bits(), number(bf).to_bits()),
                    5 => assert_eq!(number(tf) as f32, number(bf) as f32),
                    _ => assert_eq!(tf, bf, "column {i}"),
                }
                float_text_differs += usize::from((i == 4 || i == 5) && tf != bf);
            }
        }
        // The synthetic DOUBLEs in exponent form (`1.5e-3`) are laid out as the server does.
        assert!(float_text_differs > 0);
    }

    #[test]
    fn a_malformed_row_stops_the_export_with_the_rows_before_it() {
        // The response's packets, the fourth row cut short by one byte.
        let input = mixed_response(5, true);
        let mut framer = Framer::new(1 << 30);
        framer.encode(b"\x03q", &mut Vec::new());
        let mut packets = Vec::new();
        let mut pos = 0;
        while let Decoded::Packet { payload, consumed } = framer.decode(&input[pos..]).unwrap() {
            packets.push(payload.to_vec());
            pos += consumed;
        }
        // Column count, 18 definitions, 5 rows, OK.
        assert_eq!(packets.len(), 1 + 18 + 5 + 1);
        let fourth = &mut packets[1 + 18 + 3];
        fourth.pop();
        let mut pipeline = Pipeline::new(
            QueryDecoder::new(true, true),
            DelimitedWriter::csv(&FormatOptions::default()),
        );
        let mut sink = Collect::default();
        let mut result = Ok(Flow::Continue);
        for p in &packets {
            result = pipeline.packet(p, &mut sink);
            if result.is_err() {
                break;
            }
        }
        match result {
            Err(Error::Stream {
                rows: 3,
                source: StreamError::Protocol(_),
            }) => {}
            other => panic!("expected a protocol error after 3 rows, got {other:?}"),
        }
        assert_eq!(pipeline.rows(), 3);
    }

    #[test]
    fn pump_writes_every_row() {
        let (sink, summary) = csv_export(1_000);
        assert_eq!(summary.rows, 1_000);
        let mut r = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(&sink.bytes[..]);
        assert_eq!(r.headers().unwrap().len(), 18);
        assert_eq!(
            r.records()
                .map(|rec| rec.unwrap())
                .filter(|rec| rec.len() == 18)
                .count(),
            1_000
        );
    }

    #[test]
    fn blocks_are_whole_and_nothing_is_lost_between_them() {
        // About 10.3 MB of CSV: several flushes, each cutting a row in two.
        let (
            Collect {
                sizes,
                bytes,
                misaligned,
            },
            summary,
        ) = csv_export(40_000);
        assert!(sizes.len() > 3, "{sizes:?}");
        assert_eq!(misaligned, 0, "blocks at unaligned addresses");
        let (last, whole) = sizes.split_last().unwrap();
        assert!(
            whole.iter().all(|&n| n > 0 && n % FLUSH_AT == 0),
            "{sizes:?}"
        );
        assert!(*last < FLUSH_AT);
        assert_eq!(summary.bytes, bytes.len() as u64);
        // Every row once, in order: the synthetic id column counts from 1.
        let mut r = csv::ReaderBuilder::new().from_reader(&bytes[..]);
        let ids: Vec<u64> = r
            .records()
            .map(|rec| rec.unwrap()[0].parse().unwrap())
            .collect();
        assert_eq!(ids, (1..=40_000).collect::<Vec<u64>>());
    }

    /// Keeps every block written, and its size.
    #[derive(Default)]
    struct Collect {
        sizes: Vec<usize>,
        bytes: Vec<u8>,
        /// Blocks that did not start on a [`BLOCK_ALIGN`] boundary.
        misaligned: usize,
    }
    impl BlockSink for Collect {
        fn write_block(&mut self, block: &[u8]) -> Result<(), Error> {
            self.sizes.push(block.len());
            self.bytes.extend_from_slice(block);
            self.misaligned += usize::from(!block.as_ptr().addr().is_multiple_of(BLOCK_ALIGN));
            Ok(())
        }
    }

    #[test]
    fn blocks_stay_aligned_when_a_wide_row_moves_the_buffer() {
        // Appends of up to 3x the starting capacity, as a writer appends a
        // wide row: the buffer reallocates and moves, often.
        let mut out = Output::new(8192);
        let mut sink = Collect::default();
        let mut expected = Vec::new();
        let mut flushed = 0;
        for i in 0..300u32 {
            let len = (i as usize * 7919) % 24_000 + 1;
            let chunk: Vec<u8> = (0..len).map(|k| (k as u32 ^ i) as u8).collect();
            out.buf.extend_from_slice(&chunk);
            expected.extend_from_slice(&chunk);
            flushed += out.flush_whole(BLOCK_ALIGN * 2, &mut sink).unwrap();
        }
        assert!(out.buf.capacity() > 3 * 8192, "the buffer never grew");
        assert_eq!(sink.misaligned, 0);
        assert!(sink.sizes.len() > 100, "{}", sink.sizes.len());
        assert!(sink.sizes.iter().all(|n| n % (BLOCK_ALIGN * 2) == 0));
        assert_eq!(flushed, sink.bytes.len());
        sink.bytes.extend_from_slice(out.pending());
        assert_eq!(sink.bytes, expected);
    }
}
