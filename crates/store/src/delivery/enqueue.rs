//! Who hears of a notice's event, and the messages written for them, in the
//! caller's transaction.
//!
//! - The unit's events (issued, returned, closed, reopened, cancelled,
//!   reminder, overdue) go to its contacts' e-mail, its channels and its
//!   users' inboxes; `supervise` goes the same way to the supervising unit.
//! - The centre's events go to inboxes: `submitted` and `escalated` to the
//!   leaders, `answered` to the analyst who drafted the notice.
//! - The centre's own channels get every event they subscribe to.

use std::collections::HashMap;

use shouwang_workflow::messages::{Context, NoticeFacts, cst_text, kind_name};
use shouwang_workflow::{Event, Lang, Rendered, Via};
use sqlx::{Any, Row, Transaction};

use super::Outbound;
use crate::filter::rows_of;
use crate::notices::Notice;
use crate::{Result, Role};

/// One occurrence of an event on a notice.
pub(crate) struct Occasion<'a> {
    pub event: Event,
    /// Unique for the occurrence (`v7` for the move that made version 7,
    /// `answer@1767225600` for an alarm on that deadline): with the
    /// recipient it makes the idempotency key.
    pub tag: String,
    pub actor: &'a str,
    pub reason: &'a str,
    /// For deadline events: which clock, and its due time (Unix seconds).
    pub clock: &'a str,
    pub due: Option<i64>,
}

/// The event a move raises, if any.
pub(crate) fn event_of(action: shouwang_workflow::Action, to: shouwang_workflow::State, was_issued: bool) -> Option<Event> {
    use shouwang_workflow::{Action as A, State as S};
    match (action, to) {
        (_, S::Issued) if action != A::Reopen => Some(Event::Issued),
        (A::Submit, _) => Some(Event::Submitted),
        (A::Answer, _) => Some(Event::Answered),
        (A::Return, _) => Some(Event::Returned),
        (A::Close, _) => Some(Event::Closed),
        (A::Reopen, _) => Some(Event::Reopened),
        (A::Cancel, _) if was_issued => Some(Event::Cancelled),
        _ => None,
    }
}

struct Unit {
    name_zh: String,
    name_en: String,
    supervisor: Option<String>,
}

async fn unit(tx: &mut Transaction<'_, Any>, code: &str) -> Result<Option<Unit>> {
    let row = sqlx::query("SELECT name_zh, name_en, supervisor FROM units WHERE code = $1").bind(code).fetch_optional(&mut **tx).await?;
    row.map(|r| Ok(Unit { name_zh: r.try_get("name_zh")?, name_en: r.try_get("name_en")?, supervisor: r.try_get("supervisor")? }))
        .transpose()
}

impl Unit {
    fn name(&self, lang: Lang) -> &str {
        match lang {
            Lang::En if !self.name_en.is_empty() => &self.name_en,
            _ => &self.name_zh,
        }
    }
}

/// A message to write: by e-mail to a contact, or on a channel.
struct Out {
    kind: Via,
    channel: Option<i64>,
    target: String,
    lang: Lang,
}

