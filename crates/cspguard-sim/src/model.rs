//! The simulated book in memory: partner, resellers, customers with their users, subscriptions, resources and
//! usage streams, plus the injected events (sign-ins, control-plane operations, fraud alerts, billing plans) and
//! the ground-truth labels. Writers in the other modules turn this into files; nothing here does IO.

use crate::catalog::{Meter, Place, REGIONS, VM_SIZES};
use crate::time::DAY;
use serde_json::json;

/// The simulated window: `days` whole UTC days from `start_day` (days since 1970-01-01).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub start_day: i64,
    pub days: i64,
}

impl Window {
    pub fn start_ts(&self) -> i64 {
        self.start_day * DAY
    }
    /// Exclusive end instant.
    pub fn end_ts(&self) -> i64 {
        (self.start_day + self.days) * DAY
    }
    /// Exclusive end day.
    pub fn end_day(&self) -> i64 {
        self.start_day + self.days
    }
    /// The last simulated day (the day before the window when `days` is 0).
    pub fn last_day(&self) -> i64 {
        self.end_day() - 1
    }
    /// Days (fractional) from the window start to `ts`.
    pub fn rel(&self, ts: i64) -> f64 {
        (ts - self.start_ts()) as f64 / DAY as f64
    }
    /// Relative day before which no incident starts, so that detectors have a baseline.
    pub fn baseline(&self) -> i64 {
        (self.days / 3).min(30)
    }
}

pub(crate) struct Partner {
    pub tenant: String,
    pub name: &'static str,
    pub mpn: String,
    pub admin_upn: String,
    pub ip: String,
}

