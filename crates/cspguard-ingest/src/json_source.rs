//! The loop every JSON shape shares: frame records, parse each, check the first one is of the expected kind, convert,
//! and turn every failure into a reject.

use crate::fields::{FieldError, Obj};
use crate::json_records::JsonRecords;
use crate::{ImportOptions, ParseError, Reject, Sink, SourceKind};
use cspguard_domain::Envelope;
use std::io::BufRead;

/// One JSON shape.
pub(crate) trait JsonShape {
    fn kind(&self) -> SourceKind;
    /// Whether a record has the keys that identify this shape; checked on the first record, so a file of another kind
    /// is refused whole instead of rejected record by record.
    fn looks_like(&self, obj: &Obj) -> bool;
    /// What the first record lacked, for the error message.
    fn expected(&self) -> &'static str;
    /// Converts one record to zero or more events.
    fn convert(
        &self,
        obj: Obj,
        opts: &ImportOptions,
        line: u64,
    ) -> Result<Vec<Envelope>, FieldError>;
}

pub(crate) fn parse(
    reader: impl BufRead,
    opts: &ImportOptions,
    sink: &mut dyn Sink,
    shape: &dyn JsonShape,
) -> Result<(), ParseError> {
    let mut checked = false;
    let mut any = false;
    let io_err = |source| ParseError::Io {
        origin: opts.origin.clone(),
        source,
    };
    let stopped = |_| ParseError::Stopped {
        origin: opts.origin.clone(),
    };
    let mut records = JsonRecords::new(reader);
    for rec in records.by_ref() {
        let rec = rec.map_err(io_err)?;
        any = true;
        if let Some(why) = rec.framing_error {
            sink.reject(Reject {
                line: rec.line,
                column: None,
                field: None,
                reason: why,
                raw: rec.bytes,
            })
            .map_err(stopped)?;
            continue;
        }
        let value: serde_json::Value = match serde_json::from_slice(&rec.bytes) {
            Ok(v) => v,
            Err(e) => {
                let (line, column) = if e.line() <= 1 {
                    (rec.line, Some(e.column() as u64))
                } else {
                    (rec.line + e.line() as u64 - 1, Some(e.column() as u64))
                };
                sink.reject(Reject {
                    line,
                    column,
                    field: None,
                    reason: format!("malformed JSON: {e}"),
                    raw: rec.bytes,
                })
                .map_err(stopped)?;
                continue;
            }
        };
        let Some(obj) = Obj::from_value(value) else {
            sink.reject(Reject {
                line: rec.line,
                column: None,
                field: None,
                reason: "expected a JSON object".into(),
                raw: rec.bytes,
            })
            .map_err(stopped)?;
            continue;
        };
        if !checked {
            if !shape.looks_like(&obj) {
                return Err(ParseError::WrongKind {
                    origin: opts.origin.clone(),
                    kind: shape.kind(),
                    reason: format!(
                        "its first record (line {}) has no {}",
                        rec.line,
                        shape.expected()
                    ),
                });
            }
            checked = true;
        }
        match shape.convert(obj, opts, rec.line) {
            Ok(events) => {
                for e in events {
                    sink.accept(e).map_err(stopped)?;
                }
            }
            Err(fe) => {
                sink.reject(Reject {
                    line: rec.line,
                    column: None,
                    field: Some(fe.field.clone()),
                    reason: fe.reason,
                    raw: rec.bytes,
                })
                .map_err(stopped)?;
            }
        }
    }
    if !any && !records.saw_content() {
        return Err(ParseError::Empty {
            origin: opts.origin.clone(),
            kind: shape.kind(),
        });
    }
    Ok(())
}

/// The canonical bytes of a record for a content-derived key: keys sorted (serde_json's map is ordered), lower-cased,
/// no insignificant white space.
pub(crate) fn canonical(obj: &Obj) -> Vec<u8> {
    obj.canonical_bytes()
}
