# vernier-worker for CPU nodes, with vernier-train built on Debian's libtorch
# (CPU only) and the Fashion-MNIST package. Build from the repository root:
#   docker build -f deploy/worker-cpu.Dockerfile -t vernier-worker-cpu .
FROM debian:12-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config libgrpc++-dev protobuf-compiler-grpc \
      libprotobuf-dev protobuf-compiler libabsl-dev libsqlite3-dev nlohmann-json3-dev libeigen3-dev \
      libyaml-cpp-dev libcli11-dev libtorch-dev zlib1g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DVERNIER_BUILD_TESTS=OFF \
    && cmake --build /build --target vernier-worker vernier-train

FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libabsl20220623 libtorch1.13 dataset-fashion-mnist python3 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/bin/vernier-worker /build/bin/vernier-train /usr/local/bin/
RUN useradd --system --create-home vernier
USER vernier
ENTRYPOINT ["vernier-worker"]
CMD ["--cpu-slots", "2", "--threads-per-slot", "1"]
