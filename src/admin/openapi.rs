//! The OpenAPI 3.1 description of the operator API, served at `/api/openapi.json`.

use serde_json::{Value, json};

fn param(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}

fn path_id(description: &str) -> Value {
    json!({ "name": "id", "in": "path", "required": true, "description": description, "schema": { "type": "string" } })
}

fn op(summary: &str, parameters: Vec<Value>) -> Value {
    json!({
        "summary": summary,
        "parameters": parameters,
        "responses": {
            "200": { "description": "OK", "content": { "application/json": {} } },
            "400": { "$ref": "#/components/responses/Error" },
            "401": { "$ref": "#/components/responses/Error" },
            "404": { "$ref": "#/components/responses/Error" },
            "429": { "$ref": "#/components/responses/Error" }
        }
    })
}

/// The document.
pub fn document() -> Value {
    let paging = || {
        vec![
            param(
                "limit",
                "1 to 100",
                json!({ "type": "integer", "minimum": 1, "maximum": 100, "default": 50 }),
            ),
            param(
                "offset",
                "rows to skip",
                json!({ "type": "integer", "minimum": 0, "default": 0 }),
            ),
        ]
    };
    let mut messages = paging();
    messages.extend([
        param(
            "from",
            "sender, E.164 with or without +",
            json!({ "type": "string" }),
        ),
        param(
            "since",
            "received at or after (ISO-8601)",
            json!({ "type": "string", "format": "date-time" }),
        ),
        param(
            "q",
            "case-insensitive substring of the text's first 500 characters (% and _ literal)",
            json!({ "type": "string", "maxLength": 200 }),
        ),
    ]);
    let mut webhooks = paging();
    webhooks.extend([
        param("provider", "whatsapp, chatwoot, stripe or custom", json!({ "type": "string" })),
        param("outcome", "accepted, duplicate, invalid_signature, malformed, too_large, throttled, ignored or unavailable", json!({ "type": "string" })),
        param("since", "received at or after (ISO-8601)", json!({ "type": "string", "format": "date-time" })),
    ]);
    json!({
        "openapi": "3.1.0",
        "info": { "title": "salonbot operator API", "version": env!("CARGO_PKG_VERSION") },
        "security": [{ "bearer": [] }],
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "description": "ADMIN_TOKEN" } },
            "responses": {
                "Error": {
                    "description": "{\"error\": code, \"message\": text}",
                    "content": { "application/json": { "schema": {
                        "type": "object",
                        "properties": { "error": { "type": "string" }, "message": { "type": "string" } }
                    } } }
                }
            }
        },
        "paths": {
            "/api/messages": { "get": op("Customers' messages, in time order then id: {data, total, limit, offset}", messages) },
            "/api/stats": { "get": op("Totals, customers, top senders, first and last message, bookings by status, webhooks by provider and outcome", vec![]) },
            "/api/appointments": { "get": op("A day's appointments in the salon's time zone", vec![
                param("date", "YYYY-MM-DD, default today", json!({ "type": "string", "format": "date" }))
            ]) },
            "/api/conversations": { "get": op("Conversations, most recently active first", paging()) },
            "/api/conversations/{id}": { "get": op("A conversation (id: its key), its transcript and appointments", vec![path_id("conversation key")]) },
            "/api/conversations/{id}/human": { "post": op("Hand the conversation to a person (human mode)", vec![path_id("conversation key")]) },
            "/api/conversations/{id}/bot": { "post": op("Give the conversation back to the bot", vec![path_id("conversation key")]) },
            "/api/webhooks": { "get": op("The webhook log, newest first, with per-provider counts and errors for the last hour and day", webhooks) },
            "/api/events/{id}/replay": { "post": op("Put a stored inbox event back in its conversation's lane", vec![path_id("inbox event id")]) },
            "/api/dead-letters": { "get": op("Inbox events and outbox messages that gave up: {inbox, outbox}", vec![]) },
            "/api/dead-letters/{id}/retry": { "post": op("Retry a dead letter (id inbox-<n> or outbox-<n>)", vec![path_id("inbox-<n> or outbox-<n>")]) },
            "/api/dead-letters/{id}": { "delete": op("Discard a dead letter", vec![path_id("inbox-<n> or outbox-<n>")]) },
            "/api/openapi.json": { "get": op("This document", vec![]) }
        }
    })
}
