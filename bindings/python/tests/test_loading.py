"""The package loads the library, checks its version and maps errors."""

import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import idm


class LoadingTest(unittest.TestCase):
    def test_library_version_matches_the_build(self):
        expected = os.environ.get("IDM_EXPECTED_VERSION")
        self.assertTrue(expected, "IDM_EXPECTED_VERSION is not set by the test runner")
        self.assertEqual(idm.library_version(), expected)

    def test_error_names(self):
        self.assertEqual(idm.strerror_name(-1), "IDM_ERR_INVALID_ARG")
        self.assertEqual(idm.strerror(0), "success")
        self.assertEqual(idm.strerror_name(12345), "IDM_ERR_UNKNOWN")

    def test_failing_call_raises_with_code_name_and_detail(self):
        with self.assertRaises(idm.InvalidArgumentError) as cm:
            idm._lib.idm_ctx_new(None)
        err = cm.exception
        self.assertEqual(err.code, -1)
        self.assertEqual(err.name, "IDM_ERR_INVALID_ARG")
        self.assertIn("idm_ctx_new", err.message)
        self.assertIn("'out'", err.message)

    def test_out_of_range_level_is_refused(self):
        ctx = ctypes.c_void_p()
        idm._lib.idm_ctx_new(ctypes.byref(ctx))
        try:
            with self.assertRaises(idm.InvalidArgumentError) as cm:
                idm._lib.idm_ctx_set_log_level(ctx, 9)
            self.assertIn("'level' is 9", cm.exception.message)
        finally:
            idm._lib.idm_ctx_free(ctypes.byref(ctx))
        self.assertIsNone(ctx.value)



PACKAGE = os.path.dirname(os.path.abspath(idm.__file__))
WHICH = "import idm, idm._capi as c; print(c.lib._name, idm.library_version())"


@unittest.skipIf("asan" in os.environ.get("LD_PRELOAD", ""),
                 "path resolution, not memory: four Pythons of ten seconds each under ASan")
class LoaderOrderTest(unittest.TestCase):
    """IDM_LIBRARY if set, else the build tree the package sits in, else the
    system's search path (here LD_LIBRARY_PATH)."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.library = os.environ["IDM_LIBRARY"]
        # a checkout: bindings/python/idm beside build/src/libidm.so.1
        self.tree = self.tmp.name
        shutil.copytree(PACKAGE, os.path.join(self.tree, "bindings", "python", "idm"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        os.makedirs(os.path.join(self.tree, "build", "src"))
        self.system = os.path.join(self.tree, "system")
        os.mkdir(self.system)
        os.symlink(self.library, os.path.join(self.system, "libidm.so.1"))

    def load(self, **env):
        env = {k: v for k, v in dict(os.environ, **env).items() if v is not None}
        env["PYTHONPATH"] = os.path.join(self.tree, "bindings", "python")
        return subprocess.run([sys.executable, "-X", "dev", "-W", "error", "-c", WHICH],
                              capture_output=True, text=True, env=env, cwd=self.tree,
                              timeout=60)

    def loaded(self, **env):
        result = self.load(**env)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout.split()[0]

    def test_idm_library_comes_first(self):
        os.symlink(self.library, os.path.join(self.tree, "build", "src", "libidm.so.1"))
        self.assertEqual(self.loaded(IDM_LIBRARY=self.library, LD_LIBRARY_PATH=self.system),
                         self.library)

    def test_then_the_build_tree(self):
        built = os.path.join(self.tree, "build", "src", "libidm.so.1")
        os.symlink(self.library, built)
        self.assertEqual(self.loaded(IDM_LIBRARY=None, LD_LIBRARY_PATH=self.system), built)

    def test_then_the_system(self):
        self.assertEqual(self.loaded(IDM_LIBRARY=None, LD_LIBRARY_PATH=self.system),
                         "libidm.so.1")

    def test_a_missing_library_is_an_import_error_naming_it(self):
        missing = os.path.join(self.tree, "nowhere", "libidm.so.1")
        result = self.load(IDM_LIBRARY=missing)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"ImportError: cannot load libidm: {missing}: no such file",
                      result.stderr)


if __name__ == "__main__":
    unittest.main()
