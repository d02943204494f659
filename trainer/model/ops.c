/*
 * ops.c — choosing a backend (see ops.h).
 */
#include "ops.h"

#include "util.h"

const ModelOps *model_ops_for(Device device) {
    switch (device) {
    case DEVICE_CPU:
        return model_ops_cpu();
    }
    fatal("internal: no backend for device %d in this build", (int)device);
}
