"""Shared pieces of the recurrent benchmarks: cases, per-framework steps, timing, tables.

Every framework builds the same model (embedding → one recurrent layer, the
case's cell: LSTM, GRU or SimpleRNN → dense logits) and the same training step
(softmax cross-entropy, global-norm clipping at 1.0, Adam with learning rate
1e-3) on the same random token ids. Each framework runs in its own process
(`worker`), so imports, thread pools and allocators do not interfere; the
driver collects one JSON line per process. A framework that does not run a
case's model (PyTorch's `nn.LSTM` on a GRU case) skips it. The driver measures
the machine's fp32 matmul peak in the same run (the "of limit" column) and
prints the CPU model with the table.
"""

import argparse
import ctypes.util
import dataclasses
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Optional, Sequence

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEARNING_RATE = 1e-3
CLIP_NORM = 1.0
SEED = 0
# Gate blocks G of each cell's kernels (`recurrent.CELLS`' `gates`; kept here so that a
# PyTorch worker need not import JAX; tests/test_benchmark_common.py holds them equal).
CELL_GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}
# PyTorch's module of each cell, for the "pytorch nn.*" frameworks.
TORCH_MODULES = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "RNN"}
# The measured processes' matmul-peak probe, as `--worker`.
PEAK_WORKER = "matmul peak"


class NotApplicable(Exception):
  """A framework does not run a case's model (another cell, say): no row."""


TOKEN_DISTRIBUTIONS = ("uniform", "zipf")


@dataclasses.dataclass(frozen=True)
class Case:
  """One benchmark shape, and how its token ids are drawn.

  `token_ids`: "uniform" over the vocabulary, or "zipf", text-like: ids are
  frequency ranks (as a fitted tokenizer assigns them) drawn with probability
  proportional to 1 / rank. A 64 x 200 batch then holds ~4,000 distinct ids
  (real IMDB reviews: ~2,500, so this is the harder case); uniform ids ~9,400.
  """
  name: str
  time_steps: int
  num_classes: int
  batch: int = 64
  vocab: int = 20_000
  embed: int = 300
  units: int = 128
  token_ids: str = "uniform"
  # The model: the study's Embedding → LSTM → Dense by default; a family member
  # with a Bidirectional layer returning sequences, GlobalMaxPooling1D and a
  # hidden Dense(relu) when `pooled`.
  pooled: bool = False
  hidden: int = 64
  # The recurrent cell (a key of `CELL_GATES`), with Keras's default options.
  cell: str = "lstm"

  def scaled(self, **changes: Any) -> "Case":
    return dataclasses.replace(self, **changes)

  def flops_per_token(self, mode: str) -> float:
    """Recurrent-layer matmul FLOPs per token: 2·G·H·(E+H) forward (per direction),
    G the cell's gates (4 for an LSTM), 3× that to train."""
    forward = (2 * CELL_GATES[self.cell] * self.units * (self.embed + self.units) *
               (2 if self.pooled else 1))
    return forward * (3 if mode == "train" else 1)


@dataclasses.dataclass
class Timing:
  """Seconds per step of each repeat (wall and process CPU), and the first call."""
  first_call_s: float
  step_s: list[float]
  cpu_step_s: list[float]
  new_shape_compile_s: Optional[float] = None

  def summary(self, case: Case, mode: str, peak_gflops: float) -> dict[str, Any]:
    median = statistics.median(self.step_s)
    tokens = case.batch * case.time_steps
    limit = peak_gflops * 1e9 / case.flops_per_token(mode)
    return {
        "ms_median": 1e3 * median,
        "ms_min": 1e3 * min(self.step_s),
        "ms_max": 1e3 * max(self.step_s),
        # CPU time of all threads: less sensitive than wall time to other load.
        "cpu_ms_median": 1e3 * statistics.median(self.cpu_step_s),
        "tokens_per_s": tokens / median,
        "fraction_of_limit": tokens / median / limit,
        "first_call_s": self.first_call_s,
        "new_shape_compile_s": self.new_shape_compile_s,
    }


