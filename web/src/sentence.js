// The charge-window answer in one sentence: docs/forecast.md, "Dashboard sentence"
// (implemented exactly). Pure: the caller passes the current time and the viewer's zone.
//
//   1. No payload, no window of the chosen length, or `issued` more than 2 h before now
//      -> nothing (null).
//   2. pct = Math.round(cleaner_than_now_pct). If the window starts at `issued` or pct < 1:
//      "Plug in now for {H} h: no cleaner time in the next 24 h".
//   3. Otherwise "Plug in at {HH:MM} for {H} h: {pct} % cleaner than now", HH:MM = the
//      window's start in the viewer's local time, 24-hour clock, zero-padded.

/** The default charge length, hours. */
export const DEFAULT_CHARGE_HOURS = 4;
/** A charge-window payload issued longer ago than this is not shown. */
export const MAX_SENTENCE_AGE_MS = 2 * 3_600_000;

const clockFormats = new Map();

/**
 * "HH:MM", 24-hour clock, zero-padded, in `timeZone` (undefined: the runtime's own zone).
 * @param {number} epochMs
 * @param {string} [timeZone] IANA zone
 */
export function formatClock24(epochMs, timeZone) {
  const key = timeZone ?? "";
  let fmt = clockFormats.get(key);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat("en-GB", { timeZone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    clockFormats.set(key, fmt);
  }
  const parts = fmt.formatToParts(new Date(epochMs));
  const get = (type) => parts.find((p) => p.type === type)?.value ?? "00";
  // hourCycle h23 gives 00..23; guard against engines that still say "24" at midnight.
  const hh = get("hour") === "24" ? "00" : get("hour");
  return `${hh.padStart(2, "0")}:${get("minute").padStart(2, "0")}`;
}

/**
 * @param {{issued: number, windows: {hours: number, start: number, cleanerPct: number}[]}|null} chargeWindow
 *   the checked `computed/charge-window` payload (epoch ms), or null
 * @param {{nowMs: number, hours?: number, timeZone?: string}} opts `nowMs`: the current time
 *   (in a replay, the newest reading's instant); `hours`: the charge length; `timeZone`: the viewer's
 * @returns {string|null}
 */
export function chargeSentence(chargeWindow, { nowMs, hours = DEFAULT_CHARGE_HOURS, timeZone } = {}) {
  if (!chargeWindow) return null;
  const w = chargeWindow.windows.find((x) => x.hours === hours);
  if (!w) return null;
  if (!(nowMs - chargeWindow.issued <= MAX_SENTENCE_AGE_MS)) return null;
  const pct = Math.round(w.cleanerPct);
  if (w.start === chargeWindow.issued || pct < 1) {
    return `Plug in now for ${hours} h: no cleaner time in the next 24 h`;
  }
  return `Plug in at ${formatClock24(w.start, timeZone)} for ${hours} h: ${pct} % cleaner than now`;
}
