//! Script trust: whoever can change a script (or a directory on its path) runs code as Kea's
//! user, so a script is accepted only if nobody but root and Kea's user can change it — the rule
//! of sshd's StrictModes and sudo, and of Kea 2.6.3/3.0 after CVE-2025-32801..32803.
//!
//! Every directory a lookup of the path happens in is checked, from `/`, following symbolic links
//! (the link's own directories, then the target's), and the file itself: each must be owned by
//! root or Kea's user and not writable by group or others. A sticky directory (`/tmp`, 1777) may
//! be writable by others: there only an entry's owner can replace it, so the entry must be owned
//! by root or Kea's user (a symbolic link too). POSIX ACLs are not read.

use std::ffi::{CStr, OsString};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// Linux's own limit on links followed in one lookup.
const MAX_LINKS: usize = 40;

/// The effective uid of this process: Kea's user, in the library.
pub fn effective_uid() -> u32 {
    // SAFETY: plain syscall.
    unsafe { libc::geteuid() }
}

/// The uid of a user name (or a number), for `kea-runscript-check --user`.
pub fn uid_of(user: &str) -> Option<u32> {
    if let Ok(uid) = user.parse() {
        return Some(uid);
    }
    let name = std::ffi::CString::new(user).ok()?;
    // SAFETY: getpwnam returns NULL or a valid entry; read at once (the tool is single-threaded).
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    (!pw.is_null()).then(|| unsafe { (*pw).pw_uid })
}

/// Why a script is not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum Fault {
    /// Someone besides root and Kea's user could change it: the path at fault and why.
    Untrusted(String),
    /// A lookup failed (e.g. the file is gone): what `exec` would report too.
    Unreadable(String),
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Untrusted(s) | Fault::Unreadable(s) => f.write_str(s),
        }
    }
}

/// `Ok` if nobody but root and `kea_uid` can change the program `path` (absolute) runs;
/// else the path at fault and why, e.g. `/srv/hooks is writable by others (mode 0777)`.
pub fn check(path: &Path, kea_uid: u32) -> Result<(), String> {
    check_path(path, kea_uid).map_err(|f| f.to_string())
}

/// [`check`], telling a script others could change from one that cannot be looked up.
pub fn check_path(path: &Path, kea_uid: u32) -> Result<(), Fault> {
    let mut pending: Vec<OsString> = Vec::new(); // components still to walk, last first
    push_components(&mut pending, path);
    let mut current = PathBuf::from("/");
    let mut dir = metadata(&current, std::fs::metadata(&current))?;
    trusted(&current, &dir, kea_uid)?;
    let mut links = 0;
    while let Some(name) = pending.pop() {
        if name == ".." {
            // `current` has no link in it: its parent is the real one, already checked.
            current.pop();
            dir = metadata(&current, std::fs::metadata(&current))?;
            continue;
        }
        let next = current.join(&name);
        let meta = metadata(&next, std::fs::symlink_metadata(&next))?;
        // In a sticky directory others may write to, an entry's owner can still replace it.
        if dir.mode() & 0o022 != 0 && !owner_trusted(meta.uid(), kea_uid) {
            let what = if meta.file_type().is_symlink() { "a symbolic link " } else { "" };
            return Err(Fault::Untrusted(format!(
                "{} is {what}owned by {}, not root or Kea's user ({}), in {}, a directory others can write to (mode {:04o})",
                next.display(),
                user(meta.uid()),
                user(kea_uid),
                current.display(),
                dir.mode() & 0o7777
            )));
        }
        if meta.file_type().is_symlink() {
            links += 1;
            if links > MAX_LINKS {
                return Err(Fault::Unreadable(format!("{}: too many levels of symbolic links", path.display())));
            }
            let target = std::fs::read_link(&next).map_err(|e| Fault::Unreadable(format!("{}: {e}", next.display())))?;
            if target.is_absolute() {
                current = PathBuf::from("/");
                dir = metadata(&current, std::fs::metadata(&current))?;
            }
            push_components(&mut pending, &target);
            continue;
        }
        trusted(&next, &meta, kea_uid)?;
        current = next;
        dir = meta;
    }
    Ok(())
}

fn push_components(pending: &mut Vec<OsString>, path: &Path) {
    let names: Vec<OsString> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
        .collect();
    pending.extend(names.into_iter().rev());
}

fn metadata(path: &Path, meta: std::io::Result<std::fs::Metadata>) -> Result<std::fs::Metadata, Fault> {
    meta.map_err(|e| Fault::Unreadable(format!("{}: {e}", path.display())))
}

