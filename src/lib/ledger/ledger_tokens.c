/* ledger_tokens.c — API tokens: "portreg_" + 30 random base62 characters (getrandom) + 6
 * base62 characters of the CRC32 of what precedes (zlib), so leak scanners can recognise a
 * token and reject typos offline, as GitHub's tokens. Only HMAC-SHA256(server secret, token)
 * is stored (GnuTLS's gnutls_hmac_fast: libmicrohttpd already loads GnuTLS, so no second
 * crypto library). The secret lives in the state directory, 0600. A token found in the store
 * is trusted from memory for LEDGER_TOKEN_CACHE_MS (its expiry is still checked on every
 * request), so a change made by another process (a deleted token) is seen within that time. */
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "ledger/ledger_body.h"
#include "ledger/ledger_internal.h"

#define TOKEN_PREFIX "portreg_"
#define TOKEN_RANDOM_CHARS 30
#define TOKEN_CHECK_CHARS 6
#define TOKEN_LAST_USED_GRANULARITY 60   /* seconds: reads do not write on every request */

static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static void checksum_chars(const char *text, size_t len, char out[TOKEN_CHECK_CHARS])
{
    uLong crc = crc32(0L, (const Bytef *)text, (uInt)len);
    for (int i = TOKEN_CHECK_CHARS - 1; i >= 0; i--) {
        out[i] = base62[crc % 62];
        crc /= 62;
    }
}

bool ledger_token_well_formed(const char *token)
{
    size_t prefix = strlen(TOKEN_PREFIX);
    if (!token || strlen(token) != LEDGER_TOKEN_LENGTH || strncmp(token, TOKEN_PREFIX, prefix) != 0)
        return false;
    for (size_t i = prefix; i < LEDGER_TOKEN_LENGTH; i++)
        if (!strchr(base62, token[i]) || token[i] == '\0')
            return false;
    char check[TOKEN_CHECK_CHARS];
    checksum_chars(token, prefix + TOKEN_RANDOM_CHARS, check);
    return memcmp(check, token + prefix + TOKEN_RANDOM_CHARS, TOKEN_CHECK_CHARS) == 0;
}

static int token_hash(const struct ledger *ledger, const char *token, char hex[65])
{
    unsigned char digest[32];
    if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, ledger->secret, ledger->secret_len, token, strlen(token), digest) < 0)
        return -EIO;
    /* every request hashes its token: a table, not 32 snprintf calls (1% of a request's CPU) */
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[64] = '\0';
    return 0;
}

static int random_bytes(void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = getrandom((char *)buf + done, len - done, 0);
        if (n < 0 && errno != EINTR)
            return -errno;
        if (n > 0)
            done += (size_t)n;
    }
    return 0;
}

int ledger_token_create(struct ledger *ledger, enum ledger_role role, const char *name, unsigned expires_days,
                        char token_out[LEDGER_TOKEN_LENGTH + 1], json_t **row_out, struct pr_error *err)
{
    return ledger_token_create_for_host(ledger, role, NULL, name, expires_days, token_out, row_out, err);
}

