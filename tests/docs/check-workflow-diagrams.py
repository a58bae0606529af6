#!/usr/bin/env python3
"""Holds doc/workflows.md's state diagrams to the library's state tables.

  check-workflow-diagrams.py PRINT_GRAPHS DOC      the check
  check-workflow-diagrams.py --self-test PRINT_GRAPHS DOC

PRINT_GRAPHS is tests/docs/print_graphs (it prints the tables of
src/model/states.c); DOC is doc/workflows.md.  Each Mermaid state diagram
names its table with a line "%% graph: <name>"; its edges "a --> b", its
"[*] --> initial" and its "final --> [*]" must be exactly the table's.  The
table under "<!-- cert-follows-card -->" must give each card state the
certificate state the library gives it.  Every table must have its diagram.
Prints TAP; exits 1 on any difference.  --self-test breaks a copy of DOC in
each of those ways and checks that each is reported.
"""
import re
import subprocess
import sys

EDGE = re.compile(r"^\s*(\[\*\]|[A-Za-z_]+)\s*-->\s*(\[\*\]|[A-Za-z_]+)\s*(?::.*)?$")


def library_graphs(print_graphs):
    """{name: {"initial": s, "finals": set, "edges": set}}, {card state: cert state}."""
    out = subprocess.run([print_graphs], check=True, capture_output=True, text=True).stdout
    graphs, certs, cur = {}, {}, None
    for line in out.splitlines():
        word, *rest = line.split()
        if word == "graph":
            cur = graphs[rest[0]] = {"initial": None, "finals": set(), "edges": set()}
        elif word == "initial":
            cur["initial"] = rest[0]
        elif word == "final":
            cur["finals"].add(rest[0])
        elif word == "edge":
            cur["edges"].add((rest[0], rest[1]))
        elif word == "cert":
            certs[rest[0]] = rest[1]
    return graphs, certs


def doc_graphs(text):
    """The diagrams of the doc: {name: {...}}, and the names given twice."""
    graphs, twice = {}, []
    for block in re.findall(r"```mermaid\n(.*?)```", text, re.S):
        m = re.search(r"^\s*%% graph: (\S+)\s*$", block, re.M)
        if not m:
            continue
        name = m.group(1)
        if name in graphs:
            twice.append(name)
        g = graphs[name] = {"initial": None, "finals": set(), "edges": set()}
        for line in block.splitlines():
            e = EDGE.match(line)
            if not e:
                continue
            a, b = e.groups()
            if a == "[*]":
                g["initial"] = b
            elif b == "[*]":
                g["finals"].add(a)
            else:
                g["edges"].add((a, b))
    return graphs, twice


def doc_certs(text):
    """{card state: cert state} from the table under the marker."""
    m = re.search(r"<!-- cert-follows-card -->\n((?:\|.*\n)+)", text)
    if not m:
        return None
    certs = {}
    for row in m.group(1).splitlines()[2:]:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) != 2:
            continue
        to = re.findall(r"`([a-z_]+)`", cells[1])
        for state in re.findall(r"`([a-z_]+)`", cells[0]):
            certs[state] = to[0] if len(to) == 1 else "?"
    return certs


def differences(lib, lib_certs, text):
    """A list of (name, [problems]): one entry per check."""
    doc, twice = doc_graphs(text)
    results = []
    for name in sorted(lib):
        problems = []
        g = doc.get(name)
        if g is None:
            problems.append(f"no diagram with '%% graph: {name}'")
        else:
            want = lib[name]
            for a, b in sorted(want["edges"] - g["edges"]):
                problems.append(f"the diagram lacks {a} --> {b}")
            for a, b in sorted(g["edges"] - want["edges"]):
                problems.append(f"the diagram has {a} --> {b}, which the library refuses")
            if g["initial"] != want["initial"]:
                problems.append(f"the diagram starts in {g['initial']}, the library in "
                                f"{want['initial']}")
            if g["finals"] != want["finals"]:
                problems.append(f"final states: the diagram {sorted(g['finals'])}, the library "
                                f"{sorted(want['finals'])}")
        if name in twice:
            problems.append("two diagrams name this graph")
        results.append((f"the {name} diagram is the library's table", problems))
    unknown = sorted(set(doc) - set(lib))
    results.append(("every diagram names a table of the library",
                    [f"no table '{n}'" for n in unknown]))
    certs = doc_certs(text)
    problems = []
    if certs is None:
        problems.append("no table under <!-- cert-follows-card -->")
    else:
        for state in sorted(set(lib_certs) | set(certs)):
            if lib_certs.get(state) != certs.get(state):
                problems.append(f"card state {state}: the doc says {certs.get(state)}, the "
                                f"library {lib_certs.get(state)}")
    results.append(("the certificates-follow-their-card table is the library's", problems))
    return results


def check(print_graphs, doc_path):
    lib, lib_certs = library_graphs(print_graphs)
    with open(doc_path, encoding="utf-8") as f:
        text = f.read()
    failed = 0
    results = differences(lib, lib_certs, text)
    for i, (name, problems) in enumerate(results, 1):
        print(f"{'not ok' if problems else 'ok'} {i} - {name}")
        for p in problems:
            print(f"#   {p}")
        failed += bool(problems)
    print(f"1..{len(results)}")
    return 1 if failed else 0


def self_test(print_graphs, doc_path):
    lib, lib_certs = library_graphs(print_graphs)
    with open(doc_path, encoding="utf-8") as f:
        text = f.read()
    breakages = [
        ("a missing edge", text.replace("    issued --> active :", "    %% issued --> active :", 1),
         "the diagram lacks issued --> active"),
        ("an edge the library refuses",
         text.replace("%% graph: card-local\n", "%% graph: card-local\n    issued --> approved\n", 1),
         "the diagram has issued --> approved"),
        ("a wrong initial state",
         text.replace("%% graph: order\n    [*] --> open", "%% graph: order\n    [*] --> running", 1),
         "the diagram starts in running"),
        ("a final state missing",
         text.replace("    terminated --> [*]\n", "", 1),
         "final states: the diagram []"),
        ("a diagram missing", text.replace("%% graph: card-temporary", "%% temporary", 1),
         "no diagram with '%% graph: card-temporary'"),
        ("a diagram of no table", text.replace("%% graph: order", "%% graph: orders", 1),
         "no table 'orders'"),
        ("a certificate state wrong",
         text.replace("| `expired` | `expired` |", "| `expired` | `revoked` |", 1),
         "card state expired: the doc says revoked, the library expired"),
    ]
    n = 0
    failed = 0
    # the doc itself passes
    n += 1
    clean = all(not p for _, p in differences(lib, lib_certs, text))
    print(f"{'ok' if clean else 'not ok'} {n} - the doc as it is passes")
    failed += not clean
    for what, broken, needle in breakages:
        n += 1
        if broken == text:
            print(f"not ok {n} - {what}: the self-test could not break the doc")
            failed += 1
            continue
        found = [p for _, ps in differences(lib, lib_certs, broken) for p in ps]
        hit = any(needle in p for p in found)
        print(f"{'ok' if hit else 'not ok'} {n} - {what} is reported")
        if not hit:
            print(f"#   wanted: {needle}")
            for p in found:
                print(f"#   got: {p}")
        failed += not hit
    print(f"1..{n}")
    return 1 if failed else 0


def main(argv):
    if len(argv) == 4 and argv[1] == "--self-test":
        return self_test(argv[2], argv[3])
    if len(argv) == 3:
        return check(argv[1], argv[2])
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
