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

/// A form-encoded body (`a=1&b=2`), as the server functions read their arguments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form(String);

impl Form {
    /// Adds `name=value`.
    pub fn field(mut self, name: &str, value: &str) -> Self {
        if !self.0.is_empty() {
            self.0.push('&');
        }
        self.0.push_str(name);
        self.0.push('=');
        self.0.push_str(&encode(value));
        self
    }

    /// Adds `name=value` when there is a value (an absent field is `None` to the server).
    pub fn optional(self, name: &str, value: Option<&str>) -> Self {
        match value {
            Some(value) => self.field(name, value),
            None => self,
        }
    }

    /// Adds a list as the server reads one: `name[0]=a&name[1]=b`.
    pub fn list(mut self, name: &str, values: &[String]) -> Self {
        for (i, value) in values.iter().enumerate() {
            self = self.field(&format!("{name}[{i}]"), value);
        }
        self
    }

    /// The body.
    pub fn into_body(self) -> String {
        self.0
    }
}

/// `bytes` in lower-case hex, two digits each: the page's ids and keys and the server's
/// digests, tokens and run ids (without the formatting machinery, which the page's WASM need
/// not carry for this).
pub fn hex(bytes: impl IntoIterator<Item = u8>) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::new();
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 15)] as char);
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

    #[test]
    fn hex_is_two_lower_case_digits_a_byte() {
        assert_eq!(super::hex([0u8, 9, 10, 255, 0x3f]), "00090aff3f");
        assert_eq!(super::hex("a b".bytes()), "612062");
        assert_eq!(super::hex([]), "");
    }
}