int ledger_token_create_for_host(struct ledger *ledger, enum ledger_role role, const char *host, const char *name,
                                 unsigned expires_days, char token_out[LEDGER_TOKEN_LENGTH + 1], json_t **row_out,
                                 struct pr_error *err)
{
    if (role == LEDGER_ROLE_NONE)
        return pr_error_set(err, -EINVAL, "a token needs a role: reader, agent, requester or admin");
    if (role == LEDGER_ROLE_AGENT && !(host && ledger_name_valid(host)))
        return pr_error_set(err, -EINVAL, "an agent token needs --host NAME (the host it reports for)");
    if (role != LEDGER_ROLE_AGENT && host)
        return pr_error_set(err, -EINVAL, "--host is for agent tokens only");
    unsigned char random[TOKEN_RANDOM_CHARS];
    if (random_bytes(random, sizeof random) < 0)
        return pr_error_set(err, -EIO, "getrandom failed");
    size_t prefix = strlen(TOKEN_PREFIX);
    memcpy(token_out, TOKEN_PREFIX, prefix);
    for (int i = 0; i < TOKEN_RANDOM_CHARS; i++)
        token_out[prefix + (size_t)i] = base62[random[i] % 62];   /* 248 = 4 * 62: a bias of < 3 % on 6 values */
    checksum_chars(token_out, prefix + TOKEN_RANDOM_CHARS, token_out + prefix + TOKEN_RANDOM_CHARS);
    token_out[LEDGER_TOKEN_LENGTH] = '\0';
    char hex[65];
    if (token_hash(ledger, token_out, hex) < 0)
        return pr_error_set(err, -EIO, "HMAC-SHA256 failed");
    int64_t now = ledger_now(ledger);
    json_t *row = json_pack("{s:s?, s:s, s:s, s:I, s:o, s:n}", "name", name, "role", ledger_role_name(role), "hash", hex,
                            "created", (json_int_t)now, "expires",
                            expires_days ? json_integer((json_int_t)(now + (int64_t)expires_days * 86400)) : json_null(),
                            "last_used");
    if (host)
        json_object_set_new(row, "host", json_string(host));
    struct ledger_txn txn;
    struct ledger_error lerr = { 0 };
    int r = ledger_txn_begin(ledger, true, &txn, &lerr);
    int64_t id = 0;
    if (r == 0) {
        if (ledger->backend->insert(txn.conn, STORE_TOKENS, row, &id, err) < 0)
            r = -1;
        struct ledger_actor cli = { .name = "portreg serve token create" };
        json_t *shown = json_deep_copy(row);
        json_object_del(shown, "hash");
        if (r == 0)
            r = ledger_event(&txn, &cli, "token.created", "tokens", id, NULL, shown, &lerr);
        json_decref(shown);
        r = ledger_txn_end(&txn, r, &lerr);
    }
    if (r < 0) {
        if (lerr.message[0])
            pr_error_set(err, -EIO, "%s", lerr.message);
        ledger_error_clear(&lerr);
        json_decref(row);
        return err->code ? err->code : -EIO;
    }
    json_object_del(row, "hash");
    *row_out = row;
    return 0;
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct token_cache_entry *token_cache_slot(struct ledger *ledger, const char hex[65])
{
    /* the hash is HMAC output: its first hex digits are as good as any hash of it */
    unsigned index = 0;
    for (int i = 0; i < 4; i++)
        index = index * 16 + (unsigned)(hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
    return &ledger->token_cache[index % LEDGER_TOKEN_CACHE_SLOTS];
}

/* 1: actor filled from a fresh cache entry whose last_used needs no update; 0: ask the store. */
static int token_cache_lookup(struct ledger *ledger, const char hex[65], int64_t now, struct ledger_actor *actor,
                              int64_t *expires)
{
    int found = 0;
    pthread_mutex_lock(&ledger->token_cache_lock);
    const struct token_cache_entry *e = token_cache_slot(ledger, hex);
    if (strcmp(e->hash, hex) == 0 && monotonic_ms() - e->read_ms < LEDGER_TOKEN_CACHE_MS &&
        e->last_used + TOKEN_LAST_USED_GRANULARITY > now) {
        snprintf(actor->name, sizeof actor->name, "%s", e->name);
        actor->role = e->role;
        snprintf(actor->host, sizeof actor->host, "%s", e->host);
        actor->token_id = e->id;
        *expires = e->expires;
        found = 1;
    }
    pthread_mutex_unlock(&ledger->token_cache_lock);
    return found;
}

static void token_cache_store(struct ledger *ledger, const char hex[65], const struct ledger_actor *actor,
                              int64_t expires, int64_t last_used, int64_t read_ms)
{
    pthread_mutex_lock(&ledger->token_cache_lock);
    struct token_cache_entry *e = token_cache_slot(ledger, hex);
    memcpy(e->hash, hex, 65);
    snprintf(e->name, sizeof e->name, "%s", actor->name);
    e->role = actor->role;
    snprintf(e->host, sizeof e->host, "%s", actor->host);
    e->id = actor->token_id;
    e->expires = expires;
    e->last_used = last_used;
    e->read_ms = read_ms;
    pthread_mutex_unlock(&ledger->token_cache_lock);
}

int ledger_token_authenticate(struct ledger *ledger, const char *token, struct ledger_actor *actor,
                              struct ledger_error *lerr)
{
    if (!ledger_token_well_formed(token))
        return ledger_fail(lerr, LEDGER_UNAUTHORIZED, "bad-token", "", "the token is not a portreg token");
    char hex[65];
    if (token_hash(ledger, token, hex) < 0)
        return ledger_fail(lerr, LEDGER_INTERNAL, "hmac", "", "HMAC-SHA256 failed");
    int64_t now = ledger_now(ledger), expires_at = -1;
    if (token_cache_lookup(ledger, hex, now, actor, &expires_at)) {
        if (expires_at >= 0 && expires_at <= now)
            return ledger_fail(lerr, LEDGER_UNAUTHORIZED, "expired-token", "", "the token has expired");
        return 0;
    }
    int64_t read_ms = monotonic_ms();
    struct ledger_txn txn;
    if (ledger_txn_begin(ledger, false, &txn, lerr) < 0)
        return -1;
    json_t *row = NULL;
    int r = ledger_txn_find(&txn, STORE_TOKENS, "hash", hex, &row, lerr);
    r = ledger_txn_end(&txn, r, lerr);
    if (r < 0)
        return -1;
    if (!row)
        return ledger_fail(lerr, LEDGER_UNAUTHORIZED, "unknown-token", "", "the token is not known to this server");
    json_t *expires = json_object_get(row, "expires");
    if (json_is_integer(expires) && json_integer_value(expires) <= now) {
        json_decref(row);
        return ledger_fail(lerr, LEDGER_UNAUTHORIZED, "expired-token", "", "the token has expired");
    }
    snprintf(actor->name, sizeof actor->name, "%s", store_row_text(row, "name") ? store_row_text(row, "name") : "token");
    actor->role = ledger_role_parse(store_row_text(row, "role"));
    snprintf(actor->host, sizeof actor->host, "%s", store_row_text(row, "host") ? store_row_text(row, "host") : "");
    actor->token_id = store_row_int(row, "id", 0);
    int64_t last_used = store_row_int(row, "last_used", 0);
    /* many clients of one token start at once: the first records the use, the rest see it */
    pthread_mutex_lock(&ledger->token_cache_lock);
    const struct token_cache_entry *seen = token_cache_slot(ledger, hex);
    if (strcmp(seen->hash, hex) == 0 && seen->last_used > last_used)
        last_used = seen->last_used;
    pthread_mutex_unlock(&ledger->token_cache_lock);
    if (last_used + TOKEN_LAST_USED_GRANULARITY <= now &&
        ledger_txn_begin(ledger, true, &txn, lerr) == 0) {
        json_object_set_new(row, "last_used", json_integer((json_int_t)now));
        struct pr_error err;
        pr_error_clear(&err);
        int u = ledger->backend->update(txn.conn, STORE_TOKENS, actor->token_id, row, &err);
        if (ledger_txn_end(&txn, u < 0 ? -1 : 0, lerr) == 0)
            last_used = now;
        ledger_error_clear(lerr);   /* a failed last_used update does not refuse the request */
    }
    token_cache_store(ledger, hex, actor, json_is_integer(expires) ? (int64_t)json_integer_value(expires) : -1,
                      last_used, read_ms);
    json_decref(row);
    return 0;
}

int ledger_secret_load(const char *state_dir, uint8_t secret[32], struct pr_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/serve.secret", state_dir);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        uint8_t fresh[32];
        if (random_bytes(fresh, sizeof fresh) < 0)
            return pr_error_set(err, -EIO, "getrandom failed");
        int wfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (wfd >= 0) {
            bool ok = write(wfd, fresh, sizeof fresh) == (ssize_t)sizeof fresh && fsync(wfd) == 0;
            close(wfd);
            if (!ok) {
                unlink(path);
                return pr_error_set(err, -EIO, "%s: cannot write the server secret", path);
            }
        } else if (errno != EEXIST) {
            return pr_error_set(err, -errno, "%s: %s", path, strerror(errno));
        }
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0)
        return pr_error_set(err, -errno, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) || st.st_uid != geteuid()) {
        close(fd);
        return pr_error_set(err, -EPERM, "%s: the server secret must be a regular file of this user, mode 0600", path);
    }
    ssize_t n = read(fd, secret, 32);
    close(fd);
    if (n != 32)
        return pr_error_set(err, -EIO, "%s: the server secret must be 32 bytes", path);
    return 0;
}
