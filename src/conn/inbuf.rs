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

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_huge_claim_allocates_only_what_arrives() {
        block_on(async {
            let mut buf = InBuf::new(1024);
            // A header announcing 16 MiB, then 100 bytes and the end of the stream.
            let data = vec![7u8; 100];
            let mut stream: &[u8] = &data;
            buf.fill(&mut stream, 16 << 20).await.unwrap();
            assert_eq!(buf.filled().len(), 100);
            assert_eq!(buf.data.len(), 1024, "no growth before the buffer is full");
            let err = buf.fill(&mut stream, 16 << 20).await.unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);

            // 5000 bytes arriving: the buffer at most doubles past what is held.
            let data = vec![1u8; 5000];
            let mut stream: &[u8] = &data;
            let mut buf = InBuf::new(1024);
            while buf.filled().len() < 5000 {
                buf.fill(&mut stream, 16 << 20).await.unwrap();
                assert!(buf.data.len() <= 2 * buf.filled().len().max(1024));
            }
            assert!(buf.filled().iter().all(|&b| b == 1));
        });
    }

    #[test]
    fn consumed_bytes_make_room_before_growing() {
        block_on(async {
            let data: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
            let mut stream: &[u8] = &data;
            let mut buf = InBuf::new(1024);
            buf.fill(&mut stream, 10).await.unwrap();
            buf.consume(1000);
            buf.fill(&mut stream, 100).await.unwrap();
            assert_eq!(buf.data.len(), 1024);
            assert_eq!(buf.filled()[0], 1000u32 as u8);
        });
    }
}
