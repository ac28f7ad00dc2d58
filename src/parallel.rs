//! The parallel export (`--threads N`): the query split into chunk queries
//! (see [`crate::plan`]) that N connections take from one queue, all
//! reading one snapshot, their rows written by one writer into one output.
//!
//! Everything runs on the one runtime thread: the server formats the rows
//! and is the bottleneck, while our part of a row costs a seventh of the
//! `mariadb` client's. A worker's packets are handed to the shared writer
//! one whole row at a time, so rows from different connections never
//! interleave inside a row, the header and a JSON document's brackets are
//! written once, and memory is one receive buffer per connection plus the
//! one output buffer: flat in the row count.

use crate::cli::Consistency;
use crate::config::Config;
use crate::conn::cancel::Canceller;
use crate::conn::{Flow, PacketError, Session};
use crate::error::{Error, StreamError};
use crate::export::{BlockSink, FLUSH_AT, Output, Summary};
use crate::format::RowWriter;
use crate::plan::keys::KeyType;
use crate::plan::{Chunk, Chunker, MAX_PROBES, Split, Verdict, quote_identifier};
use crate::progress::Meter;
use crate::split::{Cutter, Target};
use gd_protocol::ProtocolError;
use gd_protocol::resultset::{Event, QueryDecoder};
use gd_protocol::transcode::Transcoder;
use std::cell::{Cell, RefCell};
use tokio::sync::Mutex;

/// Rows per chunk when `--chunk-rows` is not given: enough chunks that the
/// last one to finish leaves the other connections idle only briefly (a
/// chunk of this size is well under a second of server time), few enough
/// that the per-query cost does not show.
const DEFAULT_CHUNK_ROWS: u64 = 100_000;

/// Chunks per connection aimed at for small results.
const CHUNKS_PER_CONNECTION: u64 = 16;

/// Runs the configured export over `config.parallel.threads` connections.
pub async fn run(
    config: &Config,
    canceller: &Canceller,
    meter: Option<Meter>,
) -> Result<Summary, Error> {
    let sink = Target::for_config(config)?;
    let threads = config.parallel.threads as usize;
    let mut sessions =
        futures_util::future::try_join_all((0..threads).map(|_| Session::connect(&config.connect)))
            .await?;
    for s in &sessions {
        canceller.register(s.connection_id);
    }
    let result = crate::format::with_writer!(config.format, &config.format_options, |writer| {
        export(&mut sessions, writer, sink, config, meter).await
    });
    match &result {
        Ok(_) => {
            for s in sessions {
                canceller.unregister(s.connection_id);
                s.quit().await;
            }
        }
        // Refused while planning, or nothing to export: no chunk query runs.
        Err(Error::Usage(_) | Error::Snapshot(_) | Error::NoRows) => {}
        // The other connections may still be busy with their chunks.
        Err(_) => canceller.cancel().await,
    }
    result
}

async fn export<W: RowWriter>(
    sessions: &mut [Session],
    writer: W,
    sink: Target,
    config: &Config,
    meter: Option<Meter>,
) -> Result<Summary, Error> {
    let split = plan_split(&mut sessions[0], config).await?;
    if config.parallel.consistency == Consistency::Snapshot {
        snapshot(sessions, config).await?;
    }
    let (chunker, total) = new_chunker(&mut sessions[0], &split, config).await?;
    if let Some(meter) = &meter {
        meter.set_total(total);
    }
    let planner = Mutex::new(Planner { split, chunker });
    let warnings = Cell::new(0u32);
    let cutter = sink.cutter();
    let merge = RefCell::new(Merge {
        writer,
        out: Output::new(FLUSH_AT + FLUSH_AT / 4),
        sink,
        rows: 0,
        bytes: 0,
        columns: None,
        meter,
        block: cutter.as_ref().map_or(FLUSH_AT, Cutter::block),
        cutter,
        cut_due: false,
    });
    futures_util::future::try_join_all(
        sessions
            .iter_mut()
            .map(|session| worker(session, &planner, &merge, &warnings, config)),
    )
    .await?;
    if warnings.get() > 0 && !config.quiet {
        tracing::warn!(
            "the chunk queries raised {} warnings in all (those of the first chunk with any \
             are shown above)",
            warnings.get()
        );
    }
    let chunks = planner.lock().await.chunker.issued();
    let merge = merge.into_inner();
    tracing::info!(chunks, "all chunks exported");
    merge.finish(config.allow_empty)
}

