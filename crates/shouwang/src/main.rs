//! `shouwang`: the binary. It parses arguments and configuration, opens the
//! store, and hands off to the library crates; no domain logic lives here.

// mimalloc: the ingest path makes many small, short-lived allocations per
// event, and glibc malloc spent ~45% of parse + attribute time managing them.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod cli;
mod config;
mod demo;
mod detect;
mod ingest;
mod lines;

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use cli::*;
use shouwang_registry::io::{self as regio, Limits};
use shouwang_store::{Attributor, NewUser, Principal, Role, Store};

use config::{Config, LogFormat};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging(cfg: &Config, default_quiet: bool) {
    // CLI commands print results on stdout; keep logs to warnings unless asked.
    let level = if default_quiet && std::env::var_os("SHOUWANG_LOG").is_none() { "warn".to_string() } else { cfg.log.level.clone() };
    let filter = tracing_subscriber::EnvFilter::try_new(&level).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let b = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if cfg.log.format == LogFormat::Json { b.json().try_init() } else { b.try_init() };
}

async fn open_store(cfg: &Config) -> anyhow::Result<Store> {
    match &cfg.database.url {
        Some(url) => Store::connect(url.expose(), cfg.database.max_connections).await.context("cannot open the database"),
        None => Store::open_sqlite_dir(&cfg.data_dir)
            .await
            .with_context(|| format!("cannot open the data directory {}", cfg.data_dir.display())),
    }
}

/// The CLI acts as the local operator: it has the machine and the database
/// file, so it has full rights, and the audit trail names the OS user.
fn local_principal() -> Principal {
    Principal::local(&std::env::var("USER").unwrap_or_else(|_| "operator".into()))
}

