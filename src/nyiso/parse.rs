//! Fuel-mix CSV parsing under the reading policy of DESIGN §3.
//!
//! A *reading* is all rows with the same (time stamp, time zone); its instant is the local time
//! minus the zone's offset (EST −5 h, EDT −4 h). The later of two rows for the same fuel wins.
//! A reading missing any of the seven fuels is incomplete: left out and reported. Readings come
//! out sorted by instant. Any row that cannot be read rejects the whole input, with the file,
//! the line and the offending value in the error; nothing of a rejected input is returned.
//! A reading with a value no grid produces (negative, not finite, above
//! [`crate::reading::MAX_FUEL_MW`]) is not a reading: it is left out and reported with the file
//! and line of the offending value.
//!
//! Values from the input are quoted in errors through [`crate::quote::quote`] (short, control
//! characters escaped), and a zip member may inflate to at most [`MAX_MEMBER_BYTES`] (an archive
//! to [`MAX_ARCHIVE_INFLATED_BYTES`] in all): a hostile archive costs bounded memory.

use std::fmt;
use std::io::{Cursor, Read};

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};

use crate::quote::quote;
use crate::reading::{Fuel, FuelMix, ParseError, ParseProblem, Reading};

/// The most bytes one CSV member of a zip may inflate to (a real day's file is ~90 KB: this is
/// 45 times that). A bigger member rejects the archive ([`ParseProblem::TooLarge`]).
pub const MAX_MEMBER_BYTES: u64 = 4 << 20;

/// The most bytes all CSV members of one zip may inflate to together (a real month is ~2.8 MB:
/// this is about 20 times that).
pub const MAX_ARCHIVE_INFLATED_BYTES: u64 = 64 << 20;

/// The most bytes of a daily NYISO file a source reads (over HTTP after gzip decoding, or from
/// disk). A real day is ~90 KB: this is 45 times that. A bigger file is rejected
/// ([`ParseProblem::TooLarge`]).
pub const MAX_CSV_BYTES: u64 = 4 << 20;

/// The most bytes of a monthly zip a source reads. A real month's zip is ~0.3 MB (~2.8 MB
/// inflated): this is 100 times that.
pub const MAX_ZIP_BYTES: u64 = 32 << 20;

/// A reading left out because fuels were missing.
#[derive(Debug, Clone, PartialEq)]
pub struct Incomplete {
    /// Its instant.
    pub ts: DateTime<Utc>,
    /// The fuels it lacks.
    pub missing: Vec<Fuel>,
    /// Where its first row was (`file`, line).
    pub file: String,
    /// Line of its first row.
    pub line: u64,
}

/// A reading left out because one of its values is none a grid produces (negative, not
/// finite, or above [`crate::reading::MAX_FUEL_MW`]).
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidReading {
    /// Its instant.
    pub ts: DateTime<Utc>,
    /// The first fuel (in contract order) with such a value.
    pub fuel: Fuel,
    /// That value.
    pub mw: f64,
    /// The input of the row holding the value.
    pub file: String,
    /// The line of the row holding the value.
    pub line: u64,
}

impl fmt::Display for InvalidReading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: line {}: reading at {} left out: {}",
            self.file,
            self.line,
            self.ts.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            crate::reading::InvalidMw {
                fuel: self.fuel,
                mw: self.mw
            }
        )
    }
}

/// The outcome of parsing one or more inputs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ParsedFile {
    /// Complete readings, sorted by instant, one per instant.
    pub readings: Vec<Reading>,
    /// Readings left out as incomplete, sorted by instant.
    pub incomplete: Vec<Incomplete>,
    /// Readings left out for a value no grid produces, sorted by instant.
    pub invalid: Vec<InvalidReading>,
}

/// Consecutive rows of one instant in one input, merged (the later row of a fuel wins).
#[derive(Debug, Clone)]
struct Group {
    ts: DateTime<Utc>,
    mw: [Option<f64>; 7],
    /// Line of the group's first row.
    line: u64,
    /// Line of the row that set each value.
    lines: [u64; 7],
}

