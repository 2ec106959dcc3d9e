// The page: wires config, broker connection, state and DOM. Every payload value reaches
// the DOM through textContent (or a CSS width computed from a checked number), never
// through innerHTML. The page renders on every accepted message; the only timer
// re-evaluates the reading's age, staleness and the charge sentence's expiry locally.

import { parseConfig } from "./config.js";
import { connect } from "./connect.js";
import { applyMessage, createState, createStats, dashboardTopicTable } from "./store.js";
import {
  formatAge,
  formatIntensity,
  formatLocalDateTime,
  formatLocalRange,
  formatLocalTime,
  formatMw,
  formatShare,
  zoneNote,
} from "./format.js";
import { displayBand } from "./band.js";
import { isStale, referenceNow } from "./stale.js";
import { cleanestHour } from "./cleanest.js";
import { mixRows } from "./mix.js";
import { chartSeries, forecastSteps, mergeSeries } from "./series.js";
import { createChart } from "./chart.js";
import { adviceOf, chargeSentence, clock12, DEFAULT_CHARGE_HOURS, readyBySentence } from "./sentence.js";

const AGE_TICK_MS = 10_000;
const RENDER_LOG_MAX = 50;

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const state = createState();
const stats = Object.assign(createStats(), {
  /** Per accepted message: performance.now() at arrival, after the DOM update, and at the next frame. */
  renders: [],
  /** How many entries `renders` has had in all (it keeps only the newest RENDER_LOG_MAX). */
  renderTotal: 0,
  /** Content-Security-Policy violations seen by the page (should stay empty). */
  cspViolations: [],
  /** Connection state changes: {state, detail, at}. */
  connLog: [],
});

/** What tests and curious users can inspect: `window.nyPower`. */
const api = {
  stats,
  state,
  config: null,
  connection: "connecting",
  factors: "direct",
  /** Charge length of the sentence, hours (the select; default 4). */
  chargeHours: DEFAULT_CHARGE_HOURS,
  /** Ready-by time of the ready-by line, New York HH:MM (the select; null: the payload's default). */
  readyBy: null,
  /** The viewer's IANA zone (the zone note compares it with New York's). */
  viewerZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
  /** The instant ages are measured against: the wall clock, or in a replay the newest reading. */
  now: () => (config ? referenceNow(config.mode, Date.now(), state) : Date.now()),
  /** Re-evaluates age, staleness and the charge sentence now (the page also does this every 10 s). */
  tick: () => renderAge(),
};
window.nyPower = api;

document.addEventListener("securitypolicyviolation", (e) => {
  stats.cspViolations.push({ directive: e.violatedDirective, blocked: e.blockedURI });
});

let config = null;
let chart = null;

function showError(text) {
  const el = $("error");
  el.textContent = text;
  el.hidden = false;
}

function setConnection(s, detail) {
  api.connection = s;
  stats.connLog.push({ state: s, detail: detail ?? null, at: Date.now() });
  if (stats.connLog.length > RENDER_LOG_MAX) stats.connLog.shift();
  const el = $("conn");
  el.dataset.state = s;
  $("conn-text").textContent = s;
  el.title = detail ?? "";
}

function selectedReading() {
  return api.factors === "lifecycle" ? state.co2Lifecycle : state.co2;
}

const BAND_WORD = { low: "Low", moderate: "Moderate", high: "High" };
const INDEX_WORD = { very_low: "Very low", low: "Low", moderate: "Moderate", high: "High", very_high: "Very high" };

function bandText(shown) {
  if (shown.source === "30d") {
    const days = state.band?.windowDays ?? 30;
    const span = days === 1 ? "the last day" : `the last ${days} days`;
    const learning = state.band?.learning ? ` — still learning (${state.band.hours ?? "few"} h of history, settles at a week)` : "";
    return `${BAND_WORD[shown.band]} for ${span}${learning}`;
  }
  return `${BAND_WORD[shown.band]} for the last 24 h`;
}

