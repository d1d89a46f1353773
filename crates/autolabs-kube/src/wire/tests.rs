//! The probe's own logic with a fake connector: fake CNIs decide each probe's outcome from
//! the analysis, enforcing everything, nothing, or only some features.

use super::plan::{Outcome, ProbePlan, Sample, Verdict, judge, sample_ports};
use super::*;
use autolabs_netpol::{ConnSet, Endpoint};
use std::collections::BTreeSet;

/// What a fake CNI enforces.
#[derive(Clone, Copy)]
enum FakeCni {
    /// Every policy, exactly (Calico, Cilium).
    Everything,
    /// Nothing (flannel, the local node's bridge).
    Nothing,
    /// TCP only: UDP traffic is never filtered.
    NoUdp,
    /// TCP and UDP: SCTP traffic is never filtered.
    NoSctp,
    /// Enforces everything, but the connector has no SCTP client (busybox).
    NoSctpClient,
}

/// The fake connector: a probe reaches its target when the CNI lets it through.
fn connect(plan: &ProbePlan, cni: FakeCni, enforced: &Analysis) -> Vec<Outcome> {
    plan.probes
        .iter()
        .map(|probe| {
            let from = Endpoint::Pod(plan.pods[probe.from].representative);
            let to = Endpoint::Pod(plan.pods[probe.to].representative);
            let through = match cni {
                FakeCni::Nothing => true,
                FakeCni::NoUdp if probe.protocol == Protocol::Udp => true,
                FakeCni::NoSctp if probe.protocol == Protocol::Sctp => true,
                FakeCni::NoSctpClient if probe.protocol == Protocol::Sctp => {
                    return Outcome::NotRun(run::SCTP_NOT_PROBED.into());
                }
                FakeCni::Everything | FakeCni::NoUdp | FakeCni::NoSctp | FakeCni::NoSctpClient => {
                    enforced.allows(from, to, probe.protocol, probe.port)
                }
            };
            if through { Outcome::Reached } else { Outcome::Blocked("timed out".into()) }
        })
        .collect()
}

fn baseline() -> (Analysis, ProbePlan) {
    let platform = autolabs_model::Platform::default();
    let set = rendered_set(&platform);
    plan_for(&set, &Intent::of_platform(&platform), &[Protocol::Tcp, Protocol::Udp])
        .expect("the baseline plans")
}

/// Two namespaces: `b`'s web pods accept TCP 8080-8089 (an endPort range) and UDP 5353 from
/// `a`, nothing else; `a` is not isolated.
const SMALL: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: v1
kind: Namespace
metadata: {name: b}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: a, labels: {app: client}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: b, labels: {app: web}}
spec: {containers: [{name: c, image: x}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-in, namespace: b}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: a}}}]
    ports:
    - {protocol: TCP, port: 8080, endPort: 8089}
    - {protocol: UDP, port: 5353}
"#;

fn small(text: &str) -> (Analysis, ProbePlan) {
    small_with(text, &[Protocol::Tcp, Protocol::Udp])
}

fn small_with(text: &str, protocols: &[Protocol]) -> (Analysis, ProbePlan) {
    let mut set = ObjectSet::default();
    set.add_text(text, "small.yaml");
    let intent = Intent {
        flows: Vec::new(),
        namespaces: ["a", "b"].into_iter().map(String::from).collect(),
        network: autolabs_model::Platform::default().spec.network.clone(),
    };
    plan_for(&set, &intent, protocols).expect("the small set plans")
}

/// [`SMALL`] with an SCTP port open too, probed on all three protocols.
fn small_sctp() -> (Analysis, ProbePlan) {
    let text = SMALL.replace(
        "    - {protocol: UDP, port: 5353}",
        "    - {protocol: UDP, port: 5353}\n    - {protocol: SCTP, port: 9899}",
    );
    assert!(text.contains("SCTP"));
    small_with(&text, &[Protocol::Tcp, Protocol::Udp, Protocol::Sctp])
}

