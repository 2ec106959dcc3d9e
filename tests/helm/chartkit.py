"""Helpers for the Helm chart tests: rendering with a real helm, and running what the chart renders (Mosquitto, InfluxDB, ny-power) on loopback as a kubelet would, with each volume
mapped to a local directory."""

from __future__ import annotations

import base64
import json
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "infra" / "helm" / "ny-power"
NAMESPACE = "ny-power-test"


# --- helm ---------------------------------------------------------------------------------------



def write_values(tmp: Path, values: dict | None, name: str = "values.yaml") -> list[str]:
    if not values:
        return []
    path = tmp / name
    path.write_text(yaml.safe_dump(values))
    return ["-f", str(path)]


def helm_template(
    helm: str, tmp: Path, values: dict | None = None, release: str = "t", namespace: str = NAMESPACE,
    check: bool = True, extra: list[str] | None = None,
) -> subprocess.CompletedProcess:
    args = [helm, "template", release, str(CHART), "--namespace", namespace]
    args += write_values(tmp, values, f"values-{release}.yaml")
    args += extra or []
    proc = subprocess.run(args, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"helm template failed:\n{proc.stderr}")
    return proc


def render(helm: str, tmp: Path, values: dict | None = None, release: str = "t",
           namespace: str = NAMESPACE) -> list[dict]:
    """Rendered objects (hooks included) of one release."""
    text = helm_template(helm, tmp, values, release, namespace).stdout
    return [doc for doc in yaml.safe_load_all(text) if doc]


class Manifest:
    """The rendered objects of one release, with lookups."""

    def __init__(self, docs: list[dict]):
        self.docs = docs

    def of_kind(self, kind: str) -> list[dict]:
        return [d for d in self.docs if d["kind"] == kind]

    def get(self, kind: str, name: str) -> dict:
        found = [d for d in self.of_kind(kind) if d["metadata"]["name"] == name]
        assert found, f"no {kind}/{name} in {[(d['kind'], d['metadata']['name']) for d in self.docs]}"
        return found[0]

    def component(self, kind: str, component: str) -> dict:
        found = [d for d in self.of_kind(kind)
                 if d["metadata"]["labels"].get("app.kubernetes.io/component") == component]
        assert len(found) == 1, f"expected one {kind} of component {component}, found {len(found)}"
        return found[0]

    def secret_value(self, name: str, key: str) -> str:
        secret = self.get("Secret", name)
        if "stringData" in secret and key in secret["stringData"]:
            return secret["stringData"][key]
        return base64.b64decode(secret["data"][key]).decode()



# --- running what the chart renders ------------------------------------------------------------


_HANDED_OUT: set[int] = set()


def _ephemeral_low() -> int:
    """The bottom of the kernel's ephemeral port range (ports the kernel gives to bind(0) and
    to outgoing connections)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A free loopback port for a process started later, from below the ephemeral range.

    A port taken with bind(0) and released comes from the ephemeral range, where any outgoing
    connection made before the process binds it (a service connecting to its broker, a
    mosquitto_sub) may be given the same port: seen as "Address already in use" under load.
    Below that range only a process asking for that very port can take it; the ports handed out
    here are remembered so two calls never give the same one."""
    low = min(_ephemeral_low(), 65536)
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(20000, max(low, 20001))
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class PodSandbox:
    """The volumes of one rendered pod as local directories: Secret volumes hold their items'
    decoded values, ConfigMap volumes their keys, emptyDirs and PVCs are empty directories."""

    def __init__(self, manifest: Manifest, pod_spec: dict, root: Path, existing: dict | None = None):
        self.root = root
        self.pod_spec = pod_spec
        self.manifest = manifest
        self.volume_dirs: dict[str, Path] = {}
        existing = existing or {}
        for volume in pod_spec.get("volumes", []):
            path = root / "volumes" / volume["name"]
            path.mkdir(parents=True, exist_ok=True)
            self.volume_dirs[volume["name"]] = path
            if "secret" in volume:
                name = volume["secret"]["secretName"]
                for item in volume["secret"].get("items", []):
                    value = existing.get((name, item["key"])) or manifest.secret_value(name, item["key"])
                    (path / item["path"]).write_text(value)
            elif "configMap" in volume:
                cm = manifest.get("ConfigMap", volume["configMap"]["name"])
                for key, value in cm["data"].items():
                    (path / key).write_text(value)

    def mounts(self, container: dict) -> dict[str, Path]:
        """mountPath -> local directory, for one container."""
        return {m["mountPath"]: self.volume_dirs[m["name"]] for m in container.get("volumeMounts", [])}

    def map_paths(self, container: dict, text: str) -> str:
        """Replace each mount path in `text` by its local directory, in one pass (longest
        mount path first, so /var/lib/x wins over /var/lib)."""
        mounts = {m.rstrip("/"): str(local) for m, local in self.mounts(container).items()}
        if not mounts:
            return text
        pattern = "|".join(re.escape(m) for m in sorted(mounts, key=len, reverse=True))
        return re.sub(rf"(?<![\w/.-])({pattern})(?=/|\s|$|[\"'])", lambda m: mounts[m.group(1)], text)

    def env(self, container: dict) -> dict[str, str]:
        """The container's environment as the kubelet resolves it (secretKeyRef included)."""
        env = {}
        for var in container.get("env", []):
            if "value" in var:
                env[var["name"]] = str(var["value"])
            elif "secretKeyRef" in var.get("valueFrom", {}):
                ref = var["valueFrom"]["secretKeyRef"]
                env[var["name"]] = self.manifest.secret_value(ref["name"], ref["key"])
            else:
                raise AssertionError(f"unsupported env source {var}")
        return env


