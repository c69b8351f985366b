//! Notices: the loop, deadlines on the business calendar, tenancy and
//! concurrency, on both backends. Time is passed in, never slept.

use shouwang_registry::UnitCode;
use shouwang_store::{AlertQuery, FromAlerts, Move, NewAnswer, NewNotice, NoticeQuery, Principal, Role, Store, StoreError};
use shouwang_workflow::{Action, Breach, Kind, Level, Outcome, State};

use super::{admin, base, hits};

fn centre(role: Role, name: &str) -> Principal {
    Principal { username: name.into(), role, unit: None }
}

fn unit(role: Role, u: &str) -> Principal {
    Principal { username: format!("{u}-user"), role, unit: Some(UnitCode::parse(u).unwrap()) }
}

fn at(s: &str) -> jiff::Timestamp {
    format!("{s}+08:00").parse().unwrap()
}

fn mv(action: Action, reason: &str) -> Move {
    Move { action, reason: reason.into(), answer: None }
}

fn answer(outcome: Outcome) -> Move {
    Move {
        action: Action::Answer,
        reason: String::new(),
        answer: Some(NewAnswer {
            cause: "弱口令".into(),
            measures: "修改口令并关闭对外端口".into(),
            result: "复测正常".into(),
            fixed_at: None,
            outcome,
            accept_until: None,
        }),
    }
}

/// Three alerts: two on S1 (levels IV and III), one on H1.
async fn alerts(store: &Store) -> Vec<i64> {
    base(store).await;
    store
        .record_alerts(
            &[
                hits("r1", Some("S1"), "IV", "2026-11-16T01:00:00Z", 3),
                hits("r2", Some("S1"), "III", "2026-11-16T01:10:00Z", 1),
                hits("r1", Some("H1"), "IV", "2026-11-16T01:20:00Z", 1),
            ],
            &[],
        )
        .await
        .unwrap();
    let mut ids: Vec<i64> = store.alerts(&admin(), &AlertQuery::default()).await.unwrap().iter().map(|a| a.id).collect();
    ids.sort();
    ids
}