fn print_json_line(out: &mut impl Write, v: &impl serde::Serialize) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *out, v)?;
    out.write_all(b"\n")?;
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    let cfg = Config::load(cli.config.as_deref())?;
    init_logging(&cfg, !matches!(cli.command, Command::Serve { .. }));
    let ok = std::process::ExitCode::SUCCESS;
    let me = local_principal();
    match cli.command {
        Command::ConfigExample => print!("{}", config::EXAMPLE),
        Command::Demo { cmd: Some(DemoCmd::Generate { out, seed, units, assets }), .. } => {
            let b = shouwang_demo::generate(shouwang_demo::Spec { seed, units, assets });
            regio::write_csv_dir(&b, &out).with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!(
                "wrote {} regions, {} units, {} contacts, {} assets to {}",
                b.regions.len(),
                b.units.len(),
                b.contacts.len(),
                b.assets.len(),
                out.display()
            );
        }
        Command::Serve { listen, demo } => serve(&cfg, listen, if demo { Mode::DemoAdmin } else { Mode::Plain }).await?,
        Command::Demo { cmd: None, listen, events_per_second } => serve(&cfg, listen, Mode::Demo { events_per_second }).await?,
        Command::Attribute { values, at } => {
            let att = Attributor::new(open_store(&cfg).await?).await?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            if values.is_empty() {
                attribute_stdin(&att, &me, at, &mut out).await?;
            } else {
                for r in att.attribute(&me, &values, at).await? {
                    print_json_line(&mut out, &r)?;
                }
            }
            out.flush()?;
        }
        Command::Registry(RegistryCmd::Import { path, reason, dry_run, json }) => {
            let store = open_store(&cfg).await?;
            let bundle = match regio::read_path(&path, Limits { max_bytes: cfg.import.max_bytes }) {
                Ok(b) => b,
                Err(errs) => {
                    report_errors(&errs.iter().map(ToString::to_string).collect::<Vec<_>>());
                    return Ok(std::process::ExitCode::FAILURE);
                }
            };
            let outcome = store.import(&me, &bundle, &reason, dry_run).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&outcome)?);
            } else {
                print_outcome(&outcome);
            }
            if !outcome.errors.is_empty() {
                if !json {
                    report_errors(&outcome.errors);
                }
                return Ok(std::process::ExitCode::FAILURE);
            }
        }
        Command::Registry(RegistryCmd::Export { format, out }) => {
            let store = open_store(&cfg).await?;
            let b = store.export(&me).await?;
            match (format, out) {
                (Format::Csv, Some(dir)) => regio::write_csv_dir(&b, &dir).with_context(|| format!("cannot write {}", dir.display()))?,
                (Format::Csv, None) => bail!("CSV export writes four files: give --out DIRECTORY"),
                (Format::Json, Some(file)) => std::fs::write(&file, serde_json::to_vec_pretty(&regio::to_json(&b))?)?,
                (Format::Json, None) => println!("{}", serde_json::to_string_pretty(&regio::to_json(&b))?),
            }
        }
        Command::Registry(RegistryCmd::Schema) => print!("{}", regio::schema_markdown()),
        Command::Registry(RegistryCmd::Overlaps) => {
            let store = open_store(&cfg).await?;
            let mut out = std::io::stdout().lock();
            for o in store.overlaps(&me).await? {
                print_json_line(&mut out, &o)?;
            }
        }
        Command::Units(cmd) => {
            let store = open_store(&cfg).await?;
            match cmd {
                UnitsCmd::List { query, limit } => {
                    for u in store.list_units(&me, query.as_deref(), limit, 0).await? {
                        let flag = if u.reachable { "" } else { "  [no reachable contact]" };
                        println!("{:<12} {:<6} {:>5} assets  {}{flag}", u.code, u.region, u.assets, u.name_zh);
                    }
                }
                UnitsCmd::Show { code } => println!("{}", serde_json::to_string_pretty(&store.unit(&me, &code).await?)?),
                UnitsCmd::History { code } => {
                    let mut out = std::io::stdout().lock();
                    for c in store.unit_history(&me, &code).await? {
                        print_json_line(&mut out, &c)?;
                    }
                }
            }
        }
        Command::User(UserCmd::Add { username, role, unit, name, password_stdin }) => {
            let store = open_store(&cfg).await?;
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                Some(line.trim_end_matches(['\r', '\n']).to_string())
            } else {
                None
            };
            let unit = unit.map(|u| shouwang_registry::UnitCode::parse(&u)).transpose().map_err(anyhow::Error::msg)?;
            let role = Role::parse(&role)?;
            store
                .create_user(
                    &me,
                    NewUser { display_name: name.unwrap_or_else(|| username.clone()), username: username.clone(), role, unit, password },
                )
                .await?;
            eprintln!("created user {username} ({})", role.as_str());
        }
        Command::Token(cmd) => {
            let store = open_store(&cfg).await?;
            match cmd {
                TokenCmd::Create { username, name } => println!("{}", store.create_token(&me, &username, &name).await?),
                TokenCmd::List { username } => {
                    let mut out = std::io::stdout().lock();
                    for t in store.list_tokens(&me, &username).await? {
                        print_json_line(&mut out, &t)?;
                    }
                }
                TokenCmd::Revoke { id, reason } => {
                    store.revoke_token(&me, id, &reason).await?;
                    eprintln!("revoked token {id}");
                }
            }
        }
        Command::User(UserCmd::Disable { username, reason }) => {
            open_store(&cfg).await?.disable_user(&me, &username, &reason).await?;
            eprintln!("disabled user {username}");
        }
        Command::Ingest { inputs, format, source, sensor, from_start, json } => {
            let (format, variant) = match format {
                None => (None, String::new()),
                Some(spec) => {
                    let (f, v) = shouwang_ingest::Format::from_spec(&spec).map_err(anyhow::Error::msg)?;
                    if f == shouwang_ingest::Format::Json && !v.is_empty() && cfg.field_maps()?.get(&v).is_none() {
                        bail!("--format {spec}: no field map `{v}` is configured (add a [formats.{v}] table)");
                    }
                    (Some(f), v)
                }
            };
            let source = shouwang_pipeline::Source { name: source, sensor, format, variant };
            if !ingest::ingest(&cfg, &inputs, source, from_start, json).await? {
                return Ok(std::process::ExitCode::FAILURE);
            }
        }
        Command::Detect { rules, pipeline, indicators, registry, inputs } => {
            let registry = match &registry {
                Some(path) => Some(detect::registry(path).await?),
                None => None,
            };
            if !detect::run(&rules, &pipeline, &indicators, registry.as_ref().map(|(_, a)| a), &inputs)? {
                return Ok(std::process::ExitCode::FAILURE);
            }
        }
        Command::Events(cmd) => ingest::events(&cfg, cmd)?,
        Command::Alerts { unit, level, category, rule, source, from, to, limit } => {
            let store = open_store(&cfg).await?;
            let q = shouwang_store::AlertQuery { unit, level, category, rule, source, from, to, limit: Some(limit), offset: None };
            let mut out = std::io::stdout().lock();
            for a in store.alerts(&me, &q).await? {
                print_json_line(&mut out, &a)?;
            }
        }
        Command::DeadLetters(cmd) => ingest::dead_letters(&cfg, cmd).await?,
        Command::Status => println!("{}", serde_json::to_string_pretty(&ingest::status(&cfg)?)?),
        Command::Notices(cmd) => notices(&cfg, &me, cmd).await?,
        Command::Calendar(CalendarCmd::List) => {
            let store = open_store(&cfg).await?;
            let mut out = std::io::stdout().lock();
            for d in store.calendar_days(&me).await? {
                print_json_line(&mut out, &d)?;
            }
        }
        Command::Calendar(CalendarCmd::Set { date, kind, name, reason }) => {
            let kind = match kind.as_str() {
                "clear" => None,
                k => Some(shouwang_workflow::DayKind::parse(k).map_err(|e| anyhow::anyhow!("{e} (or `clear`)"))?),
            };
            open_store(&cfg).await?.set_calendar_day(&me, date, kind, &name, &reason).await?;
        }
        Command::Deadlines(DeadlinesCmd::Show) => {
            println!("{}", serde_json::to_string_pretty(&open_store(&cfg).await?.deadline_policy().await?)?);
        }
        Command::Deadlines(DeadlinesCmd::Set { file, reason }) => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let policy = open_store(&cfg).await?.set_deadline_policy(&me, &text, &reason).await?;
            println!("{}", serde_json::to_string_pretty(&policy)?);
        }
        Command::Deadlines(DeadlinesCmd::Sweep) => {
            let report = open_store(&cfg).await?.sweep_deadlines(jiff::Timestamp::now()).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::Deadlines(DeadlinesCmd::Ladder) => {
            println!("{}", serde_json::to_string_pretty(&open_store(&cfg).await?.ladder().await?)?);
        }
        Command::Outbox(OutboxCmd::List { state, notice, limit }) => {
            let store = open_store(&cfg).await?;
            let q = shouwang_store::OutboxQuery { state, notice, limit: Some(limit), offset: None };
            let mut out = std::io::stdout().lock();
            for m in store.outbox(&me, &q).await? {
                print_json_line(&mut out, &m)?;
            }
        }
        Command::Outbox(OutboxCmd::Retry { id, reason }) => {
            open_store(&cfg).await?.retry_outbox(&me, id, &reason).await?;
            eprintln!("message {id} is queued again");
        }
        Command::Audit { cmd: Some(AuditCmd::Verify { expect_head }), .. } => {
            let store = open_store(&cfg).await?;
            let r = store.verify_audit(&me, expect_head.as_deref()).await?;
            for p in &r.problems {
                println!("broken: {p}");
            }
            if !r.intact() {
                eprintln!("the audit trail has been tampered with: {} problem(s) in {} entries", r.problems.len(), r.entries);
                return Ok(std::process::ExitCode::FAILURE);
            }
            println!("intact: {} entries, head {}", r.entries, r.head);
        }
        Command::Audit { cmd: None, limit } => {
            let store = open_store(&cfg).await?;
            let mut out = std::io::stdout().lock();
            for e in store.audit_entries(&me, limit).await? {
                print_json_line(&mut out, &e)?;
            }
        }
    }
    Ok(ok)
}