fn owner_trusted(uid: u32, kea_uid: u32) -> bool {
    uid == 0 || uid == kea_uid
}

/// One directory or the file: its owner, and who else may write to it.
fn trusted(path: &Path, meta: &std::fs::Metadata, kea_uid: u32) -> Result<(), Fault> {
    let mode = meta.mode() & 0o7777;
    if !owner_trusted(meta.uid(), kea_uid) {
        return Err(Fault::Untrusted(format!(
            "{} is owned by {}, not root or Kea's user ({})",
            path.display(),
            user(meta.uid()),
            user(kea_uid)
        )));
    }
    // A sticky directory: its entries are checked on the way down.
    let sticky_dir = meta.is_dir() && mode & 0o1000 != 0;
    if mode & 0o002 != 0 && !sticky_dir {
        return Err(Fault::Untrusted(format!("{} is writable by others (mode {mode:04o})", path.display())));
    }
    if mode & 0o020 != 0 && !sticky_dir {
        return Err(Fault::Untrusted(format!("{} is writable by group {} (mode {mode:04o})", path.display(), group(meta.gid()))));
    }
    Ok(())
}

/// `root`, or `uid 1000 (alice)`.
fn user(uid: u32) -> String {
    if uid == 0 {
        return "root".into();
    }
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut out: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes into `pw` and `buf`, which outlive the read of the name.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut out) };
    if rc == 0 && !out.is_null() {
        let name = unsafe { CStr::from_ptr(pw.pw_name) };
        return format!("uid {uid} ({})", String::from_utf8_lossy(name.to_bytes()));
    }
    format!("uid {uid}")
}