pub async fn notices_go_round_the_loop_on_the_calendar(store: &Store) {
    let ids = alerts(store).await;
    let analyst = centre(Role::Analyst, "ana");
    let s1 = unit(Role::UnitOperator, "S1");
    let h1 = unit(Role::UnitOperator, "H1");
    // Monday 16 November 2026, 10:00 Beijing time.
    let t0 = at("2026-11-16T10:00");
    let from =
        FromAlerts { kind: Kind::Rectification, alerts: ids.clone(), title: None, level: None, summary: None, actions: None, tlp: None };
    let made = store.notices_from_alerts(&analyst, &from, t0).await.unwrap();
    assert_eq!(made.iter().map(|n| n.notice.unit.as_str()).collect::<Vec<_>>(), ["H1", "S1"], "one notice per unit");
    let n = made.into_iter().find(|n| n.notice.unit == "S1").unwrap();
    assert_eq!((n.notice.level, n.notice.state, n.notice.number.as_deref()), (Level::III, State::Draft, None));
    assert_eq!(n.alerts.len(), 2);
    assert_eq!(n.notice.title, "rule r2", "the most severe alert names it");
    assert_eq!(n.notice.assets, ["cidr:S1"]);
    assert_eq!(n.allowed, [Action::Submit, Action::Issue, Action::Cancel]);
    let id = n.notice.id;
    // A unit does not see drafts.
    assert!(matches!(store.notice(&s1, id, t0).await, Err(StoreError::NotFound(_))));
    assert!(store.notices(&s1, &NoticeQuery::default(), t0).await.unwrap().is_empty());
    // Issued: numbered in the year's series; level III acknowledges within
    // 4 hours and answers within 3 working days.
    let n = store.move_notice(&analyst, id, 1, &mv(Action::Issue, ""), t0).await.unwrap();
    assert_eq!(n.notice.number.as_deref(), Some("2026-0001"));
    assert_eq!(n.notice.acknowledge_due, Some(at("2026-11-16T14:00")));
    assert_eq!(n.notice.answer_due, Some(at("2026-11-19T10:00")));
    // A stale version is refused; so is an action the state does not allow,
    // with what is allowed.
    let e = store.move_notice(&s1, id, 1, &mv(Action::Acknowledge, ""), t0).await.unwrap_err();
    assert!(matches!(e, StoreError::Stale(_)), "{e}");
    let e = store.move_notice(&s1, id, 2, &mv(Action::Answer, ""), t0).await.unwrap_err();
    assert!(e.to_string().contains("needs the answer"), "{e}");
    let e = store.move_notice(&s1, id, 2, &answer(Outcome::Fixed), t0).await.unwrap_err();
    assert_eq!(e.to_string(), "conflict: cannot answer a level III notice that is issued; allowed: acknowledge, cancel");
    // Another unit cannot see it, act on it, or learn it exists; the attempt is audited.
    assert!(matches!(store.notice(&h1, id, t0).await, Err(StoreError::NotFound(_))));
    assert!(matches!(store.move_notice(&h1, id, 2, &mv(Action::Acknowledge, ""), t0).await, Err(StoreError::NotFound(_))));
    let denied = store.audit_entries(&admin(), 100).await.unwrap();
    assert_eq!(denied.iter().filter(|e| e.action == "notice.denied" && e.actor == "H1-user").count(), 2);
    // The supervising bureau sees it (sector line) but cannot act for the unit.
    let edu = unit(Role::Supervisor, "C1-EDU");
    assert_eq!(store.notices(&edu, &NoticeQuery::default(), t0).await.unwrap().len(), 1);
    assert!(matches!(store.move_notice(&edu, id, 2, &mv(Action::Acknowledge, ""), t0).await, Err(StoreError::Forbidden(_))));
    // Late to acknowledge at 14:01: overdue, and listed as such.
    let overdue = NoticeQuery { overdue: true, ..Default::default() };
    assert_eq!(store.notices(&analyst, &overdue, at("2026-11-16T14:00")).await.unwrap().len(), 0);
    let late = store.notices(&analyst, &overdue, at("2026-11-16T14:01")).await.unwrap();
    assert_eq!((late.len(), late[0].overdue), (1, Some(Breach::Acknowledge)));
    assert_eq!(store.breached_notices(at("2026-11-16T14:00")).await.unwrap(), []);
    assert_eq!(store.breached_notices(at("2026-11-16T14:01")).await.unwrap(), [(id, Breach::Acknowledge)]);
    let n = store.move_notice(&s1, id, 2, &mv(Action::Acknowledge, ""), at("2026-11-16T14:30")).await.unwrap();
    assert_eq!(n.notice.overdue, None);
    assert_eq!(n.allowed, [Action::Start, Action::Answer], "the unit's own next steps");
    let n = store.move_notice(&s1, id, 3, &mv(Action::Start, ""), at("2026-11-16T15:00")).await.unwrap();
    // Answered Wednesday 10:00 with a working day left; the clock stops
    // while the centre verifies, however long it takes.
    let n = store.move_notice(&s1, id, n.notice.version, &answer(Outcome::Fixed), at("2026-11-18T10:00")).await.unwrap();
    assert!(n.notice.answer_paused);
    assert!(store.notices(&analyst, &overdue, at("2026-11-30T10:00")).await.unwrap().is_empty());
    let e = store.move_notice(&analyst, id, n.notice.version, &mv(Action::Return, " "), at("2026-11-23T10:00")).await.unwrap_err();
    assert!(e.to_string().contains("return needs a reason"), "{e}");
    // Returned Monday 23rd 10:00: the day left runs to Tuesday 10:00.
    let n = store.move_notice(&analyst, id, n.notice.version, &mv(Action::Return, "复测仍可登录"), at("2026-11-23T10:00")).await.unwrap();
    assert_eq!((n.notice.state, n.notice.answer_due, n.notice.answer_paused), (State::Returned, Some(at("2026-11-24T10:00")), false));
    let late = store.notices(&analyst, &overdue, at("2026-11-24T10:01")).await.unwrap();
    assert_eq!(late[0].overdue, Some(Breach::Answer));
    assert_eq!(store.breached_notices(at("2026-11-24T10:01")).await.unwrap(), [(id, Breach::Answer)]);
    let n = store.move_notice(&s1, id, n.notice.version, &answer(Outcome::Fixed), at("2026-11-24T11:00")).await.unwrap();
    let n = store.move_notice(&analyst, id, n.notice.version, &mv(Action::Close, "复测通过"), at("2026-11-25T09:00")).await.unwrap();
    assert_eq!((n.notice.state, n.notice.outcome), (State::Closed, Some(Outcome::Fixed)));
    assert_eq!(store.notice(&analyst, id, at("2026-11-25T09:00")).await.unwrap().answers.len(), 2);
    // The problem came back: reopened, same number, clocks restarted.
    let n = store.move_notice(&analyst, id, n.notice.version, &mv(Action::Reopen, "再次检测到"), at("2026-12-01T09:00")).await.unwrap();
    assert_eq!((n.notice.state, n.notice.reopened, n.notice.number.as_deref()), (State::Issued, 1, Some("2026-0001")));
    assert_eq!(n.notice.acknowledge_due, Some(at("2026-12-01T13:00")));
    assert_eq!(n.notice.outcome, None);
    let timeline = store.notice(&analyst, id, at("2026-12-01T09:00")).await.unwrap().timeline;
    let steps: Vec<&str> = timeline.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(steps, ["create", "issue", "acknowledge", "start", "answer", "return", "answer", "close", "reopen"]);
    // The timeline cannot be rewritten.
    assert!(sqlx::query("UPDATE notice_log SET reason = 'x'").execute(store.pool()).await.is_err());
    assert!(sqlx::query("DELETE FROM notice_log").execute(store.pool()).await.is_err());
    let audited = store.audit_entries(&admin(), 1000).await.unwrap();
    let mine: Vec<&str> = audited.iter().rev().filter(|e| e.target == format!("notice:{id}")).map(|e| e.action.as_str()).collect();
    assert_eq!(
        mine,
        [
            "notice.create",
            "notice.denied",
            "notice.issue",
            "notice.denied",
            "notice.denied",
            "notice.acknowledge",
            "notice.start",
            "notice.answer",
            "notice.return",
            "notice.answer",
            "notice.close",
            "notice.reopen",
        ],
        "every move and every refused look (S1 at its draft, H1 twice), in order"
    );
}