async fn notices(cfg: &Config, me: &Principal, cmd: NoticesCmd) -> anyhow::Result<()> {
    let store = open_store(cfg).await?;
    let now = jiff::Timestamp::now();
    match cmd {
        NoticesCmd::List { unit, state, level, kind, overdue, limit } => {
            let q = shouwang_store::NoticeQuery { unit, state, level, kind, overdue, limit: Some(limit), offset: None };
            let mut out = std::io::stdout().lock();
            for n in store.notices(me, &q, now).await? {
                print_json_line(&mut out, &n)?;
            }
        }
        NoticesCmd::Show { id } => println!("{}", serde_json::to_string_pretty(&store.notice(me, id, now).await?)?),
        NoticesCmd::Move { id, action, reason, version } => {
            let action = shouwang_workflow::Action::parse(&action).map_err(|e| anyhow::anyhow!("{e}"))?;
            let version = match version {
                Some(v) => v,
                None => store.notice(me, id, now).await?.notice.version,
            };
            let m = shouwang_store::Move { action, reason, answer: None };
            println!("{}", serde_json::to_string_pretty(&store.move_notice(me, id, version, &m, now).await?)?);
        }
    }
    Ok(())
}

/// Longest line `shouwang attribute` accepts on stdin (a URL can be long).
const MAX_LINE: usize = 8192;

