"""The one table of C declarations matches src/libidm.map and the headers.

The headers are parsed with a small parser that knows the shapes they use:
function prototypes, function pointer typedefs, opaque struct typedefs,
enums with explicit values, versioned ops tables, and integer #defines.
IDM_MAP and IDM_INCLUDE_DIR (set by meson) say where the map and include/
are; without them the source tree around this file is used.
"""

import collections
import ctypes
import enum
import os
import re
import unittest
from pathlib import Path

import idm
from idm import _capi, enums

_SOURCE_ROOT = Path(__file__).resolve().parents[3]


def _path_from_env(var, fallback):
    value = os.environ.get(var)
    path = Path(value) if value else fallback
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; set {var} (meson test sets it)")
    return path


# ---- src/libidm.map --------------------------------------------------------


def read_map(path):
    """The global symbols of a version script, in order."""
    text = re.sub(r"/\*.*?\*/", " ", Path(path).read_text(), flags=re.S)
    symbols = []
    for block in re.findall(r"global\s*:(.*?)(?:local\s*:|\})", text, flags=re.S):
        symbols += [s.strip() for s in block.split(";") if s.strip()]
    return symbols


# ---- the headers -------------------------------------------------------------

CType = collections.namedtuple("CType", "base depth")  # base words, pointer depth
FnType = collections.namedtuple("FnType", "ret args")  # CType or FnType, [(name, type)]

_FNPTR = re.compile(r"^(?P<ret>.+?)\(\s*\*\s*(?P<name>\w+)\s*\)\s*\((?P<args>.*)\)$", re.S)
_QUALIFIERS = {"const", "volatile", "struct", "enum"}


def _norm(text):
    return " ".join(text.split())


def parse_type(text):
    """'const char *const *' -> CType('char', 2)."""
    text = text.replace("*", " * ")
    words = [w for w in text.split() if w not in _QUALIFIERS]
    depth = words.count("*")
    base = " ".join(w for w in words if w != "*")
    return CType(base, depth)


def _split_top(text, sep):
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch in "({":
            depth += 1
        elif ch in ")}":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def parse_args(text):
    text = _norm(text)
    if text in ("", "void"):
        return []
    return [parse_decl(arg) for arg in _split_top(text, ",")]


def parse_decl(text):
    """'int (*issue)(const idm_cert_request_t *request, ...)' or 'size_t len'
    -> (name, CType or FnType)."""
    text = _norm(text)
    m = _FNPTR.match(text)
    if m:
        return m["name"], FnType(parse_type(m["ret"]), parse_args(m["args"]))
    m = re.match(r"^(.*?[\s*])(\w+)$", text)
    if m is None:
        raise ValueError(f"cannot parse the declaration {text!r}")
    return m[2], parse_type(m[1])


class Headers:
    """What the public headers declare."""

    def __init__(self, include_dir):
        self.functions = {}  # name -> FnType
        self.callbacks = {}  # typedef name -> FnType
        self.enums = {}      # typedef name -> [(enumerator, value)]
        self.structs = {}    # typedef name -> [(member, CType or FnType)]
        self.opaque = set()  # typedef names of incomplete structs
        self.defines = {}    # IDM_X -> int
        self.origin = {}     # declared name -> header file name
        folder = Path(include_dir) / "idm"
        files = sorted(folder.glob("*.h")) + [folder / "version.h.in"]
        for path in files:
            if path.exists():
                self._parse(path)

    def _parse(self, path):
        text = Path(path).read_text()
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        text = re.sub(r"//[^\n]*", " ", text)
        text = text.replace("\\\n", " ")  # continuation lines
        text = re.sub(r"#ifdef __cplusplus.*?#endif", " ", text, flags=re.S)
        for m in re.finditer(r"^\s*#\s*define\s+(IDM_\w+)\s+(-?(?:0x[0-9A-Fa-f]+|\d+))\s*$",
                             text, flags=re.M):
            self.defines[m[1]] = int(m[2], 0)
        text = re.sub(r"^\s*#[^\n]*", " ", text, flags=re.M)
        for statement in _split_top(text, ";"):
            statement = _norm(statement)
            if statement:
                self._statement(statement, path.name)

    def _statement(self, s, origin):
        m = re.match(r"^typedef enum \w* ?\{(?P<body>.*)\} (?P<name>\w+)$", s)
        if m:
            values = []
            for entry in m["body"].split(","):
                if entry.strip():
                    em = re.match(r"^\s*(IDM_\w+)\s*=\s*(-?(?:0x[0-9A-Fa-f]+|\d+))\s*$", entry)
                    if em is None:
                        raise ValueError(f"{origin}: enumerator without a value: {entry!r}")
                    values.append((em[1], int(em[2], 0)))
            self._add(self.enums, m["name"], values, origin)
            return
        m = re.match(r"^typedef struct \w* ?\{(?P<body>.*)\} (?P<name>\w+)$", s)
        if m:
            members = [parse_decl(d) for d in _split_top(m["body"], ";") if d.strip()]
            self._add(self.structs, m["name"], members, origin)
            return
        m = re.match(r"^typedef struct \w+ (?P<name>\w+)$", s)
        if m:
            self.opaque.add(m["name"])
            self.origin[m["name"]] = origin
            return
        if s.startswith("typedef "):
            name, fn = parse_decl(s[len("typedef "):])
            if not isinstance(fn, FnType):
                raise ValueError(f"{origin}: unexpected typedef {s!r}")
            self._add(self.callbacks, name, fn, origin)
            return
        m = re.match(r"^(?P<ret>.+?[\s*])(?P<name>idm_\w+)\s*\((?P<args>.*)\)$", s, flags=re.S)
        if m:
            fn = FnType(parse_type(m["ret"]), parse_args(m["args"]))
            self._add(self.functions, m["name"], fn, origin)
            return
        raise ValueError(f"{origin}: cannot parse {s!r}")

    def _add(self, table, name, value, origin):
        if name in table:
            raise ValueError(f"{name} is declared in {self.origin[name]} and {origin}")
        table[name] = value
        self.origin[name] = origin


