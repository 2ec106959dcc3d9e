"""The Mosquitto configuration the chart renders works: a real Mosquitto started from the rendered
ConfigMap, the rendered init container's script (password file from the Secret) and the rendered
ACL lets anonymous clients read and refuses their publishes, over TCP and WebSockets, and lets
each ny-power service's own user publish its own topics and nothing else (least privilege), and
Home Assistant's optional user publish its birth message."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import subprocess

import pytest

from chartkit import Manifest, PodSandbox, have, render

pytestmark = pytest.mark.skipif(
    not (have("mosquitto") and have("mosquitto_pub") and have("mosquitto_passwd")),
    reason="needs Mosquitto: apt-get install mosquitto mosquitto-clients",
)

TOPIC = "ny-power/computed/co2"


@pytest.fixture
def broker(broker_factory):
    return broker_factory().start()


def reading(value: float) -> str:
    return json.dumps({"ts": "2017-11-23T04:55:00Z", "value": value, "units": "g/kWh", "factors": "direct"})


def test_services_users_publish_and_anonymous_reads(broker):
    proc = broker.pub(TOPIC, reading(113.782), user="co2")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(broker.retained(TOPIC))["value"] == 113.782
    # a wildcard subscription to the whole tree works anonymously, too
    proc = broker.pub("ny-power/upstream/fuel-mix/wind", '{"value": 1}', user="pump")
    assert proc.returncode == 0, proc.stderr
    assert broker.retained("ny-power/#") is not None


def test_anonymous_publish_is_refused(broker):
    assert broker.pub(TOPIC, reading(1.0), user="co2").returncode == 0
    # Refused publishes are dropped silently (exit 0 on MQTT 3.1.1): the retained value is the proof.
    broker.pub(TOPIC, reading(666.0))
    broker.pub(TOPIC, reading(667.0), extra=["-V", "mqttv5"])
    broker.pub("ny-power/upstream/fuel-mix", '{"evil": true}')
    assert json.loads(broker.retained(TOPIC))["value"] == 1.0
    assert broker.retained("ny-power/upstream/fuel-mix") is None


def test_wrong_password_and_other_topics_are_refused(broker):
    proc = broker.pub(TOPIC, reading(5.0), user="co2", password="not-the-password")
    assert proc.returncode != 0 and "not authori" in (proc.stderr + proc.stdout).lower()
    # another user's password does not work either
    proc = broker.pub(TOPIC, reading(5.0), user="co2", password=broker.users["pump"][1])
    assert proc.returncode != 0 and "not authori" in (proc.stderr + proc.stdout).lower()
    # no user may write outside the topic tree
    for role in ("pump", "co2", "archive"):
        assert broker.pub("elsewhere/x", role, user=role).returncode == 0
    assert broker.retained("elsewhere/x") is None
    assert broker.retained(TOPIC) is None


def test_retained_messages_survive_a_restart(broker_factory):
    broker = broker_factory().start()
    assert broker.pub(TOPIC, reading(42.0), user="co2").returncode == 0
    broker.stop()
    broker.start()
    assert json.loads(broker.retained(TOPIC))["value"] == 42.0


# --- least privilege: one user per service, each writing only its own topics -----------------

# A topic of each kind the contract has (src/stream/mod.rs, Topics), and who writes it.
WRITES = {
    "ny-power/upstream/fuel-mix": "pump",
    "ny-power/upstream/fuel-mix/hydro": "pump",
    "ny-power/status/fuel-mix/updated": "pump",
    "ny-power/status/pump": "pump",
    "ny-power/computed/co2": "co2",
    "ny-power/computed/co2/lifecycle": "co2",
    "ny-power/computed/co2/forecast": "co2",
    "ny-power/computed/co2/band": "co2",
    "ny-power/computed/charge-window": "co2",
    "ny-power/archive/co2/24h": "co2",
    "ny-power/archive/co2/points": "co2",  # the calculator's archive stream (every intensity)
    "ny-power/archive/co2/later": "co2",  # and any later archive topic of the calculator
    "ny-power/state/co2/forecaster": "co2",
    "ny-power/status/co2": "co2",
    "ny-power/status/archive": "archive",
}


def test_each_service_user_writes_exactly_its_own_topics(broker):
    """Every service user publishes to every contract topic (retained, QoS 1): only the topics
    of its own service keep its message; every other publish is refused."""
    for topic, owner in WRITES.items():
        assert broker.pub(topic, f"{owner}-first", user=owner).returncode == 0
        for role in ("pump", "co2", "archive"):
            if role != owner:
                broker.pub(topic, f"{role}-intruder", user=role)
        broker.pub(topic, "anonymous-intruder")
    for topic, owner in WRITES.items():
        got = broker.retained(topic, timeout=10)
        assert got == f"{owner}-first", f"{topic}: {got!r}"


def test_refusals_are_reported_as_not_authorized_over_mqtt_v5(broker):
    """MQTT v5 with QoS 1 shows the refusal itself: PUBACK reason code 135."""
    assert broker.pub_v5("ny-power/upstream/fuel-mix/wind", "1", user="pump") == "accepted"
    assert broker.pub_v5("ny-power/computed/co2", "1", user="pump") == "refused"
    assert broker.pub_v5("ny-power/computed/co2", "2", user="co2") == "accepted"
    assert broker.pub_v5("ny-power/upstream/fuel-mix", "2", user="co2") == "refused"
    assert broker.pub_v5("ny-power/status/archive", "online", user="archive") == "accepted"
    assert broker.pub_v5("ny-power/computed/co2", "3", user="archive") == "refused"
    assert broker.pub_v5("ny-power/status/fuel-mix/updated", "3", user="archive") == "refused"
    assert broker.pub_v5("ny-power/status/pump", "online") == "refused"


def test_each_service_user_reads_what_it_subscribes_to(broker):
    """The subscriptions and retained reads each service makes are granted (Mosquitto 2.0
    acknowledges a subscription without read rights and then delivers nothing, so a missing
    grant would silently starve the service): pump its cursor, co2 the fuel mix and its restorable state,
    archive the fuel mix and the intensities (the calculator's archive stream, or the direct and
    lifecycle topics)."""
    reads = {
        "pump": ["ny-power/status/fuel-mix/updated"],
        "co2": ["ny-power/upstream/fuel-mix", "ny-power/state/co2/forecaster", "ny-power/archive/co2/24h"],
        "archive": ["ny-power/upstream/fuel-mix", "ny-power/archive/co2/points", "ny-power/computed/co2",
                    "ny-power/computed/co2/lifecycle"],
    }
    for topic in {t for ts in reads.values() for t in ts}:
        assert broker.pub(topic, f"value of {topic}", user=WRITES[topic]).returncode == 0
    for role, topics in reads.items():
        name, password = broker.users[role]
        for topic in topics:
            proc = subprocess.run(
                ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", topic, "-q", "1",
                 "-C", "1", "-W", "10", "--retained-only", "-u", name, "-P", password],
                capture_output=True, text=True, timeout=20)
            assert proc.stdout == f"value of {topic}\n", (role, topic, proc)
    # and not what it has no business reading: the archiver does not see the cursor
    name, password = broker.users["archive"]
    proc = subprocess.run(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "ny-power/status/fuel-mix/updated",
         "-C", "1", "-W", "3", "--retained-only", "-u", name, "-P", password],
        capture_output=True, text=True, timeout=20)
    assert proc.stdout == "", proc


def test_password_file_has_one_user_per_service(broker_factory):
    broker = broker_factory()
    assert broker.passwd_users() == ["ny-power-pump", "ny-power-co2", "ny-power-archive"]
    with_ha = broker_factory({"homeAssistant": {"user": {"enabled": True}}})
    assert with_ha.passwd_users() == ["ny-power-pump", "ny-power-co2", "ny-power-archive", "homeassistant"]
    # every user has its own password
    assert len({password for _, password in with_ha.users.values()}) == 4


# --- Home Assistant (homeAssistant.discovery, homeAssistant.user) ------------------------------

DISCOVERY = "homeassistant/sensor/ny_power/co2_intensity/config"


def test_home_assistant_discovery_acl(broker_factory):
    """Enabled: the calculator's user writes this stack's discovery configs, and anonymous
    clients (Home Assistant itself, or a bridge from its broker) read them, even with Home
    Assistant's default will on homeassistant/status; nothing else under the prefix is writable."""
    broker = broker_factory({"homeAssistant": {"discovery": {"enabled": True}}}).start()
    config = '{"name": "CO2 intensity", "state_topic": "ny-power/computed/co2"}'
    assert broker.pub(DISCOVERY, config, user="co2").returncode == 0
    proc = subprocess.run(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "homeassistant/#", "-v",
         "-C", "1", "-W", "5", "--will-topic", "homeassistant/status", "--will-payload", "offline"],
        capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0 and proc.stdout == f"{DISCOVERY} {config}\n", proc
    # other devices' configs and Home Assistant's own topics stay closed, to everyone
    assert broker.pub("homeassistant/sensor/other/x/config", "{}", user="co2").returncode == 0
    broker.pub("homeassistant/status", "online")
    broker.pub("homeassistant/status", "online", user="co2")
    broker.pub(DISCOVERY, '{"name": "spoofed"}')
    broker.pub(DISCOVERY, '{"name": "spoofed"}', user="pump")
    assert broker.retained("homeassistant/sensor/other/x/config") is None
    assert broker.retained("homeassistant/status") is None
    assert broker.retained(DISCOVERY) == config
    # anonymous clients still only read the stream
    broker.pub(TOPIC, reading(666.0))
    assert broker.retained(TOPIC) is None


