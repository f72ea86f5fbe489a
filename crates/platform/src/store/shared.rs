//! Rows many records share — a lot's latest status, its berth time series,
//! its online slots — written once per lot per group-commit batch instead of
//! once per record.
//!
//! Why: every entry and exit carries the lot's berth counts. Upserting the
//! lot's status row for each record of a batch meant hundreds of updates of
//! one row in one transaction, each in its own savepoint (PostgreSQL walks
//! the growing version chain and the subtransactions on every update), and
//! two writers' batches locking lots' rows in different orders. Gathered
//! here, they are applied at the end of the batch in parkingCode order.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sqlx::AnyConnection;

/// The 10-minute slot each lot was last written to `berth_slots` and to
/// `online_slots` for, kept by the writer task that owns the lot (a lot is
/// always written by the same one), so a slot costs one write a lot, not
/// one a batch.
#[derive(Debug, Default)]
pub(crate) struct SlotsWritten {
    berth: HashMap<String, String>,
    online: HashMap<String, String>,
}

impl SlotsWritten {
    /// Remembers what a committed batch wrote.
    pub(crate) fn extend(&mut self, batch: SlotsWritten) {
        self.berth.extend(batch.berth);
        self.online.extend(batch.online);
    }
}

/// What a batch's records said about their lots; applied by [`Shared::apply`].
#[derive(Debug, Default)]
pub(crate) struct Shared {
    lots: BTreeMap<String, Touch>,
    /// Changes to each lot's counts of today (the platform's day, then
    /// its entries, exits and exits without entry), kept in `lot_status`.
    today: BTreeMap<String, (String, [i64; 3])>,
}

#[derive(Debug, Default)]
struct Touch {
    access_id: String,
    last_seen: String,
    heartbeat: Option<String>,
    /// The newest state of the batch: (its time, [total, open, free]).
    state: Option<(String, [i64; 3])>,
    /// Berth time series points; a later record of the same second wins.
    series: BTreeMap<String, [i64; 3]>,
    slots: BTreeSet<String>,
}

impl Shared {
    fn touch(&mut self, parking_code: &str, access_id: &str, now: &str) -> &mut Touch {
        let t = self.lots.entry(parking_code.to_owned()).or_default();
        t.access_id = access_id.to_owned();
        if t.last_seen.as_str() < now {
            t.last_seen = now.to_owned();
        }
        // `yyyy-MM-dd HH:m` + `0`: the 10-minute slot's first minute.
        t.slots.insert(format!("{}0", now.get(..15).unwrap_or(now)));
        t
    }

    /// Berth counts a record carries at `at` (its event time). "Latest" is
    /// decided by that time, but never later than the platform's own clock,
    /// so a lot whose clock runs ahead cannot stamp a state later true
    /// states never beat.
    pub(crate) fn berths(&mut self, parking_code: &str, access_id: &str, at: &str, now: &str, counts: [i64; 3]) {
        let at = if at > now { now } else { at };
        let t = self.touch(parking_code, access_id, now);
        t.series.insert(at.to_owned(), counts);
        if t.state.as_ref().is_none_or(|(newest, _)| newest.as_str() <= at) {
            t.state = Some((at.to_owned(), counts));
        }
    }

    /// A record of `time` came (or, negative, went): counted when it is of
    /// the platform's day `now` (the overview shows today only).
    pub(crate) fn count(&mut self, parking_code: &str, time: &str, now: &str, delta: [i64; 3]) {
        let (day, today) = (time.get(..10).unwrap_or(time), now.get(..10).unwrap_or(now));
        if day != today {
            return;
        }
        let entry = self.today.entry(parking_code.to_owned()).or_insert_with(|| (today.to_owned(), [0; 3]));
        if entry.0 != today {
            // The batch crossed midnight: the earlier day's changes no longer show.
            *entry = (today.to_owned(), [0; 3]);
        }
        for (c, d) in entry.1.iter_mut().zip(delta) {
            *c += d;
        }
    }

    /// Takes in what `later` gathered, as if its records had been written
    /// here after this batch's so far (a multi-row write gathers apart
    /// until its statements have all succeeded).
    pub(crate) fn absorb(&mut self, later: Shared) {
        for (code, theirs) in later.lots {
            let t = self.lots.entry(code).or_default();
            t.access_id = theirs.access_id;
            if t.last_seen < theirs.last_seen {
                t.last_seen = theirs.last_seen;
            }
            if theirs.heartbeat.is_some() {
                t.heartbeat = theirs.heartbeat;
            }
            if let Some((at, counts)) = theirs.state
                && t.state.as_ref().is_none_or(|(newest, _)| *newest <= at)
            {
                t.state = Some((at, counts));
            }
            t.series.extend(theirs.series);
            t.slots.extend(theirs.slots);
        }
        for (code, (day, delta)) in later.today {
            let entry = self.today.entry(code).or_insert_with(|| (day.clone(), [0; 3]));
            if entry.0 != day {
                *entry = (day, [0; 3]);
            }
            for (c, d) in entry.1.iter_mut().zip(delta) {
                *c += d;
            }
        }
    }

