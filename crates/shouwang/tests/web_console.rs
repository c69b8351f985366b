//! The web console through real HTTP, as a browser without JavaScript
//! would use it: cookies, forms, redirects. The security cases of the
//! console issue live here: CSRF forgery, session fixation, escaping,
//! over-long input, open redirects, other tenants' records, brute force.

use std::collections::HashMap;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use shouwang_store::{Move, NewNotice, NewUser, Principal, Role};

use crate::helpers::{App, spawn_app, spawn_app_with, write_files};

const PW: &str = "Console test 2026!";

/// A cookie-keeping client that does not follow redirects, so each
/// response can be checked.
struct Browser<'a> {
    app: &'a App,
    client: reqwest::Client,
    cookies: HashMap<String, String>,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

impl<'a> Browser<'a> {
    fn new(app: &'a App) -> Browser<'a> {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { app, client, cookies: HashMap::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn keep(&mut self, r: reqwest::Response) -> Page {
        for c in r.headers().get_all(SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (kv, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            assert!(attrs.contains("HttpOnly") && attrs.contains("Secure") && attrs.contains("SameSite=Lax"), "{c}");
            if v.is_empty() {
                self.cookies.remove(k)
            } else {
                self.cookies.insert(k.to_string(), v.to_string())
            };
        }
        let status = r.status();
        let location = r.headers().get(LOCATION).map(|l| l.to_str().unwrap().to_string());
        Page { status, location, body: r.text().await.unwrap() }
    }

    async fn get(&mut self, path: &str) -> Page {
        let r = self.client.get(format!("{}{path}", self.app.addr)).header(COOKIE, self.cookie_header()).send().await.unwrap();
        self.keep(r).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let r = self.client.post(format!("{}{path}", self.app.addr)).header(COOKIE, self.cookie_header()).form(form).send().await.unwrap();
        self.keep(r).await
    }

    /// The CSRF token the last page's forms carry.
    fn csrf_of(page: &Page) -> String {
        let at = page.body.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
        page.body[at..at + 64].to_string()
    }

    async fn sign_in(&mut self, user: &str, password: &str, next: &str) -> Page {
        let login = self.get(&format!("/login?next={}", url_enc(next))).await;
        let csrf = Self::csrf_of(&login);
        self.post("/login", &[("username", user), ("password", password), ("csrf", &csrf), ("next", next)]).await
    }
}

fn url_enc(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

async fn person(app: &App, name: &str, role: Role, unit: Option<&str>) {
    let unit = unit.map(|u| shouwang_registry::UnitCode::parse(u).unwrap());
    let u = NewUser { username: name.into(), display_name: format!("<b>{name}</b>"), role, unit, password: Some(PW.into()) };
    app.store.create_user(&Principal::local("t"), u).await.unwrap();
}

/// A notice for S1, issued, whose text fields all carry script.
async fn hostile_notice(app: &App) -> i64 {
    let n: NewNotice = serde_json::from_value(serde_json::json!({
        "kind": "incident", "unit": "S1", "level": "III",
        "title": "<script>alert('title')</script>", "summary": "<img src=x onerror=alert(1)>",
        "actions": "\"><svg onload=alert(2)>", "assets": ["192.0.2.10"],
    }))
    .unwrap();
    let p = Principal::local("t");
    let d = app.store.create_notice(&p, &n, jiff::Timestamp::now()).await.unwrap();
    let issue: Move = serde_json::from_value(serde_json::json!({ "action": "issue" })).unwrap();
    app.store.move_notice(&p, d.notice.id, d.notice.version, &issue, jiff::Timestamp::now()).await.unwrap();
    d.notice.id
}

async fn state_of(app: &App, id: i64) -> String {
    app.store.notice(&Principal::local("t"), id, jiff::Timestamp::now()).await.unwrap().notice.state.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_acknowledges_and_answers_and_nothing_forged_gets_through() {
    let app = spawn_app().await;
    app.seed_registry().await;
    person(&app, "ops-s1", Role::UnitOperator, Some("S1")).await;
    person(&app, "ops-h1", Role::UnitOperator, Some("H1")).await;
    let id = hostile_notice(&app).await;

    let mut s1 = Browser::new(&app);
    let home = s1.sign_in("ops-s1", PW, "/").await;
    assert_eq!((home.status, home.location.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
    assert_eq!(s1.get("/").await.location.as_deref(), Some("/notices"));
    let list = s1.get("/notices").await;
    assert_eq!(list.status, StatusCode::OK);
    // Script in every field is text, on the list and the notice and the print.
    assert!(list.body.contains("&#60;script&#62;alert(&#39;title&#39;)&#60;/script&#62;"), "{}", list.body);
    let page = s1.get(&format!("/notices/{id}")).await;
    let print = s1.get(&format!("/notices/{id}/print")).await;
    for body in [&list.body, &page.body, &print.body] {
        for raw in ["<script>alert", "<img src=x", "<svg onload", "<b>ops-s1</b>"] {
            assert!(!body.contains(raw), "unescaped `{raw}`");
        }
    }
    assert!(page.body.contains("&#60;img src=x onerror=alert(1)&#62;"));
    let csrf = Browser::csrf_of(&page);

    // Forged: a wrong token, no token, a token from another session, a cross-site request.
    let mut h1 = Browser::new(&app);
    h1.sign_in("ops-h1", PW, "/").await;
    let other_csrf = Browser::csrf_of(&h1.get("/notices").await);
    let path = format!("/notices/{id}/move");
    for token in ["0".repeat(64).as_str(), "", other_csrf.as_str()] {
        let r = s1.post(&path, &[("csrf", token), ("action", "acknowledge"), ("version", "2")]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "token {token:?}");
    }
    let r = s1.post(&path, &[("action", "acknowledge"), ("version", "2")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let cross = s1
        .client
        .post(format!("{}{path}", app.addr))
        .header(COOKIE, s1.cookie_header())
        .header("sec-fetch-site", "cross-site")
        .form(&[("csrf", csrf.as_str()), ("action", "acknowledge"), ("version", "2")])
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    assert_eq!(state_of(&app, id).await, "issued");

    // Another unit's operator: the notice does not exist for them, by any door.
    for p in [format!("/notices/{id}"), format!("/notices/{id}/print")] {
        assert_eq!(h1.get(&p).await.status, StatusCode::NOT_FOUND, "{p}");
    }
    let h1_csrf = other_csrf;
    let r = h1.post(&path, &[("csrf", &h1_csrf), ("action", "acknowledge"), ("version", "2")]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!h1.get("/notices").await.body.contains(&format!("/notices/{id}\"")));
    assert_eq!(state_of(&app, id).await, "issued");

    // Over-long text is refused with a reason and changes nothing.
    let long = "长".repeat(100_000);
    let r = s1.post(&path, &[("csrf", &csrf), ("action", "acknowledge"), ("version", "2"), ("reason", &long)]).await;
    assert!(matches!(r.status, StatusCode::UNPROCESSABLE_ENTITY | StatusCode::PAYLOAD_TOO_LARGE), "{}", r.status);
    assert_eq!(state_of(&app, id).await, "issued");

    // The real thing: acknowledge, then answer.
    let r = s1.post(&path, &[("csrf", &csrf), ("action", "acknowledge"), ("version", "2")]).await;
    assert_eq!((r.status, r.location.as_deref()), (StatusCode::SEE_OTHER, Some(format!("/notices/{id}").as_str())));
    assert_eq!(state_of(&app, id).await, "acknowledged");
    // A stale form (the version it was read at) is refused, not applied twice.
    let r = s1.post(&path, &[("csrf", &csrf), ("action", "acknowledge"), ("version", "2")]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let answer = [
        ("csrf", csrf.as_str()),
        ("action", "answer"),
        ("version", "3"),
        ("outcome", "fixed"),
        ("cause", "<script>x</script> weak password"),
        ("measures", "changed it"),
        ("result", "closed the port"),
        ("fixed_on", "2026-11-20"),
    ];
    let r = s1.post(&path, &answer).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(state_of(&app, id).await, "answered");
    let page = s1.get(&format!("/notices/{id}")).await;
    assert!(page.body.contains("&#60;script&#62;x&#60;/script&#62; weak password") && !page.body.contains("<script>x"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_refuses_fixation_open_redirects_and_guessing() {
    let app = spawn_app().await;
    app.seed_registry().await;
    person(&app, "analyst", Role::Analyst, None).await;

    // A session token planted before sign-in is not adopted.
    let mut b = Browser::new(&app);
    let planted = format!("ss_{}", "ab".repeat(32));
    b.cookies.insert("__Host-sw_session".into(), planted.clone());
    assert_eq!(b.get("/notices").await.location.as_deref(), Some("/login?next=%2Fnotices"));
    let r = b.sign_in("analyst", PW, "/notices").await;
    assert_eq!(r.location.as_deref(), Some("/notices"));
    let token = b.cookies["__Host-sw_session"].clone();
    assert!(token.starts_with("ss_") && token != planted);
    assert_eq!(b.get("/notices").await.status, StatusCode::OK);

    // `next` only ever leads to this site.
    for (next, to) in [
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("/notices?state=issued", "/notices?state=issued"),
        ("javascript:alert(1)", "/"),
    ] {
        let mut c = Browser::new(&app);
        let r = c.sign_in("analyst", PW, next).await;
        assert_eq!(r.location.as_deref(), Some(to), "next={next}");
    }

    // The login form needs its own CSRF cookie echoed.
    let mut c = Browser::new(&app);
    let r = c.post("/login", &[("username", "analyst"), ("password", PW), ("csrf", &"1".repeat(64))]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let login = c.get("/login").await;
    let r = c.post("/login", &[("username", "analyst"), ("password", PW), ("csrf", &"1".repeat(64))]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(!c.cookies.contains_key("__Host-sw_session"));
    drop(login);

    // Guessing: five wrong passwords, then the right one is refused too.
    let mut g = Browser::new(&app);
    for _ in 0..shouwang_store::LOGIN_PER_ACCOUNT {
        let r = g.sign_in("analyst", "Wrong guess 2026!", "/").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.body.contains("用户名或密码错误"));
    }
    let r = g.sign_in("analyst", PW, "/").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(!g.cookies.contains_key("__Host-sw_session"));

    // Signing out ends the session server-side: the old cookie is dead.
    let csrf = Browser::csrf_of(&b.get("/notices").await);
    let r = b.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(r.location.as_deref(), Some("/login"));
    b.cookies.insert("__Host-sw_session".into(), token);
    assert_eq!(b.get("/notices").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_for_its_roles_in_both_languages_and_the_board_is_live() {
    let app = spawn_app().await;
    app.seed_registry().await;
    for (name, role, unit) in [
        ("admin2", Role::CentreAdmin, None),
        ("analyst", Role::Analyst, None),
        ("leader", Role::Leader, None),
        ("auditor", Role::Auditor, None),
        ("ops", Role::UnitOperator, Some("S1")),
    ] {
        person(&app, name, role, unit).await;
    }
    let id = hostile_notice(&app).await;
    let pages = [
        "/board",
        "/alerts",
        "/notices",
        &format!("/notices/{id}"),
        "/units",
        "/units/S1",
        "/audit",
        "/account",
        "/ingest",
        "/users",
        "/units/import",
    ];
    // (user, pages they get, pages refused)
    let expect: [(&str, &[usize], &[usize]); 5] = [
        ("admin2", &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], &[]),
        ("analyst", &[0, 1, 2, 3, 4, 5, 7, 8, 10], &[6, 9]),
        ("leader", &[0, 1, 2, 3, 4, 5, 7], &[6, 8, 9, 10]),
        ("auditor", &[6, 7], &[0, 1, 2, 4, 8, 9, 10]),
        ("ops", &[1, 2, 3, 4, 5, 7], &[0, 6, 8, 9, 10]),
    ];
    for (user, ok, refused) in expect {
        let mut b = Browser::new(&app);
        b.sign_in(user, PW, "/").await;
        for lang in ["zh-CN", "en"] {
            let csrf = Browser::csrf_of(&b.get("/account").await);
            assert_eq!(
                b.post("/account/language", &[("csrf", &csrf), ("lang", lang), ("back", "/account")]).await.status,
                StatusCode::SEE_OTHER
            );
            for i in ok {
                let p = b.get(pages[*i]).await;
                assert_eq!(p.status, StatusCode::OK, "{user} {lang} {}: {}", pages[*i], p.body);
                assert!(p.body.contains(&format!("<html lang=\"{lang}\">")), "{user} {}", pages[*i]);
            }
            for i in refused {
                assert_eq!(b.get(pages[*i]).await.status, StatusCode::FORBIDDEN, "{user} {}", pages[*i]);
            }
        }
        let board = b.get("/board").await;
        if ok.contains(&0) {
            assert!(board.body.contains("id=\"board-data\"") && board.body.contains("\"open\":[0,0,1,0]"), "{}", board.body);
        }
    }

    // The board over SSE: the figures at once, and again when they change.
    let mut b = Browser::new(&app);
    b.sign_in("analyst", PW, "/board").await;
    let mut sse = b.client.get(format!("{}/board/events", app.addr)).header(COOKIE, b.cookie_header()).send().await.unwrap();
    assert_eq!(sse.headers()["content-type"], "text/event-stream");
    let mut seen = String::new();
    while !seen.contains("\n\n") {
        seen.push_str(&String::from_utf8_lossy(&sse.chunk().await.unwrap().unwrap()));
    }
    assert!(seen.starts_with("event: board\ndata: {") && seen.contains("\"open\":[0,0,1,0]"), "{seen}");
    hostile_notice(&app).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut later = String::new();
    while !later.contains("\"open\":[0,0,2,0]") {
        let chunk = tokio::time::timeout_at(deadline, sse.chunk()).await.expect("the board did not update within 20 s").unwrap().unwrap();
        later.push_str(&String::from_utf8_lossy(&chunk));
    }
    // A unit operator has no board feed.
    let mut ops = Browser::new(&app);
    ops.sign_in("ops", PW, "/").await;
    assert_eq!(ops.get("/board/events").await.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ingest_page_shows_what_was_left_out_and_replays_dead_letters() {
    let app = spawn_app_with(|dir| {
        let rules = dir.join("rules");
        let bad =
            "title: <script>alert('rule')</script>\nlogsource: {product: x}\ndetection: {sel: {a|nosuchmodifier: 1}, condition: sel}\n";
        write_files(&rules, &[("bad.yml", bad)]);
        shouwang_alerts::DetectionConfig { rules: vec![rules], ..Default::default() }
    })
    .await;
    app.seed_registry().await;
    person(&app, "analyst", Role::Analyst, None).await;
    person(&app, "leader", Role::Leader, None).await;
    // A record no parser accepts, carrying script.
    let r = app
        .post("/api/v1/ingest?format=eve", &app.admin_token)
        .body("{\"event_type\":\"alert\",\"x\":\"<script>alert('dead')</script>\"\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);

    let mut b = Browser::new(&app);
    b.sign_in("analyst", PW, "/ingest").await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let page = loop {
        let p = b.get("/ingest").await;
        assert_eq!(p.status, StatusCode::OK, "{}", p.body);
        if p.body.contains("alert(&#39;dead&#39;)") {
            break p;
        }
        assert!(tokio::time::Instant::now() < deadline, "the dead letter did not show: {}", p.body);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    // The left-out rule and the dead record are shown, escaped.
    assert!(page.body.contains("bad.yml") && page.body.contains("nosuchmodifier"), "{}", page.body);
    for raw in ["<script>alert('dead')", "<script>alert('rule')"] {
        assert!(!page.body.contains(raw), "{raw} unescaped");
    }
    assert!(page.body.contains("&#60;script&#62;alert(&#39;dead&#39;)"));

    // Replay: refused without the token, done with it, and audited.
    assert_eq!(b.post("/ingest/replay", &[("source", ""), ("reason", "")]).await.status, StatusCode::FORBIDDEN);
    let csrf = Browser::csrf_of(&page);
    let done = b.post("/ingest/replay", &[("csrf", &csrf), ("source", ""), ("reason", "")]).await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.body.contains("id=\"ingest-done\"") && done.body.contains("仍被拒绝 1 条"), "{}", done.body);
    let reload = b.post("/ingest/reload", &[("csrf", &csrf)]).await;
    assert!(reload.body.contains("id=\"ingest-done\"") && reload.body.contains("1 个问题"), "{}", reload.body);
    let audit = app.store.audit_entries(&Principal::local("t"), 50).await.unwrap();
    for action in ["dead_letters.replay", "detection.reload"] {
        assert!(audit.iter().any(|e| e.action == action && e.actor == "analyst"), "{action} not audited");
    }

    // A leader does not run ingest: no page, no replay.
    let mut l = Browser::new(&app);
    l.sign_in("leader", PW, "/").await;
    assert_eq!(l.get("/ingest").await.status, StatusCode::FORBIDDEN);
    let csrf = Browser::csrf_of(&l.get("/account").await);
    assert_eq!(l.post("/ingest/replay", &[("csrf", &csrf)]).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analyst_makes_a_notice_of_chosen_alerts_with_its_level_tlp_and_text() {
    let app = spawn_app().await;
    app.seed_registry().await;
    person(&app, "analyst", Role::Analyst, None).await;
    person(&app, "ops", Role::UnitOperator, Some("S1")).await;
    let now = jiff::Timestamp::now();
    let hit: shouwang_store::AlertHits = serde_json::from_value(serde_json::json!({
        "rule_id": "suricata:1", "title": "<script>alert('hit')</script>", "source": "sensor", "unit": "S1",
        "asset": "cidr:192.0.2.0/25", "window_start": now, "severity": "high", "category": "NASCAN",
        "category_reason": "test", "proposed_level": "IV", "grading": {}, "hits": 3, "first_seen": now, "last_seen": now,
        "samples": [],
    }))
    .unwrap();
    app.store.record_alerts(&[hit], &[]).await.unwrap();
    let id = app.store.alerts(&Principal::local("t"), &Default::default()).await.unwrap()[0].id.to_string();

    let mut b = Browser::new(&app);
    b.sign_in("analyst", PW, "/alerts").await;
    let list = b.get("/alerts").await;
    assert!(list.body.contains(&format!("name=\"alert\" value=\"{id}\"")) && !list.body.contains("<script>alert('hit')"));
    let csrf = Browser::csrf_of(&list);
    // A selection that is not an alert id, a level that is not a level, none ticked: refused, nothing made.
    for form in [
        vec![("csrf", csrf.as_str()), ("alert", "1 OR 1=1")],
        vec![("csrf", csrf.as_str()), ("alert", id.as_str()), ("level", "V")],
        vec![("csrf", csrf.as_str()), ("title", "none ticked")],
        vec![("csrf", csrf.as_str()), ("alert", id.as_str()), ("tlp", "TLP:PURPLE")],
    ] {
        let p = b.post("/alerts/notice", &form).await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}: {}", p.body);
        assert!(p.body.contains("role=\"alert\""), "{form:?}: the reason is shown");
    }
    assert!(app.store.notices(&Principal::local("t"), &Default::default(), now).await.unwrap().is_empty());

    let made = b
        .post(
            "/alerts/notice",
            &[
                ("csrf", &csrf),
                ("alert", &id),
                ("kind", "rectification"),
                ("title", "关于 S1 扫描的整改通知"),
                ("level", "II"),
                ("tlp", "TLP:RED"),
                ("summary", "<b>发现扫描</b>"),
                ("actions", "封禁来源地址"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let n: i64 = made.location.unwrap().rsplit('/').next().unwrap().parse().unwrap();
    let d = app.store.notice(&Principal::local("t"), n, now).await.unwrap();
    let got =
        (d.notice.level.as_str(), d.notice.tlp.as_str(), d.notice.summary.as_str(), d.notice.actions.as_str(), d.notice.kind.as_str());
    assert_eq!(got, ("II", "TLP:RED", "<b>发现扫描</b>", "封禁来源地址", "rectification"));
    assert_eq!(d.alerts, vec![id.parse::<i64>().unwrap()]);

    // A unit operator sees its alerts but cannot make notices.
    let mut ops = Browser::new(&app);
    ops.sign_in("ops", PW, "/alerts").await;
    let page = ops.get("/alerts").await;
    assert!(!page.body.contains("id=\"make-notice\""));
    let csrf = Browser::csrf_of(&page);
    assert_eq!(ops.post("/alerts/notice", &[("csrf", &csrf), ("alert", &id)]).await.status, StatusCode::FORBIDDEN);
}

/// A multipart/form-data body, as a browser builds it: (field, file name, bytes).
fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----shouwang-test-boundary-7f3a";
    let mut body = Vec::new();
    for (name, file, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"").as_bytes());
        if let Some(f) = file {
            body.extend_from_slice(format!("; filename=\"{f}\"\r\nContent-Type: text/csv").as_bytes());
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_import_previews_the_difference_then_applies_it_all_or_nothing() {
    let app = spawn_app().await;
    app.seed_registry().await;
    person(&app, "analyst", Role::Analyst, None).await;
    person(&app, "leader", Role::Leader, None).await;
    let mut b = Browser::new(&app);
    b.sign_in("analyst", PW, "/units/import").await;
    let page = b.get("/units/import").await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = Browser::csrf_of(&b.get("/account").await);
    let send = |b: &Browser, parts: &[(&str, Option<&str>, &[u8])], token: Option<&str>| {
        let (ctype, body) = multipart(parts);
        let mut req = b.client.post(format!("{}/units/import", b.app.addr)).header("content-type", ctype).header(COOKIE, b.cookie_header());
        if let Some(t) = token {
            req = req.header("x-csrf-token", t).header("hx-request", "true");
        }
        req.body(body).send()
    };
    let units_before = app.store.list_units(&Principal::local("t"), None, 1000, 0).await.unwrap().len();
    let good = "code,name_zh,kind,region,supervisor,jurisdiction,sector\nS9,第九中学 <script>x</script>,school,P,,,education\n";
    let bad = format!("{good}S10,第十中学,school,NOWHERE,,,education\n");

    // Without the CSRF header: refused, nothing read.
    let r = send(&b, &[("files", Some("units.csv"), good.as_bytes()), ("reason", None, b"new school"), ("mode", None, b"apply")], None)
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A bad record: each rejection named, nothing applied even when asked to apply.
    let r =
        send(&b, &[("files", Some("units.csv"), bad.as_bytes()), ("reason", None, b"new schools"), ("mode", None, b"apply")], Some(&csrf))
            .await
            .unwrap();
    let body = r.text().await.unwrap();
    assert!(body.contains("units.csv:3") && body.contains("NOWHERE"), "{body}");
    assert!(body.contains("role=\"alert\""));
    // A file of an unknown kind, and no reason: refused with the reason.
    let r =
        send(&b, &[("files", Some("users.csv"), b"a,b\n"), ("reason", None, b"x"), ("mode", None, b"preview")], Some(&csrf)).await.unwrap();
    assert!(r.text().await.unwrap().contains("users.csv: not regions.csv"));
    let r = send(&b, &[("files", Some("units.csv"), good.as_bytes()), ("mode", None, b"preview")], Some(&csrf)).await.unwrap();
    assert!(r.text().await.unwrap().contains("role=\"alert\""));
    // Broken multipart bodies (cut off mid-part, a boundary that never comes,
    // bytes that are not UTF-8 in a text field): refused with the reason, nothing applied.
    let (ctype, body) = multipart(&[("files", Some("units.csv"), good.as_bytes()), ("reason", None, b"cut"), ("mode", None, b"apply")]);
    let cut = &body[..body.len() / 2];
    for (ctype, body) in [
        (ctype.clone(), cut.to_vec()),
        ("multipart/form-data; boundary=never-sent".to_string(), body.clone()),
        (
            ctype.clone(),
            multipart(&[
                ("files", Some("units.csv"), &[0xff, 0xfe, 0x00, 0x80]),
                ("reason", None, &[0xc3, 0x28]),
                ("mode", None, b"apply"),
            ])
            .1,
        ),
    ] {
        let r = b
            .client
            .post(format!("{}/units/import", app.addr))
            .header("content-type", ctype)
            .header(COOKIE, b.cookie_header())
            .header("x-csrf-token", &csrf)
            .body(body)
            .send()
            .await
            .unwrap();
        let text = r.text().await.unwrap();
        assert!(text.contains("role=\"alert\""), "a reason is shown: {text}");
    }
    assert_eq!(app.store.list_units(&Principal::local("t"), None, 1000, 0).await.unwrap().len(), units_before);
    // Preview: the difference, escaped, and nothing changed.
    let r = send(
        &b,
        &[("files", Some("units.csv"), good.as_bytes()), ("reason", None, b"new school"), ("mode", None, b"preview")],
        Some(&csrf),
    )
    .await
    .unwrap();
    let body = r.text().await.unwrap();
    assert!(body.contains("id=\"import-diff\"") && body.contains("<code>S9</code>"), "{body}");
    assert_eq!(app.store.list_units(&Principal::local("t"), None, 1000, 0).await.unwrap().len(), units_before);
    // Apply: committed, audited with its reason.
    let r =
        send(&b, &[("files", Some("units.csv"), good.as_bytes()), ("reason", None, b"new school"), ("mode", None, b"apply")], Some(&csrf))
            .await
            .unwrap();
    let body = r.text().await.unwrap();
    assert!(body.contains("role=\"status\"") && body.contains("<code>S9</code>"), "{body}");
    let s9 = app.store.unit(&Principal::local("t"), "S9").await.unwrap();
    assert_eq!(s9.summary.name_zh, "第九中学 <script>x</script>");
    let shown = b.get("/units/S9").await.body;
    assert!(shown.contains("第九中学 &#60;script&#62;") && !shown.contains("<script>x"), "escaped on the unit page");
    let audit = app.store.audit_entries(&Principal::local("t"), 20).await.unwrap();
    assert!(audit.iter().any(|e| e.actor == "analyst" && e.reason == "new school"));

    // A leader reads the registry but does not write it.
    let mut l = Browser::new(&app);
    l.sign_in("leader", PW, "/").await;
    assert_eq!(l.get("/units/import").await.status, StatusCode::FORBIDDEN);
    let csrf = Browser::csrf_of(&l.get("/account").await);
    let r = send(&l, &[("files", Some("units.csv"), good.as_bytes()), ("reason", None, b"x"), ("mode", None, b"apply")], Some(&csrf))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_creates_resets_and_disables_accounts() {
    let app = spawn_app().await;
    app.seed_registry().await;
    person(&app, "boss-admin", Role::CentreAdmin, None).await;
    person(&app, "analyst", Role::Analyst, None).await;
    let mut a = Browser::new(&app);
    a.sign_in("boss-admin", PW, "/users").await;
    let page = a.get("/users").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("data-user=\"analyst\"") && page.body.contains("&#60;b&#62;analyst&#60;/b&#62;"), "listed, escaped");
    let csrf = Browser::csrf_of(&page);
    let form = |username: &str, role: &str, unit: &str, pw: &str| -> Vec<(&'static str, String)> {
        vec![
            ("csrf", csrf.clone()),
            ("username", username.into()),
            ("display_name", "<script>alert('name')</script>".into()),
            ("role", role.into()),
            ("unit", unit.into()),
            ("password", pw.into()),
        ]
    };
    let pairs = |f: &[(&'static str, String)]| f.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    // Each refusal says why, and makes nobody.
    for (f, why) in [
        (form("ops-s2", "unit_operator", "H1", "short"), "12"),
        (form("ops-s2", "unit_operator", "", PW), "needs a unit"),
        (form("ops-s2", "unit_operator", "NOPE", PW), "unknown unit"),
        (form("ops-s2", "sensor", "", PW), "命令行"),
        (form("bad name!", "analyst", "", PW), "username"),
        (form("analyst", "analyst", "", PW), "exists"),
    ] {
        let f = pairs(&f);
        let p = a.post("/users", &f.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>()).await;
        assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{why}: {}", p.body);
        assert!(p.body.contains(why), "{why}: {}", p.body);
    }
    assert!(app.store.users(&Principal::local("t")).await.unwrap().iter().all(|u| u.username != "ops-s2"));
    let f = form("ops-s2", "unit_operator", "H1", PW);
    let made = a.post("/users", &f.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>()).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let page = a.get("/users").await;
    assert!(page.body.contains("data-user=\"ops-s2\"") && !page.body.contains("<script>alert('name')"));

    // The new operator signs in; a reset ends that session and the old password.
    let mut ops = Browser::new(&app);
    assert_eq!(ops.sign_in("ops-s2", PW, "/notices").await.status, StatusCode::SEE_OTHER);
    assert_eq!(ops.get("/notices").await.status, StatusCode::OK);
    let reset = "Brand new night 7";
    let p = a.post("/users/ops-s2/password", &[("csrf", &csrf), ("password", reset), ("reason", "forgot it")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(ops.get("/notices").await.status, StatusCode::SEE_OTHER, "the old session ended");
    let mut again = Browser::new(&app);
    assert_eq!(again.sign_in("ops-s2", reset, "/notices").await.status, StatusCode::SEE_OTHER);

    // Disabled: the session stops and sign-in is refused; enabled again.
    assert_eq!(a.post("/users/ops-s2/disable", &[("csrf", &csrf), ("reason", "left")]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(again.get("/notices").await.status, StatusCode::SEE_OTHER);
    let mut third = Browser::new(&app);
    assert_ne!(third.sign_in("ops-s2", reset, "/notices").await.location.as_deref(), Some("/notices"));
    assert_eq!(a.post("/users/ops-s2/enable", &[("csrf", &csrf), ("reason", "back")]).await.status, StatusCode::SEE_OTHER);
    // An administrator does not lock themselves out.
    let p = a.post("/users/boss-admin/disable", &[("csrf", &csrf), ("reason", "oops")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Not an analyst's business, by page or by form.
    let mut an = Browser::new(&app);
    an.sign_in("analyst", PW, "/").await;
    assert_eq!(an.get("/users").await.status, StatusCode::FORBIDDEN);
    let c = Browser::csrf_of(&an.get("/account").await);
    assert_eq!(an.post("/users/ops-s2/disable", &[("csrf", &c), ("reason", "x")]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        an.post("/users/ops-s2/password", &[("csrf", &c), ("password", reset), ("reason", "x")]).await.status,
        StatusCode::FORBIDDEN
    );
    let audit = app.store.audit_entries(&Principal::local("t"), 50).await.unwrap();
    for action in ["user.create", "user.password_reset", "user.disable", "user.enable"] {
        assert!(audit.iter().any(|e| e.action == action && e.actor == "boss-admin"), "{action}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_turns_the_second_factor_on_signs_in_with_it_and_turns_it_off() {
    use shouwang_store::totp_code;
    let app = spawn_app().await;
    person(&app, "analyst", Role::Analyst, None).await;
    let mut b = Browser::new(&app);
    b.sign_in("analyst", PW, "/account").await;
    let page = b.get("/account").await;
    let at = page.body.find("id=\"totp-secret\">").expect("a secret to enrol") + 18;
    let secret = page.body[at..].split('<').next().unwrap().to_string();
    let csrf = Browser::csrf_of(&page);
    let wrong = |c: &str| if c == "000000" { "111111".to_string() } else { "000000".to_string() };
    let code = totp_code(&secret, jiff::Timestamp::now()).unwrap();
    let p = b.post("/account/totp", &[("csrf", &csrf), ("secret", &secret), ("code", &wrong(&code))]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "a wrong code enrols nothing");
    assert_eq!(b.post("/account/totp", &[("csrf", &csrf), ("secret", &secret), ("code", &code)]).await.status, StatusCode::SEE_OTHER);
    assert!(b.get("/account").await.body.contains("id=\"totp-off\""));

    // Signing in now takes the code too; the half-open session opens nothing else.
    let mut c = Browser::new(&app);
    let r = c.sign_in("analyst", PW, "/notices").await;
    assert!(r.location.as_deref().unwrap_or_default().starts_with("/login/totp"), "{:?}", r.location);
    assert_eq!(c.get("/notices").await.status, StatusCode::SEE_OTHER);
    let step = c.get(r.location.as_deref().unwrap()).await;
    let csrf2 = Browser::csrf_of(&step);
    let code = totp_code(&secret, jiff::Timestamp::now()).unwrap();
    let refused = c.post("/login/totp", &[("csrf", &csrf2), ("code", &wrong(&code)), ("next", "/notices")]).await;
    assert_ne!(refused.location.as_deref(), Some("/notices"));
    let ok = c.post("/login/totp", &[("csrf", &csrf2), ("code", &code), ("next", "/notices")]).await;
    assert_eq!(ok.location.as_deref(), Some("/notices"), "{}", ok.body);
    assert_eq!(c.get("/notices").await.status, StatusCode::OK);

    // Off: only with a current code.
    let csrf = Browser::csrf_of(&c.get("/account").await);
    assert_eq!(c.post("/account/totp/off", &[("csrf", &csrf), ("code", &wrong(&code))]).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(c.post("/account/totp/off", &[("csrf", &csrf), ("code", &code)]).await.status, StatusCode::SEE_OTHER);
    let mut d = Browser::new(&app);
    assert_eq!(d.sign_in("analyst", PW, "/notices").await.location.as_deref(), Some("/notices"));
}

/// The text of a PDF, by poppler's `pdftotext` (an independent reader).
/// Without it, or without a CJK font for the server, the check is skipped
/// locally and fails under CI, which installs both.
fn pdf_text(bytes: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notice.pdf");
    std::fs::write(&path, bytes).unwrap();
    match std::process::Command::new("pdftotext").args(["-enc", "UTF-8"]).arg(&path).arg("-").output() {
        Ok(out) => {
            assert!(out.status.success(), "pdftotext: {}", String::from_utf8_lossy(&out.stderr));
            Some(String::from_utf8(out.stdout).unwrap())
        }
        Err(e) => {
            assert!(std::env::var_os("CI").is_none(), "CI must check PDFs with pdftotext (poppler-utils): {e}");
            eprintln!("no pdftotext ({e}): the PDF's text is not checked");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notice_pdf_carries_its_text_and_only_for_its_unit() {
    let app = spawn_app().await;
    app.seed_registry().await;
    person(&app, "ops", Role::UnitOperator, Some("S1")).await;
    person(&app, "ops-h1", Role::UnitOperator, Some("H1")).await;
    let id = hostile_notice(&app).await;
    let mut b = Browser::new(&app);
    b.sign_in("ops", PW, "/").await;
    let r = b.client.get(format!("{}/notices/{id}/pdf", app.addr)).header(COOKIE, b.cookie_header()).send().await.unwrap();
    if r.status() == StatusCode::SERVICE_UNAVAILABLE {
        assert!(std::env::var_os("CI").is_none(), "CI installs fonts-wqy-microhei for the notice PDF");
        eprintln!("no CJK font on this machine: the PDF is not made");
        return;
    }
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains(".pdf"));
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"), "a PDF file");
    assert!(bytes.len() < 200_000, "the font is subset, not embedded whole: {} bytes", bytes.len());
    if let Some(text) = pdf_text(&bytes) {
        let flat: String = text.split_whitespace().collect();
        for want in [
            "网络安全事件通报",
            "青川市第一中学（S1）",
            "<script>alert('title')</script>",
            "<imgsrc=xonerror=alert(1)>",
            "192.0.2.10",
            "TLP:AMBER",
        ] {
            assert!(flat.contains(want), "{want} not in the PDF's text:\n{text}");
        }
    }
    // Another unit's operator gets nothing.
    let mut h = Browser::new(&app);
    h.sign_in("ops-h1", PW, "/").await;
    assert_eq!(h.get(&format!("/notices/{id}/pdf")).await.status, StatusCode::NOT_FOUND);
}
