//! The staff pages (`/admin/...`): server-rendered HTML (askama templates in `templates/admin/`),
//! readable on a phone and working without JavaScript. Every page needs a session (else it sends
//! the browser to the login page); every form POST carries the session's CSRF token, and after it
//! the browser is sent back to a page (303), with a short note of what was done.

use std::net::SocketAddr;
use std::time::Duration;

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{Duration as Span, NaiveDate, Utc};

use crate::app::AppState;
use crate::booking::appointment::AppointmentStatus;
use crate::booking::catalog::StaffId;
use crate::error::AppError;
use crate::store::admin::{AuditFilter, LoggedWebhook};

use super::api::{OUTCOMES, PROVIDERS};
use super::auth::{self, LOGIN_COOKIE, SESSION_COOKIE, SESSION_SECONDS, Staff};
use super::ops::{self, Holder};
use super::params::Params;
use super::simulator::{self, Act};
use super::views::{self, AppointmentView, ConversationView, DeadLetter, Line};

type Page = Result<Response, AppError>;
type Fields = Form<Vec<(String, String)>>;
type QueryPairs = Query<Vec<(String, String)>>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(day))
        .route("/admin/", get(day))
        .route("/admin/login", get(login_form).post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/appointments/{id}/status", post(appointment_status))
        .route("/admin/walk-ins", post(walk_in))
        .route("/admin/conversations", get(conversations))
        .route("/admin/conversations/{id}", get(conversation))
        .route("/admin/conversations/{id}/{to}", post(hand_over))
        .route("/admin/dead-letters", get(dead_letters))
        .route(
            "/admin/dead-letters/{id}/{action}",
            post(dead_letter_action),
        )
        .route("/admin/webhooks", get(webhooks))
        .route("/admin/events/replay", post(replay))
        .route("/admin/simulator", get(simulator_page).post(simulator_act))
        .route("/admin/stats", get(stats))
        .layer(axum::middleware::map_response(html_errors))
}

/// A page's refusal as a small HTML page (same status) with its message, rather than the JSON body
/// the API answers with: staff read it on a phone.
async fn html_errors(response: Response) -> Response {
    let status = response.status();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || !json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let message = axum::body::to_bytes(body, 64 * 1024)
        .await
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| status.to_string());
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{status}</title></head><body style=\"font-family:system-ui,sans-serif;margin:1rem\">\
         <h1 style=\"font-size:1.2rem\">{status}</h1><p>{escaped}</p>\
         <p><a href=\"javascript:history.back()\">Back</a> · <a href=\"/admin\">Day view</a></p>\
         </body></html>"
    );
    let mut response = Html(html).into_response();
    *response.status_mut() = status;
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    response
}

/// What every page's frame shows.
pub struct Layout {
    pub salon: String,
    pub signed_in: bool,
    pub nav: &'static str,
    pub csrf: String,
    pub flash: Option<&'static str>,
}

fn layout(state: &AppState, staff: &Staff, nav: &'static str, params: &Params) -> Layout {
    Layout {
        salon: state.catalog.salon().name.clone(),
        signed_in: true,
        nav,
        csrf: staff.csrf(),
        flash: params.get("note").and_then(note),
    }
}

/// The notes a redirect may ask a page to show (fixed texts: nothing from the URL is echoed).
fn note(code: &str) -> Option<&'static str> {
    Some(match code {
        "booked" => "Booked.",
        "completed" => "Marked completed.",
        "no_show" => "Marked as a no-show.",
        "cancelled" => "Appointment cancelled.",
        "cancelled_refund" => {
            "Appointment cancelled. The deposit is being refunded and the customer is told."
        }
        "cancelled_told" => "Appointment cancelled. The customer is told.",
        "human" => "The conversation is now with a person; the bot stays silent.",
        "bot" => "The bot has the conversation again.",
        "retried" => "Sent back to be handled again.",
        "discarded" => "Discarded.",
        "replayed" => "Replayed into its conversation's lane.",
        _ => return None,
    })
}

