#!/usr/bin/env python3
"""python_vs_c.py [CARDS] [--rounds N] [--c-driver PATH] [--module PATH]:
the same Digital ID mass production order of CARDS cards (default 10000)
driven from C and from Python, and the ratio.

Setup, through the Python API and timed apart: one store with CARDS active
employees imported from a CSV (idm_identity_import_csv), an employee
Digital ID card each moved requested -> approved, and one mass production
order of them all (add_approved); options card_key_slots "9A" (one P-256
key and one certificate per card) and pin_source "generated".  The store is
closed, and every run gets a fresh copy of it: the same order each time.

Each run is a process of its own:
  - C: idm-bench-drive-order (drive_order.c);
  - Python: this script with --drive: idm.Context, idm.CA.openssl, the
    bench card's encoder made by the idm-bench-card module (loaded with
    ctypes) and taken over with idm.Encoder.adopt(), a PIN delivery callback
    in Python that discards the secrets, an idm.Station with set_group(64)
    and one idm.run_production() call with a progress hook in Python that
    counts the outcomes.
Both drivers run the very same C encoder (bench_card.c) and the same libidm
(checked), so what differs is the driving: the Python callbacks (PIN
delivery and progress, once per card each) and the bindings around the
one run_production() call.

N rounds (default 3) of one run per driver, C first in odd rounds and
Python first in even ones, so that a change in the machine's load hits both
alike; the medians are compared.  Each run prints one JSON line (cards,
wall and CPU seconds of the run, seconds inside the encoder, RSS); this
script prints every run's cards/s, per card the wall time, the library's
share (the wall time minus the encoder's) and the CPU time, and the peak
RSS, then the ratio Python cards/s / C cards/s and the extra microseconds
of wall and CPU time per card that the Python driving costs.  The C driver
is the reference, measured in the same run on the same machine.

As the encoder is the same C code doing the same work per card in both
drivers, its time per card also gauges how fast the machine was during
each run: the runs' times in units of their own encoder time give a
second ratio, much steadier on a machine shared with other work (where
the speed of a run can change by half from one run to the next).  Every
run must produce every card of the order and complete it, or the script
fails.

The driver and the module are named by --c-driver and --module, or by the
environment variables IDM_BENCH_DRIVE_ORDER and IDM_BENCH_CARD_MODULE (meson
test sets them); the idm package must be importable (PYTHONPATH=
bindings/python) and IDM_LIBRARY should name the build's libidm.so.1, the one
the C driver runs (checked).  Everything lives in a fresh directory under
$TMPDIR (or /tmp) that is removed at the end.  Any failure prints its
reason and exits 1.
"""

import argparse
import ctypes
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

PROGRAM = "python_vs_c.py"
DEFAULT_CARDS = 10000
MAX_CARDS = 10000000  # the bench card's serials have eight digits
GROUP = 64
# the same names as idm-bench-mass-production and idm-bench-drive-order
ACTOR = "idm-bench-mass-production"
STATION = "bench-station"
CA_NAME = "libidm Bench Issuing CA"

GIVEN_NAMES = ("Anna", "Benjamin", "Chloé", "Dmitri", "Emma", "Łukasz", "Maria", "Yusuf")
SURNAMES = ("Müller", "Schmidt", "Nowak", "García", "O'Brien", "van der Berg", "Tanaka",
            "Silva")


class Failure(Exception):
    """A reason to stop: printed as "python_vs_c.py: <reason>", exit 1."""


def import_idm():
    try:
        import idm
    except ImportError as exc:
        raise Failure(f"cannot import idm ({exc}); set PYTHONPATH=bindings/python and "
                      "IDM_LIBRARY=<build>/src/libidm.so.1") from None
    return idm


# ---- measuring -----------------------------------------------------------------------


def status_kib(field):
    """A kB field of /proc/self/status (VmRSS, VmHWM)."""
    with open("/proc/self/status", encoding="ascii", errors="replace") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name == field:
                return int(value.split()[0])
    raise Failure(f"no {field} in /proc/self/status")


