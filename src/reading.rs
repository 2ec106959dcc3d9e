//! The domain: the seven NYISO fuel categories and a *reading* (one complete fuel mix at one
//! instant). Pure data, no I/O.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One of the seven fuel categories NYISO reports, in the order of DESIGN §3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fuel {
    /// `Dual Fuel` (units that burn gas or oil).
    DualFuel,
    /// `Natural Gas`.
    NaturalGas,
    /// `Nuclear`.
    Nuclear,
    /// `Other Fossil Fuels` (oil; coal before 2020).
    OtherFossilFuels,
    /// `Other Renewables` (biomass, landfill gas, refuse, solar).
    OtherRenewables,
    /// `Wind`.
    Wind,
    /// `Hydro` (includes pumped storage).
    Hydro,
}

impl Fuel {
    /// All seven categories, in contract order.
    pub const ALL: [Fuel; 7] = [
        Fuel::DualFuel,
        Fuel::NaturalGas,
        Fuel::Nuclear,
        Fuel::OtherFossilFuels,
        Fuel::OtherRenewables,
        Fuel::Wind,
        Fuel::Hydro,
    ];

    /// The slug used everywhere in ny-power (topics, JSON keys, archive fields).
    pub const fn slug(self) -> &'static str {
        match self {
            Fuel::DualFuel => "dual_fuel",
            Fuel::NaturalGas => "natural_gas",
            Fuel::Nuclear => "nuclear",
            Fuel::OtherFossilFuels => "other_fossil_fuels",
            Fuel::OtherRenewables => "other_renewables",
            Fuel::Wind => "wind",
            Fuel::Hydro => "hydro",
        }
    }

    /// The category name as written in NYISO's `Fuel Category` column.
    pub const fn nyiso_name(self) -> &'static str {
        match self {
            Fuel::DualFuel => "Dual Fuel",
            Fuel::NaturalGas => "Natural Gas",
            Fuel::Nuclear => "Nuclear",
            Fuel::OtherFossilFuels => "Other Fossil Fuels",
            Fuel::OtherRenewables => "Other Renewables",
            Fuel::Wind => "Wind",
            Fuel::Hydro => "Hydro",
        }
    }

    /// Index of this fuel in [`Fuel::ALL`] and in a [`FuelMix`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Looks a category up by its NYISO name (exact, as in the files).
    pub fn from_nyiso_name(name: &str) -> Option<Fuel> {
        // A direct match: this runs once per CSV row.
        Some(match name {
            "Dual Fuel" => Fuel::DualFuel,
            "Natural Gas" => Fuel::NaturalGas,
            "Nuclear" => Fuel::Nuclear,
            "Other Fossil Fuels" => Fuel::OtherFossilFuels,
            "Other Renewables" => Fuel::OtherRenewables,
            "Wind" => Fuel::Wind,
            "Hydro" => Fuel::Hydro,
            _ => return None,
        })
    }

    /// Looks a category up by its slug.
    pub fn from_slug(slug: &str) -> Option<Fuel> {
        Fuel::ALL.into_iter().find(|f| f.slug() == slug)
    }

    /// True for the fuels that emit no CO2 at the stack (nuclear, wind, hydro).
    pub const fn is_zero_carbon(self) -> bool {
        matches!(self, Fuel::Nuclear | Fuel::Wind | Fuel::Hydro)
    }

    /// True for fossil fuels (dual fuel, natural gas, other fossil fuels).
    pub const fn is_fossil(self) -> bool {
        matches!(
            self,
            Fuel::DualFuel | Fuel::NaturalGas | Fuel::OtherFossilFuels
        )
    }
}

impl fmt::Display for Fuel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

/// The least MW one fuel of a reading may report (DESIGN §3): generation is never negative.
pub const MIN_FUEL_MW: f64 = 0.0;

/// The most MW one fuel of a reading may report (DESIGN §3). New York's all-time peak load is
/// about 33,000 MW and its whole fleet about 40,000 MW, so 60,000 MW for one fuel is no value a
/// grid produces: a reading beyond it (or negative, or not a finite number) is not a reading.
pub const MAX_FUEL_MW: f64 = 60_000.0;

