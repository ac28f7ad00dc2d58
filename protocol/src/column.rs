//! Column definitions (`ColumnDefinition41`) and what they mean for an exporter.

use crate::error::ProtocolError;
use crate::reader::Reader;
use mysql_common::constants::ColumnType;

/// The `binary` character set: charset 63 marks bytes that are not text.
pub const BINARY_CHARSET: u16 = 63;

/// Column flag: the integer column is UNSIGNED.
pub const UNSIGNED_FLAG: u16 = 0x0020;

/// One column of a result set, parsed once per result set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnDef {
    /// Column name or alias as the server reports it (decoded lossily as UTF-8).
    pub name: String,
    /// Table alias, empty for expressions.
    pub table: String,
    /// Wire type code (`MYSQL_TYPE_*`); kept raw so unknown codes never fail.
    pub type_code: u8,
    /// Character set / collation id of the value bytes.
    pub charset: u16,
    /// Maximum display length.
    pub length: u32,
    /// Column flags (`NOT_NULL`, `UNSIGNED`, `BINARY`, …).
    pub flags: u16,
    /// Digits after the point for DECIMAL and temporal types.
    pub decimals: u8,
    /// MariaDB extended metadata: data type name (`uuid`, `inet6`, `point`, …).
    pub ext_type_name: Option<String>,
    /// MariaDB extended metadata: format name (`json`).
    pub ext_format_name: Option<String>,
}

/// How an exporter should treat a column's values; decided from metadata only,
/// never by looking at the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ColumnKind {
    /// TINYINT … BIGINT and YEAR: decimal integer text.
    Integer,
    /// DECIMAL: exact decimal text.
    Decimal,
    /// FLOAT and DOUBLE: the server's shortest round-trip text.
    Float,
    /// BIT(n): raw big-endian bytes.
    Bit,
    /// JSON (MySQL type 245, or MariaDB's `json` format in extended metadata).
    Json,
    /// Bytes with charset 63 that are not one of the kinds above (BINARY,
    /// VARBINARY, BLOB, GEOMETRY).
    Binary,
    /// Everything else: text in the connection character set (dates and times
    /// included).
    Text,
}

impl ColumnDef {
    /// Parses a column definition packet. `extended_metadata` says whether
    /// MariaDB's extended metadata capability was negotiated.
    pub fn parse(payload: &[u8], extended_metadata: bool) -> Result<Self, ProtocolError> {
        let mut r = Reader::new(payload, "column definition");
        let _catalog = r.lenenc_bytes()?;
        let _schema = r.lenenc_bytes()?;
        let table = r.lenenc_bytes()?;
        let _org_table = r.lenenc_bytes()?;
        let name = r.lenenc_bytes()?;
        let _org_name = r.lenenc_bytes()?;
        let (mut ext_type_name, mut ext_format_name) = (None, None);
        if extended_metadata {
            let mut ext = Reader::new(r.lenenc_bytes()?, "extended column metadata");
            while ext.remaining() > 0 {
                let kind = ext.u8()?;
                let len = ext.u8()?;
                let value = lossy(ext.take(u64::from(len))?);
                match kind {
                    0 => ext_type_name = Some(value),
                    1 => ext_format_name = Some(value),
                    _ => {} // unknown chunk kinds are skipped, as the C connector does
                }
            }
        }
        let fixed_len = r.lenenc_int()?;
        if fixed_len < 0x0C {
            return Err(ProtocolError::truncated(
                "column definition",
                0x0C,
                fixed_len as usize,
            ));
        }
        let charset = r.u16()?;
        let length = r.u32()?;
        let type_code = r.u8()?;
        let flags = r.u16()?;
        let decimals = r.u8()?;
        // Two filler bytes, and whatever a newer server adds to the fixed part.
        r.take(fixed_len - 0x0A)?;
        // COM_FIELD_LIST appends default values; a result set never does.
        r.finish()?;
        Ok(Self {
            name: lossy(name),
            table: lossy(table),
            type_code,
            charset,
            length,
            flags,
            decimals,
            ext_type_name,
            ext_format_name,
        })
    }

    /// The wire type as `mysql_common`'s enum, or `None` for a code it does not know.
    pub fn column_type(&self) -> Option<ColumnType> {
        ColumnType::try_from(self.type_code).ok()
    }

    /// Whether the column is an UNSIGNED integer.
    pub fn is_unsigned(&self) -> bool {
        self.flags & UNSIGNED_FLAG != 0
    }

