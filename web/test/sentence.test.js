import { test } from "node:test";
import assert from "node:assert/strict";
import { adviceOf, chargeSentence, MAX_SENTENCE_AGE_MS } from "../src/sentence.js";

const H = 3_600_000;
// 2025-02-01T18:15:00Z = 1:15 PM EST (issue 12's example reading).
const issued = Date.parse("2025-02-01T18:15:00Z");
const win = (hours, startMs, cleanerPct, advice) => ({
  hours,
  start: startMs,
  end: startMs + hours * H,
  mean: 200,
  nowMean: 250,
  cleanerPct,
  advice,
});
const payload = (windows, historyHours = 300) => ({ issued, windows, historyHours, marginPct: 2 });
const at = (iso) => Date.parse(iso);

test("issue 12's example: New York time, 12-hour clock, the day, ready by", () => {
  // 2025-02-02T06:00Z = 1:00 AM EST on 2 February: tomorrow, seen from 1:15 PM on the 1st.
  const p = payload([win(4, at("2025-02-02T06:00:00Z"), 23.2, "later")]);
  assert.equal(chargeSentence(p, { nowMs: issued }), "Plug in at 1:00 AM tomorrow for 4 h — ready by 5:00 AM, 23 % cleaner than now");
  // The same later today; and a window that ends after midnight names the end's day.
  const today = payload([win(4, at("2025-02-01T22:00:00Z"), 12.5, "later")]);
  assert.equal(chargeSentence(today, { nowMs: issued }), "Plug in at 5:00 PM today for 4 h — ready by 9:00 PM, 13 % cleaner than now");
  const late = payload([win(4, at("2025-02-02T03:00:00Z"), 8, "later")]);
  assert.equal(chargeSentence(late, { nowMs: issued }), "Plug in at 10:00 PM today for 4 h — ready by 2:00 AM tomorrow, 8 % cleaner than now");
});

test("the day is New York's even where UTC has moved on (no viewer zone enters)", () => {
  // Issued 2025-02-02T02:00Z = 9:00 PM EST on 1 February; start 2025-02-02T04:00Z = 11:00 PM
  // the same New York day, though UTC already says 2 February.
  const iss = at("2025-02-02T02:00:00Z");
  const p = { issued: iss, historyHours: 100, windows: [win(1, at("2025-02-02T04:00:00Z"), 10, "later")] };
  assert.equal(chargeSentence(p, { nowMs: iss, hours: 1 }), "Plug in at 11:00 PM today for 1 h — ready by 12:00 AM tomorrow, 10 % cleaner than now");
  // Summer time: 2025-07-01T04:00Z is midnight EDT.
  const sIss = at("2025-06-30T20:00:00Z");
  const s = { issued: sIss, historyHours: 100, windows: [win(4, at("2025-07-01T04:00:00Z"), 9, "later")] };
  assert.equal(chargeSentence(s, { nowMs: sIss }), "Plug in at 12:00 AM tomorrow for 4 h — ready by 4:00 AM, 9 % cleaner than now");
});

test("now, not worth it and learning", () => {
  const now = payload([win(4, issued, 0, "now")]);
  assert.equal(chargeSentence(now, { nowMs: issued }), "Plug in now for 4 h — ready by 5:15 PM, no cleaner time in the next 24 h");
  const meh = payload([win(4, issued + 5 * H, 3.1, "not_worth_it")]);
  assert.equal(chargeSentence(meh, { nowMs: issued }), "No meaningfully cleaner time in the next 24 h — charge when it suits you");
  const young = payload([win(4, issued + 5 * H, 30, "learning")], 6);
  assert.equal(
    chargeSentence(young, { nowMs: issued }),
    "Still learning the grid's daily pattern (6 h of history, advice from 24 h) — no charging advice yet",
  );
  const noCount = { issued, windows: [win(4, issued, 0, "learning")] };
  assert.equal(chargeSentence(noCount, { nowMs: issued }), "Still learning the grid's daily pattern — no charging advice yet");
});

test("payloads from before `advice`: now when it starts now or rounds below 1 %, else later", () => {
  const cw = { issued };
  assert.equal(adviceOf(cw, win(4, issued, 5, null)), "now");
  assert.equal(adviceOf(cw, win(4, issued + H, 0.49, null)), "now");
  assert.equal(adviceOf(cw, win(4, issued + H, 0.5, null)), "later");
  assert.equal(adviceOf(cw, win(4, issued + H, 0.5, "bogus")), "later");
  assert.equal(adviceOf(cw, win(4, issued + H, 0.5, "learning")), "learning");
});

