use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use shouwang_store::{Attributor, NewUser, Principal, Role, Store};

/// A fresh data directory for the binary (SQLite default backend).
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env { dir: tempfile::tempdir().unwrap() }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs `shouwang ARGS` with this environment's data dir.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.run_bytes(args, stdin.unwrap_or_default().as_bytes())
    }

    /// Runs with raw bytes on stdin (for input that is not UTF-8).
    pub fn run_bytes(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_shouwang"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("SHOUWANG_DATA_DIR", self.data())
            .env_remove("SHOUWANG_DATABASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn shouwang");
        {
            use std::io::Write;
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(stdin).unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// Imports `REGIONS` and `UNITS` with `shouwang registry import`.
    pub fn load_units(&self) {
        let src = self.dir.path().join("seed");
        write_files(&src, &[("regions.csv", REGIONS), ("units.csv", UNITS)]);
        self.ok(&["registry", "import", src.to_str().unwrap(), "--reason", "first load"]);
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert!(out.status.success(), "shouwang {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
}

pub fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}"))).collect()
}

pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, body) in files {
        std::fs::write(dir.join(name), body).unwrap();
    }
}

/// The real router and store, on port 0, with a fresh SQLite directory.
pub struct App {
    pub addr: String,
    pub store: Store,
    pub admin_token: String,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    pub ingest: Arc<shouwang_server::Ingest>,
}

/// The test app's configuration has one field map, as `[formats.waf_acme]`
/// would give it.
pub fn test_field_maps() -> shouwang_ingest::parse::FieldMaps {
    let map = shouwang_ingest::parse::FieldMap::new("acme.waf", [("ts", "@timestamp"), ("client", "source.ip"), ("rule", "rule.name")])
        .unwrap()
        .with_utc_offset("+08:00")
        .unwrap();
    let mut maps = shouwang_ingest::parse::FieldMaps::default();
    maps.insert("waf_acme", map).unwrap();
    maps
}

pub async fn spawn_app() -> App {
    spawn_app_with(|_| shouwang_alerts::DetectionConfig::default()).await
}

/// The app with live detection as `detection` configures it, given the
/// test's directory (to write rule and indicator files into first).
pub async fn spawn_app_with(detection: impl FnOnce(&std::path::Path) -> shouwang_alerts::DetectionConfig) -> App {
    let dir = tempfile::tempdir().unwrap();
    let detection = detection(dir.path());
    let store = Store::open_sqlite_dir(&dir.path().join("data")).await.unwrap();
    let local = Principal::local("test");
    store
        .create_user(
            &local,
            NewUser { username: "admin".into(), display_name: "admin".into(), role: Role::CentreAdmin, unit: None, password: None },
        )
        .await
        .unwrap();
    let admin_token = store.create_token(&local, "admin", "test").await.unwrap();
    let attributor = Arc::new(Attributor::new(store.clone()).await.unwrap());
    let events = Arc::new(shouwang_eventstore::SqliteEvents::open(&dir.path().join("data/events")).unwrap());
    let mut pipeline = shouwang_pipeline::Pipeline::new(events, attributor.clone());
    pipeline.field_maps = Arc::new(test_field_maps());
    pipeline.detection = Some(Arc::new(shouwang_alerts::LiveDetection::new(detection, store.clone(), attributor.clone()).unwrap()));
    let spool = shouwang_pipeline::Spool::open(&dir.path().join("data/spool"), SPOOL_LIMIT, pipeline.max_record, pipeline.counters.clone())
        .unwrap();
    let ingest = Arc::new(shouwang_server::Ingest::new(pipeline, Arc::new(spool), 4 * 1024 * 1024, 8));
    // The consumer thread lives as long as the test process.
    std::mem::forget(shouwang_server::Consumer::start(&ingest));
    let state = shouwang_server::AppState {
        store: store.clone(),
        attributor: attributor.clone(),
        metrics: Arc::new(shouwang_server::Metrics::new()),
        max_import_bytes: 4 * 1024 * 1024,
        ingest: ingest.clone(),
        categories: Arc::new(shouwang_grade::Categories::builtin()),
    };
    shouwang_server::spawn_index_refresh(attributor, Duration::from_millis(100));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    // As the binary serves it: the console and the API, with peer addresses.
    let router = shouwang_web::router(state.clone()).merge(shouwang_server::router(state));
    tokio::spawn(async move { axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap() });
    App { addr, store, admin_token, client: reqwest::Client::new(), dir, ingest }
}

/// The test app's spool limit: small enough that a test can fill it.
pub const SPOOL_LIMIT: u64 = 8 * 1024 * 1024;

