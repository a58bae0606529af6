#!/usr/bin/env bash
# No SQL statement of libidm is made of text it is given: every statement is
# a constant, values travel as bound parameters, and the few statements
# formatted at run time (savepoint names, the schema version pragma) take
# integers only.  Read from the sources; then the same checks run on a
# scratch copy with an injected statement of each kind, which they must
# report, so that a check that finds nothing is known to look.  Prints TAP.
# Usage: check-sql-text.sh SRC_DIR
set -uo pipefail
src=$(readlink -f "${1:?usage: check-sql-text.sh SRC_DIR}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; printf '#   %s\n' "$@"; }

verbs='SELECT|INSERT|UPDATE|DELETE|REPLACE|CREATE|ALTER|DROP|PRAGMA|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|ATTACH|VACUUM|WITH'

# Each check prints what it finds in the C files under $1 (nothing = clean).
# 1. SQLite's own printf, which formats text into SQL
mprintf() { grep -rnE --include='*.c' --include='*.h' 'sqlite3_(v?mprintf|v?snprintf|str_appendf)\(' "$1"; }
# 2. a string conversion (or any but an integer one) in an SQL text
sql_format() {
  grep -rnoE --include='*.c' --include='*.h' "\"[[:space:]]*($verbs)[^\"]*%[^\"]*\"" "$1" |
    grep -vE "\"[^%]*(%(l{0,2}d|zu|u|\" PRId64 \"|\" PRIu64 \")[^%]*)+\"$"
}
# 3. a printf-family call whose target is an SQL buffer and whose format
#    has a conversion that is not an integer
sql_buffer() {
  grep -rnE --include='*.c' '(v?s(n)?printf)\((sql|pragma|query|stmt)[a-z_]*,' "$1" |
    grep -E '%[-0-9.]*[^-0-9.dulz%]' | grep -vE '%(l{0,2}d|zu|u)\b'
}
# 4. an SQL_ constant that is not a static constant array (built at run time)
sql_variables() {
  grep -rnE --include='*.c' '\bSQL_[A-Z0-9_]+\s*(\[\s*\])?\s*=' "$1" | grep -vE 'static const char SQL_[A-Z0-9_]+\[\]'
}
# 5. statements prepared or run from something other than a constant: a
#    call whose SQL argument is not a literal, an SQL_ constant, or one of
#    the helpers' parameters (sql, queries[i], pragmas, the migrations)
sql_calls() {
  local arg='("|SQL_[A-Z0-9_]+\b|\(?sql\)?[,)]|queries\[i\]|pragmas\b|idm_sqlite_migrations\[v\])'
  grep -rnE --include='*.c' '(sqlite3_prepare(_v[23])?|sqlite3_exec|exec_sql|pragma_int|PREPARE|stmt)\(' "$1" |
    grep -vE '^\S+:[0-9]+:\s*(static|#define|int|sqlite3_stmt \*stmt\b)' |
    sed -E 's/^([^:]+:[0-9]+:).*(sqlite3_prepare(_v[23])?|sqlite3_exec|exec_sql|pragma_int|PREPARE|stmt)\(/\1 \2(/' |
    grep -vE "\((st->db|\(?st\)?|s->db), $arg" |
    grep -vE "PREPARE\(\(?st\)?, [a-z]+, $arg"
}

check() { # NAME FUNCTION DIR: the check finds nothing in DIR
  local found
  found=$("$2" "$3")
  if [ -z "$found" ]; then ok "$1"; else not_ok "$1" "$found"; fi
}
catches() { # NAME FUNCTION DIR NEEDLE: the check reports the planted NEEDLE
  local found
  found=$("$2" "$3")
  if [[ $found == *"$4"* ]]; then ok "control: $1"; else not_ok "control: $1 missed the planted line" "$found"; fi
}

files=$(grep -rlE --include='*.c' 'sqlite3_' "$src" | wc -l)
[ "$files" -ge 1 ] && ok "src/ has $files file(s) that call SQLite" || not_ok "no SQLite calls under $src"
check "no sqlite3_mprintf or sqlite3_snprintf" mprintf "$src"
check "no SQL text with a conversion other than an integer" sql_format "$src"
check "no text formatted into an SQL buffer" sql_buffer "$src"
check "every SQL_ statement is a static constant" sql_variables "$src"
check "every statement prepared or run is a literal or an SQL_ constant" sql_calls "$src"
statements=$(grep -rhoE --include='*.c' 'static const char SQL_[A-Z0-9_]+\[\]' "$src" | wc -l)
binds=$(grep -rhoE --include='*.c' 'sqlite3_bind_(text|int|int64|blob|null)' "$src" | wc -l)
echo "# $statements constant statements, $binds bind calls"

# ---- controls: each kind of violation planted in a copy is reported ---------------
cp -r "$src" "$work/src"
cat >"$work/src/store/planted.c" <<'EOF'
static int planted(sqlite3 *db, const char *who)
{
    char *a = sqlite3_mprintf("SELECT * FROM identities WHERE external_id = '%q'", who);
    char sql[256];
    snprintf(sql, sizeof sql, "DELETE FROM cards WHERE number = '%s'", who);
    sqlite3_exec(db, a, NULL, NULL, NULL);
    return sqlite3_prepare_v2(db, built, -1, &q, NULL);
}
static char SQL_PLANTED[] = "SELECT 1";
EOF
catches "sqlite3_mprintf" mprintf "$work/src" "planted.c:3"
catches "a '%s' in SQL text" sql_format "$work/src" "planted.c:5"
catches "text formatted into an SQL buffer" sql_buffer "$work/src" "planted.c:5"
catches "an SQL_ statement that is not constant" sql_variables "$work/src" "planted.c:9"
catches "a statement prepared from a variable" sql_calls "$work/src" "planted.c:7"

echo "1..$n"
[ "$failed" -eq 0 ]
