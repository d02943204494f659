/*
 * config_rules.c — the rules that span keys, checked after every key was read: one of
 * model.path / model.random, the random model's shape, batch.shard, and the curriculum's stages
 * (bands, bridges by curriculum.h's bridge rule, unique names), with file:line in messages.
 */
#include <stdio.h>
#include <string.h>

#include "config_internal.h"

/* The stages: bands only where they belong, bridges between two non-bridge stages, unique
 * names. (Counts and per-key ranges were checked while reading the keys.) */
static int check_curriculum(const Loader *L) {
    const CurriculumConfig *cc = &L->cfg->curriculum;
    if (!cc->enabled) return 0;
    const config_setting_t *list = config_lookup(&L->t->lc, "curriculum.stages");
    char where[CFG_PATH_MAX + 64], first[CFG_PATH_MAX + 64];
    int n = cc->n_stages;
    const config_setting_t *rs = config_lookup(&L->t->lc, "run.steps");
    if (rs) {
        long long sum = 0;
        for (int i = 0; i < n; i++) sum += cc->stages[i].steps;
        return err_set(L->e,
                       "%s: 'run.steps' is given but the run has a curriculum, whose stages have "
                       "their own steps (%lld in all, which the run takes); remove run.steps and "
                       "change a stage's steps instead, e.g. --set curriculum.stages.0.steps=%d "
                       "(or curriculum.stages.%s.steps=%d)",
                       where_setting(L, rs, where, sizeof where), sum, n ? cc->stages[0].steps : 1,
                       n ? cc->stages[0].name : "NAME", n ? cc->stages[0].steps : 1);
    }
    if (n > 0 && stages_count_banded(cc->stages, n) == 0)
        return err_set(L->e,
                       "%s: 'curriculum.stages' has only bridges; a bridge blends the bands of "
                       "the stages around it, so the curriculum needs at least one stage with a "
                       "band (bridge = false)",
                       where_setting(L, list, where, sizeof where));
    for (int i = 0; i < n; i++) {
        const StageSpec *st = &cc->stages[i];
        const config_setting_t *el = list ? config_setting_get_elem(list, (unsigned)i) : NULL;
        const config_setting_t *band = el ? config_setting_get_member(el, "band") : NULL;
        const config_setting_t *nm = el ? config_setting_get_member(el, "name") : NULL;
        where_setting(L, el, where, sizeof where);
        if (st->bridge && band)
            return err_set(L->e,
                           "%s: 'curriculum.stages.[%d].band' is given on a bridge (\"%s\"); a "
                           "bridge takes its bands from its neighbours: remove band, or set "
                           "bridge = false",
                           where_setting(L, band, where, sizeof where), i, st->name);
        if (!st->bridge && !band)
            return err_set(L->e,
                           "%s: missing required key 'curriculum.stages.[%d].band' (stage "
                           "\"%s\"); add it, e.g. band = [0.0, 0.05]; or make the stage a bridge "
                           "with bridge = true;",
                           where, i, st->name);
        int beside = -1;
        BridgeRule rule = stage_bridge_rule(cc->stages, n, i, &beside);
        if (rule == BRIDGE_FIRST || rule == BRIDGE_LAST)
            return err_set(L->e,
                           "%s: stage 'curriculum.stages.[%d]' (\"%s\") is a bridge but it is "
                           "the %s stage; a bridge needs a non-bridge stage before and after it: "
                           "add a stage with a band %s it, or set bridge = false",
                           where, i, st->name, rule == BRIDGE_FIRST ? "first" : "last",
                           rule == BRIDGE_FIRST ? "before" : "after");
        if (rule == BRIDGE_BESIDE_BRIDGE)
            return err_set(L->e,
                           "%s: stage 'curriculum.stages.[%d]' (\"%s\") is a bridge and so is "
                           "the stage %s it ('curriculum.stages.[%d]', \"%s\"); a bridge needs a "
                           "non-bridge stage before and after it: put a stage with a band "
                           "between them, or merge the two bridges",
                           where, i, st->name, beside < i ? "before" : "after", beside,
                           cc->stages[beside].name);
        for (int j = 0; j < i; j++) {
            if (strcmp(cc->stages[j].name, st->name) != 0) continue;
            const config_setting_t *ej = list ? config_setting_get_elem(list, (unsigned)j) : NULL;
            const config_setting_t *nj = ej ? config_setting_get_member(ej, "name") : NULL;
            where_setting(L, nj ? nj : ej, first, sizeof first);
            return err_set(L->e,
                           "%s: stage name \"%s\" of 'curriculum.stages.[%d]'%s is already "
                           "used by 'curriculum.stages.[%d]'%s (%s); give each stage a unique "
                           "name",
                           where_setting(L, nm ? nm : el, where, sizeof where), st->name, i,
                           nm ? "" : " (its default name)", j, nj ? "" : " (its default name)",
                           first);
        }
    }
    return 0;
}

