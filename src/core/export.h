/*
 * The export macro.  The library is compiled with -fvisibility=hidden, so a
 * function is visible to hosts only if its definition carries IDM_EXPORT
 * and src/libidm.map lists it under a version node.  tests/scripts/
 * check-exports.sh proves the two agree.
 */
#ifndef IDM_CORE_EXPORT_H
#define IDM_CORE_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define IDM_EXPORT __attribute__((visibility("default")))
#else
#define IDM_EXPORT
#endif

#endif /* IDM_CORE_EXPORT_H */
