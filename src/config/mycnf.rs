//! MySQL option files: `~/.my.cnf` (read when it exists, as the mysql client
//! does) or only the file of `--defaults-file`. Of their groups, `[client]`
//! and `[gold_digger]` are read (`[gold_digger]` wins over `[client]`), and of
//! their keys host, port, user, password, socket, database and ssl-ca,
//! ssl-cert, ssl-key, ssl-mode; other keys are ignored, as other programs
//! share the file.
//!
//! The syntax follows the mysql client's: `[group]`, `key`, `key=value` with
//! spaces allowed around `=`, `#` and `;` comment lines, `#` after a value
//! outside quotes, a value in matching single or double quotes, the escapes
//! `\n \t \r \b \s \\ \" \'`, `-` and `_` alike in keys, the `loose-` prefix,
//! `!include FILE` and `!includedir DIR`. Errors name the file and the line,
//! never the line's text, which may hold a password.

use super::Secret;
use crate::cli::SslMode;
use crate::error::Error;
use std::path::{Path, PathBuf};

/// The groups read, lowest precedence first.
const GROUPS: [&str; 2] = ["client", "gold_digger"];

/// Nested `!include`s deeper than this are refused (they are a loop).
const MAX_INCLUDE_DEPTH: usize = 10;

/// What the option files say, the last value of each key winning.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct MyCnf {
    pub(super) host: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) user: Option<String>,
    /// `Some(None)`: a bare `password` line, which asks on the terminal.
    pub(super) password: Option<Option<Secret>>,
    pub(super) socket: Option<PathBuf>,
    pub(super) database: Option<String>,
    pub(super) ssl_mode: Option<SslMode>,
    pub(super) ssl_ca: Option<PathBuf>,
    pub(super) ssl_cert: Option<PathBuf>,
    pub(super) ssl_key: Option<PathBuf>,
    /// The files read, for `--dump-config`.
    pub(super) files: Vec<PathBuf>,
    /// Things to tell the user (ignored files, unsupported TLS keys).
    pub(super) warnings: Vec<String>,
}

impl MyCnf {
    /// Whether any connection setting (not TLS) came from the files.
    pub(super) fn names_a_server(&self) -> bool {
        self.host.is_some()
            || self.port.is_some()
            || self.user.is_some()
            || self.password.is_some()
            || self.socket.is_some()
            || self.database.is_some()
    }

    /// Whether any TLS setting came from the files.
    pub(super) fn has_tls(&self) -> bool {
        self.ssl_mode.is_some()
            || self.ssl_ca.is_some()
            || self.ssl_cert.is_some()
            || self.ssl_key.is_some()
    }
}

/// One `key[=value]` line of a group that is read.
struct Entry {
    group: usize,
    key: String,
    value: Option<String>,
    file: PathBuf,
    line: usize,
}

/// Reads `defaults_file` (which must exist), or else `home/.my.cnf` when it
/// exists; nothing with `no_defaults`.
pub(super) fn load(
    defaults_file: Option<&Path>,
    no_defaults: bool,
    home: Option<&Path>,
) -> Result<MyCnf, Error> {
    let mut cnf = MyCnf::default();
    let path = match (defaults_file, no_defaults) {
        (_, true) => return Ok(cnf),
        (Some(path), false) => path.to_path_buf(),
        (None, false) => match home.map(|h| h.join(".my.cnf")) {
            Some(path) if path.exists() => path,
            _ => return Ok(cnf),
        },
    };
    let mut entries = Vec::new();
    read_file(&path, 0, &mut entries, &mut cnf)?;
    // [gold_digger] after [client]; within a group, file order (the last wins).
    entries.sort_by_key(|e| e.group);
    for entry in &entries {
        apply(&mut cnf, entry)?;
    }
    if cnf.ssl_mode == Some(SslMode::Disabled)
        && (cnf.ssl_ca.is_some() || cnf.ssl_cert.is_some() || cnf.ssl_key.is_some())
    {
        return Err(Error::OptionFile {
            path,
            line: None,
            message: "ssl-mode=DISABLED contradicts ssl-ca, ssl-cert and ssl-key: drop one of them"
                .into(),
        });
    }
    Ok(cnf)
}