/// Finds the split column in the result and checks its type.
async fn plan_split(session: &mut Session, config: &Config) -> Result<Split, Error> {
    let parallel = &config.parallel;
    let column = match (&parallel.split_by, &parallel.table) {
        (Some(column), _) => column.clone(),
        (None, Some(table)) => primary_key(session, table).await?,
        (None, None) => return Err(Error::usage("--threads needs --split-by or --table")),
    };
    let probe = format!("SELECT * FROM (\n{}\n) AS gd_chunk LIMIT 0", config.query);
    let (columns, _) = session.query_table(&probe).await?;
    let matching: Vec<_> = columns
        .iter()
        .filter(|c| c.name.eq_ignore_ascii_case(&column))
        .collect();
    let found = match matching.as_slice() {
        [one] => *one,
        [] => {
            return Err(Error::usage(format!(
                "--split-by {column}: the result has no such column (it has: {}); name a \
                 column of the query's result, by its alias if it has one",
                columns
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        _ => {
            return Err(Error::usage(format!(
                "--split-by {column}: the result has {} columns of that name; give them \
                 distinct aliases",
                matching.len()
            )));
        }
    };
    let key = KeyType::of(found).map_err(|why| {
        Error::usage(format!(
            "--split-by {column}: cannot split on this column, because {why}; split on an \
             integer, DECIMAL without fraction digits, DATE or DATETIME column, or run with \
             --threads 1"
        ))
    })?;
    Ok(Split {
        query: config.query.clone(),
        column: found.name.clone(),
        key,
    })
}

/// The one column of `table`'s primary key.
async fn primary_key(session: &mut Session, table: &str) -> Result<String, Error> {
    let (schema, name) = schema_and_name(table);
    let sql = format!(
        "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE \
         WHERE CONSTRAINT_NAME = 'PRIMARY' AND TABLE_SCHEMA = {schema} AND TABLE_NAME = {} \
         ORDER BY ORDINAL_POSITION",
        sql_string(name)
    );
    let (_, rows) = session.query_table(&sql).await?;
    match rows.as_slice() {
        [row] => row
            .first()
            .cloned()
            .flatten()
            .ok_or_else(|| Error::usage("the server returned an empty primary-key column name")),
        [] => Err(Error::usage(format!(
            "--table {table} has no primary key (or is not visible to this account): pass \
             --split-by COLUMN with an indexed integer or date column"
        ))),
        _ => Err(Error::usage(format!(
            "--table {table} has a primary key of {} columns: pass --split-by COLUMN with its \
             first column, or another indexed integer or date column",
            rows.len()
        ))),
    }
}

/// The server's row count estimate for `table` (information_schema's
/// TABLE_ROWS, from InnoDB's statistics); 0 when it is not known.
pub async fn table_rows(session: &mut Session, table: &str) -> u64 {
    let (schema, name) = schema_and_name(table);
    let sql = format!(
        "SELECT TABLE_ROWS FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = {schema} AND TABLE_NAME = {}",
        sql_string(name)
    );
    match session.query_table(&sql).await {
        Ok((_, rows)) => rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        Err(_) => 0,
    }
}

/// The schema (a SQL expression: a string literal or `DATABASE()`) and
/// the table name of `schema.table` or `table`.
fn schema_and_name(table: &str) -> (String, &str) {
    match table.split_once('.') {
        Some((schema, name)) => (sql_string(schema), name),
        None => ("DATABASE()".to_string(), table),
    }
}

/// `text` as a SQL string expression that reads the same under every
/// `sql_mode`: a hex literal (quotes and backslashes escape differently with
/// NO_BACKSLASH_ESCAPES), converted to the connection's character set.
fn sql_string(text: &str) -> String {
    let mut hex = String::with_capacity(2 * text.len());
    for b in text.bytes() {
        hex.push_str(&format!("{b:02X}"));
    }
    format!("CONVERT(X'{hex}' USING utf8mb4)")
}

/// Seconds the snapshot's commit lock may wait for running statements.
const LOCK_WAIT_SECONDS: u32 = 10;

/// Whether the server has `BACKUP STAGE` (MariaDB 10.4.1 and later). MariaDB
/// reports `5.5.5-10.11.19-MariaDB-…` to old clients, or `10.11.19-MariaDB`.
fn has_backup_stages(server_version: &str) -> bool {
    server_version.contains("MariaDB") && crate::conn::version_number(server_version) >= (10, 4, 1)
}

/// The server's error when an account lacks a privilege.
const ER_SPECIFIC_ACCESS_DENIED: u16 = 1227;

/// Starts one snapshot on every worker: commits are blocked while the N
/// transactions start, so that all of them see the same commits. The lock
/// is held for the few milliseconds that takes, on a connection of its own.
async fn snapshot(workers: &mut [Session], config: &Config) -> Result<(), Error> {
    let mut control = Session::connect(&config.connect).await?;
    // A lock that cannot be had at once (FLUSH TABLES WITH READ LOCK queued
    // behind a long query, which makes every writer wait behind it) is
    // given up after this, rather than stalling the server.
    control
        .execute(&format!(
            "SET SESSION lock_wait_timeout = {LOCK_WAIT_SECONDS}"
        ))
        .await?;
    // BACKUP STAGE BLOCK_COMMIT (MariaDB 10.4.1+) blocks commits without
    // FLUSH TABLES WITH READ LOCK's table flush, which waits for every
    // running query on the tables and stalls all writers meanwhile.
    let (lock, unlock): (&[&str], &str) = if has_backup_stages(&control.server_version) {
        (
            &["BACKUP STAGE START", "BACKUP STAGE BLOCK_COMMIT"],
            "BACKUP STAGE END",
        )
    } else {
        (&["FLUSH TABLES WITH READ LOCK"], "UNLOCK TABLES")
    };
    for statement in lock {
        control
            .execute(statement)
            .await
            .map_err(|e| explain_lock_error(e, statement))?;
    }
    let started = futures_util::future::try_join_all(workers.iter_mut().map(|w| async {
        w.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .await?;
        w.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            .await
    }))
    .await;
    let released = control.execute(unlock).await;
    control.quit().await;
    started?;
    released?;
    tracing::debug!(connections = workers.len(), "snapshot started");
    Ok(())
}

#[cold]
fn explain_lock_error(e: Error, statement: &str) -> Error {
    match &e {
        Error::Query(ProtocolError::Server(s)) if s.code == ER_SPECIFIC_ACCESS_DENIED => {
            Error::Snapshot(format!(
                "{statement} was refused ({s}): one consistent snapshot over several \
                 connections needs the RELOAD privilege, to hold commits for the moment the \
                 connections start their transactions; grant it (GRANT RELOAD ON *.* TO the \
                 account), or pass --consistency none to let each chunk read what is \
                 committed when it runs"
            ))
        }
        _ => e,
    }
}

/// The chunker for `split`: the key's bounds, the result's size and the
/// check whether estimates see ranges, read in the snapshot. Also returns
/// the server's estimate of the result's rows.
async fn new_chunker(
    session: &mut Session,
    split: &Split,
    config: &Config,
) -> Result<(Chunker, u64), Error> {
    let (_, rows) = session.query_table(&split.bounds_sql()).await?;
    let field = |i: usize| {
        rows.first()
            .and_then(|r| r.get(i).cloned().flatten())
            .and_then(|v| split.key.parse(v.as_bytes()))
    };
    let bounds = field(0).zip(field(1));
    let present = rows.first().is_some_and(|r| r.iter().any(Option::is_some));
    if bounds.is_none() && present {
        tracing::warn!(
            "the values of {} are out of the range gold_digger splits on (beyond 38 digits): \
             the export runs as one chunk",
            split.column
        );
    }
    let total = explain_rows(
        session,
        &format!(
            "EXPLAIN {}",
            split.chunk_sql(Chunk::Range { lo: None, hi: None })
        ),
    )
    .await?;
    let threads = u64::from(config.parallel.threads);
    let target = config.parallel.chunk_rows.unwrap_or_else(|| {
        (total / (threads * CHUNKS_PER_CONNECTION)).clamp(1_000, DEFAULT_CHUNK_ROWS)
    });
    let mut chunker = Chunker::new(bounds, total, target);
    if chunker.wants_estimates() {
        let (lo, hi) = chunker.calibration_range();
        let estimate = explain_rows(session, &split.explain_sql(lo, hi)).await?;
        chunker.calibrate(estimate, config.parallel.threads);
        if !chunker.wants_estimates() {
            tracing::warn!(
                "the server's estimates do not see ranges of {} (is it indexed?): every chunk \
                 reads the whole result, so the export is cut into only {} chunks",
                split.column,
                2 * threads
            );
        }
    }
    tracing::debug!(?bounds, total, target, "chunk plan");
    Ok((chunker, total))
}

/// The largest `rows` of an `EXPLAIN`: the server's estimate of the rows
/// the statement reads.
async fn explain_rows(session: &mut Session, sql: &str) -> Result<u64, Error> {
    let (columns, rows) = session.query_table(sql).await?;
    let Some(at) = columns
        .iter()
        .position(|c| c.name.eq_ignore_ascii_case("rows"))
    else {
        return Ok(0);
    };
    Ok(rows
        .iter()
        .filter_map(|r| r.get(at).cloned().flatten())
        .filter_map(|v| v.parse::<u64>().ok())
        .max()
        .unwrap_or(0))
}

/// The queue of chunks: the plan and where it stands.
struct Planner {
    split: Split,
    chunker: Chunker,
}

impl Planner {
    /// The next chunk and its SQL, sized with `session`'s estimates.
    async fn next(&mut self, session: &mut Session) -> Result<Option<(Chunk, String)>, Error> {
        if let Some(lo) = self.chunker.gap_start() {
            let col = format!("gd_chunk.{}", quote_identifier(&self.split.column));
            let sql = format!(
                "SELECT MIN({col}) FROM (\n{}\n) AS gd_chunk WHERE {col} >= {}",
                self.split.query,
                self.split.key.literal(lo)
            );
            let (_, rows) = session.query_table(&sql).await?;
            let key = rows
                .first()
                .and_then(|r| r.first().cloned().flatten())
                .and_then(|v| self.split.key.parse(v.as_bytes()));
            self.chunker.skip_to(key);
        }
        let mut probes = 0;
        while self.chunker.wants_estimates() && probes < MAX_PROBES {
            let Some((lo, hi)) = self.chunker.proposal() else {
                break;
            };
            probes += 1;
            let estimate = explain_rows(session, &self.split.explain_sql(lo, hi)).await?;
            if self.chunker.estimate(estimate) == Verdict::Take {
                break;
            }
        }
        Ok(self
            .chunker
            .take()
            .map(|chunk| (chunk, self.split.chunk_sql(chunk))))
    }
}

/// One connection's loop: take a chunk, stream its rows into the merge.
async fn worker<W: RowWriter>(
    session: &mut Session,
    planner: &Mutex<Planner>,
    merge: &RefCell<Merge<W>>,
    warnings: &Cell<u32>,
    config: &Config,
) -> Result<(), Error> {
    loop {
        let next = planner.lock().await.next(session).await?;
        let Some((range, sql)) = next else {
            return Ok(());
        };
        let rows_before = merge.borrow().rows;
        let statement = session
            .start_statement(&sql, config.protocol)
            .await
            .map_err(|e| match e {
                Error::Stream { rows: 0, source } => Error::Stream {
                    rows: rows_before,
                    source,
                },
                e => e,
            })?;
        let mut decoder = session.decoder();
        let mut chunk = ChunkStats::default();
        // Binary rows become the text rows the writer reads.
        let mut transcoder = statement.is_binary().then(Transcoder::new);
        session
            .for_each_packet(true, |payload| {
                let payload = match &mut transcoder {
                    Some(t) if decoder.is_row(payload) => {
                        t.transcode(payload, &decoder).map_err(|e| Error::Stream {
                            rows: merge.borrow().rows,
                            source: StreamError::Protocol(e),
                        })?
                    }
                    _ => payload,
                };
                merge.borrow_mut().packet(&mut decoder, payload, &mut chunk)
            })
            .await
            .map_err(|e| {
                let rows = merge.borrow().rows;
                match e {
                    PacketError::Handler(e) => e,
                    PacketError::Protocol(e) => Error::Stream {
                        rows,
                        source: StreamError::Protocol(e),
                    },
                    PacketError::Io(e) => Error::Stream {
                        rows,
                        source: StreamError::Io(e),
                    },
                    PacketError::Timeout(limit) => Error::Stream {
                        rows,
                        source: StreamError::ReadTimeout {
                            seconds: limit.as_secs(),
                        },
                    },
                }
            })?;
        tracing::debug!(
            connection = session.connection_id,
            chunk = ?range,
            rows = chunk.rows,
            "chunk done"
        );
        // SHOW WARNINGS shows the last statement's: ask before the next chunk, for the first
        // chunk that had any (the others are counted).
        if chunk.warnings > 0 && !config.quiet {
            let first = warnings.get() == 0;
            warnings.set(warnings.get().saturating_add(u32::from(chunk.warnings)));
            if first {
                crate::export::report_warnings(session, chunk.warnings, config.verbosity > 0).await;
            }
        }
        session.close_statement(statement).await;
    }
}

/// What one chunk query returned.
#[derive(Debug, Default)]
struct ChunkStats {
    rows: u64,
    /// The server's warning count from the result's end.
    warnings: u16,
}

/// The one writer and output that every connection's rows go to.
struct Merge<W> {
    writer: W,
    out: Output,
    sink: Target,
    rows: u64,
    bytes: u64,
    /// Column count of the result, once the first chunk's columns arrived.
    columns: Option<usize>,
    /// The progress display, told at each block written.
    meter: Option<Meter>,
    /// Where a split export cuts its files (`None`: one output).
    cutter: Option<Cutter>,
    /// The current file is full: the next row starts a new one.
    cut_due: bool,
    /// The block size output is handed to the sink in.
    block: usize,
}

impl<W: RowWriter> Merge<W> {
    /// One packet of a chunk query's response, decoded by that
    /// connection's `decoder`. Each call writes whole rows only.
    #[inline]
    fn packet(
        &mut self,
        decoder: &mut QueryDecoder,
        payload: &[u8],
        chunk: &mut ChunkStats,
    ) -> Result<Flow, Error> {
        if decoder.is_row(payload) {
            if self.cut_due {
                self.next_file(decoder)?;
            }
            if self.writer.packet_row(payload, &mut self.out.buf) {
                chunk.rows += 1;
                return self.wrote_row();
            }
        }
        let rows = self.rows;
        let stream = |source: StreamError| Error::Stream { rows, source };
        let event = decoder
            .feed(payload)
            .map_err(|e| stream(StreamError::Protocol(e)))?;
        let first_columns = match event {
            Event::Row(row) => {
                self.writer.row(&row, &mut self.out.buf);
                chunk.rows += 1;
                return self.wrote_row();
            }
            Event::Columns => true,
            Event::End(status) if status.more_results() => {
                return Err(stream(StreamError::Chunk(
                    "a chunk query returned more than one result set",
                )));
            }
            Event::Ok(_) => {
                return Err(stream(StreamError::Chunk(
                    "a chunk query returned no result set",
                )));
            }
            Event::End(status) => {
                chunk.warnings = status.warnings;
                false
            }
            Event::Continue => false,
        };
        if first_columns {
            let columns = decoder.columns();
            match self.columns {
                None => {
                    self.writer.begin(columns, &mut self.out.buf);
                    self.columns = Some(columns.len());
                }
                Some(n) if n != columns.len() => {
                    return Err(stream(StreamError::Chunk(
                        "chunk queries returned different columns",
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(if decoder.is_done() {
            Flow::Stop
        } else {
            Flow::Continue
        })
    }

    #[inline]
    fn wrote_row(&mut self) -> Result<Flow, Error> {
        if let Some(message) = self.writer.take_error() {
            return Err(crate::export::value_error(message, self.rows));
        }
        self.rows += 1;
        let flushed = self.out.flush_whole(self.block, &mut self.sink)?;
        if flushed > 0 {
            self.bytes += flushed as u64;
            if let Some(meter) = &self.meter {
                meter.update(self.rows, self.bytes);
            }
        }
        if let Some(cutter) = &mut self.cutter {
            self.cut_due = cutter.after_row(flushed > 0, self.out.pending().len(), &self.sink);
        }
        Ok(Flow::Continue)
    }

    /// Ends the current file before the next row and starts a new one
    /// (see `export::Pipeline`); `decoder` is the connection whose row
    /// comes next, which has the columns every chunk shares.
    #[cold]
    #[inline(never)]
    fn next_file(&mut self, decoder: &QueryDecoder) -> Result<(), Error> {
        self.cut_due = false;
        self.writer.finish(&mut self.out.buf);
        let rest = self.out.pending();
        self.sink.write_block(rest)?;
        self.bytes += rest.len() as u64;
        self.out.clear();
        self.sink.next_file()?;
        if let Some(cutter) = &mut self.cutter {
            cutter.reset();
        }
        self.writer.begin(decoder.columns(), &mut self.out.buf);
        Ok(())
    }

    fn finish(mut self, allow_empty: bool) -> Result<Summary, Error> {
        if self.rows == 0 && !allow_empty {
            return Err(Error::NoRows);
        }
        self.writer.finish(&mut self.out.buf);
        if let Some(message) = self.writer.take_error() {
            return Err(crate::export::value_error(message, self.rows));
        }
        let rest = self.out.pending();
        self.sink.write_block(rest)?;
        self.bytes += rest.len() as u64;
        let parts = self.sink.commit()?;
        Ok(Summary {
            rows: self.rows,
            bytes: self.bytes,
            parts,
            no_result_set: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_stages_from_mariadb_10_4_1_on() {
        assert!(has_backup_stages("5.5.5-10.11.19-MariaDB-0+deb12u1"));
        assert!(has_backup_stages("10.4.1-MariaDB"));
        assert!(has_backup_stages("11.4.2-MariaDB-log"));
        assert!(!has_backup_stages("5.5.5-10.3.39-MariaDB"));
        assert!(!has_backup_stages("10.4.0-MariaDB"));
        assert!(!has_backup_stages("8.0.36"));
        assert!(!has_backup_stages("8.4.0-MySQL Community Server"));
    }

    #[test]
    fn strings_are_hex_literals() {
        assert_eq!(sql_string("o'b\\"), "CONVERT(X'6F27625C' USING utf8mb4)");
        assert_eq!(sql_string(""), "CONVERT(X'' USING utf8mb4)");
    }
}
