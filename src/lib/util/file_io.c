/* file_io.c — placeholder until written. */
#include <errno.h>
