"""Policy checks on infra/template.yaml (pytest + PyYAML; run by tests/aws/check-template.sh).

Each function may do only what its ports use, only on its own topics under TopicRoot; the
dashboard's guest (Cognito unauthenticated) role may only connect, subscribe and receive;
each IoT rule's invoke permission is scoped to that rule; the functions are the workspace's
binaries, built for arm64 on provided.al2023.
"""

import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"


class CfnLoader(yaml.SafeLoader):
    """A YAML loader that turns CloudFormation short tags (!Ref, !Sub, ...) into the long form."""


def _construct(tag):
    name = "Ref" if tag == "Ref" else f"Fn::{tag}"

    def build(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return build


for _tag in ["Ref", "Sub", "GetAtt", "If", "Equals", "Not", "And", "Or", "Join", "Select",
             "Split", "FindInMap", "ImportValue", "Base64", "GetAZs", "Condition"]:
    CfnLoader.add_constructor(f"!{_tag}", _construct(_tag))


@pytest.fixture(scope="module")
def template():
    return yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)


def resources(template, rtype):
    return {k: v for k, v in template["Resources"].items() if v["Type"] == rtype}


def text(value):
    """A resource/ARN value as a string (Fn::Sub's template, Ref/GetAtt as markers)."""
    if isinstance(value, str):
        return value
    if "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    if "Fn::GetAtt" in value:
        return "GetAtt:" + ".".join(value["Fn::GetAtt"])
    if "Ref" in value:
        return "Ref:" + value["Ref"]
    raise AssertionError(f"unexpected value {value}")


def statements_of(policies):
    """Every statement of a SAM Policies list, both branches of any Fn::If."""
    out = []
    for p in policies:
        if isinstance(p, dict) and "Fn::If" in p:
            _, yes, no = p["Fn::If"]
            out += statements_of([b for b in (yes, no) if b != {"Ref": "AWS::NoValue"}])
        elif isinstance(p, dict) and "Statement" in p:
            out += p["Statement"]
        else:
            raise AssertionError(f"only inline statements are allowed, got {p}")
    return out


def as_list(v):
    return v if isinstance(v, list) else [v]


TOPIC = "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:topic/${TopicRoot}/"

# What each function's ports need: action -> allowed resources (exact).
EXPECTED = {
    "PumpFunction": {
        "iot:Publish": {TOPIC + "upstream/fuel-mix", TOPIC + "upstream/fuel-mix/*",
                        TOPIC + "status/fuel-mix/updated"},
        "iot:RetainPublish": {TOPIC + "upstream/fuel-mix", TOPIC + "upstream/fuel-mix/*",
                              TOPIC + "status/fuel-mix/updated"},
        "iot:GetRetainedMessage": {TOPIC + "status/fuel-mix/updated"},
        "sqs:SendMessage": {"GetAtt:FailureQueue.Arn"},
    },
    "Co2Function": {
        "iot:Publish": {TOPIC + "computed/co2", TOPIC + "computed/co2/*",
                        TOPIC + "computed/charge-window", TOPIC + "archive/co2/24h",
                        TOPIC + "state/co2/forecaster", TOPIC + "archive/co2/points"},
        "iot:RetainPublish": {TOPIC + "computed/co2", TOPIC + "computed/co2/*",
                              TOPIC + "computed/charge-window", TOPIC + "archive/co2/24h",
                              TOPIC + "state/co2/forecaster"},
        "iot:GetRetainedMessage": {TOPIC + "archive/co2/24h", TOPIC + "state/co2/forecaster"},
        "sqs:SendMessage": {"GetAtt:FailureQueue.Arn"},
    },
    "ArchiveFunction": {
        "timestream:WriteRecords": {"GetAtt:TimestreamTable.Arn"},
        "timestream:DescribeEndpoints": {"*"},
        "sqs:SendMessage": {"GetAtt:FailureQueue.Arn"},
    },
}


def granted(function):
    """action -> set of resources, over all Allow statements; Deny/NotAction are not used."""
    out = {}
    for st in statements_of(function["Properties"].get("Policies", [])):
        assert st["Effect"] == "Allow", st
        assert "NotAction" not in st and "NotResource" not in st, st
        for action in as_list(st["Action"]):
            assert "*" not in action, f"wildcard action {action}"
            out.setdefault(action, set()).update(text(r) for r in as_list(st["Resource"]))
    return out


def test_every_function_grants_only_its_own_actions(template):
    functions = resources(template, "AWS::Serverless::Function")
    assert set(functions) == set(EXPECTED)
    for name, function in functions.items():
        assert granted(function) == EXPECTED[name], name


def test_only_the_pump_publishes_upstream_and_no_function_publishes_outside_the_root(template):
    for name, function in resources(template, "AWS::Serverless::Function").items():
        for action, res in granted(function).items():
            if action.startswith("iot:"):
                assert all(r.startswith(TOPIC) for r in res), (name, action, res)
            if action == "iot:Publish" and name != "PumpFunction":
                assert not any("/upstream/" in r or "/status/" in r for r in res), name


