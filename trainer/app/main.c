/*
 * main.c — the imprint command line: subcommands, options, and the one place where an error
 * becomes a message on stderr and an exit status.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "comm.h"
#include "config.h"
#include "evalcmd.h"
#include "kernels_cpu.h"
#include "probecmd.h"
#include "tools.h"
#include "train.h"
#include "util.h"

#include <stdarg.h>

/* Prints "imprint: error: <msg>" to stderr and exits with status 1: only main() ends the process
 * on a user's error. */
static _Noreturn void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("imprint: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    exit(1);
}

static const char *USAGE =
    "imprint — imprint reasoning trails into a transformer with attention-only LoRA\n"
    "\n"
    "usage:\n"
    "  imprint train CONFIG [--set KEY=VALUE]... [--overwrite | --resume RUN_DIR [--fallback]]\n"
    "                [--quiet]\n"
    "      Train LoRA adapters as CONFIG says (run it under mpirun/srun for several ranks).\n"
    "  imprint pretrain CONFIG [--set KEY=VALUE]... [--overwrite | --resume RUN_DIR] [--quiet]\n"
    "      Train every weight of the base model (no adapters); checkpoints are HF model dirs.\n"
    "  imprint eval CONFIG [--adapter PATH] [--chains FILE]... [--json OUT|-] [--items OUT|-]\n"
    "               [--set ...]\n"
    "      The recall test, base model against adapter: on the config's curriculum splits, or\n"
    "      on every chain of your own library files (--chains), per split and per logical\n"
    "      form. --adapter is a run dir (its newest finished stage), a stage dir or an\n"
    "      adapter.safetensors; its shape comes from its metadata. Without --adapter the base\n"
    "      model alone is scored. --items writes one JSON line per item (prompt, answer, each\n"
    "      model's greedy completion, per-token hits, NLL, margin). OUT - is stdout (the\n"
    "      table then goes to stderr).\n"
    "  imprint config CONFIG [--set KEY=VALUE]...\n"
    "      Validate CONFIG and print it resolved, every default filled in.\n"
    "  imprint tokenizer-train --vocab N --out DIR FILE...\n"
    "      Train a byte-level BPE tokenizer (GPT-2 style vocab.json + merges.txt).\n"
    "  imprint tokenize --tokenizer DIR IN.txt OUT.bin\n"
    "      Encode text (documents separated by blank lines) into an llm.c token shard.\n"
    "  imprint export MODEL OUTDIR [--bf16] [--tokenizer DIR]\n"
    "      Write a model (HF dir or llm.c .bin) as an HF GPT-2 dir, optionally in BF16.\n"
    "  imprint generate MODEL [--tokenizer DIR] [--tokens N] [--adapter PATH [--compare]]\n"
    "                   [--temperature T [--top-k K] [--seed N]] PROMPT...\n"
    "      Continue each prompt: greedy (T = 0, the default), or sampled at temperature T from\n"
    "      the K likeliest tokens (all without --top-k), the same text for the same --seed\n"
    "      (default 1337). --adapter (as for eval) continues with the adapter; --compare\n"
    "      prints the base model's continuation and the adapter's, one under the other.\n"
    "  imprint probe MODEL [--tokenizer DIR] [--text FILE] [--span N] [--reps N] [--seed N]\n"
    "                [--json OUT|-]\n"
    "      Can the model copy? Every head's previous-token, induction and copying scores, and\n"
    "      the loss on the first and the second copy of random token sequences and (--text)\n"
    "      of text passages (documents separated by blank lines): the first --span tokens\n"
    "      (default 50), repeated --reps times (default 2). --json - writes the JSON to stdout.\n"
    "  imprint version\n"
    "  imprint help | --help | -h\n"
    "\n"
    "options:\n"
    "  --set KEY=VALUE  override a config key, e.g. --set lora.rank=16 --set optim.lr=1e-3\n"
    "                   (values in libconfig syntax; strings may omit their quotes)\n"
    "  --overwrite      replace checkpoints an earlier run left in run.dir\n"
    "  --resume DIR     continue the run in DIR from its newest checkpoint (same config)\n"
    "  --fallback       with --resume: if the newest checkpoint is corrupted, resume from the\n"
    "                   newest valid one before it (and drop the corrupted ones from the "
    "manifest)\n"
    "  --quiet          no banner or progress lines\n"
    "\n"
    "The config reference is in README.md; configs/ holds examples.\n";

typedef struct Cli {
    const char *command;
    const char *config;
    const char *overrides[CFG_MAX_OVERRIDES];
    int n_overrides;
    TrainOptions train;
    EvalOptions eval;
} Cli;

