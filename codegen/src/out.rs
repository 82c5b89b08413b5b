//! A tiny writer for generated C++: indentation helpers, nothing else.

use std::fmt::Write as _;

#[derive(Default)]
pub struct Out {
    text: String,
    indent: usize,
}

impl Out {
    /// One line at the current indentation; an empty `line` gives a blank line.
    pub fn line(&mut self, line: impl AsRef<str>) {
        let line = line.as_ref();
        if !line.is_empty() {
            for _ in 0..self.indent {
                self.text.push_str("    ");
            }
            self.text.push_str(line);
        }
        self.text.push('\n');
    }

    /// `head {`, then the body one level deeper, then `tail`.
    pub fn block(&mut self, head: impl AsRef<str>, tail: &str, body: impl FnOnce(&mut Out)) {
        self.line(format!("{} {{", head.as_ref()));
        self.indent += 1;
        body(self);
        self.indent -= 1;
        self.line(tail);
    }

    pub fn comment(&mut self, text: &str) {
        for l in text.lines() {
            let mut s = String::from("//");
            if !l.is_empty() {
                let _ = write!(s, " {l}");
            }
            self.line(s);
        }
    }

    pub fn finish(self) -> String {
        self.text
    }
}
