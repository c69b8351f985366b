//! The spool's consumer: reads segments in order from their checkpoints,
//! parses and tags each record with the stage its format names, and hands
//! batches to the writer. A segment is deleted once it is sealed and its
//! checkpoint (committed after its events) has reached its end.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::sync_channel;
use std::time::Duration;

use shouwang_eventstore::{Batch, DeadLetter, Origin};
use shouwang_ingest::{Format, Reason};

use crate::spool::{Spool, segment_stream};
use crate::*;

/// Bytes of spool read per batch.
const READ_BYTES: usize = 4 * 1024 * 1024;

type StageKey = (Format, String, String, Option<String>);

impl Pipeline {
    /// Processes the spool until `stop` is set (checked at least every 200 ms).
    pub fn run_spool(&self, spool: &Spool, stop: &AtomicBool) -> Result<()> {
        let (tx, rx) = sync_channel::<Work>(QUEUE_BATCHES);
        std::thread::scope(|s| {
            let writer = s.spawn(move || self.write_all(rx));
            let mut feed = Feed::new(tx, self.counters.clone());
            let read = self.spool_loop(spool, stop, &mut feed);
            feed.flush();
            drop(feed);
            writer.join().expect("the writer thread does not panic")?;
            read
        })
    }

    fn spool_loop(&self, spool: &Spool, stop: &AtomicBool, feed: &mut Feed) -> Result<()> {
        let spool_err = |e: crate::spool::SpoolError| PipelineError::Input { what: "spool".into(), why: e.to_string() };
        let mut stages: HashMap<StageKey, Stage> = HashMap::new();
        // How far batches have been handed to the writer, per segment.
        let mut sent: HashMap<u64, u64> = HashMap::new();
        let mut seen = 0u64;
        while !stop.load(Relaxed) {
            let mut progressed = false;
            let (active, _) = spool.active();
            for seg in spool.segments().map_err(spool_err)? {
                let stream = self.events.stream(&segment_stream(seg))?;
                let committed = stream.position as u64;
                let from = *sent.entry(seg).or_insert(committed);
                let (frames, end) = spool.read(seg, from, READ_BYTES).map_err(spool_err)?;
                if frames.is_empty() {
                    if seg != active && committed >= end {
                        spool.remove(seg).map_err(spool_err)?;
                        sent.remove(&seg);
                    }
                    continue;
                }
                progressed = true;
                let mut batch = Batch::default();
                for (pos, frame) in frames {
                    let origin = Origin { stream: stream.id, pos: pos as i64 };
                    match frame {
                        Ok(r) => {
                            let key = (r.format, r.variant.clone(), r.source.clone(), r.sensor.clone());
                            let stage = match stages.entry(key) {
                                std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                                std::collections::hash_map::Entry::Vacant(v) => {
                                    let source = Source {
                                        name: r.source.clone(),
                                        sensor: r.sensor.clone(),
                                        format: Some(r.format),
                                        variant: r.variant.clone(),
                                    };
                                    v.insert(Stage::or_refusing(r.format, &r.variant, None, &source, self))
                                }
                            };
                            stage.set_received(r.received);
                            match r.reject {
                                None => stage.run(origin, &r.bytes, &mut batch),
                                Some((reason, detail)) => {
                                    let reject = shouwang_ingest::Reject::new(reason, detail);
                                    batch.dead.push(stage.dead_letter(origin, reject, &r.bytes, r.bytes.len() as u64));
                                }
                            }
                        }
                        Err(why) => batch.dead.push(DeadLetter {
                            origin,
                            source: "spool".into(),
                            sensor: None,
                            format: "spool".into(),
                            context: None,
                            reason: Reason::Malformed.as_str().into(),
                            detail: why,
                            received: jiff::Timestamp::now(),
                            record: Vec::new(),
                            record_len: 0,
                        }),
                    }
                }
                batch.checkpoint = Some((stream.id, end as i64));
                sent.insert(seg, end);
                if !self.send(feed, batch)? {
                    return Ok(()); // the writer stopped; its error is returned by the caller
                }
            }
            if !progressed {
                // Idle: the hits held so far are recorded now, not when more comes.
                if !feed.flush() {
                    return Ok(());
                }
                spool.wait(&mut seen, Duration::from_millis(200));
            }
        }
        Ok(())
    }
}
