//! Bad platform.yaml: every problem is reported at once, each with file:line and field, and
//! never a panic.

use autolabs_model::load_platform;
use proptest::prelude::*;

fn errors(text: &str) -> Vec<(u32, String, String)> {
    match load_platform(text, "platform.yaml") {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.0.into_iter().map(|e| (e.line, e.field, e.message)).collect(),
    }
}

const HEAD: &str = "apiVersion: autolabs.io/v1alpha1\nkind: Platform\nspec:\n";

#[test]
fn an_empty_spec_is_the_document() {
    let p = load_platform("apiVersion: autolabs.io/v1alpha1\nkind: Platform\n", "p.yaml").unwrap();
    assert_eq!(p, autolabs_model::Platform::default());
}

#[test]
fn wrong_type_names_line_and_field() {
    let e = errors(&format!("{HEAD}  labs:\n    students: many\n"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, 5);
    assert_eq!(e[0].1, "spec.labs.students");
    assert!(e[0].2.contains("invalid type"), "{}", e[0].2);
}

#[test]
fn unknown_field_names_the_field_itself() {
    let e = errors(&format!("{HEAD}  backup:\n    shedule: \"0 2 * * *\"\n"));
    assert_eq!(e[0].0, 5);
    assert_eq!(e[0].1, "spec.backup.shedule");
    assert!(e[0].2.contains("unknown field `shedule`"), "{}", e[0].2);
}

/// Reported: an `init` mvp file switched to production failed first on
/// `spec.controlPlane.nodes`, a field the user never wrote, located at the `profile:` line.
#[test]
fn switching_an_mvp_file_to_production_names_what_to_change() {
    let mvp = autolabs_model::init::starter(autolabs_model::Profile::Mvp, autolabs_model::Provider::Proxmox);
    let production = mvp.replacen("profile: mvp ", "profile: production", 1);
    assert_ne!(mvp, production, "the starter file has a `profile: mvp` line");
    let e = errors(&production);
    let fields: Vec<&str> = e.iter().map(|(_, f, _)| f.as_str()).collect();
    assert_eq!(fields, ["spec.nodes.controlPlane.count", "spec.nodes.workers.count"], "{e:?}");

    // With five control-plane nodes and the default three addresses, the error says the
    // addresses are a default the user has to write.
    let five = production.replacen("controlPlane: {count: 1,", "controlPlane: {count: 5,", 1).replacen(
        "workers: {count: 0}",
        "workers: {count: 3}",
        1,
    );
    let e = errors(&five);
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].1, "spec.controlPlane.nodes");
    assert!(e[0].2.contains("spec.controlPlane.nodes is not in the file: this is its default"), "{}", e[0].2);
}

#[test]
fn all_errors_are_reported_at_once() {
    let text = format!(
        "{HEAD}  labs:\n    students: -3\n  backup:\n    nope: 1\n  network:\n    podCidr: 10.0.0.0/33\n  bogus: true\n"
    );
    let e = errors(&text);
    let fields: Vec<&str> = e.iter().map(|x| x.1.as_str()).collect();
    assert!(fields.contains(&"spec.labs.students"), "{e:?}");
    assert!(fields.contains(&"spec.backup.nope"), "{e:?}");
    assert!(fields.contains(&"spec.bogus"), "{e:?}");
    // The sections that did deserialize are still checked semantically in the same pass.
    assert!(e.iter().any(|x| x.1 == "spec.network.podCidr" && x.0 == 9), "{e:?}");
}

#[test]
fn negative_sizes_and_malformed_cidrs_are_located() {
    let text = format!(
        "{HEAD}  storage:\n    postgresSize: -50Gi\n  network:\n    podCidr: 10.0.0.0/33\n    nodeCidr: 10.0.0.1/24\n"
    );
    let e = errors(&text);
    assert!(
        e.iter().any(|x| x.0 == 5 && x.1 == "spec.storage.postgresSize" && x.2.contains("positive")),
        "{e:?}"
    );
    assert!(
        e.iter().any(|x| x.0 == 7 && x.1 == "spec.network.podCidr" && x.2.contains("not an IPv4 CIDR")),
        "{e:?}"
    );
    assert!(
        e.iter().any(|x| x.0 == 8 && x.1 == "spec.network.nodeCidr" && x.2.contains("host bits")),
        "{e:?}"
    );
}

#[test]
fn more_students_than_the_nodes_hold_is_an_error() {
    let e = errors(&format!("{HEAD}  labs:\n    students: 200\n"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].0, 5);
    assert_eq!(e[0].1, "spec.labs.students");
    assert!(e[0].2.contains("200 students") && e[0].2.contains("hold only"), "{}", e[0].2);
}

#[test]
fn flows_are_checked() {
    let text = format!(
        "{HEAD}  isolation:\n    extraFlows:\n      - name: Bad_Name\n        from: {{namespace: platform, internet: true}}\n        to: {{cidr: 300.1.1.1/8}}\n        ports: [\"TCP/80\"]\n"
    );
    let e = errors(&text);
    let fields: Vec<&str> = e.iter().map(|x| x.1.as_str()).collect();
    assert!(fields.contains(&"spec.isolation.extraFlows[0].name"), "{e:?}");
    assert!(fields.contains(&"spec.isolation.extraFlows[0].from"), "{e:?}");
    assert!(fields.contains(&"spec.isolation.extraFlows[0].to.cidr"), "{e:?}");
    let bad_port = errors(&format!("{HEAD}  labs:\n    ports: [\"TCP/0\"]\n"));
    assert_eq!(bad_port[0].1, "spec.labs.ports[0]", "{bad_port:?}");
}