/// How far past the current time a reading's instant may lie and still be taken (DESIGN §6):
/// NYISO stamps a reading at the end of its five-minute interval and clocks drift a little;
/// anything later is refused (not published, not used, the cursor does not move past it).
pub const MAX_FUTURE_SLACK: TimeDelta = TimeDelta::minutes(15);

/// Whether `mw` is a value one fuel of a reading may have: finite and within
/// [`MIN_FUEL_MW`]`..=`[`MAX_FUEL_MW`].
pub fn is_valid_mw(mw: f64) -> bool {
    mw.is_finite() && (MIN_FUEL_MW..=MAX_FUEL_MW).contains(&mw)
}

/// The latest instant a reading may have at `now` (`now` + [`MAX_FUTURE_SLACK`]).
pub fn latest_acceptable(now: DateTime<Utc>) -> DateTime<Utc> {
    now.checked_add_signed(MAX_FUTURE_SLACK).unwrap_or(now)
}

/// A fuel value outside what a grid produces (see [`is_valid_mw`]).
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error("fuel `{fuel}`: {mw} MW is not a generation value (expected a number from {MIN_FUEL_MW} to {MAX_FUEL_MW})")]
pub struct InvalidMw {
    /// The fuel.
    pub fuel: Fuel,
    /// Its value.
    pub mw: f64,
}

/// Generation in MW for each of the seven fuels, indexed by [`Fuel::index`].
///
/// Serialises as a JSON object keyed by slug in contract order; deserialising requires all seven
/// slugs, each a valid value ([`is_valid_mw`]), and nothing else. Build one from outside data
/// with [`FuelMix::new`], which checks the values; [`FuelMix::check`] checks one built
/// otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct FuelMix(pub [f64; 7]);

impl FuelMix {
    /// A mix of the seven values (in [`Fuel::ALL`] order).
    ///
    /// # Errors
    /// [`InvalidMw`] for the first value that is negative, not finite or above
    /// [`MAX_FUEL_MW`].
    pub fn new(mw: [f64; 7]) -> Result<FuelMix, InvalidMw> {
        let mix = FuelMix(mw);
        mix.check()?;
        Ok(mix)
    }

    /// Checks every value (see [`is_valid_mw`]).
    ///
    /// # Errors
    /// [`InvalidMw`] for the first fuel whose value is not a generation value.
    pub fn check(&self) -> Result<(), InvalidMw> {
        match self.iter().find(|(_, mw)| !is_valid_mw(*mw)) {
            Some((fuel, mw)) => Err(InvalidMw { fuel, mw }),
            None => Ok(()),
        }
    }

    /// MW of one fuel.
    pub fn get(&self, fuel: Fuel) -> f64 {
        self.0[fuel.index()]
    }

    /// Sets the MW of one fuel.
    pub fn set(&mut self, fuel: Fuel, mw: f64) {
        self.0[fuel.index()] = mw;
    }

    /// Total generation over all seven fuels.
    pub fn total_mw(&self) -> f64 {
        self.0.iter().sum()
    }

    /// `(fuel, MW)` pairs in contract order.
    pub fn iter(&self) -> impl Iterator<Item = (Fuel, f64)> + '_ {
        Fuel::ALL.into_iter().map(|f| (f, self.get(f)))
    }

    /// Share of the total (0..=1) from zero-carbon fuels; `None` when the total is not positive.
    pub fn zero_carbon_share(&self) -> Option<f64> {
        self.share_where(Fuel::is_zero_carbon)
    }

    /// Share of the total (0..=1) from fossil fuels; `None` when the total is not positive.
    pub fn fossil_share(&self) -> Option<f64> {
        self.share_where(Fuel::is_fossil)
    }

    fn share_where(&self, pick: fn(Fuel) -> bool) -> Option<f64> {
        let total = self.total_mw();
        (total > 0.0).then(|| {
            self.iter()
                .filter(|(f, _)| pick(*f))
                .map(|(_, mw)| mw)
                .sum::<f64>()
                / total
        })
    }
}

