//! Configuration is validated before anything is bound, and a bad value
//! stops the process with a message naming its variable (and no secret).

use std::process::Command;

fn map(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_map"));
    cmd.args(args).env("MAP_LOG", "warn");
    for key in [
        "MAP_DATABASE_URL",
        "MAP_LISTEN",
        "MAP_AMQP_URL",
        "MAP_AUTH_URL",
        "MAP_AUTH_API_KEY",
    ] {
        cmd.env_remove(key);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run map: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bad_listen_address_names_map_listen() {
    let (ok, stderr) = map(
        &["serve", "tts"],
        &[
            ("MAP_DATABASE_URL", "sqlite::memory:"),
            ("MAP_LISTEN", "not-an-address"),
        ],
    );
    assert!(!ok);
    assert!(stderr.contains("MAP_LISTEN"), "{stderr}");
}

#[test]
fn a_missing_database_names_map_database_url() {
    let (ok, stderr) = map(&["migrate", "ams"], &[]);
    assert!(!ok);
    assert!(stderr.contains("MAP_DATABASE_URL"), "{stderr}");
}

#[test]
fn a_rejected_database_url_is_not_echoed() {
    let (ok, stderr) = map(
        &["serve", "bms"],
        &[("MAP_DATABASE_URL", "mysql://admin:s3cr3t-pw@db/bms")],
    );
    assert!(!ok);
    assert!(stderr.contains("MAP_DATABASE_URL"), "{stderr}");
    assert!(
        !stderr.contains("s3cr3t-pw"),
        "the password leaked: {stderr}"
    );
}

#[test]
fn an_unknown_system_is_refused() {
    let (ok, stderr) = map(
        &["serve", "payroll"],
        &[("MAP_DATABASE_URL", "sqlite::memory:")],
    );
    assert!(!ok);
    assert!(stderr.contains("payroll"), "{stderr}");
}
