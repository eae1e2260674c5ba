//! Known answers from the RFC 6962 reference test vectors (as published by
//! Certificate Transparency: transparency-dev/merkle `testonly/constants.go`
//! and `proof/verify_test.go`), and exhaustive checks for every size up to 64
//! against a direct transcription of the RFC 9162 recursive definitions.

use super::*;
use crate::Error;

fn h(hex: &str) -> Hash {
    Hash::from_hex(hex).expect("test vector is 64 hex digits")
}

fn vector_leaves() -> Vec<Vec<u8>> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|x| hex::decode(x).expect("hex leaf"))
    .collect()
}

/// Roots of the trees of the first 0..=8 vector leaves.
const VECTOR_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn vector_tree() -> Tree {
    let mut tree = Tree::new();
    for leaf in vector_leaves() {
        tree.push(leaf_hash(&leaf));
    }
    tree
}

#[test]
fn leaf_hashes_match_the_reference_vectors() {
    let expected = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ];
    for (leaf, want) in vector_leaves().iter().zip(expected) {
        assert_eq!(leaf_hash(leaf), h(want));
    }
}

#[test]
fn roots_match_the_reference_vectors_at_every_size() {
    let tree = vector_tree();
    let mut frontier = Frontier::new();
    assert_eq!(frontier.root(), h(VECTOR_ROOTS[0]));
    assert_eq!(empty_root(), h(VECTOR_ROOTS[0]));
    for (size, want) in VECTOR_ROOTS.iter().enumerate() {
        assert_eq!(tree.root(size as u64), h(want), "tree root at size {size}");
        if size > 0 {
            frontier.push(tree.leaf(size as u64 - 1).expect("leaf exists"));
            assert_eq!(frontier.root(), h(want), "frontier root at size {size}");
        }
    }
}

