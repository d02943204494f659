/*
 * library.h — chain libraries (docs/chains.md): load and validate them, hash them, and render a
 * chain into text with per-byte roles.
 *
 * Loading. chainlib_load reads one or more libconfig files into one ChainLib. Every problem is
 * reported as "<file>:<line>: <what is wrong>; <how to fix it>" (util.h): unknown or missing
 * keys, an unknown form, a chain id used twice (also across files), a slot that a filler tuple
 * does not bind or binds although no template uses it, fewer than 4 tuples, a conclusion with
 * no or several `|`, a conclusion that is not the last step, an unknown connective, a step that
 * does not end in . ? or !, a bad `swap`. Covering fewer than 8 forms is not a load error:
 * chainlib_forms_covered() counts them and the caller decides.
 *
 * Typed slots (docs/chains.md). A file may declare `lexicons = { animal = "../lexicons/
 * animal.txt"; ... }` (paths relative to the library file; lexicon.h reads them) and a chain
 * `slots = { X = "animal"; }`: slot X is then filled from the lexicon, not from filler tuples.
 * Load errors for them: an unknown slot type, a shipped type with no lexicon declared, a lexicon
 * file missing, unreadable, malformed or empty, a partition with fewer entries than one chain
 * has slots of that type ("slot type too small for its split"), {X:pl} or {X:a} on an untyped
 * slot, a tuple that binds a typed slot, a typed slot no template uses. `fillers` may be left
 * out when every slot of a chain is typed: the chain then has one empty tuple (n_tuples = 1,
 * has_fillers = 0).
 *
 * Hash. Each file's SHA-256 (of its bytes) is kept as 64 hex characters; the library hash is
 * the SHA-256 of the concatenated per-file hex digests, in load order, each file's digest
 * followed by those of the lexicon files it declares, in declaration order (a library without
 * lexicons hashes as it always did).
 *
 * Rendering. chain_render turns (chain, RenderSpec) into text. A RenderSpec names the filler
 * tuple, a paraphrase choice per connective occurrence, synonym replacements, insertions, noise
 * edits, a step order and which foil replaces the conclusion. Every index in a RenderSpec is
 * taken modulo the number of candidates, so any value is valid and an edit with no candidate
 * does nothing; this lets variants.c fill a spec with raw random words. Rules:
 *   - synonyms, insertions and noise never touch the answer; noise only touches the text of
 *     non-conclusion steps; nothing but the connective choice touches a connective;
 *   - the conclusion stays last.
 * The output labels every byte (ByteRole); a foil rendering has the same prompt as the true
 * rendering under the same spec (the loader checks that a foil's text before `|` equals the
 * conclusion's). A typed slot takes entry ent[slot] of its lexicon's partition ent_part (nonce
 * words from ent_seed); chain_draw_entities fills those with distinct entries per type.
 */
#ifndef IMPRINT_LIBRARY_H
#define IMPRINT_LIBRARY_H

#include <stddef.h>
#include <stdint.h>

#include "lexicon.h"
#include "util.h"

#define CHAIN_ID_MAX         64 /* id length + 1 */
#define CHAIN_MAX_STEPS      32 /* steps of one chain, conclusion included */
#define CHAIN_MAX_SLOTS      32 /* distinct slots of one chain */
#define CHAIN_MAX_CONNS      64 /* connective occurrences in one chain's steps */
#define CHAIN_MIN_TUPLES     4
#define CHAIN_FORMS_REQUIRED 8 /* docs/chains.md: a library must cover at least 8 forms */

typedef enum {
    FORM_IF_THEN_BUT_HOWEVER_THEREFORE,
    FORM_MODUS_PONENS,
    FORM_MODUS_TOLLENS,
    FORM_SYLLOGISM,
    FORM_CONTRAPOSITIVE,
    FORM_DISJUNCTIVE_SYLLOGISM,
    FORM_CAUSE_EFFECT_EXCEPTION,
    FORM_CONTRADICTION_THEORY,
    FORM_TRANSITIVITY,
    FORM_ANALOGY,
    FORM_COUNT
} ChainForm;

typedef enum {
    STEP_PREMISE,
    STEP_OBSERVATION,
    STEP_EXCEPTION,
    STEP_HYPOTHESIS,
    STEP_CONCLUSION
} StepRole;

const char *chain_form_name(ChainForm f);
const char *step_role_name(StepRole r);