pub async fn high_levels_need_a_leader_and_numbers_run_per_year(store: &Store) {
    let ids = alerts(store).await;
    let analyst = centre(Role::Analyst, "ana");
    let leader = centre(Role::Leader, "boss");
    let t = at("2026-12-31T23:00");
    let new = |level| NewNotice {
        kind: Kind::Incident,
        unit: "H1".into(),
        title: "勒索软件事件".into(),
        summary: "<script>alert(1)</script>".into(),
        actions: String::new(),
        category: Some("MPRANS".into()),
        level,
        tlp: Some("red".into()),
        assets: vec![],
        alerts: vec![ids[2]],
    };
    let n = store.create_notice(&analyst, &new(Level::I), t).await.unwrap();
    assert_eq!(n.notice.tlp, "TLP:RED");
    assert_eq!(n.notice.summary, "<script>alert(1)</script>", "kept as written; escaping is the output's job");
    assert!(n.notice.actions.starts_with("请立即核查"), "default actions for an incident");
    let id = n.notice.id;
    let e = store.move_notice(&analyst, id, 1, &mv(Action::Issue, ""), t).await.unwrap_err();
    assert!(e.to_string().ends_with("allowed: submit, cancel"), "{e}");
    store.move_notice(&analyst, id, 1, &mv(Action::Submit, ""), t).await.unwrap();
    assert!(matches!(store.move_notice(&analyst, id, 2, &mv(Action::Approve, ""), t).await, Err(StoreError::Forbidden(_))));
    assert!(matches!(store.move_notice(&admin(), id, 2, &mv(Action::Approve, ""), t).await, Err(StoreError::Forbidden(_))));
    let n = store.move_notice(&leader, id, 2, &mv(Action::Approve, "同意下发"), t).await.unwrap();
    assert_eq!((n.notice.state, n.notice.approved_by.as_deref()), (State::Issued, Some("boss")));
    assert_eq!(n.notice.number.as_deref(), Some("2026-0001"));
    assert_eq!(n.notice.acknowledge_due, Some(at("2026-12-31T23:30")), "level I: 30 minutes, wall clock");
    // Reading TLP:RED material is audited.
    store.notice(&leader, id, t).await.unwrap();
    assert!(store.audit_entries(&admin(), 100).await.unwrap().iter().any(|e| e.action == "notice.view" && e.actor == "boss"));
    // Evidence must be the unit's own alerts.
    let mut wrong = new(Level::IV);
    wrong.alerts = vec![ids[0]];
    assert!(store.create_notice(&analyst, &wrong, t).await.unwrap_err().to_string().contains("is not unit H1's"));
    // New year, new series (Beijing time: 2027 starts at 16:00 UTC).
    let n = store.create_notice(&analyst, &new(Level::IV), t).await.unwrap();
    let n = store.move_notice(&analyst, n.notice.id, 1, &mv(Action::Issue, ""), at("2027-01-01T00:00")).await.unwrap();
    assert_eq!(n.notice.number.as_deref(), Some("2027-0001"));
    // Bad input is named.
    for (notice, why) in [
        (NewNotice { title: " ".into(), ..new(Level::IV) }, "needs a title"),
        (NewNotice { title: "a\u{7}b".into(), ..new(Level::IV) }, "U+0007"),
        (NewNotice { unit: "NOPE".into(), ..new(Level::IV) }, "not in the registry"),
        (NewNotice { tlp: Some("pink".into()), ..new(Level::IV) }, "not a TLP 2.0 label"),
        (NewNotice { category: Some("mp; drop".into()), ..new(Level::IV) }, "not a GB/T 20986 code"),
        (NewNotice { alerts: vec![999_999], ..new(Level::IV) }, "does not exist"),
    ] {
        let e = store.create_notice(&analyst, &notice, t).await.unwrap_err();
        assert!(e.to_string().contains(why), "{e} should say {why}");
    }
    let unit_op = unit(Role::UnitOperator, "H1");
    assert!(matches!(store.create_notice(&unit_op, &new(Level::IV), t).await, Err(StoreError::Forbidden(_))));
}