def mosquitto_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("mosquitto")
    except KeyError:
        return None


class Broker:
    """A real Mosquitto started from the chart's rendered Deployment, ConfigMap and Secret.
    `existing` holds the values of Secrets the chart does not render ((name, key) -> value, e.g.
    the TLS listener's certificate); with mosquitto.tls the TLS listener moves to `tls_port`."""

    def __init__(self, manifest: Manifest, root: Path, existing: dict | None = None):
        self.manifest = manifest
        self.root = root
        deployment = manifest.component("Deployment", "mosquitto")
        self.pod = deployment["spec"]["template"]["spec"]
        self.sandbox = PodSandbox(manifest, self.pod, root, existing)
        self.container = self.pod["containers"][0]
        self.port = free_port()
        self.ws_port = free_port()
        self.tls_port: int | None = None
        # The broker's users as the init container renders them: role -> (user name, password),
        # the name from <ROLE>_USERNAME, the password from the Secret item mounted as <role>.
        init_env = self.sandbox.env(self.pod["initContainers"][0])
        secret = next(v["secret"] for v in self.pod["volumes"] if "secret" in v)
        self.users: dict[str, tuple[str, str]] = {
            item["path"]: (init_env[f"{item['path'].upper()}_USERNAME"],
                           manifest.secret_value(secret["secretName"], item["key"]))
            for item in secret["items"]
        }
        self.proc: subprocess.Popen | None = None
        self.log = root / "mosquitto.log"
        self._init()

    def _init(self) -> None:
        # Run the init container's script as rendered, with its mounts mapped.
        init = self.pod["initContainers"][0]
        assert init["command"][:2] == ["/bin/sh", "-ec"], init["command"]
        script = self.sandbox.map_paths(init, init["command"][2])
        env = {"PATH": os.environ["PATH"], **self.sandbox.env(init)}
        subprocess.run(["/bin/sh", "-ec", script], env=env, check=True)
        # mosquitto.conf as rendered: mount paths mapped, listeners moved to free loopback ports.
        conf_path = self.sandbox.mounts(self.container)["/mosquitto/config"] / "mosquitto.conf"
        conf = self.sandbox.map_paths(self.container, conf_path.read_text())
        mqtt_port = self.manifest.component("Service", "mosquitto")["spec"]["ports"]
        ports = {p["name"]: p["port"] for p in mqtt_port}
        conf, n_tcp = re.subn(rf"(?m)^listener {ports['mqtt']}$", f"listener {self.port} 127.0.0.1", conf)
        # Mosquitto 2.0.11 ignores a WebSocket listener's bind address: a free port it is.
        conf, n_ws = re.subn(rf"(?m)^listener {ports['websocket']}$", f"listener {self.ws_port} 127.0.0.1", conf)
        assert (n_tcp, n_ws) == (1, 1), conf
        if "mqtts" in ports:
            self.tls_port = free_port()
            conf, n_tls = re.subn(rf"(?m)^listener {ports['mqtts']}$", f"listener {self.tls_port} 127.0.0.1", conf)
            assert n_tls == 1, conf
        self.conf = self.root / "mosquitto.conf"
        self.conf.write_text(conf)
        # Running as root, Mosquitto drops to user "mosquitto", which must read its files.
        user = mosquitto_user()
        if user:
            for path in [self.root, *self.root.rglob("*")]:
                os.chown(path, user.pw_uid, user.pw_gid)
            os.chmod(self.root, 0o755)

    def start(self) -> "Broker":
        self.proc = subprocess.Popen(
            ["mosquitto", "-c", str(self.conf)], stdout=open(self.log, "ab"), stderr=subprocess.STDOUT
        )
        try:
            wait_port(self.port, self.proc)
            wait_port(self.ws_port, self.proc)
            if self.tls_port:
                wait_port(self.tls_port, self.proc)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.log.read_text()}") from None
        return self

    def stop(self) -> None:
        if self.proc:
            stop(self.proc)

    def passwd_users(self) -> list[str]:
        """The user names in the password file the init script wrote."""
        path = self.sandbox.mounts(self.container)["/mosquitto/auth"] / "passwd"
        return [line.split(":", 1)[0] for line in path.read_text().splitlines() if line]

    # mosquitto_pub / mosquitto_sub, anonymous unless `user` names a role (pump, co2, archive,
    # homeassistant); `password` overrides that user's password.
    def pub(self, topic: str, message: str, user: str | None = None, password: str | None = None,
            retain: bool = True, extra: list[str] | None = None) -> subprocess.CompletedProcess:
        args = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.port), "-t", topic, "-m", message,
                "-q", "1", *(["-r"] if retain else []), *(extra or [])]
        if user is not None:
            name, secret = self.users[user]
            args += ["-u", name, "-P", password if password is not None else secret]
        return subprocess.run(args, capture_output=True, text=True, timeout=20)

    def pub_v5(self, topic: str, message: str, user: str | None = None) -> str:
        """Publish retained at QoS 1 over MQTT v5 and return what the broker answered: "accepted",
        or "refused" when its PUBACK carried reason code 135 (not authorized)."""
        proc = self.pub(topic, message, user, extra=["-V", "mqttv5", "-d"])
        out = proc.stdout + proc.stderr
        assert "PUBACK" in out or proc.returncode != 0, out
        if re.search(r"(?i)not authori[sz]ed|reason.?code[^\n]*135|\(135\)", out):
            return "refused"
        assert proc.returncode == 0, out
        return "accepted"

    def retained(self, topic: str, timeout: int = 3, user: str | None = None) -> str | None:
        """The retained message on `topic`, as an anonymous subscriber (or the user of role
        `user`) sees it (None if none)."""
        auth = ["-u", self.users[user][0], "-P", self.users[user][1]] if user else []
        proc = subprocess.run(
            ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(self.port), "-t", topic, "-C", "1",
             "-W", str(timeout), "--retained-only", *auth],
            capture_output=True, text=True, timeout=timeout + 10,
        )
        return proc.stdout.rstrip("\n") if proc.returncode == 0 and proc.stdout else None



