/* A monotonic wall clock in seconds, for the training loop's choice of
 * thread count (see `Tuner` in _network.pyx). */
#ifndef MCNN_CLOCK_H
#define MCNN_CLOCK_H

#ifdef _WIN32
#include <windows.h>
static inline double mcnn_now(void) {
    LARGE_INTEGER count, freq;
    QueryPerformanceCounter(&count);
    QueryPerformanceFrequency(&freq);
    return (double) count.QuadPart / (double) freq.QuadPart;
}
#else
#include <time.h>
static inline double mcnn_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}
#endif

#endif