pub async fn concurrent_moves_on_one_version_let_one_through(store: &Store) {
    let ids = alerts(store).await;
    let analyst = centre(Role::Analyst, "ana");
    let t = at("2026-11-16T10:00");
    let from = FromAlerts { kind: Kind::Incident, alerts: vec![ids[2]], title: None, level: None, summary: None, actions: None, tlp: None };
    let id = store.notices_from_alerts(&analyst, &from, t).await.unwrap()[0].notice.id;
    store.move_notice(&analyst, id, 1, &mv(Action::Issue, ""), t).await.unwrap();
    let h1 = unit(Role::UnitOperator, "H1");
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, h1) = (store.clone(), h1.clone());
            let action = if i % 2 == 0 { mv(Action::Acknowledge, "") } else { mv(Action::Cancel, "撤回") };
            let who = if i % 2 == 0 { h1 } else { centre(Role::Analyst, "ana") };
            tokio::spawn(async move { store.move_notice(&who, id, 2, &action, t).await })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::Stale(_)) => {}
            Err(e) => panic!("expected success or stale, got {e}"),
        }
    }
    assert_eq!(ok, 1, "exactly one move on version 2 wins");
    let n = store.notice(&analyst, id, t).await.unwrap();
    assert_eq!((n.notice.version, n.timeline.len()), (3, 3));
}

