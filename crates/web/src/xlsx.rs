//! Excel workbooks (.xlsx) written as a stream: one sheet, a bold frozen
//! header row, text, integers and money. A row becomes bytes as soon as it
//! is added, so a month of a big city's records never sits in memory and
//! the download starts with the first batch.
//!
//! The file is a ZIP of "stored" (uncompressed) entries, each followed by a
//! data descriptor (its CRC-32 and size, known only once it is written), and
//! a central directory at the end, which is where readers (Excel, LibreOffice,
//! openpyxl) look. Money is written from integer fen as its decimal digits
//! (`12.50`) with the built-in `0.00` format: never through a float. Without
//! ZIP64 a part must stay under 4 GiB: [`MAX_ROWS`] (Excel's own row limit)
//! keeps the sheet far below it.
//!
//! Pure: bytes in, bytes out; the caller sends them.

/// Excel's rows per sheet, the header included.
pub const MAX_ROWS: u32 = 1_048_576;

/// One cell of a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// Integer fen, shown as yuan with two decimals.
    Fen(i64),
    Empty,
}

const MAIN: &str = "http://schemas.openxmlformats.org/spreadsheetml/2006/main";
const REL: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const PKG_REL: &str = "http://schemas.openxmlformats.org/package/2006/relationships";
const XML_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n";
const SHEET_PATH: &str = "xl/worksheets/sheet1.xml";

/// A workbook being written.
pub struct Xlsx {
    /// Bytes written so far (the next entry's offset).
    offset: u64,
    /// Entries written: (name, crc, size, offset of its local header).
    done: Vec<(&'static str, u32, u64, u64)>,
    /// The sheet's running CRC and size, and the next row's number.
    crc: u32,
    size: u64,
    row: u32,
    sheet_offset: u64,
}

impl Xlsx {
    /// Starts a workbook whose one sheet is `name`, with `headers` in bold
    /// and column `widths` (in characters); the bytes to send first.
    pub fn start(name: &str, headers: &[&str], widths: &[u32]) -> (Xlsx, Vec<u8>) {
        let mut x = Xlsx { offset: 0, done: Vec::new(), crc: !0, size: 0, row: 1, sheet_offset: 0 };
        let mut out = Vec::new();
        let sheet_name = escape(&name.chars().filter(|c| !"[]:*?/\\".contains(*c)).take(31).collect::<String>());
        let types = format!(
            "{XML_HEAD}<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
             <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
             <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
             <Override PartName=\"/xl/workbook.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml\"/>\
             <Override PartName=\"/{SHEET_PATH}\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml\"/>\
             <Override PartName=\"/xl/styles.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml\"/>\
             </Types>"
        );
        let rels = format!(
            "{XML_HEAD}<Relationships xmlns=\"{PKG_REL}\"><Relationship Id=\"rId1\" \
             Type=\"{REL}/officeDocument\" Target=\"xl/workbook.xml\"/></Relationships>"
        );
        let workbook = format!(
            "{XML_HEAD}<workbook xmlns=\"{MAIN}\" xmlns:r=\"{REL}\"><sheets>\
             <sheet name=\"{sheet_name}\" sheetId=\"1\" r:id=\"rId1\"/></sheets></workbook>"
        );
        let workbook_rels = format!(
            "{XML_HEAD}<Relationships xmlns=\"{PKG_REL}\">\
             <Relationship Id=\"rId1\" Type=\"{REL}/worksheet\" Target=\"worksheets/sheet1.xml\"/>\
             <Relationship Id=\"rId2\" Type=\"{REL}/styles\" Target=\"styles.xml\"/></Relationships>"
        );
        // Styles: 0 plain, 1 money (built-in format 2, `0.00`), 2 bold (the header).
        let styles = format!(
            "{XML_HEAD}<styleSheet xmlns=\"{MAIN}\">\
             <fonts count=\"2\"><font><sz val=\"11\"/><name val=\"Calibri\"/></font>\
             <font><b/><sz val=\"11\"/><name val=\"Calibri\"/></font></fonts>\
             <fills count=\"2\"><fill><patternFill patternType=\"none\"/></fill><fill><patternFill patternType=\"gray125\"/></fill></fills>\
             <borders count=\"1\"><border><left/><right/><top/><bottom/><diagonal/></border></borders>\
             <cellStyleXfs count=\"1\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\"/></cellStyleXfs>\
             <cellXfs count=\"3\"><xf numFmtId=\"0\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\"/>\
             <xf numFmtId=\"2\" fontId=\"0\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyNumberFormat=\"1\"/>\
             <xf numFmtId=\"0\" fontId=\"1\" fillId=\"0\" borderId=\"0\" xfId=\"0\" applyFont=\"1\"/></cellXfs>\
             <cellStyles count=\"1\"><cellStyle name=\"Normal\" xfId=\"0\" builtinId=\"0\"/></cellStyles></styleSheet>"
        );
        for (name, text) in [
            ("[Content_Types].xml", types),
            ("_rels/.rels", rels),
            ("xl/workbook.xml", workbook),
            ("xl/_rels/workbook.xml.rels", workbook_rels),
            ("xl/styles.xml", styles),
        ] {
            x.whole(&mut out, name, text.as_bytes());
        }
        x.sheet_offset = x.offset;
        x.local_header(&mut out, SHEET_PATH);
        let mut head = String::new();
        head.push_str(XML_HEAD);
        head.push_str(&format!("<worksheet xmlns=\"{MAIN}\"><sheetViews><sheetView workbookViewId=\"0\">"));
        head.push_str("<pane ySplit=\"1\" topLeftCell=\"A2\" activePane=\"bottomLeft\" state=\"frozen\"/></sheetView></sheetViews>");
        if !widths.is_empty() {
            head.push_str("<cols>");
            for (i, w) in widths.iter().enumerate() {
                head.push_str(&format!("<col min=\"{n}\" max=\"{n}\" width=\"{w}\" customWidth=\"1\"/>", n = i + 1));
            }
            head.push_str("</cols>");
        }
        head.push_str("<sheetData>");
        x.sheet_bytes(&mut out, head.as_bytes());
        let cells: Vec<Cell> = headers.iter().map(|h| Cell::Text((*h).to_owned())).collect();
        x.write_row(&mut out, &cells, Some(2));
        (x, out)
    }

