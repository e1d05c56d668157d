"""The one compiled part of the platform: the near-copy search's loops (hokusai/chain/_near_kernel.c).

Everything else is declared in pyproject.toml. Built by ``pip install -e .`` (scripts/setup), ahead
of time, so that a fresh process loads machine code in milliseconds instead of importing a JIT.
Portable flags (no -march=native: the binary must run on another machine of the same kind).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension(
    "hokusai.chain._near_kernel",
    sources=["hokusai/chain/_near_kernel.c"],
    # -fwrapv: signed overflow wraps (none is expected); -fno-strict-aliasing: no aliasing-based reordering;
    # IEEE float64 as written (no -ffast-math, no contraction into FMA): the float test is the rule's own.
    extra_compile_args=["-O3", "-fwrapv", "-fno-strict-aliasing", "-ffp-contract=off", "-std=c11"],
)])
