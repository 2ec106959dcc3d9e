"""infra/Dockerfile: multi-stage, non-root, no secrets, and its build commands (infra/docker-build.sh)
run here without Docker exactly as the Dockerfile's stages run them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
import yaml

from chartkit import CHART, REPO

DOCKERFILE = REPO / "infra" / "Dockerfile"
BUILD = REPO / "infra" / "docker-build.sh"


def stages() -> list[dict]:
    """The Dockerfile's stages: {"from": ..., "name": ..., "lines": [instruction, ...]}."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    result: list[dict] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            m = re.match(r"FROM\s+(\S+)(?:\s+AS\s+(\S+))?", line, re.I)
            result.append({"from": m.group(1), "name": m.group(2), "lines": []})
        elif result:
            result[-1]["lines"].append(line)
    return result


def test_dockerfile_is_multistage_small_nonroot_and_secret_free():
    all_stages = stages()
    assert len(all_stages) >= 2, "multi-stage build expected"
    final = all_stages[-1]
    assert final["from"].startswith("gcr.io/distroless/"), final["from"]
    runs = [l for s in all_stages for l in s["lines"] if l.upper().startswith("RUN ")]
    assert any("infra/docker-build.sh web " in r for r in runs), runs
    assert any("infra/docker-build.sh rust " in r for r in runs), runs
    assert not [l for l in final["lines"] if l.upper().startswith("RUN ")], "the runtime stage runs nothing"
    copies = [l for l in final["lines"] if l.upper().startswith("COPY ")]
    assert all("--from=" in c for c in copies), "the runtime stage only takes build outputs"
    assert any(c.endswith(" /usr/local/bin/ny-power") for c in copies)
    assert any(c.endswith(" /usr/share/ny-power/web") for c in copies)
    user = [l for l in final["lines"] if l.upper().startswith("USER ")]
    assert user and user[-1].split()[1].split(":")[0] not in ("0", "root"), user
    assert 'ENTRYPOINT ["/usr/local/bin/ny-power"]' in final["lines"]
    for stage in all_stages:
        for line in stage["lines"]:
            if re.match(r"(?i)(ENV|ARG|LABEL)\s", line):
                assert not re.search(r"(?i)password|token|secret|credential", line), line


def test_chart_runs_the_image_as_its_user_and_serves_its_web_dir():
    final = stages()[-1]
    uid = int([l for l in final["lines"] if l.upper().startswith("USER ")][-1].split()[1].split(":")[0])
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == uid
    assert uid >= 10000, f"the image's uid {uid} is low (checkov CKV_K8S_40)"
    web = (CHART / "templates" / "web.yaml").read_text()
    assert "/usr/share/ny-power/web" in web


skip_build = pytest.mark.skipif(
    os.environ.get("NYPOWER_SKIP_IMAGE_BUILD") == "1", reason="NYPOWER_SKIP_IMAGE_BUILD=1"
)


@skip_build
def test_web_stage_builds_the_dashboard(tmp_path):
    """The Dockerfile's web stage, outside Docker: a tree with only infra/docker-build.sh and web/
    (COPY web web: without node_modules or dist), then `infra/docker-build.sh web /out`."""
    if not (REPO / "web" / "package.json").exists() and not (REPO / "web" / "index.html").exists():
        pytest.skip("no web/ dashboard in the tree yet")
    if shutil.which("npm") is None:
        pytest.skip("needs node and npm")
    ctx = tmp_path / "ctx"
    (ctx / "infra").mkdir(parents=True)
    shutil.copy2(BUILD, ctx / "infra" / "docker-build.sh")
    shutil.copytree(REPO / "web", ctx / "web", ignore=shutil.ignore_patterns("node_modules", "dist", "artifacts"))
    out = tmp_path / "out"
    proc = subprocess.run([str(ctx / "infra" / "docker-build.sh"), "web", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (out / "web" / "index.html").is_file()
    assert not (out / "web" / "node_modules").exists()


@skip_build
def test_rust_stage_builds_the_binary(tmp_path):
    """The Dockerfile's rust stage, outside Docker: `infra/docker-build.sh rust /out` in the tree.
    A release build in the repository's own target/ (or CARGO_TARGET_DIR), shared with any other
    release build: only what changed is rebuilt."""
    if not (REPO / "Cargo.toml").exists() or shutil.which("cargo") is None:
        pytest.skip("needs Cargo.toml and cargo")
    out = tmp_path / "out"
    proc = subprocess.run([str(BUILD), "rust", str(out)], cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    binary = out / "bin" / "ny-power"
    assert os.access(binary, os.X_OK)
    help_ = subprocess.run([str(binary), "--help"], capture_output=True, text=True)
    assert help_.returncode == 0, help_.stderr
