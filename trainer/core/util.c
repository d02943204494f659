/*
 * util.c — error values, checked allocation, crash-safe file writes.
 */
#define _POSIX_C_SOURCE 200809L
#include "util.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int err_set(Err *e, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int err_prefix(Err *e, const char *fmt, ...) {
    if (e) {
        char joined[2 * ERR_MSG_MAX + 2];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(joined, ERR_MSG_MAX, fmt, ap);
        va_end(ap);
        if (n < 0) n = 0;
        if (n > ERR_MSG_MAX - 1) n = ERR_MSG_MAX - 1;
        joined[n] = ':';
        joined[n + 1] = ' ';
        memcpy(joined + n + 2, e->msg, ERR_MSG_MAX - 1);
        joined[n + 2 + ERR_MSG_MAX - 1] = '\0';
        memcpy(e->msg, joined, ERR_MSG_MAX - 1); /* keeps the head if too long */
        e->msg[ERR_MSG_MAX - 1] = '\0';
    }
    return -1;
}

void fatal(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("imprint: fatal: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    exit(1);
}

void *xmalloc(size_t bytes, const char *what) {
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded == 0) rounded = 64;
    void *p = aligned_alloc(64, rounded);
    if (!p) fatal("out of memory allocating %zu bytes for %s", bytes, what);
    memset(p, 0, rounded);
    return p;
}

void xfree(void *p) {
    free(p);
}

void *xrealloc(void *p, size_t bytes, const char *what) {
    void *q = realloc(p, bytes ? bytes : 1);
    if (!q) fatal("out of memory growing %s to %zu bytes", what, bytes);
    return q;
}

/* ---- files ---------------------------------------------------------------------------- */

char *file_read_all(const char *path, size_t *len, Err *e) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        err_set(e, "%s: cannot open: %s; check the path", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        err_set(e, "%s: not a regular file (a directory?); give the path of a file", path);
        return NULL;
    }
    if (fseeko(fp, 0, SEEK_END) != 0) {
        fclose(fp);
        err_set(e, "%s: cannot seek: %s", path, strerror(errno));
        return NULL;
    }
    off_t size = ftello(fp);
    if (size < 0 || fseeko(fp, 0, SEEK_SET) != 0) {
        fclose(fp);
        err_set(e, "%s: cannot determine size: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc((size_t)size + 1);
    if (!buf) {
        fclose(fp);
        err_set(e, "%s: out of memory reading %lld bytes", path, (long long)size);
        return NULL;
    }
    size_t got = fread(buf, 1, (size_t)size, fp);
    fclose(fp);
    if (got != (size_t)size) {
        free(buf);
        err_set(e, "%s: short read (%zu of %lld bytes)", path, got, (long long)size);
        return NULL;
    }
    buf[size] = '\0';
    if (len) *len = (size_t)size;
    return buf;
}

int fsync_dir(const char *dir, Err *e) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return err_set(e, "%s: cannot open directory: %s", dir, strerror(errno));
    int rc = fsync(fd);
    close(fd);
    if (rc != 0 && errno != EINVAL) /* some filesystems refuse fsync on directories */
        return err_set(e, "%s: fsync failed: %s", dir, strerror(errno));
    return 0;
}

int atomic_open(AtomicFile *af, const char *path, Err *e) {
    memset(af, 0, sizeof *af);
    if (strlen(path) >= sizeof af->path) return err_set(e, "%s: path too long", path);
    snprintf(af->path, sizeof af->path, "%s", path);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    af->fp = fopen(af->tmp, "wb");
    if (!af->fp)
        return err_set(e, "%s: cannot create: %s; check that the directory exists and is writable",
                       af->tmp, strerror(errno));
    return 0;
}

void atomic_abort(AtomicFile *af) {
    if (af->fp) fclose(af->fp);
    af->fp = NULL;
    if (af->tmp[0]) unlink(af->tmp);
}

int atomic_commit(AtomicFile *af, Err *e) {
    if (!af->fp) return err_set(e, "%s: atomic file not open", af->path);
    int bad = ferror(af->fp) || fflush(af->fp) != 0 || fsync(fileno(af->fp)) != 0;
    int saved = errno;
    if (fclose(af->fp) != 0) bad = 1;
    af->fp = NULL;
    if (bad) {
        unlink(af->tmp);
        return err_set(e, "%s: write failed: %s; check free disk space", af->path, strerror(saved));
    }
    if (rename(af->tmp, af->path) != 0) {
        saved = errno;
        unlink(af->tmp);
        return err_set(e, "%s: rename from temp file failed: %s", af->path, strerror(saved));
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", af->path);
    return fsync_dir(dirname(dir), e);
}

int file_write_atomic(const char *path, const void *data, size_t n, Err *e) {
    AtomicFile af;
    if (atomic_open(&af, path, e) != 0) return -1;
    if (n && fwrite(data, 1, n, af.fp) != n) {
        atomic_abort(&af);
        return err_set(e, "%s: write failed: %s", path, strerror(errno));
    }
    return atomic_commit(&af, e);
}

int mkdir_p(const char *path, Err *e) {
    char buf[4096];
    if (strlen(path) >= sizeof buf) return err_set(e, "%s: path too long", path);
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return err_set(e, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return err_set(e, "%s: cannot create directory: %s", buf, strerror(errno));
    return 0;
}

int path_join(char *out, size_t cap, Err *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap)
        return err_set(e,
                       "%.200s...: a path of %d bytes is longer than the %zu this build allows; "
                       "use a shorter run.dir or model path",
                       out, n, cap - 1);
    return 0;
}

cJSON *json_read_file(const char *path, Err *e) {
    size_t n = 0;
    char *text = file_read_all(path, &n, e);
    if (!text) return NULL;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, n, &end, 0);
    if (!j) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        err_set(e, "%s: byte %zu: not valid JSON; check the file or write it again", path, at);
    }
    free(text);
    return j;
}

/* ---- small helpers -------------------------------------------------------------------- */

int levenshtein(const void *a, size_t na, const void *b, size_t nb, size_t elem) {
    const unsigned char *pa = a, *pb = b;
    int small[256];
    int *row = nb < 256 ? small : xmalloc(sizeof(int) * (nb + 1), "edit distance row");
    for (size_t j = 0; j <= nb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int up = row[j];
            int best = diag + (memcmp(pa + (i - 1) * elem, pb + (j - 1) * elem, elem) != 0);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    int d = row[nb];
    if (row != small) xfree(row);
    return d;
}

int edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 255 || lb > 255) return 1 << 20;
    return levenshtein(a, la, b, lb, 1);
}

uint64_t hash_fnv1a64(const void *data, size_t n, uint64_t h) {
    const unsigned char *p = data;
    if (h == 0) h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
