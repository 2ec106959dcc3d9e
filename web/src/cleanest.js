// The cleanest hour of the last 24 hours.
//
// Rule: a candidate window starts at each reading's instant t and covers [t, t + 60 min).
// Its score is the plain mean of the readings inside it. A window counts only if the
// history covers it (t + 55 min <= the newest reading, i.e. each reading stands for
// the 5 minutes after it) and it holds at least MIN_WINDOW_READINGS readings (so a gap
// in the data cannot make a one-reading "hour"). The lowest mean wins; on a tie, the
// earliest window. Computed in O(n) with two pointers.

export const WINDOW_MS = 60 * 60_000;
export const READING_SPAN_MS = 5 * 60_000;
export const MIN_WINDOW_READINGS = 6;

/**
 * @param {number[]} ts epoch ms, strictly increasing
 * @param {number[]} values same length
 * @returns {{start: number, end: number, mean: number, count: number}|null}
 */
export function cleanestHour(ts, values) {
  const n = ts.length;
  if (n === 0 || n !== values.length) return null;
  const last = ts[n - 1];
  let best = null;
  let j = 0; // first index outside the window
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const start = ts[i];
    if (start + WINDOW_MS - READING_SPAN_MS > last) break;
    if (j < i) {
      j = i;
      sum = 0;
    }
    while (j < n && ts[j] < start + WINDOW_MS) {
      sum += values[j];
      j++;
    }
    const count = j - i;
    if (count >= MIN_WINDOW_READINGS) {
      const mean = sum / count;
      if (best === null || mean < best.mean) best = { start, end: start + WINDOW_MS, mean, count };
    }
    sum -= values[i];
  }
  return best;
}
