//! `ny-power demo` building a missing dashboard: npm runs quietly when it works, and its own
//! words are shown, once, when it fails. The web project here is a minimal one (no
//! dependencies, so `npm ci` needs no network) whose build script prints a line and writes
//! `dist/index.html`; the real dashboard's build is tested by `web/test.sh`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ny-power");

/// A web project in `dir/web` whose `npm run build` runs `build_js`.
fn web_project(dir: &Path, build_js: &str) -> std::path::PathBuf {
    let web = dir.join("web");
    std::fs::create_dir_all(&web).unwrap();
    std::fs::write(
        web.join("package.json"),
        r#"{"name": "fake-web", "version": "1.0.0", "private": true,
            "scripts": {"build": "node build.js"}}"#,
    )
    .unwrap();
    std::fs::write(
        web.join("package-lock.json"),
        r#"{"name": "fake-web", "version": "1.0.0", "lockfileVersion": 3, "requires": true,
            "packages": {"": {"name": "fake-web", "version": "1.0.0"}}}"#,
    )
    .unwrap();
    std::fs::write(web.join("build.js"), build_js).unwrap();
    web.join("dist")
}

/// Runs the demo on `web_dir` until READY (then SIGINT) or until it exits; returns whether
/// READY was printed, stdout up to READY and everything it wrote to stderr.
fn run_demo(data_dir: &Path, web_dir: &Path) -> (bool, String, String) {
    let mut child = Command::new(BIN)
        .args(["demo", "--replay", "--http-port", "0", "--mqtt-port", "0"])
        .args([
            "--ws-port",
            "0",
            "--replay-backfill-hours",
            "6",
            "--data-dir",
        ])
        .arg(data_dir)
        .arg("--web-dir")
        .arg(web_dir)
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    // Generous: npm starts slowly on a loaded machine.
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut ready = false;
    let mut out = String::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.starts_with("READY ") => {
                ready = true;
                break;
            }
            Ok(line) => {
                out.push_str(&line);
                out.push('\n');
            }
            // stdout closed: the demo exited.
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!("the demo neither printed READY nor exited");
            }
        }
    }
    if ready {
        let pid = child.id().to_string();
        assert!(Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success());
    }
    let status = child.wait().unwrap();
    assert_eq!(status.success(), ready, "exit status {status}");
    (ready, out, err_reader.join().unwrap())
}

#[test]
fn a_missing_dashboard_is_built_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let dist = web_project(
        dir.path(),
        r#"const fs = require("fs");
           console.log("noise-from-the-build-script");
           fs.mkdirSync("dist", { recursive: true });
           fs.writeFileSync("dist/index.html", "<!doctype html><title>t</title>");"#,
    );
    let (ready, stdout, stderr) = run_demo(&dir.path().join("data"), &dist);
    assert!(ready, "{stderr}");
    assert!(!stdout.contains("noise-from-the-build-script"), "{stdout}");
    assert!(dist.join("index.html").is_file());
    assert!(stderr.contains("Building the dashboard in "), "{stderr}");
    assert!(!stderr.contains("noise-from-the-build-script"), "{stderr}");
    assert!(!stderr.contains("npm warn"), "{stderr}");
}

#[test]
fn a_failing_dashboard_build_shows_what_npm_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let dist = web_project(
        dir.path(),
        r#"console.error("the-build-broke-here"); process.exit(3);"#,
    );
    let (ready, _, stderr) = run_demo(&dir.path().join("data"), &dist);
    assert!(!ready);
    let fatal: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(fatal.len(), 1, "one fatal line:\n{stderr}");
    assert!(
        fatal[0].starts_with("error: npm run build failed in "),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("the-build-broke-here").count(),
        1,
        "{stderr}"
    );
}