/// `staff (gid 50)`, or `gid 50`.
fn group(gid: u32) -> String {
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut gr: libc::group = unsafe { std::mem::zeroed() };
    let mut out: *mut libc::group = std::ptr::null_mut();
    // SAFETY: getgrgid_r writes into `gr` and `buf`, which outlive the read of the name.
    let rc = unsafe { libc::getgrgid_r(gid, &mut gr, buf.as_mut_ptr(), buf.len(), &mut out) };
    if rc == 0 && !out.is_null() {
        let name = unsafe { CStr::from_ptr(gr.gr_name) };
        return format!("{} (gid {gid})", String::from_utf8_lossy(name.to_bytes()));
    }
    format!("gid {gid}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{chown, symlink, PermissionsExt};

    /// A uid nobody on the machine has, as "another user".
    const OTHER: u32 = 54_321;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A fresh root-owned 0755 directory `d` in a root-owned 0755 one in /tmp (sticky: its
    /// entries are root's), with `sh` (0755) in it. The tests run as root, as the suite does.
    fn fixture(name: &str) -> Dir {
        let base = std::env::temp_dir().join(format!("krs-trust-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("d")).unwrap();
        for d in [&base, &base.join("d")] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let sh = base.join("d/sh");
        std::fs::write(&sh, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&sh, std::fs::Permissions::from_mode(0o755)).unwrap();
        Dir(base)
    }

    fn chmod(p: &Path, mode: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn root() -> bool {
        effective_uid() == 0
    }

    #[test]
    fn a_root_owned_script_in_safe_directories_passes() {
        let f = fixture("ok");
        check(&f.0.join("d/sh"), 0).unwrap();
        check(Path::new("/bin/true"), 0).unwrap();
        check(&f.0.join("d/../d/./sh"), 0).unwrap();
    }

    #[test]
    fn writable_by_others_or_group() {
        let f = fixture("mode");
        let sh = f.0.join("d/sh");
        chmod(&f.0.join("d"), 0o777);
        let err = check(&sh, 0).unwrap_err();
        assert_eq!(err, format!("{} is writable by others (mode 0777)", f.0.join("d").display()));
        chmod(&f.0.join("d"), 0o775);
        let err = check(&sh, 0).unwrap_err();
        assert!(err.starts_with(&format!("{} is writable by group ", f.0.join("d").display())), "{err}");
        assert!(err.ends_with("(mode 0775)"), "{err}");
        chmod(&f.0.join("d"), 0o755);
        chmod(&sh, 0o757);
        assert_eq!(check(&sh, 0).unwrap_err(), format!("{} is writable by others (mode 0757)", sh.display()));
        chmod(&sh, 0o775);
        assert!(check(&sh, 0).unwrap_err().contains("is writable by group"));
        // A sticky bit does not make a file safe.
        chmod(&sh, 0o1777);
        assert!(check(&sh, 0).unwrap_err().contains("is writable by others (mode 1777)"));
    }

    #[test]
    fn owned_by_another_user() {
        if !root() {
            eprintln!("skipped: chown needs root");
            return;
        }
        let f = fixture("owner");
        let sh = f.0.join("d/sh");
        chown(&sh, Some(OTHER), None).unwrap();
        let err = check(&sh, 0).unwrap_err();
        assert_eq!(err, format!("{} is owned by uid {OTHER}, not root or Kea's user (root)", sh.display()));
        // Kea's own user may own it.
        check(&sh, OTHER).unwrap();
        chown(&sh, Some(0), None).unwrap();
        chown(f.0.join("d"), Some(OTHER), None).unwrap();
        assert!(check(&sh, 0).unwrap_err().starts_with(&format!("{} is owned by uid {OTHER}", f.0.join("d").display())));
        // Named, when the user has a name.
        chown(f.0.join("d"), Some(65534), None).unwrap();
        let err = check(&sh, 0).unwrap_err();
        assert!(err.contains("is owned by uid 65534 (nobody)"), "{err}");
    }

    #[test]
    fn sticky_directories() {
        let f = fixture("sticky");
        let d = f.0.join("d");
        let sh = d.join("sh");
        chmod(&d, 0o1777);
        check(&sh, 0).unwrap();
        if !root() {
            return;
        }
        // ... only for an entry owned by root or Kea's user.
        chown(&sh, Some(OTHER), None).unwrap();
        let err = check(&sh, 0).unwrap_err();
        assert!(err.contains(&format!("in {}, a directory others can write to (mode 1777)", d.display())), "{err}");
        check(&sh, OTHER).unwrap();
        chown(&sh, Some(0), None).unwrap();
        // A link another user owns in a sticky directory: they can point it elsewhere.
        let link = d.join("link");
        symlink(&sh, &link).unwrap();
        check(&link, 0).unwrap();
        std::os::unix::fs::lchown(&link, Some(OTHER), None).unwrap();
        let err = check(&link, 0).unwrap_err();
        assert!(err.starts_with(&format!("{} is a symbolic link owned by uid {OTHER}", link.display())), "{err}");
        // /tmp itself is such a directory: a root-owned file directly in it passes.
        let tmp = std::env::temp_dir();
        if std::fs::metadata(&tmp).unwrap().mode() & 0o1002 == 0o1002 {
            let file = tmp.join(format!("krs-trust-in-tmp-{}", std::process::id()));
            std::fs::write(&file, "").unwrap();
            chmod(&file, 0o755);
            let r = check(&file, 0);
            std::fs::remove_file(&file).unwrap();
            r.unwrap();
        }
    }

    #[test]
    fn symbolic_links_check_both_sides() {
        let f = fixture("links");
        let sh = f.0.join("d/sh");
        let links = f.0.join("links");
        std::fs::create_dir(&links).unwrap();
        chmod(&links, 0o755);
        symlink(&sh, links.join("abs")).unwrap();
        symlink("../d/sh", links.join("rel")).unwrap();
        symlink("rel", links.join("chain")).unwrap();
        for l in ["abs", "rel", "chain"] {
            check(&links.join(l), 0).unwrap();
        }
        // The target's directory at fault.
        chmod(&f.0.join("d"), 0o777);
        for l in ["abs", "rel", "chain"] {
            let err = check(&links.join(l), 0).unwrap_err();
            assert_eq!(err, format!("{} is writable by others (mode 0777)", f.0.join("d").display()), "{l}");
        }
        chmod(&f.0.join("d"), 0o755);
        // The link's own directory at fault.
        chmod(&links, 0o777);
        let err = check(&links.join("abs"), 0).unwrap_err();
        assert_eq!(err, format!("{} is writable by others (mode 0777)", links.display()));
        chmod(&links, 0o755);
        // A linked directory on the way.
        symlink(f.0.join("d"), f.0.join("dirlink")).unwrap();
        check(&f.0.join("dirlink/sh"), 0).unwrap();
        symlink("loop", links.join("loop")).unwrap();
        assert!(check(&links.join("loop"), 0).unwrap_err().contains("too many levels of symbolic links"));
        assert!(check(&f.0.join("d/missing"), 0).unwrap_err().contains("No such file"));
        // Told apart for the check before each run: a deleted script is exec's to report.
        assert!(matches!(check_path(&f.0.join("d/missing"), 0), Err(Fault::Unreadable(_))));
        chmod(&f.0.join("d"), 0o777);
        assert!(matches!(check_path(&sh, 0), Err(Fault::Untrusted(_))));
    }
}
