// Payload validation for the messages of DESIGN.md §5. Pure functions: each takes the
// raw MQTT payload (bytes or string) and returns either
//   { ok: true, value }   with plain, checked data, or
//   { ok: false, reason } with a short reason for the rejected-message counter.
//
// Rules: required fields must be present with the right type; numbers must be finite
// (JSON cannot carry NaN, but strings like "NaN" and nulls are rejected); timestamps
// must be RFC 3339 UTC ("Z"); units and factor names must match the topic. Extra
// top-level fields are tolerated (additive schema changes), unknown fuel slugs are not.

import { ADVICE, BANDS, FIELDS, FUELS, INDEX_LEVELS, UNITS } from "./contract.js";

const RFC3339_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z$/;

/** Largest history we accept (a day of 1-minute readings is 1440; NYISO gives ~288). */
export const MAX_HISTORY_POINTS = 5000;

/** Largest forecast we accept (docs/forecast.md publishes 24 hourly slots). */
export const MAX_FORECAST_SLOTS = 240;

/** Most charge lengths we accept in one charge-window message (docs/forecast.md: 1, 2, 4, 8 h). */
export const MAX_WINDOWS = 48;

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

/**
 * `{root}/computed/co2/forecast`: `issued`, parallel `ts`/`values` (hourly slots, strictly
 * increasing instants, finite non-negative intensities), `units` g/kWh.
 * @param {Uint8Array|string} payload
 * @returns {{ok: true, value: {issued: number, ts: number[], values: number[]}} | {ok: false, reason: string}}
 */
export function parseForecast(payload) {
  const p = parseJsonObject(payload);
  if (!p.ok) return p;
  const o = p.value;
  const issued = parseTimestamp(o[FIELDS.issued]);
  if (issued === null) return fail("forecast: bad or missing issued");
  if (o[FIELDS.units] !== UNITS.intensity) return fail("forecast: units is not g/kWh");
  const rawTs = o[FIELDS.ts];
  const rawValues = o[FIELDS.values];
  if (!Array.isArray(rawTs) || !Array.isArray(rawValues)) return fail("forecast: ts or values is not an array");
  if (rawTs.length !== rawValues.length) return fail("forecast: ts and values differ in length");
  if (rawTs.length > MAX_FORECAST_SLOTS) return fail("forecast: too many slots");
  const ts = new Array(rawTs.length);
  const values = new Array(rawTs.length);
  for (let i = 0; i < rawTs.length; i++) {
    const t = parseTimestamp(rawTs[i]);
    if (t === null) return fail(`forecast: bad ts at index ${i}`);
    if (i > 0 && t <= ts[i - 1]) return fail(`forecast: ts not increasing at index ${i}`);
    const v = rawValues[i];
    if (!isNum(v) || v < 0) return fail(`forecast: bad value at index ${i}`);
    ts[i] = t;
    values[i] = v;
  }
  return { ok: true, value: { issued, ts, values } };
}

/**
 * `{root}/computed/charge-window`: `issued`, `units` g/kWh and `windows`, one per charge
 * length (a positive whole number of hours, each length once), each with `start` < `end`,
 * finite non-negative `mean` and `now_mean`, a finite `cleaner_than_now_pct` and, when given,
 * an `advice` of ADVICE; `history_hours` and `margin_pct`, when given, non-negative numbers.
 * (`start_ny`/`end_ny` are Home Assistant's labels: the page formats the instants itself.)
 * @param {Uint8Array|string} payload
 * @returns {{ok: true, value: {issued: number, windows: {hours: number, start: number, end: number,
 *   mean: number, nowMean: number, cleanerPct: number}[]}} | {ok: false, reason: string}}
 */
export function parseChargeWindow(payload) {
  const p = parseJsonObject(payload);
  if (!p.ok) return p;
  const o = p.value;
  const issued = parseTimestamp(o[FIELDS.issued]);
  if (issued === null) return fail("charge-window: bad or missing issued");
  if (o[FIELDS.units] !== UNITS.intensity) return fail("charge-window: units is not g/kWh");
  const ws = parseWindows(o[FIELDS.windows], "charge-window: ");
  if (!ws.ok) return ws;
  const windows = ws.value;
  const historyHours = o[FIELDS.historyHours];
  if (historyHours !== undefined && !(Number.isInteger(historyHours) && historyHours >= 0)) {
    return fail("charge-window: history_hours is not a whole number >= 0");
  }
  const marginPct = o[FIELDS.marginPct];
  if (marginPct !== undefined && !(isNum(marginPct) && marginPct >= 0)) return fail("charge-window: margin_pct is not a number >= 0");
  let readyBy = null;
  const rb = o[FIELDS.readyBy];
  if (rb !== undefined) {
    if (!Array.isArray(rb) || rb.length > MAX_WINDOWS) return fail("charge-window: ready_by is not an array of at most 48 times");
    readyBy = [];
    const times = new Set();
    for (let i = 0; i < rb.length; i++) {
      const e = rb[i];
      const where = `charge-window: ready_by ${i}: `;
      if (e === null || typeof e !== "object" || Array.isArray(e)) return fail(`${where}not an object`);
      const time = e[FIELDS.time];
      if (typeof time !== "string" || !READY_BY_TIME.test(time)) return fail(`${where}time is not HH:MM`);
      if (times.has(time)) return fail(`${where}time ${time} given twice`);
      times.add(time);
      const w = parseWindows(e[FIELDS.windows], where);
      if (!w.ok) return w;
      readyBy.push({ time, windows: w.value });
    }
  }
  const readyByDefault = o[FIELDS.readyByDefault];
  if (readyByDefault !== undefined && !(readyBy && readyBy.some((r) => r.time === readyByDefault))) {
    return fail("charge-window: ready_by_default is not one of ready_by");
  }
  return {
    ok: true,
    value: { issued, windows, historyHours: historyHours ?? null, marginPct: marginPct ?? null, readyBy, readyByDefault: readyByDefault ?? null },
  };
}

