//! FHIRPath: the semantics the profiles' invariants rely on, then every
//! invariant of the bundled JP Core / JP-CLINS packages, parsed and run on
//! the published JP-CLINS examples.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use renkei_fhir::fhirpath::{EvalError, Expr, ParseError};
use renkei_fhir::package::Packages;
use serde_json::{Value, json};

fn parse(text: &str) -> Expr {
    Expr::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The result's values.
fn eval(text: &str, focus: &Value) -> Vec<Value> {
    parse(text)
        .evaluate(focus, focus)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .iter()
        .map(|i| i.value().clone())
        .collect()
}

/// The result as three-valued logic: `Some(b)` for one boolean, `None` for
/// empty; anything else fails the test.
fn logic(text: &str, focus: &Value) -> Option<bool> {
    match eval(text, focus).as_slice() {
        [] => None,
        [Value::Bool(b)] => Some(*b),
        other => panic!("{text}: not a boolean or empty: {other:?}"),
    }
}

// ---- Semantics ---------------------------------------------------------

#[test]
fn boolean_operators_follow_the_three_valued_tables() {
    let f = json!({});
    // FHIRPath N1 §6.5: (left, right) → and, or, xor, implies.
    let t = Some(true);
    let n = None;
    let x = Some(false);
    let table = [
        ("true", "true", t, t, x, t),
        ("true", "false", x, t, t, x),
        ("true", "{}", n, t, n, n),
        ("false", "true", x, t, t, t),
        ("false", "false", x, x, x, t),
        ("false", "{}", x, n, n, t),
        ("{}", "true", n, t, n, t),
        ("{}", "false", x, n, n, n),
        ("{}", "{}", n, n, n, n),
    ];
    for (l, r, and, or, xor, implies) in table {
        assert_eq!(logic(&format!("{l} and {r}"), &f), and, "{l} and {r}");
        assert_eq!(logic(&format!("{l} or {r}"), &f), or, "{l} or {r}");
        assert_eq!(logic(&format!("{l} xor {r}"), &f), xor, "{l} xor {r}");
        assert_eq!(
            logic(&format!("{l} implies {r}"), &f),
            implies,
            "{l} implies {r}"
        );
    }
    assert_eq!(logic("{}.not()", &f), None);
    assert_eq!(logic("false.not()", &f), Some(true));
}

#[test]
fn empty_propagates_through_comparison_and_arithmetic() {
    let p = json!({"resourceType": "Patient", "gender": "male"});
    assert_eq!(logic("birthDate = '2000-01-01'", &p), None);
    assert_eq!(logic("birthDate != '2000-01-01'", &p), None);
    assert_eq!(logic("birthDate < '2000-01-01'", &p), None);
    assert_eq!(eval("multipleBirthInteger + 1", &p), Vec::<Value>::new());
    assert_eq!(logic("gender = 'male'", &p), Some(true));
    assert_eq!(logic("gender ~ 'MALE'", &p), Some(true));
    assert_eq!(logic("{} ~ {}", &p), Some(true));
    // `&` treats empty as the empty string; `+` does not.
    assert_eq!(eval("'a' & {} & 'b'", &p), [json!("ab")]);
    assert_eq!(eval("'#' + gender", &p), [json!("#male")]);
    assert_eq!(eval("2 + 3 * 4 - 10 div 3 + 7 mod 4", &p), [json!(14)]);
    assert_eq!(eval("1 / 4", &p), [json!(0.25)]);
    assert_eq!(eval("1 / 0", &p), Vec::<Value>::new());
    assert_eq!(logic("1 = 1.0", &p), Some(true));
}

#[test]
fn holds_reads_results_as_an_invariant() {
    let p = json!({"resourceType": "Patient", "name": [{"family": "山田"}, {"family": "Yamada"}]});
    assert_eq!(parse("name.exists()").holds(&p, &p), Ok(true));
    assert_eq!(parse("birthDate.exists()").holds(&p, &p), Ok(false));
    // Empty asserts nothing.
    assert_eq!(parse("birthDate > '2000'").holds(&p, &p), Ok(true));
    assert!(matches!(
        parse("name.family").holds(&p, &p),
        Err(EvalError::NotAnAssertion { .. })
    ));
    assert!(matches!(
        parse("'x'").holds(&p, &p),
        Err(EvalError::NotAnAssertion { .. })
    ));
}

#[test]
fn singleton_violations_are_errors() {
    let p = json!({"resourceType": "Patient", "name": [{"family": "山田"}, {"family": "鈴木"}]});
    for text in [
        "name.family.substring(0, 1)",
        "name.family.matches('山')",
        "name.family and true",
        "name.family < 'x'",
        "name.family in ('山田' | '鈴木')",
        "name.family.single()",
        "name.family.not()",
        "name.family is string",
    ] {
        let result = parse(text).evaluate(&p, &p);
        assert!(
            matches!(result, Err(EvalError::NotSingleton { count: 2, .. })),
            "{text}: {result:?}"
        );
    }
    // A collection equals another only item by item; that is not an error.
    assert_eq!(logic("name.family = ('山田' | '鈴木')", &p), Some(true));
    assert_eq!(logic("name.family = '山田'", &p), Some(false));
    let bad = parse("name.family.first() > 1").evaluate(&p, &p);
    assert!(
        matches!(bad, Err(EvalError::TypeMismatch { .. })),
        "{bad:?}"
    );
}

#[test]
fn navigation_flattens_arrays_and_leading_type_names_filter() {
    let p = json!({
        "resourceType": "Patient",
        "name": [{"given": ["太郎", "一"]}, {"given": ["タロウ"]}],
        "_birthDate": {"extension": [{"url": "x"}]}
    });
    assert_eq!(
        eval("Patient.name.given", &p),
        [json!("太郎"), json!("一"), json!("タロウ")]
    );
    assert_eq!(eval("name.given[1]", &p), [json!("一")]);
    assert_eq!(eval("name[1].given", &p), [json!("タロウ")]);
    assert_eq!(eval("Observation.name", &p), Vec::<Value>::new());
    assert_eq!(
        logic("$this.name.count() = 2 and %resource.name.exists()", &p),
        Some(true)
    );
    assert_eq!(logic("%context.resourceType = 'Patient'", &p), Some(true));
    // Primitive extensions are not navigated.
    assert_eq!(logic("birthDate.exists()", &p), Some(false));
    assert_eq!(logic("children().count() = 2", &p), Some(true));
    // resourceType and `_birthDate` are not elements.
    assert_eq!(eval("descendants().ofType(string)", &p).len(), 3);
    assert_eq!(
        eval("name.select(given.first())", &p),
        [json!("太郎"), json!("タロウ")]
    );
    assert_eq!(logic("name.all(given.exists())", &p), Some(true));
    assert_eq!(
        logic("name.where(given.count() > 1).exists()", &p),
        Some(true)
    );
}

#[test]
fn choice_elements_are_found_by_their_typed_keys() {
    let obs = json!({
        "resourceType": "Observation",
        "valueQuantity": {"value": 4.2, "unit": "mmol/L", "code": "mmol/L"},
        "effectiveDateTime": "2021-07-05T19:28:23+09:00",
        "valueset": "not a choice of value",
        "component": [
            {"valueString": "陰性"},
            {"valueCodeableConcept": {"text": "陽性"}},
            {"valueBoolean": true},
            {"valueInteger": 3}
        ]
    });
    assert_eq!(eval("value.value", &obs), [json!(4.2)]);
    assert_eq!(logic("value is Quantity", &obs), Some(true));
    assert_eq!(logic("value.is(FHIR.Quantity)", &obs), Some(true));
    assert_eq!(logic("effective is dateTime", &obs), Some(true));
    assert_eq!(logic("effective is string", &obs), Some(false));
    assert_eq!(
        eval("component.value.ofType(string)", &obs),
        [json!("陰性")]
    );
    assert_eq!(
        eval("component.value.ofType(CodeableConcept).text", &obs),
        [json!("陽性")]
    );
    assert_eq!(eval("component.value.ofType(boolean)", &obs), [json!(true)]);
    assert_eq!(
        eval("component.value.ofType(System.Integer)", &obs),
        [json!(3)]
    );
    assert_eq!(eval("component.value.count()", &obs), [json!(4)]);
    assert_eq!(eval("component[0].value as string", &obs), [json!("陰性")]);
    assert_eq!(
        eval("component[1].value as string", &obs),
        Vec::<Value>::new()
    );
    // A key is a choice only when a datatype name follows.
    let odd = json!({"valueset": "x", "valueFoo": 1});
    assert_eq!(eval("value", &odd), Vec::<Value>::new());
}

#[test]
fn types_of_resources_and_plain_json() {
    let bundle = json!({
        "resourceType": "Bundle",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p"}},
            {"resource": {"resourceType": "Condition", "id": "c", "onsetDateTime": "2020-01-01"}},
            {"resource": {"resourceType": "Condition", "id": "d", "onsetString": "幼少期"}}
        ]
    });
    assert_eq!(
        eval("entry.resource.ofType(Condition).id", &bundle),
        [json!("c"), json!("d")]
    );
    assert_eq!(
        logic("entry.first().resource.is(Patient)", &bundle),
        Some(true)
    );
    assert_eq!(
        logic("entry.first().resource is Resource", &bundle),
        Some(true)
    );
    assert_eq!(logic("is(DomainResource)", &bundle), Some(false));
    assert_eq!(
        eval("entry.select(resource as Condition).id", &bundle),
        [json!("c"), json!("d")]
    );
    assert_eq!(
        logic(
            "entry.select(resource as Condition).all(onset.ofType(dateTime).exists())",
            &bundle
        ),
        Some(false)
    );
    assert_eq!(
        eval("entry.resource.id.ofType(string).count()", &bundle),
        [json!(3)]
    );
    assert_eq!(
        eval("entry.resource.ofType(Observation)", &bundle),
        Vec::<Value>::new()
    );
    // Specializations: a code is a string, an Age a Quantity.
    let ext = json!({"valueCode": "a", "valueAge": {"value": 3}});
    assert_eq!(eval("value.ofType(string)", &ext), [json!("a")]);
    assert_eq!(eval("value.ofType(Quantity).value", &ext), [json!(3)]);
}

