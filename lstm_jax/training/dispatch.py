"""How far the host may run ahead of the devices.

JAX returns from a step as soon as it is queued, so a training loop queues
steps as fast as it makes batches. XLA:CPU queues up to 32 computations per
device (the PjRt CPU client's `max_inflight_computations_per_device`); the
launch of one more blocks a thread of the client's pool until that device's
oldest computation finishes. The same pool, of max(cores, devices) threads,
runs each device's share of a step, and that share holds its thread until the
step's all-reduce has heard from every device. With several CPU devices in one
process, launches blocked that way can take every thread the step's last
devices need: they never reach the all-reduce, and XLA aborts the process
after 40 s ("Expected N threads to join the rendezvous"). A host that keeps at
most `MAX_STEPS_AHEAD` steps unfinished never blocks a launch. On every
backend a few queued steps keep a device as busy as 32 (docs/SCALING.md).
"""

from typing import Any

import jax

# Far below XLA:CPU's 32 in-flight computations per device.
MAX_STEPS_AHEAD = 4


def wait_for_room(outputs: list[Any], max_ahead: int = MAX_STEPS_AHEAD) -> None:
  """Waits until at most `max_ahead` of the dispatched steps are unfinished.

  Args:
    outputs: an output of every step dispatched so far, oldest first (a step
      is finished when its output is ready).
    max_ahead: how many steps may stay unfinished.
  """
  if len(outputs) > max_ahead:
    jax.block_until_ready(outputs[-1 - max_ahead])
