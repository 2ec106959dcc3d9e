//! NYISO sources: fuel-mix CSV parsing under the reading policy (DESIGN §3), monthly zip
//! archives, and the file names and URLs of NYISO's datasets.

mod files;
pub mod folder;
pub mod http;
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
    MAX_MEMBER_BYTES,
};