#[test]
fn string_functions_count_characters_not_bytes() {
    let p = json!({"name": [{"text": "山田　太郎", "family": "山田"}], "system": "urn:oid:1.2.392.100495.20.3.51.11311234567|1.0"});
    assert_eq!(eval("name.text.indexOf('　')", &p), [json!(2)]);
    assert_eq!(eval("name.text.indexOf('花子')", &p), [json!(-1)]);
    assert_eq!(eval("name.text.substring(3)", &p), [json!("太郎")]);
    assert_eq!(eval("name.text.substring(0, 2)", &p), [json!("山田")]);
    assert_eq!(eval("name.text.substring(9)", &p), Vec::<Value>::new());
    assert_eq!(eval("name.text.length()", &p), [json!(5)]);
    assert_eq!(logic("name.text.contains('\\u3000')", &p), Some(true));
    assert_eq!(logic("name.family.contains('　')", &p), Some(false));
    assert_eq!(
        logic(
            "name.text.startsWith('山田') and name.text.endsWith('太郎')",
            &p
        ),
        Some(true)
    );
    assert_eq!(eval("system.substring(31, 1)", &p), [json!("1")]);
    assert_eq!(
        eval("system.substring(0, system.indexOf('|'))", &p),
        [json!("urn:oid:1.2.392.100495.20.3.51.11311234567")]
    );
    // A doubled quote is not an escape in FHIRPath (SQL's is).
    assert!(matches!(
        Expr::parse("'it''s'.length()"),
        Err(ParseError::Syntax { offset: 4, .. })
    ));
}