#[test]
fn sctp_cells_are_planned_when_asked_and_judged_like_the_others() {
    let (analysis, plan) = small_sctp();
    let sctp: Vec<(u16, bool)> = plan
        .probes
        .iter()
        .filter(|p| p.protocol == Protocol::Sctp && plan.pods[p.to].namespace == "b")
        .map(|p| (p.port, p.predicted_allowed))
        .collect();
    assert!(sctp.contains(&(9899, true)) && sctp.contains(&(9898, false)), "{sctp:?}");
    let (_, without) = small(SMALL);
    assert!(without.probes.iter().all(|p| p.protocol != Protocol::Sctp), "SCTP only where asked");

    // A connector that speaks SCTP, on a CNI that enforces it: as predicted.
    let report = judge(&plan, &connect(&plan, FakeCni::Everything, &analysis));
    assert!(report.passed() && report.not_probed == 0, "{:?}", report.conclusions);
    // A CNI that filters TCP and UDP but not SCTP is named for SCTP.
    let report = judge(&plan, &connect(&plan, FakeCni::NoSctp, &analysis));
    assert!(!report.passed());
    for result in &report.results {
        let wrong = result.protocol == Protocol::Sctp && !result.predicted_allowed;
        assert_eq!(result.verdict == Verdict::AllowedButPredictedDenied, wrong, "{result:?}");
    }
    assert_eq!(report.conclusions.len(), 1, "{:?}", report.conclusions);
    assert!(
        report.conclusions[0].contains("does not enforce NetworkPolicy for SCTP"),
        "{:?}",
        report.conclusions
    );
}

#[test]
fn sctp_cells_without_an_sctp_client_are_not_probed_with_the_reason_in_the_verdict() {
    let (analysis, plan) = small_sctp();
    let report = judge(&plan, &connect(&plan, FakeCni::NoSctpClient, &analysis));
    let sctp = plan.probes.iter().filter(|p| p.protocol == Protocol::Sctp).count();
    assert!(sctp > 0);
    assert_eq!(report.not_probed, sctp);
    for result in report.results.iter().filter(|r| r.protocol == Protocol::Sctp) {
        assert_eq!(result.verdict, Verdict::NotProbed);
        assert_eq!(result.outcome, Outcome::NotRun(run::SCTP_NOT_PROBED.into()));
    }
    // The probed cells pass; the verdict says what was not probed, and why.
    assert!(report.passed());
    assert_eq!(
        report.conclusions,
        vec![
            "every probed cell is as predicted: the cluster enforces what the policies say".to_string(),
            format!("{sctp} SCTP probe(s) not probed: {}", run::SCTP_NOT_PROBED),
        ]
    );
}

#[test]
fn a_plan_restricted_to_some_namespaces_keeps_their_pods_and_the_probes_among_them() {
    let (_, whole) = baseline();
    let only: BTreeSet<String> = ["labs".to_string(), "platform".to_string()].into();
    let part = whole.restricted_to(&only);
    assert!(!part.pods.is_empty() && part.pods.len() < whole.pods.len());
    assert!(part.pods.iter().all(|p| only.contains(&p.namespace)));
    let key = |plan: &ProbePlan, p: &plan::Probe| {
        (
            plan.pods[p.from].stands_for.clone(),
            plan.pods[p.to].stands_for.clone(),
            p.protocol,
            p.port,
            p.predicted_allowed,
        )
    };
    let expected: Vec<_> = whole
        .probes
        .iter()
        .filter(|p| {
            only.contains(&whole.pods[p.from].namespace) && only.contains(&whole.pods[p.to].namespace)
        })
        .map(|p| key(&whole, p))
        .collect();
    let got: Vec<_> = part.probes.iter().map(|p| key(&part, p)).collect();
    assert_eq!(got, expected);
    assert!(
        part.probes.iter().any(|p| p.predicted_allowed) && part.probes.iter().any(|p| !p.predicted_allowed)
    );
    for (n, pod) in part.pods.iter().enumerate() {
        assert_eq!(pod.key, format!("p{n}"), "pod names stay p0, p1, …");
    }
}