    /// Rows written so far, the header included.
    pub fn rows(&self) -> u32 {
        self.row - 1
    }

    /// Appends a row's bytes to `out`; false (and nothing written) once the
    /// sheet is full ([`MAX_ROWS`]).
    pub fn row(&mut self, out: &mut Vec<u8>, cells: &[Cell]) -> bool {
        if self.row > MAX_ROWS {
            return false;
        }
        self.write_row(out, cells, None);
        true
    }

    fn write_row(&mut self, out: &mut Vec<u8>, cells: &[Cell], style: Option<u8>) {
        // Cells carry their reference only after a gap (an empty cell):
        // readers place the others in order, and a row of ten costs half.
        let mut xml = format!("<row r=\"{}\">", self.row);
        let mut gap = false;
        for (i, cell) in cells.iter().enumerate() {
            let at = if gap { format!(" r=\"{}{}\"", column(i), self.row) } else { String::new() };
            gap = false;
            let s = style.map(|s| format!(" s=\"{s}\"")).unwrap_or_default();
            match cell {
                Cell::Text(t) => {
                    // Spaces at either end are kept only when said so.
                    let keep = if t.trim() == t { "" } else { " xml:space=\"preserve\"" };
                    xml.push_str(&format!("<c{at}{s} t=\"inlineStr\"><is><t{keep}>{}</t></is></c>", escape(t)));
                }
                Cell::Int(n) => xml.push_str(&format!("<c{at}{s}><v>{n}</v></c>")),
                Cell::Fen(fen) => {
                    let sign = if *fen < 0 { "-" } else { "" };
                    let abs = fen.unsigned_abs();
                    xml.push_str(&format!("<c{at} s=\"1\"><v>{sign}{}.{:02}</v></c>", abs / 100, abs % 100));
                }
                Cell::Empty => gap = true,
            }
        }
        xml.push_str("</row>");
        self.row += 1;
        self.sheet_bytes(out, xml.as_bytes());
    }

    /// The last bytes: the sheet's end and descriptor, the central directory.
    pub fn finish(mut self, out: &mut Vec<u8>) {
        self.sheet_bytes(out, b"</sheetData></worksheet>");
        let crc = !self.crc;
        descriptor(out, crc, self.size);
        self.offset += 16;
        self.done.push((SHEET_PATH, crc, self.size, self.sheet_offset));
        let directory_at = self.offset;
        let mut directory = Vec::new();
        for (name, crc, size, at) in &self.done {
            put32(&mut directory, 0x0201_4b50);
            put16(&mut directory, 20); // made by: 2.0
            put16(&mut directory, 20); // needed: 2.0
            put16(&mut directory, FLAGS);
            put16(&mut directory, 0); // stored
            put16(&mut directory, 0); // 00:00
            put16(&mut directory, DOS_DATE);
            put32(&mut directory, *crc);
            put32(&mut directory, *size as u32);
            put32(&mut directory, *size as u32);
            put16(&mut directory, name.len() as u16);
            put16(&mut directory, 0); // extra
            put16(&mut directory, 0); // comment
            put16(&mut directory, 0); // disk
            put16(&mut directory, 0); // internal attributes
            put32(&mut directory, 0); // external attributes
            put32(&mut directory, *at as u32);
            directory.extend_from_slice(name.as_bytes());
        }
        out.extend_from_slice(&directory);
        put32(out, 0x0605_4b50);
        put16(out, 0);
        put16(out, 0);
        put16(out, self.done.len() as u16);
        put16(out, self.done.len() as u16);
        put32(out, directory.len() as u32);
        put32(out, directory_at as u32);
        put16(out, 0);
    }

    /// An entry written whole (its descriptor right after it).
    fn whole(&mut self, out: &mut Vec<u8>, name: &'static str, data: &[u8]) {
        let at = self.offset;
        self.local_header(out, name);
        out.extend_from_slice(data);
        let crc = crc32(!0, data);
        descriptor(out, !crc, data.len() as u64);
        self.offset += data.len() as u64 + 16;
        self.done.push((name, !crc, data.len() as u64, at));
    }

