# The one Dockerfile of the project's images: hamba and the four DockerCoins services.
#
#   docker build -t hamba .                        # the hamba image (default target, last stage)
#   docker build --target rng -t dockercoins/rng .  # likewise hasher, worker, webui
#
# Builds start from debian:bookworm-slim (scripts/offline-images makes it when no registry is
# reachable); the images themselves are `FROM scratch`: one stripped program, exactly the shared
# libraries and loader it links (scripts/image-root reads them from the program), a few lines of
# /etc. No shell, no package manager: a few MB each. Docker's legacy builder (the default before
# Docker 23) builds every stage that comes before the target, BuildKit only the ones it needs:
# either way nothing here but the compile is slow, so this file holds no test stage. The tests
# run in an image of their own, only when asked: `docker build -f tests/Dockerfile .`.

# Compilers and libraries, from the project's one list of Debian packages. Copied alone so that
# this slow layer is rebuilt only when the list changes (tests/Dockerfile starts with the same
# two steps, so it shares the layer).
FROM debian:bookworm-slim AS deps
COPY scripts/install-deps /src/scripts/install-deps
RUN DEBIAN_FRONTEND=noninteractive /src/scripts/install-deps --build-only

# The programs installed (stripped) by CMake's own install rules into /out, then one image root
# per program under /images: the program, what it links, and its /etc. The default build type's
# -O2, without its -g: the install strips the debug information anyway, and making it is a good
# part of the compile time. Only what the compile reads is copied (no tests: HAMBA_TESTS=OFF), so
# that a change to a test, an example or the docs does not rebuild the programs.
#
# Every image runs as a user of its own, by number (Kubernetes' runAsNonRoot can check a number,
# not a name): hamba 10000, the DockerCoins services 10001. The programs that listen carry the
# file capability cap_net_bind_service (setcap, kept in the file's security.capability xattr
# through image-root's `cp -a` and the COPY below), so port 80 binds as that user in every
# network mode, `--net host` included, where the host's ip_unprivileged_port_start applies. A
# container with its own network needs it less: Docker sets that sysctl to 0 there.
FROM deps AS builder
WORKDIR /src
COPY CMakeLists.txt ./
COPY hamba hamba/
COPY services services/
COPY bench bench/
COPY scripts/image-root scripts/
RUN cmake -S . -B /build -DHAMBA_WERROR=ON -DHAMBA_TESTS=OFF -DCMAKE_INSTALL_PREFIX=/usr/local \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -DNDEBUG" \
      -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -DNDEBUG" >/dev/null \
 && cmake --build /build -j2 --target hamba rng hasher worker webui \
 && DESTDIR=/out cmake --install /build --strip >/dev/null \
 && for program in hamba rng hasher worker; do \
      scripts/image-root /out /images/$program usr/local/bin/$program; \
    done \
 && scripts/image-root /out /images/webui usr/local/bin/webui usr/local/share/dockercoins/webui \
 && for program in hamba rng hasher webui; do \
      setcap cap_net_bind_service=+ep /images/$program/usr/local/bin/$program; \
    done \
 && for program in rng hasher worker webui; do \
      printf 'dockercoins:x:10001:10001:DockerCoins:/nonexistent:/nonexistent\n' \
        >/images/$program/etc/passwd; \
      printf 'dockercoins:x:10001:\n' >/images/$program/etc/group; \
    done \
 && printf 'hamba:x:10000:10000:hamba:/run:/nonexistent\n' >/images/hamba/etc/passwd \
 && printf 'hamba:x:10000:\n' >/images/hamba/etc/group \
 && mkdir -p /images/hamba/run /images/hamba/tmp && chmod 1777 /images/hamba/tmp \
 && chown 10000:10000 /images/hamba/run && chmod 0700 /images/hamba/run

# The DockerCoins services listen on port 80 as the originals did; their other defaults (rng:80,
# hasher:80, redis:6379) are the compose service names. Exec-form entrypoints: the program is
# PID 1, gets SIGTERM from `docker stop` and exits at once.
FROM scratch AS rng
COPY --from=builder /images/rng/ /
ENV PATH=/usr/local/bin
USER 10001:10001
EXPOSE 80
ENTRYPOINT ["rng"]

FROM scratch AS hasher
COPY --from=builder /images/hasher/ /
ENV PATH=/usr/local/bin
USER 10001:10001
EXPOSE 80
ENTRYPOINT ["hasher"]

FROM scratch AS worker
COPY --from=builder /images/worker/ /
ENV PATH=/usr/local/bin
USER 10001:10001
ENTRYPOINT ["worker"]

# The page's files are where the webui looks by default (CMake's install data dir).
FROM scratch AS webui
COPY --from=builder /images/webui/ /
ENV PATH=/usr/local/bin
USER 10001:10001
EXPOSE 80
ENTRYPOINT ["webui"]

# A drop-in for jpetazzo/hamba: same entrypoint, and its state in the volume /run with HOME=/run
# (the control socket is $HOME/.hamba.sock). So `docker exec LB hamba reconfigure ...` and, from
# a second container, `docker run --rm --volumes-from LB hamba reconfigure ...` (or showconfig)
# both reach the running instance with no flag: every container of the image is the same user,
# who owns /run (a new volume takes the image's ownership). The health check asks it over that
# socket (exec form: there is no shell); answering means serving, whatever its servers do.
# Nothing else is written: `--read-only` works as it is. The last stage: `docker build -t hamba .`
FROM scratch AS hamba
COPY --from=builder /images/hamba/ /
ENV PATH=/usr/local/bin HOME=/run
VOLUME /run
USER 10000:10000
HEALTHCHECK --interval=5s --timeout=3s --retries=3 CMD ["hamba", "status"]
ENTRYPOINT ["hamba"]
