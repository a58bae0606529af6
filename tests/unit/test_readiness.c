/* White-box: the built-in readiness rules of mass production
 * (src/workflow/readiness.c), each rule with a card that passes and one that
 * fails it, and the reason the workflow will record for the skip. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idm/idm.h>

#include "fixtures.h"
#include "model/options_impl.h"
#include "model/records.h"
#include "runner.h"
#include "store/store.h"
#include "workflow/readiness.h"

#define ACTOR "test"

struct world {
    char path[4096];
    idm_ctx_t *ctx;
};

static idm_card_t *card_in(struct world *w, idm_identity_t *holder, idm_card_type type,
                           idm_card_option option, idm_card_state until)
{
    int64_t holder_id = 0;
    if (holder != NULL)
        ck_ok(idm_identity_get_id(holder, &holder_id));
    idm_card_t *c = NULL;
    ck_ok(idm_card_new(w->ctx, ACTOR, type, option, IDM_PRODUCTION_LOCAL, holder_id,
                       holder != NULL ? NULL : "Reception desk", &c));
    static const idm_card_state path[] = {IDM_CARD_REQUESTED, IDM_CARD_APPROVED,
                                          IDM_CARD_ISSUED, IDM_CARD_ACTIVE};
    for (size_t i = 0; i < sizeof path / sizeof path[0]; i++) {
        if (until == IDM_CARD_REGISTERED)
            break;
        ck_ok(idm_card_set_state(c, ACTOR, path[i], NULL));
        if (path[i] == until)
            break;
    }
    return c;
}

/* Runs the rules on the stored card: 1 ready, 0 not, the reason in why. */
static int check(struct world *w, idm_card_t *card, char *why, size_t size)
{
    struct idm_store *s = NULL;
    struct idm_optset *o = NULL;
    struct idm_card_rec rec;
    memset(&rec, 0, sizeof rec);
    int64_t id;
    ck_ok(idm_card_get_id(card, &id));
    ck_ok(idm_sqlite_store_open(&s, w->path));
    ck_ok(idm_optset_load(s, &o));
    ck_ok(s->ops->card_load(s, id, &rec));
    int ready = -1;
    ck_ok(idm_readiness_check(s, o, &rec, &ready, why, size));
    idm_card_rec_clear(&rec);
    idm_optset_free(o);
    s->ops->close(s);
    ck_assert_int_ne(ready, -1);
    if (ready)
        ck_assert_str_eq(why, "");
    return ready;
}

static void world_open(struct world *w, const char *name)
{
    snprintf(w->path, sizeof w->path, "%s", fixture_store_path(name));
    w->ctx = fixture_ctx(w->path);
}

static void world_close(struct world *w)
{
    idm_ctx_free(&w->ctx);
    fixture_remove_store(w->path);
}

START_TEST(test_approved_card_of_active_holder_is_ready_and_others_say_why)
{
    struct world w;
    world_open(&w, "readiness-state");
    char why[512];
    idm_identity_t *ada = fixture_person(w.ctx, "E1", "Ada", "Lovelace");
    idm_card_t *ok = card_in(&w, ada, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, IDM_CARD_APPROVED);
    ck_assert(check(&w, ok, why, sizeof why));
    idm_card_t *early = card_in(&w, ada, IDM_CARD_CONTRACTOR, IDM_CARD_DIGITAL,
                                IDM_CARD_REQUESTED);
    ck_assert(!check(&w, early, why, sizeof why));
    ck_assert_ptr_nonnull(strstr(why, "in state 'requested'; mass production takes approved"));

    ck_ok(idm_identity_set_state(ada, ACTOR, IDM_IDENTITY_INACTIVE));
    ck_assert(!check(&w, ok, why, sizeof why));
    ck_assert_ptr_nonnull(strstr(why, "is 'inactive'"));
    /* A non-personal card has no holder to ask about. */
    idm_card_t *desk = card_in(&w, NULL, IDM_CARD_NON_PERSONAL, IDM_CARD_PHYSICAL,
                               IDM_CARD_APPROVED);
    ck_assert(check(&w, desk, why, sizeof why));
    idm_card_free(&ok);
    idm_card_free(&early);
    idm_card_free(&desk);
    idm_identity_free(&ada);
    world_close(&w);
}
END_TEST

