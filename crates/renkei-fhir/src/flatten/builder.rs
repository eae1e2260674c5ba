//! Column builders for one canonical lake table: rows go in cell by cell,
//! an Arrow record batch comes out with exactly the table's schema.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Builder, Float64Builder, Int32Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use renkei_core::LakeTable;

use super::FlattenError;

enum Column {
    Text(StringBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Float(Float64Builder),
    Int(Int32Builder),
}

/// One cell value, typed as the lake stores it.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(i64),
    /// A decimal quantity.
    Float(f64),
    /// A count.
    Int(i32),
}

/// A row under construction: the cells by column name. Columns not set are
/// null; a non-nullable column left unset refuses the row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    cells: Vec<(&'static str, Cell)>,
}

impl Row {
    /// Sets `column` to `cell`.
    pub fn set(&mut self, column: &'static str, cell: Cell) -> &mut Self {
        self.cells.retain(|(c, _)| *c != column);
        self.cells.push((column, cell));
        self
    }

    /// Sets a text column if `value` is present.
    pub fn text(&mut self, column: &'static str, value: Option<impl Into<String>>) -> &mut Self {
        if let Some(v) = value {
            self.set(column, Cell::Text(v.into()));
        }
        self
    }

    /// The cell of `column`, if set.
    pub fn get(&self, column: &str) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, v)| v)
    }
}

/// Accumulates rows of one table.
pub struct TableBuilder {
    table: LakeTable,
    schema: SchemaRef,
    columns: Vec<Column>,
    rows: usize,
    /// Scratch of [`TableBuilder::append`]: the cell of each column.
    slots: Vec<Option<usize>>,
}

impl std::fmt::Debug for TableBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableBuilder")
            .field("table", &self.table)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

impl TableBuilder {
    /// An empty builder for `table`.
    pub fn new(table: LakeTable) -> Self {
        let schema = table.schema();
        let columns = schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Utf8 => Column::Text(StringBuilder::new()),
                DataType::Date32 => Column::Date(Date32Builder::new()),
                DataType::Timestamp(TimeUnit::Microsecond, tz) => Column::Timestamp(
                    TimestampMicrosecondBuilder::new().with_timezone_opt(tz.clone()),
                ),
                DataType::Float64 => Column::Float(Float64Builder::new()),
                DataType::Int32 => Column::Int(Int32Builder::new()),
                other => unreachable!("lake schemas use no {other:?} column"),
            })
            .collect();
        Self {
            table,
            schema,
            columns,
            rows: 0,
            slots: Vec::new(),
        }
    }

    /// Rows appended so far.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row was appended.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends `row`, refusing it whole (nothing appended) if a cell has the
    /// wrong type, names no column, or a required column is missing.
    pub fn append(&mut self, row: &Row) -> Result<(), FlattenError> {
        // Which cell fills each column: found once per cell, trying the
        // column after the previous one first (flattening sets most cells
        // in schema order), instead of a search by name per column.
        self.slots.clear();
        self.slots.resize(self.columns.len(), None);
        let fields = self.schema.fields();
        let mut hint = 0;
        for (at, (name, cell)) in row.cells.iter().enumerate() {
            let i = match fields.get(hint) {
                Some(f) if f.name() == name => hint,
                _ => match self.schema.column_with_name(name) {
                    Some((i, _)) => i,
                    None => {
                        return Err(FlattenError::Internal(format!(
                            "{} has no column {name}",
                            self.table.name()
                        )));
                    }
                },
            };
            hint = i + 1;
            let fits = matches!(
                (&self.columns[i], cell),
                (Column::Text(_), Cell::Text(_))
                    | (Column::Date(_), Cell::Date(_))
                    | (Column::Timestamp(_), Cell::Timestamp(_))
                    | (Column::Float(_), Cell::Float(_))
                    | (Column::Int(_), Cell::Int(_))
            );
            if !fits {
                return Err(FlattenError::Internal(format!(
                    "{}.{} is {:?}, not {cell:?}",
                    self.table.name(),
                    name,
                    fields[i].data_type()
                )));
            }
            self.slots[i] = Some(at);
        }
        for (field, slot) in fields.iter().zip(&self.slots) {
            if !field.is_nullable() && slot.is_none() {
                return Err(FlattenError::Missing {
                    table: self.table.name(),
                    column: field.name().clone(),
                });
            }
        }
        for (column, slot) in self.columns.iter_mut().zip(&self.slots) {
            let cell = slot.map(|at| &row.cells[at].1);
            match (column, cell) {
                (Column::Text(b), Some(Cell::Text(v))) => b.append_value(v),
                (Column::Text(b), _) => b.append_null(),
                (Column::Date(b), Some(Cell::Date(v))) => b.append_value(*v),
                (Column::Date(b), _) => b.append_null(),
                (Column::Timestamp(b), Some(Cell::Timestamp(v))) => b.append_value(*v),
                (Column::Timestamp(b), _) => b.append_null(),
                (Column::Float(b), Some(Cell::Float(v))) => b.append_value(*v),
                (Column::Float(b), _) => b.append_null(),
                (Column::Int(b), Some(Cell::Int(v))) => b.append_value(*v),
                (Column::Int(b), _) => b.append_null(),
            }
        }
        self.rows += 1;
        Ok(())
    }

    /// The rows so far as one record batch; the builder starts empty again.
    pub fn finish(&mut self) -> RecordBatch {
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|c| -> ArrayRef {
                match c {
                    Column::Text(b) => Arc::new(b.finish()),
                    Column::Date(b) => Arc::new(b.finish()),
                    Column::Timestamp(b) => Arc::new(b.finish()),
                    Column::Float(b) => Arc::new(b.finish()),
                    Column::Int(b) => Arc::new(b.finish()),
                }
            })
            .collect();
        self.rows = 0;
        RecordBatch::try_new(self.schema.clone(), arrays)
            .expect("builders follow the schema column by column")
    }
}