    fn local_header(&mut self, out: &mut Vec<u8>, name: &str) {
        put32(out, 0x0403_4b50);
        put16(out, 20);
        put16(out, FLAGS);
        put16(out, 0); // stored
        put16(out, 0);
        put16(out, DOS_DATE);
        put32(out, 0); // CRC, sizes: in the descriptor
        put32(out, 0);
        put32(out, 0);
        put16(out, name.len() as u16);
        put16(out, 0);
        out.extend_from_slice(name.as_bytes());
        self.offset += 30 + name.len() as u64;
    }

    fn sheet_bytes(&mut self, out: &mut Vec<u8>, data: &[u8]) {
        self.crc = crc32(self.crc, data);
        self.size += data.len() as u64;
        self.offset += data.len() as u64;
        out.extend_from_slice(data);
    }
}

/// Bit 3: sizes and CRC follow the data; bit 11: names are UTF-8.
const FLAGS: u16 = 0x0808;
/// 1980-01-01, the DOS epoch: the parts carry no meaningful date.
const DOS_DATE: u16 = (1 << 5) | 1;

fn descriptor(out: &mut Vec<u8>, crc: u32, size: u64) {
    put32(out, 0x0807_4b50);
    put32(out, crc);
    put32(out, size as u32);
    put32(out, size as u32);
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// The spreadsheet column of a 0-based index: A … Z, AA …
fn column(mut i: usize) -> String {
    let mut name = Vec::new();
    loop {
        name.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    name.reverse();
    String::from_utf8(name).unwrap_or_default()
}

/// Text for XML: markup escaped, characters XML 1.0 forbids left out (a
/// control character in a remark would make Excel refuse the file).
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
};

/// CRC-32 (ZIP's) continued over `data` from the running value `crc`
/// (start with `!0`, finish with `!crc`).
fn crc32(mut crc: u32, data: &[u8]) -> u32 {
    for b in data {
        crc = CRC_TABLE[((crc ^ u32::from(*b)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_and_columns_are_the_standard_ones() {
        assert_eq!(!crc32(!0, b"123456789"), 0xCBF4_3926, "the CRC-32 check value");
        assert_eq!(
            [column(0), column(25), column(26), column(27), column(701), column(702)],
            ["A", "Z", "AA", "AB", "ZZ", "AAA"]
        );
    }

    #[test]
    fn a_workbook_is_a_zip_whose_directory_matches_its_parts() {
        let (mut x, mut out) = Xlsx::start("停车记录", &["车牌", "金额"], &[12, 10]);
        assert!(x.row(&mut out, &[Cell::Text("鲁B12345 <&>".into()), Cell::Fen(-1250)]));
        assert!(x.row(&mut out, &[Cell::Text("bell\u{7}".into()), Cell::Int(7)]));
        assert_eq!(x.rows(), 3);
        x.finish(&mut out);
        // The end of central directory: 6 entries, and where the directory is.
        let end = out.len() - 22;
        assert_eq!(&out[end..end + 4], &[0x50, 0x4b, 0x05, 0x06]);
        assert_eq!(u16::from_le_bytes([out[end + 10], out[end + 11]]), 6);
        let at = u32::from_le_bytes([out[end + 16], out[end + 17], out[end + 18], out[end + 19]]) as usize;
        assert_eq!(&out[at..at + 4], &[0x50, 0x4b, 0x01, 0x02]);
        // Each directory entry points at a local header of the same name, whose
        // data (size and CRC from the directory) checks out.
        let mut p = at;
        for _ in 0..6 {
            let u16_at = |i: usize| u16::from_le_bytes([out[i], out[i + 1]]) as usize;
            let u32_at = |i: usize| u32::from_le_bytes([out[i], out[i + 1], out[i + 2], out[i + 3]]);
            let (crc, size, name_len) = (u32_at(p + 16), u32_at(p + 20) as usize, u16_at(p + 28));
            let local = u32_at(p + 42) as usize;
            let name = &out[p + 46..p + 46 + name_len];
            assert_eq!(&out[local..local + 4], &[0x50, 0x4b, 0x03, 0x04]);
            assert_eq!(&out[local + 30..local + 30 + name_len], name);
            let data = &out[local + 30 + name_len..local + 30 + name_len + size];
            assert_eq!(!crc32(!0, data), crc, "{}", String::from_utf8_lossy(name));
            assert_eq!(u32_at(local + 30 + name_len + size), 0x0807_4b50, "the descriptor follows");
            if name == SHEET_PATH.as_bytes() {
                let xml = String::from_utf8_lossy(data);
                assert!(xml.contains("<v>-12.50</v>") && xml.contains("鲁B12345 &lt;&amp;&gt;"), "{xml}");
                assert!(xml.contains(">bell<"), "a control character is left out: {xml}");
                assert!(xml.contains("<c s=\"2\" t=\"inlineStr\">"), "a bold header: {xml}");
            }
            p += 46 + name_len;
        }
    }
}
