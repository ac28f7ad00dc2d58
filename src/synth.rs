//! Synthetic result-set streams shaped like the benchmark table
//! `bench.mixed` (`scripts/bench-mixed.sql`): the same 18 columns, wire types,
//! character sets and a similar mix of values, as the exact bytes a MariaDB
//! server sends (framed packets, sequence ids from 1).
//!
//! Benches and allocation guards run the real decode + write path over these
//! bytes without a server. Values are deterministic, not random.

use gd_protocol::framing::Framer;
use gd_protocol::reader::{put_lenenc_bytes, put_lenenc_int};

const BINARY: u16 = 63;
const UTF8MB4: u16 = 45;

/// (name, type code, charset, flags, MariaDB format name)
const COLUMNS: [(&str, u8, u16, u16, Option<&str>); 18] = [
    ("id", 8, BINARY, 0x1003, None),
    ("qty", 3, BINARY, 0x1001, None),
    ("uid", 8, BINARY, 0x1021, None),
    ("amount", 246, BINARY, 0x1001, None),
    ("ratio", 5, BINARY, 0x1001, None),
    ("score", 4, BINARY, 0x1001, None),
    ("day", 10, BINARY, 0x1081, None),
    ("created_at", 12, BINARY, 0x1081, None),
    ("updated_at", 7, BINARY, 0x1081, None),
    ("dur", 11, BINARY, 0x1081, None),
    ("name", 253, UTF8MB4, 0x1001, None),
    ("email", 253, UTF8MB4, 0x1001, None),
    ("note", 252, UTF8MB4, 0x1011, None),
    ("ref_code", 253, UTF8MB4, 0x0000, None),
    ("is_active", 1, BINARY, 0x1001, None),
    ("fingerprint", 253, BINARY, 0x1081, None),
    ("attrs", 252, UTF8MB4, 0x1091, Some("json")),
    ("status", 254, UTF8MB4, 0x1101, None),
];

const NOTES: [&str; 10] = [
    "a, b, c #",
    "say \"hi\" ",
    "tab\there\t",
    "line 1\nline 2 ",
    "C:\\temp\\",
    "café 中文 🎉 ",
    "x, \"y\"\tz\r\n\\ ü 😀 ",
    "",
    "NULL",
    "\\N",
];

/// The whole response to `SELECT * FROM bench.mixed` with `rows` rows:
/// column count, definitions (with MariaDB extended metadata when
/// `extended_metadata`), rows, and the terminating OK (DEPRECATE_EOF).
pub fn mixed_response(rows: u64, extended_metadata: bool) -> Vec<u8> {
    response(rows, extended_metadata, false)
}

/// The response with text rows, or with `binary` rows of the same values.
fn response(rows: u64, extended_metadata: bool, binary: bool) -> Vec<u8> {
    let mut framer = Framer::new(u64::MAX);
    framer.encode(b"\x03SELECT * FROM bench.mixed", &mut Vec::new());
    let mut out = Vec::with_capacity(rows as usize * 260 + 4096);
    let mut p = Vec::with_capacity(512);
    put_lenenc_int(&mut p, COLUMNS.len() as u64);
    framer.encode(&p, &mut out);
    for (name, ty, charset, flags, format) in COLUMNS {
        p.clear();
        for s in ["def", "bench", "mixed", "mixed", name, name] {
            put_lenenc_bytes(&mut p, s.as_bytes());
        }
        if extended_metadata {
            let mut ext = Vec::new();
            if let Some(f) = format {
                ext.extend_from_slice(&[1, f.len() as u8]);
                ext.extend_from_slice(f.as_bytes());
            }
            put_lenenc_bytes(&mut p, &ext);
        }
        // DECIMAL(14,4): 14 digits, the point and the sign (Parquet reads
        // precision and scale from these); 64 for the rest.
        let length: u32 = if ty == 246 { 16 } else { 64 };
        p.push(0x0C);
        p.extend_from_slice(&charset.to_le_bytes());
        p.extend_from_slice(&length.to_le_bytes());
        p.push(ty);
        p.extend_from_slice(&flags.to_le_bytes());
        // The decimals the server sends: DECIMAL(14,4), FLOAT and DOUBLE
        // without fixed decimals (31), DATETIME(6).
        let decimals = match name {
            "amount" => 4,
            "ratio" | "score" => 31,
            "created_at" => 6,
            _ => 0,
        };
        p.extend_from_slice(&[decimals, 0, 0]);
        framer.encode(&p, &mut out);
    }
    let mut field = Vec::with_capacity(128);
    let mut text = Vec::with_capacity(512);
    let mut spans = gd_protocol::RowDecoder::default();
    for seq in 1..=rows {
        p.clear();
        if binary {
            text.clear();
            mixed_row(seq, &mut text, &mut field);
            binary_row(&mut spans, &text, &mut p);
        } else {
            mixed_row(seq, &mut p, &mut field);
        }
        framer.encode(&p, &mut out);
    }
    framer.encode(&[0xFE, 0, 0, 0x22, 0, 0, 0], &mut out);
    out
}

