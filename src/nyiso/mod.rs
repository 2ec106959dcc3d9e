//! NYISO formats, pure: fuel-mix CSV parsing under the reading policy (DESIGN §3), monthly zip
//! archives, the `isolf` load forecast, the size limits of a NYISO file, and the file names and
//! URLs of NYISO's datasets. No I/O here: the sources that fetch these files (over HTTP, from a
//! folder) are adapters ([`crate::adapters::nyiso`]).

mod files;
pub mod isolf;
mod parse;

pub use crate::reading::{ParseError, ParseProblem};
pub use files::{
    daily_file_name, daily_url, file_date, monthly_zip_name, monthly_zip_url, today_in_new_york,
    Dataset, DEFAULT_BASE_URL, NEW_YORK,
};
pub use parse::{
    local_to_utc, parse_bytes, parse_fuel_mix_csv, parse_monthly_zip, split_unterminated,
    FuelMixAccumulator, Incomplete, InvalidReading, ParsedFile, MAX_ARCHIVE_INFLATED_BYTES,
    MAX_CSV_BYTES, MAX_MEMBER_BYTES, MAX_ZIP_BYTES,
};
