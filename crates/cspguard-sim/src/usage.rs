//! Daily rated usage reconciliation files (`usage/usage_YYYY-MM.csv`) and the ingest benchmark writer.
//!
//! Money is exact: `BillingPreTaxTotal = floor(EffectiveUnitPrice x Quantity x PCToBCExchangeRate, 2)` computed
//! with `rust_decimal` (the benchmark uses the equivalent integer fixed-point arithmetic, cross-checked in tests).
//! Quantities are drawn as floats and rounded to 6 decimals before any money is computed.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::io::{self, Write};

use rust_decimal::{Decimal, RoundingStrategy};

use crate::catalog::{self, COUNTRIES, REGIONS, VM_SIZES};
use crate::model::{csv_field, Currency, Customer, Shape, Stream, World};
use crate::out::Output;
use crate::rng::{
    between, chance, choose, guid, index, lognormal, mix, pick, rng_for, tag, uniform, weighted,
    SimRng,
};
use crate::time::{days_from_civil, month_start, next_month_start, push_date, weekday, year_month};
use crate::SimError;

/// The 55 columns of Partner Center's daily rated usage reconciliation file, in order.
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

const PRODUCT: &[u8] =
    b"DZH318Z0BQPS,0001,DZH318Z09V6F,Azure plan,Azure plan,Microsoft,,Azure plan,";
/// Relative weekday load of elastic workloads, Monday to Friday.
const WEEKDAY: [f64; 5] = [1.02, 1.03, 1.02, 1.0, 0.93];
const FLUSH_AT: usize = 1 << 16;

/// Usage written: the row count and each customer's billed total per month (billing currency).
pub(crate) struct UsageOut {
    pub rows: u64,
    /// Per customer: month start day -> sum of BillingPreTaxTotal.
    pub totals: Vec<BTreeMap<i64, Decimal>>,
}

fn header() -> String {
    let mut h = USAGE_COLUMNS.join(",");
    h.push('\n');
    h
}

fn push_display(buf: &mut Vec<u8>, v: impl Display) {
    // Writing to a Vec cannot fail.
    let _ = write!(buf, "{v}");
}

/// The USD->EUR rate Partner Center applies for a month (4 decimals).
pub(crate) fn eur_rate(seed: u64, month: i64) -> Decimal {
    let mut rng = rng_for(seed, tag::FX, month as u64);
    Decimal::new(9_000 + between(&mut rng, 0, 450), 4)
}

/// floor(x, 2 decimals).
pub(crate) fn floor2(x: Decimal) -> Decimal {
    x.round_dp_with_strategy(2, RoundingStrategy::ToNegativeInfinity)
}

/// Fraction of day `[d, d + 1)` covered by `[from, to)`.
fn overlap(d: f64, from: f64, to: f64) -> f64 {
    (to.min(d + 1.0) - from.max(d)).max(0.0)
}

fn shape_factor(shape: Shape, rel: f64, day: i64) -> f64 {
    let ramp = |a: f64, b: f64| {
        if b <= a {
            1.0
        } else {
            ((rel + 0.5 - a) / (b - a)).clamp(0.0, 1.0)
        }
    };
    match shape {
        Shape::Flat => 1.0,
        Shape::RampUp { a, b } => ramp(a, b),
        Shape::RampDown { a, b } => 1.0 - ramp(a, b),
        Shape::MonthEnd { days } => {
            if next_month_start(day) - day <= i64::from(days) {
                1.0
            } else {
                0.0
            }
        }
    }
}

/// Quantity of stream `s` of customer `c` on absolute day `day` (relative day `rel`), before noise.
fn quantity(c: &Customer, s: &Stream, day: i64, rel: f64) -> f64 {
    let frac = overlap(rel, s.from, s.to);
    if frac <= 0.0 {
        return 0.0;
    }
    let wd = weekday(day);
    let weekend = wd >= 5;
    if s.weekdays_only && weekend {
        return 0.0;
    }
    let mut q = s.base * frac * shape_factor(s.shape, rel, day);
    if s.seasonal {
        q *= (1.0 + c.drift).powf(rel);
        if let Some((a, b, r)) = c.growth {
            q *= (1.0 + r).powf(rel.clamp(a, b) - a);
        }
        if s.elastic {
            q *= if weekend {
                c.weekend
            } else {
                WEEKDAY[wd as usize]
            };
            if let Some((peak, f)) = c.weekly_peak {
                if peak == wd {
                    q *= f;
                }
            }
            if let Some(f) = c.month_end_bump {
                if next_month_start(day) - day <= 2 {
                    q *= f;
                }
            }
        }
    }
    q
}

