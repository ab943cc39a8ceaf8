/*  model: a scoring model, from YAML (config/scoring.yaml: libyaml's document API, so
    every value keeps its line and column) or from the API (a crm.scoring.Model), checked
    by one set of rules (scoring_model_check, naming the field), and compiled for
    rules.c. A file that breaks a rule is refused at the line and column of the value
    the rule names. Pure: tests/unit/test_scoring_rules.c reads models of both kinds.

    The file's shape:
        bands: { hot: 60, medium: 30 }
        decay: { half_life_days: 14 }
        groups: { fit: 60, engagement: 70 }       # each group's cap
        rules:
          - { name: budget_given, fact: budget_given, points: 5, reason: "budget given" }
*/
#include "scoring.h"
#include "json_pb.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

// --- checking ------------------------------------------------------------------------------------

static bool s_name_ok(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > SCORING_NAME_MAX || !islower((unsigned char)name[0]))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
            name[i] != '_')
            return false;
    return true;
}

static int s_group_by_name(const char *name) {
    for (int g = 0; g < SCORING_GROUP_COUNT; g++)
        if (name && strcmp(name, scoring_group_names[g]) == 0)
            return g;
    return -1;
}

//  The most a rule can add (0 for a rule that only takes off).
static int s_rule_max(const Crm__Scoring__Rule *rule) {
    if (rule->points <= 0)
        return 0;
    int fact = scoring_fact_by_name(rule->fact);
    if (fact >= 0 && scoring_facts[fact].signal && rule->cap > 0)
        return (int)rule->cap;
    return rule->points;
}

int scoring_model_check(const Crm__Scoring__Model *model, crm_errors_t *errors) {
    size_t before = errors->n;
    if (model->hot < 1 || model->hot > 100)
        crm_errors_add(errors, "hot", "must be 1 to 100");
    if (model->medium < 1 || model->medium > 100)
        crm_errors_add(errors, "medium", "must be 1 to 100");
    else if (model->medium >= model->hot && model->hot >= 1 && model->hot <= 100)
        crm_errors_add(errors, "medium", "must be under hot (%u)", model->hot);
    if (!(model->half_life_days >= 0 && model->half_life_days <= 3650))
        crm_errors_add(errors, "halfLifeDays", "must be 0 (no decay) to 3650");
    int group_cap[SCORING_GROUP_COUNT] = {100, 100};
    for (size_t i = 0; i < model->n_groups; i++) {
        const Crm__Scoring__Group *group = model->groups[i];
        char field[48];
        int g = s_group_by_name(group->name);
        snprintf(field, sizeof field, "groups[%zu].name", i);
        if (g < 0) {
            crm_errors_add(errors, field, "must be fit or engagement");
            continue;
        }
        snprintf(field, sizeof field, "groups[%zu].cap", i);
        if (group->cap < 1 || group->cap > 100)
            crm_errors_add(errors, field, "must be 1 to 100");
        group_cap[g] = (int)group->cap;
    }
    if (model->n_rules == 0)
        crm_errors_add(errors, "rules", "must have at least one rule");
    if (model->n_rules > SCORING_RULES_MAX)
        crm_errors_add(errors, "rules", "must have at most %d rules", SCORING_RULES_MAX);
    int reach[SCORING_GROUP_COUNT] = {0};
    for (size_t i = 0; i < model->n_rules && i < SCORING_RULES_MAX; i++) {
        const Crm__Scoring__Rule *rule = model->rules[i];
        char field[48];
        snprintf(field, sizeof field, "rules[%zu].name", i);
        if (!s_name_ok(rule->name))
            crm_errors_add(errors, field, "must be 1 to %d of a-z, 0-9 and _, starting with a letter",
                           SCORING_NAME_MAX);
        for (size_t j = 0; j < i; j++)
            if (strcmp(model->rules[j]->name, rule->name) == 0)
                crm_errors_add(errors, field, "is the name of rules[%zu] too", j);
        int fact = scoring_fact_by_name(rule->fact);
        snprintf(field, sizeof field, "rules[%zu].fact", i);
        if (fact < 0) {
            crm_errors_add(errors, field, "is not a fact scoring knows (see config/scoring.yaml)");
            continue;
        }
        int group = scoring_facts[fact].group;
        snprintf(field, sizeof field, "rules[%zu].group", i);
        if (rule->group && *rule->group && s_group_by_name(rule->group) != group)
            crm_errors_add(errors, field, "must be %s (the group of %s)",
                           scoring_group_names[group], rule->fact);
        snprintf(field, sizeof field, "rules[%zu].points", i);
        if (rule->points == 0 || rule->points < -100 || rule->points > 100)
            crm_errors_add(errors, field, "must be -100 to 100, not 0");
        snprintf(field, sizeof field, "rules[%zu].cap", i);
        if (rule->cap > 100)
            crm_errors_add(errors, field, "must be 0 (the points) to 100");
        snprintf(field, sizeof field, "rules[%zu].afterDays", i);
        if (fact == SCORING_FACT_QUIET && (rule->after_days < 1 || rule->after_days > 3650))
            crm_errors_add(errors, field, "must be 1 to 3650 for a quiet rule");
        else if (fact != SCORING_FACT_QUIET && rule->after_days)
            crm_errors_add(errors, field, "is for quiet rules only");
        snprintf(field, sizeof field, "rules[%zu].reason", i);
        if (rule->reason && strlen(rule->reason) > SCORING_REASON_MAX)
            crm_errors_add(errors, field, "must be at most %d characters", SCORING_REASON_MAX);
        reach[group] += s_rule_max(rule);
    }
    if (errors->n == before) {
        int most = 0;
        for (int g = 0; g < SCORING_GROUP_COUNT; g++)
            most += reach[g] < group_cap[g] ? reach[g] : group_cap[g];
        if (most > 100)
            most = 100;
        if (most < (int)model->hot)
            crm_errors_add(errors, "hot",
                           "cannot be reached: the rules and caps add up to %d at most", most);
    }
    return errors->n == before ? 0 : -1;
}

