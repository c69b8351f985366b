//! Evidence attachments over HTTP: a unit uploads files to its notice; the
//! bytes decide the type, names lose their paths, ZIPs that are bombs or
//! escape their directory are refused unopened, and downloads are never
//! rendered. The test files are made by Python's zipfile, not by our code.

use reqwest::StatusCode;
use serde_json::{Value, json};
use shouwang_store::Role;

use crate::helpers::*;

/// A ZIP made by Python's zipfile: `entries` of (name, bytes of zeros).
fn python_zip(dir: &std::path::Path, file: &str, entries: &[(&str, usize)]) -> Vec<u8> {
    let path = dir.join(file);
    let list: Vec<String> = entries.iter().map(|(n, size)| format!("({n:?}, {size})")).collect();
    let script = format!(
        "import zipfile\nwith zipfile.ZipFile({:?}, 'w', zipfile.ZIP_DEFLATED) as z:\n    for n, size in [{}]:\n        z.writestr(n, b'0' * size)\n",
        path.to_str().unwrap(),
        list.join(", ")
    );
    let out = std::process::Command::new("python3").arg("-c").arg(&script).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read(path).unwrap()
}

async fn upload(app: &App, token: &str, id: i64, name: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let r = app.post(&format!("/api/v1/notices/{id}/attachments"), token).query(&[("name", name)]).body(body).send().await.unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn units_attach_evidence_that_is_checked_by_its_bytes_and_never_rendered() {
    let app = spawn_app().await;
    app.seed_registry().await;
    let analyst = user(&app, "analyst", Role::Analyst, None).await;
    let s1 = user(&app, "s1op", Role::UnitOperator, Some("S1")).await;
    let h1 = user(&app, "h1op", Role::UnitOperator, Some("H1")).await;
    let r = app
        .post("/api/v1/notices", &analyst)
        .json(&json!({ "kind": "incident", "unit": "S1", "title": "网页篡改", "level": "IV" }))
        .send()
        .await
        .unwrap();
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = app.post(&format!("/api/v1/notices/{id}/moves"), &analyst).header("if-match", "\"1\"").json(&json!({ "action": "issue" }));
    assert_eq!(r.send().await.unwrap().status(), StatusCode::OK);

    // A log file with a hostile name: kept as text, named without its path.
    let log = "<script>alert('xss')</script>\n2026-11-22 10:00 已修复\n".as_bytes().to_vec();
    let (s, a) = upload(&app, &s1, id, "../../etc/passwd", log.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{a}");
    assert_eq!((a["name"].as_str(), a["media_type"].as_str()), (Some("passwd"), Some("text/plain")));
    assert_eq!(a["size"], log.len());
    let sha =
        std::process::Command::new("sha256sum").stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
    {
        use std::io::Write;
        sha.stdin.as_ref().unwrap().write_all(&log).unwrap();
    }
    let out = sha.wait_with_output().unwrap();
    assert_eq!(a["sha256"].as_str().unwrap(), String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap());
    // The same bytes again are the same attachment.
    let (_, again) = upload(&app, &s1, id, "copy.txt", log.clone()).await;
    assert_eq!(again["id"], a["id"]);

    // Download: the exact bytes, as a download that no browser renders.
    let file = a["id"].as_i64().unwrap();
    let r = app.get(&format!("/api/v1/notices/{id}/attachments/{file}"), Some(&analyst)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "application/octet-stream");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"passwd\""));
    assert!(h["content-security-policy"].to_str().unwrap().starts_with("sandbox"));
    assert_eq!(r.bytes().await.unwrap().to_vec(), log);

    // An executable, whatever it is called, and UTF-16 text are refused (415).
    for (name, body) in [("report.pdf", b"MZ\x90\x00\x03\x00\x00\x00".to_vec()), ("notes.txt", b"\xff\xfeh\x00i\x00".to_vec())] {
        let (s, v) = upload(&app, &s1, id, name, body).await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{name}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("only PDF, PNG"), "{v}");
    }
    // ZIPs: a normal one is taken; a bomb and a path-escaping one are refused unopened.
    let dir = tempfile::tempdir().unwrap();
    let fine = python_zip(dir.path(), "fine.zip", &[("logs/access.log", 10_000)]);
    let (s, v) = upload(&app, &s1, id, "logs.zip", fine).await;
    assert_eq!((s, v["media_type"].as_str()), (StatusCode::CREATED, Some("application/zip")), "{v}");
    let bomb = python_zip(dir.path(), "bomb.zip", &[("zeros.bin", 64 * 1024 * 1024)]);
    assert!(bomb.len() < 1024 * 1024, "{} bytes", bomb.len());
    let (s, v) = upload(&app, &s1, id, "bomb.zip", bomb).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("compression bomb"), "{v}");
    let escape = python_zip(dir.path(), "escape.zip", &[("../../../etc/cron.d/evil", 10)]);
    let (s, v) = upload(&app, &s1, id, "escape.zip", escape).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("points outside its directory"), "{v}");
    let mut truncated = python_zip(dir.path(), "cut.zip", &[("a.txt", 100)]);
    truncated.truncate(truncated.len() - 10);
    let (s, _) = upload(&app, &s1, id, "cut.zip", truncated).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Empty and too large.
    assert_eq!(upload(&app, &s1, id, "e.txt", Vec::new()).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    let big = vec![b'a'; shouwang_store::MAX_ATTACHMENT + 1];
    assert_eq!(upload(&app, &s1, id, "big.txt", big).await.0, StatusCode::PAYLOAD_TOO_LARGE);

    // Another unit neither sees nor adds; the centre's list shows what was kept.
    assert_eq!(upload(&app, &h1, id, "x.txt", b"x".to_vec()).await.0, StatusCode::NOT_FOUND);
    let (s, _) = get_json(&app, &format!("/api/v1/notices/{id}/attachments/{file}"), &h1).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, d) = get_json(&app, &format!("/api/v1/notices/{id}"), &analyst).await;
    let names: Vec<&str> = d["attachments"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["passwd", "logs.zip"]);
    let (_, audit) = get_json(&app, "/api/v1/audit?limit=500", &app.admin_token).await;
    let attached = audit["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "notice.attach").count();
    assert_eq!(attached, 2);
}
