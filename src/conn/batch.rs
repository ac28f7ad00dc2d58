//! Fewer, larger reads while a result set streams in.
//!
//! A server sends a result in writes of about 16 KiB (its net buffer). Woken
//! for each one, the client spent more on waking up than on the rows: for
//! 1 M `bench.mixed` rows over TCP, 14,000 wake-ups, and epoll, the
//! scheduler and the runtime took about 11 % of our CPU samples. With
//! `SO_RCVLOWAT` the kernel reports the socket readable only once `LOW_WATER`
//! bytes are queued (or on end of stream and errors), so one wake-up reads
//! many server writes: 2,000 wake-ups, and 0.50–0.61 s of client CPU
//! instead of 0.87–0.94 s (three runs each, plain TCP to /dev/null).
//!
//! The last bytes of a response are usually fewer than that, and the kernel
//! would hold them back for ever. So a wait for readiness is bounded by
//! `FLUSH_WAIT`: when it runs out, the mark is lowered to one byte and the
//! socket read directly (past the runtime's cached readiness, which the
//! lowered mark may not have refreshed yet). Whatever has arrived is then
//! read; if nothing has, the next wait is an ordinary one, without a timer,
//! so a server that computes for minutes does not wake us every
//! millisecond. After the next read the mark goes back up.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// Bytes queued before the socket counts as readable while batching. The
/// kernel caps it at half the largest receive buffer and grows the buffer
/// to fit it. It does not hold the window down: on this kernel (6.18) the
/// window clamp went from 64 KiB to 128 KiB when the mark was set, and
/// receive autotuning still took it to 12 MiB over a 200 MB transfer.
const LOW_WATER: i32 = 128 * 1024;

/// How long to wait for `LOW_WATER` bytes before taking what is there: the
/// latency this adds at the end of a response (the runtime's timers tick in
/// milliseconds, so up to about two).
const FLUSH_WAIT: Duration = Duration::from_millis(1);

/// The batching state of one TCP socket, for the duration of a response.
#[derive(Debug)]
pub(super) struct LowWater {
    /// Whether the mark is up (false after it was lowered, until the next read).
    raised: bool,
    /// Whether setting the mark works at all; if not, reads are plain.
    usable: bool,
    flush: Pin<Box<Sleep>>,
    flush_armed: bool,
    /// How many times a wait ran out (for the tests).
    #[cfg(test)]
    flushes: u32,
}

impl LowWater {
    /// Raises the mark on `tcp`. If the socket refuses the option, reads
    /// through [`Batched`] are plain reads.
    pub(super) fn start(tcp: &TcpStream) -> Self {
        let usable = set_low_water(tcp, LOW_WATER).is_ok();
        Self {
            raised: usable,
            usable,
            flush: Box::pin(tokio::time::sleep(FLUSH_WAIT)),
            flush_armed: false,
            #[cfg(test)]
            flushes: 0,
        }
    }

    /// Puts the mark back to one byte, for the small responses that follow.
    pub(super) fn finish(self, tcp: &TcpStream) {
        if self.usable && self.raised {
            let _ = set_low_water(tcp, 1);
        }
    }
}

/// A TCP stream read under a [`LowWater`] mark.
pub(super) struct Batched<'a> {
    pub(super) tcp: &'a TcpStream,
    pub(super) mark: &'a mut LowWater,
}

impl AsyncRead for Batched<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let Batched { tcp, mark } = self.get_mut();
        loop {
            match tcp.poll_read_ready(cx) {
                Poll::Ready(Ok(())) => match tcp.try_read(buf.initialize_unfilled()) {
                    Ok(n) => {
                        mark.took(tcp, buf, n);
                        return Poll::Ready(Ok(()));
                    }
                    // Readiness was stale and is now cleared: wait again.
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Poll::Ready(Err(e)),
                },
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending if !mark.raised => return Poll::Pending,
                Poll::Pending => {
                    if !mark.flush_armed {
                        mark.flush.as_mut().reset(Instant::now() + FLUSH_WAIT);
                        mark.flush_armed = true;
                    }
                    ready!(mark.flush.as_mut().poll(cx));
                    mark.flush_armed = false;
                    #[cfg(test)]
                    {
                        mark.flushes += 1;
                    }
                    // If the mark cannot be lowered, the direct read below
                    // still takes what is queued (a non-blocking recv does
                    // not wait for the mark); waits then stay bounded.
                    mark.raised = set_low_water(tcp, 1).is_err();
                    // The runtime learns of the lowered mark only through a
                    // new readiness event, which older kernels do not send
                    // for bytes already queued: read them directly.
                    match read_direct(tcp, buf.initialize_unfilled()) {
                        Ok(n) => {
                            mark.took(tcp, buf, n);
                            return Poll::Ready(Ok(()));
                        }
                        // Nothing there: an ordinary wait, registered by the
                        // next poll_read_ready.
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                        Err(e) => return Poll::Ready(Err(e)),
                    }
                }
            }
        }
    }
}

