//! Incremental reader for uploaded asset CSV files.
//!
//! The file arrives as byte chunks cut anywhere (inside a quoted field or a
//! multi-byte character). [`CsvAssets`] pushes each chunk through
//! [`csv_core::Reader`] (RFC 4180: comma, `"` quoting with `""` escapes, CRLF
//! or LF line ends) and turns every completed record into a [`Record`]: a typed
//! [`CsvAsset`], or every problem of that record as [`RowError`]s. Only the
//! current record is buffered (at most 1 MiB; longer records are skipped
//! without buffering), so memory stays flat whatever the file size.
//!
//! The first non-blank record is the header; a problem with it is a
//! [`FileError`]. Checks are about format only: database lookups and
//! not-in-the-future checks belong to the caller. Records whose fields are
//! all empty (blank lines, `,,,`) are skipped, before the header too. A
//! `FileError` sticks: every later call returns it. Do not `feed` after
//! `finish`.

use chrono::NaiveDate;
use csv_core::{ReadRecordResult, Reader};

/// Largest data record, in bytes of the file without its line end.
const MAX_RECORD: usize = 1 << 20;
/// Largest header record, in bytes of the file without its line end.
const MAX_HEADER: usize = 64 << 10;
const BOM: &[u8] = b"\xEF\xBB\xBF";
/// Column names in canonical order; the first `REQUIRED` are required.
const COLUMNS: [&str; 14] = [
    "name",
    "category_code",
    "department_code",
    "purchase_cost",
    "currency",
    "purchase_date",
    "serial",
    "model",
    "location",
    "warranty_end_date",
    "supplier",
    "purchase_reference",
    "notes",
    "holder",
];
const REQUIRED: usize = 6;
const ABSENT: usize = usize::MAX;
const NAME: usize = 0;
const CATEGORY: usize = 1;
const DEPARTMENT: usize = 2;
const COST: usize = 3;
const CURRENCY: usize = 4;
const PURCHASED: usize = 5;
const SERIAL: usize = 6;
const MODEL: usize = 7;
const LOCATION: usize = 8;
const WARRANTY: usize = 9;
const SUPPLIER: usize = 10;
const REFERENCE: usize = 11;
const NOTES: usize = 12;
const HOLDER: usize = 13;

/// One data record, parsed and checked for format (not against the database).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvAsset {
    /// Line of the file where the record starts, from 1 (the header is line 1).
    pub line: u64,
    /// Asset name.
    pub name: String,
    /// Category code, upper-cased.
    pub category_code: String,
    /// Department code, upper-cased.
    pub department_code: String,
    /// Purchase cost in minor units of `currency` (cents for USD).
    pub cost_minor: i64,
    /// ISO 4217 currency code, upper-cased.
    pub currency: String,
    /// Purchase date.
    pub purchase_date: NaiveDate,
    /// Serial number, "" when not given.
    pub serial: String,
    /// Model, "" when not given.
    pub model: String,
    /// Location, "" when not given.
    pub location: String,
    /// End of warranty, never before `purchase_date`.
    pub warranty_end_date: Option<NaiveDate>,
    /// Supplier, "" when not given.
    pub supplier: String,
    /// Purchase order or invoice reference, "" when not given.
    pub purchase_reference: String,
    /// Free notes, "" when not given.
    pub notes: String,
    /// "" or a user id / email, as written (trimmed).
    pub holder: String,
}

/// One problem with one column of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// Line of the file where the record starts.
    pub line: u64,
    /// Canonical (lower-case) column name, or "" for the record as a whole.
    pub column: String,
    /// Short lower-case phrase for people, e.g. "is required".
    pub reason: String,
}

/// A problem with the file as a whole (nothing can be read from it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileError {
    /// The file has no header record.
    Empty,
    /// A header column name is not valid UTF-8.
    NotUtf8Header,
    /// Required columns absent from the header, sorted.
    MissingColumns(Vec<String>),
    /// Header columns that are not known, as written, in file order.
    UnknownColumns(Vec<String>),
    /// A column named twice in the header (canonical name).
    DuplicateColumn(String),
    /// The header record is longer than 64 KiB.
    HeaderTooLong,
}

/// What one data record of the file turned into.
// Almost every record is a `Row`: boxing it would cost an allocation per row.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A record without problems.
    Row(CsvAsset),
    /// All problems of one record, in the file's column order.
    Bad(Vec<RowError>),
}

/// Incremental reader: feed it the file's chunks in order, then call `finish`.
pub struct CsvAssets {
    minor_digits: fn(&str) -> Option<u32>,
    core: Reader,
    /// Bytes of a possible BOM seen so far, while `bom_done` is false.
    bom_len: usize,
    bom_done: bool,
    /// Physical line of the next byte to read.
    line: u64,
    /// Line where the current record starts.
    rec_line: u64,
    in_record: bool,
    /// File bytes of the current record read so far.
    raw: usize,
    /// The current record's field bytes (`buf[..out_len]`) and field ends.
    buf: Vec<u8>,
    out_len: usize,
    ends: Vec<usize>,
    n_ends: usize,
    /// Reading the rest of the current record without keeping it.
    discard: bool,
    oversize: bool,
    /// While discarding: all bytes seen so far were whitespace.
    blank: bool,
    /// Field index of each of `COLUMNS` (or `ABSENT`), once the header is read.
    columns: Option<[usize; 14]>,
    rows: u64,
    failed: Option<FileError>,
}

