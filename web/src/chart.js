// The chart (uPlot): the 24 h history (solid) and the next 24 h forecast (dashed, one step
// per hourly slot), on one time axis at true instants. DOM code: colours come from the
// page's CSS variables so the chart follows light and dark mode; it is rebuilt when the
// colour scheme changes.

import uPlot from "uplot";
import { TIME_ZONE, formatIntensity, formatLocalDateTime } from "./format.js";

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function heightFor(width) {
  return width < 500 ? 220 : 320;
}

const Y_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000];

const CURSOR_HINT = "Hover over or tap the chart for values.";

/**
 * @typedef {[number[], (number|null|undefined)[], (number|null|undefined)[]]} ChartData
 *   x (epoch s), history (g/kWh), forecast (g/kWh); null = gap, undefined = no point
 * @typedef {{start: number, end: number, kind?: "past"|"advised"}} Span epoch ms; `past`: the
 *   cleanest measured hour, `advised`: the advised charge (each its own fill and legend entry)
 */

/**
 * @param {HTMLElement} el container
 * @param {HTMLElement} readout where the value under the cursor is written
 * @returns {{ setData: (data: ChartData, highlights: Span[]) => void,
 *   pointCount: () => number, forecastPointCount: () => number, data: () => ChartData }}
 */
export function createChart(el, readout) {
  /** @type {uPlot|null} */
  let plot = null;
  /** @type {ChartData} */
  let data = [[], [], []];
  /** @type {{start: number, end: number}[]} shaded windows, epoch seconds */
  let highlights = [];

  function build() {
    if (plot) plot.destroy();
    const muted = cssVar("--muted");
    const line = cssVar("--line");
    const width = Math.max(200, el.clientWidth);
    plot = new uPlot(
      {
        width,
        height: heightFor(width),
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), TIME_ZONE),
        scales: { x: { time: true } },
        cursor: { drag: { x: false, y: false } },
        legend: { show: false },
        axes: [
          { stroke: muted, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } },
          {
            stroke: muted,
            grid: { stroke: line, width: 1 },
            ticks: { stroke: line, width: 1 },
            size: 48,
            // Whole-number steps only: labels are whole g/kWh, so 262.5 must not read "263".
            incrs: Y_INCRS,
            values: (u, splits) => splits.map((v) => formatIntensity(v)),
          },
        ],
        series: [
          { label: "Time (New York)" },
          {
            label: "g CO₂/kWh",
            stroke: cssVar("--accent"),
            fill: cssVar("--accent-fill"),
            width: 2,
            spanGaps: false,
            points: { show: false },
            value: (u, v) => (v == null ? "—" : formatIntensity(v)),
          },
          {
            label: "forecast g CO₂/kWh",
            stroke: cssVar("--forecast"),
            width: 2,
            dash: [6, 5],
            spanGaps: false,
            paths: uPlot.paths.stepped({ align: 1 }),
            points: { show: false },
            value: (u, v) => (v == null ? "—" : formatIntensity(v)),
          },
        ],
        hooks: {
          setCursor: [
            (u) => {
              const i = u.cursor.idx;
              const y = i == null ? null : u.data[1][i];
              const f = i == null ? null : u.data[2][i];
              if (y != null) {
                readout.textContent = `${formatLocalDateTime(u.data[0][i] * 1000)}: ${formatIntensity(y)} g CO₂/kWh`;
              } else if (f != null) {
                readout.textContent = `Forecast from ${formatLocalDateTime(u.data[0][i] * 1000)}: ${formatIntensity(f)} g CO₂/kWh (hourly mean)`;
              } else {
                readout.textContent = CURSOR_HINT;
              }
            },
          ],
          drawClear: [
            (u) => {
              const { top, height, left, width: w } = u.bbox;
              u.ctx.save();
              const fills = { past: cssVar("--clean-fill"), advised: cssVar("--advice-fill") };
              for (const hl of highlights) {
                u.ctx.fillStyle = fills[hl.kind] ?? fills.past;
                const x0 = u.valToPos(hl.start, "x", true);
                const x1 = u.valToPos(hl.end, "x", true);
                const a = Math.max(left, Math.min(x0, x1));
                const b = Math.min(left + w, Math.max(x0, x1));
                if (b > a) u.ctx.fillRect(a, top, b - a, height);
              }
              u.ctx.restore();
            },
          ],
        },
      },
      data,
      el,
    );
  }

  build();

  let lastWidth = el.clientWidth;
  new ResizeObserver(() => {
    const w = el.clientWidth;
    if (!plot || w === lastWidth || w === 0) return;
    lastWidth = w;
    plot.setSize({ width: w, height: heightFor(w) });
  }).observe(el);

  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", build);

  return {
    setData(d, hls) {
      data = d;
      highlights = hls.map((hl) => ({ start: hl.start / 1000, end: hl.end / 1000, kind: hl.kind }));
      plot.setData(data);
    },
    /** History readings plotted. */
    pointCount() {
      return data[1].filter((v) => v != null).length;
    },
    /** Forecast step points plotted (slot starts plus each run's closing point). */
    forecastPointCount() {
      return data[2].filter((v) => v != null).length;
    },
    /** The shaded spans: [{start, end, kind}] in epoch ms. */
    highlights() {
      return highlights.map((hl) => ({ start: hl.start * 1000, end: hl.end * 1000, kind: hl.kind }));
    },
    /** The plotted data: [x epoch seconds, history g/kWh, forecast g/kWh] (null = gap, undefined = no point). */
    data() {
      return data;
    },
  };
}
