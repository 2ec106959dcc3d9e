"""Fan-out benchmark driver (run through scripts/bench-fanout.sh, which raises the file-descriptor
limit and builds the release binaries). Loopback only, bounded by timeouts.

For each broker and each N: N WebSocket subscribers to ny-power/upstream/fuel-mix (one
examples/fanout_client process), readings published by the real pump, and a report of whether
every subscriber got every reading (no gaps), the fan-out latency p50/p99 (from the first
subscriber receiving a reading to each one receiving it), the broker's peak RSS (VmHWM) and the
client's CPU time.

- mosquitto: the chart's rendered Mosquitto (ConfigMap, init script, Secret) started by
  tests/helm/chartkit.py; the real `ny-power pump` as the chart's pump user polls a local
  NYISO server where one reading of a real day (2017-11-22) is appended per second.
- demo: `ny-power demo --replay` (its embedded rumqttd broker; its replay pump publishes a reading
  every 2 s at --speed 150, BENCH_DEMO_SPEED to change it); the RSS is the whole demo process's (broker, pump, calculator, web).
"""

from __future__ import annotations

import argparse
import csv
import http.server
import io
import json
import os
import re
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "helm"))
import chartkit  # noqa: E402

FIXTURE = REPO / "tests" / "fixtures" / "nyiso" / "20171122rtfuelmix.csv"
NOW = "2017-11-23T04:59:00Z"
PROFILE = os.environ.get("BENCH_PROFILE", "release")  # "debug": a quick check of the script itself
BIN = REPO / "target" / PROFILE / "ny-power"
CLIENT = REPO / "target" / PROFILE / "examples" / "fanout_client"
EXPECT = 10


def vm_hwm_kib(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", text).group(1))


def readings() -> tuple[str, list[str]]:
    """The fixture's header and its readings (rows grouped by time stamp and zone)."""
    lines = FIXTURE.read_text().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    groups: list[list[str]] = []
    key = None
    for row in rows:
        k = tuple(next(csv.reader(io.StringIO(row)))[:2])
        if k != key:
            groups.append([])
            key = k
        groups[-1].append(row)
    return header, ["".join(g) for g in groups]


class NyisoServer:
    """A local NYISO stand-in serving one growing daily file."""

    def __init__(self, root: Path):
        self.root = root
        (root / "rtfuelmix").mkdir(parents=True)
        self.file = root / "rtfuelmix" / "20171122rtfuelmix.csv"
        handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(root))  # noqa: E731
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def write(self, text: str) -> None:
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, self.file)

    def stop(self) -> None:
        self.httpd.shutdown()


