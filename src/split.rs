//! Split output (`--max-rows-per-file`, `--max-file-size`): the export
//! written as `NAME-00001.csv`, `NAME-00002.csv`, … each a complete file.
//!
//! The writer cuts the output at a row boundary: it finishes the current
//! file's document (`RowWriter::finish`), the rest of the output goes to
//! that file, the compressor (if any) writes its trailer, and the next file
//! starts with `RowWriter::begin`. [`Cutter`] decides where, [`Parts`]
//! switches the files.
//!
//! Every part is written to its own temporary file, fsynced and closed
//! when the next one starts; all of them are renamed into place only once
//! the whole export succeeded, and every one is removed on any failure
//! (the temporary files are owned by values whose `Drop` removes them, as
//! for one file). Files of an earlier export with the same pattern are
//! refused unless `--force`, and then removed after the new set is in
//! place, so that no stale part is taken for part of this export.

use crate::compress::{Compression, Destination, Method};
use crate::error::Error;
use crate::export::{BlockSink, FLUSH_AT};
use crate::sink::{AtomicFile, ClosedFile, Sink};
use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// Digits of a part number: five, more only when an export has more than
/// 99999 parts, and then every part of it has the same number of digits,
/// so that names sort in row order.
pub const PART_DIGITS: usize = 5;

/// With a size limit on compressed output, the text is handed to the
/// compressor in blocks this large instead of [`FLUSH_AT`], so that the
/// compressed size the limit is checked against trails the rows by less.
const COMPRESSED_SPLIT_BLOCK: usize = 16 * 1024;

/// Where a split export cuts its files; at least one is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SplitLimits {
    /// Rows per file, exactly (the last file has the rest).
    pub max_rows: Option<u64>,
    /// A new file starts at the first row boundary where the current file
    /// holds this many bytes (after compression).
    pub max_bytes: Option<u64>,
}

/// The name of part `number` of `output`: the number goes before the
/// format extension and a `.gz`/`.zst` suffix (`out.csv.zst` →
/// `out-00001.csv.zst`, `out` → `out-00001`), zero-padded to `width`.
pub fn part_path(output: &Path, number: u64, width: usize) -> PathBuf {
    let name = output.file_name().unwrap_or_default().as_bytes();
    let (stem, tail) = name.split_at(tail_start(name));
    let mut part = stem.to_vec();
    part.extend_from_slice(format!("-{number:0width$}").as_bytes());
    part.extend_from_slice(tail);
    output.with_file_name(OsString::from_vec(part))
}

/// The digits the parts of an export of `parts` files are numbered with.
pub fn part_digits(parts: u64) -> usize {
    PART_DIGITS.max(parts.to_string().len())
}

/// Where the extensions the part number goes before start: the format
/// extension and a compression suffix after it, or the end of the name.
/// A leading dot (`.hidden`) does not start an extension.
fn tail_start(name: &[u8]) -> usize {
    let extension = |end: usize| {
        name[..end]
            .iter()
            .rposition(|&b| b == b'.')
            .filter(|&i| i > 0)
    };
    let mut end = name.len();
    if let Some(dot) = extension(end) {
        let ext = &name[dot + 1..];
        if ext.eq_ignore_ascii_case(b"gz") || ext.eq_ignore_ascii_case(b"zst") {
            end = dot;
        }
    }
    extension(end).unwrap_or(end)
}

/// Whether `name` is a part name of `output` of any width (five digits or
/// more): a file of this export or of an earlier one. Returns the digits.
fn part_number<'a>(output_name: &[u8], name: &'a [u8]) -> Option<&'a [u8]> {
    let (stem, tail) = output_name.split_at(tail_start(output_name));
    let digits = name
        .strip_prefix(stem)?
        .strip_prefix(b"-")?
        .strip_suffix(tail)?;
    (digits.len() >= PART_DIGITS && digits.iter().all(u8::is_ascii_digit)).then_some(digits)
}

/// The directory `output` is in (`.` for a bare name).
fn directory(output: &Path) -> &Path {
    match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The part files of `output` present in its directory, in name order.
fn existing_parts(output: &Path) -> Vec<PathBuf> {
    let Some(output_name) = output.file_name() else {
        return Vec::new();
    };
    // An unreadable directory shows up when the first part is created.
    let Ok(entries) = fs::read_dir(directory(output)) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| part_number(output_name.as_bytes(), e.file_name().as_bytes()).is_some())
        .map(|e| output.with_file_name(e.file_name()))
        .collect();
    found.sort();
    found
}

/// Decides, row by row, when the current file is full. Kept by the
/// export loop beside its writer.
#[derive(Debug, Clone)]
pub struct Cutter {
    max_rows: u64,
    max_bytes: u64,
    /// Rows in the current file.
    rows: u64,
    /// Bytes in the current file as of the last block handed over.
    written: u64,
    /// Whether the output buffer's pending bytes count as they are (plain
    /// output), or only once compressed.
    plain: bool,
    /// The block size the export loop hands its output over in.
    block: usize,
}

