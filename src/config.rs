//! Configuration from the environment (and a `.env` file, read by `main`).
//!
//! Every variable of the public contract (ARCHITECTURE.md, "Configuration") is parsed here and nowhere
//! else. Parsing is a pure function of a lookup closure so tests can build configurations without
//! touching the process environment. An invalid value stops start-up with one line naming the variable.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

/// A secret value: its `Debug` and `Display` never show the content, so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only where it is handed to a cryptographic check or a client.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// Why the configuration was refused: the variable and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

fn invalid(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        reason: reason.into(),
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// The storage backend, chosen by the scheme of `DATABASE_URL`.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(Secret),
    /// Path of the SQLite file (created with its folder when missing).
    Sqlite(PathBuf),
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // A Postgres URL may carry a password.
            DatabaseUrl::Postgres(_) => f.write_str("Postgres([redacted])"),
            DatabaseUrl::Sqlite(path) => write!(f, "Sqlite({})", path.display()),
        }
    }
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Ok(Self::Postgres(Secret::new(raw)))
        } else if let Some(rest) = raw.strip_prefix("sqlite://") {
            let path = rest.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(invalid("DATABASE_URL", "sqlite:// needs a file path"));
            }
            Ok(Self::Sqlite(PathBuf::from(path)))
        } else {
            Err(invalid(
                "DATABASE_URL",
                "expected postgres://... or sqlite://path",
            ))
        }
    }

    /// A name safe to print: the backend and, for SQLite, the file.
    pub fn describe(&self) -> String {
        match self {
            DatabaseUrl::Postgres(_) => "postgres".to_owned(),
            DatabaseUrl::Sqlite(path) => format!("sqlite ({})", path.display()),
        }
    }
}

/// WhatsApp Cloud API settings.
#[derive(Debug, Clone)]
pub struct WhatsAppConfig {
    pub verify_token: Option<Secret>,
    pub app_secret: Option<Secret>,
    pub access_token: Option<Secret>,
    pub phone_number_id: Option<String>,
    pub api_base: String,
    pub http_timeout: Duration,
    /// Template sent instead of a free-form message outside the customer's 24-hour window.
    pub reengagement: Option<Reengagement>,
    /// Messages the business number may send per second (0: no limit).
    pub send_per_second: u32,
    /// Least time between two messages to one customer.
    pub recipient_gap: Duration,
    /// Approved template for appointment reminders (body `{{1}}` service, `{{2}}` day, `{{3}}` time;
    /// quick replies "confirm" and "cancel"), in each customer's language. Unset: reminders go as
    /// ordinary messages, which wait for the customer outside the 24-hour window.
    pub reminder_template: Option<String>,
    /// `WHATSAPP_BUSINESS_ACCOUNT_ID`: lets `salonbot doctor` check that the named templates exist
    /// and are approved.
    pub business_account_id: Option<String>,
}

/// An approved template that invites the customer to write again (the free-form messages waiting
/// for them are sent once they do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reengagement {
    pub template: String,
    pub language: String,
}

/// Stripe settings (deposits). Deposits are taken only when `STRIPE_SECRET_KEY` is set; the webhook
/// route accepts events only when `STRIPE_WEBHOOK_SECRET` is.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// `STRIPE_SECRET_KEY`: the API key (`sk_live_…`, `sk_test_…`, or a restricted `rk_…`).
    pub secret_key: Option<Secret>,
    /// `STRIPE_WEBHOOK_SECRET`: the endpoint's signing secrets (`whsec_…`), several while one is
    /// rolled (comma-separated); an event signed by any of them is accepted.
    pub webhook_secrets: Vec<Secret>,
    /// `STRIPE_API_BASE`, without a trailing slash.
    pub api_base: String,
    /// `STRIPE_WEBHOOK_TOLERANCE_SECONDS`: the largest age of a signature's timestamp, and the
    /// largest skew into the future.
    pub webhook_tolerance: Duration,
    /// `STRIPE_SUCCESS_URL`: where Checkout sends a customer who paid; unset: back to the chat.
    pub success_url: Option<String>,
    /// `STRIPE_CANCEL_URL`: where Checkout sends a customer who gave up; unset: back to the chat.
    pub cancel_url: Option<String>,
}

