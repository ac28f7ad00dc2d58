//! Where output goes: a temporary file renamed into place on success, stdout,
//! or a device or pipe that already exists (written directly).
//!
//! The temporary file is written with `O_DIRECT` where the file system
//! allows it: the export's blocks go from our buffer to the device without
//! a copy into the page cache. An export is written once and not read back
//! by us, and it ends with an fsync anyway, so the cache only cost CPU:
//! `dd` of 2.6 GB in 256 KiB blocks took 1.8-2.6 s of system time
//! buffered and 0.8 s direct on this project's machines, and a buffered
//! writer also pays for reclaiming the cache once memory fills up.

use crate::error::Error;
use crate::export::BLOCK_ALIGN;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// How many symbolic links a dangling target may pass through (Linux's
/// own limit for a path lookup).
const MAX_LINK_HOPS: usize = 40;

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
    /// An existing read-only file is refused unless `force` (see
    /// [`AtomicFile`]).
    pub fn open(path: &Path, force: bool) -> Result<Self, Error> {
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
            _ => AtomicFile::create(&resolve_symlink(path)?, force).map(Self::File),
        }
    }

    /// Writes a whole block.
    #[inline]
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let result = match self {
            Self::Stdout(s) => s.lock().write_all(bytes),
            Self::File(f) => f.write_all(bytes),
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
/// link points to, not the link. A dangling link is followed by hand, hop by
/// hop (each relative link from its own directory), to the path where the
/// file it names would be: the new file is created there, and the link then
/// points to it, as writing through the link would do. A loop of links, or
/// a chain longer than [`MAX_LINK_HOPS`], is an error.
fn resolve_symlink(path: &Path) -> Result<PathBuf, Error> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINK_HOPS {
        match fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => check_link_owner(&current, &m)?,
            _ => return Ok(current),
        }
        if let Ok(real) = fs::canonicalize(&current) {
            return Ok(real);
        }
        let next = fs::read_link(&current).map_err(|source| Error::Output {
            path: current.clone(),
            source,
        })?;
        current = match current.parent() {
            Some(dir) if next.is_relative() => dir.join(next),
            _ => next,
        };
    }
    Err(Error::Output {
        path: path.to_path_buf(),
        source: io::Error::from_raw_os_error(libc::ELOOP),
    })
}

/// Refuses to follow a link that the kernel's `fs.protected_symlinks` would
/// not let this process follow: in a sticky, world-writable directory such
/// as /tmp, a link owned by someone else than this process's user and the
/// directory's owner. We resolve links ourselves (to replace the file a
/// link points to), so the kernel's check does not happen by itself, and a
/// root cron job writing `/tmp/report.csv` could otherwise be sent to write
/// any file by a link another user planted there.
fn check_link_owner(link: &Path, meta: &fs::Metadata) -> Result<(), Error> {
    let dir = match link.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Ok(dir_meta) = fs::metadata(dir) else {
        return Ok(());
    };
    let sticky_world_writable = dir_meta.mode() & 0o1002 == 0o1002;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if sticky_world_writable && meta.uid() != euid && meta.uid() != dir_meta.uid() {
        return Err(Error::Output {
            path: link.to_path_buf(),
            source: io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "a symbolic link owned by another user (uid {}) in the sticky, \
                     world-writable directory {}; refusing to follow it (as the kernel's \
                     protected_symlinks does); write to another path",
                    meta.uid(),
                    dir.display()
                ),
            ),
        });
    }
    Ok(())
}

/// Why an existing target may not be replaced without `--force`, or `None`
/// when it may. Read-only means: no write permission bit at all (which
/// refuses root too, unlike `cp`, which as root overwrites a 0444 file: a
/// file someone made read-only is kept unless the operator says so), or no
/// write access for this process's effective ids (access(2), `W_OK`).
fn read_only(target: &Path, old: &fs::Metadata) -> Option<String> {
    let mode = old.mode() & 0o7777;
    if mode & 0o222 == 0 {
        return Some(format!("mode {mode:04o}, no write permission"));
    }
    let c_path = std::ffi::CString::new(target.as_os_str().as_bytes()).ok()?;
    // SAFETY: faccessat reads the NUL-terminated path we own for the call.
    let r = unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            c_path.as_ptr(),
            libc::W_OK,
            libc::AT_EACCESS,
        )
    };
    // Only a refusal counts; other errors (a read-only file system) show up
    // when the temporary file is created, with their own message.
    let refused = r != 0
        && matches!(
            io::Error::last_os_error().raw_os_error(),
            Some(libc::EACCES | libc::EPERM)
        );
    refused.then(|| format!("mode {mode:04o}, not writable by this user"))
}

