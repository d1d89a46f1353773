//! Third-party-style inputs, as a new user feeds them to `verify`, `connlist`, `diff`,
//! `explain`, and to every other command that reads manifests (`backup`, `upgrade plan`,
//! `can-i`, `who-can`): API server list dumps, Helm output, JSON arrays, directories with stray files,
//! symlink loops, and objects the API server would refuse. Each case is a directory of files
//! made in a temporary directory, and each run the exit code and the lines it must print.
//!
//! Fail closed: an input error is exit 2 with its file:line:column, never an answer about the
//! part of the input that could be read.

use std::path::Path;
use std::process::Command;

/// One directory of inputs and the runs over it.
struct Case {
    name: &'static str,
    /// Files (path → content) created in the case's directory.
    files: &'static [(&'static str, &'static str)],
    /// Symlinks (link → target).
    links: &'static [(&'static str, &'static str)],
    runs: &'static [Run],
}

/// A command line, its exit code, and lines that stdout and stderr must hold (each compared
/// whole, leading spaces trimmed).
struct Run {
    args: &'static [&'static str],
    code: i32,
    stdout: &'static [&'static str],
    stderr: &'static [&'static str],
}

const PRIVILEGED_POD: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: lab
  labels:
    pod-security.kubernetes.io/enforce: restricted
---
apiVersion: v1
kind: Pod
metadata:
  name: bad
  namespace: lab
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: "30"
  containers:
  - name: c
    image: nginx
    securityContext:
      privileged: true
      runAsNonRot: true
"#;

const DENY_ALL_INTEGER_LABEL: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: p1, namespace: a, labels: {app: x}}
spec:
  containers: [{name: c, image: i}]
---
apiVersion: v1
kind: Pod
metadata: {name: p2, namespace: a, labels: {app: z}}
spec:
  containers: [{name: c, image: i}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny-all
  namespace: a
  labels:
    version: 1
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
"#;

const DENY_ALL: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: p1, namespace: a, labels: {app: x}}
spec:
  containers: [{name: c, image: i}]
