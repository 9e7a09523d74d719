//! Daily rated usage reconciliation CSV (billed and unbilled, new commerce): header-driven, any column order, extra
//! columns ignored, names matched case-insensitively, BOM and CRLF accepted. Streams row by row.
//!
//! Idempotency: a row's key is the hash of every documented column except `InvoiceNumber` and `ResellerMPNID`, in the
//! documented order, whatever the file's order; which hash is the store's choice (`ImportOptions::usage_keys`, see
//! [`UsageKeyVersion`]: BLAKE3 in stores that held usage before version 2, XXH3-128 in all others). Those two are left out because they are what differs between the
//! unbilled file and the billed file of the same usage: the billed delivery of a day already imported unbilled is a
//! duplicate, not a second charge. Decision: two rows identical in every other column are one charge (Microsoft's
//! re-deliveries repeat rows exactly; genuinely separate charges differ at least in quantity or resource).

use crate::{ImportOptions, ParseError, Reject, Sink, SourceKind, Stopped};
use chrono::{NaiveDate, TimeZone, Utc};
use cspguard_domain::{
    parse_decimal, AzureSubscriptionId, BillingSubscriptionId, Currency, Envelope, Event,
    EventKind, IdempotencyKey, Money, PartnerId, ResellerMpnId, ResourceId, SourceRef, TenantId,
    UsageKeyVersion, UsageLine,
};
use std::io::BufRead;

/// The documented columns, in the documented order.
pub const USAGE_COLUMNS: [&str; 55] = [
    "PartnerId",
    "PartnerName",
    "CustomerId",
    "CustomerName",
    "CustomerDomainName",
    "CustomerCountry",
    "MPNID",
    "ResellerMPNID",
    "InvoiceNumber",
    "ProductId",
    "SkuId",
    "AvailabilityId",
    "SkuName",
    "ProductName",
    "PublisherName",
    "PublisherId",
    "SubscriptionDescription",
    "SubscriptionId",
    "ChargeStartDate",
    "ChargeEndDate",
    "UsageDate",
    "MeterType",
    "MeterCategory",
    "MeterId",
    "MeterSubCategory",
    "MeterName",
    "MeterRegion",
    "Unit",
    "ResourceLocation",
    "ConsumedService",
    "ResourceGroup",
    "ResourceURI",
    "ChargeType",
    "UnitPrice",
    "Quantity",
    "UnitType",
    "BillingPreTaxTotal",
    "BillingCurrency",
    "PricingPreTaxTotal",
    "PricingCurrency",
    "ServiceInfo1",
    "ServiceInfo2",
    "Tags",
    "AdditionalInfo",
    "EffectiveUnitPrice",
    "PCToBCExchangeRate",
    "PCToBCExchangeRateDate",
    "EntitlementId",
    "EntitlementDescription",
    "PartnerEarnedCreditPercentage",
    "CreditPercentage",
    "CreditType",
    "BenefitOrderId",
    "BenefitId",
    "BenefitType",
];

/// Columns without which a row means nothing to cspguard.
const REQUIRED: [&str; 8] = [
    "CustomerId",
    "SubscriptionId",
    "EntitlementId",
    "UsageDate",
    "MeterCategory",
    "Quantity",
    "BillingPreTaxTotal",
    "BillingCurrency",
];

/// Left out of the key (see the module docs).
const NOT_IN_KEY: [&str; 2] = ["InvoiceNumber", "ResellerMPNID"];

fn col(name: &str) -> usize {
    USAGE_COLUMNS
        .iter()
        .position(|c| *c == name)
        .unwrap_or(usize::MAX)
}

/// Where each documented column sits in this file.
struct Layout {
    pos: [Option<usize>; USAGE_COLUMNS.len()],
    width: usize,
    key_columns: Vec<usize>,
}

impl Layout {
    fn from_header(header: &csv::ByteRecord, origin: &str) -> Result<Layout, ParseError> {
        let mut pos = [None; USAGE_COLUMNS.len()];
        for (i, h) in header.iter().enumerate() {
            let h = h.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(h);
            let name = String::from_utf8_lossy(h);
            let name = name.trim().trim_matches('"');
            if let Some(c) = USAGE_COLUMNS
                .iter()
                .position(|c| c.eq_ignore_ascii_case(name))
            {
                pos[c].get_or_insert(i);
            }
        }
        let missing: Vec<String> = REQUIRED
            .iter()
            .filter(|r| pos[col(r)].is_none())
            .map(|r| r.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(ParseError::MissingColumns {
                origin: origin.to_string(),
                kind: SourceKind::Usage,
                missing,
                found: header.len(),
            });
        }
        let key_columns = (0..USAGE_COLUMNS.len())
            .filter(|c| !NOT_IN_KEY.contains(&USAGE_COLUMNS[*c]))
            .collect();
        Ok(Layout {
            pos,
            width: header.len(),
            key_columns,
        })
    }
}

/// A field problem in one row: the column (1-based in the file), its name and why.
struct RowError {
    column: Option<u64>,
    field: &'static str,
    reason: String,
}

