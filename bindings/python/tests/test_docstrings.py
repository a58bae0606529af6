"""Every public name of the package is documented: the classes, functions,
methods and properties that idm exports have docstrings (help(idm.Card)
is the reference a script writer reads)."""

import inspect
import unittest

import idm


def undocumented():
    missing = []
    for name in idm.__all__:
        obj = getattr(idm, name)
        if not inspect.getdoc(obj):
            missing.append(name)
        if not inspect.isclass(obj) or issubclass(obj, int):  # enums: their values
            continue
        for attr, value in vars(obj).items():
            if attr.startswith("_"):
                continue
            if isinstance(value, (classmethod, staticmethod)):
                value = value.__func__
            if isinstance(value, property):
                doc = value.__doc__
            elif callable(value):
                doc = inspect.getdoc(value)
            else:
                continue  # class constants
            if not doc:
                missing.append(f"{name}.{attr}")
    return missing


class DocstringTest(unittest.TestCase):
    def test_every_public_name_has_a_docstring(self):
        self.assertEqual(undocumented(), [])


if __name__ == "__main__":
    unittest.main()