fn render(template: &impl Template) -> Page {
    match template.render() {
        Ok(html) => Ok(Html(html).into_response()),
        Err(err) => {
            tracing::error!(error = %err, "page not rendered");
            Err(AppError::Internal)
        }
    }
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// The staff member signed in for a page; anyone else is sent to the login page.
struct SignedIn(Staff);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match auth::session(state, &parts.headers) {
            Ok(Some(staff)) => Ok(SignedIn(staff)),
            Ok(None) => Err(see_other("/admin/login")),
            Err(err) => Err(err.into_response()),
        }
    }
}

/// The session of a form's POST, its CSRF token checked.
fn form_session(state: &AppState, headers: &HeaderMap, form: &Params) -> Result<Staff, AppError> {
    let staff = auth::session(state, headers)?.ok_or(AppError::Unauthorized)?;
    staff.check_csrf(form.get("csrf"))?;
    Ok(staff)
}

// ---------------------------------------------------------------------------------------------
// Login

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage {
    layout: Layout,
}

async fn login_form(State(state): State<AppState>, headers: HeaderMap) -> Page {
    let keys = auth::keys(&state)?;
    if auth::session(&state, &headers)?.is_some() {
        return Ok(see_other("/admin"));
    }
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let page = LoginPage {
        layout: Layout {
            salon: state.catalog.salon().name.clone(),
            signed_in: false,
            nav: "login",
            csrf: keys.csrf(&format!("login:{nonce}")),
            flash: None,
        },
    };
    let mut response = render(&page)?;
    set_cookie(
        &mut response,
        &auth::set_cookie(LOGIN_COOKIE, &nonce, 3600, false),
    );
    Ok(response)
}

fn set_cookie(response: &mut Response, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Fields,
) -> Page {
    let keys = auth::keys(&state)?;
    let client = auth::client_of(&state, Some(peer), &headers);
    auth::admit(&state, client)?;
    let form = Params(form);
    let nonce = auth::cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    let csrf_ok = !nonce.is_empty()
        && form
            .get("csrf")
            .is_some_and(|t| keys.csrf_matches(&format!("login:{nonce}"), t));
    if !csrf_ok {
        return Err(AppError::Forbidden);
    }
    if !form.get("token").is_some_and(|t| keys.token_matches(t)) {
        let error = auth::refuse(&state, client).await;
        let page = LoginPage {
            layout: Layout {
                salon: state.catalog.salon().name.clone(),
                signed_in: false,
                nav: "login",
                csrf: keys.csrf(&format!("login:{nonce}")),
                flash: Some("That is not the admin token."),
            },
        };
        let mut response = render(&page)?;
        *response.status_mut() = error.status();
        return Ok(response);
    }
    let secure = auth::over_https(&state, &headers, Some(peer));
    let mut response = see_other("/admin");
    let session = keys.new_session(auth::unix_now());
    set_cookie(
        &mut response,
        &auth::set_cookie(SESSION_COOKIE, &session, SESSION_SECONDS, secure),
    );
    set_cookie(
        &mut response,
        &auth::set_cookie(LOGIN_COOKIE, "", 0, secure),
    );
    Ok(response)
}