struct Row<'a> {
    rec: &'a csv::ByteRecord,
    layout: &'a Layout,
    /// The whole record's fields, one after the other, when they are valid UTF-8 together: a field is then a slice of
    /// it (one validation per record instead of one per field; see [`Row::text`]).
    utf8: Option<&'a str>,
}

impl<'a> Row<'a> {
    fn raw(&self, c: usize) -> &'a [u8] {
        match self.layout.pos[c] {
            Some(i) => self.rec.get(i).unwrap_or(b""),
            None => b"",
        }
    }

    fn err(&self, c: usize, reason: String) -> RowError {
        RowError {
            column: self.layout.pos[c].map(|i| i as u64 + 1),
            field: USAGE_COLUMNS[c],
            reason,
        }
    }

    fn text(&self, c: usize) -> Result<&'a str, RowError> {
        // A field's range in the validated record is its text when both ends are character boundaries (a range whose
        // ends are boundaries of valid UTF-8 is valid UTF-8 and holds exactly the field's bytes); otherwise the field
        // is checked alone, which names the field that is not UTF-8.
        if let (Some(all), Some(i)) = (self.utf8, self.layout.pos[c]) {
            if let Some(t) = self.rec.range(i).and_then(|r| all.get(r)) {
                return Ok(t.trim());
            }
        }
        std::str::from_utf8(self.raw(c))
            .map(str::trim)
            .map_err(|_| self.err(c, "not valid UTF-8 (save the file as UTF-8)".into()))
    }

    fn required(&self, c: usize) -> Result<&'a str, RowError> {
        let t = self.text(c)?;
        if t.is_empty() {
            return Err(self.err(c, "required value is empty".into()));
        }
        Ok(t)
    }

    fn decimal(&self, c: usize) -> Result<rust_decimal::Decimal, RowError> {
        let t = self.required(c)?;
        parse_decimal(t).map_err(|_| self.err(c, format!("{t:?} is not a decimal number")))
    }

    fn opt_decimal(&self, c: usize) -> Result<rust_decimal::Decimal, RowError> {
        if self.text(c)?.is_empty() {
            return Ok(rust_decimal::Decimal::ZERO);
        }
        self.decimal(c)
    }

    fn opt_string(&self, c: usize) -> Result<Option<String>, RowError> {
        let t = self.text(c)?;
        Ok((!t.is_empty()).then(|| t.to_string()))
    }

    fn string(&self, c: usize) -> Result<String, RowError> {
        Ok(self.text(c)?.to_string())
    }

    fn date(&self, c: usize) -> Result<NaiveDate, RowError> {
        let t = self.required(c)?;
        crate::fields::parse_date(t).map_err(|e| self.err(c, e))
    }
}

struct Cols {
    partner: usize,
    customer: usize,
    customer_name: usize,
    customer_country: usize,
    reseller: usize,
    invoice: usize,
    product: usize,
    sku_name: usize,
    subscription: usize,
    usage_date: usize,
    meter_category: usize,
    meter_id: usize,
    meter_sub: usize,
    meter_name: usize,
    meter_region: usize,
    unit: usize,
    location: usize,
    consumed: usize,
    rg: usize,
    resource: usize,
    charge_type: usize,
    quantity: usize,
    total: usize,
    currency: usize,
    eup: usize,
    entitlement: usize,
}

impl Cols {
    fn new() -> Cols {
        Cols {
            partner: col("PartnerId"),
            customer: col("CustomerId"),
            customer_name: col("CustomerName"),
            customer_country: col("CustomerCountry"),
            reseller: col("ResellerMPNID"),
            invoice: col("InvoiceNumber"),
            product: col("ProductId"),
            sku_name: col("SkuName"),
            subscription: col("SubscriptionId"),
            usage_date: col("UsageDate"),
            meter_category: col("MeterCategory"),
            meter_id: col("MeterId"),
            meter_sub: col("MeterSubCategory"),
            meter_name: col("MeterName"),
            meter_region: col("MeterRegion"),
            unit: col("Unit"),
            location: col("ResourceLocation"),
            consumed: col("ConsumedService"),
            rg: col("ResourceGroup"),
            resource: col("ResourceURI"),
            charge_type: col("ChargeType"),
            quantity: col("Quantity"),
            total: col("BillingPreTaxTotal"),
            currency: col("BillingCurrency"),
            eup: col("EffectiveUnitPrice"),
            entitlement: col("EntitlementId"),
        }
    }
}

