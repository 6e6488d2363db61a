//! The home page's own WASM bundle (release builds: `scripts/lib.sh`'s `build_home_bundle`).
//!
//! It hydrates [`app::HomeApp`] and references nothing else, so the router, the dashboard and
//! their strings are not in it: the home page downloads only what it runs. Without it (as in
//! `cargo leptos watch`) the server serves `/` with the main bundle (`frontend`), which
//! hydrates the same component.

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the hydration script once the WASM has loaded.
#[wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::HomeApp);
}
