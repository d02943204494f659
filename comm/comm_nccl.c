/*
 * comm_nccl.c — the NCCL backend: sums device buffers across ranks, one GPU per process.
 *
 * State (communicator, stream, device) lives in Comm.device, beside the MPI backend's
 * Comm.impl, so host collectives keep working beside it. Every CUDA and NCCL call goes
 * through GPU_CHECK, which prints where, what, the library's reason and a hint, then ends the
 * whole job with MPI_Abort (comm_abort).
 */
#if defined(IMPRINT_WITH_CUDA)

#include "comm_nccl.h"
#include "util.h"

#include <cuda_runtime.h>
#include <nccl.h>
#include <stdio.h>
#include <string.h>

typedef struct CommDevice { /* Comm.device */
    ncclComm_t comm;
    cudaStream_t stream;
    int device;
} CommNccl;

/* A CUDA or NCCL result, seen the same way. */
typedef struct GpuStatus {
    int failed;
    const char *lib;
    const char *reason;
    const char *hint;
} GpuStatus;

static GpuStatus cuda_status(cudaError_t e) {
    GpuStatus s = {e != cudaSuccess, "CUDA", cudaGetErrorString(e),
                   "check nvidia-smi, CUDA_VISIBLE_DEVICES, and that the driver supports this "
                   "CUDA runtime"};
    if (e == cudaErrorNoDevice || e == cudaErrorInvalidDevice)
        s.hint = "each process needs its own GPU: run at most as many ranks per node as there "
                 "are visible GPUs (CUDA_VISIBLE_DEVICES)";
    else if (e == cudaErrorMemoryAllocation)
        s.hint = "the GPU is out of memory: use a smaller batch or free the GPU";
    return s;
}

static GpuStatus nccl_status(ncclResult_t r) {
    GpuStatus s = {r != ncclSuccess, "NCCL", ncclGetErrorString(r),
                   "rerun with NCCL_DEBUG=WARN (or INFO) to see which rank or link failed"};
    if (r == ncclInvalidUsage || r == ncclInvalidArgument)
        s.hint = "the ranks called NCCL inconsistently (internal error); rerun with "
                 "NCCL_DEBUG=WARN for details";
    return s;
}

_Noreturn static void gpu_fail(Comm *c, GpuStatus s, const char *call, const char *file, int line) {
    const char *slash = strrchr(file, '/');
    fflush(stdout);
    fprintf(stderr, "imprint: error: rank %d: %s failed at %s:%d: %s: %s; %s\n", c->rank, call,
            slash ? slash + 1 : file, line, s.lib, s.reason, s.hint);
    comm_abort(c, 1);
}

/* GPU_CHECK(c, call): call returns cudaError_t or ncclResult_t; a failure ends the job.
 * (_Generic does not evaluate its controlling expression: the call runs once.) */
#define GPU_CHECK(c, call)                                                                         \
    do {                                                                                           \
        GpuStatus s_ = _Generic((call), cudaError_t                                                \
                                : cuda_status, ncclResult_t                                        \
                                : nccl_status)(call);                                              \
        if (s_.failed) gpu_fail((c), s_, #call, __FILE__, __LINE__);                               \
    } while (0)

static CommNccl *state_of(Comm *c, const char *fn) {
    CommNccl *s = c->device;
    if (!s || c->backend != COMM_BACKEND_NCCL) {
        fprintf(stderr,
                "imprint: error: rank %d: %s called before comm_nccl_init "
                "(internal error)\n",
                c->rank, fn);
        comm_abort(c, 1);
    }
    return s;
}

int comm_nccl_init(Comm *c) {
    if (c->device) return 0; /* already initialised */

    int ndev = 0;
    GPU_CHECK(c, cudaGetDeviceCount(&ndev));
    if (c->local_rank >= ndev) {
        fprintf(stderr,
                "imprint: error: rank %d: local rank %d needs GPU %d but only %d are "
                "visible; run at most %d ranks per node or set CUDA_VISIBLE_DEVICES\n",
                c->rank, c->local_rank, c->local_rank, ndev, ndev);
        comm_abort(c, 1);
    }
    CommNccl *s = xmalloc(sizeof *s, "NCCL communicator state");
    s->device = c->local_rank;
    /* The device must be current before ncclCommInitRank: NCCL binds the communicator to it. */
    GPU_CHECK(c, cudaSetDevice(s->device));

    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    if (c->rank == 0) GPU_CHECK(c, ncclGetUniqueId(&id));
    comm_broadcast(c, &id, sizeof id, 0);

    GPU_CHECK(c, ncclCommInitRank(&s->comm, c->size, id, c->rank));
    GPU_CHECK(c, cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking));
    c->device = s;
    c->backend = COMM_BACKEND_NCCL;
    return 0;
}

void comm_nccl_allreduce_sum_f32_device(Comm *c, float *dev_buf, size_t n) {
    CommNccl *s = state_of(c, __func__);
    if (n == 0) return;
    GPU_CHECK(c, ncclAllReduce(dev_buf, dev_buf, n, ncclFloat32, ncclSum, s->comm, s->stream));
    GPU_CHECK(c, cudaStreamSynchronize(s->stream));
}

void comm_nccl_finalize(Comm *c) {
    CommNccl *s = c->device;
    if (!s) return;
    GPU_CHECK(c, cudaSetDevice(s->device));
    GPU_CHECK(c, cudaStreamSynchronize(s->stream));
    GPU_CHECK(c, ncclCommDestroy(s->comm));
    GPU_CHECK(c, cudaStreamDestroy(s->stream));
    xfree(s);
    c->device = NULL;
    c->backend = COMM_BACKEND_MPI;
}

#else
/* Built without CUDA: nothing here (ISO C wants at least one declaration). */
typedef int comm_nccl_unused;
#endif