#[test]
fn ports_are_sampled_at_both_ends_of_ranges_and_just_outside() {
    let allowed = ConnSet::range(Protocol::Tcp, 8080, 8089).union(&ConnSet::port(Protocol::Udp, 53));
    let tcp = sample_ports(&allowed, Protocol::Tcp);
    assert_eq!(
        tcp,
        vec![
            Sample { port: 8080, allowed: true, range_tail: false },
            Sample { port: 8089, allowed: true, range_tail: true },
            Sample { port: 8079, allowed: false, range_tail: false },
            Sample { port: 8090, allowed: false, range_tail: false },
        ]
    );
    let udp: Vec<(u16, bool)> =
        sample_ports(&allowed, Protocol::Udp).iter().map(|s| (s.port, s.allowed)).collect();
    assert_eq!(udp, vec![(53, true), (52, false), (54, false)]);
    // Nothing allowed: the far port only, predicted denied.
    let none: Vec<(u16, bool)> =
        sample_ports(&ConnSet::empty(), Protocol::Tcp).iter().map(|s| (s.port, s.allowed)).collect();
    assert_eq!(none, vec![(plan::FAR_PORT, false)]);
    // Everything allowed: both ends of the whole range (port 0 is never probed).
    let all: Vec<(u16, bool)> =
        sample_ports(&ConnSet::all(), Protocol::Udp).iter().map(|s| (s.port, s.allowed)).collect();
    assert_eq!(all, vec![(1, true), (65535, true)]);
}

#[test]
fn the_baseline_plan_has_one_pod_per_class_and_both_kinds_of_cells() {
    let (analysis, plan) = baseline();
    let host = analysis.classes().iter().filter(|c| c.host_network).count();
    assert_eq!(plan.pods.len() + plan.skipped_classes.len(), analysis.classes().len());
    assert_eq!(plan.skipped_classes.len(), host);
    assert!(plan.pods.len() >= 4, "{:?}", plan.pods);
    let allowed = plan.probes.iter().filter(|p| p.predicted_allowed).count();
    let denied = plan.probes.len() - allowed;
    assert!(allowed > 0 && denied > 0, "{allowed} allowed, {denied} denied");
    for probe in &plan.probes {
        assert_ne!(probe.from, probe.to);
        assert_ne!(probe.port, 0);
        assert!(probe.because.contains("egress") && probe.because.contains("ingress"), "{probe:?}");
    }
    eprintln!(
        "baseline: {} classes probed, {} probes ({allowed} predicted allowed, {denied} denied)",
        plan.pods.len(),
        plan.probes.len()
    );
}

#[test]
fn a_cni_that_enforces_nothing_is_named_and_every_denied_cell_is_reported() {
    let (analysis, plan) = baseline();
    let report = judge(&plan, &connect(&plan, FakeCni::Nothing, &analysis));
    assert!(!report.passed());
    for result in &report.results {
        let expected =
            if result.predicted_allowed { Verdict::AsPredicted } else { Verdict::AllowedButPredictedDenied };
        assert_eq!(result.verdict, expected, "{result:?}");
    }
    assert_eq!(
        report.allowed_but_predicted_denied,
        plan.probes.iter().filter(|p| !p.predicted_allowed).count()
    );
    assert_eq!(report.denied_but_predicted_allowed, 0);
    assert!(
        report.conclusions[0].starts_with("this cluster's CNI does not enforce NetworkPolicy:"),
        "{:?}",
        report.conclusions
    );
}

#[test]
fn a_cni_that_enforces_everything_passes() {
    let (analysis, plan) = baseline();
    let report = judge(&plan, &connect(&plan, FakeCni::Everything, &analysis));
    assert!(report.passed(), "{:?}", report.conclusions);
    assert_eq!(report.as_predicted, plan.probes.len());
    assert_eq!(
        report.conclusions,
        vec!["every probed cell is as predicted: the cluster enforces what the policies say"]
    );
}

