"""The Mosquitto configuration the chart renders works: a real Mosquitto started from the rendered
ConfigMap, the rendered init container's script (password file from the Secret) and the rendered
ACL lets anonymous clients read and refuses their publishes, over TCP and WebSockets, and lets
the ny-power services' user publish."""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import subprocess

import pytest

from chartkit import have

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


def test_services_user_publishes_and_anonymous_reads(broker):
    proc = broker.pub(TOPIC, reading(113.782), auth=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(broker.retained(TOPIC))["value"] == 113.782
    # a wildcard subscription to the whole tree works anonymously, too
    proc = broker.pub("ny-power/upstream/fuel-mix/wind", '{"value": 1}', auth=True)
    assert proc.returncode == 0, proc.stderr
    assert broker.retained("ny-power/#") is not None


def test_anonymous_publish_is_refused(broker):
    assert broker.pub(TOPIC, reading(1.0), auth=True).returncode == 0
    # Refused publishes are dropped silently (exit 0 on MQTT 3.1.1): the retained value is the proof.
    broker.pub(TOPIC, reading(666.0))
    broker.pub(TOPIC, reading(667.0), extra=["-V", "mqttv5"])
    broker.pub("ny-power/upstream/fuel-mix", '{"evil": true}')
    assert json.loads(broker.retained(TOPIC))["value"] == 1.0
    assert broker.retained("ny-power/upstream/fuel-mix") is None


def test_wrong_password_and_other_topics_are_refused(broker):
    proc = broker.pub(TOPIC, reading(5.0), password="not-the-password")
    assert proc.returncode != 0 and "not authori" in (proc.stderr + proc.stdout).lower()
    # the services' user may write only its own tree
    assert broker.pub("elsewhere/x", "1", auth=True).returncode == 0
    assert broker.retained("elsewhere/x") is None
    assert broker.retained(TOPIC) is None


def test_retained_messages_survive_a_restart(broker_factory):
    broker = broker_factory().start()
    assert broker.pub(TOPIC, reading(42.0), auth=True).returncode == 0
    broker.stop()
    broker.start()
    assert json.loads(broker.retained(TOPIC))["value"] == 42.0


# --- Home Assistant discovery (homeAssistant.discovery) ----------------------------------------

DISCOVERY = "homeassistant/sensor/ny_power/co2_intensity/config"


def test_home_assistant_discovery_acl(broker_factory):
    """Enabled: the services' user writes this stack's discovery configs, and anonymous clients
    (Home Assistant itself, or a bridge from its broker) read them, even with Home Assistant's
    default will on homeassistant/status; nothing else under the prefix is writable."""
    broker = broker_factory({"homeAssistant": {"discovery": {"enabled": True}}}).start()
    config = '{"name": "CO2 intensity", "state_topic": "ny-power/computed/co2"}'
    assert broker.pub(DISCOVERY, config, auth=True).returncode == 0
    proc = subprocess.run(
        ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", "homeassistant/#", "-v",
         "-C", "1", "-W", "5", "--will-topic", "homeassistant/status", "--will-payload", "offline"],
        capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0 and proc.stdout == f"{DISCOVERY} {config}\n", proc
    # other devices' configs and Home Assistant's own topics stay closed, to everyone
    assert broker.pub("homeassistant/sensor/other/x/config", "{}", auth=True).returncode == 0
    broker.pub("homeassistant/status", "online")
    broker.pub(DISCOVERY, '{"name": "spoofed"}')
    assert broker.retained("homeassistant/sensor/other/x/config") is None
    assert broker.retained("homeassistant/status") is None
    assert broker.retained(DISCOVERY) == config
    # anonymous clients still only read the stream
    broker.pub(TOPIC, reading(666.0))
    assert broker.retained(TOPIC) is None


def test_home_assistant_discovery_is_closed_by_default(broker):
    assert broker.pub(DISCOVERY, "{}", auth=True).returncode == 0
    assert broker.retained(DISCOVERY) is None and broker.retained("homeassistant/#") is None


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
    assert broker.pub(TOPIC, reading(248.75), auth=True).returncode == 0
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
