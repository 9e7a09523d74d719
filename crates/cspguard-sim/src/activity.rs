//! Azure activity logs per Azure subscription (`activity_log/<subscription>.json`): routine control-plane writes
//! (updates of existing resources, template deployments by the customer's pipeline, key listings), resource
//! creations and deletions decided by `world` and `plan`, and the injected incident operations. About a third of
//! the subscriptions use the streamed export shape (`{"records": [...]}`, upper-cased IDs), the rest the REST
//! shape (`{"value": [EventData...]}`, newest first).

use serde::Serialize;

use crate::model::{Customer, Op, OpStatus, World};
use crate::out::{write_lines, Output};
use crate::rng::{between, chance, guid, index, poisson, rng_for, tag};
use crate::signins::is_guid_json;
use crate::time::{is_weekend, ts_ms_z, DAY};
use crate::world::{customer_actor, local_ts};
use crate::SimError;

#[derive(Serialize)]
struct Claims<'a> {
    #[serde(
        rename = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
        skip_serializing_if = "Option::is_none"
    )]
    upn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    appid: Option<&'a str>,
    ipaddr: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Localized<'a> {
    value: &'a str,
    localized_value: &'a str,
}

#[derive(Serialize)]
struct Value<'a> {
    value: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HttpRequest<'a> {
    client_ip_address: &'a str,
    method: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Properties<'a> {
    status_code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    requestbody: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RestEvent<'a> {
    event_data_id: String,
    correlation_id: String,
    event_timestamp: String,
    submission_timestamp: String,
    caller: &'a str,
    claims: Claims<'a>,
    category: Localized<'a>,
    operation_name: Localized<'a>,
    resource_id: &'a str,
    resource_group_name: &'a str,
    resource_provider_name: Value<'a>,
    resource_type: Value<'a>,
    status: Value<'a>,
    sub_status: Value<'a>,
    subscription_id: &'a str,
    tenant_id: &'a str,
    level: &'a str,
    http_request: HttpRequest<'a>,
    properties: Properties<'a>,
}

#[derive(Serialize)]
struct Identity<'a> {
    claims: Claims<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Record<'a> {
    time: String,
    resource_id: String,
    operation_name: String,
    category: &'a str,
    result_type: &'a str,
    result_signature: &'a str,
    caller_ip_address: &'a str,
    correlation_id: String,
    identity: Identity<'a>,
    level: &'a str,
    location: &'a str,
    properties: Properties<'a>,
}

fn localized(operation: &str) -> &'static str {
    let (ty, verb) = operation.rsplit_once('/').unwrap_or((operation, ""));
    match (ty, verb) {
        ("Microsoft.Compute/virtualMachines", "write") => "Create or Update Virtual Machine",
        ("Microsoft.Compute/virtualMachines", "delete") => "Delete Virtual Machine",
        ("Microsoft.Compute/virtualMachineScaleSets", "write") => {
            "Create or Update Virtual Machine Scale Set"
        }
        ("Microsoft.Compute/virtualMachineScaleSets", "delete") => {
            "Delete Virtual Machine Scale Set"
        }
        ("Microsoft.Compute/disks", "write") => "Create or Update Disk",
        ("Microsoft.Authorization/roleAssignments", "write") => "Create role assignment",
        ("Microsoft.Authorization/roleAssignments", "delete") => "Delete role assignment",
        ("Microsoft.Capacity/resourceProviders/locations/serviceLimits", _) => {
            "Request quota increase"
        }
        ("Microsoft.Quota/quotas", _) => "Create or update resource quota",
        ("Microsoft.Batch/batchAccounts/pools", "write") => "Create or Update Batch pool",
        ("Microsoft.ContainerInstance/containerGroups", "write") => {
            "Create or Update Container Group"
        }
        ("Microsoft.MachineLearningServices/workspaces/computes", "write") => {
            "Create or Update Compute"
        }
        ("Microsoft.Resources/subscriptions/resourceGroups", "write") => "Create Resource Group",
        ("Microsoft.Resources/deployments", "write") => "Create Deployment",
        ("Microsoft.Storage/storageAccounts", "write") => "Create/Update Storage Account",
        ("Microsoft.Storage/storageAccounts/listKeys", _) => "List Storage Account Keys",
        ("Microsoft.Web/serverfarms", "write") => "Create or Update App Service Plan",
        ("Microsoft.Sql/servers/databases", "write") => "Create/Update SQL database",
        (_, "delete") => "Delete resource",
        (_, "action") => "Perform action",
        _ => "Create or Update resource",
    }
}

