/* leaky: a toy key-value "request handler" with two genuine leaks.
 *
 * It parses a small built-in configuration, then handles 1000 fake
 * requests ("SET key value" / "GET key" / "DEL key") against a tiny hash
 * table.  Two bugs leak memory from distinct call sites:
 *
 *   1. parse_config() builds a list of settings that nobody ever frees
 *      (5 entries: the list nodes and their strdup'ed keys and values).
 *   2. handle_request() allocates a response buffer and forgets to free it
 *      on the error path taken by every 10th (malformed) request:
 *      100 blocks of RESPONSE_SIZE bytes.
 *
 * Everything else (request copies, table entries, normal responses) is
 * freed.  Try:
 *     perfshim record -- ./build/bin/leaky_demo
 *     perfshim report perfshim.*.trace
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESPONSE_SIZE 256
#define TABLE_SIZE 64
#define NREQUESTS 1000

struct setting {
    char *key;
    char *value;
    struct setting *next;
};

struct entry {
    char *key;
    char *value;
    struct entry *next;
};

static struct entry *table[TABLE_SIZE];

static const char config_text[] =
    "listen = 127.0.0.1:7000\n"
    "max_clients = 128\n"
    "# a comment\n"
    "timeout_ms = 2500\n"
    "log_level = info\n"
    "data_dir = /var/lib/leaky\n";

static char *trim(char *s)
{
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* Bug 1: the returned list is never freed. */
static struct setting *parse_config(const char *text)
{
    struct setting *head = NULL, **tail = &head;
    char *copy = strdup(text);
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#')
            continue;
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        struct setting *s = malloc(sizeof *s);
        s->key = strdup(trim(line));
        s->value = strdup(trim(eq + 1));
        s->next = NULL;
        *tail = s;
        tail = &s->next;
    }
    free(copy);
    return head;
}

static unsigned hash(const char *s)
{
    unsigned h = 5381;
    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h % TABLE_SIZE;
}

static struct entry **find(const char *key)
{
    struct entry **e = &table[hash(key)];
    while (*e && strcmp((*e)->key, key) != 0)
        e = &(*e)->next;
    return e;
}

static void kv_set(const char *key, const char *value)
{
    struct entry **e = find(key);
    if (*e) {
        free((*e)->value);
        (*e)->value = strdup(value);
        return;
    }
    struct entry *n = malloc(sizeof *n);
    n->key = strdup(key);
    n->value = strdup(value);
    n->next = NULL;
    *e = n;
}

static void kv_del(const char *key)
{
    struct entry **e = find(key);
    if (*e) {
        struct entry *dead = *e;
        *e = dead->next;
        free(dead->key);
        free(dead->value);
        free(dead);
    }
}

static void kv_clear(void)
{
    for (int i = 0; i < TABLE_SIZE; i++)
        while (table[i])
            kv_del(table[i]->key);
}

/* Returns 0 on success; the response is written to *out. */
static int handle_request(const char *request, size_t *out_len)
{
    char *response = malloc(RESPONSE_SIZE);
    char *req = strdup(request);
    char *save = NULL;
    char *verb = strtok_r(req, " ", &save);
    char *key = strtok_r(NULL, " ", &save);
    char *value = strtok_r(NULL, " ", &save);
    if (!verb || !key) {
        free(req);
        return -1; /* Bug 2: response leaks on this error path */
    }
    if (strcmp(verb, "SET") == 0 && value) {
        kv_set(key, value);
        snprintf(response, RESPONSE_SIZE, "OK");
    } else if (strcmp(verb, "GET") == 0) {
        struct entry *e = *find(key);
        snprintf(response, RESPONSE_SIZE, "%s", e ? e->value : "(nil)");
    } else if (strcmp(verb, "DEL") == 0) {
        kv_del(key);
        snprintf(response, RESPONSE_SIZE, "OK");
    } else {
        snprintf(response, RESPONSE_SIZE, "ERR unknown verb");
    }
    *out_len = strlen(response);
    free(req);
    free(response);
    return 0;
}

static void make_request(int i, char *buf, size_t len)
{
    if (i % 10 == 0)
        snprintf(buf, len, "BROKEN");
    else if (i % 3 == 0)
        snprintf(buf, len, "GET key%d", i % 50);
    else if (i % 7 == 0)
        snprintf(buf, len, "DEL key%d", i % 50);
    else
        snprintf(buf, len, "SET key%d value-%d", i % 50, i);
}

int main(void)
{
    struct setting *config = parse_config(config_text);
    int settings = 0;
    for (struct setting *s = config; s; s = s->next)
        settings++;

    int ok = 0, errors = 0;
    size_t bytes = 0;
    char request[64];
    for (int i = 0; i < NREQUESTS; i++) {
        size_t len = 0;
        make_request(i, request, sizeof request);
        if (handle_request(request, &len) == 0) {
            ok++;
            bytes += len;
        } else {
            errors++;
        }
    }
    kv_clear();
    printf("leaky: %d settings, %d requests ok, %d errors, %zu response bytes\n",
           settings, ok, errors, bytes);
    return 0;
}
