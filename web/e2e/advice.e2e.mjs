// Issue 12: the charge advice in browsers set to UTC, Los Angeles and New York time
// (Playwright's `timezoneId`), against a real Mosquitto. The page runs in replay mode, so its
// "now" is the newest reading's instant (a fixed 2025 time), never the wall clock, and every
// sentence below is written out literally: New York's 12-hour clock with today/tomorrow,
// whatever the browser's zone; the "learning" and "not worth it" sentences in their states;
// the one-time zone note only where the browser's clock differs from New York's; past and
// advised shading apart, each with its own legend entry.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DIST_DIR, dashboardConfig, launchChromium, publish, startMosquitto, startStaticServer, watchPage } from "./helpers.mjs";
import { FEB1, co2Payload, fuelMixPayload, historyPayload, intensity, iso } from "./fixtures.mjs";

const round1 = (v) => Math.round(v * 10) / 10;
import { TOPICS } from "../src/contract.js";

const ROOT = "advice-test/ny-power";
const topic = (suffix) => `${ROOT}/${suffix}`;
const H = 3_600_000;
const ZONES = ["UTC", "America/Los_Angeles", "America/New_York"];

/** 1:15 PM EST on Saturday 1 February 2025 (issue 12's reading). */
const T = Date.parse("2025-02-01T18:15:00Z");

/** A charge-window payload: `windows` as [hours, startMs, cleanerPct, advice]. */
function windowPayload(issued, windows, historyHours = 300) {
  return JSON.stringify({
    issued: iso(issued),
    units: "g/kWh",
    windows: windows.map(([hours, start, pct, advice]) => ({
      hours,
      start: iso(start),
      end: iso(start + hours * H),
      mean: 200,
      now_mean: 250,
      cleaner_than_now_pct: pct,
      advice,
    })),
    history_hours: historyHours,
    margin_pct: 2,
  });
}

/** Moves the replay's "now" to `ts` (the newest reading the page holds). */
async function readingAt(broker, ts) {
  const r = FEB1[0];
  await publish(broker, topic(TOPICS.fuelMix), fuelMixPayload(r.fuels, ts));
  await publish(broker, topic(TOPICS.co2), co2Payload(intensity(r.fuels, "direct"), ts, "direct"));
}