/// Writes the messages for `occ` on notice `n`: how many.
pub(crate) async fn enqueue(tx: &mut Transaction<'_, Any>, out: &Outbound, n: &Notice, occ: &Occasion<'_>, at: i64) -> Result<usize> {
    let own = unit(tx, &n.unit).await?;
    let recipient_unit = match occ.event {
        Event::Issued | Event::Returned | Event::Closed | Event::Reopened | Event::Cancelled | Event::Reminder | Event::Overdue => {
            Some(n.unit.clone())
        }
        Event::Supervise => own.as_ref().and_then(|u| u.supervisor.clone()),
        Event::Submitted | Event::Answered | Event::Escalated => None,
    };
    let mut outs = Vec::new();
    let mut users: Vec<i64> = Vec::new();
    let mut recipient = None;
    if let Some(code) = &recipient_unit {
        recipient = unit(tx, code).await?;
        let emails: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT email FROM contacts WHERE unit = $1 AND email IS NOT NULL AND email <> '' ORDER BY email")
                .bind(code)
                .fetch_all(&mut **tx)
                .await?;
        // A contact's address came through the registry import, which
        // checked it; one that still fails is skipped rather than queued
        // to fail.
        outs.extend(emails.into_iter().filter(|e| super::channels::check_address(e).is_ok()).map(|e| Out {
            kind: Via::Email,
            channel: None,
            target: e,
            lang: Lang::Zh,
        }));
        users.extend(
            // People, not the unit's sensors.
            sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE unit = $1 AND role IN ($2, $3) AND disabled = 0 ORDER BY id")
                .bind(code)
                .bind(Role::UnitOperator.as_str())
                .bind(Role::Supervisor.as_str())
                .fetch_all(&mut **tx)
                .await?,
        );
    }
    match occ.event {
        Event::Submitted | Event::Escalated => users.extend(
            sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE role = $1 AND disabled = 0 ORDER BY id")
                .bind(Role::Leader.as_str())
                .fetch_all(&mut **tx)
                .await?,
        ),
        Event::Answered => users.extend(
            sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE username = $1 AND disabled = 0")
                .bind(&n.created_by)
                .fetch_all(&mut **tx)
                .await?,
        ),
        _ => {}
    }
    // The recipient unit's channels and the centre's.
    let channels =
        sqlx::query("SELECT id, kind, target, lang, events FROM channels WHERE enabled = 1 AND (unit IS NULL OR unit = $1) ORDER BY id")
            .bind(recipient_unit.clone().unwrap_or_default())
            .fetch_all(&mut **tx)
            .await?;
    for r in &channels {
        let events: String = r.try_get("events")?;
        if events != "*" && !events.split(',').any(|e| e == occ.event.as_str()) {
            continue;
        }
        let (Ok(kind), Ok(lang)) = (Via::parse(&r.try_get::<String, _>("kind")?), Lang::parse(&r.try_get::<String, _>("lang")?)) else {
            continue;
        };
        outs.push(Out { kind, channel: Some(r.try_get("id")?), target: r.try_get("target")?, lang });
    }
    users.sort_unstable();
    users.dedup();

    // Render once per (language, redacted) the recipients need.
    let mut rendered: HashMap<(Lang, bool), Rendered> = HashMap::new();
    let mut render = |lang: Lang, redacted: bool| -> Rendered {
        rendered
            .entry((lang, redacted))
            .or_insert_with(|| {
                let ctx = context(out, n, occ, own.as_ref(), recipient.as_ref(), lang, redacted);
                let (r, err) = out.messages.render(occ.event, n.kind, lang, &ctx);
                if let Some(e) = err {
                    tracing::warn!(error = %e, "an edited template failed; the default was used");
                }
                r
            })
            .clone()
    };
    let key = |who: &str| format!("n{}.{}.{}.{who}", n.id, occ.tag, occ.event);
    let rows: Vec<(String, Out, Rendered)> = outs
        .into_iter()
        .map(|o| {
            let who = match o.channel {
                Some(c) => format!("c{c}"),
                None => format!("mail:{}", o.target),
            };
            let r = render(o.lang, o.kind.redacts(&n.tlp));
            (key(&who), o, r)
        })
        .collect();
    for chunk in rows.chunks(50) {
        let sql = format!(
            "INSERT INTO outbox (key, notice_id, event, kind, channel_id, target, lang, subject, body, state, attempts, next_at, \
             last_error, created_at) VALUES {} ON CONFLICT (key) DO NOTHING",
            rows_of(chunk.len(), 14)
        );
        let mut q = sqlx::query(&sql);
        for (k, o, r) in chunk {
            q = q
                .bind(k.clone())
                .bind(n.id)
                .bind(occ.event.as_str())
                .bind(o.kind.as_str())
                .bind(o.channel)
                .bind(o.target.clone())
                .bind(o.lang.as_str())
                .bind(r.subject.clone())
                .bind(r.body.clone())
                .bind("pending")
                .bind(0_i64)
                .bind(at)
                .bind("")
                .bind(at);
        }
        q.execute(&mut **tx).await?;
    }
    if !users.is_empty() {
        let r = render(Lang::Zh, false);
        for chunk in users.chunks(100) {
            let sql = format!(
                "INSERT INTO inbox (key, user_id, notice_id, event, subject, body, created_at) VALUES {} ON CONFLICT (key) DO NOTHING",
                rows_of(chunk.len(), 7)
            );
            let mut q = sqlx::query(&sql);
            for &u in chunk {
                q = q
                    .bind(key(&format!("u{u}")))
                    .bind(u)
                    .bind(n.id)
                    .bind(occ.event.as_str())
                    .bind(r.subject.clone())
                    .bind(r.body.clone())
                    .bind(at);
            }
            q.execute(&mut **tx).await?;
        }
    }
    Ok(rows.len() + users.len())
}

fn context(
    out: &Outbound,
    n: &Notice,
    occ: &Occasion<'_>,
    own: Option<&Unit>,
    recipient: Option<&Unit>,
    lang: Lang,
    redacted: bool,
) -> Context {
    let when = |t: Option<jiff::Timestamp>| t.map(cst_text).unwrap_or_else(|| "-".into());
    // A redacted message names the notice and its deadlines, nothing of
    // what it is about: every template, the admin's too, is redacted alike.
    let (title, summary, actions, assets, category) = if redacted {
        (format!("[{}]", n.tlp), String::new(), String::new(), Vec::new(), None)
    } else {
        let category = n.category.clone().filter(|c| !c.is_empty());
        (n.title.clone(), n.summary.clone(), n.actions.clone(), n.assets.clone(), category)
    };
    Context {
        event: occ.event,
        lang,
        notice: NoticeFacts {
            id: n.id,
            number: n.number.clone().unwrap_or_else(|| format!("#{}", n.id)),
            kind: n.kind,
            kind_name: kind_name(n.kind, lang).into(),
            title,
            summary,
            actions,
            level: n.level.as_str().into(),
            category,
            tlp: n.tlp.clone(),
            unit: n.unit.clone(),
            unit_name: own.map(|u| u.name(lang).to_string()).unwrap_or_else(|| n.unit.clone()),
            assets,
            acknowledge_due: when(n.acknowledge_due),
            answer_due: when(n.answer_due),
        },
        actor: occ.actor.into(),
        reason: occ.reason.into(),
        clock: occ.clock.into(),
        clock_name: shouwang_workflow::messages::clock_name(occ.clock, lang).into(),
        due: occ.due.and_then(|s| jiff::Timestamp::from_second(s).ok()).map(cst_text).unwrap_or_default(),
        recipient_name: recipient.map(|u| u.name(lang).to_string()).unwrap_or_default(),
        redacted,
        link: format!("{}/notices/{}", out.public_url, n.id),
    }
}
