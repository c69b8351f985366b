//! Replaying dead letters after a parser fix: each open letter is parsed
//! again by the parser its format names; what parses now is stored under
//! the letter's own origin (so a second replay stores nothing twice) and the
//! letter is marked replayed; what still fails keeps its new reason.

use serde::Serialize;
use shouwang_eventstore::{Batch, DeadQuery};
use shouwang_ingest::Format;

use crate::*;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplayReport {
    pub tried: u64,
    pub replayed: u64,
    pub still_rejected: u64,
    /// Cut at the dead-letter size limit, or of an unknown format: cannot be parsed again.
    pub not_replayable: u64,
}

impl Pipeline {
    pub fn replay(&self, filter: &DeadQuery) -> Result<ReplayReport> {
        let mut report = ReplayReport::default();
        let mut after = filter.after_id;
        loop {
            let page = self.events.dead_letters(&DeadQuery { after_id: after, limit: 1000, all: false, ..filter.clone() })?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            let mut batch = Batch::default();
            let mut replayed = Vec::new();
            for d in &page {
                report.tried += 1;
                let l = &d.letter;
                if l.record_len > l.record.len() as u64 {
                    report.not_replayable += 1;
                    continue;
                }
                let Ok((format, variant)) = Format::from_spec(&l.format) else {
                    report.not_replayable += 1;
                    continue;
                };
                let source = Source { name: l.source.clone(), sensor: l.sensor.clone(), format: Some(format), variant: variant.clone() };
                let mut stage = match Stage::new(format, &variant, l.context.clone().map(String::into_bytes), &source, self) {
                    Ok(s) => s,
                    Err(_) => {
                        report.not_replayable += 1;
                        continue;
                    }
                };
                stage.set_received(l.received);
                let mut one = Batch::default();
                stage.run(l.origin, &l.record, &mut one);
                match one.dead.pop() {
                    Some(again) => {
                        report.still_rejected += 1;
                        self.events.update_dead_letter(d.id, &again.reason, &again.detail)?;
                    }
                    None => {
                        batch.events.append(&mut one.events);
                        replayed.push(d.id);
                    }
                }
            }
            self.attributor.tag(batch.events.iter_mut().map(|a| &mut a.event));
            let w = self.events.write(&batch)?;
            self.counters.written.fetch_add(w.events, Relaxed);
            if let Some(d) = &self.detection {
                d.on_batch(&batch.events, None)?;
            }
            // Marked only once the events are stored: a crash here replays again, harmlessly.
            self.events.mark_replayed(&replayed)?;
            report.replayed += replayed.len() as u64;
        }
        Ok(report)
    }
}
