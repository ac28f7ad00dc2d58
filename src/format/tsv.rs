//! TSV: the CSV engine of [`super::csv`] with a tab as delimiter.
//!
//! Escaping rule: a field is enclosed in `"` only when it holds a tab, `"`,
//! CR or LF, and a `"` inside it is doubled; backslashes and commas are
//! ordinary bytes. This is the quoting that spreadsheets and the `csv` crate
//! read with a tab delimiter, not the backslash escaping of `mysql --batch`
//! or `SELECT … INTO OUTFILE`, which cannot carry every value unambiguously.
//! NULL, the empty string, BIT and binary values follow the CSV rules
//! exactly (see [`super::csv`]).
//!
//! Non-UTF-8 bytes: as in CSV, text bytes pass through unchanged and binary
//! columns follow [`super::BinaryEncoding`].

use super::FormatOptions;
use super::csv::DelimitedWriter;

/// The TSV field delimiter.
pub const DELIMITER: u8 = b'\t';

impl DelimitedWriter {
    /// A TSV writer (tab delimiter, otherwise the CSV rules).
    pub fn tsv(options: &FormatOptions) -> Self {
        Self::new(DELIMITER, options)
    }
}

#[cfg(test)]
mod tests {
    use super::super::csv::tests::{col, delimited, opts, round_trip, table, text, with_null};
    use super::*;
    use crate::format::{BinaryEncoding, LineEnding};
    use proptest::prelude::*;

    fn tsv(options: &FormatOptions, rows: &[Vec<Option<&[u8]>>]) -> String {
        let cols = [text("a"), text("b"), text("c")];
        String::from_utf8(delimited(DELIMITER, options, &cols, rows)).unwrap()
    }

    #[test]
    fn constructor_uses_a_tab() {
        assert_eq!(DelimitedWriter::tsv(&opts()).delimiter(), b'\t');
    }

    #[test]
    fn quotes_tabs_not_commas() {
        let row = vec![
            Some(&b"a,b"[..]),
            Some(b"tab\there"),
            Some(b"back\\slash \"q\""),
        ];
        assert_eq!(
            tsv(&opts(), &[row]),
            "a\tb\tc\na,b\t\"tab\there\"\t\"back\\slash \"\"q\"\"\"\n"
        );
    }

    #[test]
    fn null_and_empty_and_marker() {
        let row = vec![None, Some(&b""[..]), Some(b"\\N")];
        assert_eq!(
            tsv(&opts(), std::slice::from_ref(&row)),
            "a\tb\tc\n\t\"\"\t\\N\n"
        );
        assert_eq!(tsv(&with_null("\\N"), &[row]), "a\tb\tc\n\\N\t\t\"\\N\"\n");
    }

    #[test]
    fn crlf_header_off_and_binary() {
        let options = FormatOptions {
            header: false,
            line_ending: LineEnding::CrLf,
            binary: BinaryEncoding::Hex,
            ..opts()
        };
        let cols = [col("bin", 253, 63), col("bit", 16, 63)];
        let out = delimited(
            DELIMITER,
            &options,
            &cols,
            &[vec![Some(&b"\t\x01"[..]), Some(&[1, 0])]],
        );
        assert_eq!(out, b"0x0901\t256\r\n");
    }

    proptest! {
        #[test]
        fn tsv_round_trips(
            (n, rows) in table(),
            header in any::<bool>(),
            crlf in any::<bool>(),
            null in prop_oneof![Just(""), Just("\\N")],
        ) {
            let options = FormatOptions {
                header,
                line_ending: if crlf { LineEnding::CrLf } else { LineEnding::Lf },
                null: null.to_string(),
                ..opts()
            };
            round_trip(DELIMITER, &options, n, &rows)?;
        }
    }
}
