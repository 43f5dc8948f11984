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