impl StripeConfig {
    /// Whether deposits can be taken (an API key is configured).
    pub fn deposits(&self) -> bool {
        self.secret_key.is_some()
    }
}

/// Chatwoot settings (human mode); on only when base URL, token and account are all set.
#[derive(Debug, Clone)]
pub struct ChatwootConfig {
    /// `CHATWOOT_BASE_URL`, without a trailing slash.
    pub base_url: Option<String>,
    /// `CHATWOOT_API_TOKEN`: a user's access token in mirror mode (contacts and labels refuse bot
    /// tokens), the agent bot's token in channel mode.
    pub api_token: Option<Secret>,
    pub account_id: Option<String>,
    /// `CHATWOOT_INBOX_ID`: the API-channel inbox mirror mode writes to.
    pub inbox_id: Option<String>,
    pub webhook_secret: Option<Secret>,
    /// `CHATWOOT_MODE`.
    pub mode: ChatwootMode,
    /// `CHATWOOT_HUMAN_IDLE_HOURS`: after this long without an agent's message the bot takes over again.
    pub human_idle: Duration,
}

impl ChatwootConfig {
    /// Whether the bot talks to Chatwoot (base URL, token and account all set).
    pub fn enabled(&self) -> bool {
        self.base_url.is_some() && self.api_token.is_some() && self.account_id.is_some()
    }
}

/// How Chatwoot is used (`CHATWOOT_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatwootMode {
    /// The bot owns the WhatsApp number; every message is mirrored into an API-channel inbox.
    Mirror,
    /// Chatwoot owns the WhatsApp number and the bot is its agent bot.
    Channel,
}

impl ChatwootMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatwootMode::Mirror => "mirror",
            ChatwootMode::Channel => "channel",
        }
    }
}

/// The generic signed channel (`POST /webhooks/custom`, replies POSTed to `CUSTOM_REPLY_URL`), for
/// gateways other than Meta's. On only when `CUSTOM_WEBHOOK_SECRET` is set; the reply URL is then
/// required too, and the other way round (replies are signed with the secret).
#[derive(Debug, Clone, Default)]
pub struct CustomConfig {
    /// `CUSTOM_WEBHOOK_SECRET`: the HMAC-SHA256 key of `X-Signature`, both ways.
    pub webhook_secret: Option<Secret>,
    /// `CUSTOM_REPLY_URL`: where the bot POSTs its replies, exactly as given.
    pub reply_url: Option<String>,
}

impl CustomConfig {
    /// Whether the channel is on.
    pub fn enabled(&self) -> bool {
        self.webhook_secret.is_some()
    }
}

/// How the outbox tries a failed send again. Not read from the environment: these are the product's
/// values; tests shorten them to see a dead letter within seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxRetry {
    /// Attempts before a message is dead.
    pub max_attempts: i32,
    /// First retry delay; doubled per attempt, capped at `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for OutboxRetry {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(600),
        }
    }
}

/// Optional language model for free text.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    pub api_key: Option<Secret>,
    pub base_url: Option<String>,
    pub model: Option<String>,
    /// `OPENAI_TIMEOUT_MS`: how long a turn waits for the model before going on with the rules.
    pub timeout: Duration,
}

/// Request throttling per client address.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Failed authentications an address may make per minute before it is throttled.
    pub invalid_per_minute: u32,
    /// Optional limit on all requests of an address per minute.
    pub per_minute: Option<u32>,
}

impl RateLimitConfig {
    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }
}