def test_guest_role_can_only_connect_subscribe_and_receive_under_the_root(template):
    role = template["Resources"]["GuestRole"]["Properties"]
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert len(trust) == 1
    cond = trust[0]["Condition"]
    assert cond["StringEquals"]["cognito-identity.amazonaws.com:aud"] == {"Ref": "IdentityPool"}
    assert cond["ForAnyValue:StringLike"]["cognito-identity.amazonaws.com:amr"] == "unauthenticated"
    allowed = {}
    for policy in role["Policies"]:
        for st in policy["PolicyDocument"]["Statement"]:
            assert st["Effect"] == "Allow"
            for action in as_list(st["Action"]):
                allowed.setdefault(action, set()).update(text(r) for r in as_list(st["Resource"]))
    assert set(allowed) == {"iot:Connect", "iot:Subscribe", "iot:Receive"}
    assert not {"iot:Publish", "iot:RetainPublish", "iot:*", "*"} & set(allowed)
    base = "arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}:"
    assert allowed["iot:Subscribe"] == {base + "topicfilter/${TopicRoot}/*"}
    assert allowed["iot:Receive"] == {base + "topic/${TopicRoot}/*"}
    assert allowed["iot:Connect"] == {base + "client/${!cognito-identity.amazonaws.com:sub}-*"}
    attach = template["Resources"]["IdentityPoolRoles"]["Properties"]["Roles"]
    assert set(attach) == {"unauthenticated"}
    pool = template["Resources"]["IdentityPool"]["Properties"]
    assert pool["AllowUnauthenticatedIdentities"] is True and pool["AllowClassicFlow"] is False


def test_each_rule_invokes_one_function_and_its_permission_is_scoped_to_that_rule(template):
    rules = resources(template, "AWS::IoT::TopicRule")
    perms = resources(template, "AWS::Lambda::Permission")
    # The archive takes the intensity archive stream (every reading, late ones included), not
    # the live computed/ topics.
    expected = {"Co2Rule": ("Co2Function", "upstream/fuel-mix", ""),
                "ArchiveUpstreamRule": ("ArchiveFunction", "upstream/fuel-mix", ""),
                "ArchiveComputedRule": ("ArchiveFunction", "archive/co2/points", "")}
    assert set(rules) == set(expected)
    for name, rule in rules.items():
        payload = rule["Properties"]["TopicRulePayload"]
        function, topic, where = expected[name]
        assert payload["Sql"] == {
            "Fn::Sub": f"SELECT *, topic() AS topic FROM '${{TopicRoot}}/{topic}'{where}"}
        actions = payload["Actions"]
        assert actions == [{"Lambda": {"FunctionArn": {"Fn::GetAtt": [function, "Arn"]}}}]
        scoped = [p["Properties"] for p in perms.values()
                  if p["Properties"]["SourceArn"] == {"Fn::GetAtt": [name, "Arn"]}]
        assert len(scoped) == 1, name
        assert scoped[0]["FunctionName"] == {"Ref": function}
        assert scoped[0]["Principal"] == "iot.amazonaws.com"
        assert scoped[0]["SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert len(perms) == len(rules), "no permission without a rule"


def test_functions_are_the_workspace_binaries_for_arm64(template):
    g = template["Globals"]["Function"]
    assert g["Runtime"] == "provided.al2023" and g["Architectures"] == ["arm64"]
    binaries = []
    for name, function in resources(template, "AWS::Serverless::Function").items():
        meta = function["Metadata"]
        assert meta["BuildMethod"] == "rust-cargolambda", name
        binaries.append(meta["BuildProperties"]["Binary"])
    assert sorted(binaries) == ["ny-power-archive-fn", "ny-power-co2-fn", "ny-power-pump-fn"]
    declared = set()
    for manifest in ROOT.glob("functions/*/Cargo.toml"):
        declared |= set(re.findall(r'\[\[bin\]\]\s*name\s*=\s*"([^"]+)"', manifest.read_text()))
    assert set(binaries) <= declared


def test_schedule_failures_and_backend_condition(template):
    pump = template["Resources"]["PumpFunction"]["Properties"]
    poll = pump["Events"]["Poll"]
    assert poll["Type"] == "ScheduleV2"
    assert poll["Properties"]["ScheduleExpression"] == {"Ref": "PollRate"}
    for name in EXPECTED:
        cfg = template["Resources"][name]["Properties"]["EventInvokeConfig"]
        assert cfg["DestinationConfig"]["OnFailure"]["Destination"] == {
            "Fn::GetAtt": ["FailureQueue", "Arn"]}
    for name in ["TimestreamDatabase", "TimestreamTable"]:
        assert template["Resources"][name]["Condition"] == "UseTimestream"
    params = template["Parameters"]
    assert {"StageName", "PollRate", "Factors", "ArchiveBackend"} <= set(params)
    outputs = template["Outputs"]
    assert {"DashboardUrl", "IotDataEndpoint", "IdentityPoolId"} <= set(outputs)


def test_charge_ready_by_reaches_the_co2_function(template):
    """ChargeReadyBy is the co2 function's CHARGE_READY_BY; its pattern accepts what the
    core's parser accepts (H:MM or HH:MM, 00:00-23:59) and refuses the rest."""
    param = template["Parameters"]["ChargeReadyBy"]
    assert param["Default"] == "07:00"
    env = template["Resources"]["Co2Function"]["Properties"]["Environment"]["Variables"]
    assert env["CHARGE_READY_BY"] == {"Ref": "ChargeReadyBy"}
    pattern = re.compile(param["AllowedPattern"])
    for good in ["07:00", "7:00", "00:00", "23:59", "19:30"]:
        assert pattern.fullmatch(good), good
    for bad in ["24:00", "07:60", "7", "07:0", "seven", "007:00", ""]:
        assert not pattern.fullmatch(bad), bad
