"""The rendered configuration actually works end to end: a real Mosquitto and a real InfluxDB set
up from the rendered objects, the ny-power services run with exactly the environment their
Deployments render (Service hosts mapped to loopback ports, mounted volumes to local
directories), a local NYISO fixture server in place of mis.nyiso.com: readings reach the
broker, the CO2 intensity is computed, points land in InfluxDB, readiness follows the broker
connection, and the dashboard's config.json carries the public WebSocket URL. Also: every
rendered variable is one the binary reads, Home Assistant discovery and the NYISO load forecast
as rendered."""

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
ISOLF = REPO / "tests" / "fixtures" / "nyiso" / "20171122isolf.csv"
NOW = "2017-11-22T23:59:00-05:00"
LAST_READING = "2017-11-23T04:55:00Z"  # 23:55 EST, the fixture's last complete reading

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


def reads_env(binary: str, cmd: str, name: str) -> bool:
    """Whether `ny-power <cmd>` documents the environment variable `name` in its --help."""
    proc = subprocess.run([binary, cmd, "--help"], capture_output=True, text=True)
    return proc.returncode == 0 and f"env: {name}=" in proc.stdout


class NyisoServer:
    """mis.nyiso.com/public/csv on loopback, serving the fixture day (fuel mix and load
    forecast), remembering the paths asked for."""

    def __init__(self, root: Path):
        csv = root / "public" / "csv"
        (csv / "rtfuelmix").mkdir(parents=True)
        (csv / "isolf").mkdir(parents=True)
        shutil.copy(FIXTURE, csv / "rtfuelmix" / FIXTURE.name)
        shutil.copy(ISOLF, csv / "isolf" / ISOLF.name)
        self.requests: list[str] = []
        requests = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send_head(self):
                requests.append(self.path)
                return super().send_head()

        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def nyiso(tmp_path):
    server = NyisoServer(tmp_path / "nyiso")
    yield server
    server.server.shutdown()


@pytest.fixture
def nyiso_server(nyiso):
    return nyiso.port


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


