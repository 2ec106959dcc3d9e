"""checkov (`--framework kubernetes`) over the rendered chart: with default values and with the
optional features on, every check passes or is skipped on purpose, each skip with its reason
(infra/helm/ny-power/.checkov.yaml for the conventions of a template render, `checkov.io/skip<n>`
annotations for one object). The same scan of a weakened render fails, so the scan is live."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from chartkit import CHART, helm_template

CONFIG = CHART / ".checkov.yaml"

CASES = {
    "defaults": {},
    # every optional feature that renders more objects or other settings
    "features": {
        "ingress": {"enabled": True, "className": "nginx", "host": "power.example.org",
                    "tls": {"enabled": True, "secretName": "power-tls"}},
        "homeAssistant": {"discovery": {"enabled": True}, "user": {"enabled": True}},
        "co2": {"loadForecast": "nyiso"},
        "mosquitto": {"loadBalancer": {"enabled": True, "loadBalancerSourceRanges": ["203.0.113.0/24"]}},
        "mqtt": {"existingSecret": "my-mqtt"},
        "influxdb": {"existingSecret": "my-influx"},
    },
    "external-influxdb-v2": {
        "influxdb": {"enabled": False},
        "externalInfluxdb": {"url": "https://influx.example.org", "apiVersion": "v2", "org": "me",
                             "bucket": "ny-power", "existingSecret": "ext-influx"},
    },
    # a regression the scan must catch: the broker back on the image's low uid 1883
    "weakened-low-uid": {"mosquitto": {"podSecurityContext": {
        "runAsNonRoot": True, "runAsUser": 1883, "runAsGroup": 1883, "fsGroup": 1883}}},
}
# What the annotations on the `helm test` pod skip (in every render).
ANNOTATED = {("CKV_K8S_8", "Pod.ny-power-test.t-ny-power-test-stream"),
             ("CKV_K8S_9", "Pod.ny-power-test.t-ny-power-test-stream")}


@pytest.fixture(scope="module")
def scan(helm, checkov, tmp_path_factory) -> dict[str, dict]:
    """One checkov run over every case's render: {case: {"passed", "failed", "skipped"}} with
    sets of (check id, resource)."""
    tmp = tmp_path_factory.mktemp("checkov")
    files = []
    for case, values in CASES.items():
        path = tmp / f"{case}.yaml"
        path.write_text(helm_template(helm, tmp, values).stdout)
        files += ["-f", str(path)]
    proc = subprocess.run(
        [checkov, "--framework", "kubernetes", "--config-file", str(CONFIG), *files,
         "--output", "json", "--skip-download"],
        capture_output=True, text=True, timeout=600, cwd=tmp,
    )
    assert proc.returncode in (0, 1), f"checkov: exit {proc.returncode}\n{proc.stderr[-3000:]}"
    report = json.loads(proc.stdout)
    assert isinstance(report, dict) and report["check_type"] == "kubernetes", proc.stdout[:500]
    assert report["summary"]["parsing_errors"] == 0, report["summary"]
    out = {case: {"passed": set(), "failed": set(), "skipped": {}} for case in CASES}
    for kind in ("passed", "failed", "skipped"):
        for r in report["results"].get(f"{kind}_checks", []):
            case = Path(r["file_path"]).stem
            key = (r["check_id"], r["resource"])
            if kind == "skipped":
                out[case]["skipped"][key] = r["check_result"].get("suppress_comment") or ""
            else:
                out[case][kind].add(key)
    return out


@pytest.mark.parametrize("case", ["defaults", "features", "external-influxdb-v2"])
def test_checkov_passes_every_check_not_skipped_for_a_reason(scan, case):
    result = scan[case]
    failed = sorted(result["failed"])
    assert failed == [], f"{case}: checkov failed {len(failed)} check(s): {failed}"
    assert len(result["passed"]) > 500, f"{case}: only {len(result['passed'])} checks ran"
    # the only skips by annotation are the test pod's probes, each with its reason
    assert set(result["skipped"]) == ANNOTATED, result["skipped"]
    for key, reason in result["skipped"].items():
        assert len(reason) > 20, f"{key} is skipped without a reason"


def test_the_real_findings_are_fixed_not_skipped(scan):
    """Secrets as files (CKV_K8S_35), high uids (CKV_K8S_40), a NetworkPolicy for every pod
    (CKV2_K8S_6) and namespaced objects (CKV_K8S_21) pass on every object they apply to."""
    def passed_on(resources: set[str], component: str) -> bool:
        # checkov names a workload "Kind.namespace.name"; its graph checks (CKV2_*) name a
        # Deployment's pod template "Pod.namespace.<...>.app.kubernetes.io/component-<component>"
        kind = "Pod" if component == "test-stream" else "Deployment"
        return f"{kind}.ny-power-test.t-ny-power-{component}" in resources or any(
            r.startswith("Pod.") and r.endswith(f"app.kubernetes.io/component-{component}") for r in resources)

    for case in ("defaults", "features", "external-influxdb-v2"):
        passed = scan[case]["passed"]
        components = ["mosquitto", "web", "pump", "co2", "archive", "test-stream"]
        if case != "external-influxdb-v2":
            components.append("influxdb")
        for check in ("CKV_K8S_35", "CKV_K8S_40", "CKV2_K8S_6"):
            resources = {r for c, r in passed if c == check}
            for component in components:
                assert passed_on(resources, component), f"{case}: {check} did not pass on {component}: {resources}"
        namespaced = {r for c, r in passed if c == "CKV_K8S_21"}
        assert "ConfigMap.ny-power-test.t-ny-power-mosquitto" in namespaced, f"{case}: CKV_K8S_21"


def test_the_scan_catches_a_regression(scan):
    failed = scan["weakened-low-uid"]["failed"]
    assert failed == {("CKV_K8S_40", "Deployment.ny-power-test.t-ny-power-mosquitto"),
                      ("CKV_K8S_40", "Pod.ny-power-test.t-ny-power-test-stream")}, failed


def test_every_skip_in_the_config_has_a_reason():
    config = yaml.safe_load(CONFIG.read_text())
    assert set(config) == {"skip-check"}, "only skips belong in the chart's checkov config"
    assert sorted(config["skip-check"]) == ["CKV_K8S_15", "CKV_K8S_43"]
    lines = CONFIG.read_text().splitlines()
    for check in config["skip-check"]:
        (i,) = [n for n, line in enumerate(lines) if re.fullmatch(rf"\s*- {check}\s*", line)]
        comment = []
        while i > 0 and lines[i - 1].strip().startswith("#"):
            i -= 1
            comment.insert(0, lines[i])
        assert check in comment[0] and len(" ".join(comment)) > 120, f"{check}: no reason above it"
    # and every annotation skip in the templates names a check and a reason
    for template in (CHART / "templates").rglob("*.yaml"):
        for m in re.finditer(r"checkov\.io/skip\d+:\s*(\S+)", template.read_text()):
            check, _, reason = m.group(1).partition("=")
            assert re.fullmatch(r"CKV2?_K8S_\d+", check) and reason, f"{template.name}: {m.group(0)}"