/* In the order USAGE lists them. */
static const char *COMMANDS[] = {"train",           "pretrain", "eval",   "config",
                                 "tokenizer-train", "tokenize", "export", "generate",
                                 "probe",           "version",  "help"};

static int parse_cli(Cli *cli, int argc, char **argv, Err *e) {
    memset(cli, 0, sizeof *cli);
    if (argc < 2) return err_set(e, "no command given; run 'imprint --help' for usage");
    cli->command = argv[1];
    if (!strcmp(cli->command, "--help") || !strcmp(cli->command, "-h")) cli->command = "help";
    if (!strcmp(cli->command, "--version")) cli->command = "version";
    int known = 0;
    for (size_t i = 0; i < sizeof COMMANDS / sizeof *COMMANDS; i++)
        known |= !strcmp(cli->command, COMMANDS[i]);
    if (!known) {
        char list[256] = "";
        size_t o = 0;
        const char *best = COMMANDS[0];
        for (size_t i = 0; i < sizeof COMMANDS / sizeof *COMMANDS; i++) {
            if (edit_distance(cli->command, COMMANDS[i]) < edit_distance(cli->command, best))
                best = COMMANDS[i];
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", COMMANDS[i]);
            if (o >= sizeof list) o = sizeof list - 1;
        }
        int d = edit_distance(cli->command, best), len = (int)strlen(cli->command);
        if (d <= 2 && d < len) /* close enough to be a typo */
            return err_set(e, "unknown command '%s'; did you mean '%s'? (the commands: %s)",
                           cli->command, best, list);
        return err_set(e,
                       "unknown command '%s'; the commands are: %s (imprint --help explains them)",
                       cli->command, list);
    }
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli->command = "help";
            return 0;
        } else if (!strcmp(a, "--set") || !strncmp(a, "--set=", 6)) {
            const char *kv = a[5] == '=' ? a + 6 : (i + 1 < argc ? argv[++i] : NULL);
            if (!kv || !strchr(kv, '='))
                return err_set(e, "--set needs KEY=VALUE, e.g. --set lora.rank=16");
            if (cli->n_overrides == CFG_MAX_OVERRIDES)
                return err_set(e, "too many --set options (at most %d)", CFG_MAX_OVERRIDES);
            cli->overrides[cli->n_overrides++] = kv;
        } else if (!strcmp(a, "--resume")) {
            if (i + 1 >= argc) return err_set(e, "--resume needs the run directory to continue");
            cli->train.resume = argv[++i];
        } else if (!strcmp(a, "--adapter") || !strcmp(a, "--chains") || !strcmp(a, "--json") ||
                   !strcmp(a, "--items")) {
            if (i + 1 >= argc) return err_set(e, "%s needs a path", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--adapter"))
                cli->eval.adapter = v;
            else if (!strcmp(a, "--json"))
                cli->eval.json = v;
            else if (!strcmp(a, "--items"))
                cli->eval.items = v;
            else if (cli->eval.n_chains == EVAL_MAX_CHAIN_FILES)
                return err_set(e, "too many --chains files (at most %d)", EVAL_MAX_CHAIN_FILES);
            else
                cli->eval.chains[cli->eval.n_chains++] = v;
        } else if (!strcmp(a, "--fallback")) {
            cli->train.fallback = 1;
        } else if (!strcmp(a, "--overwrite")) {
            cli->train.overwrite = 1;
        } else if (!strcmp(a, "--quiet")) {
            cli->train.quiet = 1;
        } else if (a[0] == '-') {
            return err_set(e, "unknown option '%s'; run 'imprint --help' for usage", a);
        } else if (!cli->config) {
            cli->config = a;
        } else {
            return err_set(e, "unexpected argument '%s' (the config is already '%s')", a,
                           cli->config);
        }
    }
    if (cli->train.overwrite && cli->train.resume)
        return err_set(e,
                       "--resume and --overwrite contradict each other: --resume %s continues "
                       "the run there, --overwrite replaces it; pass one of them",
                       cli->train.resume);
    if (cli->train.fallback && !cli->train.resume)
        return err_set(e, "--fallback only applies with --resume RUN_DIR");
    int needs_config = !strcmp(cli->command, "train") || !strcmp(cli->command, "pretrain") ||
                       !strcmp(cli->command, "eval") || !strcmp(cli->command, "config");
    if (needs_config && !cli->config)
        return err_set(e, "'imprint %s' needs a config file, e.g. imprint %s configs/default.cfg",
                       cli->command, cli->command);
    return 0;
}