def reset_peak_rss():
    """Sets VmHWM back to the current RSS (Linux 4.0 and later); True when
    it worked."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def mapped_libidm():
    """The files libidm.so* is mapped from in this process."""
    found = set()
    with open("/proc/self/maps", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split(None, 5)
            if len(fields) == 6 and re.search(r"/libidm\.so(\.\d+)*$", fields[5].rstrip("\n")):
                found.add(fields[5].rstrip("\n"))
    return found


# ---- the Python driver (--drive) -----------------------------------------------------


def load_module(path):
    """The idm-bench-card module with its two entry points declared."""
    try:
        module = ctypes.CDLL(path)
    except OSError as exc:
        raise Failure(f"cannot load the bench card module: {exc}") from None
    P = ctypes.POINTER
    module.idm_bench_card_encoder_new.argtypes = [P(ctypes.c_void_p), P(ctypes.c_void_p)]
    module.idm_bench_card_encoder_new.restype = ctypes.c_int
    module.idm_bench_card_counts.argtypes = [ctypes.c_void_p, P(ctypes.c_ulong),
                                             P(ctypes.c_ulong)]
    module.idm_bench_card_counts.restype = ctypes.c_int
    return module


def discard_secrets(card, pin, puk):
    """The PIN delivery callback: does nothing with the secrets."""


def drive(db, order_id, group, module_path):
    """Produces order_id in db from Python; returns the JSON line's dict."""
    if not os.access(db, os.R_OK | os.W_OK):  # opening would make an empty store
        raise Failure(f"no store at '{db}'")
    idm = import_idm()
    module = load_module(module_path)
    libs = mapped_libidm()
    if len(libs) != 1:
        raise Failure("expected one libidm in the process after loading the module; "
                      f"mapped: {', '.join(sorted(libs)) or 'none'}")

    rss_reset = reset_peak_rss()
    rss_start_kib = status_kib("VmRSS")
    with idm.Context(db) as ctx:
        ca = idm.CA.openssl(ctx, idm.KeyType.EC_P256, CA_NAME, 3650)
        out = ctypes.c_void_p()
        card = ctypes.c_void_p()
        rc = module.idm_bench_card_encoder_new(ctypes.byref(out), ctypes.byref(card))
        if rc != 0:
            raise Failure(f"idm_bench_card_encoder_new failed: {idm.strerror_name(rc)}")
        encoder = idm.Encoder.adopt(out)
        encoder.set_pin_callbacks(delivery=discard_secrets)
        order = ctx.order(order_id)
        cards = sum(order.count_cards(outcome) for outcome in idm.OrderCardOutcome)
        if cards == 0:
            raise Failure(f"order {order_id} in '{db}' has no cards")
        station = idm.Station(order, STATION, encoder, ca)
        station.set_group(group)

        tally = {"produced": 0, "other": 0}

        def progress(order, card_id, outcome):
            tally["produced" if outcome == idm.OrderCardOutcome.PRODUCED else "other"] += 1

        cpu_start, start = time.process_time(), time.monotonic()
        idm.run_production(station, ACTOR, {"progress": progress})
        seconds, cpu_seconds = time.monotonic() - start, time.process_time() - cpu_start
        rss_peak_kib = status_kib("VmHWM")
        encoder_us = encoder.stats[2]

        # A run that produced nothing would be fast and worthless.
        order.refresh()
        produced = order.count_cards(idm.OrderCardOutcome.PRODUCED)
        if order.state != idm.OrderState.COMPLETED:
            raise Failure(f"order {order_id} is {order.state.name.lower()} after "
                          "run_production(); expected completed")
        if produced != cards or tally["produced"] != cards or tally["other"] != 0:
            raise Failure(
                f"order {order_id} has {produced} of {cards} cards produced (the progress "
                f"hook saw {tally['produced']} produced, {tally['other']} other: "
                f"{order.count_cards(idm.OrderCardOutcome.SKIPPED)} skipped, "
                f"{order.count_cards(idm.OrderCardOutcome.FAILED)} failed)")
        closed = ctypes.c_ulong()
        keys = ctypes.c_ulong()
        module.idm_bench_card_counts(card, ctypes.byref(closed), ctypes.byref(keys))
        if closed.value != cards or keys.value != cards:
            raise Failure(f"the encoder saw {closed.value} cards go through and made "
                          f"{keys.value} keys; expected {cards} of each")
        station.close()
        encoder.close()
    return {"driver": "Python", "cards": cards, "group": group, "seconds": round(seconds, 6),
            "cpu_seconds": round(cpu_seconds, 6), "encoder_seconds": encoder_us / 1e6,
            "rss_start_kib": rss_start_kib, "peak_rss_kib": rss_peak_kib,
            "peak_rss_reset": rss_reset, "libidm": libs.pop()}


# ---- setup ---------------------------------------------------------------------------


def employee_number(i):
    return f"E{i + 1:08d}"