# ---- matching C types and ctypes types ----------------------------------------

_INTEGERS = {
    "int": ctypes.c_int, "unsigned": ctypes.c_uint, "unsigned int": ctypes.c_uint,
    "long": ctypes.c_long, "unsigned long": ctypes.c_ulong, "size_t": ctypes.c_size_t,
    "int32_t": ctypes.c_int32, "uint32_t": ctypes.c_uint32, "int64_t": ctypes.c_int64,
    "uint64_t": ctypes.c_uint64, "unsigned char": ctypes.c_ubyte,
}
_INTEGER_CODES = set("bBhHiIlLqQ")


def _is_integer_type(py):
    return (isinstance(py, type) and issubclass(py, ctypes._SimpleCData)
            and py._type_ in _INTEGER_CODES)


def _signed(py):
    return py(-1).value < 0


def _name(py):
    return getattr(py, "__name__", repr(py))


class Matcher:
    def __init__(self, headers):
        self.h = headers

    def resolve(self, ct):
        if isinstance(ct, CType) and ct.depth == 0 and ct.base in self.h.callbacks:
            return self.h.callbacks[ct.base]
        return ct

    def mismatch(self, ct, py):
        """None when the ctypes type py fits the C type ct, else why not."""
        ct = self.resolve(ct)
        if isinstance(ct, FnType):
            return self.fn_mismatch(ct, py)
        if ct.depth == 0:
            if ct.base == "void":
                return None if py is None else f"void but {_name(py)}"
            if ct.base in self.h.enums:
                return None if py is ctypes.c_int else f"enum {ct.base} but {_name(py)}"
            if ct.base == "char":
                return None if py is ctypes.c_char else f"char but {_name(py)}"
            ref = _INTEGERS.get(ct.base)
            if ref is None:
                return f"unknown C type {ct.base}"
            if not _is_integer_type(py):
                return f"{ct.base} but {_name(py)}"
            if ctypes.sizeof(py) != ctypes.sizeof(ref) or _signed(py) != _signed(ref):
                return f"{ct.base} but {_name(py)} (size or signedness differ)"
            return None
        what = f"{ct.base} {'*' * ct.depth}"
        if py is ctypes.c_void_p:
            ok = ct.depth == 1 and (ct.base in ("void", "unsigned char")
                                    or ct.base in self.h.opaque)
            return None if ok else f"{what} but c_void_p"
        if py is ctypes.c_char_p:
            return None if (ct.depth, ct.base) == (1, "char") else f"{what} but c_char_p"
        if isinstance(py, type) and issubclass(py, ctypes._Pointer):
            if ct.depth == 1 and ct.base in self.h.structs:
                want = _capi.STRUCTS.get(ct.base)
                return None if py._type_ is want else f"{what} but POINTER({_name(py._type_)})"
            if ct.depth == 1 and (ct.base == "void" or ct.base in self.h.opaque):
                return f"{what} but POINTER({_name(py._type_)})"
            inner = self.mismatch(CType(ct.base, ct.depth - 1), py._type_)
            return None if inner is None else f"{what}: pointee: {inner}"
        return f"{what} but {_name(py)}"

    def fn_mismatch(self, fn, py):
        if not (isinstance(py, type) and issubclass(py, ctypes._CFuncPtr)):
            return f"a function pointer but {_name(py)}"
        if py._flags_ != ctypes._FUNCFLAG_CDECL:
            return "a function pointer but not a CFUNCTYPE"
        problems = []
        why = self.mismatch(fn.ret, py._restype_)
        if why:
            problems.append(f"returns {why}")
        if len(fn.args) != len(py._argtypes_):
            problems.append(f"{len(fn.args)} arguments in C, {len(py._argtypes_)} in Python")
        else:
            for (name, ct), arg in zip(fn.args, py._argtypes_):
                why = self.mismatch(ct, arg)
                if why:
                    problems.append(f"argument {name}: {why}")
        return "; ".join(problems) or None


