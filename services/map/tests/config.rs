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
        "MAP_PAGE_TOKEN_KEY",
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

/// What every system but Auth needs besides its database (never called
/// by these tests: each fails before it would reach Auth).
const AUTH: [(&str, &str); 2] = [
    ("MAP_AUTH_URL", "http://127.0.0.1:9"),
    ("MAP_AUTH_API_KEY", "mapk_config_test"),
];

#[test]
fn serving_without_a_page_token_key_names_map_page_token_key() {
    for system in ["auth", "tts"] {
        let mut env = vec![("MAP_DATABASE_URL", "sqlite::memory:")];
        env.extend(AUTH);
        let (ok, stderr) = map(&["serve", system], &env);
        assert!(!ok, "{system} started without a page token key");
        assert!(stderr.contains("MAP_PAGE_TOKEN_KEY"), "{system}: {stderr}");
        assert!(stderr.contains("is required"), "{system}: {stderr}");
    }
}

#[test]
fn a_short_page_token_key_is_refused_and_not_echoed() {
    // base64 of 16 bytes: a key too short to trust.
    let key = "c2VjcmV0LWtleS0xNi1iIQ==";
    let (ok, stderr) = map(
        &["serve", "auth"],
        &[
            ("MAP_DATABASE_URL", "sqlite::memory:"),
            ("MAP_PAGE_TOKEN_KEY", key),
        ],
    );
    assert!(!ok);
    assert!(stderr.contains("MAP_PAGE_TOKEN_KEY"), "{stderr}");
    assert!(stderr.contains("at least 32 bytes"), "{stderr}");
    assert!(!stderr.contains(key), "the key leaked: {stderr}");
}

#[test]
fn a_system_without_auth_settings_names_both_variables() {
    for system in ["ams", "bms", "tts", "hdts"] {
        let (ok, stderr) = map(
            &["serve", system],
            &[("MAP_DATABASE_URL", "sqlite::memory:")],
        );
        assert!(!ok, "{system} started without MAP_AUTH_URL");
        assert!(
            stderr.contains("MAP_AUTH_URL") && stderr.contains("MAP_AUTH_API_KEY"),
            "{system}: {stderr}"
        );
    }
    let (_, stderr) = map(
        &["serve", "tts"],
        &[
            ("MAP_DATABASE_URL", "sqlite::memory:"),
            ("MAP_AUTH_URL", "http://127.0.0.1:9"),
        ],
    );
    assert!(stderr.contains("MAP_AUTH_API_KEY"), "{stderr}");
}
