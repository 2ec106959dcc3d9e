//! CO2 intensity: the emission-factor tables (data files under `data/factors/`, each entry with
//! its source) and the intensity of a fuel mix (DESIGN §4).

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::reading::{Fuel, FuelMix};

/// Errors of the intensity layer.
#[derive(Debug, thiserror::Error)]
pub enum IntensityError {
    /// A factor table name that does not exist.
    #[error("unknown factor table `{0}` (known: direct, lifecycle, ny-power-2016)")]
    UnknownTable(String),
    /// A factor table data file that does not parse.
    #[error("factor table `{table}`: {problem}")]
    BadTable {
        /// The table's name.
        table: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// The factor tables that ship with ny-power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Factors {
    /// Direct (stack) emissions, Electricity Maps 2023 for US-NY-NYIS. The default.
    #[default]
    Direct,
    /// Lifecycle emissions (direct + upstream), Electricity Maps 2023 / IPCC AR5.
    Lifecycle,
    /// The original 2016 ny-power project's factors (EIA 2016), for comparison.
    NyPower2016,
}

impl Factors {
    /// Every table, in a fixed order.
    pub const ALL: [Factors; 3] = [Factors::Direct, Factors::Lifecycle, Factors::NyPower2016];

    /// The table's name as used in config, payloads (`"factors"`) and files.
    pub const fn name(self) -> &'static str {
        match self {
            Factors::Direct => "direct",
            Factors::Lifecycle => "lifecycle",
            Factors::NyPower2016 => "ny-power-2016",
        }
    }

    fn data(self) -> &'static str {
        match self {
            Factors::Direct => include_str!("../../data/factors/direct.csv"),
            Factors::Lifecycle => include_str!("../../data/factors/lifecycle.csv"),
            Factors::NyPower2016 => include_str!("../../data/factors/ny-power-2016.csv"),
        }
    }

    /// The parsed table. The data files are part of the build and checked by tests, so this
    /// cannot fail at run time for a released binary.
    pub fn table(self) -> &'static FactorTable {
        static TABLES: OnceLock<Vec<FactorTable>> = OnceLock::new();
        let tables = TABLES.get_or_init(|| {
            Factors::ALL
                .iter()
                .map(|f| {
                    FactorTable::parse(f.name(), f.data()).unwrap_or_else(|e| {
                        // Only reachable if a data file shipped broken; tests guard against it.
                        tracing::error!("{e}");
                        FactorTable::empty(f.name())
                    })
                })
                .collect()
        });
        &tables[self as usize]
    }

    /// CO2 intensity in g/kWh of a mix with this table; `None` when total generation is not
    /// positive.
    pub fn intensity(self, mix: &FuelMix) -> Option<f64> {
        self.table().intensity(mix)
    }
}

impl fmt::Display for Factors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Factors {
    type Err = IntensityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Factors::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| IntensityError::UnknownTable(s.to_owned()))
    }
}

/// One emission-factor table: g CO2 per kWh for each fuel, with the source of each number.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorTable {
    /// The table's name.
    pub name: String,
    /// g/kWh by [`Fuel::index`].
    pub g_per_kwh: [f64; 7],
    /// Where each number comes from, by [`Fuel::index`].
    pub sources: [String; 7],
}

#[derive(Deserialize)]
struct Row {
    fuel: String,
    g_per_kwh: f64,
    source: String,
}

impl FactorTable {
    fn empty(name: &str) -> Self {
        FactorTable {
            name: name.to_owned(),
            g_per_kwh: [f64::NAN; 7],
            sources: Default::default(),
        }
    }