async fn logout(State(state): State<AppState>, headers: HeaderMap, Form(form): Fields) -> Page {
    form_session(&state, &headers, &Params(form))?;
    let mut response = see_other("/admin/login");
    set_cookie(
        &mut response,
        &auth::set_cookie(SESSION_COOKIE, "", 0, false),
    );
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// Day view

struct Column {
    staff: String,
    appointments: Vec<AppointmentView>,
}

#[derive(Template)]
#[template(path = "admin/day.html")]
struct DayPage {
    layout: Layout,
    date: NaiveDate,
    date_label: String,
    prev: NaiveDate,
    next: NaiveDate,
    time_zone: String,
    columns: Vec<Column>,
    /// `(id, name)` of the services and the staff, for the walk-in form.
    services: Vec<Named>,
    staff: Vec<Named>,
}

struct Named {
    id: String,
    name: String,
}

async fn day(
    State(state): State<AppState>,
    SignedIn(staff): SignedIn,
    Query(query): QueryPairs,
) -> Page {
    let params = Params(query);
    let date = params
        .date("date")?
        .unwrap_or_else(|| views::today(&state.catalog, Utc::now()));
    let appointments = views::day(&state.store, &state.catalog, date).await?;
    let mut columns: Vec<Column> = Vec::new();
    for member in state.catalog.staff() {
        let theirs: Vec<AppointmentView> = appointments
            .iter()
            .filter(|a| a.staff_id == member.id.as_str())
            .cloned()
            .collect();
        if !theirs.is_empty() {
            columns.push(Column {
                staff: member.name.clone(),
                appointments: theirs,
            });
        }
    }
    // Appointments of staff no longer in the catalog still show.
    let others: Vec<AppointmentView> = appointments
        .into_iter()
        .filter(|a| {
            state
                .catalog
                .staff_member(&StaffId::new(a.staff_id.clone()))
                .is_none()
        })
        .collect();
    if !others.is_empty() {
        columns.push(Column {
            staff: "Others".into(),
            appointments: others,
        });
    }
    render(&DayPage {
        layout: layout(&state, &staff, "day", &params),
        date_label: date.format("%A %-d %B %Y").to_string(),
        prev: date - Span::days(1),
        next: date + Span::days(1),
        date,
        time_zone: state.catalog.salon().time_zone.name().to_owned(),
        columns,
        services: state
            .catalog
            .services()
            .iter()
            .map(|s| Named {
                id: s.id.as_str().to_owned(),
                name: s
                    .name
                    .get(state.catalog.salon().default_language)
                    .to_owned(),
            })
            .collect(),
        staff: state
            .catalog
            .staff()
            .iter()
            .map(|m| Named {
                id: m.id.as_str().to_owned(),
                name: m.name.clone(),
            })
            .collect(),
    })
}

async fn appointment_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(form): Fields,
) -> Page {
    let form = Params(form);
    form_session(&state, &headers, &form)?;
    let status = form
        .one_of("status", &["completed", "no_show", "cancelled"])?
        .ok_or_else(|| AppError::BadParameter {
            name: "status",
            reason: "missing".into(),
        })?;
    let date = form
        .date("date")?
        .map(|d| d.to_string())
        .unwrap_or_default();
    if status == "cancelled" {
        // The salon's cancellation takes the customer's path: see `ops::cancel`.
        let refund = form
            .one_of("deposit", &["refund", "keep"])?
            .map(|d| d == "refund");
        let note = match ops::cancel(&state, id, refund).await? {
            ops::Cancelled::Directly => "cancelled",
            ops::Cancelled::InLane { refund, told } => {
                settled_or_soon(&state, id).await?;
                match (refund, told) {
                    (true, _) => "cancelled_refund",
                    (false, true) => "cancelled_told",
                    (false, false) => "cancelled",
                }
            }
        };
        return Ok(see_other(&format!("/admin?date={date}&note={note}")));
    }
    let to = AppointmentStatus::parse(&status).ok_or(AppError::Internal)?;
    state
        .store
        .transition_appointment(id, to, Utc::now())
        .await?;
    Ok(see_other(&format!("/admin?date={date}&note={status}")))
}

/// Waits a little for the worker to apply a cancellation stored in the conversation's lane, so that
/// the day view shows it (it shows the appointment as it is when the worker is slower).
async fn settled_or_soon(state: &AppState, id: i64) -> Result<(), AppError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        let open = state
            .store
            .appointment(id)
            .await?
            .is_some_and(|a| a.status.can_become(AppointmentStatus::Cancelled));
        if !open {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

async fn walk_in(State(state): State<AppState>, headers: HeaderMap, Form(form): Fields) -> Page {
    let form = Params(form);
    form_session(&state, &headers, &form)?;
    let missing = |name: &'static str| AppError::BadParameter {
        name,
        reason: "missing".into(),
    };
    let services: Vec<&str> = state
        .catalog
        .services()
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    let staff: Vec<&str> = state
        .catalog
        .staff()
        .iter()
        .map(|m| m.id.as_str())
        .collect();
    let raw_time = form.get("time").ok_or_else(|| missing("time"))?;
    let time = chrono::NaiveTime::parse_from_str(raw_time, "%H:%M").map_err(|_| {
        AppError::BadParameter {
            name: "time",
            reason: format!("expected HH:MM, got '{raw_time}'"),
        }
    })?;
    let request = ops::WalkIn {
        service: form
            .one_of("service", &services)?
            .ok_or_else(|| missing("service"))?,
        staff: form.one_of("staff", &staff)?,
        day: form.date("date")?.ok_or_else(|| missing("date"))?,
        time,
        phone: form.phone("phone")?,
    };
    let id = ops::book_walk_in(&state, &request).await?;
    Ok(see_other(&format!(
        "/admin?date={}&note=booked#appointment-{id}",
        request.day
    )))
}

