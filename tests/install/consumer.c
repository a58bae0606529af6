/* A program built against the installed library with pkg-config alone. */
#include <stdio.h>
#include <string.h>

#include <idm/idm.h>

int main(void)
{
    if (idm_version() != IDM_VERSION_NUMBER) {
        fprintf(stderr, "headers %s but library %s\n", IDM_VERSION_STRING, idm_version_string());
        return 1;
    }
    idm_ctx_t *ctx = NULL;
    if (idm_ctx_new(&ctx) != IDM_OK) {
        fprintf(stderr, "idm_ctx_new: %s\n", idm_last_error_message());
        return 1;
    }
    int rc = idm_ctx_set_log_level(ctx, (idm_log_level)42);
    idm_ctx_free(&ctx);
    if (rc != IDM_ERR_INVALID_ARG || strstr(idm_last_error_message(), "'level'") == NULL) {
        fprintf(stderr, "expected IDM_ERR_INVALID_ARG naming 'level', got %s: %s\n",
                idm_strerror_name(rc), idm_last_error_message());
        return 1;
    }
    printf("libidm %s ok\n", idm_version_string());
    return 0;
}