#[test]
fn the_kanji_name_rule_sees_the_full_width_space() {
    // JP_Patient_eCS kanjiName-kanaName-donot-contain-ZenkakuKuuhaku, as
    // published (the literal holds U+3000 itself).
    let rule = parse(
        "name.where(extension.where(url='http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation').exists()).where(text.contains('\u{3000}')).exists().not()",
    );
    let name = |text: &str| {
        json!({"resourceType": "Patient", "name": [{
            "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation", "valueCode": "IDE"}],
            "text": text
        }]})
    };
    assert_eq!(rule.holds(&name("山田 太郎"), &name("")), Ok(true));
    assert_eq!(rule.holds(&name("山田\u{3000}太郎"), &name("")), Ok(false));
    // Without the representation extension the name is not checked.
    let plain = json!({"resourceType": "Patient", "name": [{"text": "山田\u{3000}太郎"}]});
    assert_eq!(rule.holds(&plain, &plain), Ok(true));
}

#[test]
fn string_literals_resolve_escapes() {
    let f = json!({});
    assert_eq!(eval(r"'it\'s'", &f), [json!("it's")]);
    assert_eq!(eval(r"'a\\b'", &f), [json!("a\\b")]);
    assert_eq!(eval(r"'\u3000'", &f), [json!("\u{3000}")]);
    assert_eq!(eval(r"'tab\there'", &f), [json!("tab\there")]);
    assert_eq!(eval("`div`", &json!({"div": 1})), [json!(1)]);
    assert!(matches!(
        Expr::parse(r"'\q'"),
        Err(ParseError::Syntax { offset: 1, .. })
    ));
}

