/*  Unit tests: the runner of background jobs (common/runner.c), with jobs whose steps
    need no database: the usage examples of the class.

        static const crm_job_t jobs[] = {
            { "ticker", s_tick_step, s_tick_new, s_tick_destroy, s_period_ms, true },
            { NULL }
        };
        crm_runner_t *runner = crm_runner_new(cfg, NULL, jobs);
        ...
        crm_runner_destroy(&runner);
*/
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "config.h"
#include "runner.h"

#include <stdatomic.h>

//  What the test jobs did, read by the tests (the steps run on the runner's threads).
static atomic_int s_steps;       // steps run
static atomic_int s_states;      // states made
static atomic_int s_destroyed;   // states destroyed
static atomic_int s_started;     // the slow step began
static atomic_int s_finished;    // the slow step ended
static atomic_llong s_failed_at; // when the failing step failed (zclock_mono)
static atomic_llong s_remade_at; // when its state was made again

static crm_config_t *s_cfg;

static int s_setup(void **state) {
    (void)state;
    char *err = NULL;
    s_cfg = crm_config_load(NULL, &err);
    assert_non_null(s_cfg);
    return 0;
}

static int s_teardown(void **state) {
    (void)state;
    crm_config_destroy(&s_cfg);
    return 0;
}

//  Each test starts with every count at zero.
static void s_reset(void) {
    s_steps = s_states = s_destroyed = s_started = s_finished = 0;
    s_failed_at = s_remade_at = 0;
}

//  Wait up to ms for *counter to reach at least value.
static bool s_await(atomic_int *counter, int value, int ms) {
    for (int waited = 0; *counter < value && waited < ms; waited += 5)
        zclock_sleep(5);
    return *counter >= value;
}

static int s_period_50(const crm_config_t *cfg) {
    (void)cfg;
    return 50;
}

static int s_period_long(const crm_config_t *cfg) {
    (void)cfg;
    return 60000;
}

//  A state: the number of the state (1 for the first made).
static void *s_state_new(const crm_config_t *cfg, crm_db_t *db) {
    (void)cfg;
    assert_null(db); // a job without a connection
    int *number = malloc(sizeof *number);
    *number = ++s_states;
    if (*number > 1 && !s_remade_at)
        s_remade_at = zclock_mono();
    return number;
}

static void s_state_destroy(void **state_p) {
    free(*state_p);
    *state_p = NULL;
    s_destroyed++;
}

//  Idle at every step: the runner waits the period between steps.
static crm_step_result_t s_idle_step(crm_step_t *step) {
    assert_non_null(step->state);
    assert_int_equal(step->wait_ms, -1);
    s_steps++;
    return CRM_STEP_IDLE;
}

static void test_steps_at_period(void **state) {
    (void)state;
    s_reset();
    static const crm_job_t jobs[] = {
        {"idle", s_idle_step, s_state_new, s_state_destroy, s_period_50, true, NULL}, {NULL}};
    crm_runner_t *runner = crm_runner_new(s_cfg, NULL, jobs);
    int64_t start = zclock_mono();
    assert_true(s_await(&s_steps, 5, 2000));
    int64_t elapsed = zclock_mono() - start;
    //  Five steps, four waits of 50 ms between them.
    assert_true(elapsed >= 4 * 50);
    crm_runner_destroy(&runner);
    assert_null(runner);
    assert_int_equal(s_states, 1);    // one state for the job's life
    assert_int_equal(s_destroyed, 1); // destroyed when the job stopped
}

//  The first state's first step fails; every step after works quietly.
static crm_step_result_t s_failing_step(crm_step_t *step) {
    int number = *(int *)step->state;
    s_steps++;
    if (number == 1) {
        s_failed_at = zclock_mono();
        return CRM_STEP_FAILED;
    }
    return CRM_STEP_IDLE;
}

static void test_failed_job_restarts(void **state) {
    (void)state;
    s_reset();
    static const crm_job_t jobs[] = {
        {"failing", s_failing_step, s_state_new, s_state_destroy, s_period_50, true, NULL}, {NULL}};
    crm_runner_t *runner = crm_runner_new(s_cfg, NULL, jobs);
    assert_true(s_await(&s_states, 2, 3000));
    //  The failed state was destroyed, and the new one made after the backoff.
    assert_int_equal(s_destroyed, 1);
    assert_true(s_remade_at - s_failed_at >= CRM_RUNNER_BACKOFF_MS - 5);
    assert_true(s_await(&s_steps, 3, 2000)); // the new state steps on
    crm_runner_destroy(&runner);
    assert_int_equal(s_destroyed, 2);
}

//  A slow step: 300 ms of work.
static crm_step_result_t s_slow_step(crm_step_t *step) {
    (void)step;
    s_started++;
    zclock_sleep(300);
    s_finished++;
    return CRM_STEP_IDLE;
}

