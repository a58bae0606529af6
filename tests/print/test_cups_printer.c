/*
 * The built-in CUPS printer (src/backends/printer/cups_printer.c) against a
 * real scheduler: scripts/with-cups.sh starts cupsd with cups-pdf queues
 * (each job becomes IDM_TEST_CUPS_OUT/<job name>.pdf), a paused queue, a
 * queue that refuses jobs and one whose device refuses every connection.
 * Printers are made through the public idm_printer_new_cups() and driven
 * through idm_printer_print(), as a station does.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cairo-pdf.h>
#include <cairo.h>
#include <cups/cups.h>
#include <fontconfig/fontconfig.h>

#include <idm/idm.h>
#include <idm/printer.h>

#include "backends/printer/printer_impl.h"
#include "runner.h"

/* CR80, as the layout renderer makes it. */
#define CARD_W_PT 242.65
#define CARD_H_PT 153.01
#define JOB_TIMEOUT_MS 120000

/* ---- the stack ----------------------------------------------------------- */

static const char *stack_env(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        ck_abort_msg("%s is not set: run this suite through scripts/with-cups.sh "
                     "SOURCE_ROOT --broken --paused --rejecting -- COMMAND", name);
    return v;
}

/* A job name no earlier run of this suite on the same stack used. */
static const char *job_name(const char *what)
{
    static char name[128];
    static unsigned serial;
    snprintf(name, sizeof name, "idm-test-%s-p%ld-%u", what, (long)getpid(), serial++);
    return name;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ---- card PDFs ------------------------------------------------------------ */

struct bytes {
    unsigned char *p;
    size_t len;
};

static cairo_status_t append(void *closure, const unsigned char *data, unsigned int length)
{
    struct bytes *b = closure;
    unsigned char *p = realloc(b->p, b->len + length);
    if (p == NULL)
        return CAIRO_STATUS_NO_MEMORY;
    memcpy(p + b->len, data, length);
    b->p = p;
    b->len += length;
    return CAIRO_STATUS_SUCCESS;
}

static void show_text(cairo_t *cr, double x, double y, double size, const char *text)
{
    cairo_set_font_size(cr, size);
    cairo_move_to(cr, x, y);
    cairo_show_text(cr, text);
}

/* Two pages at card size: the holder's name and number in front, "BACK"
 * behind, as the renderer would give the printer. */
static struct bytes card_pdf(const char *name, const char *number)
{
    struct bytes b = {NULL, 0};
    cairo_surface_t *s = cairo_pdf_surface_create_for_stream(append, &b, CARD_W_PT, CARD_H_PT);
    cairo_t *cr = cairo_create(s);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    show_text(cr, 16, 50, 18, name);
    show_text(cr, 16, 90, 14, number);
    cairo_show_page(cr);
    show_text(cr, 16, 50, 18, "BACK");
    cairo_show_page(cr);
    cairo_destroy(cr);
    cairo_surface_finish(s);
    ck_assert_int_eq(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    cairo_surface_destroy(s);
    ck_assert_uint_gt(b.len, 0);
    return b;
}

/* One page of a portrait layout: the card standing up. */
static struct bytes portrait_pdf(const char *number)
{
    struct bytes b = {NULL, 0};
    cairo_surface_t *s = cairo_pdf_surface_create_for_stream(append, &b, CARD_H_PT, CARD_W_PT);
    cairo_t *cr = cairo_create(s);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    show_text(cr, 16, 50, 14, number);
    cairo_show_page(cr);
    cairo_destroy(cr);
    cairo_surface_finish(s);
    ck_assert_int_eq(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    cairo_surface_destroy(s);
    return b;
}

/* cairo and fontconfig keep the fonts they loaded until told otherwise;
 * each test lets go of them, so that LeakSanitizer sees only leaks. */
static void release_fonts(void)
{
    cairo_debug_reset_static_data();
    FcFini();
}

/* ---- looking at the output ------------------------------------------------ */

/* The standard output of argv (at most size - 1 bytes); fails the test
 * unless it exits 0. */
static void run_capture(char *const argv[], char *out, size_t size)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    size_t used = 0;
    ssize_t n;
    while ((n = read(fds[0], out + used, size - 1 - used)) > 0)
        used += (size_t)n;
    close(fds[0]);
    out[used] = '\0';
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed (status %d)",
                  argv[0], status);
}

/* IDM_TEST_CUPS_OUT/<job>.pdf, which must exist. */
static const char *output_of(const char *job)
{
    static char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s.pdf", stack_env("IDM_TEST_CUPS_OUT"), job);
    ck_assert_msg(stat(path, &st) == 0 && st.st_size > 0, "no output for job %s at %s: %s", job,
                  path, strerror(errno));
    return path;
}

static void pdf_text(const char *path, const char *first_page, const char *last_page, char *out,
                     size_t size)
{
    char *argv[] = {"pdftotext", "-f", (char *)first_page, "-l", (char *)last_page,
                    (char *)path, "-", NULL};
    run_capture(argv, out, size);
}

/* ---- a job on the stack, seen through IPP --------------------------------- */

/* The state of the newest job named title on queue, or 0 if there is none. */
static int job_state_by_title(const char *queue, const char *title)
{
    const char *server = stack_env("IDM_TEST_CUPS_SERVER");
    char host[256];
    snprintf(host, sizeof host, "%s", server);
    char *colon = strrchr(host, ':');
    ck_assert_ptr_nonnull(colon);
    *colon = '\0';
    http_t *http = httpConnect2(host, atoi(colon + 1), NULL, AF_UNSPEC,
                                HTTP_ENCRYPTION_IF_REQUESTED, 1, 5000, NULL);
    ck_assert_msg(http != NULL, "cannot connect to %s: %s", server, cupsLastErrorString());
    cups_job_t *jobs = NULL;
    int n = cupsGetJobs2(http, &jobs, queue, 0, CUPS_WHICHJOBS_ALL);
    ck_assert_msg(n >= 0, "Get-Jobs on %s: %s", queue, cupsLastErrorString());
    int state = 0, newest = 0;
    for (int i = 0; i < n; i++) {
        if (jobs[i].title != NULL && strcmp(jobs[i].title, title) == 0 && jobs[i].id > newest) {
            newest = jobs[i].id;
            state = (int)jobs[i].state;
        }
    }
    cupsFreeJobs(n, jobs);
    httpClose(http);
    return state;
}

/* ---- tests ------------------------------------------------------------------ */

static idm_printer_t *stack_printer(const char *queue, int64_t timeout_ms)
{
    idm_printer_t *printer = NULL;
    ck_ok(idm_printer_new_cups(&printer, queue, stack_env("IDM_TEST_CUPS_SERVER"), timeout_ms));
    return printer;
}

START_TEST(test_two_page_card_prints_at_card_size_and_returns_when_done)
{
    idm_printer_t *printer = stack_printer(stack_env("IDM_TEST_CUPS_QUEUE"), JOB_TIMEOUT_MS);
    struct bytes pdf = card_pdf("Ada Lovelace", "IDM-000042");
    const char *job = job_name("front-back");
    double t0 = now_ms();
    ck_ok(idm_printer_print(printer, job, pdf.p, pdf.len));
    double took = now_ms() - t0;
    printf("# one card job (2 pages, %zu bytes) round trip: %.0f ms\n", pdf.len, took);
    fflush(stdout);

    /* Done means written: the file is there as soon as the call returns. */
    const char *out = output_of(job);
    char info[8192];
    char *argv[] = {"pdfinfo", (char *)out, NULL};
    run_capture(argv, info, sizeof info);
    const char *pages = strstr(info, "Pages:");
    const char *size = strstr(info, "Page size:");
    ck_assert_msg(pages != NULL && size != NULL, "pdfinfo says: %s", info);
    ck_assert_int_eq(atoi(pages + strlen("Pages:")), 2);
    double w = 0, h = 0;
    ck_assert_msg(sscanf(size, "Page size: %lf x %lf pts", &w, &h) == 2, "pdfinfo says: %s",
                  info);
    ck_assert_msg(w > CARD_W_PT - 1 && w < CARD_W_PT + 1 && h > CARD_H_PT - 1 &&
                  h < CARD_H_PT + 1, "the printed page is %.2f x %.2f pt, not the card's "
                  "%.2f x %.2f", w, h, CARD_W_PT, CARD_H_PT);

    char text[8192];
    pdf_text(out, "1", "1", text, sizeof text);
    ck_assert_msg(strstr(text, "Ada Lovelace") != NULL && strstr(text, "IDM-000042") != NULL,
                  "the front reads: %s", text);
    ck_assert_msg(strstr(text, "BACK") == NULL, "the front has the back's text: %s", text);
    pdf_text(out, "2", "2", text, sizeof text);
    ck_assert_msg(strstr(text, "BACK") != NULL, "the back reads: %s", text);
    ck_assert_int_eq(job_state_by_title(stack_env("IDM_TEST_CUPS_QUEUE"), job),
                     IPP_JSTATE_COMPLETED);
    free(pdf.p);
    idm_printer_free(&printer);
}
END_TEST

/* A portrait layout's card prints standing up, at the card's size. */
START_TEST(test_portrait_card_prints_standing_up)
{
    idm_printer_t *printer = stack_printer(stack_env("IDM_TEST_CUPS_QUEUE"), JOB_TIMEOUT_MS);
    struct bytes pdf = portrait_pdf("IDM-000099");
    const char *job = job_name("portrait");
    ck_ok(idm_printer_print(printer, job, pdf.p, pdf.len));
    char info[8192];
    char *argv[] = {"pdfinfo", (char *)output_of(job), NULL};
    run_capture(argv, info, sizeof info);
    const char *size = strstr(info, "Page size:");
    double w = 0, h = 0;
    ck_assert_msg(size != NULL && sscanf(size, "Page size: %lf x %lf pts", &w, &h) == 2,
                  "pdfinfo says: %s", info);
    ck_assert_msg(w > CARD_H_PT - 1 && w < CARD_H_PT + 1 && h > CARD_W_PT - 1 &&
                  h < CARD_W_PT + 1, "the portrait page printed %.2f x %.2f pt, not the "
                  "card's %.2f x %.2f", w, h, CARD_H_PT, CARD_W_PT);
    char text[8192];
    pdf_text(output_of(job), "1", "1", text, sizeof text);
    ck_assert_msg(strstr(text, "IDM-000099") != NULL, "the portrait card reads: %s", text);
    free(pdf.p);
    idm_printer_free(&printer);
}
END_TEST

/* Prints one card through printer and checks its output has the card's
 * number on it. */
static void print_and_find(idm_printer_t *printer, const char *what)
{
    struct bytes pdf = card_pdf("Ada Lovelace", "IDM-000077");
    const char *job = job_name(what);
    ck_ok(idm_printer_print(printer, job, pdf.p, pdf.len));
    char text[8192];
    pdf_text(output_of(job), "1", "1", text, sizeof text);
    ck_assert_msg(strstr(text, "IDM-000077") != NULL, "job %s printed: %s", job, text);
    free(pdf.p);
}

START_TEST(test_server_given_as_a_socket_path_is_reached_through_it)
{
    idm_printer_t *printer = NULL;
    ck_ok(idm_printer_new_cups(&printer, stack_env("IDM_TEST_CUPS_QUEUE"),
                               stack_env("IDM_TEST_CUPS_SOCKET"), JOB_TIMEOUT_MS));
    print_and_find(printer, "socket");
    idm_printer_free(&printer);
}
END_TEST

START_TEST(test_no_server_means_the_one_libcups_names)
{
    /* What CUPS_SERVER or client.conf would name, for this thread. */
    cupsSetServer(stack_env("IDM_TEST_CUPS_SERVER"));
    idm_printer_t *printer = NULL;
    ck_ok(idm_printer_new_cups(&printer, stack_env("IDM_TEST_CUPS_QUEUE"), NULL,
                               JOB_TIMEOUT_MS));
    print_and_find(printer, "default-server");
    idm_printer_free(&printer);
    cupsSetServer(NULL);
}
END_TEST

START_TEST(test_batch_of_ten_jobs_each_output_is_its_own_card)
{
    enum { CARDS = 10 };
    idm_printer_t *printer = stack_printer(stack_env("IDM_TEST_CUPS_QUEUE"), JOB_TIMEOUT_MS);
    char jobs[CARDS][128], numbers[CARDS][32];
    double t0 = now_ms();
    for (int i = 0; i < CARDS; i++) {
        snprintf(numbers[i], sizeof numbers[i], "IDM-%06d", 100 + i);
        snprintf(jobs[i], sizeof jobs[i], "%s", job_name("batch"));
        struct bytes pdf = card_pdf("Grace Hopper", numbers[i]);
        ck_ok(idm_printer_print(printer, jobs[i], pdf.p, pdf.len));
        free(pdf.p);
    }
    printf("# %d card jobs in a row: %.0f ms, %.0f ms a job\n", CARDS, now_ms() - t0,
           (now_ms() - t0) / CARDS);
    fflush(stdout);
    struct faults f = {0};
    for (int i = 0; i < CARDS; i++) {
        char text[8192];
        pdf_text(output_of(jobs[i]), "1", "1", text, sizeof text);
        if (strstr(text, numbers[i]) == NULL)
            fault(&f, "job %s printed '%s', not card %s;", jobs[i], text, numbers[i]);
    }
    ck_assert_no_faults(&f);
    idm_printer_free(&printer);
}
END_TEST

START_TEST(test_missing_queue_fails_with_cups_words)
{
    char queue[64];
    snprintf(queue, sizeof queue, "no-such-queue-%ld", (long)getpid());
    idm_printer_t *printer = stack_printer(queue, JOB_TIMEOUT_MS);
    struct bytes pdf = card_pdf("Ada Lovelace", "IDM-000042");
    const char *job = job_name("missing");
    ck_assert_idm_error(idm_printer_print(printer, job, pdf.p, pdf.len), IDM_ERR_BACKEND,
                        "The printer or class does not exist.");
    ck_assert_msg(strstr(idm_last_error_message(), queue) != NULL &&
                  strstr(idm_last_error_message(), job) != NULL,
                  "the message names neither queue nor job: %s", idm_last_error_message());
    free(pdf.p);
    idm_printer_free(&printer);
}
END_TEST

START_TEST(test_paused_queue_times_out_and_the_job_is_cancelled)
{
    const char *queue = stack_env("IDM_TEST_CUPS_PAUSED_QUEUE");
    idm_printer_t *printer = stack_printer(queue, 1500);
    struct bytes pdf = card_pdf("Ada Lovelace", "IDM-000042");
    const char *job = job_name("paused");
    ck_assert_idm_error(idm_printer_print(printer, job, pdf.p, pdf.len), IDM_ERR_TIMEOUT,
                        "after 1500 ms");
    /* The operator learns why: the queue is stopped, in CUPS's words. */
    ck_assert_msg(strstr(idm_last_error_message(), "the printer is stopped") != NULL &&
                  strstr(idm_last_error_message(), "paused by cups-stack.sh") != NULL,
                  "the message does not say the printer is paused: %s",
                  idm_last_error_message());
    ck_assert_msg(strstr(idm_last_error_message(), "cancelled") != NULL,
                  "the message does not say the job was cancelled: %s",
                  idm_last_error_message());
    /* ... and the job cannot print when the queue is enabled again. */
    ck_assert_int_eq(job_state_by_title(queue, job), IPP_JSTATE_CANCELED);
    free(pdf.p);
    idm_printer_free(&printer);
}
END_TEST

START_TEST(test_broken_queue_fails_with_the_jobs_abort_reason)
{
    const char *queue = stack_env("IDM_TEST_CUPS_BROKEN_QUEUE");
    idm_printer_t *printer = stack_printer(queue, JOB_TIMEOUT_MS);
    struct bytes pdf = card_pdf("Ada Lovelace", "IDM-000042");
    const char *job = job_name("broken");
    /* The socket backend's own words, which cupsd keeps as the job's
     * printer-state-message. */
    ck_assert_idm_error(idm_printer_print(printer, job, pdf.p, pdf.len), IDM_ERR_BACKEND,
                        "The printer is not responding.");
    ck_assert_msg(strstr(idm_last_error_message(), " aborted") != NULL,
                  "the message does not say the job was aborted: %s", idm_last_error_message());
    ck_assert_int_eq(job_state_by_title(queue, job), IPP_JSTATE_ABORTED);
    free(pdf.p);
    idm_printer_free(&printer);
}
END_TEST

START_TEST(test_queue_refusing_jobs_fails_with_the_reason)
{
    const char *queue = stack_env("IDM_TEST_CUPS_REJECTING_QUEUE");
    idm_printer_t *printer = stack_printer(queue, JOB_TIMEOUT_MS);
    struct bytes pdf = card_pdf("Ada Lovelace", "IDM-000042");
    const char *job = job_name("rejecting");
    ck_assert_idm_error(idm_printer_print(printer, job, pdf.p, pdf.len), IDM_ERR_BACKEND,
                        "is not accepting jobs");
    ck_assert_msg(strstr(idm_last_error_message(), "rejecting by cups-stack.sh") != NULL,
                  "the message does not give the queue's reason: %s", idm_last_error_message());
    /* Refused before a job was made. */
    ck_assert_int_eq(job_state_by_title(queue, job), 0);
    free(pdf.p);
    idm_printer_free(&printer);
}
END_TEST

/* A listening socket that never accepts: the kernel completes the
 * handshake, the request goes into its buffer, and no answer ever comes. */
START_TEST(test_server_that_never_answers_times_out)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    ck_assert_int_eq(listen(fd, 8), 0);
    socklen_t len = sizeof addr;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    char server[64];
    snprintf(server, sizeof server, "127.0.0.1:%d", ntohs(addr.sin_port));

    idm_printer_t *printer = NULL;
    ck_ok(idm_printer_new_cups(&printer, "card", server, 1000));
    struct bytes pdf = card_pdf("Ada Lovelace", "IDM-000042");
    ck_assert_idm_error(idm_printer_print(printer, job_name("silent"), pdf.p, pdf.len),
                        IDM_ERR_TIMEOUT, "not done after 1000 ms");
    ck_assert_msg(strstr(idm_last_error_message(), server) != NULL,
                  "the message does not name the server %s: %s", server,
                  idm_last_error_message());
    free(pdf.p);
    idm_printer_free(&printer);
    close(fd);
}
END_TEST

