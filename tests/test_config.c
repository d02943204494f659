/*
 * test_config.c — the config loader: values and defaults, every error class (file, line, key
 * phrase), --set overrides, print/load round trips and config_where(). Runs from the repo root.
 */
#define _POSIX_C_SOURCE 200809L
#include "config.h"
#include "testlib.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_dir[256];
static char g_files[256][320];
static int g_nfiles;

/* Writes `text` to <tmpdir>/<name> and returns the path (valid until the end of main). */
static const char *write_cfg(const char *name, const char *text) {
    char *path = g_files[g_nfiles < 255 ? g_nfiles++ : 255];
    snprintf(path, sizeof g_files[0], "%s/%s", g_dir, name);
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL, "cannot write %s", path);
    if (fp) {
        fputs(text, fp);
        fclose(fp);
    }
    return path;
}

static int bits_equal(double a, double b) {
    return memcmp(&a, &b, sizeof a) == 0;
}

#define CHECK_INT(got, want)                                                                       \
    CHECK((got) == (want), "%s: got %lld want %lld", #got, (long long)(got), (long long)(want))
#define CHECK_DBL(got, want)                                                                       \
    CHECK(bits_equal((got), (want)), "%s: got %.17g want %.17g", #got, (double)(got),              \
          (double)(want))
#define CHECK_STR(got, want)                                                                       \
    CHECK(strcmp((got), (want)) == 0, "%s: got \"%s\" want \"%s\"", #got, (got), (want))

/* Loads and expects failure; returns the message (static). */
static const char *load_fail(const char *path, const char *const *ov, int n) {
    static Err e;
    Config c;
    memset(&e, 0, sizeof e);
    int rc = config_load(&c, path, ov, n, &e);
    CHECK(rc == -1, "loading %s should fail", path);
    CHECK(c.tree == NULL, "a failed load leaves no tree");
    if (rc == 0) config_free(&c);
    CHECK(e.msg[0] != '\0', "a failed load fills the error");
    return e.msg;
}

static int load_ok(Config *c, const char *path, const char *const *ov, int n) {
    Err e = {{0}};
    int rc = config_load(c, path, ov, n, &e);
    CHECK(rc == 0, "loading %s: %s", path, e.msg);
    return rc;
}

/* Field-by-field comparison; floats bit-exact. */
static void check_same(const Config *a, const Config *b) {
    CHECK_STR(a->model.path, b->model.path);
    CHECK_INT(a->model.random, b->model.random);
    CHECK_INT(a->model.layers, b->model.layers);
    CHECK_INT(a->model.heads, b->model.heads);
    CHECK_INT(a->model.width, b->model.width);
    CHECK_INT(a->model.vocab, b->model.vocab);
    CHECK_INT(a->model.context, b->model.context);
    CHECK_DBL(a->model.init_std, b->model.init_std);
    CHECK_INT(a->lora.rank, b->lora.rank);
    CHECK_DBL(a->lora.alpha, b->lora.alpha);
    CHECK_INT(a->lora.targets, b->lora.targets);
    CHECK_INT(a->lora.layer_first, b->lora.layer_first);
    CHECK_INT(a->lora.layer_last, b->lora.layer_last);
    CHECK_DBL(a->lora.dropout, b->lora.dropout);
    CHECK_INT(a->lora.rslora, b->lora.rslora);
    CHECK_DBL(a->optim.lr, b->optim.lr);
    CHECK_DBL(a->optim.beta1, b->optim.beta1);
    CHECK_DBL(a->optim.beta2, b->optim.beta2);
    CHECK_DBL(a->optim.eps, b->optim.eps);
    CHECK_DBL(a->optim.weight_decay, b->optim.weight_decay);
    CHECK_INT(a->optim.warmup, b->optim.warmup);
    CHECK_INT(a->optim.schedule, b->optim.schedule);
    CHECK_DBL(a->optim.min_lr_ratio, b->optim.min_lr_ratio);
    CHECK_DBL(a->optim.clip, b->optim.clip);
    CHECK_STR(a->data.path, b->data.path);
    CHECK_INT(a->data.format, b->data.format);
    CHECK_INT(a->data.sampling, b->data.sampling);
    CHECK_INT(a->batch.global, b->batch.global);
    CHECK_INT(a->batch.seq_len, b->batch.seq_len);
    CHECK_STR(a->run.dir, b->run.dir);
    CHECK_INT(a->run.steps, b->run.steps);
    CHECK_INT(a->run.checkpoint_every, b->run.checkpoint_every);
    CHECK_INT(a->run.log_every, b->run.log_every);
    CHECK_INT(a->run.threads, b->run.threads);
    CHECK(a->seed == b->seed, "seed: %llu vs %llu", (unsigned long long)a->seed,
          (unsigned long long)b->seed);
    CHECK_STR(a->model.tokenizer, b->model.tokenizer);
    CHECK_STR(a->data.val_path, b->data.val_path);
    CHECK_INT(a->run.eval_every, b->run.eval_every);
    CHECK_INT(a->run.eval_batches, b->run.eval_batches);

    const CurriculumConfig *ca = &a->curriculum, *cb = &b->curriculum;
    CHECK_INT(ca->enabled, cb->enabled);
    CHECK_INT(ca->n_libraries, cb->n_libraries);
    for (int i = 0; i < ca->n_libraries && i < CFG_MAX_LIBRARIES; i++)
        CHECK_STR(ca->libraries[i], cb->libraries[i]);
    CHECK_INT(ca->order, cb->order);
    CHECK_INT(ca->variants, cb->variants);
    CHECK_DBL(ca->heldout_band_lo, cb->heldout_band_lo);
    CHECK_DBL(ca->heldout_band_hi, cb->heldout_band_hi);
    CHECK_INT(ca->eval_every, cb->eval_every);
    CHECK_INT(ca->n_stages, cb->n_stages);
    for (int i = 0; i < ca->n_stages && i < CFG_MAX_STAGES; i++) {
        const StageSpec *x = &ca->stages[i], *y = &cb->stages[i];
        CHECK_STR(x->name, y->name);
        CHECK_INT(x->bridge, y->bridge);
        CHECK_DBL(x->band_lo, y->band_lo);
        CHECK_DBL(x->band_hi, y->band_hi);
        CHECK_INT(x->steps, y->steps);
        CHECK_DBL(x->replay, y->replay);
        CHECK_INT(x->pacing, y->pacing);
        CHECK_INT(x->loss, y->loss);
        CHECK_DBL(x->anchor_weight, y->anchor_weight);
        CHECK_INT(x->layer_first, y->layer_first);
        CHECK_INT(x->layer_last, y->layer_last);
        CHECK_INT(x->targets, y->targets);
        CHECK_DBL(x->lr_scale, y->lr_scale);
        CHECK_STR(x->until_metric, y->until_metric);
        CHECK_DBL(x->until_threshold, y->until_threshold);
    }
}

/* config_print -> file -> config_load, compared with the original. */
static void check_roundtrip(const Config *c, const char *name) {
    char path[320];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL, "open %s", path);
    if (!fp) return;
    config_print(c, fp);
    fclose(fp);
    snprintf(g_files[g_nfiles < 255 ? g_nfiles++ : 255], sizeof g_files[0], "%s", path);
    Config back;
    if (load_ok(&back, path, NULL, 0) != 0) return;
    check_same(c, &back);
    config_free(&back);
}

static const char *MINIMAL = "model = { random = { layers = 2; heads = 2; width = 32; vocab = 256;"
                             " context = 64; }; };\n"
                             "data = { path = \"d.bin\"; };\n";

/* ---- valid configs -------------------------------------------------------------------------- */

static void test_full(void) {
    Config c;
    if (load_ok(&c, "tests/configs/full.cfg", NULL, 0) != 0) return;
    CHECK_STR(c.model.path, "");
    CHECK_INT(c.model.random, 1);
    CHECK_INT(c.model.layers, 3);
    CHECK_INT(c.model.heads, 4);
    CHECK_INT(c.model.width, 48);
    CHECK_INT(c.model.vocab, 300);
    CHECK_INT(c.model.context, 128);
    CHECK_DBL(c.model.init_std, 0.05);
    CHECK_INT(c.lora.rank, 16);
    CHECK_DBL(c.lora.alpha, 32.0);
    CHECK_INT(c.lora.targets, LORA_Q | LORA_V);
    CHECK_INT(c.lora.layer_first, 1);
    CHECK_INT(c.lora.layer_last, 2);
    CHECK_DBL(c.lora.dropout, 0.1);
    CHECK_INT(c.lora.rslora, 1);
    CHECK_DBL(c.optim.lr, 3e-4);
    CHECK_DBL(c.optim.beta1, 0.8);
    CHECK_DBL(c.optim.beta2, 0.95);
    CHECK_DBL(c.optim.eps, 1e-6);
    CHECK_DBL(c.optim.weight_decay, 0.01);
    CHECK_INT(c.optim.warmup, 10);
    CHECK_INT(c.optim.schedule, SCHED_LINEAR);
    CHECK_DBL(c.optim.min_lr_ratio, 0.1);
    CHECK_DBL(c.optim.clip, 0.5);
    CHECK_STR(c.data.path, "tests/data/full.bin");
    CHECK_INT(c.data.format, DATA_BYTES);
    CHECK_INT(c.data.sampling, SAMPLE_SEQUENTIAL);
    CHECK_INT(c.batch.global, 16);
    CHECK_INT(c.batch.seq_len, 96);
    CHECK_STR(c.run.dir, "runs/full");
    CHECK_INT(c.run.steps, 250);
    CHECK_INT(c.run.checkpoint_every, 50);
    CHECK_INT(c.run.log_every, 5);
    CHECK_INT(c.run.threads, 2);
    CHECK(c.seed == 12345678901ULL, "seed %llu", (unsigned long long)c.seed);
    CHECK_STR(c.source, "tests/configs/full.cfg");
    CHECK(c.tree != NULL, "the tree is kept");
    CHECK_CLOSE(lora_scale(&c.lora), 32.0 / 4.0, 1e-15, 0, "rslora scale alpha/sqrt(16)");
    check_roundtrip(&c, "full_rt.cfg");
    config_free(&c);
    CHECK(c.tree == NULL, "config_free clears the tree");
    config_free(&c); /* twice is harmless */
}

static void test_defaults(void) {
    const char *p = write_cfg("minimal.cfg", MINIMAL);
    Config c;
    if (load_ok(&c, p, NULL, 0) != 0) return;
    CHECK_STR(c.model.path, "");
    CHECK_INT(c.model.random, 1);
    CHECK_INT(c.model.layers, 2);
    CHECK_DBL(c.model.init_std, 0.02);
    CHECK_INT(c.lora.rank, 8);
    CHECK_DBL(c.lora.alpha, 16.0);
    CHECK_INT(c.lora.targets, LORA_Q | LORA_K | LORA_V | LORA_O);
    CHECK_INT(c.lora.layer_first, 0);
    CHECK_INT(c.lora.layer_last, -1);
    CHECK_DBL(c.lora.dropout, 0.0);
    CHECK_INT(c.lora.rslora, 0);
    CHECK_DBL(c.optim.lr, 2e-3);
    CHECK_DBL(c.optim.beta1, 0.9);
    CHECK_DBL(c.optim.beta2, 0.999);
    CHECK_DBL(c.optim.eps, 1e-8);
    CHECK_DBL(c.optim.weight_decay, 0.0);
    CHECK_INT(c.optim.warmup, 0);
    CHECK_INT(c.optim.schedule, SCHED_COSINE);
    CHECK_DBL(c.optim.min_lr_ratio, 0.0);
    CHECK_DBL(c.optim.clip, 1.0);
    CHECK_STR(c.data.path, "d.bin");
    CHECK_INT(c.data.format, DATA_LLMC);
    CHECK_INT(c.data.sampling, SAMPLE_RANDOM);
    CHECK_INT(c.batch.global, 8);
    CHECK_INT(c.batch.seq_len, 64);
    CHECK_STR(c.run.dir, "runs/default");
    CHECK_INT(c.run.steps, 100);
    CHECK_INT(c.run.checkpoint_every, 0);
    CHECK_INT(c.run.log_every, 1);
    CHECK_INT(c.run.threads, 0);
    CHECK(c.seed == 1337, "seed default");
    CHECK_CLOSE(lora_scale(&c.lora), 2.0, 0, 0, "scale alpha/r = 16/8");
    check_roundtrip(&c, "minimal_rt.cfg");
    config_free(&c);
}

static void test_tiny_example(void) {
    Config c;
    if (load_ok(&c, "configs/tiny.cfg", NULL, 0) != 0) return;
    CHECK_INT(c.model.random, 1);
    CHECK_INT(c.model.layers, 2);
    CHECK_INT(c.model.heads, 2);
    CHECK_INT(c.model.width, 32);
    CHECK_INT(c.model.vocab, 256);
    CHECK_INT(c.model.context, 64);
    CHECK_STR(c.data.path, "tests/data/tiny.txt");
    CHECK_INT(c.data.format, DATA_BYTES);
    CHECK_INT(c.run.steps, 20);
    CHECK_STR(c.run.dir, "runs/tiny");
    config_free(&c);
}

static void test_model_path(void) {
    const char *p = write_cfg("path.cfg", "model = { path = \"gpt2\"; };\n"
                                          "data = { path = \"d.bin\"; };\n"
                                          "batch = { seq_len = 4096; };\n");
    Config c;
    if (load_ok(&c, p, NULL, 0) != 0) return;
    CHECK_STR(c.model.path, "gpt2");
    CHECK_INT(c.model.random, 0);
    CHECK_INT(c.batch.seq_len, 4096); /* no context to check against without model.random */
    check_roundtrip(&c, "path_rt.cfg");
    config_free(&c);
}

static void test_numeric_forms(void) {
    /* ints as int64, floats given as ints, hex ints, a big seed */
    const char *p = write_cfg("forms.cfg", "model = { path = \"gpt2\"; };\n"
                                           "data = { path = \"d.bin\"; };\n"
                                           "optim = { lr = 1; betas = [0, 0]; clip = 0; };\n"
                                           "run = { steps = 20L; threads = 0x10; };\n"
                                           "lora = { alpha = 7L; layers = [3, -1]; };\n"
                                           "seed = 9223372036854775807L;\n");
    Config c;
    if (load_ok(&c, p, NULL, 0) != 0) return;
    CHECK_DBL(c.optim.lr, 1.0);
    CHECK_DBL(c.optim.beta1, 0.0);
    CHECK_DBL(c.optim.clip, 0.0);
    CHECK_INT(c.run.steps, 20);
    CHECK_INT(c.run.threads, 16);
    CHECK_DBL(c.lora.alpha, 7.0);
    CHECK_INT(c.lora.layer_first, 3);
    CHECK_INT(c.lora.layer_last, -1);
    CHECK(c.seed == 9223372036854775807ULL, "max seed");
    check_roundtrip(&c, "forms_rt.cfg");
    config_free(&c);
}

/* ---- errors --------------------------------------------------------------------------------- */

static void test_file_errors(void) {
    const char *m = load_fail("tests/configs/does_not_exist.cfg", NULL, 0);
    CHECK_CONTAINS(m, "tests/configs/does_not_exist.cfg: cannot open: No such file or directory");

    m = load_fail("tests/configs/syntax_error.cfg", NULL, 0);
    CHECK_CONTAINS(m, "tests/configs/syntax_error.cfg:4: ");
    CHECK_CONTAINS(m, "syntax error");
    CHECK_CONTAINS(m, "; fix the syntax");

    m = load_fail("tests/configs", NULL, 0);
    CHECK_CONTAINS(m, "is a directory");

    m = load_fail("tests/configs/unknown_key.cfg", NULL, 0);
    CHECK_CONTAINS(m, "tests/configs/unknown_key.cfg:4: unknown key 'lora.rnk'; did you mean "
                      "'lora.rank'?");

    /* int literals libconfig 1.5 would silently wrap */
    const char *p =
        write_cfg("bigint.cfg", "model = { path = \"gpt2\"; };\n"
                                "data = { path = \"d.bin\"; }; # 99999999999 here is fine\n"
                                "run = {\n"
                                "  steps = 4294967297;\n"
                                "};\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "bigint.cfg:4: integer 4294967297 does not fit in 32 bits");
    CHECK_CONTAINS(m, "4294967297L");
}

static void test_unknown_keys(void) {
    const char *p = write_cfg("unk1.cfg", "model = { path = \"gpt2\"; };\n"
                                          "data = { path = \"d.bin\"; };\n"
                                          "lora = {\n"
                                          "  zzzzzzzz = 1;\n"
                                          "};\n");
    const char *m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "unk1.cfg:4: unknown key 'lora.zzzzzzzz'; valid keys in 'lora' are: rank, "
                      "alpha, targets, layers, dropout, rslora");

    p = write_cfg("unk2.cfg", "model = { path = \"gpt2\"; };\n"
                              "data = { path = \"d.bin\"; };\n"
                              "lora = { lr = 0.1; };\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "unk2.cfg:3: unknown key 'lora.lr'; did you mean 'optim.lr'?");

    p = write_cfg("unk3.cfg", "model = { path = \"gpt2\"; };\n"
                              "data = { path = \"d.bin\"; };\n\n"
                              "training = { steps = 3; };\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "unk3.cfg:4: unknown key 'training'; valid top-level keys are: model, "
                      "lora, optim, data, batch, run, reproducibility, seed");

    /* reproducibility = "invariant": the virtual shards must tile the global batch */
    p = write_cfg("shard.cfg", "model = { path = \"gpt2\"; };\n"
                               "data = { path = \"d.bin\"; };\n"
                               "reproducibility = \"invariant\";\n"
                               "batch = { global = 12;\n shard = 5; };\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "shard.cfg:5: 'batch.shard' = 5 does not divide 'batch.global' = 12; use a "
                      "divisor of the global batch, e.g. 4");
    p = write_cfg("repro.cfg", "model = { path = \"gpt2\"; };\n"
                               "data = { path = \"d.bin\"; };\n"
                               "reproducibility = \"exact\";\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "repro.cfg:3: 'reproducibility'");
    CHECK_CONTAINS(m, "rank-count, invariant");
    p = write_cfg("nonfinite.cfg", "model = { path = \"gpt2\"; };\n"
                                   "data = { path = \"d.bin\"; };\n"
                                   "optim = { nonfinite = \"ignore\"; };\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "nonfinite.cfg:3: 'optim.nonfinite'");
    CHECK_CONTAINS(m, "abort, skip");

    p = write_cfg("unk4.cfg", "model = { path = \"gpt2\"; };\n"
                              "data = { path = \"d.bin\"; };\n"
                              "sed = 3;\n"
                              "optim = { weightdecay = 0.1; };\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "unk4.cfg:3: unknown key 'sed'; did you mean 'seed'?");

    p = write_cfg("unk5.cfg", "model = { path = \"gpt2\"; };\n"
                              "data = { path = \"d.bin\"; };\n"
                              "optim = { weightdecay = 0.1; };\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "unk5.cfg:3: unknown key 'optim.weightdecay'; did you mean "
                      "'optim.weight_decay'?");

    p = write_cfg("unk6.cfg", "model = {\n  path = \"gpt2\";\n  random = { layer = 2; };\n};\n"
                              "data = { path = \"d.bin\"; };\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "unk6.cfg:3: unknown key 'model.random.layer'; did you mean "
                      "'model.random.layers'?");
}

static void test_type_errors(void) {
    const char *p = write_cfg("type1.cfg", "model = { path = \"gpt2\"; };\n"
                                           "data = { path = \"d.bin\"; };\n"
                                           "lora = {\n"
                                           "  alpha = 4.0;\n"
                                           "  rank = 8.5;\n"
                                           "};\n");
    const char *m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "type1.cfg:5: 'lora.rank' must be an integer, got a float (8.5)");

    p = write_cfg("type2.cfg", "model = { path = \"gpt2\"; };\n"
                               "data = { path = \"d.bin\"; };\n"
                               "optim = { lr = \"fast\"; };\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "type2.cfg:3: 'optim.lr' must be a number, got a string (\"fast\")");

    p = write_cfg("type3.cfg", "model = { path = \"gpt2\"; };\n"
                               "data = { path = \"d.bin\"; };\n"
                               "lora = 5;\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "type3.cfg:3: 'lora' must be a group, got an integer (5)");

    p = write_cfg("type4.cfg", "model = { path = \"gpt2\"; };\n"
                               "data = { path = \"d.bin\"; };\n"
                               "lora = { rslora = 1; };\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "type4.cfg:3: 'lora.rslora' must be a boolean");

    p = write_cfg("type5.cfg", "model = { path = \"gpt2\"; };\n"
                               "data = { path = \"d.bin\"; };\n"
                               "lora = { targets = [1, 2]; };\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "type5.cfg:3: 'lora.targets' must be an array of strings, got an integer");

    p = write_cfg("type6.cfg", "model = { path = \"gpt2\"; };\n"
                               "data = { path = \"d.bin\"; };\n"
                               "lora = { layers = [0.5, 1.0]; };\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "type6.cfg:3: 'lora.layers' must be an array of 2 integers, got a float");

    p = write_cfg("type7.cfg", "model = { path = \"gpt2\"; };\n"
                               "data = { path = 7; };\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "type7.cfg:2: 'data.path' must be a string, got an integer (7)");

    p = write_cfg("type8.cfg", "model = \"gpt2\";\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "type8.cfg:1: 'model' must be a group, got a string (\"gpt2\")");
}

static void test_range_errors(void) {
    static const struct {
        const char *line3; /* placed on line 3 */
        const char *want;
    } cases[] = {
        {"lora = { dropout = 1.5; };",
         "'lora.dropout' = 1.5 is out of range; it must be in [0, 1)"},
        {"lora = { rank = 0; };", "'lora.rank' = 0 is out of range; it must be in [1, 1024]"},
        {"optim = { lr = 0.0; };", "'optim.lr' = 0 is out of range; it must be in (0, 10]"},
        {"optim = { betas = [0.9, 1.0]; };", "'optim.betas' element 1 = 1 is out of range; it "
                                             "must be in [0, 1)"},
        {"optim = { clip = 2e6; };", "'optim.clip' = 2000000 is out of range; it must be in [0, "
                                     "1000000]"},
        {"seed = -1;", "'seed' = -1 is out of range; it must be in [0, 9223372036854775807]"},
        {"run = { steps = 0; };", "'run.steps' = 0 is out of range"},
        {"lora = { layers = [-1, 3]; };", "'lora.layers' element 0 = -1 is out of range"},
        {"lora = { layers = [2, 1]; };", "'lora.layers' = [2, 1] has first > last"},
        {"lora = { layers = [0]; };", "'lora.layers' must have 2 elements, got 1"},
        {"lora = { targets = [\"q\", \"x\"]; };", "'lora.targets' element \"x\" is not one of q, "
                                                  "k, v, o"},
        {"lora = { targets = [\"q\", \"q\"]; };", "'lora.targets' lists \"q\" twice"},
        {"lora = { targets = []; };", "'lora.targets' is empty"},
        {"data = { format = \"text\"; };", "'data.format' = \"text\" is not one of llmc, bytes"},
        {"run = { dir = \"\"; };", "'run.dir' is empty"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512], name[64], want[300];
        static const char *const data_path[] = {"data.path=d.bin"};
        snprintf(text, sizeof text, "model = { path = \"gpt2\"; };\n\n%s\n", cases[i].line3);
        snprintf(name, sizeof name, "range%zu.cfg", i);
        const char *m = load_fail(write_cfg(name, text), data_path, 1);
        snprintf(want, sizeof want, "%s:3: %s", name, cases[i].want);
        CHECK_CONTAINS(m, want);
    }

    const char *p = write_cfg("enum.cfg", "model = { path = \"gpt2\"; };\n"
                                          "data = { path = \"d.bin\"; };\n"
                                          "optim = {\n"
                                          "  lr = 1e-3;\n"
                                          "  schedule = \"cosin\";\n"
                                          "};\n");
    const char *m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "enum.cfg:5: 'optim.schedule' = \"cosin\" is not one of cosine, linear, "
                      "constant; did you mean \"cosine\"?");
}

static void test_required_and_cross(void) {
    const char *p = write_cfg("nodata.cfg", "model = { path = \"gpt2\"; };\n");
    const char *m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "nodata.cfg: missing required key 'data.path'; add it, e.g. data = { path "
                      "= \"...\"; };");

    p = write_cfg("nodata2.cfg",
                  "model = { path = \"gpt2\"; };\n\ndata = { format = \"bytes\"; };\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "nodata2.cfg:3: missing required key 'data.path'");

    p = write_cfg("nomodel.cfg", "data = { path = \"d.bin\"; };\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "nomodel.cfg: missing required key 'model.path' or 'model.random'");

    p = write_cfg("both.cfg", "data = { path = \"d.bin\"; };\n"
                              "model = {\n"
                              "  path = \"gpt2\";\n"
                              "  random = { layers = 2; heads = 2; width = 32; vocab = 256; "
                              "context = 64; };\n"
                              "};\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "both.cfg:4: 'model.path' and 'model.random' are both given");

    p = write_cfg("noheads.cfg",
                  "data = { path = \"d.bin\"; };\n"
                  "model = {\n"
                  "  random = { layers = 2; width = 32; vocab = 256; context = 64; };\n"
                  "};\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "noheads.cfg:3: missing required key 'model.random.heads'; add it, e.g. "
                      "model = { random = { heads = 12; }; };");

    p = write_cfg("width.cfg", "data = { path = \"d.bin\"; };\n"
                               "model = { random = {\n"
                               "  layers = 2;\n"
                               "  heads = 4;\n"
                               "  width = 30;\n"
                               "  vocab = 256;\n"
                               "  context = 64;\n"
                               "}; };\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "width.cfg:5: 'model.random.width' = 30 is not divisible by "
                      "'model.random.heads' = 4");

    p = write_cfg("seqlen.cfg", "data = { path = \"d.bin\"; };\n"
                                "model = { random = { layers = 2; heads = 2; width = 32; vocab = "
                                "256; context = 64; }; };\n"
                                "batch = {\n"
                                "  seq_len = 128;\n"
                                "};\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "seqlen.cfg:4: 'batch.seq_len' = 128 exceeds 'model.random.context' = 64");

    /* the default seq_len (64) against a short context: reported at the context's line */
    p = write_cfg("seqlen2.cfg", "data = { path = \"d.bin\"; };\n"
                                 "model = { random = { layers = 2; heads = 2; width = 32; vocab = "
                                 "256;\n"
                                 "  context = 32; }; };\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "seqlen2.cfg:3: 'batch.seq_len' = 64 (the default) exceeds");
}

/* ---- overrides ------------------------------------------------------------------------------ */

static void test_overrides(void) {
    const char *p = write_cfg("ov.cfg", "model = { path = \"gpt2\"; };\n"
                                        "data = { path = \"d.bin\"; };\n"
                                        "lora = {\n"
                                        "  rank = 4;\n"
                                        "  alpha = 8.0;\n"
                                        "};\n");
    const char *ov[] = {
        "lora.rank=16",
        "optim.betas=[0.9, 0.95]",
        "data.path=foo.bin",
        "optim.schedule = linear",
        "run.dir=\"runs/with space\"",
        "model.random.layers=3",
        "model.random={layers=3; heads=2; width=32; vocab=256; context=64;}",
        "model.random.layers=5",
        "model.path=",
        "seed=12345678901L",
        "optim.warmup=7",
        "run.checkpoint_every=1",
        "run.checkpoint_every=2",
    };
    Config c;
    if (load_ok(&c, p, ov, (int)(sizeof ov / sizeof ov[0])) != 0) return;
    CHECK_INT(c.lora.rank, 16);
    CHECK_DBL(c.lora.alpha, 8.0);
    CHECK_DBL(c.optim.beta1, 0.9);
    CHECK_DBL(c.optim.beta2, 0.95);
    CHECK_STR(c.data.path, "foo.bin");
    CHECK_INT(c.optim.schedule, SCHED_LINEAR);
    CHECK_STR(c.run.dir, "runs/with space");
    CHECK_INT(c.model.random, 1);
    CHECK_INT(c.model.layers, 5);
    CHECK_INT(c.model.heads, 2);
    CHECK_STR(c.model.path, "");
    CHECK(c.seed == 12345678901ULL, "seed via override");
    CHECK_INT(c.optim.warmup, 7);
    CHECK_INT(c.run.checkpoint_every, 2);

    char buf[512];
    CHECK_STR(config_where(&c, "lora.rank", buf, sizeof buf), "--set lora.rank");
    CHECK_STR(config_where(&c, "optim.warmup", buf, sizeof buf), "--set optim.warmup");
    CHECK_STR(config_where(&c, "model.random.layers", buf, sizeof buf),
              "--set model.random.layers");
    CHECK_STR(config_where(&c, "model.random.heads", buf, sizeof buf), "--set model.random");
    char want[400];
    snprintf(want, sizeof want, "%s:5", p);
    CHECK_STR(config_where(&c, "lora.alpha", buf, sizeof buf), want);
    snprintf(want, sizeof want, "%s (default)", p);
    CHECK_STR(config_where(&c, "optim.clip", buf, sizeof buf), want);
    check_roundtrip(&c, "ov_rt.cfg");
    config_free(&c);

    /* a model.path override switches a random-model config to a checkpoint */
    const char *ov2[] = {"model.path=gpt2-medium", "model.random.width=64"};
    const char *m = load_fail(p, ov2, 2);
    CHECK_CONTAINS(m, "--set model.random.width: 'model.path' and 'model.random' are both given");

    /* a string key given a number takes the text */
    const char *ov3[] = {"data.path=123"};
    if (load_ok(&c, p, ov3, 1) == 0) {
        CHECK_STR(c.data.path, "123");
        config_free(&c);
    }
}

static void test_override_errors(void) {
    const char *p = write_cfg("ove.cfg", "model = { path = \"gpt2\"; };\n"
                                         "data = { path = \"d.bin\"; };\n");
    const char *ov1[] = {"lora.rnk=16"};
    const char *m = load_fail(p, ov1, 1);
    CHECK_CONTAINS(m, "--set lora.rnk: unknown key 'lora.rnk'; did you mean 'lora.rank'?");

    const char *ov2[] = {"lora.rank=8.5"};
    m = load_fail(p, ov2, 1);
    CHECK_CONTAINS(m, "--set lora.rank: 'lora.rank' must be an integer, got a float (8.5)");

    const char *ov3[] = {"lora.dropout=2"};
    m = load_fail(p, ov3, 1);
    CHECK_CONTAINS(m, "--set lora.dropout: 'lora.dropout' = 2 is out of range");

    const char *ov4[] = {"lora.rank"};
    m = load_fail(p, ov4, 1);
    CHECK_CONTAINS(m, "--set lora.rank: expected key=value");

    const char *ov5[] = {"lora.rank=abc"};
    m = load_fail(p, ov5, 1);
    CHECK_CONTAINS(m, "--set lora.rank: cannot parse value 'abc'");

    const char *ov6[] = {"lora.rank=4; seed=5"};
    m = load_fail(p, ov6, 1);
    CHECK_CONTAINS(m, "--set lora.rank: cannot parse value");

    const char *ov7[] = {"optim.schedule=cosin"};
    m = load_fail(p, ov7, 1);
    CHECK_CONTAINS(m, "--set optim.schedule: 'optim.schedule' = \"cosin\" is not one of");

    const char *ov8[] = {"lora={rank=8.5;}"};
    m = load_fail(p, ov8, 1);
    CHECK_CONTAINS(m, "--set lora: 'lora.rank' must be an integer");

    const char *ov9[] = {"run.steps=4294967297"};
    m = load_fail(p, ov9, 1);
    CHECK_CONTAINS(m, "--set run.steps: integer 4294967297 does not fit in 32 bits");

    const char *ov10[] = {"lora.rank.x=1"};
    m = load_fail(p, ov10, 1);
    CHECK_CONTAINS(m, "--set lora.rank.x: unknown key 'lora.rank.x'");

    /* a scalar in the file where the override needs a group */
    const char *q = write_cfg("ove2.cfg", "model = { path = \"gpt2\"; };\n"
                                          "data = { path = \"d.bin\"; };\n"
                                          "lora = 3;\n");
    const char *ov11[] = {"lora.rank=4"};
    m = load_fail(q, ov11, 1);
    CHECK_CONTAINS(m, "ove2.cfg:3: 'lora' must be a group, got an integer (3)");
}

/* ---- print / save / where ------------------------------------------------------------------- */

static void test_print_roundtrip(void) {
    const char *p = write_cfg("rt.cfg", "model = { random = { layers = 2; heads = 2; width = 32;\n"
                                        "  vocab = 256; context = 64; std = 0.1; }; };\n"
                                        "lora = { alpha = 0.1; dropout = 0.3; targets = [\"v\", "
                                        "\"q\"];\n  layers = [1, -1]; rslora = true; };\n"
                                        "optim = { lr = 3e-4; betas = [0.9, 0.95]; eps = 1e-12;\n"
                                        "  weight_decay = 0.1; min_lr_ratio = 0.1; clip = 1e6;\n"
                                        "  schedule = \"constant\"; };\n"
                                        "data = { path = \"we\\\"ird\\\\pa\\tth.bin\"; };\n"
                                        "seed = 0;\n");
    Config c;
    if (load_ok(&c, p, NULL, 0) != 0) return;
    CHECK_STR(c.data.path, "we\"ird\\pa\tth.bin");
    CHECK_DBL(c.optim.lr, 3e-4);
    CHECK_DBL(c.lora.alpha, 0.1);
    CHECK_INT(c.lora.targets, LORA_Q | LORA_V);
    check_roundtrip(&c, "rt_rt.cfg");

    /* text details: grouped, floats always float literals, no model.path with random */
    char path[320];
    snprintf(path, sizeof path, "%s/rt_print.cfg", g_dir);
    FILE *fp = fopen(path, "w+");
    CHECK(fp != NULL, "open %s", path);
    if (fp) {
        config_print(&c, fp);
        rewind(fp);
        static char text[16384];
        size_t n = fread(text, 1, sizeof text - 1, fp);
        text[n] = '\0';
        fclose(fp);
        unlink(path);
        CHECK_CONTAINS(text, "model = {");
        CHECK_CONTAINS(text, "random = {");
        CHECK_CONTAINS(text, "lr = 0.0003;");
        CHECK_CONTAINS(text, "alpha = 0.1;");
        CHECK_CONTAINS(text, "weight_decay = 0.1;");
        CHECK_CONTAINS(text, "clip = 1000000.0;");
        CHECK_CONTAINS(text, "eps = 1e-12;");
        CHECK_CONTAINS(text, "min_lr_ratio = 0.1;");
        CHECK_CONTAINS(text, "targets = [\"q\", \"v\"];");
        CHECK_CONTAINS(text, "schedule = \"constant\";");
        CHECK_CONTAINS(text, "path = \"we\\\"ird\\\\pa\\tth.bin\";");
        CHECK_CONTAINS(text, "seed = 0;");
        CHECK(strstr(text, "    path = \"\"") == NULL, "no model.path when random:\n%s", text);
    }

    /* config_save writes the same thing atomically */
    char saved[320];
    snprintf(saved, sizeof saved, "%s/saved.cfg", g_dir);
    Err e = {{0}};
    CHECK(config_save(&c, saved, &e) == 0, "config_save: %s", e.msg);
    snprintf(g_files[g_nfiles < 255 ? g_nfiles++ : 255], sizeof g_files[0], "%s", saved);
    Config back;
    if (load_ok(&back, saved, NULL, 0) == 0) {
        check_same(&c, &back);
        config_free(&back);
    }
    char bad[320];
    snprintf(bad, sizeof bad, "%s/no/such/dir/x.cfg", g_dir);
    CHECK(config_save(&c, bad, &e) == -1, "config_save into a missing directory fails");
    CHECK_CONTAINS(e.msg, "cannot create");
    config_free(&c);

    /* awkward doubles survive the trip bit-exactly */
    static const double vals[] = {0.1,    3e-4,   1.0 / 3.0,          0.30000000000000004,
                                  5e-324, 1e-300, 0.9999999999999999, 2.2250738585072014e-308};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        if (load_ok(&c, p, NULL, 0) != 0) return;
        c.optim.eps = vals[i];
        c.lora.dropout = vals[i] < 1 ? vals[i] : 0.5;
        c.optim.beta2 = vals[i];
        check_roundtrip(&c, "vals_rt.cfg");
        config_free(&c);
    }
}

static void test_where(void) {
    const char *p = write_cfg("where.cfg", "model = { path = \"gpt2\"; };\n"
                                           "data = { path = \"d.bin\"; };\n"
                                           "lora = {\n"
                                           "  layers = [0, 5];\n"
                                           "};\n");
    const char *ov[] = {"lora.rank=32"};
    Config c;
    if (load_ok(&c, p, ov, 1) != 0) return;
    char buf[512], want[400];
    snprintf(want, sizeof want, "%s:4", p);
    CHECK_STR(config_where(&c, "lora.layers", buf, sizeof buf), want);
    snprintf(want, sizeof want, "%s:3", p);
    CHECK_STR(config_where(&c, "lora", buf, sizeof buf), want);
    CHECK_STR(config_where(&c, "lora.rank", buf, sizeof buf), "--set lora.rank");
    snprintf(want, sizeof want, "%s (default)", p);
    CHECK_STR(config_where(&c, "run.steps", buf, sizeof buf), want);
    char small[8];
    config_where(&c, "lora.rank", small, sizeof small);
    CHECK(strlen(small) == 7, "config_where truncates to the buffer");
    config_free(&c);
}

static void test_lora_scale(void) {
    LoraConfig lc = {.rank = 8, .alpha = 16.0, .rslora = 0};
    CHECK_CLOSE(lora_scale(&lc), 2.0, 0, 0, "alpha/r");
    lc.rslora = 1;
    CHECK_CLOSE(lora_scale(&lc), 16.0 / sqrt(8.0), 1e-15, 0, "alpha/sqrt(r)");
    lc.rank = 1;
    CHECK_CLOSE(lora_scale(&lc), 16.0, 0, 0, "rank 1");
}

/* ---- the curriculum ------------------------------------------------------------------------- */

#define ALL_TARGETS (LORA_Q | LORA_K | LORA_V | LORA_O)

/* Checks the stage fields that have defaults. */
static void check_stage_defaults(const StageSpec *st) {
    CHECK_INT(st->bridge, 0);
    CHECK_DBL(st->replay, 0.0);
    CHECK_INT(st->pacing, PACING_LINEAR);
    CHECK_INT(st->loss, LOSS_TRAIL);
    CHECK_DBL(st->anchor_weight, 1.0);
    CHECK_INT(st->layer_first, 0);
    CHECK_INT(st->layer_last, -1);
    CHECK_INT(st->targets, ALL_TARGETS);
    CHECK_DBL(st->lr_scale, 1.0);
    CHECK_STR(st->until_metric, "");
    CHECK_DBL(st->until_threshold, 0.0);
}

static void test_curriculum(void) {
    const char *p = "tests/configs/curriculum.cfg";
    Config c;
    if (load_ok(&c, p, NULL, 0) != 0) return;
    const CurriculumConfig *cc = &c.curriculum;
    CHECK_INT(cc->enabled, 1);
    CHECK_STR(c.data.path, ""); /* optional with a curriculum */
    CHECK_INT(cc->n_libraries, 2);
    CHECK_STR(cc->libraries[0], "curriculum/chains/en.cfg");
    CHECK_STR(cc->libraries[1], "curriculum/chains/ru.cfg");
    CHECK_INT(cc->order, ORDER_CURRICULUM);
    CHECK_INT(cc->variants, 8);
    CHECK_DBL(cc->heldout_band_lo, 0.10);
    CHECK_DBL(cc->heldout_band_hi, 0.40);
    CHECK_INT(cc->eval_every, 50);
    CHECK_INT(cc->n_stages, 4);

    const StageSpec *s0 = &cc->stages[0];
    CHECK_STR(s0->name, "anchor");
    CHECK_DBL(s0->band_lo, 0.0);
    CHECK_DBL(s0->band_hi, 0.05);
    CHECK_INT(s0->steps, 200);
    check_stage_defaults(s0);

    const StageSpec *s1 = &cc->stages[1];
    CHECK_STR(s1->name, "bridge-1");
    CHECK_INT(s1->bridge, 1);
    CHECK_INT(s1->pacing, PACING_LINEAR);
    CHECK_INT(s1->steps, 100);
    CHECK_DBL(s1->band_lo, 0.0); /* a bridge has no band of its own */
    CHECK_DBL(s1->band_hi, 0.0);
    CHECK_INT(s1->loss, LOSS_TRAIL);
    CHECK_DBL(s1->lr_scale, 1.0);
    CHECK_STR(s1->until_metric, "");

    const StageSpec *s2 = &cc->stages[2];
    CHECK_STR(s2->name, "drift");
    CHECK_INT(s2->bridge, 0);
    CHECK_DBL(s2->band_lo, 0.10);
    CHECK_DBL(s2->band_hi, 0.30);
    CHECK_INT(s2->steps, 300);
    CHECK_DBL(s2->replay, 0.2);
    CHECK_INT(s2->layer_first, 2);
    CHECK_INT(s2->layer_last, 5);
    CHECK_INT(s2->targets, LORA_Q | LORA_V);
    CHECK_DBL(s2->lr_scale, 0.5);
    CHECK_DBL(s2->anchor_weight, 2.0);
    CHECK_INT(s2->loss, LOSS_CONNECTIVES_CONCLUSION);
    CHECK_INT(s2->pacing, PACING_LINEAR);
    CHECK_STR(s2->until_metric, "");

    const StageSpec *s3 = &cc->stages[3];
    CHECK_STR(s3->name, "free");
    CHECK_DBL(s3->band_lo, 0.30);
    CHECK_DBL(s3->band_hi, 0.60);
    CHECK_INT(s3->steps, 600);
    CHECK_STR(s3->until_metric, "heldout_entities.em");
    CHECK_DBL(s3->until_threshold, 0.8);
    CHECK_INT(s3->loss, LOSS_TRAIL);
    CHECK_INT(s3->targets, ALL_TARGETS);

    /* config_where inside list elements ([n] paths) */
    char buf[512], want[400];
    snprintf(want, sizeof want, "%s:12", p);
    CHECK_STR(config_where(&c, "curriculum.stages.[2].steps", buf, sizeof buf), want);
    CHECK_STR(config_where(&c, "curriculum.stages.[2]", buf, sizeof buf), want);
    snprintf(want, sizeof want, "%s:15", p);
    CHECK_STR(config_where(&c, "curriculum.stages.[3].until.threshold", buf, sizeof buf), want);
    snprintf(want, sizeof want, "%s:10", p);
    CHECK_STR(config_where(&c, "curriculum.stages.[0].band", buf, sizeof buf), want);
    snprintf(want, sizeof want, "%s:4", p);
    CHECK_STR(config_where(&c, "curriculum.library", buf, sizeof buf), want);
    snprintf(want, sizeof want, "%s (default)", p);
    CHECK_STR(config_where(&c, "curriculum.stages.[1].band", buf, sizeof buf), want);
    CHECK_STR(config_where(&c, "curriculum.stages.[0].lr_scale", buf, sizeof buf), want);
    CHECK_STR(config_where(&c, "curriculum.stages.[9].steps", buf, sizeof buf), want);

    check_roundtrip(&c, "curriculum_rt.cfg");

    /* the printed text: bridges without band, stages without until without the group */
    char path[320];
    snprintf(path, sizeof path, "%s/curriculum_print.cfg", g_dir);
    FILE *fp = fopen(path, "w+");
    CHECK(fp != NULL, "open %s", path);
    if (fp) {
        config_print(&c, fp);
        rewind(fp);
        static char text[65536];
        size_t n = fread(text, 1, sizeof text - 1, fp);
        text[n] = '\0';
        fclose(fp);
        unlink(path);
        CHECK_CONTAINS(text, "curriculum = {");
        CHECK_CONTAINS(text, "library = [\"curriculum/chains/en.cfg\", "
                             "\"curriculum/chains/ru.cfg\"];");
        CHECK_CONTAINS(text, "stages = (");
        CHECK_CONTAINS(text, "loss = \"connectives+conclusion\";");
        CHECK_CONTAINS(text, "metric = \"heldout_entities.em\";");
        CHECK_CONTAINS(text, "threshold = 0.8;");
        int bands = 0, untils = 0;
        for (const char *q = text; (q = strstr(q, " band = [")) != NULL; q++) bands++;
        for (const char *q = text; (q = strstr(q, " until = {")) != NULL; q++) untils++;
        CHECK_INT(bands, 3);  /* not on the bridge */
        CHECK_INT(untils, 1); /* only the stage that has one */
        CHECK(strstr(text, "    path = \"\"") == NULL, "no empty data.path:\n%s", text);
    }

    /* a curriculum still takes data.path when given */
    const char *q = write_cfg("cur_data.cfg", "model = { path = \"gpt2\"; };\n"
                                              "data = { path = \"d.bin\"; format = \"bytes\"; };\n"
                                              "curriculum = { library = [\"a.cfg\"];\n"
                                              "  stages = ( { band = [0.0, 1.0]; steps = 5; } );\n"
                                              "};\n");
    Config d;
    if (load_ok(&d, q, NULL, 0) == 0) {
        CHECK_STR(d.data.path, "d.bin");
        CHECK_INT(d.data.format, DATA_BYTES);
        check_roundtrip(&d, "cur_data_rt.cfg");
        config_free(&d);
    }

    /* --set of curriculum keys outside the stages */
    const char *ov[] = {"curriculum.order=shuffled", "curriculum.variants=6",
                        "curriculum.heldout_band=[0.2, 0.3]"};
    Config o;
    if (load_ok(&o, p, ov, 3) == 0) {
        CHECK_INT(o.curriculum.order, ORDER_SHUFFLED);
        CHECK_INT(o.curriculum.variants, 6);
        CHECK_DBL(o.curriculum.heldout_band_lo, 0.2);
        CHECK_DBL(o.curriculum.heldout_band_hi, 0.3);
        CHECK_INT(o.curriculum.n_stages, 4);
        CHECK_STR(o.curriculum.stages[3].name, "free");
        CHECK_STR(config_where(&o, "curriculum.order", buf, sizeof buf), "--set curriculum.order");
        check_roundtrip(&o, "curriculum_ov_rt.cfg");
        config_free(&o);
    }
    config_free(&c);
}

static void test_curriculum_defaults(void) {
    const char *p =
        write_cfg("cur_min.cfg", "model = { path = \"gpt2\"; };\n"
                                 "curriculum = {\n"
                                 "  library = [\"a.cfg\"];\n"
                                 "  stages = (\n"
                                 "    { band = [0.0, 0.1]; steps = 10; },\n"
                                 "    { bridge = true; pacing = \"root\"; steps = 4; },\n"
                                 "    { band = [0.1, 0.2]; steps = 20; loss = "
                                 "\"conclusion\"; layers = [1, -1]; }\n"
                                 "  );\n"
                                 "};\n");
    Config c;
    if (load_ok(&c, p, NULL, 0) != 0) return;
    const CurriculumConfig *cc = &c.curriculum;
    CHECK_INT(cc->enabled, 1);
    CHECK_INT(cc->n_libraries, 1);
    CHECK_STR(cc->libraries[0], "a.cfg");
    CHECK_INT(cc->order, ORDER_CURRICULUM);
    CHECK_INT(cc->variants, 8);
    CHECK_DBL(cc->heldout_band_lo, 0.1);
    CHECK_DBL(cc->heldout_band_hi, 0.4);
    CHECK_INT(cc->eval_every, 50);
    CHECK_INT(cc->n_stages, 3);
    CHECK_STR(cc->stages[0].name, "stage-0"); /* default names carry the index */
    CHECK_STR(cc->stages[1].name, "stage-1");
    CHECK_STR(cc->stages[2].name, "stage-2");
    check_stage_defaults(&cc->stages[0]);
    CHECK_INT(cc->stages[1].bridge, 1);
    CHECK_INT(cc->stages[1].pacing, PACING_ROOT);
    CHECK_INT(cc->stages[2].loss, LOSS_CONCLUSION);
    CHECK_INT(cc->stages[2].layer_first, 1);
    CHECK_INT(cc->stages[2].layer_last, -1);
    check_roundtrip(&c, "cur_min_rt.cfg");
    config_free(&c);

    /* without a curriculum the group stays off and is not printed */
    const char *q = write_cfg("cur_none.cfg", MINIMAL);
    if (load_ok(&c, q, NULL, 0) != 0) return;
    CHECK_INT(c.curriculum.enabled, 0);
    CHECK_INT(c.curriculum.n_stages, 0);
    CHECK_INT(c.curriculum.n_libraries, 0);
    config_free(&c);
}

/* A curriculum config whose stage text starts on line 5 (library on line 3). */
static const char *cur_cfg(const char *name, const char *stages) {
    CHECK(strlen(stages) < 4096, "stage text too long");
    static char text[8192];
    snprintf(text, sizeof text,                /* stages: at most 4096 bytes */
             "model = { path = \"gpt2\"; };\n" /* 1 */
             "curriculum = {\n"                /* 2 */
             "  library = [\"a.cfg\"];\n"      /* 3 */
             "  stages = (\n"                  /* 4 */
             "%s\n"                            /* 5.. */
             "  );\n"
             "};\n",
             stages);
    return write_cfg(name, text);
}

static void test_curriculum_errors(void) {
    static const struct {
        const char *name, *stages;
        const char *want[2]; /* after "<name>:"; the second may be NULL */
    } cases[] = {
        {"cur_unk.cfg",
         "{ band = [0.0, 0.1]; steps = 10; },\n"
         "{ band = [0.1, 0.2];\n"
         "  stpes = 10; }",
         {"7: unknown key 'curriculum.stages.[1].stpes'; did you mean "
          "'curriculum.stages.[1].steps'?"}},
        {"cur_unk2.cfg",
         "{ band = [0.0, 0.1]; steps = 10; zzzzzzzz = 1; }",
         {"5: unknown key 'curriculum.stages.[0].zzzzzzzz'; valid keys in "
          "'curriculum.stages.[0]' are: name, bridge, band, steps, replay, pacing, loss, "
          "anchor_weight, layers, targets, lr_scale, until"}},
        {"cur_unk3.cfg",
         "{ band = [0.0, 0.1]; steps = 10;\n"
         "  until = { metrc = \"train.em\"; threshold = 1.0; }; }",
         {"6: unknown key 'curriculum.stages.[0].until.metrc'; did you mean "
          "'curriculum.stages.[0].until.metric'?"}},
        {"cur_bandbridge.cfg",
         "{ band = [0.0, 0.1]; steps = 10; },\n"
         "{ bridge = true; steps = 5;\n"
         "  band = [0.1, 0.2]; },\n"
         "{ band = [0.2, 0.3]; steps = 10; }",
         {"7: 'curriculum.stages.[1].band' is given on a bridge (\"stage-1\")",
          "a bridge takes its bands from its neighbours"}},
        {"cur_noband.cfg",
         "{ band = [0.0, 0.1]; steps = 10; },\n"
         "{ name = \"x\"; steps = 10; }",
         {"6: missing required key 'curriculum.stages.[1].band' (stage \"x\")", "bridge = true"}},
        {"cur_nosteps.cfg",
         "{ band = [0.0, 0.1]; steps = 10; },\n"
         "{ name = \"b\"; band = [0.1, 0.2]; }",
         {"6: missing required key 'curriculum.stages.[1].steps'; add it, e.g. steps = 200;"}},
        {"cur_first.cfg",
         "{ bridge = true; steps = 5; },\n"
         "{ band = [0.0, 0.1]; steps = 10; }",
         {"5: stage 'curriculum.stages.[0]' (\"stage-0\") is a bridge but it is the first stage",
          "a bridge needs a non-bridge stage before and after it"}},
        {"cur_last.cfg",
         "{ band = [0.0, 0.1]; steps = 10; },\n"
         "{ name = \"tail\"; bridge = true; steps = 5; }",
         {"6: stage 'curriculum.stages.[1]' (\"tail\") is a bridge but it is the last stage",
          "add a stage with a band after it"}},
        {"cur_twobridges.cfg",
         "{ band = [0.0, 0.1]; steps = 10; },\n"
         "{ bridge = true; steps = 5; },\n"
         "{ bridge = true; steps = 5; },\n"
         "{ band = [0.2, 0.3]; steps = 10; }",
         {"6: stage 'curriculum.stages.[1]' (\"stage-1\") is a bridge and so is the stage after "
          "it ('curriculum.stages.[2]', \"stage-2\")",
          "needs a non-bridge stage before and after it"}},
        {"cur_allbridges.cfg",
         "{ bridge = true; steps = 5; }",
         {"4: 'curriculum.stages' has only bridges",
          "needs at least one stage with a band (bridge = false)"}},
        {"cur_loss.cfg",
         "{ band = [0.0, 0.1]; steps = 10;\n"
         "  loss = \"trial\"; }",
         {"6: 'curriculum.stages.[0].loss' = \"trial\" is not one of trail, "
          "connectives+conclusion, conclusion; did you mean \"trail\"?"}},
        {"cur_dup.cfg",
         "{ name = \"a\"; band = [0.0, 0.1]; steps = 10; },\n"
         "{ name = \"a\"; band = [0.1, 0.2]; steps = 10; }",
         {"6: stage name \"a\" of 'curriculum.stages.[1]' is already used by "
          "'curriculum.stages.[0]' (",
          "cur_dup.cfg:5); give each stage a unique name"}},
        {"cur_dup2.cfg",
         "{ band = [0.0, 0.1]; steps = 10; },\n"
         "{ name = \"stage-0\"; band = [0.1, 0.2]; steps = 10; }",
         {"6: stage name \"stage-0\" of 'curriculum.stages.[1]' is already used by "
          "'curriculum.stages.[0]' (its default name) (",
          "cur_dup2.cfg:5); give each stage a unique name"}},
        {"cur_nothreshold.cfg",
         "{ band = [0.0, 0.1]; steps = 10;\n"
         "  until = { metric = \"train.em\"; }; }",
         {"6: missing required key 'curriculum.stages.[0].until.threshold'; add it, e.g. "
          "until = { threshold = 0.8; };"}},
        {"cur_nometric.cfg",
         "{ band = [0.0, 0.1]; steps = 10;\n"
         "  until = { threshold = 0.5; }; }",
         {"6: missing required key 'curriculum.stages.[0].until.metric'"}},
        {"cur_metric.cfg",
         "{ band = [0.0, 0.1]; steps = 10;\n"
         "  until = { metric = \"heldout_entites.em\"; threshold = 0.5; }; }",
         {"6: 'curriculum.stages.[0].until.metric' = \"heldout_entites.em\" is not one of "
          "heldout_variants.em, heldout_entities.em, heldout_chains.em, train.em, ",
          "did you mean \"heldout_entities.em\"?"}},
        {"cur_metric2.cfg",
         "{ band = [0.0, 0.1]; steps = 10;\n"
         "  until = { metric = \"accuracy\"; threshold = 0.5; }; }",
         {"6: 'curriculum.stages.[0].until.metric' = \"accuracy\" is not one of", NULL}},
        {"cur_bandorder.cfg",
         "{ band = [0.3, 0.1]; steps = 10; }",
         {"5: 'curriculum.stages.[0].band' = [0.3, 0.1] has lo > hi; write [lo, hi] with "
          "lo <= hi"}},
        {"cur_bandrange.cfg",
         "{ band = [0.3, 1.5]; steps = 10; }",
         {"5: 'curriculum.stages.[0].band' element 1 = 1.5 is out of range; it must be in "
          "[0, 1]"}},
        {"cur_replay.cfg",
         "{ band = [0.0, 0.1]; steps = 10; replay = 1.0; }",
         {"5: 'curriculum.stages.[0].replay' = 1 is out of range; it must be in [0, 1)"}},
        {"cur_lrscale.cfg",
         "{ band = [0.0, 0.1]; steps = 10; lr_scale = 0.0; }",
         {"5: 'curriculum.stages.[0].lr_scale' = 0 is out of range; it must be in (0, 10]"}},
        {"cur_layers.cfg",
         "{ band = [0.0, 0.1]; steps = 10; layers = [3, 1]; }",
         {"5: 'curriculum.stages.[0].layers' = [3, 1] has first > last"}},
        {"cur_targets.cfg",
         "{ band = [0.0, 0.1]; steps = 10; targets = [\"q\", \"x\"]; }",
         {"5: 'curriculum.stages.[0].targets' element \"x\" is not one of q, k, v, o"}},
        {"cur_steps0.cfg",
         "{ band = [0.0, 0.1]; steps = 0; }",
         {"5: 'curriculum.stages.[0].steps' = 0 is out of range; it must be in [1, "
          "1000000000]"}},
        {"cur_bridgetype.cfg",
         "{ band = [0.0, 0.1]; steps = 10; bridge = 1; }",
         {"5: 'curriculum.stages.[0].bridge' must be a boolean (true or false), got an integer "
          "(1)"}},
        {"cur_name.cfg",
         "{ band = [0.0, 0.1]; steps = 10;\n"
         "  name = \"0123456789012345678901234567890123456789012345678901234567890123\"; }",
         {"6: 'curriculum.stages.[0].name' is 64 characters long; it must be shorter than 64"}},
        {"cur_name2.cfg",
         "{ band = [0.0, 0.1]; steps = 10; name = \"\"; }",
         {"5: 'curriculum.stages.[0].name' is empty"}},
        {"cur_notgroup.cfg",
         "5",
         {"5: 'curriculum.stages.[0]' must be a group, got an integer (5)"}},
        {"cur_empty.cfg",
         "",
         {"4: 'curriculum.stages' is empty; give at least 1, e.g. stages = ( {"}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *m = load_fail(cur_cfg(cases[i].name, cases[i].stages), NULL, 0);
        for (int j = 0; j < 2; j++) {
            if (!cases[i].want[j]) continue;
            char want[600];
            snprintf(want, sizeof want, "%s%s%s", j == 0 ? cases[i].name : "", j == 0 ? ":" : "",
                     cases[i].want[j]);
            CHECK_CONTAINS(m, want);
        }
    }

    /* too many stages: reported at the first one over the limit */
    static char stages[4096];
    size_t o = 0;
    for (int i = 0; i <= CFG_MAX_STAGES; i++)
        o += (size_t)snprintf(stages + o, sizeof stages - o,
                              "{ band = [0.0, 0.1]; steps = 10; }%s\n",
                              i < CFG_MAX_STAGES ? "," : "");
    stages[o - 1] = '\0';
    const char *m = load_fail(cur_cfg("cur_many.cfg", stages), NULL, 0);
    char want[300];
    snprintf(want, sizeof want, "cur_many.cfg:%d: 'curriculum.stages' has %d elements; at most %d",
             5 + CFG_MAX_STAGES, CFG_MAX_STAGES + 1, CFG_MAX_STAGES);
    CHECK_CONTAINS(m, want);

    /* libraries */
    const char *p = write_cfg("cur_libs.cfg", "model = { path = \"gpt2\"; };\n"
                                              "curriculum = {\n"
                                              "  library = [\"1\", \"2\", \"3\", \"4\", \"5\", "
                                              "\"6\", \"7\", \"8\", \"9\"];\n"
                                              "  stages = ( { band = [0.0, 0.1]; steps = 1; } );\n"
                                              "};\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "cur_libs.cfg:3: 'curriculum.library' lists 9 entries; at most 8 are "
                      "allowed, remove 1");

    p = write_cfg("cur_nolibs.cfg", "model = { path = \"gpt2\"; };\n"
                                    "curriculum = {\n"
                                    "  library = [];\n"
                                    "  stages = ( { band = [0.0, 0.1]; steps = 1; } );\n"
                                    "};\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "cur_nolibs.cfg:3: 'curriculum.library' is empty; list at least 1, e.g. "
                      "library = [\"curriculum/chains/en.cfg\"];");

    p = write_cfg("cur_emptylib.cfg", "model = { path = \"gpt2\"; };\n"
                                      "curriculum = {\n"
                                      "  library = [\"a.cfg\", \"\"];\n"
                                      "  stages = ( { band = [0.0, 0.1]; steps = 1; } );\n"
                                      "};\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "cur_emptylib.cfg:3: 'curriculum.library' has an element that is empty");

    p = write_cfg("cur_libtype.cfg", "model = { path = \"gpt2\"; };\n"
                                     "curriculum = {\n"
                                     "  library = \"a.cfg\";\n"
                                     "  stages = ( { band = [0.0, 0.1]; steps = 1; } );\n"
                                     "};\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "cur_libtype.cfg:3: 'curriculum.library' must be an array of strings, got "
                      "a string (\"a.cfg\")");

    p = write_cfg("cur_nolib.cfg", "model = { path = \"gpt2\"; };\n"
                                   "curriculum = {\n"
                                   "  stages = ( { band = [0.0, 0.1]; steps = 1; } );\n"
                                   "};\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "cur_nolib.cfg:2: missing required key 'curriculum.library'; add it, e.g. "
                      "curriculum = { library = [\"curriculum/chains/en.cfg\"]; };");

    p = write_cfg("cur_nostages.cfg", "model = { path = \"gpt2\"; };\n"
                                      "curriculum = {\n"
                                      "  library = [\"a.cfg\"];\n"
                                      "};\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "cur_nostages.cfg:2: missing required key 'curriculum.stages'");

    p = write_cfg("cur_stagesgroup.cfg", "model = { path = \"gpt2\"; };\n"
                                         "curriculum = {\n"
                                         "  library = [\"a.cfg\"];\n"
                                         "  stages = { band = [0.0, 0.1]; steps = 1; };\n"
                                         "};\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "cur_stagesgroup.cfg:4: 'curriculum.stages' must be a list of groups, got "
                      "a group");

    /* group-level keys */
    p = write_cfg("cur_top.cfg", "model = { path = \"gpt2\"; };\n"
                                 "curriculum = {\n"
                                 "  library = [\"a.cfg\"];\n"
                                 "  stages = ( { band = [0.0, 0.1]; steps = 1; } );\n"
                                 "  variants = 4;\n"
                                 "};\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "cur_top.cfg:5: 'curriculum.variants' = 4 is out of range; it must be in "
                      "[5, 10]");
    p = write_cfg("cur_top2.cfg", "model = { path = \"gpt2\"; };\n"
                                  "curriculum = {\n"
                                  "  library = [\"a.cfg\"];\n"
                                  "  stages = ( { band = [0.0, 0.1]; steps = 1; } );\n"
                                  "  order = \"shufled\";\n"
                                  "};\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "cur_top2.cfg:5: 'curriculum.order' = \"shufled\" is not one of curriculum, "
                      "shuffled, anti, growing-random; did you mean \"shuffled\"?");
    p = write_cfg("cur_top3.cfg", "model = { path = \"gpt2\"; };\n"
                                  "curriculum = {\n"
                                  "  library = [\"a.cfg\"];\n"
                                  "  stages = ( { band = [0.0, 0.1]; steps = 1; } );\n"
                                  "  heldout_band = [0.5, 0.2];\n"
                                  "};\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "cur_top3.cfg:5: 'curriculum.heldout_band' = [0.5, 0.2] has lo > hi");
    p = write_cfg("cur_top4.cfg", "model = { path = \"gpt2\"; };\n"
                                  "curriculum = {\n"
                                  "  library = [\"a.cfg\"];\n"
                                  "  stages = ( { band = [0.0, 0.1]; steps = 1; } );\n"
                                  "  stage = 3;\n"
                                  "};\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "cur_top4.cfg:5: unknown key 'curriculum.stage'; did you mean "
                      "'curriculum.stages'?");

    /* data.path: optional with a curriculum (tests/configs/curriculum.cfg has none), still
     * required without one */
    p = write_cfg("cur_nodata.cfg", "model = { path = \"gpt2\"; };\n"
                                    "data = { format = \"bytes\"; };\n");
    m = load_fail(p, NULL, 0);
    CHECK_CONTAINS(m, "cur_nodata.cfg:2: missing required key 'data.path'; add it, e.g. data = { "
                      "path = \"...\"; };");

    /* --set: not the whole list; a curriculum created by --set still needs its keys */
    const char *ok_file = "tests/configs/curriculum.cfg";
    const char *ov2[] = {"curriculum.stages=({ band = [0.0, 0.1]; steps = 1; })"};
    m = load_fail(ok_file, ov2, 1);
    CHECK_CONTAINS(m, "--set curriculum.stages: the list 'curriculum.stages' cannot be set with "
                      "--set; edit it in the config file");
    const char *ov3[] = {"curriculum.variants=11"};
    m = load_fail(ok_file, ov3, 1);
    CHECK_CONTAINS(m, "--set curriculum.variants: 'curriculum.variants' = 11 is out of range");
    const char *ov4[] = {"curriculum.order=shufled"};
    m = load_fail(ok_file, ov4, 1);
    CHECK_CONTAINS(m, "did you mean \"shuffled\"?");
    p = write_cfg("cur_setnew.cfg", MINIMAL);
    const char *ov5[] = {"curriculum.order=anti"};
    m = load_fail(p, ov5, 1);
    CHECK_CONTAINS(m, "--set curriculum.order: missing required key 'curriculum.library'");
    const char *ov6[] = {"curriculum.stpes=1"};
    m = load_fail(ok_file, ov6, 1);
    CHECK_CONTAINS(m, "--set curriculum.stpes: unknown key 'curriculum.stpes'; did you mean "
                      "'curriculum.stages'?");
}

/* --set of keys inside the stages: by index (three spellings) or by the stage's name, with the
 * checks of the file's keys and messages that name the --set option. */
static void test_stage_overrides(void) {
    const char *file = "tests/configs/curriculum.cfg";
    char buf[512];
    const char *ov[] = {"curriculum.stages.0.steps=10",
                        "curriculum.stages[1].steps=11",
                        "curriculum.stages.[2].lr_scale=0.25",
                        "curriculum.stages.free.steps=13",
                        "curriculum.stages.drift.name=middle",
                        "curriculum.stages.0.until={ metric = \"train.em\"; threshold = 0.5; }",
                        "curriculum.stages.3.until.threshold=0.9",
                        "curriculum.stages.0.targets=[\"q\"]",
                        "curriculum.stages.0.band=[0.0, 0.07]"};
    Config c;
    if (load_ok(&c, file, ov, 9) == 0) {
        const CurriculumConfig *cc = &c.curriculum;
        CHECK_INT(cc->n_stages, 4);
        CHECK_INT(cc->stages[0].steps, 10);
        CHECK_INT(cc->stages[1].steps, 11);
        CHECK_DBL(cc->stages[2].lr_scale, 0.25);
        CHECK_INT(cc->stages[2].steps, 300); /* untouched */
        CHECK_STR(cc->stages[2].name, "middle");
        CHECK_INT(cc->stages[3].steps, 13);
        CHECK_STR(cc->stages[0].until_metric, "train.em");
        CHECK_DBL(cc->stages[0].until_threshold, 0.5);
        CHECK_STR(cc->stages[3].until_metric, "heldout_entities.em");
        CHECK_DBL(cc->stages[3].until_threshold, 0.9);
        CHECK_INT(cc->stages[0].targets, LORA_Q);
        CHECK_DBL(cc->stages[0].band_hi, 0.07);
        CHECK_STR(cc->stages[0].name, "anchor");
        CHECK_STR(config_where(&c, "curriculum.stages.[0].steps", buf, sizeof buf),
                  "--set curriculum.stages.0.steps");
        CHECK_STR(config_where(&c, "curriculum.stages.[1].steps", buf, sizeof buf),
                  "--set curriculum.stages[1].steps");
        CHECK_STR(config_where(&c, "curriculum.stages.[3].steps", buf, sizeof buf),
                  "--set curriculum.stages.free.steps");
        check_roundtrip(&c, "stage_ov_rt.cfg");
        config_free(&c);
    }
    /* the stage's default name works too */
    const char *pd = write_cfg("stage_default_name.cfg",
                               "model = { path = \"gpt2\"; };\n"
                               "curriculum = { library = [\"a.cfg\"];\n"
                               "  stages = ( { band = [0.0, 0.1]; steps = 5; },\n"
                               "             { band = [0.1, 0.2]; steps = 6; } ); };\n");
    const char *ovd[] = {"curriculum.stages.stage-1.steps=7"};
    if (load_ok(&c, pd, ovd, 1) == 0) {
        CHECK_INT(c.curriculum.stages[1].steps, 7);
        CHECK_INT(c.curriculum.stages[0].steps, 5);
        config_free(&c);
    }

    /* the same checks as in the file, naming the --set option */
    const char *m;
    const char *e1[] = {"curriculum.stages.0.steps=0"};
    m = load_fail(file, e1, 1);
    CHECK_CONTAINS(m, "--set curriculum.stages.0.steps: 'curriculum.stages.[0].steps' = 0 is out "
                      "of range; it must be in [1, ");
    const char *e2[] = {"curriculum.stages[0].steps=2.5"};
    m = load_fail(file, e2, 1);
    CHECK_CONTAINS(m, "--set curriculum.stages[0].steps: 'curriculum.stages.[0].steps' must be an "
                      "integer");
    const char *e3[] = {"curriculum.stages.1.band=[0.0, 0.1]"};
    m = load_fail(file, e3, 1);
    CHECK_CONTAINS(m, "--set curriculum.stages.1.band: 'curriculum.stages.[1].band' is given on a "
                      "bridge (\"bridge-1\")");
    const char *e4[] = {"curriculum.stages.0.stpes=5"};
    m = load_fail(file, e4, 1);
    CHECK_CONTAINS(m, "--set curriculum.stages.0.stpes: unknown key 'curriculum.stages.[0].stpes'; "
                      "did you mean 'curriculum.stages.[0].steps'?");
    const char *e5[] = {"curriculum.stages.0.loss=trial"};
    m = load_fail(file, e5, 1);
    CHECK_CONTAINS(m, "--set curriculum.stages.0.loss: 'curriculum.stages.[0].loss' = \"trial\" is "
                      "not one of");
    const char *e6[] = {"curriculum.stages.2.name=anchor"};
    m = load_fail(file, e6, 1);
    CHECK_CONTAINS(m, "--set curriculum.stages.2.name: stage name \"anchor\" of "
                      "'curriculum.stages.[2]' is already used by 'curriculum.stages.[0]'");
    /* an index out of range names the number of stages; an unknown name lists them */
    const char *e7[] = {"curriculum.stages.4.steps=5"};
    m = load_fail(file, e7, 1);
    CHECK_CONTAINS(m, "--set curriculum.stages.4.steps: the config has 4 stages (0 anchor, 1 "
                      "bridge-1, 2 drift, 3 free); there is no stage 4");
    const char *e8[] = {"curriculum.stages[9].steps=5"};
    m = load_fail(file, e8, 1);
    CHECK_CONTAINS(m, "the config has 4 stages");
    const char *e9[] = {"curriculum.stages.anchr.steps=5"};
    m = load_fail(file, e9, 1);
    CHECK_CONTAINS(m, "--set curriculum.stages.anchr.steps: no stage is named 'anchr'; name one by "
                      "index or by name (0 anchor, 1 bridge-1, 2 drift, 3 free); did you mean "
                      "'anchor'?");
    const char *e10[] = {"curriculum.stages.steps=5"};
    m = load_fail(file, e10, 1);
    CHECK_CONTAINS(m, "--set curriculum.stages.steps: name the element of 'curriculum.stages' "
                      "whose key to set, by index or by name, e.g. --set "
                      "curriculum.stages.0.steps=...");
    const char *e11[] = {"curriculum.stages.0=5"};
    m = load_fail(file, e11, 1);
    CHECK_CONTAINS(m, "--set curriculum.stages.0: a whole element of 'curriculum.stages' cannot be "
                      "set with --set");
    const char *e12[] = {"curriculum.stages.0.steps=5"};
    m = load_fail(write_cfg("stage_none.cfg", MINIMAL), e12, 1);
    CHECK_CONTAINS(m, "--set curriculum.stages.0.steps: the config has no stages "
                      "('curriculum.stages') to set a key in");
    const char *e13[] = {"curriculum.stages[x].steps=5"};
    m = load_fail(file, e13, 1);
    CHECK_CONTAINS(m, "'[x]' is not an index");

    /* run.steps with a curriculum: refused, in the file or by --set, never silently ignored */
    const char *e14[] = {"run.steps=50"};
    m = load_fail(file, e14, 1);
    CHECK_CONTAINS(m, "--set run.steps: 'run.steps' is given but the run has a curriculum, whose "
                      "stages have their own steps (1200 in all, which the run takes); remove "
                      "run.steps and change a stage's steps instead, e.g. --set "
                      "curriculum.stages.0.steps=200 (or curriculum.stages.anchor.steps=200)");
    const char *pr =
        write_cfg("stage_runsteps.cfg", "model = { path = \"gpt2\"; };\n"
                                        "run = { steps = 30; };\n"
                                        "curriculum = { library = [\"a.cfg\"];\n"
                                        "  stages = ( { band = [0.0, 0.1]; steps = 5; } ); };\n");
    m = load_fail(pr, NULL, 0);
    CHECK_CONTAINS(m, "stage_runsteps.cfg:2: 'run.steps' is given but the run has a curriculum");
    /* the resolved config of a curriculum run leaves run.steps out, so it loads back */
    if (load_ok(&c, file, NULL, 0) == 0) {
        char path[320];
        snprintf(path, sizeof path, "%s/stage_print.cfg", g_dir);
        Err e = {{0}};
        CHECK(config_save(&c, path, &e) == 0, "config_save: %s", e.msg);
        FILE *fp = fopen(path, "r");
        static char text[65536];
        size_t n = fp ? fread(text, 1, sizeof text - 1, fp) : 0;
        text[n] = '\0';
        if (fp) fclose(fp);
        unlink(path);
        CHECK(strstr(text, "\n    steps = ") == NULL, "no run.steps in a curriculum run:\n%s",
              text);
        CHECK_CONTAINS(text, "\n    dir = ");
        config_free(&c);
    }
}

/* config_diff: the keys whose resolved values differ, old -> new, list elements by index. */
static void test_diff(void) {
    const char *file = "tests/configs/curriculum.cfg";
    Config a, b;
    char out[1024];
    if (load_ok(&a, file, NULL, 0) != 0) return;
    CHECK_INT(config_diff(&a, &a, out, sizeof out), 0);
    CHECK_STR(out, "");
    const char *ov[] = {"lora.rank=16", "curriculum.stages.2.steps=10", "seed=7"};
    if (load_ok(&b, file, ov, 3) == 0) {
        CHECK_INT(config_diff(&a, &b, out, sizeof out), 3);
        CHECK_STR(out,
                  "lora.rank: 8 -> 16; seed: 1337 -> 7; curriculum.stages.[2].steps: 300 -> 10");
        CHECK_INT(config_diff(&b, &a, out, sizeof out), 3);
        CHECK_CONTAINS(out, "lora.rank: 16 -> 8");
        /* a short buffer ends with "..." */
        char small[48];
        CHECK_INT(config_diff(&a, &b, small, sizeof small), 3);
        CHECK_STR(small, "lora.rank: 8 -> 16; seed: 1337 -> 7; ...");
        config_free(&b);
    }
    /* keys only one of them has: a stage more, the curriculum group against none */
    const char *p = write_cfg("diff_more.cfg", MINIMAL);
    if (load_ok(&b, p, NULL, 0) == 0) {
        int n = config_diff(&a, &b, out, sizeof out);
        CHECK(n > 5, "many keys differ (%d)", n);
        CHECK_CONTAINS(out, "curriculum.variants: 8 -> (not given)");
        config_free(&b);
    }
    config_free(&a);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/test_config.XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_full();
    test_defaults();
    test_tiny_example();
    test_model_path();
    test_numeric_forms();
    test_file_errors();
    test_unknown_keys();
    test_type_errors();
    test_range_errors();
    test_required_and_cross();
    test_overrides();
    test_override_errors();
    test_print_roundtrip();
    test_where();
    test_lora_scale();
    test_curriculum();
    test_curriculum_defaults();
    test_curriculum_errors();
    test_stage_overrides();
    test_diff();
    for (int i = 0; i < g_nfiles; i++) unlink(g_files[i]);
    rmdir(g_dir);
    return tl_finish("test_config");
}