START_TEST(test_attributes_the_templates_need_must_be_present)
{
    struct world w;
    world_open(&w, "readiness-attributes");
    char why[512];
    idm_identity_t *p = NULL;
    ck_ok(idm_identity_new(w.ctx, ACTOR, "E2", &p));
    ck_ok(idm_identity_set_attribute(p, ACTOR, "givenName", "Grace"));
    ck_ok(idm_identity_set_state(p, ACTOR, IDM_IDENTITY_ACTIVE));
    idm_card_t *c = card_in(&w, p, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, IDM_CARD_APPROVED);
    ck_assert(!check(&w, c, why, sizeof why));
    ck_assert_ptr_nonnull(strstr(why, "attribute 'surname'"));
    ck_assert_ptr_nonnull(strstr(why, "common_name_template"));
    /* An explicit common name stands in for the template. */
    ck_ok(idm_identity_set_common_name(p, ACTOR, "Grace Hopper"));
    ck_assert(check(&w, c, why, sizeof why));

    /* The UPN matters for Digital ID only. */
    ck_ok(idm_options_set_string(w.ctx, ACTOR, "upn_template", "${employeeNumber}@corp.example"));
    ck_assert(!check(&w, c, why, sizeof why));
    ck_assert_ptr_nonnull(strstr(why, "attribute 'employeeNumber'"));
    ck_assert_ptr_nonnull(strstr(why, "upn_template"));
    idm_card_t *physical = card_in(&w, p, IDM_CARD_VISITOR, IDM_CARD_PHYSICAL,
                                   IDM_CARD_APPROVED);
    ck_assert(check(&w, physical, why, sizeof why));
    ck_ok(idm_identity_set_attribute(p, ACTOR, "employeeNumber", "4711"));
    ck_assert(check(&w, c, why, sizeof why));
    idm_card_free(&c);
    idm_card_free(&physical);
    idm_identity_free(&p);
    world_close(&w);
}
END_TEST

START_TEST(test_a_card_in_use_blocks_another_of_its_type_unless_allowed)
{
    struct world w;
    world_open(&w, "readiness-multiple");
    char why[512];
    idm_identity_t *ada = fixture_person(w.ctx, "E3", "Ada", "Lovelace");
    idm_card_t *first = card_in(&w, ada, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, IDM_CARD_ACTIVE);
    idm_card_t *second = card_in(&w, ada, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL,
                                 IDM_CARD_APPROVED);
    const char *number = NULL;
    ck_ok(idm_card_get_number(first, &number));
    ck_assert(!check(&w, second, why, sizeof why));
    ck_assert_ptr_nonnull(strstr(why, number));
    ck_assert_ptr_nonnull(strstr(why, "allow_multiple_active_cards"));
    /* Another type is no obstacle; neither is the option. */
    idm_card_t *contractor = card_in(&w, ada, IDM_CARD_CONTRACTOR, IDM_CARD_DIGITAL,
                                     IDM_CARD_APPROVED);
    ck_assert(check(&w, contractor, why, sizeof why));
    ck_ok(idm_options_set_bool(w.ctx, ACTOR, "allow_multiple_active_cards", 1));
    ck_assert(check(&w, second, why, sizeof why));
    /* A locked card is not in use. */
    ck_ok(idm_options_set_bool(w.ctx, ACTOR, "allow_multiple_active_cards", 0));
    ck_ok(idm_card_set_state(first, ACTOR, IDM_CARD_LOCKED, "lost"));
    ck_assert(check(&w, second, why, sizeof why));
    idm_card_free(&first);
    idm_card_free(&second);
    idm_card_free(&contractor);
    idm_identity_free(&ada);
    world_close(&w);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("readiness");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, test_approved_card_of_active_holder_is_ready_and_others_say_why);
    tcase_add_test(tc, test_attributes_the_templates_need_must_be_present);
    tcase_add_test(tc, test_a_card_in_use_blocks_another_of_its_type_unless_allowed);
    suite_add_tcase(s, tc);
    return s;
}
