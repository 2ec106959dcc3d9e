// Payload validation for the messages of DESIGN.md §5. Pure functions: each takes the
// raw MQTT payload (bytes or string) and returns either
//   { ok: true, value }   with plain, checked data, or
//   { ok: false, reason } with a short reason for the rejected-message counter.
//
// Rules: required fields must be present with the right type; numbers must be finite
// (JSON cannot carry NaN, but strings like "NaN" and nulls are rejected); timestamps
// must be RFC 3339 UTC ("Z"); units and factor names must match the topic. Extra
// top-level fields are tolerated (additive schema changes), unknown fuel slugs are not.

import { FIELDS, FUELS, UNITS } from "./contract.js";

const RFC3339_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z$/;

/** Largest history we accept (a day of 1-minute readings is 1440; NYISO gives ~288). */
export const MAX_HISTORY_POINTS = 5000;

/**
 * Parses an RFC 3339 UTC timestamp to epoch milliseconds, or returns null.
 * @param {unknown} s
 * @returns {number|null}
 */
export function parseTimestamp(s) {
  if (typeof s !== "string") return null;
  const m = RFC3339_UTC.exec(s);
  if (!m) return null;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59) return null;
  const ms = Date.parse(s);
  if (!Number.isFinite(ms)) return null;
  // Reject dates that roll over (e.g. 02-30): the parsed day must be the written day.
  if (new Date(ms).getUTCDate() !== d) return null;
  return ms;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes and parses a JSON object payload.
 * @param {Uint8Array|string} payload
 * @returns {{ok: true, value: Record<string, unknown>} | {ok: false, reason: string}}
 */
export function parseJsonObject(payload) {
  let text;
  if (typeof payload === "string") {
    text = payload;
  } else if (payload instanceof Uint8Array) {
    try {
      text = decoder.decode(payload);
    } catch {
      return fail("payload is not UTF-8");
    }
  } else {
    return fail("payload is not bytes or text");
  }
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    return fail("payload is not JSON");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return fail("payload is not a JSON object");
  }
  return { ok: true, value };
}

function fail(reason) {
  return { ok: false, reason };
}

const isNum = (v) => typeof v === "number" && Number.isFinite(v);

function tsField(obj) {
  const ms = parseTimestamp(obj[FIELDS.ts]);
  return ms === null ? null : ms;
}

/**
 * `{root}/computed/co2` and `{root}/computed/co2/lifecycle`.
 * @param {Uint8Array|string} payload
 * @param {string} factors expected `factors` value ("direct" or "lifecycle")
 * @returns {{ok: true, value: {ts: number, value: number, factors: string}} | {ok: false, reason: string}}
 */
export function parseIntensity(payload, factors) {
  const p = parseJsonObject(payload);
  if (!p.ok) return p;
  const o = p.value;
  const ts = tsField(o);
  if (ts === null) return fail("intensity: bad or missing ts");
  const v = o[FIELDS.value];
  if (!isNum(v)) return fail("intensity: value is not a finite number");
  if (v < 0) return fail("intensity: value is negative");
  if (o[FIELDS.units] !== UNITS.intensity) return fail("intensity: units is not g/kWh");
  if (o[FIELDS.factors] !== factors) return fail(`intensity: factors is not "${factors}"`);
  return { ok: true, value: { ts, value: v, factors } };
}

/**
 * `{root}/upstream/fuel-mix`: all seven fuels, MW, and their total.
 * `total_mw` must equal the sum of the fuels within 1 MW (or 0.1 %), else the message
 * is inconsistent and rejected.
 * @param {Uint8Array|string} payload
 * @returns {{ok: true, value: {ts: number, fuels: Record<string, number>, totalMw: number}} | {ok: false, reason: string}}
 */
export function parseFuelMix(payload) {
  const p = parseJsonObject(payload);
  if (!p.ok) return p;
  const o = p.value;
  const ts = tsField(o);
  if (ts === null) return fail("fuel-mix: bad or missing ts");
  const f = o[FIELDS.fuels];
  if (f === null || typeof f !== "object" || Array.isArray(f)) return fail("fuel-mix: fuels is not an object");
  const fuels = {};
  let sum = 0;
  for (const slug of FUELS) {
    const v = f[slug];
    if (!isNum(v)) return fail(`fuel-mix: ${slug} is missing or not a finite number`);
    fuels[slug] = v;
    sum += v;
  }
  for (const key of Object.keys(f)) {
    if (!FUELS.includes(key)) return fail(`fuel-mix: unknown fuel "${key}"`);
  }
  const total = o[FIELDS.totalMw];
  if (!isNum(total)) return fail("fuel-mix: total_mw is not a finite number");
  if (Math.abs(total - sum) > Math.max(1, Math.abs(sum) * 0.001)) {
    return fail("fuel-mix: total_mw is not the sum of the fuels");
  }
  return { ok: true, value: { ts, fuels, totalMw: total } };
}

/**
 * `{root}/upstream/fuel-mix/{slug}`.
 * @param {Uint8Array|string} payload
 * @returns {{ok: true, value: {ts: number, value: number}} | {ok: false, reason: string}}
 */
export function parseFuelValue(payload) {
  const p = parseJsonObject(payload);
  if (!p.ok) return p;
  const o = p.value;
  const ts = tsField(o);
  if (ts === null) return fail("fuel: bad or missing ts");
  const v = o[FIELDS.value];
  if (!isNum(v)) return fail("fuel: value is not a finite number");
  if (o[FIELDS.units] !== UNITS.power) return fail("fuel: units is not MW");
  return { ok: true, value: { ts, value: v } };
}

/**
 * `{root}/archive/co2/24h`: parallel arrays, oldest first, instants strictly increasing.
 * An empty history is valid (nothing archived yet).
 * @param {Uint8Array|string} payload
 * @returns {{ok: true, value: {ts: number[], values: number[]}} | {ok: false, reason: string}}
 */
export function parseHistory(payload) {
  const p = parseJsonObject(payload);
  if (!p.ok) return p;
  const o = p.value;
  if (o[FIELDS.units] !== UNITS.intensity) return fail("history: units is not g/kWh");
  const rawTs = o[FIELDS.ts];
  const rawValues = o[FIELDS.values];
  if (!Array.isArray(rawTs) || !Array.isArray(rawValues)) return fail("history: ts or values is not an array");
  if (rawTs.length !== rawValues.length) return fail("history: ts and values differ in length");
  if (rawTs.length > MAX_HISTORY_POINTS) return fail("history: too many points");
  const ts = new Array(rawTs.length);
  const values = new Array(rawTs.length);
  for (let i = 0; i < rawTs.length; i++) {
    const t = parseTimestamp(rawTs[i]);
    if (t === null) return fail(`history: bad ts at index ${i}`);
    if (i > 0 && t <= ts[i - 1]) return fail(`history: ts not increasing at index ${i}`);
    const v = rawValues[i];
    if (!isNum(v) || v < 0) return fail(`history: bad value at index ${i}`);
    ts[i] = t;
    values[i] = v;
  }
  return { ok: true, value: { ts, values } };
}

/**
 * `{root}/status/fuel-mix/updated`.
 * @param {Uint8Array|string} payload
 * @returns {{ok: true, value: {ts: number}} | {ok: false, reason: string}}
 */
export function parseCursor(payload) {
  const p = parseJsonObject(payload);
  if (!p.ok) return p;
  const ts = tsField(p.value);
  if (ts === null) return fail("cursor: bad or missing ts");
  return { ok: true, value: { ts } };
}
