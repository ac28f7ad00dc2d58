//! Where output goes: a temporary file renamed into place on success, or stdout.

use crate::error::Error;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The destination of an export.
#[derive(Debug)]
pub enum Sink {
    /// Standard output; cannot be made atomic, the exit code is the signal.
    Stdout(io::Stdout),
    /// A temporary file beside the target.
    File(AtomicFile),
}

impl Sink {
    /// Opens the sink for `path` (`-` is stdout). For a file this creates the
    /// temporary file now, so an unwritable directory fails before connecting.
    pub fn open(path: &Path) -> Result<Self, Error> {
        if path.as_os_str() == "-" {
            Ok(Self::Stdout(io::stdout()))
        } else {
            AtomicFile::create(path).map(Self::File)
        }
    }

    /// Writes a whole block.
    #[inline]
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let result = match self {
            Self::Stdout(s) => s.lock().write_all(bytes),
            Self::File(f) => f.file.write_all(bytes),
        };
        result.map_err(|source| self.error(source))
    }

    /// Makes the output final: flush stdout, or fsync and rename the file.
    pub fn commit(self) -> Result<(), Error> {
        match self {
            Self::Stdout(s) => s.lock().flush().map_err(|source| Error::Output {
                path: "-".into(),
                source,
            }),
            Self::File(f) => f.commit(),
        }
    }

    #[cold]
    fn error(&self, source: io::Error) -> Error {
        let path = match self {
            Self::Stdout(_) => PathBuf::from("-"),
            Self::File(f) => f.target.clone(),
        };
        Error::Output { path, source }
    }
}

/// A temporary file that replaces `target` only when committed, and is
/// removed when dropped uncommitted (on any error, panic or signal).
#[derive(Debug)]
pub struct AtomicFile {
    file: File,
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl AtomicFile {
    fn create(target: &Path) -> Result<Self, Error> {
        let err = |source| Error::Output {
            path: target.to_path_buf(),
            source,
        };
        let name = target.file_name().ok_or_else(|| {
            err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a file name",
            ))
        })?;
        if target.is_dir() {
            return Err(err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "is a directory",
            )));
        }
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // Hidden, unique per process and attempt, in the target's directory so
        // the final rename stays on one file system.
        let mut attempt = 0u32;
        loop {
            let mut temp_name = std::ffi::OsString::from(".");
            temp_name.push(name);
            temp_name.push(format!(".gd-tmp-{}-{attempt}", std::process::id()));
            let temp = dir.join(temp_name);
            match OpenOptions::new().write(true).create_new(true).open(&temp) {
                Ok(file) => {
                    return Ok(Self {
                        file,
                        temp,
                        target: target.to_path_buf(),
                        committed: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
                Err(e) => return Err(err(e)),
            }
        }
    }

    fn commit(mut self) -> Result<(), Error> {
        let err = |source| Error::Output {
            path: self.target.clone(),
            source,
        };
        self.file.sync_all().map_err(err)?;
        fs::rename(&self.temp, &self.target).map_err(err)?;
        self.committed = true;
        // Make the rename itself durable.
        if let Some(dir) = self.target.parent().filter(|p| !p.as_os_str().is_empty())
            && let Ok(d) = File::open(dir)
        {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn commit_replaces_target_and_drop_leaves_it() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        fs::write(&target, "old").unwrap();

        let mut s = Sink::open(&target).unwrap();
        s.write_all(b"new").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"old");
        drop(s);
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert_eq!(listing(dir.path()), ["out.csv"]);

        let mut s = Sink::open(&target).unwrap();
        s.write_all(b"new").unwrap();
        s.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(listing(dir.path()), ["out.csv"]);
    }

    #[test]
    fn unwritable_places_fail_at_open() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Sink::open(&dir.path().join("missing/out.csv")).is_err());
        assert!(Sink::open(dir.path()).is_err());
    }
}
