//! Parquet writer: arbitrary text in columns of every kind the writer maps.
//! The writer either refuses the export (a value its column cannot hold,
//! reported through `take_error`) or writes a file that the `parquet` crate
//! reads back with every row, NULLs where the fields were NULL, and string
//! and binary values byte for byte. It never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, Vec<u8>, Vec<Option<Vec<u8>>>)| {
    let (options, kinds, fields) = input;
    gold_digger_fuzz::check_parquet(options, &kinds, &fields);
});