def test_home_assistant_discovery_is_closed_by_default(broker):
    assert broker.pub(DISCOVERY, "{}", user="co2").returncode == 0
    assert broker.retained(DISCOVERY) is None and broker.retained("homeassistant/#") is None
    assert "homeassistant" not in broker.users


def test_home_assistant_user_publishes_its_birth_and_reads_everything(broker_factory):
    """homeAssistant.user: Home Assistant's own user may publish its birth (and will) on
    <prefix>/status, and read the discovery configs and the state topics; nothing else."""
    broker = broker_factory({"homeAssistant": {"discovery": {"enabled": True}, "user": {"enabled": True}}}).start()
    config = '{"name": "CO2 intensity", "state_topic": "ny-power/computed/co2"}'
    assert broker.pub(DISCOVERY, config, user="co2").returncode == 0
    assert broker.pub(TOPIC, reading(250.0), user="co2").returncode == 0
    assert broker.pub_v5("homeassistant/status", "online", user="homeassistant") == "accepted"
    assert broker.retained("homeassistant/status", timeout=10, user="homeassistant") == "online"
    # connects with its will on the status topic, reads the configs and the state topics
    name, password = broker.users["homeassistant"]
    proc = subprocess.run(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", DISCOVERY, "-t", TOPIC, "-v",
         "-C", "2", "-W", "5", "-u", name, "-P", password,
         "--will-topic", "homeassistant/status", "--will-payload", "offline", "--will-retain"],
        capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0, proc
    assert sorted(proc.stdout.splitlines()) == sorted([f"{DISCOVERY} {config}", f"{TOPIC} {reading(250.0)}"])
    # it publishes nothing else: not the stream, not the discovery configs
    assert broker.pub_v5(TOPIC, reading(1.0), user="homeassistant") == "refused"
    assert broker.pub_v5(DISCOVERY, "{}", user="homeassistant") == "refused"
    assert broker.pub_v5("homeassistant/sensor/other/x/config", "{}", user="homeassistant") == "refused"
    assert json.loads(broker.retained(TOPIC))["value"] == 250.0 and broker.retained(DISCOVERY) == config
    # and the other users still cannot publish Home Assistant's status
    assert broker.pub_v5("homeassistant/status", "offline", user="co2") == "refused"
    assert broker.retained("homeassistant/status", timeout=10, user="homeassistant") == "online"


