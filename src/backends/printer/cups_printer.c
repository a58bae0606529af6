/*
 * The built-in CUPS printer: each card is one IPP job on a CUPS queue,
 * followed until the scheduler says it is done.
 *
 * One print is: connect, Get-Printer-Attributes (the queue exists and
 * accepts jobs; which media names the card size), Create-Job, Send-Document
 * with the PDF, then Get-Job-Attributes every POLL_MS until the job ends,
 * all within the printer's timeout counted from the start of the print.
 *
 * Each print opens its own connection and closes it at the end.  A card
 * takes seconds at a card printer, so a connect per job costs nothing that
 * matters, and it means no state survives between jobs: a scheduler that
 * restarted, or dropped an idle connection (cupsd does after its Timeout),
 * is simply connected to again at the next card, and an idle station holds
 * no socket.
 *
 * A job this printer reports as failed must never print later: a job that
 * timed out or that CUPS stopped is cancelled (a stopped job would print
 * when the operator restarts the printer, next to the card's new attempt),
 * and so is a job whose document could not be sent.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cups/cups.h>

#include "backends/printer/printer_impl.h"
#include "backends/producer/producer_impl.h"
#include "core/error_impl.h"
#include "model/text.h"

#define POLL_MS 100
#define CONNECT_MS_MAX 5000
/* How long cancelling a job may take after the job's own time ran out. */
#define CANCEL_MS 3000
#define CHUNK 65536
#define WORDS_MAX 1024
#define TEXT_MAX 256

/* The card, CR80 / ISO 7810 ID-1, in PWG units (1/100 mm) and in points.
 * A named size within 1 mm of it (either orientation) is the card. */
#define CARD_LONG 8560
#define CARD_SHORT 5398
#define CARD_SLACK 100
#define CARD_MEDIA "custom_card_85.6x53.98mm"
#define CARD_PAGE_SIZE "Custom.242.65x153.01"
/* A portrait layout's pages stand up: the same card, asked for that way. */
#define CARD_MEDIA_PORTRAIT "custom_card_53.98x85.6mm"
#define CARD_PAGE_SIZE_PORTRAIT "Custom.153.01x242.65"

struct cups_printer {
    char queue[128];
    char host[256]; /* "" for the default server, looked up at each print */
    int port;       /* 0 for ippPort() */
    int64_t timeout_ms;
};

/* One print's time: everything after start must end by limit_ms. */
struct job_clock {
    struct timespec start;
    int64_t limit_ms;
};

static int64_t elapsed_ms(const struct job_clock *c)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)(now.tv_sec - c->start.tv_sec) * 1000 +
           (now.tv_nsec - c->start.tv_nsec) / 1000000;
}

static int64_t left_ms(const struct job_clock *c)
{
    int64_t left = c->limit_ms - elapsed_ms(c);
    return left > 0 ? left : 0;
}

/* libcups asks this whenever a read or write has waited its timeout
 * (httpSetTimeout()): keep waiting while the print has time left. */