impl CsvAssets {
    /// A reader for a new file; `minor_digits` gives the decimal places of a
    /// currency code ("JPY" => 0, "USD" => 2) and `None` for unknown codes.
    pub fn new(minor_digits: fn(&str) -> Option<u32>) -> CsvAssets {
        CsvAssets {
            minor_digits,
            core: Reader::new(),
            bom_len: 0,
            bom_done: false,
            line: 1,
            rec_line: 1,
            in_record: false,
            raw: 0,
            buf: vec![0; 4096],
            out_len: 0,
            ends: vec![0; 16],
            n_ends: 0,
            discard: false,
            oversize: false,
            blank: false,
            columns: None,
            rows: 0,
            failed: None,
        }
    }

    /// Feeds the next chunk; returns the records completed by it (the header
    /// is consumed internally first). After an error every call returns it.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<Vec<Record>, FileError> {
        let mut out = Vec::new();
        if !self.bom_done && self.failed.is_none() {
            while let (Some(&b), Some(&want)) = (chunk.first(), BOM.get(self.bom_len)) {
                if b != want {
                    break;
                }
                self.bom_len += 1;
                chunk = &chunk[1..];
            }
            if self.bom_len == BOM.len() {
                self.bom_done = true;
            } else if !chunk.is_empty() {
                // Not a BOM after all: its first bytes were data.
                self.bom_done = true;
                self.run(&BOM[..self.bom_len], false, &mut out)?;
            }
        }
        self.run(chunk, false, &mut out)?;
        Ok(out)
    }

    /// End of file: the last record if the file does not end with a newline;
    /// `FileError::Empty` if there was no header at all.
    pub fn finish(&mut self) -> Result<Vec<Record>, FileError> {
        let mut out = Vec::new();
        if !self.bom_done && self.failed.is_none() {
            self.bom_done = true;
            self.run(&BOM[..self.bom_len], false, &mut out)?;
        }
        self.run(&[], true, &mut out)?;
        if self.columns.is_none() {
            self.failed = Some(FileError::Empty);
            return Err(FileError::Empty);
        }
        Ok(out)
    }

    /// Data records seen so far (blank records are not counted).
    pub fn rows_read(&self) -> u64 {
        self.rows
    }

    fn run(&mut self, input: &[u8], eof: bool, out: &mut Vec<Record>) -> Result<(), FileError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let res = self.parse(input, eof, out);
        if let Err(e) = &res {
            self.failed = Some(e.clone());
        }
        res
    }

    fn parse(
        &mut self,
        mut input: &[u8],
        eof: bool,
        out: &mut Vec<Record>,
    ) -> Result<(), FileError> {
        loop {
            if !self.in_record {
                // Line ends between records: counted here so that the record's
                // first line is known before csv-core sees its first byte.
                let skip = input.iter().position(|&b| b != b'\n' && b != b'\r');
                let skip = skip.unwrap_or(input.len());
                self.line += input[..skip].iter().filter(|&&b| b == b'\n').count() as u64;
                input = &input[skip..];
                if input.is_empty() {
                    return Ok(());
                }
                self.in_record = true;
                self.rec_line = self.line;
                (self.raw, self.out_len, self.n_ends) = (0, 0, 0);
                (self.discard, self.oversize) = (false, false);
            } else if input.is_empty() && !eof {
                return Ok(()); // an empty input would mean end of file to csv-core
            }
            let limit = if self.columns.is_some() {
                MAX_RECORD
            } else {
                MAX_HEADER
            };
            let lines_before = self.core.line();
            let (res, nin, _, nend) = if self.discard {
                let r = self.core.read_record(input, &mut self.buf, &mut self.ends);
                self.blank = self.blank && blank(&self.buf[..r.2]);
                r
            } else {
                // Never read past the limit, so `buf` stays within it.
                let take = input.len().min(limit + 1 - self.raw);
                let (buf, ends) = (&mut self.buf[self.out_len..], &mut self.ends[self.n_ends..]);
                let r = self.core.read_record(&input[..take], buf, ends);
                self.out_len += r.2;
                r
            };
            self.line += self.core.line() - lines_before;
            input = &input[nin..];
            self.raw = self.raw.saturating_add(nin);
            self.n_ends += nend;
            match res {
                ReadRecordResult::Record => {
                    self.in_record = false;
                    self.complete(out)?;
                }
                ReadRecordResult::End => {
                    self.in_record = false;
                    return Ok(());
                }
                _ if self.discard => {}
                _ if self.raw > limit => {
                    if self.columns.is_none() {
                        return Err(FileError::HeaderTooLong);
                    }
                    self.oversize = true;
                    self.start_discard();
                }
                ReadRecordResult::OutputFull => {
                    // out_len <= raw <= limit, so this always grows.
                    let len = (self.buf.len() * 2).min(limit + 1);
                    self.buf.resize(len, 0);
                }
                ReadRecordResult::OutputEndsFull if self.columns.is_none() => {
                    self.ends.resize(self.ends.len() * 2, 0);
                }
                // More fields than the header: count them without keeping them.
                ReadRecordResult::OutputEndsFull => self.start_discard(),
                ReadRecordResult::InputEmpty if eof => return Ok(()),
                ReadRecordResult::InputEmpty => {}
            }
        }
    }

    fn start_discard(&mut self) {
        self.discard = true;
        self.blank = blank(&self.buf[..self.out_len]);
    }

    fn complete(&mut self, out: &mut Vec<Record>) -> Result<(), FileError> {
        if (self.discard && self.blank) || (!self.discard && blank(&self.buf[..self.out_len])) {
            return Ok(()); // empty line, or only empty fields
        }
        let Some(columns) = self.columns else {
            return self.read_header();
        };
        self.rows += 1;
        let line = self.rec_line;
        let whole = |reason: String| {
            Record::Bad(vec![RowError {
                line,
                column: String::new(),
                reason,
            }])
        };
        let record = if self.oversize {
            whole("record longer than 1 MiB".to_owned())
        } else if self.discard || self.n_ends != self.ends.len() {
            let s = if self.n_ends == 1 { "" } else { "s" };
            whole(format!(
                "has {} field{s}, the header has {}",
                self.n_ends,
                self.ends.len()
            ))
        } else {
            self.read_row(&columns)
        };
        out.push(record);
        Ok(())
    }

    fn read_header(&mut self) -> Result<(), FileError> {
        let mut columns = [ABSENT; 14];
        let (mut unknown, mut duplicate) = (Vec::new(), None);
        for i in 0..self.n_ends {
            let name = field(&self.buf, &self.ends, i);
            let name =
                std::str::from_utf8(name.trim_ascii()).map_err(|_| FileError::NotUtf8Header)?;
            match COLUMNS.iter().position(|c| c.eq_ignore_ascii_case(name)) {
                Some(c) if columns[c] != ABSENT => _ = duplicate.get_or_insert(COLUMNS[c]),
                Some(c) => columns[c] = i,
                None => unknown.push(name.to_owned()),
            }
        }
        let missing: Vec<String> = (0..REQUIRED)
            .filter(|&c| columns[c] == ABSENT)
            .map(|c| COLUMNS[c].to_owned())
            .collect();
        if !unknown.is_empty() {
            return Err(FileError::UnknownColumns(unknown));
        }
        if let Some(name) = duplicate {
            return Err(FileError::DuplicateColumn(name.to_owned()));
        }
        if !missing.is_empty() {
            let mut missing = missing;
            missing.sort();
            return Err(FileError::MissingColumns(missing));
        }
        self.ends.resize(self.n_ends, 0); // data records have exactly as many fields
        self.columns = Some(columns);
        Ok(())
    }

    fn read_row(&self, columns: &[usize; 14]) -> Record {
        let mut p = Fields {
            buf: &self.buf,
            ends: &self.ends,
            columns,
            errors: Vec::new(),
        };
        let name = p.text(NAME, 200, true);
        if let Some(n) = name
            && n.chars().any(char::is_control)
        {
            p.bad::<()>(NAME, "must not contain control characters");
        }
        let category = p.code(
            CATEGORY,
            b"-",
            "must be 1 to 20 characters of A-Z, 0-9 and -",
        );
        let department = p.code(
            DEPARTMENT,
            b"-_",
            "must be 1 to 20 characters of A-Z, 0-9, - and _",
        );
        let currency = match p.text(CURRENCY, usize::MAX, true) {
            Some(c) if c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()) => {
                let c = c.to_ascii_uppercase();
                match (self.minor_digits)(&c) {
                    Some(d) => Some((c, d)),
                    None => p.bad(CURRENCY, "unknown currency"),
                }
            }
            Some(_) => p.bad(CURRENCY, "must be a 3-letter currency code"),
            None => None,
        };
        let cost = match p.text(COST, usize::MAX, true) {
            Some(s) => match parse_amount(s, currency.as_ref().map(|c| c.1)) {
                Ok(v) => v,
                Err(reason) => p.bad(COST, reason),
            },
            None => None,
        };
        let purchased = p.date(PURCHASED, true);
        let warranty = p.date(WARRANTY, false);
        if let (Some(from), Some(to)) = (purchased, warranty)
            && to < from
        {
            p.bad::<()>(WARRANTY, "must not be before purchase_date");
        }
        let mut text = |col, max| p.text(col, max, false).unwrap_or_default();
        let (serial, model, location) = (text(SERIAL, 200), text(MODEL, 200), text(LOCATION, 200));
        let (supplier, reference) = (text(SUPPLIER, 200), text(REFERENCE, 200));
        let (notes, holder) = (text(NOTES, 20_000), text(HOLDER, 320));
        let line = self.rec_line;
        let asset = || {
            Some(CsvAsset {
                line,
                name: name?.to_owned(),
                category_code: category?.to_ascii_uppercase(),
                department_code: department?.to_ascii_uppercase(),
                cost_minor: cost?,
                currency: currency?.0,
                purchase_date: purchased?,
                serial: serial.to_owned(),
                model: model.to_owned(),
                location: location.to_owned(),
                warranty_end_date: warranty,
                supplier: supplier.to_owned(),
                purchase_reference: reference.to_owned(),
                notes: notes.to_owned(),
                holder: holder.to_owned(),
            })
        };
        if p.errors.is_empty()
            && let Some(asset) = asset()
        {
            return Record::Row(asset);
        }
        let mut errors = p.errors;
        errors.sort_by_key(|e| columns[e.0]); // file order
        let errors = errors.into_iter().map(|(c, reason)| RowError {
            line,
            column: COLUMNS[c].to_owned(),
            reason,
        });
        Record::Bad(errors.collect())
    }
}

