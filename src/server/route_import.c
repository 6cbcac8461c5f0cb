/* route_import.c — placeholder */
#include "server/server_http.h"
const struct server_route route_import[] = {
    { NULL, NULL, 0, 0, NULL },
};