/// Routine operations of one customer: updates to live resources, pipeline deployments, key listings.
fn routine(c: &Customer, w: &World) -> Vec<Op> {
    let win = w.win;
    let rng = &mut rng_for(w.seed, tag::ACTIVITY, c.idx as u64);
    let rate = 0.08 + 0.05 * (1.0 + c.daily_spend).ln();
    let mut out = Vec::new();
    let first_day = win.start_day.max(c.created.div_euclid(DAY));
    for (s, sub) in c.subs.iter().enumerate() {
        for day in first_day..win.end_day() {
            if is_weekend(day) && !chance(rng, 0.15) {
                continue;
            }
            for _ in 0..poisson(rng, rate) {
                let ts = local_ts(rng, day, c.city.utc_min, 8.0, 19.0);
                if sub.frozen_at.is_some_and(|f| ts >= f) {
                    continue;
                }
                let live: Vec<usize> = (0..c.resources.len())
                    .filter(|&r| {
                        c.resources[r].sub == s
                            && c.resources[r].routine
                            && c.resources[r].alive_at(ts)
                    })
                    .collect();
                if live.is_empty() {
                    continue;
                }
                let r = &c.resources[live[index(rng, live.len())]];
                let actor = customer_actor(c, rng);
                let status = if chance(rng, 0.03) {
                    OpStatus::Failed
                } else {
                    OpStatus::Updated
                };
                let ms = between(rng, 0, 999) as u32;
                let kind = between(rng, 0, 99);
                let (operation, resource_id, body) = if kind < 75 {
                    // VM writes are occasional: mostly resize/redeploy of other resource types.
                    if r.rtype.ends_with("virtualMachines") && chance(rng, 0.5) {
                        continue;
                    }
                    let (op, id, body) = r.write_op(None);
                    (op, id, Some(body))
                } else if kind < 90 {
                    let name = format!("deploy-{}", between(rng, 1000, 9999));
                    (
                        "Microsoft.Resources/deployments/write".to_string(),
                        format!(
                            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Resources/deployments/{name}",
                            sub.id, r.rg
                        ),
                        Some(serde_json::json!({"properties": {"mode": "Incremental"}}).to_string()),
                    )
                } else if r.rtype == "Microsoft.Storage/storageAccounts" {
                    (
                        "Microsoft.Storage/storageAccounts/listKeys/action".to_string(),
                        r.uri.clone(),
                        None,
                    )
                } else {
                    continue;
                };
                out.push(Op {
                    sub: s,
                    ts,
                    ms,
                    operation,
                    resource_id,
                    rg: r.rg.clone(),
                    status,
                    actor,
                    body,
                });
            }
        }
    }
    out
}

/// How an operation's outcome reads in each shape.
struct Outcome {
    /// REST `status.value`.
    status: &'static str,
    /// REST `subStatus.value` and `properties.statusCode`.
    code: &'static str,
    /// Streamed `resultType`.
    result: &'static str,
    /// Streamed `resultSignature`.
    signature: &'static str,
    method: &'static str,
}

fn outcome(op: &Op) -> Outcome {
    let verb = op.operation.rsplit('/').next().unwrap_or_default();
    let method = match verb {
        "delete" => "DELETE",
        "action" => "POST",
        _ => "PUT",
    };
    let (status, code, result, signature) = match op.status {
        OpStatus::Succeeded if verb == "write" && op.body.is_some() => {
            ("Succeeded", "Created", "Success", "Succeeded.Created")
        }
        OpStatus::Succeeded | OpStatus::Updated => ("Succeeded", "OK", "Success", "Succeeded.OK"),
        OpStatus::Accepted => ("Accepted", "Accepted", "Accept", "Accepted.Accepted"),
        OpStatus::Failed => ("Failed", "Conflict", "Failure", "Failed.Conflict"),
    };
    Outcome {
        status,
        code,
        result,
        signature,
        method,
    }
}

