#!/usr/bin/env bash
# Regenerates the interop fixtures with the two independent implementations.
# Needs Java 17+ and the openssl CLI; the committed fixtures make the tests
# independent of both.
set -euo pipefail
cd "$(dirname "$0")"
rm -f fixtures/*
java Interop.java produce keys fixtures
./openssl.sh produce keys fixtures
ls fixtures
