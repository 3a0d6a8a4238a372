//! Test harness: a real app on a real socket, over a fresh database (a Postgres schema or a SQLite file
//! per test) and a Redis key prefix per test.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use salonbot::app::App;
use salonbot::config::Config;
use salonbot::ingress::dedup::SeenCache;
use salonbot::ingress::signature::sign_sha256_header;
use salonbot::store::{Store, StoreOptions};
use serde_json::Value;
use sqlx::Connection;
use tempfile::TempDir;
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

pub const SECRET: &str = "test-app-secret";
pub const VERIFY_TOKEN: &str = "test-verify-token";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

pub fn postgres_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A database of its own for one test. Keep it alive as long as the test runs.
pub struct TestDb {
    pub url: String,
    /// Postgres: the schema name.
    pub schema: Option<String>,
    _dir: Option<TempDir>,
}

static CLEANED: OnceCell<()> = OnceCell::const_new();

/// A test's schema is named `salonbot_test_<unix seconds>_<uuid>`. One older than this was left
/// behind by an earlier run; a younger one may belong to a run going on beside this one (another
/// checkout testing against the same database), whose tests would fail if it were dropped.
const LEFT_BEHIND_AFTER: Duration = Duration::from_secs(3600);

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Whether `schema` was left behind by an earlier run: old, or named before names carried their time.
fn left_behind(schema: &str, now: u64) -> bool {
    let created = schema
        .strip_prefix("salonbot_test_")
        .and_then(|rest| rest.split_once('_'))
        .and_then(|(secs, _)| secs.parse::<u64>().ok());
    created.is_none_or(|at| now.saturating_sub(at) > LEFT_BEHIND_AFTER.as_secs())
}

/// Drops the schemas earlier runs left behind (once per test run).
async fn clean_old_schemas() {
    CLEANED
        .get_or_init(|| async {
            let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_url()).await else {
                return;
            };
            let schemas: Vec<(String,)> = sqlx::query_as(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'salonbot_test_%'",
            )
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default();
            let now = unix_now();
            for (schema,) in schemas.into_iter().filter(|(s,)| left_behind(s, now)) {
                let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                    .execute(&mut conn)
                    .await;
            }
            // Database-wide, so created once here rather than by many tests' migrations at once.
            let _ = sqlx::query("CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public")
                .execute(&mut conn)
                .await;
        })
        .await;
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Postgres => {
                clean_old_schemas().await;
                let schema = format!(
                    "salonbot_test_{}_{}",
                    unix_now(),
                    uuid::Uuid::new_v4().simple()
                );
                let mut conn = sqlx::PgConnection::connect(&postgres_url()).await.expect(
                    "PostgreSQL must be reachable at TEST_DATABASE_URL (scripts/test.sh starts it)",
                );
                sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                let base = postgres_url();
                let sep = if base.contains('?') { '&' } else { '?' };
                TestDb {
                    url: format!("{base}{sep}options[search_path]={schema}"),
                    schema: Some(schema),
                    _dir: None,
                }
            }
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("salonbot.db");
                TestDb {
                    url: format!("sqlite://{}", path.display()),
                    schema: None,
                    _dir: Some(dir),
                }
            }
        }
    }

    /// A store on this database, migrated.
    pub async fn store(&self) -> Store {
        let url = salonbot::config::DatabaseUrl::parse(&self.url).unwrap();
        let store = Store::connect(&url, &StoreOptions::default())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
    }
}

/// Builds the configuration of a test app: the given variables over sensible test defaults.
pub struct AppBuilder {
    backend: Backend,
    vars: HashMap<String, String>,
    redis: bool,
    database_url: Option<String>,
    outbox_retry: Option<salonbot::config::OutboxRetry>,
}

impl AppBuilder {
    pub fn new(backend: Backend) -> Self {
        let mut vars = HashMap::new();
        vars.insert("WHATSAPP_APP_SECRET".into(), SECRET.into());
        vars.insert("WHATSAPP_VERIFY_TOKEN".into(), VERIFY_TOKEN.into());
        Self {
            backend,
            vars,
            // Postgres runs with Redis (production mode); SQLite without (the embedded default).
            redis: backend == Backend::Postgres,
            database_url: None,
            outbox_retry: None,
        }
    }

    /// Retries the outbox's failed sends on this schedule instead of the product's (a dead letter
    /// within seconds).
    pub fn outbox_retry(mut self, retry: salonbot::config::OutboxRetry) -> Self {
        self.outbox_retry = Some(retry);
        self
    }

    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    pub fn without(mut self, name: &str) -> Self {
        self.vars.remove(name);
        self
    }

    /// Uses this database URL instead of a fresh one (for example through a failing proxy).
    pub fn database_url(mut self, url: String) -> Self {
        self.database_url = Some(url);
        self
    }

    pub async fn spawn(self) -> TestApp {
        let db = TestDb::new(self.backend).await;
        let mut vars = self.vars;
        vars.insert(
            "DATABASE_URL".into(),
            self.database_url.clone().unwrap_or_else(|| db.url.clone()),
        );
        if self.redis && !vars.contains_key("REDIS_URL") {
            vars.insert("REDIS_URL".into(), redis_url());
        }
        let mut config = Config::from_lookup(|name| vars.get(name).cloned()).unwrap();
        config.redis_prefix = format!("salonbot-test:{}:", uuid::Uuid::new_v4().simple());
        if let Some(retry) = self.outbox_retry {
            config.outbox_retry = retry;
        }
        spawn_with_config(config, db).await
    }
}

