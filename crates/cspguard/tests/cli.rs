//! The real `cspguard` binary in temporary folders: the command-line contracts a user relies on.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod support;
use support::small_book;

/// The package folder at run time (`cargo test` sets it for the test process). `env!` would bake in the folder the
/// test binary was first compiled in, and a target folder shared between checkouts reuses binaries across them.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string())
}

fn examples() -> PathBuf {
    Path::new(&manifest_dir()).join("../../testdata/examples")
}

fn cspguard(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cspguard"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("CSPGUARD_DATABASE_URL")
        .output()
        .expect("run cspguard")
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("{k} missing in {v}"))
}

#[test]
fn every_example_imports_and_a_second_import_adds_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    for (kind, file, extra) in [
        ("usage", "usage_small.csv", None),
        ("fraud-events", "fraud_events.json", None),
        ("signins", "signins.json", None),
        ("activity-log", "activity_log_rest.json", None),
        ("activity-log", "activity_log_records.json", None),
        ("billing", "billing.jsonl", None),
        ("customers", "customers.json", None),
        (
            "subscriptions",
            "subscriptions.json",
            Some("3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01"),
        ),
    ] {
        let path = examples().join(file);
        let mut args = vec!["import", kind, path.to_str().unwrap(), "--json"];
        if let Some(c) = extra {
            args.extend(["--customer", c]);
        }
        let first = cspguard(&data, &args);
        assert_eq!(
            first.status.code(),
            Some(0),
            "{file}: {}",
            String::from_utf8_lossy(&first.stderr)
        );
        let a = json(&first);
        assert!(n(&a, "imported") > 0, "{file}: {a}");
        assert_eq!(n(&a, "read"), n(&a, "imported"));
        assert_eq!(a["files"][0]["kind"], kind);
        let second = json(&cspguard(&data, &args));
        assert_eq!(
            (n(&second, "imported"), n(&second, "duplicates")),
            (0, n(&a, "imported")),
            "{file}"
        );
    }
    // A subscriptions page imports without --customer too (its customer is then unknown, not a reject).
    let subs = examples().join("subscriptions.json");
    let out = cspguard(
        &tmp.path().join("other"),
        &["import", "subscriptions", subs.to_str().unwrap(), "--json"],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(n(&json(&out), "imported"), 1);
    let stats = cspguard(&data, &["stats", "--json"]);
    let s = json(&stats);
    assert_eq!(s["customers"].as_u64(), Some(2), "{s}");
}