/// Gives the new file `file` the owner, group and permission bits of the
/// file it replaces, before any byte is written to it. The owner and group
/// are kept where the process may set them (root; a group the user belongs
/// to); otherwise the new file is the user's, and if its group differs from
/// the old file's, the group permission bits are cleared, so that no group
/// gets to read what it could not read before. Set-user-ID, set-group-ID
/// and sticky bits are not copied.
fn keep_owner_and_mode(file: &File, old: &fs::Metadata) -> io::Result<()> {
    let new = file.metadata()?;
    let permitted = |r: io::Result<()>| match r {
        Ok(()) => Ok(true),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EINVAL)) => Ok(false),
        Err(e) => Err(e),
    };
    if new.uid() != old.uid() || new.gid() != old.gid() {
        let both = permitted(std::os::unix::fs::fchown(
            file,
            Some(old.uid()),
            Some(old.gid()),
        ))?;
        if !both && new.gid() != old.gid() {
            permitted(std::os::unix::fs::fchown(file, None, Some(old.gid())))?;
        }
    }
    let mut mode = old.mode() & 0o777;
    if file.metadata()?.gid() != old.gid() {
        mode &= !0o070;
    }
    file.set_permissions(fs::Permissions::from_mode(mode))
}

/// A temporary file that replaces `target` only when committed, and is
/// removed when dropped uncommitted (on any error, panic or signal).
///
/// Replacing an existing file keeps its permission bits, and its owner and
/// group where the process may set them (see [`keep_owner_and_mode`]): the
/// temporary file is created 0600 and given them before the first byte is
/// written, so an export replacing a 0600 file is never readable by others,
/// not even for a moment. A read-only target is refused unless `force`. A
/// new file gets the umask as usual. The rename replaces the directory
/// entry, so other hard links to the old file keep the old content.
#[derive(Debug)]
pub struct AtomicFile {
    file: File,
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
    /// Whether writes still bypass the page cache. Once off, stays off.
    direct: bool,
}

