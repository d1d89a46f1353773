//! Variables a container's command or arguments use that nothing sets.
//!
//! Two expansions happen to a container's `command`/`args`:
//! - the kubelet replaces `$(NAME)` with the container's env (its `env` and `envFrom`, and the
//!   Service link variables); an unknown `$(NAME)` stays as written and `$$` is a literal `$`
//!   (k8s.io/kubernetes/third_party/forked/golang/expansion/expand.go Expand, called from
//!   pkg/kubelet/container/helpers.go ExpandContainerCommandAndArgs). The image's own `ENV` is
//!   not part of that mapping.
//! - a shell expands `$NAME`/`${NAME}` only when the command is a shell running a `-c` script;
//!   then the process environment counts too: the image's `ENV` (PATH, HOME, HOSTNAME… and the
//!   well-known images' own) and whatever the script assigns. Anywhere else `$NAME` reaches
//!   the program as those literal characters.
//!
//! An `envFrom` source whose keys the inputs do not show (a ConfigMap or Secret that is not
//! among them) may set any name with its prefix, so such names are not reported.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Container, PodSpec};

use crate::objects::ObjectSet;

/// One variable reference nothing sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsetVariable {
    pub name: String,
    /// `$(NAME)` (kubelet syntax) rather than `$NAME`/`${NAME}` (shell syntax).
    pub kubelet_syntax: bool,
    /// The reference is inside a shell `-c` script.
    pub in_shell_script: bool,
}

impl UnsetVariable {
    /// What happens at run time, for a finding's message.
    pub fn consequence(&self) -> &'static str {
        match (self.kubelet_syntax, self.in_shell_script) {
            (true, true) => {
                "the kubelet leaves it as written and the shell runs it as a command, which fails"
            }
            (true, false) => "the kubelet leaves it as written, so the program gets the literal text",
            (false, true) => "the shell expands it to an empty string",
            (false, false) => {
                "no shell runs this command, so the program gets the literal text (use `$(NAME)` for the \
                 kubelet to expand it)"
            }
        }
    }

    pub fn written(&self) -> String {
        if self.kubelet_syntax { format!("$({})", self.name) } else { format!("${}", self.name) }
    }
}

/// Names every container process has (set by the runtime, the shell, or nearly every image).
const PROCESS_DEFAULTS: [&str; 14] = [
    "PATH", "HOME", "HOSTNAME", "PWD", "OLDPWD", "USER", "SHELL", "TERM", "LANG", "LC_ALL", "IFS", "PPID",
    "RANDOM", "UID",
];

/// The `ENV` of well-known images, by image name (no registry, no tag).
const IMAGE_DEFAULTS: [(&str, &[&str]); 6] = [
    ("postgres", &["PGDATA", "PG_MAJOR", "PG_VERSION", "GOSU_VERSION"]),
    ("mysql", &["MYSQL_MAJOR", "MYSQL_VERSION", "MYSQL_SHELL_VERSION", "GOSU_VERSION"]),
    ("mariadb", &["MARIADB_VERSION", "GOSU_VERSION"]),
    ("redis", &["REDIS_VERSION", "REDIS_DOWNLOAD_URL", "REDIS_DOWNLOAD_SHA"]),
    (
        "mongo",
        &["MONGO_MAJOR", "MONGO_VERSION", "MONGO_PACKAGE", "MONGO_REPO", "GOSU_VERSION", "JSYAML_VERSION"],
    ),
    ("minio/mc", &["MC_CONFIG_DIR"]),
];

/// Every `$(NAME)`, `$NAME` or `${NAME}` in `c`'s command and args that nothing sets, once each.
pub fn unset_variables(set: &ObjectSet, namespace: &str, pod: &PodSpec, c: &Container) -> Vec<UnsetVariable> {
    let known = Known::of(set, namespace, pod, c);
    let words: Vec<&String> = c.command.iter().flatten().chain(c.args.iter().flatten()).collect();
    let script_index = shell_script_index(&words);
    // Programs that read `$name` themselves (`awk '{print $NF}'`, `envsubst`, `perl -e`…).
    let program = words.first().map(|w| w.rsplit('/').next().unwrap_or(w)).unwrap_or_default();
    let expands_itself = INTERPRETERS.contains(&program);
    let mut out: Vec<UnsetVariable> = Vec::new();
    let mut push = |v: UnsetVariable| {
        if !out.iter().any(|o| o.name == v.name && o.kubelet_syntax == v.kubelet_syntax) {
            out.push(v);
        }
    };
    for (i, word) in words.iter().enumerate() {
        let in_shell = script_index == Some(i);
        let script_assigns = if in_shell { assigned_in_script(word) } else { BTreeSet::new() };
        for r in references(word, in_shell) {
            // Outside a shell, `$name` is only a variable by the env-var convention (upper case),
            // and not at all for a program that expands it itself.
            let literal_dollar = !r.kubelet_syntax && !in_shell;
            if literal_dollar && (expands_itself || r.name.chars().any(|c| c.is_ascii_lowercase())) {
                continue;
            }
            let set_somewhere = if r.kubelet_syntax {
                known.by_kubelet(&r.name)
            } else {
                known.by_kubelet(&r.name)
                    || known.by_process(&r.name, &c.image)
                    || script_assigns.contains(&r.name)
            };
            if !set_somewhere {
                push(UnsetVariable {
                    name: r.name,
                    kubelet_syntax: r.kubelet_syntax,
                    in_shell_script: in_shell,
                });
            }
        }
    }
    out
}

