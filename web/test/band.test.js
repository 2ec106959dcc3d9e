import { test } from "node:test";
import assert from "node:assert/strict";
import { bandFor, quantile, tertiles } from "../src/band.js";

test("quantile interpolates linearly", () => {
  assert.equal(quantile([1, 2, 3, 4], 0), 1);
  assert.equal(quantile([1, 2, 3, 4], 1), 4);
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(quantile([10], 0.3), 10);
  assert.ok(Number.isNaN(quantile([], 0.5)));
});

test("tertiles of 1..7 and unsorted input", () => {
  assert.deepEqual(tertiles([1, 2, 3, 4, 5, 6, 7]), { low: 3, high: 5 });
  assert.deepEqual(tertiles([7, 1, 6, 2, 5, 3, 4]), { low: 3, high: 5 });
  assert.equal(tertiles([1, 2, 3, 4, 5]), null);
});

test("low, moderate, high around the tertiles", () => {
  const h = [100, 110, 120, 130, 140, 150, 160]; // tertiles 120 and 140
  assert.equal(bandFor(90, h), "low");
  assert.equal(bandFor(120, h), "low");
  assert.equal(bandFor(120.1, h), "moderate");
  assert.equal(bandFor(140, h), "moderate");
  assert.equal(bandFor(140.1, h), "high");
  assert.equal(bandFor(500, h), "high");
});

test("no band without enough history or with a bad value", () => {
  assert.equal(bandFor(100, []), null);
  assert.equal(bandFor(100, [1, 2, 3, 4, 5]), null);
  assert.equal(bandFor(NaN, [1, 2, 3, 4, 5, 6]), null);
});

test("a flat history is moderate", () => {
  assert.equal(bandFor(200, [200, 200, 200, 200, 200, 200]), "moderate");
  assert.equal(bandFor(100, [200, 200, 200, 200, 200, 200]), "moderate");
});

test("does not reorder the caller's array", () => {
  const h = [5, 1, 4, 2, 3, 6];
  bandFor(3, h);
  assert.deepEqual(h, [5, 1, 4, 2, 3, 6]);
});
