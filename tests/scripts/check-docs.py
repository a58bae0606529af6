#!/usr/bin/env python3
"""Every exported function is declared in a public header right under a
/** ... */ block that documents it, and the documents made from those
blocks are current.

For each symbol of the linker map the check fails, naming the function and
what is missing, when its block
  - is absent, or has no description before the first tag;
  - lacks an @param for a parameter (or has one for a parameter that does
    not exist), or a @return although the function returns a value;
  - does not say who owns a pointer the function hands out: an
    out-parameter receiving a pointer (T **, const char **, ...) must say in
    its @param text "owned by ...", "valid until ...", "static", "borrowed",
    "not owned" or "released with ...", and so must the @return of a
    function returning a pointer; an idm_x_free(T **p) must say it sets *p
    to NULL;
  - has no "Thread-safety:" line and its header's top comment has none
    either.
Every public type, ops or hooks member, callback and macro needs a /** */
block too (callbacks also @param and @return).

--root DIR  also checks that DIR/doc/api/reference.md is exactly what
            scripts/gen-api-reference.py makes from DIR's headers.
--man PAGE  also checks a man page: `man --warnings -l PAGE` says nothing,
            and the page names every public header and every idm_err code.
--self-test feeds the check scratch headers with each kind of gap and
            expects each to be reported (and a complete one to pass).

Usage: check-docs.py [--root DIR] [--man PAGE]... MAP HEADER...
       check-docs.py --self-test
"""

import contextlib
import difflib
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
GENERATOR = os.path.join(HERE, "..", "..", "scripts", "gen-api-reference.py")