impl std::fmt::Debug for CsvAssets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the record buffer: it can be 1 MiB.
        f.debug_struct("CsvAssets")
            .field("line", &self.line)
            .field("rows_read", &self.rows)
            .field("header_read", &self.columns.is_some())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

/// Field `i` of a record read by csv-core.
fn field<'a>(buf: &'a [u8], ends: &[usize], i: usize) -> &'a [u8] {
    let start = if i == 0 { 0 } else { ends[i - 1] };
    &buf[start..ends[i]]
}

/// Whether field bytes are all ASCII whitespace (so every field is empty).
fn blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// The fields of one data record, and the problems found in them so far.
struct Fields<'a> {
    buf: &'a [u8],
    ends: &'a [usize],
    columns: &'a [usize; 14],
    errors: Vec<(usize, String)>,
}

impl<'a> Fields<'a> {
    /// Records a problem with column `col`; returns `None` for convenience.
    fn bad<T>(&mut self, col: usize, reason: impl Into<String>) -> Option<T> {
        self.errors.push((col, reason.into()));
        None
    }

    /// The trimmed text of column `col` ("" when the header lacks it), or
    /// `None` after recording why it is not acceptable.
    fn text(&mut self, col: usize, max_chars: usize, required: bool) -> Option<&'a str> {
        let raw = match self.columns[col] {
            ABSENT => &[][..],
            i => field(self.buf, self.ends, i).trim_ascii(),
        };
        let Ok(s) = std::str::from_utf8(raw) else {
            return self.bad(col, "is not UTF-8");
        };
        if s.is_empty() && required {
            return self.bad(col, "is required");
        }
        if s.len() > max_chars && s.chars().count() > max_chars {
            return self.bad(col, format!("must be at most {max_chars} characters"));
        }
        Some(s)
    }

    /// A required code of 1 to 20 ASCII letters, digits or `extra` bytes.
    fn code(&mut self, col: usize, extra: &[u8], reason: &str) -> Option<&'a str> {
        let s = self.text(col, usize::MAX, true)?;
        if s.len() > 20
            || !s
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
        {
            return self.bad(col, reason);
        }
        Some(s)
    }

    /// A date as YYYY-MM-DD.
    fn date(&mut self, col: usize, required: bool) -> Option<NaiveDate> {
        let s = self.text(col, usize::MAX, required)?.as_bytes();
        if s.is_empty() {
            return None;
        }
        let shape = s.len() == 10
            && s.iter().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    *b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        if !shape {
            return self.bad(col, "must be a date as YYYY-MM-DD");
        }
        let num =
            |r: std::ops::Range<usize>| s[r].iter().fold(0, |n, d| n * 10 + u32::from(d - b'0'));
        match NaiveDate::from_ymd_opt(num(0..4) as i32, num(5..7), num(8..10)) {
            Some(d) => Some(d),
            None => self.bad(col, "is not a valid calendar date"),
        }
    }
}

