//! Percent-encoding for the query strings of the no-JavaScript redirects.

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

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_reserved_and_non_ascii() {
        assert_eq!(super::encode("a b&c=d"), "a%20b%26c%3Dd");
        assert_eq!(super::encode("Tâche"), "T%C3%A2che");
        assert_eq!(super::encode("42"), "42");
    }
}
