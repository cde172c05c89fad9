# The one Dockerfile of the project: hamba and the four DockerCoins services, and a test target.
#
#   docker build -t hamba .                       # the hamba image (default target, last stage)
#   docker build --target rng -t dockercoins/rng . # likewise hasher, worker, webui
#   docker build --target test .                  # builds everything and runs the CTest suite
#
# Builds start from debian:bookworm-slim (scripts/offline-images makes it when no registry is
# reachable); the images themselves are `FROM scratch`: one stripped program, exactly the shared
# libraries and loader it links (scripts/image-root reads them from the program), a few lines of
# /etc. No shell, no package manager: a few MB each. Build with BuildKit (the default since
# Docker 23; DOCKER_BUILDKIT=1 before): it builds only the stages a target needs. Docker's legacy
# builder builds every stage that comes before the target, which is why `test` comes after all
# the runtime images and just before the final alias: there `--target hamba` or `--target rng`
# still skips the tests, and only the default target runs them on the way.

# Compilers and libraries, from the project's one list of Debian packages (the test tools, such
# as Chromium and HAProxy, come in the test stage only). Copied alone so that this slow layer is
# rebuilt only when the list changes.
FROM debian:bookworm-slim AS deps
COPY scripts/install-deps /src/scripts/install-deps
RUN DEBIAN_FRONTEND=noninteractive /src/scripts/install-deps --build-only

# The programs installed (stripped) by CMake's own install rules into /out, then one image root
# per program under /images: the program, what it links, and its /etc. The default build type's
# -O2, without its -g: the install strips the debug information anyway, and making it is a good
# part of the compile time. The services run as an unprivileged user (Docker lets any user of a
# container with its own network bind port 80: ip_unprivileged_port_start is 0 there). hamba
# stays root, as the original: it binds any port in any network mode, --net host included.
FROM deps AS builder
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -DHAMBA_WERROR=ON -DCMAKE_INSTALL_PREFIX=/usr/local \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -DNDEBUG" \
      -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -DNDEBUG" >/dev/null \
 && cmake --build /build -j2 --target hamba rng hasher worker webui \
 && DESTDIR=/out cmake --install /build --strip >/dev/null \
 && for program in hamba rng hasher worker; do \
      scripts/image-root /out /images/$program usr/local/bin/$program; \
    done \
 && scripts/image-root /out /images/webui usr/local/bin/webui usr/local/share/dockercoins/webui \
 && for program in rng hasher worker webui; do \
      printf 'dockercoins:x:10001:10001:DockerCoins:/nonexistent:/nonexistent\n' \
        >/images/$program/etc/passwd; \
      printf 'dockercoins:x:10001:\n' >/images/$program/etc/group; \
    done \
 && printf 'root:x:0:0:root:/run:/nonexistent\n' >/images/hamba/etc/passwd \
 && printf 'root:x:0:\n' >/images/hamba/etc/group \
 && mkdir -p /images/hamba/run /images/hamba/tmp && chmod 1777 /images/hamba/tmp

# The DockerCoins services listen on port 80 as the originals did; their other defaults (rng:80,
# hasher:80, redis:6379) are the compose service names. Exec-form entrypoints: the program is
# PID 1, gets SIGTERM from `docker stop` and exits at once.
FROM scratch AS rng
COPY --from=builder /images/rng/ /
ENV PATH=/usr/local/bin
USER dockercoins
EXPOSE 80
ENTRYPOINT ["rng"]

FROM scratch AS hasher
COPY --from=builder /images/hasher/ /
ENV PATH=/usr/local/bin
USER dockercoins
EXPOSE 80
ENTRYPOINT ["hasher"]

FROM scratch AS worker
COPY --from=builder /images/worker/ /
ENV PATH=/usr/local/bin
USER dockercoins
ENTRYPOINT ["worker"]

# The page's files are where the webui looks by default (CMake's install data dir).
FROM scratch AS webui
COPY --from=builder /images/webui/ /
ENV PATH=/usr/local/bin
USER dockercoins
EXPOSE 80
ENTRYPOINT ["webui"]

# A drop-in for jpetazzo/hamba: same entrypoint, and its state in the volume /run with HOME=/run
# (the control socket is $HOME/.hamba.sock). So `docker exec LB hamba reconfigure ...` and, from
# a second container, `docker run --rm --volumes-from LB hamba reconfigure ...` (or showconfig)
# both reach the running instance with no flag. The health check asks it over that socket
# (exec form: there is no shell); answering means serving, whatever its servers do.
FROM scratch AS hamba
COPY --from=builder /images/hamba/ /
ENV PATH=/usr/local/bin HOME=/run
VOLUME /run
HEALTHCHECK --interval=5s --timeout=3s --retries=3 CMD ["hamba", "status"]
ENTRYPOINT ["hamba"]

# The whole CTest suite but the Docker end-to-end tests (no Docker engine inside a build). It
# reuses the builder's objects, so only the test programs are compiled here.
FROM builder AS test
RUN DEBIAN_FRONTEND=noninteractive /src/scripts/install-deps \
 && cmake --build /build -j2 \
 && ctest --test-dir /build --output-on-failure -j2 -LE e2e

# Default target: the hamba image, so a plain `docker build -t hamba .` gives it.
FROM hamba AS default
