//! Checking batches against a table's schema.

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use super::{TableName, invalid};
use crate::Result;

/// The first way `got` differs from the table's `want`, if any. Field
/// metadata is not compared; a non-nullable field may fill a nullable one.
pub(super) fn schema_difference(want: &Schema, got: &Schema) -> Option<String> {
    for (i, w) in want.fields().iter().enumerate() {
        let Some(g) = got.fields().get(i) else {
            return Some(format!(
                "field {:?} ({}) is missing",
                w.name(),
                w.data_type()
            ));
        };
        if g.name() != w.name() {
            return Some(match got.index_of(w.name()) {
                Ok(j) => format!(
                    "field {:?} is at position {j}, but the table has it at {i}",
                    w.name()
                ),
                Err(_) => format!(
                    "field {:?} ({}) is missing; found {:?} in its place",
                    w.name(),
                    w.data_type(),
                    g.name()
                ),
            });
        }
        if g.data_type() != w.data_type() {
            return Some(format!(
                "field {:?} has type {} but the table's has type {}",
                w.name(),
                g.data_type(),
                w.data_type()
            ));
        }
        if g.is_nullable() && !w.is_nullable() {
            return Some(format!(
                "field {:?} is nullable but the table's is not",
                w.name()
            ));
        }
    }
    got.fields().get(want.fields().len()).map(|g| {
        format!(
            "field {:?} ({}) is not in the table",
            g.name(),
            g.data_type()
        )
    })
}

/// `batches` with `schema` (`what`: "the table's schema", …), or the
/// first that does not fit.
pub(super) fn conform_batches(
    table: &TableName,
    schema: &SchemaRef,
    what: &str,
    batches: Vec<RecordBatch>,
) -> Result<Vec<RecordBatch>> {
    batches
        .into_iter()
        .enumerate()
        .map(|(i, batch)| {
            // A batch of the schema before nullable fields were appended
            // fits: it gets nulls there.
            let older = appends_nullable(&batch.schema(), schema);
            if let Some(difference) = schema_difference(schema, &batch.schema()).filter(|_| !older)
            {
                return Err(invalid(
                    table,
                    &format!("batch {i} does not have {what}: {difference}"),
                ));
            }
            with_schema(schema, &batch)
                .map_err(|e| invalid(table, &format!("batch {i} does not fit {what}: {e}")))
        })
        .collect()
}

/// Whether `wider` is `narrower` with nullable fields appended: the one
/// way a table's schema may change. Rows written before have no value for
/// the new fields and read as null there; nothing is rewritten.
pub(super) fn appends_nullable(narrower: &Schema, wider: &Schema) -> bool {
    let n = narrower.fields().len();
    wider.fields().len() > n
        && schema_difference(narrower, &Schema::new(wider.fields()[..n].to_vec())).is_none()
        && wider.fields()[n..].iter().all(|f| f.is_nullable())
}

/// `batch`'s columns under `schema` (checked by Arrow: types, nulls). A
/// batch written before nullable fields were appended to the table gets
/// null columns for them.
pub(super) fn with_schema(
    schema: &SchemaRef,
    batch: &RecordBatch,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let mut columns = batch.columns().to_vec();
    for field in schema.fields().iter().skip(columns.len()) {
        if !field.is_nullable() {
            break;
        }
        columns.push(arrow::array::new_null_array(
            field.data_type(),
            batch.num_rows(),
        ));
    }
    RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn schema(fields: &[(&str, DataType, bool)]) -> Schema {
        Schema::new(
            fields
                .iter()
                .map(|(n, t, null)| Field::new(*n, t.clone(), *null))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn schema_difference_names_the_first_differing_field() {
        let table = schema(&[
            ("person_key", DataType::Utf8, false),
            ("amount", DataType::Int64, true),
        ]);
        let cases = [
            (
                schema(&[("person_key", DataType::Utf8, false)]),
                "field \"amount\" (Int64) is missing",
            ),
            (
                schema(&[
                    ("person_key", DataType::Utf8, false),
                    ("amount", DataType::Int32, true),
                ]),
                "field \"amount\" has type Int32 but the table's has type Int64",
            ),
            (
                schema(&[
                    ("amount", DataType::Int64, true),
                    ("person_key", DataType::Utf8, false),
                ]),
                "field \"person_key\" is at position 1, but the table has it at 0",
            ),
            (
                schema(&[
                    ("person_key", DataType::Utf8, false),
                    ("cost", DataType::Int64, true),
                ]),
                "field \"amount\" (Int64) is missing; found \"cost\" in its place",
            ),
            (
                schema(&[
                    ("person_key", DataType::Utf8, true),
                    ("amount", DataType::Int64, true),
                ]),
                "field \"person_key\" is nullable but the table's is not",
            ),
            (
                schema(&[
                    ("person_key", DataType::Utf8, false),
                    ("amount", DataType::Int64, true),
                    ("extra", DataType::Boolean, true),
                ]),
                "field \"extra\" (Boolean) is not in the table",
            ),
        ];
        for (got, expected) in cases {
            assert_eq!(
                schema_difference(&table, &got).as_deref(),
                Some(expected),
                "{got:?}"
            );
        }
        let narrower = schema(&[
            ("person_key", DataType::Utf8, false),
            ("amount", DataType::Int64, false),
        ]);
        assert_eq!(schema_difference(&table, &narrower), None);
        assert_eq!(schema_difference(&table, &table), None);
    }
}