def start_client(url: str, n: int, timeout: int) -> tuple[subprocess.Popen, float]:
    client = subprocess.Popen(
        [str(CLIENT), "--url", url, "--clients", str(n), "--expect", str(EXPECT), "--timeout", str(timeout)],
        stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([client.stdout], [], [], 1.0)
        if ready:
            line = client.stdout.readline()
            if line.startswith("SUBSCRIBED"):
                print(f"    {line.strip()}", flush=True)
                return client, float(line.split()[1])
            if not line:
                break
    raise SystemExit(f"the client did not report its subscriptions (exit {client.poll()})")


def finish_client(client: subprocess.Popen, timeout: int) -> tuple[dict, float]:
    """The client's JSON report and its CPU seconds (user + system, from wait4)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid, status, usage = os.wait4(client.pid, os.WNOHANG)
        if pid:
            client.returncode = os.waitstatus_to_exitcode(status)
            out = client.stdout.read()
            report = json.loads(out.strip().splitlines()[-1])
            return report, usage.ru_utime + usage.ru_stime
        time.sleep(0.2)
    client.kill()
    raise SystemExit("the client did not finish in time")


def bench_mosquitto(n: int, helm: str, work: Path, timeout: int) -> dict:
    manifest = chartkit.Manifest(chartkit.render(helm, work, None, release="bench"))
    root = Path(tempfile.mkdtemp(prefix="ny-power-bench-broker-"))
    broker = chartkit.Broker(manifest, root).start()
    server = NyisoServer(work / f"nyiso-{n}")
    header, rs = readings()
    server.write(header + "".join(rs[:3]))
    name, password = broker.users["pump"]
    env = {**os.environ, "MQTT_URL": f"mqtt://127.0.0.1:{broker.port}", "MQTT_USERNAME": name,
           "MQTT_PASSWORD": password, "NYISO_BASE_URL": f"http://127.0.0.1:{server.port}",
           "NYPOWER_NOW": NOW, "POLL_INTERVAL": "0.5", "RUST_LOG": "warn", "LOG_FORMAT": "text"}
    pump = subprocess.Popen([str(BIN), "pump"], env=env, stdout=subprocess.DEVNULL,
                            stderr=open(work / f"pump-{n}.log", "w"))
    try:
        deadline = time.monotonic() + 60
        while broker.retained("ny-power/status/fuel-mix/updated", timeout=2) is None:
            if time.monotonic() > deadline:
                raise SystemExit("the pump published nothing: " + (work / f"pump-{n}.log").read_text())
        client, _ = start_client(f"ws://127.0.0.1:{broker.ws_port}/mqtt", n, timeout)
        text = header + "".join(rs[:3])
        for r in rs[3:3 + EXPECT]:
            text += r
            server.write(text)
            time.sleep(1.0)
        report, cpu = finish_client(client, timeout)
        report["broker_peak_rss_mib"] = round(vm_hwm_kib(broker.proc.pid) / 1024, 1)
        report["client_cpu_s"] = round(cpu, 2)
        return report
    finally:
        chartkit.stop(pump)
        broker.stop()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def bench_demo(n: int, work: Path, timeout: int) -> dict:
    # Three descriptors per viewer in the demo process, plus its own files and clients.
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if 3 * n + 256 > limit:
        return {"clients": n, "skipped": f"needs ~{3 * n + 256} open files in the demo process; the limit here is {limit}"}
    site = work / "site"
    site.mkdir(exist_ok=True)
    (site / "index.html").write_text("<!doctype html><title>bench</title>")
    data = work / f"demo-{n}"
    demo = subprocess.Popen(
        [str(BIN), "demo", "--replay", "--speed", os.environ.get("BENCH_DEMO_SPEED", "150"), "--http-port", "0", "--mqtt-port", "0",
         "--ws-port", "0", "--broker-max-connections", str(n + 64), "--data-dir", str(data),
         "--web-dir", str(site)],
        env={**os.environ, "RUST_LOG": "warn,rumqttd=off"}, stdout=subprocess.PIPE,
        stderr=open(work / f"demo-{n}.log", "w"), text=True)
    try:
        ws = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            if not line:
                raise SystemExit("the demo exited: " + (work / f"demo-{n}.log").read_text())
            if line.startswith("MQTT: "):
                ws = line.split()[3]
            if line.startswith("READY"):
                break
        assert ws and ws.startswith("ws://"), ws
        threading.Thread(target=lambda: [None for _ in demo.stdout], daemon=True).start()
        client, _ = start_client(ws, n, timeout)
        report, cpu = finish_client(client, timeout)
        report["broker_peak_rss_mib"] = round(vm_hwm_kib(demo.pid) / 1024, 1)
        report["client_cpu_s"] = round(cpu, 2)
        return report
    finally:
        chartkit.stop(demo)


def verdict(r: dict) -> str:
    if r["delivered_all"]:
        return "yes"
    problems = [f"{r['complete']} of {r['clients']} clients complete"] if r["complete"] != r["clients"] else []
    if r.get("clients_with_gaps"):
        problems.append(f"{r['clients_with_gaps']} clients missed a reading")
    if r.get("clients_with_duplicates"):
        problems.append(f"{r['clients_with_duplicates']} clients got a reading twice")
    return "NO: " + ", ".join(problems or ["see the JSON line"])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--helm", required=True)
    p.add_argument("--clients", default="1000,5000,10000")
    p.add_argument("--brokers", default="mosquitto,demo")
    p.add_argument("--timeout", type=int, default=300)
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="ny-power-bench-") as tmp:
        work = Path(tmp)
        for broker in args.brokers.split(","):
            for n in [int(x) for x in args.clients.split(",")]:
                print(f"  {broker} N={n} …", flush=True)
                r = (bench_mosquitto(n, args.helm, work, args.timeout) if broker == "mosquitto"
                     else bench_demo(n, work, args.timeout))
                r["broker"] = broker
                r.setdefault("expected_per_client", EXPECT)
                print(f"    {json.dumps(r)}", flush=True)
                rows.append(r)
    print()
    print("| broker | N | delivered all | p50 ms | p99 ms | max ms | broker peak RSS MiB | client CPU s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "skipped" in r:
            print(f"| {r['broker']} | {r['clients']} | not run: {r['skipped']} | | | | | |")
            continue
        print(f"| {r['broker']} | {r['clients']} | {verdict(r)} "
              f"| {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.1f} | {r['broker_peak_rss_mib']} | {r['client_cpu_s']} |")


if __name__ == "__main__":
    main()