def test_every_rendered_variable_is_read_by_the_binary(helm, tmp_path):
    """No drift between the chart and the binary: each variable a ny-power Deployment renders
    (over the values that switch variables on) is one its subcommand documents in --help."""
    binary, why = nypower_bin()
    if binary is None:
        pytest.skip(why)
    cases = [None,
             {"homeAssistant": {"discovery": {"enabled": True}}, "co2": {"loadForecast": "nyiso"}},
             {"influxdb": {"enabled": False},
              "externalInfluxdb": {"url": "http://x:8086", "apiVersion": "v2", "org": "o", "bucket": "b",
                                   "existingSecret": "s"}},
             {"influxdb": {"enabled": False},
              "externalInfluxdb": {"url": "http://x:8086", "username": "u", "existingSecret": "s"}}]
    helps: dict[str, str] = {}
    for i, values in enumerate(cases):
        manifest = Manifest(render(helm, tmp_path, values, release=f"r{i}"))
        for component in ("pump", "co2", "archive", "web"):
            container = manifest.component("Deployment", component)["spec"]["template"]["spec"]["containers"][0]
            (cmd,) = container["args"]
            if cmd not in helps:
                proc = subprocess.run([binary, cmd, "--help"], capture_output=True, text=True)
                assert proc.returncode == 0, proc.stderr
                helps[cmd] = proc.stdout
            for var in container["env"]:
                # RUST_LOG is read by the log filter, not by clap
                if var["name"] != "RUST_LOG":
                    assert f"env: {var['name']}=" in helps[cmd], \
                        f"`ny-power {cmd}` does not read {var['name']} (values {values})"


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

    hosts = stack_hosts(manifest, broker, nyiso_server, influx)
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

        def retained(topic: str, until=lambda payload: True, timeout: float = 90) -> dict:
            """The retained JSON on `topic` once `until(payload)` holds (the pump publishes the
            day's readings one after the other: earlier ones are retained on the way)."""
            deadline = time.monotonic() + timeout
            last = None
            while time.monotonic() < deadline:
                message = broker.retained(topic, timeout=2)
                if message:
                    last = json.loads(message)
                    if until(last):
                        return last
                else:
                    time.sleep(0.2)
            logs = "\n".join(f"--- {p.component}\n{p.logs()}" for p in pods)
            raise AssertionError(f"{topic}: last retained {last} after {timeout}s\n{logs}")

        # Every service announces itself online (retained, with its last will).
        for component in ("pump", "co2", "archive"):
            assert retained(f"ny-power/status/{component}")["state"] == "online", component

        # The last complete reading of 2017-11-22 (23:55 EST) reaches anonymous subscribers.
        at_last = lambda payload: payload.get("ts") == LAST_READING
        mix = retained("ny-power/upstream/fuel-mix", at_last)
        assert set(mix["fuels"]) == {"dual_fuel", "natural_gas", "nuclear", "other_fossil_fuels",
                                     "other_renewables", "wind", "hydro"}
        assert retained("ny-power/status/fuel-mix/updated")["ts"] == LAST_READING
        co2 = retained("ny-power/computed/co2", at_last)
        assert co2["units"] == "g/kWh" and co2["factors"] == "direct" and co2["value"] > 0

        # ... and the archiver stores both the fuel mix and the CO2 intensity in the database
        # the chart created (a read the archiver's broker user lacks is not refused at
        # SUBACK by Mosquitto 2.0: its messages just never arrive, so count both).
        env = pods[0].env
        password = Path(env["INFLUX_PASSWORD_FILE"]).read_text()

        def points(measurement: str) -> int:
            _, body = influx.query(f'SELECT COUNT(*) FROM "{measurement}"', env["INFLUX_USERNAME"],
                                   password, db=env["INFLUX_DATABASE"])
            counts = body["results"][0].get("series", [{}])[0].get("values", [[0, 0]])[0][1:]
            return max((c for c in counts if isinstance(c, int)), default=0)

        deadline = time.monotonic() + 60
        counts = {"fuel_mix": 0, "co2": 0}
        while time.monotonic() < deadline and not all(counts.values()):
            counts = {m: points(m) for m in counts}
            time.sleep(0.5)
        assert all(counts.values()), f"points in InfluxDB: {counts}\n{pods[0].logs()}"

        # The refused anonymous publish changed nothing, with the services running.
        broker.pub("ny-power/computed/co2", '{"value": -1}')
        assert retained("ny-power/computed/co2") == co2

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

        # Readiness follows the broker connection (the chart's readinessProbe), liveness does
        # not (a broker outage must not restart the services): stop the broker, then bring it back.
        services = [p for p in pods if p.component in ("pump", "co2", "archive")]
        broker.stop()
        for pod in services:
            deadline = time.monotonic() + 30
            while pod.probe("readinessProbe") == 200 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert pod.probe("readinessProbe") == 503, f"{pod.component} still ready without a broker"
            assert pod.probe("livenessProbe") == 200, pod.component
        broker.start()
        for pod in services:
            pod.wait_ready()
    finally:
        for pod in pods:
            pod.stop()


def stack_hosts(manifest: Manifest, broker, nyiso_port: int, influx=None) -> dict[tuple[str, int], int]:
    """Service DNS names and ports -> loopback ports of the processes standing in for them."""
    svc = lambda component: manifest.component("Service", component)
    ports = lambda component: {p["name"]: p["port"] for p in svc(component)["spec"]["ports"]}
    hosts = {
        (svc("mosquitto")["metadata"]["name"], ports("mosquitto")["mqtt"]): broker.port,
        (svc("mosquitto")["metadata"]["name"], ports("mosquitto")["websocket"]): broker.ws_port,
        ("mis.nyiso.com", 80): nyiso_port,
    }
    if influx is not None:
        hosts[(svc("influxdb")["metadata"]["name"], ports("influxdb")["http"])] = influx.port
    return hosts


