#!/usr/bin/env python3
"""Every exported function is declared in a public header right under a
/** ... */ block that documents it: what it does, and for functions with
parameters an @param per parameter and, unless it returns void, a @return.

Usage: check-docs.py MAP HEADER...
"""

import re
import sys


def map_symbols(path):
    text = re.sub(r"/\*.*?\*/", "", open(path, encoding="utf-8").read(), flags=re.S)
    symbols = []
    for node in re.finditer(r"\{(.*?)\}", text, flags=re.S):
        body = node.group(1)
        if "global:" not in body:
            continue
        body = body.split("global:", 1)[1].split("local:", 1)[0]
        symbols += [s.strip() for s in body.split(";") if s.strip()]
    return symbols


def split_params(text):
    """Splits a parameter list at the commas outside parentheses."""
    params, depth, current = [], 0, ""
    for c in text:
        if c == "," and depth == 0:
            params.append(current.strip())
            current = ""
            continue
        depth += (c == "(") - (c == ")")
        current += c
    params.append(current.strip())
    return params


def declarations(headers):
    """name -> (header, doc comment or None, parameter names, returns void)"""
    found = {}
    for header in headers:
        text = open(header, encoding="utf-8").read()
        pattern = re.compile(
            r"(?P<doc>/\*\*(?:(?!\*/).)*\*/\s*)?"
            r"^(?P<ret>[A-Za-z_][\w \t*]*?)\b(?P<name>idm_\w+)\s*\((?P<params>[^;]*?)\);",
            flags=re.S | re.M)
        for m in pattern.finditer(text):
            names = []
            for p in split_params(m.group("params")):
                if p in ("void", ""):
                    continue
                pointer = re.search(r"\(\s*\*\s*(\w+)\s*\)", p)  # a function pointer
                names.append(pointer.group(1) if pointer else re.findall(r"\w+", p)[-1])
            returns_void = re.fullmatch(r"\s*void\s*", m.group("ret")) is not None
            found[m.group("name")] = (header, m.group("doc"), names, returns_void)
    return found


def main(argv):
    symbols = map_symbols(argv[0])
    decls = declarations(argv[1:])
    problems = []
    for sym in symbols:
        if sym not in decls:
            problems.append(f"{sym}: no declaration found in the public headers")
            continue
        header, doc, params, returns_void = decls[sym]
        if not doc:
            problems.append(f"{sym} ({header}): no /** */ block above the declaration")
            continue
        for p in params:
            if not re.search(r"@param\s+" + re.escape(p) + r"\b", doc):
                problems.append(f"{sym} ({header}): parameter '{p}' is not documented")
        if not returns_void and "@return" not in doc:
            problems.append(f"{sym} ({header}): the return value is not documented")
    for p in problems:
        print("FAIL: " + p)
    if not symbols:
        print("FAIL: no symbols read from the map")
        return 1
    if not problems:
        print(f"ok: all {len(symbols)} exported functions are documented in their headers")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