def load_generator():
    spec = importlib.util.spec_from_file_location("gen_api_reference", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = load_generator()


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


def says_ownership(text):
    return any(w in (text or "").lower() for w in gen.OUT_OWNERSHIP)


def check_function(fn, header):
    where = f"{fn.name} ({header.path})"
    doc = fn.doc
    if doc is None:
        return [f"{where}: no /** */ block above the declaration"]
    problems = []
    if not doc.has_description():
        problems.append(f"{where}: no description before the @param/@return tags")
    for name in fn.param_names:
        if name not in doc.params:
            problems.append(f"{where}: parameter '{name}' is not documented (@param)")
    for name in doc.param_order:
        if name not in fn.param_names:
            problems.append(f"{where}: @param '{name}' names no parameter of the function")
    if fn.returns != "void" and not doc.returns:
        problems.append(f"{where}: the return value is not documented (@return)")
    if gen.is_release(fn):
        p = fn.param_names[0]
        if not re.search(r"\*" + re.escape(p) + r"\b[^.]*\bto NULL", " ".join(doc.description)):
            problems.append(f"{where}: does not say that it sets *{p} to NULL")
    else:
        for p, name in zip(fn.params, fn.param_names):
            if gen.pointer_out(p) and name in doc.params and not says_ownership(doc.params[name]):
                problems.append(
                    f"{where}: out-parameter '{name}' ({gen.param_type(p)}) does not say who "
                    "owns the pointer it receives (owned by the caller / owned by the handle "
                    "/ valid until ... / static / borrowed)")
    if "*" in fn.returns and doc.returns and not says_ownership(doc.returns):
        problems.append(f"{where}: the @return does not say who owns the pointer returned "
                        "(static / owned by ... / valid until ...)")
    if not doc.thread_safety and not header.thread_safety:
        problems.append(f"{where}: thread-safety is not stated: no 'Thread-safety:' line in "
                        f"its comment, nor in the top comment of {header.include}")
    return problems


def check_type(item, header):
    where = f"{item.name} ({header.path})"
    if item.doc is None:
        return [f"{where}: public {item.kind} without a /** */ block"]
    problems = []
    if not item.doc.has_description():
        problems.append(f"{where}: no description")
    if item.kind == "struct":
        for name, _, text in item.members:
            if not text:
                problems.append(f"{where}: member '{name}' is not documented")
    if item.kind == "callback":
        for name in item.param_names:
            if name not in item.doc.params:
                problems.append(f"{where}: parameter '{name}' is not documented (@param)")
        if item.returns != "void" and not item.doc.returns:
            problems.append(f"{where}: the return value is not documented (@return)")
    return problems


def check_headers(map_path, header_paths):
    symbols = map_symbols(map_path)
    headers = [gen.parse_header(path) for path in header_paths]
    functions = {}
    problems = []
    for h in headers:
        for item in h.items:
            if item.kind == "function":
                functions[item.name] = (item, h)
            elif item.kind in ("handle", "enum", "struct", "callback", "macro"):
                problems += check_type(item, h)
    if not symbols:
        problems.append("no symbols read from the map " + map_path)
    for sym in symbols:
        if sym not in functions:
            problems.append(f"{sym}: no declaration found in the public headers")
            continue
        problems += check_function(*functions[sym])
    return problems, len(symbols), headers


def check_reference(root):
    path = os.path.join(root, gen.REFERENCE)
    fresh = gen.render(root)
    old = open(path, encoding="utf-8").read() if os.path.exists(path) else None
    if old == fresh:
        return []
    if old is None:
        return [f"{path} does not exist: run scripts/gen-api-reference.py"]
    diff = list(difflib.unified_diff(old.splitlines(), fresh.splitlines(), gen.REFERENCE,
                                     "from the headers", n=0, lineterm=""))
    shown = "\n".join("      " + line for line in diff[:30])
    more = f"\n      ... {len(diff) - 30} more diff lines" if len(diff) > 30 else ""
    return [f"{gen.REFERENCE} is out of date with the headers: run "
            f"scripts/gen-api-reference.py\n{shown}{more}"]


def check_man(page, headers):
    problems = []
    man = shutil.which("man")
    if man is None:
        return [f"{page}: cannot check it: man is not installed (Debian package man-db, "
                "which scripts/install-deps.sh installs)"]
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80")
    run = subprocess.run([man, "--warnings", "-l", page], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, env=env, text=True, check=False)
    for line in run.stderr.splitlines():
        if line.strip():
            problems.append(f"{page}: man --warnings: {line.strip()}")
    if run.returncode != 0:
        problems.append(f"{page}: man --warnings -l exited with {run.returncode}")
    text = open(page, encoding="utf-8").read()
    for h in headers:
        if h.include != "idm/idm.h" and h.include not in text:
            problems.append(f"{page}: does not name the public header <{h.include}> (FILES)")
        for item in h.items:
            if item.kind == "enum" and item.name == "idm_err":
                for code, _, _ in item.values:
                    if code not in text.replace("\\", ""):
                        problems.append(f"{page}: does not list the error code {code}")
    return problems


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    root, pages = None, []
    while argv and argv[0].startswith("--"):
        opt = argv.pop(0)
        if opt == "--root" and argv:
            root = argv.pop(0)
        elif opt == "--man" and argv:
            pages.append(argv.pop(0))
        else:
            print(f"usage: check-docs.py [--root DIR] [--man PAGE]... MAP HEADER... ({opt}?)")
            return 2
    if len(argv) < 2:
        print("usage: check-docs.py [--root DIR] [--man PAGE]... MAP HEADER...")
        return 2
    problems, count, headers = check_headers(argv[0], argv[1:])
    if root is not None:
        problems += check_reference(root)
    for page in pages:
        problems += check_man(page, headers)
    for p in problems:
        print("FAIL: " + p)
    if problems:
        return 1
    print(f"ok: all {count} exported functions are documented in their headers "
          "(description, parameters, return value, ownership, thread-safety)")
    if root is not None:
        print(f"ok: {gen.REFERENCE} is up to date")
    for page in pages:
        print(f"ok: {page} formats without warnings and names every header and error code")
    return 0


# ---- the negative control ----------------------------------------------------

SCRATCH_HEADER = """\
/*
 * libidm - a scratch header for the self-test of check-docs.py.
 */
#ifndef IDM_DEMO_H
#define IDM_DEMO_H

#include <stddef.h>

/** A demo handle. */
typedef struct idm_demo idm_demo_t;

/**
 * Creates a demo.
 *
 * @param out  receives the demo, owned by the caller.
 * @param n    how many.
 * @return IDM_OK or IDM_ERR_INVALID_ARG.
 * Thread-safety: safe to call from any thread.
 */
int idm_demo_new(idm_demo_t **out, int n);

/**
 * Releases a demo and sets *demo to NULL.  NULL-safe.
 *
 * @param demo  address of the caller's pointer.
 * Thread-safety: a demo is used by one thread at a time.
 */
void idm_demo_free(idm_demo_t **demo);
%(bad)s
#endif
"""

BAD_DECLARATIONS = """
int idm_demo_undocumented(idm_demo_t *demo);

/**
 * @param demo  the demo.
 * @return IDM_OK.
 * Thread-safety: any thread.
 */
int idm_demo_no_description(idm_demo_t *demo);

/**
 * Sets two things.
 *
 * @param demo  the demo.
 * @param nmae  a misspelt parameter.
 * @return IDM_OK.
 * Thread-safety: any thread.
 */
int idm_demo_param_missing(idm_demo_t *demo, int name);

/**
 * Counts.
 *
 * @param demo  the demo.
 * Thread-safety: any thread.
 */
int idm_demo_no_return(idm_demo_t *demo);

/**
 * The demo's name.
 *
 * @param demo  the demo.
 * @param out   receives the name.
 * @return IDM_OK.
 * Thread-safety: any thread.
 */
int idm_demo_get_name(const idm_demo_t *demo, const char **out);

/**
 * The demo's label.
 *
 * @param demo  the demo.
 * @return the label.
 * Thread-safety: any thread.
 */
const char *idm_demo_label(const idm_demo_t *demo);

/**
 * Resets the demo.
 *
 * @param demo  the demo.
 * @return IDM_OK.
 */
int idm_demo_no_thread_safety(idm_demo_t *demo);

/**
 * Drops a demo.
 *
 * @param demo  address of the caller's pointer.
 * Thread-safety: any thread.
 */
void idm_demo_bad_free(idm_demo_t **demo);

typedef void (*idm_demo_fn)(int n, void *user_data);
"""

BAD_SYMBOLS = ["idm_demo_undocumented", "idm_demo_no_description", "idm_demo_param_missing",
               "idm_demo_no_return", "idm_demo_get_name", "idm_demo_label",
               "idm_demo_no_thread_safety", "idm_demo_bad_free", "idm_demo_missing"]

EXPECTED = [
    "idm_demo_undocumented (", "no /** */ block above the declaration",
    "idm_demo_no_description (", "no description before the @param/@return tags",
    "idm_demo_param_missing (", "parameter 'name' is not documented",
    "@param 'nmae' names no parameter",
    "idm_demo_no_return (", "the return value is not documented",
    "idm_demo_get_name (", "out-parameter 'out' (const char **) does not say who owns",
    "idm_demo_label (", "the @return does not say who owns",
    "idm_demo_no_thread_safety (", "thread-safety is not stated",
    "idm_demo_bad_free (", "does not say that it sets *demo to NULL",
    "idm_demo_missing: no declaration found",
    "idm_demo_fn (", "public callback without a /** */ block",
    "doc/api/reference.md is out of date with the headers: run scripts/gen-api-reference.py",
]

GOOD_MAN = """\
.TH DEMO 3 2024-01-01 libidm "libidm manual"
.SH NAME
demo \\- a scratch page naming idm/demo.h
"""


def run_quiet(argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(argv)
    return rc, out.getvalue()


def scratch_tree(base, bad, symbols):
    inc = os.path.join(base, "include", "idm")
    os.makedirs(inc)
    os.makedirs(os.path.join(base, "doc", "api"))
    with open(os.path.join(inc, "idm.h"), "w", encoding="utf-8") as f:
        f.write("/*\n * libidm - scratch umbrella.\n */\n#include <idm/demo.h>\n")
    header = os.path.join(inc, "demo.h")
    with open(header, "w", encoding="utf-8") as f:
        f.write(SCRATCH_HEADER % {"bad": bad})
    mapfile = os.path.join(base, "demo.map")
    with open(mapfile, "w", encoding="utf-8") as f:
        f.write("IDM_1.0 {\n  global:\n" + "".join(f"    {s};\n" for s in symbols)
                + "  local:\n    *;\n};\n")
    return mapfile, header


def self_test():
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        # A header with every kind of gap, and a reference that is stale.
        bad_root = os.path.join(tmp, "bad")
        mapfile, header = scratch_tree(bad_root, BAD_DECLARATIONS,
                                       ["idm_demo_new", "idm_demo_free"] + BAD_SYMBOLS)
        with open(os.path.join(bad_root, gen.REFERENCE), "w", encoding="utf-8") as f:
            f.write("# stale\n")
        rc, out = run_quiet(["--root", bad_root, mapfile, header])
        if rc != 1:
            failures.append(f"the scratch header with gaps passed (exit {rc})")
        for text in EXPECTED:
            if text not in out:
                failures.append(f"not reported: {text!r}")
        for good in ("idm_demo_new (", "idm_demo_free ("):
            if good in out:
                failures.append(f"a documented function was reported: {good!r}")

        # The same header complete, with its reference: passes.
        good_root = os.path.join(tmp, "good")
        mapfile, header = scratch_tree(good_root, "", ["idm_demo_new", "idm_demo_free"])
        with open(os.path.join(good_root, gen.REFERENCE), "w", encoding="utf-8") as f:
            f.write(gen.render(good_root))
        rc, out = run_quiet(["--root", good_root, mapfile, header])
        if rc != 0:
            failures.append(f"the complete scratch header failed:\n{out}")

        # Man pages: a macro groff does not know and a missing header fail.
        if shutil.which("man") is not None:
            page = os.path.join(tmp, "demo.3")
            with open(page, "w", encoding="utf-8") as f:
                f.write(GOOD_MAN)
            rc, out = run_quiet(["--man", page, mapfile, header])
            if rc != 0:
                failures.append(f"a clean man page failed:\n{out}")
            with open(page, "w", encoding="utf-8") as f:
                f.write(GOOD_MAN.replace("idm/demo.h", "nothing") + ".XQ undefined macro\n")
            rc, out = run_quiet(["--man", page, mapfile, header])
            if rc != 1 or "man --warnings" not in out or "<idm/demo.h>" not in out:
                failures.append(f"a bad man page was not refused (exit {rc}):\n{out}")
        else:
            failures.append("man is not installed (Debian package man-db)")
    for f in failures:
        print("FAIL: self-test: " + f)
    if failures:
        return 1
    print(f"ok: check-docs.py reports each of {len(EXPECTED)} planted gaps, a stale "
          "reference and a bad man page, and passes complete ones")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
