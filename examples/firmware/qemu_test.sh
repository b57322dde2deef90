#!/bin/sh
# qemu_test.sh FIRMWARE BOARD: boots FIRMWARE on QEMU's BOARD with semihosting
# and checks that it exits 0 after printing its prediction. The timeout keeps a
# hung program from hanging the test (fault handlers exit with 100+n).
set -u
firmware=$1 board=$2
if ! command -v qemu-system-arm >/dev/null 2>&1; then
	echo "qemu_test: qemu-system-arm not found (apt-get install qemu-system-arm)" >&2
	exit 1
fi
out=$(timeout 60 qemu-system-arm -M "$board" -nographic -monitor none \
	-semihosting-config enable=on,target=native -kernel "$firmware" 2>&1)
status=$?
printf '%s\n' "$out"
if [ $status -ne 0 ]; then
	echo "qemu_test: $firmware on $board exited with status $status" >&2
	exit 1
fi
case $out in
*"mnist_bnn: predicted class "*) ;;
*) echo "qemu_test: no prediction in the output" >&2; exit 1 ;;
esac
echo "qemu_test: $board ok"
