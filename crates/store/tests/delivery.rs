//! Delivery in the store: who hears of what, the outbox's claims, backoff
//! and limits, and the deadline ladder on an injected clock, on both
//! backends.

use std::time::Duration;

use shouwang_registry::UnitCode;
use shouwang_store::{Attempt, Move, NewChannel, NewNotice, NewUser, OutboxQuery, Principal, Retry, Role, Store};
use shouwang_workflow::ladder::Step;
use shouwang_workflow::{Action, Kind, Ladder, Level, Rung, Via};

use super::{admin, base, read_csv};

const CONTACTS: &str = "unit,role,name,email\nS1,security,王工,wang@s1.example\nC1-EDU,security,周科长,zhou@edu.example\n";

fn at(s: &str) -> jiff::Timestamp {
    format!("{s}+08:00").parse().unwrap()
}

fn mv(action: Action) -> Move {
    Move { action, reason: String::new(), answer: None }
}

async fn user(store: &Store, name: &str, role: Role, unit: Option<&str>) -> Principal {
    let unit = unit.map(|u| UnitCode::parse(u).unwrap());
    let u = NewUser { username: name.into(), display_name: name.into(), role, unit: unit.clone(), password: None };
    store.create_user(&admin(), u).await.unwrap();
    Principal { username: name.into(), role, unit }
}

/// The base registry with contacts, the people, and a centre robot.
async fn setup(store: &Store) -> (Principal, Principal, Principal, Principal) {
    base(store).await;
    let out = store.import(&admin(), &read_csv(&[("contacts.csv", CONTACTS)]), "contacts", false).await.unwrap();
    assert!(out.applied, "{:?}", out.errors);
    let analyst = user(store, "ana", Role::Analyst, None).await;
    let leader = user(store, "boss", Role::Leader, None).await;
    let operator = user(store, "s1op", Role::UnitOperator, Some("S1")).await;
    let supervisor = user(store, "edu", Role::Supervisor, Some("C1-EDU")).await;
    let robot = NewChannel {
        name: "centre robot".into(),
        kind: Via::Wecom,
        target: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k".into(),
        secret: None,
        unit: None,
        lang: None,
        events: vec![],
        enabled: true,
    };
    store.create_channel(&admin(), &robot).await.unwrap();
    (analyst, leader, operator, supervisor)
}

fn notice(unit: &str, level: Level) -> NewNotice {
    NewNotice {
        kind: Kind::Incident,
        unit: unit.into(),
        title: "网页篡改".into(),
        summary: String::new(),
        actions: String::new(),
        category: None,
        level,
        tlp: Some("TLP:GREEN".into()),
        assets: vec![],
        alerts: vec![],
    }
}

async fn inbox_subjects(store: &Store, p: &Principal) -> Vec<String> {
    store.inbox(p, false, 100).await.unwrap().into_iter().map(|i| i.subject).collect()
}

