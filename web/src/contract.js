// The MQTT contract (DESIGN.md §5, schema v1), JavaScript side.
//
// This file is data only: topic suffixes below the topic root, the fuel slugs
// in DESIGN order, and the payload field names; keep it a plain ESM file of
// `export const` literals. test/contract-stream.test.js checks it, and the
// validators, against the Rust `stream` module's own description of the
// contract (`ny-power contract --json`, written by web/test.sh): every topic
// the page knows, its retained flag and QoS, and a real example payload each.

/** Topic suffixes; the full topic is `${topic_root}/${suffix}` (default root `ny-power`). */
export const TOPICS = {
  fuelMix: "upstream/fuel-mix",
  fuel: "upstream/fuel-mix/", // + fuel slug
  co2: "computed/co2",
  co2Lifecycle: "computed/co2/lifecycle",
  history: "archive/co2/24h",
  cursor: "status/fuel-mix/updated",
  // docs/forecast.md
  forecast: "computed/co2/forecast",
  chargeWindow: "computed/charge-window",
  band: "computed/co2/band",
};

/** Default topic root: gives exactly the topics of DESIGN.md §5. */
export const DEFAULT_TOPIC_ROOT = "ny-power";

/** The seven NYISO fuel categories, as slugs, in DESIGN order. */
export const FUELS = [
  "dual_fuel",
  "natural_gas",
  "nuclear",
  "other_fossil_fuels",
  "other_renewables",
  "wind",
  "hydro",
];

/** Fuels counted as zero-carbon (direct emissions) in the zero-carbon share. */
export const ZERO_CARBON_FUELS = ["nuclear", "wind", "hydro"];

/** Payload field names and fixed values. */
export const FIELDS = {
  issued: "issued", // forecast / charge window: the newest reading's instant
  ts: "ts", // RFC 3339 UTC instant, e.g. "2025-02-01T05:05:00Z"; an array in the history
  fuels: "fuels", // fuel-mix: object slug -> MW
  totalMw: "total_mw", // fuel-mix: sum of the seven fuels, MW
  value: "value", // per-fuel MW, or intensity g/kWh
  values: "values", // history: intensities, oldest first
  units: "units",
  factors: "factors", // "direct" | "lifecycle"
  windows: "windows", // charge window: one entry per charge length
  hours: "hours", // window: charge length, h
  start: "start", // window: when to plug in
  end: "end", // window: start + hours
  mean: "mean", // window: forecast mean over the window
  nowMean: "now_mean", // window: the same charge started now
  cleanerPct: "cleaner_than_now_pct", // window: (now_mean - mean) / now_mean * 100
  advice: "advice", // window: later | now | not_worth_it | learning
  historyHours: "history_hours", // charge window: hourly means behind the forecast
  marginPct: "margin_pct", // charge window: a later start is advised from this % cleaner on
  readyBy: "ready_by", // charge window: per ready-by time, the windows that end by it
  readyByDefault: "ready_by_default", // charge window: the CHARGE_READY_BY setting
  time: "time", // ready-by: New York HH:MM
  band: "band", // band: "low" | "moderate" | "high"
  lowBelow: "low_below", // band: lower tercile of the 30 days' hourly means
  highAbove: "high_above", // band: upper tercile
  windowDays: "window_days", // band: days compared against (the span really used)
  learning: "learning", // band: fewer than a week of hourly means
  index: "index", // band: the fixed New York index level
  indexBoundaries: "index_boundaries", // band: the index's four g/kWh boundaries
};

/** The `index` values of `computed/co2/band`, cleanest first. */
export const INDEX_LEVELS = ["very_low", "low", "moderate", "high", "very_high"];

/** The `advice` values of a `computed/charge-window` window. */
export const ADVICE = ["later", "now", "not_worth_it", "learning"];

/** The `band` values of `computed/co2/band`. */
export const BANDS = ["low", "moderate", "high"];

export const UNITS = {
  power: "MW",
  intensity: "g/kWh",
};

/** Emission-factor table named in each intensity topic's `factors` field. */
export const FACTORS = {
  co2: "direct",
  co2Lifecycle: "lifecycle",
};

/** MQTT QoS for every subscription (AWS IoT Core has no QoS 2). */
export const QOS = 1;
