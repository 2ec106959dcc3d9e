import { test } from "node:test";
import assert from "node:assert/strict";
import {
  parseCursor,
  parseFuelMix,
  parseFuelValue,
  parseHistory,
  parseIntensity,
  parseJsonObject,
  parseTimestamp,
} from "../src/validate.js";

const TS = "2025-02-01T05:05:00Z";
const TS_MS = Date.UTC(2025, 1, 1, 5, 5, 0);
const FUELS = { dual_fuel: 4613.0, natural_gas: 3487.0, nuclear: 3274.0, other_fossil_fuels: 1.0, other_renewables: 232.0, wind: 671.0, hydro: 1846.0 };
const enc = (o) => new TextEncoder().encode(typeof o === "string" ? o : JSON.stringify(o));

test("timestamps: RFC 3339 UTC only", () => {
  assert.equal(parseTimestamp(TS), TS_MS);
  assert.equal(parseTimestamp("2025-02-01T05:05:00.250Z"), TS_MS + 250);
  for (const bad of [
    "2025-02-01T05:05:00",
    "2025-02-01T00:05:00-05:00",
    "2025-02-01 05:05:00Z",
    "2025-02-30T05:05:00Z",
    "2025-13-01T05:05:00Z",
    "2025-02-01T24:00:00Z",
    "02/01/2025 00:05:00",
    "",
    1738386300000,
    null,
    undefined,
  ]) {
    assert.equal(parseTimestamp(bad), null, String(bad));
  }
});

test("JSON object payloads", () => {
  assert.deepEqual(parseJsonObject(enc({ a: 1 })), { ok: true, value: { a: 1 } });
  assert.deepEqual(parseJsonObject('{"a":1}'), { ok: true, value: { a: 1 } });
  assert.equal(parseJsonObject(enc("{not json")).ok, false);
  assert.equal(parseJsonObject(enc("")).ok, false);
  assert.equal(parseJsonObject(enc("[1,2]")).ok, false);
  assert.equal(parseJsonObject(enc("null")).ok, false);
  assert.equal(parseJsonObject(enc("42")).ok, false);
  assert.equal(parseJsonObject(new Uint8Array([0x7b, 0xff, 0x7d])).ok, false, "invalid UTF-8");
  assert.equal(parseJsonObject(42).ok, false);
});

test("intensity: the valid §5 payloads", () => {
  assert.deepEqual(parseIntensity(enc({ ts: TS, value: 248.75, units: "g/kWh", factors: "direct" }), "direct"), {
    ok: true,
    value: { ts: TS_MS, value: 248.75, factors: "direct" },
  });
  const life = parseIntensity(enc({ ts: TS, value: 326.08, units: "g/kWh", factors: "lifecycle" }), "lifecycle");
  assert.equal(life.ok, true);
  assert.equal(life.value.value, 326.08);
  // Extra fields are tolerated, zero is a valid intensity.
  assert.equal(parseIntensity(enc({ ts: TS, value: 0, units: "g/kWh", factors: "direct", schema: 1 }), "direct").ok, true);
});

test("intensity: invalid payloads are rejected with a reason", () => {
  const good = { ts: TS, value: 248.75, units: "g/kWh", factors: "direct" };
  const cases = [
    ["value as string", { ...good, value: "248.75" }],
    ["value NaN as string", { ...good, value: "NaN" }],
    ["value null", { ...good, value: null }],
    ["value missing", { ts: TS, units: "g/kWh", factors: "direct" }],
    ["negative", { ...good, value: -1 }],
    ["wrong units", { ...good, units: "kg/MWh" }],
    ["no units", { ts: TS, value: 1, factors: "direct" }],
    ["wrong factors", { ...good, factors: "lifecycle" }],
    ["no ts", { value: 1, units: "g/kWh", factors: "direct" }],
    ["local ts", { ...good, ts: "2025-02-01T00:05:00" }],
    ["numeric ts", { ...good, ts: TS_MS }],
    ["array", [good]],
  ];
  for (const [name, payload] of cases) {
    const r = parseIntensity(enc(payload), "direct");
    assert.equal(r.ok, false, name);
    assert.equal(typeof r.reason, "string", name);
  }
  // JSON cannot carry NaN or Infinity: such text is not JSON.
  assert.equal(parseIntensity(enc(`{"ts":"${TS}","value":NaN,"units":"g/kWh","factors":"direct"}`), "direct").ok, false);
  assert.equal(parseIntensity(enc(`{"ts":"${TS}","value":1e999,"units":"g/kWh","factors":"direct"}`), "direct").ok, false);
});

