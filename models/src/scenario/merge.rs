//! Patching: a variant's patch is a partial scenario of the same shape as the base,
//! merged onto it field by field. Invariant: a field the patch leaves out keeps the
//! base's value; a leaf the patch sets replaces it; a nested structure the patch sets
//! is merged recursively, and so are maps, key by key.

use std::collections::BTreeMap;

pub(crate) trait Merge {
    fn merge(&mut self, patch: Self);
}

impl<T: Merge> Merge for Option<T> {
    fn merge(&mut self, patch: Self) {
        match (self.as_mut(), patch) {
            (Some(base), Some(p)) => base.merge(p),
            (None, Some(p)) => *self = Some(p),
            (_, None) => {}
        }
    }
}

impl<T: Merge> Merge for BTreeMap<String, T> {
    fn merge(&mut self, patch: Self) {
        for (k, v) in patch {
            match self.get_mut(&k) {
                Some(base) => base.merge(v),
                None => {
                    self.insert(k, v);
                }
            }
        }
    }
}

/// Leaves: the patch's value replaces the base's.
macro_rules! merge_by_replacing {
    ($($t:ty),* $(,)?) => {
        $(impl Merge for $t {
            fn merge(&mut self, patch: Self) {
                *self = patch;
            }
        })*
    };
}

merge_by_replacing!(u32, u64, f64, bool, String);
pub(crate) use merge_by_replacing;

impl<T> Merge for Vec<T> {
    fn merge(&mut self, patch: Self) {
        *self = patch;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_and_map_merge() {
        let mut a: Option<u32> = Some(1);
        a.merge(None);
        assert_eq!(a, Some(1));
        a.merge(Some(2));
        assert_eq!(a, Some(2));
        let mut m: BTreeMap<String, Option<u32>> = BTreeMap::new();
        m.insert("x".into(), Some(1));
        let mut p = BTreeMap::new();
        p.insert("x".into(), None);
        p.insert("y".into(), Some(3));
        Merge::merge(&mut m, p);
        assert_eq!(m["x"], Some(1));
        assert_eq!(m["y"], Some(3));
    }
}
