// Runtime configuration (`config.json` beside index.html), checked once at start.
// Pure: `parseConfig(json, pageUrl)` returns { ok: true, config } or { ok: false, error }.

import { DEFAULT_TOPIC_ROOT } from "./contract.js";
import { parseAwsIotConfig } from "./aws/iot.js";

export const DEFAULT_STALE_AFTER_MINUTES = 15;

/** Human labels for the known modes; any other mode string is shown as given. */
export const MODE_LABELS = {
  live: "live NYISO data",
  replay: "replay of bundled NYISO days",
};

/**
 * The broker-connection kinds this build supports (see connect.js): "url" (a ws:/wss: URL)
 * and "aws-iot" (AWS IoT Core: Cognito guest credentials and a SigV4-signed wss: URL).
 */
export const MQTT_KINDS = ["url", "aws-iot"];

/**
 * Checks a topic root: non-empty, no wildcards, no leading/trailing slash.
 * @param {unknown} root
 */
export function isValidTopicRoot(root) {
  return (
    typeof root === "string" &&
    root.length > 0 &&
    root.length <= 200 &&
    !/[#+\u0000]/.test(root) &&
    !root.startsWith("/") &&
    !root.endsWith("/") &&
    !root.includes("//")
  );
}

/**
 * Resolves the broker URL. Absolute `ws:`/`wss:` URLs are kept; a path starting with
 * "/" is resolved against the page's origin (`ws:` for http pages, `wss:` for https).
 * @param {unknown} url
 * @param {string} pageUrl
 * @returns {string|null}
 */
export function resolveBrokerUrl(url, pageUrl) {
  if (typeof url !== "string" || url.length === 0) return null;
  let u;
  try {
    if (url.startsWith("/") && !url.startsWith("//")) {
      const page = new URL(pageUrl);
      u = new URL(url, `${page.protocol === "https:" ? "wss:" : "ws:"}//${page.host}`);
    } else {
      u = new URL(url);
    }
  } catch {
    return null;
  }
  if (u.protocol !== "ws:" && u.protocol !== "wss:") return null;
  return u.href;
}

/**
 * @param {unknown} json the parsed config.json
 * @param {string} pageUrl location.href, to resolve a relative broker URL
 * @returns {{ok: true, config: {mqtt: {kind: "url", url: string} | {kind: "aws-iot", region: string,
 *   endpoint: string, identityPoolId: string}, topicRoot: string,
 *   mode: string, modeLabel: string, staleAfterMinutes: number}} | {ok: false, error: string}}
 */
export function parseConfig(json, pageUrl) {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    return { ok: false, error: "config.json is not a JSON object" };
  }
  const mqtt = json.mqtt;
  if (mqtt === null || typeof mqtt !== "object" || Array.isArray(mqtt)) {
    return { ok: false, error: 'config.json: "mqtt" must be an object like {"url": "ws://127.0.0.1:9001/mqtt"}' };
  }
  const kind = mqtt.kind ?? "url";
  if (!MQTT_KINDS.includes(kind)) {
    return { ok: false, error: `config.json: mqtt.kind "${String(kind)}" is not supported (supported: ${MQTT_KINDS.join(", ")})` };
  }
  let broker;
  if (kind === "aws-iot") {
    const aws = parseAwsIotConfig(mqtt);
    if (!aws.ok) return { ok: false, error: aws.error };
    broker = aws.mqtt;
  } else {
    const url = resolveBrokerUrl(mqtt.url, pageUrl);
    if (url === null) {
      return { ok: false, error: "config.json: mqtt.url must be a ws:// or wss:// URL, or a path starting with /" };
    }
    broker = { kind, url };
  }
  const topicRoot = json.topic_root ?? DEFAULT_TOPIC_ROOT;
  if (!isValidTopicRoot(topicRoot)) {
    return { ok: false, error: "config.json: topic_root must be a non-empty topic without wildcards or leading/trailing /" };
  }
  const mode = json.mode ?? "live";
  if (typeof mode !== "string" || mode.length === 0 || mode.length > 100) {
    return { ok: false, error: "config.json: mode must be a short string" };
  }
  const stale = json.stale_after_minutes ?? DEFAULT_STALE_AFTER_MINUTES;
  if (typeof stale !== "number" || !Number.isFinite(stale) || stale <= 0) {
    return { ok: false, error: "config.json: stale_after_minutes must be a positive number" };
  }
  return {
    ok: true,
    config: {
      mqtt: broker,
      topicRoot,
      mode,
      modeLabel: Object.hasOwn(MODE_LABELS, mode) ? MODE_LABELS[mode] : mode,
      staleAfterMinutes: stale,
    },
  };
}
