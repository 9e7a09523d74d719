//! File output: every file goes through a large `BufWriter`, IO errors carry the path, and the list of written
//! files is kept for the summary. JSON is written either pretty (1-space indent, like Microsoft's samples) for
//! small files, or as one compact array element per line for the voluminous ones (sign-ins, activity logs).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::SimError;

pub(crate) struct Output {
    root: PathBuf,
    pub files: Vec<PathBuf>,
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SimError + '_ {
    move |source| SimError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Output {
    pub fn new(root: &Path) -> Result<Output, SimError> {
        std::fs::create_dir_all(root).map_err(io_err(root))?;
        Ok(Output {
            root: root.to_path_buf(),
            files: Vec::new(),
        })
    }

    /// Creates (or empties) the sub-folder `rel`.
    pub fn dir(&self, rel: &str) -> Result<(), SimError> {
        let path = self.root.join(rel);
        std::fs::create_dir_all(&path).map_err(io_err(&path))
    }

    /// Writes the file `rel` (relative to the output folder) through `f`.
    pub fn write<F>(&mut self, rel: &str, f: F) -> Result<(), SimError>
    where
        F: FnOnce(&mut BufWriter<File>) -> io::Result<()>,
    {
        let path = self.root.join(rel);
        let file = File::create(&path).map_err(io_err(&path))?;
        let mut w = BufWriter::with_capacity(1 << 18, file);
        f(&mut w).and_then(|()| w.flush()).map_err(io_err(&path))?;
        self.files.push(path);
        Ok(())
    }

    /// Removes files a previous run left in `rel` that this run did not write and that match our naming
    /// (`keep` says whether a file name is one of ours), so the folder holds exactly one run's output.
    pub fn prune(&self, rel: &str, ours: impl Fn(&str) -> bool) -> Result<(), SimError> {
        let dir = self.root.join(rel);
        let entries = std::fs::read_dir(&dir).map_err(io_err(&dir))?;
        for entry in entries {
            let entry = entry.map_err(io_err(&dir))?;
            let path = entry.path();
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if path.is_file() && ours(name) && !self.files.contains(&path) {
                std::fs::remove_file(&path).map_err(io_err(&path))?;
            }
        }
        Ok(())
    }
}

/// Pretty JSON with a one-space indent and a final newline.
pub(crate) fn write_pretty<T: Serialize>(w: &mut impl Write, value: &T) -> io::Result<()> {
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut ser = serde_json::Serializer::with_formatter(&mut *w, fmt);
    value.serialize(&mut ser).map_err(io::Error::from)?;
    w.write_all(b"\n")
}

/// `{head"key":[` + one compact element per line + `]}`.
pub(crate) fn write_lines<T: Serialize>(
    w: &mut impl Write,
    head: &str,
    key: &str,
    items: impl IntoIterator<Item = T>,
) -> io::Result<()> {
    write!(w, "{{{head}\"{key}\":[")?;
    let mut first = true;
    for item in items {
        w.write_all(if first { b"\n" } else { b",\n" })?;
        first = false;
        serde_json::to_writer(&mut *w, &item).map_err(io::Error::from)?;
    }
    w.write_all(b"\n]}\n")
}
