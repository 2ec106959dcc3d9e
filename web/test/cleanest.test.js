import { test } from "node:test";
import assert from "node:assert/strict";
import { cleanestHour } from "../src/cleanest.js";

const T0 = Date.parse("2025-02-01T05:00:00Z");
const MIN = 60_000;
const grid = (n, stepMin = 5) => Array.from({ length: n }, (_, i) => T0 + i * stepMin * MIN);

test("finds the lowest 60-minute window on a 5-minute grid", () => {
  const ts = grid(48); // 4 hours
  const values = ts.map((_, i) => (i >= 20 && i < 32 ? 100 : 300)); // 12 readings = 1 h of 100
  const best = cleanestHour(ts, values);
  assert.equal(best.start, ts[20]);
  assert.equal(best.end, ts[20] + 60 * MIN);
  assert.equal(best.mean, 100);
  assert.equal(best.count, 12);
});

test("ties go to the earliest window", () => {
  const ts = grid(36);
  const values = ts.map(() => 250);
  assert.equal(cleanestHour(ts, values).start, ts[0]);
});

test("a window must be covered by the history", () => {
  const ts = grid(24); // 00:00 .. 01:55
  const values = ts.map((_, i) => 300 - i); // falling: the latest is the cleanest
  const best = cleanestHour(ts, values);
  // Last allowed start: newest reading - 55 min = index 24 - 1 - 11 = 12.
  assert.equal(best.start, ts[12]);
  assert.equal(best.count, 12);
});

test("a gap cannot make a short 'hour'", () => {
  // Readings every 5 min, then a 2 h gap, then two low readings and one more 1 h later.
  const ts = [...grid(13), T0 + 3 * 60 * MIN, T0 + 3 * 60 * MIN + 5 * MIN, T0 + 4 * 60 * MIN];
  const values = [...Array(13).fill(300), 10, 10, 300];
  const best = cleanestHour(ts, values);
  assert.equal(best.start, ts[0]);
  assert.equal(best.mean, 300);
});

test("off-grid readings count at their true instants", () => {
  const ts = [...grid(12), T0 + 60 * MIN + 23 * 1000, ...grid(12).map((t) => t + 65 * MIN)];
  const values = ts.map(() => 200);
  values[12] = 0; // the off-grid snapshot at 01:00:23
  const best = cleanestHour(ts, values);
  assert.ok(best.start <= ts[12] && ts[12] < best.end);
  assert.ok(best.mean < 200);
});

test("not enough history", () => {
  assert.equal(cleanestHour([], []), null);
  assert.equal(cleanestHour(grid(5), [1, 2, 3, 4, 5]), null);
  assert.equal(cleanestHour(grid(3), [1, 2]), null);
});

test("the real 2025-02-01 day (direct intensities)", async () => {
  const { FEB1, intensity } = await import("../e2e/fixtures.mjs");
  const ts = FEB1.map((r) => r.ts);
  const values = FEB1.map((r) => intensity(r.fuels, "direct"));
  const best = cleanestHour(ts, values);
  // Brute force over the same rule as an independent check.
  let want = null;
  for (let i = 0; i < ts.length; i++) {
    if (ts[i] + 55 * MIN > ts.at(-1)) break;
    const w = values.filter((_, j) => ts[j] >= ts[i] && ts[j] < ts[i] + 60 * MIN);
    const mean = w.reduce((a, b) => a + b, 0) / w.length;
    if (w.length >= 6 && (want === null || mean < want.mean)) want = { start: ts[i], mean };
  }
  assert.equal(best.start, want.start);
  assert.ok(Math.abs(best.mean - want.mean) < 1e-9);
});