impl Serialize for FuelMix {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(7))?;
        for (fuel, mw) in self.iter() {
            map.serialize_entry(fuel.slug(), &mw)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for FuelMix {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MixVisitor;
        impl<'de> Visitor<'de> for MixVisitor {
            type Value = FuelMix;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object with the seven fuel slugs as keys and MW as values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FuelMix, A::Error> {
                let mut values: [Option<f64>; 7] = [None; 7];
                while let Some(key) = map.next_key::<String>()? {
                    let fuel = Fuel::from_slug(&key)
                        .ok_or_else(|| de::Error::custom(format!("unknown fuel `{key}`")))?;
                    let mw: f64 = map.next_value()?;
                    if !is_valid_mw(mw) {
                        return Err(de::Error::custom(InvalidMw { fuel, mw }));
                    }
                    if values[fuel.index()].replace(mw).is_some() {
                        return Err(de::Error::custom(format!("fuel `{key}` given twice")));
                    }
                }
                let mut mix = FuelMix::default();
                for fuel in Fuel::ALL {
                    let mw = values[fuel.index()]
                        .ok_or_else(|| de::Error::custom(format!("fuel `{fuel}` missing")))?;
                    mix.set(fuel, mw);
                }
                Ok(mix)
            }
        }
        deserializer.deserialize_map(MixVisitor)
    }
}

/// One complete reading: all seven fuels at one instant (DESIGN §3, reading policy).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// The instant, in UTC.
    pub ts: DateTime<Utc>,
    /// Generation by fuel.
    pub mix: FuelMix,
}

impl Reading {
    /// Total generation over all seven fuels.
    pub fn total_mw(&self) -> f64 {
        self.mix.total_mw()
    }

    /// Whether the reading lies too far in the future to be taken at `now` (later than
    /// [`latest_acceptable`]).
    pub fn is_too_far_ahead(&self, now: DateTime<Utc>) -> bool {
        self.ts > latest_acceptable(now)
    }
}

// Why an input is not a reading. Defined with the domain (not in `nyiso`, which produces
// it) so the ports can name a rejected input without importing a source layer.

/// Why an input was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}{}: {problem}", line.map(|l| format!(": line {l}")).unwrap_or_default())]
pub struct ParseError {
    /// The file (for a zip member: `archive.zip!member.csv`).
    pub file: String,
    /// 1-based line, where the problem is on a line.
    pub line: Option<u64>,
    /// What is wrong.
    pub problem: ParseProblem,
}

/// The classes of rejection.
#[derive(Debug, Clone, PartialEq)]
pub enum ParseProblem {
    /// Zero bytes, or only white space.
    Empty,
    /// Starts like an HTML page (an error page served instead of the CSV); holds the start of
    /// its first line.
    Html(String),
    /// Not UTF-8 text.
    NotText,
    /// The header is not a fuel-mix header.
    WrongHeader(String),
    /// A row without exactly four fields.
    FieldCount(usize),
    /// A time stamp that is not `MM/DD/YYYY HH:MM[:SS]`.
    BadTime(String),
    /// A time zone other than `EST`/`EDT`.
    UnknownZone(String),
    /// A fuel category that is not one of the seven.
    UnknownFuel(String),
    /// A generation value that is not a finite number.
    BadNumber(String),
    /// A zip archive that cannot be read.
    BadZip(String),
    /// A zip archive with no CSV inside.
    EmptyZip,
    /// An input (or a zip member, or a whole archive inflated) larger than allowed: holds the
    /// limit in bytes.
    TooLarge(u64),
    /// The CSV reader failed (e.g. an unterminated quote).
    Csv(String),
}