/// One JSON line per input line, in order, batched for the index; lines
/// that are not UTF-8 or too long are answered `invalid`, and the run goes on.
async fn attribute_stdin(att: &Attributor, me: &Principal, at: Option<jiff::Timestamp>, out: &mut impl Write) -> anyhow::Result<()> {
    let mut input = lines::Lines::new(std::io::stdin().lock(), MAX_LINE);
    let mut batch: Vec<lines::Line> = Vec::with_capacity(4096);
    loop {
        let line = input.next_line().context("cannot read stdin")?;
        let done = line.is_none();
        match line {
            Some(lines::Line::Text(t)) if t.trim().is_empty() => {}
            Some(l) => batch.push(l),
            None => {}
        }
        if batch.len() == 4096 || (done && !batch.is_empty()) {
            let texts: Vec<String> =
                batch.iter_mut().filter_map(|l| if let lines::Line::Text(t) = l { Some(std::mem::take(t)) } else { None }).collect();
            let mut answers = att.attribute(me, &texts, at).await?.into_iter();
            for l in batch.drain(..) {
                match l {
                    lines::Line::Text(_) => print_json_line(out, &answers.next().expect("one answer per query"))?,
                    lines::Line::Rejected { preview, reason } => {
                        print_json_line(out, &serde_json::json!({ "query": preview, "status": "invalid", "reason": reason }))?
                    }
                }
            }
        }
        if done {
            return Ok(());
        }
    }
}

fn report_errors(errors: &[String]) {
    const SHOWN: usize = 200;
    for e in errors.iter().take(SHOWN) {
        eprintln!("{e}");
    }
    if errors.len() > SHOWN {
        eprintln!("… and {} more", errors.len() - SHOWN);
    }
    eprintln!("{} record(s) rejected; nothing was applied", errors.len());
}

