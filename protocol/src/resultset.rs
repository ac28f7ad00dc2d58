//! The response to COM_QUERY: OK, ERR, LOCAL INFILE or text result sets.
//!
//! [`QueryDecoder`] is a state machine fed one logical packet at a time. It
//! yields column definitions once per result set, then borrowed rows, then
//! the terminator, and follows `SERVER_MORE_RESULTS_EXISTS` into the next
//! result set.

use crate::column::ColumnDef;
use crate::error::ProtocolError;
use crate::framing::MAX_CHUNK;
use crate::packets::{
    EOF_HEADER, ERR_HEADER, LOCAL_INFILE_HEADER, OK_HEADER, Status, err_packet_error,
};
use crate::reader::Reader;
use crate::row::{RowDecoder, RowView};

/// Most columns a result set may announce. Servers allow 4096 per table; a
/// select list of expressions stays far below this. Anything larger is a
/// corrupt or hostile packet.
pub const MAX_COLUMNS: u64 = 1 << 16;

/// What one packet meant.
#[derive(Debug)]
pub enum Event<'a> {
    /// The statement produced no result set.
    Ok(Status),
    /// Nothing for the caller (a column definition or an intermediate EOF).
    Continue,
    /// All column definitions of a result set arrived: see [`QueryDecoder::columns`].
    Columns,
    /// One row of the current result set.
    Row(RowView<'a>),
    /// The current result set ended; `more_results()` says whether another follows.
    End(Status),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Response,
    ColumnDefs { remaining: u64 },
    ColumnsEof,
    Rows,
    Done,
}

/// Decodes the packets that answer one COM_QUERY.
#[derive(Debug)]
pub struct QueryDecoder {
    state: State,
    deprecate_eof: bool,
    extended_metadata: bool,
    columns: Vec<ColumnDef>,
    rows: RowDecoder,
    result_sets: u64,
}

impl QueryDecoder {
    /// A decoder for a session that negotiated `CLIENT_DEPRECATE_EOF`
    /// (`deprecate_eof`) and MariaDB's extended metadata (`extended_metadata`).
    pub fn new(deprecate_eof: bool, extended_metadata: bool) -> Self {
        Self {
            state: State::Response,
            deprecate_eof,
            extended_metadata,
            columns: Vec::new(),
            rows: RowDecoder::default(),
            result_sets: 0,
        }
    }

    /// Columns of the current result set.
    pub fn columns(&self) -> &[ColumnDef] {
        &self.columns
    }

    /// How many result sets have begun: a new number means new columns.
    pub fn result_sets(&self) -> u64 {
        self.result_sets
    }

    /// Whether the whole response (every result set) has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes one logical packet.
    #[inline]
    pub fn feed<'a>(&'a mut self, payload: &'a [u8]) -> Result<Event<'a>, ProtocolError> {
        match self.state {
            State::Rows => self.row_or_end(payload),
            State::Response => self.response(payload),
            State::ColumnDefs { remaining } => {
                if payload.first() == Some(&ERR_HEADER) {
                    return Err(err_packet_error(payload));
                }
                self.columns
                    .push(ColumnDef::parse(payload, self.extended_metadata)?);
                self.state = match (remaining - 1, self.deprecate_eof) {
                    (0, true) => State::Rows,
                    (0, false) => State::ColumnsEof,
                    (n, _) => State::ColumnDefs { remaining: n },
                };
                Ok(match self.state {
                    State::Rows => Event::Columns,
                    _ => Event::Continue,
                })
            }
            State::ColumnsEof => {
                if payload.first() == Some(&ERR_HEADER) {
                    return Err(err_packet_error(payload));
                }
                if payload.first() != Some(&EOF_HEADER) || payload.len() >= 9 {
                    return Err(ProtocolError::unexpected(
                        "waiting for the EOF after the column definitions",
                        payload,
                    ));
                }
                Status::parse_eof(payload)?;
                self.state = State::Rows;
                Ok(Event::Columns)
            }
            State::Done => Err(ProtocolError::unexpected(
                "the response was complete",
                payload,
            )),
        }
    }

