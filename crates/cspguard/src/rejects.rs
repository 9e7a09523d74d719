//! Rejected records: copied raw into `<data-dir>/rejects/<time>-<file>.rejects<ext>` (after the source's preamble, a CSV
//! header, so the file can be corrected and re-imported as it is) with a companion `.errors.csv` listing
//! file, line, column, field and reason for each; and reported on standard error like a compiler's diagnostics.

use cspguard_ingest::Reject;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// How many rejects of one file are printed before the rest are only counted.
const PRINT_LIMIT: u64 = 20;

pub struct RejectWriter {
    dir: PathBuf,
    source: PathBuf,
    stamp: String,
    preamble: Vec<u8>,
    out: Option<(BufWriter<File>, csv::Writer<File>, PathBuf)>,
    count: u64,
    quiet: bool,
}

impl RejectWriter {
    /// `quiet` stops the per-record lines on standard error (the counts and files are still written).
    pub fn new(dir: &Path, source: &Path, quiet: bool) -> Self {
        RejectWriter {
            dir: dir.to_path_buf(),
            source: source.to_path_buf(),
            stamp: chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string(),
            preamble: Vec::new(),
            out: None,
            count: 0,
            quiet,
        }
    }

    pub fn preamble(&mut self, raw: &[u8]) {
        self.preamble = raw.to_vec();
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The rejects file, once something was rejected.
    pub fn path(&self) -> Option<&Path> {
        self.out.as_ref().map(|o| o.2.as_path())
    }

    pub fn write(&mut self, r: &Reject) -> std::io::Result<()> {
        self.count += 1;
        if !self.quiet && self.count <= PRINT_LIMIT {
            let col = r.column.map(|c| format!(":{c}")).unwrap_or_default();
            let field = r
                .field
                .as_deref()
                .map(|f| format!(" [{f}]"))
                .unwrap_or_default();
            eprintln!(
                "{}:{}{}: rejected{}: {}",
                self.source.display(),
                r.line,
                col,
                field,
                r.reason
            );
        } else if !self.quiet && self.count == PRINT_LIMIT + 1 {
            eprintln!(
                "{}: more rejects are listed in the rejects folder only",
                self.source.display()
            );
        }
        if self.out.is_none() {
            std::fs::create_dir_all(&self.dir)?;
            let name = self
                .source
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "input".into());
            let (stem, ext) = match name.rsplit_once('.') {
                Some((s, e)) => (s.to_string(), format!(".{e}")),
                None => (name.clone(), String::new()),
            };
            let raw_path = self
                .dir
                .join(format!("{}-{}.rejects{}", self.stamp, stem, ext));
            let err_path = self.dir.join(format!("{}-{}.errors.csv", self.stamp, stem));
            let mut raw = BufWriter::new(File::create(&raw_path)?);
            raw.write_all(&self.preamble)?;
            let mut errs = csv::Writer::from_writer(File::create(&err_path)?);
            errs.write_record(["file", "line", "column", "field", "reason"])?;
            self.out = Some((raw, errs, raw_path));
        }
        if let Some((raw, errs, _)) = self.out.as_mut() {
            raw.write_all(&r.raw)?;
            if !r.raw.ends_with(b"\n") {
                raw.write_all(b"\n")?;
            }
            errs.write_record([
                self.source.display().to_string(),
                r.line.to_string(),
                r.column.map(|c| c.to_string()).unwrap_or_default(),
                r.field.clone().unwrap_or_default(),
                r.reason.clone(),
            ])?;
        }
        Ok(())
    }

    pub fn finish(&mut self) -> std::io::Result<()> {
        if let Some((raw, errs, _)) = self.out.as_mut() {
            raw.flush()?;
            errs.flush()?;
        }
        Ok(())
    }
}
