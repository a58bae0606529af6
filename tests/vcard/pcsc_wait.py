#!/usr/bin/python3
"""Wait until pcscd reports a card in each of the first N vpcd readers.

Used by scripts/pcsc-stack.sh instead of a sleep: pcscd polls its readers
about every 400 ms, and a fixed sleep is either too long or flaky.  Talks to
libpcsclite through ctypes (SCardGetStatusChange), so nothing beyond the
pcscd/libpcsclite packages is needed.

Exit status: 0 when every reader holds a card, 1 on timeout (with the reason
on stderr), 2 when libpcsclite cannot be loaded.
"""

import argparse
import ctypes
import sys
import time

# pcsc-lite on Linux: DWORD is unsigned long, LONG and SCARDCONTEXT are long.
DWORD = ctypes.c_ulong
LONG = ctypes.c_long
SCARD_SCOPE_SYSTEM = 2
SCARD_S_SUCCESS = 0
SCARD_E_TIMEOUT = 0x8010000A
SCARD_STATE_UNAWARE = 0x0000
SCARD_STATE_PRESENT = 0x0020
SCARD_STATE_MUTE = 0x0200
MAX_ATR_SIZE = 33


class ReaderState(ctypes.Structure):
    _fields_ = [("szReader", ctypes.c_char_p),
                ("pvUserData", ctypes.c_void_p),
                ("dwCurrentState", DWORD),
                ("dwEventState", DWORD),
                ("cbAtr", DWORD),
                ("rgbAtr", ctypes.c_ubyte * MAX_ATR_SIZE)]


def load():
    lib = ctypes.CDLL("libpcsclite.so.1")
    lib.SCardEstablishContext.argtypes = [DWORD, ctypes.c_void_p, ctypes.c_void_p,
                                          ctypes.POINTER(LONG)]
    lib.SCardEstablishContext.restype = LONG
    lib.SCardReleaseContext.argtypes = [LONG]
    lib.SCardReleaseContext.restype = LONG
    lib.SCardListReaders.argtypes = [LONG, ctypes.c_char_p, ctypes.c_char_p,
                                     ctypes.POINTER(DWORD)]
    lib.SCardListReaders.restype = LONG
    lib.SCardGetStatusChange.argtypes = [LONG, DWORD, ctypes.POINTER(ReaderState), DWORD]
    lib.SCardGetStatusChange.restype = LONG
    return lib


def list_readers(lib, ctx):
    size = DWORD(0)
    if lib.SCardListReaders(ctx, None, None, ctypes.byref(size)) != SCARD_S_SUCCESS:
        return []
    buf = ctypes.create_string_buffer(size.value)
    if lib.SCardListReaders(ctx, None, buf, ctypes.byref(size)) != SCARD_S_SUCCESS:
        return []
    return [r.decode() for r in buf.raw[:size.value].split(b"\0") if r]


def wait(readers, timeout, only=None, absent=False):
    """Return None on success, else a sentence saying what was missing.

    only: watch just that reader index; absent: wait for the reader(s) to be
    empty instead (a card swapped by `pcsc-stack.sh card` must first be seen
    leaving, or the old card would pass for the new one)."""
    lib = load()
    deadline = time.monotonic() + timeout
    indexes = [only] if only is not None else range(readers)
    wanted = ["Virtual PCD 00 %02d" % i for i in indexes]
    ctx = LONG(0)
    problem = "pcscd is not answering (SCardEstablishContext failed)"
    # pcscd may still be starting: keep asking for a context until the deadline.
    while lib.SCardEstablishContext(SCARD_SCOPE_SYSTEM, None, None, ctypes.byref(ctx)):
        if time.monotonic() > deadline:
            return problem
        time.sleep(0.05)
    try:
        while True:
            present = list_readers(lib, ctx)
            missing = [r for r in wanted if not any(p.startswith(r) for p in present)]
            if missing:
                problem = "reader(s) %s not known to pcscd (readers: %s); is vsmartcard-vpcd " \
                          "installed and was pcscd started after it?" % (missing, present or "none")
                if time.monotonic() > deadline:
                    return problem
                time.sleep(0.1)   # reader list changes are rare; a short poll is fine
                continue
            names = [next(p for p in present if p.startswith(r)) for r in wanted]
            states = (ReaderState * len(names))()
            for state, name in zip(states, names):
                state.szReader = name.encode()
                state.dwCurrentState = SCARD_STATE_UNAWARE
            while True:
                rc = lib.SCardGetStatusChange(ctx, 0, states, len(states))
                if rc != SCARD_S_SUCCESS:
                    break
                empty = [s.szReader.decode() for s in states
                         if not s.dwEventState & SCARD_STATE_PRESENT]
                mute = [s.szReader.decode() for s in states
                        if s.dwEventState & SCARD_STATE_MUTE]
                if absent:
                    if len(empty) == len(states):
                        return None
                    problem = "a card is still in %s" % [s.szReader.decode() for s in states
                                                          if s.szReader.decode() not in empty]
                elif not empty and not mute:
                    for s in states:
                        print("%s: card present, ATR %s" % (
                            s.szReader.decode(), bytes(s.rgbAtr[:s.cbAtr]).hex(" ").upper()))
                    return None
                elif empty:
                    problem = "no card in %s" % empty
                else:
                    problem = "card in %s is mute" % mute
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return problem
                # Block until pcscd reports a change (or the deadline passes).
                for s in states:
                    s.dwCurrentState = s.dwEventState
                rc = lib.SCardGetStatusChange(ctx, int(remaining * 1000), states, len(states))
                if rc not in (SCARD_S_SUCCESS, SCARD_E_TIMEOUT):
                    break                       # readers changed: list them again
            if time.monotonic() > deadline:
                return problem
    finally:
        lib.SCardReleaseContext(ctx)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--readers", type=int, default=1)
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--only", type=int, metavar="INDEX", help="watch only this reader")
    p.add_argument("--absent", action="store_true", help="wait until the reader(s) are empty")
    args = p.parse_args()
    try:
        problem = wait(args.readers, args.timeout, args.only, args.absent)
    except OSError as e:
        print("pcsc_wait: cannot load libpcsclite.so.1: %s" % e, file=sys.stderr)
        return 2
    if problem:
        print("pcsc_wait: after %.0f s: %s" % (args.timeout, problem), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
