"""The package loads the library, checks its version and maps errors."""

import ctypes
import os
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


if __name__ == "__main__":
    unittest.main()
