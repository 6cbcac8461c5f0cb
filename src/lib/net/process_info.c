/* process_info.c — placeholder until written. */
#include <errno.h>
