//! The browser's one wrapper of `/tasks/stream` (an `EventSource`), for the home page's loop
//! (`live.rs`) and the dashboard's (`dashboard/live.rs`): the listeners are owned by the
//! [`EventStream`] and dropped with it, so reopening never leaks them; an error closes the
//! source at once (the browser does not retry on its own: each loop decides when to try again).

use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{EventSource, MessageEvent};

/// An open event stream with its listeners.
pub struct EventStream {
    source: EventSource,
    _on_error: Closure<dyn FnMut()>,
    _on_events: Vec<Closure<dyn FnMut(MessageEvent)>>,
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.source.set_onerror(None);
        self.source.close();
    }
}

impl EventStream {
    /// Opens `/tasks/stream` and listens to the events `names`: `on_event(name, event)` for
    /// each, `on_error()` once the stream failed (it is closed by then). `None` when the browser
    /// cannot open one.
    pub fn open(
        names: &'static [&'static str],
        on_error: impl Fn() + 'static,
        on_event: impl Fn(&'static str, MessageEvent) + 'static,
    ) -> Option<Self> {
        let source = EventSource::new("/tasks/stream").ok()?;
        let on_error = {
            let source = source.clone();
            Closure::<dyn FnMut()>::new(move || {
                source.close();
                on_error();
            })
        };
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let on_event = Rc::new(on_event);
        let on_events = names
            .iter()
            .map(|&name| {
                let on_event = on_event.clone();
                let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |event| {
                    on_event(name, event);
                });
                let _ = source
                    .add_event_listener_with_callback(name, listener.as_ref().unchecked_ref());
                listener
            })
            .collect();
        Some(Self {
            source,
            _on_error: on_error,
            _on_events: on_events,
        })
    }
}
