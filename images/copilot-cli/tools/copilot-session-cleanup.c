/*
 * copilot-session-cleanup: deletes Copilot CLI sessions whose last modification is older than a TTL,
 * through the server's own JSON-RPC API (`session.list`, `session.delete`, what the SDK's
 * listSessions()/deleteSession() send), never by removing session folders behind the server's back.
 *
 * Why it inspects lock files itself (measured with CLI 1.0.102, see README.md "Session cleanup"):
 * a server opening a session for a turn writes <state>/<id>/inuse.<pid>.lock ("<pid>\n") and
 * inuse.<pid>.hold (empty, kept open with an exclusive flock). session.delete refuses only when the
 * lock's pid is alive AND someone holds the .hold flock; it deletes straight through a lock that names
 * its OWN pid, even while another process holds that flock. In containers every replica's CLI has the
 * same small pid, so a server would delete a session open on another replica. So before asking for a
 * delete this tool looks at the session's in-use lock files under --state-dir and keeps the session
 * when any .hold flock is held (a live process on this kernel has it open) or when any lock file is
 * younger than the TTL (a holder we cannot see: another node, SMB without byte-range locks). Only when
 * every lock file is older than the TTL and none is held is the lock stale (a replica was killed while
 * the session was open): the lock files are removed and the session deleted. A stale lock therefore
 * costs at most one more TTL; deleting a session a live client holds costs that client its session.
 *
 * Usage: copilot-session-cleanup --endpoint HOST:PORT --ttl-hours N [--state-dir DIR] [--dry-run]
 *                                [--interval SECONDS] [--timeout-ms N]
 * Token: env COPILOT_CONNECTION_TOKEN (never argv: argv is visible to every process on the host).
 * Output: one JSON line per action and one {"event":"cleanup.summary",...} line per run, on stdout.
 * Exit (one-shot): 0 ran, no errors; 1 ran, some sessions failed; 2 usage; 3 could not connect or the
 * server answered garbage; 4 authentication refused. Loop mode logs failed runs and keeps going;
 * SIGTERM/SIGINT finish the current run and exit 0.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rpc.h"

enum { EXIT_RAN = 0, EXIT_SESSION_ERRORS = 1, EXIT_USAGE = 2, EXIT_CONNECT = 3, EXIT_AUTH = 4 };

#define MAX_ID 128
#define MAX_LOCK_FILES 64

static volatile sig_atomic_t stop_requested;

typedef struct {
    char host[256], port[8];
    const char *endpoint, *state_dir, *token;
    long ttl_hours, interval_s, timeout_ms;
    int dry_run;
} options;

typedef struct {
    long listed, fresh, expired, deleted, would_delete, in_use, stale_locks_removed, errors;
} counts;

static void usage_exit(const char *fmt, ...) {
    va_list ap;
    fputs("copilot-session-cleanup: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nusage: copilot-session-cleanup --endpoint HOST:PORT --ttl-hours N [--state-dir DIR] [--dry-run]\n"
          "                               [--interval SECONDS] [--timeout-ms N]\n"
          "token: env COPILOT_CONNECTION_TOKEN\n",
          stderr);
    exit(EXIT_USAGE);
}

static long parse_long(const char *flag, const char *s, long lo, long hi) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        usage_exit("%s: \"%s\" is not accepted; use an integer from %ld to %ld", flag, s, lo, hi);
    return v;
}

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Prints one JSON log line: `fields` is a ready JSON member list (may be empty), strings via json_quote. */
static void log_line(const char *event, const char *fields) {
    char ts[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("{\"ts\":\"%s\",\"event\":\"%s\"%s%s}\n", ts, event, *fields ? "," : "", fields);
    fflush(stdout);
}

static void log_session(const char *action, const char *id, double age_h, const char *reason) {
    char *qid = json_quote(id), *qr = json_quote(reason ? reason : "");
    char *fields = NULL;
    if (qid && qr &&
        asprintf(&fields, "\"action\":\"%s\",\"session_id\":%s,\"age_hours\":%.2f%s%s", action, qid, age_h,
                 reason ? ",\"reason\":" : "", reason ? qr : "") >= 0) {
        log_line("cleanup.session", fields);
    }
    free(fields);
    free(qid);
    free(qr);
}

static void log_error(const char *stage, const char *message) {
    char *q = json_quote(message), *fields = NULL;
    if (q && asprintf(&fields, "\"stage\":\"%s\",\"error\":%s", stage, q) >= 0) log_line("cleanup.error", fields);
    free(fields);
    free(q);
}

/* "2026-11-22T09:08:19.192Z" (or +hh:mm offset) -> seconds since the epoch; -1 when malformed. */
static double parse_iso8601(const char *s) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 || n != 19)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    double frac = 0;
    const char *p = s + 19;
    if (*p == '.') {
        double scale = 0.1;
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10) frac += (*p - '0') * scale;
    }
    long offset = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh = 0, om = 0, k = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &k) != 2 || k != 5) return -1;
        offset = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p != '\0') return -1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1) return -1;
    return (double)t + frac - (double)offset;
}