pub async fn deadlines_raise_reminders_and_the_escalation_ladder_once(store: &Store) {
    let (analyst, leader, operator, supervisor) = setup(store).await;
    let t0 = at("2026-11-16T10:00:00");
    let mins = |m: i64| t0 + jiff::SignedDuration::from_mins(m);
    // Level I: acknowledge in 30 min, answer in 4 h; a leader approves.
    let id = store.create_notice(&analyst, &notice("S1", Level::I), t0).await.unwrap().notice.id;
    store.move_notice(&analyst, id, 1, &mv(Action::Submit), t0).await.unwrap();
    assert!(inbox_subjects(store, &leader).await.iter().any(|s| s.starts_with("【待审批】")), "the leader hears of it");
    let n = store.move_notice(&leader, id, 2, &mv(Action::Approve), t0).await.unwrap().notice;
    assert_eq!(n.acknowledge_due, Some(mins(30)));

    // The notice's own clocks; its upward reporting clocks have a test of their own.
    let sweep = |m: i64| async move {
        let raised = store.sweep_deadlines(mins(m)).await.unwrap().raised;
        raised.into_iter().filter(|r| !r.clock.starts_with("report_")).collect::<Vec<_>>()
    };
    assert!(sweep(10).await.is_empty(), "20 minutes left of 30: quiet");
    let r = sweep(25).await;
    assert_eq!(r.iter().map(|r| (r.clock, r.rung)).collect::<Vec<_>>(), [("acknowledge", Rung::Reminder)]);
    assert_eq!(r[0].messages, 3, "the contact's e-mail, the centre robot, the operator's inbox");
    assert!(sweep(25).await.is_empty(), "raised once");
    assert!(sweep(28).await.is_empty());
    let r = sweep(31).await;
    assert_eq!(r.iter().map(|r| r.rung).collect::<Vec<_>>(), [Rung::Overdue]);
    // Half the span (15 min) past the deadline: the supervising authority (督办).
    let r = sweep(46).await;
    assert_eq!(r.iter().map(|r| r.rung).collect::<Vec<_>>(), [Rung::Supervise]);
    assert!(inbox_subjects(store, &supervisor).await.iter().any(|s| s.starts_with("【督办】")));
    let mail = store.outbox(&admin(), &OutboxQuery::default()).await.unwrap();
    let to_edu: Vec<_> = mail.iter().filter(|m| m.target == "zhou@edu.example").collect();
    assert_eq!(to_edu.len(), 1);
    assert!(to_edu[0].subject.starts_with("【督办】") && to_edu[0].body.contains("东城区第一中学"), "{:?}", to_edu[0]);
    // A full span past it: the centre's leaders.
    assert!(sweep(59).await.is_empty());
    let r = sweep(61).await;
    assert_eq!(r.iter().map(|r| r.rung).collect::<Vec<_>>(), [Rung::Escalated]);
    assert!(inbox_subjects(store, &leader).await.iter().any(|s| s.starts_with("【升级】")));
    assert!(sweep(120).await.is_empty(), "the acknowledge ladder has run out");

    // Acknowledged: that clock stops; the answer clock's reminder comes an hour before its deadline.
    store.move_notice(&operator, id, 3, &mv(Action::Acknowledge), mins(125)).await.unwrap();
    assert!(sweep(170).await.is_empty());
    let r = sweep(181).await;
    assert_eq!(r.iter().map(|r| (r.clock, r.rung)).collect::<Vec<_>>(), [("answer", Rung::Reminder)]);
    // A sweep that was away raises every step that came due, each once.
    let r = sweep(600).await;
    assert_eq!(r.iter().map(|r| r.rung).collect::<Vec<_>>(), [Rung::Overdue, Rung::Supervise, Rung::Escalated]);
    assert!(sweep(600).await.is_empty());

    let d = store.notice(&analyst, id, mins(600)).await.unwrap();
    let steps: Vec<&str> = d.timeline.iter().filter(|e| !e.reason.starts_with("report_")).map(|e| e.action.as_str()).collect();
    assert_eq!(
        steps,
        [
            "create",
            "submit",
            "approve",
            "reminder",
            "overdue",
            "supervise",
            "escalated",
            "acknowledge",
            "reminder",
            "overdue",
            "supervise",
            "escalated"
        ]
    );
    assert!(d.timeline.iter().all(|e| e.action != "supervise" || e.actor == "system:deadlines"));
    // Units do not see the centre's outbox.
    assert!(store.outbox(&operator, &OutboxQuery::default()).await.is_err());

    // The ladder is the admin's to change, and checked.
    let only_overdue = Ladder { steps: vec![Step { rung: Rung::Overdue, at_percent: 0 }] };
    assert!(store.set_ladder(&analyst, &only_overdue, "quieter").await.is_err());
    let backwards = Ladder { steps: vec![Step { rung: Rung::Supervise, at_percent: 10 }, Step { rung: Rung::Overdue, at_percent: 0 }] };
    assert!(store.set_ladder(&admin(), &backwards, "oops").await.is_err());
    store.set_ladder(&admin(), &only_overdue, "quieter").await.unwrap();
    assert_eq!(store.ladder().await.unwrap(), only_overdue);
    let id2 = store.create_notice(&analyst, &notice("S1", Level::IV), t0).await.unwrap().notice.id;
    store.move_notice(&analyst, id2, 1, &mv(Action::Issue), t0).await.unwrap();
    let far = t0 + jiff::SignedDuration::from_hours(24 * 30);
    let r = store.sweep_deadlines(far).await.unwrap().raised;
    assert_eq!(r.iter().filter(|r| r.notice_id == id2).map(|r| r.rung).collect::<Vec<_>>(), [Rung::Overdue, Rung::Overdue]);
}

