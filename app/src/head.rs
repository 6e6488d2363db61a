//! What pages put into the document's `<head>`, for the home page, the router and the
//! dashboard alike: the title's text, and the preload links of lazily loaded modules. A leaf:
//! it knows no page.

#[cfg(feature = "ssr")]
use leptos::prelude::*;

/// Where the page names the built files (JS, WASM) from: `/pkg/<hash of the build>`, so that
/// each build's files have addresses of their own and the browser keeps them for good (they are
/// served `immutable`; the HTML that names them is read again). Provided by the server; none in
/// development, where the files change under a running server.
#[cfg(feature = "ssr")]
#[derive(Clone, Debug)]
pub struct BuiltRoot(pub String);

/// A document title's text as `leptos_meta`'s `<Title>` should be given it. On the server the
/// title is written into the page as it is (`leptos_meta` does not escape it), so text from a
/// job (its id, its name) could end the `<title>` and add markup; it is escaped there. In the
/// browser the title is set as text, so it stays as it is.
pub fn title_text(text: String) -> String {
    #[cfg(feature = "ssr")]
    {
        let mut escaped = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                '&' => escaped.push_str("&amp;"),
                '<' => escaped.push_str("&lt;"),
                '>' => escaped.push_str("&gt;"),
                '"' => escaped.push_str("&quot;"),
                '\'' => escaped.push_str("&#39;"),
                c => escaped.push(c),
            }
        }
        escaped
    }
    #[cfg(not(feature = "ssr"))]
    text
}

/// The modules a page already preloads (the app's and a route's share some): the server
/// provides a fresh one per request.
#[cfg(feature = "ssr")]
#[derive(Clone, Debug, Default)]
pub struct Preloaded(std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>);

/// Has the page preload the lazily loaded modules named by the split manifest's key that
/// starts with `prefix` (`whole_app_`, the module that holds [`App`], or a dashboard route's),
/// so the browser fetches them alongside the first module instead of one after another. Leptos
/// adds such links for lazy routes only when it streams a page; these pages render whole
/// (`SsrMode::Async`), so the links are added here, to the page's `<head>`. Nothing is added
/// in builds without `--split` (no manifest).
#[cfg(feature = "ssr")]
pub fn preload_split(prefix: &str) {
    use leptos::WasmSplitManifest;
    use leptos_meta::Link;
    let Some(manifest) = use_context::<WasmSplitManifest>() else {
        return;
    };
    let Some(read) = manifest.0.try_read_value() else {
        return;
    };
    let (pkg, chunks, loader) = &*read;
    let Some(modules) = chunks
        .iter()
        .find(|(key, _)| key.starts_with(prefix))
        .map(|(_, modules)| modules)
    else {
        return;
    };
    let preloaded = use_context::<Preloaded>().unwrap_or_default();
    let mut preloaded = preloaded.0.lock().unwrap_or_else(|e| e.into_inner());
    let nonce = use_nonce().map(|n| n.to_string()).unwrap_or_default();
    for module in modules.iter().filter(|m| preloaded.insert((*m).clone())) {
        // `to_html` on a meta component registers it with the page's `<head>`.
        _ = view! {
            <Link
                rel="preload"
                href=format!("{pkg}/{module}.wasm")
                as_="fetch"
                type_="application/wasm"
                crossorigin=nonce.clone()
            />
        }
        .to_html();
    }
    if preloaded.insert(loader.clone()) {
        _ = view! { <Link rel="modulepreload" href=format!("{pkg}/{loader}") crossorigin=nonce/> }
            .to_html();
    }
}

#[cfg(test)]
mod tests {
    #[cfg(feature = "ssr")]
    #[test]
    fn a_title_cannot_end_its_element_on_the_server() {
        let title = super::title_text(
            r#"Job </title><meta http-equiv=refresh content="0;url=//evil.example/"> & 'x'"#
                .to_string(),
        );
        assert!(!title.contains('<') && !title.contains('>') && !title.contains('"'));
        assert_eq!(
            title,
            "Job &lt;/title&gt;&lt;meta http-equiv=refresh content=&quot;0;url=//evil.example/&quot;&gt; &amp; &#39;x&#39;"
        );
    }
}
