# The one Dockerfile of the project: hamba and the four DockerCoins services, and a test target.
#
#   docker build -t hamba .                       # the hamba image (default target, last stage)
#   docker build --target rng -t dockercoins/rng . # likewise hasher, worker, webui
#   docker build --target test .                  # builds everything and runs the CTest suite
#
# Every stage starts from debian:bookworm-slim (scripts/offline-images makes it when no registry
# is reachable). Build with BuildKit (the default since Docker 23; DOCKER_BUILDKIT=1 before): it
# builds only the stages a target needs. Docker's legacy builder builds every stage that comes
# before the target, which is why `test` comes after all the runtime images and just before the
# final alias: there `--target hamba` or `--target rng` still skips the tests, and only the
# default target runs them on the way.

# Compilers and libraries, from the project's one list of Debian packages (the test tools, such
# as Chromium and HAProxy, come in the test stage only). Copied alone so that this slow layer is
# rebuilt only when the list changes.
FROM debian:bookworm-slim AS deps
COPY scripts/install-deps /src/scripts/install-deps
RUN DEBIAN_FRONTEND=noninteractive /src/scripts/install-deps --build-only

# The executables, stripped into /out for the runtime images.
FROM deps AS builder
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DHAMBA_WERROR=ON >/dev/null \
 && cmake --build /build -j2 --target hamba rng hasher worker webui \
 && install -d /out \
 && install -s -m 0755 /build/bin/hamba /build/bin/rng /build/bin/hasher /build/bin/worker \
      /build/bin/webui /out/

# What every runtime image shares: the shared libraries the executables link, nothing else.
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libuv1 libyaml-cpp0.7 libfmt9 libhiredis0.14 libssl3 libhttp-parser2.9 \
 && rm -rf /var/lib/apt/lists/*

# The DockerCoins services listen on port 80 as the originals did; their other defaults (rng:80,
# hasher:80, redis:6379) are the compose service names. Exec-form entrypoints: the program is
# PID 1, gets SIGTERM from `docker stop` and exits at once.
FROM runtime AS rng
COPY --from=builder /out/rng /usr/local/bin/rng
EXPOSE 80
ENTRYPOINT ["rng"]

FROM runtime AS hasher
COPY --from=builder /out/hasher /usr/local/bin/hasher
EXPOSE 80
ENTRYPOINT ["hasher"]

FROM runtime AS worker
COPY --from=builder /out/worker /usr/local/bin/worker
ENTRYPOINT ["worker"]

FROM runtime AS webui
COPY --from=builder /out/webui /usr/local/bin/webui
COPY services/webui/files /usr/local/share/dockercoins/webui
ENV FILES=/usr/local/share/dockercoins/webui
EXPOSE 80
ENTRYPOINT ["webui"]

# A drop-in for jpetazzo/hamba: same entrypoint, same HOME (where the control socket lives, so
# `docker exec CONTAINER hamba reconfigure ...` finds the running instance with no flag).
FROM runtime AS hamba
COPY --from=builder /out/hamba /usr/local/bin/hamba
ENV HOME=/run
ENTRYPOINT ["hamba"]

# The whole CTest suite but the Docker end-to-end tests (no Docker engine inside a build). It
# reuses the builder's objects, so only the test programs are compiled here.
FROM builder AS test
RUN DEBIAN_FRONTEND=noninteractive /src/scripts/install-deps \
 && cmake --build /build -j2 \
 && ctest --test-dir /build --output-on-failure -j2 -LE e2e

# Default target: the hamba image, so a plain `docker build -t hamba .` gives it.
FROM hamba AS default
