//! The compact binary encoding of events other than usage lines (sign-ins, activity-log operations, billing, fraud
//! alerts, ...), for the `event_blocks` side table that `cspguard scan` reads instead of the rows' JSON.
//!
//! Each event is its fields in declaration order, with no field names: strings as `len | utf-8 bytes` (optional ones
//! as `0` = none, else `len + 1 | bytes`), integers as LEB128 varints (signed ones zigzagged), instants as zigzag
//! seconds then nanoseconds, dates as zigzag days from the common era, decimals as `scale | sign << 7` then the
//! unsigned mantissa, money as its decimal and the currency's three letters, floats as their 8 bytes (LE), options of
//! non-strings as `0 | 1 value`, lists as a count then the items, enums as their index. The encoding is exact: a
//! decoded event equals the one its JSON row gives (tested for every kind).
//!
//! The JSON row stays the event's record (every other reader uses it); a block is derived from it and tagged with
//! [`VERSION`]. A block of another version is ignored and its range read from JSON, so changing a domain struct only
//! needs a new version here. Encoder and decoder destructure and build each struct whole, so a field added to a
//! domain type does not compile until it is encoded here.

use chrono::{DateTime, NaiveDate, Utc};
use cspguard_domain::{
    AzureSubscriptionId, BillingSubscriptionId, ControlPlaneOp, Currency, CustomerProfile, Event,
    EventKind, FraudAlert, FraudAlertStatusChange, FraudEventId, GeoLocation, Instant,
    InstrumentAction, InstrumentChange, InstrumentId, InstrumentKind, Invoice, InvoiceId, Money,
    PartnerCreditLimit, PartnerInvoice, PartnerPayment, Payment, PaymentId, PaymentStatus,
    ResellerMpnId, ResourceId, SignIn, SubscriptionState, TenantId,
};
use rust_decimal::Decimal;
use std::collections::BTreeMap;

/// The encoding's version, stored with each block. Bump it whenever an encoded struct changes.
pub const VERSION: i64 = 1;

/// Why a body cannot be decoded.
pub type DecodeError = String;

/// Appends the encoding of `event` (any kind but usage, which has its segments) to `out`. Returns false, writing
/// nothing, for a usage line.
pub fn encode(event: &Event, out: &mut Vec<u8>) -> bool {
    let w = &mut W(out);
    match event {
        Event::Usage(_) => return false,
        Event::SignIn(e) => sign_in(w, e),
        Event::ControlPlane(e) => control_plane(w, e),
        Event::FraudAlert(e) => fraud_alert(w, e),
        Event::FraudAlertStatus(e) => {
            let FraudAlertStatusChange {
                alert,
                customer,
                at,
                from,
                to,
                by,
            } = e;
            w.str(alert.as_str());
            w.opt_str(customer.as_ref().map(TenantId::as_str));
            w.instant(at);
            w.str(from);
            w.str(to);
            w.opt_str(by.as_deref());
        }
        Event::SubscriptionState(e) => {
            let SubscriptionState {
                customer,
                subscription,
                offer_id,
                offer_name,
                friendly_name,
                status,
                suspension_reasons,
                created_at,
                billing_type,
            } = e;
            w.opt_str(customer.as_ref().map(TenantId::as_str));
            w.str(subscription.as_str());
            w.opt_str(offer_id.as_deref());
            w.opt_str(offer_name.as_deref());
            w.opt_str(friendly_name.as_deref());
            w.str(status);
            w.strs(suspension_reasons);
            w.opt_instant(created_at.as_ref());
            w.opt_str(billing_type.as_deref());
        }
        Event::CustomerProfile(e) => {
            let CustomerProfile {
                customer,
                name,
                domain,
                country,
                reseller,
                associated_partner,
                relationship,
                created_at,
                signup_ip,
                mfa_enforced,
                credit_limit,
                payment_terms_days,
            } = e;
            w.str(customer.as_str());
            w.opt_str(name.as_deref());
            w.opt_str(domain.as_deref());
            w.opt_str(country.as_deref());
            w.opt_str(reseller.as_ref().map(ResellerMpnId::as_str));
            w.opt_str(associated_partner.as_deref());
            w.opt_str(relationship.as_deref());
            w.opt_instant(created_at.as_ref());
            w.opt_str(signup_ip.as_deref());
            w.opt_bool(*mfa_enforced);
            w.opt_money(credit_limit.as_ref());
            w.opt_u64(payment_terms_days.map(u64::from));
        }
        Event::Invoice(e) => {
            let Invoice {
                id,
                customer,
                issued_on,
                due_on,
                period_start,
                period_end,
                amount,
            } = e;
            w.str(id.as_str());
            w.str(customer.as_str());
            w.date(issued_on);
            w.date(due_on);
            w.date(period_start);
            w.date(period_end);
            w.money(amount);
        }
        Event::Payment(e) => {
            let Payment {
                id,
                customer,
                invoice,
                amount,
                submitted_on,
                posted_on,
                status,
                instrument,
                failure_reason,
            } = e;
            w.str(id.as_str());
            w.str(customer.as_str());
            w.opt_str(invoice.as_ref().map(InvoiceId::as_str));
            w.money(amount);
            w.date(submitted_on);
            w.opt_date(posted_on.as_ref());
            w.payment_status(*status);
            w.opt_str(instrument.as_ref().map(InstrumentId::as_str));
            w.opt_str(failure_reason.as_deref());
        }
        Event::InstrumentChange(e) => {
            let InstrumentChange {
                customer,
                instrument,
                kind,
                action,
                at,
                country,
                fingerprint,
            } = e;
            w.str(customer.as_str());
            w.str(instrument.as_str());
            w.byte(match kind {
                InstrumentKind::Card => 0,
                InstrumentKind::PrepaidCard => 1,
                InstrumentKind::BankAccount => 2,
                InstrumentKind::Wire => 3,
            });
            w.byte(match action {
                InstrumentAction::Added => 0,
                InstrumentAction::Removed => 1,
                InstrumentAction::SetDefault => 2,
            });
            w.instant(at);
            w.opt_str(country.as_deref());
            w.opt_str(fingerprint.as_deref());
        }
        Event::PartnerInvoice(e) => {
            let PartnerInvoice {
                id,
                issued_on,
                due_on,
                amount,
            } = e;
            w.str(id.as_str());
            w.date(issued_on);
            w.date(due_on);
            w.money(amount);
        }
        Event::PartnerPayment(e) => {
            let PartnerPayment {
                id,
                invoice,
                amount,
                submitted_on,
                posted_on,
                status,
            } = e;
            w.str(id.as_str());
            w.opt_str(invoice.as_ref().map(InvoiceId::as_str));
            w.money(amount);
            w.date(submitted_on);
            w.opt_date(posted_on.as_ref());
            w.payment_status(*status);
        }
        Event::PartnerCreditLimit(e) => {
            let PartnerCreditLimit {
                observed_on,
                limit,
                used,
            } = e;
            w.date(observed_on);
            w.money(limit);
            w.opt_money(used.as_ref());
        }
    }
    true
}

