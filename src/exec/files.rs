//! Server-side files: the data directory that bounds every path a query may
//! name (`COPY ... FROM/TO 'file'`, `CREATE TABLE ... WITH (source = 'file')`),
//! the file formats, and reading Parquet/JSON files into frames.
//!
//! Without `--data-dir` no server file can be read or written. A relative
//! path is taken inside the data directory; an absolute one must lie inside
//! it. Paths are resolved with symlinks followed, so `..` or a link cannot
//! escape.

use std::fs::File;
use std::path::{Component, Path, PathBuf};

use polars::prelude::*;

use crate::error::{Error, Result};

/// A file format redsql reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// PostgreSQL's COPY text format (tab-separated, `\N` for NULL).
    Text,
    Csv,
    Parquet,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line (JSON Lines).
    NdJson,
}

impl FileKind {
    /// The kind named by a `FORMAT` option.
    pub fn from_name(name: &str) -> Result<FileKind> {
        Ok(match name.to_lowercase().as_str() {
            "text" => FileKind::Text,
            "csv" => FileKind::Csv,
            "parquet" => FileKind::Parquet,
            "json" => FileKind::Json,
            "ndjson" | "jsonl" | "jsonlines" => FileKind::NdJson,
            other => {
                return Err(Error::Unsupported(format!(
                    "COPY format {other} is not supported (text, csv, parquet, json or ndjson)"
                )))
            }
        })
    }

    /// The kind a file name's extension implies.
    pub fn from_path(path: &Path) -> Option<FileKind> {
        let ext = path.extension()?.to_str()?.to_lowercase();
        Some(match ext.as_str() {
            "csv" => FileKind::Csv,
            "tsv" | "txt" | "tab" => FileKind::Text,
            "parquet" | "pq" => FileKind::Parquet,
            "json" => FileKind::Json,
            "ndjson" | "jsonl" => FileKind::NdJson,
            _ => return None,
        })
    }

    /// Formats read record by record (with line numbers) rather than as a frame.
    pub fn is_delimited(self) -> bool {
        matches!(self, FileKind::Text | FileKind::Csv)
    }
}

/// The directory server-side files must lie in (None: server files are disabled).
#[derive(Clone, Debug, Default)]
pub struct DataDir(Option<PathBuf>);

impl DataDir {
    /// The data directory, which must exist.
    pub fn new(dir: Option<&Path>) -> Result<DataDir> {
        let Some(dir) = dir else {
            return Ok(DataDir(None));
        };
        let canonical = dir
            .canonicalize()
            .map_err(|e| Error::Data("58P01", format!("data directory {}: {e}", dir.display())))?;
        if !canonical.is_dir() {
            return Err(Error::Data(
                "58P01",
                format!("data directory {} is not a directory", dir.display()),
            ));
        }
        Ok(DataDir(Some(canonical)))
    }

    pub fn path(&self) -> Option<&Path> {
        self.0.as_deref()
    }

    fn root(&self) -> Result<&Path> {
        self.0.as_deref().ok_or_else(|| {
            Error::Forbidden(
                "server-side files are disabled: start redsql with --data-dir DIR (or use COPY ... FROM STDIN / TO STDOUT)"
                    .into(),
            )
        })
    }

    fn outside(&self, name: &str) -> Error {
        Error::Forbidden(format!("path {name:?} is outside the data directory"))
    }

    /// An existing file to read.
    pub fn resolve_read(&self, name: &str) -> Result<PathBuf> {
        let root = self.root()?;
        let path = root.join(name);
        let canonical = path.canonicalize().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::Data(
                "58P01",
                format!("could not open file {name:?} for reading: no such file in the data directory"),
            ),
            _ => Error::Data("58030", format!("could not open file {name:?} for reading: {e}")),
        })?;
        if !canonical.starts_with(root) {
            return Err(self.outside(name));
        }
        if !canonical.is_file() {
            return Err(Error::Data("58030", format!("{name:?} is not a regular file")));
        }
        Ok(canonical)
    }

    /// A file to create or overwrite; its directory must exist inside the data directory.
    pub fn resolve_write(&self, name: &str) -> Result<PathBuf> {
        let root = self.root()?;
        let path = root.join(name);
        let file_name = match path.components().next_back() {
            Some(Component::Normal(f)) => f.to_owned(),
            _ => return Err(Error::Data("58030", format!("{name:?} does not name a file"))),
        };
        let parent = path.parent().unwrap_or(root);
        let parent = parent.canonicalize().map_err(|e| {
            Error::Data(
                "58P01",
                format!("could not open file {name:?} for writing: its directory: {e}"),
            )
        })?;
        if !parent.starts_with(root) {
            return Err(self.outside(name));
        }
        let target = parent.join(file_name);
        // An existing symlink is followed when the file is opened: check where it leads.
        if let Ok(existing) = target.canonicalize() {
            if !existing.starts_with(root) {
                return Err(self.outside(name));
            }
        }
        Ok(target)
    }
}

