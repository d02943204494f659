/*
 * tokenizer_files.c — the tokenizer's two files: reading vocab.json and merges.txt (with
 * messages that name the file, line and byte) and writing both as Hugging Face does.
 */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tokenizer_internal.h"
#include "utf8.h"

/* ---- loading ------------------------------------------------------------------------------ */

static int line_of(const char *buf, size_t off) {
    int line = 1;
    for (size_t i = 0; i < off; i++) line += buf[i] == '\n';
    return line;
}

/* ---- vocab.json ------------------------------------------------------------------------------
 *
 * cJSON parses vocab.json. What it does not do is done here on the raw text, by a walk over the
 * object cJSON has accepted (vocab_walk_*), which keeps in step with cJSON's items:
 *  - positions: cJSON's items carry no byte offsets, and its parse errors only a position, so
 *    the walk finds where each key and id starts, for messages "file:line: byte N: ...";
 *  - strictness cJSON lacks: it accepts raw control characters in strings and any byte <= 0x20
 *    between tokens, copies invalid UTF-8 through, and cuts a string at an escaped \u0000 (its
 *    strings are NUL-terminated: "a\u0000b" would load as the token "a"); the walk refuses them;
 *  - the text of an id: cJSON reads 1e2, 1.0 or 99999999999 as doubles; an id must be written
 *    as decimal digits and fit in 31 bits.
 * A syntax error is reported at the byte where cJSON stopped.
 */

typedef struct {
    char *str; /* the token as cJSON decoded it */
    uint32_t len;
    int32_t id;
    size_t off; /* where its key starts in the file */
} VocabEntry;

/* The raw text of vocab.json and the walk's position in it. */
typedef struct {
    const char *path, *p;
    size_t n, i;
    Err *e;
} VocabText;