// ---------------------------------------------------------------------------------------------
// Conversations

struct ConversationRow {
    view: ConversationView,
    window: String,
}

#[derive(Template)]
#[template(path = "admin/conversations.html")]
struct ConversationsPage {
    layout: Layout,
    total: i64,
    rows: Vec<ConversationRow>,
}

async fn conversations(
    State(state): State<AppState>,
    SignedIn(staff): SignedIn,
    Query(query): QueryPairs,
) -> Page {
    let params = Params(query);
    let page = state
        .store
        .list_conversations(params.limit(50)?, params.offset()?)
        .await?;
    let now = Utc::now();
    let mut rows = Vec::with_capacity(page.rows.len());
    for c in page.rows {
        let view = ConversationView::of(&state.store, c, now).await?;
        rows.push(ConversationRow {
            window: view.window_label(now),
            view,
        });
    }
    render(&ConversationsPage {
        layout: layout(&state, &staff, "conversations", &params),
        total: page.total,
        rows,
    })
}

struct BookedRow {
    when: String,
    service: String,
    status: String,
}

#[derive(Template)]
#[template(path = "admin/conversation.html")]
struct ConversationPage {
    layout: Layout,
    c: ConversationView,
    window: String,
    appointments: Vec<BookedRow>,
    transcript: Vec<Line>,
}

async fn conversation(
    State(state): State<AppState>,
    SignedIn(staff): SignedIn,
    Path(id): Path<String>,
    Query(query): QueryPairs,
) -> Page {
    let params = Params(query);
    let Some(listed) = state.store.listed_conversation(&id).await? else {
        return Err(AppError::NotFound(format!("no conversation {id}")));
    };
    let now = Utc::now();
    let c = ConversationView::of(&state.store, listed, now).await?;
    let tz = state.catalog.salon().time_zone;
    let appointments = state
        .store
        .conversation_appointments(&id)
        .await?
        .into_iter()
        .map(|a| BookedRow {
            when: a
                .starts_at
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            service: views::service_name(&state.catalog, &a.service_id),
            status: a.status.as_str().to_owned(),
        })
        .collect();
    render(&ConversationPage {
        layout: layout(&state, &staff, "conversations", &params),
        window: c.window_label(now),
        c,
        appointments,
        transcript: views::transcript(&state.store, &state.catalog, &id).await?,
    })
}

async fn hand_over(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, to)): Path<(String, String)>,
    Form(form): Fields,
) -> Page {
    form_session(&state, &headers, &Params(form))?;
    let holder = match to.as_str() {
        "human" => Holder::Human,
        "bot" => Holder::Bot,
        _ => return Err(AppError::NotFound("not found".into())),
    };
    ops::hand_over(&state, &id, holder).await?;
    // The worker applies it in the conversation's lane; the page shows it once it has (or soon).
    let want = holder == Holder::Human;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        let now_human = state
            .store
            .listed_conversation(&id)
            .await?
            .is_some_and(|c| c.human);
        if now_human == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(see_other(&format!(
        "/admin/conversations/{}?note={to}",
        encode(&id)
    )))
}

/// Percent-encodes a path segment (a conversation key: `:` and `+` included).
fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC).to_string()
}

// ---------------------------------------------------------------------------------------------
// Dead letters

struct Section {
    title: &'static str,
    queue: &'static str,
    letters: Vec<DeadLetter>,
}

#[derive(Template)]
#[template(path = "admin/dead.html")]
struct DeadPage {
    layout: Layout,
    sections: Vec<Section>,
}

async fn dead_list(state: &AppState) -> Result<Vec<Section>, AppError> {
    Ok(vec![
        Section {
            title: "Inbox events",
            queue: "inbox",
            letters: state
                .store
                .dead_inbox(100)
                .await?
                .into_iter()
                .map(DeadLetter::inbox)
                .collect(),
        },
        Section {
            title: "Outbox messages",
            queue: "outbox",
            letters: state
                .store
                .dead_outbox(100)
                .await?
                .into_iter()
                .map(DeadLetter::outbox)
                .collect(),
        },
    ])
}

