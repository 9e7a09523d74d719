//! `cspguard exception …`: Microsoft's one-time fraud-credit exception request over the store. The rules are in
//! `cspguard_exception` (pure); this module reads the case, its usage lines and the tenant's request, and writes the
//! request (with audit entries) and the package.
//!
//! Commands: `check CASE|TENANT` (each rule, the deadline, the claim and its totals), `open CASE` (the draft),
//! `exclude|include REQUEST LINE-ID --reason`, `package CASE --out DIR` (Markdown, PDF, CSV of the charges, JSON of
//! the timeline and evidence), `status REQUEST submitted|approved|denied`, `list`.

mod doc;

use crate::cases::{find_case, parse_case, AuditJson, TimelineEntry};
use crate::cli::GlobalArgs;
use anyhow::{bail, Context};
use chrono::{Duration, NaiveDate, Utc};
use clap::{Args, Subcommand};
use cspguard_cases::{Case, Verdict};
use cspguard_domain::{Instant, Money};
use cspguard_exception::{
    check, claim_last_day, select, ChargeLine, Deadline, Eligibility, EligibilityFacts,
    ExceptionRequest, Incident, OtherRequest, RequestStatus, SelectConfig, Selection, Totals,
};
use cspguard_store::{
    AuditEntry, AuditFilter, CaseChanges, CaseFilter, ExceptionRow, Opened, Store,
};
use doc::Block;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum ExceptionCommand {
    /// Each eligibility rule as pass/fail with its reason, the filing deadline, and the claim (lines and totals).
    Check(CheckArgs),
    /// Open the draft request for a case (one per customer tenant ID, ever).
    Open {
        /// The case ID (CS-...).
        case: String,
    },
    /// Take a line out of the claim.
    Exclude(LineArgs),
    /// Put a line of the claim window into the claim.
    Include(LineArgs),
    /// Set the first fraudulent usage date by hand, when the evidence missed it or dated it wrong (day 1 of the
    /// claim and the start of the 60 days).
    FirstUsage {
        /// The request ID (EX-...) or the customer tenant ID.
        request: String,
        /// YYYY-MM-DD
        date: NaiveDate,
        /// Why: goes into the claim and the audit log.
        #[arg(long)]
        reason: String,
    },
    /// Write the request's package: a Markdown and a PDF document, the charges as CSV, the timeline and evidence as
    /// JSON. Opens the draft request if the case has none; packages the case's request again in any status.
    Package(PackageArgs),
    /// Record the request's status: submitted --ticket N, approved --credited AMOUNT, denied.
    Status(StatusArgs),
    /// Every request.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A case ID (CS-...), or a customer tenant ID (its request's case, else its latest case resolved as Fraud,
    /// else its latest case).
    pub target: String,
    #[arg(long)]
    pub json: bool,
    /// List every line of the claim window with its ID and why it is in or out.
    #[arg(long)]
    pub lines: bool,
    /// The day the request would be filed [default: today, UTC]
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<NaiveDate>,
}

