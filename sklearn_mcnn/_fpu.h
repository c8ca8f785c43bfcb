/* Flush subnormal floats to zero in the calling thread, and restore.
 *
 * Weights that decay towards zero (L2 with Adam, say) become subnormal
 * numbers, and arithmetic on subnormals is many times slower on x86.  The
 * flag is per thread and worker threads do not inherit it, so the training
 * loop turns on flush-to-zero and denormals-are-zero in its own thread for
 * the epoch, and each worker thread for each block of a step it takes,
 * restoring the previous mode afterwards (the threads of OpenMP's pool may
 * run other code later).  The weights are therefore never subnormal.
 */
#ifndef MCNN_FPU_H
#define MCNN_FPU_H

#if defined(__SSE__) || defined(_M_X64) || defined(__x86_64__)
#include <xmmintrin.h>
static inline unsigned int mcnn_flush_subnormals(void) {
    unsigned int old = _mm_getcsr();
    _mm_setcsr(old | 0x8040);  /* FTZ (bit 15) | DAZ (bit 6) */
    return old;
}
static inline void mcnn_restore_fpu(unsigned int old) { _mm_setcsr(old); }
#elif defined(__aarch64__)
static inline unsigned int mcnn_flush_subnormals(void) {
    unsigned long fpcr;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(fpcr));
    __asm__ __volatile__("msr fpcr, %0" : : "r"(fpcr | (1UL << 24)));  /* FZ */
    return (unsigned int) fpcr;
}
static inline void mcnn_restore_fpu(unsigned int old) {
    unsigned long fpcr = old;
    __asm__ __volatile__("msr fpcr, %0" : : "r"(fpcr));
}
#else
static inline unsigned int mcnn_flush_subnormals(void) { return 0; }
static inline void mcnn_restore_fpu(unsigned int old) { (void) old; }
#endif

#endif