async fn dead_letters(
    State(state): State<AppState>,
    SignedIn(staff): SignedIn,
    Query(query): QueryPairs,
) -> Page {
    let params = Params(query);
    render(&DeadPage {
        layout: layout(&state, &staff, "dead", &params),
        sections: dead_list(&state).await?,
    })
}

async fn dead_letter_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(form): Fields,
) -> Page {
    let form = Params(form);
    form_session(&state, &headers, &form)?;
    let ids: Vec<String> = if id == "all" {
        let queue = form.one_of("queue", &["inbox", "outbox"])?;
        dead_list(&state)
            .await?
            .into_iter()
            .filter(|s| Some(s.queue) == queue.as_deref())
            .flat_map(|s| s.letters.into_iter().map(|d| d.id))
            .collect()
    } else {
        vec![id]
    };
    for id in &ids {
        match action.as_str() {
            "retry" => ops::retry(&state, id).await?,
            "discard" => ops::discard(&state, id).await?,
            _ => return Err(AppError::NotFound("not found".into())),
        }
    }
    let note = if action == "retry" {
        "retried"
    } else {
        "discarded"
    };
    Ok(see_other(&format!("/admin/dead-letters?note={note}")))
}

// ---------------------------------------------------------------------------------------------
// Webhook log

struct Counts {
    provider: String,
    hour: i64,
    hour_errors: i64,
    day: i64,
    day_errors: i64,
}

struct Choice {
    name: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "admin/webhooks.html")]
struct WebhooksPage {
    layout: Layout,
    counts: Vec<Counts>,
    providers: Vec<Choice>,
    outcomes: Vec<Choice>,
    since: String,
    total: i64,
    rows: Vec<LoggedWebhook>,
}

async fn webhooks(
    State(state): State<AppState>,
    SignedIn(staff): SignedIn,
    Query(query): QueryPairs,
) -> Page {
    let params = Params(query);
    let filter = AuditFilter {
        provider: params.one_of("provider", &PROVIDERS)?,
        outcome: params.one_of("outcome", &OUTCOMES)?,
        since: params.instant("since")?,
        limit: params.limit(100)?,
        offset: params.offset()?,
    };
    let page = state.store.list_webhooks(&filter).await?;
    let now = Utc::now();
    let hour = state.store.webhook_counts(now - Span::hours(1)).await?;
    let day = state.store.webhook_counts(now - Span::days(1)).await?;
    let counts = day
        .into_iter()
        .map(|d| {
            let h = hour.iter().find(|h| h.provider == d.provider);
            Counts {
                hour: h.map_or(0, |h| h.total),
                hour_errors: h.map_or(0, |h| h.errors),
                provider: d.provider,
                day: d.total,
                day_errors: d.errors,
            }
        })
        .collect();
    let options = |all: &[&'static str], chosen: &Option<String>| {
        all.iter()
            .map(|name| Choice {
                name,
                selected: chosen.as_deref() == Some(*name),
            })
            .collect()
    };
    render(&WebhooksPage {
        layout: layout(&state, &staff, "webhooks", &params),
        counts,
        providers: options(&PROVIDERS, &filter.provider),
        outcomes: options(&OUTCOMES, &filter.outcome),
        since: filter
            .since
            .map(|s| s.format("%Y-%m-%dT%H:%M").to_string())
            .unwrap_or_default(),
        total: page.total,
        rows: page.rows,
    })
}

async fn replay(State(state): State<AppState>, headers: HeaderMap, Form(form): Fields) -> Page {
    let form = Params(form);
    form_session(&state, &headers, &form)?;
    let raw = form.get("id").unwrap_or_default();
    let id: i64 = raw.parse().map_err(|_| AppError::BadParameter {
        name: "id",
        reason: format!("expected an event id, got '{raw}'"),
    })?;
    ops::replay(&state, id).await?;
    Ok(see_other("/admin/webhooks?note=replayed"))
}

// ---------------------------------------------------------------------------------------------
// Simulator