#[test]
fn matches_is_a_partial_match_unless_anchored() {
    let id = json!({"value": "1311234567"});
    assert_eq!(
        logic("value.matches('[0-4][0-9][1-3][0-9]{7}')", &id),
        Some(true)
    );
    assert_eq!(
        logic("value.matches('^[0-4][0-9][1-3][0-9]{7}$')", &id),
        Some(true)
    );
    assert_eq!(
        logic("value.matches('^[0-4][0-9][1-3][0-9]{6}$')", &id),
        Some(false)
    );
    assert_eq!(logic("value.matches('123')", &id), Some(true));
    assert_eq!(
        eval("value.replaceMatches('[0-9]{4}$', 'XXXX')", &id),
        [json!("131123XXXX")]
    );
    // The JP-CLINS insurance member id: full-width space in a class.
    let member = json!({"value": "12345678:記号:番号:01"});
    let rule =
        "value.matches('^[0-9]{8}:[^:^\\\\s^\u{3000}]*:[^:^\\\\s^\u{3000}]*:(.{0}|[0-9][0-9])$')";
    assert_eq!(logic(rule, &member), Some(true));
    let spaced = json!({"value": "12345678:記\u{3000}号:番号:01"});
    assert_eq!(logic(rule, &spaced), Some(false));
    assert!(matches!(
        Expr::parse("value.matches('[')"),
        Err(ParseError::Syntax { .. })
    ));
}

#[test]
fn datetimes_compare_chronologically_and_by_precision() {
    let d = json!({
        "prepared": "2021-07-05T19:28:23+09:00",
        "handedOver": "2021-07-05T11:00:00Z",
        "day": "2021-07-05",
        "earlier": "2021-07-04"
    });
    // 19:28 in Tokyo is 10:28 UTC, before 11:00 UTC.
    assert_eq!(logic("handedOver >= prepared", &d), Some(true));
    assert_eq!(logic("prepared < handedOver", &d), Some(true));
    assert_eq!(logic("day > earlier", &d), Some(true));
    // Different precision: unknown once the shared parts are equal.
    assert_eq!(logic("day < prepared", &d), None);
    assert_eq!(logic("earlier < prepared", &d), Some(true));
    assert_eq!(logic("@2021-07-05 = day", &d), Some(true));
    assert_eq!(logic("@2021-07-05T10:28:23Z = prepared", &d), Some(true));
    assert_eq!(logic("@2021-07 = day", &d), None);
}

