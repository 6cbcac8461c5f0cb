/* procmap_proc.c — placeholder until written. */
#include <errno.h>