def time_steps(step: Callable[[], None], warmup: int, repeats: int,
               steps_per_repeat: int) -> Timing:
  """Times `step` (which must block until its result is ready)."""
  start = time.perf_counter()
  step()
  first_call = time.perf_counter() - start
  for _ in range(max(warmup - 1, 0)):
    step()
  wall, cpu = [], []
  for _ in range(repeats):
    start, start_cpu = time.perf_counter(), time.process_time()
    for _ in range(steps_per_repeat):
      step()
    wall.append((time.perf_counter() - start) / steps_per_repeat)
    cpu.append((time.process_time() - start_cpu) / steps_per_repeat)
  return Timing(first_call, wall, cpu)


def random_batch(case: Case) -> tuple[np.ndarray, np.ndarray]:
  """Full-length token ids in [1, vocab) (no padding) and labels, seeded."""
  if case.token_ids not in TOKEN_DISTRIBUTIONS:
    raise ValueError(f"unknown token_ids {case.token_ids!r}; choose from {TOKEN_DISTRIBUTIONS}")
  rng = np.random.default_rng(SEED)
  shape = (case.batch, case.time_steps)
  if case.token_ids == "uniform":
    tokens = rng.integers(1, case.vocab, shape, dtype=np.int32)
  else:
    ranks = np.arange(1, case.vocab)
    tokens = rng.choice(ranks, shape, p=(1 / ranks) / np.sum(1 / ranks)).astype(np.int32)
  labels = rng.integers(0, case.num_classes, (case.batch,), dtype=np.int32)
  return tokens, labels


# ---------------------------------------------------------------- JAX family

