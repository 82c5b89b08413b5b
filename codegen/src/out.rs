//! A tiny writer for generated C++: indentation, comments, and `#line` directives that make the
//! compiler name the spec's line for a pasted expression.

use std::fmt::Write as _;

#[derive(Default)]
pub struct Out {
    text: String,
    indent: usize,
    /// Lines written so far.
    lines: usize,
}

/// A C++ string literal's contents for a file name.
fn quoted(path: &str) -> String {
    path.replace('\\', "\\\\").replace('"', "\\\"")
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
        self.lines += 1 + line.matches('\n').count();
    }

    /// `line`, which pastes text from the spec: a compiler error in it names `source:source_line`
    /// (`#line`), and the lines after it are named after the generated file `output` again.
    /// `source_line` 0 (not from the spec): the line alone.
    pub fn pasted(&mut self, source: &str, source_line: usize, output: &str, line: impl AsRef<str>) {
        if source_line == 0 {
            return self.line(line);
        }
        self.text.push_str(&format!("#line {source_line} \"{}\"\n", quoted(source)));
        self.lines += 1;
        self.line(line);
        // The directive names the line after itself.
        let next = self.lines + 2;
        self.text.push_str(&format!("#line {next} \"{}\"\n", quoted(output)));
        self.lines += 1;
    }

    /// `head {`, then the body one level deeper, then `tail`.
    pub fn block(&mut self, head: impl AsRef<str>, tail: &str, body: impl FnOnce(&mut Out)) {
        self.line(format!("{} {{", head.as_ref()));
        self.indented(body);
        self.line(tail);
    }

    /// The body one level deeper (after a head written otherwise, e.g. [`Out::pasted`]).
    pub fn indented(&mut self, body: impl FnOnce(&mut Out)) {
        self.indent += 1;
        body(self);
        self.indent -= 1;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pasted_line_is_named_after_the_spec_and_what_follows_after_the_output() {
        let mut out = Out::default();
        out.line("int a;");
        out.pasted("spec/spec.toml", 412, "callouts.cc", "int b = x;");
        out.line("int c;");
        let text = out.finish();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "#line 412 \"spec/spec.toml\"");
        assert_eq!(lines[2], "int b = x;");
        // `int c;` is the file's fifth line: the directive before it says so.
        assert_eq!(lines[3], "#line 5 \"callouts.cc\"");
        assert_eq!(lines[4], "int c;");
    }
}
