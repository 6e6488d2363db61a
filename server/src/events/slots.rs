//! How many event streams are open, in all and per client network (an address, an IPv6
//! client's /64: see `auth::client`), so their caps (`MAX_SSE_STREAMS`,
//! `MAX_SSE_STREAMS_PER_CLIENT`) hold. A stream's place is given back when it ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ipnet::IpNet;

/// Which cap a new stream would pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    /// `MAX_SSE_STREAMS` streams are open.
    #[error("too many open event streams")]
    Total,
    /// This client network has `MAX_SSE_STREAMS_PER_CLIENT` streams open.
    #[error("too many open event streams from this client")]
    PerClient,
}

/// Open streams, in total and per client network (an address, an IPv6 client's /64: see
/// `auth::client`).
#[derive(Debug, Default)]
pub struct StreamSlots {
    open: Mutex<(usize, HashMap<IpNet, usize>)>,
}

/// One open stream's place; freed when the stream ends.
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    client: Option<IpNet>,
}

impl StreamSlots {
    /// How many streams are open.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).0
    }

    /// Takes a place for a stream from `client`, or says which cap is hit.
    pub fn take(
        self: &Arc<Self>,
        client: Option<IpNet>,
        max_total: usize,
        max_per_client: usize,
    ) -> Result<StreamSlot, SlotError> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.0 >= max_total {
            return Err(SlotError::Total);
        }
        if let Some(ip) = client {
            let mine = open.1.entry(ip).or_insert(0);
            if *mine >= max_per_client {
                return Err(SlotError::PerClient);
            }
            *mine += 1;
        }
        open.0 += 1;
        Ok(StreamSlot {
            slots: self.clone(),
            client,
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        open.0 = open.0.saturating_sub(1);
        if let Some(ip) = self.client
            && let Some(count) = open.1.get_mut(&ip)
        {
            *count -= 1;
            if *count == 0 {
                open.1.remove(&ip);
            }
        }
    }
}
