//! Percent-encoding for the query strings of the no-JavaScript redirects and the cookie that
//! lists a no-JavaScript browser's tasks.

/// Encodes `text` for use as a query-string value.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Decodes a percent-encoded value; `None` when it is malformed or not UTF-8.
pub fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_reserved_and_non_ascii() {
        assert_eq!(super::encode("a b&c=d"), "a%20b%26c%3Dd");
        assert_eq!(super::encode("Tâche"), "T%C3%A2che");
        assert_eq!(super::encode("42"), "42");
        for text in ["a b|c", "Tâche 7", "x%y", ""] {
            assert_eq!(super::decode(&super::encode(text)).as_deref(), Some(text));
        }
        assert_eq!(super::decode("%zz"), None);
        assert_eq!(super::decode("%4"), None);
    }
}
