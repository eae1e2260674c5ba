//! Inclusion and consistency proofs (RFC 9162 §2.1.3 and §2.1.4): the
//! values a log hands out and the checks anyone can run on them with nothing
//! but a trusted root.

use serde::{Deserialize, Serialize};

use super::{Hash, empty_root, node_hash};
use crate::{Error, Result};

/// Proof that leaf `leaf_index` is in the tree of the first `tree_size`
/// leaves (RFC 9162 §2.1.3). Serializes with hex hashes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The zero-based index of the leaf.
    pub leaf_index: u64,
    /// The size of the tree the proof is for.
    pub tree_size: u64,
    /// The audit path, nearest sibling first.
    pub path: Vec<Hash>,
}

impl InclusionProof {
    /// Checks that `leaf_hash` is at this index of the tree whose root is
    /// `root`.
    pub fn verify(&self, leaf_hash: &Hash, root: &Hash) -> Result<()> {
        verify_inclusion(leaf_hash, self.leaf_index, self.tree_size, &self.path, root)
    }
}

/// Proof that the tree of the first `first` leaves is a prefix of the tree
/// of the first `second` leaves (RFC 9162 §2.1.4). Serializes with hex
/// hashes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The size of the older tree.
    pub first: u64,
    /// The size of the newer tree.
    pub second: u64,
    /// The proof nodes; empty when `first` is 0 or equals `second`.
    pub path: Vec<Hash>,
}

impl ConsistencyProof {
    /// Checks that the tree with root `first_root` is a prefix of the tree
    /// with root `second_root`.
    pub fn verify(&self, first_root: &Hash, second_root: &Hash) -> Result<()> {
        verify_consistency(self.first, self.second, first_root, second_root, &self.path)
    }
}

/// Verifies an inclusion proof, following RFC 9162 §2.1.3.2 step by step.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    tree_size: u64,
    path: &[Hash],
    root: &Hash,
) -> Result<()> {
    let fail = |reason| Error::InclusionProofInvalid {
        index,
        tree_size,
        reason,
    };
    // Step 1.
    if index >= tree_size {
        return Err(fail("the leaf index is not below the tree size"));
    }
    // Steps 2 and 3.
    let (mut fnode, mut snode) = (index, tree_size - 1);
    let mut r = *leaf_hash;
    // Step 4.
    for p in path {
        if snode == 0 {
            return Err(fail("the path is longer than the tree is deep"));
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            // A right-border node without a sibling at this level: climb
            // until it is a right child again (or the root of the left side).
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    // Step 5.
    if snode != 0 {
        return Err(fail("the path is shorter than the tree is deep"));
    }
    if r != *root {
        return Err(fail("the path leads to a different root"));
    }
    Ok(())
}

/// Verifies a consistency proof, following RFC 9162 §2.1.4.2 step by step.
///
/// RFC 9162 defines proofs only for `0 < first < second`; the trivial cases
/// are accepted here with an empty path: every tree extends the empty tree
/// (whose root must then be the empty-tree hash), and a tree is consistent
/// with itself when the roots are equal.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    path: &[Hash],
) -> Result<()> {
    let fail = |reason| Error::ConsistencyProofInvalid {
        first,
        second,
        reason,
    };
    if first > second {
        return Err(fail("the first tree is larger than the second"));
    }
    if first == 0 || first == second {
        if !path.is_empty() {
            return Err(fail("the path must be empty for this pair of sizes"));
        }
        let expected_first = if first == 0 {
            empty_root()
        } else {
            *second_root
        };
        if *first_root != expected_first {
            return Err(fail("the roots do not match"));
        }
        return Ok(());
    }
    // Step 1.
    let Some((head, rest)) = path.split_first() else {
        return Err(fail("the path is empty"));
    };
    // Step 2: when the old tree is a complete subtree its root is the first
    // node, and the proof leaves it out.
    let mut nodes = Vec::with_capacity(path.len() + 1);
    if first.is_power_of_two() {
        nodes.push(*first_root);
        nodes.push(*head);
    } else {
        nodes.push(*head);
    }
    nodes.extend_from_slice(rest);
    // Steps 3 and 4.
    let (mut fnode, mut snode) = (first - 1, second - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    // Step 5.
    let (mut fr, mut sr) = (nodes[0], nodes[0]);
    // Step 6.
    for c in &nodes[1..] {
        if snode == 0 {
            return Err(fail("the path is longer than the trees are deep"));
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnode & 1 == 0 {
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    // Step 7.
    if snode != 0 {
        return Err(fail("the path is shorter than the trees are deep"));
    }
    if fr != *first_root {
        return Err(fail("the path does not lead to the first root"));
    }
    if sr != *second_root {
        return Err(fail("the path does not lead to the second root"));
    }
    Ok(())
}
