//! Usage segments: many usage lines in one row of `event_segments`, in a compact binary encoding instead of one JSON
//! row each.
//!
//! A segment body is
//! `version(1) | string count | (len | utf-8 bytes)* | event count | record*`, every integer a LEB128 varint. A record is
//! one usage event: the 16-byte idempotency key, the event time (zigzag micros), the source line (0 = none, else
//! line + 1), then the `UsageLine` fields in declaration order: strings as indexes into the segment's string table
//! (optional strings as 0 = none, else index + 1), the usage date as days from the common era, decimals as
//! `scale | sign << 7` then the unsigned mantissa, the currency as its three letters.
//!
//! The string table is built per batch on the producer's thread ([`UsageEncoder`]): the store writer only concatenates
//! the records of the events that turned out new. Decoding needs no JSON and allocates only the event's own strings.

use chrono::NaiveDate;
use cspguard_domain::{
    AzureSubscriptionId, BillingSubscriptionId, Currency, Envelope, Event, IdempotencyKey, Instant,
    Money, PartnerId, ResellerMpnId, ResourceId, SourceRef, TenantId, UsageLine,
};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

pub(crate) const VERSION: u8 = 1;

/// FxHash (rustc's): a dictionary lookup per string field of every usage line is hot, and SipHash's DoS resistance buys
/// nothing for a per-batch table.
#[derive(Default)]
struct Fx(u64);
impl Hasher for Fx {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            h = (h.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ b as u64).wrapping_mul(K);
        }
        self.0 = h;
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u128) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u128 {
    ((v << 1) ^ (v >> 63)) as u64 as u128
}

/// A batch's string table: the encoded strings (each length-prefixed) and where each one's bytes are.
#[derive(Debug, Clone, Default)]
pub(crate) struct StringTable {
    pub(crate) encoded: Vec<u8>,
    spans: Vec<(u32, u32)>,
}

impl StringTable {
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }
    pub(crate) fn get(&self, i: u32) -> &str {
        let (at, len) = self.spans[i as usize];
        // Only whole `&str`s are ever copied in.
        std::str::from_utf8(&self.encoded[at as usize..(at + len) as usize]).unwrap_or_default()
    }
}

/// What the derived tables need of a usage line, as indexes into its batch's string table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UsageFacts {
    pub(crate) azure_subscription: u32,
    pub(crate) customer: u32,
    pub(crate) customer_name: u32,
    pub(crate) customer_country: Option<u32>,
    pub(crate) reseller: Option<u32>,
    pub(crate) billing_subscription: u32,
    pub(crate) usage_date: NaiveDate,
    pub(crate) meter_category: u32,
    /// The resource location, or the meter region where the location is empty.
    pub(crate) region: u32,
    pub(crate) resource: Option<u32>,
    pub(crate) currency: Currency,
    pub(crate) cost_micros: i64,
}

/// Encodes the usage events of one batch against a shared string table.
#[derive(Default)]
pub(crate) struct UsageEncoder {
    dict: HashMap<Box<str>, u32, BuildHasherDefault<Fx>>,
    table: StringTable,
    /// The string each field of the previous record had (by the field's order in the record): consecutive lines of a
    /// usage file mostly repeat the customer, subscriptions, meter and resource, so one comparison replaces a lookup.
    last: Vec<u32>,
    /// The next field's place in `last`.
    field: usize,
}

impl UsageEncoder {
    fn idx(&mut self, s: &str) -> u32 {
        let field = self.field;
        self.field += 1;
        if self.last.len() <= field {
            self.last.resize(field + 1, u32::MAX);
        }
        let last = self.last[field];
        if last != u32::MAX && self.table.get(last) == s {
            return last;
        }
        let i = self.lookup(s);
        self.last[field] = i;
        i
    }

    fn lookup(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.dict.get(s) {
            return i;
        }
        let i = self.table.spans.len() as u32;
        put_varint(&mut self.table.encoded, s.len() as u128);
        let at = self.table.encoded.len() as u32;
        self.table.encoded.extend_from_slice(s.as_bytes());
        self.table.spans.push((at, s.len() as u32));
        self.dict.insert(s.into(), i);
        i
    }

