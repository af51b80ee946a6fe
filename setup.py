"""Builds the classic profile's compiled context-mixing coder; everything else is in setup.cfg."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        # optional: without a C compiler the package still installs, and the classic profile
        # falls back to its LZMA coding (profile 1), which every decoder reads.
        Extension("depthcam.codec._contextmodel", ["codec/_contextmodel.c"],
                  extra_compile_args=["-O2"], optional=True),
    ],
)
