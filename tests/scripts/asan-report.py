#!/usr/bin/env python3
"""Reads the sanitizer reports of a tests/scripts/python-asan.sh run and
judges them.  Usage: asan-report.py --library LIBIDM_SO LOGDIR

LOGDIR holds one ASan log per process that reported anything (asan.PROGRAM.PID)
and "stderr", the run's standard error (where GCC's libubsan writes).

- Every memory error (ASan ERROR report, UBSan "runtime error", a
  sanitizer's fatal error) fails and is printed in full.
- A leak (LeakSanitizer block) is libidm's when a frame of its allocation
  stack lies in LIBIDM_SO (by module path) or names an idm_ function: those
  fail and are printed in full.  The others are what CPython, or a program
  the tests ran, left allocated at exit: summed up in one line.
Prints one summary line starting "python_asan:" and exits 1 on failure."""

import argparse
import collections
import os
import re
import sys

SEPARATOR = "=" * 65
LEAK_HEADER = re.compile(r"^(Direct|Indirect) leak of (\d+) byte\(s\) in (\d+) object\(s\)")
FRAME = re.compile(r"^\s+#\d+ 0x[0-9a-f]+ ")
# python-asan.sh's stack_trace_format ends each frame with <module+offset>;
# ASan's default format has (module+offset) for unsymbolized frames.
MODULE = re.compile(r"[<(]([^<>()]+)\+0x[0-9a-f]+[>)]\s*$")
FUNCTION = re.compile(r" in (\S+)")
ERROR = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|"
                   r"ThreadSanitizer|MemorySanitizer)")
UBSAN = re.compile(r"(^|\s)\S*: runtime error: ")
FATAL = re.compile(r"(Sanitizer has encountered a fatal error|Sanitizer CHECK failed|"
                   r"LeakSanitizer does not work)")


class Leak:
    def __init__(self, header, program, path):
        self.header = header
        self.program = program
        self.path = path
        m = LEAK_HEADER.match(header)
        self.bytes = int(m.group(2))
        self.objects = int(m.group(3))
        self.frames = []

    def is_libidm(self, library):
        for frame in self.frames:
            m = MODULE.search(frame)
            if m and os.path.realpath(m.group(1)) == library:
                return True
            f = FUNCTION.search(frame)
            if f and f.group(1).startswith("idm_"):
                return True
        return False


def program_of(name):
    """asan.python3.11.1234 -> python3.11"""
    parts = name.split(".")
    return ".".join(parts[1:-1]) if len(parts) > 2 else name


def read_log(path, errors, leaks):
    """Splits one ASan log into error reports (kept whole) and leak blocks."""
    program = program_of(os.path.basename(path))
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    report = []
    reports = []
    for line in lines:
        if line == SEPARATOR:
            if report:
                reports.append(report)
            report = []
        else:
            report.append(line)
    if report:
        reports.append(report)
    for report in reports:
        text = "\n".join(report)
        if not text.strip():
            continue
        is_leak_report = "ERROR: LeakSanitizer: detected memory leaks" in text
        if not is_leak_report or FATAL.search(text) or UBSAN.search(text):
            errors.append(f"{path}:\n{text}")
            continue
        leak = None
        for line in report:
            if LEAK_HEADER.match(line):
                leak = Leak(line, program, path)
                leaks.append(leak)
            elif leak and FRAME.match(line):
                leak.frames.append(line)
            else:
                leak = None


def read_stderr(path, errors):
    """UBSan reports (and any sanitizer report that missed its log file)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return
    for i, line in enumerate(lines):
        if UBSAN.search(line) or ERROR.search(line) or FATAL.search(line):
            context = [line] + [l for l in lines[i + 1:i + 40] if FRAME.match(l)]
            errors.append(f"{path} (standard error):\n" + "\n".join(context))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", required=True, help="the libidm.so of the run")
    parser.add_argument("logdir")
    args = parser.parse_args(argv)
    library = os.path.realpath(args.library)

    errors, leaks = [], []
    for name in sorted(os.listdir(args.logdir)):
        if name.startswith("asan."):
            read_log(os.path.join(args.logdir, name), errors, leaks)
    read_stderr(os.path.join(args.logdir, "stderr"), errors)

    ours = [leak for leak in leaks if leak.is_libidm(library)]
    others = [leak for leak in leaks if not leak.is_libidm(library)]

    for text in errors:
        print(f"python_asan: MEMORY ERROR in {text}\n")
    for leak in ours:
        print(f"python_asan: LEAK FROM LIBIDM in {leak.program} ({leak.path}):")
        print(leak.header)
        print("\n".join(leak.frames) + "\n")

    by_program = collections.defaultdict(lambda: [0, 0])
    for leak in others:
        by_program[leak.program][0] += leak.bytes
        by_program[leak.program][1] += leak.objects
    other_bytes = sum(b for b, _ in by_program.values())
    other_objects = sum(n for _, n in by_program.values())
    detail = ", ".join(f"{p}: {b} bytes in {n}" for p, (b, n) in sorted(by_program.items()))
    ours_bytes = sum(leak.bytes for leak in ours)
    print(f"python_asan: {len(errors)} errors, {len(ours)} leaks from libidm"
          f"{f' ({ours_bytes} bytes)' if ours else ''}; "
          f"{other_bytes} bytes in {other_objects} allocations leaked by CPython itself "
          f"or the programs the tests ran, at exit (not attributable)"
          f"{f' [{detail}]' if detail else ''}")
    return 1 if errors or ours else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
