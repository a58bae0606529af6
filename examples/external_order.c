/*
 * Ordering cards from an external production bureau (<idm/external.h>):
 * external production switched on, orders queued and sent in a batch,
 * the built-in spool producer (<idm/producer.h>) as the line to the
 * bureau, and the built-in maildir notifier (<idm/notifier.h>) for the
 * holders' e-mails.
 *
 * The program imports a few identities, orders a Physical ID employee card
 * for each in one batch (idm_external_order_batch(), whose callback
 * reports every identity: one is not active yet and is refused), orders a
 * temporary card, and sends the queue to the bureau.  Then it plays the
 * bureau itself, in-process: it reads the order messages from the spool's
 * outbox and answers each with a "produced" status file (chip serial,
 * shipment), written elsewhere and renamed into the inbox as the
 * libidm-card-order/1 exchange of doc/backends.md says.
 * idm_external_update() applies the answers; the program prints the cards
 * and the e-mails the holders got, and checks that every card was
 * produced with its chip.  A real bureau would answer hours later, in
 * another process; the desk's update would then run on a schedule.
 *
 * Run: idm-example-external-order STORE.db SPOOL MAILDIR
 * The store is created afresh (an existing file is removed first); the
 * files an earlier run left in the spool's and the maildir's folders are
 * removed too.  SPOOL is created when missing.
 * Exit status: 0 when every ordered card was produced and every holder
 * got the "ordered" and "produced" e-mails; 1 otherwise.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <idm/idm.h>

#define OPERATOR "operator:example"
#define ADMIN "admin:example"
#define MAX_PEOPLE 16

static int fail(const char *what, int rc)
{
    fprintf(stderr, "%s failed: %s (%s)\n", what, idm_last_error_message(),
            idm_strerror_name(rc));
    return 1;
}

#define TRY(call)                    \
    do {                             \
        int rc_ = (call);            \
        if (rc_ != IDM_OK)           \
            return fail(#call, rc_); \
    } while (0)

/* The example's own checks of what it got. */
#define CHECK(cond)                                       \
    do {                                                  \
        if (!(cond)) {                                    \
            fprintf(stderr, "check failed: %s\n", #cond); \
            return 1;                                     \
        }                                                 \
    } while (0)

/* Three employees with e-mail addresses, imported active. */
static const char people_csv[] =
    "employeeNumber,givenName,surname,mail\n"
    "E2001,Katherine,Johnson,katherine.johnson@corp.example\n"
    "E2002,Dorothy,Vaughan,dorothy.vaughan@corp.example\n"
    "E2003,Mary,Jackson,mary.jackson@corp.example\n";

/* ---- starting afresh ------------------------------------------------------ */

static void remove_store(const char *path)
{
    char side[4096];
    remove(path);
    snprintf(side, sizeof side, "%s-wal", path);
    remove(side);
    snprintf(side, sizeof side, "%s-shm", path);
    remove(side);
}

/* Removes the files in parent/sub, one of the folders a spool or a
 * maildir keeps (nothing else is touched). */
static int empty_folder(const char *parent, const char *sub)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", parent, sub);
    DIR *dir = opendir(path);
    if (dir == NULL)
        return errno == ENOENT ? 0 : -1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        char file[4500];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 && unlink(file) != 0)
            rc = -1;
    }
    closedir(dir);
    return rc;
}

static int start_afresh(const char *store, const char *spool, const char *maildir)
{
    static const char *const spool_folders[] = {"outbox", "inbox", "processed", "quarantine",
                                                "tmp"};
    static const char *const mail_folders[] = {"new", "cur", "tmp"};
    remove_store(store);
    if (mkdir(spool, 0700) != 0 && errno != EEXIST) {
        perror(spool);
        return -1;
    }
    for (size_t i = 0; i < sizeof spool_folders / sizeof spool_folders[0]; i++) {
        if (empty_folder(spool, spool_folders[i]) != 0) {
            fprintf(stderr, "cannot empty %s/%s\n", spool, spool_folders[i]);
            return -1;
        }
    }
    for (size_t i = 0; i < sizeof mail_folders / sizeof mail_folders[0]; i++) {
        if (empty_folder(maildir, mail_folders[i]) != 0) {
            fprintf(stderr, "cannot empty %s/%s\n", maildir, mail_folders[i]);
            return -1;
        }
    }
    return 0;
}

/* ---- the batch order ------------------------------------------------------- */

