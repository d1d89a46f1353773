//! Bad LabTemplate files: every problem is reported at once, each with file:line and field,
//! unknown fields are rejected, names are unique across files, and nothing panics.

use autolabs_model::Platform;
use autolabs_model::lab::{load_template, load_templates};
use proptest::prelude::*;

const GOOD: &str = "\
apiVersion: autolabs.io/v1alpha1
kind: LabTemplate
metadata:
  name: shell
spec:
  image: busybox:1.36
  ports:
    - name: http
      port: 8080
";

/// `(line, field, message)` of every error of `text`.
fn errors(text: &str) -> Vec<(u32, String, String)> {
    match load_template(text, "shell.yaml", &Platform::default()) {
        Ok(t) => panic!("expected errors, loaded {t:?} from:\n{text}"),
        Err(e) => {
            assert!(e.0.iter().all(|e| e.file == "shell.yaml"));
            e.0.into_iter().map(|e| (e.line, e.field, e.message)).collect()
        }
    }
}

/// GOOD with `extra` appended under `spec:` (indented by two spaces already).
fn with_spec(extra: &str) -> String {
    format!("{GOOD}{extra}")
}

fn has(errs: &[(u32, String, String)], line: u32, field: &str, needle: &str) -> bool {
    errs.iter().any(|(l, f, m)| *l == line && f == field && m.contains(needle))
}

#[test]
fn a_minimal_template_loads_with_defaults() {
    let t = load_template(GOOD, "shell.yaml", &Platform::default()).expect("loads");
    assert_eq!(t.name(), "shell");
    assert!(t.spec.read_only_root_filesystem, "read-only root by default");
    assert!(!t.spec.internet);
    assert_eq!(t.spec.ttl.default.seconds(), 2 * 3600);
    assert_eq!(t.spec.ttl.max.seconds(), 8 * 3600);
    let eff = t.effective_resources(&Platform::default().spec.labs);
    assert_eq!(eff.requests.cpu.to_string(), "500m");
    assert_eq!(eff.limits.memory.to_string(), "1Gi");
}

#[test]
fn durations_are_read_in_every_documented_form() {
    for (text, secs) in [("90m", 5400), ("2h", 7200), ("1h30m", 5400), ("3600s", 3600), ("1800", 1800)] {
        let t = load_template(
            &with_spec(&format!("  ttl:\n    default: {text}\n    max: 8h\n")),
            "shell.yaml",
            &Platform::default(),
        )
        .expect("loads");
        assert_eq!(t.spec.ttl.default.seconds(), secs, "{text}");
    }
}