    fn response<'a>(&'a mut self, payload: &'a [u8]) -> Result<Event<'a>, ProtocolError> {
        match payload.first() {
            Some(&OK_HEADER) => {
                let status = Status::parse_ok(payload)?;
                self.after_terminator(status);
                Ok(Event::Ok(status))
            }
            Some(&ERR_HEADER) => {
                self.state = State::Done;
                Err(err_packet_error(payload))
            }
            Some(&LOCAL_INFILE_HEADER) => {
                self.state = State::Done;
                Err(ProtocolError::LocalInfileRefused {
                    file: String::from_utf8_lossy(&payload[1..]).into_owned(),
                })
            }
            _ => {
                let mut r = Reader::new(payload, "column count");
                let count = r.lenenc_int()?;
                r.finish()?;
                if count == 0 {
                    // Only reachable through a non-minimal encoding (0xFC 0x00 0x00).
                    return Err(ProtocolError::unexpected(
                        "reading the column count",
                        payload,
                    ));
                }
                if count > MAX_COLUMNS {
                    return Err(ProtocolError::TooManyColumns {
                        count,
                        max: MAX_COLUMNS,
                    });
                }
                self.columns.clear();
                self.result_sets += 1;
                // Reserve for what a packet can carry, not for what it claims.
                self.columns.reserve(count.min(256) as usize);
                self.state = State::ColumnDefs { remaining: count };
                Ok(Event::Continue)
            }
        }
    }

    /// Whether `payload`, the next packet, is a row of the current result
    /// set: what [`QueryDecoder::feed`] would return as [`Event::Row`] if it
    /// decodes. A caller with its own walk over the row's fields may take it
    /// from here (the packet then counts as fed); if that walk refuses the
    /// packet, `feed` decodes it or reports what is wrong with it.
    #[inline]
    pub fn is_row(&self, payload: &[u8]) -> bool {
        self.state == State::Rows && !self.ends_rows(payload)
    }

    /// Whether a packet in the rows state is the terminator or an ERR
    /// rather than a row.
    #[inline]
    fn ends_rows(&self, payload: &[u8]) -> bool {
        match payload.first() {
            // A row whose first field is >= 2^24 bytes also starts with 0xFE,
            // but then its payload fills at least one whole chunk.
            Some(&EOF_HEADER) if self.deprecate_eof => payload.len() < MAX_CHUNK,
            Some(&EOF_HEADER) => payload.len() < 9,
            Some(&ERR_HEADER) => true,
            _ => false,
        }
    }

    #[inline]
    fn row_or_end<'a>(&'a mut self, payload: &'a [u8]) -> Result<Event<'a>, ProtocolError> {
        if !self.ends_rows(payload) {
            return Ok(Event::Row(self.rows.decode(payload, self.columns.len())?));
        }
        if payload.first() == Some(&ERR_HEADER) {
            self.state = State::Done;
            return Err(err_packet_error(payload));
        }
        let status = if self.deprecate_eof {
            Status::parse_ok(payload)?
        } else {
            Status::parse_eof(payload)?
        };
        self.after_terminator(status);
        Ok(Event::End(status))
    }