/// The whole configuration of one process.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen_addr: SocketAddr,
    pub database_url: DatabaseUrl,
    pub redis_url: Option<Secret>,
    /// Prefix of every Redis key, so that several deployments (or tests) can share one Redis.
    pub redis_prefix: String,
    pub salon_config: PathBuf,
    pub flows_dir: PathBuf,
    /// `TEMPLATES_DIR`, when set; otherwise the message templates are read from the `templates`
    /// folder beside the flows folder ([`Config::templates_dir_for`]).
    pub templates_dir: Option<PathBuf>,
    pub whatsapp: WhatsAppConfig,
    pub stripe: StripeConfig,
    pub chatwoot: ChatwootConfig,
    pub custom: CustomConfig,
    pub openai: OpenAiConfig,
    /// Not from the environment (see [`OutboxRetry`]).
    pub outbox_retry: OutboxRetry,
    pub admin_token: Option<Secret>,
    pub webhook_max_body_bytes: usize,
    pub store_timeout: Duration,
    pub dedup_ttl: Duration,
    pub audit_retention_days: u32,
    /// `QUEUE_RETENTION_DAYS`: done inbox events and settled outbox messages older than this are
    /// removed (their inbox ids kept for dedup).
    pub queue_retention_days: u32,
    pub rate_limit: RateLimitConfig,
    pub log_format: Option<LogFormat>,
    /// `RUST_LOG`, or `LOG_LEVEL` when that is unset.
    pub log_filter: Option<String>,
}

const DEFAULT_DATABASE_URL: &str = "sqlite://data/salonbot.db";

impl Config {
    /// The salon's own business id, when the configuration names one: the WhatsApp business number
    /// (`WHATSAPP_PHONE_NUMBER_ID`), else in Chatwoot's channel mode the account
    /// (`chatwoot-<CHATWOOT_ACCOUNT_ID>`), which stands for the number Chatwoot owns. The salon's
    /// bookings of every channel are kept under it (one calendar per salon), walk-ins too.
    pub fn salon_business(&self) -> Option<String> {
        match (
            &self.whatsapp.phone_number_id,
            self.chatwoot.mode,
            &self.chatwoot.account_id,
        ) {
            (Some(number), ..) => Some(number.clone()),
            (None, ChatwootMode::Channel, Some(account)) => Some(format!("chatwoot-{account}")),
            (None, ..) => None,
        }
    }

