#!/usr/bin/env python3
"""Writes doc/api/reference.md, the API reference of libidm, from the /** */
comments of the public headers.

The headers are read in the order <idm/idm.h> includes them (<idm/version.h>
from its template include/idm/version.h.in, so the output does not depend on
a build).  For every function the reference gives its prototype, what it
does, its parameters, its return value and codes, the ownership of every
pointer it takes or hands out, and its thread-safety: the function's own
"Thread-safety:" line, or else the one in its header's top comment.  It also
lists the public types: opaque handles, enums with their values, callback
types, the ops and hooks tables member by member, and the macros.

The output depends only on the headers: same headers, same bytes.  The
'docs' test (tests/scripts/check-docs.py) fails when doc/api/reference.md
is not what this script makes; check-docs.py also uses the parser below.

Usage: gen-api-reference.py [--root DIR] [--output FILE | --check]
  --root DIR     the source tree (default: the one this script is in)
  --output FILE  where to write (default: DIR/doc/api/reference.md; - for stdout)
  --check        write nothing; exit 1 if the file is out of date
Standard library only.
"""

import argparse
import difflib
import os
import re
import sys

REFERENCE = os.path.join("doc", "api", "reference.md")

# Words that state who owns a pointer or how long it lives.  An out-parameter
# that receives a pointer must use one of OUT_OWNERSHIP in its @param text;
# the reference quotes every clause of a pointer parameter that has one of
# OWNERSHIP_WORDS.
OUT_OWNERSHIP = ("owned by", "valid until", "valid only", "valid during", "static",
                 "borrowed", "not owned", "released with")
OWNERSHIP_WORDS = OUT_OWNERSHIP + ("copied", "outlive", "wipe", "freed", "keeps no copy",
                                   "stay the caller's", "thread-local")


# ---- parsing ---------------------------------------------------------------

class Doc:
    """A /** */ comment: description, @param texts, @return text, thread-safety."""

    def __init__(self, raw):
        self.raw = raw
        self.description = []     # lines, blank lines kept
        self.params = {}          # name -> text
        self.param_order = []
        self.returns = None
        self.thread_safety = None
        self._parse(raw)

    def _parse(self, raw):
        body = raw.strip()
        body = re.sub(r"^/\*\*<?", "", body)
        body = re.sub(r"\*/$", "", body)
        lines = [re.sub(r"^\s*\* ?", "", line) for line in body.split("\n")]
        section, name, acc = "description", None, []

        def flush():
            text = join_lines(acc)
            if section == "param":
                self.params[name] = text
                self.param_order.append(name)
            elif section == "return":
                self.returns = text
            elif section == "thread":
                self.thread_safety = text

        for line in lines:
            stripped = line.strip()
            m = re.match(r"@param\s+(\w+)\s*(.*)", stripped)
            if m or stripped.startswith("@return") or stripped.startswith("Thread-safety:"):
                if section == "description":
                    self.description = acc
                else:
                    flush()
                acc = []
                if m:
                    section, name = "param", m.group(1)
                    acc.append(m.group(2))
                elif stripped.startswith("@return"):
                    section = "return"
                    acc.append(stripped[len("@return"):].strip())
                else:
                    section = "thread"
                    acc.append(stripped[len("Thread-safety:"):].strip())
                continue
            if section == "thread" and not stripped:
                flush()
                section, acc = "trailer", []
                continue
            acc.append(line if section == "description" else stripped)
        if section == "description":
            self.description = acc
        elif section != "trailer":
            flush()
        while self.description and not self.description[0].strip():
            self.description.pop(0)
        while self.description and not self.description[-1].strip():
            self.description.pop()

    def has_description(self):
        return any(line.strip() for line in self.description)


def join_lines(lines):
    return " ".join(line.strip() for line in lines if line.strip())


class Item:
    """One documented thing of a header, in the header's order."""

    def __init__(self, kind, name, code, doc, **extra):
        self.kind = kind          # function, handle, enum, struct, callback, macro, section
        self.name = name
        self.code = code          # the declaration as written
        self.doc = doc            # Doc or None
        self.header = None
        self.__dict__.update(extra)


