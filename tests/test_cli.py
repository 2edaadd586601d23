"""The command line, run as a user runs it: a subprocess on the real entry point."""

from __future__ import annotations

import subprocess
import sys


def run(*args):
    return subprocess.run([sys.executable, "-m", "anykmeans", *args], capture_output=True,
                          text=True, timeout=300)


def test_demo_on_numpy_finds_the_three_species():
    out = run("demo", "--backend", "numpy")
    assert out.returncode == 0, out.stderr
    assert "numpy" in out.stdout and "78.85" in out.stdout  # iris k=3 inertia
    counts = out.stdout.split("Clusters against species")[1]
    assert "50" in counts  # setosa is one cluster of its own


def test_demo_on_every_backend_agrees_with_numpy():
    out = run("demo")
    assert out.returncode == 0, out.stdout + out.stderr
    assert " NO" not in out.stdout


def test_backends_lists_libraries():
    out = run("backends")
    assert out.returncode == 0
    assert "numpy" in out.stdout and "usable" in out.stdout


def test_unknown_backend_is_one_line_on_stderr():
    out = run("demo", "--backend", "tensorflow")
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert "unknown backend 'tensorflow'" in out.stderr
