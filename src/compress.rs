//! The encoder stage: compressed output (`.gz`, `.zst`, `--compress`).
//!
//! It sits between the export's output buffer and the [`Sink`]: it sees
//! the writer's 2 MiB blocks, never a row, and hands the sink whole
//! [`FLUSH_AT`] blocks of compressed bytes from an aligned buffer (the
//! export's own [`Output`]), so that the file is still written with
//! `O_DIRECT`; only the last block is shorter. Memory is the compressor's
//! state plus that buffer, flat in the row count. On success
//! [`Destination::commit`] writes the compressor's trailer before the sink
//! renames the file into place; on any failure the sink is dropped
//! unfinished, which removes the temporary file.
//!
//! The compressor runs on the export thread. A second thread fed through a
//! bounded queue of blocks (commit b7bdb80) did not pay enough: on 1 M rows
//! of `bench.mixed`, nine alternating runs, zstd at levels 1 and 3 took the
//! same wall time either way (the server's thread is the bottleneck), gzip 4
//! about 8 % less in the quiet runs, for 4 MiB more peak RSS. All it can
//! save is the export thread's own work (0.24 CPU-s per million rows).

use crate::error::Error;
use crate::export::{BlockSink, FLUSH_AT, Output};
use crate::sink::Sink;
use std::ffi::OsStr;
use std::io::{self, Write};
use std::path::Path;

/// Default gzip level. On 1 M rows of `bench.mixed` (268 MB of CSV,
/// zlib-rs, medians of five runs) level 4 took 2.41 CPU-s for 83.1 MB,
/// level 6 (gzip's own default) 3.48 CPU-s for 82.3 MB, level 1 1.24 CPU-s
/// for 122.9 MB: 4 costs 30 % less than 6 for 1 % more bytes.
pub const DEFAULT_GZIP_LEVEL: i32 = 4;
/// Default zstd level. On the same export level 1 took 0.87 client CPU-s
/// for 85.7 MB, level 3 (zstd's own default) 1.49 CPU-s for 85.2 MB: 1
/// keeps pace with the server's thread and stays under half the `mariadb`
/// client's CPU (the target); 3 does neither, for 0.6 % fewer bytes.
pub const DEFAULT_ZSTD_LEVEL: i32 = 1;

/// A compression method, as `--compress` names it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Plain text.
    None,
    /// gzip (RFC 1952), read by `gzip -d`, `zcat` and most loaders.
    Gzip,
    /// Zstandard, read by `zstd -d`.
    Zstd,
}

impl Method {
    /// The file name suffix that implies this method.
    pub fn suffix(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Gzip => ".gz",
            Self::Zstd => ".zst",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
        }
    }

    /// The levels accepted, and the default.
    fn levels(self) -> (std::ops::RangeInclusive<i32>, i32) {
        match self {
            Self::None => (0..=0, 0),
            Self::Gzip => (1..=9, DEFAULT_GZIP_LEVEL),
            Self::Zstd => (1..=19, DEFAULT_ZSTD_LEVEL),
        }
    }
}

/// The method a file name's last extension implies: `.gz` gzip, `.zst`
/// zstd (any case), else none.
fn suffix_method(path: &Path) -> Option<Method> {
    let ext = path.extension()?.to_str()?;
    if ext.eq_ignore_ascii_case("gz") {
        Some(Method::Gzip)
    } else if ext.eq_ignore_ascii_case("zst") {
        Some(Method::Zstd)
    } else {
        None
    }
}

/// The extension that decides the format: the one before a `.gz` or
/// `.zst` suffix (`out.csv.zst` → `csv`), else the last one.
pub fn format_extension(path: &Path) -> Option<&OsStr> {
    match suffix_method(path) {
        Some(_) => Path::new(path.file_stem()?).extension(),
        None => path.extension(),
    }
}

/// How the output is compressed, validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Compression {
    /// The method.
    pub method: Method,
    /// Its level (0 for none).
    pub level: i32,
}