pub async fn the_outbox_claims_once_backs_off_and_gives_up(store: &Store) {
    let (analyst, ..) = setup(store).await;
    let retry =
        Retry { max_attempts: 2, first: Duration::from_secs(30), longest: Duration::from_secs(60), lease: Duration::from_secs(120) };
    let t0 = at("2026-11-16T10:00:00");
    let secs = |s: i64| t0 + jiff::SignedDuration::from_secs(s);
    let id = store.create_notice(&analyst, &notice("S1", Level::IV), t0).await.unwrap().notice.id;
    store.move_notice(&analyst, id, 1, &mv(Action::Issue), t0).await.unwrap();
    // Claimed once: a second sender finds nothing while the claim holds.
    let batch = store.claim_outbox(10, secs(1), &retry).await.unwrap();
    assert_eq!(batch.iter().map(|m| m.kind).collect::<Vec<_>>(), [Via::Email, Via::Wecom]);
    assert!(batch.iter().all(|m| m.attempt == 1 && m.notice_id == Some(id)));
    assert!(store.claim_outbox(10, secs(2), &retry).await.unwrap().is_empty());
    let (mail, robot) = (batch[0].id, batch[1].id);
    store.finish_outbox(&[(mail, Attempt::Sent), (robot, Attempt::Failed("HTTP 502".into()))], secs(3), &retry).await.unwrap();
    // The failure waits out its backoff (30 s), then goes again.
    assert!(store.claim_outbox(10, secs(20), &retry).await.unwrap().is_empty());
    let again = store.claim_outbox(10, secs(34), &retry).await.unwrap();
    assert_eq!((again.len(), again[0].id, again[0].attempt), (1, robot, 2));
    // A sender that died mid-send: its claim lapses and another takes it.
    assert!(store.claim_outbox(10, secs(100), &retry).await.unwrap().is_empty());
    let lapsed = store.claim_outbox(10, secs(160), &retry).await.unwrap();
    assert_eq!((lapsed.len(), lapsed[0].attempt), (1, 3));
    store.finish_outbox(&[(robot, Attempt::Failed("HTTP 502".into()))], secs(161), &retry).await.unwrap();
    let failed = store.outbox(&admin(), &OutboxQuery { state: Some("failed".into()), ..Default::default() }).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert!(failed[0].last_error.starts_with("gave up after 3 attempts; last: HTTP 502"), "{}", failed[0].last_error);
    // A stale outcome for a message no longer claimed changes nothing.
    store.finish_outbox(&[(mail, Attempt::Failed("late".into()))], secs(170), &retry).await.unwrap();
    let sent = store.outbox(&admin(), &OutboxQuery { state: Some("sent".into()), ..Default::default() }).await.unwrap();
    assert_eq!(sent.iter().map(|m| m.id).collect::<Vec<_>>(), [mail]);
    // A refusal is final at once; a retry needs a reason and starts afresh.
    store.retry_outbox(&analyst, robot, "robot key fixed").await.unwrap();
    let b = store.claim_outbox(10, t0 + jiff::SignedDuration::from_hours(24 * 400), &retry).await.unwrap();
    assert_eq!((b.len(), b[0].attempt), (1, 1));
    store.finish_outbox(&[(robot, Attempt::Refused("errcode 93000: invalid webhook url".into()))], secs(200), &retry).await.unwrap();
    let failed = store.outbox(&admin(), &OutboxQuery { state: Some("failed".into()), ..Default::default() }).await.unwrap();
    assert_eq!(failed[0].last_error, "errcode 93000: invalid webhook url");
    assert!(store.retry_outbox(&analyst, robot, " ").await.is_err());
    assert!(store.retry_outbox(&analyst, mail, "again").await.is_err(), "a sent message is not retried");
    assert_eq!(store.outbox_counts().await.unwrap(), [("failed".to_string(), 1), ("sent".to_string(), 1)]);

    // Channel secrets reach the sender and nothing else.
    let hook = NewChannel {
        name: "hook".into(),
        kind: Via::Webhook,
        target: "https://tickets.s1.example/hook".into(),
        secret: Some("hunter2".into()),
        unit: Some("S1".into()),
        lang: None,
        events: vec![shouwang_workflow::Event::Cancelled],
        enabled: true,
    };
    let c = store.create_channel(&admin(), &hook).await.unwrap();
    assert!(c.has_secret && !format!("{c:?}").contains("hunter2"));
    let renamed = store.update_channel(&admin(), c.id, &NewChannel { name: "hook 2".into(), secret: None, ..hook }).await.unwrap();
    assert!(renamed.has_secret, "a secret left out is kept");
    let id2 = store.create_notice(&analyst, &notice("S1", Level::IV), t0).await.unwrap().notice.id;
    store.move_notice(&analyst, id2, 1, &mv(Action::Issue), t0).await.unwrap();
    let b = store.claim_outbox(10, t0 + jiff::SignedDuration::from_hours(24 * 800), &retry).await.unwrap();
    assert!(b.iter().all(|m| m.kind != Via::Webhook), "the hook only hears of cancellations");
    let cancel = Move { action: Action::Cancel, reason: "duplicate".into(), answer: None };
    store.move_notice(&analyst, id2, 2, &cancel, t0).await.unwrap();
    let b = store.claim_outbox(10, t0 + jiff::SignedDuration::from_hours(24 * 900), &retry).await.unwrap();
    let hooked: Vec<_> = b.iter().filter(|m| m.kind == Via::Webhook).collect();
    assert_eq!(hooked.len(), 1);
    assert_eq!(hooked[0].secret, "hunter2");
    assert!(hooked[0].subject.starts_with("【撤销】"));
    assert!(!format!("{b:?}").contains("hunter2"), "Debug never shows a secret");
}

