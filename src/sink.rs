//! Where output goes: a temporary file renamed into place on success, stdout,
//! or a device or pipe that already exists (written directly).

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
    /// An existing character device, FIFO or socket (`/dev/null`, a named
    /// pipe): written in place, since renaming a file over it would replace
    /// the device node itself.
    Device {
        /// The open device.
        file: File,
        /// Its path, for error messages.
        path: PathBuf,
    },
}

impl Sink {
    /// Opens the sink for `path` (`-` is stdout). For a file this creates the
    /// temporary file now, so an unwritable directory fails before connecting.
    pub fn open(path: &Path) -> Result<Self, Error> {
        if path.as_os_str() == "-" {
            return Ok(Self::Stdout(io::stdout()));
        }
        // metadata() follows symlinks: a link to /dev/null is a device too.
        match fs::metadata(path) {
            Ok(m) if !m.is_file() && !m.is_dir() => OpenOptions::new()
                .write(true)
                .open(path)
                .map(|file| Self::Device {
                    file,
                    path: path.to_path_buf(),
                })
                .map_err(|source| Error::Output {
                    path: path.to_path_buf(),
                    source,
                }),
            _ => AtomicFile::create(&resolve_symlink(path)).map(Self::File),
        }
    }

    /// Writes a whole block.
    #[inline]
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let result = match self {
            Self::Stdout(s) => s.lock().write_all(bytes),
            Self::File(f) => f.file.write_all(bytes),
            Self::Device { file, .. } => file.write_all(bytes),
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
            // Nothing to sync or rename: the bytes are with the device or reader.
            Self::Device { .. } => Ok(()),
        }
    }

    #[cold]
    fn error(&self, source: io::Error) -> Error {
        let path = match self {
            Self::Stdout(_) => PathBuf::from("-"),
            Self::File(f) => f.target.clone(),
            Self::Device { path, .. } => path.clone(),
        };
        Error::Output { path, source }
    }
}

/// Where a symlinked target really is: the rename must replace the file the
/// link points to, not the link. A dangling or unreadable link is kept as the
/// target (the rename then replaces the link, as writing a new file would).
fn resolve_symlink(path: &Path) -> PathBuf {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
        }
        _ => path.to_path_buf(),
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
    fn a_device_is_written_in_place_and_stays_a_device() {
        use std::os::unix::fs::FileTypeExt;
        let mut s = Sink::open(Path::new("/dev/null")).unwrap();
        assert!(matches!(s, Sink::Device { .. }));
        s.write_all(b"discarded").unwrap();
        s.commit().unwrap();
        assert!(
            fs::metadata("/dev/null")
                .unwrap()
                .file_type()
                .is_char_device()
        );
    }

    #[test]
    fn a_symlinked_target_keeps_its_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.csv");
        let link = dir.path().join("link.csv");
        fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let mut s = Sink::open(&link).unwrap();
        s.write_all(b"new").unwrap();
        s.commit().unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&real).unwrap(), b"new");
        assert_eq!(listing(dir.path()), ["link.csv", "real.csv"]);
    }

    #[test]
    fn a_fifo_receives_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read(fifo).unwrap())
        };
        let mut s = Sink::open(&fifo).unwrap();
        s.write_all(b"through the pipe").unwrap();
        s.commit().unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert_eq!(listing(dir.path()), ["pipe"]);
    }

    #[test]
    fn unwritable_places_fail_at_open() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Sink::open(&dir.path().join("missing/out.csv")).is_err());
        assert!(Sink::open(dir.path()).is_err());
    }
}
