/* leaky: a toy key-value server with two genuine leaks and a slow path.
 *
 * It parses a small built-in configuration, listens on 127.0.0.1 (a free
 * port), starts its own client (this program again, with --client, and
 * PERFSHIM_DISABLE=1 so that only the server is traced), and serves the
 * client's 1000 requests ("SET key value" / "GET key" / "DEL key") over
 * one connection, against a tiny hash table.  Every 25th GET misses the
 * "cache" and waits 2 ms for the "disk" (load_from_disk): the requests'
 * p99 and the off-CPU flame graph show it.  Two bugs leak memory from
 * distinct call sites:
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
 *
 * As a long-running server (`--serve PORT`: connections one after another,
 * until SIGTERM) it is a soak target: the error-path leak grows with every
 * client, `--client PORT` being the load:
 *     perfshim soak --duration 20s --load './build/bin/leaky_demo --client 7379' \
 *         -- ./build/bin/leaky_demo --serve 7379
 */
#include <arpa/inet.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

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

/* The slow path: a "disk read" for a value not in the "cache". */
__attribute__((noinline)) static void load_from_disk(void)
{
    usleep(2000);
}

/* Returns 0 on success; the response is written to RESPONSE (at least
 * RESPONSE_SIZE bytes) and its length to *out_len. */
static int handle_request(const char *request, char *reply, size_t *out_len)
{
    static int gets;
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
        if (++gets % 25 == 0)
            load_from_disk();
        struct entry *e = *find(key);
        snprintf(response, RESPONSE_SIZE, "%s", e ? e->value : "(nil)");
    } else if (strcmp(verb, "DEL") == 0) {
        kv_del(key);
        snprintf(response, RESPONSE_SIZE, "OK");
    } else {
        snprintf(response, RESPONSE_SIZE, "ERR unknown verb");
    }
    *out_len = strlen(response);
    memcpy(reply, response, *out_len + 1);
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

/* Read one '\n'-terminated line from FD into BUF (without the '\n');
 * returns its length, or -1 at the end of the stream. */
static int read_line(int fd, char *buf, size_t size)
{
    size_t n = 0;
    for (;;) {
        char c;
        if (read(fd, &c, 1) != 1)
            return -1;
        if (c == '\n')
            break;
        if (n + 1 < size)
            buf[n++] = c;
    }
    buf[n] = 0;
    return (int)n;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* The client: one connection, NREQUESTS requests, each answered before
 * the next (a line each way). */
static int client(const char *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port)),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return 1;
    char line[RESPONSE_SIZE + 2];
    for (int i = 0; i < NREQUESTS; i++) {
        make_request(i, line, sizeof line - 1);
        strcat(line, "\n");
        write_all(fd, line, strlen(line));
        if (read_line(fd, line, sizeof line) < 0)
            return 1;
    }
    close(fd);
    return 0;
}

/* Start this program again as the client, untraced. */
static pid_t start_client(int port)
{
    char portstr[16], self[4096];
    snprintf(portstr, sizeof portstr, "%d", port);
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = 0;
    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **env = calloc(nenv + 2, sizeof *env);
    for (size_t i = 0; i < nenv; i++)
        env[i] = environ[i];
    env[nenv] = "PERFSHIM_DISABLE=1";
    char *argv[] = {"leaky_demo", "--client", portstr, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, self, NULL, NULL, argv, env);
    free(env);
    return rc == 0 ? pid : -1;
}

/* Answer one connection's requests until the client hangs up. */
static void serve_connection(int fd, int *ok, int *errors, size_t *bytes)
{
    char request[64], reply[RESPONSE_SIZE + 1];
    while (fd >= 0 && read_line(fd, request, sizeof request) >= 0) {
        size_t len = 0;
        if (handle_request(request, reply, &len) == 0) {
            (*ok)++;
            *bytes += len;
        } else {
            (*errors)++;
            strcpy(reply, "ERR");
            len = 3;
        }
        reply[len] = '\n';
        write_all(fd, reply, len + 1);
    }
}

/* --serve PORT: serve on 127.0.0.1:PORT until killed. */
static int serve_forever(const char *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port)),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd >= 0)
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 16) != 0) {
        perror("leaky: listen on 127.0.0.1");
        return 1;
    }
    struct setting *config = parse_config(config_text);
    (void)config;
    int ok = 0, errors = 0;
    size_t bytes = 0;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        serve_connection(fd, &ok, &errors, &bytes);
        close(fd);
    }
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--client") == 0)
        return client(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--serve") == 0)
        return serve_forever(argv[2]);

    struct setting *config = parse_config(config_text);
    int settings = 0;
    for (struct setting *s = config; s; s = s->next)
        settings++;

    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 1) != 0 ||
        getsockname(lfd, (struct sockaddr *)&a, &alen) != 0) {
        perror("leaky: listen on 127.0.0.1");
        return 1;
    }
    pid_t child = start_client(ntohs(a.sin_port));
    if (child < 0) {
        perror("leaky: start the client");
        return 1;
    }
    int fd = accept(lfd, NULL, NULL);
    close(lfd);

    int ok = 0, errors = 0;
    size_t bytes = 0;
    serve_connection(fd, &ok, &errors, &bytes);
    if (fd >= 0)
        close(fd);
    int status = 0;
    waitpid(child, &status, 0);
    kv_clear();
    printf("leaky: %d settings, %d requests ok, %d errors, %zu response bytes\n",
           settings, ok, errors, bytes);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
