//! The reused receive buffer: read in large blocks, grow only for packets
//! larger than the buffer.
//!
//! Under TLS the socket is read into the same buffer: records wait behind
//! the plaintext until they are complete, and are decrypted where they lie
//! one at a time, as the plaintext before them runs out (see
//! [`super::record`]). What is left of that plaintext then is usually the
//! start of one packet, so it, not the record's 16 KiB, moves to join the
//! new plaintext. Moving every record's plaintext instead copied the whole
//! stream once more: callgrind over a 1 M-row TLS export counted 3,295 M
//! instructions that way (307 M in memcpy) and 3,058 M (66 M) this way.

use super::record::{MAX_RECORD, Opened, RecordLayer};
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Default receive buffer size: large reads keep syscalls far below one per row.
pub const DEFAULT_CAPACITY: usize = 1 << 20;

/// Unconsumed plaintext lives in `data[start..end]`; under TLS, received
/// bytes not decrypted yet follow in `data[raw_start..raw_end]` (the gap
/// between is what record headers and tags took). Without TLS the raw part
/// is always empty.
#[derive(Debug)]
pub struct InBuf {
    data: Vec<u8>,
    start: usize,
    end: usize,
    raw_start: usize,
    raw_end: usize,
}

impl InBuf {
    /// A buffer of `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        Self {
            data: vec![0; capacity],
            start: 0,
            end: 0,
            raw_start: 0,
            raw_end: 0,
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
        self.settle();
    }

    /// Once the plaintext is used up: it may as well start where the
    /// undecrypted bytes do, which closes the gap for free; and once those
    /// are used up too, everything starts over at the front.
    fn settle(&mut self) {
        if self.start == self.end {
            self.start = self.raw_start;
            self.end = self.raw_start;
            if self.raw_start == self.raw_end {
                self.start = 0;
                self.end = 0;
                self.raw_start = 0;
                self.raw_end = 0;
            }
        }
    }

    /// Makes `want` bytes fit from the unconsumed plaintext on, and leaves
    /// room to read into.
    ///
    /// The buffer grows at most to double its size per read, never straight
    /// to `want`: a header that announces 16 MiB costs memory only as those
    /// bytes actually arrive, so a lying server cannot make us allocate
    /// what it never sends (the framer has already refused anything over
    /// --max-row-size).
    fn make_room(&mut self, want: usize) {
        let len = self.data.len();
        if len - self.start >= want && self.raw_end < len {
            return;
        }
        // Move the partial packet (and a partial record) to the front; it
        // is small unless it is huge.
        let plain = self.end - self.start;
        let raw = self.raw_end - self.raw_start;
        self.data.copy_within(self.start..self.end, 0);
        self.data.copy_within(self.raw_start..self.raw_end, plain);
        self.start = 0;
        self.end = plain;
        self.raw_start = plain;
        self.raw_end = plain + raw;
        if self.raw_end == len && len < want {
            // Full and still short: only rows larger than the buffer get here.
            let new_len = want.min(len.saturating_mul(2).max(1));
            self.data.resize(new_len, 0);
        }
    }

    /// One read from `stream` behind everything received so far.
    async fn read_raw<S: AsyncRead + Unpin>(&mut self, stream: &mut S) -> io::Result<()> {
        let n = stream.read(&mut self.data[self.raw_end..]).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        self.raw_end += n;
        Ok(())
    }

    /// Reads at least once more from a plaintext `stream`, first making room
    /// for `need` unconsumed bytes in total. Fails with `UnexpectedEof` when
    /// the peer closed.
    pub async fn fill<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        need: usize,
    ) -> io::Result<()> {
        self.make_room(need);
        self.read_raw(stream).await?;
        // Without TLS what arrives is plaintext as it is.
        self.end = self.raw_end;
        self.raw_start = self.raw_end;
        Ok(())
    }

    /// Makes one more record's plaintext available: opens the next complete
    /// record already received, or else reads from the TLS `stream` (first
    /// making room for `need` unconsumed plaintext bytes plus a record)
    /// until one is complete. May add no bytes (a zero-length record).
    /// Fails with `UnexpectedEof` when the peer closed (with close_notify or
    /// without), and with `InvalidData` for a record that is not valid.
    pub async fn fill_tls<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
        records: &mut RecordLayer,
        need: usize,
    ) -> io::Result<()> {
        let closed = || {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            )
        };
        loop {
            if self.open_record(records)? {
                return Ok(());
            }
            if records.peer_closed() {
                return Err(closed());
            }
            self.make_room(need.saturating_add(MAX_RECORD));
            self.read_raw(stream).await?;
        }
    }

    /// Opens the complete records received so far up to the next one that
    /// holds application data, and appends its plaintext to the unconsumed
    /// plaintext. Returns whether there was such a record.
    pub fn open_record(&mut self, records: &mut RecordLayer) -> io::Result<bool> {
        let mut opened = false;
        while !opened && !records.peer_closed() {
            match records.open(&mut self.data[self.raw_start..self.raw_end])? {
                Opened::Partial => break,
                Opened::Data {
                    from,
                    len,
                    consumed,
                } => {
                    self.join(self.raw_start + from, len);
                    self.raw_start += consumed;
                    opened = true;
                }
                Opened::Control { consumed } => self.raw_start += consumed,
            }
        }
        if records.peer_closed() {
            // Nothing after close_notify counts.
            self.raw_start = self.raw_end;
        }
        self.settle();
        Ok(opened)
    }

    /// Makes the plaintext at `data[at..at + len]`, which lies after
    /// `end`, follow the unconsumed plaintext, by moving the shorter of the
    /// two: each record then costs at most its own length in copying, even
    /// while a packet larger than many records builds up.
    fn join(&mut self, at: usize, len: usize) {
        let held = self.end - self.start;
        if held <= len {
            self.data.copy_within(self.start..self.end, at - held);
            self.start = at - held;
            self.end = at + len;
        } else {
            self.data.copy_within(at..at + len, self.end);
            self.end += len;
        }
    }

    /// The received bytes not decrypted yet: what the TLS handshake reads.
    pub fn raw_mut(&mut self) -> &mut [u8] {
        &mut self.data[self.raw_start..self.raw_end]
    }

    /// Drops `n` bytes from the front of [`InBuf::raw_mut`].
    pub fn discard_raw(&mut self, n: usize) {
        self.raw_start += n;
        debug_assert!(self.raw_start <= self.raw_end);
        self.settle();
    }

    /// The buffer's size (what it holds, used or not).
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.data.len()
    }

    /// Reads once more for the TLS handshake, which needs whole handshake
    /// messages (possibly several records) in one piece.
    pub async fn fill_raw<S: AsyncRead + Unpin>(&mut self, stream: &mut S) -> io::Result<()> {
        let held = self.raw_end - self.start;
        self.make_room(held.saturating_add(MAX_RECORD));
        self.read_raw(stream).await
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