fn sign_in(w: &mut W<'_>, e: &SignIn) {
    let SignIn {
        id,
        customer,
        at,
        user_principal_name,
        user_id,
        app_display_name,
        ip_address,
        client_app_used,
        is_interactive,
        error_code,
        failure_reason,
        conditional_access_status,
        risk_level_aggregated,
        risk_level_during_sign_in,
        risk_state,
        risk_event_types,
        location,
        device_os,
        device_browser,
    } = e;
    w.str(id);
    w.str(customer.as_str());
    w.instant(at);
    w.str(user_principal_name);
    w.opt_str(user_id.as_deref());
    w.opt_str(app_display_name.as_deref());
    w.opt_str(ip_address.as_deref());
    w.opt_str(client_app_used.as_deref());
    w.opt_bool(*is_interactive);
    w.i64(*error_code);
    w.opt_str(failure_reason.as_deref());
    w.opt_str(conditional_access_status.as_deref());
    w.opt_str(risk_level_aggregated.as_deref());
    w.opt_str(risk_level_during_sign_in.as_deref());
    w.opt_str(risk_state.as_deref());
    w.strs(risk_event_types);
    match location {
        None => w.byte(0),
        Some(GeoLocation {
            city,
            state,
            country,
            latitude,
            longitude,
        }) => {
            w.byte(1);
            w.opt_str(city.as_deref());
            w.opt_str(state.as_deref());
            w.opt_str(country.as_deref());
            w.opt_f64(*latitude);
            w.opt_f64(*longitude);
        }
    }
    w.opt_str(device_os.as_deref());
    w.opt_str(device_browser.as_deref());
}

fn control_plane(w: &mut W<'_>, e: &ControlPlaneOp) {
    let ControlPlaneOp {
        id,
        customer,
        azure_subscription,
        at,
        operation,
        resource,
        status,
        category,
        caller,
        caller_ip,
        region,
        sku,
        capacity,
    } = e;
    w.str(id);
    w.opt_str(customer.as_ref().map(TenantId::as_str));
    w.opt_str(azure_subscription.as_ref().map(AzureSubscriptionId::as_str));
    w.instant(at);
    w.str(operation);
    w.opt_str(resource.as_ref().map(ResourceId::as_str));
    w.str(status);
    w.opt_str(category.as_deref());
    w.opt_str(caller.as_deref());
    w.opt_str(caller_ip.as_deref());
    w.opt_str(region.as_deref());
    w.opt_str(sku.as_deref());
    w.opt_i64(*capacity);
}

