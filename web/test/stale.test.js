import { test } from "node:test";
import assert from "node:assert/strict";
import { isStale } from "../src/stale.js";

const t = Date.parse("2025-02-01T05:05:00Z");
const min = 60_000;

test("fresh up to and including the limit, stale after", () => {
  assert.equal(isStale(t, t, 15), false);
  assert.equal(isStale(t, t + 3 * min, 15), false);
  assert.equal(isStale(t, t + 15 * min, 15), false);
  assert.equal(isStale(t, t + 15 * min + 1, 15), true);
  assert.equal(isStale(t, t + 24 * 60 * min, 15), true);
});

test("a reading from the future (clock skew) is not stale", () => {
  assert.equal(isStale(t, t - 5 * min, 15), false);
});

test("the limit is configurable", () => {
  assert.equal(isStale(t, t + 3 * min, 2), true);
  assert.equal(isStale(t, t + 3 * min, 0.5), true);
  assert.equal(isStale(t, t + 20 * min, 30), false);
});