#[test]
fn inclusion_proofs_match_the_reference_vectors() {
    let tree = vector_tree();
    // (leaf index, tree size, path) — the reference numbers leaves from 1.
    let vectors: [(u64, u64, &[&str]); 5] = [
        (0, 1, &[]),
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (index, size, path) in vectors {
        let want: Vec<Hash> = path.iter().map(|x| h(x)).collect();
        assert_eq!(
            tree.inclusion_path(index, size),
            want,
            "leaf {index} of {size}"
        );
        let leaf = tree.leaf(index).expect("leaf exists");
        verify_inclusion(&leaf, index, size, &want, &h(VECTOR_ROOTS[size as usize]))
            .expect("reference proof verifies");
    }
}

#[test]
fn consistency_proofs_match_the_reference_vectors() {
    let tree = vector_tree();
    let vectors: [(u64, u64, &[&str]); 5] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
        (
            6,
            7,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    for (first, second, path) in vectors {
        let want: Vec<Hash> = path.iter().map(|x| h(x)).collect();
        assert_eq!(
            tree.consistency_path(first, second),
            want,
            "{first} to {second}"
        );
        verify_consistency(
            first,
            second,
            &h(VECTOR_ROOTS[first as usize]),
            &h(VECTOR_ROOTS[second as usize]),
            &want,
        )
        .expect("reference proof verifies");
    }
}

// The RFC 9162 §2.1 definitions transcribed literally over slices of leaf
// hashes, to check the O(log n) tree against.
fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => empty_root(),
        1 => d[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

fn rfc_path(m: usize, d: &[Hash]) -> Vec<Hash> {
    if d.len() == 1 {
        return Vec::new();
    }
    let k = split_point(d.len() as u64) as usize;
    let (mut p, sibling) = if m < k {
        (rfc_path(m, &d[..k]), mth(&d[k..]))
    } else {
        (rfc_path(m - k, &d[k..]), mth(&d[..k]))
    };
    p.push(sibling);
    p
}

fn rfc_subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { Vec::new() } else { vec![mth(d)] };
    }
    let k = split_point(n as u64) as usize;
    let (mut p, sibling) = if m <= k {
        (rfc_subproof(m, &d[..k], b), mth(&d[k..]))
    } else {
        (rfc_subproof(m - k, &d[k..], false), mth(&d[..k]))
    };
    p.push(sibling);
    p
}

fn numbered_leaves(n: u64) -> (Tree, Vec<Hash>) {
    let mut tree = Tree::new();
    let mut leaves = Vec::new();
    for i in 0..n {
        let leaf = leaf_hash(&i.to_be_bytes());
        tree.push(leaf);
        leaves.push(leaf);
    }
    (tree, leaves)
}

fn flipped(path: &[Hash], element: usize, byte: usize) -> Vec<Hash> {
    let mut path = path.to_vec();
    let mut bytes = *path[element].as_bytes();
    bytes[byte] ^= 0x01;
    path[element] = Hash::from_bytes(bytes);
    path
}

#[test]
fn every_inclusion_proof_up_to_64_verifies_and_no_altered_one_does() {
    let (tree, leaves) = numbered_leaves(64);
    for n in 1..=64u64 {
        let root = tree.root(n);
        assert_eq!(root, mth(&leaves[..n as usize]), "root at {n}");
        for m in 0..n {
            let path = tree.inclusion_path(m, n);
            assert_eq!(
                path,
                rfc_path(m as usize, &leaves[..n as usize]),
                "path {m} of {n}"
            );
            let leaf = leaves[m as usize];
            verify_inclusion(&leaf, m, n, &path, &root).expect("valid proof verifies");
            for other in (0..n + 2).filter(|&o| o != m) {
                assert!(
                    verify_inclusion(&leaf, other, n, &path, &root).is_err(),
                    "leaf {m} of {n} verified at index {other}"
                );
            }
            for e in 0..path.len() {
                for byte in 0..32 {
                    let bad = flipped(&path, e, byte);
                    assert!(
                        verify_inclusion(&leaf, m, n, &bad, &root).is_err(),
                        "leaf {m} of {n} verified with path[{e}] byte {byte} flipped"
                    );
                }
            }
            let mut longer = path.clone();
            longer.push(root);
            assert!(verify_inclusion(&leaf, m, n, &longer, &root).is_err());
            if !path.is_empty() {
                assert!(verify_inclusion(&leaf, m, n, &path[..path.len() - 1], &root).is_err());
            }
            let other_leaf = leaf_hash(b"not this leaf");
            assert!(verify_inclusion(&other_leaf, m, n, &path, &root).is_err());
        }
    }
}

#[test]
fn every_consistency_proof_up_to_64_verifies_and_no_altered_one_does() {
    let (tree, leaves) = numbered_leaves(64);
    for n in 1..=64u64 {
        let second_root = tree.root(n);
        for m in 0..=n {
            let first_root = tree.root(m);
            let path = tree.consistency_path(m, n);
            if m > 0 && m < n {
                assert_eq!(path, rfc_subproof(m as usize, &leaves[..n as usize], true));
            } else {
                assert!(path.is_empty());
            }
            verify_consistency(m, n, &first_root, &second_root, &path)
                .expect("valid proof verifies");
            if m == 0 || m == n {
                continue;
            }
            for e in 0..path.len() {
                for byte in 0..32 {
                    let bad = flipped(&path, e, byte);
                    assert!(
                        verify_consistency(m, n, &first_root, &second_root, &bad).is_err(),
                        "{m} to {n} verified with path[{e}] byte {byte} flipped"
                    );
                }
            }
            for other in (1..n).filter(|&o| o != m) {
                assert!(
                    verify_consistency(other, n, &first_root, &second_root, &path).is_err(),
                    "{m} to {n} verified as {other} to {n}"
                );
            }
            assert!(verify_consistency(m, n, &second_root, &first_root, &path).is_err());
            assert!(verify_consistency(m, n, &first_root, &second_root, &[]).is_err());
            assert!(
                verify_consistency(m, n, &first_root, &second_root, &path[..path.len() - 1])
                    .is_err()
            );
        }
    }
}

#[test]
fn out_of_range_proofs_name_the_values() {
    let leaf = leaf_hash(b"x");
    match verify_inclusion(&leaf, 3, 3, &[], &leaf) {
        Err(Error::InclusionProofInvalid {
            index: 3,
            tree_size: 3,
            ..
        }) => {}
        other => panic!("expected an invalid inclusion proof, got {other:?}"),
    }
    match verify_consistency(4, 3, &leaf, &leaf, &[]) {
        Err(Error::ConsistencyProofInvalid {
            first: 4,
            second: 3,
            ..
        }) => {}
        other => panic!("expected an invalid consistency proof, got {other:?}"),
    }
}

#[test]
fn truncating_a_tree_forgets_exactly_the_later_leaves() {
    let (mut tree, leaves) = numbered_leaves(37);
    tree.truncate(21);
    assert_eq!(tree.len(), 21);
    assert_eq!(tree.root(21), mth(&leaves[..21]));
    for leaf in &leaves[21..30] {
        tree.push(*leaf);
    }
    assert_eq!(tree.root(30), mth(&leaves[..30]));
}

#[test]
fn hashes_read_back_from_hex_and_json() {
    let x = leaf_hash(b"abc");
    assert_eq!(Hash::from_hex(&x.to_string()), Some(x));
    let json = serde_json::to_string(&x).expect("serializes");
    assert_eq!(json, format!("\"{x}\""));
    assert_eq!(
        serde_json::from_str::<Hash>(&json).expect("deserializes"),
        x
    );
    assert!(serde_json::from_str::<Hash>("\"abcd\"").is_err());
}
