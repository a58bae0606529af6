/* The option table, option sets (current or snapshotted) and card numbers. */
#ifndef IDM_MODEL_OPTIONS_IMPL_H
#define IDM_MODEL_OPTIONS_IMPL_H

#include <stdint.h>

#include <idm/options.h>

struct idm_store;

/* Every option's value as text ("0"/"1" for booleans, decimal for integers). */
struct idm_optset {
    int64_t version;
    size_t count;
    char **values; /* indexed like the option table */
};

/* The current options of a store: defaults overlaid with stored values. */
int idm_optset_load(struct idm_store *s, struct idm_optset **out);
/* A snapshot's options; keys it lacks (added to the library later) take
 * their defaults, keys the library no longer knows are ignored. */
int idm_optset_parse(const char *snapshot, int64_t version, struct idm_optset **out);
/* "key=value\n" for every option, in table order. */
int idm_optset_serialize(const struct idm_optset *o, char **out);
void idm_optset_free(struct idm_optset *o);

/* Typed reads: IDM_ERR_INVALID_ARG (no function name) for an unknown key or
 * a key of another type. */
int idm_optset_bool(const struct idm_optset *o, const char *key, int *out);
int idm_optset_int(const struct idm_optset *o, const char *key, int64_t *out);
int idm_optset_string(const struct idm_optset *o, const char *key, const char **out);

/* Parses a card_key_slots value ("9A,9C,9D,9E": each of 9A 9C 9D 9E at
 * most once) into slots.  Returns 1, or 0 with the reason in why. */
int idm_option_parse_slots(const char *value, unsigned slots[4], size_t *count, char *why,
                           size_t why_size);

/* The card number for a counter value under a card_number_format. */
int idm_card_number_format(const char *format, int64_t seq, char **out);

#endif /* IDM_MODEL_OPTIONS_IMPL_H */