#[test]
fn quantities_compare_by_value_in_the_same_unit() {
    let range = |low: Value, high: Value| json!({"low": low, "high": high});
    let rule = "low.empty() or high.empty() or (low <= high)";
    let mg = |v: f64| json!({"value": v, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"});
    assert_eq!(logic(rule, &range(mg(1.0), mg(2.5))), Some(true));
    assert_eq!(logic(rule, &range(mg(3.0), mg(2.5))), Some(false));
    let g = json!({"value": 1, "code": "g"});
    assert_eq!(logic("low <= high", &range(mg(3.0), g)), None);
    assert_eq!(logic(rule, &json!({"low": mg(1.0)})), Some(true));
}

#[test]
fn union_in_and_collection_functions() {
    let t = json!({"when": ["MORN", "C"], "code": "CM"});
    assert_eq!(logic("code in ('C' | 'CM' | 'CD' | 'CV')", &t), Some(true));
    assert_eq!(logic("('C' | 'CM') contains code", &t), Some(true));
    assert_eq!(logic("offset in ('C' | 'CM')", &t), None);
    assert_eq!(eval("('a' | 'b' | 'a')", &t), [json!("a"), json!("b")]);
    assert_eq!(eval("('a' | 'b').combine('a').count()", &t), [json!(3)]);
    assert_eq!(eval("when.intersect('C' | 'CM')", &t), [json!("C")]);
    assert_eq!(eval("when.exclude('C')", &t), [json!("MORN")]);
    assert_eq!(logic("when.isDistinct()", &t), Some(true));
    assert_eq!(logic("(when | when).count() = 2", &t), Some(true));
    assert_eq!(logic("when.combine(when).isDistinct()", &t), Some(false));
    assert_eq!(eval("when.tail()", &t), [json!("C")]);
    assert_eq!(eval("when.last()", &t), [json!("C")]);
    assert_eq!(eval("when.skip(1).take(5)", &t), [json!("C")]);
    assert_eq!(logic("when.subsetOf('C' | 'MORN' | 'EVE')", &t), Some(true));
    assert_eq!(logic("when.supersetOf('C')", &t), Some(true));
    assert_eq!(eval("iif(code = 'CM', 'yes', 'no')", &t), [json!("yes")]);
    assert_eq!(eval("when.where($index = 1)", &t), [json!("C")]);
    assert_eq!(
        logic("code.hasValue() and when.hasValue().not()", &t),
        Some(true)
    );
    assert_eq!(eval("when.trace('w').count()", &t), [json!(2)]);
    assert_eq!(eval("code.toString() & 1.toString()", &t).len(), 1);
    assert_eq!(eval("'42'.toInteger() + 1", &t), [json!(43)]);
    // Objects are equal when all their properties are.
    let c = json!({"a": [{"system": "s", "code": "1"}], "b": [{"code": "1", "system": "s"}, {"code": "2"}]});
    assert_eq!(eval("a.intersect(b).count()", &c), [json!(1)]);
}

#[test]
fn extension_url_finds_the_extensions() {
    let r = json!({"extension": [
        {"url": "http://a", "valueString": "x"},
        {"url": "http://b", "valueIdentifier": {"value": "1311234567"}}
    ]});
    assert_eq!(
        eval("extension('http://b').value.ofType(Identifier).value", &r),
        [json!("1311234567")]
    );
    assert_eq!(eval("extension('http://c')", &r), Vec::<Value>::new());
}

#[test]
fn refusals_name_the_function_or_the_offset() {
    assert_eq!(
        Expr::parse("text.div.htmlChecks()").map(|_| ()),
        Err(ParseError::Unsupported {
            function: "htmlChecks".to_owned()
        })
    );
    assert_eq!(
        Expr::parse("subject.resolve() is Patient").map(|_| ()),
        Err(ParseError::Unsupported {
            function: "resolve".to_owned()
        })
    );
    assert!(matches!(
        Expr::parse("name.frobnicate()"),
        Err(ParseError::UnknownFunction { offset: 5, .. })
    ));
    assert!(matches!(
        Expr::parse("name.where()"),
        Err(ParseError::Arity { found: 0, .. })
    ));
    assert!(matches!(
        Expr::parse("name.where(a"),
        Err(ParseError::Syntax { offset: 12, .. })
    ));
    assert!(matches!(
        Expr::parse("a = = b"),
        Err(ParseError::Syntax { offset: 4, .. })
    ));
    assert!(matches!(
        Expr::parse("%vs-foo"),
        Err(ParseError::UnknownVariable { .. })
    ));
    let deep = format!("{}1{}", "(".repeat(1000), ")".repeat(1000));
    assert!(matches!(Expr::parse(&deep), Err(ParseError::Syntax { .. })));
}

#[test]
fn a_parsed_expression_is_shared_across_threads() {
    fn shareable<T: Send + Sync + Clone + std::fmt::Debug>(_: &T) {}
    let expr = parse("name.where(text.matches('^山')).exists()");
    shareable(&expr);
    let p = json!({"name": [{"text": "山田"}]});
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (expr, p) = (expr.clone(), p.clone());
            std::thread::spawn(move || expr.holds(&p, &p))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().expect("no panic"), Ok(true));
    }
}