/// One row per rule: (what is appended under spec, line, field, words the message contains).
/// Lines 1–9 are GOOD; the appended text starts on line 10.
#[test]
fn each_rule_reports_its_line_and_field() {
    let rows: &[(&str, &str, u32, &str, &str)] = &[
        ("serde: unknown field", "  imagePullPolicy: Always\n", 10, "spec.imagePullPolicy", "unknown field"),
        ("serde: wrong type", "  internet: maybe\n", 10, "spec.internet", "invalid type"),
        ("duration syntax", "  ttl:\n    default: 2 days\n", 11, "spec.ttl.default", "not a duration"),
        (
            "ttl default > max",
            "  ttl:\n    default: 9h\n    max: 8h\n",
            11,
            "spec.ttl.default",
            "longer than the maximum",
        ),
        ("ttl zero", "  ttl:\n    max: 0s\n", 11, "spec.ttl.max", "longer than zero"),
        (
            "IsEnvVarName",
            "  env:\n    - name: 1BAD\n      value: x\n",
            11,
            "spec.env[0].name",
            "must not start with a digit",
        ),
        (
            "IsEnvVarName: chdir prefix",
            "  env:\n    - name: ..X\n",
            11,
            "spec.env[0].name",
            "must not start with '..'",
        ),
        (
            "env listed twice",
            "  env:\n    - name: A\n    - name: A\n",
            12,
            "spec.env[1].name",
            "listed twice",
        ),
        (
            "LimitRange max (limit)",
            "  resources:\n    limits:\n      memory: 2Gi\n",
            12,
            "spec.resources.limits.memory",
            "above the labs LimitRange maximum 1Gi",
        ),
        (
            "LimitRange min (request)",
            "  resources:\n    requests:\n      cpu: 50m\n",
            12,
            "spec.resources.requests.cpu",
            "below the labs LimitRange minimum 100m",
        ),
        (
            "request ≤ limit (ValidateResourceRequirements)",
            "  resources:\n    requests:\n      cpu: 800m\n    limits:\n      cpu: 600m\n",
            12,
            "spec.resources.requests.cpu",
            "must be less than or equal to cpu limit 600m",
        ),
        (
            "request defaulted from the limit (SetDefaults_Pod)",
            "  resources:\n    limits:\n      cpu: 50m\n",
            12,
            "spec.resources.limits.cpu",
            "cpu request 50m (taken from the limit) is below",
        ),
        (
            "request above the LimitRange default limit",
            "  resources:\n    requests:\n      memory: 1536Mi\n",
            12,
            "spec.resources.requests.memory",
            "(the labs LimitRange default limit)",
        ),
        (
            "quantity syntax",
            "  resources:\n    requests:\n      cpu: lots\n",
            12,
            "spec.resources.requests.cpu",
            "not a Kubernetes quantity",
        ),
        (
            "probe names a port",
            "  readinessProbe:\n    http:\n      path: /\n      port: web\n",
            13,
            "spec.readinessProbe.http.port",
            "not the name of one of the template's ports",
        ),
        (
            "probe path",
            "  readinessProbe:\n    http:\n      path: health\n      port: http\n",
            12,
            "spec.readinessProbe.http.path",
            "must start with '/'",
        ),
        (
            "probe kind",
            "  readinessProbe:\n    exec: {}\n",
            11,
            "spec.readinessProbe",
            "unknown variant `exec`, expected `http` or `tcp`",
        ),
        (
            "writable path absolute",
            "  writablePaths:\n    - path: home\n",
            11,
            "spec.writablePaths[0].path",
            "absolute",
        ),
        (
            "writable path unique (validateVolumeMounts)",
            "  writablePaths:\n    - path: /tmp\n",
            11,
            "spec.writablePaths[0].path",
            "must be unique",
        ),
        (
            "writable path '..'",
            "  writablePaths:\n    - path: /a/../etc\n",
            11,
            "spec.writablePaths[0].path",
            "'..'",
        ),
        (
            "writable size",
            "  writablePaths:\n    - path: /data\n      sizeLimit: 0\n",
            12,
            "spec.writablePaths[0].sizeLimit",
            "must be positive",
        ),
    ];
    for (rule, extra, line, field, needle) in rows {
        let e = errors(&with_spec(extra));
        assert!(has(&e, *line, field, needle), "{rule}: want {line} {field} {needle:?}, got {e:?}");
    }
}

