//! The export loop: socket → decoder → writer → sink, one direction, no row
//! ever collected.

use crate::config::Config;
use crate::conn::{Flow, PacketError, Session};
use crate::error::{Error, StreamError};
use crate::format::csv::DelimitedWriter;
use crate::format::json::JsonWriter;
use crate::format::{Format, RowWriter};
use crate::sink::Sink;
use gd_protocol::ProtocolError;
use gd_protocol::resultset::{Event, QueryDecoder};

/// Output is handed to the sink in blocks of about this size.
pub const FLUSH_AT: usize = 256 * 1024;

/// What an export did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Rows written.
    pub rows: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Runs the configured export end to end.
pub async fn run(config: &Config) -> Result<Summary, Error> {
    // Open the output first: an unwritable path fails before connecting.
    let sink = Sink::open(&config.output)?;
    let mut session = Session::connect(&config.connect).await?;
    let opts = &config.format_options;
    let result = match config.format {
        Format::Csv => export(&mut session, DelimitedWriter::csv(opts), sink, config).await,
        Format::Tsv => export(&mut session, DelimitedWriter::tsv(opts), sink, config).await,
        Format::Json => export(&mut session, JsonWriter::new(opts), sink, config).await,
    };
    // After an error the connection may be mid-result: just drop it.
    if result.is_ok() {
        session.quit().await;
    }
    result
}

/// Counters of one export, kept outside the packet handler so errors can
/// report how far the export got.
#[derive(Debug, Default)]
struct Progress {
    rows: u64,
    bytes: u64,
    result_sets: u32,
    in_first: bool,
    first_done: bool,
    ignored_rows: u64,
}

/// Streams the response to the configured query through `writer` into `sink`.
pub async fn export<W: RowWriter>(
    session: &mut Session,
    mut writer: W,
    mut sink: Sink,
    config: &Config,
) -> Result<Summary, Error> {
    let mut out = Vec::with_capacity(FLUSH_AT + FLUSH_AT / 4);
    let mut p = Progress::default();
    let mut decoder = session.decoder();
    session
        .send_query(&config.query)
        .await
        .map_err(|e| Error::Stream {
            rows: 0,
            source: e.into(),
        })?;

    let streamed = session
        .for_each_packet(|payload| {
            handle(
                &mut decoder,
                payload,
                &mut writer,
                &mut out,
                &mut sink,
                &mut p,
            )?;
            Ok(if decoder.is_done() {
                Flow::Stop
            } else {
                Flow::Continue
            })
        })
        .await;
    if let Err(e) = streamed {
        return Err(match e {
            PacketError::Handler(e) => e,
            PacketError::Protocol(e) => protocol_error(e, &p),
            PacketError::Io(e) => Error::Stream {
                rows: p.rows,
                source: StreamError::Io(e),
            },
        });
    }

    if p.result_sets > 1 {
        tracing::warn!(
            "the query returned {} result sets; only the first was exported ({} rows of the others were discarded)",
            p.result_sets,
            p.ignored_rows
        );
    }
    if p.rows == 0 {
        if !config.allow_empty {
            return Err(Error::NoRows);
        }
        if p.result_sets == 0 {
            // A statement without a result set: an empty document all the same.
            writer.begin(&[], &mut out);
            writer.finish(&mut out);
        }
    }
    sink.write_all(&out)?;
    p.bytes += out.len() as u64;
    sink.commit()?;
    Ok(Summary {
        rows: p.rows,
        bytes: p.bytes,
    })
}

/// One packet: the hot path of the whole program.
#[inline]
fn handle<W: RowWriter>(
    decoder: &mut QueryDecoder,
    payload: &[u8],
    writer: &mut W,
    out: &mut Vec<u8>,
    sink: &mut Sink,
    p: &mut Progress,
) -> Result<(), Error> {
    let event = decoder.feed(payload).map_err(|e| protocol_error(e, p))?;
    match event {
        Event::Row(row) if p.in_first => {
            writer.row(&row, out);
            p.rows += 1;
            if out.len() >= FLUSH_AT {
                sink.write_all(out)?;
                p.bytes += out.len() as u64;
                out.clear();
            }
        }
        Event::Row(_) => p.ignored_rows += 1,
        Event::Columns => {
            p.result_sets += 1;
            if !p.first_done {
                p.in_first = true;
                writer.begin(decoder.columns(), out);
            }
        }
        Event::End(_) if p.in_first => {
            writer.finish(out);
            p.in_first = false;
            p.first_done = true;
        }
        Event::End(_) | Event::Ok(_) | Event::Continue => {}
    }
    Ok(())
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
