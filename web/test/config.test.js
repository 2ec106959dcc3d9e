import { test } from "node:test";
import assert from "node:assert/strict";
import { isValidTopicRoot, parseConfig, resolveBrokerUrl } from "../src/config.js";

const PAGE = "http://127.0.0.1:8080/index.html";

test("minimal config gets the defaults", () => {
  const r = parseConfig({ mqtt: { url: "ws://127.0.0.1:9001/mqtt" } }, PAGE);
  assert.deepEqual(r, {
    ok: true,
    config: {
      mqtt: { kind: "url", url: "ws://127.0.0.1:9001/mqtt" },
      topicRoot: "ny-power",
      mode: "live",
      modeLabel: "live NYISO data",
      staleAfterMinutes: 15,
    },
  });
});

test("full config", () => {
  const r = parseConfig(
    { mqtt: { kind: "url", url: "wss://example.org/mqtt" }, topic_root: "test/abc", mode: "replay", stale_after_minutes: 30 },
    PAGE,
  );
  assert.equal(r.ok, true);
  assert.equal(r.config.topicRoot, "test/abc");
  assert.equal(r.config.modeLabel, "replay of bundled NYISO days");
  assert.equal(r.config.staleAfterMinutes, 30);
  assert.equal(r.config.mqtt.url, "wss://example.org/mqtt");
});

test("unknown modes are shown as given", () => {
  assert.equal(parseConfig({ mqtt: { url: "ws://h/mqtt" }, mode: "staging" }, PAGE).config.modeLabel, "staging");
});

test("a path is resolved against the page, ws for http and wss for https", () => {
  assert.equal(resolveBrokerUrl("/mqtt", "http://127.0.0.1:8080/"), "ws://127.0.0.1:8080/mqtt");
  assert.equal(resolveBrokerUrl("/mqtt", "https://ny.example/x/"), "wss://ny.example/mqtt");
  assert.equal(resolveBrokerUrl("http://h/mqtt", PAGE), null);
  assert.equal(resolveBrokerUrl("//h/mqtt", PAGE), null);
  assert.equal(resolveBrokerUrl("", PAGE), null);
  assert.equal(resolveBrokerUrl(42, PAGE), null);
});

test("invalid configs are refused with a message", () => {
  const cases = [
    null,
    [],
    {},
    { mqtt: "ws://h" },
    { mqtt: { url: "http://h/mqtt" } },
    { mqtt: { url: "ws://h/mqtt", kind: "aws-iot" } }, // no region, endpoint, pool
    { mqtt: { url: "ws://h/mqtt", kind: "mqtt-over-carrier-pigeon" } },
    { mqtt: { url: "ws://h/mqtt" }, topic_root: "ny-power/#" },
    { mqtt: { url: "ws://h/mqtt" }, topic_root: "" },
    { mqtt: { url: "ws://h/mqtt" }, topic_root: "ny-power/" },
    { mqtt: { url: "ws://h/mqtt" }, mode: 3 },
    { mqtt: { url: "ws://h/mqtt" }, stale_after_minutes: 0 },
    { mqtt: { url: "ws://h/mqtt" }, stale_after_minutes: "15" },
  ];
  for (const c of cases) {
    const r = parseConfig(c, PAGE);
    assert.equal(r.ok, false, JSON.stringify(c));
    assert.match(r.error, /config\.json/);
  }
});

test("topic roots", () => {
  assert.ok(isValidTopicRoot("ny-power"));
  assert.ok(isValidTopicRoot("tests/run-1/ny-power"));
  for (const bad of ["", "/ny", "ny/", "a//b", "a/+/b", "#", 5]) assert.ok(!isValidTopicRoot(bad), String(bad));
});

test("aws-iot: region, endpoint and identity pool (the stack's DashboardConfig output)", () => {
  const mqtt = {
    kind: "aws-iot",
    region: "us-east-1",
    endpoint: "abc123xyz-ats.iot.us-east-1.amazonaws.com",
    identity_pool_id: "us-east-1:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
  };
  const r = parseConfig({ mqtt, mode: "live" }, "https://ny.example/");
  assert.equal(r.ok, true, r.error);
  assert.deepEqual(r.config.mqtt, {
    kind: "aws-iot",
    region: "us-east-1",
    endpoint: "abc123xyz-ats.iot.us-east-1.amazonaws.com",
    identityPoolId: "us-east-1:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
  });
  const bad = parseConfig({ mqtt: { ...mqtt, endpoint: "evil.example.com" } }, PAGE);
  assert.equal(bad.ok, false);
  assert.match(bad.error, /config\.json: mqtt\.endpoint/);
});
