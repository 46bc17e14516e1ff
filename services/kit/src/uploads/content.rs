//! Whether a file is what its declared content type says: the first bytes
//! are sniffed for a magic number ([`infer`]); a recognised format must be
//! declared as itself, and content of no recognised format is accepted as
//! text when it is valid UTF-8, or as opaque bytes
//! (`application/octet-stream`). So a PDF declared `image/png` is refused,
//! and so is a script declared as an image.

/// How many leading bytes are sniffed: enough for the formats that look
/// past their first bytes (Office documents inside a ZIP).
pub const SNIFF_BYTES: usize = 64 * 1024;

/// Opaque bytes: accepted for content of no recognised format.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// Longest content type, in bytes.
const MAX_CONTENT_TYPE: usize = 255;

/// Types that are text although not `text/*`.
const TEXT_TYPES: &[&str] = &[
    "application/json",
    "application/xml",
    "application/yaml",
    "application/x-yaml",
    "application/csv",
    "application/x-ndjson",
    "application/sql",
    "application/javascript",
    "image/svg+xml",
];

/// Formats stored as a ZIP archive: the sniffer may recognise only the ZIP.
const ZIP_CONTAINERS: &[&str] = &[
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
    "application/epub+zip",
    "application/java-archive",
    "application/x-zip-compressed",
];

/// A declared content type in its one spelling: the `type/subtype`
/// essence, lower case, parameters dropped (`Text/Plain; charset=utf-8` →
/// `text/plain`). `Err` says what is wrong.
pub fn normalise(declared: &str) -> Result<String, &'static str> {
    let essence = declared.split(';').next().unwrap_or_default().trim();
    if essence.is_empty() {
        return Err("is required");
    }
    if essence.len() > MAX_CONTENT_TYPE {
        return Err("must be at most 255 characters");
    }
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match essence.split_once('/') {
        Some((kind, sub)) if token(kind) && token(sub) => Ok(essence.to_ascii_lowercase()),
        _ => Err("is not a MIME type of the form type/subtype"),
    }
}

/// Whether `content_type` (normalised) is a text type.
pub fn is_text(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || TEXT_TYPES.contains(&content_type)
        || content_type.ends_with("+json")
        || content_type.ends_with("+xml")
}

/// Checks `declared` (normalised) against the content: `head` is its first
/// [`SNIFF_BYTES`] (or all of it), `utf8` whether all of it is valid UTF-8.
/// `Err` says what the content is instead.
pub fn check(declared: &str, head: &[u8], utf8: bool) -> Result<(), String> {
    match infer::get(head) {
        // A recognised binary format must be declared as what it is.
        Some(kind) if kind.matcher_type() != infer::MatcherType::Text => {
            let sniffed = kind.mime_type();
            if declared == sniffed
                || (sniffed == "application/zip" && ZIP_CONTAINERS.contains(&declared))
            {
                Ok(())
            } else {
                Err(format!(
                    "does not match the content, which is {sniffed}: declare what the file is"
                ))
            }
        }
        // No format recognised (or a text one: HTML, XML, a script): text
        // by declaration when it is UTF-8 throughout, or opaque bytes.
        sniffed => {
            if is_text(declared) {
                if utf8 {
                    Ok(())
                } else {
                    Err("does not match the content, which is not valid UTF-8 text".to_owned())
                }
            } else if declared == OCTET_STREAM && sniffed.is_none() {
                Ok(())
            } else if utf8 {
                Err(format!(
                    "does not match the content, which is text: declare a text type such as \
                     text/plain, not {declared}"
                ))
            } else {
                Err(format!(
                    "does not match the content, which is of no format recognised as {declared}: \
                     declare application/octet-stream"
                ))
            }
        }
    }
}

/// Validates UTF-8 across chunk boundaries: feed the chunks in order, then
/// ask [`Utf8Check::finish`].
#[derive(Debug, Default)]
pub struct Utf8Check {
    /// The bytes of a character cut by the end of the last chunk.
    carry: Vec<u8>,
    valid: bool,
    started: bool,
}

impl Utf8Check {
    /// Feeds the next chunk.
    pub fn feed(&mut self, chunk: &[u8]) {
        if !self.started {
            self.started = true;
            self.valid = true;
        }
        if !self.valid {
            return;
        }
        let mut bytes = std::mem::take(&mut self.carry);
        bytes.extend_from_slice(chunk);
        match std::str::from_utf8(&bytes) {
            Ok(_) => {}
            // Only the end is cut: keep it for the next chunk (at most 3
            // bytes of a 4-byte character).
            Err(e) if e.error_len().is_none() => {
                self.carry = bytes.split_off(e.valid_up_to());
            }
            Err(_) => self.valid = false,
        }
    }

    /// Whether everything fed was valid UTF-8 (nothing fed counts as valid).
    pub fn finish(self) -> bool {
        (self.valid || !self.started) && self.carry.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n";

    #[test]
    fn declared_types_have_one_spelling() {
        assert_eq!(
            normalise("Text/Plain; charset=UTF-8"),
            Ok("text/plain".into())
        );
        assert_eq!(normalise(" image/png "), Ok("image/png".into()));
        for bad in ["", "  ", "png", "image/", "/png", "image/png/x", "a b/c"] {
            assert!(normalise(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn recognised_formats_must_be_declared_as_themselves() {
        assert_eq!(check("image/png", PNG, false), Ok(()));
        assert_eq!(check("application/pdf", PDF, false), Ok(()));
        let e = check("image/png", PDF, false).expect_err("a PDF is not a PNG");
        assert!(e.contains("application/pdf"), "{e}");
        assert!(check("text/plain", PNG, false).is_err());
        assert!(check(OCTET_STREAM, PNG, false).is_err());
        // A ZIP may be any format stored as one.
        let zip = b"PK\x03\x04\x14\0\0\0\x08\0";
        assert_eq!(
            check(
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                zip,
                false
            ),
            Ok(())
        );
        assert!(check("image/png", zip, false).is_err());
    }

    #[test]
    fn unrecognised_content_is_text_when_utf8_or_opaque_bytes() {
        let text = "Ticket notes: printer on floor 3 jams.\n".as_bytes();
        assert_eq!(check("text/plain", text, true), Ok(()));
        assert_eq!(check("text/csv", b"a,b\n1,2\n", true), Ok(()));
        assert_eq!(check("application/json", b"{\"a\":1}", true), Ok(()));
        // HTML is sniffed as text: any text type will do.
        assert_eq!(check("text/html", b"<!DOCTYPE html><p>x</p>", true), Ok(()));
        // Text declared as an image is refused, and so is binary as text.
        assert!(check("image/png", text, true).is_err());
        assert!(check("text/plain", b"\xff\xfe\0\x01", false).is_err());
        // Opaque bytes as opaque bytes.
        assert_eq!(check(OCTET_STREAM, b"\x01\x02\x03\xff", false), Ok(()));
    }

    #[test]
    fn utf8_is_checked_across_chunk_boundaries() {
        let s = "añé€😀 done".as_bytes();
        for cut in 0..s.len() {
            let mut c = Utf8Check::default();
            c.feed(&s[..cut]);
            c.feed(&s[cut..]);
            assert!(c.finish(), "cut at {cut}");
        }
        let mut c = Utf8Check::default();
        c.feed(&s[..2]); // "a" and half of "ñ"
        assert!(!c.finish(), "a cut character at the end is not text");
        let mut c = Utf8Check::default();
        c.feed(b"ok \xff ok");
        c.feed(b"fine");
        assert!(!c.finish());
        assert!(Utf8Check::default().finish());
    }
}
