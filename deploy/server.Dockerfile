# vernier-server (and the vernier CLI) on a small Debian image. The server never
# links libtorch. Build from the repository root:
#   docker build -f deploy/server.Dockerfile -t vernier-server .
FROM debian:12-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config libgrpc++-dev protobuf-compiler-grpc \
      libprotobuf-dev protobuf-compiler libabsl-dev libsqlite3-dev nlohmann-json3-dev libeigen3-dev \
      libyaml-cpp-dev libcli11-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DVERNIER_BUILD_TRAINER=OFF -DVERNIER_BUILD_TESTS=OFF \
    && cmake --build /build --target vernier-server vernier

FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libabsl20220623 libsqlite3-0 libyaml-cpp0.7 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/bin/vernier-server /build/bin/vernier /usr/local/bin/
RUN useradd --system --create-home vernier && mkdir -p /data && chown vernier /data
USER vernier
VOLUME /data
EXPOSE 50051
# SIGTERM: stop taking calls, finish the ones in flight, close the database.
STOPSIGNAL SIGTERM
ENTRYPOINT ["vernier-server", "--db", "/data/vernier.db", "--listen", "0.0.0.0:50051"]
