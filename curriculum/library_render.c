/*
 * library_render.c — rendering (library.h): a chain and a RenderSpec become text with a role
 * per byte. Templates are expanded step by step (connective choices, insertions), then synonym
 * and noise edits work on whole words, then the steps are joined in the spec's order.
 */
#include "library.h"
#include "library_internal.h"
#include "utf8.h"

#include <string.h>

/* ---- letters and case ------------------------------------------------------------------------ */

/* Letters for word boundaries and noise: ASCII letters and digits, Latin-1 and Latin
 * Extended-A/B letters, Greek, Cyrillic. */
static int cp_is_letter(uint32_t cp) {
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
    if (cp >= 0xc0 && cp <= 0x24f) return cp != 0xd7 && cp != 0xf7;
    return (cp >= 0x370 && cp <= 0x3ff) || (cp >= 0x400 && cp <= 0x52f);
}

/* Upper- (upper = 1) or lower-cases the first character of s[0..n) in place. Handles ASCII,
 * Latin-1, Greek and Cyrillic, whose cases have the same UTF-8 length; other text is kept. */
static void case_first(char *s, size_t n, int upper) {
    if (n == 0) return;
    unsigned char *p = (unsigned char *)s;
    if (p[0] < 0x80) {
        if (upper && p[0] >= 'a' && p[0] <= 'z') p[0] = (unsigned char)(p[0] - 32);
        if (!upper && p[0] >= 'A' && p[0] <= 'Z') p[0] = (unsigned char)(p[0] + 32);
        return;
    }
    uint32_t cp, to;
    if (utf8_next(p, n, &cp) != 2) return;
    to = cp;
    if (upper) {
        if ((cp >= 0xe0 && cp <= 0xfe && cp != 0xf7) || (cp >= 0x430 && cp <= 0x44f) ||
            (cp >= 0x3b1 && cp <= 0x3c9 && cp != 0x3c2))
            to = cp - 0x20;
        else if (cp >= 0x450 && cp <= 0x45f)
            to = cp - 0x50;
    } else {
        if ((cp >= 0xc0 && cp <= 0xde && cp != 0xd7) || (cp >= 0x410 && cp <= 0x42f) ||
            (cp >= 0x391 && cp <= 0x3a9 && cp != 0x3a2))
            to = cp + 0x20;
        else if (cp >= 0x400 && cp <= 0x40f)
            to = cp + 0x50;
    }
    p[0] = (unsigned char)(0xc0 | (to >> 6));
    p[1] = (unsigned char)(0x80 | (to & 0x3f));
}

/* ---- the text being built ------------------------------------------------------------------- */

/* The text being built: bytes with a role and a step (template index) each. Steps are kept
 * contiguous and in template order until the final join. */
typedef struct Work {
    char *b;
    uint8_t *role, *step;
    size_t n, cap;
} Work;

static void work_splice(Work *w, size_t pos, size_t del, const char *ins, size_t n_ins,
                        uint8_t role, uint8_t step) {
    size_t need = w->n - del + n_ins + 1;
    if (need > w->cap) {
        w->cap = need * 2 + 256;
        w->b = xrealloc(w->b, w->cap, "render buffer");
        w->role = xrealloc(w->role, w->cap, "render roles");
        w->step = xrealloc(w->step, w->cap, "render steps");
    }
    size_t tail = w->n - pos - del;
    memmove(w->b + pos + n_ins, w->b + pos + del, tail);
    memmove(w->role + pos + n_ins, w->role + pos + del, tail);
    memmove(w->step + pos + n_ins, w->step + pos + del, tail);
    if (n_ins) memmove(w->b + pos, ins, n_ins);
    memset(w->role + pos, role, n_ins);
    memset(w->step + pos, step, n_ins);
    w->n = w->n - del + n_ins;
}

/* Appends s[0..n), its first letter re-cased: case_mode +1 upper, -1 lower, 0 as is. */
static void work_push(Work *w, const char *s, size_t n, int case_mode, uint8_t role, uint8_t step) {
    size_t at = w->n;
    work_splice(w, at, 0, s, n, role, step);
    if (case_mode) case_first(w->b + at, n, case_mode > 0);
}

