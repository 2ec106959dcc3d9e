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