@needs_services
def test_home_assistant_discovery_as_rendered(helm, tmp_path, broker_factory, nyiso):
    """homeAssistant.discovery.enabled: the calculator, run with its rendered environment,
    publishes retained sensor configs that the rendered ACL lets anonymous clients read."""
    binary, why = nypower_bin()
    if binary is None:
        pytest.skip(why)
    if not reads_env(binary, "co2", "HA_DISCOVERY"):
        pytest.skip("`ny-power co2` does not read HA_DISCOVERY yet (issue 7)")
    manifest = Manifest(render(helm, tmp_path, {"homeAssistant": {"discovery": {"enabled": True}}}))
    broker = broker_factory(manifest=manifest).start()
    co2 = Pod(manifest, "co2", tmp_path / "co2", binary, stack_hosts(manifest, broker, nyiso.port))
    assert co2.env["HA_DISCOVERY"] == "true" and co2.env["HA_DISCOVERY_PREFIX"] == "homeassistant"
    try:
        co2.start({"NYPOWER_NOW": NOW}).wait_ready()
        seen: dict[str, dict] = {}
        deadline = time.monotonic() + 30
        expected = {"co2_intensity", "fossil_share", "co2_band", "co2_index",
                    "charge_window_4h_start", "ready_by_4h_start"}
        while len(seen) < len(expected) and time.monotonic() < deadline:
            proc = subprocess.run(
                ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-v", "-W", "2",
                 "--retained-only", "-t", "homeassistant/sensor/ny_power/+/config"],
                capture_output=True, text=True, timeout=20)
            for line in proc.stdout.splitlines():
                topic, payload = line.split(" ", 1)
                seen[topic] = json.loads(payload)
        objects = {t.split("/")[3] for t in seen}
        assert objects == expected, f"{sorted(seen)}\n{co2.logs()}"
        intensity = seen["homeassistant/sensor/ny_power/co2_intensity/config"]
        assert intensity["state_topic"] == "ny-power/computed/co2"
        assert intensity["unique_id"] == "ny_power_co2_intensity"
    finally:
        co2.stop()


@needs_services
def test_load_forecast_as_rendered(helm, tmp_path, broker_factory, nyiso):
    """co2.loadForecast=nyiso: the calculator fetches NYISO's isolf files from the rendered
    NYISO_BASE_URL and keeps publishing the intensity forecast."""
    binary, why = nypower_bin()
    if binary is None:
        pytest.skip(why)
    if not reads_env(binary, "co2", "LOAD_FORECAST"):
        pytest.skip("`ny-power co2` does not read LOAD_FORECAST yet")
    manifest = Manifest(render(helm, tmp_path, {"co2": {"loadForecast": "nyiso"}, "pump": {"pollInterval": 2}}))
    broker = broker_factory(manifest=manifest).start()
    hosts = stack_hosts(manifest, broker, nyiso.port)
    pods = []
    try:
        for component in ("co2", "pump"):
            pod = Pod(manifest, component, tmp_path / component, binary, hosts)
            pods.append(pod.start({"NYPOWER_NOW": NOW}))
        assert pods[0].env["LOAD_FORECAST"] == "nyiso"
        assert pods[0].env["NYISO_BASE_URL"] == f"http://127.0.0.1:{nyiso.port}/public/csv"
        for pod in pods:
            pod.wait_ready()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("isolf" in r for r in nyiso.requests):
            time.sleep(0.5)
        assert f"/public/csv/isolf/{ISOLF.name}" in nyiso.requests, \
            f"{nyiso.requests}\n{pods[0].logs()}"
        forecast = broker.retained("ny-power/computed/co2/forecast", timeout=30)
        assert forecast and json.loads(forecast)["values"], pods[0].logs()
        assert pods[0].probe("readinessProbe") == 200
    finally:
        for pod in pods:
            pod.stop()