void render_scratch_free(RenderScratch *s) {
    xfree(s->b);
    xfree(s->role);
    xfree(s->step);
    memset(s, 0, sizeof *s);
}

void render_reserve(RenderScratch *s, Rendered *out, size_t bytes) {
    if (s->cap < bytes + 1) {
        render_scratch_free(s);
        s->cap = bytes + 1;
        s->b = xmalloc(s->cap, "render buffer");
        s->role = xmalloc(s->cap, "render roles");
        s->step = xmalloc(s->cap, "render steps");
    }
    if (out->cap < bytes + 1) {
        xfree(out->text);
        xfree(out->roles);
        out->cap = bytes + 1;
        out->text = xmalloc(out->cap, "rendered text");
        out->roles = xmalloc(out->cap, "rendered roles");
    }
}

/* Insertion sites of one template: its start (if it begins with a connective or a {X^} slot)
 * and after every connective before the `|`. */
static int template_start_site(const Template *t) {
    return t->n_pieces > 0 && (t->pieces[0].kind == PIECE_CONN ||
                               (t->pieces[0].kind == PIECE_SLOT && t->pieces[0].cap));
}

static int template_sites(const Template *t) {
    int n = template_start_site(t);
    for (int i = 0; i < t->n_pieces && t->pieces[i].kind != PIECE_BAR; i++)
        n += t->pieces[i].kind == PIECE_CONN;
    return n;
}

int chain_insert_sites(const ChainLib *lib, int chain) {
    const Chain *ch = &lib->chains[chain];
    int n = 0;
    for (int k = 0; k < ch->n_steps; k++) n += template_sites(&ch->steps[k].t);
    return n;
}

typedef struct Expander {
    const ChainLib *lib;
    const Chain *ch;
    const LibFile *f;
    const RenderSpec *spec;
    int n_sites; /* 0 if there is nothing to insert */
    int site;    /* running site number */
} Expander;

/* Appends the insertion phrases of the current site and moves to the next site. At a step's
 * start (at_start) they open the sentence ("In fact, "); after a connective they follow it
 * (" in fact"). Returns how many were added. */
static int emit_insertions(Expander *x, Work *w, int at_start, uint8_t role, uint8_t step) {
    int added = 0;
    if (x->n_sites > 0)
        for (int k = 0; k < x->spec->n_ins; k++) {
            if ((int)(x->spec->ins[k].site % (uint32_t)x->n_sites) != x->site) continue;
            const char *p = x->f->insertions[x->spec->ins[k].phrase % (uint32_t)x->f->n_insertions];
            if (at_start) {
                work_push(w, p, strlen(p), added == 0 ? 1 : 0, role, step);
                work_push(w, ", ", 2, 0, role, step);
            } else {
                work_push(w, " ", 1, 0, role, step);
                work_push(w, p, strlen(p), 0, role, step);
            }
            added++;
        }
    x->site++;
    return added;
}

