//! `salonbot doctor`: checks a deployment from the operator's side, one line per check, and says what
//! to do about each problem. The configuration and the salon's files; the database (reachable,
//! migrated, `btree_gist` on Postgres, upcoming bookings outside the salon's calendar); Redis;
//! WhatsApp (the secrets set, the token valid for the number, the named templates approved, and
//! with `--public-url` the webhook handshake as Meta will call it); Stripe (the key works, in test
//! or live mode, and the webhook's signing secret is set); Chatwoot when it is configured (the
//! webhook secret set, the token working and the inbox there).
//! Every remote check has a short timeout and names the URL it called; no secret is printed.
//! Exit 0 only when nothing failed.

use std::fmt;
use std::time::Duration;

use crate::cache::Redis;
use crate::chatwoot::{ChatwootApi, ChatwootError};
use crate::config::{ChatwootMode, Config};
use crate::store::{Store, StoreError, StoreOptions};
use crate::stripe::StripeError;
use crate::stripe::client::StripeClient;
use crate::telemetry::Metrics;
use crate::whatsapp::client::{RetryBudget, WhatsAppClient};
use crate::whatsapp::error::SendError;
use crate::worker::pipeline::Setup;

/// What `doctor` was asked for.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// The bot's public base URL (`https://bot.example.com`): checks the webhook handshake from outside.
    pub public_url: Option<String>,
    /// How long one remote check may take.
    pub timeout: Duration,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    /// Works, but something is off or could not be checked.
    Warn,
    Fail,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub level: Level,
    pub name: &'static str,
    pub detail: String,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Ok => "ok  ",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        };
        write!(f, "{level}  {}: {}", self.name, self.detail)
    }
}

fn check(level: Level, name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        level,
        name,
        detail: detail.into(),
    }
}

/// Runs every check, in order.
pub async fn run(config: &Config, options: &DoctorOptions) -> Vec<Check> {
    let mut report = vec![check(
        Level::Ok,
        "configuration",
        "the environment is valid",
    )];
    report.push(match Setup::load(config) {
        Ok(setup) => check(
            Level::Ok,
            "salon",
            format!(
                "{} ({}), flow {} v{}, templates in {}",
                setup.catalog.salon().name,
                config.salon_config.display(),
                setup.flow.name,
                setup.flow.version,
                config.templates_dir_for(&config.flows_dir).display()
            ),
        ),
        Err(err) => check(
            Level::Fail,
            "salon",
            format!("{err}; fix the file named (`salonbot config check` shows the same)"),
        ),
    });
    report.extend(database(config).await);
    report.extend(redis(config).await);
    report.extend(whatsapp(config, options).await);
    report.extend(stripe(config, options.timeout).await);
    report.extend(chatwoot(config, options).await);
    report
}