static int still_in_time(http_t *http, void *data)
{
    (void)http;
    return left_ms(data) > 0;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- words ------------------------------------------------------------- */

/* Fails the print method with CUPS's words (and ours around them): they go
 * to idm_backend_say(), which the library's message quotes, and into the
 * detail message.  Control characters a printer put into its messages
 * become blanks, so the text stays one line. */
static int say(int code, const char *fmt, ...) IDM_PRINTF(2, 3);

static int say(int code, const char *fmt, ...)
{
    char words[WORDS_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(words, sizeof words, fmt, ap);
    va_end(ap);
    if (n < 0)
        snprintf(words, sizeof words, "the CUPS printer failed (and its message could not "
                 "be formatted)");
    for (char *c = words; *c != '\0'; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
    }
    idm_backend_say(words);
    return IDM_ERR(code, "%s", words);
}

/* Where the printer prints, for messages: "queue 'card' on 127.0.0.1:631". */
static void where(const struct cups_printer *p, char *out, size_t size)
{
    const char *host = p->host[0] != '\0' ? p->host : cupsServer();
    int n;
    if (host[0] == '/')
        n = snprintf(out, size, "queue '%s' on %s", p->queue, host);
    else if (strchr(host, ':') != NULL)
        n = snprintf(out, size, "queue '%s' on [%s]:%d", p->queue, host,
                     p->port != 0 ? p->port : ippPort());
    else
        n = snprintf(out, size, "queue '%s' on %s:%d", p->queue, host,
                     p->port != 0 ? p->port : ippPort());
    if (n < 0)
        snprintf(out, size, "queue '%s'", p->queue);
}

/* The values of a keyword attribute joined with ", " ("none" if absent). */
static void keywords(ipp_t *response, const char *name, char *out, size_t size)
{
    ipp_attribute_t *a = ippFindAttribute(response, name, IPP_TAG_KEYWORD);
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; a != NULL && i < ippGetCount(a); i++) {
        const char *v = ippGetString(a, i, NULL);
        int n = snprintf(out + used, size - used, "%s%s", i > 0 ? ", " : "", v ? v : "");
        if (n < 0 || (size_t)n >= size - used)
            break; /* cut: the first reasons are the telling ones */
        used += (size_t)n;
    }
    if (out[0] == '\0')
        snprintf(out, size, "none");
}

static void text_of(ipp_t *response, const char *name, char *out, size_t size)
{
    ipp_attribute_t *a = ippFindAttribute(response, name, IPP_TAG_ZERO);
    const char *v = a != NULL ? ippGetString(a, 0, NULL) : NULL;
    snprintf(out, size, "%s", v != NULL ? v : "");
}

static const char *printer_state_name(int state)
{
    switch (state) {
    case IPP_PSTATE_IDLE:
        return "idle";
    case IPP_PSTATE_PROCESSING:
        return "processing";
    case IPP_PSTATE_STOPPED:
        return "stopped";
    }
    return "in an unknown state";
}

static const char *job_state_name(int state)
{
    switch (state) {
    case IPP_JSTATE_PENDING:
        return "pending";
    case IPP_JSTATE_HELD:
        return "held";
    case IPP_JSTATE_PROCESSING:
        return "processing";
    case IPP_JSTATE_STOPPED:
        return "stopped";
    case IPP_JSTATE_CANCELED:
        return "canceled";
    case IPP_JSTATE_ABORTED:
        return "aborted";
    case IPP_JSTATE_COMPLETED:
        return "completed";
    }
    return "in an unknown state";
}

/* A state as a message shows it: "stopped (paused): 'paused by admin'",
 * without the reasons when they are "none" and without the quote when
 * the printer said nothing. */
static const char *described(const char *state, const char *reasons, const char *message,
                             char *out, size_t size)
{
    int none = strcmp(reasons, "none") == 0;
    if (snprintf(out, size, "%s%s%s%s%s%s%s", state, none ? "" : " (", none ? "" : reasons,
                 none ? "" : ")", message[0] != '\0' ? ": '" : "", message,
                 message[0] != '\0' ? "'" : "") < 0)
        snprintf(out, size, "%s", state);
    return out;
}

/* ---- IPP requests ------------------------------------------------------ */

/* A request for the queue (or, with job_id, one of its jobs), as the
 * current user. */
static ipp_t *new_request(const struct cups_printer *p, ipp_op_t op, int job_id)
{
    char uri[HTTP_MAX_URI];
    ipp_t *req = ippNewRequest(op);
    if (req == NULL)
        return NULL;
    if (job_id > 0)
        httpAssembleURIf(HTTP_URI_CODING_ALL, uri, sizeof uri, "ipp", NULL, "localhost", 0,
                         "/jobs/%d", job_id);
    else
        httpAssembleURIf(HTTP_URI_CODING_ALL, uri, sizeof uri, "ipp", NULL, "localhost", 0,
                         "/printers/%s", p->queue);
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_URI, job_id > 0 ? "job-uri" : "printer-uri",
                 NULL, uri);
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "requesting-user-name", NULL,
                 cupsUser());
    return req;
}

