/* Black-box: the reader disappears in the middle of a personalization.
 *
 * The PIN delivery callback runs after the keys, certificates and data
 * objects are on the card and before the PIN is set; there this test stops
 * pcscd (the pid that tests/vcard/with-stack.sh recorded) and waits until it
 * is gone, so every reader vanishes at a known point.  SIGTERM rather than
 * SIGKILL: pcscd then removes its socket, and the stacks of the tests that
 * follow can start a new one.  The library must say so, and leave the
 * store consistent: the card failed, the certificates of the attempt
 * revoked, the audit chain intact.  Run by tests/vcard/check-vanish.sh, which
 * skips (77) when the stack reuses a pcscd it did not start. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include <idm/idm.h>

#include "fixtures.h"
#include "runner.h"

#define ACTOR "station-1"

static pid_t pcscd_pid(void)
{
    const char *dir = getenv("PCSC_STACK_DIR");
    ck_assert_msg(dir != NULL, "PCSC_STACK_DIR is not set: run through with-stack.sh");
    char path[4096];
    snprintf(path, sizeof path, "%s/stack.pids", dir);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    char role[64], prog[256];
    long pid = 0, found = 0;
    while (fscanf(f, "%63s %ld %255s", role, &pid, prog) == 3) {
        if (strcmp(role, "pcscd") == 0)
            found = pid;
    }
    fclose(f);
    ck_assert_msg(found > 0, "the stack did not start pcscd itself");
    return (pid_t)found;
}

static int kills;

/* Gone: no such process, or a zombie nobody reaps yet (in containers without
 * a reaping init, pcscd's parent is such an init). */
static int process_gone(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 1;
    int gone = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "State:", 6) == 0)
            gone = strchr(line, 'Z') != NULL || strchr(line, 'X') != NULL;
    }
    fclose(f);
    return gone;
}

static int stop_pcscd_then_deliver(const idm_card_t *card, const char *pin, const char *puk,
                                   void *user_data)
{
    (void)card;
    (void)pin;
    (void)puk;
    pid_t pid = *(pid_t *)user_data;
    if (kill(pid, SIGTERM) != 0)
        return 0;
    for (int i = 0; i < 500 && !process_gone(pid); i++) {
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    if (process_gone(pid))
        kills++;
    return 0;
}

START_TEST(test_reader_vanishing_mid_personalization_fails_the_card_cleanly)
{
    const char *reader = test_stack_reader0();
    pid_t pid = pcscd_pid();
    const char *path = fixture_store_path("encoder-vanished-reader");
    idm_ctx_t *ctx = fixture_ctx(path);
    ck_ok(idm_options_set_string(ctx, ACTOR, "pin_source", "generated"));
    idm_ca_t *ca = NULL;
    ck_ok(idm_ca_new_openssl(&ca, ctx, IDM_KEY_EC_P256, "Test Issuing CA", 3650));
    idm_encoder_t *enc = NULL;
    ck_ok(idm_encoder_new_pcsc(&enc, ctx));
    ck_ok(idm_encoder_pcsc_set_reader(enc, reader));
    ck_ok(idm_encoder_set_timeout(enc, 5000));
    ck_ok(idm_encoder_set_pin_callbacks(enc, NULL, stop_pcscd_then_deliver, &pid));
    idm_identity_t *person = fixture_person(ctx, "E2001", "Alan", "Turing");
    int64_t holder = 0;
    ck_ok(idm_identity_get_id(person, &holder));
    idm_card_t *card = NULL;
    ck_ok(idm_card_new(ctx, ACTOR, IDM_CARD_EMPLOYEE, IDM_CARD_DIGITAL, IDM_PRODUCTION_LOCAL,
                       holder, NULL, &card));
    ck_ok(idm_card_set_state(card, ACTOR, IDM_CARD_REQUESTED, NULL));
    ck_ok(idm_card_set_state(card, ACTOR, IDM_CARD_APPROVED, NULL));

    int rc = idm_card_personalize(card, ACTOR, enc, ca, 1);
    ck_assert_int_eq(kills, 1);
    ck_assert_msg(rc == IDM_ERR_CARD, "expected IDM_ERR_CARD, got %s: %s",
                  idm_strerror_name(rc), idm_last_error_message());
    ck_assert_msg(strstr(idm_last_error_message(), "set the PIN") != NULL,
                  "message does not say which step failed: %s", idm_last_error_message());

    /* The store: failed card, every certificate of the attempt revoked,
     * the chain intact. */
    idm_card_state state;
    ck_ok(idm_card_refresh(card));
    ck_ok(idm_card_get_state(card, &state));
    ck_assert_int_eq(state, IDM_CARD_FAILED);
    int64_t card_id = 0;
    ck_ok(idm_card_get_id(card, &card_id));
    idm_cert_iter_t *it = NULL;
    idm_cert_t *cert = NULL;
    int revoked = 0;
    ck_ok(idm_cert_iter_new(ctx, card_id, &it));
    while (idm_cert_iter_next(it, &cert) == IDM_OK && cert != NULL) {
        idm_cert_state s;
        ck_ok(idm_cert_get_state(cert, &s));
        ck_assert_int_eq(s, IDM_CERT_REVOKED);
        revoked++;
        idm_cert_free(&cert);
    }
    idm_cert_iter_free(&it);
    ck_assert_int_eq(revoked, 4);
    ck_ok(idm_audit_verify(ctx, NULL));

    idm_card_free(&card);
    idm_identity_free(&person);
    idm_encoder_free(&enc);
    idm_ca_free(&ca);
    idm_ctx_free(&ctx);
    fixture_remove_store(path);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("reader_vanish");
    TCase *tc = tcase_create("vanish");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_reader_vanishing_mid_personalization_fails_the_card_cleanly);
    suite_add_tcase(s, tc);
    return s;
}
