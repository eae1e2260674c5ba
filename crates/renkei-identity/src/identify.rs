//! Identification of a patient by what the platform already holds about
//! them: the embedded way a patient proves who they are to the portal.

use renkei_core::{IdentifyingAttributes, PersonKey};
use sqlx::Row;

use crate::Result;
use crate::index::{PersonIndex, known_holders, name_birth_sex, parse_key};
use crate::normalize;
use crate::token::TokenKind;

/// Records decrypted by every identification at least: a number nobody
/// holds decrypts this many dummy records, a person with fewer records
/// makes up the difference, so that the answer does not tell (by its
/// time) whether the number is on record. A person with more records
/// than this costs a few microseconds more per record, far below the
/// noise of a network round trip.
const RECORDS_AT_LEAST: usize = 4;

/// What one identification did: the statements it ran and the records
/// it decrypted. The same whether the insurance number is on record or
/// not, and whether the name matched (up to [`RECORDS_AT_LEAST`]
/// records), which is what keeps the portal from answering "is this card
/// on record?" by its timing. Exposed so that tests hold that property
/// by counting, not by a clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IdentifyWork {
    /// Database statements run.
    pub statements: u32,
    /// Attribute records decrypted and parsed (dummies included).
    pub decryptions: u32,
}

impl PersonIndex {
    /// The current person whose insurance number with 枝番 is the one
    /// presented and one of whose records carries the presented kana name,
    /// birth date and sex. Two facts a patient knows and a stranger
    /// usually does not; neither alone identifies, since an insurance card
    /// can be borrowed and namesakes share a birthday.
    ///
    /// Only records the platform trusts count: a record whose link awaits
    /// review (sent under the person's number with another name, or linked
    /// by name alone while carrying a new number) proves nothing, or
    /// whoever sent it could choose the name they then present. The
    /// number, too, must be on a trusted record of the person, not only
    /// in the token table.
    ///
    /// Creates nothing and records no attribute read: no attribute leaves
    /// identity, only the person's key, and `None` does not tell which
    /// fact failed — nor, by its time, whether the number is on record
    /// ([`IdentifyWork`]).
    pub async fn identify(&self, presented: &IdentifyingAttributes) -> Result<Option<PersonKey>> {
        self.identify_counted(presented)
            .await
            .map(|(person, _)| person)
    }

    /// [`PersonIndex::identify`], and the work it did.
    pub async fn identify_counted(
        &self,
        presented: &IdentifyingAttributes,
    ) -> Result<(Option<PersonKey>, IdentifyWork)> {
        let mut work = IdentifyWork::default();
        // Both depend only on what was typed, which the sender knows.
        let Some(insurance) = normalize::insurance_key(
            presented.insurer_number.as_deref(),
            presented.insured_symbol.as_deref(),
            presented.insured_number.as_deref(),
            presented.insured_branch.as_deref(),
        ) else {
            return Ok((None, work));
        };
        let Some(claimed) = name_birth_sex(presented) else {
            return Ok((None, work));
        };
        let token = self.token_key().token(TokenKind::Insurance, &insurance);
        // Sealed on every call, used only if there are too few records.
        let padding = self
            .vault()
            .seal(PADDING_PLAINTEXT.as_bytes(), PADDING_CONTEXT);
        let mut conn = self.db().pool().acquire().await?;
        let holders = known_holders(&mut conn, &[token]).await?;
        work.statements += 1;
        let holder = holders
            .get(&(TokenKind::Insurance.as_str(), token))
            .copied();
        // A number nobody holds goes on with a key nobody holds: the same
        // statements, each finding nothing.
        let probe = holder.unwrap_or_else(PersonKey::generate);
        let merged_into = sqlx::query("SELECT merged_into FROM persons WHERE person_key = $1")
            .bind(probe.to_string())
            .fetch_optional(&mut *conn)
            .await?;
        work.statements += 1;
        let person = match merged_into {
            Some(row) => match row.try_get::<Option<String>, _>("merged_into")? {
                // Merges flatten chains, so one step is the survivor.
                Some(survivor) => parse_key(&survivor)?,
                None => probe,
            },
            None if holder.is_some() => {
                return Err(crate::Error::UnknownPerson(probe.to_string()));
            }
            None => probe,
        };
        let records = self.records_of(&mut conn, &person).await?;
        work.statements += 1;
        work.decryptions += u32::try_from(records.len()).unwrap_or(u32::MAX);
        // Every record is compared (no early exit at the first match), and
        // only trusted ones count: a record awaiting review (its number
        // matched while its name, birth date or sex did not) identifies
        // nobody.
        let (mut named, mut numbered) = (false, false);
        for r in &records {
            let trusted = !r.in_review;
            let name = name_birth_sex(&r.attributes).as_deref() == Some(claimed.as_str());
            let number = normalize::insurance_key(
                r.attributes.insurer_number.as_deref(),
                r.attributes.insured_symbol.as_deref(),
                r.attributes.insured_number.as_deref(),
                r.attributes.insured_branch.as_deref(),
            )
            .as_deref()
                == Some(insurance.as_str());
            named |= trusted & name;
            numbered |= trusted & number;
        }
        for _ in records.len()..RECORDS_AT_LEAST {
            let opened = self
                .vault()
                .open(&padding, PADDING_CONTEXT)
                .and_then(|bytes| serde_json::from_slice::<IdentifyingAttributes>(&bytes).ok());
            let dummy = opened.as_ref().and_then(name_birth_sex);
            // Compared like a record, and kept from being optimized away.
            std::hint::black_box(dummy.as_deref() == Some(claimed.as_str()));
            work.decryptions += 1;
        }
        Ok((
            (holder.is_some() && named && numbered).then_some(person),
            work,
        ))
    }
}

/// The dummy record decrypted to make up the work (no real person's).
const PADDING_PLAINTEXT: &str =
    r#"{"kana_name":"ダミー","birth_date":"1900-01-01","sex":"female"}"#;
const PADDING_CONTEXT: &[u8] = b"identify-padding";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_padding_record_parses_like_a_real_one() {
        let attributes: IdentifyingAttributes =
            serde_json::from_str(PADDING_PLAINTEXT).expect("padding parses");
        assert!(
            name_birth_sex(&attributes).is_some(),
            "and is compared in full"
        );
    }
}
