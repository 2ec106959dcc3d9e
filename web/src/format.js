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
  return dateTimeFmt.format(new Date(epochMs));
}

/** New York local clock time: "12:05 AM". */
export function formatLocalTime(epochMs) {
  return timeFmt.format(new Date(epochMs));
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