#[derive(Template)]
#[template(path = "admin/simulator.html")]
struct SimulatorPage {
    layout: Layout,
    phone: String,
    transcript: Vec<Line>,
    choices: Vec<String>,
    /// A payment link is open: the page offers to pay it (in the sandbox).
    can_pay: bool,
}

async fn simulator_page(
    State(state): State<AppState>,
    SignedIn(staff): SignedIn,
    Query(query): QueryPairs,
) -> Page {
    let params = Params(query);
    let key = simulator::conversation_key()?;
    let (choices, _) = simulator::last_choices(&state).await?;
    render(&SimulatorPage {
        layout: layout(&state, &staff, "simulator", &params),
        phone: simulator::phone()?.as_str().to_owned(),
        transcript: views::transcript(&state.store, &state.catalog, &key).await?,
        choices: choices.into_iter().map(|c| c.title).collect(),
        can_pay: simulator::can_pay(&state).await?,
    })
}

async fn simulator_act(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Fields,
) -> Page {
    let form = Params(form);
    form_session(&state, &headers, &form)?;
    let act = match (form.get("choice"), form.text("text", 4096)?) {
        _ if form.get("pay").is_some() => Act::Pay,
        (Some(n), _) => Act::Tap(n.parse().map_err(|_| AppError::BadParameter {
            name: "choice",
            reason: format!("expected a number, got '{n}'"),
        })?),
        (None, Some(text)) => Act::Text(text),
        (None, None) => return Ok(see_other("/admin/simulator")),
    };
    simulator::act(&state, act).await?;
    Ok(see_other("/admin/simulator"))
}

// ---------------------------------------------------------------------------------------------
// Stats

struct Number {
    label: &'static str,
    value: String,
}

#[derive(Template)]
#[template(path = "admin/stats.html")]
struct StatsPage {
    layout: Layout,
    numbers: Vec<Number>,
    days: u32,
    chart: String,
}

const STATS_DAYS: u32 = 14;

async fn stats(
    State(state): State<AppState>,
    SignedIn(staff): SignedIn,
    Query(query): QueryPairs,
) -> Page {
    let params = Params(query);
    let t = state.store.totals(Utc::now(), STATS_DAYS).await?;
    let count = |status: &str| {
        t.bookings_by_status
            .iter()
            .find(|(s, _)| s == status)
            .map_or(0, |(_, n)| *n)
    };
    let booked = count("confirmed") + count("completed") + count("no_show");
    let percent = |part: i64, whole: i64| {
        if whole == 0 {
            "—".to_owned()
        } else {
            format!("{:.0} %", part as f64 * 100.0 / whole as f64)
        }
    };
    let money = |minor: i64| format!("{:.2}", minor as f64 / 100.0);
    let numbers = vec![
        Number {
            label: "Customers' messages",
            value: t.messages.to_string(),
        },
        Number {
            label: "Bot's messages",
            value: t.outbound.to_string(),
        },
        Number {
            label: "Customers",
            value: t.customers.to_string(),
        },
        Number {
            label: "Conversations",
            value: t.conversations.to_string(),
        },
        Number {
            label: "Bookings (confirmed, completed, no-show)",
            value: booked.to_string(),
        },
        Number {
            label: "Conversion (bookings per conversation)",
            value: percent(booked, t.conversations),
        },
        Number {
            label: "No-show rate",
            value: percent(count("no_show"), count("completed") + count("no_show")),
        },
        Number {
            label: "Cancelled",
            value: count("cancelled").to_string(),
        },
        Number {
            label: "Median time to answer (last 1,000 messages)",
            value: t
                .median_answer_ms
                .map_or_else(|| "—".to_owned(), |ms| format!("{ms} ms")),
        },
        Number {
            label: "Deposits taken",
            value: money(t.deposits_paid_minor),
        },
        Number {
            label: "Deposits refunded",
            value: money(t.deposits_refunded_minor),
        },
    ];
    let points: Vec<(String, i64)> = t
        .messages_per_day
        .iter()
        .map(|(d, n)| (d.format("%d").to_string(), *n))
        .collect();
    render(&StatsPage {
        layout: layout(&state, &staff, "stats", &params),
        numbers,
        days: STATS_DAYS,
        chart: super::chart::bars(&points),
    })
}
