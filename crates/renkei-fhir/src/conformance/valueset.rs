//! Value sets the packages enumerate, for required bindings.
//!
//! Only a value set whose every include is a list of concepts, or a whole
//! code system the packages carry completely, can be checked here. One
//! that includes a national master (YJ, JLAC10, 一般名処方マスタ) by system
//! needs that master's terminology package, which is not published where
//! this platform can fetch it: such bindings are not checked, and the
//! caller counts them as such rather than pretending.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// The codes of one enumerable value set: (system, code).
pub(crate) type Codes = BTreeSet<(String, String)>;

/// Expands `url` from the packages' value sets and code systems; `None`
/// when it is not enumerable with what the packages hold.
pub(crate) fn expand(
    url: &str,
    value_sets: &BTreeMap<String, &Value>,
    code_systems: &BTreeMap<String, &Value>,
) -> Option<Codes> {
    expand_at(url, value_sets, code_systems, 0)
}

fn expand_at(
    url: &str,
    value_sets: &BTreeMap<String, &Value>,
    code_systems: &BTreeMap<String, &Value>,
    depth: usize,
) -> Option<Codes> {
    if depth > 8 {
        return None;
    }
    let vs = value_sets.get(url)?;
    let mut codes = Codes::new();
    let includes = vs["compose"]["include"].as_array()?;
    for inc in includes {
        for nested in inc["valueSet"].as_array().into_iter().flatten() {
            let nested = nested.as_str()?;
            codes.extend(expand_at(nested, value_sets, code_systems, depth + 1)?);
        }
        if inc.get("filter").is_some() {
            return None;
        }
        let Some(system) = inc["system"].as_str() else {
            continue;
        };
        match inc["concept"].as_array() {
            Some(concepts) => {
                for c in concepts {
                    codes.insert((system.to_owned(), c["code"].as_str()?.to_owned()));
                }
            }
            None => {
                let cs = code_systems.get(system)?;
                if cs["content"] != "complete" {
                    return None;
                }
                all_concepts(system, &cs["concept"], &mut codes);
            }
        }
    }
    if vs["compose"].get("exclude").is_some() {
        return None;
    }
    Some(codes)
}

fn all_concepts(system: &str, concepts: &Value, into: &mut Codes) {
    for c in concepts.as_array().into_iter().flatten() {
        if let Some(code) = c["code"].as_str() {
            into.insert((system.to_owned(), code.to_owned()));
        }
        all_concepts(system, &c["concept"], into);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expands_listed_and_whole_system_includes_and_refuses_filters() {
        let cs = json!({"url": "urn:cs", "content": "complete",
            "concept": [{"code": "a", "concept": [{"code": "a1"}]}, {"code": "b"}]});
        let listed =
            json!({"compose": {"include": [{"system": "urn:x", "concept": [{"code": "1"}]}]}});
        let whole = json!({"compose": {"include": [{"system": "urn:cs"}, {"valueSet": ["urn:vs:listed"]}]}});
        let filtered = json!({"compose": {"include": [{"system": "urn:cs", "filter": [{}]}]}});
        let national = json!({"compose": {"include": [{"system": "urn:yj"}]}});
        let vss: BTreeMap<String, &Value> = [
            ("urn:vs:listed".to_owned(), &listed),
            ("urn:vs:whole".to_owned(), &whole),
            ("urn:vs:filtered".to_owned(), &filtered),
            ("urn:vs:national".to_owned(), &national),
        ]
        .into();
        let css: BTreeMap<String, &Value> = [("urn:cs".to_owned(), &cs)].into();
        let whole = expand("urn:vs:whole", &vss, &css).expect("enumerable");
        let codes: Vec<&str> = whole.iter().map(|(_, c)| c.as_str()).collect();
        assert_eq!(codes, ["a", "a1", "b", "1"]);
        assert!(expand("urn:vs:filtered", &vss, &css).is_none());
        assert!(expand("urn:vs:national", &vss, &css).is_none());
        assert!(expand("urn:vs:absent", &vss, &css).is_none());
    }
}