#[derive(Debug, Clone)]
struct Partial {
    mw: [Option<f64>; 7],
    /// Index into [`FuelMixAccumulator::files`] of the input of its first row.
    file: usize,
    line: u64,
    /// Input and line of the row that set each value.
    at: [(usize, u64); 7],
}

/// Collects rows from several inputs (e.g. yesterday's and today's file, or every day of a
/// monthly zip) into readings: rows of the same instant from different inputs join, later rows
/// win. Each input is all-or-nothing: a rejected input leaves the accumulator unchanged.
#[derive(Debug, Clone, Default)]
pub struct FuelMixAccumulator {
    /// Groups of rows in the order they were added (input by input); merged by instant in
    /// [`FuelMixAccumulator::finish`].
    groups: Vec<(usize, Group)>,
    /// Names of the inputs added, in order.
    files: Vec<String>,
}

impl FuelMixAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a fuel-mix CSV.
    ///
    /// # Errors
    /// [`ParseError`] naming `name`, the line and the value when the input is not a fuel-mix
    /// CSV; nothing of it is kept.
    pub fn add_csv(&mut self, name: &str, bytes: &[u8]) -> Result<(), ParseError> {
        let groups = read_rows(name, bytes)?;
        self.apply(name, groups);
        Ok(())
    }

    /// Adds every CSV of a monthly zip, in member-name (= date) order.
    ///
    /// # Errors
    /// [`ParseError`] when the archive or any member is unreadable; nothing of it is kept.
    pub fn add_zip(&mut self, name: &str, bytes: &[u8]) -> Result<(), ParseError> {
        let parsed = read_zip(name, bytes)?;
        for (label, groups) in parsed {
            self.apply(&label, groups);
        }
        Ok(())
    }

    /// Adds a CSV or a zip, told apart by content (a zip starts with `PK\x03\x04`).
    ///
    /// # Errors
    /// As [`FuelMixAccumulator::add_csv`] / [`FuelMixAccumulator::add_zip`].
    pub fn add(&mut self, name: &str, bytes: &[u8]) -> Result<(), ParseError> {
        if bytes.starts_with(b"PK\x03\x04") {
            self.add_zip(name, bytes)
        } else {
            self.add_csv(name, bytes)
        }
    }

    /// Adds a daily CSV that may still be being written (a live NYISO file, which ends without
    /// a line break): unless `confirmed` — a later fetch showed the same bytes — an
    /// unterminated last line may be a row cut short (`…,Hydro,30` for `…,Hydro,3068.0`), so
    /// it is not read, and the newest reading of the input is held back: the instant returned
    /// (the last reading's, or the cut row's if it is earlier). The caller must use no reading
    /// at or after it until a later fetch confirms the bytes. A zip, or an input ending in a
    /// line break, is added as [`FuelMixAccumulator::add`] adds it (nothing held back).
    ///
    /// # Errors
    /// As [`FuelMixAccumulator::add`] for the part read; nothing of the input is kept then.
    pub fn add_growing(
        &mut self,
        name: &str,
        bytes: &[u8],
        confirmed: bool,
    ) -> Result<Option<DateTime<Utc>>, ParseError> {
        let (whole, tail) = split_unterminated(bytes);
        // An HTML page is no start of a fuel-mix file, whatever follows: reject it at once.
        let html = bytes.trim_ascii_start().starts_with(b"<");
        if confirmed || tail.is_empty() || html || bytes.starts_with(b"PK\x03\x04") {
            self.add(name, bytes)?;
            return Ok(None);
        }
        let tail_ts = tail_instant(tail);
        if whole.iter().all(u8::is_ascii_whitespace) {
            // Not even the header is whole yet: nothing to read.
            return Ok(tail_ts);
        }
        let groups = read_rows(name, whole)?;
        let last = groups.last().map(|g| g.ts);
        self.apply(name, groups);
        Ok(match (last, tail_ts) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    fn apply(&mut self, name: &str, groups: Vec<Group>) {
        let file = self.files.len();
        self.files.push(name.to_owned());
        self.groups.extend(groups.into_iter().map(|g| (file, g)));
    }

    /// The complete readings and the incomplete ones, both sorted by instant.
    pub fn finish(mut self) -> ParsedFile {
        let mut out = ParsedFile::default();
        // A stable sort keeps rows of one instant in the order they were added, so folding
        // each run lets later rows win while the first row names the file and line.
        self.groups.sort_by_key(|(_, g)| g.ts);
        let mut partials: Vec<(DateTime<Utc>, Partial)> = Vec::with_capacity(self.groups.len());
        for (file, group) in self.groups {
            match partials.last_mut() {
                Some((ts, partial)) if *ts == group.ts => {
                    for i in 0..7 {
                        if group.mw[i].is_some() {
                            partial.mw[i] = group.mw[i];
                            partial.at[i] = (file, group.lines[i]);
                        }
                    }
                }
                _ => partials.push((
                    group.ts,
                    Partial {
                        mw: group.mw,
                        file,
                        line: group.line,
                        at: group.lines.map(|l| (file, l)),
                    },
                )),
            }
        }
        for (ts, p) in partials {
            let missing: Vec<Fuel> = Fuel::ALL
                .into_iter()
                .filter(|f| p.mw[f.index()].is_none())
                .collect();
            if missing.is_empty() {
                let mix = FuelMix(p.mw.map(Option::unwrap_or_default));
                match mix.check() {
                    Ok(()) => out.readings.push(Reading { ts, mix }),
                    Err(bad) => {
                        let (file, line) = p.at[bad.fuel.index()];
                        out.invalid.push(InvalidReading {
                            ts,
                            fuel: bad.fuel,
                            mw: bad.mw,
                            file: self.files.get(file).cloned().unwrap_or_default(),
                            line,
                        });
                    }
                }
            } else {
                out.incomplete.push(Incomplete {
                    ts,
                    missing,
                    file: self.files.get(p.file).cloned().unwrap_or_default(),
                    line: p.line,
                });
            }
        }
        out
    }
}

/// Splits an input into the part whose lines all end in a line break and its unterminated last
/// line; the latter is empty when the input ends in a line break or only white space follows
/// the last one.
pub fn split_unterminated(bytes: &[u8]) -> (&[u8], &[u8]) {
    let cut = memchr::memrchr(b'\n', bytes).map_or(0, |i| i + 1);
    let (whole, tail) = bytes.split_at(cut);
    if tail.iter().all(u8::is_ascii_whitespace) {
        (bytes, &[])
    } else {
        (whole, tail)
    }
}

/// The instant of a (possibly cut) last row, when its time stamp and zone are whole.
fn tail_instant(tail: &[u8]) -> Option<DateTime<Utc>> {
    let text = std::str::from_utf8(tail).ok()?;
    let mut fields = text.split(',');
    let unquote = |f: &str| f.trim().trim_matches('"').trim().to_owned();
    let time = unquote(fields.next()?);
    let zone = unquote(fields.next()?);
    // A third field means the zone was not cut.
    fields.next()?;
    to_utc(&time, &zone).ok()
}

/// Parses one daily fuel-mix CSV.
///
/// # Errors
/// [`ParseError`] naming the file, line and value (see [`ParseProblem`]).
pub fn parse_fuel_mix_csv(name: &str, bytes: &[u8]) -> Result<ParsedFile, ParseError> {
    let mut acc = FuelMixAccumulator::new();
    acc.add_csv(name, bytes)?;
    Ok(acc.finish())
}

/// Parses a monthly `…rtfuelmix_csv.zip` (every day inside, in order).
///
/// # Errors
/// [`ParseError`] when the archive or any member is unreadable.
pub fn parse_monthly_zip(name: &str, bytes: &[u8]) -> Result<ParsedFile, ParseError> {
    let mut acc = FuelMixAccumulator::new();
    acc.add_zip(name, bytes)?;
    Ok(acc.finish())
}

/// Parses a daily CSV or a monthly zip, told apart by content.
///
/// # Errors
/// As [`parse_fuel_mix_csv`] / [`parse_monthly_zip`].
pub fn parse_bytes(name: &str, bytes: &[u8]) -> Result<ParsedFile, ParseError> {
    let mut acc = FuelMixAccumulator::new();
    acc.add(name, bytes)?;
    Ok(acc.finish())
}

/// Unzips and parses every CSV member of a zip, in member-name (= date) order. Members are
/// independent, so they are inflated and parsed on all available cores; the result does not
/// depend on how they were split. All or nothing: the first error (in member order) wins.
fn read_zip(name: &str, bytes: &[u8]) -> Result<Vec<(String, Vec<Group>)>, ParseError> {
    let err = |problem| ParseError {
        file: name.to_owned(),
        line: None,
        problem,
    };
    let archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| err(ParseProblem::BadZip(quote(&e.to_string()))))?;
    let mut members: Vec<(usize, String)> = archive
        .file_names()
        .filter(|n| !n.ends_with('/') && n.to_ascii_lowercase().ends_with(".csv"))
        .filter_map(|n| archive.index_for_name(n).map(|i| (i, n.to_owned())))
        .collect();
    if members.is_empty() {
        return Err(err(ParseProblem::EmptyZip));
    }
    members.sort_by(|a, b| a.1.cmp(&b.1));
    // The sizes the archive declares bound nothing (a member may inflate to more than it
    // says), but a declared size over the limits rejects the archive before inflating it.
    let mut declared = 0u64;
    for (index, member) in &members {
        let size = archive
            .clone()
            .by_index_raw(*index)
            .map(|f| f.size())
            .unwrap_or(0);
        if size > MAX_MEMBER_BYTES {
            return Err(ParseError {
                file: format!("{name}!{}", quote(member)),
                line: None,
                problem: ParseProblem::TooLarge(MAX_MEMBER_BYTES),
            });
        }
        declared = declared.saturating_add(size);
    }
    if declared > MAX_ARCHIVE_INFLATED_BYTES {
        return Err(err(ParseProblem::TooLarge(MAX_ARCHIVE_INFLATED_BYTES)));
    }
    // What members really inflate to, all together (workers share it).
    let inflated = std::sync::atomic::AtomicU64::new(0);

    let read_member = |archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
                       index: usize,
                       member: &str|
     -> Result<(String, Vec<Group>), ParseError> {
        let label = format!("{name}!{}", quote(member));
        let bad_zip = |e: &dyn fmt::Display| {
            err(ParseProblem::BadZip(format!(
                "member `{}`: {}",
                quote(member),
                quote(&e.to_string())
            )))
        };
        let too_large = |limit| ParseError {
            file: label.clone(),
            line: None,
            problem: ParseProblem::TooLarge(limit),
        };
        let file = archive.by_index(index).map_err(|e| bad_zip(&e))?;
        let mut data =
            Vec::with_capacity(usize::try_from(file.size().min(MAX_MEMBER_BYTES)).unwrap_or(0));
        // One byte more than allowed tells "too large" from "exactly the limit".
        file.take(MAX_MEMBER_BYTES + 1)
            .read_to_end(&mut data)
            .map_err(|e| bad_zip(&e))?;
        if data.len() as u64 > MAX_MEMBER_BYTES {
            return Err(too_large(MAX_MEMBER_BYTES));
        }
        let total = inflated.fetch_add(data.len() as u64, std::sync::atomic::Ordering::Relaxed)
            + data.len() as u64;
        if total > MAX_ARCHIVE_INFLATED_BYTES {
            return Err(err(ParseProblem::TooLarge(MAX_ARCHIVE_INFLATED_BYTES)));
        }
        let groups = read_rows(&label, &data)?;
        Ok((label, groups))
    };

    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(members.len());
    let chunk = members.len().div_ceil(workers);
    let results: Vec<Result<(String, Vec<Group>), ParseError>> = if workers <= 1 {
        let mut archive = archive;
        members
            .iter()
            .map(|(i, m)| read_member(&mut archive, *i, m))
            .collect()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = members
                .chunks(chunk)
                .map(|part| {
                    let mut archive = archive.clone();
                    let read_member = &read_member;
                    scope.spawn(move || {
                        part.iter()
                            .map(|(i, m)| read_member(&mut archive, *i, m))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| {
                    h.join().unwrap_or_else(|_| {
                        vec![Err(err(ParseProblem::BadZip(
                            "a worker parsing the archive failed".to_owned(),
                        )))]
                    })
                })
                .collect()
        })
    };
    results.into_iter().collect()
}

/// Reads one CSV into groups of rows, all or nothing.
fn read_rows(name: &str, bytes: &[u8]) -> Result<Vec<Group>, ParseError> {
    let err = |line: Option<u64>, problem| ParseError {
        file: name.to_owned(),
        line,
        problem,
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        // Name the line of the first bad byte.
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64
            + 1;
        err(Some(line), ParseProblem::NotText)
    })?;
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return Err(err(None, ParseProblem::Empty));
    }
    if trimmed.starts_with('<') {
        // Name the line the page starts on and quote its beginning.
        let line = text[..text.len() - trimmed.len()].matches('\n').count() as u64 + 1;
        let first = trimmed.lines().next().unwrap_or_default().trim_end();
        return Err(err(Some(line), ParseProblem::Html(quote(first))));
    }

    // Almost every NYISO file has plain lines: read those with a plain line splitter; a file
    // with quoting the splitter does not handle goes through the full CSV reader instead. Both
    // feed the same rows to the same checks, so they give the same readings and errors.
    match read_plain_lines(name, text) {
        Some(result) => result,
        None => read_csv_records(name, text),
    }
}