#[derive(Debug, Args)]
pub struct LineArgs {
    /// The request ID (EX-...) or the customer tenant ID.
    pub request: String,
    /// The line ID (`exception check --lines` lists them; a unique prefix of 6 or more characters will do).
    pub line: String,
    /// Why: goes into the claim and the audit log.
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct PackageArgs {
    /// The case ID (CS-...).
    pub case: String,
    /// Folder to write the package into (created if needed).
    #[arg(long)]
    pub out: PathBuf,
    /// The day the request will be filed [default: today, UTC]
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub as_of: Option<NaiveDate>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The request ID (EX-...) or the customer tenant ID.
    pub request: String,
    /// submitted, approved or denied.
    pub status: String,
    /// Microsoft's support ticket number (for submitted).
    #[arg(long)]
    pub ticket: Option<String>,
    /// The credited amount (for approved), in the claim's currency.
    #[arg(long)]
    pub credited: Option<String>,
    #[arg(long)]
    pub note: Option<String>,
}

/// Everything `check` knows about a case's claim. Field names are the JSON contract of `exception check --json`.
#[derive(Debug, Serialize)]
pub struct Assessment {
    pub case_id: String,
    pub customer_tenant_id: String,
    pub customer_name: Option<String>,
    pub azure_subscription_ids: Vec<String>,
    pub as_of: NaiveDate,
    pub eligible: bool,
    pub rules: Vec<cspguard_exception::RuleResult>,
    pub deadline: Option<Deadline>,
    pub first_fraudulent_usage: Option<NaiveDate>,
    /// How the first fraudulent usage date was found.
    pub how_found: String,
    /// Days 1-30: the first fraudulent usage date and day 30.
    pub claim_window: Option<(NaiveDate, NaiveDate)>,
    pub totals: Totals,
    /// The tenant's request, if any.
    pub request: Option<ExceptionRequest>,
    #[serde(flatten)]
    pub selection: Selection,
}

/// Usage is read from the earliest possible baseline start to this many days after the first evidence.
const READ_AFTER_DAYS: i64 = 90;

/// The claim and the rules for `case`, with the tenant's request (its overrides apply when it is this case's).
pub async fn assess(store: &Store, case: &Case, as_of: NaiveDate) -> anyhow::Result<Assessment> {
    let cfg = SelectConfig::default();
    let first_evidence = case.first_evidence_at.date_naive();
    let from = first_evidence
        - Duration::days(cfg.lead_days + cfg.named_lookback_days + cfg.baseline_days);
    let to = first_evidence + Duration::days(READ_AFTER_DAYS);
    let lines: Vec<ChargeLine> = store
        .usage_lines(&case.azure_subscription_ids, from, to)
        .await?
        .iter()
        .map(|(k, u)| ChargeLine::from_usage(k, u))
        .collect();
    let request = load_request(store, &case.customer_tenant_id).await?;
    let own = request.as_ref().filter(|r| r.case_id == case.id.0);
    let overrides = own.map(|r| r.overrides.clone()).unwrap_or_default();
    let incident = Incident {
        resource_ids: case.resource_ids.clone(),
        first_evidence,
        first_usage_override: own
            .and_then(|r| r.first_usage.as_ref())
            .map(|f| (f.date, format!("{} ({})", f.reason, f.by))),
    };
    let selection = select(&lines, &incident, &cfg, &overrides);
    let totals = selection
        .totals()
        .with_context(|| format!("totalling the claim of case {}", case.id))?;
    let other = request.as_ref().map(|r| OtherRequest {
        id: r.id.clone(),
        case_id: r.case_id.clone(),
        status: r.status.as_str().to_string(),
    });
    let earlier: Vec<(String, NaiveDate)> = store
        .cases(&CaseFilter {
            status: Some("resolved".into()),
            customer: Some(case.customer_tenant_id.clone()),
        })
        .await?
        .iter()
        .map(parse_case)
        .collect::<anyhow::Result<Vec<Case>>>()?
        .into_iter()
        .filter(|c| {
            c.id != case.id
                && c.verdict == Some(Verdict::Fraud)
                && may_claim(c)
                && c.first_evidence_at < case.first_evidence_at
        })
        .map(|c| (c.id.0, c.first_evidence_at.date_naive()))
        .collect();
    let e: Eligibility = check(&EligibilityFacts {
        case_id: &case.id.0,
        case_status: case.status.as_str(),
        verdict: case.verdict.map(Verdict::as_str),
        first_fraudulent_usage: selection.first_fraudulent_usage,
        lines: &selection.lines,
        tenant_request: other.as_ref(),
        earlier_compromises: &earlier,
        today: as_of,
    });
    Ok(Assessment {
        case_id: case.id.0.clone(),
        customer_tenant_id: case.customer_tenant_id.clone(),
        customer_name: case.customer_name.clone(),
        azure_subscription_ids: case.azure_subscription_ids.clone(),
        as_of,
        eligible: e.eligible,
        rules: e.rules,
        deadline: e.deadline,
        first_fraudulent_usage: selection.first_fraudulent_usage,
        how_found: selection.how.clone(),
        claim_window: selection
            .first_fraudulent_usage
            .map(|f| (f, claim_last_day(f))),
        totals,
        request,
        selection,
    })
}

/// The filing deadline of a compromise-like case (for `cases show`), or `None` when the case has no Azure
/// subscriptions or no usage is linked to it.
pub async fn case_deadline(
    store: &Store,
    case: &Case,
    today: NaiveDate,
) -> anyhow::Result<Option<Deadline>> {
    if case.azure_subscription_ids.is_empty() {
        return Ok(None);
    }
    // A claim that cannot be totalled (mixed currencies) still has a deadline: the view must not fail on it.
    match assess(store, case, today).await {
        Ok(x) => Ok(x.deadline),
        Err(e) => {
            tracing::warn!("case {}: no fraud-credit deadline: {e:#}", case.id);
            Ok(None)
        }
    }
}

/// Whether a case could be the subject of a fraud-credit request: not a payment or onboarding case, not found
/// legitimate or ignored.
pub fn may_claim(case: &Case) -> bool {
    !matches!(
        case.kind.as_str(),
        "nonpayment" | "card_testing" | "new_customer_fraud" | "payment_risk" | "new_customer_risk"
    ) && !matches!(case.verdict, Some(Verdict::Legitimate | Verdict::Ignore))
        && !case.azure_subscription_ids.is_empty()
}

/// One line for `cases show`: the deadline, with a warning when 14 days or fewer are left.
pub fn render_deadline(d: &Deadline) -> String {
    if d.passed {
        format!(
            "fraud-credit request: deadline {} PASSED {} day(s) ago (first fraudulent usage {})",
            d.deadline, -d.days_left, d.first_fraudulent_usage
        )
    } else {
        format!(
            "fraud-credit request: file by {} ({} day(s) left; first fraudulent usage {}){}",
            d.deadline,
            d.days_left,
            d.first_fraudulent_usage,
            if d.warn {
                " — WARNING: 14 days or fewer left, file now (`cspguard exception package`)"
            } else {
                ""
            }
        )
    }
}

async fn load_request(store: &Store, tenant: &str) -> anyhow::Result<Option<ExceptionRequest>> {
    match store.exception_request_for_tenant(tenant).await? {
        Some(r) => Ok(Some(parse_request(&r)?)),
        None => Ok(None),
    }
}

fn parse_request(r: &ExceptionRow) -> anyhow::Result<ExceptionRequest> {
    serde_json::from_str(&r.body)
        .with_context(|| format!("exception request {} is stored unreadable", r.id))
}

fn request_row(r: &ExceptionRequest) -> anyhow::Result<ExceptionRow> {
    Ok(ExceptionRow {
        id: r.id.clone(),
        customer_tenant_id: r.customer_tenant_id.clone(),
        case_id: r.case_id.clone(),
        status: r.status.as_str().to_string(),
        created_at: r.created_at,
        updated_at: r.updated_at,
        body: serde_json::to_string(r)?,
    })
}

/// A request by ID (EX-...) or by customer tenant ID.
pub async fn find_request(store: &Store, key: &str) -> anyhow::Result<(ExceptionRequest, Instant)> {
    let row = match store.exception_request(key).await? {
        Some(r) => Some(r),
        None => store.exception_request_for_tenant(key).await?,
    };
    let row = row.with_context(|| {
        format!("there is no exception request {key:?}: `cspguard exception list` shows them; `exception open CASE` opens one")
    })?;
    Ok((parse_request(&row)?, row.updated_at))
}

/// The case a `check` target names: a case ID, or a tenant's request's case, else its latest Fraud case, else its
/// latest case.
pub async fn target_case(store: &Store, target: &str) -> anyhow::Result<Case> {
    if target.to_ascii_uppercase().starts_with("CS-") {
        return find_case(store, target).await;
    }
    let tenant = cspguard_domain::TenantId::parse(target).map_err(|e| {
        anyhow::anyhow!("{target:?} is neither a case ID (CS-...) nor a customer tenant ID: {e}")
    })?;
    if let Some(r) = load_request(store, tenant.as_str()).await? {
        return find_case(store, &r.case_id).await;
    }
    let cases: Vec<Case> = store
        .cases(&CaseFilter {
            status: None,
            customer: Some(tenant.as_str().to_string()),
        })
        .await?
        .iter()
        .map(parse_case)
        .collect::<anyhow::Result<_>>()?;
    cases
        .iter()
        .find(|c| c.verdict == Some(Verdict::Fraud))
        .or_else(|| cases.first())
        .cloned()
        .with_context(|| format!("customer {tenant} has no case: a request is made for a case (`cspguard cases list`)"))
}

/// Opens the draft for `case`, or returns the case's existing draft; refuses when the tenant used its request
/// (`exception open`, `POST /api/v1/exceptions`). The opening is audited as `exception.opened` by `actor`.
pub async fn open_request(
    store: &Store,
    case: &Case,
    actor: &str,
    now: Instant,
) -> anyhow::Result<ExceptionRequest> {
    let existing = load_request(store, &case.customer_tenant_id).await?;
    ExceptionRequest::may_open(&case.customer_tenant_id, &case.id.0, existing.as_ref())?;
    if let Some(r) = existing {
        return Ok(r);
    }
    let r = ExceptionRequest::draft(
        &case.customer_tenant_id,
        case.customer_name.clone(),
        &case.id.0,
        actor,
        now,
    );
    let audit = AuditEntry::new(
        now,
        actor,
        "exception.opened",
        serde_json::json!({"request": r.id, "customer_tenant_id": r.customer_tenant_id}),
    )
    .case(&case.id.0);
    match store
        .open_exception_request(&request_row(&r)?, &[audit])
        .await?
    {
        Opened::Created => Ok(r),
        // Another person opened one between our read and our write: the database kept the first.
        Opened::Exists(row) => {
            let other = parse_request(&row)?;
            ExceptionRequest::may_open(&case.customer_tenant_id, &case.id.0, Some(&other))?;
            Ok(other)
        }
    }
}

/// `cspguard exception …`.
pub async fn run(g: &GlobalArgs, command: ExceptionCommand) -> anyhow::Result<i32> {
    let store = crate::open_store(g).await?;
    let now = Utc::now();
    let actor = g.actor();
    let today = now.date_naive();
    let r = match command {
        ExceptionCommand::Check(a) => run_check(&store, a, today).await,
        ExceptionCommand::Open { case } => {
            let c = find_case(&store, &case).await?;
            let r = open_request(&store, &c, &actor, now).await?;
            outln!(
                "{} draft for case {} (customer {}): `cspguard exception check {}` shows the claim",
                r.id,
                r.case_id,
                r.customer_tenant_id,
                r.case_id
            );
            Ok(crate::exit::OK)
        }
        ExceptionCommand::Exclude(a) => set_line(&store, a, false, &actor, now).await,
        ExceptionCommand::Include(a) => set_line(&store, a, true, &actor, now).await,
        ExceptionCommand::FirstUsage {
            request,
            date,
            reason,
        } => set_first_usage(&store, &request, date, &reason, &actor, now).await,
        ExceptionCommand::Package(a) => package(&store, a, &actor, now).await,
        ExceptionCommand::Status(a) => status(&store, a, &actor, now).await,
        ExceptionCommand::List { json } => list(&store, json).await,
    };
    store.close().await;
    r
}

async fn run_check(store: &Store, a: CheckArgs, today: NaiveDate) -> anyhow::Result<i32> {
    let case = target_case(store, &a.target).await?;
    let x = assess(store, &case, a.as_of.unwrap_or(today)).await?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&x)?);
    } else {
        crate::out!("{}", render_check(&x, a.lines));
    }
    Ok(crate::exit::OK)
}

