//! What a read showed last, kept on screen while reads fail: an outage must not blank the page
//! an operator is looking at. A read refused because Redis or the server does not answer shows
//! the last good answer under a line saying why it is old and how old, and tells the page's
//! [`Live`] (the badge turns red, reads back off); any other refusal shows itself alone.

use leptos::prelude::*;

use super::api::{error_text, unanswered_by};
use super::live::Live;
use crate::model::time::{clock, now_ms, relative};

/// The last good answer of one read.
pub struct Kept<T: Send + Sync + 'static> {
    last: StoredValue<Option<(T, f64)>>,
    live: Live,
}

impl<T: Send + Sync + 'static> Clone for Kept<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Kept<T> {}

impl<T: Clone + Send + Sync + 'static> Kept<T> {
    /// Nothing kept yet, for a read of the page `live` keeps.
    pub fn new(live: Live) -> Self {
        Self {
            last: StoredValue::new(None),
            live,
        }
    }

    /// The view of `read`: `view` of its answer, or of the last good one (marked stale) when it
    /// failed, or the failure alone when there was none.
    pub fn show<V: IntoView + 'static>(
        self,
        read: Result<T, ServerFnError>,
        view: impl FnOnce(T) -> V,
    ) -> AnyView {
        let now = now_ms();
        match read {
            Ok(value) => {
                self.last.set_value(Some((value.clone(), now)));
                self.live.answered(now);
                view(value).into_any()
            }
            Err(error) => {
                let unanswered = unanswered_by(&error);
                if let Some(what) = unanswered {
                    self.live.unanswered(what, now);
                }
                let said = error_text(&error);
                // A refusal (a search that is not the language, a queue that is gone) is about
                // what was asked: what was read for another question is not shown for it.
                let kept = unanswered.and_then(|_| self.last.get_value());
                match kept {
                    Some((value, at)) => {
                        let live_now = self.live.now;
                        let age = move || relative(at as u64, live_now.get().max(at));
                        view! {
                            <div class="stale" data-stale="true">
                                <p class="banner stale" role="status">
                                    {format!("{said}. Showing what was read at {} ", clock(at as u64))}
                                    "("{age}")."
                                </p>
                                {view(value)}
                            </div>
                        }
                        .into_any()
                    }
                    None => view! { <p class="error" role="alert">{said}</p> }.into_any(),
                }
            }
        }
    }
}
