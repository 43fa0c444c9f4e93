"""The benchmarks' shared pieces: their cells are the library's, the LSTM cases
build the model they always built, and each framework runs only its cells."""

import pytest

from benchmarks import lstm_common as common
from benchmarks import lstm_cpu
from lstm_jax import recurrent as recurrent_lib
from lstm_jax.models import classifier as model_lib


def test_the_benchmark_cells_are_the_registered_ones():
  assert common.CELL_GATES == {name: recurrent_lib.CELLS.get(name).gates
                               for name in recurrent_lib.CELLS.names()}
  assert set(common.TORCH_MODULES) == set(recurrent_lib.CELLS.names())
  assert {case.cell for case in lstm_cpu.CASES.values()} == set(recurrent_lib.CELLS.names())


def test_an_lstm_case_builds_the_studys_model_as_before():
  case = lstm_cpu.CASES["imdb_zipf"]
  assert common.lstm_jax_model(case) == model_lib.LSTMClassifier(
      case.vocab, case.embed, case.num_classes, recurrent=model_lib.stack(case.units))


def test_the_limit_counts_each_cells_gates():
  lstm, gru = lstm_cpu.CASES["imdb"], lstm_cpu.CASES["imdb_gru"]
  assert lstm.flops_per_token("inference") == 2 * 4 * 128 * (300 + 128)
  assert gru.flops_per_token("train") == 3 * gru.flops_per_token("inference") == (
      lstm.flops_per_token("train") * 3 / 4)


@pytest.mark.parametrize("framework", ["pytorch nn.LSTM", "pytorch nn.LSTM default",
                                       "flax OptimizedLSTMCell"])
def test_a_framework_skips_a_cell_it_does_not_run(framework):
  pytest.importorskip("torch")
  with pytest.raises(common.NotApplicable):
    common.FRAMEWORKS[framework](lstm_cpu.CASES["imdb_gru"])


def test_the_table_names_the_cpu(monkeypatch, tmp_path):
  cpuinfo = tmp_path / "cpuinfo"
  cpuinfo.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\n"
                     "model\t\t: 2\nmodel name\t: AMD EPYC\n\nprocessor\t: 1\n"
                     "model name\t: another\n")
  real_open = open
  monkeypatch.setattr("builtins.open", lambda path, *a, **k: real_open(
      cpuinfo if path == "/proc/cpuinfo" else path, *a, **k))
  assert common.cpu_model() == "AMD EPYC (family 26, model 2)"