def _c_layout(members):
    """Offsets and size of a struct of integers and pointers, as C lays it out."""
    offset, offsets, max_align = 0, [], 1
    for _, ct in members:
        if isinstance(ct, FnType) or ct.depth > 0:
            size = align = ctypes.sizeof(ctypes.c_void_p)
        else:
            size = ctypes.sizeof(_INTEGERS[ct.base])
            align = ctypes.alignment(_INTEGERS[ct.base])
        offset = (offset + align - 1) // align * align
        offsets.append(offset)
        offset += size
        max_align = max(max_align, align)
    return offsets, (offset + max_align - 1) // max_align * max_align


# ---- the tests ------------------------------------------------------------------

_MAP = _path_from_env("IDM_MAP", _SOURCE_ROOT / "src" / "libidm.map")
_INCLUDE = _path_from_env("IDM_INCLUDE_DIR", _SOURCE_ROOT / "include")


class MapTest(unittest.TestCase):
    """(a) the table and src/libidm.map list the same functions."""

    @classmethod
    def setUpClass(cls):
        cls.symbols = read_map(_MAP)
        cls.headers = Headers(_INCLUDE)

    def test_map_is_read(self):
        self.assertGreater(len(self.symbols), 200)
        self.assertEqual(len(self.symbols), len(set(self.symbols)), "a symbol is listed twice")

    def test_every_exported_symbol_is_declared(self):
        missing = [s for s in self.symbols if s not in _capi.FUNCTIONS]
        self.assertEqual(missing, [], "exported by the library but not in _capi.FUNCTIONS")

    def test_every_declared_function_is_exported(self):
        extra = sorted(set(_capi.FUNCTIONS) - set(self.symbols))
        self.assertEqual(extra, [], "in _capi.FUNCTIONS but not in src/libidm.map")

    def test_every_exported_symbol_has_a_prototype(self):
        missing = [s for s in self.symbols if s not in self.headers.functions]
        self.assertEqual(missing, [], "in src/libidm.map but declared in no public header")

    def test_every_prototype_is_exported(self):
        extra = sorted(set(self.headers.functions) - set(self.symbols))
        self.assertEqual(extra, [], "declared in a header but not in src/libidm.map")

    def test_the_library_has_each_function_as_declared(self):
        for name, (restype, argtypes, errcheck) in _capi.FUNCTIONS.items():
            with self.subTest(name):
                fn = getattr(idm._lib, name)
                self.assertIs(fn.restype, restype)
                self.assertEqual(list(fn.argtypes), list(argtypes))
                if errcheck is not None:
                    self.assertIs(fn.errcheck, errcheck)


