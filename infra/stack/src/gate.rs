//! A TCP gate in front of a server: forwards connections while open; when closed, drops every
//! connection and refuses new ones. To a client this is indistinguishable from the server going
//! down, which makes it the fault injector for broker outages in tests.

use std::{io, net::SocketAddr, time::Duration};

use tokio::{
    net::{TcpListener, TcpStream},
    task::{JoinHandle, JoinSet},
};
use tokio_util::sync::CancellationToken;

pub struct Gate {
    public: SocketAddr,
    target: SocketAddr,
    running: Option<(CancellationToken, JoinHandle<()>)>,
}

impl Gate {
    /// Listens on `public` and forwards to `target`.
    pub async fn open(public: SocketAddr, target: SocketAddr) -> io::Result<Self> {
        let mut gate = Self {
            public,
            target,
            running: None,
        };
        gate.reopen().await?;
        Ok(gate)
    }

    /// Drops every forwarded connection and stops listening.
    pub async fn close(&mut self) {
        if let Some((cancel, task)) = self.running.take() {
            cancel.cancel();
            let _ = task.await;
        }
    }

    /// Listens again on the same address (after [`close`](Self::close)).
    pub async fn reopen(&mut self) -> io::Result<()> {
        self.close().await;
        let listener = bind_retrying(self.public).await?;
        let cancel = CancellationToken::new();
        let task = tokio::spawn(forward(listener, self.target, cancel.clone()));
        self.running = Some((cancel, task));
        Ok(())
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        if let Some((cancel, task)) = self.running.take() {
            cancel.cancel();
            task.abort();
        }
    }
}

async fn bind_retrying(address: SocketAddr) -> io::Result<TcpListener> {
    let mut attempts = 0;
    loop {
        match TcpListener::bind(address).await {
            Err(error) if error.kind() == io::ErrorKind::AddrInUse && attempts < 100 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            result => return result,
        }
    }
}

async fn forward(listener: TcpListener, target: SocketAddr, cancel: CancellationToken) {
    // Dropping the set when the gate closes aborts every connection task, closing both sockets.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((mut inbound, _)) = accepted else { continue };
                connections.spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(target).await else { return };
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = cancel.cancelled() => break,
        }
    }
}
