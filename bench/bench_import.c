/*  bench_import: CSV import of BENCH_IMPORT_ROWS (default 1,000,000) generated contacts
    through the import path (crmctl contacts import: the file in parts over the broker,
    the contacts service's import job), beside a raw PostgreSQL COPY of the same file
    (psql \copy) into an equivalent table with the same indexes, in the same run and on
    the same database. Durable commits (fsync on), as in production.

    Prints both times, their ratio against the target (at most 3x the COPY), and the
    peak resident memory (VmHWM) of each daemon and of crmctl against 200 MiB: the file
    streams, so memory must not grow with it. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

static harness_t *h;

#define TARGET_RATIO 3.0
#define TARGET_MIB 200.0

//  Write rows contacts to path: unique emails and phone numbers, the template's shape.
static void s_generate(const char *path, long rows) {
    static const char *const areas[] = {"212", "213", "305", "312", "415", "617", "702",
                                        "718", "202", "206", "303", "404", "503", "512",
                                        "602", "614", "713", "801", "916", "973"};
    static const char *const makes[][2] = {{"Toyota", "RAV4"}, {"Honda", "Civic"},
                                           {"Ford", "F-150"},  {"Kia", "Sportage"},
                                           {"Tesla", "Model 3"}};
    static const char *const types[] = {"prospect", "customer", "service"};
    static const char *const sources[] = {"web", "walk_in", "phone", "referral"};
    FILE *f = fopen(path, "w");
    fprintf(f, "First Name,Last Name,Email,Phone,Type,Source,City,State,Postcode,Vehicle Make,"
               "Vehicle Model,Vehicle Year\n");
    for (long i = 0; i < rows; i++) {
        long rest = i / 20;
        int exchange = 201 + (int)((rest / 10000) % 600);
        if (exchange % 100 == 11 || exchange == 555)
            exchange++;
        fprintf(f, "Ann%ld,Lee%ld,ann.lee.%ld@bench.example,(%s) %03d-%04ld,%s,%s,Springfield,IL,"
                   "%05ld,%s,%s,%ld\n",
                i, i % 9973, i, areas[i % 20], exchange, rest % 10000, types[i % 3],
                sources[i % 4], 10000 + i % 89999, makes[i % 5][0], makes[i % 5][1],
                2015 + i % 10);
    }
    fclose(f);
}

static void s_psql(const char *sql) {
    const char *dsn_host = strstr(h->dsn, "host=") + 5;
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "psql -q -v ON_ERROR_STOP=1 -h %.*s -U postgres crm -c \"%s\" >/dev/null",
             (int)strcspn(dsn_host, " "), dsn_host, sql);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_import: psql failed: %s\n", sql);
}

//  The COPY baseline: a table of the file's columns, with the contacts table's indexes
//  (and contact_emails' unique key, and the phone index) on their equivalents.
static double s_copy(const char *file) {
    s_psql("CREATE TABLE public.copy_contacts ("
           " tenant_id text NOT NULL DEFAULT 'bench', id uuid NOT NULL DEFAULT gen_random_uuid(),"
           " first_name text, last_name text, email text, phone text, type text, source text,"
           " city text, state text, postcode text, make text, model text, year int,"
           " name text GENERATED ALWAYS AS (first_name || ' ' || last_name) STORED,"
           " tags text[] NOT NULL DEFAULT '{}', assignee text NOT NULL DEFAULT '',"
           " last_activity_at timestamptz, organization_id uuid, deleted_at timestamptz,"
           " search_doc tsvector GENERATED ALWAYS AS ("
           "  setweight(to_tsvector('simple', first_name || ' ' || last_name), 'A') ||"
           "  setweight(to_tsvector('simple', coalesce(make, '') || ' ' || coalesce(model, '')"
           "    || ' ' || coalesce(year::text, '')), 'C') ||"
           "  setweight(to_tsvector('simple', coalesce(email, '')), 'D')) STORED,"
           " PRIMARY KEY (tenant_id, id))");
    s_psql("CREATE INDEX ON public.copy_contacts (tenant_id, id DESC) WHERE deleted_at IS NULL;"
           "CREATE INDEX ON public.copy_contacts (tenant_id, type, id DESC) WHERE deleted_at IS NULL;"
           "CREATE INDEX ON public.copy_contacts (tenant_id, organization_id)"
           " WHERE organization_id IS NOT NULL;"
           "CREATE INDEX ON public.copy_contacts (tenant_id, last_activity_at)"
           " WHERE deleted_at IS NULL AND last_activity_at IS NOT NULL;"
           "CREATE INDEX ON public.copy_contacts USING gin (tenant_id, search_doc)"
           " WHERE deleted_at IS NULL;"
           "CREATE INDEX ON public.copy_contacts USING gin (tenant_id, lower(name) gin_trgm_ops)"
           " WHERE deleted_at IS NULL;"
           "CREATE INDEX ON public.copy_contacts (tenant_id, lower(name) text_pattern_ops)"
           " WHERE deleted_at IS NULL;"
           "CREATE INDEX ON public.copy_contacts USING gin (tenant_id, lower(email) gin_trgm_ops)"
           " WHERE deleted_at IS NULL;"
           "CREATE INDEX ON public.copy_contacts USING gin (tenant_id, phone gin_trgm_ops)"
           " WHERE deleted_at IS NULL;"
           "CREATE INDEX ON public.copy_contacts USING gin (tenant_id, tags) WHERE deleted_at IS NULL;"
           "CREATE INDEX ON public.copy_contacts (tenant_id, assignee, id DESC)"
           " WHERE deleted_at IS NULL AND assignee <> '';"
           "CREATE UNIQUE INDEX ON public.copy_contacts (tenant_id, lower(email));"
           "CREATE INDEX ON public.copy_contacts USING gin ((ARRAY[phone]))"
           " WITH (fastupdate = off) WHERE deleted_at IS NULL;");
    char sql[1024];
    snprintf(sql, sizeof sql,
             "\\copy public.copy_contacts (first_name, last_name, email, phone, type, source, city,"
             " state, postcode, make, model, year) FROM '%s' WITH (FORMAT csv, HEADER true)",
             file);
    int64_t start = zclock_usecs();
    s_psql(sql);
    return (zclock_usecs() - start) / 1e6;
}

//  The import path: crmctl, as an operator runs it. Its peak memory into *maxrss_kib.
static double s_import(const char *file, long *maxrss_kib, int *status) {
    int64_t start = zclock_usecs();
    pid_t pid = fork();
    if (pid == 0) {
        unsetenv("CRM_CONFIG");
        setenv("CRM_BROKER_ENDPOINT", h->broker, 1);
        char path[512];
        snprintf(path, sizeof path, "%s/crmctl",
                 getenv("CRM_BIN_DIR") ? getenv("CRM_BIN_DIR") : "build/bin");
        char *argv[] = {path, "contacts", "import", (char *)file, "--tenant", "tenant-a", NULL};
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);  //  its plain progress lines
        execv(path, argv);
        _exit(127);
    }
    struct rusage ru;
    wait4(pid, status, 0, &ru);
    *maxrss_kib = ru.ru_maxrss;
    return (zclock_usecs() - start) / 1e6;
}

static long s_hwm_kib(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

int main(void) {
    long rows = getenv("BENCH_IMPORT_ROWS") ? atol(getenv("BENCH_IMPORT_ROWS")) : 1000000;
    if (rows < 1)
        rows = 1;
    setenv("PG_FSYNC", "on", 1);
    const char *env[] = {getenv("CRM_LOG_LEVEL") ? "CRM_BENCH=1" : "CRM_LOG_LEVEL=warn", NULL};
    h = harness_start(env);
    char file[300];
    snprintf(file, sizeof file, "%s/contacts.csv", h->dir);
    int64_t t0 = zclock_usecs();
    s_generate(file, rows);
    FILE *f = fopen(file, "r");
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fclose(f);
    printf("\n== CSV import of %ld generated contacts (%.1f MiB, made in %.1f s)\n", rows,
           bytes / 1048576.0, (zclock_usecs() - t0) / 1e6);
    fflush(stdout);

    long crmctl_kib = 0;
    int status = 0;
    double import_s = s_import(file, &crmctl_kib, &status);
    long long created = harness_sql_scalar(
        "SELECT count(*) FROM contacts.contacts WHERE tenant_id = 'tenant-a'");
    long long failed = harness_sql_scalar("SELECT coalesce(max(failed), 0) FROM contacts.imports");
    //  Memory before COPY's own work muddies nothing of ours.
    const char *daemons[] = {"contacts", "gateway", "reporting", "supervisor"};
    long hwm[4];
    for (int i = 0; i < 4; i++)
        hwm[i] = s_hwm_kib(i == 3 ? h->supervisor : harness_daemon_pid(daemons[i]));
    //  The audit entries' share: the same contacts inserted again (rolled back) with
    //  their audit entries, as an import's chunk writes them, and without.
    long audit_rows = rows < 20000 ? rows : 20000;
    char sql[2000];
    const char *insert =
        "INSERT INTO contacts.contacts (tenant_id, id, kind, type, first_name, last_name, name,"
        " source, tags, emails, phones, created_at, updated_at, supplier, assignee,"
        " organization_id, profile, updated_by)"
        " SELECT 'bench-audit', id, kind, type, first_name, last_name, name, source, tags,"
        " emails, phones, created_at, updated_at, supplier, assignee, organization_id, profile,"
        " updated_by FROM contacts.contacts WHERE tenant_id = 'tenant-a' LIMIT";
    snprintf(sql, sizeof sql,
             "BEGIN; WITH ins AS (%s %ld RETURNING *)"
             " INSERT INTO contacts.contact_audit (tenant_id, contact_id, at, actor_id, action,"
             " changes) SELECT i.tenant_id, i.id, i.updated_at, i.updated_by, 'created',"
             " contacts.contact_audit_image(ROW(i.*)::contacts.contacts) FROM ins i; ROLLBACK",
             insert, audit_rows);
    int64_t start = zclock_usecs();
    harness_sql_exec(sql);
    double with_audit = (zclock_usecs() - start) / 1e6;
    snprintf(sql, sizeof sql, "BEGIN; %s %ld; ROLLBACK", insert, audit_rows);
    start = zclock_usecs();
    harness_sql_exec(sql);
    double without_audit = (zclock_usecs() - start) / 1e6;
    double copy_s = s_copy(file);
    long long copied = harness_sql_scalar("SELECT count(*) FROM public.copy_contacts");

    double ratio = import_s / copy_s;
    printf("   %-34s %8.1f s %9.0f rows/s   created %lld, failed %lld, crmctl exit %d\n",
           "import (crmctl -> contacts job)", import_s, rows / import_s, created, failed,
           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    printf("   %-34s %8.1f s %9.0f rows/s   rows %lld\n", "COPY, same indexes (psql \\copy)",
           copy_s, rows / copy_s, copied);
    printf("   %-34s %8.2fx   target <= %.1fx: %s\n", "import / COPY", ratio, TARGET_RATIO,
           ratio <= TARGET_RATIO ? "met" : "MISSED");
    printf("   %-34s %8.1f us a contact (%ld inserted with it in %.2f s, without in %.2f s)\n",
           "audit entries", (with_audit - without_audit) * 1e6 / audit_rows, audit_rows,
           with_audit, without_audit);
    printf("\n== peak resident memory (VmHWM; target under %.0f MiB each)\n", TARGET_MIB);
    bool ok = true;
    for (int i = 0; i < 4; i++) {
        printf("   crm-%-12s %7.1f MiB\n", daemons[i], hwm[i] / 1024.0);
        ok &= hwm[i] / 1024.0 < TARGET_MIB;
    }
    printf("   %-16s %7.1f MiB\n", "crmctl", crmctl_kib / 1024.0);
    ok &= crmctl_kib / 1024.0 < TARGET_MIB;
    printf("   memory target: %s\n", ok ? "met" : "MISSED");
    harness_stop();
    return 0;
}
