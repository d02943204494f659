/* fuzz_chains.c — the chain-library reader on arbitrary text; every chain of a library that
 * loads must render with every filler tuple and foil, and a chain with typed slots with draws
 * from both partitions (distinct entries for slots of one type) and with raw entry numbers.
 *
 * Typed slots: the input is written as chains.cfg into a per-process directory that also holds
 * two fixed lexicons, animal.txt and person.txt; an input line "%%" splits it, and what follows
 * is written as fuzz.txt there, so a library may declare lexicons = { x = "fuzz.txt"; } and the
 * lexicon reader gets fuzzed too (tests/fuzz/seeds/chains/typed.cfg does). */
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "library.h"

static void write_to(const char *dir, const char *name, const void *data, size_t n) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (!fp) abort();
    if (n && fwrite(data, 1, n, fp) != n) abort();
    fclose(fp);
}

/* Same-typed slots of chain c under spec s hold distinct entries. */
static void check_distinct(const ChainLib *lib, int c, const RenderSpec *s) {
    const Chain *ch = &lib->chains[c];
    const Lexicon *lex = lib->files[ch->file].lex;
    for (int a = 0; a < ch->n_slots; a++)
        for (int b = 0; b < a; b++) {
            if (ch->slot_lex[a] < 0 || ch->slot_lex[a] != ch->slot_lex[b]) continue;
            char ba[2][NONCE_MAX], bb[2][NONCE_MAX];
            LexEntry ea, eb;
            lex_entry(&lex[ch->slot_lex[a]], s->ent_seed, s->ent_part, s->ent[a], ba, &ea);
            lex_entry(&lex[ch->slot_lex[b]], s->ent_seed, s->ent_part, s->ent[b], bb, &eb);
            if (strcmp(ea.sg, eb.sg) == 0) abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    static char dir[128];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/imprint-fuzz-%ld-typed", (long)getpid());
        mkdir(dir, 0700);
        static const char animal[] = "# fixed\ncat\ndog\nowl\nmouse | mice\nfox\neagle\nhorse\n"
                                     "goose | geese\nsnake\nspider\ntrout\nbadger\n";
        static const char person[] = "baker\nteacher\nnurse\numpire\nbus driver\ndoctor\npilot\n"
                                     "chief of police | chiefs of police\nsailor\njudge\n";
        write_to(dir, "animal.txt", animal, sizeof animal - 1);
        write_to(dir, "person.txt", person, sizeof person - 1);
    }
    size_t cut = n;
    for (size_t i = 0; i + 3 <= n; i++)
        if ((i == 0 || data[i - 1] == '\n') && data[i] == '%' && data[i + 1] == '%' &&
            (i + 2 == n || data[i + 2] == '\n')) {
            cut = i;
            break;
        }
    write_to(dir, "chains.cfg", data, cut);
    size_t rest = cut < n ? n - cut - (cut + 3 <= n ? 3 : 2) : 0;
    write_to(dir, "fuzz.txt", data + n - rest, rest);
    char path[256];
    snprintf(path, sizeof path, "%s/chains.cfg", dir);
    const char *p = path;
    ChainLib *lib = NULL;
    Err e;
    if (chainlib_load(&lib, &p, 1, &e) == 0) {
        Rendered r = {0};
        RenderScratch sc = {0};
        for (int c = 0; c < lib->n_chains; c++) {
            for (int t = 0; t < lib->chains[c].n_tuples; t++)
                for (int f = -1; f < lib->chains[c].n_foils; f++) {
                    RenderSpec s;
                    render_spec_canonical(&s);
                    s.tuple = t;
                    s.foil = f;
                    if (chain_render(lib, c, &s, &r, &e) != 0) abort();
                    if (r.answer_start > r.len) abort();
                }
            if (lib->chains[c].n_typed == 0) continue;
            for (int d = 0; d < 8; d++) {
                RenderSpec s;
                render_spec_canonical(&s);
                s.foil = lib->chains[c].n_foils > 0 && (d & 2) ? 0 : -1;
                chain_draw_entities(lib, c, (uint64_t)d * 977, d & 1, (uint64_t)d, &s);
                check_distinct(lib, c, &s);
                if (chain_render_scratch(lib, c, &s, &r, &sc, &e) != 0) abort();
                if (r.answer_start > r.len || strlen(r.text) != r.len) abort();
                for (int k = 0; k < CHAIN_MAX_SLOTS; k++) /* raw entry numbers: any value */
                    s.ent[k] = (uint32_t)hash_fnv1a64(data, n, (uint64_t)(k + d));
                s.ent_part = d;
                if (chain_render(lib, c, &s, &r, &e) != 0) abort();
            }
        }
        rendered_free(&r);
        render_scratch_free(&sc);
        chainlib_free(lib);
    }
    return 0;
}