/// Moves that arrive together are written together (on SQLite, one
/// transaction per group), yet each keeps its own outcome: the good ones
/// land, a stale, an illegal, another unit's and a missing one are refused
/// alone, and the audit chain stays whole.
pub async fn moves_written_together_each_keep_their_own_outcome(store: &Store) {
    base(store).await;
    let analyst = centre(Role::Analyst, "ana");
    let t = at("2026-11-16T10:00");
    let new = |unit: &str| NewNotice {
        kind: Kind::Rectification,
        unit: unit.into(),
        title: "弱口令".into(),
        summary: String::new(),
        actions: String::new(),
        category: None,
        level: Level::IV,
        tlp: None,
        assets: vec![],
        alerts: vec![],
    };
    // More moves than one group takes (64), so some wait for a second group.
    let mut ids = Vec::new();
    for i in 0..150 {
        let id = store.create_notice(&analyst, &new(if i % 2 == 0 { "H1" } else { "S1" }), t).await.unwrap().notice.id;
        store.move_notice(&analyst, id, 1, &mv(Action::Issue, ""), t).await.unwrap();
        ids.push(id);
    }
    let missing = ids.iter().max().unwrap() + 1_000;
    // (who, notice, version, action, expected outcome)
    let mut asks = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        let own = unit(Role::UnitOperator, if i % 2 == 0 { "H1" } else { "S1" });
        let other = unit(Role::UnitOperator, if i % 2 == 0 { "S1" } else { "H1" });
        asks.push(match i % 6 {
            1 => (own, id, 1, mv(Action::Acknowledge, ""), "stale"),
            3 => (own, id, 2, answer(Outcome::Fixed), "conflict"),
            5 => (other, id, 2, mv(Action::Acknowledge, ""), "not found"),
            _ => (own, id, 2, mv(Action::Acknowledge, ""), "ok"),
        });
    }
    asks.push((unit(Role::UnitOperator, "H1"), missing, 1, mv(Action::Acknowledge, ""), "not found"));
    let tasks: Vec<_> = asks
        .into_iter()
        .map(|(who, id, version, action, want)| {
            let store = store.clone();
            tokio::spawn(async move { (id, want, store.move_notice(&who, id, version, &action, t).await) })
        })
        .collect();
    for task in tasks {
        let (id, want, got) = task.await.unwrap();
        match (want, got) {
            ("ok", Ok(m)) => assert_eq!((m.notice.state, m.notice.version), (State::Acknowledged, 3), "notice {id}"),
            ("stale", Err(StoreError::Stale(_)))
            | ("conflict", Err(StoreError::Conflict(_)))
            | ("not found", Err(StoreError::NotFound(_))) => {}
            (want, got) => panic!("notice {id}: expected {want}, got {got:?}"),
        }
    }
    for (i, &id) in ids.iter().enumerate() {
        let n = store.notice(&analyst, id, t).await.unwrap();
        let moved = !matches!(i % 6, 1 | 3 | 5);
        assert_eq!(n.notice.version, if moved { 3 } else { 2 }, "notice {id}");
        assert_eq!(n.timeline.len(), if moved { 3 } else { 2 }, "notice {id}");
    }
    let audit = store.audit_entries(&admin(), 1_000).await.unwrap();
    assert_eq!(audit.iter().filter(|e| e.action == "notice.acknowledge").count(), 75);
    // Another unit's 25 attempts; a notice that does not exist is not a denial.
    assert_eq!(audit.iter().filter(|e| e.action == "notice.denied").count(), 25);
    assert!(store.verify_audit(&admin(), None).await.unwrap().intact());
}

