//! Issue 5: what a broken or malicious server can send, case by case. Every case must end in
//! a `ProtocolError` (never a panic) and must not allocate what the bytes only claim.

use crate::column::ColumnDef;
use crate::column::tests::column_packet;
use crate::error::ProtocolError;
use crate::framing::{Decoded, Framer, MAX_CHUNK};
use crate::handshake::tests::{creds, mariadb_greeting};
use crate::handshake::{AuthStep, Greeting, Login, Negotiated};
use crate::packets::{Status, parse_err};
use crate::resultset::{Event, QueryDecoder};

/// A decoder (DEPRECATE_EOF, no extended metadata) that has read one INT column.
fn decoder_after_columns(deprecate_eof: bool) -> QueryDecoder {
    let mut d = QueryDecoder::new(deprecate_eof, false);
    d.feed(&[1]).unwrap();
    d.feed(&column_packet("a", 3, 63, 0, None)).unwrap();
    if !deprecate_eof {
        d.feed(&[0xFE, 0, 0, 2, 0]).unwrap();
    }
    d
}

#[test]
fn a_header_claiming_more_than_the_maximum_fails_before_any_byte_arrives() {
    // Framer at the default 1 GiB: a chain of full chunks whose sum would pass 1 GiB is
    // refused at the header that crosses it. Simulated with a small maximum so the test
    // holds two chunks, not 64.
    let max = 2 * MAX_CHUNK as u64 + 10;
    let mut f = Framer::new(max);
    let chunk = vec![0x41u8; MAX_CHUNK];
    for seq in 0..2u8 {
        let mut p = vec![0xFF, 0xFF, 0xFF, seq];
        p.extend_from_slice(&chunk);
        assert_eq!(f.decode(&p).unwrap(), Decoded::Chunk(p.len()));
    }
    // The third header alone (no payload yet) already says too much.
    match f.decode(&[0xFF, 0xFF, 0xFF, 2]).unwrap_err() {
        ProtocolError::PacketTooLarge { size, max: m } => {
            assert_eq!((size, m), (3 * MAX_CHUNK as u64, max));
        }
        other => panic!("{other:?}"),
    }
    // Within the limit, a 16 MiB header only asks for more bytes: the caller decides
    // how to wait for them (the client grows its buffer only as they arrive).
    let mut f = Framer::new(1 << 30);
    assert_eq!(
        f.decode(&[0xFF, 0xFF, 0xFF, 0]).unwrap(),
        Decoded::NeedMore(MAX_CHUNK + 4)
    );
}

#[test]
fn wrong_sequence_inside_a_continuation_is_refused() {
    let mut f = Framer::new(1 << 30);
    let mut p = vec![0xFF, 0xFF, 0xFF, 0];
    p.extend_from_slice(&vec![0u8; MAX_CHUNK]);
    assert!(matches!(f.decode(&p).unwrap(), Decoded::Chunk(_)));
    assert_eq!(
        f.decode(&[1, 0, 0, 7, b'x']).unwrap_err(),
        ProtocolError::SequenceMismatch {
            expected: 1,
            got: 7
        }
    );
}

#[test]
fn a_field_claiming_one_gib_in_a_small_row_is_truncation() {
    // Legacy EOF mode: a 0xFE packet of 9 bytes or more is a row (with DEPRECATE_EOF any
    // short 0xFE packet is the terminator, by MariaDB's rule).
    let mut d = decoder_after_columns(false);
    // 0xFE + u64 length 2^30, and three bytes of data.
    let mut row = vec![0xFE];
    row.extend_from_slice(&(1u64 << 30).to_le_bytes());
    row.extend_from_slice(b"abc");
    match d.feed(&row).unwrap_err() {
        ProtocolError::Truncated {
            needed, available, ..
        } => assert_eq!((needed, available), (1 << 30, 3)),
        other => panic!("{other:?}"),
    }
    // 0xFD + 16 MiB - 1 in a small row.
    let mut d = decoder_after_columns(true);
    assert!(matches!(
        d.feed(&[0xFD, 0xFF, 0xFF, 0xFF, b'a']),
        Err(ProtocolError::Truncated { .. })
    ));
    // Length prefixes that stop inside the packet.
    for row in [&[0xFC, 0x01][..], &[0xFD, 1, 2]] {
        let mut d = decoder_after_columns(true);
        assert!(d.feed(row).is_err(), "{row:?}");
    }
    // 0xFF is never a length.
    let mut d = decoder_after_columns(false);
    assert!(d.feed(&[0xFF]).is_err());
}

#[test]
fn column_count_of_one_gib_and_two_to_the_sixty() {
    for count in [1u64 << 30, 1 << 60, u64::MAX] {
        let mut p = vec![0xFE];
        p.extend_from_slice(&count.to_le_bytes());
        assert!(matches!(
            QueryDecoder::new(true, true).feed(&p),
            Err(ProtocolError::TooManyColumns { .. })
        ));
    }
}