#[test]
fn runaway_expressions_end_in_errors() {
    // Regexes are linear-time (the regex crate), so a catastrophic pattern
    // is just a pattern.
    let s = json!({"v": format!("{}!", "a".repeat(5000))});
    assert_eq!(logic("v.matches('^(a+)+$')", &s), Some(false));
    // repeat() stops when nothing new appears, even if each step yields.
    assert_eq!(eval("repeat($this).count()", &s), [json!(1)]);
}

// ---- The bundled packages' invariants --------------------------------------

struct Constraint {
    profile: String,
    key: String,
    expression: String,
}

fn constraints(packages: &Packages) -> Vec<Constraint> {
    let mut out = Vec::new();
    for package in packages.packages() {
        for (url, sd) in &package.structure_definitions {
            for element in sd["snapshot"]["element"].as_array().into_iter().flatten() {
                for c in element["constraint"].as_array().into_iter().flatten() {
                    let Some(expression) = c["expression"].as_str() else {
                        continue;
                    };
                    out.push(Constraint {
                        profile: url.clone(),
                        key: c["key"].as_str().unwrap_or_default().to_owned(),
                        expression: expression.to_owned(),
                    });
                }
            }
        }
    }
    out
}

#[test]
fn every_bundled_invariant_parses_or_is_knowingly_unsupported() {
    let packages = Packages::bundled().expect("the bundled packages load");
    let all = constraints(&packages);
    let mut parsed = 0;
    let mut unsupported: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for c in &all {
        match Expr::parse(&c.expression) {
            Ok(_) => parsed += 1,
            Err(ParseError::Unsupported { function }) => {
                *unsupported.entry(function).or_default() += 1
            }
            Err(e) => failures.push(format!("{} {} {}: {e}", c.profile, c.key, c.expression)),
        }
    }
    eprintln!(
        "{} invariants: {parsed} parsed, unsupported {unsupported:?}",
        all.len()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        all.len() > 10_000,
        "the snapshots carry ele-1 on every element"
    );
    // Only FHIR's XHTML check of Narrative.div (txt-1) is left out.
    let names: Vec<&str> = unsupported.keys().map(String::as_str).collect();
    assert_eq!(names, ["htmlChecks"]);
}

// ---- On the published examples ---------------------------------------------

fn examples() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/jp-clins/examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let name = f
                .file_name()
                .expect("a file name")
                .to_string_lossy()
                .into_owned();
            let bytes = std::fs::read(&f).unwrap_or_else(|e| panic!("{name}: {e}"));
            let json = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, json)
        })
        .collect()
}