#[test]
fn a_cni_that_does_not_filter_udp_is_named_for_udp_only() {
    let (analysis, plan) = small(SMALL);
    let report = judge(&plan, &connect(&plan, FakeCni::NoUdp, &analysis));
    assert!(!report.passed());
    for result in &report.results {
        let wrong = result.protocol == Protocol::Udp && !result.predicted_allowed;
        assert_eq!(result.verdict == Verdict::AllowedButPredictedDenied, wrong, "{result:?}");
    }
    assert!(report.allowed_but_predicted_denied > 0);
    assert_eq!(report.conclusions.len(), 1, "{:?}", report.conclusions);
    assert!(
        report.conclusions[0].contains("does not enforce NetworkPolicy for UDP"),
        "{:?}",
        report.conclusions
    );
}

#[test]
fn a_cni_without_end_port_blocks_the_tail_of_ranges_and_is_named() {
    let (_, plan) = small(SMALL);
    // What such a CNI enforces: the same policy with `endPort` dropped (the NetworkPolicy API
    // docs: a CNI that does not support endPort treats the rule as its `port` alone).
    let (without_end_port, same_plan) = small(&SMALL.replace(", endPort: 8089", ""));
    assert_eq!(plan.pods, same_plan.pods, "the same classes in the same order");
    let report = judge(&plan, &connect(&plan, FakeCni::Everything, &without_end_port));
    assert!(!report.passed());
    let blocked: Vec<(&str, &str, u16)> = report
        .results
        .iter()
        .filter(|r| r.verdict == Verdict::DeniedButPredictedAllowed)
        .map(|r| (r.from.as_str(), r.to.as_str(), r.port))
        .collect();
    // Both classes of `a` (the client and any other pod) lose the range's tail, nothing else.
    assert_eq!(
        blocked,
        vec![("a/client", "b/web", 8089), ("a/probe:unlabelled", "b/web", 8089)],
        "{:#?}",
        report.results
    );
    let result = report.results.iter().find(|r| r.port == 8089).expect("probed");
    assert!(
        result.because.contains("allowed by b/web-in"),
        "names the policy that should allow it: {}",
        result.because
    );
    assert_eq!(report.conclusions.len(), 1, "{:?}", report.conclusions);
    assert!(report.conclusions[0].contains("does not support endPort"), "{:?}", report.conclusions);
}

#[test]
fn probes_that_could_not_run_are_neither_passed_nor_failed() {
    let (analysis, plan) = small(SMALL);
    let mut outcomes = connect(&plan, FakeCni::Everything, &analysis);
    for (probe, outcome) in plan.probes.iter().zip(outcomes.iter_mut()) {
        if probe.protocol == Protocol::Udp {
            *outcome = Outcome::NotRun("the probe image has no UDP client".into());
        }
    }
    let report = judge(&plan, &outcomes);
    assert!(report.passed());
    assert_eq!(report.not_probed, plan.probes.iter().filter(|p| p.protocol == Protocol::Udp).count());
    assert!(report.not_probed > 0);
}

