// The one seam between the page and a broker. `connect(config, topics, handlers)` opens an
// MQTT-over-WebSockets session, subscribes to the exact topics (QoS 1) and reports
// messages and connection state. `config.mqtt.kind` is "url" (a plain ws:/wss: URL) or
// "aws-iot" (AWS IoT Core: Cognito guest credentials and a SigV4-signed wss: URL, re-signed
// for every reconnect; src/aws/iot.js), which drives `connectUrl` below.

import mqtt from "mqtt";
import { connectAwsIot } from "./aws/iot.js";

/** Reconnect backoff: first retry after MIN, doubling to MAX, with ±20 % jitter. */
export const RECONNECT_MIN_MS = 1000;
export const RECONNECT_MAX_MS = 30_000;

/**
 * @typedef {"connecting"|"connected"|"reconnecting"|"offline"} ConnState
 * @typedef {{
 *   onMessage: (topic: string, payload: Uint8Array) => void,
 *   onState: (state: ConnState, detail?: string) => void,
 * }} Handlers
 * @typedef {{ end: () => void, client: unknown }} Connection
 */

/**
 * @param {{mqtt: {kind: string, url?: string, region?: string, endpoint?: string, identityPoolId?: string}}} config
 *   checked config (config.js)
 * @param {string[]} topics exact topics to subscribe to
 * @param {Handlers} handlers
 * @returns {Connection}
 */
export function connect(config, topics, handlers) {
  switch (config.mqtt.kind) {
    case "url":
      return connectUrl(config.mqtt.url, topics, handlers);
    case "aws-iot":
      return connectAwsIot(config.mqtt, topics, handlers, { connectUrl });
    default:
      throw new Error(`mqtt.kind "${config.mqtt.kind}" is not supported by this build`);
  }
}

function jitter(ms) {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

/**
 * @param {string} url ws:/wss: URL
 * @param {string[]} topics
 * @param {Handlers} handlers
 * @param {Record<string, unknown>} [extra] more MQTT.js options (the AWS mode's `clientId`
 *   and `transformWsUrl`, which re-signs the URL for each reconnect)
 * @returns {Connection}
 */
export function connectUrl(url, topics, { onMessage, onState }, extra = {}) {
  onState("connecting");
  let backoff = RECONNECT_MIN_MS;
  const client = mqtt.connect(url, {
    protocolVersion: 4,
    clean: true,
    keepalive: 60,
    connectTimeout: 10_000,
    reconnectPeriod: jitter(backoff),
    // Resubscribe after a reconnect (clean session), which also re-delivers the
    // retained messages: the page catches up on whatever it missed while away.
    resubscribe: true,
    ...extra,
  });
  const subs = Object.fromEntries(topics.map((t) => [t, { qos: 1 }]));
  // Queued until the first CONNACK; MQTT.js replays it on every reconnect.
  client.subscribe(subs, (err, granted) => {
    if (err) {
      onState("reconnecting", `subscribe failed: ${err.message}`);
      return;
    }
    const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
    if (refused.length) console.warn(`ny-power: broker refused subscriptions: ${refused.join(", ")}`);
  });
  client.on("connect", () => {
    backoff = RECONNECT_MIN_MS;
    client.options.reconnectPeriod = jitter(backoff);
    onState("connected");
  });
  client.on("reconnect", () => {
    backoff = Math.min(backoff * 2, RECONNECT_MAX_MS);
    client.options.reconnectPeriod = jitter(backoff);
    onState(navigator.onLine === false ? "offline" : "reconnecting");
  });
  client.on("offline", () => onState(navigator.onLine === false ? "offline" : "reconnecting"));
  client.on("close", () => {
    if (client.disconnecting) onState("offline");
  });
  client.on("error", (err) => onState(client.connected ? "connected" : "reconnecting", err.message));
  client.on("message", (topic, payload) => onMessage(topic, payload));
  // The browser's own view of the network: say so at once, and when it comes back retry
  // now instead of waiting out the backoff (only while MQTT.js waits between attempts,
  // so an attempt in flight is never doubled).
  const wentOffline = () => onState("offline", "browser is offline");
  const wentOnline = () => {
    if (client.connected) {
      onState("connected");
      return;
    }
    onState("reconnecting");
    backoff = RECONNECT_MIN_MS;
    client.options.reconnectPeriod = jitter(backoff);
    if (client.reconnectTimer && !client.disconnecting) client.reconnect();
  };
  window.addEventListener("offline", wentOffline);
  window.addEventListener("online", wentOnline);
  return {
    client,
    end() {
      window.removeEventListener("offline", wentOffline);
      window.removeEventListener("online", wentOnline);
      client.end(true);
    },
  };
}
