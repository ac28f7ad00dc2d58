//! Commands the client sends.

/// COM_QUIT: close the session.
pub const COM_QUIT: u8 = 0x01;
/// COM_QUERY: run a statement with the text protocol.
pub const COM_QUERY: u8 = 0x03;

/// The payload of COM_QUERY for `sql`.
pub fn com_query(sql: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(sql.len() + 1);
    p.push(COM_QUERY);
    p.extend_from_slice(sql.as_bytes());
    p
}
