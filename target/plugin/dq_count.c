/* dq_count.c - QEMU TCG plugin that counts executed guest instructions and
 * logs the count at every entry of a set of marker addresses.
 *
 * Arguments (-plugin libdq_count.so,out=FILE,mark=0xADDR,mark=0xADDR,...):
 *   out   file to write the log to;
 *   mark  address of a marker function's first instruction (Thumb bit clear).
 * Log lines: "m <marker index> <count>" at each marker entry, in execution
 * order, where <count> is the number of instructions executed before the
 * marker's first instruction; then "total <count>" at exit.
 *
 * Counting is per translation block: an inline add of the block's length at
 * its start (cheap), corrected at a marker by how many instructions of the
 * block have not run yet. A block always runs to its end unless an
 * exception interrupts it, which the test programs only do when they crash.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dq_qemu_plugin.h"

QEMU_PLUGIN_EXPORT int qemu_plugin_version = DQ_QEMU_PLUGIN_VERSION;

#define MAX_MARKS 64

static uint64_t icount;
static uint64_t marks[MAX_MARKS];
static int nmarks;
static FILE *out;

static void on_mark(unsigned int vcpu, void *udata) {
  uintptr_t u = (uintptr_t)udata;
  unsigned idx = (unsigned)(u >> 16);
  uint64_t pending = u & 0xFFFFu; /* instructions of this block not yet run, this one included */
  (void)vcpu;
  fprintf(out, "m %u %" PRIu64 "\n", idx, icount - pending);
  fflush(out);
}

static void on_tb(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
  size_t n = qemu_plugin_tb_n_insns(tb);
  (void)id;
  qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &icount, n);
  for (size_t i = 0; i < n; i++) {
    struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
    uint64_t pc = qemu_plugin_insn_vaddr(insn);
    for (int k = 0; k < nmarks; k++) {
      if (pc == marks[k]) {
        uintptr_t u = ((uintptr_t)k << 16) | (uintptr_t)(n - i);
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS, (void *)u);
      }
    }
  }
}

static void on_exit_cb(qemu_plugin_id_t id, void *udata) {
  (void)id;
  (void)udata;
  if (out) {
    fprintf(out, "total %" PRIu64 "\n", icount);
    fclose(out);
    out = NULL;
  }
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv);

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
  const char *path = NULL;
  (void)info;
  for (int i = 0; i < argc; i++) {
    if (strncmp(argv[i], "out=", 4) == 0) {
      path = argv[i] + 4;
    } else if (strncmp(argv[i], "mark=", 5) == 0) {
      if (nmarks == MAX_MARKS) {
        fprintf(stderr, "dq_count: more than %d markers\n", MAX_MARKS);
        return -1;
      }
      marks[nmarks++] = strtoull(argv[i] + 5, NULL, 0) & ~(uint64_t)1;
    } else {
      fprintf(stderr, "dq_count: unknown argument %s\n", argv[i]);
      return -1;
    }
  }
  if (path == NULL) {
    fprintf(stderr, "dq_count: missing out=FILE\n");
    return -1;
  }
  out = fopen(path, "w");
  if (out == NULL) {
    fprintf(stderr, "dq_count: cannot create %s\n", path);
    return -1;
  }
  qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb);
  qemu_plugin_register_atexit_cb(id, on_exit_cb, NULL);
  return 0;
}