/// Rules on the fields GOOD already has: (rule, text, line, field, message words).
#[test]
fn each_rule_of_the_base_fields_reports_its_line_and_field() {
    let rows: &[(&str, String, u32, &str, &str)] = &[
        ("apiVersion", GOOD.replace("autolabs.io/v1alpha1", "v1"), 1, "apiVersion", "must be"),
        ("kind", GOOD.replace("kind: LabTemplate", "kind: Platform"), 2, "kind", "must be \"LabTemplate\""),
        ("IsDNS1123Label name", GOOD.replace("name: shell", "name: Shell_1"), 4, "metadata.name", "RFC 1123"),
        ("image tag", GOOD.replace("busybox:1.36", "busybox"), 6, "spec.image", "no tag"),
        ("image latest", GOOD.replace("busybox:1.36", "busybox:latest"), 6, "spec.image", "latest"),
        ("image whitespace", GOOD.replace("busybox:1.36", "\"busybox :1\""), 6, "spec.image", "whitespace"),
        (
            "IsValidPortName length",
            GOOD.replace("name: http", "name: a-very-long-port-name"),
            8,
            "spec.ports[0].name",
            "no more than 15",
        ),
        (
            "IsValidPortName charset",
            GOOD.replace("name: http", "name: HTTP"),
            8,
            "spec.ports[0].name",
            "alpha-numeric",
        ),
        (
            "IsValidPortName letter",
            GOOD.replace("name: http", "name: \"8080\""),
            8,
            "spec.ports[0].name",
            "at least one letter",
        ),
        (
            "IsValidPortName hyphens",
            GOOD.replace("name: http", "name: a--b"),
            8,
            "spec.ports[0].name",
            "consecutive hyphens",
        ),
        (
            "IsValidPortName ends",
            GOOD.replace("name: http", "name: http-"),
            8,
            "spec.ports[0].name",
            "begin or end with a hyphen",
        ),
        (
            "IsValidPortNum",
            GOOD.replace("port: 8080", "port: 0"),
            9,
            "spec.ports[0].port",
            "between 1 and 65535",
        ),
        (
            "port out of u16",
            GOOD.replace("port: 8080", "port: 70000"),
            9,
            "spec.ports[0].port",
            "invalid value",
        ),
        (
            "lab ports of the platform",
            GOOD.replace("port: 8080", "port: 3000"),
            9,
            "spec.ports[0].port",
            "not a labs port",
        ),
        (
            "protocol must match the lab ports",
            GOOD.replace("port: 8080", "port: 8080\n      protocol: UDP"),
            9,
            "spec.ports[0].port",
            "not a labs port",
        ),
        (
            "ports required",
            GOOD.replace("  ports:\n    - name: http\n      port: 8080\n", "  ports: []\n"),
            7,
            "spec.ports",
            "at least one port",
        ),
        ("image required", GOOD.replace("  image: busybox:1.36\n", ""), 6, "spec", "missing field `image`"),
        ("unknown top-level field", format!("{GOOD}status: {{}}\n"), 10, "status", "unknown field"),
        (
            "unknown metadata field",
            GOOD.replace("  name: shell\n", "  name: shell\n  labels: {}\n"),
            5,
            "metadata.labels",
            "unknown field",
        ),
    ];
    for (rule, text, line, field, needle) in rows {
        let e = errors(text);
        assert!(has(&e, *line, field, needle), "{rule}: want {line} {field} {needle:?}, got {e:?}");
    }
}

#[test]
fn duplicate_ports_are_rejected_like_the_api_server() {
    let text = GOOD.replace(
        "  ports:\n    - name: http\n      port: 8080\n",
        "  ports:\n    - name: http\n      port: 8080\n    - name: http\n      port: 8080\n",
    );
    let e = errors(&text);
    assert!(has(&e, 10, "spec.ports[1].name", "must be unique"), "{e:?}");
    assert!(has(&e, 11, "spec.ports[1].port", "listed twice"), "{e:?}");
}

#[test]
fn every_error_of_a_file_is_reported_at_once() {
    let text = "\
apiVersion: autolabs.io/v1alpha1
kind: LabTemplate
metadata:
  name: shell
spec:
  image: busybox:1.36
  ports:
    - name: http
      port: 8080
  internet: maybe
  ttl:
    default: forever
  writablePaths:
    - path: /data
      size: 1Gi
  bogus: 1
";
    let e = errors(text);
    let fields: Vec<&str> = e.iter().map(|x| x.1.as_str()).collect();
    for want in ["spec.internet", "spec.ttl.default", "spec.writablePaths[0].size", "spec.bogus"] {
        assert!(fields.contains(&want), "{want} missing from {e:?}");
    }
    // In file order.
    let lines: Vec<u32> = e.iter().map(|x| x.0).collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
}

#[test]
fn semantic_problems_are_all_reported_too() {
    let text = GOOD.replace("busybox:1.36", "busybox").replace("port: 8080", "port: 9999")
        + "  ttl:\n    default: 9h\n  resources:\n    limits:\n      memory: 4Gi\n";
    let e = errors(&text);
    let fields: Vec<&str> = e.iter().map(|x| x.1.as_str()).collect();
    for want in ["spec.image", "spec.ports[0].port", "spec.ttl.default", "spec.resources.limits.memory"] {
        assert!(fields.contains(&want), "{want} missing from {e:?}");
    }
}

