//! Pairwise links into entities (persons).
//!
//! Plain connected components (union–find over the links) let one weak
//! link chain two people together: if A₁–A₂ and B₁–B₂ are strong pairs and
//! one typo links A₂–B₁, components make one entity of four. We use
//! connected components with a guard, in the manner of average-linkage
//! agglomerative clustering: links are taken strongest first, and a link
//! joins two entities only if at least half of all the pairs across them
//! are links themselves (pairs that blocking never compared are scored on
//! the spot by the same model). Joining a single record to an entity needs
//! no more than its own link when the entity has two records; larger
//! entities need more agreement. A join across more than
//! [`MAX_CROSS_PAIRS`] pairs is refused: no person has that many records
//! in one file, and checking it would be quadratic.

/// Largest number of cross pairs a join may check.
pub const MAX_CROSS_PAIRS: usize = 250_000;

/// Entities of records: a dense entity number per record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clusters {
    /// Entity of each record, numbered from 0 in the order of first
    /// appearance.
    pub of_record: Vec<u32>,
    /// How many entities (single records count).
    pub count: usize,
    /// How many entities have more than one record.
    pub multi: usize,
    /// Links that joined nothing because the guard refused them.
    pub refused: usize,
}

/// Clusters `records` from links `(a, b, weight)`; `is_link(a, b)` tells
/// whether any other pair would be a link.
pub fn cluster(
    records: usize,
    links: &[(u32, u32, f64)],
    mut is_link: impl FnMut(u32, u32) -> bool,
) -> Clusters {
    let mut order: Vec<usize> = (0..links.len()).collect();
    order.sort_by(|&x, &y| links[y].2.total_cmp(&links[x].2));
    // Each record's root; each root's members.
    let mut root: Vec<u32> = (0..records as u32).collect();
    let mut members: Vec<Vec<u32>> = (0..records as u32).map(|r| vec![r]).collect();
    let mut refused = 0;
    for i in order {
        let (a, b, _) = links[i];
        let (ra, rb) = (root[a as usize], root[b as usize]);
        if ra == rb {
            continue;
        }
        let (sa, sb) = (members[ra as usize].len(), members[rb as usize].len());
        let cross = sa * sb;
        let accept = if cross <= 2 {
            true
        } else if cross > MAX_CROSS_PAIRS {
            false
        } else {
            let mut agree = 0;
            for &x in &members[ra as usize] {
                for &y in &members[rb as usize] {
                    if (x, y) == (a, b) || (y, x) == (a, b) || is_link(x.min(y), x.max(y)) {
                        agree += 1;
                    }
                }
            }
            2 * agree >= cross
        };
        if !accept {
            refused += 1;
            continue;
        }
        // Merge the smaller into the larger.
        let (big, small) = if sa >= sb { (ra, rb) } else { (rb, ra) };
        let moved = std::mem::take(&mut members[small as usize]);
        for &r in &moved {
            root[r as usize] = big;
        }
        members[big as usize].extend(moved);
    }
    let mut number = vec![u32::MAX; records];
    let mut of_record = Vec::with_capacity(records);
    let mut count = 0u32;
    for &rt in &root {
        let rt = rt as usize;
        if number[rt] == u32::MAX {
            number[rt] = count;
            count += 1;
        }
        of_record.push(number[rt]);
    }
    let multi = members.iter().filter(|m| m.len() > 1).count();
    Clusters {
        of_record,
        count: count as usize,
        multi,
        refused,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_weak_link_does_not_chain_two_people() {
        // A = {0, 1}, B = {2, 3}; 1–2 is a weak link, nothing else across.
        let links = [(0, 1, 20.0), (2, 3, 20.0), (1, 2, 1.0)];
        let strong = |a: u32, b: u32| matches!((a, b), (0, 1) | (2, 3));
        let c = cluster(4, &links, strong);
        assert_eq!(c.count, 2);
        assert_ne!(c.of_record[1], c.of_record[2]);
        assert_eq!(c.refused, 1);
    }

    #[test]
    fn entities_that_agree_join() {
        let links = [(0, 1, 20.0), (2, 3, 20.0), (1, 2, 10.0), (0, 2, 12.0)];
        let all = |_: u32, _: u32| true;
        let c = cluster(5, &links, all);
        assert_eq!(c.count, 2, "{c:?}");
        assert_eq!(c.multi, 1);
        assert_eq!(c.of_record[4], 1);
    }

    #[test]
    fn a_single_record_joins_a_pair_by_its_own_link() {
        let links = [(0, 1, 20.0), (1, 2, 5.0)];
        let c = cluster(3, &links, |a, b| (a, b) == (0, 1) || (a, b) == (1, 2));
        assert_eq!(c.count, 1);
    }
}