    fn str(&mut self, out: &mut Vec<u8>, s: &str) -> u32 {
        let i = self.idx(s);
        put_varint(out, i as u128);
        i
    }

    fn opt(&mut self, out: &mut Vec<u8>, s: Option<&str>) -> Option<u32> {
        match s {
            None => {
                self.field += 1; // keeps the fields after it in their places in `last`
                out.push(0);
                None
            }
            Some(s) => {
                let i = self.idx(s);
                put_varint(out, i as u128 + 1);
                Some(i)
            }
        }
    }

    /// Appends one usage event's record to `out` and returns what the derived tables need of it.
    pub(crate) fn record(
        &mut self,
        out: &mut Vec<u8>,
        e: &Envelope,
        u: &UsageLine,
        cost_micros: i64,
    ) -> UsageFacts {
        self.field = 0;
        out.extend_from_slice(&e.key.0);
        put_varint(out, zigzag(e.event_time.timestamp_micros()));
        put_varint(out, e.source.line.map_or(0, |l| l as u128 + 1));
        self.opt(out, u.partner.as_ref().map(|p| p.as_str()));
        let customer = self.str(out, u.customer.as_str());
        let customer_name = self.str(out, &u.customer_name);
        let customer_country = self.opt(out, u.customer_country.as_deref());
        let reseller = self.opt(out, u.reseller.as_ref().map(|r| r.as_str()));
        self.opt(out, u.invoice_number.as_deref());
        let billing_subscription = self.str(out, u.billing_subscription.as_str());
        let azure_subscription = self.str(out, u.azure_subscription.as_str());
        put_varint(
            out,
            zigzag(chrono::Datelike::num_days_from_ce(&u.usage_date) as i64),
        );
        let mut ids = [0u32; 10];
        for (id, s) in ids.iter_mut().zip([
            &u.product_id,
            &u.sku_name,
            &u.meter_id,
            &u.meter_category,
            &u.meter_subcategory,
            &u.meter_name,
            &u.meter_region,
            &u.resource_location,
            &u.consumed_service,
            &u.resource_group,
        ]) {
            *id = self.str(out, s);
        }
        let resource = self.opt(out, u.resource.as_ref().map(|r| r.as_str()));
        self.str(out, &u.charge_type);
        self.str(out, &u.unit);
        put_decimal(out, &u.quantity);
        put_decimal(out, &u.effective_unit_price);
        put_decimal(out, &u.cost.amount);
        out.extend_from_slice(u.cost.currency.as_str().as_bytes());
        UsageFacts {
            azure_subscription,
            customer,
            customer_name,
            customer_country,
            reseller,
            billing_subscription,
            usage_date: u.usage_date,
            meter_category: ids[3],
            region: if u.resource_location.is_empty() {
                ids[6]
            } else {
                ids[7]
            },
            resource,
            currency: u.cost.currency,
            cost_micros,
        }
    }

    pub(crate) fn finish(self) -> StringTable {
        self.table
    }
}

fn put_decimal(out: &mut Vec<u8>, d: &Decimal) {
    out.push(d.scale() as u8 | if d.is_sign_negative() { 0x80 } else { 0 });
    put_varint(out, d.mantissa().unsigned_abs());
}

/// Why a segment cannot be decoded.
pub(crate) type DecodeError = String;

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, DecodeError> {
        let v = *self.b.get(self.at).ok_or("truncated")?;
        self.at += 1;
        Ok(v)
    }
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.at.checked_add(n).ok_or("length overflow")?;
        let s = self.b.get(self.at..end).ok_or("truncated")?;
        self.at = end;
        Ok(s)
    }
    fn varint(&mut self) -> Result<u128, DecodeError> {
        let mut v: u128 = 0;
        let mut shift = 0;
        loop {
            let b = self.byte()?;
            if shift >= 128 {
                return Err("varint too long".into());
            }
            v |= ((b & 0x7f) as u128) << shift;
            if b < 0x80 {
                return Ok(v);
            }
            shift += 7;
        }
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        u64::try_from(self.varint()?).map_err(|_| "integer out of range".into())
    }
    fn i64(&mut self) -> Result<i64, DecodeError> {
        let z = self.u64()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }
    fn decimal(&mut self) -> Result<Decimal, DecodeError> {
        let f = self.byte()?;
        let m = self.varint()?;
        let m = i128::try_from(m).map_err(|_| "decimal out of range")?;
        let mut d = Decimal::try_from_i128_with_scale(m, (f & 0x7f) as u32)
            .map_err(|e| format!("decimal: {e}"))?;
        d.set_sign_negative(f & 0x80 != 0);
        Ok(d)
    }
}