/// Constant leading part of a customer's rows: PartnerId .. MPNID plus its reseller MPN.
struct CustomerCsv {
    lead: Vec<u8>,
    reseller: String,
    rate_usd: bool,
}

pub(crate) fn write(w: &World, out: &mut Output) -> Result<UsageOut, SimError> {
    let win = w.win;
    let mut totals = vec![BTreeMap::new(); w.customers.len()];
    let mut rows = 0u64;
    out.dir("usage")?;
    let prefix: Vec<CustomerCsv> = w
        .customers
        .iter()
        .map(|c| {
            let mut lead = Vec::new();
            for field in [
                w.partner.tenant.as_str(),
                &csv_field(w.partner.name),
                &c.tenant,
                &csv_field(&c.name),
                &c.domain,
                COUNTRIES[c.country].code,
                &w.partner.mpn,
            ] {
                lead.extend_from_slice(field.as_bytes());
                lead.push(b',');
            }
            CustomerCsv {
                lead,
                reseller: c
                    .reseller
                    .map(|r| w.resellers[r].mpn.clone())
                    .unwrap_or_default(),
                rate_usd: c.currency == Currency::Usd,
            }
        })
        .collect();
    let header = header();
    let mut day = win.start_day;
    while day < win.end_day() {
        let m0 = month_start(day);
        let m_next = next_month_start(day);
        // Months that ended before the last simulated day are invoiced; the current month is unbilled, and
        // unbilled rows leave InvoiceNumber and ResellerMPNID empty.
        let billed = m_next - 1 < win.last_day();
        let invoice = if billed {
            format!("G{:09}", mix(w.seed ^ (m0 as u64)) % 1_000_000_000)
        } else {
            String::new()
        };
        let eur = eur_rate(w.seed, m0);
        let mut month_dates = Vec::new();
        push_date(&mut month_dates, m0);
        month_dates.push(b',');
        push_date(&mut month_dates, m_next - 1);
        month_dates.push(b',');
        let rel_path = format!("usage/usage_{}.csv", year_month(m0));
        let last = m_next.min(win.end_day());
        out.write(&rel_path, |file| {
            file.write_all(header.as_bytes())?;
            let mut buf: Vec<u8> = Vec::with_capacity(FLUSH_AT * 2);
            for d in day..last {
                let mut date = Vec::with_capacity(11);
                push_date(&mut date, d);
                date.push(b',');
                let rel = (d - win.start_day) as f64;
                for (c, pre) in w.customers.iter().zip(&prefix) {
                    let rate = if pre.rate_usd { Decimal::ONE } else { eur };
                    let rng = &mut rng_for(w.seed, tag::USAGE, mix(c.idx as u64) ^ (d as u64));
                    for s in &c.streams {
                        let q = quantity(c, s, d, rel);
                        if q <= 0.0 {
                            continue;
                        }
                        let sigma = if s.elastic { c.noise } else { c.noise * 0.3 };
                        let q = q * lognormal(rng, 1.0, if s.seasonal { sigma } else { 0.05 });
                        let parts = 1 + weighted(rng, &[85, 11, 4]);
                        let mut left = q;
                        for p in 0..parts {
                            let part = if p + 1 == parts {
                                left
                            } else {
                                let x = left * uniform(rng, 0.2, 0.8);
                                left -= x;
                                x
                            };
                            let q_micro = (part * 1e6).round() as i64;
                            if q_micro <= 0 {
                                continue;
                            }
                            let billing = write_row(
                                &mut buf,
                                c,
                                pre,
                                s,
                                RowCtx {
                                    billed,
                                    invoice: &invoice,
                                    month_dates: &month_dates,
                                    date: &date,
                                    rate,
                                    rate_date: m0,
                                },
                                q_micro,
                            );
                            *totals[c.idx].entry(m0).or_insert(Decimal::ZERO) += billing;
                            rows += 1;
                        }
                    }
                    if buf.len() >= FLUSH_AT {
                        file.write_all(&buf)?;
                        buf.clear();
                    }
                }
            }
            file.write_all(&buf)
        })?;
        day = m_next;
    }
    out.prune("usage", |name| {
        name.starts_with("usage_") && name.ends_with(".csv")
    })?;
    Ok(UsageOut { rows, totals })
}

