"""Static checks of the ny-power chart with a real helm: lint, render a matrix of values, validate
every object against the Kubernetes schemas, and assert on the rendered objects."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess

import pytest
import yaml

from chartkit import CHART, NAMESPACE, Manifest, helm_template, render, write_values

KUBERNETES_VERSION = os.environ.get("KUBERNETES_VERSION", "1.35.0")

EXISTING = {
    "mqtt": {"existingSecret": "my-mqtt", "users": {
        "pump": {"username": "pump", "passwordKey": "pump"},
        "co2": {"username": "co2", "passwordKey": "co2"},
        "archive": {"username": "archive", "passwordKey": "archive"}}},
    "influxdb": {"existingSecret": "my-influx"},
}
MATRIX = {
    "defaults": {},
    "ingress": {
        "ingress": {
            "enabled": True, "className": "nginx", "host": "power.example.org",
            "annotations": {"nginx.ingress.kubernetes.io/proxy-read-timeout": "3600"},
            "tls": {"enabled": True, "secretName": "power-tls"},
        },
    },
    "ingress-no-tls": {"ingress": {"enabled": True, "host": "power.example.org"}},
    "existing-secret": EXISTING,
    "external-influxdb-v1": {
        "influxdb": {"enabled": False},
        "externalInfluxdb": {"url": "https://influx.example.org:8086", "database": "power",
                             "username": "writer", "existingSecret": "ext-influx"},
    },
    "external-influxdb-v1-noauth": {
        "influxdb": {"enabled": False},
        "externalInfluxdb": {"url": "http://influx.monitoring:8086"},
    },
    "external-influxdb-v2": {
        "influxdb": {"enabled": False},
        "externalInfluxdb": {"url": "https://eu-central-1-1.aws.cloud2.influxdata.com", "apiVersion": "v2",
                             "org": "me", "bucket": "ny-power", "existingSecret": "ext-influx"},
    },
    "loadbalancer-ephemeral-nopolicy": {
        "mosquitto": {"loadBalancer": {"enabled": True, "loadBalancerSourceRanges": ["203.0.113.0/24"]},
                      "persistence": {"enabled": False}},
        "influxdb": {"persistence": {"enabled": False}},
        "networkPolicy": {"enabled": False},
        "serviceAccount": {"create": False},
    },
    "home-assistant-load-forecast": {
        "topicRoot": "dev/ny-power",
        "homeAssistant": {"discovery": {"enabled": True, "prefix": "ha/discovery"}, "user": {"enabled": True}},
        "co2": {"loadForecast": "nyiso"},
        "pump": {"nyisoBaseUrl": "https://nyiso-mirror.example.org/public/csv"},
        "web": {"publicMqttWsUrl": "/mqtt", "staleAfterMinutes": 30},
    },
    "existing-claims": {
        "mosquitto": {"persistence": {"existingClaim": "broker-data"}},
        "influxdb": {"persistence": {"existingClaim": "influx-data", "storageClass": "fast"}},
        "fullnameOverride": "power",
    },
}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Pod"}


def pod_spec(obj: dict) -> dict:
    return obj["spec"] if obj["kind"] == "Pod" else obj["spec"]["template"]["spec"]


def pod_labels(obj: dict) -> dict:
    return obj["metadata"]["labels"] if obj["kind"] == "Pod" else obj["spec"]["template"]["metadata"]["labels"]


def workloads(docs: list[dict]) -> list[dict]:
    return [d for d in docs if d["kind"] in WORKLOAD_KINDS]


def matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def all_secret_values(docs: list[dict]) -> list[str]:
    values = []
    for d in docs:
        if d["kind"] == "Secret":
            values += [base64.b64decode(v).decode() for v in (d.get("data") or {}).values()]
            values += list((d.get("stringData") or {}).values())
    return values


@pytest.fixture(scope="module")
def rendered(helm, tmp_path_factory) -> dict[str, Manifest]:
    tmp = tmp_path_factory.mktemp("matrix")
    return {name: Manifest(render(helm, tmp, values)) for name, values in MATRIX.items()}


# --- lint and schema validation ----------------------------------------------------------------


@pytest.mark.parametrize("case", MATRIX)
def test_lint_strict(helm, tmp_path, case):
    args = [helm, "lint", "--strict", str(CHART), "--namespace", NAMESPACE]
    args += write_values(tmp_path, MATRIX[case])
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[WARNING]" not in proc.stdout and "[ERROR]" not in proc.stdout, proc.stdout


@pytest.mark.parametrize("case", MATRIX)
def test_kubernetes_validate_strict(helm, tmp_path, case):
    out = tmp_path / "rendered.yaml"
    out.write_text(helm_template(helm, tmp_path, MATRIX[case]).stdout)
    proc = subprocess.run(
        ["kubernetes-validate", "--strict", "--quiet", "-k", KUBERNETES_VERSION, str(out)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_schema_rejects_unknown_and_plaintext_password(helm, tmp_path):
    for bad in (["--set", "mqtt.password=hunter2"], ["--set", "influxdb.adminPassword=hunter2"],
                ["--set", "securityContext.readOnlyRootFilesystem=false"],
                ["--set", "podSecurityContext.runAsNonRoot=false"],
                ["--set", "co2.factors=made-up"], ["--set", "ingress.mqttPath=/"],
                ["--set", "co2.loadForecast=maybe"], ["--set", "co2.loadForecast=true"],
                ["--set", "homeAssistant.discovery.prefix=home/#"],
                ["--set", "homeAssistant.discovery.prefix=homeassistant/"],
                ["--set", "homeAssistant.discovery.prefix="],
                ["--set", "homeAssistant.discovery.enabled=yes"],
                ["--set", "web.publicMqttWsUrl=mqtt.example.org"],
                ["--set", "web.staleAfterMinutes=0"],
                # the one shared services' user of earlier versions is gone: one user per service
                ["--set", "mqtt.username=ny-power"], ["--set", "mqtt.passwordKey=password"],
                ["--set", "mqtt.users.pump.username=has space"],
                ["--set", "mqtt.users.co2.username=a:b"],
                ["--set", "homeAssistant.user.enabled=yes"]):
        proc = helm_template(helm, tmp_path, None, check=False, extra=bad)
        assert proc.returncode != 0, f"{bad} was accepted"
        assert "schema" in proc.stderr.lower() or "values don't meet" in proc.stderr.lower(), proc.stderr


@pytest.mark.parametrize("values, message", [
    ({"influxdb": {"enabled": False}}, "externalInfluxdb.url is required"),
    ({"influxdb": {"enabled": False}, "externalInfluxdb": {"url": "http://x:8086", "apiVersion": "v2",
                                                          "org": "o", "bucket": "b"}},
     "externalInfluxdb.existingSecret is required"),
    ({"ingress": {"enabled": True, "tls": {"enabled": True, "secretName": ""}}}, "ingress.tls.secretName"),
    ({"mqtt": {"users": {"co2": {"username": "ny-power-pump"}}}}, 'the user name "ny-power-pump" is given twice'),
    ({"homeAssistant": {"user": {"enabled": True, "passwordKey": "pump-password"}}},
     'the password key "pump-password" is given twice'),
])
def test_invalid_combinations_fail_with_a_clear_message(helm, tmp_path, values, message):
    proc = helm_template(helm, tmp_path, values, check=False)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr


def test_every_value_is_typed_and_documented():
    schema = json.loads((CHART / "values.schema.json").read_text())
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    lines = (CHART / "values.yaml").read_text().splitlines()

    def walk(value, node, path):
        assert node is not None, f"{path} is not in values.schema.json"
        assert node.get("description"), f"{path} has no description in values.schema.json"
        assert "type" in node or "const" in node or "anyOf" in node, f"{path} has no type"
        if isinstance(value, dict) and node.get("properties"):
            for key, child in value.items():
                walk(child, node["properties"].get(key), f"{path}.{key}")

    for key, child in values.items():
        walk(child, schema["properties"].get(key), key)

    # Every key in values.yaml has a "#" comment right above it, or sits inside a documented
    # block (e.g. the fields of a documented securityContext), or opens a block of such keys.
    stack: list[tuple[int, bool]] = []  # (indent, documented) of the enclosing keys
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)([A-Za-z][A-Za-z0-9]*):(.*)$", line)
        if not m:
            continue
        indent = len(m.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        documented = (i > 0 and lines[i - 1].strip().startswith("#")) or any(d for _, d in stack)
        opens_block = m.group(3).strip() == ""
        assert documented or opens_block, f"values.yaml line {i + 1} ({m.group(2)}) is undocumented"
        stack.append((indent, documented))


def test_no_password_in_value_defaults():
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def walk(node, path):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{path}.{k}")
        elif re.search(r"password|token|secret", path.rsplit(".", 1)[-1], re.I):
            leaf = path.rsplit(".", 1)[-1]
            # Only names of Secrets or of their keys: never a credential.
            assert (leaf == "existingSecret" and node == "") or leaf.endswith("Key") or \
                (leaf in ("secretName", "imagePullSecrets") and not node), \
                f"{path} = {node!r} looks like a credential in values.yaml"

    walk(values, "")


# --- the rendered objects ----------------------------------------------------------------------


@pytest.mark.parametrize("case", MATRIX)
def test_security_contexts_resources_and_probes(rendered, case):
    for obj in workloads(rendered[case].docs):
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        spec = pod_spec(obj)
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"].get("runAsUser", 1) != 0, where
        # a high uid and gid, shared by no host account (checkov CKV_K8S_40); volumes by fsGroup
        sc = spec["securityContext"]
        assert sc["runAsUser"] >= 10000 and sc["runAsGroup"] >= 10000 and sc["fsGroup"] >= 10000, where
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
        assert spec["automountServiceAccountToken"] is False, where
        for container in spec.get("initContainers", []) + spec["containers"]:
            at = f"{where} container {container['name']}"
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, at
            assert sc["readOnlyRootFilesystem"] is True, at
            assert sc["runAsNonRoot"] is True, at
            assert "ALL" in sc["capabilities"]["drop"] and not sc["capabilities"].get("add"), at
            assert sc.get("privileged") is not True, at
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{at} {kind}"
            # Probes on every long-running container, on a port the container declares.
            if obj["kind"] != "Pod" and container in spec["containers"]:
                named = {p["name"] for p in container["ports"]}
                for probe in ("livenessProbe", "readinessProbe"):
                    assert probe in container, f"{at} has no {probe}"
                    handler = container[probe].get("httpGet") or container[probe].get("tcpSocket")
                    assert handler["port"] in named, f"{at} {probe} port {handler['port']}"
            # Every mount refers to a volume of the pod.
            names = {v["name"] for v in spec.get("volumes", [])}
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in names, f"{at} mounts unknown volume {mount['name']}"


@pytest.mark.parametrize("case", MATRIX)
def test_no_plaintext_credentials_outside_secrets(rendered, case):
    docs = rendered[case].docs
    secrets = [s for s in all_secret_values(docs) if s]
    if case == "defaults":
        # three broker users (pump, co2, archive) and InfluxDB's admin and services user
        assert len(secrets) == 5 and all(len(s) >= 32 for s in secrets), "generated passwords"
        assert len(set(secrets)) == 5, "every user has its own password"
    for obj in docs:
        if obj["kind"] == "Secret":
            continue
        text = yaml.safe_dump(obj)
        for s in secrets:
            assert s not in text, f"a Secret value appears in {obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] == "ConfigMap":
            assert not re.search(r"(?i)\b(password|token)\s*[:= ]\s*\S", "\n".join(
                l for l in "\n".join(obj["data"].values()).splitlines()
                if not l.lstrip().startswith("#") and not l.startswith("password_file")
            )), f"ConfigMap {obj['metadata']['name']} looks like it holds a credential"
    # Credentials reach containers only as files from Secret volumes (0440, read-only mounts),
    # never as environment variables (checkov CKV_K8S_35), literal or secretKeyRef.
    for obj in workloads(docs):
        spec = pod_spec(obj)
        secret_volumes = {v["name"]: v["secret"] for v in spec.get("volumes", []) if "secret" in v}
        for volume in secret_volumes.values():
            assert volume["defaultMode"] == 0o440, f"{obj['metadata']['name']}: mode {volume['defaultMode']:o}"
        for container in spec.get("initContainers", []) + spec["containers"]:
            for var in container.get("env", []):
                assert "valueFrom" not in var, f"{obj['metadata']['name']}: {var['name']} from {var['valueFrom']}"
                if re.search(r"PASSWORD|TOKEN", var["name"]):
                    assert var["name"].endswith("_FILE"), var["name"]
            for mount in container.get("volumeMounts", []):
                if mount["name"] in secret_volumes:
                    assert mount.get("readOnly") is True, f"{container['name']} mounts {mount['name']} writable"


def test_generated_secret_differs_per_render_and_existing_secret_is_not_generated(helm, tmp_path, rendered):
    again = Manifest(render(helm, tmp_path))
    first = rendered["defaults"].secret_value("t-ny-power-mqtt", "pump-password")
    assert first != again.secret_value("t-ny-power-mqtt", "pump-password"), "password must be random"
    assert set(rendered["defaults"].get("Secret", "t-ny-power-mqtt")["data"]) == {
        "pump-password", "co2-password", "archive-password"}
    with_ha = rendered["home-assistant-load-forecast"].get("Secret", "t-ny-power-mqtt")
    assert set(with_ha["data"]) == {"pump-password", "co2-password", "archive-password", "homeassistant-password"}
    existing = rendered["existing-secret"]
    assert existing.of_kind("Secret") == [], "existingSecret: the chart must create no Secret"
    broker = existing.component("Deployment", "mosquitto")
    names = {v["secret"]["secretName"] for v in pod_spec(broker)["volumes"] if "secret" in v}
    assert names == {"my-mqtt"}
    assert next(v["secret"]["items"] for v in pod_spec(broker)["volumes"] if "secret" in v) == [
        {"key": "pump", "path": "pump"}, {"key": "co2", "path": "co2"}, {"key": "archive", "path": "archive"}]
    influx = pod_spec(existing.component("Deployment", "influxdb"))
    (volume,) = [v["secret"] for v in influx["volumes"] if "secret" in v]
    assert volume["secretName"] == "my-influx" and volume["items"] == [
        {"key": "admin-password", "path": "admin-password"}, {"key": "user-password", "path": "user-password"}]
    # each service mounts only its own broker password
    for component in ("pump", "co2", "archive"):
        spec = pod_spec(existing.component("Deployment", component))
        (mqtt,) = [v["secret"] for v in spec["volumes"] if v["name"] == "mqtt-secret"]
        assert mqtt == {"secretName": "my-mqtt", "defaultMode": 0o440,
                        "items": [{"key": component, "path": "password"}]}, component


def test_selectors_unique_and_no_name_collisions_across_two_releases(helm, tmp_path):
    docs = render(helm, tmp_path, None, release="alpha") + render(helm, tmp_path, MATRIX["ingress"], release="beta")
    seen = set()
    for obj in docs:
        key = (obj["kind"], obj["metadata"]["name"])
        assert key not in seen, f"two releases render the same {key}"
        seen.add(key)
    loads = [w for w in workloads(docs) if w["kind"] != "Pod"]
    assert len(loads) == 2 * 6
    for a in loads:
        selected = [b for b in loads if matches(a["spec"]["selector"]["matchLabels"], pod_labels(b))]
        assert selected == [a], f"{a['metadata']['name']}'s selector also matches {[b['metadata']['name'] for b in selected]}"
    for svc in [d for d in docs if d["kind"] == "Service"]:
        selected = [w for w in loads if matches(svc["spec"]["selector"], pod_labels(w))]
        assert len(selected) == 1, f"Service {svc['metadata']['name']} selects {len(selected)} workloads"
        ports = {p["name"] for c in pod_spec(selected[0])["containers"] for p in c["ports"]}
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in ports, f"Service {svc['metadata']['name']} → {port['targetPort']}"
    for policy in [d for d in docs if d["kind"] == "NetworkPolicy"]:
        selected = [w for w in workloads(docs) if matches(policy["spec"]["podSelector"]["matchLabels"], pod_labels(w))]
        if policy["metadata"]["name"].endswith("-default-deny"):
            release = policy["metadata"]["labels"]["app.kubernetes.io/instance"]
            assert selected == [w for w in workloads(docs) if pod_labels(w)["app.kubernetes.io/instance"] == release]
        else:
            assert len(selected) == 1, f"NetworkPolicy {policy['metadata']['name']} selects {len(selected)}"


def test_pump_is_a_single_replica_recreated(rendered):
    for m in rendered.values():
        pump = m.component("Deployment", "pump")
        assert pump["spec"]["replicas"] == 1 and pump["spec"]["strategy"]["type"] == "Recreate"
        assert pod_spec(pump)["containers"][0]["args"] == ["pump"]


def env_of(m: Manifest, component: str) -> dict[str, str]:
    container = pod_spec(m.component("Deployment", component))["containers"][0]
    return {e["name"]: e.get("value") for e in container["env"]}


def test_services_environment_follows_the_contract(rendered):
    m = rendered["defaults"]
    for component in ("pump", "co2", "archive"):
        env = env_of(m, component)
        assert env["MQTT_URL"] == "mqtt://t-ny-power-mosquitto:1883"
        assert env["MQTT_USERNAME"] == f"ny-power-{component}"  # each service its own user
        assert env["TOPIC_ROOT"] == "ny-power" and env["HEALTH_ADDR"] == "0.0.0.0:8081"
        spec = pod_spec(m.component("Deployment", component))
        container = spec["containers"][0]
        mounts = {mo["mountPath"]: mo["name"] for mo in container["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        # every *_FILE points at an item of a mounted Secret; DATA_DIR is a writable volume
        for name, value in env.items():
            if name.endswith("_FILE"):
                directory, item = value.rsplit("/", 1)
                volume = volumes[mounts[directory]]
                assert item in [i["path"] for i in volume["secret"]["items"]], name
        # only the archiver keeps files (its backlog); pump and co2 resume from retained topics
        if component == "archive":
            assert "emptyDir" in volumes[mounts[env["DATA_DIR"]]]
            assert volumes[mounts[env["DATA_DIR"]]]["emptyDir"]["sizeLimit"] == "256Mi"
        else:
            assert "DATA_DIR" not in env and "/var/lib/ny-power" not in mounts, component
    assert env_of(m, "pump")["NYISO_BASE_URL"] == "http://mis.nyiso.com/public/csv"
    assert env_of(m, "pump")["POLL_INTERVAL"] == "60"
    co2 = env_of(m, "co2")
    assert co2["FACTORS"] == "direct" and co2["LOAD_FORECAST"] == "off" and co2["HA_DISCOVERY"] == "false"
    assert "HA_DISCOVERY_PREFIX" not in co2 and "NYISO_BASE_URL" not in co2
    for component in ("pump", "archive", "web"):
        assert not {"HA_DISCOVERY", "LOAD_FORECAST"} & set(env_of(m, component)), component
    web = env_of(m, "web")
    assert web["STALE_AFTER_MINUTES"] == "15" and "LOG_FORMAT" not in web  # `web` logs text
    archive = env_of(m, "archive")
    assert archive["INFLUX_URL"] == "http://t-ny-power-influxdb:8086"
    assert archive["INFLUX_DATABASE"] == "ny_power" and archive["INFLUX_USERNAME"] == "ny-power"
    assert "INFLUX_URL" not in env_of(m, "pump") and "MQTT_PASSWORD_FILE" not in env_of(m, "web")

    v1 = env_of(rendered["external-influxdb-v1"], "archive")
    assert v1["INFLUX_URL"] == "https://influx.example.org:8086" and v1["INFLUX_DATABASE"] == "power"
    assert v1["INFLUX_USERNAME"] == "writer" and v1["INFLUX_PASSWORD_FILE"].endswith("/password")
    noauth = env_of(rendered["external-influxdb-v1-noauth"], "archive")
    assert "INFLUX_USERNAME" not in noauth and "INFLUX_PASSWORD_FILE" not in noauth
    v2 = env_of(rendered["external-influxdb-v2"], "archive")
    assert (v2["INFLUX_ORG"], v2["INFLUX_BUCKET"]) == ("me", "ny-power") and "INFLUX_DATABASE" not in v2
    assert v2["INFLUX_TOKEN_FILE"].endswith("/token")
    for case in ("external-influxdb-v1", "external-influxdb-v2", "external-influxdb-v1-noauth"):
        kinds = {(d["kind"], d["metadata"]["labels"].get("app.kubernetes.io/component")) for d in rendered[case].docs}
        assert not any(c == "influxdb" for _, c in kinds), f"{case} renders an InfluxDB"


def test_dashboard_gets_the_public_websocket_url(rendered):
    assert env_of(rendered["defaults"], "web")["PUBLIC_MQTT_WS_URL"] == "ws://127.0.0.1:9001/mqtt"
    assert env_of(rendered["ingress"], "web")["PUBLIC_MQTT_WS_URL"] == "wss://power.example.org/mqtt"
    assert env_of(rendered["ingress-no-tls"], "web")["PUBLIC_MQTT_WS_URL"] == "ws://power.example.org/mqtt"


def test_ingress_routes_dashboard_and_websocket(rendered):
    assert rendered["defaults"].of_kind("Ingress") == []
    ingress = rendered["ingress"].of_kind("Ingress")[0]
    assert ingress["apiVersion"] == "networking.k8s.io/v1"
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["power.example.org"], "secretName": "power-tls"}]
    rule = ingress["spec"]["rules"][0]
    routes = {p["path"]: (p["backend"]["service"]["name"], p["backend"]["service"]["port"]["name"])
              for p in rule["http"]["paths"]}
    assert routes == {"/mqtt": ("t-ny-power-mosquitto", "websocket"), "/": ("t-ny-power-web", "http")}


def test_network_policies(rendered):
    m = rendered["defaults"]
    influx = m.get("NetworkPolicy", "t-ny-power-influxdb")
    (rule,) = influx["spec"]["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "ny-power", "app.kubernetes.io/instance": "t",
        "app.kubernetes.io/component": "archive"}}}]
    broker = m.get("NetworkPolicy", "t-ny-power-mosquitto")
    assert [p["port"] for p in broker["spec"]["ingress"][0]["ports"]] == ["mqtt", "websocket"]
    # every pod of the release, the helm test pod included, accepts nothing unless allowed
    deny = m.get("NetworkPolicy", "t-ny-power-default-deny")
    assert deny["spec"] == {"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "ny-power", "app.kubernetes.io/instance": "t"}}, "policyTypes": ["Ingress"]}
    allowed = {p["spec"]["podSelector"]["matchLabels"].get("app.kubernetes.io/component")
               for p in m.of_kind("NetworkPolicy") if p["spec"].get("ingress")}
    assert allowed == {"influxdb", "mosquitto", "web"}
    assert rendered["loadbalancer-ephemeral-nopolicy"].of_kind("NetworkPolicy") == []
    assert not any(p["metadata"]["name"].endswith("influxdb")
                   for p in rendered["external-influxdb-v1"].of_kind("NetworkPolicy"))


def acl_rules(acl: str) -> dict[str | None, list[str]]:
    """The ACL's rules per user (None: anonymous clients, the lines before the first `user`)."""
    rules: dict[str | None, list[str]] = {None: []}
    user = None
    for line in acl.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("user "):
            user = line.split(" ", 1)[1]
            assert user not in rules, f"user {user} twice"
            rules[user] = []
        else:
            rules[user].append(line)
    return rules