pub async fn alerts_of_a_chosen_class_are_issued_without_a_human(store: &Store) {
    use shouwang_workflow::{AutoIssue, AutoRule, State};
    let (analyst, leader, operator, _) = setup(store).await;
    let rule = |name: &str, prefix: &str, level: Option<Level>| AutoRule {
        name: name.into(),
        rule_prefix: prefix.into(),
        levels: vec![],
        kind: Kind::Rectification,
        level,
        tlp: None,
    };
    // A Shadowserver row for S1 on day `d` of November (its own aggregation window).
    let ss = |level: &str, d: u8| {
        let mut h = super::hits("shadowserver:scan_rdp", Some("S1"), level, &format!("2026-11-{d}T01:00:00Z"), 1);
        h.window_start = format!("2026-11-{d}T00:00:00Z").parse().unwrap();
        h
    };
    // Nothing is automatic until the admin says so.
    store.record_alerts(&[ss("IV", 16)], &[]).await.unwrap();
    assert!(store.notices(&analyst, &Default::default(), at("2026-11-16T10:00:00")).await.unwrap().is_empty());

    let bad = AutoIssue { rules: vec![rule("everything", "", None)] };
    assert!(store.set_auto_issue_policy(&admin(), &bad, "oops").await.is_err(), "a catch-all is refused");
    let bad_tlp = AutoIssue { rules: vec![AutoRule { tlp: Some("TLP:PINK".into()), ..rule("x", "shadowserver:", None) }] };
    assert!(store.set_auto_issue_policy(&admin(), &bad_tlp, "oops").await.is_err());
    let policy =
        AutoIssue { rules: vec![rule("Shadowserver 报告", "shadowserver:", Some(Level::IV)), rule("后门", "webshell:", None)] };
    assert!(store.set_auto_issue_policy(&analyst, &policy, "x").await.is_err(), "the admin's");
    store.set_auto_issue_policy(&admin(), &policy, "省中心决定").await.unwrap();

    // A new Shadowserver report row: an issued level IV notice, numbered, messages out.
    store.record_alerts(&[ss("III", 17)], &[]).await.unwrap();
    let list = store.notices(&analyst, &Default::default(), at("2026-11-17T10:00:00")).await.unwrap();
    assert_eq!(list.len(), 1);
    let n = &list[0];
    assert_eq!((n.state, n.level, n.kind, n.unit.as_str()), (State::Issued, Level::IV, Kind::Rectification, "S1"));
    assert!(n.number.is_some() && n.created_by == "system:auto-issue", "{n:?}");
    assert!(store.inbox(&operator, false, 10).await.unwrap().iter().any(|i| i.notice_id == Some(n.id)));
    let d = store.notice(&analyst, n.id, at("2026-11-17T10:00:00")).await.unwrap();
    assert_eq!(d.timeline.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["create", "issue"]);
    assert_eq!(d.alerts.len(), 1, "the first row (before the policy) is not revisited");

    // The same problem again while the notice is open: evidence on it, not a second notice.
    store.record_alerts(&[ss("IV", 18)], &[]).await.unwrap();
    store.record_alerts(&[ss("IV", 19)], &[]).await.unwrap();
    let list = store.notices(&analyst, &Default::default(), at("2026-11-19T10:00:00")).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(store.notice(&analyst, n.id, at("2026-11-19T10:00:00")).await.unwrap().alerts.len(), 3);

    // A level I class goes to a leader for approval, never straight out.
    store.record_alerts(&[super::hits("webshell:jsp", Some("H1"), "I", "2026-11-19T02:00:00Z", 1)], &[]).await.unwrap();
    let list = store.notices(&analyst, &Default::default(), at("2026-11-19T10:00:00")).await.unwrap();
    let h1 = list.iter().find(|n| n.unit == "H1").unwrap();
    assert_eq!((h1.state, h1.level, h1.number.as_deref()), (State::AwaitingApproval, Level::I, None));
    assert!(inbox_subjects(store, &leader).await.iter().any(|s| s.starts_with("【待审批】")));
    // Other alerts, and alerts of no unit, are left to people.
    store.record_alerts(&[super::hits("sigma:x", Some("S1"), "IV", "2026-11-19T03:00:00Z", 1)], &[]).await.unwrap();
    store.record_alerts(&[super::hits("shadowserver:scan_ssh", None, "IV", "2026-11-19T03:00:00Z", 1)], &[]).await.unwrap();
    assert_eq!(store.notices(&analyst, &Default::default(), at("2026-11-19T10:00:00")).await.unwrap().len(), 2);
}