int check_rules(Loader *L) {
    Config *c = L->cfg;
    config_t *lc = &L->t->lc;
    char where[CFG_PATH_MAX + 64];

    /* model: exactly one of path / random (an empty path counts as not given) */
    const config_setting_t *mp = config_lookup(lc, "model.path");
    const config_setting_t *mr = config_lookup(lc, "model.random");
    if (c->model.path[0] && c->model.random)
        return err_set(L->e,
                       "%s: 'model.path' and 'model.random' are both given; keep only one (with "
                       "--set, clear the path with model.path=\"\")",
                       where_setting(L, mr ? mr : mp, where, sizeof where));
    if (!c->model.path[0] && !c->model.random)
        return err_set(L->e,
                       "%s: missing required key 'model.path' or 'model.random'; add one, e.g. "
                       "model = { path = \"gpt2\"; }; or model = { random = { layers = 2; heads "
                       "= 2; width = 32; vocab = 256; context = 64; }; };",
                       where_setting(L, mp ? mp : config_lookup(lc, "model"), where, sizeof where));

    if (check_required(L, config_root_setting(lc), NULL, NULL) != 0) return -1;

    if (c->model.random && c->model.width % c->model.heads != 0) {
        int lo = c->model.width - c->model.width % c->model.heads;
        return err_set(
            L->e,
            "%s: 'model.random.width' = %d is not divisible by 'model.random.heads' = "
            "%d; use a multiple of heads, e.g. %d",
            where_setting(L, config_lookup(lc, "model.random.width"), where, sizeof where),
            c->model.width, c->model.heads, lo > 0 ? lo : c->model.heads);
    }
    if (c->model.random && c->batch.seq_len > c->model.context) {
        const config_setting_t *sl = config_lookup(lc, "batch.seq_len");
        return err_set(L->e,
                       "%s: 'batch.seq_len' = %d%s exceeds 'model.random.context' = %d; set "
                       "batch.seq_len to at most %d or raise the context",
                       where_setting(L, sl ? sl : config_lookup(lc, "model.random.context"), where,
                                     sizeof where),
                       c->batch.seq_len, sl ? "" : " (the default)", c->model.context,
                       c->model.context);
    }
    if (c->batch.global % c->batch.shard != 0) {
        const config_setting_t *sh = config_lookup(lc, "batch.shard");
        int d = c->batch.shard;
        while (c->batch.global % d) d--;
        return err_set(
            L->e,
            "%s: 'batch.shard' = %d does not divide 'batch.global' = %d; use a divisor "
            "of the global batch, e.g. %d",
            where_setting(L, sh ? sh : config_lookup(lc, "batch.global"), where, sizeof where),
            c->batch.shard, c->batch.global, d);
    }
    /* lora.layers first <= last is checked with the value (Key.pair) */
    return check_curriculum(L);
}