def expected_acl(root: str, discovery: str | None = None, ha_status: str | None = None) -> dict:
    """Exactly the rights each service needs (DESIGN's topics, src/stream/mod.rs Topics)."""
    acl = {
        None: [f"topic read {root}/#"] + ([f"topic read {discovery}"] if discovery else []),
        "ny-power-pump": [f"topic readwrite {root}/upstream/#",
                          f"topic readwrite {root}/status/fuel-mix/updated",
                          f"topic readwrite {root}/status/pump"],
        "ny-power-co2": [f"topic read {root}/upstream/fuel-mix",
                         f"topic readwrite {root}/computed/#",
                         f"topic readwrite {root}/archive/co2/#",
                         f"topic readwrite {root}/state/#",
                         f"topic readwrite {root}/status/co2"] + ([f"topic readwrite {discovery}"] if discovery else []),
        "ny-power-archive": [f"topic read {root}/upstream/fuel-mix",
                             f"topic read {root}/archive/co2/#",
                             f"topic read {root}/computed/co2",
                             f"topic read {root}/computed/co2/lifecycle",
                             f"topic readwrite {root}/status/archive"],
    }
    if ha_status:
        acl["homeassistant"] = ["topic read #", f"topic readwrite {ha_status}"]
    return acl


def test_mosquitto_acl_and_listeners(rendered):
    cm = rendered["defaults"].get("ConfigMap", "t-ny-power-mosquitto")
    conf, acl = cm["data"]["mosquitto.conf"], cm["data"]["acl"]
    assert re.search(r"(?m)^listener 1883$\n^protocol mqtt$", conf)
    assert re.search(r"(?m)^listener 9001$\n^protocol websockets$", conf)
    assert "password_file /mosquitto/auth/passwd" in conf and "acl_file /mosquitto/config/acl" in conf
    # a global option (before the first listener): no Nagle delay on the first message after SUBACK
    assert re.search(r"(?m)^set_tcp_nodelay true$", conf)
    assert conf.index("set_tcp_nodelay true") < conf.index("listener ")
    assert acl_rules(acl) == expected_acl("ny-power")
    lb = rendered["loadbalancer-ephemeral-nopolicy"].get("Service", "t-ny-power-mosquitto-lb")
    assert lb["spec"]["type"] == "LoadBalancer" and lb["spec"]["loadBalancerSourceRanges"] == ["203.0.113.0/24"]
    broker = pod_spec(rendered["loadbalancer-ephemeral-nopolicy"].component("Deployment", "mosquitto"))
    assert {"name": "data", "emptyDir": {}} in broker["volumes"]
    assert "persistence false" in rendered["loadbalancer-ephemeral-nopolicy"].get(
        "ConfigMap", "t-ny-power-mosquitto")["data"]["mosquitto.conf"]


