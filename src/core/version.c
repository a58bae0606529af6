#include <idm/version.h>

#include "core/export.h"

IDM_EXPORT unsigned long idm_version(void)
{
    return IDM_VERSION_NUMBER;
}

IDM_EXPORT const char *idm_version_string(void)
{
    return IDM_VERSION_STRING;
}