impl Compression {
    /// Plain output.
    pub const NONE: Self = Self {
        method: Method::None,
        level: 0,
    };

    /// Decides the compression from the output name's suffix, `--compress`
    /// and `--compress-level`. A suffix that contradicts `--compress` is a
    /// usage error: a file whose name lies about its content (plain text in
    /// `x.csv.gz`, zstd in `x.csv.gz`) is worse than no file. Stdout and
    /// names without a suffix take `--compress` (default none).
    pub fn resolve(output: &Path, flag: Option<Method>, level: Option<i32>) -> Result<Self, Error> {
        let suffix = if output.as_os_str() == "-" {
            None
        } else {
            suffix_method(output)
        };
        let method = match (suffix, flag) {
            (Some(s), Some(f)) if s != f => {
                return Err(Error::usage(format!(
                    "the output name {} says {}, but --compress {} was given: drop --compress, \
                     or name the output for what it holds{}",
                    output.display(),
                    s.name(),
                    f.name(),
                    match f {
                        Method::None => " (without the suffix)".to_string(),
                        _ => format!(" (ending in {})", f.suffix()),
                    }
                )));
            }
            (Some(s), _) => s,
            (None, Some(f)) => f,
            (None, None) => Method::None,
        };
        let (range, default) = method.levels();
        let level = match level {
            None => default,
            Some(_) if method == Method::None => {
                return Err(Error::usage(
                    "--compress-level needs compression: --compress gzip|zstd, or an output \
                     name ending in .gz or .zst",
                ));
            }
            Some(n) if range.contains(&n) => n,
            Some(n) => {
                return Err(Error::usage(format!(
                    "--compress-level {n} is out of range for {}: use {} to {} (default {default})",
                    method.name(),
                    range.start(),
                    range.end()
                )));
            }
        };
        Ok(Self { method, level })
    }
}

/// Where an export's blocks go: straight to the sink, or through the
/// compressor.
#[derive(Debug)]
pub enum Destination {
    /// Uncompressed.
    Plain(Sink),
    /// Compressed (boxed: the compressor's state is large, and the enum is
    /// moved around by value).
    Compressed(Box<Encoder<Sink>>),
}

impl Destination {
    /// Opens the sink for `path` (see [`Sink::open`]) behind the encoder
    /// `compression` asks for.
    pub fn open(path: &Path, force: bool, compression: Compression) -> Result<Self, Error> {
        Self::new(Sink::open(path, force)?, compression)
    }

    /// `sink` behind the encoder `compression` asks for.
    pub fn new(sink: Sink, compression: Compression) -> Result<Self, Error> {
        Ok(match compression.method {
            Method::None => Self::Plain(sink),
            _ => Self::Compressed(Box::new(Encoder::new(compression, sink)?)),
        })
    }

    /// Writes the compressor's trailer, if any, then makes the output
    /// final (fsync and rename, or flush stdout).
    pub fn commit(self) -> Result<(), Error> {
        self.finish()?.commit()
    }

    /// Writes the compressor's trailer, if any, and returns the sink,
    /// complete but not yet committed.
    pub fn finish(self) -> Result<Sink, Error> {
        match self {
            Self::Plain(sink) => Ok(sink),
            Self::Compressed(encoder) => encoder.finish(),
        }
    }

    /// Compressed bytes the compressor has produced so far (handed to the
    /// sink or waiting for a whole block); `None` for plain output, whose
    /// caller counts what it writes.
    #[inline]
    pub fn compressed_bytes(&self) -> Option<u64> {
        match self {
            Self::Plain(_) => None,
            Self::Compressed(encoder) => Some(encoder.produced()),
        }
    }
}

impl BlockSink for Destination {
    #[inline]
    fn write_block(&mut self, block: &[u8]) -> Result<(), Error> {
        match self {
            Self::Plain(sink) => sink.write_block(block),
            Self::Compressed(encoder) => encoder.write_block(block),
        }
    }
}

