/*  crm-supervisor: runs the suite's daemons under one process for `make run`.

    For each name in supervisor.services it runs <supervisor.bin_dir>/crm-<name>, passing
    on --config PATH when one was given, and restarts a daemon that exits or dies after a
    backoff: supervisor.backoff_min_ms, doubled on each restart up to backoff_max_ms, and
    back to the minimum once the daemon has stayed up for 10 s. A name listed twice runs
    two processes of that service.

    SIGINT, SIGTERM or SIGHUP stops the suite: SIGTERM to every daemon (last started
    first), SIGKILL to those still running after supervisor.stop_timeout_ms, then exit 0.
    A second such signal kills at once. Each daemon runs in its own session (and so its
    own process group), as a service started by a service manager would: a Ctrl-C in
    the terminal reaches only the supervisor, which then stops the daemons; each asks
    the kernel for SIGTERM should the supervisor die without stopping it; and where the
    kernel groups tasks by session for CPU shares (autogroup, on by default in Debian),
    each daemon is scheduled as one group, as each PostgreSQL backend (which starts its
    own session) is, not all daemons together as one.

    Signals are read from a signalfd in a poll loop; nothing runs in a signal handler.
*/
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

#define SUPERVISOR_STABLE_MS 10000     // a daemon up this long restarts after the minimum delay
#define SUPERVISOR_REAP_GRACE_MS 10000 // after SIGKILL, how long to wait for the last exits

static const char *s_usage =
    "usage: crm-supervisor [--config PATH] [--pidfile PATH] [--help]\n"
    "\n"
    "Runs crm-<name> from supervisor.bin_dir for each name in supervisor.services and\n"
    "restarts any that exits. SIGINT or SIGTERM stops them all.\n"
    "  --config PATH   settings file, also passed on to each daemon\n"
    "  --pidfile PATH  write the supervisor's pid to PATH (removed on exit)\n"
    "  --help          print this help and the settings\n";

typedef struct {
    char *name;         // service name, e.g. "contacts"
    char *path;         // <bin_dir>/crm-<name>
    pid_t pid;          // 0 when not running
    int64_t started_at; // monotonic ms of the last start
    int64_t restart_at; // monotonic ms of a pending restart, 0 when none
    int backoff_ms;     // delay before the next restart
    unsigned restarts;  // restarts so far, for the log
} s_child_t;

typedef struct {
    const crm_config_t *config;
    const char *config_path; // passed on to the daemons, or NULL
    s_child_t *children;
    size_t child_count;
    int signal_fd;
    sigset_t child_mask;   // signal mask the daemons start with
    bool stopping;         // a stop signal arrived
    bool killed;           // SIGKILL has been sent to the stragglers
    int64_t stop_deadline; // monotonic ms when stragglers get SIGKILL
} s_supervisor_t;

//  Monotonic milliseconds, for delays that must not jump with the wall clock.
static int64_t s_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  Pull --pidfile PATH out of argv (crm_config_from_args knows only --config and --help)
//  and note the --config path so it can be passed on. rest receives the other arguments.
static int s_parse_args(int argc, char **argv, char **rest, int *rest_count,
                        const char **config_path, const char **pidfile) {
    *rest_count = 0;
    rest[(*rest_count)++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--pidfile") == 0 || strncmp(arg, "--pidfile=", 10) == 0) {
            *pidfile = arg[9] == '=' ? arg + 10 : i + 1 < argc ? argv[++i] : "";
            if (!**pidfile) {
                crm_log_kv(CRM_LOG_ERROR, "option --pidfile needs a file name", "hint",
                           "use --pidfile PATH; --help lists the options", NULL);
                return -1;
            }
            continue;
        }
        rest[(*rest_count)++] = argv[i];
        if (strcmp(arg, "--config") == 0 && i + 1 < argc) {
            *config_path = argv[++i];
            rest[(*rest_count)++] = argv[i];
        } else if (strncmp(arg, "--config=", 9) == 0)
            *config_path = arg + 9;
    }
    rest[*rest_count] = NULL;
    return 0;
}