    /// Where the message templates of the flows in `flows_dir` are read from: `TEMPLATES_DIR`, or
    /// else the `templates` folder beside `flows_dir` (`templates` for the default `flows`, the
    /// shipped set), where they have always been looked for.
    pub fn templates_dir_for(&self, flows_dir: &Path) -> PathBuf {
        match &self.templates_dir {
            Some(dir) => dir.clone(),
            None => flows_dir
                .parent()
                .unwrap_or(Path::new(""))
                .join("templates"),
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds a configuration from any source of variables; empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let secret = |name: &str| get(name).map(Secret::new);

        let listen_addr = match (get("LISTEN_ADDR"), get("PORT")) {
            (Some(addr), _) => addr
                .parse()
                .map_err(|_| invalid("LISTEN_ADDR", format!("expected host:port, got '{addr}'")))?,
            (None, Some(port)) => {
                let port: u16 = port.parse().map_err(|_| {
                    invalid("PORT", format!("expected a port number, got '{port}'"))
                })?;
                SocketAddr::from(([0, 0, 0, 0], port))
            }
            (None, None) => SocketAddr::from(([127, 0, 0, 1], 8080)),
        };

        let database_url = DatabaseUrl::parse(
            &get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
        )?;

        let redis_url = match get("REDIS_URL") {
            Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
                Some(Secret::new(url))
            }
            Some(_) => return Err(invalid("REDIS_URL", "expected redis://...")),
            None => None,
        };

        let whatsapp = WhatsAppConfig {
            verify_token: secret("WHATSAPP_VERIFY_TOKEN"),
            app_secret: secret("WHATSAPP_APP_SECRET").or_else(|| secret("WHATSAPP_WEBHOOK_SECRET")),
            access_token: secret("WHATSAPP_ACCESS_TOKEN"),
            phone_number_id: get("WHATSAPP_PHONE_NUMBER_ID"),
            api_base: http_url(
                "WHATSAPP_API_BASE",
                get("WHATSAPP_API_BASE").or_else(|| get("WHATSAPP_API_URL")),
                "https://graph.facebook.com/v21.0",
            )?,
            http_timeout: Duration::from_secs(number(
                "WHATSAPP_HTTP_TIMEOUT_SECONDS",
                get("WHATSAPP_HTTP_TIMEOUT_SECONDS"),
                30,
            )?),
            send_per_second: number(
                "WHATSAPP_SEND_PER_SECOND",
                get("WHATSAPP_SEND_PER_SECOND"),
                80,
            )?,
            recipient_gap: Duration::from_millis(number(
                "WHATSAPP_RECIPIENT_GAP_MS",
                get("WHATSAPP_RECIPIENT_GAP_MS"),
                1000,
            )?),
            reminder_template: get("WHATSAPP_REMINDER_TEMPLATE"),
            business_account_id: get("WHATSAPP_BUSINESS_ACCOUNT_ID"),
            reengagement: get("WHATSAPP_REENGAGEMENT_TEMPLATE").map(|template| Reengagement {
                template,
                language: get("WHATSAPP_REENGAGEMENT_LANGUAGE").unwrap_or_else(|| "es".into()),
            }),
        };
        if whatsapp.access_token.is_some() && whatsapp.phone_number_id.is_none() {
            return Err(invalid(
                "WHATSAPP_PHONE_NUMBER_ID",
                "required when WHATSAPP_ACCESS_TOKEN is set",
            ));
        }

        let stripe = StripeConfig {
            secret_key: secret("STRIPE_SECRET_KEY"),
            webhook_secrets: get("STRIPE_WEBHOOK_SECRET")
                .map(|list| {
                    list.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(Secret::new)
                        .collect()
                })
                .unwrap_or_default(),
            api_base: http_url(
                "STRIPE_API_BASE",
                get("STRIPE_API_BASE"),
                "https://api.stripe.com",
            )?,
            webhook_tolerance: Duration::from_secs(positive(
                "STRIPE_WEBHOOK_TOLERANCE_SECONDS",
                get("STRIPE_WEBHOOK_TOLERANCE_SECONDS"),
                300,
            )?),
            success_url: match get("STRIPE_SUCCESS_URL") {
                Some(url) => Some(http_url("STRIPE_SUCCESS_URL", Some(url), "")?),
                None => None,
            },
            cancel_url: match get("STRIPE_CANCEL_URL") {
                Some(url) => Some(http_url("STRIPE_CANCEL_URL", Some(url), "")?),
                None => None,
            },
        };

        let chatwoot = ChatwootConfig {
            base_url: match get("CHATWOOT_BASE_URL") {
                Some(url) => Some(http_url("CHATWOOT_BASE_URL", Some(url), "")?),
                None => None,
            },
            api_token: secret("CHATWOOT_API_TOKEN"),
            account_id: get("CHATWOOT_ACCOUNT_ID"),
            inbox_id: get("CHATWOOT_INBOX_ID"),
            webhook_secret: secret("CHATWOOT_WEBHOOK_SECRET"),
            mode: match get("CHATWOOT_MODE").as_deref() {
                None | Some("mirror") => ChatwootMode::Mirror,
                Some("channel") => ChatwootMode::Channel,
                Some(other) => {
                    return Err(invalid(
                        "CHATWOOT_MODE",
                        format!("expected mirror or channel, got '{other}'"),
                    ));
                }
            },
            human_idle: Duration::from_secs(
                3600 * positive::<u64>(
                    "CHATWOOT_HUMAN_IDLE_HOURS",
                    get("CHATWOOT_HUMAN_IDLE_HOURS"),
                    12,
                )?,
            ),
        };

        let custom = CustomConfig {
            webhook_secret: secret("CUSTOM_WEBHOOK_SECRET"),
            reply_url: match get("CUSTOM_REPLY_URL") {
                Some(url) => Some(reply_url("CUSTOM_REPLY_URL", url)?),
                None => None,
            },
        };
        match (&custom.webhook_secret, &custom.reply_url) {
            (Some(_), None) => {
                return Err(invalid(
                    "CUSTOM_REPLY_URL",
                    "required when CUSTOM_WEBHOOK_SECRET is set (where replies go)",
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "CUSTOM_WEBHOOK_SECRET",
                    "required when CUSTOM_REPLY_URL is set (replies are signed with it)",
                ));
            }
            _ => {}
        }

        let openai = OpenAiConfig {
            api_key: secret("OPENAI_API_KEY"),
            base_url: match get("OPENAI_BASE_URL") {
                Some(url) => Some(http_url("OPENAI_BASE_URL", Some(url), "")?),
                None => None,
            },
            model: get("OPENAI_MODEL"),
            timeout: Duration::from_millis(positive(
                "OPENAI_TIMEOUT_MS",
                get("OPENAI_TIMEOUT_MS"),
                3000,
            )?),
        };

        let trusted_proxies = match get("TRUSTED_PROXIES") {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|item| {
                    item.parse::<IpNet>()
                        .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                        .map_err(|_| {
                            invalid(
                                "TRUSTED_PROXIES",
                                format!("'{item}' is not an address or CIDR range"),
                            )
                        })
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };

        let log_format = match get("LOG_FORMAT").map(|v| v.to_ascii_lowercase()) {
            Some(v) if v == "json" => Some(LogFormat::Json),
            Some(v) if v == "pretty" => Some(LogFormat::Pretty),
            Some(v) => {
                return Err(invalid(
                    "LOG_FORMAT",
                    format!("expected json or pretty, got '{v}'"),
                ));
            }
            None => None,
        };

        Ok(Config {
            listen_addr,
            database_url,
            redis_url,
            redis_prefix: "salonbot:".to_owned(),
            salon_config: get("SALON_CONFIG")
                .unwrap_or_else(|| "salon.toml".into())
                .into(),
            flows_dir: get("FLOWS_DIR").unwrap_or_else(|| "flows".into()).into(),
            templates_dir: get("TEMPLATES_DIR").map(PathBuf::from),
            whatsapp,
            stripe,
            chatwoot,
            custom,
            openai,
            outbox_retry: OutboxRetry::default(),
            admin_token: secret("ADMIN_TOKEN"),
            webhook_max_body_bytes: number(
                "WEBHOOK_MAX_BODY_BYTES",
                get("WEBHOOK_MAX_BODY_BYTES"),
                4 * 1024 * 1024,
            )?,
            store_timeout: Duration::from_millis(positive(
                "STORE_TIMEOUT_MS",
                get("STORE_TIMEOUT_MS"),
                3000,
            )?),
            dedup_ttl: Duration::from_secs(positive(
                "DEDUP_TTL_SECONDS",
                get("DEDUP_TTL_SECONDS"),
                86_400,
            )?),
            audit_retention_days: positive(
                "AUDIT_RETENTION_DAYS",
                get("AUDIT_RETENTION_DAYS"),
                30,
            )?,
            queue_retention_days: positive(
                "QUEUE_RETENTION_DAYS",
                get("QUEUE_RETENTION_DAYS"),
                30,
            )?,
            rate_limit: RateLimitConfig {
                trusted_proxies,
                invalid_per_minute: number(
                    "RATE_LIMIT_INVALID_PER_MINUTE",
                    get("RATE_LIMIT_INVALID_PER_MINUTE"),
                    30,
                )?,
                per_minute: match get("RATE_LIMIT_PER_MINUTE") {
                    Some(v) => Some(positive("RATE_LIMIT_PER_MINUTE", Some(v), 0)?),
                    None => None,
                },
            },
            log_format,
            log_filter: log_filter(get("RUST_LOG"), get("LOG_LEVEL"))?,
        })
    }

    /// One line per integration saying whether it is on, for the start-up banner.
    pub fn integrations(&self) -> Vec<(&'static str, &'static str)> {
        let on = |b: bool, yes: &'static str, no: &'static str| if b { yes } else { no };
        vec![
            (
                "whatsapp webhooks",
                on(
                    self.whatsapp.app_secret.is_some(),
                    "on",
                    "off (WHATSAPP_APP_SECRET unset: 503 not_configured)",
                ),
            ),
            (
                "whatsapp sending",
                on(
                    self.whatsapp.access_token.is_some(),
                    "on",
                    "sandbox (replies recorded, not sent)",
                ),
            ),
            (
                "redis",
                on(
                    self.redis_url.is_some(),
                    "on",
                    "off (in-process dedup and limits)",
                ),
            ),
            (
                "stripe deposits",
                on(
                    self.stripe.deposits(),
                    "on",
                    "off (STRIPE_SECRET_KEY unset: services with a deposit are booked without one)",
                ),
            ),
            (
                "stripe webhooks",
                on(
                    !self.stripe.webhook_secrets.is_empty(),
                    "on",
                    "off (STRIPE_WEBHOOK_SECRET unset: 503 not_configured)",
                ),
            ),
            (
                "chatwoot",
                on(
                    self.chatwoot.enabled(),
                    match self.chatwoot.mode {
                        ChatwootMode::Mirror => "on (mirror)",
                        ChatwootMode::Channel => "on (channel)",
                    },
                    "off",
                ),
            ),
            (
                "custom channel",
                on(
                    self.custom.enabled(),
                    "on",
                    "off (CUSTOM_WEBHOOK_SECRET unset: 503 not_configured)",
                ),
            ),
            (
                "language model",
                on(self.openai.api_key.is_some(), "on", "off (rules only)"),
            ),
            (
                "admin",
                on(self.admin_token.is_some(), "on", "off (ADMIN_TOKEN unset)"),
            ),
        ]
    }
}

/// `RUST_LOG`, else `LOG_LEVEL` (such as `INFO`), checked so that a typo stops start-up.
fn log_filter(
    rust_log: Option<String>,
    level: Option<String>,
) -> Result<Option<String>, ConfigError> {
    let (var, filter) = match (rust_log, level) {
        (Some(f), _) => ("RUST_LOG", f),
        (None, Some(l)) => {
            let level = l.to_ascii_lowercase();
            if !["trace", "debug", "info", "warn", "error", "off"].contains(&level.as_str()) {
                return Err(invalid(
                    "LOG_LEVEL",
                    format!("expected trace, debug, info, warn, error or off, got '{l}'"),
                ));
            }
            ("LOG_LEVEL", level)
        }
        (None, None) => return Ok(None),
    };
    tracing_subscriber::EnvFilter::builder()
        .parse(&filter)
        .map_err(|e| invalid(var, format!("not a log filter: {e}")))?;
    Ok(Some(filter))
}

fn number<T: std::str::FromStr>(
    var: &'static str,
    raw: Option<String>,
    default: T,
) -> Result<T, ConfigError> {
    match raw {
        Some(v) => v
            .parse()
            .map_err(|_| invalid(var, format!("expected a whole number, got '{v}'"))),
        None => Ok(default),
    }
}

fn positive<T: std::str::FromStr + PartialOrd + Default>(
    var: &'static str,
    raw: Option<String>,
    default: T,
) -> Result<T, ConfigError> {
    let value = number(var, raw, default)?;
    if value <= T::default() {
        return Err(invalid(var, "must be greater than zero"));
    }
    Ok(value)
}

fn http_url(var: &'static str, raw: Option<String>, default: &str) -> Result<String, ConfigError> {
    let url = raw.unwrap_or_else(|| default.to_owned());
    match reqwest::Url::parse(&url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {
            Ok(url.trim_end_matches('/').to_owned())
        }
        _ => Err(invalid(
            var,
            format!("expected an http(s) URL, got '{url}'"),
        )),
    }
}

/// A URL the bot POSTs to, kept exactly as given (a trailing slash may matter to the receiver).
fn reply_url(var: &'static str, url: String) -> Result<String, ConfigError> {
    match reqwest::Url::parse(&url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(url),
        _ => Err(invalid(
            var,
            format!("expected an http(s) URL, got '{url}'"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_run_on_the_embedded_store() {
        let c = config(&[]).unwrap();
        assert_eq!(c.listen_addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(
            c.database_url,
            DatabaseUrl::Sqlite(PathBuf::from("data/salonbot.db"))
        );
        assert!(c.redis_url.is_none());
        assert_eq!(c.webhook_max_body_bytes, 4 * 1024 * 1024);
        assert_eq!(c.store_timeout, Duration::from_millis(3000));
        assert_eq!(c.rate_limit.invalid_per_minute, 30);
        assert_eq!(c.rate_limit.per_minute, None);
        assert_eq!(c.whatsapp.api_base, "https://graph.facebook.com/v21.0");
    }

    #[test]
    fn templates_sit_next_to_the_flows_directory_unless_templates_dir_says() {
        let c = config(&[]).unwrap();
        assert_eq!(
            c.templates_dir_for(Path::new("flows")),
            Path::new("templates")
        );
        assert_eq!(
            c.templates_dir_for(Path::new("/srv/bot/flows")),
            Path::new("/srv/bot/templates")
        );
        let c = config(&[("TEMPLATES_DIR", "/etc/salonbot/messages")]).unwrap();
        assert_eq!(
            c.templates_dir_for(&c.flows_dir),
            Path::new("/etc/salonbot/messages")
        );
    }

    #[test]
    fn port_alone_listens_on_all_interfaces() {
        let c = config(&[("PORT", "9000")]).unwrap();
        assert_eq!(c.listen_addr, "0.0.0.0:9000".parse().unwrap());
        let c = config(&[("PORT", "9000"), ("LISTEN_ADDR", "127.0.0.1:7000")]).unwrap();
        assert_eq!(c.listen_addr, "127.0.0.1:7000".parse().unwrap());
    }

    #[test]
    fn invalid_values_name_their_variable() {
        let cases = [
            ("WEBHOOK_MAX_BODY_BYTES", "lots"),
            ("STORE_TIMEOUT_MS", "0"),
            ("DATABASE_URL", "mysql://x"),
            ("REDIS_URL", "localhost:6379"),
            ("TRUSTED_PROXIES", "10.0.0.0/8,not-an-ip"),
            ("LOG_FORMAT", "xml"),
            ("LISTEN_ADDR", "8080"),
            ("WHATSAPP_API_BASE", "ftp://x"),
            ("STRIPE_WEBHOOK_TOLERANCE_SECONDS", "0"),
            ("STRIPE_SUCCESS_URL", "wa.me/34600000000"),
            ("STRIPE_CANCEL_URL", "javascript:alert(1)"),
            ("RUST_LOG", "info,[[["),
            ("LOG_LEVEL", "loud"),
        ];
        for (var, value) in cases {
            let err = config(&[(var, value)]).unwrap_err();
            assert_eq!(err.var, var, "{var}={value}");
            assert!(
                err.to_string()
                    .starts_with(&format!("invalid configuration: {var}:"))
            );
        }
    }

    #[test]
    fn older_variable_names_are_accepted() {
        let c = config(&[
            ("WHATSAPP_WEBHOOK_SECRET", "s3cret"),
            ("WHATSAPP_API_URL", "http://127.0.0.1:1/v1/"),
            ("LOG_LEVEL", "INFO"),
        ])
        .unwrap();
        assert_eq!(c.whatsapp.app_secret.unwrap().expose(), "s3cret");
        assert_eq!(c.whatsapp.api_base, "http://127.0.0.1:1/v1");
        assert_eq!(c.log_filter.as_deref(), Some("info"));
    }

    #[test]
    fn chatwoot_mode_and_idle_hours_are_checked() {
        let c = config(&[]).unwrap();
        assert_eq!(c.chatwoot.mode, ChatwootMode::Mirror);
        assert_eq!(c.chatwoot.human_idle, Duration::from_secs(12 * 3600));
        assert!(!c.chatwoot.enabled());
        let c = config(&[
            ("CHATWOOT_MODE", "channel"),
            ("CHATWOOT_HUMAN_IDLE_HOURS", "2"),
            ("CHATWOOT_BASE_URL", "https://chatwoot.example.com/"),
            ("CHATWOOT_API_TOKEN", "tok"),
            ("CHATWOOT_ACCOUNT_ID", "1"),
        ])
        .unwrap();
        assert_eq!(c.chatwoot.mode, ChatwootMode::Channel);
        assert_eq!(c.chatwoot.human_idle, Duration::from_secs(2 * 3600));
        assert!(c.chatwoot.enabled());
        let err = config(&[("CHATWOOT_MODE", "inbox")]).unwrap_err();
        assert_eq!(err.var, "CHATWOOT_MODE");
        let err = config(&[("CHATWOOT_HUMAN_IDLE_HOURS", "0")]).unwrap_err();
        assert_eq!(err.var, "CHATWOOT_HUMAN_IDLE_HOURS");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let c = config(&[
            ("WHATSAPP_APP_SECRET", "topsecret-app"),
            ("DATABASE_URL", "postgres://user:hunter2@db/x"),
            ("REDIS_URL", "redis://:pw-redis@r:6379"),
            ("ADMIN_TOKEN", "admintoken123"),
            ("STRIPE_SECRET_KEY", "sk_test_leak"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_leak"),
            ("CUSTOM_WEBHOOK_SECRET", "custom_leak"),
            ("CUSTOM_REPLY_URL", "https://gateway.example/replies"),
        ])
        .unwrap();
        let debug = format!("{c:?}");
        for leaked in [
            "topsecret-app",
            "hunter2",
            "pw-redis",
            "admintoken123",
            "sk_test_leak",
            "whsec_leak",
            "custom_leak",
        ] {
            assert!(!debug.contains(leaked), "{leaked} leaked in {debug}");
        }
    }

    #[test]
    fn stripe_takes_several_webhook_secrets_while_one_is_rolled() {
        let c = config(&[]).unwrap();
        assert!(!c.stripe.deposits() && c.stripe.webhook_secrets.is_empty());
        assert_eq!(c.stripe.api_base, "https://api.stripe.com");
        assert_eq!(c.stripe.webhook_tolerance, Duration::from_secs(300));
        let c = config(&[
            ("STRIPE_SECRET_KEY", "sk_test_1"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_new, whsec_old,"),
            ("STRIPE_WEBHOOK_TOLERANCE_SECONDS", "60"),
            ("STRIPE_SUCCESS_URL", "https://salon.example/paid/"),
        ])
        .unwrap();
        assert!(c.stripe.deposits());
        let secrets: Vec<&str> = c
            .stripe
            .webhook_secrets
            .iter()
            .map(Secret::expose)
            .collect();
        assert_eq!(secrets, ["whsec_new", "whsec_old"]);
        assert_eq!(c.stripe.webhook_tolerance, Duration::from_secs(60));
        assert_eq!(
            c.stripe.success_url.as_deref(),
            Some("https://salon.example/paid")
        );
        assert_eq!(c.stripe.cancel_url, None);
    }

    #[test]
    fn the_custom_channel_needs_its_secret_and_its_reply_url_together() {
        let c = config(&[]).unwrap();
        assert!(!c.custom.enabled());
        let c = config(&[
            ("CUSTOM_WEBHOOK_SECRET", "s"),
            ("CUSTOM_REPLY_URL", "https://gateway.example/replies/"),
        ])
        .unwrap();
        assert!(c.custom.enabled());
        assert_eq!(
            c.custom.reply_url.as_deref(),
            Some("https://gateway.example/replies/"),
            "kept exactly as given"
        );
        let err = config(&[("CUSTOM_WEBHOOK_SECRET", "s")]).unwrap_err();
        assert_eq!(err.var, "CUSTOM_REPLY_URL");
        let err = config(&[("CUSTOM_REPLY_URL", "https://gateway.example/r")]).unwrap_err();
        assert_eq!(err.var, "CUSTOM_WEBHOOK_SECRET");
        let err = config(&[
            ("CUSTOM_WEBHOOK_SECRET", "s"),
            ("CUSTOM_REPLY_URL", "gateway.example/r"),
        ])
        .unwrap_err();
        assert_eq!(err.var, "CUSTOM_REPLY_URL");
    }

    #[test]
    fn trusted_proxies_accept_addresses_and_ranges() {
        let c = config(&[("TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.7")]).unwrap();
        assert!(c.rate_limit.is_trusted_proxy("10.1.2.3".parse().unwrap()));
        assert!(
            c.rate_limit
                .is_trusted_proxy("192.168.1.7".parse().unwrap())
        );
        assert!(
            !c.rate_limit
                .is_trusted_proxy("192.168.1.8".parse().unwrap())
        );
    }
}
