# clockwatch container image: a static binary on an empty base.
# SPDX-License-Identifier: Apache-2.0 OR MIT
#
#   docker build -t <registry>/clockwatch:0.1.0 --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
#
# Plain Dockerfile syntax only, so that it builds the same with the classic
# `docker build` (no BuildKit), `az acr build`, buildah and podman: no
# `# syntax=` line, no `RUN --mount`, no `COPY --chmod`/`--link`, no
# heredocs, and no BuildKit-only automatic ARGs (TARGETARCH...).
# deploy/tests/test_image.py refuses any of them.
#
# The build stage compiles for the architecture it runs on (rust:1-alpine is
# multi-arch), so `docker buildx build --platform linux/arm64` or
# `az acr build --platform linux/arm64` give an arm64 image. Where no image can
# be pulled, deploy/image/cross-build.sh builds both binaries and
# deploy/image/build.sh / build-multiarch.sh wrap them with buildah.
#
# The runtime image holds one file, /clockwatch: no shell, no package manager,
# no libc. It runs as uid/gid 65534 (nobody); in the Helm chart's socket mode
# the pod's securityContext runs it as chronyd's uid/gid instead.

# Pin this (ideally by digest) for reproducible builds.
ARG RUST_IMAGE=rust:1-alpine

FROM ${RUST_IMAGE} AS build
# On Alpine the Rust target is x86_64/aarch64-unknown-linux-musl, which links
# statically by default.
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
# The build context has no .git: the revision comes in as a build argument and
# reaches clockwatch_build_info{revision} through CLOCKWATCH_REVISION
# (crates/clockwatch/build.rs).
ARG REVISION=unknown
RUN CLOCKWATCH_REVISION="${REVISION}" cargo build --release --locked --bin clockwatch \
 && install -m 0555 target/release/clockwatch /clockwatch \
 && if readelf -l /clockwatch 2>/dev/null | grep -q 'Requesting program interpreter'; then \
      echo 'clockwatch is not statically linked' >&2; exit 1; \
    fi

FROM scratch
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="clockwatch" \
      org.opencontainers.image.description="Prometheus exporter for the clock error of Kubernetes nodes (chrony cmdmon + adjtimex)" \
      org.opencontainers.image.licenses="Apache-2.0 OR MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://example.invalid/clockwatch"
# COPY keeps the mode set by `install` above (0555) and makes root the owner.
COPY --from=build /clockwatch /clockwatch
USER 65534:65534
EXPOSE 9707
ENTRYPOINT ["/clockwatch"]
