/*  crmctl_certs: CurveZMQ key pairs for the suite's processes and outside clients.

        crmctl certs create NAME --role ROLE[,ROLE...] [--pii false] [--out DIR] [--replace]
        crmctl certs list

    create makes a key pair (common/curve.c): NAME.key_secret (mode 0600) and NAME.key
    in --out (default security.certs_dir), and registers the public key with its roles by
    copying NAME.key into security.keys_dir, which the gateway reads (a change there is
    seen within a second, no restart). ROLE is as in common/peer.h: worker:SERVICE,
    client[:TENANT[:ROLE/ROLE]], subscriber:TENANT. Revoking a key is deleting its file
    from keys_dir. list prints the registered keys.
*/
#include "crmctl.h"
#include "curve.h"
#include "peer.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

int crmctl_certs_create(crmctl_t *ctl, int argc, char **argv) {
    const char *roles = NULL, *out = ctl->cfg->security_certs_dir;
    bool pii = true, replace = false;
    static const struct option options[] = {{"role", required_argument, NULL, 'r'},
                                            {"pii", required_argument, NULL, 'p'},
                                            {"out", required_argument, NULL, 'o'},
                                            {"replace", no_argument, NULL, 'R'},
                                            {NULL, 0, NULL, 0}};
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'r': roles = optarg; break;
        case 'o': out = optarg; break;
        case 'R': replace = true; break;
        case 'p':
            if (strcmp(optarg, "true") != 0 && strcmp(optarg, "false") != 0) {
                fprintf(stderr, "crmctl: --pii is true or false\n");
                return 2;
            }
            pii = strcmp(optarg, "true") == 0;
            break;
        default: return 2;
        }
    }
    if (optind + 1 != argc || !roles) {
        fprintf(stderr, "crmctl: name the key and give its --role\n");
        return 2;
    }
    const char *name = argv[optind];
    char problem[512];
    if (crm_curve_cert_create(out, name, roles, pii, replace, problem, sizeof problem)) {
        fprintf(stderr, "crmctl: could not create the key pair: %s\n", problem);
        return 1;
    }
    //  Register the public key where the gateway looks (unless it is the same place).
    char from[1024], to[1024];
    snprintf(from, sizeof from, "%s/%s.key", out, name);
    snprintf(to, sizeof to, "%s/%s.key", ctl->cfg->security_keys_dir, name);
    if (strcmp(out, ctl->cfg->security_keys_dir) != 0) {
        zcert_t *cert = zcert_load(from);
        int rc = cert && zsys_dir_create("%s", ctl->cfg->security_keys_dir) == 0
                     ? zcert_save_public(cert, to)
                     : -1;
        zcert_destroy(&cert);
        if (rc != 0) {
            fprintf(stderr, "crmctl: could not register the public key in %s: %s\n",
                    ctl->cfg->security_keys_dir, strerror(errno));
            return 1;
        }
    }
    fprintf(stderr,
            "created key pair %s/%s.key_secret (keep it secret: it is the %s's identity)\n"
            "registered %s with roles %s%s\n",
            out, name, name, to, roles, pii ? "" : " (no personal data in events)");
    return 0;
}

int crmctl_certs_list(crmctl_t *ctl, int argc, char **argv) {
    (void)argc;
    (void)argv;
    const char *dir = ctl->cfg->security_keys_dir;
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "crmctl: could not read %s: %s\n", dir, strerror(errno));
        return 1;
    }
    printf("%-24s %-42s %s\n", "NAME", "PUBLIC KEY", "ROLES");
    struct dirent *entry;
    while ((entry = readdir(d))) {
        size_t len = strlen(entry->d_name);
        if (len < 5 || strcmp(entry->d_name + len - 4, ".key") != 0)
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, entry->d_name);
        zcert_t *cert = zcert_load(path);
        if (!cert)
            continue;
        const char *roles = zcert_meta(cert, "roles");
        const char *pii = zcert_meta(cert, "pii");
        printf("%-24.*s %-42s %s%s\n", (int)(len - 4), entry->d_name, zcert_public_txt(cert),
               roles ? roles : "(none)", pii && strcmp(pii, "false") == 0 ? " pii:false" : "");
        zcert_destroy(&cert);
    }
    closedir(d);
    return 0;
}
