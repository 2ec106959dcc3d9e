// The current fuel mix as display rows: fixed DESIGN order (rows stay put as values
// change), MW and share of the total. Shares are of the sum of the seven fuels;
// a negative MW (station load) counts as 0 in the share and the bar.

import { FUELS, ZERO_CARBON_FUELS } from "./contract.js";

export const FUEL_LABELS = {
  dual_fuel: "Dual fuel (gas/oil)",
  natural_gas: "Natural gas",
  nuclear: "Nuclear",
  other_fossil_fuels: "Other fossil fuels",
  other_renewables: "Other renewables",
  wind: "Wind",
  hydro: "Hydro",
};

/**
 * @param {Record<string, number>} fuels slug -> MW, all seven
 * @returns {{rows: {slug: string, label: string, mw: number, share: number, zeroCarbon: boolean}[],
 *   totalMw: number, zeroCarbonShare: number}}
 */
export function mixRows(fuels) {
  const pos = (v) => (Number.isFinite(v) && v > 0 ? v : 0);
  const total = FUELS.reduce((s, f) => s + pos(fuels[f]), 0);
  const share = (v) => (total > 0 ? pos(v) / total : 0);
  const rows = FUELS.map((slug) => ({
    slug,
    label: FUEL_LABELS[slug],
    mw: fuels[slug],
    share: share(fuels[slug]),
    zeroCarbon: ZERO_CARBON_FUELS.includes(slug),
  }));
  const zeroCarbonShare = ZERO_CARBON_FUELS.reduce((s, f) => s + share(fuels[f]), 0);
  return { rows, totalMw: total, zeroCarbonShare };
}
