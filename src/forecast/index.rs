//! The fixed intensity index for New York (issue 12), like the UK Carbon Intensity API's:
//! five levels with published g/kWh boundaries that do not move with the recent past, so a
//! reading means the same thing in every month. The relative band ([`super::band`]) says how
//! the reading compares with recent weeks; the index says how clean the grid is.
//!
//! **Boundaries** ([`INDEX_BOUNDARIES`], direct factors): the quintiles of the hourly mean
//! intensity over the eight real months in `tests/fixtures/nyiso/` (2022: Jan, Feb, May, Jun,
//! Aug, Sep, Oct; 2025: Feb), each month weighted by its hours, rounded to 5 g/kWh — so over
//! those months each level holds about a fifth of the hours. `tests/forecast_index.rs`
//! recomputes them from the archives. Method and numbers: `docs/forecast.md`, "Fixed index".
//!
//! **Hysteresis** ([`INDEX_HYSTERESIS`]): once at a level, a reading stays there until it is
//! more than that many g/kWh past one of the level's boundaries, so a value wavering around a
//! boundary does not flicker between two levels.

use crate::intensity::Factors;

/// Upper boundaries of very low, low, moderate and high, g/kWh (direct factors); above the
/// last is very high. A value equal to a boundary belongs to the level above it.
pub const INDEX_BOUNDARIES: [f64; 4] = [210.0, 220.0, 235.0, 250.0];

/// How far past a boundary a reading must go to leave the current level, g/kWh.
pub const INDEX_HYSTERESIS: f64 = 4.0;

/// One of the five fixed levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum IndexLevel {
    /// Below the first boundary.
    VeryLow,
    /// Between the first and second.
    Low,
    /// Between the second and third.
    Moderate,
    /// Between the third and fourth.
    High,
    /// From the fourth up.
    VeryHigh,
}

impl IndexLevel {
    /// Every level, cleanest first.
    pub const ALL: [IndexLevel; 5] = [
        IndexLevel::VeryLow,
        IndexLevel::Low,
        IndexLevel::Moderate,
        IndexLevel::High,
        IndexLevel::VeryHigh,
    ];

    /// `very_low`, `low`, `moderate`, `high` or `very_high` (the band payload's `index`).
    pub const fn name(self) -> &'static str {
        match self {
            IndexLevel::VeryLow => "very_low",
            IndexLevel::Low => "low",
            IndexLevel::Moderate => "moderate",
            IndexLevel::High => "high",
            IndexLevel::VeryHigh => "very_high",
        }
    }

    fn position(self) -> usize {
        self as usize
    }

    /// The level's range `[lower, upper)` in g/kWh (infinite at the ends).
    pub fn range(self, boundaries: &[f64; 4]) -> (f64, f64) {
        let i = self.position();
        let lower = if i == 0 {
            f64::NEG_INFINITY
        } else {
            boundaries[i - 1]
        };
        let upper = boundaries.get(i).copied().unwrap_or(f64::INFINITY);
        (lower, upper)
    }
}

/// The boundaries for a factor table: the published ones for `direct` (the default), none
/// for the others (no index is published with them).
pub fn boundaries_for(factors: Factors) -> Option<[f64; 4]> {
    (factors == Factors::Direct).then_some(INDEX_BOUNDARIES)
}

/// The level of `value` by the boundaries alone (no memory). `None` for a non-finite value.
pub fn level(value: f64, boundaries: &[f64; 4]) -> Option<IndexLevel> {
    if !value.is_finite() {
        return None;
    }
    let i = boundaries.iter().take_while(|b| value >= **b).count();
    Some(IndexLevel::ALL[i])
}