/// A segment's string table, validated once: the strings one after the other in one `String`, and where each is.
struct Strings {
    text: String,
    spans: Vec<(u32, u32)>,
}

impl Strings {
    fn len(&self) -> usize {
        self.spans.len()
    }
    fn at(&self, i: usize) -> Result<&str, DecodeError> {
        self.spans
            .get(i)
            .and_then(|&(a, b)| self.text.get(a as usize..b as usize))
            .ok_or_else(|| format!("string #{i} is not in the table"))
    }
    fn get(&self, r: &mut Reader<'_>) -> Result<&str, DecodeError> {
        let i = r.u64()? as usize;
        self.at(i)
    }
    fn opt(&self, r: &mut Reader<'_>) -> Result<Option<&str>, DecodeError> {
        match r.u64()? {
            0 => Ok(None),
            i => self.at(i as usize - 1).map(Some),
        }
    }
}

/// Splits a segment body into its string table and its records, and counts the records.
/// Owns the body, so a reader can keep one open across awaits (a chain of sorted segments, `raw.rs`).
pub(crate) struct Decoder {
    strings: Strings,
    body: Vec<u8>,
    /// Where the records start, how many there are; where the next one starts, how many are left.
    start: usize,
    count: u64,
    at: usize,
    left: u64,
    ids: IdCaches,
    /// The raw string fields of the record last decoded by [`Decoder::next_event_into`].
    last: Option<[u64; STRING_FIELDS]>,
}

/// Identifiers parsed once per string of a segment, then cloned: validating and lower-casing a GUID per event was an
/// eighth of decoding.
#[derive(Default)]
struct IdCaches {
    partner: IdCache<PartnerId>,
    customer: IdCache<TenantId>,
    reseller: IdCache<ResellerMpnId>,
    billing: IdCache<BillingSubscriptionId>,
    azure: IdCache<AzureSubscriptionId>,
    resource: IdCache<ResourceId>,
}

struct IdCache<T>(Vec<Option<T>>);

impl<T> Default for IdCache<T> {
    fn default() -> Self {
        IdCache(Vec::new())
    }
}

impl<T: Clone> IdCache<T> {
    fn get(
        &mut self,
        strings: &Strings,
        i: usize,
        parse: fn(&str) -> Result<T, cspguard_domain::IdError>,
    ) -> Result<T, DecodeError> {
        if self.0.len() != strings.len() {
            self.0 = vec![None; strings.len()];
        }
        let slot = self
            .0
            .get_mut(i)
            .ok_or_else(|| format!("string #{i} is not in the table"))?;
        if let Some(v) = slot {
            return Ok(v.clone());
        }
        let v = parse(strings.at(i)?).map_err(|e| e.to_string())?;
        *slot = Some(v.clone());
        Ok(v)
    }
}

impl<T: Clone + IdText> IdCache<T> {
    /// Sets `dst` to string `i`, kept as it is when equal.
    fn set(
        &mut self,
        strings: &Strings,
        i: usize,
        parse: fn(&str) -> Result<T, cspguard_domain::IdError>,
        dst: &mut T,
    ) -> Result<(), DecodeError> {
        if dst.text() != strings.at(i)? {
            *dst = self.get(strings, i, parse)?;
        }
        Ok(())
    }
    fn set_opt(
        &mut self,
        strings: &Strings,
        i: Option<usize>,
        parse: fn(&str) -> Result<T, cspguard_domain::IdError>,
        dst: &mut Option<T>,
    ) -> Result<(), DecodeError> {
        match (i, dst.as_mut()) {
            (None, _) => *dst = None,
            (Some(i), Some(d)) => self.set(strings, i, parse, d)?,
            (Some(i), None) => *dst = Some(self.get(strings, i, parse)?),
        }
        Ok(())
    }
}