def _jax_steps(apply_fn: Callable, params: Any, case: Case, tx: Any = None,
               batch_inputs: Optional[Callable[[np.ndarray], dict]] = None):
  """(train_step, predict, new_shape_train) closures over one model's state.

  `batch_inputs(token_ids)`, when given, computes extra keyword arguments of
  `apply_fn` on the host for every step, inside the timing, as an input
  pipeline would.
  """
  import jax
  import optax

  if tx is None:
    tx = optax.chain(optax.clip_by_global_norm(CLIP_NORM), optax.adam(LEARNING_RATE))
  extra_inputs = batch_inputs or (lambda tokens: {})

  def loss_fn(p, tokens, labels, extra):
    logits = apply_fn(p, tokens, **extra)
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

  @jax.jit
  def train_step(p, opt_state, tokens, labels, extra):
    loss, grads = jax.value_and_grad(loss_fn)(p, tokens, labels, extra)
    updates, opt_state = tx.update(grads, opt_state, p)
    return optax.apply_updates(p, updates), opt_state, loss

  # Donation lets XLA update params and Adam moments in place.
  train_step_donated = jax.jit(train_step, donate_argnums=(0, 1))
  predict = jax.jit(lambda p, tokens, extra: apply_fn(p, tokens, **extra))
  host_tokens, host_labels = random_batch(case)
  tokens, labels = jax.device_put(host_tokens), jax.device_put(host_labels)
  state = {"params": params, "opt": tx.init(params)}

  def train():
    state["params"], state["opt"], loss = train_step_donated(
        state["params"], state["opt"], tokens, labels, extra_inputs(host_tokens))
    loss.block_until_ready()

  def infer():
    predict(state["params"], tokens, extra_inputs(host_tokens)).block_until_ready()

  def new_shape(mode):
    short = case.scaled(time_steps=max(case.time_steps // 2, 2))
    new_tokens, new_labels = random_batch(short)
    start = time.perf_counter()
    if mode == "train":
      jax.block_until_ready(train_step(state["params"], state["opt"], new_tokens, new_labels,
                                       extra_inputs(new_tokens)))
    else:
      jax.block_until_ready(predict(state["params"], new_tokens, extra_inputs(new_tokens)))
    return time.perf_counter() - start

  return {"train": train, "inference": infer}, new_shape


def lstm_jax_model(case: Case):
  """The case's model as an `LSTMClassifier`."""
  from lstm_jax import recurrent as recurrent_lib
  from lstm_jax.models import classifier as model_lib

  cell = recurrent_lib.CELLS.get(case.cell)()
  if not case.pooled:
    return model_lib.LSTMClassifier(case.vocab, case.embed, case.num_classes,
                                    recurrent=(model_lib.Recurrent(case.units, cell=cell),))
  return model_lib.LSTMClassifier(
      case.vocab, case.embed, case.num_classes,
      recurrent=(model_lib.Recurrent(case.units, cell=cell, bidirectional=True),),
      pooling="max", hidden=(model_lib.Hidden(case.hidden, "relu"),))


def lstm_jax_steps(case: Case, implementation: str, dtype: str = "float32",
                   time_chunks: Optional[int] = None, distinct_tokens: bool = True):
  """lstm_jax's `LSTMClassifier` and its optimizer, as the training program runs them
  (by default with each batch's distinct tokens, `batching.batch_vocabulary`)."""
  import jax
  import jax.numpy as jnp
  from lstm_jax.training import batching
  from lstm_jax.optim import optimizers

  def batch_vocabulary(tokens):
    batch_vocab, token_index = batching.batch_vocabulary(tokens[None])
    return {"batch_vocab": batch_vocab[0], "token_index": token_index[0]}

  model = lstm_jax_model(case).clone(
      dtype=jnp.dtype(dtype), implementation=implementation,
      **({} if time_chunks is None else {"time_chunks": time_chunks}))
  tokens, _ = random_batch(case)
  params = model.init(jax.random.key(SEED), tokens)["params"]
  tx = optimizers.make_optimizer(learning_rate=LEARNING_RATE, clip_mode="global_norm",
                            clip_norm=CLIP_NORM)
  return _jax_steps(lambda p, t, **vocab: model.apply({"params": p}, t, **vocab), params, case,
                    tx, batch_inputs=batch_vocabulary if distinct_tokens else None)


def lstm_jax_serving_steps(case: Case):
  """Inference as `serving.Classifier` runs it: the first layer gathers from the
  per-token input-projection table, computed once when the model is loaded."""
  import jax
  from lstm_jax.models import classifier as model_lib

  model = lstm_jax_model(case)
  tokens, _ = random_batch(case)
  params = model.init(jax.random.key(SEED), tokens)["params"]
  table = model_lib.input_projection_table(params, model)
  steps, new_shape = _jax_steps(
      lambda p, t: model.apply({"params": p}, t, projection_table=table), params, case)
  return {"inference": steps["inference"]}, new_shape


def flax_steps(case: Case):
  """Flax `nn.RNN(OptimizedLSTMCell)` (no mask: every step is real here)."""
  import flax.linen as nn
  import jax

  if case.pooled or case.cell != "lstm":
    raise NotApplicable("the Flax baseline is the study's LSTM model only")

  class FlaxClassifier(nn.Module):

    @nn.compact
    def __call__(self, tokens):
      x = nn.Embed(case.vocab, case.embed)(tokens)
      (_, h), _ = nn.RNN(nn.OptimizedLSTMCell(case.units), return_carry=True)(x)
      return nn.Dense(case.num_classes)(h)

  model = FlaxClassifier()
  params = model.init(jax.random.key(SEED), random_batch(case)[0])["params"]
  return _jax_steps(lambda p, t: model.apply({"params": p}, t), params, case)


def jax_cudnn_steps(case: Case):
  """`jax.experimental.rnn.lstm` (cuDNN; GPU only)."""
  import flax.linen as nn
  import jax
  import jax.numpy as jnp
  from jax.experimental import rnn

  if jax.default_backend() != "gpu":
    raise NotImplementedError("jax.experimental.rnn's cuDNN LSTM needs a GPU")
  if case.pooled or case.cell != "lstm":
    raise NotApplicable("the cuDNN baseline is the study's LSTM model only")
  embed = nn.Embed(case.vocab, case.embed)
  dense = nn.Dense(case.num_classes)
  keys = jax.random.split(jax.random.key(SEED), 3)
  tokens = random_batch(case)[0]
  params = {
      "embed": embed.init(keys[0], tokens)["params"],
      "lstm": rnn.init_lstm_weight(keys[1], case.embed, case.units, 1, False),
      "dense": dense.init(keys[2], jnp.zeros((1, case.units)))["params"],
  }

  def apply_fn(p, t):
    x = embed.apply({"params": p["embed"]}, t)
    zeros = jnp.zeros((1, t.shape[0], case.units), jnp.float32)
    lengths = jnp.full((t.shape[0],), t.shape[1], jnp.int32)
    _, h, _ = rnn.lstm(x, zeros, zeros, p["lstm"], lengths, input_size=case.embed,
                       hidden_size=case.units, num_layers=1, dropout=0.0,
                       bidirectional=False)
    return dense.apply({"params": p["dense"]}, h[0])

  return _jax_steps(apply_fn, params, case)


def keras_steps(case: Case):
  """Keras 3 on JAX, `Embedding(mask_zero=True)` → `LSTM` | `GRU` | `SimpleRNN` →
  `Dense`, as a user runs it."""
  os.environ.setdefault("KERAS_BACKEND", "jax")
  import keras
  from lstm_jax import recurrent as recurrent_lib

  keras.utils.set_random_seed(SEED)
  recurrent_layer = getattr(keras.layers, recurrent_lib.CELLS.get(case.cell).keras_class)
  inputs = keras.Input((case.time_steps,), batch_size=case.batch, dtype="int32")
  x = keras.layers.Embedding(case.vocab, case.embed, mask_zero=True)(inputs)
  if case.pooled:
    x = keras.layers.Bidirectional(recurrent_layer(case.units, return_sequences=True))(x)
    x = keras.layers.GlobalMaxPooling1D()(x)
    x = keras.layers.Dense(case.hidden, activation="relu")(x)
  else:
    x = recurrent_layer(case.units)(x)
  model = keras.Model(inputs, keras.layers.Dense(case.num_classes)(x))
  model.compile(
      optimizer=keras.optimizers.Adam(LEARNING_RATE, global_clipnorm=CLIP_NORM),
      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
      jit_compile=True)
  tokens, labels = random_batch(case)

  def train():
    model.train_on_batch(tokens, labels)  # returns a Python float: synchronous

  def infer():
    np.asarray(model.predict_on_batch(tokens))

  return {"train": train, "inference": infer}, None


def torch_steps(case: Case, module: str, flush_denormal: bool):
  """PyTorch `nn.LSTM` / `nn.GRU` / `nn.RNN` (`module`; oneDNN on CPU where it has the
  cell, cuDNN on GPU).

  `flush_denormal`: `torch.set_flush_denormal(True)`, as XLA does. PyTorch's default
  keeps denormal floats, which some CPUs compute very slowly (an Intel Ice Lake guest
  took 2.2 s instead of 0.11 s for an IMDB `nn.LSTM` backward).
  """
  import torch
  from torch import nn

  if TORCH_MODULES[case.cell] != module:
    raise NotApplicable(f"nn.{module} is not the case's cell ({case.cell})")
  supported = torch.set_flush_denormal(flush_denormal)
  if flush_denormal and not supported:
    raise NotImplementedError("this CPU cannot flush denormals (torch.set_flush_denormal)")
  torch.manual_seed(SEED)
  device = "cuda" if torch.cuda.is_available() else "cpu"

  class TorchClassifier(nn.Module):

    def __init__(self):
      super().__init__()
      self.embed = nn.Embedding(case.vocab, case.embed)
      self.rnn = getattr(nn, module)(case.embed, case.units, batch_first=True,
                                     bidirectional=case.pooled)
      if case.pooled:
        self.hidden = nn.Sequential(nn.Linear(2 * case.units, case.hidden), nn.ReLU())
      self.dense = nn.Linear(case.hidden if case.pooled else case.units, case.num_classes)

    def forward(self, tokens):
      outputs, state = self.rnn(self.embed(tokens))
      if case.pooled:
        return self.dense(self.hidden(outputs.max(dim=1).values))
      h = state[0] if isinstance(state, tuple) else state  # an LSTM's state is (h, c)
      return self.dense(h[-1])

  model = TorchClassifier().to(device)
  optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
  tokens, labels = (torch.from_numpy(a).long().to(device) for a in random_batch(case))
  sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

  def train():
    optimizer.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(model(tokens), labels)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
    optimizer.step()
    sync()

  def infer():
    with torch.inference_mode():
      model(tokens)
    sync()

  return {"train": train, "inference": infer}, None


FRAMEWORKS: dict[str, Callable[[Case], Any]] = {
    "lstm_jax scan": lambda case: lstm_jax_steps(case, "scan"),
    "lstm_jax fused": lambda case: lstm_jax_steps(case, "fused"),
    "lstm_jax fused 1 chunk": lambda case: lstm_jax_steps(case, "fused", time_chunks=1),
    "lstm_jax fused every slot": lambda case: lstm_jax_steps(case, "fused",
                                                             distinct_tokens=False),
    "lstm_jax cudnn": lambda case: lstm_jax_steps(case, "cudnn"),
    "lstm_jax serving": lstm_jax_serving_steps,
    "lstm_jax scan bf16": lambda case: lstm_jax_steps(case, "scan", "bfloat16"),
    "lstm_jax fused bf16": lambda case: lstm_jax_steps(case, "fused", "bfloat16"),
    "jax cudnn": jax_cudnn_steps,
    "flax OptimizedLSTMCell": flax_steps,
    "keras 3 (jax)": keras_steps,
    **{f"pytorch nn.{module}{suffix}": functools.partial(torch_steps, module=module,
                                                         flush_denormal=flush)
       for module in TORCH_MODULES.values()
       for suffix, flush in (("", True), (" default", False))},
}


# ---------------------------------------------------------------- processes

def matmul_peak_gflops(threads: int, size: int = 2048, repeats: int = 10) -> tuple[float, str]:
  """The fp32 matmul rate of a `size`² matmul on `threads` threads (best of
  `repeats`), by PyTorch (MKL / oneDNN) where installed, else by XLA."""
  flops = 2 * size ** 3
  try:
    import torch
  except ImportError:
    torch = None
  if torch is not None:
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    run, via = lambda: torch.mm(a, b), f"torch.mm {size}²"
  else:
    import jax
    import jax.numpy as jnp
    a = jax.random.normal(jax.random.key(0), (size, size))
    matmul = jax.jit(jnp.dot)
    run, via = lambda: matmul(a, a).block_until_ready(), f"XLA dot {size}²"
  run()
  best = min(_seconds(run) for _ in range(repeats))
  return flops / best / 1e9, via


def _seconds(fn: Callable[[], Any]) -> float:
  start = time.perf_counter()
  fn()
  return time.perf_counter() - start


def cpu_model() -> str:
  """The CPU's model name, family and model number (/proc/cpuinfo), as far as known."""
  fields: dict[str, str] = {}
  try:
    with open("/proc/cpuinfo") as cpuinfo:
      for line in cpuinfo:
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())  # the first processor's
  except OSError:
    pass
  name = fields.get("model name") or platform.processor() or platform.machine()
  if "cpu family" in fields and "model" in fields:
    name += f" (family {fields['cpu family']}, model {fields['model']})"
  return name


def worker(framework: str, cases: Sequence[Case], modes: Sequence[str], warmup: int,
           repeats: int, steps_per_repeat: int, threads: int, peak_gflops: float) -> None:
  """Measures one framework on every case and mode; prints one JSON line per result."""
  if framework == PEAK_WORKER:
    gflops, via = matmul_peak_gflops(threads)
    print("RESULT " + json.dumps({"framework": framework, "peak_gflops": gflops, "via": via}),
          flush=True)
    return
  if framework.startswith("pytorch"):
    import torch
    torch.set_num_threads(threads)
  for case in cases:
    for mode in modes:
      row = {"framework": framework, "case": case.name, "mode": mode,
             "batch": case.batch, "time_steps": case.time_steps}
      try:
        steps, new_shape = FRAMEWORKS[framework](case)
        if mode not in steps:  # e.g. the serving path only infers
          continue
        timing = time_steps(steps[mode], warmup, repeats, steps_per_repeat)
        if new_shape is not None:
          timing.new_shape_compile_s = new_shape(mode)
        row.update(timing.summary(case, mode, peak_gflops))
      except NotApplicable:
        continue
      except Exception as error:  # a missing framework or device is reported, not fatal
        row["error"] = f"{type(error).__name__}: {error}"
      print("RESULT " + json.dumps(row), flush=True)


def run_worker_process(module: str, framework: str, args: list[str],
                       env: dict[str, str]) -> list[dict[str, Any]]:
  """Runs `python -m module --worker framework args` and returns its result rows."""
  command = [sys.executable, "-m", module, "--worker", framework, *args]
  done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
  rows = [json.loads(line[len("RESULT "):]) for line in done.stdout.splitlines()
          if line.startswith("RESULT ")]
  # No rows and exit 0: the framework has none of the selected cases (`NotApplicable`).
  if done.returncode != 0:
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    rows.append({"framework": framework, "error": f"exit {done.returncode}: {' | '.join(tail)}"})
  return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
  """A plain-text table of result rows; a failed row ends with its error."""
  header = ("case", "mode", "framework", "env", "ms/step", "min-max", "cpu ms/step",
            "tok/s", "of limit", "1st call s", "new shape s")
  lines, notes = [], []
  for row in rows:
    names = (row.get("case", ""), row.get("mode", ""), row["framework"], row.get("env", ""))
    if "error" in row:
      lines.append(names + ("-",) * 7)
      notes.append("  error: " + row["error"][:120])
      continue
    new_shape = row.get("new_shape_compile_s")
    lines.append(names + (
        f"{row['ms_median']:.1f}", f"{row['ms_min']:.1f}-{row['ms_max']:.1f}",
        f"{row['cpu_ms_median']:.0f}",
        f"{row['tokens_per_s'] / 1e3:.0f}k", f"{100 * row['fraction_of_limit']:.0f}%",
        f"{row['first_call_s']:.1f}", "" if new_shape is None else f"{new_shape:.2f}"))
    notes.append("")
  widths = [max(len(str(x)) for x in column) for column in zip(header, *lines)]
  fmt = "  ".join(f"{{:{w}}}" for w in widths)
  return "\n".join([fmt.format(*header), fmt.format(*("-" * w for w in widths))] +
                   [fmt.format(*line) + note for line, note in zip(lines, notes)])


def speedups(rows: Sequence[dict[str, Any]], candidate: str,
             baselines: Sequence[str]) -> dict[str, float]:
  """tokens/s of `candidate` over each baseline, per (env, case, mode)."""
  by_key = {(r.get("env"), r["case"], r["mode"], r["framework"]): r["tokens_per_s"]
            for r in rows if "tokens_per_s" in r}
  ratios = {}
  for (env, case, mode, framework), value in by_key.items():
    if framework != candidate:
      continue
    for baseline in baselines:
      other = by_key.get((env, case, mode, baseline))
      if other:
        ratios[f"{env}|{case}|{mode}|{candidate} / {baseline}"] = round(value / other, 3)
  return ratios


# ---------------------------------------------------------------- driver

TCMALLOC_NAMES = ("tcmalloc_minimal", "tcmalloc")
ALLOCATORS = {
    "system": {},
    # Transparent huge pages for malloc'd buffers (glibc >= 2.35): XLA's fresh
    # per-step scratch faults in 2 MiB at a time instead of 4 KiB.
    "glibc_thp": {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1"},
    # tcmalloc keeps freed buffers mapped: no page faults after warm-up.
    "tcmalloc": {"LD_PRELOAD": None},
}


def tcmalloc_path() -> str:
  for name in TCMALLOC_NAMES:
    path = ctypes.util.find_library(name)
    if path:
      return path
  raise SystemExit("tcmalloc not found: install it (Debian/Ubuntu: "
                   "apt-get install libgoogle-perftools4) or drop it from --allocator")


def allocator_env(name: str) -> dict[str, str]:
  """The process environment of one `--allocator` setting."""
  if name not in ALLOCATORS:
    raise SystemExit(f"unknown --allocator {name!r}; choose from {', '.join(ALLOCATORS)}")
  env = dict(os.environ)
  if name == "tcmalloc":
    env["LD_PRELOAD"] = " ".join(filter(None, [env.get("LD_PRELOAD"), tcmalloc_path()]))
  else:
    env.update(ALLOCATORS[name])
  return env


def parse_args(description: str, cases: dict[str, Case], frameworks: Sequence[str],
               peak_gflops: Optional[float], warmup: int, repeats: int, steps: int,
               argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description=description)
  parser.add_argument("--frameworks", default=",".join(frameworks),
                      help=f"comma list of: {', '.join(FRAMEWORKS)}")
  parser.add_argument("--cases", default=",".join(cases),
                      help=f"comma list of: {', '.join(cases)}")
  parser.add_argument("--modes", default="train,inference")
  parser.add_argument("--allocator", default="system",
                      help="comma list of: system (as launched), glibc_thp "
                      "(GLIBC_TUNABLES=glibc.malloc.hugetlb=1), tcmalloc (LD_PRELOAD)")
  parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                      help="cores every framework may use (CPU affinity + torch threads)")
  parser.add_argument("--warmup", type=int, default=warmup)
  parser.add_argument("--repeats", type=int, default=repeats)
  parser.add_argument("--steps", type=int, default=steps, help="steps per repeat")
  parser.add_argument("--peak-gflops", type=float, default=peak_gflops,
                      help="the machine's fp32 matmul peak, for the 'of limit' column "
                      f"({'measured in the run' if peak_gflops is None else peak_gflops} "
                      "unless given)")
  parser.add_argument("--worker", help=argparse.SUPPRESS)
  return parser.parse_args(argv)


def run_benchmark(name: str, module: str, args: argparse.Namespace, cases: dict[str, Case],
                  worker_flags: Sequence[str] = ()) -> list[dict[str, Any]]:
  """Runs (or, with --worker, serves) a benchmark; prints the table and a JSON line.

  Args:
    name: the benchmark's name in the JSON line.
    module: the module (`python -m module`) whose workers measure each framework.
    args: from `parse_args`.
    cases: the cases `--cases` picks from.
    worker_flags: extra command-line flags for the worker processes.

  Returns:
    The result rows (empty in a worker).
  """
  selected = [cases[case] for case in args.cases.split(",")]
  modes = args.modes.split(",")
  if args.worker:
    worker(args.worker, selected, modes, args.warmup, args.repeats, args.steps,
           args.threads, args.peak_gflops)
    return []
  frameworks = args.frameworks.split(",")
  unknown = [f for f in frameworks if f not in FRAMEWORKS]
  if unknown:
    raise SystemExit(f"unknown framework(s) {unknown}; choose from {list(FRAMEWORKS)}")
  os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:args.threads])
  peak_via = "given (--peak-gflops)"
  if args.peak_gflops is None:
    # Measured like the frameworks: its own process, the same cores and allocator.
    [peak] = run_worker_process(module, PEAK_WORKER, [f"--threads={args.threads}"],
                                allocator_env(args.allocator.split(",")[0]))
    if "error" in peak:
      raise SystemExit(f"measuring the matmul peak failed: {peak['error']}")
    args.peak_gflops, peak_via = peak["peak_gflops"], peak["via"]
    print(f"fp32 matmul peak: {args.peak_gflops:.0f} GFLOP/s ({peak_via}, "
          f"{args.threads} threads)", flush=True)
  forwarded = [f"--{key}={getattr(args, key.replace('-', '_'))}" for key in (
      "cases", "modes", "threads", "warmup", "repeats", "steps", "peak-gflops")]
  forwarded += list(worker_flags)
  rows = []
  for allocator in args.allocator.split(","):
    env = allocator_env(allocator)
    for framework in frameworks:
      for row in run_worker_process(module, framework, forwarded, env):
        rows.append({**row, "env": allocator})
        print(format_table(rows[-1:]).splitlines()[-1], flush=True)
  rows.sort(key=lambda r: (r.get("case", ""), r.get("mode", ""), r.get("env", "")))
  cpu = cpu_model()
  print(f"\n{cpu}, {platform.machine()}, {args.threads} threads, load average at the end "
        f"{os.getloadavg()[0]:.1f}; limit = {args.peak_gflops:.0f} GFLOP/s ({peak_via}) over "
        "the recurrent layer's matmul FLOPs (3x forward to train)")
  print(format_table(rows))
  ratios = {}
  baselines = [f for f in frameworks if not f.startswith("lstm_jax")]
  for candidate in frameworks:
    if candidate.startswith("lstm_jax"):
      ratios.update(speedups(rows, candidate, baselines))
  for key, value in ratios.items():
    print(f"{key}: {value:.2f}x")
  print(json.dumps({"benchmark": name, "cpu": cpu, "threads": args.threads,
                    "peak_gflops": args.peak_gflops, "peak_via": peak_via, "results": rows,
                    "speedups": ratios}))
  return rows