static void request_attributes(ipp_t *req, const char *const *names, int count)
{
    ippAddStrings(req, IPP_TAG_OPERATION, IPP_TAG_KEYWORD, "requested-attributes", count, NULL,
                  names);
}

/* Sends req (consumed); the response, or NULL with cupsLastErrorString()
 * saying why, whether HTTP or IPP failed. */
static ipp_t *ask(http_t *http, ipp_t *req)
{
    if (req == NULL)
        return NULL;
    ipp_t *resp = cupsDoRequest(http, req, "/");
    if (cupsLastError() > IPP_STATUS_OK_CONFLICTING) {
        ippDelete(resp);
        return NULL;
    }
    return resp;
}

/* ---- the queue --------------------------------------------------------- */

struct queue_state {
    int accepting;
    int state;
    char message[TEXT_MAX];
    char reasons[TEXT_MAX];
    char media[128]; /* the media option to send; "" for none */
    int custom;      /* send the PPD's custom page size as well */
};

/*
 * Picks how to ask for the card's size, from media-supported: a size the
 * queue names (a card printer's "CR80") when one is the card's within
 * CARD_SLACK either way round; else the card as a custom size when the
 * queue's custom range holds it; else nothing, and the queue prints on
 * its default media, which on a card printer is the card.
 */
static void choose_media(ipp_t *attrs, struct queue_state *q)
{
    ipp_attribute_t *a = ippFindAttribute(attrs, "media-supported", IPP_TAG_ZERO);
    int min_w = -1, min_l = -1, max_w = -1, max_l = -1;
    q->media[0] = '\0';
    q->custom = 0;
    for (int i = 0; a != NULL && i < ippGetCount(a); i++) {
        const char *name = ippGetString(a, i, NULL);
        pwg_media_t *m = name != NULL ? pwgMediaForPWG(name) : NULL;
        if (m == NULL)
            continue;
        int w = m->width < m->length ? m->width : m->length;
        int l = m->width < m->length ? m->length : m->width;
        if (strncmp(name, "custom_min_", 11) == 0) {
            min_w = w;
            min_l = l;
        } else if (strncmp(name, "custom_max_", 11) == 0) {
            max_w = w;
            max_l = l;
        } else if (abs(l - CARD_LONG) <= CARD_SLACK && abs(w - CARD_SHORT) <= CARD_SLACK) {
            snprintf(q->media, sizeof q->media, "%s", name);
            return;
        }
    }
    if (min_w >= 0 && max_w >= 0 && min_w <= CARD_SHORT && min_l <= CARD_SHORT &&
        max_w >= CARD_LONG && max_l >= CARD_LONG) {
        snprintf(q->media, sizeof q->media, "%s", CARD_MEDIA);
        q->custom = 1;
    }
}

