//! Plain-text tables for the commands that print rows (`lab list`, `lab capacity`,
//! `versions`): each column as wide as its widest cell, left-aligned, trailing blanks trimmed.

/// How a table sits on the page.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// Written before every line (a table nested under a heading is indented).
    pub indent: &'static str,
    /// Blanks between two columns.
    pub gap: usize,
}

/// As kubectl prints columns: no indent, three blanks apart.
pub const KUBECTL: Layout = Layout { indent: "", gap: 3 };

/// A table under a heading line: indented by two, two blanks apart.
pub const NESTED: Layout = Layout { indent: "  ", gap: 2 };

/// `header` and then `rows`, one line each; a row's cells beyond the header are ignored.
pub fn columns<R: AsRef<[String]>>(layout: Layout, header: &[&str], rows: &[R]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row.as_ref()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let gap = " ".repeat(layout.gap);
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, &w)| format!("{c:<w$}")).collect();
        format!("{}{}\n", layout.indent, padded.join(&gap).trim_end())
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.as_ref().iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_in_both_layouts() {
        let rows = [["long cell".to_string(), "x".to_string()], ["s".to_string(), "y".to_string()]];
        assert_eq!(columns(NESTED, &["A", "B"], &rows), "  A          B\n  long cell  x\n  s          y\n");
        assert_eq!(columns(KUBECTL, &["A", "B"], &rows), "A           B\nlong cell   x\ns           y\n");
    }

    #[test]
    fn an_empty_last_cell_leaves_no_trailing_blanks() {
        let rows = [vec!["a".to_string(), String::new()]];
        assert_eq!(columns(KUBECTL, &["ID", "DETAIL"], &rows), "ID   DETAIL\na\n");
    }
}
