// The dashboard in headless Chromium against a real Mosquitto: retained messages built
// from the real 2025-02-01 NYISO readings, live updates, the factor switch, malformed
// messages, staleness, broker loss and recovery. Needs `npm run build` first.
// Prints (never asserts) the time from mosquitto_pub to the DOM showing a new reading.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  ARTIFACTS_DIR,
  DIST_DIR,
  dashboardConfig,
  launchChromium,
  publish,
  startMosquitto,
  startStaticServer,
  watchPage,
} from "./helpers.mjs";
import {
  FEB1,
  bandPayload,
  chargeWindowPayload,
  co2Payload,
  cursorPayload,
  forecastPayload,
  fuelMixPayload,
  fuelPayload,
  historyPayload,
  intensity,
} from "./fixtures.mjs";
import { FUELS, TOPICS } from "../src/contract.js";
import { formatIntensity, formatLocalDateTime, formatLocalRange, formatMw, formatShare } from "../src/format.js";
import { bandFor } from "../src/band.js";
import { parseChargeWindow } from "../src/validate.js";
import { chargeSentence } from "../src/sentence.js";
import { cleanestHour } from "../src/cleanest.js";

const ROOT = "ny-power";
const topic = (suffix) => `${ROOT}/${suffix}`;
const MIN = 60_000;

/** Publishes one reading the way the pump and the calculator do (DESIGN §5 order). */
async function publishReading(broker, reading, ts, history) {
  for (const slug of FUELS) await publish(broker, topic(TOPICS.fuel + slug), fuelPayload(reading.fuels[slug], ts));
  await publish(broker, topic(TOPICS.fuelMix), fuelMixPayload(reading.fuels, ts));
  await publish(broker, topic(TOPICS.cursor), cursorPayload(ts));
  await publish(broker, topic(TOPICS.co2), co2Payload(intensity(reading.fuels, "direct"), ts, "direct"));
  await publish(broker, topic(TOPICS.co2Lifecycle), co2Payload(intensity(reading.fuels, "lifecycle"), ts, "lifecycle"));
  if (history) {
    history.ts.push(ts);
    history.values.push(intensity(reading.fuels, "direct"));
    // Keep the last 24 h.
    while (history.ts[0] <= ts - 24 * 60 * MIN) {
      history.ts.shift();
      history.values.shift();
    }
    await publish(broker, topic(TOPICS.history), historyPayload(history.ts, history.values));
  }
}

const text = (page, sel) => page.locator(sel).textContent();

/** x (epoch s) of the newest plotted history reading. */
const lastHistoryX = (page) =>
  page.evaluate(() => {
    const [xs, ys] = window.nyPower.chart.data();
    for (let i = xs.length - 1; i >= 0; i--) if (ys[i] != null) return xs[i];
    return null;
  });

const BAND_RGB = { low: "rgb(46, 125, 50)", moderate: "rgb(249, 168, 37)", high: "rgb(198, 40, 40)" };

/** Hourly means of the next 24 h "forecast": the real day's hours, as if it repeated. */
function forecastValues(history, issued) {
  return Array.from({ length: 24 }, (_, k) => {
    const from = issued - 24 * 60 * MIN + k * 60 * MIN;
    const vs = history.values.filter((_, i) => history.ts[i] >= from && history.ts[i] < from + 60 * MIN);
    return vs.length ? vs.reduce((a, b) => a + b, 0) / vs.length : history.values.at(-1);
  });
}

async function waitText(page, sel, want, timeout = 10_000) {
  await page.waitForFunction(([s, w]) => document.querySelector(s)?.textContent === w, [sel, want], { timeout });
}