class Header:
    def __init__(self, path, include_name):
        self.path = path
        self.include = include_name          # "idm/card.h"
        self.title = ""
        self.overview = []                   # lines of the top comment
        self.thread_safety = None
        self.items = []


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
    return [p for p in params if p not in ("", "void")]


def param_name(p):
    pointer = re.search(r"\(\s*\*\s*(\w+)\s*\)", p)   # a function pointer
    return pointer.group(1) if pointer else re.findall(r"\w+", p)[-1]


def param_type(p):
    if re.search(r"\(\s*\*\s*\w+\s*\)", p):
        return re.sub(r"\(\s*\*\s*\w+\s*\)", "(*)", p)
    name = param_name(p)
    return re.sub(r"\s*\b" + re.escape(name) + r"\s*$", "", p).strip()


def tidy_code(code):
    """A declaration as written, without trailing blanks."""
    return "\n".join(line.rstrip() for line in code.split("\n")).strip()


def parse_header(path, include_name=None):
    text = open(path, encoding="utf-8").read()
    header = Header(path, include_name or "idm/" + os.path.basename(path).replace(".in", ""))
    i, n = 0, len(text)
    top = re.match(r"\s*/\*(?!\*)(.*?)\*/", text, flags=re.S)
    if top:
        lines = [re.sub(r"^\s*\* ?", "", line) for line in top.group(1).split("\n")]
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        if lines:
            header.title = re.sub(r"^libidm\s*-\s*", "", lines[0].strip()).rstrip(".")
            lines = lines[1:]
        # The Thread-safety paragraph is kept apart from the overview.
        overview, k = [], 0
        while k < len(lines):
            if lines[k].strip().startswith("Thread-safety:"):
                para = []
                while k < len(lines) and lines[k].strip():
                    para.append(lines[k])
                    k += 1
                header.thread_safety = join_lines(para)[len("Thread-safety:"):].strip()
                continue
            overview.append(lines[k])
            k += 1
        while overview and not overview[0].strip():
            overview.pop(0)
        while overview and not overview[-1].strip():
            overview.pop()
        header.overview = overview
        i = top.end()

    pending = None
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        if text.startswith("/**", i) and not text.startswith("/**/", i):
            end = text.index("*/", i) + 2
            pending = Doc(text[i:end])
            i = end
            continue
        if text.startswith("/*", i):
            end = text.index("*/", i) + 2
            m = re.fullmatch(r"/\*\s*-+\s*(.*?)\s*-+\s*\*/", text[i:end], flags=re.S)
            if m:
                header.items.append(Item("section", m.group(1), "", None))
            i = end
            continue
        if text.startswith("//", i):
            i = text.index("\n", i)
            continue
        if text[i] == "#":
            end = i
            while True:
                nl = text.find("\n", end)
                nl = n if nl < 0 else nl
                if text[end:nl].rstrip().endswith("\\"):
                    end = nl + 1
                    continue
                break
            line = text[i:nl]
            if re.match(r"#\s*ifdef\s+__cplusplus", line):
                close = re.compile(r"^#\s*endif.*$", flags=re.M).search(text, nl)
                i = close.end()
                pending = None
                continue
            m = re.match(r"#\s*define\s+(\w+)(\(.*?\))?\s*(.*)", line, flags=re.S)
            if m and m.group(3).strip():
                header.items.append(Item("macro", m.group(1), tidy_code(line), pending))
            pending = None
            i = nl
            continue
        # A declaration: up to the ';' outside braces and parentheses.
        depth, j = 0, i
        while j < n:
            c = text[j]
            if text.startswith("/*", j):
                j = text.index("*/", j) + 2
                continue
            if c in "({":
                depth += 1
            elif c in ")}":
                depth -= 1
            elif c == ";" and depth == 0:
                break
            j += 1
        decl = text[i:j + 1]
        header.items.append(classify(decl, pending))
        pending = None
        i = j + 1
    for item in header.items:
        item.header = header
    return header