/* Session ids become path components under --state-dir: accept only what the CLI makes (UUIDs). */
static int safe_id(const char *id) {
    size_t n = strlen(id);
    if (n == 0 || n >= MAX_ID || id[0] == '.') return 0;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_')) return 0;
    return 1;
}

/* inuse.<digits>.lock / inuse.<digits>.hold: the only files this tool ever removes. */
static int is_inuse_lock_name(const char *name) {
    if (strncmp(name, "inuse.", 6) != 0) return 0;
    const char *p = name + 6, *digits = p;
    while (*p >= '0' && *p <= '9') p++;
    if (p == digits || p - digits > 10) return 0;
    return strcmp(p, ".lock") == 0 || strcmp(p, ".hold") == 0;
}

typedef enum { LOCKS_NONE, LOCKS_HELD, LOCKS_FRESH, LOCKS_STALE, LOCKS_NO_FOLDER, LOCKS_ERROR } lock_verdict;

typedef struct {
    int n;
    char names[MAX_LOCK_FILES][32];
} lock_files;

/* Decides what the session's in-use lock files say (see the header comment for the rule). */
static lock_verdict inspect_locks(const options *o, const char *id, double now, lock_files *lf, char *why, size_t whycap) {
    lf->n = 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", o->state_dir, id);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0) {
        snprintf(why, whycap, "session folder %s under --state-dir: %s", id, strerror(errno));
        return errno == ENOENT ? LOCKS_NO_FOLDER : LOCKS_ERROR;
    }
    DIR *d = fdopendir(dfd);
    if (d == NULL) {
        close(dfd);
        snprintf(why, whycap, "cannot read session folder %s: %s", id, strerror(errno));
        return LOCKS_ERROR;
    }
    double newest = 0;
    int held = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_inuse_lock_name(e->d_name)) continue;
        if (lf->n >= MAX_LOCK_FILES) {
            closedir(d);
            snprintf(why, whycap, "more than %d in-use lock files", MAX_LOCK_FILES);
            return LOCKS_ERROR;
        }
        struct stat st;
        if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
        /* is_inuse_lock_name() bounds the name to 21 bytes. */
        memcpy(lf->names[lf->n], e->d_name, strlen(e->d_name) + 1);
        lf->n++;
        double m = (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9;
        if (m > newest) newest = m;
        /* The CLI holds an exclusive flock on .hold while the session is open; probing takes it for
         * microseconds and only on a session already past its TTL. */
        int fd = openat(dfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd >= 0) {
            if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
                if (errno == EWOULDBLOCK) held = 1;
            } else {
                flock(fd, LOCK_UN);
            }
            close(fd);
        }
    }
    closedir(d);
    if (lf->n == 0) return LOCKS_NONE;
    if (held) {
        snprintf(why, whycap, "in-use lock held by a live process");
        return LOCKS_HELD;
    }
    double age_h = (now - newest) / 3600.0;
    if (age_h < (double)o->ttl_hours) {
        snprintf(why, whycap, "in-use lock %.2f h old, younger than the ttl (holder may be on another host)", age_h);
        return LOCKS_FRESH;
    }
    snprintf(why, whycap, "in-use lock %.2f h old and not held", age_h);
    return LOCKS_STALE;
}

