//! Packet framing: 4-byte headers, sequence ids, 16 MiB continuation chunks.
//!
//! A payload of exactly `MAX_CHUNK` bytes means "continued in the next
//! packet"; a payload that is an exact multiple of it ends with an empty
//! packet. Single-chunk packets are returned as slices of the caller's
//! buffer; only multi-chunk packets are copied, into one reused vector.

use crate::error::ProtocolError;

/// Largest payload one packet carries; a chunk of this size is continued.
pub const MAX_CHUNK: usize = 0xFF_FFFF;

/// Length of a packet header.
pub const HEADER_LEN: usize = 4;

/// What [`Framer::decode`] found at the start of its input.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// The input must hold at least this many bytes before decoding can go on.
    NeedMore(usize),
    /// A continuation chunk was stored; drop this many input bytes and call again.
    Chunk(usize),
    /// A complete logical packet, and how many input bytes to drop after using it.
    Packet {
        /// The (joined) payload.
        payload: &'a [u8],
        /// Input bytes this packet occupied.
        consumed: usize,
    },
}

/// Splits a byte stream into packets and checks their sequence ids.
///
/// The same sequence counter numbers the packets we send, so one `Framer`
/// drives both directions of a command exchange.
#[derive(Debug)]
pub struct Framer {
    seq: u8,
    max_payload: u64,
    joined: Vec<u8>,
    joining: bool,
}

impl Framer {
    /// A framer that refuses logical packets larger than `max_payload` bytes.
    pub fn new(max_payload: u64) -> Self {
        Self {
            seq: 0,
            max_payload,
            joined: Vec::new(),
            joining: false,
        }
    }

    /// Starts a new command exchange: the next packet (ours) has sequence id 0.
    pub fn reset_seq(&mut self) {
        self.seq = 0;
        self.joining = false;
        self.joined.clear();
    }

    /// The sequence id the next packet will carry.
    pub fn next_seq(&self) -> u8 {
        self.seq
    }

    /// Appends `payload` as one or more packets, numbered from the current
    /// sequence id.
    pub fn encode(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        let mut rest = payload;
        loop {
            let n = rest.len().min(MAX_CHUNK);
            out.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
            out.push(self.seq);
            self.seq = self.seq.wrapping_add(1);
            out.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if n < MAX_CHUNK {
                break;
            }
        }
    }