/* Expands template t (step number `step`, connective occurrences from conn_base) into w. */
static void expand(Expander *x, Work *w, const Template *t, uint8_t step, int is_conclusion,
                   int conn_base) {
    uint8_t region = is_conclusion ? BYTE_PROMPT : BYTE_STEP;
    int decap = 0;
    if (template_start_site(t)) decap = emit_insertions(x, w, 1, region, step) > 0;
    int occ = conn_base;
    for (int i = 0; i < t->n_pieces; i++) {
        const Piece *p = &t->pieces[i];
        int case_mode = i == 0 && decap ? -1 : p->cap ? 1 : 0;
        if (p->kind == PIECE_TEXT) {
            work_push(w, p->text, p->len, 0, region, step);
        } else if (p->kind == PIECE_SLOT && x->ch->slot_lex && x->ch->slot_lex[p->idx] >= 0) {
            const Lexicon *lx = &x->f->lex[x->ch->slot_lex[p->idx]];
            char buf[2][NONCE_MAX];
            LexEntry en;
            lex_entry(lx, x->spec->ent_seed, x->spec->ent_part, x->spec->ent[p->idx], buf, &en);
            int mode = case_mode == -1 ? 0 : case_mode;
            if (p->form == SLOT_ARTICLE) {
                const char *art = lex_article(en.sg);
                work_push(w, art, strlen(art), mode, region, step);
                work_push(w, " ", 1, 0, region, step);
                mode = 0;
            }
            const char *v = p->form == SLOT_PLURAL ? en.pl : en.sg;
            work_push(w, v, strlen(v), mode, region, step);
        } else if (p->kind == PIECE_SLOT) {
            const char *v = x->ch->values[x->spec->tuple * x->ch->n_slots + p->idx];
            work_push(w, v, strlen(v), case_mode == -1 ? 0 : case_mode, region, step);
        } else if (p->kind == PIECE_CONN) {
            const Connective *c = &x->f->conns[p->idx];
            int choice = occ < CHAIN_MAX_CONNS ? x->spec->conn[occ] % c->n_forms : 0;
            const char *form = c->forms[choice];
            int in_answer = region == BYTE_ANSWER;
            work_push(w, form, strlen(form), case_mode, in_answer ? BYTE_ANSWER : BYTE_CONNECTIVE,
                      step);
            if (!in_answer) emit_insertions(x, w, 0, region, step);
            occ++;
        } else {
            region = BYTE_ANSWER;
        }
    }
}

static size_t prev_cp_start(const Work *w, size_t i) {
    size_t j = i - 1;
    while (j > 0 && ((unsigned char)w->b[j] & 0xc0) == 0x80) j--;
    return j;
}

static int letter_at(const Work *w, size_t i, size_t *len) {
    uint32_t cp;
    *len = utf8_next((const unsigned char *)w->b + i, w->n - i, &cp);
    return cp_is_letter(cp);
}

/* Same role and step as byte i (a word may not cross either boundary). */
static int same_region(const Work *w, size_t i, size_t j) {
    return w->role[i] == w->role[j] && w->step[i] == w->step[j];
}

static int word_start(const Work *w, size_t i) {
    size_t len;
    if (i == 0) return 1;
    size_t j = prev_cp_start(w, i);
    return !same_region(w, i, j) || !letter_at(w, j, &len);
}

typedef struct SynMatch {
    size_t pos, len;
    int group, member, capitalised;
} SynMatch;

/* Does synonym `word` (or its capitalised form) occur at i as a whole word inside one region? */
static int syn_match_at(const Work *w, size_t i, const char *word, int *capitalised) {
    size_t n = strlen(word);
    if (i + n > w->n) return 0;
    for (size_t k = 1; k < n; k++)
        if (!same_region(w, i, i + k)) return 0;
    if (i + n < w->n) {
        size_t len;
        if (same_region(w, i, i + n) && letter_at(w, i + n, &len)) return 0;
    }
    if (memcmp(w->b + i, word, n) == 0) {
        *capitalised = 0;
        return 1;
    }
    char buf[256];
    if (n >= sizeof buf) return 0;
    memcpy(buf, word, n);
    case_first(buf, n, 1);
    if (memcmp(buf, word, n) != 0 && memcmp(w->b + i, buf, n) == 0) {
        *capitalised = 1;
        return 1;
    }
    return 0;
}

/* Counts synonym occurrences outside connectives and the answer; fills *m with number `want`
 * (if want >= 0). At each word start the longest matching member wins. */
static int find_synonyms(const Work *w, const LibFile *f, int want, SynMatch *m) {
    int count = 0;
    for (size_t i = 0; i < w->n;) {
        size_t step_len = 1;
        SynMatch best = {0, 0, -1, -1, 0};
        int eligible = w->role[i] == BYTE_STEP || w->role[i] == BYTE_PROMPT;
        if (eligible && word_start(w, i))
            for (int g = 0; g < f->n_synonyms; g++)
                for (int k = 0; k < f->synonyms[g].n_words; k++) {
                    const char *word = f->synonyms[g].words[k];
                    int cap;
                    if (strlen(word) > best.len && syn_match_at(w, i, word, &cap))
                        best = (SynMatch){i, strlen(word), g, k, cap};
                }
        if (best.group >= 0) {
            if (count == want) *m = best;
            count++;
            step_len = best.len;
        } else {
            letter_at(w, i, &step_len);
        }
        i += step_len;
    }
    return count;
}