def write_people(path, n):
    """The people of the order, as idm-bench-mass-production writes them."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("employeeNumber,givenName,surname,mail\r\n")
        for i in range(n):
            number = employee_number(i)
            f.write(f"{number},{GIVEN_NAMES[i % len(GIVEN_NAMES)]},"
                    f"{SURNAMES[(i // len(GIVEN_NAMES)) % len(SURNAMES)]},"
                    f"{number}@example.com\r\n")


def set_up_order(idm, db, csv, n):
    """Creates the store at db with n active employees, an approved Digital
    ID card each and one mass production order of them all; returns the
    order's id and the times of the three steps."""
    times = {}
    with idm.Context(db) as ctx:
        ctx.set_option(ACTOR, "card_key_slots", "9A")
        ctx.set_option(ACTOR, "pin_source", "generated")
        write_people(csv, n)
        start = time.monotonic()
        imported = ctx.import_csv(ACTOR, csv, "employeeNumber", idm.IdentityState.ACTIVE)
        if imported != n:
            raise Failure(f"import_csv imported {imported} identities; expected {n}")
        os.unlink(csv)
        times["import"] = time.monotonic() - start

        start = time.monotonic()
        for i in range(n):
            with ctx.identity_by_external_id(employee_number(i)) as who:
                who_id = who.id
            with ctx.create_card(ACTOR, idm.CardType.EMPLOYEE, idm.CardOption.DIGITAL,
                                 idm.Production.LOCAL, identity_id=who_id) as card:
                card.set_state(ACTOR, idm.CardState.REQUESTED)
                card.set_state(ACTOR, idm.CardState.APPROVED)
        times["cards"] = time.monotonic() - start

        start = time.monotonic()
        with ctx.create_order(ACTOR, idm.OrderKind.MASS_PRODUCTION, idm.CardType.EMPLOYEE,
                              idm.CardOption.DIGITAL) as order:
            added = order.add_approved(ACTOR)
            if added != n:
                raise Failure(f"add_approved added {added} cards; expected {n}")
            order_id = order.id
        times["order"] = time.monotonic() - start
    return order_id, times


def copy_store(src, dst):
    """Copies a closed store; a WAL left beside it goes along."""
    shutil.copyfile(src, dst)
    if os.path.exists(src + "-wal"):
        shutil.copyfile(src + "-wal", dst + "-wal")


def remove_store(path):
    for name in (path, path + "-wal", path + "-shm"):
        if os.path.exists(name):
            os.unlink(name)


# ---- the two runs --------------------------------------------------------------------