fn read_file(
    path: &Path,
    depth: usize,
    entries: &mut Vec<Entry>,
    cnf: &mut MyCnf,
) -> Result<(), Error> {
    let fail = |line: Option<usize>, message: String| Error::OptionFile {
        path: path.to_path_buf(),
        line,
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| {
        fail(
            None,
            format!("{e}; pass --no-defaults to read no option file"),
        )
    })?;
    {
        use std::os::unix::fs::PermissionsExt;
        // As the mysql client: anyone could have put a host or a password there.
        if meta.permissions().mode() & 0o002 != 0 {
            cnf.warnings.push(format!(
                "option file {} is world-writable and is ignored (chmod o-w it)",
                path.display()
            ));
            return Ok(());
        }
    }
    let bytes = std::fs::read(path).map_err(|e| fail(None, e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        fail(Some(line), "not valid UTF-8".into())
    })?;
    cnf.files.push(path.to_path_buf());
    let mut group: Option<usize> = None;
    let mut in_any_group = false;
    for (index, raw) in text.lines().enumerate() {
        let n = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('!') {
            let (directive, arg) = rest
                .split_once(char::is_whitespace)
                .map(|(d, a)| (d, a.trim()))
                .unwrap_or((rest, ""));
            if !matches!(directive, "include" | "includedir") || arg.is_empty() {
                return Err(fail(
                    Some(n),
                    "unknown directive: expected !include FILE or !includedir DIR".into(),
                ));
            }
            if depth >= MAX_INCLUDE_DEPTH {
                return Err(fail(
                    Some(n),
                    format!("!include nested more than {MAX_INCLUDE_DEPTH} deep (a loop?)"),
                ));
            }
            let target = path.parent().unwrap_or(Path::new(".")).join(arg);
            if directive == "include" {
                read_file(&target, depth + 1, entries, cnf)?;
            } else {
                let mut files: Vec<PathBuf> = std::fs::read_dir(&target)
                    .map_err(|e| fail(Some(n), format!("!includedir {}: {e}", target.display())))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "cnf") && p.is_file())
                    .collect();
                files.sort();
                for file in files {
                    read_file(&file, depth + 1, entries, cnf)?;
                }
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some((name, after)) = rest.split_once(']') else {
                return Err(fail(Some(n), "a group header without its closing ]".into()));
            };
            let after = after.trim();
            if !(after.is_empty() || after.starts_with('#') || after.starts_with(';')) {
                return Err(fail(Some(n), "text after a group header".into()));
            }
            let name = name.trim().to_ascii_lowercase();
            group = GROUPS.iter().position(|g| *g == name);
            in_any_group = true;
            continue;
        }
        if !in_any_group {
            return Err(fail(
                Some(n),
                "an option before the first [group] header".into(),
            ));
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v)),
            None => (remove_comment(line).trim(), None),
        };
        if key.is_empty() {
            return Err(fail(Some(n), "an option without a name before =".into()));
        }
        // Values of other programs' groups are theirs to judge.
        if let Some(group) = group {
            let value = match value {
                Some(v) => Some(parse_value(v).map_err(|m| fail(Some(n), m))?),
                None => None,
            };
            entries.push(Entry {
                group,
                key: normalize_key(key),
                value,
                file: path.to_path_buf(),
                line: n,
            });
        }
    }
    Ok(())
}

/// `ssl_ca`, `SSL-CA` and `loose-ssl-ca` are all `ssl-ca`.
fn normalize_key(key: &str) -> String {
    let key = key.to_ascii_lowercase().replace('_', "-");
    match key.strip_prefix("loose-") {
        Some(rest) => rest.to_string(),
        None => key,
    }
}

/// Cuts a `#` comment that is not inside quotes (the mysql client's
/// `remove_end_comment`).
fn remove_comment(text: &str) -> &str {
    let mut quote = None;
    let mut escape = false;
    for (i, c) in text.char_indices() {
        if (c == '\'' || c == '"') && !escape {
            match quote {
                None => quote = Some(c),
                Some(q) if q == c => quote = None,
                Some(_) => {}
            }
        }
        if quote.is_none() && c == '#' {
            return &text[..i];
        }
        escape = quote.is_some() && c == '\\' && !escape;
    }
    text
}

/// The value after `=`: comment cut, spaces trimmed, one pair of matching
/// quotes removed, escapes replaced. The error never holds the value.
fn parse_value(raw: &str) -> Result<String, String> {
    let mut value = remove_comment(raw).trim();
    if let Some(q) = value.chars().next().filter(|c| *c == '"' || *c == '\'') {
        if value.len() >= 2 && value.ends_with(q) {
            value = &value[1..value.len() - 1];
        } else {
            return Err(format!(
                "a value opens a {} quote that does not close at the end of the line",
                if q == '"' { "double" } else { "single" }
            ));
        }
    }
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('s') => out.push(' '),
            Some(c @ ('\\' | '"' | '\'')) => out.push(c),
            // Unknown escapes keep their backslash, as in the mysql client.
            Some(c) => {
                out.push('\\');
                out.push(c);
            }
            None => out.push('\\'),
        }
    }
    Ok(out)
}