#[test]
fn wrong_header_and_yaml_syntax() {
    let e = errors("apiVersion: v1\nkind: Pod\n");
    assert_eq!(e.iter().map(|x| x.1.as_str()).collect::<Vec<_>>(), ["apiVersion", "kind"]);
    let e = errors("apiVersion: autolabs.io/v1alpha1\nkind: Platform\nspec:\n  labs: [unclosed\n");
    assert!(e[0].0 >= 4, "{e:?}");
    assert!(e[0].2.contains("not valid YAML"));
}

#[test]
fn schedules_and_profiles_are_checked() {
    let e = errors(&format!(
        "{HEAD}  profile: production\n  nodes:\n    controlPlane: {{count: 2}}\n  backup:\n    schedule: \"61 2 * * *\"\n"
    ));
    let fields: Vec<&str> = e.iter().map(|x| x.1.as_str()).collect();
    assert!(fields.contains(&"spec.nodes.controlPlane.count"), "{e:?}");
    assert!(fields.contains(&"spec.backup.schedule"), "{e:?}");
}

#[test]
fn messages_read_well() {
    let err =
        load_platform(&format!("{HEAD}  labs:\n    students: many\n"), "conf/platform.yaml").unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("error: conf/platform.yaml:5:"), "{text}");
    assert!(text.contains("spec.labs.students"), "{text}");
    assert!(text.contains("help:"), "{text}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Arbitrary text never panics the loader.
    #[test]
    fn never_panics(text in "\\PC{0,200}") {
        let _ = load_platform(&text, "fuzz.yaml");
    }

    /// Arbitrary values in real fields never panic and, when rejected, always name a field.
    #[test]
    fn bad_values_are_located(field in prop::sample::select(vec!["students", "podsPerStudent", "ports", "requests", "min"]), value in "[-a-zA-Z0-9./: ]{0,12}") {
        let text = format!("{HEAD}  labs:\n    {field}: {value:?}\n");
        if let Err(e) = load_platform(&text, "p.yaml") {
            for err in e.0 {
                prop_assert!(err.line > 0, "{err}");
            }
        }
    }
}

/// Alert routing: addresses, the SMTP host's port and Secret keys are checked where written;
/// a credential cannot be written in clear (there is no field for it).
#[test]
fn alerting_receivers_are_checked_where_written() {
    let text = format!(
        "{HEAD}  monitoring:\n    alerting:\n      telegram: {{chatId: -100123, botTokenKey: \"bad/key\"}}\n      email:\n        to: ops\n        from: am@example.org\n        smarthost: smtp.example.org\n"
    );
    let e = errors(&text);
    let fields: Vec<&str> = e.iter().map(|(_, f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        [
            "spec.monitoring.alerting.telegram.botTokenKey",
            "spec.monitoring.alerting.email.to",
            "spec.monitoring.alerting.email.smarthost"
        ],
        "{e:?}"
    );
    let lines: Vec<u32> = e.iter().map(|(line, _, _)| *line).collect();
    assert_eq!(lines, [6, 8, 10], "located at the lines that hold them: {e:?}");
    let clear = errors(&format!(
        "{HEAD}  monitoring:\n    alerting:\n      telegram: {{chatId: 1, botToken: \"123:abc\"}}\n"
    ));
    assert_eq!(clear[0].1, "spec.monitoring.alerting.telegram.botToken", "{clear:?}");
}

/// `spec.provisioner.image` is the field; `spec.images.provisioner`, its older name, is still
/// read alone, and refused beside it with the line of the old one.
#[test]
fn the_provisioner_image_has_one_field_and_an_older_alias() {
    let rendered_image = |text: &str| {
        let p = load_platform(text, "platform.yaml").unwrap_or_else(|e| panic!("{e}"));
        let rendered = autolabs_model::render(&p);
        let deployment = rendered
            .manifests
            .iter()
            .find(|m| m.kind == "Deployment" && m.name == "autolabs-provisioner")
            .expect("the provisioner Deployment is rendered");
        deployment.value["spec"]["template"]["spec"]["containers"][0]["image"].as_str().unwrap().to_string()
    };
    let pinned = "registry.example/autolabs:0.2.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    assert_eq!(rendered_image(&format!("{HEAD}  provisioner:\n    image: {pinned}\n")), pinned);
    assert_eq!(
        rendered_image(&format!("{HEAD}  images:\n    provisioner: old.example/autolabs:1\n")),
        "old.example/autolabs:1"
    );
    assert_eq!(rendered_image(HEAD), autolabs_model::versions::PROVISIONER_IMAGE.default);

    let e = errors(&format!("{HEAD}  provisioner:\n    image: a:1\n  images:\n    provisioner: b:2\n"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!((e[0].0, e[0].1.as_str()), (7, "spec.images.provisioner"), "{e:?}");
    assert!(e[0].2.contains("spec.provisioner.image"), "{}", e[0].2);

    let e = errors(&format!("{HEAD}  provisioner:\n    image: \"\"\n"));
    assert_eq!((e[0].0, e[0].1.as_str()), (5, "spec.provisioner.image"), "{e:?}");
    let e = errors(&format!("{HEAD}  provisioner:\n    imag: a:1\n"));
    assert_eq!(e[0].1, "spec.provisioner.imag", "{e:?}");
}
