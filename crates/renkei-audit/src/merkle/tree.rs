//! The whole tree in memory, kept as the hashes of its complete subtrees, so
//! that any root, inclusion proof or consistency proof for any size up to the
//! current one costs O(log n) hash operations.

use super::{Hash, empty_root, node_hash, split_point};

/// Every complete, aligned subtree hash of a log: level 0 holds the leaf
/// hashes, level `k` the hash of leaves `[i·2^k, (i+1)·2^k)` for every `i`
/// whose subtree is complete. About 2n hashes (64 MiB at a million leaves).
///
/// Why this shape: in RFC 9162 §2.1.1 every left child is such a complete,
/// aligned subtree, and as the log grows those never change. Only the right
/// spine (at most one incomplete subtree per level) must be hashed on
/// demand, so a root or proof at any earlier size is O(log n).
#[derive(Clone, Debug)]
pub struct Tree {
    levels: Vec<Vec<Hash>>,
}

impl Default for Tree {
    fn default() -> Self {
        Self::new()
    }
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Self {
        Self {
            levels: vec![Vec::new()],
        }
    }

    /// The number of leaves.
    pub fn len(&self) -> u64 {
        self.levels[0].len() as u64
    }

    /// Whether the tree has no leaves.
    pub fn is_empty(&self) -> bool {
        self.levels[0].is_empty()
    }

    /// Appends a leaf hash, completing every subtree it closes.
    pub fn push(&mut self, leaf: Hash) {
        self.levels[0].push(leaf);
        let mut k = 0;
        while self.levels[k].len().is_multiple_of(2) {
            let n = self.levels[k].len();
            let parent = node_hash(&self.levels[k][n - 2], &self.levels[k][n - 1]);
            if self.levels.len() == k + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[k + 1].push(parent);
            k += 1;
        }
    }

    /// Forgets every leaf from `size` on (a batch that did not commit).
    pub fn truncate(&mut self, size: u64) {
        for (k, level) in self.levels.iter_mut().enumerate() {
            level.truncate(usize::try_from(size >> k).unwrap_or(usize::MAX));
        }
    }

    /// The hash of leaf `index`, if the tree has it.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.levels[0].get(usize::try_from(index).ok()?).copied()
    }

    /// MTH of the first `size` leaves (RFC 9162 §2.1.1). `size` must not
    /// exceed [`Tree::len`].
    pub fn root(&self, size: u64) -> Hash {
        assert!(size <= self.len(), "root asked beyond the tree");
        if size == 0 {
            return empty_root();
        }
        self.subtree(0, size)
    }

    /// MTH of leaves `[start, end)`, split as RFC 9162 §2.1.1 splits it.
    /// When `start` is aligned to the range's length and the length is a
    /// power of two, the subtree is complete and stored; otherwise only the
    /// right part recurses, so this is O(log n).
    fn subtree(&self, start: u64, end: u64) -> Hash {
        let len = end - start;
        if len.is_power_of_two() && start.is_multiple_of(len) {
            let k = len.trailing_zeros() as usize;
            return self.levels[k][(start >> k) as usize];
        }
        let k = split_point(len);
        node_hash(
            &self.subtree(start, start + k),
            &self.subtree(start + k, end),
        )
    }

    /// The audit path of leaf `index` in the tree of the first `size`
    /// leaves: PATH(m, D[n]) of RFC 9162 §2.1.3.1, nearest sibling first.
    /// Requires `index < size <= len()`.
    pub fn inclusion_path(&self, index: u64, size: u64) -> Vec<Hash> {
        assert!(
            index < size && size <= self.len(),
            "inclusion path out of range"
        );
        let mut path = Vec::with_capacity(64);
        self.path(index, 0, size, &mut path);
        path
    }

    // PATH(m, D[start:end]) with `m` absolute. Only the first step to the
    // left hashes an incomplete subtree (D[k:n]); below it every subtree is
    // complete, so the whole path is O(log n).
    fn path(&self, m: u64, start: u64, end: u64, out: &mut Vec<Hash>) {
        if end - start == 1 {
            return;
        }
        let k = split_point(end - start);
        if m < start + k {
            self.path(m, start, start + k, out);
            out.push(self.subtree(start + k, end));
        } else {
            self.path(m, start + k, end, out);
            out.push(self.subtree(start, start + k));
        }
    }

    /// The consistency proof between the trees of the first `first` and the
    /// first `second` leaves: PROOF(m, D[n]) of RFC 9162 §2.1.4.1. Empty
    /// when `first` is 0 or equals `second` (nothing to prove). Requires
    /// `first <= second <= len()`.
    pub fn consistency_path(&self, first: u64, second: u64) -> Vec<Hash> {
        assert!(
            first <= second && second <= self.len(),
            "consistency path out of range"
        );
        let mut path = Vec::with_capacity(64);
        if first > 0 && first < second {
            self.subproof(first, 0, second, true, &mut path);
        }
        path
    }

    // SUBPROOF(m, D[start:end], b) with `m` absolute.
    fn subproof(&self, m: u64, start: u64, end: u64, whole: bool, out: &mut Vec<Hash>) {
        if m == end {
            // The old tree is this whole subtree: the verifier already has
            // its hash when it is the old root (b = true).
            if !whole {
                out.push(self.subtree(start, end));
            }
            return;
        }
        let k = split_point(end - start);
        if m <= start + k {
            self.subproof(m, start, start + k, whole, out);
            out.push(self.subtree(start + k, end));
        } else {
            self.subproof(m, start + k, end, false, out);
            out.push(self.subtree(start, start + k));
        }
    }
}