/// Reads a file whose lines are all plain: every field either free of `"` or wholly `"…"`
/// with no `"` inside, lines ending in `\n` or `\r\n`. `None` as soon as a line is not plain
/// (e.g. a quoted comma or line break, an escaped quote, a lone `\r`).
///
/// One pass over the bytes; `,`, `"`, `\r` and `\n` are ASCII, so every cut is on a character
/// boundary of the (already valid UTF-8) text.
fn read_plain_lines(name: &str, text: &str) -> Option<Result<Vec<Group>, ParseError>> {
    let bytes = text.as_bytes();
    let mut sink = RowSink::new(name, text.len());
    let mut fields: Vec<&str> = Vec::with_capacity(8);
    let mut line = 1u64;
    let mut line_start = 0usize;
    let mut field_start = 0usize;
    let mut quoted = false;
    // A lone carriage return (not part of `\r\n`): leave the file to the CSV reader.
    if memchr::memchr_iter(b'\r', bytes).any(|i| bytes.get(i + 1) != Some(&b'\n')) {
        return None;
    }
    // One vectorised scan for the bytes that matter; a final line without a line break ends
    // at the end of the text.
    let cuts = memchr::memchr3_iter(b',', b'\n', b'"', bytes).chain(std::iter::once(bytes.len()));
    for i in cuts {
        let byte = bytes.get(i).copied().unwrap_or(b'\n');
        match byte {
            b',' => {
                fields.push(text.get(field_start..i)?);
                field_start = i + 1;
            }
            b'\n' => {
                let end = if i > line_start && bytes[i - 1] == b'\r' {
                    i - 1
                } else {
                    i
                };
                fields.push(text.get(field_start..end.max(field_start))?);
                if quoted {
                    for field in &mut fields {
                        match field.bytes().filter(|&b| b == b'"').count() {
                            0 => {}
                            2 => *field = field.strip_prefix('"')?.strip_suffix('"')?,
                            _ => return None,
                        }
                    }
                }
                if let Err(e) = sink.record(line, &fields) {
                    return Some(Err(e));
                }
                fields.clear();
                quoted = false;
                line += 1;
                line_start = i + 1;
                field_start = i + 1;
            }
            _ => quoted = true, // `"`
        }
    }
    Some(sink.finish())
}

