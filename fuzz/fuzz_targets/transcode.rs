//! Arbitrary bytes as a binary row, transcoded to a text row. The first bytes
//! choose the columns' types, flags and decimals; the rest is the row. A
//! malformed row is an error, never a panic; a row that transcodes is a valid
//! text row with one field per column, and says the same as the binary
//! decoder about which values are NULL.
#![no_main]

use gd_protocol::binary::{BinaryRowDecoder, Value};
use gd_protocol::transcode::transcode_into;
use gd_protocol::{ColumnDef, RowDecoder};
use libfuzzer_sys::fuzz_target;

/// Wire types with a binary layout of their own, and a few without.
const TYPES: [u8; 20] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 245, 246, 252, 253, 254,
];

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n % 24);
    if rest.len() < 2 * n {
        return;
    }
    let (spec, row) = rest.split_at(2 * n);
    let columns: Vec<ColumnDef> = spec
        .chunks_exact(2)
        .map(|c| ColumnDef {
            name: String::new(),
            table: String::new(),
            type_code: TYPES[usize::from(c[0] % 20)],
            charset: 63,
            length: u32::from(c[1] & 0x1F),
            // UNSIGNED and ZEROFILL from the top bits.
            flags: u16::from(c[0] & 0x80) >> 2 | u16::from(c[0] & 0x40),
            // 0..=6 fraction digits, fixed decimals of floats, or 31.
            decimals: match c[1] >> 5 {
                7 => 31,
                d => d,
            },
            ext_type_name: None,
            ext_format_name: None,
        })
        .collect();
    let mut text = Vec::new();
    let transcoded = transcode_into(row, &columns, &mut text);
    let mut binary = BinaryRowDecoder::default();
    let decoded = binary.decode(row, &columns);
    let Ok(()) = transcoded else {
        // NaN and infinity are the transcoder's own refusals; every other
        // malformed row is malformed for the decoder too.
        if !matches!(transcoded, Err(gd_protocol::ProtocolError::NotFinite)) {
            assert!(
                decoded.is_err(),
                "transcoder refused a row the decoder takes"
            );
        }
        return;
    };
    let decoded = decoded.expect("the decoder takes what the transcoder takes");
    let mut rows = RowDecoder::default();
    let fields = rows
        .decode(&text, columns.len())
        .expect("the transcoded row is a valid text row");
    assert_eq!(fields.iter().count(), columns.len());
    for (i, field) in fields.iter().enumerate() {
        assert_eq!(field.is_none(), decoded.get(i) == Value::Null, "column {i}");
    }
});
