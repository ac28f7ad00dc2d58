//! A fault-injecting TCP relay between gold_digger and the test server.
//!
//! It listens on 127.0.0.1 (a free port), forwards each accepted connection to the server and
//! applies one [`Fault`] to the server→client bytes, counted from the first byte the server
//! sends on that connection. It records both directions, so it doubles as the recorder of
//! real exchanges for fuzz seeds. Every socket has a short read timeout and the relay has an
//! overall deadline: it stops by itself even when a test forgets it or gold_digger hangs.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the relay damages the server→client stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything.
    None,
    /// Forward `after` bytes, then close both sides with a FIN.
    CutFin { after: usize },
    /// Forward `after` bytes, then reset the client's connection (SO_LINGER 0: an RST).
    CutRst { after: usize },
    /// Forward `after` bytes, then forward nothing for `stall`, then close with a FIN.
    Stall { after: usize, stall: Duration },
    /// Replace the byte at `offset` with `value`.
    Corrupt { offset: usize, value: u8 },
    /// Forward `after` bytes, then the rest in pieces of `every` bytes, each
    /// after a pause of `pause`: a slow but steady server.
    Trickle {
        after: usize,
        every: usize,
        pause: Duration,
    },
}

/// The bytes one relayed connection carried.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    /// Everything the server sent (before the fault was applied).
    pub from_server: Vec<u8>,
    /// Everything the client sent.
    pub from_client: Vec<u8>,
}

/// A running relay; stops (and closes every connection) when dropped.
pub struct Relay {
    /// The port gold_digger should connect to.
    pub port: u16,
    stop: Arc<AtomicBool>,
    recordings: Arc<Mutex<Vec<Arc<Mutex<Recording>>>>>,
    accept: Option<JoinHandle<()>>,
}

/// How long any relay lives at most.
const LIFETIME: Duration = Duration::from_secs(90);
/// Socket read timeout: how often the copy loops look at the stop flag.
const POLL: Duration = Duration::from_millis(50);

impl Relay {
    /// Starts a relay to `127.0.0.1:upstream_port` applying `fault` to each connection.
    pub fn start(upstream_port: u16, fault: Fault) -> Relay {
        Self::start_each(upstream_port, move |_| fault)
    }

    /// Starts a relay that applies `fault_of(i)` to the `i`-th connection it accepts (from 0):
    /// a fault on one of a parallel export's connections.
    pub fn start_each(
        upstream_port: u16,
        fault_of: impl Fn(usize) -> Fault + Send + 'static,
    ) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("relay: bind");
        listener
            .set_nonblocking(true)
            .expect("relay: non-blocking listener");
        let port = listener.local_addr().expect("relay: local address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let recordings: Arc<Mutex<Vec<Arc<Mutex<Recording>>>>> = Arc::default();
        let deadline = Instant::now() + LIFETIME;
        let accept = {
            let stop = stop.clone();
            let recordings = recordings.clone();
            std::thread::spawn(move || {
                let mut workers = Vec::new();
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    match listener.accept() {
                        Ok((client, _)) => {
                            let fault = fault_of(workers.len());
                            let rec = Arc::new(Mutex::new(Recording::default()));
                            recordings.lock().unwrap().push(rec.clone());
                            let stop = stop.clone();
                            workers.push(std::thread::spawn(move || {
                                relay_one(client, upstream_port, fault, rec, &stop, deadline)
                            }));
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(POLL),
                        Err(e) => panic!("relay: accept: {e}"),
                    }
                }
                stop.store(true, Ordering::Relaxed);
                for w in workers {
                    let _ = w.join();
                }
            })
        };
        Relay {
            port,
            stop,
            recordings,
            accept: Some(accept),
        }
    }

    /// `mysql://user:password@127.0.0.1:<relay port>/db?ssl-mode=disabled`: plaintext, so
    /// that fault offsets fall on MySQL packets rather than inside TLS records.
    pub fn url(&self, user: &str, password: &str, db: &str) -> String {
        format!(
            "mysql://{user}:{password}@127.0.0.1:{}/{db}?ssl-mode=disabled",
            self.port
        )
    }

    /// Like [`Relay::url`] but with `ssl-mode=required`: the relay then carries TLS records.
    pub fn url_tls(&self, user: &str, password: &str, db: &str) -> String {
        format!(
            "mysql://{user}:{password}@127.0.0.1:{}/{db}?ssl-mode=required",
            self.port
        )
    }