    pub(crate) fn heartbeat(&mut self, parking_code: &str, access_id: &str, now: &str) {
        self.touch(parking_code, access_id, now).heartbeat = Some(now.to_owned());
    }

    /// Writes everything gathered, lot by lot in parkingCode order.
    /// Returns the slots written to `berth_slots` and `online_slots`, for the
    /// writer to remember once the batch has committed.
    pub(crate) async fn apply(
        &self,
        conn: &mut AnyConnection,
        written: &SlotsWritten,
    ) -> Result<SlotsWritten, sqlx::Error> {
        let mut slots_written = SlotsWritten::default();
        // Today's counts of lots no record of this batch touched (a modification alone).
        for (code, (day, [entries, exits, orphans])) in self.today.iter().filter(|(c, _)| !self.lots.contains_key(*c)) {
            sqlx::query(
                "UPDATE lot_status SET entries_today = entries_today + $3, exits_today = exits_today + $4, \
                 orphans_today = orphans_today + $5 WHERE parking_code = $1 AND counted_day = $2",
            )
            .bind(code)
            .bind(day)
            .bind(entries)
            .bind(exits)
            .bind(orphans)
            .execute(&mut *conn)
            .await?;
        }
        // Each table's rows of every lot of the batch in multi-row
        // statements (a batch of a hundred lots was a few hundred statements,
        // each a round trip to the database), lots in parkingCode order.
        let mut series = Vec::new();
        let mut berth_slots = Vec::new();
        let mut status = Vec::new();
        let mut online = Vec::new();
        for (code, t) in &self.lots {
            for (at, [total, open, free]) in &t.series {
                series.push((code.clone(), at.clone(), *total, *open, *free));
            }
            // Each slot's first state, for the city's day (`Store::occupancy`): once a lot a slot.
            let mut firsts: BTreeMap<String, (&String, i64, i64)> = BTreeMap::new();
            for (at, [_, open, free]) in &t.series {
                let slot = format!("{}0", at.get(..15).unwrap_or(at));
                firsts.entry(slot).or_insert((at, open - free, *open));
            }
            for (slot, (at, occupied, open)) in firsts {
                if written.berth.get(code) != Some(&slot) {
                    berth_slots.push((code.clone(), slot.clone(), at.clone(), occupied, open));
                    slots_written.berth.insert(code.clone(), slot);
                }
            }
            // Today is the platform's day of the batch's latest record of the lot.
            let today = t.last_seen.get(..10).unwrap_or(&t.last_seen);
            let counts = match self.today.get(code) {
                Some((day, counts)) if day == today => *counts,
                _ => [0; 3],
            };
            let (state_at, [total, open, free]) = match &t.state {
                Some((at, counts)) => (Some(at.clone()), counts.map(Some)),
                None => (None, [None; 3]),
            };
            status.push(LotStatusRow {
                code: code.clone(),
                access_id: t.access_id.clone(),
                last_seen: t.last_seen.clone(),
                heartbeat: t.heartbeat.clone(),
                state: [total, open, free],
                state_at,
                today: today.to_owned(),
                counts,
            });
            for slot in &t.slots {
                if written.online.get(code) != Some(slot) {
                    online.push((code.clone(), slot.clone()));
                    slots_written.online.insert(code.clone(), slot.clone());
                }
            }
        }
        super::execute_rows(
            conn,
            "INSERT INTO berth_states (parking_code, at, total, open_berths, free_berths) VALUES ",
            5,
            " ON CONFLICT (parking_code, at) DO UPDATE SET total = excluded.total, \
             open_berths = excluded.open_berths, free_berths = excluded.free_berths",
            &series,
            |q, (code, at, total, open, free)| {
                q.bind(code.clone()).bind(at.clone()).bind(*total).bind(*open).bind(*free)
            },
        )
        .await?;
        super::execute_rows(
            conn,
            "INSERT INTO berth_slots (parking_code, slot, at, occupied, open_berths) VALUES ",
            5,
            " ON CONFLICT (parking_code, slot) DO NOTHING",
            &berth_slots,
            |q, (code, slot, at, occupied, open)| {
                q.bind(code.clone()).bind(slot.clone()).bind(at.clone()).bind(*occupied).bind(*open)
            },
        )
        .await?;
        super::execute_rows(
            conn,
            "INSERT INTO lot_status (parking_code, access_id, last_seen, last_heartbeat, total, open_berths, \
             free_berths, state_at, counted_day, entries_today, exits_today, orphans_today, first_seen) VALUES ",
            13,
            " ON CONFLICT (parking_code) DO UPDATE SET access_id = excluded.access_id, last_seen = excluded.last_seen, \
             entries_today = CASE WHEN lot_status.counted_day = excluded.counted_day \
             THEN lot_status.entries_today + excluded.entries_today ELSE excluded.entries_today END, \
             exits_today = CASE WHEN lot_status.counted_day = excluded.counted_day \
             THEN lot_status.exits_today + excluded.exits_today ELSE excluded.exits_today END, \
             orphans_today = CASE WHEN lot_status.counted_day = excluded.counted_day \
             THEN lot_status.orphans_today + excluded.orphans_today ELSE excluded.orphans_today END, \
             counted_day = excluded.counted_day, \
             last_heartbeat = COALESCE(excluded.last_heartbeat, lot_status.last_heartbeat), \
             total = CASE WHEN excluded.state_at IS NOT NULL AND (lot_status.state_at IS NULL \
             OR lot_status.state_at <= excluded.state_at) THEN excluded.total ELSE lot_status.total END, \
             open_berths = CASE WHEN excluded.state_at IS NOT NULL AND (lot_status.state_at IS NULL \
             OR lot_status.state_at <= excluded.state_at) THEN excluded.open_berths ELSE lot_status.open_berths END, \
             free_berths = CASE WHEN excluded.state_at IS NOT NULL AND (lot_status.state_at IS NULL \
             OR lot_status.state_at <= excluded.state_at) THEN excluded.free_berths ELSE lot_status.free_berths END, \
             state_at = CASE WHEN excluded.state_at IS NOT NULL AND (lot_status.state_at IS NULL \
             OR lot_status.state_at <= excluded.state_at) THEN excluded.state_at ELSE lot_status.state_at END",
            &status,
            |q, r| {
                q.bind(r.code.clone())
                    .bind(r.access_id.clone())
                    .bind(r.last_seen.clone())
                    .bind(r.heartbeat.clone())
                    .bind(r.state[0])
                    .bind(r.state[1])
                    .bind(r.state[2])
                    .bind(r.state_at.clone())
                    .bind(r.today.clone())
                    .bind(r.counts[0])
                    .bind(r.counts[1])
                    .bind(r.counts[2])
                    .bind(r.last_seen.clone())
            },
        )
        .await?;
        super::execute_rows(
            conn,
            "INSERT INTO online_slots (parking_code, slot) VALUES ",
            2,
            " ON CONFLICT DO NOTHING",
            &online,
            |q, (code, slot)| q.bind(code.clone()).bind(slot.clone()),
        )
        .await?;
        Ok(slots_written)
    }
}

