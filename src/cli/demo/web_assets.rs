//! Builds the dashboard with npm when the demo is started from a checkout without
//! `web/dist`.

use std::path::Path;

use anyhow::{bail, Context as _};

/// Builds the dashboard with npm when `web_dir/index.html` is missing.
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
    let found = std::process::Command::new(npm)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .status();
    if !found.is_ok_and(|s| s.success()) {
        bail!(
            "the dashboard is not built ({} is missing) and npm was not found: install Node.js \
             20 or newer (it brings npm), or build it elsewhere with `cd {} && npm ci && npm run build`",
            web_dir.join("index.html").display(),
            project.display()
        );
    }
    for step in [&["ci"][..], &["run", "build"][..]] {
        eprintln!(
            "Building the dashboard: npm {} (in {})",
            step.join(" "),
            project.display()
        );
        let status = std::process::Command::new(npm)
            .args(step)
            .current_dir(project)
            .stdout(std::process::Stdio::inherit())
            .status()
            .with_context(|| format!("running npm {}", step.join(" ")))?;
        if !status.success() {
            bail!(
                "npm {} failed in {} ({status})",
                step.join(" "),
                project.display()
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
