//! Daily rated usage reconciliation CSV (billed and unbilled, new commerce): header-driven, any column order, extra
//! columns ignored, names matched case-insensitively, BOM and CRLF accepted. Streams row by row.
//!
//! Idempotency: a row's key is the hash of every documented column except `InvoiceNumber` and `ResellerMPNID`, in the
//! documented order, whatever the file's order. Those two are left out because they are what differs between the
//! unbilled file and the billed file of the same usage: the billed delivery of a day already imported unbilled is a
//! duplicate, not a second charge. Decision: two rows identical in every other column are one charge (Microsoft's
//! re-deliveries repeat rows exactly; genuinely separate charges differ at least in quantity or resource).

use crate::{ImportOptions, ParseError, Reject, Sink, SourceKind};
use chrono::{NaiveDate, TimeZone, Utc};
use cspguard_domain::{
    parse_decimal, AzureSubscriptionId, BillingSubscriptionId, Currency, Envelope, Event,
    EventKind, IdempotencyKey, Money, PartnerId, ResellerMpnId, ResourceId, SourceRef, TenantId,
    UsageLine,
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

fn convert(row: &Row<'_>, k: &Cols) -> Result<(UsageLine, IdempotencyKey), RowError> {
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
    let key = IdempotencyKey::derive(EventKind::Usage, &parts[..n]);
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

pub(crate) fn parse(
    reader: impl BufRead,
    opts: &ImportOptions,
    sink: &mut dyn Sink,
) -> Result<(), ParseError> {
    // Rejects must name the right line, and the csv crate miscounts lines of CRLF files: so records end at '\n' only
    // (a CR left at the end of the last field is trimmed like any blank), and the header is read as an ordinary record.
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(reader);
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
                let line = e.position().map_or(0, |p| p.line());
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
        let line = rec.position().map_or(0, |p| p.line());
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
            layout: &layout,
        };
        match convert(&row, &cols) {
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
}
