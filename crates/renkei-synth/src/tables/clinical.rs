//! Small clinical code tables: diseases, lab tests, drugs, procedures,
//! allergens, imaging.
//!
//! Sources, and how sure we are of each code:
//! - ICD-10: ICD-10 (2013) MHLW edition (厚生労働省 疾病、傷害及び死因の統計
//!   分類); the codes are standard and certain.
//! - MEDIS 標準病名マスター 病名管理番号: 狭心症 20058911 is taken from the
//!   JP-CLINS examples in `shared/testdata/jpcore/jp-clins`; the others are
//!   8-digit numbers as seen in public crosswalks and are **not** verified
//!   against the current master. A validator must treat them as such.
//! - JLAC10 17-digit: 尿酸 and 推算GFR and K from the JP Core / JP-CLINS
//!   examples; the others after the 特定健診 JLAC10 list (標準的な健診・保健
//!   指導プログラム 令和6年度版); material and result codes as listed there.
//! - YJ codes (12 characters): プレドニン錠５ｍｇ 2456001F1310 and ミヤＢＭ錠
//!   2316009F1022 from the JP-CLINS examples; the rest recalled from the
//!   薬価基準収載品目リスト — the 薬効分類 prefix (first 4 digits) is right,
//!   the remaining digits should be checked before relying on them.
//! - 診療行為コード (9 digits, 基本マスター): 140000610 from the JP Core
//!   Procedure example; the others from the 医科診療行為マスター as recalled.
//!
//! Prevalences are rough age- and sex-specific figures from the 患者調査
//! (2020) and 国民健康・栄養調査 (2019): e.g. diabetes strongly suspected in
//! 19.7% of men and 10.8% of women aged 20+, hypertension in about half of
//! those over 60.

/// Sex, as the tables need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    /// Male.
    Male,
    /// Female.
    Female,
}

/// Where a disease is usually treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// Any clinic or hospital (chronic diseases managed in primary care).
    Any,
    /// Hospitals only (cancers, dialysis-stage CKD).
    Hospital,
}

/// A disease with its codes and how common it is.
#[derive(Debug)]
pub struct Disease {
    /// ICD-10 MHLW edition code.
    pub icd10: &'static str,
    /// MEDIS 病名管理番号.
    pub medis: &'static str,
    /// 標準病名.
    pub name: &'static str,
    /// Where it is treated.
    pub setting: Setting,
    /// Prevalence (probability) for a person of this age and sex.
    pub prevalence: fn(u32, Sex) -> f64,
    /// Index into [`DRUGS`] of the usual first-line drug, if any.
    pub drug: Option<usize>,
    /// Index into [`PROCEDURES`] of a typical procedure, if any.
    pub procedure: Option<usize>,
}

fn ramp(age: u32, from: u32, to: u32, lo: f64, hi: f64) -> f64 {
    if age <= from {
        lo
    } else if age >= to {
        hi
    } else {
        lo + (hi - lo) * f64::from(age - from) / f64::from(to - from)
    }
}

/// Index of type 2 diabetes in [`DISEASES`]; labs depend on it.
pub const DIABETES: usize = 0;
/// Index of essential hypertension in [`DISEASES`].
pub const HYPERTENSION: usize = 1;
/// Index of dyslipidaemia in [`DISEASES`].
pub const DYSLIPIDAEMIA: usize = 2;
/// Index of CKD in [`DISEASES`].
pub const CKD: usize = 3;