/* ---- the loaded library (read-only after chainlib_load) ----------------------------------- */

typedef enum {
    PIECE_TEXT, /* literal bytes text[0..len) */
    PIECE_SLOT, /* slot idx of the chain; cap: first letter upper-cased */
    PIECE_CONN, /* connective idx of the chain's file; cap: first letter upper-cased */
    PIECE_BAR   /* the `|` between prompt and answer */
} PieceKind;

/* How a typed slot is written: {X}, {X:pl}, {X:a} ("a dog", "an owl"). */
typedef enum { SLOT_PLAIN, SLOT_PLURAL, SLOT_ARTICLE } SlotForm;

typedef struct Piece {
    PieceKind kind;
    int cap;
    SlotForm form; /* PIECE_SLOT of a typed slot */
    int idx;
    const char *text;
    size_t len;
} Piece;

typedef struct Template {
    const char *src; /* the template as written */
    int line;
    Piece *pieces;
    int n_pieces;
    int n_conns; /* PIECE_CONN pieces */
} Template;

typedef struct Step {
    StepRole role;
    int swap; /* 0: fixed; N >= 1: commutable with the other steps of group N */
    int line;
    Template t;
} Step;

typedef struct Connective {
    const char *name;
    const char **forms; /* forms[0] is canonical */
    int n_forms;
} Connective;

typedef struct SynonymGroup {
    const char **words;
    int n_words;
} SynonymGroup;

typedef struct LibFile {
    const char *path;
    const char *name, *lang;
    int version;
    char sha256[65];
    Connective *conns;
    int n_conns;
    SynonymGroup *synonyms;
    int n_synonyms;
    const char **insertions;
    int n_insertions;
    Lexicon *lex; /* declared lexicons, then "nonce" if a chain uses it undeclared */
    int n_lex;
} LibFile;

typedef struct Chain {
    char id[CHAIN_ID_MAX];
    ChainForm form;
    int file; /* index into ChainLib.files */
    int line;
    const char **slots; /* slot names, in order of first use */
    int n_slots;
    const char **values; /* values[tuple * n_slots + slot]; tuple 0 canonical, last held out;
                            NULL for a typed slot */
    int n_tuples;
    int *slot_lex;   /* per slot: its lexicon in files[file].lex, -1 if untyped */
    int n_typed;     /* typed slots */
    int has_fillers; /* 0: no fillers given (every slot typed), one empty tuple */
    int slots_line;  /* line of `slots` (0: none) */
    Step *steps;     /* the last one is the conclusion */
    int n_steps;
    Template *foils; /* wrong conclusions; same prompt part as the conclusion */
    int n_foils;
    int n_conn_occ; /* connective occurrences over all steps (<= CHAIN_MAX_CONNS) */
} Chain;

struct LibArena;

typedef struct ChainLib {
    LibFile *files;
    int n_files;
    Chain *chains; /* in file order, then in order of appearance */
    int n_chains;
    char hash[65];
    struct LibArena *arena; /* owns every string and array above */
} ChainLib;

/* Loads paths[0..n_paths) into *out (NULL on failure). */
int chainlib_load(ChainLib **out, const char *const *paths, int n_paths, Err *e);
void chainlib_free(ChainLib *lib);

/* Distinct forms among the chains of file `file` (-1: of all files). */
int chainlib_forms_covered(const ChainLib *lib, int file);
/* Index of the chain with this id, -1 if none. */
int chainlib_find(const ChainLib *lib, const char *id);
/* The library hash: 64 lower-case hex characters. */
const char *chainlib_hash(const ChainLib *lib);
/* Slot value of `tuple` (NULL if out of range or unknown slot). */
const char *chain_value(const Chain *ch, int tuple, const char *slot);

/* ---- rendering ------------------------------------------------------------------------------ */

/* Per-byte labels, ordered by priority: a token's role is the highest role among its bytes
 * (curriculum.h), so a token " then" whose space is plain text is still a connective. */
typedef enum {
    BYTE_STEP = 0,       /* text of a non-conclusion step, and the spaces joining such steps */
    BYTE_PROMPT = 1,     /* conclusion text before the `|`, and the space before the conclusion */
    BYTE_CONNECTIVE = 2, /* a connective outside the answer: the chain's anchor tokens */
    BYTE_ANSWER = 3      /* everything after the `|` (a connective there is answer) */
} ByteRole;