fn convert(
    row: &Row<'_>,
    k: &Cols,
    keys: UsageKeyVersion,
) -> Result<(UsageLine, IdempotencyKey), RowError> {
    let id_err = |c: usize, e: cspguard_domain::IdError| row.err(c, e.to_string());
    let customer = TenantId::parse(row.required(k.customer)?).map_err(|e| id_err(k.customer, e))?;
    let billing_subscription = BillingSubscriptionId::parse(row.required(k.subscription)?)
        .map_err(|e| id_err(k.subscription, e))?;
    let azure_subscription = AzureSubscriptionId::parse(row.required(k.entitlement)?)
        .map_err(|e| id_err(k.entitlement, e))?;
    let usage_date = row.date(k.usage_date)?;
    let quantity = row.decimal(k.quantity)?;
    let total = row.decimal(k.total)?;
    let currency_text = row.required(k.currency)?;
    let currency = Currency::parse(currency_text).map_err(|_| {
        row.err(
            k.currency,
            format!("{currency_text:?} is not a currency code"),
        )
    })?;
    let resource = match row.text(k.resource)? {
        "" => None,
        r => Some(ResourceId::parse(r).map_err(|e| id_err(k.resource, e))?),
    };
    let partner = match row.text(k.partner)? {
        "" => None,
        p => Some(PartnerId::parse(p).map_err(|e| id_err(k.partner, e))?),
    };
    let reseller = match row.text(k.reseller)? {
        "" => None,
        r => Some(ResellerMpnId::parse(r).map_err(|e| id_err(k.reseller, e))?),
    };
    let line = UsageLine {
        partner,
        customer,
        customer_name: row.string(k.customer_name)?,
        customer_country: row
            .opt_string(k.customer_country)?
            .map(|c| c.to_ascii_uppercase()),
        reseller,
        invoice_number: row.opt_string(k.invoice)?,
        billing_subscription,
        azure_subscription,
        usage_date,
        product_id: row.string(k.product)?,
        sku_name: row.string(k.sku_name)?,
        meter_id: row.string(k.meter_id)?,
        meter_category: row.required(k.meter_category)?.to_string(),
        meter_subcategory: row.string(k.meter_sub)?,
        meter_name: row.string(k.meter_name)?,
        meter_region: row.string(k.meter_region)?,
        resource_location: row.text(k.location)?.to_ascii_lowercase(),
        consumed_service: row.string(k.consumed)?,
        resource_group: row.string(k.rg)?,
        resource,
        charge_type: row.string(k.charge_type)?,
        unit: row.string(k.unit)?,
        quantity,
        effective_unit_price: row.opt_decimal(k.eup)?,
        cost: Money::new(total, currency),
    };
    let mut parts: [&[u8]; USAGE_COLUMNS.len()] = [b""; USAGE_COLUMNS.len()];
    let mut n = 0;
    for &c in &row.layout.key_columns {
        parts[n] = row.raw(c).trim_ascii();
        n += 1;
    }
    let key = keys.derive(EventKind::Usage, &parts[..n]);
    Ok((line, key))
}

fn encode(rec: &csv::ByteRecord) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::new());
    let _ = w.write_byte_record(rec);
    w.into_inner().unwrap_or_default()
}

/// The instant a usage day becomes knowable: the end of that UTC day.
pub fn usage_event_time(d: NaiveDate) -> cspguard_domain::Instant {
    let next = d.succ_opt().unwrap_or(d);
    Utc.from_utc_datetime(&next.and_time(chrono::NaiveTime::MIN))
}

fn reader_builder() -> csv::ReaderBuilder {
    // Rejects must name the right line, and the csv crate miscounts lines of CRLF files: so records end at '\n' only
    // (a CR left at the end of the last field is trimmed like any blank), and the header is read as an ordinary record.
    let mut b = csv::ReaderBuilder::new();
    b.flexible(true)
        .has_headers(false)
        .terminator(csv::Terminator::Any(b'\n'));
    b
}

/// Reads the header record and works out the layout; the rejects preamble goes to the sink.
fn read_header<R: std::io::Read>(
    rdr: &mut csv::Reader<R>,
    opts: &ImportOptions,
    sink: &mut dyn Sink,
) -> Result<Layout, ParseError> {
    let mut header = csv::ByteRecord::new();
    if let Err(e) = rdr.read_byte_record(&mut header) {
        return Err(match e.into_kind() {
            csv::ErrorKind::Io(source) => ParseError::Io {
                origin: opts.origin.clone(),
                source,
            },
            other => ParseError::WrongKind {
                origin: opts.origin.clone(),
                kind: SourceKind::Usage,
                reason: format!("the header cannot be read: {other:?}"),
            },
        });
    }
    if header.is_empty() || header.iter().all(|h| h.trim_ascii().is_empty()) {
        return Err(ParseError::Empty {
            origin: opts.origin.clone(),
            kind: SourceKind::Usage,
        });
    }
    let layout = Layout::from_header(&header, &opts.origin)?;
    sink.preamble(&encode(&header));
    Ok(layout)
}

