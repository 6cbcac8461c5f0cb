/* procmap_bpf.c — placeholder until written. */
#include <errno.h>