impl Decoder {
    pub(crate) fn new(body: Vec<u8>) -> Result<Self, DecodeError> {
        let mut r = Reader { b: &body, at: 0 };
        let v = r.byte()?;
        if v != VERSION {
            return Err(format!("segment encoding version {v} is unknown"));
        }
        let n = r.u64()? as usize;
        let mut text = String::new();
        let mut spans = Vec::with_capacity(n.min(body.len()));
        for _ in 0..n {
            let len = r.u64()? as usize;
            let s = std::str::from_utf8(r.bytes(len)?).map_err(|_| "string is not UTF-8")?;
            let a = text.len();
            text.push_str(s);
            let b = text.len();
            spans.push((
                u32::try_from(a).map_err(|_| "string table over 4 GiB")?,
                u32::try_from(b).map_err(|_| "string table over 4 GiB")?,
            ));
        }
        let left = r.u64()?;
        let start = r.at;
        Ok(Decoder {
            strings: Strings { text, spans },
            body,
            start,
            count: left,
            at: start,
            left,
            ids: IdCaches::default(),
            last: None,
        })
    }

    /// Bytes of the segment body.
    pub(crate) fn body_len(&self) -> usize {
        self.body.len()
    }

    pub(crate) fn remaining(&self) -> u64 {
        self.left
    }

    /// Back to the first record.
    pub(crate) fn rewind(&mut self) {
        self.at = self.start;
        self.left = self.count;
        self.last = None;
    }

