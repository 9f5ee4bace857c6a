//! The embedded broker survives a stop and restart with its data, as the local run promises.

use std::time::Duration;

use stack::{EmbeddedBroker, create_topics};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread")]
async fn a_gated_broker_goes_down_and_comes_back() {
    let storage = tempfile::TempDir::new().expect("temporary directory");
    let address = free_address();
    let mut broker =
        EmbeddedBroker::start_gated(address, free_address(), &storage.path().join("broker"))
            .await
            .expect("broker starts");
    create_topics(&broker.bootstrap_servers(), &[("restart-test", 1)])
        .await
        .expect("topic created");
    broker.stop().await.expect("gated broker stops");
    assert!(
        TcpStream::connect(address).await.is_err(),
        "a stopped broker still accepts connections"
    );
    broker.restart().await.expect("broker restarts");
    // Deliberate: it must keep listening over time, not only answer once.
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            TcpStream::connect(address).await.is_ok(),
            "the restarted broker stopped listening"
        );
    }
}

fn free_address() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
}