void scoring_model_compile(const Crm__Scoring__Model *model, const char *version,
                           scoring_model_t *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->version, sizeof out->version, "%s", version ? version : "");
    out->hot = (int)model->hot;
    out->medium = (int)model->medium;
    out->half_life_days = model->half_life_days;
    for (int g = 0; g < SCORING_GROUP_COUNT; g++)
        out->group_cap[g] = 100;
    for (size_t i = 0; i < model->n_groups; i++) {
        int g = s_group_by_name(model->groups[i]->name);
        if (g >= 0)
            out->group_cap[g] = (int)model->groups[i]->cap;
    }
    for (size_t i = 0; i < model->n_rules && i < SCORING_RULES_MAX; i++) {
        const Crm__Scoring__Rule *from = model->rules[i];
        int fact = scoring_fact_by_name(from->fact);
        if (fact < 0)
            continue;
        scoring_rule_t *rule = &out->rules[out->n_rules++];
        snprintf(rule->name, sizeof rule->name, "%s", from->name);
        rule->fact = (scoring_fact_t)fact;
        rule->group = scoring_facts[fact].group;
        rule->points = from->points;
        int magnitude = abs(from->points);
        rule->cap = from->cap ? (int)from->cap : magnitude;
        if (!scoring_facts[fact].signal)
            rule->cap = magnitude; // counted once: its points are its cap
        snprintf(rule->reason, sizeof rule->reason, "%s",
                 from->reason && *from->reason ? from->reason : from->name);
        rule->after_days = (int)from->after_days;
    }
}

// --- hashing ---------------------------------------------------------------------------------------