static int check_queue(const struct cups_printer *p, http_t *http, struct queue_state *q)
{
    static const char *const names[] = {"printer-is-accepting-jobs", "printer-state",
                                        "printer-state-message", "printer-state-reasons",
                                        "media-supported"};
    char w[400];
    where(p, w, sizeof w);
    ipp_t *req = new_request(p, IPP_OP_GET_PRINTER_ATTRIBUTES, 0);
    if (req != NULL)
        request_attributes(req, names, (int)(sizeof names / sizeof names[0]));
    ipp_t *attrs = ask(http, req);
    if (attrs == NULL)
        return req == NULL ? say(IDM_ERR_NO_MEMORY, "%s: cannot allocate an IPP request", w)
                           : say(IDM_ERR_BACKEND, "%s: %s", w, cupsLastErrorString());
    ipp_attribute_t *a = ippFindAttribute(attrs, "printer-is-accepting-jobs", IPP_TAG_BOOLEAN);
    q->accepting = a != NULL ? ippGetBoolean(a, 0) : 1;
    a = ippFindAttribute(attrs, "printer-state", IPP_TAG_ENUM);
    q->state = a != NULL ? ippGetInteger(a, 0) : 0;
    text_of(attrs, "printer-state-message", q->message, sizeof q->message);
    keywords(attrs, "printer-state-reasons", q->reasons, sizeof q->reasons);
    choose_media(attrs, q);
    ippDelete(attrs);
    if (!q->accepting) {
        char state[2 * TEXT_MAX + 16];
        return say(IDM_ERR_BACKEND, "%s is not accepting jobs; the printer is %s", w,
                   described(printer_state_name(q->state), q->reasons, q->message, state,
                             sizeof state));
    }
    return IDM_OK;
}

/* ---- the job ----------------------------------------------------------- */

struct job_status {
    int state;
    char reasons[TEXT_MAX];
    char message[TEXT_MAX];
};

/* 0 and the job's state; -2 when out of memory; else -1, CUPS's words in
 * cupsLastErrorString(), and *answered set when the scheduler answered
 * (an IPP error, final) rather than the connection failing (which may
 * pass). */
static int job_status(const struct cups_printer *p, http_t *http, int job_id,
                      struct job_status *s, int *answered)
{
    static const char *const names[] = {"job-state", "job-state-reasons",
                                        "job-printer-state-message"};
    ipp_t *req = new_request(p, IPP_OP_GET_JOB_ATTRIBUTES, job_id);
    if (req == NULL)
        return -2;
    request_attributes(req, names, (int)(sizeof names / sizeof names[0]));
    ipp_t *attrs = ask(http, req);
    if (attrs == NULL) {
        ipp_status_t st = cupsLastError();
        *answered = st != IPP_STATUS_ERROR_SERVICE_UNAVAILABLE &&
                    st != IPP_STATUS_ERROR_INTERNAL;
        return -1;
    }
    ipp_attribute_t *a = ippFindAttribute(attrs, "job-state", IPP_TAG_ENUM);
    s->state = a != NULL ? ippGetInteger(a, 0) : 0;
    keywords(attrs, "job-state-reasons", s->reasons, sizeof s->reasons);
    text_of(attrs, "job-printer-state-message", s->message, sizeof s->message);
    ippDelete(attrs);
    return 0;
}

/* Cancels a job this print gives up on: "" in why when it worked, else
 * CUPS's words. */
static void cancel_job(const struct cups_printer *p, http_t *http, int job_id, char *why,
                       size_t size)
{
    if (cupsCancelJob2(http, p->queue, job_id, 0) > IPP_STATUS_OK_CONFLICTING)
        snprintf(why, size, "%s", cupsLastErrorString());
    else
        why[0] = '\0';
}

/* One number of a PDF array, in the C locale's form whatever the host's
 * (digits, at most one '.'); advances *at.  -1 when there is none. */
static double pdf_number(const unsigned char **at, const unsigned char *end)
{
    const unsigned char *c = *at;
    while (c < end && (*c == ' ' || *c == '\n' || *c == '\r' || *c == '\t'))
        c++;
    double value = 0, scale = 0;
    int digits = 0;
    for (; c < end && ((*c >= '0' && *c <= '9') || (*c == '.' && scale == 0)); c++) {
        if (*c == '.') {
            scale = 1;
            continue;
        }
        digits++;
        if (scale > 0)
            value += (*c - '0') * (scale /= 10);
        else
            value = value * 10 + (*c - '0');
    }
    *at = c;
    return digits > 0 ? value : -1;
}

/* Whether the document's first page is taller than wide: its first
 * /MediaBox [x0 y0 x1 y1] (the renderer writes page dictionaries as
 * text).  0 when it cannot tell: the card then goes landscape, as most
 * cards are. */
