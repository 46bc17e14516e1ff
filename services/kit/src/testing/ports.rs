//! Ports for tests without the probe-then-bind race: a port is held by a
//! bound socket from the moment it is chosen, so no other test can take it.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// A port on 127.0.0.1 that is reserved and refuses connections (bound,
/// not listening) until [`listen`](Self::listen) opens it: a replica that is
/// down now and comes up later, or an upstream where nothing listens.
#[derive(Debug)]
pub struct ReservedPort {
    socket: TcpSocket,
    addr: SocketAddr,
}

impl ReservedPort {
    /// Reserves a free port the OS picks.
    ///
    /// # Panics
    /// When no socket can be bound.
    pub fn new() -> ReservedPort {
        let socket = TcpSocket::new_v4().expect("a TCP socket");
        socket
            .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .expect("bind 127.0.0.1:0");
        let addr = socket.local_addr().expect("local addr");
        ReservedPort { socket, addr }
    }

    /// The reserved port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The reserved address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts listening on the port (inside a Tokio runtime).
    ///
    /// # Panics
    /// When the socket cannot listen.
    pub fn listen(self) -> TcpListener {
        self.socket
            .listen(1024)
            .expect("listen on the reserved port")
    }
}

impl Default for ReservedPort {
    fn default() -> Self {
        ReservedPort::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reserved_port_refuses_until_it_listens() {
        let reserved = ReservedPort::new();
        let addr = reserved.addr();
        let refused = tokio::net::TcpStream::connect(addr).await;
        assert!(refused.is_err(), "a reserved port accepted a connection");
        // Nobody else can bind it meanwhile.
        assert!(std::net::TcpListener::bind(addr).is_err());
        let listener = reserved.listen();
        let (connected, accepted) =
            tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
        assert!(connected.is_ok() && accepted.is_ok());
    }
}
