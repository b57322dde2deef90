#!/usr/bin/env bash
# .ci/bazel.sh: the Bazel checks (called by .ci/run; runs alone too).
#
# Installs what Bazel needs from Debian when it is missing, then:
#   1. bazel/gazelle.sh -check   (generated BUILD files and go_deps.bzl current)
#   2. bazel test //...          (Go tests, the dqnn_model host test, validate)
#   3. for each Cortex-M config: build //examples/firmware, run it under
#      QEMU, and check with readelf -A that it is Thumb-2 code for that CPU
#   4. a consumer workspace outside the repository, made of exactly the files
#      docs/bazel.md shows ("consumer-file" blocks): build //:app for the
#      host (and run it) and with --config=cortex_m4 (and check the ELF)
# and ends with `bazel shutdown`. Everything resolves offline: Bazel downloads
# nothing (--experimental_repository_disable_download in .bazelrc); Go modules
# come from the module cache or the Go module proxy. Outputs go to Bazel's
# default output base under /root/.cache; actions are also cached in
# /root/.cache/dqnn-bazel/disk so a second clone reuses them.
set -euo pipefail
cd "$(dirname "$0")/.."

t_start=$SECONDS
timing() { echo "bazel.sh: $1: $(($SECONDS - $2)) s"; }

# --- 1. Tools ----------------------------------------------------------------
need=()
[ -x /usr/bin/bazel-4 ] || need+=(bazel-bootstrap)
command -v java >/dev/null 2>&1 || need+=(default-jdk-headless)
[ -f /usr/share/bazel/tools/skylib/WORKSPACE ] || need+=(bazel-skylib)
[ -f /usr/share/bazel/rules/java/WORKSPACE ] || need+=(bazel-rules-java)
command -v arm-none-eabi-gcc >/dev/null 2>&1 || need+=(gcc-arm-none-eabi)
[ -f /usr/lib/arm-none-eabi/include/stdio.h ] || need+=(libnewlib-arm-none-eabi)
command -v qemu-system-arm >/dev/null 2>&1 || need+=(qemu-system-arm)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
	t=$SECONDS
	echo "bazel.sh: installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	timing "apt-get install" $t
fi
if ! command -v go >/dev/null 2>&1; then
	if [ -x /usr/local/go/bin/go ]; then
		export PATH=/usr/local/go/bin:$PATH
	else
		echo "bazel.sh: Go not found; rules_go uses the installed Go (go_register_toolchains(version = \"host\"))" >&2
		exit 1
	fi
fi

# The Debian wrapper picks /usr/bin/bazel-4 from .bazelversion ("4").
export USE_BAZEL_VERSION=4
mkdir -p /root/.cache/dqnn-bazel/disk
# Machine-local settings for this run: the shared disk cache.
flags=(--disk_cache=/root/.cache/dqnn-bazel/disk --color=no --curses=no --show_progress_rate_limit=30)

trap 'bazel shutdown >/dev/null 2>&1 || true' EXIT

bazel version 2>/dev/null | grep -E '^Build label' || true

# --- 2. Gazelle check ----------------------------------------------------------
# A stale file fails the run, but only at the end: the files are regenerated
# here so that the build and tests below still report on the committed code.
t=$SECONDS
stale=false
if ! bazel/gazelle.sh -check; then
	stale=true
	bazel/gazelle.sh
fi
timing "gazelle check" $t

# --- 3. Host build and tests -----------------------------------------------------
# The shared real models (beside the clone in CI) and CI itself reach the Go
# tests, so a test that needs a model fails here instead of skipping.
test_env=(--test_env=CI)
shared="$(cd .. && pwd)/shared/models"
[ -d "$shared" ] && test_env+=(--test_env=DQNN_SHARED_MODELS="$shared")
t=$SECONDS
bazel test "${flags[@]}" "${test_env[@]}" //...
timing "bazel test //..." $t