static int pdf_is_portrait(const unsigned char *pdf, size_t len)
{
    static const char key[] = "/MediaBox";
    const unsigned char *end = pdf + len;
    for (const unsigned char *c = pdf; c + sizeof key < end; c++) {
        if (memcmp(c, key, sizeof key - 1) != 0)
            continue;
        const unsigned char *at = c + sizeof key - 1;
        while (at < end && (*at == ' ' || *at == '['))
            at++;
        double box[4];
        for (int i = 0; i < 4; i++)
            if ((box[i] = pdf_number(&at, end)) < 0)
                return 0;
        return box[3] - box[1] > box[2] - box[0];
    }
    return 0;
}

static int add_options(const struct queue_state *q, int portrait, cups_option_t **options)
{
    int n = 0;
    /* One card, whatever the queue's defaults: a second copy or a banner
     * page would each cost a card. */
    n = cupsAddOption("copies", "1", n, options);
    n = cupsAddOption("job-sheets", "none", n, options);
    if (q->media[0] != '\0')
        n = cupsAddOption("media", q->custom && portrait ? CARD_MEDIA_PORTRAIT : q->media, n,
                          options);
    /* The PWG custom size reaches a PPD queue in whole points (242x153);
     * the PPD's own custom size keeps the card's exact size, and a CUPS
     * queue takes it before media.  A named card size (a card printer's
     * CR80) is left to the queue to turn a portrait page onto. */
    if (q->custom)
        n = cupsAddOption("PageSize", portrait ? CARD_PAGE_SIZE_PORTRAIT : CARD_PAGE_SIZE, n,
                          options);
    return n;
}

/* Create-Job and Send-Document; *job_id receives the job's id as soon as
 * it exists (also when sending the document then fails). */
static int submit(const struct cups_printer *p, http_t *http, const struct queue_state *q,
                  const char *job_name, const unsigned char *pdf, size_t pdf_len, int *job_id)
{
    char w[400];
    where(p, w, sizeof w);
    /* Create-Job by hand: cupsCreateJob() looks the queue up again through
     * the destination API, which asks the default server, not ours. */
    ipp_t *req = new_request(p, IPP_OP_CREATE_JOB, 0);
    if (req == NULL)
        return say(IDM_ERR_NO_MEMORY, "%s: cannot allocate an IPP request", w);
    ippAddString(req, IPP_TAG_OPERATION, IPP_TAG_NAME, "job-name", NULL, job_name);
    cups_option_t *options = NULL;
    int num_options = add_options(q, pdf_is_portrait(pdf, pdf_len), &options);
    cupsEncodeOptions2(req, num_options, options, IPP_TAG_OPERATION);
    cupsEncodeOptions2(req, num_options, options, IPP_TAG_JOB);
    cupsFreeOptions(num_options, options);
    ipp_t *created = ask(http, req);
    int answered = created != NULL;
    ipp_attribute_t *id = ippFindAttribute(created, "job-id", IPP_TAG_INTEGER);
    *job_id = id != NULL ? ippGetInteger(id, 0) : 0;
    ippDelete(created);
    if (*job_id <= 0)
        return say(IDM_ERR_BACKEND, "%s: cannot create job %s: %s", w, job_name,
                   answered ? "the scheduler gave no job-id" : cupsLastErrorString());
    if (cupsStartDocument(http, p->queue, *job_id, job_name, CUPS_FORMAT_PDF, 1) !=
        HTTP_STATUS_CONTINUE) {
        /* The scheduler's answer, if it gave one, says why. */
        cupsFinishDocument(http, p->queue);
        return say(IDM_ERR_BACKEND, "%s: cannot send job %d: %s", w, *job_id,
                   cupsLastErrorString());
    }
    http_status_t st = HTTP_STATUS_CONTINUE;
    for (size_t at = 0; at < pdf_len && st == HTTP_STATUS_CONTINUE; at += CHUNK)
        st = cupsWriteRequestData(http, (const char *)pdf + at,
                                  pdf_len - at < CHUNK ? pdf_len - at : CHUNK);
    ipp_status_t done = cupsFinishDocument(http, p->queue);
    if (st != HTTP_STATUS_CONTINUE || done > IPP_STATUS_OK_CONFLICTING)
        return say(IDM_ERR_BACKEND, "%s: cannot send the document of job %d: %s", w, *job_id,
                   cupsLastErrorString());
    return IDM_OK;
}