impl LowWater {
    /// Records a read of `n` bytes into `buf` and raises the mark again if
    /// it was lowered.
    fn took(&mut self, tcp: &TcpStream, buf: &mut ReadBuf<'_>, n: usize) {
        buf.advance(n);
        self.flush_armed = false;
        if self.usable && !self.raised {
            // Failing here only means smaller reads.
            self.raised = set_low_water(tcp, LOW_WATER).is_ok();
        }
    }
}

/// One `recv` on the socket itself, bypassing the runtime's readiness.
fn read_direct(tcp: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    use std::io::Read;
    let socket = socket2::SockRef::from(tcp);
    (&*socket).read(buf)
}

/// Sets `SO_RCVLOWAT` (socket2 has no setter for it).
fn set_low_water(tcp: &TcpStream, bytes: i32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let value: libc::c_int = bytes;
    // SAFETY: the fd is an open socket borrowed from `tcp` for the call, and
    // the option value is a c_int that outlives it, passed with its size.
    let rc = unsafe {
        libc::setsockopt(
            tcp.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVLOWAT,
            std::ptr::from_ref(&value).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use tokio::io::AsyncReadExt;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// A connected pair: our tokio end, and a std end for the "server",
    /// driven from a thread by `serve`.
    async fn pair(serve: impl FnOnce(std::net::TcpStream) + Send + 'static) -> TcpStream {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            serve(s);
        });
        TcpStream::connect(addr).await.unwrap()
    }

    fn low_water(tcp: &TcpStream) -> i32 {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        use std::os::fd::AsRawFd;
        // SAFETY: test code; value and len are valid for the call.
        let rc = unsafe {
            libc::getsockopt(
                tcp.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVLOWAT,
                std::ptr::from_mut(&mut value).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0);
        value
    }

    #[test]
    fn a_short_tail_is_read_after_the_wait_not_never() {
        block_on(async {
            // Once the mark is up, 100 bytes, far below it; then the
            // server waits (it neither closes nor sends more) until told.
            let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
            let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
            let tcp = pair(move |mut s| {
                let _ = go_rx.recv();
                s.write_all(&[7u8; 100]).unwrap();
                let _ = done_rx.recv();
            })
            .await;
            let mut mark = LowWater::start(&tcp);
            assert!(mark.usable);
            assert_eq!(low_water(&tcp), LOW_WATER);
            go_tx.send(()).unwrap();
            let mut buf = [0u8; 4096];
            let mut batched = Batched {
                tcp: &tcp,
                mark: &mut mark,
            };
            let n = tokio::time::timeout(Duration::from_secs(10), batched.read(&mut buf))
                .await
                .expect("the tail was held back")
                .unwrap();
            assert_eq!(&buf[..n], &[7u8; 100][..n]);
            assert!(n > 0);
            // Read because the wait ran out, not because the mark was met.
            assert!(mark.flushes >= 1);
            // Raised again for the next read.
            assert!(mark.raised);
            assert_eq!(low_water(&tcp), LOW_WATER);
            mark.finish(&tcp);
            assert_eq!(low_water(&tcp), 1);
            done_tx.send(()).unwrap();
        });
    }

    #[test]
    fn an_idle_server_is_waited_for_without_a_timer() {
        block_on(async {
            // Nothing for 200 ms (two hundred flush waits), then 10 bytes.
            let tcp = pair(|mut s| {
                std::thread::sleep(Duration::from_millis(200));
                s.write_all(b"0123456789").unwrap();
                std::thread::sleep(Duration::from_millis(200));
            })
            .await;
            let mut mark = LowWater::start(&tcp);
            let mut buf = [0u8; 64];
            let mut batched = Batched {
                tcp: &tcp,
                mark: &mut mark,
            };
            let n = tokio::time::timeout(Duration::from_secs(10), batched.read(&mut buf))
                .await
                .expect("the bytes after the pause were not read")
                .unwrap();
            assert_eq!(&buf[..n], b"0123456789");
            // One wait ran out, then an ordinary wait: not one per millisecond.
            assert_eq!(mark.flushes, 1);
        });
    }

    #[test]
    fn a_stream_arrives_whole_and_in_order() {
        block_on(async {
            // 8 MiB in writes of every size up to 64 KiB, some with pauses:
            // reads see the marks both reached and not.
            let data: Vec<u8> = (0..8u32 << 20).map(|i| (i * 7 + i / 251) as u8).collect();
            let sent = data.clone();
            let tcp = pair(move |mut s| {
                let mut pos = 0;
                let mut step = 1;
                while pos < sent.len() {
                    let end = (pos + step).min(sent.len());
                    s.write_all(&sent[pos..end]).unwrap();
                    pos = end;
                    step = (step * 3 + 1) % 65_536 + 1;
                    if step % 7 == 0 {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
            })
            .await;
            let mut mark = LowWater::start(&tcp);
            let mut got = Vec::new();
            let mut buf = vec![0u8; 1 << 20];
            let mut batched = Batched {
                tcp: &tcp,
                mark: &mut mark,
            };
            loop {
                let n = tokio::time::timeout(Duration::from_secs(20), batched.read(&mut buf))
                    .await
                    .expect("a read hung")
                    .unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got.len(), data.len());
            assert!(got == data, "bytes differ");
        });
    }
}