static void test_stop_waits_for_step(void **state) {
    (void)state;
    s_reset();
    static const crm_job_t jobs[] = {{"slow", s_slow_step, NULL, NULL, s_period_long, true, NULL},
                                     {NULL}};
    crm_runner_t *runner = crm_runner_new(s_cfg, NULL, jobs);
    assert_true(s_await(&s_started, 1, 2000));
    assert_int_equal(s_finished, 0);
    int64_t start = zclock_mono();
    crm_runner_destroy(&runner);
    assert_int_equal(s_finished, 1); // the step in progress ended before destroy returned
    assert_true(zclock_mono() - start < 2000);
}

static void test_stop_ends_wait(void **state) {
    (void)state;
    s_reset();
    static const crm_job_t jobs[] = {
        {"idle", s_idle_step, s_state_new, s_state_destroy, s_period_long, true, NULL}, {NULL}};
    crm_runner_t *runner = crm_runner_new(s_cfg, NULL, jobs);
    assert_true(s_await(&s_steps, 1, 2000));
    int64_t start = zclock_mono();
    crm_runner_destroy(&runner);
    assert_true(zclock_mono() - start < 1000); // not the minute's period
    assert_int_equal(s_steps, 1);
}

//  Ten steps of work, then idle with a wait of its own; each step with work reports one
//  event.
static crm_step_result_t s_busy_step(crm_step_t *step) {
    int steps = ++s_steps;
    if (steps <= 10) {
        step->events = 1;
        return CRM_STEP_WORKED;
    }
    step->wait_ms = 20; // shorter than the period, as a scheduler's next due time
    return CRM_STEP_IDLE;
}

//  The loop runs until the runner has read ten events (or a second passes).
static int s_on_tick(zloop_t *loop, int timer_id, void *arg) {
    (void)loop;
    (void)timer_id;
    static int ticks;
    return crm_runner_events(arg) >= 10 || ++ticks > 200 ? -1 : 0;
}

static void test_worked_steps_again_at_once(void **state) {
    (void)state;
    s_reset();
    static const crm_job_t jobs[] = {{"busy", s_busy_step, NULL, NULL, s_period_long, true, NULL},
                                     {NULL}};
    crm_runner_t *runner = crm_runner_new(s_cfg, NULL, jobs);
    zloop_t *loop = zloop_new();
    assert_int_equal(crm_runner_attach(runner, loop, NULL), 0);
    //  Eleven steps with no period between them, and the step's own wait after.
    assert_true(s_await(&s_steps, 13, 1000));
    //  The events reported reach the loop.
    zloop_timer(loop, 5, 0, s_on_tick, runner);
    zloop_start(loop);
    assert_int_equal(crm_runner_events(runner), 10);
    crm_runner_destroy(&runner);
    zloop_destroy(&loop);
}

static void test_destroy_idempotent(void **state) {
    (void)state;
    s_reset();
    static const crm_job_t jobs[] = {
        {"idle", s_idle_step, s_state_new, s_state_destroy, s_period_long, true, NULL}, {NULL}};
    crm_runner_t *runner = crm_runner_new(s_cfg, NULL, jobs);
    crm_runner_destroy(&runner);
    assert_null(runner);
    crm_runner_destroy(&runner);
    assert_null(runner);
    static const crm_job_t none[] = {{NULL}};
    runner = crm_runner_new(s_cfg, NULL, none); // a daemon without jobs
    crm_runner_destroy(&runner);
    assert_null(runner);
}

static int s_three(const crm_config_t *cfg) {
    (void)cfg;
    return 3;
}

//  A job with instances runs that many times at once, each with a state of its own.
static void test_instances(void **state) {
    (void)state;
    s_reset();
    static const crm_job_t jobs[] = {{.name = "idle",
                                      .step = s_idle_step,
                                      .state_new = s_state_new,
                                      .state_destroy = s_state_destroy,
                                      .period_ms = s_period_long,
                                      .no_database = true,
                                      .instances = s_three},
                                     {.name = "one more",
                                      .step = s_idle_step,
                                      .state_new = s_state_new,
                                      .state_destroy = s_state_destroy,
                                      .period_ms = s_period_long,
                                      .no_database = true},
                                     {NULL}};
    crm_runner_t *runner = crm_runner_new(s_cfg, NULL, jobs);
    assert_true(s_await(&s_steps, 4, 2000));
    zclock_sleep(50);
    assert_int_equal(s_states, 4);
    assert_int_equal(s_steps, 4); // each once, then its long period
    crm_runner_destroy(&runner);
    assert_int_equal(s_destroyed, 4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steps_at_period),
        cmocka_unit_test(test_failed_job_restarts),
        cmocka_unit_test(test_stop_waits_for_step),
        cmocka_unit_test(test_stop_ends_wait),
        cmocka_unit_test(test_worked_steps_again_at_once),
        cmocka_unit_test(test_destroy_idempotent),
        cmocka_unit_test(test_instances),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
