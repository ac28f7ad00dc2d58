//! JSON writer: arbitrary fields under every column kind give a document
//! serde_json parses, with every value typed and encoded as the rules say.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, Vec<u8>, Vec<Option<Vec<u8>>>)| {
    let (options, kinds, fields) = input;
    gold_digger_fuzz::check_json(options, &kinds, &fields);
});
