#!/usr/bin/env python3
"""Writes cluster_policy_mutations.rs: the conformance probes of network-policy-api that run
after a test has changed its objects (swapped two rules, changed a priority or an action,
made a port a named port, deleted a NetworkPolicy), with those changes, in order.

Upstream's subtests share one cluster: a change made in one subtest holds for the next ones,
so each ConformanceTest is one script of steps, replayed cumulatively by
cluster_conformance.rs. Probes before the first change are in cluster_policy_verdicts.rs.

Usage: extract_mutations.py <network-policy-api git dir>  (the release commits are those of
../shared/conformance/network-policy-api/PROVENANCE) > cluster_policy_mutations.rs
"""

import json
import re
import subprocess
import sys

RELEASES = [
    ("v0.2.0", "a17adecd0316b8ff1c3f83939ec0441d68cd6cce", "v1alpha2"),
    ("v0.1.8", "5a62954284765fb16f2e601f11907ca0b839b89f", "v1alpha1"),
]
PREFIX = "network-policy-conformance-"

EVENT = re.compile(
    "|".join(
        [
            r'(?P<run>t\.Run\("(?P<subtest>[^"]+)")',
            r'(?P<getpod>(?P<podvar>\w+)\s*:?=\s*kubernetes\.GetPod\(t, s\.Client, "(?P<podns>[^"]+)", "(?P<podname>[^"]+)")',
            r'(?P<getkey>s\.Client\.Get\(ctx, client\.ObjectKey\{\s*(?:Namespace:\s*"(?P<keyns>[^"]+)",\s*)?Name:\s*"(?P<keyname>[^"]+)",?\s*\}, (?P<keyvar>\w+)\))',
            r'(?P<getpolicy>(?P<polvar>\w+)\s*:?=\s*kubernetes\.Get\w*Policy\(t, s\.Client, "(?P<polname>[^"]+)")',
            r'(?P<copy>mutate\s*:=\s*(?P<copyvar>\w+)\.DeepCopy\(\))',
            r'(?P<swap>mutate\.Spec\.(?P<swaplist>Egress|Ingress)\[(?P<swapa>\d+)\]\s*=\s*mutate\.Spec\.(?P=swaplist)\[(?P<swapb>\d+)\])',
            r'(?P<priority>mutate\.Spec\.Priority\s*=\s*(?P<prio>\d+))',
            r'(?P<action>mutate\.Spec\.(?P<actlist>Egress|Ingress)\[(?P<actidx>\d+)\]\.Action\s*=\s*[\w.]*Action(?P<actval>Allow|Accept|Deny|Pass))',
            r'(?P<rulecopy>(?P<rulevar>\w+)\s*:=\s*mutate(?:\.DeepCopy\(\))?\.Spec\.(?P<rclist>Egress|Ingress)\[(?P<rcidx>\d+)\])',
            r'(?P<portname>(?P<pnvar>\w+Port)\s*:=\s*"(?P<pnval>[^"]+)")',
            r'(?P<named>(?:DestinationNamedPort:\s*|NamedPort:\s*&)(?P<namedvar>\w+))',
            r'(?P<ruleback>mutate\.Spec\.(?P<rblist>Egress|Ingress)\[(?P<rbidx>\d+)\]\s*=\s*(?P<rbvar>\w+Rule)\b)',
            r'(?P<append>mutate\.Spec\.\w+\s*=\s*append\()',
            r'(?P<delete>s\.Client\.Delete\(ctx, (?P<delvar>\w+)\))',
            r'(?P<poke>PokeServer\(t, s\.ClientSet, &s\.KubeConfig, "(?P<cns>[^"]+)", "(?P<cpod>[^"]+)", "(?P<proto>\w+)",\s*(?P<srvvar>\w+)\.Status\.PodIP, int32\((?P<port>[^)]+)\), [^,]+, (?P<want>true|false)\))',
        ]
    )
)


def strip_comments(text):
    return "\n".join(re.sub(r"^\s*//.*$", "", line) for line in text.splitlines())


def rust_str(s):
    return json.dumps(s)


def port_value(expr):
    m = re.fullmatch(r"s\.HostNetworkPorts\[(\d+)\]", expr.strip())
    if m:
        return 34340 + int(m.group(1))
    return int(expr)


