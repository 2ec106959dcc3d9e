"""The chart with an existing broker (externalMqtt: no Mosquitto object, the services and the
dashboard pointed at it, TLS material from an existing Secret) and with the built-in Mosquitto's
optional TLS listener (mosquitto.tls, a Secret in cert-manager's shape): both lint and validate,
and the rendered TLS listener boots a real Mosquitto that serves MQTT over TLS with certificates
made here (openssl)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from chartkit import CHART, NAMESPACE, Manifest, have, helm_template, render, write_values

KUBERNETES_VERSION = os.environ.get("KUBERNETES_VERSION", "1.35.0")
USERS = {"pump": {"username": "pump", "passwordKey": "pump"},
         "co2": {"username": "co2", "passwordKey": "co2"},
         "archive": {"username": "archive", "passwordKey": "archive"}}
EXTERNAL = {
    "mqtt": {"existingSecret": "emqx-users", "users": USERS},
    "externalMqtt": {
        "url": "mqtts://emqx.mqtt.svc.cluster.local:8883",
        "publicWsUrl": "wss://mqtt.example.org/mqtt",
        "tls": {"existingSecret": "emqx-ca", "clientCertificate": True},
    },
    "ingress": {"enabled": True, "host": "power.example.org",
                "tls": {"enabled": True, "secretName": "power-tls"}},
}
EXTERNAL_PUBLIC_CA = {
    "mqtt": {"existingSecret": "cloud-users"},
    "externalMqtt": {"url": "wss://broker.example.net/mqtt", "publicWsUrl": "wss://broker.example.net/mqtt"},
}
BUILTIN_TLS = {"mosquitto": {"tls": {"enabled": True, "secretName": "broker-tls"}}}
CASES = {"external": EXTERNAL, "external-public-ca": EXTERNAL_PUBLIC_CA, "builtin-tls": BUILTIN_TLS}
SERVICES = ("pump", "co2", "archive")


def env_of(deployment: dict) -> dict[str, str]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container["env"]}


def volume(deployment: dict, name: str) -> dict | None:
    return next((v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == name), None)


def mounts(deployment: dict) -> dict[str, str]:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {m["name"]: m["mountPath"] for m in container.get("volumeMounts", [])}


@pytest.mark.parametrize("case", CASES)
def test_lint_strict(helm, tmp_path, case):
    args = [helm, "lint", "--strict", str(CHART), "--namespace", NAMESPACE, *write_values(tmp_path, CASES[case])]
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[WARNING]" not in proc.stdout and "[ERROR]" not in proc.stdout, proc.stdout


@pytest.mark.parametrize("case", CASES)
def test_kubernetes_validate_strict(helm, tmp_path, case):
    out = tmp_path / "rendered.yaml"
    out.write_text(helm_template(helm, tmp_path, CASES[case]).stdout)
    proc = subprocess.run(["kubernetes-validate", "--strict", "--quiet", "-k", KUBERNETES_VERSION, str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_an_external_broker_replaces_mosquitto(helm, tmp_path):
    m = Manifest(render(helm, tmp_path, EXTERNAL))
    # Nothing of Mosquitto: no workload, Service, ConfigMap, PVC, NetworkPolicy, Secret, test pod.
    assert not [d for d in m.docs if d["metadata"].get("labels", {}).get("app.kubernetes.io/component")
                in ("mosquitto", "test")]
    assert not [d for d in m.docs if "mosquitto" in d["metadata"]["name"]]
    assert not [d for d in m.docs if "mosquitto" in str(d.get("spec", ""))]
    # The services connect to the external URL as their own users, trusting the Secret's CA and
    # presenting its client certificate.
    for svc in SERVICES:
        d = m.component("Deployment", svc)
        env = env_of(d)
        assert env["MQTT_URL"] == "mqtts://emqx.mqtt.svc.cluster.local:8883", svc
        assert env["MQTT_USERNAME"] == USERS[svc]["username"]
        assert env["MQTT_CA_FILE"] == "/var/run/secrets/ny-power/mqtt-tls/ca.crt"
        assert env["MQTT_CLIENT_CERT_FILE"] == "/var/run/secrets/ny-power/mqtt-tls/tls.crt"
        assert env["MQTT_CLIENT_KEY_FILE"] == "/var/run/secrets/ny-power/mqtt-tls/tls.key"
        assert mounts(d)["mqtt-tls"] == "/var/run/secrets/ny-power/mqtt-tls"
        tls = volume(d, "mqtt-tls")["secret"]
        assert tls["secretName"] == "emqx-ca"
        assert tls["items"] == [{"key": "ca.crt", "path": "ca.crt"}, {"key": "tls.crt", "path": "tls.crt"},
                                {"key": "tls.key", "path": "tls.key"}]
        assert volume(d, "mqtt-secret")["secret"]["secretName"] == "emqx-users"
    # The dashboard's config.json streams from the external WebSocket URL; the Ingress serves
    # only the dashboard.
    web = env_of(m.component("Deployment", "web"))
    assert web["PUBLIC_MQTT_WS_URL"] == "wss://mqtt.example.org/mqtt"
    paths = m.of_kind("Ingress")[0]["spec"]["rules"][0]["http"]["paths"]
    assert [p["path"] for p in paths] == ["/"]
    # NetworkPolicies: the dashboard's and the default deny stay, no broker policy.
    policies = {d["metadata"]["name"] for d in m.of_kind("NetworkPolicy")}
    assert policies == {"t-ny-power-influxdb", "t-ny-power-web", "t-ny-power-default-deny"}
    # No generated broker Secret: the passwords are the existing Secret's.
    assert not [s for s in m.of_kind("Secret") if s["metadata"]["name"].endswith("-mqtt")]


def test_an_external_broker_with_a_public_ca_uses_the_system_roots(helm, tmp_path):
    m = Manifest(render(helm, tmp_path, EXTERNAL_PUBLIC_CA))
    for svc in SERVICES:
        d = m.component("Deployment", svc)
        env = env_of(d)
        assert env["MQTT_URL"] == "wss://broker.example.net/mqtt"
        assert "MQTT_CA_FILE" not in env and "MQTT_CLIENT_CERT_FILE" not in env
        assert volume(d, "mqtt-tls") is None


@pytest.mark.parametrize("values, message", [
    ({"externalMqtt": {"url": "mqtts://b:8883", "publicWsUrl": "wss://b/mqtt"}},
     "externalMqtt.url needs mqtt.existingSecret"),
    ({"mqtt": {"existingSecret": "s"}, "externalMqtt": {"url": "mqtts://b:8883"}},
     "externalMqtt.publicWsUrl (or web.publicMqttWsUrl) is required"),
    ({"mqtt": {"existingSecret": "s"},
      "externalMqtt": {"url": "mqtt://b:1883", "publicWsUrl": "ws://b/mqtt", "tls": {"existingSecret": "ca"}}},
     "is not a TLS URL"),
    ({"mqtt": {"existingSecret": "s"},
      "externalMqtt": {"url": "mqtts://b:8883", "publicWsUrl": "wss://b/mqtt", "tls": {"clientCertificate": True}}},
     "externalMqtt.tls.clientCertificate needs externalMqtt.tls.existingSecret"),
    ({"mqtt": {"existingSecret": "s"}, "mosquitto": {"tls": {"enabled": True, "secretName": "x"}},
      "externalMqtt": {"url": "mqtts://b:8883", "publicWsUrl": "wss://b/mqtt"}},
     "mosquitto.tls is the built-in broker's listener"),
    ({"mosquitto": {"tls": {"enabled": True}}}, "mosquitto.tls.secretName is required"),
])
def test_invalid_broker_combinations_fail_with_a_clear_message(helm, tmp_path, values, message):
    proc = helm_template(helm, tmp_path, values, check=False)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr


def test_the_schema_rejects_a_url_that_is_no_broker(helm, tmp_path):
    for bad in (["--set", "externalMqtt.url=emqx:1883"], ["--set", "externalMqtt.url=http://emqx"],
                ["--set", "externalMqtt.publicWsUrl=mqtts://emqx:8883"], ["--set", "mosquitto.tls.port=0"]):
        proc = helm_template(helm, tmp_path, None, check=False, extra=bad)
        assert proc.returncode != 0, f"{bad} was accepted"


def test_the_builtin_tls_listener_renders_and_the_services_use_it(helm, tmp_path):
    m = Manifest(render(helm, tmp_path, BUILTIN_TLS))
    conf = m.component("ConfigMap", "mosquitto")["data"]["mosquitto.conf"]
    assert "listener 8883\nprotocol mqtt\ncertfile /mosquitto/tls/tls.crt\nkeyfile /mosquitto/tls/tls.key" in conf
    broker = m.component("Deployment", "mosquitto")
    assert volume(broker, "tls")["secret"]["secretName"] == "broker-tls"
    assert mounts(broker)["tls"] == "/mosquitto/tls"
    service = m.get("Service", "t-ny-power-mosquitto")
    assert {"name": "mqtts", "port": 8883, "targetPort": "mqtts", "protocol": "TCP"} in service["spec"]["ports"]
    policy = m.get("NetworkPolicy", "t-ny-power-mosquitto")
    assert {"port": "mqtts", "protocol": "TCP"} in policy["spec"]["ingress"][0]["ports"]
    for svc in SERVICES:
        d = m.component("Deployment", svc)
        env = env_of(d)
        assert env["MQTT_URL"] == f"mqtts://t-ny-power-mosquitto.{NAMESPACE}.svc:8883"
        assert env["MQTT_CA_FILE"] == "/var/run/secrets/ny-power/mqtt-tls/ca.crt"
        assert "MQTT_CLIENT_CERT_FILE" not in env
        assert volume(d, "mqtt-tls")["secret"] == {
            "secretName": "broker-tls", "defaultMode": 0o440, "items": [{"key": "ca.crt", "path": "ca.crt"}]}
    # services: false keeps them on the plain in-cluster listener.
    m = Manifest(render(helm, tmp_path, {"mosquitto": {"tls": {"enabled": True, "secretName": "broker-tls",
                                                                "services": False}}}))
    for svc in SERVICES:
        env = env_of(m.component("Deployment", svc))
        assert env["MQTT_URL"] == "mqtt://t-ny-power-mosquitto:1883" and "MQTT_CA_FILE" not in env


# --- the rendered TLS listener on a real Mosquitto ---------------------------------------------


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(d: Path) -> None:
    """ca.crt, and tls.crt / tls.key for "localhost" signed by it (as cert-manager writes them);
    other-ca.crt, a CA that signed nothing here."""
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", f"{ca}.key", "-out", f"{ca}.crt", "-days", "2", "-subj", f"/CN=test {ca}", cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "tls.key",
            "-out", "tls.csr", "-subj", "/CN=localhost", cwd=d)
    (d / "ext").write_text("subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "tls.crt", "-days", "2", "-extfile", "ext", cwd=d)


needs_mosquitto = pytest.mark.skipif(
    not (have("mosquitto") and have("mosquitto_pub") and have("mosquitto_sub") and have("openssl")),
    reason="needs Mosquitto and openssl: apt-get install mosquitto mosquitto-clients openssl",
)


@needs_mosquitto
def test_the_rendered_tls_listener_boots_a_real_mosquitto(helm, tmp_path, broker_factory):
    certs = tmp_path / "certs"
    certs.mkdir()
    make_certificates(certs)
    existing = {("broker-tls", key): (certs / key).read_text() for key in ("tls.crt", "tls.key", "ca.crt")}
    broker = broker_factory(BUILTIN_TLS, existing=existing).start()
    assert broker.tls_port
    name, password = broker.users["pump"]
    topic = "ny-power/upstream/fuel-mix"

    def tls(cmd: str, ca: Path, host: str = "localhost") -> list[str]:
        return [cmd, "-h", host, "-p", str(broker.tls_port), "--cafile", str(ca)]

    pub = subprocess.run([*tls("mosquitto_pub", certs / "ca.crt"), "-t", topic, "-m", "over-tls", "-r", "-q", "1",
                          "-u", name, "-P", password], capture_output=True, text=True, timeout=30)
    assert pub.returncode == 0, pub.stderr + broker.log.read_text()
    # Anonymous read over TLS (the ACL is the same on every listener), and over plain MQTT.
    sub = subprocess.run([*tls("mosquitto_sub", certs / "ca.crt"), "-t", topic, "-C", "1", "-W", "10",
                          "--retained-only"], capture_output=True, text=True, timeout=30)
    assert sub.stdout.strip() == "over-tls", sub.stderr
    assert broker.retained(topic) == "over-tls"
    # A client trusting another CA, or reaching the broker under a name its certificate lacks,
    # is turned away by its own TLS check.
    for args in (tls("mosquitto_sub", certs / "other-ca.crt"), tls("mosquitto_sub", certs / "ca.crt", "127.0.0.1")):
        bad = subprocess.run([*args, "-t", topic, "-C", "1", "-W", "5"], capture_output=True, text=True, timeout=30)
        assert bad.returncode != 0 and bad.stdout == "", bad.stdout + bad.stderr