struct RowCtx<'a> {
    billed: bool,
    invoice: &'a str,
    month_dates: &'a [u8],
    date: &'a [u8],
    rate: Decimal,
    rate_date: i64,
}

/// Appends one row; returns its BillingPreTaxTotal.
fn write_row(
    buf: &mut Vec<u8>,
    c: &Customer,
    pre: &CustomerCsv,
    s: &Stream,
    ctx: RowCtx<'_>,
    q_micro: i64,
) -> Decimal {
    let res = &c.resources[s.res];
    let sub = &c.subs[res.sub];
    let plan = &c.plans[sub.plan];
    let region = &REGIONS[res.region];
    let price = Decimal::new(s.price_micro, 6).normalize();
    let qty = Decimal::new(q_micro, 6);
    let pricing = floor2(price * qty);
    let billing = floor2(price * qty * ctx.rate);

    buf.extend_from_slice(&pre.lead);
    if ctx.billed {
        buf.extend_from_slice(pre.reseller.as_bytes());
    }
    buf.push(b',');
    buf.extend_from_slice(ctx.invoice.as_bytes());
    buf.push(b',');
    buf.extend_from_slice(PRODUCT);
    buf.extend_from_slice(plan.id.as_bytes());
    buf.push(b',');
    buf.extend_from_slice(ctx.month_dates);
    buf.extend_from_slice(ctx.date);
    buf.extend_from_slice(b"Consumption,");
    for field in [
        s.meter.category,
        &s.meter_id,
        s.meter.sub,
        s.meter.name,
        region.meter,
        s.meter.unit,
        region.loc,
        s.meter.service,
        &res.rg,
        &res.uri,
        "new",
    ] {
        buf.extend_from_slice(field.as_bytes());
        buf.push(b',');
    }
    push_display(buf, price);
    buf.push(b',');
    push_display(buf, qty.normalize());
    buf.push(b',');
    buf.extend_from_slice(s.meter.unit.as_bytes());
    buf.push(b',');
    push_display(buf, billing.normalize());
    buf.push(b',');
    buf.extend_from_slice(c.currency.code().as_bytes());
    buf.push(b',');
    push_display(buf, pricing.normalize());
    buf.extend_from_slice(b",USD,,,");
    buf.extend_from_slice(res.tags_csv.as_bytes());
    buf.push(b',');
    buf.extend_from_slice(res.info_csv.as_bytes());
    buf.push(b',');
    push_display(buf, price);
    buf.push(b',');
    push_display(buf, ctx.rate.normalize());
    buf.push(b',');
    push_date(buf, ctx.rate_date);
    buf.push(b',');
    buf.extend_from_slice(sub.id.as_bytes());
    buf.push(b',');
    buf.extend_from_slice(csv_field(&sub.name).as_bytes());
    buf.extend_from_slice(b",0,0,,,,\n");
    billing
}

// ---------------------------------------------------------------------------------------------------------------
// Benchmark writer

/// One pre-rendered row shape of the benchmark file.
struct Template {
    head: Vec<u8>,
    mid: Vec<u8>,
    unit: Vec<u8>,
    currency: Vec<u8>,
    tail: Vec<u8>,
    price_micro: i64,
    rate_e4: i64,
    base_micro: i64,
}