def scripts_of(release, version, go_file, text):
    out = []
    for block in re.split(r"\nvar (?=\w+ = suite\.ConformanceTest\{)", strip_comments(text))[1:]:
        short = re.search(r'ShortName:\s*"([^"]+)"', block).group(1)
        manifest = re.search(r'Manifests:\s*\[\]string\{"([^"]+)"\}', block).group(1)
        variables, steps = {}, []
        subtest, target, rule, port_names, named = None, None, None, {}, None
        changed = False
        for m in EVENT.finditer(block):
            kind = m.lastgroup if m.lastgroup in ("run",) else next(k for k, v in m.groupdict().items() if v is not None and k in (
                "run", "getpod", "getkey", "getpolicy", "copy", "swap", "priority", "action", "rulecopy",
                "portname", "named", "ruleback", "append", "delete", "poke"))
            g = m.groupdict()
            if kind == "run":
                subtest = g["subtest"]
            elif kind == "getpod":
                variables[g["podvar"]] = (g["podns"], g["podname"])
            elif kind == "getkey":
                variables[g["keyvar"]] = (g["keyns"], g["keyname"])
            elif kind == "getpolicy":
                variables[g["polvar"]] = (None, g["polname"])
            elif kind == "copy":
                target = variables[g["copyvar"]][1]
            elif kind == "swap":
                changed = True
                lst = g["swaplist"].lower()
                steps.append(f'Step::Swap {{ subtest: {rust_str(subtest)}, policy: {rust_str(target)}, a: "/spec/{lst}/{g["swapa"]}", b: "/spec/{lst}/{g["swapb"]}" }}')
            elif kind == "priority":
                changed = True
                steps.append(f'Step::Set {{ subtest: {rust_str(subtest)}, policy: {rust_str(target)}, pointer: "/spec/priority", value: "{g["prio"]}" }}')
            elif kind == "action":
                changed = True
                steps.append(f'Step::Set {{ subtest: {rust_str(subtest)}, policy: {rust_str(target)}, pointer: "/spec/{g["actlist"].lower()}/{g["actidx"]}/action", value: {rust_str(json.dumps(g["actval"]))} }}')
            elif kind == "rulecopy":
                rule = (g["rulevar"], g["rclist"].lower(), g["rcidx"])
            elif kind == "portname":
                port_names[g["pnvar"]] = g["pnval"]
            elif kind == "named":
                named = port_names[g["namedvar"]]
            elif kind == "ruleback":
                if named is None:
                    # The second half of a swap (`mutate.Spec.Egress[1] = allowRule`).
                    rule = None
                    continue
                assert rule and rule[0] == g["rbvar"], (go_file, subtest)
                changed = True
                if version == "v1alpha2":
                    field, value = "protocols", [{"destinationNamedPort": named}]
                else:
                    field, value = "ports", [{"namedPort": named}]
                steps.append(f'Step::Set {{ subtest: {rust_str(subtest)}, policy: {rust_str(target)}, pointer: "/spec/{rule[1]}/{rule[2]}/{field}", value: {rust_str(json.dumps(value))} }}')
                rule, named = None, None
            elif kind == "append":
                changed = True
                steps.append(f'Step::Unsupported {{ subtest: {rust_str(subtest)}, reason: "adds a rule whose networks are the /32 (/128) of two pods\' IPs, which an offline analysis does not know" }}')
            elif kind == "delete":
                changed = True
                ns, name = variables[g["delvar"]]
                steps.append(f'Step::DeleteNetworkPolicy {{ subtest: {rust_str(subtest)}, namespace: {rust_str(ns)}, name: {rust_str(name)} }}')
            elif kind == "poke":
                if not changed:
                    continue
                server = variables[g["srvvar"]]
                steps.append(
                    f'Step::Probe {{ subtest: {rust_str(subtest)}, client: ({rust_str(g["cns"].removeprefix(PREFIX))}, {rust_str(g["cpod"])}), '
                    f'server: ({rust_str(server[0].removeprefix(PREFIX))}, {rust_str(server[1])}), protocol: {rust_str(g["proto"])}, '
                    f'port: {port_value(g["port"])}, allowed: {g["want"]} }}'
                )
        if changed:
            out.append((release, go_file, short, manifest, steps))
    return out


def main():
    git_dir = sys.argv[1]
    scripts = []
    for release, commit, version in RELEASES:
        files = subprocess.run(
            ["git", "-C", git_dir, "ls-tree", "--name-only", commit, "conformance/tests/"],
            check=True, capture_output=True, text=True,
        ).stdout.split()
        for path in sorted(files):
            if path.endswith("main.go"):
                continue
            text = subprocess.run(
                ["git", "-C", git_dir, "show", f"{commit}:{path}"], check=True, capture_output=True, text=True
            ).stdout
            scripts.extend(scripts_of(release, version, path.rsplit("/", 1)[1], text))
    print("// Generated by extract_mutations.py from upstream's conformance/tests/*.go at the release")
    print("// commits of ../shared/conformance/network-policy-api/PROVENANCE: every ConformanceTest that")
    print("// changes its objects, from its first change on, as the steps its subtests run in order")
    print("// (changes persist into later subtests). Probes before the first change are in")
    print("// cluster_policy_verdicts.rs.")
    print("pub const SCRIPTS: &[Script] = &[")
    for release, go_file, short, manifest, steps in scripts:
        print(f"    Script {{ release: {rust_str(release)}, go_test: {rust_str(go_file)}, short_name: {rust_str(short)}, manifest: {rust_str(manifest)}, steps: &[")
        for s in steps:
            print(f"        {s},")
        print("    ] },")
    print("];")


if __name__ == "__main__":
    main()