/* Polls the job until it ends or the print's time is up; *ended is set
 * when CUPS ended the job itself (cancelled or aborted it). */
static int follow(const struct cups_printer *p, http_t *http, struct job_clock *clock,
                  int job_id, int *ended)
{
    char w[400], state[2 * TEXT_MAX + 16];
    where(p, w, sizeof w);
    struct job_status s = {IPP_JSTATE_PENDING, "none", ""};
    char last_error[TEXT_MAX] = "";
    for (;;) {
        int answered = 0;
        int got = job_status(p, http, job_id, &s, &answered);
        if (got == -2)
            return say(IDM_ERR_NO_MEMORY, "%s: cannot allocate an IPP request", w);
        if (got != 0 && answered)
            return say(IDM_ERR_BACKEND, "%s: cannot follow job %d: %s", w, job_id,
                       cupsLastErrorString());
        if (got != 0) {
            /* The connection failed; the scheduler keeps its jobs across a
             * restart, so connect again and go on while there is time. */
            snprintf(last_error, sizeof last_error, "%s", cupsLastErrorString());
            int64_t ms = left_ms(clock) < CONNECT_MS_MAX ? left_ms(clock) : CONNECT_MS_MAX;
            if (ms > 0)
                httpReconnect2(http, (int)ms, NULL);
        } else {
            last_error[0] = '\0';
            /* A card finished "with errors" may well be misprinted: it
             * fails, so that the card is not issued as if all was well. */
            if (s.state == IPP_JSTATE_COMPLETED &&
                strstr(s.reasons, "job-completed-with-errors") == NULL)
                return IDM_OK;
            if (s.state == IPP_JSTATE_COMPLETED) {
                *ended = 1;
                return say(IDM_ERR_BACKEND, "%s: job %d %s", w, job_id,
                           described("completed with errors", s.reasons, s.message, state,
                                     sizeof state));
            }
            if (s.state == IPP_JSTATE_CANCELED || s.state == IPP_JSTATE_ABORTED ||
                s.state == IPP_JSTATE_STOPPED) {
                *ended = s.state != IPP_JSTATE_STOPPED;
                return say(IDM_ERR_BACKEND, "%s: job %d %s", w, job_id,
                           described(job_state_name(s.state), s.reasons, s.message, state,
                                     sizeof state));
            }
        }
        int64_t left = left_ms(clock);
        if (left <= 0)
            break;
        sleep_ms(left < POLL_MS ? left : POLL_MS);
    }
    if (last_error[0] != '\0')
        return say(IDM_ERR_TIMEOUT, "%s: job %d not done after %lld ms; the scheduler last "
                   "said: %s", w, job_id, (long long)p->timeout_ms, last_error);
    return say(IDM_ERR_TIMEOUT, "%s: job %d not done after %lld ms: still %s", w, job_id,
               (long long)p->timeout_ms,
               described(job_state_name(s.state), s.reasons, s.message, state, sizeof state));
}

/* After a print ran out of time: what the printer itself says (a paused
 * queue says so only there), added to the method's words. */