/// What a container's spec sets.
struct Known {
    names: BTreeSet<String>,
    /// Prefixes of `envFrom` sources whose keys are unknown (`""`: any name).
    open_prefixes: Vec<String>,
    service_links: bool,
}

impl Known {
    fn of(set: &ObjectSet, namespace: &str, pod: &PodSpec, c: &Container) -> Known {
        let mut names: BTreeSet<String> = c.env.iter().flatten().map(|e| e.name.clone()).collect();
        let mut open_prefixes = Vec::new();
        for source in c.env_from.iter().flatten() {
            let prefix = source.prefix.clone().unwrap_or_default();
            let (kind, name) = match (&source.config_map_ref, &source.secret_ref) {
                (Some(cm), _) => ("ConfigMap", cm.name.clone()),
                (None, Some(s)) => ("Secret", s.name.clone()),
                (None, None) => continue,
            };
            let found = set
                .of_kind("", kind)
                .find(|o| o.name == name && o.namespace.as_deref().unwrap_or("default") == namespace);
            match found {
                Some(o) => {
                    for field in ["data", "stringData", "binaryData"] {
                        if let Some(map) = o.value[field].as_object() {
                            names.extend(map.keys().map(|k| format!("{prefix}{k}")));
                        }
                    }
                }
                None => open_prefixes.push(prefix),
            }
        }
        Known { names, open_prefixes, service_links: pod.enable_service_links != Some(false) }
    }

    /// Set in the mapping the kubelet expands `$(NAME)` with (and so in the process env).
    // k8s.io/kubernetes/pkg/kubelet/kubelet_pods.go makeEnvironmentVariables: env, envFrom and
    // the Service variables (the master Service's always; the others with enableServiceLinks).
    fn by_kubelet(&self, name: &str) -> bool {
        self.names.contains(name)
            || self.open_prefixes.iter().any(|p| name.starts_with(p.as_str()))
            || name.starts_with("KUBERNETES_SERVICE_")
            || name.starts_with("KUBERNETES_PORT")
            || (self.service_links && is_service_link_name(name))
    }

    fn by_process(&self, name: &str, image: &Option<String>) -> bool {
        if PROCESS_DEFAULTS.contains(&name) {
            return true;
        }
        let Some(image) = image else { return false };
        let without_digest = image.split('@').next().unwrap_or(image);
        let last_colon_is_tag = without_digest.rfind(':').filter(|i| !without_digest[*i..].contains('/'));
        let repo = last_colon_is_tag.map(|i| &without_digest[..i]).unwrap_or(without_digest);
        let repo = repo.strip_prefix("docker.io/").unwrap_or(repo);
        let repo = repo.strip_prefix("library/").unwrap_or(repo);
        IMAGE_DEFAULTS
            .iter()
            .any(|(img, vars)| (repo == *img || repo.ends_with(&format!("/{img}"))) && vars.contains(&name))
    }
}

/// Programs whose arguments hold their own `$` syntax.
const INTERPRETERS: [&str; 13] = [
    "awk", "gawk", "mawk", "sed", "perl", "jq", "yq", "envsubst", "python", "python3", "ruby", "node", "php",
];

/// `FOO_SERVICE_HOST`, `FOO_SERVICE_PORT[_NAME]`, `FOO_PORT[_…]`.
// k8s.io/kubernetes/pkg/kubelet/envvars/envvars.go FromServices
fn is_service_link_name(name: &str) -> bool {
    name.contains("_SERVICE_HOST") || name.contains("_SERVICE_PORT") || name.contains("_PORT")
}

/// The index of the script in `sh -c SCRIPT` (any of the usual shells, `-c` alone or among
/// other single-letter flags such as `-ec`).
fn shell_script_index(words: &[&String]) -> Option<usize> {
    let first = words.first()?;
    let program = first.rsplit('/').next().unwrap_or(first);
    if !matches!(program, "sh" | "bash" | "ash" | "dash" | "zsh" | "ksh" | "busybox") {
        return None;
    }
    let flag = words.iter().position(|w| {
        w.len() > 1
            && w.starts_with('-')
            && !w.starts_with("--")
            && w[1..].chars().all(|ch| ch.is_ascii_alphabetic())
            && w.contains('c')
    })?;
    (flag + 1 < words.len()).then_some(flag + 1)
}

