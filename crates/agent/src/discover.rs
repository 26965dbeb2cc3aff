//! File discovery: a directory, a file-name pattern with `*` and `?`, and a recursion depth.

use std::path::{Path, PathBuf};

use crate::fs::Fs;

/// Whether `name` matches `pattern`, where `*` is any run of characters and `?` exactly one.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matcher with backtracking to the last `*`: linear in practice, no recursion.
    let (mut i, mut j) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    while i < p.len() && p[i] == '*' {
        i += 1;
    }
    i == p.len()
}

/// The files under `dir` (and its subdirectories down to `max_depth` levels; 0 = `dir` only) whose
/// names match `pattern`, sorted. Unreadable subdirectories are reported in `errors`, not fatal.
pub fn discover(fs: &dyn Fs, dir: &Path, pattern: &str, max_depth: u32, errors: &mut Vec<String>) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), 0u32)];
    while let Some((current, depth)) = stack.pop() {
        let entries = match fs.read_dir(&current) {
            Ok(entries) => entries,
            Err(error) => {
                errors.push(format!("cannot list {}: {error}", current.display()));
                continue;
            }
        };
        for entry in entries {
            if entry.is_dir {
                if depth < max_depth {
                    stack.push((entry.path, depth + 1));
                }
            } else if wildcard_match(pattern, &entry.name) {
                found.push(entry.path);
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::NativeFs;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*.log", "app.log"));
        assert!(!wildcard_match("*.log", "app.log.1"));
        assert!(wildcard_match("app.log*", "app.log.1"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("*a*b*", "xxaxxbxx"));
        assert!(!wildcard_match("*a*b", "xxaxxbxxc"));
        assert!(wildcard_match("ü?.log", "üx.log"));
    }

    #[test]
    fn depth_is_respected() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("a/b")).unwrap();
        std::fs::write(root.path().join("top.log"), "").unwrap();
        std::fs::write(root.path().join("a/mid.log"), "").unwrap();
        std::fs::write(root.path().join("a/b/deep.log"), "").unwrap();
        std::fs::write(root.path().join("a/b/deep.txt"), "").unwrap();
        let mut errors = Vec::new();
        let names = |depth| -> Vec<String> {
            discover(&NativeFs, root.path(), "*.log", depth, &mut Vec::new())
                .iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names(0), ["top.log"]);
        assert_eq!(names(1), ["mid.log", "top.log"]);
        assert_eq!(names(5), ["deep.log", "mid.log", "top.log"]);
        discover(&NativeFs, &root.path().join("missing"), "*", 0, &mut errors);
        assert_eq!(errors.len(), 1);
    }
}