fn status_message(op: &Op) -> Option<String> {
    (op.status == OpStatus::Failed).then(|| {
        serde_json::json!({"error": {"code": "OperationNotAllowed",
            "message": "Operation could not be completed as it results in exceeding approved quota."}})
        .to_string()
    })
}

/// Writes one file per Azure subscription; returns the number of operations written.
pub(crate) fn write(w: &World, out: &mut Output) -> Result<u64, SimError> {
    out.dir("activity_log")?;
    let (start, end) = (w.win.start_ts(), w.win.end_ts());
    let mut total = 0u64;
    for c in &w.customers {
        let routine = routine(c, w);
        let ids = &mut rng_for(w.seed, tag::ACTIVITY, (1 << 40) | c.idx as u64);
        for (s, sub) in c.subs.iter().enumerate() {
            let mut ops: Vec<&Op> = routine
                .iter()
                .chain(c.ops.iter())
                .filter(|op| op.sub == s && op.ts >= start && op.ts < end)
                .collect();
            ops.sort_by_key(|op| (op.ts, op.ms));
            total += ops.len() as u64;
            let path = format!("activity_log/{}.json", sub.id);
            if sub.records_shape {
                let items: Vec<Record<'_>> = ops
                    .iter()
                    .map(|op| {
                        let o = outcome(op);
                        let user = op.actor.caller.contains('@');
                        Record {
                            time: ts_ms_z(op.ts, op.ms),
                            resource_id: op.resource_id.to_uppercase(),
                            operation_name: op.operation.to_uppercase(),
                            category: "Administrative",
                            result_type: o.result,
                            result_signature: o.signature,
                            caller_ip_address: &op.actor.ip,
                            correlation_id: guid(ids),
                            identity: Identity {
                                claims: Claims {
                                    upn: user.then_some(op.actor.caller.as_str()),
                                    appid: (!user).then_some(op.actor.caller.as_str()),
                                    ipaddr: &op.actor.ip,
                                },
                            },
                            level: "Information",
                            location: "global",
                            properties: Properties {
                                status_code: o.code,
                                status_message: status_message(op),
                                requestbody: op.body.as_deref(),
                            },
                        }
                    })
                    .collect();
                out.write(&path, |f| write_lines(f, "", "records", items))?;
            } else {
                let items: Vec<RestEvent<'_>> = ops
                    .iter()
                    .rev()
                    .map(|op| {
                        let o = outcome(op);
                        let user = op.actor.caller.contains('@');
                        let (rtype, _) =
                            op.operation.rsplit_once('/').unwrap_or((&op.operation, ""));
                        let provider = rtype.split('/').next().unwrap_or_default();
                        let lag = 30 + (op.ms as i64 % 150);
                        RestEvent {
                            event_data_id: guid(ids),
                            correlation_id: guid(ids),
                            event_timestamp: ts_ms_z(op.ts, op.ms),
                            submission_timestamp: ts_ms_z(op.ts + lag, (op.ms * 7) % 1000),
                            caller: &op.actor.caller,
                            claims: Claims {
                                upn: user.then_some(op.actor.caller.as_str()),
                                appid: (!user).then_some(op.actor.caller.as_str()),
                                ipaddr: &op.actor.ip,
                            },
                            category: Localized {
                                value: "Administrative",
                                localized_value: "Administrative",
                            },
                            operation_name: Localized {
                                value: &op.operation,
                                localized_value: localized(&op.operation),
                            },
                            resource_id: &op.resource_id,
                            resource_group_name: &op.rg,
                            resource_provider_name: Value { value: provider },
                            resource_type: Value { value: rtype },
                            status: Value { value: o.status },
                            sub_status: Value { value: o.code },
                            subscription_id: &sub.id,
                            tenant_id: &c.tenant,
                            level: if op.status == OpStatus::Failed {
                                "Error"
                            } else {
                                "Informational"
                            },
                            http_request: HttpRequest {
                                client_ip_address: &op.actor.ip,
                                method: o.method,
                            },
                            properties: Properties {
                                status_code: o.code,
                                status_message: status_message(op),
                                requestbody: op.body.as_deref(),
                            },
                        }
                    })
                    .collect();
                out.write(&path, |f| write_lines(f, "", "value", items))?;
            }
        }
    }
    out.prune("activity_log", is_guid_json)?;
    Ok(total)
}
