/* The production bureau of the load test: it reads the order messages and
 * cancel requests the workers' spool producers put in their outboxes, keeps
 * a ledger by message id (a message may reach it twice when two desks sync
 * the queue at once: it is the same order), and answers each order in the
 * inbox of the spool it came through: "in_production", then on a later pass
 * "produced" with the chip serial "BUR-<card id>" the activating encoder
 * reads.  An order it holds a cancel request for is never answered again. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "load.h"

#define ID_MAX 160

struct message {
    char id[ID_MAX];
    int64_t card_id;
    int spool;      /* where it came in first, -1 for a cancel seen first */
    int stage;      /* 0 taken, 1 in_production written, 2 produced written */
    int withdrawn;
    int copies;
};

struct load_bureau {
    const struct load_config *cfg;
    int nspools;
    struct message *msgs;
    size_t n, cap;
    size_t *slots; /* open addressing over msgs, SIZE_MAX empty */
    size_t nslots;
    size_t *open; /* messages still to answer */
    size_t nopen, open_cap;
    struct load_bureau_figures fig;
};

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603u;
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static void rehash(struct load_bureau *b)
{
    free(b->slots);
    b->nslots = b->nslots != 0 ? b->nslots * 2 : 1024;
    b->slots = malloc(b->nslots * sizeof *b->slots);
    if (b->slots == NULL)
        abort();
    for (size_t i = 0; i < b->nslots; i++)
        b->slots[i] = SIZE_MAX;
    for (size_t m = 0; m < b->n; m++) {
        size_t i = hash(b->msgs[m].id) & (b->nslots - 1);
        while (b->slots[i] != SIZE_MAX)
            i = (i + 1) & (b->nslots - 1);
        b->slots[i] = m;
    }
}

static struct message *find(const struct load_bureau *b, const char *id)
{
    if (b->nslots == 0)
        return NULL;
    for (size_t i = hash(id) & (b->nslots - 1); b->slots[i] != SIZE_MAX;
         i = (i + 1) & (b->nslots - 1)) {
        if (strcmp(b->msgs[b->slots[i]].id, id) == 0)
            return &b->msgs[b->slots[i]];
    }
    return NULL;
}

static struct message *add(struct load_bureau *b, const char *id)
{
    if (b->n == b->cap) {
        b->cap = b->cap != 0 ? b->cap * 2 : 256;
        b->msgs = realloc(b->msgs, b->cap * sizeof *b->msgs);
        if (b->msgs == NULL)
            abort();
    }
    struct message *m = &b->msgs[b->n];
    memset(m, 0, sizeof *m);
    snprintf(m->id, sizeof m->id, "%s", id);
    m->card_id = load_message_card(id);
    m->spool = -1;
    b->n++;
    if (2 * b->n > b->nslots) {
        rehash(b);
    } else {
        size_t i = hash(id) & (b->nslots - 1);
        while (b->slots[i] != SIZE_MAX)
            i = (i + 1) & (b->nslots - 1);
        b->slots[i] = b->n - 1;
    }
    return m;
}

int64_t load_message_card(const char *message_id)
{
    const char *a = strrchr(message_id, '-');
    const char *c = a;
    while (c != NULL && c > message_id && *--c != '-')
        ;
    if (a == NULL || c == NULL || a[1] != 'a' || c[0] != '-' || c[1] != 'c')
        return 0;
    return strtoll(c + 2, NULL, 10);
}

struct load_bureau *load_bureau_new(const struct load_config *cfg, int nspools)
{
    struct load_bureau *b = calloc(1, sizeof *b);
    if (b == NULL)
        abort();
    b->cfg = cfg;
    b->nspools = nspools;
    rehash(b);
    return b;
}

void load_bureau_free(struct load_bureau **b)
{
    if (*b == NULL)
        return;
    free((*b)->msgs);
    free((*b)->slots);
    free((*b)->open);
    free(*b);
    *b = NULL;
}

static void spool_of(const struct load_bureau *b, int spool, char *out, size_t size)
{
    load_spool_path(b->cfg, spool == b->nspools - 1 ? -1 : spool, out, size);
}

/* An order file: a whole JSON document naming its own message id. */
static int whole_order(const char *path, const char *id)
{
    static char text[65536];
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char member[ID_MAX + 32];
    snprintf(member, sizeof member, "\"message_id\":\"%s\"", id);
    return n >= 2 && strcmp(text + n - 2, "}\n") == 0 && strstr(text, member) != NULL &&
           strncmp(text, "{\"format\":\"libidm-card-order/1\"", 31) == 0;
}