START_TEST(test_server_not_listening_fails_naming_the_server)
{
    idm_printer_t *printer = NULL;
    ck_ok(idm_printer_new_cups(&printer, "card", "127.0.0.1:1", JOB_TIMEOUT_MS));
    struct bytes pdf = card_pdf("Ada Lovelace", "IDM-000042");
    ck_assert_idm_error(idm_printer_print(printer, job_name("no-server"), pdf.p, pdf.len),
                        IDM_ERR_BACKEND, "127.0.0.1:1");
    ck_assert_msg(strstr(idm_last_error_message(), "cannot connect to the CUPS server") != NULL,
                  "the message does not say the server could not be reached: %s",
                  idm_last_error_message());
    free(pdf.p);
    idm_printer_free(&printer);
}
END_TEST

START_TEST(test_print_refuses_a_malformed_job_name_before_contacting_cups)
{
    /* A server nobody listens on: a refusal must come before any contact. */
    idm_printer_t *printer = NULL;
    ck_ok(idm_printer_new_cups(&printer, "card", "127.0.0.1:1", JOB_TIMEOUT_MS));
    static const unsigned char pdf[] = "%PDF-1.4\n";
    ck_assert_idm_error(idm_printer_print(printer, "job name with blanks", pdf, sizeof pdf),
                        IDM_ERR_INVALID_ARG, "[A-Za-z0-9._-]");
    ck_assert_idm_error(idm_printer_print(printer, "empty-document", pdf, 0),
                        IDM_ERR_INVALID_ARG, "is empty");
    idm_printer_free(&printer);
}
END_TEST