/// Parses the records after the header. `line_offset` is added to the reader's line numbers (a chunk of a file starts
/// on a later line than its reader's line 1).
fn parse_records<R: std::io::Read>(
    rdr: &mut csv::Reader<R>,
    layout: &Layout,
    line_offset: u64,
    opts: &ImportOptions,
    sink: &mut dyn Sink,
) -> Result<(), ParseError> {
    let cols = Cols::new();
    let stopped = |_| ParseError::Stopped {
        origin: opts.origin.clone(),
    };
    let mut rec = csv::ByteRecord::new();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line()) + line_offset;
                match e.into_kind() {
                    csv::ErrorKind::Io(source) => {
                        return Err(ParseError::Io {
                            origin: opts.origin.clone(),
                            source,
                        })
                    }
                    other => {
                        sink.reject(Reject {
                            line,
                            column: None,
                            field: None,
                            reason: format!("unreadable CSV row: {other:?}"),
                            raw: Vec::new(),
                        })
                        .map_err(stopped)?;
                        continue;
                    }
                }
            }
        }
        let line = rec.position().map_or(0, |p| p.line()) + line_offset;
        if rec.len() == 1 && rec[0].trim_ascii().is_empty() {
            continue; // a blank line
        }
        if rec.len() != layout.width {
            sink.reject(Reject {
                line,
                column: Some(rec.len().min(layout.width) as u64 + 1),
                field: None,
                reason: format!(
                    "the row has {} fields, the header has {}",
                    rec.len(),
                    layout.width
                ),
                raw: encode(&rec),
            })
            .map_err(stopped)?;
            continue;
        }
        let row = Row {
            rec: &rec,
            layout,
            utf8: std::str::from_utf8(rec.as_slice()).ok(),
        };
        match convert(&row, &cols, opts.usage_keys) {
            Ok((usage, key)) => {
                let event_time = usage_event_time(usage.usage_date);
                sink.accept(Envelope {
                    key,
                    event_time,
                    source: SourceRef {
                        origin: opts.origin.clone(),
                        line: Some(line),
                    },
                    event: Event::Usage(usage),
                })
                .map_err(stopped)?;
            }
            Err(e) => {
                sink.reject(Reject {
                    line,
                    column: e.column,
                    field: Some(e.field.to_string()),
                    reason: e.reason,
                    raw: encode(&rec),
                })
                .map_err(stopped)?;
            }
        }
    }
    Ok(())
}

pub(crate) fn parse(
    reader: impl BufRead,
    opts: &ImportOptions,
    sink: &mut dyn Sink,
) -> Result<(), ParseError> {
    let mut rdr = reader_builder().from_reader(reader);
    let layout = read_header(&mut rdr, opts, sink)?;
    parse_records(&mut rdr, &layout, 0, opts, sink)
}

/// Where records end, following the csv crate's quoting rules (`"` opens a quoted field only at a field's start; `""`
/// inside one is a quote; records end at `\n` outside quotes), so a file can be cut into chunks that parse alone
/// exactly as they would in one pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    /// At the start of a record or field.
    StartField,
    /// In an unquoted field, or after a quoted field's closing quote.
    Out,
    InQuoted,
}

/// The quoting state after `line` (which ends with its `\n`), from `state` at its start (`StartField` or `InQuoted`):
/// `InQuoted` if the line ends inside a quoted field, else `StartField` (the record ended). Jumps from quote to quote:
/// outside a quoted field only a quote at a field's start matters, inside one only quotes do.
fn line_end_state(mut state: Quote, line: &[u8]) -> Quote {
    let mut at = 0;
    loop {
        let Some(q) = memchr::memchr(b'"', &line[at..]).map(|q| at + q) else {
            return if state == Quote::InQuoted {
                Quote::InQuoted
            } else {
                Quote::StartField
            };
        };
        if state == Quote::InQuoted {
            if line.get(q + 1) == Some(&b'"') {
                at = q + 2; // an escaped quote
            } else {
                state = Quote::Out; // the field's closing quote
                at = q + 1;
            }
        } else {
            if q == 0 || line[q - 1] == b',' {
                state = Quote::InQuoted; // opens a quoted field
            }
            at = q + 1;
        }
    }
}

#[derive(Debug)]
struct Framer {
    state: Quote,
    /// How far the buffer was scanned (always just after a `\n`), and the lines up to there.
    at: usize,
    lines: u64,
    /// The end of the last complete record found, and the lines before it.
    last: Option<(usize, u64)>,
}

impl Framer {
    fn new() -> Self {
        Framer {
            state: Quote::StartField,
            at: 0,
            lines: 0,
            last: None,
        }
    }

    /// Scans the complete lines of `buf` not scanned yet (`buf` only grows between calls) and returns the end of the
    /// last complete record so far (or the first, with `first`) and the number of lines before it.
    fn scan(&mut self, buf: &[u8], first: bool) -> Option<(usize, u64)> {
        while let Some(nl) = memchr::memchr(b'\n', &buf[self.at..]) {
            let line = &buf[self.at..self.at + nl + 1];
            self.state = line_end_state(self.state, line);
            self.at += nl + 1;
            self.lines += 1;
            // Never cut after a blank line: the csv reader skips blank lines as part of reading the next record, whose
            // line number is then the first blank line's. Cutting before them keeps that numbering.
            if self.state == Quote::StartField && line.len() > 1 {
                self.last = Some((self.at, self.lines));
                if first {
                    break;
                }
            }
        }
        self.last
    }
}