#[test]
fn yaml_syntax_errors_are_located() {
    let e = errors("apiVersion: autolabs.io/v1alpha1\nkind: LabTemplate\nspec:\n  ports: [1,\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].0 >= 4, "{e:?}");
    assert!(e[0].2.contains("not valid YAML"), "{e:?}");
    let e = errors("- a\n- b\n");
    assert!(e[0].2.contains("YAML mapping"), "{e:?}");
}

#[test]
fn template_names_are_unique_across_files() {
    let platform = Platform::default();
    let files = [("a.yaml", GOOD.to_string()), ("b.yaml", GOOD.to_string())];
    let err = load_templates(&files, &platform).expect_err("duplicate names");
    assert_eq!(err.0.len(), 1, "{err}");
    let e = &err.0[0];
    assert_eq!((e.file.as_str(), e.line, e.field.as_str()), ("b.yaml", 4, "metadata.name"));
    assert!(e.message.contains("already used by a.yaml"), "{}", e.message);
    assert_eq!(
        e.to_string().lines().next(),
        Some("b.yaml:4:9: metadata.name: template name \"shell\" is already used by a.yaml")
    );
}

#[test]
fn errors_of_all_files_come_back_together() {
    let platform = Platform::default();
    let other = GOOD.replace("name: shell", "name: other");
    let files = [
        ("bad1.yaml", GOOD.replace("port: 8080", "port: 1")),
        ("good.yaml", other),
        ("bad2.yaml", GOOD.replace("name: shell", "name: x").replace("busybox:1.36", "busybox")),
    ];
    let err = load_templates(&files, &platform).expect_err("two bad files");
    let files: Vec<&str> = err.0.iter().map(|e| e.file.as_str()).collect();
    assert_eq!(files, ["bad1.yaml", "bad2.yaml"]);
    let ok = load_templates(&[("good.yaml", GOOD)], &platform).expect("loads");
    assert_eq!(ok.names(), ["shell"]);
}

#[test]
fn a_platform_with_other_lab_ports_and_sizes_changes_what_fits() {
    let mut platform = Platform::default();
    platform.spec.labs.ports = vec![autolabs_model::platform::PortSpec::tcp(3000)];
    let e = load_template(GOOD, "shell.yaml", &platform).expect_err("8080 is no longer a lab port");
    assert!(e.0[0].message.contains("TCP/3000"), "{e}");
    let ok = GOOD.replace("port: 8080", "port: 3000");
    assert!(load_template(&ok, "shell.yaml", &platform).is_ok());

    // The Ingress routes HTTP to the first port, so it must be TCP even where UDP is allowed.
    platform.spec.labs.ports.push(autolabs_model::platform::PortSpec::udp(9000));
    let udp_first = GOOD.replace("port: 8080", "port: 9000\n      protocol: UDP");
    let e = load_template(&udp_first, "shell.yaml", &platform).expect_err("UDP first");
    assert_eq!(e.0.len(), 1, "{e}");
    assert_eq!((e.0[0].line, e.0[0].field.as_str()), (10, "spec.ports[0].protocol"));
}

proptest! {
    /// Arbitrary text never panics the loader; it loads or gives located errors.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = load_template(&text, "x.yaml", &Platform::default());
    }

    /// Arbitrary values in every spec field never panic either.
    #[test]
    fn arbitrary_field_values_never_panic(
        field in prop::sample::select(vec![
            "image", "ports", "command", "args", "env", "resources", "internet", "ttl",
            "readinessProbe", "readOnlyRootFilesystem", "writablePaths", "description",
        ]),
        value in prop::sample::select(vec![
            "1", "-1", "\"\"", "[]", "{}", "null", "true", "[{name: a}]", "{a: 1}", "2h", "[1, x]",
            "{http: {port: http}}", "{requests: {cpu: -1}}", "[{path: /x, sizeLimit: -1Gi}]",
        ]),
    ) {
        let text = GOOD.replace("spec:\n", &format!("spec:\n  {field}: {value}\n"));
        if let Err(e) = load_template(&text, "x.yaml", &Platform::default()) {
            prop_assert!(e.0.iter().all(|e| !e.message.is_empty()));
        }
    }
}

#[test]
fn the_schema_names_every_spec_field() {
    let schema = autolabs_model::lab::template_schema();
    let value: serde_json::Value = serde_json::from_str(&schema).expect("JSON");
    assert_eq!(value["$id"], "https://autolabs.io/schemas/labtemplate.v1alpha1.json");
    for field in [
        "image",
        "ports",
        "command",
        "args",
        "env",
        "resources",
        "internet",
        "ttl",
        "readinessProbe",
        "readOnlyRootFilesystem",
        "writablePaths",
        "description",
    ] {
        assert!(schema.contains(&format!("\"{field}\"")), "{field} missing from the schema");
    }
}