START_TEST(test_new_cups_refuses_bad_arguments)
{
    char long_queue[129], long_server[300];
    memset(long_queue, 'q', 128);
    long_queue[128] = '\0';
    memset(long_server, 'h', 256);
    long_server[256] = '\0';
    static const struct {
        const char *queue, *server;
        int64_t timeout_ms;
        const char *needle;
    } bad[] = {
        {NULL, NULL, 5000, "queue"},
        {"", NULL, 5000, "queue"},
        {"a/b", NULL, 5000, "queue"},
        {"a#b", NULL, 5000, "queue"},
        {"a b", NULL, 5000, "queue"},
        {"a\tb", NULL, 5000, "queue"},
        {"caf\xc3\xa9", NULL, 5000, "queue"},
        {"card", "", 5000, "server"},
        {"card", "printhost:0", 5000, "server"},
        {"card", "printhost:65536", 5000, "server"},
        {"card", "printhost:6x1", 5000, "server"},
        {"card", "printhost:", 5000, "server"},
        {":631", ":631", 5000, "server"},
        {"card", "[::1", 5000, "server"},
        {"card", "[::1]631", 5000, "server"},
        {"card", NULL, 999, "timeout_ms"},
        {"card", NULL, 3600001, "timeout_ms"},
        {"card", NULL, -1, "timeout_ms"},
    };
    struct faults f = {0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        idm_printer_t *printer = (idm_printer_t *)&f; /* must be reset to NULL */
        int rc = idm_printer_new_cups(&printer, bad[i].queue, bad[i].server, bad[i].timeout_ms);
        if (rc != IDM_ERR_INVALID_ARG || printer != NULL ||
            strstr(idm_last_error_message(), bad[i].needle) == NULL)
            fault(&f, "row %zu (queue '%s', server '%s', timeout %lld): %s, out %s: %s;", i,
                  bad[i].queue ? bad[i].queue : "(null)",
                  bad[i].server ? bad[i].server : "(null)", (long long)bad[i].timeout_ms,
                  idm_strerror_name(rc), printer == NULL ? "NULL" : "set",
                  idm_last_error_message());
        if (rc == IDM_OK)
            idm_printer_free(&printer);
    }
    const struct {
        const char *queue, *server;
        const char *needle;
    } long_args[] = {{long_queue, NULL, "queue"}, {"card", long_server, "server"}};
    for (size_t i = 0; i < 2; i++) {
        idm_printer_t *printer = NULL;
        int rc = idm_printer_new_cups(&printer, long_args[i].queue, long_args[i].server, 5000);
        if (rc != IDM_ERR_INVALID_ARG || printer != NULL ||
            strstr(idm_last_error_message(), long_args[i].needle) == NULL)
            fault(&f, "too long %s: %s: %s;", long_args[i].needle, idm_strerror_name(rc),
                  idm_last_error_message());
        if (rc == IDM_OK)
            idm_printer_free(&printer);
    }
    ck_assert_int_eq(idm_printer_new_cups(NULL, "card", NULL, 5000), IDM_ERR_INVALID_ARG);
    ck_assert_no_faults(&f);
}
END_TEST