impl AtomicFile {
    /// Creates the temporary file for `target` (see the type's doc).
    pub(crate) fn create(target: &Path, force: bool) -> Result<Self, Error> {
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
        let old = fs::metadata(target).ok().filter(fs::Metadata::is_file);
        if let Some(m) = &old
            && !force
            && let Some(reason) = read_only(target, m)
        {
            return Err(Error::ReadOnlyOutput {
                path: target.to_path_buf(),
                reason,
            });
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
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            if old.is_some() {
                // Private until it has the old file's owner and mode.
                options.mode(0o600);
            }
            match options.open(&temp) {
                Ok(file) => {
                    if let Some(m) = &old
                        && let Err(e) = keep_owner_and_mode(&file, m)
                    {
                        let _ = fs::remove_file(&temp);
                        return Err(err(e));
                    }
                    // Set after opening rather than in open(): a file system
                    // without O_DIRECT refuses the open only after creating
                    // the file, and refuses this flag change cleanly.
                    let direct = direct_pays(&file) && set_direct(&file, true).is_ok();
                    return Ok(Self {
                        file,
                        temp,
                        target: target.to_path_buf(),
                        committed: false,
                        direct,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
                // The file may be writable; the directory is what refuses.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EACCES | libc::EPERM | libc::EROFS)
                    ) =>
                {
                    return Err(Error::OutputDirectory {
                        dir: std::path::absolute(&dir).unwrap_or(dir),
                        path: target.to_path_buf(),
                        source: e,
                    });
                }
                Err(e) => return Err(err(e)),
            }
        }
    }

    /// Writes `bytes` at the end of the file. An aligned run of whole
    /// [`BLOCK_ALIGN`] blocks goes direct; anything else (the export's last,
    /// partial block, or a run the device refuses) ends direct writing and
    /// is written through the page cache, so no byte depends on alignment.
    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut rest = bytes;
        if self.direct {
            let whole = if rest.as_ptr().addr().is_multiple_of(BLOCK_ALIGN) {
                rest.len() - rest.len() % BLOCK_ALIGN
            } else {
                0
            };
            let file = &mut self.file;
            let written = write_until_refused(&rest[..whole], |b| file.write(b))?;
            rest = &rest[written..];
            if rest.is_empty() {
                return Ok(());
            }
            set_direct(&self.file, false)?;
            self.direct = false;
        }
        self.file.write_all(rest)
    }

    /// Makes the content durable and closes the file, without renaming it
    /// yet: a part of a split export, renamed with the others once all of
    /// them are written (see `crate::split`). No descriptor stays open, so
    /// any number of parts can wait for their rename.
    pub(crate) fn close(mut self) -> Result<ClosedFile, Error> {
        self.file.sync_all().map_err(|source| Error::Output {
            path: self.target.clone(),
            source,
        })?;
        // The temporary file now belongs to the ClosedFile, which removes it
        // unless renamed.
        self.committed = true;
        Ok(ClosedFile {
            temp: std::mem::take(&mut self.temp),
            target: std::mem::take(&mut self.target),
            renamed: false,
        })
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

/// Writes `blocks` through `write` until all are written or `write` refuses
/// them with EINVAL (a device that wants a larger alignment, or an offset a
/// short write left unaligned); returns how many bytes were written, so the
/// caller goes on from exactly there. `write()` by hand rather than
/// `write_all()`, which would lose that count.
fn write_until_refused(
    blocks: &[u8],
    mut write: impl FnMut(&[u8]) -> io::Result<usize>,
) -> io::Result<usize> {
    let mut done = 0;
    while done < blocks.len() {
        match write(&blocks[done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Whether direct writes pay on the file system holding `file`: local
/// block-device file systems only. Elsewhere the page cache is not a
/// detour: on tmpfs it is the storage itself, and on NFS, CIFS or FUSE
/// each direct write would wait for the server instead of being written
/// back in the background.
fn direct_pays(file: &File) -> bool {
    // Magic numbers of <linux/magic.h>: ext2/3/4, XFS, btrfs, F2FS.
    const LOCAL: [u32; 4] = [0xEF53, 0x5846_5342, 0x9123_683E, 0xF2F5_2010];
    let mut st = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: fstatfs fills the struct for a descriptor we own and borrow
    // for the call; it is read only after the call succeeded.
    let st = unsafe {
        if libc::fstatfs(file.as_raw_fd(), st.as_mut_ptr()) != 0 {
            return false;
        }
        st.assume_init()
    };
    // f_type is a signed word holding a 32-bit magic (sign-extended on
    // some targets): compare its low 32 bits.
    LOCAL.contains(&(st.f_type as u32))
}

/// Turns `O_DIRECT` on or off for `file`.
fn set_direct(file: &File, on: bool) -> io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own, with integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    let flags = if on {
        flags | libc::O_DIRECT
    } else {
        flags & !libc::O_DIRECT
    };
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A finished temporary file waiting for its rename: removed when dropped
/// unrenamed.
#[derive(Debug)]
pub(crate) struct ClosedFile {
    temp: PathBuf,
    target: PathBuf,
    renamed: bool,
}

impl ClosedFile {
    /// The name it was created for.
    pub(crate) fn target(&self) -> &Path {
        &self.target
    }

    /// Renames the file to `target` (not made durable: the caller syncs
    /// the directory once for all its files).
    pub(crate) fn rename_to(&mut self, target: &Path) -> Result<(), Error> {
        fs::rename(&self.temp, target).map_err(|source| Error::Output {
            path: target.to_path_buf(),
            source,
        })?;
        self.renamed = true;
        self.temp = target.to_path_buf();
        Ok(())
    }

    /// Removes the file, renamed or not (a split export undoing its parts
    /// after a failed rename).
    pub(crate) fn remove(mut self) {
        let _ = fs::remove_file(&self.temp);
        self.renamed = true;
    }
}

impl Drop for ClosedFile {
    fn drop(&mut self) {
        if !self.renamed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Makes the renames and removals in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
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

        let mut s = Sink::open(&target, false).unwrap();
        s.write_all(b"new").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"old");
        drop(s);
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert_eq!(listing(dir.path()), ["out.csv"]);

        let mut s = Sink::open(&target, false).unwrap();
        s.write_all(b"new").unwrap();
        s.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(listing(dir.path()), ["out.csv"]);
    }

    #[test]
    fn a_device_is_written_in_place_and_stays_a_device() {
        use std::os::unix::fs::FileTypeExt;
        let mut s = Sink::open(Path::new("/dev/null"), false).unwrap();
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
        let mut s = Sink::open(&link, false).unwrap();
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
        let mut s = Sink::open(&fifo, false).unwrap();
        s.write_all(b"through the pipe").unwrap();
        s.commit().unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert_eq!(listing(dir.path()), ["pipe"]);
    }

    /// Whether the kernel has `O_DIRECT` set on `file` (from
    /// /proc/self/fdinfo, where the flags are printed in octal).
    fn kernel_says_direct(file: &File) -> bool {
        let info = fs::read_to_string(format!("/proc/self/fdinfo/{}", file.as_raw_fd())).unwrap();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .unwrap()
            .trim();
        i64::from_str_radix(flags, 8).unwrap() & i64::from(libc::O_DIRECT) != 0
    }

    /// `len` bytes of a pattern starting at a `BLOCK_ALIGN` boundary, and
    /// the buffer that holds them.
    fn aligned(len: usize) -> (Vec<u8>, usize) {
        let mut buf = vec![0u8; len + BLOCK_ALIGN];
        let at = buf.as_ptr().addr().wrapping_neg() % BLOCK_ALIGN;
        for (i, b) in buf[at..at + len].iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        (buf, at)
    }

    /// A directory on the disk the project is built on (ext4 on this
    /// project's machines), not in /tmp, which may be a tmpfs.
    fn disk_dir() -> tempfile::TempDir {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        fs::create_dir_all(&base).unwrap();
        tempfile::tempdir_in(base).unwrap()
    }

    /// The temporary file behind a sink for `target`.
    fn atomic_file(target: &Path) -> AtomicFile {
        match Sink::open(target, false).unwrap() {
            Sink::File(f) => f,
            other => panic!("not a file sink: {other:?}"),
        }
    }

    #[test]
    fn aligned_blocks_go_direct_and_the_tail_through_the_cache() {
        let dir = disk_dir();
        let target = dir.path().join("out.csv");
        let (buf, at) = aligned(5 * BLOCK_ALIGN);
        let data = &buf[at..at + 5 * BLOCK_ALIGN];

        let mut f = atomic_file(&target);
        // The project's disk is ext4, on which direct writes pay.
        assert!(f.direct && kernel_says_direct(&f.file));
        f.write_all(&data[..2 * BLOCK_ALIGN]).unwrap();
        f.write_all(&data[2 * BLOCK_ALIGN..4 * BLOCK_ALIGN])
            .unwrap();
        assert!(f.direct && kernel_says_direct(&f.file));
        // The last block of an export: its whole pages direct, the rest not.
        f.write_all(&data[4 * BLOCK_ALIGN..4 * BLOCK_ALIGN + 1000])
            .unwrap();
        assert!(!f.direct && !kernel_says_direct(&f.file));
        f.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), &data[..4 * BLOCK_ALIGN + 1000]);
    }

    #[test]
    fn an_unaligned_block_is_written_through_the_cache() {
        let dir = disk_dir();
        let target = dir.path().join("out.csv");
        let (buf, at) = aligned(3 * BLOCK_ALIGN);
        let data = &buf[at..at + 3 * BLOCK_ALIGN];

        let mut f = atomic_file(&target);
        f.write_all(&data[..BLOCK_ALIGN]).unwrap();
        // Right length, wrong address: O_DIRECT would refuse it.
        f.write_all(&data[1..=BLOCK_ALIGN]).unwrap();
        assert!(!f.direct && !kernel_says_direct(&f.file));
        f.write_all(&data[..BLOCK_ALIGN]).unwrap();
        f.commit().unwrap();
        let mut expected = data[..BLOCK_ALIGN].to_vec();
        expected.extend_from_slice(&data[1..=BLOCK_ALIGN]);
        expected.extend_from_slice(&data[..BLOCK_ALIGN]);
        assert_eq!(fs::read(&target).unwrap(), expected);
    }

    #[test]
    fn tmpfs_is_written_through_the_cache() {
        // /dev/shm is a tmpfs on Linux: the page cache is its storage.
        let dir = tempfile::tempdir_in("/dev/shm").unwrap();
        let f = atomic_file(&dir.path().join("out.csv"));
        assert!(!f.direct && !kernel_says_direct(&f.file));
    }

    /// A scripted `write`: each call takes the next step (`Ok(n)` accepts
    /// up to n bytes, an error is returned as is) and records what it took.
    fn scripted(
        steps: Vec<io::Result<usize>>,
        taken: &mut Vec<u8>,
    ) -> impl FnMut(&[u8]) -> io::Result<usize> + '_ {
        let mut steps = steps.into_iter();
        move |b: &[u8]| {
            let n = steps
                .next()
                .expect("more writes than scripted")?
                .min(b.len());
            taken.extend_from_slice(&b[..n]);
            Ok(n)
        }
    }

    #[test]
    fn a_refusal_is_counted_to_the_byte() {
        let data: Vec<u8> = (0..4 * BLOCK_ALIGN).map(|i| (i % 253) as u8).collect();
        let einval = || Err(io::Error::from_raw_os_error(libc::EINVAL));
        let eintr = || Err(io::Error::from(io::ErrorKind::Interrupted));
        let cases: Vec<(Vec<io::Result<usize>>, usize)> = vec![
            // All taken, in short writes, with an interruption between.
            (vec![Ok(1536), eintr(), Ok(usize::MAX)], data.len()),
            // Refused after two whole blocks.
            (vec![Ok(2 * BLOCK_ALIGN), einval()], 2 * BLOCK_ALIGN),
            // A short write leaves the offset unaligned; the next is refused.
            (vec![Ok(1536), einval()], 1536),
            // Refused at once.
            (vec![einval()], 0),
        ];
        for (steps, expected) in cases {
            let mut taken = Vec::new();
            let written = write_until_refused(&data, scripted(steps, &mut taken)).unwrap();
            assert_eq!(written, expected);
            assert_eq!(taken, &data[..written]);
        }
        // Other errors and a zero-length write are failures, not fallbacks.
        let mut taken = Vec::new();
        let err = write_until_refused(
            &data,
            scripted(
                vec![Ok(4096), Err(io::Error::from_raw_os_error(libc::ENOSPC))],
                &mut taken,
            ),
        )
        .unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
        let err = write_until_refused(&data, scripted(vec![Ok(0)], &mut taken)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WriteZero);
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn the_temporary_file_has_the_old_mode_before_any_byte() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sec.csv");
        fs::write(&target, "old").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o600)).unwrap();
        let mut f = atomic_file(&target);
        assert_eq!(mode(&f.temp), 0o600);
        f.write_all(b"new").unwrap();
        f.commit().unwrap();
        assert_eq!(mode(&target), 0o600);
        assert_eq!(fs::read(&target).unwrap(), b"new");
    }

    #[test]
    fn a_read_only_target_needs_force() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("ro.csv");
        fs::write(&target, "old").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o444)).unwrap();
        let e = Sink::open(&target, false).unwrap_err();
        assert_eq!(e.exit_code(), 5);
        assert!(e.to_string().contains("--force"), "{e}");
        assert_eq!(listing(dir.path()), ["ro.csv"]);
        let mut s = Sink::open(&target, true).unwrap();
        s.write_all(b"new").unwrap();
        s.commit().unwrap();
        assert_eq!(
            (mode(&target), fs::read(&target).unwrap()),
            (0o444, b"new".to_vec())
        );
    }

    #[test]
    fn a_dangling_link_is_followed_to_where_its_file_would_be() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink("real.csv", &link).unwrap();
        assert_eq!(resolve_symlink(&link).unwrap(), dir.path().join("real.csv"));
        let abs = dir.path().join("abs.csv");
        std::os::unix::fs::symlink(dir.path().join("x/y.csv"), &abs).unwrap();
        assert_eq!(resolve_symlink(&abs).unwrap(), dir.path().join("x/y.csv"));
        let looped = dir.path().join("self.csv");
        std::os::unix::fs::symlink("self.csv", &looped).unwrap();
        assert!(resolve_symlink(&looped).is_err());
    }

    #[test]
    fn unwritable_places_fail_at_open() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Sink::open(&dir.path().join("missing/out.csv"), false).is_err());
        assert!(Sink::open(dir.path(), false).is_err());
    }
}