/// The resources of an example that claim profiles: itself and, for a
/// Bundle, each entry's resource, with where it sits.
fn resources(name: &str, json: &Value) -> Vec<(String, Value)> {
    let mut out = vec![(name.to_owned(), json.clone())];
    for (i, entry) in json["entry"].as_array().into_iter().flatten().enumerate() {
        if entry["resource"].is_object() {
            out.push((format!("{name} entry[{i}]"), entry["resource"].clone()));
        }
    }
    out
}

/// The JSON nodes at an element path below the root: `Dosage.timing.repeat`
/// walks keys through objects and arrays; `value[x]` takes every
/// `value<Type>` key.
fn nodes_at<'v>(resource: &'v Value, path: &str) -> Vec<&'v Value> {
    let mut nodes = vec![resource];
    for step in path.split('.').skip(1) {
        let mut next = Vec::new();
        for node in nodes {
            let Value::Object(object) = node else {
                continue;
            };
            let matching: Vec<&Value> = match step.strip_suffix("[x]") {
                Some(stem) => object
                    .iter()
                    .filter(|(k, _)| {
                        k.strip_prefix(stem)
                            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
                    })
                    .map(|(_, v)| v)
                    .collect(),
                None => object.get(step).into_iter().collect(),
            };
            for value in matching {
                match value {
                    Value::Array(items) => next.extend(items.iter().filter(|v| !v.is_null())),
                    Value::Null => {}
                    other => next.push(other),
                }
            }
        }
        nodes = next;
    }
    nodes
}

/// One failed or broken invariant on an example.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Finding {
    example: String,
    key: String,
    path: String,
    outcome: String,
}

/// What a run over the examples saw.
#[derive(Default)]
struct Run {
    findings: Vec<Finding>,
    evaluations: usize,
    below_root: usize,
    keys: BTreeSet<String>,
}

/// A datatype or extension profile is followed at most this deep
/// (Dosage → Timing → Extension).
const MAX_PROFILE_DEPTH: usize = 4;

