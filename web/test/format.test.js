import { test } from "node:test";
import assert from "node:assert/strict";
import {
  formatAge,
  formatIntensity,
  formatLocalDateTime,
  formatLocalRange,
  formatLocalTime,
  formatMw,
  formatShare,
  zoneAbbrev,
} from "../src/format.js";

test("intensity is a whole number of g/kWh", () => {
  assert.equal(formatIntensity(248.75), "249");
  assert.equal(formatIntensity(326.08), "326");
  assert.equal(formatIntensity(247.49), "247");
  assert.equal(formatIntensity(0), "0");
  assert.equal(formatIntensity(-0.2), "0");
  assert.equal(formatIntensity(1234.4), "1,234");
  assert.equal(formatIntensity(NaN), "—");
});

test("MW and shares", () => {
  assert.equal(formatMw(4613.0), "4,613");
  assert.equal(formatMw(14124), "14,124");
  assert.equal(formatMw(1.0), "1");
  assert.equal(formatMw(-0.3), "0");
  assert.equal(formatMw(Infinity), "—");
  assert.equal(formatShare(4613 / 14124), "32.7%");
  assert.equal(formatShare(0), "0.0%");
  assert.equal(formatShare(1), "100.0%");
});

test("New York local time, EST and EDT", () => {
  const feb1 = Date.parse("2025-02-01T05:05:00Z");
  assert.equal(formatLocalDateTime(feb1), "Sat, Feb 1, 12:05 AM EST");
  assert.equal(formatLocalTime(feb1), "12:05 AM");
  assert.equal(zoneAbbrev(feb1), "EST");
  const jul1 = Date.parse("2019-07-01T16:30:00Z");
  assert.equal(formatLocalDateTime(jul1), "Mon, Jul 1, 12:30 PM EDT");
  assert.equal(zoneAbbrev(jul1), "EDT");
  // The autumn change: 01:30 EDT and 01:30 EST are an hour apart and read differently.
  assert.equal(formatLocalDateTime(Date.parse("2024-11-03T05:30:00Z")), "Sun, Nov 3, 1:30 AM EDT");
  assert.equal(formatLocalDateTime(Date.parse("2024-11-03T06:30:00Z")), "Sun, Nov 3, 1:30 AM EST");
});

test("time ranges", () => {
  const a = Date.parse("2025-02-01T07:10:00Z");
  assert.equal(formatLocalRange(a, a + 3600_000), "2:10 AM – 3:10 AM EST");
});

test("relative age", () => {
  assert.equal(formatAge(-30_000), "just now");
  assert.equal(formatAge(0), "just now");
  assert.equal(formatAge(59_999), "just now");
  assert.equal(formatAge(60_000), "1 min ago");
  assert.equal(formatAge(3 * 60_000 + 10_000), "3 min ago");
  assert.equal(formatAge(59 * 60_000), "59 min ago");
  assert.equal(formatAge(60 * 60_000), "1 h ago");
  assert.equal(formatAge(125 * 60_000), "2 h 5 min ago");
  assert.equal(formatAge(3 * 24 * 3600_000), "3 days ago");
  assert.equal(formatAge(NaN), "");
});

test("New York day words and the zone note", async () => {
  const { nyDayNumber, nyDayWord, utcOffsetMinutes, zoneNote } = await import("../src/format.js");
  const now = Date.parse("2025-02-01T18:15:00Z"); // 1:15 PM EST
  assert.equal(nyDayWord(Date.parse("2025-02-02T04:59:00Z"), now), "today"); // 11:59 PM
  assert.equal(nyDayWord(Date.parse("2025-02-02T05:00:00Z"), now), "tomorrow"); // midnight
  assert.equal(nyDayWord(Date.parse("2025-02-03T15:00:00Z"), now), "Mon, Feb 3");
  assert.equal(nyDayNumber(Date.parse("2025-02-02T05:00:00Z")) - nyDayNumber(now), 1);
  assert.equal(utcOffsetMinutes(now, "America/New_York"), -300);
  assert.equal(utcOffsetMinutes(Date.parse("2025-07-01T12:00:00Z"), "America/New_York"), -240);
  assert.equal(utcOffsetMinutes(now, "Asia/Kolkata"), 330);
  assert.equal(utcOffsetMinutes(now, "UTC"), 0);
  assert.equal(zoneNote(now, "America/New_York"), null);
  // Same wall clock as New York in winter: no note.
  assert.equal(zoneNote(now, "America/Toronto"), null);
  assert.equal(zoneNote(now, "UTC"), "Times are New York time (EST).");
  assert.equal(zoneNote(now, "America/Los_Angeles"), "Times are New York time (EST).");
  assert.equal(zoneNote(Date.parse("2025-07-01T12:00:00Z"), "Europe/Berlin"), "Times are New York time (EDT).");
  assert.equal(zoneNote(NaN, "UTC"), null);
});
