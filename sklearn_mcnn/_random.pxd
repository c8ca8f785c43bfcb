"""A small, seeded, ``nogil`` random number generator (splitmix64).

Used for dropout masks inside the training loop, so that a fixed
``random_state`` gives bit-identical results without touching Python.
"""

from libc.stdint cimport uint64_t


cdef inline uint64_t splitmix64(uint64_t* state) noexcept nogil:
    """Next 64 random bits; advances ``state``."""
    state[0] += <uint64_t> 0x9E3779B97F4A7C15ULL
    cdef uint64_t z = state[0]
    z = (z ^ (z >> 30)) * <uint64_t> 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * <uint64_t> 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline double uniform(uint64_t* state) noexcept nogil:
    """A uniform double in [0, 1) with 53 random bits."""
    return (splitmix64(state) >> 11) * (1.0 / 9007199254740992.0)