#[test]
fn column_definitions_with_lengths_longer_than_the_packet() {
    let good = column_packet("name", 253, 45, 0, None);
    assert!(ColumnDef::parse(&good, false).is_ok());
    // The catalog "def" claims 200 bytes.
    let mut p = good.clone();
    p[0] = 200;
    assert!(matches!(
        ColumnDef::parse(&p, false),
        Err(ProtocolError::Truncated { .. })
    ));
    // The name claims 2^30 bytes (0xFD u24 is at most 2^24; use 0xFE u64).
    let mut p = Vec::new();
    for s in ["def", "db", "t", "t"] {
        p.push(s.len() as u8);
        p.extend_from_slice(s.as_bytes());
    }
    p.push(0xFE);
    p.extend_from_slice(&(1u64 << 30).to_le_bytes());
    p.extend_from_slice(b"name");
    assert!(ColumnDef::parse(&p, false).is_err());
    // Extended metadata: a chunk longer than its blob, and a blob longer than the packet.
    let ext = column_packet("j", 252, 45, 0, Some(&[1, 10, b'j', b's']));
    assert!(ColumnDef::parse(&ext, true).is_err());
    let mut ext = column_packet("j", 252, 45, 0, Some(b"\x01\x04json"));
    assert!(ColumnDef::parse(&ext, true).is_ok());
    let blob_len_at = ext.len() - 13 - 7;
    ext[blob_len_at] = 250;
    assert!(ColumnDef::parse(&ext, true).is_err());
    // The fixed part claims fewer than 12 bytes, or is cut short.
    let mut p = good.clone();
    let fixed_at = p.len() - 13;
    p[fixed_at] = 0x05;
    assert!(ColumnDef::parse(&p, false).is_err());
    for cut in 0..good.len() {
        assert!(ColumnDef::parse(&good[..cut], false).is_err(), "cut {cut}");
    }
    // Trailing bytes (a COM_FIELD_LIST default value) in a result set.
    let mut p = good;
    p.push(0);
    assert!(matches!(
        ColumnDef::parse(&p, false),
        Err(ProtocolError::TrailingBytes { .. })
    ));
}

#[test]
fn malformed_terminators_and_eof_packets() {
    // DEPRECATE_EOF: the OK-as-EOF cut short or with a bad lenenc.
    for ok in [
        &[0xFE][..],
        &[0xFE, 0x00],
        &[0xFE, 0x00, 0x00, 0x02],
        &[0xFE, 0xFF, 0, 2, 0, 0, 0],
    ] {
        let mut d = decoder_after_columns(true);
        assert!(d.feed(ok).is_err(), "{ok:?}");
    }
    // Legacy EOF cut short.
    for eof in [&[0xFE][..], &[0xFE, 0x00, 0x00], &[0xFE, 0, 0, 2]] {
        let mut d = decoder_after_columns(false);
        assert!(d.feed(eof).is_err(), "{eof:?}");
    }
    // Legacy mode: a row where the EOF after the definitions must be.
    let mut d = QueryDecoder::new(false, false);
    d.feed(&[1]).unwrap();
    d.feed(&column_packet("a", 3, 63, 0, None)).unwrap();
    assert!(matches!(
        d.feed(&[1, b'7']),
        Err(ProtocolError::UnexpectedPacket { .. })
    ));
    // The parsers on their own.
    assert!(Status::parse_ok(&[0x00, 0xFC, 0x01]).is_err());
    assert!(Status::parse_eof(&[0xFE, 0x00]).is_err());
    assert!(Status::parse_ok(&[]).is_err());
}

#[test]
fn err_packets_cut_short_still_end_cleanly() {
    for p in [&[0xFF][..], &[0xFF, 0x15], &[0xFF, 0x15, 0x04, b'#', b'2']] {
        let _ = parse_err(p); // an error or a best-effort message, never a panic
        let mut d = decoder_after_columns(true);
        assert!(d.feed(p).is_err(), "{p:?}");
        let mut d = QueryDecoder::new(true, false);
        assert!(d.feed(p).is_err(), "{p:?}");
    }
}

#[test]
fn local_infile_after_a_result_set_is_refused_too() {
    // A multi-result response whose second answer is a LOCAL INFILE request.
    let mut d = QueryDecoder::new(true, false);
    d.feed(&[1]).unwrap();
    d.feed(&column_packet("a", 3, 63, 0, None)).unwrap();
    assert!(matches!(
        d.feed(&[0xFE, 0, 0, 0x0A, 0, 0, 0]).unwrap(),
        Event::End(_)
    ));
    assert!(matches!(
        d.feed(b"\xfb/root/.ssh/id_rsa"),
        Err(ProtocolError::LocalInfileRefused { .. })
    ));
}

fn login() -> Login {
    let g = Greeting::parse(&mariadb_greeting("mysql_native_password")).unwrap();
    let n = Negotiated::new(&g, false, false).unwrap();
    let creds = creds("u", b"pw", false);
    Login::start(&g, &n, &creds).0
}

#[test]
fn auth_switch_garbage() {
    let garbage: [&[u8]; 9] = [
        b"",                        // empty packet
        b"\x42junk",                // unknown first byte
        b"\xfe",                    // switch to the pre-4.1 hash
        b"\xfe\xff\xfe\x00nonce",   // plugin name that is not UTF-8
        b"\xfeno_such_plugin\0abc", // unknown plugin
        b"\xfedialog\0",            // a plugin we do not speak
        b"\x01\x04",                // "more data" outside caching_sha2
        b"\x01",                    // "more data" with no data
        b"\x00\xfc",                // OK with a truncated lenenc
    ];
    for p in garbage {
        assert!(login().on_packet(p).is_err(), "{p:?}");
    }
    // A second switch after a first one is refused.
    let mut l = login();
    assert!(matches!(
        l.on_packet(b"\xfemysql_native_password\0abcdefghijklmnopqrst\0")
            .unwrap(),
        AuthStep::Send(_)
    ));
    assert!(matches!(
        l.on_packet(b"\xfemysql_native_password\0abcdefghijklmnopqrst\0"),
        Err(ProtocolError::UnexpectedPacket { .. })
    ));
    // A switch without a nonce still answers (with a scramble of the empty nonce).
    assert!(login().on_packet(b"\xfemysql_native_password").is_ok());
}