static void apply_synonym(Work *w, const LibFile *f, const SynonymEdit *ed) {
    SynMatch m;
    int n = find_synonyms(w, f, -1, &m);
    if (n == 0) return;
    find_synonyms(w, f, (int)(ed->occurrence % (uint32_t)n), &m);
    const SynonymGroup *g = &f->synonyms[m.group];
    int k = (int)(ed->member % (uint32_t)(g->n_words - 1));
    if (k >= m.member) k++;
    const char *word = g->words[k];
    uint8_t role = w->role[m.pos], step = w->step[m.pos];
    work_splice(w, m.pos, m.len, word, strlen(word), role, step);
    if (m.capitalised) case_first(w->b + m.pos, strlen(word), 1);
}

/* Counts noise-eligible words (>= 3 letters, plain text of a non-conclusion step); fills
 * (*pos, *len) with word number `want`. */
static int find_words(const Work *w, int want, size_t *pos, size_t *len) {
    int count = 0;
    for (size_t i = 0; i < w->n;) {
        size_t l;
        int letter = letter_at(w, i, &l);
        if (w->role[i] != BYTE_STEP || !letter) {
            i += l;
            continue;
        }
        size_t j = i, chars = 0;
        while (j < w->n && same_region(w, i, j) && letter_at(w, j, &l)) {
            j += l;
            chars++;
        }
        if (chars >= 3) {
            if (count == want) {
                *pos = i;
                *len = j - i;
            }
            count++;
        }
        i = j;
    }
    return count;
}

static void apply_noise(Work *w, const NoiseEdit *ed) {
    size_t pos = 0, len = 0;
    int n = find_words(w, -1, &pos, &len);
    if (n == 0) return;
    find_words(w, (int)(ed->word % (uint32_t)n), &pos, &len);
    size_t starts[256], lens[256], chars = 0;
    for (size_t i = pos; i < pos + len && chars < 256; chars++) {
        starts[chars] = i;
        letter_at(w, i, &lens[chars]);
        i += lens[chars];
    }
    uint8_t role = w->role[pos], step = w->step[pos];
    if (ed->kind == NOISE_SWAP) {
        size_t c = ed->pos % (chars - 1);
        char tmp[8];
        size_t la = lens[c], lb = lens[c + 1];
        memcpy(tmp, w->b + starts[c], la);
        memmove(w->b + starts[c], w->b + starts[c + 1], lb);
        memcpy(w->b + starts[c] + lb, tmp, la);
    } else {
        size_t c = ed->pos % chars;
        if (ed->kind == NOISE_DROP) {
            work_splice(w, starts[c], lens[c], NULL, 0, role, step);
        } else {
            char tmp[8];
            memcpy(tmp, w->b + starts[c], lens[c]);
            work_splice(w, starts[c], 0, tmp, lens[c], role, step);
        }
    }
}

static int check_spec(const Chain *ch, const RenderSpec *s, Err *e) {
    if (s->tuple < 0 || s->tuple >= ch->n_tuples)
        return err_set(e, "chain \"%s\": tuple %d out of range (it has %d); pick 0..%d", ch->id,
                       s->tuple, ch->n_tuples, ch->n_tuples - 1);
    if (s->foil < -1 || s->foil >= ch->n_foils)
        return err_set(e,
                       "chain \"%s\": foil %d out of range (it has %d); use -1 for the true "
                       "conclusion",
                       ch->id, s->foil, ch->n_foils);
    if (s->n_syn < 0 || s->n_syn > RENDER_MAX_EDITS || s->n_ins < 0 ||
        s->n_ins > RENDER_MAX_EDITS || s->n_noise < 0 || s->n_noise > RENDER_MAX_EDITS)
        return err_set(e, "chain \"%s\": edit counts out of range; at most %d of each", ch->id,
                       RENDER_MAX_EDITS);
    if (!s->has_order) return 0;
    int seen[CHAIN_MAX_STEPS] = {0};
    for (int k = 0; k < ch->n_steps; k++) {
        int v = s->order[k];
        if (v < 0 || v >= ch->n_steps || seen[v]++)
            return err_set(e, "chain \"%s\": step order is not a permutation of 0..%d; fix it",
                           ch->id, ch->n_steps - 1);
    }
    if (s->order[ch->n_steps - 1] != ch->n_steps - 1)
        return err_set(e, "chain \"%s\": step order moves the conclusion; it must stay last",
                       ch->id);
    return 0;
}