/// Chatwoot, when any of it is configured: the settings complete, the webhook secret set, and (in
/// mirror mode, where the token is a user's) the token working for the account's inbox.
async fn chatwoot(config: &Config, options: &DoctorOptions) -> Vec<Check> {
    let c = &config.chatwoot;
    let name = "chatwoot";
    if !c.enabled() {
        if c.base_url.is_some() || c.api_token.is_some() || c.account_id.is_some() {
            return vec![check(
                Level::Fail,
                name,
                "CHATWOOT_BASE_URL, CHATWOOT_API_TOKEN and CHATWOOT_ACCOUNT_ID must all be set for human mode through Chatwoot",
            )];
        }
        return Vec::new();
    }
    let mut checks = vec![match &c.webhook_secret {
        Some(_) => check(
            Level::Ok,
            "chatwoot webhook",
            "CHATWOOT_WEBHOOK_SECRET is set",
        ),
        None => check(
            Level::Fail,
            "chatwoot webhook",
            "CHATWOOT_WEBHOOK_SECRET unset: Chatwoot's webhooks are refused (503 not_configured); copy the webhook's (or agent bot's, or API inbox's) secret from Chatwoot",
        ),
    }];
    let (Some(base), Some(token), Some(account)) = (&c.base_url, &c.api_token, &c.account_id)
    else {
        return checks;
    };
    if c.mode == ChatwootMode::Channel {
        checks.push(check(
            Level::Ok,
            name,
            format!("channel mode at {base}, account {account}: the agent bot's token is used by the calls Chatwoot lets bots make"),
        ));
        return checks;
    }
    let Some(inbox) = c.inbox_id.as_deref() else {
        checks.push(check(
            Level::Fail,
            name,
            "CHATWOOT_INBOX_ID unset: mirror mode writes to an API-channel inbox; create one (Settings, Inboxes, API) and set its id",
        ));
        return checks;
    };
    let url = format!("{base}/api/v1/accounts/{account}/inboxes/{inbox}");
    let api = ChatwootApi::new(
        base,
        account,
        inbox.parse().ok(),
        token.clone(),
        c.mode,
        options.timeout,
        Metrics::new(),
    );
    let result = match api {
        Ok(api) => api.get_inbox().await,
        Err(err) => Err(ChatwootError::Network(err.to_string())),
    };
    checks.push(match result {
        Ok(found) => check(
            Level::Ok,
            name,
            format!(
                "the token works and inbox {inbox} exists: {} ({}) ({url})",
                found["name"].as_str().unwrap_or("?"),
                found["channel_type"].as_str().unwrap_or("?"),
            ),
        ),
        Err(ChatwootError::NotConfigured(var)) => check(
            Level::Fail,
            name,
            format!("{var} is not a number ({url})"),
        ),
        Err(err @ ChatwootError::Unauthorized(_)) => check(
            Level::Fail,
            name,
            format!(
                "{err}: set CHATWOOT_API_TOKEN to a user's access token (Profile settings, Access Token); an agent bot's token cannot read inboxes, contacts or labels ({url})"
            ),
        ),
        Err(err @ ChatwootError::NotFound { .. }) => check(
            Level::Fail,
            name,
            format!(
                "{err}: no inbox {inbox} in account {account}; check CHATWOOT_INBOX_ID and CHATWOOT_ACCOUNT_ID ({url})"
            ),
        ),
        Err(err) => check(
            Level::Fail,
            name,
            format!("{err}: Chatwoot did not answer as expected ({url})"),
        ),
    });
    checks
}

async fn database(config: &Config) -> Vec<Check> {
    let name = "database";
    let url = config.database_url.describe();
    let options = StoreOptions {
        create: false,
        ..StoreOptions::default()
    };
    let store = match Store::connect(&config.database_url, &options).await {
        Ok(store) => store,
        Err(StoreError::Missing(path)) => {
            return vec![check(
                Level::Fail,
                name,
                format!("no database at {path}: run `salonbot migrate`, or set DATABASE_URL"),
            )];
        }
        Err(err) => return vec![check(Level::Fail, name, format!("{url}: {err}"))],
    };
    if let Err(err) = store.ping().await {
        return vec![check(
            Level::Fail,
            name,
            format!("{url} does not answer: {err}"),
        )];
    }
    let mut checks = vec![match store.pending_migrations().await {
        Ok(pending) if pending.is_empty() => {
            check(Level::Ok, name, format!("{url} answers and is migrated"))
        }
        Ok(pending) => check(
            Level::Warn,
            name,
            format!(
                "{url} answers but lacks {} migration(s) (from {:04}): `salonbot serve` applies them at start, or run `salonbot migrate`",
                pending.len(),
                pending[0]
            ),
        ),
        Err(err) => check(Level::Fail, name, format!("{url}: {err}")),
    }];
    if let Store::Postgres(pg) = &store {
        let name = "btree_gist";
        checks.push(match pg.extension(name).await {
            Ok((true, _)) => check(Level::Ok, name, "installed (no double booking)"),
            Ok((false, true)) => check(
                Level::Warn,
                name,
                "available, not installed yet: `salonbot migrate` creates it",
            ),
            Ok((false, false)) => check(
                Level::Fail,
                name,
                "not available on this server: install PostgreSQL's contrib package",
            ),
            Err(err) => check(Level::Fail, name, err.to_string()),
        });
    }
    if let Some(calendar) = config.salon_business() {
        let name = "calendar";
        let outside = store
            .upcoming_outside(&calendar, crate::chat::BUSINESS_ID, chrono::Utc::now())
            .await;
        checks.push(match outside {
            Ok(0) => check(
                Level::Ok,
                name,
                format!("every channel books in the salon's calendar ({calendar})"),
            ),
            Ok(n) => check(
                Level::Warn,
                name,
                format!(
                    "{n} upcoming booking(s) were made outside the salon's calendar ({calendar}), before every channel shared it: nothing keeps them apart from the others; look at them in the day view"
                ),
            ),
            Err(err) => check(Level::Fail, name, err.to_string()),
        });
    }
    checks
}

