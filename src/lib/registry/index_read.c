/* index_read.c — placeholder until written. */
#include <errno.h>