fn fraud_alert(w: &mut W<'_>, e: &FraudAlert) {
    let FraudAlert {
        id,
        customer,
        azure_subscription,
        event_time,
        event_type,
        severity,
        confidence,
        status,
        resolved_reason,
        resolved_on,
        resolved_by,
        first_occurrence,
        last_occurrence,
        first_observed,
        last_observed,
        hit_count,
        service_name,
        resource_name,
        resource_group,
        display_name,
        description,
        country,
        reseller_tenant,
        affected_resources,
        details,
        is_test,
    } = e;
    w.str(id.as_str());
    w.str(customer.as_str());
    w.str(azure_subscription.as_str());
    w.instant(event_time);
    w.opt_str(event_type.as_deref());
    w.opt_str(severity.as_deref());
    w.opt_str(confidence.as_deref());
    w.str(status);
    w.opt_str(resolved_reason.as_deref());
    w.opt_instant(resolved_on.as_ref());
    w.opt_str(resolved_by.as_deref());
    w.opt_instant(first_occurrence.as_ref());
    w.opt_instant(last_occurrence.as_ref());
    w.opt_instant(first_observed.as_ref());
    w.opt_instant(last_observed.as_ref());
    w.opt_i64(*hit_count);
    w.opt_str(service_name.as_deref());
    w.opt_str(resource_name.as_deref());
    w.opt_str(resource_group.as_deref());
    w.opt_str(display_name.as_deref());
    w.opt_str(description.as_deref());
    w.opt_str(country.as_deref());
    w.opt_str(reseller_tenant.as_deref());
    w.u64(affected_resources.len() as u64);
    for r in affected_resources {
        w.str(r.as_str());
    }
    w.u64(details.len() as u64);
    for (k, v) in details {
        w.str(k);
        w.str(v);
    }
    w.bool(*is_test);
}

/// Decodes a body written by [`encode`] for an event of `kind`.
pub fn decode(kind: EventKind, body: &[u8]) -> Result<Event, DecodeError> {
    let r = &mut R { b: body, at: 0 };
    let event = match kind {
        EventKind::Usage => return Err("usage lines are not block-encoded".into()),
        EventKind::SignIn => Event::SignIn(SignIn {
            id: r.string()?,
            customer: r.id(TenantId::parse)?,
            at: r.instant()?,
            user_principal_name: r.string()?,
            user_id: r.opt_string()?,
            app_display_name: r.opt_string()?,
            ip_address: r.opt_string()?,
            client_app_used: r.opt_string()?,
            is_interactive: r.opt_bool()?,
            error_code: r.i64()?,
            failure_reason: r.opt_string()?,
            conditional_access_status: r.opt_string()?,
            risk_level_aggregated: r.opt_string()?,
            risk_level_during_sign_in: r.opt_string()?,
            risk_state: r.opt_string()?,
            risk_event_types: r.strings()?,
            location: match r.byte()? {
                0 => None,
                1 => Some(GeoLocation {
                    city: r.opt_string()?,
                    state: r.opt_string()?,
                    country: r.opt_string()?,
                    latitude: r.opt_f64()?,
                    longitude: r.opt_f64()?,
                }),
                b => return Err(format!("bad location flag {b}")),
            },
            device_os: r.opt_string()?,
            device_browser: r.opt_string()?,
        }),
        EventKind::ControlPlane => Event::ControlPlane(ControlPlaneOp {
            id: r.string()?,
            customer: r.opt_id(TenantId::parse)?,
            azure_subscription: r.opt_id(AzureSubscriptionId::parse)?,
            at: r.instant()?,
            operation: r.string()?,
            resource: r.opt_id(ResourceId::parse)?,
            status: r.string()?,
            category: r.opt_string()?,
            caller: r.opt_string()?,
            caller_ip: r.opt_string()?,
            region: r.opt_string()?,
            sku: r.opt_string()?,
            capacity: r.opt_i64()?,
        }),
        EventKind::FraudAlert => Event::FraudAlert(FraudAlert {
            id: r.id(FraudEventId::parse)?,
            customer: r.id(TenantId::parse)?,
            azure_subscription: r.id(AzureSubscriptionId::parse)?,
            event_time: r.instant()?,
            event_type: r.opt_string()?,
            severity: r.opt_string()?,
            confidence: r.opt_string()?,
            status: r.string()?,
            resolved_reason: r.opt_string()?,
            resolved_on: r.opt_instant()?,
            resolved_by: r.opt_string()?,
            first_occurrence: r.opt_instant()?,
            last_occurrence: r.opt_instant()?,
            first_observed: r.opt_instant()?,
            last_observed: r.opt_instant()?,
            hit_count: r.opt_i64()?,
            service_name: r.opt_string()?,
            resource_name: r.opt_string()?,
            resource_group: r.opt_string()?,
            display_name: r.opt_string()?,
            description: r.opt_string()?,
            country: r.opt_string()?,
            reseller_tenant: r.opt_string()?,
            affected_resources: {
                let n = r.len()?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(r.id(ResourceId::parse)?);
                }
                v
            },
            details: {
                let n = r.len()?;
                let mut m = BTreeMap::new();
                for _ in 0..n {
                    let k = r.string()?;
                    m.insert(k, r.string()?);
                }
                m
            },
            is_test: r.bool()?,
        }),
        EventKind::FraudAlertStatus => Event::FraudAlertStatus(FraudAlertStatusChange {
            alert: r.id(FraudEventId::parse)?,
            customer: r.opt_id(TenantId::parse)?,
            at: r.instant()?,
            from: r.string()?,
            to: r.string()?,
            by: r.opt_string()?,
        }),
        EventKind::SubscriptionState => Event::SubscriptionState(SubscriptionState {
            customer: r.opt_id(TenantId::parse)?,
            subscription: r.id(BillingSubscriptionId::parse)?,
            offer_id: r.opt_string()?,
            offer_name: r.opt_string()?,
            friendly_name: r.opt_string()?,
            status: r.string()?,
            suspension_reasons: r.strings()?,
            created_at: r.opt_instant()?,
            billing_type: r.opt_string()?,
        }),
        EventKind::CustomerProfile => Event::CustomerProfile(CustomerProfile {
            customer: r.id(TenantId::parse)?,
            name: r.opt_string()?,
            domain: r.opt_string()?,
            country: r.opt_string()?,
            reseller: r.opt_id(ResellerMpnId::parse)?,
            associated_partner: r.opt_string()?,
            relationship: r.opt_string()?,
            created_at: r.opt_instant()?,
            signup_ip: r.opt_string()?,
            mfa_enforced: r.opt_bool()?,
            credit_limit: r.opt_money()?,
            payment_terms_days: r
                .opt_u64()?
                .map(u32::try_from)
                .transpose()
                .map_err(|_| "payment terms out of range")?,
        }),
        EventKind::Invoice => Event::Invoice(Invoice {
            id: r.id(InvoiceId::parse)?,
            customer: r.id(TenantId::parse)?,
            issued_on: r.date()?,
            due_on: r.date()?,
            period_start: r.date()?,
            period_end: r.date()?,
            amount: r.money()?,
        }),
        EventKind::Payment => Event::Payment(Payment {
            id: r.id(PaymentId::parse)?,
            customer: r.id(TenantId::parse)?,
            invoice: r.opt_id(InvoiceId::parse)?,
            amount: r.money()?,
            submitted_on: r.date()?,
            posted_on: r.opt_date()?,
            status: r.payment_status()?,
            instrument: r.opt_id(InstrumentId::parse)?,
            failure_reason: r.opt_string()?,
        }),
        EventKind::InstrumentChange => Event::InstrumentChange(InstrumentChange {
            customer: r.id(TenantId::parse)?,
            instrument: r.id(InstrumentId::parse)?,
            kind: match r.byte()? {
                0 => InstrumentKind::Card,
                1 => InstrumentKind::PrepaidCard,
                2 => InstrumentKind::BankAccount,
                3 => InstrumentKind::Wire,
                b => return Err(format!("bad instrument kind {b}")),
            },
            action: match r.byte()? {
                0 => InstrumentAction::Added,
                1 => InstrumentAction::Removed,
                2 => InstrumentAction::SetDefault,
                b => return Err(format!("bad instrument action {b}")),
            },
            at: r.instant()?,
            country: r.opt_string()?,
            fingerprint: r.opt_string()?,
        }),
        EventKind::PartnerInvoice => Event::PartnerInvoice(PartnerInvoice {
            id: r.id(InvoiceId::parse)?,
            issued_on: r.date()?,
            due_on: r.date()?,
            amount: r.money()?,
        }),
        EventKind::PartnerPayment => Event::PartnerPayment(PartnerPayment {
            id: r.id(PaymentId::parse)?,
            invoice: r.opt_id(InvoiceId::parse)?,
            amount: r.money()?,
            submitted_on: r.date()?,
            posted_on: r.opt_date()?,
            status: r.payment_status()?,
        }),
        EventKind::PartnerCreditLimit => Event::PartnerCreditLimit(PartnerCreditLimit {
            observed_on: r.date()?,
            limit: r.money()?,
            used: r.opt_money()?,
        }),
    };
    if r.at != body.len() {
        return Err(format!("trailing bytes after a {kind} body"));
    }
    Ok(event)
}