    /// The next record's key, event time (micros) and source line (0 = none, else line + 1); then call
    /// [`Decoder::inline_rest`] or [`Decoder::skip_rest`] before anything else.
    pub(crate) fn next_head(&mut self) -> Result<Option<([u8; 16], i64, u64)>, DecodeError> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let mut r = Reader {
            b: &self.body,
            at: self.at,
        };
        let key: [u8; 16] = r.bytes(16)?.try_into().map_err(|_| "key")?;
        let time = r.i64()?;
        let line = r.u64()?;
        self.at = r.at;
        Ok(Some((key, time, line)))
    }

    /// Appends the rest of the current record to `out` with its strings inline (see [`decode_inline_into`]).
    pub(crate) fn inline_rest(&mut self, out: &mut Vec<u8>) -> Result<(), DecodeError> {
        self.walk_rest(Some(out))
    }

    /// Steps over the rest of the current record.
    pub(crate) fn skip_rest(&mut self) -> Result<(), DecodeError> {
        self.walk_rest(None)
    }

    fn walk_rest(&mut self, mut out: Option<&mut Vec<u8>>) -> Result<(), DecodeError> {
        let r = &mut Reader {
            b: &self.body,
            at: self.at,
        };
        let s = &self.strings;
        let put_str = |out: &mut Option<&mut Vec<u8>>, v: &str| {
            if let Some(out) = out.as_deref_mut() {
                put_varint(out, v.len() as u128);
                out.extend_from_slice(v.as_bytes());
            }
        };
        let put_opt = |out: &mut Option<&mut Vec<u8>>, v: Option<&str>| {
            if let Some(out) = out.as_deref_mut() {
                match v {
                    None => out.push(0),
                    Some(v) => {
                        put_varint(out, v.len() as u128 + 1);
                        out.extend_from_slice(v.as_bytes());
                    }
                }
            }
        };
        put_opt(&mut out, s.opt(r)?); // partner
        put_str(&mut out, s.get(r)?); // customer
        put_str(&mut out, s.get(r)?); // customer name
        put_opt(&mut out, s.opt(r)?); // customer country
        put_opt(&mut out, s.opt(r)?); // reseller
        put_opt(&mut out, s.opt(r)?); // invoice number
        put_str(&mut out, s.get(r)?); // billing subscription
        put_str(&mut out, s.get(r)?); // azure subscription
        let date = r.u64()?; // usage date (zigzag)
        if let Some(out) = out.as_deref_mut() {
            put_varint(out, date as u128);
        }
        for _ in 0..10 {
            put_str(&mut out, s.get(r)?);
        }
        put_opt(&mut out, s.opt(r)?); // resource
        put_str(&mut out, s.get(r)?); // charge type
        put_str(&mut out, s.get(r)?); // unit
        for _ in 0..3 {
            let f = r.byte()?;
            let m = r.varint()?;
            if let Some(out) = out.as_deref_mut() {
                out.push(f);
                put_varint(out, m);
            }
        }
        let cur = r.bytes(3)?;
        if let Some(out) = out {
            out.extend_from_slice(cur);
        }
        self.at = r.at;
        Ok(())
    }

    /// The next event, with `origin` as its source.
    pub(crate) fn next_event(&mut self, origin: &str) -> Result<Option<Envelope>, DecodeError> {
        let mut e = blank_usage_envelope()?;
        // A new envelope: nothing of the previous one to keep.
        self.last = None;
        Ok(self.next_event_into(origin, &mut e)?.then_some(e))
    }

    /// Decodes the next event into `out`, reusing its strings' allocations (a usage line has ~20): false, leaving `out`
    /// as it was, when there is none. A string field whose table index is the one this decoder wrote into `out` last
    /// time is left as it is (consecutive lines share most of them); others are overwritten in place, identifiers
    /// parsed once per segment string. So `out` must be what this decoder's previous call wrote (any envelope on its
    /// first call): a chain keeps one envelope per segment decoder's life.
    pub(crate) fn next_event_into(
        &mut self,
        origin: &str,
        out: &mut Envelope,
    ) -> Result<bool, DecodeError> {
        if self.left == 0 {
            return Ok(false);
        }
        self.left -= 1;
        let r = &mut Reader {
            b: &self.body,
            at: self.at,
        };
        let s = &self.strings;
        let key: [u8; 16] = r.bytes(16)?.try_into().map_err(|_| "key")?;
        out.key = IdempotencyKey(key);
        out.event_time = micros(r.i64()?)?;
        out.source.line = match r.u64()? {
            0 => None,
            l => Some(l - 1),
        };
        set_str(&mut out.source.origin, origin);
        let mut last = match self.last.take() {
            Some(l) if matches!(out.event, Event::Usage(_)) => l,
            _ => [u64::MAX; STRING_FIELDS],
        };
        if !matches!(out.event, Event::Usage(_)) {
            out.event = Event::Usage(blank_usage()?);
        }
        let Event::Usage(u) = &mut out.event else {
            unreachable!("made a usage line just above")
        };
        // The next string field's raw value (an index, or 0 / index + 1 for an optional one) when it differs from
        // what `out` holds.
        let mut field = 0;
        let mut changed = |r: &mut Reader<'_>| -> Result<Option<u64>, DecodeError> {
            let v = r.u64()?;
            let k = field;
            field += 1;
            if last[k] == v {
                return Ok(None);
            }
            last[k] = v;
            Ok(Some(v))
        };
        let opt = |v: u64| (v != 0).then(|| v as usize - 1);
        let ids = &mut self.ids;
        if let Some(v) = changed(r)? {
            ids.partner
                .set_opt(s, opt(v), PartnerId::parse, &mut u.partner)?;
        }
        if let Some(v) = changed(r)? {
            ids.customer
                .set(s, v as usize, TenantId::parse, &mut u.customer)?;
        }
        if let Some(v) = changed(r)? {
            set_str(&mut u.customer_name, s.at(v as usize)?);
        }
        if let Some(v) = changed(r)? {
            set_opt_str(
                &mut u.customer_country,
                opt(v).map(|i| s.at(i)).transpose()?,
            );
        }
        if let Some(v) = changed(r)? {
            ids.reseller
                .set_opt(s, opt(v), ResellerMpnId::parse, &mut u.reseller)?;
        }
        if let Some(v) = changed(r)? {
            set_opt_str(&mut u.invoice_number, opt(v).map(|i| s.at(i)).transpose()?);
        }
        if let Some(v) = changed(r)? {
            ids.billing.set(
                s,
                v as usize,
                BillingSubscriptionId::parse,
                &mut u.billing_subscription,
            )?;
        }
        if let Some(v) = changed(r)? {
            ids.azure.set(
                s,
                v as usize,
                AzureSubscriptionId::parse,
                &mut u.azure_subscription,
            )?;
        }
        let days = i32::try_from(r.i64()?).map_err(|_| "usage date out of range")?;
        u.usage_date =
            NaiveDate::from_num_days_from_ce_opt(days).ok_or("usage date out of range")?;
        for dst in [
            &mut u.product_id,
            &mut u.sku_name,
            &mut u.meter_id,
            &mut u.meter_category,
            &mut u.meter_subcategory,
            &mut u.meter_name,
            &mut u.meter_region,
            &mut u.resource_location,
            &mut u.consumed_service,
            &mut u.resource_group,
        ] {
            if let Some(v) = changed(r)? {
                set_str(dst, s.at(v as usize)?);
            }
        }
        if let Some(v) = changed(r)? {
            ids.resource
                .set_opt(s, opt(v), ResourceId::parse, &mut u.resource)?;
        }
        if let Some(v) = changed(r)? {
            set_str(&mut u.charge_type, s.at(v as usize)?);
        }
        if let Some(v) = changed(r)? {
            set_str(&mut u.unit, s.at(v as usize)?);
        }
        u.quantity = r.decimal()?;
        u.effective_unit_price = r.decimal()?;
        let amount = r.decimal()?;
        let cur = r.bytes(3)?;
        let currency = Currency::parse(std::str::from_utf8(cur).map_err(|_| "currency")?)
            .map_err(|e| e.to_string())?;
        u.cost = Money::new(amount, currency);
        self.at = r.at;
        self.last = Some(last);
        Ok(true)
    }
}