//  Build the child table from the space-separated service list. Names are checked so a
//  typo cannot turn into a path outside bin_dir.
static int s_children_new(s_supervisor_t *self) {
    const char *services =
        self->config->supervisor_services ? self->config->supervisor_services : "";
    const char *bin_dir = self->config->supervisor_bin_dir ? self->config->supervisor_bin_dir : ".";
    int backoff_min = self->config->supervisor_backoff_min_ms;
    size_t capacity = strlen(services) / 2 + 1;
    self->children = calloc(capacity, sizeof(s_child_t));
    if (!self->children)
        return -1;
    const char *cursor = services;
    while (*cursor) {
        while (*cursor && (isspace((unsigned char)*cursor) || *cursor == ','))
            cursor++;
        size_t length = 0;
        while (cursor[length] && !isspace((unsigned char)cursor[length]) && cursor[length] != ',')
            length++;
        if (length == 0)
            break;
        for (size_t i = 0; i < length; i++) {
            char c = cursor[i];
            if (!(isalnum((unsigned char)c) || c == '-' || c == '_')) {
                char detail[160];
                snprintf(detail, sizeof detail, "\"%.*s\" has the character '%c'", (int)length,
                         cursor, c);
                crm_log_kv(CRM_LOG_ERROR, "invalid service name in supervisor.services", "detail",
                           detail, "hint",
                           "names are letters, digits, '-' and '_', separated by spaces", NULL);
                return -1;
            }
        }
        s_child_t *child = &self->children[self->child_count++];
        child->name = strndup(cursor, length);
        if (!child->name || asprintf(&child->path, "%s/crm-%s", bin_dir, child->name) < 0)
            return -1;
        child->backoff_ms = backoff_min;
        cursor += length;
    }
    if (self->child_count == 0) {
        crm_log_kv(CRM_LOG_ERROR, "no services to supervise", "detail",
                   "supervisor.services is empty", "hint",
                   "set supervisor.services in the config or CRM_SUPERVISOR_SERVICES", NULL);
        return -1;
    }
    //  A binary that is not there now is a set-up mistake, not a crash to retry.
    for (size_t i = 0; i < self->child_count; i++) {
        if (access(self->children[i].path, X_OK) != 0) {
            char detail[512];
            snprintf(detail, sizeof detail, "%s: %s", self->children[i].path, strerror(errno));
            crm_log_kv(CRM_LOG_ERROR, "could not find service binary", "service",
                       self->children[i].name, "detail", detail, "hint",
                       "build it with make all, or check supervisor.bin_dir and "
                       "supervisor.services",
                       NULL);
            return -1;
        }
    }
    return 0;
}

static void s_children_destroy(s_supervisor_t *self) {
    for (size_t i = 0; i < self->child_count; i++) {
        free(self->children[i].name);
        free(self->children[i].path);
    }
    free(self->children);
    self->children = NULL;
    self->child_count = 0;
}

//  Fork and exec one daemon in its own session. The child restores the signal mask the
//  supervisor started with and asks for SIGTERM when the supervisor dies. (Only the child
//  makes its group: setsid fails in a process that already leads one. Until it has,
//  s_child_signal signals the process alone.)
static void s_child_start(s_supervisor_t *self, s_child_t *child) {
    char *argv[] = {child->path, NULL, NULL, NULL};
    if (self->config_path) {
        argv[1] = "--config";
        argv[2] = (char *)self->config_path;
    }
    pid_t supervisor = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        child->restart_at = s_now_ms() + child->backoff_ms;
        crm_log_kv(CRM_LOG_ERROR, "could not start service", "service", child->name, "detail",
                   strerror(errno), NULL);
        return;
    }
    if (pid == 0) {
        setsid();
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != supervisor)
            _exit(1); // the supervisor died before prctl took effect
        sigprocmask(SIG_SETMASK, &self->child_mask, NULL);
        execv(child->path, argv);
        char detail[512];
        snprintf(detail, sizeof detail, "%s: %s", child->path, strerror(errno));
        crm_log_kv(CRM_LOG_ERROR, "could not run service binary", "service", child->name, "detail",
                   detail, NULL);
        _exit(127);
    }
    child->pid = pid;
    child->started_at = s_now_ms();
    child->restart_at = 0;
    char detail[64];
    snprintf(detail, sizeof detail, "pid %d", (int)pid);
    crm_log_kv(CRM_LOG_INFO, child->restarts ? "restarted service" : "started service", "service",
               child->name, "detail", detail, NULL);
}

//  Signal a daemon's whole process group (a shell-script daemon's children too).
static void s_child_signal(const s_child_t *child, int signo) {
    if (child->pid <= 0)
        return;
    if (kill(-child->pid, signo) != 0)
        kill(child->pid, signo);
}

static s_child_t *s_child_by_pid(s_supervisor_t *self, pid_t pid) {
    for (size_t i = 0; i < self->child_count; i++)
        if (self->children[i].pid == pid)
            return &self->children[i];
    return NULL;
}

