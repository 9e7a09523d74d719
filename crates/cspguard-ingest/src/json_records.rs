//! Splits a JSON source into records, streaming, with the line each record starts on.
//!
//! Written by hand because no crate we know streams the elements of an array nested inside a wrapper object
//! (`{"value": [...]}`, `{"items": [...]}`, `{"records": [...]}`) while reporting line numbers and carrying on past a
//! broken element: `serde_json`'s `StreamDeserializer` handles only concatenated top-level values and stops at the first
//! error. This module only finds record boundaries (strings, escapes and bracket depth); `serde_json` parses each record.
//!
//! The rules, applied to each top-level value of the input:
//! - an array: each element is a record;
//! - an object with a key `value`, `items` or `records` (any case) whose value is an array: each element is a record, and
//!   the object's other keys (`@odata.nextLink`, `totalCount`, ...) are skipped;
//! - any other object: the object is a record.
//!
//! JSON Lines (a file whose first value ends on the line it started) are read line by line, so a broken line costs only
//! itself. Memory is bounded by the largest single record, never by the file.

use std::io::{self, BufRead};

/// One record's bytes and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    /// 1-based line of the record's first byte.
    pub line: u64,
    pub bytes: Vec<u8>,
    /// Set when the splitter itself could not frame the record (unbalanced brackets, a stray token); the bytes are what
    /// it skipped.
    pub framing_error: Option<String>,
}

/// Largest record accepted; a larger one is reported as a framing error rather than exhausting memory.
pub const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

const WRAPPER_KEYS: [&str; 3] = ["value", "items", "records"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Undecided,
    Document,
    Lines,
}

/// Iterator of records over a reader.
pub struct JsonRecords<R: BufRead> {
    reader: Prefixed<R>,
    mode: Mode,
    line: u64,
    /// Records expanded from a wrapper page in Lines mode.
    queue: std::collections::VecDeque<RawRecord>,
    state: DocState,
    done: bool,
    started: bool,
    content_seen: bool,
}

/// Scanner state for Document mode.
#[derive(Default)]
struct DocState {
    /// Inside a wrapper array at this depth (1 = array of the top-level object; 0 = top-level array).
    array_depth: Option<usize>,
    depth: usize,
}

impl<R: BufRead> JsonRecords<R> {
    pub fn new(reader: R) -> Self {
        JsonRecords {
            reader: Prefixed {
                prefix: Vec::new(),
                pos: 0,
                inner: reader,
            },
            mode: Mode::Undecided,
            line: 1,
            queue: Default::default(),
            state: DocState::default(),
            done: false,
            started: false,
            content_seen: false,
        }
    }

    /// Whether the input held anything but white space (an empty `{"value": []}` page did; a blank file did not).
    pub fn saw_content(&self) -> bool {
        self.content_seen || self.mode == Mode::Lines
    }