describe("charge advice in three browser time zones", () => {
  let broker;
  let server;
  let browser;
  /** @type {{zone: string, page: import("playwright-core").Page, seen: any}[]} */
  const pages = [];

  async function allSay(want, sel = "#charge") {
    for (const { zone, page } of pages) {
      await page
        .waitForFunction(([s, w]) => document.querySelector(s)?.textContent === w, [sel, want], { timeout: 15_000 })
        .catch(async (e) => {
          const got = await page.locator(sel).textContent();
          throw new Error(`${zone}: ${sel} says "${got}", want "${want}" (${e.message})`);
        });
    }
  }

  before(async () => {
    assert.ok(existsSync(join(DIST_DIR, "index.html")), "web/dist is missing: run `npm run build` first");
    broker = await startMosquitto();
    // The real readings of 1 February up to T: the past the chart shades its cleanest hour in.
    const past = FEB1.filter((r) => r.ts <= T);
    await publish(
      broker,
      topic(TOPICS.history),
      historyPayload(
        past.map((r) => r.ts),
        past.map((r) => intensity(r.fuels, "direct")),
      ),
    );
    await readingAt(broker, T);
    server = await startStaticServer(DIST_DIR, {
      "/config.json": dashboardConfig(broker, { topic_root: ROOT, mode: "replay", stale_after_minutes: 15 }),
    });
    browser = await launchChromium();
    for (const zone of ZONES) {
      const context = await browser.newContext({ viewport: { width: 1000, height: 800 }, timezoneId: zone });
      const page = await context.newPage();
      const seen = watchPage(page);
      await page.goto(server.url);
      pages.push({ zone, page, seen });
    }
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await broker?.stop();
  });

  test("the browsers really are in their zones", async () => {
    for (const { zone, page } of pages) {
      assert.equal(await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone), zone);
      assert.equal(await page.evaluate(() => window.nyPower.viewerZone), zone);
    }
  });

  test("a later window: New York time with the day and the ready-by time, in every zone", async () => {
    await publish(
      broker,
      topic(TOPICS.chargeWindow),
      windowPayload(T, [
        [1, Date.parse("2025-02-01T21:00:00Z"), 30.4, "later"],
        [4, Date.parse("2025-02-02T06:00:00Z"), 23.2, "later"],
      ]),
    );
    await allSay("Plug in at 1:00 AM tomorrow for 4 h — ready by 5:00 AM, 23 % cleaner than now");
    for (const { zone, page } of pages) {
      // Said once, and only where the browser's clock is not New York's.
      const note = page.locator("#tz-note");
      if (zone === "America/New_York") assert.equal(await note.isHidden(), true, zone);
      else {
        assert.equal(await note.isVisible(), true, zone);
        assert.equal(await note.textContent(), "Times are New York time (EST).");
      }
      // The advised window is shaded as advice, after now; the cleanest measured hour as the past.
      await page.waitForFunction(() => window.nyPower.chart.highlights().some((h) => h.kind === "advised"));
      const hl = await page.evaluate(() => window.nyPower.chart.highlights());
      const advised = hl.filter((h) => h.kind === "advised");
      const past = hl.filter((h) => h.kind === "past");
      assert.deepEqual(advised, [{ start: Date.parse("2025-02-02T06:00:00Z"), end: Date.parse("2025-02-02T10:00:00Z"), kind: "advised" }], zone);
      assert.equal(past.length, 1, zone);
      assert.ok(past[0].end <= T, `${zone}: the past shading ends by now`);
      assert.equal(await page.locator("#legend-advised").isVisible(), true, zone);
      assert.match(await page.locator(".chart-legend").textContent(), /cleanest measured hour[\s\S]*advised charge/);
      // The shading colours differ.
      const [a, b] = await page.evaluate(() => [".key-shade", ".key-advised"].map((s) => getComputedStyle(document.querySelector(s)).backgroundColor));
      assert.notEqual(a, b, zone);
    }
    // The charge length selector picks its own window: 4:00 PM the same day.
    for (const { page } of pages) await page.locator("#charge-hours").selectOption("1");
    await allSay("Plug in at 4:00 PM today for 1 h — ready by 5:00 PM, 30 % cleaner than now");
    for (const { page } of pages) await page.locator("#charge-hours").selectOption("4");
    await allSay("Plug in at 1:00 AM tomorrow for 4 h — ready by 5:00 AM, 23 % cleaner than now");
  });

  test("the ready-by selector changes the answer (the payload's windows, per time)", async () => {
    const w = ([hours, start, pct, advice]) => ({
      hours,
      start: iso(start),
      end: iso(start + hours * H),
      mean: 200,
      now_mean: 250,
      cleaner_than_now_pct: pct,
      advice,
    });
    const body = JSON.parse(windowPayload(T, [[4, Date.parse("2025-02-02T06:00:00Z"), 23.2, "later"]]));
    body.ready_by = [
      { time: "05:00", time_ny: "5:00 AM", windows: [w([4, Date.parse("2025-02-02T03:00:00Z"), 9.6, "later"])] },
      { time: "06:00", time_ny: "6:00 AM", windows: [w([4, T, 0, "now"])] },
      { time: "07:00", time_ny: "7:00 AM", windows: [w([4, Date.parse("2025-02-02T06:00:00Z"), 23.2, "later"])] },
    ];
    body.ready_by_default = "07:00";
    await readingAt(broker, T);
    await publish(broker, topic(TOPICS.chargeWindow), JSON.stringify(body));
    await allSay("Ready by 7:00 AM: plug in at 1:00 AM tomorrow for 4 h — 23 % cleaner than now", "#ready-line");
    for (const { page } of pages) {
      const options = await page.locator("#ready-by option").evaluateAll((os) => os.map((o) => [o.value, o.textContent]));
      assert.deepEqual(options, [
        ["05:00", "5:00 AM"],
        ["06:00", "6:00 AM"],
        ["07:00", "7:00 AM"],
      ]);
      assert.equal(await page.locator("#ready-by").inputValue(), "07:00");
      await page.locator("#ready-by").selectOption("05:00");
    }
    await allSay("Ready by 5:00 AM: plug in at 10:00 PM today for 4 h — 10 % cleaner than now", "#ready-line");
    for (const { page } of pages) await page.locator("#ready-by").selectOption("06:00");
    await allSay("Ready by 6:00 AM: plug in now for 4 h — no cleaner time before then", "#ready-line");
    // The main sentence is the cleanest window in the next 24 h, whatever the ready-by time.
    await allSay("Plug in at 1:00 AM tomorrow for 4 h — ready by 5:00 AM, 23 % cleaner than now");
    for (const { page } of pages) await page.locator("#ready-by").selectOption("07:00");
  });

  test("the day is New York's where UTC has already turned the date", async () => {
    // 9:00 PM EST on 1 February is 02:00 on 2 February in UTC; 11 PM EST is still "today".
    const t2 = Date.parse("2025-02-02T02:00:00Z");
    await readingAt(broker, t2);
    await publish(broker, topic(TOPICS.chargeWindow), windowPayload(t2, [[4, Date.parse("2025-02-02T04:00:00Z"), 8.2, "later"]]));
    await allSay("Plug in at 11:00 PM today for 4 h — ready by 3:00 AM tomorrow, 8 % cleaner than now");
  });

  test("the fixed index is the main colour, the band its context with the span it used", async () => {
    const t4 = Date.parse("2025-02-02T03:30:00Z");
    await readingAt(broker, t4);
    const v = intensity(FEB1[0].fuels, "direct");
    const band = (o) =>
      JSON.stringify({ ts: iso(t4), value: round1(v), band: "low", low_below: 250, high_above: 260, window_days: 2, units: "g/kWh", ...o });
    await publish(broker, topic(TOPICS.band), band({ hours: 36, learning: true, index: "high", index_boundaries: [210, 220, 235, 250] }));
    await allSay("High (235–250 g/kWh) on New York's fixed scale", "#index");
    await allSay("Low for the last 2 days — still learning (36 h of history, settles at a week)", "#band");
    for (const { zone, page } of pages) {
      const bg = (sel, prop) => page.locator(sel).evaluate((e, p) => getComputedStyle(e)[p], prop);
      // --index-high, #ef6c00, on the index and the sentence; the band pill is not coloured.
      assert.equal(await bg("#index", "backgroundColor"), "rgb(239, 108, 0)", zone);
      assert.equal(await bg("#charge", "borderLeftColor"), "rgb(239, 108, 0)", zone);
      assert.equal(await bg("#band", "backgroundColor"), "rgba(0, 0, 0, 0)", zone);
    }
    // A week of hourly means: no "learning"; a single day reads "the last day".
    await publish(broker, topic(TOPICS.band), band({ window_days: 9, hours: 216, learning: false, index: "very_low", index_boundaries: [210, 220, 235, 250] }));
    await allSay("Low for the last 9 days", "#band");
    await allSay("Very low (below 210 g/kWh) on New York's fixed scale", "#index");
    // Without an index (another factor table, or an older calculator) the band is the colour.
    await publish(broker, topic(TOPICS.band), band({ window_days: 1, hours: 24, learning: true }));
    await allSay("Low for the last day — still learning (24 h of history, settles at a week)", "#band");
    for (const { page } of pages) {
      assert.equal(await page.locator("#index").isHidden(), true);
      assert.equal(await page.locator("#band").evaluate((e) => getComputedStyle(e).backgroundColor), "rgb(46, 125, 50)");
    }
  });

  test("now, not worth it, and learning", async () => {
    const t3 = Date.parse("2025-02-02T03:00:00Z"); // 10:00 PM EST
    await readingAt(broker, t3);
    await publish(broker, topic(TOPICS.chargeWindow), windowPayload(t3, [[4, t3, 0, "now"]]));
    await allSay("Plug in now for 4 h — ready by 2:00 AM tomorrow, no cleaner time in the next 24 h");

    await publish(broker, topic(TOPICS.chargeWindow), windowPayload(t3, [[4, t3 + 5 * H, 3.4, "not_worth_it"]]));
    await allSay("No meaningfully cleaner time in the next 24 h — charge when it suits you");
    for (const { zone, page } of pages) {
      await page.waitForFunction(() => document.querySelector("#legend-advised").hidden);
      const hl = await page.evaluate(() => window.nyPower.chart.highlights());
      assert.deepEqual(
        hl.map((h) => h.kind),
        ["past"],
        `${zone}: nothing is shaded as advice when none is given`,
      );
    }

    await publish(broker, topic(TOPICS.chargeWindow), windowPayload(t3, [[4, t3 + 5 * H, 30, "learning"]], 6));
    await allSay("Still learning the grid's daily pattern (6 h of history, advice from 24 h) — no charging advice yet");
    for (const { page, seen } of pages) {
      assert.equal(await page.locator("#legend-advised").isHidden(), true);
      assert.deepEqual(seen.pageErrors, []);
    }
  });
});