static size_t s_running_count(const s_supervisor_t *self) {
    size_t count = 0;
    for (size_t i = 0; i < self->child_count; i++)
        if (self->children[i].pid > 0)
            count++;
    return count;
}

//  "exited with status 1" or "was terminated by signal 9: Killed", for the log.
static void s_describe_status(int status, char *text, size_t size) {
    if (WIFEXITED(status))
        snprintf(text, size, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(text, size, "was terminated by signal %d: %s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(text, size, "ended with wait status %d", status);
}

//  Collect every exited child (one SIGCHLD may stand for several) and, unless stopping,
//  schedule its restart after its backoff, which then doubles up to the maximum.
static void s_reap(s_supervisor_t *self) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        s_child_t *child = s_child_by_pid(self, pid);
        if (!child)
            continue;
        int64_t now = s_now_ms();
        int64_t uptime = now - child->started_at;
        child->pid = 0;
        char how[128], message[256], detail[128];
        s_describe_status(status, how, sizeof how);
        if (self->stopping) {
            snprintf(message, sizeof message, "service crm-%s %s", child->name, how);
            crm_log_kv(CRM_LOG_INFO, message, "service", child->name, NULL);
            continue;
        }
        if (uptime >= SUPERVISOR_STABLE_MS)
            child->backoff_ms = self->config->supervisor_backoff_min_ms;
        child->restart_at = now + child->backoff_ms;
        child->restarts++;
        snprintf(message, sizeof message, "service crm-%s %s", child->name, how);
        snprintf(detail, sizeof detail, "pid %d was up %" PRId64 " ms; restarting in %d ms",
                 (int)pid, uptime, child->backoff_ms);
        crm_log_kv(CRM_LOG_WARN, message, "service", child->name, "detail", detail, NULL);
        int64_t next = (int64_t)child->backoff_ms * 2;
        int max = self->config->supervisor_backoff_max_ms;
        child->backoff_ms = next > max ? max : (int)next;
    }
}

//  SIGKILL every daemon still running, then allow a grace period for their exits.
static void s_kill_all(s_supervisor_t *self) {
    for (size_t i = self->child_count; i-- > 0;)
        s_child_signal(&self->children[i], SIGKILL);
    self->killed = true;
    self->stop_deadline = s_now_ms() + SUPERVISOR_REAP_GRACE_MS;
}

//  Begin an orderly stop: cancel pending restarts and SIGTERM the daemons, last started
//  first. A second stop signal while stopping sends SIGKILL at once.
static void s_stop(s_supervisor_t *self, int signo) {
    if (self->stopping) {
        if (!self->killed) {
            char detail[64];
            snprintf(detail, sizeof detail, "received SIG%s again; %zu running",
                     sigabbrev_np(signo), s_running_count(self));
            crm_log_kv(CRM_LOG_WARN, "killing services", "detail", detail, NULL);
            s_kill_all(self);
        }
        return;
    }
    self->stopping = true;
    self->stop_deadline = s_now_ms() + self->config->supervisor_stop_timeout_ms;
    char detail[64];
    snprintf(detail, sizeof detail, "received SIG%s; %zu running", sigabbrev_np(signo),
             s_running_count(self));
    crm_log_kv(CRM_LOG_INFO, "stopping services", "detail", detail, NULL);
    for (size_t i = self->child_count; i-- > 0;) {
        self->children[i].restart_at = 0;
        s_child_signal(&self->children[i], SIGTERM);
    }
}

//  Drain the signalfd: stop signals start the stop, SIGCHLD reaps.
static void s_on_signals(s_supervisor_t *self) {
    struct signalfd_siginfo info;
    while (read(self->signal_fd, &info, sizeof info) == (ssize_t)sizeof info) {
        if (info.ssi_signo != SIGCHLD)
            s_stop(self, (int)info.ssi_signo);
    }
    s_reap(self);
}

//  How long poll may sleep: until the next restart is due, or the stop deadline.
static int s_poll_timeout(const s_supervisor_t *self, int64_t now) {
    int64_t wake = -1;
    if (self->stopping)
        wake = self->stop_deadline;
    else
        for (size_t i = 0; i < self->child_count; i++) {
            int64_t at = self->children[i].restart_at;
            if (at && (wake < 0 || at < wake))
                wake = at;
        }
    if (wake < 0)
        return -1;
    return wake <= now ? 0 : (int)(wake - now);
}

