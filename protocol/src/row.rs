//! Text-protocol rows decoded into borrowed fields.

use crate::error::ProtocolError;
use crate::reader::{NULL_MARKER, Reader};

/// Where one field lies in its row packet; `start == u32::MAX` means NULL
/// (past the end of any packet `decode` accepts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

const NULL_SPAN: Span = Span {
    start: u32::MAX,
    len: 0,
};

/// Decodes text rows into spans kept in one reused vector: no allocation per row.
#[derive(Debug, Default)]
pub struct RowDecoder {
    spans: Vec<Span>,
}

impl RowDecoder {
    /// A decoder for rows of `columns` fields.
    pub fn new(columns: usize) -> Self {
        Self {
            spans: Vec::with_capacity(columns),
        }
    }

    /// Splits `payload` into `columns` fields. Fails on truncation, on an
    /// invalid length and on bytes after the last field.
    #[inline]
    pub fn decode<'a>(
        &'a mut self,
        payload: &'a [u8],
        columns: usize,
    ) -> Result<RowView<'a>, ProtocolError> {
        // Spans are u32: a row packet is limited to 4 GiB - 1 here, far above
        // max_allowed_packet (1 GiB).
        if payload.len() >= u32::MAX as usize {
            return Err(ProtocolError::PacketTooLarge {
                size: payload.len() as u64,
                max: u64::from(u32::MAX) - 1,
            });
        }
        if self.decode_short_prefixes(payload, columns) {
            return Ok(RowView {
                payload,
                spans: &self.spans,
            });
        }
        self.decode_any(payload, columns)
    }

    /// The common case in one tight loop: every field NULL or shorter than
    /// 251 bytes (a one-byte length), and the packet exactly that long.
    /// Returns false on anything else, which [`RowDecoder::decode_any`]
    /// then decodes or reports.
    #[inline]
    fn decode_short_prefixes(&mut self, payload: &[u8], columns: usize) -> bool {
        // Spans are overwritten in place: no push, no capacity check per field.
        if self.spans.len() != columns {
            self.spans.clear();
            self.spans.resize(columns, NULL_SPAN);
        }
        let mut pos = 0usize;
        for span in &mut self.spans {
            *span = match payload.get(pos) {
                Some(&len @ 0..=0xFA) => {
                    let start = pos + 1;
                    pos = start + usize::from(len);
                    Span {
                        start: start as u32,
                        len: u32::from(len),
                    }
                }
                Some(&NULL_MARKER) => {
                    pos += 1;
                    NULL_SPAN
                }
                _ => return false,
            };
        }
        // A length past the end shows up here as pos > len.
        pos == payload.len()
    }

    /// Any row, with every length form and every error.
    #[cold]
    fn decode_any<'a>(
        &'a mut self,
        payload: &'a [u8],
        columns: usize,
    ) -> Result<RowView<'a>, ProtocolError> {
        self.spans.clear();
        let mut r = Reader::new(payload, "text row");
        for _ in 0..columns {
            if r.peek() == Some(NULL_MARKER) {
                r.u8()?;
                self.spans.push(NULL_SPAN);
            } else {
                let field = r.lenenc_bytes()?;
                let offset = r.position() - field.len();
                self.spans.push(Span {
                    start: offset as u32,
                    len: field.len() as u32,
                });
            }
        }
        r.finish()?;
        Ok(RowView {
            payload,
            spans: &self.spans,
        })
    }
}

/// One row: each field is NULL or a slice of the packet it came in.
#[derive(Debug, Clone, Copy)]
pub struct RowView<'a> {
    payload: &'a [u8],
    spans: &'a [Span],
}

