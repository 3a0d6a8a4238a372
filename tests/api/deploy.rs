//! The shipped alert rules and dashboard (`deploy/`) use only metrics the binary exports, name every
//! alert the operator's kit promises, and the gauges they read are really exported.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use salonbot::telemetry::METRIC_NAMES;

use crate::helpers::{Backend, spawn_app, wait_until};

fn deploy_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Every `salonbot_*` name in a text, with a histogram's `_bucket`, `_sum` and `_count` folded
/// into its name.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("salonbot_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|base| METRIC_NAMES.contains(base))
            })
            .unwrap_or(name);
        names.insert(base.to_owned());
        rest = &tail[end..];
    }
    names
}

#[test]
fn alert_rules_and_dashboard_use_only_exported_metrics() {
    let rules = deploy_file("prometheus/alerts.yml");
    let dashboard = deploy_file("grafana/salonbot.json");
    let parsed: serde_json::Value =
        serde_json::from_str(&dashboard).expect("the dashboard is JSON");
    assert!(
        parsed["panels"].as_array().is_some_and(|p| p.len() >= 10),
        "a dashboard with its panels"
    );
    for (file, text) in [("alerts.yml", &rules), ("salonbot.json", &dashboard)] {
        let used = metric_names(text);
        assert!(used.len() >= 8, "{file} uses {used:?}");
        let unknown: Vec<&String> = used
            .iter()
            .filter(|name| !METRIC_NAMES.contains(&name.as_str()))
            .collect();
        assert!(
            unknown.is_empty(),
            "{file} names metrics the binary does not export: {unknown:?}"
        );
    }
    // The check itself notices an unknown name.
    assert!(
        metric_names("rate(salonbot_nonexistent_total[5m])").contains("salonbot_nonexistent_total")
    );
}

#[test]
fn every_promised_alert_is_shipped() {
    let rules = deploy_file("prometheus/alerts.yml");
    for alert in [
        "SalonbotWebhookErrors",
        "SalonbotWebhookErrorsCritical",
        "SalonbotNoWhatsAppWebhooks",
        "SalonbotInboxBacklogOld",
        "SalonbotOutboxBacklogOld",
        "SalonbotBacklogGrowing",
        "SalonbotDeadLetters",
        "SalonbotSendingPaused",
        "SalonbotDatabaseDown",
        "SalonbotRedisDown",
        "SalonbotRefundsFailing",
        "SalonbotWebhookSlow",
    ] {
        assert!(
            rules.contains(&format!("- alert: {alert}\n")),
            "{alert} is missing from alerts.yml"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gauges_the_alerts_read_are_exported() {
    let app = spawn_app(Backend::Postgres).await;
    let text = wait_until(
        Duration::from_secs(15),
        "the gauges on /metrics",
        || async {
            let text = app.get("/metrics").await.text().await.ok()?;
            text.contains("salonbot_database_up 1").then_some(text)
        },
    )
    .await;
    for gauge in [
        "salonbot_redis_up 1",
        "salonbot_sending_paused 0",
        "salonbot_inbox_pending 0",
        "salonbot_inbox_oldest_pending_seconds 0",
        "salonbot_outbox_oldest_pending_seconds 0",
        "salonbot_salon_open ",
    ] {
        assert!(text.contains(gauge), "{gauge} missing from:\n{text}");
    }
}
