/*
 * probecmd.h — `imprint probe` (see probecmd.c): can a base model copy?
 */
#ifndef IMPRINT_PROBECMD_H
#define IMPRINT_PROBECMD_H

#include "util.h"

/* The arguments after "probe". Returns 0, or -1 with e filled; main() prints. */
int probe_command(int argc, char **argv, Err *e);

#endif
