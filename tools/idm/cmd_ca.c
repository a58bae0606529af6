/*
 * idm ca create: the built-in issuing CA, kept in a folder as ca.crt (PEM)
 * and ca.key (PKCS#8 PEM encrypted with a passphrase, mode 0600).  The
 * passphrase comes from --passphrase-file or $IDM_CA_PASSPHRASE and is
 * never printed.  cli_load_ca() loads it for the commands that issue.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"

#define PASSPHRASE_MAX 1024

struct passphrase {
    char text[PASSPHRASE_MAX];
    size_t len;
};

/* The passphrase from file (its first line) or $IDM_CA_PASSPHRASE. */
static int read_passphrase(const struct cli *cli, const char *file, struct passphrase *p)
{
    memset(p, 0, sizeof *p);
    if (file != NULL) {
        FILE *f = fopen(file, "r");
        if (f == NULL) {
            fprintf(stderr, "idm %s: cannot read the passphrase file '%s': %s\n", cli->command,
                    file, strerror(errno));
            return EXIT_FAILED;
        }
        if (fgets(p->text, sizeof p->text, f) == NULL)
            p->text[0] = '\0';
        fclose(f);
        p->text[strcspn(p->text, "\r\n")] = '\0';
    } else {
        const char *env = getenv("IDM_CA_PASSPHRASE");
        if (env != NULL)
            snprintf(p->text, sizeof p->text, "%s", env);
    }
    p->len = strlen(p->text);
    if (p->len == 0) {
        fprintf(stderr, "idm %s: the CA key needs a passphrase: --passphrase-file FILE or "
                        "IDM_CA_PASSPHRASE\n", cli->command);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

static int supply_passphrase(char *buf, size_t size, void *user_data)
{
    const struct passphrase *p = user_data;
    if (p->len > size)
        return -1;
    memcpy(buf, p->text, p->len);
    return (int)p->len;
}

static void wipe(struct passphrase *p)
{
    volatile char *v = p->text;
    for (size_t i = 0; i < sizeof p->text; i++)
        v[i] = 0;
    p->len = 0;
}

/* dir/name into path; 0 when it fits. */
static int join(char *path, size_t size, const char *dir, const char *name)
{
    int n = snprintf(path, size, "%s/%s", dir, name);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* The whole of a file, malloc'ed; NULL with a message when it cannot be read. */
static char *read_file(const struct cli *cli, const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "idm %s: cannot read '%s': %s\n", cli->command, path, strerror(errno));
        return NULL;
    }
    size_t room = 4096, n = 0;
    char *data = malloc(room);
    while (data != NULL) {
        size_t got = fread(data + n, 1, room - n, f);
        n += got;
        if (got == 0 || n > 1024 * 1024)
            break;
        if (n == room) {
            char *grown = realloc(data, room * 2);
            if (grown == NULL) {
                free(data);
                data = NULL;
            } else {
                data = grown;
                room *= 2;
            }
        }
    }
    int bad = data == NULL || ferror(f) || n > 1024 * 1024;
    fclose(f);
    if (bad) {
        fprintf(stderr, "idm %s: cannot read '%s' (unreadable, or over 1 MiB)\n", cli->command,
                path);
        free(data);
        return NULL;
    }
    *len = n;
    return data;
}

int cli_load_ca(struct cli *cli, const char *dir, const char *passphrase_file, idm_ca_t **out)
{
    char cert_path[4096], key_path[4096];
    if (join(cert_path, sizeof cert_path, dir, "ca.crt") != 0 ||
        join(key_path, sizeof key_path, dir, "ca.key") != 0)
        return cli_usage_error(cli, "--ca-dir: the path is too long");
    struct passphrase p;
    int rc = read_passphrase(cli, passphrase_file, &p);
    if (rc != EXIT_OK)
        return rc;
    size_t cert_len = 0, key_len = 0;
    char *cert = read_file(cli, cert_path, &cert_len);
    char *key = cert != NULL ? read_file(cli, key_path, &key_len) : NULL;
    rc = EXIT_FAILED;
    if (key != NULL) {
        if (idm_ca_new_openssl_pem(out, cli->ctx, cert, cert_len, key, key_len,
                                   supply_passphrase, &p) == IDM_OK)
            rc = EXIT_OK;
        else
            rc = cli_fail(cli, "cannot load the CA");
        memset(key, 0, key_len);
    }
    free(key);
    free(cert);
    wipe(&p);
    return rc;
}

/* ---- create -------------------------------------------------------------------- */

static const char CREATE_USAGE[] =
    "usage: idm ca create --dir DIR --name COMMON-NAME [--key-type TYPE] [--days N]\n"
    "                     [--passphrase-file FILE]\n"
    "\n"
    "Makes a new self-signed issuing CA with a fresh key and writes it into DIR\n"
    "(made if missing): ca.crt, the certificate (PEM), and ca.key, the key as\n"
    "PKCS#8 PEM encrypted with the passphrase (AES-256-CBC, PBKDF2; mode 0600).\n"
    "The passphrase is the first line of FILE, or $IDM_CA_PASSPHRASE.  TYPE:\n"
    "p256 (default), p384, rsa2048, rsa3072; N: 1..10950 days (default 3650).\n"
    "Existing files are never overwritten.  Needs no store.\n";

static int ca_create(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, 'd'},      {"name", required_argument, NULL, 'n'},
        {"key-type", required_argument, NULL, 'k'}, {"days", required_argument, NULL, 'D'},
        {"passphrase-file", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    static const char *const key_types[] = {"p256", "p384", "rsa2048", "rsa3072"};
    const char *dir = NULL, *name = NULL, *passphrase_file = NULL;
    int key_type = IDM_KEY_EC_P256, days = 3650, opt, rc = EXIT_OK;
    optind = 0; /* 0: glibc starts over (main parsed the global options) */
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'd': dir = optarg; break;
        case 'n': name = optarg; break;
        case 'k': rc = cli_parse_choice(cli, "--key-type", optarg, key_types, 4, &key_type); break;
        case 'D': {
            int64_t v = cli_parse_id(optarg);
            if (v < 1 || v > 10950)
                rc = cli_usage_error(cli, "--days: '%s' is not 1..10950", optarg);
            days = (int)v;
            break;
        }
        case 'p': passphrase_file = optarg; break;
        case 'h': fputs(CREATE_USAGE, stdout); return EXIT_OK;
        default: return EXIT_USAGE;
        }
        if (rc != EXIT_OK)
            return rc;
    }
    if (optind != argc)
        return cli_usage_error(cli, "unexpected argument '%s'", argv[optind]);
    if (dir == NULL || name == NULL)
        return cli_usage_error(cli, "--dir and --name are required; see 'idm ca create --help'");
    char cert_path[4096], key_path[4096];
    if (join(cert_path, sizeof cert_path, dir, "ca.crt") != 0 ||
        join(key_path, sizeof key_path, dir, "ca.key") != 0)
        return cli_usage_error(cli, "--dir: the path is too long");
    struct passphrase p;
    if ((rc = read_passphrase(cli, passphrase_file, &p)) != EXIT_OK)
        return rc;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        wipe(&p);
        fprintf(stderr, "idm %s: cannot make '%s': %s\n", cli->command, dir, strerror(errno));
        return EXIT_FAILED;
    }
    if (access(cert_path, F_OK) == 0 || access(key_path, F_OK) == 0) {
        wipe(&p);
        fprintf(stderr, "idm %s: '%s' already holds a CA; it is never overwritten\n",
                cli->command, dir);
        return EXIT_FAILED;
    }
    idm_ca_t *ca = NULL;
    idm_buffer_t *der = NULL, *key = NULL;
    const unsigned char *bytes = NULL;
    size_t len = 0, pem_len = 0;
    char *pem = NULL;
    rc = EXIT_FAILED;
    if (idm_ctx_new(&cli->ctx) != IDM_OK || idm_buffer_new(&der) != IDM_OK ||
        idm_buffer_new(&key) != IDM_OK)
        rc = cli_fail(cli, "out of memory");
    else if (idm_ca_new_openssl(&ca, cli->ctx, (idm_key_type)key_type, name, days) != IDM_OK)
        rc = cli_fail(cli, "cannot make the CA");
    else if (idm_ca_get_certificate(ca, der) != IDM_OK ||
             idm_ca_export_key(ca, supply_passphrase, &p, key) != IDM_OK)
        rc = cli_fail(cli, "cannot export the CA");
    else if (idm_buffer_get(der, &bytes, &len) != IDM_OK ||
             (pem = cli_pem_encode(bytes, len, "CERTIFICATE", &pem_len)) == NULL)
        rc = cli_fail(cli, "out of memory");
    else if (idm_buffer_get(key, &bytes, &len) == IDM_OK &&
             (rc = cli_write_new_file(cli, key_path, bytes, len, 0600)) == EXIT_OK &&
             (rc = cli_write_new_file(cli, cert_path, pem, pem_len, 0644)) != EXIT_OK)
        unlink(key_path);
    wipe(&p);
    free(pem);
    idm_buffer_free(&key);
    idm_buffer_free(&der);
    idm_ca_free(&ca);
    if (rc != EXIT_OK)
        return rc;
    if (cli->json) {
        struct json j;
        json_start(&j, stdout);
        json_open(&j, NULL, '{');
        json_str(&j, "certificate", cert_path);
        json_str(&j, "key", key_path);
        json_str(&j, "key_type", key_types[key_type]);
        json_int(&j, "days", days);
        json_close(&j, '}');
        json_end(&j);
    } else {
        printf("created the CA '%s': %s, %s (encrypted)\n", name, cert_path, key_path);
    }
    return EXIT_OK;
}

int cmd_ca(struct cli *cli, int argc, char **argv)
{
    static const struct cli_command table[] = {
        {"create", "make a new issuing CA in a folder", ca_create},
        {"crl", "sign a CRL of the revoked certificates", cli_ca_crl},
    };
    return cli_dispatch(cli, "ca", table, sizeof table / sizeof table[0], argc, argv);
}
