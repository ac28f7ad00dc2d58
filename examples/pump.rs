//! Runs the decode + write path over the synthetic `bench.mixed` stream once,
//! for instruction-count profiling, which stays repeatable on a busy machine:
//!
//!   cargo build --release --example pump
//!   valgrind --tool=callgrind target/release/examples/pump csv 20000
//!
//! Formats: csv, tsv, json, pretty (JSON with `--pretty`), ndjson. Prints the output
//! size so the work cannot be optimised away; a third argument names a file
//! that gets the output itself, for comparing two builds byte by byte.

use gd_protocol::framing::Framer;
use gd_protocol::resultset::QueryDecoder;
use gold_digger::Error;
use gold_digger::export::{BlockSink, Pipeline, pump};
use gold_digger::format::csv::DelimitedWriter;
use gold_digger::format::json::JsonWriter;
use gold_digger::format::{FormatOptions, RowWriter};
use gold_digger::synth::mixed_response;

struct Count(u64, Option<std::fs::File>);

impl BlockSink for Count {
    fn write_block(&mut self, block: &[u8]) -> Result<(), Error> {
        self.0 += block.len() as u64;
        if let Some(f) = &mut self.1 {
            std::io::Write::write_all(f, block).map_err(|e| Error::Usage(e.to_string()))?;
        }
        Ok(())
    }
}

#[inline(never)]
fn run<W: RowWriter>(input: &[u8], writer: W, copy: Option<std::fs::File>) -> Result<u64, Error> {
    let mut framer = Framer::new(1 << 30);
    framer.encode(b"\x03q", &mut Vec::new());
    let mut pipeline = Pipeline::new(QueryDecoder::new(true, true), writer);
    let mut sink = Count(0, copy);
    pump(&mut framer, &mut pipeline, input, &mut sink)?;
    pipeline.finish(&mut sink, false)?;
    Ok(sink.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let format = args.next().unwrap_or_else(|| "csv".into());
    let rows = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let copy = args.next().map(std::fs::File::create).transpose()?;
    let input = mixed_response(rows, true);
    let opts = FormatOptions::default();
    let pretty = FormatOptions {
        pretty: true,
        ..FormatOptions::default()
    };
    let bytes = match format.as_str() {
        "tsv" => run(&input, DelimitedWriter::tsv(&opts), copy)?,
        "json" => run(&input, JsonWriter::new(&opts), copy)?,
        "pretty" => run(&input, JsonWriter::new(&pretty), copy)?,
        "ndjson" => run(&input, JsonWriter::ndjson(&opts), copy)?,
        _ => run(&input, DelimitedWriter::csv(&opts), copy)?,
    };
    println!(
        "{format}: {rows} rows, {} input bytes, {bytes} output bytes",
        input.len()
    );
    Ok(())
}