/// A lot's `lot_status` row as a batch leaves it.
struct LotStatusRow {
    code: String,
    access_id: String,
    last_seen: String,
    heartbeat: Option<String>,
    /// [total, open, free] of the batch's newest state, if it carried one.
    state: [Option<i64>; 3],
    state_at: Option<String>,
    today: String,
    counts: [i64; 3],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_counts_only_today_and_start_again_after_midnight() {
        let mut s = Shared::default();
        s.count("1001", "2026-12-01 09:00:00", "2026-12-01 10:00:00", [1, 0, 0]);
        s.count("1001", "2026-11-30 23:00:00", "2026-12-01 10:00:00", [1, 1, 1]);
        s.count("1001", "2026-12-01 09:30:00", "2026-12-01 10:00:00", [0, 1, 1]);
        assert_eq!(s.today["1001"], ("2026-12-01".to_owned(), [1, 1, 1]), "a backfilled yesterday is not today's");
        s.count("1001", "2026-12-02 00:00:01", "2026-12-02 00:00:02", [1, 0, 0]);
        assert_eq!(s.today["1001"], ("2026-12-02".to_owned(), [1, 0, 0]), "a batch across midnight keeps the new day");
    }

    #[test]
    fn the_newest_state_wins_and_never_beyond_now() {
        let mut s = Shared::default();
        let now = "2026-12-01 10:00:00";
        s.berths("1001", "234", "2026-12-01 09:59:00", now, [10, 9, 1]);
        s.berths("1001", "234", "2099-01-01 00:00:00", now, [10, 9, 2]);
        s.berths("1001", "234", "2026-12-01 09:58:00", now, [10, 9, 3]);
        let t = &s.lots["1001"];
        assert_eq!(t.state, Some((now.to_owned(), [10, 9, 2])), "a clock ahead is clamped to now");
        assert_eq!(t.series.len(), 3);
        s.heartbeat("1002", "234", now);
        assert_eq!(s.lots["1002"].state, None);
        assert_eq!(s.lots["1002"].slots.iter().next().map(String::as_str), Some("2026-12-01 10:00"));
    }
}