async fn redis(config: &Config) -> Vec<Check> {
    let Some(url) = &config.redis_url else {
        return vec![check(
            Level::Ok,
            "redis",
            "not configured: dedup, limits and pacing in process (one instance)",
        )];
    };
    match Redis::new(url, &config.redis_prefix, Metrics::new()) {
        Ok(redis) if redis.ping().await => vec![check(Level::Ok, "redis", "answers")],
        Ok(_) => vec![check(
            Level::Fail,
            "redis",
            "does not answer (REDIS_URL): the bot carries on degraded, per instance",
        )],
        Err(err) => vec![check(Level::Fail, "redis", err.to_string())],
    }
}

async fn whatsapp(config: &Config, options: &DoctorOptions) -> Vec<Check> {
    let w = &config.whatsapp;
    let mut checks = Vec::new();
    checks.push(match (&w.app_secret, &w.verify_token) {
        (Some(_), Some(_)) => check(
            Level::Ok,
            "whatsapp webhook",
            "WHATSAPP_APP_SECRET and WHATSAPP_VERIFY_TOKEN are set",
        ),
        (secret, token) => {
            let missing: Vec<&str> = [
                secret.is_none().then_some("WHATSAPP_APP_SECRET"),
                token.is_none().then_some("WHATSAPP_VERIFY_TOKEN"),
            ]
            .into_iter()
            .flatten()
            .collect();
            check(
                Level::Fail,
                "whatsapp webhook",
                format!(
                    "{} unset: Meta's webhooks are refused (503 not_configured); copy them from the app's WhatsApp settings",
                    missing.join(" and ")
                ),
            )
        }
    });
    let client = match (&w.access_token, &w.phone_number_id) {
        (Some(token), Some(number)) => WhatsAppClient::new(
            &w.api_base,
            number,
            token.clone(),
            options.timeout,
            RetryBudget {
                initial: Duration::from_millis(1),
                max_interval: Duration::from_millis(1),
                max_elapsed: Duration::ZERO,
            },
            Metrics::new(),
        )
        .ok(),
        _ => None,
    };
    match &client {
        None => checks.push(check(
            Level::Warn,
            "whatsapp sending",
            "WHATSAPP_ACCESS_TOKEN or WHATSAPP_PHONE_NUMBER_ID unset: the sandbox, replies are recorded, not sent",
        )),
        Some(client) => {
            let url = client.phone_number_url();
            checks.push(match client.phone_number().await {
                Ok(info) => check(
                    Level::Ok,
                    "whatsapp sending",
                    format!(
                        "the token works for {} ({}), quality {}, limit {} ({url})",
                        info.display_phone_number.as_deref().unwrap_or("?"),
                        info.verified_name.as_deref().unwrap_or("no verified name"),
                        info.quality_rating.as_deref().unwrap_or("unknown"),
                        info.messaging_limit_tier.as_deref().unwrap_or("unknown"),
                    ),
                ),
                Err(err) => check(
                    Level::Fail,
                    "whatsapp sending",
                    format!("{} ({url})", what_to_do(&err)),
                ),
            });
        }
    }
    checks.extend(templates(config, client.as_ref()).await);
    if let Some(public) = &options.public_url {
        checks.push(handshake(config, public, options.timeout).await);
    }
    checks
}