test("fuel mix: the valid §5 payload", () => {
  const r = parseFuelMix(enc({ ts: TS, fuels: FUELS, total_mw: 14124.0 }));
  assert.equal(r.ok, true);
  assert.deepEqual(r.value, { ts: TS_MS, fuels: FUELS, totalMw: 14124 });
});

test("fuel mix: invalid payloads", () => {
  const good = { ts: TS, fuels: FUELS, total_mw: 14124.0 };
  const { hydro, ...six } = FUELS;
  const cases = [
    ["missing fuel", { ...good, fuels: six, total_mw: 14124 - hydro }],
    ["unknown fuel", { ...good, fuels: { ...FUELS, coal: 0 } }],
    ["fuel as string", { ...good, fuels: { ...FUELS, wind: "671" } }],
    ["fuel null", { ...good, fuels: { ...FUELS, wind: null } }],
    ["fuels array", { ...good, fuels: Object.values(FUELS) }],
    ["fuels missing", { ts: TS, total_mw: 14124 }],
    ["total missing", { ts: TS, fuels: FUELS }],
    ["total wrong", { ...good, total_mw: 15000 }],
    ["bad ts", { ...good, ts: "yesterday" }],
  ];
  for (const [name, payload] of cases) assert.equal(parseFuelMix(enc(payload)).ok, false, name);
  // Rounding noise in the total is fine.
  assert.equal(parseFuelMix(enc({ ...good, total_mw: 14124.4 })).ok, true);
});

test("per-fuel value", () => {
  assert.deepEqual(parseFuelValue(enc({ ts: TS, value: 4613.0, units: "MW" })), { ok: true, value: { ts: TS_MS, value: 4613 } });
  assert.equal(parseFuelValue(enc({ ts: TS, value: 4613.0, units: "GW" })).ok, false);
  assert.equal(parseFuelValue(enc({ ts: TS, value: "4613", units: "MW" })).ok, false);
  assert.equal(parseFuelValue(enc({ value: 4613, units: "MW" })).ok, false);
});

test("history: valid, including empty", () => {
  const r = parseHistory(enc({ units: "g/kWh", ts: [TS, "2025-02-01T05:10:00Z"], values: [248.75, 247.59] }));
  assert.deepEqual(r, { ok: true, value: { ts: [TS_MS, TS_MS + 300_000], values: [248.75, 247.59] } });
  assert.deepEqual(parseHistory(enc({ units: "g/kWh", ts: [], values: [] })), { ok: true, value: { ts: [], values: [] } });
});

test("history: invalid", () => {
  const t2 = "2025-02-01T05:10:00Z";
  const cases = [
    ["length mismatch", { units: "g/kWh", ts: [TS, t2], values: [1] }],
    ["not increasing", { units: "g/kWh", ts: [t2, TS], values: [1, 2] }],
    ["duplicate instant", { units: "g/kWh", ts: [TS, TS], values: [1, 2] }],
    ["bad ts", { units: "g/kWh", ts: [TS, "later"], values: [1, 2] }],
    ["string value", { units: "g/kWh", ts: [TS], values: ["1"] }],
    ["null value", { units: "g/kWh", ts: [TS], values: [null] }],
    ["negative value", { units: "g/kWh", ts: [TS], values: [-3] }],
    ["wrong units", { units: "MW", ts: [TS], values: [1] }],
    ["ts not array", { units: "g/kWh", ts: TS, values: [1] }],
    ["values missing", { units: "g/kWh", ts: [TS] }],
  ];
  for (const [name, payload] of cases) assert.equal(parseHistory(enc(payload)).ok, false, name);
  const huge = Array.from({ length: 5001 }, (_, i) => new Date(TS_MS + i * 60_000).toISOString());
  assert.equal(parseHistory(enc({ units: "g/kWh", ts: huge, values: huge.map(() => 1) })).ok, false, "too many points");
});

test("cursor", () => {
  assert.deepEqual(parseCursor(enc({ ts: TS })), { ok: true, value: { ts: TS_MS } });
  assert.equal(parseCursor(enc({})).ok, false);
  assert.equal(parseCursor(enc({ ts: "2025-02-01" })).ok, false);
});