struct batch {
    char (*names)[64]; /* by position in the batch */
    size_t ordered;
    size_t refused;
};

/* idm_external_order_batch() calls this once per identity, in order. */
static void on_result(size_t index, int64_t identity_id, int result, int64_t card_id,
                      idm_card_state state, const char *reason, void *user_data)
{
    struct batch *b = user_data;
    if (result == IDM_OK) {
        printf("  %zu. %s (identity %" PRId64 "): card %" PRId64 " %s\n", index + 1,
               b->names[index], identity_id, card_id, idm_card_state_name(state));
        b->ordered++;
    } else {
        printf("  %zu. %s (identity %" PRId64 "): refused, %s: %s\n", index + 1,
               b->names[index], identity_id, idm_strerror_name(result),
               reason != NULL ? reason : "");
        b->refused++;
    }
}

/* ---- the bureau, played in-process ------------------------------------------ */

/* The text of a small file, NUL-terminated, or NULL. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *text = malloc(65536);
    size_t n = text != NULL ? fread(text, 1, 65535, f) : 0;
    if (text != NULL)
        text[n] = '\0';
    fclose(f);
    return text;
}

/* The string value of "key" in the order message: enough for this
 * stand-in, which reads only a card number and names without escapes; a
 * bureau parses the JSON. */
static void json_string(const char *json, const char *key, char *out, size_t size)
{
    char needle[64];
    snprintf(needle, sizeof needle, "\"%s\":\"", key);
    const char *at = strstr(json, needle);
    if (at == NULL) {
        snprintf(out, size, "?");
        return;
    }
    at += strlen(needle);
    snprintf(out, size, "%.*s", (int)strcspn(at, "\""), at);
}

/* Drops a status file into the inbox: written under tmp/, flushed to
 * disk, and renamed in, so the library never reads half a file. */
static int drop_status(const char *spool, const char *message_id, const char *chip_serial,
                       const char *shipment)
{
    char json[512], tmp[4400], inbox[4400];
    int len = snprintf(json, sizeof json,
                       "{\"message_id\":\"%s\",\"status\":\"produced\","
                       "\"chip_serial\":\"%s\",\"shipment\":\"%s\"}\n",
                       message_id, chip_serial, shipment);
    snprintf(tmp, sizeof tmp, "%s/tmp/bureau-%s.part", spool, message_id);
    snprintf(inbox, sizeof inbox, "%s/inbox/%s.json", spool, message_id);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int ok = fd >= 0 && len > 0 && (size_t)len < sizeof json &&
             write(fd, json, (size_t)len) == (ssize_t)len && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0)
        ok = 0;
    ok = ok && rename(tmp, inbox) == 0;
    if (!ok) {
        perror(inbox);
        unlink(tmp);
    }
    return ok ? 0 : -1;
}

/* Orders are "<message id>.json"; "<message id>.cancel.json" would
 * withdraw one (the library sends those only when a card is aborted). */
static int is_order(const char *name)
{
    size_t len = strlen(name);
    return len > 5 && strcmp(name + len - 5, ".json") == 0 &&
           !(len > 12 && strcmp(name + len - 12, ".cancel.json") == 0);
}

/* Reads one order message and answers it: produced, on the next chip. */
static int answer_order(const char *spool, const char *name, size_t *answered)
{
    char path[4500], message_id[256], number[64], who[256], chip[32], shipment[64];
    snprintf(path, sizeof path, "%s/outbox/%s", spool, name);
    char *json = read_file(path);
    if (json == NULL) {
        perror(path);
        return -1;
    }
    snprintf(message_id, sizeof message_id, "%.*s", (int)(strlen(name) - 5), name);
    json_string(json, "number", number, sizeof number);
    /* A temporary card has no holder, and a name of its own. */
    json_string(json, strstr(json, "\"holder\":null") != NULL ? "name" : "common_name", who,
                sizeof who);
    if (*answered == 0)
        printf("bureau: the first order message reads\n  %s", json);
    free(json);
    snprintf(chip, sizeof chip, "04E1%010zX", *answered + 0x5A0001);
    snprintf(shipment, sizeof shipment, "DHL 003404341612345%05zu", *answered + 1);
    printf("bureau: card %s (%s) produced on chip %s\n", number, who, chip);
    if (drop_status(spool, message_id, chip, shipment) != 0)
        return -1;
    (*answered)++;
    return 0;
}

