# vernier-worker for NVIDIA GPU nodes. vernier-train is built against the
# libtorch inside the CUDA PyTorch image; vernier-worker (gRPC, no libtorch) is
# built on Debian 12 and carried over with the Debian libraries it links, kept
# apart from PyTorch's under /opt/vernier/lib. Build from the repository root:
#   docker build -f deploy/worker-gpu.Dockerfile -t vernier-worker-gpu .
FROM debian:12-slim AS worker
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config libgrpc++-dev protobuf-compiler-grpc \
      libprotobuf-dev protobuf-compiler libabsl-dev libsqlite3-dev nlohmann-json3-dev libeigen3-dev \
      libyaml-cpp-dev libcli11-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DVERNIER_BUILD_TRAINER=OFF -DVERNIER_BUILD_TESTS=OFF \
    && cmake --build /build --target vernier-worker \
    && mkdir -p /opt/vernier/bin /opt/vernier/lib \
    && cp /build/bin/vernier-worker /opt/vernier/bin/ \
    && ldd /build/bin/vernier-worker | awk '/=> \// {print $3}' \
       | grep -vE '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' \
       | xargs -r cp -L -t /opt/vernier/lib/

FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-devel
RUN apt-get update && apt-get install -y --no-install-recommends \
      cmake ninja-build libabsl-dev nlohmann-json3-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DVERNIER_BUILD_SERVICES=OFF -DVERNIER_BUILD_TESTS=OFF \
      -DCMAKE_PREFIX_PATH="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')" \
    && cmake --build /build --target vernier-train \
    && install -D /build/bin/vernier-train /opt/vernier/bin/vernier-train
COPY --from=worker /opt/vernier /opt/vernier
# Only the worker sees the Debian libraries; its vernier-train children use PyTorch's.
RUN printf '#!/bin/sh\nLD_LIBRARY_PATH=/opt/vernier/lib exec /opt/vernier/bin/vernier-worker --trainer /opt/vernier/bin/vernier-train "$@"\n' \
      > /usr/local/bin/vernier-worker && chmod +x /usr/local/bin/vernier-worker
ENTRYPOINT ["vernier-worker"]
CMD ["--gpus", "auto", "--trials-per-gpu", "2"]
