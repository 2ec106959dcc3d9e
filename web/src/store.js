// The dashboard's state and the routing of MQTT messages into it. Pure: no DOM, no
// network. `applyMessage` validates a message for its topic and, if valid, stores it;
// otherwise it counts the rejection. Rendering code reads the state afterwards.

import { FACTORS, FUELS, TOPICS } from "./contract.js";
import {
  parseBand,
  parseChargeWindow,
  parseCursor,
  parseForecast,
  parseFuelMix,
  parseFuelValue,
  parseHistory,
  parseIntensity,
} from "./validate.js";

/**
 * Every topic of the contract under `root`, each with the kind of message on it.
 * Subscriptions are always to exact topics (no wildcards: AWS IoT Core delivers
 * retained messages only to exact subscriptions).
 * @param {string} root topic root, e.g. "ny-power"
 * @returns {Map<string, {kind: string, slug?: string}>}
 */
export function topicTable(root) {
  const t = new Map();
  t.set(`${root}/${TOPICS.co2}`, { kind: "co2" });
  t.set(`${root}/${TOPICS.co2Lifecycle}`, { kind: "co2Lifecycle" });
  t.set(`${root}/${TOPICS.history}`, { kind: "history" });
  t.set(`${root}/${TOPICS.fuelMix}`, { kind: "fuelMix" });
  for (const slug of FUELS) t.set(`${root}/${TOPICS.fuel}${slug}`, { kind: "fuel", slug });
  t.set(`${root}/${TOPICS.cursor}`, { kind: "cursor" });
  t.set(`${root}/${TOPICS.forecast}`, { kind: "forecast" });
  t.set(`${root}/${TOPICS.chargeWindow}`, { kind: "chargeWindow" });
  t.set(`${root}/${TOPICS.band}`, { kind: "band" });
  return t;
}

/**
 * The kinds of message the dashboard renders. The per-fuel topics and the cursor carry
 * nothing the combined fuel-mix message does not, so the page does not subscribe to them
 * (their validators are still here, for fixtures and tests).
 */
export const DASHBOARD_KINDS = ["co2", "co2Lifecycle", "history", "fuelMix", "forecast", "chargeWindow", "band"];

/**
 * The exact topics the dashboard subscribes to, with their kinds.
 * @param {string} root
 * @returns {Map<string, {kind: string, slug?: string}>}
 */
export function dashboardTopicTable(root) {
  return new Map([...topicTable(root)].filter(([, e]) => DASHBOARD_KINDS.includes(e.kind)));
}

export function createState() {
  return {
    /** @type {{ts: number, value: number, factors: string}|null} */
    co2: null,
    /** @type {{ts: number, value: number, factors: string}|null} */
    co2Lifecycle: null,
    /** @type {{ts: number[], values: number[]}|null} */
    history: null,
    /** @type {{ts: number, fuels: Record<string, number>, totalMw: number}|null} */
    fuelMix: null,
    /** @type {Record<string, {ts: number, value: number}>} per-fuel topics */
    fuel: {},
    /** @type {{ts: number}|null} */
    cursor: null,
    /** @type {{issued: number, ts: number[], values: number[]}|null} `computed/co2/forecast` */
    forecast: null,
    /** @type {{issued: number, windows: {hours: number, start: number, end: number, mean: number,
     *   nowMean: number, cleanerPct: number}[]}|null} `computed/charge-window` */
    chargeWindow: null,
    /** @type {{ts: number, value: number, band: string, lowBelow: number, highAbove: number,
     *   windowDays: number}|null} `computed/co2/band` */
    band: null,
  };
}

export function createStats() {
  return {
    received: 0,
    accepted: 0,
    rejected: 0,
    /** @type {Record<string, number>} reason -> count */
    rejectedReasons: {},
    /** @type {{topic: string, reason: string}|null} */
    lastRejected: null,
  };
}

/**
 * Validates one message and stores it in `state`; counts it in `stats`.
 * The last valid message on a topic wins, as with retained messages on the broker
 * (a replay that loops back to an earlier day must still update the page).
 * @param {ReturnType<typeof createState>} state
 * @param {ReturnType<typeof createStats>} stats
 * @param {Map<string, {kind: string, slug?: string}>} table from `topicTable(root)`
 * @param {string} topic
 * @param {Uint8Array|string} payload
 * @returns {{ok: true, kind: string, slug?: string} | {ok: false, reason: string}}
 */
export function applyMessage(state, stats, table, topic, payload) {
  stats.received += 1;
  const entry = table.get(topic);
  if (!entry) return reject(stats, topic, "unexpected topic");
  let r;
  switch (entry.kind) {
    case "co2":
      r = parseIntensity(payload, FACTORS.co2);
      break;
    case "co2Lifecycle":
      r = parseIntensity(payload, FACTORS.co2Lifecycle);
      break;
    case "history":
      r = parseHistory(payload);
      break;
    case "fuelMix":
      r = parseFuelMix(payload);
      break;
    case "fuel":
      r = parseFuelValue(payload);
      break;
    case "cursor":
      r = parseCursor(payload);
      break;
    case "forecast":
      r = parseForecast(payload);
      break;
    case "chargeWindow":
      r = parseChargeWindow(payload);
      break;
    case "band":
      r = parseBand(payload);
      break;
    default:
      r = { ok: false, reason: "unexpected topic" };
  }
  if (!r.ok) return reject(stats, topic, r.reason);
  stats.accepted += 1;
  if (entry.kind === "fuel") state.fuel[entry.slug] = r.value;
  else state[entry.kind] = r.value;
  return { ok: true, kind: entry.kind, slug: entry.slug };
}

function reject(stats, topic, reason) {
  stats.rejected += 1;
  stats.rejectedReasons[reason] = (stats.rejectedReasons[reason] ?? 0) + 1;
  stats.lastRejected = { topic, reason };
  return { ok: false, reason };
}