/// String fields of a usage record (see [`Decoder::next_event_into`]).
const STRING_FIELDS: usize = 21;

/// Overwrites `dst` with `s`, keeping its allocation.
pub(crate) fn set_str(dst: &mut String, s: &str) {
    if dst != s {
        dst.clear();
        dst.push_str(s);
    }
}

/// Overwrites `dst` with `s`, keeping its allocation where there is one.
pub(crate) fn set_opt_str(dst: &mut Option<String>, s: Option<&str>) {
    match (dst.as_mut(), s) {
        (Some(d), Some(s)) => set_str(d, s),
        (_, None) => *dst = None,
        (None, Some(s)) => *dst = Some(s.to_string()),
    }
}

/// The text of a stored (normalised) identifier: equal text, equal identifier.
pub(crate) trait IdText {
    fn text(&self) -> &str;
}
macro_rules! id_text {
    ($($t:ty),*) => {$(
        impl IdText for $t {
            fn text(&self) -> &str {
                self.as_str()
            }
        }
    )*};
}
id_text!(
    PartnerId,
    TenantId,
    ResellerMpnId,
    BillingSubscriptionId,
    AzureSubscriptionId,
    ResourceId
);

/// A usage line to decode into ([`Decoder::next_event_into`] overwrites every field).
pub(crate) fn blank_usage() -> Result<UsageLine, DecodeError> {
    let zero = "00000000-0000-0000-0000-000000000000";
    Ok(UsageLine {
        partner: None,
        customer: TenantId::parse(zero).map_err(|e| e.to_string())?,
        customer_name: String::new(),
        customer_country: None,
        reseller: None,
        invoice_number: None,
        billing_subscription: BillingSubscriptionId::parse(zero).map_err(|e| e.to_string())?,
        azure_subscription: AzureSubscriptionId::parse(zero).map_err(|e| e.to_string())?,
        usage_date: NaiveDate::default(),
        product_id: String::new(),
        sku_name: String::new(),
        meter_id: String::new(),
        meter_category: String::new(),
        meter_subcategory: String::new(),
        meter_name: String::new(),
        meter_region: String::new(),
        resource_location: String::new(),
        consumed_service: String::new(),
        resource_group: String::new(),
        resource: None,
        charge_type: String::new(),
        unit: String::new(),
        quantity: Decimal::ZERO,
        effective_unit_price: Decimal::ZERO,
        cost: Money::zero(Currency::USD),
    })
}