static void add_printer_state(const struct cups_printer *p, http_t *http, int rc)
{
    struct queue_state q;
    char words[WORDS_MAX], state[2 * TEXT_MAX + 16];
    idm_backend_words(words, sizeof words);
    memset(&q, 0, sizeof q);
    if (check_queue(p, http, &q) != IDM_OK && q.state == 0) {
        say(rc, "%s", words); /* no word from the printer: ours stay */
        return;
    }
    say(rc, "%s; the printer is %s", words,
        described(printer_state_name(q.state), q.reasons, q.message, state, sizeof state));
}

static http_t *connect_server(const struct cups_printer *p, struct job_clock *clock)
{
    const char *host = p->host[0] != '\0' ? p->host : cupsServer();
    int64_t ms = left_ms(clock) < CONNECT_MS_MAX ? left_ms(clock) : CONNECT_MS_MAX;
    http_t *http = httpConnect2(host, p->port != 0 ? p->port : ippPort(), NULL, AF_UNSPEC,
                                cupsEncryption(), 1, (int)(ms > 0 ? ms : 1), NULL);
    if (http == NULL) {
        char w[400];
        where(p, w, sizeof w);
        /* libcups says "Host is down" for any connect that failed, also
         * for one refused at once: say what it means. */
        if (strcmp(cupsLastErrorString(), strerror(EHOSTDOWN)) == 0)
            say(IDM_ERR_BACKEND, "%s: cannot connect to the CUPS server: nothing accepted the "
                "connection (libcups: %s)", w, cupsLastErrorString());
        else
            say(IDM_ERR_BACKEND, "%s: cannot connect to the CUPS server: %s", w,
                cupsLastErrorString());
        return NULL;
    }
    /* Reads and writes wait a quarter of a second at a time, for as long
     * as the print has time (still_in_time); then libcups gives up. */
    httpSetTimeout(http, 0.25, still_in_time, clock);
    return http;
}

/* The clean-up of a print that failed while its job had not ended: the
 * job is cancelled, and a job out of time tells the printer's state.
 * Both on a fresh connection, as the old one may have been cut
 * mid-request, within CANCEL_MS. */
static void after_failure(const struct cups_printer *p, http_t *http, struct job_clock *clock,
                          int rc, int job_id)
{
    char why[TEXT_MAX], words[WORDS_MAX];
    clock->limit_ms = elapsed_ms(clock) + CANCEL_MS;
    if (httpReconnect2(http, CANCEL_MS, NULL) != 0) {
        idm_backend_words(words, sizeof words);
        say(rc, "%s; job %d may still print: cannot connect to cancel it: %s", words, job_id,
            cupsLastErrorString());
        return;
    }
    if (rc == IDM_ERR_TIMEOUT)
        add_printer_state(p, http, rc);
    cancel_job(p, http, job_id, why, sizeof why);
    idm_backend_words(words, sizeof words);
    if (why[0] == '\0')
        say(rc, "%s; job %d cancelled", words, job_id);
    else
        say(rc, "%s; job %d may still print: cancelling it failed: %s", words, job_id, why);
}

static int cups_print(const char *job_name, const unsigned char *pdf, size_t pdf_len,
                      void *user_data)
{
    const struct cups_printer *p = user_data;
    if (job_name == NULL || !idm_message_id_valid(job_name))
        return say(IDM_ERR_INVALID_ARG, "the job name is not 1..128 characters of "
                   "[A-Za-z0-9._-]");
    if (pdf == NULL || pdf_len == 0)
        return say(IDM_ERR_INVALID_ARG, "the document of job %s is empty", job_name);
    struct job_clock clock = {{0, 0}, p->timeout_ms};
    clock_gettime(CLOCK_MONOTONIC, &clock.start);
    http_t *http = connect_server(p, &clock);
    if (http == NULL)
        return IDM_ERR_BACKEND;
    struct queue_state q;
    int job_id = 0, ended = 0;
    const char *step = "while checking the queue";
    int rc = check_queue(p, http, &q);
    if (rc == IDM_OK) {
        rc = submit(p, http, &q, job_name, pdf, pdf_len, &job_id);
        step = job_id > 0 ? "while sending the document" : "while creating the job";
    }
    if (rc != IDM_OK && left_ms(&clock) == 0) {
        /* A request cut short by the print's time: libcups's words for
         * that ("Success", a timeout) say less than ours. */
        char w[400];
        where(p, w, sizeof w);
        rc = say(IDM_ERR_TIMEOUT, "%s: not done after %lld ms: no answer from the CUPS server "
                 "%s", w, (long long)p->timeout_ms, step);
    } else if (rc == IDM_OK) {
        rc = follow(p, http, &clock, job_id, &ended);
    }
    if (rc != IDM_OK && job_id > 0 && !ended)
        after_failure(p, http, &clock, rc, job_id);
    httpClose(http);
    return rc;
}

