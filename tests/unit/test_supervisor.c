/*  test_supervisor: runs the real crm-supervisor over shell-script daemons.

    crm-a writes its pid and sleeps (a healthy daemon), crm-b exits at once (a daemon
    that crashes on start), crm-c ignores SIGTERM (a daemon that will not stop). The tests
    run in order against one supervisor: everything starts, a killed daemon comes back
    within a second, a crashing one is restarted with a growing delay, and SIGTERM stops
    everything (SIGKILL for crm-c after the stop timeout) and exits 0 leaving no process.

    The binary is $CRM_BIN_DIR/crm-supervisor; without CRM_BIN_DIR, the bin directory
    beside this test's own (build/bin for build/tests/test_supervisor).
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 400
#define STOP_TIMEOUT_MS 500
#define TEST_COUNT 4

typedef struct {
    char dir[64];                   // temporary bin_dir, also holds the daemons' files
    char supervisor[PATH_MAX + 32]; // the binary under test
    pid_t pid;                      // the running supervisor, 0 once reaped
    pid_t a_pid, c_pid;             // the daemons last seen
    int passed;                     // tests that ran to the end, to decide on dumping the log
} s_fixture_t;

static int64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_sleep_ms(int ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void s_path(const s_fixture_t *self, const char *name, char *path, size_t size) {
    snprintf(path, size, "%s/%s", self->dir, name);
}

//  Write an executable shell script; %s in body is replaced by the fixture directory.
static int s_write_script(const s_fixture_t *self, const char *name, const char *body) {
    char path[PATH_MAX];
    s_path(self, name, path, sizeof path);
    FILE *file = fopen(path, "w");
    if (!file)
        return -1;
    fprintf(file, "#!/bin/sh\n");
    fprintf(file, body, self->dir, self->dir, self->dir);
    if (fclose(file) != 0)
        return -1;
    return chmod(path, 0755);
}

//  The pid a daemon wrote to <dir>/<name>, or 0 when there is none yet.
static pid_t s_read_pid(const s_fixture_t *self, const char *name) {
    char path[PATH_MAX];
    s_path(self, name, path, sizeof path);
    FILE *file = fopen(path, "r");
    if (!file)
        return 0;
    int pid = 0;
    if (fscanf(file, "%d", &pid) != 1)
        pid = 0;
    fclose(file);
    return (pid_t)pid;
}

static bool s_alive(pid_t pid) {
    return pid > 0 && kill(pid, 0) == 0;
}

//  Wait up to timeout_ms for the pid in file name to be a live process other than old.
static pid_t s_wait_for_new_pid(const s_fixture_t *self, const char *name, pid_t old,
                                int timeout_ms) {
    int64_t deadline = s_now_ms() + timeout_ms;
    do {
        pid_t pid = s_read_pid(self, name);
        if (pid && pid != old && s_alive(pid))
            return pid;
        s_sleep_ms(10);
    } while (s_now_ms() < deadline);
    return 0;
}

//  The start times crm-b logged, in ms (from date +%s%N); returns how many were read.
static size_t s_read_starts(const s_fixture_t *self, int64_t *starts, size_t max) {
    char path[PATH_MAX];
    s_path(self, "b.starts", path, sizeof path);
    FILE *file = fopen(path, "r");
    if (!file)
        return 0;
    size_t count = 0;
    long long ns;
    while (count < max && fscanf(file, "%lld", &ns) == 1)
        starts[count++] = ns / 1000000;
    fclose(file);
    return count;
}

//  Locate the binary: $CRM_BIN_DIR, else ../bin beside this test, else build/bin.
static void s_find_supervisor(s_fixture_t *self) {
    const char *bin_dir = getenv("CRM_BIN_DIR");
    char exe[PATH_MAX] = "";
    if (!bin_dir) {
        ssize_t length = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (length > 0) {
            exe[length] = '\0';
            char *slash = strrchr(exe, '/');
            if (slash) {
                strcpy(slash, "/../bin");
                bin_dir = exe;
            }
        }
        char candidate[PATH_MAX + 32];
        snprintf(candidate, sizeof candidate, "%s/crm-supervisor", bin_dir ? bin_dir : "");
        if (!bin_dir || access(candidate, X_OK) != 0)
            bin_dir = "build/bin";
    }
    snprintf(self->supervisor, sizeof self->supervisor, "%s/crm-supervisor", bin_dir);
}

static int s_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

//  Make the daemons, then start the supervisor over them with its log in the directory.
//  This process becomes a child subreaper, so a daemon the supervisor leaves behind is
//  reparented to us, where the last test can see it.
static int s_group_setup(void **state) {
    s_fixture_t *self = calloc(1, sizeof *self);
    if (!self)
        return -1;
    *state = self;
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    s_find_supervisor(self);
    if (access(self->supervisor, X_OK) != 0) {
        fprintf(stderr, "could not find %s: %s\nhint: build it with make all, or set CRM_BIN_DIR\n",
                self->supervisor, strerror(errno));
        return -1;
    }
    strcpy(self->dir, "/tmp/crm-test-supervisor-XXXXXX");
    if (!mkdtemp(self->dir))
        return -1;
    if (s_write_script(self, "crm-a",
                       "echo $$ > %s/a.tmp && mv %s/a.tmp %s/a.pid\n"
                       "exec sleep 1000\n") ||
        s_write_script(self, "crm-b", "date +%%s%%N >> %s/b.starts\nexit 1\n") ||
        s_write_script(self, "crm-c",
                       "trap '' TERM\necho $$ > %s/c.tmp && mv %s/c.tmp %s/c.pid\n"
                       "while :; do sleep 0.05; done\n"))
        return -1;

    char log[PATH_MAX], pidfile[PATH_MAX];
    s_path(self, "supervisor.log", log, sizeof log);
    s_path(self, "supervisor.pid", pidfile, sizeof pidfile);
    char backoff_min[16], backoff_max[16], stop_timeout[16];
    snprintf(backoff_min, sizeof backoff_min, "%d", BACKOFF_MIN_MS);
    snprintf(backoff_max, sizeof backoff_max, "%d", BACKOFF_MAX_MS);
    snprintf(stop_timeout, sizeof stop_timeout, "%d", STOP_TIMEOUT_MS);
    self->pid = fork();
    if (self->pid < 0)
        return -1;
    if (self->pid == 0) {
        if (!freopen(log, "w", stderr))
            _exit(126);
        setenv("CRM_SUPERVISOR_SERVICES", "a b c", 1);
        setenv("CRM_SUPERVISOR_BIN_DIR", self->dir, 1);
        setenv("CRM_SUPERVISOR_BACKOFF_MIN_MS", backoff_min, 1);
        setenv("CRM_SUPERVISOR_BACKOFF_MAX_MS", backoff_max, 1);
        setenv("CRM_SUPERVISOR_STOP_TIMEOUT_MS", stop_timeout, 1);
        execl(self->supervisor, "crm-supervisor", "--pidfile", pidfile, (char *)NULL);
        fprintf(stderr, "could not run %s: %s\n", self->supervisor, strerror(errno));
        _exit(127);
    }
    return 0;
}

//  Whatever happened, leave no process and no directory behind; show the supervisor's
//  log when a test failed.
static int s_group_teardown(void **state) {
    s_fixture_t *self = *state;
    if (!self)
        return 0;
    if (self->pid > 0) {
        kill(self->pid, SIGKILL);
        waitpid(self->pid, NULL, 0);
    }
    pid_t leftovers[] = {self->a_pid, self->c_pid, s_read_pid(self, "a.pid"),
                         s_read_pid(self, "c.pid")};
    for (size_t i = 0; i < sizeof leftovers / sizeof leftovers[0]; i++)
        if (s_alive(leftovers[i]))
            kill(leftovers[i], SIGKILL);
    for (int i = 0; i < 100 && waitpid(-1, NULL, WNOHANG) >= 0; i++)
        s_sleep_ms(10);
    if (self->passed < TEST_COUNT && self->dir[0]) {
        char path[PATH_MAX], line[1024];
        s_path(self, "supervisor.log", path, sizeof path);
        FILE *file = fopen(path, "r");
        fprintf(stderr, "--- supervisor log (%s)\n", path);
        while (file && fgets(line, sizeof line, file))
            fputs(line, stderr);
        if (file)
            fclose(file);
    }
    if (self->dir[0] && strncmp(self->dir, "/tmp/crm-test-supervisor-", 25) == 0)
        nftw(self->dir, s_remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(self);
    return 0;
}

static void test_starts_every_service(void **state) {
    s_fixture_t *self = *state;
    self->a_pid = s_wait_for_new_pid(self, "a.pid", 0, 5000);
    self->c_pid = s_wait_for_new_pid(self, "c.pid", 0, 5000);
    assert_true(self->a_pid > 0);
    assert_true(self->c_pid > 0);
    assert_true(s_alive(self->pid));
    //  Each daemon leads its own session and process group, apart from the supervisor's.
    assert_int_equal(getpgid(self->a_pid), self->a_pid);
    assert_int_not_equal(getpgid(self->a_pid), getpgid(self->pid));
    assert_int_equal(getsid(self->a_pid), self->a_pid);
    assert_int_not_equal(getsid(self->a_pid), getsid(self->pid));
    assert_int_equal(s_read_pid(self, "supervisor.pid"), self->pid);
    self->passed++;
}

static void test_restarts_a_killed_service(void **state) {
    s_fixture_t *self = *state;
    pid_t old = self->a_pid;
    assert_true(s_alive(old));
    int64_t killed_at = s_now_ms();
    assert_int_equal(kill(old, SIGKILL), 0);
    self->a_pid = s_wait_for_new_pid(self, "a.pid", old, 1000);
    assert_true(self->a_pid > 0);
    assert_true(s_now_ms() - killed_at < 1000);
    self->passed++;
}

//  crm-b dies at once, so its starts are spaced by the backoff: 50, 100, 200, 400, 400 ms.
static void test_backs_off_a_crashing_service(void **state) {
    s_fixture_t *self = *state;
    int64_t starts[64];
    size_t count = 0;
    int64_t deadline = s_now_ms() + 6000;
    while ((count = s_read_starts(self, starts, 64)) < 6 && s_now_ms() < deadline)
        s_sleep_ms(20);
    assert_true(count >= 6);
    int64_t gaps[5];
    for (int i = 0; i < 5; i++)
        gaps[i] = starts[i + 1] - starts[i];
    print_message("crm-b restart gaps: %lld %lld %lld %lld %lld ms\n", (long long)gaps[0],
                  (long long)gaps[1], (long long)gaps[2], (long long)gaps[3], (long long)gaps[4]);
    //  Each delay is at least its backoff (a fork and a shell only add to it), so the
    //  delays grow; and the fifth is the maximum again, not 800 ms.
    const int64_t backoff[5] = {BACKOFF_MIN_MS, BACKOFF_MIN_MS * 2, BACKOFF_MIN_MS * 4,
                                BACKOFF_MAX_MS, BACKOFF_MAX_MS};
    for (int i = 0; i < 5; i++)
        assert_true(gaps[i] >= backoff[i] - 5);
    assert_true(gaps[2] > gaps[0]);
    assert_true(gaps[3] > gaps[1]);
    assert_true(gaps[4] < BACKOFF_MAX_MS * 3 / 2 + 100);
    //  Bounded: in its first second crm-b started at most 5 times (50+100+200+400).
    size_t in_first_second = 0;
    for (size_t i = 0; i < count; i++)
        if (starts[i] - starts[0] < 1000)
            in_first_second++;
    assert_true(in_first_second <= 5);
    self->passed++;
}

static void test_stops_every_service_on_sigterm(void **state) {
    s_fixture_t *self = *state;
    assert_true(s_alive(self->a_pid));
    assert_true(s_alive(self->c_pid));
    int64_t sent_at = s_now_ms();
    assert_int_equal(kill(self->pid, SIGTERM), 0);
    int status = 0;
    pid_t reaped = 0;
    while ((reaped = waitpid(self->pid, &status, WNOHANG)) == 0 &&
           s_now_ms() - sent_at < STOP_TIMEOUT_MS + 3000)
        s_sleep_ms(10);
    assert_int_equal(reaped, self->pid);
    self->pid = 0;
    int64_t took = s_now_ms() - sent_at;
    print_message("supervisor stopped in %lld ms\n", (long long)took);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    //  crm-c ignores SIGTERM, so the stop took the timeout and then a SIGKILL.
    assert_true(took >= STOP_TIMEOUT_MS - 10);
    assert_false(s_alive(self->a_pid));
    assert_false(s_alive(self->c_pid));
    //  No process remains: anything left would have been reparented to us. Dead ones may
    //  be (a killed daemon's own child that died with it), so collect those first.
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    char pidfile[PATH_MAX];
    s_path(self, "supervisor.pid", pidfile, sizeof pidfile);
    assert_int_not_equal(access(pidfile, F_OK), 0);
    self->passed++;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starts_every_service),
        cmocka_unit_test(test_restarts_a_killed_service),
        cmocka_unit_test(test_backs_off_a_crashing_service),
        cmocka_unit_test(test_stops_every_service_on_sigterm),
    };
    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