int chain_render_scratch(const ChainLib *lib, int chain, const RenderSpec *spec, Rendered *out,
                         RenderScratch *scratch, Err *e) {
    if (chain < 0 || chain >= lib->n_chains)
        return err_set(e, "chain %d out of range (library has %d)", chain, lib->n_chains);
    const Chain *ch = &lib->chains[chain];
    if (check_spec(ch, spec, e) != 0) return -1;
    const LibFile *f = &lib->files[ch->file];
    Expander x = {lib, ch, f, spec, f->n_insertions > 0 ? chain_insert_sites(lib, chain) : 0, 0};
    Work w = {scratch->b, scratch->role, scratch->step, 0, scratch->cap};
    int occ = 0;
    for (int k = 0; k < ch->n_steps; k++) {
        int last = k == ch->n_steps - 1;
        const Template *t = last && spec->foil >= 0 ? &ch->foils[spec->foil] : &ch->steps[k].t;
        expand(&x, &w, t, (uint8_t)k, last, occ);
        occ += ch->steps[k].t.n_conns;
    }
    if (f->n_synonyms > 0)
        for (int k = 0; k < spec->n_syn; k++) apply_synonym(&w, f, &spec->syn[k]);
    for (int k = 0; k < spec->n_noise; k++) apply_noise(&w, &spec->noise[k]);

    /* join the steps in order, one space apart */
    size_t need = w.n + (size_t)ch->n_steps + 1;
    if (need > out->cap) {
        xfree(out->text);
        xfree(out->roles);
        out->cap = need * 2;
        out->text = xmalloc(out->cap, "rendered text");
        out->roles = xmalloc(out->cap, "rendered roles");
    }
    out->len = 0;
    for (int k = 0; k < ch->n_steps; k++) {
        int step = spec->has_order ? spec->order[k] : k;
        if (k > 0) {
            out->text[out->len] = ' ';
            out->roles[out->len++] = step == ch->n_steps - 1 ? BYTE_PROMPT : BYTE_STEP;
        }
        for (size_t i = 0; i < w.n; i++)
            if (w.step[i] == step) {
                out->text[out->len] = w.b[i];
                out->roles[out->len++] = w.role[i];
            }
    }
    out->text[out->len] = '\0';
    out->answer_start = out->len;
    for (size_t i = 0; i < out->len; i++)
        if (out->roles[i] == BYTE_ANSWER) {
            out->answer_start = i;
            break;
        }
    *scratch = (RenderScratch){w.b, w.role, w.step, w.cap}; /* kept, perhaps grown */
    return 0;
}

int chain_render(const ChainLib *lib, int chain, const RenderSpec *spec, Rendered *out, Err *e) {
    RenderScratch scratch = {0};
    int rc = chain_render_scratch(lib, chain, spec, out, &scratch, e);
    render_scratch_free(&scratch);
    return rc;
}

void render_spec_canonical(RenderSpec *s) {
    memset(s, 0, sizeof *s);
    s->foil = -1;
}

int chain_render_canonical(const ChainLib *lib, int chain, Rendered *out, Err *e) {
    RenderSpec s;
    render_spec_canonical(&s);
    if (chain >= 0 && chain < lib->n_chains) chain_draw_entities(lib, chain, 0, LEX_TRAIN, 0, &s);
    return chain_render(lib, chain, &s, out, e);
}

void rendered_free(Rendered *r) {
    xfree(r->text);
    xfree(r->roles);
    memset(r, 0, sizeof *r);
}
