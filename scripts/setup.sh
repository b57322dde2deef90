#!/usr/bin/env bash
# Installs what dqnn's tests and its Cortex-M runners need on a Debian 12 machine
# (run as root, or with sudo available), then fetches the Go modules.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(gcc clang gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm binutils-arm-none-eabi python3-numpy cmake chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
go mod download
echo "setup: ok ($(go version | cut -d' ' -f3), $(arm-none-eabi-gcc -dumpversion 2>/dev/null | sed 's/^/arm-none-eabi-gcc /'), $(qemu-system-arm --version | head -1))"