pub fn render_check(x: &Assessment, with_lines: bool) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "case {}  customer {} {}",
        x.case_id,
        x.customer_tenant_id,
        x.customer_name.as_deref().unwrap_or("")
    );
    let _ = writeln!(
        s,
        "{} for Microsoft's fraud-credit exception (as of {})",
        if x.eligible {
            "ELIGIBLE"
        } else {
            "NOT ELIGIBLE"
        },
        x.as_of
    );
    for r in &x.rules {
        let _ = writeln!(
            s,
            "  [{}] {:<26} {}",
            if r.pass { "pass" } else { "FAIL" },
            r.rule,
            r.reason
        );
    }
    if let Some(d) = &x.deadline {
        let _ = writeln!(s, "{}", render_deadline(d));
    }
    let _ = writeln!(s, "first fraudulent usage: {}", x.how_found);
    if let Some((f, l)) = x.claim_window {
        let _ = writeln!(
            s,
            "claim: days 1-30 = {f} to {l}: {} in {} line(s) ({} line(s) of the window excluded)",
            x.totals
                .total
                .map(|m| m.to_string())
                .unwrap_or_else(|| "nothing".into()),
            x.totals.lines,
            x.selection.lines.iter().filter(|l| !l.included).count()
        );
        for m in &x.selection.linked_after_window {
            let _ = writeln!(
                s,
                "  compromise-related charges after day 30 (not covered): {m}"
            );
        }
        for (name, b) in [
            ("day", &x.totals.by_day),
            ("region", &x.totals.by_region),
            ("meter", &x.totals.by_meter),
        ] {
            let _ = writeln!(s, "  by {name}:");
            for b in b {
                let _ = writeln!(
                    s,
                    "    {:<44} {:>14}  ({} lines)",
                    b.key,
                    b.total.to_string(),
                    b.lines
                );
            }
        }
    }
    if let Some(r) = &x.request {
        let _ = writeln!(
            s,
            "request {} ({}) for case {}{}",
            r.id,
            r.status.as_str(),
            r.case_id,
            r.ticket
                .as_ref()
                .map(|t| format!(", ticket {t}"))
                .unwrap_or_default()
        );
    }
    for o in &x.selection.unmatched_overrides {
        let _ = writeln!(
            s,
            "warning: the decision on line {o} matches no line of the window any more"
        );
    }
    if with_lines {
        let _ = writeln!(
            s,
            "\nlines of the window (ID, day, date, cost, in/out, why):"
        );
        for l in &x.selection.lines {
            let _ = writeln!(
                s,
                "  {} d{:<2} {} {:>12} {} {}{}",
                l.line.id,
                l.day,
                l.line.usage_date,
                l.line.cost.to_string(),
                if l.included { "IN " } else { "out" },
                l.reason,
                l.overridden_by
                    .as_ref()
                    .map(|b| format!(" (by {b})"))
                    .unwrap_or_default()
            );
        }
    } else if x.claim_window.is_some() {
        let _ = writeln!(
            s,
            "(--lines lists every line with its ID; --json gives everything)"
        );
    }
    s
}