    /// Decodes the packet at the start of `input`.
    #[inline]
    pub fn decode<'a>(&'a mut self, input: &'a [u8]) -> Result<Decoded<'a>, ProtocolError> {
        if !self.joining && !self.joined.is_empty() {
            // The previous call returned the joined payload; it has been used.
            self.joined.clear();
        }
        let Some(header) = input.first_chunk::<HEADER_LEN>() else {
            return Ok(Decoded::NeedMore(HEADER_LEN));
        };
        let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
        if header[3] != self.seq {
            return Err(ProtocolError::SequenceMismatch {
                expected: self.seq,
                got: header[3],
            });
        }
        let logical = self.joined.len() as u64 + len as u64;
        if logical > self.max_payload {
            return Err(ProtocolError::PacketTooLarge {
                size: logical,
                max: self.max_payload,
            });
        }
        let consumed = HEADER_LEN + len;
        let Some(chunk) = input.get(HEADER_LEN..consumed) else {
            return Ok(Decoded::NeedMore(consumed));
        };
        self.seq = self.seq.wrapping_add(1);
        if len == MAX_CHUNK {
            self.joining = true;
            self.joined.extend_from_slice(chunk);
            return Ok(Decoded::Chunk(consumed));
        }
        if self.joining {
            self.joining = false;
            self.joined.extend_from_slice(chunk);
            return Ok(Decoded::Packet {
                payload: &self.joined,
                consumed,
            });
        }
        Ok(Decoded::Packet {
            payload: chunk,
            consumed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `stream` through a framer in pieces of `step` bytes, as a socket would.
    fn drain(
        framer: &mut Framer,
        stream: &[u8],
        step: usize,
    ) -> Result<Vec<Vec<u8>>, ProtocolError> {
        let mut out = Vec::new();
        let (mut start, mut end) = (0, 0);
        loop {
            match framer.decode(&stream[start..end])? {
                Decoded::NeedMore(_) if end == stream.len() => return Ok(out),
                Decoded::NeedMore(_) => end = (end + step).min(stream.len()),
                Decoded::Chunk(n) => start += n,
                Decoded::Packet { payload, consumed } => {
                    out.push(payload.to_vec());
                    start += consumed;
                }
            }
        }
    }

    #[test]
    fn small_packets_in_order() {
        // Two packets: "abc" seq 0 and "" seq 1, header bytes written by hand.
        let stream = [3, 0, 0, 0, b'a', b'b', b'c', 0, 0, 0, 1];
        let mut f = Framer::new(1 << 30);
        for step in 1..stream.len() {
            f.reset_seq();
            assert_eq!(
                drain(&mut f, &stream, step).unwrap(),
                vec![b"abc".to_vec(), vec![]]
            );
        }
    }

    #[test]
    fn wrong_sequence_is_rejected() {
        let mut f = Framer::new(1 << 30);
        let err = f.decode(&[1, 0, 0, 5, b'x']).unwrap_err();
        assert_eq!(
            err,
            ProtocolError::SequenceMismatch {
                expected: 0,
                got: 5
            }
        );
    }

    #[test]
    fn sequence_wraps_at_255() {
        let mut stream = Vec::new();
        for i in 0..600u32 {
            stream.extend_from_slice(&[1, 0, 0, (i % 256) as u8, b'x']);
        }
        let mut f = Framer::new(1 << 30);
        assert_eq!(drain(&mut f, &stream, 4096).unwrap().len(), 600);
    }

    #[test]
    fn continuation_chunks_are_joined() {
        // A payload of MAX_CHUNK + 10 bytes: one full chunk, then 10 bytes.
        let payload: Vec<u8> = (0..MAX_CHUNK + 10).map(|i| (i % 251) as u8).collect();
        let mut stream = Vec::new();
        Framer::new(u64::MAX).encode(&payload, &mut stream);
        assert_eq!(stream.len(), payload.len() + 8);
        assert_eq!(&stream[..4], &[0xFF, 0xFF, 0xFF, 0]);
        assert_eq!(&stream[MAX_CHUNK + 4..MAX_CHUNK + 8], &[10, 0, 0, 1]);
        let got = drain(&mut Framer::new(1 << 30), &stream, 1 << 20).unwrap();
        assert_eq!(got.len(), 1);
        assert!(got[0] == payload);
    }

    #[test]
    fn exact_multiple_ends_with_empty_packet() {
        let payload = vec![7u8; MAX_CHUNK];
        let mut stream = Vec::new();
        Framer::new(u64::MAX).encode(&payload, &mut stream);
        assert_eq!(stream.len(), MAX_CHUNK + 8);
        assert_eq!(&stream[MAX_CHUNK + 4..], &[0, 0, 0, 1]);
        // A packet after it must come out on its own.
        stream.extend_from_slice(&[1, 0, 0, 2, b'z']);
        let got = drain(&mut Framer::new(1 << 30), &stream, 1 << 22).unwrap();
        assert_eq!(got.len(), 2);
        assert!(got[0] == payload);
        assert_eq!(got[1], b"z");
    }

    #[test]
    fn oversized_packet_fails_before_its_bytes_arrive() {
        let mut f = Framer::new(1000);
        // Header claims 0xFFFFFF bytes; none of them are here yet.
        let err = f.decode(&[0xFF, 0xFF, 0xFF, 0]).unwrap_err();
        assert!(matches!(
            err,
            ProtocolError::PacketTooLarge { max: 1000, .. }
        ));
        // A continued packet is limited by its joined size.
        let mut f = Framer::new(MAX_CHUNK as u64 + 5);
        let mut stream = Vec::new();
        Framer::new(u64::MAX).encode(&vec![1u8; MAX_CHUNK + 6], &mut stream);
        assert!(matches!(
            drain(&mut f, &stream, 1 << 22),
            Err(ProtocolError::PacketTooLarge { .. })
        ));
    }
}
