//! nginx as a reference gRPC proxy for `map bench gateway`: the proxy most
//! deployments would put in front instead of ours (Debian's `nginx-light`),
//! configured as such a deployment would be — `grpc_pass` over h2c to the
//! service, keep-alive connections to the upstream with a high
//! `keepalive_requests`, one worker per core, access log off. It runs from
//! a temporary prefix and stops (gracefully) when dropped.

use std::{net::SocketAddr, path::Path, process::Stdio, time::Duration};

use tokio::{net::TcpStream, process::Command};

/// A running nginx proxying h2c gRPC to one upstream.
#[derive(Debug)]
pub struct Nginx {
    binary: String,
    dir: tempfile::TempDir,
    /// Where it listens (h2c).
    pub addr: SocketAddr,
    child: tokio::process::Child,
}

/// Its configuration: `listen` proxied to `upstream` with `grpc_pass`.
fn config(dir: &Path, listen: SocketAddr, upstream: SocketAddr) -> String {
    let d = dir.display();
    format!(
        "daemon off;\n\
         master_process on;\n\
         worker_processes auto;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log warn;\n\
         events {{ worker_connections 8192; }}\n\
         http {{\n\
           access_log off;\n\
           client_body_temp_path {d}/body;\n\
           proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fastcgi;\n\
           uwsgi_temp_path {d}/uwsgi;\n\
           scgi_temp_path {d}/scgi;\n\
           keepalive_requests 1000000;\n\
           upstream service {{\n\
             server {upstream};\n\
             keepalive 128;\n\
             keepalive_requests 1000000;\n\
             keepalive_timeout 300s;\n\
           }}\n\
           server {{\n\
             listen {listen} http2;\n\
             location / {{ grpc_pass grpc://service; }}\n\
           }}\n\
         }}\n"
    )
}

impl Nginx {
    /// Starts `binary` (e.g. `/usr/sbin/nginx`) proxying to `upstream`,
    /// and waits until it accepts connections.
    pub async fn start(
        binary: &str,
        upstream: SocketAddr,
    ) -> Result<Nginx, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        // A free port: bound, read, released for nginx.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config(dir.path(), addr, upstream))?;
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {binary}: {e}"))?;
        let mut nginx = Nginx {
            binary: binary.to_owned(),
            dir,
            addr,
            child,
        };
        for _ in 0..100 {
            if TcpStream::connect(addr).await.is_ok() {
                return Ok(nginx);
            }
            if let Some(status) = nginx.child.try_wait()? {
                let log =
                    std::fs::read_to_string(nginx.dir.path().join("error.log")).unwrap_or_default();
                return Err(format!("nginx exited ({status}): {log}").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err("nginx did not listen within 5 s".into())
    }

    /// Stops it: `nginx -s quit` (its workers finish and exit), then the
    /// master is reaped; killed if it does not exit in time.
    pub async fn stop(mut self) {
        let conf = self.dir.path().join("nginx.conf");
        let _ = Command::new(&self.binary)
            .arg("-p")
            .arg(self.dir.path())
            .arg("-c")
            .arg(&conf)
            .args(["-s", "quit"])
            .stderr(Stdio::null())
            .status()
            .await;
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}