/** The fixed index of the band message for the reading on screen: {level, text} or null. */
function shownIndex(shown) {
  const b = state.band;
  if (!shown || shown.source !== "30d" || !b?.index) return null;
  const i = ["very_low", "low", "moderate", "high", "very_high"].indexOf(b.index);
  const bounds = b.indexBoundaries;
  let range = "";
  if (bounds) {
    const f = (x) => formatIntensity(x);
    range = i === 0 ? `below ${f(bounds[0])}` : i === 4 ? `${f(bounds[3])}+` : `${f(bounds[i - 1])}–${f(bounds[i])}`;
    range = ` (${range} g/kWh)`;
  }
  return { level: b.index, text: `${INDEX_WORD[b.index]}${range} on New York's fixed scale` };
}

function renderIntensity() {
  const r = selectedReading();
  $("intensity").textContent = r ? formatIntensity(r.value) : "—";
  // The band is always about the direct intensity, whichever factor table is on screen:
  // it describes the grid, not the accounting method. The calculator's 30-day band when
  // there is one, else the 24 h tertiles.
  const shown = displayBand(state.band, state.co2, state.history);
  const b = $("band");
  b.dataset.band = shown?.band ?? "none";
  b.dataset.source = shown?.source ?? "none";
  b.textContent = shown ? bandText(shown) : state.co2 ? "not enough history for a band" : "waiting for data";
  $("charge").dataset.band = shown?.band ?? "none";
  // The fixed index is the main colour when the calculator gives one; the band is context.
  const idx = shownIndex(shown);
  const ie = $("index");
  ie.dataset.index = idx?.level ?? "none";
  ie.textContent = idx?.text ?? "";
  ie.hidden = idx === null;
  $("live").dataset.indexShown = String(idx !== null);
  $("charge").dataset.index = idx?.level ?? "none";
  $("taken").textContent = r ? `Reading of ${formatLocalDateTime(r.ts)}` : "Waiting for the first reading…";
  $("factors-note").textContent =
    api.factors === "lifecycle"
      ? "Lifecycle: adds fuel supply, construction and upstream emissions (IPCC AR5)."
      : "Direct: emissions at the power plants (EPA eGRID 2023).";
  renderAge();
}

function renderAge() {
  renderCharge();
  const r = selectedReading();
  const staleEl = $("stale");
  if (!r || !config) {
    $("age").textContent = "";
    staleEl.hidden = true;
    return;
  }
  const now = api.now();
  // A replay's readings are old on purpose: no wall-clock age, and staleness is measured
  // against the newest replayed reading (so only a lagging topic is called stale).
  $("age").textContent = config.mode === "replay" ? "(replayed)" : `(${formatAge(now - r.ts)})`;
  const stale = isStale(r.ts, now, config.staleAfterMinutes);
  // Fixed text (the age is beside the time above), so the alert is announced once.
  const text = stale
    ? `Stale: this reading is more than ${config.staleAfterMinutes} min old. The data feed may be delayed.`
    : "";
  if (staleEl.textContent !== text) staleEl.textContent = text;
  staleEl.hidden = !stale;
  $("now-card").classList.toggle("is-stale", stale);
}

/** The window of the chosen length in the charge-window message (null when there is none). */
function chosenWindow() {
  return state.chargeWindow?.windows.find((w) => w.hours === api.chargeHours) ?? null;
}

function renderCharge() {
  const el = $("charge");
  const now = api.now();
  const text = config ? chargeSentence(state.chargeWindow, { nowMs: now, hours: api.chargeHours }) : null;
  if (el.textContent !== (text ?? "")) el.textContent = text ?? "";
  el.hidden = text === null;
  renderReadyBy(now);
  // Every time on the page is New York's: said once, to a viewer whose clock differs.
  const note = $("tz-note");
  const noteText = config ? zoneNote(now, api.viewerZone) : null;
  if (note.textContent !== (noteText ?? "")) note.textContent = noteText ?? "";
  note.hidden = noteText === null;
}