impl fmt::Display for ParseProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseProblem::Empty => write!(f, "empty file: no header"),
            ParseProblem::Html(start) => write!(
                f,
                "not a fuel-mix CSV: starts like an HTML page (`{start}`; an error page served instead?)"
            ),
            ParseProblem::NotText => write!(f, "not a fuel-mix CSV: not UTF-8 text"),
            ParseProblem::WrongHeader(h) => write!(
                f,
                "not a fuel-mix CSV: header is `{h}`, expected `Time Stamp,Time Zone,Fuel Category,Gen MW` (or `Gen MWh`)"
            ),
            ParseProblem::FieldCount(n) => write!(f, "expected 4 fields, found {n}"),
            ParseProblem::BadTime(v) => write!(
                f,
                "field `Time Stamp`: bad time `{v}` (expected MM/DD/YYYY HH:MM:SS or MM/DD/YYYY HH:MM)"
            ),
            ParseProblem::UnknownZone(v) => {
                write!(f, "field `Time Zone`: unknown zone `{v}` (expected EST or EDT)")
            }
            ParseProblem::UnknownFuel(v) => write!(f, "field `Fuel Category`: unknown fuel `{v}`"),
            ParseProblem::BadNumber(v) => write!(f, "field `Gen MW`: bad number `{v}`"),
            ParseProblem::BadZip(e) => write!(f, "not a readable zip archive: {e}"),
            ParseProblem::EmptyZip => write!(f, "zip archive holds no CSV file"),
            ParseProblem::TooLarge(limit) => write!(
                f,
                "larger than the {limit} bytes a fuel-mix file may have (not a NYISO file?)"
            ),
            ParseProblem::Csv(e) => write!(f, "unreadable CSV: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_names_round_trip() {
        for fuel in Fuel::ALL {
            assert_eq!(Fuel::from_slug(fuel.slug()), Some(fuel));
            assert_eq!(Fuel::from_nyiso_name(fuel.nyiso_name()), Some(fuel));
            assert_eq!(Fuel::ALL[fuel.index()], fuel);
        }
        assert_eq!(Fuel::from_nyiso_name("Coal"), None);
        assert_eq!(Fuel::from_slug("Wind"), None);
    }

    #[test]
    fn mix_serialises_in_contract_order_and_rejects_partial() {
        let mix = FuelMix([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.5]);
        let json = serde_json::to_string(&mix).unwrap();
        assert_eq!(
            json,
            r#"{"dual_fuel":1.0,"natural_gas":2.0,"nuclear":3.0,"other_fossil_fuels":4.0,"other_renewables":5.0,"wind":6.0,"hydro":7.5}"#
        );
        assert_eq!(serde_json::from_str::<FuelMix>(&json).unwrap(), mix);
        let missing = r#"{"dual_fuel":1.0}"#;
        let err = serde_json::from_str::<FuelMix>(missing)
            .unwrap_err()
            .to_string();
        assert!(err.contains("natural_gas` missing"), "{err}");
        let unknown = json.replace("hydro", "coal");
        let err = serde_json::from_str::<FuelMix>(&unknown)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown fuel `coal`"), "{err}");
    }

    #[test]
    fn values_no_grid_produces_are_refused() {
        for bad in [-1.0, -0.001, 60_000.5, 1e308, f64::INFINITY, f64::NAN] {
            assert!(!is_valid_mw(bad), "{bad}");
            let mut mw = [1.0; 7];
            mw[Fuel::Hydro.index()] = bad;
            let err = FuelMix::new(mw).unwrap_err();
            assert_eq!(err.fuel, Fuel::Hydro);
            assert!(FuelMix(mw).check().is_err());
        }
        for good in [0.0, 0.5, 60_000.0] {
            assert!(is_valid_mw(good), "{good}");
        }
        assert!(FuelMix::new([0.0; 7]).is_ok());
        let json = r#"{"dual_fuel":1.0,"natural_gas":-2.0,"nuclear":3.0,"other_fossil_fuels":4.0,"other_renewables":5.0,"wind":6.0,"hydro":7.5}"#;
        let err = serde_json::from_str::<FuelMix>(json)
            .unwrap_err()
            .to_string();
        assert!(err.contains("natural_gas") && err.contains("-2"), "{err}");
        let huge = json.replace("-2.0", "1e308");
        assert!(serde_json::from_str::<FuelMix>(&huge).is_err());
    }

    #[test]
    fn readings_too_far_ahead() {
        use chrono::TimeZone;
        let now = Utc.with_ymd_and_hms(2025, 2, 1, 12, 0, 0).unwrap();
        let at = |ts| Reading {
            ts,
            mix: FuelMix::default(),
        };
        assert!(!at(now).is_too_far_ahead(now));
        assert!(!at(now + MAX_FUTURE_SLACK).is_too_far_ahead(now));
        assert!(at(now + MAX_FUTURE_SLACK + TimeDelta::seconds(1)).is_too_far_ahead(now));
    }

    #[test]
    fn shares() {
        let mix = FuelMix([1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0]);
        assert_eq!(mix.zero_carbon_share(), Some(0.4));
        assert_eq!(mix.fossil_share(), Some(0.6));
        assert_eq!(FuelMix::default().zero_carbon_share(), None);
    }
}