pub async fn attachments_keep_their_bytes_and_follow_the_notice(store: &Store) {
    let (analyst, _, operator, _) = setup(store).await;
    let t0 = at("2026-11-16T10:00:00");
    let id = store.create_notice(&analyst, &notice("S1", Level::IV), t0).await.unwrap().notice.id;
    // A draft is the centre's: the unit cannot see it, so cannot add to it.
    assert!(matches!(store.attach(&operator, id, "a.txt", b"x").await, Err(shouwang_store::StoreError::NotFound(_))));
    store.move_notice(&analyst, id, 1, &mv(Action::Issue), t0).await.unwrap();
    let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR binary \xff\xfe\x00 bytes".to_vec();
    let a = store.attach(&operator, id, "C:\\截图\\screen.png", &png).await.unwrap();
    assert_eq!((a.name.as_str(), a.media_type.as_str(), a.size), ("screen.png", "image/png", png.len() as i64));
    let (meta, content) = store.attachment(&analyst, id, a.id).await.unwrap();
    assert_eq!((meta, content), (a.clone(), png));
    assert_eq!(store.notice(&analyst, id, t0).await.unwrap().attachments, [a]);
    // Once closed, the unit no longer adds files.
    store.move_notice(&analyst, id, 2, &Move { action: Action::Cancel, reason: "dup".into(), answer: None }, t0).await.unwrap();
    assert!(matches!(store.attach(&operator, id, "late.txt", b"late").await, Err(shouwang_store::StoreError::Forbidden(_))));
}

