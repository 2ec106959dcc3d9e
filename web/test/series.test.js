import { test } from "node:test";
import assert from "node:assert/strict";
import { chartSeries, forecastSteps, mergeSeries } from "../src/series.js";

const t0 = Date.parse("2025-02-01T05:05:00Z");
const s0 = t0 / 1000;
const H = 3_600_000;

test("history: true instants, a gap over 20 min breaks the line", () => {
  const ts = [t0, t0 + 5 * 60_000, t0 + 40 * 60_000];
  assert.deepEqual(chartSeries(ts, [1, 2, 3]), [
    [s0, s0 + 300, s0 + 1350, s0 + 2400],
    [1, 2, null, 3],
  ]);
});

test("forecast steps: each slot drawn a full hour, the last one closed", () => {
  assert.deepEqual(forecastSteps([t0, t0 + H, t0 + 2 * H], [10, 20, 30]), [
    [s0, s0 + 3600, s0 + 7200, s0 + 10800],
    [10, 20, 30, 30],
  ]);
  assert.deepEqual(forecastSteps([], []), [[], []]);
});

test("forecast steps: a missing slot is a gap, not a long step", () => {
  assert.deepEqual(forecastSteps([t0, t0 + 3 * H], [10, 40]), [
    [s0, s0 + 3600, s0 + 7200, s0 + 10800, s0 + 14400],
    [10, 10, null, 40, 40],
  ]);
});

test("merge: union of x, shared x carries both, missing points are undefined (not gaps)", () => {
  const hist = [[1, 2, 3], [5, null, 7]];
  const fc = [[3, 4, 6], [8, 9, 9]];
  assert.deepEqual(mergeSeries(hist, fc), [
    [1, 2, 3, 4, 6],
    [5, null, 7, undefined, undefined],
    [undefined, undefined, 8, 9, 9],
  ]);
  // An old forecast interleaved with the history.
  assert.deepEqual(mergeSeries([[1, 3], [1, 3]], [[2, 4], [2, 4]]), [
    [1, 2, 3, 4],
    [1, undefined, 3, undefined],
    [undefined, 2, undefined, 4],
  ]);
  assert.deepEqual(mergeSeries([[], []], [[], []]), [[], [], []]);
});