/// A running app and a client for it.
pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub store: Store,
    /// The app's "seen already" fast path (in process, or in Redis under `redis_prefix`).
    pub seen: SeenCache,
    pub redis_prefix: String,
    /// Keeps the test's database alive as long as the app.
    _db: TestDb,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// The serving task: it ends once requests and background work have stopped.
    serving: Option<JoinHandle<()>>,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    AppBuilder::new(backend).spawn().await
}

async fn spawn_with_config(config: Config, db: TestDb) -> TestApp {
    let redis_prefix = config.redis_prefix.clone();
    let app = App::build(config).await.expect("app builds");
    let store = app.state().store.clone();
    let seen = app.state().seen.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(async move {
        app.serve(listener, async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    });
    TestApp {
        addr,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        store,
        seen,
        redis_prefix,
        _db: db,
        shutdown: Some(tx),
        serving: Some(serving),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// POSTs a body signed as Meta would sign it.
    pub async fn post_whatsapp(&self, body: impl Into<Vec<u8>>) -> reqwest::Response {
        let body = body.into();
        let signature = sign_sha256_header(SECRET.as_bytes(), &body);
        self.client
            .post(self.url("/webhooks/whatsapp"))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// POSTs with whatever signature header the test wants (or none).
    pub async fn post_whatsapp_signed_as(
        &self,
        body: impl Into<Vec<u8>>,
        signature: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.url("/webhooks/whatsapp"))
            .header("content-type", "application/json")
            .body(body.into());
        if let Some(sig) = signature {
            req = req.header("x-hub-signature-256", sig);
        }
        req.send().await.unwrap()
    }

    /// The database this app runs on (to start another instance on it).
    pub fn database_url(&self) -> String {
        self._db.url.clone()
    }

    /// Stops serving and the background work, keeping the database; returns once the app's workers
    /// and dispatchers have finished (so that another instance on the database works alone).
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(serving) = self.serving.take() {
            tokio::time::timeout(Duration::from_secs(60), serving)
                .await
                .expect("the app stops within a minute")
                .expect("the app stops cleanly");
        }
    }

    /// Waits until the audit writer has stored at least `n` records.
    pub async fn audit_records(&self, n: usize) -> Vec<salonbot::store::StoredAudit> {
        wait_until(Duration::from_secs(10), "the audit records", || async {
            let records = self.store.recent_audit(1000).await.unwrap();
            (records.len() >= n).then_some(records)
        })
        .await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Polls `check` until it gives a value, and fails the test if it has given none after `limit`: for
/// what a test cannot be told directly (a background worker's progress). Never a fixed sleep.
pub async fn wait_until<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not reached within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A fixture from `tests/fixtures/whatsapp/`.
pub fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/whatsapp/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every fixture file name, in order.
pub fn fixture_names() -> Vec<String> {
    let dir = format!("{}/tests/fixtures/whatsapp", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// Gives every message and status of a notification a distinct id (`<id>.<suffix>.<n>`).
pub fn with_unique_ids(body: &str, suffix: &str) -> String {
    let mut value: Value = serde_json::from_str(body).unwrap();
    let mut n = 0;
    for entry in value["entry"].as_array_mut().unwrap() {
        for change in entry["changes"].as_array_mut().unwrap() {
            for list in ["messages", "statuses"] {
                if let Some(items) = change["value"].get_mut(list).and_then(Value::as_array_mut) {
                    for item in items {
                        let id = item["id"].as_str().unwrap().to_owned();
                        item["id"] = Value::String(format!("{id}.{suffix}.{n}"));
                        n += 1;
                    }
                }
            }
        }
    }
    serde_json::to_string(&value).unwrap()
}

/// The ids a notification's messages carry.
pub fn message_ids(body: &str) -> Vec<String> {
    let value: Value = serde_json::from_str(body).unwrap();
    let mut ids = Vec::new();
    for entry in value["entry"].as_array().unwrap() {
        for change in entry["changes"].as_array().unwrap() {
            if let Some(items) = change["value"]["messages"].as_array() {
                ids.extend(items.iter().map(|m| m["id"].as_str().unwrap().to_owned()));
            }
        }
    }
    ids
}

/// A text message notification from `phone` with id `wamid`.
pub fn text_message(wamid: &str, phone: &str, text: &str) -> String {
    serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                    "contacts": [{"profile": {"name": "Ana"}, "wa_id": phone}],
                    "messages": [{"from": phone, "id": wamid, "timestamp": "1749416383", "type": "text", "text": {"body": text}}]
                }
            }]
        }]
    })
    .to_string()
}

/// Runs the same async test body on both backends.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                super::$body($crate::helpers::Backend::Postgres).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                super::$body($crate::helpers::Backend::Sqlite).await;
            }
        }
    };
}

/// The product's inbox handler over `store`, running the shipped flow and catalog (no re-engagement
/// template, no deposits).
pub fn inbox_handler(
    store: &Store,
    metrics: &salonbot::telemetry::Metrics,
) -> salonbot::worker::inbox::InboxHandler {
    use std::sync::Arc;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let loaded = salonbot::engine::load_conversation_flow(
        &root.join("flows"),
        &root.join("templates"),
        &salonbot::whatsapp::messages::limits::UI_LIMITS,
    )
    .unwrap();
    let catalog = salonbot::booking::catalog::load(&root.join("salon.toml")).unwrap();
    let turns = salonbot::worker::turn::TurnRunner::new(
        store.clone(),
        Arc::new(loaded.flow),
        Arc::new(loaded.templates),
        Arc::new(catalog),
        salonbot::worker::turn::TurnSettings::default(),
        metrics.clone(),
    );
    salonbot::worker::inbox::InboxHandler::new(
        store.clone(),
        salonbot::worker::window::Window::new(store.clone(), None),
        Arc::new(turns),
        metrics.clone(),
    )
}
