//! The home page's own WASM bundle (release builds: `scripts/build-home`).
//!
//! It hydrates [`app::HomeApp`] and references nothing else, so the router, the dashboard and
//! their strings are not in it: the home page downloads only what it runs. Without it (as in
//! `cargo leptos watch`) the server serves `/` with the main bundle (`frontend`), which
//! hydrates the same component.
//!
//! No panic hook here (`console_error_panic_hook` is 1.3 KB gzip of a bundle held to 150 KB):
//! a panic shows in the console as a WebAssembly `unreachable` error without its message. The
//! main bundle, which `cargo leptos watch` serves for `/` too, keeps the hook, so a panic on
//! the home page is read there with its message.

use wasm_bindgen::prelude::wasm_bindgen;

/// Called by the hydration script once the WASM has loaded.
#[wasm_bindgen]
pub fn hydrate() {
    leptos::mount::hydrate_body(app::HomeApp);
}
