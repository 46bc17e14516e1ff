//! Skips that never pass silently. A test that needs something the machine
//! lacks (PostgreSQL, RabbitMQ, a third-party tool) asks for it here: under
//! `CI` (any non-empty value) a missing need fails the test, naming it;
//! elsewhere the test records a skip and returns early. A recorded skip goes
//! to stderr and, when `MAP_TEST_SKIP_LOG` names a file, as one line
//! `<test>: <reason>` to that file, so `cargo xtask test` counts and lists
//! the skips in its summary.

use std::{io::Write as _, path::PathBuf};

/// Whether this run is CI's: any non-empty `CI`.
pub fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// The running test's name: libtest names each test's thread after it.
pub fn current_test() -> String {
    std::thread::current()
        .name()
        .filter(|n| *n != "main")
        .unwrap_or("a test")
        .to_owned()
}

/// Records that the running test is skipped because of `reason`.
///
/// # Panics
/// Under CI, always: a CI run never skips.
pub fn skip(reason: &str) {
    let test = current_test();
    if under_ci() {
        panic!("{test} cannot run under CI: {reason}");
    }
    eprintln!("skipped {test}: {reason}");
    if let Some(log) = std::env::var_os("MAP_TEST_SKIP_LOG").filter(|l| !l.is_empty()) {
        // One write per line with O_APPEND: lines of parallel tests never interleave.
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = file.write_all(format!("{test}: {reason}\n").as_bytes());
        }
    }
}

/// `true` when `available`; otherwise records a skip naming `what` (see
/// [`skip`]) and returns `false`, so the test returns early.
pub fn needs(what: &str, available: bool) -> bool {
    if !available {
        skip(&format!("{what} is missing"));
    }
    available
}

/// The path of the program `name` on `PATH`, or `None` after recording a
/// skip (`cargo xtask test` installs the third-party test tools and puts
/// them on `PATH`).
///
/// # Panics
/// Under CI when the program is missing.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        skip(&format!(
            "the tool `{name}` is not on PATH (`cargo xtask test` installs it)"
        ));
    }
    found
}

/// The value of the environment variable `var` when set and non-empty;
/// otherwise records a skip naming it and returns `None`.
pub(crate) fn service_url(var: &str, service: &str) -> Option<String> {
    let url = std::env::var(var).ok().filter(|u| !u.is_empty());
    if url.is_none() {
        skip(&format!(
            "{var} is unset: no {service} to test against (`cargo xtask test` finds a local one)"
        ));
    }
    url
}
