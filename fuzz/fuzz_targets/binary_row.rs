//! Arbitrary bytes as the binary protocol: a prepare response and a binary row.
//! The first bytes choose the columns' types and flags; the rest is fed to
//! `PrepareOk::parse` and to `BinaryRowDecoder::decode`. Decode or fail, never
//! panic; every value of a decoded row can be read, and a decoded row holds
//! one value per column.
#![no_main]

use gd_protocol::ColumnDef;
use gd_protocol::binary::{BinaryRowDecoder, PrepareOk};
use libfuzzer_sys::fuzz_target;

/// Wire types that have a binary layout of their own, and a few that do not.
const TYPES: [u8; 20] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 17, 18, 19, 246, 252, 253,
];

fuzz_target!(|data: &[u8]| {
    let _ = PrepareOk::parse(data);
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n % 24);
    if rest.len() < n {
        return;
    }
    let (types, row) = rest.split_at(n);
    let columns: Vec<ColumnDef> = types
        .iter()
        .map(|&t| ColumnDef {
            name: String::new(),
            table: String::new(),
            type_code: TYPES[usize::from(t) % TYPES.len()],
            charset: 63,
            length: 0,
            flags: if t & 0x80 != 0 { 0x20 } else { 0 },
            decimals: 0,
            ext_type_name: None,
            ext_format_name: None,
        })
        .collect();
    let mut decoder = BinaryRowDecoder::default();
    if let Ok(decoded) = decoder.decode(row, &columns) {
        assert_eq!(decoded.len(), columns.len());
        for i in 0..decoded.len() + 1 {
            let _ = decoded.get(i);
        }
    }
});