/// Puts line `line` (an ID or a unique prefix of 6+) of request `key`'s claim in or out (`exception include|exclude`,
/// `POST /api/v1/exceptions/{id}/lines/{line}`), with the reason, audited as `exception.line_included|excluded` by
/// `actor`. Only a draft's lines change. Returns the request and the line as it was decided before.
pub async fn set_line_decision(
    store: &Store,
    key: &str,
    line: &str,
    included: bool,
    reason: &str,
    actor: &str,
    now: Instant,
) -> anyhow::Result<(ExceptionRequest, cspguard_exception::ClaimLine)> {
    let (mut r, version) = find_request(store, key).await?;
    let case = find_case(store, &r.case_id).await?;
    let x = assess(store, &case, now.date_naive()).await?;
    let line = x.selection.find(line)?.clone();
    r.set_line(&line.line.id, included, reason, actor, now)?;
    let verb = if included {
        "exception.line_included"
    } else {
        "exception.line_excluded"
    };
    store
        .update_exception_request(
            &request_row(&r)?,
            version,
            &[AuditEntry::new(
                now,
                actor,
                verb,
                serde_json::json!({"request": r.id, "line": line.line.id, "reason": reason.trim(),
                    "usage_date": line.line.usage_date, "cost": line.line.cost.to_string()}),
            )
            .case(&r.case_id)],
        )
        .await?;
    Ok((r, line))
}

async fn set_line(
    store: &Store,
    a: LineArgs,
    included: bool,
    actor: &str,
    now: Instant,
) -> anyhow::Result<i32> {
    let (r, line) =
        set_line_decision(store, &a.request, &a.line, included, &a.reason, actor, now).await?;
    outln!(
        "{}: line {} ({} on {}) {}",
        r.id,
        line.line.id,
        line.line.cost,
        line.line.usage_date,
        if included { "included" } else { "excluded" }
    );
    Ok(crate::exit::OK)
}

