//! `autolabs diff OLD NEW`: how the allowed connections changed between two manifest sets, at
//! workload granularity — a pull-request gate for NetworkPolicy changes.
//!
//! # Model
//!
//! Both sides are [`ConnList`]s. Workload pairs are compared by their text
//! (`ns/name[Kind]`): a pair only in NEW is *added*, only in OLD *removed*, in both with other
//! ports *changed*. External ranges are cut differently on each side (each side's policies
//! name their own ipBlocks), so for each workload and direction both sides' ranges are first
//! refined to the common pieces, compared piece by piece, and adjacent pieces with the same
//! (old, new) pair merged again: a range is reported only where something differs.
//! The categories follow np-guard's `diff` (`pkg/netpol/diff`: added, removed, changed).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use autolabs_netpol::ConnSet;
use serde_json::{Value, json};

use crate::connlist::{ConnList, Ipv4Range, Peer, Workload, conn_string};

/// What happened to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Change {
    Added,
    Removed,
    /// Allowed on both sides, on different protocols or ports.
    Changed,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Added => "added",
            Change::Removed => "removed",
            Change::Changed => "changed",
        }
    }

    fn of(old: &ConnSet, new: &ConnSet) -> Option<Change> {
        match (old.is_empty(), new.is_empty()) {
            _ if old == new => None,
            (true, _) => Some(Change::Added),
            (_, true) => Some(Change::Removed),
            _ => Some(Change::Changed),
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One difference: the connections from `src` to `dst` were `old` and are `new` (empty =
/// none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffEntry {
    pub change: Change,
    pub src: Peer,
    pub dst: Peer,
    pub old: ConnSet,
    pub new: ConnSet,
}

/// All differences, sorted by change, source, destination.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnDiff {
    pub entries: Vec<DiffEntry>,
}

impl ConnDiff {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many entries of one kind.
    pub fn count(&self, change: Change) -> usize {
        self.entries.iter().filter(|e| e.change == change).count()
    }
}

/// External connections of one workload in one direction (`true` = towards the range).
type ExternalKey = (Workload, bool);

/// Workload pairs and their connections.
type PairMap = BTreeMap<(Peer, Peer), ConnSet>;
/// Per workload and direction, its external ranges and their connections.
type ExternalMap = BTreeMap<ExternalKey, Vec<(Ipv4Range, ConnSet)>>;

/// Splits a list into workload pairs and per-workload external ranges.
fn split(list: &ConnList) -> (PairMap, ExternalMap) {
    let mut pairs = BTreeMap::new();
    let mut external: ExternalMap = BTreeMap::new();
    for c in &list.connections {
        match (&c.src, &c.dst) {
            (Peer::Workload(w), Peer::External(r)) => {
                external.entry((w.clone(), true)).or_default().push((*r, c.conns.clone()))
            }
            (Peer::External(r), Peer::Workload(w)) => {
                external.entry((w.clone(), false)).or_default().push((*r, c.conns.clone()))
            }
            _ => {
                pairs.insert((c.src.clone(), c.dst.clone()), c.conns.clone());
            }
        }
    }
    (pairs, external)
}

fn bounds(r: &Ipv4Range) -> (u64, u64) {
    (u64::from(u32::from(r.first)), u64::from(u32::from(r.last)))
}

/// The connections a side lists for the address `at` (empty when no range holds it).
fn lookup(ranges: &[(Ipv4Range, ConnSet)], at: u64) -> ConnSet {
    ranges
        .iter()
        .find(|(r, _)| {
            let (lo, hi) = bounds(r);
            lo <= at && at <= hi
        })
        .map(|(_, c)| c.clone())
        .unwrap_or_default()
}

/// Compares two connection lists.
pub fn diff(old: &ConnList, new: &ConnList) -> ConnDiff {
    let (old_pairs, old_ext) = split(old);
    let (new_pairs, new_ext) = split(new);
    let mut entries = Vec::new();

    let keys: BTreeSet<&(Peer, Peer)> = old_pairs.keys().chain(new_pairs.keys()).collect();
    for key in keys {
        let before = old_pairs.get(key).cloned().unwrap_or_default();
        let after = new_pairs.get(key).cloned().unwrap_or_default();
        if let Some(change) = Change::of(&before, &after) {
            entries.push(DiffEntry {
                change,
                src: key.0.clone(),
                dst: key.1.clone(),
                old: before,
                new: after,
            });
        }
    }

    let empty = Vec::new();
    let keys: BTreeSet<&ExternalKey> = old_ext.keys().chain(new_ext.keys()).collect();
    for key in keys {
        let (before, after) = (old_ext.get(key).unwrap_or(&empty), new_ext.get(key).unwrap_or(&empty));
        // The common refinement of both sides' ranges.
        let mut cuts: BTreeSet<u64> = BTreeSet::from([0, 1 << 32]);
        for (r, _) in before.iter().chain(after) {
            let (lo, hi) = bounds(r);
            cuts.insert(lo);
            cuts.insert(hi + 1);
        }
        let cuts: Vec<u64> = cuts.into_iter().collect();
        let mut pieces: Vec<(u64, u64, ConnSet, ConnSet)> = Vec::new();
        for w in cuts.windows(2) {
            let (lo, hi) = (w[0], w[1] - 1);
            let (b, a) = (lookup(before, lo), lookup(after, lo));
            if b == a {
                continue;
            }
            match pieces.last_mut() {
                Some(last) if last.1 + 1 == lo && last.2 == b && last.3 == a => last.1 = hi,
                _ => pieces.push((lo, hi, b, a)),
            }
        }
        for (lo, hi, b, a) in pieces {
            let Some(change) = Change::of(&b, &a) else { continue };
            let range = Peer::External(Ipv4Range {
                first: std::net::Ipv4Addr::from(u32::try_from(lo).unwrap_or(u32::MAX)),
                last: std::net::Ipv4Addr::from(u32::try_from(hi).unwrap_or(u32::MAX)),
            });
            let workload = Peer::Workload(key.0.clone());
            let (src, dst) = if key.1 { (workload, range) } else { (range, workload) };
            entries.push(DiffEntry { change, src, dst, old: b, new: a });
        }
    }

    entries.sort_by_cached_key(|e| (e.change, e.src.to_string(), e.dst.to_string()));
    ConnDiff { entries }
}

/// Connection text for a diff cell (`No Connections` when empty).
fn cell(c: &ConnSet) -> String {
    conn_string(c)
}

/// An aligned table: `DIFF  SOURCE  DESTINATION  OLD  NEW`, then a count line.
pub fn to_table(d: &ConnDiff) -> String {
    let header = ["DIFF", "SOURCE", "DESTINATION", "OLD", "NEW"].map(String::from);
    let rows: Vec<[String; 5]> = d
        .entries
        .iter()
        .map(|e| [e.change.to_string(), e.src.to_string(), e.dst.to_string(), cell(&e.old), cell(&e.new)])
        .collect();
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    if !rows.is_empty() {
        for row in std::iter::once(&header).chain(&rows) {
            let line: Vec<String> = row.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "{} added, {} removed, {} changed\n",
        d.count(Change::Added),
        d.count(Change::Removed),
        d.count(Change::Changed)
    ));
    out
}

/// `{"added", "removed", "changed", "diff": [{"diff-type", "src", "dst", "old", "new"}]}`.
pub fn to_json(d: &ConnDiff) -> Value {
    json!({
        "added": d.count(Change::Added),
        "removed": d.count(Change::Removed),
        "changed": d.count(Change::Changed),
        "diff": d.entries.iter().map(|e| json!({
            "diff-type": e.change.as_str(),
            "src": e.src.to_string(),
            "dst": e.dst.to_string(),
            "old": cell(&e.old),
            "new": cell(&e.new),
        })).collect::<Vec<_>>(),
    })
}

/// A markdown table for a pull-request comment.
pub fn to_md(d: &ConnDiff) -> String {
    let mut out =
        String::from("| diff-type | source | destination | old | new |\n|-----|-----|-----|-----|-----|\n");
    for e in &d.entries {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            e.change,
            e.src,
            e.dst,
            cell(&e.old),
            cell(&e.new)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connlist::Connection;
    use autolabs_netpol::Protocol;

    fn w(name: &str) -> Peer {
        Peer::Workload(Workload { namespace: "n".into(), name: name.into(), kind: "Deployment".into() })
    }

    fn range(a: u32, b: u32) -> Peer {
        Peer::External(Ipv4Range { first: a.into(), last: b.into() })
    }

    fn list(conns: Vec<(Peer, Peer, ConnSet)>) -> ConnList {
        ConnList {
            workloads: Vec::new(),
            connections: conns.into_iter().map(|(src, dst, conns)| Connection { src, dst, conns }).collect(),
        }
    }

    #[test]
    fn pairs_are_added_removed_and_changed() {
        let tcp80 = ConnSet::port(Protocol::Tcp, 80);
        let tcp443 = ConnSet::port(Protocol::Tcp, 443);
        let old = list(vec![(w("a"), w("b"), tcp80.clone()), (w("a"), w("c"), tcp80.clone())]);
        let new = list(vec![(w("a"), w("b"), tcp443.clone()), (w("b"), w("c"), tcp80.clone())]);
        let d = diff(&old, &new);
        let summary: Vec<(Change, String, String)> =
            d.entries.iter().map(|e| (e.change, e.src.to_string(), e.dst.to_string())).collect();
        assert_eq!(
            summary,
            [
                (Change::Added, "n/b[Deployment]".into(), "n/c[Deployment]".into()),
                (Change::Removed, "n/a[Deployment]".into(), "n/c[Deployment]".into()),
                (Change::Changed, "n/a[Deployment]".into(), "n/b[Deployment]".into()),
            ]
        );
        assert!(diff(&old, &old).is_empty());
    }

    #[test]
    fn external_ranges_are_compared_on_their_common_pieces() {
        let all = ConnSet::all();
        // OLD: the whole space in one range; NEW: the same, cut in two with equal sets.
        let old = list(vec![(w("a"), range(0, u32::MAX), all.clone())]);
        let same =
            list(vec![(w("a"), range(0, 99), all.clone()), (w("a"), range(100, u32::MAX), all.clone())]);
        assert!(diff(&old, &same).is_empty(), "a different cut with equal sets is no change");
        // NEW loses 100..=199.
        let new =
            list(vec![(w("a"), range(0, 99), all.clone()), (w("a"), range(200, u32::MAX), all.clone())]);
        let d = diff(&old, &new);
        assert_eq!(d.entries.len(), 1);
        assert_eq!(d.entries[0].change, Change::Removed);
        assert_eq!(d.entries[0].dst.to_string(), "0.0.0.100-0.0.0.199[External]");
    }
}
