# Dealer CRM suite. `make help` lists the targets.

BUILD    ?= build
CC       ?= cc
CXX      ?= c++
PKGS     := libczmq libzmq libprotobuf-c libpq libmicrohttpd jansson yaml-0.1 libsodium libcurl icu-i18n icu-uc
SAN      ?=
comma    := ,
SANFLAGS := $(if $(SAN),-fsanitize=address$(comma)undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined,)
OPT      ?= $(if $(SAN),-O1,-O2)
CPPFLAGS := -D_GNU_SOURCE -I$(BUILD)/gen -Icommon -Itests/system
CFLAGS   := -std=c11 $(OPT) -g -Wall -Wextra -Werror $(SANFLAGS)
CXXFLAGS := -std=c++17 $(OPT) -g -Wall -Wextra -Werror $(SANFLAGS)
PKGCFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS    = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lphonenumber -lstdc++ -lpthread -lm
LDFLAGS  := $(SANFLAGS)
# The daemons allocate through jemalloc (see docs/ARCHITECTURE.md, "Allocator"); the
# sanitizer builds keep the sanitizers' own allocator.
MALLOC   := $(if $(SAN),,-ljemalloc)

PROTOS     := $(wildcard proto/*.proto)
PROTO_C    := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
PROTO_H    := $(PROTO_C:.c=.h)
TPROTOS    := $(wildcard tests/proto/*.proto)
TPROTO_C   := $(patsubst tests/proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(TPROTOS))
TPROTO_H   := $(TPROTO_C:.c=.h)

COMMON_C   := $(wildcard common/*.c)
COMMON_CC  := $(wildcard common/*.cc)
COMMON_O   := $(COMMON_C:%.c=$(BUILD)/%.o) $(COMMON_CC:%.cc=$(BUILD)/%.o) $(PROTO_C:%.c=%.o)
LIBCRM     := $(BUILD)/libcrm.a

SERVICES   := $(notdir $(wildcard services/*))
BINS       := $(SERVICES:%=$(BUILD)/bin/crm-%) $(BUILD)/bin/crmctl $(BUILD)/bin/crm-supervisor

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
SYS_SRC    := $(wildcard tests/system/systest_*.c)
SYS_BINS   := $(SYS_SRC:tests/system/%.c=$(BUILD)/tests/%)
HARNESS_O  := $(patsubst %.c,$(BUILD)/%.o,$(filter-out $(SYS_SRC),$(wildcard tests/system/*.c)))
BENCH_SRC  := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

.SECONDEXPANSION:
.PHONY: all deps run test test-unit test-system test-asan bench fuzz roles-doc clean help
.SECONDARY:
.DELETE_ON_ERROR:

all: $(BINS)  ## build every daemon and tool

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' Makefile | sed 's/:.*## /\t/' | expand -t 14

deps:  ## install the Debian packages the build and tests need (idempotent)
	@scripts/deps.sh

run: deps  ## build, start PostgreSQL under ./var and the whole suite; Ctrl-C stops it
	@$(MAKE) --no-print-directory all
	@scripts/run.sh $(BUILD)

test: deps  ## build and run every unit and system test
	@$(MAKE) --no-print-directory all tests
	@scripts/test.sh $(BUILD)

test-asan:  ## the whole test suite under AddressSanitizer and UndefinedBehaviorSanitizer
	@rm -rf build-asan/sanitizer-logs && mkdir -p build-asan/sanitizer-logs
	@ASAN_OPTIONS=log_path=$(CURDIR)/build-asan/sanitizer-logs/asan:detect_leaks=1 \
	 UBSAN_OPTIONS=log_path=$(CURDIR)/build-asan/sanitizer-logs/ubsan:print_stacktrace=1 \
	 $(MAKE) --no-print-directory BUILD=build-asan SAN=1 test
	@if ls build-asan/sanitizer-logs/* >/dev/null 2>&1; then \
	    echo "sanitizer reports (from the tests or the daemons they started):"; \
	    head -n 40 build-asan/sanitizer-logs/*; exit 1; fi

tests: $(UNIT_BINS) $(SYS_BINS)

bench: deps  ## benchmarks beside their PostgreSQL baselines
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
	@scripts/bench.sh $(BUILD)

fuzz: deps  ## libFuzzer targets for the parsers, bounded time (FUZZ_SECONDS, default 60)
	@scripts/fuzz.sh

roles-doc: $(BUILD)/tools/roles-doc  ## write docs/ROLES.md, the role x route table, from the route table
	$(BUILD)/tools/roles-doc > docs/ROLES.md

clean:  ## remove build products (./var, the local database, is kept)
	rm -rf build build-asan build-fuzz

# --- generated protobuf-c code ---------------------------------------------------------
$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(@D)
	protoc-c --c_out=$(BUILD)/gen -Iproto $<

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: tests/proto/%.proto
	@mkdir -p $(@D)
	protoc-c --c_out=$(BUILD)/gen -Itests/proto $<

# Each service's migrations are compiled into its binary (the directory too: a renamed
# file keeps its old time, but the directory's changes).
$(BUILD)/gen/%_migrations.c: scripts/embed-migrations.sh services/%/migrations $$(wildcard services/%/migrations/*.sql)
	@mkdir -p $(@D)
	scripts/embed-migrations.sh $* services/$*/migrations > $@

# --- objects ---------------------------------------------------------------------------
$(BUILD)/%.o: %.c $(PROTO_H) $(TPROTO_H)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(PKGCFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.cc
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c $(PROTO_H)
	$(CC) $(CPPFLAGS) $(PKGCFLAGS) $(CFLAGS) -c $< -o $@

$(LIBCRM): $(COMMON_O)
	@rm -f $@
	ar rcs $@ $^

# --- binaries --------------------------------------------------------------------------
service_objs = $(patsubst %.c,$(BUILD)/%.o,$(wildcard services/$(1)/*.c))
$(BUILD)/bin/crm-%: $$(call service_objs,$$*) $(BUILD)/gen/%_migrations.o $(LIBCRM)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(MALLOC)

# crmctl alone reads email (notify unsubscribe-mail): GMime parses it.
GMIME := gmime-3.0
$(BUILD)/tools/crmctl_notify.o: PKGCFLAGS += $(shell pkg-config --cflags $(GMIME) 2>/dev/null)
$(BUILD)/bin/crmctl: $(patsubst %.c,$(BUILD)/%.o,$(wildcard tools/crmctl*.c)) $(BUILD)/gen/gateway_migrations.o $(LIBCRM)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs $(GMIME) 2>/dev/null)

$(BUILD)/tools/roles-doc: $(BUILD)/tools/roles_doc.o $(BUILD)/services/gateway/routes.o $(LIBCRM)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/crm-supervisor: $(BUILD)/tools/supervisor.o $(LIBCRM)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(TPROTO_C:%.c=%.o) $(LIBCRM)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(filter-out $(LIBCRM),$^) $(LIBCRM) $(LDLIBS) -lcmocka

$(BUILD)/tests/systest_%: $(BUILD)/tests/system/systest_%.o $(HARNESS_O) $(LIBCRM)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

$(BUILD)/bench/%: $(BUILD)/bench/%.o $(HARNESS_O) $(LIBCRM)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $(filter-out $(LIBCRM),$^) $(LIBCRM) $(LDLIBS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# The contacts daemon writes XLSX exports; only it links libxlsxwriter.
$(BUILD)/bin/crm-contacts: LDLIBS += -lxlsxwriter
# The notify daemon checks Twilio's HMAC-SHA1 webhook signatures (libsodium has no SHA-1);
# only it and its test link OpenSSL's libcrypto.
$(BUILD)/bin/crm-notify: LDLIBS += -lcrypto
$(BUILD)/tests/test_notify_webhook: LDLIBS += -lcrypto

# Unit tests of gateway modules link the module's object too.
$(BUILD)/tests/test_broker: $(BUILD)/services/gateway/broker.o
$(BUILD)/tests/test_routes: $(BUILD)/services/gateway/routes.o $(BUILD)/services/gateway/openapi.o
$(BUILD)/tests/test_gateway_limits: $(BUILD)/services/gateway/ratelimit.o $(BUILD)/services/gateway/headers.o
# ... and the raw routes' test runs the gateway in process: every module but main.c.
$(BUILD)/tests/test_gateway_raw: $(patsubst %.c,$(BUILD)/%.o,\
    $(filter-out services/gateway/main.c,$(wildcard services/gateway/*.c)))
# ... and of a service's pure rules, the module's object.
$(BUILD)/tests/test_leads_rules: $(BUILD)/services/leads/lead.o $(BUILD)/services/leads/stage.o $(BUILD)/services/leads/member.o
$(BUILD)/tests/test_leads_lead: $(BUILD)/services/leads/lead.o $(BUILD)/services/leads/stage.o $(BUILD)/services/leads/member.o
$(BUILD)/tests/test_leads_assign: $(BUILD)/services/leads/assignment.o $(BUILD)/services/leads/member.o
$(BUILD)/tests/test_leads_member: $(BUILD)/services/leads/member.o
$(BUILD)/tests/test_leads_assignment: $(BUILD)/services/leads/assignment.o $(BUILD)/services/leads/member.o
$(BUILD)/tests/test_leads_stage: $(BUILD)/services/leads/stage.o
$(BUILD)/tests/test_leads_followups: $(BUILD)/services/leads/followup.o $(BUILD)/services/leads/activity.o $(BUILD)/services/leads/lead.o $(BUILD)/services/leads/stage.o $(BUILD)/services/leads/member.o
$(BUILD)/tests/test_leads_followup: $(BUILD)/services/leads/followup.o $(BUILD)/services/leads/activity.o $(BUILD)/services/leads/lead.o $(BUILD)/services/leads/stage.o $(BUILD)/services/leads/member.o
$(BUILD)/tests/test_leads_settings: $(BUILD)/services/leads/settings.o
$(BUILD)/tests/test_leads_activity: $(BUILD)/services/leads/activity.o $(BUILD)/services/leads/lead.o $(BUILD)/services/leads/stage.o $(BUILD)/services/leads/member.o
$(BUILD)/tests/test_leads_notify: $(BUILD)/services/leads/notify_follow.o $(BUILD)/services/leads/activity_store.o $(BUILD)/services/leads/activity.o $(BUILD)/services/leads/lead.o $(BUILD)/services/leads/stage.o $(BUILD)/services/leads/member.o
$(BUILD)/tests/test_leads_chat: $(BUILD)/services/leads/chat.o $(BUILD)/services/leads/activity.o $(BUILD)/services/leads/lead.o $(BUILD)/services/leads/stage.o $(BUILD)/services/leads/member.o
$(BUILD)/tests/test_leads_score: $(BUILD)/services/leads/score_follow.o $(BUILD)/services/leads/lead.o $(BUILD)/services/leads/stage.o $(BUILD)/services/leads/member.o
$(BUILD)/tests/test_leads_views: $(BUILD)/services/leads/views.o $(BUILD)/services/leads/lead.o $(BUILD)/services/leads/stage.o $(BUILD)/services/leads/member.o
$(BUILD)/tests/test_reporting_growth: $(BUILD)/services/reporting/growth.o
$(BUILD)/tests/test_notify_template: $(BUILD)/services/notify/template.o
$(BUILD)/tests/test_notify_appointment: $(BUILD)/services/notify/appointment.o $(BUILD)/services/notify/mention.o $(BUILD)/services/notify/message.o $(BUILD)/services/notify/template.o
$(BUILD)/tests/test_notify_permission: $(BUILD)/services/notify/permission.o
$(BUILD)/tests/test_notify_quiet: $(BUILD)/services/notify/quiet.o
$(BUILD)/tests/test_notify_webhook: $(BUILD)/services/notify/webhook.o
$(BUILD)/tests/test_notify_accounts: $(BUILD)/services/notify/accounts.o
$(BUILD)/tests/test_notify_campaign: $(BUILD)/services/notify/campaign.o $(BUILD)/services/notify/message.o $(BUILD)/services/notify/template.o
$(BUILD)/tests/test_reporting_change: $(BUILD)/services/reporting/change.o $(BUILD)/services/reporting/growth.o
$(BUILD)/tests/test_contacts_contact: $(BUILD)/services/contacts/contact.o $(BUILD)/services/contacts/contact_store.o
$(BUILD)/tests/test_contacts_import: $(BUILD)/services/contacts/import.o
$(BUILD)/tests/test_contacts_export: $(BUILD)/services/contacts/export.o
$(BUILD)/tests/test_contacts_tag: $(BUILD)/services/contacts/tag.o
$(BUILD)/tests/test_contacts_note: $(BUILD)/services/contacts/note.o
$(BUILD)/tests/test_contacts_field: $(BUILD)/services/contacts/field.o
$(BUILD)/tests/test_contacts_saved_filter: $(BUILD)/services/contacts/saved_filter.o
$(BUILD)/tests/test_contacts_consent: $(BUILD)/services/contacts/consent.o
$(BUILD)/tests/test_contacts_audit: $(BUILD)/services/contacts/audit.o
$(BUILD)/tests/test_contacts_erase: $(BUILD)/services/contacts/erase.o
$(BUILD)/tests/test_contacts_job: $(BUILD)/services/contacts/job.o
$(BUILD)/tests/test_contacts_bulk: $(BUILD)/services/contacts/bulk.o $(BUILD)/services/contacts/contact.o
$(BUILD)/tests/test_contacts_snapshot: $(BUILD)/services/contacts/snapshot.o
$(BUILD)/tests/test_contacts_lifecycle: $(BUILD)/services/contacts/lifecycle.o
$(BUILD)/tests/test_contacts_optout: $(BUILD)/services/contacts/optout.o $(BUILD)/services/contacts/consent.o
$(BUILD)/tests/test_contacts_search: $(BUILD)/services/contacts/search.o
$(BUILD)/tests/test_contacts_merge: $(BUILD)/services/contacts/merge.o
$(BUILD)/tests/test_contacts_duplicate: $(BUILD)/services/contacts/duplicate.o
$(BUILD)/tests/test_notify_sms: $(BUILD)/services/notify/sms.o
$(BUILD)/tests/test_notify_email: $(BUILD)/services/notify/email.o
$(BUILD)/tests/test_dedupe_normalize: $(BUILD)/services/dedupe/normalize.o $(BUILD)/services/dedupe/nicknames.o $(BUILD)/services/dedupe/entry.o
$(BUILD)/tests/test_dedupe_score: $(BUILD)/services/dedupe/score.o $(BUILD)/services/dedupe/check.o $(BUILD)/services/dedupe/entry.o $(BUILD)/services/dedupe/normalize.o $(BUILD)/services/dedupe/nicknames.o
$(BUILD)/tests/test_dedupe_group: $(BUILD)/services/dedupe/group.o $(BUILD)/services/dedupe/score.o $(BUILD)/services/dedupe/entry.o $(BUILD)/services/dedupe/normalize.o $(BUILD)/services/dedupe/nicknames.o
# ... and the scoring benchmark times the rules in process.
$(BUILD)/bench/bench_scoring: $(BUILD)/services/scoring/rules.o $(BUILD)/services/scoring/model.o $(BUILD)/services/scoring/facts.o
$(BUILD)/tests/test_scoring_rules: $(BUILD)/services/scoring/rules.o $(BUILD)/services/scoring/model.o $(BUILD)/services/scoring/facts.o