static int remove_locks(const options *o, const char *id, const lock_files *lf, char *why, size_t whycap) {
    for (int i = 0; i < lf->n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s/%s", o->state_dir, id, lf->names[i]);
        if (unlink(path) != 0 && errno != ENOENT) {
            snprintf(why, whycap, "cannot remove %s/%s: %s", id, lf->names[i], strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* 0 deleted; 1 the server says it is in use; -1 error (message in why). */
static int delete_session(rpc_conn *c, const options *o, const char *id, char *why, size_t whycap) {
    char *q = json_quote(id), *params = NULL;
    if (q == NULL || asprintf(&params, "{\"sessionId\":%s}", q) < 0) {
        free(q);
        snprintf(why, whycap, "out of memory");
        return -1;
    }
    free(q);
    rpc_response r;
    rpc_set_timeout(c, o->timeout_ms);
    int rc = rpc_call(c, "session.delete", params, "waiting for the session.delete answer", &r);
    free(params);
    if (rc != 0) {
        snprintf(why, whycap, "%s", c->err);
        return -2; /* the connection is gone: stop this run */
    }
    int out = -1;
    if (r.error >= 0) {
        snprintf(why, whycap, "session.delete refused: %s", r.error_message);
    } else if (json_is(&r.doc, json_get(&r.doc, r.result, "success"), "true")) {
        out = 0;
    } else {
        char msg[256] = "(no message)";
        json_string(&r.doc, json_get(&r.doc, r.result, "error"), msg, sizeof msg);
        snprintf(why, whycap, "%s", msg);
        out = strstr(msg, "in use") != NULL ? 1 : -1;
    }
    rpc_response_free(&r);
    return out;
}

/* One pass. Returns the one-shot exit code. */
static int run_once(const options *o) {
    long long t0 = rpc_now_ms();
    counts n = {0};
    int code = EXIT_RAN;
    rpc_conn c = {.fd = -1};
    rpc_response list = {0};
    int have_list = 0;
    int refused = 0;
    rpc_set_timeout(&c, o->timeout_ms);
    if (rpc_dial(&c, o->host, o->port) != 0 || rpc_connect_handshake(&c, o->token, &refused) != 0) {
        log_error(refused ? "authenticate" : "connect", c.err);
        code = refused ? EXIT_AUTH : EXIT_CONNECT;
        goto summary;
    }
    rpc_set_timeout(&c, o->timeout_ms);
    if (rpc_call(&c, "session.list", "{}", "waiting for the session.list answer", &list) != 0) {
        log_error("list", c.err);
        code = EXIT_CONNECT;
        goto summary;
    }
    have_list = 1;
    int sessions = json_get(&list.doc, list.result, "sessions");
    if (list.error >= 0 || sessions < 0 || list.doc.toks[sessions].type != JSON_ARRAY) {
        log_error("list", list.error >= 0 ? list.error_message : "session.list answer has no sessions array");
        code = EXIT_CONNECT;
        goto summary;
    }
    double now = wall_now();
    n.listed = list.doc.toks[sessions].size;
    int i = sessions + 1;
    for (int k = 0; k < list.doc.toks[sessions].size; k++, i = list.doc.toks[i].next) {
        /* SIGTERM mid-run: stop between sessions (never inside one) so the summary still goes out
         * well within the platform's grace period. */
        if (stop_requested) break;
        char id[MAX_ID], modified[64], why[1024];
        if (json_string(&list.doc, json_get(&list.doc, i, "sessionId"), id, sizeof id) != 0 || !safe_id(id)) {
            n.errors++;
            log_error("list", "a listed session has no usable sessionId");
            continue;
        }
        double mt = -1;
        if (json_string(&list.doc, json_get(&list.doc, i, "modifiedTime"), modified, sizeof modified) == 0) mt = parse_iso8601(modified);
        if (mt < 0) {
            n.errors++;
            log_session("error", id, 0, "no parseable modifiedTime");
            continue;
        }
        double age_h = (now - mt) / 3600.0;
        if (age_h < (double)o->ttl_hours) {
            n.fresh++;
            continue;
        }
        n.expired++;
        if (o->state_dir != NULL) {
            lock_files lf;
            lock_verdict v = inspect_locks(o, id, now, &lf, why, sizeof why);
            if (v == LOCKS_HELD || v == LOCKS_FRESH) {
                n.in_use++;
                log_session("kept_in_use", id, age_h, why);
                continue;
            }
            if (v == LOCKS_NO_FOLDER || v == LOCKS_ERROR) {
                /* Without the folder the lock check is blind (wrong --state-dir mount?): keep it. */
                n.errors++;
                log_session("error", id, age_h, why);
                continue;
            }
            if (v == LOCKS_STALE) {
                if (o->dry_run) {
                    log_session("would_remove_stale_lock", id, age_h, why);
                } else if (remove_locks(o, id, &lf, why, sizeof why) != 0) {
                    n.errors++;
                    log_session("error", id, age_h, why);
                    continue;
                } else {
                    n.stale_locks_removed++;
                    log_session("removed_stale_lock", id, age_h, why);
                }
            }
        }
        if (o->dry_run) {
            n.would_delete++;
            log_session("would_delete", id, age_h, NULL);
            continue;
        }
        int d = delete_session(&c, o, id, why, sizeof why);
        if (d == 0) {
            n.deleted++;
            log_session("deleted", id, age_h, NULL);
        } else if (d == 1) {
            n.in_use++;
            log_session("kept_in_use", id, age_h, why);
        } else {
            n.errors++;
            log_session("error", id, age_h, why);
            if (d == -2) {
                code = EXIT_CONNECT;
                break;
            }
        }
    }
    if (code == EXIT_RAN && n.errors > 0) code = EXIT_SESSION_ERRORS;

summary:;
    char fields[1024];
    snprintf(fields, sizeof fields,
             "\"ok\":%s,\"exit_code\":%d,\"dry_run\":%s,\"ttl_hours\":%ld,\"listed\":%ld,\"fresh\":%ld,\"expired\":%ld,"
             "\"deleted\":%ld,\"would_delete\":%ld,\"in_use\":%ld,\"stale_locks_removed\":%ld,\"errors\":%ld,\"duration_ms\":%lld",
             code == EXIT_RAN ? "true" : "false", code, o->dry_run ? "true" : "false", o->ttl_hours, n.listed, n.fresh, n.expired,
             n.deleted, n.would_delete, n.in_use, n.stale_locks_removed, n.errors, rpc_now_ms() - t0);
    log_line("cleanup.summary", fields);
    if (have_list) rpc_response_free(&list);
    rpc_close(&c);
    return code;
}

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

int main(int argc, char **argv) {
    options o = {.timeout_ms = 30000, .interval_s = 0, .ttl_hours = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            printf("usage: copilot-session-cleanup --endpoint HOST:PORT --ttl-hours N [--state-dir DIR] [--dry-run]\n"
                   "                               [--interval SECONDS] [--timeout-ms N]\n"
                   "Deletes sessions not modified for N hours through the server's session.list/session.delete.\n"
                   "Token: env COPILOT_CONNECTION_TOKEN. Exit: 0 ok, 1 some sessions failed, 2 usage,\n"
                   "3 could not connect, 4 authentication refused.\n");
            return 0;
        }
        if (strcmp(a, "--dry-run") == 0) {
            o.dry_run = 1;
            continue;
        }
        if (i + 1 >= argc) usage_exit("%s needs a value", a);
        const char *v = argv[++i];
        if (strcmp(a, "--endpoint") == 0) o.endpoint = v;
        else if (strcmp(a, "--ttl-hours") == 0) o.ttl_hours = parse_long(a, v, 1, 24L * 3650);
        else if (strcmp(a, "--state-dir") == 0) o.state_dir = v;
        else if (strcmp(a, "--interval") == 0) o.interval_s = parse_long(a, v, 1, 7L * 24 * 3600);
        else if (strcmp(a, "--timeout-ms") == 0) o.timeout_ms = parse_long(a, v, 100, 600000);
        else usage_exit("unknown argument \"%s\"", a);
    }
    if (o.endpoint == NULL) usage_exit("--endpoint is required");
    if (o.ttl_hours < 0) usage_exit("--ttl-hours is required");
    if (rpc_split_endpoint(o.endpoint, o.host, sizeof o.host, o.port, sizeof o.port) != 0)
        usage_exit("--endpoint: \"%s\" is not accepted; use host:port", o.endpoint);
    if (o.state_dir != NULL) {
        struct stat st;
        if (strlen(o.state_dir) > 3000 || stat(o.state_dir, &st) != 0 || !S_ISDIR(st.st_mode)) usage_exit("--state-dir: \"%s\" is not a directory", o.state_dir);
    }
    o.token = getenv("COPILOT_CONNECTION_TOKEN");
    if (o.token == NULL || *o.token == '\0')
        fputs("copilot-session-cleanup: warning: COPILOT_CONNECTION_TOKEN is not set; connecting without a token\n", stderr);

    if (o.interval_s == 0) return run_once(&o);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: a sleeping poll() returns at once */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    char fields[128];
    snprintf(fields, sizeof fields, "\"interval_s\":%ld,\"ttl_hours\":%ld,\"dry_run\":%s", o.interval_s, o.ttl_hours, o.dry_run ? "true" : "false");
    log_line("cleanup.start", fields);
    while (!stop_requested) {
        run_once(&o);
        long long until = rpc_now_ms() + o.interval_s * 1000LL;
        while (!stop_requested) {
            long long left = until - rpc_now_ms();
            if (left <= 0) break;
            poll(NULL, 0, left > 60000 ? 60000 : (int)left);
        }
    }
    log_line("cleanup.stop", "\"reason\":\"signal\"");
    return 0;
}