---
apiVersion: v1
kind: Pod
metadata: {name: p2, namespace: a, labels: {app: z}}
spec:
  containers: [{name: c, image: i}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny-all
  namespace: a
  labels:
    version: "1"
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
"#;

const NAMESPACE_AND_POD_LISTS: &str = r#"apiVersion: v1
kind: NamespaceList
metadata: {resourceVersion: "12"}
items:
- metadata:
    name: shop
    labels: {team: a}
---
# Source: shop/templates/empty.yaml
---
apiVersion: v1
kind: PodList
items:
- metadata: {name: web-1, namespace: shop, labels: {app: web}}
  spec: {containers: [{name: c, image: nginx}]}
- metadata: {name: db-1, namespace: shop, labels: {app: db}}
  spec: {containers: [{name: c, image: pg}]}
"#;

const NETWORK_POLICY_LIST_JSON: &str = r#"{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicyList", "metadata": {},
 "items": [{"metadata": {"name": "db", "namespace": "shop"},
            "spec": {"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}], "ports": [{"port": 5432}]}]}}]}
"#;

const MIXED_LIST: &str = r#"apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: DeploymentList
  items: []
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: settings, namespace: shop}
"#;

const JSON_ARRAY: &str = r#"[{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "web", "namespace": "shop"}}]
"#;

const SHOP_CONNECTIONS: [&str; 5] = [
    "0.0.0.0-255.255.255.255[External] => shop/web-1[Pod] : All Connections",
    "shop/db-1[Pod] => 0.0.0.0-255.255.255.255[External] : All Connections",
    "shop/db-1[Pod] => shop/web-1[Pod] : All Connections",
    "shop/web-1[Pod] => 0.0.0.0-255.255.255.255[External] : All Connections",
    "shop/web-1[Pod] => shop/db-1[Pod] : TCP 5432",
];

const PODS_WITHOUT_A_SPEC: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: nospec, namespace: shop, labels: {app: web}}
---
apiVersion: v1
kind: Pod
metadata: {name: nullspec, namespace: shop, labels: {app: web}}
spec: null
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: shop}
spec:
  template:
    spec:
      containers: [{name: m, image: migrate}]
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
spec:
  containers: [{name: c, image: pg}]
"#;

/// What each command says about PODS_WITHOUT_A_SPEC: the API server refuses the first four
/// objects (`kubectl create --dry-run=server`), so they are input errors, never left out.
const NO_SPEC_ERRORS: [&str; 4] = [
    "error: nospec.yaml:1:1: Pod shop/nospec: spec.containers: Required value (the API server would refuse this object: it would not exist in the cluster)",
    "error: nospec.yaml:8:7: Pod shop/nullspec: spec.containers: Required value (the API server would refuse this object: it would not exist in the cluster)",
    "error: nospec.yaml:16:5: Deployment shop/web: spec.template.spec.containers: Required value (the API server would refuse this object: it would not exist in the cluster)",
    "error: nospec.yaml:24:7: Job shop/migrate: spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\" (the API server would refuse this object: it would not exist in the cluster)",
];

const CASES: &[Case] = &[
    Case {
        name: "a field of the wrong type and a misspelled field",
        files: &[("pod.yaml", PRIVILEGED_POD)],
        links: &[],
        runs: &[
            Run {
                args: &["verify", "pod.yaml"],
                code: 2,
                stdout: &[
                    "[load/refused] Pod lab/bad: spec.terminationGracePeriodSeconds: invalid type: string \"30\", expected i64 (the API server would refuse this object: it would not exist in the cluster)",
                    "pod.yaml:15:34",
                    "[load/refused] Pod lab/bad: strict decoding error: unknown field \"spec.containers[0].securityContext.runAsNonRot\" (the API server would refuse this object: it would not exist in the cluster)",
                    "pod.yaml:21:20",
                    "2 error(s), 1 warning(s), 0 info; 1 object(s) from 1 file(s)",
                ],
                stderr: &[],
            },
            Run {
                args: &["verify", "pod.yaml", "--as-admitted"],
                code: 0,
                stdout: &[
                    "[load/refused] Pod lab/bad: spec.terminationGracePeriodSeconds: invalid type: string \"30\", expected i64 (left out (--as-admitted): the API server would refuse it)",
                    "0 error(s), 3 warning(s), 0 info; 1 object(s) from 1 file(s)",
                ],
                stderr: &[],
            },
            Run {
                args: &["connlist", "pod.yaml"],
                code: 2,
                stdout: &[],
                stderr: &[
                    "error: pod.yaml:15:34: Pod lab/bad: spec.terminationGracePeriodSeconds: invalid type: string \"30\", expected i64 (the API server would refuse this object: it would not exist in the cluster)",
                    "error: 2 input error(s), 2 of them in objects the API server would refuse (--as-admitted analyses without those objects)",
                ],
            },
            Run {
                args: &["explain", "lab/bad", "lab/bad", "pod.yaml"],
                code: 2,
                stdout: &[],
                stderr: &[
                    "error: pod.yaml:21:20: Pod lab/bad: strict decoding error: unknown field \"spec.containers[0].securityContext.runAsNonRot\" (the API server would refuse this object: it would not exist in the cluster)",
                ],
            },
        ],
    },
    Case {
        name: "a deny-all policy with an integer label value",
        files: &[("bad.yaml", DENY_ALL_INTEGER_LABEL), ("good.yaml", DENY_ALL)],
        links: &[],
        runs: &[
            Run {
                args: &["connlist", "bad.yaml"],
                code: 2,
                stdout: &[],
                stderr: &[
                    "error: bad.yaml:19:14: NetworkPolicy a/deny-all: metadata.labels.version: invalid type: integer `1`, expected a string (YAML reads unquoted true, yes, on, no, numbers… as other types: quote it) (the API server would refuse this object: it would not exist in the cluster)",
                ],
            },
            Run { args: &["diff", "good.yaml", "bad.yaml"], code: 2, stdout: &[], stderr: &[] },
            Run {
                args: &["explain", "a/p1", "a/p2", "bad.yaml", "--port", "80"],
                code: 2,
                stdout: &[],
                stderr: &[],
            },
            Run { args: &["verify", "bad.yaml"], code: 2, stdout: &["bad.yaml:19:14"], stderr: &[] },
            Run {
                args: &["connlist", "good.yaml"],
                code: 0,
                stdout: &[],
                stderr: &["note: no allowed connections between the 2 workload(s) of the input"],
            },
            Run {
                args: &["explain", "a/p1", "a/p2", "good.yaml", "--port", "80"],
                code: 1,
                stdout: &["a/p1 → a/p2 on TCP 80: DENIED"],
                stderr: &[],
            },
            Run {
                args: &["connlist", "bad.yaml", "--as-admitted"],
                code: 0,
                stdout: &["a/p1[Pod] => a/p2[Pod] : All Connections"],
                stderr: &[
                    "warning: bad.yaml:19:14: NetworkPolicy a/deny-all: metadata.labels.version: invalid type: integer `1`, expected a string (YAML reads unquoted true, yes, on, no, numbers… as other types: quote it) (left out (--as-admitted): the API server would refuse it)",
                ],
            },
        ],
    },
    Case {
        name: "an unknown field in a pod template",
        files: &[(
            "deploy.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - name: web\n        image: nginx\n        imagePullPolcy: Always\n",
        )],
        links: &[],
        runs: &[Run {
            args: &["verify", "deploy.yaml"],
            code: 2,
            stdout: &[
                "[load/refused] Deployment shop/web: strict decoding error: unknown field \"spec.template.spec.containers[0].imagePullPolcy\" (the API server refuses this object under strict field validation (kubectl apply's default): it would not exist in the cluster)",
                "deploy.yaml:12:25",
            ],
            stderr: &[],
        }],
    },
    Case {
        name: "pods and pod templates without a spec, and a Job that would restart in place",
        files: &[("nospec.yaml", PODS_WITHOUT_A_SPEC)],
        links: &[],
        runs: &[
            Run {
                args: &["verify", "nospec.yaml"],
                code: 2,
                stdout: &[
                    "[load/refused] Pod shop/nospec: spec.containers: Required value (the API server would refuse this object: it would not exist in the cluster)",
                    "nospec.yaml:1:1",
                    "nospec.yaml:8:7",
                    "nospec.yaml:16:5",
                    "nospec.yaml:24:7",
                    "4 error(s), 5 warning(s), 2 info; 1 object(s) from 1 file(s)",
                ],
                stderr: &[],
            },
            Run { args: &["connlist", "nospec.yaml"], code: 2, stdout: &[], stderr: &NO_SPEC_ERRORS },
            Run {
                args: &["diff", "nospec.yaml", "nospec.yaml"],
                code: 2,
                stdout: &[],
                stderr: &NO_SPEC_ERRORS,
            },
            Run {
                args: &["explain", "shop/db", "shop/nospec", "nospec.yaml", "--port", "80"],
                code: 2,
                stdout: &[],
                stderr: &NO_SPEC_ERRORS,
            },
            Run {
                args: &["backup", "check", "nospec.yaml"],
                code: 2,
                stdout: &["4 error(s), 0 warning(s), 0 info; 1 object(s) from 1 file(s)"],
                stderr: &[],
            },
            Run {
                args: &["connlist", "nospec.yaml", "--as-admitted"],
                code: 0,
                stdout: &[
                    "0.0.0.0-255.255.255.255[External] => shop/db[Pod] : All Connections",
                    "shop/db[Pod] => 0.0.0.0-255.255.255.255[External] : All Connections",
                ],
                stderr: &[
                    "warning: nospec.yaml:1:1: Pod shop/nospec: spec.containers: Required value (left out (--as-admitted): the API server would refuse it)",
                ],
            },
        ],
    },
    Case {
        name: "invalid names and selectors",
        files: &[
            (
                "name.yaml",
                "apiVersion: v1\nkind: Pod\nmetadata: {name: My_Pod, namespace: shop}\nspec: {containers: [{name: c, image: i}]}\n",
            ),
            (
                "selector.yaml",
                "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop, labels: {app: web}}\nspec: {containers: [{name: c, image: i}]}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad-selector, namespace: shop}\nspec:\n  podSelector:\n    matchExpressions: [{key: app, operator: Is, values: [web]}]\n  policyTypes: [Ingress]\n",
            ),
        ],
        links: &[],
        runs: &[
            Run {
                args: &["verify", "name.yaml"],
                code: 2,
                stdout: &[
                    "[load/refused] Pod shop/My_Pod: metadata.name: Invalid value: \"My_Pod\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com') (the API server would refuse this object: it would not exist in the cluster)",
                    "name.yaml:3:18",
                ],
                stderr: &[],
            },
            Run {
                args: &["connlist", "selector.yaml"],
                code: 2,
                stdout: &[],
                stderr: &[
                    "error: selector.yaml:11: NetworkPolicy shop/bad-selector: spec.podSelector.matchExpressions[0].operator: Unsupported value: \"Is\": supported values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\"",
                ],
            },
            Run {
                args: &["verify", "selector.yaml"],
                code: 2,
                stdout: &[
                    "[netpol/invalid] NetworkPolicy shop/bad-selector: spec.podSelector.matchExpressions[0].operator: Unsupported value: \"Is\": supported values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\"",
                ],
                stderr: &[],
            },
        ],
    },
    Case {
        name: "API server lists, Helm streams, List with mixed items, JSON arrays",
        files: &[
            ("dump/lists.yaml", NAMESPACE_AND_POD_LISTS),
            ("dump/policies.json", NETWORK_POLICY_LIST_JSON),
            ("dump/mixed.yaml", MIXED_LIST),
            ("dump/array.json", JSON_ARRAY),
        ],
        links: &[],
        runs: &[
            Run { args: &["connlist", "dump"], code: 0, stdout: &SHOP_CONNECTIONS, stderr: &[] },
            Run {
                args: &["verify", "dump", "--only", "load,netpol"],
                code: 0,
                stdout: &["0 error(s), 3 warning(s), 2 info; 6 object(s) from 4 file(s)"],
                stderr: &[],
            },
            Run {
                args: &["explain", "shop/web-1", "shop/db-1", "dump", "--port", "5432"],
                code: 0,
                stdout: &["shop/web-1 → shop/db-1 on TCP 5432: ALLOWED"],
                stderr: &[],
            },
        ],
    },
    Case {
        name: "a directory with stray files",
        files: &[
            ("repo/lists.yaml", NAMESPACE_AND_POD_LISTS),
            ("repo/policies.json", NETWORK_POLICY_LIST_JSON),
            ("repo/README.md", "# shop\n"),
            ("repo/graph.dot", "digraph {}\n"),
            ("repo/graph.svg", "<svg/>\n"),
            ("repo/results.json", "{\"connections\": []}\n"),
            ("repo/kustomization.yaml", "resources:\n- lists.yaml\n"),
            ("repo/values.yaml", "replicas: 2\n"),
            ("repo/expected_output.txt", "a => b : All Connections\n"),
        ],
        links: &[],
        runs: &[
            Run {
                args: &["connlist", "repo"],
                code: 0,
                stdout: &SHOP_CONNECTIONS,
                stderr: &[
                    "note: repo/README.md: skipped: not a .yaml, .yml or .json file",
                    "note: repo/expected_output.txt: skipped: not a .yaml, .yml or .json file",
                    "note: repo/graph.dot: skipped: not a .yaml, .yml or .json file",
                    "note: repo/graph.svg: skipped: not a .yaml, .yml or .json file",
                    "note: repo/kustomization.yaml: skipped: a kustomize configuration, not a Kubernetes object (render it with `kubectl kustomize` first)",
                    "note: repo/results.json: skipped: no document has apiVersion or kind: not a Kubernetes object",
                    "note: repo/values.yaml: skipped: Helm values, not a Kubernetes object (render the chart with `helm template` first)",
                ],
            },
            Run { args: &["diff", "repo", "repo"], code: 0, stdout: &[], stderr: &[] },
            Run {
                args: &["connlist", "repo", "--strict-inputs"],
                code: 2,
                stdout: &[],
                stderr: &[
                    "error: repo/README.md: not a .yaml, .yml or .json file; an error under --strict-inputs",
                    "error: repo/values.yaml: Helm values, not a Kubernetes object (render the chart with `helm template` first); an error under --strict-inputs",
                    "error: 7 input error(s)",
                ],
            },
            Run {
                args: &["verify", "repo", "--only", "load", "--strict-inputs"],
                code: 2,
                stdout: &["7 error(s), 0 warning(s), 0 info; 4 object(s) from 2 file(s)"],
                stderr: &[],
            },
        ],
    },
    Case {
        name: "a file that looks like an object and is broken",
        files: &[
            ("repo/lists.yaml", NAMESPACE_AND_POD_LISTS),
            ("repo/broken.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p\n"),
        ],
        links: &[],
        runs: &[Run { args: &["connlist", "repo"], code: 2, stdout: &[], stderr: &[] }],
    },
    Case {
        name: "symlink loops and links to files read already",
        files: &[
            ("repo/lists.yaml", NAMESPACE_AND_POD_LISTS),
            ("repo/policies.json", NETWORK_POLICY_LIST_JSON),
        ],
        links: &[("repo/sub/up", ".."), ("repo/sub/again.yaml", "../lists.yaml")],
        runs: &[
            Run {
                args: &["connlist", "repo"],
                code: 0,
                stdout: &SHOP_CONNECTIONS,
                stderr: &[
                    "note: repo/sub/again.yaml: skipped: the same file as repo/lists.yaml, already read",
                    "note: repo/sub/up: symlink loop: leads back to repo, which is being read; not followed",
                ],
            },
            Run {
                args: &["verify", "repo", "--only", "load"],
                code: 0,
                stdout: &["0 error(s), 0 warning(s), 0 info; 4 object(s) from 2 file(s)"],
                stderr: &[],
            },
        ],
    },
    Case {
        name: "a dangling symlink",
        files: &[("repo/lists.yaml", NAMESPACE_AND_POD_LISTS)],
        links: &[("repo/gone.yaml", "nowhere.yaml"), ("repo/gone.txt", "nowhere.txt")],
        runs: &[
            Run {
                args: &["connlist", "repo"],
                code: 2,
                stdout: &[],
                stderr: &[
                    "note: repo/gone.txt: skipped: dangling symlink to nowhere.txt (No such file or directory (os error 2))",
                    "error: repo/gone.yaml: dangling symlink to nowhere.yaml (No such file or directory (os error 2))",
                ],
            },
            Run { args: &["verify", "repo"], code: 2, stdout: &[], stderr: &[] },
        ],
    },
];

const ROLES_ONE_BINDING_BROKEN: &str = r#"apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: shop}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-reads, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects:
  kind: User
  name: alice
"#;

const POD_WITHOUT_CONTAINERS: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: empty, namespace: shop}
spec:
  containers: []
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: []
"#;

