//! The browser entry point: hydrates the server-rendered page into the live Leptos app.
//!
//! The home page is hydrated by the first WASM module on its own ([`app::HomeApp`], no
//! router). Every other page first loads the rest of the app (the router, the dashboard) as a
//! lazily loaded module (`cargo leptos build --split`), so the home page's download holds only
//! what the home page runs.

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the generated JS once the WASM has loaded.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    let path = leptos::web_sys::window().and_then(|w| w.location().pathname().ok());
    if path.as_deref() == Some("/") {
        leptos::mount::hydrate_body(app::HomeApp);
    } else {
        wasm_bindgen_futures::spawn_local(whole_app());
    }
}

/// The router and every page but the home page, in a module of its own.
#[leptos::lazy]
fn whole_app() {
    // `hydrate_lazy`: the dashboard's routes are lazily loaded too (see `app::dashboard`).
    leptos::mount::hydrate_lazy(app::App);
}