test("the chosen length picks its window; the default is 4 h", () => {
  const p = payload([
    win(1, issued + 2 * H, 30.4, "later"),
    win(2, issued + 3 * H, 12.5, "later"),
    win(4, issued + 5 * H, 8.49, "later"),
    win(8, issued + 6 * H, 1, "not_worth_it"),
  ]);
  assert.equal(chargeSentence(p, { nowMs: issued }), "Plug in at 6:15 PM today for 4 h — ready by 10:15 PM, 8 % cleaner than now");
  assert.equal(chargeSentence(p, { nowMs: issued, hours: 1 }), "Plug in at 3:15 PM today for 1 h — ready by 4:15 PM, 30 % cleaner than now");
  assert.equal(chargeSentence(p, { nowMs: issued, hours: 2 }), "Plug in at 4:15 PM today for 2 h — ready by 6:15 PM, 13 % cleaner than now");
  assert.match(chargeSentence(p, { nowMs: issued, hours: 8 }), /^No meaningfully cleaner time/);
  assert.equal(chargeSentence(p, { nowMs: issued, hours: 3 }), null);
});

test("nothing without a payload, when it was issued more than 2 h ago, or once a later start has passed", () => {
  const p = payload([win(4, issued + 3 * H, 20, "later")]);
  assert.equal(chargeSentence(null, { nowMs: issued }), null);
  assert.equal(chargeSentence(payload([]), { nowMs: issued }), null);
  assert.notEqual(chargeSentence(p, { nowMs: issued + MAX_SENTENCE_AGE_MS }), null);
  assert.equal(chargeSentence(p, { nowMs: issued + MAX_SENTENCE_AGE_MS + 1 }), null);
  assert.equal(chargeSentence(p, { nowMs: NaN }), null);
  const soon = payload([win(4, issued + H, 20, "later")]);
  assert.notEqual(chargeSentence(soon, { nowMs: issued + H - 1 }), null);
  assert.equal(chargeSentence(soon, { nowMs: issued + H }), null);
});

test("the ready-by line: the payload's window for the chosen time and length", async () => {
  const { readyBySentence, clock12 } = await import("../src/sentence.js");
  assert.equal(clock12("07:00"), "7:00 AM");
  assert.equal(clock12("00:15"), "12:15 AM");
  assert.equal(clock12("12:00"), "12:00 PM");
  assert.equal(clock12("13:30"), "1:30 PM");
  const p = {
    ...payload([win(4, at("2025-02-02T06:00:00Z"), 23.2, "later")]),
    readyBy: [
      { time: "06:00", windows: [win(4, issued, 0, "now")] },
      { time: "07:00", windows: [win(4, at("2025-02-02T03:00:00Z"), 12.4, "later"), win(8, issued + H, 2, "not_worth_it")] },
    ],
  };
  assert.equal(readyBySentence(p, { nowMs: issued, readyBy: "07:00" }), "Ready by 7:00 AM: plug in at 10:00 PM today for 4 h — 12 % cleaner than now");
  assert.equal(
    readyBySentence(p, { nowMs: issued, readyBy: "07:00", hours: 8 }),
    "Ready by 7:00 AM: no meaningfully cleaner time before then — charge when it suits you",
  );
  assert.equal(readyBySentence(p, { nowMs: issued, readyBy: "06:00" }), "Ready by 6:00 AM: plug in now for 4 h — no cleaner time before then");
  assert.equal(readyBySentence(p, { nowMs: issued, readyBy: "05:00" }), null);
  assert.equal(readyBySentence(p, { nowMs: issued + MAX_SENTENCE_AGE_MS + 1, readyBy: "07:00" }), null);
  assert.equal(readyBySentence({ ...p, readyBy: null }, { nowMs: issued, readyBy: "07:00" }), null);
  const young = { ...p, readyBy: [{ time: "07:00", windows: [win(4, issued + H, 30, "learning")] }] };
  assert.equal(readyBySentence(young, { nowMs: issued, readyBy: "07:00" }), null);
});