    fn after_terminator(&mut self, status: Status) {
        self.state = if status.more_results() {
            State::Response
        } else {
            State::Done
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column::tests::column_packet;
    use crate::reader::put_lenenc_bytes;

    const EOF_OK: &[u8] = &[0xFE, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00];
    const EOF_OK_MORE: &[u8] = &[0xFE, 0x00, 0x00, 0x0A, 0x00, 0x00, 0x00];
    const LEGACY_EOF: &[u8] = &[0xFE, 0x00, 0x00, 0x02, 0x00];

    fn rows_of(d: &mut QueryDecoder, packets: &[Vec<u8>]) -> Result<Vec<String>, ProtocolError> {
        let mut log = Vec::new();
        for p in packets {
            // `is_row` must say in advance what `feed` makes of the packet.
            let is_row = d.is_row(p);
            let event = d.feed(p)?;
            assert_eq!(is_row, matches!(event, Event::Row(_)), "{p:?}");
            match event {
                Event::Ok(_) => log.push("ok".to_string()),
                Event::Continue => {}
                Event::Columns => log.push(format!("columns {}", d.columns().len())),
                Event::Row(r) => log.push(
                    r.iter()
                        .map(|f| {
                            f.map_or("NULL".into(), |b| String::from_utf8_lossy(b).into_owned())
                        })
                        .collect::<Vec<_>>()
                        .join("|"),
                ),
                Event::End(s) => log.push(format!("end more={}", s.more_results())),
            }
        }
        Ok(log)
    }

    fn text_row(fields: &[&[u8]]) -> Vec<u8> {
        let mut p = Vec::new();
        for f in fields {
            put_lenenc_bytes(&mut p, f);
        }
        p
    }

    #[test]
    fn result_set_with_deprecate_eof() {
        let packets = vec![
            vec![2],
            column_packet("a", 3, 63, 0, None),
            column_packet("b", 253, 45, 0, None),
            text_row(&[b"1", b""]),
            vec![0x01, b'2', 0xFB],
            EOF_OK.to_vec(),
        ];
        let mut d = QueryDecoder::new(true, false);
        assert_eq!(
            rows_of(&mut d, &packets).unwrap(),
            ["columns 2", "1|", "2|NULL", "end more=false"]
        );
        assert!(d.is_done());
    }

    #[test]
    fn result_set_with_legacy_eof() {
        let packets = vec![
            vec![1],
            column_packet("a", 3, 63, 0, None),
            LEGACY_EOF.to_vec(),
            text_row(&[b"7"]),
            LEGACY_EOF.to_vec(),
        ];
        let mut d = QueryDecoder::new(false, false);
        assert_eq!(
            rows_of(&mut d, &packets).unwrap(),
            ["columns 1", "7", "end more=false"]
        );
    }

    #[test]
    fn first_field_empty_string_is_a_row_not_ok() {
        // A row whose first field is "" starts with 0x00, the OK header.
        let packets = vec![
            vec![1],
            column_packet("a", 253, 45, 0, None),
            vec![0x00],
            EOF_OK.to_vec(),
        ];
        let mut d = QueryDecoder::new(true, false);
        assert_eq!(
            rows_of(&mut d, &packets).unwrap(),
            ["columns 1", "", "end more=false"]
        );
    }

    #[test]
    fn row_starting_with_0xfe_is_a_row() {
        // A first field of 2^24 bytes is encoded 0xFE + u64 length.
        let field = vec![b'x'; 1 << 24];
        let mut row = vec![0xFE];
        row.extend_from_slice(&(field.len() as u64).to_le_bytes());
        row.extend_from_slice(&field);
        let mut d = QueryDecoder::new(true, false);
        d.feed(&[1]).unwrap();
        d.feed(&column_packet("big", 251, 45, 0, None)).unwrap();
        assert!(d.is_row(&row));
        match d.feed(&row).unwrap() {
            Event::Row(r) => assert_eq!(r.get(0).map(<[u8]>::len), Some(1 << 24)),
            other => panic!("expected a row, got {other:?}"),
        }
        assert!(matches!(d.feed(EOF_OK).unwrap(), Event::End(_)));
    }

    #[test]
    fn err_after_rows_is_an_error() {
        let mut d = QueryDecoder::new(true, false);
        d.feed(&[1]).unwrap();
        d.feed(&column_packet("a", 3, 63, 0, None)).unwrap();
        d.feed(&text_row(&[b"1"])).unwrap();
        let packet = b"\xff\x25\x05#70100Query execution was interrupted";
        assert!(!d.is_row(packet));
        let err = d.feed(packet).unwrap_err();
        match err {
            ProtocolError::Server(e) => assert_eq!(e.code, 1317),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn multiple_result_sets() {
        let packets = vec![
            vec![1],
            column_packet("a", 3, 63, 0, None),
            text_row(&[b"1"]),
            EOF_OK_MORE.to_vec(),
            vec![1],
            column_packet("b", 3, 63, 0, None),
            text_row(&[b"2"]),
            EOF_OK_MORE.to_vec(),
            vec![0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00],
        ];
        let mut d = QueryDecoder::new(true, false);
        assert_eq!(
            rows_of(&mut d, &packets).unwrap(),
            [
                "columns 1",
                "1",
                "end more=true",
                "columns 1",
                "2",
                "end more=true",
                "ok"
            ]
        );
        assert!(d.is_done());
        assert!(d.feed(&[0]).is_err());
    }

    #[test]
    fn local_infile_is_refused() {
        let mut d = QueryDecoder::new(true, false);
        match d.feed(b"\xfb/etc/passwd").unwrap_err() {
            ProtocolError::LocalInfileRefused { file } => assert_eq!(file, "/etc/passwd"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hostile_column_counts() {
        // 2^60 columns.
        let mut p = vec![0xFE];
        p.extend_from_slice(&(1u64 << 60).to_le_bytes());
        assert!(matches!(
            QueryDecoder::new(true, false).feed(&p),
            Err(ProtocolError::TooManyColumns { .. })
        ));
        // A column count followed by junk.
        assert!(QueryDecoder::new(true, false).feed(&[1, 2]).is_err());
        // Zero columns in a non-minimal encoding.
        assert!(QueryDecoder::new(true, false).feed(&[0xFC, 0, 0]).is_err());
        // Empty packet.
        assert!(QueryDecoder::new(true, false).feed(&[]).is_err());
    }

    #[test]
    fn row_with_wrong_field_count_is_an_error() {
        let mut d = QueryDecoder::new(true, false);
        d.feed(&[2]).unwrap();
        d.feed(&column_packet("a", 3, 63, 0, None)).unwrap();
        d.feed(&column_packet("b", 3, 63, 0, None)).unwrap();
        assert!(d.feed(&text_row(&[b"1"])).is_err());
    }
}