def have(cmd: str) -> bool:
    return shutil.which(cmd) is not None


class Influx:
    """A real influxd (1.x) started with the environment the chart's InfluxDB Deployment renders
    (INFLUXDB_* settings apply to influxd as config overrides), listeners moved to loopback, then
    initialised the way the official image's init script does it from the same variables."""

    def __init__(self, manifest: Manifest, root: Path):
        deployment = manifest.component("Deployment", "influxdb")
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        self.sandbox = PodSandbox(manifest, pod, root)
        self.root = root
        self.rendered = self._init_env(container)
        self.port = free_port()
        self.log = root / "influxd.log"
        data = self.sandbox.mounts(container)["/var/lib/influxdb"]
        config = root / "influxdb.conf"
        config.write_text(
            f'reporting-disabled = true\nbind-address = "127.0.0.1:{free_port()}"\n'
            f'[meta]\n  dir = "{data}/meta"\n'
            f'[data]\n  dir = "{data}/data"\n  wal-dir = "{data}/wal"\n  query-log-enabled = false\n'
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
            f'[monitor]\n  store-enabled = false\n'
        )
        env = {"PATH": os.environ["PATH"], "HOME": str(root),
               **{k: v for k, v in self.daemon_env.items() if k.startswith("INFLUXDB_")}}
        # Loopback only (TOOLING: the RPC service listens on all interfaces otherwise).
        env["INFLUXDB_HTTP_BIND_ADDRESS"] = f"127.0.0.1:{self.port}"
        env.pop("INFLUXDB_BIND_ADDRESS", None)
        self.proc = subprocess.Popen(["influxd", "run", "-config", str(config)], env=env,
                                     stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        wait_port(self.port, self.proc)
        self._init()

    def _init_env(self, container: dict) -> dict[str, str]:
        """Run the container's rendered start script as the image would, its mounts mapped, with
        stand-ins for the image's /init-influxdb.sh and influxd that record their environment:
        the init script must see the passwords from the mounted Secret files, influxd none.
        Returns the init script's INFLUXDB_* environment (what the image initialises from)."""
        assert container["command"][:2] == ["/bin/sh", "-ec"], container["command"]
        stand_ins = self.root / "stand-ins"
        stand_ins.mkdir()
        for name in ("init-influxdb.sh", "influxd"):
            script = stand_ins / name
            script.write_text(f"#!/bin/sh\nenv > '{self.root / (name + '.env')}'\n")
            script.chmod(0o755)
        text = self.sandbox.map_paths(container, container["command"][2])
        text, n = re.subn(r"(?<![\w/.-])/init-influxdb\.sh\b", str(stand_ins / "init-influxdb.sh"), text)
        assert n == 1, text
        env = {"PATH": f"{stand_ins}:{os.environ['PATH']}", **self.sandbox.env(container)}
        subprocess.run(["/bin/sh", "-ec", text], env=env, check=True, timeout=30)

        def read(name: str) -> dict[str, str]:
            lines = (self.root / f"{name}.env").read_text().splitlines()
            return dict(line.split("=", 1) for line in lines if "=" in line)

        init, daemon = read("init-influxdb.sh"), read("influxd")
        secrets = [v for k, v in init.items() if k.endswith("PASSWORD")]
        assert len(secrets) == 2 and all(secrets), init.keys()
        leaked = [k for k, v in daemon.items() if v in secrets or "PASSWORD" in k]
        assert not leaked, f"influxd's environment holds {leaked}"
        self.daemon_env = daemon
        return {k: v for k, v in init.items() if k.startswith("INFLUXDB_")}

    def query(self, q: str, user: str | None = None, password: str | None = None,
              db: str | None = None) -> tuple[int, dict]:
        # influxd reads the credentials from the URL, the query from the form body
        params = {**({"db": db} if db else {}), **({"u": user, "p": password} if user else {})}
        return self._request("/query?" + urllib.parse.urlencode(params), urllib.parse.urlencode({"q": q}).encode())

    def write(self, db: str, lines: str, user: str | None = None, password: str | None = None) -> int:
        params = {"db": db, **({"u": user, "p": password} if user else {})}
        return self._request("/write?" + urllib.parse.urlencode(params), lines.encode())[0]

    def _request(self, path: str, body: bytes) -> tuple[int, dict]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                text = resp.read().decode()
                return resp.status, (json.loads(text) if text else {})
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read().decode() or "{}")

    def _init(self) -> None:
        r = self.rendered
        admin, admin_pw = r["INFLUXDB_ADMIN_USER"], r["INFLUXDB_ADMIN_PASSWORD"]
        steps = [
            f"CREATE USER \"{admin}\" WITH PASSWORD '{admin_pw}' WITH ALL PRIVILEGES",
            f"CREATE DATABASE \"{r['INFLUXDB_DB']}\"",
            f"CREATE USER \"{r['INFLUXDB_USER']}\" WITH PASSWORD '{r['INFLUXDB_USER_PASSWORD']}'",
            f"REVOKE ALL PRIVILEGES FROM \"{r['INFLUXDB_USER']}\"",
            f"GRANT ALL ON \"{r['INFLUXDB_DB']}\" TO \"{r['INFLUXDB_USER']}\"",
        ]
        for i, q in enumerate(steps):
            status, body = self.query(q, *(() if i == 0 else (admin, admin_pw)))
            assert status == 200 and "error" not in json.dumps(body), f"{q}: {status} {body}"

    def stop(self) -> None:
        stop(self.proc)