impl App {
    pub fn get(&self, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let r = self.client.get(format!("{}{path}", self.addr));
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    pub fn post(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.client.post(format!("{}{path}", self.addr)).bearer_auth(token)
    }

    /// Imports the test region (`REGIONS`, `UNITS`, `ASSETS`) and refreshes
    /// the pipeline's attribution index.
    pub async fn seed_registry(&self) {
        let dir = self.dir.path().join("seed");
        write_files(&dir, &[("regions.csv", REGIONS), ("units.csv", UNITS), ("assets.csv", ASSETS)]);
        let b = shouwang_registry::io::read_path(&dir, Default::default()).unwrap();
        assert!(self.store.import(&Principal::local("t"), &b, "seed", false).await.unwrap().applied);
        self.ingest.pipeline.attributor.refresh().await.unwrap();
    }
}

pub const REGIONS: &str = "code,name_zh,level,parent\nP,云岭省,province,\nC1,青川市,city,P\n";
pub const UNITS: &str = "code,name_zh,name_en,kind,region\nS1,青川市第一中学,Qingchuan No.1 Middle School,school,C1\nH1,青川市人民医院,Qingchuan People's Hospital,hospital,C1\n";
pub const ASSETS: &str = "unit,kind,value,mlps_level,mlps_filing\nS1,cidr,192.0.2.0/25,2,990100-0001\nS1,domain,*.school.example,,\nH1,cidr,192.0.2.128/25,3,990100-0002\nH1,url,https://portal.hospital.example/app,,\n";

/// A loopback port that was free a moment ago (for servers that take a port, not a socket).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process killed (and reaped) when the test ends, even by a failed assertion.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The SigmaHQ corpus; missing fails the test rather than skip it.
pub fn sigmahq() -> PathBuf {
    shouwang_demo::sigmahq_dir().unwrap_or_else(|e| panic!("{e}"))
}

/// A user of `role` (for `unit`) and an API token for it.
pub async fn user(app: &App, name: &str, role: Role, unit: Option<&str>) -> String {
    let local = Principal::local("t");
    let unit = unit.map(|u| shouwang_registry::UnitCode::parse(u).unwrap());
    let u = NewUser { username: name.into(), display_name: name.into(), role, unit, password: None };
    app.store.create_user(&local, u).await.unwrap();
    app.store.create_token(&local, name, "test").await.unwrap()
}

/// GET as `token`: the status and the JSON body (null if none).
pub async fn get_json(app: &App, path: &str, token: &str) -> (reqwest::StatusCode, serde_json::Value) {
    let r = app.get(path, Some(token)).send().await.unwrap();
    (r.status(), r.json().await.unwrap_or(serde_json::Value::Null))
}

/// A Python with aiosmtpd: Debian's (where `.ci/run` has apt put
/// python3-aiosmtpd) if it has it, else a virtualenv under the target
/// directory with aiosmtpd from PyPI, made once.
fn receivers_python() -> PathBuf {
    static PYTHON: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let ready = |p: &Path| Command::new(p).args(["-c", "import aiosmtpd"]).output().is_ok_and(|o| o.status.success());
            let system = Path::new("/usr/bin/python3");
            if ready(system) {
                return system.to_path_buf();
            }
            let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("aiosmtpd-1.4.6");
            let python = venv.join("bin/python");
            if !ready(&python) {
                let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().expect("python3 for the test receivers");
                assert!(made.success(), "python3 -m venv {}", venv.display());
                let pip = Command::new(venv.join("bin/pip"))
                    .args(["install", "--quiet", "--disable-pip-version-check", "aiosmtpd==1.4.6"])
                    .status()
                    .unwrap();
                assert!(pip.success(), "pip install aiosmtpd==1.4.6");
                assert!(ready(&python), "aiosmtpd does not import after install");
            }
            python
        })
        .clone()
}

/// A receiver from `tests/support/receivers.py` (SMTP, a silent port, or
/// HTTP for webhooks and robots), killed when dropped.
pub struct Receiver {
    pub port: u16,
    pub out: tempfile::TempDir,
    _child: Running,
}

impl Receiver {
    /// Starts `receivers.py MODE PORT OUT ARGS…` and waits for "ready".
    pub fn start(mode: &str, args: &[&str]) -> Receiver {
        use std::io::BufRead;
        let out = tempfile::tempdir().unwrap();
        let port = free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/receivers.py");
        let mut child = Command::new(receivers_python())
            .arg(script)
            .arg(mode)
            .arg(port.to_string())
            .arg(out.path())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 is required");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "receivers.py {mode} did not start");
        Receiver { port, out, _child: Running(child) }
    }

    /// What arrived so far.
    pub fn received(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.out.path().join("received.jsonl")).map(|s| json_lines(&s)).unwrap_or_default()
    }

    /// Waits (up to 20 s) until `done` holds for what arrived.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[serde_json::Value]) -> bool) -> Vec<serde_json::Value> {
        let until = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.received();
            if done(&got) {
                return got;
            }
            assert!(std::time::Instant::now() < until, "timed out waiting for {what}; received: {got:#?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Polls `f` (up to 20 s) until it returns `Some`.
pub async fn eventually<T, F: std::future::Future<Output = Option<T>>>(what: &str, f: impl Fn() -> F) -> T {
    let until = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(std::time::Instant::now() < until, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

impl App {
    /// Starts the outbox dispatcher as `serve` does, with these transports
    /// and retries, on the wall clock.
    pub fn start_delivery(&self, smtp: Option<shouwang_deliver::SmtpConfig>, dispatch: shouwang_server::Dispatch) {
        let sender = shouwang_deliver::Sender::new(&shouwang_deliver::SenderConfig { smtp, timeout: Duration::from_secs(1) }).unwrap();
        shouwang_server::spawn_dispatcher(self.store.clone(), Arc::new(sender), dispatch, shouwang_server::wall_clock());
    }
}
