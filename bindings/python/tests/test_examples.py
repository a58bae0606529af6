"""The Python examples (bindings/python/examples) run and do what they say."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "examples")
README = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(EXAMPLES))), "README.md")


class ExamplesTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name

    def run_example(self, name, *args):
        result = subprocess.run([sys.executable, "-X", "dev", "-W", "error",
                                 os.path.join(EXAMPLES, name)] + list(args),
                                capture_output=True, text=True, timeout=120)
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        return result.stdout

    def test_mass_production(self):
        out = self.run_example("mass_production.py", os.path.join(self.dir, "idm.db"),
                               "--cards", "2")
        self.assertIn("order 1: 2 cards", out)
        self.assertIn("(2 produced)", out)
        self.assertTrue(out.endswith("order 1: completed\n"))

    def test_external_order(self):
        out = self.run_example("external_order.py", os.path.join(self.dir, "idm.db"),
                               os.path.join(self.dir, "spool"), os.path.join(self.dir, "mail"))
        self.assertIn("sync: 1 sent, 0 failed", out)
        self.assertIn("produced, chip EXAMPLE-0001", out)
        self.assertIn("mail: ", out)

    def test_readme_snippet(self):
        """The README's Python example runs as printed."""
        with open(README, encoding="utf-8") as f:
            code = re.search(r"```python\n(.*?)```", f.read(), re.S).group(1)
        # it runs in a folder of its own: the package is found by absolute path
        package = os.path.dirname(EXAMPLES)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [package] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
        result = subprocess.run([sys.executable, "-X", "dev", "-W", "error", "-c", code],
                                capture_output=True, text=True, timeout=120, cwd=self.dir,
                                env=env)
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        self.assertEqual(result.stdout, "00000001 ORDERED\n")

    @unittest.skipUnless(shutil.which("openssl"), "needs the openssl tool")
    def test_python_ca(self):
        out = self.run_example("python_ca.py", os.path.join(self.dir, "idm.db"))
        self.assertIn("CA: authentication certificate for CN=Alan Turing", out)
        self.assertIn("(superseded)", out)


if __name__ == "__main__":
    unittest.main()
