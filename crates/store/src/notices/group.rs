//! Group commit for notice moves. SQLite takes one writer at a time, and
//! most of a move's cost is the round trips to the writer connection's
//! thread (see `batch`), not the writing: so moves that arrive while
//! another group is being written wait, then go together in one
//! transaction: one read of all their notices, one batch of all their
//! writes, one commit. A lone move is a group of one. Each move still
//! succeeds or fails on its own: a refused move writes nothing, and if the
//! group as a whole fails the moves are tried again one by one.
//!
//! On PostgreSQL every move is a group of one: there concurrent moves run
//! side by side on their own connections, each holding its own row lock.

use std::collections::{HashMap, HashSet};

use shouwang_workflow::Action;
use sqlx::Row;
use sqlx::any::AnyRow;
use tokio::sync::oneshot;

use super::moves::{Move, Planned, Writes, finish_move, plan_move};
use super::{Moved, NOTICE_COLUMNS, Stored, allowed_for, notice_of, visible};
use crate::access::{Principal, Visibility};
use crate::audit::Head;
use crate::batch::Batch;
use crate::{Backend, Result, Store, StoreError};

/// Most moves in one group.
const MAX_GROUP: usize = 64;

/// Moves waiting for the writer, and whose turn it is to write them.
#[derive(Default)]
pub(crate) struct Mover {
    queue: std::sync::Mutex<Vec<Request>>,
    turn: tokio::sync::Mutex<()>,
}

/// A checked move request.
pub(super) struct Ask {
    pub p: Principal,
    pub vis: Visibility,
    pub id: i64,
    pub version: i64,
    pub mv: Move,
    pub now: jiff::Timestamp,
}

struct Request {
    ask: Ask,
    reply: oneshot::Sender<Result<Moved>>,
}

/// What became of one move of a group before its writes were sent.
enum Fate {
    Planned(Planned),
    /// Not visible to the caller: refused as not found, and the attempt
    /// audited after the group commits.
    Denied,
    Refused(StoreError),
}

fn lost() -> StoreError {
    StoreError::Conflict("the move was interrupted before its outcome was known: read the notice again".into())
}