def test_home_assistant_user_follows_the_prefix(broker_factory):
    broker = broker_factory({"homeAssistant": {"discovery": {"prefix": "ha/discovery"},
                                               "user": {"enabled": True, "username": "hass"}}}).start()
    assert broker.users["homeassistant"][0] == "hass"
    assert broker.pub_v5("ha/discovery/status", "online", user="homeassistant") == "accepted"
    assert broker.pub_v5("homeassistant/status", "online", user="homeassistant") == "refused"


# --- MQTT over WebSockets, as the dashboard speaks it ------------------------------------------


class WsMqtt:
    """A minimal MQTT 3.1.1 client over a WebSocket (RFC 6455), enough for the dashboard's path."""

    def __init__(self, port: int, path: str = "/mqtt"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: mqtt\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            assert chunk, "connection closed during the WebSocket handshake"
            head += chunk
        assert head.startswith(b"HTTP/1.1 101"), head
        self.buf = b""

    def _send(self, packet: bytes) -> None:
        mask = os.urandom(4)
        assert len(packet) < 126
        frame = bytes([0x82, 0x80 | len(packet)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(packet))
        self.sock.sendall(frame)

    def _recv_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            assert chunk, "connection closed"
            data += chunk
        return data

    def _fill(self) -> None:
        b0, b1 = self._recv_exact(2)
        length = b1 & 0x7F
        if length == 126:
            length = struct.unpack(">H", self._recv_exact(2))[0]
        elif length == 127:
            length = struct.unpack(">Q", self._recv_exact(8))[0]
        payload = self._recv_exact(length)
        if b0 & 0x0F in (0x1, 0x2, 0x0):
            self.buf += payload

    def packet(self) -> tuple[int, bytes]:
        """Next MQTT packet: (type, body)."""
        while True:
            if len(self.buf) >= 2:
                mult, length, i = 1, 0, 1
                while i < len(self.buf):
                    length += (self.buf[i] & 0x7F) * mult
                    mult *= 128
                    i += 1
                    if not self.buf[i - 1] & 0x80:
                        break
                else:
                    self._fill()
                    continue
                if len(self.buf) >= i + length:
                    ptype, body = self.buf[0], self.buf[i:i + length]
                    self.buf = self.buf[i + length:]
                    return ptype, body
            self._fill()

    @staticmethod
    def _str(s: str) -> bytes:
        return struct.pack(">H", len(s)) + s.encode()

    @staticmethod
    def _packet(first: int, body: bytes) -> bytes:
        assert len(body) < 128
        return bytes([first, len(body)]) + body

    def connect(self) -> int:
        body = self._str("MQTT") + bytes([4, 0x02]) + struct.pack(">H", 30) + self._str("ws-test")
        self._send(self._packet(0x10, body))
        ptype, body = self.packet()
        assert ptype == 0x20, hex(ptype)
        return body[1]  # CONNACK return code

    def subscribe(self, topic: str) -> None:
        self._send(self._packet(0x82, struct.pack(">H", 1) + self._str(topic) + b"\x00"))
        ptype, body = self.packet()
        assert ptype == 0x90 and body[2] == 0, (hex(ptype), body)

    def publish(self, topic: str, payload: str) -> None:
        self._send(self._packet(0x31, self._str(topic) + payload.encode()))  # QoS 0, retained

    def next_publish(self) -> tuple[str, str]:
        while True:
            ptype, body = self.packet()
            if ptype >> 4 == 3:
                n = struct.unpack(">H", body[:2])[0]
                start = 2 + n + (2 if ptype & 0x06 else 0)
                return body[2:2 + n].decode(), body[start:].decode()

    def close(self) -> None:
        self.sock.close()


def test_dashboard_reads_over_websockets_and_cannot_publish(broker):
    assert broker.pub(TOPIC, reading(248.75), user="co2").returncode == 0
    client = WsMqtt(broker.ws_port)
    try:
        assert client.connect() == 0, "anonymous WebSocket connection refused"
        client.subscribe(TOPIC)
        topic, payload = client.next_publish()
        assert topic == TOPIC and json.loads(payload)["value"] == 248.75
        client.publish(TOPIC, reading(999.0))
    finally:
        client.close()
    assert json.loads(broker.retained(TOPIC))["value"] == 248.75


# --- the `helm test` pod's script, run against the rendered broker -----------------------------


def run_helm_test_pod(helm, tmp_path, broker_factory, weaken_acl: bool = False) -> subprocess.CompletedProcess:
    """Run the rendered `helm test` pod's script as the kubelet would (its mounts mapped, the
    broker Service mapped to the local broker, a stand-in wget for the dashboard's config.json)."""
    manifest = Manifest(render(helm, tmp_path))
    broker = broker_factory(manifest=manifest)
    if weaken_acl:
        # the pump's user allowed to write the whole tree, as the one shared user could before
        acl = broker.sandbox.mounts(broker.container)["/mosquitto/config"] / "acl"
        acl.write_text(acl.read_text().replace("user ny-power-pump\n", "user ny-power-pump\ntopic readwrite ny-power/#\n"))
    broker.start()
    (pod,) = manifest.of_kind("Pod")
    container = pod["spec"]["containers"][0]
    sandbox = PodSandbox(manifest, pod["spec"], tmp_path / "test-pod")
    stand_ins = tmp_path / "stand-ins"
    stand_ins.mkdir()
    wget = stand_ins / "wget"
    wget.write_text('#!/bin/sh\nwhile [ "$1" != -O ]; do shift; done\necho \'{"mqtt": {"url": "ws://x/mqtt"}}\' > "$2"\n')
    wget.chmod(0o755)
    env = {**sandbox.env(container), "BROKER": "127.0.0.1", "PORT": str(broker.port),
           "PATH": f"{stand_ins}:{os.environ['PATH']}"}
    script = sandbox.map_paths(container, container["command"][2])
    assert container["command"][:2] == ["/bin/sh", "-ec"]
    return subprocess.run(["/bin/sh", "-ec", script], env=env, capture_output=True, text=True, timeout=120)


def test_helm_test_pod_passes_against_the_rendered_broker(helm, tmp_path, broker_factory):
    proc = run_helm_test_pod(helm, tmp_path, broker_factory)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pump publish ok" in proc.stdout, proc.stdout


def test_helm_test_pod_fails_when_the_pump_may_write_everything(helm, tmp_path, broker_factory):
    proc = run_helm_test_pod(helm, tmp_path, broker_factory, weaken_acl=True)
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "ny-power/computed/helm-test/t pump-outside" in proc.stdout, proc.stdout