/// Receives a parallel parse's output in file order.
pub trait ChunkSink<T> {
    /// The prepared events of one chunk (after that chunk's rejects).
    fn chunk(&mut self, events: T) -> Result<(), Stopped>;
    fn reject(&mut self, reject: Reject) -> Result<(), Stopped>;
    /// As [`Sink::preamble`].
    fn preamble(&mut self, _raw: &[u8]) {}
}

/// Turns one chunk's events into what the [`ChunkSink`] receives, one event at a time (so a chunk never holds all its
/// events in their in-memory form), on the worker thread that parsed them.
pub trait ChunkBuilder {
    type Output: Send;
    fn push(&mut self, event: Envelope) -> Result<(), Stopped>;
    fn finish(self) -> Result<Self::Output, Stopped>;
}

impl ChunkBuilder for Vec<Envelope> {
    type Output = Vec<Envelope>;
    fn push(&mut self, event: Envelope) -> Result<(), Stopped> {
        Vec::push(self, event);
        Ok(())
    }
    fn finish(self) -> Result<Self::Output, Stopped> {
        Ok(self)
    }
}

/// Feeds one chunk's events to a builder and keeps its rejects, on a worker thread.
struct ChunkCollect<B> {
    builder: B,
    rejects: Vec<Reject>,
    stopped: bool,
}

impl<B: ChunkBuilder> Sink for ChunkCollect<B> {
    fn accept(&mut self, event: Envelope) -> Result<(), Stopped> {
        let r = self.builder.push(event);
        self.stopped |= r.is_err();
        r
    }
    fn reject(&mut self, reject: Reject) -> Result<(), Stopped> {
        self.rejects.push(reject);
        Ok(())
    }
}

/// Adapts a [`ChunkSink`] for the header and for files without a complete record, parsed in one pass.
struct Batching<'a, B: ChunkBuilder> {
    sink: &'a mut dyn ChunkSink<B::Output>,
    builder: Option<B>,
}

impl<B: ChunkBuilder> Batching<'_, B> {
    fn flush(&mut self) -> Result<(), Stopped> {
        match self.builder.take() {
            Some(b) => self.sink.chunk(b.finish()?),
            None => Ok(()),
        }
    }
}

impl<B: ChunkBuilder> Sink for Batching<'_, B> {
    fn accept(&mut self, event: Envelope) -> Result<(), Stopped> {
        match &mut self.builder {
            Some(b) => b.push(event),
            None => Err(Stopped),
        }
    }
    fn reject(&mut self, reject: Reject) -> Result<(), Stopped> {
        self.sink.reject(reject)
    }
    fn preamble(&mut self, raw: &[u8]) {
        self.sink.preamble(raw);
    }
}

type ChunkOutput<T> = Result<(Result<T, Stopped>, Vec<Reject>, Result<(), ParseError>), ParseError>;