void scoring_model_hash(const Crm__Scoring__Model *model, char out[17]) {
    Crm__Scoring__Model copy = *model;
    copy.version = (char *)"";
    copy.updated_at = (char *)"";
    copy.updated_by = (char *)"";
    copy.tenant_model = false;
    size_t size = protobuf_c_message_get_packed_size(&copy.base);
    uint8_t *buf = malloc(size + 1);
    assert(buf);
    protobuf_c_message_pack(&copy.base, buf);
    uint64_t h = 14695981039346656037ull; // FNV-1a
    for (size_t i = 0; i < size; i++) {
        h ^= buf[i];
        h *= 1099511628211ull;
    }
    free(buf);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

// --- YAML ---------------------------------------------------------------------------------------------

typedef struct {
    yaml_document_t *doc;
    char *error;
    //  Where each field's value is, for the rules' errors: "rules[2].fact" -> line:column.
    struct {
        char field[48];
        yaml_mark_t mark;
    } marks[SCORING_RULES_MAX * 8 + 16];
    size_t n_marks;
} s_reader_t;

static void s_fail(s_reader_t *self, yaml_mark_t mark, const char *fmt, ...) {
    if (self->error)
        return;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (asprintf(&self->error, "line %zu, column %zu: %s", mark.line + 1, mark.column + 1, what) <
        0)
        self->error = NULL;
}

static void s_mark(s_reader_t *self, const char *field, yaml_mark_t mark) {
    if (self->n_marks < sizeof self->marks / sizeof self->marks[0]) {
        snprintf(self->marks[self->n_marks].field, sizeof self->marks[0].field, "%s", field);
        self->marks[self->n_marks++].mark = mark;
    }
}

static const char *s_scalar(yaml_node_t *node) {
    return node && node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : NULL;
}

//  An integer scalar in [min, max], or a failure at the node.
static bool s_int(s_reader_t *self, yaml_node_t *node, const char *key, long min, long max,
                  long *out) {
    const char *text = s_scalar(node);
    char *end = NULL;
    errno = 0;
    long value = text ? strtol(text, &end, 10) : 0;
    if (!text || !*text || *end || errno) {
        s_fail(self, node->start_mark, "%s must be a whole number", key);
        return false;
    }
    if (value < min || value > max) {
        s_fail(self, node->start_mark, "%s must be %ld to %ld", key, min, max);
        return false;
    }
    *out = value;
    return true;
}

#define S_FOR_PAIRS(node, pair)                                                                    \
    for (yaml_node_pair_t *pair = (node)->data.mapping.pairs.start;                                \
         pair < (node)->data.mapping.pairs.top; pair++)

static yaml_node_t *s_node(s_reader_t *self, int index) {
    return yaml_document_get_node(self->doc, index);
}

static bool s_mapping(s_reader_t *self, yaml_node_t *node, const char *what) {
    if (node->type != YAML_MAPPING_NODE) {
        s_fail(self, node->start_mark, "%s must be a mapping", what);
        return false;
    }
    return true;
}

static void s_read_rule(s_reader_t *self, yaml_node_t *node, size_t index,
                        Crm__Scoring__Rule *rule) {
    if (!s_mapping(self, node, "a rule"))
        return;
    S_FOR_PAIRS(node, pair) {
        const char *key = s_scalar(s_node(self, pair->key));
        yaml_node_t *value = s_node(self, pair->value);
        long n;
        char field[48];
        if (!key) {
            s_fail(self, node->start_mark, "a rule's keys must be names");
            return;
        }
        const char *json = strcmp(key, "after_days") == 0 ? "afterDays" : key;
        snprintf(field, sizeof field, "rules[%zu].%s", index, json);
        s_mark(self, field, value->start_mark);
        if (strcmp(key, "name") == 0 || strcmp(key, "fact") == 0 || strcmp(key, "group") == 0 ||
            strcmp(key, "reason") == 0) {
            const char *text = s_scalar(value);
            if (!text) {
                s_fail(self, value->start_mark, "%s must be text", key);
                return;
            }
            char **slot = key[0] == 'n' ? &rule->name
                          : key[0] == 'f' ? &rule->fact
                          : key[0] == 'g' ? &rule->group
                                          : &rule->reason;
            crm_pb_string_set(slot, text);
        } else if (strcmp(key, "points") == 0) {
            if (s_int(self, value, key, -100000, 100000, &n))
                rule->points = (int32_t)n;
        } else if (strcmp(key, "cap") == 0) {
            if (s_int(self, value, key, 0, 100, &n))
                rule->cap = (uint32_t)n;
        } else if (strcmp(key, "after_days") == 0) {
            if (s_int(self, value, key, 0, 3650, &n))
                rule->after_days = (uint32_t)n;
        } else
            s_fail(self, s_node(self, pair->key)->start_mark,
                   "unknown key %s in a rule (name, fact, group, points, cap, reason, after_days)",
                   key);
    }
}

static void s_read(s_reader_t *self, yaml_node_t *root, Crm__Scoring__Model *model) {
    if (!s_mapping(self, root, "the model"))
        return;
    S_FOR_PAIRS(root, pair) {
        const char *key = s_scalar(s_node(self, pair->key));
        yaml_node_t *value = s_node(self, pair->value);
        long n;
        if (!key) {
            s_fail(self, root->start_mark, "the model's keys must be names");
            return;
        }
        if (strcmp(key, "bands") == 0) {
            if (!s_mapping(self, value, "bands"))
                return;
            S_FOR_PAIRS(value, band) {
                const char *name = s_scalar(s_node(self, band->key));
                yaml_node_t *v = s_node(self, band->value);
                if (name && strcmp(name, "hot") == 0 && s_int(self, v, "hot", 0, 1000, &n)) {
                    model->hot = (uint32_t)n;
                    s_mark(self, "hot", v->start_mark);
                } else if (name && strcmp(name, "medium") == 0 &&
                           s_int(self, v, "medium", 0, 1000, &n)) {
                    model->medium = (uint32_t)n;
                    s_mark(self, "medium", v->start_mark);
                } else if (!name || (strcmp(name, "hot") && strcmp(name, "medium")))
                    s_fail(self, s_node(self, band->key)->start_mark,
                           "unknown band (hot, medium; under medium is cold)");
            }
        } else if (strcmp(key, "decay") == 0) {
            if (!s_mapping(self, value, "decay"))
                return;
            S_FOR_PAIRS(value, d) {
                const char *name = s_scalar(s_node(self, d->key));
                yaml_node_t *v = s_node(self, d->value);
                if (!name || strcmp(name, "half_life_days")) {
                    s_fail(self, s_node(self, d->key)->start_mark,
                           "unknown key in decay (half_life_days)");
                    return;
                }
                const char *text = s_scalar(v);
                char *end = NULL;
                double days = text ? strtod(text, &end) : -1;
                if (!text || !*text || *end) {
                    s_fail(self, v->start_mark, "half_life_days must be a number of days");
                    return;
                }
                model->half_life_days = days;
                s_mark(self, "halfLifeDays", v->start_mark);
            }
        } else if (strcmp(key, "groups") == 0) {
            if (!s_mapping(self, value, "groups"))
                return;
            model->groups = calloc(value->data.mapping.pairs.top - value->data.mapping.pairs.start + 1,
                                   sizeof *model->groups);
            assert(model->groups);
            S_FOR_PAIRS(value, g) {
                const char *name = s_scalar(s_node(self, g->key));
                yaml_node_t *v = s_node(self, g->value);
                Crm__Scoring__Group *group = malloc(sizeof *group);
                assert(group);
                crm__scoring__group__init(group);
                crm_pb_string_set(&group->name, name ? name : "");
                char field[48];
                snprintf(field, sizeof field, "groups[%zu].name", model->n_groups);
                s_mark(self, field, s_node(self, g->key)->start_mark);
                snprintf(field, sizeof field, "groups[%zu].cap", model->n_groups);
                s_mark(self, field, v->start_mark);
                model->groups[model->n_groups++] = group;
                if (s_int(self, v, "a group's cap", -1000, 1000, &n)) {
                    if (n < 1 || n > 100)
                        s_fail(self, v->start_mark, "a group's cap must be 1 to 100");
                    group->cap = (uint32_t)(n < 0 ? 0 : n);
                }
            }
        } else if (strcmp(key, "rules") == 0) {
            if (value->type != YAML_SEQUENCE_NODE) {
                s_fail(self, value->start_mark, "rules must be a list");
                return;
            }
            size_t count = (size_t)(value->data.sequence.items.top - value->data.sequence.items.start);
            model->rules = calloc(count + 1, sizeof *model->rules);
            assert(model->rules);
            s_mark(self, "rules", value->start_mark);
            for (yaml_node_item_t *item = value->data.sequence.items.start;
                 item < value->data.sequence.items.top && !self->error; item++) {
                Crm__Scoring__Rule *rule = malloc(sizeof *rule);
                assert(rule);
                crm__scoring__rule__init(rule);
                size_t index = model->n_rules;
                model->rules[model->n_rules++] = rule;
                s_read_rule(self, s_node(self, *item), index, rule);
            }
        } else
            s_fail(self, s_node(self, pair->key)->start_mark,
                   "unknown key %s (bands, decay, groups, rules)", key);
        if (self->error)
            return;
    }
}

Crm__Scoring__Model *scoring_model_parse_yaml(const char *text, size_t size, char **error) {
    *error = NULL;
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        *error = strdup("could not start the YAML parser");
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, size);
    if (!yaml_parser_load(&parser, &doc)) {
        if (asprintf(error, "line %zu, column %zu: %s", parser.problem_mark.line + 1,
                     parser.problem_mark.column + 1,
                     parser.problem ? parser.problem : "not YAML") < 0)
            *error = NULL;
        yaml_parser_delete(&parser);
        return NULL;
    }
    yaml_parser_delete(&parser);
    s_reader_t *reader = calloc(1, sizeof *reader);
    assert(reader);
    reader->doc = &doc;
    Crm__Scoring__Model *model = malloc(sizeof *model);
    assert(model);
    crm__scoring__model__init(model);
    model->hot = 60; // the reference's bands, unless the file says otherwise
    model->medium = 30;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root)
        *error = strdup("line 1, column 1: the file is empty");
    else {
        s_read(reader, root, model);
        if (!reader->error) {
            crm_errors_t errors = {0};
            if (scoring_model_check(model, &errors)) {
                //  The first error, where its value is (else where the model is).
                yaml_mark_t mark = root->start_mark;
                const char *field = errors.items[0]->field;
                bool found = false;
                for (size_t i = 0; i < reader->n_marks && !found; i++)
                    if (strcmp(reader->marks[i].field, field) == 0) {
                        mark = reader->marks[i].mark;
                        found = true;
                    }
                //  A field the file did not give: the rule's own line.
                for (size_t i = 0; i < reader->n_marks && !found; i++) {
                    size_t len = strcspn(field, ".");
                    if (strncmp(reader->marks[i].field, field, len) == 0 &&
                        reader->marks[i].field[len] == '.') {
                        mark = reader->marks[i].mark;
                        found = true;
                    }
                }
                s_fail(reader, mark, "%s %s", field, errors.items[0]->message);
            }
            crm_errors_reset(&errors);
        }
        *error = reader->error;
    }
    yaml_document_delete(&doc);
    free(reader);
    if (*error) {
        crm__scoring__model__free_unpacked(model, NULL);
        return NULL;
    }
    return model;
}

Crm__Scoring__Model *scoring_model_load_file(const char *path, char **error) {
    FILE *file = fopen(path, "rb");
    if (!file) {
        if (asprintf(error, "%s: %s", path, strerror(errno)) < 0)
            *error = NULL;
        return NULL;
    }
    char *text = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&text, &size);
    assert(mem);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, file)) > 0)
        fwrite(buf, 1, n, mem);
    fclose(file);
    fclose(mem);
    char *inner = NULL;
    Crm__Scoring__Model *model = scoring_model_parse_yaml(text, size, &inner);
    free(text);
    if (!model) {
        if (asprintf(error, "%s: %s", path, inner ? inner : "unreadable") < 0)
            *error = NULL;
        free(inner);
        return NULL;
    }
    char hash[17];
    scoring_model_hash(model, hash);
    char version[32];
    snprintf(version, sizeof version, "default-%.8s", hash);
    crm_pb_string_set(&model->version, version);
    return model;
}
