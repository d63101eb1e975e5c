"""pytest plugin loaded by scripts/mutation: the ``mutation`` hypothesis profile for the per-mutant test runs.

It is the ``dev`` profile (tests/conftest.py) without the shrink phase: a mutant is killed by the first failing
example, and shrinking that example to a minimal one (seconds, for the stateful order test) tells mutmut nothing.
``too_slow`` is suppressed because two workers share the machine with other test runs: a slow example is no kill.
"""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings

settings.register_profile(
    "mutation",
    max_examples=50,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