/// The other commands that read manifests, on the same bad inputs: each exits 2 with the
/// located error (and `--as-admitted` analyses without the refused object).
const OTHER_COMMANDS: &[Case] = &[
    Case {
        name: "a pod and a pod template without containers",
        files: &[("pods.yaml", POD_WITHOUT_CONTAINERS)],
        links: &[],
        runs: &[
            Run {
                args: &["verify", "pods.yaml"],
                code: 2,
                stdout: &[
                    "[load/refused] Pod shop/empty: spec.containers: Required value (the API server would refuse this object: it would not exist in the cluster)",
                    "pods.yaml:5:15",
                    "[load/refused] Deployment shop/web: spec.template.spec.containers: Required value (the API server would refuse this object: it would not exist in the cluster)",
                    "pods.yaml:15:19",
                ],
                stderr: &[],
            },
            Run {
                args: &["connlist", "pods.yaml"],
                code: 2,
                stdout: &[],
                stderr: &[
                    "error: pods.yaml:5:15: Pod shop/empty: spec.containers: Required value (the API server would refuse this object: it would not exist in the cluster)",
                ],
            },
            Run {
                args: &["connlist", "pods.yaml", "--as-admitted"],
                code: 0,
                stdout: &[],
                stderr: &["note: no allowed connections between the 0 workload(s) of the input"],
            },
        ],
    },
    Case {
        name: "backup, upgrade and verify --target-version on an object the API server refuses",
        files: &[("pod.yaml", PRIVILEGED_POD), ("stray/README.md", "# notes\n")],
        links: &[],
        runs: &[
            Run {
                args: &["backup", "check", "pod.yaml"],
                code: 2,
                stdout: &[
                    "[load/refused] Pod lab/bad: spec.terminationGracePeriodSeconds: invalid type: string \"30\", expected i64 (the API server would refuse this object: it would not exist in the cluster)",
                    "pod.yaml:15:34",
                ],
                stderr: &[],
            },
            Run {
                args: &["backup", "check", "pod.yaml", "--as-admitted"],
                code: 0,
                stdout: &["0 error(s), 2 warning(s), 0 info; 1 object(s) from 1 file(s)"],
                stderr: &[],
            },
            Run {
                args: &["backup", "restore-plan", "pod.yaml"],
                code: 2,
                stdout: &[],
                stderr: &[
                    "error: pod.yaml:15:34: Pod lab/bad: spec.terminationGracePeriodSeconds: invalid type: string \"30\", expected i64 (the API server would refuse this object: it would not exist in the cluster)",
                    "error: 2 input error(s), 2 of them in objects the API server would refuse (--as-admitted analyses without those objects)",
                ],
            },
            Run {
                args: &["backup", "check", "stray", "--strict-inputs"],
                code: 2,
                stdout: &["1 error(s), 0 warning(s), 0 info; 0 object(s) from 0 file(s)"],
                stderr: &[],
            },
            Run {
                args: &["upgrade", "plan", "pod.yaml", "--target-version", "1.33"],
                code: 2,
                stdout: &[],
                stderr: &[
                    "error: pod.yaml:21:20: Pod lab/bad: strict decoding error: unknown field \"spec.containers[0].securityContext.runAsNonRot\" (the API server would refuse this object: it would not exist in the cluster)",
                ],
            },
            Run {
                args: &["upgrade", "plan", "pod.yaml", "--target-version", "1.33", "--as-admitted"],
                code: 0,
                stdout: &["Rollout order:"],
                stderr: &[
                    "warning: pod.yaml:21:20: Pod lab/bad: strict decoding error: unknown field \"spec.containers[0].securityContext.runAsNonRot\" (left out (--as-admitted): the API server would refuse it)",
                ],
            },
            Run {
                args: &["upgrade", "plan", "stray", "--strict-inputs"],
                code: 2,
                stdout: &[],
                stderr: &[
                    "error: stray/README.md: not a .yaml, .yml or .json file; an error under --strict-inputs",
                ],
            },
            Run {
                args: &["verify", "pod.yaml", "--target-version", "1.33"],
                code: 2,
                stdout: &["pod.yaml:15:34"],
                stderr: &[],
            },
        ],
    },
    Case {
        name: "can-i and who-can over a binding whose subjects are not a list",
        files: &[("rbac.yaml", ROLES_ONE_BINDING_BROKEN)],
        links: &[],
        runs: &[
            Run {
                args: &["can-i", "get", "pods", "-n", "shop", "--as", "alice", "-f", "rbac.yaml"],
                code: 2,
                stdout: &[],
                stderr: &[
                    "error: rbac.yaml:14:3: RoleBinding shop/alice-reads: subjects: invalid type: map, expected a sequence (the API server would refuse this object: it would not exist in the cluster)",
                ],
            },
            Run {
                args: &["who-can", "get", "pods", "-n", "shop", "-f", "rbac.yaml"],
                code: 2,
                stdout: &[],
                stderr: &[
                    "error: 1 input error(s), 1 of them in objects the API server would refuse (--as-admitted analyses without those objects)",
                ],
            },
            Run {
                args: &[
                    "can-i",
                    "get",
                    "pods",
                    "-n",
                    "shop",
                    "--as",
                    "alice",
                    "-f",
                    "rbac.yaml",
                    "--as-admitted",
                ],
                code: 1,
                stdout: &["no"],
                stderr: &[],
            },
        ],
    },
];