/// Runs every error-severity invariant of a profile on every node its
/// elements apply to, with `roots` the nodes of the profile's root. Elements
/// typed with a bundled datatype or extension profile (`JP_MedicationDosage`,
/// `JP_eCS_InstitutionNumber`) are checked against that profile too.
fn check_profile(
    packages: &Packages,
    sd: &Value,
    roots: &[&Value],
    resource: &Value,
    place: &str,
    depth: usize,
    run: &mut Run,
) {
    let url = sd["url"].as_str().unwrap_or_default();
    for element in sd["snapshot"]["element"].as_array().into_iter().flatten() {
        let path = element["path"].as_str().unwrap_or_default();
        let type_profiles: Vec<&str> = element["type"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|t| t["profile"].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .collect();
        let mut nodes: Vec<&Value> = roots.iter().flat_map(|r| nodes_at(r, path)).collect();
        let sliced = element["sliceName"].is_string();
        let extension_slice =
            sliced && (path.ends_with(".extension") || path.ends_with(".modifierExtension"));
        if extension_slice {
            // An extension slice holds the extensions of its profile's url.
            nodes.retain(|n| {
                n["url"]
                    .as_str()
                    .is_some_and(|u| type_profiles.iter().any(|p| p.split('|').next() == Some(u)))
            });
        }
        for c in element["constraint"].as_array().into_iter().flatten() {
            if c["severity"] != "error" {
                continue;
            }
            let key = c["key"].as_str().unwrap_or_default();
            let text = c["expression"].as_str().unwrap_or_default();
            let expr = match Expr::parse(text) {
                Ok(expr) => expr,
                Err(ParseError::Unsupported { .. }) => continue,
                Err(e) => panic!("{url} {key}: {e}"),
            };
            for node in &nodes {
                run.evaluations += 1;
                if path.contains('.') || depth > 0 {
                    run.below_root += 1;
                }
                run.keys.insert(key.to_owned());
                let outcome = match expr.holds(node, resource) {
                    Ok(true) => continue,
                    Ok(false) => "false".to_owned(),
                    Err(e) => format!("error: {e}"),
                };
                run.findings.push(Finding {
                    example: place.to_owned(),
                    key: key.to_owned(),
                    path: path.to_owned(),
                    outcome,
                });
            }
        }
        // Which members a non-extension slice holds depends on its
        // discriminator, which this walker does not read.
        if !path.contains('.') || depth >= MAX_PROFILE_DEPTH || (sliced && !extension_slice) {
            continue;
        }
        for profile in &type_profiles {
            if let Some(typed) = packages.structure_definition(profile)
                && typed["kind"] == "complex-type"
            {
                check_profile(packages, typed, &nodes, resource, place, depth + 1, run);
            }
        }
    }
}

/// Every example resource against every profile it claims.
fn run_examples() -> Run {
    let packages = Packages::bundled().expect("the bundled packages load");
    let mut run = Run::default();
    for (name, json) in examples() {
        for (place, resource) in resources(&name, &json) {
            for profile in resource["meta"]["profile"].as_array().into_iter().flatten() {
                let url = profile.as_str().expect("a profile url is a string");
                let sd = packages
                    .structure_definition(url)
                    .unwrap_or_else(|| panic!("{place}: profile {url} is not bundled"));
                check_profile(&packages, sd, &[&resource], &resource, &place, 0, &mut run);
            }
        }
    }
    run.findings.sort();
    run.findings.dedup();
    run
}

#[test]
fn the_published_examples_keep_their_profiles_invariants() {
    let run = run_examples();
    eprintln!(
        "{} invariant evaluations, {} below the root, {} keys",
        run.evaluations,
        run.below_root,
        run.keys.len()
    );
    for f in &run.findings {
        eprintln!("{f:?}");
    }
    // The walk reaches the root, Bundle entries, datatype profiles
    // (Dosage's Timing) and extension profiles.
    for key in [
        "ele-1",
        "bdl-7",
        "bdl-8",
        "needs-anyOfStandardCode-medication",
        "tim-1",
        "ext-1",
        "dom-3",
        "kanjiName-kanaName-donot-contain-ZenkakuKuuhaku",
    ] {
        assert!(
            run.keys.contains(key),
            "{key} never evaluated: {:?}",
            run.keys
        );
    }
    let valid: Vec<&Finding> = run
        .findings
        .iter()
        .filter(|f| f.example.contains("-Example-"))
        .collect();
    assert!(
        valid.is_empty(),
        "valid examples break invariants: {valid:#?}"
    );
    // The intended error: an eye-drop order whose medication carries none of
    // the three standard code systems.
    let errors: Vec<(&str, &str, &str)> = run
        .findings
        .iter()
        .map(|f| (f.example.as_str(), f.key.as_str(), f.outcome.as_str()))
        .collect();
    assert_eq!(
        errors,
        [(
            "MedicationRequest-ErrorExample-JP-MedReq-ExtEye-Total1.json",
            "needs-anyOfStandardCode-medication",
            "false"
        )]
    );
}

/// A sender controls how many entries a Bundle has; `isDistinct()` over
/// them (bdl-7) must not cost the square of that. 100,000 values compared
/// pairwise would be 5·10⁹ comparisons: this test would not finish.
#[test]
fn is_distinct_over_a_huge_collection_is_not_quadratic() {
    let many: Vec<Value> = (0..100_000)
        .map(|i| json!({"fullUrl": format!("urn:uuid:{i}")}))
        .collect();
    let bundle = json!({"resourceType": "Bundle", "entry": many});
    let expr = Expr::parse("entry.fullUrl.isDistinct()").expect("parses");
    assert!(expr.holds(&bundle, &bundle).expect("evaluates"));
    let mut twice = bundle.clone();
    twice["entry"]
        .as_array_mut()
        .expect("entries")
        .push(json!({"fullUrl": "urn:uuid:77"}));
    assert!(!expr.holds(&twice, &twice).expect("evaluates"));
}
