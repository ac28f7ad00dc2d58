//! Arbitrary bytes as a server's response to COM_QUERY, through the framer
//! and the result-set decoder: never a panic, every consumed count within
//! the input, every row field within its packet.
#![no_main]

use gd_protocol::framing::{Decoded, Framer};
use gd_protocol::resultset::{Event, QueryDecoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, input)) = data.split_first() else {
        return;
    };
    let mut framer = Framer::new(1 << 20);
    framer.encode(b"\x03q", &mut Vec::new());
    let mut decoder = QueryDecoder::new(flags & 1 != 0, flags & 2 != 0);
    let mut pos = 0;
    loop {
        match framer.decode(&input[pos..]) {
            Ok(Decoded::NeedMore(n)) => {
                assert!(n > input.len() - pos);
                break;
            }
            Ok(Decoded::Chunk(n)) => {
                assert!(n <= input.len() - pos);
                pos += n;
            }
            Ok(Decoded::Packet { payload, consumed }) => {
                assert!(consumed <= input.len() - pos);
                pos += consumed;
                match decoder.feed(payload) {
                    Ok(Event::Row(row)) => {
                        for field in row.iter().flatten() {
                            assert!(field.len() <= payload.len());
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
                if decoder.is_done() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
});
