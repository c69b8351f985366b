//! The store suite: every test runs against a fresh SQLite file and a fresh
//! PostgreSQL database. PostgreSQL comes from SHOUWANG_TEST_POSTGRES_URL (a
//! URL to a maintenance database such as `postgres`); `.ci/run` starts a
//! real server and sets it. Without it the PostgreSQL half is skipped
//! locally and fails under CI, so CI cannot pass without running it.

mod suite;

use shouwang_store::Store;

pub struct TestDb {
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
}

pub async fn sqlite() -> Option<TestDb> {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open_sqlite_dir(dir.path()).await.expect("open sqlite");
    Some(TestDb { store, _dir: Some(dir) })
}

pub async fn postgres() -> Option<TestDb> {
    let Ok(admin_url) = std::env::var("SHOUWANG_TEST_POSTGRES_URL") else {
        assert!(std::env::var_os("CI").is_none(), "CI must run the store suite on PostgreSQL: set SHOUWANG_TEST_POSTGRES_URL");
        eprintln!("SHOUWANG_TEST_POSTGRES_URL unset: skipping the PostgreSQL half");
        return None;
    };
    use sqlx::Connection;
    let name = format!("sw_test_{:016x}", rand_id());
    let mut conn = sqlx::PgConnection::connect(&admin_url).await.expect("connect to PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create test database");
    let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin_url);
    let store = Store::connect(&format!("{base}/{name}"), 4).await.expect("open postgres store");
    Some(TestDb { store, _dir: None })
}

fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    h.finish()
}

/// Declares each suite test once per backend.
macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(db) = crate::sqlite().await { crate::suite::$name(&db.store).await }
            })*
        }
        mod on_postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                if let Some(db) = crate::postgres().await { crate::suite::$name(&db.store).await }
            })*
        }
    };
}

store_tests!(
    migrations_are_idempotent,
    alert_samples_survive_migration_3,
    demo_import_then_attribute,
    dry_run_changes_nothing,
    export_import_round_trips_exactly,
    moved_asset_keeps_history_and_answers_as_of,
    invalid_import_applies_nothing,
    tenancy_is_enforced_in_the_store,
    tokens_and_passwords,
    history_and_audit_cannot_be_rewritten,
    overlaps_report_winner,
    concurrent_imports_serialize,
    events_are_tagged_with_owning_units_on_the_way_in,
    alerts_aggregate_scope_and_keep_overrides,
    notices_go_round_the_loop_on_the_calendar,
    high_levels_need_a_leader_and_numbers_run_per_year,
    concurrent_moves_on_one_version_let_one_through,
    moves_written_together_each_keep_their_own_outcome,
    the_calendar_and_policy_are_data_the_admin_edits,
    notice_filters_and_the_board_match_a_plain_scan,
    a_closed_notice_reopens_when_its_problem_comes_back,
    audit_chain_finds_edits_deletions_and_a_cut_tail,
    audit_chain_covers_entries_from_before_it,
    deadlines_raise_reminders_and_the_escalation_ladder_once,
    the_outbox_claims_once_backs_off_and_gives_up,
    alerts_of_a_chosen_class_are_issued_without_a_human,
    attachments_keep_their_bytes_and_follow_the_notice,
    upward_reports_run_their_clocks_from_first_report_to_closure,
    request_keys_replay_refuse_and_expire,
    reporting_clocks_remind_and_escalate_once,
    web_sessions_sign_in_limit_expire_and_revoke,
    administrators_list_enable_and_reset_users,
);