static void take_order(struct load_bureau *b, int spool, const char *path, const char *id)
{
    if (!whole_order(path, id))
        b->fig.bad_files++;
    struct message *m = find(b, id);
    if (m != NULL && m->copies > 0) {
        m->copies++;
        b->fig.duplicates++;
        return;
    }
    if (m == NULL)
        m = add(b, id);
    m->copies = 1;
    m->spool = spool;
    b->fig.orders++;
    if (m->withdrawn)
        return;
    if (b->nopen == b->open_cap) {
        b->open_cap = b->open_cap != 0 ? b->open_cap * 2 : 256;
        b->open = realloc(b->open, b->open_cap * sizeof *b->open);
        if (b->open == NULL)
            abort();
    }
    b->open[b->nopen++] = (size_t)(m - b->msgs);
}

static void take_cancel(struct load_bureau *b, const char *id)
{
    struct message *m = find(b, id);
    if (m == NULL)
        m = add(b, id);
    b->fig.cancels++;
    if (!m->withdrawn)
        b->fig.withdrawn++;
    m->withdrawn = 1;
}

/* Reads one outbox; returns the number of files taken. */
static int take_outbox(struct load_bureau *b, int spool)
{
    char dir[LOAD_PATH_MAX + 16];
    spool_of(b, spool, dir, sizeof dir - 8);
    strcat(dir, "/outbox");
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0; /* the worker has not made its spool yet */
    int taken = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 6 || len >= ID_MAX ||
            strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        char path[LOAD_PATH_MAX + 200], id[ID_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
            continue; /* no name of ours is that long */
        if (len > 12 && strcmp(e->d_name + len - 12, ".cancel.json") == 0) {
            snprintf(id, sizeof id, "%.*s", (int)(len - 12), e->d_name);
            take_cancel(b, id);
        } else {
            snprintf(id, sizeof id, "%.*s", (int)(len - 5), e->d_name);
            take_order(b, spool, path, id);
        }
        if (unlink(path) != 0)
            b->fig.bad_files++;
        taken++;
    }
    closedir(d);
    return taken;
}

/* Drops a status file into the inbox the way a bureau must: written
 * beside it and renamed in. */
static void write_status(struct load_bureau *b, const struct message *m, int stage)
{
    char spool[LOAD_PATH_MAX], tmp[LOAD_PATH_MAX + 64], path[LOAD_PATH_MAX + 256];
    char text[512];
    spool_of(b, m->spool, spool, sizeof spool);
    snprintf(tmp, sizeof tmp, "%s/bureau.tmp", spool);
    snprintf(path, sizeof path, "%s/inbox/%s.s%d.json", spool, m->id, stage);
    if (stage == 1)
        snprintf(text, sizeof text, "{\"message_id\":\"%s\",\"status\":\"in_production\"}\n",
                 m->id);
    else
        snprintf(text, sizeof text, "{\"message_id\":\"%s\",\"status\":\"produced\","
                 "\"chip_serial\":\"%s-%04lld\",\"shipment\":\"load test parcel %lld\"}\n",
                 m->id, LOAD_BUREAU_PREFIX, (long long)m->card_id, (long long)m->card_id);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "# bureau: cannot write %s: %s\n", path, strerror(errno));
        abort();
    }
}

int load_bureau_pass(struct load_bureau *b)
{
    int files = 0;
    for (int s = 0; s < b->nspools; s++)
        files += take_outbox(b, s);
    size_t keep = 0;
    for (size_t i = 0; i < b->nopen; i++) {
        struct message *m = &b->msgs[b->open[i]];
        if (m->withdrawn)
            continue;
        write_status(b, m, ++m->stage);
        files++;
        if (m->stage == 2)
            b->fig.produced++;
        else
            b->open[keep++] = b->open[i];
    }
    b->nopen = keep;
    return files;
}

void load_bureau_figures(const struct load_bureau *b, struct load_bureau_figures *out)
{
    *out = b->fig;
    out->cards_twice = 0;
    /* Cards under two message ids: sort-free, since card ids are dense. */
    int64_t max = 0;
    for (size_t i = 0; i < b->n; i++)
        max = b->msgs[i].card_id > max ? b->msgs[i].card_id : max;
    unsigned char *seen = calloc((size_t)max + 1, 1);
    if (seen == NULL)
        abort();
    for (size_t i = 0; i < b->n; i++) {
        if (b->msgs[i].copies == 0)
            continue;
        if (seen[b->msgs[i].card_id]++ == 1)
            out->cards_twice++;
    }
    free(seen);
}

void load_bureau_write(const struct load_bureau *b, FILE *f)
{
    struct load_bureau_figures fig;
    load_bureau_figures(b, &fig);
    fprintf(f, "bureau %ld %ld %ld %ld %ld %ld %ld\n", fig.orders, fig.duplicates, fig.cancels,
            fig.withdrawn, fig.produced, fig.bad_files, fig.cards_twice);
    for (size_t i = 0; i < b->n; i++) {
        const struct message *m = &b->msgs[i];
        fprintf(f, "M %lld %d %d %d %s\n", (long long)m->card_id, m->copies > 0, m->withdrawn,
                m->stage == 2, m->id);
    }
}
