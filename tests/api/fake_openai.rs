//! A local stand-in for an OpenAI-compatible chat completions API (`POST /v1/chat/completions`):
//! it checks the bearer key, records every request body, and answers as scripted: a structured
//! answer, malformed content, an HTTP error in OpenAI's error format, or a good answer too late.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

pub const KEY: &str = "sk-test-key";

/// What the fake answers to the next request (the last one repeats).
#[derive(Debug, Clone)]
pub enum Answer {
    /// This JSON as the message content.
    Structured(Value),
    /// Content that is not JSON.
    Malformed,
    /// An HTTP error with OpenAI's error body.
    Error(u16),
    /// A structured answer after this delay.
    Slow(Duration, Value),
}

#[derive(Default)]
struct Inner {
    requests: Vec<Value>,
    script: VecDeque<Answer>,
}

#[derive(Clone)]
pub struct FakeOpenAi {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl FakeOpenAi {
    pub async fn start(answers: Vec<Answer>) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            requests: Vec::new(),
            script: answers.into(),
        }));
        let app = Router::new()
            .route("/v1/chat/completions", post(completions))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, inner }
    }

    /// The value of `OPENAI_BASE_URL` pointing here.
    pub fn base(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Every request body received, in order.
    pub fn requests(&self) -> Vec<Value> {
        self.inner.lock().unwrap().requests.clone()
    }
}

async fn completions(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if bearer != format!("Bearer {KEY}") {
        return (StatusCode::UNAUTHORIZED, Json(error("invalid api key"))).into_response();
    }
    assert_eq!(body["response_format"]["type"], "json_schema", "{body}");
    assert!(
        body["messages"].as_array().is_some_and(|m| m.len() == 2),
        "{body}"
    );
    let answer = {
        let mut inner = inner.lock().unwrap();
        inner.requests.push(body);
        match inner.script.len() {
            0 => Answer::Malformed,
            1 => inner.script[0].clone(),
            _ => inner.script.pop_front().unwrap_or(Answer::Malformed),
        }
    };
    match answer {
        Answer::Structured(content) => Json(completion(&content.to_string())).into_response(),
        Answer::Malformed => Json(completion("{\"intent\": \"book\", oops")).into_response(),
        Answer::Error(status) => (
            StatusCode::from_u16(status).unwrap(),
            Json(error("the server had an error")),
        )
            .into_response(),
        Answer::Slow(delay, content) => {
            // The fake server itself is slow: what the test checks is that the turn does not wait.
            tokio::time::sleep(delay).await;
            Json(completion(&content.to_string())).into_response()
        }
    }
}

fn completion(content: &str) -> Value {
    json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_800_000_000,
        "model": "test-model",
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content },
            "finish_reason": "stop",
            "logprobs": null
        }],
        "usage": { "prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20 }
    })
}

fn error(message: &str) -> Value {
    json!({ "error": { "message": message, "type": "server_error", "param": null, "code": null } })
}