    fn next_byte(&mut self) -> io::Result<Option<u8>> {
        let buf = self.reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(None);
        }
        let b = buf[0];
        self.reader.consume(1);
        if b == b'\n' {
            self.line += 1;
        }
        Ok(Some(b))
    }

    fn peek_byte(&mut self) -> io::Result<Option<u8>> {
        let buf = self.reader.fill_buf()?;
        Ok(buf.first().copied())
    }

    fn skip_bom_once(&mut self) -> io::Result<()> {
        if !self.started {
            self.started = true;
            let buf = self.reader.fill_buf()?;
            if buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
                self.reader.consume(3);
            }
        }
        Ok(())
    }

    fn skip_ws(&mut self) -> io::Result<Option<u8>> {
        loop {
            match self.peek_byte()? {
                Some(b)
                    if b.is_ascii_whitespace() || b == b',' && self.state.array_depth.is_some() =>
                {
                    self.next_byte()?;
                }
                other => return Ok(other),
            }
        }
    }

    /// Reads one complete JSON value (object, array, string, scalar) into `out`, starting at the current byte.
    /// Returns an error message when the value cannot be framed.
    fn read_value(&mut self, out: &mut Vec<u8>) -> io::Result<Result<(), String>> {
        let first = match self.peek_byte()? {
            Some(b) => b,
            None => return Ok(Err("unexpected end of input".into())),
        };
        match first {
            b'{' | b'[' => {
                let mut stack: Vec<u8> = Vec::new();
                let mut in_str = false;
                let mut esc = false;
                while let Some(b) = self.next_byte()? {
                    if out.len() >= MAX_RECORD_BYTES {
                        return Ok(Err(format!(
                            "record larger than {} MiB",
                            MAX_RECORD_BYTES >> 20
                        )));
                    }
                    out.push(b);
                    if in_str {
                        if esc {
                            esc = false;
                        } else if b == b'\\' {
                            esc = true;
                        } else if b == b'"' {
                            in_str = false;
                        }
                        continue;
                    }
                    match b {
                        b'"' => in_str = true,
                        b'{' => stack.push(b'}'),
                        b'[' => stack.push(b']'),
                        b'}' | b']' => {
                            if stack.pop() != Some(b) {
                                return Ok(Err(format!("unexpected '{}'", b as char)));
                            }
                            if stack.is_empty() {
                                return Ok(Ok(()));
                            }
                        }
                        _ => {}
                    }
                }
                Ok(Err(
                    "unexpected end of input inside a record (missing closing bracket)".into(),
                ))
            }
            b'"' => {
                let mut esc = false;
                out.push(self.next_byte()?.unwrap_or(b'"'));
                while let Some(b) = self.next_byte()? {
                    out.push(b);
                    if esc {
                        esc = false;
                    } else if b == b'\\' {
                        esc = true;
                    } else if b == b'"' {
                        return Ok(Ok(()));
                    }
                }
                Ok(Err("unexpected end of input inside a string".into()))
            }
            _ => {
                // A scalar or garbage: up to the next delimiter.
                while let Some(b) = self.peek_byte()? {
                    if b == b',' || b == b']' || b == b'}' || b.is_ascii_whitespace() {
                        break;
                    }
                    out.push(b);
                    self.next_byte()?;
                    if out.len() > 4096 {
                        break;
                    }
                }
                if out.is_empty() {
                    // A lone delimiter: consume it so we make progress.
                    if let Some(b) = self.next_byte()? {
                        out.push(b);
                    }
                    return Ok(Err(format!(
                        "unexpected '{}'",
                        String::from_utf8_lossy(out)
                    )));
                }
                Ok(Ok(()))
            }
        }
    }

    /// Skips the rest of a line (recovery after a framing error at top level).
    fn skip_line(&mut self, out: &mut Vec<u8>) -> io::Result<()> {
        while let Some(b) = self.next_byte()? {
            if b == b'\n' {
                break;
            }
            out.push(b);
        }
        Ok(())
    }

    fn next_document(&mut self) -> io::Result<Option<RawRecord>> {
        loop {
            // Inside a wrapper array: emit its elements.
            if let Some(ad) = self.state.array_depth {
                match self.skip_ws()? {
                    None => {
                        self.done = true;
                        return Ok(Some(RawRecord {
                            line: self.line,
                            bytes: Vec::new(),
                            framing_error: Some(
                                "unexpected end of input: the array is not closed".into(),
                            ),
                        }));
                    }
                    Some(b']') => {
                        self.next_byte()?;
                        self.state.array_depth = None;
                        if ad == 1 {
                            // Skip the rest of the wrapper object.
                            self.state.depth = 1;
                            if let Some(err) = self.skip_object_rest()? {
                                return Ok(Some(err));
                            }
                        }
                        continue;
                    }
                    Some(_) => {
                        let line = self.line;
                        let mut bytes = Vec::new();
                        let r = self.read_value(&mut bytes)?;
                        if r.is_err() && self.peek_byte()?.is_none() {
                            self.done = true; // truncated: one reject for the cut record, not another for the array
                        }
                        return Ok(Some(RawRecord {
                            line,
                            bytes,
                            framing_error: r.err(),
                        }));
                    }
                }
            }
            // Top level.
            let next = self.skip_ws()?;
            self.content_seen |= next.is_some();
            match next {
                None => {
                    self.done = true;
                    return Ok(None);
                }
                Some(b'[') => {
                    self.next_byte()?;
                    self.state.array_depth = Some(0);
                }
                Some(b'{') => {
                    let line = self.line;
                    match self.read_top_object()? {
                        TopObject::Wrapper => {}
                        TopObject::Record(bytes) => {
                            return Ok(Some(RawRecord {
                                line,
                                bytes,
                                framing_error: None,
                            }))
                        }
                        TopObject::Broken(bytes, why) => {
                            return Ok(Some(RawRecord {
                                line,
                                bytes,
                                framing_error: Some(why),
                            }))
                        }
                    }
                }
                Some(_) => {
                    let line = self.line;
                    let mut bytes = Vec::new();
                    self.skip_line(&mut bytes)?;
                    return Ok(Some(RawRecord {
                        line,
                        bytes,
                        framing_error: Some("not a JSON object or array".into()),
                    }));
                }
            }
        }
    }

    /// Reads a top-level object. If a wrapper key with an array value appears, stops just inside that array (state set)
    /// and returns `Wrapper`; otherwise returns the whole object as a record.
    fn read_top_object(&mut self) -> io::Result<TopObject> {
        let mut buf = Vec::new();
        buf.push(self.next_byte()?.unwrap_or(b'{')); // '{'
        loop {
            // Expect a key or '}'.
            loop {
                match self.peek_byte()? {
                    Some(b) if b.is_ascii_whitespace() || b == b',' => {
                        buf.push(b);
                        self.next_byte()?;
                    }
                    _ => break,
                }
            }
            match self.peek_byte()? {
                None => {
                    return Ok(TopObject::Broken(
                        buf,
                        "unexpected end of input inside an object".into(),
                    ))
                }
                Some(b'}') => {
                    self.next_byte()?;
                    buf.push(b'}');
                    return Ok(TopObject::Record(buf));
                }
                Some(b'"') => {}
                Some(other) => {
                    self.skip_line(&mut buf)?;
                    return Ok(TopObject::Broken(
                        buf,
                        format!("expected a key, found '{}'", other as char),
                    ));
                }
            }
            let mut key = Vec::new();
            if let Err(e) = self.read_value(&mut key)? {
                buf.extend_from_slice(&key);
                return Ok(TopObject::Broken(buf, e));
            }
            buf.extend_from_slice(&key);
            // ':'
            loop {
                match self.next_byte()? {
                    Some(b':') => {
                        buf.push(b':');
                        break;
                    }
                    Some(b) if b.is_ascii_whitespace() => buf.push(b),
                    _ => return Ok(TopObject::Broken(buf, "expected ':' after a key".into())),
                }
            }
            while let Some(b) = self.peek_byte()? {
                if !b.is_ascii_whitespace() {
                    break;
                }
                buf.push(b);
                self.next_byte()?;
            }
            let key_name = serde_json::from_slice::<String>(&key)
                .unwrap_or_default()
                .to_ascii_lowercase();
            if WRAPPER_KEYS.contains(&key_name.as_str()) && self.peek_byte()? == Some(b'[') {
                self.next_byte()?;
                self.state.array_depth = Some(1);
                return Ok(TopObject::Wrapper);
            }
            let mut val = Vec::new();
            let r = self.read_value(&mut val)?;
            buf.extend_from_slice(&val);
            if let Err(e) = r {
                return Ok(TopObject::Broken(buf, e));
            }
        }
    }

    /// After a wrapper array closes, skips the remaining keys of the wrapper object up to its '}'.
    fn skip_object_rest(&mut self) -> io::Result<Option<RawRecord>> {
        loop {
            match self.skip_ws()? {
                None => return Ok(None),
                Some(b'}') => {
                    self.next_byte()?;
                    return Ok(None);
                }
                Some(b',') => {
                    self.next_byte()?;
                }
                Some(_) => {
                    let line = self.line;
                    let mut sink = Vec::new();
                    // key
                    if let Err(e) = self.read_value(&mut sink)? {
                        return Ok(Some(RawRecord {
                            line,
                            bytes: sink,
                            framing_error: Some(e),
                        }));
                    }
                    self.skip_ws()?;
                    if self.peek_byte()? == Some(b':') {
                        self.next_byte()?;
                    }
                    self.skip_ws()?;
                    sink.clear();
                    if let Err(e) = self.read_value(&mut sink)? {
                        return Ok(Some(RawRecord {
                            line,
                            bytes: sink,
                            framing_error: Some(e),
                        }));
                    }
                }
            }
        }
    }

    /// Decides between Document and Lines: JSON Lines when the first line holds one whole object. The first line is read
    /// ahead and then served again from the prefix.
    fn decide_mode(&mut self) -> io::Result<()> {
        self.skip_bom_once()?;
        let mut first = Vec::new();
        self.reader.inner.read_until(b'\n', &mut first)?;
        let trimmed: &[u8] = first.trim_ascii();
        let single_line_value = trimmed.first() == Some(&b'{')
            && trimmed.last() == Some(&b'}')
            && serde_json::from_slice::<serde_json::Value>(trimmed).is_ok();
        self.mode = if single_line_value {
            Mode::Lines
        } else {
            Mode::Document
        };
        self.reader.prefix = first;
        self.reader.pos = 0;
        Ok(())
    }

    fn next_line_record(&mut self) -> io::Result<Option<RawRecord>> {
        loop {
            if let Some(r) = self.queue.pop_front() {
                return Ok(Some(r));
            }
            let mut bytes = Vec::new();
            let n = self.reader.read_until(b'\n', &mut bytes)?;
            if n == 0 {
                self.done = true;
                return Ok(None);
            }
            let line_no = self.line;
            self.line += 1;
            let t = bytes.trim_ascii();
            if t.is_empty() {
                continue;
            }
            // A page on one line ({"value": [...]}) expands into its elements.
            if t.first() == Some(&b'{') {
                if let Ok(serde_json::Value::Object(m)) =
                    serde_json::from_slice::<serde_json::Value>(t)
                {
                    let arr = m.iter().find(|(k, v)| {
                        WRAPPER_KEYS.contains(&k.to_ascii_lowercase().as_str()) && v.is_array()
                    });
                    if let Some((_, serde_json::Value::Array(items))) = arr {
                        for it in items {
                            self.queue.push_back(RawRecord {
                                line: line_no,
                                bytes: serde_json::to_vec(it).unwrap_or_default(),
                                framing_error: None,
                            });
                        }
                        continue;
                    }
                }
            }
            return Ok(Some(RawRecord {
                line: line_no,
                bytes: t.to_vec(),
                framing_error: None,
            }));
        }
    }
}