#[test]
fn namespace_selectors_by_name_are_renamed_for_the_sandbox_and_nothing_else() {
    let mut policy = serde_json::json!({
        "spec": {
            "podSelector": {"matchLabels": {"kubernetes.io/metadata.name": "pods-keep-this"}},
            "ingress": [{"from": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "labs", "zone": "x"}}},
                {"namespaceSelector": {"matchExpressions": [
                    {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["platform", "kube-system"]},
                    {"key": "zone", "operator": "In", "values": ["labs"]},
                ]}},
            ]}],
        }
    });
    run::rename_namespace_selectors(&mut policy, &|ns| run::mapped_namespace(Some("t1"), ns));
    let from = &policy["spec"]["ingress"][0]["from"];
    assert_eq!(from[0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"], "t1-labs");
    assert_eq!(from[0]["namespaceSelector"]["matchLabels"]["zone"], "x");
    let expressions = &from[1]["namespaceSelector"]["matchExpressions"];
    assert_eq!(expressions[0]["values"], serde_json::json!(["t1-platform", "t1-kube-system"]));
    assert_eq!(expressions[1]["values"], serde_json::json!(["labs"]), "other keys keep their values");
    assert_eq!(policy["spec"]["podSelector"]["matchLabels"]["kubernetes.io/metadata.name"], "pods-keep-this");
}

#[test]
fn a_sender_script_runs_its_probes_in_bounded_batches_and_its_log_parses() {
    let probes = vec![
        (0, Protocol::Tcp, "10.244.0.5".to_string(), 8080),
        (3, Protocol::Udp, "10.244.0.6".to_string(), 53),
        (7, Protocol::Tcp, "10.244.0.6".to_string(), 7077),
    ];
    let script = run::sender_script(&probes, std::time::Duration::from_secs(2), 2);
    assert!(
        script.contains("probe 0 TCP 10.244.0.5 8080 &\nprobe 3 UDP 10.244.0.6 53 &\nwait\nprobe 7 TCP"),
        "{script}"
    );
    assert!(script.contains("nc -w 2") && script.contains("timeout 3 nslookup"), "{script}");
    assert!(script.ends_with("wait\necho DONE\n"));
    let log = "R 3 reached\nR 0 blocked nc: timed out\nR 7 blocked\nDONE\n";
    let parsed = run::parse_sender_log(log).expect("finished");
    assert_eq!(parsed[&3], Outcome::Reached);
    assert_eq!(parsed[&0], Outcome::Blocked("nc: timed out".into()));
    assert_eq!(parsed[&7], Outcome::Blocked("timed out".into()));
    assert_eq!(run::parse_sender_log("R 3 reached\n"), None, "a script that did not finish");
}

#[test]
fn the_rendered_probe_rbac_has_a_role_in_every_namespace_the_baseline_plan_probes() {
    use autolabs_model::render::probe::{PROBE_SA, probe_namespaces, rbac};
    let (_, plan) = baseline();
    let platform = autolabs_model::Platform::default();
    let namespaces = probe_namespaces(&platform);
    let manifests = rbac(&platform);
    for pod in &plan.pods {
        assert!(namespaces.contains(&pod.namespace), "{} has no probe Role", pod.namespace);
        assert!(
            manifests.iter().any(|m| m.kind == "Role"
                && m.name == PROBE_SA
                && m.namespace.as_deref() == Some(&pod.namespace)),
            "Role in {}",
            pod.namespace
        );
    }
}

#[test]
fn the_reports_render_every_probe_and_the_verdict() {
    let (analysis, plan) = small(SMALL);
    let mut outcomes = connect(&plan, FakeCni::Nothing, &analysis);
    outcomes[0] = Outcome::NotRun("no client".into());
    let report = judge(&plan, &outcomes);
    let failures = report.allowed_but_predicted_denied;
    assert!(failures > 0);

    let xml = report::to_junit(&report, 12.34);
    assert!(xml.starts_with("<?xml") && xml.trim_end().ends_with("</testsuite>"), "{xml}");
    assert!(
        xml.contains(&format!(
            "tests=\"{}\" failures=\"{failures}\" skipped=\"1\" time=\"12.3\"",
            plan.probes.len()
        )),
        "{xml}"
    );
    assert_eq!(xml.matches("<testcase ").count(), plan.probes.len());
    assert_eq!(xml.matches("<failure message=\"allowed but predicted denied\"").count(), failures);
    assert_eq!(xml.matches("<skipped ").count(), 1);
    assert!(xml.contains("classname=\"a/client -&gt; b/web\""), "escaped: {xml}");
    assert!(xml.contains("does not enforce NetworkPolicy"), "{xml}");

    let json = report::to_json(&report, 12.34);
    assert_eq!(json["passed"], false);
    assert_eq!(json["wallSeconds"], 12.3);
    assert_eq!(json["allowedButPredictedDenied"].as_u64(), Some(failures as u64));
    assert_eq!(json["results"].as_array().map(Vec::len), Some(plan.probes.len()));
    assert_eq!(json["results"][0]["outcome"]["outcome"], "not_run");

    let table = report::to_table(&report, 12.34);
    assert_eq!(table.lines().next().map(|l| l.split_whitespace().next()), Some(Some("FROM")));
    assert!(table.contains("denied → reached") && table.contains("allowed but predicted denied"), "{table}");
    assert!(table.contains(&format!("{} probes in 12.3 s", plan.probes.len())), "{table}");
    assert!(table.contains("error: this cluster's CNI does not enforce NetworkPolicy"), "{table}");
}
