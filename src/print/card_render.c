/*
 * A card rendered with a layout: the values its templates take, read from
 * the card and its holder, handed to the renderer (render.c).
 */
#include <stdlib.h>
#include <string.h>

#include <idm/identity.h>

#include "core/error_impl.h"
#include "core/export.h"
#include "core/handle.h"
#include "model/card_impl.h"
#include "print/layout_impl.h"

/* The card's own keys, then the holder's; an attribute that shares a
 * card key's name cannot shadow it, because the renderer takes the first. */
enum { CARD_KEYS = 6 };

static int card_values(const idm_card_t *card, const idm_identity_t *holder,
                       struct idm_render_value **out, size_t *n)
{
    size_t nattrs = 0;
    if (holder != NULL)
        (void)idm_identity_get_attribute_count(holder, &nattrs);
    struct idm_render_value *v = calloc(CARD_KEYS + nattrs, sizeof *v);
    if (v == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a card's values");
    idm_card_type type = IDM_CARD_EMPLOYEE;
    idm_card_option option = IDM_CARD_PHYSICAL;
    const char *number = NULL, *name = NULL, *cn = NULL, *upn = NULL;
    (void)idm_card_get_number(card, &number);
    (void)idm_card_get_name(card, &name);
    (void)idm_card_get_type(card, &type);
    (void)idm_card_get_option(card, &option);
    if (holder != NULL) {
        (void)idm_identity_get_common_name(holder, &cn);
        (void)idm_identity_get_upn(holder, &upn);
    }
    size_t i = 0;
    v[i++] = (struct idm_render_value){"card.number", number};
    v[i++] = (struct idm_render_value){"card.type", idm_card_type_name(type)};
    v[i++] = (struct idm_render_value){"card.option", idm_card_option_name(option)};
    v[i++] = (struct idm_render_value){"card.name", name};
    /* A non-personal card's name is its common name, as for its subject. */
    v[i++] = (struct idm_render_value){"commonName", cn != NULL ? cn : name};
    v[i++] = (struct idm_render_value){"upn", upn};
    for (size_t a = 0; a < nattrs; a++) {
        const char *key = NULL, *value = NULL;
        if (idm_identity_get_attribute_at(holder, a, &key, &value) == IDM_OK)
            v[i++] = (struct idm_render_value){key, value};
    }
    *out = v;
    *n = i;
    return IDM_OK;
}

int idm_layout_render_card(const struct idm_layout *layout, const idm_card_t *card,
                           idm_render_format format, idm_card_face face, unsigned dpi,
                           idm_buffer_t *out)
{
    int64_t holder_id = 0;
    int rc = idm_card_get_identity_id(card, &holder_id);
    if (rc != IDM_OK)
        return rc;
    idm_identity_t *holder = NULL;
    if (holder_id != 0 &&
        (rc = idm_identity_open(idm_card_handle_ctx(card), holder_id, &holder)) != IDM_OK)
        return rc;
    struct idm_render_value *values = NULL;
    size_t nvalues = 0;
    rc = card_values(card, holder, &values, &nvalues);
    if (rc == IDM_OK)
        rc = idm_render(layout, values, nvalues, face, format, dpi, out);
    free(values);
    idm_identity_free(&holder);
    return rc;
}

IDM_EXPORT int idm_layout_render(const idm_layout_t *layout, const idm_card_t *card,
                                 idm_render_format format, idm_card_face face, unsigned dpi,
                                 idm_buffer_t *out)
{
    IDM_CHECK_HANDLE(layout, IDM_MAGIC_LAYOUT, "idm_layout_t");
    IDM_CHECK_HANDLE(card, IDM_MAGIC_CARD, "idm_card_t");
    IDM_CHECK_HANDLE(out, IDM_MAGIC_BUFFER, "idm_buffer_t");
    if (format != IDM_RENDER_PNG && format != IDM_RENDER_PDF)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'format' is %d; it must be "
                        "IDM_RENDER_PNG or IDM_RENDER_PDF", (int)format);
    if (format == IDM_RENDER_PNG && face != IDM_FACE_FRONT && face != IDM_FACE_BACK)
        return IDM_FAIL(IDM_ERR_INVALID_ARG, "argument 'face' is %d; it must be "
                        "IDM_FACE_FRONT or IDM_FACE_BACK", (int)face);
    int rc = idm_layout_render_card(layout, card, format, face, dpi, out);
    return rc == IDM_OK ? IDM_OK : idm_error_prefix(__func__, rc);
}
