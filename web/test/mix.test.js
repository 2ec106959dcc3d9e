import { test } from "node:test";
import assert from "node:assert/strict";
import { mixRows } from "../src/mix.js";
import { chartSeries } from "../src/series.js";

const FEB1 = { dual_fuel: 4613.0, natural_gas: 3487.0, nuclear: 3274.0, other_fossil_fuels: 1.0, other_renewables: 232.0, wind: 671.0, hydro: 1846.0 };

test("rows in DESIGN order with shares of the total", () => {
  const m = mixRows(FEB1);
  assert.deepEqual(m.rows.map((r) => r.slug), ["dual_fuel", "natural_gas", "nuclear", "other_fossil_fuels", "other_renewables", "wind", "hydro"]);
  assert.equal(m.totalMw, 14124);
  assert.ok(Math.abs(m.rows[0].share - 4613 / 14124) < 1e-12);
  assert.ok(Math.abs(m.rows.reduce((s, r) => s + r.share, 0) - 1) < 1e-12);
  // Zero-carbon = nuclear + wind + hydro = 5791 MW of 14124.
  assert.ok(Math.abs(m.zeroCarbonShare - 5791 / 14124) < 1e-12);
  assert.deepEqual(m.rows.filter((r) => r.zeroCarbon).map((r) => r.slug), ["nuclear", "wind", "hydro"]);
});

test("negative MW counts as zero share; an empty mix has zero shares", () => {
  const m = mixRows({ ...FEB1, other_fossil_fuels: -5 });
  assert.equal(m.rows[3].share, 0);
  assert.equal(m.rows[3].mw, -5);
  const z = mixRows({});
  assert.equal(z.totalMw, 0);
  assert.ok(z.rows.every((r) => r.share === 0));
});

test("chart series: epoch seconds at true instants, gaps break the line", () => {
  const t = Date.parse("2025-02-01T05:05:00Z");
  const [xs, ys] = chartSeries([t, t + 300_000, t + 323_000, t + 3_600_000], [1, 2, 3, 4]);
  assert.deepEqual(xs.slice(0, 3), [t / 1000, t / 1000 + 300, t / 1000 + 323]);
  assert.equal(xs.length, 5);
  assert.deepEqual(ys, [1, 2, 3, null, 4]);
  assert.equal(xs[4], t / 1000 + 3600);
  assert.deepEqual(chartSeries([], []), [[], []]);
});