/// The compressed side: the export's aligned [`Output`], which the
/// compressor appends to.
#[derive(Debug)]
struct Compressed(Output);

impl Write for Compressed {
    #[inline]
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Codec {
    Gzip(flate2::write::GzEncoder<Compressed>),
    Zstd(zstd::stream::write::Encoder<'static, Compressed>),
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Gzip(_) => "Gzip",
            Self::Zstd(_) => "Zstd",
        })
    }
}

/// Compresses blocks on the calling thread and hands whole aligned
/// [`FLUSH_AT`] blocks of the result to `S`.
#[derive(Debug)]
pub struct Encoder<S> {
    codec: Codec,
    sink: S,
    /// Compressed bytes handed to the sink.
    emitted: u64,
}

impl<S: BlockSink> Encoder<S> {
    /// A compressor for `compression` (not [`Method::None`]) in front of `sink`.
    pub fn new(compression: Compression, sink: S) -> Result<Self, Error> {
        let out = Compressed(Output::new(FLUSH_AT + FLUSH_AT / 4));
        let codec = match compression.method {
            Method::Gzip => Codec::Gzip(flate2::write::GzEncoder::new(
                out,
                flate2::Compression::new(compression.level.unsigned_abs()),
            )),
            Method::None => {
                return Err(compress_error(
                    Method::None,
                    io::Error::new(io::ErrorKind::InvalidInput, "no compression method"),
                ));
            }
            Method::Zstd => {
                let mut encoder = zstd::stream::write::Encoder::new(out, compression.level)
                    .map_err(|e| compress_error(Method::Zstd, e))?;
                // A content checksum, as the zstd tool writes by default:
                // `zstd -d` then detects a corrupted file (gzip has its CRC).
                encoder
                    .include_checksum(true)
                    .map_err(|e| compress_error(Method::Zstd, e))?;
                Codec::Zstd(encoder)
            }
        };
        Ok(Self {
            codec,
            sink,
            emitted: 0,
        })
    }

    /// Compressed bytes produced so far: handed to the sink, or in the
    /// aligned buffer waiting for a whole block. The compressor's own
    /// buffers (input not yet compressed, output not yet handed over) are
    /// not counted: see README "Split files" for how far this trails.
    pub fn produced(&self) -> u64 {
        let pending = match &self.codec {
            Codec::Gzip(e) => e.get_ref().0.pending().len(),
            Codec::Zstd(e) => e.get_ref().0.pending().len(),
        };
        self.emitted + pending as u64
    }

    fn method(&self) -> Method {
        match self.codec {
            Codec::Gzip(_) => Method::Gzip,
            Codec::Zstd(_) => Method::Zstd,
        }
    }

    /// Writes the compressor's trailer and the last, partial block;
    /// returns the sink for the caller to commit.
    pub fn finish(self) -> Result<S, Error> {
        let method = self.method();
        let Self {
            codec, mut sink, ..
        } = self;
        let Compressed(mut out) = match codec {
            Codec::Gzip(e) => e.finish(),
            Codec::Zstd(e) => e.finish(),
        }
        .map_err(|e| compress_error(method, e))?;
        out.flush_whole(FLUSH_AT, &mut sink)?;
        sink.write_block(out.pending())?;
        Ok(sink)
    }
}

impl<S: BlockSink> BlockSink for Encoder<S> {
    fn write_block(&mut self, block: &[u8]) -> Result<(), Error> {
        let method = self.method();
        let out = match &mut self.codec {
            Codec::Gzip(e) => {
                e.write_all(block).map_err(|e| compress_error(method, e))?;
                e.get_mut()
            }
            Codec::Zstd(e) => {
                e.write_all(block).map_err(|e| compress_error(method, e))?;
                e.get_mut()
            }
        };
        self.emitted += out.0.flush_whole(FLUSH_AT, &mut self.sink)? as u64;
        Ok(())
    }
}

