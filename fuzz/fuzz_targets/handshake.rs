//! Arbitrary bytes as a server greeting followed by authentication packets:
//! parsing and the login state machine must fail cleanly, never panic.
#![no_main]

use gd_protocol::handshake::{Credentials, Greeting, Login, Negotiated};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First byte: length of the greeting; the rest split into packets at 0xAA.
    // The input's length picks the transport and the RSA-key policy, so that
    // the clear-password and caching_sha2 paths are reached too.
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (greeting, rest) = rest.split_at((n as usize).min(rest.len()));
    let Ok(g) = Greeting::parse(greeting) else {
        return;
    };
    let Ok(neg) = Negotiated::new(&g, true, false) else {
        return;
    };
    let creds = Credentials {
        user: "u",
        password: b"pw",
        database: Some("db"),
        secure_transport: data.len() % 2 == 0,
        server_public_key: None,
        get_server_public_key: data.len() % 4 >= 2,
    };
    let (mut login, response) = Login::start(&g, &neg, &creds);
    assert!(response.len() >= 32);
    for packet in rest.split(|&b| b == 0xAA) {
        if login.on_packet(packet).is_err() {
            break;
        }
    }
});
