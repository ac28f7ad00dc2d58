//! CSV writer: arbitrary fields, written and read back by the `csv` crate,
//! come back as written.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, Vec<u8>, Vec<Option<Vec<u8>>>)| {
    let (options, kinds, fields) = input;
    gold_digger_fuzz::check_delimited(b',', options, &kinds, &fields);
});
