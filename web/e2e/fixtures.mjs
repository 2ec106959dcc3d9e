// Real NYISO readings and the §5 payloads built from them, for the browser tests.
// Intensities are computed here with the §4 factor tables (the dashboard itself never
// computes them); the check values of DESIGN.md §4 are asserted by the unit tests.

import { readFileSync } from "node:fs";
import { FUELS } from "../src/contract.js";

const SLUG = {
  "Dual Fuel": "dual_fuel",
  "Natural Gas": "natural_gas",
  Nuclear: "nuclear",
  "Other Fossil Fuels": "other_fossil_fuels",
  "Other Renewables": "other_renewables",
  Wind: "wind",
  Hydro: "hydro",
};

/** DESIGN.md §4 factor tables, g/kWh. */
export const FACTOR_TABLES = {
  direct: { natural_gas: 417.21, dual_fuel: 417.21, other_fossil_fuels: 503.38, other_renewables: 575, nuclear: 0, wind: 0, hydro: 0 },
  lifecycle: { natural_gas: 537.21, dual_fuel: 537.21, other_fossil_fuels: 747.38, other_renewables: 700, nuclear: 12, wind: 11, hydro: 24 },
};

/**
 * Readings of a current-format rtfuelmix CSV (enough for this fixture: no quotes, no BOM).
 * @returns {{ts: number, fuels: Record<string, number>}[]} complete readings, by instant
 */
export function readFuelMixCsv(path) {
  const lines = readFileSync(path, "utf8").split(/\r?\n/).slice(1).filter(Boolean);
  const byKey = new Map();
  for (const line of lines) {
    const [stamp, zone, fuel, mw] = line.split(",");
    const m = /^(\d\d)\/(\d\d)\/(\d{4}) (\d\d):(\d\d):(\d\d)$/.exec(stamp);
    const offsetH = { EST: 5, EDT: 4 }[zone];
    const ts = Date.UTC(+m[3], +m[1] - 1, +m[2], +m[4] + offsetH, +m[5], +m[6]);
    if (!byKey.has(ts)) byKey.set(ts, { ts, fuels: {} });
    byKey.get(ts).fuels[SLUG[fuel]] = Number(mw);
  }
  return [...byKey.values()].filter((r) => FUELS.every((f) => f in r.fuels)).sort((a, b) => a.ts - b.ts);
}

export const FEB1 = readFuelMixCsv(new URL("./fixtures/20250201rtfuelmix.csv", import.meta.url));

const round2 = (v) => Math.round(v * 100) / 100;

/** Intensity of one reading, g/kWh, rounded to 2 decimals. */
export function intensity(fuels, table) {
  let num = 0;
  let den = 0;
  for (const f of FUELS) {
    num += fuels[f] * FACTOR_TABLES[table][f];
    den += fuels[f];
  }
  return round2(num / den);
}

export const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

export function fuelMixPayload(fuels, ts) {
  const total = FUELS.reduce((s, f) => s + fuels[f], 0);
  return JSON.stringify({ ts: iso(ts), fuels, total_mw: total });
}

export function fuelPayload(value, ts) {
  return JSON.stringify({ ts: iso(ts), value, units: "MW" });
}

export function co2Payload(value, ts, factors) {
  return JSON.stringify({ ts: iso(ts), value, units: "g/kWh", factors });
}

export function historyPayload(ts, values) {
  return JSON.stringify({ units: "g/kWh", ts: ts.map(iso), values });
}

export function cursorPayload(ts) {
  return JSON.stringify({ ts: iso(ts) });
}

const HOUR = 3_600_000;
const round1 = (v) => Math.round(v * 10) / 10;

/** `computed/co2/forecast` (docs/forecast.md): slot k starts at issued + k h. */
export function forecastPayload(issuedMs, values) {
  return JSON.stringify({
    issued: iso(issuedMs),
    ts: values.map((_, k) => iso(issuedMs + k * HOUR)),
    values: values.map(round1),
    units: "g/kWh",
  });
}

/**
 * The cleanest H-hour windows of a forecast, as docs/forecast.md defines them (lowest mean
 * of `values[j..j+H]`, the earliest on a tie; `now_mean` = the window at j = 0).
 */
export function chargeWindows(issuedMs, values, lengths = [1, 2, 4, 8]) {
  return lengths.map((hours) => {
    const mean = (j) => values.slice(j, j + hours).reduce((a, b) => a + b, 0) / hours;
    let best = 0;
    for (let j = 1; j + hours <= values.length; j++) if (mean(j) < mean(best)) best = j;
    const nowMean = mean(0);
    const m = mean(best);
    return {
      hours,
      start: iso(issuedMs + best * HOUR),
      end: iso(issuedMs + (best + hours) * HOUR),
      mean: round1(m),
      now_mean: round1(nowMean),
      cleaner_than_now_pct: best === 0 ? 0 : round1(((nowMean - m) / nowMean) * 100),
    };
  });
}

/** `computed/charge-window`. */
export function chargeWindowPayload(issuedMs, values) {
  return JSON.stringify({ issued: iso(issuedMs), units: "g/kWh", windows: chargeWindows(issuedMs, values) });
}

/** `computed/co2/band`. */
export function bandPayload(ts, value, band, lowBelow = 230.5, highAbove = 262.4) {
  return JSON.stringify({
    ts: iso(ts),
    value: round1(value),
    band,
    low_below: lowBelow,
    high_above: highAbove,
    window_days: 30,
    units: "g/kWh",
  });
}