impl<'a> RowView<'a> {
    /// Number of fields.
    #[inline]
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether the row has no fields.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Field `i`: `None` for SQL NULL, else its bytes. Panics if `i >= len()`,
    /// like slice indexing; callers iterate over their column list.
    #[inline]
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        let s = self.spans[i];
        if s.start == u32::MAX {
            None
        } else {
            // Spans were checked against this payload in `decode`.
            Some(&self.payload[s.start as usize..(s.start + s.len) as usize])
        }
    }

    /// The whole row packet the fields are slices of.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Where field `i` lies in [`RowView::payload`]: `None` for NULL. A
    /// field whose range starts one byte after the previous field's encoding
    /// ends had a one-byte length prefix, which lets writers copy runs of
    /// fields at once. Panics if `i >= len()`.
    #[inline]
    pub fn range(&self, i: usize) -> Option<std::ops::Range<usize>> {
        let s = self.spans[i];
        (s.start != u32::MAX).then(|| s.start as usize..(s.start + s.len) as usize)
    }

    /// The fields in order.
    #[inline]
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Option<&'a [u8]>> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::put_lenenc_bytes;
    use proptest::prelude::*;

    fn encode(fields: &[Option<Vec<u8>>]) -> Vec<u8> {
        let mut p = Vec::new();
        for f in fields {
            match f {
                None => p.push(0xFB),
                Some(b) => put_lenenc_bytes(&mut p, b),
            }
        }
        p
    }

    #[test]
    fn null_empty_and_values() {
        // Hand-built per the text row layout: "" is 0x00, NULL is 0xFB.
        let p = [0x00, 0xFB, 0x03, b'a', b'b', b'c'];
        let mut d = RowDecoder::new(3);
        let row = d.decode(&p, 3).unwrap();
        assert_eq!(row.get(0), Some(&b""[..]));
        assert_eq!(row.get(1), None);
        assert_eq!(row.get(2), Some(&b"abc"[..]));
        assert_eq!(row.range(0), Some(1..1));
        assert_eq!(row.range(1), None);
        assert_eq!(row.range(2), Some(3..6));
        assert_eq!(row.payload(), &p[..]);
    }

    #[test]
    fn field_count_must_match() {
        let p = [0x01, b'x', 0x01, b'y'];
        let mut d = RowDecoder::new(3);
        assert!(matches!(
            d.decode(&p, 3),
            Err(ProtocolError::Truncated { .. })
        ));
        assert!(matches!(
            d.decode(&p, 1),
            Err(ProtocolError::TrailingBytes { count: 2, .. })
        ));
        assert!(d.decode(&p, 2).is_ok());
    }

    #[test]
    fn length_longer_than_packet_is_rejected() {
        let p = [0xFD, 0xFF, 0xFF, 0x7F, b'a'];
        assert!(RowDecoder::new(1).decode(&p, 1).is_err());
        let p = [0xFE, 0, 0, 0, 0, 0, 0, 0, 0x10, b'a'];
        assert!(RowDecoder::new(1).decode(&p, 1).is_err());
    }

    proptest! {
        #[test]
        fn decode_inverts_encode(fields in proptest::collection::vec(
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..300)), 0..20)) {
            let p = encode(&fields);
            let mut d = RowDecoder::new(0);
            let row = d.decode(&p, fields.len()).unwrap();
            let got: Vec<Option<Vec<u8>>> = row.iter().map(|f| f.map(<[u8]>::to_vec)).collect();
            prop_assert_eq!(&got, &fields);
            for (i, f) in fields.iter().enumerate() {
                prop_assert_eq!(row.range(i).map(|r| &p[r]), f.as_deref());
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64), n in 0usize..8) {
            let _ = RowDecoder::new(n).decode(&bytes, n);
        }

        /// The one-byte-length loop accepts exactly what the general decoder
        /// accepts among such rows, with the same fields.
        #[test]
        fn fast_loop_agrees_with_the_general_decoder(
            bytes in proptest::collection::vec(
                prop_oneof![0u8..8, Just(0xFBu8), Just(0xFC), any::<u8>()], 0..48),
            n in 0usize..10,
        ) {
            let fields = |r: Result<RowView<'_>, ProtocolError>| {
                r.map(|v| v.iter().map(|f| f.map(<[u8]>::to_vec)).collect::<Vec<_>>())
                    .map_err(|e| e.to_string())
            };
            let mut fast = RowDecoder::new(n);
            let mut general = RowDecoder::new(n);
            let via_fast = fields(fast.decode(&bytes, n));
            let via_general = fields(general.decode_any(&bytes, n));
            prop_assert_eq!(via_fast, via_general);
        }
    }
}
