// The charge-window answer in one sentence: docs/forecast.md, "Dashboard sentence"
// (implemented exactly). Pure: the caller passes the current time. Every time is New York
// time on a 12-hour clock with its day ("1:00 AM tomorrow"), whatever the viewer's zone.
//
//   1. No payload, no window of the chosen length, `issued` more than 2 h before now, or a
//      "later" window whose start has passed -> nothing (null).
//   2. The window's `advice` (older payloads without it: "now" when it starts at `issued` or
//      rounds below 1 %, else "later"):
//      learning     -> "Still learning the grid's daily pattern ({n} h of history, advice
//                       from 24 h) — no charging advice yet"
//      not_worth_it -> "No meaningfully cleaner time in the next 24 h — charge when it suits you"
//      now          -> "Plug in now for {H} h — ready by {end}, no cleaner time in the next 24 h"
//      later        -> "Plug in at {start} {day} for {H} h — ready by {end}, {pct} % cleaner than now"
//   `start`/`end` on New York's clock ("1:00 AM"); `day` "today"/"tomorrow" against now in New
//   York; `end` gets its own day only when it is not the start's.

import { ADVICE } from "./contract.js";
import { formatLocalTime, nyDayNumber, nyDayWord } from "./format.js";

/** The default charge length, hours. */
export const DEFAULT_CHARGE_HOURS = 4;
/** A charge-window payload issued longer ago than this is not shown. */
export const MAX_SENTENCE_AGE_MS = 2 * 3_600_000;
/** Hourly means the calculator needs before it advises (forecast::advice::ADVICE_MIN_HOURS). */
export const ADVICE_MIN_HOURS = 24;


/**
 * The advice for a window: its own, or (payloads from before the field) "now"/"later".
 * @param {{issued: number}} cw
 * @param {{start: number, cleanerPct: number, advice?: string|null}} w
 */
export function adviceOf(cw, w) {
  if (w.advice && ADVICE.includes(w.advice)) return w.advice;
  return w.start === cw.issued || Math.round(w.cleanerPct) < 1 ? "now" : "later";
}

/**
 * @param {{issued: number, historyHours?: number|null, windows: {hours: number, start: number,
 *   end: number, cleanerPct: number, advice?: string|null}[]}|null} chargeWindow the checked
 *   `computed/charge-window` payload (epoch ms), or null
 * @param {{nowMs: number, hours?: number}} opts `nowMs`: the current time (in a replay, the
 *   newest reading's instant); `hours`: the charge length
 * @returns {string|null}
 */
export function chargeSentence(chargeWindow, { nowMs, hours = DEFAULT_CHARGE_HOURS } = {}) {
  if (!chargeWindow) return null;
  const w = chargeWindow.windows.find((x) => x.hours === hours);
  if (!w) return null;
  if (!(nowMs - chargeWindow.issued <= MAX_SENTENCE_AGE_MS)) return null;
  const advice = adviceOf(chargeWindow, w);
  if (advice === "learning") {
    const n = chargeWindow.historyHours;
    const so = Number.isInteger(n) ? ` (${n} h of history, advice from ${ADVICE_MIN_HOURS} h)` : "";
    return `Still learning the grid's daily pattern${so} — no charging advice yet`;
  }
  if (advice === "not_worth_it") return "No meaningfully cleaner time in the next 24 h — charge when it suits you";
  const endDay = nyDayNumber(w.end) === nyDayNumber(w.start) ? "" : ` ${nyDayWord(w.end, nowMs)}`;
  const readyBy = `ready by ${formatLocalTime(w.end)}${endDay}`;
  if (advice === "now") return `Plug in now for ${hours} h — ${readyBy}, no cleaner time in the next 24 h`;
  if (w.start <= nowMs) return null; // the advised start has passed: the payload is out of date
  const pct = Math.round(w.cleanerPct);
  return `Plug in at ${formatLocalTime(w.start)} ${nyDayWord(w.start, nowMs)} for ${hours} h — ${readyBy}, ${pct} % cleaner than now`;
}

/**
 * The ready-by line ("the overnight plug-in case"): for the ready-by time `readyBy` (HH:MM)
 * and the charge length, from the payload's `ready_by` entry — never computed here.
 *   nothing (null): as chargeSentence's rule 1, no such time or window, or `learning`
 *   now          -> "Ready by {T}: plug in now for {H} h — no cleaner time before then"
 *   not_worth_it -> "Ready by {T}: no meaningfully cleaner time before then — charge when it suits you"
 *   later        -> "Ready by {T}: plug in at {start} {day} for {H} h — {pct} % cleaner than now"
 * `{T}` is the ready-by time on the 12-hour clock ("7:00 AM"), `{start}`/`{day}` as above.
 * @param {{issued: number, readyBy?: {time: string, windows: {hours: number, start: number,
 *   end: number, cleanerPct: number, advice?: string|null}[]}[]|null}|null} chargeWindow
 * @param {{nowMs: number, hours?: number, readyBy: string}} opts
 * @returns {string|null}
 */
export function readyBySentence(chargeWindow, { nowMs, hours = DEFAULT_CHARGE_HOURS, readyBy }) {
  if (!chargeWindow?.readyBy) return null;
  if (!(nowMs - chargeWindow.issued <= MAX_SENTENCE_AGE_MS)) return null;
  const entry = chargeWindow.readyBy.find((r) => r.time === readyBy);
  const w = entry?.windows.find((x) => x.hours === hours);
  if (!w) return null;
  const advice = adviceOf(chargeWindow, w);
  const t = clock12(readyBy);
  if (advice === "learning") return null;
  if (advice === "now") return `Ready by ${t}: plug in now for ${hours} h — no cleaner time before then`;
  if (advice === "not_worth_it") return `Ready by ${t}: no meaningfully cleaner time before then — charge when it suits you`;
  if (w.start <= nowMs) return null;
  const pct = Math.round(w.cleanerPct);
  return `Ready by ${t}: plug in at ${formatLocalTime(w.start)} ${nyDayWord(w.start, nowMs)} for ${hours} h — ${pct} % cleaner than now`;
}

/** "07:00" -> "7:00 AM", "13:30" -> "1:30 PM", "00:15" -> "12:15 AM". */
export function clock12(hhmm) {
  const [h, m] = hhmm.split(":").map(Number);
  return `${h % 12 === 0 ? 12 : h % 12}:${String(m).padStart(2, "0")} ${h < 12 ? "AM" : "PM"}`;
}