struct Reference {
    name: String,
    kubelet_syntax: bool,
}

/// The variable references in one word. In a shell script, `$(name)` with lower-case letters
/// is a command substitution, single-quoted text is literal and `\$` is escaped.
fn references(word: &str, shell: bool) -> Vec<Reference> {
    let bytes: Vec<char> = word.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut in_single_quotes = false;
    while i < bytes.len() {
        let ch = bytes[i];
        if shell && ch == '\'' {
            in_single_quotes = !in_single_quotes;
            i += 1;
            continue;
        }
        if shell && ch == '\\' {
            i += 2;
            continue;
        }
        if ch != '$' {
            i += 1;
            continue;
        }
        let next = bytes.get(i + 1).copied();
        match next {
            // `$$`: the kubelet's escape for a literal `$` (in a shell, the PID).
            Some('$') => i += 2,
            Some('(') => {
                // The kubelet expands `$(NAME)` even inside single quotes: it does not know shells.
                let rest: String = bytes[i + 2..].iter().collect();
                match rest.find(')') {
                    Some(end) if is_variable_name(&rest[..end]) => {
                        let name = &rest[..end];
                        let command_substitution = shell && name.chars().any(|c| c.is_ascii_lowercase());
                        if !command_substitution {
                            out.push(Reference { name: name.to_string(), kubelet_syntax: true });
                        }
                        i += 2 + rest[..end].chars().count() + 1;
                    }
                    _ => i += 2,
                }
            }
            Some('{') if shell && !in_single_quotes => {
                let rest: String = bytes[i + 2..].iter().collect();
                let name: String =
                    rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                // `${NAME:-default}`, `${NAME-x}`, `${NAME:=x}` supply their own value.
                let after = rest[name.len()..].chars().next();
                if is_variable_name(&name) && after == Some('}') {
                    out.push(Reference { name: name.clone(), kubelet_syntax: false });
                }
                i += 2 + name.len();
            }
            Some(c) if (c.is_ascii_alphabetic() || c == '_') && !(shell && in_single_quotes) => {
                let name: String =
                    bytes[i + 1..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == '_').collect();
                i += 1 + name.len();
                out.push(Reference { name, kubelet_syntax: false });
            }
            _ => i += 1,
        }
    }
    out
}

/// A C identifier, the names `$NAME` and (in practice) `$(NAME)` use.
fn is_variable_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Names a script sets itself: `NAME=…`, `export NAME=…`, `for NAME in`, `read [-r] NAME…`.
fn assigned_in_script(script: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let words: Vec<&str> =
        script.split(|c: char| c.is_whitespace() || c == ';' || c == '&' || c == '|').collect();
    for (i, w) in words.iter().enumerate() {
        if let Some((name, _)) = w.split_once('=')
            && is_variable_name(name)
        {
            out.insert(name.to_string());
        }
        if *w == "for"
            && let Some(name) = words.get(i + 1)
        {
            out.insert(name.to_string());
        }
        if *w == "read" {
            out.extend(
                words[i + 1..]
                    .iter()
                    .skip_while(|a| a.starts_with('-'))
                    .take_while(|a| is_variable_name(a))
                    .map(|a| a.to_string()),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(word: &str, shell: bool) -> Vec<(String, bool)> {
        references(word, shell).into_iter().map(|r| (r.name, r.kubelet_syntax)).collect()
    }

    #[test]
    fn references_follow_kubelet_and_shell_syntax() {
        let s = |n: &str, k: bool| (n.to_string(), k);
        assert_eq!(
            names("pg_dump $DATABASE_URL | gzip > /b/$(date +%F).gz", true),
            [s("DATABASE_URL", false)]
        );
        assert_eq!(
            names("$(DB_HOST) $$(ESCAPED) ${X:-d} ${Y} '$Z' \\$W", true),
            [s("DB_HOST", true), s("Y", false)]
        );
        assert_eq!(names("--host=$(DB_HOST)", false), [s("DB_HOST", true)]);
        assert_eq!(names("$(date)", false), [s("date", true)]);
        assert_eq!(names("$(date)", true), []);
        assert_eq!(names("$URL", false), [s("URL", false)]);
    }

    #[test]
    fn scripts_and_assignments() {
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let words = w(&["/bin/sh", "-ec", "x"]);
        assert_eq!(shell_script_index(&words.iter().collect::<Vec<_>>()), Some(2));
        let words = w(&["pg_dump", "-c", "x"]);
        assert_eq!(shell_script_index(&words.iter().collect::<Vec<_>>()), None);
        let assigned = assigned_in_script("F=/b/x; export G=1 && for H in a b; do read -r I J; done");
        for n in ["F", "G", "H", "I", "J"] {
            assert!(assigned.contains(n), "{n}: {assigned:?}");
        }
    }
}
