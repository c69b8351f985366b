//! Message texts: what a unit, a supervisor or the centre is told when a
//! notice moves or a deadline nears or passes. Each (event, language) has a
//! template, optionally one per notice kind (`issued.rectification`), in
//! MiniJinja. The admin edits them, so rendering is sandboxed: no file or
//! network access (there is no loader), a fuel limit against runaway loops,
//! strict undefined variables, and capped sizes. An edited template that
//! fails on real data falls back to the default rather than losing the
//! message.

use std::collections::{BTreeMap, HashMap, HashSet};

use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};

use crate::{Kind, WorkflowError};

names! {
    /// Why a message is sent.
    pub enum Event {
        /// To the unit: a notice for it.
        Issued = "issued",
        /// To the centre's leaders: a level I–II notice awaits approval.
        Submitted = "submitted",
        /// To the centre: the unit answered.
        Answered = "answered",
        /// To the unit: its answer was not accepted.
        Returned = "returned",
        Closed = "closed",
        Reopened = "reopened",
        Cancelled = "cancelled",
        /// To the unit: a deadline is near.
        Reminder = "reminder",
        /// To the unit: a deadline passed (the ladder's first step).
        Overdue = "overdue",
        /// To the supervising authority: 督办 (the second step).
        Supervise = "supervise",
        /// To the centre's leaders (the third step).
        Escalated = "escalated",
    }
}

names! {
    /// Message languages: Chinese first.
    pub enum Lang {
        Zh = "zh",
        En = "en",
    }
}

names! {
    /// How a message travels.
    pub enum Via {
        Email = "email",
        /// A generic JSON webhook, HMAC-signed.
        Webhook = "webhook",
        /// 企业微信 group robot.
        Wecom = "wecom",
        /// 钉钉 group robot.
        Dingtalk = "dingtalk",
        /// 飞书 group robot.
        Feishu = "feishu",
    }
}

impl Via {
    /// Whether a notice's details stay out of this channel. Group chats are
    /// read by more people than the unit's named contacts, so robots carry
    /// details only for TLP:CLEAR and TLP:GREEN; a webhook feeds a system,
    /// so only TLP:RED is kept out; e-mail goes to named people.
    pub fn redacts(self, tlp: &str) -> bool {
        match self {
            Via::Email => false,
            Via::Webhook => tlp == "TLP:RED",
            Via::Wecom | Via::Dingtalk | Via::Feishu => !matches!(tlp, "TLP:CLEAR" | "TLP:GREEN"),
        }
    }
}

/// Longest template source, in characters.
pub const MAX_SOURCE: usize = 20_000;
/// Longest subject, in characters; longer ones are cut.
pub const MAX_SUBJECT: usize = 200;
/// Longest body, in bytes; longer ones are cut.
pub const MAX_BODY: usize = 64 * 1024;
/// Template instructions one render may run: generous for any real
/// message, small enough that `{% for i in range(10**9) %}` stops at once.
const FUEL: u64 = 200_000;

/// A template's two parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub subject: String,
    pub body: String,
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
}

/// A template's name: an event, optionally narrowed to one notice kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TemplateName {
    pub event: Event,
    pub kind: Option<Kind>,
}

impl TemplateName {
    /// `issued` or `issued.rectification`.
    pub fn parse(s: &str) -> Result<TemplateName, WorkflowError> {
        let (event, kind) = match s.split_once('.') {
            Some((e, k)) => (e, Some(Kind::parse(k)?)),
            None => (s, None),
        };
        Ok(TemplateName { event: Event::parse(event)?, kind })
    }
}

impl std::fmt::Display for TemplateName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            Some(k) => write!(f, "{}.{}", self.event, k),
            None => f.write_str(self.event.as_str()),
        }
    }
}

const DEFAULTS: &str = include_str!("../data/messages.toml");

/// The shipped templates, by (name, language).
pub fn defaults() -> HashMap<(TemplateName, Lang), Template> {
    let raw: BTreeMap<String, BTreeMap<String, Template>> = toml::from_str(DEFAULTS).expect("data/messages.toml parses");
    let mut out = HashMap::new();
    for (name, langs) in raw {
        let name = TemplateName::parse(&name).expect("default template names are valid");
        for (lang, t) in langs {
            out.insert((name, Lang::parse(&lang).expect("default languages are valid")), t);
        }
    }
    out
}

/// The templates in force: the defaults with the admin's overrides on top,
/// compiled once.
pub struct Messages {
    env: Environment<'static>,
    /// Names (with language) that have an override.
    overridden: HashSet<(TemplateName, Lang)>,
}

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_keep_trailing_newline(false);
    env
}

