// The 24 h chart (uPlot). DOM code: colours come from the page's CSS variables so the
// chart follows light and dark mode; it is rebuilt when the colour scheme changes.

import uPlot from "uplot";
import { TIME_ZONE, formatIntensity, formatLocalDateTime } from "./format.js";

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function heightFor(width) {
  return width < 500 ? 220 : 320;
}

const CURSOR_HINT = "Hover over or tap the chart for values.";

/**
 * @param {HTMLElement} el container
 * @param {HTMLElement} readout where the value under the cursor is written
 * @returns {{ setData: (data: [number[], (number|null)[]], highlight: {start: number, end: number}|null) => void,
 *   pointCount: () => number, data: () => [number[], (number|null)[]] }}
 */
export function createChart(el, readout) {
  /** @type {uPlot|null} */
  let plot = null;
  let data = [[], []];
  /** @type {{start: number, end: number}|null} window in epoch seconds */
  let highlight = null;

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
        ],
        hooks: {
          setCursor: [
            (u) => {
              const i = u.cursor.idx;
              const y = i == null ? null : u.data[1][i];
              readout.textContent =
                y == null ? CURSOR_HINT : `${formatLocalDateTime(u.data[0][i] * 1000)}: ${formatIntensity(y)} g CO₂/kWh`;
            },
          ],
          drawClear: [
            (u) => {
              if (!highlight) return;
              const x0 = u.valToPos(highlight.start, "x", true);
              const x1 = u.valToPos(highlight.end, "x", true);
              const { top, height, left, width: w } = u.bbox;
              const a = Math.max(left, Math.min(x0, x1));
              const b = Math.min(left + w, Math.max(x0, x1));
              if (b <= a) return;
              u.ctx.save();
              u.ctx.fillStyle = cssVar("--clean-fill");
              u.ctx.fillRect(a, top, b - a, height);
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
    setData(d, hl) {
      data = d;
      highlight = hl ? { start: hl.start / 1000, end: hl.end / 1000 } : null;
      plot.setData(data);
    },
    pointCount() {
      return data[1].filter((v) => v != null).length;
    },
    /** The plotted data: [x epoch seconds, y g/kWh (null = gap)]. */
    data() {
      return data;
    },
  };
}