# --- 4. Cortex-M firmware ---------------------------------------------------------
# readelf -A expectations per CPU: the architecture name the linker merges
# into Tag_CPU_name, the architecture, the FPU and (M55) MVE.
declare -A expect=(
	[cortex_m0]='Tag_CPU_name: "6S-M"|Tag_CPU_arch: v6S-M|Tag_THUMB_ISA_use: Thumb-1'
	[cortex_m0plus]='Tag_CPU_name: "6S-M"|Tag_CPU_arch: v6S-M|Tag_THUMB_ISA_use: Thumb-1'
	[cortex_m3]='Tag_CPU_name: "7-M"|Tag_CPU_arch: v7|Tag_THUMB_ISA_use: Thumb-2'
	[cortex_m4]='Tag_CPU_name: "7E-M"|Tag_CPU_arch: v7E-M|Tag_THUMB_ISA_use: Thumb-2|Tag_FP_arch: VFPv4-D16|Tag_ABI_HardFP_use: SP only'
	[cortex_m7]='Tag_CPU_name: "7E-M"|Tag_CPU_arch: v7E-M|Tag_THUMB_ISA_use: Thumb-2|Tag_FP_arch: FPv5/FP-D16 for ARMv8'
	[cortex_m33]='Tag_CPU_name: "8-M.MAIN"|Tag_CPU_arch: v8-M.mainline|Tag_FP_arch: FPv5/FP-D16 for ARMv8|Tag_ABI_HardFP_use: SP only|Tag_DSP_extension: Allowed'
	[cortex_m55]='Tag_CPU_name: "cortex-m55"|Tag_CPU_arch: v8.1-M.mainline|Tag_FP_arch: FPv5/FP-D16 for ARMv8|Tag_MVE_arch: MVE Integer and FP'
)
for cfg in cortex_m0 cortex_m0plus cortex_m3 cortex_m4 cortex_m7 cortex_m33 cortex_m55; do
	t=$SECONDS
	bazel test "${flags[@]}" --config=$cfg //examples/firmware:firmware //examples/firmware:qemu_test
	elf="$(bazel info --config=$cfg bazel-bin 2>/dev/null)/examples/firmware/firmware"
	attrs=$(readelf -A "$elf")
	IFS='|' read -r -a want <<<"${expect[$cfg]}"
	for w in "${want[@]}"; do
		if ! grep -qF "$w" <<<"$attrs"; then
			echo "bazel.sh: $elf: readelf -A has no '$w':" >&2
			echo "$attrs" >&2
			exit 1
		fi
	done
	# Thumb only: no ARM-state code may be linked in (Cortex-M cannot run it).
	if grep -q 'Tag_ARM_ISA_use: Yes' <<<"$attrs"; then
		echo "bazel.sh: $elf contains ARM-state code" >&2
		exit 1
	fi
	echo "bazel.sh: $cfg: $(grep -E 'Tag_CPU_name|Tag_CPU_arch:' <<<"$attrs" | tr -s ' ' | tr '\n' ';')"
	timing "$cfg firmware build, readelf check and QEMU run" $t
done

# --- 5. A consumer workspace, as docs/bazel.md shows it ----------------------------
# Every fenced block after a "<!-- consumer-file: NAME -->" line in the docs is
# written to NAME in an empty directory outside the repository; dqnn is linked
# at third_party/dqnn and the example model copied in, as the docs say.
t=$SECONDS
repo=$(pwd)
# A fixed path: Bazel keys its output base on it, so reruns are incremental.
consumer=/tmp/dqnn-bazel-consumer
rm -rf "$consumer"
mkdir -p "$consumer"
awk -v dir="$consumer" '
	/^<!-- consumer-file: [^ ]+ -->$/ { name = $3; want = 1; next }
	want && /^```/ { want = 0; inblock = 1; out = dir "/" name; printf "" > out; next }
	inblock && /^```$/ { inblock = 0; close(out); next }
	inblock { print >> out }
' docs/bazel.md
for f in WORKSPACE .bazelrc .bazelversion BUILD.bazel main.c; do
	if [ ! -s "$consumer/$f" ]; then
		echo "bazel.sh: docs/bazel.md has no consumer-file block for $f" >&2
		exit 1
	fi
done
mkdir -p "$consumer/third_party"
ln -s "$repo" "$consumer/third_party/dqnn"
cp examples/mnist_bnn/mnist_bnn.h5 "$consumer/"
(
	cd "$consumer"
	bazel build "${flags[@]}" //:app
	out=$(./bazel-bin/app)
	echo "bazel.sh: consumer app (host): $out"
	if ! grep -qE '^class [0-9]$' <<<"$out"; then
		echo "bazel.sh: the consumer app printed '$out', want 'class N'" >&2
		exit 1
	fi
	bazel build "${flags[@]}" --config=cortex_m4 //:app
	elf="$(bazel info --config=cortex_m4 bazel-bin 2>/dev/null)/app"
	attrs=$(readelf -A "$elf")
	IFS='|' read -r -a want <<<"${expect[cortex_m4]}"
	for w in "${want[@]}"; do
		if ! grep -qF "$w" <<<"$attrs"; then
			echo "bazel.sh: consumer $elf: readelf -A has no '$w':" >&2
			echo "$attrs" >&2
			exit 1
		fi
	done
	# The library's math calls resolved from libm, not left undefined.
	if arm-none-eabi-nm -u "$elf" | grep -qw expf; then
		echo "bazel.sh: consumer $elf: expf is undefined" >&2
		exit 1
	fi
	bazel shutdown >/dev/null 2>&1 || true
)
timing "consumer workspace (host + cortex_m4)" $t

timing "total" $t_start
if $stale; then
	echo "bazel.sh: FAILED: the Gazelle-generated files are stale (see the diff above); run bazel/gazelle.sh and commit" >&2
	exit 1
fi
echo "bazel.sh: all Bazel checks passed"