pub(crate) struct Reseller {
    pub tenant: String,
    pub name: &'static str,
    pub mpn: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Currency {
    Usd,
    Eur,
}

impl Currency {
    pub fn code(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PayStyle {
    Punctual,
    SometimesLate,
    Flaky,
}

/// Who a customer is in the ground truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Ordinary,
    /// Ordinary customer that signed up during the window (a legitimate look-alike of a fraudulent sign-up).
    NewLegit,
    Incident(&'static str),
    Benign(&'static str),
}

pub(crate) struct User {
    pub id: String,
    pub upn: String,
    pub display: String,
    pub home_ip: String,
    pub device: (&'static str, &'static str),
    /// Probability of working on a weekday.
    pub works: f64,
    /// Still uses a legacy mail client (IMAP4 / Exchange ActiveSync).
    pub legacy: Option<&'static str>,
    pub admin: bool,
}

pub(crate) struct Plan {
    pub id: String,
    pub created: i64,
    pub friendly: String,
    pub suspended: Option<&'static str>,
}

pub(crate) struct AzSub {
    pub id: String,
    pub plan: usize,
    pub name: String,
    /// Activity log written in the streamed `{"records": [...]}` shape.
    pub records_shape: bool,
    /// No routine control-plane activity after this instant (suspended).
    pub frozen_at: Option<i64>,
}

#[derive(Clone, Debug)]
pub(crate) enum ResKind {
    Vm {
        size: usize,
    },
    Vmss {
        size: usize,
        capacity: u32,
    },
    Disk {
        sku: &'static str,
    },
    AppPlan {
        sku: &'static str,
        capacity: u32,
    },
    SqlDb {
        server: String,
        sku: &'static str,
        capacity: u32,
    },
    Storage,
    Cosmos,
    Aci {
        cpu: u32,
        mem_gb: u32,
        gpu: bool,
    },
    Logs,
    KeyVault,
    AmlCompute {
        workspace: String,
        size: usize,
        nodes: u32,
    },
    BatchPool {
        account: String,
        size: usize,
        nodes: u32,
    },
}

pub(crate) struct Resource {
    pub sub: usize,
    pub region: usize,
    pub rg: String,
    pub name: String,
    pub kind: ResKind,
    /// Resource ID used by usage rows (`ResourceURI`).
    pub uri: String,
    /// Full ARM type of `uri`.
    pub rtype: String,
    pub tags_csv: String,
    pub info_csv: String,
    /// May receive routine update writes (false for attack resources).
    pub routine: bool,
    pub alive_from: i64,
    pub alive_to: i64,
}

impl Resource {
    /// ARM provider namespace and type path (after the namespace) plus name segments of a kind.
    fn arm_path(kind: &ResKind, name: &str) -> (String, String) {
        match kind {
            ResKind::Vm { .. } => (
                "Microsoft.Compute/virtualMachines".into(),
                format!("virtualMachines/{name}"),
            ),
            ResKind::Vmss { .. } => (
                "Microsoft.Compute/virtualMachineScaleSets".into(),
                format!("virtualMachineScaleSets/{name}"),
            ),
            ResKind::Disk { .. } => ("Microsoft.Compute/disks".into(), format!("disks/{name}")),
            ResKind::AppPlan { .. } => (
                "Microsoft.Web/serverfarms".into(),
                format!("serverfarms/{name}"),
            ),
            ResKind::SqlDb { server, .. } => (
                "Microsoft.Sql/servers/databases".into(),
                format!("servers/{server}/databases/{name}"),
            ),
            ResKind::Storage => (
                "Microsoft.Storage/storageAccounts".into(),
                format!("storageAccounts/{name}"),
            ),
            ResKind::Cosmos => (
                "Microsoft.DocumentDB/databaseAccounts".into(),
                format!("databaseAccounts/{name}"),
            ),
            ResKind::Aci { .. } => (
                "Microsoft.ContainerInstance/containerGroups".into(),
                format!("containerGroups/{name}"),
            ),
            ResKind::Logs => (
                "Microsoft.OperationalInsights/workspaces".into(),
                format!("workspaces/{name}"),
            ),
            ResKind::KeyVault => ("Microsoft.KeyVault/vaults".into(), format!("vaults/{name}")),
            ResKind::AmlCompute { workspace, .. } => (
                "Microsoft.MachineLearningServices/workspaces/computes".into(),
                format!("workspaces/{workspace}/computes/{name}"),
            ),
            // Batch nodes are billed to the account; the pool is a child of it.
            ResKind::BatchPool { account, .. } => (
                "Microsoft.Batch/batchAccounts".into(),
                format!("batchAccounts/{account}"),
            ),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn new(
        az_sub_id: &str,
        sub: usize,
        region: usize,
        rg: String,
        name: String,
        kind: ResKind,
        tags: Option<&str>,
        alive_from: i64,
    ) -> Resource {
        let (rtype, path) = Self::arm_path(&kind, &name);
        let provider = rtype.split('/').next().unwrap_or_default();
        let uri =
            format!("/subscriptions/{az_sub_id}/resourceGroups/{rg}/providers/{provider}/{path}");
        let info = match &kind {
            ResKind::Vm { size }
            | ResKind::Vmss { size, .. }
            | ResKind::AmlCompute { size, .. }
            | ResKind::BatchPool { size, .. } => {
                let s = &VM_SIZES[*size];
                format!(
                    "{{\"ImageType\":\"Canonical\",\"ServiceType\":\"{}\",\"VMName\":\"\",\"VCPUs\":{}}}",
                    s.arm, s.vcpus
                )
            }
            _ => String::new(),
        };
        Resource {
            sub,
            region,
            rg,
            name,
            kind,
            uri,
            rtype,
            tags_csv: csv_field(tags.unwrap_or_default()),
            info_csv: csv_field(&info),
            routine: true,
            alive_from,
            alive_to: i64::MAX,
        }
    }

    pub fn alive_at(&self, ts: i64) -> bool {
        self.alive_from <= ts && ts < self.alive_to
    }

    /// Operation name, resource ID and request body of creating (or updating) this resource.
    pub fn write_op(&self, capacity_override: Option<u32>) -> (String, String, String) {
        let loc = REGIONS[self.region].loc;
        let (op, id, body) = match &self.kind {
            ResKind::Vm { size } => (
                format!("{}/write", self.rtype),
                self.uri.clone(),
                json!({"location": loc, "properties": {"hardwareProfile": {"vmSize": VM_SIZES[*size].arm},
                    "storageProfile": {"osDisk": {"createOption": "FromImage"}}}}),
            ),
            ResKind::Vmss { size, capacity } => (
                format!("{}/write", self.rtype),
                self.uri.clone(),
                json!({"location": loc, "sku": {"name": VM_SIZES[*size].arm, "tier": "Standard",
                    "capacity": capacity_override.unwrap_or(*capacity)},
                    "properties": {"upgradePolicy": {"mode": "Manual"}}}),
            ),
            ResKind::Disk { sku } => (
                format!("{}/write", self.rtype),
                self.uri.clone(),
                json!({"location": loc, "sku": {"name": sku}, "properties": {"diskSizeGB": 128}}),
            ),
            ResKind::AppPlan { sku, capacity } => (
                format!("{}/write", self.rtype),
                self.uri.clone(),
                json!({"location": loc, "sku": {"name": sku, "capacity": capacity_override.unwrap_or(*capacity)}}),
            ),
            ResKind::SqlDb { sku, capacity, .. } => (
                format!("{}/write", self.rtype),
                self.uri.clone(),
                json!({"location": loc, "sku": {"name": sku, "capacity": capacity}}),
            ),
            ResKind::Storage => (
                format!("{}/write", self.rtype),
                self.uri.clone(),
                json!({"location": loc, "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}),
            ),
            ResKind::Cosmos => (
                format!("{}/write", self.rtype),
                self.uri.clone(),
                json!({"location": loc, "properties": {"databaseAccountOfferType": "Standard"}}),
            ),
            ResKind::Aci { cpu, mem_gb, gpu } => {
                let mut requests = json!({"cpu": cpu, "memoryInGB": mem_gb});
                if *gpu {
                    requests["gpu"] = json!({"count": 1, "sku": "V100"});
                }
                let image = if *gpu {
                    "docker.io/library/ubuntu:22.04"
                } else {
                    "mcr.microsoft.com/azuredocs/aci-helloworld"
                };
                (
                    format!("{}/write", self.rtype),
                    self.uri.clone(),
                    json!({"location": loc, "properties": {"osType": "Linux", "containers": [{"name": self.name,
                        "properties": {"image": image, "resources": {"requests": requests}}}]}}),
                )
            }
            ResKind::Logs => (
                format!("{}/write", self.rtype),
                self.uri.clone(),
                json!({"location": loc, "properties": {"sku": {"name": "PerGB2018"}}}),
            ),
            ResKind::KeyVault => (
                format!("{}/write", self.rtype),
                self.uri.clone(),
                json!({"location": loc, "properties": {"sku": {"family": "A", "name": "standard"}}}),
            ),
            ResKind::AmlCompute { size, nodes, .. } => (
                format!("{}/write", self.rtype),
                self.uri.clone(),
                json!({"location": loc, "properties": {"computeType": "AmlCompute", "properties": {
                    "vmSize": VM_SIZES[*size].arm.to_uppercase(),
                    "scaleSettings": {"minNodeCount": capacity_override.unwrap_or(*nodes),
                        "maxNodeCount": capacity_override.unwrap_or(*nodes)}}}}),
            ),
            ResKind::BatchPool { size, nodes, .. } => (
                "Microsoft.Batch/batchAccounts/pools/write".to_string(),
                format!("{}/pools/{}", self.uri, self.name),
                json!({"location": loc, "properties": {"vmSize": VM_SIZES[*size].arm.to_uppercase(),
                    "scaleSettings": {"fixedScale": {"targetDedicatedNodes": capacity_override.unwrap_or(*nodes)}}}}),
            ),
        };
        (op, id, body.to_string())
    }

    /// Operation name and resource ID of deleting this resource.
    pub fn delete_op(&self) -> (String, String) {
        match &self.kind {
            ResKind::BatchPool { .. } => (
                "Microsoft.Batch/batchAccounts/pools/delete".to_string(),
                format!("{}/pools/{}", self.uri, self.name),
            ),
            _ => (format!("{}/delete", self.rtype), self.uri.clone()),
        }
    }
}

/// How a usage stream's daily quantity behaves, besides its base and its window.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pattern {
    /// Follows the customer's growth and day-to-day noise.
    pub elastic: bool,
    /// Nothing on weekends (dev/test resources).
    pub weekdays_only: bool,
    /// Weekly and daily seasonality; a constant stream (a miner running flat out, a fixed batch) has none.
    pub seasonal: bool,
    pub shape: Shape,
}

impl Pattern {
    /// Seasonal and flat: most of a customer's streams.
    pub const STEADY: Pattern = Pattern {
        elastic: false,
        weekdays_only: false,
        seasonal: true,
        shape: Shape::Flat,
    };
    /// Seasonal, flat, and following the customer's growth.
    pub const ELASTIC: Pattern = Pattern {
        elastic: true,
        ..Pattern::STEADY
    };
    /// The same quantity every day.
    pub const CONSTANT: Pattern = Pattern {
        seasonal: false,
        ..Pattern::STEADY
    };

    pub const fn weekdays_only(self, on: bool) -> Pattern {
        Pattern {
            weekdays_only: on,
            ..self
        }
    }

    pub const fn shaped(self, shape: Shape) -> Pattern {
        Pattern { shape, ..self }
    }
}

/// How a stream's daily quantity varies beyond seasonality.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Shape {
    Flat,
    /// Linear ramp from 0 at day `a` to full at day `b` (relative days).
    RampUp {
        a: f64,
        b: f64,
    },
    /// Linear fade from full at day `a` to 0 at day `b`.
    RampDown {
        a: f64,
        b: f64,
    },
    /// Only on the last `days` days of each month.
    MonthEnd {
        days: u32,
    },
}

/// One meter consumed by one resource: the unit of usage generation.
pub(crate) struct Stream {
    pub res: usize,
    pub meter: Meter,
    /// Unit price in the region, micro-USD.
    pub price_micro: i64,
    pub meter_id: String,
    /// Quantity per full day before seasonality and noise.
    pub base: f64,
    /// Active interval, in days relative to the window start.
    pub from: f64,
    pub to: f64,
    /// Follows the customer's weekday pattern (compute, traffic); storage-like meters do not.
    pub elastic: bool,
    /// Switched off on weekends (dev machines).
    pub weekdays_only: bool,
    /// Subject to the customer's seasonality, drift and growth (false for injected abuse).
    pub seasonal: bool,
    pub shape: Shape,
}

impl Stream {
    pub fn daily_cost(&self) -> f64 {
        self.base * self.price_micro as f64 / 1e6
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Actor {
    pub caller: String,
    pub ip: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpStatus {
    /// Succeeded, creating the resource.
    Succeeded,
    /// Succeeded, updating an existing resource.
    Updated,
    Accepted,
    Failed,
}

/// One control-plane operation (one activity log event).
pub(crate) struct Op {
    pub sub: usize,
    pub ts: i64,
    pub ms: u32,
    pub operation: String,
    pub resource_id: String,
    pub rg: String,
    pub status: OpStatus,
    pub actor: Actor,
    pub body: Option<String>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Risk {
    pub detail: &'static str,
    pub aggregated: &'static str,
    pub during: &'static str,
    pub state: &'static str,
    pub events: &'static [&'static str],
}

pub(crate) const RISK_NONE: Risk = Risk {
    detail: "none",
    aggregated: "none",
    during: "none",
    state: "none",
    events: &[],
};

/// One sign-in of one of the customer's users.
pub(crate) struct SignIn {
    pub ts: i64,
    pub user: usize,
    pub app: usize,
    pub ip: String,
    pub client: &'static str,
    pub ca_status: &'static str,
    pub interactive: bool,
    pub risk: Risk,
    pub error: u32,
    pub place: Place,
    pub device: (&'static str, &'static str),
}

/// A user's trip abroad: sign-ins come from `place` between `from` and `to`.
pub(crate) struct Trip {
    pub user: usize,
    pub from: i64,
    pub to: i64,
    pub place: Place,
    pub ip: String,
}

pub(crate) struct NonPayment {
    /// Due day of the first invoice left unpaid.
    pub first_missed_due: i64,
}

pub(crate) struct StolenCard {
    pub card_country: &'static str,
    pub prepaid: bool,
    pub disputed: bool,
}

/// One card tried on the billing portal during card testing.
pub(crate) struct CardAttempt {
    pub ts: i64,
    pub fingerprint: String,
    pub country: &'static str,
    pub prepaid: bool,
    pub amount_cents: i64,
    pub failure: Option<&'static str>,
}

pub(crate) struct CardTest {
    pub attempts: Vec<CardAttempt>,
}

pub(crate) struct PostingWindowPay {
    pub due_day: i64,
    pub submitted_day: i64,
    pub posted_day: i64,
}

pub(crate) struct Customer {
    pub idx: usize,
    pub tenant: String,
    pub name: String,
    pub domain: String,
    pub country: usize,
    pub city: Place,
    pub currency: Currency,
    pub reseller: Option<usize>,
    pub created: i64,
    pub signup_ip: String,
    pub mfa: bool,
    pub credit_limit: i64,
    pub terms: u32,
    pub margin_bp: i64,
    pub pay_style: PayStyle,
    pub pays_by_card: bool,
    pub role: Role,
    pub office_ips: Vec<String>,
    pub sp_app_id: String,
    pub users: Vec<User>,
    pub plans: Vec<Plan>,
    pub subs: Vec<AzSub>,
    pub resources: Vec<Resource>,
    pub streams: Vec<Stream>,
    pub home_regions: Vec<usize>,
    /// Baseline spend per day in USD.
    pub daily_spend: f64,
    pub weekend: f64,
    pub weekly_peak: Option<(u32, f64)>,
    pub noise: f64,
    pub drift: f64,
    pub growth: Option<(f64, f64, f64)>,
    pub month_end_bump: Option<f64>,
    pub extra_signins: Vec<SignIn>,
    pub trips: Vec<Trip>,
    pub ops: Vec<Op>,
    pub name_seq: u32,
    pub nonpayment: Option<NonPayment>,
    pub stolen_card: Option<StolenCard>,
    pub card_test: Option<CardTest>,
    pub posting_window: Option<PostingWindowPay>,
}

impl Customer {
    pub fn next_seq(&mut self) -> u32 {
        self.name_seq += 1;
        self.name_seq
    }

    /// The domain's leading letters and digits, at most 12: a resource-name prefix (`batchcontoso`, `mlw-contoso`).
    pub fn slug(&self) -> String {
        self.domain
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .take(12)
            .collect()
    }

    /// Short name used in friendly names ("Alpine Logistics").
    pub fn short_name(&self) -> &str {
        let mut it = self.name.match_indices(' ');
        match (it.next(), it.next()) {
            (Some(_), Some((second, _))) => &self.name[..second],
            _ => &self.name,
        }
    }

    pub fn regions_used(&self) -> Vec<usize> {
        let mut r: Vec<usize> = self.resources.iter().map(|r| r.region).collect();
        r.extend(self.home_regions.iter().copied());
        r.sort_unstable();
        r.dedup();
        r
    }
}

/// A Microsoft fraud alert about one Azure subscription.
pub(crate) struct FraudEvent {
    pub cust: usize,
    pub sub: usize,
    pub event_time: i64,
    pub event_cs: u32,
    pub entity_id: String,
    pub entity_name: String,
    pub service: &'static str,
    pub rg: String,
    pub resource_uri: String,
    pub resource_type: String,
    pub hit_count: u32,
    pub first_occ: i64,
    pub last_occ: i64,
    pub status: &'static str,
    pub resolved_reason: &'static str,
    pub resolved_on: Option<i64>,
    pub resolved_by: String,
    pub new_model: Option<NewModel>,
}

/// Fields of the new events model (`X-NewEventsModel: true`).
pub(crate) struct NewModel {
    pub event_type: &'static str,
    pub severity: &'static str,
    pub confidence: &'static str,
    pub display_name: &'static str,
    pub description: &'static str,
    pub country: &'static str,
    pub details: Vec<(&'static str, String)>,
    pub upper_is_test: bool,
    pub with_affected: bool,
    pub full: bool,
}

/// One ground-truth entry of labels.json.
pub(crate) struct Label {
    pub kind: &'static str,
    pub cust: usize,
    pub subs: Vec<usize>,
    pub start: i64,
    pub end: i64,
    pub description: String,
}

pub(crate) struct World {
    pub seed: u64,
    pub win: Window,
    pub partner: Partner,
    pub resellers: Vec<Reseller>,
    pub customers: Vec<Customer>,
    pub fraud: Vec<FraudEvent>,
    pub incidents: Vec<Label>,
    pub benign: Vec<Label>,
}

/// A CSV field, quoted when it needs to be.
pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One monthly invoice period of a customer: usage from `start` to `end` (inclusive days), invoiced on `issued`
/// (the 1st of the next month), due on `due`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Period {
    pub start: i64,
    pub end: i64,
    pub issued: i64,
    pub due: i64,
}

/// First month of billing history before the window.
pub(crate) const HISTORY_MONTHS: u32 = 6;

/// The invoices a customer has received by the end of the window: from its sign-up (at most
/// [`HISTORY_MONTHS`] before the window) while the issue date is not after the last simulated day.
pub(crate) fn invoice_periods(created: i64, terms: u32, win: Window) -> Vec<Period> {
    use crate::time::{month_start, months_back, next_month_start};
    let created_day = created.div_euclid(DAY);
    let mut m = month_start(created_day.max(months_back(win.start_day, HISTORY_MONTHS)));
    let mut out = Vec::new();
    loop {
        let next = next_month_start(m);
        if next > win.last_day() {
            break;
        }
        out.push(Period {
            start: m.max(created_day),
            end: next - 1,
            issued: next,
            due: next + i64::from(terms),
        });
        m = next;
    }
    out
}
