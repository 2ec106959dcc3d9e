import { test } from "node:test";
import assert from "node:assert/strict";
import { chargeSentence, formatClock24, MAX_SENTENCE_AGE_MS } from "../src/sentence.js";

const H = 3_600_000;
// 2025-02-01T05:05:00Z = 00:05 in New York (EST), 06:05 in Berlin (CET).
const issued = Date.parse("2025-02-01T05:05:00Z");
const win = (hours, startOffsetH, cleanerPct) => ({
  hours,
  start: issued + startOffsetH * H,
  end: issued + (startOffsetH + hours) * H,
  mean: 200,
  nowMean: 250,
  cleanerPct,
});
const payload = (windows) => ({ issued, windows });

test("docs/forecast.md example: a later window, rounded percentage, local 24 h clock", () => {
  // 2025-02-01T06:00:00Z is 01:00 in New York.
  const p = { issued, windows: [{ ...win(4, 0, 23.2), start: Date.parse("2025-02-01T06:00:00Z") }] };
  assert.equal(
    chargeSentence(p, { nowMs: issued, timeZone: "America/New_York" }),
    "Plug in at 01:00 for 4 h: 23 % cleaner than now",
  );
  // Same payload, viewer in Berlin: the viewer's clock, not New York's.
  assert.equal(chargeSentence(p, { nowMs: issued, timeZone: "Europe/Berlin" }), "Plug in at 07:00 for 4 h: 23 % cleaner than now");
  // And in Kolkata (half-hour offset).
  assert.equal(chargeSentence(p, { nowMs: issued, timeZone: "Asia/Kolkata" }), "Plug in at 11:30 for 4 h: 23 % cleaner than now");
});

test("the chosen length picks its window; the default is 4 h", () => {
  const p = payload([win(1, 2, 30.4), win(2, 3, 12.5), win(4, 5, 8.49), win(8, 6, 1)]);
  const tz = "UTC";
  assert.equal(chargeSentence(p, { nowMs: issued, timeZone: tz }), "Plug in at 10:05 for 4 h: 8 % cleaner than now");
  assert.equal(chargeSentence(p, { nowMs: issued, hours: 1, timeZone: tz }), "Plug in at 07:05 for 1 h: 30 % cleaner than now");
  // Math.round: 12.5 -> 13.
  assert.equal(chargeSentence(p, { nowMs: issued, hours: 2, timeZone: tz }), "Plug in at 08:05 for 2 h: 13 % cleaner than now");
  assert.equal(chargeSentence(p, { nowMs: issued, hours: 8, timeZone: tz }), "Plug in at 11:05 for 8 h: 1 % cleaner than now");
  assert.equal(chargeSentence(p, { nowMs: issued, hours: 3, timeZone: tz }), null);
});

test("'now' when the best start is now or less than 1 % better", () => {
  const tz = "UTC";
  const now = "Plug in now for 4 h: no cleaner time in the next 24 h";
  assert.equal(chargeSentence(payload([win(4, 0, 0)]), { nowMs: issued, timeZone: tz }), now);
  // Starts at issued even with a (inconsistent) percentage: still now.
  assert.equal(chargeSentence(payload([win(4, 0, 5)]), { nowMs: issued, timeZone: tz }), now);
  // Later but rounds below 1 %.
  assert.equal(chargeSentence(payload([win(4, 3, 0.49)]), { nowMs: issued, timeZone: tz }), now);
  assert.equal(chargeSentence(payload([win(4, 3, -2)]), { nowMs: issued, timeZone: tz }), now);
  // 0.5 rounds to 1: a later time.
  assert.equal(
    chargeSentence(payload([win(4, 3, 0.5)]), { nowMs: issued, timeZone: tz }),
    "Plug in at 08:05 for 4 h: 1 % cleaner than now",
  );
});

test("nothing without a payload or when it was issued more than 2 h ago", () => {
  const p = payload([win(4, 3, 20)]);
  assert.equal(chargeSentence(null, { nowMs: issued }), null);
  assert.equal(chargeSentence(payload([]), { nowMs: issued }), null);
  assert.notEqual(chargeSentence(p, { nowMs: issued + MAX_SENTENCE_AGE_MS, timeZone: "UTC" }), null);
  assert.equal(chargeSentence(p, { nowMs: issued + MAX_SENTENCE_AGE_MS + 1, timeZone: "UTC" }), null);
  assert.equal(chargeSentence(p, { nowMs: NaN, timeZone: "UTC" }), null);
});

test("24-hour clock, zero-padded, midnight is 00", () => {
  assert.equal(formatClock24(Date.parse("2025-02-01T05:00:00Z"), "America/New_York"), "00:00");
  assert.equal(formatClock24(Date.parse("2025-02-01T14:07:00Z"), "America/New_York"), "09:07");
  assert.equal(formatClock24(Date.parse("2025-02-01T23:59:00Z"), "UTC"), "23:59");
  // Summer time: 2025-07-01T04:00Z is 00:00 EDT.
  assert.equal(formatClock24(Date.parse("2025-07-01T04:00:00Z"), "America/New_York"), "00:00");
});