#define RENDER_MAX_EDITS 16

typedef struct SynonymEdit {
    uint32_t occurrence; /* which synonym-word occurrence (mod their number) */
    uint32_t member;     /* which other member of its group (mod group size - 1) */
} SynonymEdit;

typedef struct InsertEdit {
    uint32_t site;   /* which insertion site (mod their number): see chain_insert_sites */
    uint32_t phrase; /* which insertion phrase (mod their number) */
} InsertEdit;

typedef enum { NOISE_DROP, NOISE_DOUBLE, NOISE_SWAP } NoiseKind;

typedef struct NoiseEdit {
    uint32_t word; /* which eligible word (mod their number): >= 3 letters, non-conclusion step,
                      not a connective */
    uint32_t pos;  /* which character of it (mod its length; for a swap, with the next one) */
    NoiseKind kind;
} NoiseEdit;

typedef struct RenderSpec {
    int tuple; /* filler tuple */
    int foil;  /* -1: the true conclusion; k: foil k replaces it */
    /* paraphrase per connective occurrence, counted over the steps in template order
     * (0 = canonical). A foil's k-th connective uses the conclusion's k-th choice. */
    uint8_t conn[CHAIN_MAX_CONNS];
    int n_syn, n_ins, n_noise;
    SynonymEdit syn[RENDER_MAX_EDITS];
    InsertEdit ins[RENDER_MAX_EDITS];
    NoiseEdit noise[RENDER_MAX_EDITS];
    int has_order;                 /* 0: template order */
    int8_t order[CHAIN_MAX_STEPS]; /* order[k] = template step at position k */
    /* typed slots: slot k takes entry ent[k] (mod the partition size) of partition ent_part
     * (LEX_TRAIN / LEX_HELDOUT) of its lexicon; nonce words are generated from ent_seed */
    int ent_part;
    uint64_t ent_seed;
    uint32_t ent[CHAIN_MAX_SLOTS];
} RenderSpec;

typedef struct Rendered {
    char *text; /* NUL-terminated */
    uint8_t *roles;
    size_t len;
    size_t answer_start; /* prompt = text[0..answer_start), answer = text[answer_start..len) */
    size_t cap;
} Rendered;

/* Tuple 0, canonical connectives, no operators, true conclusion; typed slots: entry 0 of the
 * training partition, seed 0 (use chain_draw_entities for real draws). */
void render_spec_canonical(RenderSpec *s);
/* Draw number `draw` of the typed slots of `chain` from partition `part`: sets ent_part,
 * ent_seed and ent[] (distinct entries for slots of the same type, as far as the partition
 * allows); a pure function of (library, chain id, seed, part, draw), Philox stream
 * LEX_STREAM_DRAW(part). Changes nothing else, and nothing at all for an untyped chain. */
void chain_draw_entities(const ChainLib *lib, int chain, uint64_t seed, int part, uint64_t draw,
                         RenderSpec *s);
/* Renders into *out (its buffers are reused and grown; start from a zeroed Rendered). Fails
 * only for a spec that is out of range (tuple, foil, an order that is not a permutation keeping
 * the conclusion last). */
int chain_render(const ChainLib *lib, int chain, const RenderSpec *spec, Rendered *out, Err *e);
/* The same with working buffers kept in *scratch (start from a zeroed one; grown as needed):
 * with out and scratch big enough, rendering allocates nothing. */
typedef struct RenderScratch {
    char *b;
    uint8_t *role, *step;
    size_t cap;
} RenderScratch;
int chain_render_scratch(const ChainLib *lib, int chain, const RenderSpec *spec, Rendered *out,
                         RenderScratch *scratch, Err *e);
/* Makes scratch and out hold renderings of up to `bytes` bytes without growing. */
void render_reserve(RenderScratch *scratch, Rendered *out, size_t bytes);
void render_scratch_free(RenderScratch *scratch);
/* The canonical spec rendered; a typed chain takes draw 0 of the training partition, seed 0. */
int chain_render_canonical(const ChainLib *lib, int chain, Rendered *out, Err *e);
void rendered_free(Rendered *r);

/* Places where the insert operator may add a phrase: the start of a step that begins with a
 * connective or a {X^} slot ("In fact, if it rains, ..."), and after every connective that is
 * not in the answer ("then in fact the street ..."). */
int chain_insert_sites(const ChainLib *lib, int chain);

#endif
