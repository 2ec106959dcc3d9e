"""Fixtures of the Helm chart tests (helpers in chartkit.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from chartkit import REPO, Broker, Influx, Manifest, render


@pytest.fixture(scope="session")
def helm() -> str:
    """Path of a real helm binary: $HELM, else the one scripts/install-helm.sh installs."""
    if os.environ.get("HELM"):
        return os.environ["HELM"]
    out = subprocess.run(
        [str(REPO / "scripts" / "install-helm.sh")], check=True, capture_output=True, text=True
    )
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def checkov() -> str:
    """Path of checkov: $CHECKOV, else the one tests/helm/install-checkov.sh installs (its own
    virtualenv: see tests/helm/requirements-checkov.txt)."""
    if os.environ.get("CHECKOV"):
        return os.environ["CHECKOV"]
    out = subprocess.run(
        [str(REPO / "tests" / "helm" / "install-checkov.sh")], check=True, capture_output=True, text=True
    )
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture
def broker_factory(helm, tmp_path):
    brokers: list[Broker] = []

    def make(values: dict | None = None, manifest: Manifest | None = None,
             existing: dict | None = None) -> Broker:
        m = manifest or Manifest(render(helm, tmp_path, values))
        # Outside pytest's tmp dir (mode 0700 parents): the "mosquitto" user must reach the files.
        root = Path(tempfile.mkdtemp(prefix="ny-power-broker-"))
        broker = Broker(m, root, existing)
        brokers.append(broker)
        return broker

    yield make
    for b in brokers:
        b.stop()
        shutil.rmtree(b.root, ignore_errors=True)


@pytest.fixture
def influx_factory(tmp_path):
    started: list[Influx] = []

    def make(manifest: Manifest) -> Influx:
        root = tmp_path / f"influx{len(started)}"
        root.mkdir()
        started.append(Influx(manifest, root))
        return started[-1]

    yield make
    for i in started:
        i.stop()