enum TopObject {
    Wrapper,
    Record(Vec<u8>),
    Broken(Vec<u8>, String),
}

impl<R: BufRead> Iterator for JsonRecords<R> {
    type Item = io::Result<RawRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.mode == Mode::Undecided {
            if let Err(e) = self.decide_mode() {
                self.done = true;
                return Some(Err(e));
            }
        }
        let r = match self.mode {
            Mode::Lines => self.next_line_record(),
            _ => self.next_document(),
        };
        match r {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// A reader that serves `prefix` before `inner` (the line read ahead to choose the mode).
struct Prefixed<R> {
    prefix: Vec<u8>,
    pos: usize,
    inner: R,
}

impl<R: BufRead> io::Read for Prefixed<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let buf = self.fill_buf()?;
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Prefixed<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos < self.prefix.len() {
            return Ok(&self.prefix[self.pos..]);
        }
        self.inner.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        if self.pos < self.prefix.len() {
            self.pos += n;
        } else {
            self.inner.consume(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(input: &str) -> Vec<(u64, String, Option<String>)> {
        JsonRecords::new(input.as_bytes())
            .map(|r| {
                let r = r.unwrap();
                (
                    r.line,
                    String::from_utf8_lossy(&r.bytes).into_owned(),
                    r.framing_error,
                )
            })
            .collect()
    }

    #[test]
    fn wrapper_object_streams_its_array_and_skips_other_keys() {
        let got = records("{\n \"@odata.context\": \"x\",\n \"value\": [\n  {\"a\": \"[}\"},\n  {\"b\": [1,2]}\n ],\n \"@odata.nextLink\": \"n\"\n}\n");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], (4, "{\"a\": \"[}\"}".into(), None));
        assert_eq!(got[1].0, 5);
    }

    #[test]
    fn bare_array_and_items_with_bom() {
        assert_eq!(records("[{\"a\":1},{\"a\":2}]").len(), 2);
        for input in [
            "\u{feff}{\"totalCount\": 1, \"Items\": [{\"id\": \"x\"}], \"links\": {}}",
            "\u{feff}{\"totalCount\": 1,\n \"Items\": [{\"id\": \"x\"}], \"links\": {}}",
        ] {
            let got = records(input);
            assert_eq!(got.len(), 1, "{input}");
            let v: serde_json::Value = serde_json::from_str(&got[0].1).unwrap();
            assert_eq!(v, serde_json::json!({"id": "x"}));
        }
    }

    #[test]
    fn json_lines_keep_going_past_a_broken_line() {
        let got = records("{\"a\":1}\r\n{\"a\":\n{\"a\":3}\n\n");
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].0, 2);
        assert!(serde_json::from_slice::<serde_json::Value>(got[1].1.as_bytes()).is_err());
        assert_eq!(got[2], (3, "{\"a\":3}".into(), None));
    }

    #[test]
    fn pretty_printed_single_object_is_one_record() {
        let got = records("{\n \"type\": \"x\"\n}\n");
        assert_eq!(got.len(), 1);
        assert!(got[0].2.is_none());
    }

    #[test]
    fn truncated_document_reports_a_framing_error() {
        let got = records("{\"value\": [{\"a\": 1}, {\"a\": ");
        assert_eq!(got.len(), 2);
        assert!(got[1].2.is_some());
        assert!(records("garbage").iter().all(|r| r.2.is_some()));
    }
}
