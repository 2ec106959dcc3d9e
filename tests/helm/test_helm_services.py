"""The rendered configuration actually works end to end: a real Mosquitto and a real InfluxDB set
up from the rendered objects, the ny-power services run with exactly the environment their
Deployments render (Service hosts mapped to loopback ports, mounted volumes to local
directories), a local NYISO fixture server in place of mis.nyiso.com: readings reach the
broker, the CO2 intensity is computed, points land in InfluxDB, and the dashboard's config.json
carries the public WebSocket URL."""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from chartkit import REPO, Manifest, PodSandbox, free_port, have, render, stop

FIXTURE = REPO / "tests" / "fixtures" / "nyiso" / "20171122rtfuelmix.csv"
NOW = "2017-11-22T23:59:00-05:00"

needs_services = pytest.mark.skipif(
    not (have("mosquitto") and have("influxd")),
    reason="needs Mosquitto and InfluxDB 1.x: apt-get install mosquitto mosquitto-clients influxdb",
)


def nypower_bin() -> tuple[str | None, str]:
    """The ny-power binary to run, or None and why not."""
    candidates = [os.environ["NYPOWER_BIN"]] if os.environ.get("NYPOWER_BIN") else [
        str(REPO / "target" / "debug" / "ny-power"), str(REPO / "target" / "release" / "ny-power")]
    for path in candidates:
        if not os.access(path, os.X_OK):
            continue
        ok = all(subprocess.run([path, cmd, "--help"], capture_output=True).returncode == 0
                 for cmd in ("pump", "co2", "archive"))
        if ok:
            return path, ""
        return None, f"{path} has no pump/co2/archive subcommands yet"
    return None, f"no ny-power binary (build it with `cargo build`, or set NYPOWER_BIN); looked at {candidates}"


def has_subcommand(binary: str, cmd: str) -> bool:
    return subprocess.run([binary, cmd, "--help"], capture_output=True).returncode == 0


@pytest.fixture
def nyiso_server(tmp_path):
    """mis.nyiso.com/public/csv on loopback, serving the fixture day."""
    root = tmp_path / "nyiso"
    (root / "public" / "csv" / "rtfuelmix").mkdir(parents=True)
    shutil.copy(FIXTURE, root / "public" / "csv" / "rtfuelmix" / FIXTURE.name)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