def classify(decl, doc):
    code = tidy_code(decl)
    flat = re.sub(r"\s+", " ", decl).strip()
    m = re.fullmatch(r"typedef struct (\w+) (\w+);", flat)
    if m:
        return Item("handle", m.group(2), code, doc)
    m = re.match(r"typedef enum (\w+) \{(.*)\} (\w+);", decl.strip(), flags=re.S)
    if m:
        return Item("enum", m.group(3), strip_comments(code), doc,
                    values=parse_enum(m.group(2)))
    m = re.match(r"typedef struct (\w+) \{(.*)\} (\w+);", decl.strip(), flags=re.S)
    if m:
        return Item("struct", m.group(3), strip_comments(code), doc,
                    members=parse_members(m.group(2)))
    m = re.fullmatch(r"typedef (.+?)\(\s*\*\s*(\w+)\s*\)\s*\((.*)\);", flat)
    if m:
        params = split_params(m.group(3))
        return Item("callback", m.group(2), code, doc, returns=m.group(1).strip(),
                    params=params, param_names=[param_name(p) for p in params])
    m = re.fullmatch(r"(.*?)\b(idm_\w+)\s*\((.*)\);", flat)
    if m:
        params = split_params(m.group(3))
        return Item("function", m.group(2), code, doc, returns=m.group(1).strip(),
                    params=params, param_names=[param_name(p) for p in params])
    return Item("other", flat, code, doc)


def strip_comments(code):
    out = re.sub(r"[ \t]*/\*.*?\*/", "", code, flags=re.S)
    return "\n".join(line for line in out.split("\n") if line.strip())


def parse_enum(body):
    """[(name, value, doc text)] of an enum body; a /**< */ comment documents
    the enumerator before it, a /** */ comment the one after it."""
    values, pending, nxt = [], None, 0
    token = re.compile(r"/\*\*<(.*?)\*/|/\*\*(.*?)\*/|/\*.*?\*/|(\w+)\s*(?:=\s*([^,/]+))?,?",
                       flags=re.S)
    for m in token.finditer(body):
        if m.group(1) is not None and values:
            name, value, _ = values[-1]
            values[-1] = (name, value, join_lines(Doc("/**" + m.group(1) + "*/").description))
        elif m.group(2) is not None:
            pending = join_lines(Doc("/**" + m.group(2) + "*/").description)
        elif m.group(3):
            value = m.group(4).strip() if m.group(4) else str(nxt)
            try:
                nxt = int(value, 0) + 1
            except ValueError:
                nxt = 0
            values.append((m.group(3), value, pending or ""))
            pending = None
    return values


def parse_members(body):
    """[(name, declaration, doc text)] of a struct body."""
    members, pending, i, n = [], None, 0, len(body)
    while i < n:
        if body[i].isspace():
            i += 1
            continue
        if body.startswith("/**<", i):
            end = body.index("*/", i) + 2
            if members:
                doc = Doc(body[i:end])
                name, decl, _ = members[-1]
                members[-1] = (name, decl, join_lines(doc.description))
            i = end
            continue
        if body.startswith("/*", i):
            end = body.index("*/", i) + 2
            if body.startswith("/**", i):
                pending = join_lines(Doc(body[i:end]).description)
            i = end
            continue
        j = body.index(";", i)
        while body.count("(", i, j) != body.count(")", i, j):
            j = body.index(";", j + 1)
        decl = re.sub(r"\s+", " ", body[i:j]).strip()
        decl = decl.replace("( ", "(").replace(" )", ")")
        members.append((param_name(decl), decl, pending or ""))
        pending = None
        i = j + 1
    return members


def include_order(root):
    """Public headers in the order <idm/idm.h> includes them: [(include, path)]."""
    inc = os.path.join(root, "include", "idm")
    umbrella = open(os.path.join(inc, "idm.h"), encoding="utf-8").read()
    order = []
    for name in re.findall(r"#include <idm/(\w+\.h)>", umbrella):
        path = os.path.join(inc, name)
        if not os.path.exists(path) and os.path.exists(path + ".in"):
            path += ".in"
        order.append(("idm/" + name, path))
    return order