#[cold]
fn compress_error(method: Method, source: io::Error) -> Error {
    Error::Compress {
        method: method.name(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::BLOCK_ALIGN;
    use std::io::Read;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Keeps every block, its size and whether it was aligned; can fail
    /// from the `fail_at`-th block on, and says when it is dropped.
    #[derive(Default)]
    struct Collect {
        sizes: Vec<usize>,
        bytes: Vec<u8>,
        misaligned: usize,
        fail_at: Option<usize>,
        dropped: Option<Arc<AtomicBool>>,
    }
    impl BlockSink for Collect {
        fn write_block(&mut self, block: &[u8]) -> Result<(), Error> {
            if self.fail_at.is_some_and(|n| self.sizes.len() >= n) {
                return Err(Error::Output {
                    path: "x.csv.zst".into(),
                    source: io::Error::from_raw_os_error(libc::ENOSPC),
                });
            }
            self.sizes.push(block.len());
            self.bytes.extend_from_slice(block);
            self.misaligned += usize::from(!block.as_ptr().addr().is_multiple_of(BLOCK_ALIGN));
            Ok(())
        }
    }
    impl Drop for Collect {
        fn drop(&mut self) {
            if let Some(flag) = &self.dropped {
                flag.store(true, Ordering::SeqCst);
            }
        }
    }

    /// `len` bytes of CSV-like text, half of it random enough that the
    /// compressed side spans several blocks too.
    fn text(len: usize) -> Vec<u8> {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut out = Vec::with_capacity(len);
        let mut row = 0u64;
        while out.len() < len {
            row += 1;
            out.extend_from_slice(format!("{row},\"name {row}\",").as_bytes());
            for _ in 0..40 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                out.push(b'a' + (x % 26) as u8);
            }
            out.push(b'\n');
        }
        out.truncate(len);
        out
    }

    fn decompress(method: Method, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match method {
            Method::Gzip => {
                flate2::read::GzDecoder::new(bytes)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Method::Zstd => out = zstd::decode_all(bytes).unwrap(),
            Method::None => unreachable!(),
        }
        out
    }

    /// Feeds `input` in export-sized blocks (the last one short).
    fn feed(sink: &mut impl BlockSink, input: &[u8]) {
        for block in input.chunks(FLUSH_AT) {
            sink.write_block(block).unwrap();
        }
    }

    fn check_blocks(sink: &Collect) {
        assert!(sink.sizes.len() >= 3, "{:?}", sink.sizes);
        assert_eq!(
            sink.misaligned, 0,
            "compressed blocks at unaligned addresses"
        );
        let (last, whole) = sink.sizes.split_last().unwrap();
        assert!(
            whole.iter().all(|&n| n > 0 && n % FLUSH_AT == 0),
            "{:?}",
            sink.sizes
        );
        assert!(*last < FLUSH_AT);
    }

    #[test]
    fn encoders_round_trip_in_whole_aligned_blocks() {
        let input = text(12 * FLUSH_AT + 12_345);
        for method in [Method::Gzip, Method::Zstd] {
            let (_, level) = method.levels();
            let c = Compression { method, level };
            let mut encoder = Encoder::new(c, Collect::default()).unwrap();
            feed(&mut encoder, &input);
            let sink = encoder.finish().unwrap();
            check_blocks(&sink);
            assert!(decompress(method, &sink.bytes) == input, "{method:?}");
        }
    }

    #[test]
    fn without_the_trailer_the_stream_does_not_decompress() {
        // The guard for finish(): an unfinished stream must not pass as whole.
        let input = text(3 * FLUSH_AT);
        let c = Compression {
            method: Method::Zstd,
            level: 3,
        };
        let mut e = Encoder::new(c, Collect::default()).unwrap();
        feed(&mut e, &input);
        let Codec::Zstd(z) = &mut e.codec else {
            unreachable!()
        };
        let partial = [e.sink.bytes.as_slice(), z.get_ref().0.pending()].concat();
        assert!(zstd::decode_all(&partial[..]).is_err());
        let finished = e.finish().unwrap();
        assert_eq!(zstd::decode_all(&finished.bytes[..]).unwrap(), input);
    }

    #[test]
    fn a_sink_error_reaches_the_export_and_the_sink_is_dropped() {
        for method in [Method::Gzip, Method::Zstd] {
            let dropped = Arc::new(AtomicBool::new(false));
            let mut sink = Collect::default();
            sink.fail_at = Some(1);
            sink.dropped = Some(dropped.clone());
            let c = Compression { method, level: 1 };
            let mut encoder = Encoder::new(c, sink).unwrap();
            let input = text(40 * FLUSH_AT);
            let err = input
                .chunks(FLUSH_AT)
                .find_map(|b| encoder.write_block(b).err())
                .expect("the sink's error");
            assert!(
                matches!(&err, Error::Output { source, .. } if source.raw_os_error() == Some(libc::ENOSPC)),
                "{err}"
            );
            assert_eq!(err.exit_code(), 5);
            // The export drops its Destination on an error: the temporary file goes with it.
            drop(encoder);
            assert!(dropped.load(Ordering::SeqCst), "{method:?}");
        }
    }

    #[test]
    fn the_suffix_decides_and_a_contradicting_flag_is_a_usage_error() {
        let r = |out: &str, flag, level| Compression::resolve(Path::new(out), flag, level);
        let c = |method, level| Compression { method, level };
        assert_eq!(r("x.csv", None, None).unwrap(), Compression::NONE);
        assert_eq!(r("x.csv.gz", None, None).unwrap(), c(Method::Gzip, 4));
        assert_eq!(r("x.CSV.GZ", None, None).unwrap(), c(Method::Gzip, 4));
        assert_eq!(r("x.json.zst", None, None).unwrap(), c(Method::Zstd, 1));
        assert_eq!(r("x.zst", None, Some(19)).unwrap(), c(Method::Zstd, 19));
        assert_eq!(
            r("x.csv.gz", Some(Method::Gzip), Some(1)).unwrap(),
            c(Method::Gzip, 1)
        );
        assert_eq!(
            r("-", Some(Method::Zstd), None).unwrap(),
            c(Method::Zstd, 1)
        );
        assert_eq!(
            r("x.csv", Some(Method::Gzip), None).unwrap(),
            c(Method::Gzip, 4)
        );
        assert_eq!(r("-", None, None).unwrap(), Compression::NONE);
        for (out, flag, level) in [
            ("x.csv.gz", Some(Method::Zstd), None),
            ("x.csv.zst", Some(Method::None), None),
            ("x.csv", None, Some(3)),
            ("x.csv", Some(Method::None), Some(3)),
            ("x.csv.gz", None, Some(0)),
            ("x.csv.gz", None, Some(10)),
            ("x.csv.zst", None, Some(20)),
            ("-", Some(Method::Zstd), Some(-1)),
        ] {
            let e = r(out, flag, level).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{out} {flag:?} {level:?}: {e}");
        }
        let msg = r("x.csv.gz", Some(Method::Zstd), None)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("says gzip") && msg.contains(".zst"), "{msg}");
    }

    #[test]
    fn the_format_comes_from_the_extension_before_the_suffix() {
        use crate::format::Format;
        let f = |p: &str| Format::from_path(Path::new(p));
        assert_eq!(f("out.csv.zst"), Format::Csv);
        assert_eq!(f("out.json.gz"), Format::Json);
        assert_eq!(f("OUT.JSON.GZ"), Format::Json);
        assert_eq!(f("out.tsv.gz"), Format::Tsv);
        assert_eq!(f("out.gz"), Format::Tsv);
        assert_eq!(f("dir.csv/out.zst"), Format::Tsv);
        assert_eq!(f("out.csv"), Format::Csv);
    }
}