    /// Parses a factor table from its CSV data file (`fuel,g_per_kwh,source`, one row per fuel).
    ///
    /// # Errors
    /// [`IntensityError::BadTable`] when a row is malformed, a fuel is unknown, given twice or
    /// missing, a factor is negative or not finite, or a source is empty.
    pub fn parse(name: &str, csv_text: &str) -> Result<Self, IntensityError> {
        let bad = |problem: String| IntensityError::BadTable {
            table: name.to_owned(),
            problem,
        };
        let mut g = [None; 7];
        let mut sources: [String; 7] = Default::default();
        for (i, row) in csv::Reader::from_reader(csv_text.as_bytes())
            .deserialize::<Row>()
            .enumerate()
        {
            let line = i + 2;
            let row = row.map_err(|e| bad(format!("line {line}: {e}")))?;
            let fuel = Fuel::from_slug(&row.fuel)
                .ok_or_else(|| bad(format!("line {line}: unknown fuel `{}`", row.fuel)))?;
            if !(row.g_per_kwh.is_finite() && row.g_per_kwh >= 0.0) {
                return Err(bad(format!("line {line}: bad factor {}", row.g_per_kwh)));
            }
            if row.source.trim().is_empty() {
                return Err(bad(format!("line {line}: fuel `{fuel}` has no source")));
            }
            if g[fuel.index()].replace(row.g_per_kwh).is_some() {
                return Err(bad(format!("line {line}: fuel `{fuel}` given twice")));
            }
            sources[fuel.index()] = row.source;
        }
        let mut g_per_kwh = [0.0; 7];
        for fuel in Fuel::ALL {
            g_per_kwh[fuel.index()] =
                g[fuel.index()].ok_or_else(|| bad(format!("fuel `{fuel}` missing")))?;
        }
        Ok(FactorTable {
            name: name.to_owned(),
            g_per_kwh,
            sources,
        })
    }

    /// The factor of one fuel, g/kWh.
    pub fn factor(&self, fuel: Fuel) -> f64 {
        self.g_per_kwh[fuel.index()]
    }

    /// Σ(MW × factor) / Σ MW over the seven fuels; `None` when the total is not positive.
    pub fn intensity(&self, mix: &FuelMix) -> Option<f64> {
        let total = mix.total_mw();
        if total <= 0.0 || !total.is_finite() {
            return None;
        }
        let weighted: f64 = mix.iter().map(|(f, mw)| mw * self.factor(f)).sum();
        Some(weighted / total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_tables_parse_with_sources() {
        for f in Factors::ALL {
            let t = FactorTable::parse(f.name(), f.data()).unwrap();
            assert!(t.sources.iter().all(|s| !s.is_empty()));
            assert_eq!(f.table(), &t);
        }
        assert_eq!(Factors::default(), Factors::Direct);
        assert_eq!("lifecycle".parse::<Factors>().unwrap(), Factors::Lifecycle);
        assert!("dirty".parse::<Factors>().is_err());
    }

    #[test]
    fn table_values_match_design() {
        let d = Factors::Direct.table();
        assert_eq!(d.factor(Fuel::NaturalGas), 417.21);
        assert_eq!(d.factor(Fuel::OtherFossilFuels), 503.38);
        assert_eq!(d.factor(Fuel::OtherRenewables), 575.0);
        let l = Factors::Lifecycle.table();
        assert_eq!(l.factor(Fuel::Hydro), 24.0);
        assert_eq!(l.factor(Fuel::Wind), 11.0);
        let o = Factors::NyPower2016.table();
        let gas = 1000.0 * 26_865_277.0 / 56_793_336.0;
        let dual = 1000.0 * (623_836.0 + 0.3 * 26_865_277.0) / (642_952.0 + 0.3 * 56_793_336.0);
        let coal = 1000.0 * 2_145_561.0 / 1_770_238.0;
        assert!((o.factor(Fuel::NaturalGas) - gas).abs() < 1e-9);
        assert!((o.factor(Fuel::DualFuel) - dual).abs() < 1e-9);
        assert!((o.factor(Fuel::OtherFossilFuels) - coal).abs() < 1e-9);
        assert_eq!(o.factor(Fuel::OtherRenewables), 0.0);
    }

    #[test]
    fn intensity_is_weighted_mean() {
        let mut mix = FuelMix::default();
        mix.set(Fuel::NaturalGas, 100.0);
        mix.set(Fuel::Nuclear, 300.0);
        let v = Factors::Direct.intensity(&mix).unwrap();
        assert!((v - 417.21 / 4.0).abs() < 1e-9);
        assert_eq!(Factors::Direct.intensity(&FuelMix::default()), None);
    }

    #[test]
    fn bad_tables_are_rejected_with_reason() {
        let e = FactorTable::parse("x", "fuel,g_per_kwh,source\ncoal,1,src\n").unwrap_err();
        assert!(e.to_string().contains("line 2: unknown fuel `coal`"), "{e}");
        let e = FactorTable::parse("x", "fuel,g_per_kwh,source\nwind,0,src\n").unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
    }
}
