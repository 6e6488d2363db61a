//! Text helpers every audience uses.

/// At most `chars` characters of `text`, with an ellipsis when cut.
pub fn shorten(text: &str, chars: usize) -> String {
    let mut cut: String = text.chars().take(chars).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

/// `n` with its noun: "1 queue", "3 queues".
pub fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shortens_on_characters_with_an_ellipsis() {
        assert_eq!(super::shorten("abc", 5), "abc");
        assert_eq!(super::shorten("ééééé", 2), "éé…");
    }

    #[test]
    fn counts_take_their_plural() {
        assert_eq!(super::plural(1, "queue", "queues"), "1 queue");
        assert_eq!(super::plural(0, "child", "children"), "0 children");
    }
}
