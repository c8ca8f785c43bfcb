"""A small, seeded, ``nogil`` random number generator (splitmix64).

Used for dropout masks inside the training loop, so that a fixed
``random_state`` gives bit-identical results without touching Python.
splitmix64's ``k``-th output is a function of ``seed + k · γ`` alone, so a
draw can be addressed by its position (`uniform_at`): parallel chunks of a
layer draw their own entries of one stream, and the masks do not depend on
how the work is split.
"""

from libc.stdint cimport uint64_t

cdef inline uint64_t mix64(uint64_t z) noexcept nogil:
    """splitmix64's output function."""
    z = (z ^ (z >> 30)) * <uint64_t> 0xBF58476D1CE4E5B9ULL
    z = (z ^ (z >> 27)) * <uint64_t> 0x94D049BB133111EBULL
    return z ^ (z >> 31)


cdef inline uint64_t splitmix64(uint64_t* state) noexcept nogil:
    """Next 64 random bits; advances ``state``."""
    state[0] += <uint64_t> 0x9E3779B97F4A7C15ULL
    return mix64(state[0])


cdef inline double uniform_at(uint64_t seed, uint64_t k) noexcept nogil:
    """The ``k``-th uniform double in [0, 1) (53 random bits) of the stream
    seeded with ``seed``."""
    cdef uint64_t z = mix64(seed + (k + 1) * <uint64_t> 0x9E3779B97F4A7C15ULL)
    return (z >> 11) * (1.0 / 9007199254740992.0)
