//! Shows that proofs stay cheap as the log grows: builds the in-memory tree
//! of a million leaves, then times inclusion and consistency proofs against
//! it and checks every one with the pure verifiers.
//!
//! Run: `cargo run --release -p renkei-audit --example proofs_at_a_million`

use std::time::Instant;

use renkei_audit::merkle::{Tree, leaf_hash, verify_consistency, verify_inclusion};

fn main() {
    const N: u64 = 1_000_000;
    const PROOFS: u64 = 10_000;
    let started = Instant::now();
    let mut tree = Tree::new();
    for i in 0..N {
        tree.push(leaf_hash(&i.to_be_bytes()));
    }
    println!("built a tree of {N} leaves in {:?}", started.elapsed());

    let root = tree.root(N);
    // A fixed-seed LCG, so every run proves the same leaves.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        x >> 11
    };
    let mut paths = Vec::with_capacity(PROOFS as usize);
    let started = Instant::now();
    for _ in 0..PROOFS {
        let index = next() % N;
        paths.push((index, tree.inclusion_path(index, N)));
    }
    let per_proof = started.elapsed() / PROOFS as u32;
    for (index, path) in &paths {
        let leaf = tree.leaf(*index).expect("index below the size");
        verify_inclusion(&leaf, *index, N, path, &root).expect("proof verifies");
    }
    println!("inclusion proof at size {N}: {per_proof:?} each");

    let started = Instant::now();
    let mut proofs = Vec::with_capacity(PROOFS as usize);
    for _ in 0..PROOFS {
        let first = next() % N + 1;
        proofs.push((first, tree.consistency_path(first, N)));
    }
    let per_proof = started.elapsed() / PROOFS as u32;
    for (first, path) in &proofs {
        verify_consistency(*first, N, &tree.root(*first), &root, path).expect("proof verifies");
    }
    println!("consistency proof to size {N}: {per_proof:?} each");
}