/// What a Graph API failure means for the operator.
fn what_to_do(err: &SendError) -> String {
    match err {
        SendError::TokenInvalid { .. } => format!(
            "{err}: make a new token (a system user's token does not expire) and set WHATSAPP_ACCESS_TOKEN"
        ),
        SendError::Transient { .. } => {
            format!("{err}: the Graph API did not answer in time or failed")
        }
        err => format!("{err}: check WHATSAPP_PHONE_NUMBER_ID and the token's permissions"),
    }
}

/// The templates the configuration names exist and are approved.
async fn templates(config: &Config, client: Option<&WhatsAppClient>) -> Vec<Check> {
    let w = &config.whatsapp;
    let named: Vec<(&str, Option<&str>)> = [
        w.reminder_template.as_deref().map(|t| (t, None)),
        w.reengagement
            .as_ref()
            .map(|r| (r.template.as_str(), Some(r.language.as_str()))),
    ]
    .into_iter()
    .flatten()
    .collect();
    if named.is_empty() {
        return Vec::new();
    }
    let (Some(client), Some(account)) = (client, w.business_account_id.as_deref()) else {
        return vec![check(
            Level::Warn,
            "whatsapp templates",
            "not checked: set WHATSAPP_BUSINESS_ACCOUNT_ID (and a token) to check the named templates",
        )];
    };
    let mut checks = Vec::new();
    for (name, language) in named {
        let url = client.templates_url(account, name);
        let found = client.templates(account, name).await;
        checks.push(match found {
            Err(err) => check(
                Level::Fail,
                "whatsapp templates",
                format!("{name}: {} ({url})", what_to_do(&err)),
            ),
            Ok(found) => {
                let approved: Vec<&str> = found
                    .iter()
                    .filter(|t| t.status == "APPROVED")
                    .filter_map(|t| t.language.as_deref())
                    .collect();
                let in_language = language.is_none_or(|l| approved.contains(&l));
                if !approved.is_empty() && in_language {
                    check(
                        Level::Ok,
                        "whatsapp templates",
                        format!("{name} approved in {}", approved.join(", ")),
                    )
                } else if found.is_empty() {
                    check(
                        Level::Fail,
                        "whatsapp templates",
                        format!("{name} does not exist in the account: create it in WhatsApp Manager ({url})"),
                    )
                } else {
                    let states: Vec<String> = found
                        .iter()
                        .map(|t| format!("{} {}", t.language.as_deref().unwrap_or("?"), t.status))
                        .collect();
                    check(
                        Level::Fail,
                        "whatsapp templates",
                        format!(
                            "{name} is not approved{}: {}",
                            language.map(|l| format!(" in {l}")).unwrap_or_default(),
                            states.join(", ")
                        ),
                    )
                }
            }
        });
    }
    checks
}

