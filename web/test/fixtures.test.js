import { test } from "node:test";
import assert from "node:assert/strict";
import { FEB1, intensity, iso } from "../e2e/fixtures.mjs";

test("the e2e fixture reproduces DESIGN §4's check values", () => {
  assert.equal(FEB1.length, 288);
  const r = FEB1[0];
  assert.equal(iso(r.ts), "2025-02-01T05:05:00Z");
  assert.equal(r.fuels.dual_fuel, 4613.0);
  assert.equal(intensity(r.fuels, "direct"), 248.75);
  assert.equal(intensity(r.fuels, "lifecycle"), 326.08);
});