class Pod:
    """One rendered ny-power Deployment run as a local process."""

    def __init__(self, manifest: Manifest, component: str, root: Path, binary: str,
                 hosts: dict[tuple[str, int], int]):
        deployment = manifest.component("Deployment", component)
        self.spec = deployment["spec"]["template"]["spec"]
        self.container = self.spec["containers"][0]
        self.sandbox = PodSandbox(manifest, self.spec, root)
        self.component = component
        self.rendered = self.sandbox.env(self.container)
        self.env = {k: self._localize(k, v, hosts) for k, v in self.rendered.items()}
        self.port = None
        for key in ("HEALTH_ADDR", "HTTP_ADDR"):
            if key in self.env:
                self.port = free_port()
                self.env[key] = f"127.0.0.1:{self.port}"
        self.log = root / f"{component}.log"
        self.args = [binary, *self.container["args"]]
        self.proc: subprocess.Popen | None = None

    def _localize(self, key: str, value: str, hosts: dict[tuple[str, int], int]) -> str:
        if re.match(r"^[a-z]+://", value):
            url = urlsplit(value)
            default = {"http": 80, "https": 443, "mqtt": 1883}.get(url.scheme)
            target = hosts.get((url.hostname, url.port or default))
            if target is not None:
                return urlunsplit(url._replace(netloc=f"127.0.0.1:{target}"))
            return value
        if value.startswith("/"):
            return self.sandbox.map_paths(self.container, value)
        return value

    def start(self, extra_env: dict[str, str]) -> "Pod":
        env = {"PATH": os.environ["PATH"], **self.env, **extra_env}
        self.proc = subprocess.Popen(self.args, env=env, stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        return self

    def probe(self, kind: str) -> int | None:
        path = self.container[kind]["httpGet"]["path"]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return None

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"{self.component} exited {self.proc.returncode}:\n{self.logs()}"
            if self.probe("readinessProbe") == 200:
                return
            time.sleep(0.2)
        raise AssertionError(f"{self.component} not ready after {timeout}s:\n{self.logs()}")

    def logs(self) -> str:
        return self.log.read_text()[-4000:] if self.log.exists() else ""

    def stop(self) -> None:
        if self.proc:
            stop(self.proc)


def test_influxdb_as_rendered_admits_only_the_services_user(helm, tmp_path, influx_factory):
    if not have("influxd"):
        pytest.skip("needs InfluxDB 1.x: apt-get install influxdb")
    manifest = Manifest(render(helm, tmp_path))
    influx = influx_factory(manifest)
    archive = PodSandbox(manifest, manifest.component("Deployment", "archive")["spec"]["template"]["spec"],
                         tmp_path / "archive")
    container = manifest.component("Deployment", "archive")["spec"]["template"]["spec"]["containers"][0]
    env = archive.env(container)
    password = Path(archive.map_paths(container, env["INFLUX_PASSWORD_FILE"])).read_text()
    db, user = env["INFLUX_DATABASE"], env["INFLUX_USERNAME"]
    assert influx.write(db, "probe value=1 1511412900000000000", user, password) == 204
    assert influx.write(db, "probe value=2 1511412900000000000") == 401, "anonymous write accepted"
    assert influx.write(db, "probe value=3 1511412900000000000", user, "wrong") == 401
    status, body = influx.query("CREATE DATABASE other", user, password)
    assert status != 200 or "error" in json.dumps(body), "the services user must not be admin"
    status, body = influx.query("SELECT value FROM probe", user, password, db=db)
    assert status == 200 and body["results"][0]["series"][0]["values"][0][1] == 1


@needs_services
def test_services_run_with_the_rendered_environment(helm, tmp_path, broker_factory, influx_factory, nyiso_server):
    binary, why = nypower_bin()
    if binary is None:
        pytest.skip(why)
    assert FIXTURE.exists(), FIXTURE
    manifest = Manifest(render(helm, tmp_path, {"pump": {"pollInterval": 2}}))
    broker = broker_factory(manifest=manifest).start()
    influx = influx_factory(manifest)

    # Service DNS names and ports -> loopback ports of the processes standing in for them.
    svc = lambda component: manifest.component("Service", component)
    ports = lambda component: {p["name"]: p["port"] for p in svc(component)["spec"]["ports"]}
    hosts = {
        (svc("mosquitto")["metadata"]["name"], ports("mosquitto")["mqtt"]): broker.port,
        (svc("mosquitto")["metadata"]["name"], ports("mosquitto")["websocket"]): broker.ws_port,
        (svc("influxdb")["metadata"]["name"], ports("influxdb")["http"]): influx.port,
        ("mis.nyiso.com", 80): nyiso_server,
    }
    pods = []
    try:
        for component in ("archive", "co2", "pump"):
            root = tmp_path / component
            pod = Pod(manifest, component, root, binary, hosts)
            assert pod.env["MQTT_URL"] == f"mqtt://127.0.0.1:{broker.port}", pod.env
            pods.append(pod.start({"NYPOWER_NOW": NOW}))
        for pod in pods:
            pod.wait_ready()
            assert pod.probe("livenessProbe") == 200, pod.component

        def retained(topic: str, timeout: float = 60) -> dict:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                message = broker.retained(topic, timeout=2)
                if message:
                    return json.loads(message)
            logs = "\n".join(f"--- {p.component}\n{p.logs()}" for p in pods)
            raise AssertionError(f"nothing retained on {topic} after {timeout}s\n{logs}")

        # The last complete reading of 2017-11-22 (23:55 EST) reaches anonymous subscribers.
        mix = retained("ny-power/upstream/fuel-mix")
        assert set(mix["fuels"]) == {"dual_fuel", "natural_gas", "nuclear", "other_fossil_fuels",
                                     "other_renewables", "wind", "hydro"}
        assert retained("ny-power/status/fuel-mix/updated")["ts"].startswith("2017-11-2")
        co2 = retained("ny-power/computed/co2")
        assert co2["units"] == "g/kWh" and co2["factors"] == "direct" and co2["value"] > 0

        # ... and the archiver stores points in the database the chart created.
        env = pods[0].env
        password = Path(env["INFLUX_PASSWORD_FILE"]).read_text()
        deadline = time.monotonic() + 60
        count = 0
        while time.monotonic() < deadline and not count:
            status, body = influx.query("SHOW MEASUREMENTS", env["INFLUX_USERNAME"], password,
                                        db=env["INFLUX_DATABASE"])
            series = body.get("results", [{}])[0].get("series")
            if series:
                measurement = series[0]["values"][0][0]
                _, body = influx.query(f'SELECT COUNT(*) FROM "{measurement}"', env["INFLUX_USERNAME"],
                                       password, db=env["INFLUX_DATABASE"])
                counts = body["results"][0].get("series", [{}])[0].get("values", [[0, 0]])[0][1:]
                count = max(c for c in counts if isinstance(c, int)) if counts else 0
            time.sleep(0.5)
        assert count > 0, f"no points in InfluxDB\n{pods[0].logs()}"

        # The refused anonymous publish changed nothing, with the services running.
        broker.pub("ny-power/computed/co2", '{"value": -1}')
        assert retained("ny-power/computed/co2")["value"] == co2["value"]

        if has_subcommand(binary, "web"):
            web_dir = REPO / "web" / "dist"
            if not (web_dir / "index.html").exists():
                web_dir = tmp_path / "web-static"
                web_dir.mkdir()
                (web_dir / "index.html").write_text("<!doctype html><title>ny-power</title>")
            web = Pod(manifest, "web", tmp_path / "web", binary, hosts)
            pods.append(web.start({"WEB_DIR": str(web_dir)}))
            web.wait_ready(30)
            with urllib.request.urlopen(f"http://127.0.0.1:{web.port}/config.json", timeout=5) as r:
                config = json.load(r)
            assert config["mqtt"]["url"] == web.rendered["PUBLIC_MQTT_WS_URL"] == "ws://127.0.0.1:9001/mqtt"
            assert config["topic_root"] == "ny-power"
    finally:
        for pod in pods:
            pod.stop()