/// Meta's handshake against the public URL, as Meta will call it.
async fn handshake(config: &Config, public: &str, timeout: Duration) -> Check {
    let name = "webhook handshake";
    let Some(token) = &config.whatsapp.verify_token else {
        return check(
            Level::Fail,
            name,
            "WHATSAPP_VERIFY_TOKEN unset: nothing to verify with",
        );
    };
    let url = format!("{}/webhooks/whatsapp", public.trim_end_matches('/'));
    let challenge = uuid::Uuid::new_v4().simple().to_string();
    let http = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(http) => http,
        Err(err) => return check(Level::Fail, name, err.to_string()),
    };
    let answer = http
        .get(&url)
        .query(&[
            ("hub.mode", "subscribe"),
            ("hub.verify_token", token.expose()),
            ("hub.challenge", challenge.as_str()),
        ])
        .send()
        .await;
    match answer {
        Err(err) if err.is_timeout() => check(
            Level::Fail,
            name,
            format!("GET {url}: no answer within {timeout:?}"),
        ),
        Err(err) => check(Level::Fail, name, format!("GET {url}: {err}")),
        Ok(response) => {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            if status.is_success() && body == challenge {
                check(
                    Level::Ok,
                    name,
                    format!("GET {url} answers Meta's challenge"),
                )
            } else {
                check(
                    Level::Fail,
                    name,
                    format!(
                        "GET {url} answered {status} without the challenge: is the URL right, and is this the verify token set in Meta's app?"
                    ),
                )
            }
        }
    }
}

/// Stripe: the key answers (`GET /v1/balance`), in which mode, and whether Stripe's events can be
/// verified. Nothing when neither the key nor a webhook secret is set (no deposits: a valid choice).
async fn stripe(config: &Config, timeout: Duration) -> Vec<Check> {
    let s = &config.stripe;
    let webhook = |level, detail: &str| check(level, "stripe webhook", detail);
    let Some(key) = &s.secret_key else {
        if s.webhook_secrets.is_empty() {
            return vec![check(
                Level::Ok,
                "stripe",
                "not configured (STRIPE_SECRET_KEY unset): services with a deposit are booked without one",
            )];
        }
        return vec![webhook(
            Level::Warn,
            "STRIPE_WEBHOOK_SECRET is set but STRIPE_SECRET_KEY is not: no deposits are taken",
        )];
    };
    let name = "stripe";
    let mut checks = vec![
        match StripeClient::for_check(&s.api_base, key.clone(), timeout) {
            Err(err) => check(Level::Fail, name, err.to_string()),
            Ok(client) => {
                let url = client.url("/v1/balance");
                match client.balance().await {
                    Ok(balance) => {
                        let live = balance
                            .livemode
                            .unwrap_or_else(|| key.expose().contains("_live_"));
                        let mode = if live {
                            "live mode: customers pay real money"
                        } else {
                            "test mode: only Stripe's test cards pay, nothing is charged"
                        };
                        check(
                            Level::Ok,
                            name,
                            format!("the key works, {mode} (GET {url})"),
                        )
                    }
                    Err(err) => {
                        let said = err.to_string().replace(key.expose(), "[the key]");
                        let what = match &err {
                            StripeError::Api { status: 401, .. } => format!(
                                "{said}: STRIPE_SECRET_KEY is not a valid key; copy the secret key from Stripe's dashboard (Developers, API keys)"
                            ),
                            StripeError::Api { status: 403, .. } => format!(
                                "{said}: the key may not read the balance; a restricted key needs Checkout Sessions and Refunds write, and Balance read for this check"
                            ),
                            StripeError::Network(_) => {
                                format!("no answer within {timeout:?}: {said}")
                            }
                            _ => said,
                        };
                        check(Level::Fail, name, format!("{what} (GET {url})"))
                    }
                }
            }
        },
    ];
    checks.push(if s.webhook_secrets.is_empty() {
        webhook(
            Level::Fail,
            "STRIPE_WEBHOOK_SECRET unset: Stripe's events are refused (503 not_configured) and a payment is only seen when its page runs out or by `salonbot stripe reconcile`; copy the endpoint's signing secret (whsec_...)",
        )
    } else {
        webhook(
            Level::Ok,
            &format!(
                "STRIPE_WEBHOOK_SECRET is set ({} secret(s)): events to /webhooks/stripe are verified",
                s.webhook_secrets.len()
            ),
        )
    });
    checks
}