describe("dashboard in Chromium against Mosquitto", () => {
  let broker;
  let server;
  let browser;
  let page;
  let seen;
  /** The history the "calculator" publishes: the real day, shifted to end just now. */
  const history = { ts: [], values: [] };
  let t1;

  before(async () => {
    assert.ok(existsSync(join(DIST_DIR, "index.html")), "web/dist is missing: run `npm run build` first");
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    broker = await startMosquitto();
    // Real readings at shifted instants: the first real reading (2025-02-01T05:05:00Z) is
    // "one minute ago", the rest of the real day lies before it.
    t1 = Math.floor((Date.now() - MIN) / 1000) * 1000;
    const day = FEB1.slice(1); // 00:10 EST .. next 00:00
    const shift = t1 - 5 * MIN - day.at(-1).ts;
    for (const r of day) {
      history.ts.push(r.ts + shift);
      history.values.push(intensity(r.fuels, "direct"));
    }
    await publishReading(broker, FEB1[0], t1, history);
    server = await startStaticServer(DIST_DIR, { "/config.json": dashboardConfig(broker) });
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, timezoneId: "Europe/Berlin" });
    page = await context.newPage();
    seen = watchPage(page);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    await broker?.stop();
  });

  test("shows the retained reading, band, chart, cleanest hour and fuel mix", async () => {
    await page.goto(server.url);
    await page.waitForFunction(() => window.nyPower?.connection === "connected");
    await waitText(page, "#intensity", formatIntensity(248.75));
    assert.equal(formatIntensity(248.75), "249");
    assert.equal(await text(page, "#mode"), "live NYISO data");
    assert.equal(await text(page, "#conn-text"), "connected");
    // Band from the direct value against the 24 h history.
    await page.waitForFunction(() => document.querySelector("#band").dataset.band !== "none");
    assert.equal(await page.locator("#band").getAttribute("data-band"), bandFor(248.75, history.values));
    // Time of the reading in New York time (the browser itself is set to Berlin).
    assert.match(await text(page, "#taken"), new RegExp(formatLocalDateTime(t1)));
    assert.equal(await text(page, "#age"), "(1 min ago)");
    assert.equal(await page.locator("#stale").isHidden(), true);
    // Chart: every reading at its true instant (epoch seconds).
    await page.waitForFunction((n) => window.nyPower.chart?.pointCount() === n, history.ts.length);
    const xs = await page.evaluate(() => window.nyPower.chart.data()[0]);
    assert.equal(xs[0], history.ts[0] / 1000);
    assert.equal(xs.at(-1), t1 / 1000);
    const best = cleanestHour(history.ts, history.values);
    assert.match(await text(page, "#cleanest"), new RegExp(formatLocalRange(best.start, best.end)));
    // Fuel mix.
    await waitText(page, '#mix-rows tr[data-fuel="dual_fuel"] td:nth-of-type(1)', formatMw(4613.0));
    assert.equal(await text(page, '#mix-rows tr[data-fuel="dual_fuel"] td:nth-of-type(2)'), formatShare(4613 / 14124));
    assert.equal(await text(page, "#mix-total"), "14,124");
    assert.equal(await text(page, "#zero-carbon"), formatShare(5791 / 14124));
    // Hovering the chart reads out the reading under the cursor.
    const box = await page.locator("#chart .u-over").boundingBox();
    await page.mouse.move(box.x + box.width - 1, box.y + box.height / 2);
    await page.waitForFunction(() => /g CO₂\/kWh$/.test(document.querySelector("#chart-cursor").textContent));
    const readouts = history.ts.map((t, i) => `${formatLocalDateTime(t)}: ${formatIntensity(history.values[i])} g CO₂/kWh`);
    assert.ok(readouts.slice(-5).includes(await text(page, "#chart-cursor")), "readout shows one of the newest readings");
    await page.mouse.move(0, 0);
    // The live value is announced politely.
    assert.equal(await page.locator("#live").getAttribute("aria-live"), "polite");
    assert.deepEqual(await page.evaluate(() => window.nyPower.stats.cspViolations), []);
    assert.deepEqual(seen.pageErrors, []);
  });

  test("the lifecycle switch shows the lifecycle intensity", async () => {
    await page.locator('label[for="f-lifecycle"]').click();
    await waitText(page, "#intensity", formatIntensity(326.08));
    assert.equal(formatIntensity(326.08), "326");
    await page.locator('label[for="f-direct"]').click();
    await waitText(page, "#intensity", formatIntensity(248.75));
  });

  test("forecast, charge window and band: dashed series, one sentence, the band's colour", async () => {
    const values = forecastValues(history, t1);
    const windowPayload = chargeWindowPayload(t1, values);
    // The 30-day band differs from the 24 h tertile band, so the page must show the topic's.
    const tertile = bandFor(248.75, history.values);
    const band = tertile === "high" ? "low" : "high";
    await publish(broker, topic(TOPICS.forecast), forecastPayload(t1, values));
    await publish(broker, topic(TOPICS.chargeWindow), windowPayload);
    await publish(broker, topic(TOPICS.band), bandPayload(t1, 248.75, band));
    // The sentence, exactly as the rule gives it: New York time, whatever the viewer's zone
    // (the browser is in Berlin; advice.e2e.mjs checks the sentences literally in three zones).
    const parsed = parseChargeWindow(windowPayload).value;
    const want = chargeSentence(parsed, { nowMs: Date.now() });
    assert.match(want, /^Plug in (at \d{1,2}:\d\d [AP]M (today|tomorrow)|now) for 4 h — ready by \d{1,2}:\d\d [AP]M/);
    await waitText(page, "#charge", want);
    assert.equal(await page.locator("#charge").isVisible(), true);
    // Band colour from computed/co2/band, on the pill and the sentence.
    await page.waitForFunction((b) => document.querySelector("#band").dataset.band === b, band);
    assert.equal(await page.locator("#band").getAttribute("data-source"), "30d");
    assert.match(await text(page, "#band"), /for the last 30 days$/);
    assert.equal(await page.locator("#band").evaluate((e) => getComputedStyle(e).backgroundColor), BAND_RGB[band]);
    assert.equal(await page.locator("#charge").evaluate((e) => getComputedStyle(e).borderLeftColor), BAND_RGB[band]);
    // The forecast continues the chart: 24 hourly steps from the newest reading, true instants.
    await page.waitForFunction(() => window.nyPower.chart.forecastPointCount() === 25);
    const [xs, , fc] = await page.evaluate(() => window.nyPower.chart.data().map((a) => a.map((v) => (v === undefined ? "u" : v))));
    const first = fc.findIndex((v) => v !== "u" && v !== null);
    assert.equal(xs[first], t1 / 1000);
    assert.equal(xs.at(-1), (t1 + 24 * 60 * MIN) / 1000);
    assert.equal(fc.at(-1), Math.round(values[23] * 10) / 10);
    assert.equal(await lastHistoryX(page), t1 / 1000);
    assert.equal(await page.evaluate(() => window.nyPower.chart.pointCount()), history.ts.length);
    // Another charge length answers for it.
    await page.locator("#charge-hours").selectOption("1");
    await waitText(page, "#charge", chargeSentence(parsed, { nowMs: Date.now(), hours: 1 }));
    await page.locator("#charge-hours").selectOption("4");
    await waitText(page, "#charge", want);
    // Malformed forecast-side messages are rejected and counted; the page keeps what it had.
    const rejected0 = await page.evaluate(() => window.nyPower.stats.rejected);
    const bad = [
      [TOPICS.forecast, JSON.stringify({ issued: "2025-02-01T05:05:00Z", ts: ["2025-02-01T05:05:00Z"], values: [], units: "g/kWh" })],
      [TOPICS.chargeWindow, JSON.stringify({ issued: "2025-02-01T05:05:00Z", units: "g/kWh", windows: [{ hours: 4 }] })],
      [TOPICS.band, JSON.stringify({ ts: "2025-02-01T05:05:00Z", value: 1, band: "purple", low_below: 1, high_above: 2, window_days: 30, units: "g/kWh" })],
    ];
    for (const [suffix, payload] of bad) await publish(broker, topic(suffix), payload, { retain: false });
    await page.waitForFunction((n) => window.nyPower.stats.rejected === n, rejected0 + bad.length);
    assert.equal(await text(page, "#charge"), want);
    assert.equal(await page.locator("#band").getAttribute("data-band"), band);
    assert.equal(await page.evaluate(() => window.nyPower.chart.forecastPointCount()), 25);
    assert.deepEqual(seen.pageErrors, []);
  });

  test("a new reading updates number, chart and mix without reload", async () => {
    await page.evaluate(() => {
      window.__sameDocument = true;
    });
    const reading = FEB1[1]; // real 2025-02-01 00:10 EST
    const t2 = Math.floor(Date.now() / 1000) * 1000 - 1000; // after t1, a minute before the test began
    const points = history.ts.length;
    await publishReading(broker, reading, t2, history);
    await waitText(page, "#intensity", formatIntensity(intensity(reading.fuels, "direct")));
    assert.notEqual(formatIntensity(intensity(reading.fuels, "direct")), formatIntensity(248.75));
    await waitText(page, '#mix-rows tr[data-fuel="dual_fuel"] td:nth-of-type(1)', formatMw(reading.fuels.dual_fuel));
    await page.waitForFunction((n) => window.nyPower.chart.pointCount() === n, history.ts.length);
    assert.ok(history.ts.length >= points);
    assert.equal(await lastHistoryX(page), t2 / 1000);
    assert.equal(await page.evaluate(() => window.__sameDocument), true);
  });

  test("latency from mosquitto_pub to the DOM (measured, not asserted)", async () => {
    const samples = [];
    for (let i = 0; i < 8; i++) {
      const reading = FEB1[2 + i];
      const value = intensity(reading.fuels, "direct") + (i % 2 ? 0.6 : -0.6) * 10; // make each number differ
      const want = formatIntensity(value);
      const before = await text(page, "#intensity");
      const ts = Date.now() - 2000;
      const n = await page.evaluate(() => window.nyPower.stats.renderTotal);
      const t0 = Date.now();
      await publish(broker, topic(TOPICS.co2), co2Payload(Math.round(value * 100) / 100, ts, "direct"), { retain: false });
      const tPubExit = Date.now();
      await waitText(page, "#intensity", want);
      const tSeen = Date.now();
      await page.waitForFunction((k) => window.nyPower.stats.renders.at(-1)?.painted != null && window.nyPower.stats.renderTotal > k, n);
      const r = await page.evaluate(() => {
        const e = window.nyPower.stats.renders.at(-1);
        const o = performance.timeOrigin;
        return { arrived: o + e.arrived, rendered: o + e.rendered, painted: o + e.painted };
      });
      if (before === want) continue;
      samples.push({
        pubToArrival: r.arrived - t0,
        arrivalToDom: r.rendered - r.arrived,
        arrivalToFrame: r.painted - r.arrived,
        pubToDom: r.rendered - t0,
        pubExit: tPubExit - t0,
        pubToTestSaw: tSeen - t0,
      });
    }
    const med = (k) => {
      const v = samples.map((s) => s[k]).sort((a, b) => a - b);
      return v[Math.floor(v.length / 2)].toFixed(1);
    };
    const max = (k) => Math.max(...samples.map((s) => s[k])).toFixed(1);
    console.log(
      `# latency over ${samples.length} readings (ms, median / max):\n` +
        `#   mosquitto_pub spawn -> message in page   ${med("pubToArrival")} / ${max("pubToArrival")}\n` +
        `#   message in page -> DOM updated           ${med("arrivalToDom")} / ${max("arrivalToDom")}\n` +
        `#   message in page -> next frame            ${med("arrivalToFrame")} / ${max("arrivalToFrame")}\n` +
        `#   mosquitto_pub spawn -> DOM updated       ${med("pubToDom")} / ${max("pubToDom")}\n` +
        `#   (mosquitto_pub process run time          ${med("pubExit")} / ${max("pubExit")})`,
    );
    assert.ok(samples.length > 0);
    // Put the regular reading back for the next tests.
    await publishReading(broker, FEB1[1], Date.now() - 1000);
    await waitText(page, "#intensity", formatIntensity(intensity(FEB1[1].fuels, "direct")));
  });

  test("screenshots: desktop and phone, light and dark", async () => {
    for (const [name, size] of [
      ["desktop", { width: 1280, height: 800 }],
      ["phone", { width: 390, height: 844 }],
    ]) {
      await page.setViewportSize(size);
      for (const scheme of ["light", "dark"]) {
        await page.emulateMedia({ colorScheme: scheme });
        await page.waitForTimeout(250); // chart resize / rebuild settles
        await page.screenshot({ path: join(ARTIFACTS_DIR, `dashboard-${name}-${scheme}.png`), fullPage: true });
      }
      // Nothing wider than the viewport (no sideways scrolling on a phone).
      assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= size.width, `${name}: no horizontal scroll`);
    }
    await page.emulateMedia({ colorScheme: "light" });
    await page.setViewportSize({ width: 1280, height: 800 });
    assert.deepEqual(seen.pageErrors, []);
  });

  test("malformed messages are ignored and counted; the page keeps working", async () => {
    const shown = await text(page, "#intensity");
    const rejected0 = await page.evaluate(() => window.nyPower.stats.rejected);
    const ts = new Date().toISOString();
    const bad = [
      [TOPICS.co2, "{not json"],
      [TOPICS.co2, JSON.stringify({ ts, value: "NaN", units: "g/kWh", factors: "direct" })],
      [TOPICS.co2, JSON.stringify({ ts, value: 1, units: "g/kWh", factors: "lifecycle" })],
      [TOPICS.co2Lifecycle, JSON.stringify({ ts, value: null, units: "g/kWh", factors: "lifecycle" })],
      [TOPICS.fuelMix, JSON.stringify({ ts, fuels: { coal: 1 }, total_mw: 1 })],
      [TOPICS.history, JSON.stringify({ units: "g/kWh", ts: [ts], values: [] })],
      [TOPICS.co2, "[]"],
    ];
    for (const [suffix, payload] of bad) await publish(broker, topic(suffix), payload, { retain: false });
    await page.waitForFunction((n) => window.nyPower.stats.rejected === n, rejected0 + bad.length);
    assert.equal(await text(page, "#intensity"), shown);
    assert.equal(await page.evaluate(() => window.nyPower.chart.pointCount()), history.ts.length);
    assert.ok(seen.warnings.some((w) => w.includes("rejected message")));
    const value = 123.4;
    await publish(broker, topic(TOPICS.co2), co2Payload(value, Date.now() - 1000, "direct"));
    await waitText(page, "#intensity", formatIntensity(value));
    assert.deepEqual(seen.pageErrors, []);
  });

  test("a reading older than 15 minutes shows a stale warning", async () => {
    // The real reading at its real instant, 2025-02-01T05:05:00Z.
    await publish(broker, topic(TOPICS.co2), co2Payload(248.75, FEB1[0].ts, "direct"));
    await page.waitForFunction(() => !document.querySelector("#stale").hidden);
    assert.match(await text(page, "#stale"), /^Stale: /);
    assert.match(await text(page, "#taken"), /Sat, Feb 1, 12:05 AM EST/);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(ARTIFACTS_DIR, "dashboard-phone-stale.png") });
    await page.setViewportSize({ width: 1280, height: 800 });
    await publish(broker, topic(TOPICS.co2), co2Payload(248.75, Date.now() - 1000, "direct"));
    await page.waitForFunction(() => document.querySelector("#stale").hidden);
  });

  test("a fresh reading turns stale on the page's own timer", async () => {
    // 14 min 56 s old now: fresh when it arrives, stale 4 s later; the page re-checks every 10 s.
    await publish(broker, topic(TOPICS.co2), co2Payload(250, Date.now() - 15 * MIN + 4000, "direct"));
    await waitText(page, "#intensity", formatIntensity(250));
    assert.equal(await page.locator("#stale").isHidden(), true);
    await page.waitForFunction(() => !document.querySelector("#stale").hidden, null, { timeout: 20_000 });
    await publish(broker, topic(TOPICS.co2), co2Payload(248.75, Date.now() - 1000, "direct"));
    await page.waitForFunction(() => document.querySelector("#stale").hidden);
  });

  test("replay mode: says so, and old replayed readings are not called stale", async () => {
    // Its own topic root on the same broker, with the real readings at their real 2025 instants.
    const root = "replay-test/ny-power";
    const rt = (suffix) => `${root}/${suffix}`;
    const day = FEB1.slice(0, 200);
    const last = day.at(-1);
    const h = { ts: day.map((r) => r.ts), values: day.map((r) => intensity(r.fuels, "direct")) };
    await publish(broker, rt(TOPICS.history), historyPayload(h.ts, h.values));
    await publish(broker, rt(TOPICS.fuelMix), fuelMixPayload(last.fuels, last.ts));
    await publish(broker, rt(TOPICS.co2), co2Payload(intensity(last.fuels, "direct"), last.ts, "direct"));
    const values = forecastValues(h, last.ts);
    const windowPayload = chargeWindowPayload(last.ts, values);
    await publish(broker, rt(TOPICS.chargeWindow), windowPayload);
    const other = await startStaticServer(DIST_DIR, {
      "/config.json": dashboardConfig(broker, { topic_root: root, mode: "replay", stale_after_minutes: 15 }),
    });
    const p = await page.context().newPage();
    const pageSeen = watchPage(p);
    try {
      await p.goto(other.url);
      await waitText(p, "#intensity", formatIntensity(intensity(last.fuels, "direct")));
      assert.equal(await text(p, "#mode"), "replay of bundled NYISO days");
      assert.equal(await p.locator("#replay-note").isVisible(), true);
      assert.match(await text(p, "#replay-note"), /^Replay of bundled NYISO days/);
      await p.evaluate(() => window.nyPower.tick());
      assert.equal(await p.locator("#stale").isHidden(), true, "a 2025 reading in a replay is not stale");
      assert.equal(await text(p, "#age"), "(replayed)");
      // The sentence is measured against the replay's time too (issued long ago by the wall clock).
      const want = chargeSentence(parseChargeWindow(windowPayload).value, { nowMs: last.ts });
      await waitText(p, "#charge", want);
      // A topic lagging the replay by more than the limit is still stale.
      await publish(broker, rt(TOPICS.fuelMix), fuelMixPayload(last.fuels, last.ts + 20 * MIN));
      await p.waitForFunction(() => !document.querySelector("#stale").hidden);
      assert.deepEqual(pageSeen.pageErrors, []);
    } finally {
      await p.close();
      await other.close();
    }
  });

  test("broker loss shows reconnecting; a restart on the same ports recovers", async () => {
    const { tcpPort, wsPort } = broker;
    await broker.stop("SIGKILL");
    await waitText(page, "#conn-text", "reconnecting", 15_000);
    assert.equal(await page.locator("#conn").getAttribute("data-state"), "reconnecting");
    broker = await startMosquitto({ tcpPort, wsPort });
    await waitText(page, "#conn-text", "connected", 30_000);
    // Subscriptions are back: a new reading arrives.
    await publish(broker, topic(TOPICS.co2), co2Payload(222.2, Date.now() - 1000, "direct"));
    await waitText(page, "#intensity", formatIntensity(222.2));
    assert.deepEqual(seen.pageErrors, []);
    // While the broker was down, Chromium logs each refused reconnect attempt as a console
    // error (how many depends on timing); they belong to this test, not to the next one,
    // which checks that going offline logs none.
    const own = seen.errors.filter((e) => !/ERR_CONNECTION_REFUSED/.test(e));
    seen.errors.splice(0, seen.errors.length, ...own);
  });

  test("the browser going offline shows offline, then recovers", async () => {
    await page.context().setOffline(true);
    await waitText(page, "#conn-text", "offline");
    await page.context().setOffline(false);
    await waitText(page, "#conn-text", "connected", 30_000).catch(async (err) => {
      console.log(await page.evaluate(() => JSON.stringify(window.nyPower.stats.connLog)));
      throw err;
    });
    console.log("# connection log:", await page.evaluate(() => JSON.stringify(window.nyPower.stats.connLog.map((e) => e.state))));
    assert.deepEqual(await page.evaluate(() => window.nyPower.stats.cspViolations), []);
    assert.deepEqual(seen.pageErrors, []);
    assert.deepEqual(seen.errors, []);
  });

  test("a bad config.json is reported on the page, not thrown", async () => {
    const other = await startStaticServer(DIST_DIR, {
      "/config.json": JSON.stringify({ mqtt: { kind: "aws-iot", url: broker.wsUrl } }),
    });
    const p = await page.context().newPage();
    const pageSeen = watchPage(p);
    try {
      await p.goto(other.url);
      await p.waitForFunction(() => !document.querySelector("#error").hidden);
      // aws-iot is supported, but needs region, endpoint and identity pool.
      assert.match(await text(p, "#error"), /config\.json: mqtt\.region must be an AWS region/);
      assert.equal(await text(p, "#conn-text"), "offline");
      assert.deepEqual(pageSeen.pageErrors, []);
    } finally {
      await p.close();
      await other.close();
    }
  });
});