def test_home_assistant_discovery_and_load_forecast(rendered, helm, tmp_path):
    m = rendered["home-assistant-load-forecast"]
    co2 = env_of(m, "co2")
    assert co2["HA_DISCOVERY"] == "true" and co2["HA_DISCOVERY_PREFIX"] == "ha/discovery"
    assert co2["LOAD_FORECAST"] == "nyiso"
    assert co2["NYISO_BASE_URL"] == "https://nyiso-mirror.example.org/public/csv"  # isolf files
    assert co2["TOPIC_ROOT"] == "dev/ny-power"
    web = env_of(m, "web")
    assert web["PUBLIC_MQTT_WS_URL"] == "/mqtt" and web["STALE_AFTER_MINUTES"] == "30"
    acl = m.get("ConfigMap", "t-ny-power-mosquitto")["data"]["acl"]
    # node id: the topic root with non-alphanumerics as "_" (homeassistant::node_id)
    assert acl_rules(acl) == expected_acl("dev/ny-power", discovery="ha/discovery/+/dev_ny_power/#",
                                          ha_status="ha/discovery/status")
    # A bare `off` in a values file is the YAML boolean false: it means "off", not an error.
    (tmp_path / "off.yaml").write_text("co2:\n  loadForecast: off\n")
    proc = helm_template(helm, tmp_path, None, extra=["-f", str(tmp_path / "off.yaml")])
    env = env_of(Manifest([d for d in yaml.safe_load_all(proc.stdout) if d]), "co2")
    assert env["LOAD_FORECAST"] == "off" and "NYISO_BASE_URL" not in env