fn make(root: &Path, case: &Case) {
    for (path, text) in case.files {
        let path = root.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
        }
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
    for (link, target) in case.links {
        let link = root.join(link);
        if let Some(parent) = link.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(target, &link)
            .unwrap_or_else(|e| panic!("symlink {}: {e}", link.display()));
    }
}

#[test]
fn foreign_inputs_are_read_or_refused_with_their_location() {
    let mut failures = Vec::new();
    for case in CASES.iter().chain(OTHER_COMMANDS) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        make(dir.path(), case);
        for run in case.runs {
            let out = Command::new(env!("CARGO_BIN_EXE_autolabs"))
                .args(run.args)
                .current_dir(dir.path())
                .output()
                .unwrap_or_else(|e| panic!("cannot run autolabs: {e}"));
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let has = |text: &str, line: &str| text.lines().any(|l| l.trim_start() == line);
            let mut problems = Vec::new();
            if out.status.code() != Some(run.code) {
                problems.push(format!("exit {:?}, expected {}", out.status.code(), run.code));
            }
            problems.extend(
                run.stdout.iter().filter(|l| !has(&stdout, l)).map(|l| format!("stdout lacks {l:?}")),
            );
            problems.extend(
                run.stderr.iter().filter(|l| !has(&stderr, l)).map(|l| format!("stderr lacks {l:?}")),
            );
            // verify and backup check report input errors as findings; every other command
            // prints no answer at all.
            let reports_findings = run.args[0] == "verify" || run.args[..2] == ["backup", "check"];
            if run.code == 2 && !reports_findings && !stdout.is_empty() {
                problems.push("printed an answer although the input has errors".into());
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "{}: autolabs {}\n  {}\n--- stdout\n{stdout}--- stderr\n{stderr}",
                    case.name,
                    run.args.join(" "),
                    problems.join("\n  ")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
