"""Generates the package's gRPC/protobuf stubs from ../proto with
protoc and the gRPC Python plugin, never by hand.

    python3 python/generate_stubs.py [OUTPUT_ROOT]

writes OUTPUT_ROOT/vernier/v1/*_pb2.py and *_pb2_grpc.py (default: this
directory, beside the package's sources; those files are ignored by git).
The generated modules import each other as ``vernier.v1.*``, which is this
package's ``vernier.v1`` subpackage.
"""
from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
PROTO_ROOT = HERE.parent / "proto"


def _tools() -> list:
    """protoc and the gRPC Python plugin. Debian's python3-grpc-tools bundles
    libprotoc 3.5.1, which cannot read proto3 `optional` fields, so the
    Debian protoc (protobuf-compiler, 3.21) is used with grpc_python_plugin
    (protobuf-compiler-grpc), the same generator python3-grpc-tools wraps."""
    protoc = shutil.which("protoc")
    plugin = shutil.which("grpc_python_plugin")
    if protoc is None or plugin is None:
        sys.exit("generate_stubs: needs protoc and grpc_python_plugin; install Debian's "
                 "protobuf-compiler and protobuf-compiler-grpc")
    return [protoc, f"--plugin=protoc-gen-grpc_python={plugin}"]


def generate(output_root: pathlib.Path) -> None:
    protos = sorted((PROTO_ROOT / "vernier" / "v1").glob("*.proto"))
    if not protos:
        sys.exit(f"generate_stubs: no .proto files under {PROTO_ROOT / 'vernier' / 'v1'}")
    package = output_root / "vernier" / "v1"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text('"""Generated from proto/vernier/v1: do not edit."""\n')
    command = [*_tools(), f"-I{PROTO_ROOT}", f"--python_out={output_root}",
               f"--grpc_python_out={output_root}", *(str(p) for p in protos)]
    result = subprocess.run(command)
    if result.returncode != 0:
        sys.exit(f"generate_stubs: protoc failed with {result.returncode} (see above)")


if __name__ == "__main__":
    generate(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
