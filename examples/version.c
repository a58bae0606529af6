/*
 * The smallest libidm program: prints the library version, then shows how a
 * bad argument is answered: an error code, its name and a message that says
 * what was wrong.  Run: ./build/examples/idm-example-version
 */
#include <stdio.h>

#include <idm/idm.h>

int main(void)
{
    printf("libidm %s (headers %s)\n", idm_version_string(), IDM_VERSION_STRING);

    idm_ctx_t *ctx = NULL;
    int rc = idm_ctx_new(&ctx);
    if (rc != IDM_OK) {
        fprintf(stderr, "cannot create a context: %s\n", idm_last_error_message());
        return 1;
    }

    /* Log levels go from IDM_LOG_ERROR (0) to IDM_LOG_DEBUG (3); 7 is bad input. */
    rc = idm_ctx_set_log_level(ctx, (idm_log_level)7);
    printf("bad input gives %s (%d, \"%s\"):\n  %s\n", idm_strerror_name(rc), rc,
           idm_strerror(rc), idm_last_error_message());

    idm_ctx_free(&ctx);
    return rc == IDM_ERR_INVALID_ARG ? 0 : 1;
}