static int vocab_err(const VocabText *v, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int vocab_err(const VocabText *v, size_t at, const char *fmt, ...) {
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(v->e, "%s:%d: byte %zu: %s", v->path, line_of(v->p, at), at, msg);
}

static void vocab_skip_ws(VocabText *v) {
    while (v->i < v->n &&
           (v->p[v->i] == ' ' || v->p[v->i] == '\t' || v->p[v->i] == '\n' || v->p[v->i] == '\r'))
        v->i++;
}

/* Skips JSON whitespace and the character c. */
static int vocab_walk_char(VocabText *v, char c) {
    vocab_skip_ws(v);
    if (v->i < v->n && v->p[v->i] == c) {
        v->i++;
        return 0;
    }
    if (v->i < v->n && (unsigned char)v->p[v->i] < 0x20)
        return vocab_err(v, v->i,
                         "control character 0x%02X between tokens; JSON allows only spaces, tabs "
                         "and line breaks there",
                         (unsigned char)v->p[v->i]);
    return vocab_err(v, v->i, "expected '%c'; fix the JSON syntax", c); /* not after cJSON */
}

/* Steps over the string at v->i (its '"'), which cJSON has decoded, refusing what cJSON lets
 * through. */
static int vocab_walk_string(VocabText *v) {
    if (vocab_walk_char(v, '"')) return -1;
    while (v->i < v->n) {
        unsigned char c = (unsigned char)v->p[v->i];
        if (c == '"') {
            v->i++;
            return 0;
        }
        if (c < 0x20)
            return vocab_err(
                v, v->i, "raw control character 0x%02X in a string; write it as \\u00%02x", c, c);
        if (c == '\\') {
            int u = v->i + 1 < v->n && v->p[v->i + 1] == 'u';
            if (u && v->i + 6 <= v->n && memcmp(v->p + v->i + 2, "0000", 4) == 0)
                return vocab_err(v, v->i, "\\u0000 in a string; tokens cannot contain NUL");
            v->i += u ? 6 : 2; /* cJSON checked the escape */
            continue;
        }
        int l = utf8_seq_len((const unsigned char *)v->p + v->i, v->n - v->i);
        if (!l) return vocab_err(v, v->i, "invalid UTF-8 byte 0x%02X; save the file as UTF-8", c);
        v->i += (size_t)l;
    }
    return vocab_err(v, v->n, "unterminated string; close it with '\"'");
}

/* Steps over the id of token item->string at v->i into *id. */
static int vocab_walk_id(VocabText *v, const cJSON *item, int32_t *id) {
    char shown[96];
    quote_for_message(shown, sizeof shown, item->string, strlen(item->string));
    vocab_skip_ws(v);
    size_t at = v->i;
    if (at < v->n && v->p[at] == '-')
        return vocab_err(v, at, "token \"%s\" has a negative id; ids must be 0..N-1", shown);
    if (!cJSON_IsNumber(item) || at >= v->n || v->p[at] < '0' || v->p[at] > '9')
        return vocab_err(
            v, at, "token \"%s\": id must be a non-negative integer; ids must be 0..N-1", shown);
    long long x = 0;
    for (; v->i < v->n && v->p[v->i] >= '0' && v->p[v->i] <= '9'; v->i++) {
        x = x * 10 + (v->p[v->i] - '0');
        if (x > INT32_MAX)
            return vocab_err(v, at, "token \"%s\": id is too large; ids must be 0..N-1", shown);
    }
    if (v->i < v->n && (v->p[v->i] == '.' || v->p[v->i] == 'e' || v->p[v->i] == 'E'))
        return vocab_err(
            v, at, "token \"%s\": id must be a non-negative integer; ids must be 0..N-1", shown);
    *id = (int32_t)x;
    return 0;
}

/* Reads {"token": id, ...} into entries (file order). */
static int vocab_read_entries(VocabText *v, VocabEntry **out, size_t *n_out) {
    vocab_skip_ws(v);
    if (v->i >= v->n || v->p[v->i] != '{')
        return vocab_err(v, v->i,
                         "expected '{': vocab.json must be a JSON object {\"token\": id, ...}");
    const char *end = NULL;
    /* n + 1: the NUL file_read_all adds ends the text, so cJSON reports an early end as byte n */
    cJSON *root = cJSON_ParseWithLengthOpts(v->p, v->n + 1, &end, 0);
    if (!root) {
        size_t at = end && end >= v->p ? (size_t)(end - v->p) : 0;
        if (at > v->n) at = v->n;
        size_t before = at; /* the last byte before at that is not whitespace */
        while (before > 0 && strchr(" \t\n\r", v->p[before - 1])) before--;
        /* cJSON stops on the backslash of a bad escape (a backslash after these is no escape) */
        if (at < v->n && v->p[at] == '\\' && before > 0 && !strchr(":,[{", v->p[before - 1])) {
            char esc[32];
            quote_for_message(esc, sizeof esc, v->p + at, v->n - at < 6 ? v->n - at : 6);
            return vocab_err(v, at,
                             "invalid escape \"%s\"; JSON allows \\\" \\\\ \\/ \\b \\f \\n \\r "
                             "\\t and \\u with 4 hex digits (two, a surrogate pair, above "
                             "U+FFFF; never \\u0000)",
                             esc);
        }
        /* cJSON's position can be one byte past the fault: show a little before it too */
        size_t from = at > 12 ? at - 12 : 0;
        while (from > 0 && from < at && ((unsigned char)v->p[from] & 0xC0) == 0x80) from--;
        char near[96];
        quote_for_message(near, sizeof near, v->p + from, v->n - from < 36 ? v->n - from : 36);
        return vocab_err(v, at,
                         "not valid JSON near \"%s\"; fix the JSON syntax (vocab.json is one "
                         "object {\"token\": id, ...})",
                         near);
    }
    v->i = (size_t)(end - v->p);
    vocab_skip_ws(v);
    if (v->i < v->n) {
        cJSON_Delete(root);
        return vocab_err(v, v->i, "unexpected data after the closing '}'; remove it");
    }
    size_t n = (size_t)cJSON_GetArraySize(root), k = 0;
    VocabEntry *e = xmalloc((n + 1) * sizeof *e, "the vocab");
    v->i = 0;
    int rc = vocab_walk_char(v, '{');
    for (const cJSON *item = root->child; item && rc == 0; item = item->next, k++) {
        vocab_skip_ws(v);
        e[k].off = v->i;
        if (vocab_walk_string(v) || vocab_walk_char(v, ':') || vocab_walk_id(v, item, &e[k].id) ||
            vocab_walk_char(v, item->next ? ',' : '}')) {
            rc = -1;
            break;
        }
        e[k].len = (uint32_t)strlen(item->string);
        e[k].str = dup_bytes(item->string, e[k].len);
    }
    cJSON_Delete(root);
    if (rc) {
        for (size_t j = 0; j < k; j++) xfree(e[j].str);
        xfree(e);
        return -1;
    }
    *out = e;
    *n_out = n;
    return 0;
}

static int load_vocab(Tokenizer *t, const char *path, BytesMap *map, size_t **offsets, char **file,
                      Err *e) {
    size_t n_file;
    char *buf = file_read_all(path, &n_file, e);
    if (!buf) return -1;
    VocabText text = {.path = path, .p = buf, .n = n_file, .e = e};
    VocabEntry *v = NULL;
    size_t n = 0;
    if (vocab_read_entries(&text, &v, &n)) {
        free(buf);
        return -1;
    }
    char shown[96];
    int32_t *holder = NULL;
    if (n == 0) {
        err_set(e, "%s:1: the vocab is empty; a byte-level BPE vocab needs the 256 byte tokens",
                path);
        goto fail;
    }
    holder = xmalloc(n * sizeof *holder, "the vocab's ids");
    for (size_t k = 0; k < n; k++) holder[k] = -1;
    bytes_map_init(map, n);
    for (size_t k = 0; k < n; k++) {
        quote_for_message(shown, sizeof shown, v[k].str, v[k].len);
        if (v[k].len == 0) {
            err_set(e, "%s:%d: byte %zu: empty token \"\"; remove it", path, line_of(buf, v[k].off),
                    v[k].off);
            goto fail;
        }
        int fresh;
        int32_t *slot = bytes_map_put(map, v[k].str, v[k].len, &fresh);
        if (!fresh) {
            err_set(e,
                    "%s:%d: byte %zu: duplicate token \"%s\" (first at byte %zu); each token "
                    "must appear once",
                    path, line_of(buf, v[k].off), v[k].off, shown, v[*slot].off);
            goto fail;
        }
        *slot = (int32_t)k;
        if ((size_t)v[k].id >= n) {
            err_set(e,
                    "%s:%d: byte %zu: token \"%s\" has id %d but the vocab has %zu tokens; ids "
                    "must be 0..%zu",
                    path, line_of(buf, v[k].off), v[k].off, shown, (int)v[k].id, n, n - 1);
            goto fail;
        }
        if (holder[v[k].id] >= 0) {
            char other[96];
            size_t h = (size_t)holder[v[k].id];
            err_set(e,
                    "%s:%d: byte %zu: token \"%s\" has id %d, already used by token \"%s\"; "
                    "ids must be unique",
                    path, line_of(buf, v[k].off), v[k].off, shown, (int)v[k].id,
                    quote_for_message(other, sizeof other, v[h].str, v[h].len));
            goto fail;
        }
        holder[v[k].id] = (int32_t)k;
    }
    /* tokens by id; the map now points at ids */
    *offsets = xmalloc(n * sizeof **offsets, "vocab offsets");
    for (size_t id = 0; id < n; id++) {
        VocabEntry *x = &v[holder[id]];
        char *bytes = xmalloc((size_t)x->len + 1, "token bytes");
        size_t bl = 0;
        unsigned bad;
        if (mapped_to_bytes(x->str, x->len, bytes, &bl, &bad)) {
            /* only special tokens may leave the byte alphabet; checked after the merges */
            memcpy(bytes, x->str, x->len);
            bl = x->len;
        }
        bytes[bl] = '\0';
        vocab_append(t, x->str, x->len, bytes, (uint32_t)bl, 0);
        x->str = NULL;
        (*offsets)[id] = x->off;
    }
    for (size_t s = 0; s < map->cap; s++)
        if (map->slot[s].key) {
            int32_t id = v[map->slot[s].val].id;
            map->slot[s].val = id;
            map->slot[s].key = t->tok[id].str;
        }
    for (int b = 0; b < 256; b++) {
        char u[4];
        int l = utf8_encode((unsigned)tok_byte_to_unicode(b), u);
        t->byte_id[b] = bytes_map_get(map, u, (size_t)l);
        if (t->byte_id[b] < 0) {
            err_set(e,
                    "%s: no token for byte 0x%02X (\"%.*s\"); a byte-level BPE vocab needs all 256 "
                    "single-byte tokens",
                    path, b, l, u);
            goto fail;
        }
    }
    free(holder);
    for (size_t k = 0; k < n; k++) xfree(v[k].str);
    free(v);
    *file = buf;
    return 0;
fail:
    free(holder);
    for (size_t k = 0; k < n; k++) xfree(v[k].str);
    free(v);
    free(buf);
    return -1;
}

static int load_merges(Tokenizer *t, const char *path, const BytesMap *map, Err *e) {
    size_t n;
    char *buf = file_read_all(path, &n, e);
    if (!buf) return -1;
    char *formed = xmalloc((size_t)t->n_tok, "merge check");
    for (int b = 0; b < 256; b++) formed[t->byte_id[b]] = 1;
    PairMap seen; /* pair -> merge index */
    pair_map_init(&seen, n / 8);
    char *cat = NULL;
    size_t cat_cap = 0;
    int line = 0, rc = -1;
    char sa[96], sb[96];
    for (size_t i = 0; i < n;) {
        line++;
        const char *ln = buf + i;
        const char *nl = memchr(ln, '\n', n - i);
        size_t len = nl ? (size_t)(nl - ln) : n - i;
        i += len + (nl ? 1 : 0);
        if (len > 0 && ln[len - 1] == '\r') len--;
        if (line == 1 && len >= 8 && memcmp(ln, "#version", 8) == 0) continue;
        if (len == 0) {
            err_set(e, "%s:%d: empty line; merges.txt needs one merge \"a b\" per line", path,
                    line);
            goto out;
        }
        const char *sp = memchr(ln, ' ', len);
        size_t fields = 1;
        for (size_t k = 0; k < len; k++) fields += ln[k] == ' ';
        if (fields != 2 || sp == ln || sp == ln + len - 1) {
            err_set(e,
                    "%s:%d: expected two symbols separated by one space (\"a b\"), found \"%s\"; "
                    "fix the line",
                    path, line, quote_for_message(sa, sizeof sa, ln, len));
            goto out;
        }
        size_t la = (size_t)(sp - ln), lb = len - la - 1;
        const char *pa = ln, *pb = sp + 1;
        int32_t ida = bytes_map_get(map, pa, la), idb = bytes_map_get(map, pb, lb);
        if (ida < 0 || idb < 0) {
            const char *p = ida < 0 ? pa : pb;
            size_t l = ida < 0 ? la : lb;
            err_set(e,
                    "%s:%d: unknown symbol \"%s\": it is not in vocab.json; merges must use "
                    "vocab tokens",
                    path, line, quote_for_message(sa, sizeof sa, p, l));
            goto out;
        }
        if (!formed[ida] || !formed[idb]) {
            int32_t id = !formed[ida] ? ida : idb;
            err_set(e,
                    "%s:%d: symbol \"%s\" cannot be formed: it is not a single byte and no earlier "
                    "merge produces it; merges must be in the order they were learned",
                    path, line,
                    quote_for_message(sa, sizeof sa, t->tok[id].str, t->tok[id].str_len));
            goto out;
        }
        int fresh;
        int32_t *first = pair_map_put(&seen, ida, idb, &fresh);
        if (!fresh) {
            err_set(e, "%s:%d: duplicate merge \"%s %s\" (first on line %d); remove this line",
                    path, line, quote_for_message(sa, sizeof sa, pa, la),
                    quote_for_message(sb, sizeof sb, pb, lb), t->merge[*first].line);
            goto out;
        }
        *first = t->n_merge;
        if (la + lb > cat_cap) {
            cat_cap = 2 * (la + lb);
            cat = xrealloc(cat, cat_cap, "a merge");
        }
        memcpy(cat, pa, la);
        memcpy(cat + la, pb, lb);
        int32_t r = bytes_map_get(map, cat, la + lb);
        if (r < 0) {
            err_set(e,
                    "%s:%d: merge result \"%s\" is not in vocab.json; add it to the vocab or "
                    "remove the merge",
                    path, line, quote_for_message(sa, sizeof sa, cat, la + lb));
            goto out;
        }
        formed[r] = 1;
        merges_append(t, ida, idb, r, line);
    }
    rc = 0;
out:
    free(cat);
    pair_map_free(&seen);
    xfree(formed);
    free(buf);
    return rc;
}

/* Marks special tokens and rejects tokens outside the byte alphabet that are not special. */
static int mark_special_tokens(Tokenizer *t, const char *vpath, const char *vfile,
                               const size_t *offsets, Err *e) {
    char *formed = xmalloc((size_t)t->n_tok, "vocab check");
    for (int b = 0; b < 256; b++) formed[t->byte_id[b]] = 1;
    for (int m = 0; m < t->n_merge; m++) formed[t->merge[m].result] = 1;
    int rc = 0;
    for (int id = 0; id < t->n_tok && rc == 0; id++) {
        Token *k = &t->tok[id];
        if (!formed[id] && special_form(k->str, k->str_len)) {
            memcpy(k->bytes, k->str, k->str_len); /* literal text, not byte-mapped */
            k->len = k->str_len;
            k->bytes[k->len] = '\0';
            k->special = 1;
            note_special(t, id);
            continue;
        }
        size_t bl;
        unsigned bad = 0;
        char *scratch = xmalloc((size_t)k->str_len + 1, "vocab check");
        int r = mapped_to_bytes(k->str, k->str_len, scratch, &bl, &bad);
        xfree(scratch);
        if (r) {
            char shown[96];
            rc = err_set(e,
                         "%s:%d: byte %zu: token \"%s\" (id %d) contains U+%04X, which is not "
                         "in GPT-2's byte-to-unicode alphabet; write tokens in byte-mapped form "
                         "(a space is \"\\u0120\") or name a special token <|...|>",
                         vpath, line_of(vfile, offsets[id]), offsets[id],
                         quote_for_message(shown, sizeof shown, k->str, k->str_len), id, bad);
        }
    }
    xfree(formed);
    return rc;
}

int tok_load(Tokenizer **out, const char *vocab_json, const char *merges_txt, Err *e) {
    if (!out || !vocab_json || !merges_txt) return err_set(e, "tok_load: NULL argument");
    *out = NULL;
    Tokenizer *t = tok_new(e);
    if (!t) return -1;
    BytesMap map = {0};
    size_t *offsets = NULL;
    char *vfile = NULL;
    int rc = load_vocab(t, vocab_json, &map, &offsets, &vfile, e);
    if (rc == 0) rc = load_merges(t, merges_txt, &map, e);
    if (rc == 0) rc = mark_special_tokens(t, vocab_json, vfile, offsets, e);
    if (map.slot) bytes_map_free(&map);
    if (offsets) xfree(offsets);
    free(vfile);
    if (rc) {
        tok_free(t);
        return -1;
    }
    rank_build(t);
    *out = t;
    return 0;
}

/* dir/name, without doubling a trailing '/'. */
static int dir_file(char *dst, size_t cap, const char *dir, const char *name, Err *e) {
    size_t n = strlen(dir);
    return path_join(dst, cap, e, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
}

int tok_load_dir(Tokenizer **t, const char *dir, Err *e) {
    if (!dir) return err_set(e, "tok_load_dir: NULL argument");
    struct stat sb; /* say so when the directory is missing, rather than naming a file in it */
    if (stat(dir, &sb) != 0)
        return err_set(e,
                       "%s: no such directory; a tokenizer directory holds vocab.json and "
                       "merges.txt (a Hugging Face GPT-2 model directory has them)",
                       dir);
    if (!S_ISDIR(sb.st_mode))
        return err_set(e,
                       "%s: is a file, not a directory; a tokenizer directory holds vocab.json "
                       "and merges.txt",
                       dir);
    char v[4200], m[4200];
    if (dir_file(v, sizeof v, dir, "vocab.json", e) || dir_file(m, sizeof m, dir, "merges.txt", e))
        return -1;
    return tok_load(t, v, m, e);
}

/* ---- saving ------------------------------------------------------------------------------- */

/* Python's json.dumps(ensure_ascii=True) string escaping. */
static void json_put_string(FILE *fp, const char *s, size_t n) {
    fputc('"', fp);
    for (size_t i = 0; i < n;) {
        uint32_t cp; /* strings are valid UTF-8 */
        i += utf8_next((const unsigned char *)s + i, n - i, &cp);
        switch (cp) {
        case '"':
            fputs("\\\"", fp);
            continue;
        case '\\':
            fputs("\\\\", fp);
            continue;
        case '\n':
            fputs("\\n", fp);
            continue;
        case '\r':
            fputs("\\r", fp);
            continue;
        case '\t':
            fputs("\\t", fp);
            continue;
        case '\b':
            fputs("\\b", fp);
            continue;
        case '\f':
            fputs("\\f", fp);
            continue;
        default:
            break;
        }
        if (cp >= 0x20 && cp <= 0x7E) {
            fputc((int)cp, fp);
        } else if (cp < 0x10000) {
            fprintf(fp, "\\u%04x", cp);
        } else {
            unsigned v = cp - 0x10000;
            fprintf(fp, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
        }
    }
    fputc('"', fp);
}

int tok_save(const Tokenizer *t, const char *vocab_json, const char *merges_txt, Err *e) {
    if (!t || !vocab_json || !merges_txt) return err_set(e, "tok_save: NULL argument");
    AtomicFile af;
    if (atomic_open(&af, vocab_json, e)) return -1;
    fputc('{', af.fp);
    for (int id = 0; id < t->n_tok; id++) {
        if (id) fputs(", ", af.fp);
        json_put_string(af.fp, t->tok[id].str, t->tok[id].str_len);
        fprintf(af.fp, ": %d", id);
    }
    fputc('}', af.fp);
    if (atomic_commit(&af, e)) return -1;
    if (atomic_open(&af, merges_txt, e)) return -1;
    fputs("#version: 0.2\n", af.fp);
    for (int m = 0; m < t->n_merge; m++) {
        const Token *a = &t->tok[t->merge[m].a], *b = &t->tok[t->merge[m].b];
        fwrite(a->str, 1, a->str_len, af.fp);
        fputc(' ', af.fp);
        fwrite(b->str, 1, b->str_len, af.fp);
        fputc('\n', af.fp);
    }
    return atomic_commit(&af, e);
}

int tok_save_dir(const Tokenizer *t, const char *dir, Err *e) {
    if (!t || !dir) return err_set(e, "tok_save_dir: NULL argument");
    if (mkdir_p(dir, e)) return -1;
    char v[4200], m[4200];
    if (dir_file(v, sizeof v, dir, "vocab.json", e) || dir_file(m, sizeof m, dir, "merges.txt", e))
        return -1;
    return tok_save(t, v, m, e);
}