/// Parses a plain decimal amount in major units into minor units of a
/// currency with `scale` decimal places. With `scale` unknown (bad currency)
/// only the syntax is checked and `Ok(None)` returned.
fn parse_amount(s: &str, scale: Option<u32>) -> Result<Option<i64>, String> {
    let (int, frac) = match s.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let shape = digits(int) && frac.is_none_or(digits);
    let frac = frac.unwrap_or("");
    let Some(scale) = scale else {
        return match (shape, int.len() + frac.len() > 18) {
            (false, _) => Err("must be a decimal amount, e.g. 1234.50".to_owned()),
            (true, true) => Err("must have at most 18 digits".to_owned()),
            (true, false) => Ok(None),
        };
    };
    if !shape || frac.len() > scale as usize {
        return Err(match scale {
            0 => "must be a whole amount without decimals, e.g. 1234".to_owned(),
            1 => "must be a decimal amount with at most 1 decimal place, e.g. 1234.5".to_owned(),
            n => format!(
                "must be a decimal amount with at most {n} decimal places, e.g. 1234.5{}",
                "0".repeat(n as usize - 1)
            ),
        });
    }
    if int.len() + frac.len() > 18 {
        return Err("must have at most 18 digits".to_owned());
    }
    let value = |t: &str| t.bytes().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
    let pad = scale - frac.len() as u32; // frac.len() <= scale
    let minor = 10i64
        .checked_pow(scale)
        .and_then(|p| value(int).checked_mul(p));
    let frac_minor = 10i64
        .checked_pow(pad)
        .and_then(|p| value(frac).checked_mul(p));
    match (minor, frac_minor) {
        (Some(a), Some(b)) => a
            .checked_add(b)
            .map(Some)
            .ok_or_else(|| "is too large".to_owned()),
        _ => Err("is too large".to_owned()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn digits(code: &str) -> Option<u32> {
        match code {
            "USD" | "EUR" => Some(2),
            "JPY" => Some(0),
            "BHD" => Some(3),
            _ => None,
        }
    }

    fn read(data: &[u8], chunk: usize) -> Result<Vec<Record>, FileError> {
        let mut r = CsvAssets::new(digits);
        let mut out = Vec::new();
        for c in data.chunks(chunk) {
            out.extend(r.feed(c)?);
        }
        out.extend(r.finish()?);
        assert_eq!(r.rows_read(), out.len() as u64);
        Ok(out)
    }

    fn rows(data: &str) -> Vec<CsvAsset> {
        let all = read(data.as_bytes(), 1 << 20).unwrap();
        for chunk in [1, 2, 3, 7] {
            assert_eq!(read(data.as_bytes(), chunk).unwrap(), all, "chunk {chunk}");
        }
        all.into_iter()
            .map(|r| match r {
                Record::Row(a) => a,
                Record::Bad(e) => panic!("{e:?}"),
            })
            .collect()
    }

    fn bad(data: &[u8]) -> Vec<(u64, String, String)> {
        match read(data, 5).unwrap().as_slice() {
            [Record::Bad(e)] => e
                .iter()
                .map(|e| (e.line, e.column.clone(), e.reason.clone()))
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    const HDR: &str = "name,category_code,department_code,purchase_cost,currency,purchase_date\n";
    const BASE: [&str; 14] = [
        "Laptop",
        "it",
        "ops_1",
        "1234.50",
        "usd",
        "2024-01-31",
        "SN1",
        "X1",
        "HQ",
        "2026-01-31",
        "Acme",
        "PO-1",
        "",
        "u@example.com",
    ];

    /// Errors of a one-row file with all 14 columns: `BASE` with `changes`.
    fn errors_with(changes: &[(usize, &str)]) -> Vec<(String, String)> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(COLUMNS).unwrap();
        let mut row = BASE.map(str::to_owned);
        for (c, v) in changes {
            row[*c] = v.to_string();
        }
        w.write_record(&row).unwrap();
        let data = w.into_inner().unwrap();
        let errors = bad(&data);
        assert!(errors.iter().all(|e| e.0 == 2));
        errors.into_iter().map(|(_, c, r)| (c, r)).collect()
    }

    fn one_error(col: usize, value: &str, reason: &str) {
        assert_eq!(
            errors_with(&[(col, value)]),
            [(COLUMNS[col].to_owned(), reason.to_owned())],
            "{value:?}"
        );
    }

    #[test]
    fn base_row_and_header_in_any_order_and_case() {
        let data = format!("{}\n{}\n", COLUMNS.join(","), BASE.join(","));
        let a = &rows(&data)[0];
        assert_eq!(
            (a.line, a.name.as_str(), a.category_code.as_str()),
            (2, "Laptop", "IT")
        );
        assert_eq!(
            (
                a.department_code.as_str(),
                a.cost_minor,
                a.currency.as_str()
            ),
            ("OPS_1", 123450, "USD")
        );
        assert_eq!(a.warranty_end_date, NaiveDate::from_ymd_opt(2026, 1, 31));
        assert_eq!((a.notes.as_str(), a.holder.as_str()), ("", "u@example.com"));
        let data = " Purchase_Date ,CURRENCY,\tName,purchase_COST,Category_Code,department_code , NOTES\n\
                    2024-02-29 , jpy, Desk ,  1234 ,c-1,D,  hi  \n";
        let a = &rows(data)[0];
        assert_eq!(
            (
                a.name.as_str(),
                a.cost_minor,
                a.currency.as_str(),
                a.notes.as_str()
            ),
            ("Desk", 1234, "JPY", "hi")
        );
        assert_eq!(
            (
                a.category_code.as_str(),
                a.serial.as_str(),
                a.warranty_end_date
            ),
            ("C-1", "", None)
        );
        assert_eq!(
            a.purchase_date,
            NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()
        );
    }

    #[test]
    fn bom_is_skipped_even_when_split() {
        let data = format!("\u{FEFF}{HDR}Desk,IT,OPS,0.005,BHD,2024-01-01");
        let a = &rows(&data)[0]; // rows() also reads it in chunks of 1, 2, 3 and 7 bytes
        assert_eq!((a.line, a.cost_minor), (2, 5));
        // A lone BOM prefix that is not followed by the rest is data.
        assert_eq!(read(b"\xEF\xBB", 1), Err(FileError::NotUtf8Header));
        assert_eq!(read(b"\xEF\xBB\xBF", 1), Err(FileError::Empty));
    }

    #[test]
    fn quoted_fields_and_line_numbers() {
        let data = format!(
            "notes,{}\r\n\"\",\"Desk, \"\"big\"\"\",IT,OPS,1,USD,2024-01-01\r\n\"two\r\nlines\nhere\",A,IT,OPS,1,USD,2024-01-01\r\n,Last,IT,OPS,1,USD,2024-01-01",
            HDR.trim_end()
        );
        let r = rows(&data);
        assert_eq!(r.iter().map(|a| a.line).collect::<Vec<_>>(), [2, 3, 6]);
        assert_eq!(
            (r[0].name.as_str(), r[1].notes.as_str()),
            ("Desk, \"big\"", "two\r\nlines\nhere")
        );
        let data = format!("{HDR}A,IT,OPS,1,USD,2024-01-01\r\n\r\nB,IT,OPS,1,USD,2024-01-01\r\n");
        assert_eq!(
            rows(&data).iter().map(|a| a.line).collect::<Vec<_>>(),
            [2, 4]
        );
    }

    #[test]
    fn blank_lines_and_empty_records_are_skipped() {
        let data = format!(
            "\n\n  \n{HDR}\n,,,,,\n  ,\"\",,\t,,\r\n\nA,IT,OPS,1,USD,2024-01-01\n,,,,,,,,,,,\n\n"
        );
        let r = read(data.as_bytes(), 3).unwrap();
        assert_eq!(r.len(), 1);
        assert!(matches!(&r[0], Record::Row(a) if a.line == 9));
        assert_eq!(read(b"\n \r\n,,\n", 2), Err(FileError::Empty));
        assert_eq!(read(b"", 2), Err(FileError::Empty));
        assert_eq!(read(HDR.as_bytes(), 2), Ok(vec![]));
    }

    #[test]
    fn wrong_field_count() {
        let err = |data: &str| bad(format!("{HDR}{data}").as_bytes())[0].2.clone();
        assert_eq!(
            err("A,IT,OPS,1,USD,2024-01-01,x"),
            "has 7 fields, the header has 6"
        );
        let data = format!(
            "{HDR}A,IT,OPS,1,USD\nA,IT,OPS,1,USD,2024-01-01,x,y\nx\nA,IT,OPS,1,USD,2024-01-01"
        );
        let r = read(data.as_bytes(), 4).unwrap();
        let reasons: Vec<_> = r
            .iter()
            .map(|r| match r {
                Record::Bad(e) => (
                    e[0].line,
                    e[0].column.as_str(),
                    e[0].reason.as_str(),
                    e.len(),
                ),
                Record::Row(a) => (a.line, "", "ok", 0),
            })
            .collect();
        assert_eq!(
            reasons,
            [
                (2, "", "has 5 fields, the header has 6", 1),
                (3, "", "has 8 fields, the header has 6", 1),
                (4, "", "has 1 field, the header has 6", 1),
                (5, "", "ok", 0)
            ]
        );
    }

    #[test]
    fn each_field_error() {
        let long = |n| "a".repeat(n);
        let usd = "must be a decimal amount with at most 2 decimal places, e.g. 1234.50";
        for (col, value, reason) in [
            (NAME, "", "is required"),
            (NAME, &long(201), "must be at most 200 characters"),
            (NAME, "a\u{7}b", "must not contain control characters"),
            (CATEGORY, "", "is required"),
            (
                CATEGORY,
                "IT DEPT",
                "must be 1 to 20 characters of A-Z, 0-9 and -",
            ),
            (
                CATEGORY,
                "A_B",
                "must be 1 to 20 characters of A-Z, 0-9 and -",
            ),
            (
                CATEGORY,
                &long(21),
                "must be 1 to 20 characters of A-Z, 0-9 and -",
            ),
            (
                DEPARTMENT,
                "OPS!",
                "must be 1 to 20 characters of A-Z, 0-9, - and _",
            ),
            (
                DEPARTMENT,
                "Ö",
                "must be 1 to 20 characters of A-Z, 0-9, - and _",
            ),
            (COST, "", "is required"),
            (COST, "1,234.50", usd),
            (COST, "1e3", usd),
            (COST, "-5", usd),
            (COST, "1.234", usd),
            (COST, "12.", usd),
            (COST, ".5", usd),
            (COST, "1234567890123456789", "must have at most 18 digits"),
            (COST, "999999999999999999", "is too large"),
            (CURRENCY, "", "is required"),
            (CURRENCY, "US", "must be a 3-letter currency code"),
            (CURRENCY, "U$D", "must be a 3-letter currency code"),
            (CURRENCY, "xyz", "unknown currency"),
            (PURCHASED, "", "is required"),
            (PURCHASED, "2024-1-31", "must be a date as YYYY-MM-DD"),
            (PURCHASED, "31/01/2024", "must be a date as YYYY-MM-DD"),
            (PURCHASED, "+2024-01-31", "must be a date as YYYY-MM-DD"),
            (PURCHASED, "2023-02-29", "is not a valid calendar date"),
            (WARRANTY, "2024-01-30", "must not be before purchase_date"),
            (WARRANTY, "soon", "must be a date as YYYY-MM-DD"),
            (SERIAL, &long(201), "must be at most 200 characters"),
            (MODEL, &long(201), "must be at most 200 characters"),
            (LOCATION, &long(201), "must be at most 200 characters"),
            (SUPPLIER, &long(201), "must be at most 200 characters"),
            (REFERENCE, &long(201), "must be at most 200 characters"),
            (NOTES, &long(20_001), "must be at most 20000 characters"),
            (HOLDER, &long(321), "must be at most 320 characters"),
        ] {
            one_error(col, value, reason);
        }
        // Limits count characters, not bytes.
        let name = "é".repeat(200);
        assert_eq!(
            rows(&format!("{HDR}{name},IT,OPS,1,USD,2024-01-01"))[0].name,
            name
        );
    }

    #[test]
    fn cost_depends_on_currency() {
        let cost = |cost: &str, cur: &str| {
            let data = format!("{HDR}A,IT,OPS,{cost},{cur},2024-01-01\n");
            match read(data.as_bytes(), 9).unwrap().remove(0) {
                Record::Row(a) => Ok(a.cost_minor),
                Record::Bad(e) => Err(e.into_iter().map(|e| e.reason).collect::<Vec<_>>()),
            }
        };
        assert_eq!(cost("1234.5", "USD"), Ok(123450));
        assert_eq!(cost("007", "eur"), Ok(700));
        assert_eq!(cost("1234", "JPY"), Ok(1234));
        assert_eq!(
            cost("12.5", "JPY"),
            Err(vec![
                "must be a whole amount without decimals, e.g. 1234".to_owned()
            ])
        );
        assert_eq!(cost("0.005", "BHD"), Ok(5));
        assert_eq!(
            cost("999999999999999999", "JPY"),
            Ok(999_999_999_999_999_999)
        );
        // With a bad currency, only the syntax of the cost is checked.
        assert_eq!(
            cost("1.2345", "XXX"),
            Err(vec!["unknown currency".to_owned()])
        );
        assert_eq!(cost("1.2.3", "XXX").map_err(|e| e.len()), Err(2));
    }

    #[test]
    fn all_errors_of_a_record_in_file_order() {
        let e = errors_with(&[
            (NAME, ""),
            (CURRENCY, "??"),
            (COST, "abc"),
            (WARRANTY, "2020-01-01"),
            (HOLDER, &"h".repeat(400)),
        ]);
        let cols: Vec<_> = e.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(
            cols,
            [
                "name",
                "purchase_cost",
                "currency",
                "warranty_end_date",
                "holder"
            ]
        );
        let data = format!("{HDR}\"\",?,?,?,?,?\n");
        assert_eq!(bad(data.as_bytes()).len(), 6);
    }

    #[test]
    fn multibyte_split_and_invalid_utf8() {
        let data = format!("{HDR}Ünïcødé 日本 😀,IT,OPS,1,USD,2024-01-01\n");
        assert_eq!(rows(&data)[0].name, "Ünïcødé 日本 😀");
        let mut data = HDR.as_bytes().to_vec();
        data.extend_from_slice(b"A\xC3,IT,OPS,1,USD,2024-01-01\n");
        assert_eq!(
            bad(&data),
            [(2, "name".to_owned(), "is not UTF-8".to_owned())]
        );
        assert_eq!(read(b"name\xFF,x\n", 1), Err(FileError::NotUtf8Header));
    }

    #[test]
    fn header_errors() {
        let err = |h: &str| read(h.as_bytes(), 3).unwrap_err();
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let missing = err("purchase_date,name,category_code\nx,y,z\n");
        assert_eq!(
            missing,
            FileError::MissingColumns(names(&["currency", "department_code", "purchase_cost"]))
        );
        assert_eq!(
            err(&format!("Colour,{}", HDR)),
            FileError::UnknownColumns(names(&["Colour"]))
        );
        assert_eq!(
            err(&format!("{},", HDR.trim_end())),
            FileError::UnknownColumns(names(&[""]))
        );
        assert_eq!(
            err(&format!("{},NAME", HDR.trim_end())),
            FileError::DuplicateColumn("name".into())
        );
        let long = format!("{},notes{}\n", HDR.trim_end(), " ".repeat(MAX_HEADER));
        assert_eq!(err(&long), FileError::HeaderTooLong);
        let mut r = CsvAssets::new(digits);
        assert!(r.feed(long.as_bytes()).is_err());
        assert_eq!(r.feed(b"x"), Err(FileError::HeaderTooLong)); // the error sticks
        assert_eq!(r.finish(), Err(FileError::HeaderTooLong));
    }

    #[test]
    fn oversized_record_is_one_error_and_reader_recovers() {
        let big = "a\n".repeat(MAX_RECORD * 3 / 4); // 1.5 MiB, with line breaks
        let data =
            format!("{HDR}\"{big}\",IT,OPS,1,USD,2024-01-01\nNext,IT,OPS,1,USD,2024-01-01\n");
        for chunk in [MAX_RECORD, 65_537] {
            let mut r = CsvAssets::new(digits);
            let mut out = Vec::new();
            for c in data.as_bytes().chunks(chunk) {
                out.extend(r.feed(c).unwrap());
                assert!(r.buf.len() <= MAX_RECORD + 1);
            }
            out.extend(r.finish().unwrap());
            let reason = "record longer than 1 MiB".to_owned();
            assert_eq!(
                out[0],
                Record::Bad(vec![RowError {
                    line: 2,
                    column: String::new(),
                    reason
                }])
            );
            assert!(
                matches!(&out[1], Record::Row(a) if a.name == "Next" && a.line == 3 + MAX_RECORD as u64 * 3 / 4)
            );
            assert_eq!(out.len(), 2);
        }
        // Exactly 1 MiB (without the line end) is still read as a record.
        let name = "n".repeat(MAX_RECORD - ",IT,OPS,1,USD,2024-01-01".len());
        let data = format!("{HDR}{name},IT,OPS,1,USD,2024-01-01\n");
        let reason = "must be at most 200 characters".to_owned();
        assert_eq!(bad(data.as_bytes()), [(2, "name".to_owned(), reason)]);
    }

    fn text(max: usize) -> impl Strategy<Value = String> {
        proptest::string::string_regex(&format!("[a-zA-Z0-9 ,\"'\r\né日😀-]{{0,{max}}}"))
            .unwrap()
            .prop_map(|s| s.trim_ascii().to_owned())
    }

    prop_compose! {
        fn asset()(
            name in "[A-Za-z][A-Za-z0-9 ,\"'é日-]{0,12}",
            codes in ("[A-Z0-9-]{1,20}", "[A-Z0-9_-]{1,20}"),
            (minor, currency, strip) in (0i64..1_000_000_000_000, prop::sample::select(vec!["USD", "JPY", "BHD"]), any::<bool>()),
            (y, m, d, warranty) in (1990i32..2030, 1u32..=12, 1u32..=28, prop::option::of(0i64..4000)),
            texts in (text(8), text(8), text(8), text(8), text(8), text(30)),
            holder in "([a-z]{1,8}@example\\.com)?",
        ) -> (CsvAsset, String) {
            let scale = digits(currency).unwrap();
            let p = 10i64.pow(scale);
            let mut cost = if scale == 0 { minor.to_string() } else { format!("{}.{:0w$}", minor / p, minor % p, w = scale as usize) };
            if strip && scale > 0 {
                cost = cost.trim_end_matches('0').trim_end_matches('.').to_owned();
            }
            let purchase_date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            let asset = CsvAsset {
                line: 0,
                name: name.trim_end().to_owned(),
                category_code: codes.0,
                department_code: codes.1,
                cost_minor: minor,
                currency: currency.to_owned(),
                purchase_date,
                serial: texts.0, model: texts.1, location: texts.2,
                warranty_end_date: warranty.map(|w| purchase_date + chrono::Duration::days(w)),
                supplier: texts.3, purchase_reference: texts.4, notes: texts.5,
                holder,
            };
            (asset, cost)
        }
    }

    proptest! {
        #[test]
        fn random_valid_files_in_random_chunks(
            assets in prop::collection::vec(asset(), 0..8),
            order in Just((0..14).collect::<Vec<usize>>()).prop_shuffle(),
            crlf in any::<bool>(),
            bom in any::<bool>(),
            sizes in prop::collection::vec(1usize..=48, 1..6),
        ) {
            let term = if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') };
            let start = if bom { BOM.to_vec() } else { Vec::new() };
            let mut w = csv::WriterBuilder::new().terminator(term).from_writer(start);
            w.write_record(order.iter().map(|&c| COLUMNS[c])).unwrap();
            let mut expected = Vec::new();
            for (a, cost) in &assets {
                w.flush().unwrap();
                let line = 1 + w.get_ref().iter().filter(|&&b| b == b'\n').count() as u64;
                let date = |d: Option<NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
                let values = [
                    a.name.clone(), a.category_code.clone(), a.department_code.clone(), cost.clone(),
                    a.currency.clone(), date(Some(a.purchase_date)), a.serial.clone(), a.model.clone(),
                    a.location.clone(), date(a.warranty_end_date), a.supplier.clone(),
                    a.purchase_reference.clone(), a.notes.clone(), a.holder.clone(),
                ];
                w.write_record(order.iter().map(|&c| &values[c])).unwrap();
                expected.push(Record::Row(CsvAsset { line, ..a.clone() }));
            }
            let data = w.into_inner().unwrap();
            let mut r = CsvAssets::new(digits);
            let (mut got, mut rest, mut i) = (Vec::new(), &data[..], 0);
            while !rest.is_empty() {
                let n = sizes[i % sizes.len()].min(rest.len());
                got.extend(r.feed(&rest[..n]).unwrap());
                (rest, i) = (&rest[n..], i + 1);
            }
            got.extend(r.finish().unwrap());
            prop_assert_eq!(got, expected);
            prop_assert_eq!(r.rows_read(), assets.len() as u64);
        }
    }
}