def parse_tree(root):
    headers = [parse_header(path, include) for include, path in include_order(root)]
    umbrella = parse_header(os.path.join(root, "include", "idm", "idm.h"), "idm/idm.h")
    return umbrella, headers


# ---- what the comments say, made explicit ---------------------------------

ERROR_VALUES = {}   # IDM_OK, IDM_ERR_* -> value, from idm_err (set by Renderer)

def is_release(fn):
    """A void idm_x_free(T **p): takes the caller's handle back."""
    return (fn.name.endswith("_free") and fn.returns == "void" and len(fn.params) == 1
            and "**" in fn.params[0])


def pointer_out(p):
    """Does the parameter receive a pointer (T **, const char **, ...)?"""
    return "**" in param_type(p) or re.search(r"\*\s*const\s*\*", param_type(p)) is not None


def clauses(text):
    parts = re.split(r";\s+|\.\s+(?=[A-Z(])|\.$", text or "")
    return [p.strip().rstrip(".") for p in parts if p.strip()]


def ownership_clauses(text, words=OWNERSHIP_WORDS):
    said = [c for c in clauses(text) if any(w in c.lower() for w in words)]
    # "Copied" after a full stop reads as "copied" after a semicolon
    return [c[0].lower() + c[1:] if re.match(r"[A-Z][a-z]", c) else c for c in said]


def release_functions(headers):
    """handle type -> the idm_x_free() that releases it."""
    out = {}
    for h in headers:
        for it in h.items:
            if it.kind == "function" and is_release(it):
                out[param_type(it.params[0]).replace("*", "").strip()] = it.name
    return out


def ownership(fn, releasers):
    """Ownership statements of a function: [(subject, statement)]."""
    doc = fn.doc
    facts, borrowed = [], []
    if fn.returns != "void" and "*" in fn.returns:
        said = ownership_clauses(doc.returns if doc else "")
        text = "; ".join(said) if said else "ownership not stated"
        if any(w in text for w in ("static", "owned by the library", "thread-local")):
            text += "; never free it"
        facts.append(("return value", text))
    hands_out = any(pointer_out(p) and "owned by the caller" in (doc.params.get(n, "") if doc
                                                                 else "")
                    for p, n in zip(fn.params, fn.param_names))
    for p, name in zip(fn.params, fn.param_names):
        ptype = param_type(p)
        ptext = doc.params.get(name, "") if doc else ""
        if is_release(fn):
            facts.append((name, f"the handle *{name} points to is released and *{name} "
                                "set to NULL; anything borrowed from it becomes invalid"))
            continue
        if ptype.endswith("(*)") or re.search(r"_fn$", ptype):
            said = ownership_clauses(ptext)
            if said:
                facts.append((name, "; ".join(said)))
            continue
        if "*" not in ptype:
            continue
        said = ownership_clauses(ptext)
        if pointer_out(p):
            text = "; ".join(said) if said else "ownership not stated"
            handle = ptype.replace("const", "").replace("*", "").strip()
            if "owned by the caller" in text and handle in releasers \
                    and releasers[handle] not in text:
                text += f"; release it with {releasers[handle]}()"
            elif any(w in text for w in ("owned by the handle", "owned by the event",
                                         "owned by the request", "owned by the buffer",
                                         "owned by the context", "static")):
                text += "; never free it"
            facts.append((name + " (out)", text))
        elif ptype.replace("const", "").strip() == "idm_buffer_t *":
            facts.append((name, "a buffer the caller owns; the library replaces its "
                                "content" + ("; " + "; ".join(said) if said else "")))
        elif said:
            facts.append((name, "; ".join(said)))
        elif hands_out and ptype == "idm_ctx_t *":
            facts.append((name, "not owned; the handle handed out refers to the context, "
                                "which must outlive it"))
        elif name == "user_data":
            facts.append((name, "the host's; the library passes it on and never "
                                "dereferences or frees it"))
        else:
            borrowed.append(name)
    if borrowed:
        names = ", ".join(f"`{b}`" for b in borrowed)
        facts.append(("", f"{names}: borrowed for the duration of the call"))
    return facts