pub async fn the_calendar_and_policy_are_data_the_admin_edits(store: &Store) {
    let ids = alerts(store).await;
    let analyst = centre(Role::Analyst, "ana");
    let days = store.calendar_days(&analyst).await.unwrap();
    assert!(days.iter().any(|d| d.date.to_string() == "2026-10-10" && d.name == "国庆节调休上班"));
    // Suppose 2026-11-17 were declared a holiday.
    assert!(matches!(
        store.set_calendar_day(&analyst, "2026-11-17".parse().unwrap(), Some(shouwang_workflow::DayKind::Holiday), "x", "r").await,
        Err(StoreError::Forbidden(_))
    ));
    store
        .set_calendar_day(&admin(), "2026-11-17".parse().unwrap(), Some(shouwang_workflow::DayKind::Holiday), "临时放假", "test")
        .await
        .unwrap();
    let e = store.set_deadline_policy(&admin(), "level,acknowledge,answer\nI,30m,4h\n", "x").await.unwrap_err();
    assert!(e.to_string().contains("level II is missing"), "{e}");
    store
        .set_deadline_policy(&admin(), "level,acknowledge,answer\nI,30m,4h\nII,1h,1d\nIII,1wd,2wd\nIV,1wd,2wd\n", "shorter")
        .await
        .unwrap();
    let from = FromAlerts { kind: Kind::Incident, alerts: vec![ids[2]], title: None, level: None, summary: None, actions: None, tlp: None };
    let id = store.notices_from_alerts(&analyst, &from, at("2026-11-16T10:00")).await.unwrap()[0].notice.id;
    let n = store.move_notice(&analyst, id, 1, &mv(Action::Issue, ""), at("2026-11-16T10:00")).await.unwrap();
    // Monday 10:00 + 1 working day skips the new holiday: Wednesday 10:00.
    assert_eq!(n.notice.acknowledge_due, Some(at("2026-11-18T10:00")));
    assert_eq!(n.notice.answer_due, Some(at("2026-11-19T10:00")));
    assert!(store.audit_entries(&admin(), 10).await.unwrap().iter().any(|e| e.action == "calendar.set"));
}