/// Decodes a body written by [`encode`] into `ev`: a sign-in (most of these events) over a sign-in in place, reusing
/// its strings' allocations; anything else as [`decode`] does.
pub fn decode_into(kind: EventKind, body: &[u8], ev: &mut Event) -> Result<(), DecodeError> {
    let Event::SignIn(s) = ev else {
        *ev = decode(kind, body)?;
        return Ok(());
    };
    if kind != EventKind::SignIn {
        *ev = decode(kind, body)?;
        return Ok(());
    }
    let r = &mut R { b: body, at: 0 };
    r.set_str(&mut s.id)?;
    let customer = r.str()?;
    if s.customer.as_str() != customer {
        s.customer = TenantId::parse(customer).map_err(|e| e.to_string())?;
    }
    s.at = r.instant()?;
    r.set_str(&mut s.user_principal_name)?;
    r.set_opt_str(&mut s.user_id)?;
    r.set_opt_str(&mut s.app_display_name)?;
    r.set_opt_str(&mut s.ip_address)?;
    r.set_opt_str(&mut s.client_app_used)?;
    s.is_interactive = r.opt_bool()?;
    s.error_code = r.i64()?;
    r.set_opt_str(&mut s.failure_reason)?;
    r.set_opt_str(&mut s.conditional_access_status)?;
    r.set_opt_str(&mut s.risk_level_aggregated)?;
    r.set_opt_str(&mut s.risk_level_during_sign_in)?;
    r.set_opt_str(&mut s.risk_state)?;
    let n = r.len()?;
    s.risk_event_types.truncate(n);
    for i in 0..n {
        match s.risk_event_types.get_mut(i) {
            Some(d) => r.set_str(d)?,
            None => s.risk_event_types.push(r.string()?),
        }
    }
    match r.byte()? {
        0 => s.location = None,
        1 => {
            let l = s.location.get_or_insert(GeoLocation {
                city: None,
                state: None,
                country: None,
                latitude: None,
                longitude: None,
            });
            r.set_opt_str(&mut l.city)?;
            r.set_opt_str(&mut l.state)?;
            r.set_opt_str(&mut l.country)?;
            l.latitude = r.opt_f64()?;
            l.longitude = r.opt_f64()?;
        }
        b => return Err(format!("bad location flag {b}")),
    }
    r.set_opt_str(&mut s.device_os)?;
    r.set_opt_str(&mut s.device_browser)?;
    if r.at != body.len() {
        return Err(format!("trailing bytes after a {kind} body"));
    }
    Ok(())
}

