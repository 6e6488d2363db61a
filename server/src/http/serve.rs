//! The HTTP listener. Accepts connections up to `MAX_CONNECTIONS`, serves each with hyper's
//! HTTP/1 server (with a header-read timeout, so a client that sends half a request line and
//! then nothing is closed), and on shutdown stops accepting, lets open requests finish for a
//! bounded time, then drops whatever is still open.
//!
//! axum's own `serve` has no header-read timeout and no connection cap, so the accept loop is
//! ours; the HTTP work is hyper's (`hyper::server::conn::http1`) and the draining is
//! hyper-util's `GracefulShutdown`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;
use tracing::{debug, info, warn};

use crate::config::Limits;
use crate::error::AppError;

/// Connections over the cap that may be answered (503) at the same time; past that they are
/// closed without an answer.
const REFUSALS_AT_ONCE: usize = 256;
/// hyper's per-connection buffer limit (also the largest request head accepted).
const MAX_BUF_SIZE: usize = 64 * 1024;
/// How long answering a refused connection may take.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(2);

/// Serves `router` on `listener` until `shutdown` fires, then drains open connections for at
/// most `drain`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &Limits,
    shutdown: CancellationToken,
    drain: Duration,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(REFUSALS_AT_ONCE));
    let graceful = GracefulShutdown::new();
    let header_timeout = limits.header_read_timeout();
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(stream);
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            refuse(io, &refusals);
            continue;
        };
        let router = router.clone();
        let kill = CancellationToken::new();
        let connection_kill = ConnectionKill(kill.clone());
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(remote));
            request.extensions_mut().insert(connection_kill.clone());
            router.clone().oneshot(request.map(Body::new))
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            // Bounds what hyper buffers per connection, both ways (its default is ~400 KiB):
            // a client that stops reading an event stream holds at most this much here.
            .max_buf_size(MAX_BUF_SIZE);
        let connection = graceful.watch(builder.serve_connection(io, service));
        tokio::spawn(async move {
            let _permit = permit;
            tokio::select! {
                result = connection => {
                    if let Err(error) = result {
                        debug!(%remote, %error, "connection ended with an error");
                    }
                }
                // An event stream whose client stopped reading: drop the connection, which
                // hyper would otherwise keep waiting on a full socket forever.
                () = kill.cancelled() => debug!(%remote, "closed a stalled connection"),
            }
        });
    }
    drop(listener);
    let open = graceful.count();
    if open > 0 {
        info!(open, "waiting for open connections to finish");
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(drain) => {
            warn!("connections still open after the drain time; closing them");
        }
    }
}

/// Answers a connection over the cap with 503 and closes it.
fn refuse(io: TokioIo<tokio::net::TcpStream>, refusals: &Arc<Semaphore>) {
    let Ok(slot) = refusals.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _slot = slot;
        let service = hyper::service::service_fn(|_request: Request<Incoming>| async {
            Ok::<Response<Body>, Infallible>(AppError::TooManyConnections.into_response())
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .keep_alive(false)
            .timer(TokioTimer::new())
            .header_read_timeout(REFUSAL_TIMEOUT);
        let _ = tokio::time::timeout(REFUSAL_TIMEOUT, builder.serve_connection(io, service)).await;
    });
}

/// Fired to close the connection a request came on (set for every connection by [`serve`]).
#[derive(Debug, Clone)]
pub struct ConnectionKill(pub CancellationToken);