fn blank_usage_envelope() -> Result<Envelope, DecodeError> {
    Ok(Envelope {
        key: IdempotencyKey([0; 16]),
        event_time: Instant::default(),
        source: SourceRef {
            origin: String::new(),
            line: None,
        },
        event: Event::Usage(blank_usage()?),
    })
}

// Inline bodies, for `raw.rs`: [`Decoder::inline_rest`] rewrites a record as a self-contained body (strings inline
// instead of indexes into the segment's table), so it sorts and spills on its own and is decoded only once, when it is
// consumed. An inline body is the record after its key, time and line, with each string as `len | bytes` (an optional
// string as `0` = none, else `len + 1 | bytes`); varints, decimals and the currency are copied as they are.

/// Identifiers already parsed, by their text, across inline records (stored identifiers are valid and normalised, but
/// parsing a GUID per field per event was an eighth of decoding). Cleared when it grows large, so it stays bounded.
#[derive(Default)]
pub(crate) struct InlineIds {
    partner: TextCache<PartnerId>,
    customer: TextCache<TenantId>,
    reseller: TextCache<ResellerMpnId>,
    billing: TextCache<BillingSubscriptionId>,
    azure: TextCache<AzureSubscriptionId>,
    resource: TextCache<ResourceId>,
}

struct TextCache<T>(HashMap<Box<str>, T, BuildHasherDefault<Fx>>);

impl<T> Default for TextCache<T> {
    fn default() -> Self {
        TextCache(HashMap::default())
    }
}

impl<T: Clone> TextCache<T> {
    const MAX: usize = 1 << 16;
    fn get(
        &mut self,
        s: &str,
        parse: fn(&str) -> Result<T, cspguard_domain::IdError>,
    ) -> Result<T, DecodeError> {
        if let Some(v) = self.0.get(s) {
            return Ok(v.clone());
        }
        let v = parse(s).map_err(|e| e.to_string())?;
        if self.0.len() >= Self::MAX {
            self.0.clear();
        }
        self.0.insert(s.into(), v.clone());
        Ok(v)
    }
}

impl<T: Clone + IdText> TextCache<T> {
    /// Sets `dst` to the identifier `s`, kept as it is when equal.
    fn set(
        &mut self,
        s: &str,
        parse: fn(&str) -> Result<T, cspguard_domain::IdError>,
        dst: &mut T,
    ) -> Result<(), DecodeError> {
        if dst.text() != s {
            *dst = self.get(s, parse)?;
        }
        Ok(())
    }
    fn set_opt(
        &mut self,
        s: Option<&str>,
        parse: fn(&str) -> Result<T, cspguard_domain::IdError>,
        dst: &mut Option<T>,
    ) -> Result<(), DecodeError> {
        match (s, dst.as_mut()) {
            (None, _) => *dst = None,
            (Some(s), Some(d)) => self.set(s, parse, d)?,
            (Some(s), None) => *dst = Some(self.get(s, parse)?),
        }
        Ok(())
    }
}

impl Reader<'_> {
    fn inline_str(&mut self) -> Result<&str, DecodeError> {
        let n = self.u64()? as usize;
        std::str::from_utf8(self.bytes(n)?).map_err(|_| "string is not UTF-8".into())
    }
    fn inline_opt(&mut self) -> Result<Option<&str>, DecodeError> {
        match self.u64()? as usize {
            0 => Ok(None),
            n => std::str::from_utf8(self.bytes(n - 1)?)
                .map(Some)
                .map_err(|_| "string is not UTF-8".into()),
        }
    }
}