struct W<'a>(&'a mut Vec<u8>);

impl W<'_> {
    fn byte(&mut self, b: u8) {
        self.0.push(b);
    }
    fn u64(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn i64(&mut self, v: i64) {
        self.u64(((v << 1) ^ (v >> 63)) as u64);
    }
    fn bool(&mut self, v: bool) {
        self.byte(u8::from(v));
    }
    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.byte(0),
            Some(s) => {
                self.u64(s.len() as u64 + 1);
                self.0.extend_from_slice(s.as_bytes());
            }
        }
    }
    fn strs(&mut self, v: &[String]) {
        self.u64(v.len() as u64);
        for s in v {
            self.str(s);
        }
    }
    fn instant(&mut self, t: &Instant) {
        self.i64(t.timestamp());
        self.u64(u64::from(t.timestamp_subsec_nanos()));
    }
    fn opt_instant(&mut self, t: Option<&Instant>) {
        match t {
            None => self.byte(0),
            Some(t) => {
                self.byte(1);
                self.instant(t);
            }
        }
    }
    fn date(&mut self, d: &NaiveDate) {
        use chrono::Datelike;
        self.i64(i64::from(d.num_days_from_ce()));
    }
    fn opt_date(&mut self, d: Option<&NaiveDate>) {
        match d {
            None => self.byte(0),
            Some(d) => {
                self.byte(1);
                self.date(d);
            }
        }
    }
    fn decimal(&mut self, d: &Decimal) {
        self.byte(d.scale() as u8 | if d.is_sign_negative() { 0x80 } else { 0 });
        let mut v = d.mantissa().unsigned_abs();
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn money(&mut self, m: &Money) {
        self.decimal(&m.amount);
        self.0.extend_from_slice(m.currency.as_str().as_bytes());
    }
    fn opt_money(&mut self, m: Option<&Money>) {
        match m {
            None => self.byte(0),
            Some(m) => {
                self.byte(1);
                self.money(m);
            }
        }
    }
    fn opt_bool(&mut self, v: Option<bool>) {
        self.byte(match v {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        });
    }
    fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            None => self.byte(0),
            Some(v) => {
                self.byte(1);
                self.u64(v);
            }
        }
    }
    fn opt_i64(&mut self, v: Option<i64>) {
        match v {
            None => self.byte(0),
            Some(v) => {
                self.byte(1);
                self.i64(v);
            }
        }
    }
    fn opt_f64(&mut self, v: Option<f64>) {
        match v {
            None => self.byte(0),
            Some(v) => {
                self.byte(1);
                self.0.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    fn payment_status(&mut self, s: PaymentStatus) {
        self.byte(match s {
            PaymentStatus::Succeeded => 0,
            PaymentStatus::Failed => 1,
            PaymentStatus::Refunded => 2,
            PaymentStatus::Disputed => 3,
        });
    }
}

struct R<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> R<'a> {
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
    fn u128(&mut self) -> Result<u128, DecodeError> {
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
        let mut v: u64 = 0;
        let mut shift = 0;
        loop {
            let b = self.byte()?;
            if shift >= 64 {
                return Err("varint too long".into());
            }
            v |= ((b & 0x7f) as u64) << shift;
            if b < 0x80 {
                return Ok(v);
            }
            shift += 7;
        }
    }
    fn len(&mut self) -> Result<usize, DecodeError> {
        let n = self.u64()? as usize;
        // Every item takes at least a byte: a count beyond what is left is corrupt (and must not allocate).
        if n > self.b.len() - self.at {
            return Err("count beyond the body".into());
        }
        Ok(n)
    }
    fn i64(&mut self) -> Result<i64, DecodeError> {
        let z = self.u64()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }
    fn flag(&mut self) -> Result<bool, DecodeError> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(format!("bad flag {b}")),
        }
    }
    fn bool(&mut self) -> Result<bool, DecodeError> {
        self.flag()
    }
    fn str(&mut self) -> Result<&'a str, DecodeError> {
        let n = self.u64()? as usize;
        std::str::from_utf8(self.bytes(n)?).map_err(|_| "string is not UTF-8".into())
    }
    fn opt_str(&mut self) -> Result<Option<&'a str>, DecodeError> {
        match self.u64()? as usize {
            0 => Ok(None),
            n => std::str::from_utf8(self.bytes(n - 1)?)
                .map(Some)
                .map_err(|_| "string is not UTF-8".into()),
        }
    }
    /// Reads a string into `dst`, in place: bytes equal to what `dst` holds are neither validated nor copied.
    fn set_str(&mut self, dst: &mut String) -> Result<(), DecodeError> {
        let n = self.u64()? as usize;
        let b = self.bytes(n)?;
        if dst.as_bytes() != b {
            dst.clear();
            dst.push_str(std::str::from_utf8(b).map_err(|_| "string is not UTF-8")?);
        }
        Ok(())
    }
    /// [`R::set_str`] for an optional string.
    fn set_opt_str(&mut self, dst: &mut Option<String>) -> Result<(), DecodeError> {
        match (self.u64()? as usize, dst.as_mut()) {
            (0, _) => *dst = None,
            (n, Some(d)) => {
                let b = self.bytes(n - 1)?;
                if d.as_bytes() != b {
                    d.clear();
                    d.push_str(std::str::from_utf8(b).map_err(|_| "string is not UTF-8")?);
                }
            }
            (n, None) => {
                let b = self.bytes(n - 1)?;
                *dst = Some(
                    std::str::from_utf8(b)
                        .map_err(|_| "string is not UTF-8")?
                        .to_string(),
                );
            }
        }
        Ok(())
    }
    fn string(&mut self) -> Result<String, DecodeError> {
        self.str().map(str::to_string)
    }
    fn opt_string(&mut self) -> Result<Option<String>, DecodeError> {
        Ok(self.opt_str()?.map(str::to_string))
    }
    fn strings(&mut self) -> Result<Vec<String>, DecodeError> {
        let n = self.len()?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(self.string()?);
        }
        Ok(v)
    }
    fn id<T>(
        &mut self,
        parse: fn(&str) -> Result<T, cspguard_domain::IdError>,
    ) -> Result<T, DecodeError> {
        parse(self.str()?).map_err(|e| e.to_string())
    }
    fn opt_id<T>(
        &mut self,
        parse: fn(&str) -> Result<T, cspguard_domain::IdError>,
    ) -> Result<Option<T>, DecodeError> {
        self.opt_str()?
            .map(|s| parse(s).map_err(|e| e.to_string()))
            .transpose()
    }
    fn instant(&mut self) -> Result<Instant, DecodeError> {
        let secs = self.i64()?;
        let nanos = u32::try_from(self.u64()?).map_err(|_| "nanoseconds out of range")?;
        DateTime::<Utc>::from_timestamp(secs, nanos).ok_or_else(|| "instant out of range".into())
    }
    fn opt_instant(&mut self) -> Result<Option<Instant>, DecodeError> {
        self.flag()?.then(|| self.instant()).transpose()
    }
    fn date(&mut self) -> Result<NaiveDate, DecodeError> {
        let days = i32::try_from(self.i64()?).map_err(|_| "date out of range")?;
        NaiveDate::from_num_days_from_ce_opt(days).ok_or_else(|| "date out of range".into())
    }
    fn opt_date(&mut self) -> Result<Option<NaiveDate>, DecodeError> {
        self.flag()?.then(|| self.date()).transpose()
    }
    fn decimal(&mut self) -> Result<Decimal, DecodeError> {
        let f = self.byte()?;
        let m = i128::try_from(self.u128()?).map_err(|_| "decimal out of range")?;
        let mut d = Decimal::try_from_i128_with_scale(m, (f & 0x7f) as u32)
            .map_err(|e| format!("decimal: {e}"))?;
        d.set_sign_negative(f & 0x80 != 0);
        Ok(d)
    }
    fn money(&mut self) -> Result<Money, DecodeError> {
        let amount = self.decimal()?;
        let cur = std::str::from_utf8(self.bytes(3)?).map_err(|_| "currency is not UTF-8")?;
        Ok(Money::new(
            amount,
            Currency::parse(cur).map_err(|e| e.to_string())?,
        ))
    }
    fn opt_money(&mut self) -> Result<Option<Money>, DecodeError> {
        self.flag()?.then(|| self.money()).transpose()
    }
    fn opt_bool(&mut self) -> Result<Option<bool>, DecodeError> {
        match self.byte()? {
            0 => Ok(None),
            1 => Ok(Some(false)),
            2 => Ok(Some(true)),
            b => Err(format!("bad optional flag {b}")),
        }
    }
    fn opt_u64(&mut self) -> Result<Option<u64>, DecodeError> {
        self.flag()?.then(|| self.u64()).transpose()
    }
    fn opt_i64(&mut self) -> Result<Option<i64>, DecodeError> {
        self.flag()?.then(|| self.i64()).transpose()
    }
    fn opt_f64(&mut self) -> Result<Option<f64>, DecodeError> {
        if !self.flag()? {
            return Ok(None);
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(self.bytes(8)?);
        Ok(Some(f64::from_le_bytes(b)))
    }
    fn payment_status(&mut self) -> Result<PaymentStatus, DecodeError> {
        Ok(match self.byte()? {
            0 => PaymentStatus::Succeeded,
            1 => PaymentStatus::Failed,
            2 => PaymentStatus::Refunded,
            3 => PaymentStatus::Disputed,
            b => return Err(format!("bad payment status {b}")),
        })
    }
}