/** The ready-by selector (options from the payload) and its line. */
function renderReadyBy(now) {
  const select = /** @type {HTMLSelectElement} */ ($("ready-by"));
  const cw = state.chargeWindow;
  const times = cw?.readyBy?.map((r) => r.time) ?? [];
  const have = [...select.options].map((o) => o.value);
  if (times.length && times.join() !== have.join()) {
    const keep = api.readyBy ?? cw.readyByDefault ?? times[0];
    select.replaceChildren(
      ...times.map((t) => {
        const o = document.createElement("option");
        o.value = t;
        o.textContent = clock12(t);
        return o;
      }),
    );
    select.value = times.includes(keep) ? keep : (cw.readyByDefault ?? times[0]);
  }
  select.disabled = times.length === 0;
  const chosen = api.readyBy ?? cw?.readyByDefault ?? select.value;
  const el = $("ready-line");
  const text = config && cw ? readyBySentence(cw, { nowMs: now, hours: api.chargeHours, readyBy: chosen }) : null;
  if (el.textContent !== (text ?? "")) el.textContent = text ?? "";
  el.hidden = text === null;
}

/** The chosen window when the sentence advises it (plug in later, or now), else null. */
function advisedWindow() {
  const win = chosenWindow();
  if (!win || !chargeSentence(state.chargeWindow, { nowMs: api.now(), hours: api.chargeHours })) return null;
  const advice = adviceOf(state.chargeWindow, win);
  return advice === "later" || advice === "now" ? win : null;
}

function renderChart() {
  const h = state.history ?? { ts: [], values: [] };
  const f = state.forecast ?? { ts: [], values: [] };
  const best = cleanestHour(h.ts, h.values);
  // Two kinds of shading, each with its own legend entry: the cleanest measured hour (past)
  // and the advised charge (future, only while the sentence advises it).
  const advised = advisedWindow();
  const shaded = [best ? { ...best, kind: "past" } : null, advised ? { start: advised.start, end: advised.end, kind: "advised" } : null].filter(Boolean);
  chart.setData(mergeSeries(chartSeries(h.ts, h.values), forecastSteps(f.ts, f.values)), shaded);
  $("legend-advised").hidden = !advised;
  if (state.history) {
    $("cleanest").textContent = best
      ? `Cleanest hour: ${formatLocalRange(best.start, best.end)}, ${formatIntensity(best.mean)} g/kWh on average (shaded).`
      : "Cleanest hour: not enough history yet.";
  }
  const parts = [
    h.values.length
      ? `Carbon intensity over the last 24 hours: ${h.values.length} readings from ${formatIntensity(Math.min(...h.values))} to ${formatIntensity(Math.max(...h.values))} g/kWh.`
      : "Carbon intensity over the last 24 hours: no readings yet.",
  ];
  if (f.values.length) {
    parts.push(
      `Forecast for the next ${f.values.length} hours (dashed): hourly means from ${formatIntensity(Math.min(...f.values))} to ${formatIntensity(Math.max(...f.values))} g/kWh.`,
    );
  }
  $("chart").setAttribute("aria-label", parts.join(" "));
}

/** @type {Record<string, {mw: HTMLElement, share: HTMLElement, bar: HTMLElement}>} */
const mixCells = {};

function buildMixTable() {
  const body = $("mix-rows");
  for (const row of mixRows({}).rows) {
    const tr = document.createElement("tr");
    tr.dataset.fuel = row.slug;
    const name = document.createElement("th");
    name.scope = "row";
    const label = document.createElement("span");
    label.className = "fuel-name";
    label.textContent = row.label;
    const bar = document.createElement("span");
    bar.className = row.zeroCarbon ? "bar zero-carbon" : "bar";
    const fill = document.createElement("span");
    bar.append(fill);
    name.append(label, bar);
    const mw = document.createElement("td");
    mw.className = "num";
    mw.textContent = "—";
    const share = document.createElement("td");
    share.className = "num";
    share.textContent = "—";
    tr.append(name, mw, share);
    body.append(tr);
    mixCells[row.slug] = { mw, share, bar: fill };
  }
}