pub async fn upward_reports_run_their_clocks_from_first_report_to_closure(store: &Store) {
    use shouwang_store::{NewAnswer, StoreError};
    use shouwang_workflow::{OperatorClass, Outcome, ReportItems, ReportKind};
    let (analyst, leader, operator, _) = setup(store).await;
    let h1 = Principal { username: "h1op".into(), role: Role::UnitOperator, unit: Some(UnitCode::parse("H1").unwrap()) };
    let t0 = at("2026-11-16T10:00:00");
    let mins = |m: i64| t0 + jiff::SignedDuration::from_mins(m);
    // A level II incident: approved and issued at t0 opens the clocks (an ordinary operator: 4 h).
    let id = store.create_notice(&analyst, &notice("S1", Level::II), t0).await.unwrap().notice.id;
    store.move_notice(&analyst, id, 1, &mv(Action::Submit), t0).await.unwrap();
    store.move_notice(&leader, id, 2, &mv(Action::Approve), t0).await.unwrap();
    let c = store.report_case(&operator, id, mins(10)).await.unwrap();
    assert_eq!((c.operator_class, c.first_due, c.overdue.len()), (OperatorClass::Other, mins(240), 0));
    assert_eq!(store.report_case(&analyst, id, mins(241)).await.unwrap().overdue, ["first_report"]);
    assert!(matches!(store.report_case(&h1, id, t0).await, Err(StoreError::NotFound(_))), "another unit's");

    let items = |n: usize| {
        let mut it = ReportItems::default();
        let texts = [
            "东城区第一中学 <script>alert(1)</script> 门户",
            "2026-11-16 09:40 网页被篡改，II 级",
            "可能扩散",
            "弱口令",
            "境外 IP",
            "修复",
            "已留存日志",
            "无",
        ];
        for (i, t) in texts.iter().take(n).enumerate() {
            let slot = [
                &mut it.operator_facility,
                &mut it.event,
                &mut it.further_impact,
                &mut it.cause,
                &mut it.leads,
                &mut it.measures_help,
                &mut it.evidence,
                &mut it.other,
            ];
            *slot.into_iter().nth(i).unwrap() = t.to_string();
        }
        it
    };
    assert!(matches!(store.submit_report(&operator, id, ReportKind::Supplement, &items(2), mins(20)).await, Err(StoreError::Conflict(_))));
    assert!(matches!(store.submit_report(&operator, id, ReportKind::First, &items(1), mins(20)).await, Err(StoreError::Invalid(_))));
    let c = store.submit_report(&operator, id, ReportKind::First, &items(2), mins(30)).await.unwrap();
    assert_eq!((c.first_at, c.escalate_due), (Some(mins(30)), Some(mins(90))), "level II: the centre escalates within 1 h");
    assert!(matches!(store.submit_report(&operator, id, ReportKind::First, &items(2), mins(31)).await, Err(StoreError::Conflict(_))));
    // The unit turns out to run critical information infrastructure: 1 h and 30 min.
    assert!(store.set_operator_class(&operator, id, OperatorClass::Cii, "CII", mins(35)).await.is_err(), "the centre's call");
    let c = store.set_operator_class(&analyst, id, OperatorClass::Cii, "认定为关基运营者", mins(35)).await.unwrap();
    assert_eq!((c.first_due, c.escalate_due), (mins(60), Some(mins(60))));
    assert_eq!(store.report_case(&analyst, id, mins(61)).await.unwrap().overdue, ["escalation"]);
    assert!(store.mark_escalated(&operator, id, "", mins(50)).await.is_err());
    let c = store.mark_escalated(&analyst, id, "已报国家网信办", mins(50)).await.unwrap();
    assert_eq!((c.escalated_at, c.escalated_by.as_deref()), (Some(mins(50)), Some("ana")));
    assert!(store.mark_escalated(&analyst, id, "again", mins(51)).await.is_err());
    store.submit_report(&operator, id, ReportKind::Supplement, &items(6), mins(120)).await.unwrap();
    store.submit_report(&analyst, id, ReportKind::FollowUp, &items(2), mins(180)).await.unwrap();
    assert!(
        matches!(store.submit_report(&operator, id, ReportKind::Closure, &items(8), mins(200)).await, Err(StoreError::Conflict(_))),
        "handling has not ended"
    );

    // Handling ends when the notice closes: the closure report is due in 30 days.
    store.move_notice(&operator, id, 3, &mv(Action::Acknowledge), mins(200)).await.unwrap();
    let answer = NewAnswer {
        cause: "弱口令".into(),
        measures: "修改口令".into(),
        result: "恢复".into(),
        fixed_at: None,
        outcome: Outcome::Fixed,
        accept_until: None,
    };
    store
        .move_notice(&operator, id, 4, &Move { action: Action::Answer, reason: String::new(), answer: Some(answer) }, mins(210))
        .await
        .unwrap();
    store.move_notice(&analyst, id, 5, &Move { action: Action::Close, reason: "复测通过".into(), answer: None }, mins(220)).await.unwrap();
    let c = store.report_case(&analyst, id, mins(230)).await.unwrap();
    assert_eq!(c.closure_due, Some(mins(220) + jiff::SignedDuration::from_hours(24 * 30)));
    assert!(
        matches!(store.submit_report(&operator, id, ReportKind::Closure, &items(2), mins(300)).await, Err(StoreError::Invalid(_))),
        "items 1-7"
    );
    let c = store.submit_report(&operator, id, ReportKind::Closure, &items(7), mins(300)).await.unwrap();
    assert_eq!(
        c.reports.iter().map(|r| r.kind).collect::<Vec<_>>(),
        [ReportKind::First, ReportKind::Supplement, ReportKind::FollowUp, ReportKind::Closure]
    );
    assert!(c.overdue.is_empty() && c.closure_at == Some(mins(300)));
    assert!(matches!(store.submit_report(&operator, id, ReportKind::FollowUp, &items(2), mins(301)).await, Err(StoreError::Conflict(_))));
    assert!(store.report_cases(&analyst, false, mins(302)).await.unwrap().is_empty(), "closed cases leave the list");
    assert!(store.report_cases(&operator, false, mins(302)).await.is_err());

    let html = store.report_html(&operator, id, 1).await.unwrap();
    assert!(html.contains("网络安全事件首报") && html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !html.contains("<script>"));
    let d = store.notice(&analyst, id, mins(302)).await.unwrap();
    assert_eq!(d.timeline.iter().filter(|e| e.action == "report").count(), 4);

    // Level IV incidents and rectification notices open no case.
    for n in [notice("S1", Level::IV), NewNotice { kind: Kind::Rectification, ..notice("S1", Level::III) }] {
        let id = store.create_notice(&analyst, &n, t0).await.unwrap().notice.id;
        store.move_notice(&analyst, id, 1, &mv(Action::Issue), t0).await.unwrap();
        assert!(matches!(store.report_case(&analyst, id, t0).await, Err(StoreError::NotFound(_))));
    }
    // A level III incident for a unit with no first report yet shows up as overdue after 4 h.
    let id3 = store.create_notice(&analyst, &notice("H1", Level::III), t0).await.unwrap().notice.id;
    store.move_notice(&analyst, id3, 1, &mv(Action::Issue), t0).await.unwrap();
    let late = store.report_cases(&analyst, true, mins(300)).await.unwrap();
    assert_eq!(late.iter().map(|c| (c.notice_id, c.overdue.clone())).collect::<Vec<_>>(), [(id3, vec!["first_report"])]);
}

