//! Reading and writing binary greyscale PGM (`P5`), the format of the official distribution.
//!
//! Written by hand rather than through `image`'s PNM decoder for the sake of the error
//! messages: a bad header names the field that is wrong and a short file says how many bytes
//! are missing, which is what a person with a damaged download needs to hear. The format is a
//! dozen lines of grammar; both functions are covered by a fuzz target.

use image::GrayImage;

/// Why a byte buffer is not a valid 8-bit binary PGM. The caller adds the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgmError(pub String);

impl std::fmt::Display for PgmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Decodes an 8-bit binary PGM (`P5`, maxval 1..=255) into a greyscale image.
pub fn decode(bytes: &[u8]) -> Result<GrayImage, PgmError> {
    let mut pos = 0usize;
    if bytes.len() < 2 || &bytes[..2] != b"P5" {
        let found: String = bytes
            .iter()
            .take(2)
            .map(|&b| (b as char).escape_default().to_string())
            .collect();
        return Err(PgmError(format!(
            "not a binary PGM: expected magic `P5`, found {found:?}"
        )));
    }
    pos += 2;
    let width = header_number(bytes, &mut pos, "width")?;
    let height = header_number(bytes, &mut pos, "height")?;
    let maxval = header_number(bytes, &mut pos, "maxval")?;
    if width == 0 || height == 0 {
        return Err(PgmError(format!("empty image: {width}x{height}")));
    }
    if maxval == 0 || maxval > 255 {
        return Err(PgmError(format!(
            "maxval {maxval}: only 8-bit PGM (maxval 1..=255) is supported"
        )));
    }
    // Exactly one whitespace byte separates the header from the raster.
    match bytes.get(pos) {
        Some(b) if b.is_ascii_whitespace() => pos += 1,
        _ => return Err(PgmError("no whitespace after maxval".into())),
    }
    let expected = (width as u64) * (height as u64);
    let available = (bytes.len() - pos) as u64;
    if available < expected {
        return Err(PgmError(format!(
            "truncated: {width}x{height} needs {expected} pixel bytes, found {available}"
        )));
    }
    if available > expected {
        return Err(PgmError(format!(
            "{} unexpected bytes after the {width}x{height} raster",
            available - expected
        )));
    }
    let raster = bytes[pos..].to_vec();
    GrayImage::from_raw(width, height, raster)
        .ok_or_else(|| PgmError(format!("cannot hold a {width}x{height} image")))
}

/// Encodes a greyscale image as binary PGM with maxval 255.
pub fn encode(image: &GrayImage) -> Vec<u8> {
    let header = format!("P5\n{} {}\n255\n", image.width(), image.height());
    let mut out = Vec::with_capacity(header.len() + image.as_raw().len());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(image.as_raw());
    out
}

/// Reads one decimal header field, skipping whitespace and `#` comments before it.
fn header_number(bytes: &[u8], pos: &mut usize, field: &str) -> Result<u32, PgmError> {
    loop {
        match bytes.get(*pos) {
            Some(b) if b.is_ascii_whitespace() => *pos += 1,
            Some(b'#') => {
                while let Some(&b) = bytes.get(*pos) {
                    *pos += 1;
                    if b == b'\n' || b == b'\r' {
                        break;
                    }
                }
            }
            Some(_) => break,
            None => return Err(PgmError(format!("truncated header: missing {field}"))),
        }
    }
    let start = *pos;
    while bytes.get(*pos).is_some_and(u8::is_ascii_digit) {
        *pos += 1;
    }
    if start == *pos {
        let found = bytes.get(*pos).copied().unwrap_or(b' ');
        return Err(PgmError(format!(
            "bad header: {field} is not a number (found byte {:?})",
            found as char
        )));
    }
    let digits = std::str::from_utf8(&bytes[start..*pos]).unwrap_or("");
    digits
        .parse::<u32>()
        .ok()
        .filter(|&n| n <= 1 << 16)
        .ok_or_else(|| PgmError(format!("bad header: {field} {digits} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_comment() {
        let img = GrayImage::from_fn(3, 2, |x, y| image::Luma([(x + 10 * y) as u8]));
        let mut bytes = encode(&img);
        assert_eq!(&bytes[..11], b"P5\n3 2\n255\n");
        assert_eq!(decode(&bytes).unwrap(), img);
        bytes.splice(2..2, b"\n# a comment\n".iter().copied());
        assert_eq!(decode(&bytes).unwrap(), img);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let img = GrayImage::new(4, 4);
        let good = encode(&img);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"P2\n4 4\n255\n".to_vec(), "expected magic `P5`"),
            (b"P5\n4".to_vec(), "missing height"),
            (b"P5\n4 x 255\n".to_vec(), "height is not a number"),
            (b"P5\n4 4\n65535\n".to_vec(), "only 8-bit"),
            (b"P5\n0 4\n255\n".to_vec(), "empty image"),
            (
                good[..good.len() - 3].to_vec(),
                "needs 16 pixel bytes, found 13",
            ),
            ([good.clone(), vec![0]].concat(), "1 unexpected bytes"),
            (b"P5\n4 4\n255".to_vec(), "no whitespace after maxval"),
        ];
        for (bytes, expected) in cases {
            let err = decode(&bytes).unwrap_err().to_string();
            assert!(err.contains(expected), "{expected:?} not in {err:?}");
        }
    }
}
