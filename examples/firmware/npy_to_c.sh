#!/bin/sh
# npy_to_c.sh FILE.npy ROW NAME: prints row ROW of a little-endian float32
# .npy array (version 1 or 2 header, C order) as a C array of float32 bit
# patterns: `static const uint32_t NAME[] = {...};`. Bit patterns keep the
# values exact, whatever the compiler's float parsing does.
set -eu
file=$1 row=$2 name=$3
magic=$(od -An -tx1 -N6 "$file" | tr -d ' ')
[ "$magic" = 934e554d5059 ] || { echo "npy_to_c: $file: not a .npy file" >&2; exit 1; }
major=$(od -An -tu1 -j6 -N1 "$file" | tr -d ' ')
case $major in
1) hlen=$(od -An -tu2 -j8 -N2 "$file" | tr -d ' '); data=$((10 + hlen)) ;;
2 | 3) hlen=$(od -An -tu4 -j8 -N4 "$file" | tr -d ' '); data=$((12 + hlen)) ;;
*) echo "npy_to_c: $file: unsupported .npy version $major" >&2; exit 1 ;;
esac
header=$(dd if="$file" bs=1 skip=$((data - hlen)) count="$hlen" 2>/dev/null)
case $header in
*"'descr': '<f4'"*"'fortran_order': False"*) ;;
*) echo "npy_to_c: $file: want little-endian float32 in C order, header is $header" >&2; exit 1 ;;
esac
# shape (N, d1, d2, ...): a row holds d1*d2*... values.
dims=$(printf '%s' "$header" | sed -n "s/.*'shape': (\([0-9, ]*\)).*/\1/p" | tr -d ' ')
rows=${dims%%,*}
rest=${dims#*,}
count=1
for d in $(printf '%s' "$rest" | tr ',' ' '); do count=$((count * d)); done
[ "$row" -lt "$rows" ] || { echo "npy_to_c: $file: row $row out of range (0..$((rows - 1)))" >&2; exit 1; }
echo "/* Row $row of $(basename "$file") (shape ($dims)), float32 bit patterns. */"
echo "static const uint32_t ${name}[$count] = {"
od -An -v -tx4 -w16 -j$((data + row * count * 4)) -N$((count * 4)) "$file" |
	sed -e 's/^ *//' -e 's/ *$//' -e 's/\([0-9a-f]\{8\}\)/0x\1u,/g' -e 's/^/    /'
echo "};"
