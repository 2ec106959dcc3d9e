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

test("referenceNow: the wall clock live, the newest reading in a replay", async () => {
  const { referenceNow } = await import("../src/stale.js");
  const wall = Date.parse("2026-11-24T22:00:00Z");
  const state = {
    co2: { ts: t },
    co2Lifecycle: { ts: t - 5 * min },
    fuelMix: { ts: t + 5 * min },
    history: { ts: [t - 10 * min, t] },
  };
  assert.equal(referenceNow("live", wall, state), wall);
  assert.equal(referenceNow("anything", wall, state), wall);
  assert.equal(referenceNow("replay", wall, state), t + 5 * min);
  // A replayed reading from 2025 is not stale against the replay's own time…
  assert.equal(isStale(t, referenceNow("replay", wall, state), 15), false);
  // …but a topic lagging the replay by more than the limit still is.
  assert.equal(isStale(t - 20 * min, referenceNow("replay", wall, state), 15), true);
  assert.equal(referenceNow("replay", wall, { co2: null, history: { ts: [] } }), wall);
});