class PrototypeTest(unittest.TestCase):
    """(b) each declaration matches its C prototype."""

    @classmethod
    def setUpClass(cls):
        cls.headers = Headers(_INCLUDE)
        cls.match = Matcher(cls.headers)

    def test_the_parser_sees_the_headers(self):
        self.assertGreater(len(self.headers.functions), 200)
        self.assertIn("idm_ctx_t", self.headers.opaque)
        self.assertIn("idm_external_t", self.headers.opaque)

    def test_each_function_matches_its_prototype(self):
        for name, (restype, argtypes, errcheck) in _capi.FUNCTIONS.items():
            fn = self.headers.functions.get(name)
            if fn is None:
                continue  # reported by MapTest
            with self.subTest(name):
                self.assertEqual(len(argtypes), len(fn.args),
                                 f"{name}: {len(fn.args)} arguments in C")
                for i, ((arg, ct), py) in enumerate(zip(fn.args, argtypes)):
                    why = self.match.mismatch(ct, py)
                    self.assertIsNone(why, f"{name} argument {i} ({arg})")

    def test_each_return_kind_matches(self):
        for name, (restype, argtypes, errcheck) in _capi.FUNCTIONS.items():
            fn = self.headers.functions.get(name)
            if fn is None:
                continue
            ret = fn.ret
            with self.subTest(name):
                if ret == CType("void", 0):
                    self.assertIsNone(restype)
                    self.assertIsNone(errcheck)
                elif ret == CType("int", 0):
                    self.assertIs(restype, ctypes.c_int)
                    self.assertIs(errcheck, _capi.check, "int results are error codes")
                elif ret == CType("char", 1):
                    self.assertIs(restype, ctypes.c_char_p)
                    self.assertIsNone(errcheck)
                else:
                    self.assertIsNone(self.match.mismatch(ret, restype))
                    self.assertIsNone(errcheck)

    def test_each_callback_typedef_is_declared_exactly(self):
        self.assertEqual(sorted(_capi.CALLBACKS), sorted(self.headers.callbacks))
        for name, fn in self.headers.callbacks.items():
            with self.subTest(name):
                self.assertIsNone(self.match.fn_mismatch(fn, _capi.CALLBACKS[name]))

    def test_callback_types_take_none_as_null(self):
        self.assertFalse(_capi.LogFn.from_param(None))
        self.assertIsInstance(_capi.LogFn.from_param(None), _capi.LogFn)

    def test_each_integer_define_is_a_constant(self):
        self.assertEqual(_capi.CONSTANTS, self.headers.defines)


class EnumTest(unittest.TestCase):
    """(c) every enumerator of every public enum is an IntEnum member."""

    @classmethod
    def setUpClass(cls):
        cls.headers = Headers(_INCLUDE)

    def test_every_enum_is_mirrored(self):
        self.assertEqual(sorted(enums.C_ENUMS), sorted(self.headers.enums))

    def test_every_enumerator_has_its_value(self):
        for c_enum, values in self.headers.enums.items():
            cls, prefix = enums.C_ENUMS[c_enum]
            with self.subTest(c_enum):
                self.assertTrue(issubclass(cls, (enum.IntEnum, enum.IntFlag)))
                for c_name, value in values:
                    member = enums.member_name(c_name, prefix)
                    self.assertIn(member, cls.__members__, c_name)
                    self.assertEqual(cls[member], value, c_name)
                self.assertEqual(len(cls.__members__), len(values),
                                 f"{cls.__name__} has members {c_enum} lacks")

    def test_enums_are_exported_by_the_package(self):
        for cls, _ in enums.C_ENUMS.values():
            self.assertIs(getattr(idm, cls.__name__), cls)

    def test_the_library_names_agree(self):
        lib = idm._lib
        named = [
            (lib.idm_log_level_name, enums.LogLevel),
            (lib.idm_identity_state_name, enums.IdentityState),
            (lib.idm_card_type_name, enums.CardType),
            (lib.idm_card_state_name, enums.CardState),
            (lib.idm_card_option_name, enums.CardOption),
            (lib.idm_production_name, enums.Production),
            (lib.idm_cert_state_name, enums.CertState),
            (lib.idm_order_kind_name, enums.OrderKind),
            (lib.idm_order_state_name, enums.OrderState),
            (lib.idm_order_card_outcome_name, enums.OrderCardOutcome),
            (lib.idm_object_type_name, enums.ObjectType),
            (lib.idm_key_usage_name, enums.KeyUsage),
            (lib.idm_bureau_status_name, enums.BureauStatus),
            (lib.idm_notification_kind_name, enums.NotificationKind),
        ]
        for fn, cls in named:
            for member in cls:
                self.assertEqual(fn(member).decode(), member.name.lower())
        for slot in enums.PivSlot:
            self.assertEqual(lib.idm_piv_slot_name(slot).decode(),
                             f"{slot.value:02X} {slot.name.lower().replace('_', ' ')}")
        for code in enums.ErrorCode:
            self.assertEqual(idm.strerror_name(code), "IDM_" + code.name
                             if code == 0 else "IDM_ERR_" + code.name)

    def test_steps_combine(self):
        steps = ctypes.c_uint()
        idm._lib.idm_process_steps(enums.CardType.EMPLOYEE, enums.CardOption.DIGITAL,
                                   ctypes.byref(steps))
        self.assertEqual(enums.ProductionStep(steps.value), enums.ProductionStep(0x1F))
        idm._lib.idm_process_steps(enums.CardType.EMPLOYEE, enums.CardOption.PHYSICAL,
                                   ctypes.byref(steps))
        self.assertNotIn(enums.ProductionStep.ISSUE, enums.ProductionStep(steps.value))