impl Cutter {
    /// A cutter for `limits`; `compressed`: the sink compresses, so its
    /// file bytes are known only once the compressor emitted them.
    pub fn new(limits: SplitLimits, compressed: bool) -> Self {
        Self {
            max_rows: limits.max_rows.unwrap_or(u64::MAX),
            max_bytes: limits.max_bytes.unwrap_or(u64::MAX),
            rows: 0,
            written: 0,
            plain: !compressed,
            block: if compressed && limits.max_bytes.is_some() {
                COMPRESSED_SPLIT_BLOCK
            } else {
                FLUSH_AT
            },
        }
    }

    /// The block size the export loop hands its output over in.
    pub fn block(&self) -> usize {
        self.block
    }

    /// After a row: whether the file is full, so that the next row, if any,
    /// starts a new one. `flushed`: whether a block went to `sink` with
    /// this row; `pending`: the output bytes not yet handed over.
    #[inline]
    pub fn after_row(&mut self, flushed: bool, pending: usize, sink: &impl BlockSink) -> bool {
        self.rows += 1;
        if flushed {
            self.written = sink.file_bytes();
        }
        let pending = if self.plain { pending as u64 } else { 0 };
        self.rows >= self.max_rows || self.written + pending >= self.max_bytes
    }

    /// A new file started.
    pub fn reset(&mut self) {
        self.rows = 0;
        self.written = 0;
    }
}

/// The destination of an export: one file (or stdout, or a device), or
/// numbered parts.
#[derive(Debug)]
pub enum Target {
    /// One output.
    One(Destination),
    /// Split output.
    Parts(Box<Parts>),
}

impl Target {
    /// Opens the configured output (both export paths open it before
    /// connecting, so that an unwritable path fails first).
    pub fn for_config(config: &crate::config::Config) -> Result<Self, Error> {
        Self::open(
            &config.output,
            config.force,
            config.compression,
            config.split,
        )
    }

    /// Opens the output: parts when `split` is set (see [`Parts::open`]),
    /// else as [`Destination::open`].
    pub fn open(
        output: &Path,
        force: bool,
        compression: Compression,
        split: Option<SplitLimits>,
    ) -> Result<Self, Error> {
        Ok(match split {
            None => Self::One(Destination::open(output, force, compression)?),
            Some(limits) => Self::Parts(Box::new(Parts::open(output, force, compression, limits)?)),
        })
    }

    /// The cutter for the export loop; `None` for one output.
    pub fn cutter(&self) -> Option<Cutter> {
        match self {
            Self::One(_) => None,
            Self::Parts(p) => Some(Cutter::new(p.limits, p.compression.method != Method::None)),
        }
    }

    /// Makes the output final; returns the number of parts of a split
    /// export.
    pub fn commit(self) -> Result<Option<u64>, Error> {
        match self {
            Self::One(d) => d.commit().map(|()| None),
            Self::Parts(p) => p.commit().map(Some),
        }
    }
}

impl BlockSink for Target {
    #[inline]
    fn write_block(&mut self, block: &[u8]) -> Result<(), Error> {
        match self {
            Self::One(d) => d.write_block(block),
            Self::Parts(p) => p.write_block(block),
        }
    }

    fn next_file(&mut self) -> Result<(), Error> {
        match self {
            Self::One(_) => Err(Error::usage("this output is one file and cannot be split")),
            Self::Parts(p) => p.next_file(),
        }
    }

    #[inline]
    fn file_bytes(&self) -> u64 {
        match self {
            Self::One(_) => 0,
            Self::Parts(p) => p.file_bytes(),
        }
    }
}

/// The files of a split export: the one being written and the finished
/// ones waiting for their rename.
#[derive(Debug)]
pub struct Parts {
    /// The output name the parts are named after.
    output: PathBuf,
    force: bool,
    compression: Compression,
    limits: SplitLimits,
    /// The part being written.
    current: Destination,
    /// Bytes written to the current part (plain output; compressed output
    /// asks the compressor).
    written: u64,
    /// The finished parts, in order.
    done: Vec<ClosedFile>,
}