/// Reads any file with the full CSV reader.
fn read_csv_records(name: &str, text: &str) -> Result<Vec<Group>, ParseError> {
    let mut sink = RowSink::new(name, text.len());
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut record = csv::StringRecord::new();
    let mut lines = LineCounter::new(text.as_bytes());
    loop {
        let before = reader.position().byte();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = lines.line_at(before);
                return Err(sink.error(Some(line), ParseProblem::Csv(e.to_string())));
            }
        }
        let line = lines.line_at(record.position().map_or(before, |p| p.byte()));
        let fields: Vec<&str> = record.iter().collect();
        sink.record(line, &fields)?;
    }
    sink.finish()
}

/// Turns the records of one input into [`Group`]s, checking each field.
struct RowSink<'n> {
    name: &'n str,
    groups: Vec<Group>,
    header_seen: bool,
    // Rows of one reading share their time stamp: convert it once.
    last_time: String,
    last_zone: String,
    last_ts: Option<DateTime<Utc>>,
}

impl<'n> RowSink<'n> {
    fn new(name: &'n str, text_len: usize) -> Self {
        Self {
            name,
            // About 40 bytes a row, 7 rows a reading.
            groups: Vec::with_capacity(text_len / 280 + 1),
            header_seen: false,
            last_time: String::new(),
            last_zone: String::new(),
            last_ts: None,
        }
    }

