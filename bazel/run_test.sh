#!/bin/sh
# Runs its arguments as a test command: a tool from the runfiles and its flags.
# dqnn validate compiles C, so the test needs a writable TMPDIR (Bazel's).
set -eu
exec "$@"
