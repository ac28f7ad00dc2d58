//! Decode and decode + write throughput over an in-memory copy of what the
//! server sends for `SELECT * FROM bench.mixed` (see `gold_digger::synth`).
//! Throughput is measured in bytes of output (input bytes for decode only and
//! for Parquet, whose output is compressed).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gd_protocol::framing::{Decoded, Framer};
use gd_protocol::resultset::{Event, QueryDecoder};
use gold_digger::Error;
use gold_digger::export::{BlockSink, Pipeline, pump};
use gold_digger::format::csv::DelimitedWriter;
use gold_digger::format::json::JsonWriter;
use gold_digger::format::parquet::ParquetCompression;
use gold_digger::format::{FormatOptions, ParquetOptions, ParquetWriter, RowWriter};
use gold_digger::synth::{mixed_binary_response, mixed_response};
use std::hint::black_box;

const ROWS: u64 = 100_000;

/// Counts and drops output blocks, as a fast disk would take them.
struct NullSink(u64);

impl BlockSink for NullSink {
    fn write_block(&mut self, block: &[u8]) -> Result<(), Error> {
        self.0 += black_box(block).len() as u64;
        Ok(())
    }
}

fn framer() -> Framer {
    let mut f = Framer::new(1 << 30);
    f.encode(b"\x03q", &mut Vec::new()); // the query took sequence id 0
    f
}

fn run<W: RowWriter>(input: &[u8], writer: W) -> u64 {
    run_rows(input, writer, false)
}

/// `run` for text rows or, with `binary`, a prepared statement's binary rows.
fn run_rows<W: RowWriter>(input: &[u8], writer: W, binary: bool) -> u64 {
    let mut pipeline = Pipeline::new(QueryDecoder::new(true, true), writer);
    pipeline.binary_rows(binary);
    let mut sink = NullSink(0);
    let mut framer = framer();
    let used = pump(&mut framer, &mut pipeline, input, &mut sink).expect("valid stream");
    assert_eq!(used, input.len());
    pipeline.finish(&mut sink, false).expect("rows");
    sink.0
}

fn decode_only(input: &[u8]) -> u64 {
    let mut framer = framer();
    let mut decoder = QueryDecoder::new(true, true);
    let (mut pos, mut fields) = (0, 0u64);
    while let Decoded::Packet { payload, consumed } = framer.decode(&input[pos..]).expect("valid") {
        pos += consumed;
        if let Event::Row(row) = decoder.feed(payload).expect("valid") {
            fields += row.iter().filter(Option::is_some).count() as u64;
        }
    }
    fields
}

fn benches(c: &mut Criterion) {
    let input = mixed_response(ROWS, true);
    let opts = FormatOptions::default();
    let pretty = FormatOptions {
        pretty: true,
        ..FormatOptions::default()
    };

    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.bench_function("mixed_100k", |b| b.iter(|| decode_only(black_box(&input))));
    g.finish();

    let mut g = c.benchmark_group("decode+write");
    let csv_len = run(&input, DelimitedWriter::csv(&opts));
    g.throughput(Throughput::Bytes(csv_len));
    g.bench_function("csv", |b| {
        b.iter(|| run(black_box(&input), DelimitedWriter::csv(&opts)))
    });
    let tsv_len = run(&input, DelimitedWriter::tsv(&opts));
    g.throughput(Throughput::Bytes(tsv_len));
    g.bench_function("tsv", |b| {
        b.iter(|| run(black_box(&input), DelimitedWriter::tsv(&opts)))
    });
    let json_len = run(&input, JsonWriter::new(&opts));
    g.throughput(Throughput::Bytes(json_len));
    g.bench_function("json", |b| {
        b.iter(|| run(black_box(&input), JsonWriter::new(&opts)))
    });
    let ndjson_len = run(&input, JsonWriter::ndjson(&opts));
    g.throughput(Throughput::Bytes(ndjson_len));
    g.bench_function("ndjson", |b| {
        b.iter(|| run(black_box(&input), JsonWriter::ndjson(&opts)))
    });
    let pretty_len = run(&input, JsonWriter::new(&pretty));
    g.throughput(Throughput::Bytes(pretty_len));
    g.bench_function("json_pretty", |b| {
        b.iter(|| run(black_box(&input), JsonWriter::new(&pretty)))
    });
    g.finish();

    // Row groups of the default size: 100,000 rows make about three.
    let mut g = c.benchmark_group("decode+parquet");
    g.throughput(Throughput::Bytes(input.len() as u64));
    for (name, compression) in [
        ("zstd", ParquetCompression::Zstd),
        ("snappy", ParquetCompression::Snappy),
        ("none", ParquetCompression::None),
    ] {
        let options = ParquetOptions {
            compression,
            ..ParquetOptions::default()
        };
        g.bench_function(name, |b| {
            b.iter(|| run(black_box(&input), ParquetWriter::new(&options)))
        });
    }
    g.finish();

    // The same values as a prepared statement's binary rows: decode + transcode + write.
    let binary = mixed_binary_response(ROWS, true);
    let mut g = c.benchmark_group("binary decode+transcode+write");
    let csv_len = run_rows(&binary, DelimitedWriter::csv(&opts), true);
    g.throughput(Throughput::Bytes(csv_len));
    g.bench_function("csv", |b| {
        b.iter(|| run_rows(black_box(&binary), DelimitedWriter::csv(&opts), true))
    });
    let json_len = run_rows(&binary, JsonWriter::new(&opts), true);
    g.throughput(Throughput::Bytes(json_len));
    g.bench_function("json", |b| {
        b.iter(|| run_rows(black_box(&binary), JsonWriter::new(&opts), true))
    });
    g.finish();
}

criterion_group!(pipeline, benches);
criterion_main!(pipeline);
