//! The compact frontier of a growing tree: one hash per set bit of its size.
//! Enough to recompute the root while streaming leaves, in O(log n) memory;
//! [`crate::verify`] uses it so that checking a log never depends on the
//! writer's in-memory [`super::Tree`].

use super::{Hash, empty_root, node_hash};

/// The roots of the complete subtrees that make up a tree of `size` leaves,
/// largest (leftmost) first.
#[derive(Clone, Debug, Default)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of an empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of leaves pushed.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash, merging every pair of equal-sized subtrees it
    /// completes (one per trailing one bit of the old size).
    pub fn push(&mut self, leaf: Hash) {
        self.nodes.push(leaf);
        let mut s = self.size;
        while s & 1 == 1 {
            let right = self.nodes.pop().expect("a set bit has a node");
            let left = self.nodes.pop().expect("a set bit has a node");
            self.nodes.push(node_hash(&left, &right));
            s >>= 1;
        }
        self.size += 1;
    }

    /// MTH of the leaves pushed so far: RFC 9162 §2.1.1 splits at the largest
    /// power of two, which is the leftmost complete subtree, so the root is
    /// the frontier folded from the right.
    pub fn root(&self) -> Hash {
        let mut nodes = self.nodes.iter().rev();
        let Some(last) = nodes.next() else {
            return empty_root();
        };
        nodes.fold(*last, |acc, left| node_hash(left, &acc))
    }
}