/// The response to the same query as a prepared statement (COM_STMT_EXECUTE):
/// the same columns, and the same values in binary rows.
pub fn mixed_binary_response(rows: u64, extended_metadata: bool) -> Vec<u8> {
    response(rows, extended_metadata, true)
}

/// The binary row of the values of the text row `text` of [`mixed_row`].
fn binary_row(spans: &mut gd_protocol::RowDecoder, text: &[u8], p: &mut Vec<u8>) {
    let Ok(row) = spans.decode(text, COLUMNS.len()) else {
        unreachable!("mixed_row writes {} fields", COLUMNS.len())
    };
    let fields: Vec<Option<&[u8]>> = row.iter().collect();
    p.push(0x00);
    let bitmap_at = p.len();
    p.resize(bitmap_at + (COLUMNS.len() + 7 + 2) / 8, 0);
    let num = |s: &str, range: std::ops::Range<usize>| s[range].parse::<u32>().unwrap_or(0);
    for (i, ((_, ty, ..), field)) in COLUMNS.iter().zip(&fields).enumerate() {
        let Some(bytes) = *field else {
            p[bitmap_at + (i + 2) / 8] |= 1 << ((i + 2) % 8);
            continue;
        };
        let v: &str = std::str::from_utf8(bytes).unwrap_or_default();
        match ty {
            8 => p.extend_from_slice(&v.parse::<i128>().unwrap_or(0).to_le_bytes()[..8]),
            3 => p.extend_from_slice(&v.parse::<i32>().unwrap_or(0).to_le_bytes()),
            1 => p.push(v.parse::<u8>().unwrap_or(0)),
            5 => p.extend_from_slice(&v.parse::<f64>().unwrap_or(0.0).to_le_bytes()),
            4 => p.extend_from_slice(&v.parse::<f32>().unwrap_or(0.0).to_le_bytes()),
            10 | 12 | 7 => {
                let n = match v.len() {
                    10 => 4,
                    19 => 7,
                    _ => 11,
                };
                p.push(n);
                p.extend_from_slice(&(num(v, 0..4) as u16).to_le_bytes());
                p.extend_from_slice(&[num(v, 5..7) as u8, num(v, 8..10) as u8]);
                if n > 4 {
                    let hms = [num(v, 11..13), num(v, 14..16), num(v, 17..19)];
                    p.extend(hms.map(|x| x as u8));
                }
                if n > 7 {
                    p.extend_from_slice(&num(v, 20..26).to_le_bytes());
                }
            }
            11 => {
                let (negative, v) = match v.strip_prefix('-') {
                    Some(rest) => (1, rest),
                    None => (0, v),
                };
                let hours = num(v, 0..2);
                p.extend_from_slice(&[8, negative]);
                p.extend_from_slice(&(hours / 24).to_le_bytes());
                p.extend_from_slice(&[(hours % 24) as u8, num(v, 3..5) as u8, num(v, 6..8) as u8]);
            }
            _ => put_lenenc_bytes(p, bytes),
        }
    }
}

