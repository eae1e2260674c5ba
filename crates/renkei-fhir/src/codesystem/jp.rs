//! The Japanese code systems used by JP Core 1.1.x
//! (https://jpfhir.jp/fhir/core/1.1.2/terminology.html) with the URIs it
//! uses for them, and small subsets of codes (those in the JP Core examples
//! and the common diseases, tests and drugs the synthetic population uses).

use super::{CodePattern, CodeSystem};

/// Every known system.
pub static SYSTEMS: &[CodeSystem] = &[
    CodeSystem {
        key: "icd10-mhlw",
        name: "ICD-10 (2013) MHLW edition",
        name_ja: "ICD-10 対応標準病名マスター用 ICD-10(2013年版)",
        uris: &[
            "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/ICD10-2013-full",
            "http://jpfhir.jp/fhir/core/CodeSystem/JP_ICD10_CS",
        ],
        pattern: CodePattern::Icd10,
        codes: &[
            ("C169", "胃の悪性新生物，胃，部位不明"),
            ("C189", "結腸の悪性新生物，結腸，部位不明"),
            ("C349", "気管支又は肺の悪性新生物，部位不明"),
            ("C509", "乳房の悪性新生物，乳房，部位不明"),
            ("E119", "2型糖尿病，合併症を伴わないもの"),
            ("E785", "高脂血症，詳細不明"),
            ("I10", "本態性（原発性<一次性>）高血圧（症）"),
            ("I209", "狭心症，詳細不明"),
            ("I219", "急性心筋梗塞，詳細不明"),
            ("J069", "急性上気道感染症，詳細不明"),
        ],
    },
    CodeSystem {
        key: "byomei",
        name: "MEDIS standard disease name master (key number)",
        name_ja: "MEDIS 標準病名マスター 病名管理番号",
        uris: &["http://medis.or.jp/CodeSystem/master-disease-keyNumber"],
        pattern: CodePattern::Digits(8),
        codes: &[
            ("20054178", "胃癌"),
            ("20058911", "高血圧症"),
            ("20065011", "脂質異常症"),
            ("20075383", "２型糖尿病"),
            ("20080427", "狭心症"),
        ],
    },
    CodeSystem {
        key: "byomei-modifier",
        name: "MEDIS standard disease name master (modifier key number)",
        name_ja: "MEDIS 標準病名マスター 修飾語管理番号",
        uris: &["http://medis.or.jp/CodeSystem/master-disease-modKeyNumber"],
        pattern: CodePattern::Digits(8),
        codes: &[("27000358", "急性")],
    },
    CodeSystem {
        key: "byomei-exchange",
        name: "MEDIS standard disease name master (exchange code)",
        name_ja: "MEDIS 標準病名マスター 病名交換用コード",
        uris: &[
            "urn:oid:1.2.392.200119.4.101.6",
            "http://medis.or.jp/CodeSystem/master-disease-exchangeCode",
        ],
        pattern: CodePattern::Alnum(4),
        codes: &[("VQH3", "インフルエンザ")],
    },
    CodeSystem {
        key: "jlac10",
        name: "JLAC10 laboratory test code (17 characters)",
        name_ja: "臨床検査項目分類コード JLAC10",
        uris: &[
            "urn:oid:1.2.392.200119.4.504",
            "http://medis.or.jp/CodeSystem/master-JLAC10-17digits",
        ],
        pattern: CodePattern::Alnum(17),
        codes: &[
            ("1A990000000190153", "尿定性"),
            ("2A990000001930953", "赤血球数"),
            ("2A990000001930954", "赤血球数"),
            ("2A990000001992051", "赤血球数"),
            ("3A015000001827101", "アルブミン"),
            ("3B035000002327201", "AST"),
            ("3B045000002327201", "ALT"),
            ("3C015000002327101", "クレアチニン"),
            ("3C020000002327101", "尿酸"),
            ("3D010000001926101", "グルコース"),
            ("3D046000001906202", "HbA1c"),
            ("3F015000002327101", "総コレステロール"),
            ("3F070000002327101", "HDLコレステロール"),
            ("3F077000002327101", "LDLコレステロール"),
            ("3H015000002326101", "ナトリウム"),
            ("8A065000002391901", "身長"),
        ],
    },
    CodeSystem {
        key: "jlac11",
        name: "JLAC11 laboratory test code",
        name_ja: "臨床検査項目分類コード JLAC11",
        uris: &[
            "urn:oid:1.2.392.200119.4.804",
            "http://jpfhir.jp/fhir/core/CodeSystem/JLAC11",
        ],
        pattern: CodePattern::Any,
        codes: &[("31001369", "example code in JP Core")],
    },
    CodeSystem {
        key: "yj",
        name: "YJ code (individual drug code)",
        name_ja: "個別医薬品コード（YJコード）",
        uris: &[
            "http://capstandard.jp/iyaku.info/CodeSystem/YJ-code",
            "urn:oid:1.2.392.100495.20.1.73",
        ],
        pattern: CodePattern::Alnum(12),
        codes: &[
            ("2149039F1020", "アムロジピン錠"),
            ("2189016F1024", "アトルバスタチン錠"),
            ("2316009F1022", "ビオフェルミン錠剤"),
            ("2396007T1021", "ファモチジン錠"),
            ("2456001F1310", "プレドニゾロン錠"),
            ("3962002F1020", "メトホルミン塩酸塩錠"),
        ],
    },
    CodeSystem {
        key: "hot9",
        name: "HOT code (9 digits)",
        name_ja: "医薬品 HOT コード（9桁）",
        uris: &[
            "urn:oid:1.2.392.200119.4.403.1",
            "http://medis.or.jp/CodeSystem/master-HOT9",
        ],
        pattern: CodePattern::Digits(9),
        codes: &[
            ("100558502", "ラシックス注20mg"),
            ("103835401", "ムコダイン錠250mg"),
            ("104195801", "ビオフェルミン錠剤"),
            ("105271807", "プレドニン錠5mg"),
            ("111501701", "インフルエンザHAワクチン"),
        ],
    },
    CodeSystem {
        key: "medical-procedure",
        name: "MHLW medical procedure master (receipt code)",
        name_ja: "診療行為マスター（レセプト電算処理システム用コード）",
        uris: &["http://jpfhir.jp/fhir/core/mhlw/CodeSystem/masterS-medicalProcedure"],
        pattern: CodePattern::Digits(9),
        codes: &[("140000610", "創傷処理（筋肉、臓器に達するもの）")],
    },
    CodeSystem {
        key: "prefecture",
        name: "Prefecture number",
        name_ja: "都道府県番号",
        uris: &[
            "urn:oid:1.2.392.100495.20.3.21",
            "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/PrefectureNo-2digits",
        ],
        pattern: CodePattern::Digits(2),
        codes: &renkei_core::prefecture::CODES,
    },
    CodeSystem {
        key: "fee-schedule-type",
        name: "Fee schedule type (点数表番号)",
        name_ja: "点数表番号",
        uris: &[
            "urn:oid:1.2.392.100495.20.3.22",
            "http://jpfhir.jp/fhir/core/mhlw/CodeSystem/MedicationFeeScoreType",
        ],
        pattern: CodePattern::Digits(1),
        codes: &[
            ("1", "医科"),
            ("3", "歯科"),
            ("4", "調剤"),
            ("6", "訪問看護"),
        ],
    },
];