fn print_outcome(o: &shouwang_store::ImportOutcome) {
    let s = &o.summary;
    let verb = if o.applied {
        "applied"
    } else if o.dry_run {
        "dry run, nothing applied"
    } else if o.errors.is_empty() {
        "nothing to change"
    } else {
        "rejected"
    };
    println!("import: {} records ({verb})", s.records);
    let list = |label: &str, items: &[String]| {
        if !items.is_empty() {
            let shown: Vec<&str> = items.iter().take(10).map(String::as_str).collect();
            let more = if items.len() > 10 { format!(" … (+{})", items.len() - 10) } else { String::new() };
            println!("  {label:<24} {:>6}  {}{more}", items.len(), shown.join(", "));
        }
    };
    list("regions added", &s.regions_added);
    list("regions changed", &s.regions_changed);
    list("units added", &s.units_added);
    list("units changed", &s.units_changed);
    list("contacts replaced for", &s.contacts_replaced_for);
    let claims = |v: &[shouwang_store::ClaimChange]| v.iter().map(|c| format!("{} {}", c.unit, c.value)).collect::<Vec<_>>();
    list("claims opened", &claims(&s.claims_opened));
    list("claims ended", &claims(&s.claims_ended));
    list("assets moved", &o.moved.iter().map(|m| format!("{} {} → {}", m.value, m.from, m.to)).collect::<Vec<_>>());
    list(
        "overlaps",
        &o.overlaps.iter().map(|x| format!("{} {} / {} {} ({})", x.a_unit, x.a_asset, x.b_unit, x.b_asset, x.relation)).collect::<Vec<_>>(),
    );
    list("units unreachable", &o.unreachable_units);
    println!("  {:<24} {:>6}", "unchanged", s.unchanged);
}

/// What `serve` sets up besides the server.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Plain,
    /// `serve --demo`: the demo region and an admin with an API token.
    DemoAdmin,
    /// `shouwang demo`: the region, an account per role, live events.
    Demo {
        events_per_second: u32,
    },
}