fn key(name: TemplateName, lang: Lang, part: &str, custom: bool) -> String {
    format!("{}{name}.{lang}.{part}", if custom { "custom:" } else { "" })
}

fn compile_error(name: TemplateName, lang: Lang, part: &str, e: minijinja::Error) -> WorkflowError {
    let line = e.line().map(|l| format!(" (line {l})")).unwrap_or_default();
    WorkflowError::Invalid(format!("template {name}.{lang} {part}{line}: {}", e.detail().unwrap_or(&e.to_string())))
}

impl Messages {
    /// The defaults with `overrides` on top. An override that does not
    /// compile is an error naming it.
    pub fn new(overrides: impl IntoIterator<Item = (TemplateName, Lang, Template)>) -> Result<Messages, WorkflowError> {
        let mut env = env();
        for ((name, lang), t) in defaults() {
            env.add_template_owned(key(name, lang, "subject", false), t.subject).expect("default subjects compile");
            env.add_template_owned(key(name, lang, "body", false), t.body).expect("default bodies compile");
        }
        let mut overridden = HashSet::new();
        for (name, lang, t) in overrides {
            check_source(&t)?;
            env.add_template_owned(key(name, lang, "subject", true), t.subject).map_err(|e| compile_error(name, lang, "subject", e))?;
            env.add_template_owned(key(name, lang, "body", true), t.body).map_err(|e| compile_error(name, lang, "body", e))?;
            overridden.insert((name, lang));
        }
        Ok(Messages { env, overridden })
    }

    /// The message for `event` about a notice of `kind`: the admin's
    /// kind-specific template, else their general one, else the default
    /// kind-specific one, else the default. An override that fails on this
    /// context is skipped (its error returned beside the text) so the
    /// message still goes out.
    pub fn render(&self, event: Event, kind: Kind, lang: Lang, ctx: &impl Serialize) -> (Rendered, Option<WorkflowError>) {
        let ctx = minijinja::Value::from_serialize(ctx);
        let specific = TemplateName { event, kind: Some(kind) };
        let general = TemplateName { event, kind: None };
        let mut failed = None;
        for name in [specific, general] {
            if self.overridden.contains(&(name, lang)) {
                match self.render_one(name, lang, true, &ctx) {
                    Ok(r) => return (r, None),
                    Err(e) => failed = failed.or(Some(e)),
                }
            }
        }
        for name in [specific, general] {
            if self.env.get_template(&key(name, lang, "subject", false)).is_ok() {
                let r = self.render_one(name, lang, false, &ctx).expect("default templates render every context the store builds");
                return (r, failed);
            }
        }
        unreachable!("every event has a default template in every language (tested)")
    }

    fn render_one(&self, name: TemplateName, lang: Lang, custom: bool, ctx: &minijinja::Value) -> Result<Rendered, WorkflowError> {
        let part = |p: &str| -> Result<String, WorkflowError> {
            let t = self.env.get_template(&key(name, lang, p, custom)).map_err(|e| compile_error(name, lang, p, e))?;
            t.render(ctx).map_err(|e| compile_error(name, lang, p, e))
        };
        let subject: String = part("subject")?.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(MAX_SUBJECT).collect();
        let mut body = part("body")?.trim().to_string();
        if body.len() > MAX_BODY {
            let mut cut = MAX_BODY;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
        }
        Ok(Rendered { subject, body })
    }

    /// Checks an edited template before it is saved: it compiles and
    /// renders the sample context of its event without error.
    pub fn check(name: TemplateName, lang: Lang, t: &Template) -> Result<Rendered, WorkflowError> {
        check_source(t)?;
        let mut env = env();
        env.add_template_owned(key(name, lang, "subject", true), t.subject.clone()).map_err(|e| compile_error(name, lang, "subject", e))?;
        env.add_template_owned(key(name, lang, "body", true), t.body.clone()).map_err(|e| compile_error(name, lang, "body", e))?;
        let m = Messages { env, overridden: Default::default() };
        m.render_one(name, lang, true, &minijinja::Value::from_serialize(sample(name.event)))
    }
}

fn check_source(t: &Template) -> Result<(), WorkflowError> {
    if t.subject.chars().count() > MAX_SOURCE || t.body.chars().count() > MAX_SOURCE {
        return Err(WorkflowError::Invalid(format!("a template part is over {MAX_SOURCE} characters")));
    }
    Ok(())
}