#[test]
fn bad_rows_are_rejected_to_the_rejects_folder_and_good_rows_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(examples().join("usage_small.csv")).unwrap();
    let mut rows: Vec<String> = text.lines().map(str::to_string).collect();
    let q = rows[0].split(',').position(|c| c == "Quantity").unwrap();
    let mut f: Vec<&str> = rows[3].split(',').collect();
    let original_quantity = f[q].to_string();
    f[q] = "twelve";
    rows[3] = f.join(",");
    rows[5] = rows[5].split(',').take(7).collect::<Vec<_>>().join(",");
    let bad = tmp.path().join("bad.csv");
    std::fs::write(&bad, rows.join("\n") + "\n").unwrap();
    let data = tmp.path().join("data");
    let out = cspguard(&data, &["import", "usage", bad.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let v = json(&out);
    assert_eq!((n(&v, "imported"), n(&v, "rejected")), (10, 2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("bad.csv:4:{}: rejected [Quantity]", q + 1)),
        "{stderr}"
    );
    assert!(
        stderr.contains("bad.csv:6:8: rejected: the row has 7 fields, the header has 55"),
        "{stderr}"
    );

    // The rejects file holds the header and the two raw rows, ready to be corrected and imported again.
    let rejects = PathBuf::from(v["files"][0]["rejects_file"].as_str().unwrap());
    assert!(rejects.starts_with(data.join("rejects")));
    let raw = std::fs::read_to_string(&rejects).unwrap();
    let lines: Vec<&str> = raw.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[0].starts_with("PartnerId,PartnerName"));
    assert!(lines[1].contains("twelve"));
    let errors = std::fs::read_to_string(
        rejects
            .to_string_lossy()
            .replace(".rejects.csv", ".errors.csv"),
    )
    .unwrap();
    assert!(errors.contains(",4,") && errors.contains(",6,"), "{errors}");

    // Fixing the rejects and importing them adds exactly the two rows.
    let fixed = raw.replace("twelve", &original_quantity);
    let fixed: Vec<&str> = fixed.lines().collect();
    let full_row6 = text.lines().nth(5).unwrap();
    let fixed_file = tmp.path().join("fixed.csv");
    std::fs::write(
        &fixed_file,
        format!("{}\n{}\n{}\n", fixed[0], fixed[1], full_row6),
    )
    .unwrap();
    let again = json(&cspguard(
        &data,
        &["import", "usage", fixed_file.to_str().unwrap(), "--json"],
    ));
    assert_eq!((n(&again, "imported"), n(&again, "rejected")), (2, 0));
    // And the original file now adds nothing.
    let orig = json(&cspguard(
        &data,
        &[
            "import",
            "usage",
            examples().join("usage_small.csv").to_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(n(&orig, "imported"), 0);
}

#[test]
fn overlapping_files_add_only_what_is_new() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(examples().join("usage_small.csv")).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    let a = tmp.path().join("a.csv");
    let b = tmp.path().join("b.csv");
    std::fs::write(&a, [&rows[..1], &rows[1..9]].concat().join("\n")).unwrap();
    // b: the later rows plus an overlap, in CRLF with a BOM, as another export would write it.
    std::fs::write(
        &b,
        format!("\u{feff}{}", [&rows[..1], &rows[5..]].concat().join("\r\n")),
    )
    .unwrap();
    let data = tmp.path().join("data");
    let ra = json(&cspguard(
        &data,
        &["import", "usage", a.to_str().unwrap(), "--json"],
    ));
    let rb = json(&cspguard(
        &data,
        &["import", "usage", b.to_str().unwrap(), "--json"],
    ));
    assert_eq!(n(&ra, "imported"), 8);
    assert_eq!((n(&rb, "imported"), n(&rb, "duplicates")), (4, 4));
}

#[test]
fn unusable_input_exits_2_and_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let wrong = tmp.path().join("wrong.csv");
    std::fs::write(&wrong, "not a usage file\n").unwrap();
    let out = cspguard(&data, &["import", "usage", wrong.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("missing required column(s) CustomerId"),
        "{text}"
    );

    let signins = examples().join("signins.json");
    let out = cspguard(
        &data,
        &[
            "import",
            "fraud-events",
            signins.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let v = json(&out);
    assert!(v["files"][0]["error"]
        .as_str()
        .unwrap()
        .contains("not a Partner Center fraud events JSON"));
    assert_eq!(n(&v, "imported"), 0);

    let out = cspguard(
        &data,
        &[
            "import",
            "billing",
            tmp.path().join("missing.jsonl").to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let out = cspguard(
        &data,
        &["import", "usage", "x.csv", "--customer", "not-a-tenant"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--customer"));
}

#[test]
fn auto_recognises_every_shape_in_a_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let book = tmp.path().join("book");
    std::fs::create_dir_all(book.join("subscriptions")).unwrap();
    for e in std::fs::read_dir(examples()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let dest = if name == "subscriptions.json" {
            book.join("subscriptions/3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01.json")
        } else {
            book.join(&name)
        };
        std::fs::copy(&p, dest).unwrap();
    }
    std::fs::write(book.join("notes.txt"), "just notes\n").unwrap();
    let data = tmp.path().join("data");
    let out = cspguard(&data, &["import", "auto", book.to_str().unwrap(), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json(&out);
    let files = v["files"].as_array().unwrap();
    let kind_of = |suffix: &str| {
        files
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(suffix))
            .map(|f| f["kind"].clone())
            .unwrap()
    };
    assert_eq!(kind_of("usage_small.csv"), "usage");
    assert_eq!(kind_of("activity_log_records.json"), "activity-log");
    assert_eq!(kind_of("billing.jsonl"), "billing");
    assert_eq!(
        kind_of("3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01.json"),
        "subscriptions"
    );
    assert_eq!(kind_of("notes.txt"), Value::Null);
    assert_eq!(n(&v, "rejected"), 0);
    assert!(n(&v, "imported") >= 12 + 3 + 2 + 4);
}

/// A small demo book: 25 customers over 40 days.
const DEMO: &[&str] = &[
    "demo",
    "--customers",
    "25",
    "--days",
    "40",
    "--seed",
    "3",
    "--no-serve",
];

#[test]
fn simulate_writes_a_book_and_the_demo_imports_it_once() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = cspguard(&data, DEMO);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(data.join("demo-book/labels.json").is_file());
    assert!(stdout.contains("injected incidents"), "{stdout}");
    let s1 = json(&cspguard(&data, &["stats", "--json"]));
    assert_eq!(s1["customers"].as_u64(), Some(25), "{s1}");
    // One console login per role, its password printed once.
    assert_eq!(stdout.matches(" password ").count(), 4, "{stdout}");
    let users = json(&cspguard(&data, &["users", "list", "--json"]));
    let mut roles: Vec<&str> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["role"].as_str().unwrap())
        .collect();
    roles.sort_unstable();
    assert_eq!(
        roles,
        [
            "admin_agent",
            "billing_admin",
            "global_admin",
            "user_management_admin"
        ]
    );
    // A second demo re-simulates the same bytes and the import adds nothing; the logins stay as they were.
    let out = cspguard(&data, DEMO);
    assert_eq!(out.status.code(), Some(0));
    let again = String::from_utf8_lossy(&out.stdout);
    assert!(again.contains("already imported"));
    assert!(
        again.contains("users made before") && !again.contains(" password "),
        "{again}"
    );
    let s2 = json(&cspguard(&data, &["stats", "--json"]));
    assert_eq!(s1["events"], s2["events"]);
}

/// A fresh PostgreSQL database on the server `.ci/run` starts, as a URL; `None` (test skipped) outside CI when no
/// server is there. Under CI a missing server fails the test.
fn postgres_database(prefix: &str) -> Option<String> {
    let Ok(base) = std::env::var("CSPGUARD_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must run the PostgreSQL tests: start one with .ci/postgres.sh"
        );
        eprintln!("CSPGUARD_TEST_POSTGRES_URL not set: skipped (bash .ci/run runs it)");
        return None;
    };
    let db = format!("{prefix}_{}", std::process::id());
    let created = Command::new("psql")
        .arg(&base)
        .args(["-qc", &format!("CREATE DATABASE {db}")])
        .status()
        .unwrap();
    assert!(created.success());
    Some(format!("{}/{}", base.rsplit_once('/').unwrap().0, db))
}

/// The same import against PostgreSQL through `--database` (the server `.ci/run` starts).
#[test]
fn import_works_on_postgres_too() {
    let Some(url) = postgres_database("cli") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let usage = examples().join("usage_small.csv");
    let args = [
        "--database",
        &url,
        "import",
        "auto",
        usage.to_str().unwrap(),
        "--json",
    ];
    let a = json(&cspguard(tmp.path(), &args));
    let b = json(&cspguard(tmp.path(), &args));
    assert_eq!(
        (n(&a, "imported"), n(&b, "imported"), n(&b, "duplicates")),
        (12, 0, 12)
    );
    assert!(
        !tmp.path().join("cspguard.db").exists(),
        "no SQLite file when --database names PostgreSQL"
    );
}

/// The simulator stands in for Partner Center and must write the columns the importer reads.
#[test]
fn simulator_and_importer_agree_on_the_usage_columns() {
    assert_eq!(cspguard_sim::USAGE_COLUMNS, cspguard_ingest::USAGE_COLUMNS);
}

/// The tests use `testdata/examples`, a copy of the domain examples, so the repository tests itself alone; this check
/// keeps the copy equal to `../shared/domain/examples` wherever that folder is beside the repository (always in CI).
#[test]
fn test_examples_are_the_domain_examples() {
    let shared = Path::new(&manifest_dir()).join("../../../shared/domain/examples");
    if !shared.is_dir() {
        assert!(
            std::env::var("CI").is_err(),
            "CI lays out shared/ beside the repository"
        );
        return;
    }
    for e in std::fs::read_dir(&shared).unwrap() {
        let p = e.unwrap().path();
        let copy = examples().join(p.file_name().unwrap());
        assert_eq!(
            std::fs::read(&p).unwrap(),
            std::fs::read(&copy).unwrap_or_default(),
            "{} differs from {}: copy the new examples into testdata/examples",
            copy.display(),
            p.display()
        );
    }
}

/// Imports a book with streaming detection (`--detect`); `global` goes before the command (e.g. `--database URL`).
fn import_and_detect(data: &Path, book: &Path, global: &[&str]) {
    let mut args = global.to_vec();
    args.extend([
        "import",
        "auto",
        book.to_str().unwrap(),
        "--detect",
        "--quiet",
    ]);
    let o = cspguard(data, &args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn detection_finds_every_injected_incident_explains_it_and_scans_incrementally() {
    let tmp = tempfile::tempdir().unwrap();
    let book = small_book(tmp.path());
    let data = tmp.path().join("data");
    // Streaming evaluation: the import runs the detectors on what it stored.
    import_and_detect(&data, &book, &[]);

    let alerts = json(&cspguard(&data, &["alerts", "--json"]));
    let alerts = alerts.as_array().expect("a JSON array of alerts");
    assert!(!alerts.is_empty());
    for a in alerts {
        for field in [
            "id",
            "customer_tenant_id",
            "azure_subscription_ids",
            "resource_ids",
            "kind",
            "severity",
            "score",
            "money_at_risk",
            "first_evidence_at",
            "fired_at",
            "detected_at",
            "explanation",
            "related_alert_ids",
        ] {
            assert!(a.get(field).is_some(), "{field} missing in {a}");
        }
        assert!(["low", "medium", "high", "critical"].contains(&a["severity"].as_str().unwrap()));
        assert!(a["score"].as_u64().unwrap() <= 100);
        assert!(
            a["first_evidence_at"].as_str().unwrap() <= a["fired_at"].as_str().unwrap(),
            "{a}"
        );
        assert!(
            !a["explanation"]["signals"].as_array().unwrap().is_empty(),
            "{a}"
        );
    }

    let labels = book.join("labels.json");
    let e = json(&cspguard(
        &data,
        &["eval", "--labels", labels.to_str().unwrap(), "--json"],
    ));
    for k in e["kinds"].as_array().unwrap() {
        assert_eq!(k["recall"].as_f64(), Some(1.0), "every incident found: {k}");
    }
    assert_eq!(e["benign_alerted"].as_u64(), Some(0), "{e}");
    assert_eq!(e["false_alerts"].as_u64(), Some(0), "{e}");

    // Incremental: nothing new, nothing scanned; from the start: the same alerts, by the same IDs.
    let again = json(&cspguard(&data, &["scan", "--json"]));
    assert_eq!(n(&again, "events"), 0, "{again}");
    let ids = |v: &Value| {
        let mut ids: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let before = ids(&json(&cspguard(&data, &["alerts", "--json"])));
    let full = json(&cspguard(&data, &["scan", "--from-start", "--json"]));
    assert!(n(&full, "events") > 10_000, "{full}");
    assert_eq!(before, ids(&json(&cspguard(&data, &["alerts", "--json"]))));

    // --since filters on fired_at.
    let latest = alerts
        .iter()
        .map(|a| a["fired_at"].as_str().unwrap())
        .max()
        .unwrap();
    let since = json(&cspguard(&data, &["alerts", "--json", "--since", latest]));
    assert!(since
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["fired_at"].as_str().unwrap() >= latest));
    assert!(since.as_array().unwrap().len() < alerts.len());

    // One customer's page: a risk score and its alerts.
    let tenant = alerts[0]["customer_tenant_id"].as_str().unwrap();
    let c = json(&cspguard(&data, &["customer", tenant, "--json"]));
    assert!(c["risk"]["score"].as_u64().unwrap() > 0, "{c}");
    assert!(!c["alerts"].as_array().unwrap().is_empty());
}

/// Detection on PostgreSQL: the same queries, the same alerts.
#[test]
fn detection_works_on_postgres_too() {
    let Some(url) = postgres_database("detect") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let book = small_book(tmp.path());
    let data = tmp.path().join("data");
    import_and_detect(&data, &book, &["--database", &url]);
    let on_pg = json(&cspguard(&data, &["--database", &url, "alerts", "--json"]));
    // The same book on SQLite gives the same alerts.
    let lite = tmp.path().join("lite");
    import_and_detect(&lite, &book, &[]);
    let on_lite = json(&cspguard(&lite, &["alerts", "--json"]));
    let key = |v: &Value| {
        let mut k: Vec<(String, String, u64)> = v
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["origin"] == "cspguard")
            .map(|a| {
                (
                    a["id"].as_str().unwrap().into(),
                    a["kind"].as_str().unwrap().into(),
                    a["score"].as_u64().unwrap(),
                )
            })
            .collect();
        k.sort();
        k
    };
    assert!(!key(&on_pg).is_empty());
    assert_eq!(key(&on_pg), key(&on_lite));
}

#[test]
fn rules_are_checked_and_backtested_on_the_stored_events() {
    let tmp = tempfile::tempdir().unwrap();
    let book = small_book(tmp.path());
    let data = tmp.path().join("data");
    assert!(cspguard(
        &data,
        &["import", "auto", book.to_str().unwrap(), "--quiet"]
    )
    .status
    .success());

    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[rules]]\nname = \"typo\"\ncondition = \"signal.pionts > 3 &&\"\n",
    )
    .unwrap();
    let o = cspguard(
        &data,
        &["--config", bad.to_str().unwrap(), "rules", "check"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("rule \"typo\""),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let good = tmp.path().join("cspguard.toml");
    std::fs::write(
        &good,
        r#"
[[rules]]
name = "gpu-on-new-customer"
condition = 'signal.detector == "usage.new_expensive_meter" && customer.new'
points = 40

[[suppress]]
detector = "payment."
from = 2020-01-01T00:00:00Z
to = 2030-01-01T00:00:00Z
reason = "billing feed under review"
"#,
    )
    .unwrap();
    let cfg = good.to_str().unwrap();
    let o = cspguard(&data, &["--config", cfg, "rules", "check"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let labels = book.join("labels.json");
    let b = json(&cspguard(
        &data,
        &[
            "--config",
            cfg,
            "rules",
            "backtest",
            "--from",
            "2026-08-01",
            "--to",
            "2026-09-30",
            "--labels",
            labels.to_str().unwrap(),
            "--json",
        ],
    ));
    let row = |name: &str| {
        b["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing in {b}"))
    };
    let card = row("payment.card_testing");
    assert_eq!(
        (card["signals"].as_u64(), card["alerts"].as_u64()),
        (Some(0), Some(0)),
        "suppressed: {card}"
    );
    assert!(card["suppressed"].as_u64().unwrap() > 0, "{card}");
    let rule = row("rule.gpu-on-new-customer");
    assert!(rule["signals"].as_u64().unwrap() > 0, "{rule}");
    assert_eq!(rule["precision"].as_f64(), Some(1.0), "{rule}");
    // The backtest wrote nothing: the stored alerts are untouched (none, as no scan ran).
    assert_eq!(
        json(&cspguard(&data, &["alerts", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

/// `cspguard detect series --input IN --output OUT`.
fn detect_series(data: &Path, input: &Path, output: &Path) -> Output {
    cspguard(
        data,
        &[
            "detect",
            "series",
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ],
    )
}

/// A small NAB-format series: five-minute points of a daily cycle, one spike at row `spike`.
fn nab_series(rows: usize, spike: usize) -> String {
    let mut s = String::from("timestamp,value\n");
    for i in 0..rows {
        let minutes = 5 * i;
        let (day, hour, minute) = (1 + minutes / 1440, minutes / 60 % 24, minutes % 60);
        let cycle = (i as f64 / 288.0 * std::f64::consts::TAU).sin();
        let wobble = ((i * 7919) % 13) as f64 / 13.0;
        let v = 50.0 + 20.0 * cycle + wobble + if i == spike { 60.0 } else { 0.0 };
        s.push_str(&format!(
            "2014-04-{day:02} {hour:02}:{minute:02}:00,{v:.3}\n"
        ));
    }
    s
}

fn scores(csv_text: &str) -> Vec<(String, String, f64)> {
    let mut lines = csv_text.lines();
    assert_eq!(lines.next(), Some("timestamp,value,anomaly_score"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 3, "{l}");
            (f[0].to_string(), f[1].to_string(), f[2].parse().unwrap())
        })
        .collect()
}

#[test]
fn detect_series_scores_every_row_of_a_nab_file() {
    let tmp = tempfile::tempdir().unwrap();
    let input_text = nab_series(2_000, 1_500);
    let input = tmp.path().join("series.csv");
    let output = tmp.path().join("scored.csv");
    std::fs::write(&input, &input_text).unwrap();
    let o = detect_series(&tmp.path().join("data"), &input, &output);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rows = scores(&std::fs::read_to_string(&output).unwrap());
    let inputs: Vec<&str> = input_text.lines().skip(1).collect();
    assert_eq!(rows.len(), inputs.len());
    for ((ts, v, s), line) in rows.iter().zip(&inputs) {
        assert_eq!(
            format!("{ts},{v}"),
            *line,
            "timestamp and value copied verbatim"
        );
        assert!((0.0..=1.0).contains(s));
    }
    // After the first two days (the first cycle still sets new extremes), only the spike stands out.
    let spike = rows[1_500].2;
    let others = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| *i >= 576 && *i != 1_500)
        .fold(0.0f64, |m, (_, r)| m.max(r.2));
    assert!(spike > others, "spike {spike}, others up to {others}");
    // Same input, same bytes.
    let again = tmp.path().join("again.csv");
    detect_series(&tmp.path().join("data"), &input, &again);
    assert_eq!(
        std::fs::read(&output).unwrap(),
        std::fs::read(&again).unwrap()
    );
}

#[test]
fn detect_series_keeps_malformed_rows_and_rejects_unusable_files() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let input = tmp.path().join("bad.csv");
    let output = tmp.path().join("out.csv");
    std::fs::write(
        &input,
        "timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,twelve\nnot a time,3\n2014-04-01 00:15:00,4\n",
    )
    .unwrap();
    let o = detect_series(&data, &input, &output);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("bad.csv:3: value \"twelve\" is not a number"),
        "{stderr}"
    );
    assert!(
        stderr.contains("bad.csv:4: timestamp \"not a time\""),
        "{stderr}"
    );
    let rows = scores(&std::fs::read_to_string(&output).unwrap());
    assert_eq!(rows.len(), 4, "row count unchanged");
    assert_eq!((rows[1].1.as_str(), rows[1].2), ("twelve", 0.0));

    std::fs::write(&input, "time,amount\n2014-04-01 00:00:00,1\n").unwrap();
    let o = detect_series(&data, &input, &output);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no `timestamp` column"));
    let missing = tmp.path().join("missing.csv");
    let o = detect_series(&data, &missing, &output);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("check the --input path"));
}

/// The scan's external sort (spilled runs, chains of sorted usage segments read from the store, the records decoded
/// only when merged out) feeds the engine what the whole log sorted in memory by (event time, position) would: the
/// same alerts, byte for byte, whatever the run size.
#[tokio::test]
async fn the_scan_order_gives_the_alerts_of_the_log_sorted_in_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let book = small_book(tmp.path());
    let data = tmp.path().join("data");
    let o = cspguard(
        &data,
        &["import", "auto", book.to_str().unwrap(), "--quiet"],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let store = cspguard_store::Store::open(&format!("sqlite://{}/cspguard.db", data.display()))
        .await
        .unwrap();
    let settings = cspguard::settings::Settings::default();
    let now = chrono::Utc::now();
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = store.events_after(after, 16_384).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        all.extend(page);
    }
    all.sort_by_key(|e| (e.envelope.event_time, e.seq));
    let mut engine = settings.engine();
    cspguard::detect::seed_owners(&store, &mut engine)
        .await
        .unwrap();
    let mut want = Vec::new();
    for e in &all {
        engine.process(&e.envelope, now, &mut want);
    }
    assert!(!want.is_empty(), "the book raises alerts");
    let want = serde_json::to_string(&want).unwrap();
    for run in [3_000, cspguard::time_order::RUN] {
        let mut engine = settings.engine();
        cspguard::detect::seed_owners(&store, &mut engine)
            .await
            .unwrap();
        let mut got = Vec::new();
        let (n, last) = cspguard::time_order::for_each_in_time_order(&store, 0, run, |e| {
            engine.process(&e.envelope, now, &mut got)
        })
        .await
        .unwrap();
        assert_eq!((n as usize, last), (all.len(), after), "run of {run}");
        assert_eq!(serde_json::to_string(&got).unwrap(), want, "run of {run}");
    }
}