async fn serve(cfg: &Config, listen: Option<std::net::SocketAddr>, mode: Mode) -> anyhow::Result<()> {
    let demo_cfg;
    let cfg = match mode {
        Mode::Demo { .. } if cfg.detection.rules.is_empty() && cfg.detection.indicators.is_empty() => {
            demo_cfg = Config { detection: demo::detection(&cfg.data_dir)?, ..cfg.clone() };
            &demo_cfg
        }
        _ => cfg,
    };
    let store = open_store(cfg).await?;
    let addr = listen.unwrap_or(cfg.server.listen);
    match mode {
        Mode::Plain => {}
        Mode::DemoAdmin => seed_demo(&store, addr).await?,
        Mode::Demo { .. } => {
            seed_region(&store).await?;
            demo::accounts_and_credentials(&store, &cfg.data_dir, addr).await?;
            demo::auto_issue(&store).await?;
        }
    }
    let attributor = Arc::new(Attributor::new(store.clone()).await?);
    let pipeline = ingest::pipeline_with(cfg, store.clone(), attributor.clone())?;
    let spool =
        shouwang_pipeline::Spool::open(&cfg.spool_dir(), cfg.ingest.spool_max_bytes, pipeline.max_record, pipeline.counters.clone())
            .with_context(|| format!("cannot open the spool in {}", cfg.spool_dir().display()))?;
    let ing =
        Arc::new(shouwang_server::Ingest::new(pipeline, Arc::new(spool), cfg.ingest.http_max_body_bytes, cfg.ingest.http_max_in_flight));
    let consumer = shouwang_server::Consumer::start(&ing);
    let mut listeners = Vec::new();
    for l in &cfg.ingest.syslog {
        let (addr, task) = shouwang_server::syslog::spawn(l.listener()?, ing.spool.clone())
            .await
            .with_context(|| format!("cannot listen for syslog `{}` on {}", l.name, l.listen))?;
        tracing::info!(name = %l.name, %addr, "syslog listener started");
        listeners.push(task);
    }
    let retention = spawn_retention(ing.clone(), cfg.clone());
    let state = shouwang_server::AppState {
        store: store.clone(),
        attributor: attributor.clone(),
        metrics: Arc::new(shouwang_server::Metrics::new()),
        max_import_bytes: usize::try_from(cfg.import.max_bytes).unwrap_or(usize::MAX),
        ingest: ing,
        categories: Arc::new(shouwang_grade::Categories::builtin()),
    };
    let refresher = shouwang_server::spawn_index_refresh(attributor, Duration::from_secs(cfg.server.index_refresh_secs));
    let sender = Arc::new(shouwang_deliver::Sender::new(&cfg.delivery.sender())?);
    let clock = shouwang_server::wall_clock();
    let dispatcher = shouwang_server::spawn_dispatcher(store.clone(), sender, cfg.delivery.dispatch(), clock.clone());
    let sweeper = shouwang_server::spawn_sweeper(store.clone(), Duration::from_secs(cfg.delivery.sweep_secs), clock);
    let replay = match mode {
        Mode::Demo { events_per_second } if events_per_second > 0 => {
            Some(demo::spawn_replay(state.ingest.spool.clone(), events_per_second))
        }
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    tracing::info!(addr = %listener.local_addr()?, backend = ?store.backend(), "serving the API and the web console");
    // The console's sign-in limits count per client address: the peer's.
    let app = shouwang_web::router(state.clone()).merge(shouwang_server::router(state));
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    if let Some(r) = replay {
        r.abort();
    }
    refresher.abort();
    retention.abort();
    // A message being sent now keeps its claim; it lapses and the message
    // goes out again after a restart (receivers see the same key).
    dispatcher.abort();
    sweeper.abort();
    listeners.iter().for_each(|t| t.abort());
    // Records still in the spool are safe there; the consumer stops at a batch boundary.
    tokio::task::spawn_blocking(move || consumer.stop()).await?;
    store.close().await;
    Ok(())
}

/// Drops expired day partitions at start and then hourly.
fn spawn_retention(ing: Arc<shouwang_server::Ingest>, cfg: Config) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let (events, keep_from) = (ing.pipeline.events.clone(), ingest::retention_start(&cfg));
            match tokio::task::spawn_blocking(move || events.retain(keep_from)).await {
                Ok(Ok(dropped)) if !dropped.is_empty() => tracing::info!(?dropped, %keep_from, "retention dropped event partitions"),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "retention failed"),
                Err(e) => tracing::error!(error = %e, "retention task failed"),
            }
        }
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}

/// First run of `serve --demo`: the demo region, and an admin whose
/// password and token are printed once (to the terminal, never to logs).
async fn seed_demo(store: &Store, addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let me = Principal::local("demo");
    seed_region(store).await?;
    if store.user_count().await? == 0 {
        let password = demo::password();
        let user = NewUser {
            username: "admin".into(),
            display_name: "Demo administrator".into(),
            role: Role::CentreAdmin,
            unit: None,
            password: Some(password.clone()),
        };
        store.create_user(&me, user).await?;
        let token = store.create_token(&me, "admin", "demo").await?;
        println!("Created user admin (centre_admin). Shown once, keep them:");
        println!("  password: {password}");
        println!("  API token: {token}");
        println!("Try: curl -H 'Authorization: Bearer {token}' 'http://{addr}/api/v1/attribute?q=10.0.0.1'");
    }
    Ok(())
}

/// On an empty registry, the demo region 云岭省.
async fn seed_region(store: &Store) -> anyhow::Result<()> {
    if store.registry_version().await? == 0 {
        let b = shouwang_demo::generate(shouwang_demo::Spec::default());
        let out = store.import(&Principal::local("demo"), &b, "demo region", false).await?;
        if !out.errors.is_empty() {
            bail!("the demo region failed to import: {}", out.errors[0]);
        }
        println!("Loaded the demo region 云岭省: {} units, {} assets.", b.units.len(), b.assets.len());
    }
    Ok(())
}
