//! The reused receive buffer: read in large blocks, grow only for packets
//! larger than the buffer.

use std::io;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Default receive buffer size: large reads keep syscalls far below one per row.
pub const DEFAULT_CAPACITY: usize = 1 << 20;

/// Bytes received and not yet consumed live in `data[start..end]`.
#[derive(Debug)]
pub struct InBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl InBuf {
    /// A buffer of `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        Self {
            data: vec![0; capacity],
            start: 0,
            end: 0,
        }
    }

    /// The unconsumed bytes.
    #[inline]
    pub fn filled(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// Drops `n` bytes from the front.
    #[inline]
    pub fn consume(&mut self, n: usize) {
        self.start += n;
        debug_assert!(self.start <= self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads at least once more from `stream`, first making room for `need`
    /// unconsumed bytes in total. Fails with `UnexpectedEof` when the peer
    /// closed.
    ///
    /// The buffer grows at most to double its size per read, never straight
    /// to `need`: a header that announces 16 MiB costs memory only as those
    /// bytes actually arrive, so a lying server cannot make us allocate
    /// what it never sends (the framer has already refused anything over
    /// --max-row-size).
    pub async fn fill<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        need: usize,
    ) -> io::Result<()> {
        if self.data.len() - self.start < need || self.end == self.data.len() {
            // Move the partial packet to the front; it is small unless it is huge.
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            if self.end == self.data.len() && self.data.len() < need {
                // Full and still short: only rows larger than the buffer get here.
                let new_len = need.min(self.data.len().saturating_mul(2).max(1));
                self.data.resize(new_len, 0);
            }
        }
        let n = stream.read(&mut self.data[self.end..]).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        self.end += n;
        Ok(())
    }
}
