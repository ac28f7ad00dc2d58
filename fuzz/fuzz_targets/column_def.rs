//! Arbitrary bytes as a column definition, with and without MariaDB's
//! extended metadata: parse or fail, never panic.
#![no_main]

use gd_protocol::ColumnDef;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for ext in [false, true] {
        if let Ok(c) = ColumnDef::parse(data, ext) {
            let _ = c.kind();
            assert!(c.name.len() <= data.len() * 3);
        }
    }
});