/// What a template sees. Every field is always present (templates are
/// strict about undefined names); times are CST wall-clock text.
#[derive(Debug, Clone, Serialize)]
pub struct Context {
    pub event: Event,
    pub lang: Lang,
    pub notice: NoticeFacts,
    /// Who moved the notice (`submitted`), or empty.
    pub actor: String,
    /// The move's reason (`returned`, `reopened`, `cancelled`), or empty.
    pub reason: String,
    /// For deadline messages: which clock (`acknowledge`, `answer`, or an
    /// upward report's `report_first`, `report_escalate`, `report_closure`),
    /// its name in the message's language, and its due time.
    pub clock: String,
    pub clock_name: String,
    pub due: String,
    /// The supervising unit's name (`supervise`), or empty.
    pub recipient_name: String,
    /// The notice's TLP keeps details out of this channel: say only that
    /// there is a notice.
    pub redacted: bool,
    /// Where to read the notice in the console.
    pub link: String,
}

/// A notice as templates see it.
#[derive(Debug, Clone, Serialize)]
pub struct NoticeFacts {
    pub id: i64,
    pub number: String,
    pub kind: Kind,
    /// 事件通报 / Incident notice, in the message's language.
    pub kind_name: String,
    pub title: String,
    pub summary: String,
    pub actions: String,
    pub level: String,
    pub category: Option<String>,
    pub tlp: String,
    pub unit: String,
    pub unit_name: String,
    pub assets: Vec<String>,
    pub acknowledge_due: String,
    pub answer_due: String,
}

/// A deadline clock's name in a language: 签收 / acknowledgement, ….
pub fn clock_name(clock: &str, lang: Lang) -> &'static str {
    match (clock, lang) {
        ("acknowledge", Lang::Zh) => "签收",
        ("acknowledge", Lang::En) => "acknowledgement",
        ("answer", Lang::Zh) => "反馈",
        ("answer", Lang::En) => "answer",
        ("report_first", Lang::Zh) => "事件首报",
        ("report_first", Lang::En) => "first incident report",
        ("report_escalate", Lang::Zh) => "向国家层面上报",
        ("report_escalate", Lang::En) => "escalation to the national level",
        ("report_closure", Lang::Zh) => "总结报告",
        ("report_closure", Lang::En) => "closure report",
        _ => "",
    }
}

/// A kind's name in a language.
pub fn kind_name(kind: Kind, lang: Lang) -> &'static str {
    match (kind, lang) {
        (Kind::Incident, Lang::Zh) => "事件通报",
        (Kind::Rectification, Lang::Zh) => "整改通知",
        (Kind::Verification, Lang::Zh) => "核查通知",
        (Kind::Incident, Lang::En) => "Incident notice",
        (Kind::Rectification, Lang::En) => "Rectification notice",
        (Kind::Verification, Lang::En) => "Verification request",
    }
}

/// A CST wall-clock time for messages: `2026-05-06 09:30`.
pub fn cst_text(t: jiff::Timestamp) -> String {
    t.to_zoned(crate::calendar::cst()).strftime("%Y-%m-%d %H:%M").to_string()
}