/// The diseases. Order matters for the index constants above.
pub const DISEASES: &[Disease] = &[
    Disease {
        icd10: "E11.9",
        medis: "20087910",
        name: "2型糖尿病",
        setting: Setting::Any,
        prevalence: |a, s| ramp(a, 30, 75, 0.005, if s == Sex::Male { 0.25 } else { 0.13 }),
        drug: Some(0),
        procedure: None,
    },
    Disease {
        icd10: "I10",
        medis: "20059870",
        name: "本態性高血圧症",
        setting: Setting::Any,
        prevalence: |a, s| ramp(a, 30, 80, 0.01, if s == Sex::Male { 0.60 } else { 0.52 }),
        drug: Some(1),
        procedure: None,
    },
    Disease {
        icd10: "E78.5",
        medis: "20059050",
        name: "脂質異常症",
        setting: Setting::Any,
        prevalence: |a, s| ramp(a, 30, 70, 0.02, if s == Sex::Male { 0.30 } else { 0.35 }),
        drug: Some(2),
        procedure: None,
    },
    Disease {
        icd10: "N18.3",
        medis: "20089600",
        name: "慢性腎臓病ステージG3",
        setting: Setting::Any,
        prevalence: |a, _| ramp(a, 40, 85, 0.005, 0.20),
        drug: Some(3),
        procedure: None,
    },
    Disease {
        icd10: "J45.9",
        medis: "20055630",
        name: "気管支喘息",
        setting: Setting::Any,
        prevalence: |a, _| if a < 15 { 0.07 } else { 0.04 },
        drug: Some(4),
        procedure: None,
    },
    Disease {
        icd10: "I20.9",
        medis: "20058911",
        name: "狭心症",
        setting: Setting::Any,
        prevalence: |a, s| ramp(a, 45, 85, 0.0, if s == Sex::Male { 0.08 } else { 0.04 }),
        drug: Some(5),
        procedure: None,
    },
    Disease {
        icd10: "K21.9",
        medis: "20061980",
        name: "逆流性食道炎",
        setting: Setting::Any,
        prevalence: |a, _| ramp(a, 20, 70, 0.02, 0.08),
        drug: Some(6),
        procedure: Some(1),
    },
    Disease {
        icd10: "M81.9",
        medis: "20062690",
        name: "骨粗鬆症",
        setting: Setting::Any,
        prevalence: |a, s| {
            if s == Sex::Female {
                ramp(a, 50, 85, 0.0, 0.35)
            } else {
                ramp(a, 60, 90, 0.0, 0.08)
            }
        },
        drug: Some(7),
        procedure: None,
    },
    Disease {
        icd10: "C16.9",
        medis: "20067430",
        name: "胃癌",
        setting: Setting::Hospital,
        prevalence: |a, s| ramp(a, 40, 85, 0.0, if s == Sex::Male { 0.025 } else { 0.010 }),
        drug: None,
        procedure: Some(1),
    },
    Disease {
        icd10: "C18.9",
        medis: "20067770",
        name: "結腸癌",
        setting: Setting::Hospital,
        prevalence: |a, s| ramp(a, 40, 85, 0.0, if s == Sex::Male { 0.022 } else { 0.016 }),
        drug: None,
        procedure: Some(2),
    },
    Disease {
        icd10: "C34.9",
        medis: "20074590",
        name: "肺癌",
        setting: Setting::Hospital,
        prevalence: |a, s| ramp(a, 45, 85, 0.0, if s == Sex::Male { 0.018 } else { 0.008 }),
        drug: None,
        procedure: Some(3),
    },
    Disease {
        icd10: "C50.9",
        medis: "20072270",
        name: "乳癌",
        setting: Setting::Hospital,
        prevalence: |a, s| {
            if s == Sex::Female {
                ramp(a, 30, 60, 0.0, 0.025)
            } else {
                0.0
            }
        },
        drug: Some(8),
        procedure: Some(3),
    },
    Disease {
        icd10: "J30.4",
        medis: "20054310",
        name: "アレルギー性鼻炎",
        setting: Setting::Any,
        prevalence: |a, _| if a < 60 { 0.10 } else { 0.04 },
        drug: Some(9),
        procedure: None,
    },
];

/// A lab test: JLAC10 17-digit code, name, unit, reference range.
#[derive(Debug)]
pub struct LabTest {
    /// JLAC10 17-digit code.
    pub jlac10: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Unit (UCUM where one exists, as JP Core examples write it).
    pub unit: &'static str,
    /// Lower reference limit.
    pub low: f64,
    /// Upper reference limit.
    pub high: f64,
    /// Decimals to round the value to.
    pub decimals: u8,
}

macro_rules! lab {
    ($code:expr, $name:expr, $unit:expr, $low:expr, $high:expr, $dec:expr) => {
        LabTest {
            jlac10: $code,
            name: $name,
            unit: $unit,
            low: $low,
            high: $high,
            decimals: $dec,
        }
    };
}

/// Index of HbA1c in [`LABS`].
pub const HBA1C: usize = 0;
/// Index of fasting glucose in [`LABS`].
pub const GLUCOSE: usize = 1;
/// Index of LDL cholesterol in [`LABS`].
pub const LDL: usize = 2;
/// Index of HDL cholesterol in [`LABS`].
pub const HDL: usize = 3;
/// Index of triglycerides in [`LABS`].
pub const TG: usize = 4;
/// Index of creatinine in [`LABS`].
pub const CREATININE: usize = 5;
/// Index of eGFR in [`LABS`].
pub const EGFR: usize = 6;
/// Index of AST in [`LABS`].
pub const AST: usize = 7;
/// Index of ALT in [`LABS`].
pub const ALT: usize = 8;
/// Index of uric acid in [`LABS`].
pub const URIC_ACID: usize = 9;

/// The lab tests. Order matters for the index constants above.
pub const LABS: &[LabTest] = &[
    lab!("3D046000001906202", "HbA1c(NGSP)", "%", 4.6, 6.2, 1),
    lab!("3D010000001926101", "空腹時血糖", "mg/dL", 73.0, 109.0, 0),
    lab!(
        "3F077000002327101",
        "LDLコレステロール",
        "mg/dL",
        65.0,
        139.0,
        0
    ),
    lab!(
        "3F070000002327101",
        "HDLコレステロール",
        "mg/dL",
        40.0,
        90.0,
        0
    ),
    lab!("3F015000002327101", "中性脂肪", "mg/dL", 40.0, 149.0, 0),
    lab!("3C015000002327101", "クレアチニン", "mg/dL", 0.46, 1.07, 2),
    lab!(
        "8A065000002391901",
        "推算GFR",
        "mL/min/1.73m2",
        60.0,
        120.0,
        1
    ),
    lab!("3B035000002327201", "AST", "U/L", 13.0, 30.0, 0),
    lab!("3B045000002327201", "ALT", "U/L", 7.0, 30.0, 0),
    lab!("3C020000002327101", "尿酸", "mg/dL", 3.7, 7.8, 1),
];