class StructTest(unittest.TestCase):
    """(d) every ops and hooks table has the header's fields, in order, and its size."""

    @classmethod
    def setUpClass(cls):
        cls.headers = Headers(_INCLUDE)
        cls.match = Matcher(cls.headers)

    def test_every_table_is_mirrored(self):
        self.assertEqual(sorted(_capi.STRUCTS), sorted(self.headers.structs))

    def test_fields_in_header_order_with_their_types(self):
        for c_name, members in self.headers.structs.items():
            cls = _capi.STRUCTS[c_name]
            with self.subTest(c_name):
                self.assertEqual([f[0] for f in cls._fields_], [m[0] for m in members])
                self.assertEqual(members[:2], [("version", CType("uint32_t", 0)),
                                               ("size", CType("uint32_t", 0))])
                for (field, py), (_, ct) in zip(cls._fields_, members):
                    self.assertIsNone(self.match.mismatch(ct, py), f"{c_name}.{field}")

    def test_layout_is_the_c_layout(self):
        for c_name, members in self.headers.structs.items():
            cls = _capi.STRUCTS[c_name]
            offsets, size = _c_layout(members)
            with self.subTest(c_name):
                self.assertEqual([getattr(cls, m[0]).offset for m in members], offsets)
                self.assertEqual(ctypes.sizeof(cls), size)

    def test_init_sets_version_and_size(self):
        for c_name, cls in _capi.STRUCTS.items():
            with self.subTest(c_name):
                table = cls.init()
                self.assertEqual(table.version, self.headers.defines[c_name.upper() + "_VERSION"])
                self.assertEqual(table.size, ctypes.sizeof(cls))
                for field, _ in cls._fields_[2:]:
                    self.assertFalse(getattr(table, field), f"{field} is not NULL")
        self.assertEqual(_capi.ca_ops_init().size, ctypes.sizeof(_capi.CaOps))
        self.assertEqual(_capi.encoder_ops_init().size, ctypes.sizeof(_capi.EncoderOps))
        self.assertEqual(_capi.producer_ops_init().size, ctypes.sizeof(_capi.ProducerOps))
        self.assertEqual(_capi.notifier_ops_init().size, ctypes.sizeof(_capi.NotifierOps))
        self.assertEqual(_capi.production_hooks_init().size,
                         ctypes.sizeof(_capi.ProductionHooks))


class ParserTest(unittest.TestCase):
    """The parser itself, on the shapes it must see."""

    def test_declarations(self):
        self.assertEqual(parse_decl("const char *const *message_ids"),
                         ("message_ids", CType("char", 2)))
        self.assertEqual(parse_decl("unsigned long x"), ("x", CType("unsigned long", 0)))
        name, fn = parse_decl("void (*destroy)(void *user_data)")
        self.assertEqual((name, fn), ("destroy", FnType(CType("void", 0),
                                                        [("user_data", CType("void", 1))])))
        self.assertEqual(parse_args(" void "), [])

    def test_the_matcher_refuses_near_misses(self):
        m = Matcher(Headers(_INCLUDE))
        self.assertIsNotNone(m.mismatch(CType("int64_t", 1), ctypes.POINTER(ctypes.c_int)))
        self.assertIsNotNone(m.mismatch(CType("int64_t", 1), ctypes.POINTER(ctypes.c_uint64)))
        self.assertIsNotNone(m.mismatch(CType("idm_ctx_t", 2), ctypes.c_void_p))
        self.assertIsNotNone(m.mismatch(CType("idm_card_state", 0), ctypes.c_uint))
        self.assertIsNotNone(m.mismatch(CType("size_t", 0), ctypes.c_int))
        self.assertIsNotNone(m.mismatch(CType("idm_log_fn", 0), ctypes.c_void_p))
        self.assertIsNotNone(m.mismatch(CType("idm_log_fn", 0), _capi.ClockFn))
        self.assertIsNone(m.mismatch(CType("idm_ctx_t", 2), ctypes.POINTER(ctypes.c_void_p)))
        self.assertIsNone(m.mismatch(CType("unsigned char", 1), ctypes.POINTER(ctypes.c_ubyte)))


if __name__ == "__main__":
    unittest.main()