def return_codes(fn, functions, seen=None):
    """The IDM_OK / IDM_ERR_* codes a function's @return names, following
    "as idm_x()" and "the errors of idm_x()" to the function referred to."""
    if fn.doc is None or fn.doc.returns is None:
        return []
    seen = (seen or set()) | {fn.name}
    text = fn.doc.returns
    codes = re.findall(r"\bIDM_(?:OK|ERR_[A-Z_]+)\b", text)
    for ref in re.findall(r"(?:\bas|errors of)\s+(idm_\w+)\(\)", text):
        if ref in functions and ref not in seen:
            codes += return_codes(functions[ref], functions, seen)
    return sorted(set(codes), key=lambda c: (-ERROR_VALUES.get(c, -999), c))


# ---- Markdown --------------------------------------------------------------

def slug(heading):
    """The anchor GitHub gives a heading."""
    s = heading.strip().lower().replace("`", "")
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


class Renderer:
    def __init__(self, umbrella, headers):
        self.umbrella = umbrella
        self.headers = headers
        self.functions = {}
        self.types = {}
        for h in headers:
            for it in h.items:
                if it.kind == "function":
                    self.functions[it.name] = it
                elif it.kind in ("handle", "enum", "struct", "callback", "macro"):
                    self.types[it.name] = it
                if it.kind == "enum" and it.name == "idm_err":
                    ERROR_VALUES.update((n, int(v, 0)) for n, v, _ in it.values)
        self.header_anchor = {h.include: slug(self.header_heading(h)) for h in headers}
        self.releasers = release_functions(headers)
        self.makers = self._makers()

    @staticmethod
    def header_heading(h):
        return f"`<{h.include}>`: {h.title}" if h.title else f"`<{h.include}>`"

    def _makers(self):
        """handle type -> functions that hand a new one to the caller."""
        makers = {}
        for name, fn in self.functions.items():
            for p, pname in zip(fn.params, fn.param_names):
                if is_release(fn) or not pointer_out(p):
                    continue
                text = fn.doc.params.get(pname, "") if fn.doc else ""
                if "owned by the caller" in text:
                    handle = param_type(p).replace("const", "").replace("*", "").strip()
                    makers.setdefault(handle, []).append(name)
        return makers

    # -- inline text

    TOKEN = re.compile(
        r"(?P<code>`[^`]+`)"
        r"|(?P<quoted>\"[^\"\n]*[<>*\\\[][^\"\n]*\")"
        r"|(?P<chars>\[[A-Za-z0-9._-]+\])"
        r"|(?P<tmpl>\bidm_<\w+>_\w+(?:\(&?\w*\))?)"
        r"|(?P<header><idm/\w+\.h>)"
        r"|(?P<func>\bidm_\w+\([^()]*\))"
        r"|(?P<ident>\bidm_\w+\b)"
        r"|(?P<conf>@IDM_\w+@)"
        r"|(?P<const>\bIDM_[A-Z0-9_]+\b)"
        r"|(?P<deref>(?<![\w)])\*\w+)"
        r"|(?P<path>\bdoc/[\w./-]+\.md\b)")

    def inline(self, text):
        out, pos = [], 0
        for m in self.TOKEN.finditer(text):
            out.append(self.escape(text[pos:m.start()]))
            tok = m.group(0)
            if m.group("code"):
                out.append(tok)
            elif m.group("header"):
                anchor = self.header_anchor.get(tok[1:-1])
                out.append(f"[`{tok}`](#{anchor})" if anchor else f"`{tok}`")
            elif m.group("func"):
                name = tok[:tok.index("(")]
                out.append(f"[`{tok}`](#{slug(name)})" if name in self.functions else f"`{tok}`")
            elif m.group("ident") or m.group("const"):
                out.append(f"[`{tok}`](#{slug(tok)})" if tok in self.types else f"`{tok}`")
            elif m.group("quoted") or m.group("chars"):
                out.append(f"`{tok}`")
            elif m.group("path"):
                out.append(f"[{tok}](../{tok[len('doc/'):]})")
            else:
                out.append(f"`{tok}`")
            pos = m.end()
        out.append(self.escape(text[pos:]))
        return "".join(out)

    @staticmethod
    def escape(text):
        text = re.sub(r"([\\`*<>\[\]|])", r"\\\1", text)
        # '_' only where it could start or end emphasis (not inside a word)
        return re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", text)

    def blocks(self, lines):
        """Comment lines -> Markdown: paragraphs, and indented lines as code."""
        out, para, code = [], [], []

        def flush_para():
            if para:
                out.append(self.inline(join_lines(para)))
                out.append("")
                para.clear()

        def flush_code():
            if code:
                while code and not code[-1].strip():
                    code.pop()
                indent = min(len(c) - len(c.lstrip()) for c in code if c.strip())
                out.append("```text")
                out.extend(c[indent:].rstrip() for c in code)
                out.append("```")
                out.append("")
                code.clear()

        for line in lines:
            if line.startswith("  ") and line.strip():
                flush_para()
                code.append(line)
            elif not line.strip():
                if code:
                    code.append("")
                else:
                    flush_para()
            else:
                flush_code()
                para.append(line)
        flush_para()
        flush_code()
        return out

    # -- the document

    def render(self):
        out = ["# libidm API reference", ""]
        out += [
            "<!-- Generated by scripts/gen-api-reference.py from the comments of the public",
            "     headers; do not edit.  Run `python3 scripts/gen-api-reference.py` after",
            "     changing a header; the 'docs' test fails while this file is out of date. -->",
            "",
        ]
        out += self.blocks(self.umbrella.overview)
        out += [
            "Every function below is described from its header comment: what it does, its",
            "parameters, its return value, the ownership of every pointer it takes or hands",
            "out, and its thread-safety.  The rules behind them, written out once in",
            "[doc/errors-and-threading.md](../errors-and-threading.md):",
            "",
            "- **Return codes.**  A function that can fail returns `int`: `IDM_OK` (0) or a",
            "  negative [`idm_err`](#idm_err) code; [`idm_last_error_message()`]"
            "(#idm_last_error_message) says",
            "  which argument, object or backend failed.  A bad argument is always",
            "  `IDM_ERR_INVALID_ARG`, listed or not.",
            "- **Ownership.**  A handle the caller receives (\"owned by the caller\") is",
            "  released with its `idm_<noun>_free(&p)`, which is NULL-safe and sets `p` to",
            "  NULL; objects obtained from a context are freed before it.  A string or",
            "  byte pointer \"owned by the handle\" (event, request, buffer, context) stays",
            "  valid until that object changes or is freed; never free it.  A pointer the",
            "  library is given is only read during the call unless its parameter says",
            "  otherwise (\"copied\", \"must outlive\").",
            "- **Thread-safety.**  A function's own statement, or else the rule of its",
            "  header, which the entry repeats.",
            "",
            "## Contents",
            "",
        ]
        for h in self.headers:
            out.append(f"- [{self.header_heading(h)}](#{self.header_anchor[h.include]})")
            types = [it.name for it in h.items
                     if it.kind in ("handle", "enum", "struct", "callback", "macro")]
            funcs = [it.name for it in h.items if it.kind == "function"]
            if types:
                out.append("  - types and macros: " +
                           ", ".join(f"[`{t}`](#{slug(t)})" for t in types))
            if funcs:
                out.append("  - functions: " +
                           ", ".join(f"[`{f}()`](#{slug(f)})" for f in funcs))
        out.append("")
        for h in self.headers:
            out += self.render_header(h)
        while out and out[-1] == "":
            out.pop()
        return "\n".join(out) + "\n"

    def render_header(self, h):
        out = [f"## {self.header_heading(h)}", ""]
        out += self.blocks(h.overview)
        if h.thread_safety:
            out += [f"**Thread-safety** of this header's functions, unless one says "
                    f"otherwise: {self.inline(h.thread_safety)}", ""]
        for it in h.items:
            if it.kind == "section":
                out += [f"### {it.name[:1].upper() + it.name[1:]}", ""]
            elif it.kind == "function":
                out += self.render_function(it, h)
            elif it.kind in ("handle", "enum", "struct", "callback", "macro"):
                out += self.render_type(it)
        return out

    def render_doc_text(self, doc):
        return self.blocks(doc.description) if doc else ["*Undocumented.*", ""]

    def render_params(self, item):
        if not item.param_names:
            return []
        out = ["Parameters:", ""]
        for name in item.param_names:
            text = item.doc.params.get(name) if item.doc else None
            out.append(f"- `{name}`: {self.inline(text) if text else '*undocumented*'}")
        return out + [""]

    def render_function(self, fn, h):
        out = [f"#### {fn.name}", "", "```c", fn.code, "```", ""]
        out += self.render_doc_text(fn.doc)
        out += self.render_params(fn)
        doc = fn.doc
        if fn.returns != "void":
            ret = self.inline(doc.returns) if doc and doc.returns else "*undocumented*"
            out += [f"Returns: {ret}", ""]
            codes = return_codes(fn, self.functions)
            if codes:
                out += ["Return codes: " + ", ".join(f"`{c}`" for c in codes), ""]
        facts = ownership(fn, self.releasers)
        if facts:
            out += ["Ownership:", ""]
            for subject, text in facts:
                if subject.endswith(" (out)"):
                    out.append(f"- `{subject[:-6]}` (out): {self.inline(text)}")
                elif subject == "return value":
                    out.append(f"- the return value: {self.inline(text)}")
                elif subject:
                    out.append(f"- `{subject}`: {self.inline(text)}")
                else:
                    out.append(f"- {text}")
            out.append("")
        if doc and doc.thread_safety:
            out += [f"Thread-safety: {self.inline(doc.thread_safety)}", ""]
        elif h.thread_safety:
            out += [f"Thread-safety: {self.inline(h.thread_safety)} "
                    f"*(rule of [`<{h.include}>`](#{self.header_anchor[h.include]}))*", ""]
        else:
            out += ["Thread-safety: *not stated*", ""]
        return out

    def render_type(self, it):
        kind = {"handle": "opaque handle", "enum": "enum", "struct": "ops table",
                "callback": "callback type", "macro": "macro"}[it.kind]
        if it.kind == "struct" and it.name.endswith("_hooks"):
            kind = "hooks table"
        out = [f"#### {it.name}", "", f"*{kind}*", "", "```c", it.code, "```", ""]
        out += self.render_doc_text(it.doc)
        if it.kind == "handle":
            made = self.makers.get(it.name, [])
            if made:
                out += ["Handed to the caller by " +
                        ", ".join(f"[`{m}()`](#{slug(m)})" for m in made) + ".", ""]
            if it.name in self.releasers:
                r = self.releasers[it.name]
                out += [f"Released with [`{r}()`](#{slug(r)}).", ""]
        elif it.kind == "enum":
            out += ["| Enumerator | Value | Meaning |", "| --- | --- | --- |"]
            for name, value, doc in it.values:
                out.append(f"| `{name}` | {value} | {self.inline(doc)} |")
            out.append("")
        elif it.kind == "struct":
            out += ["Members:", ""]
            for name, _, doc in it.members:
                text = self.inline(doc) if doc else "*undocumented*"
                out.append(f"- `{name}`: {text}")
            out.append("")
        elif it.kind == "callback":
            out += self.render_params(it)
            if it.returns != "void":
                ret = self.inline(it.doc.returns) if it.doc and it.doc.returns \
                    else "*undocumented*"
                out += [f"Returns: {ret}", ""]
        return out


def render(root):
    umbrella, headers = parse_tree(root)
    return Renderer(umbrella, headers).render()


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--output")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args(argv)
    text = render(args.root)
    target = args.output or os.path.join(args.root, REFERENCE)
    if args.check:
        old = open(target, encoding="utf-8").read() if os.path.exists(target) else ""
        if old == text:
            return 0
        sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                                   target, "regenerated", n=1))
        return 1
    if target == "-":
        sys.stdout.write(text)
        return 0
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    with open(target, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
