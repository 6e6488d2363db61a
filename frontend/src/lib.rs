//! The browser entry point: hydrates the server-rendered page into the live Leptos app.
//!
//! The home page is hydrated by the first WASM module on its own ([`app::HomeApp`], no
//! router). Every other page hydrates [`app::App`], the router with every page. In the release
//! build (feature `split`, `cargo leptos build --split`) that app is a lazily loaded module of
//! its own, so the home page's download holds only what the home page runs; `cargo leptos
//! watch` does not split, and there it is part of the one module.

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the generated JS once the WASM has loaded.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    let path = leptos::web_sys::window().and_then(|w| w.location().pathname().ok());
    if path.as_deref() == Some("/") {
        leptos::mount::hydrate_body(app::HomeApp);
    } else {
        whole_app_later();
    }
}

/// Loads the module that holds the router and every page but the home page, then hydrates.
#[cfg(feature = "split")]
fn whole_app_later() {
    wasm_bindgen_futures::spawn_local(whole_app());
}

/// Without splitting, the whole app is already here.
#[cfg(not(feature = "split"))]
fn whole_app_later() {
    leptos::mount::hydrate_body(app::App);
}

/// The router and every page but the home page, in a module of its own.
#[cfg(feature = "split")]
#[leptos::lazy]
fn whole_app() {
    // `hydrate_lazy`: the dashboard's routes are lazily loaded too (see `app::dashboard`).
    leptos::mount::hydrate_lazy(app::App);
}