impl Parts {
    /// Creates the first part. Refuses stdout and devices (there is no file
    /// name to number), and, unless `force`, an output whose part names are
    /// taken by files of an earlier export.
    pub fn open(
        output: &Path,
        force: bool,
        compression: Compression,
        limits: SplitLimits,
    ) -> Result<Self, Error> {
        if output.as_os_str() == "-" {
            return Err(stdout_refused());
        }
        if let Ok(m) = fs::metadata(output)
            && !m.is_file()
        {
            return Err(Error::usage(format!(
                "--max-rows-per-file and --max-file-size write numbered files named after the \
                 output, but {} is not a regular file (a directory or a device); give a file \
                 name such as {}",
                output.display(),
                output.join("out.csv").display()
            )));
        }
        let existing = existing_parts(output);
        if let (Some(first), false) = (existing.first(), force) {
            return Err(Error::PartsExist {
                first: first.clone(),
                count: existing.len(),
            });
        }
        let current = open_part(output, 1, force, compression)?;
        Ok(Self {
            output: output.to_path_buf(),
            force,
            compression,
            limits,
            current,
            written: 0,
            done: Vec::new(),
        })
    }

    fn write_block(&mut self, block: &[u8]) -> Result<(), Error> {
        self.written += block.len() as u64;
        self.current.write_block(block)
    }

    fn file_bytes(&self) -> u64 {
        self.current.compressed_bytes().unwrap_or(self.written)
    }

    /// Ends the current part (the writer finished its document and handed
    /// over every byte of it) and starts the next.
    fn next_file(&mut self) -> Result<(), Error> {
        let number = self.done.len() as u64 + 2;
        let next = open_part(&self.output, number, self.force, self.compression)?;
        let finished = std::mem::replace(&mut self.current, next);
        self.done.push(close(finished)?);
        self.written = 0;
        Ok(())
    }

    /// Closes the last part, renames all of them into place and, with
    /// `--force`, removes the parts of an earlier export that this one did
    /// not replace. Returns the number of parts.
    fn commit(self) -> Result<u64, Error> {
        let Self {
            output,
            current,
            mut done,
            ..
        } = self;
        done.push(close(current)?);
        let parts = done.len() as u64;
        let digits = part_digits(parts);
        let mut renamed = Vec::with_capacity(done.len());
        for (i, mut part) in done.into_iter().enumerate() {
            let target = if digits == PART_DIGITS {
                part.target().to_path_buf()
            } else {
                part_path(&output, i as u64 + 1, digits)
            };
            if let Err(e) = part.rename_to(&target) {
                // No half set: the parts already in place go too (the rest
                // are removed as they are dropped).
                for part in renamed {
                    ClosedFile::remove(part);
                }
                return Err(e);
            }
            renamed.push(part);
        }
        let dir = directory(&output);
        crate::sink::sync_dir(dir);
        remove_stale(&output, parts, digits);
        crate::sink::sync_dir(dir);
        Ok(parts)
    }
}