def run_driver(label, argv, env=None):
    """Runs one driver; returns its JSON line as a dict."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, env=env,
                                errors="replace")
    except OSError as exc:
        raise Failure(f"cannot run the {label} driver {argv[0]}: {exc}") from None
    if result.returncode != 0:
        why = result.stderr.strip() or result.stdout.strip() or "no message"
        raise Failure(f"the {label} driver failed (exit {result.returncode}): {why}")
    lines = result.stdout.strip().splitlines()
    try:
        figures = json.loads(lines[-1])
        for key in ("cards", "seconds", "cpu_seconds", "encoder_seconds", "rss_start_kib",
                    "peak_rss_kib", "peak_rss_reset", "libidm"):
            figures[key]
    except (IndexError, ValueError, KeyError, TypeError):
        raise Failure(f"the {label} driver printed no figures: {result.stdout!r}") from None
    if not figures["seconds"] > 0 or not figures["encoder_seconds"] > 0:
        raise Failure(f"the {label} driver measured no time: {lines[-1]}")
    return figures


def machine_lines(idm):
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name") and ":" in line:
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    print(f"machine:   nproc {os.cpu_count()}, {model}, {platform.system()} "
          f"{platform.release()}")
    print(f"software:  libidm {idm.library_version()}, Python {platform.python_version()} "
          f"({platform.python_implementation()}), both drivers on the same libidm")


def per_card(figures):
    """cards/s, and per card in ms: wall time, encoder, library (wall time
    minus encoder), CPU time."""
    n = figures["cards"]
    ms = figures["seconds"] * 1e3 / n
    enc_ms = figures["encoder_seconds"] * 1e3 / n
    return n / figures["seconds"], ms, enc_ms, ms - enc_ms, figures["cpu_seconds"] * 1e3 / n


def median(runs, key):
    """The run with the median key (the lower middle one of an even count)."""
    return sorted(runs, key=lambda f: f[key])[(len(runs) - 1) // 2]


def print_run(label, f):
    rate, ms, enc_ms, lib_ms, cpu_ms = per_card(f)
    print(f"{label:<16} {f['cards']:>7} {f['seconds']:>8.2f} {rate:>8.1f} {ms:>8.3f} "
          f"{enc_ms:>8.3f} {lib_ms:>8.3f} {cpu_ms:>8.3f} {f['peak_rss_kib']:>12} "
          f"{f['rss_start_kib']:>12}")


def report(runs):
    """runs: (round, {driver: figures} in the order they ran)."""
    print(f"\n{'run':<16} {'cards':>7} {'seconds':>8} {'cards/s':>8} {'ms/card':>8} "
          f"{'encoder':>8} {'library':>8} {'CPU ms':>8} {'peak RSS KiB':>12} "
          f"{'RSS at start':>12}")
    for number, pair in runs:
        for driver, f in pair.items():
            print_run(f"{driver}, round {number}", f)
    c = median([pair["C"] for _, pair in runs], "seconds")
    py = median([pair["Python"] for _, pair in runs], "seconds")
    c_cpu = median([pair["C"] for _, pair in runs], "cpu_seconds")["cpu_seconds"]
    py_cpu = median([pair["Python"] for _, pair in runs], "cpu_seconds")["cpu_seconds"]
    several = len(runs) > 1
    if several:
        print_run("C, median", c)
        print_run("Python, median", py)
    c_rate, c_ms, c_enc, c_lib, _ = per_card(c)
    py_rate, py_ms, py_enc, py_lib, _ = per_card(py)
    n = c["cards"]
    print(f"ratio:     Python cards/s / C cards/s = {py_rate / c_rate:.3f}"
          + (" (medians)" if several else ""))
    if several:
        paired = sorted(pair["C"]["seconds"] / pair["Python"]["seconds"] for _, pair in runs)
        print(f"           round by round: {', '.join(f'{r:.3f}' for r in paired)} (sorted)")
    print(f"extra:     the Python driving costs {(py_ms - c_ms) * 1e3:+.1f} us of wall time per "
          f"card ({(py_lib - c_lib) * 1e3:+.1f} us library, {(py_enc - c_enc) * 1e3:+.1f} us "
          "encoder)")
    print(f"           and {(py_cpu - c_cpu) * 1e6 / n:+.1f} us of CPU time per card "
          f"({py_cpu * 1e3 / n:.3f} ms against {c_cpu * 1e3 / n:.3f} ms"
          + (", medians)" if several else ")"))
    # The encoder is the same C code doing the same work per card in both
    # drivers, so its time per card gauges how fast the machine was during
    # each run; a run's time in encoder times is steadier on a shared machine.
    gauged = {driver: [pair[driver]["seconds"] / pair[driver]["encoder_seconds"]
                       for _, pair in runs] for driver in ("C", "Python")}
    g_c = sorted(gauged["C"])[(len(runs) - 1) // 2]
    g_py = sorted(gauged["Python"])[(len(runs) - 1) // 2]
    enc_us = sorted(pair["C"]["encoder_seconds"] for _, pair in runs)[(len(runs) - 1) // 2]
    enc_us *= 1e6 / n
    print(f"gauged:    a run's time in units of its own encoder time (the same C code in both "
          f"drivers): C {g_c:.2f}, Python {g_py:.2f}" + (", medians" if several else ""))
    print(f"           Python / C = {g_c / g_py:.3f}; the Python driving costs "
          f"{(g_py - g_c) * enc_us:+.1f} us per card at the C runs' encoder time "
          f"({enc_us:.1f} us per card)")
    if several:
        paired = sorted(c_g / py_g for c_g, py_g in zip(gauged["C"], gauged["Python"]))
        print(f"           round by round: {', '.join(f'{r:.3f}' for r in paired)} (sorted)")
    if not all(f["peak_rss_reset"] for _, pair in runs for f in pair.values()):
        print("           (a peak RSS was not reset: it includes its process's start)")
    print(f"checked:   every order completed, {n} of {n} cards produced in every run, one key "
          "each")


def compare(cards, rounds, c_driver, module_path):
    idm = import_idm()
    for what, path in (("C driver", c_driver), ("bench card module", module_path)):
        if not os.path.isfile(path):
            raise Failure(f"the {what} '{path}' does not exist (build it with ninja)")
    tmp = tempfile.mkdtemp(prefix="idm-bench-pvc-")
    try:
        machine_lines(idm)
        print(f"order:     {cards} Digital ID employee cards, card_key_slots \"9A\": one P-256 "
              "key and one certificate per card")
        print("           pin_source \"generated\", delivered to a callback that does nothing; "
              f"one station, group {GROUP}")
        print("encoder:   the bench card (bench_card.c), the same C code in both drivers: in "
              "memory, no I/O")
        print(f"CA, store: built-in CA (P-256); SQLite file under {tmp}, a fresh copy for each "
              "run")
        print(f"runs:      {rounds} round{'s' if rounds > 1 else ''} of one run per driver, each "
              "a process of its own, C first in odd rounds, Python first in even ones")

        db = os.path.join(tmp, "setup.db")
        order_id, t = set_up_order(idm, db, os.path.join(tmp, "people.csv"), cards)
        print(f"setup:     through the Python API, not timed below: import {t['import']:.2f} s, "
              f"cards {t['cards']:.2f} s (new, requested, approved), order {t['order']:.2f} s")

        env = dict(os.environ)
        package = os.path.dirname(os.path.dirname(os.path.abspath(idm.__file__)))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package, env.get("PYTHONPATH")) if p)
        copy = os.path.join(tmp, "run.db")
        args = [copy, str(order_id), str(GROUP)]
        commands = {
            "C": ([c_driver, *args], None),
            "Python": ([sys.executable, os.path.abspath(__file__), "--drive", *args,
                        "--module", module_path], env),
        }
        runs = []
        for number in range(1, rounds + 1):
            pair = {}
            for driver in ("C", "Python") if number % 2 else ("Python", "C"):
                copy_store(db, copy)
                pair[driver] = f = run_driver(driver, *commands[driver])
                remove_store(copy)
                if f["cards"] != cards:
                    raise Failure(f"the {driver} driver produced an order of {f['cards']} "
                                  f"cards; expected {cards}")
            if not os.path.samefile(pair["C"]["libidm"], pair["Python"]["libidm"]):
                raise Failure(f"the C driver ran {pair['C']['libidm']} and the Python driver "
                              f"{pair['Python']['libidm']}; set IDM_LIBRARY to the C driver's")
            runs.append((number, pair))
        print(f"libidm:    {runs[0][1]['Python']['libidm']} (both drivers)")
        report(runs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- main ----------------------------------------------------------------------------


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=PROGRAM, description="The same Digital ID order driven from C and from Python.")
    parser.add_argument("cards", nargs="?", default=str(DEFAULT_CARDS), metavar="CARDS",
                        help=f"cards in the order (default {DEFAULT_CARDS})")
    parser.add_argument("--rounds", default="3",
                        help="runs per driver, interleaved; the medians are compared "
                             "(default 3)")
    parser.add_argument("--c-driver", default=os.environ.get("IDM_BENCH_DRIVE_ORDER"),
                        help="idm-bench-drive-order (default $IDM_BENCH_DRIVE_ORDER)")
    parser.add_argument("--module", default=os.environ.get("IDM_BENCH_CARD_MODULE"),
                        help="the idm-bench-card module (default $IDM_BENCH_CARD_MODULE)")
    # the Python driver, run by this script in a process of its own
    parser.add_argument("--drive", nargs=3, metavar=("DB", "ORDER_ID", "GROUP"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.module is None:
        raise Failure("name the bench card module with --module or IDM_BENCH_CARD_MODULE "
                      "(<build>/bench/libidm-bench-card.so)")
    if args.drive is None and args.c_driver is None:
        raise Failure("name the C driver with --c-driver or IDM_BENCH_DRIVE_ORDER "
                      "(<build>/bench/idm-bench-drive-order)")
    return args


def number(text, what, top):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= top:
        raise Failure(f"{what} is '{text}'; expected a number from 1 to {top}")
    return value


def main(argv):
    try:
        args = parse_args(argv)
        if args.drive is not None:
            db, order_id, group = args.drive
            figures = drive(db, number(order_id, "ORDER_ID", 2**63 - 1),
                            number(group, "GROUP", 1000), args.module)
            print(json.dumps(figures))
        else:
            compare(number(args.cards, "CARDS", MAX_CARDS), number(args.rounds, "ROUNDS", 99),
                    args.c_driver, args.module)
    except Failure as exc:
        print(f"{PROGRAM}: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # an idm.Error or an OSError: its words are the reason
        print(f"{PROGRAM}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
