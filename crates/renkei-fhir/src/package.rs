//! Published FHIR packages (npm-style `.tgz`, `package/*.json`) as data:
//! their StructureDefinitions, ValueSets and CodeSystems by canonical URL.
//!
//! The packages the platform validates against are bundled
//! ([`Packages::bundled`]: JP Core 1.1.2 and JP-CLINS, see
//! `packages/README.md` for their source and digests), so a new profile
//! version is a new file, not code. Loading checks what it can: a package
//! names itself, and a profile meant to be validated against carries its
//! snapshot.

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::Value;

/// What went wrong reading a package.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// The archive cannot be read (not gzip, not tar).
    #[error("package {name}: {reason}")]
    Archive {
        /// The package file.
        name: String,
        /// Why.
        reason: String,
    },
    /// A member is not what FHIR packages hold.
    #[error("package {name}, {member}: {reason}")]
    Member {
        /// The package file.
        name: String,
        /// The member's path in the archive.
        member: String,
        /// Why.
        reason: String,
    },
}

/// One package: its name and version, and its conformance resources.
#[derive(Clone, Debug, Default)]
pub struct Package {
    /// `package.json` `name`.
    pub name: String,
    /// `package.json` `version`.
    pub version: String,
    /// StructureDefinitions by `url`.
    pub structure_definitions: BTreeMap<String, Value>,
    /// ValueSets by `url`.
    pub value_sets: BTreeMap<String, Value>,
    /// CodeSystems by `url`.
    pub code_systems: BTreeMap<String, Value>,
}

impl Package {
    /// Reads a package from its `.tgz` bytes; `file` names it in errors.
    pub fn read(file: &str, tgz: &[u8]) -> Result<Self, PackageError> {
        let archive_error = |reason: String| PackageError::Archive {
            name: file.to_owned(),
            reason,
        };
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tgz));
        let mut package = Package::default();
        let mut named = false;
        for entry in archive
            .entries()
            .map_err(|e| archive_error(e.to_string()))?
        {
            let mut entry = entry.map_err(|e| archive_error(e.to_string()))?;
            let member = entry
                .path()
                .map_err(|e| archive_error(e.to_string()))?
                .to_string_lossy()
                .into_owned();
            // Resources sit at the top of `package/`; `package/other/`,
            // `package/example/` and the like are not the package's
            // definitions.
            let Some(name) = member.strip_prefix("package/") else {
                continue;
            };
            if name.contains('/') || !name.ends_with(".json") {
                continue;
            }
            let member_error = |reason: String| PackageError::Member {
                name: file.to_owned(),
                member: member.clone(),
                reason,
            };
            let mut bytes = Vec::new();
            entry
                .read_to_end(&mut bytes)
                .map_err(|e| member_error(e.to_string()))?;
            let value: Value = serde_json::from_slice(&bytes)
                .map_err(|e| member_error(format!("not JSON: {e}")))?;
            if name == "package.json" {
                package.name = value["name"].as_str().unwrap_or_default().to_owned();
                package.version = value["version"].as_str().unwrap_or_default().to_owned();
                named = !package.name.is_empty();
                continue;
            }
            let Some(url) = value["url"].as_str().map(str::to_owned) else {
                continue;
            };
            let into = match value["resourceType"].as_str() {
                Some("StructureDefinition") => &mut package.structure_definitions,
                Some("ValueSet") => &mut package.value_sets,
                Some("CodeSystem") => &mut package.code_systems,
                _ => continue,
            };
            into.insert(url, value);
        }
        if !named {
            return Err(archive_error(
                "no package/package.json naming it".to_owned(),
            ));
        }
        Ok(package)
    }
}

/// The packages validation draws on, searched in order.
#[derive(Clone, Debug, Default)]
pub struct Packages {
    packages: Vec<Package>,
}

impl Packages {
    /// JP-CLINS and JP Core, as bundled with the platform.
    pub fn bundled() -> Result<Self, PackageError> {
        Ok(Self {
            packages: vec![
                Package::read(
                    "jp-clins.r4-1.5.2-snap.tgz",
                    include_bytes!("../packages/jp-clins.r4-1.5.2-snap.tgz"),
                )?,
                Package::read(
                    "jp-core.r4-1.1.2.tgz",
                    include_bytes!("../packages/jp-core.r4-1.1.2.tgz"),
                )?,
            ],
        })
    }

    /// The packages, in search order.
    pub fn packages(&self) -> &[Package] {
        &self.packages
    }

    /// The StructureDefinition of a canonical URL (`|version` ignored).
    pub fn structure_definition(&self, canonical: &str) -> Option<&Value> {
        let url = canonical.split('|').next().unwrap_or(canonical);
        self.packages
            .iter()
            .find_map(|p| p.structure_definitions.get(url))
    }
}
