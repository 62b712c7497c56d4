#!/usr/bin/env bash
# Build a release tarball for deploy/ec2: the code (app/), requirements.txt, deploy/ (nginx,
# the instance scripts) and the built dashboard (ui/dist), from this checkout's HEAD.
#   deploy/ec2/package.sh 2026-11-25.1   ->  build/dtq-2026-11-25.1.tar.gz
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:?usage: deploy/ec2/package.sh <release name>}
[[ "$name" =~ ^[A-Za-z0-9._-]+$ ]] || { echo "bad release name: $name" >&2; exit 2; }
[ -f ui/dist/index.html ] || { echo "build the dashboard first: (cd ui && npm ci && npm run build)" >&2; exit 1; }
mkdir -p build
stage=$(mktemp -d)
git archive HEAD app requirements.txt deploy | tar -x -C "$stage"
mkdir -p "$stage/ui" && cp -r ui/dist "$stage/ui/"
tar -czf "build/dtq-$name.tar.gz" -C "$stage" .
rm -rf "$stage"
echo "build/dtq-$name.tar.gz"
