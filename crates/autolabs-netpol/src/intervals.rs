//! Sorted sets of disjoint, non-adjacent inclusive intervals: the arithmetic under both
//! [`crate::ConnSet`] (ports) and [`crate::IpSet`] (addresses).
//!
//! Every set is kept normalized (sorted, disjoint, adjacent runs merged), so equality of
//! sets is equality of vectors and `is_empty` is a length check.

/// A point type of an interval set: ports (`u32`) or addresses (`u128`).
pub(crate) trait Point: Copy + Ord {
    fn succ(self) -> Self;
    fn pred(self) -> Self;
}

impl Point for u32 {
    fn succ(self) -> Self {
        self.saturating_add(1)
    }
    fn pred(self) -> Self {
        self.saturating_sub(1)
    }
}

impl Point for u128 {
    fn succ(self) -> Self {
        self.saturating_add(1)
    }
    fn pred(self) -> Self {
        self.saturating_sub(1)
    }
}

/// Sorts and merges overlapping or adjacent intervals in place.
pub(crate) fn normalize<T: Point>(ranges: &mut Vec<(T, T)>) {
    ranges.retain(|(lo, hi)| lo <= hi);
    ranges.sort_unstable();
    let mut merged: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for &(lo, hi) in ranges.iter() {
        match merged.last_mut() {
            // Adjacent ([1,2] and [3,4]) merge too; `succ` saturates so MAX never wraps.
            Some(last) if lo <= last.1.succ() => {
                if hi > last.1 {
                    last.1 = hi;
                }
            }
            _ => merged.push((lo, hi)),
        }
    }
    *ranges = merged;
}

pub(crate) fn union<T: Point>(a: &[(T, T)], b: &[(T, T)]) -> Vec<(T, T)> {
    if a.is_empty() {
        return b.to_vec();
    }
    if b.is_empty() {
        return a.to_vec();
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    out.extend_from_slice(a);
    out.extend_from_slice(b);
    normalize(&mut out);
    out
}

pub(crate) fn intersection<T: Point>(a: &[(T, T)], b: &[(T, T)]) -> Vec<(T, T)> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let lo = a[i].0.max(b[j].0);
        let hi = a[i].1.min(b[j].1);
        if lo <= hi {
            out.push((lo, hi));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// `universe \ a`, where `a` lies inside `universe` (a single interval).
pub(crate) fn complement_within<T: Point>(a: &[(T, T)], universe: (T, T)) -> Vec<(T, T)> {
    let mut out = Vec::new();
    let mut next = universe.0;
    let mut exhausted = false;
    for &(lo, hi) in a {
        let (lo, hi) = (lo.max(universe.0), hi.min(universe.1));
        if lo > hi {
            continue;
        }
        if lo > next {
            out.push((next, lo.pred()));
        }
        if hi >= universe.1 {
            exhausted = true;
            break;
        }
        next = hi.succ();
    }
    if !exhausted && next <= universe.1 {
        out.push((next, universe.1));
    }
    out
}

pub(crate) fn difference<T: Point>(a: &[(T, T)], b: &[(T, T)]) -> Vec<(T, T)> {
    let mut out = Vec::new();
    for &(lo, hi) in a {
        let holes = intersection(&[(lo, hi)], b);
        out.extend(complement_within(&holes, (lo, hi)));
    }
    out
}

/// Is every point of `inner` in `outer`?
pub(crate) fn is_subset<T: Point>(inner: &[(T, T)], outer: &[(T, T)]) -> bool {
    difference(inner, outer).is_empty()
}

pub(crate) fn contains<T: Point>(set: &[(T, T)], point: T) -> bool {
    let idx = set.partition_point(|&(_, hi)| hi < point);
    set.get(idx).is_some_and(|&(lo, _)| lo <= point)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_merges_overlapping_and_adjacent_runs() {
        let mut v: Vec<(u32, u32)> = vec![(5, 6), (1, 2), (3, 3), (10, 12), (11, 20)];
        normalize(&mut v);
        assert_eq!(v, [(1, 3), (5, 6), (10, 20)]);
    }

    #[test]
    fn set_operations() {
        let a: Vec<(u32, u32)> = vec![(1, 10), (20, 30)];
        let b: Vec<(u32, u32)> = vec![(5, 25)];
        assert_eq!(union(&a, &b), [(1, 30)]);
        assert_eq!(intersection(&a, &b), [(5, 10), (20, 25)]);
        assert_eq!(difference(&a, &b), [(1, 4), (26, 30)]);
        assert_eq!(complement_within(&a, (1, 40)), [(11, 19), (31, 40)]);
        assert!(is_subset(&[(21, 22)], &a));
        assert!(!is_subset(&[(9, 21)], &a));
        assert!(contains(&a, 20) && !contains(&a, 15) && !contains(&a, 31));
    }

    #[test]
    fn extremes_do_not_overflow() {
        let full: Vec<(u128, u128)> = vec![(0, u128::MAX)];
        assert!(complement_within(&full, (0, u128::MAX)).is_empty());
        let mut v: Vec<(u128, u128)> = vec![(0, 5), (6, u128::MAX)];
        normalize(&mut v);
        assert_eq!(v, full);
    }
}