fn mixed_row(seq: u64, p: &mut Vec<u8>, f: &mut Vec<u8>) {
    use std::io::Write;
    let h = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (seq >> 7);
    let put = |p: &mut Vec<u8>, f: &mut Vec<u8>| {
        put_lenenc_bytes(p, f);
        f.clear();
    };
    let _ = write!(f, "{seq}");
    put(p, f);
    let _ = write!(f, "{}", (seq * 7919 % 200_001) as i64 - 100_000);
    put(p, f);
    let _ = write!(f, "{}", if seq.is_multiple_of(10) { h } else { h >> 32 });
    put(p, f);
    let _ = write!(
        f,
        "{:.4}",
        ((h >> 8) % 268_435_456) as f64 / 10_000.0 - 13_421.772_8
    );
    put(p, f);
    if seq.is_multiple_of(10) {
        let _ = write!(
            f,
            "{:e}",
            (seq as f64).sin() * 10f64.powi((seq / 10 % 30) as i32 - 15)
        );
    } else {
        let _ = write!(f, "{}", (seq as f64 / 7.0 * 1000.0).round() / 1000.0);
    }
    put(p, f);
    let _ = write!(f, "{}", ((seq * 31 % 100_000) as f32 / 7.0));
    put(p, f);
    let _ = write!(
        f,
        "{:04}-{:02}-{:02}",
        1970 + seq % 110,
        1 + seq % 12,
        1 + seq % 28
    );
    put(p, f);
    let _ = write!(
        f,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        2001 + seq % 23,
        1 + seq % 12,
        1 + seq % 28,
        seq % 24,
        seq % 60,
        (seq * 7) % 60,
        (seq * 7) % 1_000_000
    );
    put(p, f);
    let _ = write!(
        f,
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        2000 + seq % 31,
        1 + seq % 12,
        1 + seq % 28,
        seq % 24,
        seq % 60,
        seq % 60
    );
    put(p, f);
    let _ = write!(
        f,
        "{}{:02}:{:02}:{:02}",
        if seq.is_multiple_of(50) { "-" } else { "" },
        seq % 24,
        seq % 60,
        (seq / 60) % 60
    );
    put(p, f);
    let _ = write!(
        f,
        "{} {}",
        ["James", "Zoë", "李", "Siobhán"][seq as usize % 4],
        ["Smith", "O'Brien", "王", "Müller"][(seq / 4) as usize % 4]
    );
    put(p, f);
    let _ = write!(f, "user.{seq}@example.com");
    put(p, f);
    if seq % 50 < 10 {
        let _ = write!(f, "{}{seq}", NOTES[(seq % 50) as usize]);
    } else {
        let words = "Lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor";
        let start = (seq % 20) as usize;
        let _ = f.write_all(&words.as_bytes()[start..start + 8 + (seq % 25) as usize]);
    }
    put(p, f);
    if seq.is_multiple_of(5) {
        p.push(0xFB);
    } else {
        let _ = write!(f, "R-{:08X}", h as u32);
        put(p, f);
    }
    let _ = write!(f, "{}", u8::from(!seq.is_multiple_of(3)));
    put(p, f);
    f.extend_from_slice(&h.to_be_bytes()[..1 + (seq % 8) as usize]);
    f.extend_from_slice(&(h.rotate_left(17)).to_le_bytes()[..(seq % 9) as usize]);
    put(p, f);
    let _ = write!(
        f,
        "{{\"k\": {}, \"ok\": {}, \"t\": \"{}\"}}",
        seq % 100,
        seq % 2 == 1,
        ["red", "ü", "a\\\"b", "x"][seq as usize % 4]
    );
    put(p, f);
    let _ =
        f.write_all(["new", "active", "suspended", "closed"][(seq * 3 % 4) as usize].as_bytes());
    put(p, f);
}