/* Answers every order message in the outbox, in name order. */
static int play_bureau(const char *spool, size_t *answered)
{
    char outbox[4200];
    snprintf(outbox, sizeof outbox, "%s/outbox", spool);
    struct dirent **names = NULL;
    int n = scandir(outbox, &names, NULL, alphasort);
    if (n < 0) {
        perror(outbox);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (rc == 0 && is_order(names[i]->d_name))
            rc = answer_order(spool, names[i]->d_name, answered);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* ---- what the store and the maildir say ------------------------------------- */

/* Prints every card; counts them and those produced with a chip serial. */
static int show_cards(idm_ctx_t *ctx, size_t *cards, size_t *produced)
{
    idm_card_iter_t *it = NULL;
    idm_card_t *card = NULL;
    TRY(idm_card_iter_new(ctx, &it));
    while (idm_card_iter_next(it, &card) == IDM_OK && card != NULL) {
        const char *number, *chip, *shipment, *name;
        idm_card_type type;
        idm_card_state state;
        int64_t holder;
        idm_identity_t *person = NULL;
        TRY(idm_card_get_number(card, &number));
        TRY(idm_card_get_type(card, &type));
        TRY(idm_card_get_state(card, &state));
        TRY(idm_card_get_chip_serial(card, &chip));
        TRY(idm_card_get_shipment(card, &shipment));
        TRY(idm_card_get_identity_id(card, &holder));
        if (holder != 0) {
            TRY(idm_identity_open(ctx, holder, &person));
            TRY(idm_identity_get_common_name(person, &name));
        } else {
            TRY(idm_card_get_name(card, &name));
        }
        printf("  card %s, %s, %s: %s, chip %s, shipped %s\n", number, idm_card_type_name(type),
               name, idm_card_state_name(state), chip != NULL ? chip : "-",
               shipment != NULL ? shipment : "-");
        (*cards)++;
        if (state == IDM_CARD_PRODUCED && chip != NULL)
            (*produced)++;
        idm_identity_free(&person);
        idm_card_free(&card);
    }
    idm_card_iter_free(&it);
    return 0;
}

/* Prints the To and Subject of every message delivered to the maildir. */
static int show_mails(const char *maildir, size_t *mails)
{
    char folder[4200];
    snprintf(folder, sizeof folder, "%s/new", maildir);
    struct dirent **names = NULL;
    int n = scandir(folder, &names, NULL, alphasort);
    if (n < 0) {
        perror(folder);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        char path[4500], line[1024], to[1024] = "?", subject[1024] = "?";
        snprintf(path, sizeof path, "%s/%s", folder, names[i]->d_name);
        FILE *f = names[i]->d_name[0] != '.' ? fopen(path, "r") : NULL;
        /* The header ends at the first empty line; lines end in CRLF. */
        while (f != NULL && fgets(line, sizeof line, f) != NULL && line[0] != '\r' &&
               line[0] != '\n') {
            line[strcspn(line, "\r\n")] = '\0';
            if (strncmp(line, "To: ", 4) == 0)
                snprintf(to, sizeof to, "%s", line + 4);
            else if (strncmp(line, "Subject: ", 9) == 0)
                snprintf(subject, sizeof subject, "%s", line + 9);
        }
        if (f != NULL) {
            fclose(f);
            printf("  to %s: %s\n", to, subject);
            (*mails)++;
        }
        free(names[i]);
    }
    free(names);
    return 0;
}

/* ---- the program ---------------------------------------------------------- */

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s STORE.db SPOOL MAILDIR\n", argv[0]);
        return 2;
    }
    const char *store = argv[1], *spool = argv[2], *maildir = argv[3];
    if (start_afresh(store, spool, maildir) != 0)
        return 1;

    idm_ctx_t *ctx = NULL;
    TRY(idm_ctx_new(&ctx));
    TRY(idm_ctx_open_store(ctx, store));
    /* External production is off by default.  Queued orders wait for the
     * scheduled sync; the holders get an e-mail when a card is ordered
     * (the "produced" one is always sent). */
    TRY(idm_options_set_bool(ctx, ADMIN, "external_production_enabled", 1));
    TRY(idm_options_set_bool(ctx, ADMIN, "queue_orders", 1));
    TRY(idm_options_set_bool(ctx, ADMIN, "send_card_ordered_email", 1));
    TRY(idm_options_set_string(ctx, ADMIN, "upn_template", "${employeeNumber}@corp.example"));

    /* Three active employees, and one who is registered but not active yet. */
    size_t imported = 0;
    idm_identity_t *newcomer = NULL;
    TRY(idm_identity_import_csv_data(ctx, ADMIN, people_csv, sizeof people_csv - 1,
                                     "employeeNumber", IDM_IDENTITY_ACTIVE, &imported));
    TRY(idm_identity_new(ctx, ADMIN, "E2004", &newcomer));
    TRY(idm_identity_set_attribute(newcomer, ADMIN, "givenName", "Annie"));
    TRY(idm_identity_set_attribute(newcomer, ADMIN, "surname", "Easley"));
    TRY(idm_identity_set_attribute(newcomer, ADMIN, "mail", "annie.easley@corp.example"));
    idm_identity_free(&newcomer);

    int64_t ids[MAX_PEOPLE];
    char names[MAX_PEOPLE][64];
    size_t count = 0;
    idm_identity_iter_t *people = NULL;
    idm_identity_t *person = NULL;
    TRY(idm_identity_iter_new(ctx, &people));
    while (count < MAX_PEOPLE && idm_identity_iter_next(people, &person) == IDM_OK &&
           person != NULL) {
        const char *cn;
        TRY(idm_identity_get_id(person, &ids[count]));
        TRY(idm_identity_get_common_name(person, &cn));
        snprintf(names[count], sizeof names[count], "%s", cn != NULL ? cn : "?");
        count++;
        idm_identity_free(&person);
    }
    idm_identity_iter_free(&people);
    printf("%zu identities imported, 1 registered but not active\n", imported);

    /* The line to the bureau and the e-mail channel, and the desk. */
    idm_producer_t *bureau = NULL;
    idm_notifier_t *mail = NULL;
    idm_external_t *desk = NULL;
    TRY(idm_producer_new_spool(&bureau, spool));
    TRY(idm_notifier_new_maildir(&mail, maildir, "cards@corp.example"));
    TRY(idm_external_new(&desk, ctx, bureau, mail));

    /* One batch order of Physical ID cards, one result per identity. */
    struct batch batch = {names, 0, 0};
    idm_order_t *order = NULL;
    int64_t order_id;
    printf("ordering Physical ID employee cards:\n");
    TRY(idm_external_order_batch(desk, OPERATOR, ids, count, IDM_CARD_EMPLOYEE, IDM_CARD_PHYSICAL,
                                 on_result, &batch, &order));
    TRY(idm_order_get_id(order, &order_id));
    idm_order_free(&order);
    /* And a temporary card for visitors who forgot theirs. */
    TRY(idm_external_order_temporary(desk, OPERATOR, IDM_CARD_PHYSICAL, 1, "Temporary card",
                                     NULL));
    printf("order %" PRId64 ": %zu cards queued, %zu refused; 1 temporary card queued\n",
           order_id, batch.ordered, batch.refused);

    /* The scheduled sync: the queue goes to the bureau (the outbox). */
    size_t sent = 0, failed = 0;
    TRY(idm_external_sync_queue(desk, OPERATOR, 100, &sent, &failed));
    printf("sync: %zu sent to the bureau, %zu failed\n", sent, failed);

    size_t answered = 0;
    if (play_bureau(spool, &answered) != 0)
        return 1;

    /* "Update card order": the bureau's answers are applied. */
    size_t applied = 0, refused = 0;
    TRY(idm_external_update(desk, OPERATOR, &applied, &refused));
    printf("update: %zu status reports applied, %zu refused\n", applied, refused);

    size_t cards = 0, produced = 0, mails = 0;
    printf("cards:\n");
    if (show_cards(ctx, &cards, &produced) != 0)
        return 1;
    printf("mails delivered to %s/new:\n", maildir);
    if (show_mails(maildir, &mails) != 0)
        return 1;

    /* Every card sent was produced, and each holder got two e-mails. */
    CHECK(failed == 0 && sent == batch.ordered + 1 && answered == sent);
    CHECK(applied == sent && refused == 0 && produced == cards && cards == sent);
    CHECK(mails == 2 * batch.ordered);
    printf("summary: %zu cards ordered, %zu produced, %zu refused, %zu mails delivered\n", sent,
           produced, batch.refused, mails);

    idm_external_free(&desk);
    idm_notifier_free(&mail);
    idm_producer_free(&bureau);
    idm_ctx_free(&ctx);
    return 0;
}