/// The format of a server file: the FORMAT option if given, else the extension.
pub fn kind_of(path: &Path, option: Option<FileKind>) -> Result<FileKind> {
    option.or_else(|| FileKind::from_path(path)).ok_or_else(|| {
        Error::Unsupported(format!(
            "cannot tell the format of {}: give FORMAT (csv, text, parquet, json, ndjson) or use a known extension",
            path.display()
        ))
    })
}

/// Read a Parquet, JSON or NDJSON file into a frame (blocking).
pub fn read_frame(path: &Path, kind: FileKind) -> Result<DataFrame> {
    let file = File::open(path).map_err(|e| Error::Data("58030", format!("could not open {}: {e}", path.display())))?;
    let bad = |e: PolarsError| Error::Data("22P04", format!("could not read {}: {e}", path.display()));
    match kind {
        FileKind::Parquet => ParquetReader::new(file).finish().map_err(bad),
        FileKind::Json | FileKind::NdJson => {
            let format = if kind == FileKind::Json {
                JsonFormat::Json
            } else {
                JsonFormat::JsonLines
            };
            JsonReader::new(file)
                .with_json_format(format)
                .infer_schema_len(None)
                .finish()
                .map_err(bad)
        }
        FileKind::Text | FileKind::Csv => unreachable!("delimited files are read record by record"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_data_directory() {
        let root = std::env::temp_dir().join(format!("redsql-datadir-{}", std::process::id()));
        let outside = std::env::temp_dir().join(format!("redsql-outside-{}", std::process::id()));
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(root.join("sub/a.csv"), "x").unwrap();
        std::fs::write(outside.join("secret.csv"), "x").unwrap();
        #[cfg(unix)]
        let _ = std::os::unix::fs::symlink(outside.join("secret.csv"), root.join("link.csv"));
        let dir = DataDir::new(Some(&root)).unwrap();

        assert!(dir.resolve_read("sub/a.csv").is_ok());
        assert!(dir.resolve_read(root.join("sub/a.csv").to_str().unwrap()).is_ok());
        for bad in [
            "../redsql-outside-x/secret.csv",
            "/etc/passwd",
            "sub/../../etc/passwd",
            "link.csv",
        ] {
            let e = dir.resolve_read(bad).unwrap_err();
            assert!(matches!(e.sqlstate(), "42501" | "58P01"), "{bad}: {e}");
        }
        assert_eq!(dir.resolve_read("/etc/passwd").unwrap_err().sqlstate(), "42501");
        assert!(dir.resolve_write("out.parquet").is_ok());
        assert!(dir.resolve_write("sub/out.csv").is_ok());
        assert_eq!(dir.resolve_write("/tmp/x.csv").unwrap_err().sqlstate(), "42501");
        assert_eq!(dir.resolve_write("../x.csv").unwrap_err().sqlstate(), "42501");
        #[cfg(unix)]
        assert_eq!(dir.resolve_write("link.csv").unwrap_err().sqlstate(), "42501");
        assert_eq!(
            DataDir::default().resolve_read("a.csv").unwrap_err().sqlstate(),
            "42501"
        );
        std::fs::remove_dir_all(&root).unwrap();
        std::fs::remove_dir_all(&outside).unwrap();
    }

    #[test]
    fn kinds_from_names_and_extensions() {
        assert_eq!(FileKind::from_path(Path::new("a.PARQUET")), Some(FileKind::Parquet));
        assert_eq!(FileKind::from_path(Path::new("a.jsonl")), Some(FileKind::NdJson));
        assert_eq!(FileKind::from_path(Path::new("a")), None);
        assert_eq!(FileKind::from_name("CSV").unwrap(), FileKind::Csv);
        assert_eq!(FileKind::from_name("xml").unwrap_err().sqlstate(), "0A000");
    }
}