pub async fn notice_filters_and_the_board_match_a_plain_scan(store: &Store) {
    alerts(store).await;
    let analyst = centre(Role::Analyst, "ana");
    let leader = centre(Role::Leader, "boss");
    let levels = [Level::I, Level::II, Level::III, Level::IV];
    let units = ["S1", "H1", "S2"];
    let mut minute = 0;
    let mut tick = || {
        minute += 1;
        jiff::Timestamp::from_second(at("2026-11-02T09:00").as_second() + minute * 60).unwrap()
    };
    for i in 0..48 {
        let level = levels[i % 4];
        let n = NewNotice {
            kind: if i % 3 == 0 { Kind::Incident } else { Kind::Rectification },
            unit: units[i % 3].into(),
            title: format!("n{i}"),
            summary: String::new(),
            actions: String::new(),
            category: None,
            level,
            tlp: None,
            assets: vec![],
            alerts: vec![],
        };
        let id = store.create_notice(&analyst, &n, tick()).await.unwrap().notice.id;
        // A spread of states: drafts, issued, acknowledged, answered.
        if i % 5 == 0 {
            continue;
        }
        let v = if shouwang_workflow::needs_approval(level) {
            store.move_notice(&analyst, id, 1, &mv(Action::Submit, ""), tick()).await.unwrap();
            store.move_notice(&leader, id, 2, &mv(Action::Approve, "ok"), tick()).await.unwrap().notice.version
        } else {
            store.move_notice(&analyst, id, 1, &mv(Action::Issue, ""), tick()).await.unwrap().notice.version
        };
        let op = unit(Role::UnitOperator, units[i % 3]);
        if i % 5 >= 2 {
            let v = store.move_notice(&op, id, v, &mv(Action::Acknowledge, ""), tick()).await.unwrap().notice.version;
            if i % 5 == 4 {
                store.move_notice(&op, id, v, &answer(Outcome::Fixed), tick()).await.unwrap();
            }
        }
    }
    // Late enough that the level I–II clocks (hours) have run out and the
    // III–IV ones (working days) have not.
    let now = at("2026-11-03T09:00");
    let all = store.notices(&analyst, &NoticeQuery { limit: Some(1000), ..Default::default() }, now).await.unwrap();
    assert_eq!(all.len(), 48);
    for state in [None, Some("issued"), Some("issued,acknowledged"), Some("draft,answered,closed")] {
        for level in [None, Some("I"), Some("III,IV"), Some("II,I")] {
            for overdue in [false, true] {
                for (limit, offset) in [(7, 0), (7, 5), (100, 0)] {
                    let q = NoticeQuery {
                        state: state.map(str::to_string),
                        level: level.map(str::to_string),
                        overdue,
                        limit: Some(limit),
                        offset: Some(offset),
                        ..Default::default()
                    };
                    let got: Vec<i64> = store.notices(&analyst, &q, now).await.unwrap().iter().map(|n| n.id).collect();
                    let want: Vec<i64> = all
                        .iter()
                        .filter(|n| state.is_none_or(|s| s.split(',').any(|s| s == n.state.as_str())))
                        .filter(|n| level.is_none_or(|l| l.split(',').any(|l| l == n.level.as_str())))
                        .filter(|n| !overdue || n.overdue.is_some())
                        .skip(offset as usize)
                        .take(limit as usize)
                        .map(|n| n.id)
                        .collect();
                    assert_eq!(got, want, "state {state:?} level {level:?} overdue {overdue} limit {limit} offset {offset}");
                }
            }
        }
    }
    let overdue = all.iter().filter(|n| n.overdue.is_some()).count();
    assert!(overdue > 0 && overdue < 48, "{overdue} overdue: the test must have both");
    let mut breached: Vec<i64> = store.breached_notices(now).await.unwrap().iter().map(|(id, _)| *id).collect();
    breached.sort();
    let mut want: Vec<i64> = all.iter().filter(|n| n.overdue.is_some()).map(|n| n.id).collect();
    want.sort();
    assert_eq!(breached, want);

    // The situation board's figures, against the same scan.
    let board = store.board(&leader, now).await.unwrap();
    let issued = [State::Issued, State::Acknowledged, State::InProgress, State::Answered, State::Returned];
    let open: Vec<_> = all.iter().filter(|n| issued.contains(&n.state)).collect();
    let lvl = |l: &str| ["I", "II", "III", "IV"].iter().position(|x| *x == l).unwrap();
    let (mut want_open, mut want_late) = ([0i64; 4], [0i64; 4]);
    for n in &open {
        want_open[lvl(n.level.as_str())] += 1;
        want_late[lvl(n.level.as_str())] += i64::from(n.overdue.is_some());
    }
    assert_eq!((board.open, board.overdue), (want_open, want_late));
    assert!(want_late.iter().sum::<i64>() > 0 && want_open.iter().sum::<i64>() > 0);
    // Units ranked by weighted open notices (I 1000 … IV 1; +1000 per overdue).
    let score = |u: &str| {
        open.iter()
            .filter(|n| n.unit == u)
            .map(|n| [1000, 100, 10, 1][lvl(n.level.as_str())] + if n.overdue.is_some() { 1000 } else { 0 })
            .sum::<i64>()
    };
    let mut want_rank: Vec<(String, i64)> = units.iter().map(|u| (u.to_string(), score(u))).collect();
    want_rank.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let got_rank: Vec<(String, i64)> = board.units_at_risk.iter().map(|u| (u.code.clone(), u.score)).collect();
    assert_eq!(got_rank, want_rank);
    // Regions sum what is below them: S1 is in D1 under C1, S2 in C2, H1 in D1; all under P.
    let region = |code: &str| board.regions.iter().find(|r| r.code == code).map_or(0, |r| r.open.iter().sum::<i64>());
    let count = |us: &[&str]| open.iter().filter(|n| us.contains(&n.unit.as_str())).count() as i64;
    assert_eq!(region("D1"), count(&["S1", "H1"]));
    assert_eq!(region("C1"), count(&["S1", "H1"]));
    assert_eq!(region("C2"), count(&["S2"]));
    assert_eq!(region("P"), open.len() as i64);
    // The alerts of the last day by level; these three are all after `now - 24h`.
    assert_eq!(board.alerts_by_level, [0, 0, 1, 2]);
    // The board is the centre's: a unit's operator is refused.
    assert!(matches!(store.board(&unit(Role::UnitOperator, "S1"), now).await, Err(StoreError::Forbidden(_))));
}

