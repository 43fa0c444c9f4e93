"""Several CPU devices in one process: the setting that keeps them from deadlocking.

With `--xla_force_host_platform_device_count=N` (N > 1) and JAX's default
asynchronous CPU dispatch, a real-size pmapped train step deadlocks: the first
`psum` waits for a device that never arrives ("Expected N threads to join the
rendezvous, but only 1 of them arrived") and XLA aborts the process after 40 s.
Seen on a 2-core machine with LSTM units 64 and 128; units 16 trained.
Dispatching synchronously (`jax_cpu_enable_async_dispatch=False`) trains the
same model and equals one device. It must be set before JAX creates its CPU
client, so `lstm_jax.main` sets it first; a program that created the client
with async dispatch on gets a clear error instead of the deadlock.
"""

import os
import re

import jax
import ml_collections

from lstm_jax.config import validation as config_validation

# The largest LSTM units seen training with async dispatch on several devices.
MAX_SAFE_UNITS = 16


def forced_cpu_device_count() -> int:
  """The CPU devices XLA_FLAGS / jax_num_cpu_devices ask for (1 when neither does)."""
  found = re.findall(r"--xla_force_host_platform_device_count=(\d+)",
                     os.environ.get("XLA_FLAGS", ""))
  count = int(found[-1]) if found else 1
  return max(count, jax.config.jax_num_cpu_devices)


def configure() -> None:
  """Dispatches synchronously when several CPU devices will share the process.

  Call before anything creates a JAX backend. One device keeps async dispatch,
  which overlaps the host loop with the step.
  """
  if forced_cpu_device_count() > 1:
    jax.config.update("jax_cpu_enable_async_dispatch", False)


def check_in_process_cpu_devices(config: ml_collections.ConfigDict, devices: tuple) -> None:
  """Raises ConfigError before compiling when `devices` holds several CPU devices
  of this process, dispatch is asynchronous and the model is above the safe size."""
  local = [d for d in devices if d.process_index == jax.process_index()]
  units = max(layer["units"] for layer in config.model.recurrent_layers)
  if (len(local) > 1 and all(d.platform == "cpu" for d in local)
      and jax.config.read("jax_cpu_enable_async_dispatch")
      and units > MAX_SAFE_UNITS):
    raise config_validation.ConfigError(
        f"{len(local)} CPU devices in one process with LSTM units={units} "
        "and asynchronous CPU dispatch: XLA:CPU deadlocks in the first cross-device "
        f"reduction of a model this size (safe up to units={MAX_SAFE_UNITS}; "
        "docs/SCALING.md). Set JAX_CPU_ENABLE_ASYNC_DISPATCH=false before JAX starts "
        "(python -m lstm_jax.main does), or run one CPU device per process: NUM_PROCESSES="
        f"{len(local) * jax.process_count()} DEVICES_PER_PROCESS=1 bash "
        "launch/local_multiprocess.sh ...")
