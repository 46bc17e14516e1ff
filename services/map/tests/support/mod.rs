//! `map dev` started as a user starts it, on ports the OS picks
//! (`--any-ports`): the addresses are read from its banner, so tests running
//! side by side never race for a port.
#![allow(dead_code)] // not every test binary reads every field

use std::{
    collections::HashMap,
    io::{BufRead as _, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use map_kit::System;

/// A running `map dev`, killed on drop.
pub struct DevPlatform {
    child: Child,
    /// Each system's gRPC address, `127.0.0.1:port`.
    pub systems: HashMap<System, String>,
    /// The gateway's address.
    pub gateway: String,
    /// The first administrator's password, printed once on first start.
    pub admin_password: Option<String>,
}

impl DevPlatform {
    /// Starts `map dev --any-ports` on `data_dir` and waits (at most 60 s)
    /// for its banner.
    ///
    /// # Panics
    /// When it cannot start or its banner never completes.
    pub fn start(data_dir: &Path) -> DevPlatform {
        let mut child = Command::new(env!("CARGO_BIN_EXE_map"))
            .args(["dev", "--any-ports", "--data-dir"])
            .arg(data_dir)
            .env("MAP_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start map dev: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let (lines_tx, lines) = mpsc::channel();
        // The reader lives as long as the child's stdout (kept open, so the
        // process never writes into a closed pipe).
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut platform = DevPlatform {
            child,
            systems: HashMap::new(),
            gateway: String::new(),
            admin_password: None,
        };
        loop {
            let line = lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|e| panic!("map dev's banner did not complete: {e}"));
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["password:", password, ..] => {
                    platform.admin_password = Some((*password).to_owned());
                }
                ["gateway", url, ..] => {
                    platform.gateway = url.trim_start_matches("http://").to_owned();
                }
                [name, url, ..] if url.starts_with("grpc://") => {
                    if let Ok(system) = name.parse::<System>() {
                        platform
                            .systems
                            .insert(system, url.trim_start_matches("grpc://").to_owned());
                    }
                }
                ["Try:", ..] => break,
                _ => {}
            }
        }
        assert_eq!(
            platform.systems.len(),
            System::ALL.len(),
            "the banner names every system"
        );
        assert!(!platform.gateway.is_empty(), "the banner names the gateway");
        platform
    }

    /// The gRPC address of `system`.
    pub fn addr(&self, system: System) -> &str {
        &self.systems[&system]
    }
}

impl Drop for DevPlatform {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