/* Before MPI is up, the launcher's environment tells which rank this process will be; used so
 * that an error every rank hits (a bad config) is printed once, not once per rank. */
static int launcher_rank(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v) return atoi(v);
    }
    return 0;
}

typedef int (*ToolFn)(int, char **, Err *);

/* OpenBLAS picks its kernels when it loads, from OPENBLAS_CORETYPE or the CPU model. An OpenBLAS
 * older than the CPU falls back to generic kernels several times slower (blas_core_warning), so
 * imprint runs itself again, once, with the core type that fits the CPU. The kernel decides the
 * bits, and the choice depends only on the machine, so a rerun on the same machine gives the
 * same bits; the manifest records the kernel in use. OPENBLAS_CORETYPE set by the user, or
 * IMPRINT_BLAS_AUTO=0, leaves the choice alone. */
static void blas_rerun_with_fitting_kernels(char **argv) {
    const char *want = blas_core_suggestion();
    const char *opt = getenv("IMPRINT_BLAS_AUTO");
    if (!want || getenv("OPENBLAS_CORETYPE") || (opt && !strcmp(opt, "0"))) return;
    if (setenv("OPENBLAS_CORETYPE", want, 1) != 0) return;
    execv("/proc/self/exe", argv); /* returns only on failure: go on, the banner warns */
    unsetenv("OPENBLAS_CORETYPE");
}

int main(int argc, char **argv) {
    blas_rerun_with_fitting_kernels(argv);
    Err e = {{0}};
    static const struct {
        const char *name;
        ToolFn fn;
    } tools[] = {{"tokenizer-train", tool_tokenizer_train},
                 {"tokenize", tool_tokenize},
                 {"export", tool_export},
                 {"generate", tool_generate},
                 {"probe", probe_command}};
    for (size_t i = 0; argc >= 2 && i < sizeof tools / sizeof *tools; i++)
        if (!strcmp(argv[1], tools[i].name)) {
            if (tools[i].fn(argc - 2, argv + 2, &e) != 0) die("%s", e.msg);
            return 0;
        }
    Cli cli;
    if (parse_cli(&cli, argc, argv, &e) != 0) {
        if (launcher_rank() != 0) return 2;
        fprintf(stderr, "imprint: error: %s\n", e.msg);
        return 2;
    }
    if (!strcmp(cli.command, "help")) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (!strcmp(cli.command, "version")) {
        printf("imprint %s (%s)\n", IMPRINT_VERSION, IMPRINT_GIT);
        return 0;
    }

    Config cfg;
    if (config_load(&cfg, cli.config, cli.overrides, cli.n_overrides, &e) != 0) {
        if (launcher_rank() != 0) return 1;
        die("%s", e.msg);
    }
    if (!strcmp(cli.command, "config")) {
        config_print(&cfg, stdout);
        config_free(&cfg);
        return 0;
    }

    /* --resume DIR continues the run in DIR: it is the run directory */
    char resume_dir[CFG_PATH_MAX + 16];
    if (cli.train.resume) {
        if (cli.n_overrides == CFG_MAX_OVERRIDES) die("too many --set options");
        snprintf(resume_dir, sizeof resume_dir, "run.dir=\"%s\"", cli.train.resume);
        cli.overrides[cli.n_overrides++] = resume_dir;
        config_free(&cfg);
        if (config_load(&cfg, cli.config, cli.overrides, cli.n_overrides, &e) != 0)
            die("%s", e.msg);
    }
    /* train, pretrain */
    cli.train.full = !strcmp(cli.command, "pretrain");
    Comm comm;
    if (comm_init(&comm, &argc, &argv) != 0) die("cannot initialise MPI");
    if (comm.rank == 0 && !cli.train.quiet && strcmp(cli.command, "eval") != 0) {
        printf("---- resolved config ----\n");
        config_print(&cfg, stdout);
        printf("-------------------------\n");
    }
    int rc = !strcmp(cli.command, "eval") ? eval_command(&cfg, &comm, &cli.eval, &e)
                                          : train_run(&cfg, &comm, &cli.train, &e);
    if (rc != 0 && rc != TRAIN_STOPPED && e.msg[0])
        fprintf(stderr, "imprint: error: rank %d: %s\n", comm.rank, e.msg);
    config_free(&cfg);
    comm_finalize(&comm);
    /* a stop signal: checkpoint written, the batch script may requeue */
    return rc == 0 ? 0 : (rc == TRAIN_STOPPED ? TRAIN_EXIT_REQUEUE : 1);
}
