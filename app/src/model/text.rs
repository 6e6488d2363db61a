//! Text helpers every audience uses.

/// At most `chars` characters of `text`, with an ellipsis when cut.
pub fn shorten(text: &str, chars: usize) -> String {
    let mut cut: String = text.chars().take(chars).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    #[test]
    fn shortens_on_characters_with_an_ellipsis() {
        assert_eq!(super::shorten("abc", 5), "abc");
        assert_eq!(super::shorten("ééééé", 2), "éé…");
    }
}
