//! A TCP proxy in front of PostgreSQL that a test can break: refuse connections (database down) or
//! swallow traffic (database hanging), then heal.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Forward,
    /// New connections are closed at once and open ones are cut.
    Refuse,
    /// Connections stay open but nothing passes, in either direction.
    Hang,
}

pub struct Proxy {
    pub addr: SocketAddr,
    mode: Arc<watch::Sender<Mode>>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (mode, _) = watch::channel(Mode::Forward);
        let mode = Arc::new(mode);
        let modes = mode.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mut rx = modes.subscribe();
                tokio::spawn(async move {
                    let current = *rx.borrow_and_update();
                    match current {
                        Mode::Refuse => {}
                        Mode::Hang => {
                            // Hold the socket until the mode changes, then cut it.
                            let _hold = client;
                            let _ = rx.changed().await;
                        }
                        Mode::Forward => {
                            let Ok(server) = TcpStream::connect(target).await else {
                                return;
                            };
                            pipe(client, server, rx).await;
                        }
                    }
                });
            }
        });
        Self { addr, mode }
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// A Postgres URL through this proxy for the given schema.
    pub fn postgres_url(&self, schema: &str) -> String {
        format!(
            "postgres://postgres@{}/{}?options[search_path]={schema}",
            self.addr,
            database_name()
        )
    }
}

fn database_name() -> String {
    let url = super::helpers::postgres_url();
    url.rsplit('/')
        .next()
        .and_then(|s| s.split('?').next())
        .unwrap_or("test")
        .to_owned()
}

/// The address of the real Postgres.
pub fn postgres_addr() -> SocketAddr {
    let url = super::helpers::postgres_url();
    let host_port = url
        .split('@')
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or("127.0.0.1:5432");
    let host_port = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    host_port.replace("localhost", "127.0.0.1").parse().unwrap()
}

async fn pipe(mut client: TcpStream, mut server: TcpStream, mut modes: watch::Receiver<Mode>) {
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    {
        let forward = async {
            tokio::select! {
                _ = tokio::io::copy(&mut cr, &mut sw) => {}
                _ = tokio::io::copy(&mut sr, &mut cw) => {}
            }
        };
        tokio::pin!(forward);
        loop {
            tokio::select! {
                _ = &mut forward => return,
                changed = modes.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let mode = *modes.borrow();
                    match mode {
                        Mode::Forward => continue,
                        Mode::Refuse => return,
                        Mode::Hang => break,
                    }
                }
            }
        }
        // Hanging: nothing is copied any more, but both sockets stay open until the mode changes.
        let _ = modes.changed().await;
    }
    let _ = cw.shutdown().await;
}