//  The event loop: start what is due, wait for signals, escalate a stop that overruns.
//  Returns the exit code.
static int s_run(s_supervisor_t *self) {
    for (size_t i = 0; i < self->child_count; i++)
        s_child_start(self, &self->children[i]);
    while (!(self->stopping && s_running_count(self) == 0)) {
        struct pollfd item = {.fd = self->signal_fd, .events = POLLIN};
        int rc = poll(&item, 1, s_poll_timeout(self, s_now_ms()));
        if (rc < 0 && errno != EINTR) {
            crm_log_kv(CRM_LOG_ERROR, "could not wait for signals", "detail", strerror(errno),
                       NULL);
            self->stopping = true;
            if (!self->killed)
                s_kill_all(self);
        }
        if (rc > 0)
            s_on_signals(self);
        int64_t now = s_now_ms();
        if (!self->stopping) {
            for (size_t i = 0; i < self->child_count; i++) {
                s_child_t *child = &self->children[i];
                if (child->pid == 0 && child->restart_at && child->restart_at <= now)
                    s_child_start(self, child);
            }
        } else if (now >= self->stop_deadline) {
            if (self->killed) {
                crm_log_kv(CRM_LOG_ERROR, "services did not exit after SIGKILL", "detail",
                           "giving up on waiting for them", NULL);
                return 1;
            }
            char detail[96];
            snprintf(detail, sizeof detail, "%zu still running after %d ms; sending SIGKILL",
                     s_running_count(self), self->config->supervisor_stop_timeout_ms);
            crm_log_kv(CRM_LOG_WARN, "services did not stop in time", "detail", detail, "hint",
                       "raise supervisor.stop_timeout_ms if they need longer to shut down", NULL);
            s_kill_all(self);
        }
    }
    crm_info("all services stopped");
    return 0;
}

//  Route SIGCHLD and the stop signals to a signalfd. They are set to their default action
//  first: a shell that starts us in the background may have left SIGINT ignored, and an
//  ignored signal would never reach the signalfd.
static int s_signals_open(s_supervisor_t *self) {
    static const int signals[] = {SIGCHLD, SIGINT, SIGTERM, SIGHUP};
    sigset_t mask;
    sigemptyset(&mask);
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        signal(signals[i], SIG_DFL);
        sigaddset(&mask, signals[i]);
    }
    if (sigprocmask(SIG_BLOCK, &mask, &self->child_mask) != 0)
        return -1;
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
        sigdelset(&self->child_mask, signals[i]);
    self->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    return self->signal_fd < 0 ? -1 : 0;
}

static int s_pidfile_write(const char *path) {
    FILE *file = fopen(path, "w");
    if (!file || fprintf(file, "%d\n", (int)getpid()) < 0 || fclose(file) != 0) {
        crm_log_kv(CRM_LOG_ERROR, "could not write pid file", "detail", strerror(errno), "path",
                   path, NULL);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    char **rest = calloc((size_t)argc + 1, sizeof(char *));
    if (!rest)
        return 1;
    int rest_count = 0;
    const char *config_path = NULL, *pidfile = NULL;
    if (s_parse_args(argc, argv, rest, &rest_count, &config_path, &pidfile) != 0) {
        free(rest);
        return 2;
    }
    int exit_code = 0;
    crm_config_t *config = crm_config_from_args(rest_count, rest, s_usage, &exit_code);
    free(rest);
    if (!config)
        return exit_code;
    crm_log_level_t level = CRM_LOG_INFO;
    crm_log_level_parse(config->log_level ? config->log_level : "info", &level);
    crm_log_init("supervisor", level);
    if (config->supervisor_backoff_min_ms < 1)
        config->supervisor_backoff_min_ms = 1;
    if (config->supervisor_backoff_max_ms < config->supervisor_backoff_min_ms)
        config->supervisor_backoff_max_ms = config->supervisor_backoff_min_ms;
    if (config->supervisor_stop_timeout_ms < 0)
        config->supervisor_stop_timeout_ms = 0;

    s_supervisor_t self = {.config = config, .config_path = config_path, .signal_fd = -1};
    exit_code = 1;
    if (s_children_new(&self) != 0)
        goto done;
    if (s_signals_open(&self) != 0) {
        crm_log_kv(CRM_LOG_ERROR, "could not set up signal handling", "detail", strerror(errno),
                   NULL);
        goto done;
    }
    if (pidfile && s_pidfile_write(pidfile) != 0)
        goto done;
    //  Orphans of the daemons (a helper a daemon forked) come to us to be reaped, not to
    //  an init that may not reap them (containers).
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    exit_code = s_run(&self);
    if (pidfile)
        unlink(pidfile);
done:
    if (self.signal_fd >= 0)
        close(self.signal_fd);
    s_children_destroy(&self);
    crm_config_destroy(&config);
    return exit_code;
}
