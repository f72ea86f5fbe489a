//! CSV as Excel opens it: UTF-8 with a byte-order mark (else Excel reads
//! Chinese as mojibake), CRLF rows (RFC 4180), fields quoted when they hold
//! a comma, quote or line break, and a cell that would start a formula
//! (`=`, `+`, `-`, `@`, tab, CR) prefixed with `'` so a plate or remark
//! typed by someone cannot run in the reader's spreadsheet.

/// What a CSV file starts with.
pub const BOM: &str = "\u{feff}";

/// One row, CRLF-terminated.
pub fn row<S: AsRef<str>>(fields: &[S]) -> String {
    let mut out = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        field(&mut out, f.as_ref());
    }
    out.push_str("\r\n");
    out
}

fn field(out: &mut String, text: &str) {
    let formula = text.starts_with(['=', '+', '-', '@', '\t', '\r']) && text.parse::<f64>().is_err();
    let quote = formula || text.contains([',', '"', '\n', '\r']);
    if quote {
        out.push('"');
    }
    if formula {
        out.push('\'');
    }
    for c in text.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    if quote {
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(row(&["鲁B12345", "12.50", ""]), "鲁B12345,12.50,\r\n");
        assert_eq!(row(&["a,b", "say \"hi\"", "two\nlines"]), "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n");
        assert_eq!(
            row(&["=HYPERLINK(\"x\")", "-3.00", "@SUM(A1)"]),
            "\"'=HYPERLINK(\"\"x\"\")\",-3.00,\"'@SUM(A1)\"\r\n"
        );
    }
}
