//! A process environment built in one buffer: `NAME=value\0` entries back to back, and where each
//! starts. Building one costs a few allocations whatever the number of variables; `pointers`
//! gives the `envp` array `posix_spawn` takes.

use std::ffi::CString;

#[derive(Clone, Default, Debug)]
pub struct Environment {
    block: Vec<u8>,
    starts: Vec<usize>,
}

impl Environment {
    pub fn with_capacity(bytes: usize, entries: usize) -> Environment {
        Environment { block: Vec::with_capacity(bytes), starts: Vec::with_capacity(entries) }
    }

    /// `name=` followed by what `value` writes; a NUL byte in the value, which an environment
    /// cannot carry, is dropped.
    pub fn push_with(&mut self, name: &str, value: impl FnOnce(&mut Vec<u8>)) {
        self.starts.push(self.block.len());
        self.block.extend_from_slice(name.as_bytes());
        self.block.push(b'=');
        let value_start = self.block.len();
        value(&mut self.block);
        if self.block[value_start..].contains(&0) {
            let cleaned: Vec<u8> = self.block[value_start..].iter().copied().filter(|&b| b != 0).collect();
            self.block.truncate(value_start);
            self.block.extend_from_slice(&cleaned);
        }
        self.block.push(0);
    }

    /// A whole `NAME=value` entry, as it is.
    pub fn push_entry(&mut self, entry: &CString) {
        self.starts.push(self.block.len());
        self.block.extend_from_slice(entry.as_bytes_with_nul());
    }

    /// A copy with `extra`'s entries after this one's (a script's `extra-env`); a plain copy
    /// when there are none.
    pub fn with_extra(&self, extra: &[CString]) -> Environment {
        let mut env = self.clone();
        for entry in extra {
            env.push_entry(entry);
        }
        env
    }

    /// Each entry, `NAME=value` without its NUL.
    #[cfg(test)]
    pub fn entries(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.starts.iter().map(|&start| {
            let len = self.block[start..].iter().position(|&b| b == 0).expect("every entry ends with NUL");
            &self.block[start..start + len]
        })
    }

    /// The NULL-terminated array of entry pointers `execve`/`posix_spawn` take; valid while `self` is.
    pub fn pointers(&self) -> Vec<*const libc::c_char> {
        let base = self.block.as_ptr();
        let mut envp: Vec<*const libc::c_char> = Vec::with_capacity(self.starts.len() + 1);
        // SAFETY: every start is an offset inside `block`.
        envp.extend(self.starts.iter().map(|&s| unsafe { base.add(s) } as *const libc::c_char));
        envp.push(std::ptr::null());
        envp
    }
}

impl From<&[CString]> for Environment {
    fn from(entries: &[CString]) -> Environment {
        let mut env = Environment::with_capacity(entries.iter().map(|e| e.as_bytes().len() + 1).sum(), entries.len());
        for entry in entries {
            env.push_entry(entry);
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn entries_and_pointers_agree() {
        let mut env = Environment::default();
        env.push_with("A", |v| v.extend_from_slice(b"1 2"));
        env.push_with("B", |v| v.extend_from_slice(b"-42"));
        env.push_with("C", |v| v.extend_from_slice(b"x\0y\0"));
        env.push_with("D", |_| {});
        env.push_entry(&CString::new("PATH=/bin").unwrap());
        let entries: Vec<&[u8]> = env.entries().collect();
        assert_eq!(entries, [&b"A=1 2"[..], b"B=-42", b"C=xy", b"D=", b"PATH=/bin"]);
        let pointers = env.pointers();
        assert_eq!(pointers.len(), 6);
        assert!(pointers[5].is_null());
        for (p, e) in pointers.iter().zip(&entries) {
            // SAFETY: each pointer is a NUL-terminated entry of `env`, alive here.
            assert_eq!(unsafe { CStr::from_ptr(*p) }.to_bytes(), *e);
        }
    }
}