/// The body of a row of `event_blocks` being built: per event, `position - first_seq | event time (zigzag µs) | line
/// (0 = none, else line + 1) | key (16 bytes) | kind (index in EventKind::ALL) | length | encoded event`, all
/// integers varints. Source and ingest time are the block's columns (one append, one source).
pub(crate) struct Block {
    first: i64,
    last: i64,
    count: i64,
    body: Vec<u8>,
}

impl Block {
    pub(crate) fn new(first: i64) -> Block {
        Block {
            first,
            last: first,
            count: 0,
            body: Vec::new(),
        }
    }
    /// Adds the event at position `seq` (positions ascending) with its encoding from [`encode`].
    pub(crate) fn push(&mut self, seq: i64, e: &cspguard_domain::Envelope, encoded: &[u8]) {
        let w = &mut W(&mut self.body);
        w.u64((seq - self.first) as u64);
        w.i64(e.event_time.timestamp_micros());
        w.u64(e.source.line.map_or(0, |l| l + 1));
        w.0.extend_from_slice(&e.key.0);
        let kind = e.event.kind();
        w.byte(EventKind::ALL.iter().position(|k| *k == kind).unwrap_or(0) as u8);
        w.u64(encoded.len() as u64);
        w.0.extend_from_slice(encoded);
        self.last = seq;
        self.count += 1;
    }
    /// First and last position, event count, body.
    pub(crate) fn finish(self) -> (i64, i64, i64, Vec<u8>) {
        (self.first, self.last, self.count, self.body)
    }
}

