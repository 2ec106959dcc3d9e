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