async fn set_first_usage(
    store: &Store,
    key: &str,
    date: NaiveDate,
    reason: &str,
    actor: &str,
    now: Instant,
) -> anyhow::Result<i32> {
    let (mut r, version) = find_request(store, key).await?;
    let before = r.first_usage.as_ref().map(|f| f.date);
    r.set_first_usage(date, reason, actor, now)?;
    store
        .update_exception_request(
            &request_row(&r)?,
            version,
            &[AuditEntry::new(
                now,
                actor,
                "exception.first_usage_set",
                serde_json::json!({"request": r.id, "date": date, "before": before, "reason": reason}),
            )
            .case(&r.case_id)],
        )
        .await?;
    outln!(
        "{}: first fraudulent usage date set to {date}; day 30 is {}, the deadline {}",
        r.id,
        claim_last_day(date),
        cspguard_exception::deadline(date, now.date_naive()).deadline
    );
    Ok(crate::exit::OK)
}

/// Records a request's status (`exception status`, `POST /api/v1/exceptions/{id}/status`), audited as `actor`. The
/// warning says when a submitted request fails eligibility rules (recorded anyway: Microsoft decides).
pub async fn set_status(
    store: &Store,
    a: &StatusArgs,
    actor: &str,
    now: Instant,
) -> anyhow::Result<(ExceptionRequest, Option<String>)> {
    let mut warning = None;
    let (mut r, version) = find_request(store, &a.request).await?;
    let to = RequestStatus::parse(&a.status).with_context(|| {
        format!(
            "{:?} is not a request status: use submitted, approved or denied",
            a.status
        )
    })?;
    let mut detail = serde_json::json!({"request": r.id, "status": to.as_str(), "note": a.note});
    match to {
        RequestStatus::Submitted => {
            let case = find_case(store, &r.case_id).await?;
            let x = assess(store, &case, now.date_naive()).await?;
            if !x.eligible {
                warning = Some(format!(
                    "the request fails {}: recorded as submitted anyway (Microsoft decides)",
                    x.rules
                        .iter()
                        .filter(|r| !r.pass)
                        .map(|r| r.rule.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            r.submit(a.ticket.as_deref(), x.totals.total, actor, now)?;
            detail["ticket"] = serde_json::json!(r.ticket);
            detail["claimed_total"] = serde_json::json!(r.claimed_total.map(|m| m.to_string()));
        }
        RequestStatus::Approved => {
            let currency = r
                .claimed_total
                .map(|m| m.currency.as_str().to_string())
                .unwrap_or_else(|| "USD".into());
            let credited = a
                .credited
                .as_deref()
                .map(|c| Money::parse(c, &currency))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--credited: {e}: give an amount such as 1234.56"))?;
            r.approve(credited, a.note.as_deref(), now)?;
            detail["credited"] = serde_json::json!(r.credited.map(|m| m.to_string()));
        }
        RequestStatus::Denied => r.deny(a.note.as_deref(), now)?,
        RequestStatus::Draft => {
            bail!("a request cannot go back to draft: once submitted it stays the tenant's one request")
        }
    }
    store
        .update_exception_request(
            &request_row(&r)?,
            version,
            &[
                AuditEntry::new(now, actor, &format!("exception.{}", to.as_str()), detail)
                    .case(&r.case_id),
            ],
        )
        .await?;
    Ok((r, warning))
}

async fn status(store: &Store, a: StatusArgs, actor: &str, now: Instant) -> anyhow::Result<i32> {
    let (r, warning) = set_status(store, &a, actor, now).await?;
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    outln!(
        "{} {}{}{}",
        r.id,
        r.status.as_str(),
        r.ticket
            .as_ref()
            .map(|t| format!(", ticket {t}"))
            .unwrap_or_default(),
        r.credited
            .map(|m| format!(", credited {m}"))
            .unwrap_or_default()
    );
    Ok(crate::exit::OK)
}

/// Every exception request (`exception list`).
pub async fn requests(store: &Store) -> anyhow::Result<Vec<ExceptionRequest>> {
    store
        .exception_requests()
        .await?
        .iter()
        .map(parse_request)
        .collect()
}

async fn list(store: &Store, json: bool) -> anyhow::Result<i32> {
    let reqs = requests(store).await?;
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"requests": reqs}))?
        );
        return Ok(crate::exit::OK);
    }
    if reqs.is_empty() {
        outln!("no exception requests (`cspguard exception check CASE` shows whether a case qualifies)");
    }
    for r in &reqs {
        outln!(
            "{} {:<9} case {} customer {} {}{}{}",
            r.id,
            r.status.as_str(),
            r.case_id,
            r.customer_tenant_id,
            r.customer_name.as_deref().unwrap_or(""),
            r.ticket
                .as_ref()
                .map(|t| format!(" ticket {t}"))
                .unwrap_or_default(),
            r.credited
                .map(|m| format!(" credited {m}"))
                .unwrap_or_default()
        );
    }
    Ok(crate::exit::OK)
}