/// The operator's reporting clocks (first report, closure report) run the
/// escalation ladder like a notice's own clocks, once per due time, and
/// stop when the report is made.
pub async fn reporting_clocks_remind_and_escalate_once(store: &Store) {
    use shouwang_store::{NewAnswer, OutboxQuery};
    use shouwang_workflow::{Outcome, ReportItems, ReportKind};
    let (analyst, _, operator, _) = setup(store).await;
    let t0 = at("2026-11-16T10:00:00");
    let mins = |m: i64| t0 + jiff::SignedDuration::from_mins(m);
    // Level III: issued at once; an ordinary operator's first report is due in 4 h.
    let id = store.create_notice(&analyst, &notice("S1", Level::III), t0).await.unwrap().notice.id;
    store.move_notice(&analyst, id, 1, &mv(Action::Issue), t0).await.unwrap();
    let report_rungs = |when: jiff::Timestamp| {
        let store = store.clone();
        async move {
            let s = store.sweep_deadlines(when).await.unwrap();
            s.raised.into_iter().filter(|r| r.clock.starts_with("report_")).map(|r| (r.clock, r.rung.as_str())).collect::<Vec<_>>()
        }
    };
    assert_eq!(report_rungs(mins(179)).await, [], "the reminder comes at the last quarter of the 4 h");
    assert_eq!(report_rungs(mins(181)).await, [("report_first", "reminder")]);
    assert_eq!(report_rungs(mins(182)).await, [], "once");
    assert_eq!(report_rungs(mins(241)).await, [("report_first", "overdue")]);
    assert_eq!(report_rungs(mins(361)).await, [("report_first", "supervise")]);
    let out = store.outbox(&admin(), &OutboxQuery { notice: Some(id), ..Default::default() }).await.unwrap();
    let mail =
        out.iter().find(|m| m.event == "reminder" && m.kind == "email" && m.key.contains("report_first")).expect("a reminder e-mail");
    assert!(mail.body.contains("事件首报期限"), "{}", mail.body);
    assert!(out.iter().any(|m| m.event == "supervise" && m.key.contains("report_first")), "督办 to the supervisor");

    // The first report stops the clock: no escalated step after it.
    let mut items = ReportItems::default();
    (items.operator_facility, items.event) = ("门户网站".into(), "网页被篡改，III 级".into());
    store.submit_report(&operator, id, ReportKind::First, &items, mins(370)).await.unwrap();
    assert_eq!(report_rungs(mins(481)).await, []);

    // Handling ends at close: the closure report is due 30 days later, reminded 7.5 days before.
    store.move_notice(&operator, id, 2, &mv(Action::Acknowledge), mins(400)).await.unwrap();
    let answer = NewAnswer {
        cause: "弱口令".into(),
        measures: "改口令".into(),
        result: "恢复".into(),
        fixed_at: None,
        outcome: Outcome::Fixed,
        accept_until: None,
    };
    let answered = Move { action: Action::Answer, reason: String::new(), answer: Some(answer) };
    store.move_notice(&operator, id, 3, &answered, mins(410)).await.unwrap();
    store.move_notice(&analyst, id, 4, &Move { action: Action::Close, reason: "复测通过".into(), answer: None }, mins(420)).await.unwrap();
    let closed = mins(420);
    let days = |d: f64| closed + jiff::SignedDuration::from_secs_f64(d * 86_400.0);
    assert_eq!(report_rungs(days(22.4)).await, []);
    assert_eq!(report_rungs(days(22.6)).await, [("report_closure", "reminder")]);
    let all = ReportItems {
        further_impact: "无".into(),
        cause: "弱口令".into(),
        leads: "无".into(),
        measures_help: "已修复".into(),
        evidence: "日志".into(),
        ..items
    };
    store.submit_report(&operator, id, ReportKind::Closure, &all, days(25.0)).await.unwrap();
    assert_eq!(report_rungs(days(31.0)).await, [], "made: no overdue");
}
