//! The browser entry point: hydrates the server-rendered page into the live Leptos app.

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the generated JS once the WASM has loaded.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // `hydrate_lazy`: the dashboard's routes are lazily loaded (see `app::dashboard`).
    leptos::mount::hydrate_lazy(app::App);
}
