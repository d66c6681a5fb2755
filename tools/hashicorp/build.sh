#!/usr/bin/env bash
# Builds one HashiCorp product (nomad | consul | vault) from its pinned tools module
# in this folder, with the ordinary Go toolchain through the Go module proxy.
#
# Why a script and not `go install module@version`: go install refuses modules
# with replace directives and ignores a dependency's own replaces, so each product
# is built from a small tools module of its own (go.mod + go.sum here, reproducible).
#
# The binary is cached outside the work tree, keyed by the pinned version and a hash
# of go.mod/go.sum, so a second run costs nothing. Prints the binary's path last.
set -euo pipefail
product=${1:?usage: build.sh nomad|consul|vault}
here=$(cd "$(dirname "$0")" && pwd)
cache=${BOTPOOL_CACHE:-$HOME/.cache/botpool}
cd "$here/$product"
module=github.com/hashicorp/$product
version=$(GOFLAGS=-mod=mod go list -m -f '{{.Version}}' "$module")
key=$(cat go.mod go.sum | sha256sum | cut -c1-12)
out=$cache/bin/$product-$version-$key/$product
if [ -x "$out" ]; then echo "$out"; exit 0; fi

commit=${version##*-}
tags=""
case $product in
  nomad)  tags="hashicorpmetrics"  # as Nomad's GNUmakefile; without it go-metrics' compat shim breaks the build
          ldflags="-X $module/version.VersionPrerelease= -X $module/version.GitCommit=$commit" ;;
  consul) ldflags="-X $module/version.GitCommit=$version" ;;
  vault)  ldflags="-X $module/version.GitCommit=$version" ;;
  *) echo "unknown product: $product" >&2; exit 2 ;;
esac

mkdir -p "$(dirname "$out")"
start=$(date +%s)
echo "building $product $version (first time only; several minutes on 2 cores)..." >&2
# CGO_ENABLED=0: a static binary; for Nomad it drops only the exec driver (raw_exec stays).
CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -tags "$tags" -ldflags "-s -w $ldflags" -o "$out.tmp" "$module"
mv "$out.tmp" "$out"
echo "built $product in $(( $(date +%s) - start )) s" >&2
echo "$product $version $(( $(date +%s) - start ))s $(date -u +%FT%TZ)" >> "$cache/build-times.log"
echo "$out"
