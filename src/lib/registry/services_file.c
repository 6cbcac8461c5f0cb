/* services_file.c — placeholder until written. */
#include <errno.h>
