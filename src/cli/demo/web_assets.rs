//! Builds the dashboard with npm when the demo is started from a checkout without
//! `web/dist`.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context as _};

/// How much of a failed npm step's output is shown (its end, where npm puts the cause).
const NPM_OUTPUT_SHOWN: usize = 4000;

/// Builds the dashboard with npm when `web_dir/index.html` is missing. npm runs quietly: its
/// output is shown only when a step fails.
pub(super) fn ensure_web_assets(web_dir: &Path) -> anyhow::Result<()> {
    if web_dir.join("index.html").is_file() {
        return Ok(());
    }
    let project = web_dir.parent().filter(|p| {
        web_dir.file_name() == Some("dist".as_ref()) && p.join("package.json").is_file()
    });
    let Some(project) = project else {
        bail!(
            "{}: no index.html, and no web project (package.json) beside it to build; \
             run from the repository root, or point --web-dir at a built dashboard",
            web_dir.display()
        );
    };
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let found = Command::new(npm)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !found.is_ok_and(|s| s.success()) {
        bail!(
            "the dashboard is not built ({} is missing) and npm was not found: install Node.js \
             20 or newer (it brings npm), or build it on another machine with `cd {} && npm ci \
             && npm run build` and pass the built directory with --web-dir",
            web_dir.join("index.html").display(),
            project.display()
        );
    }
    let steps: [(&str, &[&str]); 2] = [
        (
            "npm ci",
            &["ci", "--no-audit", "--no-fund", "--loglevel=error"],
        ),
        ("npm run build", &["run", "build", "--silent"]),
    ];
    eprintln!(
        "Building the dashboard in {} (npm ci, npm run build; once)…",
        project.display()
    );
    for (name, args) in steps {
        let output = Command::new(npm)
            .args(args)
            .current_dir(project)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {name}"))?;
        if !output.status.success() {
            let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&output.stderr));
            let start = text.len().saturating_sub(NPM_OUTPUT_SHOWN);
            let start = (start..text.len())
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(text.len());
            let hint = if args[0] == "ci" {
                "; npm ci downloads packages from the npm registry: without network, build the \
                 dashboard on another machine and pass it with --web-dir"
            } else {
                ""
            };
            bail!(
                "{name} failed in {} ({}){hint}; npm said:\n{}",
                project.display(),
                output.status,
                text[start..].trim_end()
            );
        }
    }
    if !web_dir.join("index.html").is_file() {
        bail!(
            "npm run build finished but {} is still missing",
            web_dir.join("index.html").display()
        );
    }
    Ok(())
}
