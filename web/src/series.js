// Chart data for uPlot: x in epoch seconds at the readings' true instants. Where two
// consecutive readings are more than MAX_GAP_S apart, a null point is inserted so the
// line breaks instead of drawing across missing data.

export const MAX_GAP_S = 20 * 60;

/**
 * @param {number[]} tsMs epoch ms, increasing
 * @param {number[]} values
 * @returns {[number[], (number|null)[]]} uPlot data
 */
export function chartSeries(tsMs, values) {
  const xs = [];
  const ys = [];
  for (let i = 0; i < tsMs.length; i++) {
    const x = tsMs[i] / 1000;
    if (i > 0 && x - xs[xs.length - 1] > MAX_GAP_S) {
      xs.push((x + xs[xs.length - 1]) / 2);
      ys.push(null);
    }
    xs.push(x);
    ys.push(values[i]);
  }
  return [xs, ys];
}

/** A forecast slot lasts one hour (docs/forecast.md). */
export const SLOT_S = 3600;

/**
 * The forecast as step points for uPlot's stepped path (each value holds until the next
 * point): one point at each slot's start, plus a point at the end of the last slot (and
 * before any gap between slots, followed by a null) so every slot is drawn a full hour.
 * @param {number[]} tsMs slot starts, epoch ms, increasing
 * @param {number[]} values expected mean of each slot
 * @returns {[number[], (number|null)[]]}
 */
export function forecastSteps(tsMs, values) {
  const xs = [];
  const ys = [];
  for (let i = 0; i < tsMs.length; i++) {
    const x = tsMs[i] / 1000;
    xs.push(x);
    ys.push(values[i]);
    const end = x + SLOT_S;
    const next = i + 1 < tsMs.length ? tsMs[i + 1] / 1000 : null;
    if (next === null || next > end) {
      xs.push(end);
      ys.push(values[i]);
      if (next !== null) {
        xs.push((end + next) / 2);
        ys.push(null);
      }
    }
  }
  return [xs, ys];
}

/**
 * Merges two series onto one x axis (uPlot wants aligned data): the union of their x
 * values. Where a series has no point it gets `undefined`, which uPlot joins across (an
 * alignment artifact), unlike its own `null`s, which stay gaps. A shared x carries both.
 * @param {[number[], (number|null)[]]} a
 * @param {[number[], (number|null)[]]} b
 * @returns {[number[], (number|null|undefined)[], (number|null|undefined)[]]}
 */
export function mergeSeries(a, b) {
  const xs = [];
  const ya = [];
  const yb = [];
  let i = 0;
  let j = 0;
  while (i < a[0].length || j < b[0].length) {
    const xa = i < a[0].length ? a[0][i] : Infinity;
    const xb = j < b[0].length ? b[0][j] : Infinity;
    if (xa === xb) {
      xs.push(xa);
      ya.push(a[1][i++]);
      yb.push(b[1][j++]);
    } else if (xa < xb) {
      xs.push(xa);
      ya.push(a[1][i++]);
      yb.push(undefined);
    } else {
      xs.push(xb);
      ya.push(undefined);
      yb.push(b[1][j++]);
    }
  }
  return [xs, ya, yb];
}
