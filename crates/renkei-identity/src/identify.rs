//! Identification of a patient by what the platform already holds about
//! them: the embedded way a patient proves who they are to the portal.

use renkei_core::{IdentifyingAttributes, PersonKey};

use crate::Result;
use crate::curation::current_in;
use crate::index::{PersonIndex, known_holders, name_birth_sex};
use crate::normalize;
use crate::token::TokenKind;

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
    /// fact failed.
    pub async fn identify(&self, presented: &IdentifyingAttributes) -> Result<Option<PersonKey>> {
        let Some(insurance) = normalize::insurance_key(
            presented.insurer_number.as_deref(),
            presented.insured_symbol.as_deref(),
            presented.insured_number.as_deref(),
            presented.insured_branch.as_deref(),
        ) else {
            return Ok(None);
        };
        let Some(claimed) = name_birth_sex(presented) else {
            return Ok(None);
        };
        let token = self.token_key().token(TokenKind::Insurance, &insurance);
        let mut conn = self.db().pool().acquire().await?;
        let holders = known_holders(&mut conn, &[token]).await?;
        let Some(holder) = holders.get(&(TokenKind::Insurance.as_str(), token)) else {
            return Ok(None);
        };
        let person = current_in(&mut conn, holder).await?;
        let records = self.records_of(&mut conn, &person).await?;
        let trusted = || {
            records
                .iter()
                .filter(|r| !r.in_review)
                .map(|r| &r.attributes)
        };
        let named = trusted().any(|a| name_birth_sex(a).as_deref() == Some(claimed.as_str()));
        let numbered = trusted().any(|a| {
            normalize::insurance_key(
                a.insurer_number.as_deref(),
                a.insured_symbol.as_deref(),
                a.insured_number.as_deref(),
                a.insured_branch.as_deref(),
            )
            .as_deref()
                == Some(insurance.as_str())
        });
        Ok((named && numbered).then_some(person))
    }
}