/// Removes every part file of `output` that is not one of this export's
/// `parts` parts of `digits` digits: parts of an earlier, longer export
/// (present only with `--force`, or created meanwhile by another run).
fn remove_stale(output: &Path, parts: u64, digits: usize) {
    let Some(output_name) = output.file_name() else {
        return;
    };
    for path in existing_parts(output) {
        let name = path.file_name().unwrap_or_default();
        let ours = part_number(output_name.as_bytes(), name.as_bytes()).is_some_and(|d| {
            d.len() == digits
                && std::str::from_utf8(d)
                    .ok()
                    .and_then(|d| d.parse::<u64>().ok())
                    .is_some_and(|n| (1..=parts).contains(&n))
        });
        if ours {
            continue;
        }
        match fs::remove_file(&path) {
            Ok(()) => tracing::info!("removed {}, a part of an earlier export", path.display()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(
                "cannot remove {}, a part of an earlier export ({e}): remove it before reading \
                 the parts of this one",
                path.display()
            ),
        }
    }
}

/// Creates the temporary file of part `number`.
fn open_part(
    output: &Path,
    number: u64,
    force: bool,
    compression: Compression,
) -> Result<Destination, Error> {
    let path = part_path(output, number, PART_DIGITS);
    let file = AtomicFile::create(&path, force)?;
    Destination::new(Sink::File(file), compression)
}

/// Writes the compressor's trailer, makes the part durable and closes it.
fn close(part: Destination) -> Result<ClosedFile, Error> {
    match part.finish()? {
        Sink::File(file) => file.close(),
        // Parts are only ever created as files (open_part).
        Sink::Stdout(_) | Sink::Device { .. } => Err(stdout_refused()),
    }
}

#[cold]
fn stdout_refused() -> Error {
    Error::usage(
        "--max-rows-per-file and --max-file-size write numbered files and cannot go to stdout: \
         give --output FILE",
    )
}

/// The name of the output as shown for a split export: its first and last
/// part.
pub fn describe(output: &Path, parts: u64) -> String {
    let digits = part_digits(parts);
    let first = part_path(output, 1, digits);
    if parts == 1 {
        format!("1 file, {}", first.display())
    } else {
        format!(
            "{parts} files, {} to {}",
            first.display(),
            part_path(output, parts, digits).display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(output: &str, n: u64) -> String {
        part_path(Path::new(output), n, part_digits(n))
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn the_number_goes_before_the_format_extension_and_the_suffix() {
        assert_eq!(name("out.csv", 1), "out-00001.csv");
        assert_eq!(name("dir/out.csv.zst", 2), "dir/out-00002.csv.zst");
        assert_eq!(name("out.JSON.GZ", 3), "out-00003.JSON.GZ");
        assert_eq!(name("out", 4), "out-00004");
        assert_eq!(name("out.zst", 5), "out-00005.zst");
        assert_eq!(name("a.b.ndjson", 6), "a.b-00006.ndjson");
        assert_eq!(name(".hidden", 7), ".hidden-00007");
        assert_eq!(name("out.csv", 99_999), "out-99999.csv");
        assert_eq!(name("out.csv", 100_000), "out-100000.csv");
        assert_eq!(
            part_path(Path::new("out.csv"), 7, part_digits(100_000)),
            Path::new("out-000007.csv")
        );
    }

    #[test]
    fn names_sort_in_part_order_at_every_width() {
        for parts in [12, 99_999, 100_000, 1_234_567] {
            let digits = part_digits(parts);
            let names: Vec<PathBuf> = [1, 2, 10, parts - 1, parts]
                .iter()
                .map(|&n| part_path(Path::new("x.csv"), n, digits))
                .collect();
            assert!(names.is_sorted(), "{names:?}");
        }
    }

    #[test]
    fn part_names_of_any_width_are_recognised_and_nothing_else() {
        let m = |out: &str, n: &str| part_number(out.as_bytes(), n.as_bytes()).is_some();
        assert!(m("out.csv", "out-00001.csv"));
        assert!(m("out.csv", "out-123456.csv"));
        assert!(m("out.csv.gz", "out-00007.csv.gz"));
        assert!(m("out", "out-00001"));
        assert!(!m("out.csv", "out.csv"));
        assert!(!m("out.csv", "out-0001.csv"));
        assert!(!m("out.csv", "out-00001.csv.gz"));
        assert!(!m("out.csv", "out-00001.tsv"));
        assert!(!m("out.csv", "out-0000a.csv"));
        assert!(!m("out.csv", "other-00001.csv"));
        assert!(!m("out", "out-00001.csv"));
        assert!(!m("out.csv", ".out-00001.csv.gd-tmp-1-0"));
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn limits() -> SplitLimits {
        SplitLimits {
            max_rows: Some(1),
            max_bytes: None,
        }
    }

    #[test]
    fn parts_appear_only_on_commit_and_vanish_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.csv");
        let mut parts = Parts::open(&out, false, Compression::NONE, limits()).unwrap();
        parts.write_block(b"a\n").unwrap();
        parts.next_file().unwrap();
        parts.write_block(b"b\n").unwrap();
        assert!(listing(dir.path()).iter().all(|n| n.contains(".gd-tmp-")));
        drop(parts);
        assert_eq!(listing(dir.path()), Vec::<String>::new());

        let mut parts = Parts::open(&out, false, Compression::NONE, limits()).unwrap();
        parts.write_block(b"a\n").unwrap();
        parts.next_file().unwrap();
        parts.write_block(b"b\n").unwrap();
        assert_eq!(parts.commit().unwrap(), 2);
        assert_eq!(listing(dir.path()), ["x-00001.csv", "x-00002.csv"]);
        assert_eq!(fs::read(dir.path().join("x-00002.csv")).unwrap(), b"b\n");
    }

    #[test]
    fn earlier_parts_are_refused_and_with_force_replaced_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.csv");
        for name in ["x-00001.csv", "x-00002.csv", "x-00003.csv", "x-100000.csv"] {
            fs::write(dir.path().join(name), "old").unwrap();
        }
        fs::write(dir.path().join("x.csv"), "unsplit").unwrap();
        let e = Parts::open(&out, false, Compression::NONE, limits()).unwrap_err();
        assert_eq!(e.exit_code(), 5);
        assert!(e.to_string().contains("x-00001.csv and 3 more"), "{e}");

        let mut parts = Parts::open(&out, true, Compression::NONE, limits()).unwrap();
        parts.write_block(b"new\n").unwrap();
        assert_eq!(parts.commit().unwrap(), 1);
        assert_eq!(listing(dir.path()), ["x-00001.csv", "x.csv"]);
        assert_eq!(fs::read(dir.path().join("x-00001.csv")).unwrap(), b"new\n");
        assert_eq!(fs::read(dir.path().join("x.csv")).unwrap(), b"unsplit");
    }

    #[test]
    fn stdout_and_directories_are_refused() {
        let e = Parts::open(Path::new("-"), false, Compression::NONE, limits()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let dir = tempfile::tempdir().unwrap();
        let e = Parts::open(dir.path(), false, Compression::NONE, limits()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }
}