START_TEST(test_new_cups_accepts_every_server_form_without_contacting_it)
{
    /* Nothing answers at any of these: creation alone must not reach out. */
    static const char *const servers[] = {NULL,        "printhost",     "printhost:631",
                                          "127.0.0.1:1", "[::1]:631",   "[::1]",
                                          "fe80::1",   "/nonexistent/cups.sock"};
    static const int64_t timeouts[] = {1000, 3600000};
    struct faults f = {0};
    for (size_t i = 0; i < sizeof servers / sizeof servers[0]; i++) {
        for (size_t t = 0; t < 2; t++) {
            idm_printer_t *printer = NULL;
            int rc = idm_printer_new_cups(&printer, "card-printer_1.x", servers[i], timeouts[t]);
            if (rc != IDM_OK || printer == NULL)
                fault(&f, "server '%s', timeout %lld: %s: %s;",
                      servers[i] ? servers[i] : "(null)", (long long)timeouts[t],
                      idm_strerror_name(rc), idm_last_error_message());
            idm_printer_free(&printer);
            if (printer != NULL)
                fault(&f, "idm_printer_free left the pointer set;");
        }
    }
    ck_assert_no_faults(&f);
}
END_TEST

Suite *idm_test_suite(void)
{
    Suite *s = suite_create("cups_printer");
    TCase *args = tcase_create("arguments");
    tcase_add_checked_fixture(args, NULL, release_fonts);
    tcase_add_test(args, test_new_cups_refuses_bad_arguments);
    tcase_add_test(args, test_new_cups_accepts_every_server_form_without_contacting_it);
    tcase_add_test(args, test_print_refuses_a_malformed_job_name_before_contacting_cups);
    suite_add_tcase(s, args);
    TCase *stack = tcase_create("stack");
    tcase_add_checked_fixture(stack, NULL, release_fonts);
    /* The broken queue's backend gives up after a few seconds; ten jobs
     * through ghostscript take a while on a slow machine. */
    tcase_set_timeout(stack, 300);
    tcase_add_test(stack, test_two_page_card_prints_at_card_size_and_returns_when_done);
    tcase_add_test(stack, test_portrait_card_prints_standing_up);
    tcase_add_test(stack, test_batch_of_ten_jobs_each_output_is_its_own_card);
    tcase_add_test(stack, test_server_given_as_a_socket_path_is_reached_through_it);
    tcase_add_test(stack, test_no_server_means_the_one_libcups_names);
    tcase_add_test(stack, test_missing_queue_fails_with_cups_words);
    tcase_add_test(stack, test_paused_queue_times_out_and_the_job_is_cancelled);
    tcase_add_test(stack, test_broken_queue_fails_with_the_jobs_abort_reason);
    tcase_add_test(stack, test_queue_refusing_jobs_fails_with_the_reason);
    tcase_add_test(stack, test_server_that_never_answers_times_out);
    tcase_add_test(stack, test_server_not_listening_fails_naming_the_server);
    suite_add_tcase(s, stack);
    return s;
}