/// Decodes an inline body written by [`Decoder::inline_rest`] into `u`, reusing its strings' allocations and keeping
/// its identifiers where they are equal.
pub(crate) fn decode_inline_into(
    body: &[u8],
    ids: &mut InlineIds,
    u: &mut UsageLine,
) -> Result<(), DecodeError> {
    let mut r = Reader { b: body, at: 0 };
    let r = &mut r;
    ids.partner
        .set_opt(r.inline_opt()?, PartnerId::parse, &mut u.partner)?;
    ids.customer
        .set(r.inline_str()?, TenantId::parse, &mut u.customer)?;
    set_str(&mut u.customer_name, r.inline_str()?);
    set_opt_str(&mut u.customer_country, r.inline_opt()?);
    ids.reseller
        .set_opt(r.inline_opt()?, ResellerMpnId::parse, &mut u.reseller)?;
    set_opt_str(&mut u.invoice_number, r.inline_opt()?);
    ids.billing.set(
        r.inline_str()?,
        BillingSubscriptionId::parse,
        &mut u.billing_subscription,
    )?;
    ids.azure.set(
        r.inline_str()?,
        AzureSubscriptionId::parse,
        &mut u.azure_subscription,
    )?;
    let days = i32::try_from(r.i64()?).map_err(|_| "usage date out of range")?;
    u.usage_date = NaiveDate::from_num_days_from_ce_opt(days).ok_or("usage date out of range")?;
    set_str(&mut u.product_id, r.inline_str()?);
    set_str(&mut u.sku_name, r.inline_str()?);
    set_str(&mut u.meter_id, r.inline_str()?);
    set_str(&mut u.meter_category, r.inline_str()?);
    set_str(&mut u.meter_subcategory, r.inline_str()?);
    set_str(&mut u.meter_name, r.inline_str()?);
    set_str(&mut u.meter_region, r.inline_str()?);
    set_str(&mut u.resource_location, r.inline_str()?);
    set_str(&mut u.consumed_service, r.inline_str()?);
    set_str(&mut u.resource_group, r.inline_str()?);
    ids.resource
        .set_opt(r.inline_opt()?, ResourceId::parse, &mut u.resource)?;
    set_str(&mut u.charge_type, r.inline_str()?);
    set_str(&mut u.unit, r.inline_str()?);
    u.quantity = r.decimal()?;
    u.effective_unit_price = r.decimal()?;
    let amount = r.decimal()?;
    let cur = r.bytes(3)?;
    let currency = Currency::parse(std::str::from_utf8(cur).map_err(|_| "currency")?)
        .map_err(|e| e.to_string())?;
    u.cost = Money::new(amount, currency);
    if r.at != body.len() {
        return Err("trailing bytes after a usage record".into());
    }
    Ok(())
}

fn micros(us: i64) -> Result<Instant, DecodeError> {
    chrono::DateTime::<chrono::Utc>::from_timestamp_micros(us)
        .ok_or_else(|| "time out of range".into())
}

/// Builds a segment body from a batch's string table and the records of the events it keeps.
pub(crate) fn body(strings: &StringTable, records: &[&[u8]]) -> Vec<u8> {
    let len: usize = records.iter().map(|r| r.len()).sum();
    let mut out = Vec::with_capacity(strings.encoded.len() + len + 16);
    out.push(VERSION);
    put_varint(&mut out, strings.len() as u128);
    out.extend_from_slice(&strings.encoded);
    put_varint(&mut out, records.len() as u128);
    for r in records {
        out.extend_from_slice(r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_decimals_round_trip() {
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            i64::MAX,
            i64::MIN,
            1_790_000_000_000_000,
        ] {
            let mut b = Vec::new();
            put_varint(&mut b, zigzag(v));
            assert_eq!(Reader { b: &b, at: 0 }.i64().unwrap(), v);
        }
        for d in [
            "0",
            "-0",
            "0.00",
            "12.34",
            "-7.560",
            "79228162514264337593543950335",
            "-0.0000000000000000000000000001",
        ] {
            let d: Decimal = d.parse().unwrap();
            let mut b = Vec::new();
            put_decimal(&mut b, &d);
            let back = Reader { b: &b, at: 0 }.decimal().unwrap();
            assert_eq!(back, d);
            assert_eq!(back.scale(), d.scale());
            assert_eq!(back.is_sign_negative(), d.is_sign_negative());
            assert_eq!(back.to_string(), d.to_string());
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for b in [
            &b""[..],
            b"\x01",
            b"\x02\x00",
            b"\x01\x01\xff\xff\xff",
            b"\x01\x00\x05abc",
        ] {
            match Decoder::new(b.to_vec()) {
                Err(_) => {}
                Ok(mut d) => while let Ok(Some(_)) = d.next_event("x") {},
            }
        }
    }
}