/// Appends a non-negative fixed-point number with `scale` decimals, trailing zeros removed ("0.4", "24").
fn push_fixed(buf: &mut Vec<u8>, value: i64, scale: u32) {
    let pow = 10i64.pow(scale);
    let int = value / pow;
    let mut frac = value % pow;
    push_int(buf, int);
    if frac != 0 {
        let mut digits = scale;
        while frac % 10 == 0 {
            frac /= 10;
            digits -= 1;
        }
        buf.push(b'.');
        let mut tmp = [b'0'; 20];
        let mut n = frac;
        for i in (0..digits as usize).rev() {
            tmp[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
        buf.extend_from_slice(&tmp[..digits as usize]);
    }
}

fn push_int(buf: &mut Vec<u8>, v: i64) {
    let mut tmp = [0u8; 20];
    let mut n = v.unsigned_abs();
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0 {
        buf.push(b'-');
    }
    buf.extend_from_slice(&tmp[i..]);
}

fn bench_templates(seed: u64) -> Vec<Template> {
    let rng = &mut rng_for(seed, tag::BENCH, 0);
    let partner = guid(rng);
    let month = days_from_civil(2026, 8, 1);
    let mut month_dates = Vec::new();
    push_date(&mut month_dates, month);
    month_dates.push(b',');
    push_date(&mut month_dates, next_month_start(month) - 1);
    month_dates.push(b',');
    let mut out = Vec::new();
    for cust in 0..64 {
        let tenant = guid(rng);
        let country = pick(rng, COUNTRIES);
        let first = pick(rng, catalog::COMPANY_FIRST);
        let second = pick(rng, catalog::COMPANY_SECOND);
        let name = format!("{first} {second} {}", pick(rng, country.suffixes));
        let domain = format!(
            "{}{}{cust}.onmicrosoft.com",
            first.to_lowercase().replace(' ', ""),
            second.to_lowercase()
        );
        let reseller = if chance(rng, 0.4) {
            between(rng, 1_000_000, 9_999_999).to_string()
        } else {
            String::new()
        };
        let eur = country.eur && chance(rng, 0.4);
        let plan = guid(rng);
        let entitlement = guid(rng);
        for _ in 0..8 {
            let region = &REGIONS[choose(rng, country.regions)];
            let (meter, base, info, provider) = match between(rng, 0, 5) {
                0 | 1 => {
                    let size = &VM_SIZES[choose(rng, catalog::VM_ORDINARY)];
                    let info = format!(
                        "{{\"ServiceType\":\"{}\",\"VCPUs\":{}}}",
                        size.arm, size.vcpus
                    );
                    let m = catalog::vm_meter(size, catalog::VmBilling::VirtualMachines);
                    (m, 24.0, info, "Microsoft.Compute/virtualMachines")
                }
                2 => (
                    catalog::M_BLOB_HOT,
                    40.0,
                    String::new(),
                    "Microsoft.Storage/storageAccounts",
                ),
                3 => (
                    catalog::M_SQL_VCORE,
                    48.0,
                    String::new(),
                    "Microsoft.Sql/servers",
                ),
                4 => (
                    catalog::M_APP_S1,
                    24.0,
                    String::new(),
                    "Microsoft.Web/serverfarms",
                ),
                _ => (
                    catalog::M_BANDWIDTH,
                    12.0,
                    String::new(),
                    "Microsoft.Network/publicIPAddresses",
                ),
            };
            let rg = format!(
                "rg-{}",
                pick(rng, &["app-prod", "data", "shared", "web-prod", "infra"])
            );
            let uri = format!(
                "/subscriptions/{entitlement}/resourceGroups/{rg}/providers/{provider}/res-{}",
                index(rng, 1000)
            );
            let price_micro = (meter.price_micro * region.price_permille / 1000).max(1);
            let meter_id =
                crate::rng::stable_guid(&[meter.category, meter.sub, meter.name, region.loc]);
            let mut head = Vec::new();
            for f in [
                partner.as_str(),
                "Fabrikam Cloud",
                &tenant,
                &csv_field(&name),
                &domain,
                country.code,
                "1234567",
                &reseller,
                "G000000042",
            ] {
                head.extend_from_slice(f.as_bytes());
                head.push(b',');
            }
            head.extend_from_slice(PRODUCT);
            head.extend_from_slice(plan.as_bytes());
            head.push(b',');
            head.extend_from_slice(&month_dates);
            let mut mid = b",Consumption,".to_vec();
            for f in [
                meter.category,
                &meter_id,
                meter.sub,
                meter.name,
                region.meter,
                meter.unit,
                region.loc,
                meter.service,
                &rg,
                &uri,
                "new",
            ] {
                mid.extend_from_slice(f.as_bytes());
                mid.push(b',');
            }
            push_fixed(&mut mid, price_micro, 6);
            mid.push(b',');
            let rate_e4 = if eur {
                9_000 + between(rng, 0, 450)
            } else {
                10_000
            };
            let mut tail = b",USD,,,".to_vec();
            if chance(rng, 0.25) {
                tail.extend_from_slice(csv_field("{\"env\":\"prod\"}").as_bytes());
            }
            tail.push(b',');
            tail.extend_from_slice(csv_field(&info).as_bytes());
            tail.push(b',');
            push_fixed(&mut tail, price_micro, 6);
            tail.push(b',');
            push_fixed(&mut tail, rate_e4, 4);
            tail.push(b',');
            push_date(&mut tail, month);
            tail.push(b',');
            tail.extend_from_slice(entitlement.as_bytes());
            tail.extend_from_slice(b",Azure subscription 1,0,0,,,,\n");
            out.push(Template {
                head,
                mid,
                unit: [&b","[..], meter.unit.as_bytes(), &b","[..]].concat(),
                currency: if eur {
                    b",EUR,".to_vec()
                } else {
                    b",USD,".to_vec()
                },
                tail,
                price_micro,
                rate_e4,
                base_micro: (base * uniform(rng, 0.2, 3.0) * 1e6) as i64,
            });
        }
    }
    out
}

/// Writes a usage reconciliation CSV for the ingest benchmark: the header and `rows` rows of realistic values
/// (64 customers x 8 meters over the days of August 2026), deterministic for `seed`, about 750 bytes a row
/// (real rows with GUIDs, resource IDs and AdditionalInfo; shorter rows would be less realistic). Rows are
/// pre-rendered templates plus fixed-point numbers, so it writes several million rows a second.
/// Money is computed in exact fixed point, equal to `floor(EffectiveUnitPrice x Quantity x PCToBCExchangeRate, 2)`.
pub fn write_usage_benchmark(rows: u64, seed: u64, out: &mut dyn Write) -> io::Result<()> {
    let templates = bench_templates(seed);
    let month = days_from_civil(2026, 8, 1);
    let dates: Vec<Vec<u8>> = (0..31)
        .map(|d| {
            let mut v = Vec::new();
            push_date(&mut v, month + d);
            v
        })
        .collect();
    let rng: &mut SimRng = &mut rng_for(seed, tag::BENCH, 1);
    let mut buf: Vec<u8> = Vec::with_capacity(FLUSH_AT * 2);
    buf.extend_from_slice(header().as_bytes());
    let k = templates.len() as u64;
    for i in 0..rows {
        let t = &templates[(i % k) as usize];
        let day = ((i / k) % 31) as usize;
        // Quantity within 0.5x-1.5x of the template's base, 6 decimals; plus the number of times this template and
        // day came round before, in millionths, so every row is a distinct charge (a benchmark of duplicates would
        // measure the duplicate path, not the import).
        let jitter = 500 + (rand::Rng::gen::<u32>(rng) % 1001) as i64;
        let round = (i / (k * 31)) as i64;
        let q_micro = (t.base_micro / 1000 * jitter).max(1) + round;
        let pricing_cents =
            (i128::from(t.price_micro) * i128::from(q_micro) / 10_000_000_000) as i64;
        let billing_cents =
            (i128::from(t.price_micro) * i128::from(q_micro) * i128::from(t.rate_e4)
                / 100_000_000_000_000) as i64;
        buf.extend_from_slice(&t.head);
        buf.extend_from_slice(&dates[day]);
        buf.extend_from_slice(&t.mid);
        push_fixed(&mut buf, q_micro, 6);
        buf.extend_from_slice(&t.unit);
        push_fixed(&mut buf, billing_cents, 2);
        buf.extend_from_slice(&t.currency);
        push_fixed(&mut buf, pricing_cents, 2);
        buf.extend_from_slice(&t.tail);
        if buf.len() >= FLUSH_AT {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_formatting_matches_decimal_normalisation() {
        for (v, s, expect) in [
            (40, 2, "0.4"),
            (1196, 2, "11.96"),
            (500, 2, "5"),
            (0, 2, "0"),
            (2_083_671, 6, "2.083671"),
            (24_000_000, 6, "24"),
            (1_500_000, 6, "1.5"),
            (10_000, 4, "1"),
            (9_213, 4, "0.9213"),
            (4_450, 6, "0.00445"),
        ] {
            let mut b = Vec::new();
            push_fixed(&mut b, v, s);
            assert_eq!(String::from_utf8_lossy(&b), expect);
            assert_eq!(Decimal::new(v, s).normalize().to_string(), expect);
        }
    }

    #[test]
    fn overlap_and_shapes() {
        assert_eq!(overlap(3.0, f64::NEG_INFINITY, f64::INFINITY), 1.0);
        assert!((overlap(3.0, 3.25, 10.0) - 0.75).abs() < 1e-12);
        assert_eq!(overlap(3.0, 5.0, 10.0), 0.0);
        let d = days_from_civil(2026, 8, 31);
        assert_eq!(shape_factor(Shape::MonthEnd { days: 3 }, 0.0, d), 1.0);
        assert_eq!(shape_factor(Shape::MonthEnd { days: 3 }, 0.0, d - 3), 0.0);
        assert_eq!(
            shape_factor(Shape::RampUp { a: 0.0, b: 10.0 }, 20.0, d),
            1.0
        );
        assert_eq!(
            shape_factor(Shape::RampDown { a: 0.0, b: 10.0 }, 20.0, d),
            0.0
        );
    }
}