/// What `package` writes.
#[derive(Debug, Serialize)]
pub struct Package {
    pub markdown: PathBuf,
    pub pdf: PathBuf,
    pub csv: PathBuf,
    pub json: PathBuf,
}

/// The four files of a request's package, in memory: a Markdown and a PDF document, the claimed charges as CSV, the
/// timeline and evidence as JSON.
pub struct PackageFiles {
    pub markdown: String,
    pub pdf: Vec<u8>,
    pub csv: Vec<u8>,
    pub json: String,
}

/// One file of a package: `md`, `pdf`, `csv` (the charges) or `json` (the evidence).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageFormat {
    Markdown,
    Pdf,
    Csv,
    Json,
}

impl PackageFormat {
    pub fn parse(s: &str) -> Option<PackageFormat> {
        match s.to_ascii_lowercase().as_str() {
            "md" | "markdown" => Some(PackageFormat::Markdown),
            "pdf" => Some(PackageFormat::Pdf),
            "csv" => Some(PackageFormat::Csv),
            "json" => Some(PackageFormat::Json),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PackageFormat::Markdown => "md",
            PackageFormat::Pdf => "pdf",
            PackageFormat::Csv => "csv",
            PackageFormat::Json => "json",
        }
    }

    /// The file's name in the package folder (and of a download).
    pub fn file_name(self, request_id: &str) -> String {
        match self {
            PackageFormat::Markdown => format!("{request_id}.md"),
            PackageFormat::Pdf => format!("{request_id}.pdf"),
            PackageFormat::Csv => format!("{request_id}-charges.csv"),
            PackageFormat::Json => format!("{request_id}-evidence.json"),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            PackageFormat::Markdown => "text/markdown; charset=utf-8",
            PackageFormat::Pdf => "application/pdf",
            PackageFormat::Csv => "text/csv; charset=utf-8",
            PackageFormat::Json => "application/json",
        }
    }
}

impl PackageFiles {
    pub fn get(&self, f: PackageFormat) -> &[u8] {
        match f {
            PackageFormat::Markdown => self.markdown.as_bytes(),
            PackageFormat::Pdf => &self.pdf,
            PackageFormat::Csv => &self.csv,
            PackageFormat::Json => self.json.as_bytes(),
        }
    }
}

/// Builds the package of request `req` for `case` as of `as_of`, and audits it as `exception.packaged` by `actor`
/// with `target` (where it went: the CLI's folder, the API's format) — only once `deliver` has succeeded with the
/// files, so a package that could not be written is not recorded as made. `exception package` writes the files;
/// `GET /api/v1/exceptions/{id}/package/{format}` sends one.
#[allow(clippy::too_many_arguments)]
pub async fn make_package<T>(
    store: &Store,
    req: &ExceptionRequest,
    case: &Case,
    as_of: NaiveDate,
    actor: &str,
    now: Instant,
    target: serde_json::Value,
    deliver: impl FnOnce(&Assessment, PackageFiles) -> anyhow::Result<T>,
) -> anyhow::Result<(Assessment, T)> {
    let x = assess(store, case, as_of).await?;
    let timeline = crate::cases::timeline(store, case, 500).await?;
    let audit: Vec<AuditJson> = store
        .audit(&AuditFilter {
            case_id: Some(case.id.0.clone()),
            ..Default::default()
        })
        .await?
        .into_iter()
        .map(AuditJson::from)
        .collect();
    let files = render_package(req, case, &x, &timeline, &audit, actor, now)?;
    let delivered = deliver(&x, files)?;
    let mut detail = serde_json::json!({"request": req.id,
        "total": x.totals.total.map(|m| m.to_string()), "lines": x.totals.lines, "eligible": x.eligible});
    if let (Some(d), serde_json::Value::Object(t)) = (detail.as_object_mut(), target) {
        d.extend(t);
    }
    store
        .commit_case_changes(&CaseChanges {
            audit: vec![AuditEntry::new(now, actor, "exception.packaged", detail).case(&case.id.0)],
            ..Default::default()
        })
        .await?;
    Ok((x, delivered))
}