/// The level of `value` given the level shown before (`previous`): the same level while the
/// value stays within `hysteresis` g/kWh of that level's range, else the level of the value.
pub fn level_with_hysteresis(
    value: f64,
    previous: Option<IndexLevel>,
    boundaries: &[f64; 4],
    hysteresis: f64,
) -> Option<IndexLevel> {
    let now = level(value, boundaries)?;
    match previous {
        Some(p) => {
            let (lower, upper) = p.range(boundaries);
            if value >= lower - hysteresis && value < upper + hysteresis {
                Some(p)
            } else {
                Some(now)
            }
        }
        None => Some(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: [f64; 4] = INDEX_BOUNDARIES;

    #[test]
    fn boundaries_split_into_five_levels() {
        let names: Vec<&str> = IndexLevel::ALL.iter().map(|l| l.name()).collect();
        assert_eq!(names, ["very_low", "low", "moderate", "high", "very_high"]);
        assert!(B.windows(2).all(|w| w[0] < w[1]), "boundaries increase");
        assert_eq!(level(0.0, &B), Some(IndexLevel::VeryLow));
        assert_eq!(level(B[0] - 0.01, &B), Some(IndexLevel::VeryLow));
        // A value equal to a boundary belongs to the level above.
        assert_eq!(level(B[0], &B), Some(IndexLevel::Low));
        assert_eq!(level(B[1], &B), Some(IndexLevel::Moderate));
        assert_eq!(level(B[2] - 0.01, &B), Some(IndexLevel::Moderate));
        assert_eq!(level(B[2], &B), Some(IndexLevel::High));
        assert_eq!(level(B[3], &B), Some(IndexLevel::VeryHigh));
        assert_eq!(level(900.0, &B), Some(IndexLevel::VeryHigh));
        assert_eq!(level(f64::NAN, &B), None);
        assert_eq!(IndexLevel::VeryLow.range(&B), (f64::NEG_INFINITY, B[0]));
        assert_eq!(IndexLevel::VeryHigh.range(&B), (B[3], f64::INFINITY));
        assert_eq!(boundaries_for(Factors::Direct), Some(B));
        assert_eq!(boundaries_for(Factors::Lifecycle), None);
    }

    #[test]
    fn hysteresis_holds_a_level_near_its_boundary() {
        let h = INDEX_HYSTERESIS;
        let at = |v: f64, p: Option<IndexLevel>| level_with_hysteresis(v, p, &B, h).unwrap();
        // Moderate | high boundary at B[2]: a reading just over it stays moderate…
        assert_eq!(
            at(B[2] + h - 0.1, Some(IndexLevel::Moderate)),
            IndexLevel::Moderate
        );
        // …until it is more than h past: then high.
        assert_eq!(at(B[2] + h, Some(IndexLevel::Moderate)), IndexLevel::High);
        // Coming back down, high holds until h below the boundary.
        assert_eq!(at(B[2] - h, Some(IndexLevel::High)), IndexLevel::High);
        assert_eq!(
            at(B[2] - h - 0.1, Some(IndexLevel::High)),
            IndexLevel::Moderate
        );
        // Without a previous level, the boundaries alone.
        assert_eq!(at(B[2] + 0.1, None), IndexLevel::High);
        assert_eq!(at(B[2] - 0.1, None), IndexLevel::Moderate);
        // A jump across several levels goes straight to the value's level.
        assert_eq!(
            at(B[3] + 50.0, Some(IndexLevel::VeryLow)),
            IndexLevel::VeryHigh
        );
        // A wavering series around a boundary: one change with hysteresis, many without.
        let wave: Vec<f64> = (0..40)
            .map(|i| B[2] + if i % 2 == 0 { -2.0 } else { 2.5 })
            .collect();
        let changes = |h: f64| {
            let mut prev = None;
            let mut n = 0;
            for v in &wave {
                let l = level_with_hysteresis(*v, prev, &B, h);
                if prev.is_some() && l != prev {
                    n += 1;
                }
                prev = l;
            }
            n
        };
        assert_eq!(changes(0.0), 39);
        assert_eq!(changes(h), 0);
    }
}
