//! An axum app served on 127.0.0.1 from its own thread and runtime, so sync
//! tests and tests that spawn `ccci` processes can both talk to it. Dropping
//! the handle stops the server and joins its thread.

use std::net::SocketAddr;

pub struct Served {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Serve `app` on a free port; `name` labels failures.
pub fn serve(name: &'static str, app: axum::Router) -> Served {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{name} runtime: {e}"));
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap_or_else(|e| panic!("bind {name}: {e}"));
            addr_tx
                .send(listener.local_addr().expect("local addr"))
                .expect("send addr");
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await
                .unwrap_or_else(|e| panic!("serve {name}: {e}"));
        });
    });
    let addr = addr_rx
        .recv()
        .unwrap_or_else(|e| panic!("{name} address: {e}"));
    Served {
        addr,
        shutdown: Some(stop_tx),
        thread: Some(thread),
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// When a fake's requests take effect and are answered: a fixed answer
/// latency, writes that take effect late (after a client may have given up,
/// as a slow real server does), and a counter of requests handled, for tests
/// that wait on events instead of time.
#[derive(Debug, Default)]
pub struct Pacing {
    /// Every answer is delayed by this much.
    pub latency_ms: u64,
    /// (path part, how many, ms): the next writes (POST, PATCH, PUT,
    /// DELETE) to a path containing the part take effect this long after
    /// they arrive, and are answered then.
    pub slow_writes: Option<(String, u32, u64)>,
    /// Slow writes received and not yet processed.
    pub slow_in_flight: u32,
    /// Bumped once per request after its effect and before its answer, and
    /// once more when a slow write is received.
    pub served: Option<tokio::sync::watch::Sender<u64>>,
}

impl Pacing {
    /// No delay, with a counter of requests served.
    pub fn counted() -> Self {
        Pacing {
            served: Some(tokio::sync::watch::Sender::new(0)),
            ..Pacing::default()
        }
    }

    fn bump(&self) {
        if let Some(tx) = &self.served {
            tx.send_modify(|n| *n += 1);
        }
    }
}

/// A fake's state that carries a [`Pacing`].
pub trait Paced {
    fn pacing(&mut self) -> &mut Pacing;
}

type Answer<S> = fn(
    &std::sync::Arc<std::sync::Mutex<S>>,
    axum::http::Method,
    axum::http::Uri,
    axum::http::HeaderMap,
    axum::body::Bytes,
) -> axum::response::Response;

/// Answer one request through `answer`, paced by the state's [`Pacing`]. The
/// effect happens first and the answer may be late: a client killed while
/// waiting leaves the effect without knowing it.
pub async fn paced<S: Paced + Send + 'static>(
    state: std::sync::Arc<std::sync::Mutex<S>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
    answer: Answer<S>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let slow = state.lock().map_or(0, |mut s| {
        let p = s.pacing();
        let ms = match &mut p.slow_writes {
            Some((part, n, ms))
                if *n > 0 && method != axum::http::Method::GET && uri.path().contains(&**part) =>
            {
                *n -= 1;
                *ms
            }
            _ => 0,
        };
        if ms > 0 {
            p.slow_in_flight += 1;
            // Received is news too: a test may wait for it.
            p.bump();
        }
        ms
    });
    let response = if slow > 0 {
        // Processed on its own task: a client that hangs up does not stop it.
        let st = state.clone();
        let work = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(slow)).await;
            let a = answer(&st, method, uri, headers, body);
            if let Ok(mut s) = st.lock() {
                s.pacing().slow_in_flight -= 1;
            }
            a
        });
        match work.await {
            Ok(a) => a,
            Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    } else {
        answer(&state, method, uri, headers, body)
    };
    let latency = state.lock().map_or(0, |mut s| {
        s.pacing().bump();
        s.pacing().latency_ms
    });
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    response
}
