//! The shared data types and their text helpers, with no Leptos in them: what the server sends
//! and the browser reads (their serde shapes are the wire format), the admin API's shapes, job
//! options, the search language, times and sizes in words, URL encoding.

pub mod admin;
pub mod options;
pub mod search;
pub mod text;
pub mod time;
pub mod types;
pub mod url;
