// Low / moderate / high relative to the last 24 hours.
//
// Rule: tertiles of the 24 h history values (linear interpolation between order
// statistics, like numpy's default quantile). A value at or below the lower tertile is
// "low", above the upper tertile "high", otherwise "moderate". With fewer than
// MIN_BAND_POINTS history values there is no band (null). A flat history (every value
// the same) gives "moderate".

export const MIN_BAND_POINTS = 6;

/**
 * Quantile of sorted values, q in [0, 1], linear interpolation.
 * @param {number[]} sorted ascending
 * @param {number} q
 */
export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * @param {number[]} values history values
 * @returns {{low: number, high: number}|null} the lower and upper tertiles
 */
export function tertiles(values) {
  if (values.length < MIN_BAND_POINTS) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return { low: quantile(sorted, 1 / 3), high: quantile(sorted, 2 / 3) };
}

/**
 * @param {number} value current intensity
 * @param {number[]} historyValues 24 h of intensities (same factor table as `value`)
 * @returns {"low"|"moderate"|"high"|null}
 */
export function bandFor(value, historyValues) {
  if (!Number.isFinite(value)) return null;
  const t = tertiles(historyValues);
  if (t === null) return null;
  const min = Math.min(...historyValues);
  const max = Math.max(...historyValues);
  if (min === max) return "moderate";
  if (value <= t.low) return "low";
  if (value > t.high) return "high";
  return "moderate";
}

/** A `computed/co2/band` message more than this older than the reading shown is not used. */
export const MAX_BAND_LAG_MS = 60 * 60_000;

/**
 * The band the page shows: the calculator's 30-day band (`computed/co2/band`) when there is
 * one for (about) the reading on screen, else this module's 24 h tertile band of the direct
 * value. Always about the direct intensity: the band describes the grid, not the accounting.
 * @param {{ts: number, band: string}|null} bandMsg checked `computed/co2/band` payload
 * @param {{ts: number, value: number}|null} co2 the direct reading
 * @param {{values: number[]}|null} history the 24 h history
 * @returns {{band: "low"|"moderate"|"high", source: "30d"|"24h"} | null}
 */
export function displayBand(bandMsg, co2, history) {
  if (bandMsg && (!co2 || bandMsg.ts >= co2.ts - MAX_BAND_LAG_MS)) {
    return { band: /** @type {"low"|"moderate"|"high"} */ (bandMsg.band), source: "30d" };
  }
  const b = co2 && history ? bandFor(co2.value, history.values) : null;
  return b ? { band: b, source: "24h" } : null;
}