const idm_printer_ops idm_cups_printer_ops = {
    .version = IDM_PRINTER_OPS_VERSION,
    .size = (uint32_t)sizeof(idm_printer_ops),
    .print = cups_print,
};

/* ---- the handle -------------------------------------------------------- */

/* Splits "host", "host:port", "[v6]:port", "v6" or "/socket" into p. */
static int parse_server(struct cups_printer *p, const char *server)
{
    const char *host = server, *port = NULL;
    size_t host_len = strlen(server);
    char shown[300];
    idm_text_shown(server, shown, sizeof shown);
    if (server[0] == '[') {
        const char *close = strchr(server, ']');
        if (close == NULL || (close[1] != '\0' && close[1] != ':'))
            return IDM_ERR(IDM_ERR_INVALID_ARG, "argument 'server' is '%s': an IPv6 address "
                           "goes as [address] or [address]:port", shown);
        host = server + 1;
        host_len = (size_t)(close - host);
        port = close[1] == ':' ? close + 2 : NULL;
    } else if (server[0] != '/') {
        const char *colon = strchr(server, ':');
        if (colon != NULL && strchr(colon + 1, ':') == NULL) { /* one ':' only: not IPv6 */
            host_len = (size_t)(colon - server);
            port = colon + 1;
        }
    }
    if (host_len == 0)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "argument 'server' is '%s': no host name", shown);
    if (host_len >= sizeof p->host)
        return IDM_ERR(IDM_ERR_INVALID_ARG, "argument 'server' has a host name of %zu "
                       "characters; at most %zu", host_len, sizeof p->host - 1);
    memcpy(p->host, host, host_len);
    p->host[host_len] = '\0';
    if (port != NULL) {
        long n = 0;
        const char *c = port;
        for (; *c >= '0' && *c <= '9' && n <= 65535; c++)
            n = n * 10 + (*c - '0');
        if (c == port || *c != '\0' || n < 1 || n > 65535)
            return IDM_ERR(IDM_ERR_INVALID_ARG, "argument 'server' is '%s': the port is not "
                           "1..65535", shown);
        p->port = (int)n;
    }
    return IDM_OK;
}

int idm_cups_printer_new(void **out, const char *queue, const char *server, int64_t timeout_ms)
{
    struct cups_printer *p = calloc(1, sizeof *p);
    if (p == NULL)
        return IDM_ERR(IDM_ERR_NO_MEMORY, "cannot allocate a CUPS printer");
    size_t len = strlen(queue);
    if (len >= sizeof p->queue) {
        free(p);
        return IDM_ERR(IDM_ERR_INVALID_ARG, "argument 'queue' has %zu characters; at most %zu",
                       len, sizeof p->queue - 1);
    }
    memcpy(p->queue, queue, len + 1);
    p->timeout_ms = timeout_ms;
    int rc = server != NULL ? parse_server(p, server) : IDM_OK;
    if (rc != IDM_OK) {
        free(p);
        return rc;
    }
    *out = p;
    return IDM_OK;
}

void idm_cups_printer_free(void *user_data)
{
    free(user_data);
}
