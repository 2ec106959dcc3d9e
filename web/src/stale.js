// Staleness of a reading. The page re-evaluates this on a local timer; nothing is
// fetched from the server.

/**
 * A reading is stale when it is strictly older than `staleAfterMinutes`
 * (exactly 15 min old is still fresh with the default of 15).
 * @param {number} readingMs reading instant, epoch ms
 * @param {number} nowMs current time, epoch ms
 * @param {number} staleAfterMinutes
 */
export function isStale(readingMs, nowMs, staleAfterMinutes) {
  return nowMs - readingMs > staleAfterMinutes * 60_000;
}

/**
 * The instant a reading's age is measured against. Live: the wall clock. Replay: the
 * newest reading the page holds, so replayed (old) data is not called stale and the
 * charge sentence is not dropped as old; a lagging topic still shows its lag.
 * @param {string} mode config mode ("live", "replay", …)
 * @param {number} wallNowMs Date.now()
 * @param {{co2?: {ts: number}|null, co2Lifecycle?: {ts: number}|null, fuelMix?: {ts: number}|null,
 *   history?: {ts: number[]}|null}} state
 */
export function referenceNow(mode, wallNowMs, state) {
  if (mode !== "replay") return wallNowMs;
  const times = [state.co2?.ts, state.co2Lifecycle?.ts, state.fuelMix?.ts, state.history?.ts.at(-1)].filter(
    (t) => typeof t === "number" && Number.isFinite(t),
  );
  return times.length ? Math.max(...times) : wallNowMs;
}