pub async fn a_closed_notice_reopens_when_its_problem_comes_back(store: &Store) {
    let ids = alerts(store).await;
    let analyst = centre(Role::Analyst, "ana");
    let s1 = unit(Role::UnitOperator, "S1");
    // Two notices for S1: rule r1's alert closed as fixed, rule r2's as a false positive.
    let mut closed = Vec::new();
    for (alert, outcome) in [(ids[0], Outcome::Fixed), (ids[1], Outcome::FalsePositive)] {
        let from =
            FromAlerts { kind: Kind::Incident, alerts: vec![alert], title: None, level: None, summary: None, actions: None, tlp: None };
        let id = store.notices_from_alerts(&analyst, &from, at("2026-11-16T10:00")).await.unwrap()[0].notice.id;
        let mut v = store.move_notice(&analyst, id, 1, &mv(Action::Issue, ""), at("2026-11-16T10:00")).await.unwrap().notice.version;
        v = store.move_notice(&s1, id, v, &mv(Action::Acknowledge, ""), at("2026-11-16T11:00")).await.unwrap().notice.version;
        v = store.move_notice(&s1, id, v, &answer(outcome), at("2026-11-17T11:00")).await.unwrap().notice.version;
        store.move_notice(&analyst, id, v, &mv(Action::Close, "ok"), at("2026-11-18T10:00")).await.unwrap();
        closed.push(id);
    }
    // Late events from before the close reopen nothing.
    store.record_alerts(&[hits("r1", Some("S1"), "IV", "2026-11-17T00:00:00Z", 1)], &[]).await.unwrap();
    assert_eq!(store.notice(&analyst, closed[0], at("2026-11-19T10:00")).await.unwrap().notice.state, State::Closed);
    // Both problems are seen again after the close, in a new window.
    let mut r1 = hits("r1", Some("S1"), "IV", "2026-11-20T02:00:00Z", 2);
    let mut r2 = hits("r2", Some("S1"), "III", "2026-11-20T02:00:00Z", 2);
    r1.window_start = "2026-11-20T02:00:00Z".parse().unwrap();
    r2.window_start = r1.window_start;
    store.record_alerts(&[r1, r2], &[]).await.unwrap();
    let fixed = store.notice(&analyst, closed[0], at("2026-11-20T10:00")).await.unwrap();
    assert_eq!((fixed.notice.state, fixed.notice.reopened), (State::Issued, 1));
    assert_eq!(fixed.alerts.len(), 2, "the new alert is linked as evidence");
    let last = fixed.timeline.last().unwrap();
    assert_eq!((last.actor.as_str(), last.action.as_str()), ("system:detection", "reopen"));
    assert!(last.reason.starts_with("detected again: r1 on cidr:S1"), "{}", last.reason);
    let fp = store.notice(&analyst, closed[1], at("2026-11-20T10:00")).await.unwrap();
    assert_eq!(fp.notice.state, State::Closed, "a false positive the centre accepted stays closed");
    // The unit sees the reopened notice and must acknowledge again.
    let n = store.notice(&s1, closed[0], at("2026-11-20T10:00")).await.unwrap();
    assert_eq!(n.allowed, [Action::Acknowledge]);
}
