"""Installs the `vernier` package: `pip install ./python` (offline: it needs
only Debian's python3-setuptools, protobuf-compiler and
protobuf-compiler-grpc to build, and
python3-grpcio + python3-protobuf to run). The stubs are generated from
../proto while building, never copied by hand."""
import pathlib
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import generate_stubs  # noqa: E402  (beside this file)


class BuildWithStubs(build_py):
    """build_py that first writes vernier/v1/*_pb2*.py into the build tree."""

    def run(self):
        super().run()
        generate_stubs.generate(pathlib.Path(self.build_lib))


setup(
    name="vernier",
    version="0.1.0",
    description="Python client and trial helper for the Vernier hyperparameter-tuning service",
    packages=["vernier"],
    python_requires=">=3.9",
    install_requires=["grpcio", "protobuf"],
    extras_require={"pandas": ["pandas"]},
    cmdclass={"build_py": BuildWithStubs},
)