/// Parses a usage CSV on `threads` threads: the file is cut into chunks of about `chunk_bytes` at record boundaries,
/// each chunk is parsed on a worker into a builder from `new_builder` (e.g. encoding events for storage as they come),
/// and the results reach the sink in file order, so events, rejects and line numbers are exactly those of
/// [`crate::parse`]. Memory is bounded by the chunks in flight (a few per thread), not by the file.
pub fn parse_usage_parallel<B: ChunkBuilder>(
    mut reader: impl std::io::Read + Send,
    opts: &ImportOptions,
    threads: usize,
    chunk_bytes: usize,
    new_builder: &(dyn Fn() -> B + Sync),
    sink: &mut dyn ChunkSink<B::Output>,
) -> Result<(), ParseError> {
    let io = |source| ParseError::Io {
        origin: opts.origin.clone(),
        source,
    };
    let stopped = || ParseError::Stopped {
        origin: opts.origin.clone(),
    };
    let chunk_bytes = chunk_bytes.max(1);
    // The first chunk holds at least the header: read until a record ends or the file does.
    let mut framer = Framer::new();
    let mut first = Vec::new();
    let header_end = loop {
        let got = read_up_to(&mut reader, &mut first, chunk_bytes).map_err(io)?;
        if let Some(end) = framer.scan(&first, true) {
            break Some(end);
        }
        if got == 0 {
            break None;
        }
    };
    let Some((header_end, header_lines)) = header_end else {
        // No complete record: the whole file is the header (or nothing); one pass says what is wrong with it.
        let mut b = Batching {
            sink,
            builder: Some(new_builder()),
        };
        parse(&first[..], opts, &mut b)?;
        return b.flush().map_err(|_| stopped());
    };
    // The header as the one-pass parser reads it; the rest of the first read is the start of the first chunk.
    let layout = {
        let mut b = Batching::<B> {
            sink: &mut *sink,
            builder: None,
        };
        let mut rdr = reader_builder().from_reader(&first[..header_end]);
        read_header(&mut rdr, opts, &mut b)?
    };
    let mut carry = first.split_off(header_end);
    drop(first);
    let threads = threads.max(1);
    let layout = &layout;
    let (work_tx, work_rx) = std::sync::mpsc::sync_channel::<(u64, Vec<u8>, u64)>(threads);
    let work_rx = std::sync::Arc::new(std::sync::Mutex::new(work_rx));
    let (done_tx, done_rx) = std::sync::mpsc::channel::<(u64, ChunkOutput<B::Output>)>();
    // Chunks ahead of the consumer: each costs its bytes and its events.
    let (token_tx, token_rx) = std::sync::mpsc::sync_channel::<()>(threads + 2);
    // Parsed chunks' buffers go back to the reader, so the file is read into a few buffers over and over rather than
    // into fresh memory the kernel must zero (measured: page faults on new chunk buffers were ~5% of an import's CPU).
    let (spare_tx, spare_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    for _ in 0..threads + 2 {
        let _ = token_tx.send(());
    }
    // Every channel end is owned by one thread (or the consumer), so when any side stops, the others see a closed
    // channel and stop too: no thread waits forever.
    std::thread::scope(move |scope| -> Result<(), ParseError> {
        let reader_done = done_tx.clone();
        scope.spawn(move || {
            let mut framer = Framer::new();
            let mut idx = 0u64;
            let mut line = 1 + header_lines;
            let mut eof = false;
            let mut need_more = false;
            loop {
                if !eof && (carry.len() < chunk_bytes || need_more) {
                    let want = if need_more {
                        chunk_bytes
                    } else {
                        chunk_bytes - carry.len()
                    };
                    match read_up_to(&mut reader, &mut carry, want) {
                        Ok(0) => eof = true,
                        Ok(_) => {}
                        Err(e) => {
                            let _ = reader_done.send((idx, Err(io(e))));
                            return;
                        }
                    }
                    need_more = false;
                    if !eof && carry.len() < chunk_bytes {
                        continue;
                    }
                }
                let (end, lines) = if eof {
                    if carry.is_empty() {
                        return;
                    }
                    (carry.len(), 0)
                } else {
                    match framer.scan(&carry, false) {
                        Some(c) => c,
                        None => {
                            need_more = true; // a record longer than a chunk: read on
                            continue;
                        }
                    }
                };
                let mut rest = spare_rx.try_recv().unwrap_or_default();
                rest.clear();
                rest.extend_from_slice(&carry[end..]);
                carry.truncate(end);
                let chunk = std::mem::replace(&mut carry, rest);
                // The rest starts a record: scan it afresh.
                framer = Framer::new();
                if token_rx.recv().is_err() || work_tx.send((idx, chunk, line)).is_err() {
                    return;
                }
                idx += 1;
                line += lines;
            }
        });
        for _ in 0..threads {
            let done_tx = done_tx.clone();
            let work_rx = work_rx.clone();
            let spare_tx = spare_tx.clone();
            scope.spawn(move || loop {
                let next = match work_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok((idx, chunk, line)) = next else {
                    return;
                };
                let mut c = ChunkCollect {
                    builder: new_builder(),
                    rejects: Vec::new(),
                    stopped: false,
                };
                let mut rdr = reader_builder().from_reader(&chunk[..]);
                let parsed = parse_records(&mut rdr, layout, line - 1, opts, &mut c);
                drop(rdr);
                let _ = spare_tx.send(chunk);
                let prepared = if c.stopped {
                    Err(Stopped)
                } else {
                    c.builder.finish()
                };
                if done_tx
                    .send((idx, Ok((prepared, c.rejects, parsed))))
                    .is_err()
                {
                    return;
                }
            });
        }
        drop(done_tx);
        drop(spare_tx);
        // In file order.
        let mut waiting = std::collections::BTreeMap::new();
        let mut next = 0u64;
        for (idx, out) in done_rx.iter() {
            waiting.insert(idx, out);
            while let Some(out) = waiting.remove(&next) {
                let (prepared, rejects, parsed) = out?;
                for r in rejects {
                    sink.reject(r).map_err(|_| stopped())?;
                }
                parsed?;
                sink.chunk(prepared.map_err(|_| stopped())?)
                    .map_err(|_| stopped())?;
                next += 1;
                let _ = token_tx.send(());
            }
        }
        Ok(())
    })
}

/// Appends up to `want` more bytes from `r` to `buf` (fewer only at the end of the file); returns how many.
fn read_up_to(
    r: &mut impl std::io::Read,
    buf: &mut Vec<u8>,
    want: usize,
) -> std::io::Result<usize> {
    let start = buf.len();
    buf.resize(start + want, 0);
    let mut got = 0;
    while got < want {
        match r.read(&mut buf[start + got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                buf.truncate(start + got);
                return Err(e);
            }
        }
    }
    buf.truncate(start + got);
    Ok(got)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{example, run};

    #[test]
    fn the_example_imports_whole() {
        let c = run(SourceKind::Usage, &example("usage_small.csv"), None).unwrap();
        assert!(c.rejects.is_empty(), "{:?}", c.rejects);
        assert_eq!(c.events.len(), 12);
        let Event::Usage(u) = &c.events[0].event else {
            panic!()
        };
        assert_eq!(u.cost.to_string(), "11.96 USD");
        assert_eq!(
            u.azure_subscription.as_str(),
            "d6645fa9-e8a8-529f-035e-fa259b08923d"
        );
        assert_eq!(
            c.events[0].event_time.to_rfc3339(),
            "2026-09-02T00:00:00+00:00"
        );
        assert_eq!(c.events[0].source.line, Some(2));
    }

    #[test]
    fn column_order_bom_and_crlf_do_not_change_keys() {
        let text = example("usage_small.csv");
        let mut rows: Vec<Vec<String>> = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        for r in &mut rows {
            r.reverse();
        }
        let mut out = String::from("\u{feff}");
        for r in &rows {
            out.push_str(&r.join(","));
            out.push_str("\r\n");
        }
        let a = run(SourceKind::Usage, &text, None).unwrap();
        let b = run(SourceKind::Usage, &out, None).unwrap();
        let ka: Vec<_> = a.events.iter().map(|e| e.key).collect();
        let kb: Vec<_> = b.events.iter().map(|e| e.key).collect();
        assert_eq!(ka, kb);
    }

    #[test]
    fn billed_and_unbilled_deliveries_share_a_key() {
        let text = example("usage_small.csv");
        let billed = text
            .lines()
            .enumerate()
            .map(|(i, l)| {
                if i == 0 {
                    return l.to_string();
                }
                let mut f: Vec<&str> = l.split(',').collect();
                f[7] = "7654321";
                f[8] = "G012345678";
                f.join(",")
            })
            .collect::<Vec<_>>()
            .join("\n");
        let a = run(SourceKind::Usage, &text, None).unwrap();
        let b = run(SourceKind::Usage, &billed, None).unwrap();
        assert_eq!(a.events[3].key, b.events[3].key);
    }

    #[test]
    fn bad_rows_are_rejected_with_line_and_column_and_the_rest_kept() {
        let text = example("usage_small.csv");
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let q = lines[0].split(',').position(|c| c == "Quantity").unwrap();
        let mut f: Vec<&str> = lines[3].split(',').collect();
        f[q] = "twelve";
        lines[3] = f.join(",");
        lines[5] = lines[5].split(',').take(7).collect::<Vec<_>>().join(",");
        let c = run(SourceKind::Usage, &lines.join("\n"), None).unwrap();
        assert_eq!(c.events.len(), 10);
        assert_eq!(c.rejects.len(), 2);
        assert_eq!(c.rejects[0].line, 4);
        assert_eq!(c.rejects[0].column, Some(q as u64 + 1));
        assert_eq!(c.rejects[0].field.as_deref(), Some("Quantity"));
        assert!(c.rejects[0].reason.contains("twelve"));
        assert_eq!(c.rejects[1].line, 6);
        assert!(c.rejects[1].reason.contains("7 fields"));
        assert!(String::from_utf8_lossy(&c.rejects[0].raw).contains("twelve"));
    }

    #[test]
    fn bytes_that_are_utf8_only_across_two_fields_are_rejected() {
        // "é" is C3 A9: cut by a comma, neither field is UTF-8, though the record's fields one after the other are.
        let text = example("usage_small.csv");
        let mut lines: Vec<Vec<u8>> = text.lines().map(|l| l.as_bytes().to_vec()).collect();
        let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
        let name = header.iter().position(|c| *c == "CustomerName").unwrap();
        let mut f: Vec<Vec<u8>> = lines[2].split(|&b| b == b',').map(<[u8]>::to_vec).collect();
        f[name].push(0xC3);
        f[name + 1].insert(0, 0xA9);
        lines[2] = f.join(&b","[..]);
        let input = lines.join(&b"\n"[..]);
        let mut c = crate::testing::Collect::default();
        parse(&input[..], &crate::testing::opts(None), &mut c).unwrap();
        assert_eq!(c.events.len(), 11);
        assert_eq!(c.rejects.len(), 1);
        assert_eq!(c.rejects[0].line, 3);
        assert_eq!(c.rejects[0].field.as_deref(), Some("CustomerName"));
        assert!(
            c.rejects[0].reason.contains("UTF-8"),
            "{}",
            c.rejects[0].reason
        );
    }

    #[test]
    fn key_versions_give_the_same_lines_and_separate_keys() {
        let text = example("usage_small.csv");
        let mut keys = Vec::new();
        for v in [UsageKeyVersion::V1, UsageKeyVersion::V2] {
            let mut c = crate::testing::Collect::default();
            let opts = ImportOptions {
                usage_keys: v,
                ..crate::testing::opts(None)
            };
            parse(text.as_bytes(), &opts, &mut c).unwrap();
            keys.push(c.events.iter().map(|e| e.key).collect::<Vec<_>>());
        }
        assert!(keys[0].iter().zip(&keys[1]).all(|(a, b)| a != b));
        // Distinct lines keep distinct keys in both versions.
        for k in &keys {
            let set: std::collections::HashSet<_> = k.iter().collect();
            assert_eq!(set.len(), k.len());
        }
    }

    #[test]
    fn a_file_without_the_columns_is_unusable_and_names_them() {
        let e = run(SourceKind::Usage, "not a usage file\n", None)
            .err()
            .unwrap();
        let msg = e.to_string();
        assert!(matches!(e, ParseError::MissingColumns { .. }));
        assert!(
            msg.contains("CustomerId") && msg.contains("BillingPreTaxTotal"),
            "{msg}"
        );
        assert!(matches!(
            run(SourceKind::Usage, "", None),
            Err(ParseError::Empty { .. })
        ));
    }

    /// Collects a parallel parse's output as the one-pass parser's sink would see it.
    #[derive(Default)]
    struct Chunks {
        events: Vec<Envelope>,
        rejects: Vec<Reject>,
        preamble: Vec<u8>,
        chunks: usize,
    }

    impl ChunkSink<Vec<Envelope>> for Chunks {
        fn chunk(&mut self, events: Vec<Envelope>) -> Result<(), Stopped> {
            self.events.extend(events);
            self.chunks += 1;
            Ok(())
        }
        fn reject(&mut self, reject: Reject) -> Result<(), Stopped> {
            self.rejects.push(reject);
            Ok(())
        }
        fn preamble(&mut self, raw: &[u8]) {
            self.preamble = raw.to_vec();
        }
    }

    fn parallel(input: &str, threads: usize, chunk: usize) -> Result<Chunks, ParseError> {
        let mut c = Chunks::default();
        parse_usage_parallel(
            input.as_bytes(),
            &crate::testing::opts(None),
            threads,
            chunk,
            &Vec::new,
            &mut c,
        )?;
        Ok(c)
    }

    #[test]
    fn parallel_parsing_equals_one_pass_whatever_the_chunks() {
        let text = example("usage_small.csv");
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let header: Vec<&str> = lines[0].split(',').collect();
        let q = header.iter().position(|c| *c == "Quantity").unwrap();
        let tags = header.iter().position(|c| *c == "Tags").unwrap();
        let name = header.iter().position(|c| *c == "CustomerName").unwrap();
        let edit = |l: &str, c: usize, v: &str| {
            let mut f: Vec<String> = l.split(',').map(str::to_string).collect();
            f[c] = v.to_string();
            f.join(",")
        };
        lines[2] = edit(&lines[2], tags, "\"{\"\"a\"\":\"\"x\ny,z\"\"}\""); // quoted, with a newline and a comma
        lines[3] = edit(&lines[3], q, "twelve");
        lines[4] = edit(&lines[4], name, "Stray \" quote"); // a quote inside an unquoted field is data
        lines[6] = lines[6].split(',').take(5).collect::<Vec<_>>().join(",");
        lines.insert(8, String::new());
        lines[9] = edit(&lines[9], name, "\"Quoted, \"\"name\"\"\"");
        let mut variants = vec![
            lines.join("\n"),
            lines.join("\n") + "\n",
            lines.join("\r\n") + "\r\n",
        ];
        variants.push(format!("\u{feff}{}", variants[0]));
        variants.push(format!("{}\n\"unterminated,quote", variants[1]));
        variants.push(lines[0].clone());
        variants.push(format!("{}\n", lines[0]));
        variants.push("not a usage file\n".into());
        variants.push(String::new());
        variants.push(format!("\n\n{}\n\n\n{}", lines[0], lines[1..].join("\n\n")));
        // Quotes in every position: escaped, after a closing quote, stray, opening a field that spans lines.
        let tricky = [
            "\"a\"\"\nb\"",
            "\"a\"x\"",
            "x\"\"y",
            "\"\"",
            "\"\"\"\"",
            "\"\n\n\"",
            "\"a\nb\"\"\nc\"",
        ];
        let mut t = vec![lines[0].clone()];
        for (i, v) in tricky.iter().enumerate() {
            t.push(edit(&lines[1], tags, v));
            t.push(edit(&lines[1], q, &format!("{i}.5")));
        }
        variants.push(t.join("\n"));
        for v in &variants {
            let one = run(SourceKind::Usage, v, None);
            for threads in [1, 2, 3] {
                for chunk in [1, 7, 64, 300, 1500, 1 << 20] {
                    let par = parallel(v, threads, chunk);
                    match (&one, &par) {
                        (Ok(a), Ok(b)) => {
                            assert_eq!(a.events, b.events, "threads {threads}, chunk {chunk}");
                            assert_eq!(a.rejects, b.rejects, "threads {threads}, chunk {chunk}");
                        }
                        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                        _ => panic!(
                            "one pass {:?} but parallel {:?}",
                            one.as_ref().err(),
                            par.as_ref().err()
                        ),
                    }
                }
            }
        }
        let one = run(SourceKind::Usage, &variants[1], None).unwrap();
        assert!(
            one.rejects.len() >= 2 && one.events.len() >= 8,
            "{:?}",
            one.rejects
        );
        assert!(parallel(&variants[1], 2, 300).unwrap().chunks > 3);
    }
}