/// One event of a block, as [`BlockReader`] hands it out.
pub(crate) struct BlockEvent<'a> {
    pub(crate) seq: i64,
    pub(crate) time_us: i64,
    /// 0 = none, else line + 1.
    pub(crate) line: u64,
    pub(crate) key: &'a [u8],
    pub(crate) kind: u8,
    pub(crate) body: &'a [u8],
}

/// Walks the events of a block body.
pub(crate) struct BlockReader<'a> {
    r: R<'a>,
    first: i64,
}

impl<'a> BlockReader<'a> {
    pub(crate) fn new(first: i64, body: &'a [u8]) -> Self {
        BlockReader {
            r: R { b: body, at: 0 },
            first,
        }
    }
    pub(crate) fn next_event(&mut self) -> Result<Option<BlockEvent<'a>>, DecodeError> {
        if self.r.at >= self.r.b.len() {
            return Ok(None);
        }
        let r = &mut self.r;
        let seq = i64::try_from(r.u64()?)
            .ok()
            .and_then(|d| self.first.checked_add(d))
            .ok_or("position out of range")?;
        let time_us = r.i64()?;
        let line = r.u64()?;
        let key = r.bytes(16)?;
        let kind = r.byte()?;
        if kind as usize >= EventKind::ALL.len() {
            return Err(format!("unknown event kind #{kind}"));
        }
        let n = r.u64()? as usize;
        let body = r.bytes(n)?;
        Ok(Some(BlockEvent {
            seq,
            time_us,
            line,
            key,
            kind,
            body,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cspguard_domain::Envelope;
    use cspguard_ingest::{ImportOptions, Reject, Sink, SourceKind, Stopped};

    struct Collect(Vec<Envelope>);
    impl Sink for Collect {
        fn accept(&mut self, e: Envelope) -> Result<(), Stopped> {
            self.0.push(e);
            Ok(())
        }
        fn reject(&mut self, r: Reject) -> Result<(), Stopped> {
            panic!("example rejected: {r}")
        }
    }

    /// Every non-usage event of the examples, and one of each of the partner's own records.
    fn examples() -> Vec<Envelope> {
        let dir = std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string());
        let opts = |origin: &str| ImportOptions {
            origin: origin.into(),
            customer: (origin == "subscriptions.json")
                .then(|| TenantId::parse("3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01").unwrap()),
            observed_at: cspguard_ingest::parse_instant("2026-11-01T00:00:00Z").unwrap(),
            usage_keys: cspguard_domain::UsageKeyVersion::default(),
        };
        let mut c = Collect(Vec::new());
        for (k, f) in [
            (SourceKind::FraudEvents, "fraud_events.json"),
            (SourceKind::SignIns, "signins.json"),
            (SourceKind::ActivityLog, "activity_log_rest.json"),
            (SourceKind::ActivityLog, "activity_log_records.json"),
            (SourceKind::Billing, "billing.jsonl"),
            (SourceKind::Customers, "customers.json"),
            (SourceKind::Subscriptions, "subscriptions.json"),
        ] {
            let text = std::fs::read(format!("{dir}/../../testdata/examples/{f}")).unwrap();
            cspguard_ingest::parse(k, text.as_slice(), &opts(f), &mut c).unwrap();
        }
        let partner = concat!(
            r#"{"type":"partner_invoice","invoice_id":"G000001","issued_on":"2026-10-08","due_on":"2026-11-07","amount":"1200.50","currency":"USD"}"#,
            "\n",
            r#"{"type":"partner_payment","payment_id":"MSP-1","invoice_id":"G000001","amount":"1200.50","currency":"USD","submitted_on":"2026-11-05","posted_on":"2026-11-10","status":"succeeded"}"#,
            "\n",
            r#"{"type":"partner_credit_limit","observed_on":"2026-11-01","amount":"50000","currency":"USD","used":"12000"}"#,
            "\n"
        );
        cspguard_ingest::parse(
            SourceKind::Billing,
            partner.as_bytes(),
            &opts("p.jsonl"),
            &mut c,
        )
        .unwrap();
        c.0
    }

    #[test]
    fn every_kind_round_trips_and_decodes_to_what_its_json_gives() {
        let all = examples();
        let kinds: std::collections::BTreeSet<EventKind> =
            all.iter().map(|e| e.event.kind()).collect();
        assert_eq!(
            kinds.len(),
            EventKind::ALL.len() - 1,
            "every kind but usage"
        );
        for e in &all {
            let mut b = Vec::new();
            assert!(encode(&e.event, &mut b));
            let back = decode(e.event.kind(), &b).unwrap();
            assert_eq!(back, e.event, "{:?}", e.event.kind());
            // What a scan read before blocks: the row's JSON. Same value, and the same JSON again (scales of
            // decimals, sub-second digits, float bits).
            let json = serde_json::to_string(&e.event).unwrap();
            let from_json: Event = serde_json::from_str(&json).unwrap();
            assert_eq!(back, from_json);
            assert_eq!(serde_json::to_string(&back).unwrap(), json);
        }
    }

    #[test]
    fn decoding_in_place_over_any_event_gives_the_fresh_decoding() {
        let all = examples();
        // Every event over every other (sign-ins over sign-ins in place, with more or fewer risk types, with and
        // without a location).
        for prev in &all {
            for e in &all {
                let mut b = Vec::new();
                encode(&e.event, &mut b);
                let mut slot = prev.event.clone();
                decode_into(e.event.kind(), &b, &mut slot).unwrap();
                assert_eq!(slot, e.event);
            }
        }
    }

    #[test]
    fn edge_values_round_trip() {
        let t = DateTime::<Utc>::from_timestamp(-62_000_000_000, 123_456_789).unwrap();
        let e = Event::ControlPlane(ControlPlaneOp {
            id: "é\u{1e}\u{1f}\"".into(),
            customer: None,
            azure_subscription: None,
            at: t,
            operation: String::new(),
            resource: None,
            status: "x".repeat(300),
            category: Some(String::new()),
            caller: None,
            caller_ip: None,
            region: None,
            sku: None,
            capacity: Some(i64::MIN),
        });
        let mut b = Vec::new();
        encode(&e, &mut b);
        assert_eq!(decode(EventKind::ControlPlane, &b).unwrap(), e);
        let p = Event::PartnerCreditLimit(PartnerCreditLimit {
            observed_on: NaiveDate::from_ymd_opt(1, 1, 1).unwrap(),
            limit: Money::new(Decimal::MAX, Currency::USD),
            used: Some(Money::new(
                Decimal::new(-12345, 28),
                Currency::parse("EUR").unwrap(),
            )),
        });
        let mut b = Vec::new();
        encode(&p, &mut b);
        let back = decode(EventKind::PartnerCreditLimit, &b).unwrap();
        assert_eq!(back, p);
        assert_eq!(
            serde_json::to_string(&back).unwrap(),
            serde_json::to_string(&p).unwrap()
        );
    }

    #[test]
    fn garbage_and_truncation_are_errors_not_panics() {
        for e in examples() {
            let mut b = Vec::new();
            encode(&e.event, &mut b);
            for n in 0..b.len() {
                assert!(decode(e.event.kind(), &b[..n]).is_err());
            }
            let mut longer = b.clone();
            longer.push(0);
            assert!(decode(e.event.kind(), &longer).is_err());
            for k in EventKind::ALL {
                let _ = decode(k, &b);
                let flipped: Vec<u8> = b.iter().map(|x| x ^ 0xa5).collect();
                let _ = decode(k, &flipped);
            }
        }
        assert!(BlockReader::new(1, &[0xff; 40]).next_event().is_err());
    }

    #[test]
    fn blocks_hand_back_their_events() {
        let all = examples();
        let mut block = Block::new(10);
        let mut encoded = Vec::new();
        for (i, e) in all.iter().enumerate() {
            let mut b = Vec::new();
            encode(&e.event, &mut b);
            block.push(10 + 2 * i as i64, e, &b);
            encoded.push(b);
        }
        let (first, last, count, body) = block.finish();
        assert_eq!(
            (first, last, count),
            (10, 10 + 2 * (all.len() as i64 - 1), all.len() as i64)
        );
        let mut r = BlockReader::new(first, &body);
        for (i, e) in all.iter().enumerate() {
            let got = r.next_event().unwrap().unwrap();
            assert_eq!(got.seq, 10 + 2 * i as i64);
            assert_eq!(got.time_us, e.event_time.timestamp_micros());
            assert_eq!(got.line, e.source.line.map_or(0, |l| l + 1));
            assert_eq!(got.key, &e.key.0[..]);
            assert_eq!(EventKind::ALL[got.kind as usize], e.event.kind());
            assert_eq!(got.body, &encoded[i][..]);
        }
        assert!(r.next_event().unwrap().is_none());
    }
}