async fn package(store: &Store, a: PackageArgs, actor: &str, now: Instant) -> anyhow::Result<i32> {
    let case = find_case(store, &a.case).await?;
    // The case's own request is packaged again whatever its status (Microsoft may ask for the document again);
    // otherwise a draft is opened, which the once-per-tenant rule may refuse.
    let req = match load_request(store, &case.customer_tenant_id).await? {
        Some(r) if r.case_id == case.id.0 => r,
        _ => open_request(store, &case, actor, now).await?,
    };
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}: choose another --out", a.out.display()))?;
    let (x, p) = make_package(
        store,
        &req,
        &case,
        a.as_of.unwrap_or(now.date_naive()),
        actor,
        now,
        serde_json::json!({"out": a.out.display().to_string()}),
        |_, files| write_package(&a.out, &req, &files),
    )
    .await?;
    outln!(
        "{} ({}): {} in {} line(s), {}\n  {}\n  {}\n  {}\n  {}",
        req.id,
        req.status.as_str(),
        x.totals
            .total
            .map(|m| m.to_string())
            .unwrap_or_else(|| "nothing claimed".into()),
        x.totals.lines,
        if x.eligible {
            "eligible".to_string()
        } else {
            format!(
                "NOT eligible: {}",
                x.rules
                    .iter()
                    .filter(|r| !r.pass)
                    .map(|r| r.rule.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        p.markdown.display(),
        p.pdf.display(),
        p.csv.display(),
        p.json.display()
    );
    if let Some(d) = x.deadline.filter(|d| d.warn || d.passed) {
        eprintln!("warning: {}", render_deadline(&d));
    }
    Ok(crate::exit::OK)
}

fn money(m: Option<Money>) -> String {
    m.map(|m| format!("{} {}", m.amount.round_dp(2), m.currency))
        .unwrap_or_else(|| "-".into())
}

fn write_package(
    out: &Path,
    req: &ExceptionRequest,
    files: &PackageFiles,
) -> anyhow::Result<Package> {
    let path = |f: PackageFormat| out.join(f.file_name(&req.id));
    let p = Package {
        markdown: path(PackageFormat::Markdown),
        pdf: path(PackageFormat::Pdf),
        csv: path(PackageFormat::Csv),
        json: path(PackageFormat::Json),
    };
    for (f, at) in [
        (PackageFormat::Csv, &p.csv),
        (PackageFormat::Json, &p.json),
        (PackageFormat::Markdown, &p.markdown),
        (PackageFormat::Pdf, &p.pdf),
    ] {
        std::fs::write(at, files.get(f))
            .with_context(|| format!("cannot write {}", at.display()))?;
    }
    Ok(p)
}

#[allow(clippy::too_many_arguments)]
fn render_package(
    req: &ExceptionRequest,
    case: &Case,
    x: &Assessment,
    timeline: &[TimelineEntry],
    audit: &[AuditJson],
    actor: &str,
    now: Instant,
) -> anyhow::Result<PackageFiles> {
    // CSV: the claimed (included) lines.
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "line_id",
        "usage_date",
        "day",
        "azure_subscription_id",
        "billing_subscription_id",
        "resource_id",
        "meter_category",
        "meter_name",
        "meter_id",
        "region",
        "product_id",
        "sku_name",
        "quantity",
        "cost",
        "currency",
        "reason",
    ])?;
    for l in x.selection.lines.iter().filter(|l| l.included) {
        let c = &l.line;
        w.write_record([
            c.id.as_str(),
            &c.usage_date.to_string(),
            &l.day.to_string(),
            &c.azure_subscription_id,
            &c.billing_subscription_id,
            c.resource_id.as_deref().unwrap_or(""),
            &c.meter_category,
            &c.meter_name,
            &c.meter_id,
            &c.region,
            &c.product_id,
            &c.sku_name,
            &c.quantity.to_string(),
            &c.cost.amount.to_string(),
            c.cost.currency.as_str(),
            &l.reason,
        ])?;
    }
    let csv = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing the charges CSV: {e}"))?;
    // JSON: the assessment, the timeline, the case's audit trail.
    let evidence = serde_json::json!({
        "request": req,
        "prepared_at": now,
        "prepared_by": actor,
        "case": case,
        "assessment": x,
        "timeline": timeline,
        "audit": audit,
    });
    let blocks = document(req, case, x, timeline, actor, now);
    Ok(PackageFiles {
        markdown: doc::markdown(&blocks),
        pdf: doc::pdf(&format!("Fraud credit request {}", req.id), &blocks),
        csv,
        json: serde_json::to_string_pretty(&evidence)?,
    })
}

