//! A cursor over a packet payload where every read is checked.

use crate::error::ProtocolError;

/// The byte that stands for SQL NULL in place of a length in text rows.
pub const NULL_MARKER: u8 = 0xFB;

/// Reads values from a payload; every read checks the bytes it needs are there.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`; `what` names the packet in error messages.
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { buf, pos: 0, what }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Offset of the next byte to read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The next byte without consuming it.
    pub fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Takes exactly `n` bytes.
    #[inline]
    pub fn take(&mut self, n: u64) -> Result<&'a [u8], ProtocolError> {
        let available = self.remaining();
        if n > available as u64 {
            return Err(ProtocolError::truncated(self.what, n, available));
        }
        let n = n as usize;
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    /// Takes everything that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    /// One byte.
    #[inline]
    pub fn u8(&mut self) -> Result<u8, ProtocolError> {
        Ok(self.take(1)?[0])
    }

    /// A little-endian u16.
    #[inline]
    pub fn u16(&mut self) -> Result<u16, ProtocolError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    /// A little-endian u24.
    pub fn u24(&mut self) -> Result<u32, ProtocolError> {
        let b = self.take(3)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], 0]))
    }

    /// A little-endian u32.
    #[inline]
    pub fn u32(&mut self) -> Result<u32, ProtocolError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A little-endian u64.
    #[inline]
    pub fn u64(&mut self) -> Result<u64, ProtocolError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A length-encoded integer. 0xFB (NULL) and 0xFF are rejected: callers
    /// that accept NULL test for it first.
    #[inline]
    pub fn lenenc_int(&mut self) -> Result<u64, ProtocolError> {
        let first = self.u8()?;
        match first {
            0..=0xFA => Ok(u64::from(first)),
            0xFC => Ok(u64::from(self.u16()?)),
            0xFD => Ok(u64::from(self.u24()?)),
            0xFE => self.u64(),
            _ => Err(ProtocolError::BadLength {
                what: self.what,
                byte: first,
            }),
        }
    }

    /// A length-encoded string.
    #[inline]
    pub fn lenenc_bytes(&mut self) -> Result<&'a [u8], ProtocolError> {
        let n = self.lenenc_int()?;
        self.take(n)
    }

    /// Bytes up to a NUL, which is consumed but not returned.
    pub fn nul_terminated(&mut self) -> Result<&'a [u8], ProtocolError> {
        let rest = &self.buf[self.pos..];
        match rest.iter().position(|&b| b == 0) {
            Some(i) => {
                self.pos += i + 1;
                Ok(&rest[..i])
            }
            None => Err(ProtocolError::truncated(self.what, 1, 0)),
        }
    }

    /// Bytes up to a NUL or to the end of the packet (servers differ on the final NUL).
    pub fn nul_terminated_or_rest(&mut self) -> &'a [u8] {
        let rest = &self.buf[self.pos..];
        match rest.iter().position(|&b| b == 0) {
            Some(i) => {
                self.pos += i + 1;
                &rest[..i]
            }
            None => {
                self.pos = self.buf.len();
                rest
            }
        }
    }

    /// Fails unless every byte was read.
    pub fn finish(&self) -> Result<(), ProtocolError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(ProtocolError::TrailingBytes {
                what: self.what,
                count,
            }),
        }
    }
}

/// Appends `v` as a length-encoded integer.
pub fn put_lenenc_int(out: &mut Vec<u8>, v: u64) {
    match v {
        0..=0xFA => out.push(v as u8),
        0xFB..=0xFFFF => {
            out.push(0xFC);
            out.extend_from_slice(&(v as u16).to_le_bytes());
        }
        0x1_0000..=0xFF_FFFF => {
            out.push(0xFD);
            out.extend_from_slice(&(v as u32).to_le_bytes()[..3]);
        }
        _ => {
            out.push(0xFE);
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// Appends `bytes` as a length-encoded string.
pub fn put_lenenc_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_lenenc_int(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lenenc_boundaries_from_the_spec() {
        // Byte strings as written in the MySQL "Length-Encoded Integer" table.
        let cases: &[(&[u8], u64)] = &[
            (&[0x00], 0),
            (&[0xFA], 250),
            (&[0xFC, 0xFB, 0x00], 251),
            (&[0xFC, 0xFF, 0xFF], 0xFFFF),
            (&[0xFD, 0x00, 0x00, 0x01], 0x1_0000),
            (&[0xFD, 0xFF, 0xFF, 0xFF], 0xFF_FFFF),
            (&[0xFE, 0, 0, 0, 1, 0, 0, 0, 0], 1 << 24),
            (
                &[0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
                u64::MAX,
            ),
        ];
        for (bytes, want) in cases {
            let mut r = Reader::new(bytes, "test");
            assert_eq!(r.lenenc_int().unwrap(), *want, "{bytes:02X?}");
            r.finish().unwrap();
        }
    }

    #[test]
    fn lenenc_rejects_null_and_ff_and_truncation() {
        for bad in [
            &[0xFB][..],
            &[0xFF][..],
            &[0xFC, 0x01][..],
            &[0xFE, 1, 2, 3][..],
            &[][..],
        ] {
            assert!(Reader::new(bad, "test").lenenc_int().is_err(), "{bad:02X?}");
        }
    }

    #[test]
    fn lenenc_string_longer_than_packet_is_an_error() {
        let mut r = Reader::new(&[0x05, b'a', b'b'], "row");
        assert!(matches!(
            r.lenenc_bytes(),
            Err(ProtocolError::Truncated {
                needed: 5,
                available: 2,
                ..
            })
        ));
    }

    #[test]
    fn nul_terminated_requires_the_nul() {
        let mut r = Reader::new(b"abc\0de", "t");
        assert_eq!(r.nul_terminated().unwrap(), b"abc");
        assert!(r.nul_terminated().is_err());
        assert_eq!(r.nul_terminated_or_rest(), b"de");
    }

    proptest! {
        #[test]
        fn lenenc_round_trips(v in any::<u64>()) {
            let mut out = Vec::new();
            put_lenenc_int(&mut out, v);
            let mut r = Reader::new(&out, "p");
            prop_assert_eq!(r.lenenc_int().unwrap(), v);
            prop_assert!(r.finish().is_ok());
        }

        #[test]
        fn lenenc_never_reads_past_input(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            let mut r = Reader::new(&bytes, "p");
            let _ = r.lenenc_bytes();
            prop_assert!(r.position() <= bytes.len());
        }
    }
}
