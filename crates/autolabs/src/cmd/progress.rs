//! How `apply` shows its progress: one redrawn bar line when stderr is a terminal, plain
//! `[n/total] …` lines otherwise (pipes, files, CI logs keep every line).
//!
//! On a terminal the bar (`[#####.....] 57/125 configured platform/Deployment/backend-platform`)
//! is redrawn in place with `\r` on stderr; an object that did not simply succeed (skipped,
//! kept, failed) gets its own line on stdout, above the bar, so nothing worth reading is
//! overwritten. [`Progress::finish`] clears the bar before the summary is printed.

use std::io::{IsTerminal, Write};

use autolabs_kube::apply::ObjectResult;

/// Characters of the bar between the brackets.
pub const BAR_WIDTH: usize = 20;

/// Widest line drawn when the terminal's width is unknown (`COLUMNS` unset).
const DEFAULT_COLUMNS: usize = 100;

/// The bar line for `done` of `total` objects, the last one's outcome word and object, cut to
/// `max_columns` characters (a line wider than the terminal would wrap, and `\r` would then
/// redraw only its last row).
pub fn bar_line(done: usize, total: usize, word: &str, object: &str, max_columns: usize) -> String {
    let filled = (done.min(total) * BAR_WIDTH + total / 2).checked_div(total).unwrap_or(BAR_WIDTH);
    let bar: String = "#".repeat(filled) + &".".repeat(BAR_WIDTH - filled);
    let width = total.to_string().len();
    let line = format!("[{bar}] {done:>width$}/{total} {word} {object}");
    match line.char_indices().nth(max_columns) {
        Some((cut, _)) => line[..cut].to_string(),
        None => line,
    }
}

/// The plain line of one object: `[ n/total] <result>`.
pub fn plain_line(done: usize, total: usize, result: &impl std::fmt::Display) -> String {
    let width = total.to_string().len();
    format!("[{done:>width$}/{total}] {result}")
}

/// Whether an outcome is worth its own line even when the bar is drawn.
pub fn is_notable(word: &str) -> bool {
    !matches!(word, "created" | "configured" | "unchanged" | "pruned")
}

/// The progress display of one apply run.
pub struct Progress {
    total: usize,
    done: usize,
    /// Every object's line (plain mode), or only the notable ones.
    every_line: bool,
    /// `Some(max columns)` when drawing the bar.
    bar: Option<usize>,
    /// Characters of the bar currently on screen (to blank it).
    drawn: usize,
}

impl Progress {
    /// A bar when stderr is a terminal, plain lines otherwise.
    pub fn new(total: usize, every_line: bool) -> Self {
        let bar = std::io::stderr().is_terminal().then(terminal_columns);
        Progress { total, done: 0, every_line, bar, drawn: 0 }
    }

    /// Shows one more finished object. Write errors are ignored: a closed pipe (`| head`) must
    /// not stop the apply half-way.
    pub fn object(&mut self, result: &ObjectResult) {
        self.done += 1;
        let word = result.outcome.word();
        let notable = is_notable(word);
        let Some(columns) = self.bar else {
            if self.every_line || notable {
                let _ = writeln!(std::io::stdout().lock(), "{}", plain_line(self.done, self.total, result));
            }
            return;
        };
        if notable {
            self.clear();
            let _ = writeln!(std::io::stdout().lock(), "{}", plain_line(self.done, self.total, result));
        }
        let line = bar_line(self.done, self.total, word, &result.key.to_string(), columns);
        let mut stderr = std::io::stderr().lock();
        let padding = " ".repeat(self.drawn.saturating_sub(line.chars().count()));
        let _ = write!(stderr, "\r{line}{padding}");
        let _ = stderr.flush();
        self.drawn = line.chars().count();
    }

    /// Removes the bar, so what follows starts on a clean line.
    pub fn finish(&mut self) {
        self.clear();
    }

    fn clear(&mut self) {
        if self.drawn > 0 {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\r{}\r", " ".repeat(self.drawn));
            let _ = stderr.flush();
            self.drawn = 0;
        }
        let _ = std::io::stdout().flush();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}

/// The terminal's width from `COLUMNS` (shells export it), else [`DEFAULT_COLUMNS`]; one
/// column is kept free so the cursor never wraps.
fn terminal_columns() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 20)
        .unwrap_or(DEFAULT_COLUMNS)
        - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_fills_in_proportion_and_names_the_object() {
        // (done, total, expected) with a 20-character bar
        let rows = [
            (0, 125, "[....................]   0/125 created ns/Kind/x"),
            (57, 125, "[#########...........]  57/125 created ns/Kind/x"),
            (63, 125, "[##########..........]  63/125 created ns/Kind/x"),
            (125, 125, "[####################] 125/125 created ns/Kind/x"),
            (3, 3, "[####################] 3/3 created ns/Kind/x"),
            (0, 0, "[####################] 0/0 created ns/Kind/x"),
        ];
        for (done, total, expected) in rows {
            assert_eq!(bar_line(done, total, "created", "ns/Kind/x", 200), expected, "{done}/{total}");
        }
    }

    #[test]
    fn the_bar_is_cut_to_the_terminal_width() {
        let line = bar_line(57, 125, "configured", "platform/Deployment/backend-platform", 40);
        assert_eq!(line.chars().count(), 40);
        assert!(line.starts_with("[#########...........]  57/125 configur"), "{line}");
        // Multi-byte names are cut on a character boundary.
        let line = bar_line(1, 2, "created", "labs/ConfigMap/ёёёёёё", 35);
        assert_eq!(line.chars().count(), 35);
    }

    #[test]
    fn plain_lines_keep_the_current_format() {
        assert_eq!(plain_line(7, 125, &"created    labs/Pod/x"), "[  7/125] created    labs/Pod/x");
        assert_eq!(plain_line(125, 125, &"failed x"), "[125/125] failed x");
    }

    #[test]
    fn only_surprising_outcomes_get_their_own_line_under_a_bar() {
        for word in ["created", "configured", "unchanged", "pruned"] {
            assert!(!is_notable(word), "{word}");
        }
        for word in ["skipped", "kept", "failed"] {
            assert!(is_notable(word), "{word}");
        }
    }
}