function renderMix() {
  const m = state.fuelMix;
  if (!m) return;
  const { rows, zeroCarbonShare } = mixRows(m.fuels);
  for (const r of rows) {
    const c = mixCells[r.slug];
    c.mw.textContent = formatMw(r.mw);
    c.share.textContent = formatShare(r.share);
    c.bar.style.width = `${(r.share * 100).toFixed(2)}%`;
  }
  $("mix-total").textContent = formatMw(m.totalMw);
  $("zero-carbon").textContent = formatShare(zeroCarbonShare);
  $("mix-time").textContent = `at ${formatLocalTime(m.ts)}`;
}

function onMessage(table, topic, payload) {
  const arrived = performance.now();
  const r = applyMessage(state, stats, table, topic, payload);
  if (!r.ok) {
    console.warn(`ny-power: rejected message ${stats.rejected} on "${topic}": ${r.reason}`);
    return;
  }
  try {
    if (r.kind === "co2" || r.kind === "co2Lifecycle" || r.kind === "band") renderIntensity();
    else if (r.kind === "history") {
      renderChart();
      renderIntensity();
    } else if (r.kind === "fuelMix") {
      renderMix();
      renderAge(); // in a replay, the newest reading moves the page's "now"
    } else if (r.kind === "forecast") renderChart();
    else if (r.kind === "chargeWindow") {
      renderCharge();
      renderChart(); // the chosen window is shaded
    }
  } catch (err) {
    // A rendering bug must not take the connection down with it.
    console.error("ny-power: render failed", err);
  }
  const entry = { topic, kind: r.kind, arrived, rendered: performance.now(), painted: null };
  stats.renders.push(entry);
  stats.renderTotal += 1;
  if (stats.renders.length > RENDER_LOG_MAX) stats.renders.shift();
  requestAnimationFrame(() => {
    entry.painted = performance.now();
  });
}

function wireChargeHours() {
  const select = /** @type {HTMLSelectElement} */ ($("charge-hours"));
  select.value = String(api.chargeHours);
  select.addEventListener("change", () => {
    const h = Number(select.value);
    api.chargeHours = Number.isInteger(h) && h > 0 ? h : DEFAULT_CHARGE_HOURS;
    renderCharge();
    if (chart) renderChart();
  });
}

function wireReadyBy() {
  const select = /** @type {HTMLSelectElement} */ ($("ready-by"));
  select.addEventListener("change", () => {
    api.readyBy = select.value;
    renderCharge();
  });
}

function wireSwitch() {
  for (const input of document.querySelectorAll('input[name="factors"]')) {
    input.addEventListener("change", () => {
      if (!input.checked) return;
      api.factors = input.value === "lifecycle" ? "lifecycle" : "direct";
      renderIntensity();
    });
  }
}

async function start() {
  buildMixTable();
  wireSwitch();
  wireChargeHours();
  wireReadyBy();
  let json;
  try {
    const res = await fetch("config.json", { cache: "no-store" });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    json = await res.json();
  } catch (err) {
    setConnection("offline", "no config");
    showError(`Could not load config.json (${err.message}).`);
    return;
  }
  const parsed = parseConfig(json, location.href);
  if (!parsed.ok) {
    setConnection("offline", "bad config");
    showError(parsed.error);
    return;
  }
  config = parsed.config;
  api.config = config;
  $("mode").textContent = config.modeLabel;
  $("mode").dataset.mode = config.mode;
  $("replay-note").hidden = config.mode !== "replay";
  chart = createChart($("chart"), $("chart-cursor"));
  api.chart = chart;
  const table = dashboardTopicTable(config.topicRoot);
  api.topics = [...table.keys()];
  api.connectionHandle = connect(config, api.topics, {
    onMessage: (topic, payload) => onMessage(table, topic, payload),
    onState: setConnection,
  });
  setInterval(renderAge, AGE_TICK_MS);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) renderAge();
  });
}

start();
