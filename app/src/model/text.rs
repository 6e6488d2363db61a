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

/// A task's label for people, the same on the people's page and in the dashboard: `#42`, or
/// `#3f9a1c0b` for the long ids the page's own retry keys make (`idem-<hex>`; the full id is
/// the hover text). The dashboard's search finds a job by it (see `Search::id_prefix`).
pub fn task_label(id: &str) -> String {
    match id.strip_prefix("idem-") {
        Some(hex) if hex.len() > 8 && hex.is_char_boundary(8) => format!("#{}", &hex[..8]),
        _ => format!("#{id}"),
    }
}

/// How the dashboard shows a job id: a page-made `idem-<hex>` id as the label its person
/// sees (`#3f9a1c0b`), any other id as it is.
pub fn shown_id(id: &str) -> String {
    if id.starts_with("idem-") {
        task_label(id)
    } else {
        id.to_string()
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
