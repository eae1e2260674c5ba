//! The dense form of a [`CellTable`]: every combination of categories (and
//! totals) present, zeros filled in, and the table's lines — the 1-D
//! constraints `total = Σ categories` that an attacker can subtract along.

use std::collections::HashMap;

use super::error::{Error, Result};
use super::table::{CellKey, CellTable, DataKind, Key, SumStats};

/// Most cells of a dense table we check (with totals and zeros).
pub(crate) const MAX_CELLS: usize = 200_000;

/// One dimension: its categories in order of first appearance, and whether
/// it has a total (stored after the categories).
#[derive(Debug, Clone)]
pub(crate) struct Axis {
    pub values: Vec<String>,
    pub has_total: bool,
}

impl Axis {
    fn len(&self) -> usize {
        self.values.len() + usize::from(self.has_total)
    }
}

/// A cell of the dense table.
#[derive(Debug, Clone)]
pub(crate) struct GridCell {
    pub key: CellKey,
    pub persons: u64,
    pub sum: Option<SumStats>,
}

/// One line: the categories of one dimension with the others fixed, and
/// their total.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub interior: Vec<usize>,
    pub total: usize,
}

impl Line {
    /// Interior cells, then the total.
    pub fn all(&self) -> impl Iterator<Item = usize> + '_ {
        self.interior
            .iter()
            .copied()
            .chain(std::iter::once(self.total))
    }
}

/// The dense table.
#[derive(Debug, Clone)]
pub(crate) struct Grid {
    pub dimensions: Vec<String>,
    pub kind: DataKind,
    pub axes: Vec<Axis>,
    strides: Vec<usize>,
    pub cells: Vec<GridCell>,
}

impl Grid {
    /// Builds the dense table; checks that every line adds up.
    pub fn build(table: &CellTable) -> Result<Grid> {
        table.validate()?;
        let dims = table.dimensions().len();
        let mut axes: Vec<Axis> = (0..dims)
            .map(|_| Axis {
                values: Vec::new(),
                has_total: false,
            })
            .collect();
        let mut positions: Vec<HashMap<&str, usize>> = vec![HashMap::new(); dims];
        for cell in table.cells() {
            for (d, part) in cell.key.parts().iter().enumerate() {
                match part {
                    Key::Total => axes[d].has_total = true,
                    Key::Value(v) => {
                        if !positions[d].contains_key(v.as_str()) {
                            positions[d].insert(v.as_str(), axes[d].values.len());
                            axes[d].values.push(v.clone());
                        }
                    }
                }
            }
        }
        let mut size: usize = 1;
        for axis in &axes {
            size = size.saturating_mul(axis.len().max(1));
        }
        if size > MAX_CELLS {
            return Err(Error::TooLarge {
                cells: size,
                max: MAX_CELLS,
            });
        }
        let mut strides = vec![1; dims];
        for d in (0..dims.saturating_sub(1)).rev() {
            strides[d] = strides[d + 1] * axes[d + 1].len().max(1);
        }
        let has_sums = table.cells().iter().any(|c| c.sum.is_some());
        let empty_axes = axes.iter().any(|a| a.len() == 0);
        let mut grid = Grid {
            dimensions: table.dimensions().to_vec(),
            kind: table.kind(),
            axes,
            strides,
            cells: Vec::new(),
        };
        if empty_axes && dims > 0 {
            // No cells at all: nothing to release, nothing to check.
            return Ok(grid);
        }
        grid.cells = (0..size)
            .map(|i| GridCell {
                key: grid.key_of(i),
                persons: 0,
                sum: has_sums.then(|| SumStats {
                    total: 0.0,
                    largest: Vec::new(),
                }),
            })
            .collect();
        for cell in table.cells() {
            let coords: Vec<usize> = cell
                .key
                .parts()
                .iter()
                .enumerate()
                .map(|(d, part)| match part {
                    Key::Total => grid.axes[d].values.len(),
                    Key::Value(v) => positions[d].get(v.as_str()).copied().unwrap_or_default(),
                })
                .collect();
            let i = grid.index(&coords);
            grid.cells[i].persons = cell.persons;
            grid.cells[i].sum = cell.sum.clone();
        }
        grid.check_additive()?;
        Ok(grid)
    }

    fn coords(&self, mut i: usize) -> Vec<usize> {
        let mut out = vec![0; self.axes.len()];
        for (d, stride) in self.strides.iter().enumerate() {
            out[d] = i / stride;
            i %= stride;
        }
        out
    }

    fn index(&self, coords: &[usize]) -> usize {
        coords.iter().zip(&self.strides).map(|(c, s)| c * s).sum()
    }

    fn key_of(&self, i: usize) -> CellKey {
        CellKey::new(self.coords(i).into_iter().zip(&self.axes).map(|(c, axis)| {
            match axis.values.get(c) {
                Some(v) => Key::Value(v.clone()),
                None => Key::Total,
            }
        }))
    }

    /// Every 1-D line of the table, along every dimension that has a total.
    pub fn lines(&self) -> Vec<Line> {
        let mut lines = Vec::new();
        if self.cells.is_empty() {
            return lines;
        }
        for (d, axis) in self.axes.iter().enumerate() {
            if !axis.has_total {
                continue;
            }
            let total_coord = axis.values.len();
            for i in 0..self.cells.len() {
                let mut coords = self.coords(i);
                if coords[d] != total_coord {
                    continue;
                }
                let total = i;
                let interior = (0..axis.values.len())
                    .map(|v| {
                        coords[d] = v;
                        self.index(&coords)
                    })
                    .collect();
                lines.push(Line { interior, total });
            }
        }
        lines
    }

    /// Describes a cell for messages: `sex=F, age=*`.
    pub fn describe(&self, i: usize) -> String {
        self.cells[i].key.describe(&self.dimensions)
    }

    fn check_additive(&self) -> Result<()> {
        for line in self.lines() {
            let persons: u64 = line.interior.iter().map(|&i| self.cells[i].persons).sum();
            if persons != self.cells[line.total].persons {
                return Err(Error::NotAdditive {
                    line: self.describe(line.total),
                    what: "persons",
                });
            }
            if let Some(total) = &self.cells[line.total].sum {
                let sum: f64 = line
                    .interior
                    .iter()
                    .filter_map(|&i| self.cells[i].sum.as_ref().map(|s| s.total))
                    .sum();
                if (sum - total.total).abs() > 1e-9 * total.total.abs().max(1.0) {
                    return Err(Error::NotAdditive {
                        line: self.describe(line.total),
                        what: "sum",
                    });
                }
            }
        }
        Ok(())
    }
}