/** `HH:MM`, 00:00 to 23:59. */
const READY_BY_TIME = /^([01]\d|2[0-3]):[0-5]\d$/;

/** The `windows` array of a charge-window payload (or of one of its ready-by times). */
function parseWindows(raw, prefix) {
  if (!Array.isArray(raw)) return fail(`${prefix}windows is not an array`);
  if (raw.length > MAX_WINDOWS) return fail(`${prefix}too many windows`);
  const windows = [];
  const seen = new Set();
  for (let i = 0; i < raw.length; i++) {
    const w = raw[i];
    const bad = (what) => fail(`${prefix}window ${i}: ${what}`);
    if (w === null || typeof w !== "object" || Array.isArray(w)) return bad("not an object");
    const hours = w[FIELDS.hours];
    if (!Number.isInteger(hours) || hours < 1 || hours > 24 * 10) return bad("hours is not a positive whole number");
    if (seen.has(hours)) return bad(`hours ${hours} given twice`);
    seen.add(hours);
    const start = parseTimestamp(w[FIELDS.start]);
    const end = parseTimestamp(w[FIELDS.end]);
    if (start === null) return bad("bad or missing start");
    if (end === null || end <= start) return bad("bad end");
    const mean = w[FIELDS.mean];
    const nowMean = w[FIELDS.nowMean];
    const cleanerPct = w[FIELDS.cleanerPct];
    if (!isNum(mean) || mean < 0) return bad("mean is not a non-negative number");
    if (!isNum(nowMean) || nowMean < 0) return bad("now_mean is not a non-negative number");
    if (!isNum(cleanerPct)) return bad("cleaner_than_now_pct is not a finite number");
    const advice = w[FIELDS.advice];
    if (advice !== undefined && !ADVICE.includes(advice)) return bad("advice is not later, now, not_worth_it or learning");
    windows.push({ hours, start, end, mean, nowMean, cleanerPct, advice: advice ?? null });
  }
  return { ok: true, value: windows };
}

/**
 * `{root}/computed/co2/band`: the newest intensity against the last 30 days' hourly means;
 * when given, `hours` and `learning` (fewer than a week of them), and the fixed `index` with
 * its four increasing `index_boundaries`.
 * @param {Uint8Array|string} payload
 * @returns {{ok: true, value: {ts: number, value: number, band: "low"|"moderate"|"high",
 *   lowBelow: number, highAbove: number, windowDays: number}} | {ok: false, reason: string}}
 */
export function parseBand(payload) {
  const p = parseJsonObject(payload);
  if (!p.ok) return p;
  const o = p.value;
  const ts = tsField(o);
  if (ts === null) return fail("band: bad or missing ts");
  const v = o[FIELDS.value];
  if (!isNum(v) || v < 0) return fail("band: value is not a non-negative number");
  const band = o[FIELDS.band];
  if (!BANDS.includes(band)) return fail("band: band is not low, moderate or high");
  const lowBelow = o[FIELDS.lowBelow];
  const highAbove = o[FIELDS.highAbove];
  if (!isNum(lowBelow) || !isNum(highAbove)) return fail("band: low_below or high_above is not a finite number");
  if (lowBelow > highAbove) return fail("band: low_below is above high_above");
  const windowDays = o[FIELDS.windowDays];
  if (!Number.isInteger(windowDays) || windowDays < 1) return fail("band: window_days is not a positive whole number");
  if (o[FIELDS.units] !== UNITS.intensity) return fail("band: units is not g/kWh");
  const hours = o[FIELDS.hours];
  if (hours !== undefined && !(Number.isInteger(hours) && hours >= 0)) return fail("band: hours is not a whole number >= 0");
  const learning = o[FIELDS.learning];
  if (learning !== undefined && typeof learning !== "boolean") return fail("band: learning is not true or false");
  const index = o[FIELDS.index];
  if (index !== undefined && !INDEX_LEVELS.includes(index)) return fail("band: index is not very_low, low, moderate, high or very_high");
  const ib = o[FIELDS.indexBoundaries];
  if (ib !== undefined) {
    const ok = Array.isArray(ib) && ib.length === INDEX_LEVELS.length - 1 && ib.every(isNum) && ib.every((b, i) => i === 0 || ib[i - 1] < b);
    if (!ok) return fail("band: index_boundaries is not four increasing numbers");
  }
  return {
    ok: true,
    value: {
      ts,
      value: v,
      band,
      lowBelow,
      highAbove,
      windowDays,
      hours: hours ?? null,
      learning: learning ?? null,
      index: index ?? null,
      indexBoundaries: ib ?? null,
    },
  };
}
