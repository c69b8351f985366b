//! Generic JSON webhooks and the group robots, over HTTP(S).

use serde::Deserialize;
use shouwang_store::{Attempt, Outgoing};
use shouwang_workflow::Via;

use crate::sign;

/// What a robot accepts in one text message, in bytes (WeCom's limit, the
/// smallest of the three); longer texts are cut with a note.
const ROBOT_TEXT: usize = 2_000;

/// Sorts an HTTP status into sent, worth retrying, or refused.
fn by_status(status: reqwest::StatusCode, body: &str) -> Attempt {
    let said: String = body.chars().take(300).collect();
    if status.is_success() {
        Attempt::Sent
    } else if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS || status == reqwest::StatusCode::REQUEST_TIMEOUT
    {
        Attempt::Failed(format!("HTTP {status}: {said}"))
    } else {
        Attempt::Refused(format!("HTTP {status}: {said}"))
    }
}

fn transport_error(e: reqwest::Error) -> Attempt {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    // Without the URL: a robot's URL carries its access key.
    Attempt::Failed(format!("{what}: {}", e.without_url()))
}

/// POSTs our signed JSON envelope.
pub(crate) async fn webhook(http: &reqwest::Client, m: &Outgoing) -> Attempt {
    let body = serde_json::json!({
        "id": m.key,
        "event": m.event,
        "notice_id": m.notice_id,
        "subject": m.subject,
        "text": m.body,
        "created_at": m.created_at,
        "attempt": m.attempt,
    })
    .to_string();
    let now = jiff::Timestamp::now().as_second();
    let sent = http
        .post(&m.target)
        .header("content-type", "application/json")
        .header("idempotency-key", &m.key)
        .header("x-shouwang-event", m.event.as_str())
        .header("x-shouwang-timestamp", now.to_string())
        .header("x-shouwang-signature", sign::webhook(&m.secret, now, body.as_bytes()))
        .body(body)
        .send()
        .await;
    match sent {
        Ok(r) => {
            let status = r.status();
            let text = r.text().await.unwrap_or_default();
            by_status(status, &text)
        }
        Err(e) => transport_error(e),
    }
}

fn robot_text(m: &Outgoing) -> String {
    let mut text = format!("{}\n\n{}", m.subject, m.body);
    if text.len() > ROBOT_TEXT {
        let mut cut = ROBOT_TEXT - 40;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("\n…（全文见平台 / see the platform）");
    }
    text
}

/// The robots' answer: HTTP 200 with an error code in the body.
#[derive(Deserialize)]
struct RobotAnswer {
    #[serde(alias = "code", alias = "StatusCode", default)]
    errcode: i64,
    #[serde(alias = "msg", alias = "StatusMessage", default)]
    errmsg: String,
}

/// Rate limits, which pass: WeCom 45009, DingTalk 130101, Feishu 9499 and
/// 11232. Anything else non-zero is a bad message or robot (wrong key,
/// failed signature, keyword filter): retrying would not help.
const RATE_LIMITED: &[i64] = &[45009, 130101, 9499, 11232];

pub(crate) async fn robot(http: &reqwest::Client, m: &Outgoing) -> Attempt {
    let text = robot_text(m);
    let mut url = match url::Url::parse(&m.target) {
        Ok(u) => u,
        Err(e) => return Attempt::Refused(format!("the robot URL does not parse: {e}")),
    };
    let body = match m.kind {
        Via::Wecom => serde_json::json!({ "msgtype": "text", "text": { "content": text } }),
        Via::Dingtalk => {
            if !m.secret.is_empty() {
                let ms = jiff::Timestamp::now().as_millisecond();
                url.query_pairs_mut().append_pair("timestamp", &ms.to_string()).append_pair("sign", &sign::dingtalk(&m.secret, ms));
            }
            serde_json::json!({ "msgtype": "text", "text": { "content": text } })
        }
        Via::Feishu => {
            let mut b = serde_json::json!({ "msg_type": "text", "content": { "text": text } });
            if !m.secret.is_empty() {
                let now = jiff::Timestamp::now().as_second();
                b["timestamp"] = now.to_string().into();
                b["sign"] = sign::feishu(&m.secret, now).into();
            }
            b
        }
        Via::Email | Via::Webhook => unreachable!("robot() is called for robots only"),
    };
    let sent = http.post(url).json(&body).send().await;
    let r = match sent {
        Ok(r) => r,
        Err(e) => return transport_error(e),
    };
    let status = r.status();
    let text = r.text().await.unwrap_or_default();
    if !status.is_success() {
        return by_status(status, &text);
    }
    match serde_json::from_str::<RobotAnswer>(&text) {
        Ok(a) if a.errcode == 0 => Attempt::Sent,
        Ok(a) if RATE_LIMITED.contains(&a.errcode) => Attempt::Failed(format!("rate limited ({}): {}", a.errcode, a.errmsg)),
        Ok(a) => Attempt::Refused(format!("the robot refused it ({}): {}", a.errcode, a.errmsg)),
        Err(_) => {
            Attempt::Failed(format!("the robot answered something that is not its JSON: {}", text.chars().take(200).collect::<String>()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_sort_into_retry_or_not() {
        assert_eq!(by_status(reqwest::StatusCode::OK, ""), Attempt::Sent);
        assert_eq!(by_status(reqwest::StatusCode::NO_CONTENT, ""), Attempt::Sent);
        assert!(matches!(by_status(reqwest::StatusCode::INTERNAL_SERVER_ERROR, "boom"), Attempt::Failed(e) if e.contains("boom")));
        assert!(matches!(by_status(reqwest::StatusCode::TOO_MANY_REQUESTS, ""), Attempt::Failed(_)));
        assert!(matches!(by_status(reqwest::StatusCode::NOT_FOUND, ""), Attempt::Refused(_)));
        assert!(matches!(by_status(reqwest::StatusCode::FOUND, ""), Attempt::Refused(_)), "redirects are not followed");
    }
}