fn apply(cnf: &mut MyCnf, e: &Entry) -> Result<(), Error> {
    let fail = |message: String| Error::OptionFile {
        path: e.file.clone(),
        line: Some(e.line),
        message,
    };
    let key = e.key.as_str();
    let known = matches!(
        key,
        "host"
            | "port"
            | "user"
            | "password"
            | "socket"
            | "database"
            | "ssl-mode"
            | "ssl-ca"
            | "ssl-cert"
            | "ssl-key"
    );
    if !known {
        if key.starts_with("ssl") || key.starts_with("tls") {
            cnf.warnings.push(format!(
                "option file {}, line {}: {key} is not supported by gold_digger and is ignored \
                 (supported: ssl-mode, ssl-ca, ssl-cert, ssl-key)",
                e.file.display(),
                e.line
            ));
        }
        return Ok(());
    }
    let value = match (&e.value, key) {
        (None, "password") => {
            cnf.password = Some(None);
            return Ok(());
        }
        (None, _) => return Err(fail(format!("{key} needs a value ({key}=...)"))),
        (Some(v), _) => v.clone(),
    };
    let non_empty = |what: &str| {
        if value.is_empty() {
            Err(fail(format!("{what} is empty")))
        } else {
            Ok(value.clone())
        }
    };
    match key {
        "host" => cnf.host = Some(non_empty("host")?),
        "user" => cnf.user = Some(non_empty("user")?),
        "socket" => cnf.socket = Some(PathBuf::from(non_empty("socket")?)),
        "database" => cnf.database = Some(value.clone()).filter(|d| !d.is_empty()),
        "password" => cnf.password = Some(Some(Secret(value.clone()))),
        "port" => {
            cnf.port = Some(
                value
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| fail("port must be a number from 1 to 65535".into()))?,
            )
        }
        "ssl-mode" => {
            cnf.ssl_mode = Some(SslMode::from_str_ignore_case(&value).ok_or_else(|| {
                fail(
                    "unknown ssl-mode (use DISABLED, PREFERRED, REQUIRED, VERIFY_CA or \
                     VERIFY_IDENTITY)"
                        .into(),
                )
            })?)
        }
        "ssl-ca" => cnf.ssl_ca = Some(PathBuf::from(non_empty("ssl-ca")?)),
        "ssl-cert" => cnf.ssl_cert = Some(PathBuf::from(non_empty("ssl-cert")?)),
        "ssl-key" => cnf.ssl_key = Some(PathBuf::from(non_empty("ssl-key")?)),
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<MyCnf, Error> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("my.cnf");
        std::fs::write(&path, text).unwrap();
        load(Some(&path), false, None)
    }

    #[test]
    fn groups_keys_quotes_comments_and_escapes() {
        let c = parse(
            "# a comment\n; another\n[mysqld]\nport=1\nuser=server\n\n\
             [client]\nhost = db.example  # trailing comment\nport=3307\n\
             user=\"report user\"\npassword='p#ss;w\"rd'\nsocket=/run/x.sock\n\
             default_character_set=utf8mb4\nskip-column-names\n\
             [CLIENT]\nloose_database=sales\nSSL_CA=/ca.pem\nssl-mode=verify_ca\n\
             [mysqldump]\nuser=other\n",
        )
        .unwrap();
        assert_eq!(c.host.as_deref(), Some("db.example"));
        assert_eq!(c.port, Some(3307));
        assert_eq!(c.user.as_deref(), Some("report user"));
        assert_eq!(
            c.password.as_ref().map(|p| p.as_ref().map(Secret::expose)),
            Some(Some("p#ss;w\"rd"))
        );
        assert_eq!(c.socket, Some(PathBuf::from("/run/x.sock")));
        assert_eq!(c.database.as_deref(), Some("sales"));
        assert_eq!(c.ssl_ca, Some(PathBuf::from("/ca.pem")));
        assert_eq!(c.ssl_mode, Some(SslMode::VerifyCa));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn value_escapes_and_unquoted_hash() {
        assert_eq!(parse_value(r#" a\sb\tc\\d\qe "#).unwrap(), "a b\tc\\d\\qe");
        assert_eq!(parse_value(" abc#def").unwrap(), "abc");
        assert_eq!(parse_value(r#" "a # b" "#).unwrap(), "a # b");
        assert_eq!(parse_value(r#" "say \"hi\"" "#).unwrap(), "say \"hi\"");
        assert_eq!(parse_value("").unwrap(), "");
        assert_eq!(parse_value(" pa\"ss ").unwrap(), "pa\"ss");
    }

    #[test]
    fn gold_digger_group_wins_over_client_whatever_the_order() {
        let c = parse("[gold_digger]\nuser=gd\n[client]\nuser=me\nhost=h\n").unwrap();
        assert_eq!(
            (c.user.as_deref(), c.host.as_deref()),
            (Some("gd"), Some("h"))
        );
        let c = parse("[client]\nuser=a\nuser=b\n").unwrap();
        assert_eq!(c.user.as_deref(), Some("b"), "the last value wins");
    }

    #[test]
    fn bare_password_asks_and_empty_password_is_empty() {
        assert_eq!(parse("[client]\npassword\n").unwrap().password, Some(None));
        assert_eq!(
            parse("[client]\npassword=\n").unwrap().password,
            Some(Some(Secret(String::new())))
        );
    }

    #[test]
    fn malformed_lines_name_the_line_and_never_the_text() {
        for (text, line) in [
            ("[client]\npassword=hunter2\n[client\n", 3),
            ("password=hunter2\n", 1),
            ("[client]\n=hunter2\n", 2),
            ("[client]\npassword=\"hunter2\n", 2),
            ("[client]\n\npassword='hunter2\"\n", 3),
            ("[client]\nport=hunter2\n", 2),
            ("[client]\nssl-mode=hunter2\n", 2),
            ("[client]\nhost\n", 2),
            ("[client]\n!frobnicate hunter2\n", 2),
            ("[client] hunter2\n", 1),
            ("[other]\n=hunter2\n", 2),
        ] {
            let e = parse(text).unwrap_err();
            let msg = e.to_string();
            assert_eq!(e.exit_code(), 2, "{text:?}");
            assert!(msg.contains(&format!(", line {line}:")), "{text:?}: {msg}");
            assert!(msg.contains("my.cnf"), "{text:?}: {msg}");
            assert!(!msg.contains("hunter2"), "{text:?}: {msg}");
        }
        let c = parse("[client]\nuser=\u{e9}\n[mysql]\npager='less\n").unwrap();
        assert_eq!(c.user.as_deref(), Some("\u{e9}"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.cnf");
        std::fs::write(&path, b"[client]\npassword=hunter2\xff\n").unwrap();
        let msg = load(Some(&path), false, None).unwrap_err().to_string();
        assert!(msg.contains("line 2") && !msg.contains("hunter2"), "{msg}");
    }

    #[test]
    fn includes_home_file_and_no_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("conf.d");
        std::fs::create_dir(&sub).unwrap();
        std::fs::write(sub.join("a.cnf"), "[client]\nuser=from_dir\n").unwrap();
        std::fs::write(sub.join("b.txt"), "[client]\nuser=not_read\n").unwrap();
        std::fs::write(dir.path().join("extra.cnf"), "[client]\nport=4000\n").unwrap();
        std::fs::write(
            dir.path().join(".my.cnf"),
            "[client]\nhost=h\n!include extra.cnf\n!includedir conf.d\n",
        )
        .unwrap();
        let c = load(None, false, Some(dir.path())).unwrap();
        assert_eq!(
            (c.host.as_deref(), c.port, c.user.as_deref()),
            (Some("h"), Some(4000), Some("from_dir"))
        );
        assert_eq!(c.files.len(), 3);
        assert_eq!(
            load(None, true, Some(dir.path())).unwrap(),
            MyCnf::default()
        );
        // No ~/.my.cnf: nothing, no error; a missing --defaults-file is an error.
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(
            load(None, false, Some(empty.path())).unwrap(),
            MyCnf::default()
        );
        let missing = empty.path().join("nope.cnf");
        assert_eq!(
            load(Some(&missing), false, None).unwrap_err().exit_code(),
            2
        );
        // An include loop is stopped.
        std::fs::write(dir.path().join("loop.cnf"), "[client]\n!include loop.cnf\n").unwrap();
        let e = load(Some(&dir.path().join("loop.cnf")), false, None).unwrap_err();
        assert!(e.to_string().contains("nested"), "{e}");
    }

    #[test]
    fn world_writable_files_are_ignored_with_a_warning() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("my.cnf");
        std::fs::write(&path, "[client]\nhost=evil\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let c = load(Some(&path), false, None).unwrap();
        assert_eq!(c.host, None);
        assert!(c.warnings[0].contains("world-writable"), "{:?}", c.warnings);
    }

    #[test]
    fn unsupported_tls_keys_warn_and_disabled_contradicts_files() {
        let c = parse("[client]\nssl-verify-server-cert\ncolumn-type-info\n").unwrap();
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(c.warnings[0].contains("ssl-verify-server-cert"));
        let e = parse("[client]\nssl-mode=disabled\nssl-ca=/x.pem\n").unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }
}