fn document(
    req: &ExceptionRequest,
    case: &Case,
    x: &Assessment,
    timeline: &[TimelineEntry],
    actor: &str,
    now: Instant,
) -> Vec<Block> {
    let mut b = vec![Block::Heading(
        1,
        format!(
            "Fraud credit exception request {} — {}",
            req.id,
            case.customer_name
                .as_deref()
                .unwrap_or(&case.customer_tenant_id)
        ),
    )];
    b.push(Block::Para(format!(
        "Request for Microsoft's one-time discretionary credit for a first-time, verified account compromise of new \
         commerce Azure subscriptions, covering the first 30 days of compromise-related charges. Prepared by {actor} \
         on {} from cspguard case {}; request status: {}.",
        now.format("%Y-%m-%d %H:%M UTC"),
        case.id,
        req.status.as_str()
    )));
    b.push(Block::Heading(2, "Summary".into()));
    let mut summary = vec![
        format!("Customer tenant ID: {}", case.customer_tenant_id),
        format!("Customer: {}", case.customer_name.as_deref().unwrap_or("-")),
        format!(
            "Azure subscriptions: {}",
            case.azure_subscription_ids.join(", ")
        ),
        format!(
            "First fraudulent usage date: {}",
            x.first_fraudulent_usage
                .map(|d| d.to_string())
                .unwrap_or_else(|| "not found".into())
        ),
        format!("How it was found: {}", x.how_found),
    ];
    if let Some((f, l)) = x.claim_window {
        summary.push(format!("Claim window: {f} (day 1) to {l} (day 30)"));
    }
    if let Some(d) = &x.deadline {
        summary.push(format!(
            "Filing deadline: {} (day 60); {} day(s) left on {}",
            d.deadline, d.days_left, x.as_of
        ));
    }
    summary.push(format!(
        "Compromise-related charges claimed: {} in {} usage line(s)",
        money(x.totals.total),
        x.totals.lines
    ));
    for m in &x.selection.linked_after_window {
        summary.push(format!(
            "Compromise-related charges after day 30 (not claimed): {m}"
        ));
    }
    summary.push(format!(
        "Case verdict: {} ({})",
        case.verdict.map(|v| v.as_str()).unwrap_or("none"),
        case.status.as_str()
    ));
    if let Some(t) = &req.ticket {
        summary.push(format!("Support ticket: {t}"));
    }
    b.push(Block::Bullets(summary));
    b.push(Block::Heading(2, "Eligibility".into()));
    b.push(Block::Table(
        vec!["Rule".into(), "Result".into(), "Reason".into()],
        x.rules
            .iter()
            .map(|r| {
                vec![
                    r.rule.clone(),
                    if r.pass { "pass" } else { "FAIL" }.into(),
                    r.reason.clone(),
                ]
            })
            .collect(),
    ));
    let t = &x.totals;
    for (title, buckets) in [
        ("Charges by day", &t.by_day),
        ("Charges by subscription", &t.by_subscription),
        ("Charges by region", &t.by_region),
        ("Charges by meter", &t.by_meter),
        ("Charges by resource", &t.by_resource),
    ] {
        b.push(Block::Heading(2, title.into()));
        let mut rows: Vec<Vec<String>> = buckets
            .iter()
            .map(|k| vec![money(Some(k.total)), k.lines.to_string(), k.key.clone()])
            .collect();
        rows.push(vec![money(t.total), t.lines.to_string(), "Total".into()]);
        b.push(Block::Table(
            vec!["Amount".into(), "Lines".into(), "Key".into()],
            rows,
        ));
    }
    b.push(Block::Heading(2, "Claimed lines".into()));
    b.push(Block::Para(format!(
        "Each line is a row of Partner Center's daily rated usage; the full list is in {}-charges.csv.",
        req.id
    )));
    let claimed: Vec<Vec<String>> = x
        .selection
        .lines
        .iter()
        .filter(|l| l.included)
        .map(|l| {
            vec![
                l.line.id.clone(),
                l.line.usage_date.to_string(),
                money(Some(l.line.cost)),
                format!(
                    "{} / {} in {}{}: {}",
                    l.line.meter_category,
                    l.line.meter_name,
                    l.line.region,
                    l.line
                        .resource_id
                        .as_ref()
                        .and_then(|r| r.rsplit('/').next())
                        .map(|n| format!(", {n}"))
                        .unwrap_or_default(),
                    l.reason
                ),
            ]
        })
        .collect();
    b.push(Block::Table(
        vec![
            "Line".into(),
            "Date".into(),
            "Cost".into(),
            "What and why".into(),
        ],
        claimed,
    ));
    let excluded: Vec<Vec<String>> = x
        .selection
        .lines
        .iter()
        .filter(|l| !l.included)
        .map(|l| {
            vec![
                l.line.id.clone(),
                l.line.usage_date.to_string(),
                money(Some(l.line.cost)),
                l.reason.clone(),
            ]
        })
        .collect();
    if !excluded.is_empty() {
        b.push(Block::Heading(2, "Lines of the window not claimed".into()));
        b.push(Block::Table(
            vec![
                "Line".into(),
                "Date".into(),
                "Cost".into(),
                "Why not".into(),
            ],
            excluded,
        ));
    }
    b.push(Block::Heading(2, "Timeline".into()));
    b.push(Block::Table(
        vec!["When (UTC)".into(), "Kind".into(), "What".into()],
        timeline
            .iter()
            .map(|e| {
                vec![
                    e.at.format("%Y-%m-%d %H:%M").to_string(),
                    e.kind.clone(),
                    e.summary.clone(),
                ]
            })
            .collect(),
    ));
    b.push(Block::Heading(2, "Remediation".into()));
    b.push(Block::Para(
        "Microsoft expects the partner to fix the security weaknesses that allowed the compromise. Steps of the case's \
         checklist:"
            .into(),
    ));
    b.push(Block::Bullets(
        case.checklist
            .iter()
            .map(|i| {
                format!(
                    "[{}] {}{}",
                    if i.done_by.is_some() { "x" } else { " " },
                    i.text,
                    i.done_by
                        .as_ref()
                        .map(|by| format!(" (done by {by})"))
                        .unwrap_or_default()
                )
            })
            .collect(),
    ));
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_lines_warn_within_14_days_and_after_it_passed() {
        let f: NaiveDate = "2026-09-06".parse().unwrap();
        let d = |today: &str| cspguard_exception::deadline(f, today.parse().unwrap());
        assert!(!render_deadline(&d("2026-09-20")).contains("WARNING"));
        assert!(render_deadline(&d("2026-10-25")).contains("WARNING"));
        assert!(render_deadline(&d("2026-11-05")).contains("PASSED 1 day(s) ago"));
    }

    #[test]
    fn resolved_status_is_what_cases_store() {
        // The eligibility rule compares with the stored status word.
        assert_eq!(cspguard_cases::CaseStatus::Resolved.as_str(), "resolved");
    }
}
