/*
 * comm_nccl.h — the NCCL backend of comm.h, for device buffers (GPU runs). Built only with
 * CUDA (IMPRINT_WITH_CUDA); the MPI backend stays in use for host buffers and for setup.
 *
 * Order: comm_init, then comm_nccl_init (one GPU per process, chosen by local_rank), ...,
 * comm_nccl_finalize (comm_finalize also calls it if it was left out), then comm_finalize.
 */
#ifndef IMPRINT_COMM_NCCL_H
#define IMPRINT_COMM_NCCL_H

#include "comm.h"

#include <stddef.h>

/* Selects GPU c->local_rank, creates the NCCL communicator over all ranks (the unique id goes
 * from rank 0 to the others over MPI) and a CUDA stream, and sets c->backend to
 * COMM_BACKEND_NCCL. Collective: every rank must call it. Errors end the job; returns 0. */
int comm_nccl_init(Comm *c);

/* In-place sum over ranks of n floats in device memory, on the backend's stream; returns once
 * the result is in dev_buf. */
void comm_nccl_allreduce_sum_f32_device(Comm *c, float *dev_buf, size_t n);

/* Destroys the NCCL communicator and the stream; the backend goes back to COMM_BACKEND_MPI.
 * Does nothing if comm_nccl_init was not called. */
void comm_nccl_finalize(Comm *c);

#endif