    /// The recordings of the connections so far, in accept order.
    pub fn recordings(&self) -> Vec<Recording> {
        self.recordings
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.lock().unwrap().clone())
            .collect()
    }

    /// Stops accepting, closes every connection and waits for the threads.
    pub fn stop(mut self) -> Vec<Recording> {
        self.shutdown();
        self.recordings()
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn relay_one(
    client: TcpStream,
    upstream_port: u16,
    fault: Fault,
    rec: Arc<Mutex<Recording>>,
    stop: &AtomicBool,
    deadline: Instant,
) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
        return;
    };
    for s in [&client, &server] {
        let _ = s.set_nonblocking(false);
        let _ = s.set_read_timeout(Some(POLL));
        let _ = s.set_nodelay(true);
    }
    // A flag the server→client side sets when it has cut: the other direction then ends too.
    let cut = Arc::new(AtomicBool::new(false));
    let upward = {
        let (mut from, mut to) = (clone(&client), clone(&server));
        let (rec, cut) = (rec.clone(), cut.clone());
        std::thread::spawn(move || {
            // Ends with the client, or when the downward loop (which watches `stop`) has
            // set `cut`, or at the deadline.
            let mut buf = vec![0u8; 64 * 1024];
            while !cut.load(Ordering::Relaxed) && Instant::now() < deadline {
                match from.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        rec.lock().unwrap().from_client.extend_from_slice(&buf[..n]);
                        if to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    Err(e) if is_timeout(&e) => {}
                    Err(_) => break,
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        })
    };

    let (mut from, mut to) = (clone(&server), clone(&client));
    let mut buf = vec![0u8; 64 * 1024];
    let mut sent = 0usize;
    let mut reset = false;
    'copy: while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if is_timeout(&e) => continue,
            Err(_) => break,
        };
        rec.lock().unwrap().from_server.extend_from_slice(&buf[..n]);
        let chunk = &mut buf[..n];
        match fault {
            Fault::Trickle {
                after,
                every,
                pause,
            } => {
                let fast = after.saturating_sub(sent).min(n);
                if to.write_all(&chunk[..fast]).is_err() {
                    break;
                }
                for piece in chunk[fast..].chunks(every.max(1)) {
                    std::thread::sleep(pause);
                    if to.write_all(piece).is_err() {
                        break 'copy;
                    }
                }
                sent += n;
                continue;
            }
            Fault::None => {}
            Fault::Corrupt { offset, value } => {
                if (sent..sent + n).contains(&offset) {
                    chunk[offset - sent] = value;
                }
            }
            Fault::CutFin { after } | Fault::CutRst { after } | Fault::Stall { after, .. } => {
                if sent + n >= after {
                    let _ = to.write_all(&chunk[..after - sent]);
                    if let Fault::Stall { stall, .. } = fault {
                        let until = (Instant::now() + stall).min(deadline);
                        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                            std::thread::sleep(POLL);
                        }
                    }
                    reset = matches!(fault, Fault::CutRst { .. });
                    break 'copy;
                }
            }
        }
        if to.write_all(chunk).is_err() {
            break;
        }
        sent += n;
    }
    cut.store(true, Ordering::Relaxed);
    if reset {
        // SO_LINGER 0 makes close() send an RST instead of a FIN.
        let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
    } else {
        let _ = client.shutdown(Shutdown::Write);
    }
    let _ = server.shutdown(Shutdown::Both);
    let _ = upward.join();
    drop(to);
    drop(from);
    drop(client);
}

fn clone(s: &TcpStream) -> TcpStream {
    s.try_clone().expect("relay: cloning a socket")
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// One packet of a recorded stream: where it starts, its payload length, its first byte.
#[derive(Debug, Clone, Copy)]
pub struct PacketAt {
    pub offset: usize,
    pub len: usize,
    pub first: Option<u8>,
}

impl PacketAt {
    /// The offset one past its last byte.
    pub fn end(&self) -> usize {
        self.offset + 4 + self.len
    }
}

/// Splits a recorded stream into packets (headers as on the wire; no joining).
pub fn packets(stream: &[u8]) -> Vec<PacketAt> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 4 <= stream.len() {
        let len = u32::from_le_bytes([stream[pos], stream[pos + 1], stream[pos + 2], 0]) as usize;
        out.push(PacketAt {
            offset: pos,
            len,
            first: stream.get(pos + 4).copied().filter(|_| len > 0),
        });
        pos += 4 + len;
    }
    out
}