    fn error(&self, line: Option<u64>, problem: ParseProblem) -> ParseError {
        ParseError {
            file: self.name.to_owned(),
            line,
            problem,
        }
    }

    /// One record (fields as read, untrimmed) on 1-based `line`.
    fn record(&mut self, line: u64, fields: &[&str]) -> Result<(), ParseError> {
        if fields.iter().all(|f| f.trim_ascii().is_empty()) {
            return Ok(()); // blank line
        }
        if !self.header_seen {
            check_header(fields).map_err(|p| self.error(Some(line), p))?;
            self.header_seen = true;
            return Ok(());
        }
        let [time, zone, fuel, mw] = fields else {
            return Err(self.error(Some(line), ParseProblem::FieldCount(fields.len())));
        };
        let (time, zone, fuel, mw) = (
            time.trim_ascii(),
            zone.trim_ascii(),
            fuel.trim_ascii(),
            mw.trim_ascii(),
        );
        let ts = match self.last_ts {
            Some(ts) if self.last_time == time && self.last_zone == zone => ts,
            _ => {
                let ts = to_utc(time, zone).map_err(|p| self.error(Some(line), p))?;
                self.last_time.clear();
                self.last_time.push_str(time);
                self.last_zone.clear();
                self.last_zone.push_str(zone);
                self.last_ts = Some(ts);
                ts
            }
        };
        let fuel = Fuel::from_nyiso_name(fuel)
            .ok_or_else(|| self.error(Some(line), ParseProblem::UnknownFuel(quote(fuel))))?;
        // Any number is taken here (`NaN`, `inf` and `1e400` too); a value no grid produces
        // leaves its reading out in `finish`, reported with this line.
        let mw = mw
            .parse::<f64>()
            .map_err(|_| self.error(Some(line), ParseProblem::BadNumber(quote(mw))))?;
        match self.groups.last_mut() {
            Some(group) if group.ts == ts => {
                group.mw[fuel.index()] = Some(mw);
                group.lines[fuel.index()] = line;
            }
            _ => {
                let mut group = Group {
                    ts,
                    mw: [None; 7],
                    line,
                    lines: [line; 7],
                };
                group.mw[fuel.index()] = Some(mw);
                self.groups.push(group);
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<Vec<Group>, ParseError> {
        if self.header_seen {
            Ok(self.groups)
        } else {
            Err(self.error(None, ParseProblem::Empty))
        }
    }
}

/// Line numbers as an editor shows them (`\n`, `\r\n` and a lone `\r` each end a line).
///
/// The csv crate's own `Position::line` is wrong for CRLF files (it counts one line too few from
/// the second record on), and its `Position::byte` for a record can point at the `\n` of the
/// previous record's `\r\n`; so the line is counted here from the byte offset, skipping line
/// terminators (a record never starts with one). Counting is incremental: linear overall.
struct LineCounter<'a> {
    text: &'a [u8],
    byte: usize,
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a [u8]) -> Self {
        Self {
            text,
            byte: 0,
            line: 1,
        }
    }

    /// The 1-based line of the record the csv reader reports as starting at `byte`.
    fn line_at(&mut self, byte: u64) -> u64 {
        let text = self.text;
        let mut start = usize::try_from(byte).map_or(text.len(), |b| b.min(text.len()));
        while start < text.len() && matches!(text[start], b'\r' | b'\n') {
            start += 1;
        }
        if start < self.byte {
            // Never expected (records come in order); count again from the top.
            self.byte = 0;
            self.line = 1;
        }
        for (i, &b) in text[self.byte..start].iter().enumerate() {
            let ends_line = match b {
                b'\n' => true,
                b'\r' => text.get(self.byte + i + 1) != Some(&b'\n'),
                _ => false,
            };
            if ends_line {
                self.line += 1;
            }
        }
        self.byte = start;
        self.line
    }
}

fn check_header(fields: &[&str]) -> Result<(), ParseProblem> {
    let fields: Vec<&str> = fields.iter().map(|f| f.trim()).collect();
    match fields.as_slice() {
        ["Time Stamp", "Time Zone", "Fuel Category", "Gen MW" | "Gen MWh"] => Ok(()),
        _ => Err(ParseProblem::WrongHeader(quote(&fields.join(",")))),
    }
}

/// Converts a NYISO local time stamp and its `Time Zone` column to UTC.
fn to_utc(time: &str, zone: &str) -> Result<DateTime<Utc>, ParseProblem> {
    let offset_hours = match zone {
        "EST" => 5,
        "EDT" => 4,
        _ => return Err(ParseProblem::UnknownZone(quote(zone))),
    };
    parse_local(time)
        .and_then(|naive| naive.checked_add_signed(Duration::hours(offset_hours)))
        .map(|naive| naive.and_utc())
        .ok_or_else(|| ParseProblem::BadTime(quote(time)))
}

/// `MM/DD/YYYY HH:MM:SS` or `MM/DD/YYYY HH:MM`: a four-digit year; month, day, hour, minute and
/// second of one or two digits. Written by hand: this runs once per reading and chrono's
/// `parse_from_str` (which also takes signed, longer years) was most of the parse time.
fn parse_local(time: &str) -> Option<NaiveDateTime> {
    fn number(s: &str, min_len: usize, max_len: usize) -> Option<u32> {
        if s.len() < min_len || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(s.bytes().fold(0, |n, b| n * 10 + u32::from(b - b'0')))
    }
    let (date, clock) = time.split_once(' ')?;
    let mut date = date.split('/');
    let month = number(date.next()?, 1, 2)?;
    let day = number(date.next()?, 1, 2)?;
    let year = number(date.next()?, 4, 4)?;
    let mut clock = clock.split(':');
    let hour = number(clock.next()?, 1, 2)?;
    let minute = number(clock.next()?, 1, 2)?;
    let second = match clock.next() {
        Some(s) => number(s, 1, 2)?,
        None => 0,
    };
    if date.next().is_some() || clock.next().is_some() {
        return None;
    }
    // `and_hms_opt` refuses second 60 (a leap second would share the instant of second 59).
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?
        .and_hms_opt(hour, minute, second)
}

/// Converts a NYISO local time stamp and zone to UTC (exposed for other NYISO datasets that
/// share the time format, e.g. `pal`).
///
/// # Errors
/// [`ParseProblem::BadTime`] or [`ParseProblem::UnknownZone`].
pub fn local_to_utc(time: &str, zone: &str) -> Result<DateTime<Utc>, ParseProblem> {
    to_utc(time.trim(), zone.trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const HEADER: &str = "Time Stamp,Time Zone,Fuel Category,Gen MW\n";

    fn full(time: &str, zone: &str, base: f64) -> String {
        Fuel::ALL
            .iter()
            .enumerate()
            .map(|(i, f)| format!("{time},{zone},{},{}\n", f.nyiso_name(), base + i as f64))
            .collect()
    }

    #[test]
    fn zones_convert_with_their_offset() {
        assert_eq!(
            to_utc("11/02/2025 01:30:00", "EDT").unwrap(),
            Utc.with_ymd_and_hms(2025, 11, 2, 5, 30, 0).unwrap()
        );
        assert_eq!(
            to_utc("11/02/2025 01:30:00", "EST").unwrap(),
            Utc.with_ymd_and_hms(2025, 11, 2, 6, 30, 0).unwrap()
        );
        assert_eq!(
            to_utc("01/19/2016 00:05", "EST").unwrap(),
            Utc.with_ymd_and_hms(2016, 1, 19, 5, 5, 0).unwrap()
        );
        assert!(matches!(to_utc("x", "EST"), Err(ParseProblem::BadTime(_))));
        assert!(matches!(
            to_utc("01/19/2016 00:05", "PST"),
            Err(ParseProblem::UnknownZone(_))
        ));
    }

    #[test]
    fn later_duplicate_wins_and_incomplete_is_left_out() {
        let mut csv = HEADER.to_owned();
        csv += &full("02/01/2025 00:05:00", "EST", 100.0);
        csv += "02/01/2025 00:05:00,EST,Wind,999.0\n";
        csv += "02/01/2025 00:10:00,EST,Wind,5.0\n";
        let parsed = parse_fuel_mix_csv("t.csv", csv.as_bytes()).unwrap();
        assert_eq!(parsed.readings.len(), 1);
        assert_eq!(parsed.readings[0].mix.get(Fuel::Wind), 999.0);
        assert_eq!(parsed.incomplete.len(), 1);
        assert_eq!(parsed.incomplete[0].missing.len(), 6);
        assert_eq!(parsed.incomplete[0].line, 10);
    }

    #[test]
    fn bad_input_leaves_the_accumulator_unchanged() {
        let mut acc = FuelMixAccumulator::new();
        acc.add_csv(
            "a.csv",
            (HEADER.to_owned() + &full("02/01/2025 00:05:00", "EST", 1.0)).as_bytes(),
        )
        .unwrap();
        let bad = HEADER.to_owned() + &full("02/01/2025 00:10:00", "EST", 1.0) + "x,EST,Wind,1\n";
        let e = acc.add_csv("b.csv", bad.as_bytes()).unwrap_err();
        assert_eq!(e.to_string(), "b.csv: line 9: field `Time Stamp`: bad time `x` (expected MM/DD/YYYY HH:MM:SS or MM/DD/YYYY HH:MM)");
        assert_eq!(acc.finish().readings.len(), 1);
    }

    /// Builds a text from pieces that stress quoting and line endings around fuel-mix rows.
    fn pieces() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop::sample::select(vec![
            ",",
            "\"",
            "\r",
            "\n",
            "\r\n",
            " ",
            "EST",
            "EDT",
            "Wind",
            "Hydro",
            "1.5",
            "\"\"",
            "02/01/2025 00:05:00",
            "Time Stamp,Time Zone,Fuel Category,Gen MW\n",
        ]);
        prop::collection::vec(piece, 0..60).prop_map(|v| v.concat())
    }

    proptest::proptest! {
        /// The plain-line splitter, where it takes a file, reads it exactly as the CSV reader.
        #[test]
        fn plain_lines_agree_with_the_csv_reader(
            body in pieces(),
            rows in proptest::collection::vec(proptest::sample::select(vec![0usize, 1, 2]), 0..20),
        ) {
            let mut text = HEADER.to_owned();
            for (i, r) in rows.iter().enumerate() {
                text += &full("02/01/2025 00:05:00", ["EST", "EDT", "EST"][*r], i as f64);
            }
            text += &body;
            if let Some(plain) = read_plain_lines("p.csv", &text) {
                proptest::prop_assert_eq!(
                    format!("{plain:?}"),
                    format!("{:?}", read_csv_records("p.csv", &text))
                );
            }
        }
    }
}