/// The context edited templates are checked against.
pub fn sample(event: Event) -> Context {
    Context {
        event,
        lang: Lang::Zh,
        notice: NoticeFacts {
            id: 1,
            number: "2026-0001".into(),
            kind: Kind::Rectification,
            kind_name: kind_name(Kind::Rectification, Lang::Zh).into(),
            title: "门户网站存在 SQL 注入漏洞".into(),
            summary: "检测到 203.0.113.10 的 /login 参数可被注入。".into(),
            actions: "立即修复并反馈。".into(),
            level: "IV".into(),
            category: Some("SVRVUL".into()),
            tlp: "TLP:AMBER".into(),
            unit: "U00001".into(),
            unit_name: "示例单位".into(),
            assets: vec!["203.0.113.10".into()],
            acknowledge_due: "2026-05-06 09:30".into(),
            answer_due: "2026-05-12 09:30".into(),
        },
        actor: "analyst".into(),
        reason: "示例原因".into(),
        clock: "answer".into(),
        clock_name: clock_name("answer", Lang::Zh).into(),
        due: "2026-05-12 09:30".into(),
        recipient_name: "示例主管单位".into(),
        redacted: false,
        link: "/notices/1".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_has_a_default_in_every_language_and_each_renders() {
        let d = defaults();
        let m = Messages::new([]).unwrap();
        for &e in Event::ALL {
            for &l in Lang::ALL {
                assert!(d.contains_key(&(TemplateName { event: e, kind: None }, l)), "no default for {e}.{l}");
                for redacted in [false, true] {
                    let mut ctx = sample(e);
                    ctx.redacted = redacted;
                    let (r, err) = m.render(e, Kind::Incident, l, &ctx);
                    assert!(err.is_none());
                    assert!(!r.subject.is_empty() && !r.body.is_empty(), "{e}.{l}");
                    assert!(!r.subject.contains('\n'));
                }
            }
        }
        let (r, _) = m.render(Event::Issued, Kind::Rectification, Lang::Zh, &sample(Event::Issued));
        assert_eq!(r.subject, "【整改通知】2026-0001 门户网站存在 SQL 注入漏洞");
        assert!(r.body.contains("涉及资产：203.0.113.10"), "{}", r.body);
    }

    #[test]
    fn redacted_messages_leave_the_details_out() {
        let m = Messages::new([]).unwrap();
        let mut ctx = sample(Event::Issued);
        ctx.redacted = true;
        let (r, _) = m.render(Event::Issued, Kind::Incident, Lang::Zh, &ctx);
        assert!(!r.body.contains("SQL") && !r.body.contains("203.0.113.10"), "{}", r.body);
    }

    #[test]
    fn overrides_win_kind_specific_first_and_a_failing_one_falls_back() {
        let name = |s| TemplateName::parse(s).unwrap();
        let t = |s: &str| Template { subject: s.into(), body: "b".into() };
        let m = Messages::new([
            (name("issued"), Lang::Zh, t("general {{ notice.number }}")),
            (name("issued.incident"), Lang::Zh, t("incident {{ notice.number }}")),
            // Fails at render time: a loop longer than the fuel allows.
            (name("closed"), Lang::Zh, Template { subject: "x".into(), body: "{% for i in range(100000000) %}{{ i }}{% endfor %}".into() }),
        ])
        .unwrap();
        let ctx = sample(Event::Issued);
        assert_eq!(m.render(Event::Issued, Kind::Incident, Lang::Zh, &ctx).0.subject, "incident 2026-0001");
        assert_eq!(m.render(Event::Issued, Kind::Verification, Lang::Zh, &ctx).0.subject, "general 2026-0001");
        assert!(m.render(Event::Issued, Kind::Verification, Lang::En, &ctx).0.subject.starts_with("[整改通知] "), "the English default");
        let (r, err) = m.render(Event::Closed, Kind::Incident, Lang::Zh, &sample(Event::Closed));
        assert!(r.subject.starts_with("【办结】"), "fell back to the default");
        assert!(err.unwrap().to_string().contains("closed.zh body"));
    }

    #[test]
    fn check_refuses_bad_syntax_unknown_names_and_runaway_loops() {
        let name = TemplateName::parse("issued").unwrap();
        let check = |subject: &str, body: &str| Messages::check(name, Lang::Zh, &Template { subject: subject.into(), body: body.into() });
        assert!(check("{{ notice.number }}", "ok {{ notice.title }}").is_ok());
        let e = check("ok", "line\n{% if %}").unwrap_err().to_string();
        assert!(e.contains("body") && e.contains("line 2"), "{e}");
        let e = check("{{ notice.numbr }}", "b").unwrap_err().to_string();
        assert!(e.contains("subject"), "{e}");
        assert!(check("s", "{% for i in range(100000000) %}x{% endfor %}").is_err());
        assert!(check("s", &"x".repeat(MAX_SOURCE + 1)).is_err());
        // No way out of the sandbox: there is no loader, so include fails.
        assert!(check("s", "{% include '/etc/passwd' %}").is_err());
        // Output is plain text: markup is kept as written, not interpreted.
        let r = check("s", "<script>{{ notice.title }}</script>").unwrap();
        assert!(r.body.starts_with("<script>"));
        assert!(TemplateName::parse("issued.bogus").is_err() && TemplateName::parse("nope").is_err());
    }

    #[test]
    fn subjects_are_one_line_and_bodies_capped() {
        let name = TemplateName::parse("issued").unwrap();
        let r = Messages::check(
            name,
            Lang::En,
            &Template { subject: "a\n\nb {{ notice.number }}".into(), body: "{% for i in range(20000) %}0123456789{% endfor %}".into() },
        )
        .unwrap();
        assert_eq!(r.subject, "a b 2026-0001");
        assert_eq!(r.body.len(), MAX_BODY);
    }
}