impl Store {
    /// Takes a checked move, with whatever other moves are waiting.
    pub(super) async fn take_move(&self, ask: Ask) -> Result<Moved> {
        let (reply, mut rx) = oneshot::channel();
        if self.backend != Backend::Sqlite {
            self.run_moves(vec![Request { ask, reply }]).await;
            return rx.await.map_err(|_| lost())?;
        }
        self.mover.queue.lock().unwrap_or_else(|e| e.into_inner()).push(Request { ask, reply });
        let turn = self.mover.turn.lock().await;
        // Write groups until ours is done. A group takes at most MAX_GROUP
        // moves, so ours may not be in the first; nobody else may be left
        // waiting to write it.
        loop {
            match rx.try_recv() {
                Ok(done) => return done,
                Err(oneshot::error::TryRecvError::Closed) => return Err(lost()),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let group: Vec<Request> = {
                let mut queue = self.mover.queue.lock().unwrap_or_else(|e| e.into_inner());
                let n = queue.len().min(MAX_GROUP);
                queue.drain(..n).collect()
            };
            if group.is_empty() {
                // Ours is in a group still being written by a task whose
                // caller went away: its answer comes on `rx`.
                break;
            }
            // A task of its own, so a caller that goes away (a dropped HTTP
            // request) cannot cancel the other moves of its group half-way.
            let store = self.clone();
            let _ = tokio::spawn(async move { store.run_moves(group).await }).await;
        }
        drop(turn);
        rx.await.map_err(|_| lost())?
    }

    /// Writes `pending` in as few groups as it takes: one move per notice
    /// per group, so a second move of the same notice sees the first.
    async fn run_moves(&self, mut pending: Vec<Request>) {
        while !pending.is_empty() {
            let mut seen = HashSet::new();
            let (now, later): (Vec<Request>, Vec<Request>) = pending.into_iter().partition(|r| seen.insert(r.ask.id));
            pending = later;
            let asks: Vec<&Ask> = now.iter().map(|r| &r.ask).collect();
            match self.move_group(&asks).await {
                Ok(results) => {
                    for (r, result) in now.into_iter().zip(results) {
                        let _ = r.reply.send(result);
                    }
                }
                Err(_) if now.len() > 1 => {
                    // Which move broke the group is not known: each alone.
                    for r in now {
                        let result = match self.move_group(&[&r.ask]).await {
                            Ok(mut one) => one.pop().unwrap_or_else(|| Err(lost())),
                            Err(e) => Err(e),
                        };
                        let _ = r.reply.send(result);
                    }
                }
                Err(e) => {
                    if let Some(r) = now.into_iter().next() {
                        let _ = r.reply.send(Err(e));
                    }
                }
            }
        }
    }

    /// One transaction for `asks` (each on a different notice): an outcome
    /// per move, or an error if the group as a whole failed (nothing kept).
    async fn move_group(&self, asks: &[&Ask]) -> Result<Vec<Result<Moved>>> {
        let rules = self.rules().await?;
        let mut tx = self.write().await?;
        let ids = asks.iter().map(|a| a.id.to_string()).collect::<Vec<_>>().join(", ");
        // Read under the writer's lock, so the moves see the versions they
        // replace. On SQLite `BEGIN IMMEDIATE` already holds the lock: a
        // plain read suffices, and it reads the audit chain's head too. On
        // PostgreSQL a no-op update takes the rows' locks.
        let sqlite = self.backend == Backend::Sqlite;
        let sql = if sqlite {
            format!(
                "SELECT {NOTICE_COLUMNS}, (SELECT seq FROM audit_head) AS audit_seq, (SELECT hash FROM audit_head) AS audit_hash \
                 FROM notices WHERE id IN ({ids})"
            )
        } else {
            format!("UPDATE notices SET version = version WHERE id IN ({ids}) RETURNING {NOTICE_COLUMNS}")
        };
        let rows = sqlx::query(&sql).fetch_all(&mut *tx).await?;
        let head = match rows.first() {
            Some(r) if sqlite => Head::of_row(r)?,
            _ => Head::lock(&mut tx).await?,
        };
        let mut found: HashMap<i64, Stored> = HashMap::with_capacity(rows.len());
        for r in &rows {
            let s = notice_of(r)?;
            found.insert(s.notice.id, s);
        }
        let mut writes = Writes { batch: Batch::default(), head };
        let mut fates = Vec::with_capacity(asks.len());
        for a in asks {
            let fate = match found.remove(&a.id) {
                None => Fate::Refused(StoreError::NotFound(format!("notice {}", a.id))),
                Some(s) if !visible(&a.p, &a.vis, &s.notice) => Fate::Denied,
                Some(s) if s.notice.version != a.version => Fate::Refused(StoreError::Stale(format!(
                    "notice {} changed since it was read (version {} now, {} given): read it again",
                    a.id, s.notice.version, a.version
                ))),
                Some(s) => match plan_move(&mut tx, &a.p, s, &a.mv, a.now, &rules, &mut writes).await {
                    Ok(planned) => Fate::Planned(planned),
                    Err(e @ StoreError::Db(_)) => return Err(e),
                    Err(e) => Fate::Refused(e),
                },
            };
            fates.push(fate);
        }
        let mut after: HashMap<i64, AnyRow> = HashMap::new();
        for r in writes.batch.run(&mut tx).await? {
            after.insert(r.try_get("id")?, r);
        }
        let (mut results, mut denied, mut messages) = (Vec::with_capacity(asks.len()), Vec::new(), 0);
        for (a, fate) in asks.iter().zip(fates) {
            results.push(match fate {
                Fate::Planned(planned) => {
                    let (moved, sent) = finish_move(&mut tx, &a.p, &planned, &a.mv, after.get(&planned.id), &rules).await?;
                    messages += sent;
                    let allowed: Vec<Action> = allowed_for(&a.p, moved.notice.state, moved.notice.level);
                    Ok(Moved { notice: moved.at(a.now), allowed })
                }
                Fate::Denied => {
                    denied.push(results.len());
                    Err(StoreError::NotFound(format!("notice {}", a.id)))
                }
                Fate::Refused(e) => Err(e),
            });
        }
        tx.commit().await?;
        if messages > 0 {
            self.wake_sender();
        }
        // The writer is free again: audit the denied attempts.
        for i in denied {
            results[i] = Err(self.deny(&asks[i].p, asks[i].id).await);
        }
        Ok(results)
    }
}