    /// What kind of values the column holds.
    pub fn kind(&self) -> ColumnKind {
        use ColumnType::*;
        let Some(ty) = self.column_type() else {
            return ColumnKind::Text;
        };
        match ty {
            MYSQL_TYPE_TINY | MYSQL_TYPE_SHORT | MYSQL_TYPE_INT24 | MYSQL_TYPE_LONG
            | MYSQL_TYPE_LONGLONG | MYSQL_TYPE_YEAR => ColumnKind::Integer,
            MYSQL_TYPE_DECIMAL | MYSQL_TYPE_NEWDECIMAL => ColumnKind::Decimal,
            MYSQL_TYPE_FLOAT | MYSQL_TYPE_DOUBLE => ColumnKind::Float,
            MYSQL_TYPE_BIT => ColumnKind::Bit,
            // MySQL's JSON says charset 63 but carries utf8mb4 text: test it first.
            MYSQL_TYPE_JSON => ColumnKind::Json,
            _ if self.ext_format_name.as_deref() == Some("json") => ColumnKind::Json,
            MYSQL_TYPE_STRING
            | MYSQL_TYPE_VAR_STRING
            | MYSQL_TYPE_VARCHAR
            | MYSQL_TYPE_TINY_BLOB
            | MYSQL_TYPE_MEDIUM_BLOB
            | MYSQL_TYPE_LONG_BLOB
            | MYSQL_TYPE_BLOB
            | MYSQL_TYPE_GEOMETRY
                if self.charset == BINARY_CHARSET =>
            {
                ColumnKind::Binary
            }
            _ => ColumnKind::Text,
        }
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::reader::put_lenenc_bytes;

    /// Builds a column definition packet field by field, per the MySQL
    /// `Protocol::ColumnDefinition41` layout.
    pub(crate) fn column_packet(
        name: &str,
        type_code: u8,
        charset: u16,
        flags: u16,
        ext: Option<&[u8]>,
    ) -> Vec<u8> {
        let mut p = Vec::new();
        for s in ["def", "db", "t", "t", name, name] {
            put_lenenc_bytes(&mut p, s.as_bytes());
        }
        if let Some(ext) = ext {
            put_lenenc_bytes(&mut p, ext);
        }
        p.push(0x0C);
        p.extend_from_slice(&charset.to_le_bytes());
        p.extend_from_slice(&255u32.to_le_bytes());
        p.push(type_code);
        p.extend_from_slice(&flags.to_le_bytes());
        p.push(0);
        p.extend_from_slice(&[0, 0]);
        p
    }

    #[test]
    fn parses_every_field() {
        let p = column_packet("price", 246, 63, 0x0001, None);
        let c = ColumnDef::parse(&p, false).unwrap();
        assert_eq!(c.name, "price");
        assert_eq!(c.table, "t");
        assert_eq!(c.type_code, 246);
        assert_eq!(c.charset, 63);
        assert_eq!(c.length, 255);
        assert_eq!(c.flags, 1);
        assert_eq!(c.kind(), ColumnKind::Decimal);
    }

    #[test]
    fn mariadb_extended_metadata_marks_json() {
        // type 0 = data type name, type 1 = format name (MariaDB Send_field_packed_extended_metadata).
        let ext = [&[1u8, 4][..], b"json"].concat();
        let p = column_packet("doc", 252, 46, 0x0080, Some(&ext));
        let c = ColumnDef::parse(&p, true).unwrap();
        assert_eq!(c.ext_format_name.as_deref(), Some("json"));
        assert_eq!(c.kind(), ColumnKind::Json);
        // The same packet read without the capability is malformed, not misread.
        assert!(ColumnDef::parse(&p, false).is_err());
    }

    #[test]
    fn binary_is_decided_by_charset_not_flag() {
        // utf8mb4_bin text has the BINARY flag (0x80) but charset 46: still text.
        let text_bin = ColumnDef::parse(&column_packet("a", 253, 46, 0x80, None), false).unwrap();
        assert_eq!(text_bin.kind(), ColumnKind::Text);
        let varbinary = ColumnDef::parse(&column_packet("b", 253, 63, 0x80, None), false).unwrap();
        assert_eq!(varbinary.kind(), ColumnKind::Binary);
        // MySQL JSON reports charset 63 but is text.
        let json = ColumnDef::parse(&column_packet("j", 245, 63, 0x90, None), false).unwrap();
        assert_eq!(json.kind(), ColumnKind::Json);
        // Dates report charset 63 too and stay text.
        let date = ColumnDef::parse(&column_packet("d", 10, 63, 0x80, None), false).unwrap();
        assert_eq!(date.kind(), ColumnKind::Text);
        let unknown = ColumnDef::parse(&column_packet("u", 200, 63, 0, None), false).unwrap();
        assert_eq!(unknown.kind(), ColumnKind::Text);
    }

    #[test]
    fn truncated_definition_is_an_error() {
        let p = column_packet("x", 3, 63, 0, None);
        for cut in 0..p.len() {
            assert!(ColumnDef::parse(&p[..cut], false).is_err(), "cut at {cut}");
        }
    }
}