/// A drug: YJ code, product name, daily dose text, units per day, unit.
#[derive(Debug)]
pub struct Drug {
    /// YJ code (12 characters).
    pub yj: &'static str,
    /// Product name as on the 薬価基準.
    pub name: &'static str,
    /// Usage text (用法).
    pub usage: &'static str,
    /// Tablets (or units) per day.
    pub per_day: u32,
    /// Unit (錠, カプセル, 本, …).
    pub unit: &'static str,
}

macro_rules! drug {
    ($yj:expr, $name:expr, $usage:expr, $per_day:expr, $unit:expr) => {
        Drug {
            yj: $yj,
            name: $name,
            usage: $usage,
            per_day: $per_day,
            unit: $unit,
        }
    };
}

/// The drugs; [`Disease::drug`] indexes this.
pub const DRUGS: &[Drug] = &[
    drug!(
        "3962002F1024",
        "メトグルコ錠２５０ｍｇ",
        "内服・経口・１日２回朝夕食後",
        2,
        "錠"
    ),
    drug!(
        "2171022F1020",
        "アムロジピン錠５ｍｇ",
        "内服・経口・１日１回朝食後",
        1,
        "錠"
    ),
    drug!(
        "2189017F1022",
        "クレストール錠２．５ｍｇ",
        "内服・経口・１日１回夕食後",
        1,
        "錠"
    ),
    drug!(
        "2149039F1025",
        "ロサルタンカリウム錠２５ｍｇ",
        "内服・経口・１日１回朝食後",
        1,
        "錠"
    ),
    drug!(
        "2290701G1020",
        "シムビコートタービュヘイラー６０吸入",
        "吸入・１日２回朝夕",
        2,
        // Counted in 回 (MERIT-9 TIME), a unit the published JP Core
        // examples code; the device itself would be dispensed as 本.
        "回"
    ),
    drug!(
        "2171017F1020",
        "ニトロペン舌下錠０．３ｍｇ",
        "舌下・発作時",
        1,
        "錠"
    ),
    drug!(
        "2329028F1020",
        "タケキャブ錠１０ｍｇ",
        "内服・経口・１日１回朝食後",
        1,
        "錠"
    ),
    drug!(
        "3999018F1020",
        "アレンドロン酸錠３５ｍｇ",
        "内服・経口・週１回起床時",
        1,
        "錠"
    ),
    drug!(
        "4291010F1024",
        "タモキシフェン錠２０ｍｇ",
        "内服・経口・１日１回朝食後",
        1,
        "錠"
    ),
    drug!(
        "4490025F1022",
        "アレグラ錠６０ｍｇ",
        "内服・経口・１日２回朝夕食後",
        2,
        "錠"
    ),
    drug!(
        "2456001F1310",
        "プレドニン錠５ｍｇ",
        "内服・経口・１日１回朝食後",
        1,
        "錠"
    ),
    drug!(
        "1149019F1560",
        "ロキソニン錠６０ｍｇ",
        "内服・経口・疼痛時",
        3,
        "錠"
    ),
];

/// Index in [`DRUGS`] of the analgesic prescribed for acute complaints.
pub const ANALGESIC: usize = 11;

/// A procedure: 診療行為コード and name.
pub type Procedure = (&'static str, &'static str);

/// The procedures; [`Disease::procedure`] indexes this.
pub const PROCEDURES: &[Procedure] = &[
    ("140000610", "創傷処置（１００ｃｍ２未満）"),
    ("160093810", "ＥＦ－胃・十二指腸"),
    ("160094110", "ＥＦ－大腸（上行結腸及び盲腸）"),
    ("150254010", "悪性腫瘍手術（胸腔鏡下）"),
];

/// An allergen: JFAGY code (food, JP_JfagyFoodAllergen_CS) or none, text,
/// category.
pub type Allergen = (Option<&'static str>, &'static str, &'static str);

/// Allergens: 小麦粉 J9FA15000016 from the JP Core example; the others are
/// recorded as text, as many EHRs do.
pub const ALLERGENS: &[Allergen] = &[
    (Some("J9FA15000016"), "小麦粉", "food"),
    (None, "鶏卵", "food"),
    (None, "えび", "food"),
    (None, "そば", "food"),
    (None, "ペニシリン系抗菌薬", "medication"),
    (None, "ヨード造影剤", "medication"),
    (None, "スギ花粉", "environment"),
];

/// An imaging study kind: DICOM modality, description.
pub type Imaging = (&'static str, &'static str);

/// Imaging studies hospitals perform.
pub const IMAGING: &[Imaging] = &[
    ("CT", "CT胸部"),
    ("CT", "CT腹部骨盤"),
    ("MR", "MRI頭部"),
    ("CR", "胸部単純X線"),
    ("US", "腹部超音波"),
];
