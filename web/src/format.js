// Text formatting for the page. Pure and deterministic: fixed locale (en-US) and
// fixed time zone (America/New_York, where NYISO's readings are taken).

export const TIME_ZONE = "America/New_York";

const intensityFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const mwFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const shareFmt = new Intl.NumberFormat("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });

/**
 * Intensity in g/kWh as a whole number ("248.75" -> "249"): the emission factors are
 * not known to better than a few g/kWh, so decimals would be false precision.
 * @param {number} gPerKwh
 */
export function formatIntensity(gPerKwh) {
  if (!Number.isFinite(gPerKwh)) return "—";
  // Avoid "-0" for tiny negative rounding noise.
  const v = Math.round(gPerKwh) === 0 ? 0 : gPerKwh;
  return intensityFmt.format(v);
}

/** Megawatts with thousands separators, whole numbers: 4613.0 -> "4,613". */
export function formatMw(mw) {
  if (!Number.isFinite(mw)) return "—";
  return mwFmt.format(Math.round(mw) === 0 ? 0 : mw);
}

/** A share 0..1 as a percentage with one decimal: 0.3265 -> "32.7%". */
export function formatShare(share) {
  if (!Number.isFinite(share)) return "—";
  return `${shareFmt.format(share * 100)}%`;
}

const dateTimeFmt = new Intl.DateTimeFormat("en-US", {
  timeZone: TIME_ZONE,
  weekday: "short",
  month: "short",
  day: "numeric",
  hour: "numeric",
  minute: "2-digit",
  timeZoneName: "short",
});

const timeFmt = new Intl.DateTimeFormat("en-US", {
  timeZone: TIME_ZONE,
  hour: "numeric",
  minute: "2-digit",
});

const zoneFmt = new Intl.DateTimeFormat("en-US", { timeZone: TIME_ZONE, timeZoneName: "short" });

/** New York local date and time: "Sat, Feb 1, 12:05 AM EST". */
export function formatLocalDateTime(epochMs) {
  return plainSpaces(dateTimeFmt.format(new Date(epochMs)));
}

/** Some ICU versions put a narrow no-break space before AM/PM: one plain space everywhere. */
function plainSpaces(s) {
  return s.replace(/[\u202f\u00a0]/g, " ");
}

/** New York local clock time: "12:05 AM". */
export function formatLocalTime(epochMs) {
  return plainSpaces(timeFmt.format(new Date(epochMs)));
}

/** The New York zone abbreviation in effect at an instant: "EST" or "EDT". */
export function zoneAbbrev(epochMs) {
  const part = zoneFmt.formatToParts(new Date(epochMs)).find((p) => p.type === "timeZoneName");
  return part ? part.value : "";
}

/** A time range in New York time: "2:10 – 3:10 AM EST" style, "2:10 AM – 3:10 AM EST". */
export function formatLocalRange(startMs, endMs) {
  return `${formatLocalTime(startMs)} – ${formatLocalTime(endMs)} ${zoneAbbrev(endMs)}`;
}

/**
 * How long ago, coarse: "just now", "3 min ago", "2 h 5 min ago", "3 days ago".
 * Negative ages (a clock slightly behind the server) read "just now".
 * @param {number} ageMs now - reading time
 */
export function formatAge(ageMs) {
  if (!Number.isFinite(ageMs)) return "";
  const min = Math.floor(ageMs / 60000);
  if (min < 1) return "just now";
  if (min < 60) return `${min} min ago`;
  const h = Math.floor(min / 60);
  if (h < 48) {
    const m = min % 60;
    return m === 0 ? `${h} h ago` : `${h} h ${m} min ago`;
  }
  return `${Math.floor(h / 24)} days ago`;
}

const ymdFmt = new Intl.DateTimeFormat("en-US", { timeZone: TIME_ZONE, year: "numeric", month: "numeric", day: "numeric" });
const weekdayDateFmt = new Intl.DateTimeFormat("en-US", { timeZone: TIME_ZONE, weekday: "short", month: "short", day: "numeric" });

/** The New York calendar date of an instant as a day number (days since 1970-01-01). */
export function nyDayNumber(epochMs) {
  const parts = ymdFmt.formatToParts(new Date(epochMs));
  const get = (type) => Number(parts.find((p) => p.type === type)?.value);
  return Math.round(Date.UTC(get("year"), get("month") - 1, get("day")) / 86_400_000);
}

/**
 * The New York day of `epochMs` relative to `nowMs`'s: "today", "tomorrow", else
 * "Mon, Feb 3" (a charge window lies within 24 h of its issue, so the last is rare).
 */
export function nyDayWord(epochMs, nowMs) {
  const d = nyDayNumber(epochMs) - nyDayNumber(nowMs);
  if (d === 0) return "today";
  if (d === 1) return "tomorrow";
  return weekdayDateFmt.format(new Date(epochMs));
}

/**
 * Minutes east of UTC of `timeZone` (undefined: the runtime's own) at an instant, from the
 * wall clock Intl gives there.
 */
export function utcOffsetMinutes(epochMs, timeZone) {
  const fmt = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
  });
  const parts = fmt.formatToParts(new Date(epochMs));
  const get = (type) => Number(parts.find((p) => p.type === type)?.value);
  const wall = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour") % 24, get("minute"));
  return Math.round((wall - Math.floor(epochMs / 60_000) * 60_000) / 60_000);
}

/**
 * The one-time note for a viewer whose clock is not New York's at `nowMs` ("Times are New
 * York time (EST)."), or null when the viewer's zone reads the same wall clock.
 * @param {number} nowMs
 * @param {string} [viewerZone] IANA zone (undefined: the runtime's own)
 */
export function zoneNote(nowMs, viewerZone) {
  if (!Number.isFinite(nowMs)) return null;
  if (utcOffsetMinutes(nowMs, viewerZone) === utcOffsetMinutes(nowMs, TIME_ZONE)) return null;
  return `Times are New York time (${zoneAbbrev(nowMs)}).`;
}