def test_persistence_claims(rendered):
    m = rendered["defaults"]
    claims = {c["metadata"]["name"]: c["spec"]["resources"]["requests"]["storage"] for c in m.of_kind("PersistentVolumeClaim")}
    assert claims == {"t-ny-power-mosquitto": "1Gi", "t-ny-power-influxdb": "8Gi"}
    existing = rendered["existing-claims"]
    assert existing.of_kind("PersistentVolumeClaim") == []
    claim_names = {v["persistentVolumeClaim"]["claimName"] for w in workloads(existing.docs)
                   for v in pod_spec(w).get("volumes", []) if "persistentVolumeClaim" in v}
    assert claim_names == {"broker-data", "influx-data"}


def test_helm_test_hook(rendered):
    (pod,) = rendered["defaults"].of_kind("Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = pod["spec"]["containers"][0]["command"][2]
    assert "mosquitto_sub" in script and "mosquitto_pub" in script and "config.json" in script
    # it publishes as the pump (upstream/: allowed; computed/: refused) with the pump's password only
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    assert env["MQTT_USERNAME"] == "ny-power-pump"
    assert env["ALLOWED"] == "ny-power/upstream/helm-test/t" and env["DENIED"] == "ny-power/computed/helm-test/t"
    (secret,) = [v["secret"] for v in pod["spec"]["volumes"] if "secret" in v]
    assert secret["items"] == [{"key": "pump-password", "path": "password"}]


def test_notes(helm, tmp_path):
    def notes(values):
        args = [helm, "install", "t", str(CHART), "--dry-run=client", "--namespace", NAMESPACE]
        proc = subprocess.run(args + write_values(tmp_path, values), capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split("NOTES:", 1)[1]

    default = notes(None)
    assert "port-forward svc/t-ny-power-web" in default and "ws://127.0.0.1:9001/mqtt" in default
    assert "helm test t" in default
    assert "https://power.example.org/" in notes(MATRIX["ingress"])
    assert "https://influx.example.org:8086" in notes(MATRIX["external-influxdb-v1"])


def test_charge_ready_by_reaches_the_co2_container(helm, tmp_path, rendered):
    """co2.chargeReadyBy is the calculator's CHARGE_READY_BY (default 07:00); the schema takes
    what the calculator's parser takes (H:MM or HH:MM) and refuses the rest."""
    for m in rendered.values():
        assert env_of(m, "co2")["CHARGE_READY_BY"] == "07:00"
        for component in ("pump", "archive", "web"):
            assert "CHARGE_READY_BY" not in env_of(m, component), component
    m = Manifest(render(helm, tmp_path, {"co2": {"chargeReadyBy": "6:30"}}))
    assert env_of(m, "co2")["CHARGE_READY_BY"] == "6:30"
    for bad in ("24:00", "07:60", "7", "seven", ""):
        proc = helm_template(helm, tmp_path, {"co2": {"chargeReadyBy": bad}}, check=False)
        assert proc.returncode != 0, f"{bad!r} was accepted"
        assert "chargeReadyBy" in proc.stderr, proc.stderr
    # An unquoted 07:00 in a values file is read as the string "07:00" by helm, not mangled.
    (tmp_path / "bare.yaml").write_text("co2:\n  chargeReadyBy: 07:00\n")
    proc = helm_template(helm, tmp_path, None, extra=["-f", str(tmp_path / "bare.yaml")])
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    assert env_of(Manifest(docs), "co2")["CHARGE_READY_BY"] == "07:00"
