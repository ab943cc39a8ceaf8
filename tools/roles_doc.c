/*  roles_doc: print the role x route table (docs/ROLES.md) generated from the gateway's
    route table. `make roles-doc` writes it; test_routes fails when the file and the
    table differ. */
#include "../services/gateway/routes.h"

#include <stdio.h>
#include <stdlib.h>

int main(void) {
    char *text = route_roles_markdown();
    fputs(text, stdout);
    free(text);
    return 0;
}
