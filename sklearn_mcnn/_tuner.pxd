"""How many threads share a training step (or an L-BFGS evaluation).

The results are the same bits with any number of threads, so the loop may
choose by the clock: threads that meet at every layer of every step need
their cores, and where other work keeps a core busy they wait for each
other far longer than one thread takes (measured: float64 Adam, batch 32,
one core busy with another process: 4.2 s per epoch on two threads, 1.9 s
on one).  The loop runs on the chosen count and now and then probes the
other one for a few steps, switching when the probe is clearly faster;
probes grow rarer while they lose, but come at least every
``PROBE_WITHIN_SECONDS`` of steps, so that a count chosen while the
machine was busy does not long outlast the load.  A probe's first step is
not counted: it also wakes the threads that slept while the other count
ran.

The state is a :c:type:`Tuner` struct.  Between calls it lives in a NumPy
array of the structured dtype ``_network.TUNER_DTYPE`` (same fields, same
layout), so the estimators can keep, copy, restore and pickle it.
"""

cdef enum:
    PROBE_EVERY = 128        # steps between probes after a switch
    PROBE_EVERY_MAX = 4096   # the most steps between probes
    PROBE_STEPS = 8          # steps of one probe

cdef extern from *:
    """
    #define MCNN_PROBE_GIVE_UP 1.5
    #define MCNN_PROBE_AFTER_SECONDS 0.25
    #define MCNN_PROBE_WITHIN_SECONDS 2.0
    """
    # A probe step this many times slower than the chosen count's average
    # ends the probe at once.
    const double PROBE_GIVE_UP "MCNN_PROBE_GIVE_UP"
    # Seconds of steps before the first probe, and between probes.
    const double PROBE_AFTER_SECONDS "MCNN_PROBE_AFTER_SECONDS"
    # The most seconds of steps between two probes, however many steps
    # ``every`` asks for: float64 steps of 5 ms at ``PROBE_EVERY_MAX`` steps
    # would probe every 20 s.  A probe that loses on a busy core costs two
    # steps (its wake-up and one slow step).
    const double PROBE_WITHIN_SECONDS "MCNN_PROBE_WITHIN_SECONDS"


ctypedef struct Tuner:
    int threads             # the chosen thread count
    int other               # the count that probes try
    Py_ssize_t every        # steps between probes
    Py_ssize_t countdown    # steps until the next probe
    Py_ssize_t probing      # steps left in the current probe
    double chosen           # moving average of a step's seconds, chosen count
    double probe            # seconds of the current probe so far


cdef inline int tuner_threads(const Tuner* tu) noexcept nogil:
    """The thread count of the next step."""
    return tu.other if tu.probing > 0 else tu.threads


cdef inline void tuner_record(Tuner* tu, double seconds) noexcept nogil:
    """Account for one step's seconds; start, end and judge probes.

    Between probes ``probe`` counts the seconds up from
    ``-PROBE_AFTER_SECONDS``: a probe starts when both ``every`` steps and
    that much time have passed, so a fit shorter than it never wakes a
    second core (on a shared machine, waking an idle one can itself take
    tens of milliseconds), and a long one pays the probes' cost rarely; or
    when ``PROBE_WITHIN_SECONDS`` have passed since the last probe,
    whatever ``every`` says.
    """
    if tu.other == tu.threads:
        return
    if tu.probing > 0:
        tu.probing -= 1
        if tu.probing == PROBE_STEPS - 1:
            # The probe's first step also wakes the threads, which slept
            # while one thread ran (float32 SGD at batch 32 on a 2-vCPU VM:
            # about 1.0 ms, the next steps 0.6-0.7): it is not counted,
            # like the first prediction after a change of count
            # (_threads.InferenceThreads).
            return
        tu.probe += seconds
        if tu.chosen > 0 and seconds > PROBE_GIVE_UP * tu.chosen:
            # Clearly losing (threads waiting for a busy core lose a time
            # slice per step): end the probe now, not PROBE_STEPS later.
            tu.probing = 0
            tu.every = min(2 * tu.every, <Py_ssize_t> PROBE_EVERY_MAX)
            tu.countdown = tu.every
            tu.probe = -PROBE_AFTER_SECONDS
        elif tu.probing == 0:
            if tu.probe < 0.9 * (PROBE_STEPS - 1) * tu.chosen:
                tu.threads, tu.other = tu.other, tu.threads
                tu.chosen = tu.probe / (PROBE_STEPS - 1)
                tu.every = PROBE_EVERY
            else:
                tu.every = min(2 * tu.every, <Py_ssize_t> PROBE_EVERY_MAX)
            tu.countdown = tu.every
            tu.probe = -PROBE_AFTER_SECONDS
        return
    # A moving average that a faster step pulls down at once: the first
    # steps (page faults, cold caches) must not make the probes look good.
    tu.chosen = seconds if tu.chosen <= 0 else min(
        seconds, 0.875 * tu.chosen + 0.125 * seconds)
    tu.countdown -= 1
    tu.probe += seconds
    if tu.probe >= 0 and (tu.countdown <= 0 or tu.probe
                          >= PROBE_WITHIN_SECONDS - PROBE_AFTER_SECONDS):
        tu.probing = PROBE_STEPS
        tu.probe = 0
